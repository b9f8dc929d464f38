/* tests/unit/test_ir_text.c — attributes by name (attr.c), the text IR printer and parser
 * (print.c, parse.c: round trips, located errors, a mutation fuzz loop) and Graphviz output.
 * Expected values are written out by hand from doc/ir.md. */
#include <CUnit/Basic.h>
#include "cu_run.h"
#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "ir.h"

static const SrcLoc noloc = { 0 };

/* ------------------------------------------------------------------ helpers */

static AttrVal
av_int(int64_t i)
{
    return (AttrVal){ .kind = AV_INT, .i = i, .f = (double)i };
}

static AttrVal
av_float(double f)
{
    return (AttrVal){ .kind = AV_FLOAT, .f = f };
}

static AttrVal
av_list(const double *x, int n)
{
    return (AttrVal){ .kind = AV_LIST, .n = n, .list = x };
}

static AttrVal
av_str(const char *s)
{
    return (AttrVal){ .kind = AV_STRING, .s = s };
}

/* Sets key on a; returns ir_attr_set's result, message in err. */
static int
set(Graph *g, Op op, Attr *a, const char *key, AttrVal v, char *err)
{
    return ir_attr_set(g, op, a, key, &v, err, 256);
}

static char *
attr_str(Op op, const Attr *a)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    ir_attr_print(op, a, f);
    fclose(f);
    return buf;
}

/* Parses text named `file`; returns the graph (NULL on error) with messages in d. */
static Graph *
parse(const char *text, const char *file, Diag *d)
{
    diag_init(d);
    return ir_parse_text(text, strlen(text), file, d);
}

/* 1 if some message in d is at line:col and contains `part`. */
static int
has_error(const Diag *d, int line, int col, const char *part)
{
    for (int i = 0; i < d->nmsg; i++)
        if (d->msg[i].loc.line == line && d->msg[i].loc.col == col &&
            strstr(d->msg[i].msg, part))
            return 1;
    return 0;
}

static void
dump_diag(const Diag *d)
{
    for (int i = 0; i < d->nmsg; i++)
        fprintf(stderr, "  [%d:%d] %s\n", d->msg[i].loc.line, d->msg[i].loc.col, d->msg[i].msg);
}

/* print(g), then print(parse(print(g))) must be the same bytes.  Returns print(g). */
static char *
round_trip(const Graph *g, const char *file)
{
    char *s1 = ir_graph_print_str(g);
    Diag d;
    Graph *g2 = parse(s1, file, &d);
    if (!g2) {
        fprintf(stderr, "\n%s", s1);
        dump_diag(&d);
    }
    CU_ASSERT_PTR_NOT_NULL_FATAL(g2);
    char *s2 = ir_graph_print_str(g2);
    if (strcmp(s1, s2) != 0)
        fprintf(stderr, "\nfirst:\n%s\nsecond:\n%s", s1, s2);
    CU_ASSERT_STRING_EQUAL(s1, s2);
    free(s2);
    ir_graph_free(g2);
    diag_free(&d);
    return s1;
}

/* ------------------------------------------------------------------ attributes */

static void
test_attr_conv(void)
{
    Graph *g = ir_graph_new("t");
    Attr a;
    char err[256];
    ir_attr_default(OP_CONV2D, &a);
    CU_ASSERT_EQUAL(a.conv.stride[0], 1);
    CU_ASSERT_EQUAL(a.conv.dilation[1], 1);
    CU_ASSERT_EQUAL(a.conv.groups, 1);
    CU_ASSERT_EQUAL(set(g, OP_CONV2D, &a, "stride", av_int(2), err), 0);
    CU_ASSERT(a.conv.stride[0] == 2 && a.conv.stride[1] == 2);
    double hw[] = { 2, 3 }, four[] = { 1, 2, 3, 4 }, three[] = { 1, 2, 3 };
    CU_ASSERT_EQUAL(set(g, OP_CONV2D, &a, "dilation", av_list(hw, 2), err), 0);
    CU_ASSERT(a.conv.dilation[0] == 2 && a.conv.dilation[1] == 3);
    CU_ASSERT_EQUAL(set(g, OP_CONV2D, &a, "pad", av_int(1), err), 0);
    CU_ASSERT(a.conv.pad[0] == 1 && a.conv.pad[1] == 1 && a.conv.pad[2] == 1 && a.conv.pad[3] == 1);
    CU_ASSERT_EQUAL(set(g, OP_CONV2D, &a, "pad", av_list(hw, 2), err), 0);
    CU_ASSERT(a.conv.pad[0] == 2 && a.conv.pad[1] == 3 && a.conv.pad[2] == 2 && a.conv.pad[3] == 3);
    CU_ASSERT_EQUAL(set(g, OP_CONV2D, &a, "pad", av_list(four, 4), err), 0);
    CU_ASSERT(a.conv.pad[0] == 1 && a.conv.pad[1] == 2 && a.conv.pad[2] == 3 && a.conv.pad[3] == 4);
    CU_ASSERT_EQUAL(set(g, OP_CONV2D, &a, "groups", av_int(32), err), 0);
    CU_ASSERT_EQUAL(a.conv.groups, 32);
    char *s = attr_str(OP_CONV2D, &a);
    CU_ASSERT_STRING_EQUAL(s, " {stride = 2, pad = [1, 2, 3, 4], dilation = [2, 3], groups = 32}");
    free(s);

    CU_ASSERT_EQUAL(set(g, OP_CONV2D, &a, "strid", av_int(2), err), -1);
    CU_ASSERT_STRING_EQUAL(err, "conv2d has no attribute 'strid' (expected stride, dilation, "
                                "pad, groups)");
    CU_ASSERT_EQUAL(set(g, OP_CONV2D, &a, "stride", av_list(three, 3), err), -1);
    CU_ASSERT_STRING_EQUAL(err, "stride: expected 1 or 2 integers, got 3");
    CU_ASSERT_EQUAL(set(g, OP_CONV2D, &a, "pad", av_list(three, 3), err), -1);
    CU_ASSERT_STRING_EQUAL(err, "pad: expected 1, 2 or 4 integers, got 3");
    CU_ASSERT_EQUAL(set(g, OP_CONV2D, &a, "groups", av_int(0), err), -1);
    CU_ASSERT_STRING_EQUAL(err, "groups: expected an integer in [1, 2147483647], got 0");
    CU_ASSERT_EQUAL(set(g, OP_CONV2D, &a, "stride", av_float(1.5), err), -1);
    CU_ASSERT_STRING_EQUAL(err, "stride: expected integers, got a float");
    CU_ASSERT_EQUAL(set(g, OP_RELU, &a, "alpha", av_int(1), err), -1);
    CU_ASSERT_STRING_EQUAL(err, "relu has no attribute 'alpha' (it takes none)");
    ir_graph_free(g);
}

static void
test_attr_pool_scalar(void)
{
    Graph *g = ir_graph_new("t");
    Attr a;
    char err[256];
    /* stride defaults to the kernel, but only when not given before it */
    ir_attr_default(OP_MAXPOOL, &a);
    CU_ASSERT_EQUAL(set(g, OP_MAXPOOL, &a, "kernel", av_int(3), err), 0);
    CU_ASSERT(a.pool.stride[0] == 3 && a.pool.stride[1] == 3);
    char *s = attr_str(OP_MAXPOOL, &a);
    CU_ASSERT_STRING_EQUAL(s, " {kernel = 3}");
    free(s);
    ir_attr_default(OP_AVGPOOL, &a);
    CU_ASSERT_EQUAL(set(g, OP_AVGPOOL, &a, "stride", av_int(1), err), 0);
    CU_ASSERT_EQUAL(set(g, OP_AVGPOOL, &a, "kernel", av_int(2), err), 0);
    CU_ASSERT_EQUAL(set(g, OP_AVGPOOL, &a, "count_pad", av_int(1), err), 0);
    CU_ASSERT(a.pool.stride[0] == 1 && a.pool.kernel[1] == 2 && a.pool.count_pad == 1);
    s = attr_str(OP_AVGPOOL, &a);
    CU_ASSERT_STRING_EQUAL(s, " {kernel = 2, stride = 1, count_pad = 1}");
    free(s);

    ir_attr_default(OP_LEAKY_RELU, &a);
    CU_ASSERT_EQUAL(a.scalar.a, 0.01f);
    s = attr_str(OP_LEAKY_RELU, &a);
    CU_ASSERT_STRING_EQUAL(s, "");
    free(s);
    CU_ASSERT_EQUAL(set(g, OP_LEAKY_RELU, &a, "alpha", av_float(0.2), err), 0);
    s = attr_str(OP_LEAKY_RELU, &a);
    CU_ASSERT_STRING_EQUAL(s, " {alpha = 0.2}");
    free(s);
    ir_attr_default(OP_CLIP, &a);
    CU_ASSERT(a.scalar.a == -FLT_MAX && a.scalar.b == FLT_MAX);
    CU_ASSERT_EQUAL(set(g, OP_CLIP, &a, "max", av_int(6), err), 0);
    CU_ASSERT_EQUAL(a.scalar.b, 6.0f);
    CU_ASSERT_EQUAL(set(g, OP_CLIP, &a, "alpha", av_int(6), err), -1);
    CU_ASSERT_STRING_EQUAL(err, "clip has no attribute 'alpha' (expected min, max)");
    CU_ASSERT_EQUAL(set(g, OP_CLIP, &a, "min", av_str("x"), err), -1);
    CU_ASSERT_STRING_EQUAL(err, "min: expected a number, got a string");

    ir_attr_default(OP_GELU, &a);
    CU_ASSERT_EQUAL(set(g, OP_GELU, &a, "approximate", av_str("tanh"), err), 0);
    CU_ASSERT_EQUAL(a.gelu.tanh_approx, 1);
    CU_ASSERT_EQUAL(set(g, OP_GELU, &a, "approximate", av_int(0), err), 0);
    CU_ASSERT_EQUAL(a.gelu.tanh_approx, 0);
    CU_ASSERT_EQUAL(set(g, OP_GELU, &a, "approximate", av_str("fast"), err), -1);
    CU_ASSERT_STRING_EQUAL(err, "approximate: expected \"tanh\" or \"none\", got \"fast\"");
    ir_graph_free(g);
}

static void
test_attr_axis_norm_dims(void)
{
    Graph *g = ir_graph_new("t");
    Attr a;
    char err[256];
    ir_attr_default(OP_SOFTMAX, &a);
    CU_ASSERT_EQUAL(a.axis.axis, -1);
    ir_attr_default(OP_LOG_SOFTMAX, &a);
    CU_ASSERT_EQUAL(a.axis.axis, -1);
    ir_attr_default(OP_CONCAT, &a);
    CU_ASSERT_EQUAL(a.axis.axis, 0);
    ir_attr_default(OP_GATHER, &a);
    CU_ASSERT_EQUAL(a.axis.axis, 0);
    ir_attr_default(OP_FLATTEN, &a);
    CU_ASSERT_EQUAL(a.axis.axis, 1);
    CU_ASSERT_EQUAL(set(g, OP_FLATTEN, &a, "axis", av_int(-2), err), 0);
    CU_ASSERT_EQUAL(a.axis.axis, -2);
    CU_ASSERT_EQUAL(set(g, OP_FLATTEN, &a, "axis", av_int(9), err), -1);
    CU_ASSERT_STRING_EQUAL(err, "axis: expected an integer in [-8, 7], got 9");

    ir_attr_default(OP_LAYERNORM, &a);
    CU_ASSERT(a.norm.eps == 1e-5f && a.norm.axis == -1);
    ir_attr_default(OP_RMSNORM, &a);
    CU_ASSERT(a.norm.eps == 1e-5f && a.norm.axis == -1);
    ir_attr_default(OP_BATCHNORM, &a);
    CU_ASSERT(a.norm.eps == 1e-5f && a.norm.axis == 1);
    CU_ASSERT_EQUAL(set(g, OP_BATCHNORM, &a, "eps", av_float(1e-3), err), 0);
    CU_ASSERT_EQUAL(a.norm.eps, 1e-3f);

    double shape[] = { 1, -1, 64 }, perm[] = { 1, 0, 2 };
    ir_attr_default(OP_RESHAPE, &a);
    CU_ASSERT_EQUAL(set(g, OP_RESHAPE, &a, "shape", av_list(shape, 3), err), 0);
    CU_ASSERT(a.dims.rank == 3 && a.dims.v[1] == -1 && a.dims.v[2] == 64);
    char *s = attr_str(OP_RESHAPE, &a);
    CU_ASSERT_STRING_EQUAL(s, " {shape = [1, -1, 64]}");
    free(s);
    ir_attr_default(OP_TRANSPOSE, &a);
    CU_ASSERT_EQUAL(a.dims.rank, 0);           /* reverse */
    CU_ASSERT_EQUAL(set(g, OP_TRANSPOSE, &a, "perm", av_list(perm, 3), err), 0);
    CU_ASSERT(a.dims.rank == 3 && a.dims.v[0] == 1 && a.dims.v[1] == 0);
    ir_graph_free(g);
}

static void
test_attr_split_slice_pad(void)
{
    Graph *g = ir_graph_new("t");
    Attr a;
    char err[256];
    double sizes[] = { 32, 16, 16 }, st[] = { 1, -3 }, en[] = { 3, 9 }, ax[] = { 2, 0 };
    ir_attr_default(OP_SPLIT, &a);
    CU_ASSERT_EQUAL(set(g, OP_SPLIT, &a, "axis", av_int(1), err), 0);
    CU_ASSERT_EQUAL(set(g, OP_SPLIT, &a, "sizes", av_list(sizes, 3), err), 0);
    CU_ASSERT(a.split.axis == 1 && a.split.n == 3 && a.split.size[0] == 32 && a.split.size[2] == 16);

    /* positional: dims 0..1 */
    ir_attr_default(OP_SLICE, &a);
    CU_ASSERT_EQUAL(set(g, OP_SLICE, &a, "starts", av_list(st, 2), err), 0);
    CU_ASSERT(a.slice.rank == 2 && a.slice.start[1] == -3 && a.slice.end[1] == INT64_MAX &&
              a.slice.step[0] == 1);
    /* with axes: entry i moves to dim axes[i]; dim 1 becomes the full range */
    CU_ASSERT_EQUAL(set(g, OP_SLICE, &a, "ends", av_list(en, 2), err), 0);
    CU_ASSERT_EQUAL(set(g, OP_SLICE, &a, "axes", av_list(ax, 2), err), 0);
    CU_ASSERT_EQUAL(a.slice.rank, 3);
    CU_ASSERT(a.slice.start[2] == 1 && a.slice.end[2] == 3);
    CU_ASSERT(a.slice.start[0] == -3 && a.slice.end[0] == 9);
    CU_ASSERT(a.slice.start[1] == 0 && a.slice.end[1] == INT64_MAX && a.slice.step[1] == 1);
    ir_attr_default(OP_SLICE, &a);
    CU_ASSERT_EQUAL(set(g, OP_SLICE, &a, "axes", av_list(ax, 2), err), -1);
    CU_ASSERT_STRING_EQUAL(err, "axes: must follow starts, ends or steps");
    CU_ASSERT_EQUAL(set(g, OP_SLICE, &a, "starts", av_list(st, 2), err), 0);
    CU_ASSERT_EQUAL(set(g, OP_SLICE, &a, "ends", av_list(sizes, 3), err), -1);
    CU_ASSERT_STRING_EQUAL(err, "ends: expected 2 entries, got 3");

    double pads[] = { 0, 1, 2, 3 };
    ir_attr_default(OP_PAD, &a);
    CU_ASSERT_EQUAL(set(g, OP_PAD, &a, "pads", av_list(pads, 4), err), 0);
    CU_ASSERT(a.pad.rank == 2 && a.pad.before[1] == 1 && a.pad.after[0] == 2 && a.pad.after[1] == 3);
    CU_ASSERT_EQUAL(set(g, OP_PAD, &a, "pads", av_list(pads, 3), err), -1);
    CU_ASSERT_STRING_EQUAL(err, "pads: expected an even count (befores, then afters), got 3");
    ir_graph_free(g);
}

static void
test_attr_reduce_cast_quant_exit(void)
{
    Graph *g = ir_graph_new("t");
    Attr a;
    char err[256];
    double axes[] = { 0, -1 };
    ir_attr_default(OP_REDUCE_MEAN, &a);
    CU_ASSERT(a.reduce.naxes == 0 && a.reduce.keepdims == 0);
    CU_ASSERT_EQUAL(set(g, OP_REDUCE_MEAN, &a, "axes", av_list(axes, 2), err), 0);
    CU_ASSERT(a.reduce.naxes == 2 && a.reduce.axes[1] == -1);
    CU_ASSERT_EQUAL(set(g, OP_REDUCE_MEAN, &a, "axis", av_int(1), err), -1);
    CU_ASSERT_STRING_EQUAL(err, "reduce_mean has no attribute 'axis' (expected axes, keepdims)");
    ir_attr_default(OP_ARGMAX, &a);
    CU_ASSERT(a.reduce.naxes == 1 && a.reduce.axes[0] == -1);
    CU_ASSERT_EQUAL(set(g, OP_ARGMAX, &a, "axis", av_int(1), err), 0);
    CU_ASSERT_EQUAL(set(g, OP_ARGMAX, &a, "keepdims", av_int(1), err), 0);
    CU_ASSERT(a.reduce.axes[0] == 1 && a.reduce.keepdims == 1);

    ir_attr_default(OP_CAST, &a);
    AttrVal id = { .kind = AV_IDENT, .s = "i64" };
    CU_ASSERT_EQUAL(ir_attr_set(g, OP_CAST, &a, "to", &id, err, sizeof err), 0);
    CU_ASSERT_EQUAL(a.cast.to, DT_I64);
    CU_ASSERT_EQUAL(set(g, OP_CAST, &a, "to", av_str("f16"), err), -1);
    CU_ASSERT_STRING_EQUAL(err, "to: expected a dtype (f32, i32, i64, i8, u8, bool), got 'f16'");

    double sc[] = { 0.5, 0.25 }, zp[] = { 1, 2 };
    ir_attr_default(OP_QUANTIZE, &a);
    CU_ASSERT(a.quant.q.bits == 8 && a.quant.q.is_signed == 1);
    CU_ASSERT_EQUAL(set(g, OP_QUANTIZE, &a, "scale", av_float(0.1), err), 0);
    CU_ASSERT(a.quant.q.gran == QG_TENSOR && a.quant.q.nscale == 1 && a.quant.q.zero[0] == 0);
    ir_attr_default(OP_QUANTIZE, &a);
    CU_ASSERT_EQUAL(set(g, OP_QUANTIZE, &a, "scale", av_list(sc, 2), err), 0);
    CU_ASSERT_EQUAL(a.quant.q.gran, QG_AXIS);
    CU_ASSERT_EQUAL(set(g, OP_QUANTIZE, &a, "zero", av_list(zp, 2), err), 0);
    CU_ASSERT(a.quant.q.zero[1] == 2 && a.quant.q.scale[1] == 0.25f);
    CU_ASSERT_EQUAL(set(g, OP_QUANTIZE, &a, "group", av_int(32), err), 0);
    CU_ASSERT_EQUAL(a.quant.q.gran, QG_GROUP);
    CU_ASSERT_EQUAL(set(g, OP_QUANTIZE, &a, "zero", av_list(zp, 1), err), -1);
    CU_ASSERT_STRING_EQUAL(err, "zero: expected 2 entries like scale, got 1");
    CU_ASSERT_EQUAL(set(g, OP_QUANTIZE, &a, "bits", av_int(9), err), -1);
    CU_ASSERT_STRING_EQUAL(err, "bits: expected an integer in [2, 8], got 9");

    ir_attr_default(OP_EXIT_IF, &a);
    CU_ASSERT_EQUAL(a.exit.index, 1);
    CU_ASSERT_EQUAL(set(g, OP_EXIT_IF, &a, "index", av_int(0), err), -1);
    ir_graph_free(g);
}

/* ------------------------------------------------------------------ round trips */

static NodeId
op1(Graph *g, Op op, ValueId x, const char *name)
{
    NodeId n = ir_node_new(g, op, 1, &x, 1, noloc);
    ir_attr_default(op, &ir_node(g, n)->attr);
    if (name)
        ir_value_set_name(g, ir_node_out(g, n, 0), name);
    return n;
}

static ValueId
out0(Graph *g, NodeId n)
{
    return ir_node_out(g, n, 0);
}

/* One node of every attribute kind, each with a non-default attribute. */
static void
add_attr_nodes(Graph *g, ValueId x, ValueId w)
{
    char err[256];
    double hw[] = { 2, 1 }, l3[] = { 1, 0, 2 }, pads[] = { 0, 1, 2, 3 }, st[] = { 1 }, en[] = { 3 };
    ValueId xw[2] = { x, w };
    NodeId n = ir_node_new(g, OP_MATMUL, 2, xw, 1, noloc);
    CU_ASSERT_EQUAL(set(g, OP_MATMUL, &ir_node(g, n)->attr, "trans_b", av_int(1), err), 0);
    n = ir_node_new(g, OP_CONV2D, 2, xw, 1, (SrcLoc){ "m.kiln", 4, 9 });
    ir_attr_default(OP_CONV2D, &ir_node(g, n)->attr);
    CU_ASSERT_EQUAL(set(g, OP_CONV2D, &ir_node(g, n)->attr, "stride", av_list(hw, 2), err), 0);
    CU_ASSERT_EQUAL(set(g, OP_CONV2D, &ir_node(g, n)->attr, "pad", av_int(1), err), 0);
    n = op1(g, OP_MAXPOOL, x, "pool");
    CU_ASSERT_EQUAL(set(g, OP_MAXPOOL, &ir_node(g, n)->attr, "kernel", av_list(hw, 2), err), 0);
    n = op1(g, OP_CLIP, x, NULL);
    CU_ASSERT_EQUAL(set(g, OP_CLIP, &ir_node(g, n)->attr, "min", av_float(-0.5), err), 0);
    n = op1(g, OP_GELU, x, NULL);
    CU_ASSERT_EQUAL(set(g, OP_GELU, &ir_node(g, n)->attr, "approximate", av_str("tanh"), err), 0);
    n = op1(g, OP_SOFTMAX, x, NULL);
    CU_ASSERT_EQUAL(set(g, OP_SOFTMAX, &ir_node(g, n)->attr, "axis", av_int(0), err), 0);
    n = op1(g, OP_LAYERNORM, x, NULL);
    CU_ASSERT_EQUAL(set(g, OP_LAYERNORM, &ir_node(g, n)->attr, "eps", av_float(1e-6), err), 0);
    n = op1(g, OP_RESHAPE, x, NULL);
    CU_ASSERT_EQUAL(set(g, OP_RESHAPE, &ir_node(g, n)->attr, "shape", av_list(l3, 3), err), 0);
    n = op1(g, OP_TRANSPOSE, x, NULL);
    CU_ASSERT_EQUAL(set(g, OP_TRANSPOSE, &ir_node(g, n)->attr, "perm", av_list(l3, 3), err), 0);
    n = op1(g, OP_SLICE, x, NULL);
    CU_ASSERT_EQUAL(set(g, OP_SLICE, &ir_node(g, n)->attr, "starts", av_list(st, 1), err), 0);
    CU_ASSERT_EQUAL(set(g, OP_SLICE, &ir_node(g, n)->attr, "ends", av_list(en, 1), err), 0);
    CU_ASSERT_EQUAL(set(g, OP_SLICE, &ir_node(g, n)->attr, "steps", av_int(2), err), 0);
    n = op1(g, OP_PAD, x, NULL);
    CU_ASSERT_EQUAL(set(g, OP_PAD, &ir_node(g, n)->attr, "pads", av_list(pads, 4), err), 0);
    CU_ASSERT_EQUAL(set(g, OP_PAD, &ir_node(g, n)->attr, "value", av_float(-1.5), err), 0);
    n = op1(g, OP_REDUCE_SUM, x, NULL);
    CU_ASSERT_EQUAL(set(g, OP_REDUCE_SUM, &ir_node(g, n)->attr, "axes", av_list(st, 1), err), 0);
    CU_ASSERT_EQUAL(set(g, OP_REDUCE_SUM, &ir_node(g, n)->attr, "keepdims", av_int(1), err), 0);
    n = op1(g, OP_ARGMAX, x, NULL);
    CU_ASSERT_EQUAL(set(g, OP_ARGMAX, &ir_node(g, n)->attr, "axis", av_int(0), err), 0);
    n = op1(g, OP_CAST, x, NULL);
    CU_ASSERT_EQUAL(set(g, OP_CAST, &ir_node(g, n)->attr, "to", av_str("u8"), err), 0);
    op1(g, OP_FLATTEN, x, NULL);
}

/* The kitchen-sink graph: every attribute kind, an epilogue, annotations, quantized and
 * sparse types, split, exit_if, dense, hex and .npy constants, colliding names. */
static Graph *
sink_graph(const char *npy_dir)
{
    Graph *g = ir_graph_new("sink");
    g->dir = npy_dir;
    int64_t d2[] = { 4, 8 }, d1[] = { 8 };
    TensorType t48 = ir_type_make(DT_F32, 2, d2);
    ValueId x = ir_graph_add_input(g, "x", &t48);

    /* a .npy file constant */
    Diag d;
    diag_init(&d);
    TensorType ft;
    StorageId s = ir_storage_file(g, "w.npy", NULL, &ft, noloc, &d);
    CU_ASSERT_FATAL(s != 0);
    ValueId w = out0(g, ir_const_new(g, &ft, s, (SrcLoc){ "m.kiln", 2, 3 }));
    ir_value_set_name(g, w, "fc1.weight");

    /* dense (<= 16 elements) and hex (> 16) in-memory constants */
    float small[8] = { 0.5f, -1.0f, 1e-7f, 3.25f, -0.0f, 100.0f, 0.1f, 2.0f };
    TensorType t8 = ir_type_make(DT_F32, 1, d1);
    ValueId c = out0(g, ir_const_new(g, &t8, ir_storage_mem(g, small, sizeof small), noloc));
    float big[32];
    for (int i = 0; i < 32; i++)
        big[i] = (float)i * 0.37f - 3.0f;
    TensorType t48b = t48;
    ValueId cb = out0(g, ir_const_new(g, &t48b, ir_storage_mem(g, big, sizeof big), noloc));
    int64_t ints[3] = { -9007199254740993LL, 7, INT64_MIN };
    int64_t di[] = { 3 };
    TensorType ti = ir_type_make(DT_I64, 1, di);
    out0(g, ir_const_new(g, &ti, ir_storage_mem(g, ints, sizeof ints), noloc));

    /* a 2:4 sparse constant */
    float sp[8] = { 1, 0, 0, 2, 0, 3, 4, 0 };
    TensorType tsp = t8;
    tsp.sparse = (SparseFmt){ .kind = SP_NM, .n = 2, .m = 4 };
    out0(g, ir_const_new(g, &tsp, ir_storage_mem(g, sp, sizeof sp), noloc));
    tsp.sparse = (SparseFmt){ .kind = SP_BLOCK, .block = { 2, 4 } };
    TensorType tb = t48;
    tb.sparse = tsp.sparse;
    out0(g, ir_const_new(g, &tb, ir_storage_mem(g, big, sizeof big), noloc));
    tb.sparse = (SparseFmt){ .kind = SP_CSR };
    out0(g, ir_const_new(g, &tb, ir_storage_mem(g, big, sizeof big), noloc));

    /* matmul with an epilogue: add(c), relu, leaky_relu{0.2}, swapped sub(cb) */
    ValueId in[4] = { x, w, c, cb };
    NodeId mm = ir_node_new(g, OP_MATMUL, 4, in, 1, (SrcLoc){ "m.kiln", 7, 12 });
    EpiStep *epi = arena_alloc(g->arena, 4 * sizeof *epi);
    epi[0] = (EpiStep){ .op = OP_ADD, .arg = 2 };
    epi[1] = (EpiStep){ .op = OP_RELU, .arg = -1 };
    epi[2] = (EpiStep){ .op = OP_LEAKY_RELU, .arg = -1 };
    ir_attr_default(OP_LEAKY_RELU, &epi[2].attr);
    epi[2].attr.scalar.a = 0.2f;
    epi[3] = (EpiStep){ .op = OP_SUB, .arg = 3, .swap = 1 };
    ir_node(g, mm)->epi = epi;
    ir_node(g, mm)->nepi = 4;
    ValueId h = out0(g, mm);
    ir_value_set_name(g, h, "h");
    g->values[h].type = t48;

    /* names: a duplicate "h", a name with odd bytes, an all-digit name, unnamed values */
    ValueId h2 = out0(g, op1(g, OP_RELU, h, "h"));
    ValueId odd = out0(g, op1(g, OP_TANH, h2, "a-b c"));
    ValueId num = out0(g, op1(g, OP_NEG, odd, "7"));
    ValueId un = out0(g, op1(g, OP_EXP, num, NULL));
    out0(g, op1(g, OP_SIGMOID, un, "h.1"));

    /* split into three, with types */
    NodeId sn = ir_node_new(g, OP_SPLIT, 1, &h, 3, noloc);
    Attr *sa = &ir_node(g, sn)->attr;
    ir_attr_default(OP_SPLIT, sa);
    sa->split = (SplitAttr){ .axis = 1, .n = 3, .size = { 4, 2, 2 } };
    int64_t ds[3][2] = { { 4, 4 }, { 4, 2 }, { 4, 2 } };
    for (int k = 0; k < 3; k++)
        g->values[ir_node_out(g, sn, k)].type = ir_type_make(DT_F32, 2, ds[k]);
    ir_value_set_name(g, ir_node_out(g, sn, 0), "part");

    /* quantize with per-group params; the type carries them too */
    NodeId q = op1(g, OP_QUANTIZE, x, "q");
    QuantParams *qp = &ir_node(g, q)->attr.quant.q;
    float *scales = arena_alloc(g->arena, 4 * sizeof *scales);
    int32_t *zeros = arena_alloc(g->arena, 4 * sizeof *zeros);
    memcpy(scales, (float[4]){ 0.5f, 0.25f, 0.125f, 1.0f / 3.0f }, 4 * sizeof *scales);
    memcpy(zeros, (int32_t[4]){ 0, 1, -2, 7 }, 4 * sizeof *zeros);
    *qp = (QuantParams){ .bits = 4, .is_signed = 1, .gran = QG_GROUP, .axis = 1, .group = 4,
                         .nscale = 4, .scale = scales, .zero = zeros };
    TensorType tq = ir_type_make(DT_I8, 2, d2);
    tq.quant = qp;
    g->values[out0(g, q)].type = tq;
    QuantParams *qt = arena_alloc(g->arena, sizeof *qt);
    *qt = (QuantParams){ .bits = 8, .is_signed = 0, .gran = QG_TENSOR, .nscale = 1,
                         .scale = scales, .zero = zeros + 3 };
    TensorType tu = ir_type_make(DT_U8, 2, d2);
    tu.quant = qt;
    out0(g, ir_const_new(g, &tu, ir_storage_mem(g, big, 8 * 4), noloc));

    add_attr_nodes(g, x, w);

    /* annotations and the early exit */
    ValueId cond = out0(g, op1(g, OP_REDUCE_MAX, h, "cond"));
    AnnotArg args[2] = { { "threshold", 0.9, NULL }, { "pattern", 0, "2:4" } };
    Annot an[2] = { { "exit", 2, args }, { "keep", 0, NULL } };
    ir_node_set_annot(g, ir_value(g, cond)->def, an, 2);
    ValueId ex[3] = { cond, h, h2 };
    NodeId e = ir_node_new(g, OP_EXIT_IF, 3, ex, 0, (SrcLoc){ "m.kiln", 9, 5 });
    ir_node(g, e)->attr.exit.index = 2;
    ir_graph_add_output(g, "probs", h);
    ir_graph_add_output(g, "hidden layer", h2);
    diag_free(&d);
    return g;
}

static char npy_dir[64];

static int
suite_init(void)
{
    strcpy(npy_dir, "/tmp/kiln_ir_text_XXXXXX");
    if (!mkdtemp(npy_dir))
        return -1;
    char path[128];
    float w[32];
    for (int i = 0; i < 32; i++)
        w[i] = (float)(i % 5) - 2.0f;
    kiln_view v = { .dtype = KILN_DT_F32, .rank = 2, .dims = { 8, 4 }, .data = w,
                    .nbytes = sizeof w };
    snprintf(path, sizeof path, "%s/w.npy", npy_dir);
    return kiln_npy_write(path, &v, NULL, 0) == KILN_OK ? 0 : -1;
}

static int
suite_clean(void)
{
    char path[128];
    snprintf(path, sizeof path, "%s/w.npy", npy_dir);
    unlink(path);
    rmdir(npy_dir);
    return 0;
}

static void
test_round_trip_sink(void)
{
    char file[128];
    snprintf(file, sizeof file, "%s/sink.kir", npy_dir);
    Graph *g = sink_graph(npy_dir);
    char *s = round_trip(g, file);
    /* spot checks of the format against doc/ir.md, written by hand */
    CU_ASSERT_PTR_NOT_NULL(strstr(s, "graph @sink(%x: f32[4,8]) -> (probs = %h, "
                                     "\"hidden layer\" = %h.1) {\n"));
    CU_ASSERT_PTR_NOT_NULL(strstr(s, "  %fc1.weight = const file(\"w.npy\") : f32[8,4] "
                                     "loc(\"m.kiln\":2:3)\n"));
    CU_ASSERT_PTR_NOT_NULL(strstr(s, " = const dense<[0.5, -1, 1e-07, 3.25, -0, 100, 0.1, 2]> "
                                     ": f32[8]\n"));
    CU_ASSERT_PTR_NOT_NULL(strstr(s, " = const hex<\"000040c0"));
    CU_ASSERT_PTR_NOT_NULL(strstr(s, " = const dense<[-9007199254740993, 7, -9223372036854775808]> : "
                                     "i64[3]\n"));
    CU_ASSERT_PTR_NOT_NULL(strstr(s, " : f32[8] sparse<2:4>\n"));
    CU_ASSERT_PTR_NOT_NULL(strstr(s, " : f32[4,8] sparse<block 2x4>\n"));
    CU_ASSERT_PTR_NOT_NULL(strstr(s, " : f32[4,8] sparse<csr>\n"));
    CU_ASSERT_PTR_NOT_NULL(strstr(s, "  %h = matmul(%x, %fc1.weight, %0, %1) epilogue[add(%0), "
                                     "relu, leaky_relu {alpha = 0.2}, sub(%1, acc)] : f32[4,8] "
                                     "loc(\"m.kiln\":7:12)\n"));
    CU_ASSERT_PTR_NOT_NULL(strstr(s, "  %h.1 = relu(%h)\n"));
    CU_ASSERT_PTR_NOT_NULL(strstr(s, "  %a_b_c = tanh(%h.1)\n"));
    CU_ASSERT_PTR_NOT_NULL(strstr(s, "  %6 = neg(%a_b_c)\n"));
    CU_ASSERT_PTR_NOT_NULL(strstr(s, "  %7 = exp(%6)\n"));
    CU_ASSERT_PTR_NOT_NULL(strstr(s, "  %h.1.1 = sigmoid(%7)\n"));
    CU_ASSERT_PTR_NOT_NULL(strstr(s, "  %part, %8, %9 = split(%h) {axis = 1, sizes = [4, 2, 2]} "
                                     ": f32[4,4], f32[4,2], f32[4,2]\n"));
    CU_ASSERT_PTR_NOT_NULL(strstr(s, "  %q = quantize(%x) {bits = 4, signed = 1, axis = 1, "
                                     "group = 4, scale = [0.5, 0.25, 0.125, 0.33333334], "
                                     "zero = [0, 1, -2, 7]} : i8[4,8] quant<4, signed, "
                                     "group(1, 4), scale = [0.5, 0.25, 0.125, 0.33333334], "
                                     "zero = [0, 1, -2, 7]>\n"));
    CU_ASSERT_PTR_NOT_NULL(strstr(s, ": u8[4,8] quant<8, unsigned, tensor, scale = [0.5], "
                                     "zero = [7]>\n"));
    CU_ASSERT_PTR_NOT_NULL(strstr(s, " = conv2d(%x, %fc1.weight) {stride = [2, 1], pad = 1} "
                                     "loc(\"m.kiln\":4:9)\n"));
    CU_ASSERT_PTR_NOT_NULL(strstr(s, "  %pool = maxpool(%x) {kernel = [2, 1]}\n"));
    CU_ASSERT_PTR_NOT_NULL(strstr(s, " = slice(%x) {starts = [1], ends = [3], steps = [2]}\n"));
    CU_ASSERT_PTR_NOT_NULL(strstr(s, " = pad(%x) {pads = [0, 1, 2, 3], value = -1.5}\n"));
    CU_ASSERT_PTR_NOT_NULL(strstr(s, " = cast(%x) {to = u8}\n"));
    CU_ASSERT_PTR_NOT_NULL(strstr(s, " = flatten(%x)\n"));
    CU_ASSERT_PTR_NOT_NULL(strstr(s, "  %cond = reduce_max(%h) @exit(threshold = 0.9, "
                                     "pattern = \"2:4\") @keep\n"));
    CU_ASSERT_PTR_NOT_NULL(strstr(s, "  exit_if(%cond, %h, %h.1) {index = 2} "
                                     "loc(\"m.kiln\":9:5)\n  return\n}\n"));

    /* what the parser rebuilt */
    Diag d;
    Graph *g2 = parse(s, file, &d);
    CU_ASSERT_PTR_NOT_NULL_FATAL(g2);
    CU_ASSERT_STRING_EQUAL(g2->dir, npy_dir);
    CU_ASSERT_EQUAL(g2->noutput, 2);
    CU_ASSERT_STRING_EQUAL(g2->outputs[1].name, "hidden layer");
    const Node *mm = NULL;
    for (uint32_t i = 0; i < g2->norder; i++)
        if (g2->nodes[g2->order[i]].op == OP_MATMUL && g2->nodes[g2->order[i]].nepi)
            mm = &g2->nodes[g2->order[i]];
    CU_ASSERT_PTR_NOT_NULL_FATAL(mm);
    CU_ASSERT(mm->nin == 4 && mm->nepi == 4 && mm->epi[0].arg == 2 && mm->epi[3].arg == 3 &&
              mm->epi[3].swap == 1 && mm->epi[1].arg == -1 && mm->epi[2].attr.scalar.a == 0.2f);
    CU_ASSERT_STRING_EQUAL(mm->loc.file, "m.kiln");
    CU_ASSERT_EQUAL(mm->loc.line, 7);
    /* constants keep their exact bytes, -0 included */
    const Node *c = &g2->nodes[g2->values[mm->in[2]].def];
    const float *cf = g2->storage[c->attr.cnst.storage].data;
    CU_ASSERT(cf[2] == 1e-7f && cf[4] == 0 && signbit(cf[4]) && cf[6] == 0.1f);
    const float *w = ir_const_data(g2, g2->values[mm->in[1]].def);
    CU_ASSERT(w[0] == -2.0f && w[31] == (float)(31 % 5) - 2.0f);
    ir_graph_free(g2);
    diag_free(&d);
    free(s);
    ir_graph_free(g);
}

/* Hand-written text without result types parses to DT_NONE results and prints back the
 * same; values named by number become unnamed. */
static void
test_parse_untyped(void)
{
    const char *text =
        "# RUN: --passes=shape-infer\n"
        "graph @m(%x: f32[1,64], %3: i64[2]) -> (y = %y) {\n"
        "  %w = const dense<[1, 2, 3, 4]> : f32[2,2]\n"
        "  %0 = relu(%x)   # a comment\n"
        "  %y = softmax(%0) {axis = -1}\n"
        "  return\n"
        "}\n";
    Diag d;
    Graph *g = parse(text, "t.kir", &d);
    CU_ASSERT_PTR_NOT_NULL_FATAL(g);
    CU_ASSERT_EQUAL(g->ninput, 2);
    CU_ASSERT_PTR_NULL(g->values[g->inputs[1]].name);
    CU_ASSERT_EQUAL(g->norder, 3);
    const Node *relu = &g->nodes[g->order[1]];
    CU_ASSERT_EQUAL(relu->op, OP_RELU);
    CU_ASSERT_EQUAL(g->values[relu->out[0]].type.dtype, DT_NONE);
    CU_ASSERT_PTR_NULL(g->values[relu->out[0]].name);
    /* nodes get their .kir position as location, which is never printed */
    CU_ASSERT_EQUAL(relu->loc.line, 4);
    CU_ASSERT_EQUAL(relu->loc.col, 3);
    char *s = ir_graph_print_str(g);
    CU_ASSERT_STRING_EQUAL(s,
        "graph @m(%x: f32[1,64], %0: i64[2]) -> (y = %y) {\n"
        "  %w = const dense<[1, 2, 3, 4]> : f32[2,2]\n"
        "  %1 = relu(%x)\n"
        "  %y = softmax(%1)\n"
        "  return\n"
        "}\n");
    free(s);
    ir_graph_free(g);
    diag_free(&d);
}

/* ir_parse_file: reads a file, resolves weights next to it, reports unreadable files. */
static void
test_parse_file(void)
{
    char path[128];
    snprintf(path, sizeof path, "%s/file.kir", npy_dir);
    FILE *f = fopen(path, "w");
    CU_ASSERT_PTR_NOT_NULL_FATAL(f);
    fputs("graph @m(%x: f32[8,4]) -> (y = %y) {\n"
          "  %w = const file(\"w.npy\") : f32[8,4]\n"
          "  %y = add(%x, %w) : f32[8,4]\n"
          "  return\n"
          "}\n", f);
    fclose(f);
    Diag d;
    diag_init(&d);
    Graph *g = ir_parse_file(path, &d);
    CU_ASSERT_PTR_NOT_NULL_FATAL(g);
    CU_ASSERT_STRING_EQUAL(g->dir, npy_dir);
    CU_ASSERT_EQUAL(ir_verify(g, &d), 0);
    const float *w = ir_const_data(g, g->order[0]);
    CU_ASSERT_EQUAL(w[1], -1.0f);             /* (1 % 5) - 2, as suite_init wrote it */
    ir_graph_free(g);
    unlink(path);
    CU_ASSERT_PTR_NULL(ir_parse_file(path, &d));
    CU_ASSERT_EQUAL(d.nerror, 1);
    CU_ASSERT_PTR_NOT_NULL(strstr(d.msg[0].msg, "cannot read '"));
    CU_ASSERT_STRING_EQUAL(d.msg[0].loc.file, path);
    diag_free(&d);
}

/* ------------------------------------------------------------------ errors */

static void
expect_error(const char *text, int line, int col, const char *part)
{
    Diag d;
    Graph *g = parse(text, "e.kir", &d);
    CU_ASSERT_PTR_NULL(g);
    if (!has_error(&d, line, col, part)) {
        fprintf(stderr, "\nwanted %d:%d '%s', got:\n", line, col, part);
        dump_diag(&d);
        CU_FAIL("error message or location");
    }
    CU_ASSERT_STRING_EQUAL(d.nmsg ? d.msg[0].loc.file : "", "e.kir");
    ir_graph_free(g);
    diag_free(&d);
}

#define HEAD "graph @m(%x: f32[2,3]) -> (y = %y) {\n"

static void
test_parse_errors(void)
{
    expect_error(HEAD "  %y = matmull(%x, %x)\n  return\n}\n", 2, 8,
                 "unknown op 'matmull' (nearest: matmul)");
    expect_error(HEAD "  %y = relu(%foo)\n  return\n}\n", 2, 13,
                 "use of undefined value '%foo'");
    expect_error(HEAD "  %y = relu(%x)\n  %y = tanh(%x)\n  return\n}\n", 3, 3,
                 "redefinition of value '%y'");
    expect_error(HEAD "  %y = relu(%x) : f33[2,3]\n  return\n}\n", 2, 19,
                 "unknown element type 'f33'");
    expect_error(HEAD "  %y = relu(%x) : f32[2,-1]\n  return\n}\n", 2, 25,
                 "dim: expected an integer in [0, ");
    expect_error(HEAD "  %y = conv2d(%x, %x) {strid = 2}\n  return\n}\n", 2, 24,
                 "conv2d has no attribute 'strid' (expected stride, dilation, pad, groups)");
    expect_error(HEAD "  %y = conv2d(%x, %x) {stride = [1, 2, 3]}\n  return\n}\n", 2, 24,
                 "stride: expected 1 or 2 integers, got 3");
    expect_error(HEAD "  %y = matmul(%x, %x, %x)\n  return\n}\n", 2, 8,
                 "matmul: expected 2 operands, got 3");
    expect_error(HEAD "  %y = concat()\n  return\n}\n", 2, 8,
                 "concat: expected at least 1 operands, got 0");
    expect_error(HEAD "  %y, %z = relu(%x)\n  return\n}\n", 2, 3, "relu: expected 1 result, got 2");
    expect_error(HEAD "  %y = const dense<[1, 2]> : f32[3]\n  return\n}\n", 2, 14,
                 "dense: expected 3 values for the type, got 2");
    expect_error(HEAD "  %y = const hex<\"00ff\"> : f32[1]\n  return\n}\n", 2, 14,
                 "hex: expected 4 bytes for the type, got 2");
    expect_error(HEAD "  %y = const dense<[1.5]> : i32[1]\n  return\n}\n", 2, 14,
                 "dense: entry 0: expected an integer i32 value, got 1.5");
    expect_error(HEAD "  %y = const file(\"nope.npy\") : f32[1]\n  return\n}\n", 2, 14,
                 "cannot read weights 'nope.npy'");
    expect_error(HEAD "  %y = relu(%x)\n}\n", 3, 1, "expected 'return' at the end of the graph");
    expect_error(HEAD "  %y = relu(%x) $\n  return\n}\n", 2, 17, "unexpected character '$'");
    expect_error(HEAD "  %y = relu(%x) loc(\"a.kiln\":1)\n  return\n}\n", 2, 31,
                 "expected ':' after the line, got ')'");
    expect_error("graph @m(%x: f32[2]) -> (y = %nope) {\n  return\n}\n", 1, 30,
                 "use of undefined value '%nope'");
    expect_error(HEAD "  %y = matmul(%x, %x) epilogue[add]\n  return\n}\n", 2, 35,
                 "expected '(' after a binary epilogue op, got ']'");
    expect_error(HEAD "  %y = matmul(%x, %x) epilogue[matmul(%x)]\n  return\n}\n", 2, 32,
                 "epilogue: 'matmul' is not an elementwise op");
    expect_error(HEAD "  %y = split(%x) {axis = 1, sizes = [1, 2]}\n  return\n}\n", 2, 3,
                 "split: expected 2 results, got 1");
    expect_error(HEAD "  %y = relu(%x) : f32[2,3] sparse<4:2> quant<9, signed, tensor, "
                 "scale = [1], zero = [0]>\n  return\n}\n", 2, 46, "quant bits: expected an "
                 "integer in [2, 8], got 9");
    expect_error(HEAD "  %y = relu(%x) \"unterminated\n  return\n}\n", 2, 17,
                 "unterminated string");
}

/* A NUL byte inside the text is an error at its position, not the end of the text. */
static void
test_parse_nul(void)
{
    static const char text[] = HEAD "  %y = relu(%x)\0\n  return\n}\n";
    Diag d;
    diag_init(&d);
    Graph *g = ir_parse_text(text, sizeof text - 1, "e.kir", &d);
    CU_ASSERT_PTR_NULL(g);
    CU_ASSERT(has_error(&d, 2, 16, "unexpected byte 0x00"));
    diag_free(&d);
}

/* Several errors in one file, each on its own line; later uses of a failed statement's
 * result do not report again. */
static void
test_parse_error_recovery(void)
{
    const char *text = HEAD
        "  %a = relu(%nope)\n"
        "  %b = tanh(%a)\n"
        "  %c = frobnicate(%x)\n"
        "  %d = add(%b, %c)\n"
        "  %y = add(%x, %x) {axis = 1}\n"
        "  return\n}\n";
    Diag d;
    Graph *g = parse(text, "e.kir", &d);
    CU_ASSERT_PTR_NULL(g);
    CU_ASSERT_EQUAL(d.nerror, 3);
    CU_ASSERT(has_error(&d, 2, 13, "use of undefined value '%nope'"));
    CU_ASSERT(has_error(&d, 4, 8, "unknown op 'frobnicate'"));
    CU_ASSERT(has_error(&d, 6, 21, "add has no attribute 'axis' (it takes none)"));
    diag_free(&d);
}

/* ------------------------------------------------------------------ fuzz */

static uint32_t rng_state = 12345;

static uint32_t
rnd(uint32_t n)
{
    rng_state = rng_state * 1103515245u + 12345u;
    return (rng_state >> 8) % n;
}

/* One random edit of buf (length *len, capacity cap). */
static void
mutate(char *buf, size_t *len, size_t cap)
{
    static const char tokens[] = "%@{}[]()<>,:=\"#-. 0123456789\n";
    size_t n = *len;
    size_t i = n ? rnd((uint32_t)n) : 0;
    if (rnd(2)) {                              /* change a digit: mostly still parses */
        while (i < n && (buf[i] < '0' || buf[i] > '9'))
            i++;
        if (i < n)
            buf[i] = (char)('0' + rnd(10));
        return;
    }
    switch (rnd(5)) {
    case 0:                                    /* overwrite a byte */
        if (n)
            buf[i] = (char)rnd(256);
        break;
    case 1:                                    /* overwrite with a syntax character */
        if (n)
            buf[i] = tokens[rnd(sizeof tokens - 1)];
        break;
    case 2:                                    /* delete a run */
        if (n) {
            size_t k = 1 + rnd(8);
            k = k > n - i ? n - i : k;
            memmove(buf + i, buf + i + k, n - i - k);
            *len = n - k;
        }
        break;
    default: {                                 /* duplicate a run elsewhere */
        size_t j = n ? rnd((uint32_t)n) : 0, k = 1 + rnd(16);
        if (j + k > n || n + k > cap)
            break;
        char tmp[16];
        memcpy(tmp, buf + j, k);
        memmove(buf + i + k, buf + i, n - i);
        memcpy(buf + i, tmp, k);
        *len = n + k;
    }
    }
}

static void
test_fuzz(void)
{
    char file[128];
    snprintf(file, sizeof file, "%s/fuzz.kir", npy_dir);
    Graph *g = sink_graph(npy_dir);
    char *seed = ir_graph_print_str(g);
    size_t seedlen = strlen(seed), cap = seedlen + 1024;
    char *buf = malloc(cap);
    int parsed = 0;
    for (int iter = 0; iter < 3000; iter++) {
        size_t len = seedlen;
        memcpy(buf, seed, seedlen);
        for (int m = 1 + (int)rnd(3); m > 0; m--)
            mutate(buf, &len, cap);
        Diag d;
        diag_init(&d);
        Graph *h = ir_parse_text(buf, len, file, &d);
        CU_ASSERT((h != NULL) == (d.nerror == 0));
        if (h) {                               /* whatever parses round-trips and verifies */
            parsed++;
            free(round_trip(h, file));
            ir_verify(h, &d);
            ir_graph_free(h);
        }
        diag_free(&d);
    }
    CU_ASSERT(parsed > 0);
    free(buf);
    free(seed);
    ir_graph_free(g);
}

/* ------------------------------------------------------------------ dot */

static void
test_dot(void)
{
    const char *text =
        "graph @m(%x: f32[1,2]) -> (y = %y) {\n"
        "  %w = const dense<[1, 2]> : f32[1,2]\n"
        "  %y = add(%x, %w) : f32[1,2]\n"
        "  return\n"
        "}\n";
    Diag d;
    Graph *g = parse(text, "t.kir", &d);
    CU_ASSERT_PTR_NOT_NULL_FATAL(g);
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    ir_graph_dot(g, f);
    fclose(f);
    CU_ASSERT_STRING_EQUAL(buf,
        "digraph \"m\" {\n"
        "  node [fontname=\"monospace\"];\n"
        "  v1 [shape=invhouse, label=\"%x\\nf32[1,2]\"];\n"
        "  n1 [shape=box, label=\"const\\nf32[1,2]\"];\n"
        "  n2 [shape=ellipse, label=\"add\\nf32[1,2]\"];\n"
        "  v1 -> n2 [label=\"%x\"];\n"
        "  n1 -> n2 [label=\"%w\"];\n"
        "  out0 [shape=house, label=\"y\"];\n"
        "  n2 -> out0 [label=\"%y\"];\n"
        "}\n");
    free(buf);
    ir_graph_free(g);
    diag_free(&d);
}

static CU_TestInfo attr_tests[] = {
    { "conv2d", test_attr_conv },
    { "pool, scalar, gelu", test_attr_pool_scalar },
    { "axis, norm, reshape, transpose", test_attr_axis_norm_dims },
    { "split, slice, pad", test_attr_split_slice_pad },
    { "reduce, cast, quantize, exit", test_attr_reduce_cast_quant_exit },
    CU_TEST_INFO_NULL,
};

static CU_TestInfo text_tests[] = {
    { "round trip of every construct", test_round_trip_sink },
    { "untyped hand-written text", test_parse_untyped },
    { "reading a file", test_parse_file },
    { "located parse errors", test_parse_errors },
    { "error recovery", test_parse_error_recovery },
    { "NUL byte", test_parse_nul },
    { "mutation fuzz", test_fuzz },
    { "graphviz", test_dot },
    CU_TEST_INFO_NULL,
};

static CU_SuiteInfo suites[] = {
    { .pName = "attributes", .pTests = attr_tests },
    { .pName = "text ir", .pInitFunc = suite_init, .pCleanupFunc = suite_clean,
      .pTests = text_tests },
    CU_SUITE_INFO_NULL,
};

int
main(void)
{
    return kiln_cu_run(suites);
}
