/* tests/unit/test_onnx_random.c — constants the ONNX importer draws or generates at compile
 * time: the MT19937 of random.c against NumPy's legacy RandomState, training-mode Dropout
 * (mask from the seed attribute), and Resize's tf_crop_and_resize extrapolation masks, each
 * run through the interpreter and checked against NumPy or the ONNX reference, plus their
 * error paths. */
#define _XOPEN_SOURCE 700
#include <CUnit/Basic.h>
#include "cu_run.h"
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "onnx_internal.h"
#include "onnx_model.h"

/* ------------------------------------------------------------------ MT19937 */

/* State words after seeding, from
 * python3 -c "import numpy as np; s = np.random.RandomState(1).get_state()[1];
 *             print(s[0], s[1], s[623])" */
static void
test_mt_seed_state(void)
{
    OnnxMt r;
    onnx_mt_seed(&r, 1);
    CU_ASSERT_EQUAL(r.mt[0], 1u);
    CU_ASSERT_EQUAL(r.mt[1], 1812433254u);
    CU_ASSERT_EQUAL(r.mt[623], 2069268389u);
}

/* First three 32-bit outputs, from
 * python3 -c "import numpy as np; print(np.random.RandomState(SEED).randint(0, 2**32,
 *             size=3, dtype=np.uint32).tolist())"
 * (5489 is the reference implementation's default seed: 3499211612 is its known first
 * output). */
static void
test_mt_raw(void)
{
    static const struct { uint32_t seed, want[3]; } cases[] = {
        { 0,          { 2357136044u, 2546248239u, 3071714933u } },
        { 5489,       { 3499211612u, 581869302u, 3890346734u } },
        { 42,         { 1608637542u, 3421126067u, 4083286876u } },
        { 4294967295u, { 419326371u, 479346978u, 3918654476u } },
    };
    for (size_t c = 0; c < sizeof cases / sizeof *cases; c++) {
        OnnxMt r;
        onnx_mt_seed(&r, cases[c].seed);
        for (int k = 0; k < 3; k++)
            CU_ASSERT_EQUAL(onnx_mt_next(&r), cases[c].want[k]);
    }
}

/* Doubles 0, 1, 2, 311, 312 (the first after a state refill) and 999, exactly, from
 * python3 -c "import numpy as np; u = np.random.RandomState(SEED).random_sample(1000);
 *             print([repr(float(u[i])) for i in (0, 1, 2, 311, 312, 999)])" */
static void
test_mt_uniform(void)
{
    static const int at[6] = { 0, 1, 2, 311, 312, 999 };
    static const struct { uint32_t seed; double want[6]; } cases[] = {
        { 0, { 0.5488135039273248, 0.7151893663724195, 0.6027633760716439,
               0.14694664540037505, 0.07952208258675575, 0.6771411441114241 } },
        { 42, { 0.3745401188473625, 0.9507143064099162, 0.7319939418114051,
                0.07845638134226596, 0.02535074341545751, 0.44600577295795574 } },
        { 4294967295u, { 0.0976320289940138, 0.9123828453026218, 0.78903530185164,
                         0.2845819535787153, 0.89887815082878, 0.556626859384112 } },
    };
    for (size_t c = 0; c < sizeof cases / sizeof *cases; c++) {
        OnnxMt r;
        onnx_mt_seed(&r, cases[c].seed);
        for (int i = 0, k = 0; i < 1000; i++) {
            double u = onnx_mt_uniform(&r);
            CU_ASSERT(u >= 0 && u < 1);
            if (k < 6 && i == at[k])
                CU_ASSERT_DOUBLE_EQUAL(u, cases[c].want[k++], 0);
        }
    }
}

/* ------------------------------------------------------------------ Dropout */

enum { E_FLOAT = 1, E_INT64 = 7, E_BOOL = 9 };   /* ONNX TensorProto element types */

static const int64_t D23[2] = { 2, 3 };
static const float X6[6] = { 1, 2, 3, 4, 5, 6 };

/* Dropout(x[2,3], r, t) -> y, z at opset 13; r and t initializers; the seed attribute
 * when has_seed. */
static Model
dropout(float ratio, int train, int64_t seed, int has_seed)
{
    static const char *const in[3] = { "x", "r", "t" }, *const out[2] = { "y", "z" };
    Model m = model(13, "Dropout", 3, in, 2, out);
    uint8_t t = (uint8_t)train;
    add_io(&m, 0, "x", E_FLOAT, 2, D23);
    add_io(&m, 1, "y", E_FLOAT, 2, D23);
    add_io(&m, 1, "z", E_BOOL, 2, D23);
    add_init(&m, "r", E_FLOAT, 0, NULL, &ratio, 4);
    add_init(&m, "t", E_BOOL, 0, NULL, &t, 1);
    if (has_seed)
        attr_i(&m, "seed", seed);
    return m;
}

/* The mask is NumPy's: python3 -c "import numpy as np; np.random.seed(7);
 * print((np.random.uniform(0, 1, (2, 3)) >= 0.5).astype(int).tolist())"
 * -> [[0, 1, 0], [1, 1, 1]]; y = x * mask / (1 - 0.5). */
static void
test_dropout_training(void)
{
    static const uint8_t mask[6] = { 0, 1, 0, 1, 1, 1 };
    static const float y[6] = { 0, 4, 0, 8, 10, 12 };
    Model m = dropout(0.5f, 1, 7, 1);
    expect_run(&m, X6, 0, y, sizeof y);
    m = dropout(0.5f, 1, 7, 1);
    expect_run(&m, X6, 1, mask, sizeof mask);
}

/* ratio 0 (even in training mode, without a seed) and inference mode: identity, mask
 * all true. */
static void
test_dropout_identity(void)
{
    static const uint8_t ones[6] = { 1, 1, 1, 1, 1, 1 };
    Model m = dropout(0, 1, 0, 0);
    expect_run(&m, X6, 0, X6, sizeof X6);
    m = dropout(0, 1, 0, 0);
    expect_run(&m, X6, 1, ones, sizeof ones);
    m = dropout(0.5f, 0, 0, 0);
    expect_run(&m, X6, 0, X6, sizeof X6);
}

static void
test_dropout_errors(void)
{
    Model m = dropout(0.5f, 1, 0, 0);
    expect_error(&m, "node 'n1' (Dropout)");
    m = dropout(0.5f, 1, 0, 0);
    expect_error(&m, "training-mode Dropout without a seed: kiln draws the mask at compile "
                     "time and needs the seed attribute");
    m = dropout(0.5f, 1, -1, 1);
    expect_error(&m, "Dropout: expected a seed in [0, 4294967295] (NumPy's RandomState), "
                     "got -1");
    m = dropout(0.5f, 1, 4294967296, 1);
    expect_error(&m, "got 4294967296");
    m = dropout(1.0f, 1, 0, 1);
    expect_error(&m, "Dropout: expected a ratio in [0, 1), got 1");
    m = dropout(-0.25f, 1, 0, 1);
    expect_error(&m, "Dropout: expected a ratio in [0, 1), got -0.25");
    /* training_mode fed by a graph input: not known at compile time */
    static const char *const in[3] = { "x", "r", "t" }, *const out[1] = { "y" };
    static const float r = 0.5f;
    m = model(13, "Dropout", 3, in, 1, out);
    add_io(&m, 0, "x", E_FLOAT, 2, D23);
    add_io(&m, 0, "t", E_BOOL, 0, NULL);
    add_io(&m, 1, "y", E_FLOAT, 2, D23);
    add_init(&m, "r", E_FLOAT, 0, NULL, &r, 4);
    attr_i(&m, "seed", 0);
    expect_error(&m, "constant");
}

/* ------------------------------------------------------------------ BatchNormalization */

/* Before opset 14 the extra results (training statistics) are not supported. */
static void
test_batchnorm_old_training(void)
{
    static const char *const in[5] = { "x", "s", "b", "m", "v" };
    static const char *const out[2] = { "y", "rm" };
    static const int64_t d4[4] = { 1, 2, 1, 1 }, d1 = 2;
    static const float one[2] = { 1, 1 };
    Model m = model(9, "BatchNormalization", 5, in, 2, out);
    add_io(&m, 0, "x", E_FLOAT, 4, d4);
    add_io(&m, 1, "y", E_FLOAT, 4, d4);
    add_io(&m, 1, "rm", E_FLOAT, 1, &d1);
    for (int k = 1; k < 5; k++)
        add_init(&m, in[k], E_FLOAT, 1, &d1, one, sizeof one);
    expect_error(&m, "BatchNormalization: result 1 is only defined in training mode, which "
                     "kiln supports from opset 14");
}

/* ------------------------------------------------------------------ Resize */

static const int64_t D4[4] = { 1, 1, 4, 4 };

/* Resize(X[1,1,4,4], roi, "", sizes) with tf_crop_and_resize, extrapolation 10 */
static Model
crop(const char *mode, const float *roi, const int64_t *sizes)
{
    static const char *const in[4] = { "x", "roi", "", "sizes" }, *const out[1] = { "y" };
    static const int64_t n8 = 8, n4 = 4;
    Model m = model(13, "Resize", 4, in, 1, out);
    add_io(&m, 0, "x", E_FLOAT, 4, D4);
    add_io(&m, 1, "y", E_FLOAT, 4, sizes);
    add_init(&m, "roi", E_FLOAT, 1, &n8, roi, 8 * sizeof *roi);
    add_init(&m, "sizes", E_INT64, 1, &n4, sizes, 4 * sizeof *sizes);
    attr_s(&m, "mode", mode);
    attr_s(&m, "coordinate_transformation_mode", "tf_crop_and_resize");
    attr_f(&m, "extrapolation_value", 10);
    return m;
}

/* Expected values from the ONNX reference (onnx 1.23, onnx.reference.ReferenceEvaluator on
 * the same one-node model, X = arange(16).reshape(1, 1, 4, 4)).  Nearest: row coordinates
 * 1.2, 2.4, 3.6 and column coordinates 1.8, 3.45 leave only (0, 0) = X[1, 2] = 6 inside.
 * Linear with one output row: its coordinate is the roi's middle 0.4 * 3 = 1.2; columns
 * -1.5 (outside), 0 (4 * 0.8 + 8 * 0.2 = 4.8) and 1.5 (6.3). */
static void
test_resize_crop(void)
{
    static const float roi_n[8] = { 0, 0, 0.4f, 0.6f, 1, 1, 1.2f, 1.7f };
    static const float roi_l[8] = { 0, 0, 0.2f, -0.5f, 1, 1, 0.6f, 0.5f };
    static const int64_t s33[4] = { 1, 1, 3, 3 }, s13[4] = { 1, 1, 1, 3 };
    static const float want_n[9] = { 6, 10, 10, 10, 10, 10, 10, 10, 10 };
    static const float want_l[3] = { 10, 4.8f, 6.3f };
    float x[16];
    for (int i = 0; i < 16; i++)
        x[i] = (float)i;
    Model m = crop("nearest", roi_n, s33);
    expect_run(&m, x, 0, want_n, sizeof want_n);
    m = crop("linear", roi_l, s13);
    Diag d;
    diag_init(&d);
    Graph *g = import(&m, &d);
    CU_ASSERT_PTR_NOT_NULL_FATAL(g);
    IrTensor in = { g->values[g->inputs[0]].type, x }, out;
    int exit_taken;
    CU_ASSERT_EQUAL_FATAL(ir_interp_run(g, &in, &out, &exit_taken, &d), 0);
    for (int i = 0; i < 3; i++)
        CU_ASSERT_DOUBLE_EQUAL(((float *)out.data)[i], want_l[i], 1e-5);
    ir_tensor_free(&out);
    ir_graph_free(g);
    diag_free(&d);
    pool_free();
}

static void
test_resize_errors(void)
{
    static const float roi[8] = { 0, 0, 0.4f, 0.6f, 1, 1, 1.2f, 1.7f };
    static const int64_t s33[4] = { 1, 1, 3, 3 };
    Model m = crop("linear", roi, s33);
    m.n->input[1][0] = 0;                        /* roi absent */
    expect_error(&m, "Resize: tf_crop_and_resize needs the roi operand");
    m = crop("linear", roi, s33);
    m.g->initializer[0]->n_dims = 1;
    m.g->initializer[0]->dims[0] = 4;           /* 4 values for rank 4 */
    m.g->initializer[0]->raw_data.len = 16;
    expect_error(&m, "Resize: expected an f32 roi of 8 values, got f32 of 4");
    m = crop("linear", roi, s33);
    m.n->attribute[1]->s.data = (uint8_t *)tstr("sideways");
    m.n->attribute[1]->s.len = 8;
    expect_error(&m, "Resize: coordinate_transformation_mode 'sideways' is not supported");
    m = crop("linear", roi, s33);
    m.g->input[0]->type->tensor_type->shape->dim[2]->dim_value = 0;
    expect_error(&m, "Resize: expected a non-empty input, got size 0 along axis 2");
    /* scales with a roi that is not [0, 1]: the spec's output size and the reference's
     * differ, so kiln asks for sizes */
    static const float sc[4] = { 1, 1, 0.75f, 0.75f };
    static const int64_t n4 = 4;
    m = crop("linear", roi, s33);
    m.n->input[2] = tstr("scales");
    m.n->input[3][0] = 0;
    add_init(&m, "scales", E_FLOAT, 1, &n4, sc, sizeof sc);
    expect_error(&m, "Resize: tf_crop_and_resize with scales and a roi narrower or wider "
                     "than the input is not supported (give sizes)");
}

/* ------------------------------------------------------------------ main */

static CU_TestInfo mt_tests[] = {
    { "state after seeding", test_mt_seed_state },
    { "raw outputs", test_mt_raw },
    { "uniform doubles across refills", test_mt_uniform },
    CU_TEST_INFO_NULL,
};

static CU_TestInfo import_tests[] = {
    { "Dropout training mask", test_dropout_training },
    { "Dropout identity cases", test_dropout_identity },
    { "Dropout errors", test_dropout_errors },
    { "BatchNormalization training before opset 14", test_batchnorm_old_training },
    { "Resize tf_crop_and_resize", test_resize_crop },
    { "Resize tf_crop_and_resize errors", test_resize_errors },
    CU_TEST_INFO_NULL,
};

static CU_SuiteInfo suites[] = {
    { .pName = "mt19937 (NumPy RandomState)", .pTests = mt_tests },
    { .pName = "onnx compile-time constants", .pTests = import_tests },
    CU_SUITE_INFO_NULL,
};

int
main(void)
{
    snprintf(tmpdir, sizeof tmpdir, "/tmp/kiln_onnx_rand_XXXXXX");
    if (!mkdtemp(tmpdir))
        return 1;
    int fails = kiln_cu_run(suites);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
    if (system(cmd) != 0)
        fails++;
    return fails ? 1 : 0;
}
