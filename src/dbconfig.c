/*
 * dbconfig.c — in-database configuration (db-config, db-pre-config), as
 * PostgREST v12 reads it: the authenticator role's own settings
 * (ALTER ROLE authenticator [IN DATABASE d] SET pgrst.db_schemas = '...'),
 * the database-specific one winning, then what db-pre-config's function
 * sets with set_config('pgrst.x', ..., true) for the keys the role does
 * not set.  One statement on the authenticator connection, when it is
 * made and on every configuration reload; worker.c lays the values over
 * the file and the environment (config_load_db()).
 *
 * The role's settings are read from pg_db_role_setting, not with
 * current_setting(): those are the session defaults of when the
 * connection was made, and would miss an ALTER ROLE before a reload.
 */
#include "dbconfig.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "arena.h"

#define SETTINGS_HEAD \
	"WITH role_setting AS (" \
	"  SELECT s.setdatabase AS database, pg_catalog.unnest(s.setconfig) AS setting" \
	"  FROM pg_catalog.pg_db_role_setting s" \
	"  WHERE s.setrole = (SELECT r.oid FROM pg_catalog.pg_roles r WHERE r.rolname = CURRENT_USER)" \
	"    AND s.setdatabase IN (0, (SELECT d.oid FROM pg_catalog.pg_database d" \
	"                              WHERE d.datname = pg_catalog.current_database()))" \
	"), kv AS (" \
	"  SELECT database," \
	"    pg_catalog.substr(setting, 1, pg_catalog.strpos(setting, '=') - 1) AS k," \
	"    pg_catalog.substr(setting, pg_catalog.strpos(setting, '=') + 1) AS v" \
	"  FROM role_setting"

#define SETTINGS_TAIL \
	") SELECT DISTINCT ON (k) k, v FROM kv" \
	"  WHERE k = ANY ($1::pg_catalog.text[]) AND v IS NOT NULL" \
	"  ORDER BY k, database DESC NULLS LAST"

/* the pgrst.* names as one array literal, for $1 */
static char *names_literal(void)
{
	const char *const *names = config_db_setting_names();
	size_t len = 3;
	char *lit, *p;

	for (int i = 0; names[i]; i++)
		len += strlen(names[i]) + 1;
	lit = malloc(len);
	if (lit == NULL)
		return NULL;
	p = lit;
	*p++ = '{';
	for (int i = 0; names[i]; i++)
		p += sprintf(p, "%s%s", i ? "," : "", names[i]);   /* [a-z_.] only: no quoting */
	*p++ = '}';
	*p = '\0';
	return lit;
}

/* the statement, with db-pre-config's call when there is one (quoted) */
static char *settings_sql(PGconn *conn, const struct config *cfg)
{
	char *schema = NULL, *name = NULL, *sql;
	size_t len;

	if (cfg->db_pre_config_name == NULL)
		return strdup(SETTINGS_HEAD SETTINGS_TAIL);
	name = PQescapeIdentifier(conn, cfg->db_pre_config_name, strlen(cfg->db_pre_config_name));
	if (cfg->db_pre_config_schema != NULL)
		schema = PQescapeIdentifier(conn, cfg->db_pre_config_schema,
					    strlen(cfg->db_pre_config_schema));
	if (name == NULL || (cfg->db_pre_config_schema != NULL && schema == NULL)) {
		PQfreemem(name);
		PQfreemem(schema);
		return NULL;
	}
	/* what the function set lasts until the statement's implicit commit */
	len = strlen(SETTINGS_HEAD SETTINGS_TAIL) + strlen(name) + (schema ? strlen(schema) : 0) + 256;
	sql = malloc(len);
	if (sql != NULL)
		snprintf(sql, len,
			 SETTINGS_HEAD
			 "  UNION ALL"
			 "  SELECT NULL, x, pg_catalog.current_setting(x, true)"
			 "  FROM pg_catalog.unnest($1::pg_catalog.text[]) AS x JOIN %s%s%s() AS _ ON TRUE"
			 SETTINGS_TAIL,
			 schema ? schema : "", schema ? "." : "", name);
	PQfreemem(name);
	PQfreemem(schema);
	return sql;
}

void dbsettings_free(struct dbsettings *s)
{
	for (int i = 0; i < s->n; i++) {
		free(s->names[i]);
		free(s->values[i]);
	}
	free(s->names);
	free(s->values);
	free(s->signature);
	memset(s, 0, sizeof(*s));
}

static int fill(struct dbsettings *s, PGresult *res)
{
	int n = PQntuples(res);
	size_t siglen = 1;

	s->names = calloc((size_t)n + 1, sizeof(char *));
	s->values = calloc((size_t)n + 1, sizeof(char *));
	if (s->names == NULL || s->values == NULL)
		return -1;
	for (int i = 0; i < n; i++) {
		s->names[i] = strdup(PQgetvalue(res, i, 0));
		s->values[i] = strdup(PQgetvalue(res, i, 1));
		if (s->names[i] == NULL || s->values[i] == NULL)
			return -1;
		s->n++;
		siglen += strlen(s->names[i]) + strlen(s->values[i]) + 2;
	}
	/* what the settings were, to tell whether a reload changes anything */
	s->signature = malloc(siglen);
	if (s->signature == NULL)
		return -1;
	s->signature[0] = '\0';
	for (int i = 0; i < n; i++) {
		strcat(s->signature, s->names[i]);
		strcat(s->signature, "=");
		strcat(s->signature, s->values[i]);
		strcat(s->signature, "\n");
	}
	return 0;
}

int dbsettings_read(PGconn *conn, const struct config *cfg, struct dbsettings *out,
		    char *err, size_t errlen)
{
	char *sql = settings_sql(conn, cfg), *lit = names_literal();
	const char *params[1] = {lit};
	PGresult *res = NULL;
	int rc = -1;

	memset(out, 0, sizeof(*out));
	if (sql == NULL || lit == NULL) {
		snprintf(err, errlen, "out of memory");
		goto done;
	}
	res = PQexecParams(conn, sql, 1, NULL, params, NULL, NULL, 0);
	if (PQresultStatus(res) != PGRES_TUPLES_OK) {
		const char *m = PQresultErrorMessage(res);

		snprintf(err, errlen, "%.*s", (int)strcspn(m, "\n"), m);
		goto done;
	}
	if (fill(out, res) < 0) {
		snprintf(err, errlen, "out of memory");
		dbsettings_free(out);
		goto done;
	}
	rc = 0;
done:
	PQclear(res);
	free(sql);
	free(lit);
	return rc;
}
