/* ir/interp_nn.c — reference semantics of matmul, conv2d, pools, softmax, the
 * normalisations and quantization (listed at the top of interp.c).  Operands are loaded
 * as doubles (dequantizing quantized weights), accumulated in double, rounded once. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "ir.h"
#include "interp_impl.h"
#include "util.h"

static int64_t
prod(const TensorType *t, int lo, int hi)
{
    int64_t p = 1;
    for (int i = lo; i < hi; i++)
        p *= t->dims[i];
    return p;
}

/* Loads the first n operands; on failure frees what it loaded and returns -1. */
static int
load_all(const Eval *e, int n, double **v)
{
    for (int k = 0; k < n; k++) {
        v[k] = interp_load(e, &e->in[k]);
        if (!v[k]) {
            for (int j = 0; j < k; j++)
                free(v[j]);
            return -1;
        }
    }
    return 0;
}

static void
free_all(int n, double **v)
{
    for (int k = 0; k < n; k++)
        free(v[k]);
}

/* ------------------------------------------------------------------ matmul */

typedef struct {
    int64_t rows, inner, cols;       /* per matrix: [rows, inner] @ [inner, cols] */
    int64_t sa_i, sa_k, sb_k, sb_j;  /* element strides inside one matrix of a and b */
    TensorType batch;                /* broadcast batch shape of the result */
    int64_t sta[KILN_MAX_RANK], stb[KILN_MAX_RANK];   /* batch strides, in matrices */
} Mm;

static void
mm_setup(const Eval *e, Mm *m)
{
    const TensorType *a = &e->in[0].type, *b = &e->in[1].type, *r = &e->out[0].type;
    const MatmulAttr *at = &e->nd->attr.matmul;
    int a2 = a->rank >= 2, b2 = b->rank >= 2;
    int64_t ad0 = a2 ? a->dims[a->rank - 2] : 1, ad1 = a->dims[a->rank - 1];
    int64_t bd0 = b->dims[b2 ? b->rank - 2 : 0], bd1 = b2 ? b->dims[b->rank - 1] : 1;
    memset(m, 0, sizeof *m);
    /* a is stored [ad0, ad1]: [rows, inner], or [inner, rows] when transposed */
    int ta = a2 && at->trans_a, tb = b2 && at->trans_b;
    m->rows = ta ? ad1 : ad0;
    m->inner = ta ? ad0 : ad1;
    m->cols = tb ? bd0 : bd1;
    m->sa_i = ta ? 1 : ad1;
    m->sa_k = ta ? ad1 : 1;
    m->sb_k = tb ? 1 : bd1;
    m->sb_j = tb ? bd1 : 1;
    m->batch = ir_type_make(DT_F32, r->rank - a2 - b2, r->dims);
    TensorType ba = ir_type_make(DT_F32, a2 ? a->rank - 2 : 0, a->dims);
    TensorType bb = ir_type_make(DT_F32, b2 ? b->rank - 2 : 0, b->dims);
    interp_bstrides(&ba, &m->batch, m->sta);
    interp_bstrides(&bb, &m->batch, m->stb);
}

int
interp_matmul(Eval *e)
{
    double *v[2];
    Mm m;
    if (load_all(e, 2, v) < 0)
        return -1;
    mm_setup(e, &m);
    int64_t nb = interp_numel(&m.batch), o = 0;
    for (int64_t bi = 0; bi < nb; bi++) {
        const double *a = v[0] + interp_boff(bi, &m.batch, m.sta) * m.rows * m.inner;
        const double *b = v[1] + interp_boff(bi, &m.batch, m.stb) * m.inner * m.cols;
        for (int64_t i = 0; i < m.rows; i++)
            for (int64_t j = 0; j < m.cols; j++) {
                double acc = 0;
                for (int64_t k = 0; k < m.inner; k++)
                    acc += a[i * m.sa_i + k * m.sa_k] * b[k * m.sb_k + j * m.sb_j];
                interp_setf(&e->out[0], o++, acc);
            }
    }
    free_all(2, v);
    return 0;
}

/* ------------------------------------------------------------------ conv2d */

/* One output element: bias + sum over the group's channels and the kernel window. */
static double
conv_point(const Eval *e, double *const *v, int64_t n, int64_t k, int64_t oh, int64_t ow)
{
    const ConvAttr *c = &e->nd->attr.conv;
    const int64_t *xd = e->in[0].type.dims, *wd = e->in[1].type.dims;
    int64_t cg = wd[1], kg = wd[0] / c->groups, grp = k / kg;
    double acc = ir_node_nbase(e->nd) == 3 ? v[2][k] : 0;
    for (int64_t ch = 0; ch < cg; ch++) {
        int64_t ci = grp * cg + ch;
        for (int64_t r = 0; r < wd[2]; r++) {
            int64_t ih = oh * c->stride[0] - c->pad[0] + r * c->dilation[0];
            if (ih < 0 || ih >= xd[2])
                continue;
            for (int64_t s = 0; s < wd[3]; s++) {
                int64_t iw = ow * c->stride[1] - c->pad[1] + s * c->dilation[1];
                if (iw < 0 || iw >= xd[3])
                    continue;
                acc += v[0][((n * xd[1] + ci) * xd[2] + ih) * xd[3] + iw] *
                       v[1][((k * cg + ch) * wd[2] + r) * wd[3] + s];
            }
        }
    }
    return acc;
}

int
interp_conv2d(Eval *e)
{
    int nload = ir_node_nbase(e->nd);
    double *v[3];
    const int64_t *od = e->out[0].type.dims;
    int64_t o = 0;
    if (load_all(e, nload, v) < 0)
        return -1;
    for (int64_t n = 0; n < od[0]; n++)
        for (int64_t k = 0; k < od[1]; k++)
            for (int64_t oh = 0; oh < od[2]; oh++)
                for (int64_t ow = 0; ow < od[3]; ow++)
                    interp_setf(&e->out[0], o++, conv_point(e, v, n, k, oh, ow));
    free_all(nload, v);
    return 0;
}

/* ------------------------------------------------------------------ pools */

/* One output element of maxpool / avgpool over plane x of h x w. */
static double
pool_point(const Eval *e, const double *x, int64_t h, int64_t w, int64_t oh, int64_t ow)
{
    const PoolAttr *p = &e->nd->attr.pool;
    double best = -INFINITY, sum = 0;
    int64_t cnt = 0;
    for (int64_t r = 0; r < p->kernel[0]; r++) {
        int64_t ih = oh * p->stride[0] - p->pad[0] + r;
        for (int64_t s = 0; s < p->kernel[1]; s++) {
            int64_t iw = ow * p->stride[1] - p->pad[1] + s;
            if (ih < 0 || ih >= h || iw < 0 || iw >= w)
                continue;                  /* padding: -inf for max, skipped by avg */
            double val = x[ih * w + iw];
            best = val > best ? val : best;
            sum += val;
            cnt++;
        }
    }
    if (e->nd->op == OP_MAXPOOL)
        return best;
    return sum / (double)(p->count_pad ? (int64_t)p->kernel[0] * p->kernel[1] : cnt);
}

int
interp_pool(Eval *e)
{
    const int64_t *xd = e->in[0].type.dims, *od = e->out[0].type.dims;
    double *x;
    int64_t o = 0;
    if (load_all(e, 1, &x) < 0)
        return -1;
    for (int64_t plane = 0; plane < xd[0] * xd[1]; plane++) {
        const double *px = x + plane * xd[2] * xd[3];
        if (e->nd->op == OP_GLOBAL_AVGPOOL) {
            double sum = 0;
            for (int64_t i = 0; i < xd[2] * xd[3]; i++)
                sum += px[i];
            interp_setf(&e->out[0], o++, sum / (double)(xd[2] * xd[3]));
            continue;
        }
        for (int64_t oh = 0; oh < od[2]; oh++)
            for (int64_t ow = 0; ow < od[3]; ow++)
                interp_setf(&e->out[0], o++, pool_point(e, px, xd[2], xd[3], oh, ow));
    }
    free(x);
    return 0;
}

/* ------------------------------------------------------------------ softmax, norms */

int
interp_softmax(Eval *e)
{
    const TensorType *t = &e->in[0].type;
    int axis = e->nd->attr.axis.axis;
    int64_t outer = prod(t, 0, axis), n = t->dims[axis], inner = prod(t, axis + 1, t->rank);
    double *x;
    if (load_all(e, 1, &x) < 0)
        return -1;
    for (int64_t o = 0; o < outer; o++)
        for (int64_t in = 0; in < inner; in++) {
            int64_t base = o * n * inner + in;
            double mx = -INFINITY, sum = 0;
            for (int64_t i = 0; i < n; i++)
                mx = x[base + i * inner] > mx ? x[base + i * inner] : mx;
            for (int64_t i = 0; i < n; i++)
                sum += exp(x[base + i * inner] - mx);
            for (int64_t i = 0; i < n; i++) {
                double d = x[base + i * inner] - mx;
                interp_setf(&e->out[0], base + i * inner,
                            e->nd->op == OP_SOFTMAX ? exp(d) / sum : d - log(sum));
            }
        }
    free(x);
    return 0;
}

/* layernorm / rmsnorm over the last n elements of each row: v[1] gamma, v[2] beta. */
static void
norm_rows(Eval *e, double *const *v, int nload, int64_t rows, int64_t n)
{
    double eps = e->nd->attr.norm.eps;
    for (int64_t r = 0; r < rows; r++) {
        const double *x = v[0] + r * n;
        double mean = 0, var = 0;
        for (int64_t i = 0; i < n; i++)
            mean += x[i];
        mean /= (double)n;
        for (int64_t i = 0; i < n; i++) {
            double c = e->nd->op == OP_RMSNORM ? x[i] : x[i] - mean;
            var += c * c;                  /* biased variance, or mean of squares */
        }
        double inv = 1.0 / sqrt(var / (double)n + eps);
        for (int64_t i = 0; i < n; i++) {
            double y = (e->nd->op == OP_RMSNORM ? x[i] : x[i] - mean) * inv;
            if (nload > 1)
                y *= v[1][i];
            if (nload > 2)
                y += v[2][i];
            interp_setf(&e->out[0], r * n + i, y);
        }
    }
}

static void
batchnorm(Eval *e, double *const *v)
{
    const TensorType *t = &e->in[0].type;
    int axis = e->nd->attr.norm.axis;
    int64_t n = interp_numel(t), ch = t->dims[axis], inner = prod(t, axis + 1, t->rank);
    double eps = e->nd->attr.norm.eps;
    for (int64_t i = 0; i < n; i++) {
        int64_t c = (i / inner) % ch;
        double y = (v[0][i] - v[3][c]) / sqrt(v[4][c] + eps) * v[1][c] + v[2][c];
        interp_setf(&e->out[0], i, y);
    }
}

int
interp_norm(Eval *e)
{
    const TensorType *t = &e->in[0].type;
    int nload = ir_node_nbase(e->nd), axis = e->nd->attr.norm.axis;
    double *v[5];
    if (load_all(e, nload, v) < 0)
        return -1;
    if (e->nd->op == OP_BATCHNORM)
        batchnorm(e, v);
    else
        norm_rows(e, v, nload, prod(t, 0, axis), prod(t, axis, t->rank));
    free_all(nload, v);
    return 0;
}

/* ------------------------------------------------------------------ quantization */

int
interp_quantize(Eval *e)
{
    const QuantParams *q = &e->nd->attr.quant.q;
    const IrTensor *x = &e->in[0];
    int64_t n = interp_numel(&x->type);
    int lo = q->is_signed ? -(1 << (q->bits - 1)) : 0;
    int hi = q->is_signed ? (1 << (q->bits - 1)) - 1 : (1 << q->bits) - 1;
    for (int64_t i = 0; i < n; i++) {
        int64_t k = interp_qindex(&x->type, q, i);
        float r = ((const float *)x->data)[i] / q->scale[k];   /* float division */
        double v = isnan(r) ? q->zero[k] : (double)nearbyintf(r) + q->zero[k];
        interp_seti(&e->out[0], i, v < lo ? lo : v > hi ? hi : (int64_t)v);
    }
    return 0;
}

int
interp_dequantize(Eval *e)
{
    const IrTensor *x = &e->in[0];
    const QuantParams *q = x->type.quant;
    int64_t n = interp_numel(&x->type);
    for (int64_t i = 0; i < n; i++) {
        int64_t k = interp_qindex(&x->type, q, i);
        float v = q->scale[k] * (float)(interp_geti(x, i) - q->zero[k]);
        ((float *)e->out[0].data)[i] = v;
    }
    return 0;
}
