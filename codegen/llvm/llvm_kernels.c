/* codegen/llvm/llvm_kernels.c — one internal LLVM function per lowered kernel: the loop
 * form for CK_LOOP kernels and host epilogues (llvm_loops.c), libkilnrt calls for CK_CALL
 * kernels, a memmove for CK_COPY.
 *
 * Approach: the function takes the kernel's operand pointers, result pointers, the conv
 * scratch and the run options, exactly like the C emitter's `n<K>_<op>`; parameters are
 * named after their IR values, marked noalias unless lowering found an overlap
 * (CgKernel.alias) and given the alignment their buffer guarantees.  lx_kernel_fn holds
 * the one switch on op (runtime calls only: loop bodies come from the loop form).
 */
#include <stdlib.h>
#include <string.h>
#include "llvm_int.h"
#include "util.h"

static const Node *
node_of(const Lx *x, const CgKernel *k)
{
    return &x->m->g->nodes[k->node];
}

static int64_t
prod(const int64_t *d, int from, int to)
{
    int64_t p = 1;
    for (int i = from; i < to; i++)
        p *= d[i];
    return p;
}

static void
fn_attr(Lx *x, LLVMValueRef f, unsigned idx, const char *name, uint64_t v)
{
    unsigned kind = LLVMGetEnumAttributeKindForName(name, strlen(name));
    KILN_ASSERT(kind != 0);
    LLVMAddAttributeAtIndex(f, idx, LLVMCreateEnumAttribute(x->ctx, kind, v));
}

/* !kiln.op !{!"<op>", !"file:line:col", !"n<K>"} on the kernel function */
static void
annotate(Lx *x, LLVMValueRef f, const CgKernel *k)
{
    const Node *nd = node_of(x, k);
    char loc[512], idx[32];
    snprintf(loc, sizeof loc, "%s:%d:%d", nd->loc.file ? nd->loc.file : "?", nd->loc.line,
             nd->loc.col);
    snprintf(idx, sizeof idx, "n%d", k->index);
    LLVMMetadataRef md[3] = {
        LLVMMDStringInContext2(x->ctx, op_name[k->op], strlen(op_name[k->op])),
        LLVMMDStringInContext2(x->ctx, loc, strlen(loc)),
        LLVMMDStringInContext2(x->ctx, idx, strlen(idx)),
    };
    LLVMGlobalSetMetadata(f, x->md_op, LLVMMDNodeInContext2(x->ctx, md, 3));
}

/* int n<K>_<op>(ptr x0.., ptr y0.., [ptr scratch], ptr opts) */
static LLVMValueRef
kernel_decl(Lx *x, const CgKernel *k, LLVMValueRef *buf, LLVMValueRef *scratch,
            LLVMValueRef *opts)
{
    int np = k->nin + k->nout + (k->scratch_offset >= 0) + 1;
    LLVMTypeRef *pt = calloc((size_t)np, sizeof *pt);
    if (!pt)
        kiln_die("out of memory");
    for (int i = 0; i < np; i++)
        pt[i] = x->ptr;
    char name[128];
    snprintf(name, sizeof name, "n%d_%s", k->index, op_name[k->op]);
    LLVMValueRef f = LLVMAddFunction(x->mod, name, LLVMFunctionType(x->i32, pt, (unsigned)np, 0));
    free(pt);
    LLVMSetLinkage(f, LLVMInternalLinkage);
    fn_attr(x, f, LLVMAttributeFunctionIndex, "nounwind", 0);
    /* keeps one function per kernel, so the !kiln.op annotation survives optimisation */
    fn_attr(x, f, LLVMAttributeFunctionIndex, "noinline", 0);
    /* LLVM prefers 256-bit vectors even where AVX-512 exists (frequency throttling on
     * early parts); kernels are long, regular loops that gain from the full width.  On
     * CPUs without AVX-512 the x86 backend caps the width at 256 bits. */
    if (x->wide)
        LLVMAddAttributeAtIndex(f, LLVMAttributeFunctionIndex,
                                LLVMCreateStringAttribute(x->ctx, "prefer-vector-width", 19,
                                                          "512", 3));
    for (int i = 0; i < k->nin + k->nout; i++) {
        const CgOperand *o = i < k->nin ? &k->in[i] : &k->out[i - k->nin];
        buf[i] = LLVMGetParam(f, (unsigned)i);
        lx_vname(x, o->value, name, sizeof name);
        LLVMSetValueName2(buf[i], name, strlen(name));
        if (!k->alias)
            fn_attr(x, f, (unsigned)i + 1, "noalias", 0);
        fn_attr(x, f, (unsigned)i + 1, "align", lx_align(o));
    }
    int j = k->nin + k->nout;
    if (k->scratch_offset >= 0) {
        *scratch = LLVMGetParam(f, (unsigned)j);
        LLVMSetValueName2(*scratch, "scratch", 7);
        fn_attr(x, f, (unsigned)j + 1, "noalias", 0);
        fn_attr(x, f, (unsigned)j + 1, "align", 64);
        j++;
    }
    *opts = LLVMGetParam(f, (unsigned)j);
    LLVMSetValueName2(*opts, "opts", 4);
    annotate(x, f, k);
    return f;
}

/* ------------------------------------------------------------------ runtime calls */
/* KEEP-IN-SYNC(llvm-rt): llvm_jit.c's rt_syms defines every kiln_ function called here. */

static LLVMValueRef
params_global(Lx *x, const CgKernel *k, LLVMValueRef init)
{
    char name[64];
    snprintf(name, sizeof name, "n%d_params", k->index);
    LLVMValueRef gv = LLVMAddGlobal(x->mod, LLVMTypeOf(init), name);
    LLVMSetInitializer(gv, init);
    LLVMSetGlobalConstant(gv, 1);
    LLVMSetLinkage(gv, LLVMInternalLinkage);
    LLVMSetAlignment(gv, 8);
    return gv;
}

static LLVMValueRef
i64s(Lx *x, const int64_t *v, int n)
{
    LLVMValueRef e[32];
    KILN_ASSERT(n <= 32);
    for (int i = 0; i < n; i++)
        e[i] = lx_const_i64(x, v[i]);
    return LLVMConstStructInContext(x->ctx, e, (unsigned)n, 0);
}

static void
k_conv(Lx *x, const CgKernel *k, LLVMValueRef *buf, LLVMValueRef scratch, LLVMValueRef opts)
{
    const ConvAttr *c = &node_of(x, k)->attr.conv;
    const TensorType *xt = &k->in[0].type, *w = &k->in[1].type, *y = &k->out[0].type;
    const int64_t p[18] = {
        xt->dims[0], xt->dims[1], xt->dims[2], xt->dims[3], w->dims[0], w->dims[2], w->dims[3],
        c->stride[0], c->stride[1], c->pad[0], c->pad[1], c->pad[2], c->pad[3],
        c->dilation[0], c->dilation[1], c->groups, y->dims[2], y->dims[3],
    };
    LLVMTypeRef pt[7] = { x->ptr, x->ptr, x->ptr, x->ptr, x->ptr, x->ptr, x->ptr };
    LLVMValueRef f = lx_extern_fn(x, "kiln_conv2d_f32", x->voidt, pt, 7);
    LLVMValueRef null = LLVMConstNull(x->ptr);
    LLVMValueRef a[7] = { params_global(x, k, i64s(x, p, 18)), buf[0], buf[1],
                          k->nnative >= 3 ? buf[2] : null, buf[k->nin],
                          k->scratch_offset >= 0 ? scratch : null, opts };
    lx_call(x, f, a, 7, "");
}

static void
k_pool(Lx *x, const CgKernel *k, LLVMValueRef *buf, LLVMValueRef opts)
{
    const Node *nd = node_of(x, k);
    const TensorType *xt = &k->in[0].type, *y = &k->out[0].type;
    if (nd->op == OP_GLOBAL_AVGPOOL) {
        LLVMTypeRef pt[6] = { x->i64, x->i64, x->i64, x->ptr, x->ptr, x->ptr };
        LLVMValueRef f = lx_extern_fn(x, "kiln_global_avgpool_f32", x->voidt, pt, 6);
        LLVMValueRef a[6] = { lx_const_i64(x, xt->dims[0]), lx_const_i64(x, xt->dims[1]),
                              lx_const_i64(x, prod(xt->dims, 2, xt->rank)), buf[0],
                              buf[k->nin], opts };
        lx_call(x, f, a, 6, "");
        return;
    }
    const PoolAttr *p = &nd->attr.pool;
    const int64_t v[14] = {
        xt->dims[0], xt->dims[1], xt->dims[2], xt->dims[3], p->kernel[0], p->kernel[1],
        p->stride[0], p->stride[1], p->pad[0], p->pad[1], p->pad[2], p->pad[3], y->dims[2],
        y->dims[3],
    };
    /* kiln_pool2d_params: 14 int64_t then int count_include_pad */
    LLVMValueRef e[15];
    for (int i = 0; i < 14; i++)
        e[i] = lx_const_i64(x, v[i]);
    e[14] = lx_const_i32(x, p->count_pad);
    LLVMValueRef init = LLVMConstStructInContext(x->ctx, e, 15, 0);
    LLVMTypeRef pt[4] = { x->ptr, x->ptr, x->ptr, x->ptr };
    LLVMValueRef f = lx_extern_fn(x, nd->op == OP_MAXPOOL ? "kiln_maxpool2d_f32"
                                                          : "kiln_avgpool2d_f32", x->voidt, pt, 4);
    LLVMValueRef a[4] = { params_global(x, k, init), buf[0], buf[k->nin], opts };
    lx_call(x, f, a, 4, "");
}

static void
k_softmax(Lx *x, const CgKernel *k, LLVMValueRef *buf, LLVMValueRef opts)
{
    const Node *nd = node_of(x, k);
    const TensorType *xt = &k->in[0].type;
    int axis = nd->attr.axis.axis;
    LLVMTypeRef pt[5] = { x->i64, x->i64, x->ptr, x->ptr, x->ptr };
    LLVMValueRef f = lx_extern_fn(x, nd->op == OP_LOG_SOFTMAX ? "kiln_log_softmax_f32"
                                                              : "kiln_softmax_f32", x->voidt, pt, 5);
    LLVMValueRef a[5] = { lx_const_i64(x, prod(xt->dims, 0, axis) *
                                          prod(xt->dims, axis + 1, xt->rank)),
                          lx_const_i64(x, xt->dims[axis]), buf[0], buf[k->nin], opts };
    lx_call(x, f, a, 5, "");
}

static int
k_norm(Lx *x, const CgKernel *k, LLVMValueRef *buf, LLVMValueRef opts)
{
    const Node *nd = node_of(x, k);
    const TensorType *xt = &k->in[0].type;
    const NormAttr *na = &nd->attr.norm;
    int64_t rows = prod(xt->dims, 0, na->axis), cols = prod(xt->dims, na->axis, xt->rank);
    for (int i = 1; i < k->nnative; i++)
        if (k->in[i].numel != cols) {
            diag_error(x->d, nd->loc, "%s: expected %lld-element scale/shift for the LLVM "
                       "backend, got %lld", op_name[nd->op], (long long)cols,
                       (long long)k->in[i].numel);
            return -1;
        }
    LLVMValueRef null = LLVMConstNull(x->ptr), eps = LLVMConstReal(x->f32, na->eps);
    LLVMValueRef g = k->nnative >= 2 ? buf[1] : null, bt = k->nnative >= 3 ? buf[2] : null;
    if (nd->op == OP_LAYERNORM) {
        LLVMTypeRef pt[8] = { x->i64, x->i64, x->ptr, x->ptr, x->ptr, x->f32, x->ptr, x->ptr };
        LLVMValueRef f = lx_extern_fn(x, "kiln_layernorm_f32", x->voidt, pt, 8);
        LLVMValueRef a[8] = { lx_const_i64(x, rows), lx_const_i64(x, cols), buf[0], g, bt, eps,
                              buf[k->nin], opts };
        lx_call(x, f, a, 8, "");
    } else {
        LLVMTypeRef pt[7] = { x->i64, x->i64, x->ptr, x->ptr, x->f32, x->ptr, x->ptr };
        LLVMValueRef f = lx_extern_fn(x, "kiln_rmsnorm_f32", x->voidt, pt, 7);
        LLVMValueRef a[7] = { lx_const_i64(x, rows), lx_const_i64(x, cols), buf[0], g, eps,
                              buf[k->nin], opts };
        lx_call(x, f, a, 7, "");
    }
    return 0;
}

/* kiln_sgemm per batch: loops over the batch dims with each matrix's batch strides. */
static void
k_sgemm(Lx *x, const CgKernel *k, LLVMValueRef *buf)
{
    const Node *nd = node_of(x, k);
    int ta = nd->attr.matmul.trans_a && k->in[0].type.rank >= 2;
    int tb = nd->attr.matmul.trans_b && k->in[1].type.rank >= 2;
    LxFor f[KILN_MAX_RANK];
    LLVMValueRef oa = lx_const_i64(x, 0), ob = oa, oy = oa;
    int64_t ys = k->m * k->n, yst[KILN_MAX_RANK];
    for (int d = k->batch_rank - 1; d >= 0; d--) {
        yst[d] = ys;
        ys *= k->batch_dims[d];
    }
    for (int d = 0; d < k->batch_rank; d++) {
        char name[16];
        snprintf(name, sizeof name, "b%d", d);
        lx_for_begin(x, &f[d], lx_const_i64(x, 0), lx_const_i64(x, k->batch_dims[d]), name);
        oa = LLVMBuildNSWAdd(x->b, oa, LLVMBuildNSWMul(x->b, f[d].iv,
                             lx_const_i64(x, k->a_bstride[d]), ""), "");
        ob = LLVMBuildNSWAdd(x->b, ob, LLVMBuildNSWMul(x->b, f[d].iv,
                             lx_const_i64(x, k->b_bstride[d]), ""), "");
        oy = LLVMBuildNSWAdd(x->b, oy, LLVMBuildNSWMul(x->b, f[d].iv, lx_const_i64(x, yst[d]),
                             ""), "");
    }
    LLVMTypeRef pt[13] = { x->i32, x->i32, x->i64, x->i64, x->i64, x->f32, x->ptr, x->i64,
                           x->ptr, x->i64, x->f32, x->ptr, x->i64 };
    LLVMValueRef fn = lx_extern_fn(x, "kiln_sgemm", x->voidt, pt, 13);
    LLVMValueRef a[13] = {
        lx_const_i32(x, ta), lx_const_i32(x, tb), lx_const_i64(x, k->m), lx_const_i64(x, k->n),
        lx_const_i64(x, k->k), LLVMConstReal(x->f32, 1.0),
        LLVMBuildInBoundsGEP2(x->b, x->f32, buf[0], &oa, 1, "A"),
        lx_const_i64(x, ta ? k->m : k->k),
        LLVMBuildInBoundsGEP2(x->b, x->f32, buf[1], &ob, 1, "B"),
        lx_const_i64(x, tb ? k->k : k->n), LLVMConstReal(x->f32, 0.0),
        LLVMBuildInBoundsGEP2(x->b, x->f32, buf[k->nin], &oy, 1, "Y"), lx_const_i64(x, k->n),
    };
    lx_call(x, fn, a, 13, "");
    for (int d = k->batch_rank - 1; d >= 0; d--)
        lx_for_end(x, &f[d]);
}

static void
k_copy(Lx *x, const CgKernel *k, LLVMValueRef *buf)
{
    LLVMValueRef n = lx_const_i64(x, k->out[0].bytes);
    unsigned ya = lx_align(&k->out[0]), xa = lx_align(&k->in[0]);
    if (k->alias)
        LLVMBuildMemMove(x->b, buf[k->nin], ya, buf[0], xa, n);
    else
        LLVMBuildMemCpy(x->b, buf[k->nin], ya, buf[0], xa, n);
}

/* ------------------------------------------------------------------ dispatch */

static int
call_kernel(Lx *x, const CgKernel *k, LLVMValueRef *buf, LLVMValueRef scratch,
            LLVMValueRef opts)
{
    switch (k->op) {
    case OP_CONV2D:
        k_conv(x, k, buf, scratch, opts);
        return 0;
    case OP_MAXPOOL: case OP_AVGPOOL: case OP_GLOBAL_AVGPOOL:
        k_pool(x, k, buf, opts);
        return 0;
    case OP_SOFTMAX: case OP_LOG_SOFTMAX:
        k_softmax(x, k, buf, opts);
        return 0;
    case OP_LAYERNORM: case OP_RMSNORM:
        return k_norm(x, k, buf, opts);
    case OP_MATMUL:
        k_sgemm(x, k, buf);
        return 0;
    default:
        diag_error(x->d, node_of(x, k)->loc, "%s is not supported by the LLVM backend",
                   op_name[k->op]);
        return -1;
    }
}

LLVMValueRef
lx_kernel_fn(Lx *x, const CgKernel *k, int *err)
{
    if (k->kind == CK_NONE || k->kind == CK_EXIT)
        return NULL;
    LLVMValueRef *buf = calloc((size_t)(k->nin + k->nout) + 1, sizeof *buf);
    if (!buf)
        kiln_die("out of memory");
    LLVMValueRef scratch = NULL, opts = NULL;
    LLVMValueRef f = kernel_decl(x, k, buf, &scratch, &opts);
    LLVMPositionBuilderAtEnd(x->b, LLVMAppendBasicBlockInContext(x->ctx, f, "entry"));
    lx_debug_fn(x, f, k);
    int st = 0;
    const LoopNest *n = NULL;
    switch (k->kind) {
    case CK_COPY:
        k_copy(x, k, buf);
        break;
    case CK_CALL:
        st = call_kernel(x, k, buf, scratch, opts);
        n = k->loop;   /* the fused epilogue, if any (cg_lower built it) */
        break;
    case CK_LOOP:
        n = k->loop;
        if (!n) {
            diag_error(x->d, node_of(x, k)->loc, "internal error: %s has no loop form",
                       op_name[k->op]);
            st = -1;
        }
        break;
    default:
        kiln_die("kernel kind %d", (int)k->kind);
    }
    if (st == 0 && n)
        st = lx_loop_emit(x, k, n, f, buf, opts);
    free(buf);
    if (st == 0)
        LLVMBuildRet(x->b, lx_const_i32(x, KILN_OK));
    else
        *err = 1;
    lx_debug_set(x, NULL);
    return f;
}
