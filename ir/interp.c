/* ir/interp.c — the reference interpreter: runs a shape-inferred graph with plain loops.
 * It is the oracle every backend is tested against, so its semantics are the spec.
 *
 * Approach: ir_interp_run walks g->order with one malloc'd buffer per value, freed after
 * its last read; inputs and constants are borrowed, never copied.  ir_interp_node checks
 * the operands against their values' types, allocates the results and dispatches on the
 * op (element access in interp.c, op families in interp_ops.c and interp_nn.c), then
 * applies the node's epilogue.  Semantics:
 *
 * - f32 math is computed in double and rounded to f32 once per op (per epilogue step too,
 *   so a fused chain gives exactly the unfused values); matmul, conv and reductions
 *   accumulate in double and round once.
 * - gelu: erf form 0.5*x*(1+erf(x/sqrt(2))); tanh form 0.5*x*(1+tanh(sqrt(2/pi)*(x +
 *   0.044715*x^3))).  silu x*sigmoid(x); sigmoid 1/(1+exp(-x)); hardswish x*relu6(x+3)/6;
 *   relu6 min(max(x,0),6); rsqrt 1/sqrt(x); leaky_relu x<0 ? alpha*x : x; clip
 *   min(max(x,lo),hi); pow(x,y) as C pow; fmod(x,y) as C fmod (sign of x); mod(x,y) is
 *   fmod plus y when the two differ in sign (sign of y, Python's %; a zero takes y's sign).
 * - softmax / log_softmax along the axis, stable (x - max); layernorm over dims axis..end:
 *   (x-mean)/sqrt(var+eps)*gamma+beta with the biased variance; rmsnorm
 *   x/sqrt(mean(x^2)+eps)*gamma; batchnorm (x-mean[c])/sqrt(var[c]+eps)*scale[c]+bias[c]
 *   with c the index along the channel axis.
 * - maxpool pads with -inf; avgpool divides by the in-bounds element count, or by
 *   kernel_h*kernel_w when count_pad; global_avgpool is the mean over H and W.
 * - integer add/sub/mul/neg/abs wrap modulo 2^bits; div truncates toward zero (C), and an
 *   integer division by zero is a run-time error; INT_MIN / -1 wraps to INT_MIN.
 *   Integer mod/fmod follow the float rules exactly; by 0 (and by -1) they give 0.
 *   Integer pow (i32/i64) multiplies by repeated squaring, wrapping; a negative exponent
 *   gives 1 for base 1, 1 or -1 (even or odd exponent) for base -1, else 0.
 *   reduce_sum and reduce_prod on ints wrap; reduce_mean is f32 only; argmax gives the
 *   first maximum (NaN never compares greater).
 * - cast: float -> int truncates toward zero, clamped to the type's range, NaN -> 0;
 *   int -> int wraps modulo 2^bits; -> bool is x != 0; -> f32 rounds to nearest.
 * - quantize: q = clamp(nearbyintf(x / scale) + zero, qmin, qmax) with x / scale a float
 *   division, round half to even, qmin/qmax the signed/unsigned range of `bits`, and the
 *   scale/zero of the element's tensor / axis index / group (index along axis / group).
 *   dequantize: scale * (float)(q - zero) in float.  Quantized matmul/conv weights are
 *   dequantized the same way on load.
 * - conv2d's bias joins the double accumulator; maxpool, reduce_max/min and argmax ignore
 *   NaN (it never compares greater or smaller).
 * - gather: negative indices count from the end of the axis; out of range is a run-time
 *   error naming the node.  pad fills with its value converted like cast.
 * - epilogue steps (Node.epi) run after the op on result 0, in order: acc = op(acc, x) or,
 *   with swap, op(x, acc), x = the step's operand broadcast to the result.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "ir.h"
#include "interp_impl.h"
#include "util.h"

/* ------------------------------------------------------------------ element access */

/* v modulo 2^bits as a two's complement value, without implementation-defined casts */
static int64_t
wrap(int64_t v, int bits)
{
    uint64_t m = ((uint64_t)1 << bits) - 1, u = (uint64_t)v & m;
    return u > (m >> 1) ? -(int64_t)(m - u) - 1 : (int64_t)u;
}

static int64_t
clampf_int(double v, double lo, double hi, int64_t ilo, int64_t ihi)
{
    if (isnan(v))
        return 0;
    if (v <= lo)
        return ilo;
    if (v >= hi)
        return ihi;
    return (int64_t)v;                     /* truncates toward zero */
}

double
interp_getf(const IrTensor *t, int64_t i)
{
    switch (t->type.dtype) {
    case DT_F32:  return ((const float *)t->data)[i];
    case DT_I32:  return ((const int32_t *)t->data)[i];
    case DT_I64:  return (double)((const int64_t *)t->data)[i];
    case DT_I8:   return ((const int8_t *)t->data)[i];
    case DT_U8:   return ((const uint8_t *)t->data)[i];
    case DT_BOOL: return ((const uint8_t *)t->data)[i] != 0;
    default:      kiln_die("interp: bad dtype %d", (int)t->type.dtype);
    }
}

int64_t
interp_geti(const IrTensor *t, int64_t i)
{
    switch (t->type.dtype) {
    case DT_F32:  return clampf_int(((const float *)t->data)[i], -9223372036854775808.0,
                                    9223372036854775808.0, INT64_MIN, INT64_MAX);
    case DT_I32:  return ((const int32_t *)t->data)[i];
    case DT_I64:  return ((const int64_t *)t->data)[i];
    case DT_I8:   return ((const int8_t *)t->data)[i];
    case DT_U8:   return ((const uint8_t *)t->data)[i];
    case DT_BOOL: return ((const uint8_t *)t->data)[i] != 0;
    default:      kiln_die("interp: bad dtype %d", (int)t->type.dtype);
    }
}

void
interp_setf(IrTensor *t, int64_t i, double v)
{
    switch (t->type.dtype) {
    case DT_F32:  ((float *)t->data)[i] = (float)v; break;
    case DT_I32:  ((int32_t *)t->data)[i] =
                      (int32_t)clampf_int(v, INT32_MIN, INT32_MAX, INT32_MIN, INT32_MAX); break;
    case DT_I64:  ((int64_t *)t->data)[i] =      /* 2^63 is exact in double */
                      clampf_int(v, -9223372036854775808.0, 9223372036854775808.0,
                                 INT64_MIN, INT64_MAX); break;
    case DT_I8:   ((int8_t *)t->data)[i] = (int8_t)clampf_int(v, -128, 127, -128, 127); break;
    case DT_U8:   ((uint8_t *)t->data)[i] = (uint8_t)clampf_int(v, 0, 255, 0, 255); break;
    case DT_BOOL: ((uint8_t *)t->data)[i] = v != 0; break;
    default:      kiln_die("interp: bad dtype %d", (int)t->type.dtype);
    }
}

void
interp_seti(IrTensor *t, int64_t i, int64_t v)
{
    switch (t->type.dtype) {
    case DT_F32:  ((float *)t->data)[i] = (float)v; break;
    case DT_I32:  ((int32_t *)t->data)[i] = (int32_t)wrap(v, 32); break;
    case DT_I64:  ((int64_t *)t->data)[i] = v; break;
    case DT_I8:   ((int8_t *)t->data)[i] = (int8_t)wrap(v, 8); break;
    case DT_U8:   ((uint8_t *)t->data)[i] = (uint8_t)((uint64_t)v & 0xff); break;
    case DT_BOOL: ((uint8_t *)t->data)[i] = v != 0; break;
    default:      kiln_die("interp: bad dtype %d", (int)t->type.dtype);
    }
}

int64_t
interp_numel(const TensorType *t)
{
    int64_t n;
    KILN_ASSERT(ir_type_numel(t, &n) == 0);
    return n;
}

void
interp_bstrides(const TensorType *t, const TensorType *to, int64_t *st)
{
    int64_t s = 1;
    for (int i = to->rank - 1; i >= 0; i--) {
        int k = i - (to->rank - t->rank);
        if (k < 0 || t->dims[k] == 1) {
            st[i] = 0;
        } else {
            st[i] = s;
        }
        if (k >= 0)
            s *= t->dims[k];
    }
}

int64_t
interp_boff(int64_t i, const TensorType *to, const int64_t *st)
{
    int64_t off = 0;
    for (int k = to->rank - 1; k >= 0; k--) {
        off += (i % to->dims[k]) * st[k];
        i /= to->dims[k];
    }
    return off;
}

const char *
interp_label(const Eval *e, char *buf, size_t len)
{
    const char *name = e->nd->nout ? e->g->values[e->nd->out[0]].name : NULL;
    if (name && *name)
        snprintf(buf, len, "%s '%s'", op_name[e->nd->op], name);
    else
        snprintf(buf, len, "%s", op_name[e->nd->op]);
    return buf;
}

int64_t
interp_qindex(const TensorType *t, const QuantParams *q, int64_t i)
{
    if (q->gran == QG_TENSOR)
        return 0;
    int64_t inner = 1;
    for (int k = q->axis + 1; k < t->rank; k++)
        inner *= t->dims[k];
    int64_t a = (i / inner) % t->dims[q->axis];
    return q->gran == QG_GROUP ? a / q->group : a;
}

double *
interp_load(const Eval *e, const IrTensor *t)
{
    int64_t n = interp_numel(&t->type);
    double *v = malloc((size_t)(n ? n : 1) * sizeof *v);
    char lb[128];
    if (!v) {
        diag_error(e->d, e->nd->loc, "%s: out of memory", interp_label(e, lb, sizeof lb));
        return NULL;
    }
    const QuantParams *q = t->type.quant;
    for (int64_t i = 0; i < n; i++) {
        if (q) {
            int64_t k = interp_qindex(&t->type, q, i);
            v[i] = q->scale[k] * (float)(interp_geti(t, i) - q->zero[k]);
        } else {
            v[i] = interp_getf(t, i);
        }
    }
    return v;
}

/* ------------------------------------------------------------------ one node */

/* acc = step(acc, in[arg]) elementwise over result 0, rounding to its dtype each step. */
static int
run_epilogue(Eval *e)
{
    IrTensor *r = &e->out[0];
    int64_t n = interp_numel(&r->type), st[KILN_MAX_RANK];
    int isf = r->type.dtype == DT_F32;
    for (int s = 0; s < e->nd->nepi; s++) {
        const EpiStep *ep = &e->nd->epi[s];
        if (!(op_flags[ep->op] & F_BINARY)) {
            for (int64_t i = 0; i < n; i++) {
                if (isf)
                    interp_setf(r, i, interp_unary_f(ep->op, &ep->attr, interp_getf(r, i)));
                else
                    interp_seti(r, i, interp_unary_i(ep->op, interp_geti(r, i)));
            }
            continue;
        }
        const IrTensor *b = &e->in[ep->arg];
        interp_bstrides(&b->type, &r->type, st);
        for (int64_t i = 0; i < n; i++) {
            int64_t j = interp_boff(i, &r->type, st);
            if (isf) {
                double x = interp_getf(r, i), y = interp_getf(b, j);
                interp_setf(r, i, ep->swap ? interp_binary_f(ep->op, y, x)
                                           : interp_binary_f(ep->op, x, y));
            } else {
                int64_t x = interp_geti(r, i), y = interp_geti(b, j), v;
                if (interp_binary_i(e, ep->op, ep->swap ? y : x, ep->swap ? x : y, &v) < 0)
                    return -1;
                interp_seti(r, i, v);
            }
        }
    }
    return 0;
}

static int
dispatch(Eval *e)
{
    switch (e->nd->op) {
    case OP_MATMUL: return interp_matmul(e);
    case OP_CONV2D: return interp_conv2d(e);
    case OP_ADD: case OP_SUB: case OP_MUL: case OP_DIV: case OP_POW: case OP_MOD:
    case OP_FMOD: case OP_EQUAL: case OP_LESS: case OP_GREATER:
    case OP_NEG: case OP_ABS: case OP_EXP: case OP_LOG: case OP_SQRT: case OP_RSQRT:
    case OP_ERF: case OP_RELU: case OP_LEAKY_RELU: case OP_RELU6: case OP_CLIP:
    case OP_SIGMOID: case OP_TANH: case OP_GELU: case OP_SILU: case OP_HARDSWISH:
    case OP_FLOOR: case OP_CEIL: case OP_ROUND: case OP_SIN: case OP_COS: case OP_TAN:
    case OP_ASIN: case OP_ACOS: case OP_ATAN: case OP_SINH: case OP_COSH: case OP_ASINH:
    case OP_ACOSH: case OP_ATANH:
        return interp_eltwise(e);
    case OP_SOFTMAX: case OP_LOG_SOFTMAX:
        return interp_softmax(e);
    case OP_LAYERNORM: case OP_RMSNORM: case OP_BATCHNORM:
        return interp_norm(e);
    case OP_MAXPOOL: case OP_AVGPOOL: case OP_GLOBAL_AVGPOOL:
        return interp_pool(e);
    case OP_RESHAPE: case OP_FLATTEN: case OP_TRANSPOSE: case OP_CONCAT: case OP_SPLIT:
    case OP_SLICE: case OP_PAD: case OP_GATHER:
        return interp_move(e);
    case OP_REDUCE_SUM: case OP_REDUCE_PROD: case OP_REDUCE_MEAN: case OP_REDUCE_MAX:
    case OP_REDUCE_MIN: case OP_ARGMAX:
        return interp_reduce(e);
    case OP_WHERE: return interp_where(e);
    case OP_CAST: return interp_cast(e);
    case OP_QUANTIZE: return interp_quantize(e);
    case OP_DEQUANTIZE: return interp_dequantize(e);
    case OP_CONST: case OP_EXIT_IF: case OP_NONE: case OP_COUNT:
        break;
    }
    kiln_die("interp: no evaluation for op %d", (int)e->nd->op);
}

void
ir_tensor_free(IrTensor *t)
{
    if (!t)
        return;
    free(t->data);
    t->data = NULL;
}

/* Operands must have their values' types (same dtype and dims). */
static int
check_inputs(const Eval *e)
{
    char lb[128], b1[200], b2[200];
    for (int k = 0; k < e->nd->nin; k++) {
        const TensorType *want = &e->g->values[e->nd->in[k]].type;
        const TensorType *got = &e->in[k].type;
        if (want->dtype == DT_NONE) {
            diag_error(e->d, e->nd->loc, "%s: operand %d has no type (run shape-infer first)",
                       interp_label(e, lb, sizeof lb), k);
            return -1;
        }
        if (got->dtype != want->dtype || got->rank != want->rank || !e->in[k].data ||
            memcmp(got->dims, want->dims, (size_t)want->rank * sizeof(int64_t)) != 0) {
            diag_error(e->d, e->nd->loc, "%s: operand %d: expected %s, got %s",
                       interp_label(e, lb, sizeof lb), k, ir_type_str(want, b1, sizeof b1),
                       ir_type_str(got, b2, sizeof b2));
            return -1;
        }
    }
    return 0;
}

static int
alloc_outputs(Eval *e)
{
    char lb[128];
    for (int i = 0; i < e->nd->nout; i++) {
        const TensorType *t = &e->g->values[e->nd->out[i]].type;
        int64_t bytes;
        if (t->dtype == DT_NONE || ir_type_bytes(t, &bytes) < 0) {
            diag_error(e->d, e->nd->loc, "%s: result %d has no valid type (run shape-infer "
                       "first)", interp_label(e, lb, sizeof lb), i);
            return -1;
        }
        e->out[i].type = *t;
        e->out[i].data = calloc(1, (size_t)(bytes ? bytes : 1));
        if (!e->out[i].data) {
            diag_error(e->d, e->nd->loc, "%s: out of memory (%lld bytes)",
                       interp_label(e, lb, sizeof lb), (long long)bytes);
            return -1;
        }
    }
    return 0;
}

/* A constant's storage must hold exactly its type's bytes (the verifier's rule too). */
static int
const_ok(const Graph *g, NodeId n, Diag *d)
{
    const Node *nd = &g->nodes[n];
    const TensorType *t = &g->values[nd->out[0]].type;
    int64_t bytes;
    StorageId s = nd->attr.cnst.storage;
    if (s == 0 || s >= g->nstorage || ir_type_bytes(t, &bytes) < 0 || t->dtype == DT_NONE ||
        !g->storage[s].data || g->storage[s].nbytes != (size_t)bytes) {
        diag_error(d, nd->loc, "const: storage does not match the constant's type");
        return -1;
    }
    return 0;
}

int
ir_interp_node(const Graph *g, NodeId n, const IrTensor *in, IrTensor *out, Diag *d)
{
    const Node *nd = &g->nodes[n];
    KILN_ASSERT(n > 0 && n < g->nnode && nd->op != OP_NONE);
    KILN_ASSERT(nd->op != OP_EXIT_IF);     /* control flow is ir_interp_run's */
    Eval e = { g, nd, in, out, d };
    for (int i = 0; i < nd->nout; i++)
        out[i].data = NULL;
    if (nd->op == OP_CONST) {
        if (const_ok(g, n, d) < 0 || alloc_outputs(&e) < 0)
            return -1;
        memcpy(out[0].data, ir_const_data(g, n), g->storage[nd->attr.cnst.storage].nbytes);
        return 0;
    }
    if (check_inputs(&e) < 0)
        return -1;
    /* evaluate with the operand values' own types (their quant params included) */
    IrTensor *canon = malloc((size_t)(nd->nin ? nd->nin : 1) * sizeof *canon);
    if (!canon)
        kiln_die("out of memory");
    for (int k = 0; k < nd->nin; k++)
        canon[k] = (IrTensor){ g->values[nd->in[k]].type, in[k].data };
    e.in = canon;
    int st = alloc_outputs(&e) < 0 || dispatch(&e) < 0 || (nd->nepi && run_epilogue(&e) < 0);
    free(canon);
    if (st) {
        for (int i = 0; i < nd->nout; i++)
            ir_tensor_free(&out[i]);
        return -1;
    }
    return 0;
}

/* ------------------------------------------------------------------ whole graph */

typedef struct {
    const Graph *g;
    IrTensor    *val;      /* per ValueId; data NULL until computed */
    uint8_t     *owned;    /* per ValueId: val[v].data is malloc'd here */
    uint32_t    *last;     /* per ValueId: schedule position of the last read */
    Diag        *d;
} Run;

static void
run_free(Run *r)
{
    if (r->val)
        for (uint32_t v = 1; v < r->g->nvalue; v++)
            if (r->owned[v])
                free(r->val[v].data);
    free(r->val);
    free(r->owned);
    free(r->last);
}

static int
bind_inputs(Run *r, const IrTensor *inputs)
{
    char b1[200], b2[200];
    for (int i = 0; i < r->g->ninput; i++) {
        ValueId v = r->g->inputs[i];
        const TensorType *want = &r->g->values[v].type, *got = &inputs[i].type;
        if (got->dtype != want->dtype || got->rank != want->rank || !inputs[i].data ||
            memcmp(got->dims, want->dims, (size_t)want->rank * sizeof(int64_t)) != 0) {
            diag_error(r->d, (SrcLoc){ 0 }, "input '%s': expected %s, got %s",
                       r->g->values[v].name ? r->g->values[v].name : "?",
                       ir_type_str(want, b1, sizeof b1), ir_type_str(got, b2, sizeof b2));
            return -1;
        }
        r->val[v] = (IrTensor){ *want, inputs[i].data };
    }
    return 0;
}

/* Copies the values of `src` into freshly malloc'd outputs. */
static int
copy_outputs(Run *r, const ValueId *src, IrTensor *outputs)
{
    for (int k = 0; k < r->g->noutput; k++)
        outputs[k].data = NULL;
    for (int k = 0; k < r->g->noutput; k++) {
        const IrTensor *t = &r->val[src[k]];
        int64_t bytes;
        if (!t->data) {
            diag_error(r->d, (SrcLoc){ 0 }, "interp: output '%s' is never computed",
                       r->g->outputs[k].name);
            for (int j = 0; j < k; j++)
                ir_tensor_free(&outputs[j]);
            return -1;
        }
        KILN_ASSERT(ir_type_bytes(&t->type, &bytes) == 0);
        /* dtype and shape only: quant params live in the graph's arena, which may be
         * freed before the outputs */
        outputs[k].type = ir_type_make(t->type.dtype, t->type.rank, t->type.dims);
        outputs[k].data = malloc((size_t)(bytes ? bytes : 1));
        if (!outputs[k].data) {
            diag_error(r->d, (SrcLoc){ 0 }, "interp: out of memory for output '%s'",
                       r->g->outputs[k].name);
            for (int j = 0; j < k; j++)
                ir_tensor_free(&outputs[j]);
            return -1;
        }
        memcpy(outputs[k].data, t->data, (size_t)bytes);
    }
    return 0;
}

/* Frees operands of the node at schedule position pos that are not read later. */
static void
release(Run *r, const Node *nd, uint32_t pos)
{
    for (int k = 0; k < nd->nin; k++) {
        ValueId v = nd->in[k];
        if (r->owned[v] && r->last[v] == pos) {
            free(r->val[v].data);
            r->val[v].data = NULL;
            r->owned[v] = 0;
        }
    }
}

static int
run_node(Run *r, NodeId n)
{
    const Node *nd = &r->g->nodes[n];
    IrTensor out[KILN_MAX_SPLIT];
    KILN_ASSERT(nd->nout <= KILN_MAX_SPLIT);
    if (nd->op == OP_CONST) {              /* borrow the constant's bytes */
        if (const_ok(r->g, n, r->d) < 0)
            return -1;
        r->val[nd->out[0]] = (IrTensor){ r->g->values[nd->out[0]].type,
                                         (void *)ir_const_data(r->g, n) };
        return 0;
    }
    IrTensor *in = malloc((size_t)(nd->nin ? nd->nin : 1) * sizeof *in);
    if (!in)
        kiln_die("out of memory");
    for (int k = 0; k < nd->nin; k++)
        in[k] = r->val[nd->in[k]];
    int st = ir_interp_node(r->g, n, in, out, r->d);
    free(in);
    if (st < 0)
        return -1;
    for (int i = 0; i < nd->nout; i++) {
        r->val[nd->out[i]] = out[i];
        r->owned[nd->out[i]] = 1;
    }
    return 0;
}

/* exit_if: 1 if taken (outputs filled), 0 if not, -1 on error. */
static int
run_exit(Run *r, const Node *nd, IrTensor *outputs, int *exit_taken)
{
    char b[200];
    if (!r->val[nd->in[0]].data || interp_numel(&r->val[nd->in[0]].type) != 1 ||
        r->val[nd->in[0]].type.dtype != DT_BOOL) {
        diag_error(r->d, nd->loc, "exit_if: condition must be a bool with one element, got %s",
                   ir_type_str(&r->val[nd->in[0]].type, b, sizeof b));
        return -1;
    }
    if (!((const uint8_t *)r->val[nd->in[0]].data)[0])
        return 0;
    if (nd->nin - 1 != r->g->noutput) {
        diag_error(r->d, nd->loc, "exit_if: %d values returned, the graph has %d outputs",
                   nd->nin - 1, r->g->noutput);
        return -1;
    }
    if (copy_outputs(r, nd->in + 1, outputs) < 0)
        return -1;
    *exit_taken = nd->attr.exit.index;
    return 1;
}

static int
run_alloc(Run *r)
{
    const Graph *g = r->g;
    r->val = calloc(g->nvalue, sizeof *r->val);
    r->owned = calloc(g->nvalue, 1);
    r->last = calloc(g->nvalue, sizeof *r->last);
    if (!r->val || !r->owned || !r->last)
        return -1;
    for (uint32_t i = 0; i < g->norder; i++) {
        const Node *nd = &g->nodes[g->order[i]];
        for (int k = 0; k < nd->nin; k++)
            r->last[nd->in[k]] = i;
    }
    for (int k = 0; k < g->noutput; k++)
        r->last[g->outputs[k].value] = UINT32_MAX;     /* never released */
    return 0;
}

/* The main path's results: the graph outputs. */
static int
main_outputs(Run *r, IrTensor *outputs)
{
    const Graph *g = r->g;
    ValueId *src = malloc((size_t)(g->noutput ? g->noutput : 1) * sizeof *src);
    if (!src)
        kiln_die("out of memory");
    for (int k = 0; k < g->noutput; k++)
        src[k] = g->outputs[k].value;
    int st = copy_outputs(r, src, outputs);
    free(src);
    return st;
}

int
ir_interp_run(const Graph *g, const IrTensor *inputs, IrTensor *outputs, int *exit_taken,
              Diag *d)
{
    Run r = { .g = g, .d = d };
    int st = -1;
    *exit_taken = 0;
    if (run_alloc(&r) < 0) {
        diag_error(d, (SrcLoc){ 0 }, "interp: out of memory");
        goto done;
    }
    if (bind_inputs(&r, inputs) < 0)
        goto done;
    for (uint32_t i = 0; i < g->norder; i++) {
        const Node *nd = &g->nodes[g->order[i]];
        if (nd->op == OP_NONE)
            continue;
        if (nd->op == OP_EXIT_IF) {
            int taken = run_exit(&r, nd, outputs, exit_taken);
            if (taken != 0) {
                st = taken > 0 ? 0 : -1;
                goto done;
            }
        } else if (run_node(&r, g->order[i]) < 0) {
            goto done;
        }
        release(&r, nd, i);
    }
    st = main_outputs(&r, outputs);
done:
    run_free(&r);
    return st;
}
