/* passes/manager.c — the pass manager: registry expansion, pipeline parsing, -O levels,
 * IR dumps, verify-each, timing and statistics.
 *
 * Approach: a pipeline string is parsed into steps (registry row + arguments) up front, so a
 * typo fails before any pass has touched the graph.  The analyses each pass requires are
 * checked by simulating the registry's provides/preserves columns over the steps, starting
 * from what the graph already has (a typed .kir file needs no shape-infer).  Then the steps
 * run in order with a scratch arena reset after each. */
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "passes.h"
#include "util.h"

typedef struct {
    const char *name;        /* spelling in pipelines */
    int (*fn)(PassCtx *, Graph *);  /* the pass */
    const char *args;        /* accepted argument names, comma separated */
    unsigned    requires;    /* A_* needed before */
    unsigned    provides;    /* A_* established */
    unsigned    preserves;   /* A_* kept */
    int         min_o;       /* lowest -O level running it */
    const char *summary;     /* one line for --list-passes */
} PassInfo;

static const PassInfo registry[] = {
#define PASS(name, fn, args, req, prov, pres, min_o, summary) \
    { name, pass_##fn, args, req, prov, pres, min_o, summary },
#include "passes.def"
#undef PASS
};
enum { NPASS = (int)(sizeof registry / sizeof registry[0]) };

/* The -O pipelines, written out so each reads as a recipe.  The registry's min_O column
 * must agree (test_passes checks it). */
static const char *const level_pipeline[4] = {
    /* -O0: types, then memory: nothing that changes the computation */
    "shape-infer,memplan",
    /* -O1: also precompute constant subgraphs and drop what nothing reads */
    "shape-infer,fold,dce,memplan",
    /* -O2: also share repeated work and fuse elementwise chains into their producers */
    "shape-infer,fold,dce,cse,fuse,memplan",
    /* -O3: the same as -O2 for now */
    "shape-infer,fold,dce,cse,fuse,memplan",
};

static const struct { unsigned bit; const char *name; } analysis_name[] = {
    { A_SHAPES, "shapes" },
    { A_PLAN, "plan" },
};

typedef struct {
    const PassInfo *info;    /* registry row */
    int             narg;    /* arguments given */
    PassArg         arg[PASS_MAX_ARGS];  /* keys point into the manager's arena */
} Step;

/* ------------------------------------------------------------------ parsing */

typedef struct {
    const char *src;         /* the whole pipeline string */
    const char *p;           /* cursor */
    Arena      *arena;       /* owns copied names */
    Diag       *d;           /* errors */
} Parser;

static const SrcLoc nowhere = { NULL, 0, 0 };

static void
skip_ws(Parser *ps)
{
    while (*ps->p == ' ' || *ps->p == '\t' || *ps->p == '\n')
        ps->p++;
}

/* A run of [A-Za-z0-9_-] copied into the arena; NULL (after an error) when empty. */
static const char *
word(Parser *ps, const char *what)
{
    skip_ws(ps);
    const char *s = ps->p;
    while ((*ps->p >= 'a' && *ps->p <= 'z') || (*ps->p >= 'A' && *ps->p <= 'Z') ||
           (*ps->p >= '0' && *ps->p <= '9') || *ps->p == '_' || *ps->p == '-')
        ps->p++;
    if (ps->p == s) {
        diag_error(ps->d, nowhere, "pipeline '%s': expected %s at column %d, got %s", ps->src,
                   what, (int)(s - ps->src) + 1, *s ? "another character" : "the end");
        return NULL;
    }
    char *w = arena_alloc(ps->arena, (size_t)(ps->p - s) + 1);
    memcpy(w, s, (size_t)(ps->p - s));
    return w;
}

static const PassInfo *
find_pass(const char *name)
{
    for (int i = 0; i < NPASS; i++)
        if (strcmp(registry[i].name, name) == 0)
            return &registry[i];
    return NULL;
}

/* 1 when key is one of the comma-separated names in list. */
static int
in_list(const char *list, const char *key)
{
    size_t n = strlen(key);
    for (const char *p = list; *p;) {
        const char *e = strchr(p, ',');
        size_t len = e ? (size_t)(e - p) : strlen(p);
        if (len == n && strncmp(p, key, n) == 0)
            return 1;
        p += len + (e != NULL);
    }
    return 0;
}

/* "a,b" as "a, b" for messages. */
static void
spaced_list(const char *list, char *buf, size_t len)
{
    size_t n = 0;
    for (; *list && n + 3 < len; list++) {
        buf[n++] = *list;
        if (*list == ',')
            buf[n++] = ' ';
    }
    buf[n] = 0;
}

static int
parse_arg(Parser *ps, Step *st)
{
    const char *key = word(ps, "an argument name");
    if (!key)
        return -1;
    if (!in_list(st->info->args, key)) {
        char known[128];
        spaced_list(st->info->args, known, sizeof known);
        diag_error(ps->d, nowhere, "pipeline '%s': %s has no argument '%s' (%s%s)", ps->src,
                   st->info->name, key, known[0] ? "expected one of: " : "it takes none",
                   known);
        return -1;
    }
    for (int i = 0; i < st->narg; i++)
        if (strcmp(st->arg[i].key, key) == 0) {
            diag_error(ps->d, nowhere, "pipeline '%s': %s argument '%s' given twice", ps->src,
                       st->info->name, key);
            return -1;
        }
    skip_ws(ps);
    if (*ps->p != '=') {
        diag_error(ps->d, nowhere, "pipeline '%s': expected '=' after '%s'", ps->src, key);
        return -1;
    }
    ps->p++;
    skip_ws(ps);
    const char *s = ps->p;
    if (*ps->p == '-')
        ps->p++;
    int64_t v = 0;
    int digits = 0;
    for (; *ps->p >= '0' && *ps->p <= '9'; ps->p++, digits++)
        if (__builtin_mul_overflow(v, 10, &v) || __builtin_add_overflow(v, *ps->p - '0', &v))
            break;
    if (!digits || (*ps->p >= '0' && *ps->p <= '9')) {
        diag_error(ps->d, nowhere, "pipeline '%s': %s argument '%s': expected an integer, got "
                   "'%.*s'", ps->src, st->info->name, key, (int)strcspn(s, ",}"), s);
        return -1;
    }
    KILN_ASSERT(st->narg < PASS_MAX_ARGS);   /* bounded by the registry's args list */
    st->arg[st->narg++] = (PassArg){ key, *s == '-' ? -v : v };
    return 0;
}

static int
parse_args(Parser *ps, Step *st)
{
    ps->p++;    /* '{' */
    for (;;) {
        if (parse_arg(ps, st) < 0)
            return -1;
        skip_ws(ps);
        if (*ps->p == '}') {
            ps->p++;
            return 0;
        }
        if (*ps->p != ',') {
            diag_error(ps->d, nowhere, "pipeline '%s': expected ',' or '}' at column %d in "
                       "the arguments of %s", ps->src, (int)(ps->p - ps->src) + 1,
                       st->info->name);
            return -1;
        }
        ps->p++;
    }
}

static void
unknown_pass(Parser *ps, const char *name)
{
    char known[256] = "";
    for (int i = 0; i < NPASS; i++) {
        strncat(known, i ? ", " : "", sizeof known - strlen(known) - 1);
        strncat(known, registry[i].name, sizeof known - strlen(known) - 1);
    }
    diag_error(ps->d, nowhere, "pipeline '%s': unknown pass '%s' (known: %s)", ps->src, name,
               known);
}

/* Parses the pipeline into *steps (arena memory); the count, or -1 after an error. */
static int
parse_pipeline(const char *src, Arena *a, Diag *d, Step **steps)
{
    Parser ps = { src, src, a, d };
    int n = 0, cap = 8;
    *steps = arena_alloc(a, (size_t)cap * sizeof **steps);
    skip_ws(&ps);
    if (!*ps.p)
        return 0;
    for (;;) {
        const char *name = word(&ps, "a pass name");
        if (!name)
            return -1;
        const PassInfo *info = find_pass(name);
        if (!info) {
            unknown_pass(&ps, name);
            return -1;
        }
        if (n == cap) {
            Step *more = arena_alloc(a, (size_t)cap * 2 * sizeof *more);
            memcpy(more, *steps, (size_t)cap * sizeof *more);
            *steps = more;
            cap *= 2;
        }
        Step *st = &(*steps)[n++];
        st->info = info;
        skip_ws(&ps);
        if (*ps.p == '{' && parse_args(&ps, st) < 0)
            return -1;
        skip_ws(&ps);
        if (!*ps.p)
            return n;
        if (*ps.p != ',') {
            diag_error(d, nowhere, "pipeline '%s': expected ',' between passes at column %d",
                       src, (int)(ps.p - src) + 1);
            return -1;
        }
        ps.p++;
    }
}

/* ------------------------------------------------------------------ analyses */

static const char *
analysis_str(unsigned bit)
{
    for (size_t i = 0; i < sizeof analysis_name / sizeof analysis_name[0]; i++)
        if (analysis_name[i].bit == bit)
            return analysis_name[i].name;
    kiln_die("unnamed analysis bit %u", bit);
}

/* A registry row providing analysis `bit`, for the "run X first" hint. */
static const char *
provider_of(unsigned bit)
{
    for (int i = 0; i < NPASS; i++)
        if (registry[i].provides & bit)
            return registry[i].name;
    return "?";
}

/* What g already has: shapes when every result in the schedule is typed. */
static unsigned
initial_analyses(const Graph *g)
{
    unsigned have = A_SHAPES;
    for (uint32_t i = 0; i < g->norder; i++) {
        const Node *nd = &g->nodes[g->order[i]];
        for (int k = 0; k < nd->nout && nd->op != OP_NONE; k++)
            if (g->values[nd->out[k]].type.dtype == DT_NONE)
                have &= ~(unsigned)A_SHAPES;
    }
    if (g->planned)
        have |= A_PLAN;
    return have;
}

static int
check_requirements(const char *src, const Step *steps, int n, unsigned have, Diag *d)
{
    for (int i = 0; i < n; i++) {
        unsigned missing = steps[i].info->requires & ~have;
        if (missing) {
            unsigned bit = missing & -missing;
            diag_error(d, nowhere, "pipeline '%s': %s requires %s, which nothing before it "
                       "provides (run %s first)", src, steps[i].info->name, analysis_str(bit),
                       provider_of(bit));
            return -1;
        }
        have = (have & steps[i].info->preserves) | steps[i].info->provides;
    }
    return 0;
}

/* ------------------------------------------------------------------ running */

static int
wants(const char *opt, const char *pass)
{
    return opt && (strcmp(opt, "all") == 0 || strcmp(opt, pass) == 0);
}

int
pass_print_option_check(const char *opt, const char *flag, Diag *d)
{
    if (!opt || strcmp(opt, "all") == 0 || find_pass(opt))
        return 0;
    diag_error(d, nowhere, "%s: unknown pass '%s' (expected a pass name or 'all')", flag, opt);
    return -1;
}

static void
dump(const Graph *g, FILE *out, const char *when, const char *pass)
{
    fprintf(out, "*** IR %s %s ***\n", when, pass);
    ir_graph_print(g, out);
    fflush(out);
}

static double
now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static void
time_report(FILE *out, const char *src, const Step *steps, const double *ms, int nrun)
{
    double total = 0;
    fprintf(out, "=== pass timing: %s ===\n", src);
    for (int i = 0; i < nrun; i++) {
        fprintf(out, "%10.3f ms  %s\n", ms[i], steps[i].info->name);
        total += ms[i];
    }
    fprintf(out, "%10.3f ms  total\n", total);
}

/* Runs one step with its dumps and verification; 0 or -1. */
static int
run_step(PassCtx *pc, const Step *st, Graph *g)
{
    const PassOptions *o = pc->opt;
    FILE *out = o->dump ? o->dump : stderr;
    char *before = NULL;
    if (wants(o->print_before, st->info->name))
        dump(g, out, "before", st->info->name);
    if (o->print_after_change)
        before = ir_graph_print_str(g);
    int rc = st->info->fn(pc, g);
    arena_reset(pc->scratch);
    ir_graph_compact(g);
    if (!(st->info->preserves & A_PLAN) && !(st->info->provides & A_PLAN))
        g->planned = 0;
    if (rc == 0 && (wants(o->print_after, st->info->name) || before)) {
        char *after = before ? ir_graph_print_str(g) : NULL;
        if (wants(o->print_after, st->info->name) || strcmp(before, after) != 0)
            dump(g, out, "after", st->info->name);
        free(after);
    }
    free(before);
    if (rc == 0 && o->verify_each && ir_verify(g, pc->d) != 0) {
        diag_error(pc->d, nowhere, "pipeline '%s': IR invalid after pass '%s'", pc->pipeline,
                   st->info->name);
        return -1;
    }
    if (rc != 0)
        diag_note(pc->d, nowhere, "in pass '%s' of pipeline '%s'", st->info->name,
                  pc->pipeline);
    return rc;
}

int
pass_run_pipeline(Graph *g, const char *pipeline, const PassOptions *o, PassStats *stats,
                  Diag *d)
{
    static const PassOptions defaults;   /* read-only: all off */
    PassStats local = { 0 };
    if (!o)
        o = &defaults;
    if (pass_print_option_check(o->print_after, "--print-ir-after", d) < 0 ||
        pass_print_option_check(o->print_before, "--print-ir-before", d) < 0)
        return -1;
    Arena *a = arena_new();
    Step *steps;
    int n = parse_pipeline(pipeline, a, d, &steps);
    int rc = n < 0 ? -1 : check_requirements(pipeline, steps, n, initial_analyses(g), d);
    PassCtx pc = { .pipeline = pipeline, .opt = o, .d = d, .scratch = arena_new(),
                   .stats = stats ? stats : &local };
    double *ms = arena_alloc(a, (size_t)(n > 0 ? n : 1) * sizeof *ms);
    int nrun = 0;
    for (int i = 0; rc == 0 && i < n; i++, nrun++) {
        pc.pass = steps[i].info->name;
        pc.narg = steps[i].narg;
        pc.arg = steps[i].arg;
        double t0 = now_ms();
        rc = run_step(&pc, &steps[i], g);
        ms[i] = now_ms() - t0;
    }
    if (o->time_passes && n > 0)
        time_report(stderr, pipeline, steps, ms, nrun);
    /* the pipeline's result is always verified (STYLE.md §5: before codegen); with
     * --verify-each the last pass's check already did it */
    if (rc == 0 && n > 0 && !o->verify_each && ir_verify(g, d) != 0) {
        diag_error(d, nowhere, "pipeline '%s': IR invalid after the pipeline", pipeline);
        rc = -1;
    }
    arena_free(pc.scratch);
    arena_free(a);
    return rc;
}

int
pass_pipeline_check(const char *pipeline, Diag *d)
{
    Arena *a = arena_new();
    Step *steps;
    int n = parse_pipeline(pipeline, a, d, &steps);
    arena_free(a);
    return n < 0 ? -1 : 0;
}

/* ------------------------------------------------------------------ registry queries */

const char *
pass_pipeline_for_level(int level)
{
    return level_pipeline[level < 0 ? 0 : level > 3 ? 3 : level];
}

static void
analyses_str(unsigned set, char *buf, size_t len)
{
    buf[0] = 0;
    for (size_t i = 0; i < sizeof analysis_name / sizeof analysis_name[0]; i++)
        if (set & analysis_name[i].bit) {
            strncat(buf, buf[0] ? "," : "", len - strlen(buf) - 1);
            strncat(buf, analysis_name[i].name, len - strlen(buf) - 1);
        }
    if (!buf[0])
        snprintf(buf, len, "-");
}

void
pass_list(FILE *out)
{
    char req[32], prov[32], pres[32];
    fprintf(out, "%-12s %-3s %-8s %-8s %-12s %-18s %s\n", "pass", "-O", "requires",
            "provides", "preserves", "arguments", "summary");
    for (int i = 0; i < NPASS; i++) {
        const PassInfo *p = &registry[i];
        analyses_str(p->requires, req, sizeof req);
        analyses_str(p->provides, prov, sizeof prov);
        analyses_str(p->preserves, pres, sizeof pres);
        fprintf(out, "%-12s %-3d %-8s %-8s %-12s %-18s %s\n", p->name, p->min_o, req, prov,
                pres, p->args[0] ? p->args : "-", p->summary);
    }
    fprintf(out, "\n");
    for (int l = 0; l <= 3; l++)
        fprintf(out, "-O%d  %s%s\n", l, level_pipeline[l],
                l == 3 ? "   (same as -O2 for now)" : "");
}

/* ------------------------------------------------------------------ statistics, helpers */

void
pass_stat(PassCtx *pc, const char *name, int64_t n)
{
    PassStats *s = pc->stats;
    for (int i = 0; i < s->nstat; i++)
        if (strcmp(s->stat[i].pass, pc->pass) == 0 && strcmp(s->stat[i].name, name) == 0) {
            s->stat[i].value += n;
            return;
        }
    KILN_ASSERT(s->nstat < PASS_MAX_STATS);
    s->stat[s->nstat++] = (PassStat){ pc->pass, name, n };
}

int64_t
pass_stats_get(const PassStats *s, const char *pass, const char *name)
{
    for (int i = 0; s && i < s->nstat; i++)
        if (strcmp(s->stat[i].pass, pass) == 0 && strcmp(s->stat[i].name, name) == 0)
            return s->stat[i].value;
    return 0;
}

void
pass_stats_print(const PassStats *s, FILE *out)
{
    for (int i = 0; s && i < s->nstat; i++)
        fprintf(out, "%s.%s = %lld\n", s->stat[i].pass, s->stat[i].name,
                (long long)s->stat[i].value);
}

int64_t
pass_arg(const PassCtx *pc, const char *key, int64_t def)
{
    for (int i = 0; i < pc->narg; i++)
        if (strcmp(pc->arg[i].key, key) == 0)
            return pc->arg[i].value;
    return def;
}

static int
str_equal(const char *a, const char *b)
{
    return a == b || (a && b && strcmp(a, b) == 0);
}

int
pass_annots_equal(const Node *a, const Node *b)
{
    if (a->nannot != b->nannot)
        return 0;
    for (int i = 0; i < a->nannot; i++) {
        const Annot *x = &a->annot[i], *y = &b->annot[i];
        if (!str_equal(x->name, y->name) || x->narg != y->narg)
            return 0;
        for (int k = 0; k < x->narg; k++)
            if (!str_equal(x->arg[k].key, y->arg[k].key) || x->arg[k].num != y->arg[k].num ||
                !str_equal(x->arg[k].str, y->arg[k].str))
                return 0;
    }
    return 1;
}
