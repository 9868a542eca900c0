/*
 * sqlbuild.c — SQL text and parameters for a request.
 *
 * The read statement follows PostgREST's shape (QueryBuilder.hs /
 * Statements.hs): the selected rows go into a CTE and one outer SELECT
 * turns them into the JSON body, so PostgreSQL builds the JSON and the
 * worker only copies bytes.
 */
#include "sqlbuild.h"

#include <stdio.h>
#include <string.h>

const char SQL_TX_SETTINGS[] =
	"SELECT pg_catalog.set_config('search_path', $1, true),"
	" pg_catalog.set_config('role', $2, true),"
	" pg_catalog.set_config('request.jwt.claims', $3, true),"
	" pg_catalog.set_config('request.method', $4, true),"
	" pg_catalog.set_config('request.path', $5, true),"
	" pg_catalog.set_config('request.headers', $6, true),"
	" pg_catalog.set_config('request.cookies', $7, true),"
	/*
	 * The legacy request.jwt.claim.<name> GUCs (the seed's RLS reads
	 * request.jwt.claim.user).  PostgreSQL 14+ only accepts names made of
	 * simple identifiers, so other claim names are skipped rather than
	 * failing the request.  String claims are set unquoted, others as JSON.
	 */
	" (SELECT pg_catalog.count(pg_catalog.set_config('request.jwt.claim.' || c.key, c.value, true))"
	"    FROM pg_catalog.json_each_text($3::json) AS c"
	"   WHERE $8::boolean AND c.key ~ '^[A-Za-z_][A-Za-z0-9_$]*$'),"
	/* app.settings.* from the configuration */
	" (SELECT pg_catalog.count(pg_catalog.set_config(s.k, s.v, true))"
	"    FROM ROWS FROM (pg_catalog.unnest($9::text[]), pg_catalog.unnest($10::text[])) AS s(k, v))";

void sql_init(struct sql *s, struct arena *a)
{
	sbuf_init(&s->text, a, 512);
	s->values = NULL;
	s->n_values = 0;
	s->cap = 0;
}

void sql_add_param(struct sql *s, const char *value)
{
	if (s->n_values == s->cap) {
		int ncap = s->cap ? s->cap * 2 : 8;
		const char **v = arena_alloc(s->text.arena, sizeof(*v) * (size_t)ncap);

		if (s->n_values)
			memcpy(v, s->values, sizeof(*v) * (size_t)s->n_values);
		s->values = v;
		s->cap = ncap;
	}
	s->values[s->n_values++] = value;
	sbuf_printf(&s->text, "$%d", s->n_values);
}

void sql_ident(struct sbuf *b, const char *name)
{
	sbuf_putc(b, '"');
	for (const char *p = name; *p; p++) {
		if (*p == '"')
			sbuf_putc(b, '"');
		sbuf_putc(b, *p);
	}
	sbuf_putc(b, '"');
}

void sql_qualified(struct sbuf *b, const char *schema, const char *name)
{
	if (schema != NULL) {
		sql_ident(b, schema);
		sbuf_putc(b, '.');
	}
	sql_ident(b, name);
}

char *sqlbuild_pre_request(struct arena *a, const char *schema, const char *name)
{
	struct sbuf b;

	sbuf_init(&b, a, 64);
	sbuf_puts(&b, "SELECT ");
	sql_qualified(&b, schema, name);
	sbuf_puts(&b, "()");
	return b.data;
}

static int not_implemented(struct http_error *err, const char *what)
{
	http_error_set(err, 400, "PGRST127", "Feature not implemented", what, NULL);
	return -1;
}

/* "col", "col"->$n::text, "col"->>$n::integer … */
static void put_field(struct sql *s, const struct field *f)
{
	sql_ident(&s->text, f->name);
	for (int i = 0; i < f->n_path; i++) {
		const struct json_step *st = &f->path[i];

		sbuf_puts(&s->text, st->as_text ? "->>" : "->");
		sql_add_param(s, st->key);
		sbuf_puts(&s->text, st->is_index ? "::integer" : "::text");
	}
}

/* the JSON key a select item gets when it has no alias */
static const char *field_label(const struct field *f)
{
	return f->n_path > 0 ? f->path[f->n_path - 1].key : f->name;
}

/* like patterns use '*' for '%' so that URLs need no %25 */
static const char *like_pattern(struct arena *a, const char *v)
{
	char *p = arena_strdup(a, v);

	for (char *c = p; *c; c++)
		if (*c == '*')
			*c = '%';
	return p;
}

const char *sql_array_literal(struct arena *a, const char *const *items, int n)
{
	struct sbuf b;

	sbuf_init(&b, a, 64);
	sbuf_putc(&b, '{');
	for (int i = 0; i < n; i++) {
		if (i > 0)
			sbuf_putc(&b, ',');
		sbuf_putc(&b, '"');
		for (const char *p = items[i]; *p; p++) {
			if (*p == '"' || *p == '\\')
				sbuf_putc(&b, '\\');
			sbuf_putc(&b, *p);
		}
		sbuf_putc(&b, '"');
	}
	sbuf_putc(&b, '}');
	return b.data;
}

static const char *op_sql(enum filter_op op)
{
	switch (op) {
	case OP_EQ: return "=";
	case OP_NEQ: return "<>";
	case OP_GT: return ">";
	case OP_GTE: return ">=";
	case OP_LT: return "<";
	case OP_LTE: return "<=";
	case OP_LIKE: return "LIKE";
	case OP_ILIKE: return "ILIKE";
	case OP_MATCH: return "~";
	case OP_IMATCH: return "~*";
	case OP_ISDISTINCT: return "IS DISTINCT FROM";
	case OP_CS: return "@>";
	case OP_CD: return "<@";
	case OP_OV: return "&&";
	case OP_SL: return "<<";
	case OP_SR: return ">>";
	case OP_NXR: return "&<";
	case OP_NXL: return "&>";
	case OP_ADJ: return "-|-";
	default: return NULL;
	}
}

static const char *fts_function(enum filter_op op)
{
	switch (op) {
	case OP_PLFTS: return "pg_catalog.plainto_tsquery";
	case OP_PHFTS: return "pg_catalog.phraseto_tsquery";
	case OP_WFTS: return "pg_catalog.websearch_to_tsquery";
	default: return "pg_catalog.to_tsquery";
	}
}

static void put_filter(struct sql *s, const struct filter *f)
{
	struct arena *a = s->text.arena;
	bool like = f->op == OP_LIKE || f->op == OP_ILIKE;

	if (f->negate)
		sbuf_puts(&s->text, "NOT (");
	put_field(s, &f->field);
	switch (f->op) {
	case OP_IN:
		sbuf_puts(&s->text, " = ANY (");
		sql_add_param(s, sql_array_literal(a, f->list, f->n_list));
		sbuf_putc(&s->text, ')');
		break;
	case OP_IS: {
		static const char *const is_sql[] = {" IS NULL", " IS TRUE", " IS FALSE", " IS UNKNOWN"};

		sbuf_puts(&s->text, is_sql[f->is]);
		break;
	}
	case OP_FTS:
	case OP_PLFTS:
	case OP_PHFTS:
	case OP_WFTS:
		sbuf_printf(&s->text, " @@ %s(", fts_function(f->op));
		if (f->lang != NULL) {
			sql_add_param(s, f->lang);
			sbuf_puts(&s->text, "::regconfig, ");
		}
		sql_add_param(s, f->value);
		sbuf_putc(&s->text, ')');
		break;
	default:
		sbuf_printf(&s->text, " %s ", op_sql(f->op));
		if (f->quant != QUANT_NONE) {
			sbuf_puts(&s->text, f->quant == QUANT_ANY ? "ANY (" : "ALL (");
			sql_add_param(s, like ? like_pattern(a, f->value) : f->value);
			sbuf_putc(&s->text, ')');
		} else {
			sql_add_param(s, like ? like_pattern(a, f->value) : f->value);
		}
	}
	if (f->negate)
		sbuf_putc(&s->text, ')');
}

static void put_logic(struct sql *s, const struct logic_node *n)
{
	if (n->is_leaf) {
		put_filter(s, &n->filter);
		return;
	}
	sbuf_puts(&s->text, n->negate ? "NOT (" : "(");
	for (int i = 0; i < n->n_children; i++) {
		if (i > 0)
			sbuf_puts(&s->text, n->is_or ? " OR " : " AND ");
		put_logic(s, &n->children[i]);
	}
	sbuf_putc(&s->text, ')');
}

static void put_where(struct sql *s, const struct query_level *lv)
{
	int k = 0;

	for (int i = 0; i < lv->n_filters; i++, k++) {
		sbuf_puts(&s->text, k ? " AND " : " WHERE ");
		put_filter(s, &lv->filters[i]);
	}
	for (int i = 0; i < lv->n_logic; i++, k++) {
		sbuf_puts(&s->text, k ? " AND " : " WHERE ");
		put_logic(s, &lv->logic[i]);
	}
}

static int put_select_list(struct sql *s, const struct query *q, struct http_error *err)
{
	if (q->select == NULL) {
		sbuf_puts(&s->text, "*");
		return 0;
	}
	for (int i = 0; i < q->n_select; i++) {
		const struct select_item *it = &q->select[i];

		if (i > 0)
			sbuf_puts(&s->text, ", ");
		switch (it->kind) {
		case SEL_STAR:
			sbuf_puts(&s->text, "*");
			break;
		case SEL_FIELD:
			if (it->cast != NULL) {
				sbuf_puts(&s->text, "CAST(");
				put_field(s, &it->field);
				sbuf_printf(&s->text, " AS %s)", it->cast);
			} else {
				put_field(s, &it->field);
			}
			if (it->alias != NULL || it->cast != NULL || it->field.n_path > 0) {
				sbuf_puts(&s->text, " AS ");
				sql_ident(&s->text, it->alias ? it->alias : field_label(&it->field));
			}
			break;
		case SEL_RELATION:
		case SEL_SPREAD:
			return not_implemented(err, arena_printf(s->text.arena,
				"Resource embedding ('%s') is not supported yet", it->field.name));
		}
	}
	return 0;
}

static int put_order(struct sql *s, const struct query_level *lv, struct http_error *err)
{
	for (int i = 0; i < lv->n_order; i++) {
		const struct order_term *t = &lv->order[i];

		if (t->relation != NULL)
			return not_implemented(err, arena_printf(s->text.arena,
				"Ordering by an embedded resource ('%s') is not supported yet", t->relation));
		sbuf_puts(&s->text, i ? ", " : " ORDER BY ");
		put_field(s, &t->field);
		sbuf_puts(&s->text, t->desc ? " DESC" : " ASC");
		if (t->nulls == 1)
			sbuf_puts(&s->text, " NULLS FIRST");
		else if (t->nulls == 2)
			sbuf_puts(&s->text, " NULLS LAST");
	}
	return 0;
}

long long sqlbuild_root_limit(const struct query *q, long long max_rows)
{
	long long limit = q->levels[0].limit;

	if (max_rows >= 0 && (limit < 0 || limit > max_rows))
		limit = max_rows;
	return limit;
}

/* Filters on embedded resources need an embed of that name in select=. */
static int check_levels(const struct query *q, struct arena *a, struct http_error *err)
{
	for (int i = 1; i < q->n_levels; i++) {
		const char *path = q->levels[i].path;

		http_error_set(err, 400, "PGRST108",
			       arena_printf(a, "'%s' is not an embedded resource in this request", path),
			       NULL,
			       arena_printf(a, "Verify that '%s' is included in the 'select' query parameter.",
					    path));
		return -1;
	}
	return 0;
}

int sqlbuild_read(struct sql *s, const struct query *q, const struct read_spec *spec,
		  struct http_error *err)
{
	const struct query_level *root = &q->levels[0];
	struct arena *a = s->text.arena;
	long long limit = sqlbuild_root_limit(q, spec->max_rows);

	if (check_levels(q, a, err) < 0)
		return -1;

	sbuf_puts(&s->text, "WITH pgrst_source AS (SELECT ");
	if (put_select_list(s, q, err) < 0)
		return -1;
	sbuf_puts(&s->text, " FROM ");
	sql_qualified(&s->text, spec->schema, spec->relation);
	put_where(s, root);
	if (put_order(s, root, err) < 0)
		return -1;
	if (limit >= 0) {
		sbuf_puts(&s->text, " LIMIT ");
		sql_add_param(s, arena_printf(a, "%lld", limit));
	}
	if (root->offset > 0) {
		sbuf_puts(&s->text, " OFFSET ");
		sql_add_param(s, arena_printf(a, "%lld", root->offset));
	}
	sbuf_puts(&s->text, ") SELECT ");
	if (spec->count_exact) {
		/* the same filters again, without limit/offset */
		sbuf_puts(&s->text, "(SELECT pg_catalog.count(*) FROM ");
		sql_qualified(&s->text, spec->schema, spec->relation);
		put_where(s, root);
		sbuf_puts(&s->text, ")");
	} else {
		sbuf_puts(&s->text, "NULL::bigint");
	}
	sbuf_puts(&s->text, " AS total_result_set, pg_catalog.count(_postgrest_t) AS page_total, ");
	if (spec->head)
		sbuf_puts(&s->text, "NULL::text AS body, ");
	else
		sbuf_puts(&s->text,
			  "coalesce(pg_catalog.json_agg(_postgrest_t), '[]')::text AS body, ");
	sbuf_puts(&s->text,
		  "nullif(pg_catalog.current_setting('response.headers', true), '') AS response_headers, "
		  "nullif(pg_catalog.current_setting('response.status', true), '') AS response_status "
		  "FROM pgrst_source AS _postgrest_t");
	return 0;
}
