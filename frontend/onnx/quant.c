/* frontend/onnx/quant.c — mappers for ONNX quantization ops (QuantizeLinear,
 * DequantizeLinear, QLinearMatMul, QLinearConv, MatMulInteger); rows in ops.c's table.
 *
 * Approach: scales and zero points must be constants and become kiln QuantParams.
 * QuantizeLinear is kiln's quantize (its result carries the parameters in its type).
 * DequantizeLinear is kiln's dequantize when its operand already carries the same
 * parameters (a QuantizeLinear result) or is a constant (re-typed in place, so int8
 * weights stay int8); a plain integer tensor such as a graph input is dequantized as
 * (cast(x) - zero) * scale, which is exact for 8-bit values.  The QLinear ops are
 * dequantize -> float op -> quantize; MatMulInteger is an f32 matmul of exact small
 * integers, accepted only while every sum stays below 2^24. */
#include <math.h>
#include <string.h>
#include "onnx_internal.h"
#include "util.h"

/* Reads scale (operand ks, f32) and zero point (operand kz, i8/u8, optional = 0 of type u8,
 * or i8 when t, the tensor being dequantized, is i8) as
 * constants into q; per-axis along `axis` of a tensor of type t when scale is 1-D. */
static int
qparams(Imp *im, int ks, int kz, const TensorType *t, int64_t axis, QuantParams *q)
{
    ValueId s = imp_need(im, ks), z = imp_in(im, kz);
    if (!s)
        return -1;
    const TensorType *st = imp_type(im, s), *zt = z ? imp_type(im, z) : NULL;
    const void *sp = imp_const_data(im, s), *zp = z ? imp_const_data(im, z) : NULL;
    int64_t n;
    if (!sp || (z && !zp))
        return imp_unsupported(im, "%s: scale and zero point must be constants",
                               im->node->op_type);
    if (st->dtype != DT_F32 || st->rank > 1 || ir_type_numel(st, &n) < 0)
        return imp_fail(im, "%s: scale must be an f32 scalar or 1-D tensor", im->node->op_type);
    if (zt && (zt->dtype != DT_I8 && zt->dtype != DT_U8))
        return imp_unsupported(im, "%s: zero point of type %s is not supported (i8, u8)",
                               im->node->op_type, ir_dtype_name(zt->dtype));
    if (zt && (zt->rank != st->rank || (st->rank == 1 && zt->dims[0] != n)))
        return imp_fail(im, "%s: scale and zero point shapes differ", im->node->op_type);
    memset(q, 0, sizeof *q);
    q->bits = 8;
    /* without a zero point: u8 when quantizing, the operand's own type when dequantizing */
    q->is_signed = zt ? zt->dtype == DT_I8 : t->dtype == DT_I8;
    q->gran = n == 1 ? QG_TENSOR : QG_AXIS;    /* a 1-element 1-D scale is per tensor */
    if (q->gran == QG_AXIS) {
        if (axis < -t->rank || axis >= t->rank)
            return imp_fail(im, "%s: axis %lld out of range for rank %d", im->node->op_type,
                            (long long)axis, t->rank);
        q->axis = (int)(axis < 0 ? axis + t->rank : axis);
        if (t->dims[q->axis] != n)
            return imp_fail(im, "%s: %lld scales for dim %d of size %lld", im->node->op_type,
                            (long long)n, q->axis, (long long)t->dims[q->axis]);
    }
    q->nscale = (int)n;
    q->scale = arena_alloc(im->g->arena, (size_t)n * sizeof *q->scale);
    q->zero = arena_alloc(im->g->arena, (size_t)n * sizeof *q->zero);
    memcpy(q->scale, sp, (size_t)n * sizeof *q->scale);
    for (int64_t i = 0; i < n; i++) {
        q->zero[i] = !zp ? 0 : q->is_signed ? ((const int8_t *)zp)[i] : ((const uint8_t *)zp)[i];
        if (!(q->scale[i] > 0) || !isfinite(q->scale[i]))
            return imp_unsupported(im, "%s: scale %g is not supported (positive and finite "
                                   "only)", im->node->op_type, (double)q->scale[i]);
    }
    return 0;
}

static int
quant_same(const QuantParams *a, const QuantParams *b)
{
    return a->bits == b->bits && a->is_signed == b->is_signed && a->gran == b->gran &&
           (a->gran == QG_TENSOR || a->axis == b->axis) && a->nscale == b->nscale &&
           memcmp(a->scale, b->scale, (size_t)a->nscale * sizeof *a->scale) == 0 &&
           memcmp(a->zero, b->zero, (size_t)a->nscale * sizeof *a->zero) == 0;
}

/* scale or zero point as a constant broadcasting against rank-r x along q->axis */
static ValueId
qconst(Imp *im, const QuantParams *q, int rank, int zero)
{
    int64_t dims[KILN_MAX_RANK];
    float *v = arena_alloc(im->g->arena, (size_t)q->nscale * sizeof *v);
    int r = 0;
    for (int i = 0; i < q->nscale; i++)
        v[i] = zero ? (float)q->zero[i] : q->scale[i];
    if (q->gran == QG_AXIS) {
        r = rank - q->axis;
        dims[0] = q->nscale;
        for (int i = 1; i < r; i++)
            dims[i] = 1;
    }
    TensorType t = ir_type_make(DT_F32, r, dims);
    return imp_const(im, &t, v);
}

/* x (i8/u8, plain or quantized) dequantized with q to f32. */
static ValueId
dequant(Imp *im, ValueId x, const QuantParams *q)
{
    const TensorType *t = imp_type(im, x);
    if (t->quant && quant_same(t->quant, q))
        return imp_emit1(im, OP_DEQUANTIZE, x);
    if (t->quant) {
        imp_unsupported(im, "%s: operand quantized with other parameters", im->node->op_type);
        return 0;
    }
    if (t->dtype != DT_I8 && t->dtype != DT_U8) {
        imp_unsupported(im, "%s: operand of type %s is not supported (i8, u8)",
                        im->node->op_type, ir_dtype_name(t->dtype));
        return 0;
    }
    if (t->dtype != (q->is_signed ? DT_I8 : DT_U8)) {
        imp_fail(im, "%s: operand of type %s does not match its zero point (%s)",
                 im->node->op_type, ir_dtype_name(t->dtype), q->is_signed ? "i8" : "u8");
        return 0;
    }
    NodeId def = ir_value(im->g, x)->def;
    if (def && ir_node(im->g, def)->op == OP_CONST) {      /* keep the bytes 8-bit */
        TensorType qt = *t;
        QuantParams *c = arena_alloc(im->g->arena, sizeof *c);
        *c = *q;
        qt.quant = c;
        StorageId s = ir_node(im->g, def)->attr.cnst.storage;
        ValueId qx = ir_node_out(im->g, ir_const_new(im->g, &qt, s, im->loc), 0);
        return imp_emit1(im, OP_DEQUANTIZE, qx);
    }
    Attr a;
    ir_attr_default(OP_CAST, &a);
    a.cast.to = DT_F32;
    ValueId f = imp_emit(im, OP_CAST, &a, 1, &x);
    f = imp_emit2(im, OP_SUB, f, qconst(im, q, t->rank, 1));
    return imp_emit2(im, OP_MUL, f, qconst(im, q, t->rank, 0));
}

static ValueId
quant(Imp *im, ValueId x, const QuantParams *q)
{
    Attr a;
    ir_attr_default(OP_QUANTIZE, &a);
    a.quant.q = *q;
    return imp_emit(im, OP_QUANTIZE, &a, 1, &x);
}

/* v (a scale or zero point of n values for axis of x) shaped to broadcast against x: a
 * scalar stays; n values along axis become [1, .., n, .., 1].  0 (reported) on a mismatch. */
static ValueId
along_axis(Imp *im, ValueId v, const TensorType *x, int64_t axis, unsigned types)
{
    const TensorType *t = imp_type(im, v);
    int64_t n, dims[KILN_MAX_RANK];
    if (!(types >> t->dtype & 1) || t->rank > 1 || ir_type_numel(t, &n) < 0) {
        imp_fail(im, "QuantizeLinear: expected a %s scalar or 1-D tensor, got %s",
                 types == 1u << DT_F32 ? "f32" : "i8/u8", ir_dtype_name(t->dtype));
        return 0;
    }
    if (n == 1)
        return v;
    if (axis < -x->rank || axis >= x->rank || x->dims[axis < 0 ? axis + x->rank : axis] != n) {
        imp_fail(im, "QuantizeLinear: %lld scales do not fit axis %lld of %d-D input",
                 (long long)n, (long long)axis, x->rank);
        return 0;
    }
    for (int i = 0; i < x->rank; i++)
        dims[i] = i == (axis < 0 ? axis + x->rank : axis) ? n : 1;
    return imp_reshape(im, v, x->rank, dims);
}

/* cast(clip(round(x / s) + z, lo, hi)) to u8 (or z's type): the spec's QuantizeLinear
 * arithmetic in f32, rounding half to even; s and z broadcast against x, z may be 0. */
static ValueId
quant_values(Imp *im, ValueId x, ValueId s, ValueId z)
{
    DType to = z ? imp_type(im, z)->dtype : DT_U8;
    Attr c, k;
    ir_attr_default(OP_CAST, &c);
    c.cast.to = DT_F32;
    ValueId y = imp_emit1(im, OP_ROUND, imp_emit2(im, OP_DIV, x, s));
    if (z)
        y = imp_emit2(im, OP_ADD, y, imp_emit(im, OP_CAST, &c, 1, &z));
    ir_attr_default(OP_CLIP, &k);
    k.scalar.a = to == DT_U8 ? 0 : -128;
    k.scalar.b = to == DT_U8 ? 255 : 127;
    y = imp_emit(im, OP_CLIP, &k, 1, &y);
    c.cast.to = to;
    return imp_emit(im, OP_CAST, &c, 1, &y);
}

/* QuantizeLinear with a scale or zero point computed at run time (DynamicQuantizeLinear's
 * expansion, or graph inputs), per tensor or per axis. */
static ValueId
quant_dynamic(Imp *im, ValueId x)
{
    const TensorType *xt = imp_type(im, x);
    int64_t axis = imp_attr_i(im, "axis", 1);
    ValueId s = along_axis(im, imp_need(im, 1), xt, axis, 1u << DT_F32), z = imp_in(im, 2);
    if (!s || (z && !(z = along_axis(im, z, xt, axis, 1u << DT_I8 | 1u << DT_U8))))
        return 0;
    return quant_values(im, x, s, z);
}

static ValueId
clip_to(Imp *im, ValueId x, float lo, float hi)
{
    Attr k;
    ir_attr_default(OP_CLIP, &k);
    k.scalar.a = lo;
    k.scalar.b = hi;
    return imp_emit(im, OP_CLIP, &k, 1, &x);
}

/* DynamicQuantizeLinear, as the ONNX function body defines it: the range [min(x) ∧ 0,
 * max(x) ∨ 0] mapped onto u8; scale = range / 255, zero point = round(clip(-min / scale,
 * 0, 255)); y = QuantizeLinear(x, scale, zero point).  An all-zero x (an empty range)
 * gets scale 1, as ONNX Runtime gives (the ONNX reference gives 1 / 255), not 0 / 0. */
int
onnx_map_dynamic_quantize(Imp *im)
{
    ValueId x = imp_need(im, 0);
    if (!x)
        return -1;
    int r = imp_type(im, x)->rank;
    int64_t all[KILN_MAX_RANK];
    for (int i = 0; i < r; i++)
        all[i] = i;
    ValueId lo = clip_to(im, imp_reduce(im, OP_REDUCE_MIN, x, r, all, 0), -INFINITY, 0);
    ValueId hi = clip_to(im, imp_reduce(im, OP_REDUCE_MAX, x, r, all, 0), 0, INFINITY);
    ValueId s = imp_where(im, imp_emit2(im, OP_EQUAL, hi, lo), imp_scalar(im, DT_F32, 1),
                          imp_emit2(im, OP_DIV, imp_emit2(im, OP_SUB, hi, lo),
                                    imp_scalar(im, DT_F32, 255)));
    ValueId zf = imp_emit1(im, OP_ROUND, clip_to(im, imp_emit1(im, OP_NEG,
                                                               imp_emit2(im, OP_DIV, lo, s)),
                                                0, 255));
    Attr c;
    ir_attr_default(OP_CAST, &c);
    c.cast.to = DT_U8;
    ValueId z = imp_emit(im, OP_CAST, &c, 1, &zf);
    ValueId y = z ? quant_values(im, x, s, z) : 0;
    if (!y || imp_set_out(im, 0, y) < 0 || imp_set_out(im, 1, s) < 0)
        return -1;
    return imp_set_out(im, 2, z);
}

int
onnx_map_quantize(Imp *im)
{
    ValueId x = imp_need(im, 0), s = imp_need(im, 1), z = imp_in(im, 2);
    QuantParams q;
    if (x && s && (!imp_const_data(im, s) || (z && !imp_const_data(im, z)))) {
        ValueId y = quant_dynamic(im, x);
        return y ? imp_set_out(im, 0, y) : -1;
    }
    if (!x || qparams(im, 1, 2, imp_type(im, x), imp_attr_i(im, "axis", 1), &q) < 0)
        return -1;
    ValueId y = quant(im, x, &q);
    return y ? imp_set_out(im, 0, y) : -1;
}

int
onnx_map_dequantize(Imp *im)
{
    ValueId x = imp_need(im, 0);
    QuantParams q;
    if (!x || qparams(im, 1, 2, imp_type(im, x), imp_attr_i(im, "axis", 1), &q) < 0)
        return -1;
    ValueId y = dequant(im, x, &q);
    return y ? imp_set_out(im, 0, y) : -1;
}

/* QLinearMatMul(a, as, az, b, bs, bz, ys, yz) = Q(matmul(DQ a, DQ b)) */
int
onnx_map_qlinear_matmul(Imp *im)
{
    ValueId a = imp_need(im, 0), b = imp_need(im, 3);
    QuantParams qa, qb, qy;
    if (!a || !b || qparams(im, 1, 2, imp_type(im, a), -1, &qa) < 0 ||
        qparams(im, 4, 5, imp_type(im, b), -1, &qb) < 0)
        return -1;
    ValueId y = imp_emit2(im, OP_MATMUL, dequant(im, a, &qa), dequant(im, b, &qb));
    if (!y || qparams(im, 6, 7, imp_type(im, y), -1, &qy) < 0)
        return -1;
    if (qa.gran != QG_TENSOR || qy.gran != QG_TENSOR)
        return imp_unsupported(im, "QLinearMatMul: per-axis scales of A or Y are not supported");
    y = quant(im, y, &qy);
    return y ? imp_set_out(im, 0, y) : -1;
}

/* QLinearConv(x, xs, xz, w, ws, wz, ys, yz, B) = Q(conv(DQ x, DQ w) + B xs ws) */
int
onnx_map_qlinear_conv(Imp *im)
{
    ValueId x = imp_need(im, 0), w = imp_need(im, 3), bias = imp_in(im, 8);
    QuantParams qx, qw, qy;
    if (!x || !w || qparams(im, 1, 2, imp_type(im, x), 1, &qx) < 0 ||
        qparams(im, 4, 5, imp_type(im, w), 0, &qw) < 0)
        return -1;
    if (qx.gran != QG_TENSOR)
        return imp_unsupported(im, "QLinearConv: per-axis input scales are not supported");
    ValueId in[3] = { dequant(im, x, &qx), dequant(im, w, &qw), 0 };
    if (bias) {                        /* int32 bias with scale xs * ws[k], zero 0 */
        Attr a;
        ir_attr_default(OP_CAST, &a);
        a.cast.to = DT_F32;
        ValueId bf = imp_emit(im, OP_CAST, &a, 1, &bias);
        float *s = arena_alloc(im->g->arena, (size_t)qw.nscale * sizeof *s);
        for (int i = 0; i < qw.nscale; i++)
            s[i] = qx.scale[0] * qw.scale[i];
        int64_t n = qw.nscale;
        TensorType st = ir_type_make(DT_F32, qw.nscale > 1 ? 1 : 0, &n);
        in[2] = imp_emit2(im, OP_MUL, bf, imp_const(im, &st, s));
    }
    ValueId y = onnx_conv_node(im, in, bias ? 3 : 2);
    if (!y || qparams(im, 6, 7, imp_type(im, y), 1, &qy) < 0)
        return -1;
    if (qy.gran != QG_TENSOR)
        return imp_unsupported(im, "QLinearConv: per-axis output scales are not supported");
    y = quant(im, y, &qy);
    return y ? imp_set_out(im, 0, y) : -1;
}

/* MatMulInteger(a, b, az, bz) = cast(matmul(cast(a) - az, cast(b) - bz), i32), exact in f32
 * while K * 255 * 255 < 2^24. */
int
onnx_map_matmul_integer(Imp *im)
{
    ValueId a = imp_need(im, 0), b = imp_need(im, 1), v[2];
    Attr c;
    if (!a || !b)
        return -1;
    const TensorType *bt = imp_type(im, b);
    int64_t k = bt->rank >= 2 ? bt->dims[bt->rank - 2] : bt->dims[0];
    if (k * 255 * 255 >= (1 << 24))
        return imp_unsupported(im, "MatMulInteger: inner dim %lld is too large for exact f32 "
                               "accumulation (at most 258)", (long long)k);
    ir_attr_default(OP_CAST, &c);
    c.cast.to = DT_F32;
    for (int i = 0; i < 2; i++) {
        ValueId x = i ? b : a, z = imp_in(im, 2 + i);
        DType dt = imp_type(im, x)->dtype;
        if (dt != DT_I8 && dt != DT_U8)
            return imp_unsupported(im, "MatMulInteger: operand of type %s is not supported",
                                   ir_dtype_name(dt));
        if (z && (imp_type(im, z)->dtype != dt || imp_type(im, z)->rank > 1))
            return imp_unsupported(im, "MatMulInteger: zero points must be scalars or 1-D of "
                                   "the operand's type");
        if (z && imp_type(im, z)->rank == 1 && i == 0 && imp_type(im, z)->dims[0] != 1)
            return imp_unsupported(im, "MatMulInteger: per-row zero points of A are not "
                                   "supported");
        v[i] = imp_emit(im, OP_CAST, &c, 1, &x);
        if (z)
            v[i] = imp_emit2(im, OP_SUB, v[i], imp_emit(im, OP_CAST, &c, 1, &z));
    }
    c.cast.to = DT_I32;
    ValueId y = imp_emit2(im, OP_MATMUL, v[0], v[1]);
    y = imp_emit(im, OP_CAST, &c, 1, &y);
    return y ? imp_set_out(im, 0, y) : -1;
}
