/*
 * payload.h — a write's request body as JSON the database can read.
 *
 * JSON bodies are checked (one object, or an array of objects with the
 * same keys, as PostgREST requires) and passed on as they came; CSV and
 * form-urlencoded bodies are turned into a JSON array of objects with
 * string values, which json_to_recordset() then casts to the column
 * types.  The keys found are the columns the write names.
 */
#ifndef PGR_PAYLOAD_H
#define PGR_PAYLOAD_H

#include <stdbool.h>
#include <stddef.h>

#include "arena.h"
#include "response.h"

enum payload_type { PAYLOAD_JSON, PAYLOAD_CSV, PAYLOAD_FORM };

struct payload {
	const char *json;           /* the body as JSON text (object or array) */
	bool is_array;
	int n_rows;
	const char **keys;          /* keys of the (first) object, in order */
	int n_keys;
};

/*
 * Which payload a Content-Type names; -1 for one pg_rest cannot read.
 * NULL (absent) counts as JSON.
 */
int payload_type_of(const char *content_type);

/*
 * Parse body.  need_keys: find the keys and check that every object of
 * an array has the same ones (skipped when columns= names them).
 * Returns 0, or -1 with err set (400 PGRST102).
 */
int payload_parse(enum payload_type type, const char *body, size_t len, bool need_keys,
		  struct arena *a, struct payload *out, struct http_error *err);

#endif
