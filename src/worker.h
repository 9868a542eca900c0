/*
 * worker.h — the state one worker process keeps between requests: its
 * configuration, its database connection, its schema cache, and what to
 * reload before the next request.
 */
#ifndef PGR_WORKER_H
#define PGR_WORKER_H

#include <stdbool.h>

#include "handler.h"

#define WANT_CONFIG 1u          /* re-read the configuration file */
#define WANT_SCHEMA 2u          /* reload the schema cache */

/* Load the configuration (warnings and errors go to the log). */
int worker_load_config(struct config *cfg, const char *path);

/* Set up w with an already loaded configuration; connects if it can. */
void worker_start(struct worker *w, struct config *cfg, const char *config_path);

/*
 * Between requests: apply what signals asked for (want) and what
 * NOTIFY <db-channel> said, and (re)load the schema cache when it is
 * missing, asked for, or the connection is new.  A failed reload keeps the
 * old configuration or cache and logs why.
 */
void worker_refresh(struct worker *w, unsigned want);

/*
 * For a worker started with no configuration at all (mod_fcgid from an
 * .htaccess: no FcgidInitialEnv, see main.c), called with every request:
 * the first request that names one (request_config_path()) starts the
 * worker with it; a later request that names another one switches to that
 * one.  Returns 0 when the request can be served, -1 after answering it
 * with a 503 JSON error (no usable configuration; the worker keeps
 * looking with the next request).  Workers configured at start return 0
 * at once.
 */
int worker_config_for_request(struct worker *w, FCGX_Request *req);

void worker_stop(struct worker *w);

#endif
