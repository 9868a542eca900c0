# Computed relationships (PostgREST v12): a function whose only argument
# is a table's row and which returns SETOF another relation (one-to-many)
# or a single row of it (many-to-one; SETOF ... ROWS 1 too) is embedded by its name, with its
# own select, filters, order and limit, nested, spread, !inner; it wins
# over a foreign key relationship of the same name; it works on the rows a
# function or a write returned.
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
create table api.directors (id int primary key, name text);
create table api.films (id int primary key, title text, director_id int references api.directors);
create table api.reviews (id int primary key, film_title text, stars int);
insert into api.directors values (1, 'Kurosawa'), (2, 'Varda');
insert into api.films values (1, 'Ran', 1), (2, 'Ikiru', 1), (3, 'Cleo', 2);
insert into api.reviews values (1, 'Ran', 5), (2, 'Ran', 4), (3, 'Cleo', 3);
-- no foreign key between films and reviews: only the functions relate them
create function api.reviews(api.films) returns setof api.reviews language sql stable
  as $$ select * from api.reviews where film_title = $1.title $$;
create function api.maker(api.films) returns api.directors language sql stable
  as $$ select * from api.directors where id = $1.director_id $$;
create function api.filmography(api.directors) returns setof api.films language sql stable
  as $$ select * from api.films where director_id = $1.id $$;
-- same name as the foreign key embed: the function wins
create function api.directors(api.films) returns api.directors language sql stable
  as $$ select 99, 'computed ' || d.name from api.directors d where d.id = $1.director_id $$;
-- SETOF ... ROWS 1 is to-one too, as in PostgREST's documentation
create function api.first_review(api.films) returns setof api.reviews rows 1 language sql stable
  as $$ select * from api.reviews where film_title = $1.title order by stars limit 1 $$;
create function api.classics() returns setof api.films language sql stable
  as $$ select * from api.films where id <= 2 $$;
grant select, insert on all tables in schema api to anon;
SQL

$t->start_workers(config => {
    'db-uri'       => $t->db_uri(user => 'authenticator', db => 'postgres'),
    'db-schemas'   => 'api',
    'db-anon-role' => 'anon',
}, workers => 1);
$t->start_nginx(prefix => '/');

sub rows_ok {
	my ($path, $want, $name, %o) = @_;
	$t->json_ok($path, delete $o{status} // 200, $want, $name, %o);
}

rows_ok('/films?select=title,reviews(stars)&order=id',
	[ { title => 'Ran', reviews => [ { stars => 5 }, { stars => 4 } ] },
	  { title => 'Ikiru', reviews => [] },
	  { title => 'Cleo', reviews => [ { stars => 3 } ] } ], 'one-to-many (SETOF)');
rows_ok('/films?select=title,maker(name)&order=id',
	[ { title => 'Ran', maker => { name => 'Kurosawa' } },
	  { title => 'Ikiru', maker => { name => 'Kurosawa' } },
	  { title => 'Cleo', maker => { name => 'Varda' } } ], 'many-to-one (a single row)');
rows_ok('/films?select=title,first_review(stars)&order=id',
	[ { title => 'Ran', first_review => { stars => 4 } },
	  { title => 'Ikiru', first_review => undef },
	  { title => 'Cleo', first_review => { stars => 3 } } ], 'SETOF with ROWS 1: to-one');
rows_ok('/films?select=title,reviews(stars)&reviews.stars=gte.5&reviews.order=stars.desc&id=eq.1',
	[ { title => 'Ran', reviews => [ { stars => 5 } ] } ], 'filters on a computed embed');
rows_ok('/films?select=title,reviews(stars)&reviews.order=stars&reviews.limit=1&id=eq.1',
	[ { title => 'Ran', reviews => [ { stars => 4 } ] } ], 'order and limit on a computed embed');
rows_ok('/films?select=title,reviews!inner(stars)&order=id',
	[ { title => 'Ran', reviews => [ { stars => 5 }, { stars => 4 } ] },
	  { title => 'Cleo', reviews => [ { stars => 3 } ] } ], '!inner');
rows_ok('/films?select=title,...maker(director:name)&id=eq.3',
	[ { title => 'Cleo', director => 'Varda' } ], 'spread of a to-one computed embed');
rows_ok('/directors?select=name,filmography(title,reviews(stars))&id=eq.2',
	[ { name => 'Varda', filmography => [ { title => 'Cleo', reviews => [ { stars => 3 } ] } ] } ],
	'nested computed embeds');
rows_ok('/films?select=title,directors(name)&id=eq.1',
	[ { title => 'Ran', directors => { name => 'computed Kurosawa' } } ],
	'a computed relationship overrides the foreign key of the same name');
rows_ok('/films?select=title,directors!films_director_id_fkey(name)&id=eq.1',
	[ { title => 'Ran', directors => { name => 'Kurosawa' } } ],
	'with a hint, the foreign key is still there');
rows_ok('/rpc/classics?select=title,maker(name)&order=id',
	[ { title => 'Ran', maker => { name => 'Kurosawa' } },
	  { title => 'Ikiru', maker => { name => 'Kurosawa' } } ], 'on a function\'s rows');
rows_ok('/films?select=title,maker(name)', [ { title => 'Kiki', maker => { name => 'Varda' } } ],
	'on the rows a write returned', method => 'POST', status => 201,
	body => '{"id": 4, "title": "Kiki", "director_id": 2}',
	headers => { 'Content-Type' => 'application/json', Prefer => 'return=representation' });

# the name of a function of another table's row is no relationship of this one
$t->error_ok('/directors?select=name,reviews(stars)', 400, 'PGRST200', 'computed embed of another table');

is($t->sanitizer_reports, '', 'no AddressSanitizer/UBSan reports from the workers');
done_testing();
