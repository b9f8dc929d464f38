/* tests/unit/test_verify.c — ir_verify: a valid graph passes and is left unchanged; then
 * one rejection per rule, each made by breaking one thing in that graph and checking the
 * message (and, for the format, the whole message and its location). */
#include <CUnit/Basic.h>
#include "cu_run.h"
#include <stdlib.h>
#include <string.h>
#include "ir.h"

/* A graph touching every rule; it verifies, shape inference included. */
static const char base_text[] =
    "graph @m(%x: f32[1,8]) -> (probs = %p, hidden = %h) {\n"
    "  %w = const dense<[1, 0, 0, 2, 0, 3, 4, 0, 1, 0, 0, 2, 0, 3, 4, 0]> : f32[2,8] sparse<2:4>\n"
    "  %b = const dense<[0.5, -0.5]> : f32[2]\n"
    "  %h = matmul(%x, %w, %b) {trans_b = 1} epilogue[add(%b), relu] : f32[1,2] "
    "loc(\"m.kiln\":3:5)\n"
    "  %s0, %s1 = split(%h) {axis = 1, sizes = [1, 1]} : f32[1,1], f32[1,1]\n"
    "  %m = reduce_max(%h) : f32[]\n"
    "  %t = const dense<[0.9]> : f32[]\n"
    "  %c = greater(%m, %t) : bool[]\n"
    "  %p = softmax(%h) : f32[1,2] loc(\"m.kiln\":5:9)\n"
    "  exit_if(%c, %p, %h) {index = 1} @exit(threshold = 0.9)\n"
    "  %q = quantize(%x) {bits = 4, signed = 1, axis = 1, group = 4, scale = [0.5, 0.25], "
    "zero = [0, 1]} : i8[1,8] quant<4, signed, group(1, 4), scale = [0.5, 0.25], zero = [0, 1]>\n"
    "  %dq = dequantize(%q) : f32[1,8]\n"
    "  %cv = reshape(%dq) {shape = [1, 2, 2, 2]} : f32[1,2,2,2]\n"
    "  %cw = const dense<[1, 2, 3, 4]> : f32[2,2,1,1]\n"
    "  %co = conv2d(%cv, %cw) : f32[1,2,2,2]\n"
    "  %pl = maxpool(%co) {kernel = 2} : f32[1,2,1,1]\n"
    "  %ln = layernorm(%x) {eps = 1e-06} : f32[1,8]\n"
    "  %sl = slice(%x) {starts = [0, 1], ends = [1, 5], steps = [1, 2]} : f32[1,2]\n"
    "  %ca = cast(%x) {to = i32} : i32[1,8]\n"
    "  %tr = transpose(%x) : f32[8,1]\n"
    "  %pd = pad(%x) {pads = [0, 1, 0, 2], value = 1.5} : f32[1,11]\n"
    "  %am = argmax(%x) {axis = 1, keepdims = 1} : i64[1,1]\n"
    "  %rs = reduce_sum(%x) {axes = [1]} : f32[1]\n"
    "  %re = reshape(%x) {shape = [2, -1]} : f32[2,4]\n"
    "  %cl = clip(%x) {min = 0, max = 6} : f32[1,8]\n"
    "  return\n"
    "}\n";

static Graph *
base(void)
{
    Diag d;
    diag_init(&d);
    Graph *g = ir_parse_text(base_text, strlen(base_text), "base.kir", &d);
    for (int i = 0; i < d.nmsg; i++)
        fprintf(stderr, "base: %d:%d: %s\n", d.msg[i].loc.line, d.msg[i].loc.col, d.msg[i].msg);
    diag_free(&d);
    return g;
}

/* The node defining the value named `name`. */
static Node *
def(Graph *g, const char *name)
{
    for (uint32_t v = 1; v < g->nvalue; v++)
        if (g->values[v].name && strcmp(g->values[v].name, name) == 0 && g->values[v].def)
            return ir_node(g, g->values[v].def);
    CU_FAIL_FATAL("no such value");
    return NULL;
}

static ValueId
val(Graph *g, const char *name)
{
    for (uint32_t v = 1; v < g->nvalue; v++)
        if (g->values[v].name && strcmp(g->values[v].name, name) == 0)
            return v;
    CU_FAIL_FATAL("no such value");
    return 0;
}

static Node *
exit_node(Graph *g)
{
    for (uint32_t i = 0; i < g->norder; i++)
        if (g->nodes[g->order[i]].op == OP_EXIT_IF)
            return &g->nodes[g->order[i]];
    CU_FAIL_FATAL("no exit_if");
    return NULL;
}

/* Breaks base() with `edit`; ir_verify must fail with a message containing `want`. */
static void
expect_reject(void (*edit)(Graph *), const char *want)
{
    Graph *g = base();
    CU_ASSERT_PTR_NOT_NULL_FATAL(g);
    edit(g);
    Diag d;
    diag_init(&d);
    CU_ASSERT_EQUAL(ir_verify(g, &d), -1);
    int found = 0;
    for (int i = 0; i < d.nmsg; i++)
        found |= strstr(d.msg[i].msg, want) != NULL && strncmp(d.msg[i].msg, "verify: ", 8) == 0;
    if (!found) {
        fprintf(stderr, "\nwanted '%s', got:\n", want);
        for (int i = 0; i < d.nmsg; i++)
            fprintf(stderr, "  %s\n", d.msg[i].msg);
    }
    CU_ASSERT_TRUE(found);
    diag_free(&d);
    ir_graph_free(g);
}

/* ------------------------------------------------------------------ the valid graph */

static void
test_valid(void)
{
    Graph *g = base();
    CU_ASSERT_PTR_NOT_NULL_FATAL(g);
    char *before = ir_graph_print_str(g);
    Diag d;
    diag_init(&d);
    CU_ASSERT_EQUAL(ir_verify(g, &d), 0);
    CU_ASSERT_EQUAL(d.nmsg, 0);
    char *after = ir_graph_print_str(g);
    CU_ASSERT_STRING_EQUAL(before, after);     /* inference ran and was undone */
    free(before);
    free(after);
    diag_free(&d);
    ir_graph_free(g);
}

static void
edit_type(Graph *g)
{
    ir_value(g, val(g, "p"))->type.dims[1] = 3;
}

/* The message names the node and carries its location; the graph is left as it was. */
static void
test_message_format(void)
{
    Graph *g = base();
    CU_ASSERT_PTR_NOT_NULL_FATAL(g);
    edit_type(g);
    char *before = ir_graph_print_str(g);
    Diag d;
    diag_init(&d);
    CU_ASSERT_EQUAL(ir_verify(g, &d), -1);
    CU_ASSERT_EQUAL_FATAL(d.nmsg, 1);
    NodeId n = g->values[val(g, "p")].def;
    char want[200];
    snprintf(want, sizeof want, "verify: %%%u = softmax 'p': result 0 is recorded as f32[1,3] "
             "but its operands give f32[1,2]", (unsigned)n);
    CU_ASSERT_STRING_EQUAL(d.msg[0].msg, want);
    CU_ASSERT_STRING_EQUAL(d.msg[0].loc.file, "m.kiln");
    CU_ASSERT_EQUAL(d.msg[0].loc.line, 5);
    CU_ASSERT_EQUAL(d.msg[0].loc.col, 9);
    char *after = ir_graph_print_str(g);
    CU_ASSERT_STRING_EQUAL(before, after);
    free(before);
    free(after);
    diag_free(&d);
    ir_graph_free(g);
}

/* ------------------------------------------------------------------ structure */

static void edit_nin(Graph *g) { Node *n = def(g, "p"); n->nin = 0; }
static void edit_nout(Graph *g) { def(g, "s0")->attr.split.n = 3; }
static void edit_order(Graph *g)
{
    /* move softmax (uses %h) to the front of the schedule */
    NodeId p = g->values[val(g, "p")].def;
    uint32_t i = 0;
    while (g->order[i] != p)
        i++;
    memmove(g->order + 1, g->order, i * sizeof *g->order);
    g->order[0] = p;
}
static void edit_kill(Graph *g) { ir_node_kill(g, g->values[val(g, "ln")].def); }
static void edit_twice(Graph *g)
{
    g->order = realloc(g->order, (g->norder + 1) * sizeof *g->order);
    g->caporder = g->norder + 1;
    g->order[g->norder] = g->order[g->norder - 1];
    g->norder++;
}
static void edit_backptr(Graph *g) { ir_value(g, val(g, "ln"))->res = 1; }
static void edit_input_type(Graph *g) { ir_value(g, g->inputs[0])->type.dtype = DT_NONE; }
static void edit_output(Graph *g) { g->outputs[0].value = g->nvalue + 5; }
static void edit_output_path(Graph *g) { g->outputs[0].name = "../escaped"; }
static void edit_output_empty(Graph *g) { g->outputs[0].name = ""; }
static void edit_output_dup(Graph *g) { ir_graph_add_output(g, "probs", g->outputs[0].value); }

static void
test_structure(void)
{
    expect_reject(edit_nin, "softmax 'p': expected 1 operand, got 0");
    expect_reject(edit_nout, "split 's0': expected 3 results, got 2");
    expect_reject(edit_order, "softmax 'p': operand 0 is used before it is defined");
    expect_reject(edit_kill, "deleted node in the schedule");
    expect_reject(edit_twice, "node is scheduled twice");
    expect_reject(edit_backptr, "result 0 (id ");
    expect_reject(edit_input_type, "graph @m: input 0 'x' has no type");
    expect_reject(edit_output, "graph @m: output 0 'probs' is not a defined value");
    expect_reject(edit_output_path, "output 0: name '../escaped' must be non-empty, not "
                  "start with '.' and contain no '/'");
    expect_reject(edit_output_empty, "output 0: name '' must be non-empty");
    expect_reject(edit_output_dup, "name 'probs' is already output 0");
}

/* ------------------------------------------------------------------ attributes */

static void edit_stride(Graph *g) { def(g, "co")->attr.conv.stride[1] = 0; }
static void edit_dilation(Graph *g) { def(g, "co")->attr.conv.dilation[0] = 0; }
static void edit_groups(Graph *g) { def(g, "co")->attr.conv.groups = 0; }
static void edit_conv_pad(Graph *g) { def(g, "co")->attr.conv.pad[3] = -1; }
static void edit_kernel(Graph *g) { def(g, "pl")->attr.pool.kernel[0] = 0; }
static void edit_pool_pad(Graph *g) { def(g, "pl")->attr.pool.pad[2] = -2; }
static void edit_eps(Graph *g) { def(g, "ln")->attr.norm.eps = 0; }
static void edit_perm(Graph *g)
{
    DimsAttr *p = &def(g, "tr")->attr.dims;
    p->rank = 2;
    p->v[0] = p->v[1] = 0;
}
static void edit_split_sum(Graph *g) { def(g, "s0")->attr.split.size[1] = 2; }
static void edit_clip(Graph *g) { def(g, "cl")->attr.scalar.a = 7; }
static void edit_slice_step(Graph *g) { def(g, "sl")->attr.slice.step[1] = 0; }
static void edit_pad_neg(Graph *g) { def(g, "pd")->attr.pad.after[1] = -1; }
static void edit_reduce_dup(Graph *g)
{
    ReduceAttr *r = &def(g, "rs")->attr.reduce;
    r->naxes = 2;
    r->axes[1] = r->axes[0];
}
static void edit_argmax(Graph *g) { def(g, "am")->attr.reduce.naxes = 2; }
static void edit_reshape(Graph *g) { def(g, "re")->attr.dims.v[0] = -1; }
static void edit_cast(Graph *g) { def(g, "ca")->attr.cast.to = DT_NONE; }
static void edit_exit_index(Graph *g) { exit_node(g)->attr.exit.index = 0; }

static void
test_attributes(void)
{
    expect_reject(edit_stride, "conv2d 'co': stride[1] = 0, expected >= 1");
    expect_reject(edit_dilation, "conv2d 'co': dilation[0] = 0, expected >= 1");
    expect_reject(edit_groups, "conv2d 'co': groups[0] = 0, expected >= 1");
    expect_reject(edit_conv_pad, "conv2d 'co': pad[3] = -1, expected >= 0");
    expect_reject(edit_kernel, "maxpool 'pl': kernel[0] = 0, expected >= 1");
    expect_reject(edit_pool_pad, "maxpool 'pl': pad[2] = -2, expected >= 0");
    expect_reject(edit_eps, "layernorm 'ln': eps must be positive and finite, got 0");
    expect_reject(edit_perm, "transpose 'tr': perm is not a permutation of 0..1");
    expect_reject(edit_split_sum, "split 's0': split sizes sum to 3, expected dim 1 of size 2");
    expect_reject(edit_clip, "clip 'cl': clip min 7 is above max 6");
    expect_reject(edit_slice_step, "slice 'sl': slice step in dim 1 is 0");
    expect_reject(edit_pad_neg, "pad 'pd': pads of dim 1 must be >= 0");
    expect_reject(edit_reduce_dup, "reduce_sum 'rs': reduction axis 1 given twice");
    expect_reject(edit_argmax, "argmax 'am': 2 reduction axes, expected 1");
    expect_reject(edit_reshape, "reshape 're': reshape shape must have 0..8 dims and at most one -1");
    expect_reject(edit_cast, "cast 'ca': cast target 0 is not a dtype");
    expect_reject(edit_exit_index, "exit_if: exit index 0, expected >= 1");
}

/* ------------------------------------------------------------------ epilogues */

static void edit_epi_op(Graph *g) { def(g, "h")->epi[1].op = OP_SOFTMAX; }
static void edit_epi_arg(Graph *g) { def(g, "h")->epi[0].arg = 7; }
static void edit_epi_unary(Graph *g) { def(g, "h")->epi[1].arg = 0; }
static void
edit_epi_unread(Graph *g)
{
    Node *n = def(g, "h");
    ValueId *in = arena_alloc(g->arena, 4 * sizeof *in);
    memcpy(in, n->in, 3 * sizeof *in);
    in[3] = in[2];
    n->in = in;
    n->nin = 4;
}

static void
test_epilogue(void)
{
    expect_reject(edit_epi_op, "matmul 'h': epilogue step 1 is not an elementwise op");
    expect_reject(edit_epi_arg, "matmul 'h': epilogue step 0 (add) reads operand 7, the node "
                                "has 3 operands");
    expect_reject(edit_epi_unary, "matmul 'h': epilogue step 1 (relu) is unary but reads "
                                  "operand 0");
    expect_reject(edit_epi_unread, "matmul 'h': operand 3 is read neither by matmul nor by its "
                                   "epilogue");
}

/* ------------------------------------------------------------------ quantized types */

static void edit_q_bits(Graph *g) { ir_value(g, val(g, "q"))->type.quant->bits = 9; }
static void edit_q_nscale(Graph *g) { ir_value(g, val(g, "q"))->type.quant->nscale = 1; }
static void edit_q_zero(Graph *g) { ir_value(g, val(g, "q"))->type.quant->zero[1] = 8; }
static void edit_q_sign(Graph *g) { ir_value(g, val(g, "q"))->type.quant->is_signed = 0; }
static void edit_q_scale(Graph *g) { ir_value(g, val(g, "q"))->type.quant->scale[0] = -1; }
static void edit_q_attr(Graph *g) { def(g, "q")->attr.quant.q.group = 3; }

/* A quantized constant whose stored values exceed its bit width. */
static void
test_quant_const_range(void)
{
    Graph *g = ir_graph_new("m");
    int8_t w[2] = { 100, 1 };
    int64_t dims[1] = { 2 };
    TensorType t = ir_type_make(DT_I8, 1, dims);
    QuantParams *q = arena_alloc(g->arena, sizeof *q);
    float scale = 0.5f;
    int32_t zero = 0;
    *q = (QuantParams){ .bits = 4, .is_signed = 1, .gran = QG_TENSOR, .nscale = 1,
                        .scale = &scale, .zero = &zero };
    t.quant = q;
    NodeId c = ir_const_new(g, &t, ir_storage_mem(g, w, sizeof w), (SrcLoc){ 0 });
    ir_graph_add_output(g, "w", ir_node_out(g, c, 0));
    Diag d;
    diag_init(&d);
    CU_ASSERT_EQUAL(ir_verify(g, &d), -1);
    CU_ASSERT_FATAL(d.nmsg > 0);
    CU_ASSERT_PTR_NOT_NULL(strstr(d.msg[0].msg, "quantized element 0 is 100, outside [-8, 7] "
                                                "for 4 bits"));
    /* ir_storage_mem copied w: mend the copy, and the graph verifies */
    ((int8_t *)g->storage[ir_node(g, c)->attr.cnst.storage].data)[0] = 7;
    diag_free(&d);
    diag_init(&d);
    CU_ASSERT_EQUAL(ir_verify(g, &d), 0);
    diag_free(&d);
    ir_graph_free(g);
}

static void
test_quant(void)
{
    expect_reject(edit_q_bits, "quantize 'q': result 0: quant bits must be 2..8, got 9");
    expect_reject(edit_q_nscale, "quantize 'q': result 0: expected 2 quant scales, got 1");
    expect_reject(edit_q_zero, "quantize 'q': result 0: quant zero[1] = 8 outside [-8, 7]");
    expect_reject(edit_q_sign, "quantize 'q': result 0: unsigned quantized values must be u8, "
                               "got i8");
    expect_reject(edit_q_scale, "quantize 'q': result 0: quant scale[0] = -1 must be positive");
    expect_reject(edit_q_attr, "quantize 'q': quantize attribute: quant group 3 does not divide "
                               "dim 1 of size 8");
}

/* ------------------------------------------------------------------ sparse and constants */

static void edit_nm(Graph *g) { ir_value(g, val(g, "w"))->type.sparse.n = 4; }
static void
edit_nm_data(Graph *g)
{
    Node *n = def(g, "w");
    float *data = (float *)g->storage[n->attr.cnst.storage].data;
    data[5] = 0;
    data[6] = 0;
    data[9] = 1;          /* elements 8..11 = 1, 1, 0, 2: three non-zeros */
}
static void edit_sparse_value(Graph *g) { ir_value(g, val(g, "p"))->type.sparse.kind = SP_CSR; }
static void
edit_block(Graph *g)
{
    SparseFmt *s = &ir_value(g, val(g, "w"))->type.sparse;
    *s = (SparseFmt){ .kind = SP_BLOCK, .block = { 2, 3 } };
}
static void edit_nbytes(Graph *g) { g->storage[def(g, "b")->attr.cnst.storage].nbytes = 4; }
static void edit_storage(Graph *g) { def(g, "b")->attr.cnst.storage = 0; }

static void
test_sparse_const(void)
{
    expect_reject(edit_nm, "const 'w': sparse<4:4>: expected 0 < n < m");
    expect_reject(edit_nm_data, "const 'w': sparse<2:4>: elements 8..11 hold 3 non-zeros");
    expect_reject(edit_sparse_value, "softmax 'p': result 0: only constants may have a sparse "
                                     "encoding");
    expect_reject(edit_block, "const 'w': sparse<block 2x3>: blocks do not tile the last two "
                              "dims 2x8");
    expect_reject(edit_nbytes, "const 'b': storage holds 4 bytes, type f32[2] needs 8");
    expect_reject(edit_storage, "const 'b': constant has no storage");
}

/* ------------------------------------------------------------------ exit_if, types */

static void edit_cond(Graph *g) { exit_node(g)->in[0] = val(g, "m"); }
static void edit_exit_count(Graph *g) { exit_node(g)->nin = 2; }
static void edit_exit_type(Graph *g) { exit_node(g)->in[1] = val(g, "s0"); }
static void edit_trans(Graph *g) { def(g, "h")->attr.matmul.trans_b = 0; }

static void
test_exit_and_types(void)
{
    expect_reject(edit_cond, "exit_if: condition must be a bool with one element, got f32[]");
    expect_reject(edit_exit_count, "exit_if: returns 1 values, the graph has 2 outputs");
    expect_reject(edit_exit_type, "exit_if: operand 1 is f32[1,1] but output 'probs' is f32[1,2]");
    expect_reject(edit_type, "softmax 'p': result 0 is recorded as f32[1,3] but its operands "
                             "give f32[1,2]");
    expect_reject(edit_trans, "matmul 'h': matmul: ");
}

static CU_TestInfo verify_tests[] = {
    { "valid graph passes unchanged", test_valid },
    { "message format and location", test_message_format },
    { "ids, counts, schedule, inputs, outputs", test_structure },
    { "attribute sanity", test_attributes },
    { "epilogues", test_epilogue },
    { "quantized types", test_quant },
    { "quantized constant range", test_quant_const_range },
    { "sparse encodings and constants", test_sparse_const },
    { "exit_if and inferred types", test_exit_and_types },
    CU_TEST_INFO_NULL,
};

static CU_SuiteInfo suites[] = {
    { .pName = "verify", .pTests = verify_tests },
    CU_SUITE_INFO_NULL,
};

int
main(void)
{
    return kiln_cu_run(suites);
}
