/* frontend/onnx/gen.c — mappers that build constants from static shapes and constant
 * operands: Range, EyeLike, Trilu (a constant mask), OneHot, Hardmax and the losses
 * NegativeLogLikelihoodLoss / SoftmaxCrossEntropyLoss (comparisons with an index ramp),
 * Tile (broadcasting against a constant of the result's shape), and ops that become
 * gathers with constant indices: Resize, Upsample, Pad (edge, reflect), GatherElements.
 * Also integer Mod.  Rows in ops.c's table.  Generated constants are capped at
 * ONNX_CONST_ELEMS elements. */
#include <math.h>
#include <string.h>
#include "onnx_internal.h"
#include "util.h"

/* Element count of dims, or -1 when above the cap (reported as unsupported). */
static int64_t
gen_count(Imp *im, int rank, const int64_t *dims)
{
    int64_t n = 1;
    for (int i = 0; i < rank; i++)
        if (dims[i] < 1 || __builtin_mul_overflow(n, dims[i], &n) || n > ONNX_CONST_ELEMS)
            return imp_unsupported(im, "%s: a generated constant would be empty or larger "
                                   "than %d elements", im->node->op_type, ONNX_CONST_ELEMS);
    return n;
}

static void
store(void *p, DType dt, int64_t i, double v)
{
    switch (dt) {
    case DT_F32: ((float *)p)[i] = (float)v; break;
    case DT_I32: ((int32_t *)p)[i] = (int32_t)v; break;
    case DT_I64: ((int64_t *)p)[i] = (int64_t)v; break;
    case DT_I8:  ((int8_t *)p)[i] = (int8_t)v; break;
    default:     ((uint8_t *)p)[i] = (uint8_t)v; break;     /* u8, bool */
    }
}

/* Range(start, limit, delta), all constant scalars: start + i delta for i < n. */
int
onnx_map_range(Imp *im)
{
    double st, lim, d;
    ValueId s = imp_need(im, 0);
    if (!s || imp_const_float(im, 0, &st) < 0 || imp_const_float(im, 1, &lim) < 0 ||
        imp_const_float(im, 2, &d) < 0)
        return -1;
    DType dt = imp_type(im, s)->dtype;
    if (dt != DT_F32 && dt != DT_I32 && dt != DT_I64)
        return imp_unsupported(im, "Range: element type %s is not supported",
                               ir_dtype_name(dt));
    if (d == 0)
        return imp_fail(im, "Range: delta is 0");
    double cnt = ceil((lim - st) / d);
    int64_t n = cnt > 0 && cnt <= ONNX_CONST_ELEMS ? (int64_t)cnt : 0;
    if (gen_count(im, 1, &n) < 0)
        return -1;
    TensorType t = ir_type_make(dt, 1, &n);
    void *p = arena_alloc(im->g->arena, (size_t)n * ir_dtype_size(dt));
    if (dt == DT_F32) {            /* float ranges accumulate in the element type */
        float v = (float)st;
        for (int64_t i = 0; i < n; i++, v = (float)(v + (float)d))
            store(p, dt, i, v);
    } else {
        for (int64_t i = 0; i < n; i++)
            store(p, dt, i, st + (double)i * d);
    }
    return imp_set_out(im, 0, imp_const(im, &t, p));
}

/* EyeLike(x): ones on diagonal k of a 2-D tensor shaped like x. */
int
onnx_map_eye_like(Imp *im)
{
    ValueId x = imp_need(im, 0);
    if (!x)
        return -1;
    const TensorType *t = imp_type(im, x);
    DType dt = t->dtype;
    const Onnx__AttributeProto *a = imp_attr(im, "dtype");
    if (a && a->has_i && (dt = onnx_dtype((int32_t)a->i)) == DT_NONE)
        return imp_unsupported(im, "EyeLike: dtype %s is not supported",
                               onnx_dtype_name((int32_t)a->i));
    if (t->rank != 2)
        return imp_fail(im, "EyeLike: expected a 2-D input, got rank %d", t->rank);
    int64_t k = imp_attr_i(im, "k", 0), n = gen_count(im, 2, t->dims);
    if (n < 0)
        return -1;
    TensorType rt = ir_type_make(dt, 2, t->dims);
    void *p = arena_alloc(im->g->arena, (size_t)n * ir_dtype_size(dt));
    for (int64_t i = 0; i < t->dims[0]; i++)
        if (i + k >= 0 && i + k < t->dims[1])
            store(p, dt, i * t->dims[1] + i + k, 1);
    return imp_set_out(im, 0, imp_const(im, &rt, p));
}

/* Trilu(x, k): where(mask over the last two dims, x, 0). */
int
onnx_map_trilu(Imp *im)
{
    ValueId x = imp_need(im, 0);
    int64_t k = 0;
    int nk = 0;
    if (!x || (imp_in(im, 1) && imp_const_ints(im, 1, &k, 1, &nk) < 0))
        return -1;
    const TensorType *t = imp_type(im, x);
    if (t->rank < 2)
        return imp_fail(im, "Trilu: expected rank >= 2, got %d", t->rank);
    int upper = imp_attr_i(im, "upper", 1) != 0;
    int64_t rows = t->dims[t->rank - 2], cols = t->dims[t->rank - 1];
    int64_t dims[2] = { rows, cols }, n = rows && cols ? gen_count(im, 2, dims) : 0;
    if (n < 0)
        return -1;
    uint8_t *m = arena_alloc(im->g->arena, (size_t)n);
    for (int64_t i = 0; i < rows; i++)
        for (int64_t j = 0; j < cols; j++)
            m[i * cols + j] = upper ? j - i >= k : j - i <= k;
    TensorType mt = ir_type_make(DT_BOOL, 2, dims);
    ValueId zero = imp_scalar(im, t->dtype, 0);
    return imp_set_out(im, 0, imp_where(im, imp_const(im, &mt, m), x, zero));
}

/* An i64 ramp 0..n-1 shaped [n, 1, ..., 1] with `ones` trailing ones. */
static ValueId
ramp(Imp *im, int64_t n, int ones)
{
    int64_t dims[KILN_MAX_RANK];
    dims[0] = n;
    for (int i = 1; i <= ones; i++)
        dims[i] = 1;
    int64_t *v = arena_alloc(im->g->arena, (size_t)n * sizeof *v);
    for (int64_t i = 0; i < n; i++)
        v[i] = i;
    TensorType t = ir_type_make(DT_I64, ones + 1, dims);
    return imp_const(im, &t, v);
}

/* OneHot(indices, depth, values): values[1] where the index (wrapped once from the
 * negative side) equals the position along axis, values[0] elsewhere. */
int
onnx_map_one_hot(Imp *im)
{
    ValueId idx = imp_need(im, 0), vals = imp_need(im, 2);
    double depth;
    Attr c;
    if (!idx || !vals || imp_const_float(im, 1, &depth) < 0)
        return -1;
    const TensorType *it = imp_type(im, idx), *vt = imp_type(im, vals);
    int r = it->rank + 1;
    int64_t axis = imp_attr_i(im, "axis", -1), d = (int64_t)depth;
    if (r > KILN_MAX_RANK)
        return imp_unsupported(im, "OneHot: result rank %d exceeds %d", r, KILN_MAX_RANK);
    if (axis < -r || axis >= r)
        return imp_fail(im, "OneHot: axis %lld out of range for rank %d", (long long)axis, r);
    if (axis < 0)
        axis += r;
    if (d < 1 || d > ONNX_CONST_ELEMS)
        return imp_unsupported(im, "OneHot: depth %lld is not supported", (long long)d);
    int64_t two;
    if (ir_type_numel(vt, &two) < 0 || two != 2)
        return imp_fail(im, "OneHot: values must hold 2 elements");
    ir_attr_default(OP_CAST, &c);
    c.cast.to = DT_I64;
    ValueId i64 = it->dtype == DT_I64 ? idx : imp_emit(im, OP_CAST, &c, 1, &idx);
    ValueId neg = imp_emit2(im, OP_LESS, i64, imp_scalar(im, DT_I64, 0));
    i64 = imp_where(im, neg, imp_emit2(im, OP_ADD, i64, imp_scalar(im, DT_I64, (double)d)), i64);
    int64_t dims[KILN_MAX_RANK];
    for (int i = 0, k = 0; i < r; i++)
        dims[i] = i == axis ? 1 : it->dims[k++];
    ValueId hit = imp_emit2(im, OP_EQUAL, imp_reshape(im, i64, r, dims),
                            ramp(im, d, r - 1 - (int)axis));
    int64_t one = 1, zero = 0;
    Attr s;
    ir_attr_default(OP_SLICE, &s);
    s.slice.rank = 1;
    s.slice.step[0] = 1;
    ValueId flat = imp_reshape(im, vals, 1, &two);
    s.slice.start[0] = zero, s.slice.end[0] = 1;
    ValueId off = imp_emit(im, OP_SLICE, &s, 1, &flat);
    s.slice.start[0] = one, s.slice.end[0] = 2;
    ValueId on = imp_emit(im, OP_SLICE, &s, 1, &flat);
    return imp_set_out(im, 0, imp_where(im, hit, on, off));
}

/* Hardmax: 1 at the first maximum along axis (coerced to 2-D before opset 13). */
int
onnx_map_hardmax(Imp *im)
{
    ValueId x = imp_need(im, 0);
    Attr a;
    if (!x)
        return -1;
    const TensorType *t = imp_type(im, x);
    TensorType orig = *t;
    int64_t axis = imp_attr_i(im, "axis", im->opset < 13 ? 1 : -1);
    if (axis < -t->rank || axis >= t->rank)
        return imp_fail(im, "Hardmax: axis %lld out of range for rank %d", (long long)axis,
                        t->rank);
    if (axis < 0)
        axis += t->rank;
    if (im->opset < 13 && axis != t->rank - 1) {
        int64_t flat[2] = { 1, 1 };
        for (int i = 0; i < t->rank; i++)
            flat[i >= axis] *= t->dims[i];
        x = imp_reshape(im, x, 2, flat);
        axis = 1;
    }
    int r = imp_type(im, x)->rank;
    ir_attr_default(OP_ARGMAX, &a);
    a.reduce.naxes = 1;
    a.reduce.axes[0] = (int)axis;
    a.reduce.keepdims = 1;
    ValueId am = imp_emit(im, OP_ARGMAX, &a, 1, &x);
    ValueId hit = imp_emit2(im, OP_EQUAL, am,
                            ramp(im, imp_type(im, x)->dims[axis], r - 1 - (int)axis));
    ValueId y = imp_where(im, hit, imp_scalar(im, DT_F32, 1), imp_scalar(im, DT_F32, 0));
    if (y && orig.rank != imp_type(im, y)->rank)
        y = imp_reshape(im, y, orig.rank, orig.dims);
    return imp_set_out(im, 0, y);
}

/* Tile(x, repeats): x as [1, d0, 1, d1, ...] broadcast against an all-true constant of
 * shape [r0, d0, r1, d1, ...], then reshaped to [r0 d0, r1 d1, ...]. */
int
onnx_map_tile(Imp *im)
{
    ValueId x = imp_need(im, 0);
    int64_t rep[KILN_MAX_RANK], d2[KILN_MAX_RANK], x2[KILN_MAX_RANK], out[KILN_MAX_RANK];
    int n;
    if (!x || imp_const_ints(im, 1, rep, KILN_MAX_RANK, &n) < 0)
        return -1;
    const TensorType *t = imp_type(im, x);
    if (n != t->rank)
        return imp_fail(im, "Tile: %d repeats for rank %d", n, t->rank);
    if (2 * n > KILN_MAX_RANK)
        return imp_unsupported(im, "Tile: rank %d is not supported (at most %d)", n,
                               KILN_MAX_RANK / 2);
    for (int i = 0; i < n; i++) {
        if (rep[i] < 1)
            return imp_unsupported(im, "Tile: repeat %lld is not supported", (long long)rep[i]);
        d2[2 * i] = rep[i], d2[2 * i + 1] = t->dims[i];
        x2[2 * i] = 1, x2[2 * i + 1] = t->dims[i];
        out[i] = rep[i] * t->dims[i];
    }
    int64_t cnt = gen_count(im, 2 * n, d2);
    if (cnt < 0)
        return -1;
    TensorType bt = ir_type_make(DT_BOOL, 2 * n, d2);
    uint8_t *ones = arena_alloc(im->g->arena, (size_t)cnt);
    memset(ones, 1, (size_t)cnt);
    ValueId xs = imp_reshape(im, x, 2 * n, x2);
    ValueId y = imp_where(im, imp_const(im, &bt, ones), xs, xs);
    return imp_set_out(im, 0, imp_reshape(im, y, n, out));
}

/* ------------------------------------------------------------------ Resize, Upsample */

typedef enum { RS_NEAREST, RS_LINEAR, RS_CUBIC } ResizeKind;

typedef struct {
    ResizeKind mode;         /* interpolation */
    char   coord[24];        /* coordinate_transformation_mode */
    char   round[24];        /* nearest_mode */
    double cubic_a;          /* cubic_coeff_a */
    int    exclude_outside;  /* cubic: taps outside the input get weight 0, renormalised */
    double crop[2];          /* tf_crop_and_resize: roi start, end of the axis being
                                resampled, in input coordinates normalised to [0, 1] */
} ResizeMode;

/* Source coordinate of output index x along an axis (ONNX Resize, reference semantics). */
static double
source_coord(const ResizeMode *m, double x, double scale, int64_t in)
{
    double out = scale * (double)in;
    if (strcmp(m->coord, "align_corners") == 0)
        return out == 1 ? 0 : x * (double)(in - 1) / (out - 1);
    if (strcmp(m->coord, "asymmetric") == 0)
        return x / scale;
    if (strcmp(m->coord, "tf_half_pixel_for_nn") == 0)
        return (x + 0.5) / scale;
    if (strcmp(m->coord, "tf_crop_and_resize") == 0)
        return (out == 1 ? (m->crop[1] - m->crop[0]) * (double)(in - 1) / 2
                         : x * (m->crop[1] - m->crop[0]) * (double)(in - 1) / (out - 1)) +
               m->crop[0] * (double)(in - 1);
    if (strcmp(m->coord, "pytorch_half_pixel") == 0 && out == 1)
        return -0.5;
    return (x + 0.5) / scale - 0.5;                  /* half_pixel, pytorch_half_pixel */
}

static int64_t
clamp_index(double v, int64_t in)
{
    return v < 0 ? 0 : v > (double)(in - 1) ? in - 1 : (int64_t)v;
}

static int64_t
nearest(const ResizeMode *m, double xo)
{
    double f = floor(xo);
    if (xo == f || strcmp(m->round, "floor") == 0)
        return (int64_t)f;
    if (strcmp(m->round, "ceil") == 0)
        return (int64_t)f + 1;
    if (strcmp(m->round, "round_prefer_ceil") == 0)
        return xo - f >= 0.5 ? (int64_t)f + 1 : (int64_t)f;
    return xo - f > 0.5 ? (int64_t)f + 1 : (int64_t)f;   /* round_prefer_floor */
}

static ValueId
gather_const(Imp *im, ValueId x, int axis, int64_t n, const int64_t *idx)
{
    TensorType t = ir_type_make(DT_I64, 1, &n);
    ValueId in[2] = { x, imp_const(im, &t, idx) };
    Attr a;
    ir_attr_default(OP_GATHER, &a);
    a.axis.axis = axis;
    return imp_emit(im, OP_GATHER, &a, 2, in);
}

/* Cubic convolution weights of the 4 taps floor(x) - 1 .. floor(x) + 2 for fraction r
 * (Keys' kernel with coefficient a, as ONNX Resize). */
static void
cubic_weights(double r, double a, double *w)
{
    double d[4] = { r + 1, r, 1 - r, 2 - r };
    for (int m = 0; m < 4; m++) {
        double t = d[m];
        w[m] = t <= 1 ? ((a + 2) * t - (a + 3)) * t * t + 1
                      : ((a * t - 5 * a) * t + 8 * a) * t - 4 * a;
    }
}

/* Taps (source indices, clamped) and weights of output j: nearest 1, linear 2, cubic 4. */
static int
taps(const ResizeMode *m, double xo, int64_t in, int64_t *idx, double *w)
{
    double f = floor(xo), r = xo - f;
    if (m->mode == RS_NEAREST) {
        idx[0] = clamp_index((double)nearest(m, xo), in);
        w[0] = 1;
        return 1;
    }
    if (m->mode == RS_LINEAR) {
        idx[0] = clamp_index(f, in), idx[1] = clamp_index(f + 1, in);
        w[0] = 1 - r, w[1] = r;
        return 2;
    }
    double sum = 0;
    cubic_weights(r, m->cubic_a, w);
    for (int k = 0; k < 4; k++) {
        double src = f - 1 + k;
        if (m->exclude_outside && (src < 0 || src > (double)(in - 1)))
            w[k] = 0;
        sum += w[k];
        idx[k] = clamp_index(src, in);
    }
    for (int k = 0; k < 4 && m->exclude_outside && sum != 0; k++)
        w[k] /= sum;
    return 4;
}

/* Resamples axis `axis` of x from in to out elements: sum over taps of gather * weight. */
static ValueId
resize_axis(Imp *im, const ResizeMode *m, ValueId x, int axis, double scale, int64_t out)
{
    int64_t in = imp_type(im, x)->dims[axis], rank = imp_type(im, x)->rank, wd[KILN_MAX_RANK];
    int64_t *idx[4];
    float *wt[4];
    int nt = m->mode == RS_NEAREST ? 1 : m->mode == RS_LINEAR ? 2 : 4;
    for (int k = 0; k < nt; k++) {
        idx[k] = arena_alloc(im->g->arena, (size_t)out * sizeof *idx[k]);
        wt[k] = arena_alloc(im->g->arena, (size_t)out * sizeof *wt[k]);
    }
    for (int64_t j = 0; j < out; j++) {
        int64_t ti[4];
        double tw[4];
        taps(m, source_coord(m, (double)j, scale, in), in, ti, tw);
        for (int k = 0; k < nt; k++)
            idx[k][j] = ti[k], wt[k][j] = (float)tw[k];
    }
    if (nt == 1)
        return gather_const(im, x, axis, out, idx[0]);
    wd[0] = out;
    for (int i = 1; i < rank - axis; i++)
        wd[i] = 1;
    TensorType t = ir_type_make(DT_F32, (int)(rank - axis), wd);
    ValueId y = 0;
    for (int k = 0; k < nt; k++) {
        ValueId term = imp_emit2(im, OP_MUL, gather_const(im, x, axis, out, idx[k]),
                                 imp_const(im, &t, wt[k]));
        y = y ? imp_emit2(im, OP_ADD, y, term) : term;
    }
    return y;
}

/* Per-axis scales and output sizes, from scales (floats) or sizes (ints) given as constant
 * operands ks/kz, or as the scales attribute (Upsample before opset 9). */
static int
resize_sizes(Imp *im, ValueId x, int ks, int kz, double *scale, int64_t *out)
{
    const TensorType *t = imp_type(im, x);
    int64_t sizes[KILN_MAX_RANK];
    int n = 0;
    ValueId sv = ks >= 0 ? imp_in(im, ks) : 0;
    const float *sp = sv ? imp_const_data(im, sv) : NULL;
    int64_t ns = 0;
    if (sv && !sp)
        return imp_unsupported(im, "%s: scales must be a constant", im->node->op_type);
    if (sv && (imp_type(im, sv)->dtype != DT_F32 || ir_type_numel(imp_type(im, sv), &ns) < 0))
        return imp_fail(im, "%s: scales must be f32", im->node->op_type);
    if (ks < 0) {
        const Onnx__AttributeProto *a = imp_attr(im, "scales");
        sp = a ? a->floats : NULL;
        ns = a ? (int64_t)a->n_floats : 0;
    }
    if (ns == 0 && kz >= 0 && imp_in(im, kz) &&
        imp_const_ints(im, kz, sizes, KILN_MAX_RANK, &n) < 0)
        return -1;
    if ((ns ? ns : n) != t->rank)
        return imp_fail(im, "%s: expected %d scales or sizes, got %lld", im->node->op_type,
                        t->rank, (long long)(ns ? ns : n));
    for (int i = 0; i < t->rank; i++) {
        scale[i] = ns ? sp[i] : (double)sizes[i] / (double)t->dims[i];
        out[i] = ns ? (int64_t)floor((double)t->dims[i] * scale[i]) : sizes[i];
        if (!(scale[i] > 0) || out[i] < 1 || out[i] > (1 << 24))
            return imp_unsupported(im, "%s: output size %lld along axis %d is not supported",
                                   im->node->op_type, (long long)out[i], i);
    }
    return 0;
}

static int
resize_run(Imp *im, const ResizeMode *m, ValueId x, const double *scale, const int64_t *out)
{
    const TensorType *t = imp_type(im, x);
    int rank = t->rank;
    int64_t in[KILN_MAX_RANK];
    memcpy(in, t->dims, sizeof in);
    if (m->mode != RS_NEAREST && t->dtype != DT_F32)
        return imp_unsupported(im, "%s: interpolation of %s is not supported (nearest only)",
                               im->node->op_type, ir_dtype_name(t->dtype));
    for (int i = 0; i < rank && x; i++)
        if (out[i] != in[i] || scale[i] != 1.0)
            x = resize_axis(im, m, x, i, scale[i], out[i]);
    return x ? imp_set_out(im, 0, x) : -1;
}

/* tf_crop_and_resize's roi operand (1): rank starts then rank ends, normalised input
 * coordinates, into roi[0..2 rank).  It must be a constant f32 tensor. */
static int
resize_roi(Imp *im, int rank, double *roi)
{
    ValueId r = imp_in(im, 1);
    int64_t n = 0;
    if (!r)
        return imp_fail(im, "Resize: tf_crop_and_resize needs the roi operand");
    const void *p = imp_const_data(im, r);
    if (!p)
        return imp_unsupported(im, "Resize: roi must be a constant");
    if (imp_type(im, r)->dtype != DT_F32 || ir_type_numel(imp_type(im, r), &n) < 0 ||
        n != 2 * rank)
        return imp_fail(im, "Resize: expected an f32 roi of %d values, got %s of %lld",
                        2 * rank, ir_dtype_name(imp_type(im, r)->dtype), (long long)n);
    for (int i = 0; i < 2 * rank; i++) {
        float f;
        memcpy(&f, (const char *)p + 4 * i, 4);
        roi[i] = f;
    }
    return 0;
}

/* tf_crop_and_resize: axis i resamples [roi[i], roi[rank + i]] of the input; an output
 * whose coordinate along any axis falls outside [0, in - 1] is extrapolation_value, as
 * where(in-range mask of that axis, y, e) per axis, the [out, 1, ...] masks broadcasting. */
static int
resize_crop(Imp *im, ResizeMode *m, ValueId x, const double *scale, const int64_t *out)
{
    TensorType t = *imp_type(im, x);
    double roi[2 * KILN_MAX_RANK], e = imp_attr_f(im, "extrapolation_value", 0);
    int64_t md[KILN_MAX_RANK];
    if (m->mode != RS_NEAREST && t.dtype != DT_F32)
        return imp_unsupported(im, "Resize: interpolation of %s is not supported (nearest "
                               "only)", ir_dtype_name(t.dtype));
    if (resize_roi(im, t.rank, roi) < 0)
        return -1;
    int64_t nscales = 0;
    if (imp_in(im, 2) && ir_type_numel(imp_type(im, imp_in(im, 2)), &nscales) < 0)
        return imp_fail(im, "Resize: bad scales shape");
    for (int i = 0; i < t.rank && nscales > 0; i++)
        if (roi[t.rank + i] - roi[i] != 1)   /* the spec and the reference disagree */
            return imp_unsupported(im, "Resize: tf_crop_and_resize with scales and a roi "
                                   "narrower or wider than the input is not supported "
                                   "(give sizes)");
    ValueId y = x;
    for (int i = 0; i < t.rank && y; i++) {
        m->crop[0] = roi[i], m->crop[1] = roi[t.rank + i];
        if (out[i] != t.dims[i] || m->crop[0] != 0 || m->crop[1] != 1)
            y = resize_axis(im, m, y, i, scale[i], out[i]);
    }
    for (int i = 0; i < t.rank && y; i++) {
        uint8_t *keep = arena_alloc(im->g->arena, (size_t)out[i]);
        int all = 1;
        m->crop[0] = roi[i], m->crop[1] = roi[t.rank + i];
        for (int64_t j = 0; j < out[i]; j++) {
            double c = source_coord(m, (double)j, scale[i], t.dims[i]);
            keep[j] = c >= 0 && c <= (double)(t.dims[i] - 1);
            all &= keep[j];
        }
        if (all)
            continue;
        md[0] = out[i];
        for (int k = 1; k < t.rank - i; k++)
            md[k] = 1;
        TensorType mt = ir_type_make(DT_BOOL, t.rank - i, md);
        y = imp_where(im, imp_const(im, &mt, keep), y, imp_scalar(im, t.dtype, e));
    }
    return y ? imp_set_out(im, 0, y) : -1;
}

/* Resize (opset 11+): nearest, linear and cubic modes, separable per axis as sums of
 * constant-index gathers times constant weights; tf_crop_and_resize adds constant
 * extrapolation masks (resize_crop). */
int
onnx_map_resize(Imp *im)
{
    static const char *const coords[] = { "half_pixel", "pytorch_half_pixel", "align_corners",
                                          "asymmetric", "tf_half_pixel_for_nn",
                                          "tf_crop_and_resize" };
    ValueId x = imp_need(im, 0);
    ResizeMode m = { 0 };
    double scale[KILN_MAX_RANK];
    int64_t out[KILN_MAX_RANK];
    size_t c = 0;
    if (!x)
        return -1;
    const char *mode = imp_attr_s(im, "mode", "nearest");
    snprintf(m.coord, sizeof m.coord, "%s",
             imp_attr_s(im, "coordinate_transformation_mode", "half_pixel"));
    snprintf(m.round, sizeof m.round, "%s", imp_attr_s(im, "nearest_mode", "round_prefer_floor"));
    m.mode = !strcmp(mode, "linear") ? RS_LINEAR : !strcmp(mode, "cubic") ? RS_CUBIC : RS_NEAREST;
    m.cubic_a = imp_attr_f(im, "cubic_coeff_a", -0.75);
    m.exclude_outside = imp_attr_i(im, "exclude_outside", 0) != 0;
    if (m.mode == RS_NEAREST && strcmp(mode, "nearest") != 0)
        return imp_unsupported(im, "Resize: mode '%s' is not supported", mode);
    while (c < sizeof coords / sizeof *coords && strcmp(m.coord, coords[c]) != 0)
        c++;
    if (c == sizeof coords / sizeof *coords)
        return imp_unsupported(im, "Resize: coordinate_transformation_mode '%s' is not "
                               "supported", m.coord);
    for (int i = 0; i < imp_type(im, x)->rank; i++)
        if (imp_type(im, x)->dims[i] == 0)   /* nothing to interpolate from */
            return imp_fail(im, "Resize: expected a non-empty input, got size 0 along "
                            "axis %d", i);
    if (resize_sizes(im, x, 2, 3, scale, out) < 0)
        return -1;
    if (strcmp(m.coord, "tf_crop_and_resize") == 0)
        return resize_crop(im, &m, x, scale, out);
    return resize_run(im, &m, x, scale, out);
}

/* Upsample (opsets 7-9): asymmetric coordinates, nearest rounds down. */
int
onnx_map_upsample(Imp *im)
{
    ValueId x = imp_need(im, 0);
    ResizeMode m = { 0 };
    double scale[KILN_MAX_RANK];
    int64_t out[KILN_MAX_RANK];
    if (!x)
        return -1;
    const char *mode = imp_attr_s(im, "mode", "nearest");
    m.mode = strcmp(mode, "linear") == 0 ? RS_LINEAR : RS_NEAREST;
    if (m.mode == RS_NEAREST && strcmp(mode, "nearest") != 0)
        return imp_unsupported(im, "Upsample: mode '%s' is not supported", mode);
    snprintf(m.coord, sizeof m.coord, "asymmetric");
    snprintf(m.round, sizeof m.round, "floor");
    if (resize_sizes(im, x, im->opset >= 9 ? 1 : -1, -1, scale, out) < 0)
        return -1;
    return resize_run(im, &m, x, scale, out);
}

/* Pad in edge or reflect mode: per padded axis, a gather with constant source indices. */
ValueId
onnx_pad_gather(Imp *im, ValueId x, const PadAttr *p, int reflect)
{
    for (int ax = 0; ax < p->rank && x; ax++) {
        int64_t in = imp_type(im, x)->dims[ax], b = p->before[ax], n;
        if (p->before[ax] == 0 && p->after[ax] == 0)
            continue;
        if (__builtin_add_overflow(in, b + p->after[ax], &n) || gen_count(im, 1, &n) < 0)
            return 0;
        int64_t *idx = arena_alloc(im->g->arena, (size_t)n * sizeof *idx);
        for (int64_t j = 0; j < n; j++) {
            int64_t i = j - b;
            if (!reflect || in == 1)
                i = i < 0 ? 0 : i >= in ? in - 1 : i;
            else                       /* mirror without repeating the edge, as numpy */
                while (i < 0 || i >= in)
                    i = i < 0 ? -i : 2 * (in - 1) - i;
            idx[j] = i;
        }
        x = gather_const(im, x, ax, n, idx);
    }
    return x;
}

/* GatherElements(data, indices, axis): a gather from the flattened data at
 * idx * stride[axis] + (constant offset of every other coordinate); indices outside
 * [-dim, dim) become an out-of-range flat index, which gather rejects at run time. */
int
onnx_map_gather_elements(Imp *im)
{
    ValueId x = imp_need(im, 0), idx = imp_need(im, 1);
    if (!x || !idx)
        return -1;
    const TensorType *xt = imp_type(im, x), *it = imp_type(im, idx);
    int64_t axis = imp_attr_i(im, "axis", 0), n, total, stride[KILN_MAX_RANK];
    int r = xt->rank;
    if (it->rank != r)
        return imp_fail(im, "GatherElements: indices have rank %d, data rank %d", it->rank, r);
    if (axis < -r || axis >= r)
        return imp_fail(im, "GatherElements: axis %lld out of range for rank %d",
                        (long long)axis, r);
    axis += axis < 0 ? r : 0;
    for (int i = 0; i < r; i++)
        if (i != axis && it->dims[i] > xt->dims[i])
            return imp_fail(im, "GatherElements: indices dim %d (%lld) exceeds data's %lld", i,
                            (long long)it->dims[i], (long long)xt->dims[i]);
    if ((n = gen_count(im, r, it->dims)) < 0 || ir_type_numel(xt, &total) < 0)
        return -1;
    stride[r - 1] = 1;
    for (int i = r - 1; i > 0; i--)
        stride[i - 1] = stride[i] * xt->dims[i];
    int64_t *off = arena_alloc(im->g->arena, (size_t)n * sizeof *off), dim = xt->dims[axis];
    for (int64_t e = 0; e < n; e++) {
        int64_t rem = e, o = 0;
        for (int i = r - 1; i >= 0; i--) {
            o += i == axis ? 0 : (rem % it->dims[i]) * stride[i];
            rem /= it->dims[i];
        }
        off[e] = o;
    }
    Attr c;
    ir_attr_default(OP_CAST, &c);
    c.cast.to = DT_I64;
    ValueId i64 = it->dtype == DT_I64 ? idx : imp_emit(im, OP_CAST, &c, 1, &idx);
    ValueId lo = imp_emit2(im, OP_LESS, i64, imp_scalar(im, DT_I64, (double)-dim));
    ValueId hi = imp_emit2(im, OP_LESS, i64, imp_scalar(im, DT_I64, (double)dim));
    i64 = imp_where(im, imp_emit2(im, OP_LESS, i64, imp_scalar(im, DT_I64, 0)),
                    imp_emit2(im, OP_ADD, i64, imp_scalar(im, DT_I64, (double)dim)), i64);
    TensorType ot = ir_type_make(DT_I64, r, it->dims);
    ValueId flat = imp_emit2(im, OP_ADD, imp_emit2(im, OP_MUL, i64,
                                                   imp_scalar(im, DT_I64, (double)stride[axis])),
                             imp_const(im, &ot, off));
    ValueId bad = imp_where(im, lo, imp_scalar(im, DT_BOOL, 1),
                            imp_emit2(im, OP_EQUAL, hi, imp_scalar(im, DT_BOOL, 0)));
    flat = imp_where(im, bad, imp_scalar(im, DT_I64, (double)(-total - 1)), flat);
    ValueId in[2] = { imp_reshape(im, x, 1, &total), flat };
    Attr g;
    ir_attr_default(OP_GATHER, &g);
    return imp_set_out(im, 0, imp_emit(im, OP_GATHER, &g, 2, in));
}

/* Mod: mod (fmod = 0: the sign of the divisor, Python's %) or fmod (fmod = 1: the sign of
 * the dividend, C's fmod).  ONNX requires fmod = 1 for floats. */
int
onnx_map_mod(Imp *im)
{
    ValueId a = imp_need(im, 0), b = imp_need(im, 1);
    if (!a || !b)
        return -1;
    DType dt = imp_type(im, a)->dtype;
    int64_t fm = imp_attr_i(im, "fmod", 0);
    if (fm != 0 && fm != 1)
        return imp_fail(im, "Mod: expected fmod 0 or 1, got %lld", (long long)fm);
    if (dt == DT_F32 && fm == 0)
        return imp_fail(im, "Mod: expected fmod = 1 for f32 operands, got 0");
    ValueId r = imp_emit2(im, fm ? OP_FMOD : OP_MOD, a, b);
    return r ? imp_set_out(im, 0, r) : -1;
}


static ValueId
reduce_all(Imp *im, ValueId x)
{
    Attr a;
    ir_attr_default(OP_REDUCE_SUM, &a);        /* naxes 0: every dim, keepdims 0 */
    return imp_emit(im, OP_REDUCE_SUM, &a, 1, &x);
}

/* NegativeLogLikelihoodLoss core: x [N, C, d...] (log-probabilities), target [N, d...].
 * picked = x at the target class, through a one-hot comparison with a ramp over C (exact:
 * one term per sum); loss = -picked * weight[target], 0 where target == ignore_index;
 * reduced by `reduction` (mean divides by the summed weights). */
static ValueId
nll(Imp *im, ValueId x, ValueId target, ValueId weight)
{
    const TensorType *xt = imp_type(im, x), *tt = imp_type(im, target);
    const char *red = imp_attr_s(im, "reduction", "mean");
    const Onnx__AttributeProto *ig = imp_attr(im, "ignore_index");
    int r = xt->rank;
    int64_t dims[KILN_MAX_RANK], c = xt->dims[1], axis1 = 1;
    if (r < 2 || tt->rank != r - 1 || (tt->dtype != DT_I64 && tt->dtype != DT_I32)) {
        imp_fail(im, "%s: expected input [N, C, ...] and integer target [N, ...]",
                 im->node->op_type);
        return 0;
    }
    if (strcmp(red, "none") && strcmp(red, "sum") && strcmp(red, "mean")) {
        imp_unsupported(im, "%s: reduction '%s' is not supported", im->node->op_type, red);
        return 0;
    }
    ValueId t = target, valid = 0, no = imp_scalar(im, DT_BOOL, 0);
    if (ig && ig->has_i) {
        ValueId ii = imp_scalar(im, tt->dtype, (double)ig->i);
        valid = imp_emit2(im, OP_EQUAL, imp_emit2(im, OP_EQUAL, t, ii), no);
        t = imp_where(im, valid, t, imp_scalar(im, tt->dtype, 0));
    }
    for (int i = 0, k = 0; i < r; i++)
        dims[i] = i == 1 ? 1 : tt->dims[k++];
    ValueId ramp_c = ramp(im, c, r - 2);
    if (tt->dtype != DT_I64) {
        Attr a;
        ir_attr_default(OP_CAST, &a);
        a.cast.to = tt->dtype;
        ramp_c = imp_emit(im, OP_CAST, &a, 1, &ramp_c);
    }
    ValueId hot = imp_emit2(im, OP_EQUAL, imp_reshape(im, t, r, dims), ramp_c);
    ValueId loss = imp_reduce(im, OP_REDUCE_SUM,
                              imp_where(im, hot, x, imp_scalar(im, DT_F32, 0)), 1, &axis1, 0);
    loss = imp_emit1(im, OP_NEG, loss);
    ValueId w = 0;
    if (weight) {
        ValueId in[2] = { weight, t };
        Attr g;
        ir_attr_default(OP_GATHER, &g);
        w = imp_emit(im, OP_GATHER, &g, 2, in);
    }
    if (valid)
        w = imp_where(im, valid, w ? w : imp_scalar(im, DT_F32, 1), imp_scalar(im, DT_F32, 0));
    if (w)
        loss = imp_emit2(im, OP_MUL, loss, w);
    if (!strcmp(red, "none") || !loss)
        return loss;
    ValueId sum = reduce_all(im, loss);
    if (!strcmp(red, "sum"))
        return sum;
    if (w)
        return imp_emit2(im, OP_DIV, sum, reduce_all(im, w));
    int64_t n;
    KILN_ASSERT(ir_type_numel(imp_type(im, loss), &n) == 0);
    return imp_emit2(im, OP_DIV, sum, imp_scalar(im, DT_F32, (double)n));
}

int
onnx_map_nll_loss(Imp *im)
{
    ValueId x = imp_need(im, 0), t = imp_need(im, 1), w = imp_in(im, 2);
    if (!x || !t)
        return -1;
    ValueId y = nll(im, x, t, w);
    return y ? imp_set_out(im, 0, y) : -1;
}

/* SoftmaxCrossEntropyLoss = NLL of log_softmax(scores) over dim 1; result 1 is that
 * log-probability. */
int
onnx_map_sce_loss(Imp *im)
{
    ValueId x = imp_need(im, 0), t = imp_need(im, 1), w = imp_in(im, 2);
    Attr a;
    if (!x || !t)
        return -1;
    if (imp_type(im, x)->rank < 2)
        return imp_fail(im, "SoftmaxCrossEntropyLoss: expected scores [N, C, ...]");
    ir_attr_default(OP_LOG_SOFTMAX, &a);
    a.axis.axis = 1;
    ValueId lp = imp_emit(im, OP_LOG_SOFTMAX, &a, 1, &x);
    ValueId y = lp ? nll(im, lp, t, w) : 0;
    if (!y || imp_set_out(im, 0, y) < 0)
        return -1;
    return imp_set_out(im, 1, lp);
}

/* CumSum(x, axis) of f32: x with `axis` moved last, times a constant 0/1 triangle
 * [n, n] (inclusive or exclusive, forward or reverse), moved back. */
int
onnx_map_cumsum(Imp *im)
{
    ValueId x = imp_need(im, 0);
    int64_t axis, one = 1;
    int na;
    if (!x || imp_const_ints(im, 1, &axis, 1, &na) < 0)
        return -1;
    const TensorType *t = imp_type(im, x);
    int r = t->rank;
    if (na != 1 || axis < -r || axis >= r)
        return imp_fail(im, "CumSum: expected one axis in -%d..%d", r, r - 1);
    axis += axis < 0 ? r : 0;
    int64_t n = t->dims[axis], d2[2] = { n, n };
    if (gen_count(im, 2, d2) < 0)
        return -1;
    int excl = imp_attr_i(im, "exclusive", 0) != 0, rev = imp_attr_i(im, "reverse", 0) != 0;
    float *tri = arena_alloc(im->g->arena, (size_t)(n * n) * sizeof *tri);
    for (int64_t i = 0; i < n; i++)              /* y[j] = sum over i of x[i] tri[i][j] */
        for (int64_t j = 0; j < n; j++)
            tri[i * n + j] = rev ? (excl ? i > j : i >= j) : (excl ? i < j : i <= j);
    int perm[KILN_MAX_RANK];
    for (int i = 0, k = 0; i < r; i++)
        if (i != axis)
            perm[k++] = i;
    perm[r - 1] = (int)axis;
    int back[KILN_MAX_RANK];
    for (int i = 0; i < r; i++)
        back[perm[i]] = i;
    ValueId xt = r > 1 ? imp_transpose(im, x, r, perm) : x;
    TensorType tt = ir_type_make(DT_F32, 2, d2);
    int64_t row[2] = { one, n };                  /* rank 1: a one-row matrix */
    ValueId y = imp_emit2(im, OP_MATMUL, r > 1 ? xt : imp_reshape(im, x, 2, row),
                          imp_const(im, &tt, tri));
    y = r > 1 ? imp_transpose(im, y, r, back) : imp_reshape(im, y, 1, &n);
    return imp_set_out(im, 0, y);
}
