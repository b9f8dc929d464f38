/* tests/unit/test_codegen.c — the codegen layer: lowering facts on small graphs (buffer
 * placement, views, exits, scratch sizing, matmul strides, symbol names), emitter
 * determinism and error paths, and generated C that is compiled with gcc and clang
 * (-Werror), run through the emitted runner and compared with the reference interpreter.
 * Expected values are hand-computed or come from ir_interp_run. */
#include <CUnit/Basic.h>
#include "cu_run.h"
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include "codegen.h"
#include "passes.h"

#ifndef KILN_SOURCE_DIR
#define KILN_SOURCE_DIR "../.."
#endif
#ifndef KILN_BINARY_DIR
#define KILN_BINARY_DIR "../../build"
#endif

/* A sanitizer build's libkilnrt needs the sanitizer runtimes in what links it. */
#if defined(__SANITIZE_ADDRESS__)
#define SAN " -fsanitize=address,undefined"
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define SAN " -fsanitize=address,undefined"
#endif
#endif
#ifndef SAN
#define SAN ""
#endif

#define CFLAGS " -std=c11 -Wall -Wextra -Wpedantic -Werror -O1 -I" KILN_SOURCE_DIR "/runtime/include"
#define LIBS " " KILN_BINARY_DIR "/runtime/libkilnrt.a -lopenblas -lm -lpthread"

/* ------------------------------------------------------------------ helpers */

static Graph *
build(const char *text, const char *pipeline)
{
    Diag d;
    diag_init(&d);
    Graph *g = ir_parse_text(text, strlen(text), "t.kir", &d);
    if (g && pass_run_pipeline(g, pipeline, NULL, NULL, &d) < 0) {
        ir_graph_free(g);
        g = NULL;
    }
    if (!g)
        diag_print(&d, stderr);
    diag_free(&d);
    return g;
}

static ValueId
named(Graph *g, const char *name)
{
    for (ValueId v = 1; v < g->nvalue; v++)
        if (g->values[v].name && strcmp(g->values[v].name, name) == 0)
            return v;
    CU_FAIL_FATAL("no such value");
    return 0;
}

static const CgKernel *
kernel_of(const CgModule *m, Op op, int nth)
{
    for (int i = 0; i < m->nkernel; i++)
        if (m->kernel[i].op == op && nth-- == 0)
            return &m->kernel[i];
    CU_FAIL_FATAL("no such kernel");
    return NULL;
}

/* Emits g; returns the .c text (malloc'd) and optionally the .h and .bin. */
static char *
emit(Graph *g, const CgOptions *o, char **h, char **bin, size_t *nbin, Diag *d)
{
    char *c = NULL, *hh = NULL, *b = NULL;
    size_t nc, nh, nb;
    FILE *fc = open_memstream(&c, &nc), *fh = open_memstream(&hh, &nh);
    FILE *fb = open_memstream(&b, &nb);
    int st = cg_c_emit(g, o, fc, fh, fb, d);
    fclose(fc);
    fclose(fh);
    fclose(fb);
    if (h)
        *h = hh;
    else
        free(hh);
    if (bin) {
        *bin = b;
        *nbin = nb;
    } else {
        free(b);
    }
    if (st < 0) {
        free(c);
        return NULL;
    }
    return c;
}

static int
write_file(const char *dir, const char *name, const char *text, size_t n)
{
    char path[512];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "wb");
    if (!f)
        return -1;
    size_t w = fwrite(text, 1, n, f);
    return fclose(f) == 0 && w == n ? 0 : -1;
}

static int
sh(const char *fmt, ...)
{
    char cmd[4096];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(cmd, sizeof cmd, fmt, ap);
    va_end(ap);
    return system(cmd);
}

static char *
tmpdir(void)
{
    static char dir[64];
    strcpy(dir, "/tmp/kiln_cg_XXXXXX");
    return mkdtemp(dir);
}

static int
diag_has(const Diag *d, const char *s)
{
    for (int i = 0; i < d->nmsg; i++)
        if (strstr(d->msg[i].msg, s))
            return 1;
    return 0;
}

/* ------------------------------------------------------------------ lowering */

static const char *const placement_kir =
    "graph @p(%x: f32[2,3]) -> (y = %y, same = %y, raw = %x, k = %w) {\n"
    "  %w = const dense<[1, 2, 3]> : f32[3]\n"
    "  %r = reshape(%x) {shape = [3, 2]}\n"
    "  %a = relu(%r)\n"
    "  %b = reshape(%a) {shape = [6]}\n"
    "  %t = add(%x, %w)\n"
    "  %y = neg(%t)\n"
    "  return\n"
    "}\n";

static void
test_placement(void)
{
    Graph *g = build(placement_kir, "shape-infer,memplan");
    CU_ASSERT_FATAL(g != NULL);
    Diag d;
    diag_init(&d);
    CgModule *m = cg_lower(g, NULL, &d);
    CU_ASSERT_FATAL(m != NULL);
    CU_ASSERT_STRING_EQUAL(m->prefix, "p");
    CU_ASSERT_EQUAL(m->ninput, 1);
    CU_ASSERT_EQUAL(m->noutput, 4);
    /* the view of the input aliases it: relu reads input 0 directly, no copy kernel */
    const CgKernel *rs = kernel_of(m, OP_RESHAPE, 0);
    CU_ASSERT_EQUAL(rs->kind, CK_NONE);
    const CgKernel *relu = kernel_of(m, OP_RELU, 0);
    CU_ASSERT_EQUAL(relu->in[0].buf.kind, CG_BUF_INPUT);
    CU_ASSERT_EQUAL(relu->in[0].buf.index, 0);
    CU_ASSERT_EQUAL(relu->out[0].buf.kind, CG_BUF_ARENA);
    /* add reads the constant and writes the arena; neg writes output 0 in place */
    const CgKernel *add = kernel_of(m, OP_ADD, 0);
    CU_ASSERT_EQUAL(add->in[1].buf.kind, CG_BUF_CONST);
    CU_ASSERT_EQUAL(add->out[0].buf.kind, CG_BUF_ARENA);
    CU_ASSERT_EQUAL(add->in[1].bstride[0], 0);     /* [3] broadcast over [2,3] */
    CU_ASSERT_EQUAL(add->in[1].bstride[1], 1);
    const CgKernel *neg = kernel_of(m, OP_NEG, 0);
    CU_ASSERT_EQUAL(neg->out[0].buf.kind, CG_BUF_OUTPUT);
    CU_ASSERT_EQUAL(neg->out[0].buf.index, 0);
    CU_ASSERT_EQUAL(neg->alias, 0);
    /* the main path ends with copies: y again into 'same', the input, the constant */
    CU_ASSERT_EQUAL(m->nfinal, 4);
    int skipped = 0, from_out0 = 0, from_in = 0, from_const = 0;
    for (int i = 0; i < m->nfinal; i++) {
        const CgExitCopy *c = &m->final[i];
        skipped += c->skip;
        from_out0 += !c->skip && c->from.buf.kind == CG_BUF_OUTPUT && c->to == 1;
        from_in += c->from.buf.kind == CG_BUF_INPUT && c->to == 2;
        from_const += c->from.buf.kind == CG_BUF_CONST && c->to == 3;
    }
    CU_ASSERT_EQUAL(skipped, 1);
    CU_ASSERT_EQUAL(from_out0, 1);
    CU_ASSERT_EQUAL(from_in, 1);
    CU_ASSERT_EQUAL(from_const, 1);
    /* the copy reading output 0 runs before any copy that writes an output */
    CU_ASSERT_EQUAL(m->final[0].from.buf.kind, CG_BUF_OUTPUT);
    cg_module_free(m);
    diag_free(&d);
    ir_graph_free(g);
}

static void
test_view_chain_output(void)
{
    Graph *g = build("graph @v(%x: f32[2,6]) -> (y = %y) {\n"
                     "  %r = relu(%x)\n  %f = reshape(%r) {shape = [3, 4]}\n"
                     "  %y = reshape(%f) {shape = [12]}\n  return\n}\n", "shape-infer,memplan");
    CU_ASSERT_FATAL(g != NULL);
    Diag d;
    diag_init(&d);
    CgModule *m = cg_lower(g, NULL, &d);
    CU_ASSERT_FATAL(m != NULL);
    /* memplan leaves the chain's root out of the arena: relu writes output 0 directly */
    const CgKernel *relu = kernel_of(m, OP_RELU, 0);
    CU_ASSERT_EQUAL(relu->out[0].buf.kind, CG_BUF_OUTPUT);
    CU_ASSERT_EQUAL(kernel_of(m, OP_RESHAPE, 0)->kind, CK_NONE);
    CU_ASSERT_EQUAL(kernel_of(m, OP_RESHAPE, 1)->kind, CK_NONE);
    CU_ASSERT_TRUE(m->final[0].skip);
    CU_ASSERT_EQUAL(m->arena_bytes, 0);
    cg_module_free(m);
    diag_free(&d);
    ir_graph_free(g);
}

static void
test_exit_copies(void)
{
    Graph *g = build("graph @e(%x: f32[4]) -> (y = %y, z = %z) {\n"
                     "  %y = relu(%x)\n  %s = reduce_max(%y)\n"
                     "  %t = const dense<[0.5]> : f32[]\n  %c = greater(%s, %t)\n"
                     "  %n = neg(%x)\n"
                     "  exit_if(%c, %y, %n) {index = 7}\n  %z = exp(%y)\n  return\n}\n",
                     "shape-infer,memplan");
    CU_ASSERT_FATAL(g != NULL);
    Diag d;
    diag_init(&d);
    CgModule *m = cg_lower(g, NULL, &d);
    CU_ASSERT_FATAL(m != NULL);
    const CgKernel *ex = kernel_of(m, OP_EXIT_IF, 0);
    CU_ASSERT_EQUAL(ex->kind, CK_EXIT);
    CU_ASSERT_EQUAL(ex->exit_index, 7);
    CU_ASSERT_EQUAL(ex->ncopy, 2);
    for (int i = 0; i < ex->ncopy; i++) {
        if (ex->copy[i].to == 0)          /* y already lives in output 0 */
            CU_ASSERT_TRUE(ex->copy[i].skip);
        if (ex->copy[i].to == 1) {        /* n lives in the arena */
            CU_ASSERT_FALSE(ex->copy[i].skip);
            CU_ASSERT_EQUAL(ex->copy[i].from.buf.kind, CG_BUF_ARENA);
            CU_ASSERT_EQUAL(ex->copy[i].from.bytes, 16);
        }
    }
    CU_ASSERT_EQUAL(kernel_of(m, OP_EXP, 0)->out[0].buf.kind, CG_BUF_OUTPUT);
    cg_module_free(m);
    diag_free(&d);
    ir_graph_free(g);
}

/* Position of the copy into output `to` in an exit's (or the main path's end's) order. */
static int
copy_pos(const CgExitCopy *c, int n, int to)
{
    for (int i = 0; i < n; i++)
        if (c[i].to == to)
            return i;
    CU_FAIL_FATAL("no copy into that output");
    return -1;
}

/* Exits returning the outputs rearranged: a chain is ordered (each read before the write
 * that clobbers it), a swap moves the lowest output of the cycle to an arena slot after
 * the plan, copied into its buffer at the end of the main path. */
static void
test_exit_swap(void)
{
    Graph *g = build("graph @sw(%x: f32[4]) -> (p = %a, q = %b, r = %c, w = %d) {\n"
                     "  %a = relu(%x)\n  %b = neg(%x)\n  %c = exp(%x)\n  %d = abs(%x)\n"
                     "  %s = reduce_max(%x)\n  %t = const dense<[0.5]> : f32[]\n"
                     "  %k = greater(%s, %t)\n"
                     "  exit_if(%k, %a, %c, %c, %b) {index = 1}\n"   /* chain: w <- q <- r */
                     "  exit_if(%k, %b, %a, %c, %d) {index = 2}\n"   /* swap p, q */
                     "  exit_if(%k, %c, %a, %b, %d) {index = 3}\n"   /* rotate p, q, r */
                     "  return\n}\n", "shape-infer,memplan");
    CU_ASSERT_FATAL(g != NULL);
    Diag d;
    diag_init(&d);
    CgModule *m = cg_lower(g, NULL, &d);
    if (!m)
        diag_print(&d, stderr);
    CU_ASSERT_FATAL(m != NULL);
    /* swap p, q: p's value (a) moves to a slot right after the plan */
    const CgKernel *relu = kernel_of(m, OP_RELU, 0);
    CU_ASSERT_EQUAL(relu->out[0].buf.kind, CG_BUF_ARENA);
    CU_ASSERT_EQUAL(relu->out[0].buf.offset, m->planned_bytes);
    CU_ASSERT_EQUAL(m->arena_bytes, m->planned_bytes + 64);
    CU_ASSERT_EQUAL(kernel_of(m, OP_NEG, 0)->out[0].buf.kind, CG_BUF_OUTPUT);
    const CgExitCopy *f0 = &m->final[copy_pos(m->final, m->nfinal, 0)];
    CU_ASSERT_FALSE(f0->skip);
    CU_ASSERT_EQUAL(f0->from.buf.kind, CG_BUF_ARENA);
    CU_ASSERT_EQUAL(f0->from.buf.offset, m->planned_bytes);
    for (int to = 1; to < 4; to++)
        CU_ASSERT_TRUE(m->final[copy_pos(m->final, m->nfinal, to)].skip);
    /* chain: w reads output q before q is overwritten (q reads r, which stays) */
    const CgKernel *e1 = kernel_of(m, OP_EXIT_IF, 0);
    CU_ASSERT_TRUE(copy_pos(e1->copy, e1->ncopy, 3) < copy_pos(e1->copy, e1->ncopy, 1));
    CU_ASSERT_TRUE(e1->copy[copy_pos(e1->copy, e1->ncopy, 2)].skip);
    /* the swap reads a from its slot and b before output q is overwritten */
    const CgKernel *e2 = kernel_of(m, OP_EXIT_IF, 1);
    CU_ASSERT_EQUAL(e2->copy[copy_pos(e2->copy, e2->ncopy, 1)].from.buf.kind, CG_BUF_ARENA);
    CU_ASSERT_TRUE(copy_pos(e2->copy, e2->ncopy, 0) < copy_pos(e2->copy, e2->ncopy, 1));
    /* with a in the arena the rotation is a chain: no second slot */
    const CgKernel *e3 = kernel_of(m, OP_EXIT_IF, 2);
    CU_ASSERT_TRUE(copy_pos(e3->copy, e3->ncopy, 0) < copy_pos(e3->copy, e3->ncopy, 2));
    CU_ASSERT_TRUE(copy_pos(e3->copy, e3->ncopy, 2) < copy_pos(e3->copy, e3->ncopy, 1));
    cg_module_free(m);
    diag_free(&d);
    ir_graph_free(g);
}

static void
test_conv_scratch(void)
{
    Graph *g = build("graph @c(%x: f32[1,3,8,8], %w: f32[4,3,3,3], %v: f32[4,1,3,3]) -> "
                     "(y = %y, z = %z) {\n"
                     "  %a = conv2d(%x, %w) {pad = 1, stride = 2}\n"
                     "  %y = relu(%a)\n"
                     "  %z = conv2d(%y, %v) {groups = 4}\n  return\n}\n",
                     "shape-infer,memplan");
    CU_ASSERT_FATAL(g != NULL);
    Diag d;
    diag_init(&d);
    CgModule *m = cg_lower(g, NULL, &d);
    CU_ASSERT_FATAL(m != NULL);
    const CgKernel *c0 = kernel_of(m, OP_CONV2D, 0), *c1 = kernel_of(m, OP_CONV2D, 1);
    /* im2col: (c/groups)*kh*kw*oh*ow floats = 3*3*3*4*4*4 bytes; placed after the plan */
    CU_ASSERT_EQUAL(c0->scratch_bytes, 3 * 3 * 3 * 4 * 4 * 4);
    CU_ASSERT_EQUAL(c0->scratch_offset, g->arena_bytes);
    CU_ASSERT_EQUAL(c0->kind, CK_CALL);
    /* depthwise runs direct: no scratch */
    CU_ASSERT_EQUAL(c1->scratch_bytes, 0);
    CU_ASSERT_EQUAL(c1->scratch_offset, -1);
    CU_ASSERT_EQUAL(m->planned_bytes, g->arena_bytes);
    CU_ASSERT_EQUAL(m->arena_bytes, g->arena_bytes + 1728);  /* a multiple of 64 already */
    cg_module_free(m);
    diag_free(&d);
    ir_graph_free(g);
}

static void
test_matmul_facts(void)
{
    Graph *g = build("graph @mm(%a: f32[2,1,3,4], %b: f32[5,4,6], %p: f32[64,64], "
                     "%q: f32[64,64], %v: f32[4]) -> (y = %y, z = %z, u = %u) {\n"
                     "  %y = matmul(%a, %b)\n"
                     "  %z = matmul(%p, %q) {trans_b = 1}\n"
                     "  %u = matmul(%a, %v)\n  return\n}\n", "shape-infer,memplan");
    CU_ASSERT_FATAL(g != NULL);
    Diag d;
    diag_init(&d);
    CgModule *m = cg_lower(g, NULL, &d);
    CU_ASSERT_FATAL(m != NULL);
    const CgKernel *y = kernel_of(m, OP_MATMUL, 0);
    CU_ASSERT_EQUAL(y->m, 3);
    CU_ASSERT_EQUAL(y->n, 6);
    CU_ASSERT_EQUAL(y->k, 4);
    CU_ASSERT_EQUAL(y->batch_rank, 2);          /* [2,5] */
    CU_ASSERT_EQUAL(y->batch_dims[0], 2);
    CU_ASSERT_EQUAL(y->batch_dims[1], 5);
    CU_ASSERT_EQUAL(y->a_bstride[0], 12);       /* a: [2,1] batches of 3x4 */
    CU_ASSERT_EQUAL(y->a_bstride[1], 0);
    CU_ASSERT_EQUAL(y->b_bstride[0], 0);        /* b: [5] batches of 4x6 */
    CU_ASSERT_EQUAL(y->b_bstride[1], 24);
    CU_ASSERT_EQUAL(y->use_blas, 0);
    CU_ASSERT_EQUAL(y->kind, CK_LOOP);
    const CgKernel *z = kernel_of(m, OP_MATMUL, 1);
    CU_ASSERT_EQUAL(z->use_blas, 1);            /* 64^3 multiply-adds */
    CU_ASSERT_EQUAL(z->kind, CK_CALL);
    const CgKernel *u = kernel_of(m, OP_MATMUL, 2);
    CU_ASSERT_EQUAL(u->n, 1);                   /* matrix @ vector */
    CU_ASSERT_EQUAL(u->m, 3);
    cg_module_free(m);
    diag_free(&d);
    ir_graph_free(g);
}

static void
test_names(void)
{
    Graph *g = build("graph @net.v2(%in.1: f32[2], %in_1: f32[2], %ARENA: f32[2]) -> "
                     "(out = %a, OUT = %b) {\n"
                     "  %w.0 = const dense<[1, 2]> : f32[2]\n"
                     "  %w_0 = const dense<[3, 4]> : f32[2]\n"
                     "  %s = add(%in.1, %w.0)\n  %t = add(%in_1, %w_0)\n"
                     "  %a = add(%s, %ARENA)\n  %b = mul(%t, %s)\n  return\n}\n",
                     "shape-infer,memplan");
    CU_ASSERT_FATAL(g != NULL);
    Diag d;
    diag_init(&d);
    CgModule *m = cg_lower(g, NULL, &d);
    CU_ASSERT_FATAL(m != NULL);
    CU_ASSERT_STRING_EQUAL(m->prefix, "net_v2");
    CU_ASSERT_STRING_EQUAL(m->upper, "NET_V2");
    CU_ASSERT_STRING_EQUAL(cg_ident(m->arena, "3d-net"), "_3d_net");
    CU_ASSERT_STRING_EQUAL(m->input[0].name, "in_1");
    CU_ASSERT_STRING_EQUAL(m->input[1].name, "in_1_2");
    CU_ASSERT_STRING_EQUAL(m->input[2].name, "ARENA_2");   /* P_ARENA_BYTES is taken */
    CU_ASSERT_STRING_EQUAL(m->output[0].name, "out");
    CU_ASSERT_STRING_EQUAL(m->output[1].name, "OUT_2");    /* macros are upper case */
    CU_ASSERT_STRING_EQUAL(m->consts[0].sym, "w_w_0");
    CU_ASSERT_STRING_EQUAL(m->consts[1].sym, "w_w_0_2");
    cg_module_free(m);
    diag_free(&d);
    ir_graph_free(g);
}

static void
test_epilogue_operands(void)
{
    Graph *g = build("graph @f(%x: f32[1,2,5,5], %w: f32[3,2,3,3], %b: f32[3], "
                     "%r: f32[1,3,3,3]) -> (y = %y) {\n"
                     "  %y = conv2d(%x, %w, %b, %r) epilogue[add(%r), relu]\n  return\n}\n",
                     "shape-infer,memplan");
    CU_ASSERT_FATAL(g != NULL);
    Diag d;
    diag_init(&d);
    CgModule *m = cg_lower(g, NULL, &d);
    CU_ASSERT_FATAL(m != NULL);
    const CgKernel *k = kernel_of(m, OP_CONV2D, 0);
    CU_ASSERT_EQUAL(k->nin, 4);
    CU_ASSERT_EQUAL(k->nnative, 3);             /* x, w, bias; r feeds the epilogue */
    CU_ASSERT_EQUAL(k->in[3].bstride[3], 1);
    CU_ASSERT_EQUAL(k->in[3].bstride[1], 9);
    cg_module_free(m);
    diag_free(&d);
    ir_graph_free(g);
}

/* Quantized matmul weights are dequantized at compile time: scale * (q - zero) per column. */
static void
test_quant_weights(void)
{
    Graph *g = build("graph @q(%x: f32[2,2]) -> (y = %y) {\n"
                     "  %w = const dense<[1, -2, 3, 4, -5, 6]> : i8[2,3] quant<8, signed, "
                     "axis(1), scale = [0.1, 0.2, 0.05], zero = [0, 1, -1]>\n"
                     "  %y = matmul(%x, %w)\n  return\n}\n", "shape-infer,memplan");
    CU_ASSERT_FATAL(g != NULL);
    Diag d;
    diag_init(&d);
    CgOptions o = { .weights_external = 1, .weights_file = "q.bin" };
    CgModule *m = cg_lower(g, &o, &d);
    CU_ASSERT_FATAL(m != NULL);
    CU_ASSERT_EQUAL(m->nconst, 2);
    CU_ASSERT_EQUAL(m->consts[0].used, 0);           /* the i8 original: nothing reads it */
    CU_ASSERT_EQUAL(m->consts[0].file_offset, -1);
    CU_ASSERT_EQUAL(m->consts[1].used, 1);
    CU_ASSERT_EQUAL(m->consts[1].type.dtype, DT_F32);
    CU_ASSERT_STRING_EQUAL(m->consts[1].sym, "w_w_f32");
    CU_ASSERT_EQUAL(m->weights_bytes, 24);
    const float *f = m->consts[1].data;
    const float want[6] = { 0.1f * 1, 0.2f * -3, 0.05f * 4, 0.1f * 4, 0.2f * -6, 0.05f * 7 };
    for (int i = 0; i < 6; i++)
        CU_ASSERT_EQUAL(f[i], want[i]);
    const CgKernel *k = kernel_of(m, OP_MATMUL, 0);
    CU_ASSERT_EQUAL(k->in[1].buf.index, 1);
    CU_ASSERT_PTR_NULL(k->in[1].type.quant);
    cg_module_free(m);
    diag_free(&d);
    ir_graph_free(g);
}

static void
test_lower_errors(void)
{
    Diag d;
    diag_init(&d);
    Graph *g = build("graph @u(%x: f32[2]) -> (y = %y) {\n  %y = relu(%x)\n  return\n}\n",
                     "shape-infer");
    CU_ASSERT_FATAL(g != NULL);
    CU_ASSERT_PTR_NULL(cg_lower(g, NULL, &d));
    CU_ASSERT_TRUE(diag_has(&d, "not memory-planned"));
    ir_graph_free(g);
    diag_free(&d);

    /* planned but not typed: a stale plan must not reach the emitter */
    diag_init(&d);
    g = build("graph @u(%x: f32[2]) -> (y = %y) {\n  %y = relu(%x)\n  return\n}\n",
              "shape-infer,memplan");
    CU_ASSERT_FATAL(g != NULL);
    g->values[named(g, "y")].type.dtype = DT_NONE;
    char *c = emit(g, NULL, NULL, NULL, NULL, &d);
    CU_ASSERT_PTR_NULL(c);
    CU_ASSERT_TRUE(diag_has(&d, "relu: result type not inferred"));
    CU_ASSERT_EQUAL(d.msg[0].loc.line, 2);
    ir_graph_free(g);
    diag_free(&d);
}

/* ------------------------------------------------------------------ emitter */

static const char *const tiny_kir =
    "graph @tiny(%x: f32[2,4], %idx: i64[3]) -> (y = %y, s = %s, g = %g, am = %am) {\n"
    "  %w = const dense<[0.5, -1, 2, 0.25, 1.5, -0.5, 0.75, 1, -2, 0.125, 1, -0.25]> : f32[4,3]\n"
    "  %b = const dense<[0.1, -0.2, 0.3]> : f32[3]\n"
    "  %m = matmul(%x, %w)\n"
    "  %h = add(%m, %b)\n"
    "  %r = gelu(%h)\n"
    "  %y = softmax(%r) {axis = -1}\n"
    "  %t = transpose(%x) {perm = [1, 0]}\n"
    "  %s = reduce_sum(%t) {axes = [1]}\n"
    "  %g = gather(%x, %idx) {axis = 1}\n"
    "  %am = argmax(%x) {axis = 1}\n"
    "  return\n"
    "}\n";

static void
test_deterministic(void)
{
    const char *pipes[] = { "shape-infer,memplan", "shape-infer,fold,dce,cse,fuse,memplan" };
    for (int p = 0; p < 2; p++) {
        for (int ext = 0; ext < 2; ext++) {
            Graph *g1 = build(tiny_kir, pipes[p]), *g2 = build(tiny_kir, pipes[p]);
            CU_ASSERT_FATAL(g1 && g2);
            CgOptions o = { .prefix = NULL, .weights_external = ext, .weights_file = "t.bin" };
            Diag d;
            diag_init(&d);
            char *h1, *h2, *b1, *b2;
            size_t n1, n2;
            char *c1 = emit(g1, &o, &h1, &b1, &n1, &d), *c2 = emit(g2, &o, &h2, &b2, &n2, &d);
            CU_ASSERT_FATAL(c1 && c2);
            CU_ASSERT_STRING_EQUAL(c1, c2);
            CU_ASSERT_STRING_EQUAL(h1, h2);
            CU_ASSERT_EQUAL(n1, n2);
            CU_ASSERT(n1 == 0 || memcmp(b1, b2, n1) == 0);
            CU_ASSERT_EQUAL(n1 > 0, ext);
            /* the header text opens the .c, so the .c needs no other kiln header */
            CU_ASSERT_PTR_NOT_NULL(strstr(c1, h1));
            CU_ASSERT_EQUAL(d.nerror, 0);
            free(c1), free(c2), free(h1), free(h2), free(b1), free(b2);
            diag_free(&d);
            ir_graph_free(g1);
            ir_graph_free(g2);
        }
    }
}

static void
test_header_api(void)
{
    Graph *g = build(tiny_kir, "shape-infer,memplan");
    CU_ASSERT_FATAL(g != NULL);
    Diag d;
    diag_init(&d);
    CgOptions o = { .prefix = "net" };
    char *h, *c = emit(g, &o, &h, NULL, NULL, &d);
    CU_ASSERT_FATAL(c != NULL);
    const char *want[] = {
        "#ifndef KILN_MODEL_NET_H", "#include \"kiln_model.h\"", "extern \"C\"",
        "#define NET_ARENA_ALIGN 64", "#define NET_NUM_INPUTS 2", "#define NET_NUM_OUTPUTS 4",
        "#define NET_X_NUMEL 8", "#define NET_X_BYTES 32", "#define NET_IDX_BYTES 24",
        "#define NET_AM_BYTES 16", "    const float *x;", "    const int64_t *idx;",
        "    float *y;", "    int64_t *am;", "    int exit_taken;", "} net_inputs;",
        "int net_run(const net_inputs *in, net_outputs *out, void *arena,",
        "extern const kiln_model_info net_info;", "#define NET_MODEL_HASH \"",
    };
    for (size_t i = 0; i < sizeof want / sizeof *want; i++)
        if (!strstr(h, want[i])) {
            fprintf(stderr, "missing in header: %s\n", want[i]);
            CU_FAIL("header text");
        }
    /* the hash covers the options: another prefix gives another hash */
    CgModule *m1 = cg_lower(g, &o, &d);
    CgOptions o2 = { .prefix = "other" };
    CgModule *m2 = cg_lower(g, &o2, &d);
    CU_ASSERT_FATAL(m1 && m2);
    CU_ASSERT_EQUAL(strlen(m1->hash), 16);
    CU_ASSERT_STRING_NOT_EQUAL(m1->hash, m2->hash);
    /* no allocation, no stdio in the model */
    CU_ASSERT_PTR_NULL(strstr(c, "malloc"));
    CU_ASSERT_PTR_NULL(strstr(c, "#include <stdio.h>"));
    cg_module_free(m1);
    cg_module_free(m2);
    free(c);
    free(h);
    diag_free(&d);
    ir_graph_free(g);
}

static void
test_weights_external(void)
{
    Graph *g = build(tiny_kir, "shape-infer,memplan");
    CU_ASSERT_FATAL(g != NULL);
    Diag d;
    diag_init(&d);
    CgOptions o = { .weights_external = 1, .weights_file = "tiny.bin" };
    char *h, *bin;
    size_t nbin;
    char *c = emit(g, &o, &h, &bin, &nbin, &d);
    CU_ASSERT_FATAL(c != NULL);
    /* w (48 bytes) at 0, b (12 bytes) at the next 64-byte boundary */
    CU_ASSERT_EQUAL(nbin, 64 + 12);
    float w0, b2;
    memcpy(&w0, bin, 4);
    memcpy(&b2, bin + 64 + 8, 4);
    CU_ASSERT_EQUAL(w0, 0.5f);
    CU_ASSERT_EQUAL(b2, 0.3f);
    CU_ASSERT_PTR_NOT_NULL(strstr(h, "    const void *weights;"));
    CU_ASSERT_PTR_NOT_NULL(strstr(h, "#define TINY_WEIGHTS_BYTES 76"));
    CU_ASSERT_PTR_NULL(strstr(c, "0x3f000000u"));   /* 0.5f is not embedded */
    free(c), free(h), free(bin);
    diag_free(&d);
    ir_graph_free(g);
}

/* ------------------------------------------------------------------ compiled */

/* Writes model.c / model.h / runner.c for g into dir. */
static int
emit_files(Graph *g, const CgOptions *o, const char *dir)
{
    Diag d;
    diag_init(&d);
    char *h, *bin, *r = NULL;
    size_t nbin, nr;
    char *c = emit(g, o, &h, &bin, &nbin, &d);
    FILE *fr = open_memstream(&r, &nr);
    int st = c && cg_runner_emit(g, o, fr, &d) == 0 ? 0 : -1;
    fclose(fr);
    if (st == 0)
        st = write_file(dir, "model.c", c, strlen(c)) | write_file(dir, "model.h", h, strlen(h)) |
             write_file(dir, "runner.c", r, nr) |
             (o->weights_external ? write_file(dir, "model.bin", bin, nbin) : 0);
    if (d.nerror)
        diag_print(&d, stderr);
    free(c), free(h), free(bin), free(r);
    diag_free(&d);
    return st;
}

static void
test_compiles_warning_free(void)
{
    Graph *g = build(tiny_kir, "shape-infer,fold,dce,cse,fuse,memplan");
    CU_ASSERT_FATAL(g != NULL);
    char *dir = tmpdir();
    CU_ASSERT_FATAL(dir != NULL);
    CgOptions o = { .prefix = "model" };
    CU_ASSERT_FATAL(emit_files(g, &o, dir) == 0);
    const char *ccs[] = { "gcc", "clang-19" };
    for (int i = 0; i < 2; i++) {
        if (sh("command -v %s >/dev/null 2>&1", ccs[i]) != 0)
            continue;
        CU_ASSERT_EQUAL(sh("cd %s && %s" CFLAGS " -c model.c -o model_%d.o", dir, ccs[i], i), 0);
        CU_ASSERT_EQUAL(sh("cd %s && %s" CFLAGS " -O2 -c runner.c -o runner_%d.o", dir,
                           ccs[i], i), 0);
    }
    sh("rm -rf %s", dir);
    ir_graph_free(g);
}

/* Reads dir/name.npy into a malloc'd copy; *v describes it. */
static void *
read_npy(const char *dir, const char *name, kiln_view *v)
{
    char path[512];
    kiln_file *f;
    snprintf(path, sizeof path, "%s/%s.npy", dir, name);
    if (kiln_file_map(path, &f, NULL, 0) != KILN_OK)
        return NULL;
    void *copy = NULL;
    if (kiln_npy_parse(kiln_file_data(f), kiln_file_size(f), v, NULL, 0) == KILN_OK) {
        copy = malloc(v->nbytes + 1);
        memcpy(copy, v->data, v->nbytes);
        v->data = copy;
    }
    kiln_file_unmap(f);
    return copy;
}

static int
write_npy(const char *dir, const char *name, const IrTensor *t)
{
    char path[512];
    kiln_view v = { (kiln_dtype)t->type.dtype, t->type.rank, { 0 }, t->data, 0 };
    int64_t bytes;
    ir_type_bytes(&t->type, &bytes);
    v.nbytes = (size_t)bytes;
    memcpy(v.dims, t->type.dims, sizeof v.dims);
    snprintf(path, sizeof path, "%s/%s.npy", dir, name);
    return kiln_npy_write(path, &v, NULL, 0);
}

/* The compiled output matches the interpreter's: f32 within doc/testing.md, ints exact. */
static void
check_output(const char *dir, const char *name, const IrTensor *ref)
{
    kiln_view v;
    void *got = read_npy(dir, name, &v);
    CU_ASSERT_FATAL(got != NULL);
    CU_ASSERT_EQUAL((int)v.dtype, (int)ref->type.dtype);
    CU_ASSERT_EQUAL(v.rank, ref->type.rank);
    int64_t n;
    ir_type_numel(&ref->type, &n);
    if (ref->type.dtype == DT_F32) {
        for (int64_t i = 0; i < n; i++) {
            float a = ((float *)got)[i], b = ((float *)ref->data)[i];
            CU_ASSERT(fabsf(a - b) <= 1e-5f + 1e-4f * fabsf(b));
        }
    } else {
        CU_ASSERT_EQUAL(memcmp(got, ref->data, v.nbytes), 0);
    }
    free(got);
}

/* Compiles model.c + runner.c in dir; runs it on g's inputs; compares with the interpreter. */
static void
run_against_interp(const char *text, const char *pipeline, int external, int threads)
{
    Graph *g = build(text, pipeline), *ref = build(text, "shape-infer");
    CU_ASSERT_FATAL(g && ref);
    char *dir = tmpdir();
    CU_ASSERT_FATAL(dir != NULL);
    CgOptions o = { .prefix = "model", .weights_external = external,
                    .weights_file = "model.bin" };
    CU_ASSERT_FATAL(emit_files(g, &o, dir) == 0);
    CU_ASSERT_FATAL(sh("cd %s && cc" CFLAGS SAN " model.c runner.c" LIBS " -o runner", dir) == 0);
    IrTensor in[4] = { { { 0 }, NULL } }, out[4] = { { { 0 }, NULL } };
    char args[512] = "";
    for (int i = 0; i < ref->ninput; i++) {
        const TensorType *t = &ref->values[ref->inputs[i]].type;
        int64_t n;
        ir_type_numel(t, &n);
        in[i].type = *t;
        in[i].data = calloc((size_t)n, 8);
        for (int64_t k = 0; k < n; k++) {
            if (t->dtype == DT_F32)
                ((float *)in[i].data)[k] = (float)((k * 7 + i * 3) % 11) / 4.0f - 1.2f;
            else if (t->dtype == DT_I64)
                ((int64_t *)in[i].data)[k] = (k * 5 + 1) % 4 - 1;   /* -1..2 */
        }
        char name[32];
        snprintf(name, sizeof name, "in%d", i);
        CU_ASSERT_FATAL(write_npy(dir, name, &in[i]) == KILN_OK);
        snprintf(args + strlen(args), sizeof args - strlen(args), " %s.npy", name);
    }
    Diag d;
    diag_init(&d);
    int exit_ref = -1;
    CU_ASSERT_FATAL(ir_interp_run(ref, in, out, &exit_ref, &d) == 0);
    char thr[32] = "";
    if (threads > 1)
        snprintf(thr, sizeof thr, "--threads=%d ", threads);
    CU_ASSERT_EQUAL(sh("cd %s && mkdir out && ./runner %sout%s > log", dir, thr, args), 0);
    char want[32];
    snprintf(want, sizeof want, "exit_taken=%d", exit_ref);
    CU_ASSERT_EQUAL(sh("grep -qx '%s' %s/log", want, dir), 0);
    char outdir[128];
    snprintf(outdir, sizeof outdir, "%s/out", dir);
    for (int i = 0; i < ref->noutput; i++)
        check_output(outdir, ref->outputs[i].name, &out[i]);
    for (int i = 0; i < ref->ninput; i++)
        ir_tensor_free(&in[i]);
    for (int i = 0; i < ref->noutput; i++)
        ir_tensor_free(&out[i]);
    diag_free(&d);
    sh("rm -rf %s", dir);
    ir_graph_free(g);
    ir_graph_free(ref);
}

static void
test_run_tiny(void)
{
    run_against_interp(tiny_kir, "shape-infer,memplan", 0, 1);
    run_against_interp(tiny_kir, "shape-infer,fold,dce,cse,fuse,memplan", 1, 1);
}

static void
test_run_exit(void)
{
    static const char *const fmt =
        "graph @ex(%%x: f32[2,4]) -> (p = %%p, q = %%q) {\n"
        "  %%s = reduce_sum(%%x)\n  %%t = const dense<[%s]> : f32[]\n"
        "  %%c = greater(%%s, %%t)\n  %%n = neg(%%x)\n  %%k = exp(%%x)\n"
        "  exit_if(%%c, %%n, %%x) {index = 2}\n"
        "  %%p = relu(%%k)\n  %%q = mul(%%p, %%x)\n  return\n}\n";
    char text[1024];
    snprintf(text, sizeof text, fmt, "-1000.0");      /* taken */
    run_against_interp(text, "shape-infer,fold,dce,cse,fuse,memplan", 0, 1);
    snprintf(text, sizeof text, fmt, "1000.0");       /* not taken */
    run_against_interp(text, "shape-infer,memplan", 0, 1);
}

/* Exits returning the outputs swapped and rotated (taken or not) match the interpreter. */
static void
test_run_exit_swap(void)
{
    static const char *const fmt =
        "graph @sw(%%x: f32[2,4]) -> (p = %%a, q = %%b, r = %%c) {\n"
        "  %%a = relu(%%x)\n  %%b = neg(%%x)\n  %%c = exp(%%x)\n"
        "  %%s = reduce_sum(%%x)\n  %%t = const dense<[%s]> : f32[]\n"
        "  %%k = greater(%%s, %%t)\n  %%u = const dense<[%s]> : f32[]\n"
        "  %%l = greater(%%s, %%u)\n"
        "  exit_if(%%k, %%b, %%c, %%a) {index = 1}\n"
        "  exit_if(%%l, %%b, %%a, %%c) {index = 2}\n  return\n}\n";
    static const char *const thr[3][2] = {
        { "-1000.0", "1000.0" }, { "1000.0", "-1000.0" }, { "1000.0", "1000.0" },
    };
    char text[1024];
    for (int i = 0; i < 3; i++) {   /* exit 1 taken, exit 2 taken, main path */
        snprintf(text, sizeof text, fmt, thr[i][0], thr[i][1]);
        run_against_interp(text, i ? "shape-infer,memplan" :
                           "shape-infer,fold,dce,cse,fuse,memplan", 0, 1);
    }
}

/* Big elementwise loops and conv epilogues go through kiln_parallel_for: run on 3 threads. */
static void
test_run_threads(void)
{
    static const char *const text =
        "graph @par(%x: f32[64,600], %b: f32[600], %i: f32[1,2,130,130]) -> (y = %y, c = %c) {\n"
        "  %s = add(%x, %b)\n  %y = gelu(%s)\n"
        "  %w = const dense<[0.5, -1, 0.25, 2, 1, -0.5, 0.125, 1, -2, 0.75, 1, 0.5, -0.25, 1,"
        " 0.5, -1, 2, 0.25, 1, 1, -1, 0.5, 0.5, 0.25, -0.25, 2, 1, -1, 0.5, 0.125, 1, -2, 0.75,"
        " 1, 0.5, -0.5]> : f32[2,2,3,3]\n"
        "  %v = conv2d(%i, %w) {pad = 1}\n  %c = tanh(%v)\n  %z = reduce_sum(%c)\n"
        "  return\n}\n";
    run_against_interp(text, "shape-infer,fold,dce,cse,fuse,memplan", 0, 3);
    run_against_interp(text, "shape-infer,memplan", 1, 3);
}

/* A gather index out of range makes the model return KILN_ERANGE; the runner says so. */
static void
test_run_error(void)
{
    Graph *g = build("graph @ge(%x: f32[3,2], %i: i64[2]) -> (y = %y) {\n"
                     "  %y = gather(%x, %i) {axis = 0}\n  return\n}\n", "shape-infer,memplan");
    CU_ASSERT_FATAL(g != NULL);
    char *dir = tmpdir();
    CU_ASSERT_FATAL(dir != NULL);
    CgOptions o = { 0 };
    CU_ASSERT_FATAL(emit_files(g, &o, dir) == 0);
    CU_ASSERT_FATAL(sh("cd %s && cc" CFLAGS SAN " model.c runner.c" LIBS " -o runner", dir) == 0);
    float x[6] = { 1, 2, 3, 4, 5, 6 };
    int64_t ok[2] = { 2, -3 }, bad[2] = { 0, 3 };
    IrTensor tx = { g->values[g->inputs[0]].type, x };
    IrTensor ti = { g->values[g->inputs[1]].type, ok };
    CU_ASSERT_FATAL(write_npy(dir, "x", &tx) == 0 && write_npy(dir, "i", &ti) == 0);
    CU_ASSERT_EQUAL(sh("cd %s && mkdir o && ./runner o x.npy i.npy >/dev/null", dir), 0);
    kiln_view v;
    char od[128];
    snprintf(od, sizeof od, "%s/o", dir);
    float *y = read_npy(od, "y", &v);
    CU_ASSERT_FATAL(y != NULL);
    CU_ASSERT(y[0] == 5 && y[1] == 6 && y[2] == 1 && y[3] == 2);   /* rows 2 and -3 = 0 */
    free(y);
    ti.data = bad;
    CU_ASSERT_FATAL(write_npy(dir, "i", &ti) == 0);
    CU_ASSERT_NOT_EQUAL(sh("cd %s && ./runner o x.npy i.npy 2>err >/dev/null", dir), 0);
    CU_ASSERT_EQUAL(sh("grep -q 'value out of range' %s/err", dir), 0);
    /* wrong input shape: the runner refuses before running */
    CU_ASSERT_NOT_EQUAL(sh("cd %s && ./runner o i.npy x.npy 2>err >/dev/null", dir), 0);
    CU_ASSERT_EQUAL(sh("grep -q \"input 'x' expected f32\" %s/err", dir), 0);
    sh("rm -rf %s", dir);
    ir_graph_free(g);
}

/* Two models with different prefixes link into one program and run through P_info. */
static void
test_two_models_one_app(void)
{
    Graph *g1 = build(tiny_kir, "shape-infer,memplan");
    Graph *g2 = build("graph @tiny(%x: f32[2,4]) -> (y = %y) {\n  %y = neg(%x)\n  return\n}\n",
                      "shape-infer,memplan");
    CU_ASSERT_FATAL(g1 && g2);
    char *dir = tmpdir();
    CU_ASSERT_FATAL(dir != NULL);
    Diag d;
    diag_init(&d);
    CgOptions o1 = { .prefix = "alpha" }, o2 = { .prefix = "beta" };
    char *h1, *h2, *c1 = emit(g1, &o1, &h1, NULL, NULL, &d), *c2 = emit(g2, &o2, &h2, NULL, NULL, &d);
    CU_ASSERT_FATAL(c1 && c2);
    static const char app[] =
        "#include <stdio.h>\n#include <stdlib.h>\n#include \"alpha.h\"\n#include \"beta.h\"\n"
        "int main(void) {\n"
        "    float x[8] = { 1, -2, 3, -4, 5, -6, 7, -8 }, y[8];\n"
        "    void *arena = aligned_alloc(BETA_ARENA_ALIGN, BETA_ARENA_BYTES + 64);\n"
        "    beta_inputs in = { x };\n    beta_outputs out = { y, 0 };\n"
        "    if (beta_run(&in, &out, arena, NULL) != KILN_OK || y[1] != 2.0f) return 1;\n"
        "    if (beta_run(&in, &out, (char *)arena + 1, NULL) != KILN_EINVAL) return 2;\n"
        "    if (beta_run(NULL, &out, arena, NULL) != KILN_EINVAL) return 3;\n"
        "    free(arena);\n"
        "    const kiln_model_info *mi = &alpha_info;\n"
        "    if (mi->ninputs != 2 || mi->noutputs != 4 || mi->inputs[1].dtype != KILN_DT_I64)\n"
        "        return 4;\n"
        "    if (mi->outputs[0].bytes != ALPHA_Y_BYTES || mi->arena_bytes != ALPHA_ARENA_BYTES)\n"
        "        return 5;\n"
        "    int64_t idx[3] = { 0, 3, -1 }, am[2];\n"
        "    float ay[6], s[4], g[6];\n"
        "    const void *ins[2] = { x, idx };\n    void *outs[4] = { ay, s, g, am };\n"
        "    int exit_taken = -1;\n"
        "    arena = aligned_alloc(64, ALPHA_ARENA_BYTES + 64);\n"
        "    if (mi->run(ins, outs, &exit_taken, arena, NULL) != KILN_OK || exit_taken != 0)\n"
        "        return 6;\n"
        "    free(arena);\n"
        "    /* hand-computed: s = column sums of x, g = x[:, [0, 3, 3]], am = first max */\n"
        "    if (s[0] != 6 || s[1] != -8 || s[2] != 10 || s[3] != -12) return 7;\n"
        "    if (g[0] != 1 || g[1] != -4 || g[2] != -4 || g[3] != 5 || g[5] != -8) return 8;\n"
        "    if (am[0] != 2 || am[1] != 2) return 9;\n"
        "    puts(\"ok\");\n    return 0;\n}\n";
    CU_ASSERT_FATAL(write_file(dir, "alpha.c", c1, strlen(c1)) == 0 &&
                    write_file(dir, "alpha.h", h1, strlen(h1)) == 0 &&
                    write_file(dir, "beta.c", c2, strlen(c2)) == 0 &&
                    write_file(dir, "beta.h", h2, strlen(h2)) == 0 &&
                    write_file(dir, "app.c", app, strlen(app)) == 0);
    CU_ASSERT_EQUAL(sh("cd %s && cc" CFLAGS SAN " app.c alpha.c beta.c" LIBS " -o app && ./app "
                       ">/dev/null", dir), 0);
    free(c1), free(c2), free(h1), free(h2);
    diag_free(&d);
    sh("rm -rf %s", dir);
    ir_graph_free(g1);
    ir_graph_free(g2);
}

/* ------------------------------------------------------------------ registry */

static CU_TestInfo lower_tests[] = {
    { "placement of inputs, consts, outputs", test_placement },
    { "view chain into an output", test_view_chain_output },
    { "exit copies", test_exit_copies },
    { "exit copies out of swapped outputs", test_exit_swap },
    { "conv scratch", test_conv_scratch },
    { "matmul facts", test_matmul_facts },
    { "symbol names", test_names },
    { "epilogue operands", test_epilogue_operands },
    { "quantized weights", test_quant_weights },
    { "errors", test_lower_errors },
    CU_TEST_INFO_NULL,
};

static CU_TestInfo emit_tests[] = {
    { "deterministic", test_deterministic },
    { "header api", test_header_api },
    { "external weights", test_weights_external },
    CU_TEST_INFO_NULL,
};

static CU_TestInfo compiled_tests[] = {
    { "gcc and clang -Werror", test_compiles_warning_free },
    { "tiny model vs interpreter", test_run_tiny },
    { "exit taken / not taken", test_run_exit },
    { "exit with swapped outputs", test_run_exit_swap },
    { "threads", test_run_threads },
    { "run-time errors", test_run_error },
    { "two models in one app", test_two_models_one_app },
    CU_TEST_INFO_NULL,
};

static CU_SuiteInfo suites[] = {
    { .pName = "lowering", .pTests = lower_tests },
    { .pName = "c emitter", .pTests = emit_tests },
    { .pName = "compiled", .pTests = compiled_tests },
    CU_SUITE_INFO_NULL,
};

int
main(void)
{
    return kiln_cu_run(suites);
}
