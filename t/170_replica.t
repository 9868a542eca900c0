# 170_replica.t — reads on a hot standby (db-replica-uri, db-replica-max-lag).
#
# The harness's cluster is the primary; start_standby() makes a streaming
# hot standby of it (pg_basebackup -R) on its own socket and port.  Two
# workers have db-uri on the primary and db-replica-uri on the standby.
# Where a request ran is told by SQL itself: a function and a view
# answering pg_is_in_recovery().
#
#   - GET and HEAD on tables, views and functions run on the standby (true),
#     and the authenticator is connected there (pg_stat_activity); POST of
#     the same stable function runs on the primary (false), as does a read
#     with Prefer: read-primary (accepted with handling=strict too);
#   - writes go to the primary, are readable at once with read-primary and
#     on the standby once replayed;
#   - the standby stopped: reads are answered 200 from the primary, with
#     one log line per worker ("reads go to the primary: the replica is
#     unreachable"), not one per request; started again: reads go back;
#   - replay paused on the standby while the primary writes, with
#     db-replica-max-lag = 2: reads fall back to the primary ("replays ...
#     behind"), and go back when replay resumes;
#   - db-replica-max-lag = 0 and replay paused: a column added on the
#     primary (the schema cache reloaded from there) is read from the
#     primary, other reads stay on the standby;
#   - a standby that accepts connections and never answers: reads go to
#     the primary meanwhile (the connection attempt does not block them),
#     and the attempt gives up after connect_timeout;
#   - SIGHUP with db-replica-uri removed sends reads to the primary, and
#     with it back to the standby;
#   - --check-config knows the keys, masks the replica's password and takes
#     PGRST_DB_REPLICA_URI.
# Every wait is a bounded poll; nothing asserts on timing.
use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";

use IO::Socket::INET;
use JSON::PP;
use Test::More;
use Time::HiRes qw(time sleep);
use PgRestTest;

PgRestTest::skip_unless_ready();

my $t = PgRestTest->new();
$t->start_postgres();
$t->psql(<<'SQL');
CREATE ROLE authenticator LOGIN NOINHERIT;
CREATE ROLE anon NOLOGIN;
GRANT anon TO authenticator;
CREATE SCHEMA api;
GRANT USAGE ON SCHEMA api TO anon;
CREATE TABLE api.items (id int PRIMARY KEY, name text);
INSERT INTO api.items VALUES (1, 'one'), (2, 'two');
GRANT SELECT, INSERT ON api.items TO anon;
CREATE FUNCTION api.in_recovery() RETURNS boolean LANGUAGE sql STABLE AS $$ SELECT pg_is_in_recovery() $$;
CREATE VIEW api.where_am_i AS SELECT pg_is_in_recovery() AS standby;
GRANT SELECT ON api.where_am_i TO anon;
GRANT EXECUTE ON FUNCTION api.in_recovery() TO anon;
CREATE TABLE public.ticks (n serial, at timestamptz DEFAULT now());
SQL

my $sb = $t->start_standby(name => 'standby');
ok($sb->{port}, "standby on $sb->{host} port $sb->{port}");
$t->wait_standby_caught_up(name => 'standby');
is($t->standby_psql('SELECT pg_is_in_recovery()'), "t\n", 'the standby is in recovery');

my $WORKERS = 2;
my %cfg = (
    'db-uri'             => $t->db_uri(user => 'authenticator', db => 'postgres'),
    'db-replica-uri'     => $t->standby_uri(name => 'standby', user => 'authenticator', db => 'postgres'),
    'db-replica-max-lag' => 2,
    'db-schemas'         => 'api',
    'db-anon-role'       => 'anon',
    'log-level'          => 'info',
);
$t->start_workers(config => \%cfg, workers => $WORKERS);
$t->start_nginx(prefix => '/');

my $JSON = JSON::PP->new->canonical(1)->utf8(1);

# where GET /rpc/in_recovery ran: 'standby', 'primary', or the failure
sub where {
    my (%h) = @_;
    my $method = delete $h{method} // 'GET';
    my $r = $method eq 'POST'
        ? $t->request('POST', '/rpc/in_recovery', headers => { 'Content-Type' => 'application/json', %h }, body => '{}')
        : $t->request($method, '/rpc/in_recovery', headers => \%h);
    return "status $r->{status}: $r->{content}" unless $r->{status} == 200;
    return $r->{content} eq 'true' ? 'standby' : $r->{content} eq 'false' ? 'primary' : "body $r->{content}";
}

# poll until where() answers $want (every answer must be a 200), at most $secs
sub wait_where {
    my ($want, $secs, %h) = @_;
    my $deadline = time + $secs;
    my ($got, @odd);
    while (time < $deadline) {
        $got = where(%h);
        return (1, \@odd) if $got eq $want;
        push @odd, $got if $got =~ /^status|^body/;
        sleep 0.1;
    }
    return (0, [ @odd, "last: $got" ]);
}

sub log_since {
    my ($mark) = @_;
    my $log = $t->log_contents;
    return length $log >= $mark ? substr($log, $mark) : $log;
}

# keep reading until the log since $mark matches $re (each worker decides
# for itself when it next serves a read), at most $secs
sub wait_log {
    my ($mark, $re, $secs) = @_;
    my $deadline = time + $secs;
    while (time < $deadline) {
        return 1 if log_since($mark) =~ $re;
        where();
        sleep 0.05;
    }
    return log_since($mark) =~ $re;
}

# lines matching $re in $text, and how many came from one worker at most
sub lines_per_worker {
    my ($text, $re) = @_;
    my %per;
    my @l = grep { /$re/ } split /\n/, $text;
    for (@l) { $per{$1}++ if /pg_rest\[(\d+)\]/ }
    my ($max) = sort { $b <=> $a } values %per;
    return (scalar(@l), $max // 0);
}

# ---------------------------------------------------------------------------
# reads on the standby, the rest on the primary

my ($ok, $odd) = wait_where('standby', 15);
ok($ok, 'GET /rpc/in_recovery runs on the standby') or diag(join("\n", @$odd));
my $r = $t->request('HEAD', '/rpc/in_recovery');
is($r->{status}, 200, 'HEAD of the function: 200');
is(where(method => 'POST'), 'primary', 'POST of the same stable function runs on the primary');
is(where(Prefer => 'read-primary'), 'primary', 'GET with Prefer: read-primary runs on the primary');
is(where(Prefer => 'handling=strict, read-primary'), 'primary', 'read-primary is accepted with handling=strict');
$r = $t->get("/rpc/in_recovery", headers => { Prefer => "handling=strict, read-secondary" });
is($r->{status}, 400, 'an unknown preference with handling=strict is still refused');

$r = $t->get('/where_am_i');
is($r->{content}, '[{"standby":true}]', 'GET on a view runs on the standby') or diag($r->{content});
$r = $t->get('/where_am_i', headers => { Prefer => 'read-primary' });
is($r->{content}, '[{"standby":false}]', 'with read-primary on the primary');
$r = $t->get('/items?order=id');
is_deeply($r->{json}, [ { id => 1, name => 'one' }, { id => 2, name => 'two' } ], 'GET on a table answers from the standby');

my $on_standby = $t->standby_psql(
    "SELECT count(*) FROM pg_stat_activity WHERE usename = 'authenticator' AND backend_type = 'client backend'");
cmp_ok($on_standby + 0, '>=', 1, "the authenticator is connected to the standby ($on_standby)");

# writes go to the primary and are then readable
$r = $t->request('POST', '/items', headers => { 'Content-Type' => 'application/json', Prefer => 'return=representation' },
                 body => '{"id":3,"name":"three"}');
is($r->{status}, 201, 'POST /items: 201');
is($r->{content}, '[{"id":3,"name":"three"}]', 'with the row');
is($t->psql('SELECT name FROM api.items WHERE id = 3'), "three\n", 'the row is on the primary');
$r = $t->get('/items?id=eq.3', headers => { Prefer => 'read-primary' });
is($r->{content}, '[{"id":3,"name":"three"}]', 'read-primary reads it at once');
my $seen = 0;
for (1 .. 100) {
    $r = $t->get('/items?id=eq.3');
    if ($r->{status} == 200 && $r->{content} eq '[{"id":3,"name":"three"}]') { $seen = 1; last }
    sleep 0.1;
}
ok($seen, 'and a plain GET once the standby replayed it');
is($t->standby_psql('SELECT name FROM api.items WHERE id = 3'), "three\n", 'the standby has the row');
($ok, $odd) = wait_where('standby', 15);
ok($ok, 'reads are on the standby again after the write') or diag(join("\n", @$odd));

# ---------------------------------------------------------------------------
# the standby stopped: reads go to the primary, no error for the client

my $mark = length $t->log_contents;
$t->pause_standby(name => 'standby', mode => 'fast');
my (%where, @bad);
for my $i (1 .. 20) {
    my $w = where();
    $where{$w}++;
    push @bad, $w unless $w eq 'primary';
    $r = $t->get('/items?id=eq.1');
    push @bad, "items: $r->{status} $r->{content}" unless $r->{status} == 200 && $r->{content} eq '[{"id":1,"name":"one"}]';
}
is_deeply(\@bad, [], 'standby down: 20 reads of a function and 20 of a table, all 200 from the primary');
my ($n, $max) = lines_per_worker(log_since($mark), qr/reads go to the primary: the replica is unreachable/);
ok($n >= 1 && $n <= $WORKERS, "one log line per worker for the change, not one per request ($n lines)")
    or diag(log_since($mark));
is($max, 1, 'no worker logs it twice');
my $down_log = log_since($mark);
unlike($down_log, qr/ 5\d\d /, 'no 5xx answer logged');

$mark = length $t->log_contents;
$t->resume_standby(name => 'standby');
($ok, $odd) = wait_where('standby', 30);
ok($ok, 'standby back: reads go to it again') or diag(join("\n", @$odd));
ok(wait_log($mark, qr/reads go to the replica again/, 20), 'logged: reads go to the replica again')
    or diag(log_since($mark));

# ---------------------------------------------------------------------------
# a lagging standby: replay paused while the primary writes

# a transaction replayed since the standby's restart, so that its replay
# timestamp is known (NULL until then)
$t->psql('INSERT INTO public.ticks DEFAULT VALUES');
$t->wait_standby_caught_up(name => 'standby');
$mark = length $t->log_contents;
$t->standby_psql('SELECT pg_wal_replay_pause()');
my $fell_back = 0;
my @odd_lag;
my $deadline = time + 40;
while (time < $deadline) {
    $t->psql('INSERT INTO public.ticks DEFAULT VALUES');
    my $w = where();
    if ($w eq 'primary') { $fell_back = 1; last }
    push @odd_lag, $w unless $w eq 'standby';
    sleep 0.2;
}
ok($fell_back, 'replay paused: reads fall back to the primary once the lag passes db-replica-max-lag');
is_deeply(\@odd_lag, [], 'every answer meanwhile was a 200');
like(log_since($mark), qr/reads go to the primary: the replica replays [\d.]+ s behind \(db-replica-max-lag = 2\)/,
     'logged: the replica replays ... behind');
$r = $t->get('/where_am_i');
is($r->{status}, 200, 'a view read while lagging: 200');

$mark = length $t->log_contents;
$t->standby_psql('SELECT pg_wal_replay_resume()');
($ok, $odd) = wait_where('standby', 30);
ok($ok, 'replay resumed: reads go to the standby again') or diag(join("\n", @$odd));
ok(wait_log($mark, qr/reads go to the replica again/, 20), 'logged: reads go to the replica again')
    or diag(log_since($mark));

is(scalar(grep { PgRestTest::_alive($_) } $t->worker_pids), $WORKERS, 'every worker is alive');
unlike($t->log_contents, qr/LISTEN .* failed|cannot execute LISTEN/, 'no LISTEN was tried on the standby');

# ---------------------------------------------------------------------------
# DDL not replayed yet: with db-replica-max-lag = 0 (no lag check) and replay
# paused, a column the schema cache (from the primary) has and the standby
# has not: the read runs again on the primary

$t->stop_workers;
$t->start_workers(config => { %cfg, 'db-replica-max-lag' => 0 }, workers => $WORKERS);
($ok, $odd) = wait_where('standby', 15);
ok($ok, 'max-lag 0: reads on the standby') or diag(join("\n", @$odd));
$t->standby_psql('SELECT pg_wal_replay_pause()');
$t->psql(<<'SQL');
ALTER TABLE api.items ADD COLUMN extra text DEFAULT 'x';
NOTIFY pgrst, 'reload schema';
SQL
my $new_col;
for (1 .. 100) {
    $r = $t->get('/items?select=id,extra&id=eq.1');
    if ($r->{status} == 200) { $new_col = $r->{content}; last }
    sleep 0.1;
}
is($new_col, '[{"id":1,"extra":"x"}]', 'a column not replayed on the standby yet: read from the primary');
is(where(), 'standby', 'other reads still on the (paused) standby');
$t->standby_psql('SELECT pg_wal_replay_resume()');

# ---------------------------------------------------------------------------
# a standby that never answers (a listening socket nobody reads): reads
# do not wait for it, they go to the primary, and the attempt times out

my $silent = IO::Socket::INET->new(LocalAddr => '127.0.0.1', LocalPort => 0, Proto => 'tcp',
                                   Listen => 16, ReuseAddr => 1) or die "listen: $!";
$t->stop_workers;
$mark = length $t->log_contents;
$t->start_workers(config => { %cfg, 'db-replica-uri' => 'host=127.0.0.1 port=' . $silent->sockport
                                  . ' dbname=postgres user=authenticator connect_timeout=2' },
                  workers => $WORKERS);
my @silent_bad;
for my $i (1 .. 10) {
    my $w = where();
    push @silent_bad, $w unless $w eq 'primary';
}
is_deeply(\@silent_bad, [], 'silent standby: reads answered 200 from the primary');
my $timed_out = 0;
for (1 .. 200) {
    if (log_since($mark) =~ /reads go to the primary: the replica is unreachable \(timeout expired\)/) { $timed_out = 1; last }
    where();
    sleep 0.05;
}
ok($timed_out, 'the connection attempt to it times out (connect_timeout)') or diag(log_since($mark));
for (1 .. 10) { where() }
($n, $max) = lines_per_worker(log_since($mark), qr/reads go to the primary/);
is($max, 1, "logged once per worker however often it is retried ($n lines)");
close $silent;
$t->stop_workers;
$t->start_workers(config => \%cfg, workers => $WORKERS);

# ---------------------------------------------------------------------------
# SIGHUP: a configuration without db-replica-uri sends every read to the
# primary, and one with it back to the standby

sub all_where {
    my ($want, $secs) = @_;
    my $deadline = time + $secs;
    my $run = 0;
    while (time < $deadline) {
        $run = where() eq $want ? $run + 1 : 0;
        return 1 if $run >= 10;    # both workers, several times
        sleep 0.05;
    }
    return 0;
}
ok(all_where('standby', 15), 'before the reload: reads on the standby');
my %no_replica = %cfg;
delete $no_replica{'db-replica-uri'};
$t->write_config(\%no_replica);
kill 'HUP', $t->worker_pids;
ok(all_where('primary', 15), 'SIGHUP without db-replica-uri: every read on the primary');
$t->write_config(\%cfg);
kill 'HUP', $t->worker_pids;
ok(all_where('standby', 15), 'SIGHUP with it again: reads on the standby');

# ---------------------------------------------------------------------------
# the configuration keys

my $conf = $t->write_config({ %cfg, 'db-replica-uri' => 'postgresql://authenticator:s3cret@standby.example/db' },
                            $t->tmpdir . '/check.conf');
my %clean = ((map { $_ => undef } grep { /^PGRST_/ } keys %ENV), PG_REST_CONFIG => undef);
my ($st, $out, $err) = $t->_run([ $t->bin, '--check-config', $conf ], env => \%clean, timeout => 30);
is($st >> 8, 0, '--check-config accepts db-replica-uri and db-replica-max-lag') or diag($err);
like($out, qr{^db-replica-uri = "postgresql://authenticator:\*{8}\@standby\.example/db"$}m, 'the replica password is masked');
unlike("$out$err", qr/s3cret/, 'and not shown');
like($out, qr/^db-replica-max-lag = 2$/m, 'db-replica-max-lag printed');
($st, $out, $err) = $t->_run([ $t->bin, '--check-config', $conf ],
                             env => { %clean, PGRST_DB_REPLICA_URI => 'host=elsewhere', PGRST_DB_REPLICA_MAX_LAG => '0' },
                             timeout => 30);
like($out, qr/^db-replica-uri = "host=elsewhere"$/m, 'PGRST_DB_REPLICA_URI overrides the file');
like($out, qr/^db-replica-max-lag = 0$/m, 'PGRST_DB_REPLICA_MAX_LAG too');
$conf = $t->write_config({ %cfg, 'db-replica-max-lag' => -1 }, $t->tmpdir . '/bad.conf');
($st, $out, $err) = $t->_run([ $t->bin, '--check-config', $conf ], env => \%clean, timeout => 30);
is($st >> 8, 1, 'a negative db-replica-max-lag is refused');
like($err, qr/db-replica-max-lag/, 'naming the key');

# a --enable-sanitizers build writes its reports (leaks at exit included)
# into the harness's log directory
$t->stop_workers;
is($t->sanitizer_reports, '', 'no AddressSanitizer/UBSan reports from the workers');

done_testing();
