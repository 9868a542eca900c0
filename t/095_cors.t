# CORS as PostgREST v12 answers browsers (its Cors.hs policy over wai-cors
# and its OPTIONS responses): any origin allowed with "*" when
# server-cors-allowed-origins is unset; with a list, a listed origin echoed
# back with credentials and any other origin left without CORS headers;
# preflights answered whatever the path; Access-Control-Expose-Headers on
# every other answer to an allowed origin, errors included.  Also
# server-trace-header (the named request header echoed) and
# server-timing-enabled (the Server-Timing header).  Through nginx,
# which passes Origin as HTTP_ORIGIN.
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
create table api.items (id int primary key, name text);
insert into api.items values (1, 'apple'), (2, 'banana');
grant select, insert on api.items to anon;
create function api.add(a int, b int) returns int language sql immutable as $$ select a + b $$;
SQL

my %cfg = (
    'db-uri'       => $t->db_uri(user => 'authenticator', db => 'postgres'),
    'db-schemas'   => 'api',
    'db-anon-role' => 'anon',
);
my $EXPOSE = 'Content-Encoding, Content-Location, Content-Range, Content-Type, '
	   . 'Date, Location, Server, Transfer-Encoding, Range-Unit';
my $METHODS = 'GET, POST, PATCH, PUT, DELETE, OPTIONS, HEAD';

sub h { my ($r, $n) = @_; return $r->{headers}{lc $n} }

$t->start_workers(config => \%cfg, workers => 1);
$t->start_nginx(prefix => '/');

# --- any origin (server-cors-allowed-origins unset) ------------------------

my $pre = { Accept => '*/*', Origin => 'http://example.com',
	    'Access-Control-Request-Method' => 'POST',
	    'Access-Control-Request-Headers' => 'Foo,Bar' };
my $r = $t->request('OPTIONS', '/', headers => $pre);
is($r->{status}, 200, 'preflight on /: 200');
is(h($r, 'Access-Control-Allow-Origin'), '*', 'preflight: any origin');
is(h($r, 'Access-Control-Allow-Methods'), $METHODS, 'preflight: methods');
is(h($r, 'Access-Control-Allow-Headers'), 'Authorization, Foo, Bar, Accept, Accept-Language, Content-Language',
   'preflight: requested headers plus Authorization and the safelisted ones');
is(h($r, 'Access-Control-Max-Age'), '86400', 'preflight: max age a day');
is($r->{content}, '', 'preflight: no body');
ok(!defined h($r, 'Access-Control-Allow-Credentials'), 'preflight: no credentials for "*"');

# the preflight supabase-js makes for a POST with a count
$r = $t->request('OPTIONS', '/items', headers => {
	Origin => 'http://localhost:5173', 'Access-Control-Request-Method' => 'POST',
	'Access-Control-Request-Headers' => 'authorization, apikey, content-type, prefer, x-client-info' });
is($r->{status}, 200, 'supabase-js preflight: 200');
is(h($r, 'Access-Control-Allow-Headers'),
   'Authorization, authorization, apikey, content-type, prefer, x-client-info, Accept, Accept-Language, Content-Language',
   'supabase-js preflight: headers as wai-cors lists them (the safelisted ones not named yet)');
ok(!defined h($r, 'Allow'), 'a preflight is not the OPTIONS info answer');

# preflight for a path that does not exist: answered all the same
$r = $t->request('OPTIONS', '/nothing_here', headers => $pre);
is($r->{status}, 200, 'preflight for an unknown path: 200');
is(h($r, 'Access-Control-Allow-Origin'), '*', 'preflight for an unknown path: any origin');

# a preflight for a method PostgREST does not allow goes on to the routes
$r = $t->request('OPTIONS', '/items', headers => { Origin => 'http://example.com',
	'Access-Control-Request-Method' => 'TRACE' });
is($r->{status}, 200, 'preflight for TRACE: the OPTIONS info answer');
is(h($r, 'Allow'), 'OPTIONS,GET,HEAD,POST,PUT,PATCH,DELETE', 'preflight for TRACE: Allow');
is(h($r, 'Access-Control-Allow-Origin'), '*', 'preflight for TRACE: any origin');

# regular requests
$r = $t->get('/items?order=id', headers => { Origin => 'http://example.com' });
is($r->{status}, 200, 'GET with Origin: 200');
is(h($r, 'Access-Control-Allow-Origin'), '*', 'GET with Origin: any origin');
is(h($r, 'Access-Control-Expose-Headers'), $EXPOSE, 'GET with Origin: exposed headers');
is_deeply($r->{json}, [ { id => 1, name => 'apple' }, { id => 2, name => 'banana' } ], 'GET with Origin: the rows');

$r = $t->request('POST', '/items', headers => { Origin => 'http://example.com',
	'Content-Type' => 'application/json', Prefer => 'return=representation' },
	body => '{"id": 3, "name": "cherry"}');
is($r->{status}, 201, 'POST with Origin: 201');
is(h($r, 'Access-Control-Allow-Origin'), '*', 'POST with Origin: any origin');
is(h($r, 'Access-Control-Expose-Headers'), $EXPOSE, 'POST with Origin: exposed headers');

my ($e) = $t->error_ok('/nothing_here', 404, '42P01', 'error with Origin',
		       headers => { Origin => 'http://example.com' });
is(h($e, 'Access-Control-Allow-Origin'), '*', 'an error answer carries the CORS headers too');

$r = $t->get('/rpc/add?a=1&b=2', headers => { Origin => 'http://example.com' });
is($r->{content}, '3', 'RPC with Origin: the result');
is(h($r, 'Access-Control-Allow-Origin'), '*', 'RPC with Origin: any origin');

# no Origin: no CORS headers, except PostgREST's "*" on OPTIONS answers
$r = $t->get('/items');
ok(!defined h($r, 'Access-Control-Allow-Origin'), 'GET without Origin: no CORS header');
ok(!defined h($r, 'Access-Control-Expose-Headers'), 'GET without Origin: no exposed headers');
for my $path ('/items', '/rpc/add', '/') {
	$r = $t->request('OPTIONS', $path, headers => { Accept => 'application/json' });
	is($r->{status}, 200, "OPTIONS $path without Origin: 200");
	is(h($r, 'Access-Control-Allow-Origin'), '*', "OPTIONS $path without Origin: Allow-Origin *");
}
# OPTIONS with an Origin but no Access-Control-Request-Method: one Allow-Origin
$r = $t->request('OPTIONS', '/items', headers => { Origin => 'http://localhost:8000' });
is(h($r, 'Access-Control-Allow-Origin'), '*', 'OPTIONS with Origin, not a preflight: Allow-Origin *, once');
is(h($r, 'Allow'), 'OPTIONS,GET,HEAD,POST,PUT,PATCH,DELETE', 'OPTIONS with Origin, not a preflight: Allow');

ok(!defined h($t->get('/items', headers => { 'X-Request-Id' => 'abc' }), 'X-Request-Id'),
   'server-trace-header unset: nothing echoed');
ok(!defined h($t->get('/items'), 'Server-Timing'), 'server-timing-enabled unset: no Server-Timing');

# --- a list of origins; server-trace-header --------------------------------

$t->stop_workers;
$t->start_workers(config => { %cfg,
	'server-cors-allowed-origins' => 'http://example.com, http://example2.com',
	'server-trace-header' => 'X-Request-Id', 'server-timing-enabled' => \'true' }, workers => 1);

# server-timing-enabled: PostgREST v12's Server-Timing stages
my $D = qr/dur=\d+\.\d/;
$r = $t->get('/items?id=eq.1');
like(h($r, 'Server-Timing'), qr/\Ajwt;$D, parse;$D, plan;$D, transaction;$D, response;$D\z/,
     'server-timing-enabled: a read has the five stages');
$r = $t->request('POST', '/items', headers => { 'Content-Type' => 'application/json' },
		 body => '{"id": 4, "name": "date"}');
is($r->{status}, 201, 'POST with Server-Timing: 201');
like(h($r, 'Server-Timing'), qr/\Ajwt;$D, parse;$D, plan;$D, transaction;$D, response;$D\z/,
     'server-timing-enabled: a write too');
like(h($t->get('/nothing_here'), 'Server-Timing') // '', qr/\Ajwt;$D, .*response;$D\z/,
     'server-timing-enabled: an error answer too');

$r = $t->get('/items', headers => { 'X-Request-Id' => 'req-42' });
is(h($r, 'X-Request-Id'), 'req-42', 'server-trace-header: the value echoed');
($e) = $t->error_ok('/nothing_here', 404, '42P01', 'error with a trace header',
		    headers => { 'X-Request-Id' => 'req-43' });
is(h($e, 'X-Request-Id'), 'req-43', 'server-trace-header: echoed on errors too');
ok(!defined h($t->get('/items'), 'X-Request-Id'), 'server-trace-header: nothing when the request has none');

$r = $t->request('OPTIONS', '/items', headers => { Accept => '*/*', Origin => 'http://example.com',
	'Access-Control-Request-Method' => 'POST', 'Access-Control-Request-Headers' => 'Content-Type' });
is($r->{status}, 200, 'listed origin, preflight: 200');
is(h($r, 'Access-Control-Allow-Origin'), 'http://example.com', 'listed origin, preflight: echoed');
is(h($r, 'Access-Control-Allow-Credentials'), 'true', 'listed origin, preflight: credentials');
is(h($r, 'Access-Control-Allow-Headers'), 'Authorization, Content-Type, Accept, Accept-Language, Content-Language',
   'listed origin, preflight: headers');

$r = $t->get('/items', headers => { Accept => '*/*', Origin => 'http://example2.com' });
is($r->{status}, 200, 'second listed origin, GET: 200');
is(h($r, 'Access-Control-Allow-Origin'), 'http://example2.com', 'second listed origin, GET: echoed');
is(h($r, 'Access-Control-Allow-Credentials'), 'true', 'second listed origin, GET: credentials');
is(h($r, 'Access-Control-Expose-Headers'), $EXPOSE, 'second listed origin, GET: exposed headers');

$r = $t->get('/items', headers => { Accept => '*/*', Origin => 'http://invalid.com' });
is($r->{status}, 200, 'origin not listed, GET: still served');
ok(!defined h($r, 'Access-Control-Allow-Origin'), 'origin not listed, GET: no Allow-Origin');
ok(!defined h($r, 'Access-Control-Expose-Headers'), 'origin not listed, GET: no exposed headers');

$r = $t->request('OPTIONS', '/items', headers => { Origin => 'http://invalid.com',
	'Access-Control-Request-Method' => 'POST' });
is($r->{status}, 200, 'origin not listed, preflight: the OPTIONS info answer');
ok(!defined h($r, 'Access-Control-Allow-Methods'), 'origin not listed, preflight: no allowed methods');
is(h($r, 'Allow'), 'OPTIONS,GET,HEAD,POST,PUT,PATCH,DELETE', 'origin not listed, preflight: Allow');

# an origin that merely starts like a listed one is another origin
$r = $t->get('/items', headers => { Origin => 'http://example.com.evil.org' });
ok(!defined h($r, 'Access-Control-Allow-Origin'), 'origin with a listed prefix: not allowed');

is($t->sanitizer_reports, '', 'no AddressSanitizer/UBSan reports from the workers');

done_testing();
