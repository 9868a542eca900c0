/*
 * root.c — GET and HEAD on the root path: the OpenAPI description.
 *
 * The document comes from the schema cache (openapi.c).  What the cache
 * cannot know, the schema's COMMENT and what the request's role may use,
 * one statement asks in the request's own transaction, after the role
 * switch, so the answer costs the same single round trip as a read.
 */
#include "context.h"

#include <string.h>

#include "media.h"
#include "openapi.h"

int handle_root(struct ctx *c)
{
	struct openapi_privileges priv;
	struct db_stmt stmts[4];
	PGresult *res[4];
	const char *accept = request_header(&c->req, "accept");
	int n;

	/* PostgREST v12 answers 404 with an empty object and looks at nothing else */
	if (strcmp(c->cfg->openapi_mode, "disabled") == 0) {
		c->resp.status = 404;
		response_header(&c->resp, "Content-Type", media_content_type(MEDIA_JSON));
		return response_send(&c->resp, "{}", 2);
	}
	if (media_negotiate(accept, MEDIA_ROOT) == MEDIA_NONE)
		return ctx_fail_with(c, 406, "PGRST107",
				     arena_printf(c->a, "None of these media types are available: %s", accept),
				     NULL, NULL);
	if (c->w->schema == NULL)
		return ctx_fail_with(c, 503, "PGRST002",
				     "Could not query the database for the schema cache. Retrying.", NULL, NULL);

	n = ctx_preamble(c, stmts);
	stmts[n++] = (struct db_stmt){openapi_privileges_sql(), 1, &c->schema};
	if (!db_run(&c->w->db, true, TX_END_COMMIT, stmts, n, res, c->auth.is_anon, &c->err, c->a))
		return ctx_fail(c);

	int ok = openapi_privileges_from_result(res[n - 1], c->a, &priv);

	for (int i = 0; i < n; i++)
		PQclear(res[i]);
	if (ok < 0)
		return ctx_fail_with(c, 500, "XX000", "Unexpected answer to the privileges query",
				     NULL, NULL);

	const char *doc = openapi_document(c->w->schema, c->cfg, c->schema, c->req.prefix, &priv, c->a);

	c->resp.status = 200;
	response_header(&c->resp, "Content-Type", media_content_type(MEDIA_OPENAPI));
	if (c->profile_header)
		response_header(&c->resp, "Content-Profile", c->schema);
	/* response_send() leaves the body out of a HEAD answer */
	return response_send(&c->resp, doc, strlen(doc));
}
