/* codegen/llvm/llvm_debug.c — optional DWARF line tables (CgLlvmOptions.debug, `-g`): each
 * kernel function (and its parallel task) becomes a DISubprogram at its node's source line
 * and every instruction built in it carries the node's line and column, so debuggers and
 * profilers map machine code back to the .kiln / .kir source.  Line-tables only: no
 * variables or types. */
#include <string.h>
#include <llvm-c/DebugInfo.h>
#include "llvm_int.h"
#include "util.h"

/* DIFile of a source path ("dir/name.kiln" -> name.kiln in dir). */
static LLVMMetadataRef
di_file(Lx *x, const char *path)
{
    if (!path)
        path = "<unknown>";
    const char *slash = strrchr(path, '/');
    const char *name = slash ? slash + 1 : path;
    size_t ndir = slash ? (size_t)(slash - path) : 0;
    return LLVMDIBuilderCreateFile(x->dib, name, strlen(name), path, ndir);
}

void
lx_debug_init(Lx *x, int optimized)
{
    x->dib = LLVMCreateDIBuilder(x->mod);
    const char *src = NULL;
    for (int i = 0; i < x->m->nkernel && !src; i++)
        src = x->m->g->nodes[x->m->kernel[i].node].loc.file;
    LLVMMetadataRef file = di_file(x, src ? src : x->m->g->name);
    x->cu = LLVMDIBuilderCreateCompileUnit(x->dib, LLVMDWARFSourceLanguageC11, file, "kiln", 4,
                                           optimized, "", 0, 0, "", 0,
                                           LLVMDWARFEmissionLineTablesOnly, 0, 0, 0, "", 0,
                                           "", 0);
    LLVMAddModuleFlag(x->mod, LLVMModuleFlagBehaviorWarning, "Debug Info Version", 18,
        LLVMValueAsMetadata(LLVMConstInt(x->i32, LLVMDebugMetadataVersion(), 0)));
    LLVMAddModuleFlag(x->mod, LLVMModuleFlagBehaviorWarning, "Dwarf Version", 13,
                      LLVMValueAsMetadata(LLVMConstInt(x->i32, 5, 0)));
}

void
lx_debug_fn(Lx *x, LLVMValueRef f, const CgKernel *k)
{
    if (!x->dib)
        return;
    const SrcLoc *loc = &x->m->g->nodes[k->node].loc;
    LLVMMetadataRef file = di_file(x, loc->file);
    LLVMMetadataRef ty = LLVMDIBuilderCreateSubroutineType(x->dib, file, NULL, 0, LLVMDIFlagZero);
    size_t n;
    const char *name = LLVMGetValueName2(f, &n);
    unsigned line = loc->line > 0 ? (unsigned)loc->line : 0;
    LLVMMetadataRef sp = LLVMDIBuilderCreateFunction(x->dib, file, name, n, name, n, file, line,
                                                     ty, 1, 1, line, LLVMDIFlagZero, 1);
    LLVMSetSubprogram(f, sp);
    unsigned col = loc->col > 0 ? (unsigned)loc->col : 0;
    LLVMSetCurrentDebugLocation2(x->b, LLVMDIBuilderCreateDebugLocation(x->ctx, line, col, sp,
                                                                        NULL));
}

void
lx_debug_set(Lx *x, LLVMMetadataRef loc)
{
    if (x->dib)
        LLVMSetCurrentDebugLocation2(x->b, loc);
}

void
lx_debug_finish(Lx *x)
{
    if (!x->dib)
        return;
    LLVMSetCurrentDebugLocation2(x->b, NULL);
    LLVMDIBuilderFinalize(x->dib);
    LLVMDisposeDIBuilder(x->dib);
    x->dib = NULL;
}
