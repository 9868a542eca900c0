/*
 * dump.c — pg_rest --dump-schema: the schema cache as JSON.
 *
 * input:  a loaded struct schema_cache, or a configuration to load it with
 * output: one JSON document on a stdio stream
 *
 * Layout (keys always present, in this order; null where schema.h has
 * NULL; one column, foreign key or function per line so that diffs read
 * well):
 *
 *   { "load_ms": 12.345,
 *     "relations": [ { "schema", "name", "kind": "table|view|foreign",
 *                      "insertable", "updatable", "deletable",
 *                      "description", "pk": [names],
 *                      "columns": [ { "name", "type", "base_type", "nullable",
 *                                     "default", "is_pk", "description",
 *                                     "enum": [labels] or null } ] } ],
 *     "fkeys": [ { "name", "from_schema", "from_name", "from_cols",
 *                  "to_schema", "to_name", "to_cols", "from_unique" } ],
 *     "functions": [ { "schema", "name",
 *                      "args": [ { "name", "type", "mode", "has_default",
 *                                  "variadic" } ],
 *                      "return_type", "return_type_schema", "return_type_name",
 *                      "returns_set", "rows_one", "returns_composite", "returns_void",
 *                      "volatility", "row_schema", "row_name", "handler",
 *                      "handler_binary", "settings",
 *                      "description" } ] }
 *
 * It is a superset of the document the introspection query returns, so
 * schema_from_json() reads a dump back (the unit tests rely on that).
 */
#include "dump.h"

#include <string.h>

#include "arena.h"
#include "db.h"
#include "json.h"

static void put_bool(struct sbuf *b, const char *key, bool v)
{
	sbuf_printf(b, "\"%s\": %s", key, v ? "true" : "false");
}

static void put_str(struct sbuf *b, const char *key, const char *v)
{
	sbuf_printf(b, "\"%s\": ", key);
	json_put_string(b, v);
}

/* a one-letter code as a string ("i", "v" …) */
static void put_code(struct sbuf *b, const char *key, char v)
{
	char s[2] = { v, '\0' };

	put_str(b, key, s);
}

static void put_strings(struct sbuf *b, const char *key, char *const *v, int n)
{
	sbuf_printf(b, "\"%s\": [", key);
	for (int i = 0; i < n; i++) {
		if (i > 0)
			sbuf_puts(b, ", ");
		json_put_string(b, v[i]);
	}
	sbuf_putc(b, ']');
}

static void put_column(struct sbuf *b, const struct sc_column *c)
{
	sbuf_puts(b, "{");
	put_str(b, "name", c->name);
	sbuf_puts(b, ", ");
	put_str(b, "type", c->type);
	sbuf_puts(b, ", ");
	put_str(b, "base_type", c->base_type);
	sbuf_puts(b, ", ");
	put_bool(b, "nullable", c->nullable);
	sbuf_puts(b, ", ");
	put_str(b, "default", c->default_expr);
	sbuf_puts(b, ", ");
	put_bool(b, "is_pk", c->is_pk);
	sbuf_puts(b, ", ");
	put_str(b, "description", c->description);
	sbuf_puts(b, ", ");
	if (c->enum_values != NULL)
		put_strings(b, "enum", c->enum_values, c->n_enum_values);
	else
		sbuf_puts(b, "\"enum\": null");
	sbuf_puts(b, "}");
}

static const char *kind_word(enum sc_kind k)
{
	switch (k) {
	case SC_TABLE: return "table";
	case SC_VIEW: return "view";
	case SC_FOREIGN: return "foreign";
	}
	return "table";
}

static void put_relation(struct sbuf *b, const struct sc_relation *r)
{
	sbuf_puts(b, "    {\n      ");
	put_str(b, "schema", r->schema);
	sbuf_puts(b, ",\n      ");
	put_str(b, "name", r->name);
	sbuf_puts(b, ",\n      ");
	put_str(b, "kind", kind_word(r->kind));
	sbuf_puts(b, ",\n      ");
	put_bool(b, "insertable", r->insertable);
	sbuf_puts(b, ",\n      ");
	put_bool(b, "updatable", r->updatable);
	sbuf_puts(b, ",\n      ");
	put_bool(b, "deletable", r->deletable);
	sbuf_puts(b, ",\n      ");
	put_str(b, "description", r->description);
	sbuf_puts(b, ",\n      ");
	put_strings(b, "pk", r->pk, r->n_pk);
	sbuf_puts(b, ",\n      \"columns\": [");
	for (int i = 0; i < r->n_columns; i++) {
		sbuf_puts(b, i > 0 ? ",\n        " : "\n        ");
		put_column(b, &r->columns[i]);
	}
	sbuf_puts(b, r->n_columns > 0 ? "\n      ]\n    }" : "]\n    }");
}

static void put_fkey(struct sbuf *b, const struct schema_cache *sc, const struct sc_fkey *f)
{
	const struct sc_relation *from = &sc->relations[f->from], *to = &sc->relations[f->to];

	sbuf_puts(b, "    {");
	put_str(b, "name", f->name);
	sbuf_puts(b, ", ");
	put_str(b, "from_schema", from->schema);
	sbuf_puts(b, ", ");
	put_str(b, "from_name", from->name);
	sbuf_puts(b, ", ");
	put_strings(b, "from_cols", f->from_cols, f->n_cols);
	sbuf_puts(b, ", ");
	put_str(b, "to_schema", to->schema);
	sbuf_puts(b, ", ");
	put_str(b, "to_name", to->name);
	sbuf_puts(b, ", ");
	put_strings(b, "to_cols", f->to_cols, f->n_cols);
	sbuf_puts(b, ", ");
	put_bool(b, "from_unique", f->from_unique);
	sbuf_puts(b, "}");
}

static void put_arg(struct sbuf *b, const struct sc_arg *a)
{
	sbuf_puts(b, "{");
	put_str(b, "name", a->name);
	sbuf_puts(b, ", ");
	put_str(b, "type", a->type);
	sbuf_puts(b, ", ");
	put_code(b, "mode", a->mode);
	sbuf_puts(b, ", ");
	put_bool(b, "has_default", a->has_default);
	sbuf_puts(b, ", ");
	put_bool(b, "variadic", a->variadic);
	sbuf_puts(b, "}");
}

static void put_function(struct sbuf *b, const struct sc_function *f)
{
	sbuf_puts(b, "    {");
	put_str(b, "schema", f->schema);
	sbuf_puts(b, ", ");
	put_str(b, "name", f->name);
	sbuf_puts(b, ", \"args\": [");
	for (int i = 0; i < f->n_args; i++) {
		if (i > 0)
			sbuf_puts(b, ", ");
		put_arg(b, &f->args[i]);
	}
	sbuf_puts(b, "], ");
	put_str(b, "return_type", f->return_type);
	sbuf_puts(b, ", ");
	put_str(b, "return_type_schema", f->return_type_schema);
	sbuf_puts(b, ", ");
	put_str(b, "return_type_name", f->return_type_name);
	sbuf_puts(b, ", ");
	put_bool(b, "returns_set", f->returns_set);
	sbuf_puts(b, ", ");
	put_bool(b, "rows_one", f->rows_one);
	sbuf_puts(b, ", ");
	put_bool(b, "returns_composite", f->returns_composite);
	sbuf_puts(b, ", ");
	put_bool(b, "returns_void", f->returns_void);
	sbuf_puts(b, ", ");
	put_code(b, "volatility", f->volatility);
	sbuf_puts(b, ", ");
	put_str(b, "row_schema", f->row_schema);
	sbuf_puts(b, ", ");
	put_str(b, "row_name", f->row_name);
	sbuf_puts(b, ", ");
	put_str(b, "handler", f->handler);
	sbuf_puts(b, ", ");
	put_bool(b, "handler_binary", f->handler_binary);
	sbuf_puts(b, ", ");
	put_strings(b, "settings", f->settings, f->n_settings);
	sbuf_puts(b, ", ");
	put_str(b, "description", f->description);
	sbuf_puts(b, "}");
}

/* "[" items "]" with one item per line, or "[]" */
static void put_list_end(struct sbuf *b, int n, const char *after)
{
	sbuf_puts(b, n > 0 ? "\n  ]" : "]");
	sbuf_puts(b, after);
}

int schema_dump(FILE *out, const struct schema_cache *sc)
{
	struct arena a;
	struct sbuf b;
	int rc = 0;

	arena_init(&a);
	sbuf_init(&b, &a, 64 * 1024);
	sbuf_printf(&b, "{\n  \"load_ms\": %.3f,\n  \"relations\": [", sc->load_ms);
	for (int i = 0; i < sc->n_relations; i++) {
		sbuf_puts(&b, i > 0 ? ",\n" : "\n");
		put_relation(&b, &sc->relations[i]);
	}
	put_list_end(&b, sc->n_relations, ",\n  \"fkeys\": [");
	for (int i = 0; i < sc->n_fkeys; i++) {
		sbuf_puts(&b, i > 0 ? ",\n" : "\n");
		put_fkey(&b, sc, &sc->fkeys[i]);
	}
	put_list_end(&b, sc->n_fkeys, ",\n  \"functions\": [");
	for (int i = 0; i < sc->n_functions; i++) {
		sbuf_puts(&b, i > 0 ? ",\n" : "\n");
		put_function(&b, &sc->functions[i]);
	}
	put_list_end(&b, sc->n_functions, "\n}\n");
	if (fwrite(b.data, 1, b.len, out) != b.len || fflush(out) != 0)
		rc = -1;
	arena_destroy(&a);
	return rc;
}

int schema_dump_config(const struct config *cfg, FILE *out)
{
	struct arena a;
	struct db db;
	struct http_error herr;
	struct schema_cache *sc;
	char err[1024];
	int rc = 1;

	arena_init(&a);
	db_init(&db, cfg);
	if (!db_ensure(&db, &herr, &a)) {
		fprintf(stderr, "pg_rest: --dump-schema: could not connect to the database: %s\n",
			db.last_error);
	} else if ((sc = schema_load(db.conn, cfg, err, sizeof(err))) == NULL) {
		fprintf(stderr, "pg_rest: --dump-schema: %s\n", err);
	} else {
		if (schema_dump(out, sc) == 0)
			rc = 0;
		else
			fprintf(stderr, "pg_rest: --dump-schema: could not write the dump\n");
		schema_free(sc);
	}
	db_close(&db);
	arena_destroy(&a);
	return rc;
}
