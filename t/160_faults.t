# 160_faults.t — database faults under load, statement timeouts and the
# worker's process life.
#
# A load loop (a child process, bounded by a request count and by time)
# POSTs numbered rows with Prefer: return=representation and GETs them back
# while PostgreSQL is restarted (pg_ctl restart -m fast), killed (pg_ctl
# stop -m immediate, then start), down for a while, and unreachable (the
# postmaster stopped with SIGSTOP: connections hang until connect_timeout).
# A backend is killed with pg_terminate_backend in the middle of a slow read
# and of a slow write.  Every answer is counted:
#
#   - successes: 201 with the row (POST), 200 (GET);
#   - the documented outage answers, all 503 with PostgREST's JSON body and
#     Retry-After: 1 — PGRST000 "Could not connect with the database" (no
#     connection can be made), PGRST001 "Database client error. Retrying
#     the connection." (the connection died without PostgreSQL saying why),
#     57P01 "terminating connection due to administrator command" (the
#     statement was running when PostgreSQL stopped it: pg_terminate_backend,
#     a fast or immediate shutdown; PostgREST v12 maps 57P01 to 503 too, and
#     such a request is not run again);
#   - nothing else: no other 5xx, no HTML from nginx (502/504), no timeouts.
#
# Every acknowledged write (201) must be in the table afterwards (the
# cluster runs with synchronous_commit = on here, so an immediate stop
# cannot lose a commit); the first request after the database is back
# succeeds, or the one after it: a worker retries the connection with a
# bounded backoff (125 ms .. 1 s, jitter) and answers 503 at once meanwhile,
# never waiting on the backoff.  A role's statement_timeout (ALTER ROLE anon
# SET ...) bounds a slow function: 500 57014, as PostgREST v12 (57* -> 500).
# SIGTERM during a slow request finishes it (200 with its body) and then the
# worker exits; clients that hang up in the middle of a large answer do not
# kill the worker; once the workers are stopped no backend of the
# authenticator remains.  No worker dies anywhere.
use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";

use HTTP::Tiny;
use IO::Socket::INET;
use JSON::PP;
use POSIX qw(WNOHANG);
use Test::More;
use Time::HiRes qw(time sleep);
use PgRestTest;

PgRestTest::skip_unless_ready();

$SIG{PIPE} = 'IGNORE';
my $T0 = time;
my $t = PgRestTest->new();
# an immediate stop must not lose an acknowledged commit
$t->start_postgres(conf => "synchronous_commit = on\n");
$t->psql(<<'SQL');
CREATE ROLE authenticator LOGIN NOINHERIT;
CREATE ROLE anon NOLOGIN;
GRANT anon TO authenticator;
CREATE SCHEMA api;
GRANT USAGE ON SCHEMA api TO anon;
CREATE TABLE api.events (id int PRIMARY KEY, note text);
GRANT SELECT, INSERT ON api.events TO anon;
CREATE FUNCTION api.nap(s float8) RETURNS text LANGUAGE sql STABLE
    AS $$ SELECT pg_sleep(s)::text || 'slept' $$;
CREATE FUNCTION api.slow_insert(id int, s float8) RETURNS int LANGUAGE sql VOLATILE
    AS $$ INSERT INTO api.events VALUES ($1, 'slow'); SELECT pg_sleep($2); SELECT $1 $$;
CREATE FUNCTION api.big(n int) RETURNS SETOF api.events LANGUAGE sql STABLE
    AS $$ SELECT g, repeat('x', 1000) FROM generate_series(1, n) g $$;
SQL

# a short connect_timeout keeps the "unreachable" phase short; the default
# (pg_rest's own) is 5 s
my $CONNECT_TIMEOUT = 2;
my %cfg = (
    'db-uri'       => $t->db_uri(user => 'authenticator', db => 'postgres') . "&connect_timeout=$CONNECT_TIMEOUT",
    'db-schemas'   => 'api',
    'db-anon-role' => 'anon',
    'log-level'    => 'info',
);
$t->start_workers(config => \%cfg, workers => 2);
$t->start_nginx(prefix => '/');
my @WORKERS = $t->worker_pids;
my $BASE = $t->base_url;
my $JSON = JSON::PP->new->canonical(1);

# the postmaster is SIGCONTed whatever happens (this END runs before the harness's)
my $STOPPED_PM;
END { kill 'CONT', $STOPPED_PM if $STOPPED_PM }

sub psql1 { my $o = $t->psql($_[0]); chomp $o; return $o }
sub workers_alive { return scalar grep { kill 0, $_ } @WORKERS }

my %TOTAL = (requests => 0, ok => 0, acked => 0, 503 => 0, faults => 0);
my %CODES;
my $ALLOWED_503 = qr/\A(?:PGRST000|PGRST001|57P01)\z/;

# ---------------------------------------------------------------------------
# one request: {status, code, ct, elapsed, json, retry_after}

my $HTTP = HTTP::Tiny->new(agent => $PgRestTest::UA, timeout => 20, keep_alive => 0);

sub call {
    my ($http, $method, $path, $body, %h) = @_;
    my %args = (headers => { %h });
    if (defined $body) {
        $args{content} = ref $body ? $JSON->encode($body) : $body;
        $args{headers}{'Content-Type'} //= 'application/json';
    }
    my $t1 = time;
    my $res = $http->request($method, "$BASE$path", \%args);
    my $r = { status => $res->{status}, elapsed => time - $t1, start => $t1,
              ct => $res->{headers}{'content-type'} // '', content => $res->{content} // '',
              retry_after => $res->{headers}{'retry-after'} };
    $r->{json} = eval { JSON::PP->new->utf8->allow_nonref->decode($r->{content}) } if length $r->{content};
    $r->{code} = ref $r->{json} eq 'HASH' ? $r->{json}{code} : undef;
    return $r;
}

# an answer is one of the documented ones; returns a complaint or ''
sub judge {
    my ($method, $id, $r) = @_;
    my $what = "$method $id: $r->{status} " . ($r->{code} // '-') . " $r->{ct}";
    if ($r->{status} == 503) {
        return "$what: 503 without PostgREST's JSON body" unless $r->{ct} =~ m{\Aapplication/json};
        return "$what: undocumented 503 code" unless ($r->{code} // '') =~ $ALLOWED_503;
        return "$what: 503 without message/details/hint"
            unless 3 == grep { exists $r->{json}{$_} } qw(message details hint);
        return "$what: 503 without Retry-After" unless ($r->{retry_after} // '') eq '1';
        return '';
    }
    if ($method eq 'POST') {
        return "$what: not 201" unless $r->{status} == 201;
        return "$what: representation is not the row"
            unless ref $r->{json} eq 'ARRAY' && @{ $r->{json} } == 1 && $r->{json}[0]{id} == $id;
        return '';
    }
    return "$what: not 200" unless $r->{status} == 200;
    return "$what: body is not a JSON array" unless ref $r->{json} eq 'ARRAY';
    return '';
}

# ---------------------------------------------------------------------------
# the load loop: a child process, at most $max requests and $secs seconds

sub load_start {
    my ($tag, $base_id, %o) = @_;
    my $secs = $o{seconds} // 5;
    my $max  = $o{max} // 800;
    my $file = $t->tmpdir . "/load-$tag.json";
    my $pid = fork // die "fork: $!";
    if ($pid == 0) {
        my $http = HTTP::Tiny->new(agent => $PgRestTest::UA, timeout => 20, keep_alive => 0);
        my (@recs, $n);
        my $end = time + $secs;
        for ($n = 0; $n < $max / 2 && time < $end; $n++) {
            my $id = $base_id + $n;
            my $r = call($http, 'POST', '/events', { id => $id, note => "load $tag" },
                         Prefer => 'return=representation');
            push @recs, { method => 'POST', id => $id, map { $_ => $r->{$_} } qw(status code ct elapsed start retry_after json) };
            $r = call($http, 'GET', "/events?id=eq.$id");
            push @recs, { method => 'GET', id => $id, map { $_ => $r->{$_} } qw(status code ct elapsed start retry_after json) };
            sleep 0.01;
        }
        open my $fh, '>', $file or POSIX::_exit(1);
        print $fh JSON::PP->new->encode(\@recs);
        close $fh;
        POSIX::_exit(0);
    }
    return { pid => $pid, file => $file, tag => $tag, deadline => time + $secs + 60 };
}

sub load_wait {
    my ($l) = @_;
    for (1 .. 100_000) {
        my $r = waitpid($l->{pid}, WNOHANG);
        last if $r == $l->{pid} || $r == -1;
        if (time > $l->{deadline}) {
            kill 'KILL', $l->{pid};
            waitpid($l->{pid}, 0);
            fail("load $l->{tag}: the load loop hung");
            return [];
        }
        sleep 0.05;
    }
    open my $fh, '<', $l->{file} or do { fail("load $l->{tag}: no results"); return [] };
    local $/;
    my $recs = JSON::PP->new->decode(scalar <$fh>);
    close $fh;
    return $recs;
}

# counts, checks every answer, every acknowledged row; $up = when the
# database was back (answers after $up + 1.5 s must all succeed)
sub load_check {
    my ($name, $recs, %o) = @_;
    my (@bad, %n, @acked);
    for my $r (@$recs) {
        $n{total}++;
        $CODES{"$r->{status} " . ($r->{code} // '')}++;
        my $why = judge($r->{method}, $r->{id}, $r);
        push @bad, $why if $why;
        $n{503}++ if $r->{status} == 503;
        $n{ok}++ if $r->{status} =~ /\A20[01]\z/;
        push @acked, $r->{id} if $r->{method} eq 'POST' && $r->{status} == 201;
        $n{max_elapsed} = $r->{elapsed} if $r->{elapsed} > ($n{max_elapsed} // 0);
        push @bad, "$r->{method} $r->{id}: $r->{status} after the database was back"
            if $o{up} && $r->{start} > $o{up} + 1.5 && $r->{status} != 200 && $r->{status} != 201;
    }
    ok($n{total} > 20, "$name: load ran (" . ($n{total} // 0) . ' requests)');
    is(join("\n", @bad[0 .. ($#bad < 9 ? $#bad : 9)]), '', "$name: every answer is a success or a documented 503")
        or diag(scalar(@bad) . ' bad answers');
    ok(($n{503} // 0) > 0, "$name: the fault was hit (" . ($n{503} // 0) . ' answers 503)') if $o{expect_503};
    ok(@acked > 0, "$name: writes were acknowledged (" . scalar(@acked) . ')');
    cmp_ok($n{max_elapsed} // 0, '<', $o{max_elapsed} // 5, "$name: no answer took long");
    if (@acked) {
        my $in = psql1('SELECT count(*) FROM api.events WHERE id IN (' . join(',', @acked) . ')');
        is($in, scalar @acked, "$name: every acknowledged write is in the table");
    }
    is(workers_alive(), scalar @WORKERS, "$name: no worker died");
    $TOTAL{requests} += $n{total} // 0;
    $TOTAL{ok} += $n{ok} // 0;
    $TOTAL{503} += $n{503} // 0;
    $TOTAL{acked} += @acked;
    return \%n;
}

# the first request after recovery succeeds, or the one after Retry-After
sub first_after_recovery {
    my ($name) = @_;
    my @st;
    for my $i (1 .. 4) {
        my $r = call($HTTP, 'GET', '/events?limit=1');
        if ($r->{status} == 503) {
            is(judge('GET', 'recovery', $r), '', "$name: a 503 right after recovery is documented");
            sleep($r->{retry_after} // 1);
            $r = call($HTTP, 'GET', '/events?limit=1');
        }
        push @st, $r->{status};
    }
    is("@st", '200 200 200 200', "$name: requests after recovery succeed (at most one retry)");
}

# the authenticator's backends (pg_stat_activity)
sub backends {
    return psql1(q{SELECT coalesce(string_agg(pid::text, ' '), '') FROM pg_stat_activity WHERE usename = 'authenticator'});
}

# wait until a query matching $like runs as the authenticator; its backend pid
sub running_backend {
    my ($like) = @_;
    for (1 .. 100) {
        my $pid = psql1(qq{SELECT pid FROM pg_stat_activity WHERE usename = 'authenticator'
                           AND state = 'active' AND query LIKE '$like' LIMIT 1});
        return $pid if $pid;
        sleep 0.05;
    }
    return undef;
}

my $r = call($HTTP, 'GET', '/events');
is($r->{status}, 200, 'up and serving');

# ---------------------------------------------------------------------------
# 1. restart (fast) under load

{
    my $l = load_start('restart', 100_000);
    sleep 1.5;
    $t->pause_postgres(mode => 'fast');
    $t->resume_postgres();
    my $up = time;
    $TOTAL{faults}++;
    load_check('pg_ctl restart', load_wait($l), up => $up, expect_503 => 0);
    first_after_recovery('pg_ctl restart');
}

# ---------------------------------------------------------------------------
# 2. killed (stop -m immediate), down a second, started again, under load

{
    my $l = load_start('kill', 200_000, seconds => 6);
    sleep 1.5;
    $t->pause_postgres(mode => 'immediate');
    sleep 1;
    $t->resume_postgres();
    my $up = time;
    $TOTAL{faults}++;
    load_check('pg_ctl stop -m immediate', load_wait($l), up => $up, expect_503 => 1);
    first_after_recovery('pg_ctl stop -m immediate');
}

# ---------------------------------------------------------------------------
# 3. down for a while: every request is answered 503 at once, then recovery

{
    my $log_mark = length $t->log_contents;
    $t->pause_postgres(mode => 'fast');
    $TOTAL{faults}++;
    my (@bad, $n, $max);
    my $end = time + 3;
    for ($n = 0; time < $end && $n < 400; $n++) {
        my $r = $n % 2 ? call($HTTP, 'GET', '/events?id=eq.1')
                       : call($HTTP, 'POST', '/events', { id => 300_000 + $n }, Prefer => 'return=representation');
        push @bad, "$n: $r->{status} " . ($r->{code} // '') unless $r->{status} == 503 && judge('GET', $n, $r) eq '';
        $max = $r->{elapsed} if $r->{elapsed} > ($max // 0);
        $CODES{"$r->{status} " . ($r->{code} // '')}++;
    }
    $TOTAL{requests} += $n;
    $TOTAL{503} += $n - @bad;
    ok($n > 20, "database down: $n requests in 3 s");
    is("@bad", '', 'database down: every request got a documented 503');
    cmp_ok($max, '<', 0.5, 'database down: each 503 came at once (the backoff does not delay answers)');
    is(workers_alive(), scalar @WORKERS, 'database down: no worker died');
    my $tries = () = substr($t->log_contents, $log_mark) =~ /could not connect to the database/g;
    cmp_ok($tries, '<=', 2 * @WORKERS, 'a failed connection is logged once per outage and worker, not per attempt');
    $t->resume_postgres();
    first_after_recovery('database down for 3 s');
    is(psql1('SELECT count(*) FROM api.events WHERE id >= 300000 AND id < 400000'), '0',
       'database down: nothing was written');
}

# ---------------------------------------------------------------------------
# 4. unreachable: the postmaster stopped (SIGSTOP) after the workers' backends
#    were terminated; a connection attempt hangs until connect_timeout

{
    my $pm = $t->{pg_pid};
    my $terminated = psql1(q{SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE usename = 'authenticator'});
    kill 'STOP', $pm;
    $STOPPED_PM = $pm;
    $TOTAL{faults}++;
    my @res;
    for my $i (1 .. 3) {
        push @res, call($HTTP, 'GET', '/events?limit=1');
    }
    kill 'CONT', $pm;
    undef $STOPPED_PM;
    ok($terminated >= 1, "unreachable: $terminated backends terminated first");
    is(join(' ', map { judge('GET', 'unreachable', $_) || 'ok' } @res), 'ok ok ok',
       'unreachable: documented answers only');
    ok((grep { $_->{status} == 503 } @res) >= 1, 'unreachable: answered 503 (PGRST000), not hung');
    my ($max) = sort { $b <=> $a } map { $_->{elapsed} } @res;
    cmp_ok($max, '<', $CONNECT_TIMEOUT + 2.5, "unreachable: no request waited much past connect_timeout ($CONNECT_TIMEOUT s)");
    $TOTAL{requests} += @res;
    $TOTAL{503} += grep { $_->{status} == 503 } @res;
    $CODES{"$_->{status} " . ($_->{code} // '')}++ for @res;
    first_after_recovery('unreachable');
    is(workers_alive(), scalar @WORKERS, 'unreachable: no worker died');
}

# ---------------------------------------------------------------------------
# 5. a backend killed in the middle of a request

sub in_child {
    my ($code) = @_;
    my $file = $t->tmpdir . '/child-' . int(rand(1e9)) . '.json';
    my $pid = fork // die "fork: $!";
    if ($pid == 0) {
        my $res = $code->();
        open my $fh, '>', $file or POSIX::_exit(1);
        print $fh JSON::PP->new->allow_nonref->encode({ map { $_ => $res->{$_} } qw(status code ct elapsed content retry_after) });
        close $fh;
        POSIX::_exit(0);
    }
    return sub {
        my $deadline = time + 30;
        while (time < $deadline) {
            last if waitpid($pid, WNOHANG) == $pid;
            sleep 0.05;
        }
        if (kill 0, $pid) { kill 'KILL', $pid; waitpid($pid, 0) }
        open my $fh, '<', $file or return { status => 'none' };
        local $/;
        my $res = JSON::PP->new->decode(scalar <$fh>);
        $res->{json} = eval { JSON::PP->new->utf8->allow_nonref->decode($res->{content}) };
        $res->{code} //= ref $res->{json} eq 'HASH' ? $res->{json}{code} : undef;
        return $res;
    };
}

{
    my $http = HTTP::Tiny->new(agent => $PgRestTest::UA, timeout => 20, keep_alive => 0);
    my $wait = in_child(sub { call($http, 'GET', '/rpc/nap?s=3') });
    my $bpid = running_backend('%nap%');
    ok($bpid, 'slow read: its backend is running');
    my $killed_at = time;
    psql1("SELECT pg_terminate_backend($bpid)") if $bpid;
    $TOTAL{faults}++;
    my $res = $wait->();
    is($res->{status}, 503, 'backend killed mid-read: 503');
    is($res->{code}, '57P01', "backend killed mid-read: PostgreSQL's own error 57P01");
    like($res->{ct}, qr{\Aapplication/json}, 'backend killed mid-read: JSON body');
    like(ref $res->{json} eq 'HASH' ? $res->{json}{message} : '', qr/terminating connection due to administrator command/,
         'backend killed mid-read: its message');
    cmp_ok(time - $killed_at, '<', 2, 'backend killed mid-read: answered at once, the read was not run again');
    $CODES{"503 57P01"}++;

    $wait = in_child(sub { call($http, 'POST', '/rpc/slow_insert', { id => 500_001, s => 3 }) });
    $bpid = running_backend('%slow_insert%');
    ok($bpid, 'slow write: its backend is running');
    psql1("SELECT pg_terminate_backend($bpid)") if $bpid;
    $TOTAL{faults}++;
    $res = $wait->();
    is($res->{status}, 503, 'backend killed mid-write: 503');
    is($res->{code}, '57P01', 'backend killed mid-write: 57P01');
    is(psql1('SELECT count(*) FROM api.events WHERE id = 500001'), '0', 'backend killed mid-write: the row is not there');
    $CODES{"503 57P01"}++;
    my @st = map { call($HTTP, 'GET', '/events?limit=1')->{status} } 1 .. 4;
    is("@st", '200 200 200 200', 'after the kills: the workers serve again');
    is(workers_alive(), scalar @WORKERS, 'after the kills: no worker died');
    $TOTAL{requests} += 6;
}

# ---------------------------------------------------------------------------
# 6. statement timeout of the anonymous role

{
    psql1(q{ALTER ROLE anon SET statement_timeout = '200ms'});
    my $res = call($HTTP, 'GET', '/rpc/nap?s=2');
    is($res->{status}, 500, 'statement_timeout: 500 (57014, PostgREST v12: 57* -> 500)');
    is($res->{code}, '57014', 'statement_timeout: 57014');
    like($res->{json}{message} // '', qr/statement timeout/, 'statement_timeout: its message');
    cmp_ok($res->{elapsed}, '<', 1.5, 'statement_timeout: answered quickly');
    $res = call($HTTP, 'POST', '/rpc/slow_insert', { id => 600_001, s => 2 });
    is("$res->{status} " . ($res->{code} // ''), '500 57014', 'statement_timeout on a write: 500 57014');
    is(psql1('SELECT count(*) FROM api.events WHERE id = 600001'), '0', 'statement_timeout on a write: rolled back');
    $res = call($HTTP, 'GET', '/rpc/nap?s=0.01');
    is($res->{status}, 200, 'statement_timeout: a quick call still works');
    my @st = map { call($HTTP, 'GET', '/events?limit=1')->{status} } 1 .. 4;
    is("@st", '200 200 200 200', 'statement_timeout: the workers serve the next requests');
    psql1(q{ALTER ROLE anon RESET statement_timeout});
    $res = call($HTTP, 'GET', '/rpc/nap?s=0.3');
    is($res->{status}, 200, 'statement_timeout reset: a 0.3 s call runs');
    $TOTAL{requests} += 9;
    $TOTAL{faults}++;
}

is(workers_alive(), scalar @WORKERS, 'no worker died during the database faults');
unlike($t->log_contents, qr/CRIT/, 'no critical errors in the worker log');
unlike($t->nginx_error_log, qr/upstream prematurely closed|upstream timed out|too big header/,
       'nginx never lost a worker mid-answer');

# ---------------------------------------------------------------------------
# 7. process life: SIGTERM during a slow request; clients that hang up

{
    $t->start_workers(config => \%cfg, workers => 1);
    my ($w) = $t->worker_pids;
    my $http = HTTP::Tiny->new(agent => $PgRestTest::UA, timeout => 20, keep_alive => 0);
    my $wait = in_child(sub { call($http, 'GET', '/rpc/nap?s=1.5') });
    ok(running_backend('%nap%'), 'SIGTERM: the slow request is running');
    kill 'TERM', $w;
    $TOTAL{faults}++;
    my $res = $wait->();
    is($res->{status}, 200, 'SIGTERM during a slow request: it still gets 200');
    is($res->{content}, '"slept"', 'and its whole body');
    my $gone = 0;
    for (1 .. 100) { waitpid($w, WNOHANG); unless (kill 0, $w) { $gone = 1; last } sleep 0.05 }
    ok($gone, 'then the worker exits');

    $t->start_workers(config => \%cfg, workers => 1);
    @WORKERS = $t->worker_pids;
    my ($port) = $BASE =~ /:(\d+)\z/;
    for my $i (1 .. 6) {
        my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $port, Proto => 'tcp', Timeout => 5)
            or die "connect: $!";
        print $s "GET /rpc/big?n=4000 HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n";
        if ($i % 2) {
            close $s;                       # gone before the answer
        } else {
            sysread($s, my $buf, 1024);     # gone in the middle of it
            close $s;
        }
        sleep 0.2;
    }
    $TOTAL{faults} += 6;
    is(workers_alive(), 1, 'clients that hung up mid-answer did not kill the worker');
    $res = call($HTTP, 'GET', '/rpc/big?n=3');
    is($res->{status}, 200, 'and it serves the next request');
    is(ref $res->{json} eq 'ARRAY' ? scalar @{ $res->{json} } : -1, 3, 'with the right answer');

    $t->stop_workers;
    my $left = backends();
    for (1 .. 60) { last if $left eq ''; sleep 0.05; $left = backends() }
    is($left, '', 'workers stopped: no backend of the authenticator remains');
}

is($t->sanitizer_reports, '', 'no AddressSanitizer/UBSan reports from the workers');
diag(sprintf('%d faults injected; %d requests under faults: %d succeeded (%d writes acknowledged), %d answered 503; '
             . 'answers: %s; %.1f s',
             $TOTAL{faults}, $TOTAL{requests}, $TOTAL{ok}, $TOTAL{acked}, $TOTAL{503},
             join(', ', map { "$_ x$CODES{$_}" } sort keys %CODES), time - $T0));
done_testing();
