/* frontend/frontend.h — the .kiln graph language (doc/language.md): source text to an IR
 * graph.  The one public header of the frontend layer. */
#ifndef KILN_FRONTEND_H
#define KILN_FRONTEND_H

#include <stddef.h>
#include "ir.h"

/* build.c */

/* Parses and builds the .kiln file at `path`.  Weight paths in the file are relative to
 * its folder, which becomes g->dir.  Node result types are DT_NONE until the shape-infer
 * pass runs; graph inputs and constants (params, literals) are typed.  Node locations name
 * the file by an arena copy of `path`.
 * Errors ("file:line:col: error: ...", several per run) go to d and NULL is returned; the
 * messages' locations point at `path` itself, so keep it alive while d is in use.
 * The returned graph is the caller's (ir_graph_free). */
Graph *fe_parse_file(const char *path, Diag *d);

/* Same for source text src[0..len) (need not be NUL-terminated).  `filename` (NULL =
 * "<string>") names it in locations and its folder resolves weight paths. */
Graph *fe_parse_string(const char *src, size_t len, const char *filename, Diag *d);

#endif
