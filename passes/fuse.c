/* passes/fuse.c — fuse elementwise chains into their producer's kernel.
 * requires: shapes   preserves: shapes   breaks: plan
 * A host is an F_EPI_HOST node (matmul, conv2d; fuse{epilogues=0} turns these off) or an
 * F_ELTWISE node (fuse{chains=0} turns these off).  When the host's one result has exactly
 * one reader, that reader is F_ELTWISE with no epilogue of its own, and its result type
 * equals the host's (so the other operand only broadcasts into it), the reader becomes an
 * EpiStep of the host: a binary reader's other operand is appended to the host's operands
 * (always appended, so the operands past the op's own are exactly the epilogue arguments),
 * the reader's result uses move to the host's result, which takes the reader's name, and
 * the reader dies.  The host then takes the reader's place in the schedule, where every
 * epilogue operand is already computed.  Never across an exit_if barrier; never when the
 * host result is also a graph output.  Repeats per host to a fixpoint, so bias, relu and
 * residual add all land in one matmul/conv.
 * Approach (linear in graph size): hosts are visited once in schedule order and each absorbs
 * its whole chain in one go.  The barrier test is a difference of prefix counts (control nodes
 * never move); moved uses are recorded as aliases and rewritten in one sweep at the end; the
 * chain's steps and operands collect in growable buffers and reach the host once. */
#include <stdlib.h>
#include <string.h>
#include "passes.h"
#include "util.h"

typedef struct {
    uint32_t *uses;          /* per value: operand slots + output slots reading it */
    NodeId   *user;          /* per value: a node reading it (the one, when uses == 1) */
    uint32_t *pos;           /* per node: index in g->order (a host's is stale mid-chain) */
    uint32_t *nctl;          /* per order slot p, 0..norder: F_CONTROL nodes in slots < p */
    ValueId  *alias;         /* per value: the value its uses moved to, 0 if none */
    int       epilogues;     /* fuse into F_EPI_HOST nodes */
    int       chains;        /* fuse into F_ELTWISE nodes */
    /* the chain being absorbed into one host; malloc memory, written to the host once */
    ValueId  *in;            /* epilogue operands to append to the host's */
    uint32_t  nin, capin;
    EpiStep  *epi;           /* epilogue steps to append to the host's */
    uint32_t  nepi, capepi;
} Fuse;

static void
analyse(const Graph *g, Fuse *f)
{
    memset(f->uses, 0, (size_t)g->nvalue * sizeof *f->uses);
    memset(f->user, 0, (size_t)g->nvalue * sizeof *f->user);
    memset(f->alias, 0, (size_t)g->nvalue * sizeof *f->alias);
    f->nctl[0] = 0;
    for (uint32_t i = 0; i < g->norder; i++) {
        NodeId n = g->order[i];
        const Node *nd = &g->nodes[n];
        f->pos[n] = i;
        f->nctl[i + 1] = f->nctl[i] + ((op_flags[nd->op] & F_CONTROL) != 0);
        for (int k = 0; nd->op != OP_NONE && k < nd->nin; k++) {
            f->uses[nd->in[k]]++;
            f->user[nd->in[k]] = n;
        }
    }
    for (int k = 0; k < g->noutput; k++)
        f->uses[g->outputs[k].value]++;
}

/* The value whose uses v's moved to (v itself if none). */
static ValueId
live(const Fuse *f, ValueId v)
{
    while (f->alias[v])
        v = f->alias[v];
    return v;
}

/* The reader host h, now at order slot p, may absorb, or 0. */
static NodeId
consumer(const Graph *g, const Fuse *f, NodeId h, uint32_t p)
{
    const Node *hn = &g->nodes[h];
    uint32_t fl = op_flags[hn->op];
    if (hn->op == OP_NONE || hn->nout != 1 ||
        !(((fl & F_EPI_HOST) && f->epilogues) || ((fl & F_ELTWISE) && f->chains)))
        return 0;
    ValueId r = hn->out[0];
    NodeId c = f->user[r];
    if (f->uses[r] != 1 || !c)
        return 0;
    const Node *cn = &g->nodes[c];
    if (!(op_flags[cn->op] & F_ELTWISE) || (op_flags[cn->op] & F_CMP) || cn->nout != 1 ||
        cn->nepi > 0 ||
        (cn->nannot && !pass_annots_equal(hn, cn)))
        return 0;
    const TensorType *ht = &g->values[r].type, *ct = &g->values[cn->out[0]].type;
    if (ht->quant || !ir_type_equal(ht, ct))
        return 0;
    /* c has not moved: only hosts move, and a host that moved has an epilogue */
    if (f->nctl[f->pos[c]] != f->nctl[p + 1])
        return 0;
    return c;
}

/* Folds reader c into host h's pending chain and keeps f's tables current. */
static void
absorb(Graph *g, Fuse *f, NodeId h, NodeId c)
{
    Node *hn = &g->nodes[h], *cn = &g->nodes[c];
    ValueId r = hn->out[0], cr = cn->out[0];
    EpiStep st = { .op = cn->op, .arg = -1, .swap = 0, .attr = cn->attr };
    if (cn->nin == 2) {
        int i = live(f, cn->in[0]) == r ? 0 : 1;
        ValueId other = live(f, cn->in[1 - i]);
        f->in = kiln_grow(f->in, &f->capin, f->nin + 1, sizeof *f->in);
        f->in[f->nin] = other;
        st.arg = hn->nin + (int)f->nin++;
        st.swap = i == 1;
        if (f->user[other] == c)
            f->user[other] = h;
    }
    f->epi = kiln_grow(f->epi, &f->capepi, f->nepi + 1, sizeof *f->epi);
    f->epi[f->nepi++] = st;
    if (g->values[cr].name)
        g->values[r].name = g->values[cr].name;
    ir_node_kill(g, c);
    f->alias[cr] = r;
    f->uses[r] = f->uses[cr];
    f->user[r] = f->user[cr];
}

/* Appends the pending chain to host h (its arrays are arena-owned and fixed-size). */
static void
flush(Graph *g, Fuse *f, NodeId h)
{
    Node *hn = &g->nodes[h];
    if (f->nin) {
        ValueId *in = arena_alloc(g->arena, (hn->nin + f->nin) * sizeof *in);
        memcpy(in, hn->in, (size_t)hn->nin * sizeof *in);
        memcpy(in + hn->nin, f->in, f->nin * sizeof *in);
        hn->in = in;
        hn->nin += (int)f->nin;
    }
    if (f->nepi) {
        EpiStep *epi = arena_alloc(g->arena, (hn->nepi + f->nepi) * sizeof *epi);
        if (hn->nepi)
            memcpy(epi, hn->epi, (size_t)hn->nepi * sizeof *epi);
        memcpy(epi + hn->nepi, f->epi, f->nepi * sizeof *epi);
        hn->epi = epi;
        hn->nepi += (int)f->nepi;
    }
    f->nin = f->nepi = 0;
}

/* Host h absorbs its whole chain, then takes the last reader's slot: its operands all
 * precede that slot and its new readers all follow it.  Returns the number absorbed. */
static int64_t
fuse_host(Graph *g, Fuse *f, NodeId h)
{
    uint32_t p = f->pos[h];
    NodeId c, last = 0;
    int64_t n = 0;
    while ((c = consumer(g, f, h, p)) != 0) {
        absorb(g, f, h, c);
        last = c;
        p = f->pos[c];
        n++;
    }
    if (!n)
        return 0;
    flush(g, f, h);
    g->order[f->pos[h]] = last;
    g->order[p] = h;
    f->pos[last] = f->pos[h];
    f->pos[h] = p;
    return n;
}

/* Points every operand and output at the value its uses moved to. */
static void
rewrite_uses(Graph *g, const Fuse *f)
{
    for (uint32_t i = 0; i < g->norder; i++) {
        Node *nd = &g->nodes[g->order[i]];
        for (int k = 0; k < nd->nin; k++)
            nd->in[k] = live(f, nd->in[k]);
    }
    for (int k = 0; k < g->noutput; k++)
        g->outputs[k].value = live(f, g->outputs[k].value);
}

static int
flag_arg(PassCtx *pc, const char *key, int *out)
{
    int64_t v = pass_arg(pc, key, 1);
    if (v != 0 && v != 1) {
        diag_error(pc->d, (SrcLoc){ 0 }, "fuse{%s=%lld}: expected 0 or 1, got %lld", key,
                   (long long)v, (long long)v);
        return -1;
    }
    *out = (int)v;
    return 0;
}

int
pass_fuse(PassCtx *pc, Graph *g)
{
    Fuse f = { 0 };
    if (flag_arg(pc, "epilogues", &f.epilogues) < 0 || flag_arg(pc, "chains", &f.chains) < 0)
        return -1;
    f.uses = arena_alloc(pc->scratch, (size_t)g->nvalue * sizeof *f.uses);
    f.user = arena_alloc(pc->scratch, (size_t)g->nvalue * sizeof *f.user);
    f.alias = arena_alloc(pc->scratch, (size_t)g->nvalue * sizeof *f.alias);
    f.pos = arena_alloc(pc->scratch, (size_t)g->nnode * sizeof *f.pos);
    f.nctl = arena_alloc(pc->scratch, ((size_t)g->norder + 1) * sizeof *f.nctl);
    analyse(g, &f);
    int64_t fused = 0;
    /* a host that moved is seen again at its new slot; it then finds nothing to absorb */
    for (uint32_t i = 0; i < g->norder; i++)
        fused += fuse_host(g, &f, g->order[i]);
    free(f.in);
    free(f.epi);
    rewrite_uses(g, &f);
    ir_graph_compact(g);
    pass_stat(pc, "fused", fused);
    return 0;
}
