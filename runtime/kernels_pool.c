/* kernels_pool.c — max, average and global average pooling over NCHW planes, each
 * parallel over batch * channels. */
#include <math.h>

#include "kiln_rt.h"

/* Pooling job: planes are (image, channel) pairs. */
typedef struct {
    const kiln_pool2d_params *p;
    const float *x;
    float *y;
} Pool;

static int64_t
max64(int64_t a, int64_t b)
{
    return a > b ? a : b;
}

static int64_t
min64(int64_t a, int64_t b)
{
    return a < b ? a : b;
}

static void
max_planes(void *arg, int64_t i0, int64_t i1)
{
    const Pool *j = arg;
    const kiln_pool2d_params *p = j->p;

    for (int64_t i = i0; i < i1; i++) {
        const float *xp = j->x + i * p->h * p->w;
        float *yp = j->y + i * p->oh * p->ow;
        for (int64_t oy = 0; oy < p->oh; oy++) {
            int64_t ys = oy * p->stride_h - p->pads[0];
            int64_t y0 = max64(ys, 0), y1 = min64(ys + p->kh, p->h);
            for (int64_t ox = 0; ox < p->ow; ox++) {
                int64_t xs = ox * p->stride_w - p->pads[1];
                int64_t x0 = max64(xs, 0), x1 = min64(xs + p->kw, p->w);
                float m = -INFINITY;
                for (int64_t iy = y0; iy < y1; iy++)
                    for (int64_t ix = x0; ix < x1; ix++)
                        m = xp[iy * p->w + ix] > m ? xp[iy * p->w + ix] : m;
                yp[oy * p->ow + ox] = m;
            }
        }
    }
}

void
kiln_maxpool2d_f32(const kiln_pool2d_params *p, const float *x, float *y,
                   const kiln_run_opts *opts)
{
    Pool j = {p, x, y};

    kiln_parallel_for(opts, p->n * p->c, max_planes, &j);
}

/* Cells of window [s, s + k) counted as the divisor along one axis. */
static int64_t
window_count(const kiln_pool2d_params *p, int64_t s, int64_t k, int64_t size, int64_t pad_lo,
             int64_t pad_hi)
{
    if (p->count_include_pad)
        return max64(0, min64(s + k, size + pad_hi) - max64(s, -pad_lo));
    return max64(0, min64(s + k, size) - max64(s, 0));
}

static void
avg_planes(void *arg, int64_t i0, int64_t i1)
{
    const Pool *j = arg;
    const kiln_pool2d_params *p = j->p;

    for (int64_t i = i0; i < i1; i++) {
        const float *xp = j->x + i * p->h * p->w;
        float *yp = j->y + i * p->oh * p->ow;
        for (int64_t oy = 0; oy < p->oh; oy++) {
            int64_t ys = oy * p->stride_h - p->pads[0];
            int64_t y0 = max64(ys, 0), y1 = min64(ys + p->kh, p->h);
            int64_t cy = window_count(p, ys, p->kh, p->h, p->pads[0], p->pads[2]);
            for (int64_t ox = 0; ox < p->ow; ox++) {
                int64_t xs = ox * p->stride_w - p->pads[1];
                int64_t x0 = max64(xs, 0), x1 = min64(xs + p->kw, p->w);
                int64_t cnt = cy * window_count(p, xs, p->kw, p->w, p->pads[1], p->pads[3]);
                float s = 0.0f;
                for (int64_t iy = y0; iy < y1; iy++)
                    for (int64_t ix = x0; ix < x1; ix++)
                        s += xp[iy * p->w + ix];
                yp[oy * p->ow + ox] = cnt > 0 ? s / (float)cnt : 0.0f;
            }
        }
    }
}

void
kiln_avgpool2d_f32(const kiln_pool2d_params *p, const float *x, float *y,
                   const kiln_run_opts *opts)
{
    Pool j = {p, x, y};

    kiln_parallel_for(opts, p->n * p->c, avg_planes, &j);
}

/* Global average job over planes of hw elements. */
typedef struct {
    int64_t hw;
    const float *x;
    float *y;
} Gap;

static void
gap_planes(void *arg, int64_t i0, int64_t i1)
{
    const Gap *j = arg;

    for (int64_t i = i0; i < i1; i++) {
        const float *restrict xp = j->x + i * j->hw;
        double s = 0.0; /* double: long planes lose precision in a float sum */
        for (int64_t q = 0; q < j->hw; q++)
            s += xp[q];
        j->y[i] = (float)(s / (double)j->hw);
    }
}

void
kiln_global_avgpool_f32(int64_t n, int64_t c, int64_t hw, const float *x, float *y,
                        const kiln_run_opts *opts)
{
    Gap j = {hw, x, y};

    kiln_parallel_for(opts, n * c, gap_planes, &j);
}
