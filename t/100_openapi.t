# GET / (and HEAD /): PostgREST v12's OpenAPI 2.0 description of the
# exposed schema, end to end: tables, views and functions in it, what the
# role may see (openapi-mode follow-privileges, ignore-privileges,
# disabled), openapi-server-proxy-uri, the /api/ mount and Accept-Profile.
#
# Facts come from PostgREST's test/spec/Feature/OpenApi/ (OpenApiSpec.hs,
# IgnorePrivOpenApiSpec.hs, DisabledOpenApiSpec.hs at v12: 404 with {})
# and src/PostgREST/Response/OpenAPI.hs; t/unit/openapi-t.c covers the
# document in detail.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use PgRestTest;

PgRestTest::skip_unless_ready();

my $SECRET = 'an-openapi-test-secret-of-32-chars!';
my $OA_CT = 'application/openapi+json; charset=utf-8';

my $t = PgRestTest->new();
$t->start_postgres();
$t->psql(<<'SQL');
create role authenticator login noinherit;
create role anon nologin;
create role author nologin;
grant anon, author to authenticator;

create schema api;
create schema v2;
comment on schema api is 'Test API
The API of the tests.';
grant usage on schema api, v2 to anon, author;

create type api.size as enum ('small', 'large');
create table api.items (
  id int primary key,
  name varchar(20) not null,
  price numeric default 0,
  size api.size default 'small',
  tags text[],
  extra jsonb,
  created timestamptz not null default now()
);
comment on table api.items is 'Items
Things for sale.';
comment on column api.items.name is 'The name';
insert into api.items (id, name) values (1, 'apple');
create table api.tags (id int primary key, item_id int references api.items, tag text);
create view api.items_view as select id, name from api.items;
create table api.authors_only (id int primary key, secret text);
grant select on api.items, api.tags, api.items_view to anon;
grant select, insert on api.items to author;
grant all on api.authors_only to author;

create function api.add(a int, b int default 10) returns int language sql immutable
  as $$ select a + b $$;
comment on function api.add(int, int) is 'Adds two numbers';
create function api.write_log(msg text) returns void language sql volatile as $$ select $$;
create function api.privileged() returns text language sql stable as $$ select 'secret' $$;
revoke execute on function api.privileged() from public;
grant execute on function api.privileged() to author;

create table v2.children (id int primary key, name text);
create function v2.get_children() returns setof v2.children language sql stable
  as $$ select * from v2.children $$;
grant select on v2.children to anon;
SQL

my %base = (
    'db-uri'       => $t->db_uri(user => 'authenticator', db => 'postgres'),
    'db-schemas'   => 'api, v2',
    'db-anon-role' => 'anon',
    'jwt-secret'   => $SECRET,
    'jwt-optional' => 'true',
);
$t->start_workers(config => { %base }, workers => 2);
$t->start_nginx(prefix => '/');

my $AUTHOR = { Authorization => 'Bearer ' . $t->jwt({ role => 'author' }, $SECRET) };

# GET / and check it is the document; returns (response, document)
sub doc_ok {
    my ($path, $name, %opt) = @_;
    my $r = $t->get($path, %opt);
    is($r->{status}, 200, "$name: status 200") or diag($r->{content});
    is($r->{headers}{'content-type'}, $OA_CT, "$name: Content-Type");
    my $d = ref $r->{json} eq 'HASH' ? $r->{json} : {};
    is($d->{swagger}, '2.0', "$name: swagger 2.0");
    return ($r, $d);
}

sub has_paths {
    my ($d, $want, $name) = @_;
    my @missing = grep { !exists $d->{paths}{$_} } @$want;
    ok(!@missing, "$name: has " . join(' ', @$want)) or diag("missing: @missing; have: "
        . join(' ', sort keys %{ $d->{paths} || {} }));
}

sub lacks_paths {
    my ($d, $unwanted, $name) = @_;
    my @there = grep { exists $d->{paths}{$_} } @$unwanted;
    ok(!@there, "$name: lacks " . join(' ', @$unwanted)) or diag("present: @there");
}

# ===========================================================================
# the document as the anonymous role sees it (follow-privileges, the default)

my ($r, $d) = doc_ok('/', 'anon');
like($r->{content}, qr/\A\{"swagger":"2\.0","info":\{"description":/,
     'key order as PostgREST writes it: swagger, then info with sorted keys');
is($d->{info}{title}, 'Test API', 'title: first line of the schema comment');
is($d->{info}{description}, 'The API of the tests.', 'description: the rest of it');
is($d->{basePath}, '/', 'basePath / at the root');
ok(!exists $d->{host} && !exists $d->{schemes},
   'no host or schemes without openapi-server-proxy-uri: the document\'s own apply');
is_deeply($d->{produces}, ['application/json', 'application/vnd.pgrst.object+json;nulls=stripped',
                           'application/vnd.pgrst.object+json', 'text/csv'], 'produces');
is($d->{paths}{'/'}{get}{summary}, 'OpenAPI description (this document)', 'the root path');

has_paths($d, [qw(/items /tags /items_view /rpc/add /rpc/write_log)], 'anon');
lacks_paths($d, [qw(/authors_only /rpc/privileged /children /rpc/get_children)],
            'anon (no privileges, other schema)');

my $items = $d->{paths}{'/items'};
is_deeply([sort keys %$items], [qw(delete get patch post)], '/items: every method (a table)');
is($items->{get}{summary}, 'Items', '/items: summary from the comment');
is($items->{get}{description}, 'Things for sale.', '/items: description from the comment');
is_deeply($items->{get}{tags}, ['items'], '/items: tag');
is_deeply([map { $_->{'$ref'} } @{ $items->{get}{parameters} }],
          [(map { "#/parameters/rowFilter.items.$_" } qw(id name price size tags extra created)),
           map { "#/parameters/$_" } qw(select order range rangeUnit offset limit preferCount)],
          '/items get: row filters and the read parameters');
is($items->{get}{responses}{200}{schema}{items}{'$ref'}, '#/definitions/items',
   '/items get: an array of items');
is_deeply([sort keys %{ $d->{paths}{'/items_view'} }], [qw(delete get patch post)],
          'an auto-updatable view takes writes too');

my $def = $d->{definitions}{items};
is($def->{description}, "Items\nThings for sale.", 'definition: the whole comment');
is_deeply($def->{required}, [qw(id name created)], 'definition: required = NOT NULL columns');
is_deeply($def->{properties}{id},
          { format => 'integer', type => 'integer', description => "Note:\nThis is a Primary Key.<pk/>" },
          'id: integer, primary key note');
is_deeply($def->{properties}{name},
          { format => 'character varying', type => 'string', maxLength => 20, description => 'The name' },
          'name: varchar(20) with maxLength and the column comment');
is_deeply($def->{properties}{size},
          { format => 'api.size', type => 'string', enum => [qw(small large)], default => 'small' },
          'size: enum values and default');
is_deeply($def->{properties}{tags},
          { format => 'text[]', type => 'array', items => { type => 'string' } }, 'tags: text[]');
is_deeply($def->{properties}{extra}, { format => 'jsonb' }, 'extra: jsonb has no type');
is_deeply($def->{properties}{price}, { format => 'numeric', type => 'number', default => 0 },
          'price: numeric with its default');
is($def->{properties}{created}{default}, 'now()', 'created: now() as a string default');
is($d->{definitions}{tags}{properties}{item_id}{description},
   "Note:\nThis is a Foreign Key to `items.id`.<fk table='items' column='id'/>", 'foreign key note');
is_deeply($d->{parameters}{'rowFilter.items.name'},
          { name => 'name', description => 'The name', required => JSON::PP::false, in => 'query',
            type => 'string' }, 'row filter parameter');
is($d->{parameters}{'body.items'}{schema}{'$ref'}, '#/definitions/items', 'body parameter');

my $add = $d->{paths}{'/rpc/add'};
is_deeply([sort keys %$add], [qw(get post)], '/rpc/add: get and post (immutable)');
is($add->{post}{summary}, 'Adds two numbers', '/rpc/add: summary');
is_deeply($add->{get}{tags}, ['(rpc) add'], '/rpc/add: tag');
is_deeply([map { "$_->{name}:" . ($_->{required} ? 1 : 0) } @{ $add->{get}{parameters} }],
          ['a:1', 'b:0'], '/rpc/add get: query parameters, b has a default');
is_deeply($add->{post}{parameters}[0]{schema}{required}, ['a'], '/rpc/add post: required arguments');
is_deeply([sort keys %{ $d->{paths}{'/rpc/write_log'} }], ['post'], '/rpc/write_log: post only (volatile)');

# HEAD: the same headers, no body
$r = $t->request('HEAD', '/');
is($r->{status}, 200, 'HEAD /: 200');
is($r->{headers}{'content-type'}, $OA_CT, 'HEAD /: Content-Type');
is($r->{content}, '', 'HEAD /: no body');

# ===========================================================================
# a role with more privileges sees more

($r, $d) = doc_ok('/', 'author', headers => $AUTHOR);
has_paths($d, [qw(/items /authors_only /rpc/privileged /rpc/add)], 'author');
lacks_paths($d, [qw(/tags /items_view)], 'author (no privileges on them)');
is_deeply($d->{paths}{'/authors_only'}{post}{tags}, ['authors_only'], 'author: /authors_only post');

# ===========================================================================
# Accept-Profile picks the schema

($r, $d) = doc_ok('/', 'Accept-Profile: v2', headers => { 'Accept-Profile' => 'v2' });
has_paths($d, [qw(/children /rpc/get_children)], 'v2');
lacks_paths($d, [qw(/items /rpc/add)], 'v2');
is($r->{headers}{'content-profile'}, 'v2', 'v2: Content-Profile');
is($d->{info}{title}, 'PostgREST API', 'v2: no schema comment, default title');
$t->error_ok('/', 406, 'PGRST106', 'unknown profile', headers => { 'Accept-Profile' => 'nope' });

# ===========================================================================
# the /api/ mount: basePath is the public prefix

$t->start_nginx(prefix => '/api');
($r, $d) = doc_ok('/api/', 'under /api/');
is($d->{basePath}, '/api', 'under /api/: basePath /api');
has_paths($d, [qw(/items /rpc/add)], 'under /api/: paths stay relative to basePath');
$r = $t->get('/api/items?select=id');
is($r->{status}, 200, 'under /api/: the API itself');
$t->start_nginx(prefix => '/');

# ===========================================================================
# openapi-server-proxy-uri

$t->start_workers(config => { %base, 'openapi-server-proxy-uri' => 'https://example.org:8443/rest/v1' },
                  workers => 1);
($r, $d) = doc_ok('/', 'proxy uri');
is($d->{host}, 'example.org:8443', 'proxy uri: host with port');
is($d->{basePath}, '/rest/v1', 'proxy uri: basePath');
is_deeply($d->{schemes}, ['https'], 'proxy uri: schemes');

# ===========================================================================
# ignore-privileges: everything in the schema, whoever asks

$t->start_workers(config => { %base, 'openapi-mode' => 'ignore-privileges' }, workers => 1);
($r, $d) = doc_ok('/', 'ignore-privileges');
has_paths($d, [qw(/items /tags /items_view /authors_only /rpc/add /rpc/privileged)], 'ignore-privileges');
is($d->{info}{title}, 'Test API', 'ignore-privileges: schema comment still read');

# ===========================================================================
# disabled: PostgREST v12 answers 404 with {} (v13+: PGRST126)

$t->start_workers(config => { %base, 'openapi-mode' => 'disabled' }, workers => 1);
$r = $t->get('/');
is($r->{status}, 404, 'disabled: 404');
like($r->{headers}{'content-type'} // '', qr{^application/json}, 'disabled: a JSON body');
ok(ref $r->{json} eq 'HASH' && (!%{ $r->{json} } || ($r->{json}{code} // '') eq 'PGRST126'),
   'disabled: {} as v12 (or PGRST126 as v13)') or diag($r->{content});
$r = $t->get('/items?select=id');
is($r->{status}, 200, 'disabled: the API still works');

# ===========================================================================
# db-root-spec (alias root-spec): a function answers GET / as an RPC would

$t->psql(<<'SQL');
create function api.root_spec() returns json language sql stable
  as $$ select json_build_object('swagger', '2.0', 'info', json_build_object('title', 'custom')) $$;
grant execute on function api.root_spec() to anon;
SQL
$t->start_workers(config => { %base, 'db-root-spec' => 'root_spec' }, workers => 1);
$r = $t->get('/');
is($r->{status}, 200, 'db-root-spec: 200');
is_deeply($r->{json}, { swagger => '2.0', info => { title => 'custom' } }, 'db-root-spec: the function\'s JSON');
is($t->request('HEAD', '/')->{status}, 200, 'db-root-spec: HEAD');
$r = $t->get('/items?select=id&id=eq.1');
is($r->{status}, 200, 'db-root-spec: the API still works');
$t->start_workers(config => { %base, 'root-spec' => 'no_such_fn' }, workers => 1);
$t->error_ok('/', 404, 'PGRST202', 'root-spec naming no function');

# a --enable-sanitizers build writes its reports into the harness's directory
$t->stop_workers;
is($t->sanitizer_reports, '', 'no AddressSanitizer/UBSan reports from the workers');

done_testing();
