/* frontend/onnx/norm.c — normalisations with no kiln op of their own, decomposed:
 * MeanVarianceNormalization over its axes and LRN over a window of channels. */
#include <math.h>
#include "onnx_internal.h"

/* MeanVarianceNormalization: (x - mean) / (sqrt(mean((x - mean)^2)) + 1e-9) over axes
 * (default [0, 2, 3]).  ONNX's function body takes the variance as E[x^2] - E[x]^2 and
 * adds the same 1e-9 to the deviation; the centred form here agrees within rounding and
 * cannot go negative. */
int
onnx_map_mvn(Imp *im)
{
    ValueId x = imp_need(im, 0);
    int64_t axes[KILN_MAX_RANK] = { 0, 2, 3 };
    int n = 3;
    if (!x)
        return -1;
    int r = imp_type(im, x)->rank;
    if (imp_attr(im, "axes") && (n = imp_attr_ints(im, "axes", axes, KILN_MAX_RANK)) < 0)
        return -1;
    if (n == 0)
        return imp_fail(im, "MeanVarianceNormalization: expected at least one axis, got 0");
    for (int i = 0; i < n; i++) {
        if (axes[i] < -r || axes[i] >= r)
            return imp_fail(im, "MeanVarianceNormalization: axis %lld out of range for "
                            "rank %d", (long long)axes[i], r);
        axes[i] += axes[i] < 0 ? r : 0;
        for (int j = 0; j < i; j++)
            if (axes[j] == axes[i])
                return imp_fail(im, "MeanVarianceNormalization: axis %lld given twice",
                                (long long)axes[i]);
    }
    ValueId d = imp_emit2(im, OP_SUB, x, imp_reduce(im, OP_REDUCE_MEAN, x, n, axes, 1));
    ValueId var = imp_reduce(im, OP_REDUCE_MEAN, imp_emit2(im, OP_MUL, d, d), n, axes, 1);
    ValueId sd = imp_emit2(im, OP_ADD, imp_emit1(im, OP_SQRT, var),
                           imp_scalar(im, DT_F32, 1e-9));
    ValueId y = imp_emit2(im, OP_DIV, d, sd);
    return y ? imp_set_out(im, 0, y) : -1;
}

/* LRN: x / (bias + alpha / size * sum of x^2 over the channels
 * [c - floor((size - 1) / 2), c + ceil((size - 1) / 2)])^beta, for [N, C, ...] inputs.
 * The squares are padded with zeros on axis 1, their windows gathered into a new axis 2
 * and summed over it. */
int
onnx_map_lrn(Imp *im)
{
    ValueId x = imp_need(im, 0);
    if (!x)
        return -1;
    const TensorType *t = imp_type(im, x);
    int64_t size = imp_attr_i(im, "size", 0);
    double alpha = imp_attr_f(im, "alpha", 1e-4), beta = imp_attr_f(im, "beta", 0.75);
    double bias = imp_attr_f(im, "bias", 1.0);
    if (!imp_attr(im, "size"))
        return imp_fail(im, "LRN: missing required attribute 'size'");
    if (size < 1 || size > INT32_MAX)
        return imp_fail(im, "LRN: expected size >= 1, got %lld", (long long)size);
    if (t->rank < 3 || t->rank >= KILN_MAX_RANK)
        return imp_unsupported(im, "LRN: expected an [N, C, ...] input of rank 3..%d, got "
                               "rank %d", KILN_MAX_RANK - 1, t->rank);
    int64_t red = 2;
    ValueId sq = imp_emit2(im, OP_MUL, x, x);
    ValueId win = onnx_window_gather(im, sq, 1, size, 1, 1, (size - 1) / 2, size / 2, 0.0);
    ValueId sum = imp_reduce(im, OP_REDUCE_SUM, win, 1, &red, 0);
    ValueId base = imp_emit2(im, OP_ADD, imp_scalar(im, DT_F32, bias),
                             imp_emit2(im, OP_MUL, sum,
                                       imp_scalar(im, DT_F32, alpha / (double)size)));
    ValueId y = imp_emit2(im, OP_DIV, x,
                          imp_emit2(im, OP_POW, base, imp_scalar(im, DT_F32, beta)));
    return y ? imp_set_out(im, 0, y) : -1;
}
