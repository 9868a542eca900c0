# 168_fcgi_wire.t — the worker writes nothing but FastCGI records to its
# socket, and odd or broken FastCGI peers do not kill it.
#
# A FastCGI client written here (records packed by hand, over the unix
# socket of a worker started by spawn-fcgi, no web server in between)
# sends requests with log-level = debug, so that the worker logs while it
# answers: a read, a write with a body in several STDIN records, error
# answers (400, 404, 405), a large answer (several MB, many STDOUT
# records), two requests on one kept connection (FCGI_KEEP_CONN) and a
# second BEGIN_REQUEST while one is open (multiplexing, refused by
# libfcgi).  Every byte that comes back is parsed as FastCGI records:
# version 1, the request's id, types STDOUT and END_REQUEST only (STDERR
# records are counted and must be none: pg_rest logs to its log file, never
# into the FastCGI stream), one complete END_REQUEST with protocolStatus
# REQUEST_COMPLETE last, no bytes left over.  Management records
# (requestId 0): FCGI_GET_VALUES is answered with GET_VALUES_RESULT, an
# unknown management type with UNKNOWN_TYPE, and the worker serves the
# request that follows on the same connection.
#
# Broken peers, each followed by a check that the same worker is alive
# and answers: a connection closed at once, a truncated record header, a
# truncated PARAMS record, a body shorter than CONTENT_LENGTH, a bad
# version byte, ABORT_REQUEST in the middle of a request, a client that
# hangs up in the middle of a large answer (the worker's write fails with
# EPIPE: SIGPIPE must not kill it) and one that stops reading (it must
# not be stuck forever either: when the client finally closes, the
# worker goes on).
#
# Last, the same worker started with its standard output and error closed
# (spawn-fcgi -n from a supervisor that closed them): the descriptors it
# then opens (log file, database connection, FastCGI connections) must not
# become fd 1 or 2, or its log lines would be written into them.
use strict;
use warnings;
no warnings qw(exec);    # exec in a child is followed by _exit on purpose

use FindBin;
use lib "$FindBin::Bin/lib";

use IO::Select;
use IO::Socket::UNIX;
use JSON::PP;
use POSIX qw(WNOHANG _exit);
use Socket qw(SOCK_STREAM);
use Test::More;
use Time::HiRes qw(time sleep);
use PgRestTest;

PgRestTest::skip_unless_ready();

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
CREATE TABLE api.items (id int PRIMARY KEY, name text NOT NULL);
INSERT INTO api.items SELECT g, 'item ' || g FROM generate_series(1, 20) g;
GRANT SELECT, INSERT, UPDATE, DELETE ON api.items TO anon;
CREATE FUNCTION api.big(n int) RETURNS TABLE (id int, pad text) LANGUAGE sql STABLE
    AS $$ SELECT g, repeat('x', 1000) FROM generate_series(1, n) g $$;
SQL

my %cfg = (
    'db-uri'       => $t->db_uri(user => 'authenticator', db => 'postgres'),
    'db-schemas'   => 'api',
    'db-anon-role' => 'anon',
    'log-level'    => 'debug',
);
$t->start_workers(config => \%cfg, workers => 1);
my ($W) = $t->worker_pids;
our $SOCK = $t->socket;
my $JSON = JSON::PP->new->canonical(1);

my %STATS = (connections => 0, records => 0, bytes => 0, stdout => 0, stderr => 0,
             end_request => 0, mgmt => 0);

# ---------------------------------------------------------------------------
# FastCGI records

use constant +{
    BEGIN_REQUEST => 1, ABORT_REQUEST => 2, END_REQUEST => 3, PARAMS => 4, FCGI_STDIN => 5,
    FCGI_STDOUT => 6, FCGI_STDERR => 7, DATA => 8, GET_VALUES => 9, GET_VALUES_RESULT => 10,
    UNKNOWN_TYPE => 11,
};

sub rec {
    my ($type, $id, $content, %o) = @_;
    my $len = length $content;
    my $pad = (8 - $len % 8) % 8;
    return pack('CCnnCC', $o{version} // 1, $type, $id, $len, $pad, 0) . $content . ("\0" x $pad);
}

sub nv {
    my ($n, $v) = @_;
    my $l = sub { my $x = length $_[0]; $x < 128 ? pack('C', $x) : pack('N', $x | 0x80000000) };
    return $l->($n) . $l->($v) . $n . $v;
}

sub params_for {
    my ($method, $uri, %extra) = @_;
    my ($path, $qs) = split /\?/, $uri, 2;
    my %p = (REQUEST_METHOD => $method, SCRIPT_NAME => $path, REQUEST_URI => $uri,
             QUERY_STRING => $qs // '', SERVER_PROTOCOL => 'HTTP/1.1', SERVER_NAME => 'localhost',
             SERVER_PORT => '80', HTTP_HOST => 'localhost', REMOTE_ADDR => '127.0.0.1', %extra);
    delete @p{ grep { !defined $p{$_} } keys %p };
    return join '', map { nv($_, $p{$_}) } sort keys %p;
}

# the records of one request: BEGIN_REQUEST, PARAMS (in pieces of at most
# 1000 bytes), an empty PARAMS, STDIN in pieces of 4000 bytes and the empty
# STDIN that ends it
sub request_bytes {
    my ($id, $method, $uri, %o) = @_;
    my $body = $o{body} // '';
    my %extra = %{ $o{params} || {} };
    if (length $body) {
        $extra{CONTENT_LENGTH} //= length $body;
        $extra{CONTENT_TYPE} //= 'application/json';
    }
    my $p = params_for($method, $uri, %extra);
    my $out = rec(BEGIN_REQUEST, $id, pack('nCx5', 1, $o{keep} ? 1 : 0));
    for (my $i = 0; $i < length $p; $i += 1000) { $out .= rec(PARAMS, $id, substr($p, $i, 1000)) }
    $out .= rec(PARAMS, $id, '');
    for (my $i = 0; $i < length $body; $i += 4000) { $out .= rec(FCGI_STDIN, $id, substr($body, $i, 4000)) }
    $out .= rec(FCGI_STDIN, $id, '') unless $o{no_stdin_end};
    return $out;
}

sub connect_worker {
    my ($path) = @_;
    # the socket file appears at bind(), before listen(): retry a refusal
    # for a while (a worker that has just been started)
    my $s;
    for (1 .. 100) {
        $s = IO::Socket::UNIX->new(Peer => $path // $SOCK, Type => SOCK_STREAM) and last;
        sleep 0.05;
    }
    $s or die "connect $SOCK: $!\n";
    $STATS{connections}++;
    return $s;
}

sub send_all {
    my ($s, $bytes) = @_;
    for (my $off = 0; $off < length $bytes;) {
        my $n = syswrite($s, $bytes, length($bytes) - $off, $off);
        return 0 unless $n;
        $off += $n;
    }
    return 1;
}

# reads until EOF, until $o{until}->(\@records) is true, or the timeout;
# returns { buf => raw bytes, eof => 0/1 }
sub read_some {
    my ($s, %o) = @_;
    my $deadline = time + ($o{timeout} // 30);
    my $sel = IO::Select->new($s);
    my ($buf, $eof) = ('', 0);
    while ((my $left = $deadline - time) > 0) {
        last if $o{until} && $o{until}->($buf);
        next unless $sel->can_read($left < 1 ? $left : 1);
        my $n = sysread($s, my $chunk, 1 << 16);
        if (!$n) { $eof = 1; last }
        $buf .= $chunk;
    }
    return { buf => $buf, eof => $eof };
}

# Every byte as records.  Returns { records => [...], problems => [...],
# stdout => text, stderr => text, end => {app, proto} of each request id }
sub parse_records {
    my ($buf, %o) = @_;
    my %allowed = map { $_ => 1 } @{ $o{types} // [ FCGI_STDOUT, END_REQUEST ] };
    my (@recs, @problems, %stdout, %stderr, %end);
    my $pos = 0;
    while ($pos < length $buf) {
        if (length($buf) - $pos < 8) {
            push @problems, sprintf('%d bytes left over after the last record: %s',
                                    length($buf) - $pos, unpack('H*', substr($buf, $pos, 16)));
            last;
        }
        my ($v, $type, $id, $len, $pad, $res) = unpack('CCnnCC', substr($buf, $pos, 8));
        if ($v != 1) {
            push @problems, "version $v at byte $pos (" . unpack('H*', substr($buf, $pos, 16)) . ') '
                . 'text: ' . substr($buf, $pos, 60);
            last;
        }
        if (length($buf) - $pos < 8 + $len + $pad) {
            push @problems, "truncated record (type $type, $len+$pad bytes announced) at byte $pos";
            last;
        }
        my $content = substr($buf, $pos + 8, $len);
        $pos += 8 + $len + $pad;
        push @recs, { type => $type, id => $id, len => $len, content => $content };
        $STATS{records}++;
        $STATS{bytes} += 8 + $len + $pad;
        push @problems, "record type $type (id $id) not expected" unless $allowed{$type};
        push @problems, "record after END_REQUEST of id $id" if $end{$id} && $id;
        if ($type == FCGI_STDOUT) { $stdout{$id} .= $content; $STATS{stdout}++ }
        if ($type == FCGI_STDERR) { $stderr{$id} .= $content; $STATS{stderr}++ }
        if ($type == END_REQUEST) {
            $STATS{end_request}++;
            if ($len != 8) { push @problems, "END_REQUEST of $len bytes"; next }
            my ($app, $proto) = unpack('NC', $content);
            $end{$id} = { app => $app, proto => $proto };
        }
        $STATS{mgmt}++ if $id == 0;
    }
    return { records => \@recs, problems => \@problems, stdout => \%stdout, stderr => \%stderr,
             end => \%end };
}

# the HTTP answer in a STDOUT stream
sub http_of {
    my ($text) = @_;
    $text //= '';
    my ($head, $body) = split /\r\n\r\n/, $text, 2;
    my %h;
    for (split /\r\n/, $head // '') { $h{ lc $1 } = $2 if /^([^:]+):\s*(.*)$/ }
    my ($status) = ($h{status} // '200') =~ /^(\d+)/;
    my $json = (defined $body && length $body) ? eval { JSON::PP->new->utf8->allow_nonref->decode($body) } : undef;
    return { status => $status, headers => \%h, body => $body // '', json => $json };
}

# one request on a fresh connection (no keep-alive): every byte until EOF
# must be records of request $id, ending with a complete END_REQUEST
sub exchange {
    my ($name, $method, $uri, %o) = @_;
    my $id = $o{id} // 1;
    my $s = connect_worker();
    send_all($s, ($o{prefix} // '') . request_bytes($id, $method, $uri, %o)) or die "send: $!";
    my $r = read_some($s, timeout => 60);
    close $s;
    my $p = parse_records($r->{buf}, types => $o{types});
    my $e = $p->{end}{$id};
    is(join("\n", @{ $p->{problems} }), '', "$name: every byte is a valid FastCGI record");
    ok($r->{eof}, "$name: the worker closed the connection (no FCGI_KEEP_CONN)");
    ok($e && $e->{proto} == 0, "$name: a complete END_REQUEST, REQUEST_COMPLETE")
        or diag(explain($p->{end}));
    is(($p->{records}[-1] || {})->{type}, END_REQUEST, "$name: END_REQUEST is the last record");
    is($p->{stderr}{$id} // '', '', "$name: no STDERR records");
    my $h = http_of($p->{stdout}{$id});
    is($h->{status}, $o{status}, "$name: HTTP status $o{status}") if $o{status};
    return ($h, $p);
}

sub alive { my $pid = shift // $W; return PgRestTest::_alive($pid) }

sub still_serving {
    my ($name) = @_;
    ok(alive(), "$name: the worker is alive");
    my ($h) = exchange("$name, then a request", 'GET', '/items?id=eq.3&select=id,name', status => 200);
    is_deeply($h->{json}, [ { id => 3, name => 'item 3' } ], "$name: the next request is answered right");
}

# ---------------------------------------------------------------------------
# 1. well-formed requests

{
    my ($h) = exchange('GET /items', 'GET', '/items?id=lte.2&order=id', status => 200);
    is_deeply($h->{json}, [ { id => 1, name => 'item 1' }, { id => 2, name => 'item 2' } ], 'GET /items: the rows');
    like($h->{headers}{'content-type'} // '', qr{^application/json}, 'GET /items: Content-Type');

    my $body = $JSON->encode([ map { { id => 100 + $_, name => 'n' x 50 . " $_" } } 1 .. 200 ]);
    cmp_ok(length $body, '>', 8000, 'the write body spans several STDIN records');
    ($h) = exchange('POST return=representation', 'POST', '/items?select=id',
                    body => $body, params => { HTTP_PREFER => 'return=representation' }, status => 201);
    is(ref $h->{json} eq 'ARRAY' ? scalar @{ $h->{json} } : -1, 200, 'POST: 200 rows come back');

    my $j;
    ($h) = exchange('400 parse error', 'GET', '/items?id=eq', status => 400);
    is($h->{json}{code}, 'PGRST100', '400: PGRST100');
    ($h) = exchange('404 no such table', 'GET', '/nosuchtable', status => 404);
    like($h->{json}{code} // '', qr/\A(?:42P01|PGRST205)\z/, '404: 42P01 (PostgREST v12) or PGRST205');
    ($h) = exchange('405 unknown method', 'BREW', '/items', status => 405);
    ($h) = exchange('409 duplicate key', 'POST', '/items', body => '{"id":1,"name":"dup"}', status => 409);
    is($h->{json}{code}, '23505', '409: 23505');
    ($h) = exchange('400 bad JSON body', 'POST', '/items', body => '{"id":', status => 400);
    is($h->{json}{code}, 'PGRST102', 'bad JSON: PGRST102');

    my $p;
    ($h, $p) = exchange('large answer', 'GET', '/rpc/big?n=4000', status => 200);
    is(ref $h->{json} eq 'ARRAY' ? scalar @{ $h->{json} } : -1, 4000, 'large answer: all 4000 rows, valid JSON');
    my $n_out = grep { $_->{type} == FCGI_STDOUT } @{ $p->{records} };
    cmp_ok($n_out, '>', 50, "large answer: in many STDOUT records ($n_out)");
    like($t->log_contents, qr/PGRST100|PGRST205/, 'the worker logged the error answers meanwhile (log-level debug)');
}

# ---------------------------------------------------------------------------
# 2. a kept connection, multiplexing refused, management records

{
    my $s = connect_worker();
    my @got;
    for my $id (7, 8) {
        send_all($s, request_bytes($id, 'GET', "/items?id=eq.$id&select=id", keep => 1)) or die "send: $!";
        my $r = read_some($s, timeout => 30,
                          until => sub { my $p = parse_records($_[0]); $p->{end}{$id} });
        my $p = parse_records($r->{buf});
        is(join("\n", @{ $p->{problems} }), '', "kept connection, request id $id: valid records");
        ok($p->{end}{$id}, "kept connection, request id $id: END_REQUEST");
        ok(!$r->{eof}, "kept connection, request id $id: the connection stays open");
        is_deeply(http_of($p->{stdout}{$id})->{json}, [ { id => $id } ], "kept connection, request id $id: its answer");
        is_deeply([ map { $_->{id} } @{ $p->{records} } ], [ ($id) x @{ $p->{records} } ],
                  "kept connection, request id $id: every record carries id $id");
    }
    close $s;
    ok(alive(), 'kept connection closed by the client: the worker is alive');

    # a second BEGIN_REQUEST while request 1 is still reading its params
    $s = connect_worker();
    my $bytes = rec(BEGIN_REQUEST, 1, pack('nCx5', 1, 0))
              . rec(BEGIN_REQUEST, 2, pack('nCx5', 1, 0))
              . substr(request_bytes(1, 'GET', '/items?id=eq.1&select=id'), 16);
    send_all($s, $bytes);
    my $r = read_some($s, timeout => 30);
    close $s;
    my $p = parse_records($r->{buf});
    is(join("\n", @{ $p->{problems} }), '', 'multiplexed BEGIN_REQUEST: valid records');
    is(($p->{end}{2} || {})->{proto}, 1, 'multiplexed BEGIN_REQUEST: request 2 refused with FCGI_CANT_MPX_CONN');
    is_deeply(http_of($p->{stdout}{1})->{json}, [ { id => 1 } ], 'multiplexed BEGIN_REQUEST: request 1 is answered');

    # FCGI_GET_VALUES and an unknown management record (empty: libfcgi 2.4
    # answers UNKNOWN_TYPE but does not skip such a record's content, see
    # below) before a request
    my $q = nv('FCGI_MAX_CONNS', '') . nv('FCGI_MAX_REQS', '') . nv('FCGI_MPXS_CONNS', '');
    $s = connect_worker();
    send_all($s, rec(GET_VALUES, 0, $q) . rec(77, 0, '')
                 . request_bytes(1, 'GET', '/items?id=eq.2&select=id'));
    $r = read_some($s, timeout => 30);
    close $s;
    $p = parse_records($r->{buf}, types => [ FCGI_STDOUT, END_REQUEST, GET_VALUES_RESULT, UNKNOWN_TYPE ]);
    is(join("\n", @{ $p->{problems} }), '', 'GET_VALUES: valid records');
    my ($gv) = grep { $_->{type} == GET_VALUES_RESULT } @{ $p->{records} };
    ok($gv && $gv->{id} == 0, 'GET_VALUES: answered with GET_VALUES_RESULT on request id 0');
    like($gv ? $gv->{content} : '', qr/FCGI_MPXS_CONNS/, 'GET_VALUES: FCGI_MPXS_CONNS in the result');
    my ($ut) = grep { $_->{type} == UNKNOWN_TYPE } @{ $p->{records} };
    ok($ut && substr($ut->{content}, 0, 1) eq chr(77), 'unknown management type: UNKNOWN_TYPE naming it');
    is_deeply(http_of($p->{stdout}{1})->{json}, [ { id => 2 } ],
              'management records: the request that followed is answered');

    # an unknown management record with content: libfcgi answers UNKNOWN_TYPE,
    # then reads the content as the next record header and drops the
    # connection (a libfcgi limitation: no web server sends these); the
    # worker must survive it
    $s = connect_worker();
    send_all($s, rec(77, 0, 'x' x 8) . request_bytes(1, 'GET', '/items?id=eq.2&select=id'));
    $r = read_some($s, timeout => 10);
    close $s;
    $p = parse_records($r->{buf}, types => [ FCGI_STDOUT, END_REQUEST, UNKNOWN_TYPE ]);
    is(join("\n", @{ $p->{problems} }), '', 'unknown management record with content: valid records');
    still_serving('unknown management record with content');

    # GET_VALUES alone, then the client goes away
    $s = connect_worker();
    send_all($s, rec(GET_VALUES, 0, $q));
    read_some($s, timeout => 3, until => sub { length $_[0] >= 8 });
    close $s;
    still_serving('GET_VALUES alone');
}

# ---------------------------------------------------------------------------
# 3. broken peers

sub hangup_after {
    my ($name, $bytes, %o) = @_;
    my $s = connect_worker();
    send_all($s, $bytes) if length $bytes;
    if ($o{read}) { read_some($s, timeout => $o{read}) }
    close $s;
    sleep($o{settle} // 0.2);
    still_serving($name);
}

{
    my $req = request_bytes(1, 'GET', '/items?id=eq.1');
    hangup_after('connection closed at once', '');
    hangup_after('truncated record header', substr($req, 0, 5));
    hangup_after('BEGIN_REQUEST only', substr($req, 0, 16));
    my $params = rec(PARAMS, 1, 'x' x 200);
    hangup_after('truncated PARAMS record', substr($req, 0, 16) . substr($params, 0, 60));
    my $body = '{"id":999,"name":"' . ('y' x 5000) . '"}';
    my $full = request_bytes(1, 'POST', '/items', body => $body, no_stdin_end => 1);
    hangup_after('body shorter than CONTENT_LENGTH', substr($full, 0, length($full) - 3000));
    is($t->psql('SELECT count(*) FROM api.items WHERE id = 999'), "0\n", 'the half body was not inserted');
    hangup_after('bad version byte', rec(BEGIN_REQUEST, 1, pack('nCx5', 1, 0), version => 9) . $req, read => 3);
    hangup_after('ABORT_REQUEST after the params',
                 substr(request_bytes(1, 'POST', '/items', body => '{"id":998,"name":"a"}', no_stdin_end => 1), 0, -32)
                 . rec(ABORT_REQUEST, 1, ''), read => 3);
    hangup_after('garbage instead of records', "GET / HTTP/1.1\r\nHost: x\r\n\r\n", read => 3);

    # hang up in the middle of a large answer: the worker's writes fail (EPIPE)
    for my $i (1 .. 3) {
        my $s = connect_worker();
        send_all($s, request_bytes(1, 'GET', '/rpc/big?n=4000'));
        read_some($s, timeout => 10, until => sub { length $_[0] > 20000 * $i });
        close $s;
    }
    sleep 0.5;
    still_serving('hang-ups in the middle of a large answer');

    # a client that stops reading: the worker blocks on its write, and goes on
    # once the client closes
    my $s = connect_worker();
    send_all($s, request_bytes(1, 'GET', '/rpc/big?n=6000'));
    sleep 2;
    ok(alive(), 'a client that does not read: the worker is alive (blocked on its write)');
    close $s;
    sleep 0.3;
    still_serving('a client that stopped reading, then closed');
}

unlike($t->log_contents, qr/\bFATAL\b|CRIT/, 'no fatal errors in the worker log');
my $log_lines = () = $t->log_contents =~ /\n/g;
$t->stop_workers;

# ---------------------------------------------------------------------------
# 4. standard output and error closed: log lines must not reach the sockets

SKIP: {
    my $spawn = PgRestTest::_which('spawn-fcgi') or skip 'spawn-fcgi missing', 1;
    my $sock = $t->tmpdir . '/closed-fds.sock';
    my $conf = $t->write_config(\%cfg, $t->tmpdir . '/closed-fds.conf');
    my $bin = $t->_worker_bin;
    for my $with_log (0, 1) {
        unlink $sock;
        my $label = $with_log ? 'fds 1 and 2 closed, PG_REST_LOG set' : 'fds 1 and 2 closed, no log file';
        my $pid = fork // die "fork: $!";
        if ($pid == 0) {
            delete $ENV{$_} for grep { /^PGRST_|^PG(?:HOST|PORT|USER|DATABASE|PASSWORD|OPTIONS)$/ } keys %ENV;
            if ($with_log) { $ENV{PG_REST_LOG} = $t->tmpdir . '/pg_rest.log' } else { delete $ENV{PG_REST_LOG} }
            open STDIN, '<', '/dev/null';
            POSIX::close(1);
            POSIX::close(2);
            my @u = $> == 0 ? ('-u', 'nobody', '-g', (getgrnam('nogroup') ? 'nogroup' : 'nobody')) : ();
            exec $spawn, '-n', '-s', $sock, '-M', '0666', @u, '--', $bin, $conf;
            _exit(127);
        }
        # the harness stops it at cleanup even if this test dies first
        $t->{worker_groups}{closedfds} = { pids => [ $pid ], addr => $sock, pidfile => "$sock.pid" };
        my $up = 0;
        for (1 .. 200) { if (-S $sock) { $up = 1; last } last unless alive($pid); sleep 0.05 }
        ok($up, "$label: the worker listens") or next;
        $W = $pid;
        local $SOCK = $sock;
        for my $round (1 .. 3) {
            exchange("$label, 404 (logged)", 'GET', '/nosuchtable', status => 404);
            exchange("$label, 400 (logged)", 'GET', '/items?id=eq', status => 400);
            my ($h) = exchange("$label, GET", 'GET', '/items?id=eq.5&select=id', status => 200);
            is_deeply($h->{json}, [ { id => 5 } ], "$label: the answer is right (round $round)");
        }
        ok(alive($pid), "$label: the worker is alive");
        my $fds = join ' ', map { my $l = readlink($_) // ''; m{/(\d+)\z}; "$1=$l" } sort glob("/proc/$pid/fd/*");
        for my $fd (1, 2) {
            is(readlink("/proc/$pid/fd/$fd") // 'closed', '/dev/null', "$label: fd $fd is /dev/null ($fds)");
        }
        $t->stop_workers(group => 'closedfds');
    }
}

diag(sprintf('%d connections, %d records parsed (%d bytes): %d STDOUT, %d STDERR, %d END_REQUEST, '
             . '%d management; worker log %d lines; %.1f s',
             @STATS{qw(connections records bytes stdout stderr end_request mgmt)}, $log_lines, time - $T0));
# --enable-sanitizers builds: libfcgi 2.4.2 leaks in ProcessManagementRecord,
# which allocates NewParams(3) first and frees it only on the GET_VALUES
# branch: every management record of another type (UNKNOWN_TYPE answer)
# loses 24 + 24 bytes.  This test sends two such records on purpose, so
# LeakSanitizer reports blocks whose frames are all in libfcgi; those
# (and only those) are allowed here.  Everything else must be clean.
my ($reports, @fcgi_leaks) = ($t->sanitizer_reports);
for my $block (split /\n\s*\n/, $reports) {
    my ($bytes) = $block =~ /^(?:Direct|Indirect) leak of (\d+) byte/m or next;
    my @frames = grep { !/__interceptor_|asan_malloc/ } $block =~ /^\s*#\d+ (.*)$/mg;
    next unless @frames && !grep { !/libfcgi\.so/ } @frames;
    push @fcgi_leaks, $bytes;
    $reports =~ s/\Q$block\E//;
}
$reports =~ s/^==\d+==ERROR: LeakSanitizer: detected memory leaks\s*$//mg if @fcgi_leaks;
$reports =~ s/^SUMMARY: AddressSanitizer: \d+ byte\(s\) leaked in \d+ allocation\(s\)\.\s*$//mg if @fcgi_leaks;
$reports =~ s/^==> \S+\n(?:[=\s]*\n)*//mg;
$reports =~ s/\A\s+\z//;
is($reports, '', 'no AddressSanitizer/UBSan reports from the workers (but libfcgi\'s own management-record leak)');
diag('libfcgi leaked ' . join(' + ', @fcgi_leaks) . ' bytes in ProcessManagementRecord (unknown management records)')
    if @fcgi_leaks;
done_testing();
