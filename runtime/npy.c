/* npy.c — NumPy .npy reader (v1/v2/v3, little-endian, C order) and v1.0 writer.
 * The header is a Python dict literal; a tiny bounded scanner reads exactly the three
 * keys numpy writes (descr, fortran_order, shape) and nothing past the header's end. */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "kiln_rt.h"
#include "rt_internal.h"

/* Cursor over the header text [p, end). */
typedef struct {
    const char *p, *end;
    char *err;
    size_t errlen;
} Hdr;

/* npy descr strings accepted, by kiln_dtype. */
static const struct {
    const char *descr;
    kiln_dtype dt;
} descrs[] = {
    {"<f4", KILN_DT_F32}, {"<i4", KILN_DT_I32}, {"<i8", KILN_DT_I64}, {"|i1", KILN_DT_I8},
    {"<i1", KILN_DT_I8},  {"|u1", KILN_DT_U8},  {"<u1", KILN_DT_U8},  {"|b1", KILN_DT_BOOL},
    {"<b1", KILN_DT_BOOL},
};

static const char *
descr_of(kiln_dtype dt)
{
    for (size_t i = 0; i < sizeof descrs / sizeof *descrs; i++)
        if (descrs[i].dt == dt)
            return descrs[i].descr;
    return NULL;
}

static void
skip_ws(Hdr *h)
{
    while (h->p < h->end && (*h->p == ' ' || *h->p == '\t' || *h->p == '\n' || *h->p == '\r'))
        h->p++;
}

static int
eat(Hdr *h, char c)
{
    skip_ws(h);
    if (h->p < h->end && *h->p == c) {
        h->p++;
        return 1;
    }
    return 0;
}

static int
bad(Hdr *h, const char *what)
{
    if (h->p >= h->end)
        return rt_err(h->err, h->errlen, KILN_EFORMAT,
                      "npy: header: expected %s, got end of header", what);
    return rt_err(h->err, h->errlen, KILN_EFORMAT, "npy: header: expected %s, got '%c'", what,
                  *h->p);
}

/* Python string literal '...' or "..." (no escapes in anything numpy writes). */
static int
str_lit(Hdr *h, const char **s, size_t *n)
{
    char q;

    skip_ws(h);
    if (h->p >= h->end || (*h->p != '\'' && *h->p != '"'))
        return bad(h, "a string");
    q = *h->p++;
    *s = h->p;
    while (h->p < h->end && *h->p != q)
        h->p++;
    if (h->p >= h->end)
        return bad(h, "closing quote");
    *n = (size_t)(h->p - *s);
    h->p++;
    return KILN_OK;
}

static int
int_lit(Hdr *h, int64_t *v)
{
    int64_t x = 0;

    skip_ws(h);
    if (h->p >= h->end || *h->p < '0' || *h->p > '9')
        return bad(h, "a non-negative integer");
    while (h->p < h->end && *h->p >= '0' && *h->p <= '9') {
        if (__builtin_mul_overflow(x, 10, &x) || __builtin_add_overflow(x, *h->p - '0', &x))
            return rt_err(h->err, h->errlen, KILN_ERANGE, "npy: shape dimension overflows int64");
        h->p++;
    }
    if (h->p < h->end && *h->p == 'L') /* Python 2 long suffix */
        h->p++;
    *v = x;
    return KILN_OK;
}

static int
parse_descr(Hdr *h, kiln_view *v)
{
    const char *s;
    size_t n;
    int rc = str_lit(h, &s, &n);

    if (rc)
        return rc;
    for (size_t i = 0; i < sizeof descrs / sizeof *descrs; i++) {
        if (n == 3 && memcmp(s, descrs[i].descr, 3) == 0) {
            v->dtype = descrs[i].dt;
            return KILN_OK;
        }
    }
    return rt_err(h->err, h->errlen, KILN_EUNSUPPORTED,
                  "npy: unsupported descr '%.*s', expected <f4 <i4 <i8 |i1 |u1 or |b1",
                  (int)(n > 16 ? 16 : n), s);
}

static int
parse_fortran(Hdr *h)
{
    skip_ws(h);
    if ((size_t)(h->end - h->p) >= 5 && memcmp(h->p, "False", 5) == 0) {
        h->p += 5;
        return KILN_OK;
    }
    if ((size_t)(h->end - h->p) >= 4 && memcmp(h->p, "True", 4) == 0)
        return rt_err(h->err, h->errlen, KILN_EUNSUPPORTED,
                      "npy: fortran_order True is unsupported, expected C order");
    return bad(h, "True or False");
}

static int
parse_shape(Hdr *h, kiln_view *v)
{
    int rc;

    if (!eat(h, '('))
        return bad(h, "'(' opening shape");
    v->rank = 0;
    while (!eat(h, ')')) {
        if (v->rank == KILN_MAX_RANK)
            return rt_err(h->err, h->errlen, KILN_ERANGE, "npy: shape has more than %d dims",
                          KILN_MAX_RANK);
        if ((rc = int_lit(h, &v->dims[v->rank])) != KILN_OK)
            return rc;
        v->rank++;
        if (!eat(h, ',')) {
            if (!eat(h, ')'))
                return bad(h, "',' or ')' in shape");
            break;
        }
    }
    return KILN_OK;
}

/* Parse the dict; sets dtype, rank, dims. */
static int
parse_dict(Hdr *h, kiln_view *v)
{
    int seen = 0, rc;
    const char *k;
    size_t n;

    if (!eat(h, '{'))
        return bad(h, "'{'");
    while (!eat(h, '}')) {
        if ((rc = str_lit(h, &k, &n)) != KILN_OK)
            return rc;
        if (!eat(h, ':'))
            return bad(h, "':'");
        if (n == 5 && memcmp(k, "descr", 5) == 0)
            rc = parse_descr(h, v), seen |= 1;
        else if (n == 13 && memcmp(k, "fortran_order", 13) == 0)
            rc = parse_fortran(h), seen |= 2;
        else if (n == 5 && memcmp(k, "shape", 5) == 0)
            rc = parse_shape(h, v), seen |= 4;
        else
            return rt_err(h->err, h->errlen, KILN_EFORMAT, "npy: header: unexpected key '%.*s'",
                          (int)(n > 32 ? 32 : n), k);
        if (rc)
            return rc;
        if (!eat(h, ',')) {
            if (!eat(h, '}'))
                return bad(h, "',' or '}'");
            break;
        }
    }
    if (seen != 7)
        return rt_err(h->err, h->errlen, KILN_EFORMAT,
                      "npy: header: expected keys descr, fortran_order and shape");
    skip_ws(h);
    if (h->p != h->end)
        return bad(h, "end of header after '}'");
    return KILN_OK;
}

/* Read magic and version; sets *hstart and *hlen (header text offset and length). */
static int
parse_preamble(const unsigned char *b, size_t len, size_t *hstart, size_t *hlen, char *err,
               size_t errlen)
{
    if (len < 10 || memcmp(b, "\x93NUMPY", 6) != 0)
        return rt_err(err, errlen, KILN_EFORMAT, "npy: bad magic, expected \\x93NUMPY");
    if (b[6] == 1) {
        *hstart = 10;
        *hlen = (size_t)b[8] | (size_t)b[9] << 8;
    } else if (b[6] == 2 || b[6] == 3) {
        if (len < 12)
            return rt_err(err, errlen, KILN_EFORMAT, "npy: %zu-byte file too short for v%d header",
                          len, b[6]);
        *hstart = 12;
        *hlen = (size_t)b[8] | (size_t)b[9] << 8 | (size_t)b[10] << 16 | (size_t)b[11] << 24;
    } else {
        return rt_err(err, errlen, KILN_EUNSUPPORTED,
                      "npy: format version %d.%d, expected 1.0, 2.0 or 3.0", b[6], b[7]);
    }
    if (*hlen > len - *hstart)
        return rt_err(err, errlen, KILN_EFORMAT,
                      "npy: header length %zu runs past end of %zu-byte file", *hlen, len);
    return KILN_OK;
}

int
kiln_npy_parse(const void *buf, size_t len, kiln_view *out, char *err, size_t errlen)
{
    const unsigned char *b = buf;
    size_t hstart = 0, hlen = 0, have;
    kiln_view v = {0};
    int64_t numel, nbytes;
    char dims[96];
    int rc;

    if (!out || (!buf && len))
        return rt_err(err, errlen, KILN_EINVAL, "npy: NULL buffer or out");
    if ((rc = parse_preamble(b, len, &hstart, &hlen, err, errlen)) != KILN_OK)
        return rc;
    Hdr h = {(const char *)b + hstart, (const char *)b + hstart + hlen, err, errlen};
    if ((rc = parse_dict(&h, &v)) != KILN_OK)
        return rc;
    rt_dims_str(dims, sizeof dims, v.rank, v.dims);
    if (kiln_shape_numel(v.rank, v.dims, &numel) != KILN_OK ||
        __builtin_mul_overflow(numel, (int64_t)kiln_dtype_size(v.dtype), &nbytes) ||
        (uint64_t)nbytes > SIZE_MAX)
        return rt_err(err, errlen, KILN_ERANGE, "npy: shape %s[%s] overflows the byte count",
                      kiln_dtype_name(v.dtype), dims);
    have = len - hstart - hlen;
    if ((size_t)nbytes != have)
        return rt_err(err, errlen, KILN_EFORMAT, "npy: %s[%s] needs %lld data bytes, file has %zu",
                      kiln_dtype_name(v.dtype), dims, (long long)nbytes, have);
    v.data = b + hstart + hlen;
    v.nbytes = (size_t)nbytes;
    *out = v;
    return KILN_OK;
}

/* Format the v1.0 header dict, padded with spaces and '\n' so that magic + length + dict
 * is a multiple of 64 bytes.  Returns the dict length. */
static size_t
format_header(char *hd, size_t cap, const kiln_view *v, const char *descr)
{
    char shape[KILN_MAX_RANK * 22 + 4];
    size_t n = 0, total;

    shape[0] = '\0';
    for (int i = 0; i < v->rank; i++)
        n += (size_t)snprintf(shape + n, sizeof shape - n, "%s%lld", i ? ", " : "",
                              (long long)v->dims[i]);
    if (v->rank == 1)
        snprintf(shape + n, sizeof shape - n, ",");
    n = (size_t)snprintf(hd, cap, "{'descr': '%s', 'fortran_order': False, 'shape': (%s), }",
                         descr, shape);
    total = (10 + n + 1 + 63) / 64 * 64;
    while (10 + n + 1 < total)
        hd[n++] = ' ';
    hd[n++] = '\n';
    return n;
}

int
kiln_npy_write(const char *path, const kiln_view *v, char *err, size_t errlen)
{
    unsigned char pre[10] = {0x93, 'N', 'U', 'M', 'P', 'Y', 1, 0, 0, 0};
    char hd[512], *tmp;
    const char *descr;
    int64_t numel;
    size_t hlen;
    FILE *fp;
    int rc, ok;

    if (!path || !v || v->rank < 0 || v->rank > KILN_MAX_RANK || (!v->data && v->nbytes))
        return rt_err(err, errlen, KILN_EINVAL, "npy: bad arguments to kiln_npy_write");
    if (!(descr = descr_of(v->dtype)))
        return rt_err(err, errlen, KILN_EINVAL, "npy: %s: cannot write dtype %s", path,
                      kiln_dtype_name(v->dtype));
    if (kiln_shape_numel(v->rank, v->dims, &numel) != KILN_OK ||
        (uint64_t)numel > SIZE_MAX / kiln_dtype_size(v->dtype) ||
        (size_t)numel * kiln_dtype_size(v->dtype) != v->nbytes)
        return rt_err(err, errlen, KILN_EINVAL, "npy: %s: nbytes %zu does not match the shape",
                      path, v->nbytes);
    hlen = format_header(hd, sizeof hd, v, descr);
    pre[8] = (unsigned char)(hlen & 0xff);
    pre[9] = (unsigned char)(hlen >> 8);
    if (!(fp = rt_tmp_open(path, &tmp, err, errlen, &rc)))
        return rc;
    ok = fwrite(pre, 1, 10, fp) == 10 && fwrite(hd, 1, hlen, fp) == hlen &&
         (v->nbytes == 0 || fwrite(v->data, 1, v->nbytes, fp) == v->nbytes);
    return rt_tmp_commit(fp, tmp, path, ok, err, errlen);
}
