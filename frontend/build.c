/* frontend/build.c — .kiln entry points and the AST -> IR builder: declarations, weights,
 * scopes, layer instantiation and statements.  Expressions are in build_expr.c.
 *
 * Approach: the whole file is parsed first, so layers may be used before their definition.
 * The model body is walked once; a layer call instantiates the layer's body in a fresh
 * scope whose names are prefixed by the instance path (block.conv1), so nested and repeated
 * instances get distinct dotted param names, while params are cached by full name (an
 * instance called twice shares its weights).  A failed expression yields ValueId 0, which
 * later uses accept silently, so each mistake is reported once and building goes on. */
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include "ast.h"
#include "frontend.h"
#include "util.h"

/* ------------------------------------------------------------------ errors, names */

void
b_error(Builder *b, SrcLoc loc, const char *fmt, ...)
{
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    /* a layer instantiated many times would repeat its errors: report each once */
    for (int i = 0; i < b->d->nmsg; i++) {
        const DiagMsg *m = &b->d->msg[i];
        if (m->loc.line == loc.line && m->loc.col == loc.col && strcmp(m->msg, msg) == 0 &&
            m->loc.file && loc.file && strcmp(m->loc.file, loc.file) == 0)
            return;
    }
    diag_error(b->d, loc, "%s", msg);
    b->nerror++;
}

void
b_suggest(const char *name, const char *const *cand, int ncand, char *buf, size_t len)
{
    int best = 3, n = 0;
    size_t l = strlen(name);
    if (l <= 2)
        best = 2;                        /* "x" is one edit from every short name */
    for (int i = 0; i < ncand; i++)
        if (cand[i] && cand[i][0]) {
            int dd = ir_edit_distance(name, cand[i]);
            if (dd < best)
                best = dd;
        }
    buf[0] = 0;
    if (best >= 3 || (l <= 2 && best >= 2))
        return;
    size_t at = (size_t)snprintf(buf, len, "; did you mean ");
    for (int i = 0; i < ncand && n < 3 && at < len; i++)
        if (cand[i] && cand[i][0] && ir_edit_distance(name, cand[i]) == best)
            at += (size_t)snprintf(buf + at, len - at, "%s'%s'", n++ ? " or " : "", cand[i]);
    if (at < len)
        snprintf(buf + at, len - at, "?");
}

/* Graph value names must be unique: a second use of `name` gets `name_2`, ... */
void
b_name_value(Builder *b, ValueId v, const char *name)
{
    const char *use = name;
    for (int k = 2; k < 100000 && names_has(b, use); k++)
        use = arena_printf(b->g->arena, "%s_%d", name, k);
    names_add(b, use);
    ir_value_set_name(b->g, v, use);
}

/* open addressing over a power-of-two table; keys are strings that outlive the builder */
static uint32_t
hash(const char *s)
{
    uint32_t h = 2166136261u;
    while (*s)
        h = (h ^ (uint8_t)*s++) * 16777619u;
    return h;
}

static int64_t *
map_slot(StrMap *m, const char *key, int insert)
{
    if (insert && 2 * (m->n + 1) > m->cap) {
        StrMap bigger = { 0 };
        bigger.cap = m->cap ? 2 * m->cap : 64;
        bigger.key = calloc(bigger.cap, sizeof *bigger.key);
        bigger.val = calloc(bigger.cap, sizeof *bigger.val);
        if (!bigger.key || !bigger.val)
            kiln_die("out of memory");
        for (uint32_t i = 0; i < m->cap; i++)
            if (m->key[i])
                *map_slot(&bigger, m->key[i], 1) = m->val[i];
        free(m->key);
        free(m->val);
        *m = bigger;
    }
    if (!m->cap)
        return NULL;
    for (uint32_t i = hash(key) & (m->cap - 1);; i = (i + 1) & (m->cap - 1)) {
        if (!m->key[i]) {
            if (!insert)
                return NULL;
            m->key[i] = key;
            m->n++;
            return &m->val[i];
        }
        if (strcmp(m->key[i], key) == 0)
            return &m->val[i];
    }
}

int
names_has(Builder *b, const char *name)
{
    return map_slot(&b->names, name, 0) != NULL;
}

void
names_add(Builder *b, const char *name)
{
    *map_slot(&b->names, arena_strdup(b->g->arena, name), 1) = 1;
}

static void
map_free(StrMap *m)
{
    free(m->key);
    free(m->val);
}

/* ------------------------------------------------------------------ scopes */

Binding *
scope_find(Scope *s, const char *name)
{
    for (int i = 0; i < s->n; i++)
        if (strcmp(s->b[i].name, name) == 0)
            return &s->b[i];
    return NULL;
}

/* Binds name in s; -1 (reported) if it is already bound. */
static int
scope_bind(Builder *b, Scope *s, const char *name, ValueId v, SrcLoc loc, const char *what)
{
    Binding *old = scope_find(s, name);
    if (old) {
        b_error(b, loc, "duplicate %s '%s': already defined at %d:%d", what, name,
                old->loc.line, old->loc.col);
        return -1;
    }
    if (s->n == s->cap) {
        s->cap = s->cap ? 2 * s->cap : 16;
        s->b = realloc(s->b, (size_t)s->cap * sizeof *s->b);
        if (!s->b)
            kiln_die("out of memory");
    }
    s->b[s->n++] = (Binding){ name, v, loc };
    return 0;
}

/* "prefix.name", or name in the model's scope. */
const char *
scope_full(Builder *b, const Scope *s, const char *name)
{
    if (!s->prefix || !s->prefix[0])
        return arena_strdup(b->g->arena, name);
    return arena_printf(b->g->arena, "%s.%s", s->prefix, name);
}

/* ------------------------------------------------------------------ weights */

static const char *
join(Builder *b, const char *path)
{
    if (path[0] == '/' || !b->g->dir[0])
        return path;
    return arena_printf(b->g->arena, "%s/%s", b->g->dir, path);
}

static void
open_source(Builder *b, const Ast *decl)
{
    Source *src = &b->src[b->nsrc++];
    char err[256] = "";
    *src = (Source){ .path = decl->str, .loc = decl->loc };
    size_t n = strlen(src->path);
    if (n == 0) {
        b_error(b, decl->loc, "empty weights path: expected a file or a folder ending in '/'");
        src->broken = 1;
        return;
    }
    src->is_dir = src->path[n - 1] == '/';
    const char *full = join(b, src->path);
    if (src->is_dir) {
        struct stat st;
        if (stat(full, &st) != 0 || !S_ISDIR(st.st_mode)) {
            b_error(b, decl->loc, "cannot read weights folder '%s': %s", src->path,
                    stat(full, &st) != 0 ? strerror(errno) : "not a folder");
            src->broken = 1;
        }
        return;
    }
    int count;
    if (kiln_file_map(full, &src->map, err, sizeof err) != KILN_OK) {
        b_error(b, decl->loc, "cannot read weights '%s': %s", src->path, err);
        src->broken = 1;
    } else if (kiln_st_count(kiln_file_data(src->map), kiln_file_size(src->map), &count, err,
                             sizeof err) != KILN_OK) {
        b_error(b, decl->loc, "weights '%s': %s", src->path, err);
        src->broken = 1;
    }
}

/* Looks name up in one source.  0 with *found = 0 if absent; 0 with *found = 1 if present
 * but unreadable (reported). */
static StorageId
find_in(Builder *b, const Source *src, const char *name, TensorType *t, SrcLoc loc,
        int *found)
{
    *found = 0;
    if (src->is_dir) {
        const char *rel = arena_printf(b->g->arena, "%s%s.npy", src->path, name);
        struct stat st;
        if (stat(join(b, rel), &st) != 0)
            return 0;
        *found = 1;
        return ir_storage_file(b->g, rel, NULL, t, loc, b->d);
    }
    kiln_view v;
    if (kiln_st_find(kiln_file_data(src->map), kiln_file_size(src->map), name, &v, NULL, 0) ==
        KILN_EINVAL)
        return 0;
    *found = 1;
    return ir_storage_file(b->g, src->path, name, t, loc, b->d);
}

static void
not_found(Builder *b, const char *name, SrcLoc loc)
{
    char list[512] = "";
    size_t at = 0;
    for (int i = 0; i < b->nsrc; i++) {
        if (b->src[i].broken)
            return;                      /* that source's error explains it */
        at += (size_t)snprintf(list + at, sizeof list - at, "%s'%s%s%s'", i ? ", " : "",
                               b->src[i].path, b->src[i].is_dir ? name : "",
                               b->src[i].is_dir ? ".npy" : "");
        if (at >= sizeof list)
            break;
    }
    if (b->nsrc == 0)
        b_error(b, loc, "param '%s' not found: no weights declared (expected "
                "'weights \"file.safetensors\"')", name);
    else
        b_error(b, loc, "param '%s' not found in any weights file (searched %s)", name, list);
}

/* The const for param `full`: from the cache, else the first source that has it. */
static ValueId
param_value(Builder *b, const char *full, SrcLoc loc)
{
    int64_t *hit = map_slot(&b->params, full, 0);
    if (hit)
        return (ValueId)*hit;
    TensorType t;
    StorageId st = 0;
    int found = 0;
    for (int i = 0; i < b->nsrc && !found; i++)
        if (!b->src[i].broken)
            st = find_in(b, &b->src[i], full, &t, loc, &found);
    ValueId v = 0;
    if (!found)
        not_found(b, full, loc);
    else if (st) {
        v = ir_node_out(b->g, ir_const_new(b->g, &t, st, b_loc(b, loc)), 0);
        b_name_value(b, v, full);
    }
    *map_slot(&b->params, full, 1) = v;  /* failures are cached too: reported once */
    return v;
}

/* A declared type `f32[2, 3]` into *t; -1 (reported) if malformed. */
int
b_type(Builder *b, const Ast *ty, TensorType *t)
{
    DType dt = ir_dtype_parse(ty->str);
    if (dt == DT_NONE) {
        b_error(b, ty->loc, "unknown dtype '%s': expected f32, i32, i64, i8, u8 or bool",
                ty->str);
        return -1;
    }
    if (ty->kids.n > KILN_MAX_RANK) {
        b_error(b, ty->loc, "type has rank %d: expected at most %d dims", ty->kids.n,
                KILN_MAX_RANK);
        return -1;
    }
    *t = ir_type_make(dt, 0, NULL);
    for (int i = 0; i < ty->kids.n; i++) {
        const Ast *k = ty->kids.v[i];
        if (k->kind != AST_NUM || !k->is_int || k->ival < 0) {   /* 0: an empty tensor */
            b_error(b, k->loc, "expected a non-negative integer dimension");
            return -1;
        }
        t->dims[t->rank++] = k->ival;
    }
    return 0;
}

static ValueId
param_stmt(Builder *b, Scope *s, const Ast *st)
{
    const char *full = scope_full(b, s, st->name);
    ValueId v = param_value(b, full, st->loc);
    TensorType want;
    if (st->lhs && b_type(b, st->lhs, &want) == 0 && v) {
        const TensorType *have = &ir_value(b->g, v)->type;
        if (!ir_type_equal(&want, have)) {
            char w[128], h[128];
            b_error(b, st->loc, "param '%s': declared %s, file has %s", full,
                    ir_type_str(&want, w, sizeof w), ir_type_str(have, h, sizeof h));
        }
    }
    return v;
}

/* ------------------------------------------------------------------ annotations */

static int
annot_arg(Builder *b, const Ast *named, AnnotArg *out)
{
    const Ast *v = named->lhs;
    /* positional: @sparse(2:4) means pattern=2:4, @exit(0.9) means value=0.9 */
    const char *key = named->name ? named->name : v->kind == AST_RATIO ? "pattern" : "value";
    *out = (AnnotArg){ .key = key };
    if (v->kind == AST_NUM)
        out->num = v->num;
    else if (v->kind == AST_UNARY && v->lhs->kind == AST_NUM)
        out->num = -v->lhs->num;
    else if (v->kind == AST_STRING)
        out->str = v->str;
    else if (v->kind == AST_NAME)
        out->str = v->name;
    else if (v->kind == AST_RATIO)
        out->str = arena_printf(b->g->arena, "%lld:%lld", (long long)v->ival,
                                (long long)v->count);
    else {
        b_error(b, v->loc, "annotation argument '%s': expected a number, name, string or n:m",
                key);
        return -1;
    }
    return 0;
}

/* Adds stmt's annotations to nodes [n0, nnode), keeping any the node already has by the
 * same name (an inner statement's annotation wins over an outer one). */
static void
annotate(Builder *b, const Ast *st, NodeId n0)
{
    if (st->annots.n == 0 || n0 >= b->g->nnode)
        return;
    Annot *an = arena_alloc(b->g->arena, (size_t)st->annots.n * sizeof *an);
    for (int i = 0; i < st->annots.n; i++) {
        const Ast *a = st->annots.v[i];
        an[i] = (Annot){ .name = a->name, .narg = a->kids.n };
        an[i].arg = arena_alloc(b->g->arena, (size_t)(a->kids.n + 1) * sizeof(AnnotArg));
        for (int k = 0; k < a->kids.n; k++)
            if (annot_arg(b, a->kids.v[k], &an[i].arg[k]) < 0)
                return;
    }
    for (NodeId n = n0; n < b->g->nnode; n++) {
        Node *nd = ir_node(b->g, n);
        int have = nd->nannot;
        Annot *all = arena_alloc(b->g->arena, (size_t)(have + st->annots.n) * sizeof *all);
        if (have)
            memcpy(all, nd->annot, (size_t)have * sizeof *all);
        int na = have;
        for (int i = 0; i < st->annots.n; i++)
            if (!ir_node_annot(b->g, n, an[i].name))
                all[na++] = an[i];
        ir_node_set_annot(b->g, n, all, na);
    }
}

/* ------------------------------------------------------------------ statements */

/* Names the value a let binds when this statement made it (not an alias of an input). */
static void
name_let(Builder *b, Scope *s, ValueId v, const char *name, NodeId n0)
{
    if (v && ir_value(b->g, v)->def >= n0)
        b_name_value(b, v, scope_full(b, s, name));
}

static void
let_stmt(Builder *b, Scope *s, const Ast *st, NodeId n0)
{
    const Ast *e = st->lhs;
    int nt = st->kids.n;
    ValueId vals[KILN_MAX_SPLIT] = { 0 };
    if (nt == 1) {
        vals[0] = b_expr(b, s, e);
    } else if (e->kind != AST_CALL) {
        b_error(b, st->loc, "let binds %d names: expected a call with %d results", nt, nt);
    } else {
        NodeId n = b_call(b, s, e);
        int nout = n ? ir_node(b->g, n)->nout : nt;
        if (nout != nt)
            b_error(b, st->loc, "let binds %d names but %s has %d result%s", nt, e->name, nout,
                    nout == 1 ? "" : "s");
        for (int i = 0; n && i < nt && i < nout && i < KILN_MAX_SPLIT; i++)
            vals[i] = ir_node_out(b->g, n, i);
    }
    for (int i = 0; i < nt; i++) {
        const Ast *t = st->kids.v[i];
        ValueId v = i < KILN_MAX_SPLIT ? vals[i] : 0;
        if (scope_bind(b, s, t->name, v, t->loc, "let") == 0)
            name_let(b, s, v, t->name, n0);
    }
}

/* Evaluates (name = expr, ...) against the model's outputs into vals (declared order).
 * what: "return" or "exit if". */
static int
outputs(Builder *b, Scope *s, const Ast *st, ValueId *vals, const char *what)
{
    const Ast *m = b->model;
    int ok = 0, *seen = calloc((size_t)m->outs.n + 1, sizeof *seen);
    if (!seen)
        kiln_die("out of memory");
    for (int i = 0; i < st->kids.n; i++) {
        const Ast *o = st->kids.v[i];
        int k = 0;
        while (k < m->outs.n && strcmp(m->outs.v[k]->name, o->name) != 0)
            k++;
        ValueId v = b_expr(b, s, o->lhs);
        if (k == m->outs.n) {
            b_error(b, o->loc, "'%s' is not an output of model '%s'", o->name, m->name);
            ok = -1;
        } else if (seen[k]++) {
            b_error(b, o->loc, "output '%s' is given twice", o->name);
            ok = -1;
        } else {
            vals[k] = v;
            ok |= v ? 0 : -1;
        }
    }
    for (int k = 0; k < m->outs.n; k++)
        if (!seen[k]) {
            b_error(b, st->loc, "%s is missing output '%s'%s", what, m->outs.v[k]->name,
                    strcmp(what, "return") ? ": an exit must return every output" : "");
            ok = -1;
        }
    free(seen);
    return ok;
}

static void
exit_stmt(Builder *b, Scope *s, const Ast *st)
{
    int index = ++b->nexit;              /* numbered in source order even if this one fails */
    int n = b->model->outs.n;
    ValueId *in = calloc((size_t)n + 1, sizeof *in);
    if (!in)
        kiln_die("out of memory");
    in[0] = b_expr(b, s, st->lhs);
    if (outputs(b, s, st, in + 1, "exit if") == 0 && in[0]) {
        NodeId x = ir_node_new(b->g, OP_EXIT_IF, n + 1, in, 0, b_loc(b, st->loc));
        ir_attr_default(OP_EXIT_IF, &ir_node(b->g, x)->attr);
        ir_node(b->g, x)->attr.exit.index = index;
    }
    free(in);
}

static void
model_return(Builder *b, Scope *s, const Ast *st, NodeId n0)
{
    const Ast *m = b->model;
    ValueId *vals = calloc((size_t)m->outs.n + 1, sizeof *vals);
    if (!vals)
        kiln_die("out of memory");
    int ok;
    if (st->lhs && m->outs.n != 1) {
        b_error(b, st->loc, "model '%s' has %d outputs: expected 'return (%s = ..., ...)'",
                m->name, m->outs.n, m->outs.n ? m->outs.v[0]->name : "name");
        ok = -1;
    } else if (st->lhs) {
        vals[0] = b_expr(b, s, st->lhs);
        ok = vals[0] ? 0 : -1;
    } else {
        ok = outputs(b, s, st, vals, "return");
    }
    for (int k = 0; ok == 0 && k < m->outs.n; k++) {
        if (ir_value(b->g, vals[k])->def >= n0 && !ir_value(b->g, vals[k])->name)
            b_name_value(b, vals[k], m->outs.v[k]->name);   /* made here: name it */
        ir_graph_add_output(b->g, m->outs.v[k]->name, vals[k]);
    }
    free(vals);
}

/* Runs a layer or model body in scope s.  For a layer, returns the returned value. */
ValueId
b_body(Builder *b, Scope *s, const AstVec *body, int is_model)
{
    ValueId ret = 0;
    for (int i = 0; i < body->n; i++) {
        const Ast *st = body->v[i];
        NodeId n0 = b->g->nnode;
        switch (st->kind) {
        case AST_PARAM: {
            ValueId v = param_stmt(b, s, st);
            scope_bind(b, s, st->name, v, st->loc, "name");
            break;
        }
        case AST_LET:
            let_stmt(b, s, st, n0);
            break;
        case AST_EXIT:
            exit_stmt(b, s, st);
            break;
        case AST_RETURN:
            if (is_model)
                model_return(b, s, st, n0);
            else if (st->lhs)
                ret = b_expr(b, s, st->lhs);
            annotate(b, st, n0);
            return ret;                  /* check_body reports statements after it */
        default:
            break;                       /* AST_BAD: already reported */
        }
        annotate(b, st, n0);
    }
    return ret;
}

/* Statement rules that do not depend on values: one return, last; exit only in the model;
 * a layer returns one value.  Reported once per definition. */
static int
check_body(Builder *b, const Ast *def, int is_model)
{
    int ok = 0, nret = 0;
    const AstVec *body = &def->body;
    for (int i = 0; i < body->n; i++) {
        const Ast *st = body->v[i];
        if (nret) {
            b_error(b, st->loc, "statement after return");
            return -1;
        }
        if (st->kind == AST_RETURN) {
            nret++;
            if (!is_model && !st->lhs) {
                b_error(b, st->loc, "a layer returns one value: expected 'return expr'");
                ok = -1;
            }
        } else if (st->kind == AST_EXIT && !is_model) {
            b_error(b, st->loc, "exit if is only allowed in the model body");
            ok = -1;
        }
    }
    if (!nret) {
        if (is_model)
            b_error(b, def->loc, "model '%s' has no return: expected 'return (%s = ...)'",
                    def->name, def->outs.n ? def->outs.v[0]->name : "output");
        else
            b_error(b, def->loc, "layer '%s' has no return", def->name);
        ok = -1;
    }
    return ok;
}

/* ------------------------------------------------------------------ layers */

const Ast *
b_layer(Builder *b, const char *name, int *bad)
{
    for (int i = 0; i < b->nlayer; i++)
        if (strcmp(b->layers[i]->name, name) == 0) {
            if (bad)
                *bad = b->layer_bad[i];
            return b->layers[i];
        }
    return NULL;
}

/* Builds one instance `inst` of layer l on args; returns its result (0 on error). */
ValueId
b_instantiate(Builder *b, const Ast *l, const char *inst, const ValueId *args, SrcLoc loc)
{
    for (int i = 0; i < b->depth; i++)
        if (b->stack[i] == l) {
            b_error(b, loc, "layer '%s' calls itself", l->name);
            return 0;
        }
    if (b->depth == FE_MAX_NEST) {
        b_error(b, loc, "layers nested too deeply: more than %d levels", FE_MAX_NEST);
        return 0;
    }
    Scope s = { .prefix = inst };
    for (int i = 0; i < l->params.n; i++)
        scope_bind(b, &s, l->params.v[i]->name, args[i], l->params.v[i]->loc, "parameter");
    b->stack[b->depth++] = l;
    ValueId v = b_body(b, &s, &l->body, 0);
    b->depth--;
    free(s.b);
    return v;
}

static void
check_layers(Builder *b)
{
    b->layer_bad = calloc((size_t)b->nlayer + 1, sizeof *b->layer_bad);
    if (!b->layer_bad)
        kiln_die("out of memory");
    for (int i = 0; i < b->nlayer; i++) {
        const Ast *l = b->layers[i];
        for (int j = 0; j < i; j++)
            if (strcmp(b->layers[j]->name, l->name) == 0) {
                b_error(b, l->loc, "layer '%s' is already defined at %d:%d", l->name,
                        b->layers[j]->loc.line, b->layers[j]->loc.col);
                b->layer_bad[i] = 1;
            }
        Scope s = { 0 };
        for (int k = 0; k < l->params.n; k++)
            if (scope_bind(b, &s, l->params.v[k]->name, 0, l->params.v[k]->loc,
                           "parameter") < 0)
                b->layer_bad[i] = 1;
        free(s.b);
        if (check_body(b, l, 0) < 0)
            b->layer_bad[i] = 1;
    }
}

/* ------------------------------------------------------------------ the model */

static void
model_inputs(Builder *b, Scope *s, const Ast *m)
{
    for (int i = 0; i < m->params.n; i++) {
        const Ast *in = m->params.v[i];
        TensorType t;
        if (scope_find(s, in->name)) {
            b_error(b, in->loc, "duplicate input '%s'", in->name);
            continue;
        }
        if (!in->lhs)
            b_error(b, in->loc, "model input '%s' needs a type: expected '%s: f32[...]'",
                    in->name, in->name);
        if (!in->lhs || b_type(b, in->lhs, &t) < 0) {
            scope_bind(b, s, in->name, 0, in->loc, "input");   /* uses stay quiet */
            continue;
        }
        ValueId v = ir_graph_add_input(b->g, in->name, &t);
        names_add(b, in->name);
        scope_bind(b, s, in->name, v, in->loc, "input");
    }
    for (int i = 0; i < m->outs.n; i++)
        for (int j = 0; j < i; j++)
            if (strcmp(m->outs.v[i]->name, m->outs.v[j]->name) == 0)
                b_error(b, m->outs.v[i]->loc, "duplicate output '%s'", m->outs.v[i]->name);
}

/* Collects the declarations; exactly one model. */
static int
declarations(Builder *b, const Ast *file)
{
    int nw = 0;
    for (int i = 0; i < file->kids.n; i++)
        nw += file->kids.v[i]->kind == AST_WEIGHTS;
    b->src = calloc((size_t)nw + 1, sizeof *b->src);
    b->layers = calloc((size_t)file->kids.n + 1, sizeof *b->layers);
    if (!b->src || !b->layers)
        kiln_die("out of memory");
    for (int i = 0; i < file->kids.n; i++) {
        const Ast *dcl = file->kids.v[i];
        if (dcl->kind == AST_WEIGHTS)
            open_source(b, dcl);
        else if (dcl->kind == AST_LAYERDEF)
            b->layers[b->nlayer++] = dcl;
        else if (dcl->kind == AST_MODEL && b->model)
            b_error(b, dcl->loc, "second model '%s': a file holds exactly one model (the "
                    "first is at %d:%d)", dcl->name, b->model->loc.line, b->model->loc.col);
        else if (dcl->kind == AST_MODEL)
            b->model = dcl;
    }
    if (!b->model) {
        b_error(b, file->loc, "no model in file: expected 'model NAME(inputs) -> (outputs) "
                "{ ... }'");
        return -1;
    }
    return 0;
}

int
fe_build(Graph *g, const Ast *file, Diag *d)
{
    Builder b = { .g = g, .d = d };
    int nerror0 = d->nerror;             /* ir_storage_file reports to d directly */
    b.gfile = arena_strdup(g->arena, file->loc.file);
    if (declarations(&b, file) == 0) {
        check_layers(&b);
        g->name = arena_strdup(g->arena, b.model->name);
        Scope s = { .prefix = "" };
        model_inputs(&b, &s, b.model);
        check_body(&b, b.model, 1);
        b_body(&b, &s, &b.model->body, 1);
        free(s.b);
    }
    for (int i = 0; i < b.nsrc; i++)
        kiln_file_unmap(b.src[i].map);
    free(b.src);
    free(b.layers);
    free(b.layer_bad);
    map_free(&b.params);
    map_free(&b.names);
    return d->nerror > nerror0 ? -1 : 0;
}

/* ------------------------------------------------------------------ entry points */

Graph *
fe_parse_string(const char *src, size_t len, const char *filename, Diag *d)
{
    if (!filename)
        filename = "<string>";
    Graph *g = ir_graph_new(NULL);
    ir_graph_set_dir(g, filename);
    FeParse ps;
    memset(&ps, 0, sizeof ps);
    ps.arena = arena_new();
    ps.d = d;
    ps.file = filename;                  /* diagnostics point at the caller's string */
    int rc = fe_parse_ast(&ps, src, len);
    if (rc == 0)
        rc = fe_build(g, ps.root, d);
    arena_free(ps.arena);
    if (rc != 0) {
        ir_graph_free(g);
        return NULL;
    }
    return g;
}

Graph *
fe_parse_file(const char *path, Diag *d)
{
    kiln_file *f;
    char err[256] = "";
    if (kiln_file_map(path, &f, err, sizeof err) != KILN_OK) {
        diag_error(d, (SrcLoc){ path, 0, 0 }, "cannot read '%s': %s", path, err);
        return NULL;
    }
    Graph *g = fe_parse_string(kiln_file_data(f), kiln_file_size(f), path, d);
    kiln_file_unmap(f);
    return g;
}
