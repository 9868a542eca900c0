/*
 * embed-t.c — relationship resolution (src/embed.c) and the SQL that
 * embedding builds (src/sqlbuild.c), on a schema cache read from JSON.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../src/embed.h"
#include "../../src/sqlbuild.h"
#include "tap.h"

static struct arena A;
static struct schema_cache *sc;

/* ' becomes " so the JSON needs no backslashes */
static char *q(const char *s)
{
	char *out = strdup(s);

	for (char *p = out; *p; p++)
		if (*p == '\'')
			*p = '"';
	return out;
}

#define REL(name, pk, cols) \
	"{'schema':'api','name':'" name "','kind':'table','insertable':true,'updatable':true," \
	"'deletable':true,'description':null,'pk':" pk ",'columns':[" cols "]}"
#define C(name) "{'name':'" name "','type':'integer','base_type':'integer','nullable':true," \
	"'default':null,'is_pk':false,'description':null,'enum':null}"
#define FK(name, from, fcols, to, tcols, uniq) \
	"{'name':'" name "','from_schema':'api','from_name':'" from "','from_cols':" fcols "," \
	"'to_schema':'api','to_name':'" to "','to_cols':" tcols ",'from_unique':" uniq "}"

static const char doc[] =
	"{'relations':["
	REL("clients", "['id']", C("id")) ","
	REL("projects", "['id']", C("id") "," C("client_id")) ","
	REL("users", "['id']", C("id")) ","
	REL("tasks", "['id']", C("id") "," C("project_id")) ","
	REL("users_tasks", "['user_id','task_id']", C("user_id") "," C("task_id")) ","
	REL("addresses", "['id']", C("id")) ","
	REL("orders", "['id']", C("id") "," C("billing_id") "," C("shipping_id")) ","
	REL("employees", "['id']", C("id") "," C("manager_id")) ","
	REL("country", "['id']", C("id")) ","
	REL("capital", "['id']", C("id") "," C("country_id"))
	"],'fkeys':["
	FK("projects_client_id_fkey", "projects", "['client_id']", "clients", "['id']", "false") ","
	FK("tasks_project_id_fkey", "tasks", "['project_id']", "projects", "['id']", "false") ","
	FK("users_tasks_user_fkey", "users_tasks", "['user_id']", "users", "['id']", "false") ","
	FK("users_tasks_task_fkey", "users_tasks", "['task_id']", "tasks", "['id']", "false") ","
	FK("billing", "orders", "['billing_id']", "addresses", "['id']", "false") ","
	FK("shipping", "orders", "['shipping_id']", "addresses", "['id']", "false") ","
	FK("employees_manager_fkey", "employees", "['manager_id']", "employees", "['id']", "false") ","
	FK("capital_country_fkey", "capital", "['country_id']", "country", "['id']", "true")
	"],'functions':[]}";

static int rel(const char *name)
{
	return schema_relation_index(sc, "api", name);
}

static struct relationship find(const char *origin, const char *target, const char *hint,
				 struct http_error *err)
{
	struct relationship r;

	memset(&r, 0, sizeof(r));
	memset(err, 0, sizeof(*err));
	r.card = -1;
	if (embed_find(sc, rel(origin), target, hint, &r, &A, err) < 0)
		r.card = -1;
	return r;
}

static const char *build(const char *relation, const char *qs, struct http_error *err)
{
	struct query q;
	struct sql s;
	struct read_spec spec = {.schema = "api", .relation = relation, .sc = sc, .max_rows = -1,
				.media = MEDIA_JSON, .count = COUNT_NONE};

	memset(err, 0, sizeof(*err));
	if (query_parse(qs, &A, &q, err) < 0)
		return NULL;
	sql_init(&s, &A);
	return sqlbuild_read(&s, &q, &spec, err) < 0 ? NULL : s.text.data;
}

#define has(sql, needle) ok((sql) && strstr((sql), (needle)) != NULL, "has %s", needle)

int main(void)
{
	char err_text[256];
	struct http_error e;
	struct relationship r;
	char *json = q(doc);

	arena_init(&A);
	sc = schema_from_json(json, err_text, sizeof(err_text));
	if (!ok(sc != NULL, "fixture loads: %s", sc ? "" : err_text))
		return done_testing();

	r = find("projects", "clients", NULL, &e);
	is_int(r.card, CARD_M2O, "projects -> clients is many-to-one");
	ok(r.fk_from_origin, "the foreign key is on the origin");
	r = find("clients", "projects", NULL, &e);
	is_int(r.card, CARD_O2M, "clients -> projects is one-to-many");
	r = find("users", "tasks", NULL, &e);
	is_int(r.card, CARD_M2M, "users -> tasks is many-to-many");
	is_int(r.junction, rel("users_tasks"), "through users_tasks");
	r = find("users", "tasks", "users_tasks", &e);
	is_int(r.card, CARD_M2M, "junction as hint");
	r = find("country", "capital", NULL, &e);
	is_int(r.card, CARD_O2O, "unique foreign key: one-to-one (referenced side)");
	r = find("capital", "country", NULL, &e);
	is_int(r.card, CARD_O2O, "unique foreign key: one-to-one (referencing side)");

	r = find("projects", "client_id", NULL, &e);
	is_int(r.card, CARD_M2O, "target named by the foreign key column");
	r = find("projects", "projects_client_id_fkey", NULL, &e);
	is_int(r.card, CARD_M2O, "target named by the constraint");

	r = find("orders", "addresses", NULL, &e);
	is_int((int)r.card, -1, "two foreign keys: ambiguous");
	is_int(e.status, 300, "300");
	is_str(e.code, "PGRST201", "PGRST201");
	is_str(e.message, "Could not embed because more than one relationship was found for 'orders' and 'addresses'",
	       "PGRST201 message");
	ok(e.details_json && strstr(e.details, "\"relationship\":\"billing using orders(billing_id) and addresses(id)\"") != NULL,
	   "details list the candidates as JSON: %s", e.details ? e.details : "");
	is_str(e.hint, "Try changing 'addresses' to one of the following: 'addresses!billing', 'addresses!shipping'. Find the desired relationship in the 'details' key.",
	       "PGRST201 hint");
	r = find("orders", "addresses", "billing", &e);
	ok(r.card == CARD_M2O && strcmp(r.fk->name, "billing") == 0, "constraint hint picks one");
	r = find("orders", "addresses", "shipping_id", &e);
	ok(r.card == CARD_M2O && strcmp(r.fk->name, "shipping") == 0, "column hint picks one");

	r = find("employees", "employees", NULL, &e);
	is_int(r.card, CARD_O2M, "self reference by table name: the children");
	r = find("employees", "manager_id", NULL, &e);
	is_int(r.card, CARD_M2O, "self reference by column: the parent");

	r = find("clients", "tasks", NULL, &e);
	is_int((int)r.card, -1, "no relationship");
	is_int(e.status, 400, "400");
	is_str(e.code, "PGRST200", "PGRST200");
	is_str(e.message, "Could not find a relationship between 'clients' and 'tasks' in the schema cache",
	       "PGRST200 message");
	is_str(e.details, "Searched for a foreign key relationship between 'clients' and 'tasks' in the schema 'api', but no matches were found.",
	       "PGRST200 details");
	r = find("orders", "addresses", "nope", &e);
	ok(e.details && strstr(e.details, "using the hint 'nope'") != NULL, "PGRST200 details name the hint");

	/* SQL */
	const char *sql = build("projects", "select=id,clients(id)", &e);
	has(sql, "LEFT JOIN LATERAL (SELECT pg_catalog.row_to_json(\"clients_1\")::jsonb AS \"body\"");
	has(sql, "WHERE \"clients_1\".\"id\" = \"api\".\"projects\".\"client_id\"");
	has(sql, "\"projects_clients_1\".\"body\" AS \"clients\"");
	sql = build("clients", "select=id,projects(id)&projects.order=id.desc&projects.limit=2", &e);
	has(sql, "pg_catalog.json_agg(\"projects_1\")::jsonb AS \"body\"");
	has(sql, "ORDER BY \"projects_1\".\"id\" DESC LIMIT $1");
	has(sql, "coalesce(\"clients_projects_1\".\"body\", '[]'::jsonb) AS \"projects\"");
	sql = build("users", "select=id,tasks(id)", &e);
	has(sql, "JOIN \"api\".\"users_tasks\" AS \"tasks_j1\" ON \"tasks_j1\".\"task_id\" = \"tasks_1\".\"id\"");
	has(sql, "WHERE \"tasks_j1\".\"user_id\" = \"api\".\"users\".\"id\"");
	sql = build("clients", "select=id,projects!inner(id)&projects.id=eq.1", &e);
	has(sql, "INNER JOIN LATERAL");
	has(sql, "ON \"clients_projects_1\".\"body\" IS NOT NULL");
	sql = build("clients", "select=id,projects()&projects=is.null", &e);
	has(sql, "WHERE \"clients_projects_1\".\"body\" IS NULL");
	ok(sql && strstr(sql, "AS \"projects\"") == NULL, "rel() adds no output column");
	sql = build("projects", "select=id,...clients(cid:id)", &e);
	has(sql, "\"projects_clients_1\".*");
	sql = build("projects", "select=id,clients(id)&order=clients(id).desc", &e);
	has(sql, "ORDER BY \"projects_clients_1\".\"body\"->$1::text DESC");

	sql = build("clients", "select=id,...projects(id)", &e);
	is_str(e.code, "PGRST119", "spread on to-many");
	sql = build("clients", "select=id,projects(id)&order=projects(id)", &e);
	is_str(e.code, "PGRST118", "order by a to-many embed");
	sql = build("clients", "select=id,projects(id)&projects=eq.1", &e);
	is_str(e.code, "PGRST120", "only is.null on an embed");
	sql = build("clients", "select=id&projects.id=eq.1", &e);
	is_str(e.code, "PGRST108", "filter on a resource not embedded");
	sql = build("clients", "select=nope", &e);
	is_str(e.code, "42703", "unknown column from the cache");
	is_str(e.message, "column clients.nope does not exist", "PostgreSQL's wording");
	sql = build("clients", "select=id,projects(nope)", &e);
	is_str(e.message, "column projects_1.nope does not exist", "unknown column inside an embed");
	sql = build("nothere", "", &e);
	is_int(e.status, 404, "unknown relation from the cache: 404");
	is_str(e.message, "relation \"api.nothere\" does not exist", "with PostgreSQL's message");

	schema_free(sc);
	free(json);
	arena_destroy(&A);
	return done_testing();
}
