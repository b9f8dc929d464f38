/* codegen/c/emit_c_loops.c — the C printer of the loop form (codegen/loop.h): one switch
 * over statement kinds, one over value kinds, one over scalar ops.  It adds only syntax:
 * every loop, index, type and formula comes from the LoopNest built by lowering.
 *
 * Approach: loop variables are i<statement>, LET'd values v<id>, accumulators acc<n>,
 * tables tab<n>; index values print inline ("i3 * 8 + i4") so the inner loops stay the
 * simple, restrict-qualified, unit-stride loops gcc and clang vectorise.  A top-level loop
 * marked parallel becomes a task function n<K>_task<S> run through kiln_parallel_for.
 */
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include "emit_c.h"
#include "util.h"

enum { EXPR_MAX = 4096 };      /* longest C expression of one value */

typedef struct {
    Emit           *e;         /* output and diagnostics */
    const CgKernel *k;         /* kernel whose nest is printed */
    const LoopNest *n;         /* the nest */
    int             task;      /* 1: printing a task body: the par loop runs [lo, hi) */
    char           *declared;  /* per accumulator: 1 once its C variable is declared */
} Pr;

void
ec_indent(Emit *e, int n)
{
    fprintf(e->out, "%*s", 4 * n, "");
}

const char *
ec_float(float f, char *buf, size_t len)
{
    if (isnan(f))
        snprintf(buf, len, "NAN");
    else if (isinf(f))
        snprintf(buf, len, f < 0 ? "-INFINITY" : "INFINITY");
    else
        snprintf(buf, len, "%af", (double)f);
    return buf;
}

const char *
ec_type(LpType t)
{
    return t == LT_F64 ? "double" : cg_ctype((DType)t);
}

/* ------------------------------------------------------------------ expressions */

/* snprintf that treats truncation as an internal error (expressions are bounded). */
static void
put(char *buf, size_t len, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(buf, len, fmt, ap);
    va_end(ap);
    KILN_ASSERT(n >= 0 && (size_t)n < len);
}

static int
is_flt(LpType t)
{
    return t == DT_F32 || t == LT_F64;
}

static void
const_text(const LoopVal *x, char *buf, size_t len)
{
    if (x->type == DT_F32) {
        ec_float((float)x->f, buf, len);
    } else if (x->type == LT_F64) {
        if (isinf(x->f))
            put(buf, len, x->f < 0 ? "-(double)INFINITY" : "(double)INFINITY");
        else
            put(buf, len, "%a", x->f);
    } else if (x->i == INT64_MIN) {
        put(buf, len, "INT64_MIN");
    } else if (x->i < INT32_MIN || x->i > INT32_MAX) {
        put(buf, len, "INT64_C(%lld)", (long long)x->i);
    } else {
        put(buf, len, "%lld", (long long)x->i);
    }
}

/* C text of value v: index values inline, others by the name their LET gave them. */
static char *
ex(const Pr *p, LpVal v, char *buf, size_t len)
{
    const LoopVal *x = &p->n->val[v];
    char a[EXPR_MAX];
    switch (x->kind) {
    case LV_CONST:
        const_text(x, buf, len);
        break;
    case LV_VAR:
        put(buf, len, "i%d", x->loop);
        break;
    case LV_IADD: {
        char b[EXPR_MAX];
        put(buf, len, "%s + %s", ex(p, x->a, a, sizeof a), ex(p, x->b, b, sizeof b));
        break;
    }
    case LV_IMUL: case LV_IDIV: {
        int paren = p->n->val[x->a].kind == LV_IADD;
        put(buf, len, "%s%s%s %c %lld", paren ? "(" : "", ex(p, x->a, a, sizeof a),
                 paren ? ")" : "", x->kind == LV_IMUL ? '*' : '/',
                 (long long)p->n->val[x->b].i);
        break;
    }
    default:
        put(buf, len, "v%u", v);
        break;
    }
    return buf;
}

/* Formula of a float op (f32 functions, or the double ones for LT_F64). */
static int
float_op(const LoopVal *x, const char *a, const char *b, char *buf, size_t len)
{
    char s[64], t[64];
    const char *f = x->in == LT_F64 ? "" : "f";   /* expf vs exp */
    const Attr *at = &x->attr;
    switch (x->op) {
    case OP_ADD:   put(buf, len, "%s + %s", a, b); break;
    case OP_SUB:   put(buf, len, "%s - %s", a, b); break;
    case OP_MUL:   put(buf, len, "%s * %s", a, b); break;
    case OP_DIV:   put(buf, len, "%s / %s", a, b); break;
    case OP_POW:   put(buf, len, "powf(%s, %s)", a, b); break;
    case OP_FMOD:  put(buf, len, "fmodf(%s, %s)", a, b); break;
    case OP_NEG:   put(buf, len, "-%s", a); break;
    case OP_ABS:   put(buf, len, "fabsf(%s)", a); break;
    case OP_EXP:   put(buf, len, "exp%s(%s)", f, a); break;
    case OP_LOG:   put(buf, len, "log%s(%s)", f, a); break;
    case OP_SQRT:  put(buf, len, "sqrtf(%s)", a); break;
    case OP_RSQRT: put(buf, len, "1.0f / sqrtf(%s)", a); break;
    case OP_ERF:   put(buf, len, "erff(%s)", a); break;
    case OP_RELU:  put(buf, len, "%s > 0.0f ? %s : 0.0f", a, a); break;
    case OP_LEAKY_RELU:
        put(buf, len, "%s < 0.0f ? %s * %s : %s", a, ec_float(at->scalar.a, s, sizeof s),
                 a, a);
        break;
    case OP_RELU6:
        put(buf, len, "%s < 0.0f ? 0.0f : %s > 6.0f ? 6.0f : %s", a, a, a);
        break;
    case OP_CLIP:
        ec_float(at->scalar.a, s, sizeof s);
        ec_float(at->scalar.b, t, sizeof t);
        put(buf, len, "%s < %s ? %s : %s > %s ? %s : %s", a, s, s, a, t, t, a);
        break;
    case OP_SIGMOID: put(buf, len, "1.0f / (1.0f + expf(-%s))", a); break;
    case OP_TANH:    put(buf, len, "tanhf(%s)", a); break;
    case OP_GELU:
        if (at->gelu.tanh_approx)
            put(buf, len, "0.5f * %s * (1.0f + tanhf(0.7978845608028654f * (%s + "
                     "0.044715f * %s * %s * %s)))", a, a, a, a, a);
        else
            put(buf, len, "0.5f * %s * (1.0f + erff(%s / 1.41421356237309515f))", a, a);
        break;
    case OP_SILU: put(buf, len, "%s / (1.0f + expf(-%s))", a, a); break;
    case OP_HARDSWISH:
        put(buf, len, "%s * (%s + 3.0f < 0.0f ? 0.0f : %s + 3.0f > 6.0f ? 6.0f : "
                 "%s + 3.0f) / 6.0f", a, a, a, a);
        break;
    case OP_EQUAL:   put(buf, len, "%s == %s", a, b); break;
    case OP_LESS:    put(buf, len, "%s < %s", a, b); break;
    case OP_GREATER: put(buf, len, "%s > %s", a, b); break;
    case OP_FLOOR:   put(buf, len, "floorf(%s)", a); break;
    case OP_CEIL:    put(buf, len, "ceilf(%s)", a); break;
    case OP_ROUND:   put(buf, len, "nearbyintf(%s)", a); break;    /* default mode: ties even */
    case OP_SIN:     put(buf, len, "sinf(%s)", a); break;
    case OP_COS:     put(buf, len, "cosf(%s)", a); break;
    case OP_TAN:     put(buf, len, "tanf(%s)", a); break;
    case OP_ASIN:    put(buf, len, "asinf(%s)", a); break;
    case OP_ACOS:    put(buf, len, "acosf(%s)", a); break;
    case OP_ATAN:    put(buf, len, "atanf(%s)", a); break;
    case OP_SINH:    put(buf, len, "sinhf(%s)", a); break;
    case OP_COSH:    put(buf, len, "coshf(%s)", a); break;
    case OP_ASINH:   put(buf, len, "asinhf(%s)", a); break;
    case OP_ACOSH:   put(buf, len, "acoshf(%s)", a); break;
    case OP_ATANH:   put(buf, len, "atanhf(%s)", a); break;
    default:
        return -1;
    }
    return 0;
}

/* Formula of an integer op; arithmetic wraps (done in uint64_t, then truncated). */
static int
int_op(const LoopVal *x, const char *a, const char *b, char *buf, size_t len)
{
    const char *t = ec_type(x->in);
    switch (x->op) {
    case OP_ADD: put(buf, len, "(%s)((uint64_t)%s + (uint64_t)%s)", t, a, b); break;
    case OP_SUB: put(buf, len, "(%s)((uint64_t)%s - (uint64_t)%s)", t, a, b); break;
    case OP_MUL: put(buf, len, "(%s)((uint64_t)%s * (uint64_t)%s)", t, a, b); break;
    case OP_DIV:     /* a zero divisor returned KILN_ERANGE before (an LS_CHECK) */
        put(buf, len, "(%s)(%s == -1 ? (int64_t)(0 - (uint64_t)%s) : (int64_t)%s / %s)",
                 t, b, a, a, b);
        break;
    case OP_NEG: put(buf, len, "(%s)(0 - (uint64_t)%s)", t, a); break;
    case OP_ABS:
        put(buf, len, "(%s)(%s < 0 ? 0 - (uint64_t)%s : (uint64_t)%s)", t, a, a, a);
        break;
    case OP_RELU:  put(buf, len, "(%s)(%s > 0 ? %s : 0)", t, a, a); break;
    case OP_RELU6: put(buf, len, "(%s)(%s < 0 ? 0 : %s > 6 ? 6 : %s)", t, a, a, a); break;
    case OP_EQUAL:   put(buf, len, "%s == %s", a, b); break;
    case OP_LESS:    put(buf, len, "%s < %s", a, b); break;
    case OP_GREATER: put(buf, len, "%s > %s", a, b); break;
    default:
        return -1;
    }
    return 0;
}

/* Integer range of t as double bounds and C constants (interp.c's clamp). */
static void
int_range(LpType t, const char **lo, const char **hi, const char **ilo, const char **ihi)
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
static void
cast_text(LpType from, LpType to, const char *a, char *buf, size_t len)
{
    const char *tc = ec_type(to);
    if (to == DT_BOOL) {
        put(buf, len, "%s != 0", a);
    } else if (is_flt(from) && !is_flt(to)) {
        const char *lo, *hi, *ilo, *ihi;
        int_range(to, &lo, &hi, &ilo, &ihi);
        put(buf, len, "%s != %s ? 0 : (double)%s <= %s ? %s : (double)%s >= %s ? %s : "
                 "(%s)%s", a, a, a, lo, ilo, a, hi, ihi, tc, a);
    } else if (to == DT_U8 && !is_flt(from)) {
        put(buf, len, "(uint8_t)((uint64_t)%s & 0xff)", a);
    } else {
        put(buf, len, "(%s)%s", tc, a);
    }
}

/* The right-hand side of the LET of v. */
static void
rhs(const Pr *p, LpVal v, char *buf, size_t len)
{
    const LoopVal *x = &p->n->val[v];
    char a[EXPR_MAX], b[EXPR_MAX], c[EXPR_MAX];
    static const char *const bname[LB_COUNT] = { [LB_IN] = "x", [LB_OUT] = "y",
                                                 [LB_TABLE] = "tab" };
    if (x->a)
        ex(p, x->a, a, sizeof a);
    if (x->b)
        ex(p, x->b, b, sizeof b);
    switch (x->kind) {
    case LV_LOAD:
        put(buf, len, "%s%d[%s]", bname[x->buf.kind], x->buf.index, a);
        return;
    case LV_OP: {
        int st = is_flt(x->in) ? float_op(x, a, x->b ? b : NULL, buf, len)
                               : int_op(x, a, x->b ? b : NULL, buf, len);
        if (st < 0)
            kiln_die("loop form: %s on %s reached the C printer", op_name[x->op],
                     cg_loop_type_name(x->in));
        return;
    }
    case LV_CAST:
        cast_text(p->n->val[x->a].type, x->type, a, buf, len);
        return;
    case LV_SELECT:
        put(buf, len, "%s ? %s : %s", a, b, ex(p, x->c, c, sizeof c));
        return;
    case LV_QROUND:   /* round half to even in float, NaN -> zero point, then clamp */
        put(buf, len, "(%s)(%s != %s ? %s : (double)nearbyintf(%s) + %s < %lld ? %lld : "
                 "(double)nearbyintf(%s) + %s > %lld ? %lld : (int)nearbyintf(%s) + %s)",
                 ec_type(x->type), a, a, b, a, b, (long long)x->lo, (long long)x->lo, a, b,
                 (long long)x->hi, (long long)x->hi, a, b);
        return;
    case LV_ACC:
        put(buf, len, "acc%d", x->acc);
        return;
    default:
        kiln_die("loop form: value kind %d has no LET", (int)x->kind);
    }
}

/* ------------------------------------------------------------------ statements */

static void stmts(Pr *p, int from, int to, int ind);

static void
stmt(Pr *p, int s, int ind)
{
    const LoopStmt *t = &p->n->stmt[s];
    FILE *o = p->e->out;
    char a[EXPR_MAX], b[EXPR_MAX];
    ec_indent(p->e, ind);
    switch (t->kind) {
    case LS_FOR:
        if (t->par && p->task)
            fprintf(o, "for (int64_t i%d = lo; i%d < hi; i%d++) {\n", s, s, s);
        else
            fprintf(o, "for (int64_t i%d = 0; i%d < %lld; i%d++) {\n", s, s,
                    (long long)t->extent, s);
        stmts(p, s + 1, t->end, ind + 1);
        ec_indent(p->e, ind);
        fputs("}\n", o);
        return;
    case LS_IF:
        fprintf(o, "if (%s) {\n", ex(p, t->cond, a, sizeof a));
        stmts(p, s + 1, t->end, ind + 1);
        ec_indent(p->e, ind);
        fputs("}\n", o);
        return;
    case LS_LET:
        rhs(p, t->val, a, sizeof a);
        fprintf(o, "%s v%u = %s;\n", ec_type(p->n->val[t->val].type), t->val, a);
        return;
    case LS_ACC:
        if (!p->declared[t->acc])
            fprintf(o, "%s ", ec_type(p->n->acc[t->acc]));
        p->declared[t->acc] = 1;
        fprintf(o, "acc%d = %s;\n", t->acc, ex(p, t->val, a, sizeof a));
        return;
    case LS_STORE:
        fprintf(o, "y%d[%s] = %s;\n", t->buf.index, ex(p, t->idx, a, sizeof a),
                ex(p, t->val, b, sizeof b));
        return;
    case LS_CHECK:
        fprintf(o, "if (%s)\n", ex(p, t->cond, a, sizeof a));
        ec_indent(p->e, ind + 1);
        fputs("return KILN_ERANGE;\n", o);
        return;
    default:
        kiln_die("loop form: bad statement kind %d", (int)t->kind);
    }
}

static void
stmts(Pr *p, int from, int to, int ind)
{
    for (int s = from; s < to; s = p->n->stmt[s].kind == LS_FOR ||
                                    p->n->stmt[s].kind == LS_IF ? p->n->stmt[s].end : s + 1)
        stmt(p, s, ind);
}

/* ------------------------------------------------------------------ functions */

static void
tables(const Pr *p)
{
    char f[64];
    FILE *o = p->e->out;
    for (int t = 0; t < p->n->ntable; t++) {
        const LoopTable *tb = &p->n->table[t];
        fprintf(o, "    static const %s tab%d[%lld] = {", ec_type(tb->type), t, (long long)tb->n);
        for (int64_t i = 0; i < tb->n; i++) {
            if (tb->type == DT_F32)
                fprintf(o, "%s%s", i ? ", " : " ", ec_float(((const float *)tb->data)[i], f, sizeof f));
            else
                fprintf(o, "%s%d", i ? ", " : " ", (int)((const int32_t *)tb->data)[i]);
        }
        fprintf(o, " };\n    (void)tab%d;\n", t);
    }
}

static const char *
restr(const CgKernel *k)
{
    return k->alias ? "" : "restrict ";
}

/* struct n<K>_args<S> and n<K>_task<S>(arg, lo, hi): parallel loop S over [lo, hi). */
static void
task_fn(Emit *e, const CgKernel *k, const LoopNest *n, int s)
{
    FILE *o = e->out;
    fprintf(o, "struct n%d_args%d {\n", k->index, s);
    for (int i = 0; i < k->nin; i++)
        fprintf(o, "    const %s *x%d;\n", cg_ctype(k->in[i].type.dtype), i);
    for (int i = 0; i < k->nout; i++)
        fprintf(o, "    %s *y%d;\n", cg_ctype(k->out[i].type.dtype), i);
    fprintf(o, "};\n\nstatic void\nn%d_task%d(void *arg, int64_t lo, int64_t hi)\n{\n"
            "    const struct n%d_args%d *p = arg;\n", k->index, s, k->index, s);
    for (int i = 0; i < k->nin; i++)
        fprintf(o, "    const %s *%sx%d = p->x%d;\n    (void)x%d;\n",
                cg_ctype(k->in[i].type.dtype), restr(k), i, i, i);
    for (int i = 0; i < k->nout; i++)
        fprintf(o, "    %s *%sy%d = p->y%d;\n    (void)y%d;\n", cg_ctype(k->out[i].type.dtype),
                restr(k), i, i, i);
    char *decl = calloc((size_t)n->nacc + 1, 1);
    if (!decl)
        kiln_die("out of memory");
    Pr p = { .e = e, .k = k, .n = n, .task = 1, .declared = decl };
    tables(&p);
    stmt(&p, s, 1);
    free(decl);
    fputs("}\n\n", o);
}

void
ec_loop_tasks(Emit *e, const CgKernel *k, const LoopNest *n)
{
    for (int s = 0; s < n->nstmt; s = n->stmt[s].kind == LS_FOR ||
                                      n->stmt[s].kind == LS_IF ? n->stmt[s].end : s + 1)
        if (n->stmt[s].kind == LS_FOR && n->stmt[s].par)
            task_fn(e, k, n, s);
}

void
ec_loop_body(Emit *e, const CgKernel *k, const LoopNest *n)
{
    char *decl = calloc((size_t)n->nacc + 1, 1);
    if (!decl)
        kiln_die("out of memory");
    Pr p = { .e = e, .k = k, .n = n, .declared = decl };
    tables(&p);
    for (int s = 0; s < n->nstmt; s = n->stmt[s].kind == LS_FOR ||
                                      n->stmt[s].kind == LS_IF ? n->stmt[s].end : s + 1) {
        if (n->stmt[s].kind != LS_FOR || !n->stmt[s].par) {
            stmt(&p, s, 1);
            continue;
        }
        fprintf(e->out, "    struct n%d_args%d a%d = { ", k->index, s, s);
        for (int i = 0; i < k->nin; i++)
            fprintf(e->out, "x%d, ", i);
        for (int i = 0; i < k->nout; i++)
            fprintf(e->out, "y%d, ", i);
        fprintf(e->out, "};\n    kiln_parallel_for(opts, %lld, n%d_task%d, &a%d);\n",
                (long long)n->stmt[s].extent, k->index, s, s);
    }
    free(decl);
}
