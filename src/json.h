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
 * Append len bytes as a JSON string literal.  A NUL byte becomes \u0000
 * (json_put_string would stop there and silently cut the value short; for
 * text PostgreSQL then refuses \u0000 with 22P05, which is what PostgREST
 * answers too).  repair_utf8: bytes that are not well-formed UTF-8 become
 * U+FFFD, for text that must be valid JSON whatever the client sent (error
 * bodies echo the request; request.headers) — otherwise they are copied
 * and PostgreSQL refuses them (22021).
 */
void json_put_mem(struct sbuf *b, const char *s, size_t len, bool repair_utf8);

/* json_put_mem(b, s, strlen(s), true); NULL appends null. */
void json_put_text(struct sbuf *b, const char *s);

/*
 * Is text exactly one JSON value by RFC 8259, as PostgreSQL's json input
 * reads it?  json-c, even in strict mode, takes single quotes, NaN, "1."
 * and raw control characters; PostgreSQL refuses them.  Nesting deeper
 * than max_depth is refused too (the scanner recurses).
 */
bool json_is_strict(const char *text, size_t len, int max_depth);

#endif
