/* tools/tools.h — private interface of the kiln CLI: parsed arguments, the command table,
 * model loading, the shared pass pipeline step, atomic output files, .npy tensors and
 * output comparison.  Only main() in kiln.c exits; everything else returns a status. */
#ifndef KILN_TOOLS_H
#define KILN_TOOLS_H

#include <stdint.h>
#include <stdio.h>
#include "ir.h"
#include "onnx_import.h"

/* Process exit statuses of every command. */
enum {
    EXIT_OK = 0,             /* success */
    EXIT_MODEL = 1,          /* the model, its weights or its inputs are wrong (diagnosed) */
    EXIT_USAGE = 2           /* bad command line */
};

/* Every option any command accepts.  Descriptions live in args.c's table. */
typedef enum {
    OPT_NONE = 0,            /* terminates a command's option list */
    OPT_HELP,                /* -h, --help */
    OPT_OUT,                 /* -o PATH */
    OPT_EMIT,                /* --emit=KIND */
    OPT_OLEVEL,              /* -O0 .. -O3 */
    OPT_PASSES,              /* --passes=PIPELINE */
    OPT_NAME,                /* --name=PREFIX */
    OPT_WEIGHTS,             /* --weights=embed|external */
    OPT_STATS,               /* --stats */
    OPT_MAX_ARENA,           /* --max-arena=BYTES */
    OPT_PRINT_AFTER,         /* --print-ir-after=PASS|all */
    OPT_PRINT_BEFORE,        /* --print-ir-before=PASS|all */
    OPT_PRINT_CHANGE,        /* --print-ir-after-change */
    OPT_VERIFY_EACH,         /* --verify-each */
    OPT_TIME_PASSES,         /* --time-passes */
    OPT_LIST_PASSES,         /* --list-passes */
    OPT_INPUT,               /* --input NAME=FILE.npy (repeatable) */
    OPT_BACKEND,             /* --backend=interp|c */
    OPT_SEED,                /* --seed N */
    OPT_COMPARE,             /* --compare=interp */
    OPT_THREADS,             /* --threads N */
    OPT_TARGET,              /* --target=TRIPLE (LLVM backend) */
    OPT_MCPU,                /* -mcpu=CPU (LLVM backend) */
    OPT_MATTR,               /* -mattr=FEATURES (LLVM backend) */
    OPT_RELOC,               /* --reloc=pic|static (LLVM backend) */
    OPT_DEBUG,               /* -g (LLVM backend) */
    OPT_SHAPE,               /* --shape NAME=DIMS (repeatable; .onnx models) */
    OPT_COUNT
} OptId;

/* One --input NAME=FILE. */
typedef struct {
    const char *name;        /* graph input name; points into a malloc'd copy of argv */
    const char *path;        /* .npy file */
} InputArg;

/* The parsed command line.  Strings point into argv (or InputArg copies). */
typedef struct {
    const char *model;       /* the one positional argument; NULL if absent */
    const char *out;         /* -o; NULL = command default */
    const char *emit;        /* --emit; NULL = command default */
    int         olevel;      /* 0..3; -1 = not given */
    const char *passes;      /* --passes; NULL = from olevel */
    const char *prefix;      /* --name; NULL = graph name */
    int         weights_external;  /* --weights=external */
    int         stats;       /* --stats */
    int64_t     max_arena;   /* --max-arena in bytes; 0 = no limit */
    const char *print_after; /* --print-ir-after; NULL = none */
    const char *print_before;/* --print-ir-before; NULL = none */
    int         print_change;/* --print-ir-after-change */
    int         verify_each; /* --verify-each */
    int         time_passes; /* --time-passes */
    int         list_passes; /* --list-passes */
    InputArg   *input;       /* --input, in command-line order; malloc-owned */
    int         ninput;
    const char *backend;     /* --backend; "interp" by default */
    uint64_t    seed;        /* --seed; 0 by default */
    const char *compare;     /* --compare; NULL = no comparison */
    int         threads;     /* --threads; 1 by default */
    const char *target;      /* --target; NULL = the host */
    const char *mcpu;        /* -mcpu; NULL = the host CPU (or generic for --target) */
    const char *mattr;       /* -mattr; NULL = the host's features (or none for --target) */
    int         reloc_static;/* --reloc=static; 0 = position-independent code */
    int         debug;       /* -g: DWARF line tables in LLVM objects */
    OnnxShapeFix *shape;     /* --shape, in command-line order; malloc-owned, names point
                                into argv */
    int         nshape;
} CliArgs;

/* A subcommand: its name, help text, accepted options and entry point. */
typedef struct {
    const char  *name;       /* "compile" */
    const char  *usage;      /* argument synopsis after the name: "MODEL [options]" */
    const char  *summary;    /* one line for `kiln --help` */
    const char  *details;    /* extra paragraph for `kiln <command> --help`, or NULL */
    const OptId *opts;       /* accepted options, OPT_NONE-terminated */
    int        (*run)(const CliArgs *a);   /* returns an EXIT_* status */
} Command;

/* kiln.c */
extern const Command cli_commands[];     /* terminated by a NULL name */
const Command *cli_command_find(const char *name);   /* NULL if unknown */

/* cmd_compile.c, cmd_run.c, cmd_dump.c — command entry points, returning EXIT_* */
int cmd_compile(const CliArgs *a);
int cmd_run(const CliArgs *a);
int cmd_dump(const CliArgs *a);
int cmd_opt(const CliArgs *a);
/* cmd_import.c — `kiln import model.onnx -o model.kiln` */
int cmd_import(const CliArgs *a);

/* args.c */
/* Parses argv[0..argc) (after the command name) for c.  Returns 0 when the command should
 * run, -1 after printing help (exit 0), EXIT_USAGE after printing a usage error.  The
 * caller frees a with cli_args_free in every case. */
int  cli_args_parse(const Command *c, int argc, char **argv, CliArgs *a);
void cli_args_free(CliArgs *a);                     /* frees a->input */
void cli_command_help(const Command *c, FILE *out); /* usage, details, option table */
/* "kiln: <msg> (see 'kiln <cmd> --help')" on stderr; returns EXIT_USAGE. */
int  cli_usage_error(const Command *c, const char *fmt, ...);

/* load.c */
/* Reads a .kiln or .kir model by extension into *g and verifies it.  0, or -1 with errors
 * in d; *g may then still hold the invalid graph, whose arena the messages' locations
 * point into: free it (ir_graph_free) only after printing d. */
int    cli_load(const char *path, Graph **g, Diag *d);
/* Sets the --shape fixes cli_load applies to .onnx models (and rejects for other kinds):
 * the CLI's one process-wide setting, made by dispatch before a command runs so every
 * command's cli_load calls see it.  fix must outlive those calls; NULL, 0 = none. */
void   cli_load_set_shapes(const OnnxShapeFix *fix, int nfix);
/* Prints d's messages to stderr; if it holds no error, prints "kiln: error: <what>"
 * instead so a failure is never silent.  Returns EXIT_MODEL. */
int    cli_fail(const Diag *d, const char *what);
/* Rewrites g's relative weight-file paths so they resolve from the folder of out_path
 * (which must exist), for text IR written there.  0 or -1 (errors in d). */
int    cli_rebase_weights(Graph *g, const char *out_path, Diag *d);
/* Number of live nodes in g's schedule. */
int    cli_node_count(const Graph *g);

/* pipeline.c */
/* The pipeline a command runs: --passes if given, else the -O level's (default_level
 * when -O was not given).  Never NULL. */
const char *cli_pipeline_string(const CliArgs *a, int default_level);
/* Runs `pipeline` on g with the dump/verify/timing options of a; IR dumps go to dump.
 * With stats != 0, prints node counts, peak arena, per-pass statistics and the pipeline's
 * time to stderr.
 * 0 or -1 (errors in d). */
int cli_pipeline_run(Graph *g, const char *pipeline, const CliArgs *a, FILE *dump,
                     int stats, Diag *d);

/* outfile.c — all-or-nothing output files */
typedef struct {
    const char *path;        /* final name; the caller's string, which must outlive the
                                OutFile and any Diag it reports to */
    char *tmp;               /* temporary name in the same folder; malloc-owned */
    FILE *f;                 /* open on tmp; NULL once closed */
} OutFile;
/* Creates every missing folder of path's parent (mkdir -p).  0 or -1 (error in d). */
int  out_mkdirs_for(const char *path, Diag *d);
/* Opens a temporary file beside path.  0 or -1 (error in d). */
int  out_open(OutFile *o, const char *path, Diag *d);
/* Closes and renames all n files; on any error removes every one of them (temporary
 * and already renamed) and returns -1 with the error in d. */
int  out_commit(OutFile *o, int n, Diag *d);
/* Closes and removes the temporaries of all n files (unopened ones are skipped). */
void out_abort(OutFile *o, int n);

/* npyio.c — tensors in and out of .npy files, seeded random inputs */
/* 1 when a and b have the same dtype and dims (quantization and sparsity are not part of
 * a .npy file, so they are not compared). */
int  tensor_same_shape(const TensorType *a, const TensorType *b);
/* Reads path into t (data malloc'd).  When want is non-NULL the file's dtype and shape must
 * equal it: "input 'x': expected f32[1,64], got f32[1,32]".  0 or -1 (error in d). */
int  npy_read(const char *path, const char *name, const TensorType *want, IrTensor *t,
              Diag *d);
/* Writes t to path atomically.  0 or -1 (error in d). */
int  npy_write(const char *path, const IrTensor *t, Diag *d);
/* A fresh tensor of type *type with pseudo-random contents from *state (splitmix64):
 * f32 uniform in [-1, 1), integers in [0, 4), bool 0 or 1.  -1 when out of memory. */
int  tensor_random(IrTensor *t, const TensorType *type, uint64_t *state);
/* "name: f32[1,10] = [0.1, 0.2, ...]" with at most `max` leading values. */
void tensor_print(FILE *out, const char *name, const IrTensor *t, int max);

/* compare.c */
#define KILN_CMP_ATOL 1e-5   /* absolute tolerance of f32 comparisons (doc/testing.md) */
#define KILN_CMP_RTOL 1e-4   /* relative tolerance of f32 comparisons (doc/testing.md) */
/* Compares g->noutput outputs of got against ref: f32 within |a-b| <= atol + rtol*|ref|, other
 * dtypes exactly, shapes and exit numbers equal.  Prints one line per output with its max
 * abs error to out.  Returns the number of mismatching outputs (an exit mismatch counts). */
int  cli_compare(const Graph *g, const IrTensor *got, int got_exit, const IrTensor *ref,
                 int ref_exit, FILE *out);

/* cbackend.c — `kiln run --backend=c` */
/* Emits g (shape-inferred, memplanned) as C plus a runner, compiles it with $CC against
 * libkilnrt, runs it on inputs (g->ninput tensors) and reads its outputs back.  All
 * temporary files are removed, also when SIGINT/SIGTERM/SIGHUP arrives meanwhile (kiln
 * then dies of that signal after cleaning up).  0 or -1 (error in d). */
int cli_run_c(Graph *g, const CliArgs *a, const IrTensor *inputs, IrTensor *outputs,
              int *exit_taken, Diag *d);

/* llvmbackend.c — `kiln run --backend=llvm` */
/* JIT-compiles g (shape-inferred, memplanned) in process with the LLVM emitter (-O level
 * of a, default 2; -mcpu/-mattr), runs it on inputs (g->ninput tensors) with a->threads
 * threads and fills outputs (data malloc'd).  0 or -1 (error in d). */
int cli_run_llvm(Graph *g, const CliArgs *a, const IrTensor *inputs, IrTensor *outputs,
                 int *exit_taken, Diag *d);

#endif
