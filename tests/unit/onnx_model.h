/* tests/unit/onnx_model.h — builds small ONNX models with protobuf-c for the importer's unit
 * tests: one node (model) or a few (model_empty + add_node), graph inputs and outputs,
 * raw-data initializers and attributes, then packs them into the scratch folder and imports
 * them.  Like cu_run.h it is a header of static functions: each test program includes it
 * once, sets tmpdir (mkdtemp) in main, and calls pool_free after each model. */
#ifndef KILN_ONNX_MODEL_H
#define KILN_ONNX_MODEL_H

#include <CUnit/Basic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "onnx_internal.h"

enum { POOL_MAX = 4096 };              /* protobuf objects one test may build before pool_free */

static char tmpdir[64];                /* per-run scratch folder; main fills it with mkdtemp */
static void *pool[POOL_MAX];           /* test-built protobuf objects, freed by pool_free */
static int npool;                      /* used entries of pool */

/* A zeroed allocation owned by the pool. */
static inline void *
tnew(size_t n)
{
    void *p = calloc(1, n);
    CU_ASSERT_FATAL(p != NULL && npool < POOL_MAX);
    pool[npool++] = p;
    return p;
}

static inline char *
tstr(const char *s)
{
    return strcpy(tnew(strlen(s) + 1), s);
}

static inline void
pool_free(void)
{
    while (npool)
        free(pool[--npool]);
}

/* name inside the scratch folder; eight results stay valid at a time. */
static inline const char *
tpath(const char *name)
{
    static char buf[8][256];
    static int k;
    char *p = buf[k++ % 8];
    snprintf(p, 256, "%s/%s", tmpdir, name);
    return p;
}

/* A model under construction; every array has room for 16 entries. */
typedef struct {
    Onnx__ModelProto *m;       /* the model: ir_version 8, one default-domain opset */
    Onnx__GraphProto *g;       /* its graph, named "g" */
    Onnx__NodeProto  *n;       /* the node last added (attr_* go here); NULL before one */
} Model;

/* A pool copy of the n strings s. */
static inline char **
names(int n, const char *const *s)
{
    char **v = tnew(sizeof(char *) * (size_t)(n + 1));
    for (int i = 0; i < n; i++)
        v[i] = tstr(s[i]);
    return v;
}

/* A node op(in) -> out named name, with room for 8 attributes; not yet in a graph. */
static inline Onnx__NodeProto *
node(const char *op, const char *name, int nin, const char *const *in, int nout,
     const char *const *out)
{
    Onnx__NodeProto *n = tnew(sizeof *n);
    onnx__node_proto__init(n);
    n->op_type = tstr(op);
    n->name = tstr(name);
    n->n_input = (size_t)nin;
    n->input = names(nin, in);
    n->n_output = (size_t)nout;
    n->output = names(nout, out);
    n->attribute = tnew(sizeof(void *) * 8);
    return n;
}

/* A model of no nodes at the given default-domain opset. */
static inline Model
model_empty(int64_t opset)
{
    Model r = { tnew(sizeof *r.m), tnew(sizeof *r.g), NULL };
    Onnx__OperatorSetIdProto *o = tnew(sizeof *o);
    onnx__model_proto__init(r.m);
    onnx__graph_proto__init(r.g);
    onnx__operator_set_id_proto__init(o);
    o->domain = tstr("");
    o->has_version = 1;
    o->version = opset;
    r.m->n_opset_import = 1;
    r.m->opset_import = tnew(sizeof(void *));
    r.m->opset_import[0] = o;
    r.m->has_ir_version = 1;
    r.m->ir_version = 8;
    r.m->graph = r.g;
    r.g->name = tstr("g");
    r.g->node = tnew(sizeof(void *) * 16);
    r.g->input = tnew(sizeof(void *) * 16);
    r.g->output = tnew(sizeof(void *) * 16);
    r.g->initializer = tnew(sizeof(void *) * 16);
    return r;
}

/* Appends node op(in) -> out named name to m's graph; it becomes m->n. */
static inline Onnx__NodeProto *
add_node(Model *m, const char *op, const char *name, int nin, const char *const *in, int nout,
         const char *const *out)
{
    m->n = node(op, name, nin, in, nout, out);
    m->g->node[m->g->n_node++] = m->n;
    return m->n;
}

/* A model of the one node op(in) -> out, named "n1". */
static inline Model
model(int64_t opset, const char *op, int nin, const char *const *in, int nout,
      const char *const *out)
{
    Model r = model_empty(opset);
    add_node(&r, op, "n1", nin, in, nout, out);
    return r;
}

/* A tensor value-info of ONNX element type elem; dims < 0 become the symbolic dim "N". */
static inline Onnx__ValueInfoProto *
vinfo(const char *name, int elem, int rank, const int64_t *dims)
{
    Onnx__ValueInfoProto *v = tnew(sizeof *v);
    Onnx__TypeProto *tp = tnew(sizeof *tp);
    Onnx__TypeProto__Tensor *tt = tnew(sizeof *tt);
    Onnx__TensorShapeProto *sh = tnew(sizeof *sh);
    onnx__value_info_proto__init(v);
    onnx__type_proto__init(tp);
    onnx__type_proto__tensor__init(tt);
    onnx__tensor_shape_proto__init(sh);
    sh->n_dim = (size_t)rank;
    sh->dim = tnew(sizeof *sh->dim * (size_t)(rank + 1));
    for (int i = 0; i < rank; i++) {
        Onnx__TensorShapeProto__Dimension *d = tnew(sizeof *d);
        onnx__tensor_shape_proto__dimension__init(d);
        if (dims[i] < 0) {
            d->value_case = ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_PARAM;
            d->dim_param = tstr("N");
        } else {
            d->value_case = ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_VALUE;
            d->dim_value = dims[i];
        }
        sh->dim[i] = d;
    }
    tt->has_elem_type = 1;
    tt->elem_type = elem;
    tt->shape = sh;
    tp->value_case = ONNX__TYPE_PROTO__VALUE_TENSOR_TYPE;
    tp->tensor_type = tt;
    v->name = tstr(name);
    v->type = tp;
    return v;
}

/* vinfo(name, elem, rank, dims) added as a graph output when output, else an input. */
static inline void
add_io(Model *m, int output, const char *name, int elem, int rank, const int64_t *dims)
{
    Onnx__ValueInfoProto *v = vinfo(name, elem, rank, dims);
    if (output)
        m->g->output[m->g->n_output++] = v;
    else
        m->g->input[m->g->n_input++] = v;
}

/* An initializer of ONNX element type elem with nbytes of raw data. */
static inline void
add_init(Model *m, const char *name, int elem, int rank, const int64_t *dims,
         const void *data, size_t nbytes)
{
    Onnx__TensorProto *t = tnew(sizeof *t);
    onnx__tensor_proto__init(t);
    t->name = tstr(name);
    t->has_data_type = 1;
    t->data_type = elem;
    t->n_dims = (size_t)rank;
    t->dims = tnew(sizeof(int64_t) * (size_t)(rank + 1));
    if (rank)
        memcpy(t->dims, dims, sizeof(int64_t) * (size_t)rank);
    t->has_raw_data = 1;
    t->raw_data.len = nbytes;
    t->raw_data.data = memcpy(tnew(nbytes + 1), data, nbytes);
    m->g->initializer[m->g->n_initializer++] = t;
}

/* An attribute of m->n with only its name and type set; the attr_* fill the value. */
static inline Onnx__AttributeProto *
add_attr(Model *m, const char *name, Onnx__AttributeProto__AttributeType type)
{
    Onnx__AttributeProto *a = tnew(sizeof *a);
    onnx__attribute_proto__init(a);
    a->name = tstr(name);
    a->has_type = 1;
    a->type = type;
    m->n->attribute[m->n->n_attribute++] = a;
    return a;
}

static inline void
attr_i(Model *m, const char *name, int64_t v)
{
    Onnx__AttributeProto *a = add_attr(m, name, ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INT);
    a->has_i = 1;
    a->i = v;
}

static inline void
attr_f(Model *m, const char *name, float v)
{
    Onnx__AttributeProto *a = add_attr(m, name, ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__FLOAT);
    a->has_f = 1;
    a->f = v;
}

static inline void
attr_s(Model *m, const char *name, const char *v)
{
    Onnx__AttributeProto *a = add_attr(m, name, ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__STRING);
    a->has_s = 1;
    a->s.len = strlen(v);
    a->s.data = (uint8_t *)tstr(v);
}

static inline void
attr_ints(Model *m, const char *name, int n, const int64_t *v)
{
    Onnx__AttributeProto *a = add_attr(m, name, ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INTS);
    a->ints = tnew(sizeof(int64_t) * (size_t)n);
    memcpy(a->ints, v, sizeof(int64_t) * (size_t)n);
    a->n_ints = (size_t)n;
}

static inline void
write_bytes(const char *path, const void *buf, size_t len)
{
    FILE *f = fopen(path, "wb");
    CU_ASSERT_FATAL(f != NULL);
    CU_ASSERT(fwrite(buf, 1, len, f) == len);
    fclose(f);
}

/* Packs m into path; returns the packed size. */
static inline size_t
save(const Model *m, const char *path)
{
    size_t len = onnx__model_proto__get_packed_size(m->m);
    uint8_t *buf = malloc(len + 1);
    CU_ASSERT_FATAL(buf != NULL);
    onnx__model_proto__pack(m->m, buf);
    write_bytes(path, buf, len);
    free(buf);
    return len;
}

/* Packs m into the scratch folder's m.onnx and imports it; NULL on an import error (in d). */
static inline Graph *
import(const Model *m, Diag *d)
{
    save(m, tpath("m.onnx"));
    return onnx_import_file(tpath("m.onnx"), NULL, 0, d);
}

/* The messages of d, "; "-joined, for substring checks. */
static inline const char *
errs(const Diag *d)
{
    static char buf[2048];
    size_t n = 0;
    buf[0] = 0;
    for (int i = 0; i < d->nmsg && n < sizeof buf; i++)
        n += (size_t)snprintf(buf + n, sizeof buf - n, "%s%s", i ? "; " : "", d->msg[i].msg);
    return buf;
}

/* errs with each message's location (the ONNX node or initializer) before it. */
static inline const char *
errs_loc(const Diag *d)
{
    static char buf[4096];
    size_t n = 0;
    buf[0] = 0;
    for (int i = 0; i < d->nmsg && n < sizeof buf; i++)
        n += (size_t)snprintf(buf + n, sizeof buf - n, "%s%s%s%s", i ? "; " : "",
                              d->msg[i].loc.file ? d->msg[i].loc.file : "",
                              d->msg[i].loc.file ? ": " : "", d->msg[i].msg);
    return buf;
}

/* Imports m expecting failure with want in the messages; frees the pool. */
static inline void
expect_error(const Model *m, const char *want)
{
    Diag d;
    diag_init(&d);
    Graph *g = import(m, &d);
    CU_ASSERT_PTR_NULL(g);
    if (!strstr(errs(&d), want))
        fprintf(stderr, "\n  expected '%s' in: %s\n", want, errs(&d));
    CU_ASSERT_PTR_NOT_NULL(strstr(errs(&d), want));
    ir_graph_free(g);
    diag_free(&d);
    pool_free();
}

/* Imports m, runs it on the one f32 input x and compares output k's bytes with want
 * exactly; frees the pool. */
static inline void
expect_run(const Model *m, const float *x, int k, const void *want, size_t nbytes)
{
    Diag d;
    diag_init(&d);
    Graph *g = import(m, &d);
    if (!g)
        fprintf(stderr, "\n  import failed: %s\n", errs(&d));
    CU_ASSERT_PTR_NOT_NULL_FATAL(g);
    IrTensor in = { g->values[g->inputs[0]].type, (void *)x }, out[2];
    int exit_taken;
    CU_ASSERT_FATAL(g->noutput <= 2);
    CU_ASSERT_EQUAL_FATAL(ir_interp_run(g, &in, out, &exit_taken, &d), 0);
    int64_t bytes = 0;
    CU_ASSERT(ir_type_bytes(&out[k].type, &bytes) == 0 && bytes == (int64_t)nbytes);
    CU_ASSERT(bytes == (int64_t)nbytes && memcmp(out[k].data, want, nbytes) == 0);
    for (int i = 0; i < g->noutput; i++)
        ir_tensor_free(&out[i]);
    ir_graph_free(g);
    diag_free(&d);
    pool_free();
}

#endif
