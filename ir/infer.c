/* ir/infer.c — per-op shape and type rules: a node's result types from its operand types
 * and attribute.  Shared by the shape-infer pass, the verifier and graph builders.
 *
 * Approach: ir_infer_node checks the operand count and operand types common to all ops,
 * then one switch dispatches to a small rule per op family that fills Inf.res[].  Rules
 * normalise the attribute in place (negative axes, defaulted parts, clamped slice bounds)
 * so that later stages see canonical values; every normalised attribute is a fixed point,
 * so re-running inference (as the verifier does) changes nothing.  Dims products use
 * checked 64-bit arithmetic.  Messages start with the op name; the location is the node's. */
#include <math.h>
#include <stdarg.h>
#include <string.h>
#include "ir.h"
#include "interp_impl.h"
#include "util.h"

/* dtype sets for operand checks */
#define DM(t)   (1u << (t))
#define M_F32   DM(DT_F32)
#define M_INT   (DM(DT_I32) | DM(DT_I64) | DM(DT_I8) | DM(DT_U8))
#define M_NUM   (M_F32 | M_INT)
#define M_ANY   (M_NUM | DM(DT_BOOL))
#define M_IDX   (DM(DT_I32) | DM(DT_I64))

typedef struct {
    Graph      *g;                      /* graph of the node */
    Node       *nd;                     /* the node; its attribute is normalised in place */
    Diag       *d;                      /* user errors */
    int         nbase;                  /* operands the op reads (rest: epilogue only) */
    TensorType  res[KILN_MAX_SPLIT];    /* result types being computed */
} Inf;

typedef char TypeBuf[200];              /* fits "bool[" + 8 dims of 20 digits + "]" */

static const TensorType *
T(const Inf *f, int k)
{
    return &f->g->values[f->nd->in[k]].type;
}

static const char *
ts(const TensorType *t, char *buf)
{
    return ir_type_str(t, buf, sizeof(TypeBuf));
}

/* Reports "<op>: <message>" at the node; returns -1. */
static int
fail(Inf *f, const char *fmt, ...)
{
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    diag_error(f->d, f->nd->loc, "%s: %s", op_name[f->nd->op], msg);
    return -1;
}

static const char *
mask_name(unsigned m)
{
    switch (m) {
    case M_F32: return "f32";
    case M_NUM: return "a numeric type";
    case M_IDX: return "i32 or i64";
    case M_F32 | M_IDX: return "f32, i32 or i64";
    case DM(DT_BOOL): return "bool";
    default: return "another type";
    }
}

static int
need(Inf *f, int k, unsigned mask)
{
    DType t = T(f, k)->dtype;
    if (mask & DM(t))
        return 0;
    if (f->nd->nin == 1)
        return fail(f, "expected %s, got %s", mask_name(mask), ir_dtype_name(t));
    return fail(f, "operand %d: expected %s, got %s", k, mask_name(mask), ir_dtype_name(t));
}

/* dtypes an elementwise op accepts (KEEP-IN-SYNC(interp-dtypes) with interp_ops.c) */
static unsigned
eltwise_mask(Op op)
{
    switch (op) {
    case OP_ADD: case OP_SUB: case OP_MUL: case OP_DIV: case OP_LESS: case OP_GREATER:
    case OP_NEG: case OP_ABS: case OP_MOD: case OP_FMOD:
        return M_NUM;
    case OP_POW:
        return M_F32 | M_IDX;
    case OP_EQUAL:
        return M_ANY;
    default:
        return M_F32;
    }
}

/* Normalises *axis into 0..rank-1. */
static int
norm_axis(Inf *f, int *axis, int rank)
{
    if (*axis < -rank || *axis >= rank)
        return fail(f, "axis %d out of range for rank %d", *axis, rank);
    if (*axis < 0)
        *axis += rank;
    return 0;
}

static int
mul_dim(int64_t *acc, int64_t d)
{
    return __builtin_mul_overflow(*acc, d, acc) ? -1 : 0;
}

/* Product of dims [lo, hi) of t, -1 on overflow. */
static int64_t
dims_prod(const TensorType *t, int lo, int hi)
{
    int64_t p = 1;
    for (int i = lo; i < hi; i++)
        if (mul_dim(&p, t->dims[i]) < 0)
            return -1;
    return p;
}

/* Output size of a sliding window: floor((n + p0 + p1 - dil*(k-1) - 1) / stride) + 1;
 * 0 if the window does not fit, -1 on overflow. */
static int64_t
window_out(int64_t n, int64_t k, int stride, int p0, int p1, int dil)
{
    int64_t span, eff;
    if (__builtin_mul_overflow((int64_t)dil, k - 1, &eff) ||
        __builtin_add_overflow(n, (int64_t)p0 + p1, &span))
        return -1;
    span -= eff + 1;
    return span < 0 ? 0 : span / stride + 1;
}

int
ir_broadcast(const TensorType *a, const TensorType *b, TensorType *out)
{
    int r = a->rank > b->rank ? a->rank : b->rank;
    TensorType t = { .dtype = a->dtype, .rank = r };
    for (int i = 0; i < r; i++) {
        int ia = i - (r - a->rank), ib = i - (r - b->rank);
        int64_t x = ia >= 0 ? a->dims[ia] : 1, y = ib >= 0 ? b->dims[ib] : 1;
        if (x != y && x != 1 && y != 1)
            return -1;
        t.dims[i] = x == 1 ? y : x;
    }
    *out = t;
    return 0;
}

int
ir_node_nbase(const Node *nd)
{
    int n = nd->nin;
    for (int i = 0; i < nd->nepi; i++)
        if ((op_flags[nd->epi[i].op] & F_BINARY) && nd->epi[i].arg < n)
            n = nd->epi[i].arg;
    if (nd->op > OP_NONE && nd->op < OP_COUNT) {
        if (op_max_in[nd->op] >= 0 && n > op_max_in[nd->op])
            n = op_max_in[nd->op];
        if (n < op_min_in[nd->op])
            n = op_min_in[nd->op];
    }
    return n < nd->nin ? n : nd->nin;
}

/* ------------------------------------------------------------------ elementwise */

static int
rule_binary(Inf *f)
{
    const TensorType *a = T(f, 0), *b = T(f, 1);
    TypeBuf x, y;
    Op op = f->nd->op;
    if (a->dtype != b->dtype)
        return fail(f, "operand types differ: %s vs %s", ts(a, x), ts(b, y));
    if (need(f, 0, eltwise_mask(op)) < 0)
        return -1;
    if (ir_broadcast(a, b, &f->res[0]) < 0)
        return fail(f, "cannot broadcast %s with %s", ts(a, x), ts(b, y));
    if ((op_flags[op] & F_CMP))
        f->res[0].dtype = DT_BOOL;
    return 0;
}

static int
rule_unary(Inf *f)
{
    if (need(f, 0, eltwise_mask(f->nd->op)) < 0)
        return -1;
    f->res[0] = ir_type_make(T(f, 0)->dtype, T(f, 0)->rank, T(f, 0)->dims);
    return 0;
}

static int
rule_where(Inf *f)
{
    const TensorType *c = T(f, 0), *a = T(f, 1), *b = T(f, 2);
    TypeBuf x, y, z;
    TensorType ab;
    if (need(f, 0, DM(DT_BOOL)) < 0)
        return -1;
    if (a->dtype != b->dtype)
        return fail(f, "operand types differ: %s vs %s", ts(a, x), ts(b, y));
    if (ir_broadcast(a, b, &ab) < 0 || ir_broadcast(&ab, c, &f->res[0]) < 0)
        return fail(f, "cannot broadcast %s, %s and %s", ts(c, x), ts(a, y), ts(b, z));
    f->res[0].dtype = a->dtype;
    return 0;
}

/* ------------------------------------------------------------------ matmul, conv, pools */

/* Weights may be f32 or quantized (dequantized on load). */
static int
need_weight(Inf *f, int k)
{
    const TensorType *w = T(f, k);
    if (w->quant && (w->dtype == DT_I8 || w->dtype == DT_U8))
        return 0;
    return need(f, k, M_F32);
}

static int
rule_matmul(Inf *f)
{
    const TensorType *a = T(f, 0), *b = T(f, 1);
    const MatmulAttr *m = &f->nd->attr.matmul;
    TypeBuf x, y;
    if (need(f, 0, M_F32) < 0 || need_weight(f, 1) < 0)
        return -1;
    if (a->rank < 1 || b->rank < 1)
        return fail(f, "expected operands of rank >= 1, got %s @ %s", ts(a, x), ts(b, y));
    int64_t rows = 1, ka = a->dims[a->rank - 1], kb = b->dims[0], cols = 1;
    if (a->rank >= 2) {
        rows = a->dims[a->rank - 2];
        if (m->trans_a) { int64_t t = rows; rows = ka; ka = t; }
    }
    if (b->rank >= 2) {
        kb = b->dims[b->rank - 2];
        cols = b->dims[b->rank - 1];
        if (m->trans_b) { int64_t t = kb; kb = cols; cols = t; }
    }
    if (ka != kb) {
        if (m->trans_a)
            return fail(f, "inner dims differ: %s @ %s (trans_a = 1, trans_b = %d)",
                        ts(a, x), ts(b, y), m->trans_b != 0);
        return fail(f, "inner dims differ: %s @ %s (trans_b = %d)", ts(a, x), ts(b, y),
                    m->trans_b != 0);
    }
    TensorType ba = { .rank = a->rank > 2 ? a->rank - 2 : 0 };
    TensorType bb = { .rank = b->rank > 2 ? b->rank - 2 : 0 };
    memcpy(ba.dims, a->dims, (size_t)ba.rank * sizeof(int64_t));
    memcpy(bb.dims, b->dims, (size_t)bb.rank * sizeof(int64_t));
    TensorType *r = &f->res[0];
    if (ir_broadcast(&ba, &bb, r) < 0)
        return fail(f, "cannot broadcast batch dims of %s and %s", ts(a, x), ts(b, y));
    r->dtype = DT_F32;
    if (a->rank >= 2)
        r->dims[r->rank++] = rows;
    if (b->rank >= 2)
        r->dims[r->rank++] = cols;
    return 0;
}

static int
conv_attr_ok(Inf *f, const ConvAttr *c)
{
    for (int i = 0; i < 2; i++) {
        if (c->stride[i] < 1)
            return fail(f, "stride must be >= 1, got %d", c->stride[i]);
        if (c->dilation[i] < 1)
            return fail(f, "dilation must be >= 1, got %d", c->dilation[i]);
    }
    for (int i = 0; i < 4; i++)
        if (c->pad[i] < 0)
            return fail(f, "padding must be >= 0, got %d", c->pad[i]);
    if (c->groups < 1)
        return fail(f, "groups must be >= 1, got %d", c->groups);
    return 0;
}

static int
rule_conv2d(Inf *f)
{
    const TensorType *x = T(f, 0), *w = T(f, 1);
    const ConvAttr *c = &f->nd->attr.conv;
    TypeBuf b1, b2;
    if (x->rank != 4)
        return fail(f, "expected 4-D input, got rank %d", x->rank);
    if (w->rank != 4)
        return fail(f, "expected 4-D weight, got rank %d", w->rank);
    if (need(f, 0, M_F32) < 0 || need_weight(f, 1) < 0 || conv_attr_ok(f, c) < 0)
        return -1;
    int64_t cin = x->dims[1], k = w->dims[0];
    if (cin % c->groups)
        return fail(f, "groups %d does not divide %lld input channels", c->groups, (long long)cin);
    if (k % c->groups)
        return fail(f, "groups %d does not divide %lld output channels", c->groups, (long long)k);
    if (w->dims[1] != cin / c->groups)
        return fail(f, "weight %s expects %lld input channels per group, input %s has %lld "
                    "(groups = %d)", ts(w, b1), (long long)w->dims[1], ts(x, b2),
                    (long long)(cin / c->groups), c->groups);
    if (f->nbase == 3) {
        const TensorType *b = T(f, 2);
        if (b->dtype != DT_F32 || b->rank != 1 || b->dims[0] != k)
            return fail(f, "bias must be f32[%lld], got %s", (long long)k, ts(b, b1));
    }
    int64_t oh = window_out(x->dims[2], w->dims[2], c->stride[0], c->pad[0], c->pad[2],
                            c->dilation[0]);
    int64_t ow = window_out(x->dims[3], w->dims[3], c->stride[1], c->pad[1], c->pad[3],
                            c->dilation[1]);
    if (oh < 1 || ow < 1)
        return fail(f, "kernel %lldx%lld (dilation %dx%d) does not fit input %s with padding "
                    "[%d,%d,%d,%d]", (long long)w->dims[2], (long long)w->dims[3],
                    c->dilation[0], c->dilation[1], ts(x, b1), c->pad[0], c->pad[1],
                    c->pad[2], c->pad[3]);
    int64_t dims[4] = { x->dims[0], k, oh, ow };
    f->res[0] = ir_type_make(DT_F32, 4, dims);
    return 0;
}

static int
pool_attr_ok(Inf *f, const PoolAttr *p)
{
    for (int i = 0; i < 2; i++) {
        if (p->kernel[i] < 1)
            return fail(f, "kernel must be >= 1, got %d", p->kernel[i]);
        if (p->stride[i] < 1)
            return fail(f, "stride must be >= 1, got %d", p->stride[i]);
    }
    for (int i = 0; i < 4; i++) {
        if (p->pad[i] < 0)
            return fail(f, "padding must be >= 0, got %d", p->pad[i]);
        /* a window made only of padding would have no elements */
        if (p->pad[i] >= p->kernel[i % 2])
            return fail(f, "padding %d must be smaller than the kernel %d", p->pad[i],
                        p->kernel[i % 2]);
    }
    return 0;
}

static int
rule_pool(Inf *f)
{
    const TensorType *x = T(f, 0);
    TypeBuf b;
    if (x->rank != 4)
        return fail(f, "expected 4-D input, got rank %d", x->rank);
    if (need(f, 0, M_F32) < 0)
        return -1;
    int64_t dims[4] = { x->dims[0], x->dims[1], 1, 1 };
    if (f->nd->op != OP_GLOBAL_AVGPOOL) {
        const PoolAttr *p = &f->nd->attr.pool;
        if (pool_attr_ok(f, p) < 0)
            return -1;
        dims[2] = window_out(x->dims[2], p->kernel[0], p->stride[0], p->pad[0], p->pad[2], 1);
        dims[3] = window_out(x->dims[3], p->kernel[1], p->stride[1], p->pad[1], p->pad[3], 1);
        if (dims[2] < 1 || dims[3] < 1)
            return fail(f, "kernel %dx%d does not fit input %s with padding [%d,%d,%d,%d]",
                        p->kernel[0], p->kernel[1], ts(x, b), p->pad[0], p->pad[1],
                        p->pad[2], p->pad[3]);
    }
    f->res[0] = ir_type_make(DT_F32, 4, dims);
    return 0;
}

/* ------------------------------------------------------------------ normalisation */

static int
rule_softmax(Inf *f)
{
    const TensorType *x = T(f, 0);
    if (need(f, 0, M_F32) < 0 || norm_axis(f, &f->nd->attr.axis.axis, x->rank) < 0)
        return -1;
    f->res[0] = ir_type_make(DT_F32, x->rank, x->dims);
    return 0;
}

/* Operand k must be f32 with exactly dims [lo, hi) of x. */
static int
need_param(Inf *f, int k, const char *what, const TensorType *x, int lo, int hi)
{
    const TensorType *p = T(f, k);
    TensorType want = ir_type_make(DT_F32, hi - lo, x->dims + lo);
    TypeBuf b1, b2;
    if (p->dtype != DT_F32 || p->rank != want.rank ||
        memcmp(p->dims, want.dims, (size_t)want.rank * sizeof(int64_t)) != 0)
        return fail(f, "%s must be %s, got %s", what, ts(&want, b1), ts(p, b2));
    return 0;
}

static int
rule_norm(Inf *f)
{
    static const char *const ln[] = { "", "gamma", "beta" };
    static const char *const bn[] = { "", "scale", "bias", "mean", "var" };
    const TensorType *x = T(f, 0);
    int *axis = &f->nd->attr.norm.axis;
    if (need(f, 0, M_F32) < 0 || norm_axis(f, axis, x->rank) < 0)
        return -1;
    for (int k = 1; k < f->nbase; k++) {
        int r = f->nd->op == OP_BATCHNORM
                    ? need_param(f, k, bn[k], x, *axis, *axis + 1)
                    : need_param(f, k, ln[k], x, *axis, x->rank);
        if (r < 0)
            return -1;
    }
    f->res[0] = ir_type_make(DT_F32, x->rank, x->dims);
    return 0;
}

/* ------------------------------------------------------------------ data movement */

static int
rule_reshape(Inf *f)
{
    const TensorType *x = T(f, 0);
    DimsAttr *s = &f->nd->attr.dims;
    TypeBuf b;
    int64_t n = dims_prod(x, 0, x->rank), prod = 1;
    int free_at = -1;
    if (s->rank < 0 || s->rank > KILN_MAX_RANK)
        return fail(f, "target rank %d out of range 0..%d", s->rank, KILN_MAX_RANK);
    TensorType r = { .dtype = x->dtype, .rank = s->rank };
    /* 0 copies the input dim, except that for an input of no elements it is a literal
     * 0: a resolved shape with a 0 in it then infers to itself again */
    for (int i = 0; i < s->rank; i++) {
        int64_t v = s->v[i];
        if (v == 0 && n != 0 && i >= x->rank)
            return fail(f, "shape[%d] = 0 copies a dim that input %s lacks", i, ts(x, b));
        if (v == 0 && n != 0)
            v = x->dims[i];
        if (v == -1) {
            if (free_at >= 0)
                return fail(f, "more than one -1 in the target shape");
            free_at = i;
            continue;
        }
        if (v < 0)
            return fail(f, "shape[%d] = %lld is not a dim size", i, (long long)v);
        if (mul_dim(&prod, v) < 0)
            return fail(f, "target shape overflows");
        r.dims[i] = v;
    }
    if (free_at >= 0 && prod == 0)
        return fail(f, "the -1 in the target shape is ambiguous: the other dims hold no "
                    "elements");
    if (free_at >= 0 && n % prod == 0)
        r.dims[free_at] = n / prod, prod = n;
    if (prod != n) {
        char want[300];
        int len = snprintf(want, sizeof want, "[");
        for (int i = 0; i < s->rank && len < 280; i++)
            len += snprintf(want + len, sizeof want - (size_t)len, "%s%lld", i ? "," : "",
                            (long long)s->v[i]);
        snprintf(want + len, sizeof want - (size_t)len, "]");
        return fail(f, "cannot reshape %s (%lld elements) to %s", ts(x, b), (long long)n, want);
    }
    memcpy(s->v, r.dims, sizeof s->v);     /* resolved: no -1; 0 only for an empty input */
    f->res[0] = r;
    return 0;
}

static int
rule_flatten(Inf *f)
{
    const TensorType *x = T(f, 0);
    int *axis = &f->nd->attr.axis.axis;
    if (*axis < -x->rank || *axis > x->rank)
        return fail(f, "axis %d out of range for rank %d", *axis, x->rank);
    if (*axis < 0)
        *axis += x->rank;
    int64_t dims[2] = { dims_prod(x, 0, *axis), dims_prod(x, *axis, x->rank) };
    f->res[0] = ir_type_make(x->dtype, 2, dims);
    return 0;
}

static int
rule_transpose(Inf *f)
{
    const TensorType *x = T(f, 0);
    DimsAttr *p = &f->nd->attr.dims;
    int seen[KILN_MAX_RANK] = { 0 };
    if (p->rank == 0) {                    /* default: reverse the dims */
        p->rank = x->rank;
        for (int i = 0; i < x->rank; i++)
            p->v[i] = x->rank - 1 - i;
    }
    if (p->rank != x->rank)
        return fail(f, "perm has %d entries, expected %d", p->rank, x->rank);
    TensorType *r = &f->res[0];
    *r = ir_type_make(x->dtype, x->rank, x->dims);
    for (int i = 0; i < p->rank; i++) {
        int64_t a = p->v[i] < 0 ? p->v[i] + x->rank : p->v[i];
        if (a < 0 || a >= x->rank || seen[a])
            return fail(f, "perm is not a permutation of 0..%d", x->rank - 1);
        seen[a] = 1;
        p->v[i] = a;
        r->dims[i] = x->dims[a];
    }
    return 0;
}

static int
rule_concat(Inf *f)
{
    const TensorType *x = T(f, 0);
    int *axis = &f->nd->attr.axis.axis;
    TypeBuf b1, b2;
    if (norm_axis(f, axis, x->rank) < 0)
        return -1;
    TensorType r = ir_type_make(x->dtype, x->rank, x->dims);
    for (int k = 1; k < f->nbase; k++) {
        const TensorType *y = T(f, k);
        int ok = y->dtype == x->dtype && y->rank == x->rank;
        for (int i = 0; ok && i < x->rank; i++)
            ok = i == *axis || y->dims[i] == x->dims[i];
        if (!ok)
            return fail(f, "operand %d %s does not match %s outside axis %d", k, ts(y, b1),
                        ts(x, b2), *axis);
        if (__builtin_add_overflow(r.dims[*axis], y->dims[*axis], &r.dims[*axis]))
            return fail(f, "result dim overflows");
    }
    f->res[0] = r;
    return 0;
}

static int
rule_split(Inf *f)
{
    const TensorType *x = T(f, 0);
    SplitAttr *s = &f->nd->attr.split;
    TypeBuf b;
    if (norm_axis(f, &s->axis, x->rank) < 0)
        return -1;
    int64_t dim = x->dims[s->axis], sum = 0;
    int all_zero = 1;
    for (int i = 0; i < s->n; i++)
        all_zero &= s->size[i] == 0;
    if (all_zero && dim % s->n)             /* no sizes given: equal parts */
        return fail(f, "cannot split %lld into %d equal parts", (long long)dim, s->n);
    for (int i = 0; i < s->n; i++) {
        if (all_zero)
            s->size[i] = dim / s->n;
        if (s->size[i] < 0)
            return fail(f, "part %d has size %lld", i, (long long)s->size[i]);
        if (__builtin_add_overflow(sum, s->size[i], &sum))
            sum = -1;
        f->res[i] = ir_type_make(x->dtype, x->rank, x->dims);
        f->res[i].dims[s->axis] = s->size[i];
    }
    if (sum != dim)
        return fail(f, "sizes sum to %lld, expected %lld (axis %d of %s)", (long long)sum,
                    (long long)dim, s->axis, ts(x, b));
    return 0;
}

static int64_t
clamp64(int64_t v, int64_t lo, int64_t hi)
{
    return v < lo ? lo : v > hi ? hi : v;
}

/* Clamps dim i of the slice numpy-style; returns the number of elements taken. */
static int64_t
slice_dim(SliceAttr *s, int i, int64_t dim)
{
    int64_t st = s->start[i] < 0 ? s->start[i] + dim : s->start[i];
    int64_t en = s->end[i] < 0 ? s->end[i] + dim : s->end[i];
    int64_t step = s->step[i];
    uint64_t n = 0;
    if (step > 0) {
        st = clamp64(st, 0, dim);
        en = clamp64(en, 0, dim);
        if (en > st)
            n = (uint64_t)(en - st - 1) / (uint64_t)step + 1;
    } else {
        st = clamp64(st, -1, dim - 1);
        en = clamp64(en, -1, dim - 1);
        if (st > en)
            n = (uint64_t)(st - en - 1) / (0 - (uint64_t)step) + 1;
        if (en == -1)
            en = -dim - 1;                 /* "before 0", spelled so it stays a fixed point */
    }
    s->start[i] = st;
    s->end[i] = en;
    return (int64_t)n;
}

static int
rule_slice(Inf *f)
{
    const TensorType *x = T(f, 0);
    SliceAttr *s = &f->nd->attr.slice;
    if (s->rank < 0 || s->rank > x->rank)
        return fail(f, "%d dims given for an operand of rank %d", s->rank, x->rank);
    for (int i = s->rank; i < x->rank; i++) {   /* trailing dims: full range */
        s->start[i] = 0;
        s->end[i] = x->dims[i];
        s->step[i] = 1;
    }
    s->rank = x->rank;
    TensorType *r = &f->res[0];
    *r = ir_type_make(x->dtype, x->rank, x->dims);
    for (int i = 0; i < x->rank; i++) {       /* a dim may come out empty (0) */
        if (s->step[i] == 0)
            return fail(f, "step must not be 0 (dim %d)", i);
        r->dims[i] = slice_dim(s, i, x->dims[i]);
    }
    return 0;
}

static int
rule_pad(Inf *f)
{
    const TensorType *x = T(f, 0);
    const PadAttr *p = &f->nd->attr.pad;
    if (p->rank != x->rank)
        return fail(f, "pads cover %d dims, operand has rank %d", p->rank, x->rank);
    TensorType *r = &f->res[0];
    *r = ir_type_make(x->dtype, x->rank, x->dims);
    for (int i = 0; i < x->rank; i++) {
        if (p->before[i] < 0 || p->after[i] < 0)
            return fail(f, "pads must be >= 0 (dim %d)", i);
        if (__builtin_add_overflow(r->dims[i], p->before[i], &r->dims[i]) ||
            __builtin_add_overflow(r->dims[i], p->after[i], &r->dims[i]))
            return fail(f, "result dim overflows");
    }
    return 0;
}

static int
rule_gather(Inf *f)
{
    const TensorType *x = T(f, 0), *idx = T(f, 1);
    int *axis = &f->nd->attr.axis.axis;
    if (need(f, 1, M_IDX) < 0 || norm_axis(f, axis, x->rank) < 0)
        return -1;
    if (x->rank - 1 + idx->rank > KILN_MAX_RANK)
        return fail(f, "result rank %d exceeds %d", x->rank - 1 + idx->rank, KILN_MAX_RANK);
    TensorType *r = &f->res[0];
    r->dtype = x->dtype;
    for (int i = 0; i < *axis; i++)
        r->dims[r->rank++] = x->dims[i];
    for (int i = 0; i < idx->rank; i++)
        r->dims[r->rank++] = idx->dims[i];
    for (int i = *axis + 1; i < x->rank; i++)
        r->dims[r->rank++] = x->dims[i];
    return 0;
}

/* ------------------------------------------------------------------ reductions */

/* Reducing no elements into a non-empty result: sum gives 0, prod 1, mean NaN, f32 max /
 * min -inf / +inf; integer max / min and argmax have no value, an error. */
static int
empty_reduce(Inf *f, const TensorType *x, const int *mark, const TensorType *r)
{
    Op op = f->nd->op;
    TypeBuf b;
    int64_t n = 1;
    for (int i = 0; i < x->rank; i++)
        if (mark[i])
            n *= x->dims[i] != 0;
    if (n || !dims_prod(r, 0, r->rank))
        return 0;
    if (op == OP_ARGMAX || ((op == OP_REDUCE_MAX || op == OP_REDUCE_MIN) && x->dtype != DT_F32))
        return fail(f, "reducing an empty axis of %s has no value%s", ts(x, b),
                    op == OP_ARGMAX ? "" : " (only f32 max/min give -inf/+inf)");
    return 0;
}

static int
rule_reduce(Inf *f)
{
    const TensorType *x = T(f, 0);
    ReduceAttr *r = &f->nd->attr.reduce;
    Op op = f->nd->op;
    int mark[KILN_MAX_RANK] = { 0 };
    if (need(f, 0, op == OP_REDUCE_MEAN ? M_F32 : M_NUM) < 0)
        return -1;
    if (op == OP_ARGMAX && r->naxes != 1)
        return fail(f, "expected exactly one axis, got %d", r->naxes);
    if (r->naxes < 0 || r->naxes > x->rank)
        return fail(f, "%d axes given for an operand of rank %d", r->naxes, x->rank);
    if (r->naxes == 0) {                   /* default: every dim */
        r->naxes = x->rank;
        for (int i = 0; i < x->rank; i++)
            r->axes[i] = i;
    }
    for (int i = 0; i < r->naxes; i++) {
        if (norm_axis(f, &r->axes[i], x->rank) < 0)
            return -1;
        if (mark[r->axes[i]]++)
            return fail(f, "axis %d given twice", r->axes[i]);
    }
    TensorType *t = &f->res[0];
    t->dtype = op == OP_ARGMAX ? DT_I64 : x->dtype;
    for (int i = 0, k = 0; i < x->rank; i++) {
        if (mark[i])
            r->axes[k++] = i;              /* sorted */
        if (!mark[i] || r->keepdims)
            t->dims[t->rank++] = mark[i] ? 1 : x->dims[i];
    }
    return empty_reduce(f, x, mark, t);
}

/* ------------------------------------------------------------------ types, quantization */

static int
rule_cast(Inf *f)
{
    const TensorType *x = T(f, 0);
    DType to = f->nd->attr.cast.to;
    if (to <= DT_NONE || to >= DT_COUNT)
        return fail(f, "invalid target type %d", (int)to);
    f->res[0] = ir_type_make(to, x->rank, x->dims);
    return 0;
}

static int
quant_count(Inf *f, QuantParams *q, const TensorType *x, int *want)
{
    switch (q->gran) {
    case QG_TENSOR:
        *want = 1;
        return 0;
    case QG_AXIS:
    case QG_GROUP: {
        if (norm_axis(f, &q->axis, x->rank) < 0)
            return -1;
        int64_t dim = x->dims[q->axis];
        if (q->gran == QG_GROUP && (q->group < 1 || dim % q->group))
            return fail(f, "group %d does not divide dim %d of size %lld", q->group, q->axis,
                        (long long)dim);
        int64_t n = q->gran == QG_GROUP ? dim / q->group : dim;
        if (n > 1 << 24)
            return fail(f, "%lld scales are too many", (long long)n);
        *want = (int)n;
        return 0;
    }
    default:
        return fail(f, "granularity not set");
    }
}

static int
quant_params_ok(Inf *f, QuantParams *q, const TensorType *x)
{
    int want = 0;
    if (q->bits < 2 || q->bits > 8)
        return fail(f, "bits must be 2..8, got %d", q->bits);
    if (quant_count(f, q, x, &want) < 0)
        return -1;
    if (q->nscale != want)
        return fail(f, "expected %d scales, got %d", want, q->nscale);
    if (q->nscale > 0 && (!q->scale || !q->zero))
        return fail(f, "scales or zero points missing");
    int lo = q->is_signed ? -(1 << (q->bits - 1)) : 0;
    int hi = q->is_signed ? (1 << (q->bits - 1)) - 1 : (1 << q->bits) - 1;
    for (int i = 0; i < q->nscale; i++) {
        if (!(q->scale[i] > 0) || !isfinite(q->scale[i]))
            return fail(f, "scale[%d] = %g must be positive and finite", i, (double)q->scale[i]);
        if (q->zero[i] < lo || q->zero[i] > hi)
            return fail(f, "zero[%d] = %d outside [%d, %d]", i, (int)q->zero[i], lo, hi);
    }
    return 0;
}

static int
same_quant(const QuantParams *a, const QuantParams *b)
{
    return a && a->bits == b->bits && a->is_signed == b->is_signed && a->gran == b->gran &&
           a->axis == b->axis && a->group == b->group && a->nscale == b->nscale &&
           memcmp(a->scale, b->scale, (size_t)a->nscale * sizeof *a->scale) == 0 &&
           memcmp(a->zero, b->zero, (size_t)a->nscale * sizeof *a->zero) == 0;
}

static int
rule_quantize(Inf *f)
{
    const TensorType *x = T(f, 0);
    QuantParams *q = &f->nd->attr.quant.q;
    if (need(f, 0, M_F32) < 0 || quant_params_ok(f, q, x) < 0)
        return -1;
    TensorType *r = &f->res[0];
    *r = ir_type_make(q->is_signed ? DT_I8 : DT_U8, x->rank, x->dims);
    QuantParams *old = f->g->values[f->nd->out[0]].type.quant;
    if (same_quant(old, q)) {              /* re-inference: keep the arena copy */
        r->quant = old;
        return 0;
    }
    QuantParams *c = arena_alloc(f->g->arena, sizeof *c);
    size_t n = (size_t)(q->nscale ? q->nscale : 1);
    *c = *q;
    c->scale = arena_alloc(f->g->arena, n * sizeof *c->scale);
    c->zero = arena_alloc(f->g->arena, n * sizeof *c->zero);
    memcpy(c->scale, q->scale, (size_t)q->nscale * sizeof *c->scale);
    memcpy(c->zero, q->zero, (size_t)q->nscale * sizeof *c->zero);
    r->quant = c;
    return 0;
}

static int
rule_dequantize(Inf *f)
{
    const TensorType *x = T(f, 0);
    if (!x->quant)
        return fail(f, "operand is not quantized");
    f->res[0] = ir_type_make(DT_F32, x->rank, x->dims);
    return 0;
}

static int
rule_exit_if(Inf *f)
{
    const TensorType *c = T(f, 0);
    TypeBuf b;
    if (c->dtype != DT_BOOL || dims_prod(c, 0, c->rank) != 1)
        return fail(f, "condition must be a bool with one element, got %s", ts(c, b));
    return 0;
}

/* ------------------------------------------------------------------ driver */

static int
rule(Inf *f)
{
    switch (f->nd->op) {
    case OP_MATMUL: return rule_matmul(f);
    case OP_CONV2D: return rule_conv2d(f);
    case OP_ADD: case OP_SUB: case OP_MUL: case OP_DIV: case OP_POW: case OP_MOD:
    case OP_FMOD: case OP_EQUAL: case OP_LESS: case OP_GREATER:
        return rule_binary(f);
    case OP_NEG: case OP_ABS: case OP_EXP: case OP_LOG: case OP_SQRT: case OP_RSQRT:
    case OP_ERF: case OP_RELU: case OP_LEAKY_RELU: case OP_RELU6: case OP_CLIP:
    case OP_SIGMOID: case OP_TANH: case OP_GELU: case OP_SILU: case OP_HARDSWISH:
    case OP_FLOOR: case OP_CEIL: case OP_ROUND: case OP_SIN: case OP_COS: case OP_TAN:
    case OP_ASIN: case OP_ACOS: case OP_ATAN: case OP_SINH: case OP_COSH: case OP_ASINH:
    case OP_ACOSH: case OP_ATANH:
        return rule_unary(f);
    case OP_SOFTMAX: case OP_LOG_SOFTMAX:
        return rule_softmax(f);
    case OP_LAYERNORM: case OP_RMSNORM: case OP_BATCHNORM:
        return rule_norm(f);
    case OP_MAXPOOL: case OP_AVGPOOL: case OP_GLOBAL_AVGPOOL:
        return rule_pool(f);
    case OP_RESHAPE: return rule_reshape(f);
    case OP_FLATTEN: return rule_flatten(f);
    case OP_TRANSPOSE: return rule_transpose(f);
    case OP_CONCAT: return rule_concat(f);
    case OP_SPLIT: return rule_split(f);
    case OP_SLICE: return rule_slice(f);
    case OP_PAD: return rule_pad(f);
    case OP_GATHER: return rule_gather(f);
    case OP_REDUCE_SUM: case OP_REDUCE_PROD: case OP_REDUCE_MEAN: case OP_REDUCE_MAX:
    case OP_REDUCE_MIN: case OP_ARGMAX:
        return rule_reduce(f);
    case OP_WHERE: return rule_where(f);
    case OP_CAST: return rule_cast(f);
    case OP_QUANTIZE: return rule_quantize(f);
    case OP_DEQUANTIZE: return rule_dequantize(f);
    case OP_EXIT_IF: return rule_exit_if(f);
    case OP_CONST: case OP_NONE: case OP_COUNT:
        break;
    }
    kiln_die("no shape rule for op %d", (int)f->nd->op);
}

/* Operand count, result count, and operand types every rule relies on. */
static int
check_operands(Inf *f)
{
    Node *nd = f->nd;
    Op op = nd->op;
    int want_out = op == OP_SPLIT ? nd->attr.split.n : op_nout[op];
    if (f->nbase < op_min_in[op] || (op_max_in[op] >= 0 && f->nbase > op_max_in[op]))
        return fail(f, "expected %d..%d operands, got %d", op_min_in[op], op_max_in[op],
                    f->nbase);
    if (op == OP_SPLIT && (want_out < 1 || want_out > KILN_MAX_SPLIT))
        return fail(f, "%d parts, expected 1..%d", want_out, KILN_MAX_SPLIT);
    if (nd->nout != want_out)
        return fail(f, "expected %d results, got %d", want_out, nd->nout);
    for (int k = 0; k < nd->nin; k++) {
        const TensorType *t = T(f, k);
        int quant_ok = op == OP_DEQUANTIZE || op == OP_EXIT_IF ||
                       ((op == OP_MATMUL || op == OP_CONV2D) && k == 1);
        if (t->dtype <= DT_NONE || t->dtype >= DT_COUNT)
            return fail(f, "operand %d has no type", k);
        if (t->quant && !quant_ok)
            return fail(f, "operand %d is quantized; dequantize it first", k);
    }
    return 0;
}

/* Each epilogue step must keep the result type; binary operands broadcast to it. */
static int
check_epilogue(Inf *f)
{
    const Node *nd = f->nd;
    const TensorType *r = &f->res[0];
    TypeBuf b1, b2;
    if (nd->nepi && (nd->nout != 1 || !(op_flags[nd->op] & (F_EPI_HOST | F_ELTWISE))))
        return fail(f, "cannot carry an epilogue");
    for (int i = 0; i < nd->nepi; i++) {
        const EpiStep *e = &nd->epi[i];
        TensorType bt;
        int valid = e->op > OP_NONE && e->op < OP_COUNT;
        if (!valid || !(op_flags[e->op] & F_ELTWISE) || (op_flags[e->op] & F_CMP))
            return fail(f, "epilogue step %d: %s cannot be fused", i,
                        valid ? op_name[e->op] : "an unknown op");
        if (!(eltwise_mask(e->op) & DM(r->dtype)))
            return fail(f, "epilogue step %d (%s): expected %s, got %s", i, op_name[e->op],
                        mask_name(eltwise_mask(e->op)), ir_dtype_name(r->dtype));
        if (!(op_flags[e->op] & F_BINARY))
            continue;
        if (e->arg < 0 || e->arg >= nd->nin)
            return fail(f, "epilogue step %d (%s): operand %d out of range", i,
                        op_name[e->op], e->arg);
        const TensorType *t = T(f, e->arg);
        if (t->dtype != r->dtype || ir_broadcast(r, t, &bt) < 0 || bt.rank != r->rank ||
            memcmp(bt.dims, r->dims, (size_t)r->rank * sizeof(int64_t)) != 0)
            return fail(f, "epilogue step %d (%s): cannot broadcast %s to the result %s", i,
                        op_name[e->op], ts(t, b1), ts(r, b2));
    }
    return 0;
}

static int
check_result(Inf *f, const TensorType *r)
{
    int64_t bytes;
    TypeBuf b;
    for (int i = 0; i < r->rank; i++)
        if (r->dims[i] < 0)
            return fail(f, "result %s has a negative dim", ts(r, b));
    if (ir_type_bytes(r, &bytes) < 0)
        return fail(f, "result %s is too large", ts(r, b));
    return 0;
}

int
ir_infer_node(Graph *g, NodeId n, Diag *d)
{
    Inf f = { .g = g, .nd = ir_node(g, n), .d = d };
    KILN_ASSERT(f.nd->op > OP_NONE && f.nd->op < OP_COUNT);
    if (f.nd->op == OP_CONST) {            /* typed when made */
        if (g->values[f.nd->out[0]].type.dtype == DT_NONE)
            return fail(&f, "constant has no type");
        return 0;
    }
    f.nbase = ir_node_nbase(f.nd);
    if (check_operands(&f) < 0 || rule(&f) < 0)
        return -1;
    for (int i = 0; i < f.nd->nout; i++)
        if (check_result(&f, &f.res[i]) < 0)
            return -1;
    if (check_epilogue(&f) < 0)
        return -1;
    for (int i = 0; i < f.nd->nout; i++)
        g->values[f.nd->out[i]].type = f.res[i];
    return 0;
}
