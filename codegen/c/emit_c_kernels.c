/* codegen/c/emit_c_kernels.c — one static C function per lowered kernel: specialised loop
 * nests for elementwise chains and data movement, libkilnrt calls for the big kernels.
 *
 * Approach: every function takes its operands as x0.., results as y0.., the conv scratch
 * as s and the run options; pointers already include the buffer offsets, so loop indices
 * start at 0.  `restrict` is dropped when lowering found an operand overlapping a result.
 * Fused epilogues run in the same loop for elementwise kernels and as one loop over the
 * result after a host kernel (matmul, conv).  ec_kernel_fn holds the one switch on op.
 */
#include <math.h>
#include <string.h>
#include "emit_c.h"
#include "util.h"

enum { PAR_MIN_ELEMS = 1 << 15 };   /* elementwise loops at least this big run in parallel */

static const Node *
node_of(const Emit *e, const CgKernel *k)
{
    return &e->m->g->nodes[k->node];
}

static const char *
restr(const CgKernel *k)
{
    return k->alias ? "" : "restrict ";
}

void
ec_kernel_params(Emit *e, const CgKernel *k)
{
    fputc('(', e->out);
    for (int i = 0; i < k->nin; i++)
        fprintf(e->out, "const %s *%sx%d, ", cg_ctype(k->in[i].type.dtype), restr(k), i);
    for (int i = 0; i < k->nout; i++)
        fprintf(e->out, "%s *%sy%d, ", cg_ctype(k->out[i].type.dtype), restr(k), i);
    if (k->scratch_offset >= 0)
        fprintf(e->out, "float *%ss, ", restr(k));
    fputs("const kiln_run_opts *opts)", e->out);
}

static int64_t
prod(const int64_t *d, int from, int to)
{
    int64_t p = 1;
    for (int i = from; i < to; i++)
        p *= d[i];
    return p;
}

/* ------------------------------------------------------------------ elementwise */

/* Loads operand i as a<i>, indexed by nest array pmap[i]. */
static void
load(Emit *e, const CgKernel *k, const Nest *n, int i, int p, int indent)
{
    char ix[256];
    ec_indent(e, indent);
    fprintf(e->out, "%s a%d = x%d[%s];\n", cg_ctype(k->in[i].type.dtype), i, i,
            nest_idx(n, p, ix, sizeof ix));
}

/* Applies the node's epilogue to t<*t> of type *dt, producing t<*t> anew. */
static int
epi_steps(Emit *e, const CgKernel *k, int *t, DType *dt, int indent)
{
    const Node *nd = node_of(e, k);
    for (int s = 0; s < nd->nepi; s++) {
        const EpiStep *ep = &nd->epi[s];
        char acc[16], arg[16], dst[16];
        snprintf(acc, sizeof acc, "t%d", *t);
        snprintf(arg, sizeof arg, "a%d", ep->arg);
        snprintf(dst, sizeof dst, "t%d", *t + 1);
        int bin = ep->arg >= 0;
        const char *a = bin && ep->swap ? arg : acc, *b = bin ? (ep->swap ? acc : arg) : NULL;
        DType rt;
        if (ec_elt_stmt(e, k, ep->op, &ep->attr, *dt, dst, a, b, &rt, indent) < 0)
            return -1;
        (*t)++;   /* *dt stays: the interpreter rounds every step to result 0's dtype */
    }
    return 0;
}

/* Epilogue operands used by the steps (loaded in the epilogue loop). */
static int
epi_uses(const Node *nd, int i)
{
    for (int s = 0; s < nd->nepi; s++)
        if (nd->epi[s].arg == i)
            return 1;
    return 0;
}

/* Integer range of t as double literals (interp.c's clamp bounds). */
static void
int_range(DType t, const char **lo, const char **hi, const char **ilo, const char **ihi)
{
    switch (t) {
    case DT_I32:
        *lo = "-2147483648.0", *hi = "2147483647.0", *ilo = "INT32_MIN", *ihi = "INT32_MAX";
        break;
    case DT_I64:
        *lo = "-9223372036854775808.0", *hi = "9223372036854775808.0", *ilo = "INT64_MIN";
        *ihi = "INT64_MAX";
        break;
    case DT_I8:  *lo = "-128.0", *hi = "127.0", *ilo = "-128", *ihi = "127"; break;
    default:     *lo = "0.0", *hi = "255.0", *ilo = "0", *ihi = "255"; break;
    }
}

/* cast: float -> int truncates, clamped, NaN -> 0; int -> int wraps; -> bool is != 0. */
static int
cast_stmt(Emit *e, DType from, DType to, int indent)
{
    const char *tc = cg_ctype(to);
    ec_indent(e, indent);
    if (to == DT_BOOL)
        fprintf(e->out, "uint8_t t0 = a0 != 0;\n");
    else if (from == DT_F32 && to != DT_F32) {
        const char *lo, *hi, *ilo, *ihi;
        int_range(to, &lo, &hi, &ilo, &ihi);
        fprintf(e->out, "double d0 = a0;\n");
        ec_indent(e, indent);
        fprintf(e->out, "%s t0 = d0 != d0 ? 0 : d0 <= %s ? %s : d0 >= %s ? %s : (%s)d0;\n", tc,
                lo, ilo, hi, ihi, tc);
    } else if (to == DT_U8)
        fprintf(e->out, "uint8_t t0 = (uint8_t)((uint64_t)a0 & 0xff);\n");
    else
        fprintf(e->out, "%s t0 = (%s)a0;\n", tc, tc);
    return 0;
}

/* The node's own elementwise op (F_ELTWISE, where, cast) on a0.. into t0. */
static int
elt_head(Emit *e, const CgKernel *k, DType *dt, int indent)
{
    const Node *nd = node_of(e, k);
    DType in = k->in[0].type.dtype;
    if (nd->op == OP_WHERE) {
        *dt = k->in[1].type.dtype;
        ec_indent(e, indent);
        fprintf(e->out, "%s t0 = a0 ? a1 : a2;\n", cg_ctype(*dt));
        return 0;
    }
    if (nd->op == OP_CAST) {
        *dt = nd->attr.cast.to;
        return cast_stmt(e, in, *dt, indent);
    }
    return ec_elt_stmt(e, k, nd->op, &nd->attr, in, "t0", "a0",
                       (op_flags[nd->op] & F_BINARY) ? "a1" : NULL, dt, indent);
}

/* The nest over result 0: operands (host: only epilogue ones) then y0 as array *py. */
static void
elt_nest(const Emit *e, const CgKernel *k, int host, Nest *n, int *pmap, int *py)
{
    const Node *nd = node_of(e, k);
    const TensorType *yt = &k->out[0].type;
    int64_t yst[KILN_MAX_RANK];
    nest_init(n, yt->rank, yt->dims, 'i');
    nest_contig(yt, yst);
    for (int i = 0; i < k->nin; i++)
        pmap[i] = (host && !epi_uses(nd, i)) ? -1 : nest_add(n, 0, k->in[i].bstride);
    *py = nest_add(n, 0, yst);
    nest_simplify(n);
}

/* Inside the nest: loads, the op (or the stored result for hosts), the epilogue, store. */
static int
elt_body(Emit *e, const CgKernel *k, int host, const Nest *n, const int *pmap, int py,
         int ind)
{
    const TensorType *yt = &k->out[0].type;
    int t = 0;
    for (int i = 0; i < k->nin; i++)
        if (pmap[i] >= 0)
            load(e, k, n, i, pmap[i], ind);
    char ix[256];
    DType dt = yt->dtype;
    if (host) {
        ec_indent(e, ind);
        fprintf(e->out, "%s t0 = y0[%s];\n", cg_ctype(dt), nest_idx(n, py, ix, sizeof ix));
    } else if (elt_head(e, k, &dt, ind) < 0) {
        return -1;
    }
    dt = yt->dtype;
    if (epi_steps(e, k, &t, &dt, ind) < 0)
        return -1;
    ec_indent(e, ind);
    fprintf(e->out, "y0[%s] = (%s)t%d;\n", nest_idx(n, py, ix, sizeof ix),
            cg_ctype(yt->dtype), t);
    return 0;
}

/* One serial loop nest over result 0. */
static int
elt_loop(Emit *e, const CgKernel *k, int host)
{
    Nest n;
    int pmap[NEST_MAXP], py;
    elt_nest(e, k, host, &n, pmap, &py);
    nest_open(e, &n, 1);
    if (elt_body(e, k, host, &n, pmap, py, 1 + n.rank) < 0)
        return -1;
    nest_close(e, &n, 1);
    return 0;
}

/* Whether the elementwise loop of k runs through kiln_parallel_for: big f32 results only
 * (integer division reports errors, which a task cannot return). */
static int
elt_parallel(const Emit *e, const CgKernel *k, int host)
{
    Nest n;
    int pmap[NEST_MAXP], py;
    if (k->out[0].type.dtype != DT_F32 || k->out[0].numel < PAR_MIN_ELEMS ||
        (!host && k->op == OP_DIV && k->in[0].type.dtype != DT_F32))
        return 0;
    elt_nest(e, k, host, &n, pmap, &py);
    return n.rank > 0 && n.dims[0] > 1;
}

/* struct n<K>_args and n<K>_task(arg, lo, hi): the loop nest over outer indices [lo, hi). */
static int
elt_task(Emit *e, const CgKernel *k, int host)
{
    FILE *o = e->out;
    fprintf(o, "struct n%d_args {\n", k->index);
    for (int i = 0; i < k->nin; i++)
        fprintf(o, "    const %s *x%d;\n", cg_ctype(k->in[i].type.dtype), i);
    fprintf(o, "    %s *y0;\n};\n\n", cg_ctype(k->out[0].type.dtype));
    fprintf(o, "static void\nn%d_task(void *arg, int64_t lo, int64_t hi)\n{\n"
            "    const struct n%d_args *p = arg;\n", k->index, k->index);
    for (int i = 0; i < k->nin; i++)
        fprintf(o, "    const %s *%sx%d = p->x%d;\n", cg_ctype(k->in[i].type.dtype), restr(k),
                i, i);
    fprintf(o, "    %s *%sy0 = p->y0;\n", cg_ctype(k->out[0].type.dtype), restr(k));
    for (int i = 0; i < k->nin; i++)
        fprintf(o, "    (void)x%d;\n", i);
    Nest n;
    int pmap[NEST_MAXP], py;
    elt_nest(e, k, host, &n, pmap, &py);
    n.split = 1;
    nest_open(e, &n, 1);
    if (elt_body(e, k, host, &n, pmap, py, 1 + n.rank) < 0)
        return -1;
    nest_close(e, &n, 1);
    fputs("}\n\n", o);
    return 0;
}

/* In the kernel: hand the nest's outer loop to kiln_parallel_for. */
static void
elt_par_call(Emit *e, const CgKernel *k, int host)
{
    Nest n;
    int pmap[NEST_MAXP], py;
    elt_nest(e, k, host, &n, pmap, &py);
    fprintf(e->out, "    struct n%d_args a = { ", k->index);
    for (int i = 0; i < k->nin; i++)
        fprintf(e->out, "x%d, ", i);
    fprintf(e->out, "y0 };\n    kiln_parallel_for(opts, %lld, n%d_task, &a);\n",
            (long long)n.dims[0], k->index);
}

/* ------------------------------------------------------------------ data movement */

/* y<py>[...] = x<px>[...] over `dims`, with the given strides and bases. */
static void
copy_nest(Emit *e, int rank, const int64_t *dims, const char *xname, int64_t xbase,
          const int64_t *xst, const char *yname, int64_t ybase, const int64_t *yst)
{
    Nest n;
    char a[256], b[256];
    nest_init(&n, rank, dims, 'i');
    int px = nest_add(&n, xbase, xst), py = nest_add(&n, ybase, yst);
    nest_simplify(&n);
    nest_open(e, &n, 1);
    ec_indent(e, 1 + n.rank);
    fprintf(e->out, "%s[%s] = %s[%s];\n", yname, nest_idx(&n, py, b, sizeof b), xname,
            nest_idx(&n, px, a, sizeof a));
    nest_close(e, &n, 1);
}

static int
k_copy(Emit *e, const CgKernel *k)
{
    int64_t n = k->out[0].numel;
    int64_t st[1] = { 1 };
    copy_nest(e, 1, &n, "x0", 0, st, "y0", 0, st);
    return 0;
}

static int
k_transpose(Emit *e, const CgKernel *k)
{
    const DimsAttr *p = &node_of(e, k)->attr.dims;
    int64_t xs[KILN_MAX_RANK], st[KILN_MAX_RANK], ys[KILN_MAX_RANK];
    nest_contig(&k->in[0].type, xs);
    nest_contig(&k->out[0].type, ys);
    for (int d = 0; d < k->out[0].type.rank; d++)
        st[d] = xs[p->v[d]];
    copy_nest(e, k->out[0].type.rank, k->out[0].type.dims, "x0", 0, st, "y0", 0, ys);
    return 0;
}

static int
k_concat(Emit *e, const CgKernel *k)
{
    int axis = node_of(e, k)->attr.axis.axis;
    int64_t ys[KILN_MAX_RANK], off = 0;
    nest_contig(&k->out[0].type, ys);
    for (int i = 0; i < k->nnative; i++) {
        int64_t xs[KILN_MAX_RANK];
        char xname[16];
        snprintf(xname, sizeof xname, "x%d", i);
        nest_contig(&k->in[i].type, xs);
        copy_nest(e, k->in[i].type.rank, k->in[i].type.dims, xname, 0, xs, "y0",
                  off * ys[axis], ys);
        off += k->in[i].type.dims[axis];
    }
    return 0;
}

static int
k_split(Emit *e, const CgKernel *k)
{
    int axis = node_of(e, k)->attr.split.axis;
    int64_t xs[KILN_MAX_RANK], off = 0;
    nest_contig(&k->in[0].type, xs);
    for (int i = 0; i < k->nout; i++) {
        int64_t ys[KILN_MAX_RANK];
        char yname[16];
        snprintf(yname, sizeof yname, "y%d", i);
        nest_contig(&k->out[i].type, ys);
        copy_nest(e, k->out[i].type.rank, k->out[i].type.dims, "x0", off * xs[axis], xs,
                  yname, 0, ys);
        off += k->out[i].type.dims[axis];
    }
    return 0;
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

static int
k_slice(Emit *e, const CgKernel *k)
{
    const SliceAttr *a = &node_of(e, k)->attr.slice;
    const TensorType *x = &k->in[0].type, *y = &k->out[0].type;
    int64_t xs[KILN_MAX_RANK], st[KILN_MAX_RANK], ys[KILN_MAX_RANK], base = 0;
    nest_contig(x, xs);
    nest_contig(y, ys);
    for (int d = 0; d < x->rank; d++) {
        base += slice_start(a->start[d], a->step[d], x->dims[d]) * xs[d];
        st[d] = xs[d] * a->step[d];
    }
    copy_nest(e, y->rank, y->dims, "x0", base, st, "y0", 0, ys);
    return 0;
}

/* The pad value converted like cast (interp.c's interp_setf). */
static const char *
fill_literal(DType t, float v, char *buf, size_t len)
{
    static const double lo[DT_COUNT] = { [DT_I32] = -2147483648.0, [DT_I64] = -9223372036854775808.0,
                                         [DT_I8] = -128, [DT_U8] = 0 };
    static const double hi[DT_COUNT] = { [DT_I32] = 2147483647.0, [DT_I64] = 9223372036854775807.0,
                                         [DT_I8] = 127, [DT_U8] = 255 };
    if (t == DT_F32)
        return ec_float(v, buf, len);
    if (t == DT_BOOL) {
        snprintf(buf, len, "%d", v != 0);
        return buf;
    }
    double d = v;
    long long q = isnan(d) ? 0 : d <= lo[t] ? (long long)lo[t] : d >= hi[t] ?
                  (t == DT_I64 ? INT64_MAX : (long long)hi[t]) : (long long)d;
    if (q == INT64_MIN)
        snprintf(buf, len, "INT64_MIN");
    else
        snprintf(buf, len, "(%s)%lld", cg_ctype(t), q);
    return buf;
}

static int
k_pad(Emit *e, const CgKernel *k)
{
    const PadAttr *a = &node_of(e, k)->attr.pad;
    const TensorType *x = &k->in[0].type, *y = &k->out[0].type;
    char lit[64];
    ec_indent(e, 1);
    fprintf(e->out, "for (int64_t i = 0; i < %lld; i++)\n", (long long)k->out[0].numel);
    ec_indent(e, 2);
    fprintf(e->out, "y0[i] = %s;\n", fill_literal(y->dtype, a->value, lit, sizeof lit));
    int64_t xs[KILN_MAX_RANK], ys[KILN_MAX_RANK], base = 0;
    nest_contig(x, xs);
    nest_contig(y, ys);
    for (int d = 0; d < y->rank; d++)
        base += a->before[d] * ys[d];
    copy_nest(e, x->rank, x->dims, "x0", 0, xs, "y0", base, ys);
    return 0;
}

static int
k_gather(Emit *e, const CgKernel *k)
{
    int axis = node_of(e, k)->attr.axis.axis;
    const TensorType *x = &k->in[0].type;
    int64_t outer = prod(x->dims, 0, axis), dim = x->dims[axis];
    int64_t inner = prod(x->dims, axis + 1, x->rank), nidx = k->in[1].numel;
    FILE *o = e->out;
    fprintf(o, "    for (int64_t i = 0; i < %lld; i++) {\n", (long long)outer);
    fprintf(o, "        for (int64_t j = 0; j < %lld; j++) {\n", (long long)nidx);
    fprintf(o, "            int64_t ix = (int64_t)x1[j];\n");
    fprintf(o, "            if (ix < 0)\n                ix += %lld;\n", (long long)dim);
    fprintf(o, "            if (ix < 0 || ix >= %lld)\n                return KILN_ERANGE;\n",
            (long long)dim);
    fprintf(o, "            for (int64_t r = 0; r < %lld; r++)\n", (long long)inner);
    fprintf(o, "                y0[(i * %lld + j) * %lld + r] = x0[(i * %lld + ix) * %lld + r];\n",
            (long long)nidx, (long long)inner, (long long)dim, (long long)inner);
    fprintf(o, "        }\n    }\n");
    return 0;
}

/* ------------------------------------------------------------------ reductions */

static const char *
extreme(DType t, int max)
{
    switch (t) {
    case DT_F32:  return max ? "INFINITY" : "-INFINITY";
    case DT_I32:  return max ? "INT32_MAX" : "INT32_MIN";
    case DT_I64:  return max ? "INT64_MAX" : "INT64_MIN";
    case DT_I8:   return max ? "INT8_MAX" : "INT8_MIN";
    case DT_U8:   return max ? "UINT8_MAX" : "0";
    case DT_BOOL: return max ? "1" : "0";
    default:      kiln_die("bad dtype %d", (int)t);
    }
}

/* Outer nest over kept dims (x, y), inner nest over reduced dims (x). */
static void
reduce_nests(const CgKernel *k, const ReduceAttr *r, Nest *outer, Nest *inner)
{
    const TensorType *x = &k->in[0].type;
    int red[KILN_MAX_RANK] = { 0 };
    for (int i = 0; i < r->naxes; i++)
        red[r->axes[i]] = 1;
    if (r->naxes == 0)
        for (int d = 0; d < x->rank; d++)
            red[d] = 1;
    int64_t xs[KILN_MAX_RANK], kd[KILN_MAX_RANK], kx[KILN_MAX_RANK], ky[KILN_MAX_RANK];
    int64_t rd[KILN_MAX_RANK], rx[KILN_MAX_RANK];
    int nk = 0, nr = 0;
    nest_contig(x, xs);
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
    nest_init(outer, nk, kd, 'i');
    nest_add(outer, 0, kx);
    nest_add(outer, 0, ky);
    nest_simplify(outer);
    nest_init(inner, nr, rd, 'j');
    nest_add(inner, 0, rx);
}

/* The inner loop's update of acc (and best, for argmax) by element v. */
static void
reduce_step(Emit *e, Op op, char var, int fl, int ind)
{
    ec_indent(e, ind);
    switch (op) {
    case OP_REDUCE_SUM: case OP_REDUCE_MEAN:
        fprintf(e->out, "acc += %sv;\n", fl ? "(double)" : "(uint64_t)");
        return;
    case OP_REDUCE_MAX: case OP_REDUCE_MIN:   /* NaN never wins, as in the interpreter */
        fprintf(e->out, "if (v %c acc)\n", op == OP_REDUCE_MAX ? '>' : '<');
        ec_indent(e, ind + 1);
        fputs("acc = v;\n", e->out);
        return;
    default:                                  /* argmax: the first maximum */
        fputs("if (v > acc) {\n", e->out);
        ec_indent(e, ind + 1);
        fputs("acc = v;\n", e->out);
        ec_indent(e, ind + 1);
        fprintf(e->out, "best = %c0;\n", var);
        ec_indent(e, ind);
        fputs("}\n", e->out);
        return;
    }
}

static int
k_reduce(Emit *e, const CgKernel *k)
{
    const Node *nd = node_of(e, k);
    Nest on, in;
    reduce_nests(k, &nd->attr.reduce, &on, &in);
    int argmax = nd->op == OP_ARGMAX;
    if (!argmax)
        nest_simplify(&in);     /* argmax needs its one axis index as j0 */
    DType xt = k->in[0].type.dtype;
    const char *xc = cg_ctype(xt), *yc = cg_ctype(k->out[0].type.dtype);
    int fl = xt == DT_F32, sum = nd->op == OP_REDUCE_SUM || nd->op == OP_REDUCE_MEAN;
    char oi[256], ii[256], yi[256];
    nest_open(e, &on, 1);
    int ind = 1 + on.rank;
    ec_indent(e, ind);
    fprintf(e->out, "%s acc = %s;\n", sum ? (fl ? "double" : "uint64_t") : xc,
            sum ? "0" : extreme(xt, nd->op == OP_REDUCE_MIN));
    if (argmax) {
        ec_indent(e, ind);
        fputs("int64_t best = 0;\n", e->out);
    }
    nest_open(e, &in, ind);
    ec_indent(e, ind + in.rank);
    fprintf(e->out, "%s v = x0[%s + %s];\n", xc, nest_idx(&on, 0, oi, sizeof oi),
            nest_idx(&in, 0, ii, sizeof ii));
    reduce_step(e, nd->op, in.var, fl, ind + in.rank);
    nest_close(e, &in, ind);
    ec_indent(e, ind);
    nest_idx(&on, 1, yi, sizeof yi);
    if (argmax)
        fprintf(e->out, "y0[%s] = (%s)best;\n", yi, yc);
    else if (nd->op == OP_REDUCE_MEAN)
        fprintf(e->out, "y0[%s] = (%s)(acc / %lld);\n", yi, yc,
                (long long)prod(in.dims, 0, in.rank));
    else
        fprintf(e->out, "y0[%s] = (%s)acc;\n", yi, yc);
    nest_close(e, &on, 1);
    return 0;
}

/* ------------------------------------------------------------------ matmul */

/* Y[i,j] = sum_p A[i,p] B[j,p]: dot products of contiguous rows, accumulated in double. */
static void
mm_dot(Emit *e, int ta, int tb, int64_t m, int64_t n, int64_t kk, int ind)
{
    char ai[64], bi[64];
    if (ta)
        snprintf(ai, sizeof ai, "p * %lld + i", (long long)m);
    else
        snprintf(ai, sizeof ai, "i * %lld + p", (long long)kk);
    if (tb)
        snprintf(bi, sizeof bi, "j * %lld + p", (long long)kk);
    else
        snprintf(bi, sizeof bi, "p * %lld + j", (long long)n);
    ec_indent(e, ind);
    fprintf(e->out, "for (int64_t i = 0; i < %lld; i++)\n", (long long)m);
    ec_indent(e, ind + 1);
    fprintf(e->out, "for (int64_t j = 0; j < %lld; j++) {\n", (long long)n);
    ec_indent(e, ind + 2);
    fputs("double acc = 0;\n", e->out);
    ec_indent(e, ind + 2);
    fprintf(e->out, "for (int64_t p = 0; p < %lld; p++)\n", (long long)kk);
    ec_indent(e, ind + 3);
    fprintf(e->out, "acc += (double)A[%s] * B[%s];\n", ai, bi);
    ec_indent(e, ind + 2);
    fprintf(e->out, "Y[i * %lld + j] = (float)acc;\n", (long long)n);
    ec_indent(e, ind + 1);
    fputs("}\n", e->out);
}

/* Y[i,:] = sum_p A[i,p] B[p,:]: row updates in float, the inner loop contiguous in B and Y
 * so compilers vectorise it. */
static void
mm_rows(Emit *e, int ta, int64_t m, int64_t n, int64_t kk, int ind)
{
    char ai[64];
    if (ta)
        snprintf(ai, sizeof ai, "p * %lld + i", (long long)m);
    else
        snprintf(ai, sizeof ai, "i * %lld + p", (long long)kk);
    FILE *o = e->out;
    ec_indent(e, ind);
    fprintf(o, "for (int64_t i = 0; i < %lld; i++) {\n", (long long)m);
    ec_indent(e, ind + 1);
    fprintf(o, "float *restrict yr = Y + i * %lld;\n", (long long)n);
    ec_indent(e, ind + 1);
    fprintf(o, "for (int64_t j = 0; j < %lld; j++)\n", (long long)n);
    ec_indent(e, ind + 2);
    fputs("yr[j] = 0.0f;\n", o);
    ec_indent(e, ind + 1);
    fprintf(o, "for (int64_t p = 0; p < %lld; p++) {\n", (long long)kk);
    ec_indent(e, ind + 2);
    fprintf(o, "const float a = A[%s], *restrict br = B + p * %lld;\n", ai, (long long)n);
    ec_indent(e, ind + 2);
    fprintf(o, "for (int64_t j = 0; j < %lld; j++)\n", (long long)n);
    ec_indent(e, ind + 3);
    fputs("yr[j] += a * br[j];\n", o);
    ec_indent(e, ind + 1);
    fputs("}\n", o);
    ec_indent(e, ind);
    fputs("}\n", o);
}

static int
k_matmul(Emit *e, const CgKernel *k)
{
    const Node *nd = node_of(e, k);
    int ta = nd->attr.matmul.trans_a && k->in[0].type.rank >= 2;
    int tb = nd->attr.matmul.trans_b && k->in[1].type.rank >= 2;
    int64_t m = k->m, n = k->n, kk = k->k;
    int64_t ys[KILN_MAX_RANK];
    Nest b;
    nest_init(&b, k->batch_rank, k->batch_dims, 'b');
    int64_t s = m * n;
    for (int d = k->batch_rank - 1; d >= 0; d--) {
        ys[d] = s;
        s *= k->batch_dims[d];
    }
    nest_add(&b, 0, k->a_bstride);
    nest_add(&b, 0, k->b_bstride);
    nest_add(&b, 0, ys);
    nest_simplify(&b);
    nest_open(e, &b, 1);
    int ind = 1 + b.rank;
    char ia[256], ib[256], iy[256];
    nest_idx(&b, 0, ia, sizeof ia);
    nest_idx(&b, 1, ib, sizeof ib);
    nest_idx(&b, 2, iy, sizeof iy);
    const char *t = cg_ctype(k->in[0].type.dtype);
    if (k->use_blas) {
        ec_indent(e, ind);
        fprintf(e->out, "kiln_sgemm(%d, %d, %lld, %lld, %lld, 1.0f, x0 + %s, %lld, x1 + %s, "
                "%lld, 0.0f, y0 + %s, %lld);\n", ta, tb, (long long)m, (long long)n,
                (long long)kk, ia, (long long)(ta ? m : kk), ib, (long long)(tb ? kk : n), iy,
                (long long)n);
        nest_close(e, &b, 1);
        return 0;
    }
    FILE *o = e->out;
    ec_indent(e, ind);
    fprintf(o, "const %s *A = x0%s%s, *B = x1%s%s;\n", t, strcmp(ia, "0") ? " + " : "",
            strcmp(ia, "0") ? ia : "", strcmp(ib, "0") ? " + " : "", strcmp(ib, "0") ? ib : "");
    ec_indent(e, ind);
    fprintf(o, "%s *Y = y0%s%s;\n", cg_ctype(k->out[0].type.dtype), strcmp(iy, "0") ? " + " : "",
            strcmp(iy, "0") ? iy : "");
    if (tb || k->alias)
        mm_dot(e, ta, tb, m, n, kk, ind);
    else
        mm_rows(e, ta, m, n, kk, ind);
    nest_close(e, &b, 1);
    return 0;
}

/* ------------------------------------------------------------------ runtime kernels */

static int
k_conv(Emit *e, const CgKernel *k)
{
    const ConvAttr *c = &node_of(e, k)->attr.conv;
    const TensorType *x = &k->in[0].type, *w = &k->in[1].type, *y = &k->out[0].type;
    fprintf(e->out, "    static const kiln_conv2d_params p = {\n"
            "        %lld, %lld, %lld, %lld, %lld, %lld, %lld, %d, %d, %d, %d, %d, %d, %d, %d, "
            "%d, %lld, %lld\n    };\n",
            (long long)x->dims[0], (long long)x->dims[1], (long long)x->dims[2],
            (long long)x->dims[3], (long long)w->dims[0], (long long)w->dims[2],
            (long long)w->dims[3], c->stride[0], c->stride[1], c->pad[0], c->pad[1], c->pad[2],
            c->pad[3], c->dilation[0], c->dilation[1], c->groups, (long long)y->dims[2],
            (long long)y->dims[3]);
    fprintf(e->out, "    kiln_conv2d_f32(&p, x0, x1, %s, y0, %s, opts);\n",
            k->nnative >= 3 ? "x2" : "NULL", k->scratch_offset >= 0 ? "s" : "NULL");
    return 0;
}

static int
k_pool(Emit *e, const CgKernel *k)
{
    const Node *nd = node_of(e, k);
    const TensorType *x = &k->in[0].type, *y = &k->out[0].type;
    if (nd->op == OP_GLOBAL_AVGPOOL) {
        fprintf(e->out, "    kiln_global_avgpool_f32(%lld, %lld, %lld, x0, y0, opts);\n",
                (long long)x->dims[0], (long long)x->dims[1],
                (long long)prod(x->dims, 2, x->rank));
        return 0;
    }
    const PoolAttr *p = &nd->attr.pool;
    fprintf(e->out, "    static const kiln_pool2d_params p = {\n"
            "        %lld, %lld, %lld, %lld, %d, %d, %d, %d, { %d, %d, %d, %d }, %lld, %lld, %d\n"
            "    };\n", (long long)x->dims[0], (long long)x->dims[1], (long long)x->dims[2],
            (long long)x->dims[3], p->kernel[0], p->kernel[1], p->stride[0], p->stride[1],
            p->pad[0], p->pad[1], p->pad[2], p->pad[3], (long long)y->dims[2],
            (long long)y->dims[3], p->count_pad);
    fprintf(e->out, "    kiln_%s2d_f32(&p, x0, y0, opts);\n",
            nd->op == OP_MAXPOOL ? "maxpool" : "avgpool");
    return 0;
}

static int
k_softmax(Emit *e, const CgKernel *k)
{
    const Node *nd = node_of(e, k);
    const TensorType *x = &k->in[0].type;
    int axis = nd->attr.axis.axis, lg = nd->op == OP_LOG_SOFTMAX;
    int64_t outer = prod(x->dims, 0, axis), dim = x->dims[axis];
    int64_t inner = prod(x->dims, axis + 1, x->rank);
    if (k->kind == CK_CALL) {
        fprintf(e->out, "    kiln_%ssoftmax_f32(%lld, %lld, x0, y0, opts);\n", lg ? "log_" : "",
                (long long)(outer * inner), (long long)dim);
        return 0;
    }
    FILE *o = e->out;
    fprintf(o, "    for (int64_t i = 0; i < %lld; i++)\n", (long long)outer);
    fprintf(o, "        for (int64_t r = 0; r < %lld; r++) {\n", (long long)inner);
    fprintf(o, "            int64_t b = i * %lld + r;\n", (long long)(dim * inner));
    fprintf(o, "            float mx = -INFINITY;\n            double sum = 0;\n");
    fprintf(o, "            for (int64_t j = 0; j < %lld; j++)\n", (long long)dim);
    fprintf(o, "                mx = x0[b + j * %lld] > mx ? x0[b + j * %lld] : mx;\n",
            (long long)inner, (long long)inner);
    fprintf(o, "            for (int64_t j = 0; j < %lld; j++)\n", (long long)dim);
    fprintf(o, "                sum += expf(x0[b + j * %lld] - mx);\n", (long long)inner);
    fprintf(o, "            for (int64_t j = 0; j < %lld; j++)\n", (long long)dim);
    if (lg)
        fprintf(o, "                y0[b + j * %lld] = x0[b + j * %lld] - mx - (float)log(sum);\n",
                (long long)inner, (long long)inner);
    else
        fprintf(o, "                y0[b + j * %lld] = (float)(expf(x0[b + j * %lld] - mx) / sum);\n",
                (long long)inner, (long long)inner);
    fprintf(o, "        }\n");
    return 0;
}

static int
k_norm(Emit *e, const CgKernel *k)
{
    const Node *nd = node_of(e, k);
    const TensorType *x = &k->in[0].type;
    const NormAttr *a = &nd->attr.norm;
    char eps[64];
    ec_float(a->eps, eps, sizeof eps);
    int64_t rows = prod(x->dims, 0, a->axis), cols = prod(x->dims, a->axis, x->rank);
    for (int i = 1; i < k->nnative; i++)
        if (k->in[i].numel != cols) {
            diag_error(e->d, nd->loc, "%s: expected %lld-element scale/shift for the C "
                       "backend, got %lld", op_name[nd->op], (long long)cols,
                       (long long)k->in[i].numel);
            return -1;
        }
    if (nd->op == OP_LAYERNORM)
        fprintf(e->out, "    kiln_layernorm_f32(%lld, %lld, x0, %s, %s, %s, y0, opts);\n",
                (long long)rows, (long long)cols, k->nnative >= 2 ? "x1" : "NULL",
                k->nnative >= 3 ? "x2" : "NULL", eps);
    else
        fprintf(e->out, "    kiln_rmsnorm_f32(%lld, %lld, x0, %s, %s, y0, opts);\n",
                (long long)rows, (long long)cols, k->nnative >= 2 ? "x1" : "NULL", eps);
    return 0;
}

static int
k_batchnorm(Emit *e, const CgKernel *k)
{
    const Node *nd = node_of(e, k);
    const TensorType *x = &k->in[0].type;
    int axis = nd->attr.norm.axis;
    char eps[64];
    ec_float(nd->attr.norm.eps, eps, sizeof eps);
    int64_t outer = prod(x->dims, 0, axis), c = x->dims[axis];
    int64_t inner = prod(x->dims, axis + 1, x->rank);
    FILE *o = e->out;
    fprintf(o, "    for (int64_t i = 0; i < %lld; i++)\n", (long long)outer);
    fprintf(o, "        for (int64_t c = 0; c < %lld; c++)\n", (long long)c);
    fprintf(o, "            for (int64_t r = 0; r < %lld; r++) {\n", (long long)inner);
    fprintf(o, "                int64_t ix = (i * %lld + c) * %lld + r;\n", (long long)c,
            (long long)inner);
    fprintf(o, "                y0[ix] = (x0[ix] - x3[c]) / sqrtf(x4[c] + %s) * x1[c] + x2[c];\n",
            eps);
    fprintf(o, "            }\n");
    return 0;
}

/* ------------------------------------------------------------------ quantization */

/* Writes the scale and zero tables of q and the C expression of the parameter index. */
static int
quant_tables(Emit *e, const CgKernel *k, const QuantParams *q, char *pidx, size_t len)
{
    char f[64];
    fprintf(e->out, "    static const float sc[%d] = {", q->nscale);
    for (int i = 0; i < q->nscale; i++)
        fprintf(e->out, "%s%s", i ? ", " : " ", ec_float(q->scale[i], f, sizeof f));
    fprintf(e->out, " };\n    static const int32_t zp[%d] = {", q->nscale);
    for (int i = 0; i < q->nscale; i++)
        fprintf(e->out, "%s%d", i ? ", " : " ", (int)q->zero[i]);
    fputs(" };\n", e->out);
    switch (q->gran) {
    case QG_TENSOR:
        snprintf(pidx, len, "0");
        return 0;
    case QG_AXIS:
        snprintf(pidx, len, "i%d", q->axis);
        return 0;
    case QG_GROUP:
        snprintf(pidx, len, "i%d / %d", q->axis, q->group);
        return 0;
    default:
        diag_error(e->d, e->m->g->nodes[k->node].loc, "unknown quantization granularity");
        return -1;
    }
}

static int
k_quant(Emit *e, const CgKernel *k)
{
    const Node *nd = node_of(e, k);
    int deq = nd->op == OP_DEQUANTIZE;
    const TensorType *t = deq ? &k->in[0].type : &k->out[0].type;
    const QuantParams *q = deq ? t->quant : &nd->attr.quant.q;
    if (!q) {
        diag_error(e->d, nd->loc, "dequantize: expected a quantized operand, got %s",
                   ir_dtype_name(t->dtype));
        return -1;
    }
    char pidx[512], ix[512];
    if (quant_tables(e, k, q, pidx, sizeof pidx) < 0)
        return -1;
    Nest n;
    int64_t st[KILN_MAX_RANK];
    nest_init(&n, t->rank, t->dims, 'i');
    nest_contig(t, st);
    nest_add(&n, 0, st);
    if (q->gran == QG_TENSOR)
        nest_simplify(&n);
    nest_open(e, &n, 1);
    int ind = 1 + n.rank;
    nest_idx(&n, 0, ix, sizeof ix);
    ec_indent(e, ind);
    fprintf(e->out, "int64_t pi = %s;\n", pidx);
    ec_indent(e, ind);
    if (deq) {
        fprintf(e->out, "y0[%s] = sc[pi] * (float)((int32_t)x0[%s] - zp[pi]);\n", ix, ix);
    } else {
        int lo = q->is_signed ? -(1 << (q->bits - 1)) : 0;
        int hi = q->is_signed ? (1 << (q->bits - 1)) - 1 : (1 << q->bits) - 1;
        /* float division, round half to even, NaN -> zero point, then clamp */
        fprintf(e->out, "float r = x0[%s] / sc[pi];\n", ix);
        ec_indent(e, ind);
        fprintf(e->out, "double qv = r != r ? zp[pi] : (double)nearbyintf(r) + zp[pi];\n");
        ec_indent(e, ind);
        fprintf(e->out, "y0[%s] = (%s)(qv < %d ? %d : qv > %d ? %d : (int)qv);\n", ix,
                cg_ctype(k->out[0].type.dtype), lo, lo, hi, hi);
    }
    ec_indent(e, ind);
    fputs("(void)pi;\n", e->out);
    nest_close(e, &n, 1);
    return 0;
}

/* ------------------------------------------------------------------ dispatch */

static int
unsupported(Emit *e, const CgKernel *k)
{
    diag_error(e->d, node_of(e, k)->loc, "%s is not supported by the C backend",
               op_name[k->op]);
    return -1;
}

/* Ops whose kernel is one elementwise loop (the others host their epilogue after). */
static int
elt_kernel(Op op)
{
    return (op_flags[op] & F_ELTWISE) || op == OP_WHERE || op == OP_CAST;
}

int
ec_kernel_fn(Emit *e, const CgKernel *k)
{
    if (k->kind == CK_NONE || k->kind == CK_EXIT)
        return 0;
    const Node *nd = node_of(e, k);
    int host = !elt_kernel(k->op), par = (!host || nd->nepi) && elt_parallel(e, k, host);
    if (par && elt_task(e, k, host) < 0)
        return -1;
    fprintf(e->out, "static int\nn%d_%s", k->index, op_name[k->op]);
    ec_kernel_params(e, k);
    fputs("\n{\n    (void)opts;\n", e->out);
    int st;
    switch (k->op) {
    case OP_RESHAPE: case OP_FLATTEN:
        st = k_copy(e, k);
        break;
    case OP_ADD: case OP_SUB: case OP_MUL: case OP_DIV: case OP_POW: case OP_NEG:
    case OP_ABS: case OP_EXP: case OP_LOG: case OP_SQRT: case OP_RSQRT: case OP_ERF:
    case OP_RELU: case OP_LEAKY_RELU: case OP_RELU6: case OP_CLIP: case OP_SIGMOID:
    case OP_TANH: case OP_GELU: case OP_SILU: case OP_HARDSWISH: case OP_EQUAL: case OP_LESS:
    case OP_GREATER: case OP_WHERE: case OP_CAST:
        if (par)
            elt_par_call(e, k, 0);
        st = par ? 0 : elt_loop(e, k, 0);
        break;
    case OP_MATMUL:         st = k_matmul(e, k); break;
    case OP_CONV2D:         st = k_conv(e, k); break;
    case OP_SOFTMAX: case OP_LOG_SOFTMAX:
        st = k_softmax(e, k);
        break;
    case OP_LAYERNORM: case OP_RMSNORM:
        st = k_norm(e, k);
        break;
    case OP_BATCHNORM:      st = k_batchnorm(e, k); break;
    case OP_MAXPOOL: case OP_AVGPOOL: case OP_GLOBAL_AVGPOOL:
        st = k_pool(e, k);
        break;
    case OP_TRANSPOSE:      st = k_transpose(e, k); break;
    case OP_CONCAT:         st = k_concat(e, k); break;
    case OP_SPLIT:          st = k_split(e, k); break;
    case OP_SLICE:          st = k_slice(e, k); break;
    case OP_PAD:            st = k_pad(e, k); break;
    case OP_GATHER:         st = k_gather(e, k); break;
    case OP_REDUCE_SUM: case OP_REDUCE_MEAN: case OP_REDUCE_MAX: case OP_REDUCE_MIN:
    case OP_ARGMAX:
        st = k_reduce(e, k);
        break;
    case OP_QUANTIZE: case OP_DEQUANTIZE:
        st = k_quant(e, k);
        break;
    case OP_CONST: case OP_EXIT_IF: case OP_NONE: case OP_COUNT:
    default:
        st = unsupported(e, k);
        break;
    }
    if (st == 0 && host && nd->nepi && par)
        elt_par_call(e, k, 1);
    else if (st == 0 && host && nd->nepi)
        st = elt_loop(e, k, 1);
    fputs("    return KILN_OK;\n}\n\n", e->out);
    return st;
}
