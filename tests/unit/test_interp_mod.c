/* tests/unit/test_interp_mod.c — the interpreter's mod, fmod and integer pow against values
 * computed by hand: signs of the remainder, zero and -1 divisors, the most negative
 * dividend, broadcasting, wrapping powers and negative exponents. */
#include <CUnit/Basic.h>
#include "cu_run.h"
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "ir.h"
#include "ir_fixture.h"

static const SrcLoc at = { "model.kiln", 2, 5 };


/* A constant of dtype dt and shape dims[0..rank) from int64 (or, for f32, float) values. */
static ValueId
cst(DType dt, int rank, const int64_t *dims, const int64_t *iv, const float *fv)
{
    TensorType t = ir_type_make(dt, rank, dims);
    int64_t n, bytes;
    ir_type_numel(&t, &n);
    ir_type_bytes(&t, &bytes);
    unsigned char *buf = calloc(1, (size_t)bytes + 1);
    for (int64_t i = 0; i < n; i++) {
        switch (dt) {
        case DT_F32: ((float *)buf)[i] = fv[i]; break;
        case DT_I32: ((int32_t *)buf)[i] = (int32_t)iv[i]; break;
        case DT_I64: ((int64_t *)buf)[i] = iv[i]; break;
        case DT_I8:  ((int8_t *)buf)[i] = (int8_t)iv[i]; break;
        case DT_U8:  ((uint8_t *)buf)[i] = (uint8_t)iv[i]; break;
        default: break;
        }
    }
    NodeId c = ir_const_new(g, &t, ir_storage_mem(g, buf, (size_t)bytes), at);
    free(buf);
    return ir_node_out(g, c, 0);
}

static ValueId
ivec(DType dt, int n, const int64_t *v)
{
    return cst(dt, 1, (int64_t[]){ n }, v, NULL);
}

static ValueId
fvec(int n, const float *v)
{
    return cst(DT_F32, 1, (int64_t[]){ n }, NULL, v);
}

/* op(x, y), shape-inferred, run as the graph's only output into *t (caller frees). */
static void
eval(Op o, ValueId x, ValueId y, IrTensor *t)
{
    ValueId in[2] = { x, y };
    run_sole_output(ir_node_new(g, o, 2, in, 1, at), t);
}

/* Element i of an integer tensor, exactly. */
static int64_t
geti(const IrTensor *t, int64_t i)
{
    switch (t->type.dtype) {
    case DT_I32: return ((const int32_t *)t->data)[i];
    case DT_I64: return ((const int64_t *)t->data)[i];
    case DT_I8:  return ((const int8_t *)t->data)[i];
    case DT_U8:  return ((const uint8_t *)t->data)[i];
    default:     CU_FAIL("not an integer tensor"); return 0;
    }
}

/* op(x, y) of integer vectors gives want[0..n) exactly. */
static void
expect_i(Op o, DType dt, int n, const int64_t *x, const int64_t *y, const int64_t *want)
{
    IrTensor t;
    eval(o, ivec(dt, n, x), ivec(dt, n, y), &t);
    CU_ASSERT_EQUAL(t.type.dtype, dt);
    for (int i = 0; i < n; i++) {
        if (geti(&t, i) != want[i])
            fprintf(stderr, "\n%s %s [%d]: got %lld, want %lld\n", op_name[o],
                    ir_dtype_name(dt), i, (long long)geti(&t, i), (long long)want[i]);
        CU_ASSERT_EQUAL(geti(&t, i), want[i]);
    }
    ir_tensor_free(&t);
}

static void
test_int_mod(void)
{
    static const int64_t x[] = { -7, 7, -7, 7, 0, 5, -2147483647 - 1, 9, 6 };
    static const int64_t y[] = { 3, 3, -3, -3, 3, 0, -1, 0, -3 };
    static const int64_t mod[] = { 2, 1, -1, -2, 0, 0, 0, 0, 0 };
    static const int64_t fmd[] = { -1, 1, -1, 1, 0, 0, 0, 0, 0 };
    expect_i(OP_MOD, DT_I32, N(x), x, y, mod);
    expect_i(OP_FMOD, DT_I32, N(x), x, y, fmd);
    expect_i(OP_MOD, DT_I64, N(x), x, y, mod);
    expect_i(OP_FMOD, DT_I64, N(x), x, y, fmd);
    /* the most negative i64 by -1 (a trap in C) and by 3: -2^63 = -3074457345618258603*3 + 1 */
    static const int64_t x64[] = { INT64_MIN, INT64_MIN, INT64_MAX };
    static const int64_t y64[] = { -1, 3, -2 };
    static const int64_t m64[] = { 0, 1, -1 }, f64[] = { 0, -2, 1 };
    expect_i(OP_MOD, DT_I64, 3, x64, y64, m64);
    expect_i(OP_FMOD, DT_I64, 3, x64, y64, f64);
    /* i8: -128 = -43*3 + 1; 127 = -25*-5 + 2 */
    static const int64_t x8[] = { -128, -128, 127, 127 }, y8[] = { -1, 3, -5, 0 };
    static const int64_t m8[] = { 0, 1, -3, 0 }, f8[] = { 0, -2, 2, 0 };
    expect_i(OP_MOD, DT_I8, 4, x8, y8, m8);
    expect_i(OP_FMOD, DT_I8, 4, x8, y8, f8);
    /* u8: 200 = 28*7 + 4, 255 = 1*255 */
    static const int64_t xu[] = { 200, 255, 13, 0 }, yu[] = { 7, 255, 0, 9 };
    static const int64_t mu[] = { 4, 0, 0, 0 };
    expect_i(OP_MOD, DT_U8, 4, xu, yu, mu);
    expect_i(OP_FMOD, DT_U8, 4, xu, yu, mu);
}

static void
test_float_mod(void)
{
    static const float x[] = { 5.5f, 5.5f, -5.5f, -5.5f, 4, -4, 1, 7.25f, -1 };
    static const float y[] = { -2, 2, 2, -2, -2, 2, 0, INFINITY, INFINITY };
    static const float mod[] = { -0.5f, 1.5f, 0.5f, -1.5f, -0.0f, 0.0f, NAN, 7.25f, INFINITY };
    static const float fmd[] = { 1.5f, 1.5f, -1.5f, -1.5f, 0.0f, -0.0f, NAN, 7.25f, -1 };
    for (int k = 0; k < 2; k++) {
        IrTensor t;
        const float *want = k ? fmd : mod;
        eval(k ? OP_FMOD : OP_MOD, fvec(N(x), x), fvec(N(y), y), &t);
        for (int i = 0; i < N(x); i++) {
            float got = ((const float *)t.data)[i];
            int ok = isnan(want[i]) ? isnan(got)
                                    : got == want[i] && !signbit(got) == !signbit(want[i]);
            CU_ASSERT(ok);
        }
        ir_tensor_free(&t);
    }
}

/* x [2,1] against y [3] broadcasts to [2,3]: mod(x_i, y_j) row by row. */
static void
test_mod_broadcast(void)
{
    IrTensor t;
    ValueId x = cst(DT_I32, 2, (int64_t[]){ 2, 1 }, (int64_t[]){ -7, 10 }, NULL);
    ValueId y = ivec(DT_I32, 3, (int64_t[]){ 4, -4, 3 });
    eval(OP_MOD, x, y, &t);
    CU_ASSERT_EQUAL(t.type.rank, 2);
    CU_ASSERT_EQUAL(t.type.dims[0], 2);
    CU_ASSERT_EQUAL(t.type.dims[1], 3);
    static const int64_t want[] = { 1, -3, 2, 2, -2, 1 };
    for (int i = 0; i < 6; i++)
        CU_ASSERT_EQUAL(geti(&t, i), want[i]);
    ir_tensor_free(&t);
}

static void
test_int_pow(void)
{
    /* 3^20 = 3486784401 = 2^32 - 808182895; 2^31 wraps to INT32_MIN; 2^32 to 0 */
    static const int64_t x[] = { 3, -2, 2, 3, 2, 0, 7, 2, 1, -1, -1, 0, -3 };
    static const int64_t y[] = { 4, 3, 31, 20, 32, 0, 0, -1, -5, -3, -4, -1, 2147483647 };
    static const int64_t w32[] = { 81, -8, -2147483647 - 1, -808182895, 0, 1, 1, 0, 1, -1, 1, 0,
                                   1431655765 };
    expect_i(OP_POW, DT_I32, N(x), x, y, w32);
    /* i64: 2^62 exact, 2^63 wraps to INT64_MIN, 3^40 = 2^64 - 6289078614652622815 */
    static const int64_t x64[] = { 2, 2, 3, -2, 10, -1, 5 };
    static const int64_t y64[] = { 62, 63, 40, 63, 18, INT64_MAX, -2 };
    static const int64_t w64[] = { INT64_C(4611686018427387904), INT64_MIN,
                                   -INT64_C(6289078614652622815), INT64_MIN,
                                   INT64_C(1000000000000000000), -1, 0 };
    expect_i(OP_POW, DT_I64, N(x64), x64, y64, w64);
}

/* pow accepts f32, i32 and i64 only; mod and fmod every numeric type but not bool. */
static void
test_types(void)
{
    ValueId u = ivec(DT_U8, 2, (int64_t[]){ 1, 2 });
    ValueId in[2] = { u, u };
    NodeId n = ir_node_new(g, OP_POW, 2, in, 1, at);
    CU_ASSERT_EQUAL(ir_infer_node(g, n, &d), -1);
    CU_ASSERT_EQUAL_FATAL(d.nerror, 1);
    CU_ASSERT_STRING_EQUAL(d.msg[0].msg, "pow: operand 0: expected f32, i32 or i64, got u8");
}

static CU_TestInfo mod_tests[] = {
    { "integer mod and fmod", test_int_mod },
    { "float mod and fmod", test_float_mod },
    { "mod broadcasts", test_mod_broadcast },
    { "integer pow", test_int_pow },
    { "pow types", test_types },
    CU_TEST_INFO_NULL,
};

static CU_SuiteInfo suites[] = {
    { .pName = "interpreter mod and pow", .pSetUpFunc = setup, .pTearDownFunc = teardown,
      .pTests = mod_tests },
    CU_SUITE_INFO_NULL,
};

int
main(void)
{
    return kiln_cu_run(suites);
}
