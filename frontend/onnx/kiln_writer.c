/* frontend/onnx/kiln_writer.c — an IR graph written as .kiln source plus the list of its
 * params, for `kiln import`: an imported ONNX model becomes a file people can read and edit.
 *
 * Approach: one walk over the schedule.  Every value gets the source text that refers to it
 * (an input's or let's identifier, a param's dotted name) before its first use; names are
 * made valid for the .kiln lexer (doc/language.md §1) and unique through one NameMap.
 * Attributes are printed by ir_attr_print and turned from " {k = v, ...}" into "k=v" call
 * arguments: the text IR and the language share attribute keys and values (ir/attr.c).
 * It lives here, not in tools/, so the conversion is library code next to the importer
 * whose names it cleans up, callable and testable without the CLI. */
#define _POSIX_C_SOURCE 200809L      /* open_memstream */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include "onnx_internal.h"
#include "util.h"

typedef struct {
    Graph          *g;         /* graph being written */
    Diag           *d;         /* user errors */
    FILE           *out;       /* .kiln text */
    NameMap         used;      /* every name handed out, so names stay unique */
    const char    **ref;       /* per ValueId: source text naming it; NULL = not defined yet */
    uint8_t        *live;      /* per ValueId: 1 when an output depends on it */
    const char    **stname;    /* per StorageId: name of the first named const using it */
    OnnxKilnParams *p;         /* params collected so far */
    uint32_t        capparam;  /* allocated entries of p->name and p->view */
} Writer;

static const char *const keywords[] = {
    "weights", "layer", "model", "param", "let", "return", "exit", "if", "repeat", NULL,
};

static int
is_keyword(const char *s)
{
    for (int i = 0; keywords[i]; i++)
        if (strcmp(s, keywords[i]) == 0)
            return 1;
    return 0;
}

static int
is_word_char(int c)
{
    return isalnum((unsigned char)c) || c == '_';
}

/* s[0..n) as an identifier: leading punctuation dropped, other bad bytes '_', a 'v' in front
 * of a leading digit (or of nothing), a '_' after a keyword.  Arena-owned. */
static char *
ident_n(Arena *a, const char *s, size_t n)
{
    while (n && !isalnum((unsigned char)*s)) {
        s++;
        n--;
    }
    char *r = arena_alloc(a, n + 3), *q = r;
    if (!n || isdigit((unsigned char)*s))
        *q++ = 'v';
    for (size_t i = 0; i < n; i++)
        *q++ = is_word_char(s[i]) ? s[i] : '_';
    *q = 0;
    if (is_keyword(r))
        *q++ = '_';
    return r;
}

static int
all_digits(const char *s, size_t n)
{
    if (!n || n > 18)                /* longer ones would overflow the lexer's integers */
        return 0;
    for (size_t i = 0; i < n; i++)
        if (!isdigit((unsigned char)s[i]))
            return 0;
    return 1;
}

/* raw as a dotted name (IDENT { "." word }): the first segment an identifier, later ones
 * identifiers, keywords or integers.  Two integer segments in a row would lex as a float
 * ("0.5"), so the second gets a '_' in front, as does any other segment that starts with
 * a digit.  Arena-owned. */
static char *
dotted(Arena *a, const char *raw)
{
    size_t len = strlen(raw);
    char *r = arena_alloc(a, 2 * len + 4), *q = r;
    int prev_int = 0;
    for (const char *p = raw, *first = raw;; p++) {
        const char *e = strchr(p, '.');
        size_t n = e ? (size_t)(e - p) : strlen(p);
        if (p == first) {
            char *id = ident_n(a, p, n);
            q += strlen(strcpy(q, id));
        } else if (all_digits(p, n) && !prev_int) {
            *q++ = '.';
            memcpy(q, p, n);
            q += n;
            prev_int = 1;
        } else {
            *q++ = '.';
            if (!n || isdigit((unsigned char)*p))
                *q++ = '_';
            for (size_t i = 0; i < n; i++)
                *q++ = is_word_char(p[i]) ? p[i] : '_';
            prev_int = 0;
        }
        if (!e)
            break;
        p = e;
    }
    *q = 0;
    return r;
}

/* base, or base_2, base_3, ... re-cleaned, whichever is not taken yet; marks it taken. */
static const char *
unique_in(Writer *w, NameMap *m, const char *base, int is_dotted)
{
    const char *s = base;
    uint32_t dummy;
    for (int k = 2; onnx_names_get(m, s, &dummy); k++) {
        char *c = arena_printf(w->g->arena, "%s_%d", base, k);
        s = is_dotted ? dotted(w->g->arena, c) : ident_n(w->g->arena, c, strlen(c));
    }
    onnx_names_put(m, w->g->arena, s, 1);
    return s;
}

/* unique_in the names of values (inputs, params, lets: one scope in the language). */
static const char *
unique(Writer *w, const char *base, int is_dotted)
{
    return unique_in(w, &w->used, base, is_dotted);
}

/* A fresh identifier for value v: from its name, else "t<id>". */
static const char *
value_ident(Writer *w, ValueId v)
{
    const char *name = w->g->values[v].name;
    char *id = name ? ident_n(w->g->arena, name, strlen(name))
                    : arena_printf(w->g->arena, "t%u", v);
    return unique(w, id, 0);
}

static void
put_type(FILE *out, const TensorType *t)
{
    fprintf(out, "%s[", ir_dtype_name(t->dtype));
    for (int i = 0; i < t->rank; i++)
        fprintf(out, "%s%lld", i ? ", " : "", (long long)t->dims[i]);
    fputc(']', out);
}

/* ------------------------------------------------------------------ attributes */

/* Replaces every "-9223372036854775808" in s by "-9223372036854775807": the lexer's
 * integers stop at 2^63 - 1, and slice bounds that far out clamp the same. */
static void
fix_int64_min(char *s)
{
    static const char min[] = "-9223372036854775808";
    for (char *p = strstr(s, min); p; p = strstr(p + 1, min))
        p[sizeof min - 2] = '7';
}

/* The attribute of op as call arguments ", k=v, k2=[1, 2]" ("" for defaults), in the
 * arena; NULL (reported at loc) if a value has no .kiln spelling (inf, nan). */
static const char *
attr_args(Writer *w, Op op, const Attr *a, SrcLoc loc)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *m = open_memstream(&buf, &len);
    if (!m)
        kiln_die("out of memory");
    ir_attr_print(op, a, m);
    if (fclose(m) != 0 || !buf)
        kiln_die("out of memory");
    /* buf is " {k = v, ...}" or "" */
    char *r = arena_alloc(w->g->arena, len + 1), *q = r;
    for (size_t i = len > 2 ? 2 : len; i + 1 < len; i++) {
        if (buf[i] == ' ' && buf[i + 1] == '=' && buf[i + 2] == ' ') {
            *q++ = '=';
            i += 2;
        } else {
            *q++ = buf[i];
        }
    }
    *q = 0;
    free(buf);
    fix_int64_min(r);
    if (strstr(r, "inf") || strstr(r, "nan")) {
        diag_error(w->d, loc, "%s: attribute value has no .kiln spelling: %s", op_name[op], r);
        return NULL;
    }
    return *r ? arena_printf(w->g->arena, ", %s", r) : "";
}

/* ------------------------------------------------------------------ params */

static void
add_param(Writer *w, const char *name, const kiln_view *v)
{
    OnnxKilnParams *p = w->p;
    uint32_t cap = w->capparam;
    p->name = kiln_grow(p->name, &cap, (uint32_t)p->n + 1, sizeof *p->name);
    p->view = kiln_grow(p->view, &w->capparam, (uint32_t)p->n + 1, sizeof *p->view);
    p->name[p->n] = name;
    p->view[p->n++] = *v;
}

/* The f32 values of quantized constant bytes q of type t, in the arena; NULL (reported)
 * for a granularity the writer cannot express. */
static float *
dequantize(Writer *w, const TensorType *t, const void *q, int64_t numel, SrcLoc loc)
{
    const QuantParams *qp = t->quant;
    if (qp->gran == QG_GROUP || qp->nscale < 1) {
        diag_error(w->d, loc, "cannot write group-quantized constants as .kiln");
        return NULL;
    }
    int64_t inner = 1;
    for (int k = qp->axis + 1; qp->gran == QG_AXIS && k < t->rank; k++)
        inner *= t->dims[k];
    float *f = arena_alloc(w->g->arena, (size_t)numel * sizeof *f);
    for (int64_t i = 0; i < numel; i++) {
        int64_t c = qp->gran == QG_AXIS ? (i / inner) % t->dims[qp->axis] : 0;
        int32_t x = t->dtype == DT_I8 ? ((const int8_t *)q)[i] : ((const uint8_t *)q)[i];
        f[i] = qp->scale[c] * (float)(x - qp->zero[c]);
    }
    return f;
}

/* Marks the values the outputs depend on, so constants the importer left behind (scales
 * and zero points it turned into attributes, unused initializers) are not written. */
static void
mark_live(Writer *w)
{
    Graph *g = w->g;
    for (int i = 0; i < g->noutput; i++)
        w->live[g->outputs[i].value] = 1;
    for (uint32_t i = g->norder; i-- > 0;) {
        const Node *nd = &g->nodes[g->order[i]];
        int live = nd->op != OP_NONE && nd->nout == 0;
        for (int k = 0; k < nd->nout; k++)
            live |= w->live[nd->out[k]];
        for (int k = 0; k < nd->nin && live; k++)
            w->live[nd->in[k]] = 1;
    }
    for (uint32_t i = 0; i < g->norder; i++) {     /* names for re-typed (quantized) copies */
        const Node *nd = &g->nodes[g->order[i]];
        StorageId st = nd->op == OP_CONST ? nd->attr.cnst.storage : 0;
        if (st && st < g->nstorage && !w->stname[st])
            w->stname[st] = g->values[nd->out[0]].name;
    }
}

/* 1 when n is a node some output depends on (or one without results, an exit). */
static int
node_live(const Writer *w, NodeId n)
{
    const Node *nd = &w->g->nodes[n];
    int live = nd->op != OP_NONE && nd->nout == 0;
    for (int k = 0; k < nd->nout; k++)
        live |= w->live[nd->out[k]];
    return live && nd->op != OP_NONE;
}

/* `param NAME: type` for const node n (plus a quantize call for quantized ones). */
static int
write_const(Writer *w, NodeId n)
{
    const Node *nd = &w->g->nodes[n];
    ValueId v = nd->out[0];
    const Value *val = &w->g->values[v];
    TensorType t = val->type;
    int64_t numel;
    if (t.sparse.kind != SP_DENSE) {
        diag_error(w->d, nd->loc, "cannot write sparse-encoded constants as .kiln");
        return -1;
    }
    KILN_ASSERT(ir_type_numel(&t, &numel) == 0);
    const char *raw = val->name ? val->name : w->stname[nd->attr.cnst.storage];
    const char *name = unique(w, dotted(w->g->arena, raw ? raw
                                        : arena_printf(w->g->arena, "const%u", v)), 1);
    kiln_view view = { (kiln_dtype)t.dtype, t.rank, { 0 }, ir_const_data(w->g, n), 0 };
    memcpy(view.dims, t.dims, sizeof t.dims);
    if (t.quant) {
        view.dtype = KILN_DT_F32;
        view.data = dequantize(w, &t, view.data, numel, nd->loc);
        if (!view.data)
            return -1;
    }
    view.nbytes = (size_t)numel * ir_dtype_size((DType)view.dtype);
    add_param(w, name, &view);
    fprintf(w->out, "  param %s: ", name);
    TensorType pt = ir_type_make((DType)view.dtype, t.rank, t.dims);
    put_type(w->out, &pt);
    fputc('\n', w->out);
    w->ref[v] = name;
    if (!t.quant)
        return 0;
    Attr a;
    ir_attr_default(OP_QUANTIZE, &a);
    a.quant.q = *t.quant;
    const char *args = attr_args(w, OP_QUANTIZE, &a, nd->loc);
    if (!args)
        return -1;
    w->ref[v] = unique(w, ident_n(w->g->arena, name, strlen(name)), 0);
    fprintf(w->out, "  let %s = quantize(%s%s)\n", w->ref[v], name, args);
    return 0;
}

/* `let r0[, r1...] = op(operands, attributes)` for node n. */
static int
write_node(Writer *w, NodeId n)
{
    const Node *nd = &w->g->nodes[n];
    if (nd->op == OP_EXIT_IF || nd->nepi || nd->nannot) {
        diag_error(w->d, nd->loc, "cannot write %s as .kiln: only plain op calls are written",
                   nd->op == OP_EXIT_IF ? "early exits" : nd->nepi ? "fused epilogues"
                   : "annotations");
        return -1;
    }
    const char *args = attr_args(w, nd->op, &nd->attr, nd->loc);
    if (!args)
        return -1;
    for (int i = 0; i < nd->nin; i++)
        if (!nd->in[i] || !w->ref[nd->in[i]]) {
            diag_error(w->d, nd->loc, "%s: operand %d is not defined before its use",
                       op_name[nd->op], i);
            return -1;
        }
    fputs("  let ", w->out);
    for (int i = 0; i < nd->nout; i++) {
        w->ref[nd->out[i]] = value_ident(w, nd->out[i]);
        fprintf(w->out, "%s%s", i ? ", " : "", w->ref[nd->out[i]]);
    }
    fprintf(w->out, " = %s(", op_name[nd->op]);
    for (int i = 0; i < nd->nin; i++)
        fprintf(w->out, "%s%s", i ? ", " : "", w->ref[nd->in[i]]);
    fprintf(w->out, "%s)\n", args);
    return 0;
}

/* ------------------------------------------------------------------ the model */

/* `weights "path"` with the string escaped as the lexer reads it. */
static void
put_weights(FILE *out, const char *path)
{
    fputs("weights \"", out);
    for (const char *p = path; *p; p++) {
        if (*p == '"' || *p == '\\')
            fputc('\\', out);
        fputc(*p, out);
    }
    fputs("\"\n\n", out);
}

/* Names the inputs and outputs and writes the model line; out_names gets the outputs'.
 * Output names are a namespace of their own: `let y = ...` and `return (y = y)` agree. */
static void
write_header(Writer *w, const char *weights, const char **out_names)
{
    Graph *g = w->g;
    int nconst = 0;
    for (uint32_t i = 0; i < g->norder; i++) {
        const Node *nd = &g->nodes[g->order[i]];
        nconst += nd->op == OP_CONST && node_live(w, g->order[i]);
    }
    fprintf(w->out, "# %s - written by `kiln import` (doc/onnx.md)\n", g->name);
    if (nconst)
        put_weights(w->out, weights);
    const char *model = ident_n(g->arena, g->name, strlen(g->name));
    fprintf(w->out, "model %s(", model);
    for (int i = 0; i < g->ninput; i++) {
        ValueId v = g->inputs[i];
        w->ref[v] = value_ident(w, v);
        fprintf(w->out, "%s%s: ", i ? ", " : "", w->ref[v]);
        put_type(w->out, &g->values[v].type);
    }
    fputs(") -> (", w->out);
    NameMap outs;
    onnx_names_init(&outs);
    for (int i = 0; i < g->noutput; i++) {
        const char *name = g->outputs[i].name;
        out_names[i] = unique_in(w, &outs, ident_n(g->arena, name, strlen(name)), 0);
        fprintf(w->out, "%s%s", i ? ", " : "", out_names[i]);
    }
    onnx_names_free(&outs);
    fputs(") {\n", w->out);
}

int
onnx_kiln_write(Graph *g, const char *weights, FILE *out, OnnxKilnParams *p, Diag *d)
{
    Writer w = { .g = g, .d = d, .out = out, .p = p };
    memset(p, 0, sizeof *p);
    onnx_names_init(&w.used);
    w.ref = calloc(g->nvalue + 1, sizeof *w.ref);
    w.live = calloc(g->nvalue + 1, 1);
    w.stname = calloc(g->nstorage + 1, sizeof *w.stname);
    const char **out_names = calloc((size_t)g->noutput + 1, sizeof *out_names);
    if (!w.ref || !w.live || !w.stname || !out_names)
        kiln_die("out of memory");
    mark_live(&w);
    write_header(&w, weights, out_names);
    int st = 0;
    for (uint32_t i = 0; i < g->norder && st == 0; i++) {
        NodeId n = g->order[i];
        if (!node_live(&w, n))
            continue;
        if (g->nodes[n].op == OP_CONST)
            st = write_const(&w, n);
        else if (g->nodes[n].op != OP_NONE)
            st = write_node(&w, n);
    }
    if (st == 0) {
        fputs("  return (", out);
        for (int i = 0; i < g->noutput; i++)
            fprintf(out, "%s%s = %s", i ? ", " : "", out_names[i],
                    w.ref[g->outputs[i].value]);
        fputs(")\n}\n", out);
    }
    free(out_names);
    free(w.stname);
    free(w.live);
    free(w.ref);
    onnx_names_free(&w.used);
    if (st != 0)
        onnx_kiln_params_free(p);
    return st;
}

void
onnx_kiln_params_free(OnnxKilnParams *p)
{
    free(p->name);
    free(p->view);
    memset(p, 0, sizeof *p);
}
