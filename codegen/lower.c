/* codegen/lower.c — lowering shared by every emitter: a memplanned Graph becomes a CgModule
 * of kernel records whose buffers, shapes, strides and scratch are all resolved.
 *
 * Approach: walk the schedule once, giving every value a placement (CgBuf).  Graph inputs
 * and constants have their own buffers; a value that is a graph output is written straight
 * into the caller's output buffer; other values live at memplan's arena offset, except
 * views (reshape, flatten) with offset -1, which alias their operand.  Conv scratch sits
 * after memplan's peak: each scratch is live only during its node, so one region of the
 * largest size serves all.  No emitter-specific text is produced here.
 *
 * Exits copy their returned values into the output buffers.  A value may be read from an
 * output buffer that another copy of the same exit overwrites: the copies are ordered so
 * that every read comes before the write, and when they form a cycle (outputs returned
 * swapped) one output's main-path value moves to a slot of its own after memplan's peak,
 * before the conv scratch; it is copied into its output buffer at the end of the main path
 * like any output not written in place.  Arena: [planned | exit slots | conv scratch].
 */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include "codegen.h"
#include "loop.h"
#include "util.h"

enum { BLAS_MIN_FLOPS = 64 * 64 * 64 };   /* smaller matmuls run as inline loops */

static int f32_only(Op op);

typedef struct {
    CgModule *m;
    Graph    *g;
    Diag     *d;
    CgBuf    *loc;           /* placement per ValueId */
    int      *out_of;        /* output number a value is written into, -1 = none */
    int      *deq_of;        /* dequantized copy of a quantized constant, -1 = none yet */
    int64_t  *slot_of;       /* per output: arena offset its values move to, -1 = none */
    int64_t   slot_bytes;    /* bytes from planned_bytes to the end of the exit slots */
    const char **syms;       /* constant symbols handed out so far */
} Lower;

/* C11 keywords and object-like macros of the headers generated code includes: a struct
 * member spelled like one would not compile. */
static int
reserved(const char *s)
{
    static const char *const word[] = {
        "auto", "break", "case", "char", "const", "continue", "default", "do", "double",
        "else", "enum", "extern", "float", "for", "goto", "if", "inline", "int", "long",
        "register", "restrict", "return", "short", "signed", "sizeof", "static", "struct",
        "switch", "typedef", "union", "unsigned", "void", "volatile", "while", "_Alignas",
        "_Alignof", "_Atomic", "_Bool", "_Complex", "_Generic", "_Imaginary", "_Noreturn",
        "_Static_assert", "_Thread_local", "NULL", "INFINITY", "NAN", "HUGE_VAL",
        "HUGE_VALF", "HUGE_VALL", "EOF", "errno", "math_errhandling", "MATH_ERRNO",
        "MATH_ERREXCEPT", "SIZE_MAX", "offsetof", "bool", "true", "false",
    };
    for (size_t i = 0; i < sizeof word / sizeof *word; i++)
        if (strcmp(s, word[i]) == 0)
            return 1;
    /* <stdint.h> limits and constant macros, <math.h> FP_ classes, reserved _X names */
    return strncmp(s, "INT", 3) == 0 || strncmp(s, "UINT", 4) == 0 ||
           strncmp(s, "FP_", 3) == 0 || strncmp(s, "PTRDIFF_", 8) == 0 ||
           strncmp(s, "SIG_ATOMIC_", 11) == 0 || strncmp(s, "WCHAR_", 6) == 0 ||
           strncmp(s, "WINT_", 5) == 0 || (s[0] == '_' && isupper((unsigned char)s[1])) ||
           strncmp(s, "__", 2) == 0;
}

char *
cg_ident(Arena *a, const char *s)
{
    size_t n = strlen(s);
    char *r = arena_alloc(a, n + 3);
    size_t j = 0;
    if (n == 0 || isdigit((unsigned char)s[0]))
        r[j++] = '_';
    for (size_t i = 0; i < n; i++)
        r[j++] = isalnum((unsigned char)s[i]) ? s[i] : '_';
    r[j] = 0;
    if (reserved(r)) {
        if (r[0] == '_')
            r[0] = 'x';       /* _Bool, __x: not a reserved spelling any more */
        else
            r[j++] = '_', r[j] = 0;
    }
    return r;
}

const char *
cg_ctype(DType t)
{
    static const char *const name[DT_COUNT] = {
        [DT_F32] = "float", [DT_I32] = "int32_t", [DT_I64] = "int64_t",
        [DT_I8] = "int8_t", [DT_U8] = "uint8_t", [DT_BOOL] = "uint8_t",
    };
    KILN_ASSERT(t > DT_NONE && t < DT_COUNT);
    return name[t];
}

/* Equal ignoring case: names also become upper-case macros. */
static int
same_name(const char *a, const char *b)
{
    for (; *a && toupper((unsigned char)*a) == toupper((unsigned char)*b); a++, b++)
        ;
    return *a == *b;
}

/* s, or s_2, s_3 ... : the first spelling not in used[0..n) (deterministic). */
static const char *
unique(Arena *a, const char *s, const char *const *used, int n)
{
    const char *cand = s;
    for (int k = 2;; k++) {
        int clash = 0;
        for (int i = 0; i < n && !clash; i++)
            clash = same_name(used[i], cand);
        if (!clash)
            return cand;
        cand = arena_printf(a, "%s_%d", s, k);
    }
}

static void
fnv(uint64_t *h, const void *p, size_t n)
{
    const unsigned char *b = p;
    for (size_t i = 0; i < n; i++) {
        *h ^= b[i];
        *h *= 1099511628211ull;
    }
}

/* The graph's text without source locations: how the model's path was spelled (or where
 * in the file a node was written) is not part of what the model computes.  Locations are
 * hidden for the print (the printer omits a location with no file) and put back. */
static char *
print_without_locs(Graph *g)
{
    const char **file = malloc((size_t)g->nnode * sizeof *file);
    if (!file)
        kiln_die("out of memory hashing %u nodes", g->nnode);
    for (uint32_t n = 0; n < g->nnode; n++) {
        file[n] = g->nodes[n].loc.file;
        g->nodes[n].loc.file = NULL;
    }
    char *ir = ir_graph_print_str(g);
    for (uint32_t n = 0; n < g->nnode; n++)
        g->nodes[n].loc.file = file[n];
    free(file);
    return ir;
}

/* Hashes what decides the generated bytes: the location-free IR after the pipeline (so
 * -O2 given or defaulted hash alike), the codegen options and the constant bytes. */
static void
hash_module(CgModule *m)
{
    uint64_t h = 14695981039346656037ull;
    char *ir = print_without_locs(m->g);
    fnv(&h, ir, strlen(ir));
    free(ir);
    char opt[512];
    snprintf(opt, sizeof opt, "prefix=%s;external=%d;weights=%s", m->prefix,
             m->opt.weights_external, m->opt.weights_file ? m->opt.weights_file : "");
    fnv(&h, opt, strlen(opt));
    /* constant bytes: the printed IR names a weight file, not its contents */
    for (int i = 0; i < m->nconst; i++)
        fnv(&h, m->consts[i].data, (size_t)m->consts[i].bytes);
    snprintf(m->hash, sizeof m->hash, "%016llx", (unsigned long long)h);
}

static const char *
upper(Arena *a, const char *s)
{
    char *r = arena_strdup(a, s);
    for (char *p = r; *p; p++)
        *p = (char)toupper((unsigned char)*p);
    return r;
}

static int64_t
numel_of(const TensorType *t)
{
    int64_t n = 1;
    for (int i = 0; i < t->rank; i++)
        n *= t->dims[i];
    return n;
}

/* ------------------------------------------------------------------ ports, constants */

static void
ports(Lower *L)
{
    CgModule *m = L->m;
    Graph *g = L->g;
    const char **used = arena_alloc(m->arena, (size_t)(g->ninput + g->noutput + 3) * sizeof *used);
    int nused = 0;
    used[nused++] = "weights";        /* P_inputs.weights, P_WEIGHTS_BYTES */
    used[nused++] = "exit_taken";     /* P_outputs.exit_taken */
    used[nused++] = "arena";          /* P_ARENA_BYTES */
    m->ninput = g->ninput;
    m->input = arena_alloc(m->arena, (size_t)(g->ninput + 1) * sizeof *m->input);
    for (int i = 0; i < g->ninput; i++) {
        const Value *v = &g->values[g->inputs[i]];
        const char *raw = v->name ? v->name : arena_printf(m->arena, "in%d", i);
        CgPort *p = &m->input[i];
        p->name = unique(m->arena, cg_ident(m->arena, raw), used, nused);
        used[nused++] = p->name;
        p->value = g->inputs[i];
        p->type = v->type;
        p->numel = numel_of(&v->type);
        p->bytes = p->numel * (int64_t)ir_dtype_size(v->type.dtype);
    }
    m->noutput = g->noutput;
    m->output = arena_alloc(m->arena, (size_t)(g->noutput + 1) * sizeof *m->output);
    for (int i = 0; i < g->noutput; i++) {
        const Value *v = &g->values[g->outputs[i].value];
        CgPort *p = &m->output[i];
        p->name = unique(m->arena, cg_ident(m->arena, g->outputs[i].name), used, nused);
        used[nused++] = p->name;
        p->value = g->outputs[i].value;
        p->type = v->type;
        p->numel = numel_of(&v->type);
        p->bytes = p->numel * (int64_t)ir_dtype_size(v->type.dtype);
    }
}

static void
add_const(Lower *L, NodeId n)
{
    const char **used = L->syms;
    CgModule *m = L->m;
    Graph *g = L->g;
    ValueId v = g->nodes[n].out[0];
    const Value *val = &g->values[v];
    const char *raw = val->name ? val->name : arena_printf(m->arena, "c%u", v);
    CgConst *c = &m->consts[m->nconst];
    c->node = n;
    c->sym = unique(m->arena, arena_printf(m->arena, "w_%s", cg_ident(m->arena, raw)),
                    used, m->nconst);
    used[m->nconst] = c->sym;
    c->type = val->type;
    c->data = ir_const_data(g, n);
    c->bytes = numel_of(&val->type) * (int64_t)ir_dtype_size(val->type.dtype);
    L->loc[v] = (CgBuf){ CG_BUF_CONST, m->nconst, 0 };
    m->nconst++;
}

static void
consts(Lower *L)
{
    CgModule *m = L->m;
    Graph *g = L->g;
    int n = 0;
    for (uint32_t i = 0; i < g->norder; i++)
        n += g->nodes[g->order[i]].op == OP_CONST;
    /* room for a dequantized f32 copy of each */
    m->consts = arena_alloc(m->arena, (size_t)(2 * n + 1) * sizeof *m->consts);
    L->syms = arena_alloc(m->arena, (size_t)(2 * n + 1) * sizeof *L->syms);
    for (uint32_t i = 0; i < g->norder; i++)
        if (g->nodes[g->order[i]].op == OP_CONST)
            add_const(L, g->order[i]);
}

/* Quantization parameter index of element i (interp.c's interp_qindex). */
static int64_t
qindex(const TensorType *t, const QuantParams *q, int64_t i)
{
    if (q->gran == QG_TENSOR)
        return 0;
    int64_t inner = 1;
    for (int k = q->axis + 1; k < t->rank; k++)
        inner *= t->dims[k];
    int64_t a = (i / inner) % t->dims[q->axis];
    return q->gran == QG_GROUP ? a / q->group : a;
}

static int64_t
int_at(DType t, const void *p, int64_t i)
{
    switch (t) {
    case DT_I8:  return ((const int8_t *)p)[i];
    case DT_U8:  return ((const uint8_t *)p)[i];
    case DT_I32: return ((const int32_t *)p)[i];
    default:     return ((const int64_t *)p)[i];
    }
}

/* Quantized weights of a matmul/conv are dequantized at compile time, exactly as the
 * interpreter does on load: scale * (float)(q - zero). */
static int
dequant_const(Lower *L, int c)
{
    CgModule *m = L->m;
    ValueId v = m->g->nodes[m->consts[c].node].out[0];
    if (L->deq_of[v] >= 0)
        return L->deq_of[v];
    const CgConst *src = &m->consts[c];
    const QuantParams *q = src->type.quant;
    int64_t n = numel_of(&src->type);
    float *f = arena_alloc(m->arena, (size_t)(n ? n : 1) * sizeof *f);
    for (int64_t i = 0; i < n; i++) {
        int64_t k = qindex(&src->type, q, i);
        f[i] = q->scale[k] * (float)(int_at(src->type.dtype, src->data, i) - q->zero[k]);
    }
    CgConst *d = &m->consts[m->nconst];
    *d = *src;
    d->sym = unique(m->arena, arena_printf(m->arena, "%s_f32", src->sym), L->syms, m->nconst);
    L->syms[m->nconst] = d->sym;
    d->type.dtype = DT_F32;
    d->type.quant = NULL;
    d->data = f;
    d->bytes = n * 4;
    L->deq_of[v] = m->nconst;
    return m->nconst++;
}

/* Quantized constant operands of the ops the interpreter dequantizes on load (matmul, conv,
 * pools, softmax, norms) become f32 copies; views keep their own shape. */
static void
dequant_operand(Lower *L, const Node *nd, CgOperand *o)
{
    if (!o->type.quant || o->buf.kind != CG_BUF_CONST ||
        !((op_flags[nd->op] & F_QUANT) || f32_only(nd->op)))
        return;
    int c = dequant_const(L, o->buf.index);
    o->buf.index = c;
    o->type.dtype = DT_F32;
    o->type.quant = NULL;
    o->bytes = o->numel * 4;
}

/* ------------------------------------------------------------------ operands */

static int
same_buf(CgBuf a, CgBuf b)
{
    return a.kind == b.kind && a.index == b.index;
}

static int
overlaps(const CgOperand *a, const CgOperand *b)
{
    return same_buf(a->buf, b->buf) && a->buf.offset < b->buf.offset + b->bytes &&
           b->buf.offset < a->buf.offset + a->bytes;
}

/* Broadcast strides of t against shape `ref` (right-aligned); 0 on size-1 dims. */
static void
bstrides(const TensorType *t, const TensorType *ref, int64_t *st)
{
    int64_t s = 1;
    for (int d = ref->rank - 1; d >= 0; d--) {
        int td = d - (ref->rank - t->rank);
        if (td < 0) {
            st[d] = 0;
            continue;
        }
        st[d] = t->dims[td] == 1 ? 0 : s;
        s *= t->dims[td];
    }
}

static CgOperand
operand(Lower *L, ValueId v)
{
    CgOperand o = { .value = v };
    if (!v)
        return o;
    const Value *val = &L->g->values[v];
    o.buf = L->loc[v];
    o.type = val->type;
    o.numel = numel_of(&val->type);
    o.bytes = o.numel * (int64_t)ir_dtype_size(val->type.dtype);
    return o;
}

/* Operands of n that belong to the op itself: fuse appends one operand per binary
 * epilogue step after them (doc/ir.md). */
static int
native_nin(const Node *nd)
{
    int nbin = 0;
    for (int i = 0; i < nd->nepi; i++)
        nbin += nd->epi[i].arg >= 0;
    return nd->nin - nbin;
}

/* Placement of result v of node n (not a view). */
static int
place_result(Lower *L, const Node *nd, ValueId v)
{
    const Value *val = &L->g->values[v];
    if (L->out_of[v] >= 0 && L->slot_of[L->out_of[v]] >= 0)
        L->loc[v] = (CgBuf){ CG_BUF_ARENA, 0, L->slot_of[L->out_of[v]] };
    else if (L->out_of[v] >= 0)
        L->loc[v] = (CgBuf){ CG_BUF_OUTPUT, L->out_of[v], 0 };
    else if (val->offset >= 0)
        L->loc[v] = (CgBuf){ CG_BUF_ARENA, 0, val->offset };
    else {
        diag_error(L->d, nd->loc, "%s: result has no arena placement (run memplan first)",
                   op_name[nd->op]);
        return -1;
    }
    return 0;
}

/* ------------------------------------------------------------------ per-op facts */

/* GEMM sizes and per-batch-dim matrix strides of a (possibly batched, 1-D) matmul. */
static void
matmul_lower(CgKernel *k, const Node *nd)
{
    const TensorType *a = &k->in[0].type, *b = &k->in[1].type, *y = &k->out[0].type;
    int ta = nd->attr.matmul.trans_a && a->rank >= 2, tb = nd->attr.matmul.trans_b && b->rank >= 2;
    k->m = a->rank == 1 ? 1 : a->dims[a->rank - 2 + ta];
    k->k = a->dims[a->rank - 1 - ta];
    k->n = b->rank == 1 ? 1 : b->dims[b->rank - 1 - tb];
    int ab = a->rank > 2 ? a->rank - 2 : 0, bb = b->rank > 2 ? b->rank - 2 : 0;
    k->batch_rank = ab > bb ? ab : bb;
    KILN_ASSERT(k->batch_rank <= y->rank);
    for (int d = 0; d < k->batch_rank; d++)
        k->batch_dims[d] = y->dims[d];
    int64_t sa = (a->rank > 1 ? a->dims[a->rank - 2] : 1) * a->dims[a->rank - 1];
    int64_t sb = (b->rank > 1 ? b->dims[b->rank - 2] : 1) * b->dims[b->rank - 1];
    for (int d = k->batch_rank - 1; d >= 0; d--) {
        int da = d - (k->batch_rank - ab), db = d - (k->batch_rank - bb);
        k->a_bstride[d] = da >= 0 && a->dims[da] != 1 ? sa : 0;
        k->b_bstride[d] = db >= 0 && b->dims[db] != 1 ? sb : 0;
        if (da >= 0)
            sa *= a->dims[da];
        if (db >= 0)
            sb *= b->dims[db];
    }
    k->use_blas = a->dtype == DT_F32 && k->m * k->n * k->k >= BLAS_MIN_FLOPS;
}

static int64_t
conv_scratch(const CgKernel *k, const Node *nd)
{
    const TensorType *x = &k->in[0].type, *w = &k->in[1].type, *y = &k->out[0].type;
    const ConvAttr *c = &nd->attr.conv;
    kiln_conv2d_params p = {
        .n = x->dims[0], .c = x->dims[1], .h = x->dims[2], .w = x->dims[3], .k = w->dims[0],
        .kh = w->dims[2], .kw = w->dims[3], .stride_h = c->stride[0], .stride_w = c->stride[1],
        .pad_top = c->pad[0], .pad_left = c->pad[1], .pad_bottom = c->pad[2],
        .pad_right = c->pad[3], .dil_h = c->dilation[0], .dil_w = c->dilation[1],
        .groups = c->groups, .oh = y->dims[2], .ow = y->dims[3],
    };
    return (int64_t)kiln_conv2d_scratch_bytes(&p);
}

/* Ops whose kernels are f32 only (runtime kernels or float math). */
static int
f32_only(Op op)
{
    switch (op) {
    case OP_CONV2D: case OP_SOFTMAX: case OP_LOG_SOFTMAX: case OP_LAYERNORM: case OP_RMSNORM:
    case OP_BATCHNORM: case OP_MAXPOOL: case OP_AVGPOOL: case OP_GLOBAL_AVGPOOL:
        return 1;
    default:
        return 0;
    }
}

/* 1 when every result of k has no elements: there is nothing to compute or write */
static int
results_empty(const CgKernel *k)
{
    for (int i = 0; i < k->nout; i++)
        if (k->out[i].numel > 0)
            return 0;
    return k->nout > 0;
}

static CgKernelKind
kind_of(const CgKernel *k, const Node *nd)
{
    if (nd->op != OP_EXIT_IF && results_empty(k))
        return CK_NONE;
    switch (nd->op) {
    case OP_CONST:
        return CK_NONE;
    case OP_EXIT_IF:
        return CK_EXIT;
    case OP_RESHAPE: case OP_FLATTEN:
        return same_buf(k->in[0].buf, k->out[0].buf) &&
               k->in[0].buf.offset == k->out[0].buf.offset ? CK_NONE : CK_COPY;
    case OP_CONV2D: case OP_MAXPOOL: case OP_AVGPOOL: case OP_GLOBAL_AVGPOOL:
    case OP_LAYERNORM: case OP_RMSNORM:
        return CK_CALL;
    case OP_SOFTMAX: case OP_LOG_SOFTMAX:
        return nd->attr.axis.axis == k->in[0].type.rank - 1 ? CK_CALL : CK_LOOP;
    case OP_MATMUL:
        return k->use_blas ? CK_CALL : CK_LOOP;
    default:
        return CK_LOOP;
    }
}

static int
check_supported(Lower *L, const Node *nd, const CgKernel *k)
{
    /* data movement, select, cast and exits copy quantized values as their integers;
     * ops that compute on them need the dequantized values (constants got them above) */
    int computes = (op_flags[nd->op] & (F_ELTWISE | F_QUANT)) || f32_only(nd->op) ||
                   op_attr[nd->op] == ATTR_REDUCE;
    for (int i = 0; i < k->nin && computes; i++) {
        const TensorType *t = &k->in[i].type;
        if (t->quant) {
            diag_error(L->d, nd->loc, "%s: quantized operand %d not supported by the C backend"
                       " (expected a dequantize first)", op_name[nd->op], i);
            return -1;
        }
    }
    if (f32_only(nd->op) && k->in[0].type.dtype != DT_F32) {
        diag_error(L->d, nd->loc, "%s: expected f32 operand for the C backend, got %s",
                   op_name[nd->op], ir_dtype_name(k->in[0].type.dtype));
        return -1;
    }
    if (nd->nepi && (op_flags[nd->op] & F_EPI_HOST) &&
        k->out[0].type.dtype != k->in[0].type.dtype) {
        diag_error(L->d, nd->loc, "%s: epilogue changing the result type to %s is not "
                   "supported by the C backend", op_name[nd->op],
                   ir_dtype_name(k->out[0].type.dtype));
        return -1;
    }
    return 0;
}

/* ------------------------------------------------------------------ exits */

/* 1: copy r reads the output buffer that copy w overwrites. */
static int
clobbers(const CgExitCopy *w, const CgExitCopy *r)
{
    return w != r && !w->skip && !r->skip && r->from.buf.kind == CG_BUF_OUTPUT &&
           r->from.buf.index == w->to;
}

/* Orders copies so that each one reading an output buffer runs before the copy that
 * overwrites it: repeatedly the first copy in output order whose target no pending copy
 * still reads (deterministic).  place_slots() broke every cycle, so one is always ready. */
static int
order_copies(Lower *L, SrcLoc loc, CgExitCopy *c, int n)
{
    CgExitCopy *tmp = malloc((size_t)(n ? n : 1) * sizeof *tmp);
    char *done = calloc((size_t)(n ? n : 1), 1);
    if (!tmp || !done)
        kiln_die("out of memory");
    int j = 0;
    while (j < n) {
        int pick = -1;
        for (int i = 0; i < n && pick < 0; i++) {
            int ready = !done[i];
            for (int k = 0; k < n && ready; k++)
                ready = done[k] || !clobbers(&c[i], &c[k]);
            if (ready)
                pick = i;
        }
        if (pick < 0)
            break;
        done[pick] = 1;
        tmp[j++] = c[pick];
    }
    if (j == n)
        memcpy(c, tmp, (size_t)n * sizeof *c);
    free(tmp);
    free(done);
    if (j < n) {
        diag_error(L->d, loc, "returned values that swap output buffers were not given a "
                   "slot of their own (codegen bug)");
        return -1;
    }
    return 0;
}

static CgExitCopy *
copies(Lower *L, const ValueId *vals, int n, SrcLoc loc)
{
    CgExitCopy *c = arena_alloc(L->m->arena, (size_t)(n ? n : 1) * sizeof *c);
    for (int i = 0; i < n; i++) {
        c[i].to = i;
        c[i].from = operand(L, vals[i]);
        c[i].skip = c[i].from.buf.kind == CG_BUF_OUTPUT && c[i].from.buf.index == i &&
                    c[i].from.buf.offset == 0;
    }
    if (order_copies(L, loc, c, n) < 0)
        return NULL;
    return c;
}

static int
exit_lower(Lower *L, CgKernel *k, const Node *nd)
{
    if (nd->nin - 1 != L->g->noutput) {
        diag_error(L->d, nd->loc, "exit_if: expected %d returned values, got %d",
                   L->g->noutput, nd->nin - 1);
        return -1;
    }
    k->exit_index = nd->attr.exit.index;
    k->ncopy = nd->nin - 1;
    k->copy = copies(L, nd->in + 1, k->ncopy, nd->loc);
    return k->copy ? 0 : -1;
}

/* Output buffer the kernels leave value v in (results(), place_result(): views with no
 * offset alias their operand), -1 for any other buffer. */
static int
home_output(const Lower *L, ValueId v)
{
    const Graph *g = L->g;
    for (;;) {
        if (L->out_of[v] >= 0)
            return L->slot_of[L->out_of[v]] >= 0 ? -1 : L->out_of[v];
        const Value *val = &g->values[v];
        if (!val->def)
            return -1;
        const Node *nd = &g->nodes[val->def];
        if (nd->op == OP_CONST || !(op_flags[nd->op] & F_VIEW) || val->offset >= 0)
            return -1;
        v = nd->in[0];
    }
}

/* Gives output s's main-path values an exit slot (64-byte aligned, after the plan). */
static void
add_slot(Lower *L, int s)
{
    const Value *val = &L->g->values[L->g->outputs[s].value];
    int64_t bytes = numel_of(&val->type) * (int64_t)ir_dtype_size(val->type.dtype);
    int64_t at = (L->m->planned_bytes + L->slot_bytes + 63) & ~(int64_t)63;
    L->slot_of[s] = at;
    L->slot_bytes = at + ((bytes + 63) & ~(int64_t)63) - L->m->planned_bytes;
}

/* Smallest output in a cycle of copies vals[i] -> output i, each reading the output buffer
 * the next one writes; -1 when there is none.  src and mark have n entries. */
static int
find_cycle(const Lower *L, const ValueId *vals, int n, int *src, int *mark)
{
    for (int i = 0; i < n; i++) {
        src[i] = home_output(L, vals[i]);
        mark[i] = -1;
    }
    for (int i = 0; i < n; i++) {
        int c = i;
        /* follow "must run before the copy into src[c]" while that copy copies */
        while (c >= 0 && mark[c] < 0) {
            mark[c] = i;
            int s = src[c];
            c = s >= 0 && s != c && src[s] != s ? s : -1;
        }
        if (c < 0 || mark[c] != i)
            continue;        /* ended, or joined a walk already known to end */
        int low = c;
        for (int k = src[c]; k != c; k = src[k])
            low = k < low ? k : low;
        return low;
    }
    return -1;
}

/* Breaks every cycle among the copies of each exit and of the main path's end by moving
 * one output's values into an exit slot (which also drops every edge reading it). */
static void
place_slots(Lower *L)
{
    Graph *g = L->g;
    int n = g->noutput;
    int *src = malloc((size_t)(n + 1) * sizeof *src);
    int *mark = malloc((size_t)(n + 1) * sizeof *mark);
    ValueId *vals = malloc((size_t)(n + 1) * sizeof *vals);
    if (!src || !mark || !vals)
        kiln_die("out of memory");
    for (uint32_t i = 0; i <= g->norder; i++) {
        const Node *nd = i < g->norder ? &g->nodes[g->order[i]] : NULL;
        if (nd && (nd->op != OP_EXIT_IF || nd->nin - 1 != n))
            continue;        /* exit_lower() reports a wrong count */
        for (int k = 0; k < n; k++)
            vals[k] = nd ? nd->in[k + 1] : g->outputs[k].value;
        int s;
        while ((s = find_cycle(L, vals, n, src, mark)) >= 0)
            add_slot(L, s);
    }
    free(src);
    free(mark);
    free(vals);
}

/* ------------------------------------------------------------------ kernels */

static int
results(Lower *L, CgKernel *k, const Node *nd)
{
    for (int i = 0; i < nd->nout; i++) {
        ValueId v = nd->out[i];
        if (nd->op == OP_CONST)
            ;   /* placed by consts() */
        else if ((op_flags[nd->op] & F_VIEW) && L->out_of[v] < 0 &&
                 L->g->values[v].offset < 0)
            L->loc[v] = L->loc[nd->in[0]];
        else if (place_result(L, nd, v) < 0)
            return -1;
        k->out[i] = operand(L, v);
    }
    return 0;
}

static int
lower_node(Lower *L, CgKernel *k, NodeId n)
{
    const Node *nd = &L->g->nodes[n];
    k->node = n;
    k->op = nd->op;
    k->scratch_offset = -1;
    k->nin = nd->nin;
    k->nnative = native_nin(nd);
    k->in = arena_alloc(L->m->arena, (size_t)(nd->nin + 1) * sizeof *k->in);
    for (int i = 0; i < nd->nin; i++) {
        k->in[i] = operand(L, nd->in[i]);
        dequant_operand(L, nd, &k->in[i]);
    }
    if (nd->op == OP_EXIT_IF) {
        k->kind = CK_EXIT;
        return exit_lower(L, k, nd);
    }
    k->nout = nd->nout;
    k->out = arena_alloc(L->m->arena, (size_t)(nd->nout + 1) * sizeof *k->out);
    if (results(L, k, nd) < 0 || check_supported(L, nd, k) < 0)
        return -1;
    for (int i = 0; i < k->nin; i++) {
        if (k->out[0].type.rank >= k->in[i].type.rank)
            bstrides(&k->in[i].type, &k->out[0].type, k->in[i].bstride);
        for (int j = 0; j < k->nout; j++)
            k->alias |= overlaps(&k->in[i], &k->out[j]);
    }
    if (nd->op == OP_MATMUL)
        matmul_lower(k, nd);
    if (nd->op == OP_CONV2D) {
        k->scratch_bytes = conv_scratch(k, nd);
        if (k->scratch_bytes > 0)
            k->scratch_offset = L->m->planned_bytes + L->slot_bytes;
    }
    k->kind = kind_of(k, nd);
    int err;
    k->loop = cg_loop_build(L->m, k, L->d, &err);
    return err ? -1 : 0;
}

static int
outputs_map(Lower *L)
{
    Graph *g = L->g;
    for (int i = 0; i < g->noutput; i++) {
        ValueId v = g->outputs[i].value;
        const Value *val = &g->values[v];
        int is_const = val->def && g->nodes[val->def].op == OP_CONST;
        if (L->out_of[v] < 0 && val->def && !is_const)
            L->out_of[v] = i;
        /* memplan leaves the root of a view chain ending in an output out of the arena:
         * the root is written into the output buffer and the views alias it */
        while (val->def && (op_flags[g->nodes[val->def].op] & F_VIEW)) {
            v = g->nodes[val->def].in[0];
            val = &g->values[v];
            is_const = val->def && g->nodes[val->def].op == OP_CONST;
            if (L->out_of[v] < 0 && val->def && !is_const && val->offset < 0)
                L->out_of[v] = i;
        }
    }
    return 0;
}

static int
kernels(Lower *L)
{
    CgModule *m = L->m;
    Graph *g = L->g;
    m->kernel = arena_alloc(m->arena, (size_t)(g->norder + 1) * sizeof *m->kernel);
    int64_t scratch = 0;
    for (uint32_t i = 0; i < g->norder; i++) {
        CgKernel *k = &m->kernel[m->nkernel];
        if (lower_node(L, k, g->order[i]) < 0)
            return -1;
        k->index = m->nkernel++;
        if (k->scratch_bytes > scratch)
            scratch = k->scratch_bytes;
    }
    m->arena_bytes = m->planned_bytes + L->slot_bytes + ((scratch + 63) & ~(int64_t)63);
    for (int i = 0; i < m->nkernel; i++)
        for (int j = 0; j < m->kernel[i].nin; j++)
            if (m->kernel[i].in[j].buf.kind == CG_BUF_CONST && m->kernel[i].kind != CK_NONE)
                m->consts[m->kernel[i].in[j].buf.index].used = 1;
    ValueId *vals = arena_alloc(m->arena, (size_t)(g->noutput + 1) * sizeof *vals);
    for (int i = 0; i < g->noutput; i++)
        vals[i] = g->outputs[i].value;
    m->nfinal = g->noutput;
    m->final = copies(L, vals, g->noutput, (SrcLoc){ 0 });
    if (!m->final)
        return -1;
    for (int i = 0; i < m->nfinal; i++)
        if (m->final[i].from.buf.kind == CG_BUF_CONST)
            m->consts[m->final[i].from.buf.index].used = 1;
    /* the weights file holds the constants something reads, each 64-byte aligned */
    m->weights_bytes = 0;
    for (int i = 0; i < m->nconst; i++) {
        CgConst *c = &m->consts[i];
        c->file_offset = c->used ? (m->weights_bytes + 63) & ~(int64_t)63 : -1;
        if (c->used)
            m->weights_bytes = c->file_offset + c->bytes;
    }
    return 0;
}

static int
check_graph(Lower *L)
{
    Graph *g = L->g;
    if (!g->planned) {
        diag_error(L->d, (SrcLoc){ 0 }, "graph '%s' is not memory-planned (run memplan "
                   "before codegen)", g->name);
        return -1;
    }
    for (uint32_t i = 0; i < g->norder; i++) {
        const Node *nd = &g->nodes[g->order[i]];
        for (int k = 0; k < nd->nout; k++)
            if (g->values[nd->out[k]].type.dtype == DT_NONE) {
                diag_error(L->d, nd->loc, "%s: result type not inferred (run shape-infer "
                           "before codegen)", op_name[nd->op]);
                return -1;
            }
    }
    return 0;
}

CgModule *
cg_lower(Graph *g, const CgOptions *o, Diag *d)
{
    CgModule *m = calloc(1, sizeof *m);
    if (!m)
        kiln_die("out of memory");
    m->g = g;
    m->arena = arena_new();
    m->opt = o ? *o : (CgOptions){ 0 };
    m->prefix = cg_ident(m->arena, m->opt.prefix ? m->opt.prefix : g->name);
    m->upper = upper(m->arena, m->prefix);
    m->planned_bytes = g->arena_bytes;
    Lower L = { .m = m, .g = g, .d = d };
    L.loc = arena_alloc(m->arena, (size_t)g->nvalue * sizeof *L.loc);
    L.out_of = arena_alloc(m->arena, (size_t)g->nvalue * sizeof *L.out_of);
    L.deq_of = arena_alloc(m->arena, (size_t)g->nvalue * sizeof *L.deq_of);
    L.slot_of = arena_alloc(m->arena, (size_t)(g->noutput + 1) * sizeof *L.slot_of);
    for (int i = 0; i < g->noutput; i++)
        L.slot_of[i] = -1;
    for (uint32_t v = 0; v < g->nvalue; v++)
        L.out_of[v] = L.deq_of[v] = -1;
    if (check_graph(&L) < 0)
        goto fail;
    ports(&L);
    for (int i = 0; i < g->ninput; i++)
        L.loc[g->inputs[i]] = (CgBuf){ CG_BUF_INPUT, i, 0 };
    consts(&L);
    if (outputs_map(&L) < 0)
        goto fail;
    place_slots(&L);
    if (kernels(&L) < 0)
        goto fail;
    hash_module(m);
    return m;
fail:
    cg_module_free(m);
    return NULL;
}

void
cg_module_free(CgModule *m)
{
    if (!m)
        return;
    arena_free(m->arena);
    free(m);
}
