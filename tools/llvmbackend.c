/* tools/llvmbackend.c — `kiln run --backend=llvm`: the model compiled in process by the
 * LLVM emitter's ORC JIT (codegen/llvm), run through its P_info entry on the inputs, the
 * outputs copied into IrTensors.  No C compiler and no temporary files. */
#include <stdlib.h>
#include <string.h>
#include "llvm_emit.h"
#include "tools.h"

/* Runs the JIT'd model; outputs get g's output types and malloc'd data.  0 or -1. */
static int
run_jit(const kiln_model_info *mi, const Graph *g, const CliArgs *a, const IrTensor *in,
        IrTensor *out, int *exit_taken, Diag *d)
{
    const void **ins = calloc((size_t)mi->ninputs + 1, sizeof *ins);
    void **outs = calloc((size_t)mi->noutputs + 1, sizeof *outs);
    void *arena = aligned_alloc(64, (mi->arena_bytes + 63) / 64 * 64 + 64);
    kiln_pool *pool = a->threads > 1 ? kiln_pool_new(a->threads) : NULL;
    int st = -1;
    if (!ins || !outs || !arena || (a->threads > 1 && !pool)) {
        diag_error(d, (SrcLoc){ a->model, 0, 0 }, "out of memory for the run");
        goto done;
    }
    for (int i = 0; i < mi->ninputs; i++)
        ins[i] = in[i].data;
    for (int i = 0; i < mi->noutputs; i++) {
        out[i].type = g->values[g->outputs[i].value].type;
        out[i].data = outs[i] = calloc(1, mi->outputs[i].bytes + 1);
        if (!outs[i]) {
            diag_error(d, (SrcLoc){ a->model, 0, 0 }, "out of memory for the outputs");
            goto done;
        }
    }
    kiln_run_opts opts = { .nthreads = a->threads, .parallel_for = pool ? kiln_pool_parallel_for
                                                                        : NULL,
                           .parallel_ctx = pool };
    int rs = mi->run(ins, outs, exit_taken, arena, &opts);
    if (rs != KILN_OK)
        diag_error(d, (SrcLoc){ a->model, 0, 0 }, "the model failed at run time: %s",
                   kiln_status_str(rs));
    else
        st = 0;
done:
    kiln_pool_free(pool);
    free(ins);
    free(outs);
    free(arena);
    return st;
}

int
cli_run_llvm(Graph *g, const CliArgs *a, const IrTensor *inputs, IrTensor *outputs,
             int *exit_taken, Diag *d)
{
    CgOptions o = { .prefix = a->prefix };
    CgLlvmOptions lo = { .opt_level = a->olevel >= 0 ? a->olevel : 2, .pic = 1,
                         .cpu = a->mcpu, .features = a->mattr };
    CgJit *j = cg_llvm_jit_new(g, &o, &lo, d);
    if (!j)
        return -1;
    int st = run_jit(cg_llvm_jit_info(j), g, a, inputs, outputs, exit_taken, d);
    cg_llvm_jit_free(j);
    return st;
}
