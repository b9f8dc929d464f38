/* ir/parse.c — reads the text IR of doc/ir.md (what print.c writes) into a Graph.
 *
 * Approach: a hand-written lexer feeding a recursive-descent parser with one token of
 * lookahead.  Errors are reported to the Diag with the text's file:line:col and unwind by
 * longjmp to the statement loop, which skips to the next line and goes on, so one file
 * reports several errors.  Everything temporary lives in a scratch arena freed at the end,
 * so unwinding leaks nothing.  A statement that failed still defines its result names (as
 * "poisoned") so later uses do not report again. */
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include "ir.h"
#include "util.h"

enum { MAX_ERRORS = 20, MAX_LIST = 1 << 24 };

typedef enum {
    T_EOF = 0,               /* end of text */
    T_IDENT,                 /* [A-Za-z_][A-Za-z0-9_.]* */
    T_VALUE,                 /* %name: s without the '%' */
    T_INT,                   /* integer literal: i (and f) */
    T_FLOAT,                 /* float literal, inf, nan: f */
    T_STRING,                /* "..." unescaped into s */
    T_ARROW,                 /* -> */
    T_PUNCT,                 /* one of ( ) [ ] { } < > , : = @ : c */
} TokKind;

typedef struct {
    TokKind     kind;
    int         c;           /* T_PUNCT: the character */
    const char *s;           /* T_IDENT, T_VALUE, T_STRING: scratch-owned text */
    int64_t     i;           /* T_INT */
    double      f;           /* T_INT, T_FLOAT */
    int         line, col;   /* where the token starts, 1-based */
    int         bol;         /* first token on its line */
} Tok;

typedef struct {
    const char *name;        /* scratch-owned */
    int         line, col;
} ResName;

/* name -> value map entry; v == 0 marks a name whose defining statement failed */
typedef struct {
    const char *name;        /* scratch-owned; NULL = empty slot */
    ValueId     v;
    int         line, col;   /* definition, for "previous definition" notes */
} Def;

typedef struct {
    /* input */
    const char *src;         /* whole text */
    size_t      len, pos;    /* length, next byte to lex */
    int         line, col;   /* position of src[pos] */
    const char *file;        /* the caller's file name: diagnostics (outlive the graph) */
    const char *afile;       /* graph-arena copy of it: node locations */
    int         kirlocs;     /* file ends in .kir: unlocated nodes get their text position */
    /* state */
    Tok         tok;         /* current token */
    Graph      *g;           /* graph under construction */
    Diag       *d;           /* error sink */
    Arena      *tmp;         /* scratch, freed at the end */
    jmp_buf     jb;          /* unwinds a failed statement */
    int         nerr;        /* errors reported by this parse */
    Def        *defs;        /* open-addressed map of value names */
    uint32_t    ndef, capdef;
    ResName     res[KILN_MAX_SPLIT];  /* results of the current statement */
    int         nres;
    struct OutParse *outs;   /* graph outputs, resolved after the body */
    int         nout;
} Parser;

/* ------------------------------------------------------------------ errors */

static SrcLoc
loc_at(Parser *p, int line, int col)
{
    return (SrcLoc){ p->file, line, col };
}

/* A node's default location: its position in a .kir text, else unknown. */
static SrcLoc
node_loc(Parser *p, int line, int col)
{
    return p->kirlocs ? (SrcLoc){ p->afile, line, col } : (SrcLoc){ 0 };
}

/* Reports msg at (line, col) and unwinds the current statement. */
static _Noreturn void
error_at(Parser *p, int line, int col, const char *fmt, ...) __attribute__((format(printf, 4, 5)));

static _Noreturn void
error_at(Parser *p, int line, int col, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    diag_error(p->d, loc_at(p, line, col), "%s", msg);
    p->nerr++;
    longjmp(p->jb, 1);
}

#define error_tok(p, ...) error_at(p, (p)->tok.line, (p)->tok.col, __VA_ARGS__)

/* Unwinds without a message: the cause was already reported. */
static _Noreturn void
quiet_fail(Parser *p)
{
    longjmp(p->jb, 1);
}

/* ------------------------------------------------------------------ lexer */

static int
peekc(Parser *p, size_t ahead)
{
    return p->pos + ahead < p->len ? (unsigned char)p->src[p->pos + ahead] : -1;
}

static void
advance(Parser *p)
{
    if (p->src[p->pos] == '\n') {
        p->line++;
        p->col = 1;
    } else {
        p->col++;
    }
    p->pos++;
}

static int
is_word(int c)
{
    return c >= 0 && (isalnum(c) || c == '_' || c == '.');
}

/* Skips blanks and comments; returns 1 if a newline was crossed. */
static int
skip_space(Parser *p)
{
    int nl = 0;
    for (;;) {
        int c = peekc(p, 0);
        if (c == '#') {
            while (peekc(p, 0) >= 0 && peekc(p, 0) != '\n')
                advance(p);
        } else if (c == ' ' || c == '\t' || c == '\r' || c == '\n') {
            nl |= c == '\n';
            advance(p);
        } else {
            return nl;
        }
    }
}

static char *
take(Parser *p, size_t start, size_t n)
{
    char *s = arena_alloc(p->tmp, n + 1);
    memcpy(s, p->src + start, n);
    return s;
}

static int
hexval(int c)
{
    return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10
         : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
}

static void
lex_string(Parser *p, Tok *t)
{
    size_t cap = 16, n = 0;
    char *buf = arena_alloc(p->tmp, cap);
    advance(p);
    for (;;) {
        int c = peekc(p, 0);
        if (c < 0 || c == '\n')
            error_at(p, t->line, t->col, "unterminated string");
        if (c == 0)
            error_at(p, p->line, p->col, "string contains a NUL byte");
        advance(p);
        if (c == '"')
            break;
        if (c == '\\') {
            int e = peekc(p, 0);
            if (e == 'x' && hexval(peekc(p, 1)) >= 0 && hexval(peekc(p, 2)) >= 0) {
                c = hexval(peekc(p, 1)) * 16 + hexval(peekc(p, 2));
                advance(p), advance(p), advance(p);
            } else if (e == '"' || e == '\\' || e == 'n' || e == 't') {
                c = e == 'n' ? '\n' : e == 't' ? '\t' : e;
                advance(p);
            } else {
                error_at(p, p->line, p->col - 1, "bad escape in string: expected \\\", \\\\, "
                         "\\n, \\t or \\xHH");
            }
            if (c == 0)
                error_at(p, t->line, t->col, "string contains a NUL byte");
        }
        if (n + 1 >= cap) {
            char *nb = arena_alloc(p->tmp, cap * 2);
            memcpy(nb, buf, n);
            buf = nb;
            cap *= 2;
        }
        buf[n++] = (char)c;
    }
    t->kind = T_STRING;
    t->s = buf;
}

/* Numbers: [+-]? (digits [. digits] [e [+-] digits] | inf | nan).  Hex is not accepted, so
 * "4x4" lexes as 4 then x4. */
static void
lex_number(Parser *p, Tok *t)
{
    size_t start = p->pos;
    int isfloat = 0;
    if (peekc(p, 0) == '-' || peekc(p, 0) == '+')
        advance(p);
    if (isalpha(peekc(p, 0))) {
        size_t w = p->pos;
        while (is_word(peekc(p, 0)))
            advance(p);
        char *word = take(p, w, p->pos - w);
        if (strcmp(word, "inf") != 0 && strcmp(word, "nan") != 0)
            error_at(p, t->line, t->col, "bad number '%s'", take(p, start, p->pos - start));
        isfloat = 1;
    } else {
        while (isdigit(peekc(p, 0)) || peekc(p, 0) == '.' ||
               ((peekc(p, 0) == 'e' || peekc(p, 0) == 'E') && p->pos > start)) {
            int c = peekc(p, 0);
            isfloat |= c == '.' || c == 'e' || c == 'E';
            advance(p);
            if ((c == 'e' || c == 'E') && (peekc(p, 0) == '-' || peekc(p, 0) == '+'))
                advance(p);
        }
    }
    char *text = take(p, start, p->pos - start), *end;
    errno = 0;
    if (isfloat) {
        t->kind = T_FLOAT;
        t->f = strtod(text, &end);
    } else {
        t->kind = T_INT;
        t->i = strtoll(text, &end, 10);
        t->f = strtod(text, NULL);       /* keeps the sign of -0 */
    }
    if (*end || end == text)
        error_at(p, t->line, t->col, "bad number '%s'", text);
    if (errno == ERANGE && !isfloat)
        error_at(p, t->line, t->col, "integer '%s' out of range", text);
}

static void
next(Parser *p)
{
    Tok *t = &p->tok;
    int nl = skip_space(p);
    int bol = nl || p->pos == 0;
    memset(t, 0, sizeof *t);
    t->kind = T_PUNCT;       /* a token the parser never accepts, should lexing fail */
    t->line = p->line;
    t->col = p->col;
    int c = peekc(p, 0), c1 = peekc(p, 1);
    if (c < 0) {
        t->kind = T_EOF;
    } else if (c == '"') {
        lex_string(p, t);
    } else if (c == '%') {
        size_t start = p->pos + 1;
        advance(p);
        while (is_word(peekc(p, 0)))
            advance(p);
        if (p->pos == start)
            error_at(p, t->line, t->col, "expected a value name after '%%'");
        t->kind = T_VALUE;
        t->s = take(p, start, p->pos - start);
    } else if (c == '-' && c1 == '>') {
        advance(p), advance(p);
        t->kind = T_ARROW;
    } else if (isdigit(c) || ((c == '-' || c == '+') && (isdigit(c1) || c1 == '.' || c1 == 'i' ||
               c1 == 'n')) || (c == '.' && isdigit(c1))) {
        lex_number(p, t);
    } else if (isalpha(c) || c == '_') {
        size_t start = p->pos;
        while (is_word(peekc(p, 0)))
            advance(p);
        t->kind = T_IDENT;
        t->s = take(p, start, p->pos - start);
        if (strcmp(t->s, "inf") == 0 || strcmp(t->s, "nan") == 0) {
            t->kind = T_FLOAT;
            t->f = strtod(t->s, NULL);
        }
    } else if (c && strchr("()[]{}<>,:=@", c)) {
        advance(p);
        t->kind = T_PUNCT;
        t->c = c;
    } else {
        advance(p);
        if (isprint(c))
            error_at(p, t->line, t->col, "unexpected character '%c'", c);
        error_at(p, t->line, t->col, "unexpected byte 0x%02x", (unsigned)c);
    }
    t->bol = bol;
}

/* ------------------------------------------------------------------ token helpers */

static const char *
tok_desc(Parser *p)
{
    const Tok *t = &p->tok;
    switch (t->kind) {
    case T_EOF:    return "end of file";
    case T_IDENT:  return arena_printf(p->tmp, "'%s'", t->s);
    case T_VALUE:  return arena_printf(p->tmp, "'%%%s'", t->s);
    case T_INT:
    case T_FLOAT:  return "a number";
    case T_STRING: return "a string";
    case T_ARROW:  return "'->'";
    default:       return t->c ? arena_printf(p->tmp, "'%c'", t->c) : "a bad token";
    }
}

static int
is_punct(Parser *p, int c)
{
    return p->tok.kind == T_PUNCT && p->tok.c == c;
}

static int
is_ident(Parser *p, const char *s)
{
    return p->tok.kind == T_IDENT && strcmp(p->tok.s, s) == 0;
}

static int
accept(Parser *p, int c)
{
    if (!is_punct(p, c))
        return 0;
    next(p);
    return 1;
}

static void
expect(Parser *p, int c, const char *what)
{
    if (!is_punct(p, c))
        error_tok(p, "expected '%c' %s, got %s", c, what, tok_desc(p));
    next(p);
}

static void
expect_ident(Parser *p, const char *s)
{
    if (!is_ident(p, s))
        error_tok(p, "expected '%s', got %s", s, tok_desc(p));
    next(p);
}

static const char *
expect_string(Parser *p, const char *what)
{
    if (p->tok.kind != T_STRING)
        error_tok(p, "expected %s (a quoted string), got %s", what, tok_desc(p));
    const char *s = p->tok.s;
    next(p);
    return s;
}

static int64_t
expect_int(Parser *p, int64_t lo, int64_t hi, const char *what)
{
    if (p->tok.kind != T_INT)
        error_tok(p, "expected %s (an integer), got %s", what, tok_desc(p));
    if (p->tok.i < lo || p->tok.i > hi)
        error_tok(p, "%s: expected an integer in [%lld, %lld], got %lld", what, (long long)lo,
                  (long long)hi, (long long)p->tok.i);
    int64_t x = p->tok.i;
    next(p);
    return x;
}

/* An identifier or a quoted string (output names, annotation keys, graph name). */
static const char *
expect_word(Parser *p, const char *what)
{
    if (p->tok.kind != T_IDENT && p->tok.kind != T_STRING)
        error_tok(p, "expected %s, got %s", what, tok_desc(p));
    const char *s = p->tok.s;
    next(p);
    return s;
}

/* [n, n, ...] of numbers into a scratch array; *iv (if iv) gets the exact values of
 * integer literals, INT64_MIN for other entries. */
static double *
number_list_iv(Parser *p, int *n, int64_t **iv)
{
    int cap = 16;
    double *x = arena_alloc(p->tmp, (size_t)cap * sizeof *x);
    int64_t *xi = arena_alloc(p->tmp, (size_t)cap * sizeof *xi);
    *n = 0;
    expect(p, '[', "to open a list");
    while (!is_punct(p, ']')) {
        if (*n && !accept(p, ','))
            error_tok(p, "expected ',' or ']' in a list, got %s", tok_desc(p));
        if (p->tok.kind != T_INT && p->tok.kind != T_FLOAT)
            error_tok(p, "expected a number in a list, got %s", tok_desc(p));
        if (*n == MAX_LIST)
            error_tok(p, "list too long: more than %d entries", MAX_LIST);
        if (*n == cap) {
            double *nx = arena_alloc(p->tmp, (size_t)cap * 2 * sizeof *x);
            int64_t *nxi = arena_alloc(p->tmp, (size_t)cap * 2 * sizeof *xi);
            memcpy(nx, x, (size_t)cap * sizeof *x);
            memcpy(nxi, xi, (size_t)cap * sizeof *xi);
            x = nx;
            xi = nxi;
            cap *= 2;
        }
        xi[*n] = p->tok.kind == T_INT ? p->tok.i : INT64_MIN;
        x[(*n)++] = p->tok.f;
        next(p);
    }
    next(p);
    if (iv)
        *iv = xi;
    return x;
}

static double *
number_list(Parser *p, int *n)
{
    return number_list_iv(p, n, NULL);
}

/* ------------------------------------------------------------------ value names */

static uint32_t
hash(const char *s)
{
    uint32_t h = 2166136261u;
    while (*s)
        h = (h ^ (uint8_t)*s++) * 16777619u;
    return h;
}

static Def *
def_find(Parser *p, const char *name)
{
    uint32_t i = hash(name) & (p->capdef - 1);
    while (p->defs[i].name && strcmp(p->defs[i].name, name) != 0)
        i = (i + 1) & (p->capdef - 1);
    return &p->defs[i];
}

static void
def_grow(Parser *p)
{
    Def *old = p->defs;
    uint32_t oldcap = p->capdef;
    p->capdef = oldcap ? oldcap * 2 : 64;
    p->defs = arena_alloc(p->tmp, p->capdef * sizeof *p->defs);
    for (uint32_t i = 0; i < oldcap; i++)
        if (old[i].name)
            *def_find(p, old[i].name) = old[i];
}

/* Binds name to v (0 = poisoned); reports a redefinition at (line, col). */
static void
define(Parser *p, const char *name, ValueId v, int line, int col)
{
    if (2 * (p->ndef + 1) > p->capdef)
        def_grow(p);
    Def *e = def_find(p, name);
    if (e->name) {
        diag_error(p->d, loc_at(p, line, col), "redefinition of value '%%%s'", name);
        diag_note(p->d, loc_at(p, e->line, e->col), "previous definition is here");
        p->nerr++;
        return;
    }
    *e = (Def){ name, v, line, col };
    p->ndef++;
}

static int
all_digits(const char *s)
{
    for (; *s; s++)
        if (!isdigit((unsigned char)*s))
            return 0;
    return 1;
}

/* Names a value as written; numbers are the printer's names for unnamed values. */
static void
name_value(Parser *p, ValueId v, const char *name)
{
    if (!all_digits(name))
        ir_value_set_name(p->g, v, name);
}

static ValueId
use_value(Parser *p)
{
    if (p->tok.kind != T_VALUE)
        error_tok(p, "expected a value such as %%x, got %s", tok_desc(p));
    Def *e = p->capdef ? def_find(p, p->tok.s) : NULL;
    if (!e || !e->name)
        error_tok(p, "use of undefined value '%%%s'", p->tok.s);
    if (!e->v)
        quiet_fail(p);
    next(p);
    return e->v;
}

/* ------------------------------------------------------------------ types */

static QuantParams *
quant_type(Parser *p)
{
    QuantParams *q = arena_alloc(p->g->arena, sizeof *q);
    int ns, nz, line = p->tok.line, col = p->tok.col;
    expect(p, '<', "after 'quant'");
    q->bits = (int)expect_int(p, 2, 8, "quant bits");
    expect(p, ',', "after the quant bits");
    if (!is_ident(p, "signed") && !is_ident(p, "unsigned"))
        error_tok(p, "expected 'signed' or 'unsigned', got %s", tok_desc(p));
    q->is_signed = is_ident(p, "signed");
    next(p);
    expect(p, ',', "after the quant signedness");
    if (is_ident(p, "tensor")) {
        q->gran = QG_TENSOR;
        next(p);
    } else if (is_ident(p, "axis") || is_ident(p, "group")) {
        q->gran = is_ident(p, "axis") ? QG_AXIS : QG_GROUP;
        next(p);
        expect(p, '(', "after the granularity");
        q->axis = (int)expect_int(p, 0, KILN_MAX_RANK - 1, "quant axis");
        if (q->gran == QG_GROUP) {
            expect(p, ',', "between group axis and size");
            q->group = (int)expect_int(p, 1, INT_MAX, "quant group size");
        }
        expect(p, ')', "after the granularity");
    } else {
        error_tok(p, "expected 'tensor', 'axis(k)' or 'group(k, n)', got %s", tok_desc(p));
    }
    expect(p, ',', "after the granularity");
    expect_ident(p, "scale");
    expect(p, '=', "after 'scale'");
    double *sc = number_list(p, &ns);
    expect(p, ',', "after the scales");
    expect_ident(p, "zero");
    expect(p, '=', "after 'zero'");
    double *zp = number_list(p, &nz);
    expect(p, '>', "to close quant<...>");
    if (ns != nz || ns == 0)
        error_at(p, line, col, "quant: expected as many zero points as scales (at least 1), "
                 "got %d scales and %d zero points", ns, nz);
    q->nscale = ns;
    q->scale = arena_alloc(p->g->arena, (size_t)ns * sizeof *q->scale);
    q->zero = arena_alloc(p->g->arena, (size_t)ns * sizeof *q->zero);
    for (int i = 0; i < ns; i++) {
        if (!(fabs(sc[i]) <= 3.4028234663852886e38) || zp[i] != floor(zp[i]) ||
            fabs(zp[i]) > 2147483647.0)
            error_at(p, line, col, "quant: entry %d: expected a finite scale and an integer "
                     "zero point, got %g and %g", i, sc[i], zp[i]);
        q->scale[i] = (float)sc[i];
        q->zero[i] = (int32_t)zp[i];
    }
    return q;
}

/* sparse<N:M>, sparse<csr>, sparse<block RxC> */
static SparseFmt
sparse_type(Parser *p)
{
    SparseFmt s = { 0 };
    expect(p, '<', "after 'sparse'");
    if (is_ident(p, "csr")) {
        s.kind = SP_CSR;
        next(p);
    } else if (is_ident(p, "block")) {
        s.kind = SP_BLOCK;
        next(p);
        s.block[0] = (int)expect_int(p, 1, INT_MAX, "block rows");
        if (p->tok.kind != T_IDENT || p->tok.s[0] != 'x' || !p->tok.s[1] ||
            !all_digits(p->tok.s + 1) || strlen(p->tok.s) > 10)
            error_tok(p, "expected 'x' and the block columns as in 'block 4x4', got %s",
                      tok_desc(p));
        s.block[1] = atoi(p->tok.s + 1);
        if (s.block[1] < 1)
            error_tok(p, "block columns: expected >= 1, got %d", s.block[1]);
        next(p);
    } else if (p->tok.kind == T_INT) {
        s.kind = SP_NM;
        s.n = (int)expect_int(p, 0, INT_MAX, "sparse n");
        expect(p, ':', "in sparse<N:M>");
        s.m = (int)expect_int(p, 0, INT_MAX, "sparse m");
    } else {
        error_tok(p, "expected 'csr', 'block RxC' or 'N:M' in sparse<...>, got %s",
                  tok_desc(p));
    }
    expect(p, '>', "to close sparse<...>");
    return s;
}

static TensorType
type(Parser *p)
{
    TensorType t = { 0 };
    if (p->tok.kind != T_IDENT)
        error_tok(p, "expected a type such as f32[1,64], got %s", tok_desc(p));
    if (strcmp(p->tok.s, "none") == 0) {
        next(p);
        return t;
    }
    t.dtype = ir_dtype_parse(p->tok.s);
    if (t.dtype == DT_NONE)
        error_tok(p, "unknown element type '%s' (expected f32, i32, i64, i8, u8, bool or none)",
                  p->tok.s);
    next(p);
    expect(p, '[', "after the element type");
    while (!is_punct(p, ']')) {
        if (t.rank && !accept(p, ','))
            error_tok(p, "expected ',' or ']' in a shape, got %s", tok_desc(p));
        if (t.rank == KILN_MAX_RANK)
            error_tok(p, "too many dims: at most %d", KILN_MAX_RANK);
        t.dims[t.rank++] = expect_int(p, 0, INT64_MAX / 2, "dim");
    }
    next(p);
    for (;;) {
        if (is_ident(p, "quant") && !t.quant) {
            next(p);
            t.quant = quant_type(p);
        } else if (is_ident(p, "sparse") && t.sparse.kind == SP_DENSE) {
            next(p);
            t.sparse = sparse_type(p);
        } else {
            return t;
        }
    }
}

/* ------------------------------------------------------------------ node pieces */

static void
attr_value(Parser *p, AttrVal *v)
{
    memset(v, 0, sizeof *v);
    switch (p->tok.kind) {
    case T_INT:    v->kind = AV_INT; v->i = p->tok.i; v->f = p->tok.f; break;
    case T_FLOAT:  v->kind = AV_FLOAT; v->f = p->tok.f; break;
    case T_IDENT:  v->kind = AV_IDENT; v->s = p->tok.s; break;
    case T_STRING: v->kind = AV_STRING; v->s = p->tok.s; break;
    default:
        if (!is_punct(p, '['))
            error_tok(p, "expected an attribute value, got %s", tok_desc(p));
        v->kind = AV_LIST;
        v->list = number_list(p, &v->n);
        return;
    }
    next(p);
}

/* { key = value, ... } applied with ir_attr_set; a attr already holds the defaults. */
static void
attrs(Parser *p, Op op, Attr *a)
{
    char err[256];
    next(p);
    for (int first = 1; !is_punct(p, '}'); first = 0) {
        if (!first)
            expect(p, ',', "between attributes");
        if (p->tok.kind != T_IDENT)
            error_tok(p, "expected an attribute name, got %s", tok_desc(p));
        const char *key = p->tok.s;
        int line = p->tok.line, col = p->tok.col;
        next(p);
        expect(p, '=', "after the attribute name");
        AttrVal v;
        attr_value(p, &v);
        if (ir_attr_set(p->g, op, a, key, &v, err, sizeof err) < 0)
            error_at(p, line, col, "%s", err);
        if (!is_punct(p, '}') && !is_punct(p, ','))
            error_tok(p, "expected ',' or '}' after an attribute, got %s", tok_desc(p));
    }
    next(p);
}

static Op
op_name_at(Parser *p)
{
    if (p->tok.kind != T_IDENT)
        error_tok(p, "expected an op name, got %s", tok_desc(p));
    return ir_op_parse(p->tok.s);
}

static _Noreturn void
unknown_op(Parser *p)
{
    char near[256] = "";
    int best = 99;
    for (int op = OP_NONE + 1; op < OP_COUNT; op++) {
        int dd = ir_edit_distance(p->tok.s, op_name[op]);
        best = dd < best ? dd : best;
    }
    for (int op = OP_NONE + 1; op < OP_COUNT && best <= 3; op++)
        if (ir_edit_distance(p->tok.s, op_name[op]) == best && strlen(near) + 32 < sizeof near)
            snprintf(near + strlen(near), sizeof near - strlen(near), "%s%s", near[0] ? ", " : "",
                     op_name[op]);
    if (near[0])
        error_tok(p, "unknown op '%s' (nearest: %s)", p->tok.s, near);
    error_tok(p, "unknown op '%s'", p->tok.s);
}

/* Pending epilogue step: the binary operand is resolved once all operands are known. */
typedef struct {
    EpiStep step;            /* op, swap, attr */
    ValueId arg;             /* binary: the operand named; 0 for unary */
    int     line, col;       /* of the operand, for errors */
} EpiParse;

static EpiParse *
epilogue(Parser *p, int *n)
{
    EpiParse *e = arena_alloc(p->tmp, 64 * sizeof *e);
    *n = 0;
    next(p);
    expect(p, '[', "after 'epilogue'");
    while (!is_punct(p, ']')) {
        if (*n && !accept(p, ','))
            error_tok(p, "expected ',' or ']' in an epilogue, got %s", tok_desc(p));
        if (*n == 64)
            error_tok(p, "epilogue too long: at most 64 steps");
        EpiParse *s = &e[(*n)++];
        Op op = op_name_at(p);
        if (op == OP_NONE)
            unknown_op(p);
        if (!(op_flags[op] & F_ELTWISE))
            error_tok(p, "epilogue: '%s' is not an elementwise op", op_name[op]);
        next(p);
        s->step.op = op;
        s->step.arg = -1;
        ir_attr_default(op, &s->step.attr);
        if (op_flags[op] & F_BINARY) {
            expect(p, '(', "after a binary epilogue op");
            s->line = p->tok.line;
            s->col = p->tok.col;
            s->arg = use_value(p);
            if (accept(p, ',')) {
                expect_ident(p, "acc");
                s->step.swap = 1;
            }
            expect(p, ')', "after the epilogue operand");
        }
        if (is_punct(p, '{'))
            attrs(p, op, &s->step.attr);
    }
    next(p);
    return e;
}

/* A binary step reads the last operand holding the value named that no earlier step took
 * (else the last one holding it): epilogue operands follow the op's own, and two steps may
 * share one.  The op's own operand count is then the smallest binary-step index. */
static EpiStep *
resolve_epilogue(Parser *p, const ValueId *in, int nin, EpiParse *e, int n, int *own)
{
    EpiStep *out = arena_alloc(p->g->arena, (size_t)n * sizeof *out);
    uint8_t taken[256] = { 0 };
    *own = nin;
    for (int i = 0; i < n; i++) {
        int last = -1;
        out[i] = e[i].step;
        if (!e[i].arg)
            continue;
        for (int k = nin - 1; k >= 0; k--)
            if (in[k] == e[i].arg) {
                last = last < 0 ? k : last;
                if (!taken[k]) {
                    out[i].arg = k;
                    break;
                }
            }
        if (last < 0)
            error_at(p, e[i].line, e[i].col, "epilogue operand is not an operand of the node");
        if (out[i].arg < 0)
            out[i].arg = last;
        taken[out[i].arg] = 1;
        *own = out[i].arg < *own ? out[i].arg : *own;
    }
    return out;
}

static Annot *
annotations(Parser *p, int *n)
{
    Annot *a = arena_alloc(p->tmp, 32 * sizeof *a);
    *n = 0;
    while (accept(p, '@')) {
        if (*n == 32)
            error_tok(p, "too many annotations: at most 32");
        Annot *an = &a[(*n)++];
        an->name = expect_word(p, "an annotation name");
        if (!accept(p, '('))
            continue;
        an->arg = arena_alloc(p->tmp, 32 * sizeof *an->arg);
        while (!is_punct(p, ')')) {
            if (an->narg && !accept(p, ','))
                error_tok(p, "expected ',' or ')' in an annotation, got %s", tok_desc(p));
            if (an->narg == 32)
                error_tok(p, "too many annotation arguments: at most 32");
            AnnotArg *arg = &an->arg[an->narg++];
            arg->key = expect_word(p, "an annotation key");
            expect(p, '=', "after the annotation key");
            if (p->tok.kind == T_STRING)
                arg->str = p->tok.s;
            else if (p->tok.kind == T_INT || p->tok.kind == T_FLOAT)
                arg->num = p->tok.f;
            else
                error_tok(p, "expected a number or a string, got %s", tok_desc(p));
            next(p);
        }
        next(p);
    }
    return a;
}

static SrcLoc
location(Parser *p, SrcLoc dflt)
{
    if (!is_ident(p, "loc"))
        return dflt;
    next(p);
    expect(p, '(', "after 'loc'");
    const char *file = expect_string(p, "a file name");
    expect(p, ':', "after the file name");
    int line = (int)expect_int(p, 0, INT_MAX, "line");
    expect(p, ':', "after the line");
    int col = (int)expect_int(p, 0, INT_MAX, "column");
    expect(p, ')', "to close loc(...)");
    return (SrcLoc){ arena_strdup(p->g->arena, file), line, col };
}

/* ------------------------------------------------------------------ constants */

static void *
dense_bytes(Parser *p, const TensorType *t, const double *x, const int64_t *xi, int n,
            int line, int col)
{
    size_t sz = ir_dtype_size(t->dtype);
    uint8_t *buf = arena_alloc(p->tmp, (size_t)n * sz);
    static const double lo[DT_COUNT] = { 0, 0, -2147483648.0, -9007199254740992.0, -128, 0, 0 };
    static const double hi[DT_COUNT] = { 0, 0, 2147483647.0, 9007199254740992.0, 127, 255, 1 };
    for (int i = 0; i < n; i++) {
        if (t->dtype == DT_F32) {
            if (fabs(x[i]) > 3.4028234663852886e38 && isfinite(x[i]))
                error_at(p, line, col, "dense: entry %d: %g is out of f32 range", i, x[i]);
            float f = (float)x[i];
            memcpy(buf + 4 * (size_t)i, &f, 4);
            continue;
        }
        /* exact beyond 2^53; INT64_MIN is also the "not an integer literal" mark, but
         * then x is exactly -2^63 */
        if (t->dtype == DT_I64 && (xi[i] != INT64_MIN || x[i] == -9223372036854775808.0)) {
            memcpy(buf + 8 * (size_t)i, &xi[i], 8);
            continue;
        }
        if (x[i] != floor(x[i]) || x[i] < lo[t->dtype] || x[i] > hi[t->dtype])
            error_at(p, line, col, "dense: entry %d: expected an integer %s value, got %g", i,
                     ir_dtype_name(t->dtype), x[i]);
        int64_t v = (int64_t)x[i];
        if (t->dtype == DT_I32) {
            int32_t w = (int32_t)v;
            memcpy(buf + 4 * (size_t)i, &w, 4);
        } else if (t->dtype == DT_I64) {
            memcpy(buf + 8 * (size_t)i, &v, 8);
        } else {
            buf[i] = (uint8_t)v;
        }
    }
    return buf;
}

static uint8_t *
hex_bytes(Parser *p, const char *s, size_t *n, int line, int col)
{
    size_t len = strlen(s);
    if (len % 2)
        error_at(p, line, col, "hex: expected an even number of hex digits, got %zu", len);
    uint8_t *buf = arena_alloc(p->tmp, len / 2 + 1);
    for (size_t i = 0; i < len; i += 2) {
        int hi = hexval((unsigned char)s[i]), lo = hexval((unsigned char)s[i + 1]);
        if (hi < 0 || lo < 0)
            error_at(p, line, col, "hex: expected hex digits, got '%c%c'", s[i], s[i + 1]);
        buf[i / 2] = (uint8_t)(hi * 16 + lo);
    }
    *n = len / 2;
    return buf;
}

/* The written type of an in-memory constant, with its byte count. */
static TensorType
const_type(Parser *p, int64_t *bytes, int line, int col)
{
    if (!accept(p, ':'))
        error_tok(p, "expected ':' and the type of the constant, got %s", tok_desc(p));
    TensorType t = type(p);
    if (t.dtype == DT_NONE || ir_type_bytes(&t, bytes) < 0)
        error_at(p, line, col, "constant needs a known type of a sane size");
    return t;
}

/* file("path" [, "key"]) {annot} [: type]: the written type must match the file's. */
static StorageId
file_storage(Parser *p, TensorType *t, Annot **an, int *nan, int line, int col)
{
    next(p);
    expect(p, '(', "after 'file'");
    const char *path = expect_string(p, "a weight file path");
    const char *key = accept(p, ',') ? expect_string(p, "a tensor name") : NULL;
    expect(p, ')', "to close file(...)");
    *an = annotations(p, nan);
    TensorType ft;
    StorageId s = ir_storage_file(p->g, path, key, &ft, loc_at(p, line, col), p->d);
    if (!s) {
        p->nerr++;
        quiet_fail(p);
    }
    *t = ft;
    if (accept(p, ':')) {
        int tl = p->tok.line, tc = p->tok.col;
        char a[256], b[256];
        *t = type(p);
        if (t->dtype != ft.dtype || t->rank != ft.rank ||
            memcmp(t->dims, ft.dims, (size_t)t->rank * sizeof *t->dims) != 0)
            error_at(p, tl, tc, "constant type %s does not match the weights' %s",
                     ir_type_str(t, a, sizeof a), ir_type_str(&ft, b, sizeof b));
    }
    return s;
}

/* dense<[...]> or hex<"..."> {annot} : type, checked against each other. */
static StorageId
mem_storage(Parser *p, TensorType *t, Annot **an, int *nan, int line, int col)
{
    int dense = is_ident(p, "dense"), n = 0;
    size_t nb = 0;
    double *x = NULL;
    int64_t *xi = NULL, bytes;
    const uint8_t *hex = NULL;
    next(p);
    expect(p, '<', dense ? "after 'dense'" : "after 'hex'");
    if (dense)
        x = number_list_iv(p, &n, &xi);
    else
        hex = hex_bytes(p, expect_string(p, "hex digits"), &nb, line, col);
    expect(p, '>', dense ? "to close dense<...>" : "to close hex<...>");
    *an = annotations(p, nan);
    *t = const_type(p, &bytes, line, col);
    int64_t numel = bytes / (int64_t)ir_dtype_size(t->dtype);
    if (dense && n != numel)
        error_at(p, line, col, "dense: expected %lld values for the type, got %d",
                 (long long)numel, n);
    if (!dense && (int64_t)nb != bytes)
        error_at(p, line, col, "hex: expected %lld bytes for the type, got %zu",
                 (long long)bytes, nb);
    return ir_storage_mem(p->g, dense ? dense_bytes(p, t, x, xi, n, line, col) : hex,
                          (size_t)bytes);
}

/* The part of a const statement after 'const'. */
static NodeId
constant(Parser *p, SrcLoc at, Annot **an, int *nan)
{
    int line = p->tok.line, col = p->tok.col;
    StorageId s = 0;
    TensorType t;
    if (is_ident(p, "file"))
        s = file_storage(p, &t, an, nan, line, col);
    else if (is_ident(p, "dense") || is_ident(p, "hex"))
        s = mem_storage(p, &t, an, nan, line, col);
    else
        error_tok(p, "expected file(...), dense<...> or hex<...> after 'const', got %s",
                  tok_desc(p));
    return ir_const_new(p->g, &t, s, location(p, at));
}

/* ------------------------------------------------------------------ statements */

/* The operator part of "results = op(...) ..."; creates the node. */
static NodeId
operation(Parser *p, Op op, int nres, int sline, int scol, SrcLoc at, Annot **an, int *nan)
{
    ValueId in[256];
    int nin = 0, nepi = 0, line = p->tok.line, col = p->tok.col;
    EpiParse *ep = NULL;
    Attr a;
    next(p);
    expect(p, '(', "after the op name");
    while (!is_punct(p, ')')) {
        if (nin && !accept(p, ','))
            error_tok(p, "expected ',' or ')' in operands, got %s", tok_desc(p));
        if (nin == 256)
            error_tok(p, "too many operands: at most 256");
        in[nin++] = use_value(p);
    }
    next(p);
    ir_attr_default(op, &a);
    if (is_punct(p, '{'))
        attrs(p, op, &a);
    if (is_ident(p, "epilogue"))
        ep = epilogue(p, &nepi);
    int own = nin;
    EpiStep *steps = nepi ? resolve_epilogue(p, in, nin, ep, nepi, &own) : NULL;
    if (own < op_min_in[op] || (op_max_in[op] >= 0 && own > op_max_in[op])) {
        if (op_max_in[op] < 0)
            error_at(p, line, col, "%s: expected at least %d operands, got %d", op_name[op],
                     op_min_in[op], own);
        if (op_min_in[op] == op_max_in[op])
            error_at(p, line, col, "%s: expected %d operand%s, got %d", op_name[op],
                     op_min_in[op], op_min_in[op] == 1 ? "" : "s", own);
        error_at(p, line, col, "%s: expected %d to %d operands, got %d", op_name[op],
                 op_min_in[op], op_max_in[op], own);
    }
    int nout = op_nout[op] >= 0 ? op_nout[op] : a.split.n;
    if (op == OP_SPLIT && nout == 0)
        error_at(p, line, col, "split: expected a sizes attribute");
    if (nres != nout)
        error_at(p, sline, scol, "%s: expected %d result%s, got %d", op_name[op], nout,
                 nout == 1 ? "" : "s", nres);
    *an = annotations(p, nan);
    NodeId n = ir_node_new(p->g, op, nin, in, nout, at);
    Node *nd = ir_node(p->g, n);
    nd->attr = a;
    nd->nepi = nepi;
    nd->epi = steps;
    return n;
}

/* ": type, ..." for the node's results; absent = not inferred yet. */
static void
result_types(Parser *p, NodeId n)
{
    if (!is_punct(p, ':'))
        return;
    int line = p->tok.line, col = p->tok.col;
    next(p);
    Node *nd = ir_node(p->g, n);
    for (int k = 0; k < nd->nout || k == 0; k++) {
        if (k && !accept(p, ','))
            error_tok(p, "expected %d result types, got %d", nd->nout, k);
        if (k >= nd->nout)
            error_at(p, line, col, "%s has no results to type", op_name[nd->op]);
        TensorType t = type(p);
        ir_value(p->g, nd->out[k])->type = t;
    }
    if (is_punct(p, ','))
        error_tok(p, "expected %d result types, got more", nd->nout);
}

static void
statement(Parser *p)
{
    ResName *res = p->res;
    int *nres = &p->nres;
    SrcLoc at = node_loc(p, p->tok.line, p->tok.col);
    int line = p->tok.line, col = p->tok.col;
    while (p->tok.kind == T_VALUE) {
        if (*nres == KILN_MAX_SPLIT)
            error_tok(p, "too many results: at most %d", KILN_MAX_SPLIT);
        res[(*nres)++] = (ResName){ p->tok.s, p->tok.line, p->tok.col };
        next(p);
        if (!accept(p, ',')) {
            expect(p, '=', "after the results");
            break;
        }
    }
    Op op = op_name_at(p);
    if (op == OP_NONE)
        unknown_op(p);
    Annot *an = NULL;
    int nan = 0;
    NodeId n;
    if (op == OP_CONST) {
        if (*nres != 1)
            error_at(p, line, col, "const: expected 1 result, got %d", *nres);
        next(p);
        n = constant(p, at, &an, &nan);
    } else {
        n = operation(p, op, *nres, line, col, at, &an, &nan);
        result_types(p, n);
        ir_node(p->g, n)->loc = location(p, at);
    }
    if (nan)
        ir_node_set_annot(p->g, n, an, nan);
    if (p->tok.kind != T_EOF && !p->tok.bol && !is_punct(p, '}'))
        error_tok(p, "expected the end of the line, got %s", tok_desc(p));
    for (int k = 0; k < *nres; k++) {
        ValueId v = ir_node_out(p->g, n, k);
        name_value(p, v, res[k].name);
        define(p, res[k].name, v, res[k].line, res[k].col);
    }
    *nres = 0;
}

/* Runs one statement; on error poisons its result names and skips to the next line. */
static void
statement_guarded(Parser *p)
{
    p->nres = 0;
    if (setjmp(p->jb) == 0) {
        statement(p);
        return;
    }
    for (int k = 0; k < p->nres; k++) {
        Def *e = p->capdef ? def_find(p, p->res[k].name) : NULL;
        if (!e || !e->name)
            define(p, p->res[k].name, 0, p->res[k].line, p->res[k].col);
    }
    p->nres = 0;
    /* the lexer may have failed mid-token: resume at the next line start */
    for (;;) {
        if (setjmp(p->jb) != 0)
            continue;
        while (p->tok.kind != T_EOF && !p->tok.bol)
            next(p);
        if (p->tok.kind == T_EOF || p->tok.bol)
            return;
    }
}

/* ------------------------------------------------------------------ graph */

typedef struct OutParse {
    const char *name;        /* output name */
    const char *value;       /* value name without '%' */
    int         line, col;   /* of the value */
} OutParse;

static void
header_inputs(Parser *p)
{
    expect(p, '(', "to open the inputs");
    while (!is_punct(p, ')')) {
        if (p->g->ninput && !accept(p, ','))
            error_tok(p, "expected ',' or ')' in the inputs, got %s", tok_desc(p));
        if (p->tok.kind != T_VALUE)
            error_tok(p, "expected an input such as %%x: f32[1,64], got %s", tok_desc(p));
        const char *name = p->tok.s;
        int line = p->tok.line, col = p->tok.col;
        next(p);
        expect(p, ':', "after the input name");
        TensorType t = type(p);
        ValueId v = ir_graph_add_input(p->g, all_digits(name) ? NULL : name, &t);
        define(p, name, v, line, col);
    }
    next(p);
}

static OutParse *
header_outputs(Parser *p, int *n)
{
    OutParse *o = arena_alloc(p->tmp, 256 * sizeof *o);
    *n = 0;
    if (p->tok.kind != T_ARROW)
        error_tok(p, "expected '->' and the outputs, got %s", tok_desc(p));
    next(p);
    expect(p, '(', "to open the outputs");
    while (!is_punct(p, ')')) {
        if (*n && !accept(p, ','))
            error_tok(p, "expected ',' or ')' in the outputs, got %s", tok_desc(p));
        if (*n == 256)
            error_tok(p, "too many outputs: at most 256");
        o[*n].name = expect_word(p, "an output name");
        expect(p, '=', "after the output name");
        if (p->tok.kind != T_VALUE)
            error_tok(p, "expected a value such as %%y, got %s", tok_desc(p));
        o[*n].value = p->tok.s;
        o[*n].line = p->tok.line;
        o[*n].col = p->tok.col;
        (*n)++;
        next(p);
    }
    next(p);
    return o;
}

static void
resolve_outputs(Parser *p, const OutParse *o, int n)
{
    for (int i = 0; i < n; i++) {
        Def *e = p->capdef ? def_find(p, o[i].value) : NULL;
        if (!e || !e->name) {
            diag_error(p->d, loc_at(p, o[i].line, o[i].col), "use of undefined value '%%%s'",
                       o[i].value);
            p->nerr++;
        } else if (e->v) {
            ir_graph_add_output(p->g, o[i].name, e->v);
        }
    }
}

/* Statements up to 'return', end of file or '}'.  Each arms its own unwinding. */
static void
body(Parser *p)
{
    while (p->nerr < MAX_ERRORS && !is_ident(p, "return") && p->tok.kind != T_EOF &&
           !is_punct(p, '}'))
        statement_guarded(p);
}

static void
finish(Parser *p)
{
    if (!is_ident(p, "return"))
        error_tok(p, "expected 'return' at the end of the graph, got %s", tok_desc(p));
    next(p);
    expect(p, '}', "after 'return'");
    if (p->tok.kind != T_EOF)
        error_tok(p, "expected the end of the file after the graph, got %s", tok_desc(p));
}

/* The whole text; 0 when it parsed without errors. */
static int
parse_graph(Parser *p)
{
    if (setjmp(p->jb) != 0)
        return -1;
    next(p);
    expect_ident(p, "graph");
    expect(p, '@', "before the graph name");
    p->g->name = arena_strdup(p->g->arena, expect_word(p, "a graph name"));
    header_inputs(p);
    p->outs = header_outputs(p, &p->nout);
    expect(p, '{', "to open the graph body");
    body(p);
    if (p->nerr >= MAX_ERRORS || setjmp(p->jb) != 0)
        return -1;
    finish(p);
    resolve_outputs(p, p->outs, p->nout);
    return p->nerr ? -1 : 0;
}

Graph *
ir_parse_text(const char *text, size_t len, const char *file, Diag *d)
{
    Parser p = { .src = text, .len = len, .line = 1, .col = 1, .d = d };
    size_t fl = file ? strlen(file) : 0;
    p.g = ir_graph_new("model");
    p.tmp = arena_new();
    p.file = file;
    p.afile = file ? arena_strdup(p.g->arena, file) : NULL;
    p.kirlocs = fl >= 4 && strcmp(file + fl - 4, ".kir") == 0;
    if (file)
        ir_graph_set_dir(p.g, file);
    int r = parse_graph(&p);
    arena_free(p.tmp);
    if (r < 0) {
        ir_graph_free(p.g);
        return NULL;
    }
    return p.g;
}

Graph *
ir_parse_file(const char *path, Diag *d)
{
    kiln_file *f;
    char err[256];
    if (kiln_file_map(path, &f, err, sizeof err) != KILN_OK) {
        diag_error(d, (SrcLoc){ path, 0, 0 }, "cannot read '%s': %s", path, err);
        return NULL;
    }
    Graph *g = ir_parse_text(kiln_file_data(f), kiln_file_size(f), path, d);
    kiln_file_unmap(f);
    return g;
}
