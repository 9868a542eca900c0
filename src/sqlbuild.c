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

#include "embed.h"

/*
 * The settings statement up to the app.settings.* part, which only a
 * configuration with such keys needs (unnest of two empty arrays is a
 * sixth of the statement's cost; bench/README).
 */
#define TX_SETTINGS_HEAD \
	"SELECT pg_catalog.set_config('search_path', $1, true)," \
	/*
	 * The impersonated role's own settings (ALTER ROLE webuser SET
	 * statement_timeout = '5s'): SET ROLE does not apply them, so they are
	 * set transaction-locally before the role, as PostgREST v12 does
	 * (Config/Database.hs queryRoleSettings): only roles the authenticator
	 * is a member of, only settings a user may change (context 'user'),
	 * not default_transaction_isolation.  search_path is left out too: the
	 * schema chosen by Accept-Profile / Content-Profile wins.  Read from
	 * pg_db_role_setting (database 0 is what pg_roles.rolconfig shows):
	 * the pg_roles view costs a third more per request.  quote_ident makes
	 * to_regrole take the name exactly as set_config('role') does; no
	 * such role gives no rows (and then set_config('role') fails as it
	 * would).  One index lookup when the role has no settings.
	 */ \
	" (SELECT pg_catalog.count(pg_catalog.set_config(kv.k, kv.v, true))" \
	"    FROM pg_catalog.pg_db_role_setting AS d," \
	"         LATERAL (SELECT pg_catalog.split_part(s, '=', 1) AS k," \
	"                         pg_catalog.substr(s, pg_catalog.strpos(s, '=') + 1) AS v" \
	"                    FROM pg_catalog.unnest(d.setconfig) AS s) AS kv" \
	"   WHERE d.setdatabase = 0" \
	"     AND d.setrole = pg_catalog.to_regrole(pg_catalog.quote_ident($2))" \
	"     AND pg_catalog.pg_has_role(d.setrole, 'MEMBER')" \
	"     AND kv.k NOT IN ('default_transaction_isolation', 'search_path')" \
	"     AND (SELECT ps.context FROM pg_catalog.pg_settings AS ps WHERE ps.name = kv.k) = 'user')," \
	" pg_catalog.set_config('role', $2, true)," \
	" pg_catalog.set_config('request.jwt.claims', $3, true)," \
	" pg_catalog.set_config('request.method', $4, true)," \
	" pg_catalog.set_config('request.path', $5, true)," \
	" pg_catalog.set_config('request.headers', $6, true)," \
	" pg_catalog.set_config('request.cookies', $7, true)," \
	/*
	 * The legacy request.jwt.claim.<name> GUCs (the seed's RLS reads
	 * request.jwt.claim.user).  PostgreSQL 14+ only accepts names made of
	 * simple identifiers, so other claim names are skipped rather than
	 * failing the request.  String claims are set unquoted, others as JSON.
	 */ \
	" (SELECT pg_catalog.count(pg_catalog.set_config('request.jwt.claim.' || c.key, c.value, true))" \
	"    FROM pg_catalog.json_each_text($3::json) AS c" \
	"   WHERE $8::boolean AND c.key ~ '^[A-Za-z_][A-Za-z0-9_$]*$')"

const char SQL_TX_SETTINGS[] = TX_SETTINGS_HEAD ","
	/* app.settings.* from the configuration */
	" (SELECT pg_catalog.count(pg_catalog.set_config(s.k, s.v, true))"
	"    FROM ROWS FROM (pg_catalog.unnest($9::text[]), pg_catalog.unnest($10::text[])) AS s(k, v))";

const char SQL_TX_SETTINGS_NO_APP[] = TX_SETTINGS_HEAD;

/* db-hoisted-tx-settings: a function's SET clauses for the whole transaction */
const char SQL_HOISTED_SETTINGS[] =
	"SELECT pg_catalog.count(pg_catalog.set_config(s.k, s.v, true))"
	"  FROM ROWS FROM (pg_catalog.unnest($1::text[]), pg_catalog.unnest($2::text[])) AS s(k, v)";

void sql_init(struct sql *s, struct arena *a)
{
	sbuf_init(&s->text, a, 512);
	s->values = NULL;
	s->n_values = 0;
	s->cap = 0;
}

void sql_param(struct sql *s, struct sbuf *into, const char *value)
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
	sbuf_printf(into, "$%d", s->n_values);
}

void sql_add_param(struct sql *s, const char *value)
{
	sql_param(s, &s->text, value);
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

/* ------------------------------------------------------------------ */
/* the read builder                                                   */

/*
 * One level of the select tree: the root relation or an embedded one.
 * Each level writes its pieces into separate buffers so that the main
 * statement and the count can be assembled from them; parameters are
 * numbered as they are generated, and every piece generated is used.
 */
struct level {
	struct builder *b;
	int rel;                    /* relation index in the cache, -1 without cache */
	const char *name;           /* relation name */
	const char *qual;           /* how columns are qualified: "\"api\".\"items\"" or "\"films_1\"" */
	const char *from;           /* the root's FROM item (qual, or "pgrst_mut AS \"items\"") */
	bool expand_star;           /* * lists the cached columns (hides helper columns of a write) */
	bool mutation_root;         /* rows a write returned: its filters and limits were the write's */
	const char *path;           /* embed path: "" root, "actors", "films.actors" */
	const char *label_path;     /* same with aliases where given (PostgREST matches either) */
	const struct query_level *ql;   /* filters/order/range for this level, or NULL */
	bool count_only;            /* building for a count: no select list, only row-filtering joins */

	struct sbuf select;
	struct sbuf joins;          /* lateral joins, all of them */
	struct sbuf count_joins;    /* only those that remove rows (!inner, is.null filters) */
	struct sbuf where;          /* conditions, without "WHERE" */
	struct sbuf order;          /* order terms, without "ORDER BY" */

	/*
	 * Aggregates (col.sum(), count()): the level groups by every other
	 * output column, named by its position in the select list (the same
	 * expression written twice would get new $n parameters for its JSON
	 * keys, and PostgreSQL would not see them as one).
	 */
	bool has_agg;
	int n_out;                  /* output columns so far */
	struct sbuf group;          /* "1, 3", without "GROUP BY" */

	/*
	 * A spread with aggregates, ...rel(col.sum(), name): PostgREST
	 * aggregates its columns at the parent's level.  The child then sends
	 * the aggregates' inputs as "pgrst_agg_<n>" and its other columns as
	 * they are; outs says which is which, for the parent.
	 */
	bool spread_raw;
	struct spread_out {
		const char *label;              /* the output's name at the parent */
		const struct select_item *agg;  /* the aggregate, or NULL */
	} *outs;
	int n_outs;

	/* the embeds of this level, for null filters and related orders */
	struct embed_ref {
		const char *label;      /* alias or relation name */
		const char *name;       /* relation name as written */
		const char *lat;        /* lateral alias */
		int rel;                /* the embedded relation, for its columns */
		bool to_one;
		bool spread;
		bool counted;           /* its join removes rows: also in the count */
		const char *join_sql;   /* " LEFT JOIN LATERAL (...) AS lat ON ..." */
	} *embeds;
	int n_embeds;
};

struct builder {
	struct sql *s;
	const struct query *q;
	const struct read_spec *spec;
	struct http_error *err;
	struct arena *a;
	int alias_n;
	bool *level_used;           /* per q->levels[i]: matched an embed */
	bool failed;                /* an error was recorded in err */
	struct key_param *keys;     /* JSON path keys sent so far */
};

/*
 * A JSON path key is sent once per statement and its $n reused: with
 * aggregates, "meta->$3" in the select list and "meta->$5" in ORDER BY
 * would be two expressions to PostgreSQL, and the order term would not
 * be grouped (42803).
 */
struct key_param {
	const char *key;
	bool is_index;
	int n;
	struct key_param *next;
};

static void level_init(struct level *lv, struct builder *b, int rel, const char *name,
		       const char *qual, const char *path, const char *label_path)
{
	memset(lv, 0, sizeof(*lv));
	lv->b = b;
	lv->rel = rel;
	lv->name = name;
	lv->qual = qual;
	lv->path = path;
	lv->label_path = label_path;
	sbuf_init(&lv->select, b->a, 256);
	sbuf_init(&lv->joins, b->a, 64);
	sbuf_init(&lv->count_joins, b->a, 16);
	sbuf_init(&lv->where, b->a, 128);
	sbuf_init(&lv->order, b->a, 16);
	sbuf_init(&lv->group, b->a, 16);

	/* the query-string level whose path names this one */
	for (int i = 0; i < b->q->n_levels; i++) {
		const char *p = b->q->levels[i].path;

		if (strcmp(p, path) == 0 || strcmp(p, label_path) == 0) {
			lv->ql = &b->q->levels[i];
			b->level_used[i] = true;
			break;
		}
	}
}

/*
 * With a schema cache every column name is checked before it reaches SQL;
 * the error is PostgreSQL's own (42703, "column items.x does not exist").
 */
static void check_column(struct level *lv, const char *name)
{
	struct builder *b = lv->b;
	const struct sc_relation *rel;

	if (lv->rel < 0 || b->failed)
		return;
	rel = &b->spec->sc->relations[lv->rel];
	if (schema_column(rel, name) != NULL)
		return;
	/* PostgreSQL names the column by its table's alias, unquoted */
	const char *alias = lv->qual;
	const char *dot = strrchr(alias, '.');

	alias = arena_strndup(b->a, dot ? dot + 2 : alias + 1,
			      strlen(dot ? dot + 2 : alias + 1) - 1);
	http_error_set(b->err, 400, "42703",
		       arena_printf(b->a, "column %s.%s does not exist", alias, name), NULL, NULL);
	b->failed = true;
}

/*
 * A JSON path on a column that is not json/jsonb (an array, a composite)
 * goes through to_jsonb(), as in PostgREST.
 */
static bool needs_to_jsonb(const struct level *lv, const struct field *f)
{
	if (f->n_path == 0 || lv->rel < 0)
		return false;

	const struct sc_column *col = schema_column(&lv->b->spec->sc->relations[lv->rel], f->name);

	return col != NULL && strcmp(col->type, "json") != 0 && strcmp(col->type, "jsonb") != 0;
}

/*
 * A computed field: name is no column of the level's relation, but a
 * function of its row (PostgREST's computed fields).  Not on the rows a
 * write returned, whose record carries the write's helper columns.
 */
static const struct sc_function *computed_field(const struct level *lv, const char *name)
{
	const struct schema_cache *sc = lv->b->spec->sc;
	const struct sc_relation *rel;

	if (lv->rel < 0 || sc == NULL || lv->mutation_root)
		return NULL;
	rel = &sc->relations[lv->rel];
	if (schema_column(rel, name) != NULL)
		return NULL;
	return schema_computed_field(sc, rel, name);
}

/*
 * "s"."f"(row): a table's row is qual.* (a whole-row reference); a
 * function's result rows are an anonymous record, made the table's type.
 */
static void put_computed(const struct level *lv, struct sbuf *into, const struct sc_function *cf)
{
	const char *from_sql = lv->b->spec->from_sql;

	sql_qualified(into, cf->schema, cf->name);
	if (from_sql != NULL && lv->from == from_sql) {
		sbuf_printf(into, "(ROW(%s.*)::", lv->qual);
		sql_qualified(into, cf->row_schema, cf->row_name);
		sbuf_putc(into, ')');
	} else {
		sbuf_printf(into, "(%s.*)", lv->qual);
	}
}

/* qual."col", qual."col"->$n::text, ... */
static void put_json_key(struct builder *b, struct sbuf *into, const struct json_step *st)
{
	struct key_param *k;

	for (k = b->keys; k != NULL; k = k->next)
		if (k->is_index == st->is_index && strcmp(k->key, st->key) == 0) {
			sbuf_printf(into, "$%d", k->n);
			return;
		}
	sql_param(b->s, into, st->key);
	k = arena_alloc(b->a, sizeof(*k));
	k->key = st->key;
	k->is_index = st->is_index;
	k->n = b->s->n_values;
	k->next = b->keys;
	b->keys = k;
}

static void put_field(struct level *lv, struct sbuf *into, const struct field *f)
{
	const struct sc_function *cf = computed_field(lv, f->name);
	bool wrap;

	if (cf == NULL)
		check_column(lv, f->name);
	wrap = cf == NULL ? needs_to_jsonb(lv, f)
	       : f->n_path > 0 && strcmp(cf->return_type, "json") != 0 && strcmp(cf->return_type, "jsonb") != 0;
	if (wrap)
		sbuf_puts(into, "pg_catalog.to_jsonb(");
	if (cf != NULL) {
		put_computed(lv, into, cf);
	} else {
		sbuf_puts(into, lv->qual);
		sbuf_putc(into, '.');
		sql_ident(into, f->name);
	}
	if (wrap)
		sbuf_putc(into, ')');
	for (int i = 0; i < f->n_path; i++) {
		const struct json_step *st = &f->path[i];

		sbuf_puts(into, st->as_text ? "->>" : "->");
		put_json_key(lv->b, into, st);
		sbuf_puts(into, st->is_index ? "::integer" : "::text");
	}
}

/*
 * The JSON key a select item gets when it has no alias: the last key of
 * its JSON path (array indexes do not count), else the column name.
 */
static const char *field_label(const struct field *f)
{
	for (int i = f->n_path - 1; i >= 0; i--)
		if (!f->path[i].is_index)
			return f->path[i].key;
	return f->name;
}

static const struct embed_ref *find_embed(const struct level *lv, const char *label)
{
	for (int i = 0; i < lv->n_embeds; i++)
		if (strcmp(lv->embeds[i].label, label) == 0 || strcmp(lv->embeds[i].name, label) == 0)
			return &lv->embeds[i];
	return NULL;
}

/*
 * A filter naming an embedded resource: only rel=is.null and
 * rel=not.is.null are allowed (else PGRST120).
 */
static const struct embed_ref *null_embed_filter(const struct level *lv, const struct filter *f)
{
	const struct embed_ref *e;

	if (f->field.n_path > 0 || (e = find_embed(lv, f->field.name)) == NULL)
		return NULL;
	if (f->op != OP_IS || f->is != IS_NULL) {
		struct builder *b = lv->b;

		if (!b->failed)
			http_error_set(b->err, 400, "PGRST120",
				       arena_printf(b->a, "Bad operator on the '%s' embedded resource",
						    f->field.name),
				       "Only is null or not is null filters are allowed on embedded resources",
				       NULL);
		b->failed = true;
		return e;
	}
	return e;
}

static void put_filter(struct level *lv, struct sbuf *into, const struct filter *f)
{
	struct sql *s = lv->b->s;
	struct arena *a = lv->b->a;
	bool like = f->op == OP_LIKE || f->op == OP_ILIKE;
	const struct embed_ref *e = null_embed_filter(lv, f);

	if (f->negate)
		sbuf_puts(into, "NOT (");
	if (e != NULL) {
		/* the embed's body is NULL when nothing matched */
		sbuf_printf(into, "%s.\"body\" IS NULL", e->lat);
		if (f->negate)
			sbuf_putc(into, ')');
		return;
	}
	put_field(lv, into, &f->field);
	switch (f->op) {
	case OP_IN:
		sbuf_puts(into, " = ANY (");
		sql_param(s, into, sql_array_literal(a, f->list, f->n_list));
		sbuf_putc(into, ')');
		break;
	case OP_IS: {
		static const char *const is_sql[] = {" IS NULL", " IS TRUE", " IS FALSE", " IS UNKNOWN"};

		sbuf_puts(into, is_sql[f->is]);
		break;
	}
	case OP_FTS:
	case OP_PLFTS:
	case OP_PHFTS:
	case OP_WFTS:
		sbuf_printf(into, " @@ %s(", fts_function(f->op));
		if (f->lang != NULL) {
			sql_param(s, into, f->lang);
			sbuf_puts(into, "::regconfig, ");
		}
		sql_param(s, into, f->value);
		sbuf_putc(into, ')');
		break;
	default:
		sbuf_printf(into, " %s ", op_sql(f->op));
		if (f->quant != QUANT_NONE) {
			sbuf_puts(into, f->quant == QUANT_ANY ? "ANY (" : "ALL (");
			sql_param(s, into, like ? like_pattern(a, f->value) : f->value);
			sbuf_putc(into, ')');
		} else {
			sql_param(s, into, like ? like_pattern(a, f->value) : f->value);
		}
	}
	if (f->negate)
		sbuf_putc(into, ')');
}

static void put_logic(struct level *lv, struct sbuf *into, const struct logic_node *n)
{
	if (n->is_leaf) {
		put_filter(lv, into, &n->filter);
		return;
	}
	sbuf_puts(into, n->negate ? "NOT (" : "(");
	for (int i = 0; i < n->n_children; i++) {
		if (i > 0)
			sbuf_puts(into, n->is_or ? " OR " : " AND ");
		put_logic(lv, into, &n->children[i]);
	}
	sbuf_putc(into, ')');
}

static void add_cond(struct level *lv)
{
	if (lv->where.len > 0)
		sbuf_puts(&lv->where, " AND ");
}

static void put_level_filters(struct level *lv)
{
	if (lv->ql == NULL || lv->mutation_root)
		return;
	for (int i = 0; i < lv->ql->n_filters; i++) {
		add_cond(lv);
		put_filter(lv, &lv->where, &lv->ql->filters[i]);
	}
	for (int i = 0; i < lv->ql->n_logic; i++) {
		add_cond(lv);
		put_logic(lv, &lv->where, &lv->ql->logic[i]);
	}
}

static int put_level_order(struct level *lv)
{
	struct builder *b = lv->b;

	if (lv->ql == NULL)
		return 0;
	for (int i = 0; i < lv->ql->n_order; i++) {
		const struct order_term *t = &lv->ql->order[i];

		if (i > 0)
			sbuf_puts(&lv->order, ", ");
		if (t->relation != NULL) {
			const struct embed_ref *e = find_embed(lv, t->relation);

			if (e == NULL) {
				http_error_set(b->err, 400, "PGRST108",
					       arena_printf(b->a, "'%s' is not an embedded resource in this request", t->relation),
					       NULL,
					       arena_printf(b->a, "Verify that '%s' is included in the 'select' query parameter.", t->relation));
				return -1;
			}
			if (!e->to_one) {
				http_error_set(b->err, 400, "PGRST118",
					       arena_printf(b->a, "A related order on '%s' is not possible", t->relation),
					       arena_printf(b->a, "'%s' and '%s' do not form a many-to-one or one-to-one relationship",
							    lv->name, t->relation),
					       NULL);
				return -1;
			}
			/* to-one bodies are jsonb: values compare by their JSON type */
			if (e->spread) {
				struct level tmp = *lv;

				/* the spread's columns are the lateral's, checked against its relation */
				tmp.qual = e->lat;
				tmp.rel = e->rel;
				put_field(&tmp, &lv->order, &t->field);
			} else {
				sbuf_printf(&lv->order, "%s.\"body\"->", e->lat);
				sql_param(b->s, &lv->order, t->field.name);
				sbuf_puts(&lv->order, "::text");
			}
		} else {
			put_field(lv, &lv->order, &t->field);
		}
		sbuf_puts(&lv->order, t->desc ? " DESC" : " ASC");
		if (t->nulls == 1)
			sbuf_puts(&lv->order, " NULLS FIRST");
		else if (t->nulls == 2)
			sbuf_puts(&lv->order, " NULLS LAST");
	}
	return 0;
}

static int build_level(struct level *lv, const struct select_item *items, int n_items);
static void add_outputs(struct level *lv, int n, bool grouped);
static bool direct_aggregates(const struct select_item *it);
static void put_spread_aggregates(struct level *lv, const struct level *child, const char *lat);

/* The join conditions between an embedded level and its parent. */
static void put_join_condition(struct level *child, const struct level *parent,
			       const struct relationship *r, const char *junction_alias)
{
	const struct sc_fkey *f = r->card == CARD_M2M ? r->fk1 : r->fk;

	if (r->computed != NULL)
		return;             /* the function call takes the parent's row */
	for (int i = 0; i < f->n_cols; i++) {
		add_cond(child);
		if (r->card == CARD_M2M) {
			/* junction.fk1 columns = parent's referenced columns */
			sbuf_printf(&child->where, "%s.", junction_alias);
			sql_ident(&child->where, f->from_cols[i]);
			sbuf_printf(&child->where, " = %s.", parent->qual);
			sql_ident(&child->where, f->to_cols[i]);
		} else if (r->fk_from_origin) {
			/* the parent holds the foreign key */
			sbuf_printf(&child->where, "%s.", child->qual);
			sql_ident(&child->where, f->to_cols[i]);
			sbuf_printf(&child->where, " = %s.", parent->qual);
			sql_ident(&child->where, f->from_cols[i]);
		} else {
			sbuf_printf(&child->where, "%s.", child->qual);
			sql_ident(&child->where, f->from_cols[i]);
			sbuf_printf(&child->where, " = %s.", parent->qual);
			sql_ident(&child->where, f->to_cols[i]);
		}
	}
}

/* FROM "schema"."rel" AS "alias" [JOIN junction] <joins> [WHERE ...] [ORDER BY ...] */
static void put_child_from(struct sbuf *out, const struct level *child, const struct sc_relation *t,
			   const struct relationship *r, const struct schema_cache *sc,
			   const char *junction_alias, bool with_order)
{
	sbuf_puts(out, " FROM ");
	if (r->computed != NULL)
		sbuf_puts(out, child->from);        /* "s"."f"(parent row) */
	else
		sql_qualified(out, t->schema, t->name);
	sbuf_printf(out, " AS %s", child->qual);
	if (r->card == CARD_M2M) {
		const struct sc_relation *j = &sc->relations[r->junction];

		sbuf_puts(out, " JOIN ");
		sql_qualified(out, j->schema, j->name);
		sbuf_printf(out, " AS %s ON ", junction_alias);
		for (int i = 0; i < r->fk2->n_cols; i++) {
			if (i > 0)
				sbuf_puts(out, " AND ");
			sbuf_printf(out, "%s.", junction_alias);
			sql_ident(out, r->fk2->from_cols[i]);
			sbuf_printf(out, " = %s.", child->qual);
			sql_ident(out, r->fk2->to_cols[i]);
		}
	}
	sbuf_puts(out, child->count_only ? child->count_joins.data : child->joins.data);
	if (child->where.len > 0)
		sbuf_printf(out, " WHERE %s", child->where.data);
	if (!child->count_only && child->group.len > 0)
		sbuf_printf(out, " GROUP BY %s", child->group.data);
	if (with_order && child->order.len > 0)
		sbuf_printf(out, " ORDER BY %s", child->order.data);
}

static int spread_not_to_one(struct builder *b, const char *parent, const char *name)
{
	http_error_set(b->err, 400, "PGRST119",
		       arena_printf(b->a, "A spread operation on '%s' is not possible", name),
		       arena_printf(b->a, "'%s' and '%s' do not form a many-to-one or one-to-one relationship",
				    parent, name),
		       NULL);
	return -1;
}

static bool names_embed(const struct filter *f, const struct select_item *it)
{
	return f->field.n_path == 0 &&
	       (strcmp(f->field.name, it->field.name) == 0 ||
		(it->alias != NULL && strcmp(f->field.name, it->alias) == 0));
}

static bool logic_names_embed(const struct logic_node *n, const struct select_item *it)
{
	if (n->is_leaf)
		return names_embed(&n->filter, it);
	for (int i = 0; i < n->n_children; i++)
		if (logic_names_embed(&n->children[i], it))
			return true;
	return false;
}

/*
 * Does this embed remove parent rows (!inner, or a rel=is.null filter,
 * alone or inside or=/and=)?  Then the count needs its join too.
 */
static bool embed_counted(const struct level *lv, const struct select_item *it)
{
	if (it->inner)
		return true;
	if (lv->ql == NULL)
		return false;
	for (int i = 0; i < lv->ql->n_filters; i++)
		if (names_embed(&lv->ql->filters[i], it))
			return true;
	for (int i = 0; i < lv->ql->n_logic; i++)
		if (logic_names_embed(&lv->ql->logic[i], it))
			return true;
	return false;
}

/* The lateral subquery of an embed (without the join around it). */
static void put_lateral(struct sbuf *sub, struct level *child, const struct sc_relation *t,
			const struct relationship *r, const char *junction, bool spread)
{
	struct builder *b = child->b;
	const struct schema_cache *sc = b->spec->sc;
	const char *cols = child->select.len > 0 ? child->select.data : "NULL::text AS \"pgrst_none\"";

	if (spread) {
		sbuf_printf(sub, "SELECT %s", cols);
		put_child_from(sub, child, t, r, sc, junction, false);
		return;
	}
	if (rel_is_to_one(r)) {
		sbuf_printf(sub, "SELECT pg_catalog.row_to_json(%s)::jsonb AS \"body\" FROM (SELECT %s",
			    child->qual, cols);
		put_child_from(sub, child, t, r, sc, junction, false);
		sbuf_printf(sub, ") AS %s", child->qual);
		return;
	}
	sbuf_printf(sub, "SELECT pg_catalog.json_agg(%s)::jsonb AS \"body\" FROM (SELECT %s",
		    child->qual, cols);
	put_child_from(sub, child, t, r, sc, junction, !child->count_only);
	if (!child->count_only && child->ql != NULL && child->ql->limit >= 0) {
		sbuf_puts(sub, " LIMIT ");
		sql_param(b->s, sub, arena_printf(b->a, "%lld", child->ql->limit));
	}
	if (!child->count_only && child->ql != NULL && child->ql->offset > 0) {
		sbuf_puts(sub, " OFFSET ");
		sql_param(b->s, sub, arena_printf(b->a, "%lld", child->ql->offset));
	}
	sbuf_printf(sub, ") AS %s", child->qual);
}

/*
 * A computed relationship's rows: "s"."f"(row of the parent).  A table's
 * row is qual.*; rows a function or a write returned are a record (with a
 * write's helper columns), so its cached columns are made the table's type.
 */
static const char *computed_call(const struct level *parent, const struct sc_function *f)
{
	const struct read_spec *spec = parent->b->spec;
	struct sbuf call;

	sbuf_init(&call, parent->b->a, 128);
	sql_qualified(&call, f->schema, f->name);
	if (spec->from_sql == NULL || parent->from != spec->from_sql || parent->rel < 0) {
		sbuf_printf(&call, "(%s.*)", parent->qual);
		return call.data;
	}
	const struct sc_relation *r = &spec->sc->relations[parent->rel];

	sbuf_puts(&call, "(ROW(");
	for (int i = 0; i < r->n_columns; i++) {
		sbuf_printf(&call, "%s%s.", i ? ", " : "", parent->qual);
		sql_ident(&call, r->columns[i].name);
	}
	sbuf_puts(&call, ")::");
	sql_qualified(&call, r->schema, r->name);
	sbuf_putc(&call, ')');
	return call.data;
}

/*
 * The columns of a spread with aggregates, at the parent: its plain
 * columns (grouped by) and the aggregates of the inputs it sent.
 */
static void put_spread_aggregates(struct level *lv, const struct level *child, const char *lat)
{
	struct sbuf *sel = &lv->select;

	for (int i = 0; i < child->n_outs; i++) {
		const struct spread_out *o = &child->outs[i];

		if (i > 0)
			sbuf_puts(sel, ", ");
		if (o->agg == NULL) {
			sbuf_printf(sel, "%s.", lat);
			sql_ident(sel, o->label);
			add_outputs(lv, 1, true);
			continue;
		}
		if (o->agg->agg_cast != NULL)
			sbuf_puts(sel, "CAST(");
		sbuf_printf(sel, "pg_catalog.%s(%s.\"pgrst_agg_%d\")", aggregate_name(o->agg->agg),
			    lat, i + 1);
		if (o->agg->agg_cast != NULL)
			sbuf_printf(sel, " AS %s)", o->agg->agg_cast);
		sbuf_puts(sel, " AS ");
		sql_ident(sel, o->label);
		add_outputs(lv, 1, false);
	}
}

/*
 * An embedded resource: resolve the relationship, build the child level
 * and record a lateral join for the parent.  The lateral yields "body": a
 * jsonb object (to-one; no row when nothing matches) or a jsonb array
 * (to-many; NULL when empty), or, for a spread, the child's columns.
 */
static int build_embed(struct level *lv, const struct select_item *it)
{
	struct builder *b = lv->b;
	const struct schema_cache *sc = b->spec->sc;
	struct relationship r;
	const char *label = it->alias ? it->alias : it->field.name;

	if (sc == NULL || lv->rel < 0) {
		http_error_set(b->err, 503, "PGRST002",
			       "Could not query the database for the schema cache. Retrying.", NULL, NULL);
		return -1;
	}
	if (embed_find(sc, lv->rel, it->field.name, it->hint, &r, b->a, b->err) < 0)
		return -1;
	if (it->kind == SEL_SPREAD && !rel_is_to_one(&r))
		return spread_not_to_one(b, lv->name, it->field.name);

	const struct sc_relation *t = &sc->relations[r.target];
	int n = ++b->alias_n;
	const char *junction = arena_printf(b->a, "\"%s_j%d\"", t->name, n);
	struct level child;

	level_init(&child, b, r.target, t->name, arena_printf(b->a, "\"%s_%d\"", t->name, n),
		   lv->path[0] ? arena_printf(b->a, "%s.%s", lv->path, it->field.name) : it->field.name,
		   lv->label_path[0] ? arena_printf(b->a, "%s.%s", lv->label_path, label) : label);
	child.count_only = lv->count_only;
	child.spread_raw = it->kind == SEL_SPREAD && direct_aggregates(it);
	if (r.computed != NULL)
		child.from = computed_call(lv, r.computed);
	if (build_level(&child, it->children, it->n_children) < 0)
		return -1;
	put_join_condition(&child, lv, &r, junction);

	struct embed_ref *e = &lv->embeds[lv->n_embeds++];
	struct sbuf j;

	e->label = label;
	e->name = it->field.name;
	e->lat = arena_printf(b->a, "\"%s_%s_%d\"", lv->name, label, n);
	e->rel = r.target;
	e->to_one = rel_is_to_one(&r);
	e->spread = it->kind == SEL_SPREAD;
	e->counted = embed_counted(lv, it);

	sbuf_init(&j, b->a, 512);
	sbuf_puts(&j, it->inner ? " INNER JOIN LATERAL (" : " LEFT JOIN LATERAL (");
	put_lateral(&j, &child, t, &r, junction, e->spread);
	/* a to-many aggregate always yields a row: !inner tests its body */
	if (it->inner && !e->to_one)
		sbuf_printf(&j, ") AS %s ON %s.\"body\" IS NOT NULL", e->lat, e->lat);
	else
		sbuf_printf(&j, ") AS %s ON TRUE", e->lat);
	e->join_sql = j.data;

	/* the output: rel() with no columns only filters */
	if (lv->count_only || (it->n_children == 0 && !e->spread))
		return 0;
	if (lv->select.len > 0)
		sbuf_puts(&lv->select, ", ");
	if (lv->spread_raw) {
		/* the parent names this level's columns: an embed is one, a spread is not known */
		if (e->spread) {
			http_error_set(b->err, 400, "PGRST100",
				       "a spread inside a spread with aggregate functions is not supported",
				       NULL, NULL);
			return -1;
		}
		lv->outs[lv->n_outs].label = label;
		lv->outs[lv->n_outs++].agg = NULL;
	}
	if (e->spread && child.spread_raw) {
		put_spread_aggregates(lv, &child, e->lat);
		return 0;
	}
	if (e->spread) {
		sbuf_printf(&lv->select, "%s.*", e->lat);
		add_outputs(lv, child.n_out, true);
		return 0;
	}
	add_outputs(lv, 1, true);
	if (e->to_one)
		sbuf_printf(&lv->select, "%s.\"body\" AS ", e->lat);
	else
		sbuf_printf(&lv->select, "coalesce(%s.\"body\", '[]'::jsonb) AS ", e->lat);
	sql_ident(&lv->select, label);
	return 0;
}

/* count output columns from the next one on; group by them when needed */
static void add_outputs(struct level *lv, int n, bool grouped)
{
	for (int i = 0; i < n; i++) {
		lv->n_out++;
		if (!grouped || !lv->has_agg)
			continue;
		if (lv->group.len > 0)
			sbuf_puts(&lv->group, ", ");
		sbuf_printf(&lv->group, "%d", lv->n_out);
	}
}

/* agg([CAST(]field[ AS t)])[::t] AS label; count() is count(*) */
/* a spread's aggregate: its input alone, for the parent to aggregate */
static void put_aggregate_input(struct level *lv, const struct select_item *it)
{
	struct sbuf *sel = &lv->select;
	struct spread_out *o = &lv->outs[lv->n_outs++];

	if (it->kind == SEL_COUNT) {
		sbuf_puts(sel, "TRUE");
	} else if (it->cast != NULL) {
		sbuf_puts(sel, "CAST(");
		put_field(lv, sel, &it->field);
		sbuf_printf(sel, " AS %s)", it->cast);
	} else {
		put_field(lv, sel, &it->field);
	}
	sbuf_printf(sel, " AS \"pgrst_agg_%d\"", lv->n_outs);
	o->label = it->alias ? it->alias : aggregate_name(it->agg);
	o->agg = it;
	add_outputs(lv, 1, false);
}

static void put_aggregate(struct level *lv, const struct select_item *it)
{
	struct sbuf *sel = &lv->select;

	if (lv->spread_raw) {
		put_aggregate_input(lv, it);
		return;
	}

	if (it->agg_cast != NULL)
		sbuf_puts(sel, "CAST(");
	sbuf_printf(sel, "pg_catalog.%s(", aggregate_name(it->agg));
	if (it->kind == SEL_COUNT) {
		sbuf_putc(sel, '*');
	} else if (it->cast != NULL) {
		sbuf_puts(sel, "CAST(");
		put_field(lv, sel, &it->field);
		sbuf_printf(sel, " AS %s)", it->cast);
	} else {
		put_field(lv, sel, &it->field);
	}
	sbuf_putc(sel, ')');
	if (it->agg_cast != NULL)
		sbuf_printf(sel, " AS %s)", it->agg_cast);
	sbuf_puts(sel, " AS ");
	sql_ident(sel, it->alias ? it->alias : aggregate_name(it->agg));
	add_outputs(lv, 1, false);
}

static void put_select_field(struct level *lv, const struct select_item *it)
{
	struct sbuf *sel = &lv->select;
	const struct sc_relation *r = lv->rel >= 0 ? &lv->b->spec->sc->relations[lv->rel] : NULL;

	if (sel->len > 0)
		sbuf_puts(sel, ", ");
	if (it->agg != AGG_NONE) {
		put_aggregate(lv, it);
		return;
	}
	if (lv->spread_raw) {
		if (it->kind == SEL_STAR) {
			http_error_set(lv->b->err, 400, "PGRST100",
				       "'*' cannot be selected in a spread with aggregate functions",
				       NULL, "Name the spread's columns.");
			lv->b->failed = true;
			return;
		}
		lv->outs[lv->n_outs].label = it->alias ? it->alias : field_label(&it->field);
		lv->outs[lv->n_outs++].agg = NULL;
	}
	if (it->kind == SEL_STAR && lv->expand_star && r != NULL) {
		for (int i = 0; i < r->n_columns; i++) {
			if (i > 0)
				sbuf_puts(sel, ", ");
			sbuf_printf(sel, "%s.", lv->qual);
			sql_ident(sel, r->columns[i].name);
		}
		add_outputs(lv, r->n_columns, true);
		return;
	}
	if (it->kind == SEL_STAR) {
		sbuf_printf(sel, "%s.*", lv->qual);
		if (lv->has_agg && r == NULL) {
			http_error_set(lv->b->err, 503, "PGRST002",
				       "Could not query the database for the schema cache. Retrying.", NULL, NULL);
			lv->b->failed = true;
		}
		add_outputs(lv, r ? r->n_columns : 1, true);
		return;
	}
	add_outputs(lv, 1, true);
	if (it->cast != NULL) {
		sbuf_puts(sel, "CAST(");
		put_field(lv, sel, &it->field);
		sbuf_printf(sel, " AS %s)", it->cast);
	} else {
		put_field(lv, sel, &it->field);
	}
	if (it->alias != NULL || it->cast != NULL || it->field.n_path > 0) {
		sbuf_puts(sel, " AS ");
		sql_ident(sel, it->alias ? it->alias : field_label(&it->field));
	}
}

/* does a spread select aggregates of its own (not in nested embeds)? */
static bool direct_aggregates(const struct select_item *it)
{
	for (int i = 0; i < it->n_children; i++)
		if (it->children[i].agg != AGG_NONE)
			return true;
	return false;
}

/*
 * Fill a level: select list, embeds (recursively), filters and order.
 * items NULL means select=* (the default).
 */
static int build_level(struct level *lv, const struct select_item *items, int n_items)
{
	struct select_item star = {.kind = SEL_STAR};

	if (items == NULL) {
		items = &star;
		n_items = 1;
	}
	lv->embeds = arena_zalloc(lv->b->a, sizeof(*lv->embeds) * (size_t)(n_items + 1));
	for (int i = 0; i < n_items; i++) {
		/* a spread's aggregates are this level's (see spread_raw) */
		if ((items[i].agg != AGG_NONE && !lv->spread_raw) ||
		    (items[i].kind == SEL_SPREAD && direct_aggregates(&items[i])))
			lv->has_agg = true;
	}
	if (lv->spread_raw)
		lv->outs = arena_zalloc(lv->b->a, sizeof(*lv->outs) * (size_t)n_items);
	for (int i = 0; i < n_items; i++) {
		const struct select_item *it = &items[i];

		if (it->kind == SEL_RELATION || it->kind == SEL_SPREAD) {
			if (lv->count_only && !embed_counted(lv, it))
				continue;
			if (build_embed(lv, it) < 0)
				return -1;
		} else if (!lv->count_only) {
			put_select_field(lv, it);
		}
	}
	put_level_filters(lv);
	if (!lv->count_only && put_level_order(lv) < 0)
		return -1;
	if (lv->b->failed)
		return -1;
	for (int i = 0; i < lv->n_embeds; i++) {
		sbuf_puts(&lv->joins, lv->embeds[i].join_sql);
		if (lv->embeds[i].counted)
			sbuf_puts(&lv->count_joins, lv->embeds[i].join_sql);
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

/* Filters, order or limits on a path that names no embed: PGRST108. */
static int check_levels(struct builder *b)
{
	for (int i = 1; i < b->q->n_levels; i++) {
		const char *path = b->q->levels[i].path;

		if (b->level_used[i])
			continue;
		http_error_set(b->err, 400, "PGRST108",
			       arena_printf(b->a, "'%s' is not an embedded resource in this request", path),
			       NULL,
			       arena_printf(b->a, "Verify that '%s' is included in the 'select' query parameter.",
					    path));
		return -1;
	}
	return 0;
}

static int build_root(struct builder *b, struct level *root, bool count_only)
{
	const struct read_spec *spec = b->spec;
	int rel = spec->from_sql ? spec->from_rel
	    : spec->sc ? schema_relation_index(spec->sc, spec->schema, spec->relation) : -1;
	struct sbuf qual;

	if (spec->from_sql == NULL && spec->sc != NULL && rel < 0) {
		/* what PostgreSQL would say, without asking it */
		http_error_set(b->err, 404, "42P01",
			       arena_printf(b->a, "relation \"%s.%s\" does not exist", spec->schema,
					    spec->relation),
			       NULL, NULL);
		return -1;
	}
	sbuf_init(&qual, b->a, 64);
	if (spec->from_sql != NULL)
		sbuf_puts(&qual, spec->from_qual);
	else
		sql_qualified(&qual, spec->schema, spec->relation);
	b->level_used = arena_zalloc(b->a, sizeof(bool) * (size_t)b->q->n_levels);
	level_init(root, b, rel, spec->relation, qual.data, "", "");
	root->from = spec->from_sql ? spec->from_sql : qual.data;
	root->count_only = count_only;
	if (spec->prefiltered) {
		/* the write already filtered the rows; read them back as they are */
		root->mutation_root = true;
		root->expand_star = true;
	}
	if (build_level(root, b->q->select, b->q->n_select) < 0)
		return -1;
	return check_levels(b);
}

/* FROM "s"."r" <joins> [WHERE ...] [GROUP BY ...] of the root */
static void put_root_from(struct sbuf *out, const struct level *root, bool count_joins)
{
	sbuf_printf(out, " FROM %s", root->from);
	sbuf_puts(out, count_joins ? root->count_joins.data : root->joins.data);
	if (root->where.len > 0)
		sbuf_printf(out, " WHERE %s", root->where.data);
	/* counts are of the rows, as in PostgREST, not of the groups */
	if (!count_joins && root->group.len > 0)
		sbuf_printf(out, " GROUP BY %s", root->group.data);
}

static void put_body(struct sbuf *out, const struct read_spec *spec)
{
	if (spec->head) {
		sbuf_puts(out, "NULL::text");
		return;
	}
	if (spec->scalar && spec->handler_type != NULL) {
		/* a media type handler: the values as they are, one after another */
		if (spec->handler_binary)
			sbuf_puts(out, "pg_catalog.string_agg("
				       "_postgrest_t.pgrst_scalar::pg_catalog.bytea, ''::pg_catalog.bytea)");
		else
			sbuf_puts(out, "pg_catalog.string_agg(_postgrest_t.pgrst_scalar::pg_catalog.text, '')");
		return;
	}
	if (spec->scalar) {
		/* a function's scalar result: the bare value, or an array of them */
		if (media_is_object(spec->media) || !spec->returns_set)
			sbuf_puts(out, "coalesce((pg_catalog.json_agg(_postgrest_t.pgrst_scalar) -> 0)::text, 'null')");
		else
			sbuf_puts(out, "coalesce(pg_catalog.json_agg(_postgrest_t.pgrst_scalar), '[]')::text");
		return;
	}
	if (spec->single_row && spec->media == MEDIA_JSON) {
		/* a function returning one composite value: an object, not an array */
		sbuf_puts(out, "coalesce((pg_catalog.json_agg(_postgrest_t) -> 0)::text, 'null')");
		return;
	}
	switch (spec->media) {
	case MEDIA_OBJECT:
		sbuf_puts(out, "(pg_catalog.json_agg(_postgrest_t) ->> 0)");
		break;
	case MEDIA_OBJECT_STRIPPED:
		sbuf_puts(out, "(pg_catalog.json_agg(pg_catalog.json_strip_nulls("
			       "pg_catalog.row_to_json(_postgrest_t))) ->> 0)");
		break;
	case MEDIA_ARRAY_STRIPPED:
		sbuf_puts(out, "coalesce(pg_catalog.json_agg(pg_catalog.json_strip_nulls("
			       "pg_catalog.row_to_json(_postgrest_t))), '[]')::text");
		break;
	case MEDIA_CSV:
		/*
		 * PostgREST's CSV: a header line from the first row's keys, then
		 * each row's record text without its parentheses (PostgreSQL's
		 * record output quotes as CSV does).
		 */
		sbuf_puts(out,
			  "(SELECT coalesce(pg_catalog.string_agg(a.k, ','), '') FROM ("
			  "SELECT pg_catalog.json_object_keys(r)::text AS k FROM ("
			  "SELECT pg_catalog.row_to_json(hh) AS r FROM pgrst_source AS hh LIMIT 1) s) a)"
			  " || E'\\n' || coalesce(pg_catalog.string_agg(pg_catalog.substring("
			  "_postgrest_t::text, 2, pg_catalog.length(_postgrest_t::text) - 2), E'\\n'), '')");
		break;
	default:
		sbuf_puts(out, "coalesce(pg_catalog.json_agg(_postgrest_t), '[]')::text");
	}
}

int sqlbuild_read(struct sql *s, const struct query *q, const struct read_spec *spec,
		  struct http_error *err)
{
	struct builder b = {s, q, spec, err, s->text.arena, 0, NULL, false, NULL};
	struct level root;
	long long limit = sqlbuild_root_limit(q, spec->max_rows);

	if (build_root(&b, &root, false) < 0)
		return -1;

	sbuf_printf(&s->text, "WITH pgrst_source AS (SELECT %s", root.select.len ? root.select.data : "");
	put_root_from(&s->text, &root, false);
	if (root.order.len > 0)
		sbuf_printf(&s->text, " ORDER BY %s", root.order.data);
	if (limit >= 0) {
		sbuf_puts(&s->text, " LIMIT ");
		sql_add_param(s, arena_printf(b.a, "%lld", limit));
	}
	if (q->levels[0].offset > 0) {
		sbuf_puts(&s->text, " OFFSET ");
		sql_add_param(s, arena_printf(b.a, "%lld", q->levels[0].offset));
	}
	sbuf_puts(&s->text, ") SELECT ");
	if (spec->count == COUNT_EXACT || (spec->count == COUNT_ESTIMATED && spec->max_rows < 0)) {
		sbuf_puts(&s->text, "(SELECT pg_catalog.count(*)");
		put_root_from(&s->text, &root, true);
		sbuf_puts(&s->text, ")");
	} else if (spec->count == COUNT_ESTIMATED) {
		/* exact up to db-max-rows: count at most one row more */
		sbuf_puts(&s->text, "(SELECT pg_catalog.count(*) FROM (SELECT 1");
		put_root_from(&s->text, &root, true);
		sbuf_puts(&s->text, " LIMIT ");
		sql_add_param(s, arena_printf(b.a, "%lld", spec->max_rows + 1));
		sbuf_puts(&s->text, ") AS _pgrst_c)");
	} else {
		sbuf_puts(&s->text, "NULL::bigint");
	}
	sbuf_puts(&s->text, " AS total_result_set, pg_catalog.count(_postgrest_t) AS page_total, ");
	put_body(&s->text, spec);
	sbuf_puts(&s->text,
		  " AS body, "
		  "nullif(pg_catalog.current_setting('response.headers', true), '') AS response_headers, "
		  "nullif(pg_catalog.current_setting('response.status', true), '') AS response_status "
		  "FROM pgrst_source AS _postgrest_t");
	return 0;
}

int sqlbuild_count_plan(struct sql *s, const struct query *q, const struct read_spec *spec,
			struct http_error *err)
{
	struct builder b = {s, q, spec, err, s->text.arena, 0, NULL, false, NULL};
	struct level root;

	if (build_root(&b, &root, true) < 0)
		return -1;
	sbuf_puts(&s->text, "EXPLAIN (FORMAT JSON) SELECT 1");
	put_root_from(&s->text, &root, true);
	return 0;
}

/* ------------------------------------------------------------------ */
/* writes                                                             */

/* the payload, always as an array: json_to_recordset() wants one */
static void put_uniform_body(struct sql *s, struct sbuf *m, const struct write_spec *ws)
{
	sbuf_puts(m, "(SELECT CASE WHEN pg_catalog.json_typeof(j) = 'array' THEN j"
		     " ELSE pg_catalog.json_build_array(j) END FROM (SELECT ");
	sql_param(s, m, ws->body_json);
	sbuf_puts(m, "::json AS j) AS pgrst_payload)");
}

/*
 * With missing=default each object is laid over an object of the column
 * defaults, so keys the body lacks take the default (expressions from the
 * catalog, evaluated per row), while keys it has, even null, win.
 */
static void put_body_rows(struct sql *s, struct sbuf *m, const struct sc_relation *rel,
			  const struct write_spec *ws)
{
	int n_defaults = 0;

	if (ws->missing_default)
		for (int i = 0; i < ws->n_columns; i++) {
			const struct sc_column *c = schema_column(rel, ws->columns[i]);

			n_defaults += c != NULL && c->default_expr != NULL;
		}
	if (n_defaults == 0) {
		put_uniform_body(s, m, ws);
		return;
	}
	sbuf_puts(m, "(SELECT pg_catalog.json_agg(pg_catalog.jsonb_build_object(");
	int k = 0;

	for (int i = 0; i < ws->n_columns; i++) {
		const struct sc_column *c = schema_column(rel, ws->columns[i]);

		if (c == NULL || c->default_expr == NULL)
			continue;
		if (k++ > 0)
			sbuf_puts(m, ", ");
		sql_param(s, m, c->name);
		sbuf_printf(m, "::text, %s", c->default_expr);
	}
	sbuf_puts(m, ") || pgrst_e.value::jsonb) FROM pg_catalog.json_array_elements(");
	put_uniform_body(s, m, ws);
	sbuf_puts(m, ") AS pgrst_e)");
}

/* json_to_recordset(rows) AS _("a" integer, "b" text) */
static void put_recordset(struct sql *s, struct sbuf *m, const struct sc_relation *rel,
			  const struct write_spec *ws)
{
	sbuf_puts(m, "pg_catalog.json_to_recordset(");
	put_body_rows(s, m, rel, ws);
	sbuf_puts(m, ") AS _(");
	for (int i = 0; i < ws->n_columns; i++) {
		if (i > 0)
			sbuf_puts(m, ", ");
		sql_ident(m, ws->columns[i]);
		sbuf_printf(m, " %s", schema_column(rel, ws->columns[i])->type);
	}
	sbuf_putc(m, ')');
}

static void put_column_list(struct sbuf *m, const char *prefix, const struct write_spec *ws)
{
	for (int i = 0; i < ws->n_columns; i++) {
		if (i > 0)
			sbuf_puts(m, ", ");
		sbuf_puts(m, prefix);
		sql_ident(m, ws->columns[i]);
	}
}

static void put_returning(struct sbuf *m, const char *qual, const struct sc_relation *rel,
			  const struct write_spec *ws)
{
	/*
	 * RETURNING needs SELECT rights on what it names: only ask for the
	 * rows when they are wanted, else "1" (the count still works).
	 */
	if (ws->representation) {
		sbuf_printf(m, " RETURNING %s.*", qual);
	} else if (ws->want_location && rel->n_pk > 0) {
		sbuf_puts(m, " RETURNING ");
		for (int i = 0; i < rel->n_pk; i++) {
			if (i > 0)
				sbuf_puts(m, ", ");
			sbuf_printf(m, "%s.", qual);
			sql_ident(m, rel->pk[i]);
		}
	} else {
		sbuf_puts(m, " RETURNING 1 AS pgrst_one");
	}
	/* a freshly inserted row version has no xmax: told apart from an update */
	if (ws->want_inserted)
		sbuf_printf(m, ", (%s.xmax = 0) AS pgrst_inserted", qual);
}

static int check_write_columns(struct builder *b, const struct sc_relation *rel,
			       const struct write_spec *ws)
{
	for (int i = 0; i < ws->n_columns; i++)
		if (schema_column(rel, ws->columns[i]) == NULL) {
			http_error_set(b->err, 400, "PGRST204",
				       arena_printf(b->a, "Could not find the '%s' column of '%s' in the schema cache",
						    ws->columns[i], rel->name),
				       NULL, NULL);
			return -1;
		}
	return 0;
}

/*
 * WHERE of a PATCH/DELETE.  With limit (and the order PostgREST requires
 * for it), the rows are those whose order columns match the first rows
 * in that order; an order on non-unique columns can match more, which
 * the caller refuses after the fact (PGRST110).
 */
static void put_write_where(struct builder *b, struct sbuf *m, struct level *lv)
{
	const struct query_level *root = &b->q->levels[0];

	if (root->limit < 0) {
		if (lv->where.len > 0)
			sbuf_printf(m, " WHERE %s", lv->where.data);
		return;
	}
	struct sbuf cols;

	sbuf_init(&cols, b->a, 64);
	for (int i = 0; i < root->n_order; i++) {
		if (i > 0)
			sbuf_puts(&cols, ", ");
		put_field(lv, &cols, &root->order[i].field);
	}
	if (put_level_order(lv) < 0)
		return;
	sbuf_printf(m, " WHERE (%s) IN (SELECT %s FROM %s", cols.data, cols.data, lv->from);
	if (lv->where.len > 0)
		sbuf_printf(m, " WHERE %s", lv->where.data);
	sbuf_printf(m, " ORDER BY %s LIMIT ", lv->order.data);
	sql_param(b->s, m, arena_printf(b->a, "%lld", root->limit));
	if (root->offset > 0) {
		sbuf_puts(m, " OFFSET ");
		sql_param(b->s, m, arena_printf(b->a, "%lld", root->offset));
	}
	sbuf_putc(m, ')');
}

static int put_mutation(struct builder *b, struct sbuf *m, const struct sc_relation *rel,
			int rel_index, const struct write_spec *ws)
{
	struct sql *s = b->s;
	struct sbuf qual;
	struct level lv;

	sbuf_init(&qual, b->a, 64);
	sql_qualified(&qual, rel->schema, rel->name);

	/* the write's own filters (UPDATE/DELETE): the root level only */
	level_init(&lv, b, rel_index, rel->name, qual.data, "", "");
	lv.from = qual.data;
	if (ws->kind != WRITE_INSERT)
		put_level_filters(&lv);
	if (b->failed)
		return -1;

	switch (ws->kind) {
	case WRITE_INSERT:
		sbuf_printf(m, "INSERT INTO %s", qual.data);
		if (ws->n_columns > 0) {
			sbuf_puts(m, " (");
			put_column_list(m, "", ws);
			sbuf_puts(m, ") SELECT ");
			put_column_list(m, "_.", ws);
			sbuf_puts(m, " FROM ");
			put_recordset(s, m, rel, ws);
		} else {
			/* {} or [{}, ...]: rows of defaults */
			sbuf_puts(m, " SELECT FROM pg_catalog.json_array_elements(");
			put_uniform_body(s, m, ws);
			sbuf_puts(m, ") AS _");
		}
		if (ws->conflict != CONFLICT_NONE) {
			sbuf_puts(m, " ON CONFLICT (");
			for (int i = 0; i < ws->n_conflict_cols; i++) {
				if (i > 0)
					sbuf_puts(m, ", ");
				sql_ident(m, ws->conflict_cols[i]);
			}
			sbuf_putc(m, ')');
			if (ws->conflict == CONFLICT_IGNORE || ws->n_columns == 0) {
				sbuf_puts(m, " DO NOTHING");
			} else {
				sbuf_puts(m, " DO UPDATE SET ");
				for (int i = 0; i < ws->n_columns; i++) {
					if (i > 0)
						sbuf_puts(m, ", ");
					sql_ident(m, ws->columns[i]);
					sbuf_puts(m, " = EXCLUDED.");
					sql_ident(m, ws->columns[i]);
				}
			}
		}
		break;
	case WRITE_UPDATE:
		if (ws->n_columns == 0) {
			/* PATCH with {}: nothing to set, nothing changes */
			sbuf_printf(m, "SELECT %s.* FROM %s WHERE false", qual.data, qual.data);
			return 0;
		}
		sbuf_printf(m, "UPDATE %s SET ", qual.data);
		for (int i = 0; i < ws->n_columns; i++) {
			if (i > 0)
				sbuf_puts(m, ", ");
			sql_ident(m, ws->columns[i]);
			sbuf_puts(m, " = _.");
			sql_ident(m, ws->columns[i]);
		}
		sbuf_puts(m, " FROM (SELECT * FROM ");
		put_recordset(s, m, rel, ws);
		sbuf_puts(m, " LIMIT 1) AS _");
		put_write_where(b, m, &lv);
		break;
	case WRITE_DELETE:
		sbuf_printf(m, "DELETE FROM %s", qual.data);
		put_write_where(b, m, &lv);
		break;
	}
	put_returning(m, qual.data, rel, ws);
	return 0;
}

int sqlbuild_write(struct sql *s, const struct query *q, const struct read_spec *rs,
		   const struct write_spec *ws, struct http_error *err)
{
	struct builder b = {s, q, rs, err, s->text.arena, 0, NULL, false, NULL};
	struct read_spec spec = *rs;
	struct sbuf m;
	struct level root;
	int rel_index;

	if (rs->sc == NULL) {
		http_error_set(err, 503, "PGRST002",
			       "Could not query the database for the schema cache. Retrying.", NULL, NULL);
		return -1;
	}
	rel_index = schema_relation_index(rs->sc, rs->schema, rs->relation);
	if (rel_index < 0) {
		http_error_set(err, 404, "42P01",
			       arena_printf(b.a, "relation \"%s.%s\" does not exist", rs->schema, rs->relation),
			       NULL, NULL);
		return -1;
	}
	const struct sc_relation *rel = &rs->sc->relations[rel_index];

	if (check_write_columns(&b, rel, ws) < 0)
		return -1;
	b.level_used = arena_zalloc(b.a, sizeof(bool) * (size_t)q->n_levels);
	sbuf_init(&m, b.a, 512);
	if (put_mutation(&b, &m, rel, rel_index, ws) < 0)
		return -1;

	sbuf_printf(&s->text, "WITH pgrst_mut AS (%s)", m.data);
	if (ws->representation) {
		struct sbuf q2;

		sbuf_init(&q2, b.a, 64);
		sql_ident(&q2, rs->relation);
		spec.from_qual = q2.data;
		spec.from_sql = arena_printf(b.a, "pgrst_mut AS %s", q2.data);
		spec.from_rel = rel_index;
		spec.prefiltered = true;
		b.spec = &spec;
		if (build_root(&b, &root, false) < 0)
			return -1;
		sbuf_printf(&s->text, ", pgrst_source AS (SELECT %s", root.select.len ? root.select.data : "");
		put_root_from(&s->text, &root, false);
		if (root.order.len > 0)
			sbuf_printf(&s->text, " ORDER BY %s", root.order.data);
		sbuf_puts(&s->text, ")");
	}
	sbuf_puts(&s->text, " SELECT NULL::bigint AS total_result_set,"
			    " (SELECT pg_catalog.count(*) FROM pgrst_mut) AS page_total, ");
	if (ws->representation && !rs->head) {
		sbuf_puts(&s->text, "(SELECT ");
		put_body(&s->text, &spec);
		sbuf_puts(&s->text, " FROM pgrst_source AS _postgrest_t)");
	} else {
		sbuf_puts(&s->text, "NULL::text");
	}
	sbuf_puts(&s->text,
		  " AS body, "
		  "nullif(pg_catalog.current_setting('response.headers', true), '') AS response_headers, "
		  "nullif(pg_catalog.current_setting('response.status', true), '') AS response_status, ");
	if (ws->want_location && rel->n_pk > 0) {
		sbuf_puts(&s->text, "(SELECT pg_catalog.json_build_object(");
		for (int i = 0; i < rel->n_pk; i++) {
			if (i > 0)
				sbuf_puts(&s->text, ", ");
			sql_add_param(s, rel->pk[i]);
			sbuf_puts(&s->text, "::text, pgrst_l.");
			sql_ident(&s->text, rel->pk[i]);
		}
		sbuf_puts(&s->text, ")::text FROM pgrst_mut AS pgrst_l LIMIT 1) AS location, ");
	} else {
		sbuf_puts(&s->text, "NULL::text AS location, ");
	}
	if (ws->want_inserted)
		sbuf_puts(&s->text, "(SELECT pg_catalog.count(*) FROM pgrst_mut WHERE pgrst_inserted) AS inserted");
	else
		sbuf_puts(&s->text, "NULL::bigint AS inserted");
	return 0;
}
