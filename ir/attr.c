/* ir/attr.c — attribute fields by name: defaults, setting one key from a parsed value, and
 * printing in the text IR's " {k = v, ...}" syntax.  Shared by the .kir parser/printer and
 * the .kiln builder so every attribute is spelled the same way (doc/ir.md lists the keys).
 *
 * Approach: one setter and one printer per AttrKind, each a chain of key comparisons.
 * Setters return 0, -1 on a bad value (message in err) or NOKEY for an unknown key, which
 * ir_attr_set turns into "<op> has no attribute 'k' (expected ...)".  Printers omit fields
 * that hold their default, so a default attribute prints as nothing. */
#include <float.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include "ir.h"
#include "util.h"

enum { NOKEY = -2 };

/* ------------------------------------------------------------------ defaults */

void
ir_attr_default(Op op, Attr *a)
{
    memset(a, 0, sizeof *a);
    switch (op_attr[op]) {
    case ATTR_CONV:
        a->conv.stride[0] = a->conv.stride[1] = 1;
        a->conv.dilation[0] = a->conv.dilation[1] = 1;
        a->conv.groups = 1;
        break;
    case ATTR_SCALAR:
        if (op == OP_CLIP) {
            a->scalar.a = -FLT_MAX;
            a->scalar.b = FLT_MAX;
        } else {
            a->scalar.a = 0.01f;
        }
        break;
    case ATTR_AXIS:
        a->axis.axis = op == OP_FLATTEN ? 1 : (op == OP_SOFTMAX || op == OP_LOG_SOFTMAX) ? -1 : 0;
        break;
    case ATTR_NORM:
        a->norm.eps = 1e-5f;
        a->norm.axis = op == OP_BATCHNORM ? 1 : -1;
        break;
    case ATTR_REDUCE:
        if (op == OP_ARGMAX) {
            a->reduce.naxes = 1;
            a->reduce.axes[0] = -1;
        }
        break;
    case ATTR_QUANT:
        a->quant.q.bits = 8;
        a->quant.q.is_signed = 1;
        break;
    case ATTR_EXIT:
        a->exit.index = 1;
        break;
    default:
        break;
    }
}

/* ------------------------------------------------------------------ value conversion */

static int
fail(char *err, size_t errlen, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    if (err && errlen)
        vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
    return -1;
}

static const char *
kind_name(const AttrVal *v)
{
    static const char *const names[AV_COUNT] = {
        [AV_NONE] = "nothing", [AV_INT] = "an integer", [AV_FLOAT] = "a float",
        [AV_LIST] = "a list", [AV_IDENT] = "a name", [AV_STRING] = "a string",
    };
    return v->kind >= 0 && v->kind < AV_COUNT ? names[v->kind] : "?";
}

/* A list entry is an exact integer within [lo, hi]. */
static int
exact_int(double x, int64_t lo, int64_t hi, int64_t *out)
{
    if (!(x >= -9007199254740992.0 && x <= 9007199254740992.0) || x != floor(x))
        return -1;
    if ((int64_t)x < lo || (int64_t)x > hi)
        return -1;
    *out = (int64_t)x;
    return 0;
}

/* One integer in [lo, hi]. */
static int
get_int(const char *key, const AttrVal *v, int64_t lo, int64_t hi, int64_t *out,
        char *err, size_t errlen)
{
    if (v->kind != AV_INT)
        return fail(err, errlen, "%s: expected an integer, got %s", key, kind_name(v));
    if (v->i < lo || v->i > hi)
        return fail(err, errlen, "%s: expected an integer in [%lld, %lld], got %lld", key,
                    (long long)lo, (long long)hi, (long long)v->i);
    *out = v->i;
    return 0;
}

static int
get_flag(const char *key, const AttrVal *v, int *out, char *err, size_t errlen)
{
    int64_t x = 0;
    if (get_int(key, v, 0, 1, &x, err, errlen) < 0)
        return -1;
    *out = (int)x;
    return 0;
}

static int
get_float(const char *key, const AttrVal *v, float *out, char *err, size_t errlen)
{
    if (v->kind != AV_INT && v->kind != AV_FLOAT)
        return fail(err, errlen, "%s: expected a number, got %s", key, kind_name(v));
    if (isfinite(v->f) && fabs(v->f) > FLT_MAX)
        return fail(err, errlen, "%s: %g is out of f32 range", key, v->f);
    *out = (float)v->f;
    return 0;
}

/* An integer or a list of integers in [lo, hi]: *n entries into out[0..max). */
static int
get_ints(const char *key, const AttrVal *v, int64_t lo, int64_t hi, int64_t *out, int max,
         int *n, char *err, size_t errlen)
{
    if (v->kind == AV_INT) {
        *n = 1;
        return get_int(key, v, lo, hi, out, err, errlen);
    }
    if (v->kind != AV_LIST)
        return fail(err, errlen, "%s: expected integers, got %s", key, kind_name(v));
    if (v->n > max)
        return fail(err, errlen, "%s: expected at most %d integers, got %d", key, max, v->n);
    for (int i = 0; i < v->n; i++)
        if (exact_int(v->list[i], lo, hi, &out[i]) < 0)
            return fail(err, errlen, "%s: entry %d: expected an integer in [%lld, %lld], got %g",
                        key, i, (long long)lo, (long long)hi, v->list[i]);
    *n = v->n;
    return 0;
}

/* 1 integer = both, or [h, w]; each >= lo. */
static int
get_pair(const char *key, const AttrVal *v, int lo, int out[2], char *err, size_t errlen)
{
    int64_t x[2] = { 0 };
    int n;
    if (v->kind == AV_LIST && (v->n < 1 || v->n > 2))
        return fail(err, errlen, "%s: expected 1 or 2 integers, got %d", key, v->n);
    if (get_ints(key, v, lo, INT_MAX, x, 2, &n, err, errlen) < 0)
        return -1;
    if (n == 0)
        return fail(err, errlen, "%s: expected 1 or 2 integers, got 0", key);
    out[0] = (int)x[0];
    out[1] = (int)(n == 2 ? x[1] : x[0]);
    return 0;
}

/* 1 integer = all four, [h, w] symmetric, or [top, left, bottom, right]; each >= 0. */
static int
get_pad4(const char *key, const AttrVal *v, int out[4], char *err, size_t errlen)
{
    int64_t x[4] = { 0 };
    int n;
    if (v->kind == AV_LIST && v->n > 4)
        return fail(err, errlen, "%s: expected 1, 2 or 4 integers, got %d", key, v->n);
    if (get_ints(key, v, 0, INT_MAX, x, 4, &n, err, errlen) < 0)
        return -1;
    if (n == 0 || n == 3)
        return fail(err, errlen, "%s: expected 1, 2 or 4 integers, got %d", key, n);
    for (int i = 0; i < 4; i++)
        out[i] = (int)(n == 1 ? x[0] : n == 2 ? x[i % 2] : x[i]);
    return 0;
}

/* ------------------------------------------------------------------ setters by kind */

static int
set_matmul(MatmulAttr *a, const char *key, const AttrVal *v, char *err, size_t errlen)
{
    if (strcmp(key, "trans_a") == 0)
        return get_flag(key, v, &a->trans_a, err, errlen);
    if (strcmp(key, "trans_b") == 0)
        return get_flag(key, v, &a->trans_b, err, errlen);
    return NOKEY;
}

static int
set_conv(ConvAttr *a, const char *key, const AttrVal *v, char *err, size_t errlen)
{
    int64_t x = 0;
    if (strcmp(key, "stride") == 0)
        return get_pair(key, v, 1, a->stride, err, errlen);
    if (strcmp(key, "dilation") == 0)
        return get_pair(key, v, 1, a->dilation, err, errlen);
    if (strcmp(key, "pad") == 0)
        return get_pad4(key, v, a->pad, err, errlen);
    if (strcmp(key, "groups") == 0) {
        if (get_int(key, v, 1, INT_MAX, &x, err, errlen) < 0)
            return -1;
        a->groups = (int)x;
        return 0;
    }
    return NOKEY;
}

static int
set_pool(PoolAttr *a, const char *key, const AttrVal *v, char *err, size_t errlen)
{
    if (strcmp(key, "kernel") == 0) {
        if (get_pair(key, v, 1, a->kernel, err, errlen) < 0)
            return -1;
        if (a->stride[0] == 0) {     /* stride not given yet: defaults to the kernel */
            a->stride[0] = a->kernel[0];
            a->stride[1] = a->kernel[1];
        }
        return 0;
    }
    if (strcmp(key, "stride") == 0)
        return get_pair(key, v, 1, a->stride, err, errlen);
    if (strcmp(key, "pad") == 0)
        return get_pad4(key, v, a->pad, err, errlen);
    if (strcmp(key, "count_pad") == 0)
        return get_flag(key, v, &a->count_pad, err, errlen);
    return NOKEY;
}

static int
set_scalar(Op op, ScalarAttr *a, const char *key, const AttrVal *v, char *err, size_t errlen)
{
    if (op == OP_LEAKY_RELU && strcmp(key, "alpha") == 0)
        return get_float(key, v, &a->a, err, errlen);
    if (op == OP_CLIP && strcmp(key, "min") == 0)
        return get_float(key, v, &a->a, err, errlen);
    if (op == OP_CLIP && strcmp(key, "max") == 0)
        return get_float(key, v, &a->b, err, errlen);
    return NOKEY;
}

static int
set_gelu(GeluAttr *a, const char *key, const AttrVal *v, char *err, size_t errlen)
{
    if (strcmp(key, "approximate") != 0)
        return NOKEY;
    if (v->kind == AV_IDENT || v->kind == AV_STRING) {
        if (strcmp(v->s, "tanh") == 0 || strcmp(v->s, "none") == 0) {
            a->tanh_approx = strcmp(v->s, "tanh") == 0;
            return 0;
        }
        return fail(err, errlen, "approximate: expected \"tanh\" or \"none\", got \"%s\"", v->s);
    }
    return get_flag(key, v, &a->tanh_approx, err, errlen);
}

static int
set_axis(AxisAttr *a, const char *key, const AttrVal *v, char *err, size_t errlen)
{
    int64_t x = 0;
    if (strcmp(key, "axis") != 0)
        return NOKEY;
    if (get_int(key, v, -KILN_MAX_RANK, KILN_MAX_RANK - 1, &x, err, errlen) < 0)
        return -1;
    a->axis = (int)x;
    return 0;
}

static int
set_norm(NormAttr *a, const char *key, const AttrVal *v, char *err, size_t errlen)
{
    if (strcmp(key, "eps") == 0)
        return get_float(key, v, &a->eps, err, errlen);
    if (strcmp(key, "axis") == 0) {
        AxisAttr ax;
        if (set_axis(&ax, key, v, err, errlen) < 0)
            return -1;
        a->axis = ax.axis;
        return 0;
    }
    return NOKEY;
}

static int
set_dims(DimsAttr *a, const char *key, const AttrVal *v, int64_t lo, int64_t hi, char *err,
         size_t errlen)
{
    if (v->kind != AV_LIST)
        return fail(err, errlen, "%s: expected a list of integers, got %s", key, kind_name(v));
    return get_ints(key, v, lo, hi, a->v, KILN_MAX_RANK, &a->rank, err, errlen);
}

static int
set_split(SplitAttr *a, const char *key, const AttrVal *v, char *err, size_t errlen)
{
    if (strcmp(key, "axis") == 0) {
        AxisAttr ax;
        if (set_axis(&ax, key, v, err, errlen) < 0)
            return -1;
        a->axis = ax.axis;
        return 0;
    }
    if (strcmp(key, "sizes") != 0)
        return NOKEY;
    if (v->kind != AV_LIST || v->n == 0)
        return fail(err, errlen, "sizes: expected a list of 1 to %d integers, got %s",
                    KILN_MAX_SPLIT, v->kind == AV_LIST ? "an empty list" : kind_name(v));
    return get_ints(key, v, 0, INT64_MAX / 2, a->size, KILN_MAX_SPLIT, &a->n, err, errlen);
}

/* starts/ends/steps fill dims 0..n-1 (the first one given fixes n; the rest default to the
 * full range); a later `axes` moves entry i to dim axes[i] and makes the other dims full. */
static void
slice_full(SliceAttr *a, int d)
{
    a->start[d] = 0;
    a->end[d] = INT64_MAX;
    a->step[d] = 1;
}

static int
slice_axes(SliceAttr *a, const AttrVal *v, char *err, size_t errlen)
{
    int64_t ax[KILN_MAX_RANK];
    int n;
    if (get_ints("axes", v, 0, KILN_MAX_RANK - 1, ax, KILN_MAX_RANK, &n, err, errlen) < 0)
        return -1;
    if (a->rank == 0)
        return fail(err, errlen, "axes: must follow starts, ends or steps");
    if (n != a->rank)
        return fail(err, errlen, "axes: expected %d entries like starts, got %d", a->rank, n);
    SliceAttr old = *a;
    int rank = 0;
    for (int i = 0; i < n; i++) {
        for (int k = 0; k < i; k++)
            if (ax[k] == ax[i])
                return fail(err, errlen, "axes: axis %lld given twice", (long long)ax[i]);
        rank = ax[i] + 1 > rank ? (int)ax[i] + 1 : rank;
    }
    for (int d = 0; d < rank; d++)
        slice_full(a, d);
    for (int i = 0; i < n; i++) {
        a->start[ax[i]] = old.start[i];
        a->end[ax[i]] = old.end[i];
        a->step[ax[i]] = old.step[i];
    }
    a->rank = rank;
    return 0;
}

/* Entry i of an int or list.  Lists hold doubles, so magnitudes beyond 2^53 are inexact:
 * those at or past +-2^63 clamp to INT64_MAX/MIN ("to the end", the form the printer
 * writes), others are refused. */
static int
slice_int(const AttrVal *v, int i, int64_t *out)
{
    if (v->kind == AV_INT) {
        *out = v->i;
        return 0;
    }
    double x = v->list[i];
    if (x >= 9223372036854775807.0) {
        *out = INT64_MAX;
        return 0;
    }
    if (x <= -9223372036854775807.0) {
        *out = INT64_MIN;
        return 0;
    }
    return exact_int(x, INT64_MIN, INT64_MAX, out);
}

static int
set_slice(SliceAttr *a, const char *key, const AttrVal *v, char *err, size_t errlen)
{
    int64_t *dst = strcmp(key, "starts") == 0 ? a->start : strcmp(key, "ends") == 0 ? a->end
                 : strcmp(key, "steps") == 0 ? a->step : NULL;
    if (strcmp(key, "axes") == 0)
        return slice_axes(a, v, err, errlen);
    if (!dst)
        return NOKEY;
    int64_t x[KILN_MAX_RANK] = { 0 };
    int n = v->kind == AV_LIST ? v->n : 1;
    if (v->kind != AV_LIST && v->kind != AV_INT)
        return fail(err, errlen, "%s: expected integers, got %s", key, kind_name(v));
    if (n > KILN_MAX_RANK)
        return fail(err, errlen, "%s: expected at most %d integers, got %d", key, KILN_MAX_RANK, n);
    for (int i = 0; i < n; i++)
        if (slice_int(v, i, &x[i]) < 0)
            return fail(err, errlen, "%s: entry %d: expected an integer, got %g", key, i,
                        v->kind == AV_LIST ? v->list[i] : v->f);
    if (n == 0)
        return fail(err, errlen, "%s: expected 1 to %d integers, got 0", key, KILN_MAX_RANK);
    if (a->rank == 0)
        for (int d = 0; d < n; d++)
            slice_full(a, d);
    else if (n != a->rank)
        return fail(err, errlen, "%s: expected %d entries, got %d", key, a->rank, n);
    a->rank = n;
    for (int d = 0; d < n; d++)
        dst[d] = x[d];
    return 0;
}

static int
set_pad(PadAttr *a, const char *key, const AttrVal *v, char *err, size_t errlen)
{
    if (strcmp(key, "value") == 0)
        return get_float(key, v, &a->value, err, errlen);
    if (strcmp(key, "pads") != 0)
        return NOKEY;
    int64_t x[2 * KILN_MAX_RANK] = { 0 };
    int n;
    if (v->kind != AV_LIST)
        return fail(err, errlen, "pads: expected a list of integers, got %s", kind_name(v));
    if (get_ints(key, v, 0, INT64_MAX / 4, x, 2 * KILN_MAX_RANK, &n, err, errlen) < 0)
        return -1;
    if (n % 2)
        return fail(err, errlen, "pads: expected an even count (befores, then afters), got %d", n);
    a->rank = n / 2;
    for (int d = 0; d < a->rank; d++) {
        a->before[d] = x[d];
        a->after[d] = x[a->rank + d];
    }
    return 0;
}

static int
set_reduce(Op op, ReduceAttr *a, const char *key, const AttrVal *v, char *err, size_t errlen)
{
    int64_t x[KILN_MAX_RANK] = { 0 };
    if (strcmp(key, "keepdims") == 0)
        return get_flag(key, v, &a->keepdims, err, errlen);
    if (strcmp(key, op == OP_ARGMAX ? "axis" : "axes") != 0)
        return NOKEY;
    if (op == OP_ARGMAX) {
        if (get_int(key, v, -KILN_MAX_RANK, KILN_MAX_RANK - 1, x, err, errlen) < 0)
            return -1;
        a->naxes = 1;
        a->axes[0] = (int)x[0];
        return 0;
    }
    if (get_ints(key, v, -KILN_MAX_RANK, KILN_MAX_RANK - 1, x, KILN_MAX_RANK, &a->naxes, err,
                 errlen) < 0)
        return -1;
    for (int i = 0; i < a->naxes; i++)
        a->axes[i] = (int)x[i];
    return 0;
}

static int
set_cast(CastAttr *a, const char *key, const AttrVal *v, char *err, size_t errlen)
{
    if (strcmp(key, "to") != 0)
        return NOKEY;
    if (v->kind != AV_IDENT && v->kind != AV_STRING)
        return fail(err, errlen, "to: expected a dtype name, got %s", kind_name(v));
    a->to = ir_dtype_parse(v->s);
    if (a->to == DT_NONE)
        return fail(err, errlen, "to: expected a dtype (f32, i32, i64, i8, u8, bool), got '%s'",
                    v->s);
    return 0;
}

/* scale and zero: the first one given fixes nscale; granularity follows from nscale and
 * group (group > 0: per group; nscale > 1: per axis; else per tensor). */
static int
quant_list(Graph *g, QuantParams *q, const char *key, const AttrVal *v, char *err,
           size_t errlen)
{
    int is_scale = strcmp(key, "scale") == 0;
    int n = v->kind == AV_LIST ? v->n : 1;
    if (v->kind != AV_LIST && v->kind != AV_INT && v->kind != AV_FLOAT)
        return fail(err, errlen, "%s: expected a number or a list, got %s", key, kind_name(v));
    if (n == 0)
        return fail(err, errlen, "%s: expected at least 1 entry, got 0", key);
    if ((is_scale ? q->zero != NULL : q->scale != NULL) && q->nscale != n)
        return fail(err, errlen, "%s: expected %d entries like %s, got %d", key, q->nscale,
                    is_scale ? "zero" : "scale", n);
    float *sc = arena_alloc(g->arena, (size_t)n * sizeof *sc);
    int32_t *zp = arena_alloc(g->arena, (size_t)n * sizeof *zp);
    for (int i = 0; i < n; i++) {
        double x = v->kind == AV_LIST ? v->list[i] : v->f;
        int64_t z;
        if (is_scale && !(fabs(x) <= FLT_MAX))
            return fail(err, errlen, "scale: entry %d: expected a finite f32, got %g", i, x);
        if (!is_scale && exact_int(x, INT32_MIN, INT32_MAX, &z) < 0)
            return fail(err, errlen, "zero: entry %d: expected an integer, got %g", i, x);
        if (is_scale)
            sc[i] = (float)x;
        else
            zp[i] = (int32_t)z;
    }
    if (is_scale) {
        q->scale = sc;
        if (!q->zero)
            q->zero = zp;             /* zero points default to 0 */
    } else {
        q->zero = zp;
    }
    q->nscale = n;
    return 0;
}

static int
set_quant(Graph *g, QuantParams *q, const char *key, const AttrVal *v, char *err, size_t errlen)
{
    int64_t x = 0;
    int r = NOKEY;
    if (strcmp(key, "bits") == 0) {
        if ((r = get_int(key, v, 2, 8, &x, err, errlen)) == 0)
            q->bits = (int)x;
    } else if (strcmp(key, "signed") == 0) {
        r = get_flag(key, v, &q->is_signed, err, errlen);
    } else if (strcmp(key, "axis") == 0) {
        if ((r = get_int(key, v, -KILN_MAX_RANK, KILN_MAX_RANK - 1, &x, err, errlen)) == 0)
            q->axis = (int)x;
    } else if (strcmp(key, "group") == 0) {
        if ((r = get_int(key, v, 1, INT_MAX, &x, err, errlen)) == 0)
            q->group = (int)x;
    } else if (strcmp(key, "scale") == 0 || strcmp(key, "zero") == 0) {
        r = quant_list(g, q, key, v, err, errlen);
    }
    q->gran = q->group > 0 ? QG_GROUP : q->nscale > 1 ? QG_AXIS : q->nscale == 1 ? QG_TENSOR
            : QG_NONE;
    return r;
}

static int
set_exit(ExitAttr *a, const char *key, const AttrVal *v, char *err, size_t errlen)
{
    int64_t x = 0;
    if (strcmp(key, "index") != 0)
        return NOKEY;
    if (get_int(key, v, 1, INT_MAX, &x, err, errlen) < 0)
        return -1;
    a->index = (int)x;
    return 0;
}

/* The keys op accepts, for "has no attribute" messages.  KEEP-IN-SYNC(attr-keys): the
 * setters above and the attribute table of doc/ir.md. */
static const char *
keys_of(Op op)
{
    switch (op_attr[op]) {
    case ATTR_MATMUL: return "trans_a, trans_b";
    case ATTR_CONV:   return "stride, dilation, pad, groups";
    case ATTR_POOL:   return "kernel, stride, pad, count_pad";
    case ATTR_SCALAR: return op == OP_CLIP ? "min, max" : "alpha";
    case ATTR_GELU:   return "approximate";
    case ATTR_AXIS:   return "axis";
    case ATTR_NORM:   return "eps, axis";
    case ATTR_SHAPE:  return "shape";
    case ATTR_PERM:   return "perm";
    case ATTR_SPLIT:  return "axis, sizes";
    case ATTR_SLICE:  return "starts, ends, steps, axes";
    case ATTR_PAD:    return "pads, value";
    case ATTR_REDUCE: return op == OP_ARGMAX ? "axis, keepdims" : "axes, keepdims";
    case ATTR_CAST:   return "to";
    case ATTR_QUANT:  return "bits, signed, axis, group, scale, zero";
    case ATTR_EXIT:   return "index";
    default:          return NULL;
    }
}

int
ir_attr_set(Graph *g, Op op, Attr *a, const char *key, const AttrVal *v, char *err,
            size_t errlen)
{
    int r = NOKEY;
    KILN_ASSERT(op > OP_NONE && op < OP_COUNT);
    switch (op_attr[op]) {
    case ATTR_MATMUL: r = set_matmul(&a->matmul, key, v, err, errlen); break;
    case ATTR_CONV:   r = set_conv(&a->conv, key, v, err, errlen); break;
    case ATTR_POOL:   r = set_pool(&a->pool, key, v, err, errlen); break;
    case ATTR_SCALAR: r = set_scalar(op, &a->scalar, key, v, err, errlen); break;
    case ATTR_GELU:   r = set_gelu(&a->gelu, key, v, err, errlen); break;
    case ATTR_AXIS:   r = set_axis(&a->axis, key, v, err, errlen); break;
    case ATTR_NORM:   r = set_norm(&a->norm, key, v, err, errlen); break;
    case ATTR_SHAPE:
        if (strcmp(key, "shape") == 0)
            r = set_dims(&a->dims, key, v, -1, INT64_MAX / 2, err, errlen);
        break;
    case ATTR_PERM:
        if (strcmp(key, "perm") == 0)
            r = set_dims(&a->dims, key, v, -KILN_MAX_RANK, KILN_MAX_RANK - 1, err, errlen);
        break;
    case ATTR_SPLIT:  r = set_split(&a->split, key, v, err, errlen); break;
    case ATTR_SLICE:  r = set_slice(&a->slice, key, v, err, errlen); break;
    case ATTR_PAD:    r = set_pad(&a->pad, key, v, err, errlen); break;
    case ATTR_REDUCE: r = set_reduce(op, &a->reduce, key, v, err, errlen); break;
    case ATTR_CAST:   r = set_cast(&a->cast, key, v, err, errlen); break;
    case ATTR_QUANT:  r = set_quant(g, &a->quant.q, key, v, err, errlen); break;
    case ATTR_EXIT:   r = set_exit(&a->exit, key, v, err, errlen); break;
    default: break;
    }
    if (r != NOKEY)
        return r;
    if (keys_of(op))
        return fail(err, errlen, "%s has no attribute '%s' (expected %s)", op_name[op], key,
                    keys_of(op));
    return fail(err, errlen, "%s has no attribute '%s' (it takes none)", op_name[op], key);
}

/* ------------------------------------------------------------------ printing */

/* Shortest "%.Ng" (N = 6..9) that reads back as the same float: exact, yet 0.2 stays 0.2. */
static void
pr_f32(FILE *out, float x)
{
    char buf[64];
    for (int prec = 6; prec <= 9; prec++) {
        snprintf(buf, sizeof buf, "%.*g", prec, (double)x);
        if ((float)strtod(buf, NULL) == x || x != x)
            break;
    }
    fputs(buf, out);
}

/* Separator state: the first field opens the brace. */
typedef struct {
    FILE *out;               /* destination */
    int   nfield;            /* fields printed so far */
} Pr;

static void
key(Pr *p, const char *k)
{
    fprintf(p->out, "%s%s = ", p->nfield++ ? ", " : " {", k);
}

static void
pr_int(Pr *p, const char *k, long long x)
{
    key(p, k);
    fprintf(p->out, "%lld", x);
}

static void
pr_float(Pr *p, const char *k, float x)
{
    key(p, k);
    pr_f32(p->out, x);
}

/* Clamps a count read from an attribute to its array, so a corrupt one prints, not crashes. */
static int
clampn(int n, int max)
{
    return n < 0 ? 0 : n > max ? max : n;
}

static void
pr_list(Pr *p, const char *k, const int64_t *x, int n)
{
    key(p, k);
    fputc('[', p->out);
    for (int i = 0; i < n; i++)
        fprintf(p->out, "%s%lld", i ? ", " : "", (long long)x[i]);
    fputc(']', p->out);
}

static void
pr_ints(Pr *p, const char *k, const int *x, int n)
{
    int64_t w[4];
    for (int i = 0; i < n; i++)
        w[i] = x[i];
    pr_list(p, k, w, n);
}

/* A pair prints as one integer when both entries agree; omitted when both equal dflt. */
static void
pr_pair(Pr *p, const char *k, const int x[2], int dflt)
{
    if (x[0] == dflt && x[1] == dflt)
        return;
    if (x[0] == x[1])
        pr_int(p, k, x[0]);
    else
        pr_ints(p, k, x, 2);
}

/* Padding prints in its shortest form; omitted when all zero. */
static void
pr_pad4(Pr *p, const char *k, const int x[4])
{
    if (!x[0] && !x[1] && !x[2] && !x[3])
        return;
    if (x[0] == x[1] && x[1] == x[2] && x[2] == x[3])
        pr_int(p, k, x[0]);
    else if (x[0] == x[2] && x[1] == x[3])
        pr_ints(p, k, x, 2);
    else
        pr_ints(p, k, x, 4);
}

static void
pr_quant(Pr *p, const QuantParams *q)
{
    pr_int(p, "bits", q->bits);
    pr_int(p, "signed", q->is_signed);
    if (q->axis)
        pr_int(p, "axis", q->axis);
    if (q->group)
        pr_int(p, "group", q->group);
    if (q->nscale <= 0)
        return;
    key(p, "scale");
    fputc('[', p->out);
    for (int i = 0; i < q->nscale && q->scale; i++) {
        fputs(i ? ", " : "", p->out);
        pr_f32(p->out, q->scale[i]);
    }
    fputc(']', p->out);
    key(p, "zero");
    fputc('[', p->out);
    for (int i = 0; i < q->nscale && q->zero; i++)
        fprintf(p->out, "%s%d", i ? ", " : "", (int)q->zero[i]);
    fputc(']', p->out);
}

static void
pr_slice(Pr *p, const SliceAttr *s)
{
    int steps = 0;
    if (s->rank <= 0 || s->rank > KILN_MAX_RANK)
        return;
    for (int d = 0; d < s->rank; d++)
        steps |= s->step[d] != 1;
    pr_list(p, "starts", s->start, s->rank);
    pr_list(p, "ends", s->end, s->rank);
    if (steps)
        pr_list(p, "steps", s->step, s->rank);
}

static void
pr_pad(Pr *p, const PadAttr *a)
{
    int64_t x[2 * KILN_MAX_RANK] = { 0 };
    int rank = clampn(a->rank, KILN_MAX_RANK);
    for (int d = 0; d < rank; d++) {
        x[d] = a->before[d];
        x[rank + d] = a->after[d];
    }
    pr_list(p, "pads", x, 2 * rank);
    if (a->value != 0)
        pr_float(p, "value", a->value);
}

static void
pr_reduce(Pr *p, Op op, const ReduceAttr *a)
{
    if (op == OP_ARGMAX) {
        if (a->naxes != 1 || a->axes[0] != -1)
            pr_int(p, "axis", a->naxes ? a->axes[0] : 0);
    } else if (a->naxes) {
        int64_t x[KILN_MAX_RANK];
        int n = clampn(a->naxes, KILN_MAX_RANK);
        for (int i = 0; i < n; i++)
            x[i] = a->axes[i];
        pr_list(p, "axes", x, n);
    }
    if (a->keepdims)
        pr_int(p, "keepdims", a->keepdims);
}

/* Fields of a whose value differs from the op's default d. */
static void
pr_fields(Pr *p, Op op, const Attr *a, const Attr *d)
{
    switch (op_attr[op]) {
    case ATTR_MATMUL:
        if (a->matmul.trans_a)
            pr_int(p, "trans_a", a->matmul.trans_a);
        if (a->matmul.trans_b)
            pr_int(p, "trans_b", a->matmul.trans_b);
        break;
    case ATTR_CONV:
        pr_pair(p, "stride", a->conv.stride, 1);
        pr_pad4(p, "pad", a->conv.pad);
        pr_pair(p, "dilation", a->conv.dilation, 1);
        if (a->conv.groups != 1)
            pr_int(p, "groups", a->conv.groups);
        break;
    case ATTR_POOL:
        /* kernel first: reading it sets the default stride */
        pr_pair(p, "kernel", a->pool.kernel, 0);
        if (a->pool.stride[0] != a->pool.kernel[0] || a->pool.stride[1] != a->pool.kernel[1])
            pr_pair(p, "stride", a->pool.stride, -1);
        pr_pad4(p, "pad", a->pool.pad);
        if (a->pool.count_pad)
            pr_int(p, "count_pad", a->pool.count_pad);
        break;
    case ATTR_SCALAR:
        if (a->scalar.a != d->scalar.a)
            pr_float(p, op == OP_CLIP ? "min" : "alpha", a->scalar.a);
        if (op == OP_CLIP && a->scalar.b != d->scalar.b)
            pr_float(p, "max", a->scalar.b);
        break;
    case ATTR_GELU:
        if (a->gelu.tanh_approx) {
            key(p, "approximate");
            fputs("\"tanh\"", p->out);
        }
        break;
    case ATTR_AXIS:
        if (a->axis.axis != d->axis.axis)
            pr_int(p, "axis", a->axis.axis);
        break;
    case ATTR_NORM:
        if (a->norm.eps != d->norm.eps)
            pr_float(p, "eps", a->norm.eps);
        if (a->norm.axis != d->norm.axis)
            pr_int(p, "axis", a->norm.axis);
        break;
    case ATTR_SHAPE:
        pr_list(p, "shape", a->dims.v, clampn(a->dims.rank, KILN_MAX_RANK));
        break;
    case ATTR_PERM:
        if (a->dims.rank)
            pr_list(p, "perm", a->dims.v, clampn(a->dims.rank, KILN_MAX_RANK));
        break;
    case ATTR_SPLIT:
        pr_int(p, "axis", a->split.axis);
        pr_list(p, "sizes", a->split.size, clampn(a->split.n, KILN_MAX_SPLIT));
        break;
    case ATTR_SLICE:  pr_slice(p, &a->slice); break;
    case ATTR_PAD:    pr_pad(p, &a->pad); break;
    case ATTR_REDUCE: pr_reduce(p, op, &a->reduce); break;
    case ATTR_CAST:
        if (a->cast.to > DT_NONE && a->cast.to < DT_COUNT) {
            key(p, "to");
            fputs(ir_dtype_name(a->cast.to), p->out);
        }
        break;
    case ATTR_QUANT:  pr_quant(p, &a->quant.q); break;
    case ATTR_EXIT:   pr_int(p, "index", a->exit.index); break;
    default: break;
    }
}

void
ir_attr_print(Op op, const Attr *a, FILE *out)
{
    Attr d;
    Pr p = { out, 0 };
    KILN_ASSERT(op > OP_NONE && op < OP_COUNT);
    ir_attr_default(op, &d);
    pr_fields(&p, op, a, &d);
    if (p.nfield)
        fputc('}', out);
}
