# RPC: /rpc/<function> called by GET and POST, argument matching, result
# shapes, the read grammar on results, volatility and errors.
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
create table api.items (id int primary key, name text, price numeric);
insert into api.items values (1, 'apple', 1.5), (2, 'banana', 0.5), (3, 'cherry', 3), (4, 'date', 0.75);
create table api.tags (id int primary key, item_id int references api.items, tag text);
insert into api.tags values (1, 1, 'red'), (2, 1, 'sweet'), (3, 2, 'yellow');
create table api.log (msg text);
grant select on api.items, api.tags to anon;
grant insert, select on api.log to anon;

create function api.add(a int, b int default 10) returns int language sql immutable as $$ select a + b $$;
create function api.hello(name text) returns text language sql stable as $$ select 'Hello, ' || name $$;
create function api.cheap(maxp numeric) returns setof api.items language sql stable
  as $$ select * from api.items where price <= maxp $$;
create function api.first_item() returns api.items language sql stable
  as $$ select * from api.items order by id limit 1 $$;
create function api.pairs() returns table (k int, v text) language sql immutable
  as $$ values (1, 'one'), (2, 'two') $$;
create function api.numbers() returns setof int language sql immutable as $$ select generate_series(1, 3) $$;
create function api.write_log(msg text) returns void language sql volatile
  as $$ insert into api.log values (msg) $$;
create function api.echo(j json) returns json language sql immutable as $$ select j $$;
create function api.shout(text) returns text language sql immutable as $$ select upper($1) $$;
create function api.xml_root(xml) returns text language sql immutable
  as $$ select (xpath('name(/*)', $1))[1]::text $$;
create function api.blob_len(bytea) returns json language sql immutable
  as $$ select json_build_object('len', length($1), 'hex', encode($1, 'hex')) $$;
create function api.pay() returns int language plpgsql as $$
begin raise sqlstate 'PT402' using message = 'Payment required', detail = 'the detail', hint = 'the hint'; end $$;
create function api.oops() returns int language plpgsql as $$
begin raise exception 'custom failure' using detail = 'some detail', hint = 'some hint'; end $$;
create function api.vsum(variadic v int[]) returns int language sql immutable
  as $$ select sum(x)::int from unnest(v) x $$;
create function api.overloaded(a int) returns text language sql immutable as $$ select 'int' $$;
create function api.overloaded(a text) returns text language sql immutable as $$ select 'text' $$;
create function api.arr(xs int[]) returns int language sql immutable as $$ select cardinality(xs) $$;
SQL

$t->start_workers(config => {
    'db-uri'       => $t->db_uri(user => 'authenticator', db => 'postgres'),
    'db-schemas'   => 'api',
    'db-anon-role' => 'anon',
}, workers => 2);
$t->start_nginx(prefix => '/');

my $J = { 'Content-Type' => 'application/json' };

sub call_ok {
    my ($method, $path, $body, $want, $name, %opt) = @_;
    my $r = $t->request($method, $path, headers => { %$J, %{ $opt{headers} || {} } },
                        defined $body ? (body => $body) : ());
    is($r->{status}, $opt{status} // 200, "$name: status") or diag($r->{content});
    is_deeply($r->{json}, $want, "$name: body") or diag($r->{content});
    return $r;
}

# ---- scalars, arguments, defaults ------------------------------------------
call_ok('GET', '/rpc/add?a=1&b=2', undef, 3, 'GET with query arguments');
call_ok('POST', '/rpc/add', '{"a":5}', 15, 'POST, default for a missing argument');
call_ok('POST', '/rpc/add', '{"a":5,"b":1}', 6, 'POST with all arguments');
call_ok('GET', '/rpc/hello?name=World', undef, 'Hello, World', 'text result as a JSON string');
my $r = $t->get('/rpc/add?a=1&b=2');
like($r->{headers}{'content-type'}, qr{^application/json}, 'JSON content type');
is($r->{content}, '3', 'a scalar is the bare value');

# ---- composite and set results --------------------------------------------
call_ok('GET', '/rpc/cheap?maxp=1&order=id', undef,
        [ { id => 2, name => 'banana', price => 0.5 }, { id => 4, name => 'date', price => 0.75 } ],
        'setof a table type: an array of rows');
call_ok('GET', '/rpc/first_item', undef, { id => 1, name => 'apple', price => 1.5 },
        'a single composite: an object');
call_ok('GET', '/rpc/pairs?order=k.desc', undef, [ { k => 2, v => 'two' }, { k => 1, v => 'one' } ],
        'RETURNS TABLE: an array');
call_ok('GET', '/rpc/numbers', undef, [1, 2, 3], 'setof a scalar: an array of values');

# ---- the read grammar on results -------------------------------------------
call_ok('GET', '/rpc/cheap?maxp=2&select=name&price=gt.0.6&order=name.desc', undef,
        [ { name => 'date' }, { name => 'apple' } ], 'select, filter and order on a function\'s rows');
call_ok('POST', '/rpc/cheap?select=name&limit=1&order=id', '{"maxp":5}', [ { name => 'apple' } ],
        'limit on POST results');
call_ok('GET', '/rpc/cheap?maxp=5&select=name,tags(tag)&id=eq.1', undef,
        [ { name => 'apple', tags => [ { tag => 'red' }, { tag => 'sweet' } ] } ],
        'embedding on a function returning a table type');
$r = $t->get('/rpc/cheap?maxp=5&order=id&limit=2', headers => { Prefer => 'count=exact' });
is($r->{status}, 206, 'counts on function results: 206');
is($r->{headers}{'content-range'}, '0-1/4', 'Content-Range with the count');
$r = $t->get('/rpc/first_item', headers => { Accept => 'application/vnd.pgrst.object+json' });
is_deeply($r->{json}, { id => 1, name => 'apple', price => 1.5 }, 'singular object');
$r = $t->get('/rpc/cheap?maxp=5&order=id', headers => { Accept => 'text/csv' });
like($r->{content}, qr/^id,name,price\n1,apple,1.5\n/, 'CSV of function results');

# ---- arrays and variadic ------------------------------------------------------
call_ok('GET', '/rpc/vsum?v=1&v=2&v=3', undef, 6, 'repeated GET params feed a VARIADIC argument');
call_ok('POST', '/rpc/vsum', '{"v":[4,5]}', 9, 'VARIADIC from a JSON array');
call_ok('GET', '/rpc/arr?xs={1,2,3}', undef, 3, 'array literal in a GET argument');
call_ok('POST', '/rpc/arr', '{"xs":[1,2]}', 2, 'JSON array for an array argument');

# ---- json argument: the whole body ----------------------------------------
call_ok('POST', '/rpc/echo', '{"x":[1,{"y":2}]}', { x => [1, { y => 2 }] },
        'a single json parameter takes the whole body');

# ---- raw bodies: text/plain, text/xml, application/octet-stream -----------
# a single unnamed text/xml/bytea parameter takes the whole body (PostgREST v12)
call_ok('POST', '/rpc/shout', "hello\nworld", "HELLO\nWORLD", 'text/plain body to f(text)',
        headers => { 'Content-Type' => 'text/plain; charset=utf-8' });
call_ok('POST', '/rpc/xml_root', '<order id="1"><line/></order>', 'order', 'text/xml body to f(xml)',
        headers => { 'Content-Type' => 'text/xml' });
call_ok('POST', '/rpc/blob_len', "\x00\xff\x01binary", { len => 9, hex => '00ff0162696e617279' },
        'application/octet-stream body to f(bytea): every byte kept',
        headers => { 'Content-Type' => 'application/octet-stream' });
$r = $t->request('POST', '/rpc/hello', headers => { 'Content-Type' => 'text/plain' }, body => 'x');
is($r->{status}, 404, 'text/plain to a function whose text parameter is named: 404');
is($r->{json}{code}, 'PGRST202', '... PGRST202');
like($r->{json}{details} // '', qr/single unnamed text parameter/, '... details name the unnamed parameter');
$r = $t->request('POST', '/rpc/xml_root', headers => { 'Content-Type' => 'text/xml' }, body => '<a>');
is($r->{status}, 400, 'malformed XML: 400') or diag($r->{content});
is($r->{json}{code}, '2200N', '... PostgreSQL\'s invalid_xml_content');
$r = $t->request('POST', '/rpc/shout', headers => { 'Content-Type' => 'text/plain' }, body => "a\x00b");
is($r->{status}, 400, 'a NUL in a text body: 400');
$r = $t->request('POST', '/rpc/shout', headers => { 'Content-Type' => 'application/xml' }, body => 'x');
is($r->{status}, 400, 'a Content-Type no function takes: 400');
is($r->{json}{code}, 'PGRST102', '... PGRST102');

# ---- void and volatility -------------------------------------------------------
$r = $t->request('POST', '/rpc/write_log', headers => $J, body => '{"msg":"hi"}');
is($r->{status}, 204, 'void function: 204');
is($r->{content}, '', 'void function: no body');
is($t->psql('select count(*) from api.log'), "1\n", 'the volatile function wrote its row');
$r = $t->error_ok('/rpc/write_log?msg=no', 405, '25006', 'GET on a volatile function that writes');
like($r->{json}{message}, qr/read-only transaction/, '25006 message');
is($t->psql('select count(*) from api.log'), "1\n", 'nothing written by the refused GET');
$r = $t->request('OPTIONS', '/rpc/write_log');
is($r->{headers}{allow}, 'OPTIONS,POST', 'OPTIONS on a volatile function');
$r = $t->request('OPTIONS', '/rpc/add');
is($r->{headers}{allow}, 'OPTIONS,GET,HEAD,POST', 'OPTIONS on an immutable function');

# ---- errors ----------------------------------------------------------------------
$r = $t->error_ok('/rpc/pay', 402, 'PT402', 'RAISE SQLSTATE PT402 sets the status');
is($r->{json}{message}, 'Payment required', 'custom message');
is($r->{json}{details}, 'the detail', 'custom detail');
is($r->{json}{hint}, 'the hint', 'custom hint');
$r = $t->error_ok('/rpc/oops', 400, 'P0001', 'RAISE EXCEPTION: 400 P0001');
is_deeply([ @{ $r->{json} }{qw(message details hint)} ], ['custom failure', 'some detail', 'some hint'],
          'message, details and hint of the exception');
$r = $t->error_ok('/rpc/nope', 404, 'PGRST202', 'unknown function');
is($r->{json}{message}, 'Could not find the function api.nope() in the schema cache', 'PGRST202 message');
$r = $t->error_ok('/rpc/add?c=1', 404, 'PGRST202', 'unknown argument name');
is($r->{json}{message}, 'Could not find the function api.add(c) in the schema cache', 'message names the arguments');
is($r->{json}{details}, 'Searched for the function api.add with parameter c, but no matches were found in the schema cache.',
   'PGRST202 details');
is($r->{json}{hint}, 'Perhaps you meant to call the function api.add(a, b)', 'hint lists the real parameters');
$r = $t->error_ok('/rpc/add', 404, 'PGRST202', 'a required argument missing', method => 'POST',
                  headers => $J, body => '{"b":1}');
$r = $t->error_ok('/rpc/overloaded?a=1', 300, 'PGRST203', 'overloads with the same argument names');
like($r->{json}{message}, qr/^Could not choose the best candidate function between: /, 'PGRST203 message');
$t->error_ok('/rpc/add', 405, 'PGRST101', 'DELETE on RPC', method => 'DELETE');
$t->error_ok('/rpc/add?a=x', 400, '22P02', 'an argument of the wrong type');
$t->error_ok('/rpc/add', 400, 'PGRST102', 'invalid JSON body', method => 'POST', headers => $J, body => '{"a":');

$t->stop_workers;
is($t->sanitizer_reports, '', 'no AddressSanitizer/UBSan reports from the workers');

done_testing();
