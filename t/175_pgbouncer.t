# 175_pgbouncer.t — workers behind PgBouncer in transaction pooling mode.
#
# Four workers share two server connections (pool_mode = transaction,
# default_pool_size = 2), so every transaction may run on a server
# connection another worker used a moment before.
#
# (a) db-prepared-statements = false: nothing of a request may outlive its
#     transaction.  Four clients in parallel, each as its own user (a token
#     {"role":"webuser","user":U,"n":NONCE} made afresh for every request),
#     interleave reads of an RLS table (a user sees only its own rows),
#     writes with Prefer: return=representation (the row comes back with
#     the writer's cuser, and only its owner can read it afterwards; half
#     of them as a singular object, whose transaction stays open for a
#     second round trip) and an
#     RPC returning request.jwt.claims, the legacy claim GUC, current_user,
#     the session's prepared statements and LISTEN channels: every answer
#     carries exactly the claims of its own request (the nonce), no named
#     prepared statement and no LISTEN is ever seen on a server connection,
#     and the cluster never has more than two backends of the authenticator.
# (b) db-prepared-statements = true through the same PgBouncer: the
#     statements a worker prepared are on other server connections; the
#     answer is a 500 whose message names db-prepared-statements = false and
#     PgBouncer (PostgreSQL's own words only in details), with one log line
#     explaining it, never PostgreSQL's raw "prepared statement ... does not
#     exist" as the message; no other failure, and the workers stay up.
use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";

use HTTP::Tiny;
use JSON::PP;
use POSIX qw(WNOHANG);
use Test::More;
use Time::HiRes qw(time sleep);
use PgRestTest;

PgRestTest::skip_unless_ready();
plan skip_all => 'pgbouncer not installed' unless grep { -x "$_/pgbouncer" } split(/:/, $ENV{PATH} // ''), '/usr/sbin';

$SIG{PIPE} = 'IGNORE';
my $t = PgRestTest->new();
$t->start_postgres();
$t->psql(<<'SQL');
CREATE ROLE authenticator LOGIN NOINHERIT;
CREATE ROLE webuser NOLOGIN;
GRANT webuser TO authenticator;
CREATE SCHEMA api;
GRANT USAGE ON SCHEMA api TO webuser;
CREATE TABLE api.notes (
    id serial PRIMARY KEY,
    cuser text NOT NULL DEFAULT current_setting('request.jwt.claim.user', true),
    body text
);
ALTER TABLE api.notes ENABLE ROW LEVEL SECURITY;
CREATE POLICY own ON api.notes
    USING (cuser = current_setting('request.jwt.claim.user', true))
    WITH CHECK (cuser = current_setting('request.jwt.claim.user', true));
GRANT SELECT, INSERT ON api.notes TO webuser;
GRANT USAGE ON SEQUENCE api.notes_id_seq TO webuser;
INSERT INTO api.notes (cuser, body)
    SELECT u, 'seed ' || u || ' ' || g FROM unnest(ARRAY['u0', 'u1', 'u2', 'u3']) u, generate_series(1, 3) g;
-- what the server connection carries while this request runs
CREATE FUNCTION api.whoami() RETURNS json LANGUAGE sql STABLE AS $$
    SELECT json_build_object(
        'claims', current_setting('request.jwt.claims', true)::json,
        'legacy_user', current_setting('request.jwt.claim.user', true),
        'role', current_user,
        'pid', pg_backend_pid(),
        'prepared', (SELECT count(*) FROM pg_prepared_statements),
        'listening', (SELECT count(*) FROM pg_listening_channels()))
$$;
CREATE FUNCTION api.add_note(body text) RETURNS SETOF api.notes LANGUAGE sql VOLATILE AS $$
    INSERT INTO api.notes (body) VALUES (body) RETURNING *
$$;
GRANT EXECUTE ON FUNCTION api.whoami(), api.add_note(text) TO webuser;
SQL

my $SECRET = 'a-secret-of-at-least-thirty-two-characters';
my $bouncer = $t->start_pgbouncer(pool_mode => 'transaction', pool_size => 2, users => ['authenticator']);
ok($bouncer->{port}, "pgbouncer listens on 127.0.0.1:$bouncer->{port}");

my %cfg = (
    'db-uri'                 => $t->pgbouncer_uri(user => 'authenticator', db => 'postgres'),
    'db-schemas'             => 'api',
    'jwt-secret'             => $SECRET,
    'db-prepared-statements' => JSON::PP::false,
    'log-level'              => 'info',
);
my $WORKERS = 4;
$t->start_workers(config => \%cfg, workers => $WORKERS);
$t->start_nginx(prefix => '/');
my $base = $t->base_url;
my $JSON = JSON::PP->new->canonical(1)->utf8(1);

# a request as user $u with a token of its own (nonce $n)
sub call {
    my ($http, $u, $n, $method, $path, $body, %h) = @_;
    my $tok = $t->jwt({ role => 'webuser', user => $u, n => $n, exp => time + 3600 }, $SECRET);
    $h{Authorization} = "Bearer $tok";
    my %args = (headers => \%h);
    if (defined $body) {
        $args{content} = ref $body ? $JSON->encode($body) : $body;
        $h{'Content-Type'} = 'application/json';
    }
    my $res = $http->request($method, "$base$path", \%args);
    my $json = eval { $JSON->decode($res->{content}) };
    return { status => $res->{status}, content => $res->{content}, json => $json };
}

# ---------------------------------------------------------------------------
# (a) prepared statements off: four clients in parallel, one user each

# one client: $rounds rounds of (whoami, read, write, read back, rpc write);
# returns the list of problems it saw and the backend pids it was served by
sub client {
    my ($u, $rounds) = @_;
    my $http = HTTP::Tiny->new(agent => $PgRestTest::UA, timeout => 30, keep_alive => 1);
    my (@bad, %pids, %counts);
    my $seq = 0;
    for my $i (1 .. $rounds) {
        my $n = "$u-" . (++$seq);
        my $r = call($http, $u, $n, 'GET', '/rpc/whoami');
        my $j = $r->{json};
        if ($r->{status} != 200 || ref $j ne 'HASH') {
            push @bad, "whoami $n: $r->{status} $r->{content}";
        } else {
            $pids{ $j->{pid} } = 1;
            push @bad, "whoami $n: claims $r->{content}"
                unless ref $j->{claims} eq 'HASH' && ($j->{claims}{n} // '') eq $n && ($j->{claims}{user} // '') eq $u;
            push @bad, "whoami $n: legacy claim $r->{content}" unless ($j->{legacy_user} // '') eq $u;
            push @bad, "whoami $n: role $r->{content}" unless ($j->{role} // '') eq 'webuser';
            push @bad, "whoami $n: named prepared statements on the server connection: $r->{content}"
                if $j->{prepared};
            push @bad, "whoami $n: LISTEN on the server connection: $r->{content}" if $j->{listening};
            $counts{whoami}++;
        }

        $n = "$u-" . (++$seq);
        $r = call($http, $u, $n, 'GET', '/notes?select=cuser,body');
        if ($r->{status} != 200 || ref $r->{json} ne 'ARRAY' || !@{ $r->{json} }) {
            push @bad, "read $n: $r->{status} $r->{content}";
        } elsif (my @other = grep { $_->{cuser} ne $u } @{ $r->{json} }) {
            push @bad, "read $n: rows of another user: " . $JSON->encode(\@other);
        } else {
            $counts{read}++;
        }

        $n = "$u-" . (++$seq);
        # every other write asks for a singular object: that transaction
        # stays open across two round trips (the row count decides)
        my @single = $i % 2 ? (Accept => 'application/vnd.pgrst.object+json') : ();
        $r = call($http, $u, $n, 'POST', '/notes', { body => "note $n" }, Prefer => 'return=representation', @single);
        my $row = ref $r->{json} eq 'ARRAY' ? $r->{json}[0] : ref $r->{json} eq 'HASH' && @single ? $r->{json} : undef;
        if ($r->{status} != 201 || !$row) {
            push @bad, "write $n: $r->{status} $r->{content}";
            next;
        }
        push @bad, "write $n: cuser $row->{cuser}" unless $row->{cuser} eq $u && $row->{body} eq "note $n";
        $counts{write}++;

        $n = "$u-" . (++$seq);
        $r = call($http, $u, $n, 'GET', "/notes?id=eq.$row->{id}&select=body");
        push @bad, "read back $n: $r->{status} $r->{content}"
            unless $r->{status} == 200 && $r->{content} eq qq([{"body":"$row->{body}"}]);
        my $other = $u eq 'u0' ? 'u1' : 'u0';
        $r = call($http, $other, "$other-x$seq", 'GET', "/notes?id=eq.$row->{id}");
        push @bad, "read ${u}'s row as $other: $r->{status} $r->{content}"
            unless $r->{status} == 200 && $r->{content} eq '[]';

        $n = "$u-" . (++$seq);
        $r = call($http, $u, $n, 'POST', '/rpc/add_note', { body => "rpc $n" }, Prefer => 'return=representation');
        if ($r->{status} != 200 || ref $r->{json} ne 'ARRAY' || ($r->{json}[0]{cuser} // '') ne $u) {
            push @bad, "rpc write $n: $r->{status} $r->{content}";
        } else {
            $counts{rpc}++;
        }
    }
    return { bad => \@bad, pids => [ sort keys %pids ], counts => \%counts };
}

# run client() for each user in a child process; results come back as JSON files
sub parallel {
    my ($rounds, @users) = @_;
    my %kids;
    for my $u (@users) {
        my $file = $t->tmpdir . "/client-$u.json";
        unlink $file;
        my $pid = fork // die "fork: $!";
        if ($pid == 0) {
            my $res = eval { client($u, $rounds) } // { bad => ["client died: $@"], pids => [], counts => {} };
            if (open my $fh, '>', $file) { print $fh $JSON->encode($res); close $fh }
            POSIX::_exit(0);
        }
        $kids{$u} = { pid => $pid, file => $file };
    }
    my $deadline = time + 300;
    my %out;
    for my $u (@users) {
        my $k = $kids{$u};
        for (1 .. 100_000) {
            last if waitpid($k->{pid}, WNOHANG) != 0;
            if (time > $deadline) { kill 'KILL', $k->{pid}; waitpid($k->{pid}, 0); last }
            sleep 0.05;
        }
        my $text = PgRestTest::_slurp($k->{file});
        $out{$u} = $text ? $JSON->decode($text) : { bad => ['no result (client hung?)'], pids => [], counts => {} };
    }
    return \%out;
}

# the authenticator's backends on the cluster, sampled while the load runs
my $sampler = fork // die "fork: $!";
if ($sampler == 0) {
    my $max = 0;
    my $end = time + 120;
    my $file = $t->tmpdir . '/max-backends';
    while (time < $end && !-e "$file.stop") {
        my $n = eval { $t->psql("SELECT count(*) FROM pg_stat_activity WHERE usename = 'authenticator'") } // 0;
        $n =~ s/\s+//g;
        $max = $n if $n =~ /^\d+$/ && $n > $max;
        if (open my $fh, '>', $file) { print $fh $max; close $fh }
        sleep 0.2;
    }
    POSIX::_exit(0);
}

my $ROUNDS = 25;
my @USERS = map { "u$_" } 0 .. 3;
my $res = parallel($ROUNDS, @USERS);
PgRestTest::_spew($t->tmpdir . '/max-backends.stop', '');
waitpid($sampler, 0);

my %all_pids;
for my $u (@USERS) {
    my $r = $res->{$u};
    is_deeply($r->{bad}, [], "$u: every answer shows only ${u}'s rows and claims")
        or diag(join("\n", @{ $r->{bad} }[0 .. ($#{ $r->{bad} } < 9 ? $#{ $r->{bad} } : 9)]));
    is($r->{counts}{$_} // 0, $ROUNDS, "$u: $ROUNDS ${_}s answered") for qw(whoami read write rpc);
    $all_pids{$_} = 1 for @{ $r->{pids} };
}
my $max_backends = PgRestTest::_slurp($t->tmpdir . '/max-backends') // 0;
cmp_ok($max_backends, '<=', 2, "at most two backends of the authenticator for $WORKERS workers (saw $max_backends)");
cmp_ok(scalar(keys %all_pids), '<=', 2, 'the requests ran on at most two server connections: ' . join(' ', sort keys %all_pids));
is(scalar(grep { PgRestTest::_alive($_) } $t->worker_pids), $WORKERS, 'every worker is alive');

# every row written went in with its writer's name
my $wrong = $t->psql("SELECT count(*) FROM api.notes WHERE body LIKE '% u_-%' AND body NOT LIKE '% ' || cuser || '-%'");
$wrong =~ s/\s+//g;
is($wrong, '0', 'every written row carries its writer as cuser');
my $written = $t->psql("SELECT count(*) FROM api.notes WHERE body NOT LIKE 'seed %'");
$written =~ s/\s+//g;
is($written, 2 * $ROUNDS * @USERS, 'every acknowledged write is in the table');

my $log = $t->log_contents;
like($log, qr/not listening on db-channel "pgrst": db-prepared-statements = false/,
     'the log says why NOTIFY is not listened for');
unlike($log, qr/prepared statement "/, 'no prepared statement error in the log');

# ---------------------------------------------------------------------------
# (b) prepared statements on behind the transaction pooler: a clear error

$t->stop_workers;
$cfg{'db-prepared-statements'} = JSON::PP::true;
my $mark = length $t->log_contents;
$t->start_workers(config => \%cfg, workers => $WORKERS);

# parallel clients until the first errors: with four workers on two server
# connections, statements prepared on one are soon missing on the other
sub client_b {
    my ($u, $max) = @_;
    my $http = HTTP::Tiny->new(agent => $PgRestTest::UA, timeout => 30, keep_alive => 1);
    my %seen;
    my @other;
    for my $i (1 .. $max) {
        my $r = call($http, $u, "$u-b$i", 'GET', $i % 2 ? '/rpc/whoami' : '/notes?select=cuser');
        if ($r->{status} == 200) {
            $seen{ok}++;
        } elsif ($r->{status} == 500 && ref $r->{json} eq 'HASH'
                 && ($r->{json}{message} // '') =~ /db-prepared-statements = false/
                 && ($r->{json}{message} // '') =~ /PgBouncer/
                 && ($r->{json}{message} // '') !~ /^prepared statement/
                 && ($r->{json}{code} // '') =~ /^(?:26000|42P05)$/) {
            $seen{clear}++;
            $seen{example} //= $r->{content};
        } else {
            push @other, "$r->{status} $r->{content}";
        }
        last if ($seen{clear} // 0) >= 3 && $i >= 40;
    }
    return { bad => \@other, counts => \%seen, pids => [] };
}
{
    no warnings 'redefine';
    *client = \&client_b;
}
$res = parallel(150, @USERS);
my ($clear, $ok) = (0, 0);
my $example;
for my $u (@USERS) {
    my $r = $res->{$u};
    is_deeply($r->{bad}, [], "$u: only 200 or the clear 500") or diag(join("\n", @{ $r->{bad} }[0 .. 4]));
    $clear += $r->{counts}{clear} // 0;
    $ok += $r->{counts}{ok} // 0;
    $example //= $r->{counts}{example};
}
cmp_ok($clear, '>', 0, "the clear error was answered ($clear times, $ok answers 200)");
note("example: $example") if $example;
my $j = eval { $JSON->decode($example // '{}') } // {};
like($j->{details} // '', qr/prepared statement "pgr_[0-9a-f]{8}_\d+" (?:does not exist|already exists)/,
     "PostgreSQL's words are in details");
like($j->{hint} // '', qr/pool_mode = transaction/, 'the hint names pool_mode = transaction');
$log = substr($t->log_contents, $mark);
my @lines = grep { /lost this worker's prepared statements/ } split /\n/, $log;
ok(@lines >= 1 && @lines <= $WORKERS, 'one explaining log line per worker at most (' . scalar(@lines) . ')');
like($lines[0] // '', qr/set db-prepared-statements = false/, 'it says what to set');
is(scalar(grep { PgRestTest::_alive($_) } $t->worker_pids), $WORKERS, 'every worker is alive');

# the worker is usable afterwards: a statement cache emptied on the error,
# and requests that land on its server connection succeed
my $http = HTTP::Tiny->new(agent => $PgRestTest::UA, timeout => 30);
my $later = 0;
for my $i (1 .. 20) {
    my $r = call($http, 'u1', "u1-c$i", 'GET', '/rpc/whoami');
    $later++ if $r->{status} == 200;
}
cmp_ok($later, '>', 0, "requests still succeed afterwards ($later of 20)");

# a --enable-sanitizers build writes its reports (leaks at exit included)
# into the harness's log directory
$t->stop_workers;
is($t->sanitizer_reports, '', 'no AddressSanitizer/UBSan reports from the workers');

done_testing();
