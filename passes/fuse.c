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
 * residual add all land in one matmul/conv. */
#include <string.h>
#include "passes.h"
#include "util.h"

typedef struct {
    uint32_t *uses;          /* per value: operand slots + output slots reading it */
    NodeId   *user;          /* per value: a node reading it (the one, when uses == 1) */
    uint32_t *pos;           /* per node: index in g->order */
    int       epilogues;     /* fuse into F_EPI_HOST nodes */
    int       chains;        /* fuse into F_ELTWISE nodes */
} Fuse;

static void
analyse(const Graph *g, Fuse *f)
{
    memset(f->uses, 0, (size_t)g->nvalue * sizeof *f->uses);
    memset(f->user, 0, (size_t)g->nvalue * sizeof *f->user);
    for (uint32_t i = 0; i < g->norder; i++) {
        NodeId n = g->order[i];
        const Node *nd = &g->nodes[n];
        f->pos[n] = i;
        for (int k = 0; nd->op != OP_NONE && k < nd->nin; k++) {
            f->uses[nd->in[k]]++;
            f->user[nd->in[k]] = n;
        }
    }
    for (int k = 0; k < g->noutput; k++)
        f->uses[g->outputs[k].value]++;
}

/* The reader h may absorb, or 0. */
static NodeId
consumer(const Graph *g, const Fuse *f, NodeId h)
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
    for (uint32_t p = f->pos[h] + 1; p < f->pos[c]; p++)
        if (op_flags[g->nodes[g->order[p]].op] & F_CONTROL)
            return 0;
    return c;
}

/* Appends operand v to node n (the operand array is arena-owned and fixed-size). */
static int
append_operand(Graph *g, Node *nd, ValueId v)
{
    ValueId *in = arena_alloc(g->arena, (size_t)(nd->nin + 1) * sizeof *in);
    memcpy(in, nd->in, (size_t)nd->nin * sizeof *in);
    in[nd->nin] = v;
    nd->in = in;
    return nd->nin++;
}

static void
append_step(Graph *g, Node *nd, EpiStep st)
{
    EpiStep *epi = arena_alloc(g->arena, (size_t)(nd->nepi + 1) * sizeof *epi);
    if (nd->nepi)
        memcpy(epi, nd->epi, (size_t)nd->nepi * sizeof *epi);
    epi[nd->nepi++] = st;
    nd->epi = epi;
}

/* Folds reader c into host h and keeps f's tables current. */
static void
absorb(Graph *g, Fuse *f, NodeId h, NodeId c)
{
    Node *hn = &g->nodes[h], *cn = &g->nodes[c];
    ValueId r = hn->out[0], cr = cn->out[0];
    EpiStep st = { .op = cn->op, .arg = -1, .swap = 0, .attr = cn->attr };
    if (cn->nin == 2) {
        int i = cn->in[0] == r ? 0 : 1;
        ValueId other = cn->in[1 - i];
        st.arg = append_operand(g, hn, other);
        st.swap = i == 1;
        if (f->user[other] == c)
            f->user[other] = h;
    }
    append_step(g, hn, st);
    if (g->values[cr].name)
        g->values[r].name = g->values[cr].name;
    ir_node_kill(g, c);
    ir_replace_uses(g, cr, r);
    f->uses[r] = f->uses[cr];
    f->user[r] = f->user[cr];
    /* h moves to c's slot: its operands all precede it, its new readers all follow */
    uint32_t ph = f->pos[h], pcn = f->pos[c];
    g->order[pcn] = h;
    g->order[ph] = c;
    f->pos[h] = pcn;
    f->pos[c] = ph;
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
    Fuse f;
    if (flag_arg(pc, "epilogues", &f.epilogues) < 0 || flag_arg(pc, "chains", &f.chains) < 0)
        return -1;
    f.uses = arena_alloc(pc->scratch, (size_t)g->nvalue * sizeof *f.uses);
    f.user = arena_alloc(pc->scratch, (size_t)g->nvalue * sizeof *f.user);
    f.pos = arena_alloc(pc->scratch, (size_t)g->nnode * sizeof *f.pos);
    analyse(g, &f);
    int64_t fused = 0;
    for (uint32_t i = 0; i < g->norder; i++) {
        NodeId h = g->order[i], c;
        while ((c = consumer(g, &f, h)) != 0) {
            absorb(g, &f, h, c);
            fused++;
        }
    }
    ir_graph_compact(g);
    pass_stat(pc, "fused", fused);
    return 0;
}
