/* rt_internal.h — helpers shared between runtime source files; not installed, not part of
 * the public API (the public header is include/kiln_rt.h). */
#ifndef KILN_RT_INTERNAL_H
#define KILN_RT_INTERNAL_H

#include <stdint.h>
#include <stdio.h>

/* file.c */

/* Format a message into err (if err and errlen) and return status. */
int rt_err(char *err, size_t errlen, int status, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* Open path + ".tmp" for writing; *tmp gets the malloc'd tmp name.  NULL (with *status and
 * err set, *tmp freed) on failure. */
FILE *rt_tmp_open(const char *path, char **tmp, char *err, size_t errlen, int *status);

/* Finish a write begun by rt_tmp_open: flush, fsync, close and, if ok and all that worked,
 * rename tmp over path; otherwise remove tmp.  Frees tmp.  Returns a kiln_status. */
int rt_tmp_commit(FILE *fp, char *tmp, const char *path, int ok, char *err, size_t errlen);

/* Format dims as "4,8" into buf (truncated to fit). */
void rt_dims_str(char *buf, size_t cap, int rank, const int64_t *dims);

#endif /* KILN_RT_INTERNAL_H */
