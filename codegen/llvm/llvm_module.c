/* codegen/llvm/llvm_module.c — builds a model's LLVM module from its CgModule: weights as
 * read-only 64-byte aligned globals (or reads of the external .bin), one function per
 * kernel (llvm_kernels.c), P_run calling them in schedule order with the exits, and the
 * run_generic / P_info table of kiln_model.h.
 *
 * Approach: follows the C emitter's module writer (c/emit_c.c) entry for entry, with the
 * same symbols, struct layouts, argument checks and status codes, so an app links the
 * object of either backend unchanged.  Every value built is named after the IR value it
 * holds; each kernel function carries !kiln.op metadata (op, source location, index).
 */
#include <stdlib.h>
#include <string.h>
#include "llvm_int.h"
#include "util.h"

/* ------------------------------------------------------------------ context */

void
lx_init(Lx *x, CgModule *m, LLVMTargetMachineRef tm, const char *triple, LLVMContextRef ctx,
        Diag *d)
{
    memset(x, 0, sizeof *x);
    x->m = m;
    x->d = d;
    x->own_ctx = ctx == NULL;
    x->ctx = ctx ? ctx : LLVMContextCreate();
    x->mod = LLVMModuleCreateWithNameInContext(m->prefix, x->ctx);
    LLVMSetTarget(x->mod, triple);
    x->td = LLVMCreateTargetDataLayout(tm);
    LLVMSetModuleDataLayout(x->mod, x->td);
    x->b = LLVMCreateBuilderInContext(x->ctx);
    x->i1 = LLVMInt1TypeInContext(x->ctx);
    x->i8 = LLVMInt8TypeInContext(x->ctx);
    x->i32 = LLVMInt32TypeInContext(x->ctx);
    x->i64 = LLVMInt64TypeInContext(x->ctx);
    x->f32 = LLVMFloatTypeInContext(x->ctx);
    x->f64 = LLVMDoubleTypeInContext(x->ctx);
    x->ptr = LLVMPointerTypeInContext(x->ctx, 0);
    x->voidt = LLVMVoidTypeInContext(x->ctx);
    x->size = LLVMIntPtrTypeInContext(x->ctx, x->td);
    x->md_op = LLVMGetMDKindIDInContext(x->ctx, "kiln.op", 7);
    /* x86: ask for 512-bit vectors; the backend caps the width at what the CPU has */
    x->wide = strncmp(triple, "x86_64", 6) == 0;
    x->cgv = calloc((size_t)m->nconst + 1, sizeof *x->cgv);
    x->kfn = calloc((size_t)m->nkernel + 1, sizeof *x->kfn);
    if (!x->cgv || !x->kfn)
        kiln_die("out of memory");
}

void
lx_free(Lx *x)
{
    if (x->dib)
        LLVMDisposeDIBuilder(x->dib);
    if (x->b)
        LLVMDisposeBuilder(x->b);
    if (x->mod)
        LLVMDisposeModule(x->mod);
    if (x->ctx && x->own_ctx)
        LLVMContextDispose(x->ctx);
    if (x->td)
        LLVMDisposeTargetData(x->td);
    free(x->cgv);
    free(x->kfn);
    memset(x, 0, sizeof *x);
}

/* ------------------------------------------------------------------ small helpers */

const char *
lx_vname(const Lx *x, ValueId v, char *buf, size_t len)
{
    const Value *val = &x->m->g->values[v];
    if (val->name)
        snprintf(buf, len, "%s", val->name);
    else
        snprintf(buf, len, "v%u", v);
    return buf;
}

LLVMValueRef
lx_const_i64(const Lx *x, int64_t v)
{
    return LLVMConstInt(x->i64, (unsigned long long)v, 1);
}

LLVMValueRef
lx_const_i32(const Lx *x, int v)
{
    return LLVMConstInt(x->i32, (unsigned long long)(int64_t)v, 1);
}

LLVMValueRef
lx_extern_fn(Lx *x, const char *name, LLVMTypeRef ret, LLVMTypeRef *params, int nparam)
{
    LLVMValueRef f = LLVMGetNamedFunction(x->mod, name);
    if (f)
        return f;
    LLVMTypeRef ft = LLVMFunctionType(ret, params, (unsigned)nparam, 0);
    f = LLVMAddFunction(x->mod, name, ft);
    LLVMSetLinkage(f, LLVMExternalLinkage);
    return f;
}

LLVMValueRef
lx_call(Lx *x, LLVMValueRef f, LLVMValueRef *args, int nargs, const char *name)
{
    LLVMTypeRef ft = LLVMGlobalGetValueType(f);
    int isvoid = LLVMGetTypeKind(LLVMGetReturnType(ft)) == LLVMVoidTypeKind;
    return LLVMBuildCall2(x->b, ft, f, args, (unsigned)nargs, isvoid ? "" : name);
}

/* Largest power of two dividing both 64 and v (v's alignment against a 64-aligned base). */
static unsigned
align_of_offset(int64_t v)
{
    unsigned a = 64;
    while (a > 1 && v % a)
        a >>= 1;
    return a;
}

unsigned
lx_align(const CgOperand *o)
{
    unsigned el = (unsigned)ir_dtype_size(o->type.dtype);
    if (el == 0)
        el = 1;
    switch (o->buf.kind) {
    case CG_BUF_ARENA: case CG_BUF_CONST: {
        unsigned a = align_of_offset(o->buf.offset);
        return a > el ? a : el;
    }
    default:
        return el;   /* caller memory: only the element type's natural alignment */
    }
}

/* A private NUL-terminated string constant. */
static LLVMValueRef
cstring(Lx *x, const char *s, const char *name)
{
    LLVMValueRef init = LLVMConstStringInContext2(x->ctx, s, strlen(s), 0);
    LLVMValueRef gv = LLVMAddGlobal(x->mod, LLVMTypeOf(init), name);
    LLVMSetInitializer(gv, init);
    LLVMSetGlobalConstant(gv, 1);
    LLVMSetLinkage(gv, LLVMPrivateLinkage);
    LLVMSetUnnamedAddress(gv, LLVMGlobalUnnamedAddr);
    return gv;
}

/* ------------------------------------------------------------------ types, weights */

static void
port_structs(Lx *x)
{
    const CgModule *m = x->m;
    char name[256];
    int n = m->ninput + (m->opt.weights_external ? 1 : 0);
    LLVMTypeRef *f = calloc((size_t)(n + m->noutput + 2), sizeof *f);
    if (!f)
        kiln_die("out of memory");
    for (int i = 0; i < n; i++)
        f[i] = x->ptr;
    if (n == 0)
        f[n++] = x->i8;        /* char unused_ */
    snprintf(name, sizeof name, "%s_inputs", m->prefix);
    x->in_t = LLVMStructCreateNamed(x->ctx, name);
    LLVMStructSetBody(x->in_t, f, (unsigned)n, 0);
    for (int i = 0; i < m->noutput; i++)
        f[i] = x->ptr;
    f[m->noutput] = x->i32;    /* exit_taken */
    snprintf(name, sizeof name, "%s_outputs", m->prefix);
    x->out_t = LLVMStructCreateNamed(x->ctx, name);
    LLVMStructSetBody(x->out_t, f, (unsigned)m->noutput + 1, 0);
    free(f);
}

/* Embedded weights: `internal constant [N x i8]`, 64-byte aligned, in .rodata. */
static void
weights(Lx *x)
{
    const CgModule *m = x->m;
    if (m->opt.weights_external)
        return;
    for (int i = 0; i < m->nconst; i++) {
        const CgConst *c = &m->consts[i];
        if (!c->used)
            continue;
        static const char zero[1];
        LLVMValueRef init = LLVMConstStringInContext2(x->ctx, c->bytes ? c->data : zero,
                                                      (size_t)(c->bytes ? c->bytes : 1), 1);
        LLVMValueRef gv = LLVMAddGlobal(x->mod, LLVMTypeOf(init), c->sym);
        LLVMSetInitializer(gv, init);
        LLVMSetGlobalConstant(gv, 1);
        LLVMSetLinkage(gv, LLVMInternalLinkage);
        LLVMSetAlignment(gv, 64);
        x->cgv[i] = gv;
    }
}

/* ------------------------------------------------------------------ P_run */

/* Loads field i (a pointer) of the P_inputs / P_outputs at p. */
static LLVMValueRef
field_ptr(Lx *x, LLVMTypeRef st, LLVMValueRef p, int i, const char *name)
{
    LLVMValueRef f = LLVMBuildStructGEP2(x->b, st, p, (unsigned)i, "");
    LLVMValueRef v = LLVMBuildLoad2(x->b, x->ptr, f, name);
    LLVMSetAlignment(v, LLVMABIAlignmentOfType(x->td, x->ptr));
    return v;
}

static LLVMValueRef
byte_gep(Lx *x, LLVMValueRef base, int64_t off, const char *name)
{
    if (!off)
        return base;   /* arena, globals and loaded pointers keep their own names */
    LLVMValueRef ix = lx_const_i64(x, off);
    return LLVMBuildInBoundsGEP2(x->b, x->i8, base, &ix, 1, name);
}

/* Pointer to operand o's first byte, inside P_run, named after its IR value. */
static LLVMValueRef
operand_ptr(Lx *x, const CgOperand *o)
{
    const CgModule *m = x->m;
    char name[128];
    lx_vname(x, o->value, name, sizeof name);
    switch (o->buf.kind) {
    case CG_BUF_ARENA:
        return byte_gep(x, x->arena, o->buf.offset, name);
    case CG_BUF_INPUT:
        return byte_gep(x, field_ptr(x, x->in_t, x->in, o->buf.index,
                                     o->buf.offset ? "" : name), o->buf.offset, name);
    case CG_BUF_OUTPUT:
        return byte_gep(x, field_ptr(x, x->out_t, x->out, o->buf.index,
                                     o->buf.offset ? "" : name), o->buf.offset, name);
    case CG_BUF_CONST:
        if (m->opt.weights_external)
            return byte_gep(x, x->weights, m->consts[o->buf.index].file_offset + o->buf.offset,
                            name);
        KILN_ASSERT(x->cgv[o->buf.index]);
        return byte_gep(x, x->cgv[o->buf.index], o->buf.offset, name);
    default:
        kiln_die("operand without a buffer");
    }
}

/* Branches to `bad` (return KILN_EINVAL) when cond holds, continuing in a new block. */
static void
guard(Lx *x, LLVMValueRef cond, LLVMBasicBlockRef bad, const char *what)
{
    LLVMBasicBlockRef ok = LLVMAppendBasicBlockInContext(x->ctx, x->run, what);
    LLVMBuildCondBr(x->b, cond, bad, ok);
    LLVMPositionBuilderAtEnd(x->b, ok);
}

static LLVMValueRef
is_null(Lx *x, LLVMValueRef p, const char *name)
{
    return LLVMBuildIsNull(x->b, p, name);
}

static LLVMValueRef
misaligned(Lx *x, LLVMValueRef p, const char *name)
{
    LLVMValueRef a = LLVMBuildPtrToInt(x->b, p, x->i64, "");
    LLVMValueRef r = LLVMBuildAnd(x->b, a, lx_const_i64(x, 63), "");
    return LLVMBuildICmp(x->b, LLVMIntNE, r, lx_const_i64(x, 0), name);
}

/* The argument checks of P_run (doc/api.md): NULL pointers, arena and weights alignment. */
static void
run_checks(Lx *x)
{
    const CgModule *m = x->m;
    LLVMBasicBlockRef bad = LLVMAppendBasicBlockInContext(x->ctx, x->run, "einval");
    LLVMBasicBlockRef here = LLVMGetInsertBlock(x->b);
    LLVMPositionBuilderAtEnd(x->b, bad);
    LLVMBuildRet(x->b, lx_const_i32(x, KILN_EINVAL));
    LLVMPositionBuilderAtEnd(x->b, here);
    LLVMValueRef c = LLVMBuildOr(x->b, is_null(x, x->in, ""), is_null(x, x->out, ""), "");
    if (m->arena_bytes)
        c = LLVMBuildOr(x->b, c, is_null(x, x->arena, ""), "");
    c = LLVMBuildOr(x->b, c, misaligned(x, x->arena, ""), "bad_args");
    guard(x, c, bad, "args_ok");
    for (int i = 0; i < m->ninput; i++)
        guard(x, is_null(x, field_ptr(x, x->in_t, x->in, i, m->input[i].name), ""), bad,
              "input_ok");
    for (int i = 0; i < m->noutput; i++)
        guard(x, is_null(x, field_ptr(x, x->out_t, x->out, i, m->output[i].name), ""), bad,
              "output_ok");
    if (m->opt.weights_external) {
        x->weights = field_ptr(x, x->in_t, x->in, m->ninput, "W");
        LLVMValueRef w = LLVMBuildOr(x->b, is_null(x, x->weights, ""),
                                     misaligned(x, x->weights, ""), "bad_weights");
        guard(x, w, bad, "weights_ok");
    }
}

static void
set_exit_taken(Lx *x, int v)
{
    LLVMValueRef f = LLVMBuildStructGEP2(x->b, x->out_t, x->out, (unsigned)x->m->noutput,
                                         "exit_taken");
    LLVMValueRef s = LLVMBuildStore(x->b, lx_const_i32(x, v), f);
    LLVMSetAlignment(s, 4);
}

static void
copies(Lx *x, const CgExitCopy *c, int n)
{
    for (int i = 0; i < n; i++) {
        if (c[i].skip)
            continue;
        LLVMValueRef src = operand_ptr(x, &c[i].from);
        LLVMValueRef dst = field_ptr(x, x->out_t, x->out, c[i].to, x->m->output[c[i].to].name);
        LLVMBuildMemCpy(x->b, dst, 1, src, lx_align(&c[i].from),
                        lx_const_i64(x, c[i].from.bytes));
    }
}

static void
call_exit(Lx *x, const CgKernel *k)
{
    char name[160];
    LLVMValueRef p = operand_ptr(x, &k->in[0]);
    LLVMValueRef v = LLVMBuildLoad2(x->b, x->i8, p, "");
    snprintf(name, sizeof name, "exit%d", k->exit_index);
    LLVMValueRef c = LLVMBuildICmp(x->b, LLVMIntNE, v, LLVMConstInt(x->i8, 0, 0), name);
    LLVMBasicBlockRef yes = LLVMAppendBasicBlockInContext(x->ctx, x->run, name);
    LLVMBasicBlockRef no = LLVMAppendBasicBlockInContext(x->ctx, x->run, "no_exit");
    LLVMBuildCondBr(x->b, c, yes, no);
    LLVMPositionBuilderAtEnd(x->b, yes);
    copies(x, k->copy, k->ncopy);
    set_exit_taken(x, k->exit_index);
    LLVMBuildRet(x->b, lx_const_i32(x, KILN_OK));
    LLVMPositionBuilderAtEnd(x->b, no);
}

/* st = n<K>_<op>(operands, results, scratch, opts); if (st) return st; */
static void
call_kernel(Lx *x, const CgKernel *k)
{
    LLVMValueRef f = x->kfn[k->index];
    int n = k->nin + k->nout + (k->scratch_offset >= 0) + 1, j = 0;
    LLVMValueRef *a = calloc((size_t)n, sizeof *a);
    if (!a)
        kiln_die("out of memory");
    for (int i = 0; i < k->nin; i++)
        a[j++] = operand_ptr(x, &k->in[i]);
    for (int i = 0; i < k->nout; i++)
        a[j++] = operand_ptr(x, &k->out[i]);
    if (k->scratch_offset >= 0)
        a[j++] = byte_gep(x, x->arena, k->scratch_offset, "scratch");
    a[j++] = x->opts;
    char name[64];
    snprintf(name, sizeof name, "st%d", k->index);
    LLVMValueRef st = lx_call(x, f, a, j, name);
    free(a);
    LLVMValueRef bad = LLVMBuildICmp(x->b, LLVMIntNE, st, lx_const_i32(x, KILN_OK), "");
    LLVMBasicBlockRef fail = LLVMAppendBasicBlockInContext(x->ctx, x->run, "fail");
    snprintf(name, sizeof name, "after_n%d", k->index);
    LLVMBasicBlockRef ok = LLVMAppendBasicBlockInContext(x->ctx, x->run, name);
    LLVMBuildCondBr(x->b, bad, fail, ok);
    LLVMPositionBuilderAtEnd(x->b, fail);
    LLVMBuildRet(x->b, st);
    LLVMPositionBuilderAtEnd(x->b, ok);
}

static void
run_fn(Lx *x)
{
    const CgModule *m = x->m;
    char name[256];
    LLVMTypeRef pt[4] = { x->ptr, x->ptr, x->ptr, x->ptr };
    snprintf(name, sizeof name, "%s_run", m->prefix);
    x->run = LLVMAddFunction(x->mod, name, LLVMFunctionType(x->i32, pt, 4, 0));
    LLVMAddAttributeAtIndex(x->run, LLVMAttributeFunctionIndex,
        LLVMCreateEnumAttribute(x->ctx, LLVMGetEnumAttributeKindForName("nounwind", 8), 0));
    static const char *const pn[4] = { "in", "out", "arena", "opts" };
    LLVMValueRef *pv[4] = { &x->in, &x->out, &x->arena, &x->opts };
    for (int i = 0; i < 4; i++) {
        *pv[i] = LLVMGetParam(x->run, (unsigned)i);
        LLVMSetValueName2(*pv[i], pn[i], strlen(pn[i]));
    }
    LLVMPositionBuilderAtEnd(x->b, LLVMAppendBasicBlockInContext(x->ctx, x->run, "entry"));
    run_checks(x);
    set_exit_taken(x, 0);
    for (int i = 0; i < m->nkernel; i++) {
        const CgKernel *k = &m->kernel[i];
        if (k->kind == CK_EXIT)
            call_exit(x, k);
        else if (x->kfn[i])
            call_kernel(x, k);
    }
    copies(x, m->final, m->nfinal);
    LLVMBuildRet(x->b, lx_const_i32(x, KILN_OK));
}

/* ------------------------------------------------------------------ run_generic, P_info */

static LLVMValueRef
array_elt(Lx *x, LLVMValueRef arr, int i, const char *name)
{
    LLVMValueRef ix = lx_const_i64(x, i);
    LLVMValueRef p = LLVMBuildInBoundsGEP2(x->b, x->ptr, arr, &ix, 1, "");
    return LLVMBuildLoad2(x->b, x->ptr, p, name);
}

static LLVMValueRef
run_generic(Lx *x)
{
    const CgModule *m = x->m;
    LLVMTypeRef pt[5] = { x->ptr, x->ptr, x->ptr, x->ptr, x->ptr };
    LLVMValueRef f = LLVMAddFunction(x->mod, "run_generic", LLVMFunctionType(x->i32, pt, 5, 0));
    LLVMSetLinkage(f, LLVMInternalLinkage);
    static const char *const pn[5] = { "inputs", "outputs", "exit_taken", "arena", "opts" };
    LLVMValueRef p[5];
    for (int i = 0; i < 5; i++) {
        p[i] = LLVMGetParam(f, (unsigned)i);
        LLVMSetValueName2(p[i], pn[i], strlen(pn[i]));
    }
    LLVMBasicBlockRef entry = LLVMAppendBasicBlockInContext(x->ctx, f, "entry");
    LLVMBasicBlockRef bad = LLVMAppendBasicBlockInContext(x->ctx, f, "einval");
    LLVMBasicBlockRef go = LLVMAppendBasicBlockInContext(x->ctx, f, "run");
    LLVMPositionBuilderAtEnd(x->b, bad);
    LLVMBuildRet(x->b, lx_const_i32(x, KILN_EINVAL));
    LLVMPositionBuilderAtEnd(x->b, entry);
    LLVMValueRef in = LLVMBuildAlloca(x->b, x->in_t, "in");
    LLVMValueRef out = LLVMBuildAlloca(x->b, x->out_t, "out");
    LLVMBuildCondBr(x->b, LLVMBuildOr(x->b, is_null(x, p[0], ""), is_null(x, p[1], ""), ""),
                    bad, go);
    LLVMPositionBuilderAtEnd(x->b, go);
    LLVMBuildStore(x->b, LLVMConstNull(x->in_t), in);
    LLVMBuildStore(x->b, LLVMConstNull(x->out_t), out);
    int nin = m->ninput + (m->opt.weights_external ? 1 : 0);
    for (int i = 0; i < nin; i++)
        LLVMBuildStore(x->b, array_elt(x, p[0], i, i < m->ninput ? m->input[i].name : "W"),
                       LLVMBuildStructGEP2(x->b, x->in_t, in, (unsigned)i, ""));
    for (int i = 0; i < m->noutput; i++)
        LLVMBuildStore(x->b, array_elt(x, p[1], i, m->output[i].name),
                       LLVMBuildStructGEP2(x->b, x->out_t, out, (unsigned)i, ""));
    LLVMValueRef args[4] = { in, out, p[3], p[4] };
    LLVMValueRef st = lx_call(x, x->run, args, 4, "st");
    LLVMBasicBlockRef set = LLVMAppendBasicBlockInContext(x->ctx, f, "set_exit");
    LLVMBasicBlockRef done = LLVMAppendBasicBlockInContext(x->ctx, f, "done");
    LLVMBuildCondBr(x->b, is_null(x, p[2], ""), done, set);
    LLVMPositionBuilderAtEnd(x->b, set);
    LLVMValueRef et = LLVMBuildLoad2(x->b, x->i32,
        LLVMBuildStructGEP2(x->b, x->out_t, out, (unsigned)m->noutput, ""), "taken");
    LLVMBuildStore(x->b, et, p[2]);
    LLVMBuildBr(x->b, done);
    LLVMPositionBuilderAtEnd(x->b, done);
    LLVMBuildRet(x->b, st);
    return f;
}

static LLVMTypeRef
tensor_info_t(Lx *x)
{
    LLVMTypeRef f[6] = { x->ptr, x->i32, x->i32, LLVMArrayType2(x->i64, KILN_MAX_RANK), x->i64,
                         x->size };
    return LLVMStructTypeInContext(x->ctx, f, 6, 0);
}

/* static const kiln_tensor_info P_<what>_info[n]; NULL constant when n == 0 */
static LLVMValueRef
tensor_infos(Lx *x, const char *what, const CgPort *p, int n)
{
    if (!n)
        return LLVMConstNull(x->ptr);
    LLVMTypeRef tt = tensor_info_t(x);
    LLVMValueRef *e = calloc((size_t)n, sizeof *e);
    if (!e)
        kiln_die("out of memory");
    char name[256];
    for (int i = 0; i < n; i++) {
        LLVMValueRef dims[KILN_MAX_RANK];
        for (int d = 0; d < KILN_MAX_RANK; d++)
            dims[d] = lx_const_i64(x, d < p[i].type.rank ? p[i].type.dims[d] : 0);
        snprintf(name, sizeof name, ".str.%s.%d", what, i);
        LLVMValueRef f[6] = {
            cstring(x, p[i].name, name), lx_const_i32(x, (int)p[i].type.dtype),
            lx_const_i32(x, p[i].type.rank), LLVMConstArray2(x->i64, dims, KILN_MAX_RANK),
            lx_const_i64(x, p[i].numel), LLVMConstInt(x->size, (unsigned long long)p[i].bytes, 0),
        };
        e[i] = LLVMConstNamedStruct(tt, f, 6);
    }
    LLVMValueRef init = LLVMConstArray2(tt, e, (uint64_t)n);
    free(e);
    snprintf(name, sizeof name, "%s_%s_info", x->m->prefix, what);
    LLVMValueRef gv = LLVMAddGlobal(x->mod, LLVMTypeOf(init), name);
    LLVMSetInitializer(gv, init);
    LLVMSetGlobalConstant(gv, 1);
    LLVMSetLinkage(gv, LLVMInternalLinkage);
    return gv;
}

static void
info(Lx *x)
{
    const CgModule *m = x->m;
    LLVMValueRef gen = run_generic(x);
    LLVMTypeRef ft[11] = { x->ptr, x->ptr, x->size, x->size, x->i32, x->size, x->i32, x->ptr,
                           x->i32, x->ptr, x->ptr };
    LLVMTypeRef t = LLVMStructCreateNamed(x->ctx, "kiln_model_info");
    LLVMStructSetBody(t, ft, 11, 0);
    LLVMValueRef f[11] = {
        cstring(x, m->prefix, ".str.name"), cstring(x, m->hash, ".str.hash"),
        LLVMConstInt(x->size, (unsigned long long)m->arena_bytes, 0),
        LLVMConstInt(x->size, 64, 0), lx_const_i32(x, m->opt.weights_external),
        LLVMConstInt(x->size, (unsigned long long)(m->opt.weights_external ? m->weights_bytes
                                                                           : 0), 0),
        lx_const_i32(x, m->ninput), tensor_infos(x, "inputs", m->input, m->ninput),
        lx_const_i32(x, m->noutput), tensor_infos(x, "outputs", m->output, m->noutput), gen,
    };
    char name[256];
    snprintf(name, sizeof name, "%s_info", m->prefix);
    LLVMValueRef gv = LLVMAddGlobal(x->mod, t, name);
    LLVMSetInitializer(gv, LLVMConstNamedStruct(t, f, 11));
    LLVMSetGlobalConstant(gv, 1);
    LLVMSetAlignment(gv, 8);
}

/* ------------------------------------------------------------------ entry points */

/* LLVM renames a global whose name is taken: P_run and P_info must keep theirs. */
static int
check_exported(Lx *x)
{
    char run[256], inf[256];
    snprintf(run, sizeof run, "%s_run", x->m->prefix);
    snprintf(inf, sizeof inf, "%s_info", x->m->prefix);
    size_t n;
    const char *got = LLVMGetValueName2(x->run, &n);
    const char *bad = strcmp(got, run) != 0 ? run : !LLVMGetNamedGlobal(x->mod, inf) ? inf : NULL;
    if (!bad)
        return 0;
    diag_error(x->d, (SrcLoc){ 0 }, "symbol '%s' of the generated API clashes with a "
               "generated weight or kernel name (choose another prefix)", bad);
    return -1;
}

int
lx_build(Lx *x)
{
    const CgModule *m = x->m;
    if (x->debug)
        lx_debug_init(x, 1);
    port_structs(x);
    weights(x);
    int err = 0;
    for (int i = 0; i < m->nkernel && !err; i++)
        x->kfn[i] = lx_kernel_fn(x, &m->kernel[i], &err);
    if (err)
        return -1;
    run_fn(x);
    info(x);
    lx_debug_finish(x);
    return check_exported(x);
}

/* msg with newlines folded into "; " (diagnostics are one line). */
static void
one_line(char *msg)
{
    size_t n = strlen(msg);
    while (n && (msg[n - 1] == '\n' || msg[n - 1] == ' '))
        msg[--n] = 0;
    for (char *p = msg; *p; p++)
        if (*p == '\n')
            *p = ';';
}

int
lx_verify(Lx *x)
{
    char *msg = NULL;
    if (!LLVMVerifyModule(x->mod, LLVMReturnStatusAction, &msg)) {
        LLVMDisposeMessage(msg);
        return 0;
    }
    one_line(msg);
    const CgModule *m = x->m;
    for (int i = 0; i < m->nkernel; i++) {
        if (!x->kfn[i] || !LLVMVerifyFunction(x->kfn[i], LLVMReturnStatusAction))
            continue;
        const Node *nd = &m->g->nodes[m->kernel[i].node];
        diag_error(x->d, nd->loc, "internal error: LLVM verifier rejected kernel n%d (%s): %s",
                   i, op_name[nd->op], msg);
        LLVMDisposeMessage(msg);
        return -1;
    }
    diag_error(x->d, (SrcLoc){ 0 }, "internal error: LLVM verifier rejected model '%s': %s",
               m->prefix, msg);
    LLVMDisposeMessage(msg);
    return -1;
}
