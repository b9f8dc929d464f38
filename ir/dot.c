/* ir/dot.c — Graphviz view of a Graph: one vertex per input, node and output, one edge per
 * value use.  Node labels are the op and result types; constants are boxes.  Output order
 * follows the schedule only, so it is deterministic. */
#include <string.h>
#include "ir.h"
#include "util.h"

/* s inside a double-quoted dot string. */
static void
dot_escape(FILE *out, const char *s)
{
    for (; s && *s; s++) {
        if (*s == '"' || *s == '\\')
            fputc('\\', out);
        if (*s == '\n')
            fputs("\\n", out);
        else
            fputc(*s, out);
    }
}

/* The vertex that defines value v: "in<k>" for graph inputs, "n<id>" for nodes. */
static void
source(const Graph *g, ValueId v, FILE *out)
{
    if (v == 0 || v >= g->nvalue) {
        fputs("undefined", out);
        return;
    }
    if (g->values[v].def) {
        fprintf(out, "n%u", (unsigned)g->values[v].def);
        return;
    }
    fprintf(out, "v%u", (unsigned)v);
}

static void
value_label(const Graph *g, ValueId v, FILE *out)
{
    if (v > 0 && v < g->nvalue && g->values[v].name) {
        fputc('%', out);
        dot_escape(out, g->values[v].name);
    } else {
        fprintf(out, "%%v%u", (unsigned)v);
    }
}

static void
node_vertex(const Graph *g, NodeId n, FILE *out)
{
    const Node *nd = &g->nodes[n];
    char buf[256];
    fprintf(out, "  n%u [shape=%s, label=\"", (unsigned)n, nd->op == OP_CONST ? "box" : "ellipse");
    fputs(nd->op > OP_NONE && nd->op < OP_COUNT ? op_name[nd->op] : "<deleted>", out);
    for (int i = 0; i < nd->nepi; i++)
        if (nd->epi[i].op > OP_NONE && nd->epi[i].op < OP_COUNT)
            fprintf(out, "+%s", op_name[nd->epi[i].op]);
    for (int k = 0; k < nd->nout; k++) {
        ValueId v = nd->out[k];
        fputs("\\n", out);
        if (v > 0 && v < g->nvalue && g->values[v].type.dtype != DT_NONE)
            dot_escape(out, ir_type_str(&g->values[v].type, buf, sizeof buf));
        else
            fputs("?", out);
    }
    fputs("\"];\n", out);
}

static void
node_edges(const Graph *g, NodeId n, FILE *out)
{
    const Node *nd = &g->nodes[n];
    for (int k = 0; k < nd->nin; k++) {
        fputs("  ", out);
        source(g, nd->in[k], out);
        fprintf(out, " -> n%u [label=\"", (unsigned)n);
        value_label(g, nd->in[k], out);
        fputs("\"];\n", out);
    }
}

void
ir_graph_dot(const Graph *g, FILE *out)
{
    char buf[256];
    fputs("digraph \"", out);
    dot_escape(out, g->name);
    fputs("\" {\n  node [fontname=\"monospace\"];\n", out);
    for (int i = 0; i < g->ninput; i++) {
        ValueId v = g->inputs[i];
        if (v == 0 || v >= g->nvalue)
            continue;
        fprintf(out, "  v%u [shape=invhouse, label=\"", (unsigned)v);
        value_label(g, v, out);
        fputs("\\n", out);
        dot_escape(out, ir_type_str(&g->values[v].type, buf, sizeof buf));
        fputs("\"];\n", out);
    }
    for (uint32_t i = 0; i < g->norder; i++)
        node_vertex(g, g->order[i], out);
    for (uint32_t i = 0; i < g->norder; i++)
        node_edges(g, g->order[i], out);
    for (int i = 0; i < g->noutput; i++) {
        fprintf(out, "  out%d [shape=house, label=\"", i);
        dot_escape(out, g->outputs[i].name);
        fputs("\"];\n  ", out);
        source(g, g->outputs[i].value, out);
        fprintf(out, " -> out%d [label=\"", i);
        value_label(g, g->outputs[i].value, out);
        fputs("\"];\n", out);
    }
    fputs("}\n", out);
}
