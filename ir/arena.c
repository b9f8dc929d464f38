/* ir/arena.c — bump allocator: IR nodes, strings and attribute arrays are carved from
 * large blocks and freed all at once (QBE pools, ggml contexts). */
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include "ir.h"
#include "util.h"

enum { BLOCK_MIN = 64 * 1024, ALIGN = 16 };

typedef struct Block {
    struct Block *next;      /* older block */
    size_t        size;      /* usable bytes after the header */
    size_t        used;      /* bytes handed out */
} Block;

struct Arena {
    Block *head;             /* newest block, allocations come from here */
};

static size_t
hdr_size(void)
{
    return (sizeof(Block) + ALIGN - 1) & ~(size_t)(ALIGN - 1);
}

static Block *
block_new(size_t size, Block *next)
{
    Block *b = malloc(hdr_size() + size);
    if (!b)
        kiln_die("out of memory allocating %zu bytes", size);
    b->next = next;
    b->size = size;
    b->used = 0;
    return b;
}

Arena *
arena_new(void)
{
    Arena *a = calloc(1, sizeof *a);
    if (!a)
        kiln_die("out of memory");
    a->head = block_new(BLOCK_MIN, NULL);
    return a;
}

void
arena_free(Arena *a)
{
    if (!a)
        return;
    for (Block *b = a->head, *next; b; b = next) {
        next = b->next;
        free(b);
    }
    free(a);
}

void *
arena_alloc(Arena *a, size_t n)
{
    n = (n + ALIGN - 1) & ~(size_t)(ALIGN - 1);
    if (n == 0)
        n = ALIGN;
    if (a->head->used + n > a->head->size)
        a->head = block_new(n > BLOCK_MIN ? n : BLOCK_MIN, a->head);
    char *p = (char *)a->head + hdr_size() + a->head->used;
    a->head->used += n;
    memset(p, 0, n);
    return p;
}

char *
arena_strdup(Arena *a, const char *s)
{
    if (!s)
        return NULL;
    size_t n = strlen(s) + 1;
    char *p = arena_alloc(a, n);
    memcpy(p, s, n);
    return p;
}

char *
arena_printf(Arena *a, const char *fmt, ...)
{
    va_list ap, ap2;
    va_start(ap, fmt);
    va_copy(ap2, ap);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    char *p = arena_alloc(a, (size_t)n + 1);
    vsnprintf(p, (size_t)n + 1, fmt, ap2);
    va_end(ap2);
    return p;
}

void
arena_reset(Arena *a)
{
    Block *b = a->head;
    while (b->next) {
        Block *older = b->next;
        b->next = older->next;
        free(older);
    }
    b->used = 0;
}
