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

#endif
