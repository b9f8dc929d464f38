/* passes/fold.c — constant folding: a node whose operands are all constants is evaluated
 * with the reference interpreter and becomes a constant (STORE_MEM) with the same result
 * name and location.
 * requires: shapes   preserves: shapes   breaks: plan
 * Skipped: F_NOFOLD ops, quantized or sparse results, and results above
 * fold{max_bytes=N} (16 MiB by default) so large weights are never duplicated. */
#include <stdlib.h>
#include <string.h>
#include "passes.h"
#include "util.h"

enum { FOLD_MAX_BYTES = 16 << 20 };

/* 1 when n may be folded: all operands constants, every result small and plain. */
static int
foldable(const Graph *g, const Node *nd, int64_t max_bytes)
{
    if ((op_flags[nd->op] & F_NOFOLD) || nd->nout < 1)
        return 0;
    for (int k = 0; k < nd->nin; k++) {
        NodeId def = g->values[nd->in[k]].def;
        if (!def || g->nodes[def].op != OP_CONST)
            return 0;
    }
    for (int k = 0; k < nd->nout; k++) {
        const TensorType *t = &g->values[nd->out[k]].type;
        int64_t bytes;
        if (t->quant || t->sparse.kind != SP_DENSE || ir_type_bytes(t, &bytes) < 0 ||
            bytes > max_bytes)
            return 0;
    }
    return 1;
}

/* Turns result k of n into a constant: in place when n has one result (keeping node id,
 * value id, name and location), else as a new constant node taking over the result's uses. */
static void
make_const(Graph *g, NodeId n, int k, const IrTensor *t)
{
    int64_t bytes = 0;
    const TensorType *rt = &ir_value(g, ir_node_out(g, n, k))->type;
    KILN_ASSERT(t->data && ir_type_bytes(rt, &bytes) == 0);   /* foldable() checked it */
    StorageId s = ir_storage_mem(g, t->data, (size_t)bytes);
    Node *nd = ir_node(g, n);
    if (nd->nout == 1) {
        nd->op = OP_CONST;
        nd->nin = 0;
        nd->nepi = 0;        /* the interpreter applied the epilogue */
        memset(&nd->attr, 0, sizeof nd->attr);
        nd->attr.cnst.storage = s;
        return;
    }
    ValueId old = nd->out[k];
    NodeId c = ir_const_new(g, &ir_value(g, old)->type, s, nd->loc);
    ValueId v = ir_node_out(g, c, 0);
    ir_value(g, v)->name = ir_value(g, old)->name;
    ir_replace_uses(g, old, v);
}

/* Evaluates node n; 1 if it was folded, 0 if the interpreter declined (a warning says why).
 * A multi-result node's constants are new nodes with consecutive ids from *first. */
static int
fold_node(PassCtx *pc, Graph *g, NodeId n, NodeId *first)
{
    const Node *nd = ir_node(g, n);
    int nout = nd->nout;
    IrTensor *in = arena_alloc(pc->scratch, (size_t)(nd->nin + 1) * sizeof *in);
    IrTensor out[KILN_MAX_SPLIT];
    KILN_ASSERT(nout <= KILN_MAX_SPLIT);
    for (int k = 0; k < nd->nin; k++) {
        const Value *v = &g->values[nd->in[k]];
        in[k] = (IrTensor){ v->type, (void *)ir_const_data(g, v->def) };
    }
    memset(out, 0, sizeof out);
    Diag local;
    diag_init(&local);
    if (ir_interp_node(g, n, in, out, &local) != 0) {
        diag_warn(pc->d, nd->loc, "fold: leaving %s unevaluated: %s", op_name[nd->op],
                  local.nmsg ? local.msg[0].msg : "the interpreter failed");
        diag_free(&local);
        return 0;
    }
    diag_free(&local);
    *first = g->nnode;
    for (int k = 0; k < nout; k++) {
        make_const(g, n, k, &out[k]);
        ir_tensor_free(&out[k]);
    }
    if (nout > 1)
        ir_node_kill(g, n);
    return 1;
}

/* Puts the constants replacing each folded multi-result node in that node's place in the
 * schedule (they were appended at its end), so dumps keep the source order. */
static void
reorder(Graph *g, uint32_t norder, const NodeId *first)
{
    NodeId *order = malloc((size_t)g->norder * sizeof *order);
    if (!order)
        kiln_die("out of memory");
    uint32_t n = 0;
    for (uint32_t i = 0; i < norder; i++) {
        NodeId id = g->order[i];
        if (!first[id]) {
            order[n++] = id;
            continue;
        }
        for (int k = 0; k < g->nodes[id].nout; k++)
            order[n++] = first[id] + (NodeId)k;
    }
    KILN_ASSERT(n <= g->norder);    /* the dead multi-result nodes are gone */
    memcpy(g->order, order, (size_t)n * sizeof *order);
    g->norder = n;
    free(order);
}

int
pass_fold(PassCtx *pc, Graph *g)
{
    int64_t max_bytes = pass_arg(pc, "max_bytes", FOLD_MAX_BYTES);
    int64_t folded = 0;
    int split = 0;
    uint32_t norder = g->norder;     /* new constants are appended; they need no visit */
    NodeId *first = arena_alloc(pc->scratch, (size_t)g->nnode * sizeof *first);
    for (uint32_t i = 0; i < norder; i++) {
        NodeId n = g->order[i], c = 0;
        if (g->nodes[n].op == OP_NONE || !foldable(g, &g->nodes[n], max_bytes))
            continue;
        int nout = g->nodes[n].nout;
        if (fold_node(pc, g, n, &c)) {
            folded++;
            if (nout > 1) {
                first[n] = c;
                split = 1;
            }
        }
    }
    if (split)
        reorder(g, norder, first);
    pass_stat(pc, "folded", folded);
    return 0;
}
