/* ir/verify.c — checks the invariants every stage may rely on: ids and schedule, operand
 * and result counts from ops.def, attribute sanity, epilogues, quantized and sparse types,
 * constant storage, exit_if against the graph outputs, and (when all types are known) that
 * re-running shape inference reproduces the recorded result types.
 *
 * Approach: one walk over the schedule in order, marking values defined as it goes, so a
 * use before its definition is caught.  Messages read "verify: %<node id> = <op> '<name of
 * result 0>': ..." at the node's location.  The graph is left exactly as it was found. */
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include "ir.h"
#include "util.h"

typedef struct {
    Graph   *g;              /* graph under check */
    Diag    *d;              /* error sink */
    int      nerr;           /* errors reported */
    uint8_t *defined;        /* [nvalue] 1 once defined (input, or result of a node seen) */
    uint8_t *seen;           /* [nnode] 1 once scheduled: a node scheduled twice is an error */
    NodeId   n;              /* node being checked; 0 for graph-level checks */
} Ver;

static void
bad(Ver *v, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Reports one error naming the current node (or the graph). */
static void
bad(Ver *v, const char *fmt, ...)
{
    char msg[768], who[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    SrcLoc loc = { 0 };
    if (v->n) {
        const Node *nd = &v->g->nodes[v->n];
        const char *name = nd->nout > 0 && nd->out[0] > 0 && nd->out[0] < v->g->nvalue
                         ? v->g->values[nd->out[0]].name : NULL;
        snprintf(who, sizeof who, "%%%u = %s%s%s%s", (unsigned)v->n,
                 nd->op > OP_NONE && nd->op < OP_COUNT ? op_name[nd->op] : "<deleted>",
                 name ? " '" : "", name ? name : "", name ? "'" : "");
        loc = nd->loc;
    } else {
        snprintf(who, sizeof who, "graph @%s", v->g->name ? v->g->name : "?");
    }
    diag_error(v->d, loc, "verify: %s: %s", who, msg);
    v->nerr++;
}

static int
valid_value(const Ver *v, ValueId x)
{
    return x > 0 && x < v->g->nvalue;
}

static const TensorType *
vtype(const Ver *v, ValueId x)
{
    return &v->g->values[x].type;
}

/* Operands the op reads itself: all but those only epilogue steps read (the smallest
 * binary step's index onwards). */
static int
own_operands(const Node *nd)
{
    int own = nd->nin;
    for (int i = 0; i < nd->nepi; i++)
        if (nd->epi[i].op > OP_NONE && nd->epi[i].op < OP_COUNT &&
            (op_flags[nd->epi[i].op] & F_BINARY) && nd->epi[i].arg >= 0 && nd->epi[i].arg < own)
            own = nd->epi[i].arg;
    return own;
}

/* ------------------------------------------------------------------ types */

static int
norm_axis(int axis, int rank)
{
    return axis < 0 ? axis + rank : axis;
}

/* Quantization parameters against the shape of t (t may be NULL: shape unknown). */
static void
check_quant(Ver *v, const char *what, const QuantParams *q, const TensorType *t)
{
    int lo, hi, want = -1;
    if (q->bits < 2 || q->bits > 8) {
        bad(v, "%s: quant bits must be 2..8, got %d", what, q->bits);
        return;
    }
    lo = q->is_signed ? -(1 << (q->bits - 1)) : 0;
    hi = q->is_signed ? (1 << (q->bits - 1)) - 1 : (1 << q->bits) - 1;
    if (q->gran <= QG_NONE || q->gran >= QG_COUNT) {
        bad(v, "%s: quant granularity not set", what);
        return;
    }
    if (q->gran == QG_TENSOR)
        want = 1;
    if (q->gran != QG_TENSOR && t && t->dtype != DT_NONE) {
        int ax = norm_axis(q->axis, t->rank);
        if (ax < 0 || ax >= t->rank) {
            bad(v, "%s: quant axis %d out of range for rank %d", what, q->axis, t->rank);
            return;
        }
        int64_t dim = t->dims[ax];
        if (q->gran == QG_GROUP && (q->group < 1 || dim % q->group)) {
            bad(v, "%s: quant group %d does not divide dim %d of size %lld", what, q->group,
                ax, (long long)dim);
            return;
        }
        want = (int)(q->gran == QG_GROUP ? dim / q->group : dim);
    }
    if (want >= 0 && q->nscale != want)
        bad(v, "%s: expected %d quant scales, got %d", what, want, q->nscale);
    if (q->nscale > 0 && (!q->scale || !q->zero)) {
        bad(v, "%s: quant scales or zero points missing", what);
        return;
    }
    for (int i = 0; i < q->nscale; i++) {
        if (!(q->scale[i] > 0) || !isfinite(q->scale[i]))
            bad(v, "%s: quant scale[%d] = %g must be positive and finite", what, i,
                (double)q->scale[i]);
        if (q->zero[i] < lo || q->zero[i] > hi)
            bad(v, "%s: quant zero[%d] = %d outside [%d, %d]", what, i, (int)q->zero[i], lo, hi);
    }
}

/* A value's type: quant params and dtype, sparse only on constants. */
static void
check_type(Ver *v, const char *what, const TensorType *t, int is_const)
{
    if (t->dtype < DT_NONE || t->dtype >= DT_COUNT || t->rank < 0 || t->rank > KILN_MAX_RANK) {
        bad(v, "%s: malformed type (dtype %d, rank %d)", what, (int)t->dtype, t->rank);
        return;
    }
    int64_t bytes;
    char buf[256];
    for (int i = 0; i < t->rank && t->dtype != DT_NONE; i++)
        if (t->dims[i] < 0) {
            bad(v, "%s: dim %d is %lld, expected >= 0", what, i, (long long)t->dims[i]);
            return;
        }
    if (t->dtype != DT_NONE && ir_type_bytes(t, &bytes) < 0)   /* also when a dim is 0 */
        bad(v, "%s: type %s overflows 64-bit sizes", what, ir_type_str(t, buf, sizeof buf));
    if (t->quant) {
        DType want = t->quant->is_signed ? DT_I8 : DT_U8;
        if (t->dtype != want)
            bad(v, "%s: %s quantized values must be %s, got %s", what,
                t->quant->is_signed ? "signed" : "unsigned", ir_dtype_name(want),
                ir_dtype_name(t->dtype));
        check_quant(v, what, t->quant, t);
    }
    if (t->sparse.kind != SP_DENSE && !is_const)
        bad(v, "%s: only constants may have a sparse encoding", what);
}

static int
elem_nonzero(const uint8_t *p, DType dt)
{
    if (dt == DT_F32) {
        float f;
        memcpy(&f, p, 4);
        return f != 0;
    }
    for (size_t i = 0; i < ir_dtype_size(dt); i++)
        if (p[i])
            return 1;
    return 0;
}

/* N:M: along the last dim, each run of m elements holds at most n non-zeros. */
static void
check_nm(Ver *v, const TensorType *t, const uint8_t *data, int64_t numel)
{
    const SparseFmt *s = &t->sparse;
    size_t sz = ir_dtype_size(t->dtype);
    int64_t last = t->rank ? t->dims[t->rank - 1] : 1;
    if (last % s->m) {
        bad(v, "sparse<%d:%d>: last dim %lld is not a multiple of %d", s->n, s->m,
            (long long)last, s->m);
        return;
    }
    for (int64_t g = 0; g < numel / s->m; g++) {
        int nz = 0;
        for (int64_t k = 0; k < s->m; k++)
            nz += elem_nonzero(data + (size_t)(g * s->m + k) * sz, t->dtype);
        if (nz > s->n) {
            bad(v, "sparse<%d:%d>: elements %lld..%lld hold %d non-zeros", s->n, s->m,
                (long long)(g * s->m), (long long)(g * s->m + s->m - 1), nz);
            return;
        }
    }
}

/* A constant's sparse encoding: valid parameters, and data that fits it. */
static void
check_sparse(Ver *v, const TensorType *t, const void *data, int64_t numel)
{
    const SparseFmt *s = &t->sparse;
    switch (s->kind) {
    case SP_DENSE:
        return;
    case SP_NM:
        if (s->n <= 0 || s->n >= s->m)
            bad(v, "sparse<%d:%d>: expected 0 < n < m", s->n, s->m);
        else if (data)
            check_nm(v, t, data, numel);
        return;
    case SP_CSR:
        if (t->rank < 2)
            bad(v, "sparse<csr>: needs rank >= 2, got %d", t->rank);
        return;
    case SP_BLOCK:
        if (s->block[0] < 1 || s->block[1] < 1)
            bad(v, "sparse<block %dx%d>: block sides must be >= 1", s->block[0], s->block[1]);
        else if (t->rank < 2)
            bad(v, "sparse<block>: needs rank >= 2, got %d", t->rank);
        else if (t->dims[t->rank - 2] % s->block[0] || t->dims[t->rank - 1] % s->block[1])
            bad(v, "sparse<block %dx%d>: blocks do not tile the last two dims %lldx%lld",
                s->block[0], s->block[1], (long long)t->dims[t->rank - 2],
                (long long)t->dims[t->rank - 1]);
        return;
    default:
        bad(v, "unknown sparse kind %d", (int)s->kind);
    }
}

/* Stored quantized values must lie in the range of their bit width. */
static void
check_quant_data(Ver *v, const TensorType *t, const void *data, int64_t numel)
{
    const QuantParams *q = t->quant;
    if (q->bits < 2 || q->bits > 8)
        return;                  /* reported by the type check */
    int lo = q->is_signed ? -(1 << (q->bits - 1)) : 0;
    int hi = q->is_signed ? (1 << (q->bits - 1)) - 1 : (1 << q->bits) - 1;
    for (int64_t i = 0; i < numel; i++) {
        int x = t->dtype == DT_I8 ? ((const int8_t *)data)[i] : ((const uint8_t *)data)[i];
        if (x < lo || x > hi) {
            bad(v, "quantized element %lld is %d, outside [%d, %d] for %d bits",
                (long long)i, x, lo, hi, q->bits);
            return;
        }
    }
}

static void
check_const(Ver *v, const Node *nd)
{
    const TensorType *t = vtype(v, nd->out[0]);
    StorageId s = nd->attr.cnst.storage;
    int64_t bytes = -1, numel = 0;
    if (t->dtype == DT_NONE) {
        bad(v, "constant has no type");
        return;
    }
    if (s == 0 || s >= v->g->nstorage || v->g->storage[s].kind <= STORE_NONE ||
        v->g->storage[s].kind >= STORE_COUNT) {
        bad(v, "constant has no storage");
        return;
    }
    const Storage *st = &v->g->storage[s];
    if (ir_type_bytes(t, &bytes) < 0 || ir_type_numel(t, &numel) < 0 ||
        (size_t)bytes != st->nbytes) {
        char buf[256];
        bad(v, "storage holds %zu bytes, type %s needs %lld", st->nbytes,
            ir_type_str(t, buf, sizeof buf), (long long)bytes);
        return;
    }
    if (!st->data && st->nbytes) {
        bad(v, "storage has no data");
        return;
    }
    check_sparse(v, t, st->data, numel);
    if (t->quant)
        check_quant_data(v, t, st->data, numel);
}

/* ------------------------------------------------------------------ attributes */

static void
check_pads(Ver *v, const char *what, const int *pad, int n)
{
    for (int i = 0; i < n; i++)
        if (pad[i] < 0)
            bad(v, "%s[%d] = %d, expected >= 0", what, i, pad[i]);
}

static void
check_pos(Ver *v, const char *what, const int *x, int n)
{
    for (int i = 0; i < n; i++)
        if (x[i] < 1)
            bad(v, "%s[%d] = %d, expected >= 1", what, i, x[i]);
}

static void
check_perm(Ver *v, const DimsAttr *p)
{
    uint8_t hit[KILN_MAX_RANK] = { 0 };
    if (p->rank < 0 || p->rank > KILN_MAX_RANK) {
        bad(v, "perm has %d entries, expected 0..%d", p->rank, KILN_MAX_RANK);
        return;
    }
    for (int i = 0; i < p->rank; i++) {
        int64_t x = p->v[i] < 0 ? p->v[i] + p->rank : p->v[i];
        if (x < 0 || x >= p->rank || hit[x]++) {
            bad(v, "perm is not a permutation of 0..%d", p->rank - 1);
            return;
        }
    }
}

static void
check_split(Ver *v, const Node *nd)
{
    const SplitAttr *s = &nd->attr.split;
    int64_t sum = 0;
    if (s->n < 1 || s->n > KILN_MAX_SPLIT) {
        bad(v, "split into %d parts, expected 1..%d", s->n, KILN_MAX_SPLIT);
        return;
    }
    for (int i = 0; i < s->n; i++) {
        if (s->size[i] < 0) {
            bad(v, "split size[%d] = %lld, expected >= 0", i, (long long)s->size[i]);
            return;
        }
        sum += s->size[i];
    }
    const TensorType *x = nd->nin > 0 && valid_value(v, nd->in[0]) ? vtype(v, nd->in[0]) : NULL;
    if (!x || x->dtype == DT_NONE)
        return;
    int ax = norm_axis(s->axis, x->rank);
    if (ax < 0 || ax >= x->rank)
        bad(v, "split axis %d out of range for rank %d", s->axis, x->rank);
    else if (sum != x->dims[ax])
        bad(v, "split sizes sum to %lld, expected dim %d of size %lld", (long long)sum, ax,
            (long long)x->dims[ax]);
}

static void
check_reduce(Ver *v, Op op, const ReduceAttr *r)
{
    if (r->naxes < 0 || r->naxes > KILN_MAX_RANK || (op == OP_ARGMAX && r->naxes != 1)) {
        bad(v, "%d reduction axes, expected %s", r->naxes, op == OP_ARGMAX ? "1" : "0..8");
        return;
    }
    for (int i = 0; i < r->naxes; i++)
        for (int k = 0; k < i; k++)
            if (r->axes[k] == r->axes[i])
                bad(v, "reduction axis %d given twice", r->axes[i]);
    if (r->keepdims != 0 && r->keepdims != 1)
        bad(v, "keepdims must be 0 or 1, got %d", r->keepdims);
}

static void
check_attr(Ver *v, const Node *nd)
{
    const Attr *a = &nd->attr;
    switch (op_attr[nd->op]) {
    case ATTR_MATMUL:
        if ((a->matmul.trans_a | a->matmul.trans_b) & ~1)
            bad(v, "trans_a and trans_b must be 0 or 1");
        break;
    case ATTR_CONV:
        check_pos(v, "stride", a->conv.stride, 2);
        check_pos(v, "dilation", a->conv.dilation, 2);
        check_pads(v, "pad", a->conv.pad, 4);
        check_pos(v, "groups", &a->conv.groups, 1);
        break;
    case ATTR_POOL:
        check_pos(v, "kernel", a->pool.kernel, 2);
        check_pos(v, "stride", a->pool.stride, 2);
        check_pads(v, "pad", a->pool.pad, 4);
        break;
    case ATTR_SCALAR:
        if (nd->op == OP_CLIP && !(a->scalar.a <= a->scalar.b))
            bad(v, "clip min %g is above max %g", (double)a->scalar.a, (double)a->scalar.b);
        break;
    case ATTR_AXIS:
        if (a->axis.axis < -KILN_MAX_RANK || a->axis.axis >= KILN_MAX_RANK)
            bad(v, "axis %d out of range", a->axis.axis);
        break;
    case ATTR_NORM:
        if (!(a->norm.eps > 0) || !isfinite(a->norm.eps))
            bad(v, "eps must be positive and finite, got %g", (double)a->norm.eps);
        break;
    case ATTR_SHAPE: {
        int ninfer = 0;
        for (int i = 0; i < a->dims.rank; i++) {
            ninfer += a->dims.v[i] == -1;
            if (a->dims.v[i] < -1)
                bad(v, "reshape dim %d is %lld, expected >= -1", i, (long long)a->dims.v[i]);
        }
        if (a->dims.rank < 0 || a->dims.rank > KILN_MAX_RANK || ninfer > 1)
            bad(v, "reshape shape must have 0..%d dims and at most one -1", KILN_MAX_RANK);
        break;
    }
    case ATTR_PERM:  check_perm(v, &a->dims); break;
    case ATTR_SPLIT: check_split(v, nd); break;
    case ATTR_SLICE:
        if (a->slice.rank < 0 || a->slice.rank > KILN_MAX_RANK)
            bad(v, "slice has %d dims, expected 0..%d", a->slice.rank, KILN_MAX_RANK);
        for (int i = 0; i < a->slice.rank && a->slice.rank <= KILN_MAX_RANK; i++)
            if (a->slice.step[i] == 0)
                bad(v, "slice step in dim %d is 0", i);
        break;
    case ATTR_PAD:
        if (a->pad.rank < 0 || a->pad.rank > KILN_MAX_RANK)
            bad(v, "pad has %d dims, expected 0..%d", a->pad.rank, KILN_MAX_RANK);
        for (int i = 0; i < a->pad.rank && a->pad.rank <= KILN_MAX_RANK; i++)
            if (a->pad.before[i] < 0 || a->pad.after[i] < 0)
                bad(v, "pads of dim %d must be >= 0", i);
        break;
    case ATTR_REDUCE: check_reduce(v, nd->op, &a->reduce); break;
    case ATTR_CAST:
        if (a->cast.to <= DT_NONE || a->cast.to >= DT_COUNT)
            bad(v, "cast target %d is not a dtype", (int)a->cast.to);
        break;
    case ATTR_QUANT:
        check_quant(v, "quantize attribute", &a->quant.q,
                    nd->nin > 0 && valid_value(v, nd->in[0]) ? vtype(v, nd->in[0]) : NULL);
        break;
    case ATTR_EXIT:
        if (a->exit.index < 1)
            bad(v, "exit index %d, expected >= 1", a->exit.index);
        break;
    default:
        break;
    }
}

/* ------------------------------------------------------------------ structure */

static void
check_epilogue(Ver *v, const Node *nd, int own)
{
    uint8_t *read = calloc((size_t)nd->nin + 1, 1);
    if (!read)
        kiln_die("out of memory");
    for (int i = 0; i < nd->nepi; i++) {
        const EpiStep *e = &nd->epi[i];
        if (e->op <= OP_NONE || e->op >= OP_COUNT || !(op_flags[e->op] & F_ELTWISE)) {
            bad(v, "epilogue step %d is not an elementwise op", i);
            continue;
        }
        if (!(op_flags[e->op] & F_BINARY)) {
            if (e->arg != -1)
                bad(v, "epilogue step %d (%s) is unary but reads operand %d", i,
                    op_name[e->op], e->arg);
            continue;
        }
        if (e->arg < 0 || e->arg >= nd->nin)
            bad(v, "epilogue step %d (%s) reads operand %d, the node has %d operands", i,
                op_name[e->op], e->arg, nd->nin);
        else
            read[e->arg] = 1;
    }
    for (int k = own; k < nd->nin; k++)
        if (!read[k])
            bad(v, "operand %d is read neither by %s nor by its epilogue", k, op_name[nd->op]);
    free(read);
}

/* Ids, counts and definitions; 0 when later checks may look at the node's values. */
static int
check_shape_of_node(Ver *v, const Node *nd)
{
    int own = own_operands(nd), ok = 1;
    int nout = nd->op == OP_SPLIT ? nd->attr.split.n : op_nout[nd->op];
    if (own < op_min_in[nd->op] || (op_max_in[nd->op] >= 0 && own > op_max_in[nd->op])) {
        if (op_max_in[nd->op] < 0)
            bad(v, "expected at least %d operands, got %d", op_min_in[nd->op], own);
        else if (op_min_in[nd->op] == op_max_in[nd->op])
            bad(v, "expected %d operand%s, got %d", op_min_in[nd->op],
                op_min_in[nd->op] == 1 ? "" : "s", own);
        else
            bad(v, "expected %d..%d operands, got %d", op_min_in[nd->op], op_max_in[nd->op], own);
    }
    if (nd->nout != nout)
        bad(v, "expected %d results, got %d", nout, nd->nout), ok = 0;
    for (int k = 0; k < nd->nin; k++) {
        if (!valid_value(v, nd->in[k]))
            bad(v, "operand %d is not a value (id %u)", k, (unsigned)nd->in[k]), ok = 0;
        else if (!v->defined[nd->in[k]])
            bad(v, "operand %d is used before it is defined", k), ok = 0;
    }
    for (int k = 0; k < nd->nout; k++) {
        ValueId x = nd->out[k];
        if (!valid_value(v, x) || v->g->values[x].def != v->n || v->g->values[x].res != k)
            bad(v, "result %d (id %u) does not point back to the node", k, (unsigned)x), ok = 0;
    }
    if (nd->nepi)
        check_epilogue(v, nd, own);
    return ok ? 0 : -1;
}

static void
check_exit(Ver *v, const Node *nd)
{
    const Graph *g = v->g;
    const TensorType *c = vtype(v, nd->in[0]);
    int64_t numel = 0;
    char a[256], b[256];
    if (c->dtype != DT_NONE &&
        (c->dtype != DT_BOOL || ir_type_numel(c, &numel) < 0 || numel != 1))
        bad(v, "condition must be a bool with one element, got %s", ir_type_str(c, a, sizeof a));
    if (nd->nin - 1 != g->noutput) {
        bad(v, "returns %d values, the graph has %d outputs", nd->nin - 1, g->noutput);
        return;
    }
    for (int k = 1; k < nd->nin; k++) {
        const TensorType *t = vtype(v, nd->in[k]);
        if (!valid_value(v, g->outputs[k - 1].value))
            continue;
        const TensorType *o = vtype(v, g->outputs[k - 1].value);
        if (t->dtype != DT_NONE && o->dtype != DT_NONE && !ir_type_equal(t, o))
            bad(v, "operand %d is %s but output '%s' is %s", k, ir_type_str(t, a, sizeof a),
                g->outputs[k - 1].name ? g->outputs[k - 1].name : "?",
                ir_type_str(o, b, sizeof b));
    }
}

/* A known type inference may compute with (a bad one was reported where it was made). */
static int
type_usable(const TensorType *t)
{
    if (t->dtype <= DT_NONE || t->dtype >= DT_COUNT || t->rank < 0 || t->rank > KILN_MAX_RANK)
        return 0;
    for (int i = 0; i < t->rank; i++)
        if (t->dims[i] < 0)
            return 0;
    return 1;
}

/* Re-runs shape inference when every type is known and compares, restoring the node. */
static void
check_inferred(Ver *v, Node *nd)
{
    TensorType saved[KILN_MAX_SPLIT];
    char a[256], b[256];
    if (nd->op == OP_CONST || nd->nout > KILN_MAX_SPLIT)
        return;
    for (int k = 0; k < nd->nin; k++)
        if (!type_usable(vtype(v, nd->in[k])))
            return;
    for (int k = 0; k < nd->nout; k++) {
        saved[k] = *vtype(v, nd->out[k]);
        if (!type_usable(&saved[k]))
            return;
    }
    Attr attr = nd->attr;      /* inference normalises the attribute in place */
    Diag tmp;
    diag_init(&tmp);
    int r = ir_infer_node(v->g, v->n, &tmp);
    nd = &v->g->nodes[v->n];
    if (r < 0)
        bad(v, "%s", tmp.nmsg ? tmp.msg[0].msg : "shape inference failed");
    for (int k = 0; r == 0 && k < nd->nout; k++)
        if (!ir_type_equal(&saved[k], vtype(v, nd->out[k])))
            bad(v, "result %d is recorded as %s but its operands give %s", k,
                ir_type_str(&saved[k], a, sizeof a), ir_type_str(vtype(v, nd->out[k]), b, sizeof b));
    for (int k = 0; k < nd->nout; k++)
        v->g->values[nd->out[k]].type = saved[k];
    nd->attr = attr;
    diag_free(&tmp);
}

static void
check_node(Ver *v, NodeId n)
{
    v->n = n;
    if (n == 0 || n >= v->g->nnode) {
        v->n = 0;
        bad(v, "schedule holds node id %u, out of range", (unsigned)n);
        return;
    }
    Node *nd = &v->g->nodes[n];
    if (nd->op <= OP_NONE || nd->op >= OP_COUNT) {
        bad(v, "deleted node in the schedule");
        return;
    }
    if (v->seen[n]++) {
        bad(v, "node is scheduled twice");
        return;
    }
    int before = v->nerr;
    if (check_shape_of_node(v, nd) < 0)
        return;
    check_attr(v, nd);
    for (int k = 0; k < nd->nout; k++) {
        char what[32];
        snprintf(what, sizeof what, "result %d", k);
        check_type(v, what, vtype(v, nd->out[k]), nd->op == OP_CONST);
    }
    if (nd->op == OP_CONST)
        check_const(v, nd);
    if (nd->op == OP_EXIT_IF && nd->nin > 0)
        check_exit(v, nd);

    if (v->nerr == before)      /* inference assumes what the checks above establish */
        check_inferred(v, nd);
    for (int k = 0; k < nd->nout; k++)
        v->defined[nd->out[k]] = 1;
}

static void
check_inputs(Ver *v)
{
    for (int i = 0; i < v->g->ninput; i++) {
        ValueId x = v->g->inputs[i];
        char what[64];
        if (!valid_value(v, x) || v->g->values[x].def != 0) {
            bad(v, "input %d is not a graph input value (id %u)", i, (unsigned)x);
            continue;
        }
        snprintf(what, sizeof what, "input %d '%s'", i,
                 v->g->values[x].name ? v->g->values[x].name : "");
        if (v->g->values[x].type.dtype == DT_NONE)
            bad(v, "%s has no type", what);
        check_type(v, what, &v->g->values[x].type, 0);
        v->defined[x] = 1;
    }
}

static void
check_outputs(Ver *v)
{
    v->n = 0;
    for (int i = 0; i < v->g->noutput; i++) {
        const Output *o = &v->g->outputs[i];
        const char *name = o->name ? o->name : "";
        if (!valid_value(v, o->value) || !v->defined[o->value])
            bad(v, "output %d '%s' is not a defined value", i, name);
        /* output names name files (`kiln run` writes <name>.npy) and API members */
        if (!name[0] || name[0] == '.' || strchr(name, '/'))
            bad(v, "output %d: name '%s' must be non-empty, not start with '.' and "
                "contain no '/'", i, name);
        for (int k = 0; k < i; k++)
            if (v->g->outputs[k].name && strcmp(v->g->outputs[k].name, name) == 0)
                bad(v, "output %d: name '%s' is already output %d", i, name, k);
    }
}

int
ir_verify(Graph *g, Diag *d)
{
    Ver v = { .g = g, .d = d };
    v.defined = calloc(g->nvalue ? g->nvalue : 1, 1);
    v.seen = calloc(g->nnode ? g->nnode : 1, 1);
    if (!v.defined || !v.seen)
        kiln_die("out of memory");
    check_inputs(&v);
    for (uint32_t i = 0; i < g->norder; i++)
        check_node(&v, g->order[i]);
    check_outputs(&v);
    free(v.defined);
    free(v.seen);
    return v.nerr ? -1 : 0;
}
