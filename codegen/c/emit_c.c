/* codegen/c/emit_c.c — the C backend: one self-contained .c per model (header text,
 * weights, one static function per kernel, P_run, P_info) plus the public .h.
 *
 * Approach: cg_lower resolves everything; this file only prints.  Generated code
 * allocates nothing, has no mutable globals and includes <math.h> and kiln_model.h
 * (which includes kiln_rt.h) only.  Weights are `static const` unions of their bit
 * patterns (exact, deterministic), or with weights_external live in a .bin at 64-aligned
 * offsets read through P_inputs.weights.
 */
#include <stdlib.h>
#include <string.h>
#include "emit_c.h"
#include "util.h"

static const char *const dt_enum[DT_COUNT] = {
    [DT_NONE] = "KILN_DT_NONE", [DT_F32] = "KILN_DT_F32", [DT_I32] = "KILN_DT_I32",
    [DT_I64] = "KILN_DT_I64", [DT_I8] = "KILN_DT_I8", [DT_U8] = "KILN_DT_U8",
    [DT_BOOL] = "KILN_DT_BOOL",
};

/* ------------------------------------------------------------------ weights */

static void
const_values(FILE *o, const CgConst *c, int64_t n)
{
    const unsigned char *p = c->data;
    for (int64_t i = 0; i < n; i++) {
        fputs(i % 8 ? " " : "\n   ", o);
        switch (c->type.dtype) {
        case DT_F32: {
            uint32_t u;
            memcpy(&u, p + 4 * i, 4);
            fprintf(o, "0x%08xu,", (unsigned)u);
            break;
        }
        case DT_I32: {
            int32_t v;
            memcpy(&v, p + 4 * i, 4);
            if (v == INT32_MIN)
                fputs("INT32_MIN,", o);
            else
                fprintf(o, "%d,", (int)v);
            break;
        }
        case DT_I64: {
            int64_t v;
            memcpy(&v, p + 8 * i, 8);
            if (v == INT64_MIN)
                fputs("INT64_MIN,", o);
            else
                fprintf(o, "INT64_C(%lld),", (long long)v);
            break;
        }
        case DT_I8:
            fprintf(o, "%d,", (int)(int8_t)p[i]);
            break;
        default:
            fprintf(o, "%u,", (unsigned)p[i]);
            break;
        }
    }
}

static void
weights_embedded(Emit *e)
{
    for (int i = 0; i < e->m->nconst; i++) {
        const CgConst *c = &e->m->consts[i];
        int64_t n = c->bytes / (int64_t)ir_dtype_size(c->type.dtype);
        int64_t nd = n ? n : 1;
        if (!c->used)
            continue;
        if (c->type.dtype == DT_F32)
            fprintf(e->out, "static _Alignas(64) const union { uint32_t u[%lld]; float f[%lld]; }"
                    " %s = { {", (long long)nd, (long long)nd, c->sym);
        else
            fprintf(e->out, "static _Alignas(64) const %s %s[%lld] = {",
                    cg_ctype(c->type.dtype), c->sym, (long long)nd);
        const_values(e->out, c, n);
        if (!n)
            fputs(" 0", e->out);
        fprintf(e->out, "\n}%s;\n", c->type.dtype == DT_F32 ? " }" : "");
    }
    if (e->m->nconst)
        fputc('\n', e->out);
}

static int
weights_bin(Emit *e, FILE *bin)
{
    static const unsigned char zero[64];
    int64_t at = 0;
    for (int i = 0; i < e->m->nconst; i++) {
        const CgConst *c = &e->m->consts[i];
        if (!c->used)
            continue;
        if (fwrite(zero, 1, (size_t)(c->file_offset - at), bin) != (size_t)(c->file_offset - at) ||
            fwrite(c->data, 1, (size_t)c->bytes, bin) != (size_t)c->bytes) {
            diag_error(e->d, (SrcLoc){ 0 }, "cannot write the weights file");
            return -1;
        }
        at = c->file_offset + c->bytes;
    }
    return 0;
}

/* ------------------------------------------------------------------ buffers */

/* C expression of the pointer to o's first element. */
static char *
ptr(const Emit *e, const CgOperand *o, int wr, char *buf, size_t len)
{
    const CgModule *m = e->m;
    const char *t = cg_ctype(o->type.dtype), *cq = wr ? "" : "const ";
    int64_t el = o->buf.offset / (int64_t)ir_dtype_size(o->type.dtype);
    char base[160];
    switch (o->buf.kind) {
    case CG_BUF_ARENA:
        snprintf(buf, len, "(%s%s *)(A + %lld)", cq, t, (long long)o->buf.offset);
        return buf;
    case CG_BUF_INPUT:
        snprintf(base, sizeof base, "(const %s *)in->%s", t, m->input[o->buf.index].name);
        break;
    case CG_BUF_OUTPUT:
        snprintf(base, sizeof base, "(%s%s *)out->%s", cq, t, m->output[o->buf.index].name);
        break;
    case CG_BUF_CONST: {
        const CgConst *c = &m->consts[o->buf.index];
        if (m->opt.weights_external) {
            snprintf(buf, len, "(const %s *)(W + %lld)", t,
                     (long long)(c->file_offset + o->buf.offset));
            return buf;
        }
        snprintf(base, sizeof base, "(const %s *)%s%s", t, c->sym,
                 c->type.dtype == DT_F32 ? ".f" : "");
        break;
    }
    default:
        kiln_die("operand without a buffer");
    }
    if (el)
        snprintf(buf, len, "%s + %lld", base, (long long)el);
    else
        snprintf(buf, len, "%s", base);
    return buf;
}

static int
needs_copy(const CgModule *m)
{
    for (int i = 0; i < m->nkernel; i++)
        for (int j = 0; j < m->kernel[i].ncopy; j++)
            if (!m->kernel[i].copy[j].skip)
                return 1;
    for (int j = 0; j < m->nfinal; j++)
        if (!m->final[j].skip)
            return 1;
    return 0;
}

static void
copies(Emit *e, const CgExitCopy *c, int n, int indent)
{
    char src[256];
    for (int i = 0; i < n; i++) {
        if (c[i].skip)
            continue;
        ec_indent(e, indent);
        fprintf(e->out, "copy_bytes(out->%s, %s, %lld);\n", e->m->output[c[i].to].name,
                ptr(e, &c[i].from, 0, src, sizeof src), (long long)c[i].from.bytes);
    }
}

/* ------------------------------------------------------------------ P_run */

static void
call(Emit *e, const CgKernel *k)
{
    char b[256];
    if (k->kind == CK_NONE)
        return;
    if (k->kind == CK_EXIT) {
        fprintf(e->out, "    if (*%s) {\n", ptr(e, &k->in[0], 0, b, sizeof b));
        copies(e, k->copy, k->ncopy, 2);
        fprintf(e->out, "        out->exit_taken = %d;\n        return KILN_OK;\n    }\n",
                k->exit_index);
        return;
    }
    fprintf(e->out, "    if ((st = n%d_%s(", k->index, op_name[k->op]);
    for (int i = 0; i < k->nin; i++)
        fprintf(e->out, "%s, ", ptr(e, &k->in[i], 0, b, sizeof b));
    for (int i = 0; i < k->nout; i++)
        fprintf(e->out, "%s, ", ptr(e, &k->out[i], 1, b, sizeof b));
    if (k->scratch_offset >= 0)
        fprintf(e->out, "(float *)(A + %lld), ", (long long)k->scratch_offset);
    fputs("opts)) != KILN_OK)\n        return st;\n", e->out);
}

static void
run_fn(Emit *e)
{
    const CgModule *m = e->m;
    const char *P = m->prefix, *U = m->upper;
    FILE *o = e->out;
    fprintf(o, "int\n%s_run(const %s_inputs *in, %s_outputs *out, void *arena,\n"
            "    const kiln_run_opts *opts)\n{\n", P, P, P);
    fprintf(o, "    char *A = arena;\n    int st = KILN_OK;\n");
    fprintf(o, "    if (!in || !out%s || (uintptr_t)arena %% %s_ARENA_ALIGN)\n"
            "        return KILN_EINVAL;\n", m->arena_bytes ? " || !arena" : "", U);
    for (int i = 0; i < m->ninput; i++)
        fprintf(o, "    if (!in->%s)\n        return KILN_EINVAL;\n", m->input[i].name);
    for (int i = 0; i < m->noutput; i++)
        fprintf(o, "    if (!out->%s)\n        return KILN_EINVAL;\n", m->output[i].name);
    if (m->opt.weights_external)
        fprintf(o, "    if (!in->weights || (uintptr_t)in->weights %% 64)\n"
                "        return KILN_EINVAL;\n    const char *W = in->weights;\n    (void)W;\n");
    fputs("    (void)A;\n    (void)st;\n    (void)opts;\n    out->exit_taken = 0;\n", o);
    for (int i = 0; i < m->nkernel; i++)
        call(e, &m->kernel[i]);
    copies(e, m->final, m->nfinal, 1);
    fputs("    return KILN_OK;\n}\n\n", o);
}

static void
tensor_infos(Emit *e, const char *what, const CgPort *p, int n)
{
    if (!n)
        return;
    fprintf(e->out, "static const kiln_tensor_info %s_%s_info[%d] = {\n", e->m->prefix, what, n);
    for (int i = 0; i < n; i++) {
        fprintf(e->out, "    { \"%s\", %s, %d, {", p[i].name, dt_enum[p[i].type.dtype],
                p[i].type.rank);
        for (int d = 0; d < p[i].type.rank; d++)
            fprintf(e->out, "%s %lld", d ? "," : "", (long long)p[i].type.dims[d]);
        if (!p[i].type.rank)
            fputs(" 0", e->out);
        fprintf(e->out, " }, %lld, %lld },\n", (long long)p[i].numel, (long long)p[i].bytes);
    }
    fputs("};\n\n", e->out);
}

static void
info(Emit *e)
{
    const CgModule *m = e->m;
    const char *P = m->prefix, *U = m->upper;
    FILE *o = e->out;
    fprintf(o, "static int\nrun_generic(const void *const *inputs, void *const *outputs, "
            "int *exit_taken,\n    void *arena, const kiln_run_opts *opts)\n{\n");
    fprintf(o, "    if (!inputs || !outputs)\n        return KILN_EINVAL;\n");
    fprintf(o, "    %s_inputs in = { 0 };\n    %s_outputs out = { 0 };\n", P, P);
    for (int i = 0; i < m->ninput; i++)
        fprintf(o, "    in.%s = (const %s *)inputs[%d];\n", m->input[i].name,
                cg_ctype(m->input[i].type.dtype), i);
    if (m->opt.weights_external)
        fprintf(o, "    in.weights = inputs[%d];\n", m->ninput);
    for (int i = 0; i < m->noutput; i++)
        fprintf(o, "    out.%s = (%s *)outputs[%d];\n", m->output[i].name,
                cg_ctype(m->output[i].type.dtype), i);
    fprintf(o, "    int st = %s_run(&in, &out, arena, opts);\n", P);
    fputs("    if (exit_taken)\n        *exit_taken = out.exit_taken;\n    return st;\n}\n\n", o);
    tensor_infos(e, "inputs", m->input, m->ninput);
    tensor_infos(e, "outputs", m->output, m->noutput);
    fprintf(o, "const kiln_model_info %s_info = {\n", P);
    fprintf(o, "    \"%s\", %s_MODEL_HASH, %s_ARENA_BYTES, %s_ARENA_ALIGN, %d, %lld,\n", P, U, U,
            U, m->opt.weights_external, m->opt.weights_external ? (long long)m->weights_bytes : 0);
    fprintf(o, "    %d, %s%s, %d, %s%s, run_generic\n};\n", m->ninput, m->ninput ? P : "NULL",
            m->ninput ? "_inputs_info" : "", m->noutput, m->noutput ? P : "NULL",
            m->noutput ? "_outputs_info" : "");
}

static void
copy_fn(Emit *e)
{
    fputs("static void\ncopy_bytes(void *dst, const void *src, int64_t n)\n{\n"
          "    unsigned char *d = dst;\n    const unsigned char *s = src;\n"
          "    for (int64_t i = 0; i < n; i++)\n        d[i] = s[i];\n}\n\n", e->out);
}

/* ------------------------------------------------------------------ entry */

static int
emit_c(Emit *e)
{
    const CgModule *m = e->m;
    fprintf(e->out, "/* %s.c — generated by kiln from model '%s'; do not edit.\n"
            " * model hash %s; arena %lld bytes (%lld planned + conv scratch). */\n",
            m->prefix, m->g->name, m->hash, (long long)m->arena_bytes,
            (long long)m->planned_bytes);
    fputs("#include <math.h>\n", e->out);
    cg_header_write(m, e->out);
    fputc('\n', e->out);
    if (!m->opt.weights_external)
        weights_embedded(e);
    if (needs_copy(m))
        copy_fn(e);
    for (int i = 0; i < m->nkernel; i++)
        if (ec_kernel_fn(e, &m->kernel[i]) < 0)
            return -1;
    run_fn(e);
    info(e);
    return 0;
}

int
cg_c_emit(Graph *g, const CgOptions *o, FILE *c_out, FILE *h_out, FILE *bin_out, Diag *d)
{
    CgModule *m = cg_lower(g, o, d);
    if (!m)
        return -1;
    Emit e = { .out = c_out, .m = m, .d = d };
    int st = emit_c(&e);
    if (st == 0 && h_out)
        cg_header_write(m, h_out);
    if (st == 0 && m->opt.weights_external) {
        if (!bin_out) {
            diag_error(d, (SrcLoc){ 0 }, "weights_external needs a weights output file");
            st = -1;
        } else
            st = weights_bin(&e, bin_out);
    }
    if (st == 0 && (ferror(c_out) || (h_out && ferror(h_out)))) {
        diag_error(d, (SrcLoc){ 0 }, "cannot write the generated C");
        st = -1;
    }
    cg_module_free(m);
    return st;
}
