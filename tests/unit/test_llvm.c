/* tests/unit/test_llvm.c — the LLVM emitter: every op-coverage model (tests/e2e/ops) and
 * every sample JIT-compiled at -O0 and -O2 and compared with the reference interpreter
 * (doc/testing.md's rule), objects for x86_64 / aarch64 / riscv64 checked byte for byte
 * (ELF machine, symbols, determinism), --emit=llvm annotations, and the error paths (bad
 * target, unplanned graph, JIT for another target).  Expected values come from
 * ir_interp_run or the ELF specification. */
#include <CUnit/Basic.h>
#include <dirent.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "frontend.h"
#include "llvm_int.h"
#include "passes.h"

#ifndef KILN_SOURCE_DIR
#define KILN_SOURCE_DIR "../.."
#endif

/* ------------------------------------------------------------------ helpers */

static Graph *
load(const char *path, const char *pipeline)
{
    Diag d;
    diag_init(&d);
    size_t n = strlen(path);
    Graph *g = n > 5 && strcmp(path + n - 5, ".kiln") == 0 ? fe_parse_file(path, &d)
                                                           : ir_parse_file(path, &d);
    if (g && (ir_verify(g, &d) != 0 || pass_run_pipeline(g, pipeline, NULL, NULL, &d) < 0)) {
        ir_graph_free(g);
        g = NULL;
    }
    if (!g) {
        fprintf(stderr, "%s:\n", path);
        diag_print(&d, stderr);
    }
    diag_free(&d);
    return g;
}

static uint64_t
splitmix64(uint64_t *s)
{
    uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

/* f32 in [-1, 1), integers in [0, 4), bools 0/1 (doc/testing.md's random inputs) */
static void
fill(IrTensor *t, const TensorType *type, uint64_t seed)
{
    int64_t n = 0, nb = 0;
    CU_ASSERT_FATAL(ir_type_numel(type, &n) == 0 && ir_type_bytes(type, &nb) == 0);
    t->type = *type;
    t->data = calloc(1, (size_t)nb + 1);
    CU_ASSERT_FATAL(t->data != NULL);
    for (int64_t i = 0; i < n; i++) {
        uint64_t r = splitmix64(&seed);
        switch (type->dtype) {
        case DT_F32:  ((float *)t->data)[i] = (float)(r >> 40) * 0x1p-23f - 1.0f; break;
        case DT_I32:  ((int32_t *)t->data)[i] = (int32_t)(r >> 62); break;
        case DT_I64:  ((int64_t *)t->data)[i] = (int64_t)(r >> 62); break;
        case DT_I8:   ((int8_t *)t->data)[i] = (int8_t)(r >> 62); break;
        case DT_U8:   ((uint8_t *)t->data)[i] = (uint8_t)(r >> 62); break;
        default:      ((uint8_t *)t->data)[i] = (uint8_t)(r >> 63); break;
        }
    }
}

/* allclose with atol 1e-5, rtol 1e-4 for f32; exact otherwise.  Returns mismatches. */
static int64_t
mismatches(const IrTensor *ref, const void *got, int64_t n)
{
    int64_t bad = 0;
    if (ref->type.dtype != DT_F32)
        return memcmp(ref->data, got, (size_t)n * ir_dtype_size(ref->type.dtype)) != 0;
    const float *r = ref->data, *g = got;
    for (int64_t i = 0; i < n; i++) {
        if (isnan(r[i]) || isnan(g[i]))
            bad += !(isnan(r[i]) && isnan(g[i]));
        else if (isinf(r[i]) || isinf(g[i]))
            bad += r[i] != g[i];
        else if (fabs((double)g[i] - r[i]) > 1e-5 + 1e-4 * fabs((double)r[i])) {
            if (!bad)
                fprintf(stderr, "  first mismatch at %lld: got %g, want %g\n", (long long)i,
                        (double)g[i], (double)r[i]);
            bad++;
        }
    }
    return bad;
}

/* Runs the JIT'd model on `in`; compares with the interpreter's outputs and exit. */
static int
run_compare(const char *path, const kiln_model_info *mi, const Graph *ref, IrTensor *in,
            const kiln_run_opts *opts)
{
    IrTensor *want = calloc((size_t)ref->noutput + 1, sizeof *want);
    int want_exit = -1, bad = 0;
    Diag d;
    diag_init(&d);
    CU_ASSERT_FATAL(want != NULL);
    if (ir_interp_run(ref, in, want, &want_exit, &d) != 0) {
        diag_print(&d, stderr);
        diag_free(&d);
        free(want);
        return 1;
    }
    diag_free(&d);
    const void **ins = calloc((size_t)mi->ninputs + 1, sizeof *ins);
    void **outs = calloc((size_t)mi->noutputs + 1, sizeof *outs);
    void *arena = aligned_alloc(64, (mi->arena_bytes + 63) / 64 * 64 + 64);
    for (int i = 0; i < mi->ninputs; i++)
        ins[i] = in[i].data;
    for (int i = 0; i < mi->noutputs; i++)
        outs[i] = calloc(1, mi->outputs[i].bytes + 1);
    int taken = -1;
    int st = mi->run(ins, outs, &taken, arena, opts);
    if (st != KILN_OK || taken != want_exit) {
        fprintf(stderr, "%s: status %d, exit %d (interpreter: exit %d)\n", path, st, taken,
                want_exit);
        bad = 1;
    }
    for (int i = 0; i < mi->noutputs && !bad; i++) {
        int64_t nb = mismatches(&want[i], outs[i], mi->outputs[i].numel);
        if (nb)
            fprintf(stderr, "%s: output %s: %lld mismatches\n", path, mi->outputs[i].name,
                    (long long)nb);
        bad |= nb != 0;
    }
    for (int i = 0; i < mi->noutputs; i++) {
        free(outs[i]);
        ir_tensor_free(&want[i]);
    }
    free(want);
    free(ins);
    free(outs);
    free(arena);
    return bad;
}

/* JIT at -O<level> vs the interpreter after shape-infer, run serially and (big models'
 * parallel loops) on 2 threads; 0 = agree. */
static int
check_model(const char *path, int level, uint64_t seed)
{
    static const kiln_run_opts two = { .nthreads = 2 };
    Graph *g = load(path, pass_pipeline_for_level(level)), *ref = load(path, "shape-infer");
    if (!g || !ref) {
        ir_graph_free(g);
        ir_graph_free(ref);
        return 1;
    }
    Diag d;
    diag_init(&d);
    CgLlvmOptions lo = { .opt_level = level, .pic = 1 };
    CgJit *j = cg_llvm_jit_new(g, NULL, &lo, &d);
    int bad = 1;
    if (!j) {
        fprintf(stderr, "%s -O%d:\n", path, level);
        diag_print(&d, stderr);
    } else {
        const kiln_model_info *mi = cg_llvm_jit_info(j);
        IrTensor *in = calloc((size_t)ref->ninput + 1, sizeof *in);
        for (int i = 0; i < ref->ninput; i++)
            fill(&in[i], &ref->values[ref->inputs[i]].type, seed ^ (0x51ed27ull * (uint64_t)(i + 1)));
        bad = mi->ninputs != ref->ninput || mi->noutputs != ref->noutput ||
              run_compare(path, mi, ref, in, NULL) || run_compare(path, mi, ref, in, &two);
        for (int i = 0; i < ref->ninput; i++)
            ir_tensor_free(&in[i]);
        free(in);
    }
    cg_llvm_jit_free(j);
    diag_free(&d);
    ir_graph_free(g);
    ir_graph_free(ref);
    return bad;
}

static int
by_name(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Sorted paths of dir's files ending in ext (malloc'd, NULL-terminated). */
static char **
list(const char *dir, const char *ext)
{
    DIR *dp = opendir(dir);
    CU_ASSERT_FATAL(dp != NULL);
    char **v = calloc(1024, sizeof *v);
    int n = 0;
    struct dirent *e;
    /* KILN_TEST_ONLY=substring narrows the run while debugging */
    const char *only = getenv("KILN_TEST_ONLY");
    while ((e = readdir(dp)) && n < 1023) {
        size_t l = strlen(e->d_name), le = strlen(ext);
        if (only && !strstr(e->d_name, only))
            continue;
        if (l > le && strcmp(e->d_name + l - le, ext) == 0) {
            v[n] = malloc(strlen(dir) + l + 2);
            sprintf(v[n++], "%s/%s", dir, e->d_name);
        }
    }
    closedir(dp);
    qsort(v, (size_t)n, sizeof *v, by_name);
    return v;
}

static void
list_free(char **v)
{
    for (char **p = v; *p; p++)
        free(*p);
    free(v);
}

/* ------------------------------------------------------------------ JIT vs interpreter */

static void
jit_ops_level(int level)
{
    char **v = list(KILN_SOURCE_DIR "/tests/e2e/ops", ".kir");
    int n = 0, bad = 0;
    for (char **p = v; *p; p++, n++)
        bad += check_model(*p, level, 1);
    list_free(v);
    CU_ASSERT(n >= 100);
    CU_ASSERT_EQUAL(bad, 0);
}

static void test_jit_ops_o0(void) { jit_ops_level(0); }
static void test_jit_ops_o2(void) { jit_ops_level(2); }

static void
test_jit_samples(void)
{
    static const char *const s[] = { "mlp", "cnn", "transformer" };
    for (int i = 0; i < 3; i++) {
        char path[512];
        snprintf(path, sizeof path, KILN_SOURCE_DIR "/samples/%s/%s.kiln", s[i], s[i]);
        for (int level = 0; level <= 3; level += 3)
            for (uint64_t seed = 0; seed < 2; seed++)
                CU_ASSERT_EQUAL(check_model(path, level, seed), 0);
    }
}

/* ------------------------------------------------------------------ objects */

/* Emits samples/mlp for (triple, kind); returns the bytes (malloc'd) or NULL. */
static char *
emit_mlp(const char *triple, CgLlvmEmitKind kind, int external, size_t *n, Diag *d)
{
    Graph *g = load(KILN_SOURCE_DIR "/samples/mlp/mlp.kiln", pass_pipeline_for_level(2));
    CU_ASSERT_FATAL(g != NULL);
    char *buf = NULL, *hb = NULL, *bb = NULL;
    size_t nh = 0, nbb = 0;
    FILE *f = open_memstream(&buf, n), *h = open_memstream(&hb, &nh);
    FILE *b = open_memstream(&bb, &nbb);
    CgLlvmOptions lo = { .triple = triple, .opt_level = 2, .pic = 1 };
    CgOptions o = { .weights_external = external, .weights_file = "mlp.bin" };
    int st = cg_llvm_emit(g, &o, &lo, kind, f, h, b, d);
    fclose(f);
    fclose(h);
    fclose(b);
    if (st == 0) {
        /* the header is the C backend's: it declares the run entry and the info table */
        CU_ASSERT(strstr(hb, "int mlp_run(const mlp_inputs *in, mlp_outputs *out") != NULL);
        CU_ASSERT(!external || (nbb > 0 && strstr(hb, "MLP_WEIGHTS_BYTES") != NULL));
    }
    free(hb);
    free(bb);
    ir_graph_free(g);
    if (st != 0) {
        free(buf);
        return NULL;
    }
    return buf;
}

/* ELF64 little endian: e_machine is the u16 at byte 18 */
static int
elf_machine(const char *b, size_t n)
{
    if (n < 64 || memcmp(b, "\177ELF", 4) != 0 || b[4] != 2 || b[5] != 1)
        return -1;
    return (unsigned char)b[18] | (unsigned char)b[19] << 8;
}

/* the symbol names appear in .strtab */
static int
has_string(const char *b, size_t n, const char *s)
{
    size_t l = strlen(s);
    for (size_t i = 0; i + l <= n; i++)
        if (memcmp(b + i, s, l) == 0 && b[i + l] == 0)
            return 1;
    return 0;
}

static void
check_target(const char *triple, int machine)
{
    Diag d;
    diag_init(&d);
    size_t n1 = 0, n2 = 0;
    char *a = emit_mlp(triple, CG_LLVM_OBJ, 0, &n1, &d);
    char *b = emit_mlp(triple, CG_LLVM_OBJ, 0, &n2, &d);
    CU_ASSERT_FATAL(a != NULL && b != NULL);
    CU_ASSERT_EQUAL(elf_machine(a, n1), machine);
    CU_ASSERT(has_string(a, n1, "mlp_run"));
    CU_ASSERT(has_string(a, n1, "mlp_info"));
    CU_ASSERT(n1 == n2 && memcmp(a, b, n1) == 0);   /* deterministic */
    CU_ASSERT_EQUAL(d.nerror, 0);
    free(a);
    free(b);
    diag_free(&d);
}

static void test_obj_x86_64(void) { check_target("x86_64-linux-gnu", 62); }
static void test_obj_aarch64(void) { check_target("aarch64-linux-gnu", 183); }
static void test_obj_riscv64(void) { check_target("riscv64-linux-gnu", 243); }

static void
test_obj_host_external(void)
{
    Diag d;
    diag_init(&d);
    size_t n = 0;
    char *a = emit_mlp(NULL, CG_LLVM_OBJ, 1, &n, &d);
    CU_ASSERT_FATAL(a != NULL);
    CU_ASSERT_EQUAL(elf_machine(a, n), 62);
    free(a);
    diag_free(&d);
}

static void
test_emit_llvm_ir(void)
{
    Diag d;
    diag_init(&d);
    size_t n = 0;
    char *ir = emit_mlp(NULL, CG_LLVM_IR, 0, &n, &d);
    CU_ASSERT_FATAL(ir != NULL);
    CU_ASSERT(strstr(ir, "i32 @mlp_run(ptr") != NULL);
    CU_ASSERT(strstr(ir, "@mlp_info = ") != NULL);
    CU_ASSERT(strstr(ir, "!kiln.op") != NULL);
    CU_ASSERT(strstr(ir, "!{!\"matmul\", !\"") != NULL);   /* op + location of a kernel */
    CU_ASSERT(strstr(ir, "mlp.kiln:") != NULL);
    free(ir);
    char *as = emit_mlp(NULL, CG_LLVM_ASM, 0, &n, &d);
    CU_ASSERT_FATAL(as != NULL);
    CU_ASSERT(strstr(as, "mlp_run:") != NULL);
    free(as);
    CU_ASSERT_EQUAL(d.nerror, 0);
    diag_free(&d);
}

/* -g: DWARF line tables name the model's source file; the object stays deterministic */
static void
test_obj_debug(void)
{
    Graph *g = load(KILN_SOURCE_DIR "/samples/cnn/cnn.kiln", pass_pipeline_for_level(2));
    CU_ASSERT_FATAL(g != NULL);
    Diag d;
    diag_init(&d);
    char *buf[2] = { NULL, NULL };
    size_t n[2] = { 0, 0 };
    for (int i = 0; i < 2; i++) {
        FILE *f = open_memstream(&buf[i], &n[i]);
        CgLlvmOptions lo = { .opt_level = 2, .pic = 1, .debug = 1 };
        CU_ASSERT_EQUAL(cg_llvm_emit(g, NULL, &lo, CG_LLVM_OBJ, f, NULL, NULL, &d), 0);
        fclose(f);
    }
    diag_print(&d, stderr);
    CU_ASSERT_EQUAL(elf_machine(buf[0], n[0]), 62);
    CU_ASSERT(has_string(buf[0], n[0], ".debug_line"));
    CU_ASSERT(has_string(buf[0], n[0], "cnn.kiln"));
    CU_ASSERT(has_string(buf[0], n[0], "n1_conv2d"));   /* a kernel's subprogram name */
    CU_ASSERT(n[0] == n[1] && memcmp(buf[0], buf[1], n[0]) == 0);
    free(buf[0]);
    free(buf[1]);
    diag_free(&d);
    ir_graph_free(g);
}

/* ------------------------------------------------------------------ errors */

static void
test_bad_target(void)
{
    Diag d;
    diag_init(&d);
    size_t n = 0;
    char *a = emit_mlp("nosuch-cpu-none", CG_LLVM_OBJ, 0, &n, &d);
    CU_ASSERT(a == NULL);
    CU_ASSERT_EQUAL(d.nerror, 1);
    CU_ASSERT(d.nmsg > 0 && strstr(d.msg[0].msg, "unknown target 'nosuch-cpu-none'") != NULL);
    free(a);
    diag_free(&d);
}

static void
test_unplanned(void)
{
    static const char text[] =
        "graph @t(%x: f32[4]) -> (y = %y) {\n  %y = relu(%x)\n  return\n}\n";
    Diag d;
    diag_init(&d);
    Graph *g = ir_parse_text(text, strlen(text), "t.kir", &d);
    if (!g)
        diag_print(&d, stderr);
    CU_ASSERT_FATAL(g != NULL);
    CU_ASSERT(cg_llvm_jit_new(g, NULL, NULL, &d) == NULL);
    CU_ASSERT(d.nerror >= 1 && strstr(d.msg[0].msg, "not memory-planned") != NULL);
    ir_graph_free(g);
    diag_free(&d);
}

/* A module LLVM rejects is reported as an internal error naming the kernel's op and its
 * source location (white box: a kernel function is broken after a valid build). */
static void
test_verifier_failure(void)
{
    Graph *g = load(KILN_SOURCE_DIR "/samples/mlp/mlp.kiln", pass_pipeline_for_level(2));
    CU_ASSERT_FATAL(g != NULL);
    Diag d;
    diag_init(&d);
    CgModule *m = cg_lower(g, NULL, &d);
    char *triple = NULL;
    LLVMTargetMachineRef tm = lx_target_machine(NULL, &triple, &d);
    CU_ASSERT_FATAL(m != NULL && tm != NULL);
    Lx x;
    lx_init(&x, m, tm, triple, NULL, &d);
    CU_ASSERT_EQUAL(lx_build(&x), 0);
    CU_ASSERT_EQUAL(lx_verify(&x), 0);
    int k = 0;
    while (k < m->nkernel && (!x.kfn[k] || m->kernel[k].op != OP_MATMUL))
        k++;
    CU_ASSERT_FATAL(k < m->nkernel);
    LLVMAppendBasicBlockInContext(x.ctx, x.kfn[k], "no_terminator");
    CU_ASSERT_EQUAL(lx_verify(&x), -1);
    char want[128];
    snprintf(want, sizeof want, "internal error: LLVM verifier rejected kernel n%d (matmul): ", k);
    CU_ASSERT(d.nerror == 1 && strstr(d.msg[0].msg, want) == d.msg[0].msg);
    const Node *nd = &g->nodes[m->kernel[k].node];
    CU_ASSERT(d.nmsg > 0 && d.msg[0].loc.line == nd->loc.line && nd->loc.line > 0);
    lx_free(&x);
    LLVMDisposeTargetMachine(tm);
    LLVMDisposeMessage(triple);
    cg_module_free(m);
    diag_free(&d);
    ir_graph_free(g);
}

static void
test_jit_cross(void)
{
    Graph *g = load(KILN_SOURCE_DIR "/samples/mlp/mlp.kiln", pass_pipeline_for_level(1));
    CU_ASSERT_FATAL(g != NULL);
    Diag d;
    diag_init(&d);
    CgLlvmOptions lo = { .triple = "aarch64-linux-gnu", .opt_level = 1 };
    CU_ASSERT(cg_llvm_jit_new(g, NULL, &lo, &d) == NULL);
    CU_ASSERT(d.nerror == 1 && strstr(d.msg[0].msg, "host only") != NULL);
    diag_free(&d);
    ir_graph_free(g);
}

/* ------------------------------------------------------------------ registration */

static CU_TestInfo jit_tests[] = {
    { "ops_o0", test_jit_ops_o0 },
    { "ops_o2", test_jit_ops_o2 },
    { "samples", test_jit_samples },
    CU_TEST_INFO_NULL,
};

static CU_TestInfo obj_tests[] = {
    { "x86_64", test_obj_x86_64 },
    { "aarch64", test_obj_aarch64 },
    { "riscv64", test_obj_riscv64 },
    { "host_external", test_obj_host_external },
    { "emit_llvm_ir", test_emit_llvm_ir },
    { "debug_info", test_obj_debug },
    CU_TEST_INFO_NULL,
};

static CU_TestInfo err_tests[] = {
    { "bad_target", test_bad_target },
    { "unplanned", test_unplanned },
    { "jit_cross", test_jit_cross },
    { "verifier_failure", test_verifier_failure },
    CU_TEST_INFO_NULL,
};

static CU_SuiteInfo suites[] = {
    { .pName = "llvm_jit", .pTests = jit_tests },
    { .pName = "llvm_obj", .pTests = obj_tests },
    { .pName = "llvm_errors", .pTests = err_tests },
    CU_SUITE_INFO_NULL,
};

int
main(void)
{
    if (CU_initialize_registry() != CUE_SUCCESS)
        return 1;
    if (CU_register_suites(suites) != CUE_SUCCESS) {
        CU_cleanup_registry();
        return 1;
    }
    CU_basic_set_mode(CU_BRM_VERBOSE);
    CU_basic_run_tests();
    unsigned fails = CU_get_number_of_failures();
    CU_cleanup_registry();
    return fails ? 1 : 0;
}
