/* codegen/loop.h — the loop form: the emitter-neutral structure of every loop kiln
 * generates.  Lowering (loop.c, loop_*.c) turns each CK_LOOP kernel, and the epilogue loop
 * after a CK_CALL host kernel, into a LoopNest; the C and LLVM emitters only print it.
 *
 * Changes since the first version (10:45 UTC), all compatible:
 *   11:02  cg_lower now fills CgKernel.loop (codegen.h) with cg_loop_build's result, so
 *          emitters may read k->loop instead of building the nest again.
 *
 * Shape of a LoopNest
 * - Statements (LoopStmt) form a tree stored flat in pre-order: an LS_FOR or LS_IF at
 *   index i has its body in stmt[i+1 .. end); the nest's top level is stmt[0 .. nstmt).
 *   A nest may hold several top-level statements (pad: fill loop then copy loop; concat:
 *   one loop per operand; a host epilogue: one loop).
 * - Scalar values (LoopVal) are SSA entries of val[1 .. nval) (0 = none), each with an
 *   LpType.  Operand ids always point to lower ids.  Two classes:
 *     * index values (LV_CONST, LV_VAR, LV_IADD, LV_IMUL, LV_IDIV): pure, never fail;
 *       an emitter may compute them wherever they are used (C prints them inline);
 *     * every other value is computed by exactly one LS_LET statement, which comes before
 *       (in pre-order) and in a scope enclosing every use.
 *   Index arithmetic is exact int64 (never overflows: all extents are static).
 * - Accumulators (loop-carried scalars: reductions, argmax, inline matmul, softmax max and
 *   sum) are mutable variables acc[0 .. nacc): LS_ACC assigns one, LV_ACC reads its
 *   current value.  The first LS_ACC of an accumulator in pre-order is in the outermost
 *   scope that reads it, so an emitter may declare the variable there (C) or use an
 *   alloca (LLVM, mem2reg cleans up).
 * - Buffers: LB_IN i is the kernel's operand i (CgKernel.in[i]), LB_OUT i its result i,
 *   LB_TABLE i the nest's constant table i.  Indices are in elements from the operand's
 *   own start (its CgBuf offset is already applied by the emitter's pointer).  Loads of
 *   LB_OUT are allowed (epilogues and matmul read back what they stored).
 *
 * Semantics of scalar ops (exactly what the C backend printed before the loop form, which
 * follows ir/interp.c; f32 math is done in f32 except where an LT_F64 value is used):
 * - LV_OP on f32: add sub mul div pow fmod neg abs exp log sqrt erf tanh as C's float
 *   functions (mod never reaches an emitter: loop_ops.c builds it from fmod);
 *   rsqrt 1/sqrtf(x); relu x>0?x:0; leaky_relu x<0 ? a*x : x (a = attr.scalar.a);
 *   relu6 x<0?0:x>6?6:x; clip x<lo?lo:x>hi?hi:x (attr.scalar a, b); sigmoid
 *   1/(1+expf(-x)); silu x/(1+expf(-x)); hardswish x*relu6(x+3)/6; gelu erf form
 *   0.5*x*(1+erff(x/1.41421356237309515)), tanh form (attr.gelu.tanh_approx)
 *   0.5*x*(1+tanhf(0.7978845608028654*(x+0.044715*x*x*x))); equal less greater give
 *   LT_BOOL; floor ceil sin cos tan asin acos atan sinh cosh asinh acosh atanh as C's
 *   float functions; round is round-half-to-even (nearbyintf under the default rounding
 *   mode, LLVM's roundeven).
 * - LV_OP on LT_F64: add sub mul div exp log (C's double functions).
 * - LV_OP on integers (i32 i64 i8 u8 bool): add sub mul neg abs wrap modulo 2^bits;
 *   div truncates toward zero and x / -1 wraps (the lowering excludes a zero divisor: an
 *   LS_CHECK before it, or mod's select of 1 for 0); relu, relu6 clamp; equal less
 *   greater give LT_BOOL.
 *   No other op reaches integers (lowering reports it as unsupported; integer pow, mod
 *   and fmod are built from these ops, pow with a loop over the exponent's bits).
 * - LV_CAST (to the value's type): f32/f64 -> int truncates toward zero, clamped to the
 *   target range, NaN -> 0; int -> int wraps modulo 2^bits; -> bool is x != 0; int ->
 *   f32/f64 and f32 <-> f64 are C conversions.
 * - LV_SELECT: a != 0 ? b : c (b, c and the result share one type).
 * - LV_QROUND (quantize's rounding, result type i8 or u8): with r = a (f32) and z = b (i32):
 *   q = isnan(r) ? z : nearbyintf(r) + z (computed in double), then clamped to [lo, hi].
 *
 * Parallel loops: LS_FOR.par = 1 marks a top-level loop whose iterations are independent
 * and big enough to split across threads (kiln_parallel_for over [0, extent)).  It is
 * only set on nests without LS_CHECK.  An emitter may ignore it and run the loop serially.
 */
#ifndef KILN_LOOP_H
#define KILN_LOOP_H

#include <stdint.h>
#include "codegen.h"

/* Scalar types: a DType, or LT_F64 for double accumulators.  Bool values are 0 or 1 and
 * stored as one byte, as DT_BOOL. */
typedef int LpType;
enum { LT_F64 = DT_COUNT };    /* a double: sums, softmax denominators, dot products */

typedef uint32_t LpVal;        /* index into LoopNest.val; 0 = none */

typedef enum {
    LB_NONE = 0,
    LB_IN,                     /* kernel operand `index` (CgKernel.in[index]) */
    LB_OUT,                    /* kernel result `index` (CgKernel.out[index]) */
    LB_TABLE,                  /* LoopNest.table[index] (read only) */
    LB_COUNT
} LpBufKind;

typedef struct {
    LpBufKind kind;            /* which buffer */
    int       index;           /* operand, result or table number */
} LpBuf;

typedef enum {
    LV_NONE = 0,               /* unused slot 0 */
    /* index values: pure, int64 (type DT_I64) unless noted */
    LV_CONST,                  /* constant of any type: i (integers, bool) or f (f32, f64) */
    LV_VAR,                    /* the loop variable of statement `loop` (an LS_FOR) */
    LV_IADD,                   /* a + b */
    LV_IMUL,                   /* a * b */
    LV_IDIV,                   /* a / b, b an LV_CONST > 0, a >= 0 */
    /* computed by an LS_LET */
    LV_LOAD,                   /* buf[a]: a is an index value (may use LET'd integers) */
    LV_OP,                     /* op(a) or op(a, b) with attr, operands of type `in` */
    LV_CAST,                   /* a converted to `type` (rules above) */
    LV_SELECT,                 /* a ? b : c */
    LV_QROUND,                 /* quantize rounding of a with zero point b to [lo, hi] */
    LV_ACC,                    /* current value of accumulator `acc` */
    LV_COUNT
} LpValKind;

typedef struct {
    LpValKind kind;            /* what it computes */
    LpType    type;            /* result type */
    LpVal     a, b, c;         /* operands (0 = none) */
    int64_t   i;               /* LV_CONST: integer or bool value */
    double    f;               /* LV_CONST: f32 (exactly representable) or f64 value */
    int       loop;            /* LV_VAR: statement index of its LS_FOR */
    LpBuf     buf;             /* LV_LOAD: the buffer read */
    Op        op;              /* LV_OP: an F_ELTWISE IR op */
    Attr      attr;            /* LV_OP: its attribute (leaky_relu, clip, gelu) */
    LpType    in;              /* LV_OP: operand type (a and b have it) */
    int       acc;             /* LV_ACC: accumulator number */
    int64_t   lo, hi;          /* LV_QROUND: clamp range */
} LoopVal;

typedef enum {
    LS_NONE = 0,
    LS_FOR,                    /* for var in [0, extent): body stmt[i+1 .. end) */
    LS_IF,                     /* if (cond != 0): body stmt[i+1 .. end) */
    LS_LET,                    /* compute val here (every non-index value has one LET) */
    LS_ACC,                    /* acc[acc] = val */
    LS_STORE,                  /* buf[idx] = val (val's type is the buffer's dtype) */
    LS_CHECK,                  /* if (cond != 0) the kernel returns KILN_ERANGE */
    LS_COUNT
} LpStmtKind;

typedef struct {
    LpStmtKind kind;           /* what it does */
    int        end;            /* LS_FOR, LS_IF: one past the last body statement */
    int64_t    extent;         /* LS_FOR: trip count, >= 0 (0 over an empty operand) */
    int        par;            /* LS_FOR: 1 = may run through kiln_parallel_for */
    int        unit;           /* LS_FOR: 1 = innermost loop whose every load/store index
                                  moves by 0 or 1 element per trip (vectorises as is) */
    LpVal      val;            /* LS_LET, LS_ACC, LS_STORE: the value */
    LpVal      cond;           /* LS_IF, LS_CHECK: the condition (bool or integer) */
    LpVal      idx;            /* LS_STORE: element index (an index value) */
    LpBuf      buf;            /* LS_STORE: LB_OUT buffer written */
    int        acc;            /* LS_ACC: accumulator number */
} LoopStmt;

typedef struct {
    LpType      type;          /* DT_F32 (float data) or DT_I32 (int32_t data) */
    int64_t     n;             /* entries */
    const void *data;          /* module-owned */
} LoopTable;

typedef struct LoopNest {
    int        nstmt;          /* statements, pre-order */
    LoopStmt  *stmt;           /* module-owned */
    uint32_t   nval;           /* values incl. the unused slot 0 */
    LoopVal   *val;            /* module-owned */
    int        nacc;           /* accumulators */
    LpType    *acc;            /* type of each accumulator; module-owned */
    int        ntable;         /* constant tables (quantization scales and zero points) */
    LoopTable *table;          /* module-owned */
    int        may_fail;       /* 1: contains an LS_CHECK (never run in parallel) */
} LoopNest;

/* loop.c */
/* Builds the loop form of kernel k of module m, allocated in m->arena: for CK_LOOP the
 * whole kernel, for a CK_CALL host with a fused epilogue (Node.nepi > 0) the epilogue loop
 * run after the call, else NULL (nothing to loop).  On an op/dtype pair no emitter
 * handles, reports "<op> on <dtype> is not supported by the C backend" at the node's
 * location to d and sets *err = 1.  cg_lower calls it for every kernel and stores the
 * result in CgKernel.loop, so emitters normally just read that field. */
LoopNest *cg_loop_build(CgModule *m, const CgKernel *k, Diag *d, int *err);
/* Writes a readable dump of the nest (tests, debugging): one statement per line. */
void      cg_loop_print(const LoopNest *n, FILE *out);
/* Type name for dumps and messages: "f32" ... "f64". */
const char *cg_loop_type_name(LpType t);

#endif
