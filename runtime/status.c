/* status.c — status strings, dtype facts and checked shape arithmetic. */
#include <stdio.h>

#include "kiln_rt.h"
#include "rt_internal.h"

static const char *const status_str[] = {
    [KILN_OK] = "ok",
    [KILN_EINVAL] = "invalid argument",
    [KILN_ENOMEM] = "out of memory",
    [KILN_EIO] = "i/o error",
    [KILN_EFORMAT] = "malformed file",
    [KILN_ERANGE] = "value out of range",
    [KILN_EUNSUPPORTED] = "unsupported",
};
_Static_assert(sizeof status_str / sizeof *status_str == KILN_STATUS_COUNT,
               "status_str must cover every kiln_status");

/* KEEP-IN-SYNC(dtype): one row per kiln_dtype, in enum order. */
static const struct {
    size_t size;
    const char *name;
} dtype_info[] = {
    [KILN_DT_NONE] = {0, "none"}, [KILN_DT_F32] = {4, "f32"}, [KILN_DT_I32] = {4, "i32"},
    [KILN_DT_I64] = {8, "i64"},   [KILN_DT_I8] = {1, "i8"},   [KILN_DT_U8] = {1, "u8"},
    [KILN_DT_BOOL] = {1, "bool"},
};
_Static_assert(sizeof dtype_info / sizeof *dtype_info == KILN_DT_COUNT,
               "dtype_info must cover every kiln_dtype");

const char *
kiln_status_str(int status)
{
    if (status < 0 || status >= KILN_STATUS_COUNT)
        return "unknown status";
    return status_str[status];
}

size_t
kiln_dtype_size(kiln_dtype dt)
{
    if ((int)dt < 0 || dt >= KILN_DT_COUNT)
        return 0;
    return dtype_info[dt].size;
}

const char *
kiln_dtype_name(kiln_dtype dt)
{
    if ((int)dt < 0 || dt >= KILN_DT_COUNT)
        return "?";
    return dtype_info[dt].name;
}

int
kiln_shape_numel(int rank, const int64_t *dims, int64_t *out)
{
    int64_t n = 1;

    if (rank < 0 || rank > KILN_MAX_RANK || !out || (rank > 0 && !dims))
        return KILN_EINVAL;
    for (int i = 0; i < rank; i++) {
        if (dims[i] < 0 || __builtin_mul_overflow(n, dims[i], &n))
            return KILN_ERANGE;
    }
    *out = n;
    return KILN_OK;
}

void
rt_dims_str(char *buf, size_t cap, int rank, const int64_t *dims)
{
    size_t used = 0;

    if (cap == 0)
        return;
    buf[0] = '\0';
    for (int i = 0; i < rank && used < cap; i++) {
        int w = snprintf(buf + used, cap - used, "%s%lld", i ? "," : "", (long long)dims[i]);
        if (w < 0)
            break;
        used += (size_t)w;
    }
}
