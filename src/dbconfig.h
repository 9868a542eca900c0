/*
 * dbconfig.h — the pgrst.* settings of the authenticator role and of
 * db-pre-config (in-database configuration, db-config = true).
 */
#ifndef PGR_DBCONFIG_H
#define PGR_DBCONFIG_H

#include <libpq-fe.h>
#include <stddef.h>

#include "config.h"

struct dbsettings {
	char **names;               /* "pgrst.db_schemas", ... */
	char **values;
	int n;
	char *signature;            /* "name=value\n" for each: equal means unchanged */
};

/*
 * Read them on conn (not in a request: conn is idle).  Returns 0 with out
 * filled (maybe n = 0), or -1 with err set (the pre-config function
 * failed, the connection broke); out is then empty.
 */
int dbsettings_read(PGconn *conn, const struct config *cfg, struct dbsettings *out,
		    char *err, size_t errlen);
void dbsettings_free(struct dbsettings *s);

#endif
