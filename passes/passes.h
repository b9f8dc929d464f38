/* passes/passes.h — the passes layer: registry, pass manager and the graph passes.
 *
 * A pipeline is a string of pass names from passes/passes.def, comma separated, each with
 * optional integer arguments: "shape-infer,fold,dce,cse,fuse{epilogues=0},memplan{align=64}".
 * pass_run_pipeline parses it, checks each pass's required analyses, runs the passes in order
 * and stops at the first failure.  Passes keep no global state: everything they need arrives
 * in a PassCtx, and what they count goes into PassStats through pass_stat.
 */
#ifndef KILN_PASSES_H
#define KILN_PASSES_H

#include <stdint.h>
#include <stdio.h>
#include "ir.h"

/* Analyses the manager tracks between passes (the registry's requires/provides/preserves). */
enum {
    A_SHAPES = 1 << 0,       /* every live value has a dtype and shape (shape-infer) */
    A_PLAN   = 1 << 1        /* Value.offset and Graph.arena_bytes are valid (memplan) */
};

typedef struct {
    const char *print_after;        /* pass name or "all": dump the IR after it; NULL = never */
    const char *print_before;       /* pass name or "all": dump the IR before it; NULL = never */
    int         print_after_change; /* dump after every pass that changed the printed IR */
    int         verify_each;        /* run ir_verify after every pass; failure stops the run */
    int         time_passes;        /* print a per-pass wall-clock report to stderr */
    FILE       *dump;               /* where IR dumps go; NULL = stderr */
    int64_t     max_arena;          /* memplan fails above this many arena bytes; 0 = no limit */
} PassOptions;

enum { PASS_MAX_STATS = 64 };       /* distinct (pass, statistic) pairs one run may record */

typedef struct {
    const char *pass;        /* registry name of the pass that recorded it (static string) */
    const char *name;        /* statistic name, a string literal in the pass ("fused") */
    int64_t     value;       /* summed over every run of the pass in the pipeline */
} PassStat;

/* Statistics of one or more pipeline runs.  Zero-initialise before the first run. */
typedef struct PassStats {
    int      nstat;                 /* used entries of stat */
    PassStat stat[PASS_MAX_STATS];  /* in order of first recording */
} PassStats;

enum { PASS_MAX_ARGS = 8 };         /* most {k=v} arguments on one pipeline entry */

typedef struct {
    const char *key;         /* argument name, one of the registry row's args */
    int64_t     value;       /* integer value as written */
} PassArg;

/* What a running pass may use.  Built by the manager for each pass in the pipeline. */
typedef struct PassCtx {
    const char        *pass;       /* registry name of the running pass */
    const char        *pipeline;   /* the whole pipeline string, for messages */
    int                narg;       /* arguments given to this entry */
    const PassArg     *arg;        /* its {k=v} arguments, validated against the registry */
    const PassOptions *opt;        /* never NULL (defaults when the caller passed NULL) */
    Diag              *d;          /* user errors; the pass returns -1 after reporting */
    Arena             *scratch;    /* pass-local memory, reset when the pass returns */
    PassStats         *stats;      /* never NULL (a private table when the caller gave NULL) */
} PassCtx;

/* One prototype per registry row: int pass_<fn>(PassCtx *pc, Graph *g), 0 = ok, -1 = error
 * reported to pc->d.  Each pass's contract (requires / preserves / breaks) opens its file. */
#define PASS(name, fn, args, req, prov, pres, min_o, summary) int pass_##fn(PassCtx *pc, Graph *g);
#include "passes.def"
#undef PASS

/* manager.c */
/* Runs `pipeline` on g.  o may be NULL (no dumps, no verification, no limit); stats may be
 * NULL.  A malformed pipeline, an unmet requirement, a failing pass or a failing verifier
 * reports to d, naming the pipeline string, and returns -1; the graph is then left as the
 * failing pass left it. */
int         pass_run_pipeline(Graph *g, const char *pipeline, const PassOptions *o,
                              PassStats *stats, Diag *d);
/* Checks a pipeline string without running it: 0 = valid, else -1 with the error in d. */
int         pass_pipeline_check(const char *pipeline, Diag *d);
/* Checks a --print-ir-after/--print-ir-before value (a pass name or "all"; NULL is fine):
 * 0, or -1 with "FLAG: unknown pass ..." in d. */
int         pass_print_option_check(const char *opt, const char *flag, Diag *d);
/* The -O0..-O3 pipelines (levels outside 0..3 are clamped). */
const char *pass_pipeline_for_level(int level);
/* The registry as a table, then the -O pipelines (for --list-passes). */
void        pass_list(FILE *out);
/* Value of statistic `name` of `pass`; 0 when never recorded or s is NULL. */
int64_t     pass_stats_get(const PassStats *s, const char *pass, const char *name);
/* "pass.name = value" lines in recording order (for kiln compile --stats). */
void        pass_stats_print(const PassStats *s, FILE *out);
/* For passes: adds n to statistic `name` (a string literal) of the running pass. */
void        pass_stat(PassCtx *pc, const char *name, int64_t n);
/* For passes: the value of argument `key`, or def when the entry did not give it. */
int64_t     pass_arg(const PassCtx *pc, const char *key, int64_t def);
/* For passes: 1 when two nodes carry the same source annotations in the same order. */
int         pass_annots_equal(const Node *a, const Node *b);

/* memplan.c — after memplan, Value.offset is:
 *   -1 for graph inputs, constants, graph outputs and every value that shares bytes with
 *      one of those through views (a view of a graph input, or a value some view of which is
 *      a graph output: lowering writes it straight into the caller's output buffer);
 *   the same offset as its operand for an F_VIEW result;
 *   otherwise a multiple of the alignment (64 unless memplan{align=N}) such that no two
 *   values live at the same time overlap and offset + bytes <= Graph.arena_bytes.
 * A value is live from its defining node through its last reader (operands, epilogue
 * arguments and exit_if operands all read), so a result never shares bytes with its own
 * operands.  Statistics: "arena_bytes", "values" (tensors placed in the arena), "peak_bytes"
 * (sum of live tensor sizes at the peak) and "peak_node" (NodeId after which it occurs). */

#endif
