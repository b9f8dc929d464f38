/* tests/unit/test_interp_math.c — the interpreter's floor, ceil, round and trigonometric /
 * hyperbolic ops against values computed by hand: signed zeros, ties rounding to even,
 * domain edges (NaN outside the domain, infinities at the poles) and the f32-only rule. */
#include <CUnit/Basic.h>
#include "cu_run.h"
#include <math.h>
#include <string.h>
#include "ir.h"
#include "ir_fixture.h"

static const SrcLoc at = { "model.kiln", 3, 7 };

#define LN2 0.69314718055994530942
#define PI 3.14159265358979323846

/* op(x) of an f32 vector constant, shape-inferred and interpreted into *t (caller frees). */
static void
eval(Op o, int n, const float *x, IrTensor *t)
{
    TensorType ty = ir_type_make(DT_F32, 1, (int64_t[]){ n });
    NodeId c = ir_const_new(g, &ty, ir_storage_mem(g, x, (size_t)n * sizeof *x), at);
    ValueId in = ir_node_out(g, c, 0);
    run_sole_output(ir_node_new(g, o, 1, &in, 1, at), t);
    CU_ASSERT_EQUAL(t->type.dtype, DT_F32);
    CU_ASSERT_EQUAL(t->type.rank, 1);
    CU_ASSERT_EQUAL(t->type.dims[0], n);
}

/* op(x[i]) must be want[i] exactly, sign of zero included; NaN matches NaN. */
static void
expect_exact(Op o, int n, const float *x, const float *want)
{
    IrTensor t = { 0 };
    eval(o, n, x, &t);
    const float *y = t.data;
    for (int i = 0; i < n; i++) {
        if (isnan(want[i])) {
            CU_ASSERT(isnan(y[i]));
            continue;
        }
        CU_ASSERT_EQUAL(y[i], want[i]);
        CU_ASSERT_EQUAL(signbit(y[i]) != 0, signbit(want[i]) != 0);
        if (y[i] != want[i] || (signbit(y[i]) != 0) != (signbit(want[i]) != 0))
            printf("\n  %s(%g) = %g, expected %g", op_name[o], x[i], y[i], want[i]);
    }
    ir_tensor_free(&t);
}

/* op(x[i]) within 2 f32 ulps of want[i] (hand values in double); NaN and inf exactly. */
static void
expect_near(Op o, int n, const float *x, const double *want)
{
    IrTensor t = { 0 };
    eval(o, n, x, &t);
    const float *y = t.data;
    for (int i = 0; i < n; i++) {
        if (isnan(want[i]) || isinf(want[i])) {
            CU_ASSERT(isnan(want[i]) ? isnan(y[i]) : y[i] == want[i]);
            continue;
        }
        double tol = 2.0 * (double)(nextafterf((float)fabs(want[i]), INFINITY) -
                                    (float)fabs(want[i]));
        CU_ASSERT(fabs((double)y[i] - want[i]) <= tol);
        if (!(fabs((double)y[i] - want[i]) <= tol))
            printf("\n  %s(%g) = %.9g, expected %.9g", op_name[o], x[i], y[i], want[i]);
    }
    ir_tensor_free(&t);
}

static void
test_floor_ceil(void)
{
    static const float x[] = { -0.5f, 0.5f, -0.0f, 1.0f, -1.0f, 2.5f, -2.5f, 0.99999994f,
                               -1e30f, INFINITY, NAN };
    static const float fl[] = { -1.0f, 0.0f, -0.0f, 1.0f, -1.0f, 2.0f, -3.0f, 0.0f,
                                -1e30f, INFINITY, NAN };
    static const float ce[] = { -0.0f, 1.0f, -0.0f, 1.0f, -1.0f, 3.0f, -2.0f, 1.0f,
                                -1e30f, INFINITY, NAN };
    expect_exact(OP_FLOOR, N(x), x, fl);
    expect_exact(OP_CEIL, N(x), x, ce);
}

/* ONNX Round: ties to the even integer; 0.49999997 is the float just below 0.5 and must
 * not round up (a floor(x + 0.5) implementation would give 1) */
static void
test_round(void)
{
    static const float x[] = { 0.5f, -0.5f, 1.5f, 2.5f, -1.5f, -2.5f, 3.5f, 0.49999997f,
                               -0.50000006f, 8388607.5f, 2.4f, -2.6f, -0.0f, INFINITY, NAN };
    static const float w[] = { 0.0f, -0.0f, 2.0f, 2.0f, -2.0f, -2.0f, 4.0f, 0.0f,
                               -1.0f, 8388608.0f, 2.0f, -3.0f, -0.0f, INFINITY, NAN };
    expect_exact(OP_ROUND, N(x), x, w);
}

static void
test_trig(void)
{
    /* sin(pi/6) = 1/2, cos(pi/3) = 1/2, tan(pi/4) = 1 (of the f32 nearest the angle) */
    static const float x[] = { 0.0f, (float)(PI / 6), (float)(PI / 2), -(float)(PI / 6), 1.0f };
    static const double sn[] = { 0.0, 0.5, 1.0, -0.5, 0.8414709848078965 };
    expect_near(OP_SIN, N(x), x, sn);
    static const float xc[] = { 0.0f, (float)(PI / 3), (float)PI, 1.0f, INFINITY };
    static const double cs[] = { 1.0, 0.5, -1.0, 0.5403023058681398, NAN };
    expect_near(OP_COS, N(xc), xc, cs);
    static const float xt[] = { 0.0f, (float)(PI / 4), -(float)(PI / 4), 1.0f };
    static const double tn[] = { 0.0, 1.0, -1.0, 1.5574077246549023 };
    expect_near(OP_TAN, N(xt), xt, tn);
}

/* asin, acos defined on [-1, 1]; atan(+-inf) = +-pi/2 */
static void
test_inverse_trig(void)
{
    static const float x[] = { 1.0f, -1.0f, 0.5f, 0.0f, 1.0000001f, -2.0f };
    static const double as[] = { PI / 2, -PI / 2, PI / 6, 0.0, NAN, NAN };
    static const double ac[] = { 0.0, PI, PI / 3, PI / 2, NAN, NAN };
    expect_near(OP_ASIN, N(x), x, as);
    expect_near(OP_ACOS, N(x), x, ac);
    static const float xa[] = { 1.0f, -1.0f, INFINITY, -INFINITY, 0.0f };
    static const double aa[] = { PI / 4, -PI / 4, PI / 2, -PI / 2, 0.0 };
    expect_near(OP_ATAN, N(xa), xa, aa);
}

/* with e^ln2 = 2: sinh(ln2) = (2 - 1/2)/2 = 3/4, cosh(ln2) = (2 + 1/2)/2 = 5/4, so
 * asinh(3/4) = acosh(5/4) = ln2; atanh(3/5) = ln((1 + 3/5)/(1 - 3/5))/2 = ln(4)/2 = ln2 */
static void
test_hyperbolic(void)
{
    static const float x[] = { (float)LN2, -(float)LN2, 0.0f, 100.0f };
    static const double sh[] = { 0.75, -0.75, 0.0, INFINITY };        /* e^100 / 2 > FLT_MAX */
    static const double ch[] = { 1.25, 1.25, 1.0, INFINITY };
    expect_near(OP_SINH, N(x), x, sh);
    expect_near(OP_COSH, N(x), x, ch);
    static const float xs[] = { 0.75f, -0.75f, 0.0f, -INFINITY };
    static const double ash[] = { LN2, -LN2, 0.0, -INFINITY };
    expect_near(OP_ASINH, N(xs), xs, ash);
    static const float xc[] = { 1.25f, 1.0f, 0.5f, -1.0f, INFINITY };
    static const double ach[] = { LN2, 0.0, NAN, NAN, INFINITY };    /* acosh(x < 1) = NaN */
    expect_near(OP_ACOSH, N(xc), xc, ach);
    static const float xt[] = { 0.6f, -0.6f, 1.0f, -1.0f, 2.0f, 0.0f };
    static const double ath[] = { LN2, -LN2, INFINITY, -INFINITY, NAN, 0.0 };
    expect_near(OP_ATANH, N(xt), xt, ath);
}

/* the math ops are f32 only; the error names the op and the operand's type */
static void
test_types(void)
{
    TensorType ty = ir_type_make(DT_I32, 1, (int64_t[]){ 2 });
    static const int32_t v[] = { 1, 2 };
    NodeId c = ir_const_new(g, &ty, ir_storage_mem(g, v, sizeof v), at);
    ValueId in = ir_node_out(g, c, 0);
    NodeId n = ir_node_new(g, OP_ROUND, 1, &in, 1, at);
    CU_ASSERT_EQUAL(ir_infer_node(g, n, &d), -1);
    CU_ASSERT_EQUAL_FATAL(d.nerror, 1);
    CU_ASSERT_STRING_EQUAL(d.msg[0].msg, "round: expected f32, got i32");
    CU_ASSERT_EQUAL(d.msg[0].loc.line, 3);
}

static CU_TestInfo math_tests[] = {
    { "floor and ceil", test_floor_ceil },
    { "round half to even", test_round },
    { "sin cos tan", test_trig },
    { "asin acos atan", test_inverse_trig },
    { "sinh cosh asinh acosh atanh", test_hyperbolic },
    { "f32 only", test_types },
    CU_TEST_INFO_NULL,
};

static CU_SuiteInfo suites[] = {
    { .pName = "interpreter unary math", .pSetUpFunc = setup, .pTearDownFunc = teardown,
      .pTests = math_tests },
    CU_SUITE_INFO_NULL,
};

int
main(void)
{
    return kiln_cu_run(suites);
}
