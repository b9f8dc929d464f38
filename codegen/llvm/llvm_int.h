/* codegen/llvm/llvm_int.h — private interface between the LLVM emitter's files: the module
 * builder (llvm_module.c), kernel bodies (llvm_kernels.c, llvm_loops.c), targets and
 * passes (llvm_target.c) and the JIT (llvm_jit.c). */
#ifndef KILN_LLVM_INT_H
#define KILN_LLVM_INT_H

#include <llvm-c/Analysis.h>
#include <llvm-c/Core.h>
#include <llvm-c/DebugInfo.h>
#include <llvm-c/Target.h>
#include <llvm-c/TargetMachine.h>
#include "llvm_emit.h"
#include "loop.h"

/* Everything one module build needs.  All LLVM objects are owned by ctx (or tm). */
typedef struct {
    CgModule       *m;       /* what is emitted (not owned; loop nests go to its arena) */
    Diag           *d;       /* unsupported constructs and internal errors go here */
    LLVMContextRef  ctx;     /* owns every type and value */
    int             own_ctx; /* 1: lx_free disposes ctx (else a JIT's context holds it) */
    LLVMModuleRef   mod;     /* the module being built */
    LLVMBuilderRef  b;       /* one builder, repositioned per function */
    LLVMTargetDataRef td;    /* layout of the target (owned by lx_free) */
    LLVMTypeRef     i1, i8, i32, i64, f32, f64, ptr, voidt;  /* basic types */
    LLVMTypeRef     size;    /* size_t of the target */
    LLVMTypeRef     in_t, out_t;   /* P_inputs, P_outputs */
    LLVMValueRef   *cgv;     /* per CgModule.consts: the weight global (NULL if unused or
                                external) */
    LLVMValueRef   *kfn;     /* per kernel: its function (NULL for CK_NONE / CK_EXIT) */
    LLVMValueRef    run;     /* P_run */
    unsigned        md_op;   /* metadata kind "kiln.op" */
    int             wide;    /* 1: x86-64: kernels prefer 512-bit vectors (AVX-512 CPUs) */
    int             debug;   /* 1: emit DWARF line tables (set before lx_build) */
    LLVMDIBuilderRef dib;    /* debug info builder while lx_build runs with debug */
    LLVMMetadataRef cu;      /* the compile unit */
    /* the P_run being built */
    LLVMValueRef    in, out, arena, opts, weights;   /* its parameters (weights: W or NULL) */
} Lx;

/* llvm_module.c */
/* Creates the module, builder and types for tm's data layout and triple, in ctx (NULL =
 * a new context owned by x).  Never fails. */
void lx_init(Lx *x, CgModule *m, LLVMTargetMachineRef tm, const char *triple,
             LLVMContextRef ctx, Diag *d);
/* Disposes the builder, the module (unless a JIT took it: x->mod = NULL), an owned
 * context and the data layout. */
void lx_free(Lx *x);
/* Builds the whole module: weights, kernel functions, P_run, run_generic, P_info.
 * 0 or -1 (errors in d). */
int  lx_build(Lx *x);
/* Verifies the module; a failure becomes an internal error naming the kernel's op and
 * source location.  0 or -1. */
int  lx_verify(Lx *x);
/* The IR name of value v: its name, else "v<id>". */
const char *lx_vname(const Lx *x, ValueId v, char *buf, size_t len);
LLVMValueRef lx_const_i64(const Lx *x, int64_t v);
LLVMValueRef lx_const_i32(const Lx *x, int v);
/* Declares (once) an external function of the runtime or libm. */
LLVMValueRef lx_extern_fn(Lx *x, const char *name, LLVMTypeRef ret, LLVMTypeRef *params,
                          int nparam);
/* Calls the function f declared by lx_extern_fn (or any function). */
LLVMValueRef lx_call(Lx *x, LLVMValueRef f, LLVMValueRef *args, int nargs, const char *name);
/* Alignment known of operand o's first byte (arena, weights: from 64-byte bases). */
unsigned     lx_align(const CgOperand *o);

/* llvm_kernels.c */
/* Builds the function of kernel k (`n<K>_<op>`, internal, noinline, annotated) from its
 * runtime call and/or k->loop.  NULL for kernels without a function; sets *err on an
 * unsupported construct (reported to x->d). */
LLVMValueRef lx_kernel_fn(Lx *x, const CgKernel *k, int *err);

/* llvm_loops.c — loop nests in LLVM IR */
/* A counted loop: for (iv = lo; iv < hi; iv++).  lx_for_begin leaves the builder in the
 * body; lx_for_end closes it and leaves the builder after the loop. */
typedef struct {
    LLVMValueRef      iv;    /* the induction variable (i64 phi) */
    LLVMBasicBlockRef head, body, exit;   /* blocks of the loop */
    LLVMValueRef      next;  /* iv + 1 */
} LxFor;
void lx_for_begin(Lx *x, LxFor *f, LLVMValueRef lo, LLVMValueRef hi, const char *name);
void lx_for_end(Lx *x, LxFor *f);
/* Emits nest n of kernel k at the builder's position in fn; buf holds the k->nin operand
 * then k->nout result pointers, opts the run options (parallel loops).  Range checks
 * return KILN_ERANGE from fn. */
int  lx_loop_emit(Lx *x, const CgKernel *k, const LoopNest *n, LLVMValueRef fn,
                  LLVMValueRef *buf, LLVMValueRef opts);

/* llvm_debug.c — DWARF line tables, all no-ops unless lx_debug_init ran */
void lx_debug_init(Lx *x, int optimized);   /* DIBuilder, compile unit, module flags */
/* Makes f a subprogram at k's node and its line:col the builder's current location. */
void lx_debug_fn(Lx *x, LLVMValueRef f, const CgKernel *k);
void lx_debug_set(Lx *x, LLVMMetadataRef loc);   /* current location (NULL = none) */
void lx_debug_finish(Lx *x);                /* finalizes and disposes the DIBuilder */

/* llvm_target.c */
/* Target machine for lo (NULL = host, -O2, PIC); NULL with an error in d.  *triple gets
 * the normalised triple (LLVMDisposeMessage it). */
LLVMTargetMachineRef lx_target_machine(const CgLlvmOptions *lo, char **triple, Diag *d);
/* Runs default<ON> on x's module; 0 or -1 (error in d). */
int lx_optimize(Lx *x, LLVMTargetMachineRef tm, int level);

#endif
