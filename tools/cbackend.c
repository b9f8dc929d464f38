/* tools/cbackend.c — `kiln run --backend=c`: emit the model and a runner into a private
 * temporary folder, compile them with $CC against libkilnrt, run the runner on the inputs
 * written as .npy files, read its outputs back, and remove the folder whatever happened.
 * Approach: commands go through /bin/sh (so CC may hold flags, like make's $(CC)) with every
 * path single-quoted. */
#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include "codegen.h"
#include "tools.h"

#ifndef KILN_SOURCE_DIR
#define KILN_SOURCE_DIR "."
#endif
#ifndef KILN_BINARY_DIR
#define KILN_BINARY_DIR "build"
#endif

/* A kiln built with sanitizers links a sanitized libkilnrt of the same build, so the
 * runner must be compiled and linked with them too. */
#if defined(__SANITIZE_ADDRESS__)
#define SANITIZE_FLAGS " -fsanitize=address,undefined"
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define SANITIZE_FLAGS " -fsanitize=address,undefined"
#endif
#endif
#ifndef SANITIZE_FLAGS
#define SANITIZE_FLAGS ""
#endif

/* A growable malloc'd string. */
typedef struct {
    char  *s;                /* NUL-terminated text; NULL after an allocation failure */
    size_t len, cap;         /* bytes used (without NUL), bytes allocated */
    int    oom;              /* 1 once an allocation failed */
} Str;

static void
str_add(Str *b, const char *t)
{
    size_t n = strlen(t);
    if (b->oom)
        return;
    if (b->len + n + 1 > b->cap) {
        size_t cap = (b->len + n + 1) * 2;
        char *s = realloc(b->s, cap);
        if (!s) {
            b->oom = 1;
            return;
        }
        b->s = s;
        b->cap = cap;
    }
    memcpy(b->s + b->len, t, n + 1);
    b->len += n;
}

/* Appends t single-quoted for /bin/sh, plus a leading space. */
static void
str_quote(Str *b, const char *t)
{
    str_add(b, " '");
    for (const char *p = t; *p; p++) {
        char c[2] = { *p, 0 };
        str_add(b, *p == '\'' ? "'\\''" : c);
    }
    str_add(b, "'");
}

/* Returns dir/name in a fresh malloc'd string (NULL when out of memory). */
static char *
path_join(const char *dir, const char *name)
{
    Str b = { 0 };
    str_add(&b, dir);
    str_add(&b, "/");
    str_add(&b, name);
    if (b.oom) {
        free(b.s);
        return NULL;
    }
    return b.s;
}

/* Removes dir's regular files, then its subfolder "out" likewise, then dir. */
static void
remove_tree(const char *dir)
{
    DIR *dp = opendir(dir);
    if (!dp)
        return;
    struct dirent *e;
    while ((e = readdir(dp))) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        char *p = path_join(dir, e->d_name);
        struct stat sb;
        if (p && lstat(p, &sb) == 0 && S_ISDIR(sb.st_mode))
            remove_tree(p);
        else if (p)
            unlink(p);
        free(p);
    }
    closedir(dp);
    rmdir(dir);
}

/* "exit status N" or "killed by signal N" for a system()/pclose() status. */
static const char *
status_str(int st, char *buf, size_t len)
{
    if (st == -1)
        snprintf(buf, len, "could not start: %s", strerror(errno));
    else if (WIFEXITED(st))
        snprintf(buf, len, "exit status %d%s", WEXITSTATUS(st),
                 WEXITSTATUS(st) == 127 ? ", command not found" : "");
    else if (WIFSIGNALED(st))
        snprintf(buf, len, "killed by signal %d", WTERMSIG(st));
    else
        snprintf(buf, len, "status %d", st);
    return buf;
}

/* Emits model.c/.h and the runner into dir.  0 or -1 (errors in d). */
static int
emit_sources(Graph *g, const CliArgs *a, const char *dir, Diag *d)
{
    char *cpath = path_join(dir, "model.c"), *hpath = path_join(dir, "model.h");
    char *rpath = path_join(dir, "kiln-runner.c");
    FILE *c = cpath ? fopen(cpath, "w") : NULL, *h = hpath ? fopen(hpath, "w") : NULL;
    FILE *r = rpath ? fopen(rpath, "w") : NULL;
    int rc = -1;
    CgOptions o = { .prefix = a->prefix };
    if (!c || !h || !r)
        diag_error(d, (SrcLoc){ dir, 0, 0 }, "cannot write temporary files: %s", strerror(errno));
    else if (cg_c_emit(g, &o, c, h, NULL, d) == 0 && cg_runner_emit(g, &o, r, d) == 0)
        rc = 0;
    int bad = 0;             /* close all three whatever happens */
    bad |= c && fclose(c) != 0;
    bad |= h && fclose(h) != 0;
    bad |= r && fclose(r) != 0;
    if (bad && rc == 0) {
        diag_error(d, (SrcLoc){ dir, 0, 0 }, "cannot write temporary files");
        rc = -1;
    }
    free(cpath);
    free(hpath);
    free(rpath);
    return rc;
}

static const char *
env_or(const char *name, const char *def)
{
    const char *v = getenv(name);
    return v && *v ? v : def;
}

/* Builds dir/kiln-runner.  0 or -1 (errors in d). */
static int
build_runner(const char *dir, const char *model, Diag *d)
{
    const char *inc = env_or("KILN_RT_INCLUDE", KILN_SOURCE_DIR "/runtime/include");
    const char *lib = env_or("KILN_RT_LIB", KILN_BINARY_DIR "/runtime/libkilnrt.a");
    SrcLoc loc = { model, 0, 0 };
    if (access(lib, R_OK) != 0) {
        diag_error(d, (SrcLoc){ lib, 0, 0 },
                   "runtime library not found: build the kilnrt target or set KILN_RT_LIB");
        return -1;
    }
    char *m = path_join(dir, "model.c"), *r = path_join(dir, "kiln-runner.c");
    char *exe = path_join(dir, "kiln-runner");
    Str cmd = { 0 };
    str_add(&cmd, env_or("CC", "cc"));
    str_add(&cmd, " -O2 -std=c11" SANITIZE_FLAGS " -I");
    str_quote(&cmd, inc);
    str_add(&cmd, " -I");
    str_quote(&cmd, dir);
    str_quote(&cmd, m ? m : "");
    str_quote(&cmd, r ? r : "");
    str_quote(&cmd, lib);
    str_add(&cmd, " -lopenblas -lm -lpthread -o");
    str_quote(&cmd, exe ? exe : "");
    int st = (cmd.oom || !m || !r || !exe) ? -1 : system(cmd.s);
    char why[128];
    if (st != 0)
        diag_error(d, loc, "compiling the generated C failed (%s): %s",
                   status_str(st, why, sizeof why), cmd.oom ? "out of memory" : cmd.s);
    free(cmd.s);
    free(m);
    free(r);
    free(exe);
    return st == 0 ? 0 : -1;
}

/* Runs the runner; parses exit_taken=N from its stdout.  0 or -1 (errors in d). */
static int
exec_runner(const char *dir, const char *model, int ninput, int nthreads, int *exit_taken,
            Diag *d)
{
    SrcLoc loc = { model, 0, 0 };
    Str cmd = { 0 };
    char buf[512];
    char *exe = path_join(dir, "kiln-runner"), *out = path_join(dir, "out");
    str_add(&cmd, "exec");
    str_quote(&cmd, exe ? exe : "");
    snprintf(buf, sizeof buf, "--threads=%d", nthreads);
    str_quote(&cmd, buf);
    str_quote(&cmd, out ? out : "");
    for (int i = 0; i < ninput; i++) {
        snprintf(buf, sizeof buf, "%s/in%d.npy", dir, i);
        str_quote(&cmd, buf);
    }
    free(exe);
    free(out);
    FILE *p = cmd.oom ? NULL : popen(cmd.s, "r");
    int found = 0;
    while (p && fgets(buf, sizeof buf, p)) {
        if (sscanf(buf, "exit_taken=%d", exit_taken) == 1)
            found = 1;
        else
            fputs(buf, stderr);      /* anything else the runner says is for the user */
    }
    int st = p ? pclose(p) : -1;
    char why[128];
    if (st != 0)
        diag_error(d, loc, "the compiled model failed (%s)", status_str(st, why, sizeof why));
    else if (!found)
        diag_error(d, loc, "the compiled model printed no exit_taken line");
    free(cmd.s);
    return st == 0 && found ? 0 : -1;
}

/* Writes the inputs as dir/in<i>.npy and creates dir/out for the runner. */
static int
write_inputs(Graph *g, const char *dir, const IrTensor *in, Diag *d)
{
    /* paths live in the graph's arena: diagnostics keep pointing at them */
    for (int i = 0; i < g->ninput; i++)
        if (npy_write(arena_printf(g->arena, "%s/in%d.npy", dir, i), &in[i], d) != 0)
            return -1;
    const char *path = arena_printf(g->arena, "%s/out", dir);
    if (mkdir(path, 0700) != 0) {
        diag_error(d, (SrcLoc){ path, 0, 0 }, "cannot create folder: %s", strerror(errno));
        return -1;
    }
    return 0;
}

static int
read_outputs(Graph *g, const char *dir, IrTensor *out, Diag *d)
{
    for (int i = 0; i < g->noutput; i++) {
        const char *path = arena_printf(g->arena, "%s/out/%s.npy", dir, g->outputs[i].name);
        if (npy_read(path, g->outputs[i].name, NULL, &out[i], d) != 0)
            return -1;
    }
    return 0;
}

/* Signals that would otherwise kill kiln with the temporary folder still on disk. */
static const int cleanup_signals[] = { SIGINT, SIGTERM, SIGHUP };
enum { NCLEANUP_SIGNALS = sizeof cleanup_signals / sizeof cleanup_signals[0] };

/* The one piece of global state in kiln: set by a signal handler, which may do no more. */
static volatile sig_atomic_t got_signal;

static void
on_signal(int sig)
{
    got_signal = sig;
}

/* Builds and runs in dir; stops early once a signal arrived.  0 or -1. */
static int
build_and_run(Graph *g, const CliArgs *a, const char *dir, const IrTensor *inputs,
              IrTensor *outputs, int *exit_taken, Diag *d)
{
    if (emit_sources(g, a, dir, d) != 0 || got_signal || build_runner(dir, a->model, d) != 0
        || got_signal || write_inputs(g, dir, inputs, d) != 0
        || exec_runner(dir, a->model, g->ninput, a->threads, exit_taken, d) != 0 || got_signal
        || read_outputs(g, dir, outputs, d) != 0)
        return -1;
    return 0;
}

int
cli_run_c(Graph *g, const CliArgs *a, const IrTensor *inputs, IrTensor *outputs,
          int *exit_taken, Diag *d)
{
    Str tmpl = { 0 };
    str_add(&tmpl, env_or("TMPDIR", "/tmp"));
    str_add(&tmpl, "/kiln-run-XXXXXX");
    if (tmpl.oom || !mkdtemp(tmpl.s)) {
        diag_error(d, (SrcLoc){ a->model, 0, 0 }, "cannot create a temporary folder: %s",
                   strerror(errno));
        free(tmpl.s);
        return -1;
    }
    const char *dir = arena_strdup(g->arena, tmpl.s);   /* outlives d's messages */
    free(tmpl.s);
    /* Ctrl-C (or a test timeout) while cc or the runner works: clean up, then die of it. */
    struct sigaction sa = { .sa_handler = on_signal }, old[NCLEANUP_SIGNALS];
    sigemptyset(&sa.sa_mask);
    for (int i = 0; i < NCLEANUP_SIGNALS; i++) {
        sigaction(cleanup_signals[i], NULL, &old[i]);
        if (old[i].sa_handler != SIG_IGN)      /* e.g. SIGINT of a background job */
            sigaction(cleanup_signals[i], &sa, NULL);
    }
    int rc = build_and_run(g, a, dir, inputs, outputs, exit_taken, d);
    if (!getenv("KILN_KEEP_TMP"))
        remove_tree(dir);
    else
        fprintf(stderr, "kiln: kept %s (KILN_KEEP_TMP)\n", dir);
    for (int i = 0; i < NCLEANUP_SIGNALS; i++)
        sigaction(cleanup_signals[i], &old[i], NULL);
    if (got_signal)
        raise(got_signal);
    return rc;
}
