/*
 * db.h — the worker's one connection to PostgreSQL.
 *
 * Each worker holds exactly one libpq connection as the authenticator
 * role.  A request runs as one transaction sent in one round trip: BEGIN,
 * the settings statement, db-pre-request, the main statement and COMMIT
 * are queued in libpq pipeline mode and flushed together with one Sync.
 * Statements are prepared once per connection and reused (named prepared
 * statements keyed by their text), unless db-prepared-statements is off.
 */
#ifndef PGR_DB_H
#define PGR_DB_H

#include <libpq-fe.h>
#include <stdbool.h>
#include <time.h>

#include "config.h"
#include "response.h"

struct stmt_cache;

struct db {
	PGconn *conn;
	const struct config *cfg;
	bool replica;               /* connects to db-replica-uri: no LISTEN, "replica" in the log */
	struct stmt_cache *cache;
	time_t last_attempt;        /* last connection attempt */
	int failures;               /* consecutive failed attempts, for backoff */
	double retry_at;            /* monotonic seconds: no new attempt before this */
	char last_error[256];       /* why the last connection attempt failed */
	unsigned long connections;  /* successful connects so far */
	bool connecting;            /* conn is a db_ensure_nowait() attempt in progress */
	double connect_deadline;    /* monotonic seconds: that attempt gives up then */
	PostgresPollingStatusType connect_want;  /* what PQconnectPoll() last asked for */
};

struct db_stmt {
	const char *sql;
	int nparams;
	const char *const *values;
};

void db_init(struct db *db, const struct config *cfg);
/* The same for the connection to db-replica-uri (replica.c). */
void db_init_replica(struct db *db, const struct config *cfg);
void db_close(struct db *db);

/*
 * Make sure the connection is up.  Reconnects when it is down, but not
 * more often than the backoff allows; returns false (err = 503 PGRST000)
 * when there is no connection to use for this request.
 */
bool db_ensure(struct db *db, struct http_error *err, struct arena *a);

/*
 * The same without waiting on the network, for the replica (reads have
 * the primary to go to): starts a non-blocking connection attempt, or
 * drives one already started, for at most about 20 ms, and returns true
 * once the connection is up.  Backoff, connect_timeout and failures are
 * as for db_ensure().
 */
bool db_ensure_nowait(struct db *db);

enum tx_end {
	TX_END_COMMIT,
	TX_END_ROLLBACK,
	TX_END_LATER,               /* leave the transaction open: db_finish() decides */
};

/*
 * Run stmts inside BEGIN … COMMIT in one round trip.  On success returns
 * true and out[i] holds the rows of stmts[i] (NULL for statements that
 * return none); the caller PQclear()s them.  On failure returns false
 * with err filled from the first error (status mapped with
 * pg_error_status(), as_anon for 42501) and the transaction rolled back.
 * end says how the transaction ends; with TX_END_LATER the caller looks
 * at the results first and then calls db_finish() (a second round trip,
 * only for writes whose outcome decides: max-affected, singular object).
 * A named statement of this worker that the server connection does not
 * have (26000) or has already (42P05) means a transaction pooler hands
 * the worker other server connections: that is answered 500 with a
 * message naming db-prepared-statements = false and PgBouncer, and the
 * statement cache is emptied so the next request prepares afresh.
 */
bool db_run(struct db *db, bool read_only, enum tx_end end,
	    const struct db_stmt *stmts, int n, PGresult **out,
	    bool as_anon, struct http_error *err, struct arena *a);

/* Commit or roll back a transaction left open by TX_END_LATER. */
bool db_finish(struct db *db, bool commit, bool as_anon, struct http_error *err,
	       struct arena *a);

/*
 * Read NOTIFY messages on db-channel that arrived since the last call,
 * without waiting.  Returns WANT_* bits (worker.h): 'reload schema',
 * 'reload config', or both for an empty payload, as PostgREST does.
 */
unsigned db_notifications(struct db *db);

#endif
