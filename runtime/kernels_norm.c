/* kernels_norm.c — row-wise softmax, log-softmax, layer norm and RMS norm over the last,
 * contiguous dimension; each parallel over rows and safe in place (y == x). */
#include <math.h>

#include "kiln_rt.h"

/* Row job shared by every kernel here. */
typedef struct {
    int64_t cols;
    const float *x, *gamma, *beta;
    float eps;
    float *y;
} Rows;

static float
row_max(const float *x, int64_t n)
{
    float m = -INFINITY;

    for (int64_t j = 0; j < n; j++)
        m = x[j] > m ? x[j] : m;
    return m;
}

static void
softmax_rows(void *arg, int64_t r0, int64_t r1)
{
    const Rows *j = arg;

    for (int64_t r = r0; r < r1; r++) {
        const float *x = j->x + r * j->cols;
        float *y = j->y + r * j->cols;
        float m = row_max(x, j->cols); /* subtracting the max keeps expf from overflowing */
        double s = 0.0;
        for (int64_t c = 0; c < j->cols; c++) {
            y[c] = expf(x[c] - m);
            s += y[c];
        }
        float inv = (float)(1.0 / s);
        for (int64_t c = 0; c < j->cols; c++)
            y[c] *= inv;
    }
}

void
kiln_softmax_f32(int64_t rows, int64_t cols, const float *x, float *y,
                 const kiln_run_opts *opts)
{
    Rows j = {cols, x, NULL, NULL, 0.0f, y};

    kiln_parallel_for(opts, rows, softmax_rows, &j);
}

static void
log_softmax_rows(void *arg, int64_t r0, int64_t r1)
{
    const Rows *j = arg;

    for (int64_t r = r0; r < r1; r++) {
        const float *x = j->x + r * j->cols;
        float *y = j->y + r * j->cols;
        float m = row_max(x, j->cols);
        double s = 0.0;
        for (int64_t c = 0; c < j->cols; c++)
            s += expf(x[c] - m);
        float lse = m + (float)log(s);
        for (int64_t c = 0; c < j->cols; c++)
            y[c] = x[c] - lse;
    }
}

void
kiln_log_softmax_f32(int64_t rows, int64_t cols, const float *x, float *y,
                     const kiln_run_opts *opts)
{
    Rows j = {cols, x, NULL, NULL, 0.0f, y};

    kiln_parallel_for(opts, rows, log_softmax_rows, &j);
}

/* y = y * gamma + beta, skipping absent terms; separate loops so each vectorises. */
static void
affine(float *restrict y, int64_t n, const float *restrict gamma, const float *restrict beta)
{
    if (gamma)
        for (int64_t c = 0; c < n; c++)
            y[c] *= gamma[c];
    if (beta)
        for (int64_t c = 0; c < n; c++)
            y[c] += beta[c];
}

static void
layernorm_rows(void *arg, int64_t r0, int64_t r1)
{
    const Rows *j = arg;

    for (int64_t r = r0; r < r1; r++) {
        const float *x = j->x + r * j->cols;
        float *y = j->y + r * j->cols;
        double mean = 0.0, var = 0.0;
        for (int64_t c = 0; c < j->cols; c++)
            mean += x[c];
        mean /= (double)j->cols;
        /* two passes: E[x^2] - E[x]^2 cancels catastrophically when |mean| >> std */
        for (int64_t c = 0; c < j->cols; c++)
            var += ((double)x[c] - mean) * ((double)x[c] - mean);
        float mu = (float)mean, rstd = (float)(1.0 / sqrt(var / (double)j->cols + j->eps));
        for (int64_t c = 0; c < j->cols; c++)
            y[c] = (x[c] - mu) * rstd;
        affine(y, j->cols, j->gamma, j->beta);
    }
}

void
kiln_layernorm_f32(int64_t rows, int64_t cols, const float *x, const float *gamma,
                   const float *beta, float eps, float *y, const kiln_run_opts *opts)
{
    Rows j = {cols, x, gamma, beta, eps, y};

    kiln_parallel_for(opts, rows, layernorm_rows, &j);
}

static void
rmsnorm_rows(void *arg, int64_t r0, int64_t r1)
{
    const Rows *j = arg;

    for (int64_t r = r0; r < r1; r++) {
        const float *x = j->x + r * j->cols;
        float *y = j->y + r * j->cols;
        double ss = 0.0;
        for (int64_t c = 0; c < j->cols; c++)
            ss += (double)x[c] * x[c];
        float rs = (float)(1.0 / sqrt(ss / (double)j->cols + j->eps));
        for (int64_t c = 0; c < j->cols; c++)
            y[c] = x[c] * rs;
        affine(y, j->cols, j->gamma, NULL);
    }
}

void
kiln_rmsnorm_f32(int64_t rows, int64_t cols, const float *x, const float *gamma, float eps,
                 float *y, const kiln_run_opts *opts)
{
    Rows j = {cols, x, gamma, NULL, eps, y};

    kiln_parallel_for(opts, rows, rmsnorm_rows, &j);
}
