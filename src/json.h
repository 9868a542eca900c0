/*
 * json.h — the little JSON that C writes itself.
 *
 * Response bodies are built by PostgreSQL; C only writes error bodies and
 * the request.headers / request.cookies GUC values, so a string escaper is
 * all that is needed here.
 */
#ifndef PGR_JSON_H
#define PGR_JSON_H

#include "arena.h"

/* Append s as a JSON string literal (with quotes); NULL appends null. */
void json_put_string(struct sbuf *b, const char *s);

#endif
