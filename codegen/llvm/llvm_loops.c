/* codegen/llvm/llvm_loops.c — the loop form (codegen/loop.h) in LLVM IR: counted loops,
 * ifs, range checks, accumulators (allocas that mem2reg promotes), and the scalar
 * semantics loop.h specifies, value for value; parallel top-level loops become a task
 * function run through kiln_parallel_for.
 *
 * Approach: statements are walked in pre-order once.  LET'd values are built where their
 * LS_LET stands and remembered; index values are rebuilt at each use (LLVM's CSE merges
 * them), so no value is ever used outside the block that dominates it.  Unsigned types
 * (u8, bool) use unsigned compares, division and conversions.
 */
#include <stdlib.h>
#include <string.h>
#include "llvm_int.h"
#include "util.h"

typedef struct {
    Lx             *x;       /* module context */
    const CgKernel *k;       /* the kernel */
    const LoopNest *n;       /* its nest */
    LLVMValueRef    fn;      /* function being built (kernel or task) */
    LLVMValueRef   *buf;     /* k->nin operand pointers, then k->nout result pointers */
    LLVMValueRef   *tab;     /* per table: its global */
    LLVMValueRef   *val;     /* per value: the LET'd LLVM value (NULL until built) */
    LLVMValueRef   *acc;     /* per accumulator: its alloca in fn (NULL until first set) */
    LLVMValueRef   *var;     /* per statement: the loop variable of an LS_FOR */
    LLVMBasicBlockRef fail;  /* block returning KILN_ERANGE (kernel functions only) */
} Ln;

/* ------------------------------------------------------------------ counted loops */

void
lx_for_begin(Lx *x, LxFor *f, LLVMValueRef lo, LLVMValueRef hi, const char *name)
{
    LLVMValueRef fn = LLVMGetBasicBlockParent(LLVMGetInsertBlock(x->b));
    LLVMBasicBlockRef pre = LLVMGetInsertBlock(x->b);
    f->head = LLVMAppendBasicBlockInContext(x->ctx, fn, "loop");
    f->body = LLVMAppendBasicBlockInContext(x->ctx, fn, "body");
    f->exit = LLVMAppendBasicBlockInContext(x->ctx, fn, "done");
    LLVMBuildBr(x->b, f->head);
    LLVMPositionBuilderAtEnd(x->b, f->head);
    f->iv = LLVMBuildPhi(x->b, x->i64, name);
    LLVMAddIncoming(f->iv, &lo, &pre, 1);
    LLVMValueRef c = LLVMBuildICmp(x->b, LLVMIntSLT, f->iv, hi, "");
    LLVMBuildCondBr(x->b, c, f->body, f->exit);
    LLVMPositionBuilderAtEnd(x->b, f->body);
}

void
lx_for_end(Lx *x, LxFor *f)
{
    LLVMBasicBlockRef latch = LLVMGetInsertBlock(x->b);
    f->next = LLVMBuildNSWAdd(x->b, f->iv, lx_const_i64(x, 1), "");
    LLVMAddIncoming(f->iv, &f->next, &latch, 1);
    LLVMBuildBr(x->b, f->head);
    LLVMPositionBuilderAtEnd(x->b, f->exit);
}

/* ------------------------------------------------------------------ types */

static LLVMTypeRef
ltype(const Lx *x, LpType t)
{
    switch (t) {
    case DT_F32:  return x->f32;
    case LT_F64:  return x->f64;
    case DT_I32:  return x->i32;
    case DT_I64:  return x->i64;
    case DT_I8: case DT_U8: case DT_BOOL:
        return x->i8;
    default:
        kiln_die("loop form: bad type %d", t);
    }
}

static int
is_fp(LpType t)
{
    return t == DT_F32 || t == LT_F64;
}

static int
is_unsigned(LpType t)
{
    return t == DT_U8 || t == DT_BOOL;
}

static LpType
buf_type(const Ln *L, LpBuf b)
{
    switch (b.kind) {
    case LB_IN:    return L->k->in[b.index].type.dtype;
    case LB_OUT:   return L->k->out[b.index].type.dtype;
    case LB_TABLE: return L->n->table[b.index].type;
    default:       kiln_die("loop form: bad buffer kind %d", (int)b.kind);
    }
}

static LLVMValueRef
buf_base(const Ln *L, LpBuf b)
{
    switch (b.kind) {
    case LB_IN:    return L->buf[b.index];
    case LB_OUT:   return L->buf[L->k->nin + b.index];
    case LB_TABLE: return L->tab[b.index];
    default:       kiln_die("loop form: bad buffer kind %d", (int)b.kind);
    }
}

/* ------------------------------------------------------------------ scalar helpers */

static LLVMValueRef
intrinsic(Ln *L, const char *name, LLVMTypeRef *ov, int nov, LLVMValueRef *args, int nargs)
{
    unsigned id = LLVMLookupIntrinsicID(name, strlen(name));
    KILN_ASSERT(id != 0);
    LLVMValueRef f = LLVMGetIntrinsicDeclaration(L->x->mod, id, ov, (size_t)nov);
    LLVMTypeRef ft = LLVMIntrinsicGetType(L->x->ctx, id, ov, (size_t)nov);
    return LLVMBuildCall2(L->x->b, ft, f, args, (unsigned)nargs, "");
}

/* A libm function of one or two float (or double) arguments.  KEEP-IN-SYNC(llvm-rt):
 * llvm_jit.c's rt_syms defines every libm and kiln_ function called in this file. */
static LLVMValueRef
libm(Ln *L, const char *name, LLVMTypeRef t, LLVMValueRef a, LLVMValueRef b)
{
    LLVMTypeRef pt[2] = { t, t };
    LLVMValueRef f = lx_extern_fn(L->x, name, t, pt, b ? 2 : 1);
    LLVMValueRef args[2] = { a, b };
    LLVMValueRef r = lx_call(L->x, f, args, b ? 2 : 1, "");
    return r;
}

static LLVMValueRef
fconst(LLVMTypeRef t, double v)
{
    return LLVMConstReal(t, v);
}

/* a < lo ? lo : a > hi ? hi : a, in C's order (NaN passes through) */
static LLVMValueRef
fclamp(Ln *L, LLVMValueRef a, LLVMValueRef lo, LLVMValueRef hi)
{
    LLVMBuilderRef b = L->x->b;
    LLVMValueRef up = LLVMBuildSelect(b, LLVMBuildFCmp(b, LLVMRealOGT, a, hi, ""), hi, a, "");
    return LLVMBuildSelect(b, LLVMBuildFCmp(b, LLVMRealOLT, a, lo, ""), lo, up, "");
}

static LLVMValueRef
bool_of(Ln *L, LLVMValueRef c)
{
    return LLVMBuildZExt(L->x->b, c, L->x->i8, "");
}

static LLVMValueRef
fsigm_den(Ln *L, LLVMTypeRef t, LLVMValueRef a)
{
    LLVMBuilderRef b = L->x->b;
    LLVMValueRef e = libm(L, "expf", t, LLVMBuildFNeg(b, a, ""), NULL);
    return LLVMBuildFAdd(b, fconst(t, 1.0), e, "");
}

/* f32 ops, formulas of loop.h (C's float functions) */
static LLVMValueRef
f32_op(Ln *L, const LoopVal *v, LLVMValueRef a, LLVMValueRef c)
{
    Lx *x = L->x;
    LLVMBuilderRef b = x->b;
    LLVMTypeRef t = x->f32;
    LLVMValueRef zero = fconst(t, 0.0), one = fconst(t, 1.0), six = fconst(t, 6.0);
    switch (v->op) {
    case OP_ADD:   return LLVMBuildFAdd(b, a, c, "");
    case OP_SUB:   return LLVMBuildFSub(b, a, c, "");
    case OP_MUL:   return LLVMBuildFMul(b, a, c, "");
    case OP_DIV:   return LLVMBuildFDiv(b, a, c, "");
    case OP_POW:   return libm(L, "powf", t, a, c);
    case OP_FMOD:  return LLVMBuildFRem(b, a, c, "");    /* C's fmodf */
    case OP_NEG:   return LLVMBuildFNeg(b, a, "");
    case OP_ABS:   return intrinsic(L, "llvm.fabs", &t, 1, &a, 1);
    case OP_EXP:   return libm(L, "expf", t, a, NULL);
    case OP_LOG:   return libm(L, "logf", t, a, NULL);
    case OP_SQRT:  return intrinsic(L, "llvm.sqrt", &t, 1, &a, 1);
    case OP_RSQRT: return LLVMBuildFDiv(b, one, intrinsic(L, "llvm.sqrt", &t, 1, &a, 1), "");
    case OP_ERF:   return libm(L, "erff", t, a, NULL);
    case OP_TANH:  return libm(L, "tanhf", t, a, NULL);
    case OP_RELU:
        return LLVMBuildSelect(b, LLVMBuildFCmp(b, LLVMRealOGT, a, zero, ""), a, zero, "");
    case OP_LEAKY_RELU:
        return LLVMBuildSelect(b, LLVMBuildFCmp(b, LLVMRealOLT, a, zero, ""),
                               LLVMBuildFMul(b, fconst(t, v->attr.scalar.a), a, ""), a, "");
    case OP_RELU6: return fclamp(L, a, zero, six);
    case OP_CLIP:
        return fclamp(L, a, fconst(t, v->attr.scalar.a), fconst(t, v->attr.scalar.b));
    case OP_SIGMOID: return LLVMBuildFDiv(b, one, fsigm_den(L, t, a), "");
    case OP_SILU:    return LLVMBuildFDiv(b, a, fsigm_den(L, t, a), "");
    case OP_HARDSWISH: {
        LLVMValueRef r = fclamp(L, LLVMBuildFAdd(b, a, fconst(t, 3.0), ""), zero, six);
        return LLVMBuildFDiv(b, LLVMBuildFMul(b, a, r, ""), six, "");
    }
    case OP_GELU: {
        LLVMValueRef h = LLVMBuildFMul(b, fconst(t, 0.5), a, ""), in;
        if (v->attr.gelu.tanh_approx) {
            LLVMValueRef c3 = LLVMBuildFMul(b, fconst(t, (float)0.044715), a, "");
            c3 = LLVMBuildFMul(b, LLVMBuildFMul(b, c3, a, ""), a, "");
            in = LLVMBuildFMul(b, fconst(t, (float)0.7978845608028654),
                               LLVMBuildFAdd(b, a, c3, ""), "");
            in = libm(L, "tanhf", t, in, NULL);
        } else {
            in = libm(L, "erff", t, LLVMBuildFDiv(b, a, fconst(t, (float)1.41421356237309515),
                                                  ""), NULL);
        }
        return LLVMBuildFMul(b, h, LLVMBuildFAdd(b, one, in, ""), "");
    }
    case OP_EQUAL:   return bool_of(L, LLVMBuildFCmp(b, LLVMRealOEQ, a, c, ""));
    case OP_LESS:    return bool_of(L, LLVMBuildFCmp(b, LLVMRealOLT, a, c, ""));
    case OP_GREATER: return bool_of(L, LLVMBuildFCmp(b, LLVMRealOGT, a, c, ""));
    /* roundeven is round's half-to-even without depending on the rounding mode */
    case OP_FLOOR:   return intrinsic(L, "llvm.floor", &t, 1, &a, 1);
    case OP_CEIL:    return intrinsic(L, "llvm.ceil", &t, 1, &a, 1);
    case OP_ROUND:   return intrinsic(L, "llvm.roundeven", &t, 1, &a, 1);
    case OP_SIN:     return intrinsic(L, "llvm.sin", &t, 1, &a, 1);
    case OP_COS:     return intrinsic(L, "llvm.cos", &t, 1, &a, 1);
    case OP_TAN:     return libm(L, "tanf", t, a, NULL);
    case OP_ASIN:    return libm(L, "asinf", t, a, NULL);
    case OP_ACOS:    return libm(L, "acosf", t, a, NULL);
    case OP_ATAN:    return libm(L, "atanf", t, a, NULL);
    case OP_SINH:    return libm(L, "sinhf", t, a, NULL);
    case OP_COSH:    return libm(L, "coshf", t, a, NULL);
    case OP_ASINH:   return libm(L, "asinhf", t, a, NULL);
    case OP_ACOSH:   return libm(L, "acoshf", t, a, NULL);
    case OP_ATANH:   return libm(L, "atanhf", t, a, NULL);
    default:
        kiln_die("loop form: %s on f32", op_name[v->op]);
    }
}

static LLVMValueRef
f64_op(Ln *L, const LoopVal *v, LLVMValueRef a, LLVMValueRef c)
{
    LLVMBuilderRef b = L->x->b;
    switch (v->op) {
    case OP_ADD: return LLVMBuildFAdd(b, a, c, "");
    case OP_SUB: return LLVMBuildFSub(b, a, c, "");
    case OP_MUL: return LLVMBuildFMul(b, a, c, "");
    case OP_DIV: return LLVMBuildFDiv(b, a, c, "");
    case OP_EXP: return libm(L, "exp", L->x->f64, a, NULL);
    case OP_LOG: return libm(L, "log", L->x->f64, a, NULL);
    default:
        kiln_die("loop form: %s on f64", op_name[v->op]);
    }
}

/* Integer division truncating toward zero; x / -1 wraps instead of trapping. */
static LLVMValueRef
int_div(Ln *L, LpType t, LLVMValueRef a, LLVMValueRef c)
{
    LLVMBuilderRef b = L->x->b;
    LLVMTypeRef lt = LLVMTypeOf(a);
    if (is_unsigned(t))
        return LLVMBuildUDiv(b, a, c, "");
    LLVMValueRef m1 = LLVMBuildICmp(b, LLVMIntEQ, c, LLVMConstAllOnes(lt), "");
    LLVMValueRef safe = LLVMBuildSelect(b, m1, LLVMConstInt(lt, 1, 0), c, "");
    LLVMValueRef q = LLVMBuildSDiv(b, a, safe, "");
    return LLVMBuildSelect(b, m1, LLVMBuildNeg(b, a, ""), q, "");
}

static LLVMValueRef
int_op(Ln *L, const LoopVal *v, LLVMValueRef a, LLVMValueRef c)
{
    LLVMBuilderRef b = L->x->b;
    LpType t = v->in;
    int u = is_unsigned(t);
    LLVMTypeRef lt = LLVMTypeOf(a);
    LLVMValueRef zero = LLVMConstNull(lt), six = LLVMConstInt(lt, 6, 0);
    LLVMIntPredicate lt_p = u ? LLVMIntULT : LLVMIntSLT, gt_p = u ? LLVMIntUGT : LLVMIntSGT;
    switch (v->op) {
    case OP_ADD: return LLVMBuildAdd(b, a, c, "");
    case OP_SUB: return LLVMBuildSub(b, a, c, "");
    case OP_MUL: return LLVMBuildMul(b, a, c, "");
    case OP_DIV: return int_div(L, t, a, c);
    case OP_NEG: return LLVMBuildNeg(b, a, "");
    case OP_ABS:
        if (u)
            return a;
        return LLVMBuildSelect(b, LLVMBuildICmp(b, LLVMIntSLT, a, zero, ""),
                               LLVMBuildNeg(b, a, ""), a, "");
    case OP_RELU:
        return LLVMBuildSelect(b, LLVMBuildICmp(b, gt_p, a, zero, ""), a, zero, "");
    case OP_RELU6: {
        LLVMValueRef up = LLVMBuildSelect(b, LLVMBuildICmp(b, gt_p, a, six, ""), six, a, "");
        return LLVMBuildSelect(b, LLVMBuildICmp(b, lt_p, a, zero, ""), zero, up, "");
    }
    case OP_EQUAL:   return bool_of(L, LLVMBuildICmp(b, LLVMIntEQ, a, c, ""));
    case OP_LESS:    return bool_of(L, LLVMBuildICmp(b, lt_p, a, c, ""));
    case OP_GREATER: return bool_of(L, LLVMBuildICmp(b, gt_p, a, c, ""));
    default:
        kiln_die("loop form: %s on %s", op_name[v->op], cg_loop_type_name(t));
    }
}

/* x != 0 as an i1, for conditions of any type */
static LLVMValueRef
truth(Ln *L, LLVMValueRef a, LpType t)
{
    if (is_fp(t))
        return LLVMBuildFCmp(L->x->b, LLVMRealUNE, a, LLVMConstNull(LLVMTypeOf(a)), "");
    return LLVMBuildICmp(L->x->b, LLVMIntNE, a, LLVMConstNull(LLVMTypeOf(a)), "");
}

/* Conversions of loop.h: saturating float -> int (NaN -> 0), wrapping int -> int. */
static LLVMValueRef
cast(Ln *L, LLVMValueRef a, LpType from, LpType to)
{
    LLVMBuilderRef b = L->x->b;
    LLVMTypeRef tt = ltype(L->x, to);
    if (from == to)
        return a;
    if (to == DT_BOOL)
        return bool_of(L, truth(L, a, from));
    if (is_fp(from) && is_fp(to))
        return to == LT_F64 ? LLVMBuildFPExt(b, a, tt, "") : LLVMBuildFPTrunc(b, a, tt, "");
    if (is_fp(from)) {
        LLVMTypeRef ov[2] = { tt, LLVMTypeOf(a) };
        return intrinsic(L, is_unsigned(to) ? "llvm.fptoui.sat" : "llvm.fptosi.sat", ov, 2,
                         &a, 1);
    }
    if (is_fp(to))
        return is_unsigned(from) ? LLVMBuildUIToFP(b, a, tt, "") : LLVMBuildSIToFP(b, a, tt, "");
    unsigned fw = LLVMGetIntTypeWidth(LLVMTypeOf(a)), tw = LLVMGetIntTypeWidth(tt);
    if (fw == tw)
        return a;
    if (fw > tw)
        return LLVMBuildTrunc(b, a, tt, "");
    return is_unsigned(from) ? LLVMBuildZExt(b, a, tt, "") : LLVMBuildSExt(b, a, tt, "");
}

/* quantize rounding: q = isnan(r) ? z : nearbyintf(r) + z in double, clamped to [lo, hi] */
static LLVMValueRef
qround(Ln *L, const LoopVal *v, LLVMValueRef r, LLVMValueRef z)
{
    Lx *x = L->x;
    LLVMBuilderRef b = x->b;
    LLVMValueRef zd = LLVMBuildSIToFP(b, z, x->f64, "");
    LLVMValueRef rr = intrinsic(L, "llvm.nearbyint", &x->f32, 1, &r, 1);
    LLVMValueRef q = LLVMBuildFAdd(b, LLVMBuildFPExt(b, rr, x->f64, ""), zd, "");
    q = LLVMBuildSelect(b, LLVMBuildFCmp(b, LLVMRealUNO, r, r, ""), zd, q, "");
    LLVMValueRef lo = fconst(x->f64, (double)v->lo), hi = fconst(x->f64, (double)v->hi);
    LLVMValueRef qi = LLVMBuildFPToSI(b, fclamp(L, q, lo, hi), x->i32, "");
    return cast(L, qi, DT_I32, v->type);
}

/* ------------------------------------------------------------------ values */

static LLVMValueRef value(Ln *L, LpVal v);

static LLVMValueRef
index_value(Ln *L, const LoopVal *v)
{
    LLVMBuilderRef b = L->x->b;
    switch (v->kind) {
    case LV_CONST:
        if (is_fp(v->type))
            return fconst(ltype(L->x, v->type), v->f);
        return LLVMConstInt(ltype(L->x, v->type), (unsigned long long)v->i, !is_unsigned(v->type));
    case LV_VAR:
        KILN_ASSERT(L->var[v->loop]);
        return L->var[v->loop];
    case LV_IADD: return LLVMBuildNSWAdd(b, value(L, v->a), value(L, v->b), "");
    case LV_IMUL: return LLVMBuildNSWMul(b, value(L, v->a), value(L, v->b), "");
    case LV_IDIV: return LLVMBuildUDiv(b, value(L, v->a), value(L, v->b), "");
    default:
        return NULL;
    }
}

static LLVMValueRef
value(Ln *L, LpVal v)
{
    if (v == 0)
        return lx_const_i64(L->x, 0);   /* the nest builder folds a zero index to "none" */
    const LoopVal *lv = &L->n->val[v];
    LLVMValueRef r = index_value(L, lv);
    if (r)
        return r;
    KILN_ASSERT(L->val[v]);
    return L->val[v];
}

/* Index of type i64 (LET'd integers of other types used as indices are widened). */
static LLVMValueRef
index_of(Ln *L, LpVal v)
{
    return cast(L, value(L, v), L->n->val[v].type, DT_I64);
}

static LLVMValueRef
elem_ptr(Ln *L, LpBuf bf, LpVal idx)
{
    LLVMValueRef ix = index_of(L, idx);
    return LLVMBuildInBoundsGEP2(L->x->b, ltype(L->x, buf_type(L, bf)), buf_base(L, bf), &ix,
                                 1, "");
}

static LLVMValueRef
acc_slot(Ln *L, int a)
{
    if (L->acc[a])
        return L->acc[a];
    /* allocas go to the entry block so mem2reg promotes them */
    LLVMBuilderRef eb = LLVMCreateBuilderInContext(L->x->ctx);
    LLVMBasicBlockRef entry = LLVMGetEntryBasicBlock(L->fn);
    LLVMValueRef first = LLVMGetFirstInstruction(entry);
    if (first)
        LLVMPositionBuilderBefore(eb, first);
    else
        LLVMPositionBuilderAtEnd(eb, entry);
    char name[32];
    snprintf(name, sizeof name, "acc%d", a);
    L->acc[a] = LLVMBuildAlloca(eb, ltype(L->x, L->n->acc[a]), name);
    LLVMDisposeBuilder(eb);
    return L->acc[a];
}

static LLVMValueRef
let_value(Ln *L, LpVal v)
{
    const LoopVal *lv = &L->n->val[v];
    LLVMBuilderRef b = L->x->b;
    switch (lv->kind) {
    case LV_LOAD: {
        LLVMTypeRef t = ltype(L->x, lv->type);
        LLVMValueRef ld = LLVMBuildLoad2(b, t, elem_ptr(L, lv->buf, lv->a), "");
        LLVMSetAlignment(ld, (unsigned)LLVMABISizeOfType(L->x->td, t));
        return ld;
    }
    case LV_OP: {
        LLVMValueRef a = value(L, lv->a), c = lv->b ? value(L, lv->b) : NULL;
        if (lv->in == DT_F32)
            return f32_op(L, lv, a, c);
        if (lv->in == LT_F64)
            return f64_op(L, lv, a, c);
        return int_op(L, lv, a, c);
    }
    case LV_CAST:
        return cast(L, value(L, lv->a), L->n->val[lv->a].type, lv->type);
    case LV_SELECT:
        return LLVMBuildSelect(b, truth(L, value(L, lv->a), L->n->val[lv->a].type),
                               value(L, lv->b), value(L, lv->c), "");
    case LV_QROUND:
        return qround(L, lv, value(L, lv->a), value(L, lv->b));
    case LV_ACC:
        KILN_ASSERT(L->acc[lv->acc]);
        return LLVMBuildLoad2(b, ltype(L->x, L->n->acc[lv->acc]), L->acc[lv->acc], "");
    default:
        kiln_die("loop form: LET of value kind %d", (int)lv->kind);
    }
}

/* ------------------------------------------------------------------ statements */

static void stmts(Ln *L, int from, int to);

static LLVMBasicBlockRef
fail_block(Ln *L)
{
    if (!L->fail) {
        LLVMBasicBlockRef here = LLVMGetInsertBlock(L->x->b);
        L->fail = LLVMAppendBasicBlockInContext(L->x->ctx, L->fn, "erange");
        LLVMPositionBuilderAtEnd(L->x->b, L->fail);
        LLVMBuildRet(L->x->b, lx_const_i32(L->x, KILN_ERANGE));
        LLVMPositionBuilderAtEnd(L->x->b, here);
    }
    return L->fail;
}

static void
for_stmt(Ln *L, int i)
{
    const LoopStmt *s = &L->n->stmt[i];
    LxFor f;
    char name[32];
    snprintf(name, sizeof name, "i%d", i);
    lx_for_begin(L->x, &f, lx_const_i64(L->x, 0), lx_const_i64(L->x, s->extent), name);
    L->var[i] = f.iv;
    stmts(L, i + 1, s->end);
    lx_for_end(L->x, &f);
    L->var[i] = NULL;
}

static void
if_stmt(Ln *L, int i)
{
    const LoopStmt *s = &L->n->stmt[i];
    LLVMValueRef c = truth(L, value(L, s->cond), L->n->val[s->cond].type);
    LLVMBasicBlockRef then = LLVMAppendBasicBlockInContext(L->x->ctx, L->fn, "then");
    LLVMBasicBlockRef cont = LLVMAppendBasicBlockInContext(L->x->ctx, L->fn, "endif");
    LLVMBuildCondBr(L->x->b, c, then, cont);
    LLVMPositionBuilderAtEnd(L->x->b, then);
    stmts(L, i + 1, s->end);
    LLVMBuildBr(L->x->b, cont);
    LLVMPositionBuilderAtEnd(L->x->b, cont);
}

static void
simple_stmt(Ln *L, const LoopStmt *s)
{
    LLVMBuilderRef b = L->x->b;
    switch (s->kind) {
    case LS_LET:
        L->val[s->val] = let_value(L, s->val);
        break;
    case LS_ACC: {
        LLVMValueRef st = LLVMBuildStore(b, value(L, s->val), acc_slot(L, s->acc));
        (void)st;
        break;
    }
    case LS_STORE: {
        LLVMValueRef v = value(L, s->val);
        LLVMValueRef st = LLVMBuildStore(b, v, elem_ptr(L, s->buf, s->idx));
        LLVMSetAlignment(st, (unsigned)LLVMABISizeOfType(L->x->td, LLVMTypeOf(v)));
        break;
    }
    case LS_CHECK: {
        LLVMValueRef c = truth(L, value(L, s->cond), L->n->val[s->cond].type);
        LLVMBasicBlockRef ok = LLVMAppendBasicBlockInContext(L->x->ctx, L->fn, "in_range");
        LLVMBuildCondBr(b, c, fail_block(L), ok);
        LLVMPositionBuilderAtEnd(b, ok);
        break;
    }
    default:
        kiln_die("loop form: statement kind %d", (int)s->kind);
    }
}

static void
stmts(Ln *L, int from, int to)
{
    for (int i = from; i < to;) {
        const LoopStmt *s = &L->n->stmt[i];
        if (s->kind == LS_FOR) {
            for_stmt(L, i);
            i = s->end;
        } else if (s->kind == LS_IF) {
            if_stmt(L, i);
            i = s->end;
        } else {
            simple_stmt(L, s);
            i++;
        }
    }
}

/* ------------------------------------------------------------------ entry */

static void
ln_init(Ln *L, Lx *x, const CgKernel *k, const LoopNest *n, LLVMValueRef fn, LLVMValueRef *buf,
        LLVMValueRef *tab)
{
    memset(L, 0, sizeof *L);
    L->x = x;
    L->k = k;
    L->n = n;
    L->fn = fn;
    L->buf = buf;
    L->tab = tab;
    L->val = calloc(n->nval + 1, sizeof *L->val);
    L->acc = calloc((size_t)n->nacc + 1, sizeof *L->acc);
    L->var = calloc((size_t)n->nstmt + 1, sizeof *L->var);
    if (!L->val || !L->acc || !L->var)
        kiln_die("out of memory");
}

static void
ln_free(Ln *L)
{
    free(L->val);
    free(L->acc);
    free(L->var);
}

static void
tables(Lx *x, const CgKernel *k, const LoopNest *n, LLVMValueRef *tab)
{
    for (int i = 0; i < n->ntable; i++) {
        const LoopTable *t = &n->table[i];
        /* f32 or i32 entries: 4 bytes each */
        LLVMValueRef init = LLVMConstStringInContext2(x->ctx, t->data, (size_t)t->n * 4, 1);
        char name[64];
        snprintf(name, sizeof name, "n%d_table%d", k->index, i);
        tab[i] = LLVMAddGlobal(x->mod, LLVMTypeOf(init), name);
        LLVMSetInitializer(tab[i], init);
        LLVMSetGlobalConstant(tab[i], 1);
        LLVMSetLinkage(tab[i], LLVMInternalLinkage);
        LLVMSetAlignment(tab[i], 16);
    }
}

/* void n<K>_task<S>(ptr arg, i64 lo, i64 hi): top-level loop S over [lo, hi); arg holds
 * the kernel's buffer pointers. */
static LLVMValueRef
task_fn(Lx *x, const CgKernel *k, const LoopNest *n, int s, LLVMValueRef *tab)
{
    char name[64];
    snprintf(name, sizeof name, "n%d_task%d", k->index, s);
    LLVMTypeRef pt[3] = { x->ptr, x->i64, x->i64 };
    LLVMValueRef f = LLVMAddFunction(x->mod, name, LLVMFunctionType(x->voidt, pt, 3, 0));
    LLVMSetLinkage(f, LLVMInternalLinkage);
    LLVMAddAttributeAtIndex(f, LLVMAttributeFunctionIndex,
        LLVMCreateEnumAttribute(x->ctx, LLVMGetEnumAttributeKindForName("nounwind", 8), 0));
    LLVMBasicBlockRef saved = LLVMGetInsertBlock(x->b);
    LLVMMetadataRef saved_loc = LLVMGetCurrentDebugLocation2(x->b);
    LLVMPositionBuilderAtEnd(x->b, LLVMAppendBasicBlockInContext(x->ctx, f, "entry"));
    lx_debug_fn(x, f, k);
    int nb = k->nin + k->nout;
    LLVMValueRef *buf = calloc((size_t)nb + 1, sizeof *buf);
    if (!buf)
        kiln_die("out of memory");
    LLVMValueRef arg = LLVMGetParam(f, 0);
    LLVMSetValueName2(arg, "args", 4);
    LLVMSetValueName2(LLVMGetParam(f, 1), "lo", 2);
    LLVMSetValueName2(LLVMGetParam(f, 2), "hi", 2);
    for (int i = 0; i < nb; i++) {
        LLVMValueRef ix = lx_const_i64(x, i);
        const CgOperand *o = i < k->nin ? &k->in[i] : &k->out[i - k->nin];
        lx_vname(x, o->value, name, sizeof name);
        buf[i] = LLVMBuildLoad2(x->b, x->ptr, LLVMBuildInBoundsGEP2(x->b, x->ptr, arg, &ix, 1,
                                ""), name);
    }
    Ln L;
    ln_init(&L, x, k, n, f, buf, tab);
    LxFor fr;
    char name2[32];
    snprintf(name2, sizeof name2, "i%d", s);
    lx_for_begin(x, &fr, LLVMGetParam(f, 1), LLVMGetParam(f, 2), name2);
    L.var[s] = fr.iv;
    stmts(&L, s + 1, n->stmt[s].end);
    lx_for_end(x, &fr);
    LLVMBuildRetVoid(x->b);
    ln_free(&L);
    free(buf);
    LLVMPositionBuilderAtEnd(x->b, saved);
    lx_debug_set(x, saved_loc);
    return f;
}

/* kiln_parallel_for(opts, extent, task, {buffers}) for parallel top-level loop s */
static void
par_loop(Lx *x, const CgKernel *k, const LoopNest *n, int s, LLVMValueRef *buf,
         LLVMValueRef *tab, LLVMValueRef opts)
{
    LLVMValueRef task = task_fn(x, k, n, s, tab);
    int nb = k->nin + k->nout;
    LLVMTypeRef at = LLVMArrayType2(x->ptr, (uint64_t)nb);
    LLVMValueRef args = LLVMBuildAlloca(x->b, at, "task_args");
    for (int i = 0; i < nb; i++) {
        LLVMValueRef ix = lx_const_i64(x, i);
        LLVMBuildStore(x->b, buf[i], LLVMBuildInBoundsGEP2(x->b, x->ptr, args, &ix, 1, ""));
    }
    LLVMTypeRef pt[4] = { x->ptr, x->i64, x->ptr, x->ptr };
    LLVMValueRef pf = lx_extern_fn(x, "kiln_parallel_for", x->voidt, pt, 4);
    LLVMValueRef a[4] = { opts, lx_const_i64(x, n->stmt[s].extent), task, args };
    lx_call(x, pf, a, 4, "");
}

/* A parallel loop becomes a task function, which sees only the buffers: every top-level
 * statement must be a loop (no value LET outside one), and nothing may fail. */
static int
par_ok(const LoopNest *n)
{
    if (n->may_fail)
        return 0;
    for (int i = 0; i < n->nstmt; i = n->stmt[i].end)
        if (n->stmt[i].kind != LS_FOR)
            return 0;
    return 1;
}

int
lx_loop_emit(Lx *x, const CgKernel *k, const LoopNest *n, LLVMValueRef fn, LLVMValueRef *buf,
             LLVMValueRef opts)
{
    LLVMValueRef *tab = calloc((size_t)n->ntable + 1, sizeof *tab);
    if (!tab)
        kiln_die("out of memory");
    tables(x, k, n, tab);
    Ln L;
    ln_init(&L, x, k, n, fn, buf, tab);
    for (int i = 0; i < n->nstmt;) {
        const LoopStmt *s = &n->stmt[i];
        int end = s->kind == LS_FOR || s->kind == LS_IF ? s->end : i + 1;
        if (s->kind == LS_FOR && s->par && par_ok(n))
            par_loop(x, k, n, i, buf, tab, opts);
        else
            stmts(&L, i, end);
        i = end;
    }
    ln_free(&L);
    free(tab);
    return 0;
}
