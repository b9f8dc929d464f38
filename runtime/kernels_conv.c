/* kernels_conv.c — 2-D convolution: im2col + SGEMM per image and group, a direct loop for
 * depthwise convolutions, and no copy at all for 1x1 stride-1 unpadded convolutions. */
#include <string.h>

#include "kiln_rt.h"

/* Outputs o in [*lo, *hi) (within [0, nout)) whose tap o*stride + off lies in [0, limit). */
static void
valid_range(int64_t off, int64_t stride, int64_t limit, int64_t nout, int64_t *lo, int64_t *hi)
{
    int64_t l = off >= 0 ? 0 : (-off + stride - 1) / stride;
    int64_t h = limit - off <= 0 ? 0 : (limit - off + stride - 1) / stride;

    *lo = l < nout ? l : nout;
    *hi = h < nout ? h : nout;
    if (*hi < *lo)
        *hi = *lo;
}

static int
is_depthwise(const kiln_conv2d_params *p)
{
    return p->groups == p->c && p->k == p->c;
}

static int
is_pointwise(const kiln_conv2d_params *p)
{
    return p->kh == 1 && p->kw == 1 && p->stride_h == 1 && p->stride_w == 1 &&
           p->pad_top == 0 && p->pad_left == 0 && p->pad_bottom == 0 && p->pad_right == 0 &&
           p->oh == p->h && p->ow == p->w;
}

size_t
kiln_conv2d_scratch_bytes(const kiln_conv2d_params *p)
{
    if (is_depthwise(p) || is_pointwise(p))
        return 0;
    return (size_t)(p->c / p->groups * p->kh * p->kw * p->oh * p->ow) * sizeof(float);
}

/* One image-group's im2col job. */
typedef struct {
    const kiln_conv2d_params *p;
    const float *x; /* first input channel of the group, [c/groups, h, w] */
    float *col;     /* [c/groups * kh * kw, oh * ow] */
} Im2col;

/* Fill column rows [r0, r1): row r = (ci, ki, kj) holds tap (ki, kj) of channel ci for
 * every output position, zero where the tap falls in padding. */
static void
im2col_rows(void *arg, int64_t r0, int64_t r1)
{
    const Im2col *j = arg;
    const kiln_conv2d_params *p = j->p;
    int64_t ylo, yhi, xlo, xhi;

    for (int64_t r = r0; r < r1; r++) {
        int64_t ci = r / (p->kh * p->kw), ki = r / p->kw % p->kh, kj = r % p->kw;
        int64_t offy = ki * p->dil_h - p->pad_top, offx = kj * p->dil_w - p->pad_left;
        const float *xp = j->x + ci * p->h * p->w;
        float *d = j->col + r * p->oh * p->ow;

        valid_range(offy, p->stride_h, p->h, p->oh, &ylo, &yhi);
        valid_range(offx, p->stride_w, p->w, p->ow, &xlo, &xhi);
        memset(d, 0, sizeof(float) * (size_t)(ylo * p->ow));
        for (int64_t oy = ylo; oy < yhi; oy++) {
            const float *restrict xr = xp + (oy * p->stride_h + offy) * p->w + offx;
            float *restrict dr = d + oy * p->ow;
            memset(dr, 0, sizeof(float) * (size_t)xlo);
            if (p->stride_w == 1)
                memcpy(dr + xlo, xr + xlo, sizeof(float) * (size_t)(xhi - xlo));
            else
                for (int64_t ox = xlo; ox < xhi; ox++)
                    dr[ox] = xr[ox * p->stride_w];
            memset(dr + xhi, 0, sizeof(float) * (size_t)(p->ow - xhi));
        }
        memset(d + yhi * p->ow, 0, sizeof(float) * (size_t)((p->oh - yhi) * p->ow));
    }
}

/* Depthwise job: planes are (image, channel) pairs. */
typedef struct {
    const kiln_conv2d_params *p;
    const float *x, *w, *bias;
    float *y;
} Depthwise;

/* Accumulate one weight tap into an output row. */
static void
tap_row(float *restrict yr, const float *restrict xr, float wv, int64_t lo, int64_t hi,
        int64_t stride)
{
    if (stride == 1)
        for (int64_t ox = lo; ox < hi; ox++)
            yr[ox] += wv * xr[ox];
    else
        for (int64_t ox = lo; ox < hi; ox++)
            yr[ox] += wv * xr[ox * stride];
}

static void
depthwise_planes(void *arg, int64_t i0, int64_t i1)
{
    const Depthwise *j = arg;
    const kiln_conv2d_params *p = j->p;
    int64_t lo, hi;

    for (int64_t i = i0; i < i1; i++) {
        int64_t ch = i % p->c;
        const float *xp = j->x + i * p->h * p->w, *wp = j->w + ch * p->kh * p->kw;
        float bv = j->bias ? j->bias[ch] : 0.0f;
        for (int64_t oy = 0; oy < p->oh; oy++) {
            float *yr = j->y + (i * p->oh + oy) * p->ow;
            for (int64_t ox = 0; ox < p->ow; ox++)
                yr[ox] = bv;
            for (int64_t ki = 0; ki < p->kh; ki++) {
                int64_t iy = oy * p->stride_h - p->pad_top + ki * p->dil_h;
                if (iy < 0 || iy >= p->h)
                    continue;
                for (int64_t kj = 0; kj < p->kw; kj++) {
                    int64_t offx = kj * p->dil_w - p->pad_left;
                    valid_range(offx, p->stride_w, p->w, p->ow, &lo, &hi);
                    tap_row(yr, xp + iy * p->w + offx, wp[ki * p->kw + kj], lo, hi,
                            p->stride_w);
                }
            }
        }
    }
}

void
kiln_conv2d_f32(const kiln_conv2d_params *p, const float *x, const float *w,
                const float *bias, float *y, float *scratch, const kiln_run_opts *opts)
{
    int64_t cg = p->c / p->groups, kg = p->k / p->groups;
    int64_t kk = cg * p->kh * p->kw, npos = p->oh * p->ow;
    int pointwise = is_pointwise(p);

    if (is_depthwise(p)) {
        Depthwise j = {p, x, w, bias, y};
        kiln_parallel_for(opts, p->n * p->c, depthwise_planes, &j);
        return;
    }
    for (int64_t b = 0; b < p->n; b++) {
        for (int64_t g = 0; g < p->groups; g++) {
            const float *xg = x + (b * p->c + g * cg) * p->h * p->w, *col = xg;
            float *yg = y + (b * p->k + g * kg) * npos;
            if (!pointwise) {
                Im2col j = {p, xg, scratch};
                kiln_parallel_for(opts, kk, im2col_rows, &j);
                col = scratch;
            }
            for (int64_t r = 0; bias && r < kg; r++)
                for (int64_t q = 0; q < npos; q++)
                    yg[r * npos + q] = bias[g * kg + r];
            kiln_sgemm(0, 0, kg, npos, kk, 1.0f, w + g * kg * kk, kk, col, npos,
                       bias ? 1.0f : 0.0f, yg, npos);
        }
    }
}
