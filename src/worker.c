/*
 * worker.c — configuration and schema cache reloads between requests.
 *
 * Reloads never happen inside a request: signal handlers and NOTIFY only
 * mark what is wanted, and worker_refresh() acts before the next request
 * is served (PostgreSQL's rule for SIGHUP).
 */
#include "worker.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "dbconfig.h"
#include "log.h"
#include "request.h"
#include "response.h"

/* file, environment and (n > 0) in-database settings; messages to the log */
static int load_config(struct config *cfg, const char *path, const struct dbsettings *db)
{
	extern char **environ;
	char err[1024], warn[4096];

	err[0] = warn[0] = '\0';
	int rc = config_load_db(cfg, path, environ,
				db ? (const char *const *)db->names : NULL,
				db ? (const char *const *)db->values : NULL, db ? db->n : 0,
				err, sizeof(err), warn, sizeof(warn));

	for (char *line = strtok(warn, "\n"); line != NULL; line = strtok(NULL, "\n"))
		log_msg(LOG_WARN, "%s", line);
	if (rc < 0)
		log_msg(LOG_CRIT, "%s", err);
	return rc;
}

int worker_load_config(struct config *cfg, const char *path)
{
	return load_config(cfg, path, NULL);
}

/* put a freshly loaded configuration in place of the running one */
static void install_config(struct worker *w, struct config *fresh)
{
	bool new_db = strcmp(fresh->db_uri ? fresh->db_uri : "",
			     w->cfg->db_uri ? w->cfg->db_uri : "") != 0;

	if (new_db) {
		db_close(&w->db);
		db_init(&w->db, fresh);
	} else {
		w->db.cfg = fresh;
	}
	replica_reconfigure(&w->replica, fresh);
	config_free(w->cfg);
	free(w->cfg);
	w->cfg = fresh;
	log_set_level(fresh->log_level);
	/* the exposed schemas may have changed */
	w->schema_stale = true;
}

/* db-config: the authenticator's pgrst.* settings, read on the working connection */
static bool read_db_settings(struct worker *w, const struct config *cfg, struct dbsettings *db)
{
	char msg[512];

	if (dbsettings_read(w->db.conn, cfg, db, msg, sizeof(msg)) < 0) {
		log_error("in-database configuration not read: %s", msg);
		return false;
	}
	return true;
}

/*
 * The configuration from the file, the environment and db over them, or
 * NULL (logged) when it does not load: the one in use stays.  db is
 * released; its signature goes to *sig.
 */
static struct config *load_with_db_settings(struct worker *w, struct dbsettings *db, char **sig)
{
	struct config *fresh = calloc(1, sizeof(*fresh));

	*sig = NULL;
	if (fresh == NULL || load_config(fresh, w->config_path, db) < 0) {
		log_error("in-database configuration not applied; keeping the one in use");
		free(fresh);
		dbsettings_free(db);
		return NULL;
	}
	if (db->n > 0)
		log_info("in-database configuration applied: %d setting%s", db->n, db->n == 1 ? "" : "s");
	*sig = db->signature;
	db->signature = NULL;
	dbsettings_free(db);
	return fresh;
}

static bool connected(const struct worker *w)
{
	return w->db.conn != NULL && PQstatus(w->db.conn) == CONNECTION_OK;
}

/*
 * SIGHUP or NOTIFY 'reload config': a bad new file, or bad in-database
 * settings, keep the configuration in use.  Without a connection the
 * in-database settings are read when it is back (apply_db_settings).
 */
static void reload_config(struct worker *w)
{
	struct config *fresh = calloc(1, sizeof(*fresh));
	struct dbsettings db;
	char *sig = NULL;

	if (fresh == NULL || worker_load_config(fresh, w->config_path) < 0) {
		log_error("configuration not reloaded; keeping the old one");
		free(fresh);
		return;
	}
	if (fresh->db_config && connected(w)) {
		struct config *full = read_db_settings(w, fresh, &db)
			? load_with_db_settings(w, &db, &sig) : NULL;

		config_free(fresh);
		free(fresh);
		if (full == NULL) {
			log_error("configuration not reloaded; keeping the old one");
			return;
		}
		fresh = full;
	}
	install_config(w, fresh);
	free(w->db_settings);
	w->db_settings = sig;
	log_info("configuration reloaded from %s", w->config_path ? w->config_path : "(environment)");
}

/*
 * On a new connection, before the schema cache is loaded (db-schemas may
 * come from the database): apply the in-database settings when they are
 * not those applied last.
 */
static void apply_db_settings(struct worker *w)
{
	struct dbsettings db;
	struct config *fresh;
	char *sig;

	if (!w->cfg->db_config || !read_db_settings(w, w->cfg, &db))
		return;
	if (w->db_settings != NULL ? strcmp(w->db_settings, db.signature) == 0 : db.n == 0) {
		dbsettings_free(&db);
		return;
	}
	fresh = load_with_db_settings(w, &db, &sig);
	if (fresh == NULL)
		return;
	install_config(w, fresh);
	free(w->db_settings);
	w->db_settings = sig;
}

static void reload_schema(struct worker *w)
{
	struct http_error err;
	char msg[512];

	w->schema_attempt = time(NULL);
	if (!db_ensure(&w->db, &err, &w->arena)) {
		arena_reset(&w->arena);
		return;
	}
	arena_reset(&w->arena);
	apply_db_settings(w);

	struct schema_cache *sc = schema_load(w->db.conn, w->cfg, msg, sizeof(msg));

	if (sc == NULL) {
		log_error("schema cache not %s: %s", w->schema ? "reloaded; keeping the old one" : "loaded", msg);
		return;
	}
	if (w->schema != NULL)
		schema_free(w->schema);
	w->schema = sc;
	w->schema_conn = w->db.connections;
	w->schema_stale = false;
	log_info("schema cache loaded: %d relations, %d foreign keys, %d functions in %.1f ms",
		 sc->n_relations, sc->n_fkeys, sc->n_functions, sc->load_ms);
}

void worker_start(struct worker *w, struct config *cfg, const char *config_path)
{
	memset(w, 0, sizeof(*w));
	w->cfg = cfg;
	w->config_path = config_path;
	arena_init(&w->arena);
	db_init(&w->db, cfg);
	replica_init(&w->replica, cfg);
	/* connect and load now so the first request does not wait; failure is not fatal */
	reload_schema(w);
}

void worker_refresh(struct worker *w, unsigned want)
{
	want |= db_notifications(&w->db);
	/*
	 * Reconnect here, not only when a query needs it: a request the cache
	 * can answer alone (404 for an unknown table) must not keep an old
	 * cache alive after an outage.  db_ensure() backs off (125 ms up to
	 * about 1 s, with jitter); reading notifications above notices a dead
	 * connection.
	 */
	if (w->db.conn == NULL || PQstatus(w->db.conn) != CONNECTION_OK) {
		struct http_error err;

		db_ensure(&w->db, &err, &w->arena);
		arena_reset(&w->arena);
	}
	if (want & WANT_CONFIG)
		reload_config(w);
	if (want & WANT_SCHEMA)
		w->schema_stale = true;
	/*
	 * A new connection may see a changed database: reload on it.  Retry a
	 * missing cache at most once a second, so a schema that cannot be
	 * loaded does not cost every request a round trip.
	 */
	if (w->schema_stale || (w->schema != NULL && w->schema_conn != w->db.connections) ||
	    (w->schema == NULL && time(NULL) - w->schema_attempt >= 1))
		reload_schema(w);
}

/* a 503 in PostgREST's form; the details for the administrator go to the log */
static int refuse(FCGX_Request *req, struct arena *a, const char *message)
{
	const char *method = FCGX_GetParam("REQUEST_METHOD", req->envp);
	struct response resp;
	struct http_error err;

	memset(&err, 0, sizeof(err));
	http_error_set(&err, 503, "PGRST000", message, NULL, "See the web server's error log.");
	response_init(&resp, req->out, a, method != NULL && strcmp(method, "HEAD") == 0);
	response_error(&resp, &err);
	return -1;
}

int worker_config_for_request(struct worker *w, FCGX_Request *req)
{
	const char *from = NULL, *path;
	unsigned long served = w->requests;
	struct arena a;
	int rc = 0;

	if (w->cfg != NULL && !w->config_from_request)
		return 0;
	arena_init(&a);
	path = request_config_path(req->envp, &a, &from);
	if (w->cfg != NULL && path != NULL && strcmp(path, w->config_path) == 0) {
		arena_destroy(&a);
		return 0;
	}
	/*
	 * A request that names another configuration: mod_fcgid shares its
	 * workers among every request for the same program file, whatever
	 * SetEnv said (two directories rewriting to one pg_rest.fcgi, or an
	 * edited .htaccess).  Never answer it with this one's database and
	 * secret: switch.  Exiting instead would not do: mod_fcgid hands the
	 * next request to the exiting worker and answers 500 itself.
	 */
	if (w->cfg != NULL) {
		log_warn("the request names configuration %s, not %s: switching",
			 path != NULL ? path : "(none)", w->config_path);
		worker_stop(w);
		memset(w, 0, sizeof(*w));
	}
	if (path == NULL || (strcmp(from, "SCRIPT_FILENAME") == 0 && access(path, F_OK) != 0)) {
		log_msg(LOG_CRIT, "no configuration: no argument, no PG_REST_CONFIG in the environment "
			"or the request (SetEnv), and no %s", path != NULL ? path : ".pg_rest.conf");
		rc = refuse(req, &a, "Server lacks a configuration");
	} else {
		struct config *cfg = calloc(1, sizeof(*cfg));
		char *copy = strdup(path);

		if (cfg == NULL || copy == NULL || worker_load_config(cfg, copy) < 0) {
			free(cfg);
			free(copy);
			rc = refuse(req, &a, "Server configuration is invalid");
		} else {
			worker_start(w, cfg, copy);
			w->config_from_request = true;
			w->requests = served;
			log_set_level(cfg->log_level);
			log_info("configuration %s (from the request's %s)", copy, from);
		}
	}
	arena_destroy(&a);
	return rc;
}

void worker_stop(struct worker *w)
{
	if (w->config_from_request)
		free((char *)w->config_path);
	w->config_path = NULL;
	w->config_from_request = false;
	if (w->schema != NULL)
		schema_free(w->schema);
	w->schema = NULL;
	db_close(&w->db);
	replica_close(&w->replica);
	arena_destroy(&w->arena);
	config_free(w->cfg);
	free(w->cfg);
	w->cfg = NULL;
	free(w->db_settings);
	w->db_settings = NULL;
}
