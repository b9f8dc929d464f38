/* file.c — read-only whole-file memory mappings, plus the runtime's internal error
 * formatter and atomic-write helpers shared by npy.c and safetensors.c. */
#ifndef _POSIX_C_SOURCE
#define _POSIX_C_SOURCE 200809L /* fsync, fileno, O_CLOEXEC */
#endif
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "kiln_rt.h"
#include "rt_internal.h"

struct kiln_file {
    const void *data; /* mapping base; points at `empty` for a 0-byte file */
    size_t size;      /* file length in bytes */
    int mapped;       /* 1 if data must be munmap'd */
};

/* Stand-in data pointer for empty files, so callers never see NULL. */
static const char empty[1];

int
rt_err(char *err, size_t errlen, int status, const char *fmt, ...)
{
    va_list ap;

    if (err && errlen > 0) {
        va_start(ap, fmt);
        vsnprintf(err, errlen, fmt, ap);
        va_end(ap);
    }
    return status;
}

int
kiln_file_map(const char *path, kiln_file **out, char *err, size_t errlen)
{
    struct stat st;
    kiln_file *f;
    void *p;
    int fd;

    if (!path || !out)
        return rt_err(err, errlen, KILN_EINVAL, "kiln_file_map: NULL path or out");
    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return rt_err(err, errlen, KILN_EIO, "%s: cannot open: %s", path, strerror(errno));
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || (uintmax_t)st.st_size > SIZE_MAX) {
        int e = errno;
        close(fd);
        return rt_err(err, errlen, KILN_EIO, "%s: expected a regular file: %s", path,
                      S_ISREG(st.st_mode) ? strerror(e) : "not a regular file");
    }
    f = calloc(1, sizeof *f);
    if (!f) {
        close(fd);
        return rt_err(err, errlen, KILN_ENOMEM, "%s: out of memory", path);
    }
    f->size = (size_t)st.st_size;
    f->data = empty;
    if (f->size > 0) {
        p = mmap(NULL, f->size, PROT_READ, MAP_PRIVATE, fd, 0);
        if (p == MAP_FAILED) {
            int e = errno;
            close(fd);
            free(f);
            return rt_err(err, errlen, KILN_EIO, "%s: cannot mmap: %s", path, strerror(e));
        }
        f->data = p;
        f->mapped = 1;
    }
    close(fd); /* the mapping keeps the file alive */
    *out = f;
    return KILN_OK;
}

void
kiln_file_unmap(kiln_file *f)
{
    if (!f)
        return;
    if (f->mapped)
        munmap((void *)f->data, f->size);
    free(f);
}

const void *
kiln_file_data(const kiln_file *f)
{
    return f->data;
}

size_t
kiln_file_size(const kiln_file *f)
{
    return f->size;
}

FILE *
rt_tmp_open(const char *path, char **tmp, char *err, size_t errlen, int *status)
{
    size_t n = strlen(path) + sizeof ".tmp";
    FILE *fp;

    *tmp = malloc(n);
    if (!*tmp) {
        *status = rt_err(err, errlen, KILN_ENOMEM, "%s: out of memory", path);
        return NULL;
    }
    snprintf(*tmp, n, "%s.tmp", path);
    fp = fopen(*tmp, "wb");
    if (!fp) {
        *status = rt_err(err, errlen, KILN_EIO, "%s: cannot create: %s", *tmp, strerror(errno));
        free(*tmp);
        *tmp = NULL;
    }
    return fp;
}

int
rt_tmp_commit(FILE *fp, char *tmp, const char *path, int ok, char *err, size_t errlen)
{
    int status = KILN_OK;

    /* a write error may only surface at flush/fsync/close, so check each */
    if (ok && (fflush(fp) != 0 || ferror(fp) || fsync(fileno(fp)) != 0))
        ok = 0;
    if (fclose(fp) != 0)
        ok = 0;
    if (!ok)
        status = rt_err(err, errlen, KILN_EIO, "%s: write failed: %s", tmp, strerror(errno));
    else if (rename(tmp, path) != 0)
        status = rt_err(err, errlen, KILN_EIO, "%s: cannot rename to %s: %s", tmp, path,
                        strerror(errno));
    if (status != KILN_OK)
        remove(tmp);
    free(tmp);
    return status;
}
