/* tools/pipeline.c — the pass-pipeline step shared by compile, run, dump and opt: picks the
 * pipeline string from --passes / -O, maps the dump and verification flags onto
 * PassOptions, and prints --stats. */
#include <time.h>
#include "passes.h"
#include "tools.h"

const char *
cli_pipeline_string(const CliArgs *a, int default_level)
{
    if (a->passes)
        return a->passes;
    return pass_pipeline_for_level(a->olevel >= 0 ? a->olevel : default_level);
}

static double
now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static void
print_stats(const Graph *g, const char *pipeline, int before, const PassStats *st,
            double ms)
{
    fprintf(stderr, "stats: pipeline: %s\n", pipeline);
    fprintf(stderr, "stats: nodes: %d before, %d after\n", before, cli_node_count(g));
    if (g->planned)
        fprintf(stderr, "stats: peak arena: %lld bytes\n", (long long)g->arena_bytes);
    else
        fputs("stats: peak arena: not planned (no memplan in the pipeline)\n", stderr);
    for (int i = 0; i < st->nstat; i++)
        fprintf(stderr, "stats: %s.%s = %lld\n", st->stat[i].pass, st->stat[i].name,
                (long long)st->stat[i].value);
    fprintf(stderr, "stats: pipeline time: %.3f ms\n", ms);
}

int
cli_pipeline_run(Graph *g, const char *pipeline, const CliArgs *a, FILE *dump, int stats,
                 Diag *d)
{
    PassOptions o = {
        .print_after = a->print_after,
        .print_before = a->print_before,
        .print_after_change = a->print_change,
        .verify_each = a->verify_each,
        .time_passes = a->time_passes,
        .dump = dump,
        .max_arena = a->max_arena,
    };
    PassStats st = { 0 };
    int before = cli_node_count(g);
    double t0 = now_ms();
    /* an empty pipeline (kiln opt's default) still verifies: the loader already did */
    int rc = pipeline[0] ? pass_run_pipeline(g, pipeline, &o, &st, d) : 0;
    if (rc == 0 && stats)
        print_stats(g, pipeline, before, &st, now_ms() - t0);
    return rc;
}
