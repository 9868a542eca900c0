/*
 * schema.h — the schema cache: what the exposed schemas contain.
 *
 * Loaded at worker start in one introspection round trip (PostgreSQL
 * builds one JSON document, json-c reads it), reloaded on
 * NOTIFY <db-channel>, 'reload schema' and on SIGUSR1; requests never read
 * the catalog.  A failed reload keeps the old cache.
 *
 * Everything here is malloc'd and lives until schema_free(); requests only
 * read it.
 */
#ifndef PGR_SCHEMA_H
#define PGR_SCHEMA_H

#include <libpq-fe.h>
#include <stdbool.h>
#include <stddef.h>

#include "config.h"

struct sc_column {
	char *name;
	char *type;                 /* format_type(): "integer", "character varying(20)", "text[]" */
	char *base_type;            /* element/base type for arrays and domains: "integer", "text" */
	bool nullable;
	char *default_expr;         /* NULL: no default */
	bool is_pk;
	char *description;          /* COMMENT ON COLUMN, or NULL */
	char **enum_values;         /* for enum types, else NULL */
	int n_enum_values;
};

enum sc_kind {
	SC_TABLE,                   /* ordinary or partitioned table */
	SC_VIEW,                    /* view or materialized view */
	SC_FOREIGN,                 /* foreign table */
};

struct sc_relation {
	char *schema;
	char *name;
	enum sc_kind kind;
	bool insertable;            /* pg_relation_is_updatable() / INSTEAD OF triggers */
	bool updatable;
	bool deletable;
	struct sc_column *columns;  /* in attnum order */
	int n_columns;
	char **pk;                  /* primary key columns (for views: inferred from the base table) */
	int n_pk;
	char *description;          /* COMMENT ON TABLE, or NULL */
};

/*
 * A foreign key from one relation to another.  Foreign keys of tables are
 * also reported for views whose columns are those tables' key columns
 * (PostgreSQL can tell through the view's rewrite rule), so that embedding
 * works on views as PostgREST does.
 */
struct sc_fkey {
	char *name;                 /* constraint name */
	int from;                   /* index into relations[] */
	int to;
	char **from_cols;           /* n_cols each, pairwise */
	char **to_cols;
	int n_cols;
	bool from_unique;           /* from_cols are the PK or a unique key of from: one-to-one */
};

struct sc_arg {
	char *name;                 /* "" for an unnamed argument */
	char *type;                 /* format_type() */
	bool has_default;
	bool variadic;
	char mode;                  /* 'i' in, 'o' out, 'b' inout, 'v' variadic, 't' table */
};

struct sc_function {
	char *schema;
	char *name;
	struct sc_arg *args;        /* all arguments, in order */
	int n_args;
	char *return_type;          /* format_type() of the return type */
	char *return_type_schema;   /* for composite returns: the relation's schema */
	char *return_type_name;     /* and its name, else NULL */
	bool returns_set;
	bool rows_one;              /* SETOF with ROWS 1: at most one row (PostgREST: to-one) */
	bool returns_composite;     /* a table row type or composite type (incl. RETURNS TABLE) */
	bool returns_void;
	char volatility;            /* 'i' immutable, 's' stable, 'v' volatile */
	char *row_schema;           /* the only argument is this relation's row: */
	char *row_name;             /* a computed field of it; else NULL */
	char *description;
	char *handler;              /* returns a domain named like a media type ("text/html"), or NULL */
	bool handler_binary;        /* that domain is over bytea */
	char **settings;            /* SET clauses, "name=value" */
	int n_settings;
};

struct schema_cache {
	struct sc_relation *relations;
	int n_relations;
	struct sc_fkey *fkeys;
	int n_fkeys;
	struct sc_function *functions;
	int n_functions;
	double load_ms;             /* how long the last load took */

	/* lookup index: (schema, name) -> relation, open addressing */
	int *rel_index;
	int rel_index_size;
};

/*
 * Load the cache for cfg's db-schemas over conn (outside any transaction,
 * as the authenticator).  Returns NULL with a message in err on failure.
 */
struct schema_cache *schema_load(PGconn *conn, const struct config *cfg, char *err, size_t errlen);
void schema_free(struct schema_cache *sc);

/*
 * The JSON -> structs half of schema_load(), on its own so that the unit
 * tests can feed it hand-written documents (layout: the query in schema.c;
 * a --dump-schema dump reads back too).  Checks types and that foreign
 * keys and primary keys name relations and columns that exist; returns
 * NULL with a message naming the offending element in err otherwise.
 * load_ms is left 0.
 */
struct schema_cache *schema_from_json(const char *json, char *err, size_t errlen);

/*
 * The computed field name of rel: a function in rel's schema whose only
 * argument is rel's row type and that returns one value, or NULL.
 */
const struct sc_function *schema_computed_field(const struct schema_cache *sc,
						 const struct sc_relation *rel, const char *name);

/* The relation schema.name, or NULL. */
const struct sc_relation *schema_relation(const struct schema_cache *sc, const char *schema,
					  const char *name);
int schema_relation_index(const struct schema_cache *sc, const char *schema, const char *name);
/* The column of rel named name, or NULL. */
const struct sc_column *schema_column(const struct sc_relation *rel, const char *name);
/* Functions named schema.name (overloads are consecutive): first index and count. */
int schema_functions(const struct schema_cache *sc, const char *schema, const char *name,
		     int *count);

#endif
