/*
 * context.h — what the request stages share inside one request: the
 * request, its response, its error, who runs it.  Internal to handler.c,
 * read.c and write.c.
 */
#ifndef PGR_CONTEXT_H
#define PGR_CONTEXT_H

#include <libpq-fe.h>
#include <stdbool.h>

#include "auth.h"
#include "db.h"
#include "media.h"
#include "prefer.h"
#include "query.h"
#include "sqlbuild.h"
#include "handler.h"
#include "request.h"
#include "response.h"

/* everything one request needs, in one place */
struct ctx {
	struct worker *w;
	const struct config *cfg;
	struct arena *a;
	struct request req;
	struct response resp;
	struct http_error err;
	struct auth_result auth;
	const char *schema;         /* the schema the request runs in */
	bool profile_header;        /* answer with Content-Profile */
	struct server_timing timing;    /* used when server-timing-enabled */
	/* db-hoisted-tx-settings of the function called: array literals, or NULL */
	const char *hoisted_names;
	const char *hoisted_values;
};

/* log the error and answer with it; always returns -1 */
int ctx_fail(struct ctx *c);
int ctx_fail_with(struct ctx *c, int status, const char *code, const char *message,
		  const char *details, const char *hint);
/* Accept-Profile (reading) / Content-Profile (writing) picks the schema */
int ctx_choose_schema(struct ctx *c, bool reading);
/*
 * the statements before the main one (settings, a function's hoisted
 * settings, db-pre-request); returns how many (at most 3)
 */
int ctx_preamble(struct ctx *c, struct db_stmt *stmts);
/* response.headers / response.status set by SQL */
int ctx_apply_response_gucs(struct ctx *c, const char *headers, const char *status);
/* column col of row 0, NULL when SQL NULL */
const char *ctx_getval(PGresult *res, int col);

/* a read in the making, shared by tables and functions (read.c, rpc.c) */
struct read_request {
	struct query q;
	struct prefer pf;
	enum media_type media;
	bool explain;               /* Accept: application/vnd.pgrst.plan */
	const char *plan_options;
	const char *const *pre_values;  /* bound as $1..$n before the plan's own */
	int n_pre_values;
	bool sign_claims;           /* the result is jwt-claims-type: answer {"token": ...} */
	const char *handler_type;   /* a media type handler answers, with this Content-Type */
};

int read_prepare(struct ctx *c, struct read_request *r);
int read_run(struct ctx *c, struct read_request *r, struct read_spec *spec, bool read_only,
	     const char *location);

int handle_read(struct ctx *c, const char *relation, bool head);
int handle_rpc(struct ctx *c, const char *function, bool head);
/* {"token":"<JWT>"} signed from a claims object, or NULL after answering an error */
const char *rpc_token_body(struct ctx *c, const char *claims);
int handle_write(struct ctx *c, const char *relation);
/* the root path: the OpenAPI description (root.c) */
int handle_root(struct ctx *c);

#endif
