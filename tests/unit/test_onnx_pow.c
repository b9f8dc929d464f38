/* tests/unit/test_onnx_pow.c — the ONNX Pow and Mod mappings beyond the node tests: an
 * integer base with an f32 exponent (exact past 2^24 for integral exponents), an i32 base
 * with an i64 exponent, and Mod's fmod attribute rules.  Models are built with
 * onnx_model.h; expected values are those of ONNX Runtime (pow in double, truncated), by hand. */
#define _XOPEN_SOURCE 700
#include <CUnit/Basic.h>
#include "cu_run.h"
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "onnx_internal.h"
#include "onnx_model.h"

enum { NV = 5 };                       /* elements of every operand */

/* Writes the model z = op(x, y) (x, z of type ex, y of type ey; fmod >= 0 sets Mod's
 * attribute) and imports it; NULL on an import error (left in d). */
static Graph *
import_binary(const char *op, int ex, int ey, int64_t fmod, Diag *d)
{
    static const char *const in[2] = { "x", "y" }, *const out[1] = { "z" };
    static const int64_t nv = NV;
    Model m = model(15, op, 2, in, 1, out);
    add_io(&m, 0, "x", ex, 1, &nv);
    add_io(&m, 0, "y", ey, 1, &nv);
    add_io(&m, 1, "z", ex, 1, &nv);
    if (fmod >= 0)
        attr_i(&m, "fmod", fmod);
    Graph *g = import(&m, d);
    pool_free();
    return g;
}

/* Runs g on x, y; *z gets the output (caller frees). */
static void
run2(Graph *g, void *x, void *y, IrTensor *z, Diag *d)
{
    IrTensor in[2] = { { g->values[g->inputs[0]].type, x }, { g->values[g->inputs[1]].type, y } };
    int exit_taken;
    CU_ASSERT_EQUAL_FATAL(ir_interp_run(g, in, z, &exit_taken, d), 0);
}

/* ORT: trunc(pow((double)x, y)).  3^20 = 3486784401 is past 2^24 (f32 would round it to
 * 3486784512); 2^0.5 -> 1; 7^-1 -> 0; 5^2.5 = 55.9 -> 55. */
static void
test_int_base_float_exponent(void)
{
    Diag d;
    diag_init(&d);
    Graph *g = import_binary("Pow", ONNX__TENSOR_PROTO__DATA_TYPE__INT64,
                             ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT, -1, &d);
    CU_ASSERT_PTR_NOT_NULL_FATAL(g);
    int64_t x[NV] = { 3, -1, 2, 7, 5 }, want[NV] = { 3486784401, -1, 1, 0, 55 };
    float y[NV] = { 20, 3, 0.5f, -1, 2.5f };
    IrTensor z;
    run2(g, x, y, &z, &d);
    CU_ASSERT_EQUAL(z.type.dtype, DT_I64);
    for (int i = 0; i < NV; i++)
        CU_ASSERT_EQUAL(((int64_t *)z.data)[i], want[i]);
    ir_tensor_free(&z);
    ir_graph_free(g);
    diag_free(&d);
}

/* An i32 base with an i64 exponent computes in i64: 2^31 wraps to INT32_MIN as in i32. */
static void
test_i32_base_i64_exponent(void)
{
    Diag d;
    diag_init(&d);
    Graph *g = import_binary("Pow", ONNX__TENSOR_PROTO__DATA_TYPE__INT32,
                             ONNX__TENSOR_PROTO__DATA_TYPE__INT64, -1, &d);
    CU_ASSERT_PTR_NOT_NULL_FATAL(g);
    int32_t x[NV] = { 3, -2, 2, -1, 10 }, want[NV] = { 81, -8, INT32_MIN, -1, 0 };
    int64_t y[NV] = { 4, 3, 31, 5, -2 };
    IrTensor z;
    run2(g, x, y, &z, &d);
    CU_ASSERT_EQUAL(z.type.dtype, DT_I32);
    for (int i = 0; i < NV; i++)
        CU_ASSERT_EQUAL(((int32_t *)z.data)[i], want[i]);
    ir_tensor_free(&z);
    ir_graph_free(g);
    diag_free(&d);
}

/* Mod: fmod = 0 on f32 is invalid ONNX, fmod must be 0 or 1; integer Mod by 0 gives 0. */
static void
test_mod_rules(void)
{
    Diag d;
    diag_init(&d);
    int f = ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT, i = ONNX__TENSOR_PROTO__DATA_TYPE__INT32;
    CU_ASSERT_PTR_NULL(import_binary("Mod", f, f, 0, &d));
    CU_ASSERT_EQUAL_FATAL(d.nerror, 1);
    CU_ASSERT_PTR_NOT_NULL(strstr(d.msg[0].msg, "Mod: expected fmod = 1 for f32 operands, got 0"));
    CU_ASSERT_PTR_NULL(import_binary("Mod", i, i, 2, &d));
    CU_ASSERT_EQUAL_FATAL(d.nerror, 2);
    CU_ASSERT_PTR_NOT_NULL(strstr(d.msg[1].msg, "Mod: expected fmod 0 or 1, got 2"));
    diag_free(&d);
    diag_init(&d);
    Graph *g = import_binary("Mod", i, i, -1, &d);
    CU_ASSERT_PTR_NOT_NULL_FATAL(g);
    int32_t x[NV] = { -7, 7, -7, 7, 5 }, y[NV] = { 3, 3, -3, -3, 0 };
    int32_t want[NV] = { 2, 1, -1, -2, 0 };
    IrTensor z;
    run2(g, x, y, &z, &d);
    for (int k = 0; k < NV; k++)
        CU_ASSERT_EQUAL(((int32_t *)z.data)[k], want[k]);
    ir_tensor_free(&z);
    ir_graph_free(g);
    diag_free(&d);
}

static CU_TestInfo pow_tests[] = {
    { "integer base, f32 exponent", test_int_base_float_exponent },
    { "i32 base, i64 exponent", test_i32_base_i64_exponent },
    { "Mod fmod attribute", test_mod_rules },
    CU_TEST_INFO_NULL,
};

static CU_SuiteInfo suites[] = {
    { .pName = "onnx pow and mod", .pTests = pow_tests },
    CU_SUITE_INFO_NULL,
};

int
main(void)
{
    snprintf(tmpdir, sizeof tmpdir, "/tmp/kiln_onnx_pow_XXXXXX");
    if (!mkdtemp(tmpdir))
        return 1;
    int fails = kiln_cu_run(suites);
    char path[128];
    snprintf(path, sizeof path, "%s/m.onnx", tmpdir);
    unlink(path);
    if (rmdir(tmpdir) != 0)
        fails++;
    return fails ? 1 : 0;
}
