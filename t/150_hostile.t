# 150_hostile.t — hostile requests through nginx: SQL injection attempts in
# every place a name or a value enters (select, order, filters, on_conflict,
# columns=, profile headers, function names, JSON keys, role claims), NUL
# bytes, invalid UTF-8 and bad percent-encoding in paths, query strings,
# headers and bodies, very long query strings and tokens, deep nesting,
# oversized and truncated bodies, unknown methods, duplicate headers, and
# JWT attacks (alg none, key confusion with an RSA public key, wrong
# secret, expired, not yet valid, wrong audience, claims of the wrong type,
# roles not granted, the superuser, names with quotes and spaces).
#
# Every request is one row of a table: method, path and query, headers,
# body, the status and the error code expected.  Requests are written by
# hand on a raw socket (so duplicate headers, raw bytes, bad escapes and
# lying Content-Lengths reach nginx as they are); the answer is parsed
# here, chunked bodies included.  Afterwards the fixture must be unchanged
# (row counts, the canary table, the RLS table), every worker alive, and
# a --enable-sanitizers build must have reported nothing.
#
# What answers what:
# - nginx refuses some requests itself, with its own HTML page, before a
#   worker sees them: %00 and bad escapes in the path (400), duplicate
#   Authorization or Content-Length (400), NUL or bad characters in a
#   header (400), a request line over large_client_header_buffers (32k in
#   nginx/pg_rest.conf: 414), a header line over it (400), a Content-Length
#   over client_max_body_size (413), TRACE (405), a truncated body (nginx
#   drops the connection without an answer, or 400; the worker never runs
#   it).  Those rows expect "nginx" (text/html).
# - pg_rest answers everything else with PostgREST's JSON error body, which
#   must be valid UTF-8 JSON even when the request was not.  %00 in a query
#   string is refused (400 22021, what PostgreSQL tells PostgREST) instead of
#   silently cutting the value short; NUL in CSV/form bodies is 400 22P05.
# - Nesting: select= deeper than 32 levels and or=/and= trees deeper than 64
#   are 400 PGRST100 ("... is nested too deeply", src/query.c).
use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";

use IO::Select;
use IO::Socket::INET;
use JSON::PP;
use Test::More;
use Time::HiRes qw(time sleep);
use PgRestTest;

PgRestTest::skip_unless_ready();
my $OPENSSL = (grep { -x "$_/openssl" } split /:/, ($ENV{PATH} // '') . ':/usr/bin')[0];

$SIG{PIPE} = 'IGNORE';
my $t0 = time;
my $t = PgRestTest->new();
$t->start_postgres();
$t->psql(<<'SQL');
CREATE ROLE authenticator LOGIN NOINHERIT;
CREATE ROLE anon NOLOGIN;
CREATE ROLE webuser NOLOGIN;
CREATE ROLE outsider NOLOGIN;              -- exists, not granted to the authenticator
CREATE ROLE "we ird'role" NOLOGIN;          -- granted; a quote and a space in its name
GRANT anon, webuser, "we ird'role" TO authenticator;
CREATE SCHEMA api;
CREATE SCHEMA other;
GRANT USAGE ON SCHEMA api, other TO anon, webuser, "we ird'role";
CREATE TABLE api.items (id int PRIMARY KEY, name text, price numeric);
INSERT INTO api.items SELECT g, 'item ' || g, g * 1.5 FROM generate_series(1, 20) g;
CREATE TABLE api.canary (id int PRIMARY KEY);
INSERT INTO api.canary VALUES (1);
CREATE TABLE api.notes (
    id serial PRIMARY KEY,
    cuser text NOT NULL DEFAULT current_setting('request.jwt.claim.user', true),
    body text);
ALTER TABLE api.notes ENABLE ROW LEVEL SECURITY;
CREATE POLICY own ON api.notes USING (cuser = current_setting('request.jwt.claim.user', true));
INSERT INTO api.notes (cuser, body) VALUES ('alice', 'a1'), ('bob', 'b1');
CREATE TABLE other.things (id int PRIMARY KEY);
CREATE VIEW api.whoami AS SELECT current_user::text AS role;
CREATE FUNCTION api.add(a int, b int) RETURNS int LANGUAGE sql IMMUTABLE AS 'SELECT a + b';
CREATE FUNCTION api.echo(t text) RETURNS text LANGUAGE sql IMMUTABLE AS 'SELECT t';
CREATE FUNCTION api.raw_text(text) RETURNS text LANGUAGE sql IMMUTABLE AS 'SELECT $1';
GRANT SELECT, INSERT, UPDATE, DELETE ON api.items, api.canary TO anon, webuser;
GRANT SELECT, INSERT, UPDATE, DELETE ON api.notes TO webuser;
GRANT USAGE ON SEQUENCE api.notes_id_seq TO webuser;
GRANT SELECT ON api.items TO "we ird'role";
GRANT SELECT ON api.whoami TO PUBLIC;
GRANT SELECT ON other.things TO anon;
SQL

my $SECRET = 'a-secret-of-at-least-thirty-two-chars-for-hs256';
my $AUD    = 'pg_rest-hostile';
my %cfg = (
    'db-uri'         => $t->db_uri(user => 'authenticator', db => 'postgres'),
    'db-schemas'     => 'api, other',
    'db-anon-role'   => 'anon',
    'jwt-secret'     => $SECRET,
    'jwt-aud'        => $AUD,
    'jwt-optional'   => JSON::PP::true,
    'max-body-bytes' => 65536,
);
$t->start_workers(config => \%cfg, workers => 2);
$t->start_nginx(prefix => '/');
my @workers = $t->worker_pids;
my ($PORT) = $t->base_url =~ /:(\d+)\z/;

my $JSON = JSON::PP->new->canonical(1);

sub psql1 { my ($sql) = @_; my $o = $t->psql($sql); chomp $o; return $o }

sub fixture_state {
    return psql1(q{SELECT (SELECT count(*) FROM api.items) || '/' ||
                          (SELECT md5(string_agg(id || name || price, ',' ORDER BY id)) FROM api.items) || '/' ||
                          coalesce((SELECT count(*)::text FROM api.canary), 'gone') || '/' ||
                          (SELECT string_agg(cuser || ':' || body, ',' ORDER BY id) FROM api.notes) || '/' ||
                          (SELECT count(*) FROM pg_tables WHERE schemaname IN ('api', 'other'))});
}
my $STATE = fixture_state();
like($STATE, qr{\A20/[0-9a-f]{32}/1/alice:a1,bob:b1/4\z}, "fixture: $STATE");

# ---------------------------------------------------------------------------
# a raw HTTP/1.1 client: exact bytes out, the answer parsed here

sub dechunk {
    my ($b) = @_;
    my $out = '';
    while ($b =~ s/\A([0-9a-fA-F]+)[^\r\n]*\r\n//) {
        my $n = hex $1;
        last if $n == 0;
        $out .= substr($b, 0, $n, '');
        $b =~ s/\A\r\n//;
    }
    return $out;
}

# raw(method, target, [[name, value], ...], body, %o) -> {status, headers, content, json, raw}
#   o{content_length}: the Content-Length to claim (default: the body's)
#   o{half_close}:     shut the write side down after sending (truncated bodies)
#   o{close}:          close at once without reading (status 'none')
sub raw {
    my ($method, $target, $headers, $body, %o) = @_;
    my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $PORT,
                                  Proto => 'tcp', Timeout => 5)
        or die "connect 127.0.0.1:$PORT: $!";
    my $req = "$method $target HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n"
            . "User-Agent: $PgRestTest::UA\r\n";
    $req .= "$_->[0]: $_->[1]\r\n" for @{ $headers || [] };
    my $cl = $o{content_length} // (defined $body ? length $body : undef);
    $req .= "Content-Length: $cl\r\n" if defined $cl;
    $req .= "\r\n";
    $req .= $body if defined $body;
    my $off = 0;
    while ($off < length $req) {
        my $n = syswrite($s, $req, 65536, $off);
        last unless $n;    # nginx answered early (413) and closed
        $off += $n;
    }
    $s->shutdown(1) if $o{half_close};
    if ($o{close}) { close $s; return { status => 'none', headers => {}, content => '' } }
    my $sel = IO::Select->new($s);
    my $buf = '';
    my $deadline = time + ($o{timeout} // 20);
    while (time < $deadline && $sel->can_read($deadline - time)) {
        my $n = sysread($s, my $chunk, 65536);
        last unless $n;
        $buf .= $chunk;
    }
    close $s;
    my $r = { status => 'none', headers => {}, content => '', raw => $buf };
    return $r unless $buf =~ s/\AHTTP\/1\.[01] (\d{3})[^\r\n]*\r\n//;
    $r->{status} = $1;
    my ($head, $content) = split /\r\n\r\n/, $buf, 2;
    for my $line (split /\r\n/, $head // '') {
        my ($k, $v) = $line =~ /\A([^:]+):\s*(.*)\z/ or next;
        $k = lc $k;
        $r->{headers}{$k} = exists $r->{headers}{$k} ? "$r->{headers}{$k}, $v" : $v;
    }
    $content //= '';
    $content = dechunk($content) if ($r->{headers}{'transfer-encoding'} // '') =~ /chunked/i;
    $r->{content} = $content;
    $r->{json} = eval { JSON::PP->new->utf8->allow_nonref->decode($content) } if length $content;
    return $r;
}

# ---------------------------------------------------------------------------
# tokens

my $now = time;
my %CL = (aud => $AUD, exp => $now + 3600);
sub tok { my ($claims, %o) = @_; return $t->jwt({ %CL, %$claims }, $o{secret} // $SECRET) }
sub bearer { return [ [ Authorization => "Bearer $_[0]" ] ] }
sub hdr_json { return '{"alg":"HS256","typ":"JWT"}' }

my $padding = 'x' x 20000;
my %TOK = (
    none       => $t->jwt_raw('{"alg":"none","typ":"JWT"}', $JSON->encode({ %CL, role => 'webuser' }), undef),
    none_uc    => $t->jwt_raw('{"alg":"NONE","typ":"JWT"}', $JSON->encode({ %CL, role => 'webuser' }), undef),
    none_sig   => $t->jwt_raw('{"alg":"none","typ":"JWT"}', $JSON->encode({ %CL, role => 'webuser' }), $SECRET, alg => 'HS256'),
    other_key  => tok({ role => 'webuser' }, secret => 'another-secret-of-thirty-two-characters!!'),
    empty_key  => tok({ role => 'webuser' }, secret => ''),
    expired    => tok({ role => 'webuser', exp => $now - 3600 }),
    not_yet    => tok({ role => 'webuser', nbf => $now + 3600 }),
    future_iat => tok({ role => 'webuser', iat => $now + 3600 }),
    wrong_aud  => tok({ role => 'webuser', aud => 'someone-else' }),
    aud_list   => tok({ role => 'webuser', aud => [ 'a', 'b' ] }),
    exp_string => tok({ role => 'webuser', exp => '' . ($now + 3600) }),
    exp_object => tok({ role => 'webuser', exp => { '$gt' => 0 } }),
    aud_number => tok({ role => 'webuser', aud => 42 }),
    outsider   => tok({ role => 'outsider' }),
    postgres   => tok({ role => 'postgres' }),
    pg_super   => tok({ role => 'pg_read_server_files' }),
    no_role    => tok({ role => 'no_such_role' }),
    inject     => tok({ role => q{anon'; DROP TABLE api.canary; --} }),
    inject2    => tok({ role => q{webuser", "postgres} }),
    weird      => tok({ role => q{we ird'role} }),
    nul_role   => $t->jwt_raw(hdr_json(), qq({"aud":"$AUD","role":"web\\u0000user"}), $SECRET),
    empty_role => tok({ role => '' }),
    role_array => tok({ role => [ 'webuser', 'postgres' ] }),
    role_obj   => tok({ role => { a => 1 } }),
    huge_ok    => tok({ role => 'webuser', pad => $padding }),
    huge_bad   => tok({ role => 'webuser', pad => $padding }, secret => 'x' x 40),
    too_big    => tok({ role => 'webuser', pad => 'y' x 40000 }),
    bad_header => PgRestTest::b64url('{"alg":') . '.' . PgRestTest::b64url('{}') . '.sig',
    claims_arr => $t->jwt_raw(hdr_json(), '["role","webuser"]', $SECRET),
    claims_num => $t->jwt_raw(hdr_json(), '42', $SECRET),
    dup_role   => $t->jwt_raw(hdr_json(), qq({"aud":"$AUD","role":"anon","role":"postgres"}), $SECRET),
    alice      => tok({ role => 'webuser', user => 'alice' }),
    alice_inj  => tok({ role => 'webuser', user => q{alice' OR '1'='1} }),
    kid_path   => $t->jwt_raw('{"alg":"HS256","typ":"JWT","kid":"../../../../etc/passwd"}',
                              $JSON->encode({ %CL, role => 'webuser' }), 'wrong-secret-wrong-secret-wrong-secret'),
    alg_hs1    => $t->jwt_raw('{"alg":"HS1","typ":"JWT"}', $JSON->encode({ %CL, role => 'webuser' }), $SECRET, alg => 'HS256'),
    alg_rs     => $t->jwt_raw('{"alg":"RS256","typ":"JWT"}', $JSON->encode({ %CL, role => 'webuser' }), $SECRET, alg => 'HS256'),
);

# ---------------------------------------------------------------------------
# the table
#
# [ name, method, target, headers, body, status, code, %check ]
#   code: string, regexp, 'nginx' (nginx's own HTML page) or undef (success)
#   check: rows => n (a JSON array of n), json => sub { ... } (extra test)

my $CT_JSON = [ 'Content-Type' => 'application/json' ];
my $CT_CSV  = [ 'Content-Type' => 'text/csv' ];
my $CT_FORM = [ 'Content-Type' => 'application/x-www-form-urlencoded' ];
my $CT_TEXT = [ 'Content-Type' => 'text/plain' ];
my $UPSERT  = [ Prefer => 'resolution=merge-duplicates' ];
my $NESTED_OR = sub { my ($n) = @_; 'or=(' . ('or(' x $n) . 'id.eq.1' . (')' x $n) . ')' };
my $NESTED_SEL = sub { my ($n) = @_; 'select=' . ('items(' x $n) . 'id' . (')' x $n) };
my $FILTERS = sub { my ($bytes) = @_; my $q = ''; $q .= 'id=gt.0&' while length $q < $bytes; "${q}id=gt.0" };
my $PG_NUL = qr/\A22021\z/;
my $INVALID_TOKEN = qr/\ABearer error="invalid_token"/;

my @rows = (
    # ---- SQL injection through names and values -------------------------
    [ 'select: quote and semicolon', GET => q{/items?select=id,name%22)%20from%20api.items%3Bdrop%20table%20api.canary%3B--},
      [], undef, 400, 'PGRST100' ],
    [ 'select: quoted name with SQL', GET => q{/items?select=%22id%3Bdrop%20table%20api.canary%22}, [], undef, 400, '42703' ],
    [ 'select: cast that is a query', GET => q{/items?select=id::int%20from%20items%20union%20select%201}, [], undef, 400, '42601' ],
    [ 'select: cast with parenthesis', GET => q{/items?select=id::text)%3Bdrop%20table%20api.canary%3B--}, [], undef, 400, 'PGRST100' ],
    [ 'select: JSON path with quote', GET => q{/items?select=name-%3E%3E%27a%27)%3Bdrop%20table%20api.canary}, [], undef, 400, 'PGRST100' ],
    [ 'select: quoted alias with SQL', GET => q{/items?select=%22x)%3Bdrop%22:id&limit=1}, [], undef, 200, undef,
      json => sub { is_deeply([ keys %{ $_[0][0] } ], [ 'x);drop' ], 'alias is only a JSON key') } ],
    [ 'select: doubled quote in a name', GET => q{/items?select=%22x%22%22%3Bdrop%22:id}, [], undef, 400, 'PGRST100' ],
    [ 'order: semicolon', GET => q{/items?order=id%3Bdrop%20table%20api.canary}, [], undef, 400, 'PGRST100' ],
    [ 'order: direction with SQL', GET => q{/items?order=id.desc%3Bdrop}, [], undef, 400, 'PGRST100' ],
    [ 'order: quoted name with SQL', GET => q{/items?order=%22id%20desc%3Bdrop%22}, [], undef, 400, '42703' ],
    [ 'filter value: quote trick on int', GET => q{/items?id=eq.1%27%20or%20%271%27=%271}, [], undef, 400, '22P02' ],
    [ 'filter value: quote trick on text', GET => q{/items?name=eq.x%27%20or%20%271%27=%271}, [], undef, 200, undef, rows => 0 ],
    [ 'filter value: like with SQL', GET => q{/items?name=like.*%27%3Bdrop%20table%20api.canary%3B--}, [], undef, 200, undef, rows => 0 ],
    [ 'filter value: in list breakout', GET => q{/items?name=in.(%22a%22)%2C%22)%3Bdrop%20table%20api.canary}, [], undef, 200, undef, rows => 0 ],
    [ 'filter column: quote', GET => q{/items?id%22%3Bdrop%20table%20api.canary%3B--=eq.1}, [], undef, 400, 'PGRST100' ],
    [ 'filter column: quoted name', GET => q{/items?%22id%3Bdrop%22=eq.1}, [], undef, 400, '42703' ],
    [ 'fts language with SQL', GET => q{/items?name=fts(simple%3Bdrop%20table%20api.canary).x}, [], undef, 400, 'PGRST100' ],
    [ 'fts language is a parameter', GET => q{/items?name=fts(nosuch).x}, [], undef, 400, '42704' ],
    [ 'limit with SQL is ignored', GET => q{/items?limit=1%3Bdrop%20table%20api.canary}, [], undef, 200, undef, rows => 20 ],
    [ 'Range with SQL is ignored', GET => q{/items}, [ [ Range => '0-1;drop table api.canary' ] ], undef, 200, undef, rows => 20 ],
    [ 'and= tree with SQL', GET => q{/items?and=(id.eq.1%3Bdrop%20table%20api.canary)}, [], undef, 400, '22P02' ],
    [ 'PATCH filter with SQL', PATCH => q{/items?id=eq.1)%3Bdelete%20from%20api.canary%3B--}, [ $CT_JSON ],
      '{"name":"pwned"}', 400, '22P02' ],
    [ 'DELETE filter with SQL', DELETE => q{/canary?id=eq.1%20or%201=1}, [], undef, 400, '22P02' ],
    [ 'columns= with SQL', POST => q{/items?columns=id,%22name%22%3Bdrop%20table%20api.canary}, [ $CT_JSON ],
      '{"id":900,"name":"x"}', 400, 'PGRST100' ],
    [ 'columns= quoted unknown', POST => q{/items?columns=id,%22name%3Bdrop%22}, [ $CT_JSON ],
      '{"id":900,"name":"x"}', 400, 'PGRST204' ],
    [ 'on_conflict with SQL', POST => q{/items?on_conflict=id)%20do%20nothing%3Bdrop%20table%20api.canary%3B--},
      [ $CT_JSON, $UPSERT ], '{"id":1,"name":"item 1"}', 400, 'PGRST100' ],
    [ 'on_conflict quoted name', POST => q{/items?on_conflict=%22id%3Bdrop%22}, [ $CT_JSON, $UPSERT ],
      '{"id":1,"name":"item 1"}', 400, '42703' ],
    [ 'JSON key with SQL', POST => '/items', [ $CT_JSON ], '{"id\"); drop table api.canary; --":1}', 400, 'PGRST204' ],
    [ 'JSON bulk keys with SQL', POST => '/items', [ $CT_JSON ],
      '[{"id":901},{"id); drop table api.canary; --":902}]', 400, 'PGRST102' ],
    [ 'CSV header with SQL', POST => '/items', [ $CT_CSV ], "id,\"name\"\"); drop table api.canary; --\"\n903,x\n",
      400, 'PGRST204' ],
    [ 'form key with SQL', POST => '/items', [ $CT_FORM ], 'id=904&name%22)%3Bdrop%20table%20api.canary=x', 400, 'PGRST204' ],
    [ 'Accept-Profile with SQL', GET => '/items', [ [ 'Accept-Profile' => 'api"; drop table api.canary; --' ] ],
      undef, 406, 'PGRST106' ],
    [ 'Content-Profile with SQL', POST => '/items', [ $CT_JSON, [ 'Content-Profile' => 'api"; drop table api.canary; --' ] ],
      '{"id":905}', 406, 'PGRST106' ],
    [ 'Accept-Profile pg_catalog', GET => '/pg_roles', [ [ 'Accept-Profile' => 'pg_catalog' ] ], undef, 406, 'PGRST106' ],
    [ 'function name with SQL', GET => q{/rpc/add%22()%3Bdrop%20table%20api.canary%3B--?a=1&b=2}, [], undef, 404, 'PGRST202' ],
    [ 'function argument with SQL', GET => q{/rpc/add?a=1&b=2)%3Bdrop%20table%20api.canary%3B--}, [], undef, 400, '22P02' ],
    [ 'function argument name with SQL', POST => '/rpc/add', [ $CT_JSON ], '{"a); drop table api.canary; --":1}', 404, 'PGRST202' ],
    [ 'function body value with SQL', POST => '/rpc/add', [ $CT_JSON ], '{"a":1,"b":"2); drop table api.canary; --"}', 400, '22P02' ],
    [ 'function outside the schema', GET => '/rpc/pg_sleep?seconds=1', [], undef, 404, 'PGRST202' ],
    [ 'qualified function name', GET => '/rpc/pg_catalog.pg_sleep?seconds=1', [], undef, 404, 'PGRST202' ],
    [ 'qualified relation name', GET => '/pg_catalog.pg_roles', [], undef, 404, '42P01' ],
    [ 'relation name with SQL', GET => q{/items%3Bdrop%20table%20api.canary}, [], undef, 404, '42P01' ],
    [ 'text value round trip', GET => q{/rpc/echo?t=%27)%3Bdrop%20table%20api.canary%3B--}, [], undef, 200, undef,
      json => sub { is($_[0], q{');drop table api.canary;--}, 'text argument comes back verbatim') } ],

    # ---- NUL, invalid UTF-8, bad percent-encoding ------------------------
    [ 'path: %00', GET => '/items%00', [], undef, 400, 'nginx' ],
    [ 'path: %00 then more', GET => '/items%00.json', [], undef, 400, 'nginx' ],
    [ 'path: %2500 is a name', GET => '/items%2500', [], undef, 404, '42P01' ],
    [ 'path: %zz', GET => '/items%zz', [], undef, 400, 'nginx' ],
    [ 'path: trailing %', GET => '/items%', [], undef, 400, 'nginx' ],
    [ 'path: invalid UTF-8 %C3%28', GET => '/it%C3%28', [], undef, 404, '42P01',
      json => sub { like($_[0]{message}, qr/\x{fffd}/, 'the bad byte is U+FFFD in the message') } ],
    [ 'path: invalid UTF-8 %FF', GET => '/items%FF', [], undef, 404, '42P01' ],
    [ 'path: overlong UTF-8 %C0%AF', GET => '/rpc/%C0%AF', [], undef, 404, 'PGRST202' ],
    [ 'path: raw byte 0xff', GET => "/items\xff", [], undef, 404, '42P01' ],
    [ 'query: %00 in a value', GET => '/items?id=eq.1%00', [], undef, 400, $PG_NUL ],
    [ 'query: %00 cutting a value', GET => '/items?name=eq.item%201%00x', [], undef, 400, $PG_NUL ],
    [ 'query: %00 in select', GET => '/items?select=id%00,name', [], undef, 400, $PG_NUL ],
    [ 'query: %00 in a column name', GET => '/items?na%00me=eq.1', [], undef, 400, $PG_NUL ],
    [ 'query: %00 in a function argument', GET => '/rpc/echo?t=a%00b', [], undef, 400, $PG_NUL ],
    [ 'query: %00 in columns=', POST => '/items?columns=id%00', [ $CT_JSON ], '{"id":906}', 400, $PG_NUL ],
    [ 'query: invalid UTF-8 value', GET => '/items?name=eq.%C3%28', [], undef, 400, '22021' ],
    [ 'query: 0xff value', GET => '/items?name=eq.%FF', [], undef, 400, '22021' ],
    [ 'query: 0xff in select', GET => '/items?select=%FF', [], undef, 400, '42703' ],
    [ 'query: 0xff column name', GET => '/items?%FF=eq.1', [], undef, 400, '42703' ],
    [ 'query: 0xff function argument', GET => '/rpc/echo?t=%FF', [], undef, 400, '22021' ],
    [ 'query: raw byte 0xff', GET => "/items?name=eq.\xff", [], undef, 400, '22021' ],
    [ 'query: %zz stays literal', GET => '/items?name=eq.%zz', [], undef, 200, undef, rows => 0 ],
    [ 'query: trailing %', GET => '/items?name=eq.abc%', [], undef, 200, undef, rows => 0 ],
    [ 'query: lone %', GET => '/items?name=eq.%', [], undef, 200, undef, rows => 0 ],
    [ 'query: % as a key', GET => '/items?%=1', [], undef, 200, undef, rows => 20 ],
    [ 'query: %2 then end', GET => '/items?select=id%2', [], undef, 400, 'PGRST100' ],
    [ 'header: NUL in a value', GET => '/items', [ [ 'Accept-Profile' => "a\0b" ] ], undef, 400, 'nginx' ],
    [ 'header: NUL in an unknown header', GET => '/items', [ [ 'X-Foo' => "a\0b" ] ], undef, 400, 'nginx' ],
    [ 'header: CR inside a value', GET => '/items', [ [ 'X-Foo' => "a\rb" ] ], undef, 400, 'nginx' ],
    [ 'header: space in a name', GET => '/items', [ [ 'Bad Header' => 'x' ] ], undef, 400, 'nginx' ],
    [ 'header: 0xff in Accept-Profile', GET => '/items', [ [ 'Accept-Profile' => "\xff" ] ], undef, 406, 'PGRST106' ],
    [ 'header: 0xff in Accept', GET => '/items', [ [ Accept => "\xff" ] ], undef, 406, 'PGRST107' ],
    [ 'header: 0xff in Prefer', GET => '/items?limit=1', [ [ Prefer => "\xff\xfe" ] ], undef, 200, undef, rows => 1 ],
    [ 'header: Latin-1 X-Client', GET => '/items?limit=1', [ [ 'X-Client' => "caf\xe9" ] ], undef, 200, undef, rows => 1 ],
    [ 'header: Latin-1 cookie', GET => '/items?limit=1', [ [ Cookie => "a=caf\xe9; b=%00" ] ], undef, 200, undef, rows => 1 ],
    [ 'header: %00 stays text', GET => '/items', [ [ 'Accept-Profile' => 'api%00' ] ], undef, 406, 'PGRST106' ],
    [ 'header: 0xff in a token', GET => '/items', [ [ Authorization => "Bearer \xff.\xff.\xff" ] ], undef, 401, 'PGRST301' ],
    [ 'body: raw NUL in JSON', POST => '/items', [ $CT_JSON ], qq({"id":907,"name":"x"}\0{"id":"z"}), 400, 'PGRST102' ],
    [ 'body: raw NUL in a JSON string', POST => '/items', [ $CT_JSON ], qq({"id":907,"name":"a\0b"}), 400, 'PGRST102' ],
    [ 'body: \\u0000 in a JSON string', POST => '/items', [ $CT_JSON ], '{"id":907,"name":"a\u0000b"}', 400, '22P05' ],
    [ 'body: \\u0000 in a JSON key', POST => '/items', [ $CT_JSON ], '{"id\u0000x":907,"name":"z"}', 400, '22P05' ],
    [ 'body: 0xff in JSON', POST => '/items', [ $CT_JSON ], qq({"id":907,"name":"\xff"}), 400, 'PGRST102' ],
    [ 'body: overlong UTF-8 in JSON', POST => '/items', [ $CT_JSON ], qq({"id":907,"name":"\xc0\xaf"}), 400, 'PGRST102' ],
    [ 'body: lone surrogate escape', POST => '/items', [ $CT_JSON ], '{"id":907,"name":"\ud800"}', 400, 'PGRST102' ],
    [ 'body: NUL in CSV', POST => '/items', [ $CT_CSV ], "id,name\n907,a\0b\n", 400, '22P05' ],
    [ 'body: NUL in a CSV header', POST => '/items', [ $CT_CSV ], "id,na\0me\n907,a\n", 400, '22P05' ],
    [ 'body: 0xff in CSV', POST => '/items', [ $CT_CSV ], "id,name\n907,\xff\n", 400, '22021' ],
    [ 'body: %00 in a form', POST => '/items', [ $CT_FORM ], 'id=907&name=a%00b', 400, '22P05' ],
    [ 'body: %FF in a form', POST => '/items', [ $CT_FORM ], 'id=907&name=%FF', 400, '22021' ],
    [ 'body: %zz in a form stays literal', POST => '/rpc/echo', [ $CT_FORM ], 't=%zz', 200, undef,
      json => sub { is($_[0], '%zz', 'form value %zz stays literal') } ],
    [ 'body: NUL in text/plain', POST => '/rpc/raw_text', [ $CT_TEXT ], "a\0b", 400, '22021' ],
    [ 'body: 0xff in text/plain', POST => '/rpc/raw_text', [ $CT_TEXT ], "a\xffb", 400, '22021' ],
    [ 'body: text/plain round trip', POST => '/rpc/raw_text', [ $CT_TEXT ], q{'); drop table api.canary; --}, 200, undef,
      json => sub { is($_[0], q{'); drop table api.canary; --}, 'raw text body comes back verbatim') } ],
    [ 'body: NUL in JSON arguments', POST => '/rpc/echo', [ $CT_JSON ], qq({"t":"a\0b"}), 400, 'PGRST102' ],
    [ 'body: \\u0000 in JSON arguments', POST => '/rpc/echo', [ $CT_JSON ], '{"t":"a\u0000b"}', 400, '22P05' ],

    # ---- long and deep ----------------------------------------------------
    [ 'query of 8 KB', GET => '/items?' . $FILTERS->(8000), [], undef, 200, undef, rows => 20 ],
    [ 'query of 20 KB', GET => '/items?' . $FILTERS->(20000), [], undef, 200, undef, rows => 20,
      headers => sub { ok(!exists $_[0]{'content-location'}, '20 KB query: Content-Location left out') } ],
    [ 'query of 31 KB', GET => '/items?' . $FILTERS->(31000), [], undef, 200, undef, rows => 20 ],
    [ 'query of 33 KB', GET => '/items?' . $FILTERS->(33000), [], undef, 414, 'nginx' ],
    [ 'query of 200 KB', GET => '/items?' . $FILTERS->(200000), [], undef, 414, 'nginx' ],
    [ 'long value of 30 KB', GET => '/items?name=eq.' . ('a' x 30000), [], undef, 200, undef, rows => 0 ],
    [ 'in list of 4000 values', GET => '/items?id=in.(' . join(',', 1 .. 4000) . ')', [], undef, 200, undef, rows => 20 ],
    [ 'or= nested 60 deep', GET => '/items?' . $NESTED_OR->(60), [], undef, 200, undef, rows => 1 ],
    [ 'or= nested 65 deep', GET => '/items?' . $NESTED_OR->(65), [], undef, 400, 'PGRST100',
      json => sub { is($_[0]{details}, 'logic tree is nested too deeply', 'or= depth: details say why') } ],
    [ 'or= nested 5000 deep', GET => '/items?' . $NESTED_OR->(5000), [], undef, 400, 'PGRST100' ],
    [ 'not.and= nested 70 deep', GET => '/items?not.and=(' . ('and(' x 70) . 'id.eq.1' . (')' x 70) . ')', [], undef, 400, 'PGRST100' ],
    [ 'embedded or= nested 70 deep', GET => '/items?items.or=(' . ('or(' x 70) . 'id.eq.1' . (')' x 70) . ')', [], undef, 400, 'PGRST100' ],
    [ 'select nested 30 deep', GET => '/items?' . $NESTED_SEL->(30), [], undef, 400, 'PGRST200' ],
    [ 'select nested 40 deep', GET => '/items?' . $NESTED_SEL->(40), [], undef, 400, 'PGRST100',
      json => sub { is($_[0]{details}, 'select is nested too deeply', 'select depth: details say why') } ],
    [ 'select nested 3000 deep', GET => '/items?' . $NESTED_SEL->(3000), [], undef, 400, 'PGRST100' ],
    [ 'spread nested 40 deep', GET => '/items?select=' . ('...items(' x 40) . 'id' . (')' x 40), [], undef, 400, 'PGRST100' ],
    [ 'embed filter path 2000 deep', GET => '/items?' . ('a.' x 2000) . 'id=eq.1', [], undef, 400, 'PGRST108' ],
    [ 'order path 1000 deep', GET => '/items?' . ('a.' x 1000) . 'order=id', [], undef, 400, 'PGRST108' ],
    [ 'unbalanced parentheses', GET => '/items?select=' . ('items(' x 20), [], undef, 400, 'PGRST100' ],
    [ '4000 select columns', GET => '/items?select=' . join(',', ('id') x 4000), [], undef, 500, '54011' ],
    [ 'JSON body nested 30000 deep', POST => '/items', [ $CT_JSON ], ('[' x 30000) . (']' x 30000), 400, 'PGRST102' ],
    [ 'JSON value nested 5000 deep', POST => '/items', [ $CT_JSON ],
      '{"id":908,"name":' . ('[' x 5000) . (']' x 5000) . '}', 400, 'PGRST102' ],
    [ 'Prefer of 1000 items', GET => '/items?limit=1', [ [ Prefer => join(',', ('return=minimal') x 1000) ] ],
      undef, 200, undef, rows => 1 ],

    # ---- bodies -------------------------------------------------------------
    [ 'body over max-body-bytes', POST => '/items', [ $CT_JSON ],
      '[' . join(',', map { qq({"id":${\ (1000 + $_)},"name":"big"}) } 1 .. 3000) . ']', 413, 'PGRST413' ],
    [ 'Content-Length over client_max_body_size', POST => '/items', [ $CT_JSON ], undef, 413, 'nginx',
      content_length => 11 * 1024 * 1024 ],
    [ 'Content-Length larger than the body (half close)', POST => '/items', [ $CT_JSON ],
      '{"id":909,"name":"half"}', qr/\A(?:none|400)\z/, 'nginx', content_length => 100, half_close => 1 ],
    [ 'Content-Length larger than the body (close)', POST => '/items', [ $CT_JSON ],
      '{"id":910,"name":"half"}', 'none', 'nginx', content_length => 100, close => 1 ],
    [ 'chunked body cut short', POST => '/items', [ $CT_JSON, [ 'Transfer-Encoding' => 'chunked' ] ],
      "20\r\n{\"id\":911,\"name\"", qr/\A(?:none|400)\z/, 'nginx', half_close => 1 ],
    [ 'negative Content-Length', POST => '/items', [ $CT_JSON ], '{}', 400, 'nginx', content_length => -1 ],
    [ 'Content-Length not a number', POST => '/items', [ $CT_JSON ], '{}', 400, 'nginx', content_length => 'abc' ],
    [ 'Content-Length and chunked', POST => '/items', [ $CT_JSON, [ 'Transfer-Encoding' => 'chunked' ] ],
      "0\r\n\r\n", 400, 'nginx' ],
    [ 'empty JSON body', POST => '/items', [ $CT_JSON ], '', 400, 'PGRST102' ],
    [ 'unsupported Content-Type', POST => '/items', [ [ 'Content-Type' => 'application/x-evil' ] ], '{"id":912}', 400, 'PGRST102' ],

    # ---- methods ---------------------------------------------------------------
    [ 'method FOO', FOO => '/items', [], undef, 405, 'PGRST117' ],
    [ 'method PROPFIND', PROPFIND => '/items', [], undef, 405, 'PGRST117' ],
    [ 'method LOCK', LOCK => '/items', [], undef, 405, 'PGRST117' ],
    [ 'method TRACE', TRACE => '/items', [], undef, 405, 'nginx' ],
    [ 'method in lower case', get => '/items', [], undef, 400, 'nginx' ],
    [ 'DELETE on RPC', DELETE => '/rpc/add', [], undef, 405, 'PGRST101' ],
    [ 'PUT on RPC', PUT => '/rpc/add', [ $CT_JSON ], '{}', 405, 'PGRST101' ],
    [ 'PATCH on the root', PATCH => '/', [ $CT_JSON ], '{}', 405, 'PGRST117' ],
    [ 'DELETE on the root', DELETE => '/', [], undef, 405, 'PGRST117' ],
    [ 'deeper path', GET => '/items/1', [], undef, 404, 'PGRST125' ],
    [ 'dot segments', GET => '/rpc/../items?limit=1', [], undef, 200, undef, rows => 1 ],

    # ---- duplicate and conflicting headers ----------------------------------
    [ 'two Prefer headers are joined', GET => '/items?limit=1', [ [ Prefer => 'return=minimal' ], [ Prefer => 'count=exact' ] ],
      undef, 206, undef, rows => 1,
      headers => sub { is($_[0]{'content-range'}, '0-0/20', 'both Prefer headers applied') } ],
    [ 'two Authorization headers', GET => '/items', [ [ Authorization => "Bearer $TOK{alice}" ], [ Authorization => 'Bearer x' ] ],
      undef, 400, 'nginx' ],
    [ 'two Content-Length headers', POST => '/items', [ $CT_JSON, [ 'Content-Length' => 12 ] ], '{"id":913}', 400, 'nginx' ],
    [ 'two Content-Type headers: the first wins (json)', POST => '/items',
      [ $CT_JSON, $CT_CSV ], '{"id":"not a number"}', 400, '22P02' ],
    [ 'two Content-Type headers: the first wins (csv)', POST => '/items',
      [ $CT_CSV, $CT_JSON ], '{"id":914}', 400, 'PGRST204' ],
    [ 'two Accept-Profile headers', GET => '/items', [ [ 'Accept-Profile' => 'api' ], [ 'Accept-Profile' => 'other' ] ],
      undef, 406, 'PGRST106' ],
    [ 'two Content-Profile headers', POST => '/items', [ $CT_JSON, [ 'Content-Profile' => 'other' ], [ 'Content-Profile' => 'api' ] ],
      '{"id":915}', 406, 'PGRST106' ],
    [ 'two Accept headers', GET => '/items?limit=1', [ [ Accept => 'text/csv' ], [ Accept => 'application/json' ] ],
      undef, 200, undef ],

    # ---- JWT attacks (HMAC secret configured) -------------------------------
    [ 'JWT alg none', GET => '/whoami', bearer($TOK{none}), undef, 401, 'PGRST301', www => $INVALID_TOKEN ],
    [ 'JWT alg NONE', GET => '/whoami', bearer($TOK{none_uc}), undef, 401, 'PGRST301', www => $INVALID_TOKEN ],
    [ 'JWT alg none with a signature', GET => '/whoami', bearer($TOK{none_sig}), undef, 401, 'PGRST301' ],
    [ 'JWT alg HS1', GET => '/whoami', bearer($TOK{alg_hs1}), undef, 401, 'PGRST301' ],
    [ 'JWT alg RS256 with an HMAC secret', GET => '/whoami', bearer($TOK{alg_rs}), undef, 401, 'PGRST301' ],
    [ 'JWT signed with another secret', GET => '/whoami', bearer($TOK{other_key}), undef, 401, 'PGRST301', www => $INVALID_TOKEN ],
    [ 'JWT signed with an empty secret', GET => '/whoami', bearer($TOK{empty_key}), undef, 401, 'PGRST301' ],
    [ 'JWT kid path and a wrong secret', GET => '/whoami', bearer($TOK{kid_path}), undef, 401, 'PGRST301' ],
    [ 'JWT expired', GET => '/whoami', bearer($TOK{expired}), undef, 401, 'PGRST303',
      json => sub { is($_[0]{message}, 'JWT expired', 'expired: message') } ],
    [ 'JWT not yet valid', GET => '/whoami', bearer($TOK{not_yet}), undef, 401, 'PGRST303' ],
    [ 'JWT issued in the future', GET => '/whoami', bearer($TOK{future_iat}), undef, 401, 'PGRST303' ],
    [ 'JWT wrong aud', GET => '/whoami', bearer($TOK{wrong_aud}), undef, 401, 'PGRST303',
      json => sub { is($_[0]{message}, 'JWT not in audience', 'wrong aud: message') } ],
    [ 'JWT aud list without ours', GET => '/whoami', bearer($TOK{aud_list}), undef, 401, 'PGRST303' ],
    [ 'JWT aud a number', GET => '/whoami', bearer($TOK{aud_number}), undef, 401, 'PGRST303' ],
    [ 'JWT exp a string', GET => '/whoami', bearer($TOK{exp_string}), undef, 401, 'PGRST303',
      json => sub { is($_[0]{message}, q{The JWT 'exp' claim must be a number}, 'exp string: message') } ],
    [ 'JWT exp an object', GET => '/whoami', bearer($TOK{exp_object}), undef, 401, 'PGRST303' ],
    [ 'JWT claims an array', GET => '/whoami', bearer($TOK{claims_arr}), undef, 401, qr/\APGRST30[13]\z/ ],
    [ 'JWT claims a number', GET => '/whoami', bearer($TOK{claims_num}), undef, 401, qr/\APGRST30[13]\z/ ],
    [ 'JWT header cut short', GET => '/whoami', bearer($TOK{bad_header}), undef, 401, 'PGRST301' ],
    [ 'JWT of two parts', GET => '/whoami', bearer('abc.def'), undef, 401, 'PGRST301' ],
    [ 'JWT of four parts', GET => '/whoami', bearer("$TOK{alice}.x"), undef, 401, 'PGRST301' ],
    [ 'JWT empty', GET => '/whoami', [ [ Authorization => 'Bearer' ] ], undef, 401, 'PGRST301' ],
    [ 'JWT role not granted to the authenticator', GET => '/whoami', bearer($TOK{outsider}), undef, 403, '42501' ],
    [ 'JWT role postgres (superuser)', GET => '/whoami', bearer($TOK{postgres}), undef, 403, '42501' ],
    [ 'JWT role postgres on a write', POST => '/canary', [ $CT_JSON, @{ bearer($TOK{postgres}) } ], '{"id":2}', 403, '42501' ],
    [ 'JWT predefined role', GET => '/whoami', bearer($TOK{pg_super}), undef, 403, '42501' ],
    [ 'JWT role that does not exist', GET => '/whoami', bearer($TOK{no_role}), undef, 400, '22023' ],
    [ 'JWT role with SQL', GET => '/whoami', bearer($TOK{inject}), undef, 400, '22023' ],
    [ 'JWT role list with SQL', GET => '/whoami', bearer($TOK{inject2}), undef, 400, '22023' ],
    [ 'JWT role with a quote and a space', GET => '/whoami', bearer($TOK{weird}), undef, 200, undef,
      json => sub { is($_[0][0]{role}, q{we ird'role}, 'ran as the role with the odd name') } ],
    [ 'JWT role with NUL', GET => '/whoami', bearer($TOK{nul_role}), undef, 401, 'PGRST303' ],
    [ 'JWT role empty', GET => '/whoami', bearer($TOK{empty_role}), undef, 401, 'PGRST303' ],
    [ 'JWT role an array', GET => '/whoami', bearer($TOK{role_array}), undef, 400, '22023' ],
    [ 'JWT role an object', GET => '/whoami', bearer($TOK{role_obj}), undef, 400, '22023' ],
    # the last of two "role" members counts (json-c, as aeson): SET ROLE postgres is refused
    [ 'JWT role claim twice', GET => '/whoami', bearer($TOK{dup_role}), undef, 403, '42501' ],
    [ 'JWT of 20 KB, valid', GET => '/whoami', bearer($TOK{huge_ok}), undef, 200, undef,
      json => sub { is($_[0][0]{role}, 'webuser', '20 KB token accepted') } ],
    [ 'JWT of 20 KB, bad signature', GET => '/whoami', bearer($TOK{huge_bad}), undef, 401, 'PGRST301' ],
    [ 'JWT over the header buffer', GET => '/whoami', bearer($TOK{too_big}), undef, 400, 'nginx' ],
    [ 'Basic scheme', GET => '/whoami', [ [ Authorization => 'Basic YWxhZGRpbjpvcGVuc2VzYW1l' ] ], undef, 401, 'PGRST301' ],
    [ 'Digest scheme', GET => '/whoami', [ [ Authorization => 'Digest username="x", response="y"' ] ], undef, 401, 'PGRST301' ],
    [ 'token without a scheme', GET => '/whoami', [ [ Authorization => $TOK{alice} ] ], undef, 401, 'PGRST301' ],
    [ 'bearer in lower case', GET => '/whoami', [ [ Authorization => "bearer $TOK{alice}" ] ], undef, 200, undef ],
    [ 'Bearer with two spaces', GET => '/whoami', [ [ Authorization => "Bearer  $TOK{alice}" ] ], undef, qr/\A(?:200|401)\z/, undef ],
    [ 'Bearer with a second token', GET => '/whoami', [ [ Authorization => "Bearer $TOK{alice} $TOK{postgres}" ] ], undef, 401, 'PGRST301' ],

    # ---- row-level security -------------------------------------------------
    [ 'RLS: own rows only', GET => '/notes', bearer($TOK{alice}), undef, 200, undef, rows => 1 ],
    [ 'RLS: filter cannot widen', GET => '/notes?cuser=neq.alice', bearer($TOK{alice}), undef, 200, undef, rows => 0 ],
    [ 'RLS: or= cannot widen', GET => '/notes?or=(cuser.eq.bob,id.gt.0)', bearer($TOK{alice}), undef, 200, undef, rows => 1 ],
    [ 'RLS: user claim with SQL', GET => '/notes', bearer($TOK{alice_inj}), undef, 200, undef, rows => 0 ],
    [ 'RLS: insert for another user', POST => '/notes', [ $CT_JSON, @{ bearer($TOK{alice}) } ], '{"cuser":"bob","body":"x"}', 403, '42501' ],
    [ 'RLS: update of another user', PATCH => '/notes?cuser=eq.bob', [ $CT_JSON, @{ bearer($TOK{alice}) } ], '{"body":"pwned"}', 204, undef ],
    [ 'RLS: delete of another user', DELETE => '/notes?cuser=eq.bob', bearer($TOK{alice}), undef, 204, undef ],
    [ 'RLS: anon has no rights', GET => '/notes', [], undef, 401, '42501', www => qr/\ABearer\z/ ],
    [ 'other schema needs the profile', GET => '/things', [], undef, 404, '42P01' ],
    [ 'other schema by profile', GET => '/things', [ [ 'Accept-Profile' => 'other' ] ], undef, 200, undef, rows => 0 ],
    [ 'other schema not writable', POST => '/things', [ $CT_JSON, [ 'Content-Profile' => 'other' ] ], '{"id":1}', 401, '42501' ],
);

# ---------------------------------------------------------------------------
# run a row

my ($tried, %by_answer) = (0);

sub run_row {
    my ($row) = @_;
    my ($name, $method, $target, $headers, $body, $status, $code, %o) = @$row;
    my @h = map { ref $_->[0] ? @$_ : $_ } @{ $headers || [] };
    my $r = raw($method, $target, \@h, $body, %o);
    $tried++;
    my $ok = ref $status ? like($r->{status}, $status, "$name: status")
                         : is($r->{status}, $status, "$name: status $status");
    my $ct = $r->{headers}{'content-type'} // '';
    if (defined $code && $code eq 'nginx') {
        $by_answer{nginx}++;
        $ok &&= ok($r->{status} eq 'none' || $ct =~ m{\Atext/html}, "$name: nginx's own answer");
    } elsif ($r->{status} =~ /\A\d+\z/ && $r->{status} >= 400) {
        $by_answer{pg_rest_error}++;
        $ok &&= like($ct, qr{\Aapplication/json; charset=utf-8\z}, "$name: JSON error body");
        my $bytes = $r->{content};
        $ok &&= ok(utf8::decode($bytes), "$name: body is valid UTF-8");
        my $j = ref $r->{json} eq 'HASH' ? $r->{json} : {};
        $ok &&= (ref $code ? like($j->{code} // '', $code, "$name: code")
                           : is($j->{code}, $code, "$name: code $code"));
        $ok &&= ok(exists $j->{message} && exists $j->{details} && exists $j->{hint},
                   "$name: message, details, hint");
    } else {
        $by_answer{pg_rest_ok}++;
        if (length $r->{content} && $ct =~ m{\Aapplication/json}) {
            $ok &&= ok(defined $r->{json}, "$name: a JSON body");
        }
    }
    if (defined $o{rows}) {
        $ok &&= is(ref $r->{json} eq 'ARRAY' ? scalar @{ $r->{json} } : -1, $o{rows}, "$name: $o{rows} rows");
    }
    $ok &&= like($r->{headers}{'www-authenticate'} // '', $o{www}, "$name: WWW-Authenticate") if $o{www};
    if ($o{json}) {
        $ok &&= (eval { $o{json}->($r->{json}) } // fail("$name: JSON check died: $@"));
    }
    $o{headers}->($r->{headers}) if $o{headers};
    unless ($ok) {
        my $c = $r->{content};
        $c = substr($c, 0, 600) . '...' if length $c > 600;
        diag("$name: $method " . substr($target, 0, 200) . "\n-> $r->{status} $ct\n$c");
    }
    return $r;
}

run_row($_) for @rows;

# the truncated bodies were never executed (also not a moment later)
sleep 0.3;
is(psql1('SELECT count(*) FROM api.items WHERE id >= 900'), '0', 'no row of a hostile or truncated write was inserted');
is(fixture_state(), $STATE, 'fixture unchanged: items, canary, notes, tables');

# the table is not dropped by any of it, and the API still works
my $r = raw(GET => '/items?select=id&order=id.desc&limit=1', [], undef);
is($r->{status}, 200, 'still serving after the table');
is_deeply($r->{json}, [ { id => 20 } ], 'and the data is intact');

# ---------------------------------------------------------------------------
# RSA public key configured: HS256 "signed" with the key text is refused

SKIP: {
    skip 'openssl command line tool missing', 1 unless $OPENSSL;
    $OPENSSL .= '/openssl';
    my $dir = $t->tmpdir . '/keys';
    mkdir $dir or die "mkdir $dir: $!";
    chmod 0755, $dir;
    my $run = sub {
        my @args = @_;
        my $pid = fork // die "fork: $!";
        if ($pid == 0) {
            open STDOUT, '>', '/dev/null';
            open STDERR, '>>', "$dir/openssl.err";
            exec $OPENSSL, @args or POSIX::_exit(127);
        }
        waitpid $pid, 0;
        die "openssl @args failed\n" if $?;
    };
    my $slurp = sub { open my $fh, '<:raw', $_[0] or die "$_[0]: $!"; local $/; <$fh> };
    $run->('genpkey', '-algorithm', 'RSA', '-pkeyopt', 'rsa_keygen_bits:2048', '-out', "$dir/rsa.key");
    $run->('pkey', '-in', "$dir/rsa.key", '-pubout', '-out', "$dir/rsa.pub");
    $run->('genpkey', '-algorithm', 'RSA', '-pkeyopt', 'rsa_keygen_bits:2048', '-out', "$dir/other.key");
    chmod 0644, "$dir/rsa.pub";
    my $pub = $slurp->("$dir/rsa.pub");
    my $rs256 = sub {
        my ($key, $claims) = @_;
        my $input = PgRestTest::b64url('{"alg":"RS256","typ":"JWT"}') . '.' . PgRestTest::b64url($JSON->encode($claims));
        open my $fh, '>:raw', "$dir/input" or die;
        print $fh $input;
        close $fh;
        $run->('dgst', '-sha256', '-sign', "$dir/$key.key", '-out', "$dir/sig", "$dir/input");
        return "$input." . PgRestTest::b64url($slurp->("$dir/sig"));
    };
    $t->start_workers(config => { %cfg, 'jwt-secret' => "\@$dir/rsa.pub" }, workers => 2);
    @workers = $t->worker_pids;
    (my $pub_trim = $pub) =~ s/\s+\z//;
    (my $pub_body = $pub_trim) =~ s/-----[^-]+-----|\s//g;
    my $claims = { %CL, role => 'webuser' };
    my @rsa_rows = (
        [ 'RSA: RS256 signed with the key (control)', GET => '/whoami', bearer($rs256->('rsa', $claims)), undef, 200, undef,
          json => sub { is($_[0][0]{role}, 'webuser', 'RS256 accepted') } ],
        [ 'RSA: RS256 signed with another key', GET => '/whoami', bearer($rs256->('other', $claims)), undef, 401, 'PGRST301' ],
        [ 'RSA: HS256 with the PEM as secret', GET => '/whoami', bearer($t->jwt($claims, $pub)), undef, 401, 'PGRST301',
          json => sub { is($_[0]{message}, 'Wrong or unsupported encoding algorithm', 'key confusion: wrong algorithm') } ],
        [ 'RSA: HS256 with the trimmed PEM', GET => '/whoami', bearer($t->jwt($claims, $pub_trim)), undef, 401, 'PGRST301' ],
        [ 'RSA: HS256 with the base64 body', GET => '/whoami', bearer($t->jwt($claims, $pub_body)), undef, 401, 'PGRST301' ],
        [ 'RSA: HS512 with the PEM as secret', GET => '/whoami', bearer($t->jwt($claims, $pub, alg => 'HS512')), undef, 401, 'PGRST301' ],
        [ 'RSA: alg none', GET => '/whoami', bearer($TOK{none}), undef, 401, 'PGRST301' ],
        [ 'RSA: the old HMAC token', GET => '/whoami', bearer($TOK{alice}), undef, 401, 'PGRST301' ],
    );
    run_row($_) for @rsa_rows;
}

# ---------------------------------------------------------------------------
# nothing died, nothing leaked

my @alive = grep { kill 0, $_ } @workers;
is(scalar @alive, scalar @workers, 'every worker survived the hostile requests');
unlike($t->log_contents, qr/\b(?:CRIT|segfault|abort)/i, 'no critical errors in the worker log');
unlike($t->nginx_error_log, qr/upstream prematurely closed|too big header/,
       'nginx never saw a worker die or overflow its header buffer');
is(fixture_state(), $STATE, 'fixture unchanged at the end');
$t->stop_workers;
is($t->sanitizer_reports, '', 'no AddressSanitizer/UBSan reports from the workers');

my $secs = time - $t0;
diag(sprintf('%d hostile requests (%d answered by nginx, %d pg_rest errors, %d successes) in %.1f s',
             $tried, $by_answer{nginx} // 0, $by_answer{pg_rest_error} // 0, $by_answer{pg_rest_ok} // 0, $secs));
done_testing();
