/*
 * handler.c — route a request through the stages and answer it.
 */
#include "handler.h"

#include <ctype.h>
#include <json-c/json.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "auth.h"
#include "media.h"
#include "prefer.h"
#include "json.h"
#include "log.h"
#include "query.h"
#include "request.h"
#include "response.h"
#include "sqlbuild.h"

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
};

/* ------------------------------------------------------------------ */
/* small helpers                                                      */

static int fail(struct ctx *c)
{
	if (c->err.status >= 500)
		log_error("%s %s: %d %s: %s", c->req.method, c->req.path, c->err.status,
			  c->err.code, c->err.message);
	else
		log_info("%s %s: %d %s: %s", c->req.method, c->req.path, c->err.status,
			 c->err.code, c->err.message);
	return response_error(&c->resp, &c->err);
}

static int fail_with(struct ctx *c, int status, const char *code, const char *message,
		     const char *details, const char *hint)
{
	http_error_set(&c->err, status, code, message, details, hint);
	return fail(c);
}

/* Read exactly CONTENT_LENGTH bytes; a short read means the client left. */
static int read_body(struct ctx *c, FCGX_Stream *in)
{
	long long n = c->req.content_length;

	if (n <= 0)
		return 0;
	if (n > c->cfg->max_body_bytes)
		return fail_with(c, 413, "PGRST413", "Payload Too Large",
				 arena_printf(c->a, "The request body has %lld bytes; the limit is %ld.",
					      n, c->cfg->max_body_bytes),
				 "Raise max-body-bytes in the configuration."), -1;
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

static int choose_schema(struct ctx *c, bool reading)
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
	return fail_with(c, 406, "PGRST106",
			 arena_printf(c->a, "The schema must be one of the following: %s", list.data),
			 NULL, NULL), -1;
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

	sbuf_init(&b, c->a, 512);
	sbuf_putc(&b, '{');
	for (int i = 0; i < c->req.n_headers; i++) {
		if (i > 0)
			sbuf_putc(&b, ',');
		json_put_string(&b, c->req.headers[i].name);
		sbuf_putc(&b, ':');
		json_put_string(&b, c->req.headers[i].value);
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
			json_put_string(&b, arena_strndup(c->a, p, (size_t)(eq - p)));
			sbuf_putc(&b, ':');
			json_put_string(&b, arena_strndup(c->a, eq + 1, len - (size_t)(eq - p) - 1));
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
static int preamble(struct ctx *c, struct db_stmt *stmts)
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
	v[8] = sql_array_literal(c->a, (const char *const *)c->cfg->app_settings_names,
				 c->cfg->n_app_settings);
	v[9] = sql_array_literal(c->a, (const char *const *)c->cfg->app_settings_values,
				 c->cfg->n_app_settings);
	stmts[n].sql = SQL_TX_SETTINGS;
	stmts[n].nparams = SQL_TX_SETTINGS_NPARAMS;
	stmts[n].values = v;
	n++;
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

static int apply_response_gucs(struct ctx *c, const char *headers, const char *status)
{
	if (status != NULL) {
		char *end;
		long s = strtol(status, &end, 10);

		if (*end != '\0' || s < 100 || s > 599)
			return fail_with(c, 500, "PGRST112",
					 "response.status guc must be a valid status code", NULL, NULL), -1;
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
			response_header(&c->resp, arena_strdup(c->a, key),
					arena_strdup(c->a, json_object_get_string(val)));
		}
	}
	json_object_put(arr);
	if (!ok)
		return fail_with(c, 500, "PGRST111",
				 "response.headers guc must be a JSON array composed of objects with a single key and a string value",
				 NULL, NULL), -1;
	return 0;
}

/* ------------------------------------------------------------------ */
/* GET / HEAD on a table or view                                      */

static const char *getval(PGresult *res, int col)
{
	return PQgetisnull(res, 0, col) ? NULL : PQgetvalue(res, 0, col);
}

/*
 * Range: 0-9 (GET only) narrows limit/offset: the result is the
 * intersection of the two ranges, as in PostgREST.  An unparsable header
 * is ignored; lower > upper is 416.
 */
static int apply_range_header(struct ctx *c, struct query_level *root)
{
	const char *h = request_header(&c->req, "range");
	long long lo, hi = -1;
	char *end;

	if (h == NULL || strcmp(c->req.method, "GET") != 0)
		return 0;
	if (strncasecmp(h, "items=", 6) == 0)
		h += 6;
	if (!isdigit((unsigned char)*h))
		return 0;
	lo = strtoll(h, &end, 10);
	if (*end++ != '-')
		return 0;
	if (isdigit((unsigned char)*end)) {
		hi = strtoll(end, &end, 10);
		if (hi < lo)
			return fail_with(c, 416, "PGRST103", "Requested range not satisfiable",
					 "The lower boundary must be lower than or equal to the upper boundary in the Range header.",
					 NULL), -1;
	}
	if (*end != '\0')
		return 0;

	long long q_lo = root->offset;
	long long q_hi = root->limit >= 0 ? root->offset + root->limit - 1 : -1;
	long long n_lo = lo > q_lo ? lo : q_lo;
	long long n_hi = hi < 0 ? q_hi : (q_hi < 0 || hi < q_hi ? hi : q_hi);

	root->offset = n_lo;
	root->limit = n_hi < 0 ? -1 : (n_hi >= n_lo ? n_hi - n_lo + 1 : 0);
	return 0;
}

/* "Plan Rows" of EXPLAIN (FORMAT JSON) output, or -1 */
static long long plan_rows(PGresult *res)
{
	long long rows = -1;

	if (res == NULL || PQntuples(res) < 1)
		return -1;
	json_object *doc = json_tokener_parse(PQgetvalue(res, 0, 0)), *plan, *n;

	if (doc != NULL && json_object_is_type(doc, json_type_array) &&
	    json_object_object_get_ex(json_object_array_get_idx(doc, 0), "Plan", &plan) &&
	    json_object_object_get_ex(plan, "Plan Rows", &n))
		rows = (long long)json_object_get_double(n);
	json_object_put(doc);
	return rows;
}

static const char *count_name(enum count_kind k)
{
	return k == COUNT_EXACT ? "count=exact" : k == COUNT_PLANNED ? "count=planned"
						   : "count=estimated";
}

/* the total for Content-Range: exact, planned or estimated; -1 = unknown */
static long long read_total(const struct read_spec *spec, PGresult *main, PGresult *plan)
{
	const char *counted = getval(main, 0);

	switch (spec->count) {
	case COUNT_EXACT:
		return counted ? atoll(counted) : -1;
	case COUNT_PLANNED:
		return plan_rows(plan);
	case COUNT_ESTIMATED:
		/* exact up to db-max-rows (the count stops at one more), planned above */
		if (counted != NULL && (spec->max_rows < 0 || atoll(counted) <= spec->max_rows))
			return atoll(counted);
		return plan_rows(plan);
	default:
		return -1;
	}
}

static int respond_read(struct ctx *c, const struct read_spec *spec, const struct query *q,
			PGresult *main, PGresult *plan, const char *relation)
{
	long long page = atoll(PQgetvalue(main, 0, 1));
	long long total = read_total(spec, main, plan);
	long long lower = q->levels[0].offset, upper = lower + page - 1;
	const char *body = getval(main, 2);
	const char *total_s = total >= 0 ? arena_printf(c->a, "%lld", total) : "*";

	/* PostgREST's rangeStatusHeader */
	if (total >= 0 && lower > total) {
		response_headerf(&c->resp, "Content-Range", "*/%lld", total);
		return fail_with(c, 416, "PGRST103", "Requested range not satisfiable",
				 arena_printf(c->a, "An offset of %lld was requested, but there are only %lld rows.",
					      lower, total),
				 NULL);
	}
	if (media_is_object(spec->media) && page != 1)
		return fail_with(c, 406, "PGRST116", "JSON object requested, multiple (or no) rows returned",
				 arena_printf(c->a, "The result contains %lld rows", page), NULL);
	c->resp.status = (total >= 0 && upper - lower + 1 < total) ? 206 : 200;
	response_header(&c->resp, "Content-Type", media_content_type(spec->media));
	if (total != 0 && lower <= upper)
		response_headerf(&c->resp, "Content-Range", "%lld-%lld/%s", lower, upper, total_s);
	else
		response_headerf(&c->resp, "Content-Range", "*/%s", total_s);
	response_headerf(&c->resp, "Content-Location", "/%s%s%s", relation,
			 q->canonical[0] ? "?" : "", q->canonical);
	if (spec->count != COUNT_NONE)
		response_header(&c->resp, "Preference-Applied", count_name(spec->count));
	if (c->profile_header)
		response_header(&c->resp, "Content-Profile", c->schema);
	if (apply_response_gucs(c, getval(main, 3), getval(main, 4)) < 0)
		return -1;
	return response_send(&c->resp, body, body ? strlen(body) : 0);
}

/* Accept: application/vnd.pgrst.plan: the EXPLAIN output of the read */
static int respond_plan(struct ctx *c, enum media_type media, PGresult *res)
{
	struct sbuf body;

	sbuf_init(&body, c->a, 1024);
	for (int i = 0; i < PQntuples(res); i++) {
		if (i > 0)
			sbuf_putc(&body, '\n');
		sbuf_puts(&body, PQgetvalue(res, i, 0));
	}
	c->resp.status = 200;
	response_header(&c->resp, "Content-Type", media_content_type(media));
	return response_send(&c->resp, body.data, body.len);
}

static int handle_read(struct ctx *c, const char *relation, bool head)
{
	struct query q;
	struct prefer pf;
	struct sql s, plan;
	struct db_stmt stmts[4];
	PGresult *res[4];
	const char *accept = request_header(&c->req, "accept");
	enum media_type media = media_negotiate(accept, MEDIA_READS |
						(c->cfg->db_plan_enabled ? MEDIA_PLANS : 0));
	bool explain = media == MEDIA_PLAN_TEXT || media == MEDIA_PLAN_JSON;

	if (media == MEDIA_NONE)
		return fail_with(c, 406, "PGRST107",
				 arena_printf(c->a, "None of these media types are available: %s",
					      request_header(&c->req, "accept")),
				 NULL, NULL);
	if (query_parse(c->req.query_string, c->a, &q, &c->err) < 0)
		return fail(c);
	if (apply_range_header(c, query_root(&q)) < 0)
		return -1;
	prefer_parse(request_header(&c->req, "prefer"), &pf, c->a);
	if (pf.strict && pf.invalid != NULL)
		return fail_with(c, 400, "PGRST122", "Invalid preferences given with handling=strict",
				 arena_printf(c->a, "Invalid preferences: %s", pf.invalid), NULL);

	struct read_spec spec = {
		.schema = c->schema,
		.relation = relation,
		.sc = c->w->schema,
		.max_rows = c->cfg->db_max_rows,
		.head = head,
		.media = explain ? MEDIA_JSON : media,
		.count = pf.count,
	};
	int n = preamble(c, stmts), plan_index = -1;

	if (spec.count == COUNT_PLANNED || spec.count == COUNT_ESTIMATED) {
		sql_init(&plan, c->a);
		if (sqlbuild_count_plan(&plan, &q, &spec, &c->err) < 0)
			return fail(c);
		plan_index = n++;
		stmts[plan_index] = (struct db_stmt){plan.text.data, plan.n_values, plan.values};
	}
	sql_init(&s, c->a);
	if (explain)
		sbuf_printf(&s.text, "EXPLAIN (FORMAT %s%s) ", media == MEDIA_PLAN_JSON ? "JSON" : "TEXT",
			    media_plan_options(accept));
	if (sqlbuild_read(&s, &q, &spec, &c->err) < 0)
		return fail(c);
	stmts[n] = (struct db_stmt){s.text.data, s.n_values, s.values};
	n++;

	if (!db_run(&c->w->db, true, false, stmts, n, res, c->auth.is_anon, &c->err, c->a))
		return fail(c);
	int rc = explain ? respond_plan(c, media, res[n - 1])
			 : respond_read(c, &spec, &q, res[n - 1],
					plan_index >= 0 ? res[plan_index] : NULL, relation);

	for (int i = 0; i < n; i++)
		PQclear(res[i]);
	return rc;
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

	if (choose_schema(c, true) < 0)
		return -1;
	if (sc == NULL)
		return fail_with(c, 503, "PGRST002",
				 "Could not query the database for the schema cache. Retrying.", NULL, NULL);
	rel = schema_relation(sc, c->schema, name);
	if (rel == NULL)
		return fail_with(c, 404, "42P01",
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
	response_header(&c->resp, "Allow", allow.data);
	if (c->profile_header)
		response_header(&c->resp, "Content-Profile", c->schema);
	return response_send(&c->resp, NULL, 0);
}

static int not_implemented(struct ctx *c, const char *what)
{
	return fail_with(c, 400, "PGRST127", "Feature not implemented",
			 arena_printf(c->a, "%s is not supported by this version of pg_rest yet", what),
			 NULL);
}

static int route(struct ctx *c)
{
	const char *m = c->req.method;
	const char *path = c->req.path;
	bool read = strcmp(m, "GET") == 0 || strcmp(m, "HEAD") == 0;
	bool write = strcmp(m, "POST") == 0 || strcmp(m, "PATCH") == 0 ||
		     strcmp(m, "PUT") == 0 || strcmp(m, "DELETE") == 0;

	if (!read && !write && strcmp(m, "OPTIONS") != 0)
		return fail_with(c, 405, "PGRST117",
				 arena_printf(c->a, "Unsupported HTTP method: %s", m), NULL, NULL);

	/* "/items" -> "items"; a trailing slash is tolerated */
	const char *name = path[0] == '/' ? path + 1 : path;
	size_t len = strlen(name);

	if (len > 0 && name[len - 1] == '/')
		name = arena_strndup(c->a, name, len - 1);

	if (name[0] == '\0')
		return not_implemented(c, "The OpenAPI description at the root path");
	if (strncmp(name, "rpc/", 4) == 0)
		return not_implemented(c, "Calling functions (/rpc)");
	if (strchr(name, '/') != NULL)
		return fail_with(c, 404, "PGRST125",
				 arena_printf(c->a, "Invalid path specified in request URL"),
				 NULL, NULL);
	if (strcmp(m, "OPTIONS") == 0)
		return handle_options(c, name);
	if (write)
		return not_implemented(c, arena_printf(c->a, "%s on tables", m));

	if (choose_schema(c, true) < 0)
		return -1;

	auth_request(c->cfg, c->req.authorization, time(NULL), c->a, &c->auth);
	if (c->auth.status != 0) {
		http_error_set(&c->err, c->auth.status, c->auth.code, c->auth.message,
			       c->auth.details, c->auth.hint);
		c->err.www_authenticate = c->auth.www_authenticate;
		return fail(c);
	}
	return handle_read(c, name, strcmp(m, "HEAD") == 0);
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
		fail_with(&c, 400, "PGRST102", "Invalid request", perr, NULL);
	} else {
		response_init(&c.resp, fr->out, c.a, strcmp(c.req.method, "HEAD") == 0);
		if (read_body(&c, fr->in) == 0)
			route(&c);
	}
	w->requests++;
	arena_reset(c.a);
}
