-- deploy-cloud.sql — deployment 3.3 of pg_rest-jwt-auth: a demo database in
-- a public cloud, many unrelated users, row level security.
--
--   roles    dbauth   LOGIN NOINHERIT, the authenticator pg_rest connects as;
--                     no rights of its own, it can only become webanon or
--                     webuser (never dbowner: the owner bypasses RLS)
--            dbowner  NOLOGIN, owns the database and every object in it
--            webanon  NOLOGIN, the anonymous role, with NO rights at all
--            webuser  NOLOGIN, the role in every token: SELECT on all
--                     tables, EXECUTE on functions, sequences, and ALL on
--                     the cuser-controlled tables
--   auth     jwt-secret is set; every request carries a token with the
--            claims {"role":"webuser","user":"<web site login>"}; without
--            one the answer is 401
--   RLS      tables with a cuser column (items, notes) show and accept only
--            the rows whose cuser equals the token's "user" claim, which
--            pg_rest puts in the setting request.jwt.claim.user.  The
--            categories table has no cuser: every user sees all of it.
--
-- Writing a row: cuser defaults to current_user, which is "webuser" here and
-- fails the policy, so clients must send cuser = their user name (the
-- seed's rule: "this field must be given when RLS is set on the table").
--
-- The seed's policy uses current_setting(..., false), valid before
-- PostgreSQL 14; with missing_ok = true, as here, a request without the
-- setting just sees no rows instead of failing.
--
-- Run as a superuser in a fresh database, e.g.
--
--     createdb demobase
--     psql -X -v ON_ERROR_STOP=1 -d demobase -f sql/deploy-cloud.sql
--
-- and use sql/deploy-cloud.conf.  Running it again is harmless.  Roles
-- belong to the whole cluster: give this deployment its own cluster (in
-- particular do not load deploy-private.sql or deploy-default.sql next to
-- it, they let dbauth become dbowner).

-- ---------------------------------------------------------------- roles
DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'dbauth') THEN
        CREATE ROLE dbauth NOINHERIT LOGIN PASSWORD 'mysecret';
    END IF;
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'dbowner') THEN
        CREATE ROLE dbowner NOLOGIN CREATEDB;
    END IF;
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'webanon') THEN
        CREATE ROLE webanon NOLOGIN;
    END IF;
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'webuser') THEN
        CREATE ROLE webuser NOLOGIN;
    END IF;
END
$$;

GRANT webanon TO dbauth;
GRANT webuser TO dbauth;

DO $$
BEGIN
    EXECUTE format('ALTER DATABASE %I OWNER TO dbowner', current_database());
END
$$;

-- ---------------------------------------------------------------- schema
SET ROLE dbowner;

-- functions dbowner creates are not executable by everyone (webanon has no
-- rights); webuser gets EXECUTE below
ALTER DEFAULT PRIVILEGES FOR ROLE dbowner REVOKE EXECUTE ON FUNCTIONS FROM PUBLIC;

CREATE TABLE IF NOT EXISTS public.categories (
    id      serial PRIMARY KEY,
    name    text NOT NULL UNIQUE
);
COMMENT ON TABLE public.categories IS 'Shared list, no cuser: every user sees all of it';

CREATE TABLE IF NOT EXISTS public.items (
    id       serial PRIMARY KEY,
    name     text NOT NULL,
    price    numeric(10,2),
    created  date NOT NULL DEFAULT current_date,
    tags     text[] NOT NULL DEFAULT '{}',
    category integer REFERENCES public.categories (id),
    cuser    text NOT NULL DEFAULT current_user
);
COMMENT ON TABLE public.items IS 'Each user''s own things; RLS on cuser';

CREATE TABLE IF NOT EXISTS public.notes (
    id      serial PRIMARY KEY,
    body    text NOT NULL,
    cuser   text NOT NULL DEFAULT current_user
);
COMMENT ON TABLE public.notes IS 'Each user''s own notes; RLS on cuser';

INSERT INTO public.categories (name)
SELECT v.name FROM (VALUES ('fruit'), ('vegetable'), ('other')) AS v(name)
WHERE NOT EXISTS (SELECT 1 FROM public.categories);

INSERT INTO public.items (name, price, created, tags, category, cuser)
SELECT v.name, v.price, v.created::date, v.tags::text[],
       (SELECT c.id FROM public.categories c WHERE c.name = v.category), v.cuser
FROM (VALUES
    ('apple',        0.50, '2024-01-05', '{fruit,red}',    'fruit',     'alice'),
    ('banana',       0.25, '2024-01-06', '{fruit,yellow}', 'fruit',     'alice'),
    ('carrot',       0.10, '2024-02-01', '{vegetable}',    'vegetable', 'bob'),
    ('dragon fruit', 3.20, '2024-02-14', '{fruit,exotic}', 'fruit',     'bob'),
    ('eggplant',     1.75, '2024-03-03', '{vegetable}',    'vegetable', 'bob'),
    ('fig',          2.00, '2024-03-10', '{fruit}',        'fruit',     'carol')
) AS v(name, price, created, tags, category, cuser)
WHERE NOT EXISTS (SELECT 1 FROM public.items);

INSERT INTO public.notes (body, cuser)
SELECT v.body, v.cuser
FROM (VALUES
    ('alice: order more apples',  'alice'),
    ('alice: call the supplier',  'alice'),
    ('bob: carrots are on sale',  'bob')
) AS v(body, cuser)
WHERE NOT EXISTS (SELECT 1 FROM public.notes);

-- ---------------------------------------------------------------- rights
-- webanon: nothing.  webuser: the seed's list.
GRANT USAGE ON SCHEMA public TO webuser;
GRANT SELECT ON ALL TABLES IN SCHEMA public TO webuser;
GRANT EXECUTE ON ALL FUNCTIONS IN SCHEMA public TO webuser;
GRANT ALL ON ALL SEQUENCES IN SCHEMA public TO webuser;
GRANT ALL ON TABLE public.items, public.notes TO webuser;

-- ---------------------------------------------------------------- RLS
ALTER TABLE public.items ENABLE ROW LEVEL SECURITY;
DROP POLICY IF EXISTS items_policy ON public.items;
CREATE POLICY items_policy ON public.items
    USING (current_setting('request.jwt.claim.user', true) = cuser)
    WITH CHECK (current_setting('request.jwt.claim.user', true) = cuser);

ALTER TABLE public.notes ENABLE ROW LEVEL SECURITY;
DROP POLICY IF EXISTS notes_policy ON public.notes;
CREATE POLICY notes_policy ON public.notes
    USING (current_setting('request.jwt.claim.user', true) = cuser)
    WITH CHECK (current_setting('request.jwt.claim.user', true) = cuser);

RESET ROLE;
