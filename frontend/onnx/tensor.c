/* frontend/onnx/tensor.c — ONNX TensorProto values: element types, shapes checked against
 * the bytes actually present, in-file data (raw_data or the typed repeated fields) and
 * external data files beside the model, which are mapped, never copied.
 *
 * External data becomes a Storage of kind STORE_FILE filled here directly (ir/storage.c
 * only knows .npy and safetensors): path = the location as written (relative to
 * Graph.dir, the model's folder), key = NULL, data = mapping + offset, nbytes = length;
 * the first Storage of each file owns its mapping.  Such a constant prints as a file
 * reference but cannot be re-read by the text IR parser (the file is raw bytes). */
#define _XOPEN_SOURCE 700         /* realpath */
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include "onnx_internal.h"
#include "util.h"

/* ONNX TensorProto.DataType values (onnx.proto) */
static const char *const onnx_type_names[] = {
    "UNDEFINED", "FLOAT", "UINT8", "INT8", "UINT16", "INT16", "INT32", "INT64", "STRING",
    "BOOL", "FLOAT16", "DOUBLE", "UINT32", "UINT64", "COMPLEX64", "COMPLEX128", "BFLOAT16",
};

DType
onnx_dtype(int32_t t)
{
    switch (t) {
    case ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT: return DT_F32;
    case ONNX__TENSOR_PROTO__DATA_TYPE__UINT8: return DT_U8;
    case ONNX__TENSOR_PROTO__DATA_TYPE__INT8:  return DT_I8;
    case ONNX__TENSOR_PROTO__DATA_TYPE__INT32: return DT_I32;
    case ONNX__TENSOR_PROTO__DATA_TYPE__INT64: return DT_I64;
    case ONNX__TENSOR_PROTO__DATA_TYPE__BOOL:  return DT_BOOL;
    default: return DT_NONE;
    }
}

const char *
onnx_dtype_name(int32_t t)
{
    if (t < 0 || (size_t)t >= sizeof onnx_type_names / sizeof onnx_type_names[0])
        return "?";
    return onnx_type_names[t];
}

enum { T_OK = 0, T_ERROR = -1, T_UNSUPPORTED = -2 };

/* The kiln type of t: rank, dims (>= 0; 0 = empty) and an overflow-free byte size. */
static int
tensor_type(const Onnx__TensorProto *t, TensorType *ty, int64_t *nbytes, char *err,
            size_t errlen)
{
    DType dt = onnx_dtype(t->data_type);
    if (!t->has_data_type || t->data_type == 0) {
        snprintf(err, errlen, "no element type");
        return T_ERROR;
    }
    if (dt == DT_NONE) {
        snprintf(err, errlen, "element type %s is not supported", onnx_dtype_name(t->data_type));
        return T_UNSUPPORTED;
    }
    if (t->segment) {
        snprintf(err, errlen, "segmented tensors are not supported");
        return T_UNSUPPORTED;
    }
    if (t->n_dims > KILN_MAX_RANK) {
        snprintf(err, errlen, "rank %zu exceeds the supported %d", t->n_dims, KILN_MAX_RANK);
        return T_UNSUPPORTED;
    }
    *ty = (TensorType){ .dtype = dt, .rank = (int)t->n_dims };
    for (size_t i = 0; i < t->n_dims; i++) {
        if (t->dims[i] < 0) {
            snprintf(err, errlen, "dim %zu is %lld, expected >= 0", i, (long long)t->dims[i]);
            return T_ERROR;
        }
        ty->dims[i] = t->dims[i];
    }
    if (ir_type_bytes(ty, nbytes) < 0 || (uint64_t)*nbytes > SIZE_MAX / 2) {
        snprintf(err, errlen, "shape overflows 64-bit sizes");
        return T_ERROR;
    }
    return T_OK;
}

static int
count_mismatch(char *err, size_t errlen, const char *field, size_t got, int64_t numel)
{
    snprintf(err, errlen, "%s holds %zu values, the shape needs %lld", field, got,
             (long long)numel);
    return T_ERROR;
}

/* Copies the typed repeated field of t into dst (numel elements of dtype dt). */
static int
typed_fill(const Onnx__TensorProto *t, DType dt, int64_t numel, void *dst, char *err,
           size_t errlen)
{
    switch (dt) {                      /* an empty tensor's fields may be NULL: no memcpy */
    case DT_F32:
        if (t->n_float_data != (size_t)numel)
            return count_mismatch(err, errlen, "float_data", t->n_float_data, numel);
        if (numel)
            memcpy(dst, t->float_data, (size_t)numel * 4);
        return T_OK;
    case DT_I64:
        if (t->n_int64_data != (size_t)numel)
            return count_mismatch(err, errlen, "int64_data", t->n_int64_data, numel);
        if (numel)
            memcpy(dst, t->int64_data, (size_t)numel * 8);
        return T_OK;
    default:
        break;
    }
    if (t->n_int32_data != (size_t)numel)
        return count_mismatch(err, errlen, "int32_data", t->n_int32_data, numel);
    for (int64_t i = 0; i < numel; i++) {
        int32_t v = t->int32_data[i];
        switch (dt) {
        case DT_I32: memcpy((char *)dst + 4 * i, &v, 4); break;
        case DT_I8:  ((int8_t *)dst)[i] = (int8_t)v; break;
        case DT_U8:  ((uint8_t *)dst)[i] = (uint8_t)v; break;
        default:     ((uint8_t *)dst)[i] = v != 0; break;       /* bool */
        }
    }
    return T_OK;
}

/* In-file bytes of t: a pointer into raw_data, or dst filled from the typed fields. */
static int
tensor_bytes(const Onnx__TensorProto *t, const TensorType *ty, int64_t nbytes, void *dst,
             const void **out, char *err, size_t errlen)
{
    int64_t numel;
    KILN_ASSERT(ir_type_numel(ty, &numel) == 0);
    if (t->has_raw_data) {
        if (t->raw_data.len != (size_t)nbytes) {
            snprintf(err, errlen, "raw_data holds %zu bytes, the shape needs %lld",
                     t->raw_data.len, (long long)nbytes);
            return T_ERROR;
        }
        *out = t->raw_data.data;       /* little-endian, as kiln's targets */
        if (ty->dtype == DT_BOOL) {    /* kiln bools are exactly 0 or 1 */
            for (int64_t i = 0; i < numel; i++)
                ((uint8_t *)dst)[i] = t->raw_data.data[i] != 0;
            *out = dst;
        }
        return T_OK;
    }
    *out = dst;
    return typed_fill(t, ty->dtype, numel, dst, err, errlen);
}

int
onnx_tensor_read(const Onnx__TensorProto *t, IrTensor *out, char *err, size_t errlen)
{
    int64_t nbytes;
    const void *src;
    memset(out, 0, sizeof *out);
    if (t->has_data_location && t->data_location == ONNX__TENSOR_PROTO__DATA_LOCATION__EXTERNAL) {
        snprintf(err, errlen, "external data is not supported here");
        return -1;
    }
    if (tensor_type(t, &out->type, &nbytes, err, errlen) != T_OK)
        return -1;
    out->data = malloc((size_t)nbytes ? (size_t)nbytes : 1);
    if (!out->data) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    if (tensor_bytes(t, &out->type, nbytes, out->data, &src, err, errlen) != T_OK) {
        ir_tensor_free(out);
        return -1;
    }
    if (src != out->data && nbytes)    /* an empty tensor's src may be NULL */
        memcpy(out->data, src, (size_t)nbytes);
    return 0;
}

/* ------------------------------------------------------------------ external data */

static int
ext_fail(Imp *im, const char *label, const char *fmt, const char *a)
{
    char msg[600];
    snprintf(msg, sizeof msg, fmt, a);
    return imp_fail(im, "%s: external data: %s", label, msg);
}

/* location must stay inside the model's folder: relative, no "..", no symlink out. */
static int
ext_path_ok(Imp *im, const char *label, const char *loc, const char *full)
{
    if (!loc[0])
        return ext_fail(im, label, "%sempty location", "");
    if (loc[0] == '/')
        return ext_fail(im, label, "absolute location '%s' is not allowed", loc);
    for (const char *p = loc; *p;) {
        size_t n = strcspn(p, "/");
        if (n == 2 && p[0] == '.' && p[1] == '.')
            return ext_fail(im, label, "location '%s' leaves the model's folder", loc);
        p += n + (p[n] == '/');
    }
    char *rdir = realpath(im->dir, NULL), *rfile = realpath(full, NULL);
    int rc = 0;
    if (!rfile) {
        char msg[300];
        snprintf(msg, sizeof msg, "cannot open '%s': %s", loc, strerror(errno));
        rc = ext_fail(im, label, "%s", msg);
    } else if (!rdir || strncmp(rfile, rdir, strlen(rdir)) != 0 ||
               (rfile[strlen(rdir)] != '/' && strcmp(rdir, "/") != 0)) {
        rc = ext_fail(im, label, "location '%s' resolves outside the model's folder", loc);
    }
    free(rdir);
    free(rfile);
    return rc;
}

/* The mapping of external file loc, mapped on first use (im->ext caches it). */
static ExtFile *
ext_map(Imp *im, const char *label, const char *loc)
{
    for (uint32_t i = 0; i < im->next; i++)
        if (strcmp(im->ext[i].path, loc) == 0)
            return &im->ext[i];
    const char *full = arena_printf(im->g->arena, "%s/%s", im->dir, loc);
    char err[300];
    kiln_file *f;
    if (ext_path_ok(im, label, loc, full) < 0)
        return NULL;
    if (kiln_file_map(full, &f, err, sizeof err) != KILN_OK) {
        ext_fail(im, label, "%s", err);
        return NULL;
    }
    im->ext = kiln_grow(im->ext, &im->capext, im->next + 1, sizeof *im->ext);
    im->ext[im->next] = (ExtFile){ arena_strdup(im->g->arena, loc), f, 0 };
    return &im->ext[im->next++];
}

void
onnx_ext_release(Imp *im)
{
    for (uint32_t i = 0; i < im->next; i++)
        if (!im->ext[i].handed)
            kiln_file_unmap(im->ext[i].file);
    free(im->ext);
    im->ext = NULL;
    im->next = im->capext = 0;
}

/* Parses a decimal size field of external_data. */
static int
ext_num(const char *s, int64_t *out)
{
    char *end;
    if (!s[0] || s[0] < '0' || s[0] > '9')
        return -1;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (*end || errno)
        return -1;
    *out = v;
    return 0;
}

static StorageId
ext_storage(Imp *im, const Onnx__TensorProto *t, const char *label, int64_t nbytes)
{
    const char *loc = NULL;
    int64_t off = 0, len = -1;
    for (size_t i = 0; i < t->n_external_data; i++) {
        const char *k = t->external_data[i]->key ? t->external_data[i]->key : "";
        const char *v = t->external_data[i]->value ? t->external_data[i]->value : "";
        if (strcmp(k, "location") == 0)
            loc = v;
        else if ((strcmp(k, "offset") == 0 && ext_num(v, &off) < 0) ||
                 (strcmp(k, "length") == 0 && ext_num(v, &len) < 0))
        {
            ext_fail(im, label, "bad %s", k);
            return 0;
        }
    }
    if (!loc) {
        ext_fail(im, label, "%sno location given", "");
        return 0;
    }
    if (len >= 0 && len != nbytes) {
        imp_fail(im, "%s: external data: length %lld, the shape needs %lld bytes", label,
                 (long long)len, (long long)nbytes);
        return 0;
    }
    ExtFile *ef = ext_map(im, label, loc);
    if (!ef)
        return 0;
    kiln_file *f = ef->file;
    size_t size = kiln_file_size(f);
    if ((uint64_t)off > size || (uint64_t)nbytes > size - (uint64_t)off) {
        imp_fail(im, "%s: external data: offset %lld + %lld bytes exceeds the %zu bytes of '%s'",
                 label, (long long)off, (long long)nbytes, size, loc);
        return 0;
    }
    const char *data = (const char *)kiln_file_data(f) + off;
    StorageId s = ir_storage_mem(im->g, NULL, 0);     /* a fresh slot, filled below */
    im->g->storage[s] = (Storage){
        .kind = STORE_FILE, .path = arena_strdup(im->g->arena, loc), .key = NULL,
        .file = ef->handed ? NULL : f, .data = data, .nbytes = (size_t)nbytes,
    };
    ef->handed = 1;                    /* the graph unmaps it now */
    if (off % 8)                       /* misaligned for wide types: take an aligned copy */
        return ir_storage_mem(im->g, data, (size_t)nbytes);
    return s;
}

/* ------------------------------------------------------------------ constants */

ValueId
onnx_tensor_const(Imp *im, const Onnx__TensorProto *t, const char *what)
{
    const char *label = arena_printf(im->g->arena, "%s '%s'", what, t->name ? t->name : "");
    TensorType ty;
    int64_t nbytes;
    char err[300];
    StorageId s;
    int rc = tensor_type(t, &ty, &nbytes, err, sizeof err);
    if (rc != T_OK) {
        if (rc == T_UNSUPPORTED)
            imp_unsupported(im, "%s: %s", label, err);
        else
            imp_fail(im, "%s: %s", label, err);
        return 0;
    }
    if (t->has_data_location && t->data_location == ONNX__TENSOR_PROTO__DATA_LOCATION__EXTERNAL) {
        if (!(s = ext_storage(im, t, label, nbytes)))
            return 0;
    } else {
        void *tmp = malloc(nbytes ? (size_t)nbytes : 1);
        const void *src;
        if (!tmp)
            kiln_die("out of memory for %lld bytes", (long long)nbytes);
        rc = tensor_bytes(t, &ty, nbytes, tmp, &src, err, sizeof err);
        if (rc == T_OK)
            s = ir_storage_mem(im->g, src, (size_t)nbytes);
        free(tmp);
        if (rc != T_OK) {
            imp_fail(im, "%s: %s", label, err);
            return 0;
        }
    }
    NodeId n = ir_const_new(im->g, &ty, s, im->loc);
    ValueId v = ir_node_out(im->g, n, 0);
    if (t->name && t->name[0])
        ir_value_set_name(im->g, v, t->name);
    return v;
}
