/* frontend/onnx/import.c — reads a .onnx file into a kiln IR graph.
 *
 * Approach: the file is mapped, pre-scanned for bounded nesting (wire.c), unpacked with
 * the protobuf-c code generated from onnx.proto, and walked once: initializers become
 * constants, graph inputs get static shapes (the model's or --shape fixes), nodes are
 * visited in a topological order computed here (so unsorted graphs work and cycles are
 * reported) and each is mapped through the op table in ops.c.  Every IR node is typed as
 * it is built and folded when its operands are constants, so shape subgraphs (Shape,
 * Gather, Concat, Unsqueeze, ...) collapse into the constants Reshape and friends need. */
#include <ctype.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include "onnx_internal.h"
#include "util.h"

/* ------------------------------------------------------------------ name maps */

static uint32_t
hash_str(const char *s)
{
    uint32_t h = 2166136261u;
    for (; *s; s++)
        h = (h ^ (uint8_t)*s) * 16777619u;
    return h;
}

void
onnx_names_init(NameMap *m)
{
    memset(m, 0, sizeof *m);
}

void
onnx_names_free(NameMap *m)
{
    free(m->key);
    free(m->val);
    memset(m, 0, sizeof *m);
}

int
onnx_names_get(const NameMap *m, const char *key, uint32_t *val)
{
    if (!m->cap)
        return 0;
    for (uint32_t i = hash_str(key) & (m->cap - 1); m->key[i]; i = (i + 1) & (m->cap - 1))
        if (strcmp(m->key[i], key) == 0) {
            if (val)
                *val = m->val[i];
            return 1;
        }
    return 0;
}

static void
names_grow(NameMap *m)
{
    NameMap n = { .cap = m->cap ? m->cap * 2 : 64 };
    n.key = calloc(n.cap, sizeof *n.key);
    n.val = calloc(n.cap, sizeof *n.val);
    if (!n.key || !n.val)
        kiln_die("out of memory");
    for (uint32_t i = 0; i < m->cap; i++) {
        if (!m->key[i])
            continue;
        uint32_t j = hash_str(m->key[i]) & (n.cap - 1);
        while (n.key[j])
            j = (j + 1) & (n.cap - 1);
        n.key[j] = m->key[i];
        n.val[j] = m->val[i];
        n.n++;
    }
    onnx_names_free(m);
    *m = n;
}

void
onnx_names_put(NameMap *m, Arena *a, const char *key, uint32_t val)
{
    if ((m->n + 1) * 2 > m->cap)
        names_grow(m);
    uint32_t i = hash_str(key) & (m->cap - 1);
    for (; m->key[i]; i = (i + 1) & (m->cap - 1))
        if (strcmp(m->key[i], key) == 0) {
            m->val[i] = val;
            return;
        }
    m->key[i] = arena_strdup(a, key);
    m->val[i] = val;
    m->n++;
}

/* ------------------------------------------------------------------ errors */

/* kind: 0 an error, 1 an unsupported variant, 2 an unclaimed op or element type */
static int
vreport(Imp *im, int kind, const char *fmt, va_list ap)
{
    char msg[1024];
    vsnprintf(msg, sizeof msg, fmt, ap);
    diag_error(im->d, im->loc, "%s", msg);
    if (kind > 0)
        im->o->unsupported = 1;
    if (kind > 1)
        im->o->unclaimed = 1;
    return -1;
}

int
imp_fail(Imp *im, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vreport(im, 0, fmt, ap);
    va_end(ap);
    return -1;
}

int
imp_unsupported(Imp *im, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vreport(im, 1, fmt, ap);
    va_end(ap);
    return -1;
}

int
imp_unclaimed(Imp *im, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vreport(im, 2, fmt, ap);
    va_end(ap);
    return -1;
}

/* ------------------------------------------------------------------ operands, results */

int
imp_nin(const Imp *im)
{
    return (int)im->node->n_input;
}

ValueId
imp_in(Imp *im, int k)
{
    uint32_t v = 0;
    if (k < 0 || k >= imp_nin(im) || !im->node->input[k][0])
        return 0;
    onnx_names_get(&im->names, im->node->input[k], &v);   /* checked by the scheduler */
    return v;
}

ValueId
imp_need(Imp *im, int k)
{
    ValueId v = imp_in(im, k);
    if (!v)
        imp_fail(im, "%s: expected operand %d, got %d operands", im->node->op_type, k,
                 imp_nin(im));
    return v;
}

const TensorType *
imp_type(Imp *im, ValueId v)
{
    return &ir_value(im->g, v)->type;
}

int
imp_nout(const Imp *im)
{
    return (int)im->node->n_output;
}

int
imp_out_used(const Imp *im, int k)
{
    return k < imp_nout(im) && im->node->output[k][0];
}

int
imp_set_out(Imp *im, int k, ValueId v)
{
    if (!imp_out_used(im, k))
        return 0;
    const char *name = im->node->output[k];
    if (onnx_names_get(&im->names, name, NULL))
        return imp_fail(im, "tensor '%s' is defined twice", name);
    onnx_names_put(&im->names, im->g->arena, name, v);
    if (!v)
        return 0;
    Value *val = ir_value(im->g, v);
    if (!val->name)
        val->name = arena_strdup(im->g->arena, name);
    return 0;
}

/* ------------------------------------------------------------------ building nodes */

const void *
imp_const_data(Imp *im, ValueId v)
{
    NodeId def = ir_value(im->g, v)->def;
    if (!def || ir_node(im->g, def)->op != OP_CONST)
        return NULL;
    return ir_const_data(im->g, def);
}

/* Evaluates node n when its operands are constants and its result is small; the node
 * becomes a constant in place.  Declines silently (the passes may fold it later). */
static void
fold(Imp *im, NodeId n)
{
    Graph *g = im->g;
    Node *nd = ir_node(g, n);
    int64_t bytes;
    /* dequantize stays: folding would turn 8-bit weights into f32 */
    if ((op_flags[nd->op] & F_NOFOLD) || nd->op == OP_DEQUANTIZE || nd->nout != 1 ||
        nd->nin > 64)
        return;
    const TensorType *rt = &g->values[nd->out[0]].type;
    if (rt->quant || ir_type_bytes(rt, &bytes) < 0 || bytes > ONNX_FOLD_BYTES)
        return;
    IrTensor in[64], out;
    for (int k = 0; k < nd->nin; k++) {
        const void *p = imp_const_data(im, nd->in[k]);
        if (!p)
            return;
        in[k] = (IrTensor){ g->values[nd->in[k]].type, (void *)p };
    }
    Diag local;
    diag_init(&local);
    memset(&out, 0, sizeof out);
    if (ir_interp_node(g, n, in, &out, &local) == 0) {
        StorageId s = ir_storage_mem(g, out.data, (size_t)bytes);
        nd = ir_node(g, n);
        nd->op = OP_CONST;
        nd->nin = 0;
        memset(&nd->attr, 0, sizeof nd->attr);
        nd->attr.cnst.storage = s;
        ir_tensor_free(&out);
    }
    diag_free(&local);
}

/* Data movement that commutes with per-tensor dequantization: applied to a quantized
 * tensor (Reshape or MaxPool between QLinear ops), it runs on the dequantized values and
 * the result is quantized back with the same parameters, which gives back exactly the
 * integers the ONNX op moves (an 8-bit q survives scale * (q - zero) and back). */
static int
requant_op(Op op)
{
    return op == OP_RESHAPE || op == OP_FLATTEN || op == OP_TRANSPOSE || op == OP_SLICE ||
           op == OP_GATHER || op == OP_MAXPOOL;
}

static int
emit_requant(Imp *im, Op op, const Attr *a, int nin, const ValueId *in, ValueId *out)
{
    Attr qa;
    ir_attr_default(OP_QUANTIZE, &qa);
    qa.quant.q = *imp_type(im, in[0])->quant;
    ValueId v[2] = { imp_emit1(im, OP_DEQUANTIZE, in[0]), nin > 1 ? in[1] : 0 };
    if (!v[0] || !(v[0] = imp_emit(im, op, a, nin, v)))
        return -1;
    *out = imp_emit(im, OP_QUANTIZE, &qa, 1, v);
    return *out ? 0 : -1;
}

int
imp_emit_n(Imp *im, Op op, const Attr *a, int nin, const ValueId *in, int nout, ValueId *out)
{
    const QuantParams *q0 = nin >= 1 && nin <= 2 ? imp_type(im, in[0])->quant : NULL;
    if (q0 && q0->gran == QG_TENSOR && nout == 1 && requant_op(op) &&
        !(nin == 2 && imp_type(im, in[1])->quant))
        return emit_requant(im, op, a, nin, in, out);
    for (int k = 0; k < nin; k++) {
        KILN_ASSERT(in[k] != 0);
        int weight = k == 1 && (op == OP_MATMUL || op == OP_CONV2D);
        if (imp_type(im, in[k])->quant && op != OP_DEQUANTIZE && !weight)
            return imp_unsupported(im, "%s: reading a quantized tensor other than through "
                                   "DequantizeLinear is not supported", im->node->op_type);
    }
    NodeId n = ir_node_new(im->g, op, nin, in, nout, im->loc);
    Node *nd = ir_node(im->g, n);
    if (a)
        nd->attr = *a;
    else
        ir_attr_default(op, &nd->attr);
    if (ir_infer_node(im->g, n, im->d) < 0)
        return -1;
    fold(im, n);
    for (int i = 0; i < nout; i++)
        out[i] = ir_node_out(im->g, n, i);
    return 0;
}

ValueId
imp_emit(Imp *im, Op op, const Attr *a, int nin, const ValueId *in)
{
    ValueId v;
    for (int k = 0; k < nin; k++)
        if (!in[k])
            return 0;                 /* an operand failed to build: already reported */
    return imp_emit_n(im, op, a, nin, in, 1, &v) < 0 ? 0 : v;
}

ValueId
imp_emit1(Imp *im, Op op, ValueId x)
{
    return imp_emit(im, op, NULL, 1, &x);
}

ValueId
imp_reduce(Imp *im, Op op, ValueId x, int naxes, const int64_t *axes, int keepdims)
{
    Attr a;
    if (!x)
        return 0;
    ir_attr_default(op, &a);
    a.reduce.naxes = naxes;
    for (int i = 0; i < naxes; i++)
        a.reduce.axes[i] = (int)axes[i];
    a.reduce.keepdims = keepdims;
    return imp_emit(im, op, &a, 1, &x);
}

ValueId
imp_emit2(Imp *im, Op op, ValueId x, ValueId y)
{
    ValueId in[2] = { x, y };
    return imp_emit(im, op, NULL, 2, in);
}

ValueId
imp_const(Imp *im, const TensorType *t, const void *data)
{
    int64_t bytes;
    KILN_ASSERT(ir_type_bytes(t, &bytes) == 0);
    StorageId s = ir_storage_mem(im->g, data, (size_t)bytes);
    return ir_node_out(im->g, ir_const_new(im->g, t, s, im->loc), 0);
}

ValueId
imp_scalar(Imp *im, DType dt, double v)
{
    IrTensor t = { .type = ir_type_make(dt, 0, NULL) };
    uint64_t buf = 0;
    t.data = &buf;
    switch (dt) {
    case DT_F32: { float f = (float)v; memcpy(&buf, &f, 4); break; }
    case DT_I32: { int32_t i = (int32_t)v; memcpy(&buf, &i, 4); break; }
    case DT_I64: { int64_t i = (int64_t)v; memcpy(&buf, &i, 8); break; }
    case DT_I8:  { int8_t i = (int8_t)v; memcpy(&buf, &i, 1); break; }
    case DT_U8:  { uint8_t i = (uint8_t)v; memcpy(&buf, &i, 1); break; }
    case DT_BOOL: { uint8_t i = v != 0; memcpy(&buf, &i, 1); break; }
    default: kiln_die("imp_scalar: bad dtype %d", (int)dt);
    }
    return imp_const(im, &t.type, t.data);
}

/* Element i of constant bytes p of type t as int64 (integer types and bool). */
static int64_t
geti(const TensorType *t, const void *p, int64_t i)
{
    switch (t->dtype) {
    case DT_I32: { int32_t v; memcpy(&v, (const char *)p + 4 * i, 4); return v; }
    case DT_I64: { int64_t v; memcpy(&v, (const char *)p + 8 * i, 8); return v; }
    case DT_I8:  return ((const int8_t *)p)[i];
    case DT_U8: case DT_BOOL: return ((const uint8_t *)p)[i];
    case DT_F32: { float v; memcpy(&v, (const char *)p + 4 * i, 4); return (int64_t)v; }
    default: return 0;
    }
}

static const void *
need_const(Imp *im, int k, ValueId v)
{
    const void *p = imp_const_data(im, v);
    if (!p)
        imp_unsupported(im, "%s: operand %d ('%s') must be a constant (an initializer or "
                        "computable from constants and static shapes)", im->node->op_type,
                        k, im->node->input[k]);
    return p;
}

int
imp_const_ints(Imp *im, int k, int64_t *out, int max, int *n)
{
    ValueId v = imp_need(im, k);
    if (!v)
        return -1;
    const TensorType *t = imp_type(im, v);
    const void *p = need_const(im, k, v);
    int64_t cnt;
    if (!p)
        return -1;
    if (t->dtype != DT_I64 && t->dtype != DT_I32)
        return imp_fail(im, "%s: operand %d: expected an int64 tensor, got %s",
                        im->node->op_type, k, ir_dtype_name(t->dtype));
    if (ir_type_numel(t, &cnt) < 0 || cnt > max || t->rank > 1) {
        char buf[200];
        return imp_unsupported(im, "%s: operand %d: expected at most %d integers in a 1-D "
                               "tensor, got %s", im->node->op_type, k, max,
                               ir_type_str(t, buf, sizeof buf));
    }
    for (int64_t i = 0; i < cnt; i++)
        out[i] = geti(t, p, i);
    *n = (int)cnt;
    return 0;
}

int
imp_const_float(Imp *im, int k, double *out)
{
    ValueId v = imp_need(im, k);
    if (!v)
        return -1;
    const TensorType *t = imp_type(im, v);
    const void *p = need_const(im, k, v);
    int64_t cnt;
    if (!p)
        return -1;
    if (ir_type_numel(t, &cnt) < 0 || cnt != 1)
        return imp_fail(im, "%s: operand %d: expected one value, got %lld",
                        im->node->op_type, k, (long long)cnt);
    if (t->dtype == DT_F32) {
        float f;
        memcpy(&f, p, 4);
        *out = f;
    } else {
        *out = (double)geti(t, p, 0);
    }
    return 0;
}

/* ------------------------------------------------------------------ attributes */

const Onnx__AttributeProto *
imp_attr(const Imp *im, const char *name)
{
    for (size_t i = 0; i < im->node->n_attribute; i++)
        if (im->node->attribute[i]->name && strcmp(im->node->attribute[i]->name, name) == 0)
            return im->node->attribute[i];
    return NULL;
}

int64_t
imp_attr_i(const Imp *im, const char *name, int64_t def)
{
    const Onnx__AttributeProto *a = imp_attr(im, name);
    return a && a->has_i ? a->i : def;
}

double
imp_attr_f(const Imp *im, const char *name, double def)
{
    const Onnx__AttributeProto *a = imp_attr(im, name);
    return a && a->has_f ? a->f : def;
}

int
imp_attr_ints(Imp *im, const char *name, int64_t *out, int max)
{
    const Onnx__AttributeProto *a = imp_attr(im, name);
    if (!a)
        return 0;
    if (a->n_ints > (size_t)max)
        return imp_unsupported(im, "%s: attribute '%s' has %zu values, at most %d supported",
                               im->node->op_type, name, a->n_ints, max);
    for (size_t i = 0; i < a->n_ints; i++)
        out[i] = a->ints[i];
    return (int)a->n_ints;
}

const char *
imp_attr_s(Imp *im, const char *name, const char *def)
{
    const Onnx__AttributeProto *a = imp_attr(im, name);
    if (!a || !a->has_s)
        return def;
    char *s = arena_alloc(im->g->arena, a->s.len + 1);
    memcpy(s, a->s.data, a->s.len);
    return s;
}

ValueId
imp_reshape(Imp *im, ValueId x, int rank, const int64_t *dims)
{
    Attr a;
    ir_attr_default(OP_RESHAPE, &a);
    a.dims.rank = rank;
    for (int i = 0; i < rank; i++)
        a.dims.v[i] = dims[i];
    return imp_emit(im, OP_RESHAPE, &a, 1, &x);
}

ValueId
imp_transpose(Imp *im, ValueId x, int rank, const int *perm)
{
    Attr a;
    ir_attr_default(OP_TRANSPOSE, &a);
    a.dims.rank = rank;
    for (int i = 0; i < rank; i++)
        a.dims.v[i] = perm[i];
    return imp_emit(im, OP_TRANSPOSE, &a, 1, &x);
}

ValueId
imp_where(Imp *im, ValueId c, ValueId x, ValueId y)
{
    ValueId in[3] = { c, x, y };
    return imp_emit(im, OP_WHERE, NULL, 3, in);
}
