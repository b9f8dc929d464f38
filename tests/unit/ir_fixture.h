/* tests/unit/ir_fixture.h — the per-test graph the IR unit tests build in (fresh graph and
 * diagnostics before each test, freed after), and the step that runs one node through
 * shape inference and the interpreter as the graph's only output. */
#ifndef KILN_IR_FIXTURE_H
#define KILN_IR_FIXTURE_H

#include <CUnit/Basic.h>
#include "ir.h"

static Graph *g;                        /* the test's graph, made by setup */
static Diag d;                          /* its diagnostics */

#define N(a) (int)(sizeof(a) / sizeof *(a))

static inline void
setup(void)
{
    g = ir_graph_new("t");
    diag_init(&d);
}

static inline void
teardown(void)
{
    ir_graph_free(g);
    diag_free(&d);
}

/* Infers node n, makes its result the graph's only output and interprets the graph into
 * *t (caller frees); fails the test on any error. */
static inline void
run_sole_output(NodeId n, IrTensor *t)
{
    int exit_taken = -1;
    CU_ASSERT_EQUAL_FATAL(ir_infer_node(g, n, &d), 0);
    g->noutput = 0;
    ir_graph_add_output(g, "out", ir_node_out(g, n, 0));
    CU_ASSERT_EQUAL_FATAL(ir_interp_run(g, NULL, t, &exit_taken, &d), 0);
    CU_ASSERT_EQUAL(d.nerror, 0);
}

#endif
