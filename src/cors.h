/*
 * cors.h — CORS headers and preflight answers, as PostgREST v12 gives
 * them (see cors.c for the rules).
 */
#ifndef PGR_CORS_H
#define PGR_CORS_H

#include "arena.h"
#include "config.h"
#include "request.h"
#include "response.h"

/*
 * Called before routing.  For a request with an allowed Origin, adds the
 * CORS headers to resp; a preflight is answered at once.  Returns 1 when
 * the request has been answered (a preflight), 0 to go on routing.
 */
int cors_begin(const struct config *cfg, const struct request *req, struct response *resp,
	       struct arena *a);

#endif
