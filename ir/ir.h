/* ir/ir.h — kiln's tensor IR: the one public header of the ir layer.
 *
 * A Graph is an SSA tensor program with static shapes.  It owns an arena: every node,
 * string, shape and attribute array lives there and is freed at once by ir_graph_free.
 * Entities refer to each other by index (ValueId, NodeId, StorageId; 0 = none), never by
 * pointer, so the node and value tables may grow.  Node order in Graph.order is the
 * schedule: always topological, and an exit_if is a barrier that no node moves across.
 *
 * The layer's table of contents follows, grouped by the file that defines each part.
 */
#ifndef KILN_IR_H
#define KILN_IR_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include "kiln_rt.h"

#define KILN_MAX_SPLIT 16   /* most results of one split */

/* ------------------------------------------------------------------ ops and flags */

typedef enum {
    OP_NONE = 0,             /* a dead node; never in a verified graph */
#define OP(id, text, min_in, max_in, nout, attr, flags) OP_##id,
#include "ops.def"
#undef OP
    OP_COUNT
} Op;

enum {
    F_ELTWISE  = 1 << 0,     /* result[i] depends only on operands[i] after broadcasting */
    F_BINARY   = 1 << 1,     /* two operands, numpy broadcasting */
    F_COMMUTE  = 1 << 2,     /* operands may be swapped (CSE canonical order) */
    F_QUANT    = 1 << 3,     /* quantize pass may give it quantized weights */
    F_SPARSE   = 1 << 4,     /* sparsity passes may re-encode its weight operand */
    F_EPI_HOST = 1 << 5,     /* a non-elementwise kernel that can run an epilogue (fuse) */
    F_VIEW     = 1 << 6,     /* result is the operand's bytes under another shape */
    F_CONTROL  = 1 << 7,     /* changes control flow: a scheduling barrier, never dead */
    F_NOFOLD   = 1 << 8,     /* constant folding leaves it alone */
    F_CMP      = 1 << 9      /* comparison: bool result from non-bool operands; never an
                                epilogue step, since it changes the result type */
};

typedef enum {
    ATTR_NONE = 0,           /* no attribute */
    ATTR_CONST,              /* ConstAttr */
    ATTR_MATMUL,             /* MatmulAttr */
    ATTR_CONV,               /* ConvAttr */
    ATTR_POOL,               /* PoolAttr */
    ATTR_SCALAR,             /* ScalarAttr: leaky_relu alpha, clip lo/hi */
    ATTR_GELU,               /* GeluAttr */
    ATTR_AXIS,               /* AxisAttr: softmax, log_softmax, flatten, concat, gather */
    ATTR_NORM,               /* NormAttr */
    ATTR_SHAPE,              /* DimsAttr: reshape target shape (-1 = inferred, 0 = copy) */
    ATTR_PERM,               /* DimsAttr: transpose permutation */
    ATTR_SPLIT,              /* SplitAttr */
    ATTR_SLICE,              /* SliceAttr */
    ATTR_PAD,                /* PadAttr */
    ATTR_REDUCE,             /* ReduceAttr: reduce_*, argmax */
    ATTR_CAST,               /* CastAttr */
    ATTR_QUANT,              /* QuantAttr */
    ATTR_EXIT,               /* ExitAttr */
    ATTR_COUNT
} AttrKind;

extern const char *const op_name[OP_COUNT];      /* mnemonic; "" for OP_NONE */
extern const int8_t      op_min_in[OP_COUNT];    /* fewest operands */
extern const int8_t      op_max_in[OP_COUNT];    /* most operands, -1 = unbounded */
extern const int8_t      op_nout[OP_COUNT];      /* results, -1 = from SplitAttr */
extern const AttrKind    op_attr[OP_COUNT];      /* attribute kind */
extern const uint32_t    op_flags[OP_COUNT];     /* F_* */

/* ------------------------------------------------------------------ types */

typedef uint32_t ValueId;    /* index into Graph.values; 0 = none */
typedef uint32_t NodeId;     /* index into Graph.nodes;  0 = none */
typedef uint32_t StorageId;  /* index into Graph.storage; 0 = none */

/* Element types.  KEEP-IN-SYNC(dtype): same order as kiln_dtype in kiln_rt.h. */
typedef enum {
    DT_NONE = 0,             /* not yet inferred */
    DT_F32,                  /* IEEE binary32 */
    DT_I32,                  /* int32_t */
    DT_I64,                  /* int64_t */
    DT_I8,                   /* int8_t; also storage of signed quantized values */
    DT_U8,                   /* uint8_t; also storage of unsigned quantized values */
    DT_BOOL,                 /* one byte, 0 or 1 */
    DT_COUNT
} DType;

typedef enum {
    QG_NONE = 0,             /* not quantized */
    QG_TENSOR,               /* one scale and zero point */
    QG_AXIS,                 /* one per index of dim `axis` */
    QG_GROUP,                /* one per `group` consecutive elements along dim `axis` */
    QG_COUNT
} QuantGran;

typedef struct {
    int       bits;          /* 2..8; values lie in the signed/unsigned range of `bits` */
    int       is_signed;     /* 1: [-2^(b-1), 2^(b-1)-1]; 0: [0, 2^b-1] */
    QuantGran gran;          /* granularity of scale/zero */
    int       axis;          /* QG_AXIS, QG_GROUP: the dim they vary along */
    int       group;         /* QG_GROUP: elements per group along axis (divides the dim) */
    int       nscale;        /* entries in scale and zero */
    float    *scale;         /* real = scale * (q - zero); arena-owned */
    int32_t  *zero;          /* zero points, in the quantized range; arena-owned */
} QuantParams;

typedef enum {
    SP_DENSE = 0,            /* plain dense layout */
    SP_CSR,                  /* compressed sparse rows over the last two dims */
    SP_BLOCK,                /* block-sparse: whole blocks of block[0] x block[1] are zero */
    SP_NM,                   /* N:M: at most n non-zeros in each m consecutive elements */
    SP_COUNT
} SparseKind;

typedef struct {
    SparseKind kind;         /* SP_DENSE unless a sparsity pass re-encoded the constant */
    int        block[2];     /* SP_BLOCK: rows, cols of one block */
    int        n, m;         /* SP_NM: n non-zeros per m, 0 < n < m */
} SparseFmt;

typedef struct {
    DType        dtype;              /* element type; DT_NONE until shape inference */
    int          rank;               /* 0..KILN_MAX_RANK */
    int64_t      dims[KILN_MAX_RANK];/* elements per dim, outermost first, each >= 0 (0 = empty) */
    /* set by quantize */
    QuantParams *quant;              /* NULL unless quantized; dtype is then DT_I8/DT_U8 */
    /* set by sparsify */
    SparseFmt    sparse;             /* encoding of a constant; the IR keeps dense bytes */
} TensorType;

typedef struct {
    const char *file;        /* source file name (arena-owned), NULL = unknown */
    int         line, col;   /* 1-based; 0 = unknown */
} SrcLoc;

/* ------------------------------------------------------------------ attributes */

typedef struct { StorageId storage; } ConstAttr;            /* bytes of the constant */
typedef struct { int trans_a, trans_b; } MatmulAttr;        /* transpose the last two dims */
typedef struct {
    int stride[2];           /* h, w; >= 1 */
    int pad[4];              /* top, left, bottom, right; >= 0 */
    int dilation[2];         /* h, w; >= 1 */
    int groups;              /* >= 1, divides C and K; C == K == groups is depthwise */
} ConvAttr;
typedef struct {
    int kernel[2];           /* h, w */
    int stride[2];           /* h, w */
    int pad[4];              /* top, left, bottom, right */
    int count_pad;           /* avgpool: padding counts in the divisor */
} PoolAttr;
typedef struct { float a, b; } ScalarAttr;  /* leaky_relu: a = alpha; clip: [a, b] */
typedef struct { int tanh_approx; } GeluAttr;               /* 0 = erf form */
typedef struct { int axis; } AxisAttr;      /* normalised to 0..rank-1 by shape inference */
typedef struct {
    float eps;               /* added to the variance */
    int   axis;              /* layernorm/rmsnorm: first normalised dim (to the end);
                                batchnorm: the channel dim */
} NormAttr;
typedef struct { int rank; int64_t v[KILN_MAX_RANK]; } DimsAttr;  /* reshape, transpose */
typedef struct {
    int     axis;            /* dim split along */
    int     n;               /* number of parts = results, 1..KILN_MAX_SPLIT */
    int64_t size[KILN_MAX_SPLIT];   /* part sizes along axis, summing to the dim */
} SplitAttr;
typedef struct {
    int     rank;            /* equals the operand's rank */
    int64_t start[KILN_MAX_RANK], end[KILN_MAX_RANK], step[KILN_MAX_RANK];  /* per dim,
                                numpy semantics after clamping; step != 0 */
} SliceAttr;
typedef struct {
    int     rank;            /* equals the operand's rank */
    int64_t before[KILN_MAX_RANK], after[KILN_MAX_RANK];  /* >= 0 */
    float   value;           /* constant fill */
} PadAttr;
typedef struct {
    int naxes;               /* 0 = all dims */
    int axes[KILN_MAX_RANK]; /* sorted, distinct, 0..rank-1; argmax: exactly one */
    int keepdims;            /* keep reduced dims as size 1 */
} ReduceAttr;
typedef struct { DType to; } CastAttr;
typedef struct { QuantParams q; } QuantAttr;  /* target of quantize; also the result type */
typedef struct { int index; } ExitAttr;       /* exit number reported to the caller, >= 1 */

typedef union {
    ConstAttr  cnst;
    MatmulAttr matmul;
    ConvAttr   conv;
    PoolAttr   pool;
    ScalarAttr scalar;
    GeluAttr   gelu;
    AxisAttr   axis;
    NormAttr   norm;
    DimsAttr   dims;
    SplitAttr  split;
    SliceAttr  slice;
    PadAttr    pad;
    ReduceAttr reduce;
    CastAttr   cast;
    QuantAttr  quant;
    ExitAttr   exit;
} Attr;

/* One step of a fused elementwise epilogue: acc = op(acc) or op(acc, in[arg]). */
typedef struct {
    Op   op;                 /* an F_ELTWISE op */
    int  arg;                /* binary ops: index into the node's operands; unary: -1 */
    int  swap;               /* binary ops: compute op(in[arg], acc) instead */
    Attr attr;               /* the op's attribute (leaky_relu, clip, gelu) */
} EpiStep;

/* A source annotation such as @quantize(bits=4, group=32): read by later passes. */
typedef struct {
    const char  *key;        /* attribute name */
    double       num;        /* numeric value (ints are exact) */
    const char  *str;        /* non-NULL for string / N:M values such as "2:4" */
} AnnotArg;
typedef struct {
    const char *name;        /* quantize, sparse, exit, ... */
    int         narg;
    AnnotArg   *arg;         /* arena-owned */
} Annot;

/* ------------------------------------------------------------------ graph */

typedef struct {
    const char *name;        /* printed name without '%'; NULL = printed by number */
    TensorType  type;        /* result type */
    NodeId      def;         /* producing node; 0 for graph inputs */
    int         res;         /* result index within def */
    /* set by memplan (valid when Graph.planned) */
    int64_t     offset;      /* byte offset in the arena; -1 = not in the arena (graph
                                input, output, constant, or a view of one: see lowering) */
} Value;

typedef struct {
    Op       op;             /* OP_NONE once deleted (ir_node_kill) */
    int      nin;            /* operands */
    ValueId *in;             /* arena-owned */
    int      nout;           /* results */
    ValueId *out;            /* arena-owned */
    Attr     attr;           /* member selected by op_attr[op] */
    SrcLoc   loc;            /* where the node came from; copied by rewrites */
    /* set by fuse */
    int      nepi;           /* fused elementwise steps applied to result 0 */
    EpiStep *epi;            /* arena-owned */
    /* from source annotations */
    int      nannot;
    Annot   *annot;          /* arena-owned */
} Node;

typedef enum {
    STORE_NONE = 0,
    STORE_FILE,              /* bytes in a mapped weight file */
    STORE_MEM,               /* bytes in the arena (inline literals, folded constants) */
    STORE_COUNT
} StorageKind;

typedef struct {
    StorageKind kind;
    const char *path;        /* STORE_FILE: as written, relative to Graph.dir */
    const char *key;         /* STORE_FILE: safetensors tensor name; NULL for .npy */
    kiln_file  *file;        /* STORE_FILE: mapping, owned by the graph */
    const void *data;        /* the bytes (into the mapping or the arena) */
    size_t      nbytes;      /* == numel * dtype size of every const that uses it */
} Storage;

typedef struct {
    const char *name;        /* output name in the generated API */
    ValueId     value;       /* value returned on the main path */
} Output;

typedef struct Arena Arena;

typedef struct Graph {
    Arena     *arena;        /* owns everything below but the three growable tables */
    const char *name;        /* model name, a C identifier */
    const char *dir;         /* folder weight paths are relative to ("" = cwd) */
    Value     *values;  uint32_t nvalue, capvalue;     /* [0] unused */
    Node      *nodes;   uint32_t nnode,  capnode;      /* [0] unused */
    Storage   *storage; uint32_t nstorage, capstorage; /* [0] unused */
    NodeId    *order;   uint32_t norder, caporder;     /* schedule, topological */
    ValueId   *inputs;  int ninput, capinput;          /* graph inputs, in API order */
    Output    *outputs; int noutput, capoutput;        /* graph outputs, in API order */
    /* set by memplan */
    int        planned;      /* 1 once Value.offset and arena_bytes are valid */
    int64_t    arena_bytes;  /* peak arena size in bytes, a multiple of 64 */
} Graph;

/* ------------------------------------------------------------------ diagnostics */

typedef enum { DIAG_ERROR = 0, DIAG_WARNING, DIAG_NOTE } DiagLevel;
typedef struct {
    DiagLevel level;
    SrcLoc    loc;
    char     *msg;           /* malloc-owned */
} DiagMsg;
typedef struct {
    DiagMsg *msg;  int nmsg, capmsg;
    int      nerror;         /* messages of level DIAG_ERROR */
} Diag;

/* ------------------------------------------------------------------ prototypes */

/* arena.c */
Arena *arena_new(void);
void   arena_free(Arena *a);
void  *arena_alloc(Arena *a, size_t n);            /* zeroed, 16-byte aligned; aborts on OOM */
char  *arena_strdup(Arena *a, const char *s);
char  *arena_printf(Arena *a, const char *fmt, ...);
void   arena_reset(Arena *a);                      /* drop all allocations, keep one block */

/* diag.c — user errors accumulate here; nothing in ir/ prints or exits on its own */
void diag_init(Diag *d);
void diag_free(Diag *d);
void diag_error(Diag *d, SrcLoc loc, const char *fmt, ...);
void diag_warn(Diag *d, SrcLoc loc, const char *fmt, ...);
void diag_note(Diag *d, SrcLoc loc, const char *fmt, ...);
/* Writes "file:line:col: error: msg", then the source line and a caret when the file can
 * be read.  Returns the number of errors. */
int  diag_print(const Diag *d, FILE *out);

/* types.c */
size_t      ir_dtype_size(DType t);
const char *ir_dtype_name(DType t);                /* "f32" ...; "none" for DT_NONE */
DType       ir_dtype_parse(const char *s);         /* DT_NONE if unknown */
/* numel into *out (0 when a dim is 0); -1 on a negative dim or when the product of the
 * non-zero dims (times the element size, for bytes) overflows (checked 64-bit arithmetic) */
int         ir_type_numel(const TensorType *t, int64_t *out);
int         ir_type_bytes(const TensorType *t, int64_t *out);
int         ir_type_equal(const TensorType *a, const TensorType *b);   /* incl. quant/sparse */
/* "f32[1,64]" into buf; returns buf */
char       *ir_type_str(const TensorType *t, char *buf, size_t len);
TensorType  ir_type_make(DType dt, int rank, const int64_t *dims);
Op          ir_op_parse(const char *name);         /* OP_NONE if unknown */
/* Optimal-string-alignment distance (a transposition costs 1), capped at 9: for the
 * "did you mean" hints of every frontend. */
int         ir_edit_distance(const char *a, const char *b);

/* graph.c */
Graph   *ir_graph_new(const char *name);
void     ir_graph_free(Graph *g);                  /* unmaps weight files too */
void     ir_graph_set_dir(Graph *g, const char *file);  /* g->dir = the folder of file */
ValueId  ir_graph_add_input(Graph *g, const char *name, const TensorType *t);
void     ir_graph_add_output(Graph *g, const char *name, ValueId v);
/* New node appended to the schedule; its nout results get fresh unnamed DT_NONE values.
 * For split, nout must equal attr.split.n. */
NodeId   ir_node_new(Graph *g, Op op, int nin, const ValueId *in, int nout, SrcLoc loc);
NodeId   ir_const_new(Graph *g, const TensorType *t, StorageId s, SrcLoc loc);
Node    *ir_node(Graph *g, NodeId n);              /* pointer valid until the next new node */
Value   *ir_value(Graph *g, ValueId v);            /* pointer valid until the next new value */
ValueId  ir_node_out(const Graph *g, NodeId n, int i);
void     ir_value_set_name(Graph *g, ValueId v, const char *name);
void     ir_node_kill(Graph *g, NodeId n);         /* op = OP_NONE; dropped by compact */
void     ir_replace_uses(Graph *g, ValueId from, ValueId to);   /* operands and outputs */
/* uses[v] = operand slots (incl. epilogue args) + output slots reading v; scratch-owned */
uint32_t *ir_use_counts(const Graph *g, Arena *scratch);
void     ir_graph_compact(Graph *g);               /* drop dead nodes from the schedule */
/* Stable topological re-ordering after passes appended nodes; exit_if stays a barrier. */
void     ir_graph_schedule(Graph *g);
int      ir_node_set_annot(Graph *g, NodeId n, const Annot *a, int na);  /* copies */
const Annot *ir_node_annot(const Graph *g, NodeId n, const char *name);  /* NULL = none */

/* storage.c — weight bytes */
StorageId ir_storage_mem(Graph *g, const void *data, size_t nbytes);   /* copies */
/* Maps dir/path and finds key (NULL: the file is one .npy tensor).  The tensor's dtype and
 * shape are returned in *t.  Errors go to d at loc; returns 0 on failure. */
StorageId ir_storage_file(Graph *g, const char *path, const char *key, TensorType *t,
                          SrcLoc loc, Diag *d);
const void *ir_const_data(const Graph *g, NodeId n);

/* infer.c — per-op shape and type rules, shared by shape-infer, the verifier and builders */
/* Computes the result types of n from its operand types and attribute, normalising
 * negative axes in the attribute.  On a user error reports to d at the node's location and
 * returns -1. */
int ir_infer_node(Graph *g, NodeId n, Diag *d);
/* Broadcast shape of a and b (numpy rules) into *out; -1 if incompatible. */
int ir_broadcast(const TensorType *a, const TensorType *b, TensorType *out);

/* attr.c — attribute fields by name, shared by the text IR parser and printer and the
 * .kiln builder, so an attribute is spelled the same everywhere (doc/ir.md lists them). */
typedef enum {
    AV_NONE = 0,
    AV_INT,                  /* i */
    AV_FLOAT,                /* f */
    AV_LIST,                 /* n numbers in list[] (ints are exact) */
    AV_IDENT,                /* s: a bare word such as a dtype name */
    AV_STRING,               /* s: a quoted string */
    AV_COUNT
} AttrValKind;
typedef struct {
    AttrValKind kind;
    int64_t     i;           /* AV_INT */
    double      f;           /* AV_FLOAT; also set for AV_INT */
    int         n;           /* AV_LIST: entries */
    const double *list;      /* AV_LIST: owned by the caller */
    const char  *s;          /* AV_IDENT, AV_STRING: owned by the caller */
} AttrVal;
/* Fills the defaults of op's attribute kind (stride 1, dilation 1, groups 1, eps 1e-5,
 * axis -1, ...). */
void ir_attr_default(Op op, Attr *a);
/* Sets field `key` of op's attribute from v; -1 with a message in err ("conv2d has no
 * attribute 'strid'", "stride: expected 1 or 2 integers, got 3") on a user error. */
int  ir_attr_set(Graph *g, Op op, Attr *a, const char *key, const AttrVal *v,
                 char *err, size_t errlen);
/* Prints " {k = v, ...}" in the text IR's syntax (nothing for ATTR_NONE). */
void ir_attr_print(Op op, const Attr *a, FILE *out);

/* verify.c */
int ir_verify(Graph *g, Diag *d);                  /* 0 = valid; errors name the node */

/* print.c — the text form specified in doc/ir.md */
void ir_graph_print(const Graph *g, FILE *out);
char *ir_graph_print_str(const Graph *g);          /* malloc-owned */

/* parse.c — reads what ir_graph_print writes.  `file` names the text for diagnostics and
 * its folder resolves weight paths.  NULL on error (reported to d). */
Graph *ir_parse_text(const char *text, size_t len, const char *file, Diag *d);
Graph *ir_parse_file(const char *path, Diag *d);

/* dot.c */
void ir_graph_dot(const Graph *g, FILE *out);      /* Graphviz */

/* interp.c — the reference interpreter: simple loops, the oracle for every test */
typedef struct {
    TensorType type;         /* dtype and shape */
    void      *data;         /* malloc-owned by whoever filled it */
} IrTensor;
/* Runs g on inputs (g->ninput tensors, types must match).  On success fills outputs
 * (g->noutput tensors, data malloc'd; free with ir_tensor_free) and *exit_taken (0 = the
 * main path, else the ExitAttr index) and returns 0.  Errors (e.g. a gather index out of
 * range) go to d, return -1. */
int  ir_interp_run(const Graph *g, const IrTensor *inputs, IrTensor *outputs,
                   int *exit_taken, Diag *d);
/* Evaluates one node whose operands are all given; used by constant folding. */
int  ir_interp_node(const Graph *g, NodeId n, const IrTensor *in, IrTensor *out, Diag *d);
void ir_tensor_free(IrTensor *t);

#endif
