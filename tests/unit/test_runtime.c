/* test_runtime.c — unit tests for libkilnrt: file formats (including hostile inputs),
 * checked arithmetic, BLAS glue, kernels against naive references, and parallel_for.
 * Expected values are computed by hand or by plain reference loops in this file. */
#ifndef _POSIX_C_SOURCE
#define _POSIX_C_SOURCE 200809L
#endif
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <CUnit/Basic.h>
#include "cu_run.h"
#include <CUnit/CUnit.h>

#include "kiln_rt.h"

static char tmpdir[] = "/tmp/kiln_rt_test_XXXXXX";
static char err[256];

/* ---- helpers ---- */

static uint32_t rng_state = 12345u;

static float
frand(void)
{
    rng_state = rng_state * 1664525u + 1013904223u;
    return (float)(rng_state >> 8) / 16777216.0f * 2.0f - 1.0f;
}

static void
fill(float *p, int64_t n)
{
    for (int64_t i = 0; i < n; i++)
        p[i] = frand();
}

/* Largest |a - b| / (1 + |b|) over n elements. */
static double
max_rel(const float *a, const float *b, int64_t n)
{
    double m = 0;

    for (int64_t i = 0; i < n; i++) {
        if (a[i] == b[i])
            continue; /* equal infinities would give NaN below */
        double d = fabs((double)a[i] - b[i]) / (1.0 + fabs((double)b[i]));
        if (!(d <= m))
            m = d; /* also catches NaN */
    }
    return m;
}

static void
path_in_tmp(char *buf, size_t cap, const char *name)
{
    snprintf(buf, cap, "%s/%s", tmpdir, name);
}

static int
file_exists(const char *path)
{
    return access(path, F_OK) == 0;
}

/* Build a .npy image: version ver (1 or 2), header text dict (unpadded), then data. */
static size_t
mk_npy(unsigned char *buf, int ver, const char *dict, const void *data, size_t ndata)
{
    size_t hl = strlen(dict), pre = ver == 1 ? 10 : 12;

    memcpy(buf, "\x93NUMPY", 6);
    buf[6] = (unsigned char)ver;
    buf[7] = 0;
    buf[8] = (unsigned char)(hl & 0xff);
    buf[9] = (unsigned char)(hl >> 8);
    if (ver != 1)
        buf[10] = buf[11] = 0;
    memcpy(buf + pre, dict, hl);
    if (ndata)
        memcpy(buf + pre + hl, data, ndata);
    return pre + hl + ndata;
}

/* Build a safetensors image: 8-byte LE length of json, json, then data. */
static size_t
mk_st(unsigned char *buf, const char *json, const void *data, size_t ndata)
{
    size_t hl = strlen(json);

    for (int i = 0; i < 8; i++)
        buf[i] = (unsigned char)((uint64_t)hl >> (8 * i));
    memcpy(buf + 8, json, hl);
    if (ndata)
        memcpy(buf + 8 + hl, data, ndata);
    return 8 + hl + ndata;
}

static int
suite_init(void)
{
    strcpy(tmpdir, "/tmp/kiln_rt_test_XXXXXX"); /* mkdtemp consumed the previous template */
    return mkdtemp(tmpdir) ? 0 : -1;
}

static int
suite_cleanup(void)
{
    return rmdir(tmpdir);
}

/* ---- status, dtypes, numel ---- */

static void
test_status_dtype(void)
{
    CU_ASSERT_STRING_EQUAL(kiln_status_str(KILN_OK), "ok");
    CU_ASSERT_STRING_EQUAL(kiln_status_str(-1), "unknown status");
    CU_ASSERT_STRING_EQUAL(kiln_status_str(KILN_STATUS_COUNT), "unknown status");
    for (int s = 0; s < KILN_STATUS_COUNT; s++)
        CU_ASSERT_PTR_NOT_NULL(kiln_status_str(s));
    CU_ASSERT_EQUAL(kiln_dtype_size(KILN_DT_F32), 4);
    CU_ASSERT_EQUAL(kiln_dtype_size(KILN_DT_I64), 8);
    CU_ASSERT_EQUAL(kiln_dtype_size(KILN_DT_BOOL), 1);
    CU_ASSERT_EQUAL(kiln_dtype_size(KILN_DT_NONE), 0);
    CU_ASSERT_EQUAL(kiln_dtype_size(KILN_DT_COUNT), 0);
    CU_ASSERT_STRING_EQUAL(kiln_dtype_name(KILN_DT_F32), "f32");
    CU_ASSERT_STRING_EQUAL(kiln_dtype_name(KILN_DT_I32), "i32");
    CU_ASSERT_STRING_EQUAL(kiln_dtype_name(KILN_DT_I64), "i64");
    CU_ASSERT_STRING_EQUAL(kiln_dtype_name(KILN_DT_I8), "i8");
    CU_ASSERT_STRING_EQUAL(kiln_dtype_name(KILN_DT_U8), "u8");
    CU_ASSERT_STRING_EQUAL(kiln_dtype_name(KILN_DT_BOOL), "bool");
}

static void
test_numel(void)
{
    int64_t d[3] = {2, 3, 4}, big[2] = {(int64_t)1 << 40, (int64_t)1 << 40};
    int64_t neg[2] = {2, -1}, zero[2] = {0, 5}, n = -7;

    CU_ASSERT_EQUAL(kiln_shape_numel(3, d, &n), KILN_OK);
    CU_ASSERT_EQUAL(n, 24);
    CU_ASSERT_EQUAL(kiln_shape_numel(0, NULL, &n), KILN_OK);
    CU_ASSERT_EQUAL(n, 1);
    CU_ASSERT_EQUAL(kiln_shape_numel(2, zero, &n), KILN_OK);
    CU_ASSERT_EQUAL(n, 0);
    n = -7;
    CU_ASSERT_EQUAL(kiln_shape_numel(2, big, &n), KILN_ERANGE);
    CU_ASSERT_EQUAL(n, -7);
    CU_ASSERT_EQUAL(kiln_shape_numel(2, neg, &n), KILN_ERANGE);
    CU_ASSERT_EQUAL(kiln_shape_numel(KILN_MAX_RANK + 1, d, &n), KILN_EINVAL);
    CU_ASSERT_EQUAL(kiln_shape_numel(-1, d, &n), KILN_EINVAL);
}

/* ---- files and npy ---- */

static void
test_file_map(void)
{
    char path[512];
    kiln_file *f = NULL;
    FILE *fp;

    path_in_tmp(path, sizeof path, "empty.bin");
    fp = fopen(path, "wb");
    CU_ASSERT_PTR_NOT_NULL_FATAL(fp);
    fclose(fp);
    CU_ASSERT_EQUAL_FATAL(kiln_file_map(path, &f, err, sizeof err), KILN_OK);
    CU_ASSERT_EQUAL(kiln_file_size(f), 0);
    CU_ASSERT_PTR_NOT_NULL(kiln_file_data(f));
    kiln_file_unmap(f);
    remove(path);
    CU_ASSERT_EQUAL(kiln_file_map(path, &f, err, sizeof err), KILN_EIO);
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "cannot open"));
    CU_ASSERT_EQUAL(kiln_file_map(tmpdir, &f, err, sizeof err), KILN_EIO);
    kiln_file_unmap(NULL);
}

/* Write v to name, map it back, check it parses to the same view. */
static void
npy_roundtrip(const char *name, const kiln_view *v)
{
    char path[512], tmp[520];
    kiln_file *f = NULL;
    kiln_view r;

    path_in_tmp(path, sizeof path, name);
    CU_ASSERT_EQUAL_FATAL(kiln_npy_write(path, v, err, sizeof err), KILN_OK);
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    CU_ASSERT_FALSE(file_exists(tmp));
    CU_ASSERT_EQUAL_FATAL(kiln_file_map(path, &f, err, sizeof err), KILN_OK);
    CU_ASSERT_EQUAL((kiln_file_size(f) - v->nbytes) % 64, 0); /* v1.0 header padded to 64 */
    CU_ASSERT_EQUAL(kiln_npy_parse(kiln_file_data(f), kiln_file_size(f), &r, err, sizeof err),
                    KILN_OK);
    CU_ASSERT_EQUAL(r.dtype, v->dtype);
    CU_ASSERT_EQUAL(r.rank, v->rank);
    CU_ASSERT_EQUAL(memcmp(r.dims, v->dims, sizeof r.dims), 0);
    CU_ASSERT_EQUAL(r.nbytes, v->nbytes);
    CU_ASSERT(v->nbytes == 0 || memcmp(r.data, v->data, v->nbytes) == 0);
    kiln_file_unmap(f);
    remove(path);
}

static void
test_npy_roundtrip(void)
{
    float f[6] = {1, -2, 3.5f, 0, 1e30f, -1e-30f};
    int64_t i64[4] = {1, -1, INT64_MAX, INT64_MIN};
    uint8_t u8 = 200;
    kiln_view vf = {KILN_DT_F32, 2, {2, 3}, f, sizeof f};
    kiln_view vi = {KILN_DT_I64, 1, {4}, i64, sizeof i64};
    kiln_view vs = {KILN_DT_U8, 0, {0}, &u8, 1};
    kiln_view ve = {KILN_DT_BOOL, 3, {2, 0, 3}, NULL, 0};
    kiln_view v0 = {KILN_DT_F32, 1, {0}, NULL, 0};          /* shape (0,) */
    kiln_view vbad = {KILN_DT_F32, 2, {2, 2}, f, sizeof f};
    char path[512];

    npy_roundtrip("f.npy", &vf);
    npy_roundtrip("i.npy", &vi);
    npy_roundtrip("s.npy", &vs);
    npy_roundtrip("e.npy", &ve);
    npy_roundtrip("z.npy", &v0);
    path_in_tmp(path, sizeof path, "bad.npy");
    CU_ASSERT_EQUAL(kiln_npy_write(path, &vbad, err, sizeof err), KILN_EINVAL);
    CU_ASSERT_FALSE(file_exists(path));
    CU_ASSERT_EQUAL(kiln_npy_write("/nonexistent-dir/x.npy", &vf, err, sizeof err), KILN_EIO);
}

static void
test_npy_parse_ok(void)
{
    unsigned char buf[256];
    int32_t d[3] = {7, 8, 9};
    kiln_view v;
    size_t n;

    /* v2 header, double quotes, Python 2 long suffix, no trailing comma */
    n = mk_npy(buf, 2, "{\"descr\": \"<i4\", \"fortran_order\": False, \"shape\": (3L)}\n", d,
               sizeof d);
    CU_ASSERT_EQUAL(kiln_npy_parse(buf, n, &v, err, sizeof err), KILN_OK);
    CU_ASSERT_EQUAL(v.dtype, KILN_DT_I32);
    CU_ASSERT_EQUAL(v.rank, 1);
    CU_ASSERT_EQUAL(v.dims[0], 3);
    CU_ASSERT_EQUAL(memcmp(v.data, d, sizeof d), 0);
    n = mk_npy(buf, 1, "{'shape': (1, 3), 'fortran_order': False, 'descr': '|b1', }", d, 3);
    CU_ASSERT_EQUAL(kiln_npy_parse(buf, n, &v, err, sizeof err), KILN_OK);
    CU_ASSERT_EQUAL(v.dtype, KILN_DT_BOOL);
    CU_ASSERT_EQUAL(v.dims[1], 3);
}

static void
test_npy_reject(void)
{
    unsigned char buf[512];
    float d[4] = {0};
    kiln_view v;
    size_t n;

    n = mk_npy(buf, 1, "{'descr': '<f4', 'fortran_order': False, 'shape': (4,), }", d, 16);
    buf[1] = 'X';
    CU_ASSERT_EQUAL(kiln_npy_parse(buf, n, &v, err, sizeof err), KILN_EFORMAT);
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "bad magic"));
    buf[1] = 'N';
    buf[8] = 0xff; /* header length 0x..ff > file */
    buf[9] = 0x7f;
    CU_ASSERT_EQUAL(kiln_npy_parse(buf, n, &v, err, sizeof err), KILN_EFORMAT);
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "runs past end"));
    n = mk_npy(buf, 1, "{'descr': '<f4', 'fortran_order': False, 'shape': (4,), }", d, 12);
    CU_ASSERT_EQUAL(kiln_npy_parse(buf, n, &v, err, sizeof err), KILN_EFORMAT);
    CU_ASSERT_STRING_EQUAL(err, "npy: f32[4] needs 16 data bytes, file has 12");
    n = mk_npy(buf, 1, "{'descr': '<f4', 'fortran_order': False, 'shape': (3,), }", d, 16);
    CU_ASSERT_EQUAL(kiln_npy_parse(buf, n, &v, err, sizeof err), KILN_EFORMAT);
    n = mk_npy(buf, 1,
               "{'descr': '<f4', 'fortran_order': False, 'shape': (1099511627776, "
               "1099511627776), }", d, 16);
    CU_ASSERT_EQUAL(kiln_npy_parse(buf, n, &v, err, sizeof err), KILN_ERANGE);
    n = mk_npy(buf, 1, "{'descr': '<f4', 'fortran_order': True, 'shape': (2, 2), }", d, 16);
    CU_ASSERT_EQUAL(kiln_npy_parse(buf, n, &v, err, sizeof err), KILN_EUNSUPPORTED);
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "fortran_order"));
    n = mk_npy(buf, 1, "{'descr': '>f4', 'fortran_order': False, 'shape': (4,), }", d, 16);
    CU_ASSERT_EQUAL(kiln_npy_parse(buf, n, &v, err, sizeof err), KILN_EUNSUPPORTED);
    n = mk_npy(buf, 1, "{'descr': '<f4', 'fortran_order': False, }", d, 16);
    CU_ASSERT_EQUAL(kiln_npy_parse(buf, n, &v, err, sizeof err), KILN_EFORMAT);
    n = mk_npy(buf, 1, "{'descr': '<f4', 'fortran_order': False, 'shape': (1,1,1,1,1,1,1,1,1), }",
               d, 4);
    CU_ASSERT_EQUAL(kiln_npy_parse(buf, n, &v, err, sizeof err), KILN_ERANGE);
    buf[6] = 9;
    CU_ASSERT_EQUAL(kiln_npy_parse(buf, n, &v, err, sizeof err), KILN_EUNSUPPORTED);
    CU_ASSERT_EQUAL(kiln_npy_parse(NULL, 0, &v, err, sizeof err), KILN_EFORMAT);
}

/* Every proper prefix of a valid file must be rejected, reading only that prefix (each
 * prefix gets its own exact-size heap copy so ASan catches any overread). */
static void
test_npy_truncated(void)
{
    unsigned char buf[256];
    float d[4] = {1, 2, 3, 4};
    kiln_view v;
    size_t n = mk_npy(buf, 1, "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 2), }",
                      d, sizeof d);

    for (size_t len = 0; len < n; len++) {
        unsigned char *p = malloc(len ? len : 1);
        memcpy(p, buf, len);
        CU_ASSERT_NOT_EQUAL(kiln_npy_parse(p, len, &v, NULL, 0), KILN_OK);
        free(p);
    }
    CU_ASSERT_EQUAL(kiln_npy_parse(buf, n, &v, NULL, 0), KILN_OK);
}

/* ---- safetensors ---- */

/* Two tensors and metadata: "w" f32[2,2] at [0,16), "a\"b" i64[1] at [16,24). */
static const char st_json[] =
    "{\"__metadata__\": {\"format\": \"pt\", \"nested\": [1, {\"x\": null}]},"
    " \"w\": {\"dtype\": \"F32\", \"shape\": [2, 2], \"data_offsets\": [0, 16]},"
    " \"a\\\"b\": {\"data_offsets\": [16, 24], \"extra\": true, \"shape\": [1],"
    " \"dtype\": \"I64\"}}   ";

static size_t
st_sample(unsigned char *buf)
{
    unsigned char data[24];
    float w[4] = {1, 2, 3, 4};
    int64_t a = -5;

    memcpy(data, w, 16);
    memcpy(data + 16, &a, 8);
    return mk_st(buf, st_json, data, sizeof data);
}

static void
test_st_read(void)
{
    _Alignas(8) unsigned char buf[512];
    size_t n = st_sample(buf);
    char name[16];
    kiln_view v;
    int64_t a;
    float f3;
    int cnt = -1;

    CU_ASSERT_EQUAL(kiln_st_count(buf, n, &cnt, err, sizeof err), KILN_OK);
    CU_ASSERT_EQUAL(cnt, 2);
    CU_ASSERT_EQUAL_FATAL(kiln_st_find(buf, n, "w", &v, err, sizeof err), KILN_OK);
    CU_ASSERT_EQUAL(v.dtype, KILN_DT_F32);
    CU_ASSERT_EQUAL(v.rank, 2);
    CU_ASSERT_EQUAL(v.nbytes, 16);
    memcpy(&f3, (const char *)v.data + 12, 4); /* data sits at 8 + header: maybe unaligned */
    CU_ASSERT_EQUAL(f3, 4.0f);
    CU_ASSERT_EQUAL_FATAL(kiln_st_find(buf, n, "a\"b", &v, err, sizeof err), KILN_OK);
    memcpy(&a, v.data, 8);
    CU_ASSERT_EQUAL(a, -5);
    CU_ASSERT_EQUAL(kiln_st_find(buf, n, "zz", &v, err, sizeof err), KILN_EINVAL);
    CU_ASSERT_STRING_EQUAL(err, "no tensor 'zz'");
    CU_ASSERT_EQUAL(kiln_st_find(buf, n, "__metadata__", &v, err, sizeof err), KILN_EINVAL);
    CU_ASSERT_EQUAL(kiln_st_entry(buf, n, 1, name, sizeof name, &v, err, sizeof err), KILN_OK);
    CU_ASSERT_STRING_EQUAL(name, "a\"b");
    CU_ASSERT_EQUAL(v.dtype, KILN_DT_I64);
    CU_ASSERT_EQUAL(kiln_st_entry(buf, n, 0, name, sizeof name, &v, err, sizeof err), KILN_OK);
    CU_ASSERT_STRING_EQUAL(name, "w");
    CU_ASSERT_EQUAL(kiln_st_entry(buf, n, 2, name, sizeof name, &v, err, sizeof err), KILN_EINVAL);
    CU_ASSERT_EQUAL(kiln_st_entry(buf, n, 1, name, 3, &v, err, sizeof err), KILN_ERANGE);
}

static void
test_st_write(void)
{
    float w[6] = {1, 2, 3, 4, 5, 6};
    uint8_t b[3] = {1, 0, 1};
    const char *names[2] = {"layer.0/w", "mask\n"};
    kiln_view views[2] = {{KILN_DT_F32, 2, {3, 2}, w, sizeof w}, {KILN_DT_BOOL, 1, {3}, b, 3}};
    const char *dup[2] = {"x", "x"};
    char path[512], name[32];
    kiln_file *f = NULL;
    kiln_view v;
    int cnt;

    path_in_tmp(path, sizeof path, "t.safetensors");
    CU_ASSERT_EQUAL_FATAL(kiln_st_write(path, 2, names, views, err, sizeof err), KILN_OK);
    CU_ASSERT_EQUAL_FATAL(kiln_file_map(path, &f, err, sizeof err), KILN_OK);
    CU_ASSERT_EQUAL(kiln_st_count(kiln_file_data(f), kiln_file_size(f), &cnt, err, sizeof err),
                    KILN_OK);
    CU_ASSERT_EQUAL(cnt, 2);
    CU_ASSERT_EQUAL(((const unsigned char *)kiln_file_data(f))[0] % 8, 0);
    CU_ASSERT_EQUAL(kiln_st_entry(kiln_file_data(f), kiln_file_size(f), 1, name, sizeof name, &v,
                                  err, sizeof err), KILN_OK);
    CU_ASSERT_STRING_EQUAL(name, "mask\n");
    CU_ASSERT_EQUAL(memcmp(v.data, b, 3), 0);
    CU_ASSERT_EQUAL(kiln_st_find(kiln_file_data(f), kiln_file_size(f), "layer.0/w", &v, err,
                                 sizeof err), KILN_OK);
    CU_ASSERT_EQUAL(v.dims[0], 3);
    CU_ASSERT_EQUAL(memcmp(v.data, w, sizeof w), 0);
    kiln_file_unmap(f);
    remove(path);
    CU_ASSERT_EQUAL(kiln_st_write(path, 2, dup, views, err, sizeof err), KILN_EINVAL);
    CU_ASSERT_FALSE(file_exists(path));
}

static void
test_st_reject(void)
{
    _Alignas(8) unsigned char buf[1024] = {0};
    unsigned char data[128] = {0};
    kiln_view v;
    size_t n;
    int cnt;

    CU_ASSERT_EQUAL(kiln_st_count(buf, 5, &cnt, err, sizeof err), KILN_EFORMAT);
    n = st_sample(buf);
    buf[0] = 0xff; /* header length 0x..ff runs past the end */
    CU_ASSERT_EQUAL(kiln_st_find(buf, n, "w", &v, err, sizeof err), KILN_EFORMAT);
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "runs past end"));
    buf[7] = 0x7f; /* header length ~2^63 */
    CU_ASSERT_EQUAL(kiln_st_find(buf, n, "w", &v, err, sizeof err), KILN_EFORMAT);
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "limit"));
    n = mk_st(buf, "{\"fc1.weight\": {\"dtype\": \"F32\", \"shape\": [4, 8], "
                   "\"data_offsets\": [0, 100]}}", data, 128);
    CU_ASSERT_EQUAL(kiln_st_find(buf, n, "fc1.weight", &v, err, sizeof err), KILN_EFORMAT);
    CU_ASSERT_STRING_EQUAL(err, "tensor 'fc1.weight': data_offsets [0, 100] need 128 bytes for "
                                "f32[4,8]");
    n = mk_st(buf, "{\"x\": {\"dtype\": \"F32\", \"shape\": [4], \"data_offsets\": [120, 136]}}",
              data, 128);
    CU_ASSERT_EQUAL(kiln_st_find(buf, n, "x", &v, err, sizeof err), KILN_EFORMAT);
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "outside the 128-byte data area"));
    n = mk_st(buf, "{\"x\": {\"dtype\": \"F32\", \"shape\": [4], \"data_offsets\": [8, 4]}}",
              data, 128);
    CU_ASSERT_EQUAL(kiln_st_find(buf, n, "x", &v, err, sizeof err), KILN_EFORMAT);
    n = mk_st(buf, "{\"x\": {\"dtype\": \"F32\", \"shape\": [1099511627776, 1099511627776], "
                   "\"data_offsets\": [0, 4]}}", data, 128);
    CU_ASSERT_EQUAL(kiln_st_find(buf, n, "x", &v, err, sizeof err), KILN_ERANGE);
    /* an unsupported dtype fails only its own tensor */
    n = mk_st(buf, "{\"h\": {\"dtype\": \"BF16\", \"shape\": [2], \"data_offsets\": [0, 4]},"
                   "\"x\": {\"dtype\": \"U8\", \"shape\": [], \"data_offsets\": [4, 5]}}",
              data, 8);
    CU_ASSERT_EQUAL(kiln_st_find(buf, n, "h", &v, err, sizeof err), KILN_EUNSUPPORTED);
    CU_ASSERT_EQUAL(kiln_st_find(buf, n, "x", &v, err, sizeof err), KILN_OK);
    n = mk_st(buf, "{\"x\": {\"dtype\": \"U8\", \"shape\": [], \"data_offsets\": [4, 5]}}",
              data, 8);
    CU_ASSERT_EQUAL(kiln_st_find(buf, n, "x", &v, err, sizeof err), KILN_OK);
    CU_ASSERT_EQUAL(v.rank, 0);
    n = mk_st(buf, "{\"x\": {\"dtype\": \"U8\", \"shape\": [1,], \"data_offsets\": [0, 1]}}",
              data, 8);
    CU_ASSERT_EQUAL(kiln_st_count(buf, n, &cnt, err, sizeof err), KILN_EFORMAT);
    n = mk_st(buf, "{\"x\": {}} trailing", data, 8);
    CU_ASSERT_EQUAL(kiln_st_count(buf, n, &cnt, err, sizeof err), KILN_EFORMAT);
    /* a NUL byte after a backslash or as a bare value is not JSON */
    n = mk_st(buf, "{\"x\\?\": {}}", data, 0);
    buf[8 + 4] = 0;
    CU_ASSERT_EQUAL(kiln_st_count(buf, n, &cnt, err, sizeof err), KILN_EFORMAT);
    n = mk_st(buf, "{\"__metadata__\": ?}", data, 0);
    buf[8 + 17] = 0;
    CU_ASSERT_EQUAL(kiln_st_count(buf, n, &cnt, err, sizeof err), KILN_EFORMAT);
    n = mk_st(buf, "{\"x\": {}}", data, 0);
    CU_ASSERT_EQUAL(kiln_st_find(buf, n, "x", &v, err, sizeof err), KILN_EFORMAT);
}

/* Deep nesting is bounded, and every prefix of a valid file is rejected without overread. */
static void
test_st_hostile(void)
{
    unsigned char buf[512], *deep;
    char json[1000];
    size_t n = st_sample(buf);
    kiln_view v;
    int cnt;

    for (size_t len = 0; len < n; len++) {
        unsigned char *p = malloc(len ? len : 1);
        memcpy(p, buf, len);
        CU_ASSERT_NOT_EQUAL(kiln_st_find(p, len, "a\"b", &v, NULL, 0), KILN_OK);
        /* count reads only the header, so it may succeed once the header is whole */
        CU_ASSERT(len >= 8 + sizeof st_json - 1 || kiln_st_count(p, len, &cnt, NULL, 0) != KILN_OK);
        free(p);
    }
    strcpy(json, "{\"__metadata__\": ");
    for (int i = 0; i < 400; i++)
        strcat(json, "[");
    strcat(json, "}");
    deep = malloc(8 + strlen(json));
    n = mk_st(deep, json, NULL, 0);
    CU_ASSERT_EQUAL(kiln_st_count(deep, n, &cnt, err, sizeof err), KILN_EFORMAT);
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "nests deeper"));
    free(deep);
}

/* ---- BLAS ---- */

static void
ref_gemm(int ta, int tb, int m, int n, int k, float alpha, const float *a, int lda,
         const float *b, int ldb, float beta, float *c, int ldc)
{
    for (int i = 0; i < m; i++)
        for (int j = 0; j < n; j++) {
            double s = 0;
            for (int p = 0; p < k; p++)
                s += (double)(ta ? a[p * lda + i] : a[i * lda + p]) *
                     (tb ? b[j * ldb + p] : b[p * ldb + j]);
            c[i * ldc + j] = (float)(alpha * s + (beta == 0 ? 0 : beta * c[i * ldc + j]));
        }
}

static void
test_sgemm(void)
{
    enum { M = 7, N = 5, K = 9, LD = 12 };
    float a[LD * LD], b[LD * LD], c[M * LD], r[M * LD];

    kiln_blas_check();
    CU_ASSERT_PTR_NOT_NULL(kiln_blas_corename());
    for (int t = 0; t < 4; t++) {
        int ta = t & 1, tb = t >> 1;
        fill(a, LD * LD);
        fill(b, LD * LD);
        fill(c, M * LD);
        memcpy(r, c, sizeof c);
        kiln_sgemm(ta, tb, M, N, K, 0.5f, a, LD, b, LD, 2.0f, c, LD);
        ref_gemm(ta, tb, M, N, K, 0.5f, a, LD, b, LD, 2.0f, r, LD);
        CU_ASSERT(max_rel(c, r, M * LD) < 1e-5);
    }
    for (int i = 0; i < M * LD; i++)
        c[i] = NAN;
    kiln_sgemm(0, 0, M, N, K, 1.0f, a, K, b, N, 0.0f, c, N);
    ref_gemm(0, 0, M, N, K, 1.0f, a, K, b, N, 0.0f, r, N);
    CU_ASSERT(max_rel(c, r, M * N) < 1e-5);
    kiln_sgemm(0, 0, M, N, 0, 1.0f, a, 0, b, N, 0.0f, c, N); /* k == 0: C = 0 */
    CU_ASSERT_EQUAL(c[0], 0.0f);
    CU_ASSERT_EQUAL(c[M * N - 1], 0.0f);
}

static void
test_batched_sgemm(void)
{
    enum { B = 3, M = 4, N = 3, K = 5 };
    float a[B * M * K], b[K * N], c[B * M * N], r[B * M * N];

    fill(a, B * M * K);
    fill(b, K * N);
    kiln_batched_sgemm(B, 0, 0, M, N, K, 1.0f, a, K, M * K, b, N, 0, 0.0f, c, N, M * N);
    for (int i = 0; i < B; i++)
        ref_gemm(0, 0, M, N, K, 1.0f, a + i * M * K, K, b, N, 0.0f, r + i * M * N, N);
    CU_ASSERT(max_rel(c, r, B * M * N) < 1e-5);
}

/* ---- convolution ---- */

static void
ref_conv(const kiln_conv2d_params *p, const float *x, const float *w, const float *bias,
         float *y)
{
    int64_t cg = p->c / p->groups, kg = p->k / p->groups;

    for (int64_t b = 0; b < p->n; b++)
        for (int64_t o = 0; o < p->k; o++)
            for (int64_t oy = 0; oy < p->oh; oy++)
                for (int64_t ox = 0; ox < p->ow; ox++) {
                    double s = bias ? bias[o] : 0;
                    for (int64_t ci = 0; ci < cg; ci++)
                        for (int64_t ki = 0; ki < p->kh; ki++)
                            for (int64_t kj = 0; kj < p->kw; kj++) {
                                int64_t iy = oy * p->stride_h - p->pad_top + ki * p->dil_h;
                                int64_t ix = ox * p->stride_w - p->pad_left + kj * p->dil_w;
                                int64_t ic = o / kg * cg + ci;
                                if (iy < 0 || iy >= p->h || ix < 0 || ix >= p->w)
                                    continue;
                                s += (double)x[((b * p->c + ic) * p->h + iy) * p->w + ix] *
                                     w[((o * cg + ci) * p->kh + ki) * p->kw + kj];
                            }
                    y[((b * p->k + o) * p->oh + oy) * p->ow + ox] = (float)s;
                }
}

/* Fill in oh/ow from the floor-mode formula, run kernel and reference, compare. */
static void
check_conv(kiln_conv2d_params p, int with_bias, const kiln_run_opts *opts)
{
    p.oh = (p.h + p.pad_top + p.pad_bottom - p.dil_h * (p.kh - 1) - 1) / p.stride_h + 1;
    p.ow = (p.w + p.pad_left + p.pad_right - p.dil_w * (p.kw - 1) - 1) / p.stride_w + 1;
    int64_t nx = p.n * p.c * p.h * p.w, nw = p.k * (p.c / p.groups) * p.kh * p.kw;
    int64_t ny = p.n * p.k * p.oh * p.ow;
    size_t sb = kiln_conv2d_scratch_bytes(&p);
    float *x = malloc(sizeof(float) * (size_t)nx), *w = malloc(sizeof(float) * (size_t)nw);
    float *bias = malloc(sizeof(float) * (size_t)p.k), *y = malloc(sizeof(float) * (size_t)ny);
    float *r = malloc(sizeof(float) * (size_t)ny), *scratch = sb ? malloc(sb) : NULL;

    fill(x, nx);
    fill(w, nw);
    fill(bias, p.k);
    for (int64_t i = 0; i < ny; i++)
        y[i] = NAN; /* every output must be written */
    kiln_conv2d_f32(&p, x, w, with_bias ? bias : NULL, y, scratch, opts);
    ref_conv(&p, x, w, with_bias ? bias : NULL, r);
    CU_ASSERT(max_rel(y, r, ny) < 1e-4);
    free(x), free(w), free(bias), free(y), free(r), free(scratch);
}

static void
test_conv2d(void)
{
    kiln_run_opts two = {.nthreads = 2};
    /*                        n  c  h  w  k kh kw sh sw pt pl pb pr dh dw g */
    kiln_conv2d_params base = {2, 3, 9, 8, 4, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0};
    kiln_conv2d_params p;

    check_conv(base, 1, NULL);
    p = base, p.stride_h = p.stride_w = 2; /* stride 2, pad 1 */
    check_conv(p, 1, &two);
    p = base, p.dil_h = p.dil_w = 2, p.pad_top = 2, p.pad_bottom = 0; /* dilation 2 */
    check_conv(p, 0, NULL);
    p = base, p.c = 4, p.k = 6, p.groups = 2, p.kw = 2, p.pad_right = 0; /* groups 2 */
    check_conv(p, 1, NULL);
    p = base, p.c = p.k = p.groups = 5; /* depthwise */
    check_conv(p, 1, &two);
    p.stride_w = 2, p.dil_h = 2, p.pad_left = 0, p.pad_right = 2; /* depthwise, irregular */
    check_conv(p, 0, NULL);
    p = base, p.kh = p.kw = 1, p.pad_top = p.pad_left = p.pad_bottom = p.pad_right = 0;
    CU_ASSERT_EQUAL(kiln_conv2d_scratch_bytes(&(kiln_conv2d_params){
                        1, 3, 9, 8, 4, 1, 1, 1, 1, 0, 0, 0, 0, 1, 1, 1, 9, 8}), 0);
    check_conv(p, 1, NULL); /* pointwise, no im2col */
    p = base, p.kh = 5, p.kw = 5, p.stride_h = 3, p.pad_top = 0, p.pad_bottom = 3; /* big window */
    check_conv(p, 1, &two);
}

/* ---- pooling ---- */

static void
ref_pool(const kiln_pool2d_params *p, const float *x, float *y, int is_max)
{
    for (int64_t i = 0; i < p->n * p->c; i++)
        for (int64_t oy = 0; oy < p->oh; oy++)
            for (int64_t ox = 0; ox < p->ow; ox++) {
                double s = 0, m = -INFINITY;
                int64_t cnt = 0;
                for (int64_t ki = 0; ki < p->kh; ki++)
                    for (int64_t kj = 0; kj < p->kw; kj++) {
                        int64_t iy = oy * p->stride_h - p->pads[0] + ki;
                        int64_t ix = ox * p->stride_w - p->pads[1] + kj;
                        int in = iy >= 0 && iy < p->h && ix >= 0 && ix < p->w;
                        int in_pad = iy < p->h + p->pads[2] && ix < p->w + p->pads[3];
                        if (in) {
                            double v = x[(i * p->h + iy) * p->w + ix];
                            s += v;
                            m = v > m ? v : m;
                        }
                        cnt += p->count_include_pad ? in_pad : in;
                    }
                y[(i * p->oh + oy) * p->ow + ox] = (float)(is_max ? m : cnt ? s / cnt : 0);
            }
}

static void
check_pool(kiln_pool2d_params p, int is_max, const kiln_run_opts *opts)
{
    int64_t nx = p.n * p.c * p.h * p.w, ny = p.n * p.c * p.oh * p.ow;
    float *x = malloc(sizeof(float) * (size_t)nx), *y = malloc(sizeof(float) * (size_t)ny);
    float *r = malloc(sizeof(float) * (size_t)ny);

    fill(x, nx);
    (is_max ? kiln_maxpool2d_f32 : kiln_avgpool2d_f32)(&p, x, y, opts);
    ref_pool(&p, x, r, is_max);
    CU_ASSERT(max_rel(y, r, ny) < 1e-5);
    free(x), free(y), free(r);
}

static void
test_pool(void)
{
    kiln_run_opts two = {.nthreads = 2};
    /* 3x3 stride 2 pad 1 on 7x8: oh = (7+2-3)/2+1 = 4, ow = (8+2-3)/2+1 = 4 */
    kiln_pool2d_params p = {2, 3, 7, 8, 3, 3, 2, 2, {1, 1, 1, 1}, 4, 4, 0};
    float x[4] = {1, 2, 3, 4}, y[2];

    check_pool(p, 1, NULL);
    check_pool(p, 0, &two);
    p.count_include_pad = 1;
    check_pool(p, 0, NULL);
    /* ceil mode: one more output row/column whose window hangs past the padding */
    p.oh = 5, p.ow = 5, p.pads[2] = 0, p.pads[3] = 2;
    check_pool(p, 0, NULL);
    check_pool(p, 1, &two);
    /* hand-computed: 2x2 plane, 2x2 window with pad 1 on top/left only, include pad */
    kiln_pool2d_params q = {1, 1, 2, 2, 2, 2, 1, 1, {1, 1, 0, 0}, 1, 1, 1};
    kiln_avgpool2d_f32(&q, x, y, NULL);
    CU_ASSERT_DOUBLE_EQUAL(y[0], 1.0 / 4, 1e-7); /* window holds x[0] and 3 pad cells */
    q.count_include_pad = 0;
    kiln_avgpool2d_f32(&q, x, y, NULL);
    CU_ASSERT_DOUBLE_EQUAL(y[0], 1.0, 1e-7);
    kiln_global_avgpool_f32(1, 2, 2, x, y, NULL);
    CU_ASSERT_DOUBLE_EQUAL(y[0], 1.5, 1e-7);
    CU_ASSERT_DOUBLE_EQUAL(y[1], 3.5, 1e-7);
}

/* ---- softmax and norms ---- */

static void
test_softmax(void)
{
    enum { R = 5, C = 37 };
    float x[R * C], y[R * C], l[R * C], big[3] = {1000, 1001, 1002};

    fill(x, R * C);
    kiln_softmax_f32(R, C, x, y, &(kiln_run_opts){.nthreads = 3});
    kiln_log_softmax_f32(R, C, x, l, NULL);
    for (int r = 0; r < R; r++) {
        double s = 0, ref_s = 0;
        for (int c = 0; c < C; c++) {
            s += y[r * C + c];
            ref_s += exp((double)x[r * C + c]);
        }
        CU_ASSERT_DOUBLE_EQUAL(s, 1.0, 1e-5);
        for (int c = 0; c < C; c++) {
            double ref = exp((double)x[r * C + c]) / ref_s;
            CU_ASSERT_DOUBLE_EQUAL(y[r * C + c], ref, 1e-6);
            CU_ASSERT_DOUBLE_EQUAL(l[r * C + c], log(ref), 1e-5);
        }
    }
    /* exp(1000) overflows float: only max subtraction gets 1/(1+e+e^2) etc. */
    kiln_softmax_f32(1, 3, big, big, NULL); /* in place */
    double z = 1 + exp(1.0) + exp(2.0);
    CU_ASSERT_DOUBLE_EQUAL(big[0], 1 / z, 1e-6);
    CU_ASSERT_DOUBLE_EQUAL(big[2], exp(2.0) / z, 1e-6);
}

static void
test_norms(void)
{
    enum { R = 4, C = 64 };
    float x[R * C], y[R * C], g[C], b[C];
    float h[4] = {1, 2, 3, 4};

    fill(x, R * C);
    for (int i = 0; i < R * C; i++)
        x[i] = x[i] * 3 + 100; /* large mean: catches one-pass variance */
    kiln_layernorm_f32(R, C, x, NULL, NULL, 1e-5f, y, NULL);
    for (int r = 0; r < R; r++) {
        double m = 0, v = 0;
        for (int c = 0; c < C; c++)
            m += y[r * C + c];
        m /= C;
        for (int c = 0; c < C; c++)
            v += (y[r * C + c] - m) * (y[r * C + c] - m);
        CU_ASSERT_DOUBLE_EQUAL(m, 0.0, 1e-4);
        CU_ASSERT_DOUBLE_EQUAL(v / C, 1.0, 1e-3);
    }
    fill(g, C);
    fill(b, C);
    kiln_layernorm_f32(R, C, x, g, b, 1e-5f, x, &(kiln_run_opts){.nthreads = 2}); /* in place */
    for (int i = 0; i < R * C; i++)
        CU_ASSERT_DOUBLE_EQUAL(x[i], y[i] * g[i % C] + b[i % C], 1e-4);
    /* rms of {1,2,3,4} = sqrt(30/4) */
    kiln_rmsnorm_f32(1, 4, h, NULL, 0.0f, y, NULL);
    CU_ASSERT_DOUBLE_EQUAL(y[3], 4 / sqrt(7.5), 1e-6);
    kiln_rmsnorm_f32(1, 4, h, g, 0.0f, y, NULL);
    CU_ASSERT_DOUBLE_EQUAL(y[1], 2 / sqrt(7.5) * g[1], 1e-6);
}

/* ---- parallel_for ---- */

/* Loop body: bump hits[i] for each index; slices are disjoint so no race if correct. */
static void
count_hits(void *arg, int64_t b, int64_t e)
{
    int *hits = arg;

    for (int64_t i = b; i < e; i++)
        hits[i]++;
}

/* Nested loop body: each outer index runs an inner parallel loop on the same pool. */
typedef struct {
    kiln_run_opts *opts;
    int *hits; /* 8 x 16 */
} Nested;

static void
nested_body(void *arg, int64_t b, int64_t e)
{
    Nested *nb = arg;

    for (int64_t i = b; i < e; i++)
        kiln_parallel_for(nb->opts, 16, count_hits, nb->hits + i * 16);
}

static int
all_once(const int *hits, int n)
{
    for (int i = 0; i < n; i++)
        if (hits[i] != 1)
            return 0;
    return 1;
}

static void
test_parallel_for(void)
{
    static const int64_t sizes[] = {0, 1, 2, 3, 4, 5, 7, 1000};
    kiln_pool *pool = kiln_pool_new(4);
    kiln_run_opts opts[4] = {
        {0, NULL, NULL}, {3, NULL, NULL}, {4, kiln_pool_parallel_for, pool}, {100, NULL, NULL}};
    int hits[1000], nested[8 * 16] = {0};

    CU_ASSERT_PTR_NOT_NULL_FATAL(pool);
    CU_ASSERT_PTR_NULL(kiln_pool_new(0));
    for (int o = 0; o < 4; o++)
        for (size_t s = 0; s < sizeof sizes / sizeof *sizes; s++)
            for (int rep = 0; rep < 20; rep++) {
                memset(hits, 0, sizeof hits);
                kiln_parallel_for(&opts[o], sizes[s], count_hits, hits);
                CU_ASSERT(all_once(hits, (int)sizes[s]));
                CU_ASSERT(sizes[s] == 1000 || hits[sizes[s]] == 0);
            }
    memset(hits, 0, sizeof hits);
    kiln_parallel_for(NULL, 1000, count_hits, hits);
    CU_ASSERT(all_once(hits, 1000));
    kiln_parallel_for(&opts[2], 8, nested_body, &(Nested){&opts[2], nested});
    CU_ASSERT(all_once(nested, 8 * 16));
    kiln_pool_free(pool);
    kiln_pool_free(NULL);
    pool = kiln_pool_new(1);
    memset(hits, 0, sizeof hits);
    kiln_pool_parallel_for(pool, 10, count_hits, hits);
    CU_ASSERT(all_once(hits, 10));
    kiln_pool_free(pool);
}

/* ---- registration ---- */

static CU_TestInfo basic_tests[] = {
    {"status and dtype tables", test_status_dtype},
    {"checked numel", test_numel},
    {"file map", test_file_map},
    CU_TEST_INFO_NULL,
};

static CU_TestInfo npy_tests[] = {
    {"round trip", test_npy_roundtrip},
    {"parse variants", test_npy_parse_ok},
    {"rejections", test_npy_reject},
    {"every truncation rejected", test_npy_truncated},
    CU_TEST_INFO_NULL,
};

static CU_TestInfo st_tests[] = {
    {"find, count, entry", test_st_read},
    {"write round trip", test_st_write},
    {"rejections", test_st_reject},
    {"hostile inputs", test_st_hostile},
    CU_TEST_INFO_NULL,
};

static CU_TestInfo kernel_tests[] = {
    {"sgemm vs naive", test_sgemm},
    {"batched sgemm", test_batched_sgemm},
    {"conv2d vs naive", test_conv2d},
    {"pools vs naive", test_pool},
    {"softmax", test_softmax},
    {"layernorm and rmsnorm", test_norms},
    CU_TEST_INFO_NULL,
};

static CU_TestInfo thread_tests[] = {
    {"parallel_for covers each index once", test_parallel_for},
    CU_TEST_INFO_NULL,
};

static CU_SuiteInfo suites[] = {
    {.pName = "runtime basics", .pInitFunc = suite_init, .pCleanupFunc = suite_cleanup,
     .pTests = basic_tests},
    {.pName = "npy", .pInitFunc = suite_init, .pCleanupFunc = suite_cleanup,
     .pTests = npy_tests},
    {.pName = "safetensors", .pInitFunc = suite_init, .pCleanupFunc = suite_cleanup,
     .pTests = st_tests},
    {.pName = "kernels", .pTests = kernel_tests},
    {.pName = "threads", .pTests = thread_tests},
    CU_SUITE_INFO_NULL,
};

int
main(void)
{
    return kiln_cu_run(suites);
}
