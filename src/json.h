/*
 * json.h — the little JSON that C writes itself.
 *
 * Response bodies are built by PostgreSQL; C only writes error bodies and
 * the request.headers / request.cookies GUC values, so a string escaper is
 * all that is needed here.
 */
#ifndef PGR_JSON_H
#define PGR_JSON_H

#include <stdbool.h>
#include <stddef.h>

#include "arena.h"

/* Append s as a JSON string literal (with quotes); NULL appends null. */
void json_put_string(struct sbuf *b, const char *s);

/*
 * Is text exactly one JSON value by RFC 8259, as PostgreSQL's json input
 * reads it?  json-c, even in strict mode, takes single quotes, NaN, "1."
 * and raw control characters; PostgreSQL refuses them.  Nesting deeper
 * than max_depth is refused too (the scanner recurses).
 */
bool json_is_strict(const char *text, size_t len, int max_depth);

#endif
