/* codegen/c/emit_c_kernels.c — one static C function per lowered kernel: libkilnrt calls
 * for the big kernels (CK_CALL), a byte-exact element copy for moved views (CK_COPY), and
 * for everything with loops the printed loop form (CgKernel.loop, emit_c_loops.c).
 *
 * Approach: every function takes its operands as x0.., results as y0.., the conv scratch
 * as s and the run options; pointers already include the buffer offsets, so loop indices
 * start at 0.  `restrict` is dropped when lowering found an operand overlapping a result.
 * A host kernel's fused epilogue is the loop form printed after its runtime call.
 * ec_kernel_fn holds the one switch on op, for the runtime calls.
 */
#include <math.h>
#include <string.h>
#include "emit_c.h"
#include "util.h"

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

/* ------------------------------------------------------------------ runtime kernels */

/* A view that moved (reshape, flatten): the operand's elements copied in order. */
static int
k_copy(Emit *e, const CgKernel *k)
{
    fprintf(e->out, "    for (int64_t i = 0; i < %lld; i++)\n        y0[i] = x0[i];\n",
            (long long)k->out[0].numel);
    return 0;
}

/* kiln_sgemm per batch matrix; batch dims loop with A's, B's and Y's matrix strides. */
static int
k_matmul(Emit *e, const CgKernel *k)
{
    const Node *nd = node_of(e, k);
    int ta = nd->attr.matmul.trans_a && k->in[0].type.rank >= 2;
    int tb = nd->attr.matmul.trans_b && k->in[1].type.rank >= 2;
    int64_t m = k->m, n = k->n, kk = k->k, ys = m * n;
    char ia[512] = "0", ib[512] = "0", iy[512] = "0";
    size_t la = 1, lb = 1, ly = 1;
    for (int d = k->batch_rank - 1; d >= 0; d--) {
        la += (size_t)snprintf(ia + la, sizeof ia - la, " + b%d * %lld", d, (long long)k->a_bstride[d]);
        lb += (size_t)snprintf(ib + lb, sizeof ib - lb, " + b%d * %lld", d, (long long)k->b_bstride[d]);
        ly += (size_t)snprintf(iy + ly, sizeof iy - ly, " + b%d * %lld", d, (long long)ys);
        ys *= k->batch_dims[d];
    }
    for (int d = 0; d < k->batch_rank; d++) {
        ec_indent(e, 1 + d);
        fprintf(e->out, "for (int64_t b%d = 0; b%d < %lld; b%d++)\n", d, d,
                (long long)k->batch_dims[d], d);
    }
    ec_indent(e, 1 + k->batch_rank);
    fprintf(e->out, "kiln_sgemm(%d, %d, %lld, %lld, %lld, 1.0f, x0 + %s, %lld, x1 + %s, "
            "%lld, 0.0f, y0 + %s, %lld);\n", ta, tb, (long long)m, (long long)n,
            (long long)kk, ia, (long long)(ta ? m : kk), ib, (long long)(tb ? kk : n), iy,
            (long long)n);
    return 0;
}

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

/* Softmax along the last axis (other axes are CK_LOOP kernels). */
static int
k_softmax(Emit *e, const CgKernel *k)
{
    const TensorType *x = &k->in[0].type;
    int64_t dim = x->dims[x->rank - 1];
    fprintf(e->out, "    kiln_%ssoftmax_f32(%lld, %lld, x0, y0, opts);\n",
            k->op == OP_LOG_SOFTMAX ? "log_" : "", (long long)(k->in[0].numel / dim),
            (long long)dim);
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

/* ------------------------------------------------------------------ dispatch */

static int
unsupported(Emit *e, const CgKernel *k)
{
    diag_error(e->d, node_of(e, k)->loc, "%s is not supported by the C backend",
               op_name[k->op]);
    return -1;
}

/* The runtime call of a CK_CALL kernel. */
static int
call_body(Emit *e, const CgKernel *k)
{
    switch (k->op) {
    case OP_MATMUL:     return k_matmul(e, k);
    case OP_CONV2D:     return k_conv(e, k);
    case OP_SOFTMAX: case OP_LOG_SOFTMAX:
        return k_softmax(e, k);
    case OP_LAYERNORM: case OP_RMSNORM:
        return k_norm(e, k);
    case OP_MAXPOOL: case OP_AVGPOOL: case OP_GLOBAL_AVGPOOL:
        return k_pool(e, k);
    default:
        return unsupported(e, k);
    }
}

int
ec_kernel_fn(Emit *e, const CgKernel *k)
{
    if (k->kind == CK_NONE || k->kind == CK_EXIT)
        return 0;
    if (k->kind == CK_LOOP && !k->loop)
        return unsupported(e, k);
    if (k->loop)
        ec_loop_tasks(e, k, k->loop);
    fprintf(e->out, "static int\nn%d_%s", k->index, op_name[k->op]);
    ec_kernel_params(e, k);
    fputs("\n{\n    (void)opts;\n", e->out);
    int st = 0;
    if (k->kind == CK_COPY)
        st = k_copy(e, k);
    else if (k->kind == CK_CALL)
        st = call_body(e, k);
    if (st == 0 && k->loop)
        ec_loop_body(e, k, k->loop);
    fputs("    return KILN_OK;\n}\n\n", e->out);
    return st;
}
