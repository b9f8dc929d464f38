/* frontend/onnx/ops.c — THE ONNX op table and the mappers of ops that map to one kiln op or
 * a short fixed sequence: each row names an ONNX op, the opsets it covers, the element
 * types it accepts, the operands that must be constants and the function that builds kiln
 * IR for it.  doc/onnx.md's op list is printed from this table (onnx_op_list), so a claim
 * cannot drift from the code.
 *
 * Approach: mappers read the current node through the imp_* helpers (import.c) and build
 * IR with imp_emit, which types and folds each node as it is made.  Where kiln has no
 * single op the mapper decomposes (Gemm, LayerNormalization with its extra results,
 * Squeeze/Unsqueeze as reshape, ...); longer decompositions live in eltwise.c (activations,
 * logic), gen.c (constants from static shapes, Resize, losses), quant.c (QDQ) and pool.c
 * (the spatial windows of Conv and the pools; 3-D and gathered-window pooling).
 * Variants kiln cannot express are rejected with imp_unsupported naming the attribute,
 * never approximated. */
#include <ctype.h>
#include <float.h>
#include <math.h>
#include <string.h>
#include "onnx_internal.h"
#include "util.h"

/* element types a row accepts for its first operand */
#define TM(t)  (1u << (t))
#define T_F    TM(DT_F32)
#define T_I    (TM(DT_I32) | TM(DT_I64) | TM(DT_I8) | TM(DT_U8))
#define T_SI   (TM(DT_I32) | TM(DT_I64) | TM(DT_I8))
#define T_N    (T_F | T_I)
#define T_B    TM(DT_BOOL)
#define T_ALL  (T_N | T_B)
#define T_Q    (TM(DT_I8) | TM(DT_U8))

/* ------------------------------------------------------------------ small builders */

static ValueId
emit_attr(Imp *im, Op op, const Attr *a, ValueId x)
{
    return imp_emit(im, op, a, 1, &x);
}

static int
out0(Imp *im, ValueId v)
{
    return v ? imp_set_out(im, 0, v) : -1;
}

static int
rank_of(Imp *im, ValueId v)
{
    return imp_type(im, v)->rank;
}

/* Normalises an ONNX axis against rank; unsupported-free: out of range is an error. */
static int
norm_axis(Imp *im, int64_t *axis, int rank)
{
    if (*axis < -rank || *axis >= (rank ? rank : 1))
        return imp_fail(im, "%s: axis %lld out of range for rank %d", im->node->op_type,
                        (long long)*axis, rank);
    if (*axis < 0)
        *axis += rank;
    return 0;
}

/* ------------------------------------------------------------------ elementwise */

static int
map_unary(Imp *im)
{
    return out0(im, imp_emit1(im, im->row->op, imp_need(im, 0)));
}

/* Operands 0 and 1, which must exist and share an element type. */
static int
two_same(Imp *im, ValueId *a, ValueId *b)
{
    *a = imp_need(im, 0);
    *b = imp_need(im, 1);
    if (!*a || !*b)
        return -1;
    if (imp_type(im, *a)->dtype != imp_type(im, *b)->dtype)
        return imp_unsupported(im, "%s: operands of different element types (%s, %s) are "
                               "not supported", im->node->op_type,
                               ir_dtype_name(imp_type(im, *a)->dtype),
                               ir_dtype_name(imp_type(im, *b)->dtype));
    return 0;
}

static int
map_binary(Imp *im)
{
    ValueId a, b;
    return two_same(im, &a, &b) < 0 ? -1 : out0(im, imp_emit2(im, im->row->op, a, b));
}

/* GreaterOrEqual = not(Less), LessOrEqual = not(Greater); not(b) = equal(b, false). */
static int
map_cmp_or_equal(Imp *im)
{
    ValueId a, b;
    if (two_same(im, &a, &b) < 0)
        return -1;
    ValueId c = imp_emit2(im, im->row->op, a, b);
    return out0(im, imp_emit2(im, OP_EQUAL, c, imp_scalar(im, DT_BOOL, 0)));
}

static int
map_identity(Imp *im)
{
    ValueId x = imp_need(im, 0);
    return x ? imp_set_out(im, 0, x) : -1;
}

static int
map_where(Imp *im)
{
    ValueId c = imp_need(im, 0), x = imp_need(im, 1), y = imp_need(im, 2);
    if (!c || !x || !y)
        return -1;
    if (imp_type(im, x)->dtype != imp_type(im, y)->dtype)
        return imp_fail(im, "Where: X and Y have different element types");
    return out0(im, imp_where(im, c, x, y));
}

/* ------------------------------------------------------------------ types */

static int
cast_to(Imp *im, DType to)
{
    Attr a;
    ValueId x = imp_need(im, 0);
    if (!x)
        return -1;
    if (imp_type(im, x)->dtype == to)
        return imp_set_out(im, 0, x);
    ir_attr_default(OP_CAST, &a);
    a.cast.to = to;
    return out0(im, emit_attr(im, OP_CAST, &a, x));
}

static int
map_cast(Imp *im)
{
    int64_t to = imp_attr_i(im, "to", 0);
    DType dt = onnx_dtype((int32_t)to);
    if (dt == DT_NONE)
        return imp_unsupported(im, "Cast: target type %s is not supported",
                               onnx_dtype_name((int32_t)to));
    /* f32 -> int: kiln saturates out-of-range values, ONNX leaves them undefined */
    return cast_to(im, dt);
}

static int
map_cast_like(Imp *im)
{
    ValueId like = imp_need(im, 1);
    return like ? cast_to(im, imp_type(im, like)->dtype) : -1;
}

/* ------------------------------------------------------------------ matrix, conv, pool */

static int
map_matmul(Imp *im)
{
    ValueId a = imp_need(im, 0), b = imp_need(im, 1);
    if (!a || !b)
        return -1;
    if (imp_type(im, b)->dtype != DT_F32)
        return imp_unsupported(im, "MatMul: operand B of type %s is not supported",
                               ir_dtype_name(imp_type(im, b)->dtype));
    return out0(im, imp_emit2(im, OP_MATMUL, a, b));
}

/* Gemm: alpha * A' B' + beta * C */
static int
map_gemm(Imp *im)
{
    ValueId in[2] = { imp_need(im, 0), imp_need(im, 1) }, c = imp_in(im, 2);
    double alpha = imp_attr_f(im, "alpha", 1.0), beta = imp_attr_f(im, "beta", 1.0);
    Attr a;
    if (!in[0] || !in[1])
        return -1;
    if (rank_of(im, in[0]) != 2 || rank_of(im, in[1]) != 2)
        return imp_fail(im, "Gemm: expected 2-D A and B, got ranks %d and %d",
                        rank_of(im, in[0]), rank_of(im, in[1]));
    ir_attr_default(OP_MATMUL, &a);
    a.matmul.trans_a = imp_attr_i(im, "transA", 0) != 0;
    a.matmul.trans_b = imp_attr_i(im, "transB", 0) != 0;
    ValueId y = imp_emit(im, OP_MATMUL, &a, 2, in);
    if (alpha != 1.0)
        y = imp_emit2(im, OP_MUL, y, imp_scalar(im, DT_F32, alpha));
    if (c && beta != 0.0) {
        if (beta != 1.0)
            c = imp_emit2(im, OP_MUL, c, imp_scalar(im, DT_F32, beta));
        y = imp_emit2(im, OP_ADD, y, c);
    }
    return out0(im, y);
}

/* ConvAttr of a conv2d over window dims ih (height) and iw (width); -1 = a unit dim. */
static void
conv_attr(const OnnxWindow *w, int ih, int iw, int64_t groups, Attr *a)
{
    int dim[2] = { ih, iw };
    ir_attr_default(OP_CONV2D, a);
    for (int i = 0; i < 2; i++) {
        int j = dim[i];
        if (j < 0)
            continue;
        a->conv.stride[i] = (int)w->stride[j];
        a->conv.dilation[i] = (int)w->dil[j];
        a->conv.pad[i] = (int)w->pb[j];
        a->conv.pad[i + 2] = (int)w->pe[j];
    }
    a->conv.groups = (int)groups;
}

/* v [N, C, L] as [N, C, 1, L] (insert), or [N, C, 1, L] back to [N, C, L]. */
static ValueId
unit_height(Imp *im, ValueId v, int insert)
{
    if (!v)
        return 0;
    const TensorType *t = imp_type(im, v);
    int64_t d4[4] = { t->dims[0], t->dims[1], 1, t->dims[2] };
    int64_t d3[3] = { t->dims[0], t->dims[1], t->dims[3] };
    return insert ? imp_reshape(im, v, 4, d4) : imp_reshape(im, v, 3, d3);
}

/* 3-D conv: gather the depth windows [N, C, Do, kd, H, W], move Do beside N and fold
 * (C, kd) into the channels, c major so that a group's channels stay contiguous; conv2d
 * over (H, W) with the weight viewed as [M, C/g kd, kh, kw]; unfold to [N, M, Do, Ho, Wo]. */
static ValueId
conv_3d(Imp *im, const ValueId *in, int nin, const OnnxWindow *w, int64_t g)
{
    static const int p6[6] = { 0, 2, 1, 3, 4, 5 }, p5[5] = { 0, 2, 1, 3, 4 };
    TensorType xt = *imp_type(im, in[0]), wt = *imp_type(im, in[1]);
    int64_t n = xt.dims[0], kd = wt.dims[2];
    Attr a;
    ValueId xg = onnx_window_gather(im, in[0], 2, kd, w->stride[0], w->dil[0], w->pb[0],
                                    w->pe[0], 0.0);
    if (!xg)
        return 0;
    int64_t dout = imp_type(im, xg)->dims[2];
    int64_t x4[4] = { n * dout, xt.dims[1] * kd, xt.dims[3], xt.dims[4] };
    int64_t w4[4] = { wt.dims[0], wt.dims[1] * kd, wt.dims[3], wt.dims[4] };
    ValueId v[3] = { imp_reshape(im, imp_transpose(im, xg, 6, p6), 4, x4),
                     imp_reshape(im, in[1], 4, w4), nin > 2 ? in[2] : 0 };
    conv_attr(w, 1, 2, g, &a);
    ValueId y = imp_emit(im, OP_CONV2D, &a, nin, v);
    if (!y)
        return 0;
    const TensorType *yt = imp_type(im, y);
    int64_t y5[5] = { n, dout, yt->dims[1], yt->dims[2], yt->dims[3] };
    return imp_transpose(im, imp_reshape(im, y, 5, y5), 5, p5);
}

/* Conv of x [N, C, ...] and w [M, C/g, k...] (rank 3..5) over window w. */
static ValueId
conv_nd(Imp *im, const ValueId *in, int nin, const OnnxWindow *w, int64_t g)
{
    Attr a;
    if (w->nsp == 3)
        return conv_3d(im, in, nin, w, g);
    if (w->nsp == 2) {
        conv_attr(w, 0, 1, g, &a);
        return imp_emit(im, OP_CONV2D, &a, nin, in);
    }
    ValueId v[3] = { unit_height(im, in[0], 1), unit_height(im, in[1], 1), nin > 2 ? in[2] : 0 };
    conv_attr(w, -1, 0, g, &a);
    return unit_height(im, imp_emit(im, OP_CONV2D, &a, nin, v), 0);
}

/* Weight wt fits input xt: same rank, C = (C/g) g, M divisible by g (transposed: C = Cw,
 * Cw divisible by g). */
static int
conv_fits(Imp *im, const TensorType *xt, const TensorType *wt, int64_t g, int transposed)
{
    char b1[200], b2[200];
    int ok = wt->rank == xt->rank && xt->rank >= 2 && g >= 1 && g <= INT32_MAX;
    if (ok && transposed)
        ok = wt->dims[0] == xt->dims[1] && wt->dims[0] % g == 0;
    else if (ok)
        ok = wt->dims[1] * g == xt->dims[1] && wt->dims[0] % g == 0;
    if (ok)
        return 0;
    return imp_fail(im, "%s: weight %s does not fit input %s (group %lld)", im->node->op_type,
                    ir_type_str(wt, b1, sizeof b1), ir_type_str(xt, b2, sizeof b2),
                    (long long)g);
}

ValueId
onnx_conv_node(Imp *im, const ValueId *in, int nin)
{
    OnnxWindow w;
    if (!in[0] || !in[1] || (nin > 2 && !in[2]))
        return 0;
    TensorType xt = *imp_type(im, in[0]), wt = *imp_type(im, in[1]);
    int64_t g = imp_attr_i(im, "group", 1);
    if (conv_fits(im, &xt, &wt, g, 0) < 0 || onnx_window_get(im, &xt, wt.dims + 2, &w) < 0)
        return 0;
    return conv_nd(im, in, nin, &w, g);
}

static int
map_conv(Imp *im)
{
    ValueId in[3] = { imp_need(im, 0), imp_need(im, 1), imp_in(im, 2) };
    return out0(im, onnx_conv_node(im, in, in[2] ? 3 : 2));
}

/* ConvTranspose as a stride-1 conv: the input with s-1 zeros inserted after each element
 * of each spatial dim (viewed as [N, C, L1, 1, L2, 1, ...], the unit dims padded to s,
 * viewed back), padded by d(k-1) - pad_begin before and d(k-1) - pad_end + output_padding
 * after (cropped where negative), convolved with the weight flipped spatially and
 * regrouped to [M, C/g, k...]. */
static ValueId
upsample_zeros(Imp *im, ValueId x, const OnnxWindow *w, const int64_t *before,
               const int64_t *after)
{
    TensorType t = *imp_type(im, x);
    int nsp = w->nsp, r = 2 + nsp;
    int64_t dz[KILN_MAX_RANK] = { t.dims[0], t.dims[1] }, du[5] = { t.dims[0], t.dims[1] };
    Attr p, sl;
    ir_attr_default(OP_PAD, &p);
    p.pad.rank = 2 + 2 * nsp;
    for (int i = 0; i < nsp; i++) {
        dz[2 + 2 * i] = t.dims[2 + i];
        dz[3 + 2 * i] = 1;
        p.pad.after[3 + 2 * i] = w->stride[i] - 1;
        du[2 + i] = t.dims[2 + i] * w->stride[i];
    }
    x = imp_reshape(im, emit_attr(im, OP_PAD, &p, imp_reshape(im, x, 2 + 2 * nsp, dz)), r, du);
    ir_attr_default(OP_PAD, &p);
    ir_attr_default(OP_SLICE, &sl);
    p.pad.rank = sl.slice.rank = r;
    for (int i = 0; i < r; i++)
        sl.slice.end[i] = du[i], sl.slice.step[i] = 1;
    for (int i = 0; i < nsp; i++) {
        int64_t b = before[i], e = after[i] - (w->stride[i] - 1);   /* s - 1 zeros trail */
        p.pad.before[2 + i] = b > 0 ? b : 0;
        p.pad.after[2 + i] = e > 0 ? e : 0;
        sl.slice.start[2 + i] = b < 0 ? -b : 0;
        sl.slice.end[2 + i] = du[2 + i] - (e < 0 ? -e : 0);
    }
    return emit_attr(im, OP_PAD, &p, emit_attr(im, OP_SLICE, &sl, x));
}

/* W [C, M/g, k...] -> [M, C/g, k...], flipped in every spatial dim. */
static ValueId
transpose_weight(Imp *im, ValueId wv, int64_t g)
{
    TensorType t = *imp_type(im, wv);
    int r = t.rank, perm[KILN_MAX_RANK] = { 0, 2, 1 };
    int64_t c = t.dims[0], mg = t.dims[1];
    int64_t dg[KILN_MAX_RANK] = { g, c / g, mg }, dm[KILN_MAX_RANK] = { g * mg, c / g };
    Attr sl;
    for (int i = 2; i < r; i++) {
        dg[i + 1] = dm[i] = t.dims[i];
        perm[i + 1] = i + 1;
    }
    wv = imp_reshape(im, imp_transpose(im, imp_reshape(im, wv, r + 1, dg), r + 1, perm), r, dm);
    ir_attr_default(OP_SLICE, &sl);
    sl.slice.rank = r;
    for (int i = 0; i < r; i++) {
        sl.slice.start[i] = i < 2 ? 0 : -1;
        sl.slice.end[i] = i < 2 ? dm[i] : INT64_MIN;
        sl.slice.step[i] = i < 2 ? 1 : -1;
    }
    return emit_attr(im, OP_SLICE, &sl, wv);
}

/* Padding of ConvTranspose per spatial dim: from pads, or derived from output_shape or
 * auto_pad SAME_* (total = s (in - 1) + output_padding + d (k - 1) + 1 - out; a negative
 * total, an output_shape beyond the full result, extends the end like output_padding). */
static int
convt_pads(Imp *im, const TensorType *x, const OnnxWindow *w, const int64_t *opad,
           int64_t *pb, int64_t *pe)
{
    int64_t shape[3];
    const char *ap = imp_attr_s(im, "auto_pad", "NOTSET");
    int has_shape = imp_attr(im, "output_shape") != NULL, upper = !strcmp(ap, "SAME_UPPER");
    int same = upper || !strcmp(ap, "SAME_LOWER");
    if (onnx_attr_spatial(im, "output_shape", w->nsp, shape, 0) < 0)
        return -1;
    for (int i = 0; i < w->nsp; i++) {
        int64_t in = x->dims[2 + i], full = w->stride[i] * (in - 1) + opad[i] +
                     (w->kernel[i] - 1) * w->dil[i] + 1;
        pb[i] = w->pb[i], pe[i] = w->pe[i];
        if (!has_shape && !same)
            continue;
        int64_t total = full - (has_shape ? shape[i] : in * w->stride[i]);
        pb[i] = total < 0 ? 0 : upper ? total / 2 : total - total / 2;
        pe[i] = total - pb[i];         /* < 0: extra zeros at the end, as output_padding */
    }
    return 0;
}

static int
map_conv_transpose(Imp *im)
{
    ValueId x = imp_need(im, 0), wv = imp_need(im, 1), b = imp_in(im, 2);
    OnnxWindow w, cw;
    int64_t opad[3], pb[3], pe[3], before[3], after[3];
    if (!x || !wv)
        return -1;
    TensorType xt = *imp_type(im, x), wt = *imp_type(im, wv);
    int64_t g = imp_attr_i(im, "group", 1);
    if (conv_fits(im, &xt, &wt, g, 1) < 0 || onnx_window_get(im, &xt, wt.dims + 2, &w) < 0 ||
        onnx_attr_spatial(im, "output_padding", w.nsp, opad, 0) < 0 ||
        convt_pads(im, &xt, &w, opad, pb, pe) < 0)
        return -1;
    cw = w;
    for (int i = 0; i < w.nsp; i++) {
        if (w.stride[i] > 64 || w.dil[i] > 64)
            return imp_unsupported(im, "ConvTranspose: strides and dilations must be 1..64");
        before[i] = w.dil[i] * (w.kernel[i] - 1) - pb[i];
        after[i] = w.dil[i] * (w.kernel[i] - 1) - pe[i] + opad[i];
        cw.stride[i] = 1;
        cw.pb[i] = cw.pe[i] = 0;
    }
    ValueId in[3] = { upsample_zeros(im, x, &w, before, after), transpose_weight(im, wv, g),
                      b };
    return out0(im, conv_nd(im, in, b ? 3 : 2, &cw, g));
}

/* GlobalAveragePool / GlobalMaxPool over every dim after N, C (kept as size 1). */
static int
map_global_pool(Imp *im)
{
    ValueId x = imp_need(im, 0);
    int64_t axes[KILN_MAX_RANK];
    if (!x)
        return -1;
    int r = rank_of(im, x);
    if (r < 3)
        return imp_fail(im, "%s: expected rank >= 3, got %d", im->node->op_type, r);
    if (r == 4 && im->row->op == OP_REDUCE_MEAN)
        return out0(im, imp_emit1(im, OP_GLOBAL_AVGPOOL, x));
    for (int i = 2; i < r; i++)
        axes[i - 2] = i;
    return out0(im, imp_reduce(im, im->row->op, x, r - 2, axes, 1));
}

/* ------------------------------------------------------------------ normalisation */

static int
map_softmax(Imp *im)
{
    ValueId x = imp_need(im, 0);
    Attr a;
    if (!x)
        return -1;
    const TensorType *t = imp_type(im, x);
    int64_t axis = imp_attr_i(im, "axis", im->opset < 13 ? 1 : -1);
    if (norm_axis(im, &axis, t->rank) < 0)
        return -1;
    ir_attr_default(im->row->op, &a);
    a.axis.axis = (int)axis;
    if (im->opset >= 13 || axis == t->rank - 1)
        return out0(im, emit_attr(im, im->row->op, &a, x));
    /* before opset 13 the op works on the input coerced to 2-D at axis */
    int64_t outer = 1, inner = 1, flat[2];
    for (int i = 0; i < t->rank; i++)
        *(i < axis ? &outer : &inner) *= t->dims[i];
    TensorType orig = *t;
    flat[0] = outer;
    flat[1] = inner;
    a.axis.axis = 1;
    ValueId y = emit_attr(im, im->row->op, &a, imp_reshape(im, x, 2, flat));
    return out0(im, imp_reshape(im, y, orig.rank, orig.dims));
}

/* Training-mode BatchNormalization (opset 14+): y normalises with the batch mean and
 * population variance over every axis but 1; results 1 and 2 are the running statistics
 * in[3..4] * momentum + batch statistic * (1 - momentum), as the ONNX reference. */
static int
batchnorm_train(Imp *im, ValueId *in, const Attr *a)
{
    int64_t axes[KILN_MAX_RANK], c = imp_type(im, in[0])->dims[1];
    int r = rank_of(im, in[0]), n = 0;
    double mom = imp_attr_f(im, "momentum", 0.9);
    for (int i = 0; i < r; i++)
        if (i != 1)
            axes[n++] = i;
    ValueId mean = imp_reduce(im, OP_REDUCE_MEAN, in[0], n, axes, 1);
    ValueId d = imp_emit2(im, OP_SUB, in[0], mean);
    ValueId var = imp_reduce(im, OP_REDUCE_MEAN, imp_emit2(im, OP_MUL, d, d), n, axes, 1);
    ValueId bn[5] = { in[0], in[1], in[2], imp_reshape(im, mean, 1, &c),
                      imp_reshape(im, var, 1, &c) };
    if (!bn[3] || !bn[4] || out0(im, imp_emit(im, OP_BATCHNORM, a, 5, bn)) < 0)
        return -1;
    for (int k = 1; k <= 2; k++) {
        if (!imp_out_used(im, k))
            continue;
        ValueId run = imp_emit2(im, OP_ADD,
                                imp_emit2(im, OP_MUL, in[2 + k], imp_scalar(im, DT_F32, mom)),
                                imp_emit2(im, OP_MUL, bn[2 + k],
                                          imp_scalar(im, DT_F32, 1 - mom)));
        if (!run || imp_set_out(im, k, run) < 0)
            return -1;
    }
    return 0;
}

static int
map_batchnorm(Imp *im)
{
    ValueId in[5];
    Attr a;
    for (int k = 0; k < 5; k++)
        if (!(in[k] = imp_need(im, k)))
            return -1;
    int train = im->opset >= 14 && imp_attr_i(im, "training_mode", 0) != 0;
    for (int k = 1; k < imp_nout(im); k++)
        if (imp_out_used(im, k) && (!train || k > 2))
            return imp_unsupported(im, "BatchNormalization: result %d is only defined in "
                                   "training mode, which kiln supports from opset 14", k);
    if (imp_attr_i(im, "spatial", 1) != 1)
        return imp_unsupported(im, "BatchNormalization: spatial = 0 is not supported");
    if (rank_of(im, in[0]) < 2)
        return imp_fail(im, "BatchNormalization: expected rank >= 2, got %d",
                        rank_of(im, in[0]));
    ir_attr_default(OP_BATCHNORM, &a);
    a.norm.eps = (float)imp_attr_f(im, "epsilon", 1e-5);
    a.norm.axis = 1;
    if (train)
        return batchnorm_train(im, in, &a);
    return out0(im, imp_emit(im, OP_BATCHNORM, &a, 5, in));
}

/* mean and 1/sqrt(var + eps) over axes [from, rank), keepdims; *d = x - mean */
static int
moments(Imp *im, ValueId x, int from, double eps, ValueId *mean, ValueId *d, ValueId *inv)
{
    int64_t axes[KILN_MAX_RANK];
    int r = rank_of(im, x);
    for (int i = from; i < r; i++)
        axes[i - from] = i;
    *mean = imp_reduce(im, OP_REDUCE_MEAN, x, r - from, axes, 1);
    *d = imp_emit2(im, OP_SUB, x, *mean);
    ValueId var = imp_reduce(im, OP_REDUCE_MEAN, imp_emit2(im, OP_MUL, *d, *d), r - from, axes, 1);
    *inv = imp_emit1(im, OP_RSQRT, imp_emit2(im, OP_ADD, var, imp_scalar(im, DT_F32, eps)));
    return *inv ? 0 : -1;
}

static int
same_dims(const TensorType *p, const TensorType *x, int from)
{
    if (p->rank != x->rank - from)
        return 0;
    return memcmp(p->dims, x->dims + from, (size_t)p->rank * sizeof(int64_t)) == 0;
}

static int
map_layernorm(Imp *im)
{
    ValueId x = imp_need(im, 0), scale = imp_need(im, 1), bias = imp_in(im, 2);
    if (!x || !scale)
        return -1;
    const TensorType *t = imp_type(im, x);
    int64_t axis = imp_attr_i(im, "axis", -1);
    double eps = imp_attr_f(im, "epsilon", 1e-5);
    if (norm_axis(im, &axis, t->rank) < 0)
        return -1;
    int exact = same_dims(imp_type(im, scale), t, (int)axis) &&
                (!bias || same_dims(imp_type(im, bias), t, (int)axis));
    if (exact && !imp_out_used(im, 1) && !imp_out_used(im, 2)) {
        ValueId in[3] = { x, scale, bias };
        Attr a;
        ir_attr_default(OP_LAYERNORM, &a);
        a.norm.eps = (float)eps;
        a.norm.axis = (int)axis;
        return out0(im, imp_emit(im, OP_LAYERNORM, &a, bias ? 3 : 2, in));
    }
    ValueId mean, d, inv;
    if (moments(im, x, (int)axis, eps, &mean, &d, &inv) < 0)
        return -1;
    ValueId y = imp_emit2(im, OP_MUL, imp_emit2(im, OP_MUL, d, inv), scale);
    if (bias)
        y = imp_emit2(im, OP_ADD, y, bias);
    if (out0(im, y) < 0 || imp_set_out(im, 1, mean) < 0)
        return -1;
    return imp_set_out(im, 2, inv);
}

/* InstanceNormalization: per (n, c) moments over the spatial dims; scale, B of shape [C] */
static int
map_instancenorm(Imp *im)
{
    ValueId x = imp_need(im, 0), s = imp_need(im, 1), b = imp_need(im, 2), mean, d, inv;
    if (!x || !s || !b)
        return -1;
    int r = rank_of(im, x);
    if (r < 3)
        return imp_fail(im, "InstanceNormalization: expected rank >= 3, got %d", r);
    int64_t cdims[KILN_MAX_RANK];
    cdims[0] = imp_type(im, x)->dims[1];
    for (int i = 1; i < r - 1; i++)
        cdims[i] = 1;
    if (moments(im, x, 2, imp_attr_f(im, "epsilon", 1e-5), &mean, &d, &inv) < 0)
        return -1;
    ValueId y = imp_emit2(im, OP_MUL, imp_emit2(im, OP_MUL, d, inv),
                          imp_reshape(im, s, r - 1, cdims));
    return out0(im, imp_emit2(im, OP_ADD, y, imp_reshape(im, b, r - 1, cdims)));
}

/* ------------------------------------------------------------------ data movement */

static int
map_reshape(Imp *im)
{
    int64_t shape[KILN_MAX_RANK];
    int n;
    ValueId x = imp_need(im, 0);
    if (!x || imp_const_ints(im, 1, shape, KILN_MAX_RANK, &n) < 0)
        return -1;
    /* resolve ONNX's 0 here: kiln's reshape copies a 0 only for a non-empty input */
    const TensorType *t = imp_type(im, x);
    int allowzero = imp_attr_i(im, "allowzero", 0) != 0;
    for (int i = 0; i < n; i++) {
        if (shape[i] != 0 || allowzero)
            continue;
        if (i >= t->rank)
            return imp_fail(im, "Reshape: shape[%d] = 0 copies a dim that the rank-%d input "
                            "lacks", i, t->rank);
        shape[i] = t->dims[i];
    }
    return out0(im, imp_reshape(im, x, n, shape));
}

static int
map_flatten(Imp *im)
{
    ValueId x = imp_need(im, 0);
    Attr a;
    if (!x)
        return -1;
    int64_t axis = imp_attr_i(im, "axis", 1);
    int r = rank_of(im, x);
    if (axis < -r || axis > r)
        return imp_fail(im, "Flatten: axis %lld out of range for rank %d", (long long)axis, r);
    ir_attr_default(OP_FLATTEN, &a);
    a.axis.axis = (int)(axis < 0 ? axis + r : axis);
    return out0(im, emit_attr(im, OP_FLATTEN, &a, x));
}

static int
map_transpose(Imp *im)
{
    ValueId x = imp_need(im, 0);
    int64_t perm[KILN_MAX_RANK];
    int p[KILN_MAX_RANK];
    if (!x)
        return -1;
    int n = imp_attr_ints(im, "perm", perm, KILN_MAX_RANK);
    if (n < 0)
        return -1;
    if (n == 0) {
        Attr a;
        ir_attr_default(OP_TRANSPOSE, &a);
        return out0(im, emit_attr(im, OP_TRANSPOSE, &a, x));
    }
    for (int i = 0; i < n; i++)
        p[i] = (int)(perm[i] < -64 || perm[i] > 64 ? 64 : perm[i]);
    return out0(im, imp_transpose(im, x, n, p));
}

static int
map_concat(Imp *im)
{
    int n = imp_nin(im);
    ValueId in[256];
    Attr a;
    if (n < 1 || n > 256)
        return imp_unsupported(im, "Concat: %d operands, expected 1..256", n);
    for (int k = 0; k < n; k++)
        if (!(in[k] = imp_need(im, k)))
            return -1;
    int64_t axis = imp_attr_i(im, "axis", 0);
    if (norm_axis(im, &axis, rank_of(im, in[0])) < 0)
        return -1;
    ir_attr_default(OP_CONCAT, &a);
    a.axis.axis = (int)axis;
    return out0(im, imp_emit(im, OP_CONCAT, &a, n, in));
}

static int
map_split(Imp *im)
{
    ValueId x = imp_need(im, 0), out[KILN_MAX_SPLIT];
    int64_t sizes[KILN_MAX_SPLIT];
    int n = imp_nout(im), ns = 0;
    Attr a;
    if (!x)
        return -1;
    if (n < 1 || n > KILN_MAX_SPLIT)
        return imp_unsupported(im, "Split: %d results, at most %d supported", n, KILN_MAX_SPLIT);
    if (im->opset < 13)
        ns = imp_attr_ints(im, "split", sizes, KILN_MAX_SPLIT);
    else if (imp_in(im, 1) && imp_const_ints(im, 1, sizes, KILN_MAX_SPLIT, &ns) < 0)
        return -1;
    if (ns < 0)
        return -1;
    if (ns && ns != n)
        return imp_fail(im, "Split: %d sizes for %d results", ns, n);
    int64_t axis = imp_attr_i(im, "axis", 0);
    if (norm_axis(im, &axis, rank_of(im, x)) < 0)
        return -1;
    ir_attr_default(OP_SPLIT, &a);
    a.split.axis = (int)axis;
    a.split.n = n;
    for (int i = 0; i < ns; i++) {
        if (sizes[i] < 0)
            return imp_fail(im, "Split: part %d has size %lld, expected >= 0", i,
                            (long long)sizes[i]);
        a.split.size[i] = sizes[i];
    }
    if (imp_emit_n(im, OP_SPLIT, &a, 1, &x, n, out) < 0)
        return -1;
    for (int i = 0; i < n; i++)
        if (imp_set_out(im, i, out[i]) < 0)
            return -1;
    return 0;
}

/* Slice parameters: from attributes before opset 10, from constant operands after. */
static int
slice_params(Imp *im, int64_t *st, int64_t *en, int64_t *ax, int64_t *sp, int *n, int *nax)
{
    int m = KILN_MAX_RANK, n2 = 0, n3 = 0;
    if (im->opset < 10) {
        *n = imp_attr_ints(im, "starts", st, m);
        n2 = imp_attr_ints(im, "ends", en, m);
        *nax = imp_attr_ints(im, "axes", ax, m);
        for (int i = 0; i < m; i++)
            sp[i] = 1;
        return *n < 0 || n2 < 0 || *nax < 0 ? -1 : (n2 != *n ? imp_fail(im, "Slice: %d starts, "
                                                 "%d ends", *n, n2) : 0);
    }
    if (imp_const_ints(im, 1, st, m, n) < 0 || imp_const_ints(im, 2, en, m, &n2) < 0)
        return -1;
    *nax = 0;
    if (imp_in(im, 3) && imp_const_ints(im, 3, ax, m, nax) < 0)
        return -1;
    for (int i = 0; i < m; i++)
        sp[i] = 1;
    if (imp_in(im, 4) && imp_const_ints(im, 4, sp, m, &n3) < 0)
        return -1;
    if (n2 != *n || (*nax && *nax != *n) || (n3 && n3 != *n))
        return imp_fail(im, "Slice: starts, ends, axes and steps differ in length");
    return 0;
}

static int
map_slice(Imp *im)
{
    ValueId x = imp_need(im, 0);
    int64_t st[KILN_MAX_RANK], en[KILN_MAX_RANK], ax[KILN_MAX_RANK], sp[KILN_MAX_RANK];
    int n, nax, seen[KILN_MAX_RANK] = { 0 };
    Attr a;
    if (!x || slice_params(im, st, en, ax, sp, &n, &nax) < 0)
        return -1;
    const TensorType *t = imp_type(im, x);
    ir_attr_default(OP_SLICE, &a);
    a.slice.rank = t->rank;
    for (int i = 0; i < t->rank; i++) {
        a.slice.start[i] = 0;
        a.slice.end[i] = t->dims[i];
        a.slice.step[i] = 1;
    }
    for (int i = 0; i < n; i++) {
        int64_t axis = nax ? ax[i] : i;
        if (norm_axis(im, &axis, t->rank) < 0)
            return -1;
        if (seen[axis]++)
            return imp_fail(im, "Slice: axis %lld given twice", (long long)axis);
        if (sp[i] == 0)
            return imp_fail(im, "Slice: step 0 on axis %lld", (long long)axis);
        a.slice.start[axis] = st[i];
        a.slice.end[axis] = en[i];
        a.slice.step[axis] = sp[i];      /* an empty range gives a 0 dim */
    }
    return out0(im, emit_attr(im, OP_SLICE, &a, x));
}

static int
map_pad(Imp *im)
{
    ValueId x = imp_need(im, 0);
    int64_t pads[2 * KILN_MAX_RANK];
    int n;
    double value = 0;
    Attr a;
    if (!x)
        return -1;
    const char *mode = imp_attr_s(im, "mode", "constant");
    int gather = strcmp(mode, "edge") == 0 || strcmp(mode, "reflect") == 0;
    if (!gather && strcmp(mode, "constant") != 0)
        return imp_unsupported(im, "Pad: mode '%s' is not supported", mode);
    if (im->opset < 11) {
        n = imp_attr_ints(im, "pads", pads, 2 * KILN_MAX_RANK);
        value = imp_attr_f(im, "value", 0.0);
        if (n < 0)
            return -1;
    } else if (imp_const_ints(im, 1, pads, 2 * KILN_MAX_RANK, &n) < 0 ||
               (imp_in(im, 2) && imp_const_float(im, 2, &value) < 0)) {
        return -1;
    }
    int r = rank_of(im, x);
    if (n != 2 * r)
        return imp_fail(im, "Pad: %d pads for rank %d, expected %d", n, r, 2 * r);
    ir_attr_default(OP_PAD, &a);
    a.pad.rank = r;
    a.pad.value = (float)value;
    for (int i = 0; i < r; i++) {
        if (pads[i] < 0 || pads[i + r] < 0)
            return imp_unsupported(im, "Pad: negative pads (cropping) are not supported");
        a.pad.before[i] = pads[i];
        a.pad.after[i] = pads[i + r];
    }
    if (gather)
        return out0(im, onnx_pad_gather(im, x, &a.pad, mode[0] == 'r'));
    return out0(im, emit_attr(im, OP_PAD, &a, x));
}

static int
map_gather(Imp *im)
{
    ValueId in[2] = { imp_need(im, 0), imp_need(im, 1) };
    Attr a;
    if (!in[0] || !in[1])
        return -1;
    int64_t axis = imp_attr_i(im, "axis", 0);
    if (norm_axis(im, &axis, rank_of(im, in[0])) < 0)
        return -1;
    ir_attr_default(OP_GATHER, &a);
    a.axis.axis = (int)axis;
    return out0(im, imp_emit(im, OP_GATHER, &a, 2, in));
}

/* Squeeze/Unsqueeze axes: attribute before opset 13, constant operand 1 after. */
static int
get_axes(Imp *im, int64_t *axes, int *n)
{
    if (im->opset < 13) {
        *n = imp_attr_ints(im, "axes", axes, KILN_MAX_RANK);
        return *n < 0 ? -1 : 0;
    }
    *n = 0;
    return imp_in(im, 1) ? imp_const_ints(im, 1, axes, KILN_MAX_RANK, n) : 0;
}

static int
map_squeeze(Imp *im)
{
    ValueId x = imp_need(im, 0);
    int64_t axes[KILN_MAX_RANK], dims[KILN_MAX_RANK];
    int n, drop[KILN_MAX_RANK] = { 0 }, r2 = 0;
    if (!x || get_axes(im, axes, &n) < 0)
        return -1;
    const TensorType *t = imp_type(im, x);
    for (int i = 0; i < n; i++) {
        if (norm_axis(im, &axes[i], t->rank) < 0)
            return -1;
        if (t->dims[axes[i]] != 1)
            return imp_fail(im, "Squeeze: dim %lld has size %lld, expected 1",
                            (long long)axes[i], (long long)t->dims[axes[i]]);
        drop[axes[i]] = 1;
    }
    for (int i = 0; i < t->rank; i++)
        if (!(n ? drop[i] : t->dims[i] == 1))
            dims[r2++] = t->dims[i];
    return out0(im, imp_reshape(im, x, r2, dims));
}

static int
map_unsqueeze(Imp *im)
{
    ValueId x = imp_need(im, 0);
    int64_t axes[KILN_MAX_RANK], dims[KILN_MAX_RANK];
    int n, ins[KILN_MAX_RANK] = { 0 };
    if (!x || get_axes(im, axes, &n) < 0)
        return -1;
    const TensorType *t = imp_type(im, x);
    int r = t->rank + n;
    if (r > KILN_MAX_RANK)
        return imp_unsupported(im, "Unsqueeze: result rank %d exceeds %d", r, KILN_MAX_RANK);
    for (int i = 0; i < n; i++) {
        if (norm_axis(im, &axes[i], r) < 0)
            return -1;
        if (ins[axes[i]]++)
            return imp_fail(im, "Unsqueeze: axis %lld given twice", (long long)axes[i]);
    }
    for (int i = 0, k = 0; i < r; i++)
        dims[i] = ins[i] ? 1 : t->dims[k++];
    return out0(im, imp_reshape(im, x, r, dims));
}

static int
map_expand(Imp *im)
{
    ValueId x = imp_need(im, 0);
    int64_t shape[KILN_MAX_RANK];
    int n;
    if (!x || imp_const_ints(im, 1, shape, KILN_MAX_RANK, &n) < 0)
        return -1;
    for (int i = 0; i < n; i++)
        if (shape[i] < 1)
            return imp_unsupported(im, "Expand: shape entry %lld is not supported",
                                   (long long)shape[i]);
    /* where(all-true of `shape`, x, x) broadcasts x against shape */
    TensorType ct = ir_type_make(DT_BOOL, n, shape);
    int64_t numel;
    if (ir_type_numel(&ct, &numel) < 0 || numel > ONNX_CONST_ELEMS)
        return imp_unsupported(im, "Expand: target shape too large");
    uint8_t *ones = arena_alloc(im->g->arena, (size_t)numel);
    memset(ones, 1, (size_t)numel);
    return out0(im, imp_where(im, imp_const(im, &ct, ones), x, x));
}

/* DepthToSpace / SpaceToDepth as reshape, transpose, reshape (NCHW, blocksize b) */
static int
map_depth_space(Imp *im)
{
    ValueId x = imp_need(im, 0);
    if (!x)
        return -1;
    const TensorType *t = imp_type(im, x);
    int64_t b = imp_attr_i(im, "blocksize", 0), n, c, h, w;
    if (t->rank != 4)
        return imp_fail(im, "%s: expected a 4-D input, got rank %d", im->node->op_type, t->rank);
    n = t->dims[0], c = t->dims[1], h = t->dims[2], w = t->dims[3];
    if (b < 1 || b > 4096)
        return imp_fail(im, "%s: blocksize %lld out of range", im->node->op_type, (long long)b);
    if (strcmp(im->node->op_type, "SpaceToDepth") == 0) {
        if (h % b || w % b)
            return imp_fail(im, "SpaceToDepth: blocksize %lld does not divide %lldx%lld",
                            (long long)b, (long long)h, (long long)w);
        int64_t d6[6] = { n, c, h / b, b, w / b, b }, d4[4] = { n, c * b * b, h / b, w / b };
        static const int perm[6] = { 0, 3, 5, 1, 2, 4 };
        ValueId y = imp_transpose(im, imp_reshape(im, x, 6, d6), 6, perm);
        return out0(im, imp_reshape(im, y, 4, d4));
    }
    if (c % (b * b))
        return imp_fail(im, "DepthToSpace: %lld channels not divisible by blocksize^2",
                        (long long)c);
    int crd = strcmp(imp_attr_s(im, "mode", "DCR"), "CRD") == 0;
    int64_t dcr[6] = { n, b, b, c / (b * b), h, w }, cr[6] = { n, c / (b * b), b, b, h, w };
    int64_t d4[4] = { n, c / (b * b), h * b, w * b };
    static const int pdcr[6] = { 0, 3, 4, 1, 5, 2 }, pcrd[6] = { 0, 1, 4, 2, 5, 3 };
    ValueId y = imp_reshape(im, x, 6, crd ? cr : dcr);
    return out0(im, imp_reshape(im, imp_transpose(im, y, 6, crd ? pcrd : pdcr), 4, d4));
}

/* ------------------------------------------------------------------ constants, shapes */

static int
map_shape(Imp *im)
{
    ValueId x = imp_need(im, 0);
    if (!x)
        return -1;
    const TensorType *t = imp_type(im, x);
    int64_t start = imp_attr_i(im, "start", 0), end = imp_attr_i(im, "end", t->rank);
    if (start < 0)
        start += t->rank;
    if (end < 0)
        end += t->rank;
    start = start < 0 ? 0 : start > t->rank ? t->rank : start;
    end = end < 0 ? 0 : end > t->rank ? t->rank : end;
    if (end <= start)
        return imp_unsupported(im, "Shape: the result would be empty; kiln tensors have no "
                               "empty dims");
    int64_t len = end - start;
    TensorType rt = ir_type_make(DT_I64, 1, &len);
    return out0(im, imp_const(im, &rt, t->dims + start));
}

static int
map_size(Imp *im)
{
    ValueId x = imp_need(im, 0);
    int64_t n;
    if (!x)
        return -1;
    KILN_ASSERT(ir_type_numel(imp_type(im, x), &n) == 0);
    TensorType rt = ir_type_make(DT_I64, 0, NULL);
    return out0(im, imp_const(im, &rt, &n));
}

static int
map_constant(Imp *im)
{
    const Onnx__AttributeProto *a;
    if (im->node->n_attribute != 1)
        return imp_fail(im, "Constant: expected exactly one attribute, got %zu",
                        im->node->n_attribute);
    a = im->node->attribute[0];
    const char *name = a->name ? a->name : "";
    if (strcmp(name, "value") == 0 && a->t)
        return out0(im, onnx_tensor_const(im, a->t, "Constant value"));
    if (strcmp(name, "value_float") == 0)
        return out0(im, imp_scalar(im, DT_F32, a->f));
    if (strcmp(name, "value_int") == 0)
        return out0(im, imp_scalar(im, DT_I64, (double)a->i));
    if ((strcmp(name, "value_floats") == 0 && a->n_floats) ||
        (strcmp(name, "value_ints") == 0 && a->n_ints)) {
        int f = name[6] == 'f';
        int64_t n = f ? (int64_t)a->n_floats : (int64_t)a->n_ints;
        TensorType t = ir_type_make(f ? DT_F32 : DT_I64, 1, &n);
        return out0(im, imp_const(im, &t, f ? (const void *)a->floats : (const void *)a->ints));
    }
    return imp_unsupported(im, "Constant: attribute '%s' is not supported", name);
}

static int
map_constant_of_shape(Imp *im)
{
    int64_t shape[KILN_MAX_RANK], numel = 1;
    int n;
    if (imp_const_ints(im, 0, shape, KILN_MAX_RANK, &n) < 0)
        return -1;
    const Onnx__AttributeProto *va = imp_attr(im, "value");
    IrTensor v = { .type = ir_type_make(DT_F32, 0, NULL) };
    float zero = 0;
    char err[300];
    if (va && va->t && onnx_tensor_read(va->t, &v, err, sizeof err) < 0)
        return imp_unsupported(im, "ConstantOfShape: value: %s", err);
    size_t es = ir_dtype_size(v.type.dtype);
    const void *src = va && va->t ? v.data : &zero;
    int64_t vn = 1;
    if (va && va->t && (ir_type_numel(&v.type, &vn) < 0 || vn != 1 || v.type.rank > 1)) {
        char buf[200];
        ir_type_str(&v.type, buf, sizeof buf);
        ir_tensor_free(&v);
        return imp_fail(im, "ConstantOfShape: value: expected one element, got %s", buf);
    }
    for (int i = 0; i < n; i++)
        if (shape[i] < 0) {
            ir_tensor_free(&v);
            return imp_fail(im, "ConstantOfShape: shape[%d] = %lld, expected >= 0", i,
                            (long long)shape[i]);
        }
    for (int i = 0; i < n && numel >= 0; i++)     /* a 0 dim: an empty result */
        if (__builtin_mul_overflow(numel, shape[i], &numel) || numel > ONNX_CONST_ELEMS)
            numel = -1;
    if (numel < 0) {
        ir_tensor_free(&v);
        return imp_unsupported(im, "ConstantOfShape: the result would exceed %d elements",
                               ONNX_CONST_ELEMS);
    }
    TensorType rt = ir_type_make(v.type.dtype, n, shape);
    char *buf = arena_alloc(im->g->arena, (size_t)numel * es);
    for (int64_t i = 0; i < numel; i++)
        memcpy(buf + (size_t)i * es, src, es);
    ir_tensor_free(&v);
    return out0(im, imp_const(im, &rt, buf));
}

/* Dropout's keep mask for shape t: all true unless ratio > 0 (training), when it is drawn
 * here, at compile time, from the seed attribute as the ONNX reference draws it: NumPy's
 * RandomState(seed).uniform(0, 1, shape) >= ratio.  Arena-owned; NULL on error. */
static uint8_t *
dropout_mask(Imp *im, const TensorType *t, double ratio, int64_t *numel)
{
    KILN_ASSERT(ir_type_numel(t, numel) == 0);
    if (*numel > ONNX_CONST_ELEMS) {
        imp_unsupported(im, "Dropout: a mask of %lld elements is above the %d kiln "
                        "generates", (long long)*numel, ONNX_CONST_ELEMS);
        return NULL;
    }
    uint8_t *keep = arena_alloc(im->g->arena, (size_t)*numel);
    memset(keep, 1, (size_t)*numel);
    if (ratio == 0)
        return keep;
    if (!imp_attr(im, "seed")) {
        imp_unsupported(im, "training-mode Dropout without a seed: kiln draws the mask at "
                        "compile time and needs the seed attribute");
        return NULL;
    }
    int64_t seed = imp_attr_i(im, "seed", 0);
    if (seed < 0 || seed > (int64_t)UINT32_MAX) {
        imp_unsupported(im, "Dropout: expected a seed in [0, 4294967295] (NumPy's "
                        "RandomState), got %lld", (long long)seed);
        return NULL;
    }
    OnnxMt r;
    onnx_mt_seed(&r, (uint32_t)seed);
    for (int64_t i = 0; i < *numel; i++)
        keep[i] = onnx_mt_uniform(&r) >= ratio;
    return keep;
}

/* Dropout: the identity in inference mode or with ratio 0; in training mode
 * x * (mask / (1 - ratio)) with the mask drawn at compile time (dropout_mask).  Result 1
 * is the mask as a bool constant. */
static int
map_dropout(Imp *im)
{
    ValueId x = imp_need(im, 0), y;
    double train = 0, ratio;           /* ratio: the one applied, 0 in inference mode */
    int64_t n;
    if (!x)
        return -1;
    if (im->opset >= 12 && imp_in(im, 2) && imp_const_float(im, 2, &train) < 0)
        return -1;
    if (im->opset < 10 && imp_out_used(im, 1))
        return imp_unsupported(im, "Dropout: the mask result before opset 10 (of the "
                               "input's type, not bool) is not supported");
    ratio = train != 0 ? 0.5 : 0;
    if (train != 0 && imp_in(im, 1) && imp_const_float(im, 1, &ratio) < 0)
        return -1;
    if (!(ratio >= 0 && ratio < 1))
        return imp_fail(im, "Dropout: expected a ratio in [0, 1), got %g", ratio);
    TensorType t = *imp_type(im, x);
    int need = ratio > 0 || imp_out_used(im, 1);
    uint8_t *keep = need ? dropout_mask(im, &t, ratio, &n) : NULL;
    if (need && !keep)
        return -1;
    y = x;
    if (ratio > 0) {
        float *w = arena_alloc(im->g->arena, (size_t)n * sizeof *w);
        for (int64_t i = 0; i < n; i++)
            w[i] = keep[i] ? (float)(1 / (1 - ratio)) : 0.0f;
        TensorType wt = ir_type_make(DT_F32, t.rank, t.dims);
        y = imp_emit2(im, OP_MUL, x, imp_const(im, &wt, w));
    }
    if (out0(im, y) < 0)
        return -1;
    if (!imp_out_used(im, 1))
        return 0;
    TensorType mt = ir_type_make(DT_BOOL, t.rank, t.dims);
    return imp_set_out(im, 1, imp_const(im, &mt, keep));
}

/* ------------------------------------------------------------------ reductions */

static int
reduce_axes(Imp *im, ValueId x, int64_t *axes, int *n, int *identity)
{
    *identity = 0;
    if (im->opset >= 13 && strcmp(im->node->op_type, "ReduceSum") == 0) {
        *n = 0;
        if (imp_in(im, 1) && imp_const_ints(im, 1, axes, KILN_MAX_RANK, n) < 0)
            return -1;
        *identity = *n == 0 && imp_attr_i(im, "noop_with_empty_axes", 0);
    } else {
        *n = imp_attr_ints(im, "axes", axes, KILN_MAX_RANK);
        if (*n < 0)
            return -1;
    }
    for (int i = 0; i < *n; i++)
        if (norm_axis(im, &axes[i], rank_of(im, x)) < 0)
            return -1;
    return 0;
}

/* ReduceSum/Prod/Mean/Max/Min directly; L1, L2, SumSquare, LogSum, LogSumExp decomposed. */
static int
map_reduce(Imp *im)
{
    ValueId x = imp_need(im, 0);
    int64_t axes[KILN_MAX_RANK];
    int n, identity;
    if (!x || reduce_axes(im, x, axes, &n, &identity) < 0)
        return -1;
    if (identity)
        return imp_set_out(im, 0, x);
    const char *t = im->node->op_type + 6;            /* after "Reduce" */
    int keep = imp_attr_i(im, "keepdims", 1) != 0;
    if (strcmp(t, "L1") == 0)
        x = imp_emit1(im, OP_ABS, x);
    else if (strcmp(t, "L2") == 0 || strcmp(t, "SumSquare") == 0)
        x = imp_emit2(im, OP_MUL, x, x);
    ValueId m = 0;
    if (strcmp(t, "LogSumExp") == 0) {      /* log(sum(exp(x - m))) + m, m = max: no overflow */
        m = imp_reduce(im, OP_REDUCE_MAX, x, n, axes, 1);
        x = imp_emit1(im, OP_EXP, imp_emit2(im, OP_SUB, x, m));
        if (!keep)
            m = imp_reduce(im, OP_REDUCE_MAX, imp_need(im, 0), n, axes, 0);
    }
    ValueId y = imp_reduce(im, im->row->op, x, n, axes, keep);
    if (strcmp(t, "L2") == 0)
        y = imp_emit1(im, OP_SQRT, y);
    else if (strcmp(t, "LogSum") == 0 || strcmp(t, "LogSumExp") == 0)
        y = imp_emit1(im, OP_LOG, y);
    if (m)
        y = imp_emit2(im, OP_ADD, y, m);
    return out0(im, y);
}

/* ArgMax directly; ArgMin as argmax(-x), whose first maximum is x's first minimum. */
static int
map_argmax(Imp *im)
{
    ValueId x = imp_need(im, 0);
    Attr a;
    if (!x)
        return -1;
    int last = imp_attr_i(im, "select_last_index", 0) != 0;
    int64_t axis = imp_attr_i(im, "axis", 0);
    if (norm_axis(im, &axis, rank_of(im, x)) < 0)
        return -1;
    int64_t n = imp_type(im, x)->dims[axis];
    if (strcmp(im->node->op_type, "ArgMin") == 0)
        x = imp_emit1(im, OP_NEG, x);
    if (last) {                        /* the last maximum is n - 1 - the first of reversed x */
        ir_attr_default(OP_SLICE, &a);
        a.slice.rank = rank_of(im, x);
        for (int i = 0; i < a.slice.rank; i++) {
            a.slice.start[i] = i == axis ? -1 : 0;
            a.slice.end[i] = i == axis ? INT64_MIN : imp_type(im, x)->dims[i];
            a.slice.step[i] = i == axis ? -1 : 1;
        }
        x = emit_attr(im, OP_SLICE, &a, x);
    }
    ir_attr_default(OP_ARGMAX, &a);
    a.reduce.naxes = 1;
    a.reduce.axes[0] = (int)axis;
    a.reduce.keepdims = imp_attr_i(im, "keepdims", 1) != 0;
    ValueId y = emit_attr(im, OP_ARGMAX, &a, x);
    if (last)
        y = imp_emit2(im, OP_SUB, imp_scalar(im, DT_I64, (double)(n - 1)), y);
    return out0(im, y);
}

/* ------------------------------------------------------------------ THE table */

static const OnnxOpRow op_table[] = {
    /* type, opsets since..until, mapper, kiln op, constant operands, element types, note */
    { "Abs",                6, ONNX_OPSET_MAX, map_unary,        OP_ABS,          0, T_F | T_SI, "abs" },
    { "Acos",               7, ONNX_OPSET_MAX, map_unary,        OP_ACOS,         0, T_F,   "acos" },
    { "Acosh",              9, ONNX_OPSET_MAX, map_unary,        OP_ACOSH,        0, T_F,   "acosh" },
    { "Add",                7, ONNX_OPSET_MAX, map_binary,       OP_ADD,          0, T_N,   "add" },
    { "And",                7, ONNX_OPSET_MAX, onnx_map_logic,        0,               0, T_B,   "where(a, b, false)" },
    { "ArgMax",             7, ONNX_OPSET_MAX, map_argmax,       OP_ARGMAX,       0, T_N,   "argmax (last index: of the reversed slice)" },
    { "ArgMin",             7, ONNX_OPSET_MAX, map_argmax,       OP_ARGMAX,       0, T_F,   "argmax(neg(x)) (last index: of the reversed slice)" },
    { "Asin",               7, ONNX_OPSET_MAX, map_unary,        OP_ASIN,         0, T_F,   "asin" },
    { "Asinh",              9, ONNX_OPSET_MAX, map_unary,        OP_ASINH,        0, T_F,   "asinh" },
    { "Atan",               7, ONNX_OPSET_MAX, map_unary,        OP_ATAN,         0, T_F,   "atan" },
    { "Atanh",              9, ONNX_OPSET_MAX, map_unary,        OP_ATANH,        0, T_F,   "atanh" },
    { "AveragePool",        7, ONNX_OPSET_MAX, onnx_map_pool,    OP_AVGPOOL,      0, T_F,   "avgpool; 1-D as height 1; 3-D as avgpool over (H, W) on an [N, C D, H, W] view, then over D (exact divisors); ceil_mode as extra end padding (with count_include_pad = 1, the pads as an explicit zero pad so that only the extra is not counted); no dilations" },
    { "BatchNormalization", 7, ONNX_OPSET_MAX, map_batchnorm,    OP_BATCHNORM,    0, T_F,   "batchnorm; training_mode (opset 14+): batchnorm with the batch mean and population variance (reduce_mean over all axes but 1), running mean/var = input * momentum + batch statistic * (1 - momentum); before opset 14 inference only" },
    { "Cast",               7, ONNX_OPSET_MAX, map_cast,         OP_CAST,         0, T_ALL, "cast; to f32, i32, i64, i8, u8, bool" },
    { "CastLike",          15, ONNX_OPSET_MAX, map_cast_like,    OP_CAST,         0, T_ALL, "cast" },
    { "Ceil",               6, ONNX_OPSET_MAX, map_unary,        OP_CEIL,         0, T_F,   "ceil" },
    { "Celu",              12, ONNX_OPSET_MAX, onnx_map_celu,         0,               0, T_F,   "where(x > 0, x, alpha (exp(x / alpha) - 1))" },
    { "Clip",               6, ONNX_OPSET_MAX, onnx_map_clip,         OP_CLIP,         6, T_N,   "clip (f32); where/less/greater (integers); min/max constant" },
    { "Compress",           9, ONNX_OPSET_MAX, onnx_map_compress, OP_GATHER,      2, T_ALL, "gather of the true positions (flattened without axis); condition constant" },
    { "Concat",             4, ONNX_OPSET_MAX, map_concat,       OP_CONCAT,       0, T_ALL, "concat" },
    { "Constant",           7, ONNX_OPSET_MAX, map_constant,     OP_CONST,        0, T_ALL, "const; value, value_float(s), value_int(s)" },
    { "ConstantOfShape",    9, ONNX_OPSET_MAX, map_constant_of_shape, OP_CONST,   1, T_ALL, "const; shape constant" },
    { "Conv",               7, ONNX_OPSET_MAX, map_conv,         OP_CONV2D,       0, T_F,   "conv2d; 1-D as height 1; 3-D as a gather of depth windows with constant indices, transpose and reshape to [N D', C kd, H, W], conv2d, reshape and transpose back" },
    { "ConvTranspose",      7, ONNX_OPSET_MAX, map_conv_transpose, OP_CONV2D,     0, T_F,   "zero insertion (reshape, pad), pad/slice, then as Conv with the flipped, regrouped weight; 1-D, 2-D and 3-D; strides and dilations <= 64" },
    { "Cos",                7, ONNX_OPSET_MAX, map_unary,        OP_COS,          0, T_F,   "cos" },
    { "Cosh",               9, ONNX_OPSET_MAX, map_unary,        OP_COSH,         0, T_F,   "cosh" },
    { "CumSum",            11, ONNX_OPSET_MAX, onnx_map_cumsum,  OP_MATMUL,       2, T_F,   "transpose, matmul with a constant 0/1 triangle, transpose; axis constant (node tests are f64: unit-tested)" },
    { "DepthToSpace",       7, ONNX_OPSET_MAX, map_depth_space,  0,               0, T_ALL, "reshape, transpose, reshape; DCR and CRD" },
    { "DequantizeLinear",  10, ONNX_OPSET_MAX, onnx_map_dequantize, OP_DEQUANTIZE, 6, T_Q,  "dequantize, or (cast(x) - zero) * scale for non-constant x" },
    { "Div",                7, ONNX_OPSET_MAX, map_binary,       OP_DIV,          0, T_N,   "div" },
    { "Dropout",            7, ONNX_OPSET_MAX, map_dropout,      0,               6, T_F,   "identity (inference, ratio 0; mask = all true); training: mul by a constant mask / (1 - ratio) drawn AT COMPILE TIME from the seed attribute as NumPy's RandomState(seed), so every run of a compiled model drops the same elements; needs seed; ratio, training_mode constant" },
    { "DynamicQuantizeLinear", 11, ONNX_OPSET_MAX, onnx_map_dynamic_quantize, OP_QUANTIZE, 0, T_F, "as its function body: range [min(x, 0), max(x, 0)] onto u8, then cast(clip(round(x / scale) + zero))" },
    { "Einsum",            12, ONNX_OPSET_MAX, onnx_map_einsum,  OP_MATMUL,       0, T_F,   "diagonals by gather, reduce_sum of labels used once, batched matmul per operand pair (left to right), transpose, reshape; size-1 broadcasting except of summed labels; ellipsis (node tests are f64: e2e-tested)" },
    { "Elu",                6, ONNX_OPSET_MAX, onnx_map_elu,          0,               0, T_F,   "where(x < 0, alpha (exp(x) - 1), x)" },
    { "Equal",              7, ONNX_OPSET_MAX, map_binary,       OP_EQUAL,        0, T_ALL, "equal" },
    { "Erf",                9, ONNX_OPSET_MAX, map_unary,        OP_ERF,          0, T_F,   "erf" },
    { "Exp",                6, ONNX_OPSET_MAX, map_unary,        OP_EXP,          0, T_F,   "exp" },
    { "Expand",             8, ONNX_OPSET_MAX, map_expand,       0,               2, T_ALL, "where(true of shape, x, x); shape constant" },
    { "EyeLike",            9, ONNX_OPSET_MAX, onnx_map_eye_like, OP_CONST,       0, T_ALL, "const (static shape)" },
    { "Flatten",            1, ONNX_OPSET_MAX, map_flatten,      OP_FLATTEN,      0, T_ALL, "flatten" },
    { "Floor",              6, ONNX_OPSET_MAX, map_unary,        OP_FLOOR,        0, T_F,   "floor" },
    { "Gather",             7, ONNX_OPSET_MAX, map_gather,       OP_GATHER,       0, T_ALL, "gather" },
    { "GatherElements",    11, ONNX_OPSET_MAX, onnx_map_gather_elements, OP_GATHER, 0, T_ALL, "gather from the flattened data at index * stride + constant offsets" },
    { "GatherND",          11, ONNX_OPSET_MAX, onnx_map_gather_nd, OP_GATHER,     0, T_ALL, "gather along the flattened leading (batch_dims + K) dims at flat rows computed from the index tuples (where for negative indices); out-of-range indices: import error when constant, run-time gather error otherwise" },
    { "Gemm",               7, ONNX_OPSET_MAX, map_gemm,         OP_MATMUL,       0, T_F,   "matmul + mul/add for alpha, beta, C" },
    { "GlobalAveragePool",  1, ONNX_OPSET_MAX, map_global_pool,  OP_REDUCE_MEAN,  0, T_F,   "global_avgpool (4-D), else reduce_mean" },
    { "GlobalMaxPool",      1, ONNX_OPSET_MAX, map_global_pool,  OP_REDUCE_MAX,   0, T_F,   "reduce_max over the spatial dims" },
    { "Greater",            7, ONNX_OPSET_MAX, map_binary,       OP_GREATER,      0, T_N,   "greater" },
    { "GreaterOrEqual",    12, ONNX_OPSET_MAX, map_cmp_or_equal, OP_LESS,         0, T_N,   "equal(less(a, b), false)" },
    { "Hardmax",            7, ONNX_OPSET_MAX, onnx_map_hardmax, OP_ARGMAX,       0, T_F,   "where(equal(argmax(x), ramp), 1, 0) (2-D coercion before opset 13)" },
    { "HardSigmoid",        6, ONNX_OPSET_MAX, onnx_map_hard_sigmoid, 0,               0, T_F,   "clip(alpha x + beta, 0, 1)" },
    { "HardSwish",         14, ONNX_OPSET_MAX, map_unary,        OP_HARDSWISH,    0, T_F,   "hardswish" },
    { "Identity",           1, ONNX_OPSET_MAX, map_identity,     0,               0, T_ALL, "no node" },
    { "InstanceNormalization", 6, ONNX_OPSET_MAX, map_instancenorm, 0,            0, T_F,   "reduce_mean, sub, mul, rsqrt, add" },
    { "IsInf",             10, ONNX_OPSET_MAX, onnx_map_isinf,        OP_EQUAL,        0, T_F,   "equal(abs(x), inf), or one sign" },
    { "IsNaN",              9, ONNX_OPSET_MAX, onnx_map_isnan,        OP_EQUAL,        0, T_F,   "equal(equal(x, x), false)" },
    { "LayerNormalization", 17, ONNX_OPSET_MAX, map_layernorm,   OP_LAYERNORM,    0, T_F,   "layernorm; decomposed when Mean/InvStdDev are used" },
    { "LeakyRelu",          6, ONNX_OPSET_MAX, onnx_map_leaky_relu,   OP_LEAKY_RELU,   0, T_F,   "leaky_relu" },
    { "Less",               7, ONNX_OPSET_MAX, map_binary,       OP_LESS,         0, T_N,   "less" },
    { "LessOrEqual",       12, ONNX_OPSET_MAX, map_cmp_or_equal, OP_GREATER,      0, T_N,   "equal(greater(a, b), false)" },
    { "Log",                6, ONNX_OPSET_MAX, map_unary,        OP_LOG,          0, T_F,   "log" },
    { "LogSoftmax",         1, ONNX_OPSET_MAX, map_softmax,      OP_LOG_SOFTMAX,  0, T_F,   "log_softmax (2-D coercion before opset 13)" },
    { "LRN",                1, ONNX_OPSET_MAX, onnx_map_lrn,     OP_REDUCE_SUM,   0, T_F,   "x / pow(bias + alpha / size * reduce_sum over a zero-padded channel window of x x, beta); [N, C, ...] of rank 3..7" },
    { "MatMul",             1, ONNX_OPSET_MAX, map_matmul,       OP_MATMUL,       0, T_F,   "matmul" },
    { "MatMulInteger",     10, ONNX_OPSET_MAX, onnx_map_matmul_integer, OP_MATMUL, 0, T_Q,  "cast, sub, matmul, cast to i32; inner dim <= 258 (exact in f32)" },
    { "Max",                8, ONNX_OPSET_MAX, onnx_map_variadic,     0,               0, T_N,   "where(less(a, b) or isnan(b), b, a), pairwise" },
    { "MaxPool",            8, ONNX_OPSET_MAX, onnx_map_pool,    OP_MAXPOOL,      0, T_F | T_Q, "f32 without dilations: maxpool (1-D as height 1; 3-D as maxpool over (H, W), then over D); dilations or i8/u8: per axis pad with the lowest value, gather the windows with constant indices, reduce_max; Indices (storage_order 0 or 1): gather all window taps, argmax of the first maximum outside the padding, constant table to the flat input index; ceil_mode as extra end padding" },
    { "Mean",               8, ONNX_OPSET_MAX, onnx_map_variadic,     0,               0, T_F,   "add pairwise, div" },
    { "MeanVarianceNormalization", 9, ONNX_OPSET_MAX, onnx_map_mvn, OP_REDUCE_MEAN, 0, T_F, "(x - reduce_mean(x)) / (sqrt(reduce_mean(d d)) + 1e-9) over axes (default [0, 2, 3])" },
    { "Min",                8, ONNX_OPSET_MAX, onnx_map_variadic,     0,               0, T_N,   "where(greater(a, b) or isnan(b), b, a), pairwise" },
    { "Mod",               10, ONNX_OPSET_MAX, onnx_map_mod,     OP_MOD,          0, T_N,   "mod (sign of the divisor), or fmod (sign of the dividend) when fmod = 1, which f32 requires; an integer zero divisor gives 0" },
    { "Mul",                7, ONNX_OPSET_MAX, map_binary,       OP_MUL,          0, T_N,   "mul" },
    { "Neg",                6, ONNX_OPSET_MAX, map_unary,        OP_NEG,          0, T_F | T_SI, "neg" },
    { "NegativeLogLikelihoodLoss", 12, ONNX_OPSET_MAX, onnx_map_nll_loss, OP_REDUCE_SUM, 0, T_F, "one-hot where, reduce_sum, neg, gather of weights; reductions none/sum/mean" },
    { "Not",                1, ONNX_OPSET_MAX, onnx_map_not,          0,               0, T_B,   "equal(x, false)" },
    { "OneHot",             9, ONNX_OPSET_MAX, onnx_map_one_hot, OP_EQUAL,        2, T_N,   "where(equal(index, ramp), on, off); depth constant" },
    { "Or",                 7, ONNX_OPSET_MAX, onnx_map_logic,        0,               0, T_B,   "where(a, true, b)" },
    { "Pad",                7, ONNX_OPSET_MAX, map_pad,          OP_PAD,          6, T_ALL,   "pad (constant mode); gather with constant indices (edge, reflect); pads >= 0, constant" },
    { "Pow",                7, ONNX_OPSET_MAX, onnx_map_pow,          OP_POW,          0, T_F | TM(DT_I32) | TM(DT_I64), "pow; f32 base: integer exponents cast to f32; integer base and exponent: integer pow (wraps; a negative exponent gives 0 unless the base is 1 or -1); integer base, f32 exponent: integer pow when the exponent is integral, else cast(pow(f32(x), y)), exact while x and the result are within 2^24" },
    { "PRelu",              7, ONNX_OPSET_MAX, onnx_map_prelu,        0,               0, T_F,   "where(x < 0, x slope, x)" },
    { "QLinearConv",       10, ONNX_OPSET_MAX, onnx_map_qlinear_conv, OP_CONV2D,  0xf6, T_Q, "dequantize, conv2d, quantize; per-tensor x and y scales" },
    { "QLinearMatMul",     10, ONNX_OPSET_MAX, onnx_map_qlinear_matmul, OP_MATMUL, 0xf6, T_Q, "dequantize, matmul, quantize; per-tensor a and y scales" },
    { "QuantizeLinear",    10, ONNX_OPSET_MAX, onnx_map_quantize, OP_QUANTIZE,    0, T_F,   "quantize (scale, zero point constant, 8-bit); else cast(clip(round(x / scale) + zero)), per tensor or per axis" },
    { "Range",             11, ONNX_OPSET_MAX, onnx_map_range,   OP_CONST,        7, T_N,   "const; start, limit, delta constant" },
    { "Reciprocal",         6, ONNX_OPSET_MAX, onnx_map_reciprocal,   OP_DIV,          0, T_F,   "div(1, x)" },
    { "ReduceL1",           1, ONNX_OPSET_MAX, map_reduce,       OP_REDUCE_SUM,   0, T_F,   "reduce_sum(abs(x))" },
    { "ReduceL2",           1, ONNX_OPSET_MAX, map_reduce,       OP_REDUCE_SUM,   0, T_F,   "sqrt(reduce_sum(x x))" },
    { "ReduceLogSum",       1, ONNX_OPSET_MAX, map_reduce,       OP_REDUCE_SUM,   0, T_F,   "log(reduce_sum(x))" },
    { "ReduceLogSumExp",    1, ONNX_OPSET_MAX, map_reduce,       OP_REDUCE_SUM,   0, T_F,   "log(reduce_sum(exp(x - max))) + max" },
    { "ReduceMax",          1, ONNX_OPSET_MAX, map_reduce,       OP_REDUCE_MAX,   0, T_N,   "reduce_max" },
    { "ReduceMean",         1, ONNX_OPSET_MAX, map_reduce,       OP_REDUCE_MEAN,  0, T_F,   "reduce_mean" },
    { "ReduceMin",          1, ONNX_OPSET_MAX, map_reduce,       OP_REDUCE_MIN,   0, T_N,   "reduce_min" },
    { "ReduceProd",         1, ONNX_OPSET_MAX, map_reduce,       OP_REDUCE_PROD,  0, T_N,   "reduce_prod" },
    { "ReduceSum",          1, ONNX_OPSET_MAX, map_reduce,       OP_REDUCE_SUM,   2, T_N,   "reduce_sum; axes constant" },
    { "ReduceSumSquare",    1, ONNX_OPSET_MAX, map_reduce,       OP_REDUCE_SUM,   0, T_N,   "reduce_sum(x x)" },
    { "Relu",               6, ONNX_OPSET_MAX, map_unary,        OP_RELU,         0, T_F,   "relu" },
    { "Reshape",            7, ONNX_OPSET_MAX, map_reshape,      OP_RESHAPE,      2, T_ALL, "reshape; shape constant, allowzero 0 or 1" },
    { "Resize",            11, ONNX_OPSET_MAX, onnx_map_resize,  OP_GATHER,    0xe, T_ALL, "per axis: gathers with constant indices times constant weights; nearest, linear, cubic; scales/sizes constant; tf_crop_and_resize: roi constant, extrapolation_value by where with constant per-axis masks, with sizes (scales only for a roi of width 1)" },
    { "ReverseSequence",   10, ONNX_OPSET_MAX, onnx_map_reverse_sequence, OP_GATHER, 2, T_ALL, "gather over the flattened (batch, time) dims with a constant index table; sequence_lens constant" },
    { "Round",             11, ONNX_OPSET_MAX, map_unary,        OP_ROUND,        0, T_F,   "round (half to even)" },
    { "Selu",               6, ONNX_OPSET_MAX, onnx_map_elu,          0,               0, T_F,   "gamma where(x < 0, alpha (exp(x) - 1), x)" },
    { "Shape",              1, ONNX_OPSET_MAX, map_shape,        OP_CONST,        0, T_ALL, "const (static shapes)" },
    { "Shrink",             9, ONNX_OPSET_MAX, onnx_map_shrink,       0,               0, T_F,   "where(x < -lambd, x + bias, where(x > lambd, x - bias, 0))" },
    { "Sigmoid",            6, ONNX_OPSET_MAX, map_unary,        OP_SIGMOID,      0, T_F,   "sigmoid" },
    { "Sign",               9, ONNX_OPSET_MAX, onnx_map_sign,         0,               0, T_F | T_SI, "where(x > 0, 1, where(x < 0, -1, x * 0))" },
    { "Sin",                7, ONNX_OPSET_MAX, map_unary,        OP_SIN,          0, T_F,   "sin" },
    { "Sinh",               9, ONNX_OPSET_MAX, map_unary,        OP_SINH,         0, T_F,   "sinh" },
    { "Size",               1, ONNX_OPSET_MAX, map_size,         OP_CONST,        0, T_ALL, "const (static shapes)" },
    { "Slice",              7, ONNX_OPSET_MAX, map_slice,        OP_SLICE,        30, T_ALL, "slice; starts, ends, axes, steps constant" },
    { "Softmax",            1, ONNX_OPSET_MAX, map_softmax,      OP_SOFTMAX,      0, T_F,   "softmax (2-D coercion before opset 13)" },
    { "SoftmaxCrossEntropyLoss", 12, ONNX_OPSET_MAX, onnx_map_sce_loss, OP_LOG_SOFTMAX, 0, T_F, "log_softmax, then as NegativeLogLikelihoodLoss" },
    { "Softplus",           1, ONNX_OPSET_MAX, onnx_map_softplus,     0,               0, T_F,   "where(x > 20, x, log(exp(x) + 1))" },
    { "Softsign",           1, ONNX_OPSET_MAX, onnx_map_softsign,     0,               0, T_F,   "x / (1 + abs(x))" },
    { "SpaceToDepth",       7, ONNX_OPSET_MAX, map_depth_space,  0,               0, T_ALL, "reshape, transpose, reshape" },
    { "Split",              7, ONNX_OPSET_MAX, map_split,        OP_SPLIT,        2, T_ALL, "split; sizes constant, at most 16 parts" },
    { "Sqrt",               6, ONNX_OPSET_MAX, map_unary,        OP_SQRT,         0, T_F,   "sqrt" },
    { "Squeeze",            7, ONNX_OPSET_MAX, map_squeeze,      OP_RESHAPE,      2, T_ALL, "reshape; axes constant" },
    { "Sub",                7, ONNX_OPSET_MAX, map_binary,       OP_SUB,          0, T_N,   "sub" },
    { "Sum",                8, ONNX_OPSET_MAX, onnx_map_variadic,     0,               0, T_N,   "add, pairwise" },
    { "Tan",                7, ONNX_OPSET_MAX, map_unary,        OP_TAN,          0, T_F,   "tan" },
    { "Tanh",               6, ONNX_OPSET_MAX, map_unary,        OP_TANH,         0, T_F,   "tanh" },
    { "ThresholdedRelu",   10, ONNX_OPSET_MAX, onnx_map_thresholded_relu, 0,           0, T_F,   "where(x > alpha, x, 0)" },
    { "Tile",               7, ONNX_OPSET_MAX, onnx_map_tile,    OP_WHERE,        2, T_ALL, "reshape, where against a constant, reshape; rank <= 4, repeats constant" },
    { "Transpose",          1, ONNX_OPSET_MAX, map_transpose,    OP_TRANSPOSE,    0, T_ALL, "transpose" },
    { "Trilu",             14, ONNX_OPSET_MAX, onnx_map_trilu,   OP_WHERE,        2, T_ALL, "where(constant mask, x, 0); k constant" },
    { "Unsqueeze",          7, ONNX_OPSET_MAX, map_unsqueeze,    OP_RESHAPE,      2, T_ALL, "reshape; axes constant" },
    { "Upsample",           7, 9,              onnx_map_upsample, OP_GATHER,      2, T_ALL, "as Resize, asymmetric coordinates, nearest rounds down" },
    { "Where",              9, ONNX_OPSET_MAX, map_where,        OP_WHERE,        0, T_ALL, "where" },
    { "Xor",                7, ONNX_OPSET_MAX, onnx_map_logic,        0,               0, T_B,   "equal(equal(a, b), false)" },
};

enum { NROWS = (int)(sizeof op_table / sizeof op_table[0]) };

const OnnxOpRow *
onnx_op_find(const char *type, int64_t opset)
{
    for (int i = 0; i < NROWS; i++)
        if (strcmp(op_table[i].type, type) == 0 && opset >= op_table[i].since &&
            opset <= op_table[i].until)
            return &op_table[i];
    return NULL;
}

const OnnxOpRow *
onnx_op_any(const char *type)
{
    for (int i = 0; i < NROWS; i++)
        if (strcmp(op_table[i].type, type) == 0)
            return &op_table[i];
    return NULL;
}

int
onnx_op_claimed(const char *domain, const char *op_type, int64_t opset)
{
    if (domain && domain[0] && strcmp(domain, "ai.onnx") != 0)
        return 0;
    return onnx_op_find(op_type, opset) != NULL;
}

/* Names of the dtypes in mask, ", "-joined. */
static const char *
types_str(unsigned mask, char *buf, size_t len)
{
    size_t n = 0;
    buf[0] = 0;
    for (int t = DT_NONE + 1; t < DT_COUNT && n < len; t++)
        if (mask & TM(t))
            n += (size_t)snprintf(buf + n, len - n, "%s%s", n ? ", " : "", ir_dtype_name((DType)t));
    return buf;
}

int
onnx_op_check_types(Imp *im)
{
    ValueId x = imp_in(im, 0);
    char buf[64];
    if (!x || !im->row->types)
        return 0;
    DType dt = imp_type(im, x)->dtype;
    if (im->row->types & TM(dt))
        return 0;
    return imp_unclaimed(im, "%s: element type %s is not supported (expected %s)",
                           im->node->op_type, ir_dtype_name(dt),
                           types_str(im->row->types, buf, sizeof buf));
}

void
onnx_op_list(FILE *out)
{
    char buf[64];
    fprintf(out, "| ONNX op | opsets | element types | kiln mapping and limits |\n");
    fprintf(out, "|---|---|---|---|\n");
    for (int i = 0; i < NROWS; i++) {
        const OnnxOpRow *r = &op_table[i];
        fprintf(out, "| %s | %d-%d | %s | %s |\n", r->type, r->since, r->until,
                types_str(r->types, buf, sizeof buf), r->note);
    }
}

/* ir_edit_distance of a and b lowercased (ONNX op names are CamelCase). */
static int
distance(const char *a, const char *b)
{
    char la[48], lb[48];
    if (strlen(a) >= sizeof la || strlen(b) >= sizeof lb)
        return 99;
    for (size_t i = 0; i <= strlen(a); i++)
        la[i] = (char)tolower((unsigned char)a[i]);
    for (size_t i = 0; i <= strlen(b); i++)
        lb[i] = (char)tolower((unsigned char)b[i]);
    return ir_edit_distance(la, lb);
}

void
onnx_op_nearest(const char *type, char *buf, size_t len)
{
    int best[3] = { -1, -1, -1 }, dist[3] = { 999, 999, 999 };
    for (int i = 0; i < NROWS; i++) {
        int d = distance(type, op_table[i].type);
        for (int k = 0; k < 3; k++)
            if (d < dist[k]) {
                for (int m = 2; m > k; m--) {
                    dist[m] = dist[m - 1];
                    best[m] = best[m - 1];
                }
                dist[k] = d;
                best[k] = i;
                break;
            }
    }
    size_t n = 0;
    buf[0] = 0;
    for (int k = 0; k < 3 && best[k] >= 0 && n < len; k++)
        n += (size_t)snprintf(buf + n, len - n, "%s%s", k ? ", " : "", op_table[best[k]].type);
}
