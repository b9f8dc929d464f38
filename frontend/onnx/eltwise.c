/* frontend/onnx/eltwise.c — mappers of elementwise ONNX ops that kiln builds from
 * several of its own: logic ops, activations (Elu, Selu, Celu, PRelu, HardSigmoid,
 * Softplus, ...), Clip on integers, Pow with integer exponents, Sign, IsNaN, IsInf,
 * Shrink and the variadic Sum/Mean/Max/Min.  Rows in ops.c's table. */
#include <float.h>
#include <math.h>
#include <string.h>
#include "onnx_internal.h"
#include "util.h"

static ValueId
scalar_like(Imp *im, ValueId like, double v)
{
    return like ? imp_scalar(im, imp_type(im, like)->dtype, v) : 0;
}

static int
out0(Imp *im, ValueId v)
{
    return v ? imp_set_out(im, 0, v) : -1;
}

int
onnx_map_not(Imp *im)
{
    ValueId x = imp_need(im, 0);
    return out0(im, imp_emit2(im, OP_EQUAL, x, scalar_like(im, x, 0)));
}

/* And = where(a, b, false), Or = where(a, true, b), Xor = not(equal(a, b)). */
int
onnx_map_logic(Imp *im)
{
    ValueId a = imp_need(im, 0), b = imp_need(im, 1);
    const char *t = im->node->op_type;
    if (!a || !b)
        return -1;
    if (strcmp(t, "And") == 0)
        return out0(im, imp_where(im, a, b, imp_scalar(im, DT_BOOL, 0)));
    if (strcmp(t, "Or") == 0)
        return out0(im, imp_where(im, a, imp_scalar(im, DT_BOOL, 1), b));
    return out0(im, imp_emit2(im, OP_EQUAL, imp_emit2(im, OP_EQUAL, a, b),
                              imp_scalar(im, DT_BOOL, 0)));
}

int
onnx_map_reciprocal(Imp *im)
{
    ValueId x = imp_need(im, 0);
    return out0(im, imp_emit2(im, OP_DIV, scalar_like(im, x, 1), x));
}

int
onnx_map_leaky_relu(Imp *im)
{
    ValueId x = imp_need(im, 0);
    Attr a;
    ir_attr_default(OP_LEAKY_RELU, &a);
    a.scalar.a = (float)imp_attr_f(im, "alpha", 0.01);
    return out0(im, imp_emit(im, OP_LEAKY_RELU, &a, 1, &x));
}

int
onnx_map_clip(Imp *im)
{
    Attr a;
    double lo = -FLT_MAX, hi = FLT_MAX;
    ir_attr_default(OP_CLIP, &a);
    if (im->opset < 11) {
        lo = imp_attr_f(im, "min", lo);
        hi = imp_attr_f(im, "max", hi);
    } else if ((imp_in(im, 1) && imp_const_float(im, 1, &lo) < 0) ||
               (imp_in(im, 2) && imp_const_float(im, 2, &hi) < 0)) {
        return -1;
    }
    ValueId x = imp_need(im, 0);
    if (x && imp_type(im, x)->dtype != DT_F32) {  /* integers: min(max(x, lo), hi) exactly */
        if (imp_in(im, 1))
            x = imp_where(im, imp_emit2(im, OP_LESS, x, scalar_like(im, x, lo)),
                          scalar_like(im, x, lo), x);
        if (imp_in(im, 2))
            x = imp_where(im, imp_emit2(im, OP_GREATER, x, scalar_like(im, x, hi)),
                          scalar_like(im, x, hi), x);
        return out0(im, x);
    }
    a.scalar.a = (float)lo;
    a.scalar.b = (float)hi;
    return out0(im, imp_emit(im, OP_CLIP, &a, 1, &x));
}

/* HardSigmoid = clip(alpha * x + beta, 0, 1) */
int
onnx_map_hard_sigmoid(Imp *im)
{
    ValueId x = imp_need(im, 0);
    Attr a;
    ir_attr_default(OP_CLIP, &a);
    a.scalar.a = 0;
    a.scalar.b = 1;
    ValueId y = imp_emit2(im, OP_MUL, x, imp_scalar(im, DT_F32, imp_attr_f(im, "alpha", 0.2)));
    y = imp_emit2(im, OP_ADD, y, imp_scalar(im, DT_F32, imp_attr_f(im, "beta", 0.5)));
    return out0(im, imp_emit(im, OP_CLIP, &a, 1, &y));
}

/* Softplus = log(exp(x) + 1), and x itself above 20 where exp would overflow first (the
 * difference, log1p(exp(-x)), is below f32 resolution there); Softsign = x / (1 + |x|) */
int
onnx_map_softplus(Imp *im)
{
    ValueId x = imp_need(im, 0);
    ValueId e = imp_emit1(im, OP_EXP, x);
    ValueId y = imp_emit1(im, OP_LOG, imp_emit2(im, OP_ADD, e, scalar_like(im, x, 1)));
    return out0(im, imp_where(im, imp_emit2(im, OP_GREATER, x, scalar_like(im, x, 20)), x, y));
}

int
onnx_map_softsign(Imp *im)
{
    ValueId x = imp_need(im, 0);
    ValueId d = imp_emit2(im, OP_ADD, imp_emit1(im, OP_ABS, x), scalar_like(im, x, 1));
    return out0(im, imp_emit2(im, OP_DIV, x, d));
}

/* alpha * (exp(x) - 1) */
static ValueId
expm1_scaled(Imp *im, ValueId x, double alpha)
{
    ValueId e = imp_emit2(im, OP_SUB, imp_emit1(im, OP_EXP, x), imp_scalar(im, DT_F32, 1));
    return imp_emit2(im, OP_MUL, e, imp_scalar(im, DT_F32, alpha));
}

/* Elu: x < 0 ? alpha (e^x - 1) : x;  Selu: gamma * (x <= 0 ? alpha (e^x - 1) : x) */
int
onnx_map_elu(Imp *im)
{
    ValueId x = imp_need(im, 0);
    int selu = strcmp(im->node->op_type, "Selu") == 0;
    double alpha = imp_attr_f(im, "alpha", selu ? 1.67326319217681884765625 : 1.0);
    ValueId neg = imp_emit2(im, OP_LESS, x, scalar_like(im, x, 0));
    ValueId y = imp_where(im, neg, expm1_scaled(im, x, alpha), x);
    if (selu) {
        double gamma = imp_attr_f(im, "gamma", 1.05070102214813232421875);
        y = imp_emit2(im, OP_MUL, y, imp_scalar(im, DT_F32, gamma));
    }
    return out0(im, y);
}

/* Celu = max(0, x) + min(0, alpha (exp(x / alpha) - 1)) = x > 0 ? x : alpha (e^(x/a) - 1) */
int
onnx_map_celu(Imp *im)
{
    ValueId x = imp_need(im, 0);
    double alpha = imp_attr_f(im, "alpha", 1.0);
    ValueId xs = imp_emit2(im, OP_DIV, x, scalar_like(im, x, alpha));
    ValueId pos = imp_emit2(im, OP_GREATER, x, scalar_like(im, x, 0));
    return out0(im, imp_where(im, pos, x, expm1_scaled(im, xs, alpha)));
}

int
onnx_map_thresholded_relu(Imp *im)
{
    ValueId x = imp_need(im, 0);
    ValueId c = imp_emit2(im, OP_GREATER, x, scalar_like(im, x, imp_attr_f(im, "alpha", 1.0)));
    return out0(im, imp_where(im, c, x, scalar_like(im, x, 0)));
}

int
onnx_map_prelu(Imp *im)
{
    ValueId x = imp_need(im, 0), s = imp_need(im, 1);
    if (!x || !s)
        return -1;
    ValueId neg = imp_emit2(im, OP_LESS, x, scalar_like(im, x, 0));
    ValueId y = imp_where(im, neg, imp_emit2(im, OP_MUL, x, s), x);
    if (y && imp_type(im, y)->rank != imp_type(im, x)->rank)
        return imp_fail(im, "PRelu: slope does not broadcast to the input");
    return out0(im, y);
}

/* Max/Min of a and b: where(cmp(a, b) or b is NaN, b, a), so NaN propagates as in numpy. */
static ValueId
pick(Imp *im, Op cmp, ValueId a, ValueId b)
{
    ValueId c = imp_emit2(im, cmp, a, b);
    if (c && imp_type(im, b)->dtype == DT_F32) {
        ValueId nan_b = imp_emit2(im, OP_EQUAL, imp_emit2(im, OP_EQUAL, b, b),
                                  imp_scalar(im, DT_BOOL, 0));
        c = imp_where(im, c, imp_scalar(im, DT_BOOL, 1), nan_b);
    }
    return imp_where(im, c, b, a);
}

/* Sum, Mean, Max, Min of any number of operands, pairwise with broadcasting. */
int
onnx_map_variadic(Imp *im)
{
    const char *t = im->node->op_type;
    int n = imp_nin(im);
    ValueId acc = imp_need(im, 0);
    for (int k = 1; k < n && acc; k++) {
        ValueId b = imp_need(im, k);
        if (!b)
            return -1;
        if (imp_type(im, b)->dtype != imp_type(im, acc)->dtype)
            return imp_unsupported(im, "%s: operands of different element types", t);
        if (t[1] == 'u' || t[1] == 'e')                       /* Sum, Mean */
            acc = imp_emit2(im, OP_ADD, acc, b);
        else                                                  /* Max, Min */
            acc = pick(im, t[1] == 'a' ? OP_LESS : OP_GREATER, acc, b);
    }
    if (acc && strcmp(t, "Mean") == 0 && n > 1)
        acc = imp_emit2(im, OP_DIV, acc, scalar_like(im, acc, n));
    return out0(im, acc);
}

/* Sign: x > 0 ? 1 : x < 0 ? -1 : x * 0 (so NaN stays NaN and 0 stays 0) */
int
onnx_map_sign(Imp *im)
{
    ValueId x = imp_need(im, 0);
    ValueId zero = scalar_like(im, x, 0), z = imp_emit2(im, OP_MUL, x, zero);
    ValueId y = imp_where(im, imp_emit2(im, OP_LESS, x, zero), scalar_like(im, x, -1), z);
    return out0(im, imp_where(im, imp_emit2(im, OP_GREATER, x, zero), scalar_like(im, x, 1), y));
}

/* IsNaN = not(equal(x, x)); IsInf = equal(|x|, inf) or one sign of it */
int
onnx_map_isnan(Imp *im)
{
    ValueId x = imp_need(im, 0);
    return out0(im, imp_emit2(im, OP_EQUAL, imp_emit2(im, OP_EQUAL, x, x),
                              imp_scalar(im, DT_BOOL, 0)));
}

int
onnx_map_isinf(Imp *im)
{
    ValueId x = imp_need(im, 0);
    int pos = imp_attr_i(im, "detect_positive", 1) != 0;
    int neg = imp_attr_i(im, "detect_negative", 1) != 0;
    if (!x)
        return -1;
    if (!pos && !neg)                  /* all false: x < x holds for no x, NaN included */
        return out0(im, imp_emit2(im, OP_LESS, x, x));
    if (pos && neg)
        return out0(im, imp_emit2(im, OP_EQUAL, imp_emit1(im, OP_ABS, x),
                                  imp_scalar(im, DT_F32, INFINITY)));
    return out0(im, imp_emit2(im, OP_EQUAL, x, imp_scalar(im, DT_F32, pos ? INFINITY : -INFINITY)));
}

/* Shrink: x < -lambd ? x + bias : x > lambd ? x - bias : 0 */
int
onnx_map_shrink(Imp *im)
{
    ValueId x = imp_need(im, 0);
    double l = imp_attr_f(im, "lambd", 0.5), b = imp_attr_f(im, "bias", 0.0);
    ValueId hi = imp_emit2(im, OP_GREATER, x, scalar_like(im, x, l));
    ValueId lo = imp_emit2(im, OP_LESS, x, scalar_like(im, x, -l));
    ValueId y = imp_where(im, hi, imp_emit2(im, OP_SUB, x, scalar_like(im, x, b)),
                          scalar_like(im, x, 0));
    return out0(im, imp_where(im, lo, imp_emit2(im, OP_ADD, x, scalar_like(im, x, b)), y));
}

/* v converted to dt (v itself when it has that type already); 0 if v is 0 */
static ValueId
cast_to(Imp *im, ValueId v, DType dt)
{
    Attr c;
    if (!v || imp_type(im, v)->dtype == dt)
        return v;
    ir_attr_default(OP_CAST, &c);
    c.cast.to = dt;
    return imp_emit(im, OP_CAST, &c, 1, &v);
}

/* Integer x to an f32 power y, as ONNX Runtime: pow in double, truncated to x's type.  An
 * integral y below 2^62 (a larger one would saturate the cast) takes exact integer pow in
 * i64; any other y cast(pow(f32(x), y)), kiln having no f64: exact while |x| and |result|
 * stay below 2^24. */
static ValueId
pow_int_float(Imp *im, ValueId x, ValueId y)
{
    DType dt = imp_type(im, x)->dtype;
    ValueId yi = cast_to(im, y, DT_I64);          /* truncates toward zero */
    ValueId whole = imp_emit2(im, OP_EQUAL, cast_to(im, yi, DT_F32), y);
    ValueId small = imp_emit2(im, OP_LESS, imp_emit1(im, OP_ABS, y),
                              imp_scalar(im, DT_F32, 4611686018427387904.0));
    ValueId exact = imp_where(im, small, whole, imp_scalar(im, DT_BOOL, 0));
    ValueId ip = cast_to(im, imp_emit2(im, OP_POW, cast_to(im, x, DT_I64), yi), dt);
    ValueId fp = cast_to(im, imp_emit2(im, OP_POW, cast_to(im, x, DT_F32), y), dt);
    return imp_where(im, exact, ip, fp);
}

/* Pow.  f32 base: pow with the exponent converted to f32 (exact below 2^24).  i32/i64 base
 * and integer exponent: integer pow in the base's type (an i64 exponent of an i32 base is
 * kept exact by computing in i64, which wraps to the same i32 result).  Integer base and
 * f32 exponent: pow_int_float. */
int
onnx_map_pow(Imp *im)
{
    ValueId a = imp_need(im, 0), b = imp_need(im, 1);
    if (!a || !b)
        return -1;
    DType at = imp_type(im, a)->dtype, bt = imp_type(im, b)->dtype;
    if (bt != DT_F32 && bt != DT_I32 && bt != DT_I64 && bt != DT_I8 && bt != DT_U8)
        return imp_unsupported(im, "Pow: exponent of type %s is not supported",
                               ir_dtype_name(bt));
    if (at == DT_F32)
        return out0(im, imp_emit2(im, OP_POW, a, cast_to(im, b, DT_F32)));
    if (bt == DT_F32)
        return out0(im, pow_int_float(im, a, b));
    if (bt == DT_I64)
        return out0(im, cast_to(im, imp_emit2(im, OP_POW, cast_to(im, a, DT_I64), b), at));
    return out0(im, imp_emit2(im, OP_POW, a, cast_to(im, b, at)));
}
