/* blas.c — the only file that includes cblas.h or calls OpenBLAS: row-major SGEMM, batched
 * SGEMM, and a one-time check that OpenBLAS picked a kernel worthy of this CPU. */
#ifndef _POSIX_C_SOURCE
#define _POSIX_C_SOURCE 200809L /* strcasecmp */
#endif
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include <cblas.h>

#include "kiln_rt.h"

/* OpenBLAS cores without AVX2 kernels; using one on an AVX2/AVX-512 CPU is a misdetection
 * (Debian's 0.3.21 reports Prescott on recent CPUs) that costs several times in speed. */
static const char *const slow_cores[] = {
    "prescott", "core2", "penryn", "dunnington", "nehalem", "atom", "katmai", "coppermine",
    "northwood", "banias", "opteron", "opteron_sse3", "barcelona", "bobcat", "sandybridge",
    "bulldozer", "piledriver", "steamroller", "nano", "generic",
};

/* OpenBLAS cores with AVX2 but not AVX-512 kernels: slow on an AVX-512 CPU (the SkylakeX
 * kernels are about twice as fast there).  Zen is left out: AMD CPUs with AVX-512 run
 * OpenBLAS's Zen kernels at nearly full speed. */
static const char *const avx2_cores[] = { "haswell", "skylake" };

static pthread_once_t check_once = PTHREAD_ONCE_INIT;

const char *
kiln_blas_corename(void)
{
    const char *s = openblas_get_corename();

    return s ? s : "unknown";
}

static void
check_core(void)
{
    const char *core = kiln_blas_corename(), *feat = NULL;
    int slow = 0;

    for (size_t i = 0; i < sizeof slow_cores / sizeof *slow_cores; i++)
        slow |= strcasecmp(core, slow_cores[i]) == 0;
#if defined(__x86_64__) || defined(__i386__)
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx512f"))
        feat = "avx512f";
    else if (__builtin_cpu_supports("avx2"))
        feat = "avx2";
    for (size_t i = 0; i < sizeof avx2_cores / sizeof *avx2_cores && feat; i++)
        slow |= strcmp(feat, "avx512f") == 0 && strcasecmp(core, avx2_cores[i]) == 0;
#endif
    if (!slow || !feat)
        return;
    if (strcmp(feat, "avx512f") == 0)
        fprintf(stderr, "kiln: warning: OpenBLAS uses core '%s' but this CPU supports avx512f; "
                        "set OPENBLAS_CORETYPE=SkylakeX (or Haswell) for full speed\n", core);
    else
        fprintf(stderr, "kiln: warning: OpenBLAS uses core '%s' but this CPU supports avx2; "
                        "set OPENBLAS_CORETYPE=Haswell for full speed\n", core);
}

void
kiln_blas_check(void)
{
    pthread_once(&check_once, check_core);
}

/* C = beta * C, where beta == 0 writes zeros without reading C. */
static void
scale_c(int64_t m, int64_t n, float beta, float *c, int64_t ldc)
{
    for (int64_t i = 0; i < m; i++)
        for (int64_t j = 0; j < n; j++)
            c[i * ldc + j] = beta == 0.0f ? 0.0f : beta * c[i * ldc + j];
}

/* Plain loop for shapes OpenBLAS's 32-bit ints cannot describe. */
static void
naive_sgemm(int ta, int tb, int64_t m, int64_t n, int64_t k, float alpha, const float *a,
            int64_t lda, const float *b, int64_t ldb, float *c, int64_t ldc)
{
    for (int64_t i = 0; i < m; i++) {
        for (int64_t j = 0; j < n; j++) {
            double s = 0;
            for (int64_t p = 0; p < k; p++)
                s += (double)(ta ? a[p * lda + i] : a[i * lda + p]) *
                     (tb ? b[j * ldb + p] : b[p * ldb + j]);
            c[i * ldc + j] += alpha * (float)s;
        }
    }
}

void
kiln_sgemm(int trans_a, int trans_b, int64_t m, int64_t n, int64_t k, float alpha,
           const float *a, int64_t lda, const float *b, int64_t ldb, float beta, float *c,
           int64_t ldc)
{
    if (m <= 0 || n <= 0)
        return;
    kiln_blas_check();
    /* k == 0 or alpha == 0: OpenBLAS would reject lda < 1; the result is just beta * C */
    if (k <= 0 || alpha == 0.0f) {
        scale_c(m, n, beta, c, ldc);
        return;
    }
    if (m > INT_MAX || n > INT_MAX || k > INT_MAX || lda > INT_MAX || ldb > INT_MAX ||
        ldc > INT_MAX) {
        scale_c(m, n, beta, c, ldc);
        naive_sgemm(trans_a, trans_b, m, n, k, alpha, a, lda, b, ldb, c, ldc);
        return;
    }
    cblas_sgemm(CblasRowMajor, trans_a ? CblasTrans : CblasNoTrans,
                trans_b ? CblasTrans : CblasNoTrans, (blasint)m, (blasint)n, (blasint)k, alpha,
                a, (blasint)lda, b, (blasint)ldb, beta, c, (blasint)ldc);
}

void
kiln_batched_sgemm(int64_t batch, int trans_a, int trans_b, int64_t m, int64_t n, int64_t k,
                   float alpha, const float *a, int64_t lda, int64_t stride_a, const float *b,
                   int64_t ldb, int64_t stride_b, float beta, float *c, int64_t ldc,
                   int64_t stride_c)
{
    for (int64_t i = 0; i < batch; i++)
        kiln_sgemm(trans_a, trans_b, m, n, k, alpha, a + i * stride_a, lda, b + i * stride_b,
                   ldb, beta, c + i * stride_c, ldc);
}
