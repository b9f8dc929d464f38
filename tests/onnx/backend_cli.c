/* tests/onnx/backend_cli.c — runs an imported graph on a kiln backend (C or LLVM) for the
 * conformance harness: the graph goes to a temporary folder as text IR, its inputs as .npy
 * files, and `kiln run --backend=B` compiles and runs it there; outputs come back as .npy.
 * Going through the CLI keeps the harness on exactly the path users take. */
#define _XOPEN_SOURCE 700
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "harness.h"

/* Appends s single-quoted for /bin/sh. */
static void
quote(char *buf, size_t len, const char *s)
{
    size_t n = strlen(buf);
    if (n + 2 >= len)
        return;
    buf[n++] = '\'';
    for (; *s && n + 5 < len; s++) {
        if (*s == '\'') {
            memcpy(buf + n, "'\\''", 4);
            n += 4;
        } else {
            buf[n++] = *s;
        }
    }
    buf[n++] = '\'';
    buf[n] = 0;
}

static int
write_text(const char *path, Graph *g)
{
    FILE *f = fopen(path, "w");
    if (!f)
        return -1;
    ir_graph_print(g, f);
    return fclose(f) == 0 ? 0 : -1;
}

static int
read_npy(const char *path, IrTensor *t, char *err, size_t errlen)
{
    kiln_file *f;
    kiln_view v;
    if (kiln_file_map(path, &f, err, errlen) != KILN_OK)
        return -1;
    int rc = kiln_npy_parse(kiln_file_data(f), kiln_file_size(f), &v, err, errlen);
    if (rc == KILN_OK) {
        t->type = ir_type_make((DType)v.dtype, v.rank, v.dims);
        t->data = malloc(v.nbytes ? v.nbytes : 1);
        if (t->data)
            memcpy(t->data, v.data, v.nbytes);
    }
    kiln_file_unmap(f);
    return rc == KILN_OK && t->data ? 0 : -1;
}

/* The first line of the run's log, for the FAIL message. */
static void
log_line(const char *path, const char *backend, char *err, size_t errlen)
{
    FILE *f = fopen(path, "r");
    char line[512] = "";
    while (f && fgets(line, sizeof line, f) && strstr(line, ": error:") == NULL)
        ;
    if (f)
        fclose(f);
    line[strcspn(line, "\n")] = 0;
    snprintf(err, errlen, "kiln run --backend=%s failed: %s", backend, line);
}

/* Writes the inputs, builds the command line; -1 on a file error. */
static int
prepare(const char *dir, Graph *g, const IrTensor *in, const HarnessBackend *b, char *cmd,
        size_t len)
{
    char path[4096], err[256];
    snprintf(cmd, len, "%s", "");
    quote(cmd, len, b->kiln);
    snprintf(path, sizeof path, "%s/model.kir", dir);
    strncat(cmd, " run --backend=", len - strlen(cmd) - 1);
    strncat(cmd, b->backend, len - strlen(cmd) - 1);
    strncat(cmd, " --passes=", len - strlen(cmd) - 1);
    strncat(cmd, b->pipeline, len - strlen(cmd) - 1);
    strncat(cmd, " ", len - strlen(cmd) - 1);
    quote(cmd, len, path);
    if (write_text(path, g) < 0)
        return -1;
    for (int i = 0; i < g->ninput; i++) {
        kiln_view v = { .dtype = (kiln_dtype)in[i].type.dtype, .rank = in[i].type.rank,
                        .data = in[i].data };
        int64_t bytes;
        memcpy(v.dims, in[i].type.dims, sizeof v.dims);
        if (ir_type_bytes(&in[i].type, &bytes) < 0)
            return -1;
        v.nbytes = (size_t)bytes;
        snprintf(path, sizeof path, "%s/in%d.npy", dir, i);
        if (kiln_npy_write(path, &v, err, sizeof err) != KILN_OK)
            return -1;
        snprintf(path, sizeof path, " --input in%d=", i);
        strncat(cmd, path, len - strlen(cmd) - 1);
        snprintf(path, sizeof path, "%s/in%d.npy", dir, i);
        quote(cmd, len, path);
    }
    snprintf(path, sizeof path, "%s/out", dir);
    strncat(cmd, " -o ", len - strlen(cmd) - 1);
    quote(cmd, len, path);
    snprintf(path, sizeof path, "%s/log", dir);
    strncat(cmd, " >", len - strlen(cmd) - 1);
    quote(cmd, len, path);
    strncat(cmd, " 2>&1", len - strlen(cmd) - 1);
    return 0;
}

int
harness_run_backend(const HarnessBackend *b, Graph *g, const IrTensor *in, IrTensor *out, char *err,
              size_t errlen)
{
    char dir[] = "/tmp/kiln_onnx_XXXXXX", cmd[16384], path[4096];
    int rc = -1;
    if (!mkdtemp(dir)) {
        snprintf(err, errlen, "cannot create a temporary folder");
        return -1;
    }
    /* plain names, so inputs and output files need no escaping or cleaning */
    for (int i = 0; i < g->ninput; i++)
        ir_value_set_name(g, g->inputs[i], arena_printf(g->arena, "in%d", i));
    for (int i = 0; i < g->noutput; i++)
        g->outputs[i].name = arena_printf(g->arena, "out%d", i);
    if (prepare(dir, g, in, b, cmd, sizeof cmd) < 0) {
        snprintf(err, errlen, "cannot write the model or its inputs to %s", dir);
    } else if (system(cmd) != 0) {
        snprintf(path, sizeof path, "%s/log", dir);
        log_line(path, b->backend, err, errlen);
    } else {
        rc = 0;
        for (int i = 0; i < g->noutput && rc == 0; i++) {
            snprintf(path, sizeof path, "%s/out/out%d.npy", dir, i);
            rc = read_npy(path, &out[i], err, errlen);
        }
    }
    snprintf(cmd, sizeof cmd, "rm -rf ");
    quote(cmd, sizeof cmd, dir);
    if (system(cmd) != 0 && rc == 0) {
        snprintf(err, errlen, "cannot remove %s", dir);
        rc = -1;
    }
    return rc;
}
