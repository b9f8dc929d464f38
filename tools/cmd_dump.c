/* tools/cmd_dump.c — `kiln dump` (any model → IR or Graphviz on stdout after a pipeline,
 * default -O2) and `kiln opt` (text IR → text IR after --passes, default none; the driver
 * of the golden tests).  Requested --print-ir-* dumps go to stdout ahead of the result. */
#include <string.h>
#include "tools.h"

/* Loads a->model, runs pipeline; NULL after printing the diagnostics. */
static Graph *
load_and_run(const CliArgs *a, const char *pipeline, int *st)
{
    Diag d;
    diag_init(&d);
    Graph *g;
    if (cli_load(a->model, &g, &d) != 0) {
        *st = cli_fail(&d, "cannot load model");
        ir_graph_free(g);
        g = NULL;
    } else if (cli_pipeline_run(g, pipeline, a, stdout, 0, &d) != 0) {
        *st = cli_fail(&d, "pass pipeline failed");
        ir_graph_free(g);
        g = NULL;
    } else {
        diag_print(&d, stderr);          /* warnings, if any */
        *st = EXIT_OK;
    }
    diag_free(&d);
    return g;
}

int
cmd_dump(const CliArgs *a)
{
    const Command *c = cli_command_find("dump");
    const char *emit = a->emit ? a->emit : "ir";
    if (strcmp(emit, "ir") != 0 && strcmp(emit, "dot") != 0)
        return cli_usage_error(c, "--emit: expected ir or dot, got '%s'", emit);
    if (!a->model)
        return cli_usage_error(c, "missing MODEL");
    int st;
    Graph *g = load_and_run(a, cli_pipeline_string(a, 2), &st);
    if (!g)
        return st;
    if (strcmp(emit, "ir") == 0)
        ir_graph_print(g, stdout);
    else
        ir_graph_dot(g, stdout);
    ir_graph_free(g);
    return EXIT_OK;
}

int
cmd_opt(const CliArgs *a)
{
    const Command *c = cli_command_find("opt");
    if (!a->model)
        return cli_usage_error(c, "missing FILE");
    int st;
    Graph *g = load_and_run(a, a->passes ? a->passes : "", &st);
    if (!g)
        return st;
    if (a->out && strcmp(a->out, "-") != 0) {
        Diag d;
        diag_init(&d);
        OutFile f;
        if (out_mkdirs_for(a->out, &d) != 0 || cli_rebase_weights(g, a->out, &d) != 0
            || out_open(&f, a->out, &d) != 0)
            st = cli_fail(&d, "cannot write output");
        else {
            ir_graph_print(g, f.f);
            if (out_commit(&f, 1, &d) != 0)
                st = cli_fail(&d, "cannot write output");
        }
        diag_free(&d);
    } else {
        ir_graph_print(g, stdout);
    }
    ir_graph_free(g);
    return st;
}
