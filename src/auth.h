/*
 * auth.h — who runs this request: the jwt-secret rules of DESIGN.md.
 *
 * Pure function of (config, Authorization header, clock): no I/O, so the
 * rules table is tested by t/unit/auth-t.c directly.
 */
#ifndef PGR_AUTH_H
#define PGR_AUTH_H

#include <time.h>

#include "arena.h"
#include "config.h"

struct auth_result {
	/* 0 when the request may go on; else the HTTP status to answer with */
	int status;
	const char *code;          /* PGRST300, PGRST301, PGRST302 ... */
	const char *message;
	const char *details;       /* may be NULL */
	const char *hint;          /* may be NULL */
	const char *www_authenticate;  /* value of WWW-Authenticate, or NULL */

	/* on success */
	const char *role;          /* role to become (token's role or db-anon-role) */
	const char *claims_json;   /* all claims as a JSON object text; for anon {"role":"<anon>"} */
	int is_anon;               /* 1 when role came from db-anon-role */
};

/*
 * Decide the role for one request.  authorization is the raw header value
 * (NULL or "" = no header).  now is the current time (tests pass a fixed
 * clock).  Strings in the result live in arena a.
 */
void auth_request(const struct config *cfg, const char *authorization,
		  time_t now, struct arena *a, struct auth_result *out);

#endif
