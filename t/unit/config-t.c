/*
 * config-t.c — unit tests for src/config.c (pg_rest.conf and PGRST_* variables).
 *
 * Each test writes a configuration into a mkstemp() file under /tmp, loads
 * it with its own environment array (never the process environment) and
 * checks the fields, the error or the warnings.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* by path: a build's own config.h (autoconf) may come first on -I */
#include "../../src/config.h"
#include "tap.h"

static char path[64];
static char err[1024];
static char warn[4096];
static char *no_env[] = { NULL };

/* Write text into a new temporary file; its name is left in path. */
static void write_temp(const char *text)
{
	int fd;
	size_t len = strlen(text);

	strcpy(path, "/tmp/pg_rest-config-t.XXXXXX");
	fd = mkstemp(path);
	if (fd < 0 || write(fd, text, len) != (ssize_t) len) {
		perror("config-t: temporary file");
		exit(2);
	}
	close(fd);
}

/* Load text as a configuration file with envp; the file is removed again. */
static int load(struct config *cfg, const char *text, char **envp)
{
	int rc;

	write_temp(text);
	rc = config_load(cfg, path, envp, err, sizeof(err), warn, sizeof(warn));
	unlink(path);
	return rc;
}

/* "<path><rest>" for messages that start with the temporary file's name */
static const char *at_path(const char *rest)
{
	static char buf[1024];

	snprintf(buf, sizeof(buf), "%s%s", path, rest);
	return buf;
}

static int count_lines(const char *s)
{
	int n = 0;

	for (; *s; s++)
		n += *s == '\n';
	return n;
}

static bool is_zeroed(const struct config *cfg)
{
	static const struct config zero;

	return memcmp(cfg, &zero, sizeof(zero)) == 0;
}

static void test_defaults(void)
{
	struct config cfg;

	is_int(config_load(&cfg, NULL, no_env, err, sizeof(err), warn, sizeof(warn)), 0,
	       "defaults: no file loads");
	is_str(cfg.source, "", "defaults: source is empty");
	is_str(cfg.db_uri, "", "defaults: db-uri empty (libpq PG* variables)");
	is_int(cfg.n_db_schemas, 1, "defaults: one schema");
	is_str(cfg.db_schemas[0], "public", "defaults: schema public");
	ok(cfg.db_anon_role == NULL, "defaults: no anon role");
	is_int(cfg.n_db_extra_search_path, 1, "defaults: one extra search path entry");
	is_str(cfg.db_extra_search_path[0], "public", "defaults: extra search path public");
	is_int(cfg.db_max_rows, -1, "defaults: db-max-rows unlimited");
	ok(cfg.db_pre_request == NULL && cfg.db_pre_request_schema == NULL &&
	   cfg.db_pre_request_name == NULL, "defaults: no pre-request");
	ok(cfg.db_use_legacy_gucs, "defaults: legacy GUCs on");
	ok(cfg.db_prepared_statements, "defaults: prepared statements on");
	is_str(cfg.db_channel, "pgrst", "defaults: channel pgrst");
	ok(cfg.db_channel_enabled, "defaults: channel enabled");
	is_str(cfg.db_tx_end, "commit", "defaults: tx end commit");
	ok(cfg.jwt_secret == NULL && cfg.jwt_secret_len == 0, "defaults: no secret");
	ok(!cfg.jwt_secret_is_base64, "defaults: secret not base64");
	ok(cfg.jwt_aud == NULL, "defaults: no audience");
	is_str(cfg.role_claim_key, ".role", "defaults: role claim key .role");
	ok(!cfg.jwt_optional, "defaults: jwt not optional");
	ok(cfg.jwt_keys == NULL, "defaults: no keys");
	is_str(cfg.jwt_claims_type, "jwt_claims", "defaults: jwt-claims-type jwt_claims");
	is_str(cfg.openapi_mode, "follow-privileges", "defaults: openapi follow-privileges");
	ok(cfg.openapi_server_proxy_uri == NULL, "defaults: no proxy uri");
	is_int(cfg.max_body_bytes, 10485760, "defaults: max body 10 MiB");
	is_int(cfg.log_level, LOG_ERROR, "defaults: log level error");
	is_int(cfg.n_app_settings, 0, "defaults: no app settings");
	is_str(warn, "", "defaults: no warnings");
	config_free(&cfg);
	ok(is_zeroed(&cfg), "config_free leaves the struct zeroed");
	config_free(&cfg);
	ok(is_zeroed(&cfg), "config_free twice is harmless");
}

static void test_postgrest_conf(void)
{
	struct config cfg;

	is_int(load(&cfg,
		    "db-uri = \"postgres://dbauth:my_secret@my_host:5432/demobase\"\n"
		    "server-port = 3000\n"
		    "db-schema = \"public\"\n"
		    "db-anon-role = \"webanon\"\n"
		    "log-level=\"info\"\n"
		    "jwt-secret=\"my_hard_top_secret\"\n", no_env), 0,
	       "postgrest.conf loads unchanged");
	is_str(cfg.source, path, "postgrest.conf: source is the path");
	is_str(cfg.db_uri, "postgres://dbauth:my_secret@my_host:5432/demobase", "postgrest.conf: db-uri");
	is_int(cfg.n_db_schemas, 1, "postgrest.conf: one schema");
	is_str(cfg.db_schemas[0], "public", "postgrest.conf: db-schema");
	is_str(cfg.db_anon_role, "webanon", "postgrest.conf: db-anon-role");
	is_int(cfg.log_level, LOG_INFO, "postgrest.conf: log-level");
	is_int(cfg.jwt_secret_len, 18, "postgrest.conf: secret length");
	ok(cfg.jwt_secret && memcmp(cfg.jwt_secret, "my_hard_top_secret", 18) == 0,
	   "postgrest.conf: secret bytes");
	is_str(warn, at_path(":2: server-port: ignored: pg_rest runs behind the web server\n"),
	       "postgrest.conf: one warning for server-port");
	config_free(&cfg);

	/* the seed's other forms: no spaces, bare keys from 3.1 */
	is_int(load(&cfg,
		    "db-uri=\"postgres://dbanon:mysecret@my_host:5432/ourbase\"\n"
		    "server-port=9090\n"
		    "db-schema=\"public\"\n"
		    "db-anon-role=\"dbuser\"\n"
		    "jwt-secret=\"super_sectret_string\"\n", no_env), 0,
	       "seed 3.1 config loads");
	is_str(cfg.db_anon_role, "dbuser", "seed 3.1: anon role");
	config_free(&cfg);
}

static void test_every_key(void)
{
	struct config cfg;

	is_int(load(&cfg,
		    "# every key, none at its default\n"
		    "db-uri = \"host=/tmp dbname=x\"\n"
		    "db-schemas = \"api,v2\"\n"
		    "db-anon-role = \"anon\"\n"
		    "db-extra-search-path = \"public, extensions\"\n"
		    "db-max-rows = 1000\n"
		    "db-pre-request = \"api.check\"\n"
		    "db-use-legacy-gucs = false\n"
		    "db-prepared-statements = false\n"
		    "db-channel = \"other\"\n"
		    "db-channel-enabled = false\n"
		    "db-tx-end = \"rollback-allow-override\"\n"
		    "jwt-secret = \"0123456789abcdef0123456789abcdef\"\n"
		    "jwt-secret-is-base64 = false\n"
		    "jwt-aud = \"https://example.com\"\n"
		    "jwt-role-claim-key = \".realm.role\"\n"
		    "jwt-optional = true\n"
		    "openapi-mode = \"disabled\"\n"
		    "openapi-server-proxy-uri = \"https://example.com/api\"\n"
		    "max-body-bytes = 65536\n"
		    "log-level = \"debug\"\n", no_env), 0,
	       "every key: loads");
	is_str(warn, "", "every key: no warnings");
	is_str(cfg.db_uri, "host=/tmp dbname=x", "db-uri");
	ok(cfg.n_db_schemas == 2 && strcmp(cfg.db_schemas[0], "api") == 0 &&
	   strcmp(cfg.db_schemas[1], "v2") == 0, "db-schemas");
	is_str(cfg.db_anon_role, "anon", "db-anon-role");
	ok(cfg.n_db_extra_search_path == 2 && strcmp(cfg.db_extra_search_path[1], "extensions") == 0,
	   "db-extra-search-path");
	is_int(cfg.db_max_rows, 1000, "db-max-rows");
	is_str(cfg.db_pre_request, "api.check", "db-pre-request");
	ok(!cfg.db_use_legacy_gucs, "db-use-legacy-gucs");
	ok(!cfg.db_prepared_statements, "db-prepared-statements");
	is_str(cfg.db_channel, "other", "db-channel");
	ok(!cfg.db_channel_enabled, "db-channel-enabled");
	is_str(cfg.db_tx_end, "rollback-allow-override", "db-tx-end");
	is_int(cfg.jwt_secret_len, 32, "jwt-secret");
	ok(!cfg.jwt_secret_is_base64, "jwt-secret-is-base64");
	is_str(cfg.jwt_aud, "https://example.com", "jwt-aud");
	is_str(cfg.role_claim_key, ".realm.role", "jwt-role-claim-key");
	ok(cfg.jwt_optional, "jwt-optional");
	is_str(cfg.openapi_mode, "disabled", "openapi-mode");
	is_str(cfg.openapi_server_proxy_uri, "https://example.com/api", "openapi-server-proxy-uri");
	is_int(cfg.max_body_bytes, 65536, "max-body-bytes");
	is_int(cfg.log_level, LOG_DEBUG, "log-level");
	config_free(&cfg);
}

static void test_aliases(void)
{
	struct config cfg;

	is_int(load(&cfg,
		    "db-schema = \"old\"\n"
		    "max-rows = 50\n"
		    "pre-request = \"check_user\"\n"
		    "role-claim-key = \".r\"\n"
		    "secret-is-base64 = true\n"
		    "jwt-secret = \"c2VjcmV0\"\n"
		    "db-pool-timeout = 10\n", no_env), 0,
	       "aliases: load");
	is_str(cfg.db_schemas[0], "old", "alias db-schema");
	is_int(cfg.db_max_rows, 50, "alias max-rows");
	is_str(cfg.db_pre_request_name, "check_user", "alias pre-request");
	is_str(cfg.role_claim_key, ".r", "alias role-claim-key");
	ok(cfg.jwt_secret_is_base64, "alias secret-is-base64");
	is_str(warn, at_path(":7: db-pool-timeout: ignored: pg_rest runs behind the web server\n"),
	       "alias db-pool-timeout warns under the name used");
	config_free(&cfg);
}

static void test_value_forms(void)
{
	struct config cfg;

	is_int(load(&cfg,
		    "db-max-rows = \"100\"\n"
		    "db-prepared-statements = \"false\"\n"
		    "db-channel-enabled = off\n"
		    "jwt-optional = on;\n"
		    "max-body-bytes = 99999999999\r\n"
		    "db-channel = \"\"\n"
		    "db-anon-role = \"\"\n"
		    "db-extra-search-path = \"\"\n"
		    "jwt-aud = \"a.b = on\" # key-like text in a string\n"
		    "db-uri = \"x\n"
		    "app.settings.y = on\"\n", no_env), 0,
	       "value forms: load");
	is_int(cfg.db_max_rows, 100, "integer as a string");
	ok(!cfg.db_prepared_statements, "boolean as a string");
	ok(!cfg.db_channel_enabled, "configurator's bare off");
	ok(cfg.jwt_optional, "bare on, trailing semicolon");
	is_int(cfg.max_body_bytes, 99999999999L, "integer beyond 32 bits (libconfig would wrap it)");
	is_str(cfg.db_channel, "pgrst", "empty string means the default");
	ok(cfg.db_anon_role == NULL, "empty string means unset");
	is_int(cfg.n_db_extra_search_path, 0, "empty db-extra-search-path means none");
	is_str(cfg.jwt_aud, "a.b = on", "strings are not rewritten");
	is_str(cfg.db_uri, "x\napp.settings.y = on", "multi-line strings are not rewritten");
	is_int(cfg.n_app_settings, 0, "no app setting from inside a string");
	config_free(&cfg);
}

static void test_errors(void)
{
	struct config cfg;

	is_int(load(&cfg, "db-uri = \"x\"\n\n# bad\ndb-max-rows = \"abc\"\n", no_env), -1,
	       "bad integer fails");
	is_str(err, at_path(":4: db-max-rows: expected an integer, got \"abc\""),
	       "bad integer: file, line and key");
	ok(is_zeroed(&cfg), "failed load leaves the struct zeroed");

	load(&cfg, "max-rows = true\n", no_env);
	is_str(err, at_path(":1: max-rows: expected an integer, got \"true\""),
	       "bad type names the alias used");
	load(&cfg, "db-max-rows = -2\n", no_env);
	is_str(err, at_path(":1: db-max-rows: must be at least -1, got -2"), "db-max-rows >= -1");
	load(&cfg, "db-channel-enabled = \"maybe\"\n", no_env);
	is_str(err, at_path(":1: db-channel-enabled: expected true or false, got \"maybe\""),
	       "bad boolean");
	load(&cfg, "db-tx-end = \"commmit\"\n", no_env);
	is_str(err, at_path(":1: db-tx-end: expected one of commit, commit-allow-override, "
			    "rollback, rollback-allow-override, got \"commmit\""), "bad db-tx-end");
	load(&cfg, "log-level = \"verbose\"\n", no_env);
	is_str(err, at_path(":1: log-level: expected one of crit, error, warn, info, debug, "
			    "got \"verbose\""), "bad log-level");
	load(&cfg, "openapi-mode = \"on\"\n", no_env);
	ok(strstr(err, ": openapi-mode: expected one of follow-privileges") != NULL,
	   "bad openapi-mode");
	load(&cfg, "db-schemas = [\"a\", \"b\"]\n", no_env);
	is_str(err, at_path(":1: db-schemas: expected a single value, not a list or group"),
	       "a list is refused");
	load(&cfg, "db-schemas = \" , \"\n", no_env);
	is_str(err, at_path(":1: db-schemas: no schema given"), "db-schemas must name a schema");
	load(&cfg, "db-schemas = \"api, pg_catalog\"\n", no_env);
	is_str(err, at_path(":1: db-schemas: schema \"pg_catalog\" cannot be exposed"),
	       "pg_catalog cannot be exposed");

	is_int(load(&cfg, "db-uri = \"x\"\ndb-anon-role = \"a\"\ndb-urii = \"x\"\n", no_env), -1,
	       "unknown key fails");
	is_str(err, at_path(":3: unknown key \"db-urii\""), "unknown key: file, line and key");
	load(&cfg, "foo.bar = 1\n", no_env);
	is_str(err, at_path(":1: unknown key \"foo.bar\""), "unknown dotted key");

	is_int(load(&cfg, "db-uri = \"x\"\ndb-anon-role = webanon\n\n", no_env), -1,
	       "syntax error fails");
	is_str(err, at_path(":2: syntax error"), "syntax error: file, line, libconfig's message");
	load(&cfg, "db-uri = \"x\"\ndb-uri = \"y\"\n", no_env);
	is_str(err, at_path(":2: duplicate setting name"), "duplicate key");

	is_int(config_load(&cfg, "/nonexistent/pg_rest.conf", no_env, err, sizeof(err),
			   warn, sizeof(warn)), -1, "missing file fails");
	is_str(err, "could not read configuration file \"/nonexistent/pg_rest.conf\": "
	       "No such file or directory", "missing file: path and strerror");
	ok(is_zeroed(&cfg), "missing file leaves the struct zeroed");
}

static void test_ignored_keys(void)
{
	struct config cfg;

	is_int(load(&cfg,
		    "server-host = \"*4\"\n"
		    "server-port = 3000\n"
		    "server-unix-socket = \"/tmp/s\"\n"
		    "server-unix-socket-mode = \"660\"\n"
		    "db-pool = 10\n"
		    "db-pool-acquisition-timeout = 10\n"
		    "db-pool-max-idletime = 30\n"
		    "db-pool-max-lifetime = 1800\n"
		    "db-pool-automatic-recovery = true\n"
		    "admin-server-port = 3001\n"
		    "server-otel-enabled = true\n"
		    "log-query = \"main-query\"\n", no_env), 0,
	       "ignored keys: accepted");
	is_int(count_lines(warn), 12, "ignored keys: one warning each");
	ok(strstr(warn, at_path(":11: server-otel-enabled: not supported yet, ignored\n")) != NULL,
	   "ignored keys: unimplemented features say so");
	ok(strstr(warn, at_path(":5: db-pool: ignored: pg_rest runs behind the web server\n")) != NULL,
	   "ignored keys: FastCGI-meaningless keys say so");
	config_free(&cfg);

	{
		char *env[] = { "PGRST_SERVER_PORT=3000", "PGRST_JWT_SECRT=x", NULL };

		is_int(load(&cfg, "server-port = 3000\n", env), 0, "ignored key in file and env");
		is_str(warn, at_path(":1: server-port: ignored: pg_rest runs behind the web server\n"
				     "environment variable PGRST_JWT_SECRT: unknown setting, ignored\n"),
		       "one warning per key; unknown PGRST_ variable warns");
		config_free(&cfg);
	}
}

static void test_env(void)
{
	struct config cfg;
	char *env[] = {
		"HOME=/root",
		"PGRST_DB_URI=postgres://env@host/db",
		"PGRST_DB_SCHEMA=alias_loses",
		"PGRST_DB_SCHEMAS=api, alt",
		"PGRST_DB_ANON_ROLE=webanon",
		"PGRST_JWT_SECRET=c2VjcmV0",
		"PGRST_JWT_SECRET_IS_BASE64=true",
		"PGRST_DB_MAX_ROWS=25",
		"PGRST_LOG_LEVEL=warn",
		"PGRST_APP_SETTINGS_JWT_EXP=3600",
		"PGRST_DB_URI=second_is_ignored",
		NULL,
	};
	char *bad[] = { "PGRST_DB_MAX_ROWS=abc", NULL };
	char *alias[] = { "PGRST_DB_SCHEMA=only_alias", "PGRST_MAX_ROWS=7", NULL };

	is_int(load(&cfg,
		    "db-uri = \"postgres://file@host/db\"\n"
		    "db-schemas = \"file\"\n"
		    "db-max-rows = 10\n"
		    "app.settings.jwt_exp = 60\n"
		    "app.settings.other = \"o\"\n", env), 0,
	       "env: loads");
	is_str(cfg.db_uri, "postgres://env@host/db", "env: PGRST_DB_URI wins over the file");
	ok(cfg.n_db_schemas == 2 && strcmp(cfg.db_schemas[0], "api") == 0 &&
	   strcmp(cfg.db_schemas[1], "alt") == 0, "env: PGRST_DB_SCHEMAS wins over its alias, trimmed");
	is_str(cfg.db_anon_role, "webanon", "env: PGRST_DB_ANON_ROLE");
	is_int(cfg.jwt_secret_len, 6, "env: PGRST_JWT_SECRET base64-decoded");
	ok(cfg.jwt_secret && memcmp(cfg.jwt_secret, "secret", 6) == 0, "env: secret bytes");
	is_int(cfg.db_max_rows, 25, "env: integer from text");
	is_int(cfg.log_level, LOG_WARN, "env: log level");
	is_int(cfg.n_app_settings, 2, "env: app settings merged");
	is_str(cfg.app_settings_names[0], "app.settings.jwt_exp", "app setting name from the file");
	is_str(cfg.app_settings_values[0], "3600", "app setting: env wins, case-insensitively");
	is_str(cfg.app_settings_values[1], "o", "app setting string");
	config_free(&cfg);

	is_int(load(&cfg, "db-max-rows = 10\n", bad), -1, "env: bad value fails");
	is_str(err, "environment variable PGRST_DB_MAX_ROWS: expected an integer, got \"abc\"",
	       "env: error names the variable");

	is_int(config_load(&cfg, NULL, alias, err, sizeof(err), warn, sizeof(warn)), 0,
	       "env: alias variables without a file");
	is_str(cfg.db_schemas[0], "only_alias", "env: PGRST_DB_SCHEMA");
	is_int(cfg.db_max_rows, 7, "env: PGRST_MAX_ROWS");
	config_free(&cfg);
}

static void test_interpolation(void)
{
	struct config cfg;
	char *env[] = { "DBUSER=alice", "ROLE=web anon", NULL };

	is_int(load(&cfg,
		    "db-uri = \"postgres://$(DBUSER)@host/$(NOPE)db$$x\"\n"
		    "db-anon-role = \"$(ROLE)\"\n"
		    "db-channel = \"$(unclosed\"\n"
		    "db-max-rows = \"$(NOPE)\"\n", env), 0,
	       "$(VAR): loads");
	is_str(cfg.db_uri, "postgres://alice@host/db$x", "$(VAR) replaced, missing is empty, $$ is $");
	is_str(cfg.db_anon_role, "web anon", "$(VAR) whole value");
	is_str(cfg.db_channel, "$(unclosed", "unclosed $( kept as is");
	is_int(cfg.db_max_rows, -1, "$(VAR) empty means the default");
	config_free(&cfg);
}

static void test_secrets(void)
{
	struct config cfg;
	char secret_file[64], conf[256];
	static const unsigned char binary[] = { 0xfb, 0xff, 0x00, 0x01 };

	is_int(load(&cfg, "jwt-secret = \"-_8AAQ\"\njwt-secret-is-base64 = true\n", no_env), 0,
	       "base64url without padding");
	ok(cfg.jwt_secret_len == 4 && memcmp(cfg.jwt_secret, binary, 4) == 0,
	   "base64url decodes to binary bytes");
	config_free(&cfg);
	is_int(load(&cfg, "jwt-secret = \"+/8AAQ==\"\njwt-secret-is-base64 = true\n", no_env), 0,
	       "standard base64 with padding");
	ok(cfg.jwt_secret_len == 4 && memcmp(cfg.jwt_secret, binary, 4) == 0,
	   "standard base64 decodes the same");
	config_free(&cfg);
	is_int(load(&cfg, "jwt-secret-is-base64 = true\njwt-secret = \"not base64!\"\n", no_env), -1,
	       "bad base64 fails");
	is_str(err, at_path(":2: jwt-secret: not valid base64 (jwt-secret-is-base64 is true)"),
	       "bad base64: file, line and key");
	load(&cfg, "jwt-secret-is-base64 = true\njwt-secret = \"abcde\"\n", no_env);
	ok(strstr(err, "not valid base64") != NULL, "base64 of impossible length fails");

	is_int(load(&cfg, "jwt-secret = \"\"\n", no_env), 0, "empty secret");
	ok(cfg.jwt_secret == NULL && cfg.jwt_secret_len == 0, "empty secret means no secret");
	config_free(&cfg);

	/* @/path: the secret is the file's content, one trailing newline dropped */
	write_temp("a_secret_read_from_a_file\n");
	strcpy(secret_file, path);
	snprintf(conf, sizeof(conf), "jwt-secret = \"@%s\"\n", secret_file);
	is_int(load(&cfg, conf, no_env), 0, "@file secret");
	is_int(cfg.jwt_secret_len, 25, "@file: newline dropped");
	ok(cfg.jwt_secret && memcmp(cfg.jwt_secret, "a_secret_read_from_a_file", 25) == 0,
	   "@file: content");
	config_free(&cfg);
	unlink(secret_file);

	write_temp("c2VjcmV0\n");
	strcpy(secret_file, path);
	snprintf(conf, sizeof(conf), "jwt-secret = \"@%s\"\njwt-secret-is-base64 = true\n",
		 secret_file);
	is_int(load(&cfg, conf, no_env), 0, "@file with base64");
	ok(cfg.jwt_secret_len == 6 && memcmp(cfg.jwt_secret, "secret", 6) == 0,
	   "@file with base64: decoded");
	config_free(&cfg);

	/* db-uri takes @file too (PostgREST does), trimmed */
	snprintf(conf, sizeof(conf), "db-uri = \"@%s\"\n", secret_file);
	is_int(load(&cfg, conf, no_env), 0, "@file db-uri");
	is_str(cfg.db_uri, "c2VjcmV0", "@file db-uri: content, trimmed");
	config_free(&cfg);
	unlink(secret_file);

	is_int(load(&cfg, "jwt-secret = \"@/nonexistent/secret\"\n", no_env), -1,
	       "missing secret file fails");
	is_str(err, at_path(":1: jwt-secret: could not read \"/nonexistent/secret\": "
			    "No such file or directory"), "missing secret file: message");
}

/* An EC P-256 public key, as PEM and as the same key's JWK members. */
#define EC_PEM "-----BEGIN PUBLIC KEY-----\n" \
	"MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEBNBAtJvjX70ljMNnB5lWYh14CNJ0\n" \
	"3Pmo7U/+wXGabWx6A2DQ1FXSMEsUu9ddx42kguWyuGHxAgP4QYqfQB9dTQ==\n" \
	"-----END PUBLIC KEY-----\n"
#define EC_JWK "{\"kty\":\"EC\",\"crv\":\"P-256\",\"kid\":\"k1\"," \
	"\"x\":\"BNBAtJvjX70ljMNnB5lWYh14CNJ03Pmo7U_-wXGabWw\"," \
	"\"y\":\"egNg0NRV0jBLFLvXXceNpILlsrhh8QID-EGKn0AfXU0\"}"

/* jwt-secret is read into keys once, at load; jwt-claims-type */
static void test_keys(void)
{
	struct config cfg;
	char secret_file[64], conf[512];
	char env_pem[512], env_jwk[512];
	char *env_pem_v[] = { env_pem, NULL };
	char *env_jwk_v[] = { env_jwk, NULL };

	is_int(load(&cfg, "jwt-secret = \"a-secret-of-at-least-thirty-two-characters\"\n",
		    no_env), 0, "HMAC secret loads");
	ok(cfg.jwt_keys != NULL, "HMAC secret: keys made at load");
	config_free(&cfg);
	ok(is_zeroed(&cfg), "config_free frees the keys and zeroes");

	/* PostgREST's @/path form with a PEM file */
	write_temp(EC_PEM);
	strcpy(secret_file, path);
	snprintf(conf, sizeof(conf), "jwt-secret = \"@%s\"\n", secret_file);
	is_int(load(&cfg, conf, no_env), 0, "@file PEM public key");
	ok(cfg.jwt_keys != NULL, "@file PEM: keys");
	config_free(&cfg);
	unlink(secret_file);

	/* a PEM in the variable, real newlines */
	snprintf(env_pem, sizeof(env_pem), "PGRST_JWT_SECRET=%s", EC_PEM);
	is_int(config_load(&cfg, NULL, env_pem_v, err, sizeof(err), warn, sizeof(warn)), 0,
	       "PEM in PGRST_JWT_SECRET");
	ok(cfg.jwt_keys != NULL, "PEM in the environment: keys");
	config_free(&cfg);

	/* a JWK in the file, quotes escaped as libconfig wants */
	is_int(load(&cfg, "jwt-secret = \"{\\\"keys\\\": [{\\\"kty\\\": \\\"EC\\\", "
		    "\\\"crv\\\": \\\"P-256\\\", "
		    "\\\"x\\\": \\\"BNBAtJvjX70ljMNnB5lWYh14CNJ03Pmo7U_-wXGabWw\\\", "
		    "\\\"y\\\": \\\"egNg0NRV0jBLFLvXXceNpILlsrhh8QID-EGKn0AfXU0\\\"}]}\"\n",
		    no_env), 0, "JWKS in the file");
	ok(cfg.jwt_keys != NULL, "JWKS in the file: keys");
	config_free(&cfg);
	snprintf(env_jwk, sizeof(env_jwk), "PGRST_JWT_SECRET=%s", EC_JWK);
	is_int(config_load(&cfg, NULL, env_jwk_v, err, sizeof(err), warn, sizeof(warn)), 0,
	       "JWK in PGRST_JWT_SECRET");
	config_free(&cfg);

	/* a key that can't be used stops the load, naming where it came from */
	write_temp("-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n");
	strcpy(secret_file, path);
	snprintf(conf, sizeof(conf), "db-schemas = \"api\"\njwt-secret = \"@%s\"\n", secret_file);
	is_int(load(&cfg, conf, no_env), -1, "private key file refused");
	is_str(err, at_path(":2: jwt-secret: PEM block 1 (PRIVATE KEY): a private key; give "
			    "jwt-secret the public key only (openssl pkey -pubout)"),
	       "private key: file, line, key and reason");
	ok(is_zeroed(&cfg), "private key: cfg left zeroed");
	unlink(secret_file);
	snprintf(env_jwk, sizeof(env_jwk), "PGRST_JWT_SECRET={\"kty\":\"RSA\",\"e\":\"AQAB\"}");
	is_int(config_load(&cfg, NULL, env_jwk_v, err, sizeof(err), warn, sizeof(warn)), -1,
	       "bad JWK in the environment refused");
	is_str(err, "environment variable PGRST_JWT_SECRET: the JWK: an RSA key needs \"n\" "
	       "and \"e\" in base64url", "bad JWK: message");

	/* jwt-claims-type */
	is_int(load(&cfg, "jwt-claims-type = \"api.token_claims\"\n", no_env), 0,
	       "jwt-claims-type loads");
	is_str(cfg.jwt_claims_type, "api.token_claims", "jwt-claims-type value");
	config_free(&cfg);
	{
		char env[] = "PGRST_JWT_CLAIMS_TYPE=my_claims";
		char *envp[] = { env, NULL };

		is_int(config_load(&cfg, NULL, envp, err, sizeof(err), warn, sizeof(warn)), 0,
		       "PGRST_JWT_CLAIMS_TYPE loads");
		is_str(cfg.jwt_claims_type, "my_claims", "PGRST_JWT_CLAIMS_TYPE value");
		is_str(warn, "", "PGRST_JWT_CLAIMS_TYPE: no warning");
		config_free(&cfg);
	}
}

static void test_pre_request(void)
{
	static const struct {
		const char *value, *schema, *name;
	} cases[] = {
		{ "public.check_user", "public", "check_user" },
		{ "check_user", NULL, "check_user" },
		{ "\\\"my.schema\\\".\\\"fn\\\"", "my.schema", "fn" },
		{ "\\\"a\\\"\\\"b\\\".c.d", "a\"b", "c.d" },
	};
	struct config cfg;
	char conf[256];

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		snprintf(conf, sizeof(conf), "db-pre-request = \"%s\"\n", cases[i].value);
		is_int(load(&cfg, conf, no_env), 0, "pre-request loads");
		is_str(cfg.db_pre_request_schema, cases[i].schema, "pre-request schema");
		is_str(cfg.db_pre_request_name, cases[i].name, "pre-request name");
		config_free(&cfg);
	}
	is_int(load(&cfg, "db-pre-request = \".fn\"\n", no_env), -1, "pre-request .fn fails");
	is_str(err, at_path(":1: db-pre-request: expected \"function\" or \"schema.function\", "
			    "got \".fn\""), "pre-request: message");
}

/* config_print() into a malloc'd string (caller frees) */
static char *printed(const struct config *cfg)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	config_print(cfg, f);
	fclose(f);
	return buf;
}

static bool has_line(const char *text, const char *line)
{
	size_t n = strlen(line);

	for (const char *p = text; p && *p; p = strchr(p, '\n') ? strchr(p, '\n') + 1 : NULL) {
		if (strncmp(p, line, n) == 0 && (p[n] == '\n' || p[n] == '\0'))
			return true;
	}
	return false;
}

static void test_print(void)
{
	static const struct {
		const char *uri, *want;
	} uris[] = {
		{ "postgresql://dbauth:mysecret@localhost:5432/demobase",
		  "postgresql://dbauth:********@localhost:5432/demobase" },
		{ "postgres://u:p%40ss@/db?host=/tmp&password=other&sslmode=require",
		  "postgres://u:********@/db?host=/tmp&password=********&sslmode=require" },
		{ "postgresql://dbauth@/db?host=/tmp&port=5432",
		  "postgresql://dbauth@/db?host=/tmp&port=5432" },
		{ "postgresql://host/db?application_name=a:b@c",
		  "postgresql://host/db?application_name=a:b@c" },
		{ "host=/tmp password='se cr\\'et' user=x",
		  "host=/tmp password=******** user=x" },
		{ "password = plain dbname=d",
		  "password = ******** dbname=d" },
		{ "dbname=d passwordx=visible",
		  "dbname=d passwordx=visible" },
	};
	struct config cfg;
	char line[512], *out, *out2, *keys = NULL;
	size_t keys_len = 0;
	FILE *f;

	for (size_t i = 0; i < sizeof(uris) / sizeof(uris[0]); i++) {
		char *envp[] = { line, NULL };

		snprintf(line, sizeof(line), "PGRST_DB_URI=%s", uris[i].uri);
		is_int(config_load(&cfg, NULL, envp, err, sizeof(err), warn, sizeof(warn)), 0,
		       "print: load db-uri %zu", i);
		out = printed(&cfg);
		/* the wanted text has no " or \, so it is printed as it is */
		snprintf(line, sizeof(line), "db-uri = \"%s\"", uris[i].want);
		if (!ok(has_line(out, line), "print: db-uri masked: %s", uris[i].want))
			printf("# %s", out);
		free(out);
		config_free(&cfg);
	}

	/* defaults: every key, "" for unset, ignored keys as comments */
	is_int(config_load(&cfg, NULL, no_env, err, sizeof(err), warn, sizeof(warn)), 0,
	       "print: defaults load");
	out = printed(&cfg);
	ok(has_line(out, "db-max-rows = -1"), "print: integer bare");
	ok(has_line(out, "db-schemas = \"public\""), "print: list quoted");
	ok(has_line(out, "db-anon-role = \"\"  # not set"), "print: unset string");
	ok(has_line(out, "jwt-secret = \"\"  # not set"), "print: no secret");
	ok(has_line(out, "jwt-optional = false"), "print: boolean bare");
	ok(has_line(out, "log-level = \"error\""), "print: log level by name");
	ok(has_line(out, "db-tx-end = \"commit\""), "print: choice quoted");
	ok(has_line(out, "# server-port: accepted and ignored (pg_rest runs behind the web server)"),
	   "print: a server key as a comment");
	ok(has_line(out, "# log-query: accepted and ignored (not supported yet)"),
	   "print: an unsupported key as a comment");

	/* each key of --list-keys: one value line, or one comment line if ignored */
	f = open_memstream(&keys, &keys_len);
	config_list_keys(f);
	fclose(f);
	int n_keys = 0, n_found = 0;

	for (char *k = strtok(keys, "\n"); k != NULL; k = strtok(NULL, "\n")) {
		char *tab = strchr(k, '\t');
		char want[256];

		if (tab == NULL || strncmp(k, "app.settings.", 13) == 0)
			continue;
		*tab = '\0';
		n_keys++;
		if (strncmp(tab + 1, "ignored\t", 8) == 0 || strncmp(tab + 1, "unsupported\t", 12) == 0)
			snprintf(want, sizeof(want), "\n# %s: accepted and ignored", k);
		else
			snprintf(want, sizeof(want), "\n%s = ", k);
		if (strstr(out, want) != NULL || strncmp(out, want + 1, strlen(want + 1)) == 0)
			n_found++;
		else
			printf("# not printed: %s\n", k);
	}
	ok(n_keys > 40, "list-keys: %d keys", n_keys);
	is_int(n_found, n_keys, "print: every key listed by --list-keys is printed");
	free(keys);
	free(out);
	config_free(&cfg);

	/* secrets */
	is_int(load(&cfg, "jwt-secret = \"a-secret-of-at-least-thirty-two-chars\"\n"
			  "app.settings.jwt_secret = \"app-secret-value\"\n"
			  "app.settings.api_key = \"key-value\"\n"
			  "app.settings.colour = \"blue\"\n", no_env), 0, "print: secrets load");
	out = printed(&cfg);
	ok(strstr(out, "thirty-two") == NULL, "print: jwt-secret not shown");
	ok(has_line(out, "jwt-secret = \"********\"  # set, 37 bytes"), "print: jwt-secret masked");
	ok(strstr(out, "app-secret-value") == NULL && has_line(out, "app.settings.jwt_secret = \"********\""),
	   "print: app.settings.jwt_secret masked");
	ok(strstr(out, "key-value") == NULL && has_line(out, "app.settings.api_key = \"********\""),
	   "print: app.settings.api_key masked");
	ok(has_line(out, "app.settings.colour = \"blue\""), "print: other app.settings shown");
	free(out);
	config_free(&cfg);

	/* the output loads again and prints the same */
	is_int(load(&cfg, "db-channel = \"a\\\"b\\\\c$$(x)$$$$d\\te\\n\"\n"
			  "db-schemas = \"api, v2 ,public\"\n"
			  "db-extra-search-path = \"\"\n"
			  "db-max-rows = 12345678901\n"
			  "db-pre-request = \"\\\"my.schema\\\".check\"\n"
			  "log-level = \"debug\"\n", no_env), 0, "print: round trip: load");
	out = printed(&cfg);
	if (!ok(has_line(out, "db-channel = \"a\\\"b\\\\c$$(x)$$$d\\te\\n\""),
		"print: quotes, backslashes, $$ and escapes"))
		printf("# %s", out);
	ok(has_line(out, "db-schemas = \"api, v2, public\""), "print: list joined");
	ok(has_line(out, "db-extra-search-path = \"\""), "print: empty list");
	ok(has_line(out, "db-max-rows = 12345678901"), "print: long integer");
	config_free(&cfg);
	if (!is_int(load(&cfg, out, no_env), 0, "print: round trip: the output loads"))
		printf("# %s\n", err);
	out2 = printed(&cfg);
	is_str(out2, out, "print: round trip: and prints the same");
	is_str(cfg.db_channel, "a\"b\\c$(x)$$d\te\n", "print: round trip: db-channel");
	is_int(cfg.n_db_extra_search_path, 0, "print: round trip: empty list stays empty");
	free(out);
	free(out2);
	config_free(&cfg);
}

/* pg_rest's db-replica-uri and db-replica-max-lag (replica.c) */
static void test_replica(void)
{
	struct config cfg;
	char *env[] = { "PGRST_DB_REPLICA_URI=host=standby", "PGRST_DB_REPLICA_MAX_LAG=3", NULL };
	char *off[] = { "PGRST_DB_REPLICA_URI=", NULL };

	is_int(load(&cfg, "", no_env), 0, "replica: defaults load");
	ok(cfg.db_replica_uri == NULL, "replica: no db-replica-uri by default");
	is_int(cfg.db_replica_max_lag, 10, "replica: db-replica-max-lag 10 by default");
	config_free(&cfg);

	is_int(load(&cfg, "db-replica-uri = \"postgres://a@standby/db\"\ndb-replica-max-lag = 0\n", no_env),
	       0, "replica: both keys load");
	is_str(cfg.db_replica_uri, "postgres://a@standby/db", "replica: db-replica-uri");
	is_int(cfg.db_replica_max_lag, 0, "replica: max lag 0 (no check)");
	config_free(&cfg);

	is_int(load(&cfg, "db-replica-uri = \"postgres://a@file/db\"\n", env), 0, "replica: env loads");
	is_str(cfg.db_replica_uri, "host=standby", "replica: PGRST_DB_REPLICA_URI wins");
	is_int(cfg.db_replica_max_lag, 3, "replica: PGRST_DB_REPLICA_MAX_LAG");
	config_free(&cfg);

	is_int(load(&cfg, "db-replica-uri = \"postgres://a@file/db\"\n", off), 0, "replica: empty env loads");
	ok(cfg.db_replica_uri == NULL, "replica: an empty value is no replica");
	config_free(&cfg);

	is_int(load(&cfg, "db-replica-max-lag = -1\n", no_env), -1, "replica: negative lag refused");
	ok(strstr(err, "db-replica-max-lag") != NULL, "replica: the error names the key");
	is_int(load(&cfg, "db-replica-uri = \"@/nonexistent/uri\"\n", no_env), -1,
	       "replica: @file that cannot be read");
	ok(strstr(err, "db-replica-uri: could not read") != NULL, "replica: the error names the key");
}

/* db-config: pgrst.* settings from the database over the file and the environment */
static void test_db_settings(void)
{
	struct config cfg;
	char *env[] = { "PGRST_DB_MAX_ROWS=7", NULL };
	const char *names[] = { "pgrst.db_schemas", "pgrst.db_max_rows", "pgrst.jwt_aud",
				"pgrst.db_hoisted_tx_settings" };
	const char *values[] = { "api2, api3", "9", "me", "statement_timeout" };
	const char *bad[] = { "api", "lots" };
	int rc;

	write_temp("db-schemas = \"api\"\ndb-pre-config = \"conf.\\\"Pre\\\"\"\n");
	rc = config_load_db(&cfg, path, env, names, values, 4, err, sizeof(err), warn, sizeof(warn));
	is_int(rc, 0, "db settings: load");
	is_int(cfg.n_db_schemas, 2, "db settings: db-schemas from the database");
	is_str(cfg.db_schemas[1], "api3", "db settings: the list split");
	is_int((int)cfg.db_max_rows, 9, "db settings: the database beats the environment");
	is_str(cfg.jwt_aud, "me", "db settings: jwt-aud");
	ok(cfg.db_config, "db-config defaults to true");
	is_str(cfg.db_pre_config_schema, "conf", "db-pre-config: schema");
	is_str(cfg.db_pre_config_name, "Pre", "db-pre-config: name unquoted");
	is_int(cfg.n_db_hoisted_tx_settings, 1, "db settings: db-hoisted-tx-settings");
	is_str(cfg.db_hoisted_tx_settings[0], "statement_timeout", "db settings: its value");
	config_free(&cfg);

	rc = config_load_db(&cfg, path, no_env, names, bad, 2, err, sizeof(err), warn, sizeof(warn));
	is_int(rc, -1, "db settings: a bad value fails the load");
	is_str(err, "in-database setting pgrst.db_max_rows: expected an integer, got \"lots\"",
	       "db settings: the error names the setting");
	unlink(path);

	const char *const *list = config_db_setting_names();
	int n = 0;

	for (; list[n]; n++)
		ok(strncmp(list[n], "pgrst.", 6) == 0 && strchr(list[n], '-') == NULL,
		   "db setting name %s", list[n]);
	is_int(n, 23, "PostgREST v12's list of in-database settings");
}

int main(void)
{
	test_defaults();
	test_postgrest_conf();
	test_every_key();
	test_aliases();
	test_value_forms();
	test_errors();
	test_ignored_keys();
	test_env();
	test_interpolation();
	test_secrets();
	test_pre_request();
	test_keys();
	test_replica();
	test_db_settings();
	test_print();
	return done_testing();
}
