/* codegen/loop.c — the loop-form builder: growable statement and value arrays, simplified
 * rectangular iteration spaces (Iter), the typing rules of scalar ops, the readable dump
 * and cg_loop_build, which hands each kernel to the per-op builders in loop_ops.c. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "loop_impl.h"
#include "util.h"

/* ------------------------------------------------------------------ iteration spaces */

void
contig_strides(const TensorType *t, int64_t *st)
{
    int64_t s = 1;
    for (int d = t->rank - 1; d >= 0; d--) {
        st[d] = s;
        s *= t->dims[d];
    }
}

void
iter_init(Iter *it, int rank, const int64_t *dims)
{
    memset(it, 0, sizeof *it);
    it->rank = rank;
    for (int d = 0; d < rank; d++)
        it->dims[d] = dims[d];
}

int
iter_add(Iter *it, int64_t base, const int64_t *st)
{
    KILN_ASSERT(it->np < ITER_MAXP);
    it->base[it->np] = base;
    for (int d = 0; d < it->rank; d++)
        it->st[it->np][d] = st ? st[d] : 0;
    return it->np++;
}

static void
drop_dim(Iter *it, int d)
{
    for (int k = d; k + 1 < it->rank; k++) {
        it->dims[k] = it->dims[k + 1];
        for (int p = 0; p < it->np; p++)
            it->st[p][k] = it->st[p][k + 1];
    }
    it->rank--;
}

void
iter_simplify(Iter *it)
{
    for (int d = it->rank - 1; d >= 0; d--)
        if (it->dims[d] == 1)
            drop_dim(it, d);
    for (int d = it->rank - 2; d >= 0; d--) {
        int ok = 1;
        for (int p = 0; p < it->np && ok; p++)
            ok = it->st[p][d] == it->st[p][d + 1] * it->dims[d + 1];
        if (!ok)
            continue;
        for (int p = 0; p < it->np; p++)
            it->st[p][d] = it->st[p][d + 1];
        it->dims[d] *= it->dims[d + 1];
        drop_dim(it, d + 1);
    }
}

void
iter_open(LB *b, Iter *it)
{
    for (int d = 0; d < it->rank; d++) {
        it->loop[d] = lb_for(b, it->dims[d]);
        it->var[d] = lb_var(b, it->loop[d]);
    }
}

void
iter_close(LB *b, const Iter *it)
{
    for (int d = it->rank - 1; d >= 0; d--)
        lb_end(b, it->loop[d]);
}

LpVal
iter_idx(LB *b, const Iter *it, int p)
{
    LpVal v = it->base[p] ? lb_const_i(b, DT_I64, it->base[p]) : 0;
    for (int d = 0; d < it->rank; d++)
        v = lb_iadd(b, v, lb_imul(b, it->var[d], it->st[p][d]));
    return v ? v : lb_const_i(b, DT_I64, 0);
}

/* ------------------------------------------------------------------ values */

static LpVal
new_val(LB *b, LpValKind kind, LpType t)
{
    if (b->n.nval == 0)
        b->n.nval = 1;                     /* slot 0 = none */
    b->n.val = kiln_grow(b->n.val, &b->capval, b->n.nval + 1, sizeof *b->n.val);
    LpVal v = b->n.nval++;
    memset(&b->n.val[v], 0, sizeof b->n.val[v]);
    b->n.val[v].kind = kind;
    b->n.val[v].type = t;
    return v;
}

static int
new_stmt(LB *b, LpStmtKind kind)
{
    b->n.stmt = kiln_grow(b->n.stmt, &b->capstmt, (uint32_t)b->n.nstmt + 1, sizeof *b->n.stmt);
    int s = b->n.nstmt++;
    memset(&b->n.stmt[s], 0, sizeof b->n.stmt[s]);
    b->n.stmt[s].kind = kind;
    return s;
}

static LpVal
let(LB *b, LpVal v)
{
    int s = new_stmt(b, LS_LET);
    b->n.stmt[s].val = v;
    return v;
}

LpType
lb_type(const LB *b, LpVal v)
{
    KILN_ASSERT(v > 0 && v < b->n.nval);
    return b->n.val[v].type;
}

static int
const_is(const LB *b, LpVal v, int64_t c)
{
    return v && b->n.val[v].kind == LV_CONST && b->n.val[v].i == c;
}

LpVal
lb_const_i(LB *b, LpType t, int64_t i)
{
    LpVal v = new_val(b, LV_CONST, t);
    b->n.val[v].i = i;
    b->n.val[v].f = (double)i;
    return v;
}

LpVal
lb_const_f(LB *b, LpType t, double f)
{
    LpVal v = new_val(b, LV_CONST, t);
    b->n.val[v].f = t == DT_F32 ? (double)(float)f : f;
    return v;
}

/* Pad fill values: float converted like cast (interp.c's interp_setf). */
LpVal
lb_const_cast(LB *b, LpType t, float f)
{
    static const double lo[DT_COUNT] = { [DT_I32] = -2147483648.0,
        [DT_I64] = -9223372036854775808.0, [DT_I8] = -128, [DT_U8] = 0 };
    static const double hi[DT_COUNT] = { [DT_I32] = 2147483647.0,
        [DT_I64] = 9223372036854775808.0, [DT_I8] = 127, [DT_U8] = 255 };
    if (t == DT_F32 || t == LT_F64)
        return lb_const_f(b, t, f);
    if (t == DT_BOOL)
        return lb_const_i(b, t, f != 0);
    double d = f;
    int64_t q = isnan(d) ? 0 : d <= lo[t] ? (int64_t)lo[t] : d >= hi[t] ?
                (t == DT_I64 ? INT64_MAX : (int64_t)hi[t]) : (int64_t)d;
    return lb_const_i(b, t, q);
}

LpVal
lb_var(LB *b, int loop)
{
    LpVal v = new_val(b, LV_VAR, DT_I64);
    b->n.val[v].loop = loop;
    return v;
}

LpVal
lb_iadd(LB *b, LpVal x, LpVal y)
{
    if (!x || const_is(b, x, 0))
        return y;
    if (!y || const_is(b, y, 0))
        return x;
    KILN_ASSERT(lb_type(b, x) == DT_I64 && lb_type(b, y) == DT_I64);
    LpVal v = new_val(b, LV_IADD, DT_I64);
    b->n.val[v].a = x;
    b->n.val[v].b = y;
    return v;
}

LpVal
lb_imul(LB *b, LpVal x, int64_t c)
{
    if (c == 0)
        return 0;
    if (c == 1)
        return x;
    LpVal k = lb_const_i(b, DT_I64, c);   /* first: new_val may move n.val */
    LpVal v = new_val(b, LV_IMUL, DT_I64);
    b->n.val[v].a = x;
    b->n.val[v].b = k;
    return v;
}

LpVal
lb_idiv(LB *b, LpVal x, int64_t c)
{
    KILN_ASSERT(c > 0);
    if (c == 1)
        return x;
    LpVal k = lb_const_i(b, DT_I64, c);   /* first: new_val may move n.val */
    LpVal v = new_val(b, LV_IDIV, DT_I64);
    b->n.val[v].a = x;
    b->n.val[v].b = k;
    return v;
}

LpVal
lb_load(LB *b, LpBufKind kind, int index, LpVal idx)
{
    LpType t;
    switch (kind) {
    case LB_IN:    t = b->k->in[index].type.dtype; break;
    case LB_OUT:   t = b->k->out[index].type.dtype; break;
    case LB_TABLE: t = b->n.table[index].type; break;
    default:       kiln_die("bad buffer kind %d", (int)kind);
    }
    KILN_ASSERT(lb_type(b, idx) == DT_I64);
    LpVal v = new_val(b, LV_LOAD, t);
    b->n.val[v].buf = (LpBuf){ kind, index };
    b->n.val[v].a = idx;
    return let(b, v);
}

/* The op/type pairs every emitter implements (loop.h lists their semantics). */
static int
supported(Op op, LpType t)
{
    if (t == DT_F32)       /* mod is built from fmod by the lowering (loop_ops.c) */
        return (op_flags[op] & F_ELTWISE) && op != OP_MOD;
    if (t == LT_F64)
        return op == OP_ADD || op == OP_SUB || op == OP_MUL || op == OP_DIV || op == OP_EXP ||
               op == OP_LOG;
    switch (op) {
    case OP_ADD: case OP_SUB: case OP_MUL: case OP_DIV: case OP_NEG: case OP_ABS:
    case OP_RELU: case OP_RELU6: case OP_EQUAL: case OP_LESS: case OP_GREATER:
        return 1;
    default:
        return 0;
    }
}

LpVal
lb_op(LB *b, Op op, const Attr *at, LpVal x, LpVal y)
{
    LpType t = lb_type(b, x);
    if (!supported(op, t)) {
        if (!b->err)
            diag_error(b->d, b->nd->loc, "%s on %s is not supported by the C backend",
                       op_name[op], cg_loop_type_name(t));
        b->err = 1;
        return x;
    }
    KILN_ASSERT(!y || lb_type(b, y) == t);
    LpVal v = new_val(b, LV_OP, (op_flags[op] & F_CMP) ? DT_BOOL : t);
    LoopVal *lv = &b->n.val[v];
    lv->op = op;
    if (at)
        lv->attr = *at;
    lv->in = t;
    lv->a = x;
    lv->b = y;
    return let(b, v);
}

LpVal
lb_cast(LB *b, LpVal x, LpType to)
{
    if (lb_type(b, x) == to)
        return x;
    LpVal v = new_val(b, LV_CAST, to);
    b->n.val[v].a = x;
    return let(b, v);
}

LpVal
lb_select(LB *b, LpVal c, LpVal x, LpVal y)
{
    KILN_ASSERT(lb_type(b, x) == lb_type(b, y));
    LpVal v = new_val(b, LV_SELECT, lb_type(b, x));
    b->n.val[v].a = c;
    b->n.val[v].b = x;
    b->n.val[v].c = y;
    return let(b, v);
}

LpVal
lb_qround(LB *b, LpVal r, LpVal zero, LpType to, int64_t lo, int64_t hi)
{
    KILN_ASSERT(lb_type(b, r) == DT_F32 && lb_type(b, zero) == DT_I32);
    LpVal v = new_val(b, LV_QROUND, to);
    b->n.val[v].a = r;
    b->n.val[v].b = zero;
    b->n.val[v].lo = lo;
    b->n.val[v].hi = hi;
    return let(b, v);
}

/* ------------------------------------------------------------------ statements */

int
lb_for(LB *b, int64_t extent)
{
    KILN_ASSERT(extent >= 0);           /* 0: an empty operand, a zero-trip loop */
    int s = new_stmt(b, LS_FOR);
    b->n.stmt[s].extent = extent;
    return s;
}

int
lb_if(LB *b, LpVal cond)
{
    int s = new_stmt(b, LS_IF);
    b->n.stmt[s].cond = cond;
    return s;
}

void
lb_end(LB *b, int s)
{
    KILN_ASSERT(b->n.stmt[s].kind == LS_FOR || b->n.stmt[s].kind == LS_IF);
    b->n.stmt[s].end = b->n.nstmt;
}

int
lb_acc_new(LB *b, LpType t)
{
    b->n.acc = kiln_grow(b->n.acc, &b->capacc, (uint32_t)b->n.nacc + 1, sizeof *b->n.acc);
    b->n.acc[b->n.nacc] = t;
    return b->n.nacc++;
}

void
lb_acc_set(LB *b, int acc, LpVal v)
{
    KILN_ASSERT(lb_type(b, v) == b->n.acc[acc]);
    int s = new_stmt(b, LS_ACC);
    b->n.stmt[s].acc = acc;
    b->n.stmt[s].val = v;
}

LpVal
lb_acc_get(LB *b, int acc)
{
    LpVal v = new_val(b, LV_ACC, b->n.acc[acc]);
    b->n.val[v].acc = acc;
    return let(b, v);
}

void
lb_store(LB *b, int out, LpVal idx, LpVal v)
{
    /* after a reported error the value may have the operand's type: nothing is emitted */
    KILN_ASSERT(b->err || lb_type(b, v) == (LpType)b->k->out[out].type.dtype);
    KILN_ASSERT(lb_type(b, idx) == DT_I64);
    int s = new_stmt(b, LS_STORE);
    b->n.stmt[s].buf = (LpBuf){ LB_OUT, out };
    b->n.stmt[s].idx = idx;
    b->n.stmt[s].val = v;
}

void
lb_check(LB *b, LpVal cond)
{
    int s = new_stmt(b, LS_CHECK);
    b->n.stmt[s].cond = cond;
    b->n.may_fail = 1;
}

int
lb_table(LB *b, LpType t, int64_t n, const void *data)
{
    KILN_ASSERT(t == DT_F32 || t == DT_I32);
    b->n.table = kiln_grow(b->n.table, &b->captable, (uint32_t)b->n.ntable + 1,
                           sizeof *b->n.table);
    size_t bytes = (size_t)(n ? n : 1) * 4;
    void *copy = arena_alloc(b->m->arena, bytes);
    memcpy(copy, data, (size_t)n * 4);
    b->n.table[b->n.ntable] = (LoopTable){ t, n, copy };
    return b->n.ntable++;
}

/* ------------------------------------------------------------------ finishing */

/* Elements index v moves per trip of loop `loop`; -1 = not affine in it.  defat[v] is
 * the statement computing a LET'd value: one before the loop is invariant in it. */
static int64_t
coef(const LoopNest *n, const int *defat, LpVal v, int loop)
{
    const LoopVal *x = &n->val[v];
    switch (x->kind) {
    case LV_CONST: return 0;
    case LV_VAR:   return x->loop == loop;
    case LV_IADD: {
        int64_t a = coef(n, defat, x->a, loop), b = coef(n, defat, x->b, loop);
        return a < 0 || b < 0 ? -1 : a + b;
    }
    case LV_IMUL: {
        int64_t a = coef(n, defat, x->a, loop);
        return a < 0 ? -1 : a * n->val[x->b].i;
    }
    case LV_IDIV:  return coef(n, defat, x->a, loop) == 0 ? 0 : -1;
    default:       return defat[v] < loop ? 0 : -1;   /* a LET'd integer */
    }
}

static int
unit_ok(const LoopNest *n, const int *defat, LpVal idx, int loop)
{
    int64_t c = coef(n, defat, idx, loop);
    return c == 0 || c == 1;
}

/* LS_FOR.unit: innermost loops whose loads and stores all move by 0 or 1 element. */
static void
mark_unit(LoopNest *n)
{
    int *defat = calloc(n->nval + 1, sizeof *defat);
    if (!defat)
        kiln_die("out of memory");
    for (int s = 0; s < n->nstmt; s++)
        if (n->stmt[s].kind == LS_LET)
            defat[n->stmt[s].val] = s;
    for (int s = 0; s < n->nstmt; s++) {
        LoopStmt *f = &n->stmt[s];
        if (f->kind != LS_FOR)
            continue;
        int ok = 1;
        for (int i = s + 1; i < f->end && ok; i++) {
            const LoopStmt *t = &n->stmt[i];
            if (t->kind == LS_FOR || t->kind == LS_IF || t->kind == LS_CHECK)
                ok = 0;
            else if (t->kind == LS_STORE)
                ok = unit_ok(n, defat, t->idx, s);
            else if (t->kind == LS_LET && n->val[t->val].kind == LV_LOAD)
                ok = unit_ok(n, defat, n->val[t->val].a, s);
        }
        f->unit = ok;
    }
    free(defat);
}

static void *
to_arena(Arena *a, const void *p, size_t n)
{
    void *r = arena_alloc(a, n ? n : 1);
    if (n)
        memcpy(r, p, n);
    return r;
}

LoopNest *
cg_loop_build(CgModule *m, const CgKernel *k, Diag *d, int *err)
{
    const Node *nd = &m->g->nodes[k->node];
    *err = 0;
    if (k->kind != CK_LOOP && !(k->kind == CK_CALL && nd->nepi > 0))
        return NULL;
    LB b = { .m = m, .k = k, .nd = nd, .d = d };
    loop_ops_build(&b);
    LoopNest *n = NULL;
    if (!b.err) {
        mark_unit(&b.n);
        n = arena_alloc(m->arena, sizeof *n);
        *n = b.n;
        n->stmt = to_arena(m->arena, b.n.stmt, (size_t)b.n.nstmt * sizeof *n->stmt);
        n->val = to_arena(m->arena, b.n.val, (size_t)b.n.nval * sizeof *n->val);
        n->acc = to_arena(m->arena, b.n.acc, (size_t)b.n.nacc * sizeof *n->acc);
        n->table = to_arena(m->arena, b.n.table, (size_t)b.n.ntable * sizeof *n->table);
    }
    free(b.n.stmt);
    free(b.n.val);
    free(b.n.acc);
    free(b.n.table);
    *err = b.err;
    return n;
}

/* ------------------------------------------------------------------ dump */

const char *
cg_loop_type_name(LpType t)
{
    return t == LT_F64 ? "f64" : ir_dtype_name((DType)t);
}

static void
print_val(const LoopNest *n, LpVal v, FILE *out)
{
    const LoopVal *x = &n->val[v];
    switch (x->kind) {
    case LV_CONST:
        if (x->type == DT_F32 || x->type == LT_F64)
            fprintf(out, "%g:%s", x->f, cg_loop_type_name(x->type));
        else
            fprintf(out, "%lld:%s", (long long)x->i, cg_loop_type_name(x->type));
        return;
    case LV_VAR:  fprintf(out, "i%d", x->loop); return;
    case LV_IADD: fputc('(', out); print_val(n, x->a, out); fputs(" + ", out);
                  print_val(n, x->b, out); fputc(')', out); return;
    case LV_IMUL: print_val(n, x->a, out); fprintf(out, "*%lld", (long long)n->val[x->b].i);
                  return;
    case LV_IDIV: print_val(n, x->a, out); fprintf(out, "/%lld", (long long)n->val[x->b].i);
                  return;
    default:      fprintf(out, "v%u", v); return;
    }
}

static void
print_def(const LoopNest *n, LpVal v, FILE *out)
{
    const LoopVal *x = &n->val[v];
    static const char *const buf[LB_COUNT] = { "?", "in", "out", "table" };
    fprintf(out, "v%u:%s = ", v, cg_loop_type_name(x->type));
    switch (x->kind) {
    case LV_LOAD:
        fprintf(out, "load %s%d[", buf[x->buf.kind], x->buf.index);
        print_val(n, x->a, out);
        fputc(']', out);
        break;
    case LV_OP:     fprintf(out, "%s", op_name[x->op]); break;
    case LV_CAST:   fputs("cast", out); break;
    case LV_SELECT: fputs("select", out); break;
    case LV_QROUND: fprintf(out, "qround[%lld,%lld]", (long long)x->lo, (long long)x->hi); break;
    case LV_ACC:    fprintf(out, "acc%d", x->acc); break;
    default:        fputs("?", out); break;
    }
    LpVal ops[3] = { x->a, x->b, x->c };
    for (int i = 0; i < 3 && x->kind != LV_LOAD; i++)
        if (ops[i]) {
            fputc(' ', out);
            print_val(n, ops[i], out);
        }
}

void
cg_loop_print(const LoopNest *n, FILE *out)
{
    int depth = 0, close[KILN_MAX_RANK * 4 + 8], nclose = 0;
    for (int s = 0; s < n->nstmt; s++) {
        while (nclose && close[nclose - 1] == s)
            nclose--, depth--;
        const LoopStmt *t = &n->stmt[s];
        fprintf(out, "%*s", 2 * depth, "");
        switch (t->kind) {
        case LS_FOR:
            fprintf(out, "for i%d < %lld%s%s\n", s, (long long)t->extent, t->par ? " par" : "",
                    t->unit ? " unit" : "");
            break;
        case LS_IF:
            fputs("if ", out);
            print_val(n, t->cond, out);
            fputc('\n', out);
            break;
        case LS_LET:   print_def(n, t->val, out); fputc('\n', out); break;
        case LS_ACC:   fprintf(out, "acc%d = ", t->acc); print_val(n, t->val, out);
                       fputc('\n', out); break;
        case LS_STORE:
            fprintf(out, "store out%d[", t->buf.index);
            print_val(n, t->idx, out);
            fputs("] = ", out);
            print_val(n, t->val, out);
            fputc('\n', out);
            break;
        case LS_CHECK: fputs("check ", out); print_val(n, t->cond, out); fputc('\n', out); break;
        default:       fputs("?\n", out); break;
        }
        if (t->kind == LS_FOR || t->kind == LS_IF) {
            KILN_ASSERT(nclose < (int)(sizeof close / sizeof *close));
            close[nclose++] = t->end;
            depth++;
        }
    }
}
