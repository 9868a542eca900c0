-- deploy-private.sql — deployment 3.1 of pg_rest-jwt-auth: a database in a
-- private network or private cloud.
--
--   roles    dbauth   LOGIN NOINHERIT, the authenticator pg_rest connects as;
--                     no rights of its own, it can only become dbowner/dbuser
--            dbowner  NOLOGIN, owns the database and every object in it
--            dbuser   NOLOGIN, the anonymous role (db-anon-role = "dbuser")
--                     and the role named in every token; ALL rights on all
--                     tables, sequences and views
--   auth     jwt-secret is set, so every request carries
--            "Authorization: Bearer <JWT>" with {"role":"dbuser","user":...}
--   RLS      none: cuser records who wrote a row (default current_user, i.e.
--            "dbuser"; clients may and probably should send it explicitly)
--
-- Run as a superuser in a fresh database, e.g.
--
--     createdb ourbase
--     psql -X -v ON_ERROR_STOP=1 -d ourbase -f sql/deploy-private.sql
--
-- and use sql/deploy-private.conf as the pg_rest configuration.  Running it
-- again is harmless (roles, tables and sample rows are only created when
-- missing).  Roles belong to the whole cluster: give each deployment its own
-- cluster, or remember that dbauth collects the grants of every deployment
-- loaded into the same cluster.

-- ---------------------------------------------------------------- roles
DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'dbauth') THEN
        CREATE ROLE dbauth NOINHERIT LOGIN PASSWORD 'mysecret';
    END IF;
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'dbowner') THEN
        CREATE ROLE dbowner NOLOGIN CREATEDB;
    END IF;
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'dbuser') THEN
        CREATE ROLE dbuser NOLOGIN;
    END IF;
END
$$;

-- the authenticator may become exactly these roles (NOINHERIT: it gets
-- their rights only after SET ROLE, which pg_rest does per request)
GRANT dbowner TO dbauth;
GRANT dbuser TO dbauth;

-- the database belongs to dbowner (its public schema then does too: since
-- PostgreSQL 15 public is owned by pg_database_owner)
DO $$
BEGIN
    EXECUTE format('ALTER DATABASE %I OWNER TO dbowner', current_database());
END
$$;

-- ---------------------------------------------------------------- schema
SET ROLE dbowner;
\ir demo-tables.sql

-- dbuser (anonymous and token role alike) may do everything with the data
GRANT USAGE ON SCHEMA public TO dbuser;
GRANT ALL ON ALL TABLES IN SCHEMA public TO dbuser;
GRANT ALL ON ALL SEQUENCES IN SCHEMA public TO dbuser;
-- and with whatever dbowner creates later
ALTER DEFAULT PRIVILEGES FOR ROLE dbowner IN SCHEMA public
    GRANT ALL ON TABLES TO dbuser;
ALTER DEFAULT PRIVILEGES FOR ROLE dbowner IN SCHEMA public
    GRANT ALL ON SEQUENCES TO dbuser;

RESET ROLE;
