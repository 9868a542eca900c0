/*
 * read.c — GET and HEAD on a table or view: plan, SQL, one round trip,
 * then Content-Range, counts and the body in the negotiated media type.
 */
#include "context.h"

#include <ctype.h>
#include <json-c/json.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "media.h"
#include "prefer.h"
#include "query.h"
#include "sqlbuild.h"


/*
 * Range: 0-9 (GET only) narrows limit/offset (query_apply_range, kept in
 * query.c without I/O so that t/unit and t/fuzz can drive it).
 */
static int apply_range_header(struct ctx *c, struct query_level *root)
{
	if (strcmp(c->req.method, "GET") != 0)
		return 0;
	if (query_apply_range(root, request_header(&c->req, "range"), &c->err) < 0)
		return ctx_fail(c);
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
	const char *counted = ctx_getval(main, 0);

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

/* a bytea handler's value in PostgreSQL's text output: the bytes (libpq decodes either format) */
static const char *bytea_decode(struct arena *a, const char *text, size_t *len)
{
	unsigned char *raw = PQunescapeBytea((const unsigned char *)text, len);
	char *out;

	if (raw == NULL) {
		*len = 0;
		return "";
	}
	out = arena_alloc(a, *len + 1);
	memcpy(out, raw, *len);
	out[*len] = '\0';
	PQfreemem(raw);
	return out;
}

static int respond_read(struct ctx *c, const struct read_spec *spec, const struct query *q,
			PGresult *main, PGresult *plan, const char *relation, bool sign_claims)
{
	long long page = atoll(PQgetvalue(main, 0, 1));
	long long total = read_total(spec, main, plan);
	long long lower = q->levels[0].offset, upper = lower + page - 1;
	const char *body = ctx_getval(main, 2);
	const char *total_s = total >= 0 ? arena_printf(c->a, "%lld", total) : "*";

	/* PostgREST's rangeStatusHeader */
	if (total >= 0 && lower > total) {
		response_headerf(&c->resp, "Content-Range", "*/%lld", total);
		return ctx_fail_with(c, 416, "PGRST103", "Requested range not satisfiable",
				 arena_printf(c->a, "An offset of %lld was requested, but there are only %lld rows.",
					      lower, total),
				 NULL);
	}
	if (spec->returns_void) {
		/* PostgREST v12: a void function answers 204 without a body */
		c->resp.status = 204;
		if (ctx_apply_response_gucs(c, ctx_getval(main, 3), ctx_getval(main, 4)) < 0)
			return -1;
		return response_send(&c->resp, NULL, 0);
	}
	if (media_is_object(spec->media) && page != 1)
		return ctx_fail_with(c, 406, "PGRST116", "JSON object requested, multiple (or no) rows returned",
				 arena_printf(c->a, "The result contains %lld rows", page), NULL);
	/* internal JWT generation: the claims row becomes a signed token */
	if (sign_claims && body != NULL && (body = rpc_token_body(c, body)) == NULL)
		return -1;
	c->resp.status = (total >= 0 && upper - lower + 1 < total) ? 206 : 200;
	response_header(&c->resp, "Content-Type",
			spec->handler_type ? spec->handler_type : media_content_type(spec->media));
	size_t body_len = body ? strlen(body) : 0;

	if (spec->handler_type && spec->handler_binary && body != NULL)
		body = bytea_decode(c->a, body, &body_len);
	if (total != 0 && lower <= upper)
		response_headerf(&c->resp, "Content-Range", "%lld-%lld/%s", lower, upper, total_s);
	else
		response_headerf(&c->resp, "Content-Range", "*/%s", total_s);
	/* too long for the web server's header buffer: left out (response.h) */
	if (strlen(relation) + strlen(q->canonical) < RESPONSE_MAX_ECHO_HEADER)
		response_headerf(&c->resp, "Content-Location", "%s/%s%s%s",
				 c->req.prefix ? c->req.prefix : "", relation,
				 q->canonical[0] ? "?" : "", q->canonical);
	if (spec->count != COUNT_NONE)
		response_header(&c->resp, "Preference-Applied", count_name(spec->count));
	if (c->profile_header)
		response_header(&c->resp, "Content-Profile", c->schema);
	if (ctx_apply_response_gucs(c, ctx_getval(main, 3), ctx_getval(main, 4)) < 0)
		return -1;
	return response_send(&c->resp, body, body_len);
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

/*
 * Negotiate the media type, parse the query string, apply Range and
 * Prefer: what every read (table, view or function) does first.
 */
int read_prepare(struct ctx *c, struct read_request *r)
{
	const char *accept = request_header(&c->req, "accept");

	r->media = r->handler_type != NULL ? MEDIA_JSON
		   : media_negotiate(accept, MEDIA_READS | (c->cfg->db_plan_enabled ? MEDIA_PLANS : 0));
	r->explain = r->media == MEDIA_PLAN_TEXT || r->media == MEDIA_PLAN_JSON;
	r->plan_options = media_plan_options(accept);
	if (r->media == MEDIA_NONE)
		return ctx_fail_with(c, 406, "PGRST107",
				     arena_printf(c->a, "None of these media types are available: %s", accept),
				     NULL, NULL);
	if (query_parse(c->req.query_string, c->a, &r->q, &c->err) < 0)
		return ctx_fail(c);
	if (!c->cfg->db_aggregates_enabled && query_has_aggregates(&r->q))
		return ctx_fail_with(c, 400, "PGRST123", "Use of aggregate functions is not allowed", NULL, NULL);
	if (apply_range_header(c, query_root(&r->q)) < 0)
		return -1;
	prefer_parse(request_header(&c->req, "prefer"), &r->pf, c->a);
	if (r->pf.strict && r->pf.invalid != NULL)
		return ctx_fail_with(c, 400, "PGRST122", "Invalid preferences given with handling=strict",
				     arena_printf(c->a, "Invalid preferences: %s", r->pf.invalid), NULL);
	timing_mark(&c->resp, TIMING_PARSE);
	return 0;
}

/* a statement's text and parameters, with values bound ahead as $1..$n */
static void sql_start(struct sql *s, struct arena *a, const struct read_request *r)
{
	struct sbuf ignore;

	sql_init(s, a);
	sbuf_init(&ignore, a, 16);
	for (int i = 0; i < r->n_pre_values; i++)
		sql_param(s, &ignore, r->pre_values[i]);
}

/*
 * GET and HEAD, which run READ ONLY, may go to db-replica-uri; a POST to
 * a stable function runs READ ONLY too but stays on the primary, as does
 * a read with Prefer: read-primary.
 */
static bool replica_candidate(struct ctx *c, const struct read_request *r, bool read_only)
{
	return read_only && !r->pf.read_primary &&
	       (strcmp(c->req.method, "GET") == 0 || strcmp(c->req.method, "HEAD") == 0);
}

/*
 * db_run() on the replica when it may serve the read, else on the primary.
 * A read the replica could not answer because it went away runs again on
 * the primary: the client sees no error for a standby's outage.
 */
static bool read_run_db(struct ctx *c, const struct read_request *r, bool read_only,
			const struct db_stmt *stmts, int n, PGresult **res)
{
	struct db *primary = &c->w->db;
	struct db *db = replica_candidate(c, r, read_only)
		? replica_for_read(&c->w->replica, primary) : primary;

	if (db_run(db, read_only, TX_END_COMMIT, stmts, n, res, c->auth.is_anon, &c->err, c->a))
		return true;
	if (db == primary || !replica_failed(&c->w->replica, &c->err))
		return false;
	return db_run(primary, read_only, TX_END_COMMIT, stmts, n, res, c->auth.is_anon, &c->err, c->a);
}

/*
 * Run a prepared read in one round trip and answer it.  location is the
 * path Content-Location names ("items", "rpc/fn").
 */
int read_run(struct ctx *c, struct read_request *r, struct read_spec *spec, bool read_only,
	     const char *location)
{
	struct sql s, plan;
	struct db_stmt stmts[5];
	PGresult *res[5];
	int n = ctx_preamble(c, stmts), plan_index = -1;

	spec->media = r->explain ? MEDIA_JSON : r->media;
	spec->count = r->pf.count;
	if (spec->count == COUNT_PLANNED || spec->count == COUNT_ESTIMATED) {
		sql_start(&plan, c->a, r);
		if (sqlbuild_count_plan(&plan, &r->q, spec, &c->err) < 0)
			return ctx_fail(c);
		plan_index = n++;
		stmts[plan_index] = (struct db_stmt){plan.text.data, plan.n_values, plan.values};
	}
	sql_start(&s, c->a, r);
	if (r->explain)
		sbuf_printf(&s.text, "EXPLAIN (FORMAT %s%s) ", r->media == MEDIA_PLAN_JSON ? "JSON" : "TEXT",
			    r->plan_options);
	if (sqlbuild_read(&s, &r->q, spec, &c->err) < 0)
		return ctx_fail(c);
	stmts[n] = (struct db_stmt){s.text.data, s.n_values, s.values};
	n++;
	timing_mark(&c->resp, TIMING_PLAN);

	bool ran = read_run_db(c, r, read_only, stmts, n, res);

	timing_mark(&c->resp, TIMING_TRANSACTION);
	if (!ran)
		return ctx_fail(c);
	int rc = r->explain ? respond_plan(c, r->media, res[n - 1])
			    : respond_read(c, spec, &r->q, res[n - 1],
					   plan_index >= 0 ? res[plan_index] : NULL, location, r->sign_claims);

	for (int i = 0; i < n; i++)
		PQclear(res[i]);
	return rc;
}

int handle_read(struct ctx *c, const char *relation, bool head)
{
	struct read_request r;

	memset(&r, 0, sizeof(r));
	if (read_prepare(c, &r) < 0)
		return -1;

	struct read_spec spec = {
		.schema = c->schema,
		.relation = relation,
		.sc = c->w->schema,
		.max_rows = c->cfg->db_max_rows,
		.head = head,
	};

	return read_run(c, &r, &spec, true, relation);
}
