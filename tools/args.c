/* tools/args.c — hand-written command-line parsing for every kiln command.
 * One table describes each option (spelling, value, help line); a command lists the options
 * it accepts, and its --help is generated from the same table so the two never drift. */
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include "passes.h"
#include "tools.h"

/* How one option is spelled and described. */
typedef struct {
    const char *lng;         /* long name with dashes ("--emit"); NULL = short only */
    char        shrt;        /* short letter ('o'); 0 = none */
    const char *metavar;     /* value placeholder; NULL = a flag without value */
    const char *display;     /* left column of --help */
    const char *help;        /* right column of --help */
} OptSpec;

static const OptSpec spec[OPT_COUNT] = {
    [OPT_HELP]         = { "--help", 'h', NULL, "-h, --help",
                           "show this help and exit" },
    [OPT_OUT]          = { NULL, 'o', "PATH", "-o PATH",
                           "output file (compile, opt) or folder (run)" },
    [OPT_EMIT]         = { "--emit", 0, "KIND", "--emit=KIND",
                           "c (default; obj when -o ends in .o), obj, asm, llvm, ir or dot" },
    [OPT_OLEVEL]       = { NULL, 'O', NULL, "-O0 .. -O3",
                           "optimisation level (default -O2)" },
    [OPT_PASSES]       = { "--passes", 0, "PIPELINE", "--passes=PIPELINE",
                           "run this pipeline instead of the -O level's (shape-infer,fold,..)" },
    [OPT_NAME]         = { "--name", 0, "PREFIX", "--name=PREFIX",
                           "symbol prefix of the generated API (default: model name)" },
    [OPT_WEIGHTS]      = { "--weights", 0, "MODE", "--weights=embed|external",
                           "weights inside the .c (default) or in a .bin beside it" },
    [OPT_STATS]        = { "--stats", 0, NULL, "--stats",
                           "print node counts, peak arena, pass statistics, time" },
    [OPT_MAX_ARENA]    = { "--max-arena", 0, "BYTES", "--max-arena=BYTES",
                           "fail if the activation arena needs more (suffixes k, m, g)" },
    [OPT_PRINT_AFTER]  = { "--print-ir-after", 0, "PASS", "--print-ir-after=PASS|all",
                           "dump the IR after a pass" },
    [OPT_PRINT_BEFORE] = { "--print-ir-before", 0, "PASS", "--print-ir-before=PASS|all",
                           "dump the IR before a pass" },
    [OPT_PRINT_CHANGE] = { "--print-ir-after-change", 0, NULL, "--print-ir-after-change",
                           "dump the IR after every pass that changed it" },
    [OPT_VERIFY_EACH]  = { "--verify-each", 0, NULL, "--verify-each",
                           "run the IR verifier after every pass" },
    [OPT_TIME_PASSES]  = { "--time-passes", 0, NULL, "--time-passes",
                           "report the time spent in each pass" },
    [OPT_LIST_PASSES]  = { "--list-passes", 0, NULL, "--list-passes",
                           "list the available passes and pipelines, then exit" },
    [OPT_INPUT]        = { "--input", 0, "NAME=FILE", "--input NAME=FILE.npy",
                           "value of input NAME (repeatable); others are seeded random" },
    [OPT_BACKEND]      = { "--backend", 0, "NAME", "--backend=interp|c|llvm",
                           "reference interpreter (default), compiled C or LLVM JIT" },
    [OPT_SEED]         = { "--seed", 0, "N", "--seed N",
                           "seed of the random inputs (default 0)" },
    [OPT_COMPARE]      = { "--compare", 0, "REF", "--compare=interp",
                           "also run the interpreter, compare every output (exit 1 if not)" },
    [OPT_THREADS]      = { "--threads", 0, "N", "--threads N",
                           "threads of the run (C backend: a kiln_pool of N threads; interp: 1)" },
    [OPT_TARGET]       = { "--target", 0, "TRIPLE", "--target=TRIPLE",
                           "LLVM target triple (default: the host), e.g. aarch64-linux-gnu" },
    [OPT_MCPU]         = { "-mcpu", 0, "CPU", "-mcpu=CPU",
                           "LLVM target CPU (default: the host's, generic for --target)" },
    [OPT_MATTR]        = { "-mattr", 0, "FEATURES", "-mattr=FEATURES",
                           "LLVM target features, e.g. +avx2,-fma (default: the host's)" },
    [OPT_RELOC]        = { "--reloc", 0, "MODEL", "--reloc=pic|static",
                           "relocation model of LLVM objects (default pic)" },
    [OPT_DEBUG]        = { NULL, 'g', NULL, "-g",
                           "LLVM objects: DWARF line tables mapping code to model lines" },
    [OPT_SHAPE]        = { "--shape", 0, "NAME=DIMS", "--shape NAME=DIMS",
                           "fix a .onnx input's shape: input=1x3x224x224 (repeatable)" },
};

int
cli_usage_error(const Command *c, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("kiln: ", stderr);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    if (c)
        fprintf(stderr, " (see 'kiln %s --help')\n", c->name);
    else
        fputs(" (see 'kiln --help')\n", stderr);
    return EXIT_USAGE;
}

void
cli_command_help(const Command *c, FILE *out)
{
    fprintf(out, "usage: kiln %s %s\n\n%s\n", c->name, c->usage, c->summary);
    if (c->details)
        fprintf(out, "\n%s\n", c->details);
    fputs("\noptions:\n", out);
    for (const OptId *o = c->opts; *o != OPT_NONE; o++)
        fprintf(out, "  %-28s %s\n", spec[*o].display, spec[*o].help);
}

/* Parses a non-negative integer with an optional k/m/g (x1024) suffix. */
static int
parse_size(const char *s, int64_t *out)
{
    char *end;
    errno = 0;
    if (*s < '0' || *s > '9')
        return -1;
    unsigned long long v = strtoull(s, &end, 10);
    unsigned long long mul = 1;
    if (*end == 'k' || *end == 'K')
        mul = 1ull << 10;
    else if (*end == 'm' || *end == 'M')
        mul = 1ull << 20;
    else if (*end == 'g' || *end == 'G')
        mul = 1ull << 30;
    if (mul != 1)
        end++;
    if (errno || *end || v > (unsigned long long)INT64_MAX / mul)
        return -1;
    *out = (int64_t)(v * mul);
    return 0;
}

static int
add_input(const Command *c, CliArgs *a, const char *v)
{
    const char *eq = strchr(v, '=');
    if (!eq || eq == v || !eq[1])
        return cli_usage_error(c, "--input: expected NAME=FILE.npy, got '%s'", v);
    InputArg *grown = realloc(a->input, (size_t)(a->ninput + 1) * sizeof *grown);
    char *name = malloc((size_t)(eq - v) + 1);
    if (!grown || !name) {
        free(name);
        a->input = grown ? grown : a->input;
        return cli_usage_error(c, "out of memory");
    }
    a->input = grown;
    memcpy(name, v, (size_t)(eq - v));
    name[eq - v] = 0;
    for (int i = 0; i < a->ninput; i++)
        if (strcmp(a->input[i].name, name) == 0) {
            free(name);
            return cli_usage_error(c, "--input: input '%.*s' given twice", (int)(eq - v), v);
        }
    a->input[a->ninput++] = (InputArg){ name, eq + 1 };
    return 0;
}

/* Appends one --shape NAME=DIMS, parsed by the ONNX importer's own rules. */
static int
add_shape(const Command *c, CliArgs *a, const char *v)
{
    OnnxShapeFix fix;
    char err[256];
    if (onnx_parse_shape_fix(v, &fix, err, sizeof err) != 0)
        return cli_usage_error(c, "%s", err);
    size_t n = strcspn(v, "=");
    for (int i = 0; i < a->nshape; i++)
        if (strncmp(a->shape[i].name, v, n) == 0 && a->shape[i].name[n] == '=')
            return cli_usage_error(c, "--shape: input '%.*s' given twice", (int)n, v);
    OnnxShapeFix *grown = realloc(a->shape, (size_t)(a->nshape + 1) * sizeof *grown);
    if (!grown)
        return cli_usage_error(c, "out of memory");
    a->shape = grown;
    a->shape[a->nshape++] = fix;
    return 0;
}

static int
parse_count(const Command *c, const char *opt, const char *v, int64_t lo, int64_t hi,
            int64_t *out)
{
    if (parse_size(v, out) != 0 || strpbrk(v, "kKmMgG") || *out < lo || *out > hi)
        return cli_usage_error(c, "%s: expected an integer in [%lld, %lld], got '%s'", opt,
                               (long long)lo, (long long)hi, v);
    return 0;
}

/* 0 if v is one of ok[] (NULL-terminated), else a usage error listing them. */
static int
one_of(const Command *c, const char *opt, const char *v, const char *const *ok)
{
    char list[128] = "";
    for (int i = 0; ok[i]; i++) {
        if (strcmp(v, ok[i]) == 0)
            return 0;
        size_t n = strlen(list);
        snprintf(list + n, sizeof list - n, "%s%s", i == 0 ? "" : ok[i + 1] ? ", " : " or ",
                 ok[i]);
    }
    return cli_usage_error(c, "%s: expected %s, got '%s'", opt, list, v);
}

/* 1 if s is a C identifier: [A-Za-z_][A-Za-z0-9_]*. */
static int
is_ident(const char *s)
{
    if (!isalpha((unsigned char)*s) && *s != '_')
        return 0;
    while (*++s)
        if (!isalnum((unsigned char)*s) && *s != '_')
            return 0;
    return 1;
}

/* A pipeline or pass-name check that failed (rc != 0) is a usage error: prints the message
 * of d and returns 1.  d is freed either way. */
static int
check_pass_words(const Command *c, int rc, Diag *d)
{
    if (rc != 0)
        cli_usage_error(c, "%s", d->nmsg ? d->msg[0].msg : "bad pass name");
    diag_free(d);
    return rc != 0;
}

/* Stores option id with value v (NULL for flags) into a. */
static int
apply(const Command *c, CliArgs *a, OptId id, const char *v)
{
    static const char *const weights[] = { "embed", "external", NULL };
    static const char *const backends[] = { "interp", "c", "llvm", NULL };
    static const char *const relocs[] = { "pic", "static", NULL };
    static const char *const refs[] = { "interp", NULL };
    int64_t n;
    Diag d;
    diag_init(&d);
    switch (id) {
    case OPT_OUT:
        if (!*v)
            return cli_usage_error(c, "-o: expected a path, got ''");
        a->out = v;
        return 0;
    case OPT_EMIT:         a->emit = v; return 0;
    case OPT_PASSES:
        if (check_pass_words(c, pass_pipeline_check(v, &d), &d))
            return EXIT_USAGE;
        a->passes = v;
        return 0;
    case OPT_NAME:
        if (!is_ident(v))
            return cli_usage_error(c, "--name: expected a C identifier, got '%s'", v);
        a->prefix = v;
        return 0;
    case OPT_STATS:        a->stats = 1; return 0;
    case OPT_PRINT_AFTER:
        if (check_pass_words(c, pass_print_option_check(v, "--print-ir-after", &d), &d))
            return EXIT_USAGE;
        a->print_after = v;
        return 0;
    case OPT_PRINT_BEFORE:
        if (check_pass_words(c, pass_print_option_check(v, "--print-ir-before", &d), &d))
            return EXIT_USAGE;
        a->print_before = v;
        return 0;
    case OPT_PRINT_CHANGE: a->print_change = 1; return 0;
    case OPT_VERIFY_EACH:  a->verify_each = 1; return 0;
    case OPT_TIME_PASSES:  a->time_passes = 1; return 0;
    case OPT_LIST_PASSES:  a->list_passes = 1; return 0;
    case OPT_INPUT:        return add_input(c, a, v);
    case OPT_SHAPE:        return add_shape(c, a, v);
    case OPT_WEIGHTS:
        if (one_of(c, "--weights", v, weights))
            return EXIT_USAGE;
        a->weights_external = strcmp(v, "external") == 0;
        return 0;
    case OPT_BACKEND:
        if (one_of(c, "--backend", v, backends))
            return EXIT_USAGE;
        a->backend = v;
        return 0;
    case OPT_COMPARE:
        if (one_of(c, "--compare", v, refs))
            return EXIT_USAGE;
        a->compare = v;
        return 0;
    case OPT_MAX_ARENA:
        if (parse_size(v, &a->max_arena) != 0 || a->max_arena == 0)
            return cli_usage_error(c, "--max-arena: expected a positive byte count, got '%s'", v);
        return 0;
    case OPT_SEED:
        if (parse_count(c, "--seed", v, 0, INT64_MAX, &n))
            return EXIT_USAGE;
        a->seed = (uint64_t)n;
        return 0;
    case OPT_THREADS:
        if (parse_count(c, "--threads", v, 1, 256, &n))
            return EXIT_USAGE;
        a->threads = (int)n;
        return 0;
    case OPT_TARGET:       a->target = v; return 0;
    case OPT_MCPU:         a->mcpu = v; return 0;
    case OPT_MATTR:        a->mattr = v; return 0;
    case OPT_RELOC:
        if (one_of(c, "--reloc", v, relocs))
            return EXIT_USAGE;
        a->reloc_static = strcmp(v, "static") == 0;
        return 0;
    case OPT_DEBUG:        a->debug = 1; return 0;
    default:
        return cli_usage_error(c, "internal: unhandled option %d", (int)id);
    }
}

/* The accepted option spelled `name` ("--emit" or a one-letter short name). */
static OptId
find_long(const Command *c, const char *name, size_t len)
{
    for (const OptId *o = c->opts; *o != OPT_NONE; o++)
        if (spec[*o].lng && strlen(spec[*o].lng) == len && strncmp(spec[*o].lng, name, len) == 0)
            return *o;
    return OPT_NONE;
}

static OptId
find_short(const Command *c, char ch)
{
    for (const OptId *o = c->opts; *o != OPT_NONE; o++)
        if (spec[*o].shrt == ch)
            return *o;
    return OPT_NONE;
}

/* Handles argv[*i], a long option; may consume argv[*i + 1] as its value. */
static int
parse_long(const Command *c, int argc, char **argv, int *i, CliArgs *a)
{
    const char *arg = argv[*i];
    const char *eq = strchr(arg, '=');
    size_t len = eq ? (size_t)(eq - arg) : strlen(arg);
    OptId id = find_long(c, arg, len);
    if (id == OPT_NONE)
        return cli_usage_error(c, "unknown option '%.*s'", (int)len, arg);
    if (id == OPT_HELP)
        return -1;
    if (!spec[id].metavar) {
        if (eq)
            return cli_usage_error(c, "option '%.*s' takes no value", (int)len, arg);
        return apply(c, a, id, NULL);
    }
    if (eq)
        return apply(c, a, id, eq + 1);
    if (*i + 1 >= argc)
        return cli_usage_error(c, "option '%s' needs a value (%s)", arg, spec[id].metavar);
    return apply(c, a, id, argv[++*i]);
}

/* Handles argv[*i], a short option (-o PATH, -oPATH, -O2, -h). */
static int
parse_short(const Command *c, int argc, char **argv, int *i, CliArgs *a)
{
    const char *arg = argv[*i];
    OptId id = find_short(c, arg[1]);
    if (id == OPT_NONE)
        return cli_usage_error(c, "unknown option '%s'", arg);
    if (id == OPT_HELP)
        return arg[2] ? cli_usage_error(c, "unknown option '%s'", arg) : -1;
    if (id == OPT_OLEVEL) {
        if (arg[2] < '0' || arg[2] > '3' || arg[3])
            return cli_usage_error(c, "expected -O0, -O1, -O2 or -O3, got '%s'", arg);
        a->olevel = arg[2] - '0';
        return 0;
    }
    if (!spec[id].metavar)     /* a one-letter flag: -g */
        return arg[2] ? cli_usage_error(c, "unknown option '%s'", arg) : apply(c, a, id, NULL);
    if (arg[2])
        return apply(c, a, id, arg + 2);
    if (*i + 1 >= argc)
        return cli_usage_error(c, "option '%s' needs a value (%s)", arg, spec[id].metavar);
    return apply(c, a, id, argv[++*i]);
}

int
cli_args_parse(const Command *c, int argc, char **argv, CliArgs *a)
{
    memset(a, 0, sizeof *a);
    a->olevel = -1;
    a->backend = "interp";
    a->threads = 1;
    int only_positional = 0;
    for (int i = 0; i < argc; i++) {
        const char *arg = argv[i];
        int st = 0;
        if (!only_positional && strcmp(arg, "--") == 0)
            only_positional = 1;
        else if (!only_positional && arg[0] == '-' && arg[1] == '-')
            st = parse_long(c, argc, argv, &i, a);
        else if (!only_positional && strncmp(arg, "-m", 2) == 0)
            st = parse_long(c, argc, argv, &i, a);     /* -mcpu=, -mattr= (LLVM style) */
        else if (!only_positional && arg[0] == '-' && arg[1])
            st = parse_short(c, argc, argv, &i, a);
        else if (a->model)
            st = cli_usage_error(c, "unexpected argument '%s'", arg);
        else
            a->model = arg;
        if (st == -1)
            cli_command_help(c, stdout);
        if (st != 0)
            return st;
    }
    return 0;
}

void
cli_args_free(CliArgs *a)
{
    for (int i = 0; i < a->ninput; i++)
        free((char *)a->input[i].name);
    free(a->input);
    a->input = NULL;
    a->ninput = 0;
    free(a->shape);
    a->shape = NULL;
    a->nshape = 0;
}

_Static_assert(sizeof spec / sizeof spec[0] == OPT_COUNT, "one OptSpec per OptId");
