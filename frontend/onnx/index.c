/* frontend/onnx/index.c — mappers of the ONNX indexing ops kiln has no single op for:
 * GatherND, Compress and ReverseSequence as one gather over a flattened view, and Einsum
 * as diagonals (gather), reduce_sum, transpose, reshape and batched matmul.
 *
 * Approach: every index computed at import is checked against its dim here, so a bad
 * constant is a located import error; an index known only at run time that is out of
 * range is mapped to one the runtime gather rejects (its range check is the error). */
#include <string.h>
#include "onnx_internal.h"
#include "util.h"

/* ------------------------------------------------------------------ helpers */

static int64_t
span(const int64_t *dims, int from, int to)
{
    int64_t n = 1;
    for (int i = from; i < to; i++)
        n *= dims[i];
    return n;
}

static int
out0(Imp *im, ValueId v)
{
    return v ? imp_set_out(im, 0, v) : -1;
}

static ValueId
gather(Imp *im, ValueId x, ValueId idx, int axis)
{
    Attr a;
    ir_attr_default(OP_GATHER, &a);
    a.axis.axis = axis;
    ValueId in[2] = { x, idx };
    return imp_emit(im, OP_GATHER, &a, 2, in);
}

/* x reshaped to dims, or x itself when it has that shape already. */
static ValueId
reshape_to(Imp *im, ValueId x, int rank, const int64_t *dims)
{
    const TensorType *t = x ? imp_type(im, x) : NULL;
    if (t && t->rank == rank && memcmp(t->dims, dims, (size_t)rank * sizeof *dims) == 0)
        return x;
    return imp_reshape(im, x, rank, dims);
}

/* A constant i64 tensor of rank / dims from v[]. */
static ValueId
const_i64(Imp *im, int rank, const int64_t *dims, const int64_t *v)
{
    TensorType t = ir_type_make(DT_I64, rank, dims);
    return imp_const(im, &t, v);
}

/* ------------------------------------------------------------------ GatherND */

/* Import-time check of constant indices idx [.., K] against dims[b .. b+K). */
static int
gathernd_check(Imp *im, const int64_t *idx, int64_t n, int k, const int64_t *dims)
{
    for (int64_t e = 0; e < n; e++) {
        int64_t v = idx[e], d = dims[e % k];
        if (v < -d || v >= d)
            return imp_fail(im, "GatherND: index %lld out of range for data dim %d of size %lld",
                            (long long)v, (int)(e % k), (long long)d);
    }
    return 0;
}

/* Flat row of each index tuple within its batch's [prod(dims[b..b+K))] block, with an
 * out-of-range coordinate mapped to -rows - 1 (a gather error at run time). */
static ValueId
gathernd_rows(Imp *im, ValueId idx, const TensorType *it, const int64_t *dk, int64_t rows)
{
    int k = (int)it->dims[it->rank - 1];
    int64_t stride[KILN_MAX_RANK], neg[KILN_MAX_RANK], one = k;
    for (int i = k - 1; i >= 0; i--) {
        stride[i] = i == k - 1 ? 1 : stride[i + 1] * dk[i + 1];
        neg[i] = -dk[i];
    }
    ValueId dimv = const_i64(im, 1, &one, dk), negv = const_i64(im, 1, &one, neg);
    ValueId bad = imp_where(im, imp_emit2(im, OP_LESS, idx, negv), imp_scalar(im, DT_BOOL, 1),
                            imp_emit2(im, OP_EQUAL, imp_emit2(im, OP_LESS, idx, dimv),
                                      imp_scalar(im, DT_BOOL, 0)));
    ValueId pos = imp_where(im, imp_emit2(im, OP_LESS, idx, imp_scalar(im, DT_I64, 0)),
                            imp_emit2(im, OP_ADD, idx, dimv), idx);
    Attr c;
    ir_attr_default(OP_CAST, &c);
    c.cast.to = DT_I64;
    int64_t last = it->rank - 1;
    ValueId nbad = imp_reduce(im, OP_REDUCE_MAX, imp_emit(im, OP_CAST, &c, 1, &bad), 1, &last, 0);
    ValueId flat = imp_reduce(im, OP_REDUCE_SUM,
                              imp_emit2(im, OP_MUL, pos, const_i64(im, 1, &one, stride)), 1,
                              &last, 0);
    return imp_where(im, imp_emit2(im, OP_GREATER, nbad, imp_scalar(im, DT_I64, 0)),
                     imp_scalar(im, DT_I64, (double)(-rows - 1)), flat);
}

/* GatherND: data [B.., D0..DK-1, R..], indices [B.., I.., K] (b = batch_dims) ->
 * gather along axis 0 of data viewed as [prod(B) prod(D), R..] at flat rows
 * batch * prod(D) + sum(index_k * stride_k), result [B.., I.., R..]. */
int
onnx_map_gather_nd(Imp *im)
{
    ValueId x = imp_need(im, 0), idx = imp_need(im, 1);
    if (!x || !idx)
        return -1;
    TensorType xt = *imp_type(im, x), it = *imp_type(im, idx);
    int64_t b = imp_attr_i(im, "batch_dims", 0);
    if (it.dtype != DT_I64 && it.dtype != DT_I32)
        return imp_fail(im, "GatherND: expected i64 indices, got %s", ir_dtype_name(it.dtype));
    if (it.rank < 1 || b < 0 || b >= it.rank || b >= xt.rank)
        return imp_fail(im, "GatherND: batch_dims %lld out of range for data rank %d and "
                        "indices rank %d", (long long)b, xt.rank, it.rank);
    int k = (int)it.dims[it.rank - 1], nb = (int)b;
    if (k < 1 || k > xt.rank - nb)
        return imp_fail(im, "GatherND: expected an index length in 1..%d, got %d",
                        xt.rank - nb, k);
    for (int i = 0; i < nb; i++)
        if (xt.dims[i] != it.dims[i])
            return imp_fail(im, "GatherND: batch dim %d differs: data %lld, indices %lld", i,
                            (long long)xt.dims[i], (long long)it.dims[i]);
    int64_t nidx;
    if (ir_type_numel(&it, &nidx) < 0)
        return imp_fail(im, "GatherND: indices too large");
    const int64_t *dk = xt.dims + nb;
    if (it.dtype == DT_I32) {
        Attr c;
        ir_attr_default(OP_CAST, &c);
        c.cast.to = DT_I64;
        idx = imp_emit(im, OP_CAST, &c, 1, &idx);
    }
    const int64_t *cv = idx ? imp_const_data(im, idx) : NULL;
    if (cv && gathernd_check(im, cv, nidx, k, dk) < 0)
        return -1;
    int64_t blk = span(xt.dims, nb, nb + k), nbatch = span(xt.dims, 0, nb);
    int64_t rows = nbatch * blk, vd[KILN_MAX_RANK], od[KILN_MAX_RANK];
    ValueId flat = gathernd_rows(im, idx, &it, dk, rows);
    if (nb > 0) {
        /* batch offsets batch * blk, shaped [B.., 1..] against the [B.., I..] rows */
        int64_t *off = arena_alloc(im->g->arena, (size_t)nbatch * sizeof *off);
        for (int64_t i = 0; i < nbatch; i++)
            off[i] = i * blk;
        for (int i = 0; i < it.rank - 1; i++)
            od[i] = i < nb ? it.dims[i] : 1;
        flat = imp_emit2(im, OP_ADD, flat, const_i64(im, it.rank - 1, od, off));
    }
    int vr = 0;
    vd[vr++] = rows;
    for (int i = nb + k; i < xt.rank; i++)
        vd[vr++] = xt.dims[i];
    return out0(im, gather(im, reshape_to(im, x, vr, vd), flat, 0));
}

/* ------------------------------------------------------------------ Compress */

/* Compress: gather of the (flattened when axis is absent) input at the positions of the
 * constant condition's true entries; a true entry beyond the dim is an error. */
int
onnx_map_compress(Imp *im)
{
    ValueId x = imp_need(im, 0), cv = imp_need(im, 1);
    if (!x || !cv)
        return -1;
    TensorType xt = *imp_type(im, x), ct = *imp_type(im, cv);
    const uint8_t *c = imp_const_data(im, cv);
    int64_t nc, dim, axis = imp_attr_i(im, "axis", 0);
    char buf[64];
    if (ct.dtype != DT_BOOL || ct.rank != 1)
        return imp_fail(im, "Compress: expected a 1-D bool condition, got %s",
                        ir_type_str(&ct, buf, sizeof buf));
    if (!c)
        return imp_unsupported(im, "Compress: condition must be a constant");
    if (!imp_attr(im, "axis")) {
        if (ir_type_numel(&xt, &dim) < 0)
            return imp_fail(im, "Compress: input too large");
        x = reshape_to(im, x, 1, &dim);
        axis = 0;
    } else {
        if (axis < -xt.rank || axis >= xt.rank)
            return imp_fail(im, "Compress: axis %lld out of range for rank %d",
                            (long long)axis, xt.rank);
        axis += axis < 0 ? xt.rank : 0;
        dim = xt.dims[axis];
    }
    nc = ct.dims[0];
    int64_t *pos = arena_alloc(im->g->arena, (size_t)(nc + 1) * sizeof *pos), n = 0;
    for (int64_t i = 0; i < nc; i++) {
        if (!c[i])
            continue;
        if (i >= dim)
            return imp_fail(im, "Compress: condition entry %lld is true but axis %lld has "
                            "size %lld", (long long)i, (long long)axis, (long long)dim);
        pos[n++] = i;
    }
    return out0(im, gather(im, x, const_i64(im, 1, &n, pos), (int)axis));
}

/* ------------------------------------------------------------------ ReverseSequence */

/* ReverseSequence: x viewed as [d0 d1, rest..] (d0, d1 = the batch and time dims in
 * either order), one gather with the constant table of each (d0, d1) position's source
 * row; sequence_lens is constant. */
int
onnx_map_reverse_sequence(Imp *im)
{
    ValueId x = imp_need(im, 0);
    int64_t bax = imp_attr_i(im, "batch_axis", 1), tax = imp_attr_i(im, "time_axis", 0);
    int nl;
    if (!x)
        return -1;
    TensorType xt = *imp_type(im, x);
    if (xt.rank < 2)
        return imp_fail(im, "ReverseSequence: expected rank >= 2, got %d", xt.rank);
    if (!((bax == 0 && tax == 1) || (bax == 1 && tax == 0)))
        return imp_fail(im, "ReverseSequence: expected batch_axis and time_axis 0 and 1 in "
                        "either order, got %lld and %lld", (long long)bax, (long long)tax);
    int64_t nbatch = xt.dims[bax], ntime = xt.dims[tax];
    if (nbatch > ONNX_CONST_ELEMS / (ntime ? ntime : 1))
        return imp_unsupported(im, "ReverseSequence: index table of %lld x %lld entries "
                               "exceeds %d", (long long)nbatch, (long long)ntime,
                               ONNX_CONST_ELEMS);
    int64_t *lens = arena_alloc(im->g->arena, (size_t)(nbatch + 1) * sizeof *lens);
    if (imp_const_ints(im, 1, lens, (int)nbatch + 1, &nl) < 0)
        return -1;
    if (nl != nbatch)
        return imp_fail(im, "ReverseSequence: expected %lld sequence_lens, got %d",
                        (long long)nbatch, nl);
    for (int i = 0; i < nl; i++)
        if (lens[i] < 0 || lens[i] > ntime)
            return imp_fail(im, "ReverseSequence: sequence_lens[%d] = %lld out of range "
                            "0..%lld", i, (long long)lens[i], (long long)ntime);
    int64_t n = nbatch * ntime, d1 = xt.dims[1];
    int64_t *tab = arena_alloc(im->g->arena, (size_t)(n + 1) * sizeof *tab);
    for (int64_t p = 0; p < n; p++) {
        int64_t i0 = p / d1, i1 = p % d1;
        int64_t bi = bax == 0 ? i0 : i1, t = bax == 0 ? i1 : i0;
        int64_t src = t < lens[bi] ? lens[bi] - 1 - t : t;
        tab[p] = bax == 0 ? bi * d1 + src : src * d1 + bi;
    }
    int64_t vd[KILN_MAX_RANK];
    vd[0] = n;
    for (int i = 2; i < xt.rank; i++)
        vd[i - 1] = xt.dims[i];
    ValueId v = reshape_to(im, x, xt.rank - 1, vd);
    return out0(im, gather(im, v, const_i64(im, 2, xt.dims, tab), 0));
}

/* ------------------------------------------------------------------ Einsum */

/* Labels: 'a'..'z' = 0..25, 'A'..'Z' = 26..51, the j-th of the (right-aligned) ellipsis
 * dims = EIN_ELL + j. */
enum { EIN_ELL = 52, EIN_NLABEL = EIN_ELL + KILN_MAX_RANK, EIN_MAXOP = 16 };

/* One operand (or intermediate result) with the label of each of its dims. */
typedef struct {
    ValueId v;                 /* current value, f32 */
    int     rank;              /* dims of v */
    int     lab[KILN_MAX_RANK];/* label of dim i */
} EinTerm;

/* The parsed equation. */
typedef struct {
    const char *eq;            /* as written, for messages */
    int         nterm;         /* operands */
    EinTerm     t[EIN_MAXOP];  /* operands, labelled */
    int         nout;          /* output rank */
    int         out[KILN_MAX_RANK];  /* output labels, in order */
    int64_t     dim[EIN_NLABEL];     /* size of each label (largest when broadcast) */
} Ein;

static int
ein_label(char c)
{
    if (c >= 'a' && c <= 'z')
        return c - 'a';
    if (c >= 'A' && c <= 'Z')
        return 26 + c - 'A';
    return -1;
}

static char
ein_char(int l)
{
    return l < 26 ? (char)('a' + l) : l < EIN_ELL ? (char)('A' + l - 26) : '.';
}

/* Labels of subscript s (spaces removed) into lab/nlab.  An operand's ellipsis (rank >= 0)
 * covers its dims not named by letters, right-aligned among the nell ellipsis labels; the
 * output's (rank < 0) covers all nell.  -1 (reported) on a syntax error. */
static int
ein_subscript(Imp *im, const Ein *e, const char *s, int rank, int nell, int *lab, int *nlab)
{
    int k = 0, n = (int)strlen(s);
    const char *ell = strstr(s, "...");
    int named = n - (ell ? 3 : 0);
    if (ell && strchr(ell + 3, '.'))
        return imp_fail(im, "Einsum '%s': more than one ellipsis in '%s'", e->eq, s);
    for (int i = 0; i < n; i++) {
        if (s + i == ell) {
            int ne = rank < 0 ? nell : rank - named;
            if (ne < 0 || k + ne > KILN_MAX_RANK)
                return imp_fail(im, "Einsum '%s': subscript '%s' does not fit rank %d", e->eq,
                                s, rank);
            for (int j = 0; j < ne; j++)
                lab[k++] = EIN_ELL + nell - ne + j;
            i += 2;
            continue;
        }
        int l = ein_label(s[i]);
        if (l < 0)
            return imp_fail(im, "Einsum '%s': unexpected character '%c'", e->eq, s[i]);
        if (k >= KILN_MAX_RANK)
            return imp_unsupported(im, "Einsum '%s': more than %d labels in '%s' are not "
                                   "supported", e->eq, KILN_MAX_RANK, s);
        lab[k++] = l;
    }
    if (rank >= 0 && k != rank)
        return imp_fail(im, "Einsum '%s': subscript '%s' has %d labels, operand rank %d",
                        e->eq, s, k, rank);
    *nlab = k;
    return 0;
}

/* The implicit output: ellipsis labels, then letters used exactly once in ASCII order. */
static void
ein_implicit(Ein *e, int nell)
{
    int count[EIN_NLABEL] = { 0 };
    for (int i = 0; i < e->nterm; i++)
        for (int j = 0; j < e->t[i].rank; j++)
            count[e->t[i].lab[j]]++;
    e->nout = 0;
    for (int j = 0; j < nell; j++)
        e->out[e->nout++] = EIN_ELL + j;
    for (int l = 26; l < EIN_ELL; l++)         /* 'A'..'Z' sort before 'a'..'z' */
        if (count[l] == 1 && e->nout < KILN_MAX_RANK)
            e->out[e->nout++] = l;
    for (int l = 0; l < 26; l++)
        if (count[l] == 1 && e->nout < KILN_MAX_RANK)
            e->out[e->nout++] = l;
}

/* Label sizes: equal across operands, or 1 against n (broadcast, as NumPy). */
static int
ein_dims(Imp *im, Ein *e)
{
    for (int l = 0; l < EIN_NLABEL; l++)
        e->dim[l] = -1;
    for (int i = 0; i < e->nterm; i++) {
        const TensorType *t = imp_type(im, e->t[i].v);
        for (int j = 0; j < t->rank; j++) {
            int64_t *d = &e->dim[e->t[i].lab[j]], v = t->dims[j];
            for (int k = 0; k < j; k++)
                if (e->t[i].lab[k] == e->t[i].lab[j] && t->dims[k] != v)
                    return imp_fail(im, "Einsum '%s': operand %d repeats label '%c' over "
                                    "sizes %lld and %lld", e->eq, i, ein_char(e->t[i].lab[j]),
                                    (long long)t->dims[k], (long long)v);
            if (*d < 0 || *d == 1)
                *d = v;
            else if (v != *d && v != 1)
                return imp_fail(im, "Einsum '%s': label '%c' has sizes %lld and %lld", e->eq,
                                ein_char(e->t[i].lab[j]), (long long)*d, (long long)v);
        }
    }
    for (int i = 0; i < e->nout; i++)
        if (e->dim[e->out[i]] < 0)
            return imp_fail(im, "Einsum '%s': output label '%c' is not in any input", e->eq,
                            ein_char(e->out[i]));
    return 0;
}

/* Parses im's equation over its nterm operands into e. */
static int
ein_parse(Imp *im, Ein *e, const char *eq)
{
    char buf[256], *arrow;
    size_t n = 0;
    e->eq = eq;
    for (const char *p = eq; *p; p++)
        if (*p != ' ' && n + 1 < sizeof buf)
            buf[n++] = *p;
    buf[n] = 0;
    if (strlen(eq) >= sizeof buf)
        return imp_unsupported(im, "Einsum: equation longer than %d characters",
                               (int)sizeof buf - 1);
    if ((arrow = strstr(buf, "->")) != NULL)
        *arrow = 0;
    int nell = 0, nt = 1;
    for (const char *c = buf; *c; c++)
        nt += *c == ',';
    if (nt != e->nterm)
        return imp_fail(im, "Einsum '%s': expected %d subscripts (one per operand), got %d",
                        eq, e->nterm, nt);
    nt = 0;
    for (char *s = buf, *c; s; s = c ? c + 1 : NULL, nt++) {
        if ((c = strchr(s, ',')) != NULL)
            *c = 0;
        EinTerm *t = &e->t[nt];
        t->rank = imp_type(im, t->v)->rank;
        int ne = t->rank - ((int)strlen(s) - (strstr(s, "...") ? 3 : 0));
        nell = strstr(s, "...") && ne > nell ? ne : nell;
        if (ein_subscript(im, e, s, t->rank, ne < 0 ? 0 : ne, t->lab, &t->rank) < 0)
            return -1;
    }
    /* re-label the ellipsis dims right-aligned against the longest */
    for (int i = 0; i < nt; i++) {
        int ne = 0;
        for (int j = 0; j < e->t[i].rank; j++)
            ne += e->t[i].lab[j] >= EIN_ELL;
        for (int j = 0; j < e->t[i].rank; j++)
            if (e->t[i].lab[j] >= EIN_ELL)
                e->t[i].lab[j] += nell - ne;
    }
    if (!arrow) {
        ein_implicit(e, nell);
    } else {
        const char *o = arrow + 2;
        if (strchr(o, '-') || strchr(o, '>') || strchr(o, ','))
            return imp_fail(im, "Einsum '%s': bad output subscript '%s'", eq, o);
        if (!strstr(o, "...") && nell > 0)
            return imp_fail(im, "Einsum '%s': the inputs have '...' dims but the output "
                            "has no '...'", eq);
        if (ein_subscript(im, e, o, -1, nell, e->out, &e->nout) < 0)
            return -1;
        for (int i = 0; i < e->nout; i++)
            for (int j = 0; j < i; j++)
                if (e->out[i] == e->out[j])
                    return imp_fail(im, "Einsum '%s': output label '%c' repeats", eq,
                                    ein_char(e->out[i]));
    }
    return ein_dims(im, e);
}

/* t transposed so that its labels read want[0..rank) (a permutation of t's); no node when
 * already so.  t->v = 0 when the transpose failed (reported). */
static void
ein_permute(Imp *im, EinTerm *t, const int *want)
{
    int perm[KILN_MAX_RANK], used[KILN_MAX_RANK] = { 0 }, id = 1;
    for (int i = 0; i < t->rank; i++) {
        for (int j = 0; j < t->rank; j++)
            if (t->lab[j] == want[i] && !used[j]) {    /* a repeated label: each dim once */
                perm[i] = j;
                used[j] = 1;
                break;
            }
        id &= perm[i] == i;
    }
    if (!id)
        t->v = imp_transpose(im, t->v, t->rank, perm);
    memcpy(t->lab, want, (size_t)t->rank * sizeof *want);
}

/* Takes the diagonal of each label t repeats: the two dims moved last, merged, and every
 * (n + 1)-th element gathered. */
static void
ein_diagonal(Imp *im, EinTerm *t)
{
    for (int p = 0; p < t->rank && t->v; p++)
        for (int q = p + 1; q < t->rank && t->v; q++) {
            if (t->lab[q] != t->lab[p])
                continue;
            int want[KILN_MAX_RANK], k = 0, l = t->lab[p];
            for (int i = 0; i < t->rank; i++)
                if (i != p && i != q)
                    want[k++] = t->lab[i];
            want[k] = want[k + 1] = l;
            ein_permute(im, t, want);
            if (!t->v)
                return;
            const TensorType *xt = imp_type(im, t->v);
            int64_t dims[KILN_MAX_RANK], n = xt->dims[t->rank - 1];
            memcpy(dims, xt->dims, sizeof dims);
            dims[t->rank - 2] = n * n;
            int64_t *ix = arena_alloc(im->g->arena, (size_t)(n + 1) * sizeof *ix);
            for (int64_t i = 0; i < n; i++)
                ix[i] = i * (n + 1);
            t->v = gather(im, imp_reshape(im, t->v, t->rank - 1, dims),
                          const_i64(im, 1, &n, ix), t->rank - 2);
            t->rank--;
            p = -1;                        /* labels moved: rescan */
            break;
        }
}

/* Sums the dims of t whose label is not in keep (a set of labels). */
static void
ein_sum(Imp *im, EinTerm *t, const int *keep)
{
    Attr a;
    int k = 0;
    ir_attr_default(OP_REDUCE_SUM, &a);
    a.reduce.keepdims = 0;
    for (int i = 0; i < t->rank; i++)
        if (keep[t->lab[i]])
            t->lab[k++] = t->lab[i];
        else
            a.reduce.axes[a.reduce.naxes++] = i;
    if (!a.reduce.naxes)
        return;
    t->v = imp_emit(im, OP_REDUCE_SUM, &a, 1, &t->v);
    t->rank = k;
}

/* Label sets of a term. */
static void
ein_mark(const EinTerm *t, int *set)
{
    for (int i = 0; i < t->rank; i++)
        set[t->lab[i]] = 1;
}

/* t reshaped to its nb leading dims, then one dim per group of n[g] following dims. */
static ValueId
ein_merge(Imp *im, const EinTerm *t, int nb, int ng, const int *n)
{
    if (!t->v)
        return 0;
    const TensorType *xt = imp_type(im, t->v);
    int64_t dims[KILN_MAX_RANK];
    int r = 0, at = nb;
    for (int i = 0; i < nb; i++)
        dims[r++] = xt->dims[i];
    for (int g = 0; g < ng; g++) {
        dims[r] = 1;
        for (int i = 0; i < n[g]; i++)
            dims[r] *= xt->dims[at++];
        r++;
    }
    return reshape_to(im, t->v, r, dims);
}

static int64_t
ein_size(Imp *im, const EinTerm *t, int l)
{
    for (int i = 0; i < t->rank; i++)
        if (t->lab[i] == l)
            return imp_type(im, t->v)->dims[i];
    return 1;
}

/* 1 when t's labels read want[0..rank) already. */
static int
ein_is(const EinTerm *t, const int *want)
{
    return memcmp(t->lab, want, (size_t)t->rank * sizeof *want) == 0;
}

static int
ein_cat(int *dst, const int *a, int na, const int *b, int nb, const int *c, int nc)
{
    memcpy(dst, a, (size_t)na * sizeof *a);
    memcpy(dst + na, b, (size_t)nb * sizeof *b);
    memcpy(dst + na + nb, c, (size_t)nc * sizeof *c);
    return na + nb + nc;
}

/* r = a and b contracted: labels of both in keep are batch dims, of both not in keep are
 * summed, the others stay.  One batched matmul of a as [batch.., M, K] and b as
 * [batch.., K, N] (transposed operands through trans_a / trans_b when that saves a
 * transpose), reshaped to [batch.., a's.., b's..]. */
static int
ein_contract(Imp *im, const Ein *e, EinTerm a, EinTerm b, const int *keep, EinTerm *r)
{
    int ina[EIN_NLABEL] = { 0 }, inb[EIN_NLABEL] = { 0 };
    int bat[KILN_MAX_RANK], con[KILN_MAX_RANK], ao[KILN_MAX_RANK], bo[KILN_MAX_RANK];
    int nbat = 0, ncon = 0, nao = 0, nbo = 0, want[KILN_MAX_RANK];
    ein_mark(&a, ina);
    ein_mark(&b, inb);
    for (int i = 0; i < a.rank; i++) {
        int l = a.lab[i];
        if (!inb[l])
            ao[nao++] = l;
        else if (keep[l])
            bat[nbat++] = l;
        else
            con[ncon++] = l;
    }
    for (int i = 0; i < b.rank; i++)
        if (!ina[b.lab[i]])
            bo[nbo++] = b.lab[i];
    for (int i = 0; i < ncon; i++) {
        int64_t da = ein_size(im, &a, con[i]), db = ein_size(im, &b, con[i]);
        if (da != db)
            return imp_unsupported(im, "Einsum '%s': summed label '%c' broadcasts %lld "
                                   "against %lld, which is not supported", e->eq,
                                   ein_char(con[i]), (long long)da, (long long)db);
    }
    if (nbat + nao + nbo > KILN_MAX_RANK)
        return imp_unsupported(im, "Einsum '%s': an intermediate result has rank %d, above %d",
                               e->eq, nbat + nao + nbo, KILN_MAX_RANK);
    Attr m;
    ir_attr_default(OP_MATMUL, &m);
    ein_cat(want, bat, nbat, con, ncon, ao, nao);
    int ga[2] = { nao, ncon }, gb[2] = { ncon, nbo };
    if ((m.matmul.trans_a = nao > 0 && ncon > 0 && ein_is(&a, want)) != 0) {
        ga[0] = ncon;
        ga[1] = nao;
    } else {
        ein_cat(want, bat, nbat, ao, nao, con, ncon);
        ein_permute(im, &a, want);
    }
    ein_cat(want, bat, nbat, bo, nbo, con, ncon);
    if ((m.matmul.trans_b = nbo > 0 && ncon > 0 && ein_is(&b, want)) != 0) {
        gb[0] = nbo;
        gb[1] = ncon;
    } else {
        ein_cat(want, bat, nbat, con, ncon, bo, nbo);
        ein_permute(im, &b, want);
    }
    ValueId in[2] = { ein_merge(im, &a, nbat, 2, ga), ein_merge(im, &b, nbat, 2, gb) };
    if (!in[0] || !in[1])
        return -1;
    int64_t dims[KILN_MAX_RANK];
    r->rank = ein_cat(r->lab, bat, nbat, ao, nao, bo, nbo);
    for (int i = 0; i < r->rank; i++) {
        int64_t da = ein_size(im, &a, r->lab[i]), db = ein_size(im, &b, r->lab[i]);
        dims[i] = da > db ? da : db;
    }
    r->v = reshape_to(im, imp_emit(im, OP_MATMUL, &m, 2, in), r->rank, dims);
    return r->v ? 0 : -1;
}

/* Einsum (f32): the equation parsed into labelled operands; each operand's repeated labels
 * become diagonals and its labels used nowhere else are summed; operands are contracted
 * left to right by batched matmul; a transpose gives the output order. */
int
onnx_map_einsum(Imp *im)
{
    Ein e;
    const char *eq = imp_attr_s(im, "equation", NULL);
    int keep[EIN_NLABEL], out[EIN_NLABEL] = { 0 };
    memset(&e, 0, sizeof e);
    if (!eq)
        return imp_fail(im, "Einsum: missing attribute 'equation'");
    e.nterm = imp_nin(im);
    if (e.nterm < 1 || e.nterm > EIN_MAXOP)
        return imp_unsupported(im, "Einsum '%s': expected 1..%d operands, got %d", eq,
                               EIN_MAXOP, e.nterm);
    for (int i = 0; i < e.nterm; i++) {
        if (!(e.t[i].v = imp_need(im, i)))
            return -1;
        if (imp_type(im, e.t[i].v)->dtype != DT_F32)
            return imp_unclaimed(im, "Einsum: element type %s is not supported (expected f32)",
                                 ir_dtype_name(imp_type(im, e.t[i].v)->dtype));
    }
    if (ein_parse(im, &e, eq) < 0)
        return -1;
    for (int i = 0; i < e.nout; i++)
        out[e.out[i]] = 1;
    for (int i = 0; i < e.nterm; i++) {
        memcpy(keep, out, sizeof keep);
        for (int j = 0; j < e.nterm; j++)
            if (j != i)
                ein_mark(&e.t[j], keep);
        ein_diagonal(im, &e.t[i]);
        ein_sum(im, &e.t[i], keep);
        if (!e.t[i].v)
            return -1;
    }
    EinTerm acc = e.t[0];
    for (int i = 1; i < e.nterm; i++) {
        memcpy(keep, out, sizeof keep);
        for (int j = i + 1; j < e.nterm; j++)
            ein_mark(&e.t[j], keep);
        if (ein_contract(im, &e, acc, e.t[i], keep, &acc) < 0)
            return -1;
    }
    KILN_ASSERT(acc.rank == e.nout);
    ein_permute(im, &acc, e.out);
    return out0(im, acc.v);
}
