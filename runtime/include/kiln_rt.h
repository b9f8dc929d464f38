/* kiln_rt.h — public interface of libkilnrt, the runtime linked into generated models.
 * Depends on nothing else of kiln: generated C plus `-lkilnrt -lopenblas` builds alone.
 *
 * Conventions (whole header):
 * - Functions returning `int` return a kiln_status: KILN_OK (0) on success, a positive code
 *   on failure.  Nothing here exits or aborts on bad input.
 * - `char *err, size_t errlen` receive a one-line message on failure (lowercase, no final
 *   period, expected vs seen).  err may be NULL or errlen 0 to discard it; the message is
 *   truncated to fit and always NUL-terminated when errlen > 0.
 * - All memory is caller-owned unless a function says it allocates; parsers return views
 *   that point into the caller's buffer and copy nothing.
 * - No mutable globals beyond one-time CPU/BLAS detection (pthread_once); every function is
 *   safe to call from several threads at once on distinct outputs.
 */
#ifndef KILN_RT_H
#define KILN_RT_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define KILN_MAX_RANK 8 /* most dimensions any runtime tensor may have */

/* Status codes returned by every fallible runtime function. */
typedef enum {
    KILN_OK = 0,       /* success */
    KILN_EINVAL,       /* bad argument or a named thing is absent */
    KILN_ENOMEM,       /* allocation failed */
    KILN_EIO,          /* open/read/write/mmap/rename failed (errno text in message) */
    KILN_EFORMAT,      /* malformed file contents (bad magic, bad header, sizes disagree) */
    KILN_ERANGE,       /* negative dimension, arithmetic overflow, or value out of range */
    KILN_EUNSUPPORTED, /* well-formed but not handled (big-endian, fortran order, dtype) */
    KILN_STATUS_COUNT  /* number of codes; not a status */
} kiln_status;

/* Element types.  KEEP-IN-SYNC(dtype): the IR's DType enum mirrors this order exactly. */
typedef enum {
    KILN_DT_NONE = 0, /* unknown / not yet inferred; size 0 */
    KILN_DT_F32,      /* IEEE-754 binary32, 4 bytes */
    KILN_DT_I32,      /* int32_t, 4 bytes */
    KILN_DT_I64,      /* int64_t, 8 bytes */
    KILN_DT_I8,       /* int8_t, 1 byte */
    KILN_DT_U8,       /* uint8_t, 1 byte */
    KILN_DT_BOOL,     /* 1 byte, 0 = false, 1 = true */
    KILN_DT_COUNT     /* number of dtypes; not a dtype */
} kiln_dtype;

/* A typed, dense, C-order (row-major) tensor view over memory someone else owns. */
typedef struct {
    kiln_dtype  dtype;               /* element type; never KILN_DT_NONE in a parsed view */
    int         rank;                /* 0..KILN_MAX_RANK; 0 = scalar (one element) */
    int64_t     dims[KILN_MAX_RANK]; /* elements per dim, outermost first; dims[rank..] = 0 */
    const void *data;                /* first element; alignment is that of buffer+offset, so
                                      * only as aligned as the buffer given to the parser
                                      * (mmap'd files: page-aligned base) */
    size_t      nbytes;              /* numel * dtype size, exactly */
} kiln_view;

/* Opaque read-only memory mapping of a whole file (file.c). */
typedef struct kiln_file kiln_file;

/* One slice of a parallel loop: process indices [begin, end) of the range given to
 * kiln_parallel_for.  arg is passed through unchanged. */
typedef void (*kiln_task_fn)(void *arg, int64_t begin, int64_t end);

/* A parallel-for implementation: must call fn on disjoint slices covering [0, n) exactly
 * once and return only after all slices have finished.  ctx is its own state. */
typedef void (*kiln_parallel_for_fn)(void *ctx, int64_t n, kiln_task_fn fn, void *arg);

/* How a model run may use threads.  Zero-initialised = serial, built-in everything. */
typedef struct {
    int                  nthreads;     /* 0 or 1 = serial; >1 = split loops this many ways */
    kiln_parallel_for_fn parallel_for; /* NULL = built-in; else every parallel loop goes here
                                        * (e.g. kiln_pool_parallel_for, or the app's own pool) */
    void                *parallel_ctx; /* passed as ctx to parallel_for (e.g. a kiln_pool *) */
} kiln_run_opts;

/* A persistent pthread pool (pool.c).  Opaque. */
typedef struct kiln_pool kiln_pool;

/* status.c */

/* Short fixed description of a status code ("ok", "invalid argument", ...).  Never NULL:
 * unknown codes give "unknown status". */
const char *kiln_status_str(int status);

/* Size in bytes of one element; 0 for KILN_DT_NONE and out-of-range values. */
size_t kiln_dtype_size(kiln_dtype dt);

/* Lowercase name: "f32", "i32", "i64", "i8", "u8", "bool"; "none" for KILN_DT_NONE and
 * "?" for out-of-range values.  Never NULL. */
const char *kiln_dtype_name(kiln_dtype dt);

/* *out = product of dims[0..rank).  rank 0 gives 1.  Returns KILN_EINVAL if rank is outside
 * 0..KILN_MAX_RANK (or dims/out NULL when needed), KILN_ERANGE on a negative dim or int64
 * overflow; *out is untouched on failure. */
int kiln_shape_numel(int rank, const int64_t *dims, int64_t *out);

/* file.c */

/* Map the whole file at path read-only.  On success *out owns the mapping (free with
 * kiln_file_unmap).  An empty file succeeds with size 0 and a non-NULL data pointer that
 * must not be read.  KILN_EIO for open/stat/mmap failures or a non-regular file. */
int kiln_file_map(const char *path, kiln_file **out, char *err, size_t errlen);

/* Unmap and free.  NULL is a no-op.  Views into the mapping become dangling. */
void kiln_file_unmap(kiln_file *f);

/* First byte of the mapping (page-aligned) and its length in bytes. */
const void *kiln_file_data(const kiln_file *f);
size_t kiln_file_size(const kiln_file *f);

/* npy.c */

/* Parse a whole .npy file image (format v1.0, v2.0, v3.0) held in buf[0..len).
 * Accepted dtypes: <f4 <i4 <i8 |i1 |u1 |b1 (the one-byte ones also with '<').
 * C order only: fortran_order True gives KILN_EUNSUPPORTED, as do big-endian and other
 * dtypes.  The header must lie inside buf, and the data after it must be exactly
 * numel * size bytes: fewer or more is KILN_EFORMAT, shape overflow KILN_ERANGE.
 * On success out->data points into buf.  Never reads outside buf[0..len). */
int kiln_npy_parse(const void *buf, size_t len, kiln_view *out, char *err, size_t errlen);

/* Write v as a v1.0 .npy file.  Writes path + ".tmp" then renames it over path, so a
 * failure never leaves a half-written path (the .tmp is removed).  v->nbytes must equal
 * numel * dtype size (else KILN_EINVAL).  KILN_EIO on any file-system error. */
int kiln_npy_write(const char *path, const kiln_view *v, char *err, size_t errlen);

/* safetensors.c */

/* Safetensors image in buf[0..len): 8-byte little-endian header length H, then H bytes of
 * JSON (H <= 100 MB and inside buf), then the data area.  Each tensor entry is
 *   "name": {"dtype": "F32"|"I32"|"I64"|"I8"|"U8"|"BOOL", "shape": [..],
 *            "data_offsets": [begin, end]}
 * with offsets relative to byte 8 + H, inside buf, and end - begin == numel * size.
 * The "__metadata__" entry is skipped and unknown fields inside an entry are ignored.
 * Names are compared after JSON unescaping.  Views point into buf.  Never reads outside
 * buf[0..len), whatever the file claims.  Failures: KILN_EFORMAT (bad JSON, bad offsets,
 * size/shape mismatch, truncated), KILN_EUNSUPPORTED (other dtypes), KILN_ERANGE (rank
 * above KILN_MAX_RANK, overflow). */

/* Find tensor `name`.  KILN_EINVAL with message "no tensor 'name'" when absent.
 * Only the found entry's offsets and sizes are checked against the data area. */
int kiln_st_find(const void *buf, size_t len, const char *name, kiln_view *out,
                 char *err, size_t errlen);

/* *n = number of tensor entries (excluding __metadata__).  Checks the whole header's JSON
 * syntax, not each entry's sizes. */
int kiln_st_count(const void *buf, size_t len, int *n, char *err, size_t errlen);

/* Entry i (0-based, header order, __metadata__ excluded): its unescaped name is copied to
 * name[0..namelen) (KILN_ERANGE if it does not fit with its NUL; name may be NULL when
 * namelen is 0 to skip it) and its checked view to *out.  KILN_EINVAL if i is out of
 * range.  Each call rescans the header: enumerating n tensors costs O(n * header size). */
int kiln_st_entry(const void *buf, size_t len, int i, char *name, size_t namelen,
                  kiln_view *out, char *err, size_t errlen);

/* Write n tensors (names[i] -> views[i], data stored in that order) as a safetensors file,
 * header padded with spaces to a multiple of 8.  Writes path + ".tmp" then renames.
 * KILN_EINVAL for duplicate or empty names, NULL data with nbytes > 0, or nbytes that
 * disagree with the shape; KILN_EIO on file-system errors. */
int kiln_st_write(const char *path, int n, const char *const *names, const kiln_view *views,
                  char *err, size_t errlen);

/* pool.c */

/* Run fn over [0, n) according to opts:
 * - opts NULL, or nthreads <= 1 with no hook: one inline call fn(arg, 0, n);
 * - opts->parallel_for set: opts->parallel_for(opts->parallel_ctx, n, fn, arg);
 * - nthreads > 1 without hook: spawns min(nthreads, n, 64) - 1 pthreads for this call only and
 *   runs the first slice on the calling thread (costs tens of microseconds per call; a
 *   long-lived app should pass a kiln_pool as the hook instead).  If a thread cannot be
 *   created its slice runs inline.
 * n <= 0 does nothing.  Slices are contiguous and near-equal. */
void kiln_parallel_for(const kiln_run_opts *opts, int64_t n, kiln_task_fn fn, void *arg);

/* New pool running loops nthreads ways (nthreads - 1 workers plus the calling thread).
 * NULL if nthreads < 1 or on allocation / thread-creation failure. */
kiln_pool *kiln_pool_new(int nthreads);

/* Stop and join the workers, then free.  NULL is a no-op.  No loop may be running. */
void kiln_pool_free(kiln_pool *pool);

/* kiln_parallel_for_fn over a kiln_pool: ctx is the kiln_pool *.  Calls from several
 * threads at once are safe; a call made while the pool is busy (another thread's loop, or
 * a nested call from inside a task) runs fn(arg, 0, n) inline instead of waiting. */
void kiln_pool_parallel_for(void *ctx, int64_t n, kiln_task_fn fn, void *arg);

/* blas.c — the only file that talks to OpenBLAS */

/* Row-major C = alpha * op(A) * op(B) + beta * C with op(A) m x k, op(B) k x n, C m x n.
 * trans_a/trans_b nonzero = use the transpose of the stored matrix (A stored k x m).
 * beta == 0 overwrites C without reading it (NaNs in C do not propagate).  m, n or k == 0
 * is fine.  Dimensions beyond OpenBLAS's int range fall back to a slow plain loop.
 * Calls kiln_blas_check() first. */
void kiln_sgemm(int trans_a, int trans_b, int64_t m, int64_t n, int64_t k, float alpha,
                const float *a, int64_t lda, const float *b, int64_t ldb, float beta,
                float *c, int64_t ldc);

/* One-time check (pthread_once) that OpenBLAS picked a kernel matching this CPU.  If it
 * reports a pre-AVX2 core (Debian's 0.3.21 says "Prescott" on recent CPUs) while the CPU
 * supports avx512f or avx2, prints once to stderr, e.g.
 *   kiln: warning: OpenBLAS uses core 'Prescott' but this CPU supports avx512f;
 *   set OPENBLAS_CORETYPE=SkylakeX (or Haswell) for full speed
 * (on one line).  Never fails. */
void kiln_blas_check(void);

/* OpenBLAS's name for the kernel core it uses, e.g. "Haswell".  Never NULL. */
const char *kiln_blas_corename(void);

#ifdef __cplusplus
}
#endif

#include "kiln_kernels.h"

#endif /* KILN_RT_H */
