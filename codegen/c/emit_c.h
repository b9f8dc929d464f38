/* codegen/c/emit_c.h — private interface between the C emitter's files: the module
 * writer (emit_c.c) and the per-op kernel bodies (emit_c_kernels.c, emit_c_loops.c). */
#ifndef KILN_EMIT_C_H
#define KILN_EMIT_C_H

#include <stdio.h>
#include "codegen.h"

enum { NEST_MAXP = 32 };     /* most pointers one loop nest indexes */

typedef struct {
    FILE           *out;     /* the .c being written */
    const CgModule *m;       /* what is emitted */
    Diag           *d;       /* unsupported constructs are reported here */
} Emit;

/* A loop nest over `rank` dims, indexing np arrays with base + sum(i_d * st[p][d]). */
typedef struct {
    int     rank;                        /* loops, outermost first */
    int64_t dims[KILN_MAX_RANK];         /* trip counts */
    int     np;                          /* arrays indexed */
    int64_t base[NEST_MAXP];             /* element offset of each array */
    int64_t st[NEST_MAXP][KILN_MAX_RANK];/* element stride of each array per loop */
    char    var;                         /* loop variable letter: i0, i1, ... */
    int     split;                       /* 1: loop 0 runs over [lo, hi) of a parallel task */
} Nest;

/* emit_c_loops.c */
void nest_init(Nest *n, int rank, const int64_t *dims, char var);
int  nest_add(Nest *n, int64_t base, const int64_t *st);   /* returns the array number */
void nest_contig(const TensorType *t, int64_t *st);        /* C-order strides of t */
void nest_simplify(Nest *n);       /* drops size-1 loops, merges contiguous ones */
void nest_open(Emit *e, const Nest *n, int indent);        /* "for (...) {" per loop */
void nest_close(Emit *e, const Nest *n, int indent);
char *nest_idx(const Nest *n, int p, char *buf, size_t len); /* "3 + i0*8 + i1" */
void ec_indent(Emit *e, int n);
const char *ec_float(float f, char *buf, size_t len);       /* exact C literal of f */
/* Statement `T dst = op(a, b);` for one elementwise op in operand type dt; the result
 * type is written to *rt.  -1 for an op/dtype pair the backend does not handle. */
int  ec_elt_stmt(Emit *e, const CgKernel *k, Op op, const Attr *at, DType dt,
                 const char *dst, const char *a, const char *b, DType *rt, int indent);

/* emit_c_kernels.c */
/* Writes `static int n<K>_<op>(...)` for k; -1 with a located error if unsupported. */
int  ec_kernel_fn(Emit *e, const CgKernel *k);
/* Writes the parameter list of k's function (definition when def, else nothing). */
void ec_kernel_params(Emit *e, const CgKernel *k);

#endif
