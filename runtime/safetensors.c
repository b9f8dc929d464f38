/* safetensors.c — safetensors reader (find / count / enumerate) and writer.
 * Approach: the JSON header is never copied or built into a tree.  walk() scans it once
 * with a bounded recursive-descent parser (cursor never passes the header's end, nesting
 * capped) and hands each tensor entry, as raw string slices and integers, to a visitor.
 * Only the entry a caller asks for is checked against the data area, so one bad or
 * unsupported tensor does not hide the others. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "kiln_rt.h"
#include "rt_internal.h"

#define ST_MAX_HEADER (100u * 1000 * 1000) /* header bytes accepted, per the format */
#define ST_MAX_DEPTH 64                    /* JSON nesting accepted in skipped values */

/* Cursor over the JSON header [base, end). */
typedef struct {
    const char *base, *p, *end; /* header start (for offsets in messages), cursor, end */
    char *err;
    size_t errlen;
} Json;

/* A JSON string as it appears between the quotes; escapes already validated. */
typedef struct {
    const char *s, *e;
} Str;

/* One tensor entry as written in the header, not yet checked against the file. */
typedef struct {
    Str name;                     /* raw (escaped) key */
    Str dtype;                    /* raw dtype string, e.g. F32 */
    int rank;                     /* dims seen; may exceed KILN_MAX_RANK (then dims is cut) */
    int64_t dims[KILN_MAX_RANK];  /* first KILN_MAX_RANK dims */
    int64_t off[2];               /* data_offsets begin, end */
    int have;                     /* bits: 1 dtype, 2 shape, 4 data_offsets */
} Entry;

/* Visitor: returns KILN_OK to continue, -1 to stop the walk successfully, or a status. */
typedef int (*Visit)(void *ctx, const Entry *en);

/* safetensors dtype names, by kiln_dtype (KEEP-IN-SYNC(dtype)). */
static const char *const st_dtype[] = {
    [KILN_DT_NONE] = NULL, [KILN_DT_F32] = "F32", [KILN_DT_I32] = "I32", [KILN_DT_I64] = "I64",
    [KILN_DT_I8] = "I8",   [KILN_DT_U8] = "U8",   [KILN_DT_BOOL] = "BOOL",
};
_Static_assert(sizeof st_dtype / sizeof *st_dtype == KILN_DT_COUNT, "st_dtype per kiln_dtype");

static void
skip_ws(Json *j)
{
    while (j->p < j->end && (*j->p == ' ' || *j->p == '\t' || *j->p == '\n' || *j->p == '\r'))
        j->p++;
}

static int
eat(Json *j, char c)
{
    skip_ws(j);
    if (j->p < j->end && *j->p == c) {
        j->p++;
        return 1;
    }
    return 0;
}

static int
bad(Json *j, const char *what)
{
    size_t at = (size_t)(j->p - j->base);

    if (j->p >= j->end)
        return rt_err(j->err, j->errlen, KILN_EFORMAT,
                      "safetensors: header byte %zu: expected %s, got end of header", at, what);
    return rt_err(j->err, j->errlen, KILN_EFORMAT,
                  "safetensors: header byte %zu: expected %s, got '%c'", at, what, *j->p);
}

/* c is one of set's characters (strchr alone would also match the terminating NUL). */
static int
in_set(char c, const char *set)
{
    return c != '\0' && strchr(set, c) != NULL;
}

static int
hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* Scan a string token, validating escapes, without decoding it. */
static int
json_str(Json *j, Str *out)
{
    skip_ws(j);
    if (j->p >= j->end || *j->p != '"')
        return bad(j, "a string");
    out->s = ++j->p;
    while (j->p < j->end && *j->p != '"') {
        if ((unsigned char)*j->p < 0x20)
            return bad(j, "no control characters in a string");
        if (*j->p++ != '\\')
            continue;
        if (j->p >= j->end || !in_set(*j->p, "\"\\/bfnrtu"))
            return bad(j, "a valid escape");
        if (*j->p++ != 'u')
            continue;
        for (int i = 0; i < 4; i++, j->p++)
            if (j->p >= j->end || hexval(*j->p) < 0)
                return bad(j, "4 hex digits after \\u");
    }
    if (j->p >= j->end)
        return bad(j, "closing '\"'");
    out->e = j->p++;
    return KILN_OK;
}

static unsigned
hex4(const char *p)
{
    return (unsigned)(hexval(p[0]) << 12 | hexval(p[1]) << 8 | hexval(p[2]) << 4 | hexval(p[3]));
}

static int
utf8(unsigned cp, unsigned char *o)
{
    if (cp < 0x80) {
        o[0] = (unsigned char)cp;
        return 1;
    }
    if (cp < 0x800) {
        o[0] = (unsigned char)(0xc0 | cp >> 6);
        o[1] = (unsigned char)(0x80 | (cp & 0x3f));
        return 2;
    }
    if (cp < 0x10000) {
        o[0] = (unsigned char)(0xe0 | cp >> 12);
        o[1] = (unsigned char)(0x80 | (cp >> 6 & 0x3f));
        o[2] = (unsigned char)(0x80 | (cp & 0x3f));
        return 3;
    }
    o[0] = (unsigned char)(0xf0 | cp >> 18);
    o[1] = (unsigned char)(0x80 | (cp >> 12 & 0x3f));
    o[2] = (unsigned char)(0x80 | (cp >> 6 & 0x3f));
    o[3] = (unsigned char)(0x80 | (cp & 0x3f));
    return 4;
}

/* Decode the next character of a validated string at *pp (< e) into o; returns bytes. */
static int
next_char(const char **pp, const char *e, unsigned char o[4])
{
    static const char from[] = "\"\\/bfnrt", to[] = "\"\\/\b\f\n\r\t";
    const char *p = *pp;
    unsigned cp, lo;

    if (*p != '\\') {
        *pp = p + 1;
        o[0] = (unsigned char)*p;
        return 1;
    }
    if (p[1] != 'u') {
        *pp = p + 2;
        o[0] = (unsigned char)to[strchr(from, p[1]) - from];
        return 1;
    }
    cp = hex4(p + 2);
    p += 6;
    /* join a surrogate pair; a lone surrogate is kept as its own 3-byte sequence */
    if (cp >= 0xd800 && cp < 0xdc00 && e - p >= 6 && p[0] == '\\' && p[1] == 'u' &&
        (lo = hex4(p + 2)) >= 0xdc00 && lo < 0xe000) {
        cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
        p += 6;
    }
    *pp = p;
    return utf8(cp, o);
}

/* Decode s into dst[0..cap) (no NUL added); returns the full decoded length. */
static size_t
str_decode(Str s, char *dst, size_t cap)
{
    unsigned char o[4];
    size_t n = 0;

    for (const char *p = s.s; p < s.e;) {
        int k = next_char(&p, s.e, o);
        for (int i = 0; i < k; i++, n++)
            if (n < cap)
                dst[n] = (char)o[i];
    }
    return n;
}

static int
str_eq(Str s, const char *name)
{
    unsigned char o[4];
    size_t n = 0;

    for (const char *p = s.s; p < s.e;) {
        int k = next_char(&p, s.e, o);
        for (int i = 0; i < k; i++, n++)
            if (name[n] != (char)o[i] || o[i] == 0)
                return 0;
    }
    return name[n] == '\0';
}

/* Printable name for messages: decoded, cut to fit buf. */
static const char *
str_show(Str s, char *buf, size_t cap)
{
    size_t n = str_decode(s, buf, cap - 1);

    buf[n < cap - 1 ? n : cap - 1] = '\0';
    return buf;
}

/* Non-negative JSON integer. */
static int
json_int(Json *j, int64_t *v)
{
    int64_t x = 0;

    skip_ws(j);
    if (j->p >= j->end || *j->p < '0' || *j->p > '9')
        return bad(j, "a non-negative integer");
    while (j->p < j->end && *j->p >= '0' && *j->p <= '9') {
        if (__builtin_mul_overflow(x, 10, &x) || __builtin_add_overflow(x, *j->p - '0', &x))
            return rt_err(j->err, j->errlen, KILN_ERANGE,
                          "safetensors: header byte %zu: integer overflows int64",
                          (size_t)(j->p - j->base));
        j->p++;
    }
    if (j->p < j->end && (*j->p == '.' || *j->p == 'e' || *j->p == 'E'))
        return bad(j, "an integer");
    *v = x;
    return KILN_OK;
}

static int
skip_value(Json *j, int depth)
{
    Str s;
    int rc;

    if (depth > ST_MAX_DEPTH)
        return rt_err(j->err, j->errlen, KILN_EFORMAT,
                      "safetensors: header nests deeper than %d", ST_MAX_DEPTH);
    skip_ws(j);
    if (j->p >= j->end)
        return bad(j, "a value");
    if (*j->p == '"')
        return json_str(j, &s);
    if (*j->p == '{' || *j->p == '[') {
        char close = *j->p++ == '{' ? '}' : ']';
        if (eat(j, close))
            return KILN_OK;
        do {
            if (close == '}' && ((rc = json_str(j, &s)) != KILN_OK || !eat(j, ':')))
                return rc ? rc : bad(j, "':'");
            if ((rc = skip_value(j, depth + 1)) != KILN_OK)
                return rc;
        } while (eat(j, ','));
        return eat(j, close) ? KILN_OK : bad(j, close == '}' ? "',' or '}'" : "',' or ']'");
    }
    if (!in_set(*j->p, "-0123456789tfn"))
        return bad(j, "a value");
    while (j->p < j->end && in_set(*j->p, "+-.0123456789eEtruefalsn"))
        j->p++;
    return KILN_OK;
}

/* [i, i, ...] of at most cap stored values; *count gets the full length. */
static int
int_array(Json *j, int64_t *vals, int cap, int *count)
{
    int64_t v = 0;
    int rc;

    *count = 0;
    if (!eat(j, '['))
        return bad(j, "'['");
    if (eat(j, ']'))
        return KILN_OK;
    do {
        if ((rc = json_int(j, &v)) != KILN_OK)
            return rc;
        if (*count < cap)
            vals[*count] = v;
        if (*count < INT32_MAX)
            (*count)++;
    } while (eat(j, ','));
    return eat(j, ']') ? KILN_OK : bad(j, "',' or ']'");
}

static int
parse_entry(Json *j, Entry *en)
{
    int n, rc;
    Str k;

    en->have = 0;
    en->rank = 0;
    if (!eat(j, '{'))
        return bad(j, "'{' opening a tensor entry");
    if (eat(j, '}'))
        return KILN_OK;
    do {
        if ((rc = json_str(j, &k)) != KILN_OK)
            return rc;
        if (!eat(j, ':'))
            return bad(j, "':'");
        if (str_eq(k, "dtype"))
            rc = json_str(j, &en->dtype), en->have |= 1;
        else if (str_eq(k, "shape"))
            rc = int_array(j, en->dims, KILN_MAX_RANK, &en->rank), en->have |= 2;
        else if (str_eq(k, "data_offsets")) {
            rc = int_array(j, en->off, 2, &n), en->have |= 4;
            if (!rc && n != 2)
                return bad(j, "data_offsets of 2 integers");
        } else
            rc = skip_value(j, 1);
        if (rc)
            return rc;
    } while (eat(j, ','));
    return eat(j, '}') ? KILN_OK : bad(j, "',' or '}' in a tensor entry");
}

/* Check the preamble; sets *data_start = 8 + header length. */
static int
preamble(const unsigned char *b, size_t len, size_t *data_start, char *err, size_t errlen)
{
    uint64_t h = 0;

    if (!b && len)
        return rt_err(err, errlen, KILN_EINVAL, "safetensors: NULL buffer");
    if (len < 8)
        return rt_err(err, errlen, KILN_EFORMAT,
                      "safetensors: %zu-byte file too short for the 8-byte header length", len);
    for (int i = 7; i >= 0; i--)
        h = h << 8 | b[i];
    if (h > ST_MAX_HEADER)
        return rt_err(err, errlen, KILN_EFORMAT,
                      "safetensors: header length %llu exceeds the %u-byte limit",
                      (unsigned long long)h, ST_MAX_HEADER);
    if (h > len - 8)
        return rt_err(err, errlen, KILN_EFORMAT,
                      "safetensors: header length %llu runs past end of %zu-byte file",
                      (unsigned long long)h, len);
    *data_start = 8 + (size_t)h;
    return KILN_OK;
}

/* Parse the header, calling visit on each tensor entry in order. */
static int
walk(const void *buf, size_t len, Visit visit, void *ctx, size_t *data_start, char *err,
     size_t errlen)
{
    Json j;
    Entry en;
    int rc;

    if ((rc = preamble(buf, len, data_start, err, errlen)) != KILN_OK)
        return rc;
    j = (Json){(const char *)buf + 8, (const char *)buf + 8, (const char *)buf + *data_start,
               err, errlen};
    if (!eat(&j, '{'))
        return bad(&j, "'{' opening the header");
    if (!eat(&j, '}')) {
        do {
            if ((rc = json_str(&j, &en.name)) != KILN_OK)
                return rc;
            if (!eat(&j, ':'))
                return bad(&j, "':'");
            if (str_eq(en.name, "__metadata__"))
                rc = skip_value(&j, 1);
            else if ((rc = parse_entry(&j, &en)) == KILN_OK)
                rc = visit(ctx, &en);
            if (rc)
                return rc < 0 ? KILN_OK : rc;
        } while (eat(&j, ','));
        if (!eat(&j, '}'))
            return bad(&j, "',' or '}'");
    }
    skip_ws(&j);
    return j.p == j.end ? KILN_OK : bad(&j, "only spaces after the header object");
}

/* Check entry en of the file buf[0..len) and fill *out. */
static int
check_entry(const unsigned char *b, size_t len, size_t data_start, const Entry *en,
            kiln_view *out, char *err, size_t errlen)
{
    kiln_view v = {0};
    char nm[80], dims[96];
    int64_t numel, need;
    const char *who = str_show(en->name, nm, sizeof nm);
    size_t area = len - data_start;

    if ((en->have & 7) != 7)
        return rt_err(err, errlen, KILN_EFORMAT,
                      "tensor '%s': expected dtype, shape and data_offsets", who);
    for (int d = 1; d < KILN_DT_COUNT; d++)
        if ((size_t)(en->dtype.e - en->dtype.s) == strlen(st_dtype[d]) &&
            memcmp(en->dtype.s, st_dtype[d], strlen(st_dtype[d])) == 0)
            v.dtype = (kiln_dtype)d;
    if (v.dtype == KILN_DT_NONE)
        return rt_err(err, errlen, KILN_EUNSUPPORTED,
                      "tensor '%s': dtype '%.*s' unsupported, expected F32 I32 I64 I8 U8 or BOOL",
                      who, (int)(en->dtype.e - en->dtype.s > 16 ? 16 : en->dtype.e - en->dtype.s),
                      en->dtype.s);
    if (en->rank > KILN_MAX_RANK)
        return rt_err(err, errlen, KILN_ERANGE, "tensor '%s': rank %d exceeds %d", who, en->rank,
                      KILN_MAX_RANK);
    v.rank = en->rank;
    memcpy(v.dims, en->dims, sizeof(int64_t) * (size_t)v.rank);
    rt_dims_str(dims, sizeof dims, v.rank, v.dims);
    if (kiln_shape_numel(v.rank, v.dims, &numel) != KILN_OK ||
        __builtin_mul_overflow(numel, (int64_t)kiln_dtype_size(v.dtype), &need))
        return rt_err(err, errlen, KILN_ERANGE, "tensor '%s': shape %s[%s] overflows", who,
                      kiln_dtype_name(v.dtype), dims);
    if (en->off[0] > en->off[1] || (uint64_t)en->off[1] > area)
        return rt_err(err, errlen, KILN_EFORMAT,
                      "tensor '%s': data_offsets [%lld, %lld] outside the %zu-byte data area",
                      who, (long long)en->off[0], (long long)en->off[1], area);
    if (en->off[1] - en->off[0] != need)
        return rt_err(err, errlen, KILN_EFORMAT,
                      "tensor '%s': data_offsets [%lld, %lld] need %lld bytes for %s[%s]", who,
                      (long long)en->off[0], (long long)en->off[1], (long long)need,
                      kiln_dtype_name(v.dtype), dims);
    v.data = b + data_start + en->off[0];
    v.nbytes = (size_t)need;
    *out = v;
    return KILN_OK;
}

/* Visitor state for find / count / entry. */
typedef struct {
    const char *name; /* find: wanted name */
    int index;        /* entry: wanted index; count: running count */
    int found;        /* set when the wanted entry was seen */
    Entry en;         /* copy of the wanted entry */
} Want;

static int
visit_name(void *ctx, const Entry *en)
{
    Want *w = ctx;

    if (!str_eq(en->name, w->name))
        return KILN_OK;
    w->en = *en;
    w->found = 1;
    return -1;
}

static int
visit_count(void *ctx, const Entry *en)
{
    Want *w = ctx;

    (void)en;
    if (w->index == INT32_MAX)
        return KILN_ERANGE;
    w->index++;
    return KILN_OK;
}

static int
visit_index(void *ctx, const Entry *en)
{
    Want *w = ctx;

    if (w->index-- > 0)
        return KILN_OK;
    w->en = *en;
    w->found = 1;
    return -1;
}

int
kiln_st_find(const void *buf, size_t len, const char *name, kiln_view *out, char *err,
             size_t errlen)
{
    Want w = {.name = name};
    size_t ds;
    int rc;

    if (!name || !out)
        return rt_err(err, errlen, KILN_EINVAL, "safetensors: NULL name or out");
    if ((rc = walk(buf, len, visit_name, &w, &ds, err, errlen)) != KILN_OK)
        return rc;
    if (!w.found)
        return rt_err(err, errlen, KILN_EINVAL, "no tensor '%s'", name);
    return check_entry(buf, len, ds, &w.en, out, err, errlen);
}

int
kiln_st_count(const void *buf, size_t len, int *n, char *err, size_t errlen)
{
    Want w = {0};
    size_t ds;
    int rc;

    if (!n)
        return rt_err(err, errlen, KILN_EINVAL, "safetensors: NULL count");
    rc = walk(buf, len, visit_count, &w, &ds, err, errlen);
    if (rc == KILN_ERANGE && w.index == INT32_MAX)
        return rt_err(err, errlen, KILN_ERANGE, "safetensors: more than %d tensors", INT32_MAX);
    if (rc == KILN_OK)
        *n = w.index;
    return rc;
}

int
kiln_st_entry(const void *buf, size_t len, int i, char *name, size_t namelen, kiln_view *out,
              char *err, size_t errlen)
{
    Want w = {.index = i};
    size_t ds, n;
    int rc;

    if (i < 0 || !out || (!name && namelen))
        return rt_err(err, errlen, KILN_EINVAL, "safetensors: bad index %d or NULL out", i);
    if ((rc = walk(buf, len, visit_index, &w, &ds, err, errlen)) != KILN_OK)
        return rc;
    if (!w.found)
        return rt_err(err, errlen, KILN_EINVAL, "safetensors: entry %d out of range", i);
    if ((rc = check_entry(buf, len, ds, &w.en, out, err, errlen)) != KILN_OK)
        return rc;
    if (namelen) {
        n = str_decode(w.en.name, name, namelen);
        if (n >= namelen)
            return rt_err(err, errlen, KILN_ERANGE, "safetensors: entry %d name needs %zu bytes, "
                          "buffer has %zu", i, n + 1, namelen);
        name[n] = '\0';
    }
    return KILN_OK;
}

/* ---- writer ---- */

/* Growable byte buffer for building the header. */
typedef struct {
    char *p;
    size_t n, cap;
    int oom;
} Buf;

static void
put(Buf *b, const char *s, size_t n)
{
    if (b->oom)
        return;
    if (b->n + n > b->cap) {
        size_t cap = b->cap ? b->cap : 256;
        while (cap < b->n + n)
            cap *= 2;
        char *p = realloc(b->p, cap);
        if (!p) {
            b->oom = 1;
            return;
        }
        b->p = p;
        b->cap = cap;
    }
    memcpy(b->p + b->n, s, n);
    b->n += n;
}

static void
puts_json(Buf *b, const char *s)
{
    char esc[8];

    put(b, "\"", 1);
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\')
            esc[0] = '\\', esc[1] = (char)c, put(b, esc, 2);
        else if (c < 0x20)
            put(b, esc, (size_t)snprintf(esc, sizeof esc, "\\u%04x", c));
        else
            put(b, s, 1);
    }
    put(b, "\"", 1);
}

static int
check_views(int n, const char *const *names, const kiln_view *views, char *err, size_t errlen)
{
    int64_t numel;

    for (int i = 0; i < n; i++) {
        const kiln_view *v = &views[i];
        if (!names[i] || !names[i][0] || strcmp(names[i], "__metadata__") == 0)
            return rt_err(err, errlen, KILN_EINVAL, "safetensors: tensor %d: bad name", i);
        for (int k = 0; k < i; k++)
            if (strcmp(names[k], names[i]) == 0)
                return rt_err(err, errlen, KILN_EINVAL, "safetensors: duplicate tensor '%s'",
                              names[i]);
        if (v->dtype <= KILN_DT_NONE || v->dtype >= KILN_DT_COUNT ||
            kiln_shape_numel(v->rank, v->dims, &numel) != KILN_OK ||
            (uint64_t)numel > SIZE_MAX / kiln_dtype_size(v->dtype) ||
            (size_t)numel * kiln_dtype_size(v->dtype) != v->nbytes || (!v->data && v->nbytes))
            return rt_err(err, errlen, KILN_EINVAL,
                          "tensor '%s': dtype, shape and nbytes %zu disagree", names[i], v->nbytes);
    }
    return KILN_OK;
}

static void
build_header(Buf *b, int n, const char *const *names, const kiln_view *views)
{
    char num[64];
    uint64_t off = 0;

    put(b, "{", 1);
    for (int i = 0; i < n; i++) {
        put(b, i ? "," : "", i ? 1 : 0);
        puts_json(b, names[i]);
        put(b, ":{\"dtype\":\"", 11);
        put(b, st_dtype[views[i].dtype], strlen(st_dtype[views[i].dtype]));
        put(b, "\",\"shape\":[", 11);
        for (int d = 0; d < views[i].rank; d++)
            put(b, num, (size_t)snprintf(num, sizeof num, "%s%lld", d ? "," : "",
                                         (long long)views[i].dims[d]));
        put(b, num, (size_t)snprintf(num, sizeof num, "],\"data_offsets\":[%llu,%llu]}",
                                     (unsigned long long)off,
                                     (unsigned long long)(off + views[i].nbytes)));
        off += views[i].nbytes;
    }
    put(b, "}", 1);
    while (b->n % 8)
        put(b, " ", 1);
}

int
kiln_st_write(const char *path, int n, const char *const *names, const kiln_view *views,
              char *err, size_t errlen)
{
    unsigned char pre[8];
    Buf b = {0};
    char *tmp;
    FILE *fp;
    int rc, ok;

    if (!path || n < 0 || (n > 0 && (!names || !views)))
        return rt_err(err, errlen, KILN_EINVAL, "safetensors: bad arguments to kiln_st_write");
    if ((rc = check_views(n, names, views, err, errlen)) != KILN_OK)
        return rc;
    build_header(&b, n, names, views);
    if (b.oom) {
        free(b.p);
        return rt_err(err, errlen, KILN_ENOMEM, "%s: out of memory building header", path);
    }
    for (int i = 0; i < 8; i++)
        pre[i] = (unsigned char)((uint64_t)b.n >> (8 * i));
    if (!(fp = rt_tmp_open(path, &tmp, err, errlen, &rc))) {
        free(b.p);
        return rc;
    }
    ok = fwrite(pre, 1, 8, fp) == 8 && fwrite(b.p, 1, b.n, fp) == b.n;
    for (int i = 0; ok && i < n; i++) {
        size_t nb = views[i].nbytes;
        ok = nb == 0 || fwrite(views[i].data, 1, nb, fp) == nb;
    }
    free(b.p);
    return rt_tmp_commit(fp, tmp, path, ok, err, errlen);
}
