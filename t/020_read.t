# Reads through nginx: select, filters, order, limit/offset, db-max-rows,
# HEAD, counts, schemas, and PostgREST's error bodies and statuses.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use PgRestTest;

PgRestTest::skip_unless_ready();

my $secret = 'reads-test-secret-that-is-long-enough-32';
my $t = PgRestTest->new();
$t->start_postgres();
$t->psql(<<'SQL');
create role authenticator login noinherit;
create role anon nologin;
create role webuser nologin;
grant anon, webuser to authenticator;
create schema api;
create schema alt;
grant usage on schema api, alt to anon, webuser;
create table api.items (
    id int primary key,
    name text not null,
    price numeric,
    category text,
    tags text[],
    data jsonb,
    created date
);
insert into api.items values
    (1, 'apple',  1.50, 'fruit', '{red,sweet}', '{"origin":{"country":"NZ"},"sizes":[1,2]}', '2026-01-01'),
    (2, 'banana', 0.50, 'fruit', '{yellow}',    '{"origin":{"country":"EC"},"sizes":[3]}',   '2026-02-01'),
    (3, 'carrot', 0.30, 'veg',   '{orange}',    null,                                        '2026-03-01'),
    (4, 'Daikon', 2.00, null,    '{}',          '{"origin":{"country":"JP"}}',               null),
    (5, 'egg, large', 0.25, 'other', null,       '{}',                                        '2026-05-01');
create view api.cheap_items as select id, name, price from api.items where price < 1;
create table api.secrets (id int, secret text);
insert into api.secrets values (1, 's1');
create table alt.things (id int, label text);
insert into alt.things values (1, 'from alt');
create view api.greeting as select current_setting('app.settings.greeting', true) as greeting;
grant select on api.items, api.cheap_items, api.greeting, alt.things to anon, webuser;
SQL

$t->start_workers(config => {
    'db-uri'       => $t->db_uri(user => 'authenticator', db => 'postgres'),
    'db-schemas'   => 'api, alt',
    'db-anon-role' => 'anon',
    'jwt-secret'   => $secret,
    'jwt-optional' => \'true',
    'db-max-rows'  => \'100',
}, workers => 2);
$t->start_nginx(prefix => '/');

sub ids { my ($r) = @_; return [ map { $_->{id} } @{ $r->{json} || [] } ] }

sub get_ok {
    my ($path, $want_ids, $name, %opt) = @_;
    my $r = $t->get($path, %opt);
    is($r->{status}, 200, "$name: status 200") or diag($r->{content});
    is_deeply(ids($r), $want_ids, "$name: rows") or diag($r->{content});
    return $r;
}

sub error_ok { return $t->error_ok(@_) }

# ---- the whole table, content type and range ---------------------------
my $r = get_ok('/items', [1, 2, 3, 4, 5], 'all rows');
is($r->{headers}{'content-type'}, 'application/json; charset=utf-8', 'content type');
is($r->{headers}{'content-range'}, '0-4/*', 'Content-Range without count');
is($r->{headers}{'content-profile'}, 'api', 'Content-Profile with two schemas');
is_deeply($r->{json}[0]{tags}, ['red', 'sweet'], 'arrays come back as JSON arrays');
is($r->{json}[0]{data}{origin}{country}, 'NZ', 'jsonb comes back as JSON');
is($r->{json}[0]{price}, 1.5, 'numeric as a JSON number');

# ---- select --------------------------------------------------------------
$r = $t->get('/items?select=id,name&id=eq.1');
is_deeply($r->{json}, [{ id => 1, name => 'apple' }], 'select a column list');
$r = $t->get('/items?select=*&id=eq.2');
is(scalar keys %{ $r->{json}[0] }, 7, 'select=* gives every column');
$r = $t->get('/items?select=label:name,cost:price::text&id=eq.1');
is_deeply($r->{json}, [{ label => 'apple', cost => '1.50' }], 'rename and cast');
$r = $t->get('/items?select=id,country:data->origin->>country,first:data->sizes->0&id=eq.1');
is_deeply($r->{json}, [{ id => 1, country => 'NZ', first => 1 }], 'JSON paths in select');
$r = $t->get('/cheap_items?order=id');
is_deeply(ids($r), [2, 3, 5], 'a view reads like a table');

# ---- filters -------------------------------------------------------------
get_ok('/items?id=eq.3', [3], 'eq');
get_ok('/items?id=neq.3&order=id', [1, 2, 4, 5], 'neq');
get_ok('/items?price=gt.0.5&order=id', [1, 4], 'gt');
get_ok('/items?price=gte.0.5&order=id', [1, 2, 4], 'gte');
get_ok('/items?price=lt.0.5&order=id', [3, 5], 'lt');
get_ok('/items?price=lte.0.5&order=id', [2, 3, 5], 'lte');
get_ok('/items?name=like.*an*&order=id', [2], 'like with * wildcards');
get_ok('/items?name=ilike.d*', [4], 'ilike');
get_ok('/items?name=like.D*', [4], 'like is case-sensitive');
get_ok('/items?name=not.like.*e*&order=id', [2, 3, 4], 'not.like');
get_ok('/items?id=in.(1,3,5)&order=id', [1, 3, 5], 'in');
get_ok('/items?name=in.(%22egg,%20large%22,apple)&order=id', [1, 5], 'in with a quoted value holding a comma');
get_ok('/items?id=not.in.(1,3,5)&order=id', [2, 4], 'not.in');
get_ok('/items?category=is.null', [4], 'is.null');
get_ok('/items?category=not.is.null&order=id', [1, 2, 3, 5], 'not.is.null');
get_ok('/items?category=not.eq.fruit&order=id', [3, 5], 'not.eq excludes NULLs as SQL does');
get_ok('/items?price=gt.0.4&price=lt.1.6&order=id', [1, 2], 'filters are ANDed');
get_ok('/items?name=eq.egg,%20large', [5], 'a value may contain commas and blanks');
get_ok('/items?data->origin->>country=eq.JP', [4], 'filter on a JSON path');
get_ok('/items?tags=cs.{red}', [1], 'cs (contains)');
get_ok('/items?or=(id.eq.1,category.is.null)&order=id', [1, 4], 'or=(...)');
get_ok('/items?name=match.^[a-c]&order=id', [1, 2, 3], 'match');
get_ok('/items?id=eq.999', [], 'no match gives []');
$r = $t->get('/items?id=eq.999');
is($r->{content}, '[]', 'empty result body is exactly []');
is($r->{headers}{'content-range'}, '*/*', 'Content-Range of an empty result');
get_ok('/items?unrelated=value&order=id&limit=1', [1], 'a param without an operator is ignored on tables');

# ---- order, limit, offset -----------------------------------------------
get_ok('/items?order=price.desc', [4, 1, 2, 3, 5], 'order desc');
get_ok('/items?order=price.asc', [5, 3, 2, 1, 4], 'order asc');
get_ok('/items?order=category.desc.nullslast,id.asc', [3, 5, 1, 2, 4], 'several terms, nullslast');
get_ok('/items?order=category.asc.nullsfirst,id', [4, 1, 2, 5, 3], 'nullsfirst');
$r = get_ok('/items?order=id&limit=2', [1, 2], 'limit');
is($r->{headers}{'content-range'}, '0-1/*', 'Content-Range with limit');
$r = get_ok('/items?order=id&limit=2&offset=2', [3, 4], 'limit and offset');
is($r->{headers}{'content-range'}, '2-3/*', 'Content-Range with offset');
get_ok('/items?order=id&limit=0', [], 'limit=0');
get_ok('/items?order=id&offset=4', [5], 'offset alone');

# ---- counts ----------------------------------------------------------------
$r = $t->get('/items?order=id&limit=2', headers => { Prefer => 'count=exact' });
is($r->{status}, 206, 'partial content when a count shows more rows');
is($r->{headers}{'content-range'}, '0-1/5', 'Content-Range with the exact count');
is($r->{headers}{'preference-applied'}, 'count=exact', 'Preference-Applied');
$r = $t->get('/items?category=eq.fruit', headers => { Prefer => 'count=exact' });
is($r->{status}, 200, 'all rows counted: 200');
is($r->{headers}{'content-range'}, '0-1/2', 'count honours filters');
$r = $t->get('/items?offset=10', headers => { Prefer => 'count=exact' });
is($r->{status}, 416, 'offset past the end with a count: 416');
is($r->{json}{code}, 'PGRST103', 'PGRST103');
is($r->{headers}{'content-range'}, '*/5', 'Content-Range */total on 416');

# ---- HEAD ------------------------------------------------------------------
$r = $t->request('HEAD', '/items?order=id&limit=3');
is($r->{status}, 200, 'HEAD status');
is($r->{content}, '', 'HEAD has no body');
is($r->{headers}{'content-range'}, '0-2/*', 'HEAD carries Content-Range');
is($r->{headers}{'content-type'}, 'application/json; charset=utf-8', 'HEAD carries Content-Type');

# ---- schemas -------------------------------------------------------------
$r = $t->get('/things', headers => { 'Accept-Profile' => 'alt' });
is($r->{status}, 200, 'Accept-Profile selects another exposed schema');
is($r->{json}[0]{label}, 'from alt', 'row from the other schema');
is($r->{headers}{'content-profile'}, 'alt', 'Content-Profile names it');
error_ok('/items', 406, 'PGRST106', 'unknown profile', headers => { 'Accept-Profile' => 'nope' });
$r = $t->get('/items', headers => { 'Accept-Profile' => 'nope' });
is($r->{json}{message}, 'The schema must be one of the following: api, alt', 'PGRST106 message');
error_ok('/things', 404, '42P01', 'table of a non-default schema without the header');

# ---- db-max-rows ----------------------------------------------------------
$t->start_workers(config => {
    'db-uri'       => $t->db_uri(user => 'authenticator', db => 'postgres'),
    'db-schemas'   => 'api',
    'db-anon-role' => 'anon',
    'db-max-rows'  => \'2',
    'app.settings.greeting' => 'hello there',
}, workers => 1);
get_ok('/items?order=id', [1, 2], 'db-max-rows caps the rows');
get_ok('/items?order=id&limit=10', [1, 2], 'db-max-rows caps a larger limit');
get_ok('/items?order=id&limit=1', [1], 'a smaller limit stays');
$r = $t->get('/items?order=id', headers => { Prefer => 'count=exact' });
is($r->{headers}{'content-range'}, '0-1/5', 'count with db-max-rows');
ok(!defined $r->{headers}{'content-profile'}, 'no Content-Profile with one schema');
$r = $t->get('/greeting');
is_deeply($r->{json}, [{ greeting => 'hello there' }], 'app.settings.* visible as transaction settings');

# ---- errors ----------------------------------------------------------------
$t->start_workers(config => {
    'db-uri'       => $t->db_uri(user => 'authenticator', db => 'postgres'),
    'db-schemas'   => 'api',
    'db-anon-role' => 'anon',
    'jwt-secret'   => $secret,
    'jwt-optional' => \'true',
}, workers => 2);
$r = error_ok('/nosuchtable', 404, '42P01', 'unknown table');
is($r->{json}{message}, 'relation "api.nosuchtable" does not exist', 'unknown table message');
$r = error_ok('/items?select=nosuchcol', 400, '42703', 'unknown column in select');
is($r->{json}{message}, 'column items.nosuchcol does not exist', 'unknown column message names the table (columns are qualified, as in PostgREST)');
error_ok('/items?nosuchcol=eq.1', 400, '42703', 'unknown column in a filter');
error_ok('/items?order=nosuchcol', 400, '42703', 'unknown column in order');
$r = error_ok('/items?id=eq', 400, 'PGRST100', 'operator without value');
like($r->{json}{message}, qr/^"failed to parse filter \(eq\)"/, 'PGRST100 message');
error_ok('/items?id=in.1,2', 400, 'PGRST100', 'in without parentheses');
error_ok('/items?id=is.maybe', 400, 'PGRST100', 'is with a bad value');
error_ok('/items?select=id,', 400, 'PGRST100', 'malformed select');
error_ok('/items?order=id.sideways', 400, 'PGRST100', 'malformed order');
error_ok('/items?or=(id.eq.1', 400, 'PGRST100', 'unbalanced or');
error_ok('/items?limit=-1', 416, 'PGRST103', 'negative limit');
$r = error_ok('/items?id=eq.abc', 400, '22P02', 'a value of the wrong type');
like($r->{json}{message}, qr/invalid input syntax for type integer/, '22P02 message');

$r = error_ok('/secrets', 401, '42501', 'no privilege as the anon role: 401');
is($r->{headers}{'www-authenticate'}, 'Bearer', 'WWW-Authenticate on 401');
my $tok = $t->jwt({ role => 'webuser' }, $secret);
$r = error_ok('/secrets', 403, '42501', 'no privilege as a token role: 403',
              headers => { Authorization => "Bearer $tok" });
like($r->{json}{message}, qr/permission denied for table secrets/, '42501 message');

error_ok('/items', 406, 'PGRST107', 'unsupported Accept', headers => { Accept => 'text/html' });
$r = $t->get('/items?id=eq.1', headers => { Accept => 'text/html, application/json;q=0.9' });
is($r->{status}, 200, 'JSON among several accepted types');
error_ok('/items', 405, 'PGRST117', 'unsupported method', method => 'LINK');
error_ok('/a/b', 404, 'PGRST125', 'nested path');

$r = $t->request('OPTIONS', '/items');
is($r->{status}, 200, 'OPTIONS');
like($r->{headers}{allow} // '', qr/GET/, 'Allow lists GET');

# ---- SQL injection attempts stay values ------------------------------------
get_ok("/items?name=eq.apple';drop%20table%20api.items;--", [], 'quote in a value is data');
error_ok('/items?select=id;drop%20table%20api.items', 400, 'PGRST100', 'semicolon in select');
$r = error_ok('/items%22;drop%20table%20x;--', 404, '42P01', 'quote in a table name is part of the name');
get_ok('/items?order=id&limit=1', [1], 'table still there');

# ---- mounted under /api/ ---------------------------------------------------
$t->start_nginx(prefix => '/api');
$r = $t->get('/api/items?id=eq.2');
is($r->{status}, 200, 'served under /api/');
is_deeply(ids($r), [2], 'row under /api/');
error_ok('/api/nope', 404, '42P01', 'unknown table under /api/');

# a --enable-sanitizers build writes its reports (leaks at exit included)
# into the harness's log directory
$t->stop_workers;
is($t->sanitizer_reports, '', 'no AddressSanitizer/UBSan reports from the workers');

done_testing();
