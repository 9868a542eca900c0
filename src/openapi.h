/*
 * openapi.h — the OpenAPI 2.0 (Swagger) description served at GET /.
 *
 * PostgREST v12 answers GET / with a Swagger 2.0 document of one exposed
 * schema (the one Accept-Profile picks): a path per table, view and
 * function, a definition per table and view, and the shared parameters.
 * openapi_document() builds the same document from the schema cache.
 *
 * With openapi-mode = follow-privileges only what the request's role may
 * use is shown.  The schema cache does not know that, so the request asks
 * PostgreSQL: openapi_privileges_sql() is one statement, run in the
 * request's transaction after the role switch (in the same pipeline as the
 * settings, so it costs no extra round trip), and
 * openapi_privileges_from_result() reads its rows.  The statement also
 * brings the schema's COMMENT, which PostgREST shows as the document's
 * title and description, so run it for ignore-privileges too.
 *
 * openapi-mode = disabled is the caller's business: PostgREST v12 answers
 * 404 with the body {} before looking at anything else.
 */
#ifndef PGR_OPENAPI_H
#define PGR_OPENAPI_H

#include <libpq-fe.h>
#include <stdbool.h>

#include "arena.h"
#include "config.h"
#include "schema.h"


/* what the request's role may do with one relation or function */
struct openapi_grant {
	const char *name;
	bool can_select;            /* relations */
	bool can_insert;
	bool can_update;
	bool can_delete;
	bool can_execute;           /* functions */
};

struct openapi_privileges {
	const char *schema_description;	/* COMMENT ON SCHEMA, NULL when none */
	/*
	 * The relations the role may use in any way (PostgREST's rule: it owns
	 * them, or holds any table or column privilege), and the functions it
	 * may execute; each sorted by name.
	 */
	struct openapi_grant *relations;
	int n_relations;
	struct openapi_grant *functions;
	int n_functions;
};

/*
 * The document for schema, as one JSON text in a, NUL-terminated.
 * base_path is the public mount prefix ("" or "/api"); it becomes
 * basePath unless openapi-server-proxy-uri says otherwise.  priv comes
 * from openapi_privileges_from_result(); its lists are applied when
 * openapi-mode is follow-privileges.  NULL priv shows everything and the
 * default title.  Never NULL.
 */
char *openapi_document(const struct schema_cache *sc, const struct config *cfg,
		       const char *schema, const char *base_path,
		       const struct openapi_privileges *priv, struct arena *a);

/*
 * The privileges statement: $1 is the schema name.  Rows of
 * (kind text, name text, can_select bool, can_insert bool,
 *  can_update bool, can_delete bool, can_execute bool, description text);
 * kind is 'schema' (one row, description = its comment), 'relation' or
 * 'function'; booleans that do not apply are NULL.
 */
const char *openapi_privileges_sql(void);

/*
 * Read the statement's rows into out (strings in a).  0, or -1 when res
 * is not a result of that statement.
 */
int openapi_privileges_from_result(PGresult *res, struct arena *a,
				   struct openapi_privileges *out);

#endif
