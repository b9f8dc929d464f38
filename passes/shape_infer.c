/* passes/shape_infer.c — give every result its dtype and shape, in schedule order.
 * requires: -   provides: shapes   preserves: shapes   breaks: plan (types may change)
 * A node whose rule fails is reported; nodes reading its results (directly or not) are
 * skipped silently so one mistake yields one error, not a cascade. */
#include "passes.h"
#include "util.h"

int
pass_shape_infer(PassCtx *pc, Graph *g)
{
    uint8_t *poisoned = arena_alloc(pc->scratch, g->nvalue);
    int failed = 0;
    for (uint32_t i = 0; i < g->norder; i++) {
        NodeId n = g->order[i];
        Node *nd = &g->nodes[n];
        int skip = nd->op == OP_NONE;
        for (int k = 0; k < nd->nin && !skip; k++)
            skip = poisoned[nd->in[k]];
        if (!skip && ir_infer_node(g, n, pc->d) == 0)
            continue;
        failed += !skip;
        nd = &g->nodes[n];
        for (int k = 0; k < nd->nout; k++)
            poisoned[nd->out[k]] = 1;
    }
    pass_stat(pc, "nodes", (int64_t)g->norder);
    return failed ? -1 : 0;
}
