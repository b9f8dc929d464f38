/* ir/print.c — writes a Graph in the text form of doc/ir.md, exactly what parse.c reads:
 * print(parse(print(g))) is byte-identical to print(g).
 *
 * Approach: a first walk over the inputs and the schedule gives every value a unique
 * printed name (the rule is in name_values); the second walk prints one line per node. */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include "ir.h"
#include "util.h"

typedef struct {
    const Graph *g;          /* graph being printed */
    FILE        *out;        /* destination */
    char       **name;       /* [nvalue] printed name without '%', NULL = not printed */
    char       **set;        /* open-addressed set of the names handed out so far */
    uint32_t     capset;     /* slots in set, a power of two */
} Printer;

/* ------------------------------------------------------------------ unique names */

static uint32_t
hash(const char *s)
{
    uint32_t h = 2166136261u;
    while (*s)
        h = (h ^ (uint8_t)*s++) * 16777619u;
    return h;
}

/* 1 if s was already in the set; else adds it (the set owns s). */
static int
set_add(Printer *p, char *s)
{
    uint32_t i = hash(s) & (p->capset - 1);
    for (; p->set[i]; i = (i + 1) & (p->capset - 1))
        if (strcmp(p->set[i], s) == 0)
            return 1;
    p->set[i] = s;
    return 0;
}

static char *
xstrdup(const char *s)
{
    char *r = malloc(strlen(s) + 1);
    if (!r)
        kiln_die("out of memory");
    return strcpy(r, s);
}

/* A value name the lexer reads back: [A-Za-z0-9_.]+, other bytes become '_'.  NULL when
 * the value has no usable name (absent, empty or all digits: those print as numbers). */
static char *
clean_name(const char *name)
{
    int digits = 1;
    if (!name || !*name)
        return NULL;
    char *s = xstrdup(name);
    for (char *c = s; *c; c++) {
        if (!isalnum((unsigned char)*c) && *c != '_' && *c != '.')
            *c = '_';
        digits &= isdigit((unsigned char)*c) != 0;
    }
    if (digits) {
        free(s);
        return NULL;
    }
    return s;
}

/* Names value v: its cleaned name, made unique by the first free suffix ".1", ".2", ...;
 * unnamed values get the next number.  Named and numbered names never collide because a
 * cleaned name is never all digits. */
static void
name_value(Printer *p, ValueId v, int *counter)
{
    char *base = clean_name(p->g->values[v].name);
    char buf[64];
    if (!base || p->name[v]) {
        free(base);
        if (!p->name[v]) {
            snprintf(buf, sizeof buf, "%d", (*counter)++);
            p->name[v] = xstrdup(buf);
        }
        return;
    }
    char *s = xstrdup(base);
    for (int k = 1; set_add(p, s); k++) {
        free(s);
        size_t n = strlen(base) + 16;
        s = malloc(n);
        if (!s)
            kiln_die("out of memory");
        snprintf(s, n, "%s.%d", base, k);
    }
    free(base);
    p->name[v] = s;
}

static void
name_values(Printer *p)
{
    const Graph *g = p->g;
    int counter = 0;
    p->name = calloc(g->nvalue, sizeof *p->name);
    p->capset = 16;
    while (p->capset < 2 * g->nvalue)
        p->capset *= 2;
    p->set = calloc(p->capset, sizeof *p->set);
    if (!p->name || !p->set)
        kiln_die("out of memory");
    for (int i = 0; i < g->ninput; i++)
        if (g->inputs[i] > 0 && g->inputs[i] < g->nvalue)
            name_value(p, g->inputs[i], &counter);
    for (uint32_t i = 0; i < g->norder; i++) {
        const Node *nd = &g->nodes[g->order[i]];
        for (int k = 0; k < nd->nout; k++)
            if (nd->out[k] > 0 && nd->out[k] < g->nvalue)
                name_value(p, nd->out[k], &counter);
    }
}

static void
free_names(Printer *p)
{
    /* set entries are the same strings as name[] entries */
    for (uint32_t v = 0; v < p->g->nvalue; v++)
        free(p->name[v]);
    free(p->name);
    free(p->set);
}

/* ------------------------------------------------------------------ pieces */

/* Shortest "%.Ng" (N = 6..9) that reads back as the same float: exact, yet 0.2 stays 0.2. */
static void
pr_f32(FILE *out, float x)
{
    char buf[64];
    for (int prec = 6; prec <= 9; prec++) {
        snprintf(buf, sizeof buf, "%.*g", prec, (double)x);
        if ((float)strtod(buf, NULL) == x || x != x)
            break;
    }
    fputs(buf, out);
}

/* Shortest "%.Ng" (N = 15..17) that reads back as the same double. */
static void
pr_f64(FILE *out, double x)
{
    char buf[64];
    for (int prec = 15; prec <= 17; prec++) {
        snprintf(buf, sizeof buf, "%.*g", prec, x);
        if (strtod(buf, NULL) == x || x != x)
            break;
    }
    fputs(buf, out);
}

static void
pr_value(Printer *p, ValueId v)
{
    if (v > 0 && v < p->g->nvalue && p->name[v])
        fprintf(p->out, "%%%s", p->name[v]);
    else
        fputs("%<undefined>", p->out);
}

static void
pr_string(FILE *out, const char *s)
{
    fputc('"', out);
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\')
            fprintf(out, "\\%c", c);
        else if (c < 0x20 || c >= 0x7f)
            fprintf(out, "\\x%02x", c);
        else
            fputc(c, out);
    }
    fputc('"', out);
}

/* A bare word when the lexer reads it back as one identifier, else a quoted string. */
static void
pr_word(FILE *out, const char *s)
{
    int ok = s && (isalpha((unsigned char)s[0]) || s[0] == '_') && strcmp(s, "inf") != 0 &&
             strcmp(s, "nan") != 0;
    for (const char *c = s; ok && *c; c++)
        ok = isalnum((unsigned char)*c) || *c == '_' || *c == '.';
    if (ok)
        fputs(s, out);
    else
        pr_string(out, s ? s : "");
}

static void
pr_quant(FILE *out, const QuantParams *q)
{
    fprintf(out, " quant<%d, %s, ", q->bits, q->is_signed ? "signed" : "unsigned");
    switch (q->gran) {
    case QG_TENSOR: fputs("tensor", out); break;
    case QG_AXIS:   fprintf(out, "axis(%d)", q->axis); break;
    case QG_GROUP:  fprintf(out, "group(%d, %d)", q->axis, q->group); break;
    default:        fputs("none", out); break;
    }
    fputs(", scale = [", out);
    for (int i = 0; i < q->nscale && q->scale; i++) {
        fputs(i ? ", " : "", out);
        pr_f32(out, q->scale[i]);
    }
    fputs("], zero = [", out);
    for (int i = 0; i < q->nscale && q->zero; i++)
        fprintf(out, "%s%d", i ? ", " : "", (int)q->zero[i]);
    fputs("]>", out);
}

static void
pr_type(FILE *out, const TensorType *t)
{
    char buf[256];
    if (t->dtype == DT_NONE) {
        fputs("none", out);
        return;
    }
    fputs(ir_type_str(t, buf, sizeof buf), out);
    if (t->quant)
        pr_quant(out, t->quant);
    switch (t->sparse.kind) {
    case SP_CSR:   fputs(" sparse<csr>", out); break;
    case SP_BLOCK: fprintf(out, " sparse<block %dx%d>", t->sparse.block[0], t->sparse.block[1]); break;
    case SP_NM:    fprintf(out, " sparse<%d:%d>", t->sparse.n, t->sparse.m); break;
    default: break;
    }
}

static void
pr_loc(FILE *out, SrcLoc loc)
{
    size_t n = loc.file ? strlen(loc.file) : 0;
    /* positions inside a .kir text are where the parser read it: stale once reprinted */
    if (!loc.file || (n >= 4 && strcmp(loc.file + n - 4, ".kir") == 0))
        return;
    fputs(" loc(", out);
    pr_string(out, loc.file);
    fprintf(out, ":%d:%d)", loc.line, loc.col);
}

/* One element of a dense constant. */
static void
pr_elem(FILE *out, DType dt, const void *data, int64_t i)
{
    switch (dt) {
    case DT_F32: {
        float f;
        memcpy(&f, (const char *)data + 4 * i, 4);
        pr_f32(out, f);
        break;
    }
    case DT_I32: {
        int32_t x;
        memcpy(&x, (const char *)data + 4 * i, 4);
        fprintf(out, "%d", (int)x);
        break;
    }
    case DT_I64: {
        int64_t x;
        memcpy(&x, (const char *)data + 8 * i, 8);
        fprintf(out, "%lld", (long long)x);
        break;
    }
    case DT_I8:  fprintf(out, "%d", (int)((const int8_t *)data)[i]); break;
    default:     fprintf(out, "%d", (int)((const uint8_t *)data)[i]); break;
    }
}

/* Two lowercase hex digits per byte, in chunks: folded constants can be large. */
static void
pr_hex(FILE *out, const uint8_t *data, size_t n)
{
    static const char digit[] = "0123456789abcdef";
    char buf[4096];
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        buf[k++] = digit[data[i] >> 4];
        buf[k++] = digit[data[i] & 15];
        if (k == sizeof buf) {
            fwrite(buf, 1, k, out);
            k = 0;
        }
    }
    fwrite(buf, 1, k, out);
}

/* file("path", "key"), dense<[...]> for up to 16 elements, hex<"..."> otherwise. */
static void
pr_storage(Printer *p, const Node *nd, const TensorType *t)
{
    const Graph *g = p->g;
    StorageId s = nd->attr.cnst.storage;
    if (s == 0 || s >= g->nstorage || g->storage[s].kind == STORE_NONE) {
        fputs(" <no storage>", p->out);
        return;
    }
    const Storage *st = &g->storage[s];
    if (st->kind == STORE_FILE) {
        fputs(" file(", p->out);
        pr_string(p->out, st->path ? st->path : "");
        if (st->key) {
            fputs(", ", p->out);
            pr_string(p->out, st->key);
        }
        fputc(')', p->out);
        return;
    }
    int64_t numel, bytes;
    if (t->dtype != DT_NONE && ir_type_numel(t, &numel) == 0 && numel <= 16 &&
        ir_type_bytes(t, &bytes) == 0 && (size_t)bytes == st->nbytes) {
        fputs(" dense<[", p->out);
        for (int64_t i = 0; i < numel; i++) {
            fputs(i ? ", " : "", p->out);
            pr_elem(p->out, t->dtype, st->data, i);
        }
        fputs("]>", p->out);
        return;
    }
    fputs(" hex<\"", p->out);
    pr_hex(p->out, st->data, st->nbytes);
    fputs("\">", p->out);
}

static void
pr_epilogue(Printer *p, const Node *nd)
{
    fputs(" epilogue[", p->out);
    for (int i = 0; i < nd->nepi; i++) {
        const EpiStep *e = &nd->epi[i];
        fputs(i ? ", " : "", p->out);
        if (e->op <= OP_NONE || e->op >= OP_COUNT) {
            fputs("<bad op>", p->out);
            continue;
        }
        fputs(op_name[e->op], p->out);
        if (op_flags[e->op] & F_BINARY) {
            fputc('(', p->out);
            pr_value(p, e->arg >= 0 && e->arg < nd->nin ? nd->in[e->arg] : 0);
            fputs(e->swap ? ", acc)" : ")", p->out);
        }
        ir_attr_print(e->op, &e->attr, p->out);
    }
    fputc(']', p->out);
}

static void
pr_annots(Printer *p, const Node *nd)
{
    for (int i = 0; i < nd->nannot; i++) {
        const Annot *a = &nd->annot[i];
        fputs(" @", p->out);
        pr_word(p->out, a->name);
        if (!a->narg)
            continue;
        fputc('(', p->out);
        for (int k = 0; k < a->narg; k++) {
            fputs(k ? ", " : "", p->out);
            pr_word(p->out, a->arg[k].key);
            fputs(" = ", p->out);
            if (a->arg[k].str)
                pr_string(p->out, a->arg[k].str);
            else
                pr_f64(p->out, a->arg[k].num);
        }
        fputc(')', p->out);
    }
}

static void
pr_results(Printer *p, const Node *nd)
{
    int known = 0;
    for (int k = 0; k < nd->nout; k++)
        known |= p->g->values[nd->out[k]].type.dtype != DT_NONE;
    if (!known)
        return;
    fputs(" :", p->out);
    for (int k = 0; k < nd->nout; k++) {
        fputs(k ? ", " : " ", p->out);
        pr_type(p->out, &p->g->values[nd->out[k]].type);
    }
}

static void
pr_node(Printer *p, const Node *nd)
{
    FILE *out = p->out;
    fputs("  ", out);
    if (nd->op <= OP_NONE || nd->op >= OP_COUNT) {
        fputs("# deleted node\n", out);
        return;
    }
    for (int k = 0; k < nd->nout; k++) {
        fputs(k ? ", " : "", out);
        pr_value(p, nd->out[k]);
    }
    fprintf(out, "%s%s", nd->nout ? " = " : "", op_name[nd->op]);
    if (nd->op == OP_CONST) {
        pr_storage(p, nd, nd->nout ? &p->g->values[nd->out[0]].type : NULL);
    } else {
        fputc('(', out);
        for (int k = 0; k < nd->nin; k++) {
            fputs(k ? ", " : "", out);
            pr_value(p, nd->in[k]);
        }
        fputc(')', out);
        ir_attr_print(nd->op, &nd->attr, out);
        if (nd->nepi)
            pr_epilogue(p, nd);
    }
    pr_annots(p, nd);
    pr_results(p, nd);
    pr_loc(out, nd->loc);
    fputc('\n', out);
}

static void
pr_header(Printer *p)
{
    const Graph *g = p->g;
    fputs("graph @", p->out);
    pr_word(p->out, g->name);
    fputc('(', p->out);
    for (int i = 0; i < g->ninput; i++) {
        fputs(i ? ", " : "", p->out);
        pr_value(p, g->inputs[i]);
        fputs(": ", p->out);
        if (g->inputs[i] > 0 && g->inputs[i] < g->nvalue)
            pr_type(p->out, &g->values[g->inputs[i]].type);
    }
    fputs(") -> (", p->out);
    for (int i = 0; i < g->noutput; i++) {
        fputs(i ? ", " : "", p->out);
        pr_word(p->out, g->outputs[i].name);
        fputs(" = ", p->out);
        pr_value(p, g->outputs[i].value);
    }
    fputs(") {\n", p->out);
}

void
ir_graph_print(const Graph *g, FILE *out)
{
    Printer p = { .g = g, .out = out };
    name_values(&p);
    pr_header(&p);
    for (uint32_t i = 0; i < g->norder; i++)
        pr_node(&p, &g->nodes[g->order[i]]);
    fputs("  return\n}\n", out);
    free_names(&p);
}

char *
ir_graph_print_str(const Graph *g)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    if (!f)
        kiln_die("out of memory");
    ir_graph_print(g, f);
    fclose(f);
    return buf;
}
