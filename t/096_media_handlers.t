# Media type handlers for functions (PostgREST v12): a function returning a
# domain named like a media type answers with its value as that type when
# Accept asks for it (also through type/*), text as it is and bytea as its
# bytes; a "*/*" domain answers any Accept, even none; the builtin JSON
# keeps */* for the others; a Content-Type set in response.headers wins.
# Handlers for tables (aggregates) are not implemented.
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
create domain api."text/html" as text;
create domain api."application/vnd.twkb" as bytea;
create domain api."*/*" as bytea;
create function api.page(name text default 'world') returns api."text/html" language sql stable
  as $$ select '<h1>Hello, ' || name || '</h1>' $$;
create function api.blob() returns api."application/vnd.twkb" language sql stable
  as $$ select '\x00ff0a41'::bytea $$;
create function api.anything() returns api."*/*" language plpgsql stable as $$
begin
  if pg_catalog.current_setting('request.headers', true)::json->>'accept' is null then
    perform pg_catalog.set_config('response.headers', '[{"Content-Type": "image/png"}]', true);
  end if;
  return '\x89504e47'::bytea;
end $$;
grant execute on all functions in schema api to anon;
SQL

$t->start_workers(config => {
    'db-uri'       => $t->db_uri(user => 'authenticator', db => 'postgres'),
    'db-schemas'   => 'api',
    'db-anon-role' => 'anon',
}, workers => 1);
$t->start_nginx(prefix => '/');

my $r = $t->get('/rpc/page?name=pg_rest', headers => { Accept => 'text/html' });
is($r->{status}, 200, 'text/html handler: 200');
like($r->{headers}{'content-type'}, qr{^text/html}, 'text/html handler: Content-Type');
is($r->{content}, '<h1>Hello, pg_rest</h1>', 'text/html handler: the value as it is');

$r = $t->get('/rpc/page', headers => { Accept => 'text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8' });
is($r->{content}, '<h1>Hello, world</h1>', 'a browser\'s Accept gets the page');
$r = $t->get('/rpc/page', headers => { Accept => 'text/*' });
is($r->{content}, '<h1>Hello, world</h1>', 'text/* reaches a text/html handler');

$r = $t->get('/rpc/page');
like($r->{headers}{'content-type'}, qr{^application/json}, 'no Accept: the builtin JSON');
is($r->{content}, '"<h1>Hello, world</h1>"', 'no Accept: the value as JSON');
$r = $t->get('/rpc/page', headers => { Accept => 'application/json, text/html;q=0.5' });
like($r->{headers}{'content-type'}, qr{^application/json}, 'JSON preferred by q: JSON');

$r = $t->get('/rpc/blob', headers => { Accept => 'application/vnd.twkb' });
is($r->{status}, 200, 'bytea handler: 200');
like($r->{headers}{'content-type'}, qr{^application/vnd\.twkb}, 'bytea handler: Content-Type');
is($r->{content}, "\x00\xff\x0aA", 'bytea handler: the bytes');
$t->error_ok('/rpc/blob', 406, 'PGRST107', 'an Accept no handler or builtin serves',
	     headers => { Accept => 'image/png' });

$r = $t->get('/rpc/anything', headers => { Accept => 'image/gif' });
is($r->{status}, 200, '*/* handler: any Accept');
like($r->{headers}{'content-type'}, qr{^image/gif}, '*/* handler: the type asked for');
is($r->{content}, "\x89PNG", '*/* handler: the bytes');
$r = $t->get('/rpc/anything');
is($r->{status}, 200, '*/* handler without Accept: 200');
is($r->{headers}{'content-type'}, 'image/png', 'response.headers sets the Content-Type, once');
$r = $t->request('POST', '/rpc/anything', headers => { 'Content-Type' => 'application/json', Accept => '*/*' },
		 body => '{}');
like($r->{headers}{'content-type'}, qr{^application/octet-stream}, '*/* asked: application/octet-stream');

is($t->sanitizer_reports, '', 'no AddressSanitizer/UBSan reports from the workers');
done_testing();
