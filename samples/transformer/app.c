/* samples/transformer/app.c — runs the compiled encoder block on x.npy and prints the first
 * values and a checksum of y, and its distance to expected_y.npy (numpy's float64 result).
 *
 *   build/kiln compile samples/transformer/transformer.kiln -o out/transformer.c
 *   cc -std=c11 -O2 -Iout -Iruntime/include samples/transformer/app.c out/transformer.c \
 *      build/runtime/libkilnrt.a -lopenblas -lm -lpthread -o transformer_app
 *   ./transformer_app [DATA_DIR] [WEIGHTS.bin]
 *
 * The model in transformer.kiln is named `transformer`, the prefix of the generated API.
 * DATA_DIR (default .) holds
 * x.npy (f32 [16,32]) and optionally expected_y.npy.  An argument ending in .bin is the
 * weights file of a --weights=external build.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "transformer.h"

#define P(sym) transformer_##sym
#define ARENA_BYTES TRANSFORMER_ARENA_BYTES
#define ARENA_ALIGN TRANSFORMER_ARENA_ALIGN
#define X_NUMEL TRANSFORMER_X_NUMEL
#define Y_NUMEL TRANSFORMER_Y_NUMEL
#ifdef TRANSFORMER_WEIGHTS_BYTES
#define WEIGHTS_BYTES TRANSFORMER_WEIGHTS_BYTES
#endif

/* Maps dir/name and parses it as .npy; returns the mapping (NULL after a message unless
 * quiet). */
static kiln_file *
load_npy(const char *dir, const char *name, kiln_view *v, int quiet)
{
    char path[4096], err[256];
    kiln_file *f;
    snprintf(path, sizeof path, "%s/%s", dir, name);
    if (kiln_file_map(path, &f, err, sizeof err) != KILN_OK) {
        if (!quiet)
            fprintf(stderr, "transformer_app: %s\n", err);
        return NULL;
    }
    if (kiln_npy_parse(kiln_file_data(f), kiln_file_size(f), v, err, sizeof err) != KILN_OK) {
        fprintf(stderr, "transformer_app: %s: %s\n", path, err);
        kiln_file_unmap(f);
        return NULL;
    }
    return f;
}

static int
map_weights(const char *path, kiln_file **wf)
{
    *wf = NULL;
#ifdef WEIGHTS_BYTES
    char err[256];
    if (!path) {
        fprintf(stderr, "transformer_app: this build needs its weights: "
                "transformer_app [DATA_DIR] WEIGHTS.bin\n");
        return -1;
    }
    if (kiln_file_map(path, wf, err, sizeof err) != KILN_OK) {
        fprintf(stderr, "transformer_app: %s\n", err);
        return -1;
    }
    if (kiln_file_size(*wf) != (size_t)WEIGHTS_BYTES) {
        fprintf(stderr, "transformer_app: %s: expected %lld bytes, got %zu\n", path,
                (long long)WEIGHTS_BYTES, kiln_file_size(*wf));
        kiln_file_unmap(*wf);
        return -1;
    }
#else
    (void)path;
#endif
    return 0;
}

static void
report(const float *y, const char *dir)
{
    double sum = 0, asum = 0;
    for (int i = 0; i < Y_NUMEL; i++) {
        sum += y[i];
        asum += fabs(y[i]);
    }
    printf("y[0,:4] = %.6f %.6f %.6f %.6f\n", (double)y[0], (double)y[1], (double)y[2],
           (double)y[3]);
    printf("checksum: sum %.6f, sum |y| %.6f, mean %.6f\n", sum, asum, sum / Y_NUMEL);
    kiln_view e;
    kiln_file *fe = load_npy(dir, "expected_y.npy", &e, 1);
    if (!fe)
        return;
    if (e.dtype == KILN_DT_F32 && e.nbytes == sizeof(float) * Y_NUMEL) {
        double err = 0;
        for (int i = 0; i < Y_NUMEL; i++) {
            double d = fabs((double)y[i] - ((const float *)e.data)[i]);
            err = d > err ? d : err;
        }
        printf("max abs difference to expected_y.npy: %.3g\n", err);
    }
    kiln_file_unmap(fe);
}

int
main(int argc, char **argv)
{
    const char *dir = ".", *bin = NULL;
    for (int i = 1; i < argc; i++) {
        size_t len = strlen(argv[i]);
        if (len > 4 && strcmp(argv[i] + len - 4, ".bin") == 0)
            bin = argv[i];
        else
            dir = argv[i];
    }
    static float y[Y_NUMEL];
    kiln_view x;
    kiln_file *fx = load_npy(dir, "x.npy", &x, 0), *wf = NULL;
    void *arena = aligned_alloc(ARENA_ALIGN, ARENA_BYTES + ARENA_ALIGN);
    int rc = 1;
    if (!fx || !arena || map_weights(bin, &wf) < 0)
        goto done;
    if (x.dtype != KILN_DT_F32 || x.nbytes != sizeof(float) * X_NUMEL) {
        fprintf(stderr, "transformer_app: x.npy: expected f32 with %d elements\n", X_NUMEL);
        goto done;
    }
    P(inputs) in = { 0 };
    P(outputs) out = { 0 };
    in.x = x.data;
#ifdef WEIGHTS_BYTES
    in.weights = kiln_file_data(wf);
#endif
    out.y = y;
    int st = P(run)(&in, &out, arena, NULL);
    if (st != KILN_OK) {
        fprintf(stderr, "transformer_app: run failed: %s\n", kiln_status_str(st));
        goto done;
    }
    printf("model %s (hash %s), arena %zu bytes\n", P(info).name, P(info).hash,
           P(info).arena_bytes);
    report(y, dir);
    rc = 0;
done:
    free(arena);
    kiln_file_unmap(wf);
    kiln_file_unmap(fx);
    return rc;
}
