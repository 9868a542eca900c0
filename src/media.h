/*
 * media.h — content negotiation: which representation the Accept header
 * asks for.
 */
#ifndef PGR_MEDIA_H
#define PGR_MEDIA_H

#include <stdbool.h>

#include "arena.h"

enum media_type {
	MEDIA_NONE = 0,             /* nothing acceptable */
	MEDIA_JSON,                 /* application/json */
	MEDIA_OBJECT,               /* application/vnd.pgrst.object+json: one row as an object */
	MEDIA_OBJECT_STRIPPED,      /* the same with ;nulls=stripped */
	MEDIA_ARRAY_STRIPPED,       /* application/vnd.pgrst.array+json;nulls=stripped */
	MEDIA_CSV,                  /* text/csv */
	MEDIA_PLAN_TEXT,            /* application/vnd.pgrst.plan[+text]: EXPLAIN output (db-plan-enabled) */
	MEDIA_PLAN_JSON,            /* application/vnd.pgrst.plan+json */
	MEDIA_OPENAPI,              /* application/openapi+json: GET / */
};

#define MEDIA_PLANS (MEDIA_BIT(MEDIA_PLAN_TEXT) | MEDIA_BIT(MEDIA_PLAN_JSON))

/* bit set of what a route can produce */
#define MEDIA_BIT(m) (1u << (m))
#define MEDIA_READS (MEDIA_BIT(MEDIA_JSON) | MEDIA_BIT(MEDIA_OBJECT) | \
		     MEDIA_BIT(MEDIA_OBJECT_STRIPPED) | MEDIA_BIT(MEDIA_ARRAY_STRIPPED) | \
		     MEDIA_BIT(MEDIA_CSV))
/* GET /: the OpenAPI document, asked for by its own type or as JSON */
#define MEDIA_ROOT (MEDIA_BIT(MEDIA_JSON) | MEDIA_BIT(MEDIA_OPENAPI))

static inline int media_is_object(int m)
{
	return m == MEDIA_OBJECT || m == MEDIA_OBJECT_STRIPPED;
}

/*
 * The best of the allowed types for an Accept header (NULL or "" means
 * anything, i.e. JSON).  Entries are tried by q-value, then in the order
 * given, as PostgREST does; q=0 excludes.  MEDIA_NONE when nothing fits.
 */
enum media_type media_negotiate(const char *accept, unsigned allowed);

/*
 * EXPLAIN options asked for with the plan media type's options=…
 * parameter (analyze|verbose|settings|buffers|wal, '|'-separated): a
 * string like ", ANALYZE, VERBOSE" to append inside EXPLAIN (…).
 */
const char *media_plan_options(const char *accept);

/* Content-Type value for a media type (with charset). */
const char *media_content_type(enum media_type m);

/*
 * Does Accept ask for what a media type handler (a domain named like
 * handler, "text/html" or "*" "/" "*") produces?  *content_type: what to
 * answer with.
 */
bool media_handler_accepts(const char *accept, const char *handler, struct arena *a,
			   const char **content_type);

#endif
