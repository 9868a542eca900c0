-- deploy-default.sql — deployment 3.2 of pg_rest-jwt-auth: the simplest
-- default setup.
--
--   roles    dbauth   LOGIN NOINHERIT, the authenticator pg_rest connects as;
--                     no rights of its own, it can only become dbowner
--            dbowner  NOLOGIN, owns the database and every object in it, and
--                     is the anonymous role: db-anon-role = "dbowner"
--   auth     no jwt-secret: every request runs as dbowner with all rights;
--            a request that sends "Authorization: Bearer ..." is refused
--            (500, PGRST300 "Server lacks JWT secret")
--   RLS      none: cuser defaults to the session role, i.e. "dbowner",
--            unless the client sends it
--
-- Use it only where everyone who can reach the web server may change every
-- row (a single-user tool, a private admin endpoint).
--
-- Run as a superuser in a fresh database, e.g.
--
--     createdb ourbase
--     psql -X -v ON_ERROR_STOP=1 -d ourbase -f sql/deploy-default.sql
--
-- and use sql/deploy-default.conf.  Running it again is harmless.  Roles
-- belong to the whole cluster: give each deployment its own cluster, or
-- remember that dbauth collects the grants of every deployment loaded into
-- the same cluster.

-- ---------------------------------------------------------------- roles
DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'dbauth') THEN
        CREATE ROLE dbauth NOINHERIT LOGIN PASSWORD 'mysecret';
    END IF;
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'dbowner') THEN
        CREATE ROLE dbowner NOLOGIN CREATEDB;
    END IF;
END
$$;

GRANT dbowner TO dbauth;

DO $$
BEGIN
    EXECUTE format('ALTER DATABASE %I OWNER TO dbowner', current_database());
END
$$;

-- ---------------------------------------------------------------- schema
SET ROLE dbowner;
\ir demo-tables.sql

-- nothing to grant: every request runs as the owner
RESET ROLE;
