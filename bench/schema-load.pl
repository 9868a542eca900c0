#!/usr/bin/perl
# Benchmark: how long the schema cache takes to load.  Creates N tables
# (each with a primary key, a few columns and a foreign key to the one
# before), views on some of them, views on some of those views, and
# functions, then runs `pg_rest --dump-schema` a few times and prints the
# median of the load_ms each run reports (one query round trip plus
# reading the JSON; a fresh backend every run, so cold catalog caches,
# as when a worker starts).
#
#   perl bench/schema-load.pl [--tables 1000] [--views 100] [--view-views 20]
#                             [--functions 100] [--runs 5]
#
# Uses the test harness (t/lib/PgRestTest.pm): a throwaway cluster that is
# removed at the end.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/../t/lib";
use Getopt::Long;
use JSON::PP;
use PgRestTest;

my ($tables, $views, $vviews, $functions, $runs) = (1000, 100, 20, 100, 5);
GetOptions('tables=i' => \$tables, 'views=i' => \$views, 'view-views=i' => \$vviews,
           'functions=i' => \$functions, 'runs=i' => \$runs) or die "bad options\n";
die "--tables must be at least 1\n" if $tables < 1;
$views = $tables if $views > $tables;
$vviews = $views if $vviews > $views;
$functions = $tables if $functions > $tables;
$runs = 1 if $runs < 1;
$ENV{PG_REST_BIN} //= "$FindBin::Bin/../src/pg_rest";
-x $ENV{PG_REST_BIN} or die "build first: $ENV{PG_REST_BIN} missing\n";

my $t = PgRestTest->new();
# one transaction creates everything: room for its locks
$t->start_postgres(conf => "max_connections = 20\nshared_buffers = 128MB\n"
		   . "max_locks_per_transaction = " . (64 + int(($tables + $views + $vviews) * 8 / 20)));
$t->psql(<<"SQL", timeout => 600);
create role authenticator login noinherit;
create schema api;
do \$\$
begin
	create table api.t1 (id int primary key, name text not null,
			     created timestamptz default now(), val numeric);
	for i in 2..$tables loop
		execute format('create table api.t%s (id int primary key, name text not null, '
			       'created timestamptz default now(), val numeric, '
			       'prev_id int references api.t%s(id))', i, i - 1);
	end loop;
	for i in 1..$views loop
		execute format('create view api.v%s as select id, name, val from api.t%s', i, i);
	end loop;
	for i in 1..$vviews loop
		execute format('create view api.vv%s as select id as vid, name from api.v%s', i, i);
	end loop;
	for i in 1..$functions loop
		execute format('create function api.f%s(a int, b text default null) '
			       'returns setof api.t%s language sql stable '
			       'as ''select * from api.t%s where id = a''', i, i, i);
	end loop;
end \$\$;
analyze;
SQL

my $conf = $t->write_config({
	'db-uri'     => $t->db_uri(user => 'authenticator', db => 'postgres'),
	'db-schemas' => 'api',
}, $t->tmpdir . '/bench.conf');
my %env = map { $_ => undef } grep { /^PGRST_/ } keys %ENV;

my (@ms, $counts);
for my $run (1 .. $runs) {
	my ($st, $out, $err) = $t->_run([ $ENV{PG_REST_BIN}, '--dump-schema', $conf ],
					env => \%env, timeout => 600);
	die "pg_rest --dump-schema failed (exit " . ($st >> 8) . "):\n$err" if $st != 0;
	my $d = JSON::PP->new->decode($out);
	push @ms, $d->{load_ms};
	$counts //= sprintf('%d relations, %d foreign keys, %d functions, %.1f MB of dump',
			    scalar @{ $d->{relations} }, scalar @{ $d->{fkeys} },
			    scalar @{ $d->{functions} }, length($out) / 1e6);
}
my @sorted = sort { $a <=> $b } @ms;
my $median = @sorted % 2 ? $sorted[$#sorted / 2]
			 : ($sorted[@sorted / 2 - 1] + $sorted[@sorted / 2]) / 2;
printf "schema cache load: median %.1f ms over %d runs (min %.1f, max %.1f); %s\n",
	$median, $runs, $sorted[0], $sorted[-1], $counts;
