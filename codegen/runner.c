/* codegen/runner.c — emits a C main() that runs one compiled model on .npy files:
 *   runner [--threads=N] OUTDIR in0.npy in1.npy ...      (inputs in P_info order)
 * It checks each input's dtype and shape against P_info, runs through P_info.run, writes
 * OUTDIR/<output>.npy and prints exit_taken=N.  Used by `kiln run --backend=c`.  Unlike the
 * model, the runner may allocate and use stdio. */
#include "codegen.h"

/* The runner's functions, in chunks shorter than the 4095 characters C11 compilers must
 * accept in one string literal. */
static const char *const runner_body[] = {
    "static void *\n"
    "alloc64(size_t n)\n"
    "{\n"
    "    return aligned_alloc(64, (n + 63) / 64 * 64 + 64);\n"
    "}\n"
    "\n"
    "/* Reads argv's .npy into an aligned copy after checking it against the model. */\n"
    "static void *\n"
    "load_input(const char *path, const kiln_tensor_info *ti)\n"
    "{\n"
    "    char err[256];\n"
    "    kiln_file *f;\n"
    "    kiln_view v;\n"
    "    if (kiln_file_map(path, &f, err, sizeof err) != KILN_OK) {\n"
    "        fprintf(stderr, \"runner: %s\\n\", err);\n"
    "        return NULL;\n"
    "    }\n"
    "    if (kiln_npy_parse(kiln_file_data(f), kiln_file_size(f), &v, err, sizeof err) != KILN_OK) {\n"
    "        fprintf(stderr, \"runner: %s: %s\\n\", path, err);\n"
    "        kiln_file_unmap(f);\n"
    "        return NULL;\n"
    "    }\n"
    "    int ok = v.dtype == ti->dtype && v.rank == ti->rank;\n"
    "    for (int d = 0; ok && d < v.rank; d++)\n"
    "        ok = v.dims[d] == ti->dims[d];\n"
    "    if (!ok) {\n"
    "        fprintf(stderr, \"runner: %s: input '%s' expected %s of rank %d, got %s of rank %d \"\n"
    "                \"or other dims\\n\", path, ti->name, kiln_dtype_name(ti->dtype), ti->rank,\n"
    "                kiln_dtype_name(v.dtype), v.rank);\n"
    "        kiln_file_unmap(f);\n"
    "        return NULL;\n"
    "    }\n"
    "    void *p = alloc64(ti->bytes);\n"
    "    if (p)\n"
    "        memcpy(p, v.data, ti->bytes);\n"
    "    else\n"
    "        fprintf(stderr, \"runner: out of memory\\n\");\n"
    "    kiln_file_unmap(f);\n"
    "    return p;\n"
    "}\n"
    "\n",
    "static int\n"
    "write_outputs(const kiln_model_info *mi, const char *dir, void *const *outs)\n"
    "{\n"
    "    for (int i = 0; i < mi->noutputs; i++) {\n"
    "        const kiln_tensor_info *ti = &mi->outputs[i];\n"
    "        char path[4096], err[256];\n"
    "        kiln_view v = { ti->dtype, ti->rank, { 0 }, outs[i], ti->bytes };\n"
    "        for (int d = 0; d < ti->rank; d++)\n"
    "            v.dims[d] = ti->dims[d];\n"
    "        if ((size_t)snprintf(path, sizeof path, \"%s/%s.npy\", dir, output_file[i]) >= sizeof path) {\n"
    "            fprintf(stderr, \"runner: output path too long\\n\");\n"
    "            return -1;\n"
    "        }\n"
    "        if (kiln_npy_write(path, &v, err, sizeof err) != KILN_OK) {\n"
    "            fprintf(stderr, \"runner: %s\\n\", err);\n"
    "            return -1;\n"
    "        }\n"
    "    }\n"
    "    return 0;\n"
    "}\n"
    "\n"
    "static int\n"
    "run(const kiln_model_info *mi, char **argv, void **ins, void **outs, void **arena,\n"
    "    const kiln_run_opts *opts)\n"
    "{\n"
    "    for (int i = 0; i < mi->ninputs; i++)\n"
    "        if (!(ins[i] = load_input(argv[2 + i], &mi->inputs[i])))\n"
    "            return 1;\n"
    "    for (int i = 0; i < mi->noutputs; i++)\n"
    "        if (!(outs[i] = alloc64(mi->outputs[i].bytes)))\n"
    "            return 1;\n"
    "    if (!(*arena = alloc64(mi->arena_bytes)))\n"
    "        return 1;\n"
    "    int exit_taken = 0;\n"
    "    int st = mi->run((const void *const *)ins, outs, &exit_taken, *arena, opts);\n"
    "    if (st != KILN_OK) {\n"
    "        fprintf(stderr, \"runner: model %s failed: %s\\n\", mi->name, kiln_status_str(st));\n"
    "        return 1;\n"
    "    }\n"
    "    if (write_outputs(mi, argv[1], outs) < 0)\n"
    "        return 1;\n"
    "    printf(\"exit_taken=%d\\n\", exit_taken);\n"
    "    return 0;\n"
    "}\n"
    "\n",
    "int\n"
    "main(int argc, char **argv)\n"
    "{\n"
    "    const kiln_model_info *mi = &MODEL_INFO;\n"
    "    int shift = 0, nthreads = 1;\n"
    "    if (argc > 1 && strncmp(argv[1], \"--threads=\", 10) == 0) {\n"
    "        nthreads = atoi(argv[1] + 10);\n"
    "        shift = 1;\n"
    "    }\n"
    "    if (argc != 2 + shift + mi->ninputs || nthreads < 1) {\n"
    "        fprintf(stderr, \"usage: %s [--threads=N] OUTDIR\", argv[0]);\n"
    "        for (int i = 0; i < mi->ninputs; i++)\n"
    "            fprintf(stderr, \" %s.npy\", mi->inputs[i].name);\n"
    "        fprintf(stderr, \"\\n\");\n"
    "        return 1;\n"
    "    }\n"
    "    void *ins[MODEL_NIN + 2] = { 0 }, *outs[MODEL_NOUT + 1] = { 0 }, *arena = NULL;\n"
    "    kiln_file *wf = NULL;\n"
    "    int rc = 0;\n"
    "    if (mi->weights_external) {\n"
    "        char err[256];\n"
    "        if (kiln_file_map(WEIGHTS_FILE, &wf, err, sizeof err) != KILN_OK) {\n"
    "            fprintf(stderr, \"runner: %s\\n\", err);\n"
    "            return 1;\n"
    "        }\n"
    "        ins[mi->ninputs] = (void *)kiln_file_data(wf);\n"
    "    }\n"
    "    kiln_pool *pool = nthreads > 1 ? kiln_pool_new(nthreads) : NULL;\n"
    "    kiln_run_opts opts = { nthreads, pool ? kiln_pool_parallel_for : NULL, pool };\n"
    "    rc = run(mi, argv + shift, ins, outs, &arena, &opts);\n"
    "    kiln_pool_free(pool);\n"
    "    for (int i = 0; i < mi->ninputs; i++)\n"
    "        free(ins[i]);\n"
    "    for (int i = 0; i < mi->noutputs; i++)\n"
    "        free(outs[i]);\n"
    "    free(arena);\n"
    "    kiln_file_unmap(wf);\n"
    "    return rc;\n"
    "}\n",
};

/* A C string literal of s (for the weights file name). */
static void
c_string(FILE *out, const char *s)
{
    fputc('"', out);
    for (; *s; s++) {
        if (*s == '"' || *s == '\\')
            fputc('\\', out);
        fputc(*s, out);
    }
    fputc('"', out);
}

int
cg_runner_emit(Graph *g, const CgOptions *o, FILE *out, Diag *d)
{
    CgModule *m = cg_lower(g, o, d);
    if (!m)
        return -1;
    fprintf(out, "/* runner for model %s — generated by kiln; do not edit.\n"
            " * usage: runner [--threads=N] OUTDIR inputs.npy...  (writes OUTDIR/<output>.npy) */\n",
            m->prefix);
    fputs("#include <stdio.h>\n#include <stdlib.h>\n#include <string.h>\n", out);
    cg_header_write(m, out);
    fprintf(out, "\n#define MODEL_INFO %s_info\n#define MODEL_NIN %d\n#define MODEL_NOUT %d\n",
            m->prefix, m->ninput, m->noutput);
    fputs("#define WEIGHTS_FILE ", out);
    c_string(out, m->opt.weights_file ? m->opt.weights_file : "");
    /* output files carry the IR's output names, which need not be C identifiers */
    fputs("\n\nstatic const char *const output_file[MODEL_NOUT + 1] = {", out);
    for (int i = 0; i < g->noutput; i++) {
        fputs(i ? ", " : " ", out);
        c_string(out, g->outputs[i].name);
    }
    if (!g->noutput)
        fputs(" \"\"", out);   /* no outputs: a placeholder never read */
    fputs(" };\n\n", out);
    for (size_t i = 0; i < sizeof runner_body / sizeof *runner_body; i++)
        fputs(runner_body[i], out);
    int st = ferror(out) ? -1 : 0;
    if (st < 0)
        diag_error(d, (SrcLoc){ 0 }, "cannot write the runner");
    cg_module_free(m);
    return st;
}
