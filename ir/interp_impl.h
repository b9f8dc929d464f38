/* ir/interp_impl.h — private to ir/: helpers shared by the shape rules (infer.c) and the
 * reference interpreter (interp.c, interp_ops.c, interp_nn.c).  Not a layer header. */
#ifndef KILN_INTERP_IMPL_H
#define KILN_INTERP_IMPL_H

#include "ir.h"

/* infer.c */
/* Operands the op itself reads: fuse appends epilogue operands after them, so a node's
 * first nbase operands are the op's own (conv2d's optional bias included) and the rest are
 * read only by epilogue steps.  nbase = the smallest binary-step arg, clamped to the op's
 * operand range. */
int ir_node_nbase(const Node *nd);

/* interp.c — the evaluation of one node */
typedef struct {
    const Graph     *g;      /* the graph the node belongs to */
    const Node      *nd;     /* the node being evaluated */
    const IrTensor  *in;     /* nd->nin operands, types equal to the operand values' */
    IrTensor        *out;    /* nd->nout results: types set, data malloc'd and zeroed */
    Diag            *d;      /* where run-time errors go (int div by zero, bad index) */
} Eval;

/* "gather" or "gather 'name'" for run-time messages */
const char *interp_label(const Eval *e, char *buf, size_t len);
/* Element i of t as a double / an int64 (any dtype; bool is 0 or 1; no dequantization). */
double  interp_getf(const IrTensor *t, int64_t i);
int64_t interp_geti(const IrTensor *t, int64_t i);
/* Stores v as element i of t: f32 rounds; ints truncate toward zero and clamp to the
 * type's range (NaN gives 0); bool is v != 0. */
void    interp_setf(IrTensor *t, int64_t i, double v);
/* Stores v as element i of t: ints wrap modulo 2^bits; f32 converts; bool is v != 0. */
void    interp_seti(IrTensor *t, int64_t i, int64_t v);
/* Numel of a (valid, shape-inferred) type. */
int64_t interp_numel(const TensorType *t);
/* Row-major strides of t aligned to the rank of `to` (numpy broadcasting): 0 on
 * broadcast and missing leading dims. */
void    interp_bstrides(const TensorType *t, const TensorType *to, int64_t *st);
/* Offset into a tensor with strides st (from interp_bstrides) of element i of shape to. */
int64_t interp_boff(int64_t i, const TensorType *to, const int64_t *st);
/* Index of the scale / zero point that element i of quantized type t uses. */
int64_t interp_qindex(const TensorType *t, const QuantParams *q, int64_t i);
/* All of t as doubles, dequantized when t has quant params; malloc'd, NULL (with an
 * error in e->d) when out of memory. */
double *interp_load(const Eval *e, const IrTensor *t);

/* interp_ops.c — elementwise, comparison, selection, data movement, reductions, cast */
double interp_unary_f(Op op, const Attr *a, double x);
double interp_binary_f(Op op, double x, double y);
int64_t interp_unary_i(Op op, int64_t x);  /* neg, abs: wrapping */
/* Integer binary op; -1 (error reported) on division by zero. */
int    interp_binary_i(const Eval *e, Op op, int64_t x, int64_t y, int64_t *r);
int    interp_eltwise(Eval *e);
int    interp_where(Eval *e);
int    interp_move(Eval *e);              /* reshape flatten transpose concat split slice
                                             pad gather */
int    interp_reduce(Eval *e);            /* reduce_*, argmax */
int    interp_cast(Eval *e);

/* interp_nn.c — matmul, conv, pools, normalisations, quantization */
int interp_matmul(Eval *e);
int interp_conv2d(Eval *e);
int interp_pool(Eval *e);                 /* maxpool, avgpool, global_avgpool */
int interp_softmax(Eval *e);              /* softmax, log_softmax */
int interp_norm(Eval *e);                 /* layernorm, rmsnorm, batchnorm */
int interp_quantize(Eval *e);
int interp_dequantize(Eval *e);

#endif
