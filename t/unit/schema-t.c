/*
 * schema-t.c — unit tests for src/schema.c without a database.
 *
 * schema_from_json() reads hand-written documents in the layout the
 * introspection query produces; the tests check the structures, the
 * lookups (hash index, overloads kept together), the errors for broken or
 * incomplete documents, and that a --dump-schema dump (src/dump.c) reads
 * back to the same dump.  Documents are written with ' for " (see q()).
 */
#define _GNU_SOURCE             /* open_memstream */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* by path: a build's own config.h (autoconf) may come first on -I */
#include "../../src/dump.h"
#include "../../src/schema.h"
#include "tap.h"

static char err[512];

/*
 * The text with every ' turned into " (JSON in C without backslashes);
 * \' stands for a real '.
 */
static const char *q(const char *s)
{
	static char buf[16384];
	size_t n = 0;

	for (; *s; s++) {
		if (n + 2 >= sizeof(buf)) {
			fprintf(stderr, "schema-t: document too long\n");
			exit(2);
		}
		if (s[0] == '\\' && s[1] == '\'')
			buf[n++] = *++s;
		else
			buf[n++] = *s == '\'' ? '"' : *s;
	}
	buf[n] = '\0';
	return buf;
}

/* ------------------------------------------------------------------ */

#define COL(name, type, base, extra) \
	"{'name': '" name "', 'type': '" type "', 'base_type': '" base "', " extra "}"
#define PLAIN "'nullable': true, 'default': null, 'description': null, 'enum': null"

static const char good_doc[] =
	"{'relations': ["
	"  {'schema': 'api', 'name': 'films', 'kind': 'table',"
	"   'insertable': true, 'updatable': true, 'deletable': true,"
	"   'description': 'Films we like', 'pk': ['id'],"
	"   'columns': ["
	"     " COL("id", "integer", "integer",
		      "'nullable': false, 'default': 'nextval(\\'api.films_id_seq\\'::regclass)',"
		      " 'description': null, 'enum': null") ","
	"     " COL("title", "character varying(80)", "character varying",
		      "'nullable': false, 'default': null, 'description': 'The title', 'enum': null") ","
	"     " COL("director_id", "integer", "integer", PLAIN) ","
	"     " COL("mood", "api.mood", "api.mood",
		      "'nullable': true, 'default': '\\'ok\\'::api.mood', 'description': null,"
		      " 'enum': ['sad', 'ok', 'happy']") ","
	"     " COL("tags", "text[]", "text", PLAIN) ","
	"     " COL("rating", "api.posint", "integer", PLAIN)
	"   ]},"
	"  {'schema': 'api', 'name': 'directors', 'kind': 'table',"
	"   'insertable': true, 'updatable': true, 'deletable': true,"
	"   'description': null, 'pk': ['id'],"
	"   'columns': [" COL("id", "integer", "integer", PLAIN) ","
	"               " COL("name", "text", "text", PLAIN) "]},"
	"  {'schema': 'api', 'name': 'film_view', 'kind': 'view',"
	"   'insertable': false, 'updatable': true, 'deletable': false,"
	"   'description': null, 'pk': ['fid'],"
	"   'columns': [" COL("fid", "integer", "integer", PLAIN) ","
	"               " COL("dir", "integer", "integer", PLAIN) "]},"
	"  {'schema': 'api', 'name': 'Weird Name', 'kind': 'foreign',"
	"   'insertable': false, 'updatable': false, 'deletable': false,"
	"   'description': null, 'pk': [],"
	"   'columns': [" COL("the id", "integer", "integer", PLAIN) ","
	"               " COL("x,y", "text", "text", PLAIN) "]},"
	"  {'schema': 'api', 'name': 'roles', 'kind': 'table',"
	"   'insertable': true, 'updatable': true, 'deletable': true,"
	"   'description': null, 'pk': ['film_id', 'actor_id'],"
	"   'columns': [" COL("film_id", "integer", "integer", PLAIN) ","
	"               " COL("actor_id", "integer", "integer", PLAIN) "]},"
	"  {'schema': 'alt', 'name': 'films', 'kind': 'table',"
	"   'insertable': true, 'updatable': true, 'deletable': true,"
	"   'description': null, 'pk': [], 'columns': []}"
	"],"
	"'fkeys': ["
	"  {'name': 'films_director_id_fkey', 'from_schema': 'api', 'from_name': 'films',"
	"   'from_cols': ['director_id'], 'to_schema': 'api', 'to_name': 'directors',"
	"   'to_cols': ['id'], 'from_unique': false},"
	"  {'name': 'films_director_id_fkey', 'from_schema': 'api', 'from_name': 'film_view',"
	"   'from_cols': ['dir'], 'to_schema': 'api', 'to_name': 'directors',"
	"   'to_cols': ['id'], 'from_unique': false},"
	"  {'name': 'roles_film_fkey', 'from_schema': 'api', 'from_name': 'roles',"
	"   'from_cols': ['film_id', 'actor_id'], 'to_schema': 'api', 'to_name': 'films',"
	"   'to_cols': ['id', 'director_id'], 'from_unique': true}"
	"],"
	"'functions': ["
	"  {'schema': 'api', 'name': 'add', 'args': ["
	"     {'name': 'a', 'type': 'integer', 'mode': 'i', 'has_default': false},"
	"     {'name': 'b', 'type': 'integer', 'mode': 'i', 'has_default': true}],"
	"   'return_type': 'integer', 'return_type_schema': null, 'return_type_name': null,"
	"   'returns_set': false, 'returns_composite': false, 'returns_void': false,"
	"   'volatility': 'i', 'description': 'adds two numbers'},"
	"  {'schema': 'api', 'name': 'zeta', 'args': [],"
	"   'return_type': 'void', 'return_type_schema': null, 'return_type_name': null,"
	"   'returns_set': false, 'returns_composite': false, 'returns_void': true,"
	"   'volatility': 'v', 'description': null},"
	"  {'schema': 'api', 'name': 'add', 'args': ["
	"     {'name': 'a', 'type': 'text', 'mode': 'i', 'has_default': false},"
	"     {'name': 'b', 'type': 'text', 'mode': 'i', 'has_default': false}],"
	"   'return_type': 'text', 'return_type_schema': null, 'return_type_name': null,"
	"   'returns_set': false, 'returns_composite': false, 'returns_void': false,"
	"   'volatility': 's', 'description': null},"
	"  {'schema': 'alt', 'name': 'add', 'args': [],"
	"   'return_type': 'integer', 'return_type_schema': null, 'return_type_name': null,"
	"   'returns_set': false, 'returns_composite': false, 'returns_void': false,"
	"   'volatility': 'v', 'description': null},"
	"  {'schema': 'api', 'name': 'films_of', 'args': ["
	"     {'name': '', 'type': 'integer', 'mode': 'i', 'has_default': false},"
	"     {'name': 'rest', 'type': 'integer[]', 'mode': 'v', 'has_default': false}],"
	"   'return_type': 'api.films', 'return_type_schema': 'api', 'return_type_name': 'films',"
	"   'returns_set': true, 'returns_composite': true, 'returns_void': false,"
	"   'volatility': 's', 'description': null},"
	"  {'schema': 'api', 'name': 'tbl', 'args': ["
	"     {'name': 'n', 'type': 'integer', 'mode': 'i', 'has_default': false},"
	"     {'name': 'sq', 'type': 'integer', 'mode': 't', 'has_default': false},"
	"     {'name': 'x', 'type': 'integer', 'mode': 'o', 'has_default': false},"
	"     {'name': 'y', 'type': 'integer', 'mode': 'b', 'has_default': false}],"
	"   'return_type': 'record', 'return_type_schema': null, 'return_type_name': null,"
	"   'returns_set': true, 'returns_composite': true, 'returns_void': false,"
	"   'volatility': 'i', 'description': null}"
	"]}";

static void test_relations(const struct schema_cache *sc)
{
	const struct sc_relation *r;
	const struct sc_column *c;

	is_int(sc->n_relations, 6, "relations: all read");
	ok(sc->load_ms == 0, "relations: load_ms 0 without a load");
	r = schema_relation(sc, "api", "films");
	ok(r != NULL, "lookup api.films");
	if (r == NULL)
		return;
	is_str(r->schema, "api", "films: schema");
	is_str(r->name, "films", "films: name");
	is_int(r->kind, SC_TABLE, "films: a table");
	ok(r->insertable && r->updatable && r->deletable, "films: takes every write");
	is_str(r->description, "Films we like", "films: comment");
	is_int(r->n_pk, 1, "films: one pk column");
	is_str(r->pk[0], "id", "films: pk is id");
	is_int(r->n_columns, 6, "films: six columns");
	is_str(r->columns[0].name, "id", "films: columns in order (1)");
	is_str(r->columns[5].name, "rating", "films: columns in order (6)");

	c = schema_column(r, "id");
	ok(c == &r->columns[0], "schema_column finds id");
	ok(c->is_pk, "id: is_pk from the pk list");
	ok(!c->nullable, "id: not null");
	is_str(c->default_expr, "nextval('api.films_id_seq'::regclass)", "id: default");
	ok(c->enum_values == NULL && c->n_enum_values == 0, "id: no enum");

	c = schema_column(r, "title");
	ok(c != NULL && !c->is_pk, "title: not in pk");
	is_str(c->type, "character varying(80)", "title: type with typmod");
	is_str(c->base_type, "character varying", "title: base type");
	ok(c->default_expr == NULL, "title: no default");
	is_str(c->description, "The title", "title: comment");

	c = schema_column(r, "mood");
	is_int(c->n_enum_values, 3, "mood: three enum labels");
	is_str(c->enum_values[0], "sad", "mood: labels in order (1)");
	is_str(c->enum_values[2], "happy", "mood: labels in order (3)");
	is_str(c->default_expr, "'ok'::api.mood", "mood: default");
	is_str(schema_column(r, "tags")->base_type, "text", "tags: element type");
	is_str(schema_column(r, "rating")->type, "api.posint", "rating: domain type");
	is_str(schema_column(r, "rating")->base_type, "integer", "rating: domain base type");
	ok(schema_column(r, "nope") == NULL, "schema_column: unknown column");
	ok(schema_column(r, "ID") == NULL, "schema_column: names are case-sensitive");
	ok(schema_column(NULL, "id") == NULL, "schema_column: NULL relation");
	ok(schema_column(r, NULL) == NULL, "schema_column: NULL name");

	r = schema_relation(sc, "api", "film_view");
	ok(r != NULL && r->kind == SC_VIEW, "film_view: a view");
	ok(r && !r->insertable && r->updatable && !r->deletable, "film_view: write flags");
	ok(r && r->n_pk == 1 && strcmp(r->pk[0], "fid") == 0 && r->columns[0].is_pk,
	   "film_view: inferred pk read as any other");

	r = schema_relation(sc, "api", "roles");
	ok(r && r->n_pk == 2 && r->columns[0].is_pk && r->columns[1].is_pk,
	   "roles: composite pk marks both columns");

	r = schema_relation(sc, "api", "Weird Name");
	ok(r != NULL && r->kind == SC_FOREIGN, "\"Weird Name\": found by its exact name, foreign");
	ok(r && schema_column(r, "the id") && schema_column(r, "x,y"), "\"Weird Name\": odd column names");
	ok(r && r->n_pk == 0 && r->pk != NULL, "\"Weird Name\": empty pk");
	ok(schema_relation(sc, "api", "weird name") == NULL, "lookup is case-sensitive");
	ok(schema_relation(sc, "api", "\"Weird Name\"") == NULL, "lookup takes names, not quoted identifiers");
	ok(schema_relation(sc, "api", "WeirdName") == NULL, "lookup: no near misses");

	r = schema_relation(sc, "alt", "films");
	ok(r != NULL && r != schema_relation(sc, "api", "films"), "alt.films is another relation");
	ok(r && r->n_columns == 0 && r->columns != NULL, "alt.films: no columns");
	ok(schema_relation(sc, "API", "films") == NULL, "lookup: schema is case-sensitive");
	ok(schema_relation(sc, "public", "films") == NULL, "lookup: other schema misses");
	ok(schema_relation(sc, "apifilms", "") == NULL, "lookup: schema and name are not concatenated");
	ok(schema_relation(sc, "api", "nope") == NULL, "lookup: unknown relation");
	is_int(schema_relation_index(sc, "api", "nope"), -1, "index of unknown relation is -1");
	is_int(schema_relation_index(sc, "api", "directors"), 1, "index = position in relations[]");
	ok(schema_relation(sc, NULL, "films") == NULL && schema_relation(NULL, "api", "films") == NULL,
	   "lookup with NULLs misses");
}

static void test_fkeys(const struct schema_cache *sc)
{
	int films = schema_relation_index(sc, "api", "films");
	int dirs = schema_relation_index(sc, "api", "directors");
	int view = schema_relation_index(sc, "api", "film_view");
	const struct sc_fkey *f;

	is_int(sc->n_fkeys, 3, "fkeys: all read");
	f = &sc->fkeys[0];
	is_str(f->name, "films_director_id_fkey", "fkey: name");
	is_int(f->from, films, "fkey: from films");
	is_int(f->to, dirs, "fkey: to directors");
	is_int(f->n_cols, 1, "fkey: one column");
	is_str(f->from_cols[0], "director_id", "fkey: from column");
	is_str(f->to_cols[0], "id", "fkey: to column");
	ok(!f->from_unique, "fkey: many-to-one");

	f = &sc->fkeys[1];
	ok(f->from == view && f->to == dirs, "fkey through a view: film_view -> directors");
	is_str(f->from_cols[0], "dir", "fkey through a view: the view's column name");

	f = &sc->fkeys[2];
	is_int(f->n_cols, 2, "composite fkey: two columns");
	is_str(f->from_cols[1], "actor_id", "composite fkey: pairs in order (from)");
	is_str(f->to_cols[1], "director_id", "composite fkey: pairs in order (to)");
	ok(f->from_unique, "composite fkey: one-to-one");
}

static void test_functions(const struct schema_cache *sc)
{
	const struct sc_function *f;
	int n = -1, i;

	is_int(sc->n_functions, 6, "functions: all read");
	for (i = 1; i < sc->n_functions; i++) {
		int c = strcmp(sc->functions[i - 1].schema, sc->functions[i].schema);

		if (c > 0 || (c == 0 && strcmp(sc->functions[i - 1].name, sc->functions[i].name) > 0))
			break;
	}
	is_int(i, sc->n_functions, "functions: sorted by schema, name");

	i = schema_functions(sc, "api", "add", &n);
	is_int(n, 2, "api.add: two overloads");
	ok(i >= 0 && strcmp(sc->functions[i].args[0].type, "integer") == 0 &&
	   strcmp(sc->functions[i + 1].args[0].type, "text") == 0,
	   "api.add: overloads consecutive, in the order they came");
	f = &sc->functions[i];
	is_str(f->schema, "api", "add: schema");
	is_int(f->n_args, 2, "add: two args");
	is_str(f->args[0].name, "a", "add: arg name");
	ok(!f->args[0].has_default && f->args[1].has_default, "add: second arg has a default");
	ok(f->args[0].mode == 'i' && !f->args[0].variadic, "add: in args");
	is_str(f->return_type, "integer", "add: return type");
	ok(!f->returns_set && !f->returns_composite && !f->returns_void, "add: scalar");
	ok(f->return_type_schema == NULL && f->return_type_name == NULL, "add: no row type");
	ok(f->volatility == 'i', "add: immutable");
	is_str(f->description, "adds two numbers", "add: comment");
	ok(sc->functions[i + 1].volatility == 's', "add(text): stable");

	i = schema_functions(sc, "alt", "add", &n);
	ok(i >= 0 && n == 1 && strcmp(sc->functions[i].schema, "alt") == 0, "alt.add: its own");
	i = schema_functions(sc, "api", "zeta", &n);
	ok(i >= 0 && n == 1 && sc->functions[i].returns_void && sc->functions[i].n_args == 0 &&
	   sc->functions[i].volatility == 'v', "zeta: void, no args, volatile");

	i = schema_functions(sc, "api", "films_of", &n);
	f = i >= 0 ? &sc->functions[i] : NULL;
	ok(f && f->returns_set && f->returns_composite, "films_of: setof a row type");
	ok(f && f->return_type_schema && strcmp(f->return_type_schema, "api") == 0 &&
	   strcmp(f->return_type_name, "films") == 0, "films_of: returns api.films");
	ok(f && strcmp(f->args[0].name, "") == 0, "films_of: unnamed arg is \"\"");
	ok(f && f->args[1].mode == 'v' && f->args[1].variadic, "films_of: variadic from mode v");

	i = schema_functions(sc, "api", "tbl", &n);
	f = i >= 0 ? &sc->functions[i] : NULL;
	ok(f && f->args[1].mode == 't' && f->args[2].mode == 'o' && f->args[3].mode == 'b',
	   "tbl: table, out and inout modes");

	is_int(schema_functions(sc, "api", "nope", &n), -1, "unknown function: -1");
	is_int(n, 0, "unknown function: count 0");
	is_int(schema_functions(sc, "api", "ad", &n), -1, "prefix of a name does not match");
	is_int(schema_functions(sc, "ap", "add", NULL), -1, "count may be NULL");
	ok(schema_functions(sc, "api", "add", NULL) >= 0, "count may be NULL (hit)");
}

/* Dump sc into a string (malloc'd). */
static char *dump_text(const struct schema_cache *sc)
{
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);

	if (f == NULL || schema_dump(f, sc) != 0) {
		fprintf(stderr, "schema-t: dump failed\n");
		exit(2);
	}
	fclose(f);
	return text;
}

static void test_dump_round_trip(const struct schema_cache *sc)
{
	char *one = dump_text(sc), *two;
	struct schema_cache *back = schema_from_json(one, err, sizeof(err));

	if (!ok(back != NULL, "a dump reads back"))
		printf("#   %s\n", err);
	if (back == NULL) {
		free(one);
		return;
	}
	two = dump_text(back);
	is_str(two, one, "dump -> read -> dump is the same text");
	ok(strstr(one, "\"load_ms\": 0.000") != NULL, "dump: load_ms first");
	ok(strstr(one, "\"name\": \"the id\"") != NULL, "dump: odd names written as they are");
	ok(strstr(one, "\"default\": \"nextval('api.films_id_seq'::regclass)\"") != NULL,
	   "dump: default expression");
	ok(strstr(one, "\"enum\": [\"sad\", \"ok\", \"happy\"]") != NULL, "dump: enum labels");
	ok(strstr(one, "\"is_pk\": true") != NULL, "dump: is_pk");
	ok(strstr(one, "\"mode\": \"v\", \"has_default\": false, \"variadic\": true") != NULL,
	   "dump: variadic arg");
	free(one);
	free(two);
	schema_free(back);
}

static void test_good(void)
{
	struct schema_cache *sc = schema_from_json(q(good_doc), err, sizeof(err));

	if (!ok(sc != NULL, "a good document loads"))
		printf("#   %s\n", err);
	if (sc == NULL)
		return;
	test_relations(sc);
	test_fkeys(sc);
	test_functions(sc);
	test_dump_round_trip(sc);
	schema_free(sc);
}

static void test_empty(void)
{
	struct schema_cache *sc = schema_from_json(q(" {'relations': [], 'fkeys': [], "
						     "'functions': []}\n"), err, sizeof(err));
	int n = 7;

	ok(sc != NULL, "an empty cache loads (blanks around it are fine)");
	if (sc == NULL)
		return;
	ok(sc->n_relations == 0 && sc->n_fkeys == 0 && sc->n_functions == 0, "empty: nothing");
	ok(schema_relation(sc, "api", "x") == NULL, "empty: lookup misses");
	is_int(schema_functions(sc, "api", "x", &n), -1, "empty: no functions");
	is_int(n, 0, "empty: count 0");
	schema_free(sc);
	schema_free(NULL);
	ok(1, "schema_free(NULL) is harmless");
}

/* Many relations: every one is found through the hash index. */
static void test_many(void)
{
	size_t cap = 4000 * 160, len = 0;
	char *doc = malloc(cap);
	struct schema_cache *sc;
	int found = 0;

	len += (size_t)snprintf(doc + len, cap - len, "{\"relations\": [");
	for (int i = 0; i < 3000; i++)
		len += (size_t)snprintf(doc + len, cap - len,
			"%s{\"schema\": \"s%d\", \"name\": \"t%d\", \"kind\": \"table\", "
			"\"insertable\": true, \"updatable\": true, \"deletable\": true, "
			"\"description\": null, \"pk\": [], \"columns\": []}",
			i ? "," : "", i % 7, i);
	snprintf(doc + len, cap - len, "], \"fkeys\": [], \"functions\": []}");
	sc = schema_from_json(doc, err, sizeof(err));
	if (!ok(sc != NULL, "3000 relations load"))
		printf("#   %s\n", err);
	for (int i = 0; sc && i < 3000; i++) {
		char s[16], t[16];

		snprintf(s, sizeof(s), "s%d", i % 7);
		snprintf(t, sizeof(t), "t%d", i);
		found += schema_relation_index(sc, s, t) == i;
	}
	is_int(found, 3000, "3000 relations: each found at its index");
	ok(sc && schema_relation(sc, "s1", "t0") == NULL, "3000 relations: wrong schema misses");
	ok(sc && sc->rel_index_size >= 6000, "index at most half full");
	schema_free(sc);
	free(doc);
}

/* ------------------------------------------------------------------ */
/* broken documents: NULL and a message, never a crash                */

static void bad(const char *doc, const char *want, const char *name)
{
	struct schema_cache *sc;

	err[0] = '\0';
	sc = schema_from_json(doc, err, sizeof(err));
	ok(sc == NULL, "%s: refused", name);
	if (!ok(strstr(err, want) != NULL, "%s: message has '%s'", name, want))
		printf("#   got: %s\n", err);
	schema_free(sc);
}

#define REL(cols) \
	"{'schema': 'api', 'name': 't', 'kind': 'table', 'insertable': true, 'updatable': true," \
	" 'deletable': true, 'description': null, 'pk': [], 'columns': [" cols "]}"
#define DOC(rels, fkeys, fns) "{'relations': [" rels "], 'fkeys': [" fkeys "], 'functions': [" fns "]}"

static void test_malformed(void)
{
	bad(NULL, "no document", "NULL text");
	bad("", "unexpected end", "empty text");
	bad("{\"relations\": [", "unexpected end", "truncated JSON");
	bad("{\"relations\": [}", "invalid JSON at offset", "bad JSON");
	bad(q("{'relations': [], 'fkeys': [], 'functions': []} x"), "invalid JSON at offset 48",
	    "trailing garbage");
	bad(q("{'relations': [], 'fkeys': [], 'functions': []}{}"), "invalid JSON at offset 47",
	    "two documents");
	bad(q("{'relations': [], 'fkeys': [], 'functions': [],}"), "invalid JSON",
	    "trailing comma (strict JSON)");
	bad("[]", "must be a JSON object", "an array, not an object");
	bad("null", "must be a JSON object", "JSON null");
	bad("42", "must be a JSON object", "a number");
}

static void test_missing(void)
{
	bad(q("{'fkeys': [], 'functions': []}"), "schema cache: \"relations\" is missing",
	    "no relations");
	bad(q("{'relations': [], 'functions': []}"), "\"fkeys\" is missing", "no fkeys");
	bad(q("{'relations': [], 'fkeys': []}"), "\"functions\" is missing", "no functions");
	bad(q("{'relations': {}, 'fkeys': [], 'functions': []}"), "\"relations\" must be an array",
	    "relations not an array");
	bad(q("{'relations': null, 'fkeys': [], 'functions': []}"), "\"relations\" is null",
	    "relations null");
	bad(q(DOC("1", "", "")), "\"relations\"[0] must be an object", "relation not an object");
	bad(q(DOC("{'schema': 'api', 'name': 't'}", "", "")), "relations[0]: \"kind\" is missing",
	    "relation without kind");
	bad(q(DOC("{'schema': 'api', 'name': 't', 'kind': 'table', 'insertable': true,"
		  " 'updatable': true, 'deletable': true, 'description': null, 'pk': []}", "", "")),
	    "relations[0]: \"columns\" is missing", "relation without columns");
	bad(q(DOC(REL("{'name': 'a', 'base_type': 'text', 'nullable': true, 'default': null,"
		      " 'description': null, 'enum': null}"), "", "")),
	    "relations[0].columns[0]: \"type\" is missing", "column without type");
	bad(q(DOC(REL("{'name': 'a', 'type': 'text', 'base_type': 'text', 'nullable': 'yes',"
		      " 'default': null, 'description': null, 'enum': null}"), "", "")),
	    "relations[0].columns[0]: \"nullable\" must be a boolean", "nullable not a boolean");
	bad(q(DOC(REL("{'name': 'a', 'type': 'text', 'base_type': 'text', 'nullable': true,"
		      " 'default': null, 'description': null, 'enum': [1]}"), "", "")),
	    "\"enum\"[0] must be a string", "enum label not a string");
	bad(q(DOC(REL("{'name': null, 'type': 'text', 'base_type': 'text', 'nullable': true,"
		      " 'default': null, 'description': null, 'enum': null}"), "", "")),
	    "\"name\" is null", "column name null");
	bad(q(DOC(REL("{'name': 'a\\u0000b', 'type': 'text', 'base_type': 'text', 'nullable': true,"
		      " 'default': null, 'description': null, 'enum': null}"), "", "")),
	    "contains a NUL character", "NUL inside a name");
	bad(q(DOC("{'schema': 'api', 'name': 't', 'kind': 'index', 'insertable': true,"
		  " 'updatable': true, 'deletable': true, 'description': null, 'pk': [],"
		  " 'columns': []}", "", "")),
	    "\"kind\" must be \"table\", \"view\" or \"foreign\", not \"index\"", "unknown kind");
	bad(q(DOC("{'schema': 'api', 'name': 't', 'kind': 'table', 'insertable': true,"
		  " 'updatable': true, 'deletable': true, 'description': null, 'pk': ['id'],"
		  " 'columns': []}", "", "")),
	    "primary key column \"id\" is not a column of api.t", "pk column that does not exist");
	bad(q(DOC(REL("") "," REL(""), "", "")), "relations[1]: api.t appears twice",
	    "the same relation twice");
}

#define FK(from, fcols, to, tcols) \
	"{'name': 'fk', 'from_schema': 'api', 'from_name': '" from "', 'from_cols': [" fcols "]," \
	" 'to_schema': 'api', 'to_name': '" to "', 'to_cols': [" tcols "], 'from_unique': false}"
#define ACOL "{'name': 'a', 'type': 'int', 'base_type': 'int', 'nullable': true, " \
	"'default': null, 'description': null, 'enum': null}"

static void test_bad_fkeys(void)
{
	bad(q(DOC(REL(ACOL), FK("t", "'a'", "nope", "'a'"), "")),
	    "fkeys[0]: relation api.nope is not in the cache", "fkey to an unknown relation");
	bad(q(DOC(REL(ACOL), FK("t", "'b'", "t", "'a'"), "")),
	    "fkeys[0]: \"b\" is not a column of api.t", "fkey from an unknown column");
	bad(q(DOC(REL(ACOL), FK("t", "'a'", "t", "'a', 'a'"), "")),
	    "\"from_cols\" and \"to_cols\" must be non-empty and of the same length",
	    "fkey column counts differ");
	bad(q(DOC(REL(ACOL), FK("t", "", "t", ""), "")), "must be non-empty", "fkey without columns");
	bad(q(DOC(REL(ACOL), "{'name': 'fk', 'from_schema': 'api', 'from_name': 't',"
		  " 'from_cols': ['a'], 'to_schema': 'api', 'to_name': 't', 'from_unique': false}", "")),
	    "fkeys[0]: \"to_cols\" is missing", "fkey without to_cols");
	bad(q(DOC(REL(ACOL), FK("t", "'a'", "t", "'a'") ", 3", "")), "\"fkeys\"[1] must be an object",
	    "fkey not an object");
}

#define FN(args, vol) \
	"{'schema': 'api', 'name': 'f', 'args': [" args "], 'return_type': 'int'," \
	" 'return_type_schema': null, 'return_type_name': null, 'returns_set': false," \
	" 'returns_composite': false, 'returns_void': false, 'volatility': '" vol "'," \
	" 'description': null}"

static void test_bad_functions(void)
{
	bad(q(DOC("", "", FN("", "x"))), "functions[0]: \"volatility\" must be one of the letters \"isv\"",
	    "unknown volatility");
	bad(q(DOC("", "", FN("", "vs"))), "\"volatility\" must be one of", "volatility too long");
	bad(q(DOC("", "", FN("{'name': 'a', 'type': 'int', 'mode': 'q', 'has_default': false}", "v"))),
	    "functions[0].args[0]: \"mode\" must be one of the letters \"iobvt\"", "unknown arg mode");
	bad(q(DOC("", "", FN("{'name': 'a', 'mode': 'i', 'has_default': false}", "v"))),
	    "functions[0].args[0]: \"type\" is missing", "arg without type");
	bad(q(DOC("", "", "{'schema': 'api', 'name': 'f'}")), "functions[0]: \"return_type\" is missing",
	    "function without return type");
	bad(q(DOC("", "", FN("", "v") ", " FN("7", "v"))), "functions[1]: \"args\"[0] must be an object",
	    "arg not an object");
}

int main(void)
{
	test_good();
	test_empty();
	test_many();
	test_malformed();
	test_missing();
	test_bad_fkeys();
	test_bad_functions();
	return done_testing();
}
