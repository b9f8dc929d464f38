/* passes/dce.c — dead code elimination: drop nodes none of whose results is read.
 * requires: -   preserves: shapes, plan   breaks: -
 * Roots are the graph outputs and F_CONTROL nodes (exit_if); a node is live when a live
 * node or an output reads one of its results.  One backward sweep over the schedule
 * decides it, since every reader comes after its producer. */
#include "passes.h"
#include "util.h"

int
pass_dce(PassCtx *pc, Graph *g)
{
    uint8_t *read = arena_alloc(pc->scratch, g->nvalue);   /* read by something live */
    int64_t removed = 0;
    for (int k = 0; k < g->noutput; k++)
        read[g->outputs[k].value] = 1;
    for (uint32_t i = g->norder; i-- > 0;) {
        NodeId n = g->order[i];
        Node *nd = &g->nodes[n];
        if (nd->op == OP_NONE)
            continue;
        int live = (op_flags[nd->op] & F_CONTROL) != 0;
        for (int k = 0; k < nd->nout && !live; k++)
            live = read[nd->out[k]];
        if (!live) {
            ir_node_kill(g, n);
            removed++;
            continue;
        }
        for (int k = 0; k < nd->nin; k++)
            read[nd->in[k]] = 1;
    }
    ir_graph_compact(g);
    pass_stat(pc, "removed", removed);
    return 0;
}
