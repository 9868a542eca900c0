/*
 * request-t.c — FastCGI params to struct request (src/request.c): the
 * route path and public prefix for every nginx and Apache mount that
 * DEPLOY-NOTES.md 3.2 and 4.3 recorded, where the token is read from, and
 * where a worker without a configuration looks for one.
 */
#include <stdio.h>
#include <string.h>

#include "../../src/request.h"
#include "tap.h"

static struct arena A;

/* one row: the params a server sent, and what pg_rest must make of them */
struct mount_case {
	int line;
	const char *what;
	const char *script_name;    /* NULL = not sent */
	const char *path_info;
	const char *request_uri;
	const char *want_path;
	const char *want_prefix;
};

static const struct mount_case mounts[] = {
	{__LINE__, "nginx location /", "/items", NULL, "/items?id=eq.1", "/items", ""},
	{__LINE__, "nginx location / GET /", "/", NULL, "/", "/", ""},
	{__LINE__, "nginx /api/ + split_path_info", "/api", "/items", "/api/items?id=eq.1", "/items", "/api"},
	{__LINE__, "nginx /api/ GET /api/", "/api", "/", "/api/", "/", "/api"},
	{__LINE__, "nginx decoded PATH_INFO", "/api", "/items x/a/b", "/api/items%20x/a%2Fb?x=1",
	 "/items x/a/b", "/api"},
	{__LINE__, "Apache ScriptAlias /api", "/api", "/items", "/api/items?id=eq.1", "/items", "/api"},
	{__LINE__, "Apache ScriptAlias /api GET /api/", "/api", "/", "/api/?id=eq.1", "/", "/api"},
	{__LINE__, "Apache AllowEncodedSlashes NoDecode: half-decoded PATH_INFO, prefix from SCRIPT_NAME",
	 "/api", "/items x/a%2Fb", "/api/items%20x/a%2Fb", "/items x/a%2Fb", "/api"},
	{__LINE__, "Apache ScriptAlias / /path/pg_rest/", "", "/clients", "/clients?id=eq.1", "/clients", ""},
	{__LINE__, "Apache root mount, /rpc/whoami", "", "/rpc/whoami", "/rpc/whoami", "/rpc/whoami", ""},
	{__LINE__, "Apache root mount, GET /", "", "/", "/", "/", ""},
	{__LINE__, ".htaccess front controller", "/site/pg_rest.fcgi", "/items", "/site/items?id=eq.1",
	 "/items", "/site"},
	{__LINE__, ".htaccess front controller, /site/", "/site/pg_rest.fcgi", "/", "/site/", "/", "/site"},
	{__LINE__, ".htaccess front controller, /site/rpc/fn", "/site/pg_rest.fcgi", "/rpc/fn",
	 "/site/rpc/fn", "/rpc/fn", "/site"},
	{__LINE__, ".htaccess, the program asked for directly", "/site/pg_rest.fcgi", "/items",
	 "/site/pg_rest.fcgi/items", "/items", "/site/pg_rest.fcgi"},
	{__LINE__, "percent-encoded name under a prefix", "/api", "/my table", "/api/my%20table",
	 "/my table", "/api"},
	{__LINE__, "empty PATH_INFO is the root", "/api", "", "/api", "/", "/api"},
};

/* build "NAME=value" params from pairs; NULL values are left out */
static char **params(const char *const *kv)
{
	static char *out[32];
	int n = 0;

	for (int i = 0; kv[i] != NULL && n < 31; i += 2) {
		if (kv[i + 1] != NULL)
			out[n++] = arena_printf(&A, "%s=%s", kv[i], kv[i + 1]);
	}
	out[n] = NULL;
	return out;
}

static const char *auth_of(const char *const *kv)
{
	struct request r;
	const char *err;

	if (request_from_params(&r, params(kv), &A, &err) < 0)
		return "(error)";
	return r.authorization;
}

int main(void)
{
	struct request r;
	const char *err, *from;

	arena_init(&A);

	for (size_t i = 0; i < sizeof(mounts) / sizeof(mounts[0]); i++) {
		const struct mount_case *m = &mounts[i];
		const char *kv[] = {"REQUEST_METHOD", "GET", "SCRIPT_NAME", m->script_name,
				    "PATH_INFO", m->path_info, "REQUEST_URI", m->request_uri, NULL};

		if (!is_int(request_from_params(&r, params(kv), &A, &err), 0, "line %d: %s: parsed",
			    m->line, m->what))
			continue;
		is_str(r.path, m->want_path, "line %d: %s: path", m->line, m->what);
		is_str(r.prefix, m->want_prefix, "line %d: %s: prefix", m->line, m->what);
	}

	/* the token: HTTP_AUTHORIZATION, else REDIRECT_HTTP_AUTHORIZATION; empty = none */
	{
		const char *kv[] = {"HTTP_AUTHORIZATION", "Bearer a", NULL};

		is_str(auth_of(kv), "Bearer a", "Authorization header (nginx, CGIPassAuth)");
	}
	{
		const char *kv[] = {"REDIRECT_HTTP_AUTHORIZATION", "Bearer r", NULL};

		is_str(auth_of(kv), "Bearer r", "only REDIRECT_HTTP_AUTHORIZATION (first-pass rewrite)");
	}
	{
		const char *kv[] = {"HTTP_AUTHORIZATION", "", "REDIRECT_HTTP_AUTHORIZATION", "Bearer r", NULL};

		is_str(auth_of(kv), "Bearer r", "empty HTTP_AUTHORIZATION falls back to the redirected one");
	}
	{
		const char *kv[] = {"REDIRECT_HTTP_AUTHORIZATION", "Bearer r", "HTTP_AUTHORIZATION", "Bearer a", NULL};

		is_str(auth_of(kv), "Bearer a", "HTTP_AUTHORIZATION wins over the redirected one");
	}
	{
		/* RewriteRule .* - [E=HTTP_AUTHORIZATION:%{HTTP:Authorization}] without the header */
		const char *kv[] = {"REDIRECT_HTTP_AUTHORIZATION", "", "HTTP_AUTHORIZATION", "", NULL};

		is_str(auth_of(kv), NULL, "both empty (E= rewrite, no header sent): no token");
	}
	{
		const char *kv[] = {"HTTP_HOST", "x", NULL};

		is_str(auth_of(kv), NULL, "neither sent: no token");
	}

	/* where a worker started without a configuration finds one */
	{
		const char *kv[] = {"SCRIPT_FILENAME", "/home/u/www/site/pg_rest.fcgi",
				    "PG_REST_CONFIG", "/home/u/pg_rest.conf", NULL};

		from = NULL;
		is_str(request_config_path(params(kv), &A, &from), "/home/u/pg_rest.conf",
		       "SetEnv PG_REST_CONFIG wins over the file next to the program");
		is_str(from, "PG_REST_CONFIG", "... and says so");
	}
	{
		const char *kv[] = {"REDIRECT_PG_REST_CONFIG", "/home/u/r.conf",
				    "SCRIPT_FILENAME", "/home/u/www/site/pg_rest.fcgi", NULL};

		from = NULL;
		is_str(request_config_path(params(kv), &A, &from), "/home/u/r.conf",
		       "REDIRECT_PG_REST_CONFIG (after the front controller's rewrite)");
		is_str(from, "REDIRECT_PG_REST_CONFIG", "... and says so");
	}
	{
		const char *kv[] = {"PG_REST_CONFIG", "/a.conf", "PG_REST_CONFIG", "/b.conf", NULL};

		is_str(request_config_path(params(kv), &A, &from), "/b.conf", "the last PG_REST_CONFIG wins");
	}
	{
		const char *kv[] = {"PG_REST_CONFIG", "", "SCRIPT_FILENAME", "/home/u/www/site/pg_rest.fcgi", NULL};

		from = NULL;
		is_str(request_config_path(params(kv), &A, &from), "/home/u/www/site/.pg_rest.conf",
		       "empty PG_REST_CONFIG: .pg_rest.conf next to SCRIPT_FILENAME");
		is_str(from, "SCRIPT_FILENAME", "... and says so");
	}
	{
		const char *kv[] = {"SCRIPT_FILENAME", "/pg_rest.fcgi", NULL};

		is_str(request_config_path(params(kv), &A, &from), "/.pg_rest.conf", "a program in /");
	}
	{
		const char *kv[] = {"SCRIPT_FILENAME", "pg_rest.fcgi", NULL};

		is_str(request_config_path(params(kv), &A, &from), NULL, "SCRIPT_FILENAME without a directory");
	}
	{
		const char *kv[] = {"HTTP_PG_REST_CONFIG", "/etc/shadow", "HTTP_HOST", "x", NULL};

		is_str(request_config_path(params(kv), &A, &from), NULL,
		       "a client's PG-REST-CONFIG header (HTTP_PG_REST_CONFIG) names nothing");
	}

	arena_destroy(&A);
	return done_testing();
}
