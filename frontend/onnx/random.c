/* frontend/onnx/random.c — NumPy's legacy generator (RandomState: MT19937 with an integer
 * seed, random_sample's 53-bit doubles), so masks the importer draws at compile time
 * (training-mode Dropout) equal the ones the ONNX node tests were made with. */
#include "onnx_internal.h"

enum {
    MT_N = 624,                /* words of state */
    MT_M = 397                 /* the recurrence's middle offset */
};

#define MT_MATRIX_A 0x9908b0dfu    /* twist matrix constant */
#define MT_UPPER    0x80000000u    /* most significant bit of a word */
#define MT_LOWER    0x7fffffffu    /* the other 31 bits */

void
onnx_mt_seed(OnnxMt *r, uint32_t seed)
{
    r->mt[0] = seed;
    for (uint32_t i = 1; i < MT_N; i++)          /* Knuth's multiplier, as init_genrand */
        r->mt[i] = 1812433253u * (r->mt[i - 1] ^ (r->mt[i - 1] >> 30)) + i;
    r->pos = MT_N;
}

static uint32_t
twist(uint32_t a, uint32_t b, uint32_t m)
{
    uint32_t y = (a & MT_UPPER) | (b & MT_LOWER);
    return m ^ (y >> 1) ^ (y & 1 ? MT_MATRIX_A : 0);
}

/* Regenerates all MT_N words of state at once. */
static void
refill(OnnxMt *r)
{
    int k;
    for (k = 0; k < MT_N - MT_M; k++)
        r->mt[k] = twist(r->mt[k], r->mt[k + 1], r->mt[k + MT_M]);
    for (; k < MT_N - 1; k++)
        r->mt[k] = twist(r->mt[k], r->mt[k + 1], r->mt[k + MT_M - MT_N]);
    r->mt[MT_N - 1] = twist(r->mt[MT_N - 1], r->mt[0], r->mt[MT_M - 1]);
    r->pos = 0;
}

uint32_t
onnx_mt_next(OnnxMt *r)
{
    if (r->pos >= MT_N)
        refill(r);
    uint32_t y = r->mt[r->pos++];
    y ^= y >> 11;                                /* tempering */
    y ^= (y << 7) & 0x9d2c5680u;
    y ^= (y << 15) & 0xefc60000u;
    return y ^ (y >> 18);
}

double
onnx_mt_uniform(OnnxMt *r)
{
    uint32_t a = onnx_mt_next(r) >> 5, b = onnx_mt_next(r) >> 6;   /* 27 + 26 bits */
    return ((double)a * 67108864.0 + (double)b) / 9007199254740992.0;
}
