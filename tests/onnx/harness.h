/* tests/onnx/harness.h — private to the ONNX conformance harness (conformance.c): the
 * backends a test runs on besides the reference interpreter. */
#ifndef KILN_ONNX_HARNESS_H
#define KILN_ONNX_HARNESS_H

#include <stddef.h>
#include "ir.h"

typedef struct {
    const char *kiln;        /* path of the kiln CLI */
    const char *backend;     /* "c" or "llvm": `kiln run --backend=...` */
    const char *pipeline;    /* --passes for that run (must end in memplan) */
} HarnessBackend;

/* backend_cli.c */
/* Runs g (already shape-inferred; its inputs and outputs are renamed in0.., out0..) on
 * b->backend through `kiln run` in a temporary folder, removed afterwards.  Fills
 * out[0..g->noutput) (data malloc'd) and returns 0, or -1 with a message in err. */
int harness_run_backend(const HarnessBackend *b, Graph *g, const IrTensor *in, IrTensor *out,
                        char *err, size_t errlen);

#endif
