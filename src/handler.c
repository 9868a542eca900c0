/*
 * handler.c — route a request through the stages and answer it.
 */
#include "context.h"

#include <ctype.h>
#include <json-c/json.h>
#include <malloc.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "auth.h"
#include "cors.h"
#include "media.h"
#include "prefer.h"
#include "json.h"
#include "log.h"
#include "query.h"
#include "request.h"
#include "response.h"
#include "sqlbuild.h"

/* ------------------------------------------------------------------ */
/* small helpers                                                      */

int ctx_fail(struct ctx *c)
{
	if (c->err.status >= 500)
		log_error("%s %s: %d %s: %s", c->req.method, c->req.path, c->err.status,
			  c->err.code, c->err.message);
	else
		log_info("%s %s: %d %s: %s", c->req.method, c->req.path, c->err.status,
			 c->err.code, c->err.message);
	response_error(&c->resp, &c->err);
	/* the request is answered; callers stop on -1 */
	return -1;
}

int ctx_fail_with(struct ctx *c, int status, const char *code, const char *message,
		     const char *details, const char *hint)
{
	http_error_set(&c->err, status, code, message, details, hint);
	return ctx_fail(c);
}

/* Read exactly CONTENT_LENGTH bytes; a short read means the client left. */
static int read_body(struct ctx *c, FCGX_Stream *in)
{
	long long n = c->req.content_length;

	if (n <= 0)
		return 0;
	if (n > c->cfg->max_body_bytes)
		return ctx_fail_with(c, 413, "PGRST413", "Payload Too Large",
				 arena_printf(c->a, "The request body has %lld bytes; the limit is %ld.",
					      n, c->cfg->max_body_bytes),
				 "Raise max-body-bytes in the configuration.");
	char *buf = arena_alloc(c->a, (size_t)n + 1);
	int got = FCGX_GetStr(buf, (int)n, in);

	if (got != n) {
		log_info("request body cut short (%d of %lld bytes): client gone", got, n);
		return -1;
	}
	buf[n] = '\0';
	c->req.body = buf;
	c->req.body_len = (size_t)n;
	return 0;
}

/* ------------------------------------------------------------------ */
/* schema selection: Accept-Profile / Content-Profile                 */

int ctx_choose_schema(struct ctx *c, bool reading)
{
	const char *want = request_header(&c->req, reading ? "accept-profile" : "content-profile");

	c->schema = c->cfg->db_schemas[0];
	c->profile_header = c->cfg->n_db_schemas > 1;
	if (want == NULL || want[0] == '\0')
		return 0;
	for (int i = 0; i < c->cfg->n_db_schemas; i++) {
		if (strcmp(c->cfg->db_schemas[i], want) == 0) {
			c->schema = c->cfg->db_schemas[i];
			c->profile_header = true;
			return 0;
		}
	}
	struct sbuf list;

	sbuf_init(&list, c->a, 64);
	for (int i = 0; i < c->cfg->n_db_schemas; i++)
		sbuf_printf(&list, "%s%s", i ? ", " : "", c->cfg->db_schemas[i]);
	return ctx_fail_with(c, 406, "PGRST106",
			 arena_printf(c->a, "The schema must be one of the following: %s", list.data),
			 NULL, NULL);
}

/* ------------------------------------------------------------------ */
/* the settings statement's values                                    */

static const char *search_path_value(struct ctx *c)
{
	struct sbuf b;

	sbuf_init(&b, c->a, 64);
	sql_ident(&b, c->schema);
	for (int i = 0; i < c->cfg->n_db_extra_search_path; i++) {
		sbuf_puts(&b, ", ");
		sql_ident(&b, c->cfg->db_extra_search_path[i]);
	}
	return b.data;
}

static const char *headers_json(struct ctx *c)
{
	struct sbuf b;

	/*
	 * json_put_text: a header that is not UTF-8 (a Latin-1 User-Agent or
	 * Referer) would make PostgreSQL refuse the whole GUC value (22021)
	 * and fail every request of that client; such bytes become U+FFFD.
	 */
	sbuf_init(&b, c->a, 512);
	sbuf_putc(&b, '{');
	for (int i = 0; i < c->req.n_headers; i++) {
		if (i > 0)
			sbuf_putc(&b, ',');
		json_put_text(&b, c->req.headers[i].name);
		sbuf_putc(&b, ':');
		json_put_text(&b, c->req.headers[i].value);
	}
	sbuf_putc(&b, '}');
	return b.data;
}

/* "a=1; b=2" -> {"a":"1","b":"2"} */
static const char *cookies_json(struct ctx *c)
{
	struct sbuf b;
	int n = 0;

	sbuf_init(&b, c->a, 128);
	sbuf_putc(&b, '{');
	for (const char *p = c->req.cookie; p && *p;) {
		while (*p == ' ' || *p == ';')
			p++;
		size_t len = strcspn(p, ";");
		const char *eq = memchr(p, '=', len);

		if (eq != NULL && eq > p) {
			if (n++ > 0)
				sbuf_putc(&b, ',');
			/* not UTF-8: U+FFFD, as in headers_json() */
			json_put_mem(&b, p, (size_t)(eq - p), true);
			sbuf_putc(&b, ':');
			json_put_mem(&b, eq + 1, len - (size_t)(eq - p) - 1, true);
		}
		p += len;
	}
	sbuf_putc(&b, '}');
	return b.data;
}

/*
 * The statements before the main one: settings, then db-pre-request.
 * Returns how many were written to stmts.
 */
int ctx_preamble(struct ctx *c, struct db_stmt *stmts)
{
	const char **v = arena_alloc(c->a, sizeof(*v) * SQL_TX_SETTINGS_NPARAMS);
	int n = 0;

	v[0] = search_path_value(c);
	v[1] = c->auth.role;
	v[2] = c->auth.claims_json;
	v[3] = c->req.method;
	v[4] = c->req.path;
	v[5] = headers_json(c);
	v[6] = cookies_json(c);
	v[7] = c->cfg->db_use_legacy_gucs ? "true" : "false";
	if (c->cfg->n_app_settings > 0) {
		v[8] = sql_array_literal(c->a, (const char *const *)c->cfg->app_settings_names,
					 c->cfg->n_app_settings);
		v[9] = sql_array_literal(c->a, (const char *const *)c->cfg->app_settings_values,
					 c->cfg->n_app_settings);
		stmts[n].sql = SQL_TX_SETTINGS;
		stmts[n].nparams = SQL_TX_SETTINGS_NPARAMS;
	} else {
		stmts[n].sql = SQL_TX_SETTINGS_NO_APP;
		stmts[n].nparams = SQL_TX_SETTINGS_NO_APP_NPARAMS;
	}
	stmts[n].values = v;
	n++;
	if (c->hoisted_names != NULL) {
		const char **hv = arena_alloc(c->a, sizeof(*hv) * 2);

		hv[0] = c->hoisted_names;
		hv[1] = c->hoisted_values;
		stmts[n].sql = SQL_HOISTED_SETTINGS;
		stmts[n].nparams = 2;
		stmts[n].values = hv;
		n++;
	}
	if (c->cfg->db_pre_request_name != NULL) {
		stmts[n].sql = sqlbuild_pre_request(c->a, c->cfg->db_pre_request_schema,
						    c->cfg->db_pre_request_name);
		stmts[n].nparams = 0;
		stmts[n].values = NULL;
		n++;
	}
	return n;
}

/* ------------------------------------------------------------------ */
/* response.headers / response.status set by SQL                      */

int ctx_apply_response_gucs(struct ctx *c, const char *headers, const char *status)
{
	if (status != NULL) {
		char *end;
		long s = strtol(status, &end, 10);

		if (*end != '\0' || s < 100 || s > 599)
			return ctx_fail_with(c, 500, "PGRST112",
					 "response.status guc must be a valid status code", NULL, NULL);
		c->resp.status = (int)s;
	}
	if (headers == NULL)
		return 0;

	json_object *arr = json_tokener_parse(headers);
	bool ok = arr != NULL && json_object_is_type(arr, json_type_array);

	for (size_t i = 0; ok && i < json_object_array_length(arr); i++) {
		json_object *o = json_object_array_get_idx(arr, i);

		if (!json_object_is_type(o, json_type_object) || json_object_object_length(o) != 1) {
			ok = false;
			break;
		}
		json_object_object_foreach(o, key, val) {
			if (!json_object_is_type(val, json_type_string)) {
				ok = false;
				break;
			}
			/* a Content-Type set by SQL replaces pg_rest's own, as in PostgREST */
			if (strcasecmp(key, "Content-Type") == 0)
				response_drop_header(&c->resp, "Content-Type");
			response_header(&c->resp, arena_strdup(c->a, key),
					arena_strdup(c->a, json_object_get_string(val)));
		}
	}
	json_object_put(arr);
	if (!ok)
		return ctx_fail_with(c, 500, "PGRST111",
				 "response.headers guc must be a JSON array composed of objects with a single key and a string value",
				 NULL, NULL);
	return 0;
}

const char *ctx_getval(PGresult *res, int col)
{
	return PQgetisnull(res, 0, col) ? NULL : PQgetvalue(res, 0, col);
}

/* ------------------------------------------------------------------ */
/* routing                                                            */

/*
 * OPTIONS on a table or view: Allow lists what the relation permits, as
 * PostgREST derives it from the schema cache (PUT needs a primary key).
 * No transaction is run.
 */
static int handle_options(struct ctx *c, const char *name)
{
	const struct schema_cache *sc = c->w->schema;
	const struct sc_relation *rel;
	struct sbuf allow;

	if (ctx_choose_schema(c, true) < 0)
		return -1;
	if (sc == NULL)
		return ctx_fail_with(c, 503, "PGRST002",
				 "Could not query the database for the schema cache. Retrying.", NULL, NULL);
	rel = schema_relation(sc, c->schema, name);
	if (rel == NULL)
		return ctx_fail_with(c, 404, "42P01",
				 arena_printf(c->a, "relation \"%s.%s\" does not exist", c->schema, name),
				 NULL, NULL);
	sbuf_init(&allow, c->a, 64);
	sbuf_puts(&allow, "OPTIONS,GET,HEAD");
	if (rel->insertable)
		sbuf_puts(&allow, ",POST");
	if (rel->insertable && rel->updatable && rel->n_pk > 0)
		sbuf_puts(&allow, ",PUT");
	if (rel->updatable)
		sbuf_puts(&allow, ",PATCH");
	if (rel->deletable)
		sbuf_puts(&allow, ",DELETE");
	c->resp.status = 200;
	response_allow_any_origin(&c->resp);
	response_header(&c->resp, "Allow", allow.data);
	if (c->profile_header)
		response_header(&c->resp, "Content-Profile", c->schema);
	return response_send(&c->resp, NULL, 0);
}

/* the request's role, or an answer when it has none */
static int authenticate(struct ctx *c)
{
	timing_skip(&c->resp);
	auth_request(c->cfg, c->req.authorization, time(NULL), c->a, &c->auth);
	timing_mark(&c->resp, TIMING_JWT);
	if (c->auth.status == 0)
		return 0;
	http_error_set(&c->err, c->auth.status, c->auth.code, c->auth.message,
		       c->auth.details, c->auth.hint);
	c->err.www_authenticate = c->auth.www_authenticate;
	return ctx_fail(c);
}

/* /rpc/<function>: GET, HEAD and POST call it; OPTIONS tells which */
static int route_rpc(struct ctx *c, const char *name)
{
	const char *m = c->req.method;
	bool read = strcmp(m, "GET") == 0 || strcmp(m, "HEAD") == 0;

	if (strcmp(m, "OPTIONS") == 0) {
		int count, first;

		if (ctx_choose_schema(c, true) < 0)
			return -1;
		if (c->w->schema == NULL)
			return ctx_fail_with(c, 503, "PGRST002",
					     "Could not query the database for the schema cache. Retrying.", NULL, NULL);
		first = schema_functions(c->w->schema, c->schema, name, &count);
		if (first < 0)
			return ctx_fail_with(c, 404, "PGRST202",
					     arena_printf(c->a, "Could not find the function %s.%s in the schema cache",
							  c->schema, name), NULL, NULL);
		c->resp.status = 200;
		response_allow_any_origin(&c->resp);
		response_header(&c->resp, "Allow", c->w->schema->functions[first].volatility == 'v'
				? "OPTIONS,POST" : "OPTIONS,GET,HEAD,POST");
		return response_send(&c->resp, NULL, 0);
	}
	if (!read && strcmp(m, "POST") != 0)
		return ctx_fail_with(c, 405, "PGRST101",
				     arena_printf(c->a, "Cannot use the %s method on RPC", m), NULL, NULL);
	if (ctx_choose_schema(c, read) < 0 || authenticate(c) < 0)
		return -1;
	return handle_rpc(c, name, strcmp(m, "HEAD") == 0);
}

/* the root path: GET and HEAD describe the API; nothing can be written there */
static int route_root(struct ctx *c)
{
	const char *m = c->req.method;

	if (strcmp(m, "OPTIONS") == 0) {
		c->resp.status = 200;
		response_allow_any_origin(&c->resp);
		response_header(&c->resp, "Allow", "OPTIONS,GET,HEAD");
		return response_send(&c->resp, NULL, 0);
	}
	if (strcmp(m, "GET") != 0 && strcmp(m, "HEAD") != 0)
		return ctx_fail_with(c, 405, "PGRST117",
				     arena_printf(c->a, "Unsupported HTTP method: %s", m), NULL, NULL);
	if (ctx_choose_schema(c, true) < 0 || authenticate(c) < 0)
		return -1;
	/* db-root-spec: the function answers, as GET /rpc/<it> would */
	if (c->cfg->db_root_spec != NULL)
		return handle_rpc(c, c->cfg->db_root_spec, strcmp(m, "HEAD") == 0);
	return handle_root(c);
}

static int route(struct ctx *c)
{
	const char *m = c->req.method;
	const char *path = c->req.path;
	bool read = strcmp(m, "GET") == 0 || strcmp(m, "HEAD") == 0;
	bool write = strcmp(m, "POST") == 0 || strcmp(m, "PATCH") == 0 ||
		     strcmp(m, "PUT") == 0 || strcmp(m, "DELETE") == 0;

	if (!read && !write && strcmp(m, "OPTIONS") != 0)
		return ctx_fail_with(c, 405, "PGRST117",
				 arena_printf(c->a, "Unsupported HTTP method: %s", m), NULL, NULL);

	/* "/items" -> "items"; a trailing slash is tolerated */
	const char *name = path[0] == '/' ? path + 1 : path;
	size_t len = strlen(name);

	if (len > 0 && name[len - 1] == '/')
		name = arena_strndup(c->a, name, len - 1);

	if (name[0] == '\0')
		return route_root(c);
	if (strncmp(name, "rpc/", 4) == 0 && name[4] != '\0' && strchr(name + 4, '/') == NULL)
		return route_rpc(c, name + 4);
	if (strchr(name, '/') != NULL)
		return ctx_fail_with(c, 404, "PGRST125",
				 arena_printf(c->a, "Invalid path specified in request URL"),
				 NULL, NULL);
	if (strcmp(m, "OPTIONS") == 0)
		return handle_options(c, name);

	if (ctx_choose_schema(c, read) < 0)
		return -1;

	if (authenticate(c) < 0)
		return -1;
	if (write)
		return handle_write(c, name);
	return handle_read(c, name, strcmp(m, "HEAD") == 0);
}

/*
 * server-trace-header: the request's value of that header goes back in
 * the answer, so a request can be followed through the web server's and
 * the database's logs (PostgREST sends it on every answer, errors too).
 */
static void echo_trace_header(struct ctx *c)
{
	const char *name = c->cfg->server_trace_header;
	const char *value;
	char *lower;

	if (name == NULL || name[0] == '\0')
		return;
	lower = arena_strdup(c->a, name);
	for (char *p = lower; *p; p++) {
		/* a header name is a token: nothing else may reach the header block */
		if (!isalnum((unsigned char)*p) && *p != '-')
			return;
		*p = (char)tolower((unsigned char)*p);
	}
	value = request_header(&c->req, lower);
	if (value != NULL)
		response_header(&c->resp, name, value);
}

void handle_request(struct worker *w, FCGX_Request *fr)
{
	struct ctx c;
	const char *perr;

	memset(&c, 0, sizeof(c));
	c.w = w;
	c.cfg = w->cfg;
	c.a = &w->arena;

	if (request_from_params(&c.req, fr->envp, c.a, &perr) < 0) {
		response_init(&c.resp, fr->out, c.a, false);
		ctx_fail_with(&c, 400, "PGRST102", "Invalid request", perr, NULL);
	} else {
		response_init(&c.resp, fr->out, c.a, strcmp(c.req.method, "HEAD") == 0);
		if (c.cfg->server_timing_enabled)
			timing_start(&c.resp, &c.timing);
		echo_trace_header(&c);
		if (cors_begin(c.cfg, &c.req, &c.resp, c.a) == 0 && read_body(&c, fr->in) == 0)
			route(&c);
	}
	w->requests++;
	/*
	 * glibc keeps what a request freed in its heap for the next ones; after
	 * a big body (json-c's parse of a 1,000-row POST, its SQL, its result)
	 * that is a megabyte the worker keeps resident for good.  Give free
	 * pages back after such a request, and every 4096 requests whatever
	 * else piled up (a few microseconds each time; bench/README).
	 */
	bool big = c.a->used_total > 256 * 1024 || c.req.body_len > 16 * 1024;

	arena_reset(c.a);
	if (big || w->requests % 4096 == 0)
		malloc_trim(0);
}
