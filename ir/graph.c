/* ir/graph.c — building and editing a Graph: values, nodes, inputs, outputs, schedule.
 *
 * Approach: nodes, values, storage and the schedule are growable malloc tables indexed by
 * id (entry 0 unused); everything they point to lives in the graph's arena.  Deleting a
 * node marks it OP_NONE; ir_graph_compact drops it from the schedule. */
#include <stdlib.h>
#include <string.h>
#include "ir.h"
#include "util.h"

Graph *
ir_graph_new(const char *name)
{
    Graph *g = calloc(1, sizeof *g);
    if (!g)
        kiln_die("out of memory");
    g->arena = arena_new();
    g->name = arena_strdup(g->arena, name ? name : "model");
    g->dir = "";
    g->values = kiln_grow(NULL, &g->capvalue, 64, sizeof *g->values);
    g->nodes = kiln_grow(NULL, &g->capnode, 64, sizeof *g->nodes);
    g->storage = kiln_grow(NULL, &g->capstorage, 16, sizeof *g->storage);
    g->nvalue = g->nnode = g->nstorage = 1;
    return g;
}

void
ir_graph_free(Graph *g)
{
    if (!g)
        return;
    for (uint32_t i = 1; i < g->nstorage; i++)
        if (g->storage[i].file)
            kiln_file_unmap(g->storage[i].file);
    free(g->values);
    free(g->nodes);
    free(g->storage);
    free(g->order);
    free(g->inputs);
    free(g->outputs);
    arena_free(g->arena);
    free(g);
}

static ValueId
value_new(Graph *g, const char *name, NodeId def, int res)
{
    g->values = kiln_grow(g->values, &g->capvalue, g->nvalue + 1, sizeof *g->values);
    ValueId v = g->nvalue++;
    g->values[v] = (Value){ .name = arena_strdup(g->arena, name), .def = def, .res = res };
    return v;
}

void
ir_graph_set_dir(Graph *g, const char *file)
{
    const char *slash = strrchr(file, '/');
    if (!slash) {
        g->dir = "";
        return;
    }
    if (slash == file) {
        g->dir = "/";
        return;
    }
    char *dir = arena_strdup(g->arena, file);
    dir[slash - file] = 0;
    g->dir = dir;
}

ValueId
ir_graph_add_input(Graph *g, const char *name, const TensorType *t)
{
    ValueId v = value_new(g, name, 0, 0);
    g->values[v].type = *t;
    uint32_t cap = (uint32_t)g->capinput;
    g->inputs = kiln_grow(g->inputs, &cap, (uint32_t)g->ninput + 1, sizeof *g->inputs);
    g->capinput = (int)cap;
    g->inputs[g->ninput++] = v;
    return v;
}

void
ir_graph_add_output(Graph *g, const char *name, ValueId v)
{
    uint32_t cap = (uint32_t)g->capoutput;
    g->outputs = kiln_grow(g->outputs, &cap, (uint32_t)g->noutput + 1, sizeof *g->outputs);
    g->capoutput = (int)cap;
    g->outputs[g->noutput++] = (Output){ arena_strdup(g->arena, name), v };
}

NodeId
ir_node_new(Graph *g, Op op, int nin, const ValueId *in, int nout, SrcLoc loc)
{
    KILN_ASSERT(op > OP_NONE && op < OP_COUNT && nin >= 0 && nout >= 0);
    g->nodes = kiln_grow(g->nodes, &g->capnode, g->nnode + 1, sizeof *g->nodes);
    NodeId n = g->nnode++;
    Node *nd = &g->nodes[n];
    memset(nd, 0, sizeof *nd);
    nd->op = op;
    nd->nin = nin;
    nd->in = arena_alloc(g->arena, (size_t)(nin ? nin : 1) * sizeof(ValueId));
    if (nin)
        memcpy(nd->in, in, (size_t)nin * sizeof(ValueId));
    nd->nout = nout;
    nd->out = arena_alloc(g->arena, (size_t)(nout ? nout : 1) * sizeof(ValueId));
    nd->loc = loc;
    for (int i = 0; i < nout; i++) {
        ValueId v = value_new(g, NULL, n, i);
        g->nodes[n].out[i] = v;      /* value_new may not move nodes, but be explicit */
    }
    g->order = kiln_grow(g->order, &g->caporder, g->norder + 1, sizeof *g->order);
    g->order[g->norder++] = n;
    return n;
}

NodeId
ir_const_new(Graph *g, const TensorType *t, StorageId s, SrcLoc loc)
{
    NodeId n = ir_node_new(g, OP_CONST, 0, NULL, 1, loc);
    g->nodes[n].attr.cnst.storage = s;
    g->values[g->nodes[n].out[0]].type = *t;
    return n;
}

Node *
ir_node(Graph *g, NodeId n)
{
    KILN_ASSERT(n > 0 && n < g->nnode);
    return &g->nodes[n];
}

Value *
ir_value(Graph *g, ValueId v)
{
    KILN_ASSERT(v > 0 && v < g->nvalue);
    return &g->values[v];
}

ValueId
ir_node_out(const Graph *g, NodeId n, int i)
{
    KILN_ASSERT(n > 0 && n < g->nnode && i >= 0 && i < g->nodes[n].nout);
    return g->nodes[n].out[i];
}

void
ir_value_set_name(Graph *g, ValueId v, const char *name)
{
    ir_value(g, v)->name = arena_strdup(g->arena, name);
}

void
ir_node_kill(Graph *g, NodeId n)
{
    ir_node(g, n)->op = OP_NONE;
}

void
ir_replace_uses(Graph *g, ValueId from, ValueId to)
{
    for (uint32_t i = 0; i < g->norder; i++) {
        Node *nd = &g->nodes[g->order[i]];
        for (int k = 0; k < nd->nin; k++)
            if (nd->in[k] == from)
                nd->in[k] = to;
    }
    for (int k = 0; k < g->noutput; k++)
        if (g->outputs[k].value == from)
            g->outputs[k].value = to;
}

uint32_t *
ir_use_counts(const Graph *g, Arena *scratch)
{
    uint32_t *uses = arena_alloc(scratch, (size_t)g->nvalue * sizeof *uses);
    for (uint32_t i = 0; i < g->norder; i++) {
        const Node *nd = &g->nodes[g->order[i]];
        if (nd->op == OP_NONE)
            continue;
        for (int k = 0; k < nd->nin; k++)
            uses[nd->in[k]]++;
    }
    for (int k = 0; k < g->noutput; k++)
        uses[g->outputs[k].value]++;
    return uses;
}

void
ir_graph_compact(Graph *g)
{
    uint32_t n = 0;
    for (uint32_t i = 0; i < g->norder; i++)
        if (g->nodes[g->order[i]].op != OP_NONE)
            g->order[n++] = g->order[i];
    g->norder = n;
}

/* Depth-first: emit the producers of node n that are not yet placed, then n. */
static void
place(Graph *g, NodeId n, uint8_t *state, NodeId *out, uint32_t *nout)
{
    if (state[n] == 2)
        return;
    KILN_ASSERT(state[n] == 0);     /* 1 here would be a cycle */
    state[n] = 1;
    Node *nd = &g->nodes[n];
    for (int k = 0; k < nd->nin; k++) {
        NodeId def = g->values[nd->in[k]].def;
        if (def && g->nodes[def].op != OP_NONE)
            place(g, def, state, out, nout);
    }
    state[n] = 2;
    out[(*nout)++] = n;
}

void
ir_graph_schedule(Graph *g)
{
    ir_graph_compact(g);
    uint8_t *state = calloc(g->nnode, 1);
    NodeId *out = malloc((size_t)(g->norder ? g->norder : 1) * sizeof *out);
    if (!state || !out)
        kiln_die("out of memory");
    uint32_t nout = 0;
    for (uint32_t i = 0; i < g->norder; i++)
        place(g, g->order[i], state, out, &nout);
    KILN_ASSERT(nout == g->norder);
    memcpy(g->order, out, (size_t)nout * sizeof *out);
    free(out);
    free(state);
}

int
ir_node_set_annot(Graph *g, NodeId n, const Annot *a, int na)
{
    Node *nd = ir_node(g, n);
    Annot *copy = arena_alloc(g->arena, (size_t)(na ? na : 1) * sizeof *copy);
    for (int i = 0; i < na; i++) {
        copy[i].name = arena_strdup(g->arena, a[i].name);
        copy[i].narg = a[i].narg;
        copy[i].arg = arena_alloc(g->arena, (size_t)(a[i].narg ? a[i].narg : 1) * sizeof(AnnotArg));
        for (int k = 0; k < a[i].narg; k++) {
            copy[i].arg[k].key = arena_strdup(g->arena, a[i].arg[k].key);
            copy[i].arg[k].num = a[i].arg[k].num;
            copy[i].arg[k].str = arena_strdup(g->arena, a[i].arg[k].str);
        }
    }
    nd->annot = copy;
    nd->nannot = na;
    return 0;
}

const Annot *
ir_node_annot(const Graph *g, NodeId n, const char *name)
{
    const Node *nd = &g->nodes[n];
    for (int i = 0; i < nd->nannot; i++)
        if (strcmp(nd->annot[i].name, name) == 0)
            return &nd->annot[i];
    return NULL;
}
