/* tests/onnx/conformance.c — runs the ONNX backend node tests (Debian libonnx-testdata)
 * through kiln: import -> passes -> reference interpreter (and the C or LLVM backend) ->
 * compare with the expected outputs at rtol 1e-3, atol 1e-7 (exact for integer and bool
 * results).
 *
 * The claim rule (doc/onnx.md): a test is SKIPPED only when kiln does not claim what it
 * tests — an op the importer's table has no row for at the model's opset and domain, an
 * operand element type outside the op's row, a tensor of an element type kiln has no
 * such type for (f16, bf16, f64, i16, u16, u32, u64, strings), or a graph input or output
 * that is not a tensor (sequences, optionals).  Everything else — every attribute variant,
 * zero-size tensors — must PASS: an unsupported variant of a claimed op is a FAIL, and any
 * FAIL makes the exit status 1.
 * Graph inputs that feed constant-only operands (Reshape's shape, ...) are bound to the
 * test's input values at import, as a deployed model would have them as initializers.
 * The reference interpreter always runs; with --kiln a backend runs too, through
 * `kiln run --backend=c|llvm` (backend_cli.c), and must match the same expected outputs.
 *
 *   onnx_conformance [-v] [-k SUBSTR] [--passes PIPELINE] [--kiln KILN [--backend c|llvm]
 *                    [--c-passes P]] [--expect LIST] NODE_DIR
 *       run every test_* folder of NODE_DIR.  PIPELINE (default shape-infer) runs before
 *       the interpreter; P (default shape-infer,fold,dce,cse,fuse,memplan, what -O2
 *       runs) is the backend's.
 *       With LIST (tests/onnx/expected_pass.txt) a listed test that does not pass fails.
 *   onnx_conformance --list-ops                  print the claimed-op table (Markdown)
 *   onnx_conformance --check-doc FILE            fail if FILE's generated table is stale */
#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include "harness.h"
#include "onnx_internal.h"
#include "passes.h"

enum { MAX_IO = 64 };
enum { R_PASS, R_FAIL, R_SKIP };

typedef struct {
    int       n;                       /* tensors read */
    IrTensor  t[MAX_IO];               /* data malloc-owned */
    const char *name[MAX_IO];          /* graph input names (inputs only), borrowed */
} TensorSet;

typedef struct {
    char msg[600];                     /* reason for FAIL / SKIP */
} Result;

typedef struct {
    const char    *pipeline;           /* passes run before the interpreter */
    int            verbose;            /* dump each imported graph to stderr */
    HarnessBackend c;                  /* c.kiln != NULL: also run this backend */
} Config;

static unsigned char *
read_all(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    unsigned char *buf = NULL;
    size_t cap = 0, n = 0;
    for (;;) {
        if (n == cap) {
            cap = cap ? cap * 2 : 65536;
            unsigned char *nb = realloc(buf, cap);
            if (!nb) {
                free(buf);
                fclose(f);
                return NULL;
            }
            buf = nb;
        }
        size_t got = fread(buf + n, 1, cap - n, f);
        n += got;
        if (got == 0)
            break;
    }
    fclose(f);
    *len = n;
    return buf;
}

static void
set_free(TensorSet *s)
{
    for (int i = 0; i < s->n; i++)
        ir_tensor_free(&s->t[i]);
    s->n = 0;
}

/* Reads <dir>/<prefix>_<i>.pb for i = 0.. until one is missing.  R_SKIP on a tensor of an
 * element type kiln does not have, R_FAIL on one it cannot read. */
static int
read_set(const char *dir, const char *prefix, TensorSet *s, Result *r)
{
    char path[4200];
    s->n = 0;
    for (int i = 0; i < MAX_IO; i++) {
        size_t len;
        snprintf(path, sizeof path, "%s/%s_%d.pb", dir, prefix, i);
        unsigned char *buf = read_all(path, &len);
        if (!buf)
            return R_PASS;
        Onnx__TensorProto *tp = onnx__tensor_proto__unpack(NULL, len, buf);
        free(buf);
        if (!tp) {
            snprintf(r->msg, sizeof r->msg, "%s_%d.pb: not a TensorProto (sequence/optional?)",
                     prefix, i);
            return R_SKIP;
        }
        char err[300];
        int rc = R_PASS;
        if (onnx_dtype(tp->data_type) == DT_NONE) {
            snprintf(r->msg, sizeof r->msg, "%s_%d.pb: kiln has no element type %s", prefix,
                     i, onnx_dtype_name(tp->data_type));
            rc = R_SKIP;
        } else if (onnx_tensor_read(tp, &s->t[s->n], err, sizeof err) < 0) {
            snprintf(r->msg, sizeof r->msg, "%s_%d.pb: %s", prefix, i, err);
            rc = R_FAIL;
        } else {
            s->n++;
        }
        onnx__tensor_proto__free_unpacked(tp, NULL);
        if (rc != R_PASS)
            return rc;
    }
    return R_PASS;
}

/* ------------------------------------------------------------------ model scan */

typedef struct {
    Onnx__ModelProto *m;               /* decoded model */
    int64_t           opset;           /* default-domain opset */
    int               nin;             /* graph inputs that are not initializers */
    const char       *in[MAX_IO];      /* their names, in order */
} ModelInfo;

static int
is_initializer(const Onnx__GraphProto *g, const char *name)
{
    for (size_t i = 0; i < g->n_initializer; i++)
        if (g->initializer[i]->name && strcmp(g->initializer[i]->name, name) == 0)
            return 1;
    return 0;
}

/* Decodes the model; R_SKIP with the first unclaimed op. */
static int
scan_model(const char *path, ModelInfo *mi, Result *r)
{
    size_t len;
    char err[300];
    unsigned char *buf = read_all(path, &len);
    memset(mi, 0, sizeof *mi);
    if (!buf || onnx_wire_check(buf, len, ONNX_MAX_DEPTH, err, sizeof err) < 0 ||
        !(mi->m = onnx__model_proto__unpack(NULL, len, buf)) || !mi->m->graph) {
        free(buf);
        snprintf(r->msg, sizeof r->msg, "cannot decode model.onnx");
        return R_FAIL;
    }
    free(buf);
    for (size_t i = 0; i < mi->m->n_opset_import; i++) {
        const char *d = mi->m->opset_import[i]->domain;
        if (!d || !d[0] || strcmp(d, "ai.onnx") == 0)
            mi->opset = mi->m->opset_import[i]->version;
    }
    const Onnx__GraphProto *g = mi->m->graph;
    for (size_t i = 0; i < g->n_node; i++)
        if (!onnx_op_claimed(g->node[i]->domain, g->node[i]->op_type, mi->opset)) {
            snprintf(r->msg, sizeof r->msg, "unclaimed op %s (opset %lld)", g->node[i]->op_type,
                     (long long)mi->opset);
            return R_SKIP;
        }
    for (size_t i = 0; i < g->n_input + g->n_output; i++) {
        const Onnx__ValueInfoProto *vi = i < g->n_input ? g->input[i] : g->output[i - g->n_input];
        if (!vi->type || vi->type->value_case != ONNX__TYPE_PROTO__VALUE_TENSOR_TYPE) {
            snprintf(r->msg, sizeof r->msg, "'%s' is not a tensor", vi->name);
            return R_SKIP;
        }
    }
    for (size_t i = 0; i < g->n_input && mi->nin < MAX_IO; i++)
        if (!is_initializer(g, g->input[i]->name))
            mi->in[mi->nin++] = g->input[i]->name;
    return R_PASS;
}

/* ------------------------------------------------------------------ one data set */

static int
bind_cb(void *ctx, const char *name, IrTensor *out)
{
    const TensorSet *s = ctx;
    for (int i = 0; i < s->n; i++)
        if (s->name[i] && strcmp(s->name[i], name) == 0) {
            int64_t bytes;
            if (ir_type_bytes(&s->t[i].type, &bytes) < 0)
                return -1;
            out->type = s->t[i].type;
            out->data = malloc((size_t)bytes ? (size_t)bytes : 1);
            if (!out->data)
                return -1;
            memcpy(out->data, s->t[i].data, (size_t)bytes);
            return 0;
        }
    return -1;
}

static double
elem(const IrTensor *t, int64_t i)
{
    switch (t->type.dtype) {
    case DT_F32: return ((const float *)t->data)[i];
    case DT_I32: return ((const int32_t *)t->data)[i];
    case DT_I64: return (double)((const int64_t *)t->data)[i];
    case DT_I8:  return ((const int8_t *)t->data)[i];
    default:     return ((const uint8_t *)t->data)[i];
    }
}

/* 0 when got matches want: same dtype and shape, values within tolerance. */
static int
compare(const IrTensor *got, const IrTensor *want, int k, Result *r)
{
    char a[200], b[200];
    int64_t n;
    if (!ir_type_equal(&got->type, &want->type) || ir_type_numel(&want->type, &n) < 0) {
        snprintf(r->msg, sizeof r->msg, "output %d: expected %s, got %s", k,
                 ir_type_str(&want->type, a, sizeof a), ir_type_str(&got->type, b, sizeof b));
        return -1;
    }
    for (int64_t i = 0; i < n; i++) {
        double x = elem(got, i), y = elem(want, i);
        int ok;
        if (want->type.dtype == DT_I64)
            ok = ((const int64_t *)got->data)[i] == ((const int64_t *)want->data)[i];
        else if (want->type.dtype != DT_F32)
            ok = x == y;
        else if (isnan(y) || isinf(y))
            ok = isnan(y) ? isnan(x) : x == y;
        else
            ok = fabs(x - y) <= 1e-7 + 1e-3 * fabs(y);
        if (!ok) {
            snprintf(r->msg, sizeof r->msg, "output %d: element %lld is %.9g, expected %.9g", k,
                     (long long)i, x, y);
            return -1;
        }
    }
    return 0;
}

/* Compares outs[0..n) with want; frees outs.  R_PASS or R_FAIL (message prefixed). */
static int
check_outputs(IrTensor *outs, int n, const TensorSet *want, const char *who, Result *r)
{
    int rc = R_PASS;
    for (int k = 0; k < n; k++) {
        if (rc == R_PASS && compare(&outs[k], &want->t[k], k, r) < 0) {
            char msg[sizeof r->msg];
            memcpy(msg, r->msg, sizeof msg);
            snprintf(r->msg, sizeof r->msg, "%s: %.500s", who, msg);
            rc = R_FAIL;
        }
        ir_tensor_free(&outs[k]);
    }
    return rc;
}

/* Graph inputs in API order from the test's named inputs; -1 when one is missing. */
static int
bind_args(const Graph *g, const TensorSet *in, IrTensor *args, Result *r)
{
    for (int i = 0; i < g->ninput; i++) {
        const char *name = g->values[g->inputs[i]].name;
        int found = 0;
        for (int k = 0; k < in->n && !found; k++)
            if (in->name[k] && strcmp(in->name[k], name) == 0) {
                args[i] = in->t[k];
                found = 1;
            }
        if (!found) {
            snprintf(r->msg, sizeof r->msg, "no test data for input '%s'", name);
            return -1;
        }
    }
    return 0;
}

static int
run_graph(Graph *g, const TensorSet *in, const TensorSet *want, const Config *cf, Result *r)
{
    IrTensor args[MAX_IO], outs[MAX_IO];
    Diag d;
    int exit_taken = 0;
    if (g->ninput > MAX_IO || g->noutput != want->n) {
        snprintf(r->msg, sizeof r->msg, "%d outputs, the test expects %d", g->noutput, want->n);
        return R_FAIL;
    }
    if (bind_args(g, in, args, r) < 0)
        return R_FAIL;
    diag_init(&d);
    memset(outs, 0, sizeof outs);
    if (ir_interp_run(g, args, outs, &exit_taken, &d) != 0) {
        snprintf(r->msg, sizeof r->msg, "interpreter: %s", d.nmsg ? d.msg[0].msg : "failed");
        diag_free(&d);
        return R_FAIL;
    }
    diag_free(&d);
    int rc = check_outputs(outs, g->noutput, want, "interpreter", r);
    if (rc != R_PASS || !cf->c.kiln)
        return rc;
    memset(outs, 0, sizeof outs);
    if (harness_run_backend(&cf->c, g, args, outs, r->msg, sizeof r->msg) < 0) {
        for (int k = 0; k < g->noutput; k++)
            ir_tensor_free(&outs[k]);
        return R_FAIL;
    }
    return check_outputs(outs, g->noutput, want, cf->c.backend, r);
}

static int
run_set(const char *model, const char *setdir, const ModelInfo *mi, const Config *cf,
        Result *r)
{
    TensorSet in, want;
    OnnxShapeFix fix[MAX_IO];
    int rc = read_set(setdir, "input", &in, r);
    if (rc == R_PASS)
        rc = read_set(setdir, "output", &want, r);
    else
        want.n = 0;
    if (rc != R_PASS)
        goto out;
    for (int i = 0; i < in.n; i++) {
        in.name[i] = i < mi->nin ? mi->in[i] : NULL;
        fix[i] = (OnnxShapeFix){ .name = in.name[i] ? in.name[i] : "", .rank = in.t[i].type.rank };
        memcpy(fix[i].dims, in.t[i].type.dims, sizeof fix[i].dims);
    }
    OnnxImportOpts o = { .fix = fix, .nfix = in.n < mi->nin ? in.n : mi->nin, .bind = bind_cb,
                         .bind_ctx = &in };
    Diag d;
    diag_init(&d);
    Graph *g = onnx_import_file_opts(model, &o, &d);
    PassOptions po = { .verify_each = 1 };
    if (!g) {
        rc = o.unclaimed ? R_SKIP : R_FAIL;
        snprintf(r->msg, sizeof r->msg, "%s: %s", o.unclaimed ? "not claimed" : "import",
                 d.nmsg ? d.msg[0].msg : "failed");
    } else if (pass_run_pipeline(g, cf->pipeline, &po, NULL, &d) != 0) {
        rc = R_FAIL;
        snprintf(r->msg, sizeof r->msg, "%s: %s", cf->pipeline, d.nmsg ? d.msg[0].msg : "failed");
    } else {
        rc = run_graph(g, &in, &want, cf, r);
    }
    if (cf->verbose && g)
        ir_graph_print(g, stderr);
    ir_graph_free(g);
    diag_free(&d);
out:
    set_free(&in);
    set_free(&want);
    return rc;
}

/* ------------------------------------------------------------------ driver */

static int
is_dir(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

static int
prefixed(const struct dirent *e, const char *p)
{
    return strncmp(e->d_name, p, strlen(p)) == 0;
}

static int
is_test(const struct dirent *e)
{
    return prefixed(e, "test_");
}

static int
is_set(const struct dirent *e)
{
    return prefixed(e, "test_data_set_");
}

static int
run_test(const char *root, const char *name, const Config *cf, Result *r)
{
    char dir[4096], model[4200], setdir[8192];
    ModelInfo mi;
    struct dirent **sets;
    snprintf(dir, sizeof dir, "%s/%s", root, name);
    snprintf(model, sizeof model, "%s/model.onnx", dir);
    int rc = scan_model(model, &mi, r);
    int nset = rc == R_PASS ? scandir(dir, &sets, is_set, alphasort) : 0;
    if (rc == R_PASS && nset <= 0) {
        snprintf(r->msg, sizeof r->msg, "no test_data_set_*");
        rc = R_FAIL;
    }
    for (int i = 0; i < nset; i++) {
        snprintf(setdir, sizeof setdir, "%s/%s", dir, sets[i]->d_name);
        if (rc == R_PASS)
            rc = run_set(model, setdir, &mi, cf, r);
        free(sets[i]);
    }
    if (nset > 0)
        free(sets);
    if (mi.m)
        onnx__model_proto__free_unpacked(mi.m, NULL);
    return rc;
}

/* The expected-pass list: one test name per line ('#' comments).  A listed test that does
 * not pass is a regression (a claim broke, or turned into a skip); a passing test that is
 * not listed is reported so the list can grow. */
typedef struct {
    char  *text;             /* the file, lines NUL-terminated in place */
    char **name;             /* listed test names, pointing into text */
    int    n;                /* entries in name */
    char  *seen;             /* seen[i]: test i passed in this run */
} Expect;

static int
expect_load(const char *path, Expect *e)
{
    size_t len;
    memset(e, 0, sizeof *e);
    if (!path)
        return 0;
    if (!(e->text = (char *)read_all(path, &len)) || !(e->text = realloc(e->text, len + 1))) {
        fprintf(stderr, "onnx_conformance: cannot read %s\n", path);
        return -1;
    }
    e->text[len] = 0;
    e->name = calloc(len / 2 + 1, sizeof *e->name);
    e->seen = calloc(len / 2 + 1, 1);
    if (!e->name || !e->seen)
        return -1;
    for (char *line = strtok(e->text, "\n"); line; line = strtok(NULL, "\n"))
        if (line[0] && line[0] != '#')
            e->name[e->n++] = line;
    return 0;
}

/* 1 when name is listed; marks it seen when it passed. */
static int
expect_mark(Expect *e, const char *name, int passed)
{
    for (int i = 0; i < e->n; i++)
        if (strcmp(e->name[i], name) == 0) {
            e->seen[i] |= passed;
            return 1;
        }
    return 0;
}

/* Number of listed tests that did not pass (each printed as REGRESSION). */
static int
expect_check(const Expect *e, const char *filter)
{
    int bad = 0;
    for (int i = 0; i < e->n; i++)
        if (!e->seen[i] && (!filter || strstr(e->name[i], filter))) {
            printf("REGRESSION %s: listed as passing, did not pass\n", e->name[i]);
            bad++;
        }
    return bad;
}

static void
expect_free(Expect *e)
{
    free(e->text);
    free(e->name);
    free(e->seen);
}

static int
run_all(const char *root, const char *filter, const Config *cf, const char *expect_path)
{
    struct dirent **ents;
    int n = scandir(root, &ents, is_test, alphasort), count[3] = { 0, 0, 0 }, fresh = 0;
    static const char *const tag[3] = { "PASS", "FAIL", "SKIP" };
    Expect ex;
    if (n < 0 || expect_load(expect_path, &ex) < 0) {
        fprintf(stderr, "onnx_conformance: cannot read %s\n", root);
        return 2;
    }
    for (int i = 0; i < n; i++) {
        char path[4200];
        snprintf(path, sizeof path, "%s/%s", root, ents[i]->d_name);
        if ((!filter || strstr(ents[i]->d_name, filter)) && is_dir(path)) {
            Result r = { "" };
            int rc = run_test(root, ents[i]->d_name, cf, &r);
            count[rc]++;
            printf("%s %s%s%s\n", tag[rc], ents[i]->d_name, r.msg[0] ? ": " : "", r.msg);
            if (!expect_mark(&ex, ents[i]->d_name, rc == R_PASS) && rc == R_PASS && expect_path)
                fresh++;
        }
        free(ents[i]);
    }
    free(ents);
    int regressed = expect_check(&ex, filter);
    expect_free(&ex);
    if (fresh)
        printf("note: %d passing tests are not in %s yet\n", fresh, expect_path);
    printf("%d passed, %d failed, %d skipped\n", count[R_PASS], count[R_FAIL], count[R_SKIP]);
    return count[R_FAIL] || regressed ? 1 : 0;
}

/* The doc's table lies between these markers and must equal onnx_op_list's output. */
#define DOC_BEGIN "<!-- BEGIN GENERATED OP TABLE (onnx_conformance --list-ops) -->\n"
#define DOC_END   "<!-- END GENERATED OP TABLE -->"

static int
check_doc(const char *path)
{
    size_t len, tlen;
    char *doc = (char *)read_all(path, &len), *table = NULL;
    FILE *mem = open_memstream(&table, &tlen);
    int rc = 1;
    if (!doc || !mem) {
        fprintf(stderr, "onnx_conformance: cannot read %s\n", path);
        free(doc);
        return 1;
    }
    onnx_op_list(mem);
    fclose(mem);
    doc = realloc(doc, len + 1);
    doc[len] = 0;
    char *b = strstr(doc, DOC_BEGIN), *e = b ? strstr(b, DOC_END) : NULL;
    if (!b || !e)
        fprintf(stderr, "%s: generated op table markers not found\n", path);
    else if ((size_t)(e - b - strlen(DOC_BEGIN)) != tlen ||
             memcmp(b + strlen(DOC_BEGIN), table, tlen) != 0)
        fprintf(stderr, "%s: the op table is stale; regenerate it with "
                "onnx_conformance --list-ops\n", path);
    else
        rc = 0;
    free(doc);
    free(table);
    return rc;
}

int
main(int argc, char **argv)
{
    const char *filter = NULL, *root = NULL, *expect = NULL;
    Config cf = { .pipeline = "shape-infer",
                  .c = { .backend = "c", .pipeline = "shape-infer,fold,dce,cse,fuse,memplan" } };
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--list-ops") == 0) {
            onnx_op_list(stdout);
            return 0;
        } else if (strcmp(argv[i], "--check-doc") == 0 && i + 1 < argc) {
            return check_doc(argv[i + 1]);
        } else if (strcmp(argv[i], "-v") == 0) {
            cf.verbose = 1;
        } else if (strcmp(argv[i], "--passes") == 0 && i + 1 < argc) {
            cf.pipeline = argv[++i];
        } else if (strcmp(argv[i], "--kiln") == 0 && i + 1 < argc) {
            cf.c.kiln = argv[++i];
        } else if (strcmp(argv[i], "--backend") == 0 && i + 1 < argc) {
            cf.c.backend = argv[++i];
            if (strcmp(cf.c.backend, "c") != 0 && strcmp(cf.c.backend, "llvm") != 0) {
                fprintf(stderr, "onnx_conformance: --backend: expected c or llvm, got '%s'\n",
                        cf.c.backend);
                return 2;
            }
        } else if (strcmp(argv[i], "--c-passes") == 0 && i + 1 < argc) {
            cf.c.pipeline = argv[++i];
        } else if (strcmp(argv[i], "-k") == 0 && i + 1 < argc) {
            filter = argv[++i];
        } else if (strcmp(argv[i], "--expect") == 0 && i + 1 < argc) {
            expect = argv[++i];
        } else {
            root = argv[i];
        }
    }
    if (!root) {
        fprintf(stderr, "usage: onnx_conformance [-v] [-k SUBSTR] [--passes PIPELINE] "
                "[--kiln KILN [--backend c|llvm] [--c-passes PIPELINE]] [--expect LIST] NODE_DIR | --list-ops | "
                "--check-doc FILE\n");
        return 2;
    }
    return run_all(root, filter, &cf, expect);
}
