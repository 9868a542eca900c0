#!/usr/bin/perl
# Benchmark: GET /items?id=eq.1 through nginx + N pg_rest workers (wrk),
# next to pgbench running the same transaction against the same database
# (the database-side limit).  Prints one line each.
#
#   perl bench/read-single.pl [--workers 2] [--connections 8] [--seconds 10] [--jwt]
#
# Uses the test harness (t/lib/PgRestTest.pm): a throwaway cluster, real
# spawn-fcgi and nginx on loopback; everything is stopped at the end.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/../t/lib";
use Getopt::Long;
use PgRestTest;

my ($workers, $conns, $secs, $use_jwt) = (2, 8, 10, 0);
GetOptions('workers=i' => \$workers, 'connections=i' => \$conns,
           'seconds=i' => \$secs, 'jwt' => \$use_jwt) or die "bad options\n";
$ENV{PG_REST_BIN} //= "$FindBin::Bin/../src/pg_rest";
-x $ENV{PG_REST_BIN} or die "build first: $ENV{PG_REST_BIN} missing\n";
my $wrk = `sh -c "command -v wrk"` or die "wrk not installed (apt-get install wrk)\n";
chomp $wrk;

my $secret = 'benchmark-secret-with-at-least-32-chars';
my $t = PgRestTest->new();
$t->start_postgres(conf => "max_connections = 100\nshared_buffers = 128MB");
$t->psql(<<'SQL');
create role authenticator login noinherit;
create role anon nologin;
create role webuser nologin;
grant anon, webuser to authenticator;
create schema api;
grant usage on schema api to anon, webuser;
create table api.items (id int primary key, name text not null, price numeric, created date);
insert into api.items select g, 'item ' || g, g * 1.5, date '2026-01-01' + g % 365
  from generate_series(1, 10000) g;
grant select on api.items to anon, webuser;
analyze api.items;
SQL

my %cfg = (
    'db-uri'       => $t->db_uri(user => 'authenticator', db => 'postgres'),
    'db-schemas'   => 'api',
    'db-anon-role' => 'anon',
    'log-level'    => 'crit',
);
$cfg{'jwt-secret'} = $secret if $use_jwt;
$t->start_workers(config => \%cfg, workers => $workers);
my $base = $t->start_nginx(prefix => '/');

my @hdr;
my $role = 'anon';
if ($use_jwt) {
    my $tok = $t->jwt({ role => 'webuser', user => 'bench', exp => time + 3600 }, $secret);
    @hdr = ('-H', "Authorization: Bearer $tok");
    $role = 'webuser';
}
my $check = $t->get('/items?id=eq.1', headers => $use_jwt ? { Authorization => (split /: /, $hdr[1], 2)[1] } : {});
die "pg_rest does not answer: $check->{status} $check->{content}\n" unless $check->{status} == 200;

# wrk: warm up, then measure
system($wrk, '-t2', "-c$conns", '-d2s', @hdr, "$base/items?id=eq.1") == 0 or die "wrk failed\n";
my $out = `'$wrk' -t2 -c$conns -d${secs}s @{[ map { "'$_'" } @hdr ]} '$base/items?id=eq.1' 2>&1`;
my ($rps) = $out =~ /Requests\/sec:\s+([\d.]+)/;
my ($lat) = $out =~ /Latency\s+(\S+)/;
my ($non2xx) = $out =~ /Non-2xx or 3xx responses:\s+(\d+)/;

# pgbench: the statements pg_rest sends for that request, in one pipeline
my $claims = $use_jwt ? '{"role":"webuser","user":"bench"}' : '{"role":"anon"}';
my $script = $t->tmpdir . '/bench.sql';
open my $fh, '>', $script or die "$script: $!\n";
print $fh <<"EOS";
\\startpipeline
BEGIN ISOLATION LEVEL READ COMMITTED READ ONLY;
SELECT pg_catalog.set_config('search_path', '"api", "public"', true), pg_catalog.set_config('role', '$role', true), pg_catalog.set_config('request.jwt.claims', '$claims', true), pg_catalog.set_config('request.method', 'GET', true), pg_catalog.set_config('request.path', '/items', true), pg_catalog.set_config('request.headers', '{"host":"127.0.0.1","user-agent":"wrk"}', true), pg_catalog.set_config('request.cookies', '{}', true), (SELECT pg_catalog.count(pg_catalog.set_config('request.jwt.claim.' || c.key, c.value, true)) FROM pg_catalog.json_each_text('$claims'::json) AS c WHERE true AND c.key ~ '^[A-Za-z_][A-Za-z0-9_\$]*\$');
WITH pgrst_source AS (SELECT * FROM "api"."items" WHERE "id" = '1') SELECT NULL::bigint AS total_result_set, pg_catalog.count(_postgrest_t) AS page_total, coalesce(pg_catalog.json_agg(_postgrest_t), '[]')::text AS body, nullif(pg_catalog.current_setting('response.headers', true), '') AS response_headers, nullif(pg_catalog.current_setting('response.status', true), '') AS response_status FROM pgrst_source AS _postgrest_t;
COMMIT;
\\endpipeline
EOS
close $fh;
chmod 0644, $script;
my $pgbench = $t->{pg_bindir} . '/pgbench';
my @pgb = ($pgbench, '-n', '-M', 'extended', '-c', $workers, '-j', $workers, '-T', $secs,
           '-h', $t->pg_host, '-p', $t->pg_port, '-U', 'authenticator', '-f', $script, 'postgres');
my $pgout = `@{[ join ' ', map { "'$_'" } @pgb ]} 2>&1`;
my ($tps) = $pgout =~ /tps = ([\d.]+)/;
die "pgbench failed:\n$pgout" unless defined $tps;

printf "wrk     GET /items?id=eq.1 via nginx, %d pg_rest workers, %d connections%s: %.0f req/s (avg latency %s%s)\n",
    $workers, $conns, $use_jwt ? ', JWT' : '', $rps // 0, $lat // '?',
    $non2xx ? ", $non2xx non-2xx!" : '';
printf "pgbench same transaction, %d clients, -M extended, one pipeline each: %.0f tps\n",
    $workers, $tps;
