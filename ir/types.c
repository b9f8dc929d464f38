/* ir/types.c — the op tables expanded from ops.def, element types and tensor types. */
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include "ir.h"
#include "util.h"

const char *const op_name[OP_COUNT] = {
    [OP_NONE] = "",
#define OP(id, text, min_in, max_in, nout, attr, flags) [OP_##id] = text,
#include "ops.def"
#undef OP
};
const int8_t op_min_in[OP_COUNT] = {
#define OP(id, text, min_in, max_in, nout, attr, flags) [OP_##id] = min_in,
#include "ops.def"
#undef OP
};
const int8_t op_max_in[OP_COUNT] = {
#define OP(id, text, min_in, max_in, nout, attr, flags) [OP_##id] = max_in,
#include "ops.def"
#undef OP
};
const int8_t op_nout[OP_COUNT] = {
#define OP(id, text, min_in, max_in, nout, attr, flags) [OP_##id] = nout,
#include "ops.def"
#undef OP
};
const AttrKind op_attr[OP_COUNT] = {
#define OP(id, text, min_in, max_in, nout, attr, flags) [OP_##id] = attr,
#include "ops.def"
#undef OP
};
const uint32_t op_flags[OP_COUNT] = {
#define OP(id, text, min_in, max_in, nout, attr, flags) [OP_##id] = flags,
#include "ops.def"
#undef OP
};

/* KEEP-IN-SYNC(dtype): DType mirrors kiln_dtype, so sizes and names come from the runtime. */
_Static_assert((int)DT_COUNT == (int)KILN_DT_COUNT, "DType and kiln_dtype differ");
_Static_assert((int)DT_F32 == (int)KILN_DT_F32 && (int)DT_BOOL == (int)KILN_DT_BOOL,
               "DType and kiln_dtype order differs");

_Noreturn void
kiln_die_at(const char *file, int line, const char *fmt, ...)
{
    va_list ap;
    fprintf(stderr, "%s:%d: kiln internal error: ", file, line);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    abort();
}

void *
kiln_grow(void *arr, uint32_t *cap, uint32_t need, size_t elem)
{
    if (need <= *cap)
        return arr;
    uint32_t n = *cap ? *cap : 16;
    while (n < need)
        n *= 2;
    void *p = realloc(arr, (size_t)n * elem);
    if (!p)
        kiln_die("out of memory growing a table to %u entries", n);
    memset((char *)p + (size_t)*cap * elem, 0, (size_t)(n - *cap) * elem);
    *cap = n;
    return p;
}

size_t
ir_dtype_size(DType t)
{
    return t == DT_NONE ? 0 : kiln_dtype_size((kiln_dtype)t);
}

const char *
ir_dtype_name(DType t)
{
    return t == DT_NONE ? "none" : kiln_dtype_name((kiln_dtype)t);
}

DType
ir_dtype_parse(const char *s)
{
    for (int t = DT_NONE + 1; t < DT_COUNT; t++)
        if (strcmp(s, ir_dtype_name((DType)t)) == 0)
            return (DType)t;
    return DT_NONE;
}

Op
ir_op_parse(const char *name)
{
    for (int op = OP_NONE + 1; op < OP_COUNT; op++)
        if (strcmp(name, op_name[op]) == 0)
            return (Op)op;
    return OP_NONE;
}

int
ir_edit_distance(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    if (la > 40 || lb > 40)
        return 9;
    int d[41][41];
    for (size_t i = 0; i <= la; i++)
        d[i][0] = (int)i;
    for (size_t j = 0; j <= lb; j++)
        d[0][j] = (int)j;
    for (size_t i = 1; i <= la; i++)
        for (size_t j = 1; j <= lb; j++) {
            int best = d[i - 1][j - 1] + (a[i - 1] != b[j - 1]);
            if (d[i - 1][j] + 1 < best)
                best = d[i - 1][j] + 1;
            if (d[i][j - 1] + 1 < best)
                best = d[i][j - 1] + 1;
            if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] &&
                d[i - 2][j - 2] + 1 < best)
                best = d[i - 2][j - 2] + 1;
            d[i][j] = best;
        }
    return d[la][lb] > 9 ? 9 : d[la][lb];
}

/* Product of the non-zero dims of t (what strides over it reach), and whether a dim is
 * 0; -1 on overflow or a negative dim.  Checking this product, not just numel, keeps an
 * empty [0, 2^40, 2^40] as invalid as [2^40, 2^40, 0] and every stride in range. */
static int
span(const TensorType *t, int64_t *prod, int *empty)
{
    *prod = 1;
    *empty = 0;
    if (t->rank < 0 || t->rank > KILN_MAX_RANK)
        return -1;
    for (int i = 0; i < t->rank; i++) {
        if (t->dims[i] < 0)
            return -1;
        if (t->dims[i] == 0)
            *empty = 1;
        else if (__builtin_mul_overflow(*prod, t->dims[i], prod))
            return -1;
    }
    return 0;
}

int
ir_type_numel(const TensorType *t, int64_t *out)
{
    int64_t p;
    int empty;
    if (span(t, &p, &empty) < 0)
        return -1;
    *out = empty ? 0 : p;
    return 0;
}

int
ir_type_bytes(const TensorType *t, int64_t *out)
{
    int64_t p;
    int empty;
    if (span(t, &p, &empty) < 0 ||
        __builtin_mul_overflow(p, (int64_t)ir_dtype_size(t->dtype), out))
        return -1;
    if (empty)
        *out = 0;
    return 0;
}

static int
quant_equal(const QuantParams *a, const QuantParams *b)
{
    if (!a || !b)
        return a == b;
    if (a->bits != b->bits || a->is_signed != b->is_signed || a->gran != b->gran ||
        a->axis != b->axis || a->group != b->group || a->nscale != b->nscale)
        return 0;
    for (int i = 0; i < a->nscale; i++)
        if (a->scale[i] != b->scale[i] || a->zero[i] != b->zero[i])
            return 0;
    return 1;
}

int
ir_type_equal(const TensorType *a, const TensorType *b)
{
    if (a->dtype != b->dtype || a->rank != b->rank)
        return 0;
    for (int i = 0; i < a->rank; i++)
        if (a->dims[i] != b->dims[i])
            return 0;
    return quant_equal(a->quant, b->quant) && a->sparse.kind == b->sparse.kind &&
           a->sparse.block[0] == b->sparse.block[0] && a->sparse.block[1] == b->sparse.block[1] &&
           a->sparse.n == b->sparse.n && a->sparse.m == b->sparse.m;
}

char *
ir_type_str(const TensorType *t, char *buf, size_t len)
{
    size_t n = (size_t)snprintf(buf, len, "%s[", ir_dtype_name(t->dtype));
    for (int i = 0; i < t->rank && n < len; i++)
        n += (size_t)snprintf(buf + n, len - n, "%s%lld", i ? "," : "", (long long)t->dims[i]);
    if (n < len)
        snprintf(buf + n, len - n, "]");
    return buf;
}

TensorType
ir_type_make(DType dt, int rank, const int64_t *dims)
{
    TensorType t = { .dtype = dt, .rank = rank };
    KILN_ASSERT(rank >= 0 && rank <= KILN_MAX_RANK);
    for (int i = 0; i < rank; i++)
        t.dims[i] = dims[i];
    return t;
}
