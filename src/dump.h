/*
 * dump.h — pg_rest --dump-schema: the schema cache as JSON.
 *
 * PostgREST has --dump-schema too; our layout is our own (see dump.c) and
 * stays stable: keys in a fixed order, relations and functions sorted, so
 * two dumps of the same database compare equal except for "load_ms".
 */
#ifndef PGR_DUMP_H
#define PGR_DUMP_H

#include <stdio.h>

#include "config.h"
#include "schema.h"

/* Write sc to out as one JSON document.  0, or -1 when writing failed. */
int schema_dump(FILE *out, const struct schema_cache *sc);

/*
 * The whole of --dump-schema: connect with cfg's db-uri (as the worker
 * does), load the cache for db-schemas and write it to out.  Returns the
 * exit status: 0, or 1 after printing the reason on stderr.
 */
int schema_dump_config(const struct config *cfg, FILE *out);

#endif
