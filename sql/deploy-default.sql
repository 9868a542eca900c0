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

CREATE TABLE IF NOT EXISTS public.items (
    id      serial PRIMARY KEY,
    name    text NOT NULL,
    price   numeric(10,2),
    created date NOT NULL DEFAULT current_date,
    tags    text[] NOT NULL DEFAULT '{}',
    cuser   text NOT NULL DEFAULT current_user
);
COMMENT ON TABLE public.items IS 'Things for sale; cuser is who entered the row';

CREATE TABLE IF NOT EXISTS public.notes (
    id      serial PRIMARY KEY,
    body    text NOT NULL,
    cuser   text NOT NULL DEFAULT current_user
);
COMMENT ON TABLE public.notes IS 'Free-text notes; cuser is who wrote them';

INSERT INTO public.items (name, price, created, tags, cuser)
SELECT v.name, v.price, v.created::date, v.tags::text[], v.cuser
FROM (VALUES
    ('apple',        0.50, '2024-01-05', '{fruit,red}',    'alice'),
    ('banana',       0.25, '2024-01-06', '{fruit,yellow}', 'alice'),
    ('carrot',       0.10, '2024-02-01', '{vegetable}',    'bob'),
    ('dragon fruit', 3.20, '2024-02-14', '{fruit,exotic}', 'bob'),
    ('eggplant',     1.75, '2024-03-03', '{vegetable}',    'carol')
) AS v(name, price, created, tags, cuser)
WHERE NOT EXISTS (SELECT 1 FROM public.items);

INSERT INTO public.notes (body, cuser)
SELECT v.body, v.cuser
FROM (VALUES
    ('alice: order more apples',  'alice'),
    ('alice: call the supplier',  'alice'),
    ('bob: carrots are on sale',  'bob')
) AS v(body, cuser)
WHERE NOT EXISTS (SELECT 1 FROM public.notes);

-- nothing to grant: every request runs as the owner
RESET ROLE;
