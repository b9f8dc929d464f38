/* codegen/c/emit_c_loops.c — building blocks of generated C: strided loop nests (merged
 * down to as few loops as the strides allow, so gcc vectorises the inner one), exact float
 * literals and the one-line formula of every elementwise op.  The formulas are those the
 * reference interpreter specifies at the top of ir/interp.c (computed here in float). */
#include <math.h>
#include <string.h>
#include "emit_c.h"
#include "util.h"

void
ec_indent(Emit *e, int n)
{
    fprintf(e->out, "%*s", 4 * n, "");
}

void
nest_init(Nest *n, int rank, const int64_t *dims, char var)
{
    memset(n, 0, sizeof *n);
    n->rank = rank;
    for (int d = 0; d < rank; d++)
        n->dims[d] = dims[d];
    n->var = var;
}

int
nest_add(Nest *n, int64_t base, const int64_t *st)
{
    KILN_ASSERT(n->np < NEST_MAXP);
    n->base[n->np] = base;
    for (int d = 0; d < n->rank; d++)
        n->st[n->np][d] = st ? st[d] : 0;
    return n->np++;
}

void
nest_contig(const TensorType *t, int64_t *st)
{
    int64_t s = 1;
    for (int d = t->rank - 1; d >= 0; d--) {
        st[d] = s;
        s *= t->dims[d];
    }
}

static void
drop_dim(Nest *n, int d)
{
    for (int k = d; k + 1 < n->rank; k++) {
        n->dims[k] = n->dims[k + 1];
        for (int p = 0; p < n->np; p++)
            n->st[p][k] = n->st[p][k + 1];
    }
    n->rank--;
}

void
nest_simplify(Nest *n)
{
    for (int d = n->rank - 1; d >= 0; d--)
        if (n->dims[d] == 1)
            drop_dim(n, d);
    for (int d = n->rank - 2; d >= 0; d--) {
        int ok = 1;
        for (int p = 0; p < n->np && ok; p++)
            ok = n->st[p][d] == n->st[p][d + 1] * n->dims[d + 1];
        if (!ok)
            continue;
        for (int p = 0; p < n->np; p++)
            n->st[p][d] = n->st[p][d + 1];
        n->dims[d] *= n->dims[d + 1];
        drop_dim(n, d + 1);
    }
}

void
nest_open(Emit *e, const Nest *n, int indent)
{
    for (int d = 0; d < n->rank; d++) {
        ec_indent(e, indent + d);
        if (d == 0 && n->split)
            fprintf(e->out, "for (int64_t %c0 = lo; %c0 < hi; %c0++) {\n", n->var, n->var,
                    n->var);
        else
            fprintf(e->out, "for (int64_t %c%d = 0; %c%d < %lld; %c%d++) {\n", n->var, d,
                    n->var, d, (long long)n->dims[d], n->var, d);
    }
}

void
nest_close(Emit *e, const Nest *n, int indent)
{
    for (int d = n->rank - 1; d >= 0; d--) {
        ec_indent(e, indent + d);
        fputs("}\n", e->out);
    }
}

char *
nest_idx(const Nest *n, int p, char *buf, size_t len)
{
    size_t k = 0;
    buf[0] = 0;
    if (n->base[p] || n->rank == 0)
        k += (size_t)snprintf(buf + k, len - k, "%lld", (long long)n->base[p]);
    for (int d = 0; d < n->rank && k < len; d++) {
        int64_t s = n->st[p][d];
        if (!s)
            continue;
        const char *plus = k ? " + " : "";
        if (s == 1)
            k += (size_t)snprintf(buf + k, len - k, "%s%c%d", plus, n->var, d);
        else
            k += (size_t)snprintf(buf + k, len - k, "%s%c%d * %lld", plus, n->var, d,
                                  (long long)s);
    }
    if (!buf[0])
        snprintf(buf, len, "0");
    KILN_ASSERT(k < len);
    return buf;
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

/* ------------------------------------------------------------------ elementwise math */

static int
is_float(DType t)
{
    return t == DT_F32;
}

/* Formula of a float op on operands a, b (already loaded into variables). */
static int
float_expr(Op op, const Attr *at, const char *a, const char *b, char *buf, size_t len)
{
    char x[64], y[64];
    switch (op) {
    case OP_ADD:       snprintf(buf, len, "%s + %s", a, b); break;
    case OP_SUB:       snprintf(buf, len, "%s - %s", a, b); break;
    case OP_MUL:       snprintf(buf, len, "%s * %s", a, b); break;
    case OP_DIV:       snprintf(buf, len, "%s / %s", a, b); break;
    case OP_POW:       snprintf(buf, len, "powf(%s, %s)", a, b); break;
    case OP_NEG:       snprintf(buf, len, "-%s", a); break;
    case OP_ABS:       snprintf(buf, len, "fabsf(%s)", a); break;
    case OP_EXP:       snprintf(buf, len, "expf(%s)", a); break;
    case OP_LOG:       snprintf(buf, len, "logf(%s)", a); break;
    case OP_SQRT:      snprintf(buf, len, "sqrtf(%s)", a); break;
    case OP_RSQRT:     snprintf(buf, len, "1.0f / sqrtf(%s)", a); break;
    case OP_ERF:       snprintf(buf, len, "erff(%s)", a); break;
    case OP_RELU:      snprintf(buf, len, "%s > 0.0f ? %s : 0.0f", a, a); break;
    case OP_LEAKY_RELU:
        snprintf(buf, len, "%s < 0.0f ? %s * %s : %s", a, ec_float(at->scalar.a, x, sizeof x), a, a);
        break;
    case OP_RELU6:     snprintf(buf, len, "%s < 0.0f ? 0.0f : %s > 6.0f ? 6.0f : %s", a, a, a); break;
    case OP_CLIP:
        ec_float(at->scalar.a, x, sizeof x);
        ec_float(at->scalar.b, y, sizeof y);
        snprintf(buf, len, "%s < %s ? %s : %s > %s ? %s : %s", a, x, x, a, y, y, a);
        break;
    case OP_SIGMOID:   snprintf(buf, len, "1.0f / (1.0f + expf(-%s))", a); break;
    case OP_TANH:      snprintf(buf, len, "tanhf(%s)", a); break;
    case OP_GELU:
        if (at->gelu.tanh_approx)
            snprintf(buf, len, "0.5f * %s * (1.0f + tanhf(0.7978845608028654f * (%s + "
                     "0.044715f * %s * %s * %s)))", a, a, a, a, a);
        else
            snprintf(buf, len, "0.5f * %s * (1.0f + erff(%s / 1.41421356237309515f))", a, a);
        break;
    case OP_SILU:      snprintf(buf, len, "%s / (1.0f + expf(-%s))", a, a); break;
    case OP_HARDSWISH:
        snprintf(buf, len, "%s * (%s + 3.0f < 0.0f ? 0.0f : %s + 3.0f > 6.0f ? 6.0f : %s + 3.0f) "
                 "/ 6.0f", a, a, a, a);
        break;
    case OP_EQUAL:     snprintf(buf, len, "%s == %s", a, b); break;
    case OP_LESS:      snprintf(buf, len, "%s < %s", a, b); break;
    case OP_GREATER:   snprintf(buf, len, "%s > %s", a, b); break;
    default:
        return -1;
    }
    return 0;
}

/* Formula of an integer op; arithmetic wraps (done in unsigned 64-bit, then truncated). */
static int
int_expr(Op op, DType dt, const char *a, const char *b, char *buf, size_t len)
{
    const char *t = cg_ctype(dt);
    switch (op) {
    case OP_ADD: snprintf(buf, len, "(%s)((uint64_t)%s + (uint64_t)%s)", t, a, b); break;
    case OP_SUB: snprintf(buf, len, "(%s)((uint64_t)%s - (uint64_t)%s)", t, a, b); break;
    case OP_MUL: snprintf(buf, len, "(%s)((uint64_t)%s * (uint64_t)%s)", t, a, b); break;
    case OP_DIV:     /* b == 0 returned KILN_ERANGE before (see ec_elt_stmt) */
        snprintf(buf, len, "(%s)(%s == -1 ? (int64_t)(0 - (uint64_t)%s) : (int64_t)%s / %s)",
                 t, b, a, a, b);
        break;
    case OP_NEG: snprintf(buf, len, "(%s)(0 - (uint64_t)%s)", t, a); break;
    case OP_ABS: snprintf(buf, len, "(%s)(%s < 0 ? 0 - (uint64_t)%s : (uint64_t)%s)", t, a, a, a); break;
    case OP_RELU: snprintf(buf, len, "(%s)(%s > 0 ? %s : 0)", t, a, a); break;
    case OP_RELU6: snprintf(buf, len, "(%s)(%s < 0 ? 0 : %s > 6 ? 6 : %s)", t, a, a, a); break;
    case OP_EQUAL:   snprintf(buf, len, "%s == %s", a, b); break;
    case OP_LESS:    snprintf(buf, len, "%s < %s", a, b); break;
    case OP_GREATER: snprintf(buf, len, "%s > %s", a, b); break;
    default:
        return -1;
    }
    return 0;
}

static int
is_compare(Op op)
{
    return op == OP_EQUAL || op == OP_LESS || op == OP_GREATER;
}

int
ec_elt_stmt(Emit *e, const CgKernel *k, Op op, const Attr *at, DType dt, const char *dst,
            const char *a, const char *b, DType *rt, int indent)
{
    char expr[512];
    int st = is_float(dt) ? float_expr(op, at, a, b, expr, sizeof expr)
                          : int_expr(op, dt, a, b, expr, sizeof expr);
    if (st < 0) {
        diag_error(e->d, e->m->g->nodes[k->node].loc, "%s on %s is not supported by the C "
                   "backend", op_name[op], ir_dtype_name(dt));
        return -1;
    }
    *rt = is_compare(op) ? DT_BOOL : dt;
    if (op == OP_DIV && !is_float(dt)) {
        /* the interpreter reports an integer division by zero as a run-time error */
        ec_indent(e, indent);
        fprintf(e->out, "if (%s == 0)\n", b);
        ec_indent(e, indent + 1);
        fputs("return KILN_ERANGE;\n", e->out);
    }
    ec_indent(e, indent);
    fprintf(e->out, "%s %s = %s;\n", cg_ctype(*rt), dst, expr);
    return 0;
}
