/* tests/unit/test_interp.c — the reference interpreter (ir/interp*.c): every op's values
 * against numbers computed by hand (or by an independent naive formula in the test),
 * quantization round trips, exit_if, epilogues against the unfused ops, run-time errors. */
#include <CUnit/Basic.h>
#include "cu_run.h"
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "ir.h"
#include "ir_fixture.h"

static const SrcLoc at = { "model.kiln", 4, 9 };

#define SHAPE(...) (int)(sizeof((int64_t[]){ __VA_ARGS__ }) / sizeof(int64_t)), \
                   (int64_t[]){ __VA_ARGS__ }
#define SCALAR 0, NULL
#define F(...) (const double[]){ __VA_ARGS__ }
#define OPS(...) (int)(sizeof((ValueId[]){ __VA_ARGS__ }) / sizeof(ValueId)), \
                 (ValueId[]){ __VA_ARGS__ }

/* Element i of t as a double (the test's own reader). */
static double
get(const IrTensor *t, int64_t i)
{
    switch (t->type.dtype) {
    case DT_F32:  return ((const float *)t->data)[i];
    case DT_I32:  return ((const int32_t *)t->data)[i];
    case DT_I64:  return (double)((const int64_t *)t->data)[i];
    case DT_I8:   return ((const int8_t *)t->data)[i];
    case DT_U8:   return ((const uint8_t *)t->data)[i];
    case DT_BOOL: return ((const uint8_t *)t->data)[i];
    default:      return NAN;
    }
}

/* A constant of type dt holding vals (converted with C casts: the tests pass exact values). */
static ValueId
cst(DType dt, int rank, const int64_t *dims, const double *vals)
{
    TensorType t = ir_type_make(dt, rank, dims);
    int64_t n, bytes;
    ir_type_numel(&t, &n);
    ir_type_bytes(&t, &bytes);
    unsigned char *buf = calloc(1, (size_t)bytes + 1);
    for (int64_t i = 0; i < n; i++) {
        switch (dt) {
        case DT_F32:  ((float *)buf)[i] = (float)vals[i]; break;
        case DT_I32:  ((int32_t *)buf)[i] = (int32_t)vals[i]; break;
        case DT_I64:  ((int64_t *)buf)[i] = (int64_t)vals[i]; break;
        case DT_I8:   ((int8_t *)buf)[i] = (int8_t)vals[i]; break;
        case DT_U8:   ((uint8_t *)buf)[i] = (uint8_t)vals[i]; break;
        case DT_BOOL: buf[i] = vals[i] != 0; break;
        default: break;
        }
    }
    NodeId c = ir_const_new(g, &t, ir_storage_mem(g, buf, (size_t)bytes), at);
    free(buf);
    return ir_node_out(g, c, 0);
}

static ValueId
cf(int rank, const int64_t *dims, const double *vals)
{
    return cst(DT_F32, rank, dims, vals);
}

/* A node of op on ins with attribute a (NULL: none), shape-inferred; its first result. */
static ValueId
op(Op o, int nin, const ValueId *ins, const Attr *a)
{
    NodeId n = ir_node_new(g, o, nin, ins, o == OP_SPLIT ? a->split.n : op_nout[o], at);
    if (a)
        ir_node(g, n)->attr = *a;
    int r = ir_infer_node(g, n, &d);
    CU_ASSERT_EQUAL_FATAL(r, 0);
    return ir_node_out(g, n, 0);
}

/* Runs g with v as its only output (no inputs); the caller frees *out. */
static int
run(ValueId v, IrTensor *out)
{
    int exit_taken = -1;
    g->noutput = 0;
    ir_graph_add_output(g, "out", v);
    int r = ir_interp_run(g, NULL, out, &exit_taken, &d);
    if (r == 0)
        CU_ASSERT_EQUAL(exit_taken, 0);
    return r;
}

/* v evaluates to want[0..n) within tol (absolute + relative). */
static void
expect(ValueId v, int64_t n, const double *want, double tol)
{
    IrTensor t;
    CU_ASSERT_EQUAL_FATAL(run(v, &t), 0);
    int64_t got_n;
    ir_type_numel(&t.type, &got_n);
    CU_ASSERT_EQUAL(got_n, n);
    for (int64_t i = 0; i < n && i < got_n; i++) {
        double x = get(&t, i);
        int ok = fabs(x - want[i]) <= tol * (1 + fabs(want[i])) ||
                 (isnan(x) && isnan(want[i]));
        CU_ASSERT_TRUE(ok);
        if (!ok)
            fprintf(stderr, "\n  [%lld]: got %.9g, want %.9g\n", (long long)i, x, want[i]);
    }
    ir_tensor_free(&t);
}

#define EXPECT(v, tol, ...) expect(v, (int64_t)(sizeof(F(__VA_ARGS__)) / sizeof(double)), \
                                   F(__VA_ARGS__), tol)
#define NOATTR { .scalar = { 0, 0 } }
#define EXACT 0.0
#define TOL 1e-6

static uint64_t rng = 88172645463325252u;

static double
rnd(void)                                  /* uniform in [-1, 1) */
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return (double)(rng >> 11) / (double)(1ull << 53) * 2 - 1;
}

static double *
rnd_vals(int64_t n)
{
    double *v = malloc((size_t)n * sizeof *v);
    for (int64_t i = 0; i < n; i++)
        v[i] = (float)rnd();               /* exactly representable in f32 */
    return v;
}

/* ------------------------------------------------------------------ matmul, conv */

static void
test_matmul(void)
{
    Attr none = { .matmul = { 0, 0 } }, tb = { .matmul = { 0, 1 } }, ta = { .matmul = { 1, 0 } };
    ValueId a = cf(SHAPE(2, 3), F(1, 2, 3, 4, 5, 6));
    ValueId b = cf(SHAPE(3, 2), F(7, 8, 9, 10, 11, 12));
    ValueId bt = cf(SHAPE(2, 3), F(7, 9, 11, 8, 10, 12));
    ValueId at_ = cf(SHAPE(3, 2), F(1, 4, 2, 5, 3, 6));
    EXPECT(op(OP_MATMUL, OPS(a, b), &none), EXACT, 58, 64, 139, 154);
    EXPECT(op(OP_MATMUL, OPS(a, bt), &tb), EXACT, 58, 64, 139, 154);
    EXPECT(op(OP_MATMUL, OPS(at_, b), &ta), EXACT, 58, 64, 139, 154);
    /* batched, b broadcast over the batch: rows [p, q] @ [[1,1],[0,1]] = [p, p+q] */
    ValueId a3 = cf(SHAPE(2, 2, 2), F(1, 2, 3, 4, 5, 6, 7, 8));
    ValueId u = cf(SHAPE(2, 2), F(1, 1, 0, 1));
    EXPECT(op(OP_MATMUL, OPS(a3, u), &none), EXACT, 1, 3, 3, 7, 5, 11, 7, 15);
    /* batched on the right: [2,2] @ [2,2,2] */
    EXPECT(op(OP_MATMUL, OPS(u, a3), &none), EXACT, 4, 6, 3, 4, 12, 14, 7, 8);
    /* 1-D operands */
    ValueId v = cf(SHAPE(3), F(1, 2, 3)), w = cf(SHAPE(3, 2), F(1, 0, 0, 1, 1, 1));
    EXPECT(op(OP_MATMUL, OPS(v, w), &none), EXACT, 4, 5);
    EXPECT(op(OP_MATMUL, OPS(v, cf(SHAPE(3), F(4, 5, 6))), &none), EXACT, 32);
}

static void
test_matmul_64(void)
{
    enum { N = 64 };
    double *x = rnd_vals(N * N), *y = rnd_vals(N * N), want[N * N];
    for (int i = 0; i < N; i++)            /* naive reference: x @ y^T */
        for (int j = 0; j < N; j++) {
            double s = 0;
            for (int k = 0; k < N; k++)
                s += x[i * N + k] * y[j * N + k];
            want[i * N + j] = s;
        }
    Attr tb = { .matmul = { 0, 1 } };
    ValueId m = op(OP_MATMUL, OPS(cf(SHAPE(N, N), x), cf(SHAPE(N, N), y)), &tb);
    clock_t t0 = clock();
    expect(m, N * N, want, 1e-6);
    double secs = (double)(clock() - t0) / CLOCKS_PER_SEC;
    CU_ASSERT_TRUE(secs < 0.5);
    free(x);
    free(y);
}

/* Independent naive conv2d: NCHW, KCRS, one multiply-add per loop iteration. */
static void
naive_conv(const double *x, const int64_t *xd, const double *w, const int64_t *wd,
           const ConvAttr *c, const int64_t *od, double *out)
{
    int64_t kg = wd[0] / c->groups;
    for (int64_t n = 0; n < od[0]; n++)
    for (int64_t k = 0; k < od[1]; k++)
    for (int64_t oh = 0; oh < od[2]; oh++)
    for (int64_t ow = 0; ow < od[3]; ow++) {
        double s = 0;
        for (int64_t ch = 0; ch < wd[1]; ch++)
        for (int64_t r = 0; r < wd[2]; r++)
        for (int64_t q = 0; q < wd[3]; q++) {
            int64_t ih = oh * c->stride[0] + r * c->dilation[0] - c->pad[0];
            int64_t iw = ow * c->stride[1] + q * c->dilation[1] - c->pad[1];
            int64_t ci = (k / kg) * wd[1] + ch;
            if (ih >= 0 && ih < xd[2] && iw >= 0 && iw < xd[3])
                s += x[((n * xd[1] + ci) * xd[2] + ih) * xd[3] + iw] *
                     w[((k * wd[1] + ch) * wd[2] + r) * wd[3] + q];
        }
        out[((n * od[1] + k) * od[2] + oh) * od[3] + ow] = s;
    }
}

static void
test_conv2d(void)
{
    Attr plain = { .conv = { { 1, 1 }, { 0, 0, 0, 0 }, { 1, 1 }, 1 } };
    ValueId x = cf(SHAPE(1, 1, 3, 3), F(1, 2, 3, 4, 5, 6, 7, 8, 9));
    ValueId w = cf(SHAPE(1, 1, 2, 2), F(1, 0, 0, 1));      /* sum of a window's diagonal */
    EXPECT(op(OP_CONV2D, OPS(x, w), &plain), EXACT, 6, 8, 12, 14);
    EXPECT(op(OP_CONV2D, OPS(x, w, cf(SHAPE(1), F(10))), &plain), EXACT, 16, 18, 22, 24);
    /* stride 2, asymmetric padding, dilation 2, 2 groups against the naive conv */
    Attr c = { .conv = { { 2, 1 }, { 1, 0, 2, 1 }, { 2, 1 }, 2 } };
    int64_t xd[4] = { 2, 4, 7, 6 }, wd[4] = { 6, 2, 3, 2 };
    double *xv = rnd_vals(2 * 4 * 7 * 6), *wv = rnd_vals(6 * 2 * 3 * 2);
    ValueId y = op(OP_CONV2D, OPS(cf(4, xd, xv), cf(4, wd, wv)), &c);
    const TensorType *yt = &ir_value(g, y)->type;
    /* H: (7 + 1 + 2 - 2*2 - 1) / 2 + 1 = 3;  W: (6 + 0 + 1 - 1 - 1) / 1 + 1 = 6 */
    CU_ASSERT_EQUAL(yt->dims[2], 3);
    CU_ASSERT_EQUAL(yt->dims[3], 6);
    double want[2 * 6 * 3 * 6];
    naive_conv(xv, xd, wv, wd, &c.conv, yt->dims, want);
    expect(y, 2 * 6 * 3 * 6, want, 1e-6);
    free(xv);
    free(wv);
}

static void
test_pools(void)
{
    double v[16], nv[16];
    for (int i = 0; i < 16; i++)
        v[i] = i + 1, nv[i] = -(i + 1);
    ValueId x = cf(SHAPE(1, 1, 4, 4), v), xn = cf(SHAPE(1, 1, 4, 4), nv);
    Attr k2 = { .pool = { { 2, 2 }, { 2, 2 }, { 0, 0, 0, 0 }, 0 } };
    EXPECT(op(OP_MAXPOOL, OPS(x), &k2), EXACT, 6, 8, 14, 16);
    EXPECT(op(OP_AVGPOOL, OPS(x), &k2), EXACT, 3.5, 5.5, 11.5, 13.5);
    /* 3x3, stride 1, pad 1: corner (1+2+5+6)/4, edge (1+2+3+5+6+7)/6, centre 54/9 */
    Attr k3 = { .pool = { { 3, 3 }, { 1, 1 }, { 1, 1, 1, 1 }, 0 } };
    Attr k3c = { .pool = { { 3, 3 }, { 1, 1 }, { 1, 1, 1, 1 }, 1 } };
    EXPECT(op(OP_AVGPOOL, OPS(x), &k3), TOL, 3.5, 4, 5, 5.5, 5.5, 6, 7, 7.5, 9.5, 10, 11,
           11.5, 11.5, 12, 13, 13.5);
    EXPECT(op(OP_AVGPOOL, OPS(x), &k3c), TOL, 14 / 9.0, 24 / 9.0, 30 / 9.0, 22 / 9.0,
           33 / 9.0, 54 / 9.0, 63 / 9.0, 45 / 9.0, 57 / 9.0, 90 / 9.0, 99 / 9.0, 69 / 9.0,
           46 / 9.0, 72 / 9.0, 78 / 9.0, 54 / 9.0);
    /* maxpool pads with -inf: a corner window holding only x[0,0] gives -1, not 0 */
    Attr p1 = { .pool = { { 2, 2 }, { 3, 3 }, { 1, 1, 0, 0 }, 0 } };
    EXPECT(op(OP_MAXPOOL, OPS(xn), &p1), EXACT, -1, -3, -9, -11);
    EXPECT(op(OP_GLOBAL_AVGPOOL, OPS(x), NULL), EXACT, 8.5);
}

/* ------------------------------------------------------------------ elementwise */

static void
test_binary(void)
{
    ValueId a = cf(SHAPE(2, 3), F(1, 2, 3, 4, 5, 6)), b = cf(SHAPE(3), F(10, 20, 30));
    ValueId two = cf(SCALAR, F(2));
    EXPECT(op(OP_ADD, OPS(a, b), NULL), EXACT, 11, 22, 33, 14, 25, 36);
    EXPECT(op(OP_SUB, OPS(a, b), NULL), EXACT, -9, -18, -27, -6, -15, -24);
    EXPECT(op(OP_MUL, OPS(b, a), NULL), EXACT, 10, 40, 90, 40, 100, 180);
    EXPECT(op(OP_DIV, OPS(a, two), NULL), EXACT, 0.5, 1, 1.5, 2, 2.5, 3);
    EXPECT(op(OP_POW, OPS(a, two), NULL), EXACT, 1, 4, 9, 16, 25, 36);
    ValueId three = cf(SCALAR, F(3)), row = cf(SHAPE(3), F(4, 5, 6));
    EXPECT(op(OP_LESS, OPS(a, three), NULL), EXACT, 1, 1, 0, 0, 0, 0);
    EXPECT(op(OP_GREATER, OPS(a, three), NULL), EXACT, 0, 0, 0, 1, 1, 1);
    EXPECT(op(OP_EQUAL, OPS(a, row), NULL), EXACT, 0, 0, 0, 1, 1, 1);
    /* outer broadcast [2,1] x [3] */
    ValueId col = cf(SHAPE(2, 1), F(1, 2));
    EXPECT(op(OP_MUL, OPS(col, b), NULL), EXACT, 10, 20, 30, 20, 40, 60);
}

static void
test_int_arith(void)
{
    ValueId h = cst(DT_I8, SHAPE(2), F(100, -100)), m = cst(DT_I8, SHAPE(2), F(100, -100));
    EXPECT(op(OP_ADD, OPS(h, m), NULL), EXACT, -56, 56);            /* wraps mod 256 */
    ValueId p = cst(DT_I32, SHAPE(4), F(-7, 7, -7, 7)), q = cst(DT_I32, SHAPE(4), F(2, -2, -2, 2));
    EXPECT(op(OP_DIV, OPS(p, q), NULL), EXACT, -3, -3, 3, 3);       /* truncates */
    ValueId u3 = cst(DT_U8, SHAPE(1), F(3)), u5 = cst(DT_U8, SHAPE(1), F(5));
    EXPECT(op(OP_SUB, OPS(u3, u5), NULL), EXACT, 254);
    ValueId mn = cst(DT_I32, SHAPE(3), F(-2147483648.0, -5, 5));
    EXPECT(op(OP_NEG, OPS(mn), NULL), EXACT, -2147483648.0, 5, -5);
    EXPECT(op(OP_ABS, OPS(mn), NULL), EXACT, -2147483648.0, 5, 5);
    ValueId big = cst(DT_I64, SHAPE(2), F(4e15, -3)), k = cst(DT_I64, SHAPE(1), F(3));
    EXPECT(op(OP_MUL, OPS(big, k), NULL), EXACT, 1.2e16, -9);
    EXPECT(op(OP_LESS, OPS(p, q), NULL), EXACT, 1, 0, 1, 0);
    ValueId bo = cst(DT_BOOL, SHAPE(2), F(1, 0)), bt = cst(DT_BOOL, SHAPE(1), F(1));
    EXPECT(op(OP_EQUAL, OPS(bo, bt), NULL), EXACT, 1, 0);
}

static void
test_int_div_zero(void)
{
    ValueId p = cst(DT_I32, SHAPE(2), F(1, 2)), z = cst(DT_I32, SHAPE(2), F(1, 0));
    ValueId q = op(OP_DIV, OPS(p, z), NULL);
    ir_value_set_name(g, q, "q");
    IrTensor t;
    CU_ASSERT_EQUAL(run(q, &t), -1);
    CU_ASSERT_EQUAL_FATAL(d.nerror, 1);
    CU_ASSERT_STRING_EQUAL(d.msg[0].msg, "div 'q': integer division by zero");
    CU_ASSERT_EQUAL(d.msg[0].loc.line, 4);
}

static void
test_unary(void)
{
    struct { Op op; Attr a; double x, want; } c[] = {
        { OP_NEG, NOATTR, 2, -2 },
        { OP_ABS, NOATTR, -3, 3 },
        { OP_EXP, NOATTR, 1, 2.718281828459045 },
        { OP_LOG, NOATTR, 2, 0.6931471805599453 },
        { OP_SQRT, NOATTR, 2, 1.4142135623730951 },
        { OP_RSQRT, NOATTR, 4, 0.5 },
        { OP_ERF, NOATTR, 0.5, 0.5204998778130465 },
        { OP_RELU, NOATTR, -1, 0 },
        { OP_RELU, NOATTR, 2, 2 },
        { OP_LEAKY_RELU, { .scalar = { 0.25f, 0 } }, -2, -0.5 },
        { OP_LEAKY_RELU, { .scalar = { 0.25f, 0 } }, 3, 3 },
        { OP_RELU6, NOATTR, 7, 6 },
        { OP_RELU6, NOATTR, -1, 0 },
        { OP_RELU6, NOATTR, 3, 3 },
        { OP_CLIP, { .scalar = { -1, 2 } }, 5, 2 },
        { OP_CLIP, { .scalar = { -1, 2 } }, -5, -1 },
        { OP_CLIP, { .scalar = { -1, 2 } }, 0.5, 0.5 },
        { OP_SIGMOID, NOATTR, 0, 0.5 },
        { OP_SIGMOID, NOATTR, 2, 0.8807970779778823 },
        { OP_TANH, NOATTR, 0.5, 0.46211715726000974 },
        { OP_GELU, { .gelu = { 0 } }, 1, 0.8413447460685429 },     /* 0.5(1+erf(1/sqrt2)) */
        { OP_GELU, { .gelu = { 1 } }, 1, 0.8411919906082768 },     /* tanh form */
        { OP_SILU, NOATTR, 1, 0.7310585786300049 },
        { OP_SILU, NOATTR, -2, -0.2384058440442351 },
        { OP_HARDSWISH, NOATTR, 1, 4.0 / 6 },
        { OP_HARDSWISH, NOATTR, -1, -2.0 / 6 },
        { OP_HARDSWISH, NOATTR, -4, 0 },
        { OP_HARDSWISH, NOATTR, 4, 4 },
    };
    for (size_t i = 0; i < sizeof c / sizeof c[0]; i++) {
        ValueId x = cf(SHAPE(1), F(c[i].x));
        expect(op(c[i].op, OPS(x), &c[i].a), 1, &c[i].want, TOL);
    }
}

/* ------------------------------------------------------------------ rows */

static void
test_softmax(void)
{
    double e1 = exp(1), e2 = exp(2), e3 = exp(3), s = e1 + e2 + e3;
    Attr last = { .axis = { -1 } }, first = { .axis = { 0 } };
    ValueId x = cf(SHAPE(3), F(1, 2, 3));
    EXPECT(op(OP_SOFTMAX, OPS(x), &last), TOL, e1 / s, e2 / s, e3 / s);
    EXPECT(op(OP_LOG_SOFTMAX, OPS(x), &last), TOL, 1 - log(s), 2 - log(s), 3 - log(s));
    /* along axis 0 of [[1,2],[3,5]]: columns [1,3] and [2,5] */
    ValueId y = cf(SHAPE(2, 2), F(1, 2, 3, 5));
    EXPECT(op(OP_SOFTMAX, OPS(y), &first), TOL, 1 / (1 + e2), 1 / (1 + e3), e2 / (1 + e2),
           e3 / (1 + e3));
    /* stable: huge inputs do not overflow */
    ValueId big = cf(SHAPE(2), F(1000, 1000));
    EXPECT(op(OP_SOFTMAX, OPS(big), &last), TOL, 0.5, 0.5);
}

static void
test_norms(void)
{
    double eps = 1e-5;
    float epsf = 1e-5f;
    Attr ln = { .norm = { epsf, -1 } };
    ValueId x = cf(SHAPE(2, 4), F(1, 2, 3, 4, 2, 2, 2, 2));
    ValueId gm = cf(SHAPE(4), F(1, 1, 2, 2)), bt = cf(SHAPE(4), F(0, 0, 0, 1));
    /* row 0: mean 2.5, biased var 1.25; row 1: var 0, so y = beta */
    double inv = 1 / sqrt(1.25 + (double)epsf);
    EXPECT(op(OP_LAYERNORM, OPS(x, gm, bt), &ln), 1e-6, -1.5 * inv, -0.5 * inv, 0.5 * inv * 2,
           1.5 * inv * 2 + 1, 0, 0, 0, 1);
    EXPECT(op(OP_LAYERNORM, OPS(x), &ln), 1e-6, -1.5 * inv, -0.5 * inv, 0.5 * inv, 1.5 * inv,
           0, 0, 0, 0);
    /* rmsnorm row 0: mean of squares 7.5; row 1: 4 */
    double r0 = 1 / sqrt(7.5 + (double)epsf), r1 = 1 / sqrt(4 + (double)epsf);
    EXPECT(op(OP_RMSNORM, OPS(x, gm), &ln), 1e-6, 1 * r0, 2 * r0, 6 * r0, 8 * r0, 2 * r1,
           2 * r1, 4 * r1, 4 * r1);
    /* layernorm over the last two dims of [1,2,2] */
    Attr ln1 = { .norm = { epsf, 1 } };
    ValueId x3 = cf(SHAPE(1, 2, 2), F(1, 2, 3, 4));
    EXPECT(op(OP_LAYERNORM, OPS(x3), &ln1), 1e-6, -1.5 * inv, -0.5 * inv, 0.5 * inv, 1.5 * inv);
    /* batchnorm on channel axis 1 of [1,2,1,2] */
    Attr bn = { .norm = { epsf, 1 } };
    ValueId y = cf(SHAPE(1, 2, 1, 2), F(1, 2, 3, 4));
    ValueId sc = cf(SHAPE(2), F(2, 1)), bi = cf(SHAPE(2), F(0, 1));
    ValueId mu = cf(SHAPE(2), F(1, 3)), var = cf(SHAPE(2), F(4, 1));
    (void)eps;
    EXPECT(op(OP_BATCHNORM, OPS(y, sc, bi, mu, var), &bn), 1e-6, 0,
           1 / sqrt(4 + (double)epsf) * 2, 1, 1 / sqrt(1 + (double)epsf) + 1);
}

/* ------------------------------------------------------------------ data movement */

static void
test_reshape_transpose(void)
{
    ValueId x = cst(DT_I32, SHAPE(2, 3), F(1, 2, 3, 4, 5, 6));
    Attr r = { .dims = { 2, { 3, -1 } } }, fl = { .axis = { 0 } }, rev = { .dims = { 0, { 0 } } };
    EXPECT(op(OP_RESHAPE, OPS(x), &r), EXACT, 1, 2, 3, 4, 5, 6);
    EXPECT(op(OP_FLATTEN, OPS(x), &fl), EXACT, 1, 2, 3, 4, 5, 6);
    EXPECT(op(OP_TRANSPOSE, OPS(x), &rev), EXACT, 1, 4, 2, 5, 3, 6);
    /* [2,3,2] with perm [1,0,2]: out[j][i][k] = in[i][j][k] */
    double v[12], want[12];
    for (int i = 0; i < 12; i++)
        v[i] = i;
    for (int i = 0; i < 2; i++)
        for (int j = 0; j < 3; j++)
            for (int k = 0; k < 2; k++)
                want[(j * 2 + i) * 2 + k] = v[(i * 3 + j) * 2 + k];
    Attr p = { .dims = { 3, { 1, 0, 2 } } };
    expect(op(OP_TRANSPOSE, OPS(cst(DT_U8, SHAPE(2, 3, 2), v)), &p), 12, want, EXACT);
}

static void
test_concat_split(void)
{
    ValueId a = cf(SHAPE(2, 1), F(1, 2)), b = cf(SHAPE(2, 2), F(3, 4, 5, 6));
    Attr ax1 = { .axis = { 1 } }, ax0 = { .axis = { 0 } };
    EXPECT(op(OP_CONCAT, OPS(a, b), &ax1), EXACT, 1, 3, 4, 2, 5, 6);
    ValueId t = cst(DT_BOOL, SHAPE(1, 2), F(1, 0)), f = cst(DT_BOOL, SHAPE(2, 2), F(0, 1, 1, 1));
    EXPECT(op(OP_CONCAT, OPS(t, f, t), &ax0), EXACT, 1, 0, 0, 1, 1, 1, 1, 0);
    Attr sp = { .split = { 1, 2, { 1, 2 } } };
    ValueId x = cst(DT_I64, SHAPE(2, 3), F(1, 2, 3, 4, 5, 6));
    ValueId s0 = op(OP_SPLIT, OPS(x), &sp);
    NodeId sn = ir_value(g, s0)->def;
    EXPECT(s0, EXACT, 1, 4);
    EXPECT(ir_node_out(g, sn, 1), EXACT, 2, 3, 5, 6);
}

static void
test_slice_pad(void)
{
    double v[12];
    for (int i = 0; i < 12; i++)
        v[i] = i;
    ValueId x = cf(SHAPE(10), v);
    Attr back = { .slice = { 1, { -1 }, { -100 }, { -2 } } };
    EXPECT(op(OP_SLICE, OPS(x), &back), EXACT, 9, 7, 5, 3, 1);
    Attr mid = { .slice = { 1, { 2 }, { 100 }, { 3 } } };
    EXPECT(op(OP_SLICE, OPS(x), &mid), EXACT, 2, 5, 8);
    /* rank 1 given for [3,4]: rows 1..2, every column */
    ValueId m = cst(DT_I32, SHAPE(3, 4), v);
    Attr rows = { .slice = { 1, { 1 }, { 3 }, { 1 } } };
    EXPECT(op(OP_SLICE, OPS(m), &rows), EXACT, 4, 5, 6, 7, 8, 9, 10, 11);
    Attr both = { .slice = { 2, { 2, -1 }, { -4, 0 }, { -2, -2 } } };
    EXPECT(op(OP_SLICE, OPS(m), &both), EXACT, 11, 9, 3, 1);    /* rows 2,0 x cols 3,1 */

    ValueId y = cf(SHAPE(2, 2), F(1, 2, 3, 4));
    Attr p = { .pad = { 2, { 1, 0 }, { 0, 1 }, 7 } };
    EXPECT(op(OP_PAD, OPS(y), &p), EXACT, 7, 7, 7, 1, 2, 7, 3, 4, 7);
    ValueId u = cst(DT_U8, SHAPE(2), F(1, 2));
    Attr pu = { .pad = { 1, { 1 }, { 1 }, 300 } };        /* fill converted like cast */
    EXPECT(op(OP_PAD, OPS(u), &pu), EXACT, 255, 1, 2, 255);
}

static void
test_gather(void)
{
    ValueId x = cf(SHAPE(3, 2), F(1, 2, 3, 4, 5, 6));
    ValueId idx = cst(DT_I64, SHAPE(2), F(2, -1)), i1 = cst(DT_I32, SHAPE(1), F(1));
    Attr a0 = { .axis = { 0 } }, a1 = { .axis = { 1 } };
    EXPECT(op(OP_GATHER, OPS(x, idx), &a0), EXACT, 5, 6, 5, 6);
    EXPECT(op(OP_GATHER, OPS(x, i1), &a1), EXACT, 2, 4, 6);
    ValueId i2 = cst(DT_I64, SHAPE(2, 1), F(0, 1));        /* [3,2] -> [2,1,2] */
    EXPECT(op(OP_GATHER, OPS(x, i2), &a0), EXACT, 1, 2, 3, 4);

    ValueId bad = cst(DT_I64, SHAPE(2), F(0, 3));
    ValueId gv = op(OP_GATHER, OPS(x, bad), &a0);
    ir_value_set_name(g, gv, "emb");
    IrTensor t;
    CU_ASSERT_EQUAL(run(gv, &t), -1);
    CU_ASSERT_EQUAL_FATAL(d.nerror, 1);
    CU_ASSERT_STRING_EQUAL(d.msg[0].msg, "gather 'emb': index 3 out of range for axis 0 of size 3");
    CU_ASSERT_EQUAL(d.msg[0].loc.col, 9);
}

/* ------------------------------------------------------------------ reductions etc */

static void
test_reduce(void)
{
    ValueId x = cf(SHAPE(2, 3), F(1, 5, 3, 4, 2, 6));
    Attr a1 = { .reduce = { 1, { 1 }, 0 } }, a0 = { .reduce = { 1, { 0 }, 0 } };
    Attr all = { .reduce = { 0, { 0 }, 0 } }, keep = { .reduce = { 1, { -1 }, 1 } };
    EXPECT(op(OP_REDUCE_SUM, OPS(x), &a1), EXACT, 9, 12);
    EXPECT(op(OP_REDUCE_MEAN, OPS(x), &a0), EXACT, 2.5, 3.5, 4.5);
    EXPECT(op(OP_REDUCE_MAX, OPS(x), &all), EXACT, 6);
    EXPECT(op(OP_REDUCE_MIN, OPS(x), &keep), EXACT, 1, 2);
    EXPECT(op(OP_ARGMAX, OPS(x), &a1), EXACT, 1, 2);
    EXPECT(op(OP_ARGMAX, OPS(x), &a0), EXACT, 1, 0, 1);
    ValueId ties = cf(SHAPE(3), F(3, 1, 3));
    Attr only = { .reduce = { 1, { 0 }, 0 } };
    EXPECT(op(OP_ARGMAX, OPS(ties), &only), EXACT, 0);     /* first maximum */
    ValueId xi = cst(DT_I32, SHAPE(2, 3), F(1, 2, 3, 4, 5, 6));
    EXPECT(op(OP_REDUCE_SUM, OPS(xi), &a0), EXACT, 5, 7, 9);
    EXPECT(op(OP_REDUCE_MAX, OPS(xi), &a1), EXACT, 3, 6);
    ValueId xu = cst(DT_U8, SHAPE(3), F(200, 7, 255));
    EXPECT(op(OP_REDUCE_MIN, OPS(xu), &only), EXACT, 7);
    EXPECT(op(OP_ARGMAX, OPS(xu), &only), EXACT, 2);
    /* axes 0 and 2 of [2,2,2] = 1..8: j=0 -> 1+2+5+6, j=1 -> 3+4+7+8 */
    ValueId c = cf(SHAPE(2, 2, 2), F(1, 2, 3, 4, 5, 6, 7, 8));
    Attr outer = { .reduce = { 2, { 0, 2 }, 1 } };
    EXPECT(op(OP_REDUCE_SUM, OPS(c), &outer), EXACT, 14, 22);
}

static void
test_where_cast(void)
{
    ValueId c = cst(DT_BOOL, SHAPE(2, 1), F(1, 0)), a = cf(SHAPE(3), F(1, 2, 3));
    ValueId b = cf(SCALAR, F(-1));
    EXPECT(op(OP_WHERE, OPS(c, a, b), NULL), EXACT, 1, 2, 3, -1, -1, -1);
    ValueId ia = cst(DT_I64, SHAPE(2), F(10, 20)), ib = cst(DT_I64, SHAPE(2), F(-1, -2));
    ValueId c2 = cst(DT_BOOL, SHAPE(2), F(0, 1));
    EXPECT(op(OP_WHERE, OPS(c2, ia, ib), NULL), EXACT, -1, 20);

    ValueId x = cf(SHAPE(5), F(-1.7, 2.9, 1e10, NAN, -1e10));
    Attr i32 = { .cast = { DT_I32 } }, u8 = { .cast = { DT_U8 } }, i8 = { .cast = { DT_I8 } };
    Attr bo = { .cast = { DT_BOOL } }, f32 = { .cast = { DT_F32 } }, i64 = { .cast = { DT_I64 } };
    EXPECT(op(OP_CAST, OPS(x), &i32), EXACT, -1, 2, 2147483647.0, 0, -2147483648.0);
    EXPECT(op(OP_CAST, OPS(x), &u8), EXACT, 0, 2, 255, 0, 0);
    EXPECT(op(OP_CAST, OPS(x), &bo), EXACT, 1, 1, 1, 1, 1);
    EXPECT(op(OP_CAST, OPS(x), &i64), EXACT, -1, 2, 1e10, 0, -1e10);
    ValueId n = cst(DT_I32, SHAPE(3), F(200, -1, 0));
    EXPECT(op(OP_CAST, OPS(n), &i8), EXACT, -56, -1, 0);   /* int -> int wraps */
    EXPECT(op(OP_CAST, OPS(n), &u8), EXACT, 200, 255, 0);
    EXPECT(op(OP_CAST, OPS(n), &f32), EXACT, 200, -1, 0);
    EXPECT(op(OP_CAST, OPS(n), &bo), EXACT, 1, 1, 0);
}

/* ------------------------------------------------------------------ quantization */

static Attr
qattr(int bits, int is_signed, QuantGran gran, int axis, int group, int n, float *s, int32_t *z)
{
    Attr a = { .quant = { { bits, is_signed, gran, axis, group, n, s, z } } };
    return a;
}

static void
test_quant_values(void)
{
    float s05 = 0.5f, s1 = 1;
    int32_t z0 = 0, z8 = 8;
    /* x/s = 0.5 1.5 -0.5 200 -200 2.5 -> half to even 0 2 -0 127(clamped) -128 2 */
    ValueId x = cf(SHAPE(6), F(0.25, 0.75, -0.25, 100, -100, 1.25));
    Attr q8 = qattr(8, 1, QG_TENSOR, 0, 0, 1, &s05, &z0);
    ValueId q = op(OP_QUANTIZE, OPS(x), &q8);
    EXPECT(q, EXACT, 0, 2, 0, 127, -128, 2);
    EXPECT(op(OP_DEQUANTIZE, OPS(q), NULL), EXACT, 0, 1, 0, 63.5, -64, 1);
    /* unsigned 4-bit, zero 8: -9 -> -1 -> 0; -8.5 -> -8 -> 0; 0 -> 8; 7.5 -> 8 -> 16 -> 15 */
    ValueId y = cf(SHAPE(5), F(-9, -8.5, 0, 7.5, 20));
    Attr q4 = qattr(4, 0, QG_TENSOR, 0, 0, 1, &s1, &z8);
    ValueId qy = op(OP_QUANTIZE, OPS(y), &q4);
    EXPECT(qy, EXACT, 0, 0, 8, 15, 15);
    EXPECT(op(OP_DEQUANTIZE, OPS(qy), NULL), EXACT, -8, -8, 0, 7, 7);
    /* per-axis: row 0 scale 1 zero 0, row 1 scale 0.5 zero 2 */
    float sa[2] = { 1, 0.5f };
    int32_t za[2] = { 0, 2 };
    ValueId m = cf(SHAPE(2, 2), F(3, -2, 3, -2));
    Attr qa = qattr(8, 1, QG_AXIS, 0, 0, 2, sa, za);
    EXPECT(op(OP_QUANTIZE, OPS(m), &qa), EXACT, 3, -2, 8, -2);
    /* quantized weights of a matmul are dequantized: [1,1] @ [[1,2],[3,-1]] */
    ValueId w = op(OP_QUANTIZE, OPS(cf(SHAPE(2, 2), F(1, 2, 3, -1))), &q8);
    Attr mm = { .matmul = { 0, 0 } };
    EXPECT(op(OP_MATMUL, OPS(cf(SHAPE(1, 2), F(1, 1)), w), &mm), EXACT, 4, 1);
}

/* Quantizes x [4,6] with params chosen so nothing clips; checks |x - deq| <= scale/2. */
static void
round_trip(const double *x, Attr qa)
{
    const QuantParams *q = &qa.quant.q;
    ValueId xv = cf(SHAPE(4, 6), x);
    ValueId dq = op(OP_DEQUANTIZE, OPS(op(OP_QUANTIZE, OPS(xv), &qa)), NULL);
    IrTensor t;
    CU_ASSERT_EQUAL_FATAL(run(dq, &t), 0);
    for (int i = 0; i < 24; i++) {
        int a = q->gran == QG_TENSOR ? 0 : q->axis == 0 ? i / 6 : i % 6;
        int k = q->gran == QG_GROUP ? a / q->group : a;
        double err = fabs(get(&t, i) - x[i]);
        /* scale/2 plus float rounding of x/scale and of the dequantized product */
        CU_ASSERT_TRUE(err <= q->scale[k] * 0.5 * (1 + 1e-6) + 1e-7 * fabs(x[i]));
    }
    ir_tensor_free(&t);
}

static void
test_quant_round_trip(void)
{
    double *x = rnd_vals(24);
    /* per tensor, signed 8-bit, zero 0: scale = max|x| / 127 */
    float st = 0;
    int32_t zt = 0;
    for (int i = 0; i < 24; i++)
        st = fmaxf(st, (float)fabs(x[i]) / 127);
    round_trip(x, qattr(8, 1, QG_TENSOR, 0, 0, 1, &st, &zt));
    /* per column (axis 1), unsigned 8-bit, zero 128: range [-128 s, 127 s] */
    float sc[6] = { 0 };
    int32_t zc[6] = { 128, 128, 128, 128, 128, 128 };
    for (int i = 0; i < 24; i++)
        sc[i % 6] = fmaxf(sc[i % 6], (float)fabs(x[i]) / 127);
    round_trip(x, qattr(8, 0, QG_AXIS, 1, 0, 6, sc, zc));
    /* groups of 3 columns, signed 4-bit, zero 0: range [-8 s, 7 s] */
    float sg[2] = { 0 };
    int32_t zg[2] = { 0, 0 };
    for (int i = 0; i < 24; i++)
        sg[(i % 6) / 3] = fmaxf(sg[(i % 6) / 3], (float)fabs(x[i]) / 7);
    round_trip(x, qattr(4, 1, QG_GROUP, -1, 3, 2, sg, zg));
    /* groups along axis 0 (rows 0-1, 2-3) */
    float sr[2] = { 0 };
    for (int i = 0; i < 24; i++)
        sr[i / 12] = fmaxf(sr[i / 12], (float)fabs(x[i]) / 7);
    round_trip(x, qattr(4, 1, QG_GROUP, 0, 2, 2, sr, zg));
    free(x);
}

/* ------------------------------------------------------------------ graphs */

/* x f32[2] -> exit 1 with x*2 if max(x) > 0.5, else x*3 */
static ValueId
exit_graph(void)
{
    TensorType t = ir_type_make(DT_F32, 1, (int64_t[]){ 2 });
    ValueId x = ir_graph_add_input(g, "x", &t);
    Attr all = { .reduce = { 0, { 0 }, 0 } }, e = { .exit = { 1 } };
    ValueId c = op(OP_GREATER, OPS(op(OP_REDUCE_MAX, OPS(x), &all), cf(SCALAR, F(0.5))), NULL);
    NodeId ex = ir_node_new(g, OP_EXIT_IF, OPS(c, op(OP_MUL, OPS(x, cf(SCALAR, F(2))), NULL)), 0,
                            at);
    ir_node(g, ex)->attr = e;
    CU_ASSERT_EQUAL(ir_infer_node(g, ex, &d), 0);
    ir_graph_add_output(g, "y", op(OP_MUL, OPS(x, cf(SCALAR, F(3))), NULL));
    return x;
}

static void
test_exit_if(void)
{
    exit_graph();
    float hi[2] = { 0.75f, 0.25f }, lo[2] = { 0.25f, 0.5f };
    IrTensor in = { ir_type_make(DT_F32, 1, (int64_t[]){ 2 }), hi }, out;
    int taken = -1;
    CU_ASSERT_EQUAL_FATAL(ir_interp_run(g, &in, &out, &taken, &d), 0);
    CU_ASSERT_EQUAL(taken, 1);
    CU_ASSERT_EQUAL(((float *)out.data)[0], 1.5f);
    CU_ASSERT_EQUAL(((float *)out.data)[1], 0.5f);
    ir_tensor_free(&out);
    in.data = lo;
    CU_ASSERT_EQUAL_FATAL(ir_interp_run(g, &in, &out, &taken, &d), 0);
    CU_ASSERT_EQUAL(taken, 0);
    CU_ASSERT_EQUAL(((float *)out.data)[0], 0.75f);
    CU_ASSERT_EQUAL(((float *)out.data)[1], 1.5f);
    ir_tensor_free(&out);
}

/* A taken exit stops the walk: a division by zero after it never runs. */
static void
test_exit_stops(void)
{
    TensorType t = ir_type_make(DT_F32, 1, (int64_t[]){ 1 });
    ValueId x = ir_graph_add_input(g, "x", &t);
    Attr e = { .exit = { 2 } }, to = { .cast = { DT_F32 } };
    ValueId yes = cst(DT_BOOL, SCALAR, F(1));
    NodeId ex = ir_node_new(g, OP_EXIT_IF, OPS(yes, x), 0, at);
    ir_node(g, ex)->attr = e;
    ValueId q = op(OP_DIV, OPS(cst(DT_I32, SHAPE(1), F(1)), cst(DT_I32, SHAPE(1), F(0))), NULL);
    ir_graph_add_output(g, "y", op(OP_CAST, OPS(q), &to));
    float v = 0.25f;
    IrTensor in = { t, &v }, out;
    int taken = -1;
    CU_ASSERT_EQUAL_FATAL(ir_interp_run(g, &in, &out, &taken, &d), 0);
    CU_ASSERT_EQUAL(taken, 2);
    CU_ASSERT_EQUAL(((float *)out.data)[0], 0.25f);
    CU_ASSERT_EQUAL(d.nerror, 0);
    ir_tensor_free(&out);
    /* the same graph without the exit reaches the division */
    ir_node(g, ex)->op = OP_NONE;
    ir_graph_compact(g);
    CU_ASSERT_EQUAL(ir_interp_run(g, &in, &out, &taken, &d), -1);
    CU_ASSERT_EQUAL_FATAL(d.nerror, 1);
    CU_ASSERT_STRING_EQUAL(d.msg[0].msg, "div: integer division by zero");
}

static void
test_bad_const(void)
{
    float v[2] = { 1, 2 };
    TensorType t = ir_type_make(DT_F32, 1, (int64_t[]){ 4 });   /* 16 bytes, storage has 8 */
    NodeId c = ir_const_new(g, &t, ir_storage_mem(g, v, sizeof v), at);
    IrTensor out;
    CU_ASSERT_EQUAL(run(ir_node_out(g, c, 0), &out), -1);
    CU_ASSERT_EQUAL_FATAL(d.nerror, 1);
    CU_ASSERT_STRING_EQUAL(d.msg[0].msg, "const: storage does not match the constant's type");
    CU_ASSERT_EQUAL(ir_interp_node(g, c, NULL, &out, &d), -1);
    CU_ASSERT_PTR_NULL(out.data);
}

static void
test_bad_input(void)
{
    exit_graph();
    float v[3] = { 0 };
    IrTensor in = { ir_type_make(DT_F32, 1, (int64_t[]){ 3 }), v }, out;
    int taken;
    CU_ASSERT_EQUAL(ir_interp_run(g, &in, &out, &taken, &d), -1);
    CU_ASSERT_EQUAL_FATAL(d.nerror, 1);
    CU_ASSERT_STRING_EQUAL(d.msg[0].msg, "input 'x': expected f32[2], got f32[3]");
}

static void
add_epi(ValueId host, Op o, int arg, int swap, Attr a)
{
    Node *nd = ir_node(g, ir_value(g, host)->def);
    EpiStep *e = arena_alloc(g->arena, (size_t)(nd->nepi + 1) * sizeof *e);
    if (nd->nepi)
        memcpy(e, nd->epi, (size_t)nd->nepi * sizeof *e);
    e[nd->nepi] = (EpiStep){ .op = o, .arg = arg, .swap = swap, .attr = a };
    nd->epi = e;
    nd->nepi++;
}

/* Runs a graph with outputs want and got; they must be bit-identical. */
static void
expect_same(ValueId want, ValueId got)
{
    IrTensor out[2];
    int taken;
    g->noutput = 0;
    ir_graph_add_output(g, "want", want);
    ir_graph_add_output(g, "got", got);
    CU_ASSERT_EQUAL_FATAL(ir_interp_run(g, NULL, out, &taken, &d), 0);
    int64_t bytes;
    ir_type_bytes(&out[0].type, &bytes);
    CU_ASSERT_TRUE(ir_type_equal(&out[0].type, &out[1].type));
    CU_ASSERT_EQUAL(memcmp(out[0].data, out[1].data, (size_t)bytes), 0);
    ir_tensor_free(&out[0]);
    ir_tensor_free(&out[1]);
}

static void
test_epilogue_matmul(void)
{
    double *xv = rnd_vals(2 * 3), *wv = rnd_vals(4 * 3), *bv = rnd_vals(4), *rv = rnd_vals(8);
    ValueId x = cf(SHAPE(2, 3), xv), w = cf(SHAPE(4, 3), wv), b = cf(SHAPE(4), bv);
    ValueId r = cf(SHAPE(2, 4), rv);
    Attr tb = { .matmul = { 0, 1 } }, none = NOATTR, tanhg = { .gelu = { 1 } };
    /* unfused: gelu_tanh(r - relu(x @ w^T + b)) */
    ValueId m = op(OP_MATMUL, OPS(x, w), &tb);
    ValueId u = op(OP_GELU, OPS(op(OP_SUB, OPS(r, op(OP_RELU, OPS(op(OP_ADD, OPS(m, b), NULL)),
                                                     NULL)), NULL)), &tanhg);
    /* fused: one matmul with operands (x, w, b, r) and four steps */
    ValueId f = op(OP_MATMUL, OPS(x, w, b, r), &tb);
    add_epi(f, OP_ADD, 2, 0, none);
    add_epi(f, OP_RELU, -1, 0, none);
    add_epi(f, OP_SUB, 3, 1, none);        /* swap: r - acc */
    add_epi(f, OP_GELU, -1, 0, tanhg);
    CU_ASSERT_EQUAL(ir_infer_node(g, ir_value(g, f)->def, &d), 0);
    expect_same(u, f);
    free(xv), free(wv), free(bv), free(rv);
}

static void
test_epilogue_conv_eltwise(void)
{
    double *xv = rnd_vals(2 * 4 * 4), *wv = rnd_vals(3 * 2 * 3 * 3), *bv = rnd_vals(3);
    double *rv = rnd_vals(3 * 4 * 4);
    Attr c = { .conv = { { 1, 1 }, { 1, 1, 1, 1 }, { 1, 1 }, 1 } }, none = NOATTR;
    ValueId x = cf(SHAPE(1, 2, 4, 4), xv), w = cf(SHAPE(3, 2, 3, 3), wv);
    ValueId b = cf(SHAPE(3), bv), res = cf(SHAPE(1, 3, 4, 4), rv);
    /* conv with bias, then + residual, relu */
    ValueId u = op(OP_RELU, OPS(op(OP_ADD, OPS(op(OP_CONV2D, OPS(x, w, b), &c), res), NULL)), NULL);
    ValueId f = op(OP_CONV2D, OPS(x, w, b, res), &c);
    add_epi(f, OP_ADD, 3, 0, none);
    add_epi(f, OP_RELU, -1, 0, none);
    CU_ASSERT_EQUAL(ir_infer_node(g, ir_value(g, f)->def, &d), 0);
    expect_same(u, f);
    /* integer elementwise host: neg(a + b) then 100 / acc (swapped div) */
    ValueId ia = cst(DT_I32, SHAPE(3), F(1, 2, 3)), ib = cst(DT_I32, SHAPE(1), F(4));
    ValueId hundred = cst(DT_I32, SHAPE(1), F(100));
    ValueId ui = op(OP_DIV, OPS(hundred, op(OP_NEG, OPS(op(OP_ADD, OPS(ia, ib), NULL)), NULL)),
                    NULL);
    ValueId fi = op(OP_ADD, OPS(ia, ib, hundred), NULL);
    add_epi(fi, OP_NEG, -1, 0, none);
    add_epi(fi, OP_DIV, 2, 1, none);
    CU_ASSERT_EQUAL(ir_infer_node(g, ir_value(g, fi)->def, &d), 0);
    expect_same(ui, fi);
    EXPECT(fi, EXACT, -20, -16, -14);       /* 100 / -5, 100 / -6, 100 / -7 */
    free(xv), free(wv), free(bv), free(rv);
}

static void
test_interp_node(void)
{
    ValueId a = cf(SHAPE(3), F(1, 2, 3)), b = cf(SHAPE(3), F(4, 5, 6));
    ValueId s = op(OP_ADD, OPS(a, b), NULL);
    NodeId n = ir_value(g, s)->def;
    float av[3] = { 1, 2, 3 }, bv[3] = { 10, 20, 30 }, short_[2] = { 0 };
    IrTensor in[2] = { { ir_value(g, a)->type, av }, { ir_value(g, b)->type, bv } }, out;
    CU_ASSERT_EQUAL_FATAL(ir_interp_node(g, n, in, &out, &d), 0);
    CU_ASSERT_EQUAL(((float *)out.data)[2], 33.0f);
    ir_tensor_free(&out);
    in[1] = (IrTensor){ ir_type_make(DT_F32, 1, (int64_t[]){ 2 }), short_ };
    CU_ASSERT_EQUAL(ir_interp_node(g, n, in, &out, &d), -1);
    CU_ASSERT_EQUAL_FATAL(d.nerror, 1);
    CU_ASSERT_STRING_EQUAL(d.msg[0].msg, "add: operand 1: expected f32[3], got f32[2]");
    CU_ASSERT_PTR_NULL(out.data);
    /* a node that was never shape-inferred */
    NodeId raw = ir_node_new(g, OP_RELU, OPS(a), 1, at);
    IrTensor one = { ir_value(g, a)->type, av };
    CU_ASSERT_EQUAL(ir_interp_node(g, raw, &one, &out, &d), -1);
    CU_ASSERT_STRING_EQUAL(d.msg[1].msg, "relu: result 0 has no valid type (run shape-infer first)");
}

static CU_TestInfo interp_tests[] = {
    { "matmul", test_matmul },
    { "matmul 64x64 vs naive", test_matmul_64 },
    { "conv2d", test_conv2d },
    { "pools", test_pools },
    { "binary f32", test_binary },
    { "integer arithmetic", test_int_arith },
    { "integer division by zero", test_int_div_zero },
    { "unary", test_unary },
    { "softmax", test_softmax },
    { "norms", test_norms },
    { "reshape transpose", test_reshape_transpose },
    { "concat split", test_concat_split },
    { "slice pad", test_slice_pad },
    { "gather", test_gather },
    { "reductions", test_reduce },
    { "where cast", test_where_cast },
    { "quantize values", test_quant_values },
    { "quantize round trip", test_quant_round_trip },
    { "exit_if", test_exit_if },
    { "exit_if stops the walk", test_exit_stops },
    { "constant of the wrong size", test_bad_const },
    { "input type mismatch", test_bad_input },
    { "epilogue matmul", test_epilogue_matmul },
    { "epilogue conv and eltwise", test_epilogue_conv_eltwise },
    { "interp one node", test_interp_node },
    CU_TEST_INFO_NULL,
};

static CU_SuiteInfo suites[] = {
    { .pName = "interpreter", .pSetUpFunc = setup, .pTearDownFunc = teardown,
      .pTests = interp_tests },
    CU_SUITE_INFO_NULL,
};

int
main(void)
{
    return kiln_cu_run(suites);
}
