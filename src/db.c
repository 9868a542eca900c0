/*
 * db.c — connection, prepared-statement cache and the one-round-trip
 * transaction.
 *
 * Why pipeline mode: PostgREST sends BEGIN, the settings, the query and
 * COMMIT as separate round trips (about four per request).  Queued in one
 * pipeline with a single Sync they cost one.  With an explicit BEGIN an
 * error leaves the session in an aborted transaction after the Sync, so
 * the error path sends one ROLLBACK afterwards (a second round trip only
 * when something already went wrong).
 */
#include "db.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <errno.h>
#include <poll.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "worker.h"

/* ------------------------------------------------------------------ */
/* prepared statement cache: statement text -> server-side name        */

#define CACHE_SLOTS 1024        /* power of two */
#define CACHE_MAX_ENTRIES 700   /* beyond this, statements go unnamed */

struct cache_entry {
	char *sql;                  /* malloc'd, NULL = empty slot */
	char name[32];
	bool prepared;              /* the server has it */
};

struct stmt_cache {
	struct cache_entry slots[CACHE_SLOTS];
	int used;
	int next_id;                /* never reset: a name is never given twice */
	char prefix[16];            /* "pgr_<8 hex digits>", random per cache */
};

/*
 * Names unique to this process, not only to this connection.  Behind a
 * transaction pooler (PgBouncer, pool_mode = transaction) the server
 * connection changes under the worker; were the names "pgr_0", "pgr_1"
 * in every worker, a worker could execute another worker's statement of
 * the same name with its own parameters.  With a random part a statement
 * prepared elsewhere is simply missing (26000), which db_run() turns
 * into a clear error.  Other machines' workers may share the pooler, so
 * the pid alone would not do.
 */
static void cache_name_prefix(struct stmt_cache *c)
{
	uint32_t r;

	if (getrandom(&r, sizeof(r), GRND_NONBLOCK) != (ssize_t)sizeof(r))
		r = (uint32_t)getpid() ^ (uint32_t)time(NULL) ^ (uint32_t)(uintptr_t)c;
	snprintf(c->prefix, sizeof(c->prefix), "pgr_%08x", (unsigned)r);
}

/*
 * Eight bytes a step: every request looks up its statements here, and the
 * settings statement alone is some 2 KB of text (a byte-at-a-time hash of
 * it was a sixth of the worker's instructions per request; bench/README).
 */
static unsigned long hash_text(const char *s)
{
	size_t n = strlen(s);
	uint64_t h = 0x9e3779b97f4a7c15u ^ n, w;

	for (; n >= 8; s += 8, n -= 8) {
		memcpy(&w, s, 8);
		h = (h ^ w) * 0xff51afd7ed558ccdu;
		h ^= h >> 32;
	}
	w = 0;
	memcpy(&w, s, n);
	h = (h ^ w) * 0xc4ceb9fe1a85ec53u;
	return (unsigned long)(h ^ (h >> 29));
}

static void cache_clear(struct stmt_cache *c)
{
	for (int i = 0; i < CACHE_SLOTS; i++) {
		free(c->slots[i].sql);
		c->slots[i].sql = NULL;
		c->slots[i].prepared = false;
	}
	c->used = 0;
}

/* The entry for sql, created (not yet prepared) if there is room; NULL if full. */
static struct cache_entry *cache_get(struct stmt_cache *c, const char *sql)
{
	unsigned long i = hash_text(sql) & (CACHE_SLOTS - 1);

	for (;;) {
		struct cache_entry *e = &c->slots[i];

		if (e->sql == NULL) {
			if (c->used >= CACHE_MAX_ENTRIES)
				return NULL;
			e->sql = strdup(sql);
			if (e->sql == NULL)
				return NULL;
			snprintf(e->name, sizeof(e->name), "%s_%d", c->prefix, c->next_id++);
			e->prepared = false;
			c->used++;
			return e;
		}
		if (strcmp(e->sql, sql) == 0)
			return e;
		i = (i + 1) & (CACHE_SLOTS - 1);
	}
}

/* ------------------------------------------------------------------ */
/* connection                                                         */

void db_init(struct db *db, const struct config *cfg)
{
	memset(db, 0, sizeof(*db));
	db->cfg = cfg;
	db->cache = calloc(1, sizeof(*db->cache));
	if (db->cache == NULL) {
		log_msg(LOG_CRIT, "out of memory");
		abort();
	}
	cache_name_prefix(db->cache);
}

void db_init_replica(struct db *db, const struct config *cfg)
{
	db_init(db, cfg);
	db->replica = true;
}

/* what the log calls this connection */
static const char *db_what(const struct db *db)
{
	return db->replica ? "the replica" : "the database";
}

void db_close(struct db *db)
{
	if (db->conn != NULL)
		PQfinish(db->conn);
	db->conn = NULL;
	if (db->cache != NULL) {
		cache_clear(db->cache);
		free(db->cache);
		db->cache = NULL;
	}
}

static void db_drop(struct db *db)
{
	if (db->conn != NULL)
		PQfinish(db->conn);
	db->conn = NULL;
	db->connecting = false;
	cache_clear(db->cache);
}

/*
 * LISTEN on db-channel, for NOTIFY pgrst, 'reload schema' and the like.
 *
 * Not with db-prepared-statements = false, the setting for a transaction
 * pooler: there LISTEN would register on whichever server connection ran
 * it, which then serves other clients; this worker would never hear the
 * NOTIFY and some other worker might, at random.  Signals still reload
 * (SIGHUP, SIGUSR1).  Not on the replica either: a hot standby refuses
 * LISTEN, and the schema cache comes from the primary.
 */
static void listen_channel(struct db *db)
{
	static bool told;

	if (!db->cfg->db_channel_enabled || db->cfg->db_channel == NULL || db->replica)
		return;
	if (!db->cfg->db_prepared_statements) {
		if (!told)
			log_warn("not listening on db-channel \"%s\": db-prepared-statements = false "
				 "(NOTIFY does not work through a transaction pooler); "
				 "reload with SIGUSR1 (schema) and SIGHUP (configuration)",
				 db->cfg->db_channel);
		told = true;
		return;
	}

	char *ident = PQescapeIdentifier(db->conn, db->cfg->db_channel, strlen(db->cfg->db_channel));
	char sql[300];

	if (ident == NULL)
		return;
	snprintf(sql, sizeof(sql), "LISTEN %s", ident);
	PQfreemem(ident);

	PGresult *res = PQexec(db->conn, sql);

	if (PQresultStatus(res) != PGRES_COMMAND_OK)
		log_error("LISTEN %s failed: %s", db->cfg->db_channel, PQerrorMessage(db->conn));
	PQclear(res);
}

unsigned db_notifications(struct db *db)
{
	unsigned want = 0;
	PGnotify *n;

	if (db->conn == NULL || PQstatus(db->conn) != CONNECTION_OK || !PQconsumeInput(db->conn))
		return 0;
	while ((n = PQnotifies(db->conn)) != NULL) {
		if (db->cfg->db_channel != NULL && strcmp(n->relname, db->cfg->db_channel) == 0) {
			if (n->extra[0] == '\0')
				want |= WANT_CONFIG | WANT_SCHEMA;
			else if (strcmp(n->extra, "reload schema") == 0)
				want |= WANT_SCHEMA;
			else if (strcmp(n->extra, "reload config") == 0)
				want |= WANT_CONFIG;
			else
				log_info("ignored NOTIFY %s payload '%s'", n->relname, n->extra);
		}
		PQfreemem(n);
	}
	return want;
}

/* The connection keywords: ours, then the URI's, which override them. */
static void conn_params(const struct db *db, const char **keys, const char **vals)
{
	const char *uri = db->replica ? db->cfg->db_replica_uri : db->cfg->db_uri;
	int k = 0;

	/* ours first: what the URI says overrides them … */
	keys[k] = "connect_timeout", vals[k++] = "5";
	keys[k] = "fallback_application_name", vals[k++] = "pg_rest";
	if (uri != NULL && uri[0] != '\0')
		keys[k] = "dbname", vals[k++] = uri;
	/* … except the encoding: identifier quoting assumes UTF-8 */
	keys[k] = "client_encoding", vals[k++] = "UTF8";
	keys[k] = NULL, vals[k] = NULL;
}

static void connect_failed(struct db *db, const char *why)
{
	snprintf(db->last_error, sizeof(db->last_error), "%s", why);
	/* one line in the log: libpq messages end with a newline */
	db->last_error[strcspn(db->last_error, "\n")] = '\0';
	/* replica.c logs the replica's outages, once each */
	if (db->failures == 0 && !db->replica)
		log_error("could not connect to %s: %s", db_what(db), db->last_error);
	db->failures++;
	PQfinish(db->conn);
	db->conn = NULL;
	db->connecting = false;
}

static void connect_done(struct db *db)
{
	if (db->failures > 0 && !db->replica)
		log_info("connected to %s after %d failed attempts", db_what(db), db->failures);
	db->failures = 0;
	db->connections++;
	db->connecting = false;
	listen_channel(db);
}

static bool db_connect(struct db *db)
{
	const char *keys[5], *vals[5];

	conn_params(db, keys, vals);
	db_drop(db);
	db->last_attempt = time(NULL);
	db->conn = PQconnectdbParams(keys, vals, 1);
	if (PQstatus(db->conn) != CONNECTION_OK) {
		connect_failed(db, PQerrorMessage(db->conn));
		return false;
	}
	connect_done(db);
	return true;
}

static double monotonic_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/*
 * The pause after the n-th failed attempt in a row: 0.125 s, 0.25 s,
 * 0.5 s, then 1 s, each with jitter (a random 50-100 %).  The jitter keeps
 * N workers that lost the database together from reconnecting in lock
 * step; the 1 s cap matches Retry-After: 1, so a client that waits that
 * long finds the worker reconnected (PostgREST's single process backs off
 * up to 32 s; N workers each at about one attempt a second stay cheap).
 * Requests that come before the next attempt is due are answered 503 at
 * once: the backoff never delays an answer.
 */
static double backoff_delay(int failures)
{
	static bool seeded;
	int shift = failures < 1 ? 0 : failures > 4 ? 3 : failures - 1;
	double base = 0.125 * (double)(1 << shift);

	if (!seeded) {
		srand48((long)getpid() ^ (long)monotonic_now());
		seeded = true;
	}
	return base * (0.5 + 0.5 * drand48());
}

bool db_ensure(struct db *db, struct http_error *err, struct arena *a)
{
	if (db->conn != NULL && PQstatus(db->conn) == CONNECTION_OK)
		return true;
	/* a lost connection (failures == 0) is retried at once, then backoff_delay() */
	if (db->failures == 0 || monotonic_now() >= db->retry_at) {
		if (db_connect(db))
			return true;
		db->retry_at = monotonic_now() + backoff_delay(db->failures);
	}
	http_error_set(err, 503, "PGRST000", "Could not connect with the database",
		       arena_strdup(a, db->last_error[0] ? db->last_error : NULL), NULL);
	return false;
}

/*
 * connect_timeout as the connection string says (ours is 5 s): libpq
 * enforces it only for blocking connects.
 */
static double connect_timeout(PGconn *conn)
{
	PQconninfoOption *opts = PQconninfo(conn);
	double t = 5;

	for (PQconninfoOption *o = opts; o != NULL && o->keyword != NULL; o++)
		if (strcmp(o->keyword, "connect_timeout") == 0 && o->val != NULL && atoi(o->val) > 0)
			t = atoi(o->val);
	PQconninfoFree(opts);
	return t < 2 ? 2 : t;
}

static bool connect_start(struct db *db)
{
	const char *keys[5], *vals[5];

	conn_params(db, keys, vals);
	db_drop(db);
	db->last_attempt = time(NULL);
	db->conn = PQconnectStartParams(keys, vals, 1);
	if (db->conn == NULL || PQstatus(db->conn) == CONNECTION_BAD) {
		connect_failed(db, db->conn ? PQerrorMessage(db->conn) : "out of memory");
		return false;
	}
	db->connecting = true;
	db->connect_want = PGRES_POLLING_WRITING;
	db->connect_deadline = monotonic_now() + connect_timeout(db->conn);
	return true;
}

/*
 * Drive a connection attempt for at most budget seconds; true when it is
 * up.  libpq's rule: call PQconnectPoll() only once the socket is ready
 * for what it last asked (writing, before the first call).
 */
static bool connect_poll(struct db *db, double budget)
{
	double until = monotonic_now() + budget;

	for (;;) {
		double now = monotonic_now();

		if (now >= db->connect_deadline) {
			connect_failed(db, "timeout expired");
			return false;
		}

		struct pollfd pfd = {
			.fd = PQsocket(db->conn),
			.events = db->connect_want == PGRES_POLLING_READING ? POLLIN : POLLOUT,
		};
		int ms = now >= until ? 0 : (int)((until - now) * 1000) + 1;
		int ready = poll(&pfd, 1, ms);

		if (ready < 0 && errno != EINTR) {
			connect_failed(db, strerror(errno));
			return false;
		}
		if (ready <= 0) {
			if (monotonic_now() >= until)
				return false;
			continue;
		}
		db->connect_want = PQconnectPoll(db->conn);
		if (db->connect_want == PGRES_POLLING_OK) {
			connect_done(db);
			return true;
		}
		if (db->connect_want == PGRES_POLLING_FAILED) {
			connect_failed(db, PQerrorMessage(db->conn));
			return false;
		}
	}
}

bool db_ensure_nowait(struct db *db)
{
	if (db->conn != NULL && !db->connecting && PQstatus(db->conn) == CONNECTION_OK)
		return true;
	if (!db->connecting) {
		if (db->failures > 0 && monotonic_now() < db->retry_at)
			return false;
		if (!connect_start(db)) {
			db->retry_at = monotonic_now() + backoff_delay(db->failures);
			return false;
		}
	}
	/* a nearby server answers within the budget; a silent one costs 20 ms a try */
	if (connect_poll(db, 0.02))
		return true;
	if (!db->connecting)
		db->retry_at = monotonic_now() + backoff_delay(db->failures);
	return false;
}

/* ------------------------------------------------------------------ */
/* the pipeline                                                       */

enum item_kind { ITEM_PREPARE, ITEM_EXEC };

struct item {
	enum item_kind kind;
	struct cache_entry *entry;  /* the named statement, NULL for an unnamed one */
	int stmt;                   /* index into stmts, -1 for BEGIN/COMMIT */
};

static bool send_stmt(struct db *db, const char *sql, int nparams, const char *const *values,
		      struct item *items, int *n_items, int stmt)
{
	struct cache_entry *e = db->cfg->db_prepared_statements ? cache_get(db->cache, sql) : NULL;

	if (e == NULL) {
		items[*n_items].kind = ITEM_EXEC;
		items[*n_items].entry = NULL;
		items[*n_items].stmt = stmt;
		(*n_items)++;
		return PQsendQueryParams(db->conn, sql, nparams, NULL, values, NULL, NULL, 0) == 1;
	}
	if (!e->prepared) {
		items[*n_items].kind = ITEM_PREPARE;
		items[*n_items].entry = e;
		items[*n_items].stmt = stmt;
		(*n_items)++;
		if (PQsendPrepare(db->conn, e->name, sql, nparams, NULL) != 1)
			return false;
		/* assume success; the result below corrects it */
		e->prepared = true;
	}
	items[*n_items].kind = ITEM_EXEC;
	items[*n_items].entry = e;
	items[*n_items].stmt = stmt;
	(*n_items)++;
	return PQsendQueryPrepared(db->conn, e->name, nparams, values, NULL, NULL, 0) == 1;
}

static void error_from_result(PGresult *res, bool as_anon, struct http_error *err, struct arena *a)
{
	const char *st = PQresultErrorField(res, PG_DIAG_SQLSTATE);
	const char *msg = PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY);

	http_error_set(err, pg_error_status(st, msg, as_anon),
		       arena_strdup(a, st ? st : "PGRSTX00"),
		       arena_strdup(a, msg ? msg : PQresultErrorMessage(res)),
		       arena_strdup(a, PQresultErrorField(res, PG_DIAG_MESSAGE_DETAIL)),
		       arena_strdup(a, PQresultErrorField(res, PG_DIAG_MESSAGE_HINT)));
	if (err->status == 401)
		err->www_authenticate = "Bearer";
}

/* 26000 / 42P05 on one of our own names: see cache_name_prefix() */
static bool lost_statement(const struct item *it, PGresult *res)
{
	const char *st = PQresultErrorField(res, PG_DIAG_SQLSTATE);

	return it->entry != NULL && st != NULL &&
	       (strcmp(st, "26000") == 0 || strcmp(st, "42P05") == 0);
}

/*
 * Behind a transaction pooler the statements this worker prepared are on
 * other server connections.  PostgreSQL's own message ("prepared statement
 * "pgr_…" does not exist") would leave the administrator guessing; say
 * what to change, keep PostgreSQL's words in details, and forget every
 * prepared statement so the worker is consistent again (the next request
 * prepares what it needs on whatever connection it gets).
 */
static void pooler_error(struct db *db, struct http_error *err)
{
	static bool told;
	const char *pg_message = err->message;

	http_error_set(err, 500, err->code,
		       "Prepared statements do not survive on this connection: set "
		       "db-prepared-statements = false behind a transaction pooler such as PgBouncer",
		       pg_message,
		       "PgBouncer in pool_mode = transaction gives each transaction any server connection.");
	if (!told)
		log_error("%s lost this worker's prepared statements (%s): a transaction pooler "
			  "such as PgBouncer is in between; set db-prepared-statements = false",
			  db_what(db), pg_message);
	told = true;
	cache_clear(db->cache);
}

static void connection_error(struct db *db, struct http_error *err, struct arena *a)
{
	const char *msg = db->conn ? PQerrorMessage(db->conn) : "no connection";

	http_error_set(err, 503, "PGRST001", "Database client error. Retrying the connection.",
		       arena_strndup(a, msg, strcspn(msg, "\n")), NULL);
	if (!db->replica)
		log_error("database connection lost: %.*s", (int)strcspn(msg, "\n"), msg);
	db_drop(db);
}

/* Read every result of the pipeline; keep the rows of each statement. */
static bool collect(struct db *db, const struct item *items, int n_items, PGresult **out,
		    bool as_anon, struct http_error *err, struct arena *a, bool *broken,
		    bool *lost)
{
	bool failed = false;

	for (int i = 0; i < n_items; i++) {
		PGresult *res = PQgetResult(db->conn);

		if (res == NULL) {
			*broken = true;
			break;
		}
		ExecStatusType st = PQresultStatus(res);

		if (items[i].kind == ITEM_PREPARE && st != PGRES_COMMAND_OK)
			items[i].entry->prepared = false;
		if (st == PGRES_FATAL_ERROR && !failed) {
			failed = true;
			error_from_result(res, as_anon, err, a);
			*lost = lost_statement(&items[i], res);
		}
		if (items[i].kind == ITEM_EXEC && items[i].stmt >= 0 && st == PGRES_TUPLES_OK)
			out[items[i].stmt] = res;
		else
			PQclear(res);
		/* each command's results end with NULL in pipeline mode */
		while ((res = PQgetResult(db->conn)) != NULL)
			PQclear(res);
	}
	if (!*broken) {
		PGresult *sync = PQgetResult(db->conn);

		if (sync == NULL || PQresultStatus(sync) != PGRES_PIPELINE_SYNC)
			*broken = true;
		PQclear(sync);
	}
	if (*broken || PQstatus(db->conn) != CONNECTION_OK)
		*broken = true;
	return !*broken && !failed;
}

static void clear_results(PGresult **out, int n)
{
	for (int i = 0; i < n; i++) {
		PQclear(out[i]);
		out[i] = NULL;
	}
}

static bool run_once(struct db *db, bool read_only, enum tx_end end,
		     const struct db_stmt *stmts, int n, PGresult **out,
		     bool as_anon, struct http_error *err, struct arena *a, bool *broken)
{
	struct item *items = arena_alloc(a, sizeof(*items) * (size_t)(2 * n + 4));
	int n_items = 0;
	bool ok;

	*broken = false;
	if (PQenterPipelineMode(db->conn) != 1) {
		*broken = true;
		return false;
	}
	ok = send_stmt(db, read_only ? "BEGIN ISOLATION LEVEL READ COMMITTED READ ONLY"
				     : "BEGIN ISOLATION LEVEL READ COMMITTED READ WRITE",
		       0, NULL, items, &n_items, -1);
	for (int i = 0; ok && i < n; i++)
		ok = send_stmt(db, stmts[i].sql, stmts[i].nparams, stmts[i].values,
			       items, &n_items, i);
	if (end != TX_END_LATER)
		ok = ok && send_stmt(db, end == TX_END_ROLLBACK ? "ROLLBACK" : "COMMIT", 0, NULL,
				     items, &n_items, -1);
	ok = ok && PQpipelineSync(db->conn) == 1;
	if (!ok) {
		*broken = true;
		return false;
	}

	bool lost = false;
	bool done = collect(db, items, n_items, out, as_anon, err, a, broken, &lost);

	if (*broken) {
		clear_results(out, n);
		return false;
	}
	PQexitPipelineMode(db->conn);
	if (!done) {
		clear_results(out, n);
		if (PQtransactionStatus(db->conn) != PQTRANS_IDLE)
			PQclear(PQexec(db->conn, "ROLLBACK"));
		if (lost)
			pooler_error(db, err);
	}
	return done;
}

bool db_run(struct db *db, bool read_only, enum tx_end end,
	    const struct db_stmt *stmts, int n, PGresult **out,
	    bool as_anon, struct http_error *err, struct arena *a)
{
	bool broken;

	for (int i = 0; i < n; i++)
		out[i] = NULL;
	for (int attempt = 0; attempt < 2; attempt++) {
		if (!db_ensure(db, err, a))
			return false;
		err->status = 0;
		bool done = run_once(db, read_only, end, stmts, n, out, as_anon, err, a, &broken);

		if (!broken)
			return done;
		/*
		 * The connection died during this request.  When PostgreSQL said
		 * why first (57P01 from pg_terminate_backend or a shutdown, 57P02
		 * from a crash), the statement was running and was stopped on
		 * purpose: answer that error with PostgREST's status for it
		 * (57P01 -> 503) and do not run the request again, not even a
		 * read — re-running a query an administrator killed would undo
		 * the kill.  A connection that died without a word (found dead
		 * when sending; libpq's own "server closed the connection
		 * unexpectedly" has no SQLSTATE, error_from_result() names it
		 * PGRSTX00) is reported as PGRST001 and a read is retried.
		 */
		if (err->status != 0 && strcmp(err->code, "PGRSTX00") != 0) {
			if (!db->replica)
				log_error("database connection lost during the request: %s %s",
					  err->code, err->message);
			db_drop(db);
			return false;
		}
		connection_error(db, err, a);
		/*
		 * A read-only transaction that died with its connection changed
		 * nothing: run it again on a new connection.  A write might have
		 * committed before the connection died, so it is not repeated.
		 * The replica's caller runs it on the primary instead of waiting
		 * here for a blocking reconnect (replica.c).
		 */
		if (!read_only || db->replica)
			break;
	}
	return false;
}

bool db_finish(struct db *db, bool commit, bool as_anon, struct http_error *err,
	       struct arena *a)
{
	PGresult *res = PQexec(db->conn, commit ? "COMMIT" : "ROLLBACK");
	bool ok = PQresultStatus(res) == PGRES_COMMAND_OK;

	/* COMMIT can still fail: deferred constraints */
	if (!ok) {
		if (PQstatus(db->conn) != CONNECTION_OK) {
			connection_error(db, err, a);
		} else {
			error_from_result(res, as_anon, err, a);
			if (PQtransactionStatus(db->conn) != PQTRANS_IDLE)
				PQclear(PQexec(db->conn, "ROLLBACK"));
		}
	}
	PQclear(res);
	return ok;
}
