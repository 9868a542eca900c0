/*
 * sqlbuild.h — a plan (struct query) to parameterised SQL.
 *
 * Identifiers are always double-quoted here; every value from the URL,
 * header or body becomes a $n parameter sent separately from the SQL text
 * (no user text is ever spliced into SQL).  The only URL text that reaches
 * SQL unquoted is a cast's type name, which the parser restricts to
 * letters, digits, '_' and ' '.  Like query.c this file does no I/O.
 */
#ifndef PGR_SQLBUILD_H
#define PGR_SQLBUILD_H

#include <stdbool.h>

#include "arena.h"
#include "media.h"
#include "query.h"
#include "response.h"
#include "schema.h"

struct sql {
	struct sbuf text;
	const char **values;        /* $1 = values[0] */
	int n_values;
	int cap;
};

void sql_init(struct sql *s, struct arena *a);
/* Add a parameter and append "$n" to the text. */
void sql_add_param(struct sql *s, const char *value);
/* Add a parameter and append "$n" to another buffer (a piece of the text). */
void sql_param(struct sql *s, struct sbuf *into, const char *value);
/* PostgreSQL array literal with every element quoted: {"a","b\"c"} */
const char *sql_array_literal(struct arena *a, const char *const *items, int n);
/* Append name as a quoted identifier. */
void sql_ident(struct sbuf *b, const char *name);
/* Append "schema"."name" (schema may be NULL). */
void sql_qualified(struct sbuf *b, const char *schema, const char *name);

enum count_kind {
	COUNT_NONE,
	COUNT_EXACT,                /* count(*) of the filtered rows */
	COUNT_PLANNED,              /* the planner's estimate (EXPLAIN) */
	COUNT_ESTIMATED,            /* exact up to db-max-rows, planned above */
};

struct read_spec {
	const char *schema;
	const char *relation;
	/*
	 * Rows that take the place of the relation: a function call (RPC) or
	 * what a write returned.  from_sql is the FROM item with its alias,
	 * from_qual how its columns are named, from_rel the relation whose
	 * columns it has (for checks, * and embedding; -1 when none).
	 * prefiltered: a write's rows, already filtered by the write itself.
	 */
	const char *from_sql;
	const char *from_qual;
	int from_rel;
	bool prefiltered;
	bool scalar;                /* the rows are one column "pgrst_scalar": bare values */
	bool returns_set;           /* with scalar: an array of values, else one value */
	bool single_row;            /* a non-SETOF composite result: an object, not an array */
	bool returns_void;          /* a void function: 204, no body */
	const struct schema_cache *sc;  /* for embedding; NULL = none loaded */
	long long max_rows;         /* db-max-rows, -1 = none */
	bool head;                  /* HEAD: no body needed */
	enum media_type media;      /* shape of the body */
	enum count_kind count;
	const char *handler_type;   /* a media type handler's value is the body (scalar) */
	bool handler_binary;        /* over bytea: the body comes as bytea text output */
};

/*
 * Build the main statement of a GET/HEAD on a table or view.  The result
 * has one row: total_result_set (bigint or NULL; for COUNT_ESTIMATED the
 * count capped at db-max-rows + 1), page_total, body (text or NULL),
 * response_headers, response_status.
 */
int sqlbuild_read(struct sql *s, const struct query *q, const struct read_spec *spec,
		  struct http_error *err);

enum write_kind { WRITE_INSERT, WRITE_UPDATE, WRITE_DELETE };
enum conflict_action { CONFLICT_NONE, CONFLICT_MERGE, CONFLICT_IGNORE };

struct write_spec {
	enum write_kind kind;
	const char *body_json;      /* the payload as JSON text (INSERT/UPDATE) */
	const char *const *columns; /* the columns written */
	int n_columns;
	bool missing_default;       /* Prefer: missing=default */
	enum conflict_action conflict;
	const char *const *conflict_cols;   /* ON CONFLICT (...) */
	int n_conflict_cols;
	bool representation;        /* return=representation: body from the returned rows */
	bool want_location;         /* return=headers-only: primary key of the first row */
	bool want_inserted;         /* upserts: how many rows were inserted (201 vs 200) */
};

/*
 * Build a write: the mutation as a CTE, then one row like a read's
 * (total_result_set, page_total = affected rows, body, response_headers,
 * response_status) plus location (JSON object of the first row's primary
 * key, or NULL) and inserted (rows inserted, or NULL).  rs carries the
 * relation, cache, media and (for the representation) embedding.
 */
int sqlbuild_write(struct sql *s, const struct query *q, const struct read_spec *rs,
		   const struct write_spec *ws, struct http_error *err);

/*
 * EXPLAIN (FORMAT JSON) of the rows a read would count, for
 * Prefer: count=planned|estimated.  The first row's "Plan Rows" is the
 * planner's estimate.
 */
int sqlbuild_count_plan(struct sql *s, const struct query *q, const struct read_spec *spec,
			struct http_error *err);

/* Effective LIMIT of the root level after db-max-rows, -1 = none. */
long long sqlbuild_root_limit(const struct query *q, long long max_rows);

/*
 * The per-request settings statement (fixed text, so it is prepared once).
 * Parameters: $1 search_path, $2 role, $3 claims json, $4 method, $5 path,
 * $6 headers json, $7 cookies json, $8 'true'/'false' legacy claim GUCs,
 * $9 and $10 app.settings names and values (text[] literals).
 */
extern const char SQL_TX_SETTINGS[];
#define SQL_TX_SETTINGS_NPARAMS 10

/* The same without the app.settings.* part ($9, $10): no such keys configured. */
extern const char SQL_TX_SETTINGS_NO_APP[];
#define SQL_TX_SETTINGS_NO_APP_NPARAMS 8
extern const char SQL_HOISTED_SETTINGS[];

/* SELECT "schema"."fn"() for db-pre-request. */
char *sqlbuild_pre_request(struct arena *a, const char *schema, const char *name);

#endif
