/* passes/memplan.c — static memory planning: every intermediate tensor gets an offset in
 * one arena, tensors whose lifetimes overlap never share bytes.
 * requires: shapes   provides: plan   preserves: shapes, plan   breaks: -
 * Approach: F_VIEW results alias their operand, so lifetimes are computed per root (the
 * value a chain of views starts from): from the defining node's position through the last
 * position reading the root or any view of it, both ends inclusive, so a result never
 * overlaps an operand its own node reads.  Roots are placed largest first (ties by value
 * id, so plans are deterministic) at the best-fitting gap among the already placed roots
 * whose lifetimes overlap.  The contract on Value.offset is spelled out in passes.h. */
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include "passes.h"
#include "util.h"

enum { ALIGN_MIN = 64, ALIGN_MAX = 4096, LIST_MAX = 8 };
#define MAX_VALUE_BYTES ((int64_t)1 << 40)   /* 1 TiB: 2^22 of them still sum in int64 */

typedef struct {
    ValueId *root;           /* per value: the value whose bytes it shares (itself if none) */
    uint8_t *ext;            /* per root: lives outside the arena (input, const, output) */
    int64_t *first, *last;   /* per root: schedule positions of definition and last read */
    int64_t *size;           /* per root: bytes rounded up to the alignment */
    int64_t *off;            /* per root: arena offset once placed, else -1 */
    ValueId *cand;           /* roots to place, in placement order */
    uint32_t ncand;          /* entries of cand */
} Plan;

static void
lifetimes(const Graph *g, Plan *p)
{
    for (ValueId v = 1; v < g->nvalue; v++)
        p->root[v] = v;
    for (int k = 0; k < g->ninput; k++)
        p->ext[g->inputs[k]] = 1;
    for (uint32_t i = 0; i < g->norder; i++) {
        const Node *nd = &g->nodes[g->order[i]];
        for (int k = 0; k < nd->nin; k++)
            p->last[p->root[nd->in[k]]] = i;
        for (int k = 0; k < nd->nout; k++) {
            ValueId v = nd->out[k];
            if ((op_flags[nd->op] & F_VIEW) && nd->nin >= 1) {
                p->root[v] = p->root[nd->in[0]];
                continue;
            }
            p->first[v] = p->last[v] = i;
            p->ext[v] = nd->op == OP_CONST;
        }
    }
    for (int k = 0; k < g->noutput; k++)
        p->ext[p->root[g->outputs[k].value]] = 1;
}

/* 1 when root x is placed after root y: larger first, then lower value id. */
static int
placed_after(const Plan *p, ValueId x, ValueId y)
{
    return p->size[x] != p->size[y] ? p->size[x] < p->size[y] : x > y;
}

/* Insertion sort: qsort has no context argument in C11 and plans are small. */
static void
sort_values(ValueId *v, uint32_t n, const Plan *p)
{
    for (uint32_t i = 1; i < n; i++) {
        ValueId x = v[i];
        uint32_t j = i;
        for (; j > 0 && placed_after(p, v[j - 1], x); j--)
            v[j] = v[j - 1];
        v[j] = x;
    }
}

/* "%name", or "unnamed <op>" since the printer numbers unnamed values by its own count. */
static const char *
vname(const Graph *g, ValueId v, char *buf, size_t len)
{
    if (g->values[v].name)
        snprintf(buf, len, "%%%s", g->values[v].name);
    else
        snprintf(buf, len, "unnamed %s", op_name[g->nodes[g->values[v].def].op]);
    return buf;
}

/* Gathers the roots to place with their aligned sizes; -1 (reported) when one is too big
 * to plan, which keeps every offset sum far from int64 overflow. */
static int
collect(PassCtx *pc, const Graph *g, Plan *p, int64_t align)
{
    for (uint32_t i = 0; i < g->norder; i++) {
        const Node *nd = &g->nodes[g->order[i]];
        for (int k = 0; k < nd->nout; k++) {
            ValueId v = nd->out[k];
            int64_t bytes;
            if (p->root[v] != v || p->ext[v])
                continue;
            if (ir_type_bytes(&g->values[v].type, &bytes) < 0 || bytes > MAX_VALUE_BYTES) {
                char nm[128], ty[128];
                diag_error(pc->d, nd->loc, "memplan: %s %s is larger than the %lld bytes one "
                           "tensor may take", vname(g, v, nm, sizeof nm),
                           ir_type_str(&g->values[v].type, ty, sizeof ty),
                           (long long)MAX_VALUE_BYTES);
                return -1;
            }
            p->size[v] = (bytes + align - 1) / align * align;
            p->cand[p->ncand++] = v;
        }
    }
    sort_values(p->cand, p->ncand, p);
    return 0;
}

static int
by_offset(const void *a, const void *b)
{
    const int64_t *x = a, *y = b;
    return (x[0] > y[0]) - (x[0] < y[0]);
}

/* Best-fit offset for root v among the placed roots live at the same time. */
static int64_t
best_fit(const Plan *p, uint32_t nplaced, ValueId v, int64_t (*busy)[2])
{
    uint32_t nb = 0;
    for (uint32_t i = 0; i < nplaced; i++) {
        ValueId u = p->cand[i];
        if (p->first[u] <= p->last[v] && p->first[v] <= p->last[u]) {
            busy[nb][0] = p->off[u];
            busy[nb++][1] = p->off[u] + p->size[u];
        }
    }
    qsort(busy, nb, sizeof *busy, by_offset);
    int64_t cursor = 0, best = -1, best_gap = INT64_MAX;
    for (uint32_t i = 0; i < nb; i++) {
        int64_t gap = busy[i][0] - cursor;
        if (gap >= p->size[v] && gap < best_gap) {
            best = cursor;
            best_gap = gap;
        }
        if (busy[i][1] > cursor)
            cursor = busy[i][1];
    }
    return best >= 0 ? best : cursor;
}

static int64_t
place_all(Plan *p, Arena *scratch)
{
    int64_t (*busy)[2] = arena_alloc(scratch, (size_t)(p->ncand + 1) * sizeof *busy);
    int64_t top = 0;
    for (uint32_t i = 0; i < p->ncand; i++) {
        ValueId v = p->cand[i];
        p->off[v] = best_fit(p, i, v, busy);
        if (p->off[v] + p->size[v] > top)
            top = p->off[v] + p->size[v];
    }
    return top;
}

/* Schedule position with the most live arena bytes (the first such); *bytes gets the sum. */
static uint32_t
peak(const Graph *g, const Plan *p, Arena *scratch, int64_t *bytes)
{
    int64_t *delta = arena_alloc(scratch, (size_t)(g->norder + 1) * sizeof *delta);
    for (uint32_t i = 0; i < p->ncand; i++) {
        delta[p->first[p->cand[i]]] += p->size[p->cand[i]];
        delta[p->last[p->cand[i]] + 1] -= p->size[p->cand[i]];
    }
    int64_t live = 0;
    uint32_t at = 0;
    *bytes = 0;
    for (uint32_t i = 0; i < g->norder; i++) {
        live += delta[i];
        if (live > *bytes) {
            *bytes = live;
            at = i;
        }
    }
    return at;
}

static const char *
human(char *buf, size_t len, int64_t n)
{
    if (n >= 1 << 20)
        snprintf(buf, len, "%.1f MiB", (double)n / (1 << 20));
    else if (n >= 1 << 10)
        snprintf(buf, len, "%.1f KiB", (double)n / (1 << 10));
    else
        snprintf(buf, len, "%lld B", (long long)n);
    return buf;
}


/* Appends to a bounded message; truncates rather than overflowing. */
static void
put(char *buf, size_t cap, size_t *n, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int w = vsnprintf(buf + *n, cap - *n, fmt, ap);
    va_end(ap);
    if (w > 0)
        *n = *n + (size_t)w < cap ? *n + (size_t)w : cap - 1;
}

/* The over-limit error: total, limit, the peak node and what is alive there. */
static void
too_big(PassCtx *pc, const Graph *g, const Plan *p, int64_t total, uint32_t at)
{
    const Node *nd = &g->nodes[g->order[at]];
    char hb[32], nm[128], ty[128];
    size_t cap = 1024 + (size_t)LIST_MAX * 300, n = 0;
    char *msg = arena_alloc(pc->scratch, cap);
    put(msg, cap, &n, "memplan: arena needs %s (%lld bytes), limit is %lld; alive at the peak "
        "(after ", human(hb, sizeof hb, total), (long long)total, (long long)pc->opt->max_arena);
    if (nd->nout > 0 && g->values[nd->out[0]].name)
        put(msg, cap, &n, "%s = ", vname(g, nd->out[0], nm, sizeof nm));
    put(msg, cap, &n, "%s", op_name[nd->op]);
    if (nd->loc.file)
        put(msg, cap, &n, " at %s:%d:%d", nd->loc.file, nd->loc.line, nd->loc.col);
    put(msg, cap, &n, "):");
    uint32_t shown = 0, alive = 0;
    for (uint32_t i = 0; i < p->ncand; i++) {     /* cand is sorted largest first */
        ValueId v = p->cand[i];
        if (p->first[v] > at || p->last[v] < at)
            continue;
        alive++;
        if (shown++ >= LIST_MAX)
            continue;
        int64_t bytes = 0;
        ir_type_bytes(&g->values[v].type, &bytes);
        put(msg, cap, &n, "%s %s %s %lld B", shown > 1 ? "," : "", vname(g, v, nm, sizeof nm),
            ir_type_str(&g->values[v].type, ty, sizeof ty), (long long)bytes);
    }
    if (alive > LIST_MAX)
        put(msg, cap, &n, ", and %u more", alive - LIST_MAX);
    diag_error(pc->d, nd->loc, "%s", msg);
}

static Plan
plan_new(const Graph *g, Arena *a)
{
    Plan p = { 0 };
    size_t nv = g->nvalue;
    p.root = arena_alloc(a, nv * sizeof *p.root);
    p.ext = arena_alloc(a, nv);
    p.first = arena_alloc(a, nv * sizeof *p.first);
    p.last = arena_alloc(a, nv * sizeof *p.last);
    p.size = arena_alloc(a, nv * sizeof *p.size);
    p.off = arena_alloc(a, nv * sizeof *p.off);
    for (size_t v = 0; v < nv; v++)
        p.off[v] = -1;
    p.cand = arena_alloc(a, nv * sizeof *p.cand);
    return p;
}

int
pass_memplan(PassCtx *pc, Graph *g)
{
    int64_t align = pass_arg(pc, "align", ALIGN_MIN);
    if (align < ALIGN_MIN || align > ALIGN_MAX || (align & (align - 1))) {
        diag_error(pc->d, (SrcLoc){ 0 }, "memplan{align=%lld}: expected a power of two from "
                   "%d to %d, got %lld", (long long)align, ALIGN_MIN, ALIGN_MAX, (long long)align);
        return -1;
    }
    Plan p = plan_new(g, pc->scratch);
    lifetimes(g, &p);
    if (collect(pc, g, &p, align) < 0)
        return -1;
    int64_t total = place_all(&p, pc->scratch), peak_bytes;
    uint32_t at = peak(g, &p, pc->scratch, &peak_bytes);
    if (pc->opt->max_arena > 0 && total > pc->opt->max_arena) {
        too_big(pc, g, &p, total, at);
        return -1;
    }
    for (ValueId v = 1; v < g->nvalue; v++) {
        ValueId r = p.root[v];
        /* a zero-byte root is placed too (size 0: it takes no bytes, overlaps nothing) */
        int placed = !p.ext[r] && p.off[r] >= 0 && g->values[v].def;
        g->values[v].offset = placed ? p.off[r] : -1;
    }
    g->arena_bytes = total;
    g->planned = 1;
    pass_stat(pc, "arena_bytes", total);
    pass_stat(pc, "values", p.ncand);
    pass_stat(pc, "peak_bytes", peak_bytes);
    pass_stat(pc, "peak_node", p.ncand ? g->order[at] : 0);
    return 0;
}
