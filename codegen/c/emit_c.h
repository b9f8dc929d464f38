/* codegen/c/emit_c.h — private interface between the C emitter's files: the module
 * writer (emit_c.c), the kernel functions (emit_c_kernels.c) and the printer of the loop
 * form (emit_c_loops.c). */
#ifndef KILN_EMIT_C_H
#define KILN_EMIT_C_H

#include <stdio.h>
#include "codegen.h"
#include "loop.h"

typedef struct {
    FILE           *out;     /* the .c being written */
    const CgModule *m;       /* what is emitted */
    Diag           *d;       /* unsupported constructs are reported here */
} Emit;

/* emit_c_loops.c */
void ec_indent(Emit *e, int n);
const char *ec_float(float f, char *buf, size_t len);       /* exact C literal of f */
const char *ec_type(LpType t);     /* C type of a loop-form scalar ("double" for LT_F64) */
/* Task functions (struct n<K>_args<S>, n<K>_task<S>) of n's parallel loops, written
 * before k's function. */
void ec_loop_tasks(Emit *e, const CgKernel *k, const LoopNest *n);
/* n's statements inside k's function (parallel loops become kiln_parallel_for calls). */
void ec_loop_body(Emit *e, const CgKernel *k, const LoopNest *n);

/* emit_c_kernels.c */
/* Writes `static int n<K>_<op>(...)` for k; -1 with a located error if unsupported. */
int  ec_kernel_fn(Emit *e, const CgKernel *k);
/* Writes the parenthesised parameter list of k's function: x<i>, y<i>, s, opts. */
void ec_kernel_params(Emit *e, const CgKernel *k);

#endif
