/*
 * query.h — the URL query string as a plan: what to select, filter and order.
 *
 * The grammar is PostgREST's (src/PostgREST/ApiRequest/QueryParams.hs):
 *
 *   select=alias:col->json->>path::cast,*,rel(...)
 *   col=[not.]op[(any|all)].value      col=in.(a,"b,c")     col=is.null
 *   col=fts(english).term
 *   or=(a.eq.1,not.and(b.gt.2,c.is.null))     and=(...)     not.or=(...)
 *   order=a.desc.nullslast,b      limit=10      offset=20
 *
 * Parsing does no I/O and touches no catalog: names are checked against
 * the schema later, and every name and value is quoted or bound as a
 * parameter by sqlbuild.c.  All memory is from the request arena.
 */
#ifndef PGR_QUERY_H
#define PGR_QUERY_H

#include <stdbool.h>

#include "arena.h"
#include "response.h"

/* one step of a JSON path: ->key, ->>key, ->0, ->>-1 */
struct json_step {
	bool as_text;               /* ->> instead of -> */
	bool is_index;              /* key is an integer index */
	const char *key;
};

/* a column, possibly followed by a JSON path */
struct field {
	const char *name;
	struct json_step *path;
	int n_path;
};

enum select_kind {
	SEL_STAR,
	SEL_FIELD,
	SEL_RELATION,               /* rel(...) embedding (resolved later) */
	SEL_SPREAD,                 /* ...rel(...) */
	SEL_COUNT,                  /* count(): count(*) of the rows (aggregates) */
};

/* aggregate functions (db-aggregates-enabled): col.sum(), col.avg(), ... */
enum aggregate { AGG_NONE, AGG_SUM, AGG_AVG, AGG_MAX, AGG_MIN, AGG_COUNT };

struct select_item {
	enum select_kind kind;
	struct field field;         /* SEL_FIELD; for relations field.name = relation */
	const char *alias;          /* NULL = none */
	const char *cast;           /* NULL = none; letters, digits, '_' and ' ' only */
	enum aggregate agg;         /* SEL_FIELD: field[::cast].agg(); SEL_COUNT: AGG_COUNT */
	const char *agg_cast;       /* the aggregate's result cast: .sum()::int */
	const char *hint;           /* rel!hint */
	bool inner;                 /* rel!inner */
	struct select_item *children;   /* relations */
	int n_children;
};

enum filter_op {
	OP_EQ, OP_NEQ, OP_GT, OP_GTE, OP_LT, OP_LTE,
	OP_LIKE, OP_ILIKE, OP_MATCH, OP_IMATCH,
	OP_IN, OP_IS, OP_ISDISTINCT,
	OP_FTS, OP_PLFTS, OP_PHFTS, OP_WFTS,
	OP_CS, OP_CD, OP_OV, OP_SL, OP_SR, OP_NXR, OP_NXL, OP_ADJ,
};

enum quantifier { QUANT_NONE, QUANT_ANY, QUANT_ALL };

enum is_value { IS_NULL, IS_TRUE, IS_FALSE, IS_UNKNOWN };

struct filter {
	struct field field;
	bool negate;                /* not. */
	enum filter_op op;
	enum quantifier quant;      /* eq(any).{a,b} */
	const char *lang;           /* fts(lang) or NULL */
	const char *value;          /* single value (raw text) */
	const char **list;          /* in.(…) elements */
	int n_list;
	enum is_value is;           /* OP_IS */
};

/* and/or trees; a leaf holds one filter */
struct logic_node {
	bool is_leaf;
	bool negate;
	bool is_or;                 /* inner node: or (true) / and (false) */
	struct filter filter;       /* leaf */
	struct logic_node *children;
	int n_children;
};

struct order_term {
	struct field field;
	const char *relation;       /* order=rel(col) (resolved later), or NULL */
	bool desc;
	int nulls;                  /* 0 = default, 1 = nulls first, 2 = nulls last */
};

/* filters, order and ranges that apply to one level (root or an embed path) */
struct query_level {
	const char *path;           /* "" for the root, "actors" or "films.actors" */
	struct filter *filters;
	int n_filters;
	struct logic_node *logic;   /* and/or params, ANDed together */
	int n_logic;
	struct order_term *order;
	int n_order;
	long long limit;            /* -1 = none */
	long long offset;           /* 0 = none */
};

struct query {
	struct select_item *select; /* NULL when select= is absent (= *) */
	int n_select;
	struct query_level *levels; /* levels[0] is the root */
	int n_levels;
	const char **columns;       /* columns= (writes) */
	int n_columns;
	const char **on_conflict;
	int n_on_conflict;
	/* name=value params without an operator: RPC arguments */
	const char **arg_names;
	const char **arg_values;
	int n_args;
	const char *canonical;      /* params sorted by name, for Content-Location */
};

/*
 * Parse a raw query string (percent-encoded, '+' = space).  Returns 0, or
 * -1 with err set to PostgREST's PGRST100 error.
 */
int query_parse(const char *qs, struct arena *a, struct query *q, struct http_error *err);

/* Does the select tree use an aggregate function anywhere? */
bool query_has_aggregates(const struct query *q);

/* "sum", "avg", ...: the SQL function and the default output name */
const char *aggregate_name(enum aggregate agg);

/* The root level (always present after a successful parse). */
static inline struct query_level *query_root(struct query *q)
{
	return &q->levels[0];
}

/*
 * The Range request header ("0-9", "items=10-", any case of "items=")
 * narrows the root level's limit/offset to the intersection of the two
 * ranges, as PostgREST does.  An unparsable header (or NULL) is ignored.
 * Returns 0, or -1 with err set (416 PGRST103) when lower > upper.
 * The caller decides whether the method takes a Range (GET only).
 */
int query_apply_range(struct query_level *root, const char *range, struct http_error *err);

/* Append s percent-encoded (all but A-Z a-z 0-9 - _ . ~), as PostgREST does. */
void query_url_encode(struct sbuf *b, const char *s);

/* Decode %XX and '+' in place-independent fashion into the arena. */
char *query_decode(struct arena *a, const char *s, size_t n);

#endif
