/*
 * handler.h — one request from params to response.
 *
 * The stages, each in its own file: request.c (FastCGI params), auth.c
 * (who runs it), query.c (URL to plan), sqlbuild.c (plan to SQL), db.c
 * (one round trip), response.c (status, headers, body).  This file only
 * routes between them.
 */
#ifndef PGR_HANDLER_H
#define PGR_HANDLER_H

#include <fcgiapp.h>
#include <time.h>

#include "arena.h"
#include "config.h"
#include "db.h"
#include "replica.h"
#include "schema.h"

struct worker {
	struct config *cfg;
	struct db db;                   /* the primary (db-uri) */
	struct replica replica;         /* db-replica-uri, for GET/HEAD reads */
	struct schema_cache *schema;    /* NULL until loaded */
	unsigned long schema_conn;      /* db.connections when it was loaded */
	bool schema_stale;              /* reload asked for */
	time_t schema_attempt;          /* last load attempt, to retry at most once a second */
	const char *config_path;        /* for reloads; NULL = environment only */
	bool config_from_request;       /* config_path came with a request (.htaccess); owned */
	char *db_settings;              /* in-database settings applied (dbsettings signature), NULL = none yet */
	struct arena arena;         /* reset after every request */
	unsigned long requests;     /* served so far */
};

void handle_request(struct worker *w, FCGX_Request *fr);

#endif
