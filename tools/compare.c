/* tools/compare.c — `kiln run --compare=interp`: checks a backend's outputs against the
 * reference interpreter's.  f32 values pass when |got - ref| <= atol + rtol * |ref| (numpy's
 * allclose rule; why these tolerances: doc/testing.md), every other dtype must be exact. */
#include <math.h>
#include <string.h>
#include "tools.h"

/* Per-output result of a comparison. */
typedef struct {
    int64_t n;               /* elements compared */
    int64_t nbad;            /* elements outside tolerance */
    int64_t first;           /* index of the first bad element, -1 = none */
    double  max_abs;         /* largest |got - ref| over finite pairs */
} CmpResult;

static int
f32_close(float a, float r)
{
    if (isnan(a) || isnan(r))
        return isnan(a) && isnan(r);
    if (isinf(a) || isinf(r))
        return a == r;
    return fabs((double)a - (double)r) <= KILN_CMP_ATOL + KILN_CMP_RTOL * fabs((double)r);
}

static void
compare_f32(const float *a, const float *r, CmpResult *c)
{
    for (int64_t i = 0; i < c->n; i++) {
        double e = fabs((double)a[i] - (double)r[i]);
        if (isfinite(e) && e > c->max_abs)
            c->max_abs = e;
        if (!f32_close(a[i], r[i]) && c->nbad++ == 0)
            c->first = i;
    }
}

static void
compare_exact(const unsigned char *a, const unsigned char *r, size_t size, CmpResult *c)
{
    for (int64_t i = 0; i < c->n; i++)
        if (memcmp(a + (size_t)i * size, r + (size_t)i * size, size) != 0 && c->nbad++ == 0)
            c->first = i;
    c->max_abs = c->nbad ? NAN : 0.0;
}

/* Compares one output and prints its line; returns 1 on mismatch. */
static int
compare_one(const char *name, const IrTensor *got, const IrTensor *ref, FILE *out)
{
    char a[128], b[128];
    if (!tensor_same_shape(&got->type, &ref->type)) {
        fprintf(out, "  %s: MISMATCH: type %s, interpreter %s\n", name,
                ir_type_str(&got->type, a, sizeof a), ir_type_str(&ref->type, b, sizeof b));
        return 1;
    }
    CmpResult c = { .first = -1 };
    if (ir_type_numel(&got->type, &c.n) != 0)
        c.n = 0;
    if (got->type.dtype == DT_F32)
        compare_f32(got->data, ref->data, &c);
    else
        compare_exact(got->data, ref->data, ir_dtype_size(got->type.dtype), &c);
    if (got->type.dtype == DT_F32)
        fprintf(out, "  %s: max abs error %.3g", name, c.max_abs);
    else
        fprintf(out, "  %s: exact compare", name);
    if (!c.nbad) {
        fputs(" (ok)\n", out);
        return 0;
    }
    fprintf(out, ": MISMATCH in %lld of %lld elements, first at flat index %lld\n",
            (long long)c.nbad, (long long)c.n, (long long)c.first);
    return 1;
}

int
cli_compare(const Graph *g, const IrTensor *got, int got_exit, const IrTensor *ref,
            int ref_exit, FILE *out)
{
    int bad = 0;
    fprintf(out, "compare with interpreter (f32: |got - ref| <= %g + %g * |ref|):\n",
            KILN_CMP_ATOL, KILN_CMP_RTOL);
    if (got_exit != ref_exit) {
        fprintf(out, "  exit taken: MISMATCH: %d, interpreter %d\n", got_exit, ref_exit);
        bad++;
    }
    for (int i = 0; i < g->noutput; i++)
        bad += compare_one(g->outputs[i].name, &got[i], &ref[i], out);
    if (bad)
        fprintf(out, "compare: %d mismatch(es)\n", bad);
    else
        fputs("compare: all outputs match\n", out);
    return bad;
}
