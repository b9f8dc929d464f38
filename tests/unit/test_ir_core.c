/* tests/unit/test_ir_core.c — the IR core: arena, op tables, types, graph editing,
 * scheduling, storage and diagnostics. */
#include <CUnit/Basic.h>
#include "cu_run.h"
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "ir.h"

static const SrcLoc noloc = { 0 };

static void
test_arena(void)
{
    Arena *a = arena_new();
    char *s = arena_strdup(a, "fc1.weight");
    CU_ASSERT_STRING_EQUAL(s, "fc1.weight");
    char *big = arena_alloc(a, 1 << 20);     /* larger than one block */
    CU_ASSERT_PTR_NOT_NULL(big);
    CU_ASSERT_EQUAL(((uintptr_t)big) % 16, 0);
    CU_ASSERT_EQUAL(big[12345], 0);
    CU_ASSERT_STRING_EQUAL(arena_printf(a, "%s.%d", "layer", 3), "layer.3");
    arena_reset(a);
    CU_ASSERT_STRING_EQUAL(arena_strdup(a, "x"), "x");
    arena_free(a);
}

static void
test_op_table(void)
{
    CU_ASSERT_STRING_EQUAL(op_name[OP_MATMUL], "matmul");
    CU_ASSERT_EQUAL(ir_op_parse("conv2d"), OP_CONV2D);
    CU_ASSERT_EQUAL(ir_op_parse("nope"), OP_NONE);
    CU_ASSERT_EQUAL(op_attr[OP_CONV2D], ATTR_CONV);
    CU_ASSERT_TRUE(op_flags[OP_ADD] & F_ELTWISE);
    CU_ASSERT_EQUAL(op_max_in[OP_CONCAT], -1);
    /* every op has a name, and names are distinct */
    for (int i = OP_NONE + 1; i < OP_COUNT; i++) {
        CU_ASSERT_TRUE(op_name[i] && op_name[i][0]);
        CU_ASSERT_EQUAL(ir_op_parse(op_name[i]), (Op)i);
    }
}

static void
test_types(void)
{
    int64_t dims[] = { 2, 3, 4 }, n;
    TensorType t = ir_type_make(DT_F32, 3, dims);
    CU_ASSERT_EQUAL(ir_type_numel(&t, &n), 0);
    CU_ASSERT_EQUAL(n, 24);
    CU_ASSERT_EQUAL(ir_type_bytes(&t, &n), 0);
    CU_ASSERT_EQUAL(n, 96);
    char buf[64];
    CU_ASSERT_STRING_EQUAL(ir_type_str(&t, buf, sizeof buf), "f32[2,3,4]");
    int64_t huge[] = { INT64_C(1) << 40, INT64_C(1) << 40 };
    TensorType h = ir_type_make(DT_F32, 2, huge);
    CU_ASSERT_EQUAL(ir_type_numel(&h, &n), -1);     /* checked, not wrapped */
    int64_t neg[] = { 2, -1 };
    TensorType ng = ir_type_make(DT_F32, 2, neg);
    CU_ASSERT_EQUAL(ir_type_numel(&ng, &n), -1);
    CU_ASSERT_EQUAL(ir_dtype_parse("i64"), DT_I64);
    CU_ASSERT_EQUAL(ir_dtype_parse("f16"), DT_NONE);
    CU_ASSERT_EQUAL(ir_dtype_size(DT_BOOL), 1);
    TensorType u = t;
    CU_ASSERT_TRUE(ir_type_equal(&t, &u));
    u.sparse.kind = SP_NM;
    CU_ASSERT_FALSE(ir_type_equal(&t, &u));
}

/* A 0 dim: no elements, no bytes; the other dims still bounded, in any order. */
static void
test_types_zero(void)
{
    int64_t n = -1, dims[] = { 3, 0, 5 };
    char buf[64];
    TensorType t = ir_type_make(DT_I64, 3, dims);
    CU_ASSERT_EQUAL(ir_type_numel(&t, &n), 0);
    CU_ASSERT_EQUAL(n, 0);
    n = -1;
    CU_ASSERT_EQUAL(ir_type_bytes(&t, &n), 0);
    CU_ASSERT_EQUAL(n, 0);
    CU_ASSERT_STRING_EQUAL(ir_type_str(&t, buf, sizeof buf), "i64[3,0,5]");
    int64_t d0[] = { 0 };
    TensorType e = ir_type_make(DT_F32, 1, d0);
    CU_ASSERT_EQUAL(ir_type_numel(&e, &n), 0);
    CU_ASSERT_EQUAL(n, 0);
    TensorType s = ir_type_make(DT_F32, 0, NULL);     /* a scalar has one element */
    CU_ASSERT_EQUAL(ir_type_numel(&s, &n), 0);
    CU_ASSERT_EQUAL(n, 1);
    int64_t big0[] = { INT64_C(1) << 40, INT64_C(1) << 40, 0 };
    int64_t big1[] = { 0, INT64_C(1) << 40, INT64_C(1) << 40 };
    TensorType b0 = ir_type_make(DT_F32, 3, big0), b1 = ir_type_make(DT_F32, 3, big1);
    CU_ASSERT_EQUAL(ir_type_numel(&b0, &n), -1);
    CU_ASSERT_EQUAL(ir_type_numel(&b1, &n), -1);
    int64_t bytes0[] = { 0, INT64_C(1) << 62 };      /* 2^62 elements fit, 2^64 bytes not */
    TensorType by = ir_type_make(DT_F32, 2, bytes0);
    CU_ASSERT_EQUAL(ir_type_numel(&by, &n), 0);
    CU_ASSERT_EQUAL(ir_type_bytes(&by, &n), -1);
    int64_t neg[] = { 0, -1 };
    TensorType ng = ir_type_make(DT_F32, 2, neg);
    CU_ASSERT_EQUAL(ir_type_numel(&ng, &n), -1);
    int64_t other[] = { 3, 0, 4 };
    TensorType o = ir_type_make(DT_I64, 3, other);
    CU_ASSERT_FALSE(ir_type_equal(&t, &o));           /* same numel, different shape */
}

/* x -> relu -> add(., c) -> output; a dead neg node. */
static Graph *
small_graph(ValueId *x, NodeId *relu, NodeId *add, NodeId *dead)
{
    Graph *g = ir_graph_new("small");
    int64_t d[] = { 4 };
    TensorType t = ir_type_make(DT_F32, 1, d);
    *x = ir_graph_add_input(g, "x", &t);
    float c[4] = { 1, 2, 3, 4 };
    NodeId cn = ir_const_new(g, &t, ir_storage_mem(g, c, sizeof c), noloc);
    *relu = ir_node_new(g, OP_RELU, 1, x, 1, noloc);
    ValueId in[2] = { ir_node_out(g, *relu, 0), ir_node_out(g, cn, 0) };
    *add = ir_node_new(g, OP_ADD, 2, in, 1, noloc);
    *dead = ir_node_new(g, OP_NEG, 1, x, 1, noloc);
    ir_graph_add_output(g, "y", ir_node_out(g, *add, 0));
    return g;
}

static void
test_graph_edit(void)
{
    ValueId x;
    NodeId relu, add, dead;
    Graph *g = small_graph(&x, &relu, &add, &dead);
    CU_ASSERT_EQUAL(g->norder, 4);
    CU_ASSERT_EQUAL(ir_value(g, ir_node_out(g, relu, 0))->def, relu);
    Arena *scratch = arena_new();
    uint32_t *uses = ir_use_counts(g, scratch);
    CU_ASSERT_EQUAL(uses[x], 2);
    CU_ASSERT_EQUAL(uses[ir_node_out(g, add, 0)], 1);     /* the graph output */
    CU_ASSERT_EQUAL(uses[ir_node_out(g, dead, 0)], 0);
    /* bypass relu: add reads x directly */
    ir_replace_uses(g, ir_node_out(g, relu, 0), x);
    CU_ASSERT_EQUAL(ir_node(g, add)->in[0], x);
    ir_node_kill(g, relu);
    ir_node_kill(g, dead);
    ir_graph_compact(g);
    CU_ASSERT_EQUAL(g->norder, 2);
    arena_free(scratch);
    ir_graph_free(g);
}

static void
test_schedule(void)
{
    ValueId x;
    NodeId relu, add, dead;
    Graph *g = small_graph(&x, &relu, &add, &dead);
    /* a node appended after its consumer must be moved before it */
    NodeId late = ir_node_new(g, OP_ABS, 1, &x, 1, noloc);
    ir_node(g, add)->in[0] = ir_node_out(g, late, 0);
    ir_graph_schedule(g);
    uint32_t pos_late = 0, pos_add = 0;
    for (uint32_t i = 0; i < g->norder; i++) {
        if (g->order[i] == late)
            pos_late = i;
        if (g->order[i] == add)
            pos_add = i;
    }
    CU_ASSERT_TRUE(pos_late < pos_add);
    CU_ASSERT_EQUAL(g->norder, 5);
    ir_graph_free(g);
}

static void
test_annot(void)
{
    ValueId x;
    NodeId relu, add, dead;
    Graph *g = small_graph(&x, &relu, &add, &dead);
    AnnotArg args[2] = { { "bits", 4, NULL }, { "pattern", 0, "2:4" } };
    Annot a = { "quantize", 2, args };
    ir_node_set_annot(g, relu, &a, 1);
    const Annot *got = ir_node_annot(g, relu, "quantize");
    CU_ASSERT_PTR_NOT_NULL_FATAL(got);
    CU_ASSERT_EQUAL(got->narg, 2);
    CU_ASSERT_DOUBLE_EQUAL(got->arg[0].num, 4, 0);
    CU_ASSERT_STRING_EQUAL(got->arg[1].str, "2:4");
    CU_ASSERT_PTR_NULL(ir_node_annot(g, relu, "sparse"));
    ir_graph_free(g);
}

static void
test_storage_file(void)
{
    char dir[] = "/tmp/kiln_core_XXXXXX";
    CU_ASSERT_PTR_NOT_NULL_FATAL(mkdtemp(dir));
    char path[300];
    snprintf(path, sizeof path, "%s/w.npy", dir);
    float w[6] = { 1, 2, 3, 4, 5, 6 };
    kiln_view v = { .dtype = KILN_DT_F32, .rank = 2, .dims = { 2, 3 }, .data = w,
                    .nbytes = sizeof w };
    CU_ASSERT_EQUAL_FATAL(kiln_npy_write(path, &v, NULL, 0), KILN_OK);

    Graph *g = ir_graph_new("s");
    g->dir = dir;
    Diag d;
    diag_init(&d);
    TensorType t;
    StorageId s = ir_storage_file(g, "w.npy", NULL, &t, noloc, &d);
    CU_ASSERT_NOT_EQUAL_FATAL(s, 0);
    CU_ASSERT_EQUAL(t.dtype, DT_F32);
    CU_ASSERT_EQUAL(t.rank, 2);
    CU_ASSERT_EQUAL(t.dims[1], 3);
    NodeId c = ir_const_new(g, &t, s, noloc);
    CU_ASSERT_EQUAL(((const float *)ir_const_data(g, c))[5], 6.0f);
    /* a missing file is a located user error, not a crash */
    SrcLoc at = { "m.kiln", 3, 7 };
    CU_ASSERT_EQUAL(ir_storage_file(g, "missing.npy", NULL, &t, at, &d), 0);
    CU_ASSERT_EQUAL(d.nerror, 1);
    CU_ASSERT_PTR_NOT_NULL(strstr(d.msg[0].msg, "missing.npy"));
    CU_ASSERT_EQUAL(d.msg[0].loc.line, 3);
    diag_free(&d);
    ir_graph_free(g);
    unlink(path);
    rmdir(dir);
}

/* A safetensors tensor at an odd byte offset is copied so typed reads are aligned. */
static void
test_storage_misaligned(void)
{
    char path[] = "/tmp/kiln_mis_XXXXXX";
    int fd = mkstemp(path);
    CU_ASSERT_FATAL(fd >= 0);
    const char *hdr = "{\"w\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[1,9]}}";
    uint64_t hlen = strlen(hdr);
    float w[2] = { 1.5f, -2.0f };
    unsigned char buf[256];
    memcpy(buf, &hlen, 8);                   /* little-endian host */
    memcpy(buf + 8, hdr, hlen);
    buf[8 + hlen] = 0;                       /* one byte before the tensor */
    memcpy(buf + 8 + hlen + 1, w, sizeof w);
    size_t n = 8 + hlen + 1 + sizeof w;
    CU_ASSERT_EQUAL_FATAL(write(fd, buf, n), (ssize_t)n);
    close(fd);
    CU_ASSERT_NOT_EQUAL((8 + hlen + 1) % 4, 0);   /* the data really is misaligned */

    Graph *g = ir_graph_new("m");
    Diag d;
    diag_init(&d);
    TensorType t;
    StorageId s = ir_storage_file(g, path, "w", &t, noloc, &d);
    CU_ASSERT_NOT_EQUAL_FATAL(s, 0);
    NodeId c = ir_const_new(g, &t, s, noloc);
    const float *got = ir_const_data(g, c);
    CU_ASSERT_EQUAL((uintptr_t)got % sizeof(float), 0);
    CU_ASSERT_EQUAL(got[0], 1.5f);
    CU_ASSERT_EQUAL(got[1], -2.0f);
    diag_free(&d);
    ir_graph_free(g);
    unlink(path);
}

static void
test_diag_print(void)
{
    char path[] = "/tmp/kiln_diag_XXXXXX";
    int fd = mkstemp(path);
    CU_ASSERT_FATAL(fd >= 0);
    const char *src = "model m(x: f32[1]) -> (y) {\n  let y = relu(z)\n}\n";
    CU_ASSERT_EQUAL(write(fd, src, strlen(src)), (ssize_t)strlen(src));
    close(fd);
    Diag d;
    diag_init(&d);
    diag_error(&d, (SrcLoc){ path, 2, 16 }, "undefined name '%s'", "z");
    diag_warn(&d, (SrcLoc){ 0 }, "unused");
    char *buf = NULL;
    size_t len = 0;
    FILE *out = open_memstream(&buf, &len);
    CU_ASSERT_EQUAL(diag_print(&d, out), 1);
    fclose(out);
    char want[512];
    snprintf(want, sizeof want,
             "%s:2:16: error: undefined name 'z'\n  let y = relu(z)\n               ^\n"
             "warning: unused\n", path);
    CU_ASSERT_STRING_EQUAL(buf, want);
    free(buf);
    diag_free(&d);
    unlink(path);
}

static CU_TestInfo core_tests[] = {
    { "arena", test_arena },
    { "op table", test_op_table },
    { "types", test_types },
    { "zero-size types", test_types_zero },
    { "graph edit", test_graph_edit },
    { "schedule", test_schedule },
    { "annotations", test_annot },
    { "file storage", test_storage_file },
    { "misaligned file storage", test_storage_misaligned },
    { "diag print", test_diag_print },
    CU_TEST_INFO_NULL,
};

static CU_SuiteInfo suites[] = {
    { .pName = "ir core", .pTests = core_tests },
    CU_SUITE_INFO_NULL,
};

int
main(void)
{
    return kiln_cu_run(suites);
}
