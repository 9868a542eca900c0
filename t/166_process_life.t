# 166_process_life.t — worker process life behind Apache + mod_fcgid and
# spawn-fcgi: clients that go away in the middle of a large answer, and
# restarts and stops that must leave no orphaned process or database
# backend.
#
# Apache (apache/pg_rest.conf as shipped, only paths and the port
# replaced): clients ask for answers of several MB (bigger than mod_fcgid's
# buffers and the socket buffers, so the worker is still writing) and hang
# up after the first bytes, or before any; mod_fcgid then drops its
# FastCGI connection and the worker's writes fail with EPIPE.  No worker
# may die of it (same pids, no "terminated by signal" in Apache's log) and
# the next requests are answered; a client that stops reading does not
# stop the others from being served.  Then Apache is restarted gracefully
# (SIGUSR1, what `apachectl -k graceful` sends) and hard (SIGHUP, `-k
# restart`), with requests before and after, and stopped (SIGTERM, `-k
# stop`): after each, every pg_rest process of the old generation is gone
# and pg_stat_activity shows at most one authenticator backend per live
# worker (bounded waits); after the stop none of either.
#
# spawn-fcgi: workers killed with SIGKILL (a crash: PostgreSQL must notice
# the closed connection), started again several times
# (PgRestTest::start_workers stops the old ones with SIGTERM), and stopped:
# the same checks.
use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";

use Cwd ();
use IO::Socket::INET;
use Test::More;
use Time::HiRes qw(time sleep);
use PgRestTest;

PgRestTest::skip_unless_ready();
if (my $missing = PgRestTest::apache_missing()) {
    plan skip_all => "missing: $missing";
}

$SIG{PIPE} = 'IGNORE';
my $T0 = time;
my $t = PgRestTest->new();
$t->start_postgres();
$t->psql(<<'SQL');
CREATE ROLE authenticator LOGIN NOINHERIT;
CREATE ROLE anon NOLOGIN;
GRANT anon TO authenticator;
CREATE SCHEMA api;
GRANT USAGE ON SCHEMA api TO anon;
CREATE TABLE api.items (id int PRIMARY KEY, name text);
INSERT INTO api.items SELECT g, 'item ' || g FROM generate_series(1, 10) g;
GRANT SELECT ON api.items TO anon;
CREATE FUNCTION api.big(n int) RETURNS TABLE (id int, pad text) LANGUAGE sql STABLE
    AS $$ SELECT g, repeat('x', 1000) FROM generate_series(1, n) g $$;
SQL

my %cfg = (
    'db-uri'       => $t->db_uri(user => 'authenticator', db => 'postgres'),
    'db-schemas'   => 'api',
    'db-anon-role' => 'anon',
    'log-level'    => 'info',
);
my $CONF = $t->write_config(\%cfg);
my $TMP = $t->tmpdir;
my %N = (restarts => 0, hangups => 0, requests => 0, kills => 0);

sub psql1 { my $o = $t->psql($_[0]); chomp $o; return $o }

# backends of the authenticator (our own cluster: nobody else uses it)
sub backends {
    return psql1(q{SELECT count(*) FROM pg_stat_activity WHERE usename = 'authenticator'});
}

# the programs our workers run: the spawn-fcgi binary, the copies for Apache
my %EXE = map { (Cwd::abs_path($_) // $_) => 1 } $t->_worker_bin, $t->bin;

# live pg_rest processes of this test: a program copy under TMP (Apache)
# or a command line naming TMP (spawn-fcgi workers)
sub our_workers {
    my @p;
    for my $d (glob '/proc/[0-9]*') {
        my ($pid) = $d =~ m{(\d+)\z};
        next if $pid == $$;
        my $exe = readlink("$d/exe") // next;
        $exe =~ s/ \(deleted\)\z//;
        next unless $EXE{$exe} || index($exe, "$TMP/") == 0;
        my $cmd = PgRestTest::_slurp("$d/cmdline") // '';
        next unless index($exe, "$TMP/") == 0 || index($cmd, "$TMP/") >= 0;
        push @p, $pid if PgRestTest::_alive($pid);
    }
    @p = sort { $a <=> $b } @p;
    return @p;
}

# wait (bounded) until $cond->() is true; returns its last value
sub wait_for {
    my ($secs, $cond) = @_;
    my $deadline = time + $secs;
    my $v;
    for (1 .. 10_000) {
        $v = $cond->();
        return $v if $v || time > $deadline;
        sleep 0.1;
    }
    return $v;
}

sub get_ok {
    my ($name, $path, $n) = @_;
    my @bad;
    for my $i (1 .. ($n // 1)) {
        my $r = $t->get($path);
        $N{requests}++;
        push @bad, "$r->{status} $r->{content}" unless $r->{status} == 200;
    }
    is(join("\n", @bad), '', "$name: answered 200");
}

# no orphans: every process of @old gone, backends <= live workers
sub settled_ok {
    my ($name, @old) = @_;
    my $gone = wait_for(30, sub { !grep { PgRestTest::_alive($_) } @old });
    ok($gone, "$name: the old workers (@old) exited") or diag("still there: "
        . join(' ', grep { PgRestTest::_alive($_) } @old));
    my $ok = wait_for(30, sub { backends() <= scalar(our_workers()) });
    ok($ok, "$name: no orphaned backend (" . backends() . ' backends, ' . scalar(our_workers())
       . ' workers)');
}

sub stopped_ok {
    my ($name) = @_;
    my $none = wait_for(30, sub { !our_workers() });
    ok($none, "$name: no pg_rest process remains") or diag('left: ' . join(' ', our_workers()));
    my $zero = wait_for(30, sub { backends() == 0 });
    ok($zero, "$name: no backend of the authenticator remains (" . backends() . ')');
}

# ---------------------------------------------------------------------------
# 1. Apache + mod_fcgid: clients that hang up in the middle of a large answer

my $base = $t->start_apache(conf => 'pg_rest.conf', config => $CONF);
my ($port) = $base =~ /:(\d+)\z/;
get_ok('Apache: first request', '/items?id=eq.1', 1);
get_ok('Apache: a few more', '/items?select=id&order=id', 5);
my @before = $t->_apache_fcgi_pids;
ok(@before >= 1, 'Apache: mod_fcgid started workers (' . join(' ', @before) . ')');

sub hang_up {
    my ($n, $read) = @_;
    my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $port, Proto => 'tcp', Timeout => 10)
        or die "connect: $!";
    print $s "GET /rpc/big?n=$n HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n";
    if ($read) {
        my $got = 0;
        my $deadline = time + 20;
        while ($got < $read && time < $deadline) {
            my $k = sysread($s, my $buf, 4096);
            last unless $k;
            $got += $k;
        }
    } else {
        sleep 0.3;    # the worker has started on it
    }
    close $s;
    $N{hangups}++;
}

for my $i (1 .. 6) {
    hang_up(8000, $i % 3 ? 2000 : 0);    # 8 MB answers; gone after 2 kB, or before any
    sleep 0.3;
}
# a client that reads a good part of it first
hang_up(20000, 3_000_000);
sleep 1;
my $r = $t->get('/rpc/big?n=3');
$N{requests}++;
is($r->{status}, 200, 'Apache, after the hang-ups: the next request is answered');
is(ref $r->{json} eq 'ARRAY' ? scalar @{ $r->{json} } : -1, 3, 'Apache, after the hang-ups: with the right answer');
my @dead = grep { !PgRestTest::_alive($_) } @before;
is("@dead", '', 'Apache: the workers that served the hung-up answers are alive');
unlike($t->apache_error_log, qr/terminated by signal|get unexpected signal|core dumped|Segmentation/,
       'Apache: no worker killed by a signal');
# a client that stops reading in the middle of a large answer pins the
# worker that writes it (until Apache's Timeout), but not the site:
# mod_fcgid answers others from another worker
{
    my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $port, Proto => 'tcp', Timeout => 10)
        or die "connect: $!";
    print $s "GET /rpc/big?n=20000 HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n";
    sysread($s, my $buf, 4096);
    sleep 1;
    my $other = $t->get('/items?id=eq.7');
    $N{requests}++;
    is($other->{status}, 200, 'Apache: a request while another client stalls mid-answer is answered');
    close $s;
    $N{hangups}++;
    sleep 0.5;
    get_ok('Apache: after the stalled client closed', '/items?id=eq.8', 3);
}

# mod_fcgid saw the clients go while it was passing the answer on
my $aborts = () = $t->apache_error_log =~ /ap_pass_brigade failed|Broken pipe|Connection reset by peer/g;
cmp_ok($aborts, '>=', 3, "Apache: the hang-ups came in the middle of answers ($aborts aborted)");

# ---------------------------------------------------------------------------
# 2. Apache restarts: graceful (USR1), restart (HUP), stop (TERM)

for my $round (1 .. 2) {
    for my $how ([ USR1 => 'graceful restart' ], [ HUP => 'restart' ]) {
        my ($sig, $name) = @$how;
        $name = "Apache $name ($round)";
        get_ok("$name: before", '/items?id=eq.2', 3);
        my @old = our_workers();
        ok(@old >= 1, "$name: workers exist before (@old)");
        kill $sig, $t->{apache_pid};
        $N{restarts}++;
        # Apache is back when a request is answered again
        my $back = wait_for(30, sub { my $x = $t->get('/items?id=eq.3'); $x->{status} == 200 });
        ok($back, "$name: Apache answers again");
        settled_ok($name, @old);
        get_ok("$name: after", '/items?id=eq.4', 3);
    }
}
unlike($t->apache_error_log, qr/terminated by signal|get unexpected signal|core dumped/,
       'Apache restarts: no worker killed by a signal');
$t->stop_apache;
$N{restarts}++;
stopped_ok('Apache stopped');
like($t->apache_error_log, qr/pg_rest\[\d+\]: INFO: exiting after \d+ requests/, 'Apache stop: the workers exited by themselves');

# ---------------------------------------------------------------------------
# 3. spawn-fcgi: crash (SIGKILL), restarts, stop

$t->start_workers(config => \%cfg, workers => 3);
$t->start_nginx(prefix => '/');
get_ok('spawn-fcgi: requests', '/items?select=id', 9);
my @w = $t->worker_pids;
my $three = wait_for(20, sub { backends() == 3 });
ok($three, 'spawn-fcgi: one backend per worker (' . backends() . ')');

kill 'KILL', $w[0];
$N{kills}++;
settled_ok('spawn-fcgi: a worker killed with SIGKILL', $w[0]);
is(backends(), 2, 'spawn-fcgi: its backend went with it');
get_ok('spawn-fcgi: the others still serve', '/items?id=eq.5', 4);

for my $i (1 .. 4) {
    my @old = our_workers();
    $t->start_workers(config => \%cfg, workers => 2);
    $N{restarts}++;
    settled_ok("spawn-fcgi restart $i", @old);
    get_ok("spawn-fcgi restart $i: requests", '/items?id=eq.6', 4);
    my $two = wait_for(20, sub { backends() == 2 });
    ok($two, "spawn-fcgi restart $i: two workers, two backends (" . backends() . ')');
}
$t->stop_workers;
$N{restarts}++;
stopped_ok('spawn-fcgi stopped');
unlike($t->log_contents, qr/CRIT|FATAL/, 'no critical errors in the worker log');
is($t->sanitizer_reports, '', 'no AddressSanitizer/UBSan reports from the workers');

diag(sprintf('%d requests, %d clients hung up mid-answer, %d restarts/stops, %d SIGKILLs; %.1f s',
             $N{requests}, $N{hangups}, $N{restarts}, $N{kills}, time - $T0));
done_testing();
