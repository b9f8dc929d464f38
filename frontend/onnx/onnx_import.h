/* frontend/onnx/onnx_import.h — the ONNX importer: a .onnx model file to a kiln IR graph.
 * The one public header of frontend/onnx; the CLI and the conformance harness include it.
 * doc/onnx.md describes the mapping, the claimed ops and the error rules. */
#ifndef KILN_ONNX_IMPORT_H
#define KILN_ONNX_IMPORT_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include "ir.h"

/* A static shape for one graph input, from `--shape input=1x3x224x224`. */
typedef struct {
    const char *name;                /* graph input name, ending at NUL or '=' (borrowed) */
    int         rank;                /* 0..KILN_MAX_RANK ("input=" alone is a scalar) */
    int64_t     dims[KILN_MAX_RANK]; /* each >= 1 */
} OnnxShapeFix;

/* Supplies the value of graph input `name` when an op needs it as a constant (Reshape's
 * shape, Slice's starts, ...).  Fills *out (data malloc-owned; the importer copies and
 * frees it with ir_tensor_free) and returns 0, or returns -1 to decline. */
typedef int (*OnnxBindFn)(void *ctx, const char *name, IrTensor *out);

typedef struct {
    const OnnxShapeFix *fix;         /* shapes overriding the model's input shapes */
    int                 nfix;        /* entries in fix */
    OnnxBindFn          bind;        /* NULL = constant operands must be initializers */
    void               *bind_ctx;    /* passed to bind */
    int                 unsupported; /* out: 1 when the import failed only because the model
                                        uses something kiln does not support (an unclaimed
                                        op or element type, an attribute variant) */
    int                 unclaimed;   /* out: 1 when that something is an op kiln does not
                                        claim at the model's opset and domain, or an
                                        element type outside the op's row (doc/onnx.md):
                                        the conformance harness's only reason to skip */
} OnnxImportOpts;

/* model.c */
/* Reads the ONNX model at path into a new graph named after the file.  Node result types
 * are set (the importer infers them as it builds, to fold shape subgraphs); constants
 * hold initializer bytes, mapped from external data files where the model has them
 * (Graph.dir is the model's folder).
 * Every node's location names its ONNX node: file = "<path>: node '<name>' (<OpType>)",
 * line 0.  Errors (malformed file, bad shapes, unsupported ops, ...) go to d; returns NULL
 * then, and those messages are located at `path` itself (the caller's string, which must
 * outlive d) with the node named in the text: "node 'conv1' (Conv): ...".  Locations of
 * a returned graph (and of later diagnostics about it) live in the graph's arena: print
 * d before ir_graph_free.  fix may be NULL when nfix is 0. */
Graph *onnx_import_file(const char *path, const OnnxShapeFix *fix, int nfix, Diag *d);
/* The same with options (constant binding for tests); o->unsupported and o->unclaimed
 * are written. */
Graph *onnx_import_file_opts(const char *path, OnnxImportOpts *o, Diag *d);
/* Parses "name=2x3x4" (or "name=" for a scalar) into *out; out->name points into arg and
 * ends at the '='.  -1 with a message in err on a malformed argument
 * ("--shape 'x=2xq': expected a dim in 1..2147483647, got 'q'"). */
int onnx_parse_shape_fix(const char *arg, OnnxShapeFix *out, char *err, size_t errlen);

/* ops.c */
/* 1 when the importer maps ONNX op `op_type` of domain `domain` ("" or "ai.onnx") at
 * opset version `opset`. */
int  onnx_op_claimed(const char *domain, const char *op_type, int64_t opset);
/* Writes the op table as a Markdown table (the generated part of doc/onnx.md). */
void onnx_op_list(FILE *out);

/* kiln_writer.c */
/* The params of a graph written as .kiln source: what goes into its safetensors file. */
typedef struct {
    int          n;                  /* params */
    const char **name;               /* full param names, in the graph's arena; malloc'd array */
    kiln_view   *view;               /* their bytes, in the graph's storage or arena; malloc'd */
} OnnxKilnParams;
/* Writes g (a verified graph without fused epilogues or exits, e.g. a fresh ONNX import)
 * as .kiln source (doc/language.md) to out.  Every constant becomes a `param` named after
 * its value (sanitised to a dotted name of the language: "onnx::Conv_5" -> onnx__Conv_5,
 * "layer1.0.conv1.weight" kept), loaded from `weights` (a safetensors path as the source
 * writes it); quantized constants are stored dequantized and re-quantized by a quantize
 * call.  Values, inputs and outputs get identifier names.  Fills *p for the caller to
 * write the weights file (kiln_st_write).  0, or -1 with errors in d (p then empty).
 * Free p with onnx_kiln_params_free in both cases. */
int  onnx_kiln_write(Graph *g, const char *weights, FILE *out, OnnxKilnParams *p, Diag *d);
void onnx_kiln_params_free(OnnxKilnParams *p);

/* wire.c */
/* Checks that buf[0..len) is well-formed protobuf wire format whose length-delimited
 * fields of the ONNX message types nest at most max_depth deep (protobuf-c itself has
 * no limit and recurses).  -1 with a message in err otherwise.  Iterative. */
int onnx_wire_check(const uint8_t *buf, size_t len, int max_depth, char *err, size_t errlen);

#endif
