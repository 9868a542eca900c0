/*
 * replica.h — which connection a read goes to: the hot standby named by
 * db-replica-uri, or the primary.
 *
 * A worker with db-replica-uri keeps a second connection there (a second
 * struct db: same reconnect and backoff) and sends it the GET and HEAD
 * requests on tables, views and functions, which run READ ONLY anyway.
 * Everything else, the schema cache and NOTIFY stay on the primary.  When
 * the standby cannot be reached or replays more than db-replica-max-lag
 * seconds behind, reads go to the primary until it is back; each change
 * of mind is logged once.
 */
#ifndef PGR_REPLICA_H
#define PGR_REPLICA_H

#include <stdbool.h>

#include "config.h"
#include "db.h"

enum replica_state {
	REPLICA_UNKNOWN,            /* not tried yet: no log line for the first verdict if good */
	REPLICA_USABLE,
	REPLICA_DOWN,               /* no connection */
	REPLICA_LAGGING,            /* replays more than db-replica-max-lag behind */
};

struct replica {
	bool configured;            /* db-replica-uri is set */
	struct db db;
	enum replica_state state;
	double checked_at;          /* monotonic seconds of the last lag check */
	unsigned long checked_conn; /* db.connections at that check */
};

void replica_init(struct replica *r, const struct config *cfg);
void replica_close(struct replica *r);

/* A new configuration: reconnects when db-replica-uri changed. */
void replica_reconfigure(struct replica *r, const struct config *cfg);

/*
 * The connection for a read: the replica when one is configured, connected
 * and not lagging (the lag is asked at most once a second), else primary.
 * Never fails: reads always have the primary to go to.
 */
struct db *replica_for_read(struct replica *r, struct db *primary);

/*
 * A read on the replica failed with err: true when it should run again on
 * the primary: the standby went away (it is then marked down and the
 * change logged), recovery cancelled the query, or the standby lacks a
 * table, column or function that the schema cache has (DDL not replayed
 * yet).
 */
bool replica_failed(struct replica *r, const struct http_error *err);

#endif
