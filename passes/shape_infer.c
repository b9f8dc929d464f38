/* passes/shape_infer.c — give every result its dtype and shape, in schedule order.
 * requires: -   provides: shapes   preserves: shapes   breaks: plan (types may change)
 * A node whose rule fails is reported; nodes reading its results (directly or not) are
 * skipped silently so one mistake yields one error, not a cascade.  Last, every exit_if
 * must return what the main path returns: the same dtype and shape per output (only
 * known once the whole graph is typed, so it is checked here and not in the op rule). */
#include "passes.h"
#include "util.h"

/* -1 (reported) when exit_if n returns an output of another type than the main path. */
static int
check_exit(Graph *g, NodeId n, Diag *d)
{
    const Node *nd = &g->nodes[n];
    int bad = 0;
    char a[128], b[128];
    for (int k = 1; k < nd->nin && k - 1 < g->noutput; k++) {
        const TensorType *t = &g->values[nd->in[k]].type;
        const TensorType *o = &g->values[g->outputs[k - 1].value].type;
        if (t->dtype == DT_NONE || o->dtype == DT_NONE || ir_type_equal(t, o))
            continue;
        diag_error(d, nd->loc, "exit_if: returns %s for output '%s', but the main path "
                   "returns %s", ir_type_str(t, a, sizeof a), g->outputs[k - 1].name,
                   ir_type_str(o, b, sizeof b));
        bad = 1;
    }
    return bad ? -1 : 0;
}

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
    for (uint32_t i = 0; i < g->norder && !failed; i++)
        if (g->nodes[g->order[i]].op == OP_EXIT_IF)
            failed += check_exit(g, g->order[i], pc->d) < 0;
    pass_stat(pc, "nodes", (int64_t)g->norder);
    return failed ? -1 : 0;
}
