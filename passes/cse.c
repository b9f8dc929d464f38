/* passes/cse.c — common subexpression elimination: a node identical to an earlier one
 * (same op, operands, attribute, epilogue, annotations and result types) reuses the earlier
 * node's results; constants with equal type and bytes are shared the same way.
 * requires: shapes   preserves: shapes   breaks: plan
 * Approach: one forward sweep with a hash table of the nodes kept so far.  Operands are
 * first rewritten through the replacements made earlier in the sweep, so chains of
 * duplicates collapse in one pass.  F_COMMUTE ops compare their two operands as a sorted
 * pair.  Only earlier values are reused, so nothing moves across an exit_if barrier, and
 * exit_if itself is never merged. */
#include <string.h>
#include "passes.h"
#include "util.h"

enum { HASH_BYTES = 4096 };  /* constant bytes hashed; equality still compares them all */

typedef struct {
    NodeId  *slot;           /* open addressing, 0 = empty */
    uint32_t mask;           /* capacity - 1, capacity a power of two */
} Table;

static uint64_t
fnv(uint64_t h, const void *p, size_t n)
{
    const unsigned char *b = p;
    for (size_t i = 0; i < n; i++)
        h = (h ^ b[i]) * 1099511628211ull;
    return h;
}

/* Bytes of the Attr member that op_attr[op] selects; QuantAttr is compared field-wise. */
static size_t
attr_size(Op op)
{
    switch (op_attr[op]) {
    case ATTR_NONE:   return 0;
    case ATTR_CONST:  return sizeof(ConstAttr);
    case ATTR_MATMUL: return sizeof(MatmulAttr);
    case ATTR_CONV:   return sizeof(ConvAttr);
    case ATTR_POOL:   return sizeof(PoolAttr);
    case ATTR_SCALAR: return sizeof(ScalarAttr);
    case ATTR_GELU:   return sizeof(GeluAttr);
    case ATTR_AXIS:   return sizeof(AxisAttr);
    case ATTR_NORM:   return sizeof(NormAttr);
    case ATTR_SHAPE:
    case ATTR_PERM:   return sizeof(DimsAttr);
    case ATTR_SPLIT:  return sizeof(SplitAttr);
    case ATTR_SLICE:  return sizeof(SliceAttr);
    case ATTR_PAD:    return sizeof(PadAttr);
    case ATTR_REDUCE: return sizeof(ReduceAttr);
    case ATTR_CAST:   return sizeof(CastAttr);
    case ATTR_QUANT:  return 0;
    case ATTR_EXIT:   return sizeof(ExitAttr);
    case ATTR_COUNT:  break;
    }
    kiln_die("bad attribute kind %d of %s", (int)op_attr[op], op_name[op]);
}

static int
quant_equal(const QuantParams *a, const QuantParams *b)
{
    if (a->bits != b->bits || a->is_signed != b->is_signed || a->gran != b->gran ||
        a->axis != b->axis || a->group != b->group || a->nscale != b->nscale)
        return 0;
    return a->nscale == 0 || (memcmp(a->scale, b->scale, (size_t)a->nscale * sizeof(float)) == 0 &&
                              memcmp(a->zero, b->zero, (size_t)a->nscale * sizeof(int32_t)) == 0);
}

static int
attr_equal(Op op, const Attr *a, const Attr *b)
{
    if (op_attr[op] == ATTR_QUANT)
        return quant_equal(&a->quant.q, &b->quant.q);
    return memcmp(a, b, attr_size(op)) == 0;
}

/* Operand i of nd in canonical order: a commutative pair is sorted by value id. */
static ValueId
operand(const Node *nd, int i)
{
    if ((op_flags[nd->op] & F_COMMUTE) && nd->nin >= 2 && i < 2 && nd->in[0] > nd->in[1])
        return nd->in[1 - i];
    return nd->in[i];
}

static uint64_t
node_hash(const Graph *g, const Node *nd)
{
    uint64_t h = fnv(1469598103934665603ull, &nd->op, sizeof nd->op);
    if (nd->op == OP_CONST) {
        const Storage *s = &g->storage[nd->attr.cnst.storage];
        h = fnv(h, &s->nbytes, sizeof s->nbytes);
        return fnv(h, s->data, s->nbytes < HASH_BYTES ? s->nbytes : HASH_BYTES);
    }
    for (int i = 0; i < nd->nin; i++) {
        ValueId v = operand(nd, i);
        h = fnv(h, &v, sizeof v);
    }
    h = fnv(h, &nd->nepi, sizeof nd->nepi);
    return fnv(h, &nd->attr, attr_size(nd->op));
}

static int
epi_equal(const Node *a, const Node *b)
{
    if (a->nepi != b->nepi)
        return 0;
    for (int i = 0; i < a->nepi; i++) {
        const EpiStep *x = &a->epi[i], *y = &b->epi[i];
        if (x->op != y->op || x->swap != y->swap || (x->arg < 0) != (y->arg < 0) ||
            (x->arg >= 0 && a->in[x->arg] != b->in[y->arg]) ||
            !attr_equal(x->op, &x->attr, &y->attr))
            return 0;
    }
    return 1;
}

static int
const_equal(const Graph *g, const Node *a, const Node *b)
{
    const Storage *x = &g->storage[a->attr.cnst.storage], *y = &g->storage[b->attr.cnst.storage];
    return x->nbytes == y->nbytes && (x->data == y->data || memcmp(x->data, y->data, x->nbytes) == 0);
}

static int
node_equal(const Graph *g, const Node *a, const Node *b)
{
    if (a->op != b->op || a->nin != b->nin || a->nout != b->nout)
        return 0;
    for (int k = 0; k < a->nout; k++)
        if (!ir_type_equal(&g->values[a->out[k]].type, &g->values[b->out[k]].type))
            return 0;
    if (a->op == OP_CONST)
        return const_equal(g, a, b);
    for (int i = 0; i < a->nin; i++)
        if (operand(a, i) != operand(b, i))
            return 0;
    return attr_equal(a->op, &a->attr, &b->attr) && epi_equal(a, b) && pass_annots_equal(a, b);
}

/* The kept node equal to n, or 0 after inserting n as the first of its kind. */
static NodeId
find_or_insert(const Graph *g, Table *t, NodeId n)
{
    const Node *nd = &g->nodes[n];
    for (uint32_t i = (uint32_t)node_hash(g, nd) & t->mask;; i = (i + 1) & t->mask) {
        if (!t->slot[i]) {
            t->slot[i] = n;
            return 0;
        }
        if (node_equal(g, &g->nodes[t->slot[i]], nd))
            return t->slot[i];
    }
}

int
pass_cse(PassCtx *pc, Graph *g)
{
    Table t = { 0 };
    uint32_t cap = 16;
    while (cap < 2 * g->norder)
        cap *= 2;
    t.slot = arena_alloc(pc->scratch, (size_t)cap * sizeof *t.slot);
    t.mask = cap - 1;
    ValueId *repl = arena_alloc(pc->scratch, (size_t)g->nvalue * sizeof *repl);
    int64_t eliminated = 0;
    for (uint32_t i = 0; i < g->norder; i++) {
        NodeId n = g->order[i];
        Node *nd = &g->nodes[n];
        if (nd->op == OP_NONE)
            continue;
        for (int k = 0; k < nd->nin; k++)
            if (repl[nd->in[k]])
                nd->in[k] = repl[nd->in[k]];
        NodeId first = (op_flags[nd->op] & F_CONTROL) ? 0 : find_or_insert(g, &t, n);
        if (!first)
            continue;
        for (int k = 0; k < nd->nout; k++)
            repl[nd->out[k]] = g->nodes[first].out[k];
        ir_node_kill(g, n);
        eliminated++;
    }
    for (int k = 0; k < g->noutput; k++)
        if (repl[g->outputs[k].value])
            g->outputs[k].value = repl[g->outputs[k].value];
    ir_graph_compact(g);
    pass_stat(pc, "eliminated", eliminated);
    return 0;
}
