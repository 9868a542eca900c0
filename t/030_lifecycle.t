# The worker's life: database outages and reconnection, SIGTERM finishing
# the request in flight, SIGHUP re-reading the configuration, start-up
# errors.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use POSIX qw(WNOHANG);
use Time::HiRes qw(sleep time);
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
create table api.items (id int primary key, name text);
insert into api.items values (1, 'one'), (2, 'two'), (3, 'three');
create view api.slow as select pg_sleep(1.5)::text as slept, 'done' as status;
grant select on api.items, api.slow to anon;
SQL

my %cfg = (
    'db-uri'       => $t->db_uri(user => 'authenticator', db => 'postgres'),
    'db-schemas'   => 'api',
    'db-anon-role' => 'anon',
    'log-level'    => 'info',
);

sub alive { my ($pid) = @_; return kill(0, $pid) }

sub wait_gone {
    my ($pid, $secs) = @_;
    my $until = time + $secs;
    while (time < $until) {
        waitpid($pid, WNOHANG);
        return 1 unless alive($pid);
        sleep 0.05;
    }
    return 0;
}

# Poll until a GET answers 200 (bounded), return the last response.
sub get_until_ok {
    my ($path, $tries) = @_;
    my $r;
    for (1 .. $tries) {
        $r = $t->get($path);
        return $r if $r->{status} == 200;
        sleep 0.2;
    }
    return $r;
}

# ---- one worker, database goes away and comes back ----------------------
$t->start_workers(config => \%cfg, workers => 1);
$t->start_nginx(prefix => '/');
my $r = $t->get('/items?id=eq.1');
is($r->{status}, 200, 'answers with the database up');

$t->pause_postgres();
$r = $t->get('/items?id=eq.1');
is($r->{status}, 503, 'database down: 503');
like($r->{json}{code} // '', qr/^PGRST00[01]$/, 'database down: PGRST000/001');
ok(exists $r->{json}{$_}, "503 body has $_") for qw(message details hint);
is($r->{headers}{'retry-after'}, '1', '503 carries Retry-After');
like($r->{headers}{'content-type'} // '', qr{^application/json}, '503 is JSON, not an HTML page');
$r = $t->get('/items?id=eq.1');
is($r->{status}, 503, 'still down: 503 again, the worker did not die');
is($r->{json}{code}, 'PGRST000', 'still down: PGRST000 (cannot connect)');
is(scalar(grep { alive($_) } $t->worker_pids), 1, 'worker still running during the outage');

$t->resume_postgres();
$r = get_until_ok('/items?id=eq.2', 30);
is($r->{status}, 200, 'database back: 200 again without restarting the worker');
is($r->{json}[0]{name}, 'two', 'database back: right row');

# A restart between two requests: the dead connection is noticed on the
# next request, which reconnects and runs it (reads are safe to repeat).
$t->pause_postgres();
$t->resume_postgres();
$r = $t->get('/items?id=eq.3');
is($r->{status}, 200, 'restart between requests: the next read succeeds at once');
like($t->log_contents, qr/database connection lost/, 'the lost connection is logged');

# ---- workers started while the database is down --------------------------
$t->pause_postgres();
$t->start_workers(config => \%cfg, workers => 2);
is(scalar(grep { alive($_) } $t->worker_pids), 2, 'workers start with the database down');
$r = $t->get('/items');
is($r->{status}, 503, 'and answer 503 meanwhile');
is($r->{json}{code}, 'PGRST000', 'PGRST000');
$t->resume_postgres();
$r = get_until_ok('/items?order=id', 30);
is($r->{status}, 200, 'then serve once the database is up');
is(scalar @{ $r->{json} || [] }, 3, 'all rows');

# ---- SIGTERM finishes the request in flight ------------------------------
$t->start_workers(config => \%cfg, workers => 1);
my ($worker) = $t->worker_pids;
my $out = $t->tmpdir . '/slow.out';
my $kid = fork();
die "fork: $!" unless defined $kid;
if ($kid == 0) {
    my $res = $t->get('/slow');
    open my $fh, '>', $out or POSIX::_exit(1);
    print $fh "$res->{status} $res->{content}";
    close $fh;
    POSIX::_exit(0);
}
sleep 0.6;    # the request is now inside pg_sleep
kill 'TERM', $worker;
waitpid($kid, 0);
open my $fh, '<', $out or die "$out: $!";
my $slow = do { local $/; <$fh> };
close $fh;
like($slow, qr/^200 /, 'request in flight when SIGTERM came still got 200');
like($slow, qr/"status":"done"/, 'and its whole body');
ok(wait_gone($worker, 5), 'then the worker exited');
like($t->log_contents, qr/exiting after 1 requests/, 'clean exit is logged');

# ---- SIGTERM to idle workers ----------------------------------------------
$t->start_workers(config => \%cfg, workers => 2);
my @w = $t->worker_pids;
kill 'TERM', @w;
ok(wait_gone($_, 3), "idle worker $_ exits at once on SIGTERM") for @w;

# ---- SIGHUP re-reads the configuration -----------------------------------
$t->start_workers(config => { %cfg, 'db-max-rows' => \'1' }, workers => 1);
($worker) = $t->worker_pids;
$r = $t->get('/items?order=id');
is(scalar @{ $r->{json} }, 1, 'db-max-rows = 1 before reload');
$t->write_config({ %cfg, 'db-max-rows' => \'2' });
kill 'HUP', $worker;
sleep 0.3;
$r = $t->get('/items?order=id');
is(scalar @{ $r->{json} }, 2, 'db-max-rows = 2 after SIGHUP');
like($t->log_contents, qr/configuration reloaded/, 'reload is logged');
$t->write_config({ %cfg, 'db-max-rowz' => \'5' });
kill 'HUP', $worker;
sleep 0.3;
$r = $t->get('/items?order=id');
is($r->{status}, 200, 'a broken config on SIGHUP does not stop the worker');
is(scalar @{ $r->{json} }, 2, 'and the old configuration stays');
like($t->log_contents, qr/unknown key "db-max-rowz"/, 'the bad key is logged with its name');
ok(alive($worker), 'worker alive after a bad reload');

# ---- start-up errors --------------------------------------------------------
my $bad = $t->tmpdir . '/bad.conf';
open $fh, '>', $bad or die;
print $fh "db-uri = \"postgresql://\"\ndb-anon-role = \"anon\"\nnot-a-key = 1\n";
close $fh;
my $msg = `'${\ $t->bin}' --check '$bad' 2>&1`;
isnt($? >> 8, 0, '--check fails on an unknown key');
like($msg, qr/bad\.conf:3: unknown key "not-a-key"/, 'message names file, line and key');
open $fh, '>', $bad or die;
print $fh "db-uri = \"postgresql://\"\nserver-port = 3000\n";
close $fh;
$msg = `'${\ $t->bin}' --check '$bad' 2>&1`;
is($? >> 8, 0, '--check accepts a PostgREST file with server-port');
like($msg, qr/server-port/, 'with a warning naming server-port');
$msg = `'${\ $t->bin}' '$bad' </dev/null 2>&1`;
is($? >> 8, 2, 'not started by a FastCGI spawner: exit status 2');
like($msg, qr/not started by a FastCGI spawner/, 'with a message saying so');

# a --enable-sanitizers build writes its reports (leaks at exit included)
# into the harness's log directory
$t->stop_workers;
is($t->sanitizer_reports, '', 'no AddressSanitizer/UBSan reports from the workers');

done_testing();
