# 167_rss_flat.t — worker memory stays flat over a long mixed load.
#
# Two workers behind nginx serve a bounded mixed loop from three HTTP::Tiny
# keep-alive clients (child processes): reads with filters, embedding,
# CSV and singular objects, a 200-row answer, OpenAPI, requests with an
# HS256 token, upserts with return=representation on a fixed set of keys,
# PATCHes, RPC, and error answers (400, 401, 404).  A warm-up round first
# (the same mix, so that prepared statements, the JWT cache, the arena's
# chunks and malloc's arenas are in use), then VmRSS and RssAnon of every
# worker are read from /proc/PID/status; then the long round
# (LOOP_PER_CLIENT requests per client, also bounded by time), and they
# are read again.  For each worker: growth under 1 MiB (VmRSS and
# RssAnon), and its own memory (RssAnon) under 10 MiB.  VmRSS also counts
# the file pages of the shared libraries it touched (about 8 MiB, shared
# with every other process: bench/README), so it is reported, not bounded.
# A memory bound, not a timing one: the number of requests is fixed; the
# time bound only keeps a very slow machine from running for ever, and
# then the requests made so far are what is measured.
use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";

use HTTP::Tiny;
use JSON::PP;
use POSIX qw(_exit);
use Test::More;
use Time::HiRes qw(time sleep);
use PgRestTest;

PgRestTest::skip_unless_ready();
plan skip_all => "an AddressSanitizer build (--enable-sanitizers): its RSS is ASan's shadow memory and quarantine"
    if PgRestTest::bin_sanitized();
plan skip_all => 'needs /proc/PID/status (Linux)' unless -r "/proc/$$/status";

my $CLIENTS = 3;
my $WARMUP_PER_CLIENT = 600;
my $LOOP_PER_CLIENT = $ENV{PG_REST_RSS_REQUESTS} ? int($ENV{PG_REST_RSS_REQUESTS} / $CLIENTS) : 7000;
my $LOOP_SECS = 100;

my $T0 = time;
my $SECRET = 'an-rss-test-secret-of-at-least-32-characters';
my $t = PgRestTest->new();
$t->start_postgres();
$t->psql(<<'SQL');
CREATE ROLE authenticator LOGIN NOINHERIT;
CREATE ROLE anon NOLOGIN;
CREATE ROLE webuser NOLOGIN;
GRANT anon, webuser TO authenticator;
CREATE SCHEMA api;
GRANT USAGE ON SCHEMA api TO anon, webuser;
CREATE TABLE api.clients (id int PRIMARY KEY, name text NOT NULL);
CREATE TABLE api.projects (id int PRIMARY KEY, name text NOT NULL, client_id int REFERENCES api.clients(id));
CREATE TABLE api.counters (id int PRIMARY KEY, n int NOT NULL DEFAULT 0, note text);
INSERT INTO api.clients SELECT g, 'client ' || g FROM generate_series(1, 20) g;
INSERT INTO api.projects SELECT g, 'project ' || g, 1 + g % 20 FROM generate_series(1, 200) g;
INSERT INTO api.counters SELECT g, 0, NULL FROM generate_series(1, 50) g;
GRANT SELECT ON api.clients, api.projects TO anon, webuser;
GRANT SELECT, INSERT, UPDATE ON api.counters TO anon, webuser;
CREATE FUNCTION api.add(a int, b int) RETURNS int LANGUAGE sql IMMUTABLE AS $$ SELECT a + b $$;
CREATE FUNCTION api.me() RETURNS text LANGUAGE sql STABLE
    AS $$ SELECT current_user || ':' || coalesce(current_setting('request.jwt.claim.user', true), '') $$;
SQL

$t->start_workers(config => {
    'db-uri'       => $t->db_uri(user => 'authenticator', db => 'postgres'),
    'db-schemas'   => 'api',
    'db-anon-role' => 'anon',
    'jwt-secret'   => $SECRET,
    'jwt-optional' => JSON::PP::true,
    'log-level'    => 'error',
}, workers => 2);
my $BASE = $t->start_nginx(prefix => '/');
my @W = $t->worker_pids;

my $TOKEN = $t->jwt({ role => 'webuser', user => 'alice', exp => time + 7200 }, $SECRET);
my $BAD   = $t->jwt({ role => 'webuser' }, 'not-the-secret-but-also-32-characters-long');
my $CT = 'application/json';

# the mix: [ method, path, headers, body, expected status ]
my @MIX = (
    [ GET  => '/clients?id=eq.%d', {}, undef, 200 ],
    [ GET  => '/clients?select=id,name,projects(id,name)&id=lte.%d&order=id', {}, undef, 200 ],
    [ GET  => '/projects?select=id,name,client:clients(name)&name=like.*1*&limit=20', {}, undef, 200 ],
    [ GET  => '/projects?order=id&limit=200', {}, undef, 200 ],
    [ GET  => '/projects?select=id,name&id=lt.%d', { Accept => 'text/csv' }, undef, 200 ],
    [ GET  => '/clients?id=eq.%d', { Accept => 'application/vnd.pgrst.object+json' }, undef, 200 ],
    [ GET  => '/rpc/me', { Authorization => "Bearer $TOKEN" }, undef, 200 ],
    [ GET  => '/projects?id=eq.%d', { Authorization => "Bearer $TOKEN", Prefer => 'count=exact' }, undef, 200 ],
    [ POST => '/counters?on_conflict=id', { 'Content-Type' => $CT,
              Prefer => 'return=representation, resolution=merge-duplicates' },
      '[{"id":%d,"n":1,"note":"upserted"}]', [ 200, 201 ] ],    # 201 inserted, 200 updated
    [ PATCH => '/counters?id=eq.%d', { 'Content-Type' => $CT }, '{"n":2}', 204 ],
    [ GET  => '/rpc/add?a=%d&b=1', {}, undef, 200 ],
    [ POST => '/rpc/add', { 'Content-Type' => $CT }, '{"a":%d,"b":2}', 200 ],
    [ GET  => '/clients?id=eq', {}, undef, 400 ],
    [ GET  => '/clients', { Authorization => "Bearer $BAD" }, undef, 401 ],
    [ GET  => '/nosuchtable', {}, undef, 404 ],
    [ POST => '/counters', { 'Content-Type' => $CT }, '{"id": ', 400 ],
);
# the OpenAPI document now and then (larger and slower)
my $OPENAPI = [ GET => '/', {}, undef, 200 ];

# one client: $n requests (or until $deadline); writes "total bad status..." to $file
sub client {
    my ($id, $n, $deadline, $file) = @_;
    my $http = HTTP::Tiny->new(agent => $PgRestTest::UA, timeout => 60, keep_alive => 1);
    my ($done, $bad, %st) = (0, 0);
    my @badlist;
    for my $i (1 .. $n) {
        last if time > $deadline;
        my $m = $i % 97 == 0 ? $OPENAPI : $MIX[($i + $id * 5) % @MIX];
        my ($method, $path, $h, $body, $want) = @$m;
        my $k = 1 + ($i * 7 + $id) % 20;
        (my $p = $path) =~ s/%d/$k/g;
        my %args = (headers => { %$h });
        if (defined $body) { ($args{content} = $body) =~ s/%d/$k/g }
        my $res = $http->request($method, "$BASE$p", \%args);
        $done++;
        $st{ $res->{status} }++;
        if (!grep { $res->{status} == $_ } ref $want ? @$want : $want) {
            $bad++;
            push @badlist, "$method $p: $res->{status} " . substr($res->{content} // '', 0, 200) if @badlist < 5;
        }
    }
    open my $fh, '>', $file or _exit(2);
    print $fh join(' ', $done, $bad, map { "$_:$st{$_}" } sort keys %st), "\n", map { "$_\n" } @badlist;
    close $fh;
}

# $CLIENTS children at once; returns (total, bad, {status => count}, [bad examples])
sub run_clients {
    my ($tag, $n, $secs) = @_;
    my $deadline = time + $secs;
    my @kids;
    for my $c (1 .. $CLIENTS) {
        my $file = $t->tmpdir . "/load-$tag-$c.txt";
        unlink $file;
        my $pid = fork // die "fork: $!";
        if ($pid == 0) {
            local $SIG{TERM} = 'DEFAULT';
            eval { client($c, $n, $deadline, $file) };
            _exit($@ ? 1 : 0);
        }
        push @kids, [ $pid, $file ];
    }
    my ($total, $bad, %st, @ex) = (0, 0);
    for my $k (@kids) {
        my ($pid, $file) = @$k;
        # bounded: the children stop at the deadline; allow one more timeout
        for (1 .. int(($secs + 90) * 10)) { last if waitpid($pid, POSIX::WNOHANG()) == $pid; sleep 0.1 }
        kill 'KILL', $pid if kill 0, $pid;
        my ($head, @lines) = split /\n/, PgRestTest::_slurp($file) // "0 0\n";
        my ($d, $b, @kv) = split ' ', $head;
        $total += $d // 0;
        $bad += $b // 0;
        for (@kv) { my ($s, $c) = split /:/; $st{$s} += $c }
        push @ex, @lines;
    }
    return ($total, $bad, \%st, \@ex);
}

sub mem {
    my ($pid) = @_;
    my $s = PgRestTest::_slurp("/proc/$pid/status") // '';
    my ($rss) = $s =~ /^VmRSS:\s+(\d+) kB/m;
    my ($anon) = $s =~ /^RssAnon:\s+(\d+) kB/m;
    return { rss => $rss, anon => $anon };
}
sub mib { defined $_[0] ? sprintf('%.2f', $_[0] / 1024) : '?' }

my ($n, $bad, $st, $ex) = run_clients('warmup', $WARMUP_PER_CLIENT, 60);
is($bad, 0, "warm-up: $n requests, every answer as expected") or diag(join "\n", @$ex);
my %m0 = map { $_ => mem($_) } @W;
ok((grep { defined $m0{$_}{rss} && defined $m0{$_}{anon} } @W) == @W, 'VmRSS and RssAnon of every worker read');

($n, $bad, $st, $ex) = run_clients('loop', $LOOP_PER_CLIENT, $LOOP_SECS);
my $planned = $CLIENTS * $LOOP_PER_CLIENT;
is($bad, 0, "loop: $n requests, every answer as expected") or diag(join "\n", @$ex);
cmp_ok($n, '>=', 2000, "loop: enough requests to measure ($n of $planned planned)");
diag("loop ended at the time bound: $n of $planned requests") if $n < $planned;
my %m1 = map { $_ => mem($_) } @W;

is(scalar(grep { PgRestTest::_alive($_) } @W), scalar @W, 'no worker died');
my @report;
for my $w (@W) {
    my ($a, $b) = ($m0{$w}, $m1{$w});
    my $grow_rss = ($b->{rss} // 0) - ($a->{rss} // 0);
    my $grow_anon = ($b->{anon} // 0) - ($a->{anon} // 0);
    cmp_ok($grow_rss, '<', 1024, "worker $w: VmRSS growth under 1 MiB (" . mib($grow_rss) . ' MiB)');
    cmp_ok($grow_anon, '<', 1024, "worker $w: RssAnon growth under 1 MiB (" . mib($grow_anon) . ' MiB)');
    cmp_ok($b->{anon} // 1e9, '<', 10 * 1024, "worker $w: its own memory (RssAnon) under 10 MiB (" . mib($b->{anon}) . ' MiB)');
    push @report, sprintf('worker %d: VmRSS %s -> %s MiB, RssAnon %s -> %s MiB', $w,
                          mib($a->{rss}), mib($b->{rss}), mib($a->{anon}), mib($b->{anon}));
}
is($t->sanitizer_reports, '', 'no AddressSanitizer/UBSan reports from the workers');
diag(join('; ', @report) . sprintf('; %d warm-up + %d loop requests (%s); %.1f s',
     $CLIENTS * $WARMUP_PER_CLIENT, $n, join(' ', map { "$_ x$st->{$_}" } sort keys %$st), time - $T0));
done_testing();
