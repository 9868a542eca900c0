/*
 * embed.h — relationships between relations, for resource embedding.
 *
 * From the foreign keys in the schema cache, a relation has these
 * relationships (PostgREST's cardinalities):
 *   many-to-one   its foreign key points at the target
 *   one-to-many   the target's foreign key points at it
 *   one-to-one    either of those where the foreign key columns are unique
 *   many-to-many  through a junction table whose primary key holds the
 *                 columns of two foreign keys, one to each side
 * and, from the functions, computed relationships: f(origin_row) returning
 * SETOF target (one-to-many) or target (many-to-one), embedded by the
 * function's name; a computed relationship that matches wins over the
 * foreign keys, as PostgREST lets one override a detected relationship.
 * embed_find() picks the one a select item names, by PostgREST's rules
 * (Plan.hs findRel): the target relation's name, a foreign key constraint
 * name or column, and an optional !hint; none is PGRST200, several is
 * PGRST201 with the candidates in details.
 */
#ifndef PGR_EMBED_H
#define PGR_EMBED_H

#include <stdbool.h>

#include "arena.h"
#include "response.h"
#include "schema.h"

enum cardinality { CARD_M2O, CARD_O2M, CARD_O2O, CARD_M2M };

struct relationship {
	enum cardinality card;
	int origin;                 /* relation index of the parent */
	int target;                 /* relation index of the embedded side */
	const struct sc_fkey *fk;   /* M2O / O2M / O2O */
	bool fk_from_origin;        /* fk goes origin -> target (else target -> origin) */
	int junction;               /* M2M: relation index of the junction */
	const struct sc_fkey *fk1;  /* M2M: junction -> origin */
	const struct sc_fkey *fk2;  /* M2M: junction -> target */
	const struct sc_function *computed;  /* a computed relationship: f(origin row) */
};

static inline bool rel_is_to_one(const struct relationship *r)
{
	return r->card == CARD_M2O || r->card == CARD_O2O;
}

/*
 * Find the relationship from relation `origin` to the embed named target
 * (with optional hint).  Returns 0, or -1 with err set (PGRST200 /
 * PGRST201).
 */
int embed_find(const struct schema_cache *sc, int origin, const char *target,
	       const char *hint, struct relationship *out, struct arena *a,
	       struct http_error *err);

#endif
