/* tests/unit/test_loop.c — the loop form (codegen/loop.h) built by lowering: the nests of
 * an elementwise kernel with broadcasting, a reduction, a transpose, a fused epilogue
 * after a BLAS matmul, a parallel loop and an integer division, checked structurally.
 * Index expressions are evaluated by a small evaluator here at hand-picked loop
 * positions and compared with hand-computed element offsets. */
#include <CUnit/Basic.h>
#include "cu_run.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "codegen.h"
#include "loop.h"
#include "passes.h"

/* ------------------------------------------------------------------ helpers */

typedef struct {
    Graph    *g;
    CgModule *m;
} Built;

static Built
build(const char *text, const char *pipeline)
{
    Built b = { 0 };
    Diag d;
    diag_init(&d);
    b.g = ir_parse_text(text, strlen(text), "t.kir", &d);
    if (b.g && pass_run_pipeline(b.g, pipeline, NULL, NULL, &d) == 0)
        b.m = cg_lower(b.g, NULL, &d);
    if (!b.m)
        diag_print(&d, stderr);
    diag_free(&d);
    return b;
}

static void
release(Built *b)
{
    cg_module_free(b->m);
    ir_graph_free(b->g);
}

static const CgKernel *
kernel_of(const CgModule *m, Op op)
{
    for (int i = 0; i < m->nkernel; i++)
        if (m->kernel[i].op == op)
            return &m->kernel[i];
    CU_FAIL_FATAL("no such kernel");
    return NULL;
}

/* Value of index value v with loop variable of statement s equal to var[s]. */
static int64_t
eval(const LoopNest *n, LpVal v, const int64_t *var)
{
    const LoopVal *x = &n->val[v];
    switch (x->kind) {
    case LV_CONST: return x->i;
    case LV_VAR:   return var[x->loop];
    case LV_IADD:  return eval(n, x->a, var) + eval(n, x->b, var);
    case LV_IMUL:  return eval(n, x->a, var) * eval(n, x->b, var);
    case LV_IDIV:  return eval(n, x->a, var) / eval(n, x->b, var);
    default:       CU_FAIL("not an index value"); return -1;
    }
}

/* Statement indices of the LS_FORs, outermost first (pre-order), into f; returns count. */
static int
loops(const LoopNest *n, int *f, int max)
{
    int c = 0;
    for (int s = 0; s < n->nstmt && c < max; s++)
        if (n->stmt[s].kind == LS_FOR)
            f[c++] = s;
    return c;
}

/* The nth LV_LOAD of buffer (kind, index) in statement order; 0 if none. */
static LpVal
load_of(const LoopNest *n, LpBufKind kind, int index, int nth)
{
    for (int s = 0; s < n->nstmt; s++) {
        const LoopStmt *t = &n->stmt[s];
        if (t->kind != LS_LET)
            continue;
        const LoopVal *x = &n->val[t->val];
        if (x->kind == LV_LOAD && x->buf.kind == kind && x->buf.index == index && nth-- == 0)
            return t->val;
    }
    return 0;
}

static int
count_stmt(const LoopNest *n, LpStmtKind kind)
{
    int c = 0;
    for (int s = 0; s < n->nstmt; s++)
        c += n->stmt[s].kind == kind;
    return c;
}

static const LoopStmt *
store_of(const LoopNest *n, int nth)
{
    for (int s = 0; s < n->nstmt; s++)
        if (n->stmt[s].kind == LS_STORE && nth-- == 0)
            return &n->stmt[s];
    return NULL;
}

/* Whether some LET computes LV_OP `op`. */
static int
has_op(const LoopNest *n, Op op, LpType in)
{
    for (int s = 0; s < n->nstmt; s++)
        if (n->stmt[s].kind == LS_LET && n->val[n->stmt[s].val].kind == LV_OP &&
            n->val[n->stmt[s].val].op == op && n->val[n->stmt[s].val].in == in)
            return 1;
    return 0;
}

/* ------------------------------------------------------------------ tests */

/* y[2,3] = x[2,3] + b[3]: two loops (b's zero stride stops the merge), b read at j. */
static void
test_eltwise_broadcast(void)
{
    Built b = build("graph @e(%x: f32[2,3], %b: f32[3]) -> (y = %y) {\n"
                    "  %y = add(%x, %b)\n  return\n}\n", "shape-infer,memplan");
    CU_ASSERT_FATAL(b.m != NULL);
    const CgKernel *k = kernel_of(b.m, OP_ADD);
    CU_ASSERT_EQUAL(k->kind, CK_LOOP);
    const LoopNest *n = k->loop;
    CU_ASSERT_FATAL(n != NULL);
    int f[8];
    CU_ASSERT_EQUAL_FATAL(loops(n, f, 8), 2);
    CU_ASSERT_EQUAL(n->stmt[f[0]].extent, 2);
    CU_ASSERT_EQUAL(n->stmt[f[1]].extent, 3);
    CU_ASSERT_EQUAL(n->stmt[f[0]].end, n->nstmt);
    CU_ASSERT_TRUE(n->stmt[f[1]].unit);
    CU_ASSERT_FALSE(n->stmt[f[0]].par);
    LpVal lx = load_of(n, LB_IN, 0, 0), lb = load_of(n, LB_IN, 1, 0);
    CU_ASSERT_FATAL(lx && lb);
    int64_t var[64] = { 0 };
    var[f[0]] = 1, var[f[1]] = 2;
    CU_ASSERT_EQUAL(eval(n, n->val[lx].a, var), 5);
    CU_ASSERT_EQUAL(eval(n, n->val[lb].a, var), 2);
    CU_ASSERT_TRUE(has_op(n, OP_ADD, DT_F32));
    const LoopStmt *st = store_of(n, 0);
    CU_ASSERT_FATAL(st != NULL);
    CU_ASSERT_EQUAL(st->buf.kind, LB_OUT);
    CU_ASSERT_EQUAL(eval(n, st->idx, var), 5);
    CU_ASSERT_EQUAL(count_stmt(n, LS_STORE), 1);
    CU_ASSERT_FALSE(n->may_fail);
    release(&b);
}

/* reduce_sum over axis 1 of [2,3,4]: outer loops over (2, 4), an f64 accumulator
 * initialised to 0 before the inner loop over 3, updated in it, stored as f32 after. */
static void
test_reduction(void)
{
    Built b = build("graph @r(%x: f32[2,3,4]) -> (y = %y) {\n"
                    "  %y = reduce_sum(%x) {axes = [1]}\n  return\n}\n", "shape-infer,memplan");
    CU_ASSERT_FATAL(b.m != NULL);
    const LoopNest *n = kernel_of(b.m, OP_REDUCE_SUM)->loop;
    CU_ASSERT_FATAL(n != NULL);
    int f[8];
    CU_ASSERT_EQUAL_FATAL(loops(n, f, 8), 3);
    CU_ASSERT_EQUAL(n->stmt[f[0]].extent, 2);
    CU_ASSERT_EQUAL(n->stmt[f[1]].extent, 4);
    CU_ASSERT_EQUAL(n->stmt[f[2]].extent, 3);
    CU_ASSERT_EQUAL_FATAL(n->nacc, 1);
    CU_ASSERT_EQUAL(n->acc[0], LT_F64);
    /* first ACC: before the inner loop, a constant 0; second: inside it, an f64 add */
    int a0 = -1, a1 = -1;
    for (int s = 0; s < n->nstmt; s++)
        if (n->stmt[s].kind == LS_ACC && a0 < 0)
            a0 = s;
        else if (n->stmt[s].kind == LS_ACC)
            a1 = s;
    CU_ASSERT_FATAL(a0 >= 0 && a1 >= 0);
    CU_ASSERT_TRUE(a0 > f[1] && a0 < f[2]);
    CU_ASSERT_EQUAL(n->val[n->stmt[a0].val].kind, LV_CONST);
    CU_ASSERT_EQUAL(n->val[n->stmt[a0].val].f, 0.0);
    CU_ASSERT_TRUE(a1 > f[2] && a1 < n->stmt[f[2]].end);
    CU_ASSERT_EQUAL(n->val[n->stmt[a1].val].op, OP_ADD);
    CU_ASSERT_EQUAL(n->val[n->stmt[a1].val].type, LT_F64);
    LpVal lx = load_of(n, LB_IN, 0, 0);
    int64_t var[64] = { 0 };
    var[f[0]] = 1, var[f[1]] = 2, var[f[2]] = 1;
    CU_ASSERT_EQUAL(eval(n, n->val[lx].a, var), 1 * 12 + 1 * 4 + 2);
    const LoopStmt *st = store_of(n, 0);
    CU_ASSERT_FATAL(st != NULL);
    CU_ASSERT_TRUE(st - n->stmt >= n->stmt[f[2]].end);   /* after the inner loop */
    CU_ASSERT_EQUAL(eval(n, st->idx, var), 1 * 4 + 2);
    CU_ASSERT_EQUAL(n->val[st->val].kind, LV_CAST);
    CU_ASSERT_EQUAL(n->val[st->val].type, DT_F32);
    release(&b);
}

/* transpose [2,3] -> [3,2]: y[i, j] = x[j, i]. */
static void
test_transpose(void)
{
    Built b = build("graph @t(%x: i8[2,3]) -> (y = %y) {\n"
                    "  %y = transpose(%x) {perm = [1, 0]}\n  return\n}\n", "shape-infer,memplan");
    CU_ASSERT_FATAL(b.m != NULL);
    const LoopNest *n = kernel_of(b.m, OP_TRANSPOSE)->loop;
    CU_ASSERT_FATAL(n != NULL);
    int f[8];
    CU_ASSERT_EQUAL_FATAL(loops(n, f, 8), 2);
    CU_ASSERT_EQUAL(n->stmt[f[0]].extent, 3);
    CU_ASSERT_EQUAL(n->stmt[f[1]].extent, 2);
    CU_ASSERT_FALSE(n->stmt[f[1]].unit);   /* x moves by 3 per inner trip */
    LpVal lx = load_of(n, LB_IN, 0, 0);
    CU_ASSERT_EQUAL(n->val[lx].type, DT_I8);
    const LoopStmt *st = store_of(n, 0);
    CU_ASSERT_FATAL(lx && st);
    CU_ASSERT_EQUAL(st->val, lx);          /* a pure copy */
    int64_t var[64] = { 0 };
    var[f[0]] = 2, var[f[1]] = 1;
    CU_ASSERT_EQUAL(eval(n, n->val[lx].a, var), 1 * 3 + 2);
    CU_ASSERT_EQUAL(eval(n, st->idx, var), 2 * 2 + 1);
    release(&b);
}

/* A BLAS matmul with a fused bias + relu: the kernel is a runtime call and its loop is
 * the epilogue: read y, add the bias (broadcast along rows), relu, store in place. */
static void
test_fused_epilogue(void)
{
    Built b = build("graph @f(%a: f32[64,64], %w: f32[64,64], %c: f32[64]) -> (y = %y) {\n"
                    "  %m = matmul(%a, %w)\n  %s = add(%m, %c)\n  %y = relu(%s)\n"
                    "  return\n}\n", "shape-infer,fuse,memplan");
    CU_ASSERT_FATAL(b.m != NULL);
    const CgKernel *k = kernel_of(b.m, OP_MATMUL);
    CU_ASSERT_EQUAL(k->kind, CK_CALL);
    CU_ASSERT_EQUAL_FATAL(b.g->nodes[k->node].nepi, 2);
    const LoopNest *n = k->loop;
    CU_ASSERT_FATAL(n != NULL);
    int f[8];
    CU_ASSERT_EQUAL_FATAL(loops(n, f, 8), 2);
    CU_ASSERT_EQUAL(n->stmt[f[0]].extent, 64);
    CU_ASSERT_EQUAL(n->stmt[f[1]].extent, 64);
    LpVal ly = load_of(n, LB_OUT, 0, 0), lc = load_of(n, LB_IN, 2, 0);
    CU_ASSERT_FATAL(ly && lc);
    CU_ASSERT_EQUAL(load_of(n, LB_IN, 0, 0), 0);   /* the matmul operands are not read */
    CU_ASSERT_TRUE(has_op(n, OP_ADD, DT_F32));
    CU_ASSERT_TRUE(has_op(n, OP_RELU, DT_F32));
    const LoopStmt *st = store_of(n, 0);
    CU_ASSERT_FATAL(st != NULL);
    CU_ASSERT_EQUAL(n->val[st->val].op, OP_RELU);
    int64_t var[64] = { 0 };
    var[f[0]] = 3, var[f[1]] = 5;
    CU_ASSERT_EQUAL(eval(n, st->idx, var), 3 * 64 + 5);
    CU_ASSERT_EQUAL(eval(n, n->val[ly].a, var), 3 * 64 + 5);
    CU_ASSERT_EQUAL(eval(n, n->val[lc].a, var), 5);
    release(&b);
}

/* 65536 contiguous f32 elements: one merged loop, marked parallel. */
static void
test_parallel(void)
{
    Built b = build("graph @p(%x: f32[256,256], %z: f32[256,256]) -> (y = %y) {\n"
                    "  %y = mul(%x, %z)\n  return\n}\n", "shape-infer,memplan");
    CU_ASSERT_FATAL(b.m != NULL);
    const LoopNest *n = kernel_of(b.m, OP_MUL)->loop;
    int f[8];
    CU_ASSERT_EQUAL_FATAL(loops(n, f, 8), 1);
    CU_ASSERT_EQUAL(n->stmt[f[0]].extent, 65536);
    CU_ASSERT_TRUE(n->stmt[f[0]].par);
    CU_ASSERT_TRUE(n->stmt[f[0]].unit);
    release(&b);
}

/* Integer division checks its divisor first, so the nest may fail. */
static void
test_int_div_check(void)
{
    Built b = build("graph @d(%x: i32[4], %z: i32[4]) -> (y = %y) {\n"
                    "  %y = div(%x, %z)\n  return\n}\n", "shape-infer,memplan");
    CU_ASSERT_FATAL(b.m != NULL);
    const LoopNest *n = kernel_of(b.m, OP_DIV)->loop;
    CU_ASSERT_TRUE(n->may_fail);
    CU_ASSERT_EQUAL(count_stmt(n, LS_CHECK), 1);
    int c = -1, dv = -1;
    for (int s = 0; s < n->nstmt; s++) {
        if (n->stmt[s].kind == LS_CHECK)
            c = s;
        if (n->stmt[s].kind == LS_LET && n->val[n->stmt[s].val].op == OP_DIV)
            dv = s;
    }
    CU_ASSERT_TRUE(c >= 0 && c < dv);
    CU_ASSERT_EQUAL(n->val[n->stmt[c].cond].op, OP_EQUAL);
    CU_ASSERT_TRUE(has_op(n, OP_DIV, DT_I32));
    release(&b);
}

/* The dump names loops, loads and stores (a smoke test of cg_loop_print). */
static void
test_print(void)
{
    Built b = build("graph @e(%x: f32[2,3], %b: f32[3]) -> (y = %y) {\n"
                    "  %y = add(%x, %b)\n  return\n}\n", "shape-infer,memplan");
    CU_ASSERT_FATAL(b.m != NULL);
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    cg_loop_print(kernel_of(b.m, OP_ADD)->loop, f);
    fclose(f);
    CU_ASSERT_PTR_NOT_NULL(strstr(text, "for i0 < 2"));
    CU_ASSERT_PTR_NOT_NULL(strstr(text, "load in1[i1]"));
    CU_ASSERT_PTR_NOT_NULL(strstr(text, "= add v"));
    CU_ASSERT_PTR_NOT_NULL(strstr(text, "store out0["));
    free(text);
    release(&b);
}

/* ------------------------------------------------------------------ registry */

static CU_TestInfo loop_tests[] = {
    { "elementwise with broadcasting", test_eltwise_broadcast },
    { "reduction", test_reduction },
    { "transpose", test_transpose },
    { "fused epilogue after blas", test_fused_epilogue },
    { "parallel loop", test_parallel },
    { "integer division check", test_int_div_check },
    { "dump", test_print },
    CU_TEST_INFO_NULL,
};

static CU_SuiteInfo suites[] = {
    { .pName = "loop form", .pTests = loop_tests },
    CU_SUITE_INFO_NULL,
};

int
main(void)
{
    return kiln_cu_run(suites);
}
