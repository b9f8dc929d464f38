/* tests/unit/test_frontend.c — the .kiln frontend: each construct parses to the expected
 * graph (ops, wiring, names, attributes, annotations, exits), layers, repeat, weights from
 * safetensors and .npy folders, and error messages with their exact text and position.
 * Weight fixtures are written by the suite into a fresh temporary folder. */
#include <CUnit/Basic.h>
#include "cu_run.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "frontend.h"

static char tmpdir[] = "/tmp/kiln_fe_test_XXXXXX";
static char kiln_path[256];      /* <tmpdir>/t.kiln: the name sources are parsed under */
static Diag diag;

/* ------------------------------------------------------------------ fixtures */

static const float w1[6] = { 1, 2, 3, 4, 5, 6 };    /* fc1.weight [2,3] */
static const float b1[2] = { 0.5f, -0.5f };         /* fc1.bias [2] */
static const float w2[4] = { 1, 0, 0, 1 };          /* fc2.weight, layer.N.w [2,2] */

static kiln_view
view(const float *data, int rank, int64_t d0, int64_t d1)
{
    kiln_view v = { .dtype = KILN_DT_F32, .rank = rank, .data = data };
    v.dims[0] = d0;
    v.dims[1] = d1;
    v.nbytes = (size_t)(d0 * (rank > 1 ? d1 : 1)) * sizeof(float);
    return v;
}

static void
path_in(char *buf, size_t len, const char *name)
{
    snprintf(buf, len, "%s/%s", tmpdir, name);
}

static void
write_bytes(const char *name, const void *data, size_t n)
{
    char p[512];
    path_in(p, sizeof p, name);
    FILE *f = fopen(p, "wb");
    if (f) {
        fwrite(data, 1, n, f);
        fclose(f);
    }
}

static int
suite_init(void)
{
    if (!mkdtemp(tmpdir))
        return -1;
    path_in(kiln_path, sizeof kiln_path, "t.kiln");
    const char *names[] = { "fc1.weight", "fc1.bias", "fc2.weight", "fc2.bias", "layer.0.w",
                            "layer.1.w", "layer.2.w", "blk.conv1.w", "blk.conv2.w", "fc2.w" };
    kiln_view v[10] = { view(w1, 2, 2, 3), view(b1, 1, 2, 0), view(w2, 2, 2, 2),
                       view(b1, 1, 2, 0), view(w2, 2, 2, 2), view(w2, 2, 2, 2),
                       view(w2, 2, 2, 2), view(w2, 2, 2, 2), view(w2, 2, 2, 2), view(w2, 2, 2, 2) };
    char p[512], err[256];
    path_in(p, sizeof p, "w.safetensors");
    if (kiln_st_write(p, 10, names, v, err, sizeof err) != KILN_OK)
        return -1;
    const char *other[] = { "fc1.weight", "extra" };    /* fc1.weight shadowed by w.st */
    kiln_view ov[2] = { view(w2, 2, 2, 2), view(b1, 1, 2, 0) };
    path_in(p, sizeof p, "o.safetensors");
    if (kiln_st_write(p, 2, other, ov, err, sizeof err) != KILN_OK)
        return -1;
    path_in(p, sizeof p, "npyw");
    if (mkdir(p, 0700) != 0)
        return -1;
    path_in(p, sizeof p, "npyw/fc.weight.npy");
    kiln_view nv = view(w1, 2, 3, 2);
    if (kiln_npy_write(p, &nv, err, sizeof err) != KILN_OK)
        return -1;
    /* truncated copies: a safetensors cut inside its data, a .npy cut inside its data */
    path_in(p, sizeof p, "w.safetensors");
    FILE *f = fopen(p, "rb");
    char buf[4096];
    size_t n = f ? fread(buf, 1, sizeof buf, f) : 0;
    if (f)
        fclose(f);
    if (n < 32)
        return -1;
    write_bytes("cut.safetensors", buf, n - 20);
    write_bytes("short.safetensors", buf, 5);
    path_in(p, sizeof p, "npyw/fc.weight.npy");
    f = fopen(p, "rb");
    n = f ? fread(buf, 1, sizeof buf, f) : 0;
    if (f)
        fclose(f);
    path_in(p, sizeof p, "npyw/cut.npy");
    write_bytes("npyw/cut.npy", buf, n - 4);
    return 0;
}

static int
suite_clean(void)
{
    const char *files[] = { "w.safetensors", "o.safetensors", "cut.safetensors",
                            "short.safetensors", "npyw/fc.weight.npy", "npyw/cut.npy",
                            "t.kiln", "npyw" };
    char p[512];
    if (getenv("KILN_TEST_KEEP"))
        return 0;
    for (size_t i = 0; i < sizeof files / sizeof *files; i++) {
        path_in(p, sizeof p, files[i]);
        remove(p);
    }
    rmdir(tmpdir);
    return 0;
}

/* ------------------------------------------------------------------ helpers */

static Graph *
parse(const char *src)
{
    diag_free(&diag);
    diag_init(&diag);
    Graph *g = fe_parse_string(src, strlen(src), kiln_path, &diag);
    if (getenv("KILN_TEST_VERBOSE"))
        diag_print(&diag, stderr);
    return g;
}

/* 1 if diag holds exactly this error at line:col. */
static int
has_error(int line, int col, const char *msg)
{
    for (int i = 0; i < diag.nmsg; i++)
        if (diag.msg[i].level == DIAG_ERROR && diag.msg[i].loc.line == line &&
            diag.msg[i].loc.col == col && strcmp(diag.msg[i].msg, msg) == 0)
            return 1;
    fprintf(stderr, "\nwanted %d:%d: %s\nhave:\n", line, col, msg);
    for (int i = 0; i < diag.nmsg; i++)
        fprintf(stderr, "  %d:%d: %s\n", diag.msg[i].loc.line, diag.msg[i].loc.col,
                diag.msg[i].msg);
    return 0;
}

/* Fails the parse of src and checks that its only error is msg at line:col. */
static void
check_only_error(const char *src, int line, int col, const char *msg)
{
    Graph *g = parse(src);
    CU_ASSERT_PTR_NULL(g);
    ir_graph_free(g);
    CU_ASSERT_EQUAL(diag.nerror, 1);
    CU_ASSERT_TRUE(has_error(line, col, msg));
    if (diag.nerror != 1)
        fprintf(stderr, "\nsource with %d errors:\n%s", diag.nerror, src);
}

static ValueId
value_named(const Graph *g, const char *name)
{
    for (uint32_t v = 1; v < g->nvalue; v++)
        if (g->values[v].name && strcmp(g->values[v].name, name) == 0)
            return v;
    return 0;
}

/* The node defining the value called name (NULL if none). */
static Node *
def_of(Graph *g, const char *name)
{
    ValueId v = value_named(g, name);
    return v && g->values[v].def ? ir_node(g, g->values[v].def) : NULL;
}

static Node *
def_of_value(Graph *g, ValueId v)
{
    return v && g->values[v].def ? ir_node(g, g->values[v].def) : NULL;
}

static int
count_op(const Graph *g, Op op)
{
    int n = 0;
    for (uint32_t i = 0; i < g->norder; i++)
        n += g->nodes[g->order[i]].op == op;
    return n;
}

static Node *
nth_op(Graph *g, Op op, int k)
{
    for (uint32_t i = 0; i < g->norder; i++)
        if (g->nodes[g->order[i]].op == op && k-- == 0)
            return &g->nodes[g->order[i]];
    return NULL;
}

static const char *
name_of(const Graph *g, ValueId v)
{
    return v && g->values[v].name ? g->values[v].name : "";
}

/* ------------------------------------------------------------------ constructs */

static const char *mlp_src =
    "# two dense layers and an early exit\n"
    "weights \"w.safetensors\"\n"
    "layer dense(x) {\n"
    "  param weight\n"
    "  param bias: f32[2]\n"
    "  let y = matmul(x, weight, trans_b=1) + bias\n"
    "  return y\n"
    "}\n"
    "model mlp(x: f32[1, 3]) -> (probs, hidden) {\n"
    "  let h1 = relu(dense[fc1](x))\n"
    "  let e = softmax(h1, axis=-1)\n"
    "  exit if reduce_max(e) > 0.9 return (hidden = h1, probs = e)\n"
    "  exit if reduce_max(e) < 0.1 return (probs = h1, hidden = e)\n"
    "  return (probs = softmax(dense[fc2](h1)), hidden = h1)\n"
    "}\n";

static void
test_model(void)
{
    Graph *g = parse(mlp_src);
    CU_ASSERT_PTR_NOT_NULL_FATAL(g);
    CU_ASSERT_EQUAL(diag.nmsg, 0);
    CU_ASSERT_STRING_EQUAL(g->name, "mlp");
    CU_ASSERT_STRING_EQUAL(g->dir, tmpdir);
    /* input: typed, named */
    CU_ASSERT_EQUAL_FATAL(g->ninput, 1);
    ValueId x = g->inputs[0];
    CU_ASSERT_STRING_EQUAL(name_of(g, x), "x");
    CU_ASSERT_EQUAL(g->values[x].type.dtype, DT_F32);
    CU_ASSERT_EQUAL(g->values[x].type.rank, 2);
    CU_ASSERT_EQUAL(g->values[x].type.dims[1], 3);
    /* params: consts named by dotted name, typed and holding the file's bytes */
    Node *w = def_of(g, "fc1.weight");
    CU_ASSERT_PTR_NOT_NULL_FATAL(w);
    CU_ASSERT_EQUAL(w->op, OP_CONST);
    ValueId wv = value_named(g, "fc1.weight");
    CU_ASSERT_EQUAL(g->values[wv].type.rank, 2);
    CU_ASSERT_EQUAL(g->values[wv].type.dims[0], 2);
    CU_ASSERT_EQUAL(g->values[wv].type.dims[1], 3);
    const float *data = ir_const_data(g, g->values[wv].def);
    CU_ASSERT_EQUAL(data[0], 1.0f);
    CU_ASSERT_EQUAL(data[5], 6.0f);
    CU_ASSERT_STRING_EQUAL(g->storage[w->attr.cnst.storage].path, "w.safetensors");
    CU_ASSERT_STRING_EQUAL(g->storage[w->attr.cnst.storage].key, "fc1.weight");
    CU_ASSERT_EQUAL(w->loc.line, 4);
    CU_ASSERT_EQUAL(w->loc.col, 3);
    /* fc1.y = add(matmul(x, fc1.weight){trans_b}, fc1.bias), result type left to inference */
    Node *add = def_of(g, "fc1.y");
    CU_ASSERT_PTR_NOT_NULL_FATAL(add);
    CU_ASSERT_EQUAL(add->op, OP_ADD);
    CU_ASSERT_EQUAL(g->values[add->out[0]].type.dtype, DT_NONE);
    CU_ASSERT_STRING_EQUAL(name_of(g, add->in[1]), "fc1.bias");
    Node *mm = def_of_value(g, add->in[0]);
    CU_ASSERT_PTR_NOT_NULL_FATAL(mm);
    CU_ASSERT_EQUAL(mm->op, OP_MATMUL);
    CU_ASSERT_EQUAL(mm->in[0], x);
    CU_ASSERT_EQUAL(mm->in[1], wv);
    CU_ASSERT_EQUAL(mm->attr.matmul.trans_b, 1);
    CU_ASSERT_EQUAL(mm->attr.matmul.trans_a, 0);
    CU_ASSERT_EQUAL(mm->loc.line, 6);
    CU_ASSERT_EQUAL(mm->loc.col, 11);
    CU_ASSERT_STRING_EQUAL(mm->loc.file, kiln_path);
    CU_ASSERT_PTR_NOT_EQUAL(mm->loc.file, kiln_path);     /* the graph's own copy */
    /* let names its value; softmax keeps axis = -1 for inference to normalise */
    Node *h1 = def_of(g, "h1");
    CU_ASSERT_PTR_NOT_NULL_FATAL(h1);
    CU_ASSERT_EQUAL(h1->op, OP_RELU);
    CU_ASSERT_EQUAL(h1->in[0], add->out[0]);
    CU_ASSERT_EQUAL(h1->loc.line, 10);
    CU_ASSERT_EQUAL(h1->loc.col, 12);
    Node *e = def_of(g, "e");
    CU_ASSERT_EQUAL(e->op, OP_SOFTMAX);
    CU_ASSERT_EQUAL(e->attr.axis.axis, -1);
    /* exits: operands (cond, probs, hidden) in declared output order, numbered 1, 2 */
    CU_ASSERT_EQUAL_FATAL(count_op(g, OP_EXIT_IF), 2);
    Node *x1 = nth_op(g, OP_EXIT_IF, 0), *x2 = nth_op(g, OP_EXIT_IF, 1);
    CU_ASSERT_EQUAL(x1->nin, 3);
    CU_ASSERT_EQUAL(x1->nout, 0);
    CU_ASSERT_EQUAL(x1->attr.exit.index, 1);
    CU_ASSERT_EQUAL(x2->attr.exit.index, 2);
    CU_ASSERT_EQUAL(x1->in[1], e->out[0]);
    CU_ASSERT_EQUAL(x1->in[2], h1->out[0]);
    CU_ASSERT_EQUAL(x2->in[1], h1->out[0]);
    CU_ASSERT_EQUAL(x2->in[2], e->out[0]);
    Node *gt = def_of_value(g, x1->in[0]);
    CU_ASSERT_EQUAL(gt->op, OP_GREATER);
    CU_ASSERT_EQUAL(def_of_value(g, gt->in[0])->op, OP_REDUCE_MAX);
    Node *lit = def_of_value(g, gt->in[1]);
    CU_ASSERT_EQUAL(lit->op, OP_CONST);
    CU_ASSERT_EQUAL(g->values[lit->out[0]].type.rank, 0);
    CU_ASSERT_EQUAL(g->values[lit->out[0]].type.dtype, DT_F32);
    CU_ASSERT_EQUAL(*(const float *)ir_const_data(g, g->values[gt->in[1]].def), 0.9f);
    CU_ASSERT_EQUAL(def_of_value(g, x2->in[0])->op, OP_LESS);
    /* outputs in declared order; a value made by return is named after its output */
    CU_ASSERT_EQUAL_FATAL(g->noutput, 2);
    CU_ASSERT_STRING_EQUAL(g->outputs[0].name, "probs");
    CU_ASSERT_STRING_EQUAL(g->outputs[1].name, "hidden");
    CU_ASSERT_EQUAL(g->outputs[1].value, h1->out[0]);
    CU_ASSERT_STRING_EQUAL(name_of(g, g->outputs[0].value), "probs");
    CU_ASSERT_EQUAL(def_of_value(g, g->outputs[0].value)->op, OP_SOFTMAX);
    CU_ASSERT_PTR_NOT_NULL(value_named(g, "fc2.weight") ? g : NULL);
    /* exits come before the nodes after them in the schedule */
    CU_ASSERT_EQUAL(g->nodes[g->order[g->norder - 1]].op, OP_SOFTMAX);
    ir_graph_free(g);
}

static void
test_operators(void)
{
    Graph *g = parse("model m(a: f32[2], b: f32[2], c: f32[2]) -> (y) {\n"
                     "  let p = a + b * c\n"
                     "  let q = (a - b) / -c\n"
                     "  let r = a @ b == c\n"
                     "  let s = a\n"
                     "    @ b\n"
                     "  return (y = p + q + r + s + 2)\n"
                     "}\n");
    CU_ASSERT_PTR_NOT_NULL_FATAL(g);
    ValueId a = g->inputs[0], b = g->inputs[1], c = g->inputs[2];
    Node *p = def_of(g, "p");
    CU_ASSERT_EQUAL(p->op, OP_ADD);
    CU_ASSERT_EQUAL(p->in[0], a);
    Node *mul = def_of_value(g, p->in[1]);
    CU_ASSERT_EQUAL(mul->op, OP_MUL);
    CU_ASSERT_EQUAL(mul->in[0], b);
    CU_ASSERT_EQUAL(mul->in[1], c);
    CU_ASSERT_EQUAL(mul->loc.col, 17);          /* at the operator */
    Node *q = def_of(g, "q");
    CU_ASSERT_EQUAL(q->op, OP_DIV);
    CU_ASSERT_EQUAL(def_of_value(g, q->in[0])->op, OP_SUB);
    Node *neg = def_of_value(g, q->in[1]);
    CU_ASSERT_EQUAL(neg->op, OP_NEG);
    CU_ASSERT_EQUAL(neg->in[0], c);
    Node *r = def_of(g, "r");
    CU_ASSERT_EQUAL(r->op, OP_EQUAL);
    CU_ASSERT_EQUAL(def_of_value(g, r->in[0])->op, OP_MATMUL);
    Node *s = def_of(g, "s");                    /* "@ b" opening a line is matmul */
    CU_ASSERT_EQUAL(s->op, OP_MATMUL);
    CU_ASSERT_EQUAL(s->in[1], b);
    ir_graph_free(g);
}

static void
test_literals(void)
{
    Graph *g = parse("model m(x: f32[2, 2]) -> (y) {\n"
                     "  let a = [[1, 2], [3, -4.5]]\n"
                     "  let b = i64[7, -9000000000]\n"
                     "  let c = bool[[1], [0]]\n"
                     "  let d = u8[255]\n"
                     "  return (y = x + a + b + c + d)\n"
                     "}\n");
    CU_ASSERT_PTR_NOT_NULL_FATAL(g);
    ValueId a = value_named(g, "a"), bv = value_named(g, "b"), c = value_named(g, "c");
    TensorType *t = &g->values[a].type;
    CU_ASSERT_EQUAL(t->dtype, DT_F32);
    CU_ASSERT_EQUAL(t->rank, 2);
    CU_ASSERT_EQUAL(t->dims[0], 2);
    CU_ASSERT_EQUAL(t->dims[1], 2);
    const float *fa = ir_const_data(g, g->values[a].def);
    CU_ASSERT_EQUAL(fa[1], 2.0f);
    CU_ASSERT_EQUAL(fa[3], -4.5f);
    CU_ASSERT_EQUAL(g->values[bv].type.dtype, DT_I64);
    const int64_t *ib = ir_const_data(g, g->values[bv].def);
    CU_ASSERT_EQUAL(ib[0], 7);
    CU_ASSERT_EQUAL(ib[1], -9000000000LL);
    CU_ASSERT_EQUAL(g->values[c].type.dtype, DT_BOOL);
    CU_ASSERT_EQUAL(g->values[c].type.dims[0], 2);
    CU_ASSERT_EQUAL(g->values[c].type.dims[1], 1);
    CU_ASSERT_EQUAL(((const uint8_t *)ir_const_data(g, g->values[c].def))[0], 1);
    ValueId d = value_named(g, "d");
    CU_ASSERT_EQUAL(((const uint8_t *)ir_const_data(g, g->values[d].def))[0], 255);
    ir_graph_free(g);

    const char *hdr = "model m(x: f32[2]) -> (y) {\n  let a = ";
    char src[256];
    snprintf(src, sizeof src, "%s[[1, 2], [3]]\n  return (y = a)\n}\n", hdr);
    check_only_error(src, 2, 20, "list literal is not rectangular: expected a list of 2, "
                     "got another length");
    snprintf(src, sizeof src, "%si8[1, 300]\n  return (y = a)\n}\n", hdr);
    check_only_error(src, 2, 17, "i8 literal: expected an integer in [-128, 127], got 300");
    snprintf(src, sizeof src, "%sf64[1]\n  return (y = a)\n}\n", hdr);
    check_only_error(src, 2, 11, "unknown dtype 'f64': expected f32, i32, i64, i8, u8 or bool");
    snprintf(src, sizeof src, "%s[]\n  return (y = a)\n}\n", hdr);
    check_only_error(src, 2, 11, "empty list literal: tensors have at least one element");
}

static void
test_attributes(void)
{
    Graph *g = parse("model m(x: f32[1, 2, 4, 4], w: f32[2, 2, 3, 3]) -> (y, z) {\n"
                     "  let c = conv2d(x, w, pad=1, stride=[2, 1])\n"
                     "  let g = gelu(c)\n"
                     "  let t = gelu(c, approximate=\"tanh\")\n"
                     "  let r = reshape(t, shape=[-1, 4])\n"
                     "  let k = cast(r, to=i32)\n"
                     "  let a, b = split(r, sizes=[1, 3], axis=1)\n"
                     "  return (y = k, z = a + b + g)\n"
                     "}\n");
    CU_ASSERT_PTR_NOT_NULL_FATAL(g);
    Node *c = def_of(g, "c");
    CU_ASSERT_EQUAL(c->op, OP_CONV2D);
    CU_ASSERT_EQUAL(c->nin, 2);
    for (int i = 0; i < 4; i++)
        CU_ASSERT_EQUAL(c->attr.conv.pad[i], 1);
    CU_ASSERT_EQUAL(c->attr.conv.stride[0], 2);
    CU_ASSERT_EQUAL(c->attr.conv.stride[1], 1);
    CU_ASSERT_EQUAL(c->attr.conv.dilation[0], 1);
    CU_ASSERT_EQUAL(c->attr.conv.groups, 1);
    CU_ASSERT_EQUAL(def_of(g, "g")->attr.gelu.tanh_approx, 0);
    CU_ASSERT_EQUAL(def_of(g, "t")->attr.gelu.tanh_approx, 1);
    Node *r = def_of(g, "r");
    CU_ASSERT_EQUAL(r->attr.dims.rank, 2);
    CU_ASSERT_EQUAL(r->attr.dims.v[0], -1);
    CU_ASSERT_EQUAL(r->attr.dims.v[1], 4);
    CU_ASSERT_EQUAL(def_of(g, "k")->attr.cast.to, DT_I32);
    Node *sp = def_of(g, "a");
    CU_ASSERT_EQUAL(sp->op, OP_SPLIT);
    CU_ASSERT_EQUAL(sp->nout, 2);
    CU_ASSERT_EQUAL(sp->out[1], value_named(g, "b"));
    CU_ASSERT_EQUAL(sp->attr.split.size[1], 3);
    ir_graph_free(g);

    check_only_error("model m(x: f32[2]) -> (y) {\n  return (y = softmax(x, axs=0))\n}\n",
                     2, 26, "softmax has no attribute 'axs' (expected axis)");
    check_only_error("model m(x: f32[2]) -> (y) {\n  return (y = softmax(x, axis=x + 1))\n}\n",
                     2, 26, "attribute 'axis': expected a number, list, name or string, got "
                     "an expression");
    check_only_error("model m(x: f32[2]) -> (y) {\n  return (y = relu(x, x))\n}\n",
                     2, 15, "relu: expected 1 operand, got 2");
    check_only_error("model m(x: f32[2]) -> (y) {\n  return (y = split(x, sizes=[1, 1]))\n}\n",
                     2, 15, "split has 2 results: bind them with 'let a, b, ... = split(...)'");
}

static void
test_annotations(void)
{
    Graph *g = parse("weights \"w.safetensors\"\n"
                     "layer dense(x) {\n"
                     "  param weight\n"
                     "  @sparse(pattern=2:4, how=\"mag\", kind=nm)\n"
                     "  let y = x @ weight\n"
                     "  return y\n"
                     "}\n"
                     "model m(x: f32[1, 2]) -> (y) {\n"
                     "  @quantize(bits=4, group=-32)\n"
                     "  @keep\n"
                     "  let h = relu(dense[fc2](x))\n"
                     "  return (y = h)\n"
                     "}\n");
    CU_ASSERT_PTR_NOT_NULL_FATAL(g);
    Node *h = def_of(g, "h"), *mm = def_of(g, "fc2.y"), *w = def_of(g, "fc2.weight");
    CU_ASSERT_PTR_NOT_NULL_FATAL(mm);
    NodeId hn = g->values[value_named(g, "h")].def, mn = g->values[value_named(g, "fc2.y")].def;
    const Annot *q = ir_node_annot(g, hn, "quantize");
    CU_ASSERT_PTR_NOT_NULL_FATAL(q);
    CU_ASSERT_EQUAL(q->narg, 2);
    CU_ASSERT_STRING_EQUAL(q->arg[0].key, "bits");
    CU_ASSERT_EQUAL(q->arg[0].num, 4);
    CU_ASSERT_EQUAL(q->arg[1].num, -32);
    CU_ASSERT_PTR_NOT_NULL(ir_node_annot(g, hn, "keep"));
    /* the inner statement's node has its own and the outer statement's annotations */
    const Annot *sp = ir_node_annot(g, mn, "sparse");
    CU_ASSERT_PTR_NOT_NULL_FATAL(sp);
    CU_ASSERT_STRING_EQUAL(sp->arg[0].str, "2:4");
    CU_ASSERT_STRING_EQUAL(sp->arg[1].str, "mag");
    CU_ASSERT_STRING_EQUAL(sp->arg[2].str, "nm");
    CU_ASSERT_PTR_NOT_NULL(ir_node_annot(g, mn, "quantize"));
    CU_ASSERT_EQUAL(mm->nannot, 3);
    CU_ASSERT_EQUAL(h->nannot, 2);
    CU_ASSERT_EQUAL(w->nannot, 2);                /* the param const made by the statement */
    ir_graph_free(g);
}

/* Positional annotation arguments: n:m is stored as pattern, a number as value. */
static void
test_annotation_positional(void)
{
    Graph *g = parse("model m(x: f32[4]) -> (y) {\n"
                     "  @sparse(2:4)\n"
                     "  let a = relu(x)\n"
                     "  @exit(-0.5, bits=8, 1:2)\n"
                     "  let y = relu(a)\n"
                     "  return (y = y)\n"
                     "}\n");
    CU_ASSERT_PTR_NOT_NULL_FATAL(g);
    const Annot *sp = ir_node_annot(g, g->values[value_named(g, "a")].def, "sparse");
    CU_ASSERT_PTR_NOT_NULL_FATAL(sp);
    CU_ASSERT_EQUAL_FATAL(sp->narg, 1);
    CU_ASSERT_STRING_EQUAL(sp->arg[0].key, "pattern");
    CU_ASSERT_STRING_EQUAL(sp->arg[0].str, "2:4");
    const Annot *ex = ir_node_annot(g, g->values[value_named(g, "y")].def, "exit");
    CU_ASSERT_PTR_NOT_NULL_FATAL(ex);
    CU_ASSERT_EQUAL_FATAL(ex->narg, 3);
    CU_ASSERT_STRING_EQUAL(ex->arg[0].key, "value");
    CU_ASSERT_EQUAL(ex->arg[0].num, -0.5);
    CU_ASSERT_PTR_NULL(ex->arg[0].str);
    CU_ASSERT_STRING_EQUAL(ex->arg[1].key, "bits");
    CU_ASSERT_STRING_EQUAL(ex->arg[2].key, "pattern");
    CU_ASSERT_STRING_EQUAL(ex->arg[2].str, "1:2");
    ir_graph_free(g);
}

static void
test_layers(void)
{
    Graph *g = parse("weights \"w.safetensors\"\n"
                     "layer conv(x) {\n"
                     "  param w\n"
                     "  let y = x @ w\n"
                     "  return y\n"
                     "}\n"
                     "layer res(x) {\n"
                     "  let h = relu(conv[conv1](x))\n"
                     "  return conv[conv2](h) + x\n"
                     "}\n"
                     "model m(x: f32[1, 2]) -> (y) {\n"
                     "  let a = res[blk](x)\n"
                     "  let b = conv[fc2](a)\n"
                     "  let c = conv[fc2](b)\n"
                     "  return (y = c)\n"
                     "}\n");
    CU_ASSERT_PTR_NOT_NULL_FATAL(g);
    /* nested instance names */
    Node *h = def_of(g, "blk.h");
    CU_ASSERT_PTR_NOT_NULL_FATAL(h);
    Node *c1 = def_of(g, "blk.conv1.y");
    CU_ASSERT_PTR_NOT_NULL_FATAL(c1);
    CU_ASSERT_EQUAL(c1->in[0], g->inputs[0]);
    CU_ASSERT_STRING_EQUAL(name_of(g, c1->in[1]), "blk.conv1.w");
    CU_ASSERT_EQUAL(h->in[0], c1->out[0]);
    CU_ASSERT_PTR_NOT_NULL(def_of(g, "blk.conv2.w"));
    Node *a = def_of(g, "a");                   /* the layer's returned add, named by let */
    CU_ASSERT_EQUAL(a->op, OP_ADD);
    CU_ASSERT_EQUAL(a->in[1], g->inputs[0]);
    /* weight sharing: fc2 called twice, one const */
    Node *b = def_of(g, "b"), *c = def_of(g, "c");
    CU_ASSERT_EQUAL(b->in[1], c->in[1]);
    CU_ASSERT_EQUAL(c->in[0], b->out[0]);
    CU_ASSERT_EQUAL(count_op(g, OP_CONST), 3);
    ir_graph_free(g);
}

static void
test_repeat(void)
{
    Graph *g = parse("weights \"w.safetensors\"\n"
                     "layer blk(x, s) {\n"
                     "  param w\n"
                     "  return x @ w + s\n"
                     "}\n"
                     "model m(x: f32[1, 2], s: f32[2]) -> (y) {\n"
                     "  let h = repeat 3 blk[layer](x, s)\n"
                     "  return (y = h)\n"
                     "}\n");
    CU_ASSERT_PTR_NOT_NULL_FATAL(g);
    CU_ASSERT_EQUAL(count_op(g, OP_MATMUL), 3);
    ValueId prev = g->inputs[0];
    for (int i = 0; i < 3; i++) {
        Node *mm = nth_op(g, OP_MATMUL, i), *add = nth_op(g, OP_ADD, i);
        char want[32];
        snprintf(want, sizeof want, "layer.%d.w", i);
        CU_ASSERT_EQUAL(mm->in[0], prev);                  /* chained on argument 1 */
        CU_ASSERT_STRING_EQUAL(name_of(g, mm->in[1]), want);
        CU_ASSERT_EQUAL(add->in[1], g->inputs[1]);         /* the others are shared */
        prev = add->out[0];
    }
    CU_ASSERT_EQUAL(g->outputs[0].value, prev);
    CU_ASSERT_STRING_EQUAL(name_of(g, prev), "h");
    ir_graph_free(g);
}

static void
test_weight_sources(void)
{
    /* a .npy folder, a second file, and model-level dotted params; first match wins */
    Graph *g = parse("weights \"npyw/\"\n"
                     "weights \"w.safetensors\"\n"
                     "weights \"o.safetensors\"\n"
                     "model m(x: f32[1, 3]) -> (y) {\n"
                     "  param fc.weight: f32[3, 2]\n"
                     "  param fc1.weight\n"
                     "  param extra\n"
                     "  return (y = x @ fc.weight + extra + fc1.weight)\n"
                     "}\n");
    CU_ASSERT_PTR_NOT_NULL_FATAL(g);
    ValueId fw = value_named(g, "fc.weight");
    CU_ASSERT_EQUAL(g->values[fw].type.dims[0], 3);
    Node *fn = def_of(g, "fc.weight");
    CU_ASSERT_STRING_EQUAL(g->storage[fn->attr.cnst.storage].path, "npyw/fc.weight.npy");
    CU_ASSERT_PTR_NULL(g->storage[fn->attr.cnst.storage].key);
    CU_ASSERT_EQUAL(((const float *)ir_const_data(g, g->values[fw].def))[4], 5.0f);
    ValueId w1v = value_named(g, "fc1.weight");
    CU_ASSERT_EQUAL(g->values[w1v].type.dims[1], 3);         /* from w.safetensors */
    Node *ex = def_of(g, "extra");
    CU_ASSERT_STRING_EQUAL(g->storage[ex->attr.cnst.storage].path, "o.safetensors");
    ir_graph_free(g);
}

static void
test_small_forms(void)
{
    /* single-output `return e`, keyword and numbered instance names, aliasing let */
    Graph *g = parse("weights \"w.safetensors\"\n"
                     "layer lin(x) {\n  param w\n  return x @ w\n}\n"
                     "model m(x: f32[1, 2]) -> (y) {\n"
                     "  let a = x\n"
                     "  let b = lin[layer.1](a)\n"
                     "  return relu(b)\n"
                     "}\n");
    CU_ASSERT_PTR_NOT_NULL_FATAL(g);
    CU_ASSERT_EQUAL(count_op(g, OP_MATMUL), 1);
    CU_ASSERT_PTR_NOT_NULL(def_of(g, "layer.1.w"));
    CU_ASSERT_EQUAL(value_named(g, "a"), 0);             /* x keeps its own name */
    CU_ASSERT_EQUAL(def_of(g, "b")->in[0], g->inputs[0]);
    CU_ASSERT_EQUAL_FATAL(g->noutput, 1);
    CU_ASSERT_STRING_EQUAL(name_of(g, g->outputs[0].value), "y");
    CU_ASSERT_EQUAL(def_of(g, "y")->op, OP_RELU);
    ir_graph_free(g);
    check_only_error("model m(x: f32[2]) -> (y, z) {\n  return x\n}\n", 2, 3,
                     "model 'm' has 2 outputs: expected 'return (y = ..., ...)'");
    check_only_error("model m(x: f32[2]) -> (y) {\n  let a = cast(x, to=\"i\\q\")\n"
                     "  return (y = a)\n}\n", 2, 24,
                     "unknown escape '\\q' in string: expected \\\\, \\\", \\n or \\t");
}

static void
test_parse_file(void)
{
    FILE *f = fopen(kiln_path, "w");
    CU_ASSERT_PTR_NOT_NULL_FATAL(f);
    fputs("model m(x: f32[2]) -> (y) {\n  let a = x +\n}\n", f);
    fclose(f);
    diag_free(&diag);
    diag_init(&diag);
    CU_ASSERT_PTR_NULL(fe_parse_file(kiln_path, &diag));
    CU_ASSERT_TRUE(has_error(3, 1, "syntax error: expected an expression, got '}'"));
    FILE *out = tmpfile();
    CU_ASSERT_PTR_NOT_NULL_FATAL(out);
    CU_ASSERT_EQUAL(diag_print(&diag, out), 1);
    rewind(out);
    char text[1024] = "";
    size_t n = fread(text, 1, sizeof text - 1, out);
    text[n] = 0;
    fclose(out);
    char want[1024];
    snprintf(want, sizeof want, "%s:3:1: error: syntax error: expected an expression, got '}'\n"
             "}\n^\n", kiln_path);
    CU_ASSERT_STRING_EQUAL(text, want);
    /* the mlp source from a file, weights relative to the file's folder */
    f = fopen(kiln_path, "w");
    CU_ASSERT_PTR_NOT_NULL_FATAL(f);
    fputs(mlp_src, f);
    fclose(f);
    diag_free(&diag);
    diag_init(&diag);
    Graph *g = fe_parse_file(kiln_path, &diag);
    CU_ASSERT_PTR_NOT_NULL(g);
    ir_graph_free(g);
    diag_free(&diag);
    diag_init(&diag);
    CU_ASSERT_PTR_NULL(fe_parse_file("/nonexistent/m.kiln", &diag));
    CU_ASSERT_EQUAL(diag.nerror, 1);
    CU_ASSERT_PTR_NOT_NULL(strstr(diag.msg[0].msg, "cannot read '/nonexistent/m.kiln'"));
}

/* ------------------------------------------------------------------ errors */

static void
test_syntax_errors(void)
{
    check_only_error("model m(x: f32[2]) -> (y) {\n  let a = relu(x\n  return (y = a)\n}\n",
                     3, 3, "expected ')' to close 'relu(' from 2:11, got 'return'");
    check_only_error("model m(x: f32[2]) -> (y) {\n  let a = (x + 1\n  return (y = a)\n}\n",
                     3, 3, "expected ')' to close '(' from 2:11, got 'return'");
    check_only_error("model m(x: f32[2]) -> (y) {\n  a = x\n  return (y = a)\n}\n",
                     2, 3, "assignment needs 'let': write 'let a = ...'");
    check_only_error("model m(x: f32[2]) -> (y) {\n  var a = x\n  return (y = x)\n}\n",
                     2, 3, "unknown statement 'var': expected let, param, exit if, return or "
                     "an @annotation");
    check_only_error("model m(x: f32[2]) -> (y) {\n  let a = \"abc\n  return (y = x)\n}\n",
                     2, 11, "unterminated string: expected '\"' before the end of the line");
    check_only_error("model m(x: f32[2]) -> (y) {\n  return (y = x $ x)\n}\n",
                     2, 17, "unexpected character '$'");
    check_only_error("model m(x: f32[2]) -> (y) {\n  let a = x;\n  return (y = a)\n}\n",
                     2, 12, "unexpected ';': statements need no terminator");
    check_only_error("model m(x: f32[2]) -> (y) {\n  return (y = x)\n", 3, 1,
                     "syntax error: expected a statement or '}', got end of file");
    check_only_error("model m(x: f32[2]) -> (y) {\n  let a = 99999999999999999999\n"
                     "  return (y = a)\n}\n", 2, 11,
                     "integer '99999999999999999999' is too large: expected at most "
                     "9223372036854775807");
    check_only_error("", 1, 1, "no model in file: expected 'model NAME(inputs) -> (outputs) "
                     "{ ... }'");
    check_only_error("# only a comment\n", 1, 1, "no model in file: expected 'model "
                     "NAME(inputs) -> (outputs) { ... }'");
}

static void
test_several_errors(void)
{
    Graph *g = parse("model m(x: f32[2]) -> (y) {\n"
                     "  let a = relu(x\n"
                     "  b = x\n"
                     "  let c = 1 +\n"
                     "  return (y = x)\n"
                     "}\n");
    CU_ASSERT_PTR_NULL(g);
    CU_ASSERT_EQUAL(diag.nerror, 3);
    CU_ASSERT_TRUE(has_error(3, 3, "expected ')' to close 'relu(' from 2:11, got identifier "
                             "'b'"));
    CU_ASSERT_TRUE(has_error(3, 3, "assignment needs 'let': write 'let b = ...'"));
    CU_ASSERT_TRUE(has_error(5, 3, "syntax error: expected an expression, got 'return'"));
    /* builder errors accumulate too */
    g = parse("model m(x: f32[2]) -> (y) {\n"
              "  let a = rleu(x)\n"
              "  let b = x + q\n"
              "  let a = x\n"
              "  return (y = b)\n"
              "}\n");
    CU_ASSERT_PTR_NULL(g);
    CU_ASSERT_EQUAL(diag.nerror, 3);
    CU_ASSERT_TRUE(has_error(2, 11, "unknown op 'rleu'; did you mean 'relu'?"));
    CU_ASSERT_TRUE(has_error(3, 15, "undefined name 'q'; did you mean 'x' or 'a'?"));
    CU_ASSERT_TRUE(has_error(4, 7, "duplicate let 'a': already defined at 2:7"));
}

static void
test_build_errors(void)
{
    const char *m = "model m(x: f32[2]) -> (y, z) {\n";
    char src[1024];
    snprintf(src, sizeof src, "%s  exit if x > 0 return (y = x)\n  return (y = x, z = x)\n}\n",
             m);
    check_only_error(src, 2, 3, "exit if is missing output 'z': an exit must return every "
                     "output");
    snprintf(src, sizeof src, "%s  return (y = x)\n}\n", m);
    check_only_error(src, 2, 3, "return is missing output 'z'");
    snprintf(src, sizeof src, "%s  return (y = x, z = x, w = x)\n}\n", m);
    check_only_error(src, 2, 25, "'w' is not an output of model 'm'");
    snprintf(src, sizeof src, "%s  let a = x\n}\n", m);
    check_only_error(src, 1, 1, "model 'm' has no return: expected 'return (y = ...)'");
    snprintf(src, sizeof src, "%s  return (y = x, z = soft_max(x))\n}\n", m);
    check_only_error(src, 2, 22, "unknown op 'soft_max'; did you mean 'softmax'?");
    snprintf(src, sizeof src, "%s  return (y = x, z = frobnicate(x))\n}\n", m);
    check_only_error(src, 2, 22, "unknown op 'frobnicate'");
    snprintf(src, sizeof src, "layer d(x) {\n  return x\n}\n%s  return (y = d(x), z = x)\n}\n", m);
    check_only_error(src, 5, 15, "layer 'd' needs an instance name: expected 'd[name](...)'");
    snprintf(src, sizeof src, "layer dense(x) {\n  return x\n}\n%s  return (y = dens[a](x), "
             "z = dense[b](x, x))\n}\n", m);
    Graph *g = parse(src);
    CU_ASSERT_PTR_NULL(g);
    CU_ASSERT_TRUE(has_error(5, 15, "unknown layer 'dens'; did you mean 'dense'?"));
    CU_ASSERT_TRUE(has_error(5, 31, "layer 'dense' takes 1 argument, got 2"));
    snprintf(src, sizeof src, "layer d(x) {\n  return d[again](x)\n}\n%s  return (y = d[a](x), "
             "z = x)\n}\n", m);
    check_only_error(src, 2, 10, "layer 'd' calls itself");
    snprintf(src, sizeof src, "layer d(x) {\n  exit if x > 1 return (y = x)\n  return x\n}\n%s"
             "  return (y = d[a](x), z = x)\n}\n", m);
    check_only_error(src, 2, 3, "exit if is only allowed in the model body");
    snprintf(src, sizeof src, "%s  return (y = x, z = x)\n}\nmodel n(x: f32[1]) -> (y) {\n"
             "  return (y = x)\n}\n", m);
    check_only_error(src, 4, 1, "second model 'n': a file holds exactly one model (the first "
                     "is at 1:1)");
    check_only_error("model m(x) -> (y) {\n  return (y = x)\n}\n", 1, 9,
                     "model input 'x' needs a type: expected 'x: f32[...]'");
}

static void
test_weight_errors(void)
{
    const char *body = "model m(x: f32[1, 3]) -> (y) {\n  param fc1.weight%s\n"
                       "  return (y = x @ fc1.weight)\n}\n";
    char src[1024], fmt[512];
    snprintf(fmt, sizeof fmt, "weights \"missing.safetensors\"\n%s", body);
    snprintf(src, sizeof src, fmt, "");
    Graph *g = parse(src);
    CU_ASSERT_PTR_NULL(g);
    CU_ASSERT_EQUAL(diag.nerror, 1);            /* the param lookup does not pile on */
    CU_ASSERT_EQUAL(diag.msg[0].loc.line, 1);
    CU_ASSERT_EQUAL(diag.msg[0].loc.col, 1);
    CU_ASSERT_PTR_NOT_NULL(strstr(diag.msg[0].msg, "cannot read weights 'missing.safetensors'"));

    snprintf(fmt, sizeof fmt, "weights \"w.safetensors\"\n%s", body);
    snprintf(src, sizeof src, fmt, ": f32[3, 2]");
    check_only_error(src, 3, 3, "param 'fc1.weight': declared f32[3,2], file has f32[2,3]");

    snprintf(fmt, sizeof fmt, "weights \"w.safetensors\"\nweights \"npyw/\"\n%s", body);
    snprintf(src, sizeof src, fmt, "");
    char *p = strstr(src, "fc1.weight");
    memcpy(p, "fc9", 3);                    /* param fc9.weight: in no source */
    p = strstr(p + 1, "fc1.weight");
    memcpy(p, "fc9", 3);
    check_only_error(src, 4, 3, "param 'fc9.weight' not found in any weights file (searched "
                     "'w.safetensors', 'npyw/fc9.weight.npy')");

    check_only_error("model m(x: f32[1]) -> (y) {\n  param w\n  return (y = w)\n}\n", 2, 3,
                     "param 'w' not found: no weights declared (expected "
                     "'weights \"file.safetensors\"')");

    /* a data area cut short: reported at the param whose bytes are missing */
    g = parse("weights \"cut.safetensors\"\nmodel m(x: f32[2, 2]) -> (y) {\n"
              "  param fc1.weight\n  param fc2.w\n  return (y = x @ fc2.w)\n}\n");
    CU_ASSERT_PTR_NULL(g);
    CU_ASSERT_EQUAL_FATAL(diag.nerror, 1);
    CU_ASSERT_EQUAL(diag.msg[0].loc.line, 4);
    CU_ASSERT_EQUAL(diag.msg[0].loc.col, 3);
    CU_ASSERT_PTR_NOT_NULL(strstr(diag.msg[0].msg, "weights 'cut.safetensors': "));
    /* a file shorter than its 8-byte header length */
    g = parse("weights \"short.safetensors\"\nmodel m(x: f32[1]) -> (y) {\n"
              "  return (y = x)\n}\n");
    CU_ASSERT_PTR_NULL(g);
    CU_ASSERT_EQUAL_FATAL(diag.nerror, 1);
    CU_ASSERT_EQUAL(diag.msg[0].loc.line, 1);
    CU_ASSERT_PTR_NOT_NULL(strstr(diag.msg[0].msg, "weights 'short.safetensors': "));
    /* a truncated .npy in a folder */
    g = parse("weights \"npyw/\"\nmodel m(x: f32[1]) -> (y) {\n  param cut\n"
              "  return (y = cut)\n}\n");
    CU_ASSERT_PTR_NULL(g);
    CU_ASSERT_EQUAL(diag.nerror, 1);
    CU_ASSERT_EQUAL(diag.msg[0].loc.line, 3);
    CU_ASSERT_PTR_NOT_NULL(strstr(diag.msg[0].msg, "weights 'npyw/cut.npy': "));
    check_only_error("weights \"nofolder/\"\nmodel m(x: f32[1]) -> (y) {\n  return (y = x)\n}\n",
                     1, 1, "cannot read weights folder 'nofolder/': No such file or directory");
}

static void
test_hostile_input(void)
{
    /* 100k nested parentheses: an error, not a stack overflow */
    size_t depth = 100000, n = 0;
    char *src = malloc(2 * depth + 128);
    CU_ASSERT_PTR_NOT_NULL_FATAL(src);
    n += (size_t)sprintf(src, "model m(x: f32[1]) -> (y) {\n  let a = ");
    memset(src + n, '(', depth);
    n += depth;
    src[n++] = 'x';
    memset(src + n, ')', depth);
    n += depth;
    n += (size_t)sprintf(src + n, "\n  return (y = a)\n}\n");
    diag_free(&diag);
    diag_init(&diag);
    Graph *g = fe_parse_string(src, n, kiln_path, &diag);
    CU_ASSERT_PTR_NULL(g);
    CU_ASSERT_EQUAL(diag.nerror, 1);
    CU_ASSERT_EQUAL(diag.msg[0].loc.line, 2);
    CU_ASSERT_STRING_EQUAL(diag.msg[0].msg, "input nested too deeply: the parser stack is "
                           "limited to 10000 entries");
    /* 3000 nested negations parse, and build without trouble */
    n = (size_t)sprintf(src, "model m(x: f32[1]) -> (y) {\n  let a = ");
    for (int i = 0; i < 3000; i++)
        src[n++] = '-';
    n += (size_t)sprintf(src + n, "x\n  return (y = a)\n}\n");
    diag_free(&diag);
    diag_init(&diag);
    g = fe_parse_string(src, n, kiln_path, &diag);
    CU_ASSERT_PTR_NOT_NULL(g);
    if (g)
        CU_ASSERT_EQUAL(count_op(g, OP_NEG), 3000);
    ir_graph_free(g);
    /* a 20000-term sum is a left-deep tree 20000 levels deep: an error, not a crash */
    n = (size_t)sprintf(src, "model m(x: f32[1]) -> (y) {\n  let a = x");
    src = realloc(src, 5 * 20000 + 128);
    CU_ASSERT_PTR_NOT_NULL_FATAL(src);
    for (int i = 0; i < 20000; i++)
        n += (size_t)sprintf(src + n, " + x");
    n += (size_t)sprintf(src + n, "\n  return (y = a)\n}\n");
    diag_free(&diag);
    diag_init(&diag);
    g = fe_parse_string(src, n, kiln_path, &diag);
    CU_ASSERT_PTR_NULL(g);
    CU_ASSERT_EQUAL(diag.nerror, 1);
    CU_ASSERT_STRING_EQUAL(diag.msg[0].msg, "expression nested too deeply: more than 10000 "
                           "levels");
    /* binary garbage, NULs included: errors, capped, no crash */
    for (size_t i = 0; i < 4096; i++)
        src[i] = (char)((i * 7919u + 13u) % 256u);
    diag_free(&diag);
    diag_init(&diag);
    g = fe_parse_string(src, 4096, kiln_path, &diag);
    CU_ASSERT_PTR_NULL(g);
    CU_ASSERT_TRUE(diag.nerror >= 1);
    CU_ASSERT_TRUE(diag.nerror <= 21);
    free(src);
    /* a NUL in otherwise good text */
    diag_free(&diag);
    diag_init(&diag);
    g = fe_parse_string("model m(x: f32[1]) -> (y) {\0}", 30, kiln_path, &diag);
    CU_ASSERT_PTR_NULL(g);
    CU_ASSERT_TRUE(has_error(1, 28, "unexpected byte 0x00"));
}

static CU_TestInfo construct_tests[] = {
    { "model, layers, exits, outputs", test_model },
    { "operators", test_operators },
    { "literals", test_literals },
    { "attributes", test_attributes },
    { "annotations", test_annotations },
    { "positional annotation arguments", test_annotation_positional },
    { "nested layers and weight sharing", test_layers },
    { "repeat", test_repeat },
    { "weight sources", test_weight_sources },
    { "small forms", test_small_forms },
    { "parse file and caret", test_parse_file },
    CU_TEST_INFO_NULL,
};

static CU_TestInfo error_tests[] = {
    { "syntax errors", test_syntax_errors },
    { "several errors in one run", test_several_errors },
    { "builder errors", test_build_errors },
    { "weight errors", test_weight_errors },
    { "hostile input", test_hostile_input },
    CU_TEST_INFO_NULL,
};

static CU_SuiteInfo suites[] = {
    { .pName = "frontend constructs", .pInitFunc = suite_init, .pTests = construct_tests },
    { .pName = "frontend errors", .pTests = error_tests, .pCleanupFunc = suite_clean },
    CU_SUITE_INFO_NULL,
};

int
main(void)
{
    diag_init(&diag);
    int rc = kiln_cu_run(suites);
    diag_free(&diag);
    return rc;
}
