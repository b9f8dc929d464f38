/* tools/npyio.c — tensors for `kiln run`: .npy inputs checked against the graph's input
 * types, .npy outputs, seeded pseudo-random inputs (splitmix64), short value printouts. */
#include <stdlib.h>
#include <string.h>
#include "tools.h"

int
tensor_same_shape(const TensorType *a, const TensorType *b)
{
    if (a->dtype != b->dtype || a->rank != b->rank)
        return 0;
    for (int i = 0; i < a->rank; i++)
        if (a->dims[i] != b->dims[i])
            return 0;
    return 1;
}

int
npy_read(const char *path, const char *name, const TensorType *want, IrTensor *t, Diag *d)
{
    SrcLoc loc = { path, 0, 0 };
    char err[256] = "";
    kiln_file *f;
    memset(t, 0, sizeof *t);
    if (kiln_file_map(path, &f, err, sizeof err) != KILN_OK) {
        diag_error(d, loc, "cannot read input '%s': %s", name, err);
        return -1;
    }
    kiln_view v;
    if (kiln_npy_parse(kiln_file_data(f), kiln_file_size(f), &v, err, sizeof err) != KILN_OK) {
        diag_error(d, loc, "input '%s': %s", name, err);
        kiln_file_unmap(f);
        return -1;
    }
    TensorType got = ir_type_make((DType)v.dtype, v.rank, v.dims);
    if (want && !tensor_same_shape(&got, want)) {
        char a[128], b[128];
        diag_error(d, loc, "input '%s': expected %s, got %s", name,
                   ir_type_str(want, a, sizeof a), ir_type_str(&got, b, sizeof b));
        kiln_file_unmap(f);
        return -1;
    }
    t->type = got;
    t->data = malloc(v.nbytes ? v.nbytes : 1);
    if (!t->data) {
        diag_error(d, loc, "out of memory reading input '%s'", name);
        kiln_file_unmap(f);
        return -1;
    }
    memcpy(t->data, v.data, v.nbytes);
    kiln_file_unmap(f);
    return 0;
}

int
npy_write(const char *path, const IrTensor *t, Diag *d)
{
    kiln_view v = { .dtype = (kiln_dtype)t->type.dtype, .rank = t->type.rank, .data = t->data };
    memcpy(v.dims, t->type.dims, sizeof v.dims);
    int64_t nbytes;
    if (ir_type_bytes(&t->type, &nbytes) != 0) {
        diag_error(d, (SrcLoc){ path, 0, 0 }, "output size overflows");
        return -1;
    }
    v.nbytes = (size_t)nbytes;
    char err[256] = "";
    if (kiln_npy_write(path, &v, err, sizeof err) != KILN_OK) {
        diag_error(d, (SrcLoc){ path, 0, 0 }, "cannot write output: %s", err);
        return -1;
    }
    return 0;
}

/* splitmix64 (Steele, Lea, Flood 2014): tiny, fast, and the same on every platform. */
static uint64_t
splitmix64(uint64_t *state)
{
    uint64_t z = (*state += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

int
tensor_random(IrTensor *t, const TensorType *type, uint64_t *state)
{
    int64_t n = 0, nbytes = 0;
    if (ir_type_numel(type, &n) != 0 || ir_type_bytes(type, &nbytes) != 0)
        n = nbytes = 0;
    t->type = *type;
    t->data = calloc(1, nbytes ? (size_t)nbytes : 1);
    if (!t->data)
        return -1;
    for (int64_t i = 0; i < n; i++) {
        uint64_t r = splitmix64(state);
        switch (type->dtype) {
        /* 24 random bits: exact f32 values on a 2^-23 grid over [-1, 1) */
        case DT_F32:  ((float *)t->data)[i] = (float)(r >> 40) * 0x1p-23f - 1.0f; break;
        case DT_I32:  ((int32_t *)t->data)[i] = (int32_t)(r >> 62); break;
        case DT_I64:  ((int64_t *)t->data)[i] = (int64_t)(r >> 62); break;
        case DT_I8:   ((int8_t *)t->data)[i] = (int8_t)(r >> 62); break;
        case DT_U8:   ((uint8_t *)t->data)[i] = (uint8_t)(r >> 62); break;
        case DT_BOOL: ((uint8_t *)t->data)[i] = (uint8_t)(r >> 63); break;
        default: break;
        }
    }
    return 0;
}

static void
print_value(FILE *out, DType dt, const void *data, int64_t i)
{
    switch (dt) {
    case DT_F32:  fprintf(out, "%.6g", (double)((const float *)data)[i]); break;
    case DT_I32:  fprintf(out, "%d", (int)((const int32_t *)data)[i]); break;
    case DT_I64:  fprintf(out, "%lld", (long long)((const int64_t *)data)[i]); break;
    case DT_I8:   fprintf(out, "%d", (int)((const int8_t *)data)[i]); break;
    case DT_U8:   fprintf(out, "%d", (int)((const uint8_t *)data)[i]); break;
    case DT_BOOL: fprintf(out, "%d", (int)((const uint8_t *)data)[i]); break;
    default:      fputs("?", out); break;
    }
}

void
tensor_print(FILE *out, const char *name, const IrTensor *t, int max)
{
    char buf[128];
    int64_t n = 0;
    if (ir_type_numel(&t->type, &n) != 0)
        n = 0;
    fprintf(out, "%s: %s = [", name, ir_type_str(&t->type, buf, sizeof buf));
    for (int64_t i = 0; i < n && i < max; i++) {
        if (i)
            fputs(", ", out);
        print_value(out, t->type.dtype, t->data, i);
    }
    fputs(n > max ? ", ...]\n" : "]\n", out);
}
