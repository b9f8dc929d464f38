/* frontend/onnx/model.c — the model level of the importer: file checks and decoding,
 * opset, initializers, graph inputs with their static shapes, a topological order of the
 * nodes (cycles and undefined names are errors), the per-node dispatch through the op
 * table, and the graph outputs. */
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include "onnx_internal.h"
#include "util.h"

/* ------------------------------------------------------------------ --shape fixes */

/* Length of a fix's name: it ends at '=' (parsed from an argument) or NUL. */
static size_t
fix_name_len(const char *s)
{
    size_t n = 0;
    while (s[n] && s[n] != '=')
        n++;
    return n;
}

static int
fix_matches(const OnnxShapeFix *f, const char *name)
{
    size_t n = fix_name_len(f->name);
    return strlen(name) == n && strncmp(f->name, name, n) == 0;
}

int
onnx_parse_shape_fix(const char *arg, OnnxShapeFix *out, char *err, size_t errlen)
{
    const char *eq = strchr(arg, '=');
    memset(out, 0, sizeof *out);
    if (!eq || eq == arg) {
        snprintf(err, errlen, "--shape '%s': expected name=DIMS such as input=1x3x224x224",
                 arg);
        return -1;
    }
    out->name = arg;
    for (const char *p = eq + 1; *p;) {
        char *end;
        if (out->rank == KILN_MAX_RANK) {
            snprintf(err, errlen, "--shape '%s': expected at most %d dims", arg, KILN_MAX_RANK);
            return -1;
        }
        long long v = (*p >= '0' && *p <= '9') ? strtoll(p, &end, 10) : 0;
        if (v < 1 || v > INT32_MAX || (*end && *end != 'x')) {
            int n = (int)strcspn(p, "x");
            snprintf(err, errlen, "--shape '%s': expected a dim in 1..%d, got '%.*s'", arg,
                     INT32_MAX, n, p);
            return -1;
        }
        out->dims[out->rank++] = v;
        p = *end ? end + 1 : end;
        if (*end == 'x' && !*p) {
            snprintf(err, errlen, "--shape '%s': expected a dim after the last 'x'", arg);
            return -1;
        }
    }
    return 0;
}

/* ------------------------------------------------------------------ graph inputs */

static const OnnxShapeFix *
find_fix(const Imp *im, const char *name)
{
    for (int i = 0; i < im->o->nfix; i++)
        if (fix_matches(&im->o->fix[i], name))
            return &im->o->fix[i];
    return NULL;
}

/* The static type of graph input vi: the model's shape, overridden by a --shape fix. */
static int
input_type(Imp *im, const Onnx__ValueInfoProto *vi, TensorType *t)
{
    const char *name = vi->name;
    const Onnx__TypeProto *tp = vi->type;
    if (!tp || tp->value_case != ONNX__TYPE_PROTO__VALUE_TENSOR_TYPE || !tp->tensor_type)
        return imp_unsupported(im, "graph input '%s' is not a tensor", name);
    const Onnx__TypeProto__Tensor *tt = tp->tensor_type;
    DType dt = onnx_dtype(tt->elem_type);
    if (dt == DT_NONE)
        return imp_unsupported(im, "graph input '%s' has element type %s, which kiln does not "
                               "support", name, onnx_dtype_name(tt->elem_type));
    const OnnxShapeFix *fix = find_fix(im, name);
    const Onnx__TensorShapeProto *sh = tt->shape;
    if (sh && sh->n_dim > KILN_MAX_RANK)
        return imp_unsupported(im, "graph input '%s' has rank %zu, at most %d supported", name,
                               sh->n_dim, KILN_MAX_RANK);
    if (fix && sh && (size_t)fix->rank != sh->n_dim)
        return imp_fail(im, "--shape for '%s' gives %d dims, the model's input has %zu", name,
                        fix->rank, sh->n_dim);
    int64_t bytes;
    if (fix) {
        *t = ir_type_make(dt, fix->rank, fix->dims);
        if (ir_type_bytes(t, &bytes) < 0)
            return imp_fail(im, "--shape for '%s': shape overflows 64-bit sizes", name);
        return 0;
    }
    if (!sh)
        return imp_fail(im, "graph input '%s' has no shape; give one with --shape %s=DIMS",
                        name, name);
    *t = (TensorType){ .dtype = dt, .rank = (int)sh->n_dim };
    for (size_t i = 0; i < sh->n_dim; i++) {
        const Onnx__TensorShapeProto__Dimension *dm = sh->dim[i];
        if (dm->value_case != ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_VALUE)
            return imp_fail(im, "graph input '%s': dim %zu is dynamic ('%s'); fix it with "
                            "--shape %s=DIMS", name, i,
                            dm->value_case == ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_PARAM
                                ? dm->dim_param : "?", name);
        if (dm->dim_value < 0)
            return imp_fail(im, "graph input '%s': dim %zu is %lld, expected >= 0", name, i,
                            (long long)dm->dim_value);
        t->dims[i] = dm->dim_value;
    }
    if (ir_type_bytes(t, &bytes) < 0)
        return imp_fail(im, "graph input '%s': shape overflows 64-bit sizes", name);
    return 0;
}

/* A graph input feeding a constant-only operand, bound to a value by the caller. */
static int
bind_input(Imp *im, const char *name, const TensorType *t)
{
    IrTensor v = { 0 };
    char want[200], got[200];
    if (im->o->bind(im->o->bind_ctx, name, &v) < 0)
        return imp_unsupported(im, "graph input '%s' is used as a constant operand, and no "
                               "value was given for it", name);
    if (!ir_type_equal(&v.type, t)) {
        ir_type_str(t, want, sizeof want);
        ir_type_str(&v.type, got, sizeof got);
        ir_tensor_free(&v);
        return imp_fail(im, "value bound to graph input '%s': expected %s, got %s", name, want,
                        got);
    }
    ValueId c = imp_const(im, t, v.data);
    ir_value_set_name(im->g, c, name);
    onnx_names_put(&im->names, im->g->arena, name, c);
    ir_tensor_free(&v);
    return 0;
}

static int
add_inputs(Imp *im, const Onnx__GraphProto *gp)
{
    for (int i = 0; i < im->o->nfix; i++) {
        const char *fname = im->o->fix[i].name;
        int found = 0;
        for (size_t k = 0; k < gp->n_input && !found; k++)
            found = gp->input[k]->name && fix_matches(&im->o->fix[i], gp->input[k]->name);
        if (!found)
            return imp_fail(im, "--shape names '%.*s', which is not a graph input",
                            (int)fix_name_len(fname), fname);
    }
    for (size_t i = 0; i < gp->n_input; i++) {
        const Onnx__ValueInfoProto *vi = gp->input[i];
        TensorType t;
        if (!vi->name || !vi->name[0])
            return imp_fail(im, "graph input %zu has no name", i);
        if (onnx_names_get(&im->names, vi->name, NULL))
            continue;                  /* an initializer: its value wins */
        if (input_type(im, vi, &t) < 0)
            return -1;
        if (im->o->bind && onnx_names_get(&im->params, vi->name, NULL)) {
            if (bind_input(im, vi->name, &t) < 0)
                return -1;
            continue;
        }
        ValueId v = ir_graph_add_input(im->g, vi->name, &t);
        onnx_names_put(&im->names, im->g->arena, vi->name, v);
    }
    return 0;
}

static int
add_initializers(Imp *im, const Onnx__GraphProto *gp)
{
    if (gp->n_sparse_initializer)
        return imp_unsupported(im, "sparse initializers are not supported");
    for (size_t i = 0; i < gp->n_initializer; i++) {
        const Onnx__TensorProto *t = gp->initializer[i];
        if (!t->name || !t->name[0])
            return imp_fail(im, "initializer %zu has no name", i);
        if (onnx_names_get(&im->names, t->name, NULL))
            return imp_fail(im, "initializer '%s' is defined twice", t->name);
        ValueId v = onnx_tensor_const(im, t, "initializer");
        if (!v)
            return -1;
        onnx_names_put(&im->names, im->g->arena, t->name, v);
    }
    return 0;
}

/* 1 when node n reads only the static shape or type of its operands, not their values. */
static int
reads_shape_only(const Onnx__NodeProto *n)
{
    static const char *const ops[] = { "Shape", "Size", "EyeLike" };
    for (size_t i = 0; i < sizeof ops / sizeof ops[0]; i++)
        if (n->op_type && strcmp(n->op_type, ops[i]) == 0)
            return 1;
    return 0;
}

/* 1 when a result of n is in params. */
static int
feeds_param(const Imp *im, const Onnx__NodeProto *n)
{
    for (size_t k = 0; k < n->n_output; k++)
        if (n->output[k][0] && onnx_names_get(&im->params, n->output[k], NULL))
            return 1;
    return 0;
}

/* Tensor names whose values an operand the op table marks constant-only depends on: the
 * operands themselves, then (backwards, to a fixed point) every operand of a node that
 * computes one of them, except nodes that read only shapes (only with a bind callback,
 * which supplies those of them that are graph inputs, as a deployed model's
 * initializers). */
static void
find_params(Imp *im, const Onnx__GraphProto *gp)
{
    for (size_t i = 0; i < gp->n_node; i++) {
        const Onnx__NodeProto *n = gp->node[i];
        const OnnxOpRow *row = onnx_op_find(n->op_type ? n->op_type : "", im->opset);
        if (!row || (n->domain && n->domain[0] && strcmp(n->domain, "ai.onnx") != 0))
            continue;
        for (size_t k = 0; k < n->n_input && k < 32; k++)
            if ((row->cmask >> k & 1) && n->input[k][0])
                onnx_names_put(&im->params, im->g->arena, n->input[k], 1);
    }
    for (uint32_t before = 0; im->o->bind && before != im->params.n;) {
        before = im->params.n;
        for (size_t i = gp->n_node; i-- > 0;) {
            const Onnx__NodeProto *n = gp->node[i];
            if (reads_shape_only(n) || !feeds_param(im, n))
                continue;
            for (size_t k = 0; k < n->n_input; k++)
                if (n->input[k][0])
                    onnx_names_put(&im->params, im->g->arena, n->input[k], 1);
        }
    }
}

/* ------------------------------------------------------------------ nodes */

static SrcLoc
node_loc(Imp *im, const Onnx__NodeProto *n, size_t index)
{
    const char *type = n->op_type && n->op_type[0] ? n->op_type : "?";
    if (n->name && n->name[0])
        return (SrcLoc){ arena_printf(im->g->arena, "%s: node '%s' (%s)", im->path, n->name,
                                      type), 0, 0 };
    return (SrcLoc){ arena_printf(im->g->arena, "%s: node #%zu (%s)", im->path, index, type),
                     0, 0 };
}

/* prod: tensor name -> index of the node producing it; a name defined twice is an error. */
static int
producers(Imp *im, const Onnx__GraphProto *gp, NameMap *prod)
{
    for (size_t i = 0; i < gp->n_node; i++) {
        const Onnx__NodeProto *n = gp->node[i];
        for (size_t k = 0; k < n->n_output; k++) {
            if (!n->output[k][0])
                continue;
            if (onnx_names_get(prod, n->output[k], NULL) ||
                onnx_names_get(&im->names, n->output[k], NULL)) {
                im->loc = node_loc(im, n, i);
                return imp_fail(im, "tensor '%s' is defined twice", n->output[k]);
            }
            onnx_names_put(prod, im->g->arena, n->output[k], (uint32_t)i);
        }
    }
    return 0;
}

/* Kahn's algorithm over name edges; order[] gets node indices.  Undefined inputs, names
 * defined twice and cycles are errors. */
static int
schedule(Imp *im, const Onnx__GraphProto *gp, uint32_t *order)
{
    size_t nn = gp->n_node;
    NameMap prod;
    uint32_t *indeg = calloc(nn + 1, sizeof *indeg), *head = malloc((nn + 1) * sizeof *head);
    uint32_t nedge = 0, capedge = 0, *edge_to = NULL, *edge_next = NULL;
    int rc = -1;
    if (!indeg || !head)
        kiln_die("out of memory");
    onnx_names_init(&prod);
    memset(head, 0xff, (nn + 1) * sizeof *head);
    if (producers(im, gp, &prod) < 0)
        goto out;
    for (size_t i = 0; i < nn; i++) {
        const Onnx__NodeProto *n = gp->node[i];
        for (size_t k = 0; k < n->n_input; k++) {
            uint32_t p;
            if (!n->input[k][0] || onnx_names_get(&im->names, n->input[k], NULL))
                continue;
            if (!onnx_names_get(&prod, n->input[k], &p)) {
                im->loc = node_loc(im, n, i);
                imp_fail(im, "input '%s' is not defined by any node, initializer or graph "
                         "input", n->input[k]);
                goto out;
            }
            uint32_t cap = capedge;
            edge_to = kiln_grow(edge_to, &cap, nedge + 1, sizeof *edge_to);
            edge_next = kiln_grow(edge_next, &capedge, nedge + 1, sizeof *edge_next);
            edge_to[nedge] = (uint32_t)i;
            edge_next[nedge] = head[p];
            head[p] = nedge++;
            indeg[i]++;
        }
    }
    uint32_t nq = 0;
    for (size_t i = 0; i < nn; i++)
        if (!indeg[i])
            order[nq++] = (uint32_t)i;
    for (uint32_t qi = 0; qi < nq; qi++)
        for (uint32_t e = head[order[qi]]; e != UINT32_MAX; e = edge_next[e])
            if (--indeg[edge_to[e]] == 0)
                order[nq++] = edge_to[e];
    if (nq < nn) {
        for (size_t i = 0; i < nn; i++)
            if (indeg[i]) {
                im->loc = node_loc(im, gp->node[i], i);
                break;
            }
        imp_fail(im, "the graph has a cycle through this node");
        goto out;
    }
    rc = 0;
out:
    onnx_names_free(&prod);
    free(indeg);
    free(head);
    free(edge_to);
    free(edge_next);
    return rc;
}

static int
map_node(Imp *im, const Onnx__NodeProto *n)
{
    const char *dom = n->domain && n->domain[0] ? n->domain : "ai.onnx";
    char near[200];
    im->node = n;
    if (!n->op_type || !n->op_type[0])
        return imp_fail(im, "node has no op type");
    if (strcmp(dom, "ai.onnx") != 0) {
        onnx_op_nearest(n->op_type, near, sizeof near);
        return imp_unclaimed(im, "unsupported op %s of domain '%s' (opset %lld of "
                               "ai.onnx); nearest supported: %s", n->op_type, dom,
                               (long long)im->opset, near);
    }
    im->row = onnx_op_find(n->op_type, im->opset);
    const OnnxOpRow *any = im->row ? NULL : onnx_op_any(n->op_type);
    if (any)
        return imp_unclaimed(im, "unsupported op %s at opset %lld (domain '%s'); it is "
                               "supported at opsets %d..%d", n->op_type, (long long)im->opset,
                               dom, any->since, any->until);
    if (!im->row) {
        onnx_op_nearest(n->op_type, near, sizeof near);
        return imp_unclaimed(im, "unsupported op %s (domain '%s', opset %lld); nearest "
                               "supported: %s", n->op_type, dom, (long long)im->opset, near);
    }
    int nerror = im->d->nerror;
    if (onnx_op_check_types(im) < 0)
        return -1;
    if (im->row->fn(im) < 0) {
        if (im->d->nerror == nerror)   /* a mapper must say why; never fail silently */
            imp_fail(im, "%s: cannot import this node", n->op_type);
        return -1;
    }
    for (size_t k = 0; k < n->n_output; k++)
        if (n->output[k][0] && !onnx_names_get(&im->names, n->output[k], NULL))
            return imp_unsupported(im, "%s: result %zu ('%s') is not supported", n->op_type, k,
                                   n->output[k]);
    return 0;
}

static int
add_nodes(Imp *im, const Onnx__GraphProto *gp)
{
    uint32_t *order = malloc((gp->n_node + 1) * sizeof *order);
    int rc = 0;
    if (!order)
        kiln_die("out of memory");
    if (schedule(im, gp, order) < 0)
        rc = -1;
    for (size_t i = 0; i < gp->n_node && rc == 0; i++) {
        im->loc = node_loc(im, gp->node[order[i]], order[i]);
        rc = map_node(im, gp->node[order[i]]);
    }
    free(order);
    return rc;
}

static int
add_outputs(Imp *im, const Onnx__GraphProto *gp)
{
    im->loc = (SrcLoc){ im->path, 0, 0 };
    if (gp->n_output == 0)
        return imp_fail(im, "the graph has no outputs");
    for (size_t i = 0; i < gp->n_output; i++) {
        const Onnx__ValueInfoProto *vi = gp->output[i];
        uint32_t v;
        if (!vi->name || !onnx_names_get(&im->names, vi->name, &v))
            return imp_fail(im, "graph output '%s' is not produced by any node",
                            vi->name ? vi->name : "");
        if (!v)
            return imp_fail(im, "graph output '%s' has no value", vi->name);
        const Onnx__TypeProto *tp = vi->type;
        if (tp && tp->value_case == ONNX__TYPE_PROTO__VALUE_TENSOR_TYPE && tp->tensor_type &&
            tp->tensor_type->has_elem_type && tp->tensor_type->elem_type != 0) {
            DType want = onnx_dtype(tp->tensor_type->elem_type);
            if (want != ir_value(im->g, v)->type.dtype)
                return imp_unsupported(im, "graph output '%s': the model declares %s, kiln "
                                       "computes %s", vi->name,
                                       onnx_dtype_name(tp->tensor_type->elem_type),
                                       ir_dtype_name(ir_value(im->g, v)->type.dtype));
        }
        /* output names become file and member names: no folders, no hidden files */
        char *oname = arena_strdup(im->g->arena, vi->name);
        for (char *c = oname; *c; c++)
            if (*c == '/' || (c == oname && *c == '.'))
                *c = '_';
        ir_graph_add_output(im->g, oname[0] ? oname : "output", v);
    }
    return 0;
}

/* ------------------------------------------------------------------ model */

static int
read_opset(Imp *im, const Onnx__ModelProto *m)
{
    im->opset = -1;
    for (size_t i = 0; i < m->n_opset_import; i++) {
        const Onnx__OperatorSetIdProto *o = m->opset_import[i];
        if (!o->domain || !o->domain[0] || strcmp(o->domain, "ai.onnx") == 0)
            im->opset = o->version;
    }
    if (im->opset < 0)
        return imp_fail(im, "the model imports no opset of the default domain ai.onnx");
    if (im->opset < ONNX_OPSET_MIN || im->opset > ONNX_OPSET_MAX)
        return imp_unsupported(im, "opset %lld of ai.onnx is not supported, expected %d..%d",
                               (long long)im->opset, ONNX_OPSET_MIN, ONNX_OPSET_MAX);
    return 0;
}

/* Graph name: the file's base name without extension, as a C identifier. */
static const char *
model_name(Arena *a, const char *path)
{
    const char *base = strrchr(path, '/') ? strrchr(path, '/') + 1 : path;
    char *s = arena_printf(a, "m_%s", base);
    char *dot = strrchr(s, '.');
    if (dot && dot != s)
        *dot = 0;
    for (char *c = s; *c; c++)
        if (!(*c == '_' || (*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') ||
              (*c >= '0' && *c <= '9')))
            *c = '_';
    return (s[2] >= '0' && s[2] <= '9') || !s[2] ? s : s + 2;
}

static const char *
model_dir(Arena *a, const char *path)
{
    const char *slash = strrchr(path, '/');
    if (!slash)
        return ".";
    if (slash == path)
        return "/";
    return arena_printf(a, "%.*s", (int)(slash - path), path);
}

static int
import_model(Imp *im, const Onnx__ModelProto *m)
{
    if (read_opset(im, m) < 0)
        return -1;
    if (!m->graph)
        return imp_fail(im, "the model has no graph");
    if (m->n_functions)
        return imp_unsupported(im, "model-local functions are not supported");
    find_params(im, m->graph);
    if (add_initializers(im, m->graph) < 0 || add_inputs(im, m->graph) < 0 ||
        add_nodes(im, m->graph) < 0 || add_outputs(im, m->graph) < 0)
        return -1;
    return 0;
}

/* Maps, checks and unpacks the file; NULL on error (reported). */
static Onnx__ModelProto *
decode(const char *path, Diag *d)
{
    SrcLoc loc = { path, 0, 0 };
    kiln_file *f;
    char err[512];
    if (kiln_file_map(path, &f, err, sizeof err) != KILN_OK) {
        diag_error(d, loc, "cannot read model: %s", err);
        return NULL;
    }
    const uint8_t *buf = kiln_file_data(f);
    size_t len = kiln_file_size(f);
    Onnx__ModelProto *m = NULL;
    if (len == 0)
        diag_error(d, loc, "empty file, expected an ONNX model");
    else if (onnx_wire_check(buf, len, ONNX_MAX_DEPTH, err, sizeof err) < 0)
        diag_error(d, loc, "not a valid ONNX model: %s", err);
    else if (!(m = onnx__model_proto__unpack(NULL, len, buf)))
        diag_error(d, loc, "not a valid ONNX model: protobuf decoding failed (wrong field "
                   "types or invalid UTF-8)");
    kiln_file_unmap(f);
    return m;
}

/* On failure the graph and its arena go away, but the locations of the messages reported
 * since `from` point into that arena: move each node description into its message text
 * and give it the caller's path as location. */
static void
relocate(Diag *d, int from, const char *path)
{
    size_t plen = strlen(path);
    for (int i = from; i < d->nmsg; i++) {
        DiagMsg *m = &d->msg[i];
        const char *f = m->loc.file;
        if (f && strcmp(f, path) != 0) {
            const char *what = strncmp(f, path, plen) == 0 && f[plen] == ':' ? f + plen + 2 : f;
            size_t n = strlen(what) + strlen(m->msg) + 3;
            char *msg = malloc(n);
            if (!msg)
                kiln_die("out of memory");
            snprintf(msg, n, "%s: %s", what, m->msg);
            free(m->msg);
            m->msg = msg;
        }
        m->loc = (SrcLoc){ path, 0, 0 };
    }
}

Graph *
onnx_import_file_opts(const char *path, OnnxImportOpts *o, Diag *d)
{
    int from = d->nmsg;
    o->unsupported = 0;
    Onnx__ModelProto *m = decode(path, d);
    if (!m)
        return NULL;
    Graph *g = ir_graph_new(NULL);
    Imp im = { .g = g, .d = d, .o = o, .path = arena_strdup(g->arena, path) };
    g->name = model_name(g->arena, path);
    im.dir = model_dir(g->arena, path);
    g->dir = im.dir;
    im.loc = (SrcLoc){ im.path, 0, 0 };
    onnx_names_init(&im.names);
    onnx_names_init(&im.params);
    int rc = import_model(&im, m);
    onnx_names_free(&im.names);
    onnx_names_free(&im.params);
    onnx_ext_release(&im);
    onnx__model_proto__free_unpacked(m, NULL);
    if (rc < 0) {
        relocate(d, from, path);
        ir_graph_free(g);
        return NULL;
    }
    return g;
}

Graph *
onnx_import_file(const char *path, const OnnxShapeFix *fix, int nfix, Diag *d)
{
    OnnxImportOpts o = { .fix = fix, .nfix = nfix };
    return onnx_import_file_opts(path, &o, d);
}
