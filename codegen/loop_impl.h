/* codegen/loop_impl.h — private interface of the loop-form builders: the nest builder
 * (loop.c) and the per-op loop nests (loop_ops.c). */
#ifndef KILN_LOOP_IMPL_H
#define KILN_LOOP_IMPL_H

#include "loop.h"

enum { ITER_MAXP = 32 };       /* most arrays one Iter indexes */

/* A nest under construction; arrays are malloc'd and copied into the module at the end. */
typedef struct {
    CgModule       *m;         /* module (its arena receives the finished nest) */
    const CgKernel *k;         /* kernel being lowered */
    const Node     *nd;        /* its IR node */
    Diag           *d;         /* unsupported op/dtype pairs are reported here */
    int             err;       /* 1 once something was reported */
    LoopNest        n;         /* the nest; arrays below grow */
    uint32_t        capval;    /* capacity of n.val */
    uint32_t        capstmt;   /* capacity of n.stmt */
    uint32_t        capacc;    /* capacity of n.acc */
    uint32_t        captable;  /* capacity of n.table */
} LB;

/* A rectangular iteration space indexing `np` arrays as base + sum(i_d * st[p][d]); it is
 * simplified (size-1 loops dropped, contiguous loops merged) before its loops open. */
typedef struct {
    int     rank;                          /* loops, outermost first */
    int64_t dims[KILN_MAX_RANK];           /* trip counts */
    int     np;                            /* arrays indexed */
    int64_t base[ITER_MAXP];               /* element offset of each array */
    int64_t st[ITER_MAXP][KILN_MAX_RANK];  /* element stride of each array per loop */
    int     loop[KILN_MAX_RANK];           /* after iter_open: the LS_FOR of each dim */
    LpVal   var[KILN_MAX_RANK];            /* after iter_open: its loop variable */
} Iter;

/* loop.c */
void  iter_init(Iter *it, int rank, const int64_t *dims);
int   iter_add(Iter *it, int64_t base, const int64_t *st);  /* returns the array number */
void  iter_simplify(Iter *it);
void  iter_open(LB *b, Iter *it);          /* one LS_FOR per remaining dim */
void  iter_close(LB *b, const Iter *it);
LpVal iter_idx(LB *b, const Iter *it, int p);   /* index value of array p */
void  contig_strides(const TensorType *t, int64_t *st);

LpVal lb_const_i(LB *b, LpType t, int64_t v);
LpVal lb_const_f(LB *b, LpType t, double v);
int   lb_for(LB *b, int64_t extent);       /* opens a loop; returns its statement index */
int   lb_if(LB *b, LpVal cond);            /* opens an if; returns its statement index */
void  lb_end(LB *b, int s);                /* closes loop/if s after the last statement */
LpVal lb_var(LB *b, int loop);
LpVal lb_iadd(LB *b, LpVal x, LpVal y);    /* folds 0 operands */
LpVal lb_imul(LB *b, LpVal x, int64_t c);  /* folds 0 and 1 */
LpVal lb_idiv(LB *b, LpVal x, int64_t c);
LpVal lb_load(LB *b, LpBufKind kind, int index, LpVal idx);
/* op(x) or op(x, y) computed in x's type; reports unsupported pairs (returns x then). */
LpVal lb_op(LB *b, Op op, const Attr *at, LpVal x, LpVal y);
LpVal lb_cast(LB *b, LpVal x, LpType to);  /* x itself when already of type `to` */
LpVal lb_select(LB *b, LpVal c, LpVal x, LpVal y);
LpVal lb_qround(LB *b, LpVal r, LpVal zero, LpType to, int64_t lo, int64_t hi);
int   lb_acc_new(LB *b, LpType t);
void  lb_acc_set(LB *b, int acc, LpVal v);
LpVal lb_acc_get(LB *b, int acc);
void  lb_store(LB *b, int out, LpVal idx, LpVal v);
void  lb_check(LB *b, LpVal cond);
int   lb_table(LB *b, LpType t, int64_t n, const void *data);   /* data copied */
LpType lb_type(const LB *b, LpVal v);
/* Converts a float like cast does into a constant of type t (pad fill values). */
LpVal lb_const_cast(LB *b, LpType t, float v);

/* loop_ops.c */
/* Appends k's statements to b: the whole kernel (CK_LOOP) or its epilogue loop (host). */
void  loop_ops_build(LB *b);

#endif
