# db-hoisted-tx-settings (PostgREST v12): a function's SET clauses for the
# listed settings (by default statement_timeout,
# plan_filter.statement_cost_limit, default_transaction_isolation) apply to
# the whole transaction of an RPC call, so that SET statement_timeout on a
# function bounds the statement calling it; others stay the function's own.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use PgRestTest;

PgRestTest::skip_unless_ready();

my $t = PgRestTest->new();
$t->start_postgres();
$t->psql(<<'SQL');
create role authenticator login noinherit;
create role anon nologin;
grant anon to authenticator;
create schema api;
grant usage on schema api to anon;
create function api.slow() returns int language sql volatile
  set statement_timeout = '200ms'
  as $$ select 1 from pg_sleep(1.5) $$;
create function api.timeout_seen() returns text language sql stable
  set statement_timeout = '7s' set work_mem = '3MB'
  as $$ select current_setting('statement_timeout') $$;
create function api.work_mem_outside() returns text language plpgsql stable
  as $$ begin return current_setting('work_mem'); end $$;
create function api.pre() returns void language plpgsql as $$
begin
  -- db-pre-request runs after the hoisted settings: it sees them
  perform pg_catalog.set_config('response.headers',
    pg_catalog.json_build_array(pg_catalog.json_build_object(
      'X-Timeout', pg_catalog.current_setting('statement_timeout')))::text, true);
end $$;
grant execute on all functions in schema api to anon;
SQL

my %cfg = (
    'db-uri'         => $t->db_uri(user => 'authenticator', db => 'postgres'),
    'db-schemas'     => 'api',
    'db-anon-role'   => 'anon',
    'db-pre-request' => 'api.pre',
);
$t->start_workers(config => \%cfg, workers => 1);
$t->start_nginx(prefix => '/');

$t->error_ok('/rpc/slow', 500, '57014', 'a hoisted statement_timeout bounds the call', method => 'POST',
	     body => '{}', headers => { 'Content-Type' => 'application/json' });
my $r = $t->get('/rpc/timeout_seen');
is($r->{content}, '"7s"', 'the hoisted value is the transaction\'s');
is($r->{headers}{'x-timeout'}, '7s', 'db-pre-request sees the hoisted setting');
isnt($t->get('/rpc/work_mem_outside')->{headers}{'x-timeout'}, '7s',
     'another function: nothing hoisted');

# only the listed settings are hoisted: work_mem stays the function's own
$r = $t->get('/rpc/work_mem_outside');
is($r->{status}, 200, 'a function without SET clauses: 200');
isnt($r->{content}, '"3MB"', 'work_mem, not in the list, is not hoisted');

# an empty list hoists nothing: the function's timeout comes too late
$t->start_workers(config => { %cfg, 'db-hoisted-tx-settings' => '' }, workers => 1);
$r = $t->request('POST', '/rpc/slow', body => '{}', headers => { 'Content-Type' => 'application/json' });
is($r->{status}, 200, 'db-hoisted-tx-settings = "": the call runs to its end') or diag($r->{content});
$r = $t->get('/rpc/timeout_seen');
is($r->{content}, '"7s"', 'inside the function its own SET still applies');
isnt($r->{headers}{'x-timeout'}, '7s', 'but not around it');

is($t->sanitizer_reports, '', 'no AddressSanitizer/UBSan reports from the workers');
done_testing();
