/*
 * config.h — pg_rest configuration.
 *
 * The file uses libconfig syntax with PostgREST's key names, so an existing
 * postgrest.conf ("key = value" lines, # comments) loads unchanged.  PGRST_*
 * environment variables (upper-case key, '-' and '.' -> '_') override the
 * file.  See man/pg_rest.conf.5.
 */
#ifndef PGR_CONFIG_H
#define PGR_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

enum log_level {
	LOG_CRIT = 0,
	LOG_ERROR = 1,
	LOG_WARN = 2,
	LOG_INFO = 3,
	LOG_DEBUG = 4,
};

struct auth_keys;                  /* auth.c: jwt-secret as keys */

struct config {
	char *source;              /* path of the file read, "" if none */

	/* database */
	char *db_uri;              /* libpq URI or key=value string */
	char **db_schemas;         /* exposed schemas, first = default */
	int n_db_schemas;
	char *db_anon_role;        /* NULL = anonymous access disabled */
	char **db_extra_search_path; /* default: public */
	int n_db_extra_search_path;
	long db_max_rows;          /* -1 = unlimited */
	char *db_pre_request;      /* "schema.fn" or "fn", NULL = none */
	char *db_pre_request_schema;   /* split form of db_pre_request; schema NULL if unqualified */
	char *db_pre_request_name;
	bool db_use_legacy_gucs;   /* request.jwt.claim.<name> GUCs, default true */
	bool db_prepared_statements;   /* default true */
	bool db_plan_enabled;      /* Accept: application/vnd.pgrst.plan answers with EXPLAIN, default false */
	bool db_aggregates_enabled;    /* select=col.sum(), count(): default false */
	bool db_config;            /* read pgrst.* settings from the database, default true */
	char *db_pre_config;       /* "schema.fn" run before reading them, NULL = none */
	char *db_pre_config_schema;    /* split form; schema NULL if unqualified */
	char *db_pre_config_name;
	char *db_root_spec;        /* a function answering GET / instead of OpenAPI, NULL = none */
	char **db_hoisted_tx_settings; /* a function's SET clauses applied to the whole transaction */
	int n_db_hoisted_tx_settings;
	char *db_channel;          /* LISTEN channel, default "pgrst" */
	bool db_channel_enabled;   /* default true */
	char *db_tx_end;           /* commit | commit-allow-override | rollback | rollback-allow-override */
	char *db_replica_uri;      /* pg_rest: a hot standby for GET/HEAD reads, NULL = none */
	long db_replica_max_lag;   /* pg_rest: seconds of replay lag before reads go to the primary, 0 = no check */

	/* auth */
	unsigned char *jwt_secret; /* key bytes (base64-decoded when asked), NULL = no secret */
	size_t jwt_secret_len;
	bool jwt_secret_is_base64;
	struct auth_keys *jwt_keys;  /* jwt-secret read by auth_load_keys(); NULL = no secret */
	char *jwt_aud;             /* NULL = any audience */
	char *role_claim_key;      /* JSPath, default ".role" (jwt-role-claim-key / role-claim-key) */
	bool jwt_optional;         /* pg_rest: secret set + no token -> anon instead of 401 */
	char *jwt_claims_type;     /* pg_rest: an RPC result of this composite type is signed, default "jwt_claims" */
	long jwt_cache_max_lifetime;   /* seconds a verified token is remembered, 0 = never (default) */
	long jwt_cache_max_entries;    /* tokens remembered per worker, default 1000 */

	/* openapi / misc */
	char *openapi_mode;        /* follow-privileges | ignore-privileges | disabled */
	char *openapi_server_proxy_uri;
	bool openapi_security_active;  /* securityDefinitions "JWT" in the OpenAPI document */
	char **server_cors_allowed_origins;  /* origins echoed back with credentials; none = any origin, "*" */
	int n_server_cors_allowed_origins;
	bool server_timing_enabled;    /* Server-Timing header on every answer, default false */
	char *server_trace_header;  /* a request header echoed in the answer (X-Request-Id), NULL = none */
	long max_body_bytes;       /* pg_rest: largest request body accepted, default 10 MiB */
	enum log_level log_level;  /* default error */

	/*
	 * app.settings.* keys (file) and PGRST_APP_SETTINGS_* variables: each
	 * is set as a transaction-local GUC for every request, as PostgREST
	 * does.  Names are full GUC names ("app.settings.jwt_secret").
	 */
	char **app_settings_names;
	char **app_settings_values;
	int n_app_settings;
};

/*
 * Load the configuration.  path may be NULL (defaults + environment only).
 * envp is the environment to read PGRST_* overrides from (normally environ).
 * On failure returns -1 and writes a one-line message naming the file, the
 * line and the key into err, and leaves cfg zeroed.  Warnings (keys that
 * mean nothing behind FastCGI) are written one per line into warn (may be
 * NULL).  cfg need not be initialised; everything in it is malloc'd and
 * released by config_free(), which leaves it zeroed and reusable.
 */
int config_load(struct config *cfg, const char *path, char *const *envp,
		char *err, size_t errlen, char *warn, size_t warnlen);
void config_free(struct config *cfg);

/*
 * The same, with in-database settings on top (db-config): names as
 * PostgreSQL has them ("pgrst.db_schemas"), values as text; precedence
 * file < environment < database, as in PostgREST.  An error names the
 * setting ("in-database setting pgrst.db_max_rows: ...").
 */
int config_load_db(struct config *cfg, const char *path, char *const *envp,
		   const char *const *db_names, const char *const *db_values, int n_db,
		   char *err, size_t errlen, char *warn, size_t warnlen);

/* The pgrst.* settings PostgREST v12 reads from the database, NULL-terminated. */
const char *const *config_db_setting_names(void);

/*
 * pg_rest --check-config: the effective value of every key of cfg, one
 * "key = value" line each in the file's own syntax (strings quoted, "" for
 * a key that is not set), so that the output loads again as a file.  Then
 * the app.settings.* keys, then one comment line per key that is accepted
 * and ignored.  Secrets are masked as "********": jwt-secret, the password
 * of db-uri (URI user info, a password= URI parameter, or a password=
 * key/value pair) and app.settings.* values whose name contains "secret",
 * "password", "passwd", "token" or "key".
 */
void config_print(const struct config *cfg, FILE *f);

/*
 * pg_rest --list-keys: every key the loader knows, one per line, four
 * tab-separated fields: name, type (string, list, integer, boolean,
 * secret, one-of:a|b|c, ignored, unsupported), default ("(unset)",
 * "(empty)" or the text) and the older PostgREST name ("-" if none).
 * The last line is app.settings.* (type any).
 */
void config_list_keys(FILE *f);

#endif
