/* frontend/onnx/onnx_internal.h — private to frontend/onnx: the importer's state, the op
 * table row, and the helpers the op mappers (ops.c) build IR with.  Not a layer header. */
#ifndef KILN_ONNX_INTERNAL_H
#define KILN_ONNX_INTERNAL_H

#include "onnx.pb-c.h"
#include "onnx_import.h"

enum {
    ONNX_OPSET_MIN = 1,        /* oldest default-domain opset read (rows decide) */
    ONNX_OPSET_MAX = 17,       /* newest in Debian's onnx.proto (ONNX 1.12) */
    ONNX_MAX_DEPTH = 64,       /* deepest message nesting accepted (wire.c) */
    ONNX_FOLD_BYTES = 1 << 20, /* import-time folding leaves larger results to the passes */
    ONNX_CONST_ELEMS = 1 << 24 /* most elements of a constant the importer generates */
};

typedef struct Imp Imp;
/* Maps the current node (im->node) to IR; 0 = ok, -1 = error reported. */
typedef int (*OnnxMapFn)(Imp *im);

/* One row of THE op table (ops.c): doc/onnx.md's op list is generated from it. */
typedef struct {
    const char *type;          /* ONNX op type, default domain */
    int         since, until;  /* opset versions the row covers, inclusive */
    OnnxMapFn   fn;            /* the mapper */
    Op          op;            /* kiln op for the shared mappers (eltwise, reduce); else 0 */
    unsigned    cmask;         /* bit k: operand k must be a constant at import */
    unsigned    types;         /* bit t: operand 0 may have DType t (others: unsupported) */
    const char *note;          /* the mapping and its limits, for doc/onnx.md */
} OnnxOpRow;

/* Name -> id table with string keys (arena-owned), open addressing. */
typedef struct {
    const char **key;          /* NULL = empty slot */
    uint32_t    *val;          /* ValueId or node index */
    uint32_t     cap, n;       /* cap is a power of two; n used slots */
} NameMap;

/* A mapped external data file, shared by every tensor that reads it. */
typedef struct {
    const char *path;          /* location as written in the model */
    kiln_file  *file;          /* the mapping */
    int         handed;        /* 1 once a Storage owns file; else the importer unmaps it */
} ExtFile;

struct Imp {
    Graph             *g;       /* graph being built */
    Diag              *d;       /* user errors */
    OnnxImportOpts    *o;       /* caller's options; o->unsupported is written */
    const char        *path;    /* model path as given */
    const char        *dir;     /* model folder ("." when none), for external data */
    int64_t            opset;   /* default-domain opset version */
    NameMap            names;   /* ONNX tensor name -> ValueId */
    NameMap            params;  /* graph input names that feed a constant-only operand */
    ExtFile           *ext;     /* mapped external files */
    uint32_t           next;    /* entries in ext */
    uint32_t           capext;  /* allocated entries of ext */
    /* the node being mapped */
    const Onnx__NodeProto *node;
    const OnnxOpRow   *row;     /* its table row */
    SrcLoc             loc;     /* "<path>: node '<name>' (<OpType>)", line 0 */
};

/* import.c — names */
void     onnx_names_init(NameMap *m);
void     onnx_names_free(NameMap *m);
int      onnx_names_get(const NameMap *m, const char *key, uint32_t *val);  /* 1 = found */
void     onnx_names_put(NameMap *m, Arena *a, const char *key, uint32_t val);

/* import.c — building blocks for the mappers (all report to im->d at im->loc) */
int      imp_fail(Imp *im, const char *fmt, ...);         /* returns -1 */
int      imp_unsupported(Imp *im, const char *fmt, ...);  /* also marks unsupported; -1 */
/* An op (at this opset and domain) or element type the table does not claim; marks the
 * import unsupported and unclaimed; -1. */
int      imp_unclaimed(Imp *im, const char *fmt, ...);
int      imp_nin(const Imp *im);                          /* operands given */
ValueId  imp_in(Imp *im, int k);        /* operand k; 0 if absent (optional or "") */
ValueId  imp_need(Imp *im, int k);      /* operand k; error + 0 if absent */
const TensorType *imp_type(Imp *im, ValueId v);
int      imp_nout(const Imp *im);                         /* results named */
int      imp_out_used(const Imp *im, int k);              /* 1 when result k has a name */
int      imp_set_out(Imp *im, int k, ValueId v);          /* binds result k's name */
/* New node of op with attribute a (NULL = defaults); infers its types and folds it when
 * its operands are constants.  Returns result 0, or 0 on error. */
ValueId  imp_emit(Imp *im, Op op, const Attr *a, int nin, const ValueId *in);
/* Same for a node of nout results, written to out[]. */
int      imp_emit_n(Imp *im, Op op, const Attr *a, int nin, const ValueId *in, int nout,
                    ValueId *out);
ValueId  imp_emit1(Imp *im, Op op, ValueId x);            /* unary, default attribute */
ValueId  imp_emit2(Imp *im, Op op, ValueId x, ValueId y); /* binary, default attribute */
/* A reduction (or argmax: one axis) of x over axes[0..naxes) (0 axes = all); 0 if !x. */
ValueId  imp_reduce(Imp *im, Op op, ValueId x, int naxes, const int64_t *axes, int keepdims);
ValueId  imp_reshape(Imp *im, ValueId x, int rank, const int64_t *dims);
ValueId  imp_transpose(Imp *im, ValueId x, int rank, const int *perm);
ValueId  imp_where(Imp *im, ValueId c, ValueId x, ValueId y);   /* c ? x : y, broadcast */
ValueId  imp_const(Imp *im, const TensorType *t, const void *data);   /* copies data */
ValueId  imp_scalar(Imp *im, DType dt, double v);         /* rank-0 constant */
/* Constant bytes of v, or NULL when v is not (yet) a constant. */
const void *imp_const_data(Imp *im, ValueId v);
/* Operand k as integers: it must be a constant i32/i64 tensor of at most max elements. */
int      imp_const_ints(Imp *im, int k, int64_t *out, int max, int *n);
/* Operand k as one float (a constant scalar or 1-element tensor of any numeric type). */
int      imp_const_float(Imp *im, int k, double *out);

/* import.c — attributes of the current node */
const Onnx__AttributeProto *imp_attr(const Imp *im, const char *name);
int64_t  imp_attr_i(const Imp *im, const char *name, int64_t def);
double   imp_attr_f(const Imp *im, const char *name, double def);
/* Copies the ints of attribute name into out (at most max); count, -1 (reported) if too
 * many; 0 when absent. */
int      imp_attr_ints(Imp *im, const char *name, int64_t *out, int max);
const char *imp_attr_s(Imp *im, const char *name, const char *def);   /* arena copy */

/* tensor.c */
DType    onnx_dtype(int32_t onnx_type);                   /* DT_NONE if kiln has no such */
const char *onnx_dtype_name(int32_t onnx_type);           /* "FLOAT16", ...; "?" */
/* A TensorProto (initializer or Constant value) as a constant node; 0 on error.  A
 * zero-size tensor is an empty constant like any other (exporters also use one as a
 * placeholder for an absent operand, Resize's roi, which the mappers then ignore). */
ValueId  onnx_tensor_const(Imp *im, const Onnx__TensorProto *t, const char *what);
/* Unmaps external files no Storage took over and frees the cache (end of an import). */
void     onnx_ext_release(Imp *im);
/* Reads a TensorProto into an IrTensor (data malloc'd) without external data; the
 * conformance harness uses it for input_*.pb / output_*.pb.  -1 with a message in err. */
int      onnx_tensor_read(const Onnx__TensorProto *t, IrTensor *out, char *err, size_t errlen);

/* random.c — NumPy's legacy RandomState (MT19937), for masks drawn at compile time */
typedef struct {
    uint32_t mt[624];          /* generator state */
    int      pos;              /* next word of mt to temper; 624 = regenerate first */
} OnnxMt;
/* As RandomState(seed) with an integer seed (init_genrand). */
void     onnx_mt_seed(OnnxMt *r, uint32_t seed);
uint32_t onnx_mt_next(OnnxMt *r);                         /* next 32-bit output */
/* Next double in [0, 1) from two outputs, as NumPy's random_sample (53 bits). */
double   onnx_mt_uniform(OnnxMt *r);

/* ops.c */
/* Conv of in[0..nin) (x, w, optional bias) with the current node's Conv attributes: one
 * conv2d for 1-D and 2-D inputs, a depth-window gather around a conv2d for 3-D. */
ValueId  onnx_conv_node(Imp *im, const ValueId *in, int nin);
const OnnxOpRow *onnx_op_find(const char *type, int64_t opset);   /* NULL = unclaimed */
const OnnxOpRow *onnx_op_any(const char *type);   /* a row of type at any opset, or NULL */
/* Fails (unclaimed) when operand 0's dtype is outside im->row->types. */
int      onnx_op_check_types(Imp *im);
/* Up to 3 claimed op types nearest to type (edit distance), ", "-joined into buf. */
void     onnx_op_nearest(const char *type, char *buf, size_t len);

/* pool.c — spatial windows (Conv, ConvTranspose, pools) and the pool mapper */
/* The window of a Conv or pool node over the nsp spatial dims of an [N, C, ...] input. */
typedef struct {
    int     nsp;               /* spatial dims, 1..3 */
    int64_t kernel[3];         /* window extent per spatial dim, 1..INT32_MAX */
    int64_t stride[3];         /* 1..INT32_MAX */
    int64_t dil[3];            /* dilation, 1..INT32_MAX */
    int64_t pb[3], pe[3];      /* padding before / after each dim, auto_pad resolved, >= 0 */
} OnnxWindow;
/* Attribute name of nsp ints into out[0..nsp); def for each when absent; -1 (reported)
 * when it has another count. */
int      onnx_attr_spatial(Imp *im, const char *name, int nsp, int64_t *out, int64_t def);
/* The current node's window for input type x (rank 3..5, else unsupported): kernel from
 * kernel (Conv: the weight's spatial dims) or the kernel_shape attribute, then strides,
 * dilations, pads and auto_pad.  -1 (reported) on a bad or out-of-range attribute. */
int      onnx_window_get(Imp *im, const TensorType *x, const int64_t *kernel, OnnxWindow *w);
/* x padded on `axis` by pb / pe with fill, then its windows of k taps (stride s, dilation
 * d) gathered with a constant index table: dim `axis` of length L becomes [out, k].
 * 0 (reported) when no window fits or the table is too large. */
ValueId  onnx_window_gather(Imp *im, ValueId x, int axis, int64_t k, int64_t s, int64_t d,
                            int64_t pb, int64_t pe, double fill);
/* AveragePool and MaxPool (row op OP_AVGPOOL / OP_MAXPOOL), 1-D to 3-D. */
int      onnx_map_pool(Imp *im);

/* norm.c — normalisations decomposed into reductions and elementwise ops */
int      onnx_map_mvn(Imp *im);      /* MeanVarianceNormalization */
int      onnx_map_lrn(Imp *im);      /* LRN, [N, C, ...] of rank 3..7 */

/* quant.c — mappers of the quantization rows */
int      onnx_map_quantize(Imp *im);
int      onnx_map_dequantize(Imp *im);
int      onnx_map_qlinear_matmul(Imp *im);
int      onnx_map_qlinear_conv(Imp *im);
int      onnx_map_matmul_integer(Imp *im);
int      onnx_map_dynamic_quantize(Imp *im);

/* eltwise.c — elementwise decompositions */
int      onnx_map_not(Imp *im);
int      onnx_map_logic(Imp *im);
int      onnx_map_reciprocal(Imp *im);
int      onnx_map_leaky_relu(Imp *im);
int      onnx_map_clip(Imp *im);
int      onnx_map_hard_sigmoid(Imp *im);
int      onnx_map_softplus(Imp *im);
int      onnx_map_softsign(Imp *im);
int      onnx_map_elu(Imp *im);
int      onnx_map_celu(Imp *im);
int      onnx_map_thresholded_relu(Imp *im);
int      onnx_map_prelu(Imp *im);
int      onnx_map_variadic(Imp *im);
int      onnx_map_sign(Imp *im);
int      onnx_map_isnan(Imp *im);
int      onnx_map_isinf(Imp *im);
int      onnx_map_shrink(Imp *im);
int      onnx_map_pow(Imp *im);

/* gen.c — mappers that generate constants from static shapes */
int      onnx_map_range(Imp *im);
int      onnx_map_eye_like(Imp *im);
int      onnx_map_trilu(Imp *im);
int      onnx_map_one_hot(Imp *im);
int      onnx_map_hardmax(Imp *im);
int      onnx_map_tile(Imp *im);
int      onnx_map_resize(Imp *im);
int      onnx_map_upsample(Imp *im);
int      onnx_map_gather_elements(Imp *im);
int      onnx_map_mod(Imp *im);
int      onnx_map_cumsum(Imp *im);
int      onnx_map_nll_loss(Imp *im);
int      onnx_map_sce_loss(Imp *im);
/* x padded along each axis of p in edge or reflect mode (reflect = 1); 0 on error. */
ValueId  onnx_pad_gather(Imp *im, ValueId x, const PadAttr *p, int reflect);

/* index.c — indexing ops as gathers over flattened views, Einsum as batched matmul */
int      onnx_map_gather_nd(Imp *im);
int      onnx_map_compress(Imp *im);
int      onnx_map_reverse_sequence(Imp *im);
int      onnx_map_einsum(Imp *im);

#endif
