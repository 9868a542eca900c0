-- basic_auth.sql — the private half of sql/auth/install.sql: the schema
-- basic_auth with the users, the login audit, the password reset tokens,
-- the settings, and the helpers the API functions (api.sql) call.  Nothing
-- here is granted to webanon or webuser: the API functions run as dbowner
-- (SECURITY DEFINER) and are the only way in.
--
-- Run through install.sql (it creates the schema and pgcrypto first).

SET ROLE dbowner;

-- ---------------------------------------------------------------- settings
-- One row; change it with UPDATE basic_auth.settings SET ...
CREATE TABLE IF NOT EXISTS basic_auth.settings (
    only_row            boolean PRIMARY KEY DEFAULT true CHECK (only_row),
    signup_role         name NOT NULL DEFAULT 'webuser',
    token_lifetime      interval NOT NULL DEFAULT '1 hour',
    max_failures        integer NOT NULL DEFAULT 5 CHECK (max_failures > 0),
    failure_window      interval NOT NULL DEFAULT '15 minutes',
    reset_lifetime      interval NOT NULL DEFAULT '30 minutes',
    min_password_length integer NOT NULL DEFAULT 8,
    require_verified    boolean NOT NULL DEFAULT false,
    bcrypt_cost         integer NOT NULL DEFAULT 8 CHECK (bcrypt_cost BETWEEN 4 AND 16)
);
COMMENT ON TABLE basic_auth.settings IS
    'sql/auth: token lifetime, login rate limit, reset token lifetime, password rules';
INSERT INTO basic_auth.settings DEFAULT VALUES ON CONFLICT DO NOTHING;

-- ---------------------------------------------------------------- users
CREATE TABLE IF NOT EXISTS basic_auth.users (
    email        text PRIMARY KEY
                 CHECK (email = lower(email) AND email ~ '^[^@[:space:]]+@[^@[:space:]]+$'
                        AND length(email) <= 320),
    pass         text NOT NULL,         -- bcrypt hash, set from plain text by a trigger
    role         name NOT NULL DEFAULT 'webuser',
    verified     boolean NOT NULL DEFAULT false,
    created      timestamptz NOT NULL DEFAULT now(),
    pass_changed timestamptz NOT NULL DEFAULT now()
);
COMMENT ON TABLE basic_auth.users IS
    'sql/auth: who may log in, as which database role (the token''s role claim)';

-- pgcrypto lives in basic_auth, or wherever it was installed before: these
-- three helpers name its schema, so nothing else needs to know it.
DO $$
DECLARE
    ext name := (SELECT n.nspname FROM pg_extension e
                 JOIN pg_namespace n ON n.oid = e.extnamespace
                 WHERE e.extname = 'pgcrypto');
BEGIN
    EXECUTE format($f$
        CREATE OR REPLACE FUNCTION basic_auth.hash_password(pass text) RETURNS text
            LANGUAGE sql VOLATILE SET search_path = pg_catalog, pg_temp
            AS 'SELECT %1$I.crypt(pass, %1$I.gen_salt(''bf'',
                       (SELECT s.bcrypt_cost FROM basic_auth.settings s)))'
        $f$, ext);
    EXECUTE format($f$
        CREATE OR REPLACE FUNCTION basic_auth.password_matches(pass text, hash text)
            RETURNS boolean
            LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp
            AS 'SELECT %1$I.crypt(pass, hash) = hash'
        $f$, ext);
    EXECUTE format($f$
        CREATE OR REPLACE FUNCTION basic_auth.new_token() RETURNS text
            LANGUAGE sql VOLATILE SET search_path = pg_catalog, pg_temp
            AS 'SELECT translate(encode(%1$I.gen_random_bytes(24), ''base64''), ''+/'', ''-_'')'
        $f$, ext);
    EXECUTE format($f$
        CREATE OR REPLACE FUNCTION basic_auth.token_hash(token text) RETURNS text
            LANGUAGE sql IMMUTABLE SET search_path = pg_catalog, pg_temp
            AS 'SELECT encode(%1$I.digest(token, ''sha256''), ''hex'')'
        $f$, ext);
END
$$;

-- The plain password becomes its bcrypt hash on the way in; a password
-- that is too short is refused here, whoever writes it.
CREATE OR REPLACE FUNCTION basic_auth.encrypt_pass() RETURNS trigger
    LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp
    AS $$
DECLARE
    min_len integer := (SELECT s.min_password_length FROM basic_auth.settings s);
BEGIN
    IF tg_op = 'INSERT' OR NEW.pass IS DISTINCT FROM OLD.pass THEN
        IF length(NEW.pass) < min_len THEN
            RAISE check_violation
                USING MESSAGE = format('the password must have at least %s characters', min_len);
        END IF;
        NEW.pass := basic_auth.hash_password(NEW.pass);
        NEW.pass_changed := now();
    END IF;
    RETURN NEW;
END
$$;

DROP TRIGGER IF EXISTS encrypt_pass ON basic_auth.users;
CREATE TRIGGER encrypt_pass
    BEFORE INSERT OR UPDATE ON basic_auth.users
    FOR EACH ROW EXECUTE FUNCTION basic_auth.encrypt_pass();

-- A user's role must be a database role (pg_roles can't be the target of a
-- foreign key), and never a superuser.
CREATE OR REPLACE FUNCTION basic_auth.check_role_exists() RETURNS trigger
    LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp
    AS $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_roles AS r WHERE r.rolname = NEW.role) THEN
        RAISE foreign_key_violation
            USING MESSAGE = format('unknown database role: %s', NEW.role);
    END IF;
    IF EXISTS (SELECT 1 FROM pg_roles AS r WHERE r.rolname = NEW.role AND r.rolsuper) THEN
        RAISE check_violation
            USING MESSAGE = format('role %s is a superuser and can''t be a user''s role', NEW.role);
    END IF;
    RETURN NULL;
END
$$;

DROP TRIGGER IF EXISTS ensure_user_role_exists ON basic_auth.users;
CREATE CONSTRAINT TRIGGER ensure_user_role_exists
    AFTER INSERT OR UPDATE ON basic_auth.users
    FOR EACH ROW EXECUTE FUNCTION basic_auth.check_role_exists();

-- ---------------------------------------------------------------- logins
-- Every login attempt, good or bad: the audit, and what rate limiting counts.
CREATE TABLE IF NOT EXISTS basic_auth.logins (
    id     bigserial PRIMARY KEY,
    email  text NOT NULL,               -- as given (lower-cased): unknown emails too
    at     timestamptz NOT NULL DEFAULT clock_timestamp(),
    ok     boolean NOT NULL
);
CREATE INDEX IF NOT EXISTS logins_email_at ON basic_auth.logins (email, at);
COMMENT ON TABLE basic_auth.logins IS 'sql/auth: login audit; failures feed the rate limit';

-- Failed logins of email that still count: inside the window, and after
-- the last successful login or password change.
CREATE OR REPLACE FUNCTION basic_auth.recent_failures(email text) RETURNS bigint
    LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp
    AS $$
SELECT count(*)
FROM basic_auth.logins AS l, basic_auth.settings AS s
WHERE l.email = recent_failures.email
  AND NOT l.ok
  AND l.at > clock_timestamp() - s.failure_window
  AND l.at > coalesce((SELECT max(g.at) FROM basic_auth.logins AS g
                       WHERE g.email = recent_failures.email AND g.ok), '-infinity')
  AND l.at > coalesce((SELECT u.pass_changed FROM basic_auth.users AS u
                       WHERE u.email = recent_failures.email), '-infinity')
$$;

-- ---------------------------------------------------------------- reset tokens
CREATE TABLE IF NOT EXISTS basic_auth.reset_tokens (
    token_hash text PRIMARY KEY,        -- sha256 of the token: the table alone gives no token
    email      text NOT NULL REFERENCES basic_auth.users (email)
                    ON UPDATE CASCADE ON DELETE CASCADE,
    created    timestamptz NOT NULL DEFAULT now(),
    expires    timestamptz NOT NULL
);
CREATE INDEX IF NOT EXISTS reset_tokens_email ON basic_auth.reset_tokens (email);
COMMENT ON TABLE basic_auth.reset_tokens IS 'sql/auth: one-time password reset tokens (hashed)';

-- ---------------------------------------------------------------- upkeep
-- Old audit rows and expired tokens; run now and then (cron, pg_cron).
CREATE OR REPLACE FUNCTION basic_auth.purge(keep interval DEFAULT '90 days') RETURNS void
    LANGUAGE sql SET search_path = pg_catalog, pg_temp
    AS $$
DELETE FROM basic_auth.logins WHERE at < now() - keep;
DELETE FROM basic_auth.reset_tokens WHERE expires < now();
$$;

-- nobody but dbowner (and the API functions running as dbowner) gets in
REVOKE ALL ON SCHEMA basic_auth FROM PUBLIC;
REVOKE ALL ON ALL TABLES IN SCHEMA basic_auth FROM PUBLIC;
REVOKE ALL ON FUNCTION basic_auth.hash_password(text), basic_auth.password_matches(text, text),
    basic_auth.new_token(), basic_auth.token_hash(text), basic_auth.encrypt_pass(),
    basic_auth.check_role_exists(), basic_auth.recent_failures(text),
    basic_auth.purge(interval) FROM PUBLIC;

RESET ROLE;
