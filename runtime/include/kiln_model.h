/* kiln_model.h — metadata every kiln-generated model exports as `P_info`, so generic
 * tools (runners, benchmarks, tests) can drive any compiled model without its header.
 * Included by generated headers; depends only on kiln_rt.h.
 */
#ifndef KILN_MODEL_H
#define KILN_MODEL_H

#include "kiln_rt.h"

#ifdef __cplusplus
extern "C" {
#endif

/* One input or output tensor of a model. */
typedef struct {
    const char    *name;                /* C identifier, the P_inputs/P_outputs member */
    kiln_dtype     dtype;               /* element type */
    int            rank;                /* 0..KILN_MAX_RANK */
    int64_t        dims[KILN_MAX_RANK]; /* elements per dim, outermost first */
    int64_t        numel;               /* product of dims */
    size_t         bytes;               /* numel * dtype size */
} kiln_tensor_info;

/* A compiled model.  All pointers are to static constant data. */
typedef struct {
    const char             *name;        /* model prefix P */
    const char             *hash;        /* P_MODEL_HASH: 16 hex digits */
    size_t                  arena_bytes; /* P_ARENA_BYTES: scratch the caller provides */
    size_t                  arena_align; /* P_ARENA_ALIGN: 64 */
    int                     weights_external; /* 1: inputs[ninputs] is the weights blob
                                                * (64-byte aligned), see doc/api.md */
    size_t                  weights_bytes;    /* size of that blob, 0 if embedded */
    int                     ninputs;     /* entries in inputs */
    const kiln_tensor_info *inputs;      /* in P_inputs member order */
    int                     noutputs;    /* entries in outputs */
    const kiln_tensor_info *outputs;     /* in P_outputs member order */
    /* Runs the model: inputs[i] / outputs[i] in the order above (plus the weights blob
     * as inputs[ninputs] when weights_external); *exit_taken receives 0 for the main
     * path or the exit index.  Returns a kiln_status (KILN_EINVAL for NULL pointers or
     * an arena not aligned to arena_align; KILN_ERANGE for an out-of-range gather index). */
    int (*run)(const void *const *inputs, void *const *outputs, int *exit_taken,
               void *arena, const kiln_run_opts *opts);
} kiln_model_info;

#ifdef __cplusplus
}
#endif

#endif /* KILN_MODEL_H */
