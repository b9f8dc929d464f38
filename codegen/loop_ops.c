/* codegen/loop_ops.c — the loop nest of every CK_LOOP op and of host epilogues, built once
 * for all emitters.  Numerics are those the C backend always had (loop.h states them).
 *
 * Approach: elementwise kernels and epilogues are one simplified iteration space over
 * result 0 (broadcast operands get stride 0; contiguous loops merge so the inner loop is
 * unit-stride).  Data movement is one copy space per operand/result; reductions an outer
 * space over kept dims around an inner one over reduced dims; inline matmul a batch space
 * around a row-update or dot-product nest.  loop_ops_build holds the one switch on op.
 */
#include <math.h>
#include <string.h>
#include "loop_impl.h"
#include "util.h"

enum { PAR_MIN_ELEMS = 1 << 15 };   /* elementwise loops at least this big run in parallel */

static int64_t
prod(const int64_t *d, int from, int to)
{
    int64_t p = 1;
    for (int i = from; i < to; i++)
        p *= d[i];
    return p;
}

/* ------------------------------------------------------------------ elementwise */

/* fmod and mod of interp.c: on floats fmod is an op and mod adds y to a non-zero remainder
 * whose sign differs from y's (a zero one takes y's sign); on integers the remainder is
 * x - (x / y) y, with y = 0 divided as 1 and giving 0.  Unsigned compares never fix. */
static LpVal
mod_op(LB *b, Op op, LpVal x, LpVal y)
{
    LpType t = lb_type(b, x);
    int flt = t == DT_F32 || t == LT_F64;
    LpVal zero = flt ? lb_const_f(b, t, 0.0) : lb_const_i(b, t, 0), r;
    if (flt) {
        r = lb_op(b, OP_FMOD, NULL, x, y);
    } else {
        LpVal y0 = lb_op(b, OP_EQUAL, NULL, y, zero);
        LpVal ys = lb_select(b, y0, lb_const_i(b, t, 1), y);
        LpVal q = lb_op(b, OP_DIV, NULL, x, ys);    /* x / -1 wraps, so r is 0 then */
        r = lb_select(b, y0, zero, lb_op(b, OP_SUB, NULL, x, lb_op(b, OP_MUL, NULL, q, ys)));
    }
    if (op == OP_FMOD)
        return r;
    LpVal ylt = lb_op(b, OP_LESS, NULL, y, zero), ygt = lb_op(b, OP_GREATER, NULL, y, zero);
    LpVal fix = lb_select(b, lb_op(b, OP_GREATER, NULL, r, zero), ylt,
                          lb_select(b, lb_op(b, OP_LESS, NULL, r, zero), ygt,
                                    lb_const_i(b, DT_BOOL, 0)));
    LpVal m = lb_select(b, fix, lb_op(b, OP_ADD, NULL, r, y), r);
    if (!flt)
        return m;
    LpVal z = lb_select(b, ylt, lb_const_f(b, t, -0.0), zero);
    return lb_select(b, lb_op(b, OP_EQUAL, NULL, r, zero), z, m);
}

/* Integer x^y as interp.c's pow_i: one loop trip per exponent bit (the exponent is below
 * 2^31 or 2^63), squaring as it goes; a negative exponent selects 1, -1 or 0 after. */
static LpVal
ipow_op(LB *b, LpVal x, LpVal y)
{
    LpType t = lb_type(b, x);
    LpVal zero = lb_const_i(b, t, 0), one = lb_const_i(b, t, 1), two = lb_const_i(b, t, 2);
    LpVal neg = lb_op(b, OP_LESS, NULL, y, zero);
    int r = lb_acc_new(b, t), sq = lb_acc_new(b, t), e = lb_acc_new(b, t);
    lb_acc_set(b, r, one);
    lb_acc_set(b, sq, x);
    lb_acc_set(b, e, lb_select(b, neg, zero, y));
    int s = lb_for(b, t == DT_I64 ? 63 : 31);
    LpVal ev = lb_acc_get(b, e), rv = lb_acc_get(b, r), sv = lb_acc_get(b, sq);
    LpVal half = lb_op(b, OP_DIV, NULL, ev, two);
    LpVal odd = lb_op(b, OP_GREATER, NULL, ev, lb_op(b, OP_MUL, NULL, half, two));
    lb_acc_set(b, r, lb_select(b, odd, lb_op(b, OP_MUL, NULL, rv, sv), rv));
    lb_acc_set(b, sq, lb_op(b, OP_MUL, NULL, sv, sv));
    lb_acc_set(b, e, half);
    lb_end(b, s);
    LpVal even = lb_op(b, OP_EQUAL, NULL, y,
                       lb_op(b, OP_MUL, NULL, lb_op(b, OP_DIV, NULL, y, two), two));
    LpVal m1 = lb_const_i(b, t, -1);
    LpVal inv = lb_select(b, lb_op(b, OP_EQUAL, NULL, x, one), one,
                          lb_select(b, lb_op(b, OP_EQUAL, NULL, x, m1),
                                    lb_select(b, even, one, m1), zero));
    return lb_select(b, neg, inv, lb_acc_get(b, r));
}

/* op(x, y) in x's type; an integer division first checks for a zero divisor. */
static LpVal
elt(LB *b, Op op, const Attr *at, LpVal x, LpVal y)
{
    LpType t = lb_type(b, x);
    int flt = t == DT_F32 || t == LT_F64;
    if (y && lb_type(b, y) != t)
        y = lb_cast(b, y, t);
    if (op == OP_DIV && !flt)
        lb_check(b, lb_op(b, OP_EQUAL, NULL, y, lb_const_i(b, t, 0)));
    if (op == OP_MOD || (op == OP_FMOD && !flt))
        return mod_op(b, op, x, y);
    if (op == OP_POW && !flt)
        return ipow_op(b, x, y);
    return lb_op(b, op, at, x, y);
}

static int
epi_uses(const Node *nd, int i)
{
    for (int s = 0; s < nd->nepi; s++)
        if (nd->epi[s].arg == i)
            return 1;
    return 0;
}

/* The node's own elementwise op (F_ELTWISE, where, cast) on the loaded operands. */
static LpVal
elt_head(LB *b, const LpVal *a)
{
    const Node *nd = b->nd;
    if (nd->op == OP_WHERE)
        return lb_select(b, a[0], a[1], lb_cast(b, a[2], lb_type(b, a[1])));
    if (nd->op == OP_CAST)
        return lb_cast(b, a[0], nd->attr.cast.to);
    return elt(b, nd->op, &nd->attr, a[0], (op_flags[nd->op] & F_BINARY) ? a[1] : 0);
}

/* Epilogue steps on acc, each computed in result 0's dtype (the interpreter rounds every
 * step to it). */
static LpVal
epi_steps(LB *b, LpVal acc, const LpVal *a)
{
    const Node *nd = b->nd;
    LpType yt = b->k->out[0].type.dtype;
    for (int s = 0; s < nd->nepi; s++) {
        const EpiStep *ep = &nd->epi[s];
        acc = lb_cast(b, acc, yt);
        LpVal x = ep->arg >= 0 ? lb_cast(b, a[ep->arg], yt) : 0;
        acc = ep->arg >= 0 && ep->swap ? elt(b, ep->op, &ep->attr, x, acc)
                                       : elt(b, ep->op, &ep->attr, acc, x);
    }
    return lb_cast(b, acc, yt);
}

/* Big f32 results run their outer loop in parallel (the original C backend's rule). */
static int
want_par(const LB *b, const Iter *it)
{
    const CgOperand *y = &b->k->out[0];
    return y->type.dtype == DT_F32 && y->numel >= PAR_MIN_ELEMS && it->rank > 0 &&
           it->dims[0] > 1;
}

/* One loop over result 0: the op itself (host = 0) or the epilogue after a host kernel. */
static void
elt_loop(LB *b, int host)
{
    const CgKernel *k = b->k;
    const TensorType *yt = &k->out[0].type;
    int64_t yst[KILN_MAX_RANK];
    int pmap[ITER_MAXP];
    Iter it;
    iter_init(&it, yt->rank, yt->dims);
    contig_strides(yt, yst);
    KILN_ASSERT(k->nin < ITER_MAXP);
    for (int i = 0; i < k->nin; i++)
        pmap[i] = host && !epi_uses(b->nd, i) ? -1 : iter_add(&it, 0, k->in[i].bstride);
    int py = iter_add(&it, 0, yst);
    iter_simplify(&it);
    int first = b->n.nstmt;
    iter_open(b, &it);
    LpVal a[ITER_MAXP] = { 0 };
    for (int i = 0; i < k->nin; i++)
        if (pmap[i] >= 0)
            a[i] = lb_load(b, LB_IN, i, iter_idx(b, &it, pmap[i]));
    LpVal yi = iter_idx(b, &it, py);
    LpVal t = host ? lb_load(b, LB_OUT, 0, yi) : elt_head(b, a);
    lb_store(b, 0, yi, epi_steps(b, t, a));
    iter_close(b, &it);
    if (want_par(b, &it) && !b->n.may_fail)
        b->n.stmt[first].par = 1;
}

/* ------------------------------------------------------------------ data movement */

/* out[ybase + ...] = in[xbase + ...] over dims with the given strides. */
static void
copy_space(LB *b, int rank, const int64_t *dims, int x, int64_t xbase, const int64_t *xst,
           int y, int64_t ybase, const int64_t *yst)
{
    Iter it;
    iter_init(&it, rank, dims);
    int px = iter_add(&it, xbase, xst), py = iter_add(&it, ybase, yst);
    iter_simplify(&it);
    iter_open(b, &it);
    LpVal v = lb_load(b, LB_IN, x, iter_idx(b, &it, px));
    lb_store(b, y, iter_idx(b, &it, py), v);
    iter_close(b, &it);
}

static void
l_transpose(LB *b)
{
    const DimsAttr *p = &b->nd->attr.dims;
    const TensorType *y = &b->k->out[0].type;
    int64_t xs[KILN_MAX_RANK], st[KILN_MAX_RANK], ys[KILN_MAX_RANK];
    contig_strides(&b->k->in[0].type, xs);
    contig_strides(y, ys);
    for (int d = 0; d < y->rank; d++)
        st[d] = xs[p->v[d]];
    copy_space(b, y->rank, y->dims, 0, 0, st, 0, 0, ys);
}

static void
l_concat(LB *b)
{
    const CgKernel *k = b->k;
    int axis = b->nd->attr.axis.axis;
    int64_t ys[KILN_MAX_RANK], off = 0;
    contig_strides(&k->out[0].type, ys);
    for (int i = 0; i < k->nnative; i++) {
        int64_t xs[KILN_MAX_RANK];
        contig_strides(&k->in[i].type, xs);
        copy_space(b, k->in[i].type.rank, k->in[i].type.dims, i, 0, xs, 0, off * ys[axis], ys);
        off += k->in[i].type.dims[axis];
    }
}

static void
l_split(LB *b)
{
    const CgKernel *k = b->k;
    int axis = b->nd->attr.split.axis;
    int64_t xs[KILN_MAX_RANK], off = 0;
    contig_strides(&k->in[0].type, xs);
    for (int i = 0; i < k->nout; i++) {
        int64_t ys[KILN_MAX_RANK];
        contig_strides(&k->out[i].type, ys);
        copy_space(b, k->out[i].type.rank, k->out[i].type.dims, 0, off * xs[axis], xs, i, 0,
                   ys);
        off += k->out[i].type.dims[axis];
    }
}

/* numpy's normalisation of a slice start for a dim of size n. */
static int64_t
slice_start(int64_t s, int64_t step, int64_t n)
{
    if (s < 0)
        s += n;
    if (step > 0)
        return s < 0 ? 0 : s > n ? n : s;
    return s < -1 ? -1 : s > n - 1 ? n - 1 : s;
}

static void
l_slice(LB *b)
{
    const SliceAttr *a = &b->nd->attr.slice;
    const TensorType *x = &b->k->in[0].type, *y = &b->k->out[0].type;
    int64_t xs[KILN_MAX_RANK], st[KILN_MAX_RANK], ys[KILN_MAX_RANK], base = 0;
    contig_strides(x, xs);
    contig_strides(y, ys);
    for (int d = 0; d < x->rank; d++) {
        base += slice_start(a->start[d], a->step[d], x->dims[d]) * xs[d];
        st[d] = xs[d] * a->step[d];
    }
    copy_space(b, y->rank, y->dims, 0, base, st, 0, 0, ys);
}

/* Fill the whole result, then copy the operand into its interior. */
static void
l_pad(LB *b)
{
    const PadAttr *a = &b->nd->attr.pad;
    const TensorType *x = &b->k->in[0].type, *y = &b->k->out[0].type;
    int f = lb_for(b, b->k->out[0].numel);
    lb_store(b, 0, lb_var(b, f), lb_const_cast(b, y->dtype, a->value));
    lb_end(b, f);
    int64_t xs[KILN_MAX_RANK], ys[KILN_MAX_RANK], base = 0;
    contig_strides(x, xs);
    contig_strides(y, ys);
    for (int d = 0; d < y->rank; d++)
        base += a->before[d] * ys[d];
    copy_space(b, x->rank, x->dims, 0, 0, xs, 0, base, ys);
}

/* Negative indices count from the end; out of range returns KILN_ERANGE. */
static void
l_gather(LB *b)
{
    int axis = b->nd->attr.axis.axis;
    const TensorType *x = &b->k->in[0].type;
    int64_t outer = prod(x->dims, 0, axis), dim = x->dims[axis];
    int64_t inner = prod(x->dims, axis + 1, x->rank), nidx = b->k->in[1].numel;
    int fi = lb_for(b, outer), fj;
    LpVal i = lb_var(b, fi);
    fj = lb_for(b, nidx);
    LpVal j = lb_var(b, fj);
    LpVal ix = lb_cast(b, lb_load(b, LB_IN, 1, j), DT_I64);
    LpVal neg = lb_op(b, OP_LESS, NULL, ix, lb_const_i(b, DT_I64, 0));
    ix = lb_select(b, neg, lb_iadd(b, ix, lb_const_i(b, DT_I64, dim)), ix);
    lb_check(b, lb_op(b, OP_LESS, NULL, ix, lb_const_i(b, DT_I64, 0)));
    lb_check(b, lb_op(b, OP_GREATER, NULL, ix, lb_const_i(b, DT_I64, dim - 1)));
    int fr = lb_for(b, inner);
    LpVal r = lb_var(b, fr);
    LpVal xi = lb_iadd(b, lb_imul(b, lb_iadd(b, lb_imul(b, i, dim), ix), inner), r);
    LpVal yi = lb_iadd(b, lb_imul(b, lb_iadd(b, lb_imul(b, i, nidx), j), inner), r);
    lb_store(b, 0, yi, lb_load(b, LB_IN, 0, xi));
    lb_end(b, fr);
    lb_end(b, fj);
    lb_end(b, fi);
}

/* ------------------------------------------------------------------ reductions */

/* The identity of max (largest = 0) or min (largest = 1) reductions: the type's extreme. */
static LpVal
extreme(LB *b, LpType t, int largest)
{
    switch (t) {
    case DT_F32:  return lb_const_f(b, t, largest ? INFINITY : -INFINITY);
    case DT_I32:  return lb_const_i(b, t, largest ? INT32_MAX : INT32_MIN);
    case DT_I64:  return lb_const_i(b, t, largest ? INT64_MAX : INT64_MIN);
    case DT_I8:   return lb_const_i(b, t, largest ? INT8_MAX : INT8_MIN);
    case DT_U8:   return lb_const_i(b, t, largest ? UINT8_MAX : 0);
    default:      return lb_const_i(b, t, largest ? 1 : 0);
    }
}

/* Outer space over kept dims (x, y), inner space over reduced dims (x). */
static void
reduce_spaces(const LB *b, Iter *outer, Iter *inner)
{
    const ReduceAttr *r = &b->nd->attr.reduce;
    const TensorType *x = &b->k->in[0].type;
    int red[KILN_MAX_RANK] = { 0 };
    for (int i = 0; i < r->naxes; i++)
        red[r->axes[i]] = 1;
    for (int d = 0; d < x->rank && r->naxes == 0; d++)
        red[d] = 1;
    int64_t xs[KILN_MAX_RANK], kd[KILN_MAX_RANK], kx[KILN_MAX_RANK], ky[KILN_MAX_RANK];
    int64_t rd[KILN_MAX_RANK], rx[KILN_MAX_RANK];
    int nk = 0, nr = 0;
    contig_strides(x, xs);
    for (int d = 0; d < x->rank; d++) {
        if (red[d]) {
            rd[nr] = x->dims[d];
            rx[nr++] = xs[d];
        } else {
            kd[nk] = x->dims[d];
            kx[nk++] = xs[d];
        }
    }
    int64_t s = 1;
    for (int d = nk - 1; d >= 0; d--) {
        ky[d] = s;
        s *= kd[d];
    }
    iter_init(outer, nk, kd);
    iter_add(outer, 0, kx);
    iter_add(outer, 0, ky);
    iter_simplify(outer);
    iter_init(inner, nr, rd);
    iter_add(inner, 0, rx);
    if (b->nd->op != OP_ARGMAX)
        iter_simplify(inner);   /* argmax keeps its one axis loop: its variable is the answer */
}

/* The inner loop's update of the accumulators by element v. */
static void
reduce_step(LB *b, int acc, int best, LpVal v, LpVal j)
{
    Op op = b->nd->op;
    LpVal cur = lb_acc_get(b, acc);
    if (op == OP_REDUCE_SUM || op == OP_REDUCE_MEAN || op == OP_REDUCE_PROD) {
        Op comb = op == OP_REDUCE_PROD ? OP_MUL : OP_ADD;
        lb_acc_set(b, acc, lb_op(b, comb, NULL, cur, lb_cast(b, v, lb_type(b, cur))));
        return;
    }
    /* NaN never wins, as in the interpreter; argmax keeps the first maximum */
    LpVal c = lb_op(b, op == OP_REDUCE_MIN ? OP_LESS : OP_GREATER, NULL, v, cur);
    if (best >= 0)
        lb_acc_set(b, best, lb_select(b, c, j, lb_acc_get(b, best)));
    lb_acc_set(b, acc, lb_select(b, c, v, cur));
}

static void
l_reduce(LB *b)
{
    Op op = b->nd->op;
    Iter on, in;
    reduce_spaces(b, &on, &in);
    LpType xt = b->k->in[0].type.dtype, yt = b->k->out[0].type.dtype;
    int sum = op == OP_REDUCE_SUM || op == OP_REDUCE_MEAN || op == OP_REDUCE_PROD;
    LpType at = sum ? (xt == DT_F32 ? LT_F64 : DT_I64) : xt;
    iter_open(b, &on);
    int acc = lb_acc_new(b, at), best = -1;
    lb_acc_set(b, acc, sum ? lb_const_i(b, at, op == OP_REDUCE_PROD)
                           : extreme(b, xt, op == OP_REDUCE_MIN));
    if (op == OP_ARGMAX) {
        best = lb_acc_new(b, DT_I64);
        lb_acc_set(b, best, lb_const_i(b, DT_I64, 0));
    }
    iter_open(b, &in);
    LpVal v = lb_load(b, LB_IN, 0, lb_iadd(b, iter_idx(b, &on, 0), iter_idx(b, &in, 0)));
    reduce_step(b, acc, best, v, in.rank ? in.var[0] : lb_const_i(b, DT_I64, 0));
    iter_close(b, &in);
    /* values are made one per statement: argument evaluation order would number them */
    LpVal r = lb_acc_get(b, op == OP_ARGMAX ? best : acc);
    if (op == OP_REDUCE_MEAN) {
        LpVal count = lb_const_f(b, LT_F64, (double)prod(in.dims, 0, in.rank));
        r = lb_op(b, OP_DIV, NULL, lb_cast(b, r, LT_F64), count);
    }
    LpVal yi = iter_idx(b, &on, 1);
    lb_store(b, 0, yi, lb_cast(b, r, yt));
    iter_close(b, &on);
}

/* ------------------------------------------------------------------ matmul */

/* Element index of A[i, p] (ta: stored transposed) past the batch offset ia. */
static LpVal
a_idx(LB *b, LpVal ia, int ta, LpVal i, LpVal p)
{
    const CgKernel *k = b->k;
    LpVal e = ta ? lb_iadd(b, lb_imul(b, p, k->m), i) : lb_iadd(b, lb_imul(b, i, k->k), p);
    return lb_iadd(b, ia, e);
}

/* Y[i,j] = sum_p A[i,p] B[p,j] as dot products accumulated in double (B transposed, an
 * aliasing result, or integers). */
static void
mm_dot(LB *b, int ta, int tb, LpVal ia, LpVal ib, LpVal iy)
{
    const CgKernel *k = b->k;
    int fi = lb_for(b, k->m);
    LpVal i = lb_var(b, fi);
    int fj = lb_for(b, k->n);
    LpVal j = lb_var(b, fj);
    int acc = lb_acc_new(b, LT_F64);
    lb_acc_set(b, acc, lb_const_f(b, LT_F64, 0));
    int fp = lb_for(b, k->k);
    LpVal p = lb_var(b, fp);
    LpVal av = lb_load(b, LB_IN, 0, a_idx(b, ia, ta, i, p));
    LpVal bix = tb ? lb_iadd(b, lb_imul(b, j, k->k), p) : lb_iadd(b, lb_imul(b, p, k->n), j);
    LpVal bv = lb_load(b, LB_IN, 1, lb_iadd(b, ib, bix));
    LpVal ad = lb_cast(b, av, LT_F64), bd = lb_cast(b, bv, LT_F64);   /* in this order */
    LpVal prodv = lb_op(b, OP_MUL, NULL, ad, bd);
    lb_acc_set(b, acc, lb_op(b, OP_ADD, NULL, lb_acc_get(b, acc), prodv));
    lb_end(b, fp);
    LpVal yi = lb_iadd(b, iy, lb_iadd(b, lb_imul(b, i, k->n), j));
    lb_store(b, 0, yi, lb_cast(b, lb_acc_get(b, acc), k->out[0].type.dtype));
    lb_end(b, fj);
    lb_end(b, fi);
}

/* Y[i,:] = sum_p A[i,p] B[p,:] as f32 row updates: the inner loop is contiguous in B and
 * Y, so compilers vectorise it. */
static void
mm_rows(LB *b, int ta, LpVal ia, LpVal ib, LpVal iy)
{
    const CgKernel *k = b->k;
    int fi = lb_for(b, k->m);
    LpVal i = lb_var(b, fi);
    LpVal row = lb_iadd(b, iy, lb_imul(b, i, k->n));
    int fz = lb_for(b, k->n);
    lb_store(b, 0, lb_iadd(b, row, lb_var(b, fz)), lb_const_f(b, DT_F32, 0));
    lb_end(b, fz);
    int fp = lb_for(b, k->k);
    LpVal p = lb_var(b, fp);
    LpVal av = lb_load(b, LB_IN, 0, a_idx(b, ia, ta, i, p));
    int fj = lb_for(b, k->n);
    LpVal j = lb_var(b, fj);
    LpVal yi = lb_iadd(b, row, j);
    LpVal yv = lb_load(b, LB_OUT, 0, yi);
    LpVal bv = lb_load(b, LB_IN, 1, lb_iadd(b, lb_iadd(b, ib, lb_imul(b, p, k->n)), j));
    lb_store(b, 0, yi, lb_op(b, OP_ADD, NULL, yv, lb_op(b, OP_MUL, NULL, av, bv)));
    lb_end(b, fj);
    lb_end(b, fp);
    lb_end(b, fi);
}

static void
l_matmul(LB *b)
{
    const CgKernel *k = b->k;
    int ta = b->nd->attr.matmul.trans_a && k->in[0].type.rank >= 2;
    int tb = b->nd->attr.matmul.trans_b && k->in[1].type.rank >= 2;
    int64_t ys[KILN_MAX_RANK], s = k->m * k->n;
    for (int d = k->batch_rank - 1; d >= 0; d--) {
        ys[d] = s;
        s *= k->batch_dims[d];
    }
    Iter it;
    iter_init(&it, k->batch_rank, k->batch_dims);
    iter_add(&it, 0, k->a_bstride);
    iter_add(&it, 0, k->b_bstride);
    iter_add(&it, 0, ys);
    iter_simplify(&it);
    iter_open(b, &it);
    LpVal ia = iter_idx(b, &it, 0), ib = iter_idx(b, &it, 1), iy = iter_idx(b, &it, 2);
    if (tb || k->alias || k->in[0].type.dtype != DT_F32)
        mm_dot(b, ta, tb, ia, ib, iy);
    else
        mm_rows(b, ta, ia, ib, iy);
    iter_close(b, &it);
}

/* ------------------------------------------------------------------ softmax, batchnorm */

/* Softmax along a non-last axis: max, sum of exp in double, then the quotient (or, for
 * log_softmax, x - max - log(sum)). */
static void
l_softmax(LB *b)
{
    const TensorType *x = &b->k->in[0].type;
    int axis = b->nd->attr.axis.axis;
    int64_t outer = prod(x->dims, 0, axis), dim = x->dims[axis];
    int64_t inner = prod(x->dims, axis + 1, x->rank);
    int fi = lb_for(b, outer), fr, fj;
    LpVal i = lb_var(b, fi);
    fr = lb_for(b, inner);
    LpVal base = lb_iadd(b, lb_imul(b, i, dim * inner), lb_var(b, fr));
    int mx = lb_acc_new(b, DT_F32), sum = lb_acc_new(b, LT_F64);
    lb_acc_set(b, mx, lb_const_f(b, DT_F32, -INFINITY));
    fj = lb_for(b, dim);
    LpVal v = lb_load(b, LB_IN, 0, lb_iadd(b, base, lb_imul(b, lb_var(b, fj), inner)));
    LpVal cur = lb_acc_get(b, mx);
    lb_acc_set(b, mx, lb_select(b, lb_op(b, OP_GREATER, NULL, v, cur), v, cur));
    lb_end(b, fj);
    LpVal m = lb_acc_get(b, mx);
    lb_acc_set(b, sum, lb_const_f(b, LT_F64, 0));
    fj = lb_for(b, dim);
    v = lb_load(b, LB_IN, 0, lb_iadd(b, base, lb_imul(b, lb_var(b, fj), inner)));
    LpVal e = lb_cast(b, lb_op(b, OP_EXP, NULL, lb_op(b, OP_SUB, NULL, v, m), 0), LT_F64);
    lb_acc_set(b, sum, lb_op(b, OP_ADD, NULL, lb_acc_get(b, sum), e));
    lb_end(b, fj);
    LpVal s = lb_acc_get(b, sum);
    LpVal ls = b->nd->op == OP_LOG_SOFTMAX ? lb_cast(b, lb_op(b, OP_LOG, NULL, s, 0), DT_F32) : 0;
    fj = lb_for(b, dim);
    LpVal xi = lb_iadd(b, base, lb_imul(b, lb_var(b, fj), inner));
    v = lb_load(b, LB_IN, 0, xi);
    LpVal d = lb_op(b, OP_SUB, NULL, v, m), y;
    if (ls)
        y = lb_op(b, OP_SUB, NULL, d, ls);
    else
        y = lb_cast(b, lb_op(b, OP_DIV, NULL, lb_cast(b, lb_op(b, OP_EXP, NULL, d, 0), LT_F64),
                             s), DT_F32);
    lb_store(b, 0, xi, y);
    lb_end(b, fj);
    lb_end(b, fr);
    lb_end(b, fi);
}

/* (x - mean[c]) / sqrtf(var[c] + eps) * scale[c] + bias[c], c along the channel axis. */
static void
l_batchnorm(LB *b)
{
    const TensorType *x = &b->k->in[0].type;
    int axis = b->nd->attr.norm.axis;
    int64_t outer = prod(x->dims, 0, axis), c = x->dims[axis];
    int64_t inner = prod(x->dims, axis + 1, x->rank);
    int fi = lb_for(b, outer);
    LpVal i = lb_var(b, fi);
    int fc = lb_for(b, c);
    LpVal ch = lb_var(b, fc);
    int fr = lb_for(b, inner);
    LpVal ix = lb_iadd(b, lb_imul(b, lb_iadd(b, lb_imul(b, i, c), ch), inner), lb_var(b, fr));
    LpVal xv = lb_load(b, LB_IN, 0, ix);
    LpVal sc = lb_load(b, LB_IN, 1, ch), bi = lb_load(b, LB_IN, 2, ch);
    LpVal mean = lb_load(b, LB_IN, 3, ch), var = lb_load(b, LB_IN, 4, ch);
    LpVal den = lb_op(b, OP_SQRT, NULL,
                      lb_op(b, OP_ADD, NULL, var, lb_const_f(b, DT_F32, b->nd->attr.norm.eps)), 0);
    LpVal y = lb_op(b, OP_DIV, NULL, lb_op(b, OP_SUB, NULL, xv, mean), den);
    y = lb_op(b, OP_ADD, NULL, lb_op(b, OP_MUL, NULL, y, sc), bi);
    lb_store(b, 0, ix, y);
    lb_end(b, fr);
    lb_end(b, fc);
    lb_end(b, fi);
}

/* ------------------------------------------------------------------ quantization */

/* Parameter index of the element at loop variables var (unsimplified space over t). */
static LpVal
qparam_idx(LB *b, const QuantParams *q, const Iter *it)
{
    switch (q->gran) {
    case QG_AXIS:  return it->var[q->axis];
    case QG_GROUP: return lb_idiv(b, it->var[q->axis], q->group);
    default:       return lb_const_i(b, DT_I64, 0);
    }
}

static void
l_quant(LB *b)
{
    const CgKernel *k = b->k;
    int deq = b->nd->op == OP_DEQUANTIZE;
    const TensorType *t = deq ? &k->in[0].type : &k->out[0].type;
    const QuantParams *q = deq ? t->quant : &b->nd->attr.quant.q;
    if (!q) {
        diag_error(b->d, b->nd->loc, "dequantize: expected a quantized operand, got %s",
                   ir_dtype_name(t->dtype));
        b->err = 1;
        return;
    }
    int tsc = lb_table(b, DT_F32, q->nscale, q->scale);
    int tzp = lb_table(b, DT_I32, q->nscale, q->zero);
    int64_t st[KILN_MAX_RANK];
    Iter it;
    iter_init(&it, t->rank, t->dims);
    contig_strides(t, st);
    iter_add(&it, 0, st);
    if (q->gran == QG_TENSOR)
        iter_simplify(&it);     /* per-axis parameters need every dim's variable */
    iter_open(b, &it);
    LpVal ix = iter_idx(b, &it, 0), pi = qparam_idx(b, q, &it);
    LpVal sc = lb_load(b, LB_TABLE, tsc, pi), zp = lb_load(b, LB_TABLE, tzp, pi);
    LpVal x = lb_load(b, LB_IN, 0, ix), y;
    if (!deq)
        x = lb_cast(b, x, DT_F32);
    if (deq) {
        LpVal diff = lb_op(b, OP_SUB, NULL, lb_cast(b, x, DT_I32), zp);
        y = lb_op(b, OP_MUL, NULL, sc, lb_cast(b, diff, DT_F32));
    } else {
        int64_t lo = q->is_signed ? -((int64_t)1 << (q->bits - 1)) : 0;
        int64_t hi = q->is_signed ? ((int64_t)1 << (q->bits - 1)) - 1 : ((int64_t)1 << q->bits) - 1;
        y = lb_qround(b, lb_op(b, OP_DIV, NULL, x, sc), zp, k->out[0].type.dtype, lo, hi);
    }
    lb_store(b, 0, ix, y);
    iter_close(b, &it);
}

/* ------------------------------------------------------------------ dispatch */

void
loop_ops_build(LB *b)
{
    if (b->k->kind == CK_CALL) {
        elt_loop(b, 1);     /* the epilogue after a runtime kernel */
        return;
    }
    switch (b->k->op) {
    case OP_ADD: case OP_SUB: case OP_MUL: case OP_DIV: case OP_POW: case OP_MOD:
    case OP_FMOD: case OP_NEG:
    case OP_ABS: case OP_EXP: case OP_LOG: case OP_SQRT: case OP_RSQRT: case OP_ERF:
    case OP_RELU: case OP_LEAKY_RELU: case OP_RELU6: case OP_CLIP: case OP_SIGMOID:
    case OP_TANH: case OP_GELU: case OP_SILU: case OP_HARDSWISH: case OP_EQUAL: case OP_LESS:
    case OP_GREATER: case OP_WHERE: case OP_CAST:
    case OP_FLOOR: case OP_CEIL: case OP_ROUND: case OP_SIN: case OP_COS: case OP_TAN:
    case OP_ASIN: case OP_ACOS: case OP_ATAN: case OP_SINH: case OP_COSH: case OP_ASINH:
    case OP_ACOSH: case OP_ATANH:
        elt_loop(b, 0);
        return;
    case OP_MATMUL:      l_matmul(b); break;
    case OP_SOFTMAX: case OP_LOG_SOFTMAX:
        l_softmax(b);
        break;
    case OP_BATCHNORM:   l_batchnorm(b); break;
    case OP_TRANSPOSE:   l_transpose(b); break;
    case OP_CONCAT:      l_concat(b); break;
    case OP_SPLIT:       l_split(b); break;
    case OP_SLICE:       l_slice(b); break;
    case OP_PAD:         l_pad(b); break;
    case OP_GATHER:      l_gather(b); break;
    case OP_REDUCE_SUM: case OP_REDUCE_PROD: case OP_REDUCE_MEAN: case OP_REDUCE_MAX:
    case OP_REDUCE_MIN: case OP_ARGMAX:
        l_reduce(b);
        break;
    case OP_QUANTIZE: case OP_DEQUANTIZE:
        l_quant(b);
        break;
    default:
        diag_error(b->d, b->nd->loc, "%s is not supported by the C backend", op_name[b->k->op]);
        b->err = 1;
        return;
    }
    if (b->nd->nepi > 0 && !b->err)
        elt_loop(b, 1);     /* a host kernel written as loops runs its epilogue after */
}
