/* tests/unit/test_onnx.c — the ONNX importer: well-formed models built with protobuf-c in
 * the test (mapping, folding of shape subgraphs, external data), and bad input (truncated,
 * garbage, lying lengths, bad dims, size mismatches, cycles, unsafe or missing external
 * data, deep nesting, unsupported ops), each checked for its error message. */
#define _XOPEN_SOURCE 700
#include <CUnit/Basic.h>
#include "cu_run.h"
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "onnx_internal.h"
#include "onnx_model.h"

/* ------------------------------------------------------------------ fixtures */

/* A FLOAT tensor of the given shape; raw = 1 puts the values in raw_data. */
static Onnx__TensorProto *
tensor_f(const char *name, int rank, const int64_t *dims, int n, const float *vals, int raw)
{
    Onnx__TensorProto *t = tnew(sizeof *t);
    onnx__tensor_proto__init(t);
    t->name = tstr(name);
    t->has_data_type = 1;
    t->data_type = ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT;
    t->n_dims = (size_t)rank;
    t->dims = tnew(sizeof(int64_t) * (size_t)(rank + 1));
    memcpy(t->dims, dims, sizeof(int64_t) * (size_t)rank);
    if (raw) {
        t->has_raw_data = 1;
        t->raw_data.len = (size_t)n * 4;
        t->raw_data.data = tnew((size_t)n * 4 + 1);
        memcpy(t->raw_data.data, vals, (size_t)n * 4);
    } else {
        t->n_float_data = (size_t)n;
        t->float_data = tnew(sizeof(float) * (size_t)(n + 1));
        memcpy(t->float_data, vals, sizeof(float) * (size_t)n);
    }
    return t;
}

static Onnx__TensorProto *
tensor_i64(const char *name, int n, const int64_t *vals)
{
    Onnx__TensorProto *t = tnew(sizeof *t);
    onnx__tensor_proto__init(t);
    t->name = tstr(name);
    t->has_data_type = 1;
    t->data_type = ONNX__TENSOR_PROTO__DATA_TYPE__INT64;
    t->n_dims = 1;
    t->dims = tnew(sizeof(int64_t));
    t->dims[0] = n;
    t->n_int64_data = (size_t)n;
    t->int64_data = tnew(sizeof(int64_t) * (size_t)(n + 1));
    memcpy(t->int64_data, vals, sizeof(int64_t) * (size_t)n);
    return t;
}

/* Imports path expecting failure with `want` in the located messages. */
static void
expect_file_error(const char *path, const char *want)
{
    Diag d;
    diag_init(&d);
    Graph *g = onnx_import_file(path, NULL, 0, &d);
    CU_ASSERT_PTR_NULL(g);
    CU_ASSERT(d.nerror >= 1);
    if (!strstr(errs_loc(&d), want))
        fprintf(stderr, "\n  expected '%s' in: %s\n", want, errs_loc(&d));
    CU_ASSERT_PTR_NOT_NULL(strstr(errs_loc(&d), want));
    ir_graph_free(g);
    diag_free(&d);
}

/* x[2,2] + w[2,2] (w an initializer) -> y */
static Model
add_model(Onnx__TensorProto *w)
{
    static const int64_t dims[2] = { 2, 2 };
    static const char *const in[2] = { "x", "w" }, *const out[1] = { "y" };
    Model m = model_empty(13);
    add_io(&m, 0, "x", 1, 2, dims);
    add_io(&m, 1, "y", 1, 2, dims);
    m.g->initializer[m.g->n_initializer++] = w;
    add_node(&m, "Add", "add1", 2, in, 1, out);
    return m;
}

/* ------------------------------------------------------------------ well-formed models */

static const float W4[4] = { 1.5f, -2.0f, 3.25f, 0.0f };
static const int64_t D22[2] = { 2, 2 };

static void
check_add_graph(Graph *g)
{
    CU_ASSERT_EQUAL(g->ninput, 1);
    CU_ASSERT_EQUAL(g->noutput, 1);
    CU_ASSERT_STRING_EQUAL(g->outputs[0].name, "y");
    const Value *y = &g->values[g->outputs[0].value];
    const Node *add = &g->nodes[y->def];
    CU_ASSERT_EQUAL(add->op, OP_ADD);
    CU_ASSERT_EQUAL(y->type.dtype, DT_F32);
    CU_ASSERT_EQUAL(y->type.rank, 2);
    CU_ASSERT_PTR_NOT_NULL(strstr(add->loc.file, "node 'add1' (Add)"));
    const Value *w = &g->values[add->in[1]];
    CU_ASSERT_EQUAL(g->nodes[w->def].op, OP_CONST);
    CU_ASSERT(memcmp(ir_const_data(g, w->def), W4, sizeof W4) == 0);
}

static void
test_add_raw_and_typed(void)
{
    for (int raw = 0; raw < 2; raw++) {
        Model m = add_model(tensor_f("w", 2, D22, 4, W4, raw));
        save(&m, tpath("add.onnx"));
        Diag d;
        diag_init(&d);
        Graph *g = onnx_import_file(tpath("add.onnx"), NULL, 0, &d);
        CU_ASSERT_PTR_NOT_NULL_FATAL(g);
        check_add_graph(g);
        /* run it: y = x + w with x = 1, 2, 3, 4 (hand-computed sums) */
        float x[4] = { 1, 2, 3, 4 }, want[4] = { 2.5f, 0.0f, 6.25f, 4.0f };
        IrTensor in = { g->values[g->inputs[0]].type, x }, out;
        int exit_taken;
        CU_ASSERT_EQUAL_FATAL(ir_interp_run(g, &in, &out, &exit_taken, &d), 0);
        CU_ASSERT(memcmp(out.data, want, sizeof want) == 0);
        ir_tensor_free(&out);
        ir_graph_free(g);
        diag_free(&d);
        pool_free();
    }
}

/* Shape -> Gather -> Unsqueeze -> Concat -> Reshape folds to one reshape. */
static void
test_shape_subgraph_folds(void)
{
    static const int64_t dx[3] = { 2, 3, 4 }, dy[2] = { 2, 12 }, one = 1, zero = 0, m1 = -1;
    Model m = model_empty(13);
    add_io(&m, 0, "x", 1, 3, dx);
    add_io(&m, 1, "y", 1, 2, dy);
    m.g->initializer[m.g->n_initializer++] = tensor_i64("i0", 1, &zero);
    m.g->initializer[m.g->n_initializer - 1]->n_dims = 0;       /* a scalar index */
    m.g->initializer[m.g->n_initializer++] = tensor_i64("ax", 1, &zero);
    m.g->initializer[m.g->n_initializer++] = tensor_i64("rest", 1, &m1);
    m.g->initializer[m.g->n_initializer++] = tensor_i64("unused", 1, &one);
    const char *s_in[1] = { "x" }, *s_out[1] = { "s" };
    const char *g_in[2] = { "s", "i0" }, *g_out[1] = { "n" };
    const char *u_in[2] = { "n", "ax" }, *u_out[1] = { "n1" };
    const char *c_in[2] = { "n1", "rest" }, *c_out[1] = { "shape" };
    const char *r_in[2] = { "x", "shape" }, *r_out[1] = { "y" };
    /* deliberately out of order: the importer sorts topologically */
    add_node(&m, "Reshape", "r", 2, r_in, 1, r_out);
    add_node(&m, "Shape", "s", 1, s_in, 1, s_out);
    add_node(&m, "Gather", "g", 2, g_in, 1, g_out);
    add_node(&m, "Unsqueeze", "u", 2, u_in, 1, u_out);
    add_node(&m, "Concat", "c", 2, c_in, 1, c_out);
    attr_i(&m, "axis", 0);
    save(&m, tpath("fold.onnx"));
    Diag d;
    diag_init(&d);
    Graph *g = onnx_import_file(tpath("fold.onnx"), NULL, 0, &d);
    if (!g)
        fprintf(stderr, "\n  %s\n", errs_loc(&d));
    CU_ASSERT_PTR_NOT_NULL_FATAL(g);
    int live = 0;
    for (uint32_t i = 0; i < g->norder; i++) {
        Op op = g->nodes[g->order[i]].op;
        CU_ASSERT(op == OP_CONST || op == OP_RESHAPE);
        live += op == OP_RESHAPE;
    }
    CU_ASSERT_EQUAL(live, 1);
    const TensorType *t = &g->values[g->outputs[0].value].type;
    CU_ASSERT(t->rank == 2 && t->dims[0] == 2 && t->dims[1] == 12);
    ir_graph_free(g);
    diag_free(&d);
    pool_free();
}

static void
test_shape_fix(void)
{
    static const int64_t dyn[2] = { -1, 2 };
    Model m = add_model(tensor_f("w", 2, D22, 4, W4, 1));
    m.g->input[0] = vinfo("x", 1, 2, dyn);
    save(&m, tpath("dyn.onnx"));
    expect_file_error(tpath("dyn.onnx"), "dim 0 is dynamic ('N'); fix it with --shape x=DIMS");
    OnnxShapeFix fix;
    char err[200];
    CU_ASSERT_EQUAL_FATAL(onnx_parse_shape_fix("x=2x2", &fix, err, sizeof err), 0);
    Diag d;
    diag_init(&d);
    Graph *g = onnx_import_file(tpath("dyn.onnx"), &fix, 1, &d);
    CU_ASSERT_PTR_NOT_NULL_FATAL(g);
    CU_ASSERT_EQUAL(g->values[g->inputs[0]].type.dims[0], 2);
    ir_graph_free(g);
    CU_ASSERT_EQUAL_FATAL(onnx_parse_shape_fix("nope=2x2", &fix, err, sizeof err), 0);
    g = onnx_import_file(tpath("dyn.onnx"), &fix, 1, &d);
    CU_ASSERT_PTR_NULL(g);
    if (!strstr(errs_loc(&d), "--shape names 'nope', which is not a graph input"))
        fprintf(stderr, "\n  %s\n", errs_loc(&d));
    CU_ASSERT_PTR_NOT_NULL(strstr(errs_loc(&d), "--shape names 'nope', which is not a graph "
                                  "input"));
    diag_free(&d);
    pool_free();
}

static void
test_parse_shape_fix(void)
{
    OnnxShapeFix f;
    char err[200];
    CU_ASSERT_EQUAL(onnx_parse_shape_fix("input=1x3x224x224", &f, err, sizeof err), 0);
    CU_ASSERT(f.rank == 4 && f.dims[0] == 1 && f.dims[1] == 3 && f.dims[3] == 224);
    CU_ASSERT(strncmp(f.name, "input=", 6) == 0);
    CU_ASSERT_EQUAL(onnx_parse_shape_fix("s=", &f, err, sizeof err), 0);
    CU_ASSERT_EQUAL(f.rank, 0);
    static const char *const bad[][2] = {
        { "input", "expected name=DIMS" }, { "=3", "expected name=DIMS" },
        { "x=0", "expected a dim in 1.." }, { "x=2xq", "got 'q'" }, { "x=2x", "after the last" },
        { "x=-1", "got '-1'" }, { "x=1x1x1x1x1x1x1x1x1", "at most 8 dims" },
        { "x=99999999999", "expected a dim" },
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        err[0] = 0;
        CU_ASSERT_EQUAL(onnx_parse_shape_fix(bad[i][0], &f, err, sizeof err), -1);
        CU_ASSERT_PTR_NOT_NULL(strstr(err, bad[i][1]));
    }
}

/* ------------------------------------------------------------------ bad files */

static void
test_truncated_and_garbage(void)
{
    Model m = add_model(tensor_f("w", 2, D22, 4, W4, 1));
    size_t len = save(&m, tpath("ok.onnx"));
    FILE *f = fopen(tpath("ok.onnx"), "rb");
    uint8_t *buf = malloc(len);
    CU_ASSERT_FATAL(f && buf && fread(buf, 1, len, f) == len);
    fclose(f);
    write_bytes(tpath("trunc.onnx"), buf, len - 7);
    expect_file_error(tpath("trunc.onnx"), "not a valid ONNX model: malformed protobuf at byte");
    free(buf);
    static const char png[] = "\x89PNG\r\n\x1a\n\0\0\0\rIHDR";
    write_bytes(tpath("png.onnx"), png, sizeof png - 1);
    expect_file_error(tpath("png.onnx"), "not a valid ONNX model");
    write_bytes(tpath("empty.onnx"), "", 0);
    expect_file_error(tpath("empty.onnx"), "empty file, expected an ONNX model");
    expect_file_error(tpath("missing.onnx"), "cannot read model");
    /* a well-formed message with no graph */
    static const uint8_t irv[2] = { 0x08, 0x08 };          /* ir_version = 8 */
    write_bytes(tpath("nograph.onnx"), irv, 2);
    expect_file_error(tpath("nograph.onnx"), "imports no opset");
    pool_free();
}

static void
test_lying_length(void)
{
    /* field 7 (graph), length 127, but only 3 bytes follow */
    static const uint8_t lie[] = { 0x3a, 0x7f, 0x0a, 0x01, 0x00 };
    write_bytes(tpath("lie.onnx"), lie, sizeof lie);
    expect_file_error(tpath("lie.onnx"), "length 127 exceeds the 3 bytes left");
    /* a nested length running past its parent's end */
    static const uint8_t lie2[] = { 0x3a, 0x03, 0x0a, 0x05, 0x00, 0x00, 0x00, 0x00 };
    write_bytes(tpath("lie2.onnx"), lie2, sizeof lie2);
    expect_file_error(tpath("lie2.onnx"), "length 5 exceeds the 1 bytes left");
    /* a varint longer than 10 bytes */
    static const uint8_t vlong[12] = { 0x08, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
                                       0xff, 0xff, 0x01 };
    write_bytes(tpath("varint.onnx"), vlong, sizeof vlong);
    expect_file_error(tpath("varint.onnx"), "truncated varint");
}

static void
test_bad_dims(void)
{
    static const int64_t neg[2] = { -3, 2 }, huge[3] = { 1LL << 40, 1LL << 40, 1LL << 40 };
    static const int64_t big[2] = { 1000000, 1000 };
    Model m = add_model(tensor_f("w", 2, neg, 4, W4, 1));
    save(&m, tpath("neg.onnx"));
    expect_file_error(tpath("neg.onnx"), "initializer 'w': dim 0 is -3, expected >= 0");
    m = add_model(tensor_f("w", 3, huge, 4, W4, 1));
    save(&m, tpath("huge.onnx"));
    expect_file_error(tpath("huge.onnx"), "initializer 'w': shape overflows");
    m = add_model(tensor_f("w", 2, big, 4, W4, 1));
    save(&m, tpath("big.onnx"));
    expect_file_error(tpath("big.onnx"), "raw_data holds 16 bytes, the shape needs 4000000000");
    m = add_model(tensor_f("w", 2, D22, 4, W4, 1));
    static const int64_t negin[2] = { 2, -5 };
    m.g->input[0] = vinfo("x", 1, 2, negin);
    m.g->input[0]->type->tensor_type->shape->dim[1]->value_case =
        ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_VALUE;
    m.g->input[0]->type->tensor_type->shape->dim[1]->dim_value = -5;
    save(&m, tpath("negin.onnx"));
    expect_file_error(tpath("negin.onnx"), "graph input 'x': dim 1 is -5, expected >= 0");
    pool_free();
}

static void
test_size_mismatch(void)
{
    Model m = add_model(tensor_f("w", 2, D22, 3, W4, 0));
    save(&m, tpath("short.onnx"));
    expect_file_error(tpath("short.onnx"), "initializer 'w': float_data holds 3 values, the shape "
                      "needs 4");
    m = add_model(tensor_f("w", 2, D22, 3, W4, 1));
    save(&m, tpath("shortraw.onnx"));
    expect_file_error(tpath("shortraw.onnx"), "raw_data holds 12 bytes, the shape needs 16");
    pool_free();
}

static void
test_cycle_and_undefined(void)
{
    static const char *const a_in[2] = { "x", "b" }, *const a_out[1] = { "a" };
    static const char *const b_in[1] = { "a" }, *const b_out[1] = { "b" };
    Model m = add_model(tensor_f("w", 2, D22, 4, W4, 1));
    add_node(&m, "Add", "loop_a", 2, a_in, 1, a_out);
    add_node(&m, "Relu", "loop_b", 1, b_in, 1, b_out);
    save(&m, tpath("cycle.onnx"));
    expect_file_error(tpath("cycle.onnx"), "the graph has a cycle through this node");
    static const char *const u_in[1] = { "ghost" }, *const u_out[1] = { "z" };
    m = add_model(tensor_f("w", 2, D22, 4, W4, 1));
    add_node(&m, "Relu", "r", 1, u_in, 1, u_out);
    save(&m, tpath("undef.onnx"));
    expect_file_error(tpath("undef.onnx"), "node 'r' (Relu): input 'ghost' is not defined by any "
                      "node, initializer or graph input");
    static const char *const d_in[1] = { "x" }, *const d_out[1] = { "y" };
    m = add_model(tensor_f("w", 2, D22, 4, W4, 1));
    add_node(&m, "Relu", "dup", 1, d_in, 1, d_out);
    save(&m, tpath("dup.onnx"));
    expect_file_error(tpath("dup.onnx"), "tensor 'y' is defined twice");
    pool_free();
}

static void
test_unsupported_op(void)
{
    static const char *const in[1] = { "x" }, *const out[1] = { "y" };
    Model m = add_model(tensor_f("w", 2, D22, 4, W4, 1));
    m.g->node[0] = node("Sofmax", "sm", 1, in, 1, out);
    save(&m, tpath("unsup.onnx"));
    OnnxImportOpts o = { 0 };
    Diag d;
    diag_init(&d);
    CU_ASSERT_PTR_NULL(onnx_import_file_opts(tpath("unsup.onnx"), &o, &d));
    CU_ASSERT_EQUAL(o.unsupported, 1);
    CU_ASSERT_EQUAL(o.unclaimed, 1);
    CU_ASSERT_PTR_NOT_NULL(strstr(errs_loc(&d), "node 'sm' (Sofmax): unsupported op Sofmax "
                                  "(domain 'ai.onnx', opset 13); nearest supported: Softmax"));
    diag_free(&d);
    m.g->node[0]->domain = tstr("com.microsoft");
    save(&m, tpath("dom.onnx"));
    expect_file_error(tpath("dom.onnx"), "unsupported op Sofmax of domain 'com.microsoft'");
    m = add_model(tensor_f("w", 2, D22, 4, W4, 1));
    m.m->opset_import[0]->version = 6;                  /* Add before numpy broadcasting */
    save(&m, tpath("old.onnx"));
    expect_file_error(tpath("old.onnx"), "unsupported op Add at opset 6 (domain 'ai.onnx'); it is "
                      "supported at opsets 7..17");
    m = add_model(tensor_f("w", 2, D22, 4, W4, 1));
    m.m->opset_import[0]->version = 99;
    save(&m, tpath("new.onnx"));
    expect_file_error(tpath("new.onnx"), "opset 99 of ai.onnx is not supported, expected 1..17");
    pool_free();
}

/* Gives the one-node model m the input x and output y (elem 1x1x4x4), imports it and
 * checks the message and the two flags the conformance harness reads: unsupported (kiln
 * cannot do it) and unclaimed (the op table does not claim it: the harness's only reason
 * to skip). */
static void
check_single_node(Model m, int elem, const char *want, int unclaimed)
{
    static const int64_t d4[4] = { 1, 1, 4, 4 };
    add_io(&m, 0, "x", elem, 4, d4);
    add_io(&m, 1, "y", elem, 4, d4);
    save(&m, tpath("single.onnx"));
    OnnxImportOpts o = { 0 };
    Diag d;
    diag_init(&d);
    Graph *g = onnx_import_file_opts(tpath("single.onnx"), &o, &d);
    CU_ASSERT_PTR_NULL(g);
    ir_graph_free(g);
    CU_ASSERT_EQUAL(o.unsupported, 1);
    CU_ASSERT_EQUAL(o.unclaimed, unclaimed);
    CU_ASSERT_PTR_NOT_NULL(strstr(errs_loc(&d), want));
    diag_free(&d);
}

/* An attribute variant kiln cannot express is an unsupported error naming it, but the op
 * stays claimed (a conformance test hitting it FAILs); an operand element type outside
 * the op's row is unclaimed (the test is skipped). */
static void
test_unsupported_variant(void)
{
    static const int64_t crop[8] = { 0, 0, -1, 0, 0, 0, 0, 0 };
    static const char *const in[1] = { "x" }, *const out[1] = { "y" };
    Model m = model_empty(10);
    add_node(&m, "Pad", "pad1", 1, in, 1, out);
    attr_ints(&m, "pads", 8, crop);
    check_single_node(m, ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT,
                      "node 'pad1' (Pad): Pad: negative pads (cropping) are not supported", 0);
    m = model_empty(13);
    add_node(&m, "Relu", "relu1", 1, in, 1, out);
    check_single_node(m, ONNX__TENSOR_PROTO__DATA_TYPE__INT32,
                      "node 'relu1' (Relu): Relu: element type i32 is not supported "
                      "(expected f32)", 1);
    pool_free();
}

/* QuantizeLinear with a scale that is a graph input (not a constant) is computed at run
 * time, per axis; a scale that fits no axis is a located error. */
static void
test_quantize_runtime_scale(void)
{
    static const int64_t d4[4] = { 1, 2, 2, 2 }, d2[1] = { 2 }, d3[1] = { 3 };
    static const char *const in[2] = { "x", "s" }, *const out[1] = { "y" };
    for (int bad = 0; bad < 2; bad++) {
        Model m = model_empty(13);
        add_io(&m, 0, "x", ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT, 4, d4);
        add_io(&m, 0, "s", ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT, 1, bad ? d3 : d2);
        add_io(&m, 1, "y", ONNX__TENSOR_PROTO__DATA_TYPE__UINT8, 4, d4);
        add_node(&m, "QuantizeLinear", "q", 2, in, 1, out);
        save(&m, tpath("qrt.onnx"));
        if (bad) {
            expect_file_error(tpath("qrt.onnx"), "node 'q' (QuantizeLinear): QuantizeLinear: 3 "
                              "scales do not fit axis 1 of 4-D input");
            continue;
        }
        Diag d;
        diag_init(&d);
        Graph *g = onnx_import_file(tpath("qrt.onnx"), NULL, 0, &d);
        CU_ASSERT_PTR_NOT_NULL_FATAL(g);
        CU_ASSERT_EQUAL(g->ninput, 2);                   /* the scale stays an input */
        float x[8] = { -1, 0.5f, 1.5f, 2.5f, 3, 300, -7, 9 }, sc[2] = { 1, 0.5f };
        IrTensor args[2] = { { ir_type_make(DT_F32, 4, d4), x },
                             { ir_type_make(DT_F32, 1, d2), sc } }, outs[1];
        int exit_taken;
        memset(outs, 0, sizeof outs);
        CU_ASSERT_EQUAL_FATAL(ir_interp_run(g, args, outs, &exit_taken, &d), 0);
        /* channel 0: round(x / 1) clipped to u8; channel 1: round(x / 0.5), half to even */
        static const uint8_t want[8] = { 0, 0, 2, 2, 6, 255, 0, 18 };
        CU_ASSERT_EQUAL(memcmp(outs[0].data, want, 8), 0);
        ir_tensor_free(&outs[0]);
        ir_graph_free(g);
        diag_free(&d);
    }
    pool_free();
}

/* DynamicQuantizeLinear: x = [-1.5, 0.2, 3.1, 7, -0.01, 2.5] spans [-1.5, 7], so scale =
 * 8.5 / 255 = 1/30 and zero point = round(1.5 * 30) = 45; y = clip(round(30 x) + 45) =
 * [0, 51, 138, 255, 45, 120] (ONNX Runtime gives the same).  An all-zero x has an empty
 * range: scale 1 (ONNX Runtime's value), zero point 0, y 0. */
static void
test_dynamic_quantize(void)
{
    static const int64_t d[2] = { 2, 3 };
    static const char *const in[1] = { "x" }, *const out[2] = { "y", "s" };
    static const float x[6] = { -1.5f, 0.2f, 3.1f, 7, -0.01f, 2.5f }, zero[6] = { 0 };
    static const uint8_t want_y[6] = { 0, 51, 138, 255, 45, 120 }, want_y0[6] = { 0 };
    const float one = 1, third = 8.5f / 255;
    for (int k = 0; k < 4; k++) {
        Model m = model(13, "DynamicQuantizeLinear", 1, in, 2, out);
        add_io(&m, 0, "x", ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT, 2, d);
        add_io(&m, 1, "y", ONNX__TENSOR_PROTO__DATA_TYPE__UINT8, 2, d);
        add_io(&m, 1, "s", ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT, 0, NULL);
        if (k == 0)
            expect_run(&m, x, 0, want_y, sizeof want_y);
        else if (k == 1)
            expect_run(&m, x, 1, &third, sizeof third);
        else if (k == 2)
            expect_run(&m, zero, 0, want_y0, sizeof want_y0);
        else
            expect_run(&m, zero, 1, &one, sizeof one);
    }
}

/* Shape errors found while building name the ONNX node; a constant-only operand fed by a
 * graph input is reported, and accepted once bound. */
static int
bind_shape(void *ctx, const char *name, IrTensor *out)
{
    (void)ctx;
    if (strcmp(name, "shape") != 0)
        return -1;
    out->type = ir_type_make(DT_I64, 1, (const int64_t[]){ 1 });
    out->data = malloc(sizeof(int64_t));
    *(int64_t *)out->data = 4;
    return 0;
}

static void
test_node_errors(void)
{
    static const int64_t d23[2] = { 2, 3 }, one = 1;
    Model m = add_model(tensor_f("w", 2, D22, 4, W4, 1));
    m.g->input[0] = vinfo("x", 1, 2, d23);
    save(&m, tpath("bcast.onnx"));
    expect_file_error(tpath("bcast.onnx"), "node 'add1' (Add): add: cannot broadcast f32[2,3] with "
                      "f32[2,2]");
    static const char *const in[2] = { "x", "shape" }, *const out[1] = { "y" };
    m = model_empty(13);
    add_io(&m, 0, "x", 1, 2, D22);
    add_io(&m, 0, "shape", 7, 1, &one);
    add_io(&m, 1, "y", 1, 1, &one);
    add_node(&m, "Reshape", "rs", 2, in, 1, out);
    save(&m, tpath("rs.onnx"));
    expect_file_error(tpath("rs.onnx"), "Reshape: operand 1 ('shape') must be a constant");
    OnnxImportOpts o = { .bind = bind_shape };
    Diag d;
    diag_init(&d);
    Graph *g = onnx_import_file_opts(tpath("rs.onnx"), &o, &d);
    CU_ASSERT_PTR_NOT_NULL_FATAL(g);
    CU_ASSERT_EQUAL(g->ninput, 1);                       /* 'shape' became a constant */
    CU_ASSERT_EQUAL(g->values[g->outputs[0].value].type.dims[0], 4);
    ir_graph_free(g);
    diag_free(&d);
    pool_free();
}

/* CumSum: the node tests use f64 (skipped), so its four variants are checked here against
 * hand-computed sums. */
static void
run_cumsum(int rank, const int64_t *dims, int64_t axis, int excl, int rev, const float *x,
           const float *want, int n)
{
    static const char *const in[2] = { "x", "axis" }, *const out[1] = { "y" };
    Model m = model_empty(14);
    add_io(&m, 0, "x", 1, rank, dims);
    add_io(&m, 1, "y", 1, rank, dims);
    m.g->initializer[m.g->n_initializer++] = tensor_i64("axis", 1, &axis);
    add_node(&m, "CumSum", "cs", 2, in, 1, out);
    attr_i(&m, "exclusive", excl);
    attr_i(&m, "reverse", rev);
    save(&m, tpath("cumsum.onnx"));
    Diag d;
    diag_init(&d);
    Graph *g = onnx_import_file(tpath("cumsum.onnx"), NULL, 0, &d);
    CU_ASSERT_PTR_NOT_NULL_FATAL(g);
    IrTensor t = { g->values[g->inputs[0]].type, (void *)x }, y;
    int exit_taken;
    CU_ASSERT_EQUAL_FATAL(ir_interp_run(g, &t, &y, &exit_taken, &d), 0);
    CU_ASSERT(memcmp(y.data, want, (size_t)n * sizeof(float)) == 0);
    ir_tensor_free(&y);
    ir_graph_free(g);
    diag_free(&d);
    pool_free();
}

/* Zero-size tensors: an empty initializer is an empty constant (concat with it keeps x),
 * and Reshape's allowzero decides whether a 0 in the shape is literal or copies a dim. */
static void
test_zero_size(void)
{
    static const int64_t d02[2] = { 0, 2 }, d20[2] = { 2, 0 }, two = 2;
    static const float x[4] = { 1, 2, 3, 4 };
    static const char *const cin[2] = { "x", "e" }, *const rin[2] = { "x", "s" };
    static const char *const out[1] = { "y" };
    Model m = model_empty(13);
    add_io(&m, 0, "x", 1, 2, D22);
    add_io(&m, 1, "y", 1, 2, D22);
    m.g->initializer[m.g->n_initializer++] = tensor_f("e", 2, d02, 0, x, 1);
    add_node(&m, "Concat", "cat", 2, cin, 1, out);
    attr_i(&m, "axis", 0);
    save(&m, tpath("cat0.onnx"));
    Diag d;
    diag_init(&d);
    Graph *g = onnx_import_file(tpath("cat0.onnx"), NULL, 0, &d);
    CU_ASSERT_PTR_NOT_NULL_FATAL(g);
    IrTensor t = { g->values[g->inputs[0]].type, (void *)x }, y;
    int exit_taken;
    CU_ASSERT_EQUAL_FATAL(ir_interp_run(g, &t, &y, &exit_taken, &d), 0);
    CU_ASSERT(memcmp(y.data, x, sizeof x) == 0);
    ir_tensor_free(&y);
    ir_graph_free(g);
    diag_free(&d);
    for (int allowzero = 0; allowzero <= 1; allowzero++) {
        int64_t shape[2] = { 2, 0 };
        m = model_empty(14);
        add_io(&m, 0, "x", 1, 2, d02);
        add_io(&m, 1, "y", 1, 2, d20);
        m.g->initializer[m.g->n_initializer++] = tensor_i64("s", 2, shape);
        add_node(&m, "Reshape", "rs", 2, rin, 1, out);
        attr_i(&m, "allowzero", allowzero);
        save(&m, tpath("rs0.onnx"));
        if (!allowzero) {                  /* the 0 copies x's dim 1: [2, 2], 4 elements */
            expect_file_error(tpath("rs0.onnx"), "cannot reshape f32[0,2] (0 elements) to [2,2]");
            continue;
        }
        diag_init(&d);
        g = onnx_import_file(tpath("rs0.onnx"), NULL, 0, &d);
        CU_ASSERT_PTR_NOT_NULL_FATAL(g);
        const TensorType *r = &g->values[g->outputs[0].value].type;
        CU_ASSERT(r->rank == 2 && r->dims[0] == two && r->dims[1] == 0);
        ir_graph_free(g);
        diag_free(&d);
    }
    pool_free();
}

static void
test_cumsum(void)
{
    static const int64_t d4 = 4, d23[2] = { 2, 3 };
    static const float x4[4] = { 1, 2, 3, 4 }, x23[6] = { 1, 2, 3, 4, 5, 6 };
    static const float inc[4] = { 1, 3, 6, 10 }, exc[4] = { 0, 1, 3, 6 };
    static const float rinc[4] = { 10, 9, 7, 4 }, rexc[4] = { 9, 7, 4, 0 };
    static const float ax1[6] = { 1, 3, 6, 4, 9, 15 }, ax0[6] = { 1, 2, 3, 5, 7, 9 };
    run_cumsum(1, &d4, 0, 0, 0, x4, inc, 4);
    run_cumsum(1, &d4, 0, 1, 0, x4, exc, 4);
    run_cumsum(1, &d4, 0, 0, 1, x4, rinc, 4);
    run_cumsum(1, &d4, -1, 1, 1, x4, rexc, 4);
    run_cumsum(2, d23, 1, 0, 0, x23, ax1, 6);
    run_cumsum(2, d23, 0, 0, 0, x23, ax0, 6);
}

/* Model -> graph -> node -> attribute -> graph -> ... `levels` deep, written inside out. */
static void
write_nested(const char *path, int levels)
{
    size_t cap = (size_t)levels * 20 + 64, len = 0;
    uint8_t *buf = malloc(cap), *tmp = malloc(cap);
    CU_ASSERT_FATAL(buf && tmp);
    static const uint8_t fields[3] = { 0x32, 0x2a, 0x0a };   /* attr.g, node.attribute,
                                                                 graph.node */
    for (int i = 0; i < levels * 3; i++) {
        uint8_t hdr[12];
        size_t h = 0, n = len;
        hdr[h++] = fields[i % 3];
        do {
            hdr[h++] = (uint8_t)((n & 0x7f) | (n > 0x7f ? 0x80 : 0));
            n >>= 7;
        } while (n);
        memcpy(tmp, hdr, h);
        memcpy(tmp + h, buf, len);
        len += h;
        memcpy(buf, tmp, len);
    }
    /* the outermost is a GraphProto: wrap it as ModelProto.graph (field 7) */
    uint8_t hdr[12];
    size_t h = 0, n = len;
    hdr[h++] = 0x3a;
    do {
        hdr[h++] = (uint8_t)((n & 0x7f) | (n > 0x7f ? 0x80 : 0));
        n >>= 7;
    } while (n);
    FILE *f = fopen(path, "wb");
    CU_ASSERT_FATAL(f != NULL);
    fwrite(hdr, 1, h, f);
    fwrite(buf, 1, len, f);
    fclose(f);
    free(buf);
    free(tmp);
}

static void
test_deep_nesting(void)
{
    write_nested(tpath("deep.onnx"), 5000);
    expect_file_error(tpath("deep.onnx"), "messages nest deeper than 64 levels");
    char err[200];
    uint8_t two[4] = { 0x3a, 0x02, 0x0a, 0x00 };             /* model.graph.node (empty) */
    CU_ASSERT_EQUAL(onnx_wire_check(two, sizeof two, 64, err, sizeof err), 0);
    CU_ASSERT_EQUAL(onnx_wire_check(two, sizeof two, 1, err, sizeof err), -1);
}

/* ------------------------------------------------------------------ external data */

static Onnx__TensorProto *
ext_tensor(const char *loc, const char *off, const char *len)
{
    Onnx__TensorProto *t = tensor_f("w", 2, D22, 0, W4, 0);
    const char *kv[3][2] = { { "location", loc }, { "offset", off }, { "length", len } };
    t->has_data_location = 1;
    t->data_location = ONNX__TENSOR_PROTO__DATA_LOCATION__EXTERNAL;
    t->external_data = tnew(sizeof(void *) * 3);
    for (int i = 0; i < 3; i++) {
        if (!kv[i][1])
            continue;
        Onnx__StringStringEntryProto *e = tnew(sizeof *e);
        onnx__string_string_entry_proto__init(e);
        e->key = tstr(kv[i][0]);
        e->value = tstr(kv[i][1]);
        t->external_data[t->n_external_data++] = e;
    }
    return t;
}

static void
test_external_data(void)
{
    uint8_t bin[8 + sizeof W4];
    memset(bin, 0xee, 8);
    memcpy(bin + 8, W4, sizeof W4);
    write_bytes(tpath("w.bin"), bin, sizeof bin);
    Model m = add_model(ext_tensor("w.bin", "8", "16"));
    save(&m, tpath("ext.onnx"));
    Diag d;
    diag_init(&d);
    Graph *g = onnx_import_file(tpath("ext.onnx"), NULL, 0, &d);
    CU_ASSERT_PTR_NOT_NULL_FATAL(g);
    check_add_graph(g);
    int mapped = 0;
    for (uint32_t i = 1; i < g->nstorage; i++)
        mapped += g->storage[i].kind == STORE_FILE && g->storage[i].nbytes == 16;
    CU_ASSERT_EQUAL(mapped, 1);
    ir_graph_free(g);
    diag_free(&d);

    m = add_model(ext_tensor("nothere.bin", NULL, NULL));
    save(&m, tpath("extmiss.onnx"));
    expect_file_error(tpath("extmiss.onnx"), "initializer 'w': external data: cannot open "
                      "'nothere.bin'");
    m = add_model(ext_tensor("w.bin", "16", NULL));
    save(&m, tpath("extshort.onnx"));
    expect_file_error(tpath("extshort.onnx"), "offset 16 + 16 bytes exceeds the 24 bytes of "
                      "'w.bin'");
    m = add_model(ext_tensor("w.bin", "0", "12"));
    save(&m, tpath("extlen.onnx"));
    expect_file_error(tpath("extlen.onnx"), "length 12, the shape needs 16 bytes");
    m = add_model(ext_tensor("../w.bin", NULL, NULL));
    save(&m, tpath("extup.onnx"));
    expect_file_error(tpath("extup.onnx"), "location '../w.bin' leaves the model's folder");
    m = add_model(ext_tensor("/etc/passwd", NULL, NULL));
    save(&m, tpath("extabs.onnx"));
    expect_file_error(tpath("extabs.onnx"), "absolute location '/etc/passwd' is not allowed");
    /* a symlink inside the folder that points outside it */
    write_bytes("/tmp/kiln_onnx_outside.bin", bin, sizeof bin);
    unlink(tpath("link.bin"));
    CU_ASSERT_EQUAL(symlink("/tmp/kiln_onnx_outside.bin", tpath("link.bin")), 0);
    m = add_model(ext_tensor("link.bin", "8", NULL));
    save(&m, tpath("extlink.onnx"));
    expect_file_error(tpath("extlink.onnx"), "location 'link.bin' resolves outside the model's "
                      "folder");
    unlink("/tmp/kiln_onnx_outside.bin");
    pool_free();
}

/* ------------------------------------------------------------------ op table */

static void
test_op_table(void)
{
    CU_ASSERT(onnx_op_claimed("", "Conv", 11));
    CU_ASSERT(onnx_op_claimed("ai.onnx", "Gemm", 17));
    CU_ASSERT(!onnx_op_claimed("", "Gemm", 6));          /* broadcast attr era */
    CU_ASSERT(!onnx_op_claimed("com.microsoft", "Conv", 11));
    CU_ASSERT(!onnx_op_claimed("", "Loop", 13));
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    onnx_op_list(f);
    fclose(f);
    CU_ASSERT_PTR_NOT_NULL(strstr(text, "| Gemm | 7-17 | f32 |"));
    free(text);
}

static CU_TestInfo import_tests[] = {
    { "add with raw and typed initializers", test_add_raw_and_typed },
    { "shape subgraph folds", test_shape_subgraph_folds },
    { "--shape fixes a dynamic dim", test_shape_fix },
    { "--shape parser", test_parse_shape_fix },
    { "op table", test_op_table },
    { "CumSum variants", test_cumsum },
    { "zero-size tensors", test_zero_size },
    CU_TEST_INFO_NULL,
};

static CU_TestInfo bad_tests[] = {
    { "truncated, garbage, empty", test_truncated_and_garbage },
    { "lying lengths", test_lying_length },
    { "negative and huge dims", test_bad_dims },
    { "initializer size mismatch", test_size_mismatch },
    { "cycles, undefined, duplicates", test_cycle_and_undefined },
    { "unsupported op, domain, opset", test_unsupported_op },
    { "unsupported variant vs unclaimed type", test_unsupported_variant },
    { "QuantizeLinear with a run-time scale", test_quantize_runtime_scale },
    { "DynamicQuantizeLinear", test_dynamic_quantize },
    { "errors name the node; constant operands", test_node_errors },
    { "deeply nested subgraphs", test_deep_nesting },
    { "external data", test_external_data },
    CU_TEST_INFO_NULL,
};

static CU_SuiteInfo suites[] = {
    { .pName = "onnx import", .pTests = import_tests },
    { .pName = "onnx bad input", .pTests = bad_tests },
    CU_SUITE_INFO_NULL,
};

int
main(void)
{
    snprintf(tmpdir, sizeof tmpdir, "/tmp/kiln_onnx_XXXXXX");
    if (!mkdtemp(tmpdir))
        return 1;
    int fails = kiln_cu_run(suites);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
    if (system(cmd) != 0)
        fails++;
    return fails ? 1 : 0;
}
