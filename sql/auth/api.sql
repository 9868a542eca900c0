-- api.sql — the exposed half of sql/auth/install.sql: the jwt_claims type
-- and the four functions webanon may call through /rpc (signup, login,
-- request_password_reset, reset_password).  Each runs as dbowner (SECURITY
-- DEFINER) with a fixed search_path, so the caller needs no right on
-- basic_auth.  See install.sql for the HTTP side.
--
-- Run through install.sql, which sets the psql variable api_schema (public
-- by default) and the setting basic_auth.api_schema to the same name.

SET ROLE dbowner;

-- The claims of a login token.  pg_rest signs any /rpc result of this type
-- (config key jwt-claims-type) and answers {"token":"<JWT>"}.
DO $$
DECLARE
    api name := current_setting('basic_auth.api_schema');
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace
                   WHERE n.nspname = api AND t.typname = 'jwt_claims') THEN
        EXECUTE format('CREATE TYPE %I.jwt_claims AS (role text, "user" text, exp bigint)', api);
    END IF;
END
$$;
COMMENT ON TYPE :"api_schema".jwt_claims IS
    'sql/auth: claims of a login token; pg_rest signs a function result of this type';

-- ---------------------------------------------------------------- signup
CREATE OR REPLACE FUNCTION :"api_schema".signup(email text, pass text) RETURNS void
    LANGUAGE plpgsql VOLATILE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    AS $$
DECLARE
    e text := lower(btrim(signup.email));
BEGIN
    IF EXISTS (SELECT 1 FROM basic_auth.users AS u WHERE u.email = e) THEN
        RAISE unique_violation USING MESSAGE = 'this email is already registered',
            HINT = 'log in, or ask for a password reset';
    END IF;
    IF NOT e ~ '^[^@[:space:]]+@[^@[:space:]]+$' THEN
        RAISE check_violation USING MESSAGE = 'not an email address';
    END IF;
    INSERT INTO basic_auth.users (email, pass, role)
    VALUES (e, signup.pass, (SELECT s.signup_role FROM basic_auth.settings AS s));
END
$$;
COMMENT ON FUNCTION :"api_schema".signup(text, text) IS
    'Register an email and password; the new user gets the role webuser';

-- ---------------------------------------------------------------- login
-- Failures return NULL with response.status 401 instead of raising, so
-- that their audit row is committed and counts for the rate limit.
CREATE OR REPLACE FUNCTION :"api_schema".login(email text, pass text)
    RETURNS :"api_schema".jwt_claims
    LANGUAGE plpgsql VOLATILE SECURITY DEFINER
    SET search_path = pg_catalog, :"api_schema", pg_temp
    AS $$
DECLARE
    e text := lower(btrim(login.email));
    s basic_auth.settings;
    u basic_auth.users;
    failures bigint;
BEGIN
    SELECT * INTO s FROM basic_auth.settings;
    failures := basic_auth.recent_failures(e);
    IF failures >= s.max_failures THEN
        RAISE SQLSTATE 'PT429' USING MESSAGE = 'too many failed logins',
            DETAIL = format('%s failed logins for this email in the last %s', failures,
                            s.failure_window),
            HINT = 'wait and try again later, or reset the password';
    END IF;

    SELECT * INTO u FROM basic_auth.users AS x WHERE x.email = e;
    IF u.email IS NULL THEN
        PERFORM basic_auth.hash_password(login.pass);   -- as slow as a real check
    END IF;
    IF u.email IS NULL OR NOT basic_auth.password_matches(login.pass, u.pass)
       OR (s.require_verified AND NOT u.verified) THEN
        INSERT INTO basic_auth.logins (email, ok) VALUES (left(e, 320), false);
        PERFORM set_config('response.status', '401', true);
        RETURN NULL;
    END IF;

    INSERT INTO basic_auth.logins (email, ok) VALUES (e, true);
    RETURN ROW(u.role, u.email,
               extract(epoch FROM now() + s.token_lifetime)::bigint)::jwt_claims;
END
$$;
COMMENT ON FUNCTION :"api_schema".login(text, text) IS
    'Check email and password; pg_rest signs the claims and answers {"token": ...}';

-- ---------------------------------------------------------------- password reset
CREATE OR REPLACE FUNCTION :"api_schema".request_password_reset(email text) RETURNS void
    LANGUAGE plpgsql VOLATILE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    AS $$
DECLARE
    e text := lower(btrim(request_password_reset.email));
    tok text;
BEGIN
    -- the same answer for unknown emails: no way to probe who has an account
    IF NOT EXISTS (SELECT 1 FROM basic_auth.users AS u WHERE u.email = e) THEN
        RETURN;
    END IF;
    tok := basic_auth.new_token();
    DELETE FROM basic_auth.reset_tokens AS r WHERE r.email = e OR r.expires < now();
    INSERT INTO basic_auth.reset_tokens (token_hash, email, expires)
    VALUES (basic_auth.token_hash(tok), e,
            now() + (SELECT s.reset_lifetime FROM basic_auth.settings AS s));
    -- delivered on commit to whoever LISTENs (the mail sender)
    PERFORM pg_notify('password_reset', json_build_object('email', e, 'token', tok)::text);
END
$$;
COMMENT ON FUNCTION :"api_schema".request_password_reset(text) IS
    'Send a one-time password reset token to a mail sender (NOTIFY password_reset)';

CREATE OR REPLACE FUNCTION :"api_schema".reset_password(token text, pass text) RETURNS void
    LANGUAGE plpgsql VOLATILE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    AS $$
DECLARE
    r basic_auth.reset_tokens;
BEGIN
    DELETE FROM basic_auth.reset_tokens AS t
    WHERE t.token_hash = basic_auth.token_hash(reset_password.token)
    RETURNING * INTO r;
    IF r.email IS NULL OR r.expires < now() THEN
        RAISE invalid_password USING MESSAGE = 'invalid or expired password reset token',
            HINT = 'ask for a new one';
    END IF;
    UPDATE basic_auth.users AS u SET pass = reset_password.pass, verified = true
    WHERE u.email = r.email;
    DELETE FROM basic_auth.reset_tokens AS t WHERE t.email = r.email;
END
$$;
COMMENT ON FUNCTION :"api_schema".reset_password(text, text) IS
    'Set a new password with a token from request_password_reset';

-- ---------------------------------------------------------------- rights
-- These four and nothing else for webanon; webuser may call them too.
REVOKE ALL ON FUNCTION :"api_schema".signup(text, text), :"api_schema".login(text, text),
    :"api_schema".request_password_reset(text), :"api_schema".reset_password(text, text)
    FROM PUBLIC;
GRANT USAGE ON SCHEMA :"api_schema" TO webanon, webuser;
GRANT EXECUTE ON FUNCTION :"api_schema".signup(text, text), :"api_schema".login(text, text),
    :"api_schema".request_password_reset(text), :"api_schema".reset_password(text, text)
    TO webanon, webuser;

RESET ROLE;

-- tell running pg_rest workers about the new functions (db-channel)
NOTIFY pgrst, 'reload schema';
