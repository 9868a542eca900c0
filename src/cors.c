/*
 * cors.c — Cross-Origin Resource Sharing, the way PostgREST v12 answers
 * browsers (its wai-cors policy, src/PostgREST/Cors.hs):
 *
 *   - Only requests with an Origin header are concerned.
 *   - server-cors-allowed-origins unset: every origin is allowed and
 *     answered "Access-Control-Allow-Origin: *".  Set: an origin in the
 *     list is echoed back with "Access-Control-Allow-Credentials: true";
 *     any other origin gets no CORS header at all (the browser then
 *     refuses the answer), the request itself is served as usual.
 *   - A preflight (OPTIONS with Access-Control-Request-Method naming one of
 *     the methods below) is answered here, 200 with no body, whatever the
 *     path: allowed methods, the requested headers plus Authorization and
 *     the CORS-safelisted ones, Access-Control-Max-Age: 86400.  An
 *     OPTIONS that is not a valid preflight goes on to the routes (Allow).
 *   - Every other answer to an allowed origin carries
 *     Access-Control-Expose-Headers, so that scripts can read
 *     Content-Range, Location and the rest (supabase-js reads
 *     Content-Range for counts).
 */
#include "cors.h"

#include <stdbool.h>
#include <string.h>
#include <strings.h>

#include "arena.h"

/* wai-cors' list: PostgREST's methods, then the simple ones it lacks */
static const char ALLOWED_METHODS[] = "GET, POST, PATCH, PUT, DELETE, OPTIONS, HEAD";
static const char *const METHODS[] = {
	"GET", "POST", "PATCH", "PUT", "DELETE", "OPTIONS", "HEAD", NULL
};
/* the CORS-safelisted request headers wai-cors adds to the requested ones */
static const char *const SIMPLE_HEADERS[] = {
	"Accept", "Accept-Language", "Content-Language", NULL
};
static const char EXPOSED_HEADERS[] =
	"Content-Encoding, Content-Location, Content-Range, Content-Type, "
	"Date, Location, Server, Transfer-Encoding, Range-Unit";

static bool method_allowed(const char *m)
{
	for (int i = 0; METHODS[i] != NULL; i++)
		if (strcmp(m, METHODS[i]) == 0)
			return true;
	return false;
}

/* "*" for any origin, the origin itself when it is in the list, else NULL */
static const char *allowed_origin(const struct config *cfg, const char *origin)
{
	if (cfg->n_server_cors_allowed_origins == 0)
		return "*";
	for (int i = 0; i < cfg->n_server_cors_allowed_origins; i++)
		if (strcmp(origin, cfg->server_cors_allowed_origins[i]) == 0)
			return origin;
	return NULL;
}

static void origin_headers(const struct config *cfg, struct response *resp, const char *allow)
{
	response_header(resp, "Access-Control-Allow-Origin", allow);
	if (cfg->n_server_cors_allowed_origins > 0)
		response_header(resp, "Access-Control-Allow-Credentials", "true");
	resp->cors_origin_sent = true;
}

/* does the comma-separated list so far name h (case-insensitively)? */
static bool list_has(const char *list, size_t len, const char *h)
{
	size_t hl = strlen(h);
	const char *p = list, *end = list + len;

	while (p < end) {
		const char *comma = memchr(p, ',', (size_t)(end - p));
		const char *stop = comma ? comma : end;

		if ((size_t)(stop - p) == hl && strncasecmp(p, h, hl) == 0)
			return true;
		p = comma ? comma + 2 : end;      /* entries are joined by ", " */
	}
	return false;
}

/*
 * Authorization, then each requested header (split at commas, blanks
 * around dropped, empty entries skipped), then the safelisted headers not
 * named yet: wai-cors' unionHeaders.
 */
static const char *allowed_headers(struct arena *a, const char *requested)
{
	struct sbuf b;

	sbuf_init(&b, a, 128);
	sbuf_puts(&b, "Authorization");
	for (const char *p = requested ? requested : ""; *p;) {
		while (*p == ' ' || *p == '\t')
			p++;
		const char *start = p;

		while (*p && *p != ',')
			p++;
		const char *end = p;

		while (end > start && (end[-1] == ' ' || end[-1] == '\t'))
			end--;
		if (end > start) {
			sbuf_puts(&b, ", ");
			sbuf_putn(&b, start, (size_t)(end - start));
		}
		if (*p == ',')
			p++;
	}
	for (int i = 0; SIMPLE_HEADERS[i] != NULL; i++) {
		if (list_has(b.data, b.len, SIMPLE_HEADERS[i]))
			continue;
		sbuf_puts(&b, ", ");
		sbuf_puts(&b, SIMPLE_HEADERS[i]);
	}
	return b.data;
}

int cors_begin(const struct config *cfg, const struct request *req, struct response *resp,
	       struct arena *a)
{
	const char *origin = request_header(req, "origin");
	const char *allow;

	if (origin == NULL || (allow = allowed_origin(cfg, origin)) == NULL)
		return 0;

	const char *acrm = request_header(req, "access-control-request-method");

	if (strcmp(req->method, "OPTIONS") == 0 && acrm != NULL && method_allowed(acrm)) {
		resp->status = 200;
		origin_headers(cfg, resp, allow);
		response_header(resp, "Access-Control-Max-Age", "86400");
		response_header(resp, "Access-Control-Allow-Methods", ALLOWED_METHODS);
		response_header(resp, "Access-Control-Allow-Headers",
				allowed_headers(a, request_header(req, "access-control-request-headers")));
		response_send(resp, NULL, 0);
		return 1;
	}
	origin_headers(cfg, resp, allow);
	response_header(resp, "Access-Control-Expose-Headers", EXPOSED_HEADERS);
	return 0;
}
