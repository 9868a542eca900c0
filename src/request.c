/*
 * request.c — FastCGI params to struct request.
 *
 * Rules (DESIGN.md "route" and "params"):
 *  - the last value of a duplicated CGI variable wins;
 *  - repeated HTTP_* headers are joined with ", " (Prefer: a / Prefer: b);
 *  - the token comes from HTTP_AUTHORIZATION, else
 *    REDIRECT_HTTP_AUTHORIZATION (Apache rewrite in .htaccess); empty counts
 *    as absent;
 *  - route path = PATH_INFO when present, else SCRIPT_NAME; the public
 *    prefix = path of REQUEST_URI minus PATH_INFO.
 */
#include "request.h"

#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* "HTTP_USER_AGENT" -> "user-agent" */
static char *header_name(struct arena *a, const char *var, size_t len)
{
	char *s = arena_strndup(a, var, len);

	for (char *p = s; *p; p++)
		*p = *p == '_' ? '-' : (char)tolower((unsigned char)*p);
	return s;
}

static void add_header(struct request *r, struct arena *a, int *cap,
		       const char *name, const char *value)
{
	for (int i = 0; i < r->n_headers; i++) {
		if (strcmp(r->headers[i].name, name) == 0) {
			if (value[0] != '\0')
				r->headers[i].value = r->headers[i].value[0] == '\0'
					? value
					: arena_printf(a, "%s, %s", r->headers[i].value, value);
			return;
		}
	}
	if (r->n_headers == *cap) {
		int ncap = *cap ? *cap * 2 : 16;
		struct header *h = arena_alloc(a, sizeof(*h) * (size_t)ncap);

		if (r->n_headers)
			memcpy(h, r->headers, sizeof(*h) * (size_t)r->n_headers);
		r->headers = h;
		*cap = ncap;
	}
	r->headers[r->n_headers].name = name;
	r->headers[r->n_headers].value = value;
	r->n_headers++;
}

const char *request_header(const struct request *r, const char *name)
{
	for (int i = 0; i < r->n_headers; i++)
		if (strcmp(r->headers[i].name, name) == 0)
			return r->headers[i].value;
	return NULL;
}

/*
 * SetEnv values are per-request params, not the process environment, so
 * a worker spawned for an .htaccess can only learn its configuration from
 * its requests.  A client cannot forge these: its headers arrive as HTTP_*.
 * Last occurrence wins, as for every CGI variable; empty counts as absent.
 */
const char *request_config_path(char *const *envp, struct arena *a, const char **from)
{
	const char *set = NULL, *redirected = NULL, *script = NULL;

	for (char *const *e = envp; e != NULL && *e != NULL; e++) {
		const char *eq = strchr(*e, '=');

		if (eq == NULL || eq[1] == '\0')
			continue;
		size_t klen = (size_t)(eq - *e);

#define IS(name) (klen == sizeof(name) - 1 && memcmp(*e, name, klen) == 0)
		if (IS("PG_REST_CONFIG"))
			set = eq + 1;
		else if (IS("REDIRECT_PG_REST_CONFIG"))
			redirected = eq + 1;
		else if (IS("SCRIPT_FILENAME"))
			script = eq + 1;
#undef IS
	}
	if (set != NULL || redirected != NULL) {
		*from = set != NULL ? "PG_REST_CONFIG" : "REDIRECT_PG_REST_CONFIG";
		return arena_strdup(a, set != NULL ? set : redirected);
	}
	const char *slash = script != NULL ? strrchr(script, '/') : NULL;

	if (slash == NULL)
		return NULL;
	*from = "SCRIPT_FILENAME";
	return arena_printf(a, "%.*s/.pg_rest.conf", (int)(slash - script), script);
}

/* Decode %XX in the path part of a URI (no '+' rule in paths). */
static char *uri_path_decode(struct arena *a, const char *uri)
{
	size_t n = strcspn(uri, "?");
	char *out = arena_alloc(a, n + 1), *o = out;

	for (size_t i = 0; i < n; i++) {
		if (uri[i] == '%' && i + 2 < n && isxdigit((unsigned char)uri[i + 1]) &&
		    isxdigit((unsigned char)uri[i + 2])) {
			char hex[3] = {uri[i + 1], uri[i + 2], 0};

			*o++ = (char)strtol(hex, NULL, 16);
			i += 2;
		} else {
			*o++ = uri[i];
		}
	}
	*o = '\0';
	return out;
}

static void route_path(struct request *r, struct arena *a, const char *path_info,
		       const char *script_name, const char *request_uri)
{
	if (path_info != NULL) {
		r->path = path_info[0] ? path_info : "/";
		r->prefix = "";
		if (request_uri != NULL) {
			char *p = uri_path_decode(a, request_uri);
			size_t pl = strlen(p), il = strlen(path_info);

			if (pl >= il && strcmp(p + pl - il, path_info) == 0) {
				p[pl - il] = '\0';
				r->prefix = p;
			} else if (script_name != NULL) {
				r->prefix = script_name;
			}
		}
	} else {
		r->path = (script_name != NULL && script_name[0]) ? script_name : "/";
		r->prefix = "";
	}
}

int request_from_params(struct request *r, char *const *envp, struct arena *a,
			const char **err)
{
	const char *path_info = NULL, *script_name = NULL, *request_uri = NULL;
	const char *content_length = NULL, *redirect_auth = NULL;
	int cap = 0;

	memset(r, 0, sizeof(*r));
	r->method = "GET";
	r->query_string = "";
	r->content_length = -1;
	*err = NULL;

	for (char *const *e = envp; e != NULL && *e != NULL; e++) {
		const char *eq = strchr(*e, '=');

		if (eq == NULL)
			continue;
		size_t klen = (size_t)(eq - *e);
		const char *v = eq + 1;

#define IS(name) (klen == sizeof(name) - 1 && memcmp(*e, name, klen) == 0)
		if (IS("REQUEST_METHOD"))
			r->method = v;
		else if (IS("PATH_INFO"))
			path_info = v;
		else if (IS("SCRIPT_NAME"))
			script_name = v;
		else if (IS("REQUEST_URI"))
			request_uri = v;
		else if (IS("QUERY_STRING"))
			r->query_string = v;
		else if (IS("CONTENT_TYPE"))
			r->content_type = v[0] ? v : NULL;
		else if (IS("CONTENT_LENGTH"))
			content_length = v;
		else if (IS("REDIRECT_HTTP_AUTHORIZATION"))
			redirect_auth = v;
		else if (klen > 5 && memcmp(*e, "HTTP_", 5) == 0) {
			/* nginx also sends HTTP_CONTENT_TYPE/LENGTH; CONTENT_* win */
			char *name = header_name(a, *e + 5, klen - 5);

			if (strcmp(name, "cookie") == 0)
				r->cookie = v[0] ? v : NULL;
			else
				add_header(r, a, &cap, name, v);
		}
#undef IS
	}

	r->authorization = request_header(r, "authorization");
	if (r->authorization == NULL || r->authorization[0] == '\0')
		r->authorization = (redirect_auth != NULL && redirect_auth[0]) ? redirect_auth : NULL;

	if (content_length != NULL && content_length[0] != '\0') {
		char *end;

		errno = 0;
		long long n = strtoll(content_length, &end, 10);
		if (errno != 0 || *end != '\0' || n < 0) {
			*err = "invalid CONTENT_LENGTH";
			return -1;
		}
		r->content_length = n;
	}
	route_path(r, a, path_info, script_name, request_uri);
	return 0;
}
