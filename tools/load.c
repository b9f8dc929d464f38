/* tools/load.c — model loading by file extension (.kiln source, .kir text IR, .onnx with
 * the --shape fixes), followed by the verifier; the CLI's one way of reporting a failed
 * stage; and re-basing weight paths when IR is written to another folder than the model's. */
#define _XOPEN_SOURCE 700    /* realpath */
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include "frontend.h"
#include "tools.h"

/* The extension of path's last component, including the dot; "" if none. */
static const char *
extension(const char *path)
{
    const char *base = strrchr(path, '/');
    base = base ? base + 1 : path;
    const char *dot = strrchr(base, '.');
    return dot && dot != base ? dot : "";
}

/* The --shape fixes of this run (cli_load_set_shapes). */
static const OnnxShapeFix *shape_fix;
static int nshape_fix;

void
cli_load_set_shapes(const OnnxShapeFix *fix, int nfix)
{
    shape_fix = fix;
    nshape_fix = fix ? nfix : 0;
}

int
cli_load(const char *path, Graph **g, Diag *d)
{
    const char *ext = extension(path);
    SrcLoc loc = { path, 0, 0 };
    *g = NULL;
    if (nshape_fix && strcmp(ext, ".onnx") != 0)
        diag_error(d, loc, "--shape applies to .onnx models only: a %s model's input "
                   "shapes are fixed in the model", ext[0] ? ext : "extension-less");
    else if (strcmp(ext, ".kiln") == 0)
        *g = fe_parse_file(path, d);
    else if (strcmp(ext, ".kir") == 0)
        *g = ir_parse_file(path, d);
    else if (strcmp(ext, ".onnx") == 0)
        *g = onnx_import_file(path, shape_fix, nshape_fix, d);
    else if (!ext[0])
        diag_error(d, loc, "unknown model format: no file extension (expected .kiln, .kir "
                   "or .onnx)");
    else
        diag_error(d, loc, "unknown model format '%s' (expected .kiln, .kir or .onnx)", ext);
    if (!*g || d->nerror)
        return -1;
    return ir_verify(*g, d) == 0 && d->nerror == 0 ? 0 : -1;
}

int
cli_fail(const Diag *d, const char *what)
{
    if (diag_print(d, stderr) == 0)
        fprintf(stderr, "kiln: error: %s\n", what);
    return EXIT_MODEL;
}

int
cli_node_count(const Graph *g)
{
    int n = 0;
    for (uint32_t i = 0; i < g->norder; i++)
        if (g->nodes[g->order[i]].op != OP_NONE)
            n++;
    return n;
}

/* The path of file `to` relative to folder `from`; both absolute and canonical. */
static char *
relative_path(Arena *a, const char *from, const char *to)
{
    size_t n = strlen(from);
    char *f = arena_printf(a, "%s%s", from, n && from[n - 1] == '/' ? "" : "/");
    size_t common = 0;               /* length of the shared leading folders, with '/' */
    for (size_t i = 0; f[i] && f[i] == to[i]; i++)
        if (f[i] == '/')
            common = i + 1;
    if (common <= 1)                 /* nothing shared but the root: stay absolute */
        return arena_strdup(a, to);
    int up = 0;                      /* folders of `from` below the shared part */
    for (const char *p = f + common; *p; p++)
        up += *p == '/';
    char *s = arena_alloc(a, (size_t)up * 3 + strlen(to + common) + 1), *q = s;
    for (int i = 0; i < up; i++, q += 3)
        memcpy(q, "../", 3);
    strcpy(q, to + common);
    return s;
}

int
cli_rebase_weights(Graph *g, const char *out_path, Diag *d)
{
    char *slash = strrchr(out_path, '/');
    char dir[PATH_MAX], out_abs[PATH_MAX], w_abs[PATH_MAX];
    if (!slash)
        strcpy(dir, ".");
    else
        snprintf(dir, sizeof dir, "%.*s", slash == out_path ? 1 : (int)(slash - out_path),
                 out_path);
    if (!realpath(dir, out_abs)) {
        diag_error(d, (SrcLoc){ out_path, 0, 0 }, "cannot resolve folder '%s'", dir);
        return -1;
    }
    for (uint32_t i = 1; i < g->nstorage; i++) {
        Storage *st = &g->storage[i];
        if (st->kind != STORE_FILE || st->path[0] == '/')
            continue;
        char *full = g->dir && g->dir[0] ? arena_printf(g->arena, "%s/%s", g->dir, st->path)
                                         : arena_strdup(g->arena, st->path);
        if (!realpath(full, w_abs)) {
            diag_error(d, (SrcLoc){ full, 0, 0 }, "cannot resolve weights path");
            return -1;
        }
        st->path = relative_path(g->arena, out_abs, w_abs);
    }
    return 0;
}
