/* bench/bench_main.c — times one compiled model through its P_info table (kiln_model.h),
 * so one harness serves every sample and both backends: batch 1, serial (opts NULL),
 * fixed pseudo-random inputs, a warm-up, then `runs` timed calls; prints the median and
 * the minimum in microseconds and OpenBLAS's core as "median_us=M min_us=N blas_core=C".
 *
 *   cc -O2 -DKILN_BENCH_INFO=mlp_info bench_main.c mlp.o libkilnrt.a -lopenblas -lm -lpthread
 *   ./bench [RUNS] [WEIGHTS.bin]
 */
#define _POSIX_C_SOURCE 200809L  /* clock_gettime */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "kiln_model.h"

#ifndef KILN_BENCH_INFO
#error "define KILN_BENCH_INFO to the model's P_info symbol"
#endif
extern const kiln_model_info KILN_BENCH_INFO;

static double
now_us(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec * 1e6 + (double)t.tv_nsec / 1e3;
}

static int
by_value(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static void *
alloc64(size_t n)
{
    return aligned_alloc(64, (n + 63) / 64 * 64 + 64);
}

/* Inputs: f32 in [-1, 1), integers 0..3, bools 0/1, from a fixed LCG. */
static void
fill(void *p, const kiln_tensor_info *t, uint32_t *s)
{
    for (int64_t i = 0; i < t->numel; i++) {
        *s = *s * 1664525u + 1013904223u;
        switch (t->dtype) {
        case KILN_DT_F32: ((float *)p)[i] = (float)(*s >> 8) * 0x1p-23f - 1.0f; break;
        case KILN_DT_I32: ((int32_t *)p)[i] = (int32_t)(*s >> 30); break;
        case KILN_DT_I64: ((int64_t *)p)[i] = (int64_t)(*s >> 30); break;
        default:          ((uint8_t *)p)[i] = (uint8_t)(*s >> 31); break;
        }
    }
}

/* Maps the external weights file into an aligned buffer (NULL after a message). */
static void *
load_weights(const char *path, size_t want)
{
    FILE *f = fopen(path, "rb");
    void *w = alloc64(want);
    if (!f || !w || fread(w, 1, want, f) != want) {
        fprintf(stderr, "bench: cannot read %zu bytes of weights from %s\n", want, path);
        if (f)
            fclose(f);
        free(w);
        return NULL;
    }
    fclose(f);
    return w;
}

int
main(int argc, char **argv)
{
    const kiln_model_info *mi = &KILN_BENCH_INFO;
    int runs = argc > 1 ? atoi(argv[1]) : 200;
    if (runs < 1 || mi->ninputs > 64 || mi->noutputs > 64) {
        fprintf(stderr, "bench: expected RUNS >= 1 and at most 64 ports\n");
        return 2;
    }
    const void *ins[65] = { 0 };
    void *outs[64] = { 0 };
    uint32_t seed = 12345;
    for (int i = 0; i < mi->ninputs; i++) {
        void *p = alloc64(mi->inputs[i].bytes);
        if (!p)
            return 1;
        fill(p, &mi->inputs[i], &seed);
        ins[i] = p;
    }
    if (mi->weights_external) {
        if (argc < 3 || !(ins[mi->ninputs] = load_weights(argv[2], mi->weights_bytes)))
            return 1;
    }
    for (int i = 0; i < mi->noutputs; i++)
        if (!(outs[i] = alloc64(mi->outputs[i].bytes)))
            return 1;
    void *arena = alloc64(mi->arena_bytes);
    double *t = malloc((size_t)runs * sizeof *t);
    if (!arena || !t)
        return 1;
    int exit_taken = 0;
    for (int i = 0; i < 10; i++)   /* warm caches, OpenBLAS buffers and page faults */
        if (mi->run(ins, outs, &exit_taken, arena, NULL) != KILN_OK) {
            fprintf(stderr, "bench: %s failed\n", mi->name);
            return 1;
        }
    for (int i = 0; i < runs; i++) {
        double t0 = now_us();
        mi->run(ins, outs, &exit_taken, arena, NULL);
        t[i] = now_us() - t0;
    }
    qsort(t, (size_t)runs, sizeof *t, by_value);
    printf("median_us=%.2f min_us=%.2f blas_core=%s\n", t[runs / 2], t[0], kiln_blas_corename());
    for (int i = 0; i <= mi->ninputs; i++)
        free((void *)ins[i]);
    for (int i = 0; i < mi->noutputs; i++)
        free(outs[i]);
    free(arena);
    free(t);
    return 0;
}
