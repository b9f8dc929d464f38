/* samples/cnn/app.c — classifies the digits test set with the compiled cnn model and reports
 * the accuracy.
 *
 *   build/kiln compile samples/cnn/cnn.kiln -o out/cnn.c      (or --weights=external)
 *   cc -std=c11 -O2 -Iout -Iruntime/include samples/cnn/app.c out/cnn.c \
 *      build/runtime/libkilnrt.a -lopenblas -lm -lpthread -o cnn_app
 *   ./cnn_app [DATA_DIR] [WEIGHTS.bin]
 *
 * DATA_DIR (default .) holds digits_test_x.npy (f32 [N,1,8,8]) and digits_test_y.npy (i64 [N]).
 * An argument ending in .bin is the weights file of a --weights=external build.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "cnn.h"

enum { NCLASS = 10, NSHOW = 8 };

/* Maps dir/name and parses it as .npy; returns the mapping (NULL after a message). */
static kiln_file *
load_npy(const char *dir, const char *name, kiln_view *v)
{
    char path[4096], err[256];
    kiln_file *f;
    snprintf(path, sizeof path, "%s/%s", dir, name);
    if (kiln_file_map(path, &f, err, sizeof err) != KILN_OK) {
        fprintf(stderr, "cnn_app: %s\n", err);
        return NULL;
    }
    if (kiln_npy_parse(kiln_file_data(f), kiln_file_size(f), v, err, sizeof err) != KILN_OK) {
        fprintf(stderr, "cnn_app: %s: %s\n", path, err);
        kiln_file_unmap(f);
        return NULL;
    }
    return f;
}

static int
argmax(const float *p)
{
    int best = 0;
    for (int i = 1; i < NCLASS; i++)
        if (p[i] > p[best])
            best = i;
    return best;
}

/* Runs every image; prints the first predictions, the accuracy and the exit count. */
static int
classify(const kiln_view *x, const kiln_view *y, const void *weights, void *arena)
{
    int64_t n = x->dims[0], correct = 0;
    float probs[NCLASS];
    cnn_inputs in = { 0 };
    cnn_outputs out = { 0 };
#ifdef CNN_WEIGHTS_BYTES
    in.weights = weights;
#else
    (void)weights;
#endif
    out.probs = probs;
    for (int64_t i = 0; i < n; i++) {
        in.x = (const float *)x->data + i * 64;
        int st = cnn_run(&in, &out, arena, NULL);
        if (st != KILN_OK) {
            fprintf(stderr, "cnn_app: image %lld: %s\n", (long long)i, kiln_status_str(st));
            return -1;
        }
        int pred = argmax(probs);
        int64_t label = ((const int64_t *)y->data)[i];
        correct += pred == label;
        if (i < NSHOW)
            printf("image %lld: predicted %d (p=%.3f), label %lld\n", (long long)i, pred,
                   (double)probs[pred], (long long)label);
    }
    printf("accuracy: %lld/%lld = %.4f\n", (long long)correct, (long long)n,
           (double)correct / (double)n);
    return 0;
}

/* The weights blob of an external-weights build (NULL for embedded weights). */
static int
map_weights(const char *path, kiln_file **wf)
{
    *wf = NULL;
#ifdef CNN_WEIGHTS_BYTES
    char err[256];
    if (!path) {
        fprintf(stderr, "cnn_app: this build needs its weights: cnn_app [DATA_DIR] cnn.bin\n");
        return -1;
    }
    if (kiln_file_map(path, wf, err, sizeof err) != KILN_OK) {
        fprintf(stderr, "cnn_app: %s\n", err);
        return -1;
    }
    if (kiln_file_size(*wf) != (size_t)CNN_WEIGHTS_BYTES) {
        fprintf(stderr, "cnn_app: %s: expected %lld bytes, got %zu\n", path,
                (long long)CNN_WEIGHTS_BYTES, kiln_file_size(*wf));
        kiln_file_unmap(*wf);
        return -1;
    }
#else
    (void)path;
#endif
    return 0;
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
    kiln_view x, y;
    kiln_file *fx = load_npy(dir, "digits_test_x.npy", &x);
    kiln_file *fy = fx ? load_npy(dir, "digits_test_y.npy", &y) : NULL;
    kiln_file *wf = NULL;
    void *arena = aligned_alloc(CNN_ARENA_ALIGN, CNN_ARENA_BYTES + CNN_ARENA_ALIGN);
    int rc = 1;
    if (!fx || !fy || !arena || map_weights(bin, &wf) < 0)
        goto done;
    if (x.dtype != KILN_DT_F32 || x.rank != 4 || x.dims[1] != 1 || x.dims[2] != 8 ||
        x.dims[3] != 8 || y.dtype != KILN_DT_I64 || y.rank != 1 || y.dims[0] != x.dims[0]) {
        fprintf(stderr, "cnn_app: expected x f32 [N,1,8,8] and y i64 [N]\n");
        goto done;
    }
    printf("model %s (hash %s), arena %d bytes, %lld test images\n", cnn_info.name,
           CNN_MODEL_HASH, (int)CNN_ARENA_BYTES, (long long)x.dims[0]);
    rc = classify(&x, &y, wf ? kiln_file_data(wf) : NULL, arena) < 0;
done:
    free(arena);
    kiln_file_unmap(wf);
    kiln_file_unmap(fy);
    kiln_file_unmap(fx);
    return rc;
}
