/* tools/kiln.c — the kiln command-line driver: the command table, top-level help and
 * dispatch.  main() is the only place in kiln that exits; commands return EXIT_* codes
 * (0 ok, 1 model error with a located diagnostic, 2 usage error). */
#include <stdlib.h>
#include <string.h>
#include "tools.h"

#define KILN_VERSION "0.1.0"

#define PIPELINE_OPTS OPT_PASSES, OPT_PRINT_AFTER, OPT_PRINT_BEFORE, OPT_PRINT_CHANGE, \
                      OPT_VERIFY_EACH, OPT_TIME_PASSES

static const OptId compile_opts[] = {
    OPT_OUT, OPT_EMIT, OPT_OLEVEL, PIPELINE_OPTS, OPT_NAME, OPT_WEIGHTS, OPT_STATS,
    OPT_MAX_ARENA, OPT_LIST_PASSES, OPT_SHAPE, OPT_TARGET, OPT_MCPU, OPT_MATTR, OPT_RELOC,
    OPT_DEBUG, OPT_HELP, OPT_NONE,
};
static const OptId run_opts[] = {
    OPT_INPUT, OPT_OUT, OPT_BACKEND, OPT_SEED, OPT_OLEVEL, PIPELINE_OPTS, OPT_MAX_ARENA,
    OPT_COMPARE, OPT_THREADS, OPT_SHAPE, OPT_MCPU, OPT_MATTR, OPT_HELP, OPT_NONE,
};
static const OptId dump_opts[] = {
    OPT_OLEVEL, OPT_EMIT, PIPELINE_OPTS, OPT_MAX_ARENA, OPT_SHAPE, OPT_HELP, OPT_NONE,
};
static const OptId import_opts[] = {
    OPT_OUT, OPT_SHAPE, OPT_HELP, OPT_NONE,
};
static const OptId opt_opts[] = {
    OPT_OUT, PIPELINE_OPTS, OPT_MAX_ARENA, OPT_HELP, OPT_NONE,
};

const Command cli_commands[] = {
    { "compile", "MODEL [options]",
      "Compile a .kiln, .kir or .onnx model to C (.c) or an LLVM object (.o), with its .h; or write its IR or graph.",
      "-o out/mlp.c writes out/mlp.c and out/mlp.h (and out/mlp.bin with --weights=external),\n"
      "creating the folder if needed; -o out/ means out/<model name>.c; the default is\n"
      "<model name>.c in the current folder.  With --emit=ir|dot, -o - writes to stdout.\n"
      "Files appear only when everything succeeded.  IR dumps go to stderr.\n"
      "-o out/mlp.o (or --emit=obj) compiles with LLVM instead: out/mlp.o and out/mlp.h,\n"
      "ABI-identical to the C backend's, for the host or --target (with -mcpu, -mattr,\n"
      "--reloc, -g); --emit=asm writes assembly, --emit=llvm LLVM IR (annotated !kiln.op).",
      compile_opts, cmd_compile },
    { "run", "MODEL [options]",
      "Run a model on .npy inputs (others seeded random) and write <output>.npy files.",
      "The default backend is the reference interpreter (after shape-infer, or the pipeline\n"
      "given with -O/--passes); --backend=c compiles the model with $CC (default cc) against\n"
      "libkilnrt and runs it (default -O2); --backend=llvm compiles it in process with the\n"
      "LLVM JIT (no compiler needed).  -o names the output folder (default .).",
      run_opts, cmd_run },
    { "dump", "MODEL [options]",
      "Print a model's IR (or Graphviz with --emit=dot) after the pipeline (default -O2).",
      "IR dumps requested with --print-ir-* go to stdout before the final IR.",
      dump_opts, cmd_dump },
    { "opt", "FILE [options]",
      "Read text IR, run --passes (default: none), write text IR to stdout or -o.",
      "IR dumps requested with --print-ir-* go to stdout before the final IR.",
      opt_opts, cmd_opt },
    { "import", "MODEL.onnx [options]",
      "Convert an ONNX model to the kiln graph language (.kiln) plus a .safetensors file.",
      "-o out/net.kiln writes out/net.kiln and out/net.safetensors (the default is\n"
      "<model name>.kiln in the current folder).  Weights are params named after the ONNX\n"
      "initializers; names are made valid identifiers (doc/onnx.md).  Both files appear\n"
      "only when everything succeeded.",
      import_opts, cmd_import },
    { NULL, NULL, NULL, NULL, NULL, NULL },
};

static void
main_help(FILE *out)
{
    fputs("usage: kiln <command> [options]\n\n"
          "kiln compiles neural-network models written in the kiln graph language (.kiln),\n"
          "kiln text IR (.kir) or ONNX (.onnx) ahead of time into dependency-light C or objects.\n\n"
          "commands:\n", out);
    for (const Command *c = cli_commands; c->name; c++)
        fprintf(out, "  %-9s %s\n", c->name, c->summary);
    fputs("\noptions:\n"
          "  -h, --help     show this help (kiln <command> --help for a command's options)\n"
          "  --version      print the version\n\n"
          "examples:\n"
          "  kiln compile samples/mlp/mlp.kiln -o out/mlp.c\n"
          "  kiln run samples/mlp/mlp.kiln --input x=samples/mlp/digit.npy -o out/\n"
          "  kiln dump samples/cnn/cnn.kiln -O1\n", out);
}

const Command *
cli_command_find(const char *name)
{
    for (const Command *c = cli_commands; c->name; c++)
        if (strcmp(c->name, name) == 0)
            return c;
    return NULL;
}

/* `kiln help [command]` */
static int
help_command(int argc, char **argv)
{
    if (argc < 1) {
        main_help(stdout);
        return EXIT_OK;
    }
    const Command *c = cli_command_find(argv[0]);
    if (!c)
        return cli_usage_error(NULL, "unknown command '%s'", argv[0]);
    cli_command_help(c, stdout);
    return EXIT_OK;
}

static int
dispatch(int argc, char **argv)
{
    if (argc < 2) {
        main_help(stderr);
        return EXIT_USAGE;
    }
    const char *name = argv[1];
    if (strcmp(name, "--help") == 0 || strcmp(name, "-h") == 0) {
        main_help(stdout);
        return EXIT_OK;
    }
    if (strcmp(name, "--version") == 0) {
        printf("kiln %s\n", KILN_VERSION);
        return EXIT_OK;
    }
    if (strcmp(name, "help") == 0)
        return help_command(argc - 2, argv + 2);
    if (name[0] == '-')
        return cli_usage_error(NULL, "unknown option '%s'", name);
    const Command *c = cli_command_find(name);
    if (!c)
        return cli_usage_error(NULL, "unknown command '%s'", name);
    CliArgs a;
    int st = cli_args_parse(c, argc - 2, argv + 2, &a);
    if (st == 0) {
        cli_load_set_shapes(a.shape, a.nshape);
        st = c->run(&a);
        cli_load_set_shapes(NULL, 0);
    } else if (st == -1) {
        st = EXIT_OK;
    }
    cli_args_free(&a);
    return st;
}

int
main(int argc, char **argv)
{
    int st = dispatch(argc, argv);
    if (fflush(stdout) != 0 && st == EXIT_OK) {
        fputs("kiln: error: cannot write to standard output\n", stderr);
        st = EXIT_MODEL;
    }
    exit(st);
}
