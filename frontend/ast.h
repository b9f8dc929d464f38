/* frontend/ast.h — the .kiln syntax tree and the parse state shared by the Flex scanner, the
 * Bison grammar and the AST -> IR builder.  Internal to the frontend layer.
 *
 * The tree is untyped syntax: one Ast struct whose fields are read according to `kind`
 * (chibicc's Node).  Nodes and strings live in the parse's arena; the only heap values are
 * the AstList vectors the grammar grows while reading a list, which ast_vec() moves into
 * the arena (and the grammar's %destructor frees on error recovery). */
#ifndef KILN_FE_AST_H
#define KILN_FE_AST_H

#include <setjmp.h>
#include "ir.h"

typedef enum {
    AST_NONE = 0,            /* never built */
    AST_BAD,                 /* placeholder for a construct already reported as an error */
    /* expressions */
    AST_NUM,                 /* number literal: num, ival, is_int */
    AST_NAME,                /* name reference: name (may be dotted: fc1.weight) */
    AST_STRING,              /* string literal: str (attribute values only) */
    AST_LIST,                /* list literal: kids = elements; str = dtype prefix or NULL */
    AST_UNARY,               /* op (OP_NEG) applied to lhs */
    AST_BINARY,              /* op applied to lhs, rhs */
    AST_CALL,                /* op call: name = mnemonic, kids = operands and AST_NAMED */
    AST_LAYER,               /* layer call name[inst](kids); count > 0: repeat count times */
    AST_NAMED,               /* key = value argument: name = key, lhs = value */
    AST_RATIO,               /* annotation value n:m: ival = n, count = m */
    /* statements (inside a layer or model body) */
    AST_PARAM,               /* param name [: lhs (an AST_LIST type)] */
    AST_LET,                 /* let kids (AST_NAME targets) = lhs */
    AST_RETURN,              /* return lhs, or return (kids: AST_NAMED outputs) */
    AST_EXIT,                /* exit if lhs return (kids: AST_NAMED outputs) */
    AST_ANNOT,               /* @name(kids: AST_NAMED arguments) */
    AST_INPUT,               /* model input: name [: lhs (an AST_LIST type)] */
    /* top-level declarations */
    AST_WEIGHTS,             /* weights str (path as written) */
    AST_LAYERDEF,            /* layer name(params: AST_NAME) { body } */
    AST_MODEL,               /* model name(params: AST_INPUT) -> (outs: AST_NAME) { body } */
    AST_FILE,                /* the file: kids = declarations in source order */
    AST_COUNT
} AstKind;

typedef struct Ast Ast;

typedef struct {
    int   n;                 /* entries */
    Ast **v;                 /* arena-owned array of n pointers */
} AstVec;

struct Ast {
    AstKind     kind;        /* selects the fields below that are meaningful */
    SrcLoc      loc;         /* first token of the construct */
    const char *name;        /* names, op mnemonics, attribute keys; arena-owned */
    const char *inst;        /* AST_LAYER: instance name (dotted); arena-owned */
    const char *str;         /* AST_STRING / AST_WEIGHTS text; AST_LIST dtype prefix */
    double      num;         /* AST_NUM value */
    int64_t     ival;        /* AST_NUM: exact value when is_int; AST_RATIO: n */
    int         is_int;      /* AST_NUM: written without '.' or exponent */
    int64_t     count;       /* AST_LAYER: repeat count (0 = plain call); AST_RATIO: m */
    Op          op;          /* AST_UNARY, AST_BINARY: the IR op the operator maps to */
    Ast        *lhs, *rhs;   /* operands, bound expression, value or type (see kinds) */
    AstVec      kids;        /* arguments, elements, targets, outputs, declarations */
    AstVec      params;      /* AST_LAYERDEF parameters, AST_MODEL inputs */
    AstVec      outs;        /* AST_MODEL declared outputs */
    AstVec      body;        /* AST_LAYERDEF, AST_MODEL statements */
    AstVec      annots;      /* statements: @annotations written before them */
};

/* A list the grammar is still growing: malloc-owned until ast_vec() takes it. */
typedef struct {
    int   n, cap;            /* entries, allocated slots */
    Ast **v;                 /* malloc-owned */
} AstList;

enum {
    FE_MAX_ERRORS = 20,      /* a run stops reporting (and parsing) after this many errors */
    FE_TOKTEXT = 48          /* bytes of the last token's text kept for messages */
};

/* State of one parse, reached from the scanner (yyextra) and the grammar (%param). */
typedef struct FeParse {
    Arena      *arena;       /* owns the AST; freed after building */
    Diag       *d;           /* where errors go */
    const char *file;        /* file name for SrcLoc (owned by the graph's arena) */
    int         line, col;   /* scanner position of the next character, 1-based */
    int         line_start;  /* only blanks seen so far on this line */
    int         tok_line_start;  /* line_start before the current match: '@name' first on
                                    its line is an annotation, else '@' is matmul */
    int         nerror;      /* errors reported by this parse (scanner + grammar) */
    int         stopped;     /* FE_MAX_ERRORS reached: scanner returns end of input */
    char        tok[FE_TOKTEXT];   /* text of the last token scanned, truncated */
    int         tok_kind;    /* its token kind (for "got identifier 'x'") */
    int         ntok;        /* tokens returned so far */
    int         lex_err_tok; /* ntok when the scanner last reported an error, -1 = none:
                                a syntax error at the next token is its echo (quiet) */
    SrcLoc      last_err;    /* location of the last reported error */
    /* a syntax error held back so an error production can replace it with a better one */
    int         has_pending; /* 1 while pend_* hold an unreported error */
    SrcLoc      pend_loc;    /* its location */
    char        pend_msg[256];   /* its message */
    char        pend_got[96];    /* the "got X" part, reused by targeted messages */
    jmp_buf     fatal;       /* the scanner's YY_FATAL_ERROR jumps here */
    Ast        *root;        /* AST_FILE once parsing finished */
} FeParse;

/* ast.c — constructors called by the grammar; all return arena nodes */
Ast    *ast_new(FeParse *ps, AstKind kind, SrcLoc loc);
Ast    *ast_num(FeParse *ps, SrcLoc loc, double num, int64_t ival, int is_int);
Ast    *ast_name(FeParse *ps, SrcLoc loc, const char *name);
Ast    *ast_int_name(FeParse *ps, SrcLoc loc, int64_t x);     /* "3" in layer.3.w */
Ast    *ast_dotted(FeParse *ps, SrcLoc loc, Ast *prefix, Ast *last);
Ast    *ast_string(FeParse *ps, SrcLoc loc, const char *s);
Ast    *ast_list(FeParse *ps, SrcLoc loc, const char *dtype, AstList *elems);
Ast    *ast_unary(FeParse *ps, SrcLoc loc, Op op, Ast *x);
Ast    *ast_binary(FeParse *ps, SrcLoc loc, Op op, Ast *a, Ast *b);
Ast    *ast_call(FeParse *ps, SrcLoc loc, const char *name, AstList *args);
Ast    *ast_layer_call(FeParse *ps, SrcLoc loc, int64_t count, const char *layer, Ast *inst,
                       AstList *args);
Ast    *ast_named(FeParse *ps, SrcLoc loc, const char *key, Ast *value);
Ast    *ast_ratio(FeParse *ps, SrcLoc loc, int64_t n, int64_t m);
Ast    *ast_param(FeParse *ps, SrcLoc loc, Ast *name, Ast *type);
Ast    *ast_let(FeParse *ps, SrcLoc loc, AstList *targets, Ast *value);
Ast    *ast_return(FeParse *ps, SrcLoc loc, Ast *value, AstList *outs);
Ast    *ast_exit(FeParse *ps, SrcLoc loc, Ast *cond, AstList *outs);
Ast    *ast_annot(FeParse *ps, SrcLoc loc, const char *name, AstList *args);
Ast    *ast_annotate(FeParse *ps, Ast *annot, Ast *stmt);
Ast    *ast_input(FeParse *ps, SrcLoc loc, const char *name, Ast *type);
Ast    *ast_weights(FeParse *ps, SrcLoc loc, const char *path);
Ast    *ast_layerdef(FeParse *ps, SrcLoc loc, const char *name, AstList *params,
                     AstList *body);
Ast    *ast_model(FeParse *ps, SrcLoc loc, const char *name, AstList *inputs,
                  AstList *outs, AstList *body);
Ast    *ast_file(FeParse *ps, AstList *decls);
/* Growable lists: ast_list_add(NULL, x) starts one; x == NULL adds nothing. */
AstList *ast_list_add(AstList *l, Ast *x);
void     ast_list_free(AstList *l);
AstVec   ast_vec(FeParse *ps, AstList *l);           /* moves l into the arena, frees l */
char    *ast_strdup(FeParse *ps, const char *s, size_t n);

/* ast.c — errors found while scanning and parsing */
void fe_error(FeParse *ps, SrcLoc loc, const char *fmt, ...);
void fe_syntax_pending(FeParse *ps, SrcLoc loc, const char *msg, const char *got);
/* An error production's targeted message: replaces the held-back syntax error. */
Ast *fe_syntax_replace(FeParse *ps, SrcLoc loc, const char *fmt, ...);
void fe_flush(FeParse *ps);                 /* report the held-back error, if any */
/* Bad statement `x = e`: reports that it needs `let` and returns an AST_BAD.  recovering:
 * Bison's yyerrstatus (> 0 right after another error, whose tail this may be: quiet). */
Ast *fe_error_assign(FeParse *ps, SrcLoc loc, const char *name, int recovering);
/* Unknown statement starting with identifier `name`. */
Ast *fe_error_stmt(FeParse *ps, SrcLoc loc, const char *name);
/* Missing ')' after a call of `callee` (NULL: a parenthesis) opened at `open`; frees the
 * call's argument list. */
Ast *fe_error_close(FeParse *ps, SrcLoc open, const char *callee, AstList *args);

/* lexer.l — runs the scanner and grammar over src[0..len) and leaves the tree in ps->root.  Returns
 * 0 on success, -1 if any error was reported. */
int fe_parse_ast(FeParse *ps, const char *src, size_t len);

/* ------------------------------------------------------------------ builder internals */

enum {
    FE_MAX_NEST = 64,        /* deepest chain of layers instantiating layers */
    FE_MAX_EXPR = 10000      /* deepest expression tree the builder walks */
};

typedef struct {
    const char *name;        /* name as written (dotted for model-level params) */
    ValueId     v;           /* its value; 0 = its definition failed (already reported) */
    SrcLoc      loc;         /* where it was defined */
} Binding;

typedef struct {
    const char *prefix;      /* instance path ("block.conv1"); "" in the model body */
    Binding    *b;           /* malloc-owned */
    int         n, cap;      /* bindings, slots */
} Scope;

typedef struct {
    const char *path;        /* as written; a folder ends in '/' */
    SrcLoc      loc;         /* the weights declaration */
    int         is_dir;      /* folder of <param>.npy files */
    int         broken;      /* could not be read (reported): skipped by lookups */
    kiln_file  *map;         /* safetensors file: mapping used for lookups, builder-owned */
} Source;

typedef struct {
    const char **key;        /* cap slots, NULL = empty; keys outlive the map */
    int64_t     *val;        /* value per slot */
    uint32_t     cap, n;     /* slots (a power of two), used */
} StrMap;

typedef struct {
    Graph       *g;          /* graph being built */
    Diag        *d;          /* where errors go */
    const char  *gfile;      /* file name copied into g's arena, for node locations */
    int          nerror;     /* errors this build reported */
    const Ast   *model;      /* the model declaration */
    const Ast  **layers;     /* layer declarations; malloc-owned */
    int         *layer_bad;  /* per layer: its definition has errors (reported once) */
    int          nlayer;     /* entries in layers and layer_bad */
    Source      *src;        /* weights sources in declaration order; malloc-owned */
    int          nsrc;       /* entries in src */
    StrMap       params;     /* full param name -> ValueId of its const (0 = failed) */
    StrMap       names;      /* value names in use */
    int          nexit;      /* exit_if nodes numbered so far */
    const Ast   *stack[FE_MAX_NEST];  /* layers being instantiated, outermost first */
    int          depth;      /* entries in stack */
    int          expr_depth; /* b_expr recursion depth */
    int          too_deep;   /* FE_MAX_EXPR was hit (reported once) */
} Builder;

/* build.c — the AST -> IR builder.  Fills g (created by the caller, g->dir set) from the
 * tree; returns 0, or -1 with errors in d. */
int fe_build(Graph *g, const Ast *file, Diag *d);
void        b_error(Builder *b, SrcLoc loc, const char *fmt, ...);
/* "; did you mean 'x'?" for the candidates nearest to name, or "" if none is close. */
void        b_suggest(const char *name, const char *const *cand, int ncand, char *buf,
                      size_t len);
void        b_name_value(Builder *b, ValueId v, const char *name);
int         names_has(Builder *b, const char *name);
void        names_add(Builder *b, const char *name);
Binding    *scope_find(Scope *s, const char *name);
const char *scope_full(Builder *b, const Scope *s, const char *name);
int         b_type(Builder *b, const Ast *ty, TensorType *t);
ValueId     b_body(Builder *b, Scope *s, const AstVec *body, int is_model);
const Ast  *b_layer(Builder *b, const char *name, int *bad);
ValueId     b_instantiate(Builder *b, const Ast *l, const char *inst, const ValueId *args,
                          SrcLoc loc);

/* build_expr.c — expressions */
SrcLoc  b_loc(Builder *b, SrcLoc loc);        /* loc with the graph-owned file name */
ValueId b_expr(Builder *b, Scope *s, const Ast *e);   /* 0 on error (reported) */
NodeId  b_call(Builder *b, Scope *s, const Ast *e);   /* an op call node; 0 on error */

#endif
