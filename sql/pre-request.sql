-- pre-request.sql — the db-pre-request example of postgrest-role-system.rst:
-- a function pg_rest calls after switching to the request's role and before
-- the main query.  An exception there aborts the request: the client gets
-- PostgreSQL's message and hint (here 400, code P0001).
--
-- Load it after one of the deploy-*.sql scripts (it needs the role dbauth)
-- and add to the configuration:
--
--     db-pre-request = "public.check_user"
--
-- A token with {"role":"evil_user"} is then refused with
--     {"code":"P0001","message":"No, you are evil","details":null,
--      "hint":"Stop being so evil and maybe you can log in"}

DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'evil_user') THEN
        CREATE ROLE evil_user NOLOGIN;
    END IF;
END
$$;

-- the authenticator may become evil_user (so the token is accepted and the
-- pre-request function is what stops it)
GRANT evil_user TO dbauth;

CREATE OR REPLACE FUNCTION public.check_user() RETURNS void
    LANGUAGE plpgsql
    AS $$
BEGIN
    IF current_role = 'evil_user' THEN
        RAISE EXCEPTION 'No, you are evil'
            USING HINT = 'Stop being so evil and maybe you can log in';
    END IF;
END
$$;

-- every role a request can run as must be able to call it
GRANT EXECUTE ON FUNCTION public.check_user() TO PUBLIC;

DO $$
BEGIN
    IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'dbowner') THEN
        ALTER FUNCTION public.check_user() OWNER TO dbowner;
    END IF;
END
$$;
