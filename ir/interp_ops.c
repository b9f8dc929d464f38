/* ir/interp_ops.c — reference semantics of the elementwise, comparison, selection, data
 * movement, reduction and cast ops (the semantics are listed at the top of interp.c).
 * Data movement copies elements by byte size, so it works on every dtype. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "ir.h"
#include "interp_impl.h"
#include "util.h"

#define SQRT_2_OVER_PI 0.79788456080286535588   /* sqrt(2/pi); M_PI is not C11 */

/* ------------------------------------------------------------------ elementwise */

/* KEEP-IN-SYNC(interp-dtypes): the dtypes each op accepts are checked in infer.c. */
double
interp_unary_f(Op op, const Attr *a, double x)
{
    switch (op) {
    case OP_NEG:        return -x;
    case OP_ABS:        return fabs(x);
    case OP_EXP:        return exp(x);
    case OP_LOG:        return log(x);
    case OP_SQRT:       return sqrt(x);
    case OP_RSQRT:      return 1.0 / sqrt(x);
    case OP_ERF:        return erf(x);
    case OP_RELU:       return x > 0 ? x : 0;
    case OP_LEAKY_RELU: return x < 0 ? a->scalar.a * x : x;
    case OP_RELU6:      return x < 0 ? 0 : x > 6 ? 6 : x;
    case OP_CLIP:       return x < a->scalar.a ? a->scalar.a : x > a->scalar.b ? a->scalar.b : x;
    case OP_SIGMOID:    return 1.0 / (1.0 + exp(-x));
    case OP_TANH:       return tanh(x);
    case OP_GELU:
        if (a->gelu.tanh_approx)
            return 0.5 * x * (1.0 + tanh(SQRT_2_OVER_PI * (x + 0.044715 * x * x * x)));
        return 0.5 * x * (1.0 + erf(x / sqrt(2.0)));
    case OP_SILU:       return x / (1.0 + exp(-x));
    case OP_HARDSWISH: {
        double r6 = x + 3 < 0 ? 0 : x + 3 > 6 ? 6 : x + 3;
        return x * r6 / 6.0;
    }
    /* round: nearbyint under the default rounding mode (to nearest, ties to even), which
     * kiln never changes; exact in double, as every f32 integer is a double integer */
    case OP_FLOOR:      return floor(x);
    case OP_CEIL:       return ceil(x);
    case OP_ROUND:      return nearbyint(x);
    case OP_SIN:        return sin(x);
    case OP_COS:        return cos(x);
    case OP_TAN:        return tan(x);
    case OP_ASIN:       return asin(x);
    case OP_ACOS:       return acos(x);
    case OP_ATAN:       return atan(x);
    case OP_SINH:       return sinh(x);
    case OP_COSH:       return cosh(x);
    case OP_ASINH:      return asinh(x);
    case OP_ACOSH:      return acosh(x);
    case OP_ATANH:      return atanh(x);
    default:
        kiln_die("interp: %s is not a unary op", op_name[op]);
    }
}

/* x mod y with the sign of y (Python's %); a zero result takes y's sign too */
static double
mod_f(double x, double y)
{
    double r = fmod(x, y);
    if (r == 0)
        return copysign(0.0, y);
    return (r < 0) != (y < 0) ? r + y : r;
}

double
interp_binary_f(Op op, double x, double y)
{
    switch (op) {
    case OP_ADD:     return x + y;
    case OP_SUB:     return x - y;
    case OP_MUL:     return x * y;
    case OP_DIV:     return x / y;
    case OP_POW:     return pow(x, y);
    case OP_MOD:     return mod_f(x, y);
    case OP_FMOD:    return fmod(x, y);
    case OP_EQUAL:   return x == y;
    case OP_LESS:    return x < y;
    case OP_GREATER: return x > y;
    default:
        kiln_die("interp: %s is not a binary op", op_name[op]);
    }
}

int64_t
interp_unary_i(Op op, int64_t x)
{
    uint64_t neg = 0 - (uint64_t)x;        /* wraps: INT64_MIN stays INT64_MIN */
    switch (op) {
    case OP_NEG: return (int64_t)neg;
    case OP_ABS: return x < 0 ? (int64_t)neg : x;
    default:
        kiln_die("interp: %s is not an integer unary op", op_name[op]);
    }
}

/* x^y by repeated squaring, wrapping modulo 2^64 (the caller truncates to the dtype);
 * a negative exponent gives 1 for x = 1, +-1 for x = -1, else 0 (the truncated 1/x^-y). */
static int64_t
pow_i(int64_t x, int64_t y)
{
    uint64_t r = 1, b = (uint64_t)x;
    if (y < 0)
        return x == 1 ? 1 : x == -1 ? (y % 2 ? -1 : 1) : 0;
    for (; y > 0; y /= 2) {
        if (y % 2)
            r *= b;
        b *= b;
    }
    return (int64_t)r;
}

/* Integer remainder with the sign of x (fmod) or of y (mod); 0 for y = 0 (numpy's value)
 * and for y = -1 (which would overflow for the most negative x). */
static int64_t
mod_i(int64_t x, int64_t y, int fmod_sign)
{
    if (y == 0 || y == -1)
        return 0;
    int64_t r = x % y;
    return !fmod_sign && r != 0 && (r < 0) != (y < 0) ? r + y : r;
}

int
interp_binary_i(const Eval *e, Op op, int64_t x, int64_t y, int64_t *r)
{
    char lb[128];
    switch (op) {
    case OP_ADD: *r = (int64_t)((uint64_t)x + (uint64_t)y); return 0;
    case OP_SUB: *r = (int64_t)((uint64_t)x - (uint64_t)y); return 0;
    case OP_MUL: *r = (int64_t)((uint64_t)x * (uint64_t)y); return 0;
    case OP_DIV:
        if (y == 0) {
            diag_error(e->d, e->nd->loc, "%s: integer division by zero",
                       interp_label(e, lb, sizeof lb));
            return -1;
        }
        *r = (x == INT64_MIN && y == -1) ? INT64_MIN : x / y;
        return 0;
    case OP_POW:     *r = pow_i(x, y); return 0;
    case OP_MOD:     *r = mod_i(x, y, 0); return 0;
    case OP_FMOD:    *r = mod_i(x, y, 1); return 0;
    case OP_EQUAL:   *r = x == y; return 0;
    case OP_LESS:    *r = x < y; return 0;
    case OP_GREATER: *r = x > y; return 0;
    default:
        kiln_die("interp: %s is not an integer binary op", op_name[op]);
    }
}

static int
eltwise_binary(Eval *e)
{
    const IrTensor *a = &e->in[0], *b = &e->in[1];
    IrTensor *r = &e->out[0];
    int64_t n = interp_numel(&r->type), sa[KILN_MAX_RANK], sb[KILN_MAX_RANK];
    Op op = e->nd->op;
    interp_bstrides(&a->type, &r->type, sa);
    interp_bstrides(&b->type, &r->type, sb);
    for (int64_t i = 0; i < n; i++) {
        int64_t ia = interp_boff(i, &r->type, sa), ib = interp_boff(i, &r->type, sb), v;
        if (a->type.dtype == DT_F32) {
            interp_setf(r, i, interp_binary_f(op, interp_getf(a, ia), interp_getf(b, ib)));
            continue;
        }
        if (interp_binary_i(e, op, interp_geti(a, ia), interp_geti(b, ib), &v) < 0)
            return -1;
        interp_seti(r, i, v);
    }
    return 0;
}

int
interp_eltwise(Eval *e)
{
    if (op_flags[e->nd->op] & F_BINARY)
        return eltwise_binary(e);
    const IrTensor *x = &e->in[0];
    IrTensor *r = &e->out[0];
    int64_t n = interp_numel(&r->type);
    for (int64_t i = 0; i < n; i++) {
        if (x->type.dtype == DT_F32)
            interp_setf(r, i, interp_unary_f(e->nd->op, &e->nd->attr, interp_getf(x, i)));
        else
            interp_seti(r, i, interp_unary_i(e->nd->op, interp_geti(x, i)));
    }
    return 0;
}

int
interp_where(Eval *e)
{
    const IrTensor *c = &e->in[0], *a = &e->in[1], *b = &e->in[2];
    IrTensor *r = &e->out[0];
    int64_t n = interp_numel(&r->type);
    int64_t sc[KILN_MAX_RANK], sa[KILN_MAX_RANK], sb[KILN_MAX_RANK];
    size_t es = ir_dtype_size(r->type.dtype);
    interp_bstrides(&c->type, &r->type, sc);
    interp_bstrides(&a->type, &r->type, sa);
    interp_bstrides(&b->type, &r->type, sb);
    for (int64_t i = 0; i < n; i++) {
        int take_a = ((const uint8_t *)c->data)[interp_boff(i, &r->type, sc)] != 0;
        const IrTensor *s = take_a ? a : b;
        int64_t j = interp_boff(i, &r->type, take_a ? sa : sb);
        memcpy((char *)r->data + (size_t)i * es, (const char *)s->data + (size_t)j * es, es);
    }
    return 0;
}

int
interp_cast(Eval *e)
{
    const IrTensor *x = &e->in[0];
    IrTensor *r = &e->out[0];
    int64_t n = interp_numel(&r->type);
    for (int64_t i = 0; i < n; i++) {
        if (x->type.dtype == DT_F32)
            interp_setf(r, i, interp_getf(x, i));
        else
            interp_seti(r, i, interp_geti(x, i));
    }
    return 0;
}

/* ------------------------------------------------------------------ data movement */

static void
strides_of(const TensorType *t, int64_t *st)
{
    int64_t s = 1;
    for (int i = t->rank - 1; i >= 0; i--) {
        st[i] = s;
        s *= t->dims[i];
    }
}

/* Multi-index of element i of shape t. */
static void
unravel(int64_t i, const TensorType *t, int64_t *idx)
{
    for (int k = t->rank - 1; k >= 0; k--) {
        idx[k] = i % t->dims[k];
        i /= t->dims[k];
    }
}

static int64_t
prod(const TensorType *t, int lo, int hi)
{
    int64_t p = 1;
    for (int i = lo; i < hi; i++)
        p *= t->dims[i];
    return p;
}

static void
move_transpose(Eval *e, size_t es)
{
    const IrTensor *x = &e->in[0];
    IrTensor *r = &e->out[0];
    const DimsAttr *p = &e->nd->attr.dims;
    int64_t st[KILN_MAX_RANK], idx[KILN_MAX_RANK], n = interp_numel(&r->type);
    strides_of(&x->type, st);
    for (int64_t i = 0; i < n; i++) {
        int64_t off = 0;
        unravel(i, &r->type, idx);
        for (int k = 0; k < r->type.rank; k++)
            off += idx[k] * st[p->v[k]];
        memcpy((char *)r->data + (size_t)i * es, (const char *)x->data + (size_t)off * es, es);
    }
}

/* concat (split = 0) copies operands into slabs of the result; split the reverse. */
static void
move_concat_split(Eval *e, size_t es, int split)
{
    const TensorType *whole = split ? &e->in[0].type : &e->out[0].type;
    int axis = split ? e->nd->attr.split.axis : e->nd->attr.axis.axis;
    int nparts = split ? e->nd->nout : ir_node_nbase(e->nd);
    int64_t outer = prod(whole, 0, axis), inner = prod(whole, axis + 1, whole->rank);
    int64_t row = whole->dims[axis] * inner, at = 0;
    char *wd = split ? (char *)e->in[0].data : (char *)e->out[0].data;
    for (int k = 0; k < nparts; k++) {
        const TensorType *pt = split ? &e->out[k].type : &e->in[k].type;
        char *pd = split ? (char *)e->out[k].data : (char *)e->in[k].data;
        int64_t chunk = pt->dims[axis] * inner;
        for (int64_t o = 0; o < outer; o++) {
            char *w = wd + (size_t)(o * row + at) * es, *q = pd + (size_t)(o * chunk) * es;
            if (split)
                memcpy(q, w, (size_t)chunk * es);
            else
                memcpy(w, q, (size_t)chunk * es);
        }
        at += chunk;
    }
}

static void
move_slice(Eval *e, size_t es)
{
    const IrTensor *x = &e->in[0];
    IrTensor *r = &e->out[0];
    const SliceAttr *s = &e->nd->attr.slice;
    int64_t st[KILN_MAX_RANK], idx[KILN_MAX_RANK], n = interp_numel(&r->type);
    strides_of(&x->type, st);
    for (int64_t i = 0; i < n; i++) {
        int64_t off = 0;
        unravel(i, &r->type, idx);
        for (int k = 0; k < r->type.rank; k++)
            off += (s->start[k] + idx[k] * s->step[k]) * st[k];
        memcpy((char *)r->data + (size_t)i * es, (const char *)x->data + (size_t)off * es, es);
    }
}

static void
move_pad(Eval *e, size_t es)
{
    const IrTensor *x = &e->in[0];
    IrTensor *r = &e->out[0];
    const PadAttr *p = &e->nd->attr.pad;
    int64_t st[KILN_MAX_RANK], idx[KILN_MAX_RANK], n = interp_numel(&r->type);
    unsigned char fill[8];
    IrTensor f = { .type = { .dtype = r->type.dtype }, .data = fill };
    interp_setf(&f, 0, p->value);          /* the fill value converted like cast */
    strides_of(&x->type, st);
    for (int64_t i = 0; i < n; i++) {
        int64_t off = 0;
        int inside = 1;
        unravel(i, &r->type, idx);
        for (int k = 0; k < r->type.rank; k++) {
            int64_t j = idx[k] - p->before[k];
            inside &= j >= 0 && j < x->type.dims[k];
            off += j * st[k];
        }
        memcpy((char *)r->data + (size_t)i * es,
               inside ? (const char *)x->data + (size_t)off * es : (const char *)fill, es);
    }
}

static int
move_gather(Eval *e, size_t es)
{
    const IrTensor *x = &e->in[0], *ix = &e->in[1];
    int axis = e->nd->attr.axis.axis;
    int64_t outer = prod(&x->type, 0, axis), dim = x->type.dims[axis];
    int64_t inner = prod(&x->type, axis + 1, x->type.rank), nidx = interp_numel(&ix->type);
    char lb[128];
    for (int64_t j = 0; j < nidx; j++) {
        int64_t v = interp_geti(ix, j);
        if (v < -dim || v >= dim) {
            diag_error(e->d, e->nd->loc, "%s: index %lld out of range for axis %d of size %lld",
                       interp_label(e, lb, sizeof lb), (long long)v, axis, (long long)dim);
            return -1;
        }
    }
    for (int64_t o = 0; o < outer; o++)
        for (int64_t j = 0; j < nidx; j++) {
            int64_t v = interp_geti(ix, j);
            v = v < 0 ? v + dim : v;
            memcpy((char *)e->out[0].data + (size_t)((o * nidx + j) * inner) * es,
                   (const char *)x->data + (size_t)((o * dim + v) * inner) * es,
                   (size_t)inner * es);
        }
    return 0;
}

int
interp_move(Eval *e)
{
    size_t es = ir_dtype_size(e->in[0].type.dtype);
    switch (e->nd->op) {
    case OP_RESHAPE:
    case OP_FLATTEN:
        memcpy(e->out[0].data, e->in[0].data, (size_t)interp_numel(&e->out[0].type) * es);
        return 0;
    case OP_TRANSPOSE: move_transpose(e, es); return 0;
    case OP_CONCAT:    move_concat_split(e, es, 0); return 0;
    case OP_SPLIT:     move_concat_split(e, es, 1); return 0;
    case OP_SLICE:     move_slice(e, es); return 0;
    case OP_PAD:       move_pad(e, es); return 0;
    case OP_GATHER:    return move_gather(e, es);
    default:
        kiln_die("interp: %s is not a data movement op", op_name[e->nd->op]);
    }
}

/* ------------------------------------------------------------------ reductions */

typedef struct {
    int     mark[KILN_MAX_RANK];     /* dim is reduced */
    int64_t ost[KILN_MAX_RANK];      /* result stride of each kept input dim */
    int     axis;                    /* argmax: the one reduced dim */
} Red;

static void
red_setup(const Eval *e, Red *rd)
{
    const ReduceAttr *ra = &e->nd->attr.reduce;
    const TensorType *x = &e->in[0].type;
    memset(rd, 0, sizeof *rd);
    for (int i = 0; i < ra->naxes; i++)
        rd->mark[ra->axes[i]] = 1;
    if (ra->naxes == 0)                    /* all dims */
        for (int i = 0; i < x->rank; i++)
            rd->mark[i] = 1;
    rd->axis = ra->naxes ? ra->axes[0] : 0;
    int64_t s = 1;
    for (int i = x->rank - 1; i >= 0; i--)
        if (!rd->mark[i]) {
            rd->ost[i] = s;
            s *= x->dims[i];
        }
}

/* Result offset of input element i; *a = its index along rd->axis. */
static int64_t
red_off(const Red *rd, const TensorType *x, int64_t i, int64_t *a)
{
    int64_t o = 0;
    for (int k = x->rank - 1; k >= 0; k--) {
        int64_t id = i % x->dims[k];
        i /= x->dims[k];
        if (!rd->mark[k])
            o += id * rd->ost[k];
        else if (k == rd->axis)
            *a = id;
    }
    return o;
}

static void
reduce_float(Eval *e, const Red *rd, double *acc, int64_t *arg)
{
    const IrTensor *x = &e->in[0];
    Op op = e->nd->op;
    int64_t n = interp_numel(&x->type), m = interp_numel(&e->out[0].type), a = 0;
    for (int64_t o = 0; o < m; o++)
        acc[o] = op == OP_REDUCE_MIN ? INFINITY : (op == OP_REDUCE_MAX || op == OP_ARGMAX)
                                                   ? -INFINITY : op == OP_REDUCE_PROD;
    for (int64_t i = 0; i < n; i++) {
        int64_t o = red_off(rd, &x->type, i, &a);
        double v = interp_getf(x, i);
        if (op == OP_REDUCE_SUM || op == OP_REDUCE_MEAN)
            acc[o] += v;
        else if (op == OP_REDUCE_PROD)
            acc[o] *= v;
        else if (op == OP_REDUCE_MIN ? v < acc[o] : v > acc[o])     /* NaN never wins */
            acc[o] = v, arg[o] = a;
    }
    for (int64_t o = 0; o < m; o++) {
        if (op == OP_ARGMAX)
            interp_seti(&e->out[0], o, arg[o]);
        else
            interp_setf(&e->out[0], o, op == OP_REDUCE_MEAN ? acc[o] / (double)(n / m) : acc[o]);
    }
}

static void
reduce_int(Eval *e, const Red *rd, int64_t *acc, int64_t *arg)
{
    const IrTensor *x = &e->in[0];
    Op op = e->nd->op;
    int64_t n = interp_numel(&x->type), m = interp_numel(&e->out[0].type), a = 0;
    for (int64_t o = 0; o < m; o++)
        acc[o] = op == OP_REDUCE_MIN ? INT64_MAX : op == OP_REDUCE_SUM ? 0
                 : op == OP_REDUCE_PROD ? 1 : INT64_MIN;
    for (int64_t i = 0; i < n; i++) {
        int64_t o = red_off(rd, &x->type, i, &a), v = interp_geti(x, i);
        if (op == OP_REDUCE_SUM)
            acc[o] = (int64_t)((uint64_t)acc[o] + (uint64_t)v);
        else if (op == OP_REDUCE_PROD)
            acc[o] = (int64_t)((uint64_t)acc[o] * (uint64_t)v);
        else if (op == OP_REDUCE_MIN ? v < acc[o] : v > acc[o])     /* arg starts at 0 */
            acc[o] = v, arg[o] = a;
    }
    for (int64_t o = 0; o < m; o++)
        interp_seti(&e->out[0], o, op == OP_ARGMAX ? arg[o] : acc[o]);
}

int
interp_reduce(Eval *e)
{
    Red rd;
    int64_t m = interp_numel(&e->out[0].type);
    char lb[128];
    red_setup(e, &rd);
    m += m == 0;                       /* an empty result: calloc(0) may give NULL */
    double *accf = calloc((size_t)m, sizeof *accf);
    int64_t *acci = calloc((size_t)m, sizeof *acci), *arg = calloc((size_t)m, sizeof *arg);
    if (!accf || !acci || !arg) {
        diag_error(e->d, e->nd->loc, "%s: out of memory", interp_label(e, lb, sizeof lb));
        free(accf), free(acci), free(arg);
        return -1;
    }
    if (e->in[0].type.dtype == DT_F32)
        reduce_float(e, &rd, accf, arg);
    else
        reduce_int(e, &rd, acci, arg);
    free(accf), free(acci), free(arg);
    return 0;
}
