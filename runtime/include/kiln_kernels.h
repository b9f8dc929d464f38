/* kiln_kernels.h — fp32 kernels called by generated code for ops too big to inline.
 * Included by kiln_rt.h; may also be included on its own.
 *
 * Conventions (all kernels):
 * - fp32, dense, row-major; images are NCHW, weights KCHW (out, in/groups, kh, kw).
 * - The caller provides every output and scratch buffer; kernels never allocate, never
 *   fail and never read or write outside the extents implied by their parameters, whatever
 *   oh/ow the caller passes (padding and out-of-image taps read as zero / are skipped).
 * - `opts` (last argument) says how to parallelise (see kiln_run_opts); NULL = serial.
 *   Work is split over batch*channels or rows; GEMMs also use OpenBLAS's own threads.
 * - Output and input must not overlap unless a kernel says "in place ok".
 */
#ifndef KILN_KERNELS_H
#define KILN_KERNELS_H

#include "kiln_rt.h"

#ifdef __cplusplus
extern "C" {
#endif

/* 2-D convolution shape.  Output size in floor mode is
 *   oh = (h + pad_top + pad_bottom - dil_h * (kh - 1) - 1) / stride_h + 1   (ow alike)
 * but the kernel uses oh/ow as given. */
typedef struct {
    int64_t n, c, h, w;             /* input batch, channels, height, width; all >= 1 */
    int64_t k;                      /* output channels; multiple of groups */
    int64_t kh, kw;                 /* kernel height, width >= 1 */
    int64_t stride_h, stride_w;     /* >= 1 */
    int64_t pad_top, pad_left;      /* zero padding before row 0 / column 0, >= 0 */
    int64_t pad_bottom, pad_right;  /* zero padding after the last row / column, >= 0 */
    int64_t dil_h, dil_w;           /* dilation >= 1; 1 = dense taps */
    int64_t groups;                 /* >= 1, divides c and k */
    int64_t oh, ow;                 /* output height, width >= 1 */
} kiln_conv2d_params;

/* 2-D max / average pooling shape (no dilation).  Ceil-mode outputs are fine: windows are
 * clipped to the input (and, for counting, to the padded input). */
typedef struct {
    int64_t n, c, h, w;          /* input batch, channels, height, width */
    int64_t kh, kw;              /* window height, width >= 1 */
    int64_t stride_h, stride_w;  /* >= 1 */
    int64_t pads[4];             /* top, left, bottom, right (ONNX begin..., end... order) */
    int64_t oh, ow;              /* output height, width */
    int     count_include_pad;   /* avgpool only: nonzero = divide by window cells inside
                                  * the padded input, 0 = by cells inside the real input */
} kiln_pool2d_params;

/* kernels_conv.c */

/* Bytes of scratch kiln_conv2d_f32 needs: (c/groups)*kh*kw*oh*ow floats for im2col, or 0
 * for the direct paths (depthwise groups == c == k, and 1x1 stride-1 unpadded convs). */
size_t kiln_conv2d_scratch_bytes(const kiln_conv2d_params *p);

/* y[n,k,oh,ow] = conv(x[n,c,h,w], w[k,c/groups,kh,kw]) + bias[k] (bias NULL = none).
 * scratch: at least kiln_conv2d_scratch_bytes(p) bytes, float-aligned (NULL if 0).
 * im2col + kiln_sgemm per image and group; depthwise uses a direct loop parallel over
 * n*c. */
void kiln_conv2d_f32(const kiln_conv2d_params *p, const float *x, const float *w,
                     const float *bias, float *y, float *scratch, const kiln_run_opts *opts);

/* kernels_pool.c */

/* y[n,c,oh,ow] = max over the window; padding never wins.  A window holding no input cell
 * gives -INFINITY.  Parallel over n*c. */
void kiln_maxpool2d_f32(const kiln_pool2d_params *p, const float *x, float *y,
                        const kiln_run_opts *opts);

/* y[n,c,oh,ow] = sum over the window's input cells / divisor (see count_include_pad).
 * A zero divisor gives 0.  Parallel over n*c. */
void kiln_avgpool2d_f32(const kiln_pool2d_params *p, const float *x, float *y,
                        const kiln_run_opts *opts);

/* y[i] = mean of x[i*hw .. (i+1)*hw) for i < n*c (y is n x c).  hw >= 1. */
void kiln_global_avgpool_f32(int64_t n, int64_t c, int64_t hw, const float *x, float *y,
                             const kiln_run_opts *opts);

/* kernels_norm.c */

/* Softmax over each contiguous row of cols elements: y = exp(x - max) / sum.  In place ok.
 * Rows whose max is +-inf or NaN give NaN. */
void kiln_softmax_f32(int64_t rows, int64_t cols, const float *x, float *y,
                      const kiln_run_opts *opts);

/* y = x - max - log(sum exp(x - max)) per row.  In place ok. */
void kiln_log_softmax_f32(int64_t rows, int64_t cols, const float *x, float *y,
                          const kiln_run_opts *opts);

/* Per row: y = (x - mean) / sqrt(var + eps) * gamma[j] + beta[j], biased variance,
 * statistics accumulated in double.  gamma NULL = 1, beta NULL = 0.  In place ok. */
void kiln_layernorm_f32(int64_t rows, int64_t cols, const float *x, const float *gamma,
                        const float *beta, float eps, float *y, const kiln_run_opts *opts);

/* Per row: y = x / sqrt(mean(x^2) + eps) * gamma[j].  gamma NULL = 1.  In place ok. */
void kiln_rmsnorm_f32(int64_t rows, int64_t cols, const float *x, const float *gamma,
                      float eps, float *y, const kiln_run_opts *opts);

/* blas.c */

/* For i < batch: kiln_sgemm on A + i*stride_a, B + i*stride_b, C + i*stride_c (strides in
 * floats; 0 = broadcast the same matrix to every batch; stride_c must not be 0 when
 * batch > 1).  Batches run one after another; each GEMM is threaded by OpenBLAS. */
void kiln_batched_sgemm(int64_t batch, int trans_a, int trans_b, int64_t m, int64_t n,
                        int64_t k, float alpha, const float *a, int64_t lda, int64_t stride_a,
                        const float *b, int64_t ldb, int64_t stride_b, float beta, float *c,
                        int64_t ldc, int64_t stride_c);

#ifdef __cplusplus
}
#endif

#endif /* KILN_KERNELS_H */
