/*
 * sqlbuild-t.c — the SQL builder (src/sqlbuild.c): identifiers quoted,
 * every value a parameter, the statement shape PostgREST uses.
 */
#include <string.h>

#include "../../src/sqlbuild.h"
#include "tap.h"

static struct arena A;

struct built {
	const char *sql;
	const char *const *values;
	int n;
};

static struct built build_as(const char *qs, long long max_rows, bool head,
			     enum count_kind count, enum media_type media)
{
	struct query q;
	struct http_error err = {0};
	struct sql s;
	struct read_spec spec = {.schema = "api", .relation = "items", .max_rows = max_rows,
				.head = head, .media = media, .count = count};
	struct built b = {NULL, NULL, 0};

	if (query_parse(qs, &A, &q, &err) < 0) {
		ok(0, "parse %s: %s", qs, err.details);
		return b;
	}
	sql_init(&s, &A);
	if (sqlbuild_read(&s, &q, &spec, &err) < 0) {
		b.sql = err.code;
		return b;
	}
	b.sql = s.text.data;
	b.values = s.values;
	b.n = s.n_values;
	return b;
}

static struct built build(const char *qs, long long max_rows, bool head, bool count)
{
	return build_as(qs, max_rows, head, count ? COUNT_EXACT : COUNT_NONE, MEDIA_JSON);
}

static bool contains(const char *hay, const char *needle)
{
	return hay != NULL && strstr(hay, needle) != NULL;
}

#define has(b, needle) ok(contains((b).sql, needle), "%s has: %s", #b, needle)

int main(void)
{
	struct sbuf sb;

	arena_init(&A);

	sbuf_init(&sb, &A, 8);
	sql_ident(&sb, "we\"ird");
	is_str(sb.data, "\"we\"\"ird\"", "identifier quotes doubled");
	sbuf_init(&sb, &A, 8);
	sql_qualified(&sb, "api", "items");
	is_str(sb.data, "\"api\".\"items\"", "qualified name");

	struct built b = build("", -1, false, false);

	has(b, "WITH pgrst_source AS (SELECT \"api\".\"items\".* FROM \"api\".\"items\")");
	has(b, "coalesce(pg_catalog.json_agg(_postgrest_t), '[]')::text AS body");
	has(b, "current_setting('response.headers', true)");
	is_int(b.n, 0, "no parameters");

	b = build("select=id,name&id=eq.1&name=like.*a*&order=id.desc.nullslast&limit=5&offset=10", -1, false, false);
	has(b, "SELECT \"api\".\"items\".\"id\", \"api\".\"items\".\"name\" FROM");
	has(b, "WHERE \"api\".\"items\".\"id\" = $1 AND \"api\".\"items\".\"name\" LIKE $2");
	has(b, "ORDER BY \"api\".\"items\".\"id\" DESC NULLS LAST");
	has(b, "LIMIT $3 OFFSET $4");
	is_int(b.n, 4, "four parameters");
	is_str(b.values[0], "1", "eq value bound");
	is_str(b.values[1], "%a%", "like * became %%");
	is_str(b.values[2], "5", "limit bound");
	is_str(b.values[3], "10", "offset bound");

	b = build("id=eq.1;DROP TABLE items&name=eq.'x'--", -1, false, false);
	ok(!contains(b.sql, "DROP") && !contains(b.sql, "'x'"), "values never reach the SQL text");
	is_str(b.values[0], "1;DROP TABLE items", "value kept whole as a parameter");

	b = build("select=%22a%5C%22b%22", -1, false, false);
	has(b, "SELECT \"api\".\"items\".\"a\"\"b\" FROM");

	b = build("limit=100", 10, false, false);
	is_str(b.values[0], "10", "db-max-rows caps limit");
	b = build("limit=3", 10, false, false);
	is_str(b.values[0], "3", "smaller limit kept");
	b = build("", 10, false, false);
	has(b, "LIMIT $1");

	b = build("id=in.(1,2,%22x,y%22)&v=is.null&w=not.is.true", -1, false, false);
	has(b, "\"api\".\"items\".\"id\" = ANY ($1)");
	is_str(b.values[0], "{\"1\",\"2\",\"x,y\"}", "in list as quoted array literal");
	has(b, "\"api\".\"items\".\"v\" IS NULL");
	has(b, "NOT (\"api\".\"items\".\"w\" IS TRUE)");

	b = build("t=fts(english).cat&u=wfts.a%20b", -1, false, false);
	has(b, "\"t\" @@ pg_catalog.to_tsquery($1::regconfig, $2)");
	has(b, "\"u\" @@ pg_catalog.websearch_to_tsquery($3)");

	b = build("tags=cs.{a,b}&r=adj.[1,2)&n=gt(all).{1,2}&s=ilike(any).{A*,b}", -1, false, false);
	has(b, "\"tags\" @> $1");
	has(b, "\"r\" -|- $2");
	has(b, "\"n\" > ALL ($3)");
	has(b, "\"s\" ILIKE ANY ($4)");
	is_str(b.values[3], "{A%,b}", "like(any) patterns");

	b = build("or=(a.eq.1,and(b.gt.2,c.not.is.null))&not.and=(d.eq.1,e.eq.2)", -1, false, false);
	has(b, "WHERE (\"api\".\"items\".\"a\" = $1 OR (\"api\".\"items\".\"b\" > $2 AND NOT (\"api\".\"items\".\"c\" IS NULL))) AND NOT (\"api\".\"items\".\"d\" = $3 AND \"api\".\"items\".\"e\" = $4)");

	b = build("select=name:data->>name,first:data->list->0,total::text", -1, false, false);
	has(b, "\"data\"->>$1::text AS \"name\"");
	has(b, "\"data\"->$2::text->$3::integer AS \"first\"");
	has(b, "CAST(\"api\".\"items\".\"total\" AS text) AS \"total\"");
	is_str(b.values[0], "name", "json key is a parameter");

	b = build("data->>age=gt.30&order=data->>age.desc", -1, false, false);
	has(b, "\"data\"->>$1::text > $2");
	/* a JSON key is sent once: the order term reuses $1 */
	has(b, "ORDER BY \"api\".\"items\".\"data\"->>$1::text DESC");
	is_int(b.n, 2, "two parameters: the key once, the value");

	b = build("", -1, true, false);
	has(b, "NULL::text AS body");

	b = build("id=gt.1&limit=2", -1, false, true);
	has(b, "(SELECT pg_catalog.count(*) FROM \"api\".\"items\" WHERE \"api\".\"items\".\"id\" > $1) AS total_result_set");

	b = build("select=id,films(*)", -1, false, false);
	is_str(b.sql, "PGRST002", "embedding without a schema cache: 503 PGRST002");
	b = build("films.id=eq.1", -1, false, false);
	is_str(b.sql, "PGRST108", "filter on a resource not embedded");

	b = build_as("", -1, false, COUNT_NONE, MEDIA_OBJECT);
	has(b, "(pg_catalog.json_agg(_postgrest_t) ->> 0) AS body");
	b = build_as("", -1, false, COUNT_NONE, MEDIA_CSV);
	has(b, "pg_catalog.json_object_keys(r)");
	has(b, "pg_catalog.substring(_postgrest_t::text, 2, pg_catalog.length(_postgrest_t::text) - 2)");
	b = build_as("", -1, false, COUNT_NONE, MEDIA_ARRAY_STRIPPED);
	has(b, "pg_catalog.json_strip_nulls(pg_catalog.row_to_json(_postgrest_t))");
	b = build_as("id=gt.1", 50, false, COUNT_ESTIMATED, MEDIA_JSON);
	has(b, "(SELECT pg_catalog.count(*) FROM (SELECT 1 FROM \"api\".\"items\" WHERE \"api\".\"items\".\"id\" > $1 LIMIT $3) AS _pgrst_c)");
	is_str(b.values[2], "51", "estimated count stops at db-max-rows + 1");
	b = build_as("id=gt.1", -1, false, COUNT_PLANNED, MEDIA_JSON);
	has(b, "NULL::bigint AS total_result_set");

	{
		struct query q;
		struct http_error err = {0};
		struct sql s;
		struct read_spec spec = {.schema = "api", .relation = "items", .max_rows = -1,
					 .media = MEDIA_JSON, .count = COUNT_PLANNED};

		query_parse("select=a,b:c->>d&id=gt.1&order=a&limit=3", &A, &q, &err);
		sql_init(&s, &A);
		ok(sqlbuild_count_plan(&s, &q, &spec, &err) == 0, "count plan builds");
		is_str(s.text.data, "EXPLAIN (FORMAT JSON) SELECT 1 FROM \"api\".\"items\" WHERE \"api\".\"items\".\"id\" > $1",
		       "count plan: no select list, order or limit, every parameter used");
		is_int(s.n_values, 1, "count plan has only the filter's parameter");
	}

	is_str(sqlbuild_pre_request(&A, "public", "check_user"), "SELECT \"public\".\"check_user\"()",
	       "pre-request call");
	is_str(sqlbuild_pre_request(&A, NULL, "check"), "SELECT \"check\"()", "unqualified pre-request");
	ok(strstr(SQL_TX_SETTINGS, "set_config('role', $2, true)") != NULL, "role set transaction-locally");
	ok(strstr(SQL_TX_SETTINGS, "request.jwt.claim.") != NULL, "legacy claim GUCs");
	ok(strstr(SQL_TX_SETTINGS, "$10::text[]") != NULL, "app.settings.* part");
	ok(strncmp(SQL_TX_SETTINGS, SQL_TX_SETTINGS_NO_APP, strlen(SQL_TX_SETTINGS_NO_APP)) == 0 &&
	   strstr(SQL_TX_SETTINGS_NO_APP, "$9") == NULL,
	   "settings without app.settings.*: the same, up to that part");
	ok(strstr(SQL_TX_SETTINGS, "to_regrole(pg_catalog.quote_ident($2))") != NULL,
	   "role settings of exactly the role set_config('role') takes");

	arena_destroy(&A);
	return done_testing();
}
