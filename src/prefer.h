/*
 * prefer.h — the Prefer request header (RFC 7240) as PostgREST reads it.
 */
#ifndef PGR_PREFER_H
#define PGR_PREFER_H

#include <stdbool.h>

#include "arena.h"
#include "sqlbuild.h"

enum prefer_return { RETURN_UNSET, RETURN_MINIMAL, RETURN_HEADERS_ONLY, RETURN_REPRESENTATION };
enum prefer_resolution { RESOLUTION_UNSET, RESOLUTION_MERGE, RESOLUTION_IGNORE };
enum prefer_missing { MISSING_UNSET, MISSING_DEFAULT, MISSING_NULL };
enum prefer_tx { TX_UNSET, TX_COMMIT, TX_ROLLBACK };

struct prefer {
	enum prefer_return ret;
	enum count_kind count;      /* COUNT_NONE when not asked */
	enum prefer_resolution resolution;
	enum prefer_missing missing;
	enum prefer_tx tx;
	bool strict;                /* handling=strict */
	bool lenient;               /* handling=lenient (said explicitly) */
	bool single_object;         /* params=single-object */
	bool read_primary;          /* pg_rest's read-primary: not on db-replica-uri */
	const char *timezone;       /* timezone=..., or NULL */
	long long max_affected;     /* -1 = not given */
	const char *invalid;        /* preferences not understood, ", "-joined, or NULL */
};

/* Parse all Prefer values (already joined with ", "). */
void prefer_parse(const char *header, struct prefer *p, struct arena *a);

#endif
