/* tests/unit/test_infer.c — per-op shape and type rules (ir/infer.c): each op on a
 * hand-computed case, attribute normalisation, and the main error messages. */
#include <CUnit/Basic.h>
#include "cu_run.h"
#include <string.h>
#include "ir.h"
#include "ir_fixture.h"

static const SrcLoc at = { "model.kiln", 7, 3 };

/* A graph input of the given type. */
static ValueId
in(DType dt, int rank, const int64_t *dims)
{
    char name[16];
    TensorType t = ir_type_make(dt, rank, dims);
    snprintf(name, sizeof name, "x%u", g->nvalue);
    return ir_graph_add_input(g, name, &t);
}

#define IN(dt, ...) in(dt, (int)(sizeof((int64_t[]){ __VA_ARGS__ }) / sizeof(int64_t)), \
                       (int64_t[]){ __VA_ARGS__ })
#define SCALAR(dt) in(dt, 0, NULL)

static NodeId
node(Op op, int nin, const ValueId *ins, const Attr *a)
{
    int nout = op == OP_SPLIT ? a->split.n : op_nout[op];
    NodeId n = ir_node_new(g, op, nin, ins, nout, at);
    if (a)
        ir_node(g, n)->attr = *a;
    return n;
}

static const char *
tstr(ValueId v)
{
    static char buf[4][200];
    static int k;
    k = (k + 1) % 4;
    return ir_type_str(&ir_value(g, v)->type, buf[k], sizeof buf[k]);
}

/* Infers n and returns the type string of result i ("" on failure). */
static const char *
ok_type(NodeId n, int i)
{
    int r = ir_infer_node(g, n, &d);
    CU_ASSERT_EQUAL(r, 0);
    if (r < 0) {
        fprintf(stderr, "\nunexpected error: %s\n", d.nmsg ? d.msg[d.nmsg - 1].msg : "?");
        return "";
    }
    return tstr(ir_node_out(g, n, i));
}

/* Inference of n fails with exactly `msg` at the node's location. */
static void
expect_err(NodeId n, const char *msg)
{
    int before = d.nerror;
    CU_ASSERT_EQUAL(ir_infer_node(g, n, &d), -1);
    CU_ASSERT_EQUAL_FATAL(d.nerror, before + 1);
    CU_ASSERT_STRING_EQUAL(d.msg[d.nmsg - 1].msg, msg);
    if (strcmp(d.msg[d.nmsg - 1].msg, msg) != 0)
        fprintf(stderr, "\n  got:  %s\n  want: %s\n", d.msg[d.nmsg - 1].msg, msg);
    CU_ASSERT_EQUAL(d.msg[d.nmsg - 1].loc.line, 7);
    CU_ASSERT_EQUAL(d.msg[d.nmsg - 1].loc.col, 3);
}

#define OPS(...) (int)(sizeof((ValueId[]){ __VA_ARGS__ }) / sizeof(ValueId)), \
                 (ValueId[]){ __VA_ARGS__ }

/* ------------------------------------------------------------------ tests */

static void
test_broadcast(void)
{
    TensorType a = ir_type_make(DT_F32, 3, (int64_t[]){ 2, 1, 4 });
    TensorType b = ir_type_make(DT_F32, 2, (int64_t[]){ 3, 1 });
    TensorType c = ir_type_make(DT_F32, 1, (int64_t[]){ 5 });
    TensorType o;
    CU_ASSERT_EQUAL(ir_broadcast(&a, &b, &o), 0);
    CU_ASSERT_EQUAL(o.rank, 3);
    CU_ASSERT_EQUAL(o.dims[0], 2);
    CU_ASSERT_EQUAL(o.dims[1], 3);
    CU_ASSERT_EQUAL(o.dims[2], 4);
    CU_ASSERT_EQUAL(ir_broadcast(&a, &c, &o), -1);
    TensorType s = ir_type_make(DT_F32, 0, NULL);
    CU_ASSERT_EQUAL(ir_broadcast(&s, &c, &o), 0);
    CU_ASSERT_EQUAL(o.rank, 1);
    CU_ASSERT_EQUAL(o.dims[0], 5);
}

static void
test_matmul(void)
{
    Attr tb = { .matmul = { 0, 1 } }, none = { .matmul = { 0, 0 } }, ta = { .matmul = { 1, 0 } };
    ValueId x = IN(DT_F32, 1, 64), w = IN(DT_F32, 32, 64);
    CU_ASSERT_STRING_EQUAL(ok_type(node(OP_MATMUL, OPS(x, w), &tb), 0), "f32[1,32]");
    expect_err(node(OP_MATMUL, OPS(x, w), &none),
               "matmul: inner dims differ: f32[1,64] @ f32[32,64] (trans_b = 0)");
    /* batched: [2,1,3,4] @ [5,4,6] broadcasts to [2,5] batches */
    ValueId a4 = IN(DT_F32, 2, 1, 3, 4), b3 = IN(DT_F32, 5, 4, 6);
    CU_ASSERT_STRING_EQUAL(ok_type(node(OP_MATMUL, OPS(a4, b3), &none), 0), "f32[2,5,3,6]");
    ValueId b3bad = IN(DT_F32, 3, 4, 6);
    ValueId a3 = IN(DT_F32, 2, 3, 4);
    expect_err(node(OP_MATMUL, OPS(a3, b3bad), &none),
               "matmul: cannot broadcast batch dims of f32[2,3,4] and f32[3,4,6]");
    /* 1-D operands: numpy promotes and then drops the unit dim */
    ValueId v4 = IN(DT_F32, 4), m43 = IN(DT_F32, 4, 3);
    CU_ASSERT_STRING_EQUAL(ok_type(node(OP_MATMUL, OPS(v4, m43), &none), 0), "f32[3]");
    ValueId a234 = IN(DT_F32, 2, 3, 4);
    CU_ASSERT_STRING_EQUAL(ok_type(node(OP_MATMUL, OPS(a234, v4), &none), 0), "f32[2,3]");
    CU_ASSERT_STRING_EQUAL(ok_type(node(OP_MATMUL, OPS(v4, v4), &none), 0), "f32[]");
    /* trans_a: [4,3]^T @ [4,5] */
    ValueId m45 = IN(DT_F32, 4, 5);
    CU_ASSERT_STRING_EQUAL(ok_type(node(OP_MATMUL, OPS(m43, m45), &ta), 0), "f32[3,5]");
    ValueId s = SCALAR(DT_F32);
    expect_err(node(OP_MATMUL, OPS(s, v4), &none),
               "matmul: expected operands of rank >= 1, got f32[] @ f32[4]");
    ValueId xi = IN(DT_I32, 1, 4);
    expect_err(node(OP_MATMUL, OPS(xi, m45), &none), "matmul: operand 0: expected f32, got i32");
}

static Attr
conv(int stride, int pad, int dil, int groups)
{
    Attr a = { .conv = { { stride, stride }, { pad, pad, pad, pad }, { dil, dil }, groups } };
    return a;
}

static void
test_conv2d(void)
{
    ValueId x = IN(DT_F32, 1, 3, 32, 32), w = IN(DT_F32, 16, 3, 3, 3), b = IN(DT_F32, 16);
    Attr s2p1 = conv(2, 1, 1, 1), d2 = conv(1, 0, 2, 1);
    /* (32 + 2 - 2 - 1) / 2 + 1 = 16 */
    CU_ASSERT_STRING_EQUAL(ok_type(node(OP_CONV2D, OPS(x, w, b), &s2p1), 0), "f32[1,16,16,16]");
    /* dilation 2: effective kernel 5, 32 - 5 + 1 = 28 */
    CU_ASSERT_STRING_EQUAL(ok_type(node(OP_CONV2D, OPS(x, w), &d2), 0), "f32[1,16,28,28]");
    /* depthwise */
    ValueId xd = IN(DT_F32, 2, 8, 10, 10), wd = IN(DT_F32, 8, 1, 3, 3);
    Attr dw = conv(1, 0, 1, 8);
    CU_ASSERT_STRING_EQUAL(ok_type(node(OP_CONV2D, OPS(xd, wd), &dw), 0), "f32[2,8,8,8]");
    /* asymmetric padding and stride per dim: H (5+1+0-3)/2+1 = 2, W (6+0+2-2)/1+1 = 7 */
    ValueId xa = IN(DT_F32, 1, 1, 5, 6), wa = IN(DT_F32, 4, 1, 3, 2);
    Attr as = { .conv = { { 2, 1 }, { 1, 0, 0, 2 }, { 1, 1 }, 1 } };
    CU_ASSERT_STRING_EQUAL(ok_type(node(OP_CONV2D, OPS(xa, wa), &as), 0), "f32[1,4,2,7]");

    ValueId x3 = IN(DT_F32, 3, 32, 32);
    expect_err(node(OP_CONV2D, OPS(x3, w), &s2p1), "conv2d: expected 4-D input, got rank 3");
    ValueId w4 = IN(DT_F32, 16, 4, 3, 3);
    expect_err(node(OP_CONV2D, OPS(x, w4), &s2p1),
               "conv2d: weight f32[16,4,3,3] expects 4 input channels per group, input "
               "f32[1,3,32,32] has 3 (groups = 1)");
    Attr g2 = conv(1, 0, 1, 2);
    expect_err(node(OP_CONV2D, OPS(x, w), &g2),
               "conv2d: groups 2 does not divide 3 input channels");
    ValueId bb = IN(DT_F32, 8);
    expect_err(node(OP_CONV2D, OPS(x, w, bb), &s2p1), "conv2d: bias must be f32[16], got f32[8]");
    ValueId tiny = IN(DT_F32, 1, 3, 2, 2);
    Attr p0 = conv(1, 0, 1, 1);
    expect_err(node(OP_CONV2D, OPS(tiny, w), &p0),
               "conv2d: kernel 3x3 (dilation 1x1) does not fit input f32[1,3,2,2] with "
               "padding [0,0,0,0]");
    Attr s0 = conv(0, 0, 1, 1);
    expect_err(node(OP_CONV2D, OPS(x, w), &s0), "conv2d: stride must be >= 1, got 0");
}

static void
test_pools(void)
{
    ValueId x = IN(DT_F32, 1, 2, 7, 7);
    Attr k3 = { .pool = { { 3, 3 }, { 2, 2 }, { 1, 1, 1, 1 }, 0 } };
    Attr k2 = { .pool = { { 2, 2 }, { 2, 2 }, { 0, 0, 0, 0 }, 0 } };
    /* (7 + 2 - 3) / 2 + 1 = 4;  floor((7 - 2) / 2) + 1 = 3 */
    CU_ASSERT_STRING_EQUAL(ok_type(node(OP_MAXPOOL, OPS(x), &k3), 0), "f32[1,2,4,4]");
    CU_ASSERT_STRING_EQUAL(ok_type(node(OP_AVGPOOL, OPS(x), &k2), 0), "f32[1,2,3,3]");
    CU_ASSERT_STRING_EQUAL(ok_type(node(OP_GLOBAL_AVGPOOL, OPS(x), NULL), 0), "f32[1,2,1,1]");
    Attr bad = { .pool = { { 2, 2 }, { 1, 1 }, { 2, 0, 0, 0 }, 0 } };
    expect_err(node(OP_MAXPOOL, OPS(x), &bad),
               "maxpool: padding 2 must be smaller than the kernel 2");
    ValueId x3 = IN(DT_F32, 2, 7, 7);
    expect_err(node(OP_AVGPOOL, OPS(x3), &k2), "avgpool: expected 4-D input, got rank 3");
}

static void
test_binary(void)
{
    ValueId a = IN(DT_F32, 2, 3), b = IN(DT_F32, 3), c = IN(DT_F32, 4);
    CU_ASSERT_STRING_EQUAL(ok_type(node(OP_ADD, OPS(a, b), NULL), 0), "f32[2,3]");
    ValueId p = IN(DT_F32, 2, 1, 4), q = IN(DT_F32, 3, 1);
    CU_ASSERT_STRING_EQUAL(ok_type(node(OP_MUL, OPS(p, q), NULL), 0), "f32[2,3,4]");
    CU_ASSERT_STRING_EQUAL(ok_type(node(OP_LESS, OPS(a, b), NULL), 0), "bool[2,3]");
    CU_ASSERT_STRING_EQUAL(ok_type(node(OP_GREATER, OPS(q, p), NULL), 0), "bool[2,3,4]");
    CU_ASSERT_STRING_EQUAL(ok_type(node(OP_SUB, OPS(b, a), NULL), 0), "f32[2,3]");
    ValueId s = SCALAR(DT_F32);
    CU_ASSERT_STRING_EQUAL(ok_type(node(OP_POW, OPS(s, a), NULL), 0), "f32[2,3]");
    expect_err(node(OP_ADD, OPS(a, c), NULL), "add: cannot broadcast f32[2,3] with f32[4]");
    ValueId i = IN(DT_I32, 3);
    expect_err(node(OP_SUB, OPS(a, i), NULL), "sub: operand types differ: f32[2,3] vs i32[3]");
    CU_ASSERT_STRING_EQUAL(ok_type(node(OP_DIV, OPS(i, i), NULL), 0), "i32[3]");
    CU_ASSERT_STRING_EQUAL(ok_type(node(OP_POW, OPS(i, i), NULL), 0), "i32[3]");
    ValueId u = IN(DT_U8, 3);
    expect_err(node(OP_POW, OPS(u, u), NULL), "pow: operand 0: expected f32, i32 or i64, got u8");
    CU_ASSERT_STRING_EQUAL(ok_type(node(OP_MOD, OPS(u, u), NULL), 0), "u8[3]");
    CU_ASSERT_STRING_EQUAL(ok_type(node(OP_FMOD, OPS(a, b), NULL), 0), "f32[2,3]");
    expect_err(node(OP_MOD, OPS(a, i), NULL), "mod: operand types differ: f32[2,3] vs i32[3]");
    ValueId bo = IN(DT_BOOL, 3);
    expect_err(node(OP_ADD, OPS(bo, bo), NULL),
               "add: operand 0: expected a numeric type, got bool");
    expect_err(node(OP_FMOD, OPS(bo, bo), NULL),
               "fmod: operand 0: expected a numeric type, got bool");
    CU_ASSERT_STRING_EQUAL(ok_type(node(OP_EQUAL, OPS(bo, bo), NULL), 0), "bool[3]");
}

static void
test_unary(void)
{
    ValueId x = IN(DT_F32, 2, 3), i = IN(DT_I8, 5);
    Attr lr = { .scalar = { 0.1f, 0 } };
    CU_ASSERT_STRING_EQUAL(ok_type(node(OP_RELU, OPS(x), NULL), 0), "f32[2,3]");
    CU_ASSERT_STRING_EQUAL(ok_type(node(OP_LEAKY_RELU, OPS(x), &lr), 0), "f32[2,3]");
    CU_ASSERT_STRING_EQUAL(ok_type(node(OP_NEG, OPS(i), NULL), 0), "i8[5]");
    CU_ASSERT_STRING_EQUAL(ok_type(node(OP_ABS, OPS(i), NULL), 0), "i8[5]");
    expect_err(node(OP_EXP, OPS(i), NULL), "exp: expected f32, got i8");
    expect_err(node(OP_GELU, OPS(i), NULL), "gelu: expected f32, got i8");
    /* every unary op keeps an f32 type; only neg and abs take integers */
    ValueId y = IN(DT_F32, 4, 1, 2), k = IN(DT_I32, 3);
    for (int o = OP_NONE + 1; o < OP_COUNT; o++) {
        if (!(op_flags[o] & F_ELTWISE) || (op_flags[o] & F_BINARY))
            continue;
        Attr a = { .scalar = { -1, 1 } };
        CU_ASSERT_STRING_EQUAL(ok_type(node((Op)o, OPS(y), &a), 0), "f32[4,1,2]");
        int r = ir_infer_node(g, node((Op)o, OPS(k), &a), &d);
        CU_ASSERT_EQUAL(r, (o == OP_NEG || o == OP_ABS) ? 0 : -1);
    }
}

static void
test_softmax_norms(void)
{
    ValueId x = IN(DT_F32, 2, 3, 4);
    Attr ax = { .axis = { -1 } };
    NodeId n = node(OP_SOFTMAX, OPS(x), &ax);
    CU_ASSERT_STRING_EQUAL(ok_type(n, 0), "f32[2,3,4]");
    CU_ASSERT_EQUAL(ir_node(g, n)->attr.axis.axis, 2);
    Attr a0 = { .axis = { -3 } };
    n = node(OP_LOG_SOFTMAX, OPS(x), &a0);
    CU_ASSERT_STRING_EQUAL(ok_type(n, 0), "f32[2,3,4]");
    CU_ASSERT_EQUAL(ir_node(g, n)->attr.axis.axis, 0);
    Attr a3 = { .axis = { 3 } };
    expect_err(node(OP_LOG_SOFTMAX, OPS(x), &a3), "log_softmax: axis 3 out of range for rank 3");

    ValueId g4 = IN(DT_F32, 4), b4 = IN(DT_F32, 4), g34 = IN(DT_F32, 3, 4);
    Attr ln = { .norm = { 1e-5f, -1 } }, ln1 = { .norm = { 1e-5f, 1 } };
    n = node(OP_LAYERNORM, OPS(x, g4, b4), &ln);
    CU_ASSERT_STRING_EQUAL(ok_type(n, 0), "f32[2,3,4]");
    CU_ASSERT_EQUAL(ir_node(g, n)->attr.norm.axis, 2);
    CU_ASSERT_STRING_EQUAL(ok_type(node(OP_LAYERNORM, OPS(x, g34), &ln1), 0), "f32[2,3,4]");
    CU_ASSERT_STRING_EQUAL(ok_type(node(OP_RMSNORM, OPS(x, g4), &ln), 0), "f32[2,3,4]");
    expect_err(node(OP_LAYERNORM, OPS(x, g4, g34), &ln),
               "layernorm: beta must be f32[4], got f32[3,4]");
    expect_err(node(OP_RMSNORM, OPS(x, g34), &ln), "rmsnorm: gamma must be f32[4], got f32[3,4]");

    ValueId y = IN(DT_F32, 1, 3, 2, 2), c3 = IN(DT_F32, 3);
    Attr bn = { .norm = { 1e-5f, 1 } };
    CU_ASSERT_STRING_EQUAL(ok_type(node(OP_BATCHNORM, OPS(y, c3, c3, c3, c3), &bn), 0),
                           "f32[1,3,2,2]");
    expect_err(node(OP_BATCHNORM, OPS(y, c3, c3, g4, c3), &bn),
               "batchnorm: mean must be f32[3], got f32[4]");
}

static void
test_reshape_flatten(void)
{
    ValueId x = IN(DT_I64, 2, 3, 4);
    Attr r = { .dims = { 2, { 0, -1 } } };
    NodeId n = node(OP_RESHAPE, OPS(x), &r);
    CU_ASSERT_STRING_EQUAL(ok_type(n, 0), "i64[2,12]");
    CU_ASSERT_EQUAL(ir_node(g, n)->attr.dims.v[0], 2);      /* resolved in place */
    CU_ASSERT_EQUAL(ir_node(g, n)->attr.dims.v[1], 12);
    CU_ASSERT_STRING_EQUAL(ok_type(n, 0), "i64[2,12]");     /* a fixed point */
    Attr all = { .dims = { 1, { -1 } } };
    CU_ASSERT_STRING_EQUAL(ok_type(node(OP_RESHAPE, OPS(x), &all), 0), "i64[24]");
    Attr bad = { .dims = { 2, { 5, -1 } } };
    expect_err(node(OP_RESHAPE, OPS(x), &bad),
               "reshape: cannot reshape i64[2,3,4] (24 elements) to [5,-1]");
    Attr two = { .dims = { 2, { -1, -1 } } };
    expect_err(node(OP_RESHAPE, OPS(x), &two), "reshape: more than one -1 in the target shape");

    ValueId y = IN(DT_F32, 2, 3, 4, 5);
    Attr f2 = { .axis = { 2 } }, f0 = { .axis = { 0 } }, fm = { .axis = { -1 } };
    CU_ASSERT_STRING_EQUAL(ok_type(node(OP_FLATTEN, OPS(y), &f2), 0), "f32[6,20]");
    CU_ASSERT_STRING_EQUAL(ok_type(node(OP_FLATTEN, OPS(y), &f0), 0), "f32[1,120]");
    n = node(OP_FLATTEN, OPS(y), &fm);
    CU_ASSERT_STRING_EQUAL(ok_type(n, 0), "f32[24,5]");
    CU_ASSERT_EQUAL(ir_node(g, n)->attr.axis.axis, 3);
}

static void
test_transpose_concat_split(void)
{
    ValueId x = IN(DT_F32, 2, 3, 4);
    Attr rev = { .dims = { 0, { 0 } } }, p = { .dims = { 3, { 1, 0, -1 } } };
    NodeId n = node(OP_TRANSPOSE, OPS(x), &rev);
    CU_ASSERT_STRING_EQUAL(ok_type(n, 0), "f32[4,3,2]");
    CU_ASSERT_EQUAL(ir_node(g, n)->attr.dims.rank, 3);      /* default filled in */
    CU_ASSERT_EQUAL(ir_node(g, n)->attr.dims.v[0], 2);
    n = node(OP_TRANSPOSE, OPS(x), &p);
    CU_ASSERT_STRING_EQUAL(ok_type(n, 0), "f32[3,2,4]");
    CU_ASSERT_EQUAL(ir_node(g, n)->attr.dims.v[2], 2);
    Attr bad = { .dims = { 3, { 0, 0, 1 } } };
    expect_err(node(OP_TRANSPOSE, OPS(x), &bad), "transpose: perm is not a permutation of 0..2");

    ValueId a = IN(DT_F32, 2, 3), b = IN(DT_F32, 2, 5), c = IN(DT_F32, 3, 3);
    Attr last = { .axis = { -1 } };
    CU_ASSERT_STRING_EQUAL(ok_type(node(OP_CONCAT, OPS(a, b, a), &last), 0), "f32[2,11]");
    expect_err(node(OP_CONCAT, OPS(a, c), &last),
               "concat: operand 1 f32[3,3] does not match f32[2,3] outside axis 1");

    ValueId s = IN(DT_F32, 4, 6);
    Attr sp = { .split = { 1, 2, { 2, 4 } } }, eq = { .split = { -1, 3, { 0 } } };
    n = node(OP_SPLIT, OPS(s), &sp);
    CU_ASSERT_STRING_EQUAL(ok_type(n, 0), "f32[4,2]");
    CU_ASSERT_STRING_EQUAL(tstr(ir_node_out(g, n, 1)), "f32[4,4]");
    n = node(OP_SPLIT, OPS(s), &eq);
    CU_ASSERT_STRING_EQUAL(ok_type(n, 2), "f32[4,2]");
    CU_ASSERT_EQUAL(ir_node(g, n)->attr.split.size[1], 2);
    CU_ASSERT_EQUAL(ir_node(g, n)->attr.split.axis, 1);
    Attr badsum = { .split = { 0, 2, { 1, 2 } } };
    expect_err(node(OP_SPLIT, OPS(s), &badsum),
               "split: sizes sum to 3, expected 4 (axis 0 of f32[4,6])");
}

static void
test_slice_pad_gather(void)
{
    ValueId x = IN(DT_F32, 10, 8);
    /* rank 1 given: dim 1 is full; dim 0: 2, 5, 8 (end -1 = 9) */
    Attr s = { .slice = { 1, { 2 }, { -1 }, { 3 } } };
    NodeId n = node(OP_SLICE, OPS(x), &s);
    CU_ASSERT_STRING_EQUAL(ok_type(n, 0), "f32[3,8]");
    const SliceAttr *sa = &ir_node(g, n)->attr.slice;
    CU_ASSERT_EQUAL(sa->rank, 2);
    CU_ASSERT_EQUAL(sa->end[0], 9);
    CU_ASSERT_EQUAL(sa->end[1], 8);
    CU_ASSERT_EQUAL(sa->step[1], 1);
    /* negative step to the front: 9, 7, 5, 3, 1 */
    Attr neg = { .slice = { 2, { -1, 100 }, { -100, -9 }, { -2, -3 } } };
    n = node(OP_SLICE, OPS(x), &neg);
    CU_ASSERT_STRING_EQUAL(ok_type(n, 0), "f32[5,3]");     /* dim 1: 7, 4, 1 */
    CU_ASSERT_EQUAL(ir_node(g, n)->attr.slice.start[0], 9);
    CU_ASSERT_STRING_EQUAL(ok_type(n, 0), "f32[5,3]");     /* normalised attr is a fixed point */
    Attr empty = { .slice = { 1, { 5 }, { 5 }, { 1 } } };
    CU_ASSERT_STRING_EQUAL(ok_type(node(OP_SLICE, OPS(x), &empty), 0), "f32[0,8]");
    Attr zero = { .slice = { 1, { 0 }, { 5 }, { 0 } } };
    expect_err(node(OP_SLICE, OPS(x), &zero), "slice: step must not be 0 (dim 0)");

    ValueId y = IN(DT_U8, 2, 3);
    Attr p = { .pad = { 2, { 1, 0 }, { 2, 1 }, 0 } };
    CU_ASSERT_STRING_EQUAL(ok_type(node(OP_PAD, OPS(y), &p), 0), "u8[5,4]");
    Attr p1 = { .pad = { 1, { 1 }, { 1 }, 0 } };
    expect_err(node(OP_PAD, OPS(y), &p1), "pad: pads cover 1 dims, operand has rank 2");

    ValueId data = IN(DT_F32, 5, 4, 3), idx = IN(DT_I64, 2, 2), fidx = IN(DT_F32, 2);
    Attr a1 = { .axis = { 1 } }, am = { .axis = { -3 } };
    CU_ASSERT_STRING_EQUAL(ok_type(node(OP_GATHER, OPS(data, idx), &a1), 0), "f32[5,2,2,3]");
    CU_ASSERT_STRING_EQUAL(ok_type(node(OP_GATHER, OPS(data, idx), &am), 0), "f32[2,2,4,3]");
    expect_err(node(OP_GATHER, OPS(data, fidx), &a1),
               "gather: operand 1: expected i32 or i64, got f32");
}

static void
test_reduce(void)
{
    ValueId x = IN(DT_F32, 2, 3, 4);
    Attr r = { .reduce = { 2, { -1, 0 }, 0 } };
    NodeId n = node(OP_REDUCE_SUM, OPS(x), &r);
    CU_ASSERT_STRING_EQUAL(ok_type(n, 0), "f32[3]");
    CU_ASSERT_EQUAL(ir_node(g, n)->attr.reduce.axes[0], 0);   /* normalised and sorted */
    CU_ASSERT_EQUAL(ir_node(g, n)->attr.reduce.axes[1], 2);
    Attr k = { .reduce = { 2, { 0, 2 }, 1 } };
    CU_ASSERT_STRING_EQUAL(ok_type(node(OP_REDUCE_MEAN, OPS(x), &k), 0), "f32[1,3,1]");
    Attr all = { .reduce = { 0, { 0 }, 0 } };
    n = node(OP_REDUCE_MAX, OPS(x), &all);
    CU_ASSERT_STRING_EQUAL(ok_type(n, 0), "f32[]");
    CU_ASSERT_EQUAL(ir_node(g, n)->attr.reduce.naxes, 3);
    Attr am = { .reduce = { 1, { 1 }, 0 } };
    CU_ASSERT_STRING_EQUAL(ok_type(node(OP_ARGMAX, OPS(x), &am), 0), "i64[2,4]");
    ValueId xi = IN(DT_I32, 2, 3);
    Attr a1 = { .reduce = { 1, { 1 }, 0 } };
    CU_ASSERT_STRING_EQUAL(ok_type(node(OP_REDUCE_MIN, OPS(xi), &a1), 0), "i32[2]");
    expect_err(node(OP_REDUCE_MEAN, OPS(xi), &a1), "reduce_mean: expected f32, got i32");
    Attr twice = { .reduce = { 2, { 1, -2 }, 0 } };
    expect_err(node(OP_REDUCE_SUM, OPS(x), &twice), "reduce_sum: axis 1 given twice");
    expect_err(node(OP_ARGMAX, OPS(x), &r), "argmax: expected exactly one axis, got 2");
}

static void
test_where_cast(void)
{
    ValueId c = IN(DT_BOOL, 2, 1), a = IN(DT_F32, 3), b = SCALAR(DT_F32), fc = IN(DT_F32, 2, 1);
    CU_ASSERT_STRING_EQUAL(ok_type(node(OP_WHERE, OPS(c, a, b), NULL), 0), "f32[2,3]");
    expect_err(node(OP_WHERE, OPS(fc, a, b), NULL), "where: operand 0: expected bool, got f32");
    Attr to = { .cast = { DT_I32 } };
    CU_ASSERT_STRING_EQUAL(ok_type(node(OP_CAST, OPS(a), &to), 0), "i32[3]");
}

static void
test_quant(void)
{
    ValueId x = IN(DT_F32, 2, 4);
    float sc[4] = { 0.5f, 0.25f, 1, 2 };
    int32_t zp[4] = { 0, 1, 2, 3 };
    Attr pt = { .quant = { { 8, 1, QG_TENSOR, 0, 0, 1, sc, zp } } };
    NodeId n = node(OP_QUANTIZE, OPS(x), &pt);
    CU_ASSERT_STRING_EQUAL(ok_type(n, 0), "i8[2,4]");
    const QuantParams *q = ir_value(g, ir_node_out(g, n, 0))->type.quant;
    CU_ASSERT_PTR_NOT_NULL_FATAL(q);
    CU_ASSERT_PTR_NOT_EQUAL(q->scale, sc);                 /* copied to the arena */
    CU_ASSERT_EQUAL(q->scale[0], 0.5f);
    CU_ASSERT_EQUAL(q->bits, 8);
    ValueId qv = ir_node_out(g, n, 0);
    CU_ASSERT_STRING_EQUAL(ok_type(node(OP_DEQUANTIZE, OPS(qv), NULL), 0), "f32[2,4]");
    expect_err(node(OP_RELU, OPS(qv), NULL), "relu: operand 0 is quantized; dequantize it first");

    Attr pa = { .quant = { { 4, 0, QG_AXIS, -1, 0, 4, sc, zp } } };
    n = node(OP_QUANTIZE, OPS(x), &pa);
    CU_ASSERT_STRING_EQUAL(ok_type(n, 0), "u8[2,4]");
    CU_ASSERT_EQUAL(ir_node(g, n)->attr.quant.q.axis, 1);
    Attr pg = { .quant = { { 8, 1, QG_GROUP, 1, 2, 2, sc, zp } } };
    CU_ASSERT_STRING_EQUAL(ok_type(node(OP_QUANTIZE, OPS(x), &pg), 0), "i8[2,4]");
    Attr bad = { .quant = { { 8, 1, QG_AXIS, 1, 0, 3, sc, zp } } };
    expect_err(node(OP_QUANTIZE, OPS(x), &bad), "quantize: expected 4 scales, got 3");
    int32_t zbig[1] = { 20 };
    Attr bz = { .quant = { { 4, 1, QG_TENSOR, 0, 0, 1, sc, zbig } } };
    expect_err(node(OP_QUANTIZE, OPS(x), &bz), "quantize: zero[0] = 20 outside [-8, 7]");
    expect_err(node(OP_DEQUANTIZE, OPS(x), NULL), "dequantize: operand is not quantized");
    /* quantized weights of a matmul are accepted */
    ValueId a = IN(DT_F32, 3, 2);
    Attr mm = { .matmul = { 0, 0 } };
    CU_ASSERT_STRING_EQUAL(ok_type(node(OP_MATMUL, OPS(a, qv), &mm), 0), "f32[3,4]");
}

static void
test_exit_if(void)
{
    ValueId c = IN(DT_BOOL, 1), f = IN(DT_F32, 1), y = IN(DT_F32, 2, 2), c2 = IN(DT_BOOL, 2);
    Attr e = { .exit = { 1 } };
    CU_ASSERT_EQUAL(ir_infer_node(g, node(OP_EXIT_IF, OPS(c, y), &e), &d), 0);
    expect_err(node(OP_EXIT_IF, OPS(f, y), &e),
               "exit_if: condition must be a bool with one element, got f32[1]");
    expect_err(node(OP_EXIT_IF, OPS(c2, y), &e),
               "exit_if: condition must be a bool with one element, got bool[2]");
}

static void
test_epilogue(void)
{
    ValueId x = IN(DT_F32, 1, 64), w = IN(DT_F32, 32, 64), b = IN(DT_F32, 32);
    ValueId r = IN(DT_F32, 1, 32), bad = IN(DT_F32, 5), wide = IN(DT_F32, 4, 32);
    Attr tb = { .matmul = { 0, 1 } };
    NodeId n = node(OP_MATMUL, OPS(x, w, b, r), &tb);
    Node *nd = ir_node(g, n);
    nd->nepi = 3;
    nd->epi = arena_alloc(g->arena, 3 * sizeof *nd->epi);
    nd->epi[0] = (EpiStep){ .op = OP_ADD, .arg = 2, .swap = 0 };
    nd->epi[1] = (EpiStep){ .op = OP_RELU, .arg = -1, .swap = 0 };
    nd->epi[2] = (EpiStep){ .op = OP_ADD, .arg = 3, .swap = 1 };
    CU_ASSERT_STRING_EQUAL(ok_type(n, 0), "f32[1,32]");
    /* operands 2 and 3 are epilogue-only: a 2-operand matmul plus two */
    n = node(OP_MATMUL, OPS(x, w, bad), &tb);
    nd = ir_node(g, n);
    nd->nepi = 1;
    nd->epi = arena_alloc(g->arena, sizeof *nd->epi);
    nd->epi[0] = (EpiStep){ .op = OP_ADD, .arg = 2, .swap = 0 };
    expect_err(n, "matmul: epilogue step 0 (add): cannot broadcast f32[5] to the result f32[1,32]");
    ir_node(g, n)->in[2] = wide;           /* would widen the result: not allowed */
    expect_err(n, "matmul: epilogue step 0 (add): cannot broadcast f32[4,32] to the result "
                  "f32[1,32]");
    ir_node(g, n)->epi[0].op = OP_LESS;
    expect_err(n, "matmul: epilogue step 0: less cannot be fused");
}

static void
test_const(void)
{
    float v[2] = { 1, 2 };
    TensorType t = ir_type_make(DT_F32, 1, (int64_t[]){ 2 });
    NodeId c = ir_const_new(g, &t, ir_storage_mem(g, v, sizeof v), at);
    CU_ASSERT_STRING_EQUAL(ok_type(c, 0), "f32[2]");        /* typed when made */
    TensorType none = { 0 };
    NodeId u = ir_const_new(g, &none, ir_storage_mem(g, v, sizeof v), at);
    expect_err(u, "const: constant has no type");
}

static void
test_operand_checks(void)
{
    ValueId a = IN(DT_F32, 2);
    NodeId n = node(OP_ADD, OPS(a), NULL);
    expect_err(n, "add: expected 2..2 operands, got 1");
    /* an operand whose producer was never inferred */
    NodeId r = node(OP_RELU, OPS(a), NULL);
    NodeId s = node(OP_SIGMOID, 1, (ValueId[]){ ir_node_out(g, r, 0) }, NULL);
    expect_err(s, "sigmoid: operand 0 has no type");
}

static CU_TestInfo infer_tests[] = {
    { "broadcast", test_broadcast },
    { "matmul", test_matmul },
    { "conv2d", test_conv2d },
    { "pools", test_pools },
    { "binary", test_binary },
    { "unary", test_unary },
    { "softmax and norms", test_softmax_norms },
    { "reshape and flatten", test_reshape_flatten },
    { "transpose concat split", test_transpose_concat_split },
    { "slice pad gather", test_slice_pad_gather },
    { "reductions", test_reduce },
    { "where and cast", test_where_cast },
    { "quantization", test_quant },
    { "exit_if", test_exit_if },
    { "epilogues", test_epilogue },
    { "const", test_const },
    { "operand checks", test_operand_checks },
    CU_TEST_INFO_NULL,
};

static CU_SuiteInfo suites[] = {
    { .pName = "shape inference", .pSetUpFunc = setup, .pTearDownFunc = teardown,
      .pTests = infer_tests },
    CU_SUITE_INFO_NULL,
};

int
main(void)
{
    return kiln_cu_run(suites);
}
