/* ir/diag.c — user diagnostics accumulate with their locations; the CLI prints them in
 * "file:line:col: error: message" form with the source line and a caret (cproc, chibicc). */
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include "ir.h"
#include "util.h"

static const char *const level_name[] = { "error", "warning", "note" };

void
diag_init(Diag *d)
{
    memset(d, 0, sizeof *d);
}

void
diag_free(Diag *d)
{
    for (int i = 0; i < d->nmsg; i++)
        free(d->msg[i].msg);
    free(d->msg);
    memset(d, 0, sizeof *d);
}

static void
add(Diag *d, DiagLevel level, SrcLoc loc, const char *fmt, va_list ap)
{
    va_list ap2;
    va_copy(ap2, ap);
    int n = vsnprintf(NULL, 0, fmt, ap);
    char *msg = malloc((size_t)n + 1);
    if (!msg)
        kiln_die("out of memory");
    vsnprintf(msg, (size_t)n + 1, fmt, ap2);
    va_end(ap2);
    if (d->nmsg == d->capmsg) {
        d->capmsg = d->capmsg ? 2 * d->capmsg : 8;
        d->msg = realloc(d->msg, (size_t)d->capmsg * sizeof *d->msg);
        if (!d->msg)
            kiln_die("out of memory");
    }
    d->msg[d->nmsg++] = (DiagMsg){ level, loc, msg };
    if (level == DIAG_ERROR)
        d->nerror++;
}

#define DIAG_FN(fn, level)                               \
    void fn(Diag *d, SrcLoc loc, const char *fmt, ...)   \
    {                                                    \
        va_list ap;                                      \
        va_start(ap, fmt);                               \
        add(d, level, loc, fmt, ap);                     \
        va_end(ap);                                      \
    }
DIAG_FN(diag_error, DIAG_ERROR)
DIAG_FN(diag_warn, DIAG_WARNING)
DIAG_FN(diag_note, DIAG_NOTE)

/* Prints line `line` of `file` and a caret under column `col`; silent if unreadable. */
static void
print_source_line(FILE *out, const char *file, int line, int col)
{
    FILE *f = fopen(file, "r");
    if (!f)
        return;
    char buf[1024];
    int cur = 1, found = 0;
    while (fgets(buf, sizeof buf, f)) {
        if (cur == line) {
            found = 1;
            break;
        }
        if (strchr(buf, '\n'))
            cur++;
    }
    fclose(f);
    if (!found)
        return;
    buf[strcspn(buf, "\n")] = 0;
    fprintf(out, "%s\n", buf);
    for (int i = 1; i < col && buf[i - 1]; i++)
        fputc(buf[i - 1] == '\t' ? '\t' : ' ', out);
    fputs("^\n", out);
}

int
diag_print(const Diag *d, FILE *out)
{
    for (int i = 0; i < d->nmsg; i++) {
        const DiagMsg *m = &d->msg[i];
        if (m->loc.file && m->loc.line > 0)
            fprintf(out, "%s:%d:%d: ", m->loc.file, m->loc.line, m->loc.col);
        else if (m->loc.file)
            fprintf(out, "%s: ", m->loc.file);
        fprintf(out, "%s: %s\n", level_name[m->level], m->msg);
        if (m->loc.file && m->loc.line > 0 && m->loc.col > 0)
            print_source_line(out, m->loc.file, m->loc.line, m->loc.col);
    }
    return d->nerror;
}
