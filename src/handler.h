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

#include "arena.h"
#include "config.h"
#include "db.h"

struct worker {
	struct config *cfg;
	struct db db;
	struct arena arena;         /* reset after every request */
	unsigned long requests;     /* served so far */
};

void handle_request(struct worker *w, FCGX_Request *fr);

#endif
