/* tests/unit/test_passes.c — the pass manager (pipeline parsing, -O levels, requirements,
 * options) and each pass on small hand-built graphs, plus memplan invariants on random DAGs
 * checked by an independent liveness computation and a simulated run over the arena. */
#include <CUnit/Basic.h>
#include "cu_run.h"
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "passes.h"

static const SrcLoc at = { "t.kiln", 3, 7 };

/* ------------------------------------------------------------------ helpers */

static TensorType
f32(int rank, int64_t d0, int64_t d1)
{
    int64_t dims[2] = { d0, d1 };
    return ir_type_make(DT_F32, rank, dims);
}

static ValueId
input(Graph *g, const char *name, TensorType t)
{
    return ir_graph_add_input(g, name, &t);
}

/* A node with one result of type t named name (NULL = unnamed); returns the result. */
static ValueId
node(Graph *g, Op op, int nin, ValueId a, ValueId b, TensorType t, const char *name)
{
    ValueId in[2] = { a, b };
    NodeId n = ir_node_new(g, op, nin, in, 1, at);
    ValueId v = ir_node_out(g, n, 0);
    ir_value(g, v)->type = t;
    if (name)
        ir_value_set_name(g, v, name);
    return v;
}

static ValueId
cnst(Graph *g, TensorType t, const float *data, const char *name)
{
    int64_t bytes;
    ir_type_bytes(&t, &bytes);
    NodeId n = ir_const_new(g, &t, ir_storage_mem(g, data, (size_t)bytes), at);
    ValueId v = ir_node_out(g, n, 0);
    if (name)
        ir_value_set_name(g, v, name);
    return v;
}

static Node *
def_of(Graph *g, ValueId v)
{
    return ir_node(g, ir_value(g, v)->def);
}

static int
diag_has(const Diag *d, const char *s)
{
    for (int i = 0; i < d->nmsg; i++)
        if (strstr(d->msg[i].msg, s))
            return 1;
    return 0;
}

/* Runs pipe with --verify-each, as the golden tests do; returns pass_run_pipeline's code. */
static int
run(Graph *g, const char *pipe, PassStats *st, Diag *d)
{
    PassOptions o = { .verify_each = 1 };
    int rc = pass_run_pipeline(g, pipe, &o, st, d);
    if (rc != 0)
        diag_print(d, stderr);    /* shows why when a test did not expect it */
    return rc;
}

static int
live_nodes(const Graph *g)
{
    int n = 0;
    for (uint32_t i = 0; i < g->norder; i++)
        n += g->nodes[g->order[i]].op != OP_NONE;
    return n;
}

/* ------------------------------------------------------------------ pipelines */

static void
test_pipeline_good(void)
{
    static const char *const good[] = {
        "shape-infer,fold,dce,cse,fuse,memplan",
        " shape-infer , fuse{epilogues=0, chains=1} ,memplan{align=128}",
        "fold{max_bytes=1024},dce,dce",
        "",
    };
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
        Diag d;
        diag_init(&d);
        CU_ASSERT_EQUAL(pass_pipeline_check(good[i], &d), 0);
        CU_ASSERT_EQUAL(d.nmsg, 0);
        diag_free(&d);
    }
}

static void
check_bad(const char *pipe, const char *want)
{
    Diag d;
    diag_init(&d);
    CU_ASSERT_EQUAL(pass_pipeline_check(pipe, &d), -1);
    CU_ASSERT_EQUAL(d.nerror, 1);
    char quoted[256];
    snprintf(quoted, sizeof quoted, "pipeline '%s'", pipe);
    CU_ASSERT_TRUE(diag_has(&d, quoted));
    CU_ASSERT_TRUE(diag_has(&d, want));
    if (!diag_has(&d, want))
        fprintf(stderr, "\n'%s': got '%s', want '%s'\n", pipe, d.nmsg ? d.msg[0].msg : "",
                want);
    diag_free(&d);
}

static void
test_pipeline_bad(void)
{
    check_bad("shape-infer,fuze", "unknown pass 'fuze' (known: shape-infer, fold, dce, cse");
    check_bad("fuse{foo=1}", "fuse has no argument 'foo' (expected one of: epilogues, chains)");
    check_bad("dce{x=1}", "dce has no argument 'x' (it takes none)");
    check_bad("memplan{align=x}", "memplan argument 'align': expected an integer, got 'x'");
    check_bad("memplan{align=99999999999999999999}", "expected an integer");
    check_bad("memplan{align}", "expected '=' after 'align'");
    check_bad("memplan{align=64", "expected ',' or '}' at column 17");
    check_bad("memplan{align=64,align=128}", "memplan argument 'align' given twice");
    check_bad("fold,,dce", "expected a pass name at column 6");
    check_bad("fold,", "expected a pass name at column 6, got the end");
    check_bad("fold dce", "expected ',' between passes at column 6");
}

/* A graph with one untyped node: needs shape-infer before anything else. */
static void
test_pipeline_requires(void)
{
    Graph *g = ir_graph_new("t");
    ValueId x = input(g, "x", f32(1, 4, 0));
    ValueId r = node(g, OP_RELU, 1, x, 0, (TensorType){ 0 }, "r");
    ir_graph_add_output(g, "r", r);
    Diag d;
    diag_init(&d);
    CU_ASSERT_EQUAL(pass_run_pipeline(g, "fold,shape-infer", NULL, NULL, &d), -1);
    CU_ASSERT_TRUE(diag_has(&d, "pipeline 'fold,shape-infer': fold requires shapes, which "
                                "nothing before it provides (run shape-infer first)"));
    CU_ASSERT_EQUAL(g->nodes[1].op, OP_RELU);    /* nothing ran */
    diag_free(&d);
    ir_graph_free(g);
}

static void
test_pass_args_checked_by_pass(void)
{
    Graph *g = ir_graph_new("t");
    ValueId x = input(g, "x", f32(1, 4, 0));
    ir_graph_add_output(g, "r", node(g, OP_RELU, 1, x, 0, f32(1, 4, 0), "r"));
    Diag d;
    diag_init(&d);
    CU_ASSERT_EQUAL(pass_run_pipeline(g, "memplan{align=48}", NULL, NULL, &d), -1);
    CU_ASSERT_TRUE(diag_has(&d, "memplan{align=48}: expected a power of two from 64 to 4096, "
                                "got 48"));
    CU_ASSERT_TRUE(diag_has(&d, "in pass 'memplan' of pipeline 'memplan{align=48}'"));
    CU_ASSERT_EQUAL(g->planned, 0);
    diag_free(&d);
    diag_init(&d);
    CU_ASSERT_EQUAL(pass_run_pipeline(g, "fuse{epilogues=2}", NULL, NULL, &d), -1);
    CU_ASSERT_TRUE(diag_has(&d, "fuse{epilogues=2}: expected 0 or 1, got 2"));
    diag_free(&d);
    diag_init(&d);
    PassOptions o = { .print_after = "fusion" };
    CU_ASSERT_EQUAL(pass_run_pipeline(g, "dce", &o, NULL, &d), -1);
    CU_ASSERT_TRUE(diag_has(&d, "--print-ir-after: unknown pass 'fusion'"));
    diag_free(&d);
    ir_graph_free(g);
}

/* Every pass with min_O <= L is in the -O L pipeline and no other: read from --list-passes. */
static void
test_levels(void)
{
    CU_ASSERT_STRING_EQUAL(pass_pipeline_for_level(0), "shape-infer,memplan");
    CU_ASSERT_STRING_EQUAL(pass_pipeline_for_level(1), "shape-infer,fold,dce,memplan");
    CU_ASSERT_STRING_EQUAL(pass_pipeline_for_level(2), "shape-infer,fold,dce,cse,fuse,memplan");
    CU_ASSERT_STRING_EQUAL(pass_pipeline_for_level(3), pass_pipeline_for_level(2));
    CU_ASSERT_STRING_EQUAL(pass_pipeline_for_level(9), pass_pipeline_for_level(3));
    CU_ASSERT_STRING_EQUAL(pass_pipeline_for_level(-1), pass_pipeline_for_level(0));
    FILE *f = tmpfile();
    CU_ASSERT_PTR_NOT_NULL_FATAL(f);
    pass_list(f);
    rewind(f);
    char line[512], name[64];
    int min_o, rows = 0;
    CU_ASSERT_PTR_NOT_NULL(fgets(line, sizeof line, f));   /* header */
    while (fgets(line, sizeof line, f) && sscanf(line, "%63s %d", name, &min_o) == 2) {
        rows++;
        for (int l = 0; l <= 3; l++) {
            char pipe[256];
            snprintf(pipe, sizeof pipe, ",%s,", pass_pipeline_for_level(l));
            char key[80];
            snprintf(key, sizeof key, ",%s,", name);
            CU_ASSERT_EQUAL(strstr(pipe, key) != NULL, l >= min_o);
        }
    }
    CU_ASSERT_EQUAL(rows, 6);
    fclose(f);
    for (int l = 0; l <= 3; l++) {
        Diag d;
        diag_init(&d);
        CU_ASSERT_EQUAL(pass_pipeline_check(pass_pipeline_for_level(l), &d), 0);
        diag_free(&d);
    }
}

static void
test_stats_table(void)
{
    PassStats s = { 0 };
    CU_ASSERT_EQUAL(pass_stats_get(&s, "fuse", "fused"), 0);
    CU_ASSERT_EQUAL(pass_stats_get(NULL, "fuse", "fused"), 0);
    PassCtx pc = { .pass = "fuse", .stats = &s };
    pass_stat(&pc, "fused", 2);
    pass_stat(&pc, "fused", 3);
    pc.pass = "dce";
    pass_stat(&pc, "removed", 1);
    CU_ASSERT_EQUAL(pass_stats_get(&s, "fuse", "fused"), 5);
    CU_ASSERT_EQUAL(pass_stats_get(&s, "dce", "removed"), 1);
    CU_ASSERT_EQUAL(pass_stats_get(&s, "dce", "fused"), 0);
    CU_ASSERT_EQUAL(s.nstat, 2);
}

/* ------------------------------------------------------------------ shape-infer, fold */

static void
test_shape_infer(void)
{
    Graph *g = ir_graph_new("t");
    ValueId x = input(g, "x", f32(2, 2, 3)), y = input(g, "y", f32(1, 3, 0));
    ValueId s = node(g, OP_ADD, 2, x, y, (TensorType){ 0 }, "s");
    ValueId r = node(g, OP_RELU, 1, s, 0, (TensorType){ 0 }, "r");
    ir_graph_add_output(g, "r", r);
    PassStats st = { 0 };
    Diag d;
    diag_init(&d);
    CU_ASSERT_EQUAL_FATAL(run(g, "shape-infer", &st, &d), 0);
    const TensorType *t = &ir_value(g, r)->type;
    CU_ASSERT_EQUAL(t->dtype, DT_F32);
    CU_ASSERT_EQUAL(t->rank, 2);
    CU_ASSERT_EQUAL(t->dims[0], 2);
    CU_ASSERT_EQUAL(t->dims[1], 3);
    CU_ASSERT_EQUAL(pass_stats_get(&st, "shape-infer", "nodes"), 2);
    diag_free(&d);
    ir_graph_free(g);
}

/* One bad node yields one error: its dependents are skipped, independent nodes still typed. */
static void
test_shape_infer_no_cascade(void)
{
    Graph *g = ir_graph_new("t");
    ValueId x = input(g, "x", f32(1, 2, 0)), y = input(g, "y", f32(1, 3, 0));
    ValueId s = node(g, OP_ADD, 2, x, y, (TensorType){ 0 }, "s");
    ValueId r = node(g, OP_RELU, 1, s, 0, (TensorType){ 0 }, "r");
    ValueId e = node(g, OP_EXP, 1, s, 0, (TensorType){ 0 }, "e");
    ValueId ok = node(g, OP_NEG, 1, y, 0, (TensorType){ 0 }, "ok");
    ir_graph_add_output(g, "r", r);
    ir_graph_add_output(g, "e", e);
    ir_graph_add_output(g, "ok", ok);
    Diag d;
    diag_init(&d);
    PassOptions o = { .verify_each = 1 };
    CU_ASSERT_EQUAL(pass_run_pipeline(g, "shape-infer,memplan", &o, NULL, &d), -1);
    CU_ASSERT_EQUAL(d.nerror, 1);
    CU_ASSERT_EQUAL(d.msg[0].loc.line, 3);
    CU_ASSERT_TRUE(diag_has(&d, "in pass 'shape-infer' of pipeline 'shape-infer,memplan'"));
    CU_ASSERT_EQUAL(ir_value(g, ok)->type.dtype, DT_F32);
    CU_ASSERT_EQUAL(g->planned, 0);
    diag_free(&d);
    ir_graph_free(g);
}

static void
test_fold(void)
{
    Graph *g = ir_graph_new("t");
    static const float a[2] = { 1, 2 }, b[2] = { 3, -5 };
    ValueId x = input(g, "x", f32(1, 2, 0));
    ValueId ca = cnst(g, f32(1, 2, 0), a, "a"), cb = cnst(g, f32(1, 2, 0), b, "b");
    ValueId s = node(g, OP_ADD, 2, ca, cb, f32(1, 2, 0), "s");       /* {4, -3} */
    ValueId r = node(g, OP_RELU, 1, s, 0, f32(1, 2, 0), "r");        /* {4, 0} */
    ValueId o = node(g, OP_MUL, 2, x, r, f32(1, 2, 0), "o");         /* not constant */
    ir_graph_add_output(g, "o", o);
    PassStats st = { 0 };
    Diag d;
    diag_init(&d);
    CU_ASSERT_EQUAL_FATAL(run(g, "fold,dce", &st, &d), 0);
    CU_ASSERT_EQUAL(pass_stats_get(&st, "fold", "folded"), 2);
    CU_ASSERT_EQUAL(pass_stats_get(&st, "dce", "removed"), 3);      /* a, b, s */
    Node *rn = def_of(g, r);
    CU_ASSERT_EQUAL_FATAL(rn->op, OP_CONST);
    const float *v = ir_const_data(g, ir_value(g, r)->def);
    CU_ASSERT_EQUAL(v[0], 4.0f);
    CU_ASSERT_EQUAL(v[1], 0.0f);
    CU_ASSERT_STRING_EQUAL(ir_value(g, r)->name, "r");
    CU_ASSERT_EQUAL(rn->loc.line, 3);
    CU_ASSERT_EQUAL(def_of(g, o)->op, OP_MUL);
    CU_ASSERT_EQUAL(live_nodes(g), 2);
    diag_free(&d);
    ir_graph_free(g);
}

static void
test_fold_limit(void)
{
    Graph *g = ir_graph_new("t");
    static const float a[4] = { 1, 2, 3, 4 };
    ValueId ca = cnst(g, f32(1, 4, 0), a, "a");
    ValueId n = node(g, OP_NEG, 1, ca, 0, f32(1, 4, 0), "n");
    ir_graph_add_output(g, "n", n);
    PassStats st = { 0 };
    Diag d;
    diag_init(&d);
    CU_ASSERT_EQUAL(run(g, "fold{max_bytes=15}", &st, &d), 0);      /* 16 bytes: too big */
    CU_ASSERT_EQUAL(pass_stats_get(&st, "fold", "folded"), 0);
    CU_ASSERT_EQUAL(def_of(g, n)->op, OP_NEG);
    CU_ASSERT_EQUAL(run(g, "fold{max_bytes=16}", &st, &d), 0);
    CU_ASSERT_EQUAL(pass_stats_get(&st, "fold", "folded"), 1);
    CU_ASSERT_EQUAL(((const float *)ir_const_data(g, ir_value(g, n)->def))[3], -4.0f);
    diag_free(&d);
    ir_graph_free(g);
}

/* A split of a constant becomes one constant per result, each keeping its name. */
static void
test_fold_split(void)
{
    Graph *g = ir_graph_new("t");
    static const float a[4] = { 1, 2, 3, 4 };
    ValueId ca = cnst(g, f32(1, 4, 0), a, "a");
    NodeId sp = ir_node_new(g, OP_SPLIT, 1, &ca, 2, at);
    ir_node(g, sp)->attr.split = (SplitAttr){ .axis = 0, .n = 2, .size = { 1, 3 } };
    ValueId p0 = ir_node_out(g, sp, 0), p1 = ir_node_out(g, sp, 1);
    ir_value(g, p0)->type = f32(1, 1, 0);
    ir_value(g, p1)->type = f32(1, 3, 0);
    ir_value_set_name(g, p0, "p0");
    ir_value_set_name(g, p1, "p1");
    ValueId n = node(g, OP_NEG, 1, p1, 0, f32(1, 3, 0), "n");
    ir_graph_add_output(g, "p0", p0);
    ir_graph_add_output(g, "n", n);
    PassStats st = { 0 };
    Diag d;
    diag_init(&d);
    CU_ASSERT_EQUAL_FATAL(run(g, "fold,dce", &st, &d), 0);
    CU_ASSERT_EQUAL(pass_stats_get(&st, "fold", "folded"), 2);
    CU_ASSERT_EQUAL(ir_node(g, sp)->op, OP_NONE);
    ValueId q0 = g->outputs[0].value, q1 = g->outputs[1].value;
    CU_ASSERT_EQUAL_FATAL(def_of(g, q0)->op, OP_CONST);
    CU_ASSERT_EQUAL_FATAL(def_of(g, q1)->op, OP_CONST);
    CU_ASSERT_STRING_EQUAL(ir_value(g, q0)->name, "p0");
    CU_ASSERT_EQUAL(((const float *)ir_const_data(g, ir_value(g, q0)->def))[0], 1.0f);
    const float *v = ir_const_data(g, ir_value(g, q1)->def);
    CU_ASSERT_TRUE(v[0] == -2.0f && v[1] == -3.0f && v[2] == -4.0f);
    CU_ASSERT_EQUAL(live_nodes(g), 2);
    diag_free(&d);
    ir_graph_free(g);
}

/* ------------------------------------------------------------------ dce, cse */

static void
test_dce(void)
{
    Graph *g = ir_graph_new("t");
    static const float one = 1;
    ValueId x = input(g, "x", f32(1, 4, 0));
    ValueId r = node(g, OP_RELU, 1, x, 0, f32(1, 4, 0), "r");
    ValueId e = node(g, OP_EXP, 1, x, 0, f32(1, 4, 0), "e");
    node(g, OP_NEG, 1, e, 0, f32(1, 4, 0), "dead");                 /* e, dead: unused */
    ValueId t = node(g, OP_TANH, 1, x, 0, f32(1, 4, 0), "t");       /* read by exit_if */
    ValueId c = cnst(g, f32(0, 0, 0), &one, "c");
    ValueId cond = node(g, OP_GREATER, 2, c, c, ir_type_make(DT_BOOL, 0, NULL), "cond");
    ValueId ein[2] = { cond, t };
    NodeId ex = ir_node_new(g, OP_EXIT_IF, 2, ein, 0, at);
    ir_node(g, ex)->attr.exit.index = 1;
    ir_graph_add_output(g, "r", r);
    PassStats st = { 0 };
    Diag d;
    diag_init(&d);
    CU_ASSERT_EQUAL(run(g, "dce", &st, &d), 0);
    CU_ASSERT_EQUAL(pass_stats_get(&st, "dce", "removed"), 2);
    CU_ASSERT_EQUAL(def_of(g, e)->op, OP_NONE);
    CU_ASSERT_EQUAL(def_of(g, t)->op, OP_TANH);
    CU_ASSERT_EQUAL(ir_node(g, ex)->op, OP_EXIT_IF);
    CU_ASSERT_EQUAL(live_nodes(g), 5);
    CU_ASSERT_EQUAL(g->norder, 5);
    diag_free(&d);
    ir_graph_free(g);
}

static void
test_cse(void)
{
    Graph *g = ir_graph_new("t");
    static const float k1[2] = { 1, 2 }, k2[2] = { 1, 2 };
    TensorType t2 = f32(1, 2, 0);
    ValueId x = input(g, "x", t2), y = input(g, "y", t2);
    ValueId a1 = node(g, OP_ADD, 2, x, y, t2, "a1");
    ValueId a2 = node(g, OP_ADD, 2, y, x, t2, "a2");     /* commutes with a1 */
    ValueId s1 = node(g, OP_SUB, 2, x, y, t2, "s1");
    ValueId s2 = node(g, OP_SUB, 2, y, x, t2, "s2");     /* does not */
    ValueId l1 = node(g, OP_LEAKY_RELU, 1, x, 0, t2, "l1");
    ValueId l2 = node(g, OP_LEAKY_RELU, 1, x, 0, t2, "l2");
    ValueId l3 = node(g, OP_LEAKY_RELU, 1, x, 0, t2, "l3");
    def_of(g, l1)->attr.scalar.a = 0.1f;
    def_of(g, l2)->attr.scalar.a = 0.1f;
    def_of(g, l3)->attr.scalar.a = 0.2f;
    ValueId c1 = cnst(g, t2, k1, "c1"), c2 = cnst(g, t2, k2, "c2");
    ValueId c3 = cnst(g, f32(2, 1, 2), k2, "c3");        /* same bytes, other shape */
    ValueId m1 = node(g, OP_MUL, 2, a1, c1, t2, "m1");
    ValueId m2 = node(g, OP_MUL, 2, a2, c2, t2, "m2");   /* equal once a2, c2 are merged */
    ValueId outs[] = { s1, s2, l1, l2, l3, m1, m2, c3 };
    for (size_t i = 0; i < sizeof outs / sizeof outs[0]; i++)
        ir_graph_add_output(g, ir_value(g, outs[i])->name, outs[i]);
    PassStats st = { 0 };
    Diag d;
    diag_init(&d);
    CU_ASSERT_EQUAL_FATAL(run(g, "cse", &st, &d), 0);
    CU_ASSERT_EQUAL(pass_stats_get(&st, "cse", "eliminated"), 4);   /* a2, l2, c2, m2 */
    CU_ASSERT_EQUAL(g->outputs[6].value, m1);
    CU_ASSERT_EQUAL(g->outputs[3].value, l1);
    CU_ASSERT_EQUAL(g->outputs[4].value, l3);
    CU_ASSERT_EQUAL(g->outputs[1].value, s2);
    CU_ASSERT_EQUAL(g->outputs[7].value, c3);
    CU_ASSERT_EQUAL(def_of(g, m1)->in[0], a1);
    CU_ASSERT_EQUAL(def_of(g, m1)->in[1], c1);
    CU_ASSERT_EQUAL(live_nodes(g), 8);
    diag_free(&d);
    ir_graph_free(g);
}

/* Source annotations are part of a node's identity for cse and block fusing a reader
 * whose annotations differ from its host's. */
static void
test_annotations(void)
{
    Graph *g = ir_graph_new("t");
    TensorType t = f32(1, 4, 0);
    AnnotArg four = { "bits", 4, NULL }, eight = { "bits", 8, NULL };
    Annot q4 = { "quantize", 1, &four }, q8 = { "quantize", 1, &eight };
    ValueId x = input(g, "x", t);
    ValueId a = node(g, OP_EXP, 1, x, 0, t, "a");
    ValueId b = node(g, OP_EXP, 1, x, 0, t, "b");
    ValueId c = node(g, OP_EXP, 1, x, 0, t, "c");
    ir_node_set_annot(g, ir_value(g, a)->def, &q4, 1);
    ir_node_set_annot(g, ir_value(g, b)->def, &q8, 1);
    ir_node_set_annot(g, ir_value(g, c)->def, &q4, 1);
    ValueId r = node(g, OP_RELU, 1, b, 0, t, "r");      /* no annotation: may fuse */
    ValueId n = node(g, OP_NEG, 1, a, 0, t, "n");       /* other annotation: may not */
    ir_node_set_annot(g, ir_value(g, n)->def, &q8, 1);
    ir_graph_add_output(g, "c", c);
    ir_graph_add_output(g, "r", r);
    ir_graph_add_output(g, "n", n);
    PassStats st = { 0 };
    Diag d;
    diag_init(&d);
    CU_ASSERT_EQUAL_FATAL(run(g, "cse,fuse", &st, &d), 0);
    CU_ASSERT_EQUAL(pass_stats_get(&st, "cse", "eliminated"), 1);    /* c is a */
    CU_ASSERT_EQUAL(g->outputs[0].value, a);
    CU_ASSERT_EQUAL(pass_stats_get(&st, "fuse", "fused"), 1);        /* r into b */
    CU_ASSERT_EQUAL(def_of(g, b)->nepi, 1);
    CU_ASSERT_EQUAL(def_of(g, a)->nepi, 0);
    CU_ASSERT_EQUAL(def_of(g, n)->op, OP_NEG);
    diag_free(&d);
    ir_graph_free(g);
}

/* ------------------------------------------------------------------ fuse */

/* y = relu(matmul(x, w) + b) with b broadcast: both steps land in the matmul. */
static void
test_fuse_matmul_bias_relu(void)
{
    Graph *g = ir_graph_new("t");
    static const float w[6] = { 0 }, b[3] = { 0 };
    ValueId x = input(g, "x", f32(2, 4, 2));
    ValueId cw = cnst(g, f32(2, 2, 3), w, "w"), cb = cnst(g, f32(1, 3, 0), b, "b");
    ValueId mm = node(g, OP_MATMUL, 2, x, cw, f32(2, 4, 3), "mm");
    ValueId s = node(g, OP_ADD, 2, cb, mm, f32(2, 4, 3), "s");      /* host is operand 1 */
    ValueId r = node(g, OP_RELU, 1, s, 0, f32(2, 4, 3), "y");
    ir_graph_add_output(g, "y", r);
    PassStats st = { 0 };
    Diag d;
    diag_init(&d);
    CU_ASSERT_EQUAL_FATAL(run(g, "fuse", &st, &d), 0);
    CU_ASSERT_EQUAL(pass_stats_get(&st, "fuse", "fused"), 2);
    Node *h = def_of(g, mm);
    CU_ASSERT_EQUAL(h->op, OP_MATMUL);
    CU_ASSERT_EQUAL_FATAL(h->nepi, 2);
    CU_ASSERT_EQUAL_FATAL(h->nin, 3);
    CU_ASSERT_EQUAL(h->in[2], cb);
    CU_ASSERT_EQUAL(h->epi[0].op, OP_ADD);
    CU_ASSERT_EQUAL(h->epi[0].arg, 2);
    CU_ASSERT_EQUAL(h->epi[0].swap, 1);
    CU_ASSERT_EQUAL(h->epi[1].op, OP_RELU);
    CU_ASSERT_EQUAL(h->epi[1].arg, -1);
    CU_ASSERT_EQUAL(g->outputs[0].value, mm);
    CU_ASSERT_STRING_EQUAL(ir_value(g, mm)->name, "y");
    CU_ASSERT_EQUAL(live_nodes(g), 3);                    /* x is an input: w, b, matmul */
    CU_ASSERT_EQUAL(g->order[g->norder - 1], ir_value(g, mm)->def);
    diag_free(&d);
    ir_graph_free(g);
}

/* Multi-use host, shape-changing broadcast, an exit_if in between and a host that is only a
 * graph output all block fusion. */
static void
test_fuse_blocked(void)
{
    Graph *g = ir_graph_new("t");
    static const float one = 1;
    ValueId x = input(g, "x", f32(1, 8, 0)), y = input(g, "y", f32(2, 4, 8));
    ValueId e = node(g, OP_EXP, 1, x, 0, f32(1, 8, 0), "e");
    ValueId n1 = node(g, OP_NEG, 1, e, 0, f32(1, 8, 0), "n1");      /* e has two readers */
    ValueId n2 = node(g, OP_ABS, 1, e, 0, f32(1, 8, 0), "n2");      /* only an output */
    ValueId b = node(g, OP_ADD, 2, n1, y, f32(2, 4, 8), "b");       /* broadcasts n1 up */
    ValueId h = node(g, OP_SIGMOID, 1, x, 0, f32(1, 8, 0), "h");
    ValueId c = cnst(g, ir_type_make(DT_BOOL, 0, NULL), &one, "c");
    ValueId ein[4] = { c, b, x, x };
    NodeId ex = ir_node_new(g, OP_EXIT_IF, 4, ein, 0, at);
    ir_node(g, ex)->attr.exit.index = 1;
    ValueId t = node(g, OP_TANH, 1, h, 0, f32(1, 8, 0), "t");       /* after the barrier */
    ir_graph_add_output(g, "b", b);
    ir_graph_add_output(g, "t", t);
    ir_graph_add_output(g, "n2", n2);
    PassStats st = { 0 };
    Diag d;
    diag_init(&d);
    CU_ASSERT_EQUAL_FATAL(run(g, "fuse", &st, &d), 0);
    CU_ASSERT_EQUAL(pass_stats_get(&st, "fuse", "fused"), 0);
    CU_ASSERT_EQUAL(live_nodes(g), 8);
    diag_free(&d);
    ir_graph_free(g);
}

/* A pure elementwise chain fuses into its first node; epilogues=0 still allows chains. */
static void
test_fuse_chain(void)
{
    Graph *g = ir_graph_new("t");
    static const float w[4] = { 0 };
    ValueId x = input(g, "x", f32(2, 2, 2)), z = input(g, "z", f32(2, 2, 2));
    ValueId cw = cnst(g, f32(2, 2, 2), w, "w");
    ValueId mm = node(g, OP_MATMUL, 2, x, cw, f32(2, 2, 2), "mm");
    ValueId a = node(g, OP_ADD, 2, mm, z, f32(2, 2, 2), "a");
    ValueId r = node(g, OP_RELU, 1, a, 0, f32(2, 2, 2), "r");
    ValueId s = node(g, OP_SUB, 2, x, r, f32(2, 2, 2), "s");        /* host is operand 1 */
    ir_graph_add_output(g, "s", s);
    PassStats st = { 0 };
    Diag d;
    diag_init(&d);
    CU_ASSERT_EQUAL_FATAL(run(g, "fuse{epilogues=0}", &st, &d), 0);
    CU_ASSERT_EQUAL(pass_stats_get(&st, "fuse", "fused"), 2);
    CU_ASSERT_EQUAL(def_of(g, mm)->nepi, 0);
    Node *h = def_of(g, a);
    CU_ASSERT_EQUAL(h->op, OP_ADD);
    CU_ASSERT_EQUAL_FATAL(h->nepi, 2);
    CU_ASSERT_EQUAL(h->epi[0].op, OP_RELU);
    CU_ASSERT_EQUAL(h->epi[1].op, OP_SUB);
    CU_ASSERT_EQUAL(h->epi[1].swap, 1);
    CU_ASSERT_EQUAL(h->in[h->epi[1].arg], x);
    CU_ASSERT_EQUAL(g->outputs[0].value, a);
    CU_ASSERT_STRING_EQUAL(ir_value(g, a)->name, "s");
    diag_free(&d);
    ir_graph_free(g);
}

/* ------------------------------------------------------------------ memplan */

static int
overlap(const Graph *g, ValueId u, ValueId v)
{
    int64_t bu, bv;
    ir_type_bytes(&g->values[u].type, &bu);
    ir_type_bytes(&g->values[v].type, &bv);
    int64_t ou = g->values[u].offset, ov = g->values[v].offset;
    return ou < ov + bv && ov < ou + bu;
}

/* x -> relu a -> relu b -> relu c (output), plus a view of a read after b. */
static void
test_memplan_chain(void)
{
    Graph *g = ir_graph_new("t");
    TensorType t = f32(2, 10, 10);     /* 400 bytes: 448 rounded to 64 */
    ValueId x = input(g, "x", t);
    ValueId a = node(g, OP_RELU, 1, x, 0, t, "a");
    ValueId b = node(g, OP_RELU, 1, a, 0, t, "b");
    ValueId c = node(g, OP_RELU, 1, b, 0, t, "c");
    ValueId d2 = node(g, OP_ADD, 2, c, b, t, "d");
    ir_graph_add_output(g, "d", d2);
    PassStats st = { 0 };
    Diag d;
    diag_init(&d);
    CU_ASSERT_EQUAL_FATAL(run(g, "memplan", &st, &d), 0);
    CU_ASSERT_EQUAL(g->planned, 1);
    CU_ASSERT_EQUAL(ir_value(g, x)->offset, -1);
    CU_ASSERT_EQUAL(ir_value(g, d2)->offset, -1);
    /* a dies at b; b lives until d, so c must not share with b but may reuse a's bytes */
    CU_ASSERT_EQUAL(ir_value(g, a)->offset, 0);
    CU_ASSERT_EQUAL(ir_value(g, b)->offset, 448);
    CU_ASSERT_EQUAL(ir_value(g, c)->offset, 0);
    CU_ASSERT_EQUAL(g->arena_bytes, 896);
    CU_ASSERT_EQUAL(pass_stats_get(&st, "memplan", "arena_bytes"), 896);
    CU_ASSERT_EQUAL(pass_stats_get(&st, "memplan", "values"), 3);
    CU_ASSERT_EQUAL(pass_stats_get(&st, "memplan", "peak_bytes"), 896);
    diag_free(&d);
    ir_graph_free(g);
}

static void
test_memplan_views(void)
{
    Graph *g = ir_graph_new("t");
    TensorType t = f32(2, 4, 16), flat = f32(1, 64, 0);
    ValueId x = input(g, "x", t);
    ValueId vx = node(g, OP_RESHAPE, 1, x, 0, flat, "vx");          /* view of an input */
    ValueId a = node(g, OP_RELU, 1, x, 0, t, "a");
    ValueId va = node(g, OP_RESHAPE, 1, a, 0, flat, "va");
    ValueId b = node(g, OP_EXP, 1, vx, 0, flat, "b");               /* a still live via va */
    ValueId s = node(g, OP_ADD, 2, b, va, flat, "s");
    ValueId o = node(g, OP_RELU, 1, x, 0, t, "o");                  /* an output, viewed */
    ValueId vo = node(g, OP_FLATTEN, 1, o, 0, f32(2, 1, 64), "vo");
    def_of(g, va)->attr.dims = (DimsAttr){ 1, { 64 } };
    def_of(g, vx)->attr.dims = (DimsAttr){ 1, { 64 } };
    def_of(g, vo)->attr.axis.axis = 0;
    ir_graph_add_output(g, "s", s);
    ir_graph_add_output(g, "vo", vo);
    Diag d;
    diag_init(&d);
    CU_ASSERT_EQUAL_FATAL(run(g, "memplan", NULL, &d), 0);
    CU_ASSERT_EQUAL(ir_value(g, vx)->offset, -1);
    CU_ASSERT_EQUAL(ir_value(g, o)->offset, -1);
    CU_ASSERT_EQUAL(ir_value(g, vo)->offset, -1);
    CU_ASSERT_TRUE(ir_value(g, a)->offset >= 0);
    CU_ASSERT_EQUAL(ir_value(g, va)->offset, ir_value(g, a)->offset);
    CU_ASSERT_TRUE(ir_value(g, b)->offset >= 0);
    CU_ASSERT_FALSE(overlap(g, a, b));
    CU_ASSERT_EQUAL(g->arena_bytes, 512);
    diag_free(&d);
    ir_graph_free(g);
}

static void
test_memplan_max_arena(void)
{
    Graph *g = ir_graph_new("t");
    ValueId x = input(g, "x", f32(2, 1, 1024));
    ValueId a = node(g, OP_RELU, 1, x, 0, f32(2, 1, 1024), "a");            /* 4096 B */
    ValueId b = node(g, OP_EXP, 1, a, 0, f32(2, 1, 1024), "b");             /* 4096 B */
    ValueId c = node(g, OP_ADD, 2, a, b, f32(2, 1, 1024), "c");             /* output */
    ir_graph_add_output(g, "c", c);
    Diag d;
    diag_init(&d);
    PassOptions o = { .max_arena = 8191 };
    CU_ASSERT_EQUAL(pass_run_pipeline(g, "memplan", &o, NULL, &d), -1);
    CU_ASSERT_EQUAL(g->planned, 0);
    CU_ASSERT_TRUE(diag_has(&d, "memplan: arena needs 8.0 KiB (8192 bytes), limit is 8191; "
                                "alive at the peak (after %b = exp at t.kiln:3:7): "
                                "%a f32[1,1024] 4096 B, %b f32[1,1024] 4096 B"));
    CU_ASSERT_EQUAL(d.msg[0].loc.line, 3);
    diag_free(&d);
    diag_init(&d);
    o.max_arena = 8192;
    CU_ASSERT_EQUAL(pass_run_pipeline(g, "memplan", &o, NULL, &d), 0);
    CU_ASSERT_EQUAL(g->arena_bytes, 8192);
    diag_free(&d);
    ir_graph_free(g);
}

/* Random DAGs of add/relu/matmul/reshape/concat over f32 matrices. */

typedef struct { uint64_t s; } Rng;

static uint32_t
rnd(Rng *r, uint32_t n)
{
    r->s = r->s * 6364136223846793005ull + 1442695040888963407ull;
    return (uint32_t)(r->s >> 33) % n;
}

/* A random earlier value (input or result) whose dim `dim` equals want (0 = any). */
static ValueId
pick(Graph *g, Rng *r, const ValueId *pool, int npool, int dim, int64_t want)
{
    for (int tries = 0; tries < 12; tries++) {
        ValueId v = pool[rnd(r, (uint32_t)npool)];
        if (!want || g->values[v].type.dims[dim] == want)
            return v;
    }
    return 0;
}

static ValueId
zeros(Graph *g, TensorType t)
{
    float *buf = calloc((size_t)(t.dims[0] * t.dims[1]), sizeof *buf);
    ValueId v = cnst(g, t, buf, NULL);
    free(buf);
    return v;
}

static ValueId random_node(Graph *g, Rng *r, ValueId *pool, int npool);

/* A random node whose result stays below 4096 elements, so plans stay small. */
static ValueId
random_small_node(Graph *g, Rng *r, ValueId *pool, int npool)
{
    ValueId v = random_node(g, r, pool, npool);
    const TensorType *t = &g->values[v].type;
    if (t->dims[0] * t->dims[1] <= 4096)
        return v;
    ir_node_kill(g, g->values[v].def);
    ir_graph_compact(g);
    return node(g, OP_RELU, 1, pool[0], 0, g->values[pool[0]].type, NULL);
}

static ValueId
random_node(Graph *g, Rng *r, ValueId *pool, int npool)
{
    ValueId a = pick(g, r, pool, npool, 0, 0);
    TensorType ta = g->values[a].type;
    int64_t m = ta.dims[0], k = ta.dims[1];
    ValueId b;
    switch (rnd(r, 6)) {
    case 0:
        return node(g, OP_RELU, 1, a, 0, ta, NULL);
    case 1:
        b = pick(g, r, pool, npool, 1, k);
        if (b && g->values[b].type.dims[0] == m)
            return node(g, OP_ADD, 2, a, b, ta, NULL);
        return node(g, OP_ADD, 2, a, a, ta, NULL);
    case 2:
        b = pick(g, r, pool, npool, 0, k);
        if (!b)
            b = zeros(g, f32(2, k, 1 + rnd(r, 8)));
        return node(g, OP_MATMUL, 2, a, b, f32(2, m, g->values[b].type.dims[1]), NULL);
    case 3: {
        ValueId v = node(g, OP_RESHAPE, 1, a, 0, f32(2, k, m), NULL);
        def_of(g, v)->attr.dims = (DimsAttr){ 2, { k, m } };
        return v;
    }
    case 4: {
        ValueId v = node(g, OP_FLATTEN, 1, a, 0, f32(2, 1, m * k), NULL);
        def_of(g, v)->attr.axis.axis = 0;
        return v;
    }
    default:
        b = pick(g, r, pool, npool, 1, k);
        if (!b)
            b = a;
        return node(g, OP_CONCAT, 2, a, b, f32(2, m + g->values[b].type.dims[0], k), NULL);
    }
}

/* A value of type t computed at or before schedule position pos (or an input); 0 if none. */
static ValueId
value_of_type(const Graph *g, const TensorType *t, uint32_t pos)
{
    for (int k = 0; k < g->ninput; k++)
        if (ir_type_equal(&g->values[g->inputs[k]].type, t))
            return g->inputs[k];
    for (uint32_t i = pos + 1; i-- > 0;) {
        const Node *nd = &g->nodes[g->order[i]];
        if (nd->nout == 1 && nd->op != OP_CONST && ir_type_equal(&g->values[nd->out[0]].type, t))
            return nd->out[0];
    }
    return 0;
}

/* An exit_if after a random position, returning values typed like the graph outputs: it
 * keeps what it returns alive up to there.  Skipped when no such values exist yet. */
static void
insert_exit(Graph *g, Rng *r)
{
    static const float one = 1;
    uint32_t pos = rnd(r, g->norder);
    ValueId ein[8];
    for (int k = 0; k < g->noutput; k++)
        if (!(ein[k + 1] = value_of_type(g, &g->values[g->outputs[k].value].type, pos)))
            return;
    ein[0] = cnst(g, ir_type_make(DT_BOOL, 0, NULL), &one, NULL);
    ir_node(g, ir_node_new(g, OP_EXIT_IF, g->noutput + 1, ein, 0, at))->attr.exit.index = 1;
    NodeId c = g->order[g->norder - 2], ex = g->order[g->norder - 1];
    memmove(&g->order[pos + 3], &g->order[pos + 1], (g->norder - 3 - pos) * sizeof *g->order);
    g->order[pos + 1] = c;
    g->order[pos + 2] = ex;
}

static Graph *
random_graph(uint64_t seed)
{
    Rng r = { seed * 0x9e3779b97f4a7c15ull + 1 };
    Graph *g = ir_graph_new("rand");
    ValueId pool[80];
    int npool = 0, nin = 1 + (int)rnd(&r, 3), nnode = 5 + (int)rnd(&r, 40);
    for (int i = 0; i < nin; i++) {
        char name[16];
        snprintf(name, sizeof name, "x%d", i);
        pool[npool++] = input(g, name, f32(2, 1 + rnd(&r, 8), 1 + rnd(&r, 8)));
    }
    for (int i = 0; i < nnode; i++) {
        ValueId v = random_small_node(g, &r, pool, npool);
        pool[npool++] = v;
    }
    ir_graph_add_output(g, "y", pool[npool - 1]);
    if (rnd(&r, 2))
        ir_graph_add_output(g, "z", pool[rnd(&r, (uint32_t)npool)]);
    for (int i = 0; i < 3; i++)
        insert_exit(g, &r);
    return g;
}

/* Naive liveness: the [first, last] schedule positions of the storage v's bytes occupy,
 * following views both ways (a view's bytes are its root's). */
static ValueId
root_of(const Graph *g, ValueId v)
{
    while (g->values[v].def && (op_flags[g->nodes[g->values[v].def].op] & F_VIEW))
        v = g->nodes[g->values[v].def].in[0];
    return v;
}

static void
interval(const Graph *g, ValueId v, uint32_t *first, uint32_t *last)
{
    ValueId r = root_of(g, v);
    *first = *last = 0;
    for (uint32_t i = 0; i < g->norder; i++) {
        const Node *nd = &g->nodes[g->order[i]];
        if (nd->nout && nd->out[0] == r)
            *first = *last = i;
        for (int k = 0; k < nd->nin; k++)
            if (root_of(g, nd->in[k]) == r && i > *last)
                *last = i;
    }
}

/* Independent check: pairwise disjointness, bounds, alignment, views, and a simulated run
 * that tags each result's bytes and checks every operand still holds its tag when read. */
static int
check_plan(const Graph *g)
{
    int bad = 0;
    for (ValueId u = 1; u < g->nvalue; u++) {
        const Value *vu = &g->values[u];
        int64_t bu;
        if (vu->offset < 0)
            continue;
        ir_type_bytes(&vu->type, &bu);
        bad += vu->offset % 64 != 0 || vu->offset + bu > g->arena_bytes;
        if (vu->def && (op_flags[g->nodes[vu->def].op] & F_VIEW))
            bad += vu->offset != g->values[g->nodes[vu->def].in[0]].offset;
        uint32_t fu, lu, fv, lv;
        interval(g, u, &fu, &lu);
        for (ValueId v = u + 1; v < g->nvalue; v++) {
            if (g->values[v].offset < 0 || root_of(g, u) == root_of(g, v))
                continue;
            interval(g, v, &fv, &lv);
            if (fu <= lv && fv <= lu && overlap(g, u, v))
                bad++;
        }
    }
    for (int k = 0; k < g->ninput; k++)
        bad += g->values[g->inputs[k]].offset != -1;
    for (int k = 0; k < g->noutput; k++)
        bad += g->values[g->outputs[k].value].offset != -1;
    uint32_t *mem = calloc((size_t)g->arena_bytes / 4 + 1, 4);
    for (uint32_t i = 0; i < g->norder; i++) {
        const Node *nd = &g->nodes[g->order[i]];
        for (int k = 0; k < nd->nin; k++) {
            const Value *v = &g->values[nd->in[k]];
            int64_t n;
            ir_type_bytes(&v->type, &n);
            for (int64_t j = 0; v->offset >= 0 && j < n / 4; j++)
                bad += mem[v->offset / 4 + j] != root_of(g, nd->in[k]);
        }
        if (op_flags[nd->op] & F_VIEW)
            continue;
        for (int k = 0; k < nd->nout; k++) {
            const Value *v = &g->values[nd->out[k]];
            int64_t n;
            ir_type_bytes(&v->type, &n);
            for (int64_t j = 0; v->offset >= 0 && j < n / 4; j++)
                mem[v->offset / 4 + j] = nd->out[k];
        }
    }
    free(mem);
    return bad;
}

static void
test_memplan_random(void)
{
    int64_t placed = 0, exits = 0;
    for (uint64_t seed = 1; seed <= 200; seed++) {
        Graph *g = random_graph(seed);
        PassStats st = { 0 };
        Diag d;
        diag_init(&d);
        CU_ASSERT_EQUAL_FATAL(run(g, "memplan", &st, &d), 0);
        int bad = check_plan(g);
        CU_ASSERT_EQUAL(bad, 0);
        if (bad)
            fprintf(stderr, "\nseed %llu: %d plan violations\n", (unsigned long long)seed, bad);
        /* every non-view, non-const result that is not an output must be in the arena */
        for (uint32_t i = 0; i < g->norder; i++) {
            const Node *nd = &g->nodes[g->order[i]];
            if (nd->op == OP_CONST || nd->nout == 0 || (op_flags[nd->op] & F_VIEW))
                continue;
            int out = 0;
            for (int k = 0; k < g->noutput; k++)
                out |= root_of(g, g->outputs[k].value) == nd->out[0];
            CU_ASSERT_EQUAL(g->values[nd->out[0]].offset >= 0, !out);
        }
        placed += pass_stats_get(&st, "memplan", "values");
        for (uint32_t i = 0; i < g->norder; i++)
            exits += g->nodes[g->order[i]].op == OP_EXIT_IF;
        diag_free(&d);
        ir_graph_free(g);
    }
    /* the generator really exercises the planner */
    CU_ASSERT_TRUE(placed > 1000);
    CU_ASSERT_TRUE(exits > 100);
    if (placed <= 1000 || exits <= 100)
        fprintf(stderr, "\nplaced %lld values, %lld exits\n", (long long)placed, (long long)exits);
}

/* ------------------------------------------------------------------ options */

static void
test_print_options(void)
{
    Graph *g = ir_graph_new("t");
    ValueId x = input(g, "x", f32(1, 4, 0));
    ValueId r = node(g, OP_RELU, 1, x, 0, f32(1, 4, 0), "r");
    node(g, OP_EXP, 1, x, 0, f32(1, 4, 0), "dead");
    ir_graph_add_output(g, "r", r);
    FILE *f = tmpfile();
    CU_ASSERT_PTR_NOT_NULL_FATAL(f);
    FILE *err = tmpfile();
    CU_ASSERT_PTR_NOT_NULL_FATAL(err);
    PassOptions o = { .print_after_change = 1, .print_before = "dce", .dump = f,
                      .time_passes = 1 };
    Diag d;
    diag_init(&d);
    fflush(stderr);
    int saved = dup(2);                     /* the timing report goes to stderr */
    dup2(fileno(err), 2);
    CU_ASSERT_EQUAL(pass_run_pipeline(g, "cse,dce,cse", &o, NULL, &d), 0);
    fflush(stderr);
    dup2(saved, 2);
    close(saved);
    char buf[8192], times[1024];
    rewind(f);
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    buf[n] = 0;
    rewind(err);
    n = fread(times, 1, sizeof times - 1, err);
    times[n] = 0;
    fclose(f);
    fclose(err);
    /* cse changes nothing here, dce does */
    CU_ASSERT_PTR_NULL(strstr(buf, "*** IR after cse ***"));
    CU_ASSERT_PTR_NOT_NULL(strstr(buf, "*** IR before dce ***"));
    CU_ASSERT_PTR_NOT_NULL(strstr(buf, "*** IR after dce ***"));
    CU_ASSERT_PTR_NULL(strstr(buf, "pass timing"));
    CU_ASSERT_PTR_NOT_NULL(strstr(times, "=== pass timing: cse,dce,cse ==="));
    CU_ASSERT_PTR_NOT_NULL(strstr(times, "ms  dce\n"));
    CU_ASSERT_PTR_NOT_NULL(strstr(times, "ms  total\n"));
    diag_free(&d);
    ir_graph_free(g);
}

/* "all" dumps around every pass, even one that changes nothing. */
static void
test_print_all(void)
{
    Graph *g = ir_graph_new("t");
    ValueId x = input(g, "x", f32(1, 4, 0));
    ir_graph_add_output(g, "r", node(g, OP_RELU, 1, x, 0, f32(1, 4, 0), "r"));
    FILE *f = tmpfile();
    CU_ASSERT_PTR_NOT_NULL_FATAL(f);
    PassOptions o = { .print_after = "all", .print_before = "all", .dump = f };
    Diag d;
    diag_init(&d);
    CU_ASSERT_EQUAL(pass_run_pipeline(g, "dce,memplan", &o, NULL, &d), 0);
    rewind(f);
    char buf[8192];
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    buf[n] = 0;
    fclose(f);
    const char *b1 = strstr(buf, "*** IR before dce ***"), *a1 = strstr(buf, "*** IR after dce ***");
    const char *b2 = strstr(buf, "*** IR before memplan ***");
    const char *a2 = strstr(buf, "*** IR after memplan ***");
    CU_ASSERT_TRUE(b1 && a1 && b2 && a2 && b1 < a1 && a1 < b2 && b2 < a2);
    CU_ASSERT_PTR_NOT_NULL(strstr(buf, "%r = relu(%x)"));
    diag_free(&d);
    ir_graph_free(g);
}

/* A 100000-step chain of relu and add(acc, x) lands in its first node in one pass; fusion
 * was quadratic in the chain length (this took minutes), now it is linear. */
static void
test_fuse_long_chain(void)
{
    enum { STEPS = 100000 };
    Graph *g = ir_graph_new("t");
    ValueId x = input(g, "x", f32(1, 4, 0));
    ValueId v = node(g, OP_EXP, 1, x, 0, f32(1, 4, 0), "h"), h = v;
    for (int i = 0; i < STEPS; i++)
        v = i % 2 ? node(g, OP_ADD, 2, v, x, f32(1, 4, 0), NULL)
                  : node(g, OP_RELU, 1, v, 0, f32(1, 4, 0), NULL);
    ir_graph_add_output(g, "y", v);
    PassStats st = { 0 };
    Diag d;
    diag_init(&d);
    CU_ASSERT_EQUAL_FATAL(run(g, "fuse", &st, &d), 0);
    CU_ASSERT_EQUAL(pass_stats_get(&st, "fuse", "fused"), STEPS);
    CU_ASSERT_EQUAL(live_nodes(g), 1);
    Node *hn = def_of(g, h);
    CU_ASSERT_EQUAL_FATAL(hn->nepi, STEPS);
    CU_ASSERT_EQUAL_FATAL(hn->nin, 1 + STEPS / 2);
    CU_ASSERT_EQUAL(hn->epi[1].op, OP_ADD);
    CU_ASSERT_EQUAL(hn->epi[1].arg, 1);
    CU_ASSERT_EQUAL(hn->epi[STEPS - 1].arg, STEPS / 2);
    CU_ASSERT_EQUAL(hn->in[STEPS / 2], x);
    CU_ASSERT_EQUAL(g->outputs[0].value, h);
    diag_free(&d);
    ir_graph_free(g);
}

static CU_TestInfo manager_tests[] = {
    { "good pipelines", test_pipeline_good },
    { "bad pipelines", test_pipeline_bad },
    { "requirements", test_pipeline_requires },
    { "pass arguments", test_pass_args_checked_by_pass },
    { "-O levels", test_levels },
    { "statistics table", test_stats_table },
    { "print options", test_print_options },
    { "print all", test_print_all },
    CU_TEST_INFO_NULL,
};

static CU_TestInfo pass_tests[] = {
    { "shape-infer", test_shape_infer },
    { "shape-infer no cascade", test_shape_infer_no_cascade },
    { "fold", test_fold },
    { "fold size limit", test_fold_limit },
    { "fold split", test_fold_split },
    { "dce", test_dce },
    { "cse", test_cse },
    { "annotations", test_annotations },
    { "fuse matmul bias relu", test_fuse_matmul_bias_relu },
    { "fuse blocked", test_fuse_blocked },
    { "fuse chain", test_fuse_chain },
    { "fuse long chain", test_fuse_long_chain },
    CU_TEST_INFO_NULL,
};

static CU_TestInfo memplan_tests[] = {
    { "chain", test_memplan_chain },
    { "views", test_memplan_views },
    { "max arena", test_memplan_max_arena },
    { "random dags", test_memplan_random },
    CU_TEST_INFO_NULL,
};

static CU_SuiteInfo suites[] = {
    { .pName = "pass manager", .pTests = manager_tests },
    { .pName = "passes", .pTests = pass_tests },
    { .pName = "memplan", .pTests = memplan_tests },
    CU_SUITE_INFO_NULL,
};

int
main(void)
{
    return kiln_cu_run(suites);
}
