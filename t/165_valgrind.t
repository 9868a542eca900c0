# 165_valgrind.t — a worker under valgrind memcheck, over a smoke subset of
# the API, to its exit by SIGTERM.
#
# One worker runs as `valgrind --tool=memcheck --leak-check=full
# --errors-for-leak-kinds=definite,indirect --track-origins=yes`, spawned
# by spawn-fcgi (PgRestTest::start_workers_wrapped), behind nginx.  It
# serves, twice (before and after the reloads): reads with filters, order,
# limit, Range, count=exact and embedding (to-one and to-many), the
# singular object and CSV media types, a write with return=representation,
# an upsert (merge-duplicates, on_conflict), PATCH and DELETE, RPC by GET
# and POST, the OpenAPI root, requests with a valid HS256 token (so the JWT
# cache is filled and hit) and the error paths 400 (filter parse error,
# bad JSON), 401 (bad signature, malformed token, expired), 404 (no such
# table, no such function) and 405.  In between: NOTIFY pgrst, 'reload
# schema' (a new table becomes visible), NOTIFY pgrst, 'reload config',
# SIGUSR1 and SIGHUP.  Then SIGTERM: the worker finishes and exits, and
# valgrind's leak check runs.
#
# A second worker under valgrind then verifies public-key tokens: a JWK Set
# (RSA + EC) from a file, RS256/PS256/ES256 good and bad, unknown kid,
# HS256 signed with the key text; SIGHUP with the file rewritten as a
# certificate + PKCS#1 key (old keys freed, new ones parsed); SIGTERM.
#
# Each log must say "ERROR SUMMARY: 0 errors" (with the flags above that
# counts invalid reads/writes, uses of uninitialised values, bad frees and
# definite/indirect leaks) and "definitely lost: 0" / "indirectly lost: 0"
# (or "no leaks are possible").  t/valgrind.supp holds the suppressions,
# each for library memory kept for the life of the process, with why.
#
# Note: per-request memory comes from pg_rest's arena (src/arena.c), whose
# 64 KiB chunks are single malloc blocks: memcheck sees an overrun that
# stays inside a chunk only in a -DPGR_ARENA_MALLOC_EACH build (make fuzz).
use strict;
use warnings;
no warnings qw(exec);    # exec in a child is followed by _exit on purpose

use FindBin;
use lib "$FindBin::Bin/lib";

use File::Copy qw(copy);
use File::Path qw(make_path);
use JSON::PP;
use POSIX ();
use Test::More;
use Time::HiRes qw(time sleep);
use PgRestTest;

PgRestTest::skip_unless_ready();
plan skip_all => 'valgrind cannot run an AddressSanitizer build (--enable-sanitizers); the sanitizers check this build themselves'
    if PgRestTest::bin_sanitized();
my $VALGRIND = PgRestTest::_which('valgrind');
plan skip_all => 'valgrind is not installed (Debian package valgrind)' unless $VALGRIND;

my $T0 = time;
my $SECRET = 'a-valgrind-test-secret-of-at-least-32-chars';
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
CREATE TABLE api.projects (id int PRIMARY KEY, name text NOT NULL,
                           client_id int REFERENCES api.clients(id));
CREATE TABLE api.items (id serial PRIMARY KEY, name text UNIQUE NOT NULL, qty int DEFAULT 0);
CREATE TABLE api.secrets (id int PRIMARY KEY, note text);
INSERT INTO api.clients VALUES (1, 'Microsoft'), (2, 'Apple'), (3, 'Nokia');
INSERT INTO api.projects VALUES (1, 'Windows 7', 1), (2, 'Windows 10', 1), (3, 'IOS', 2),
                                (4, 'OSX', 2), (5, 'Orphan', NULL);
INSERT INTO api.secrets VALUES (1, 'for webuser only');
GRANT SELECT ON api.clients, api.projects TO anon, webuser;
GRANT SELECT, INSERT, UPDATE, DELETE ON api.items TO anon, webuser;
GRANT USAGE ON SEQUENCE api.items_id_seq TO anon, webuser;
GRANT SELECT ON api.secrets TO webuser;
CREATE FUNCTION api.add(a int, b int) RETURNS int LANGUAGE sql IMMUTABLE AS $$ SELECT a + b $$;
CREATE FUNCTION api.client_projects(cid int) RETURNS SETOF api.projects LANGUAGE sql STABLE
    AS $$ SELECT * FROM api.projects WHERE client_id = cid $$;
CREATE FUNCTION api.whoami() RETURNS json LANGUAGE sql STABLE
    AS $$ SELECT json_build_object('role', current_user,
                                   'user', current_setting('request.jwt.claim.user', true)) $$;
SQL

my %cfg = (
    'db-uri'         => $t->db_uri(user => 'authenticator', db => 'postgres'),
    'db-schemas'     => 'api',
    'db-anon-role'   => 'anon',
    'jwt-secret'     => $SECRET,
    'jwt-optional'   => JSON::PP::true,
    'db-max-rows'    => 1000,
    'log-level'      => 'info',
);

# valgrind's logs and the suppressions, where the worker (nobody) can read
# and write them
my $VG = $t->tmpdir . '/valgrind';
make_path($VG);
chmod 01777, $VG;
copy("$FindBin::Bin/valgrind.supp", "$VG/valgrind.supp") or die "copy valgrind.supp: $!";
chmod 0644, "$VG/valgrind.supp";
my @VALGRIND = ($VALGRIND, '--tool=memcheck', '--leak-check=full',
                '--show-leak-kinds=definite,indirect', '--errors-for-leak-kinds=definite,indirect',
                '--track-origins=yes', '--num-callers=30', '--error-exitcode=99',
                "--suppressions=$VG/valgrind.supp", "--log-file=$VG/memcheck.%p.log");

$t->start_workers_wrapped(wrapper => \@VALGRIND, config => \%cfg, workers => 1);
my ($W) = $t->worker_pids;
$t->start_nginx(prefix => '/');

# the first request waits for valgrind's start and the schema load
my $r;
for (1 .. 60) {
    $r = $t->get('/clients?id=eq.1');
    last if $r->{status} == 200;
    sleep 0.5;
}
is($r->{status}, 200, 'the worker under valgrind answers');
my $vglog = "$VG/memcheck.$W.log";
ok(-s $vglog, "valgrind logs to $vglog (the spawned pid is valgrind's)");

my $TOKEN   = $t->jwt({ role => 'webuser', user => 'alice', exp => time + 3600 }, $SECRET);
my $EXPIRED = $t->jwt({ role => 'webuser', exp => time - 3600 }, $SECRET);
my $WRONG   = $t->jwt({ role => 'webuser' }, 'another-secret-of-at-least-32-characters');
my $N = 0;

sub req {
    my ($name, $method, $path, $status, %o) = @_;
    my %h = %{ $o{headers} || {} };
    $h{'Content-Type'} //= 'application/json' if defined $o{body};
    my $res = $t->request($method, $path, headers => \%h,
                          (defined $o{body} ? (body => ref $o{body} ? encode_json($o{body}) : $o{body}) : ()));
    $N++;
    is($res->{status}, $status, "$name: $status") or diag("$method $path: $res->{content}");
    return $res;
}

sub smoke {
    my ($round) = @_;
    my $p = "round $round";
    my $res = req("$p: to-many embed, filter, order", 'GET',
                  '/clients?select=id,name,projects(id,name)&id=in.(1,2)&order=id.desc&projects.order=id', 200);
    is($res->{json}[0]{projects}[0]{name}, 'IOS', "$p: embedded rows");
    $res = req("$p: to-one embed, like, limit, count", 'GET',
               '/projects?select=id,name,client:clients(name)&name=like.*s*&order=id&limit=2',
               200, headers => { Prefer => 'count=exact' });
    like($res->{headers}{'content-range'} // '', qr{^0-1/\d+$}, "$p: Content-Range with the count");
    req("$p: Range header, or=, not.is", 'GET', '/projects?or=(id.eq.1,client_id.not.is.null)&select=id',
        206, headers => { Range => '0-1', Prefer => 'count=exact' });
    req("$p: singular object", 'GET', '/clients?id=eq.3', 200,
        headers => { Accept => 'application/vnd.pgrst.object+json' });
    $res = req("$p: CSV", 'GET', '/projects?select=id,name&order=id', 200, headers => { Accept => 'text/csv' });
    like($res->{content}, qr/^id,name\n1,"Windows 7"\n/, "$p: CSV body");

    $res = req("$p: POST return=representation", 'POST', '/items?select=id,name,qty',
               201, body => [ { name => "pen $round", qty => 1 }, { name => "ink $round", qty => 2 } ],
               headers => { Prefer => 'return=representation' });
    is(ref $res->{json} eq 'ARRAY' ? scalar @{ $res->{json} } : -1, 2, "$p: both rows back");
    $res = req("$p: upsert merge-duplicates", 'POST', '/items?on_conflict=name&select=name,qty',
               201, body => [ { name => "pen $round", qty => 10 }, { name => "cap $round", qty => 3 } ],
               headers => { Prefer => 'return=representation, resolution=merge-duplicates' });
    $res = req("$p: PATCH", 'PATCH', "/items?name=eq.ink%20$round", 204, body => { qty => 5 });
    req("$p: DELETE", 'DELETE', "/items?name=eq.cap%20$round", 204);

    $res = req("$p: RPC GET", 'GET', '/rpc/add?a=40&b=2', 200);
    is($res->{content}, '42', "$p: RPC result");
    req("$p: RPC POST, set-returning, select", 'POST', '/rpc/client_projects?select=name', 200, body => { cid => 2 });
    req("$p: OpenAPI root", 'GET', '/', 200);

    $res = req("$p: JWT", 'GET', '/rpc/whoami', 200, headers => { Authorization => "Bearer $TOKEN" });
    is($res->{json}{user}, 'alice', "$p: the token's claims reach SQL");
    req("$p: JWT again (cache hit)", 'GET', '/secrets', 200, headers => { Authorization => "Bearer $TOKEN" });

    req("$p: 400 parse error", 'GET', '/clients?id=eq', 400);
    req("$p: 400 bad JSON", 'POST', '/items', 400, body => '{"name": ');
    req("$p: 401 bad signature", 'GET', '/clients', 401, headers => { Authorization => "Bearer $WRONG" });
    req("$p: 401 malformed token", 'GET', '/clients', 401, headers => { Authorization => 'Bearer a.b' });
    req("$p: 401 expired", 'GET', '/clients', 401, headers => { Authorization => "Bearer $EXPIRED" });
    req("$p: 401 anon on a table it cannot read", 'GET', '/secrets', 401);
    req("$p: 404 no such table", 'GET', '/nosuchtable', 404);
    req("$p: 404 no such function", 'POST', '/rpc/nosuchfn', 404, body => {});
    req("$p: 405", 'PUT', '/rpc/add', 405, body => {});
}

smoke(1);

# reloads: NOTIFY schema (a new table appears), NOTIFY config, SIGUSR1, SIGHUP
$t->psql(q{CREATE TABLE api.later (id int PRIMARY KEY); INSERT INTO api.later VALUES (7);
           GRANT SELECT ON api.later TO anon; NOTIFY pgrst, 'reload schema'});
for (1 .. 60) {
    $r = $t->get('/later');
    last if $r->{status} == 200;
    sleep 0.5;
}
is($r->{status}, 200, "NOTIFY pgrst, 'reload schema': the new table is served");
$N++;
$t->psql(q{NOTIFY pgrst, 'reload config'});
req("after NOTIFY 'reload config'", 'GET', '/later', 200);
kill 'USR1', $W;
sleep 1;
req('after SIGUSR1', 'GET', '/later', 200);
kill 'HUP', $W;
sleep 1;
req('after SIGHUP', 'GET', '/later', 200);
like($t->log_contents, qr/configuration reloaded/, 'the configuration was reloaded');

smoke(2);

# broken FastCGI peers straight on the worker's socket (nginx hides them):
# a body cut short, a truncated record, ABORT_REQUEST, and hang-ups in the
# middle of a large answer (the worker's writes fail with EPIPE)
{
    my $rec = sub {
        my ($type, $content) = @_;
        my $pad = (8 - length($content) % 8) % 8;
        return pack('CCnnCC', 1, $type, 1, length $content, $pad, 0) . $content . ("\0" x $pad);
    };
    my $nv = sub { join '', map { my $l = length $_; ($l < 128 ? pack('C', $l) : pack('N', $l | 0x80000000)) } @_[0, 1] };
    my $req = sub {
        my ($method, $uri, $body, %o) = @_;
        my ($path, $qs) = split /\?/, $uri, 2;
        my %p = (REQUEST_METHOD => $method, SCRIPT_NAME => $path, REQUEST_URI => $uri, QUERY_STRING => $qs // '',
                 SERVER_PROTOCOL => 'HTTP/1.1', HTTP_HOST => 'localhost', SERVER_NAME => 'localhost', SERVER_PORT => 80);
        if (defined $body) { $p{CONTENT_LENGTH} = $o{length} // length $body; $p{CONTENT_TYPE} = 'application/json' }
        my $params = join '', map { $nv->($_, $p{$_}) . $_ . $p{$_} } sort keys %p;
        return $rec->(1, pack('nCx5', 1, 0)) . $rec->(4, $params) . $rec->(4, '')
             . (defined $body ? $rec->(5, $body) : '') . ($o{open} ? '' : $rec->(5, ''));
    };
    require IO::Socket::UNIX;
    my $raw = sub {
        my ($bytes, $read) = @_;
        my $s = IO::Socket::UNIX->new(Peer => $t->socket, Type => Socket::SOCK_STREAM()) or die "connect: $!";
        local $SIG{PIPE} = 'IGNORE';
        syswrite($s, $bytes);
        my $got = 0;
        while ($read && $got < $read) { my $k = sysread($s, my $buf, 65536); last unless $k; $got += $k }
        close $s;
        $N++;
    };
    $t->psql(q{CREATE FUNCTION api.big(n int) RETURNS TABLE (id int, pad text) LANGUAGE sql STABLE
                   AS $$ SELECT g, repeat('x', 1000) FROM generate_series(1, n) g $$;
               GRANT EXECUTE ON FUNCTION api.big(int) TO anon; NOTIFY pgrst, 'reload schema'});
    for (1 .. 60) { last if $t->get('/rpc/big?n=1')->{status} == 200; sleep 0.5 }
    $raw->($req->('POST', '/items', '{"name":"cut', length => 500, open => 1));    # body cut short
    $raw->(substr($req->('GET', '/clients'), 0, 21));                              # truncated record
    $raw->(substr($req->('POST', '/items', '{"name":"x"}', open => 1), 0, -8) . $rec->(2, ''));  # ABORT_REQUEST
    $raw->($req->('GET', '/rpc/big?n=3000'), 20_000) for 1 .. 2;                   # gone mid-answer
    $raw->($req->('GET', '/rpc/big?n=3000'), 0);                                   # gone before it
    sleep 1;
    req('after the broken peers', 'GET', '/clients?id=eq.2', 200);
    is($t->psql(q{SELECT count(*) FROM api.items WHERE name LIKE 'cut%'}), "0\n", 'the cut-short body was not inserted');
}

# SIGTERM: valgrind runs its leak check on the way out; its log must be clean
sub sigterm_and_check {
    my ($name, $w, $vglog) = @_;
    ok(PgRestTest::_alive($w), "$name: the worker is alive after its requests");
    kill 'TERM', $w;
    my $log = '';
    for (1 .. 240) {
        $log = PgRestTest::_slurp($vglog) // '';
        last if $log =~ /ERROR SUMMARY:/ && !PgRestTest::_alive($w);
        sleep 0.5;
    }
    ok(!PgRestTest::_alive($w), "$name: SIGTERM: the worker exited");
    like($log, qr/ERROR SUMMARY:/, "$name: valgrind finished its report");

    my ($errors) = $log =~ /ERROR SUMMARY: ([\d,]+) errors/;
    my %lost;
    for my $kind (qw(definitely indirectly possibly)) {
        ($lost{$kind}) = $log =~ /$kind lost: ([\d,]+) bytes/;
        $lost{$kind} //= ($log =~ /no leaks are possible/ ? 0 : undef);
        tr/,//d for grep { defined } $lost{$kind};
    }
    $errors =~ tr/,//d if defined $errors;
    my %kinds = map { $_ => scalar(() = $log =~ /^==\d+== \Q$_\E/mg) }
        ('Invalid read', 'Invalid write', 'Invalid free', 'Mismatched free', 'Conditional jump',
         'Use of uninitialised value', 'Syscall param', 'Source and destination overlap');
    is($errors, 0, "$name: valgrind: ERROR SUMMARY: 0 errors (invalid accesses, uninitialised values, "
                 . 'definite/indirect leaks)')
        or diag(PgRestTest::_tail($log, 150));
    is($kinds{$_}, 0, "$name: valgrind: no '$_'") for sort keys %kinds;
    is($lost{definitely}, 0, "$name: valgrind: definitely lost: 0 bytes");
    is($lost{indirectly}, 0, "$name: valgrind: indirectly lost: 0 bytes");
    my ($supp) = $log =~ /suppressed: ([\d,]+) bytes/;
    my ($heap) = $log =~ /total heap usage: ([^\n]+)/;
    return sprintf('%s: %s errors; definitely lost %s, indirectly lost %s, possibly lost %s bytes; '
                   . 'suppressed %s bytes; heap: %s',
                   $name, $errors // '?', map({ $lost{$_} // '?' } qw(definitely indirectly possibly)),
                   $supp // 0, $heap // '?');
}

my @SUMMARY = (sigterm_and_check('HS256 worker', $W, $vglog));

# ---------------------------------------------------------------------------
# a second worker under valgrind with public keys: a JWK Set (RSA + EC) from
# a file, RS256 / PS256 / ES256 tokens good and bad, then SIGHUP with the
# file's name changed to a PEM certificate + PKCS#1 key (the old keys are
# freed, the new ones parsed), then SIGTERM

SKIP: {
    my ($OPENSSL) = grep { -x $_ } map { "$_/openssl" } split(/:/, $ENV{PATH} // ''), '/usr/bin';
    skip 'the openssl command line tool is not installed', 1 unless $OPENSSL;
    my $dir = $t->tmpdir . '/keys';
    make_path($dir);
    chmod 0755, $dir;
    my $JS = JSON::PP->new->canonical(1);
    my $ossl = sub {
        my @args = @_;
        my $pid = fork // die "fork: $!";
        if ($pid == 0) {
            open STDOUT, '>', "$dir/openssl.out" or POSIX::_exit(126);
            open STDERR, '>>', "$dir/openssl.err" or POSIX::_exit(126);
            exec { $OPENSSL } $OPENSSL, @args;
            POSIX::_exit(127);
        }
        waitpid $pid, 0;
        die "openssl @args failed\n" . (PgRestTest::_slurp("$dir/openssl.err") // '') if $?;
        return PgRestTest::_slurp("$dir/openssl.out");
    };
    for my $k ([ rsa => 'RSA', 'rsa_keygen_bits:2048' ], [ rsa2 => 'RSA', 'rsa_keygen_bits:2048' ],
               [ ec => 'EC', 'ec_paramgen_curve:P-256' ], [ ec2 => 'EC', 'ec_paramgen_curve:P-256' ]) {
        $ossl->('genpkey', '-algorithm', $k->[1], '-pkeyopt', $k->[2], '-out', "$dir/$k->[0].key");
        $ossl->('pkey', '-in', "$dir/$k->[0].key", '-pubout', '-out', "$dir/$k->[0].pub");
        chmod 0644, "$dir/$k->[0].pub";
    }
    my $der_item = sub {
        my ($buf, $pos) = @_;
        my $tag = ord substr($$buf, $pos++, 1);
        my $len = ord substr($$buf, $pos++, 1);
        if ($len & 0x80) { my $n = $len & 0x7f; $len = 0; $len = $len * 256 + ord substr($$buf, $pos++, 1) for 1 .. $n }
        return ($tag, substr($$buf, $pos, $len), $pos + $len);
    };
    my $token = sub {
        my ($key, $alg, $claims, %h) = @_;
        my $input = PgRestTest::b64url($JS->encode({ alg => $alg, typ => 'JWT', %h })) . '.'
                  . PgRestTest::b64url($JS->encode($claims));
        open my $fh, '>:raw', "$dir/input" or die; print $fh $input; close $fh;
        my ($bits) = $alg =~ /(\d+)\z/;
        my @o = ("-sha$bits", '-sign', "$dir/$key.key", '-out', "$dir/sig");
        push @o, '-sigopt', 'rsa_padding_mode:pss', '-sigopt', 'rsa_pss_saltlen:digest' if $alg =~ /\APS/;
        $ossl->('dgst', @o, "$dir/input");
        my $sig = PgRestTest::_slurp("$dir/sig");
        if ($alg =~ /\AES/) {
            my (undef, $seq) = $der_item->(\$sig, 0);
            my (undef, $r, $next) = $der_item->(\$seq, 0);
            my (undef, $s2) = $der_item->(\$seq, $next);
            $sig = join '', map { (my $v = $_) =~ s/\A\x00+//; ("\x00" x (32 - length $v)) . $v } $r, $s2;
        }
        return "$input." . PgRestTest::b64url($sig);
    };
    my $jwk = sub {
        my ($name, %extra) = @_;
        my $text = $ossl->('pkey', '-pubin', '-in', "$dir/$name.pub", '-text', '-noout');
        if ($text =~ /Modulus:\s*\n((?:\s+[0-9a-f:]+\n)+)/) {
            (my $hex = $1) =~ s/[\s:]//g;
            (my $n = pack 'H*', $hex) =~ s/\A\x00+//;
            return { kty => 'RSA', n => PgRestTest::b64url($n), e => 'AQAB', %extra };
        }
        my $pt = substr($ossl->('pkey', '-pubin', '-in', "$dir/$name.pub", '-outform', 'DER'), -65);
        return { kty => 'EC', crv => 'P-256', x => PgRestTest::b64url(substr($pt, 1, 32)),
                 y => PgRestTest::b64url(substr($pt, 33, 32)), %extra };
    };
    my $keyfile = "$dir/jwt-keys";
    my $spew = sub { open my $fh, '>:raw', $_[0] or die "$_[0]: $!"; print $fh $_[1]; close $fh; chmod 0644, $_[0] };
    $spew->($keyfile, $JS->encode({ keys => [ $jwk->('rsa', kid => 'rsa-1'), $jwk->('ec', kid => 'ec-1') ] }) . "\n");

    $t->stop_workers;
    $t->start_workers_wrapped(wrapper => \@VALGRIND,
                              config => { %cfg, 'jwt-secret' => "\@$keyfile" }, workers => 1);
    my ($W2) = $t->worker_pids;
    for (1 .. 60) { last if $t->get('/clients?id=eq.1')->{status} == 200; sleep 0.5 }
    my $claims = { role => 'webuser', user => 'bob', exp => time + 3600 };
    my $who = sub {
        my ($name, $tok, $status) = @_;
        my $res = req("keys: $name", 'GET', '/rpc/whoami', $status, headers => { Authorization => "Bearer $tok" });
        is($res->{json}{user}, 'bob', "keys: $name: the claims") if $status == 200;
    };
    for my $round (1 .. 2) {
        $who->("RS256 kid rsa-1 ($round)", $token->('rsa', 'RS256', $claims, kid => 'rsa-1'), 200);
        $who->("PS256 ($round)", $token->('rsa', 'PS256', $claims), 200);
        $who->("ES256 kid ec-1 ($round)", $token->('ec', 'ES256', $claims, kid => 'ec-1'), 200);
        $who->("ES256 of another key ($round)", $token->('ec2', 'ES256', $claims), 401);
        $who->("RS256 unknown kid ($round)", $token->('rsa', 'RS256', $claims, kid => 'nope'), 401);
        $who->("HS256 signed with the key text ($round)", $t->jwt($claims, PgRestTest::_slurp($keyfile)), 401);
    }
    # the same file name, new contents: a certificate and a PKCS#1 public key
    $ossl->('req', '-x509', '-new', '-key', "$dir/rsa.key", '-subj', '/CN=pg_rest test', '-days', '2',
            '-out', "$dir/rsa.crt");
    $ossl->('rsa', '-pubin', '-in', "$dir/rsa2.pub", '-RSAPublicKey_out', '-out', "$dir/rsa2.pkcs1");
    $spew->($keyfile, PgRestTest::_slurp("$dir/rsa.crt") . PgRestTest::_slurp("$dir/rsa2.pkcs1"));
    kill 'HUP', $W2;
    my $res;
    for (1 .. 60) {
        $res = $t->get('/rpc/whoami', headers => { Authorization => 'Bearer ' . $token->('rsa2', 'PS256', $claims) });
        last if $res->{status} == 200;
        sleep 0.5;
    }
    is($res->{status}, 200, 'keys: after SIGHUP the PKCS#1 key of the new file verifies');
    $N++;
    $who->('certificate: RS256', $token->('rsa', 'RS256', $claims), 200);
    $who->('ES256 after the reload', $token->('ec', 'ES256', $claims), 401);
    push @SUMMARY, sigterm_and_check('public-key worker', $W2, "$VG/memcheck.$W2.log");
}

unlike($t->log_contents, qr/CRIT|FATAL/, 'no critical errors in the worker log');
diag(join("\n", 'valgrind: ' . join('; ', @SUMMARY), sprintf('%d requests; %.1f s', $N, time - $T0)));
done_testing();
