-- uninstall.sql — take out what sql/auth/install.sql put in: the schema
-- basic_auth with its users, login audit and reset tokens (all gone!), and
-- the API functions and the jwt_claims type.  pgcrypto stays (other code
-- may use it) unless it lived in basic_auth.
--
--     psql -X -v ON_ERROR_STOP=1 -d demobase -f sql/auth/uninstall.sql
--
-- (-v api_schema=api if install.sql was run with it.)

\set ON_ERROR_STOP on
\if :{?api_schema}
\else
\set api_schema public
\endif

DROP FUNCTION IF EXISTS :"api_schema".signup(text, text);
DROP FUNCTION IF EXISTS :"api_schema".login(text, text);
DROP FUNCTION IF EXISTS :"api_schema".request_password_reset(text);
DROP FUNCTION IF EXISTS :"api_schema".reset_password(text, text);
DROP TYPE IF EXISTS :"api_schema".jwt_claims;
DROP SCHEMA IF EXISTS basic_auth CASCADE;

NOTIFY pgrst, 'reload schema';
