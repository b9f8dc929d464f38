/* tools/cmd_compile.c — `kiln compile`: load, run the pipeline, then write C (.c + .h, and
 * a .bin with external weights), an LLVM object or assembly (+ .h, .bin), LLVM IR, text IR
 * or Graphviz.  Every file goes through outfile.c:
 * either all of them appear or none does. */
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "codegen.h"
#include "llvm_emit.h"
#include "passes.h"
#include "tools.h"

typedef enum {
    EMIT_NONE = 0,           /* not a known --emit value */
    EMIT_C,                  /* .c + .h (+ .bin) through the C emitter */
    EMIT_IR,                 /* text IR after the pipeline */
    EMIT_DOT,                /* Graphviz after the pipeline */
    EMIT_OBJ,                /* object file + .h (+ .bin) through the LLVM emitter */
    EMIT_ASM,                /* assembly + .h (+ .bin) through the LLVM emitter */
    EMIT_LLVM,               /* LLVM IR (+ .bin) through the LLVM emitter */
    EMIT_COUNT
} EmitKind;

/* Output file names of one compile. */
typedef struct {
    char *c, *h, *bin;       /* EMIT_C: stem.c, stem.h, stem.bin; malloc-owned */
    char *single;            /* EMIT_IR / EMIT_DOT: the file, or "-" for stdout */
    const char *bin_base;    /* basename of bin, for CgOptions.weights_file */
} OutNames;

static EmitKind
emit_kind(const char *s)
{
    static const char *const names[] = { "c", "ir", "dot", "obj", "llvm", "asm", NULL };
    static const EmitKind kinds[] = { EMIT_C, EMIT_IR, EMIT_DOT, EMIT_OBJ, EMIT_LLVM, EMIT_ASM };
    for (int i = 0; names[i]; i++)
        if (strcmp(s, names[i]) == 0)
            return kinds[i];
    return EMIT_NONE;
}

static char *
concat(const char *a, const char *b)
{
    size_t na = strlen(a), nb = strlen(b);
    char *s = malloc(na + nb + 1);
    if (!s)
        return NULL;
    memcpy(s, a, na);
    memcpy(s + na, b, nb + 1);
    return s;
}

static int
is_llvm(EmitKind k)
{
    return k == EMIT_OBJ || k == EMIT_ASM || k == EMIT_LLVM;
}

/* LLVM outputs: the file as given (else <model>.o / .s / .ll), and stem.h, stem.bin beside
 * it.  0 or -1 when out of memory. */
static int
llvm_names(OutNames *n, EmitKind k, const char *out, int given, const char *model_name)
{
    const char *ext = k == EMIT_OBJ ? ".o" : k == EMIT_ASM ? ".s" : ".ll";
    n->single = given ? concat(out, "") : concat(out ? out : model_name, ext);
    char *stem = n->single ? concat(n->single, "") : NULL;
    if (!stem)
        return -1;
    char *dot = strrchr(stem, '.'), *slash = strrchr(stem, '/');
    if (dot && (!slash || dot > slash))
        *dot = 0;
    n->h = concat(stem, ".h");
    n->bin = concat(stem, ".bin");
    free(stem);
    if (!n->h || !n->bin)
        return -1;
    const char *sl = strrchr(n->bin, '/');
    n->bin_base = sl ? sl + 1 : n->bin;
    return 0;
}

/* Fills names from -o (or the model name); 0 or -1 when out of memory. */
static int
out_names(OutNames *n, EmitKind k, const char *out, const char *model_name)
{
    memset(n, 0, sizeof *n);
    size_t olen = out ? strlen(out) : 0;
    /* "-o dir/" names a folder: the files inside take the model name */
    char *folder = olen && out[olen - 1] == '/' ? concat(out, model_name) : NULL;
    if (folder)
        out = folder;
    else if (olen && out[olen - 1] == '/')
        return -1;
    if (is_llvm(k)) {
        int st = llvm_names(n, k, out, out && !folder, model_name);
        free(folder);
        return st;
    }
    if (k != EMIT_C) {
        n->single = out && !folder ? concat(out, "")
                                   : concat(out ? out : model_name, k == EMIT_IR ? ".kir" : ".dot");
        free(folder);
        return n->single ? 0 : -1;
    }
    char *stem = concat(out ? out : model_name, "");
    free(folder);
    if (!stem)
        return -1;
    size_t len = strlen(stem);
    if (len > 2 && strcmp(stem + len - 2, ".c") == 0)
        stem[len - 2] = 0;
    n->c = concat(stem, ".c");
    n->h = concat(stem, ".h");
    n->bin = concat(stem, ".bin");
    free(stem);
    if (!n->c || !n->h || !n->bin)
        return -1;
    const char *slash = strrchr(n->bin, '/');
    n->bin_base = slash ? slash + 1 : n->bin;
    return 0;
}

static void
out_names_free(OutNames *n)
{
    free(n->c);
    free(n->h);
    free(n->bin);
    free(n->single);
}

/* Writes the C files; 0 or -1 (errors in d, no file left). */
static int
write_c(Graph *g, const CliArgs *a, const OutNames *n, Diag *d)
{
    OutFile f[3];
    int nf = a->weights_external ? 3 : 2;
    const char *path[3] = { n->c, n->h, n->bin };
    if (out_mkdirs_for(n->c, d) != 0)
        return -1;
    for (int i = 0; i < nf; i++)
        if (out_open(&f[i], path[i], d) != 0) {
            out_abort(f, i);
            return -1;
        }
    CgOptions o = { .prefix = a->prefix, .weights_external = a->weights_external,
                    .weights_file = n->bin_base };
    if (cg_c_emit(g, &o, f[0].f, f[1].f, nf == 3 ? f[2].f : NULL, d) != 0) {
        out_abort(f, nf);
        return -1;
    }
    return out_commit(f, nf, d);
}

/* Writes the LLVM emitter's output (obj, asm, llvm; stdout for "-"), the header beside an
 * object or assembly file, and the .bin with external weights.  0 or -1 (errors in d, no
 * file left). */
static int
write_llvm(Graph *g, const CliArgs *a, EmitKind k, const OutNames *n, Diag *d)
{
    CgOptions o = { .prefix = a->prefix, .weights_external = a->weights_external,
                    .weights_file = n->bin_base };
    CgLlvmOptions lo = { .triple = a->target, .cpu = a->mcpu, .features = a->mattr,
                         .opt_level = a->olevel >= 0 ? a->olevel : 2, .pic = !a->reloc_static,
                         .debug = a->debug };
    CgLlvmEmitKind ek = k == EMIT_OBJ ? CG_LLVM_OBJ : k == EMIT_ASM ? CG_LLVM_ASM : CG_LLVM_IR;
    if (strcmp(n->single, "-") == 0)
        return cg_llvm_emit(g, &o, &lo, ek, stdout, NULL, NULL, d);
    OutFile f[3];
    const char *path[3];
    int nf = 0, hi = -1, bi = -1;
    path[nf++] = n->single;
    if (k != EMIT_LLVM)
        path[hi = nf++] = n->h;
    if (a->weights_external)
        path[bi = nf++] = n->bin;
    if (out_mkdirs_for(n->single, d) != 0)
        return -1;
    for (int i = 0; i < nf; i++)
        if (out_open(&f[i], path[i], d) != 0) {
            out_abort(f, i);
            return -1;
        }
    if (cg_llvm_emit(g, &o, &lo, ek, f[0].f, hi >= 0 ? f[hi].f : NULL, bi >= 0 ? f[bi].f : NULL,
                     d) != 0) {
        out_abort(f, nf);
        return -1;
    }
    return out_commit(f, nf, d);
}

/* Writes text IR or Graphviz to one file (or stdout for "-"). */
static int
write_single(Graph *g, EmitKind k, const char *path, Diag *d)
{
    if (strcmp(path, "-") == 0) {
        if (k == EMIT_IR)
            ir_graph_print(g, stdout);
        else
            ir_graph_dot(g, stdout);
        return 0;
    }
    OutFile f;
    if (out_mkdirs_for(path, d) != 0 || (k == EMIT_IR && cli_rebase_weights(g, path, d) != 0)
        || out_open(&f, path, d) != 0)
        return -1;
    if (k == EMIT_IR)
        ir_graph_print(g, f.f);
    else
        ir_graph_dot(g, f.f);
    return out_commit(&f, 1, d);
}

static double
now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

/* Checks the arguments that need no model; EXIT_OK to go on. */
static int
check_args(const CliArgs *a, const Command *c, EmitKind *k)
{
    /* without --emit, -o x.o / x.s / x.ll picks the LLVM backend's output */
    size_t ol = a->out ? strlen(a->out) : 0;
    const char *dflt = ol > 2 && strcmp(a->out + ol - 2, ".o") == 0 ? "obj"
                       : ol > 2 && strcmp(a->out + ol - 2, ".s") == 0 ? "asm"
                       : ol > 3 && strcmp(a->out + ol - 3, ".ll") == 0 ? "llvm" : "c";
    *k = emit_kind(a->emit ? a->emit : dflt);
    if (*k == EMIT_NONE)
        return cli_usage_error(c, "--emit: expected c, obj, asm, llvm, ir or dot, got '%s'",
                               a->emit);
    if (!a->model)
        return cli_usage_error(c, "missing MODEL");
    if (a->weights_external && *k != EMIT_C && !is_llvm(*k))
        return cli_usage_error(c, "--weights=external needs --emit=c, obj, asm or llvm");
    if ((a->target || a->mcpu || a->mattr || a->reloc_static || a->debug) && !is_llvm(*k))
        return cli_usage_error(c, "--target, -mcpu, -mattr, --reloc and -g need --emit=obj, "
                               "asm or llvm");
    int to_stdout = a->out && strcmp(a->out, "-") == 0;
    if (to_stdout && (*k == EMIT_C || *k == EMIT_OBJ))
        return cli_usage_error(c, "-o -: %s output cannot go to stdout",
                               *k == EMIT_C ? "C" : "object");
    if (to_stdout && a->weights_external)
        return cli_usage_error(c, "-o -: --weights=external writes a .bin and needs a file");
    return EXIT_OK;
}

int
cmd_compile(const CliArgs *a)
{
    const Command *c = cli_command_find("compile");
    EmitKind k;
    if (a->list_passes) {
        pass_list(stdout);
        return EXIT_OK;
    }
    int st = check_args(a, c, &k);
    if (st != EXIT_OK)
        return st;
    double t0 = now_ms();
    Diag d;
    diag_init(&d);
    OutNames n = { 0 };
    Graph *g;
    st = EXIT_MODEL;
    if (cli_load(a->model, &g, &d) != 0)
        st = cli_fail(&d, "cannot load model");
    else if (cli_pipeline_run(g, cli_pipeline_string(a, 2), a, stderr, a->stats, &d) != 0)
        st = cli_fail(&d, "pass pipeline failed");
    else if (out_names(&n, k, a->out, a->prefix ? a->prefix : g->name) != 0)
        fputs("kiln: error: out of memory\n", stderr);
    else if ((k == EMIT_C ? write_c(g, a, &n, &d) : is_llvm(k) ? write_llvm(g, a, k, &n, &d)
              : write_single(g, k, n.single, &d)) != 0)
        st = cli_fail(&d, "cannot write output");
    else
        st = EXIT_OK;
    if (st == EXIT_OK) {
        diag_print(&d, stderr);          /* warnings, if any */
        if (a->stats)
            fprintf(stderr, "stats: compile time: %.3f ms\n", now_ms() - t0);
    }
    out_names_free(&n);
    ir_graph_free(g);
    diag_free(&d);
    return st;
}
