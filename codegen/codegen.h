/* codegen/codegen.h — kiln's code generators: the one public header of the codegen layer.
 *
 * A shape-inferred, memplanned Graph is first lowered (lower.c) into a CgModule: one
 * CgKernel per scheduled node with every buffer resolved to (kind, index, byte offset),
 * static shapes, broadcasting strides and scratch placement, and every loop is built once
 * in the loop form (loop.h).  Emitters only print that lowered form: the C emitter (c/emit_c.c) writes one self-contained .c per model, the
 * header writer (header.c) the public .h, the runner (runner.c) a main() driving the
 * model from .npy files.  The future LLVM emitter consumes the same CgModule.
 */
#ifndef KILN_CODEGEN_H
#define KILN_CODEGEN_H

#include <stdio.h>
#include "ir.h"

typedef struct {
    const char *prefix;      /* C prefix of every generated symbol; NULL = graph name */
    int         weights_external; /* 1: weights go to bin_out, read through P_inputs.weights */
    const char *weights_file;     /* name of the .bin the app passes (runner maps it) */
} CgOptions;

/* ------------------------------------------------------------------ lowered form */

typedef enum {
    CG_BUF_NONE = 0,         /* no buffer (unused operand slot) */
    CG_BUF_ARENA,            /* the caller's arena; offset = byte offset in it */
    CG_BUF_INPUT,            /* graph input `index` (caller memory, read only) */
    CG_BUF_OUTPUT,           /* graph output `index` (caller memory) */
    CG_BUF_CONST,            /* constant `index` into CgModule.consts */
    CG_BUF_COUNT
} CgBufKind;

typedef struct {
    CgBufKind kind;          /* where the bytes live */
    int       index;         /* input, output or constant number; 0 for the arena */
    int64_t   offset;        /* bytes from the start of that buffer */
} CgBuf;

/* One operand or result of a kernel as the emitter sees it. */
typedef struct {
    ValueId    value;        /* the IR value (0 for none) */
    CgBuf      buf;          /* its placement */
    TensorType type;         /* dtype and static shape */
    int64_t    numel;        /* elements */
    int64_t    bytes;        /* numel * dtype size */
    /* element strides (C order) of this operand broadcast against result 0's shape,
     * right-aligned numpy style: 0 along broadcast dims; valid for elementwise operands
     * and epilogue operands (bstride[d] for d < result rank) */
    int64_t    bstride[KILN_MAX_RANK];
} CgOperand;

typedef enum {
    CK_NONE = 0,             /* nothing to run: constants, views that alias their operand */
    CK_COPY,                 /* byte copy of operand 0 to result 0 (a view that moved) */
    CK_LOOP,                 /* a specialised loop nest the emitter writes inline */
    CK_CALL,                 /* a libkilnrt kernel (sgemm, conv, pool, softmax, norm) */
    CK_EXIT,                 /* exit_if: copy operands 1.. to the outputs, return */
    CK_COUNT
} CgKernelKind;

/* exit_if: copy `from` into output `to` unless it already lives there */
typedef struct {
    int       to;            /* output number */
    CgOperand from;          /* the operand */
    int       skip;          /* 1: from already is output `to` */
} CgExitCopy;

struct LoopNest;             /* loop.h: the loop form */

typedef struct {
    NodeId       node;       /* the IR node */
    Op           op;         /* its op */
    CgKernelKind kind;       /* how the emitter runs it */
    int          index;      /* position in the schedule (stable kernel name n<index>) */
    int          nin;        /* operands */
    int          nnative;    /* operands of the op itself; in[nnative..] feed the epilogue */
    CgOperand   *in;         /* module-owned */
    int          nout;       /* results */
    CgOperand   *out;        /* module-owned */
    int          alias;      /* 1: some operand's bytes overlap a result: no `restrict` */
    /* conv2d / matmul */
    int64_t      scratch_offset; /* arena byte offset of the im2col scratch, -1 = none */
    int64_t      scratch_bytes;  /* bytes of scratch (kiln_conv2d_scratch_bytes) */
    int          use_blas;   /* matmul: 1 = kiln_sgemm per batch, 0 = inline loops */
    int64_t      m, n, k;    /* matmul: per-batch GEMM sizes (1-D operands give m or n 1) */
    int          batch_rank; /* matmul: result batch dims (result rank minus 2 or less) */
    int64_t      batch_dims[KILN_MAX_RANK];  /* matmul: result batch dims */
    int64_t      a_bstride[KILN_MAX_RANK];   /* matmul: A's matrix stride per batch dim
                                                (elements; 0 = broadcast) */
    int64_t      b_bstride[KILN_MAX_RANK];   /* matmul: B's, likewise */
    /* exit_if */
    int          exit_index; /* ExitAttr.index */
    int          ncopy;      /* exit copies */
    CgExitCopy  *copy;       /* module-owned */
    /* loops (loop.h), shared by the emitters */
    struct LoopNest *loop;   /* CK_LOOP: the whole kernel; CK_CALL with a fused epilogue:
                                the loop run after the call; else NULL; module-owned */
} CgKernel;

typedef struct {
    NodeId      node;        /* the const node */
    const char *sym;         /* C identifier, unique, stable (from the IR value name) */
    TensorType  type;        /* dtype and shape; f32 for the dequantized copy of a quantized
                                constant that a matmul/conv reads (sym ends in _f32) */
    const void *data;        /* bytes (graph- or module-owned) */
    int64_t     bytes;       /* size of data */
    int64_t     file_offset; /* weights_external: 64-aligned offset in the .bin; -1 unused */
    int         used;        /* 1: some kernel or output copy reads it (others are skipped) */
} CgConst;

typedef struct {
    const char *name;        /* C identifier used as the struct member */
    ValueId     value;       /* input value, or the output's main-path value */
    TensorType  type;        /* dtype and shape */
    int64_t     numel, bytes;/* elements, bytes */
} CgPort;

typedef struct {
    Graph      *g;           /* the lowered graph (not owned) */
    Arena      *arena;       /* owns everything below */
    const char *prefix;      /* C prefix P */
    const char *upper;       /* P in upper case, for macros */
    CgOptions   opt;         /* options as given (strings owned by the caller) */
    char        hash[17];    /* FNV-1a 64 of printed IR + options + weights, 16 hex digits */
    int64_t     planned_bytes;  /* memplan's arena size */
    int64_t     arena_bytes; /* planned + exit slots + conv scratch, multiple of 64 */
    int         nkernel;     /* scheduled kernels, in order */
    CgKernel   *kernel;
    int         nconst;      /* constants */
    CgConst    *consts;
    int64_t     weights_bytes;  /* weights_external: size of the .bin */
    int         ninput;      /* graph inputs, API order */
    CgPort     *input;
    int         noutput;     /* graph outputs, API order */
    CgPort     *output;
    int         nfinal;      /* main-path end: copies into outputs not written in place */
    CgExitCopy *final;
} CgModule;

/* lower.c */
/* Lowers g (verified, shape-inferred, memplanned) for the emitters.  Errors (unsupported
 * ops or dtypes, missing plan) go to d at the node's location; returns NULL then.  The
 * module keeps pointers into g: free it before g. */
CgModule *cg_lower(Graph *g, const CgOptions *o, Diag *d);
void      cg_module_free(CgModule *m);
/* Sanitises s into a C identifier (letters, digits, '_'; not starting with a digit). */
char     *cg_ident(Arena *a, const char *s);
const char *cg_ctype(DType t);     /* "float", "int32_t", ...; bool is "uint8_t" */

/* header.c */
/* Writes the public header text of m (structs, macros, prototypes, P_info). */
void cg_header_write(const CgModule *m, FILE *out);

/* emit_c.c */
/* Writes model.c to c_out and model.h to h_out (h_out may be NULL); with weights_external
 * the weights go to bin_out.  The graph must be shape-inferred and memplanned.  Returns 0,
 * or -1 with errors in d (nothing useful written then: callers write to temporaries). */
int cg_c_emit(Graph *g, const CgOptions *o, FILE *c_out, FILE *h_out, FILE *bin_out,
              Diag *d);

/* runner.c */
/* Writes a C file with main(): `runner [--threads=N] OUTDIR in0.npy ...` reads the inputs
 * (P_info order), runs the model (N > 1: on a kiln_pool of N threads), writes
 * OUTDIR/<output name>.npy (the IR's output names) and prints exit_taken=N.  It
 * includes the model's header text itself, so it links against model.c alone. */
int cg_runner_emit(Graph *g, const CgOptions *o, FILE *out, Diag *d);

#endif
