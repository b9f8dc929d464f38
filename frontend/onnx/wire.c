/* frontend/onnx/wire.c — a bounded, iterative pre-scan of protobuf wire format.
 * protobuf-c 1.4.1 recurses once per nested message and has no depth limit, so a small
 * file of thousands of nested subgraphs overflows the stack.  Before unpacking, this walks
 * the bytes with an explicit stack, following only the fields of onnx.proto that hold
 * messages, checks every tag, varint and length against the enclosing message's end, and
 * rejects nesting deeper than the caller's limit. */
#include <stdio.h>
#include <string.h>
#include "onnx_import.h"

/* Message types of onnx.proto that contain other messages (leaves need no entry). */
typedef enum {
    MT_LEAF = 0,   /* a message with no message fields, or not a message */
    MT_MODEL, MT_GRAPH, MT_NODE, MT_ATTR, MT_TENSOR, MT_SPARSE, MT_VALUEINFO, MT_TYPE,
    MT_TYPE_TENSOR, MT_TYPE_SEQ, MT_TYPE_MAP, MT_SHAPE, MT_TRAINING, MT_FUNCTION,
    MT_ANNOT, MT_COUNT
} MsgType;

/* (message, field number) -> type of the message it holds; from onnx.proto (IR v8). */
static const struct { MsgType msg; int field; MsgType child; } children[] = {
    { MT_MODEL, 7, MT_GRAPH },      { MT_MODEL, 8, MT_LEAF },      { MT_MODEL, 14, MT_LEAF },
    { MT_MODEL, 20, MT_TRAINING },  { MT_MODEL, 25, MT_FUNCTION },
    { MT_GRAPH, 1, MT_NODE },       { MT_GRAPH, 5, MT_TENSOR },    { MT_GRAPH, 15, MT_SPARSE },
    { MT_GRAPH, 11, MT_VALUEINFO }, { MT_GRAPH, 12, MT_VALUEINFO },
    { MT_GRAPH, 13, MT_VALUEINFO }, { MT_GRAPH, 14, MT_ANNOT },
    { MT_NODE, 5, MT_ATTR },
    { MT_ATTR, 5, MT_TENSOR },      { MT_ATTR, 6, MT_GRAPH },      { MT_ATTR, 22, MT_SPARSE },
    { MT_ATTR, 14, MT_TYPE },       { MT_ATTR, 10, MT_TENSOR },    { MT_ATTR, 11, MT_GRAPH },
    { MT_ATTR, 23, MT_SPARSE },     { MT_ATTR, 15, MT_TYPE },
    { MT_TENSOR, 3, MT_LEAF },      { MT_TENSOR, 13, MT_LEAF },
    { MT_SPARSE, 1, MT_TENSOR },    { MT_SPARSE, 2, MT_TENSOR },
    { MT_VALUEINFO, 2, MT_TYPE },
    { MT_TYPE, 1, MT_TYPE_TENSOR }, { MT_TYPE, 4, MT_TYPE_SEQ },   { MT_TYPE, 5, MT_TYPE_MAP },
    { MT_TYPE, 9, MT_TYPE_SEQ },    { MT_TYPE, 8, MT_TYPE_TENSOR },
    { MT_TYPE_TENSOR, 2, MT_SHAPE },
    { MT_TYPE_SEQ, 1, MT_TYPE },    /* Sequence.elem_type and Optional.elem_type */
    { MT_TYPE_MAP, 2, MT_TYPE },
    { MT_SHAPE, 1, MT_LEAF },
    { MT_TRAINING, 1, MT_GRAPH },   { MT_TRAINING, 2, MT_GRAPH },  { MT_TRAINING, 3, MT_LEAF },
    { MT_TRAINING, 4, MT_LEAF },
    { MT_FUNCTION, 7, MT_NODE },    { MT_FUNCTION, 9, MT_LEAF },
    { MT_ANNOT, 2, MT_LEAF },
};

/* -1: field holds no message (bytes, string, packed numbers); else the child's type. */
static int
child_type(MsgType msg, uint64_t field)
{
    if (msg == MT_LEAF)
        return -1;
    for (size_t i = 0; i < sizeof children / sizeof children[0]; i++)
        if (children[i].msg == msg && (uint64_t)children[i].field == field)
            return (int)children[i].child;
    return -1;
}

/* Reads a varint at *pos below end; -1 if it runs past end or over 10 bytes. */
static int
varint(const uint8_t *buf, size_t *pos, size_t end, uint64_t *out)
{
    uint64_t v = 0;
    for (int shift = 0; shift < 70; shift += 7) {
        if (*pos >= end)
            return -1;
        uint8_t b = buf[(*pos)++];
        v |= (uint64_t)(b & 0x7f) << shift;
        if (!(b & 0x80)) {
            *out = v;
            return 0;
        }
    }
    return -1;
}

typedef struct {
    size_t  end;             /* offset one past the message's last byte */
    MsgType type;            /* what the message is */
} Frame;

static int
bad(char *err, size_t errlen, size_t at, const char *what)
{
    snprintf(err, errlen, "malformed protobuf at byte %zu: %s", at, what);
    return -1;
}

/* Skips a field of wire type wt (not 2) starting at *pos. */
static int
skip_scalar(const uint8_t *buf, size_t *pos, size_t end, uint64_t wt, char *err, size_t errlen)
{
    uint64_t v;
    size_t at = *pos, n = wt == 1 ? 8 : 4;
    switch (wt) {
    case 0:
        return varint(buf, pos, end, &v) < 0 ? bad(err, errlen, at, "truncated varint") : 0;
    case 1:
    case 5:
        if (end - *pos < n)
            return bad(err, errlen, at, "truncated fixed-size field");
        *pos += n;
        return 0;
    default:
        return bad(err, errlen, at, "unsupported wire type (groups or a reserved type)");
    }
}

int
onnx_wire_check(const uint8_t *buf, size_t len, int max_depth, char *err, size_t errlen)
{
    Frame stack[256];
    int depth = 0;
    size_t pos = 0;
    if (max_depth < 1 || max_depth >= (int)(sizeof stack / sizeof stack[0]))
        max_depth = (int)(sizeof stack / sizeof stack[0]) - 1;
    stack[0] = (Frame){ len, MT_MODEL };
    for (;;) {
        if (pos == stack[depth].end) {
            if (depth == 0)
                return 0;
            depth--;
            continue;
        }
        size_t at = pos, end = stack[depth].end;
        uint64_t tag, n;
        if (varint(buf, &pos, end, &tag) < 0)
            return bad(err, errlen, at, "truncated field tag");
        if ((tag >> 3) == 0)
            return bad(err, errlen, at, "field number 0");
        if ((tag & 7) != 2) {
            if (skip_scalar(buf, &pos, end, tag & 7, err, errlen) < 0)
                return -1;
            continue;
        }
        if (varint(buf, &pos, end, &n) < 0)
            return bad(err, errlen, at, "truncated length");
        if (n > end - pos) {
            char what[128];
            snprintf(what, sizeof what, "length %llu exceeds the %zu bytes left",
                     (unsigned long long)n, end - pos);
            return bad(err, errlen, at, what);
        }
        int child = child_type(stack[depth].type, tag >> 3);
        if (child < 0) {
            pos += n;
            continue;
        }
        if (depth + 1 > max_depth) {
            snprintf(err, errlen, "messages nest deeper than %d levels at byte %zu "
                     "(nested subgraphs?)", max_depth, at);
            return -1;
        }
        stack[++depth] = (Frame){ pos + n, (MsgType)child };
    }
}
