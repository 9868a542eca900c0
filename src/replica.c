/*
 * replica.c — send reads to a hot standby while it keeps up.
 *
 * input: the request's wish (a GET or HEAD, no Prefer: read-primary) and
 * what the standby says about itself; output: the struct db to run the
 * read on.  The standby's connection is a struct db like the primary's,
 * with the same reconnect backoff, but connected without blocking
 * (db_ensure_nowait()): a read never waits for the standby, it has the
 * primary.  Failures are logged here, once per change (db.c stays quiet
 * about the replica), so an outage of the standby is one line, not one
 * per request.
 *
 * How far behind: now() - pg_last_xact_replay_timestamp() on the standby.
 * That timestamp stops when the primary is idle, so a standby that has
 * replayed everything it received (replay LSN >= receive LSN: after a
 * restart it may have replayed local WAL beyond where streaming resumed),
 * with a WAL receiver running, counts as not lagging whatever the
 * timestamp says.
 * A standby that is not in recovery (promoted, or the URI names a
 * primary) never lags.  The question costs one round trip, asked at most
 * once a second by each worker, never per request.
 */
#include "replica.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "log.h"

#define CHECK_INTERVAL 1.0      /* seconds between lag checks */

static const char lag_query[] =
	"SELECT pg_catalog.pg_is_in_recovery(),"
	" COALESCE(pg_catalog.pg_last_wal_replay_lsn() >= pg_catalog.pg_last_wal_receive_lsn()"
	"  AND EXISTS (SELECT FROM pg_catalog.pg_stat_wal_receiver), false),"
	" pg_catalog.date_part('epoch', pg_catalog.now() - pg_catalog.pg_last_xact_replay_timestamp())";

static double monotonic_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

void replica_init(struct replica *r, const struct config *cfg)
{
	memset(r, 0, sizeof(*r));
	r->configured = cfg->db_replica_uri != NULL;
	db_init_replica(&r->db, cfg);
}

void replica_close(struct replica *r)
{
	db_close(&r->db);
	r->configured = false;
}

void replica_reconfigure(struct replica *r, const struct config *cfg)
{
	const char *old = r->db.cfg->db_replica_uri;

	if (strcmp(old ? old : "", cfg->db_replica_uri ? cfg->db_replica_uri : "") == 0) {
		r->db.cfg = cfg;
		return;
	}
	replica_close(r);
	replica_init(r, cfg);
}

/* Log a change of where reads go; reason says why they leave the replica. */
static void set_state(struct replica *r, enum replica_state to, const char *reason)
{
	enum replica_state from = r->state;

	r->state = to;
	if (from == to)
		return;
	if (to == REPLICA_USABLE)
		log_info("reads go to the replica%s", from == REPLICA_UNKNOWN ? "" : " again");
	else
		log_error("reads go to the primary: %s", reason);
}

/*
 * No connection to read on.  Nothing to close: db_ensure_nowait() starts
 * over from a broken connection (and empties its statement cache) by
 * itself, when the backoff allows.
 */
static void mark_down(struct replica *r, const char *why)
{
	char reason[300];

	snprintf(reason, sizeof(reason), "the replica is unreachable (%s)",
		 why != NULL && why[0] != '\0' ? why : "no connection");
	set_state(r, REPLICA_DOWN, reason);
}

/* Ask the standby how far behind it is; sets the state. */
static void check_lag(struct replica *r)
{
	long max = r->db.cfg->db_replica_max_lag;
	char reason[200];

	r->checked_at = monotonic_now();
	r->checked_conn = r->db.connections;
	if (max <= 0) {
		set_state(r, REPLICA_USABLE, NULL);
		return;
	}

	PGresult *res = PQexecParams(r->db.conn, lag_query, 0, NULL, NULL, NULL, NULL, 0);

	if (PQresultStatus(res) != PGRES_TUPLES_OK || PQntuples(res) != 1) {
		const char *msg = PQerrorMessage(r->db.conn);
		size_t n = strcspn(msg, "\n");

		if (PQstatus(r->db.conn) != CONNECTION_OK) {
			char why[256];

			snprintf(why, sizeof(why), "%.*s", (int)n, msg);
			PQclear(res);
			mark_down(r, why);
			return;
		}
		snprintf(reason, sizeof(reason), "the replica's lag is unknown (%.*s)", (int)n, msg);
		PQclear(res);
		set_state(r, REPLICA_LAGGING, reason);
		return;
	}

	bool standby = strcmp(PQgetvalue(res, 0, 0), "t") == 0;
	bool caught_up = strcmp(PQgetvalue(res, 0, 1), "t") == 0;
	bool known = !PQgetisnull(res, 0, 2);
	double lag = known ? atof(PQgetvalue(res, 0, 2)) : 0;

	PQclear(res);
	if (!standby || caught_up || (known && lag <= (double)max)) {
		set_state(r, REPLICA_USABLE, NULL);
		return;
	}
	if (known)
		snprintf(reason, sizeof(reason), "the replica replays %.1f s behind (db-replica-max-lag = %ld)",
			 lag, max);
	else
		snprintf(reason, sizeof(reason), "the replica has replayed no transaction yet "
			 "and has not caught up (db-replica-max-lag = %ld)", max);
	set_state(r, REPLICA_LAGGING, reason);
}

struct db *replica_for_read(struct replica *r, struct db *primary)
{
	if (!r->configured)
		return primary;
	/*
	 * Never wait for the standby: a host that does not answer would hold
	 * every read for connect_timeout, about once a second, while the
	 * primary is there to serve it.  The attempt advances with each read.
	 */
	if (!db_ensure_nowait(&r->db)) {
		if (!r->db.connecting)
			mark_down(r, r->db.last_error);
		return primary;
	}
	if (r->state == REPLICA_UNKNOWN || r->state == REPLICA_DOWN ||
	    r->checked_conn != r->db.connections || monotonic_now() - r->checked_at >= CHECK_INTERVAL)
		check_lag(r);
	return r->state == REPLICA_USABLE ? &r->db : primary;
}

/* the SQLSTATEs of a standby that went away or is not there yet */
static bool gone(const char *code)
{
	return strcmp(code, "PGRST000") == 0 || strcmp(code, "PGRST001") == 0 ||
	       strncmp(code, "57P0", 4) == 0;
}

bool replica_failed(struct replica *r, const struct http_error *err)
{
	if (err->code == NULL)
		return false;
	if (gone(err->code)) {
		mark_down(r, err->details != NULL ? err->details : err->message);
		return true;
	}
	/*
	 * A name the schema cache (loaded from the primary) knows and the
	 * standby does not: DDL not replayed there yet.  The primary has it.
	 */
	if (strcmp(err->code, "42703") == 0 || strcmp(err->code, "42P01") == 0 ||
	    strcmp(err->code, "42883") == 0)
		return true;
	/*
	 * Replay on the standby cancelled the query (a conflict with a vacuum
	 * on the primary, max_standby_streaming_delay): the primary has no
	 * such conflict, and a read may run again.
	 */
	if (strcmp(err->code, "40001") == 0 && err->message != NULL &&
	    strstr(err->message, "conflict with recovery") != NULL) {
		log_info("read cancelled on the replica (%s): running it on the primary", err->message);
		return true;
	}
	return false;
}
