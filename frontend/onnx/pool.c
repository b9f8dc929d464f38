/* frontend/onnx/pool.c — the spatial windows of Conv, ConvTranspose and the pools (1-D to
 * 3-D), window gathers with constant index tables, and the AveragePool / MaxPool mapper.
 *
 * Approach: kiln has only 2-D NCHW maxpool / avgpool, so the mapper decomposes.  1-D and
 * 2-D f32 pools are one kiln pool (1-D as height 1).  3-D pools are separable: (H, W) is
 * pooled on an [N, C·D, H, W] view, then D as a (kd, 1) pool on an [N, C, D, H'·W'] view;
 * an average stays exact because each stage divides by its own count and a box's count is
 * the product of the per-axis counts.  MaxPool with dilations or an integer element type
 * pads with the type's lowest value and, one axis at a time, gathers the windows with a
 * constant index table (out · stride + k · dilation) and takes reduce_max over k.  MaxPool's
 * Indices gather all of a window's candidates into one axis, pick the first maximum that is
 * not padding (argmax over a constant validity mask) and map it to the flat input index
 * through a constant table, so padding is never chosen, even where the input is -inf. */
#include <math.h>
#include <string.h>
#include "onnx_internal.h"
#include "util.h"

/* ------------------------------------------------------------------ windows */

int
onnx_attr_spatial(Imp *im, const char *name, int nsp, int64_t *out, int64_t def)
{
    int64_t v[3];
    int n = imp_attr_ints(im, name, v, 3);
    for (int i = 0; i < nsp; i++)
        out[i] = n > 0 ? v[i] : def;
    if (n > 0 && n != nsp)
        return imp_fail(im, "%s: '%s': expected %d values, got %d", im->node->op_type, name,
                        nsp, n);
    return n < 0 ? -1 : 0;
}

/* Each of v[0..n) in lo..INT32_MAX, so that window arithmetic cannot overflow. */
static int
check_range(Imp *im, const char *name, const int64_t *v, int n, int64_t lo)
{
    for (int i = 0; i < n; i++)
        if (v[i] < lo || v[i] > INT32_MAX)
            return imp_fail(im, "%s: '%s': expected values in %lld..%d, got %lld",
                            im->node->op_type, name, (long long)lo, INT32_MAX,
                            (long long)v[i]);
    return 0;
}

/* SAME_UPPER / SAME_LOWER: out = ceil(in / stride), the padding split evenly, the odd one
 * at the end (UPPER) or the beginning (LOWER). */
static void
same_pads(const TensorType *x, OnnxWindow *w, int upper)
{
    for (int i = 0; i < w->nsp; i++) {
        int64_t in = x->dims[2 + i], s = w->stride[i];
        int64_t total = ((in + s - 1) / s - 1) * s + (w->kernel[i] - 1) * w->dil[i] + 1 - in;
        if (total < 0)
            total = 0;
        w->pb[i] = upper ? total / 2 : total - total / 2;
        w->pe[i] = total - w->pb[i];
    }
}

int
onnx_window_get(Imp *im, const TensorType *x, const int64_t *kernel, OnnxWindow *w)
{
    int64_t p[6];
    memset(w, 0, sizeof *w);
    w->nsp = x->rank - 2;
    if (w->nsp < 1 || w->nsp > 3)
        return imp_unsupported(im, "%s: only 1-D, 2-D and 3-D inputs are supported, got "
                               "rank %d", im->node->op_type, x->rank);
    if (kernel)
        memcpy(w->kernel, kernel, (size_t)w->nsp * sizeof *kernel);
    else if (!imp_attr(im, "kernel_shape"))
        return imp_fail(im, "%s: missing attribute 'kernel_shape'", im->node->op_type);
    if ((!kernel && onnx_attr_spatial(im, "kernel_shape", w->nsp, w->kernel, 1) < 0) ||
        onnx_attr_spatial(im, "strides", w->nsp, w->stride, 1) < 0 ||
        onnx_attr_spatial(im, "dilations", w->nsp, w->dil, 1) < 0)
        return -1;
    int n = imp_attr_ints(im, "pads", p, 6);
    if (n < 0)
        return -1;
    if (n != 0 && n != 2 * w->nsp)
        return imp_fail(im, "%s: 'pads': expected %d values, got %d", im->node->op_type,
                        2 * w->nsp, n);
    for (int i = 0; i < n / 2; i++) {             /* begins then ends, per spatial dim */
        w->pb[i] = p[i];
        w->pe[i] = p[n / 2 + i];
    }
    if (check_range(im, "kernel_shape", w->kernel, w->nsp, 1) < 0 ||
        check_range(im, "strides", w->stride, w->nsp, 1) < 0 ||
        check_range(im, "dilations", w->dil, w->nsp, 1) < 0 ||
        check_range(im, "pads", w->pb, w->nsp, 0) < 0 ||
        check_range(im, "pads", w->pe, w->nsp, 0) < 0)
        return -1;
    const char *ap = imp_attr_s(im, "auto_pad", "NOTSET");
    if (strcmp(ap, "NOTSET") == 0)
        return 0;
    memset(w->pb, 0, sizeof w->pb);
    memset(w->pe, 0, sizeof w->pe);
    if (strcmp(ap, "VALID") == 0)
        return 0;
    if (strcmp(ap, "SAME_UPPER") != 0 && strcmp(ap, "SAME_LOWER") != 0)
        return imp_fail(im, "%s: unknown auto_pad '%s'", im->node->op_type, ap);
    same_pads(x, w, ap[5] == 'U');
    return 0;
}

/* Windows along one axis of length len: *out of them, or -1 (reported) if none fits. */
static int
window_count(Imp *im, int64_t len, int64_t k, int64_t s, int64_t d, int64_t pb, int64_t pe,
             int64_t *out)
{
    int64_t span = len + pb + pe - ((k - 1) * d + 1);
    if (span < 0)
        return imp_fail(im, "%s: window of %lld (dilation %lld) does not fit a dim of %lld "
                        "padded by %lld and %lld", im->node->op_type, (long long)k,
                        (long long)d, (long long)len, (long long)pb, (long long)pe);
    *out = span / s + 1;
    return 0;
}

/* An arena array of n int64 for a generated constant, or NULL (reported) when n is above
 * the cap. */
static int64_t *
table_new(Imp *im, int64_t n)
{
    if (n < 1 || n > ONNX_CONST_ELEMS) {
        imp_unsupported(im, "%s: a generated index table would have %lld elements (at most "
                        "%d)", im->node->op_type, (long long)n, ONNX_CONST_ELEMS);
        return NULL;
    }
    return arena_alloc(im->g->arena, (size_t)n * sizeof(int64_t));
}

static ValueId
table_const(Imp *im, DType dt, int rank, const int64_t *dims, const int64_t *v)
{
    TensorType t = ir_type_make(dt, rank, dims);
    if (dt == DT_I64)
        return imp_const(im, &t, v);
    int64_t n;
    KILN_ASSERT(dt == DT_I32 && ir_type_numel(&t, &n) == 0);
    int32_t *p = arena_alloc(im->g->arena, (size_t)n * sizeof *p);
    for (int64_t i = 0; i < n; i++)
        p[i] = (int32_t)v[i];
    return imp_const(im, &t, p);
}

/* x padded by before[i] / after[i] on dims 2.. (nsp of them) with fill; x when no pad. */
static ValueId
pad_spatial(Imp *im, ValueId x, int nsp, const int64_t *before, const int64_t *after,
            double fill)
{
    Attr a;
    int any = 0;
    ir_attr_default(OP_PAD, &a);
    a.pad.rank = imp_type(im, x)->rank;
    a.pad.value = (float)fill;
    for (int i = 0; i < nsp; i++) {
        a.pad.before[2 + i] = before[i];
        a.pad.after[2 + i] = after[i];
        any |= before[i] != 0 || after[i] != 0;
    }
    return any ? imp_emit(im, OP_PAD, &a, 1, &x) : x;
}

ValueId
onnx_window_gather(Imp *im, ValueId x, int axis, int64_t k, int64_t s, int64_t d,
                   int64_t pb, int64_t pe, double fill)
{
    Attr a;
    int64_t out = 0, tdims[2];
    if (!x)
        return 0;
    const TensorType *t = imp_type(im, x);
    KILN_ASSERT(axis >= 0 && axis < t->rank && pb >= 0 && pe >= 0);
    if (window_count(im, t->dims[axis], k, s, d, pb, pe, &out) < 0)
        return 0;
    int64_t *idx = table_new(im, out * k);
    if (!idx)
        return 0;
    for (int64_t o = 0; o < out; o++)
        for (int64_t j = 0; j < k; j++)
            idx[o * k + j] = o * s + j * d;
    ir_attr_default(OP_PAD, &a);
    a.pad.rank = t->rank;
    a.pad.value = (float)fill;
    a.pad.before[axis] = pb;
    a.pad.after[axis] = pe;
    if (pb || pe)
        x = imp_emit(im, OP_PAD, &a, 1, &x);
    tdims[0] = out;
    tdims[1] = k;
    ValueId in[2] = { x, table_const(im, DT_I64, 2, tdims, idx) };
    ir_attr_default(OP_GATHER, &a);
    a.axis.axis = axis;
    return imp_emit(im, OP_GATHER, &a, 2, in);
}

/* ------------------------------------------------------------------ pools */

/* ceil_mode: extra end padding per dim so that the floor rule yields the ceil-mode size; a
 * last window that would start in the end padding is dropped (ONNX reference, PyTorch). */
static void
ceil_extra(const TensorType *t, const OnnxWindow *w, int64_t *extra)
{
    for (int i = 0; i < w->nsp; i++) {
        int64_t in = t->dims[2 + i], s = w->stride[i], ek = (w->kernel[i] - 1) * w->dil[i] + 1;
        int64_t span = in + w->pb[i] + w->pe[i] - ek;
        extra[i] = 0;
        if (span < 0)
            continue;                  /* window_count or the shape rule reports it */
        int64_t out = (span + s - 1) / s + 1;
        if ((out - 1) * s >= in + w->pb[i])
            out--;
        if ((out - 1) * s + ek > in + w->pb[i] + w->pe[i])
            extra[i] = (out - 1) * s + ek - (in + w->pb[i] + w->pe[i]);
    }
}

/* One kiln pool of the 4-D x over window dims ih (height) and iw (width); -1 = a unit
 * dim.  count_include_pad with ceil-mode extra padding pads x with zeros explicitly and
 * divides by the in-bounds count, which then counts the pads but not the extra. */
static ValueId
pool_2d(Imp *im, ValueId x, const OnnxWindow *w, const int64_t *extra, int ih, int iw)
{
    Attr a, p;
    int dim[2] = { ih, iw };
    int cp = im->row->op == OP_AVGPOOL && imp_attr_i(im, "count_include_pad", 0) != 0;
    int prepad = cp && ((ih >= 0 && extra[ih] > 0) || (iw >= 0 && extra[iw] > 0));
    ir_attr_default(im->row->op, &a);
    ir_attr_default(OP_PAD, &p);
    p.pad.rank = 4;
    for (int i = 0; i < 2; i++) {
        int j = dim[i];
        a.pool.kernel[i] = a.pool.stride[i] = 1;
        if (j < 0)
            continue;
        a.pool.kernel[i] = (int)w->kernel[j];
        a.pool.stride[i] = (int)w->stride[j];
        p.pad.before[2 + i] = w->pb[j];
        p.pad.after[2 + i] = w->pe[j];
        a.pool.pad[i] = prepad ? 0 : (int)w->pb[j];
        a.pool.pad[i + 2] = (int)((prepad ? 0 : w->pe[j]) + extra[j]);
    }
    a.pool.count_pad = cp && !prepad;
    if (prepad)
        x = imp_emit(im, OP_PAD, &p, 1, &x);
    return imp_emit(im, im->row->op, &a, 1, &x);
}

/* f32 pools without dilations: kiln pools, 3-D as two separable stages. */
static ValueId
pool_native(Imp *im, ValueId x, const OnnxWindow *w, const int64_t *extra)
{
    TensorType t = *imp_type(im, x);
    const int64_t *d = t.dims;
    if (w->nsp == 2)
        return pool_2d(im, x, w, extra, 0, 1);
    if (w->nsp == 1) {
        int64_t d4[4] = { d[0], d[1], 1, d[2] };
        ValueId y = pool_2d(im, imp_reshape(im, x, 4, d4), w, extra, -1, 0);
        if (!y)
            return 0;
        int64_t d3[3] = { d[0], d[1], imp_type(im, y)->dims[3] };
        return imp_reshape(im, y, 3, d3);
    }
    int64_t s1[4] = { d[0], d[1] * d[2], d[3], d[4] };
    ValueId y = pool_2d(im, imp_reshape(im, x, 4, s1), w, extra, 1, 2);
    if (!y)
        return 0;
    int64_t ho = imp_type(im, y)->dims[2], wo = imp_type(im, y)->dims[3];
    int64_t s2[4] = { d[0], d[1], d[2], ho * wo };
    y = pool_2d(im, imp_reshape(im, y, 4, s2), w, extra, 0, -1);
    if (!y)
        return 0;
    int64_t d5[5] = { d[0], d[1], imp_type(im, y)->dims[2], ho, wo };
    return imp_reshape(im, y, 5, d5);
}

/* The lowest value of dt: max pooling's padding. */
static double
lowest(DType dt)
{
    return dt == DT_U8 ? 0 : dt == DT_I8 ? -128 : dt == DT_I32 ? INT32_MIN : -INFINITY;
}

/* Max pooling of any element type and dilation, one axis at a time: gather the windows
 * into a new axis after the pooled one, reduce_max over it. */
static ValueId
pool_max_gather(Imp *im, ValueId x, const OnnxWindow *w, const int64_t *extra)
{
    double fill = lowest(imp_type(im, x)->dtype);
    Attr r;
    ir_attr_default(OP_REDUCE_MAX, &r);
    r.reduce.naxes = 1;
    r.reduce.keepdims = 0;
    for (int i = 0; i < w->nsp && x; i++) {
        x = onnx_window_gather(im, x, 2 + i, w->kernel[i], w->stride[i], w->dil[i], w->pb[i],
                               w->pe[i] + extra[i], fill);
        r.reduce.axes[0] = 3 + i;
        x = imp_emit(im, OP_REDUCE_MAX, &r, 1, &x);
    }
    return x;
}

/* Constant tables of the Indices route over nout windows of kk candidates each:
 * gidx = flat index into the padded spatial block, valid = 1 where the candidate lies in
 * the input, src = the candidate's flat spatial input index (storage_order 1: column-major),
 * for a padding candidate that of its window's first valid one. */
typedef struct {
    int     nsp;             /* spatial dims */
    int64_t in[3], lp[3];    /* input and padded extents */
    int64_t out[3];          /* windows per dim */
    int64_t nout, kk;        /* windows, candidates per window */
    int64_t *gidx, *valid, *src;   /* nout * kk each, arena-owned */
} IndexTables;

/* Fills window o's row of the tables; -1 (reported) when no candidate is valid. */
static int
index_row(Imp *im, const OnnxWindow *w, IndexTables *it, int64_t o, int colmajor)
{
    int64_t first = -1, row = o * it->kk;
    for (int64_t j = 0; j < it->kk; j++) {
        int64_t orem = o, jrem = j, p[3], g = 0, src = 0, step = 1;
        int ok = 1;
        for (int a = it->nsp - 1; a >= 0; a--) {      /* row-major digits, last dim fastest */
            p[a] = (orem % it->out[a]) * w->stride[a] + (jrem % w->kernel[a]) * w->dil[a];
            orem /= it->out[a];
            jrem /= w->kernel[a];
        }
        for (int a = 0; a < it->nsp; a++) {
            int64_t q = p[a] - w->pb[a];
            g = g * it->lp[a] + p[a];
            ok &= q >= 0 && q < it->in[a];
            if (colmajor)                             /* first spatial dim fastest */
                src += q * step, step *= it->in[a];
            else
                src = src * it->in[a] + q;
        }
        it->gidx[row + j] = g;
        it->valid[row + j] = ok;
        it->src[row + j] = src;
        if (ok && first < 0)
            first = src;
    }
    if (first < 0)
        return imp_unsupported(im, "MaxPool: a window lies entirely in the padding; its "
                               "Indices are undefined");
    for (int64_t j = 0; j < it->kk; j++)
        if (!it->valid[row + j])
            it->src[row + j] = first;
    return 0;
}

static int
index_tables(Imp *im, const TensorType *t, const OnnxWindow *w, const int64_t *extra,
             IndexTables *it)
{
    it->nsp = w->nsp;
    it->nout = it->kk = 1;
    for (int a = 0; a < w->nsp; a++) {
        it->in[a] = t->dims[2 + a];
        it->lp[a] = it->in[a] + w->pb[a] + w->pe[a] + extra[a];
        if (window_count(im, it->in[a], w->kernel[a], w->stride[a], w->dil[a], w->pb[a],
                         w->pe[a] + extra[a], &it->out[a]) < 0)
            return -1;
        it->nout *= it->out[a];
        it->kk *= w->kernel[a];
    }
    if (it->kk > ONNX_CONST_ELEMS || it->nout > ONNX_CONST_ELEMS / it->kk)
        return imp_unsupported(im, "MaxPool: the Indices tables would have %lld x %lld "
                               "elements (at most %d)", (long long)it->nout, (long long)it->kk,
                               ONNX_CONST_ELEMS);
    if (!(it->gidx = table_new(im, it->nout * it->kk)) ||
        !(it->valid = table_new(im, it->nout * it->kk)) ||
        !(it->src = table_new(im, it->nout * it->kk)))
        return -1;
    int colmajor = imp_attr_i(im, "storage_order", 0) != 0;
    for (int64_t o = 0; o < it->nout; o++)
        if (index_row(im, w, it, o, colmajor) < 0)
            return -1;
    return 0;
}


/* MaxPool with the Indices result: both outputs bound here. */
static int
pool_max_indices(Imp *im, ValueId x, const OnnxWindow *w, const int64_t *extra)
{
    TensorType t = *imp_type(im, x);
    IndexTables it;
    Attr ga;
    if (index_tables(im, &t, w, extra, &it) < 0)
        return -1;
    int64_t n = t.dims[0], c = t.dims[1], lpn = 1, inn = 1;
    for (int a = 0; a < w->nsp; a++)
        lpn *= it.lp[a], inn *= it.in[a];
    int64_t pe[3], flat[3] = { n, c, lpn }, tab[2] = { it.nout, it.kk }, nk = it.nout * it.kk;
    for (int a = 0; a < w->nsp; a++)
        pe[a] = w->pe[a] + extra[a];
    int64_t *ramp = table_new(im, it.nout), *base = table_new(im, n * c);
    if (!ramp || !base)
        return -1;
    for (int64_t o = 0; o < it.nout; o++)
        ramp[o] = o * it.kk;
    for (int64_t i = 0; i < n * c; i++)
        base[i] = i * inn;
    ir_attr_default(OP_GATHER, &ga);
    ga.axis.axis = 2;
    x = pad_spatial(im, x, w->nsp, w->pb, pe, lowest(t.dtype));
    ValueId gin[2] = { imp_reshape(im, x, 3, flat), table_const(im, DT_I64, 2, tab, it.gidx) };
    ValueId cand = imp_emit(im, OP_GATHER, &ga, 2, gin);             /* [n, c, nout, kk] */
    static const int64_t last = 3;                                   /* the kk axis */
    ValueId ymax = imp_reduce(im, OP_REDUCE_MAX, cand, 1, &last, 1);  /* [n, c, nout, 1] */
    ValueId score = imp_where(im, imp_emit2(im, OP_EQUAL, cand, ymax),
                              table_const(im, DT_I32, 2, tab, it.valid),
                              imp_scalar(im, DT_I32, 0));
    ValueId pick = imp_emit2(im, OP_ADD, imp_reduce(im, OP_ARGMAX, score, 1, &last, 0),
                             table_const(im, DT_I64, 1, &it.nout, ramp));
    ga.axis.axis = 0;
    ValueId sin[2] = { table_const(im, DT_I64, 1, &nk, it.src), pick };
    int64_t bd[3] = { n, c, 1 }, od[5] = { n, c };
    ValueId idx = imp_emit2(im, OP_ADD, imp_emit(im, OP_GATHER, &ga, 2, sin),
                            table_const(im, DT_I64, 3, bd, base));
    for (int a = 0; a < w->nsp; a++)
        od[2 + a] = it.out[a];
    ValueId y = imp_reshape(im, ymax, 2 + w->nsp, od);
    idx = imp_reshape(im, idx, 2 + w->nsp, od);
    if (!y || !idx || imp_set_out(im, 0, y) < 0)
        return -1;
    return imp_set_out(im, 1, idx);
}

int
onnx_map_pool(Imp *im)
{
    ValueId x = imp_need(im, 0), y;
    OnnxWindow w;
    int64_t extra[3] = { 0, 0, 0 };
    int ismax = im->row->op == OP_MAXPOOL, dilated = 0;
    if (!x || onnx_window_get(im, imp_type(im, x), NULL, &w) < 0)
        return -1;
    for (int i = 0; i < w.nsp; i++)
        dilated |= w.dil[i] != 1;
    if (!ismax && dilated)
        return imp_unsupported(im, "AveragePool: dilations are not supported");
    if (imp_attr_i(im, "ceil_mode", 0))
        ceil_extra(imp_type(im, x), &w, extra);
    if (ismax && imp_out_used(im, 1))
        return pool_max_indices(im, x, &w, extra);
    for (int i = 0; i < w.nsp; i++)   /* as the native pools check: no window of padding */
        if (w.pb[i] >= w.kernel[i] || w.pe[i] >= w.kernel[i])
            return imp_fail(im, "%s: padding %lld must be smaller than the kernel %lld",
                            im->node->op_type, (long long)(w.pb[i] > w.pe[i] ? w.pb[i] : w.pe[i]),
                            (long long)w.kernel[i]);
    if (ismax && (dilated || imp_type(im, x)->dtype != DT_F32))
        y = pool_max_gather(im, x, &w, extra);
    else
        y = pool_native(im, x, &w, extra);
    return y ? imp_set_out(im, 0, y) : -1;
}
