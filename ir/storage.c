/* ir/storage.c — constant bytes: copies in the arena, or views into mapped weight files
 * (safetensors by tensor name, or one tensor per .npy).  Large weights are never copied. */
#include <string.h>
#include "ir.h"
#include "util.h"

static StorageId
storage_new(Graph *g)
{
    g->storage = kiln_grow(g->storage, &g->capstorage, g->nstorage + 1, sizeof *g->storage);
    return g->nstorage++;
}

StorageId
ir_storage_mem(Graph *g, const void *data, size_t nbytes)
{
    StorageId s = storage_new(g);
    void *copy = arena_alloc(g->arena, nbytes);
    if (nbytes)
        memcpy(copy, data, nbytes);
    g->storage[s] = (Storage){ .kind = STORE_MEM, .data = copy, .nbytes = nbytes };
    return s;
}

/* An already mapped file of the same path, so each file is mapped once. */
static kiln_file *
find_mapping(const Graph *g, const char *path)
{
    for (uint32_t i = 1; i < g->nstorage; i++)
        if (g->storage[i].kind == STORE_FILE && strcmp(g->storage[i].path, path) == 0)
            return g->storage[i].file;
    return NULL;
}

static const char *
join_dir(Graph *g, const char *path)
{
    if (path[0] == '/' || !g->dir || !g->dir[0])
        return path;
    return arena_printf(g->arena, "%s/%s", g->dir, path);
}

StorageId
ir_storage_file(Graph *g, const char *path, const char *key, TensorType *t, SrcLoc loc,
                Diag *d)
{
    char err[256] = "";
    kiln_file *f = find_mapping(g, path);
    int owned = 0;
    if (!f) {
        if (kiln_file_map(join_dir(g, path), &f, err, sizeof err) != KILN_OK) {
            diag_error(d, loc, "cannot read weights '%s': %s", path, err);
            return 0;
        }
        owned = 1;
    }
    kiln_view v;
    int st = key ? kiln_st_find(kiln_file_data(f), kiln_file_size(f), key, &v, err, sizeof err)
                 : kiln_npy_parse(kiln_file_data(f), kiln_file_size(f), &v, err, sizeof err);
    if (st != KILN_OK) {
        diag_error(d, loc, "weights '%s': %s", path, err);
        if (owned)
            kiln_file_unmap(f);
        return 0;
    }
    StorageId s = storage_new(g);
    g->storage[s] = (Storage){
        .kind = STORE_FILE, .path = arena_strdup(g->arena, path), .key = arena_strdup(g->arena, key),
        .file = owned ? f : NULL, .data = v.data, .nbytes = v.nbytes,
    };
    /* safetensors and .npy only promise byte alignment; everything that reads a constant
     * through a typed pointer needs its element's alignment, so such a tensor is copied
     * into the (16-byte aligned) arena.  The file reference stays for printing. */
    if ((uintptr_t)v.data % kiln_dtype_size(v.dtype) != 0) {
        void *copy = arena_alloc(g->arena, v.nbytes);
        memcpy(copy, v.data, v.nbytes);
        g->storage[s].data = copy;
    }
    *t = ir_type_make((DType)v.dtype, v.rank, v.dims);
    return s;
}

const void *
ir_const_data(const Graph *g, NodeId n)
{
    const Node *nd = &g->nodes[n];
    KILN_ASSERT(nd->op == OP_CONST && nd->attr.cnst.storage < g->nstorage);
    return g->storage[nd->attr.cnst.storage].data;
}
