/*
 * config.c — read pg_rest.conf (a postgrest.conf) and PGRST_* variables.
 *
 * The file is parsed by libconfig.  PostgREST's own format (Haskell
 * configurator) is nearly the same "key = value" language; the few forms
 * libconfig does not know are rewritten before parsing (rewrite_text).
 *
 * Every key is one row of keys[] below: name, PostgREST alias, type, field
 * of struct config, default.  Defaults, file values and environment values
 * all arrive as text and go through the same set_value(), so a key behaves
 * the same whichever way it is given.  Order: defaults, then the file, then
 * the environment; checks that need the final value (secret file, base64,
 * keys, pre-request splitting) run last, in finish().
 *
 * memory: everything hanging off struct config is malloc'd and released by
 * config_free(); the configuration outlives requests, so no arena is used.
 */
#include "config.h"

#include "auth.h"

#include <ctype.h>
#include <errno.h>
#include <libconfig.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/evp.h>

enum cf_type {
	CF_STR,         /* char * */
	CF_LIST,        /* char ** + count: comma-separated, items trimmed */
	CF_INT,         /* long, at least key->min */
	CF_BOOL,        /* bool */
	CF_ENUM,        /* char *, one of key->choices */
	CF_LEVEL,       /* enum log_level: index into key->choices */
	CF_SECRET,      /* jwt-secret: bytes + length, see finish_secret() */
	CF_SERVER,      /* accepted with a warning: the web server does this */
	CF_LATER,       /* accepted with a warning: not implemented yet */
};

struct cf_key {
	const char *name;
	const char *alias;              /* older PostgREST name, or NULL */
	enum cf_type type;
	size_t off;                     /* field in struct config */
	size_t count_off;               /* CF_LIST: its count field */
	const char *def;                /* default as text; NULL = unset */
	const char *const *choices;     /* CF_ENUM, CF_LEVEL */
	long min;                       /* CF_INT */
};

static const char *const tx_ends[] = {
	"commit", "commit-allow-override", "rollback", "rollback-allow-override", NULL
};
static const char *const openapi_modes[] = {
	"follow-privileges", "ignore-privileges", "disabled", NULL
};
/* in enum log_level order */
static const char *const log_levels[] = {
	"crit", "error", "warn", "info", "debug", NULL
};

#define F(field) offsetof(struct config, field)
#define STR(n, a, f, d)         { n, a, CF_STR, F(f), 0, d, NULL, 0 }
#define LIST(n, a, f, d)        { n, a, CF_LIST, F(f), F(n_##f), d, NULL, 0 }
#define INT(n, a, f, d, min)    { n, a, CF_INT, F(f), 0, d, NULL, min }
#define BOOL(n, a, f, d)        { n, a, CF_BOOL, F(f), 0, d, NULL, 0 }
#define ENUM(n, a, f, d, ch)    { n, a, CF_ENUM, F(f), 0, d, ch, 0 }
#define LEVEL(n, a, f, d)       { n, a, CF_LEVEL, F(f), 0, d, log_levels, 0 }
#define SECRET(n, a)            { n, a, CF_SECRET, 0, 0, NULL, NULL, 0 }
#define SERVER(n, a)            { n, a, CF_SERVER, 0, 0, NULL, NULL, 0 }
#define LATER(n, a)             { n, a, CF_LATER, 0, 0, NULL, NULL, 0 }

static const struct cf_key keys[] = {
	/* name                       alias               field                    default */
	STR("db-uri",                 NULL,               db_uri,                  ""),
	LIST("db-schemas",            "db-schema",        db_schemas,              "public"),
	STR("db-anon-role",           NULL,               db_anon_role,            NULL),
	LIST("db-extra-search-path",  NULL,               db_extra_search_path,    "public"),
	INT("db-max-rows",            "max-rows",         db_max_rows,             "-1", -1),
	STR("db-pre-request",         "pre-request",      db_pre_request,          NULL),
	BOOL("db-use-legacy-gucs",    NULL,               db_use_legacy_gucs,      "true"),
	BOOL("db-prepared-statements", NULL,              db_prepared_statements,  "true"),
	BOOL("db-plan-enabled",        NULL,              db_plan_enabled,         "false"),
	BOOL("db-aggregates-enabled",  NULL,              db_aggregates_enabled,   "false"),
	BOOL("db-config",              NULL,              db_config,               "true"),
	STR("db-pre-config",          NULL,               db_pre_config,           NULL),
	STR("db-root-spec",           "root-spec",        db_root_spec,            NULL),
	LIST("db-hoisted-tx-settings", NULL,              db_hoisted_tx_settings,
	     "statement_timeout, plan_filter.statement_cost_limit, default_transaction_isolation"),
	STR("db-channel",             NULL,               db_channel,              "pgrst"),
	BOOL("db-channel-enabled",    NULL,               db_channel_enabled,      "true"),
	ENUM("db-tx-end",             NULL,               db_tx_end,               "commit", tx_ends),
	STR("db-replica-uri",         NULL,               db_replica_uri,          NULL),
	INT("db-replica-max-lag",     NULL,               db_replica_max_lag,      "10", 0),
	SECRET("jwt-secret",          NULL),
	BOOL("jwt-secret-is-base64",  "secret-is-base64", jwt_secret_is_base64,    "false"),
	STR("jwt-aud",                NULL,               jwt_aud,                 NULL),
	STR("jwt-role-claim-key",     "role-claim-key",   role_claim_key,          ".role"),
	BOOL("jwt-optional",          NULL,               jwt_optional,            "false"),
	STR("jwt-claims-type",        NULL,               jwt_claims_type,         "jwt_claims"),
	INT("jwt-cache-max-lifetime", NULL,               jwt_cache_max_lifetime,  "0", 0),
	INT("jwt-cache-max-entries",  NULL,               jwt_cache_max_entries,   "1000", 0),
	ENUM("openapi-mode",          NULL,               openapi_mode,            "follow-privileges", openapi_modes),
	STR("openapi-server-proxy-uri", NULL,             openapi_server_proxy_uri, NULL),
	BOOL("openapi-security-active", NULL,             openapi_security_active, "false"),
	LIST("server-cors-allowed-origins", NULL,         server_cors_allowed_origins, NULL),
	STR("server-trace-header",    NULL,               server_trace_header,     NULL),
	BOOL("server-timing-enabled", NULL,               server_timing_enabled,   "false"),
	INT("max-body-bytes",         NULL,               max_body_bytes,          "10485760", 0),
	LEVEL("log-level",            NULL,               log_level,               "error"),

	/* the web server listens, and each worker holds one connection */
	SERVER("server-host",                 NULL),
	SERVER("server-port",                 NULL),
	SERVER("server-unix-socket",          NULL),
	SERVER("server-unix-socket-mode",     NULL),
	SERVER("admin-server-host",           NULL),
	SERVER("admin-server-port",           NULL),
	SERVER("db-pool",                     NULL),
	SERVER("db-pool-max-idletime",        "db-pool-timeout"),
	SERVER("db-pool-acquisition-timeout", NULL),
	SERVER("db-pool-max-lifetime",        NULL),
	SERVER("db-pool-automatic-recovery",  NULL),

	/* PostgREST features pg_rest does not have yet */
	LATER("server-otel-enabled",          NULL),
	LATER("db-timezone-enabled",          NULL),
	LATER("client-error-verbosity",       NULL),
	LATER("log-query",                    NULL),
};

#define N_KEYS ((int) (sizeof(keys) / sizeof(keys[0])))

#define APP_SETTINGS_PREFIX "app.settings."
#define ENV_PREFIX "PGRST_"
#define ENV_APP_PREFIX "PGRST_APP_SETTINGS_"

/* Where a key's current value came from, for error messages. */
struct origin {
	const char *spelled;    /* name as written in the file (may be the alias) */
	int line;               /* file line, 0 = not from the file */
	const char *var;        /* environment entry "NAME=value", or NULL */
	const char *db;         /* in-database setting "pgrst.name", or NULL */
};

struct loader {
	struct config *cfg;
	const char *path;
	char *const *envp;
	char *err;
	size_t errlen;
	char *warn;
	size_t warnlen;
	struct origin origin[N_KEYS];
	bool warned[N_KEYS];
};

/* ------------------------------------------------------------------------
 * small helpers
 */

/* Like the arena: running out of memory at start-up is fatal. */
static void *xrealloc(void *p, size_t n)
{
	p = realloc(p, n ? n : 1);
	if (p == NULL) {
		fprintf(stderr, "pg_rest: out of memory (allocating %zu bytes)\n", n);
		abort();
	}
	return p;
}

static void *xmalloc(size_t n)
{
	return xrealloc(NULL, n);
}

static char *xstrndup(const char *s, size_t n)
{
	char *p = xmalloc(n + 1);

	memcpy(p, s, n);
	p[n] = '\0';
	return p;
}

static char *xstrdup(const char *s)
{
	return xstrndup(s, strlen(s));
}

static void free_list(char **items, int n)
{
	for (int i = 0; i < n; i++)
		free(items[i]);
	free(items);
}

/* Length of an environment entry's name, i.e. up to the '='. */
static int var_name_len(const char *entry)
{
	const char *eq = strchr(entry, '=');

	return eq ? (int) (eq - entry) : (int) strlen(entry);
}

/* getenv() on envp, for a name that need not be NUL-terminated. */
static const char *env_lookup(char *const *envp, const char *name, size_t len)
{
	for (; envp && *envp; envp++) {
		if (strncmp(*envp, name, len) == 0 && (*envp)[len] == '=')
			return *envp + len + 1;
	}
	return NULL;
}

/* Read a whole file into a NUL-terminated malloc'd buffer; NULL + errno on failure. */
static char *read_file(const char *path, size_t *lenp)
{
	FILE *f = fopen(path, "rb");
	char *buf = NULL;
	size_t len = 0, cap = 0, n;

	if (f == NULL)
		return NULL;
	do {
		if (cap - len < 4096) {
			cap = cap ? cap * 2 : 8192;
			buf = xrealloc(buf, cap);
		}
		n = fread(buf + len, 1, cap - len - 1, f);
		len += n;
	} while (n > 0);
	if (ferror(f)) {
		int saved = errno ? errno : EIO;

		free(buf);
		fclose(f);
		errno = saved;
		return NULL;
	}
	fclose(f);
	buf[len] = '\0';
	if (lenp)
		*lenp = len;
	return buf;
}

/* ------------------------------------------------------------------------
 * messages
 */

/* "file:7: key" or "environment variable PGRST_KEY" */
static void origin_text(const struct loader *ld, int k, char *buf, size_t size)
{
	const struct origin *o = &ld->origin[k];

	if (o->db)
		snprintf(buf, size, "in-database setting %s", o->db);
	else if (o->var)
		snprintf(buf, size, "environment variable %.*s",
			 var_name_len(o->var), o->var);
	else if (o->line > 0)
		snprintf(buf, size, "%s:%d: %s", ld->path, o->line, o->spelled);
	else
		snprintf(buf, size, "default of %s", keys[k].name);
}

static int failf(struct loader *ld, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static int failf(struct loader *ld, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(ld->err, ld->errlen, fmt, ap);
	va_end(ap);
	return -1;
}

/* An error about key k, prefixed with where its value came from. */
static int fail_key(struct loader *ld, int k, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int fail_key(struct loader *ld, int k, const char *fmt, ...)
{
	char where[512], msg[512];
	va_list ap;

	origin_text(ld, k, where, sizeof(where));
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	return failf(ld, "%s: %s", where, msg);
}

/* Append one line to the warning buffer, silently cut when it is full. */
static void warnf(struct loader *ld, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void warnf(struct loader *ld, const char *fmt, ...)
{
	size_t used;
	va_list ap;

	if (ld->warn == NULL || ld->warnlen == 0)
		return;
	used = strlen(ld->warn);
	if (used + 1 >= ld->warnlen)
		return;
	va_start(ap, fmt);
	vsnprintf(ld->warn + used, ld->warnlen - used, fmt, ap);
	va_end(ap);
}

static void warn_key(struct loader *ld, int k, const char *msg)
{
	char where[512];

	origin_text(ld, k, where, sizeof(where));
	warnf(ld, "%s: %s\n", where, msg);
}

/* ------------------------------------------------------------------------
 * converting text to values
 */

static bool parse_bool(const char *s, bool *out)
{
	static const char *const yes[] = { "true", "on", "yes", "1", NULL };
	static const char *const no[] = { "false", "off", "no", "0", NULL };

	for (int i = 0; yes[i]; i++) {
		if (strcasecmp(s, yes[i]) == 0) {
			*out = true;
			return true;
		}
		if (strcasecmp(s, no[i]) == 0) {
			*out = false;
			return true;
		}
	}
	return false;
}

static bool parse_long(const char *s, long *out)
{
	char *end;

	errno = 0;
	*out = strtol(s, &end, 10);
	while (isspace((unsigned char) *end))
		end++;
	return end != s && *end == '\0' && errno == 0;
}

static int choice_index(const char *const *choices, const char *s)
{
	for (int i = 0; choices[i]; i++) {
		if (strcmp(choices[i], s) == 0)
			return i;
	}
	return -1;
}

/* "a, b,,c " -> {"a", "b", "c"}: items trimmed, empty ones dropped. */
static char **split_list(const char *s, int *np)
{
	char **items = xmalloc((strlen(s) / 2 + 2) * sizeof(char *));
	int n = 0;

	while (*s) {
		const char *end = strchr(s, ',');
		const char *stop = end ? end : s + strlen(s);
		const char *a = s, *b = stop;

		while (a < b && isspace((unsigned char) *a))
			a++;
		while (b > a && isspace((unsigned char) b[-1]))
			b--;
		if (b > a)
			items[n++] = xstrndup(a, b - a);
		s = end ? end + 1 : stop;
	}
	*np = n;
	return items;
}

static int fail_choice(struct loader *ld, int k, const char *got)
{
	const char *const *ch = keys[k].choices;
	char list[256] = "";

	for (int i = 0; ch[i]; i++) {
		size_t used = strlen(list);

		snprintf(list + used, sizeof(list) - used, "%s%s", i ? ", " : "", ch[i]);
	}
	return fail_key(ld, k, "expected one of %s, got \"%s\"", list, got);
}

/*
 * Give key k the value text (a default, a file value or an environment
 * value, all as text).  An empty value means "unset" as in PostgREST: the
 * default applies.  Lists are the exception: db-extra-search-path = ""
 * means no extra schemas.
 */
static int set_value(struct loader *ld, int k, const char *text)
{
	const struct cf_key *key = &keys[k];
	char *field = (char *) ld->cfg + key->off;
	long n;
	bool b;
	int i;

	if (*text == '\0' && key->type != CF_LIST && key->def)
		text = key->def;

	switch (key->type) {
	case CF_STR:
		free(*(char **) field);
		*(char **) field = (*text || key->def) ? xstrdup(text) : NULL;
		return 0;
	case CF_LIST:
		free_list(*(char ***) field, *(int *) ((char *) ld->cfg + key->count_off));
		*(char ***) field = split_list(text, (int *) ((char *) ld->cfg + key->count_off));
		return 0;
	case CF_INT:
		if (!parse_long(text, &n))
			return fail_key(ld, k, "expected an integer, got \"%s\"", text);
		if (n < key->min)
			return fail_key(ld, k, "must be at least %ld, got %ld", key->min, n);
		*(long *) field = n;
		return 0;
	case CF_BOOL:
		if (!parse_bool(text, &b))
			return fail_key(ld, k, "expected true or false, got \"%s\"", text);
		*(bool *) field = b;
		return 0;
	case CF_ENUM:
	case CF_LEVEL:
		i = choice_index(key->choices, text);
		if (i < 0)
			return fail_choice(ld, k, text);
		if (key->type == CF_LEVEL) {
			*(enum log_level *) field = (enum log_level) i;
		} else {
			free(*(char **) field);
			*(char **) field = xstrdup(text);
		}
		return 0;
	case CF_SECRET:
		/* kept as text until finish_secret(): "@file" and base64 are decoded there */
		free(ld->cfg->jwt_secret);
		ld->cfg->jwt_secret = *text ? (unsigned char *) xstrdup(text) : NULL;
		ld->cfg->jwt_secret_len = strlen(text);
		return 0;
	case CF_SERVER:
	case CF_LATER:
		break;
	}
	return 0;
}

/* ------------------------------------------------------------------------
 * keys
 */

/* Index of the key called name (or by its alias), -1 if none; *spelled = table's spelling. */
static int find_key(const char *name, const char **spelled)
{
	for (int k = 0; k < N_KEYS; k++) {
		const char *hit = NULL;

		if (strcmp(keys[k].name, name) == 0)
			hit = keys[k].name;
		else if (keys[k].alias && strcmp(keys[k].alias, name) == 0)
			hit = keys[k].alias;
		if (hit) {
			if (spelled)
				*spelled = hit;
			return k;
		}
	}
	return -1;
}

static bool is_ignored(int k)
{
	return keys[k].type == CF_SERVER || keys[k].type == CF_LATER;
}

/* Keys that mean nothing to pg_rest: one warning each, however often given. */
static void warn_ignored(struct loader *ld, int k)
{
	if (ld->warned[k])
		return;
	ld->warned[k] = true;
	warn_key(ld, k, keys[k].type == CF_SERVER
		 ? "ignored: pg_rest runs behind the web server"
		 : "not supported yet, ignored");
}

/* Set app.settings.<x>.  GUC names are case-insensitive, so is the match. */
static void set_app_setting(struct config *cfg, const char *name, const char *value)
{
	int n = cfg->n_app_settings;

	for (int i = 0; i < n; i++) {
		if (strcasecmp(cfg->app_settings_names[i], name) == 0) {
			free(cfg->app_settings_values[i]);
			cfg->app_settings_values[i] = xstrdup(value);
			return;
		}
	}
	cfg->app_settings_names = xrealloc(cfg->app_settings_names, (n + 1) * sizeof(char *));
	cfg->app_settings_values = xrealloc(cfg->app_settings_values, (n + 1) * sizeof(char *));
	cfg->app_settings_names[n] = xstrdup(name);
	cfg->app_settings_values[n] = xstrdup(value);
	cfg->n_app_settings = n + 1;
}

static bool is_app_setting(const char *name)
{
	size_t n = strlen(APP_SETTINGS_PREFIX);

	return strncmp(name, APP_SETTINGS_PREFIX, n) == 0 && name[n] != '\0';
}

/* ------------------------------------------------------------------------
 * the file
 */

/*
 * libconfig and PostgREST's configurator read almost the same language.
 * Three PostgREST forms are rewritten so that libconfig accepts them, each
 * only in "key = value" at the start of a line outside strings and comments,
 * and never adding or removing a line, so libconfig's line numbers stay true:
 *
 *   app.settings.x = ...   libconfig names cannot contain '.'; it becomes
 *                          '*', which libconfig allows and no PostgREST key
 *                          contains, and load_setting() turns back
 *   key = on / off         configurator booleans; become true / false
 *   key = 12345678901      libconfig 1.5 silently wraps a plain integer
 *                          that does not fit in an int; its 'L' suffix makes
 *                          the value a 64-bit integer
 */
enum scan_state {
	IN_CODE,
	IN_STRING,
	IN_COMMENT,
};

/* The scanner state at the end of line [p, end), given the state at its start. */
static enum scan_state scan_line(const char *p, const char *end, enum scan_state st)
{
	for (; p < end; p++) {
		if (st == IN_STRING) {
			if (*p == '\\' && p + 1 < end)
				p++;
			else if (*p == '"')
				st = IN_CODE;
		} else if (st == IN_COMMENT) {
			if (*p == '*' && p + 1 < end && p[1] == '/') {
				p++;
				st = IN_CODE;
			}
		} else if (*p == '"') {
			st = IN_STRING;
		} else if (*p == '#' || (*p == '/' && p + 1 < end && p[1] == '/')) {
			break;
		} else if (*p == '/' && p + 1 < end && p[1] == '*') {
			p++;
			st = IN_COMMENT;
		}
	}
	return st;
}

static bool is_value_end(const char *p, const char *end)
{
	return p == end || *p == ' ' || *p == '\t' || *p == '\r' ||
	       *p == ';' || *p == ',' || *p == '#' || *p == '/';
}

static bool is_key_char(char c)
{
	return isalnum((unsigned char) c) || c == '-' || c == '_' || c == '.';
}

/* Length of the bare word w at p, if it is there; else 0. */
static size_t word_at(const char *p, const char *end, const char *w)
{
	size_t n = strlen(w);

	if ((size_t) (end - p) >= n && memcmp(p, w, n) == 0 && is_value_end(p + n, end))
		return n;
	return 0;
}

/* Length of a bare decimal integer at p; else 0. */
static size_t integer_at(const char *p, const char *end)
{
	const char *q = p;

	if (q < end && (*q == '-' || *q == '+'))
		q++;
	if (q == end || !isdigit((unsigned char) *q))
		return 0;
	while (q < end && isdigit((unsigned char) *q))
		q++;
	return is_value_end(q, end) ? (size_t) (q - p) : 0;
}

static char *copy_out(char *out, const char *p, const char *end)
{
	memcpy(out, p, end - p);
	return out + (end - p);
}

static char *put_str(char *out, const char *s)
{
	return copy_out(out, s, s + strlen(s));
}

/* Copy line [p, end), which starts outside strings and comments, rewritten. */
static char *rewrite_line(char *out, const char *p, const char *end)
{
	const char *key, *q;
	size_t n;

	while (p < end && (*p == ' ' || *p == '\t'))
		*out++ = *p++;
	key = p;
	if (p < end && isalpha((unsigned char) *p)) {
		while (p < end && is_key_char(*p))
			p++;
	}
	q = p;
	while (q < end && (*q == ' ' || *q == '\t'))
		q++;
	if (p == key || q == end || (*q != '=' && *q != ':'))
		return copy_out(out, key, end);

	for (; key < p; key++)
		*out++ = *key == '.' ? '*' : *key;
	for (q++; q < end && (*q == ' ' || *q == '\t'); q++)
		;
	out = copy_out(out, p, q);
	p = q;

	if ((n = word_at(p, end, "on")) > 0) {
		out = put_str(out, "true");
	} else if ((n = word_at(p, end, "off")) > 0) {
		out = put_str(out, "false");
	} else if ((n = integer_at(p, end)) > 0) {
		out = copy_out(out, p, p + n);
		*out++ = 'L';
	}
	return copy_out(out, p + n, end);
}

static char *rewrite_text(const char *src)
{
	char *out = xmalloc(strlen(src) * 3 + 4);   /* a line grows by 2 bytes at most */
	char *o = out;
	enum scan_state st = IN_CODE;

	/* a byte order mark left by a Windows editor */
	if (strncmp(src, "\xEF\xBB\xBF", 3) == 0)
		src += 3;
	while (*src) {
		const char *end = strchr(src, '\n');

		if (end == NULL)
			end = src + strlen(src);
		o = st == IN_CODE ? rewrite_line(o, src, end) : copy_out(o, src, end);
		st = scan_line(src, end, st);
		src = end;
		if (*src == '\n')
			*o++ = *src++;
	}
	*o = '\0';
	return out;
}

/*
 * PostgREST's interpolation in strings from the file: $(NAME) is the
 * environment variable NAME (empty when unset), $$ is a dollar sign.
 */
static char *interpolate(const char *s, char *const *envp)
{
	size_t cap = strlen(s) + 1, len = 0;
	char *out = xmalloc(cap);

	while (*s) {
		const char *piece = s, *close;
		size_t n = 1;

		if (s[0] == '$' && s[1] == '$') {
			s += 2;
		} else if (s[0] == '$' && s[1] == '(' && (close = strchr(s + 2, ')')) != NULL) {
			piece = env_lookup(envp, s + 2, close - (s + 2));
			if (piece == NULL)
				piece = "";
			n = strlen(piece);
			s = close + 1;
		} else {
			s++;
		}
		if (len + n + 1 > cap) {
			cap = (len + n + 1) * 2;
			out = xrealloc(out, cap);
		}
		memcpy(out + len, piece, n);
		len += n;
	}
	out[len] = '\0';
	return out;
}

/* A scalar setting as text, strings interpolated; NULL for lists and groups. */
static char *setting_text(const config_setting_t *s, char *const *envp)
{
	char buf[64];

	switch (config_setting_type(s)) {
	case CONFIG_TYPE_STRING:
		return interpolate(config_setting_get_string(s), envp);
	case CONFIG_TYPE_BOOL:
		return xstrdup(config_setting_get_bool(s) ? "true" : "false");
	case CONFIG_TYPE_INT:
		snprintf(buf, sizeof(buf), "%d", config_setting_get_int(s));
		break;
	case CONFIG_TYPE_INT64:
		snprintf(buf, sizeof(buf), "%lld", config_setting_get_int64(s));
		break;
	case CONFIG_TYPE_FLOAT:
		snprintf(buf, sizeof(buf), "%g", config_setting_get_float(s));
		break;
	default:
		return NULL;
	}
	return xstrdup(buf);
}

static int load_setting(struct loader *ld, const config_setting_t *s)
{
	char *name = xstrdup(config_setting_name(s));
	int line = (int) config_setting_source_line(s);
	const char *spelled = NULL;
	char *text = NULL;
	int k, rc = 0;

	for (char *c = name; *c; c++) {
		if (*c == '*')
			*c = '.';       /* undo rewrite_text() */
	}
	k = find_key(name, &spelled);
	if (k >= 0) {
		ld->origin[k] = (struct origin) { spelled, line, NULL, NULL };
		if (is_ignored(k)) {
			/* whatever its value: server-port may well be a bare int */
			warn_ignored(ld, k);
			goto out;
		}
	} else if (!is_app_setting(name)) {
		rc = failf(ld, "%s:%d: unknown key \"%s\"", ld->path, line, name);
		goto out;
	}

	text = setting_text(s, ld->envp);
	if (text == NULL)
		rc = failf(ld, "%s:%d: %s: expected a single value, not a list or group",
			   ld->path, line, name);
	else if (k >= 0)
		rc = set_value(ld, k, text);
	else
		set_app_setting(ld->cfg, name, text);
out:
	free(text);
	free(name);
	return rc;
}

static int load_file(struct loader *ld)
{
	config_t lc;
	config_setting_t *root;
	char *text, *fixed;
	int rc = 0;

	text = read_file(ld->path, NULL);
	if (text == NULL)
		return failf(ld, "could not read configuration file \"%s\": %s",
			     ld->path, strerror(errno));
	fixed = rewrite_text(text);
	free(text);

	config_init(&lc);
	if (!config_read_string(&lc, fixed)) {
		rc = failf(ld, "%s:%d: %s", ld->path, config_error_line(&lc),
			   config_error_text(&lc));
	} else {
		root = config_root_setting(&lc);
		for (int i = 0; rc == 0 && i < config_setting_length(root); i++)
			rc = load_setting(ld, config_setting_get_elem(root, i));
	}
	config_destroy(&lc);
	free(fixed);
	return rc;
}

/* ------------------------------------------------------------------------
 * the environment
 */

/* Is entry ("PGRST_DB_URI=...") the variable for key ("db-uri")? */
static bool env_is_for(const char *entry, const char *key)
{
	const char *p;

	if (key == NULL || strncmp(entry, ENV_PREFIX, strlen(ENV_PREFIX)) != 0)
		return false;
	for (p = entry + strlen(ENV_PREFIX); *key; key++, p++) {
		char want = (*key == '-' || *key == '.') ? '_' : (char) toupper((unsigned char) *key);

		if (*p != want)
			return false;
	}
	return *p == '=';
}

static const char *env_for(char *const *envp, const char *key)
{
	for (; envp && *envp; envp++) {
		if (env_is_for(*envp, key))
			return *envp;
	}
	return NULL;
}

/* PGRST_APP_SETTINGS_JWT_SECRET=x -> app.settings.jwt_secret = x */
static void load_env_app_setting(struct loader *ld, const char *entry)
{
	const char *p = entry + strlen(ENV_APP_PREFIX);
	size_t pre = strlen(APP_SETTINGS_PREFIX);
	int n = var_name_len(p);
	char *name;

	if (n == 0 || p[n] != '=')
		return;
	name = xmalloc(pre + n + 1);
	memcpy(name, APP_SETTINGS_PREFIX, pre);
	for (int i = 0; i < n; i++)
		name[pre + i] = (char) tolower((unsigned char) p[i]);
	name[pre + n] = '\0';
	set_app_setting(ld->cfg, name, p + n + 1);
	free(name);
}

/* A PGRST_ variable that names no key: most likely a typo worth seeing. */
static void check_env_known(struct loader *ld, const char *entry)
{
	for (int k = 0; k < N_KEYS; k++) {
		if (env_is_for(entry, keys[k].name) || env_is_for(entry, keys[k].alias))
			return;
	}
	warnf(ld, "environment variable %.*s: unknown setting, ignored\n",
	      var_name_len(entry), entry);
}

/* PGRST_<KEY> wins over the file; the current name wins over the alias. */
static int load_env(struct loader *ld)
{
	for (int k = 0; k < N_KEYS; k++) {
		const char *entry = env_for(ld->envp, keys[k].name);
		int rc;

		if (entry == NULL)
			entry = env_for(ld->envp, keys[k].alias);
		if (entry == NULL)
			continue;
		ld->origin[k] = (struct origin) { keys[k].name, 0, entry, NULL };
		if (is_ignored(k)) {
			warn_ignored(ld, k);
			continue;
		}
		rc = set_value(ld, k, strchr(entry, '=') + 1);
		if (rc < 0)
			return rc;
	}

	for (char *const *e = ld->envp; e && *e; e++) {
		if (strncmp(*e, ENV_APP_PREFIX, strlen(ENV_APP_PREFIX)) == 0)
			load_env_app_setting(ld, *e);
		else if (strncmp(*e, ENV_PREFIX, strlen(ENV_PREFIX)) == 0)
			check_env_known(ld, *e);
	}
	return 0;
}

/* ------------------------------------------------------------------------
 * after loading: values that need other keys, files or splitting
 */

static int check_schemas(struct loader *ld)
{
	struct config *cfg = ld->cfg;
	int k = find_key("db-schemas", NULL);

	if (cfg->n_db_schemas == 0)
		return fail_key(ld, k, "no schema given");
	for (int i = 0; i < cfg->n_db_schemas; i++) {
		/* PostgREST refuses these too: they are the catalogs, not an API */
		if (strcmp(cfg->db_schemas[i], "pg_catalog") == 0 ||
		    strcmp(cfg->db_schemas[i], "information_schema") == 0)
			return fail_key(ld, k, "schema \"%s\" cannot be exposed", cfg->db_schemas[i]);
	}
	return 0;
}

/*
 * db-uri = "@/path/file": the URI is the file's content (PostgREST does
 * this); db-replica-uri the same, so neither password need be in the file.
 */
static int finish_uri_file(struct loader *ld, const char *key, char **uri)
{
	char *text, *a, *b;

	if (*uri == NULL || (*uri)[0] != '@')
		return 0;
	text = read_file(*uri + 1, NULL);
	if (text == NULL)
		return fail_key(ld, find_key(key, NULL), "could not read \"%s\": %s",
				*uri + 1, strerror(errno));
	for (a = text; isspace((unsigned char) *a); a++)
		;
	for (b = a + strlen(a); b > a && isspace((unsigned char) b[-1]); b--)
		;
	free(*uri);
	*uri = xstrndup(a, b - a);
	free(text);
	return 0;
}

static int finish_db_uri(struct loader *ld)
{
	struct config *cfg = ld->cfg;

	if (finish_uri_file(ld, "db-uri", &cfg->db_uri) < 0 ||
	    finish_uri_file(ld, "db-replica-uri", &cfg->db_replica_uri) < 0)
		return -1;
	/* an empty value is no replica, as if the key were not given */
	if (cfg->db_replica_uri != NULL && cfg->db_replica_uri[0] == '\0') {
		free(cfg->db_replica_uri);
		cfg->db_replica_uri = NULL;
	}
	return 0;
}

/*
 * Standard or URL-safe base64, padding optional (PostgREST accepts both
 * alphabets and '.' for '=').  Returns the byte count, or -1 when text is
 * not base64.
 */
static long decode_base64(const char *in, size_t len, unsigned char **out)
{
	char *buf;
	size_t n = 0, pad;
	int got;

	while (len > 0 && isspace((unsigned char) in[0]))
		in++, len--;
	while (len > 0 && (isspace((unsigned char) in[len - 1]) ||
			   in[len - 1] == '=' || in[len - 1] == '.'))
		len--;
	if (len % 4 == 1)
		return -1;

	buf = xmalloc(len + 4);
	for (size_t i = 0; i < len; i++) {
		char c = in[i] == '-' ? '+' : in[i] == '_' ? '/' : in[i];

		if (!isalnum((unsigned char) c) && c != '+' && c != '/') {
			free(buf);
			return -1;
		}
		buf[n++] = c;
	}
	pad = (4 - n % 4) % 4;
	memset(buf + n, '=', pad);

	*out = xmalloc((n + pad) / 4 * 3 + 1);
	got = EVP_DecodeBlock(*out, (unsigned char *) buf, (int) (n + pad));
	free(buf);
	if (got < 0) {
		free(*out);
		*out = NULL;
		return -1;
	}
	/* EVP_DecodeBlock counts the zero bytes the padding stands for */
	return got - (long) pad;
}

/*
 * jwt-secret: "@/path" reads the secret from a file (one trailing newline
 * dropped, as PostgREST does); with jwt-secret-is-base64 it is decoded.
 */
static int finish_secret(struct loader *ld)
{
	struct config *cfg = ld->cfg;
	int k = find_key("jwt-secret", NULL);
	unsigned char *bytes;
	long n;

	if (cfg->jwt_secret == NULL)
		return 0;
	if (cfg->jwt_secret[0] == '@') {
		const char *file = (const char *) cfg->jwt_secret + 1;
		size_t len;
		char *text = read_file(file, &len);

		if (text == NULL)
			return fail_key(ld, k, "could not read \"%s\": %s", file, strerror(errno));
		if (len > 0 && text[len - 1] == '\n')
			text[--len] = '\0';
		if (len == 0) {
			free(text);
			return fail_key(ld, k, "secret file \"%s\" is empty", file);
		}
		free(cfg->jwt_secret);
		cfg->jwt_secret = (unsigned char *) text;
		cfg->jwt_secret_len = len;
	}
	if (!cfg->jwt_secret_is_base64)
		return 0;

	n = decode_base64((const char *) cfg->jwt_secret, cfg->jwt_secret_len, &bytes);
	if (n < 0)
		return fail_key(ld, k, "not valid base64 (jwt-secret-is-base64 is true)");
	if (n == 0) {
		free(bytes);
		return fail_key(ld, k, "decodes to an empty secret");
	}
	free(cfg->jwt_secret);
	cfg->jwt_secret = bytes;
	cfg->jwt_secret[n] = '\0';
	cfg->jwt_secret_len = (size_t) n;
	return 0;
}

/*
 * jwt-secret as keys, parsed here once and never per request: an HMAC
 * secret, PEM public keys, or a JWK / JWK Set (auth.c tells them apart).
 */
static int finish_keys(struct loader *ld)
{
	char msg[512];

	if (auth_load_keys(ld->cfg, msg, sizeof(msg)) < 0)
		return fail_key(ld, find_key("jwt-secret", NULL), "%s", msg);
	return 0;
}

/* "My Schema" -> My Schema ("" inside stands for "); bare names unchanged */
static char *unquote_ident(const char *s, size_t n)
{
	char *out, *o;

	if (n < 2 || s[0] != '"' || s[n - 1] != '"')
		return xstrndup(s, n);
	out = o = xmalloc(n);
	for (size_t i = 1; i < n - 1; i++) {
		*o++ = s[i];
		if (s[i] == '"' && s[i + 1] == '"')
			i++;
	}
	*o = '\0';
	return out;
}

/*
 * db-pre-request: split at the first '.' outside double quotes.  Quotes
 * are removed because whoever builds SQL quotes identifiers itself.
 */
static int split_function(struct loader *ld, const char *key, const char *s,
			  char **schema, char **name)
{
	const char *dot = NULL;
	bool quoted = false;

	if (s == NULL)
		return 0;
	for (const char *p = s; *p && dot == NULL; p++) {
		if (*p == '"')
			quoted = !quoted;
		else if (*p == '.' && !quoted)
			dot = p;
	}
	if (dot == s || (dot && dot[1] == '\0') || quoted)
		return fail_key(ld, find_key(key, NULL),
				"expected \"function\" or \"schema.function\", got \"%s\"", s);
	if (dot) {
		*schema = unquote_ident(s, dot - s);
		*name = unquote_ident(dot + 1, strlen(dot + 1));
	} else {
		*name = unquote_ident(s, strlen(s));
	}
	return 0;
}

static int finish_pre_request(struct loader *ld)
{
	struct config *cfg = ld->cfg;

	return split_function(ld, "db-pre-request", cfg->db_pre_request,
			      &cfg->db_pre_request_schema, &cfg->db_pre_request_name) < 0 ||
	       split_function(ld, "db-pre-config", cfg->db_pre_config,
			      &cfg->db_pre_config_schema, &cfg->db_pre_config_name) < 0 ? -1 : 0;
}

static int finish(struct loader *ld)
{
	if (check_schemas(ld) < 0 ||
	    finish_db_uri(ld) < 0 ||
	    finish_secret(ld) < 0 ||
	    finish_keys(ld) < 0 ||
	    finish_pre_request(ld) < 0)
		return -1;
	return 0;
}

/* ------------------------------------------------------------------------
 * entry points
 */

/*
 * In-database configuration (db-config): the settings PostgREST v12 reads
 * from the authenticator role (ALTER ROLE ... SET pgrst.db_schemas = ...)
 * or lets db-pre-config set, in its order.  Keys pg_rest does not have yet
 * are accepted and warned about, as in a file.
 */
static const char *const db_setting_names[] = {
	"pgrst.db_aggregates_enabled", "pgrst.db_anon_role", "pgrst.db_pre_config",
	"pgrst.db_extra_search_path", "pgrst.db_max_rows", "pgrst.db_plan_enabled",
	"pgrst.db_pre_request", "pgrst.db_prepared_statements", "pgrst.db_root_spec",
	"pgrst.db_schemas", "pgrst.db_tx_end", "pgrst.db_hoisted_tx_settings",
	"pgrst.jwt_aud", "pgrst.jwt_role_claim_key", "pgrst.jwt_secret",
	"pgrst.jwt_secret_is_base64", "pgrst.jwt_cache_max_lifetime", "pgrst.openapi_mode",
	"pgrst.openapi_security_active", "pgrst.openapi_server_proxy_uri",
	"pgrst.server_cors_allowed_origins", "pgrst.server_trace_header",
	"pgrst.server_timing_enabled", NULL
};

const char *const *config_db_setting_names(void)
{
	return db_setting_names;
}

/* "pgrst.db_schemas" -> the key db-schemas, if it is one of the list */
static int db_setting_key(const char *name)
{
	char dashed[64];
	size_t i;
	bool listed = false;

	for (const char *const *n = db_setting_names; *n && !listed; n++)
		listed = strcmp(*n, name) == 0;
	if (!listed || strlen(name) - 6 >= sizeof(dashed))
		return -1;
	for (i = 0; name[6 + i]; i++)
		dashed[i] = name[6 + i] == '_' ? '-' : name[6 + i];
	dashed[i] = '\0';
	return find_key(dashed, NULL);
}

static int load_db_settings(struct loader *ld, const char *const *names,
			    const char *const *values, int n)
{
	for (int i = 0; i < n; i++) {
		int k = db_setting_key(names[i]);

		if (k < 0) {
			warnf(ld, "in-database setting %s: not a setting pg_rest reads, ignored", names[i]);
			continue;
		}
		ld->origin[k] = (struct origin) { keys[k].name, 0, NULL, names[i] };
		if (is_ignored(k)) {
			warn_ignored(ld, k);
			continue;
		}
		if (set_value(ld, k, values[i]) < 0)
			return -1;
	}
	return 0;
}

int config_load(struct config *cfg, const char *path, char *const *envp,
		char *err, size_t errlen, char *warn, size_t warnlen)
{
	return config_load_db(cfg, path, envp, NULL, NULL, 0, err, errlen, warn, warnlen);
}

int config_load_db(struct config *cfg, const char *path, char *const *envp,
		   const char *const *db_names, const char *const *db_values, int n_db,
		   char *err, size_t errlen, char *warn, size_t warnlen)
{
	struct loader ld = {
		.cfg = cfg, .path = path, .envp = envp,
		.err = err, .errlen = errlen, .warn = warn, .warnlen = warnlen,
	};

	memset(cfg, 0, sizeof(*cfg));
	if (err && errlen > 0)
		err[0] = '\0';
	if (warn && warnlen > 0)
		warn[0] = '\0';
	cfg->source = xstrdup(path ? path : "");

	for (int k = 0; k < N_KEYS; k++) {
		if (keys[k].def && set_value(&ld, k, keys[k].def) < 0)
			goto fail;
	}
	if (path && load_file(&ld) < 0)
		goto fail;
	if (load_env(&ld) < 0 || load_db_settings(&ld, db_names, db_values, n_db) < 0 ||
	    finish(&ld) < 0)
		goto fail;
	return 0;

fail:
	config_free(cfg);
	return -1;
}

void config_free(struct config *cfg)
{
	for (int k = 0; k < N_KEYS; k++) {
		char *field = (char *) cfg + keys[k].off;

		if (keys[k].type == CF_STR || keys[k].type == CF_ENUM)
			free(*(char **) field);
		else if (keys[k].type == CF_LIST)
			free_list(*(char ***) field, *(int *) ((char *) cfg + keys[k].count_off));
	}
	free(cfg->source);
	free(cfg->jwt_secret);
	auth_keys_free(cfg->jwt_keys);
	free(cfg->db_pre_request_schema);
	free(cfg->db_pre_request_name);
	free(cfg->db_pre_config_schema);
	free(cfg->db_pre_config_name);
	free_list(cfg->app_settings_names, cfg->n_app_settings);
	free_list(cfg->app_settings_values, cfg->n_app_settings);
	memset(cfg, 0, sizeof(*cfg));
}

/* ------------------------------------------------------------------------
 * printing: pg_rest --check-config and --list-keys
 */

#define MASK "********"

/* A growing string for the masked copies. */
struct strbuf {
	char *s;
	size_t len, cap;
};

static void sb_put(struct strbuf *b, const char *p, size_t n)
{
	if (b->len + n + 1 > b->cap) {
		b->cap = (b->len + n + 1) * 2;
		b->s = xrealloc(b->s, b->cap);
	}
	memcpy(b->s + b->len, p, n);
	b->len += n;
	b->s[b->len] = '\0';
}

static void sb_puts(struct strbuf *b, const char *s)
{
	sb_put(b, s, strlen(s));
}

/* postgresql://user:PASSWORD@host/db?password=PASSWORD&... */
static void mask_uri(struct strbuf *b, const char *s)
{
	const char *p = strstr(s, "://") + 3, *q = p, *colon, *query;

	/* libpq's rule: user info is what comes before an '@' met before any '/' */
	while (*q && *q != '@' && *q != '/')
		q++;
	if (*q == '@' && (colon = memchr(p, ':', (size_t) (q - p))) != NULL) {
		sb_put(b, s, (size_t) (colon + 1 - s));
		sb_puts(b, MASK);
		s = q;
	}
	query = strchr(s, '?');
	if (query == NULL) {
		sb_puts(b, s);
		return;
	}
	sb_put(b, s, (size_t) (query + 1 - s));
	for (s = query + 1; *s;) {
		const char *amp = strchr(s, '&');
		const char *end = amp ? amp : s + strlen(s);
		const char *eq = memchr(s, '=', (size_t) (end - s));

		if (eq != NULL && eq - s == 8 && strncmp(s, "password", 8) == 0) {
			sb_put(b, s, (size_t) (eq + 1 - s));
			sb_puts(b, MASK);
		} else {
			sb_put(b, s, (size_t) (end - s));
		}
		if (amp == NULL)
			break;
		sb_put(b, "&", 1);
		s = amp + 1;
	}
}

/* host=x password='se cret' dbname=y: libpq's key = value form */
static void mask_kv(struct strbuf *b, const char *s)
{
	while (*s) {
		const char *ks, *ke, *vs;

		while (isspace((unsigned char) *s))
			sb_put(b, s++, 1);
		if (*s == '\0')
			break;
		ks = s;
		while (*s && *s != '=' && !isspace((unsigned char) *s))
			s++;
		ke = s;
		while (isspace((unsigned char) *s))
			s++;
		if (*s != '=') {
			sb_put(b, ks, (size_t) (s - ks));
			continue;
		}
		for (s++; isspace((unsigned char) *s); s++)
			;
		vs = s;
		if (*s == '\'') {
			for (s++; *s && *s != '\''; s++) {
				if (*s == '\\' && s[1])
					s++;
			}
			if (*s)
				s++;
		} else {
			for (; *s && !isspace((unsigned char) *s); s++) {
				if (*s == '\\' && s[1])
					s++;
			}
		}
		sb_put(b, ks, (size_t) (vs - ks));
		if (ke - ks == 8 && strncmp(ks, "password", 8) == 0)
			sb_puts(b, MASK);
		else
			sb_put(b, vs, (size_t) (s - vs));
	}
}

/* A malloc'd copy of a libpq connection string with its password masked. */
static char *mask_conninfo(const char *s)
{
	struct strbuf b = { NULL, 0, 0 };

	sb_puts(&b, "");
	if (strncmp(s, "postgresql://", 13) == 0 || strncmp(s, "postgres://", 11) == 0)
		mask_uri(&b, s);
	else
		mask_kv(&b, s);
	return b.s;
}

/* Does the app.settings name look like it holds a secret? */
static bool secret_name(const char *name)
{
	static const char *const words[] = { "secret", "password", "passwd", "token", "key", NULL };

	for (const char *p = name; *p; p++) {
		for (int i = 0; words[i]; i++) {
			size_t n = strlen(words[i]);

			if (strncasecmp(p, words[i], n) == 0)
				return true;
		}
	}
	return false;
}

/*
 * s as a double-quoted string of the file's syntax: \" \\ \n \t \xhh, and
 * "$$" for a '$' that the loader would otherwise read as "$(" or "$$".
 */
static void print_quoted(FILE *f, const char *s)
{
	fputc('"', f);
	for (const unsigned char *p = (const unsigned char *) (s ? s : ""); *p; p++) {
		if (*p == '"' || *p == '\\')
			fprintf(f, "\\%c", *p);
		else if (*p == '\n')
			fputs("\\n", f);
		else if (*p == '\t')
			fputs("\\t", f);
		else if (*p < 0x20 || *p == 0x7f)
			fprintf(f, "\\x%02x", *p);
		else if (*p == '$' && (p[1] == '(' || p[1] == '$'))
			fputs("$$", f);
		else
			fputc(*p, f);
	}
	fputc('"', f);
}

void config_print(const struct config *cfg, FILE *f)
{
	for (int k = 0; k < N_KEYS; k++) {
		const struct cf_key *key = &keys[k];
		const char *field = (const char *) cfg + key->off;
		const char *s;

		if (is_ignored(k))
			continue;
		fprintf(f, "%s = ", key->name);
		switch (key->type) {
		case CF_STR:
		case CF_ENUM:
			s = *(char *const *) field;
			if ((k == find_key("db-uri", NULL) || k == find_key("db-replica-uri", NULL)) &&
			    s != NULL) {
				char *masked = mask_conninfo(s);

				print_quoted(f, masked);
				free(masked);
			} else {
				print_quoted(f, s);
			}
			if (s == NULL)
				fputs("  # not set", f);
			break;
		case CF_LIST: {
			char *const *items = *(char **const *) field;
			int n = *(const int *) ((const char *) cfg + key->count_off);
			struct strbuf b = { NULL, 0, 0 };

			sb_puts(&b, "");
			for (int i = 0; i < n; i++) {
				if (i > 0)
					sb_puts(&b, ", ");
				sb_puts(&b, items[i]);
			}
			print_quoted(f, b.s);
			free(b.s);
			break;
		}
		case CF_INT:
			fprintf(f, "%ld", *(const long *) field);
			break;
		case CF_BOOL:
			fputs(*(const bool *) field ? "true" : "false", f);
			break;
		case CF_LEVEL:
			print_quoted(f, log_levels[*(const enum log_level *) field]);
			break;
		case CF_SECRET:
			if (cfg->jwt_secret != NULL)
				fprintf(f, "\"" MASK "\"  # set, %zu bytes", cfg->jwt_secret_len);
			else
				fputs("\"\"  # not set", f);
			break;
		case CF_SERVER:
		case CF_LATER:
			break;
		}
		fputc('\n', f);
	}
	for (int i = 0; i < cfg->n_app_settings; i++) {
		fprintf(f, "%s = ", cfg->app_settings_names[i]);
		print_quoted(f, secret_name(cfg->app_settings_names[i] + strlen(APP_SETTINGS_PREFIX))
			     ? MASK : cfg->app_settings_values[i]);
		fputc('\n', f);
	}
	for (int k = 0; k < N_KEYS; k++) {
		if (keys[k].type == CF_SERVER)
			fprintf(f, "# %s: accepted and ignored (pg_rest runs behind the web server)\n",
				keys[k].name);
		else if (keys[k].type == CF_LATER)
			fprintf(f, "# %s: accepted and ignored (not supported yet)\n", keys[k].name);
	}
}

void config_list_keys(FILE *f)
{
	for (int k = 0; k < N_KEYS; k++) {
		const struct cf_key *key = &keys[k];

		fprintf(f, "%s\t", key->name);
		switch (key->type) {
		case CF_STR:
			fputs("string", f);
			break;
		case CF_LIST:
			fputs("list", f);
			break;
		case CF_INT:
			fputs("integer", f);
			break;
		case CF_BOOL:
			fputs("boolean", f);
			break;
		case CF_SECRET:
			fputs("secret", f);
			break;
		case CF_ENUM:
		case CF_LEVEL:
			fputs("one-of:", f);
			for (int i = 0; key->choices[i]; i++)
				fprintf(f, "%s%s", i ? "|" : "", key->choices[i]);
			break;
		case CF_SERVER:
			fputs("ignored", f);
			break;
		case CF_LATER:
			fputs("unsupported", f);
			break;
		}
		fprintf(f, "\t%s\t%s\n",
			key->def == NULL ? "(unset)" : key->def[0] == '\0' ? "(empty)" : key->def,
			key->alias ? key->alias : "-");
	}
	fprintf(f, "%s*\tany\t(unset)\t-\n", APP_SETTINGS_PREFIX);
}
