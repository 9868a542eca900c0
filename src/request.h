/*
 * request.h — one HTTP request as the web server handed it over.
 *
 * Built from the FastCGI params (CGI variables) by walking envp ourselves:
 * FCGX_GetParam returns the first of duplicated params, but nginx sends an
 * overridden param twice (the later one is meant) and repeated request
 * headers as separate HTTP_* params (see DEPLOY-NOTES.md 3.4).
 * All strings live in the request arena.
 */
#ifndef PGR_REQUEST_H
#define PGR_REQUEST_H

#include <stdbool.h>
#include <stddef.h>

#include "arena.h"

struct header {
	const char *name;           /* lower-case, '-' separated: "user-agent" */
	const char *value;
};

struct request {
	const char *method;         /* REQUEST_METHOD */
	const char *path;           /* route path, "/items", "/rpc/f", "/" */
	const char *prefix;         /* public mount prefix, "" or "/api" */
	const char *query_string;   /* raw, undecoded; "" if none */
	const char *authorization;  /* NULL when absent or empty */
	const char *content_type;   /* NULL when absent */
	long long content_length;   /* -1 when absent or empty */
	const char *cookie;         /* raw Cookie header or NULL */

	struct header *headers;     /* every HTTP_* param except Cookie */
	int n_headers;

	const char *body;           /* read by the caller, may be NULL */
	size_t body_len;
};

/*
 * Fill r from the FastCGI params.  Returns 0, or -1 with a message in *err
 * when the params make no sense (bad CONTENT_LENGTH).
 */
int request_from_params(struct request *r, char *const *envp, struct arena *a,
			const char **err);

/* The value of a request header by lower-case name, or NULL. */
const char *request_header(const struct request *r, const char *name);

/*
 * Where a worker started without any configuration looks for one (Apache
 * mod_fcgid driven from .htaccess, where FcgidInitialEnv is not allowed):
 * the request's PG_REST_CONFIG param (SetEnv in .htaccess; after the
 * front controller's internal redirect also REDIRECT_PG_REST_CONFIG), else
 * ".pg_rest.conf" in the directory of SCRIPT_FILENAME (the program file).
 * Returns the path, in a, or NULL when the params name neither; *from is
 * set to the param the path came from.
 */
const char *request_config_path(char *const *envp, struct arena *a, const char **from);

#endif
