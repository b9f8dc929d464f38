/* frontend/ast.c — syntax-tree constructors called by the grammar, and the parse-time error
 * reporting shared by the scanner and the grammar (error cap, held-back syntax errors that
 * an error production may replace with a targeted message). */
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include "ast.h"
#include "util.h"

/* ------------------------------------------------------------------ lists */

AstList *
ast_list_add(AstList *l, Ast *x)
{
    if (!l) {
        l = calloc(1, sizeof *l);
        if (!l)
            kiln_die("out of memory");
    }
    if (!x)
        return l;
    if (l->n == l->cap) {
        l->cap = l->cap ? 2 * l->cap : 4;
        l->v = realloc(l->v, (size_t)l->cap * sizeof *l->v);
        if (!l->v)
            kiln_die("out of memory");
    }
    l->v[l->n++] = x;
    return l;
}

void
ast_list_free(AstList *l)
{
    if (!l)
        return;
    free(l->v);
    free(l);
}

AstVec
ast_vec(FeParse *ps, AstList *l)
{
    AstVec v = { 0, NULL };
    if (!l)
        return v;
    v.n = l->n;
    v.v = arena_alloc(ps->arena, (size_t)(l->n ? l->n : 1) * sizeof *v.v);
    if (l->n)
        memcpy(v.v, l->v, (size_t)l->n * sizeof *v.v);
    ast_list_free(l);
    return v;
}

char *
ast_strdup(FeParse *ps, const char *s, size_t n)
{
    char *p = arena_alloc(ps->arena, n + 1);
    memcpy(p, s, n);
    p[n] = 0;
    return p;
}

/* ------------------------------------------------------------------ nodes */

Ast *
ast_new(FeParse *ps, AstKind kind, SrcLoc loc)
{
    Ast *a = arena_alloc(ps->arena, sizeof *a);
    a->kind = kind;
    a->loc = loc;
    return a;
}

Ast *
ast_num(FeParse *ps, SrcLoc loc, double num, int64_t ival, int is_int)
{
    Ast *a = ast_new(ps, AST_NUM, loc);
    a->num = num;
    a->ival = ival;
    a->is_int = is_int;
    return a;
}

Ast *
ast_name(FeParse *ps, SrcLoc loc, const char *name)
{
    Ast *a = ast_new(ps, AST_NAME, loc);
    a->name = name;
    return a;
}

Ast *
ast_int_name(FeParse *ps, SrcLoc loc, int64_t x)
{
    Ast *a = ast_new(ps, AST_NAME, loc);
    a->name = arena_printf(ps->arena, "%lld", (long long)x);
    return a;
}

Ast *
ast_dotted(FeParse *ps, SrcLoc loc, Ast *prefix, Ast *last)
{
    Ast *a = ast_new(ps, AST_NAME, loc);
    a->name = arena_printf(ps->arena, "%s.%s", prefix->name, last->name);
    return a;
}

Ast *
ast_string(FeParse *ps, SrcLoc loc, const char *s)
{
    Ast *a = ast_new(ps, AST_STRING, loc);
    a->str = s;
    return a;
}

Ast *
ast_list(FeParse *ps, SrcLoc loc, const char *dtype, AstList *elems)
{
    Ast *a = ast_new(ps, AST_LIST, loc);
    a->str = dtype;
    a->kids = ast_vec(ps, elems);
    return a;
}

Ast *
ast_unary(FeParse *ps, SrcLoc loc, Op op, Ast *x)
{
    Ast *a = ast_new(ps, AST_UNARY, loc);
    a->op = op;
    a->lhs = x;
    return a;
}

Ast *
ast_binary(FeParse *ps, SrcLoc loc, Op op, Ast *l, Ast *r)
{
    Ast *a = ast_new(ps, AST_BINARY, loc);
    a->op = op;
    a->lhs = l;
    a->rhs = r;
    return a;
}

Ast *
ast_call(FeParse *ps, SrcLoc loc, const char *name, AstList *args)
{
    Ast *a = ast_new(ps, AST_CALL, loc);
    a->name = name;
    a->kids = ast_vec(ps, args);
    return a;
}

Ast *
ast_layer_call(FeParse *ps, SrcLoc loc, int64_t count, const char *layer, Ast *inst,
               AstList *args)
{
    Ast *a = ast_new(ps, AST_LAYER, loc);
    a->count = count;
    a->name = layer;
    a->inst = inst->name;
    a->kids = ast_vec(ps, args);
    return a;
}

Ast *
ast_named(FeParse *ps, SrcLoc loc, const char *key, Ast *value)
{
    Ast *a = ast_new(ps, AST_NAMED, loc);
    a->name = key;
    a->lhs = value;
    return a;
}

Ast *
ast_ratio(FeParse *ps, SrcLoc loc, int64_t n, int64_t m)
{
    Ast *a = ast_new(ps, AST_RATIO, loc);
    a->ival = n;
    a->count = m;
    return a;
}

Ast *
ast_param(FeParse *ps, SrcLoc loc, Ast *name, Ast *type)
{
    Ast *a = ast_new(ps, AST_PARAM, loc);
    a->name = name->name;
    a->lhs = type;
    return a;
}

Ast *
ast_let(FeParse *ps, SrcLoc loc, AstList *targets, Ast *value)
{
    Ast *a = ast_new(ps, AST_LET, loc);
    a->kids = ast_vec(ps, targets);
    a->lhs = value;
    return a;
}

Ast *
ast_return(FeParse *ps, SrcLoc loc, Ast *value, AstList *outs)
{
    Ast *a = ast_new(ps, AST_RETURN, loc);
    a->lhs = value;
    a->kids = ast_vec(ps, outs);
    return a;
}

Ast *
ast_exit(FeParse *ps, SrcLoc loc, Ast *cond, AstList *outs)
{
    Ast *a = ast_new(ps, AST_EXIT, loc);
    a->lhs = cond;
    a->kids = ast_vec(ps, outs);
    return a;
}

Ast *
ast_annot(FeParse *ps, SrcLoc loc, const char *name, AstList *args)
{
    Ast *a = ast_new(ps, AST_ANNOT, loc);
    a->name = name;
    a->kids = ast_vec(ps, args);
    return a;
}

/* Prepends annot to stmt's annotations (the grammar reduces the innermost one first). */
Ast *
ast_annotate(FeParse *ps, Ast *annot, Ast *stmt)
{
    Ast **v = arena_alloc(ps->arena, (size_t)(stmt->annots.n + 1) * sizeof *v);
    v[0] = annot;
    for (int i = 0; i < stmt->annots.n; i++)
        v[i + 1] = stmt->annots.v[i];
    stmt->annots.v = v;
    stmt->annots.n++;
    return stmt;
}

Ast *
ast_input(FeParse *ps, SrcLoc loc, const char *name, Ast *type)
{
    Ast *a = ast_new(ps, AST_INPUT, loc);
    a->name = name;
    a->lhs = type;
    return a;
}

Ast *
ast_weights(FeParse *ps, SrcLoc loc, const char *path)
{
    Ast *a = ast_new(ps, AST_WEIGHTS, loc);
    a->str = path;
    return a;
}

Ast *
ast_layerdef(FeParse *ps, SrcLoc loc, const char *name, AstList *params, AstList *body)
{
    Ast *a = ast_new(ps, AST_LAYERDEF, loc);
    a->name = name;
    a->params = ast_vec(ps, params);
    a->body = ast_vec(ps, body);
    return a;
}

Ast *
ast_model(FeParse *ps, SrcLoc loc, const char *name, AstList *inputs, AstList *outs,
          AstList *body)
{
    Ast *a = ast_new(ps, AST_MODEL, loc);
    a->name = name;
    a->params = ast_vec(ps, inputs);
    a->outs = ast_vec(ps, outs);
    a->body = ast_vec(ps, body);
    return a;
}

Ast *
ast_file(FeParse *ps, AstList *decls)
{
    Ast *a = ast_new(ps, AST_FILE, (SrcLoc){ ps->file, 1, 1 });
    a->kids = ast_vec(ps, decls);
    ps->root = a;
    return a;
}

/* ------------------------------------------------------------------ parse errors */

static void
report(FeParse *ps, SrcLoc loc, const char *msg)
{
    if (ps->stopped)
        return;
    if (ps->nerror >= FE_MAX_ERRORS) {
        diag_error(ps->d, loc, "too many errors, stopping");
        ps->stopped = 1;
        return;
    }
    diag_error(ps->d, loc, "%s", msg);
    ps->nerror++;
    ps->last_err = loc;
}

void
fe_flush(FeParse *ps)
{
    if (!ps->has_pending)
        return;
    ps->has_pending = 0;
    report(ps, ps->pend_loc, ps->pend_msg);
}

void
fe_error(FeParse *ps, SrcLoc loc, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    fe_flush(ps);
    report(ps, loc, msg);
}

void
fe_syntax_pending(FeParse *ps, SrcLoc loc, const char *msg, const char *got)
{
    fe_flush(ps);
    if (ps->lex_err_tok >= 0 && ps->ntok == ps->lex_err_tok + 1)
        return;                          /* the scanner dropped a bad token just before */
    if (ps->nerror && ps->last_err.line == loc.line)
        return;                          /* recovery debris on an already reported line */
    ps->has_pending = 1;
    ps->pend_loc = loc;
    snprintf(ps->pend_msg, sizeof ps->pend_msg, "%s", msg);
    snprintf(ps->pend_got, sizeof ps->pend_got, "%s", got);
}

Ast *
fe_syntax_replace(FeParse *ps, SrcLoc loc, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    /* No held-back error means Bison is still recovering from an earlier one (it reports
     * nothing until three tokens shift): stay quiet rather than cascade. */
    if (!ps->has_pending)
        return ast_new(ps, AST_BAD, loc);
    loc = ps->pend_loc;                  /* point at the token that broke the rule */
    ps->has_pending = 0;
    report(ps, loc, msg);
    return ast_new(ps, AST_BAD, loc);
}

Ast *
fe_error_assign(FeParse *ps, SrcLoc loc, const char *name, int recovering)
{
    /* "var a = x" gives "unknown statement 'var'", then this: quiet after an error earlier
     * on the same line */
    int echo = ps->last_err.line == loc.line && ps->last_err.col < loc.col;
    if (!recovering && !echo)
        fe_error(ps, loc, "assignment needs 'let': write 'let %s = ...'", name);
    return ast_new(ps, AST_BAD, loc);
}

Ast *
fe_error_stmt(FeParse *ps, SrcLoc loc, const char *name)
{
    char msg[256];
    if (!ps->has_pending)                /* still recovering from an earlier error */
        return ast_new(ps, AST_BAD, loc);
    snprintf(msg, sizeof msg, "unknown statement '%s': expected let, param, exit if, return "
             "or an @annotation", name);
    ps->has_pending = 0;                 /* the word itself is the problem, not what follows */
    report(ps, loc, msg);
    return ast_new(ps, AST_BAD, loc);
}

Ast *
fe_error_close(FeParse *ps, SrcLoc open, const char *callee, AstList *args)
{
    ast_list_free(args);
    const char *got = ps->has_pending ? ps->pend_got : "something else";
    if (callee)
        return fe_syntax_replace(ps, open, "expected ')' to close '%s(' from %d:%d, got %s",
                                 callee, open.line, open.col, got);
    return fe_syntax_replace(ps, open, "expected ')' to close '(' from %d:%d, got %s",
                             open.line, open.col, got);
}
