/* tools/outfile.c — all-or-nothing output: every file is written under a temporary name in
 * its final folder and renamed only once all of a command's files are complete, so a
 * failed command never leaves a partial or stale-looking output behind. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "tools.h"

static char *
xstrdup(const char *s)
{
    size_t n = strlen(s) + 1;
    char *p = malloc(n);
    if (p)
        memcpy(p, s, n);
    return p;
}

int
out_mkdirs_for(const char *path, Diag *d)
{
    SrcLoc loc = { path, 0, 0 };
    char *dir = xstrdup(path);
    if (!dir) {
        diag_error(d, loc, "out of memory");
        return -1;
    }
    char *slash = strrchr(dir, '/');
    int rc = 0;
    if (slash && slash != dir) {
        *slash = 0;
        for (char *p = dir + 1; rc == 0; p++) {
            int end = *p == 0;
            if (*p != '/' && !end)
                continue;
            *p = 0;
            if (mkdir(dir, 0777) != 0 && errno != EEXIST) {
                diag_error(d, loc, "cannot create folder '%s': %s", dir, strerror(errno));
                rc = -1;
            }
            if (end)
                break;
            *p = '/';
        }
    }
    free(dir);
    return rc;
}

int
out_open(OutFile *o, const char *path, Diag *d)
{
    SrcLoc loc = { path, 0, 0 };
    memset(o, 0, sizeof *o);
    struct stat sb;
    size_t n = strlen(path);
    if (n == 0 || path[n - 1] == '/' || (stat(path, &sb) == 0 && S_ISDIR(sb.st_mode))) {
        diag_error(d, loc, "cannot write '%s': expected a file name, got a folder", path);
        return -1;
    }
    o->path = path;
    o->tmp = malloc(n + sizeof ".tmpXXXXXX");
    if (!o->tmp) {
        diag_error(d, loc, "out of memory");
        out_abort(o, 1);
        return -1;
    }
    memcpy(o->tmp, path, n);
    memcpy(o->tmp + n, ".tmpXXXXXX", sizeof ".tmpXXXXXX");
    int fd = mkstemp(o->tmp);
    if (fd < 0 || !(o->f = fdopen(fd, "wb"))) {
        diag_error(d, loc, "cannot write '%s': %s", path, strerror(errno));
        if (fd >= 0) {
            close(fd);
            unlink(o->tmp);
        }
        free(o->tmp);
        o->tmp = NULL;
        out_abort(o, 1);
        return -1;
    }
    /* mkstemp creates 0600; outputs get the usual umask-filtered 0666 like any file. */
    mode_t mask = umask(0);
    umask(mask);
    fchmod(fd, 0666 & ~mask);
    return 0;
}

/* Frees o's names; the files themselves are handled by the caller. */
static void
release(OutFile *o)
{
    free(o->tmp);
    o->path = o->tmp = NULL;
    o->f = NULL;
}

void
out_abort(OutFile *o, int n)
{
    for (int i = 0; i < n; i++) {
        if (o[i].f)
            fclose(o[i].f);
        if (o[i].tmp)
            unlink(o[i].tmp);
        release(&o[i]);
    }
}

int
out_commit(OutFile *o, int n, Diag *d)
{
    int bad = -1, renamed = 0, err = 0;
    for (int i = 0; i < n && bad < 0; i++) {
        int ioerr = ferror(o[i].f);
        if (fclose(o[i].f) != 0 || ioerr) {
            bad = i;
            err = ioerr ? EIO : errno;
        }
        o[i].f = NULL;
    }
    for (int i = 0; i < n && bad < 0; i++) {
        if (rename(o[i].tmp, o[i].path) != 0) {
            bad = i;
            err = errno;
        } else {
            renamed++;
        }
    }
    if (bad >= 0) {
        SrcLoc loc = { o[bad].path, 0, 0 };
        diag_error(d, loc, "cannot write '%s': %s", o[bad].path, strerror(err));
    }
    for (int i = 0; i < n; i++) {
        if (o[i].f)
            fclose(o[i].f);
        /* all or nothing: files renamed before a failure are removed too */
        if (bad >= 0)
            unlink(i < renamed ? o[i].path : o[i].tmp);
        release(&o[i]);
    }
    return bad >= 0 ? -1 : 0;
}
