/*
 * write.c — POST, PUT, PATCH and DELETE on a table or view.
 *
 * Every write is one statement in one transaction: the INSERT/UPDATE/
 * DELETE runs as a CTE and the same statement reads back what the client
 * asked for (count, representation, Location).  A constraint violation
 * anywhere in a bulk insert fails the statement, so nothing is written.
 * When the outcome decides whether to commit (Prefer: max-affected with
 * handling=strict, a singular object), the transaction is left open and
 * committed or rolled back after looking at the result.
 */
#include "context.h"

#include <json-c/json.h>
#include <stdlib.h>
#include <string.h>

#include "media.h"
#include "payload.h"
#include "prefer.h"
#include "query.h"
#include "sqlbuild.h"

struct write {
	const char *relation;
	const struct sc_relation *rel;
	struct query q;
	struct prefer pf;
	struct payload body;
	enum media_type media;
	struct write_spec ws;
	bool rollback;              /* db-tx-end / Prefer: tx=rollback */
	bool tx_applied;            /* Prefer: tx was honoured */
	bool resolution_applied;
};

/* ------------------------------------------------------------------ */
/* checks before any SQL                                              */

static int check_put(struct ctx *c, struct write *w)
{
	const struct query_level *root = &w->q.levels[0];
	const struct sc_relation *rel = w->rel;
	bool ok = rel->n_pk > 0 && root->n_logic == 0 && root->n_filters == rel->n_pk;

	if (root->limit >= 0 || root->offset > 0)
		return ctx_fail_with(c, 400, "PGRST114",
				     "limit/offset querystring parameters are not allowed for PUT",
				     NULL, NULL);
	for (int i = 0; ok && i < root->n_filters; i++) {
		const struct filter *f = &root->filters[i];
		bool is_pk = false;

		for (int k = 0; k < rel->n_pk; k++)
			is_pk |= strcmp(rel->pk[k], f->field.name) == 0;
		ok = is_pk && f->op == OP_EQ && !f->negate && f->quant == QUANT_NONE &&
		     f->field.n_path == 0;
	}
	if (!ok)
		return ctx_fail_with(c, 405, "PGRST105",
				     "Filters must include all and only primary key columns with 'eq' operators",
				     NULL, NULL);

	/* the body is one object whose primary key is the URL's */
	json_object *doc = json_tokener_parse(w->body.json);
	json_object *obj = doc;

	if (doc != NULL && json_object_is_type(doc, json_type_array))
		obj = json_object_array_length(doc) == 1 ? json_object_array_get_idx(doc, 0) : NULL;
	ok = obj != NULL && json_object_is_type(obj, json_type_object);
	for (int i = 0; ok && i < root->n_filters; i++) {
		json_object *v;

		ok = json_object_object_get_ex(obj, root->filters[i].field.name, &v) &&
		     !json_object_is_type(v, json_type_null) &&
		     strcmp(json_object_get_string(v), root->filters[i].value) == 0;
	}
	json_object_put(doc);
	if (!ok)
		return ctx_fail_with(c, 400, "PGRST115",
				     "Payload values do not match URL in primary key column(s)",
				     NULL, NULL);
	return 0;
}

static int read_payload(struct ctx *c, struct write *w, const char *method)
{
	if (strcmp(method, "DELETE") == 0)
		return 0;

	int type = payload_type_of(c->req.content_type);

	if (type < 0)
		return ctx_fail_with(c, 400, "PGRST102",
				     arena_printf(c->a, "Content-Type not acceptable: %s", c->req.content_type),
				     NULL, NULL);
	if (payload_parse(type, c->req.body, c->req.body_len, w->q.n_columns == 0, c->a,
			  &w->body, &c->err) < 0)
		return ctx_fail(c);
	if (w->q.n_columns > 0) {
		w->ws.columns = w->q.columns;
		w->ws.n_columns = w->q.n_columns;
	} else {
		w->ws.columns = w->body.keys;
		w->ws.n_columns = w->body.n_keys;
	}
	w->ws.body_json = w->body.json;
	return 0;
}

/* ON CONFLICT target: on_conflict=…, else the primary key */
static void choose_conflict(struct write *w, bool put)
{
	if (!put && w->pf.resolution == RESOLUTION_UNSET)
		return;
	if (w->q.n_on_conflict > 0) {
		w->ws.conflict_cols = w->q.on_conflict;
		w->ws.n_conflict_cols = w->q.n_on_conflict;
	} else if (w->rel->n_pk > 0) {
		w->ws.conflict_cols = (const char *const *)w->rel->pk;
		w->ws.n_conflict_cols = w->rel->n_pk;
	} else {
		return;     /* nothing to conflict on: the preference is ignored */
	}
	w->ws.conflict = (put || w->pf.resolution == RESOLUTION_MERGE) ? CONFLICT_MERGE
								       : CONFLICT_IGNORE;
	w->ws.want_inserted = true;
	w->resolution_applied = !put;
}

/* db-tx-end and Prefer: tx */
static void choose_tx_end(struct ctx *c, struct write *w)
{
	const char *end = c->cfg->db_tx_end ? c->cfg->db_tx_end : "commit";
	bool override = strstr(end, "allow-override") != NULL;

	w->rollback = strncmp(end, "rollback", 8) == 0;
	if (override && w->pf.tx != TX_UNSET) {
		w->rollback = w->pf.tx == TX_ROLLBACK;
		w->tx_applied = true;
	}
}

/* ------------------------------------------------------------------ */
/* the answer                                                         */

static void preference_applied(struct ctx *c, const struct write *w)
{
	struct sbuf b;
	const struct prefer *p = &w->pf;

	sbuf_init(&b, c->a, 64);
#define ADD(s) sbuf_printf(&b, "%s%s", b.len ? ", " : "", (s))
	if (w->resolution_applied)
		ADD(p->resolution == RESOLUTION_MERGE ? "resolution=merge-duplicates"
						       : "resolution=ignore-duplicates");
	if (p->missing == MISSING_DEFAULT)
		ADD("missing=default");
	if (p->ret == RETURN_MINIMAL)
		ADD("return=minimal");
	else if (p->ret == RETURN_HEADERS_ONLY)
		ADD("return=headers-only");
	else if (p->ret == RETURN_REPRESENTATION)
		ADD("return=representation");
	if (p->count == COUNT_EXACT)
		ADD("count=exact");
	if (w->tx_applied)
		ADD(p->tx == TX_ROLLBACK ? "tx=rollback" : "tx=commit");
	if (p->strict)
		ADD("handling=strict");
	else if (p->lenient)
		ADD("handling=lenient");
	if (p->strict && p->max_affected >= 0 && w->ws.kind != WRITE_INSERT)
		ADD(arena_printf(c->a, "max-affected=%lld", p->max_affected));
#undef ADD
	if (b.len > 0)
		response_header(&c->resp, "Preference-Applied", b.data);
}

/* /items?id=eq.1 from the first row's primary key (a JSON object) */
static void location_header(struct ctx *c, const struct write *w, const char *pk_json)
{
	json_object *o = pk_json ? json_tokener_parse(pk_json) : NULL;
	struct sbuf b;
	int n = 0;

	if (o == NULL)
		return;
	sbuf_init(&b, c->a, 64);
	/* the public mount prefix ("" or "/api") keeps the URL usable behind /api/ */
	sbuf_printf(&b, "%s/%s?", c->req.prefix ? c->req.prefix : "", w->relation);
	json_object_object_foreach(o, k, v) {
		sbuf_printf(&b, "%s%s=eq.", n++ ? "&" : "", k);
		query_url_encode(&b, json_object_get_string(v));
	}
	json_object_put(o);
	/* too long for the web server's header buffer: left out (response.h) */
	if (b.len < RESPONSE_MAX_ECHO_HEADER)
		response_header(&c->resp, "Location", b.data);
}

static int respond_write(struct ctx *c, struct write *w, const char *method, PGresult *res)
{
	long long n = atoll(PQgetvalue(res, 0, 1));
	const char *body = ctx_getval(res, 2);
	const char *inserted = ctx_getval(res, 6);
	bool post = strcmp(method, "POST") == 0, put = strcmp(method, "PUT") == 0;
	bool rep = w->ws.representation;

	if (post)
		c->resp.status = (w->ws.conflict == CONFLICT_MERGE && inserted && atoll(inserted) == 0)
				 ? 200 : 201;
	else if (put)
		c->resp.status = rep ? ((inserted && atoll(inserted) > 0) ? 201 : 200) : 204;
	else
		c->resp.status = rep ? 200 : 204;

	if (post || put || w->ws.kind == WRITE_DELETE)
		response_headerf(&c->resp, "Content-Range", "*/%s",
				 w->pf.count == COUNT_EXACT ? arena_printf(c->a, "%lld", n) : "*");
	else if (n > 0)
		response_headerf(&c->resp, "Content-Range", "0-%lld/%s", n - 1,
				 w->pf.count == COUNT_EXACT ? arena_printf(c->a, "%lld", n) : "*");
	else
		response_headerf(&c->resp, "Content-Range", "*/%s",
				 w->pf.count == COUNT_EXACT ? "0" : "*");
	if (w->ws.want_location && n == 1)
		location_header(c, w, ctx_getval(res, 5));
	preference_applied(c, w);
	if (c->profile_header)
		response_header(&c->resp, "Content-Profile", c->schema);
	if (ctx_apply_response_gucs(c, ctx_getval(res, 3), ctx_getval(res, 4)) < 0)
		return -1;
	if (!rep)
		return response_send(&c->resp, NULL, 0);
	response_header(&c->resp, "Content-Type", media_content_type(w->media));
	return response_send(&c->resp, body, body ? strlen(body) : 0);
}

static bool max_affected_applies(const struct write *w)
{
	return w->pf.strict && w->pf.max_affected >= 0 && w->ws.kind != WRITE_INSERT;
}

/* After the statement, before COMMIT: limits, max-affected, singular objects. */
static int post_check(struct ctx *c, const struct write *w, PGresult *res)
{
	long long n = atoll(PQgetvalue(res, 0, 1));

	long long limit = w->q.levels[0].limit;

	if (w->ws.kind != WRITE_INSERT && limit >= 0 && n > limit)
		return ctx_fail_with(c, 400, "PGRST110",
				     "The maximum number of rows allowed to change was surpassed",
				     arena_printf(c->a, "Results contain %lld rows changed but the maximum number allowed is %lld",
						  n, limit), NULL);
	if (max_affected_applies(w) && n > w->pf.max_affected)
		return ctx_fail_with(c, 400, "PGRST124",
				     "Query result exceeds max-affected preference constraint",
				     arena_printf(c->a, "The query affects %lld rows", n), NULL);
	if (media_is_object(w->media) && n != 1)
		return ctx_fail_with(c, 406, "PGRST116",
				     "JSON object requested, multiple (or no) rows returned",
				     arena_printf(c->a, "The result contains %lld rows", n), NULL);
	return 0;
}

int handle_write(struct ctx *c, const char *relation)
{
	const char *m = c->req.method;
	bool put = strcmp(m, "PUT") == 0;
	struct write *w = arena_zalloc(c->a, sizeof(*w));
	struct db_stmt stmts[4];
	PGresult *res[4];
	struct sql s;

	w->relation = relation;
	if (c->w->schema == NULL)
		return ctx_fail_with(c, 503, "PGRST002",
				     "Could not query the database for the schema cache. Retrying.", NULL, NULL);
	w->rel = schema_relation(c->w->schema, c->schema, relation);
	if (w->rel == NULL)
		return ctx_fail_with(c, 404, "42P01",
				     arena_printf(c->a, "relation \"%s.%s\" does not exist", c->schema, relation),
				     NULL, NULL);
	if (query_parse(c->req.query_string, c->a, &w->q, &c->err) < 0)
		return ctx_fail(c);
	if (!c->cfg->db_aggregates_enabled && query_has_aggregates(&w->q))
		return ctx_fail_with(c, 400, "PGRST123", "Use of aggregate functions is not allowed", NULL, NULL);
	prefer_parse(request_header(&c->req, "prefer"), &w->pf, c->a);
	if (w->pf.strict && w->pf.invalid != NULL)
		return ctx_fail_with(c, 400, "PGRST122", "Invalid preferences given with handling=strict",
				     arena_printf(c->a, "Invalid preferences: %s", w->pf.invalid), NULL);
	w->media = media_negotiate(request_header(&c->req, "accept"), MEDIA_READS);
	if (w->media == MEDIA_NONE)
		return ctx_fail_with(c, 406, "PGRST107",
				     arena_printf(c->a, "None of these media types are available: %s",
						  request_header(&c->req, "accept")), NULL, NULL);
	if (read_payload(c, w, m) < 0)
		return -1;
	if (put && check_put(c, w) < 0)
		return -1;

	w->ws.kind = (strcmp(m, "POST") == 0 || put) ? WRITE_INSERT
		     : strcmp(m, "PATCH") == 0 ? WRITE_UPDATE : WRITE_DELETE;
	w->ws.missing_default = w->pf.missing == MISSING_DEFAULT;
	w->ws.representation = w->pf.ret == RETURN_REPRESENTATION;
	w->ws.want_location = w->pf.ret == RETURN_HEADERS_ONLY;
	if (w->ws.kind == WRITE_INSERT)
		choose_conflict(w, put);
	/* a limited PATCH/DELETE picks its rows by an order on unique columns */
	if (w->ws.kind != WRITE_INSERT && w->q.levels[0].limit >= 0 && w->q.levels[0].n_order == 0)
		return ctx_fail_with(c, 400, "PGRST109", "A 'limit' was applied without an explicit 'order'",
				     NULL, "Apply an 'order' using unique column(s)");
	choose_tx_end(c, w);

	struct read_spec spec = {
		.schema = c->schema,
		.relation = relation,
		.sc = c->w->schema,
		.max_rows = -1,
		.head = false,
		.media = w->media,
		.count = COUNT_NONE,
	};

	timing_mark(&c->resp, TIMING_PARSE);
	sql_init(&s, c->a);
	if (sqlbuild_write(&s, &w->q, &spec, &w->ws, &c->err) < 0)
		return ctx_fail(c);

	int n = ctx_preamble(c, stmts);

	stmts[n++] = (struct db_stmt){s.text.data, s.n_values, s.values};

	bool decide_later = max_affected_applies(w) || media_is_object(w->media) ||
			    (w->ws.kind != WRITE_INSERT && w->q.levels[0].limit >= 0);
	enum tx_end end = decide_later ? TX_END_LATER : w->rollback ? TX_END_ROLLBACK : TX_END_COMMIT;

	timing_mark(&c->resp, TIMING_PLAN);
	if (!db_run(&c->w->db, false, end, stmts, n, res, c->auth.is_anon, &c->err, c->a)) {
		timing_mark(&c->resp, TIMING_TRANSACTION);
		return ctx_fail(c);
	}

	int rc = 0;

	if (decide_later) {
		bool ok = post_check(c, w, res[n - 1]) == 0;

		if (!db_finish(&c->w->db, ok && !w->rollback, c->auth.is_anon, &c->err, c->a) && ok)
			rc = ctx_fail(c);
		else if (!ok)
			rc = -1;
	}
	timing_mark(&c->resp, TIMING_TRANSACTION);
	if (rc == 0)
		rc = respond_write(c, w, m, res[n - 1]);
	for (int i = 0; i < n; i++)
		PQclear(res[i]);
	return rc;
}
