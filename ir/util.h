/* ir/util.h — internal invariants (never for user input) and small helpers shared by the
 * ir layer and, through ir.h users that include it, by passes and codegen. */
#ifndef KILN_UTIL_H
#define KILN_UTIL_H

#include <stdint.h>

/* Aborts with file and line: an internal bug, not a user error. */
_Noreturn void kiln_die_at(const char *file, int line, const char *fmt, ...);
#define kiln_die(...) kiln_die_at(__FILE__, __LINE__, __VA_ARGS__)
#define KILN_ASSERT(c) \
    ((c) ? (void)0 : kiln_die_at(__FILE__, __LINE__, "assertion failed: %s", #c))

/* Growable array of T in malloc memory: grows *arr to hold at least need elements. */
void *kiln_grow(void *arr, uint32_t *cap, uint32_t need, size_t elem);

#endif
