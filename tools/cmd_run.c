/* tools/cmd_run.c — `kiln run`: gather inputs (.npy files or seeded random), run the model
 * with the reference interpreter or the compiled C backend, optionally compare against the
 * interpreter on the unoptimised graph, then write and print the outputs. */
#include <stdlib.h>
#include <string.h>
#include "tools.h"

/* Everything one run owns; freed by run_free. */
typedef struct {
    Graph    *g;             /* the model after the pipeline */
    Graph    *refg;          /* --compare: the interpreter's copy (shape-infer only) */
    int       ninput;        /* g->ninput */
    IrTensor *in;            /* inputs, API order */
    int       noutput;       /* g->noutput */
    IrTensor *out;           /* backend outputs */
    IrTensor *ref;           /* interpreter outputs with --compare, else NULL */
    int       exit_taken;    /* backend's exit (0 = main path) */
    int       ref_exit;      /* interpreter's exit */
} Run;

static void
tensors_free(IrTensor *t, int n)
{
    for (int i = 0; t && i < n; i++)
        ir_tensor_free(&t[i]);
    free(t);
}

static void
run_free(Run *r)
{
    tensors_free(r->in, r->ninput);
    tensors_free(r->out, r->noutput);
    tensors_free(r->ref, r->noutput);
    ir_graph_free(r->g);
    ir_graph_free(r->refg);
}

static int
input_index(const Graph *g, const char *name)
{
    for (int i = 0; i < g->ninput; i++) {
        const char *n = g->values[g->inputs[i]].name;
        if (n && strcmp(n, name) == 0)
            return i;
    }
    return -1;
}

/* Fills r->in from --input files and the seeded generator.  0 or -1 (errors in d). */
static int
gather_inputs(Run *r, const CliArgs *a, Diag *d)
{
    const Graph *g = r->g;
    for (int i = 0; i < a->ninput; i++) {
        int k = input_index(g, a->input[i].name);
        if (k < 0) {
            char names[256] = "";
            for (int j = 0; j < g->ninput; j++) {
                size_t n = strlen(names);
                const char *nm = g->values[g->inputs[j]].name;
                snprintf(names + n, sizeof names - n, "%s%s", j ? ", " : "", nm ? nm : "?");
            }
            diag_error(d, (SrcLoc){ a->model, 0, 0 },
                       "--input %s: the model has no input '%s' (its inputs: %s)",
                       a->input[i].name, a->input[i].name, g->ninput ? names : "none");
            return -1;
        }
        const Value *v = &g->values[g->inputs[k]];
        if (npy_read(a->input[i].path, a->input[i].name, &v->type, &r->in[k], d) != 0)
            return -1;
        char buf[128];
        printf("input %s: %s from %s\n", a->input[i].name, ir_type_str(&v->type, buf, sizeof buf),
               a->input[i].path);
    }
    for (int k = 0; k < g->ninput; k++) {
        if (r->in[k].data)
            continue;
        /* one stream per input, so giving one input does not change the others */
        uint64_t state = a->seed ^ (0xd1b54a32d192ed03ull * (uint64_t)(k + 1));
        const Value *v = &g->values[g->inputs[k]];
        if (tensor_random(&r->in[k], &v->type, &state) != 0) {
            diag_error(d, (SrcLoc){ a->model, 0, 0 }, "out of memory for input '%s'", v->name);
            return -1;
        }
        char buf[128];
        printf("input %s: random %s (seed %llu)\n", v->name ? v->name : "?",
               ir_type_str(&v->type, buf, sizeof buf), (unsigned long long)a->seed);
    }
    return 0;
}

/* The interpreter on a fresh load of the model with shape-infer only: an oracle that
 * shares no pass with the backend under test. */
static int
run_reference(Run *r, const CliArgs *a, Diag *d)
{
    CliArgs plain = { .verify_each = a->verify_each, .olevel = -1 };
    r->ref = calloc((size_t)r->noutput + 1, sizeof *r->ref);
    if (cli_load(a->model, &r->refg, d) != 0 || !r->ref
        || cli_pipeline_run(r->refg, "shape-infer", &plain, stderr, 0, d) != 0)
        return -1;
    return ir_interp_run(r->refg, r->in, r->ref, &r->ref_exit, d);
}

/* Writes every output to DIR/<name>.npy, DIR created if missing. */
static int
write_outputs(Run *r, const char *dir, Diag *d)
{
    for (int i = 0; i < r->noutput; i++) {
        size_t n = strlen(dir);
        /* in the graph's arena: diagnostics keep pointing at it */
        const char *path = arena_printf(r->g->arena, "%s%s%s.npy", dir,
                                        n && dir[n - 1] == '/' ? "" : "/", r->g->outputs[i].name);
        if (out_mkdirs_for(path, d) != 0 || npy_write(path, &r->out[i], d) != 0)
            return -1;
    }
    return 0;
}

static void
print_outputs(const Run *r, const char *dir)
{
    for (int i = 0; i < r->noutput; i++)
        tensor_print(stdout, r->g->outputs[i].name, &r->out[i], 10);
    if (r->exit_taken)
        printf("exit taken: %d (early exit)\n", r->exit_taken);
    else
        printf("exit taken: 0 (main path)\n");
    printf("wrote %d output(s) to %s\n", r->noutput, dir);
}

/* Load, pipeline, inputs, backend.  0 or -1 (errors in d). */
static int
execute(Run *r, const CliArgs *a, Diag *d)
{
    int is_c = strcmp(a->backend, "c") == 0, is_llvm = strcmp(a->backend, "llvm") == 0;
    const char *pipeline = a->passes || a->olevel >= 0 || is_c || is_llvm
                           ? cli_pipeline_string(a, 2)
                                                              : "shape-infer";
    if (cli_load(a->model, &r->g, d) != 0)
        return -1;
    r->ninput = r->g->ninput;
    r->noutput = r->g->noutput;
    r->in = calloc((size_t)r->ninput + 1, sizeof *r->in);
    r->out = calloc((size_t)r->noutput + 1, sizeof *r->out);
    if (!r->in || !r->out)
        return -1;
    if (cli_pipeline_run(r->g, pipeline, a, stderr, 0, d) != 0 || gather_inputs(r, a, d) != 0)
        return -1;
    if (is_c)
        return cli_run_c(r->g, a, r->in, r->out, &r->exit_taken, d);
    if (is_llvm)
        return cli_run_llvm(r->g, a, r->in, r->out, &r->exit_taken, d);
    return ir_interp_run(r->g, r->in, r->out, &r->exit_taken, d);
}

int
cmd_run(const CliArgs *a)
{
    if (!a->model)
        return cli_usage_error(cli_command_find("run"), "missing MODEL");
    const char *dir = a->out ? a->out : ".";
    Run r = { 0 };
    Diag d;
    diag_init(&d);
    int st = EXIT_OK, bad = 0;
    if (execute(&r, a, &d) != 0)
        st = cli_fail(&d, "run failed");
    else if (a->compare && run_reference(&r, a, &d) != 0)
        st = cli_fail(&d, "reference interpreter failed");
    else if (write_outputs(&r, dir, &d) != 0)
        st = cli_fail(&d, "cannot write outputs");
    if (st == EXIT_OK) {
        diag_print(&d, stderr);          /* warnings, if any */
        print_outputs(&r, dir);
        if (a->compare)
            bad = cli_compare(r.g, r.out, r.exit_taken, r.ref, r.ref_exit, stdout);
    }
    run_free(&r);
    diag_free(&d);
    return st != EXIT_OK ? st : bad ? EXIT_MODEL : EXIT_OK;
}
