/* frontend/build_expr.c — expressions to IR nodes: operators, op calls with attributes,
 * layer calls and repeat, names, number and list literals.  A failed sub-expression gives
 * ValueId 0 and the enclosing node is simply not built (no cascading errors). */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "ast.h"
#include "util.h"

enum { MAX_REPEAT = 100000 };    /* most instances one repeat may create */

SrcLoc
b_loc(Builder *b, SrcLoc loc)
{
    loc.file = b->gfile;
    return loc;
}

static ValueId
node1(Builder *b, Op op, int nin, const ValueId *in, SrcLoc loc)
{
    NodeId n = ir_node_new(b->g, op, nin, in, 1, b_loc(b, loc));
    ir_attr_default(op, &ir_node(b->g, n)->attr);
    return ir_node_out(b->g, n, 0);
}

static ValueId
const_value(Builder *b, DType dt, int rank, const int64_t *dims, const void *data,
            size_t nbytes, SrcLoc loc)
{
    TensorType t = ir_type_make(dt, rank, dims);
    StorageId s = ir_storage_mem(b->g, data, nbytes);
    return ir_node_out(b->g, ir_const_new(b->g, &t, s, b_loc(b, loc)), 0);
}

/* ------------------------------------------------------------------ literals */

/* A number leaf (n or -n) into *x; 0 if e is not one. */
static int
leaf(const Ast *e, double *x, int64_t *ix, int *is_int)
{
    int neg = e->kind == AST_UNARY && e->op == OP_NEG;
    const Ast *n = neg ? e->lhs : e;
    if (n->kind != AST_NUM)
        return 0;
    *x = neg ? -n->num : n->num;
    *ix = neg ? -n->ival : n->ival;
    *is_int = n->is_int;
    return 1;
}

/* Stores x as element i of a dt tensor; -1 (reported) if it does not fit. */
static int
store(Builder *b, const Ast *e, DType dt, void *buf, int64_t i)
{
    double x;
    int64_t ix;
    int is_int;
    leaf(e, &x, &ix, &is_int);
    if (dt == DT_F32) {
        ((float *)buf)[i] = (float)x;
        return 0;
    }
    static const double lo[DT_COUNT] = { [DT_I32] = -2147483648.0, [DT_I64] = -9.3e18,
                                         [DT_I8] = -128, [DT_U8] = 0, [DT_BOOL] = 0 };
    static const double hi[DT_COUNT] = { [DT_I32] = 2147483647.0, [DT_I64] = 9.3e18,
                                         [DT_I8] = 127, [DT_U8] = 255, [DT_BOOL] = 1 };
    if (x != floor(x) || x < lo[dt] || x > hi[dt]) {
        b_error(b, e->loc, "%s literal: expected an integer in [%.0f, %.0f], got %g",
                ir_dtype_name(dt), lo[dt], hi[dt], x);
        return -1;
    }
    switch (dt) {
    case DT_I32: ((int32_t *)buf)[i] = (int32_t)x; break;
    case DT_I64: ((int64_t *)buf)[i] = is_int ? ix : (int64_t)x; break;
    case DT_I8:  ((int8_t *)buf)[i] = (int8_t)x; break;
    default:     ((uint8_t *)buf)[i] = (uint8_t)x; break;   /* u8, bool */
    }
    return 0;
}

/* Checks that e has shape dims[depth..rank) and stores its leaves from element *at. */
static int
fill(Builder *b, const Ast *e, int depth, int rank, const int64_t *dims, DType dt, void *buf,
     int64_t *at)
{
    double x;
    int64_t ix;
    int is_int;
    if (depth == rank) {
        if (!leaf(e, &x, &ix, &is_int)) {
            b_error(b, e->loc, "list literal is not rectangular: expected a number here");
            return -1;
        }
        return store(b, e, dt, buf, (*at)++);
    }
    if (e->kind != AST_LIST || e->kids.n != dims[depth]) {
        b_error(b, e->loc, "list literal is not rectangular: expected a list of %lld, got %s",
                (long long)dims[depth], e->kind == AST_LIST ? "another length" : "a number");
        return -1;
    }
    for (int i = 0; i < e->kids.n; i++)
        if (fill(b, e->kids.v[i], depth + 1, rank, dims, dt, buf, at) < 0)
            return -1;
    return 0;
}

static ValueId
list_literal(Builder *b, const Ast *e)
{
    DType dt = e->str ? ir_dtype_parse(e->str) : DT_F32;
    if (dt == DT_NONE) {
        b_error(b, e->loc, "unknown dtype '%s': expected f32, i32, i64, i8, u8 or bool", e->str);
        return 0;
    }
    int64_t dims[KILN_MAX_RANK], numel = 1;
    int rank = 0;
    for (const Ast *k = e; k->kind == AST_LIST; k = k->kids.v[0]) {
        if (k->kids.n == 0) {
            b_error(b, k->loc, "empty list literal: tensors have at least one element");
            return 0;
        }
        if (rank == KILN_MAX_RANK) {
            b_error(b, k->loc, "list literal nested too deeply: at most %d dims", KILN_MAX_RANK);
            return 0;
        }
        dims[rank++] = k->kids.n;
        numel *= k->kids.n;              /* bounded by the source size */
    }
    size_t nbytes = (size_t)numel * ir_dtype_size(dt);
    void *buf = calloc(nbytes, 1);
    if (!buf)
        kiln_die("out of memory");
    int64_t at = 0;
    ValueId v = 0;
    if (fill(b, e, 0, rank, dims, dt, buf, &at) == 0)
        v = const_value(b, dt, rank, dims, buf, nbytes, e->loc);
    free(buf);
    return v;
}

static ValueId
number(Builder *b, const Ast *e)
{
    float x = (float)e->num;
    return const_value(b, DT_F32, 0, NULL, &x, sizeof x, e->loc);
}

/* ------------------------------------------------------------------ names */

static ValueId
name_ref(Builder *b, Scope *s, const Ast *e)
{
    Binding *bd = scope_find(s, e->name);
    if (bd)
        return bd->v;
    const char **cand = calloc((size_t)s->n + 1, sizeof *cand);
    if (!cand)
        kiln_die("out of memory");
    for (int i = 0; i < s->n; i++)
        cand[i] = s->b[i].name;
    char hint[256];
    b_suggest(e->name, cand, s->n, hint, sizeof hint);
    free(cand);
    b_error(b, e->loc, "undefined name '%s'%s", e->name, hint);
    return 0;
}

/* ------------------------------------------------------------------ attributes */

/* The AttrVal of an attribute argument's value; -1 (reported) if it is not a constant. */
static int
attr_value(Builder *b, const Ast *named, AttrVal *v)
{
    const Ast *e = named->lhs;
    double x;
    int64_t ix;
    int is_int;
    memset(v, 0, sizeof *v);
    if (leaf(e, &x, &ix, &is_int)) {
        v->kind = is_int ? AV_INT : AV_FLOAT;
        v->i = ix;
        v->f = x;
        return 0;
    }
    if (e->kind == AST_NAME && !strchr(e->name, '.')) {
        v->kind = AV_IDENT;
        v->s = e->name;
        return 0;
    }
    if (e->kind == AST_STRING) {
        v->kind = AV_STRING;
        v->s = e->str;
        return 0;
    }
    if (e->kind == AST_LIST && !e->str) {
        double *list = arena_alloc(b->g->arena, (size_t)(e->kids.n + 1) * sizeof *list);
        for (int i = 0; i < e->kids.n; i++)
            if (!leaf(e->kids.v[i], &list[i], &ix, &is_int)) {
                b_error(b, e->kids.v[i]->loc, "attribute '%s': expected a flat list of "
                        "numbers", named->name);
                return -1;
            }
        v->kind = AV_LIST;
        v->n = e->kids.n;
        v->list = list;
        return 0;
    }
    b_error(b, named->loc, "attribute '%s': expected a number, list, name or string, got an "
            "expression", named->name);
    return -1;
}

/* Applies the call's key = value arguments to *a; -1 if any was reported. */
static int
call_attrs(Builder *b, Op op, const Ast *e, Attr *a)
{
    int ok = 0;
    ir_attr_default(op, a);
    for (int i = 0; i < e->kids.n; i++) {
        const Ast *k = e->kids.v[i];
        if (k->kind != AST_NAMED)
            continue;
        for (int j = 0; j < i; j++)
            if (e->kids.v[j]->kind == AST_NAMED && strcmp(e->kids.v[j]->name, k->name) == 0) {
                b_error(b, k->loc, "attribute '%s' is given twice", k->name);
                ok = -1;
            }
        AttrVal v;
        char err[256] = "";
        if (attr_value(b, k, &v) < 0)
            ok = -1;
        else if (ir_attr_set(b->g, op, a, k->name, &v, err, sizeof err) < 0) {
            b_error(b, k->loc, "%s", err);
            ok = -1;
        }
    }
    return ok;
}

/* ------------------------------------------------------------------ calls */

static void
unknown_op(Builder *b, const Ast *e)
{
    int bad;
    if (b_layer(b, e->name, &bad)) {
        b_error(b, e->loc, "layer '%s' needs an instance name: expected '%s[name](...)'",
                e->name, e->name);
        return;
    }
    char hint[256];
    b_suggest(e->name, op_name, OP_COUNT, hint, sizeof hint);
    b_error(b, e->loc, "unknown op '%s'%s", e->name, hint);
}

static int
check_arity(Builder *b, Op op, int nin, SrcLoc loc)
{
    int lo = op_min_in[op], hi = op_max_in[op];
    if (nin >= lo && (hi < 0 || nin <= hi))
        return 0;
    if (lo == hi)
        b_error(b, loc, "%s: expected %d operand%s, got %d", op_name[op], lo, lo == 1 ? "" : "s",
                nin);
    else if (hi < 0)
        b_error(b, loc, "%s: expected at least %d operand%s, got %d", op_name[op], lo,
                lo == 1 ? "" : "s", nin);
    else
        b_error(b, loc, "%s: expected %d to %d operands, got %d", op_name[op], lo, hi, nin);
    return -1;
}

NodeId
b_call(Builder *b, Scope *s, const Ast *e)
{
    Op op = ir_op_parse(e->name);
    if (op == OP_NONE) {
        unknown_op(b, e);
        return 0;
    }
    if (op == OP_CONST || (op_flags[op] & F_CONTROL)) {
        b_error(b, e->loc, op == OP_CONST ? "const cannot be called: write a number or list "
                "literal" : "exit_if cannot be called: write 'exit if COND return (...)'");
        return 0;
    }
    ValueId *in = calloc((size_t)e->kids.n + 1, sizeof *in);
    if (!in)
        kiln_die("out of memory");
    int nin = 0, ok = 0;
    for (int i = 0; i < e->kids.n; i++)
        if (e->kids.v[i]->kind != AST_NAMED) {
            in[nin] = b_expr(b, s, e->kids.v[i]);
            ok |= in[nin++] ? 0 : -1;
        }
    Attr a;
    ok |= call_attrs(b, op, e, &a);
    ok |= check_arity(b, op, nin, e->loc);
    int nout = op_nout[op] >= 0 ? op_nout[op] : a.split.n;
    if (ok == 0 && nout < 1) {
        b_error(b, e->loc, "%s: expected attribute 'sizes'", op_name[op]);
        ok = -1;
    }
    NodeId n = 0;
    if (ok == 0) {
        n = ir_node_new(b->g, op, nin, in, nout, b_loc(b, e->loc));
        ir_node(b->g, n)->attr = a;
    }
    free(in);
    return n;
}

static ValueId
call_value(Builder *b, Scope *s, const Ast *e)
{
    NodeId n = b_call(b, s, e);
    if (!n)
        return 0;
    int nout = ir_node(b->g, n)->nout;
    if (nout != 1) {
        b_error(b, e->loc, "%s has %d results: bind them with 'let a, b, ... = %s(...)'",
                e->name, nout, e->name);
        return 0;
    }
    return ir_node_out(b->g, n, 0);
}

static const Ast *
find_layer(Builder *b, const Ast *e)
{
    int bad = 0;
    const Ast *l = b_layer(b, e->name, &bad);
    if (l)
        return bad ? NULL : l;
    if (ir_op_parse(e->name) != OP_NONE) {
        b_error(b, e->loc, "'%s' is an op, not a layer: expected '%s(...)'", e->name, e->name);
        return NULL;
    }
    const char **cand = calloc((size_t)b->nlayer + 1, sizeof *cand);
    if (!cand)
        kiln_die("out of memory");
    for (int i = 0; i < b->nlayer; i++)
        cand[i] = b->layers[i]->name;
    char hint[256];
    b_suggest(e->name, cand, b->nlayer, hint, sizeof hint);
    free(cand);
    b_error(b, e->loc, "unknown layer '%s'%s", e->name, hint);
    return NULL;
}

/* name[inst](args) or repeat N name[inst](args): instance paths nest under s->prefix. */
static ValueId
layer_call(Builder *b, Scope *s, const Ast *e)
{
    const Ast *l = find_layer(b, e);
    int nargs = e->kids.n, ok = 0;
    for (int i = 0; i < nargs; i++)
        if (e->kids.v[i]->kind == AST_NAMED) {
            b_error(b, e->kids.v[i]->loc, "layer call '%s[%s]' takes no attributes", e->name,
                    e->inst);
            return 0;
        }
    ValueId *args = calloc((size_t)nargs + 1, sizeof *args);
    if (!args)
        kiln_die("out of memory");
    for (int i = 0; i < nargs; i++) {
        args[i] = b_expr(b, s, e->kids.v[i]);
        ok |= args[i] ? 0 : -1;
    }
    if (l && nargs != l->params.n) {
        b_error(b, e->loc, "layer '%s' takes %d argument%s, got %d", l->name, l->params.n,
                l->params.n == 1 ? "" : "s", nargs);
        ok = -1;
    }
    if (e->count && (e->count < 1 || e->count > MAX_REPEAT)) {
        b_error(b, e->loc, "repeat count: expected 1 to %d, got %lld", MAX_REPEAT,
                (long long)e->count);
        ok = -1;
    } else if (e->count && l && nargs == 0) {
        b_error(b, e->loc, "repeat needs a layer with an argument to chain, '%s' has none",
                l->name);
        ok = -1;
    }
    const char *inst = scope_full(b, s, e->inst);
    ValueId v = 0;
    if (l && ok == 0 && e->count == 0)
        v = b_instantiate(b, l, inst, args, e->loc);
    for (int64_t i = 0; l && ok == 0 && i < e->count; i++) {
        const char *step = arena_printf(b->g->arena, "%s.%lld", inst, (long long)i);
        v = b_instantiate(b, l, step, args, e->loc);
        if (!v)
            break;
        args[0] = v;                     /* chain: instance i + 1 reads instance i */
    }
    free(args);
    return v;
}

/* ------------------------------------------------------------------ expressions */

static ValueId
expr(Builder *b, Scope *s, const Ast *e)
{
    switch (e->kind) {
    case AST_NUM:
        return number(b, e);
    case AST_NAME:
        return name_ref(b, s, e);
    case AST_STRING:
        b_error(b, e->loc, "a string is only allowed as an attribute value");
        return 0;
    case AST_LIST:
        return list_literal(b, e);
    case AST_UNARY: {
        ValueId x = b_expr(b, s, e->lhs);
        return x ? node1(b, e->op, 1, &x, e->loc) : 0;
    }
    case AST_BINARY: {
        ValueId in[2] = { b_expr(b, s, e->lhs), b_expr(b, s, e->rhs) };
        return in[0] && in[1] ? node1(b, e->op, 2, in, e->loc) : 0;
    }
    case AST_CALL:
        return call_value(b, s, e);
    case AST_LAYER:
        return layer_call(b, s, e);
    default:
        return 0;                        /* AST_BAD: already reported */
    }
}

/* Bounds the recursion: a 100k-term `x + x + ...` is a left-deep tree as deep as it is
 * long, which would otherwise overflow the C stack. */
ValueId
b_expr(Builder *b, Scope *s, const Ast *e)
{
    if (b->expr_depth >= FE_MAX_EXPR) {
        if (!b->too_deep++)              /* once: every sibling at this depth fails too */
            b_error(b, e->loc, "expression nested too deeply: more than %d levels",
                    FE_MAX_EXPR);
        return 0;
    }
    b->expr_depth++;
    ValueId v = expr(b, s, e);
    b->expr_depth--;
    return v;
}
