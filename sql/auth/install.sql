-- install.sql — user management for deployment 3.3 (sql/deploy-cloud.sql):
-- sign-up, login with a token pg_rest signs, password reset, and an audit
-- of logins with failed-login rate limiting, all in SQL.
--
-- Run it as a superuser after deploy-cloud.sql, in the same database:
--
--     psql -X -v ON_ERROR_STOP=1 -d demobase -f sql/deploy-cloud.sql
--     psql -X -v ON_ERROR_STOP=1 -d demobase -f sql/auth/install.sql
--
-- (-v api_schema=api puts the functions into another exposed schema than
-- public.)  Running it again is harmless: tables and users are kept,
-- functions are replaced.  sql/auth/uninstall.sql takes it all out again.
--
-- What it makes (basic_auth.sql, api.sql):
--
--   schema basic_auth   NOT exposed, owned by dbowner: users (email, bcrypt
--                       hash, role, verified), logins (the audit: email, at,
--                       ok), reset_tokens (hashes of one-time tokens),
--                       settings (one row: token lifetime, rate limit, ...)
--   in the API schema   the composite type jwt_claims (role, "user", exp)
--                       and four functions, the only things webanon may use:
--
--     POST /rpc/signup                  {"email":..,"pass":..}  -> 204/200
--         a new user with the role webuser (settings.signup_role);
--         409 if the email is taken, 400 for a bad email or a password
--         shorter than settings.min_password_length
--     POST /rpc/login                   {"email":..,"pass":..}
--         -> {"token":"<JWT>"}: login returns jwt_claims, and pg_rest
--         signs a function result of that type (config key
--         jwt-claims-type, default "jwt_claims") with jwt-secret, HS256.
--         The claims are {"role":"webuser","user":"<email>","exp":<unix
--         time>}: the "user" claim is what the RLS policies of
--         deploy-cloud.sql compare cuser with, so cuser is the email.
--         Wrong email or password: status 401 and no token (see below).
--         More than settings.max_failures (5) failures in
--         settings.failure_window (15 minutes): 429, SQLSTATE PT429,
--         "too many failed logins", whatever the password.
--     POST /rpc/request_password_reset  {"email":..}
--         makes a one-time token valid for settings.reset_lifetime (30
--         minutes), stores only its SHA-256 in basic_auth.reset_tokens and
--         sends NOTIFY password_reset '{"email":..,"token":..}' for a mail
--         sender (a process that LISTENs and mails a link with the token).
--         Same answer whether the email is known or not.
--     POST /rpc/reset_password          {"token":..,"pass":..}
--         sets the new password, marks the user verified (the mail
--         arrived), uses the token up; 403 (28P01) for an unknown, used or
--         expired token.
--
-- Logout: there is none on the server.  Tokens are not stored anywhere;
-- the client forgets its token, and it stops working at its exp
-- (settings.token_lifetime, one hour).  To cut tokens off sooner, keep a
-- deny list and check it in a db-pre-request function (sql/pre-request.sql
-- shows the mechanism).
--
-- Why a failed login is not an exception: the audit row of a failure must
-- survive, and an exception would roll it back with the whole request.  So
-- login records the failure, sets response.status to 401 and returns NULL
-- (no claims, nothing to sign).
--
-- Rate limiting counts failures per email (since the last successful login
-- or password change).  Anyone can so lock an account for the window: the
-- owner gets in again with a password reset.  Limit per client address in
-- the web server too (nginx limit_req on location /rpc/login).
--
-- pg_rest configuration (sql/deploy-cloud.conf plus):
--
--     jwt-optional = true      # signup/login come without a token: they
--                              # run as webanon, which may do nothing else
--     jwt-claims-type = "jwt_claims"   # the default
--
-- jwt-secret must be an HMAC secret (or a JWK Set with an "oct" key):
-- public keys can verify tokens but not sign them.
--
-- Needs pgcrypto (crypt, gen_salt, digest, gen_random_bytes), which Debian
-- ships with postgresql-15.  If it is not installed yet it goes into the
-- schema basic_auth, out of the API's sight.

\set ON_ERROR_STOP on
\if :{?api_schema}
\else
\set api_schema public
\endif

SELECT set_config('basic_auth.api_schema', :'api_schema', false) AS _ \gset install_

CREATE SCHEMA IF NOT EXISTS basic_auth AUTHORIZATION dbowner;
CREATE EXTENSION IF NOT EXISTS pgcrypto WITH SCHEMA basic_auth;

\ir basic_auth.sql
\ir api.sql

RESET basic_auth.api_schema;
