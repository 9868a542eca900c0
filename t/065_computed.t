# Computed fields (PostgREST v12, references/api/computed_fields.rst): a
# function of the exposed schema whose only argument is a table's row type
# reads like a column of that table in select (with aliases and casts),
# filters and order, on the root, on embedded resources and on the rows a
# function returns.  Not in * (as in PostgREST); a name that is neither a
# column nor such a function is still 42703.
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
create table api.people (id int primary key, first text, last text, born date);
insert into api.people values (1, 'Ada', 'Lovelace', '1815-12-10'), (2, 'Alan', 'Turing', '1912-06-23'),
                              (3, 'Grace', 'Hopper', '1906-12-09');
create table api.books (id int primary key, title text, author_id int references api.people);
insert into api.books values (1, 'Notes', 1), (2, 'Computing Machinery', 2), (3, 'On Numbers', 2);
create function api.full_name(api.people) returns text language sql stable
  as $$ select $1.first || ' ' || $1.last $$;
create function api.profile(p api.people) returns json language sql stable
  as $$ select json_build_object('initials', left(p.first, 1) || left(p.last, 1)) $$;
create function api.shout(api.books) returns text language sql immutable as $$ select upper($1.title) $$;
-- not computed fields: two arguments, a set, another table's row
create function api.two(api.people, int) returns int language sql as $$ select $2 $$;
create function api.many(api.people) returns setof int language sql as $$ select 1 $$;
create function api.born_before(y int) returns setof api.people language sql stable
  as $$ select * from api.people where extract(year from born) < y $$;
grant select, update on api.people to anon;
grant select on api.books to anon;
SQL
$t->start_workers(config => {
    'db-uri'       => $t->db_uri(user => 'authenticator', db => 'postgres'),
    'db-schemas'   => 'api',
    'db-anon-role' => 'anon',
}, workers => 1);
$t->start_nginx(prefix => '/');

sub body_ok {
    my ($path, $want, $name) = @_;
    my $r = $t->get($path);
    is($r->{status}, 200, "$name: 200") or diag("$path\n$r->{content}");
    is_deeply($r->{json}, $want, "$name: body") or diag("$path\n$r->{content}");
    return $r;
}

body_ok('/people?select=id,full_name&order=id',
        [ { id => 1, full_name => 'Ada Lovelace' }, { id => 2, full_name => 'Alan Turing' },
          { id => 3, full_name => 'Grace Hopper' } ], 'select a computed field');
body_ok('/people?select=name:full_name,len:full_name::text&id=eq.3',
        [ { name => 'Grace Hopper', len => 'Grace Hopper' } ], 'alias and cast');
body_ok('/people?select=id&full_name=like.A*&order=id', [ { id => 1 }, { id => 2 } ],
        'filter on a computed field');
body_ok('/people?select=id&or=(full_name.eq.Grace%20Hopper,id.eq.1)&order=id', [ { id => 1 }, { id => 3 } ],
        'computed field inside or=()');
body_ok('/people?select=id&order=full_name.desc', [ { id => 3 }, { id => 2 }, { id => 1 } ],
        'order by a computed field');
body_ok('/people?select=id,profile->>initials&id=eq.2', [ { id => 2, initials => 'AT' } ],
        'JSON path into a computed json field');
my $r = body_ok('/people?id=eq.1', [ { id => 1, first => 'Ada', last => 'Lovelace', born => '1815-12-10' } ],
                '* leaves computed fields out');
body_ok('/books?select=title,people(full_name)&id=eq.1',
        [ { title => 'Notes', people => { full_name => 'Ada Lovelace' } } ], 'computed field of a many-to-one embed');
body_ok('/people?select=id,books(shout)&books.shout=like.*MACHINERY*&id=eq.2',
        [ { id => 2, books => [ { shout => 'COMPUTING MACHINERY' } ] } ],
        'computed field of a one-to-many embed, filtered');
body_ok('/rpc/born_before?y=1900&select=full_name', [ { full_name => 'Ada Lovelace' } ],
        'computed field on the rows a function returns');

# a write filtered by a computed field changes only what it names
$r = $t->request('PATCH', '/people?full_name=eq.Alan%20Turing',
                 headers => { 'Content-Type' => 'application/json' }, body => '{"first":"Alan M."}');
is($r->{status}, 204, 'PATCH filtered by a computed field: 204') or diag($r->{content});
is($t->psql(q{select string_agg(first, ',' order by id) from api.people}), "Ada,Alan M.,Grace\n",
   'PATCH changed the one row');

for my $bad (qw(two many nosuch)) {
    $r = $t->get("/people?select=id,$bad");
    is($r->{status}, 400, "$bad is not a computed field: 400");
    is($r->{json}{code}, '42703', "$bad: 42703");
}

$t->stop_workers;
is($t->sanitizer_reports, '', 'no sanitizer reports');
done_testing();
