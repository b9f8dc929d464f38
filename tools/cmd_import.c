/* tools/cmd_import.c — `kiln import model.onnx -o model.kiln`: an ONNX model rewritten in
 * the kiln graph language (onnx_kiln_write) with its weights in a safetensors file beside
 * it.  Both files appear only when everything succeeded. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "tools.h"

/* s ends with suffix. */
static int
ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s), k = strlen(suffix);
    return n >= k && strcmp(s + n - k, suffix) == 0;
}

/* The last component of path. */
static const char *
base_name(const char *path)
{
    const char *slash = strrchr(path, '/');
    return slash ? slash + 1 : path;
}

/* The default output: the model's file name with .onnx replaced by .kiln, in the current
 * folder.  malloc-owned. */
static char *
default_out(const char *model)
{
    const char *base = base_name(model);
    size_t n = strlen(base) - (ends_with(base, ".onnx") ? 5 : 0);
    char *s = malloc(n + 6);
    if (s)
        snprintf(s, n + 6, "%.*s.kiln", (int)n, base);
    return s;
}

/* Writes the .kiln text to out (through a temporary) and the weights to st_path, then
 * renames the .kiln into place; on any failure neither file is left.  0 or -1 (d). */
static int
write_files(Graph *g, const char *out, const char *st_path, Diag *d)
{
    const char *st_base = base_name(st_path);
    OutFile f;
    OnnxKilnParams p;
    if (out_mkdirs_for(out, d) != 0 || out_open(&f, out, d) != 0)
        return -1;
    if (onnx_kiln_write(g, st_base, f.f, &p, d) != 0) {
        out_abort(&f, 1);
        onnx_kiln_params_free(&p);
        return -1;
    }
    char err[256];
    if (p.n && kiln_st_write(st_path, p.n, p.name, p.view, err, sizeof err) != KILN_OK) {
        diag_error(d, (SrcLoc){ st_path, 0, 0 }, "cannot write weights: %s", err);
        out_abort(&f, 1);
        onnx_kiln_params_free(&p);
        return -1;
    }
    int n = p.n;
    onnx_kiln_params_free(&p);
    if (out_commit(&f, 1, d) != 0) {
        if (n)
            remove(st_path);
        return -1;
    }
    if (!n)
        remove(st_path);             /* a weights file left from an earlier import */
    return 0;
}

int
cmd_import(const CliArgs *a)
{
    const Command *c = cli_command_find("import");
    if (!a->model)
        return cli_usage_error(c, "missing MODEL");
    if (!ends_with(a->model, ".onnx"))
        return cli_usage_error(c, "expected an .onnx model, got '%s'", a->model);
    if (a->out && (!ends_with(a->out, ".kiln") || strcmp(base_name(a->out), ".kiln") == 0))
        return cli_usage_error(c, "-o: expected a .kiln file name such as out/model.kiln, got '%s'",
                               a->out);
    char *out = a->out ? NULL : default_out(a->model);
    const char *out_path = a->out ? a->out : out;
    size_t n = out_path ? strlen(out_path) - 5 : 0;          /* without ".kiln" */
    char *st_path = out_path ? malloc(n + 13) : NULL;
    if (!st_path) {
        free(out);
        free(st_path);
        fputs("kiln: error: out of memory\n", stderr);
        return EXIT_MODEL;
    }
    snprintf(st_path, n + 13, "%.*s.safetensors", (int)n, out_path);
    Diag d;
    diag_init(&d);
    Graph *g;
    int st = EXIT_OK;
    if (cli_load(a->model, &g, &d) != 0)
        st = cli_fail(&d, "cannot load model");
    else if (write_files(g, out_path, st_path, &d) != 0)
        st = cli_fail(&d, "cannot write the .kiln model");
    else
        diag_print(&d, stderr);          /* warnings, if any */
    diag_free(&d);
    ir_graph_free(g);
    free(st_path);
    free(out);
    return st;
}
