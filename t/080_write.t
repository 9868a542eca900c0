# The write API of PostgREST v12 (issue 4): POST (one object, bulk arrays,
# columns=, missing=default, CSV and form bodies, return=minimal /
# headers-only / representation with select= and embedding, Location),
# upserts (resolution=merge-duplicates / ignore-duplicates, on_conflict, PUT),
# PATCH and DELETE with read filters, counts, Content-Range, limit+order,
# max-affected, the singular media type, db-tx-end with Prefer: tx, and the
# errors of bad bodies, bad Content-Types, oversized bodies and constraint
# violations in a bulk insert.
#
# Facts come from PostgREST's tests and source at v12 (2023-12 .. 2025-05):
# test/spec/Feature/Query/InsertSpec.hs, UpdateSpec.hs, DeleteSpec.hs,
# UpsertSpec.hs, SingularSpec.hs, PreferencesSpec.hs, test/spec/Feature/
# RollbackSpec.hs, src/PostgREST/Response.hs (status, Location,
# Content-Range, Preference-Applied per mutation), ApiRequest/Payload.hs
# (body parsing, "Empty or invalid json", "All object keys must match",
# "Content-Type not acceptable: ..."), ApiRequest/Preferences.hs (the order
# Preference-Applied lists: resolution, missing, return, params, count, tx,
# handling, timezone, max-affected), Query.hs (singular / max-affected /
# off-limits / PUT checks roll the transaction back), Query/QueryBuilder.hs
# and Query/Statements.hs (limited UPDATE/DELETE through the order columns,
# Location only for exactly one row), Error.hs (codes and texts), and the
# docs references/api/tables_views.rst and preferences.rst.
#
# Where docs, code and later versions differ, v12's code and tests win:
# - a body with an unsupported Content-Type is 400 PGRST102 "Content-Type
#   not acceptable: <type>" (InvalidBody); the error table in the docs says
#   415/PGRST107, which the code never sends for request bodies;
# - Preference-Applied follows Preferences.hs (return before tx); the v13
#   docs show "tx=rollback, return=representation";
# - v13 removes the limit/order rule (PGRST109/PGRST110), answers an unknown
#   table with PGRST205, words PGRST116 "Cannot coerce the result to a single
#   JSON object", and applies max-affected to RPC too (PGRST128).
#
# Every "nothing changed" claim is checked by counting and reading the rows
# with psql before and after.  The fixture is t/fixtures/write-api.sql;
# fixture.reset() restores it between sections.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use IO::Select;
use IO::Socket::UNIX;
use JSON::PP;
use Socket qw(SOCK_STREAM);
use Test::More;
use Time::HiRes qw(time);
use PgRestTest;

PgRestTest::skip_unless_ready();

my $t = PgRestTest->new();
$t->start_postgres();
$t->psql_file("$FindBin::Bin/fixtures/write-api.sql");

my %base = (
    'db-uri'       => $t->db_uri(user => 'authenticator', db => 'postgres'),
    'db-schemas'   => 'test',
    'db-anon-role' => 'web_anon',
);
$t->start_workers(config => { %base }, workers => 2);
$t->start_nginx(prefix => '/');

my $JSON     = JSON::PP->new->canonical(1)->utf8(1);
my $JSON_CT  = 'application/json; charset=utf-8';
my $OBJ_CT   = 'application/vnd.pgrst.object+json; charset=utf-8';
my $CSV_CT   = 'text/csv; charset=utf-8';
my $SINGULAR = 'application/vnd.pgrst.object+json';

# ---------------------------------------------------------------------------
# helpers

# A write request.  A reference body is sent as JSON; a body gets
# "Content-Type: application/json" unless the caller names one (HTTP::Tiny
# would otherwise send application/octet-stream).
sub req {
    my ($method, $path, $body, %h) = @_;
    if (defined $body) {
        $body = $JSON->encode($body) if ref $body;
        $h{'Content-Type'} //= 'application/json';
    }
    return $t->request($method, $path, headers => \%h, (defined $body ? (body => $body) : ()));
}

sub hdr {
    my ($r, $name) = @_;
    my $v = $r->{headers}{ lc $name };
    return ref $v eq 'ARRAY' ? join(', ', @$v) : $v;
}

# One assertion per expectation.  A header expected as undef must be absent.
sub check {
    my ($r, $name, %w) = @_;
    my $where = "$r->{url}\n$r->{status} $r->{content}";
    if (exists $w{status}) {
        is($r->{status}, $w{status}, "$name: status $w{status}") or diag($where);
    }
    if (exists $w{json}) {
        is_deeply($r->{json}, $w{json}, "$name: body") or diag($where);
    }
    if (exists $w{body}) {
        is($r->{content}, $w{body}, "$name: body " . ($w{body} eq '' ? '(empty)' : 'text'));
    }
    for my $h ([ ct => 'Content-Type' ], [ range => 'Content-Range' ],
               [ pref => 'Preference-Applied' ], [ location => 'Location' ]) {
        my ($k, $hn) = @$h;
        next unless exists $w{$k};
        if (defined $w{$k}) {
            is(hdr($r, $hn), $w{$k}, "$name: $hn $w{$k}");
        } else {
            ok(!defined hdr($r, $hn), "$name: no $hn") or diag("$hn: " . hdr($r, $hn));
        }
    }
    return $r;
}

# An error answer: error_ok's four assertions (status, JSON, code, keys).
sub err_ok {
    my ($method, $path, $body, $hdrs, $status, $code, $name) = @_;
    my %h = %{ $hdrs || {} };
    if (defined $body) {
        $body = $JSON->encode($body) if ref $body;
        $h{'Content-Type'} //= 'application/json';
    }
    return $t->error_ok($path, $status, $code, $name, method => $method, headers => \%h,
                        (defined $body ? (body => $body) : ()));
}

# psql, one value or lines, trailing newline removed
sub q1 { my $o = $t->psql($_[0]); chomp $o; return $o }

sub reset_db { $t->psql('SELECT fixture.reset()') }

# row count and every row of a table, as psql prints them
sub state_of {
    my ($tbl) = @_;
    my $out = $t->psql("SELECT count(*) FROM test.$tbl; SELECT x::text FROM test.$tbl x ORDER BY x::text;");
    my ($n, @rows) = split /\n/, $out;
    return { n => $n, rows => join("\n", @rows) };
}

sub unchanged_ok {
    my ($tbl, $before, $name) = @_;
    my $now = state_of($tbl);
    is($now->{n}, $before->{n}, "$name: $tbl still has $before->{n} rows");
    is($now->{rows}, $before->{rows}, "$name: $tbl rows unchanged") or diag("before:\n$before->{rows}\nnow:\n$now->{rows}");
}

sub col { my ($r, $k) = @_; return [ map { ref $_ eq 'HASH' ? $_->{$k} : $_ } @{ ref $r->{json} eq 'ARRAY' ? $r->{json} : [] } ] }

# ids of a representation, sorted: where a test is about which rows a
# filter reached, not about their order
sub ids_sorted { my ($r) = @_; return [ sort { $a <=> $b } grep { defined } @{ col($r, 'id') } ] }

# the response with its JSON array sorted by id
sub by_id {
    my ($r) = @_;
    return $r unless ref $r->{json} eq 'ARRAY';
    return { %$r, json => [ sort { ($a->{id} // 0) <=> ($b->{id} // 0) } @{ $r->{json} } ] };
}

# ---------------------------------------------------------------------------
# A minimal FastCGI client on the workers' socket, for what nginx hides:
# a request without Content-Type, and a body the worker must refuse
# before it has arrived.  Returns { status, headers, body, ended, secs }.

sub fcgi_record {
    my ($type, $content) = @_;
    my $len = length $content;
    my $pad = (8 - $len % 8) % 8;
    return pack('CCnnCC', 1, $type, 1, $len, $pad, 0) . $content . ("\0" x $pad);
}

sub fcgi_nv {
    my ($s) = @_;
    my $l = length $s;
    return $l < 128 ? pack('C', $l) : pack('N', $l | 0x80000000);
}

sub fcgi_request {
    my (%o) = @_;
    my $t0 = time;
    my $sock = IO::Socket::UNIX->new(Peer => $t->socket, Type => SOCK_STREAM)
        or return { error => "connect: $!", ended => 0 };
    my $params = join '', map { fcgi_nv($_) . fcgi_nv($o{params}{$_}) . $_ . $o{params}{$_} } sort keys %{ $o{params} };
    my $out = fcgi_record(1, pack('nCx5', 1, 0));    # BEGIN_REQUEST, responder, no keep-alive
    $out .= fcgi_record(4, $params) . fcgi_record(4, '');
    my $in = $o{stdin} // '';
    for (my $i = 0; $i < length $in; $i += 32768) {
        $out .= fcgi_record(5, substr($in, $i, 32768));
    }
    $out .= fcgi_record(5, '') if $o{end_stdin};
    local $SIG{PIPE} = 'IGNORE';
    for (my $off = 0; $off < length $out;) {
        my $n = syswrite($sock, $out, length($out) - $off, $off);
        last unless $n;
        $off += $n;
    }
    my $buf = '';
    my $sel = IO::Select->new($sock);
    my $deadline = $t0 + ($o{timeout} // 5);
    # no keep-alive: the worker closes the connection after END_REQUEST
    while ((my $left = $deadline - time) > 0) {
        last unless $sel->can_read($left);
        my $n = sysread($sock, my $chunk, 65536);
        last unless $n;
        $buf .= $chunk;
    }
    close $sock;
    my ($stdout, $ended) = ('', 0);
    while (length $buf >= 8) {
        my ($v, $type, $id, $len, $pad) = unpack('CCnnC', $buf);
        last if length $buf < 8 + $len + $pad;
        my $content = substr($buf, 8, $len);
        substr($buf, 0, 8 + $len + $pad) = '';
        $stdout .= $content if $type == 6;
        $ended = 1 if $type == 3;
    }
    my ($head, $body) = split /\r?\n\r?\n/, $stdout, 2;
    my %h = map { /^([^:]+):\s*(.*)$/ ? (lc $1 => $2) : () } split /\r?\n/, $head // '';
    my ($status) = ($h{status} // '') =~ /^(\d+)/;
    return { status => $status // (length $stdout ? 200 : undef), headers => \%h, body => $body // '',
             ended => $ended, secs => time - $t0 };
}

sub fcgi_params {
    my ($method, $path, %extra) = @_;
    return { REQUEST_METHOD => $method, SCRIPT_NAME => $path, REQUEST_URI => $path,
             QUERY_STRING => '', SERVER_PROTOCOL => 'HTTP/1.1', HTTP_HOST => 'localhost', %extra };
}

# ===========================================================================
# POST: one object, return=minimal / headers-only / representation

reset_db();

my $r = req('POST', '/products', { name => 'banana', price => 0.25, category_id => 1 });
check($r, 'POST one object', status => 201, body => '', ct => undef, range => '*/*',
      location => undef, pref => undef);
is(q1("SELECT id, name, price, category_id, tags, note, cuser FROM test.products WHERE name = 'banana'"),
   '4|banana|0.25|1|{}|none|web_anon',
   'POST one object: stored; keys not sent took the column defaults (serial id, note, cuser = current_user)');

$r = req('POST', '/products?select=id,name', { name => 'cherry' }, Prefer => 'return=minimal');
check($r, 'POST return=minimal (select= ignored)', status => 201, body => '', ct => undef,
      range => '*/*', location => undef, pref => 'return=minimal');
is(q1("SELECT count(*) FROM test.products WHERE name = 'cherry'"), '1', 'POST return=minimal: stored');

$r = req('POST', '/products', { name => 'date' }, Prefer => 'return=headers-only');
my $date_id = q1("SELECT id FROM test.products WHERE name = 'date'");
check($r, 'POST return=headers-only', status => 201, body => '', ct => undef, range => '*/*',
      location => "/products?id=eq.$date_id", pref => 'return=headers-only');

$r = req('POST', '/products', { id => 100, name => 'elder', price => 1 }, Prefer => 'return=headers-only');
check($r, 'POST return=headers-only with the key in the body', status => 201,
      location => '/products?id=eq.100');
my $loc = hdr($r, 'Location') // '/products?id=eq.-1';
$r = $t->get("$loc&select=id,name");
is_deeply($r->{json}, [ { id => 100, name => 'elder' } ], 'the Location URL finds the new row');

$r = req('POST', '/products', { name => 'fig', price => 2, tags => [ 'sweet', 'dried' ] },
         Prefer => 'return=representation');
my $fig_id = q1("SELECT id FROM test.products WHERE name = 'fig'");
check($r, 'POST return=representation', status => 201, ct => $JSON_CT, range => '*/*',
      location => undef, pref => 'return=representation',
      json => [ { id => $fig_id, name => 'fig', price => 2, category_id => undef,
                  tags => [ 'sweet', 'dried' ], note => 'none', cuser => 'web_anon' } ]);

# two Prefer headers, select= with an embedded parent, count=exact
$r = req('POST', '/products?select=id,name,category:categories(name)',
         { id => 200, name => 'grape', category_id => 1 },
         Prefer => [ 'return=representation', 'count=exact' ]);
check($r, 'POST representation with an embed and count=exact', status => 201, ct => $JSON_CT,
      range => '*/1', location => undef, pref => 'return=representation, count=exact',
      json => [ { id => 200, name => 'grape', category => { name => 'fruit' } } ]);

$r = req('POST', '/products?select=pid:id::text,label:name', { id => 201, name => 'honeydew' },
         Prefer => 'return=representation');
check($r, 'POST representation renames and casts', status => 201,
      json => [ { pid => '201', label => 'honeydew' } ]);

# ===========================================================================
# POST: bulk arrays, empty bodies, views, keys and Location

my $before = state_of('products');
# order= shapes the representation (UpsertSpec "works with batch upserts")
$r = req('POST', '/products?select=id,name,price&order=id.desc',
         [ { id => 300, name => 'kiwi', price => 1 }, { id => 301, name => 'lemon', price => 0.75 },
           { id => 302, name => 'mango', price => undef } ],
         Prefer => 'return=representation, count=exact');
check($r, 'bulk POST with representation, order=id.desc', status => 201, ct => $JSON_CT, range => '*/3',
      pref => 'return=representation, count=exact',
      json => [ { id => 302, name => 'mango', price => undef }, { id => 301, name => 'lemon', price => 0.75 },
                { id => 300, name => 'kiwi', price => 1 } ]);
is(q1("SELECT string_agg(name || ':' || coalesce(price::text, 'null'), ',' ORDER BY id) FROM test.products WHERE id >= 300"),
   'kiwi:1.00,lemon:0.75,mango:null', 'bulk POST: the three rows are stored');
is(q1('SELECT count(*) FROM test.products'), $before->{n} + 3, 'bulk POST: exactly three rows more');

$r = req('POST', '/no_pk', [ { a => 'x', b => 'y' }, { a => 'z', b => undef } ], Prefer => 'count=exact');
check($r, 'bulk POST with count=exact, no representation', status => 201, body => '', ct => undef,
      range => '*/2', location => undef, pref => 'count=exact');

$before = state_of('products');
$r = req('POST', '/products', [], Prefer => 'return=representation');
check($r, 'POST of an empty array', status => 201, json => [], ct => $JSON_CT);
unchanged_ok('products', $before, 'POST of an empty array');

$r = req('POST', '/events', {}, Prefer => 'return=representation');
check($r, 'POST {} into a table whose columns all have defaults', status => 201,
      json => [ { id => 1, kind => 'ping', at => '2024-01-01', cuser => 'web_anon' } ]);
$r = req('POST', '/events', [ {}, {} ]);
check($r, 'POST [{}, {}]', status => 201, body => '');
is(q1('SELECT count(*) FROM test.events'), '3', 'POST [{}, {}] inserted two default rows');

$r = req('POST', '/products', [ { id => 400, name => 'n400' }, { id => 401, name => 'n401' } ],
         Prefer => 'return=headers-only');
check($r, 'bulk POST with return=headers-only: no Location for two rows', status => 201,
      body => '', location => undef, pref => 'return=headers-only');

$r = req('POST', '/no_pk', { a => 'h', b => 'o' }, Prefer => 'return=headers-only');
check($r, 'return=headers-only on a table without a key: no Location', status => 201,
      body => '', location => undef, pref => 'return=headers-only');

$r = req('POST', '/pairs', { a => 2, b => 3, v => 'two-three' }, Prefer => 'return=headers-only');
check($r, 'return=headers-only on a composite key', status => 201, location => '/pairs?a=eq.2&b=eq.3');

$r = req('POST', '/products_view', { id => 500, name => 'via view', price => 5 },
         Prefer => 'return=representation');
check($r, 'POST into an auto-updatable view', status => 201,
      json => [ { id => 500, name => 'via view', price => 5, note => 'none' } ]);
is(q1('SELECT cuser FROM test.products WHERE id = 500'), 'web_anon',
   'POST into a view: the row is in the table, cuser from its default');
$r = req('POST', '/products_view', { id => 501, name => 'via view 2' }, Prefer => 'return=headers-only');
check($r, 'return=headers-only on a view (key traced to the table)', status => 201,
      location => '/products_view?id=eq.501');

# ===========================================================================
# POST: columns=, missing=default, form and CSV bodies

$r = req('POST', '/products?columns=name,price&select=name,price,note',
         { id => 999, name => 'columns one', price => 1, note => 'ignored', junk => 'x' },
         Prefer => 'return=representation');
check($r, 'columns= ignores keys outside the list (even unknown ones)', status => 201,
      json => [ { name => 'columns one', price => 1, note => 'none' } ]);
is(q1('SELECT count(*) FROM test.products WHERE id = 999'), '0', 'columns=: the id key was not used');

$r = req('POST', '/products?columns=name,price,note&select=name,price,note&order=name',
         [ { name => 'col a', price => 1 }, { name => 'col b', note => 'given' },
           { name => 'col c', price => 3, note => undef, extra => 1 } ],
         Prefer => 'return=representation');
check($r, 'columns= with objects of different keys: missing keys are NULL', status => 201,
      pref => 'return=representation',
      json => [ { name => 'col a', price => 1, note => undef }, { name => 'col b', price => undef, note => 'given' },
                { name => 'col c', price => 3, note => undef } ]);

$r = req('POST', '/products?columns=name,price,note&select=name,price,note&order=name',
         [ { name => 'def a', price => 1 }, { name => 'def b', note => 'given' },
           { name => 'def c', price => 3, note => undef } ],
         Prefer => 'return=representation, missing=default');
check($r, 'missing=default: missing keys take the column default, explicit null stays null', status => 201,
      pref => 'missing=default, return=representation',
      json => [ { name => 'def a', price => 1, note => 'none' }, { name => 'def b', price => undef, note => 'given' },
                { name => 'def c', price => 3, note => undef } ]);

$r = req('POST', '/products?columns=name,cuser&select=name,cuser&order=name',
         [ { name => 'cu a' }, { name => 'cu b', cuser => 'someone' } ],
         Prefer => 'missing=default, return=representation');
check($r, 'missing=default on cuser: default current_user', status => 201,
      json => [ { name => 'cu a', cuser => 'web_anon' }, { name => 'cu b', cuser => 'someone' } ]);

$before = state_of('products');
my ($j);
($r, $j) = err_ok('POST', '/products?columns=name,cuser', [ { name => 'nn a' }, { name => 'nn b', cuser => 'x' } ],
                  {}, 400, '23502', 'columns= without missing=default: NULL into NOT NULL cuser');
is($j->{message}, 'null value in column "cuser" of relation "products" violates not-null constraint', '23502 message');
unchanged_ok('products', $before, 'NULL into NOT NULL cuser');

$r = req('POST', '/products', 'name=form+item&price=3.25&note=a%26b',
         'Content-Type' => 'application/x-www-form-urlencoded');
check($r, 'POST application/x-www-form-urlencoded', status => 201, body => '', ct => undef);
is(q1("SELECT name, price, note, cuser FROM test.products WHERE name = 'form item'"), 'form item|3.25|a&b|web_anon',
   'form body: decoded values stored');

$r = req('POST', '/products?select=name,price,note&order=name', "name,price,note\ncsv one,1.50,NULL\ncsv two,2.00,\n",
         'Content-Type' => 'text/csv', Prefer => 'return=representation');
check($r, 'POST text/csv: NULL is null, an empty field is the empty string', status => 201, ct => $JSON_CT,
      json => [ { name => 'csv one', price => 1.5, note => undef }, { name => 'csv two', price => 2, note => '' } ]);

$r = req('POST', '/no_pk', "a,b\nbar,baz", 'Content-Type' => 'text/csv', Accept => 'text/csv',
         Prefer => 'return=representation');
check($r, 'CSV in, CSV representation out', status => 201, ct => $CSV_CT, body => "a,b\nbar,baz");
$r = req('POST', '/no_pk', "a,b\nNULL,foo", 'Content-Type' => 'text/csv', Accept => 'text/csv',
         Prefer => 'return=representation');
check($r, 'CSV NULL comes back as an empty field', status => 201, body => "a,b\n,foo");

$before = state_of('no_pk');
($r, $j) = err_ok('POST', '/no_pk', "a,b\nfoo,bar\nbaz", { 'Content-Type' => 'text/csv' },
                  400, 'PGRST102', 'CSV line with too few fields');
is($j->{message}, 'All lines must have same number of fields', 'PGRST102 message (CSV)');
unchanged_ok('no_pk', $before, 'bad CSV');

# a request without Content-Type is JSON (HTTP::Tiny always sends one, so
# this goes to the worker directly)
{
    my $body = '{"id":600,"name":"no content type"}';
    my $f = fcgi_request(params => fcgi_params('POST', '/products', CONTENT_LENGTH => length $body),
                         stdin => $body, end_stdin => 1, timeout => 10);
    is($f->{status}, 201, 'POST without Content-Type is read as JSON: 201') or diag(explain $f);
    is(q1('SELECT name FROM test.products WHERE id = 600'), 'no content type', 'POST without Content-Type: stored');
}

# ===========================================================================
# POST: bad bodies and errors; nothing is stored

$before = state_of('products');

($r, $j) = err_ok('POST', '/products', '}{ x = 2', {}, 400, 'PGRST102', 'invalid JSON');
is($j->{message}, 'Empty or invalid json', 'PGRST102 message (invalid JSON)');
is($j->{details}, undef, 'PGRST102 details null');
is($j->{hint}, undef, 'PGRST102 hint null');

($r, $j) = err_ok('POST', '/products', '', {}, 400, 'PGRST102', 'empty body');
is($j->{message}, 'Empty or invalid json', 'PGRST102 message (empty body)');

($r, $j) = err_ok('POST', '/products', [ { id => 700, name => 'k1' }, { id => 701, name => 'k2', price => 1 } ],
                  {}, 400, 'PGRST102', 'objects with different keys');
is($j->{message}, 'All object keys must match', 'PGRST102 message (keys)');

($r, $j) = err_ok('POST', '/products', '[{"id":702,"name":"k3"}, 123, "x"]', {}, 400, 'PGRST102',
                  'array with elements that are not objects');
is($j->{message}, 'All object keys must match', 'PGRST102 message (non-objects)');

($r, $j) = err_ok('POST', '/products', { name => 'k4', nosuch => 1 }, {}, 400, 'PGRST204', 'a key that is not a column');
is($j->{message}, "Could not find the 'nosuch' column of 'products' in the schema cache", 'PGRST204 message (body key)');

($r, $j) = err_ok('POST', '/products?columns=name,nosuch', { name => 'k5' }, {}, 400, 'PGRST204',
                  'columns= naming a missing column');
is($j->{message}, "Could not find the 'nosuch' column of 'products' in the schema cache", 'PGRST204 message (columns=)');

for my $ct ('text/plain', 'application/octet-stream', 'application/xml') {
    ($r, $j) = err_ok('POST', '/products', '{"name":"k6"}', { 'Content-Type' => $ct }, 400, 'PGRST102',
                      "Content-Type $ct");
    is($j->{message}, "Content-Type not acceptable: $ct", "PGRST102 message ($ct)");
}

($r, $j) = err_ok('POST', '/products', { name => 'k7' }, { Prefer => 'handling=strict, anything' },
                  400, 'PGRST122', 'handling=strict with an unknown preference');
is($j->{message}, 'Invalid preferences given with handling=strict', 'PGRST122 message');
is($j->{details}, 'Invalid preferences: anything', 'PGRST122 details');

($r, $j) = err_ok('POST', '/products', { id => 1, name => 'k8' }, {}, 409, '23505', 'duplicate primary key');
is($j->{message}, 'duplicate key value violates unique constraint "products_pkey"', '23505 message');
is($j->{details}, 'Key (id)=(1) already exists.', '23505 details');

($r, $j) = err_ok('POST', '/products', { name => 'apple' }, {}, 409, '23505', 'duplicate unique name');
is($j->{message}, 'duplicate key value violates unique constraint "products_name_key"', '23505 message (unique)');

unchanged_ok('products', $before, 'the bad POSTs');

# v12 answers 404 (body {} from the plan, or 42P01 from PostgreSQL); v13 PGRST205
$r = req('POST', '/nosuch', { a => 1 });
is($r->{status}, 404, 'POST to an unknown table: 404');

# ---------------------------------------------------------------------------
# a bulk insert whose 500th row violates a constraint inserts nothing and
# answers with the constraint's error

sub rows499 { return [ map { { id => 1000 + $_, val => 1, cat => 1 } } 0 .. 498 ] }

for my $case (
    [ '23505', 409, { id => 1, val => 1, cat => 1 },
      'duplicate key value violates unique constraint "bulk_target_pkey"', 'Key (id)=(1) already exists.' ],
    [ '23503', 409, { id => 1499, val => 1, cat => 99 },
      'insert or update on table "bulk_target" violates foreign key constraint "bulk_target_cat_fkey"',
      'Key (cat)=(99) is not present in table "categories".' ],
    [ '23502', 400, { id => 1499, val => undef, cat => 1 },
      'null value in column "val" of relation "bulk_target" violates not-null constraint',
      'Failing row contains (1499, null, 1).' ],
    [ '23514', 400, { id => 1499, val => -1, cat => 1 },
      'new row for relation "bulk_target" violates check constraint "bulk_target_val_check"',
      'Failing row contains (1499, -1, 1).' ],
    [ '22P02', 400, { id => 1499, val => 'abc', cat => 1 },
      'invalid input syntax for type integer: "abc"', undef ],
) {
    my ($code, $status, $last, $msg, $details) = @$case;
    my $rows = rows499();
    push @$rows, $last;
    is(scalar @$rows, 500, "bulk $code: 500 rows");
    $before = state_of('bulk_target');
    ($r, $j) = err_ok('POST', '/bulk_target', $rows, { Prefer => 'return=representation' }, $status, $code,
                      "bulk insert, row 500 violates ($code)");
    is($j->{message}, $msg, "bulk $code: message");
    is($j->{details}, $details, "bulk $code: details") if defined $details;
    unchanged_ok('bulk_target', $before, "bulk $code");
}

# ===========================================================================
# upsert: resolution=merge-duplicates / ignore-duplicates, on_conflict

reset_db();

$r = req('POST', '/langs?order=name', [ { name => 'Go', rank => 5 }, { name => 'Java', rank => 7 } ],
         Prefer => 'return=representation, resolution=merge-duplicates');
check($r, 'merge-duplicates inserting and updating', status => 201, ct => $JSON_CT,
      pref => 'resolution=merge-duplicates, return=representation',
      json => [ { name => 'Go', rank => 5 }, { name => 'Java', rank => 7 } ]);
is(q1("SELECT string_agg(name || '=' || rank, ',' ORDER BY name) FROM test.langs"), 'C=1,Go=5,Java=7,Python=3',
   'merge-duplicates: one row inserted, one updated');

$r = req('POST', '/langs?order=name', [ { name => 'C', rank => 9 }, { name => 'Python', rank => 8 } ],
         Prefer => 'resolution=merge-duplicates, return=representation');
check($r, 'merge-duplicates only updating: 200', status => 200, pref => 'resolution=merge-duplicates, return=representation',
      json => [ { name => 'C', rank => 9 }, { name => 'Python', rank => 8 } ]);

$r = req('POST', '/langs', [ { name => 'C', rank => 10 } ], Prefer => 'resolution=merge-duplicates');
check($r, 'merge-duplicates only updating, no representation: 200', status => 200, body => '', ct => undef,
      range => '*/*', pref => 'resolution=merge-duplicates');
is(q1("SELECT rank FROM test.langs WHERE name = 'C'"), '10', 'merge-duplicates without representation: updated');

$r = req('POST', '/langs', [], Prefer => 'resolution=merge-duplicates, return=representation');
check($r, 'merge-duplicates with an empty array: 200 (nothing inserted)', status => 200, json => []);

$r = req('POST', '/langs', [ { name => 'C', rank => 50 }, { name => 'Rust', rank => 4 } ],
         Prefer => 'resolution=ignore-duplicates, return=representation');
check($r, 'ignore-duplicates: only the new row comes back', status => 201,
      pref => 'resolution=ignore-duplicates, return=representation', json => [ { name => 'Rust', rank => 4 } ]);
is(q1("SELECT rank FROM test.langs WHERE name = 'C'"), '10', 'ignore-duplicates: the existing row is untouched');

$before = state_of('langs');
$r = req('POST', '/langs', [ { name => 'C', rank => 51 } ], Prefer => 'resolution=ignore-duplicates, return=representation');
check($r, 'ignore-duplicates, all duplicates: still 201', status => 201, json => []);
unchanged_ok('langs', $before, 'ignore-duplicates of existing rows');

$r = req('POST', '/codes?on_conflict=code&select=code,v,extra&order=code',
         [ { code => 'A', v => 'ALPHA' }, { code => 'C', v => 'gamma' } ],
         Prefer => 'resolution=merge-duplicates, return=representation');
check($r, 'on_conflict=code with merge-duplicates', status => 201,
      pref => 'resolution=merge-duplicates, return=representation',
      json => [ { code => 'A', v => 'ALPHA', extra => 'keep' }, { code => 'C', v => 'gamma', extra => 'keep' } ]);
is(q1("SELECT string_agg(code || '=' || v, ',' ORDER BY code) FROM test.codes"), 'A=ALPHA,B=beta,C=gamma',
   'on_conflict=code: A updated in place, C inserted');
is(q1("SELECT id FROM test.codes WHERE code = 'A'"), '1', 'on_conflict=code: A kept its id');

$r = req('POST', '/codes?on_conflict=code&select=code,v', [ { code => 'B', v => 'BETA' }, { code => 'D', v => 'delta' } ],
         Prefer => 'resolution=ignore-duplicates, return=representation');
check($r, 'on_conflict=code with ignore-duplicates', status => 201, json => [ { code => 'D', v => 'delta' } ]);
is(q1("SELECT v FROM test.codes WHERE code = 'B'"), 'beta', 'ignore-duplicates on code: B untouched');

$r = req('POST', '/codes?columns=id,code,v&select=code,v,extra&order=code',
         [ { id => 1, code => 'A', v => 'a again' }, { code => 'E', v => 'eps' } ],
         Prefer => 'return=representation, resolution=merge-duplicates, missing=default');
check($r, 'merge-duplicates with missing=default: a row without id takes the serial default', status => 201,
      pref => 'resolution=merge-duplicates, missing=default, return=representation',
      json => [ { code => 'A', v => 'a again', extra => 'keep' }, { code => 'E', v => 'eps', extra => 'keep' } ]);

$r = req('POST', '/no_pk', [ { a => '1', b => '0' } ], Prefer => 'return=representation, resolution=merge-duplicates');
check($r, 'resolution on a table without a key is ignored (not echoed)', status => 201,
      pref => 'return=representation', json => [ { a => '1', b => '0' } ]);
is(q1("SELECT count(*) FROM test.no_pk WHERE a = '1'"), '2', 'resolution ignored: a second (1, 0) row');

# refused upserts change nothing, not even the rows before the bad one
$before = state_of('langs');
($r, $j) = err_ok('POST', '/langs', [ { name => 'C', rank => 2 }, { name => 'Go', rank => -1 } ],
                  { Prefer => 'resolution=merge-duplicates' }, 400, '23514', 'upsert with a CHECK violation');
is($j->{message}, 'new row for relation "langs" violates check constraint "langs_rank_check"', '23514 message (upsert)');
unchanged_ok('langs', $before, 'refused upsert (CHECK)');

$before = state_of('codes');
($r, $j) = err_ok('POST', '/codes?on_conflict=v', [ { code => 'Z', v => 'alpha' } ],
                  { Prefer => 'resolution=merge-duplicates' }, 400, '42P10', 'on_conflict on a column without a unique constraint');
is($j->{message}, 'there is no unique or exclusion constraint matching the ON CONFLICT specification', '42P10 message');
unchanged_ok('codes', $before, 'refused upsert (on_conflict)');

# ===========================================================================
# PUT: single-row upsert by the whole primary key

$r = req('PUT', '/langs?name=eq.Zig', { name => 'Zig', rank => 20 });
check($r, 'PUT inserting', status => 204, body => '', ct => undef, pref => undef);
is(q1("SELECT rank FROM test.langs WHERE name = 'Zig'"), '20', 'PUT inserted the row');

$r = req('PUT', '/langs?name=eq.Zig', { name => 'Zig', rank => 21 }, Prefer => 'return=representation');
check($r, 'PUT updating with representation: 200', status => 200, ct => $JSON_CT,
      pref => 'return=representation', json => [ { name => 'Zig', rank => 21 } ]);
is(q1("SELECT rank FROM test.langs WHERE name = 'Zig'"), '21', 'PUT updated the row');

$r = req('PUT', '/langs?name=eq.Nim', { name => 'Nim', rank => 22 }, Prefer => 'return=representation');
check($r, 'PUT inserting with representation: 201', status => 201, json => [ { name => 'Nim', rank => 22 } ]);

$r = req('PUT', '/langs?name=eq.Nim', { name => 'Nim', rank => 23 }, Prefer => 'return=minimal');
check($r, 'PUT return=minimal', status => 204, body => '', pref => 'return=minimal');

$r = req('PUT', '/langs?name=eq.Odin', { name => 'Odin', rank => 24 },
         Prefer => 'return=representation', Accept => $SINGULAR);
check($r, 'PUT with the singular media type', status => 201, ct => $OBJ_CT, json => { name => 'Odin', rank => 24 });

$r = req('PUT', '/pairs?a=eq.5&b=eq.6', { a => 5, b => 6, v => 'five-six' });
check($r, 'PUT on a composite key', status => 204, body => '');
$r = req('PUT', '/pairs?b=eq.6&a=eq.5', { a => 5, b => 6, v => 'five-six!' }, Prefer => 'return=representation');
check($r, 'PUT on a composite key, filters in another order', status => 200,
      json => [ { a => 5, b => 6, v => 'five-six!' } ]);

$before = state_of('langs');
my $pairs_before = state_of('pairs');
my %put_body = (langs => { name => 'Zig', rank => 30 }, pairs => { a => 5, b => 6, v => 'x' },
                no_pk => { a => '1', b => '0' });
for my $path ('/langs?rank=eq.19', '/langs?name=not.eq.Zig', '/langs?name=in.(Zig)', '/langs?and=(name.eq.Zig)',
              '/langs?name=gt.Zig', '/langs?name=eq.Zig&rank=eq.21', '/langs', '/pairs?a=eq.5',
              '/no_pk?a=eq.1&b=eq.0') {
    my ($tbl) = $path =~ m{^/(\w+)};
    ($r, $j) = err_ok('PUT', $path, $put_body{$tbl}, {}, 405, 'PGRST105', "PUT $path");
    is($j->{message}, "Filters must include all and only primary key columns with 'eq' operators",
       "PGRST105 message ($path)");
}
($r, $j) = err_ok('PUT', '/langs?name=eq.Zig', { name => 'Rust', rank => 30 }, {}, 400, 'PGRST115',
                  'PUT body key differs from the URL');
is($j->{message}, 'Payload values do not match URL in primary key column(s)', 'PGRST115 message');
($r, $j) = err_ok('PUT', '/pairs?a=eq.5&b=eq.6', { a => 5, b => 7, v => 'x' }, {}, 400, 'PGRST115',
                  'PUT composite body key differs from the URL');
for my $q ('limit=1', 'offset=1') {
    ($r, $j) = err_ok('PUT', "/langs?name=eq.Zig&$q", { name => 'Zig', rank => 30 }, {}, 400, 'PGRST114', "PUT with $q");
    is($j->{message}, 'limit/offset querystring parameters are not allowed for PUT', "PGRST114 message ($q)");
}
unchanged_ok('langs', $before, 'refused PUTs');
unchanged_ok('pairs', $pairs_before, 'refused PUTs');

# ===========================================================================
# PATCH

reset_db();

$r = req('PATCH', '/tasks?id=eq.1', { done => JSON::PP::true });
check($r, 'PATCH one row', status => 204, body => '', ct => undef, range => '0-0/*', pref => undef);
is(q1('SELECT done FROM test.tasks WHERE id = 1'), 't', 'PATCH one row: updated');

$r = req('PATCH', '/tasks?prio=eq.5', { title => 'five' });
check($r, 'PATCH two rows', status => 204, range => '0-1/*');
is(q1("SELECT string_agg(id::text, ',' ORDER BY id) FROM test.tasks WHERE title = 'five'"), '8,9', 'PATCH two rows: updated');

$before = state_of('tasks');
$r = req('PATCH', '/tasks?id=eq.999', { title => 'none' });
check($r, 'PATCH no row', status => 204, body => '', range => '*/*');
unchanged_ok('tasks', $before, 'PATCH no row');

$r = req('PATCH', '/tasks?prio=eq.3&select=id,title', { title => 'three' }, Prefer => 'return=representation');
check(by_id($r), 'PATCH with representation', status => 200, ct => $JSON_CT, range => '0-1/*',
      pref => 'return=representation', json => [ { id => 5, title => 'three' }, { id => 6, title => 'three' } ]);

$r = req('PATCH', '/tasks?id=eq.999', { title => 'none' }, Prefer => 'return=representation');
check($r, 'PATCH no row with representation', status => 200, json => [], range => '*/*');

$r = req('PATCH', '/tasks?prio=eq.2', { prio => 20 }, Prefer => 'count=exact');
check($r, 'PATCH with count=exact', status => 204, range => '0-1/2', pref => 'count=exact');
$r = req('PATCH', '/tasks?prio=eq.2', { prio => 21 }, Prefer => 'count=exact');
check($r, 'PATCH no row with count=exact', status => 204, range => '*/0');

$r = req('PATCH', '/tasks?id=eq.3&select=id,category:categories(name)', { category_id => 3 },
         Prefer => 'return=representation');
check($r, 'PATCH representation with an embedded parent', status => 200,
      json => [ { id => 3, category => { name => 'other' } } ]);

$r = req('PATCH', '/tasks?or=(id.eq.1,id.eq.10)&select=id', { prio => 7 }, Prefer => 'return=representation');
is_deeply(ids_sorted($r), [ 1, 10 ], 'PATCH filtered with or=()');
$r = req('PATCH', '/tasks?category_id=is.null&select=id', { title => 'no cat' }, Prefer => 'return=representation');
is_deeply(ids_sorted($r), [ 5, 8 ], 'PATCH filtered with is.null');
$r = req('PATCH', '/tasks?title=like.t1*&select=id', { done => JSON::PP::false }, Prefer => 'return=representation');
is_deeply(ids_sorted($r), [ 1, 10 ], 'PATCH filtered with like');
$r = req('PATCH', '/tasks?id=in.(2,4)&done=is.true&select=id', { done => JSON::PP::false }, Prefer => 'return=representation');
is_deeply(ids_sorted($r), [ 4 ], 'PATCH filtered with in and is.true');
is(q1('SELECT string_agg(id::text, \',\' ORDER BY id) FROM test.tasks WHERE done'), '7', 'PATCH filters: only id 7 is still done');

$before = state_of('tasks');
$r = req('PATCH', '/tasks', {});
check($r, 'PATCH with {}', status => 204, body => '', range => '*/*');
$r = req('PATCH', '/tasks?select=id', {}, Prefer => 'return=representation');
check($r, 'PATCH with {} and representation', status => 200, json => []);
unchanged_ok('tasks', $before, 'PATCH with {}');

($r, $j) = err_ok('PATCH', '/tasks?id=eq.1', { title => 'x', nosuch => 1 }, {}, 400, 'PGRST204', 'PATCH a key that is not a column');
is($j->{message}, "Could not find the 'nosuch' column of 'tasks' in the schema cache", 'PGRST204 message (PATCH)');
($r, $j) = err_ok('PATCH', '/tasks?id=eq.1', '{"title": ', {}, 400, 'PGRST102', 'PATCH with invalid JSON');
is($j->{message}, 'Empty or invalid json', 'PGRST102 message (PATCH)');
err_ok('PATCH', '/tasks?id=eq.1', '{"title":"x"}', { 'Content-Type' => 'text/plain' }, 400, 'PGRST102', 'PATCH text/plain');
($r, $j) = err_ok('PATCH', '/tasks', { category_id => 99 }, {}, 409, '23503', 'PATCH violating a foreign key');
unchanged_ok('tasks', $before, 'refused PATCHes');

$r = req('PATCH', '/tasks?id=eq.2&columns=title&select=id,title', { title => 'only title', prio => 99, junk => 1 },
         Prefer => 'return=representation');
check($r, 'PATCH with columns=', status => 200, json => [ { id => 2, title => 'only title' } ]);
is(q1('SELECT prio FROM test.tasks WHERE id = 2'), '1', 'PATCH with columns=: other keys ignored');

# PostgREST v12 has no guard against a full-table PATCH (pg-safeupdate is the
# documented way); every row changes
$r = req('PATCH', '/tasks', { category_id => 3 });
check($r, 'PATCH without filters', status => 204, range => '0-9/*');
is(q1('SELECT count(*) FROM test.tasks WHERE category_id = 3'), '10', 'PATCH without filters: all ten rows');

# ===========================================================================
# DELETE

reset_db();

$r = req('DELETE', '/tasks?id=eq.10');
check($r, 'DELETE one row', status => 204, body => '', ct => undef, range => '*/*', pref => undef);
is(q1('SELECT count(*) FROM test.tasks WHERE id = 10'), '0', 'DELETE one row: gone');

$r = req('DELETE', '/tasks?id=eq.9&select=id,title', undef, Prefer => 'return=representation, count=exact');
check($r, 'DELETE with representation and count', status => 200, ct => $JSON_CT, range => '*/1',
      pref => 'return=representation, count=exact', json => [ { id => 9, title => 't9' } ]);

$before = state_of('tasks');
$r = req('DELETE', '/tasks?id=eq.999', undef, Prefer => 'return=representation');
check($r, 'DELETE no row with representation', status => 200, json => [], range => '*/*');
$r = req('DELETE', '/tasks?id=eq.999');
check($r, 'DELETE no row', status => 204, range => '*/*');
unchanged_ok('tasks', $before, 'DELETE no row');

$r = req('DELETE', '/tasks?done=is.true', undef, Prefer => 'count=exact');
check($r, 'DELETE with count=exact', status => 204, body => '', range => '*/2', pref => 'count=exact');
is(q1('SELECT count(*) FROM test.tasks WHERE id IN (4, 7)'), '0', 'DELETE with count=exact: both gone');

$r = req('DELETE', '/tasks?id=eq.1&select=id,category:categories(name)', undef, Prefer => 'return=representation');
check($r, 'DELETE representation with an embedded parent', status => 200,
      json => [ { id => 1, category => { name => 'fruit' } } ]);

$r = req('DELETE', '/tasks?or=(prio.eq.3,title.eq.t8)&select=id', undef, Prefer => 'return=representation');
is_deeply(ids_sorted($r), [ 5, 6, 8 ], 'DELETE filtered with or=()');

$before = state_of('categories');
($r, $j) = err_ok('DELETE', '/categories?id=eq.1', undef, {}, 409, '23503', 'DELETE of a referenced row');
like($j->{message} // '', qr/^update or delete on table "categories" violates foreign key constraint/, '23503 message (DELETE)');
unchanged_ok('categories', $before, 'refused DELETE');

# no filter: every row (PostgREST v12 has no guard)
$r = req('DELETE', '/tasks', undef, Prefer => 'count=exact');
check($r, 'DELETE without filters', status => 204, range => '*/2');
is(q1('SELECT count(*) FROM test.tasks'), '0', 'DELETE without filters: table empty');

# ===========================================================================
# limit + order on PATCH/DELETE (v12; v13 removed the rule and PGRST109/110)

reset_db();

$r = req('PATCH', '/tasks?order=id&limit=2', { prio => 99 });
check($r, 'PATCH order=id&limit=2', status => 204, range => '0-1/*');
is(q1("SELECT string_agg(id::text, ',' ORDER BY id) FROM test.tasks WHERE prio = 99"), '1,2', 'limited PATCH: the first two rows');

$r = req('PATCH', '/tasks?order=id&limit=1&offset=2', { prio => 98 });
check($r, 'PATCH order=id&limit=1&offset=2', status => 204);
is(q1("SELECT string_agg(id::text, ',' ORDER BY id) FROM test.tasks WHERE prio = 98"), '3', 'limited PATCH with offset: the third row');

$r = req('PATCH', '/tasks?order=id.desc&limit=2&done=is.false&select=id', { title => 'late' }, Prefer => 'return=representation');
is_deeply(ids_sorted($r), [ 9, 10 ], 'limited PATCH with a filter and order desc');

$r = req('DELETE', '/tasks?order=id&limit=1&offset=1&prio=gt.90');
check($r, 'DELETE order=id&limit=1&offset=1 with a filter', status => 204);
is(q1('SELECT string_agg(id::text, \',\' ORDER BY id) FROM test.tasks WHERE prio > 90'), '1,3', 'limited DELETE: only id 2 gone');

$r = req('DELETE', '/tasks?order=id.desc&limit=2');
check($r, 'DELETE order=id.desc&limit=2', status => 204);
is(q1('SELECT max(id) FROM test.tasks'), '8', 'limited DELETE: ids 9 and 10 gone');

$before = state_of('tasks');
for my $m ('PATCH', 'DELETE') {
    ($r, $j) = err_ok($m, '/tasks?limit=1', $m eq 'PATCH' ? { title => 'x' } : undef, {}, 400, 'PGRST109',
                      "$m with limit and no order");
    is($j->{message}, "A 'limit' was applied without an explicit 'order'", "PGRST109 message ($m)");
    is($j->{hint}, "Apply an 'order' using unique column(s)", "PGRST109 hint ($m)");
}
# ordering by a non-unique column lets more rows match than the limit
($r, $j) = err_ok('PATCH', '/tasks?order=category_id&limit=1&category_id=not.is.null', { title => 'x' }, {},
                  400, 'PGRST110', 'PATCH with limit over a non-unique order');
is($j->{message}, 'The maximum number of rows allowed to change was surpassed', 'PGRST110 message');
# (category 1 is left on ids 1 and 6 after the deletes above)
is($j->{details}, 'Results contain 2 rows changed but the maximum number allowed is 1', 'PGRST110 details');
unchanged_ok('tasks', $before, 'refused limited PATCH/DELETE');

# ===========================================================================
# Prefer: max-affected (only with handling=strict; PATCH and DELETE only)

reset_db();

$before = state_of('tasks');
($r, $j) = err_ok('DELETE', '/tasks?id=lte.5', undef, { Prefer => 'handling=strict, max-affected=3' },
                  400, 'PGRST124', 'DELETE over max-affected');
is($j->{message}, 'Query result exceeds max-affected preference constraint', 'PGRST124 message');
is($j->{details}, 'The query affects 5 rows', 'PGRST124 details (DELETE)');
($r, $j) = err_ok('PATCH', '/tasks?id=eq.1', { title => 'x' }, { Prefer => 'handling=strict, max-affected=0' },
                  400, 'PGRST124', 'PATCH over max-affected=0');
is($j->{details}, 'The query affects 1 rows', 'PGRST124 details (PATCH)');
($r, $j) = err_ok('PATCH', '/tasks', { prio => 0 }, { Prefer => 'return=representation, handling=strict, max-affected=9' },
                  400, 'PGRST124', 'PATCH of all ten rows over max-affected=9');
is($j->{details}, 'The query affects 10 rows', 'PGRST124 details (all rows)');
unchanged_ok('tasks', $before, 'exceeded max-affected');

$r = req('PATCH', '/tasks?prio=eq.1&select=id', { title => 'p1' },
         Prefer => 'handling=strict, max-affected=2, return=representation');
check(by_id($r), 'PATCH within max-affected', status => 200, json => [ { id => 1 }, { id => 2 } ],
      pref => 'return=representation, handling=strict, max-affected=2');
$r = req('DELETE', '/tasks?id=in.(9,10)', undef, Prefer => 'handling=strict, max-affected=2');
check($r, 'DELETE within max-affected', status => 204, pref => 'handling=strict, max-affected=2');
is(q1('SELECT count(*) FROM test.tasks WHERE id IN (9, 10)'), '0', 'DELETE within max-affected: deleted');
$r = req('DELETE', '/tasks?id=in.(7,8)', undef, Prefer => 'handling=lenient, max-affected=1');
check($r, 'max-affected with handling=lenient is ignored', status => 204, pref => 'handling=lenient');
is(q1('SELECT count(*) FROM test.tasks WHERE id IN (7, 8)'), '0', 'lenient max-affected: deleted');
$r = req('DELETE', '/tasks?id=in.(5,6)', undef, Prefer => 'max-affected=1');
check($r, 'max-affected without handling is ignored', status => 204, pref => undef);
is(q1('SELECT count(*) FROM test.tasks WHERE id IN (5, 6)'), '0', 'max-affected without handling: deleted');
$r = req('POST', '/langs', [ { name => 'Ada', rank => 30 }, { name => 'Lua', rank => 31 } ],
         Prefer => 'handling=strict, max-affected=1');
check($r, 'max-affected does not apply to POST', status => 201, pref => 'handling=strict');
is(q1("SELECT count(*) FROM test.langs WHERE name IN ('Ada', 'Lua')"), '2', 'POST with max-affected: both stored');

# ===========================================================================
# the singular media type on writes: exactly one row, else 406 and rollback

reset_db();

my %tasks0 = (tasks => state_of('tasks'), langs => state_of('langs'));
for my $case ([ 'PATCH', '/tasks?prio=eq.1', { title => 's' }, 2 ],
              [ 'PATCH', '/tasks?id=eq.999', { title => 's' }, 0 ],
              [ 'DELETE', '/tasks?prio=eq.5', undef, 2 ],
              [ 'DELETE', '/tasks?id=eq.999', undef, 0 ],
              [ 'POST', '/langs', [ { name => 'S1', rank => 1 }, { name => 'S2', rank => 2 } ], 2 ],
              [ 'POST', '/langs', [], 0 ]) {
    my ($m, $path, $body, $n) = @$case;
    for my $rep ('return=minimal', 'return=representation') {
        ($r, $j) = err_ok($m, $path, $body, { Accept => $SINGULAR, Prefer => $rep }, 406, 'PGRST116',
                          "singular $m $path ($n rows, $rep)");
        is($j->{message}, 'JSON object requested, multiple (or no) rows returned', "PGRST116 message ($m, $n rows)");
        is($j->{details}, "The result contains $n rows", "PGRST116 details ($m, $n rows, $rep)");
    }
}
unchanged_ok('tasks', $tasks0{tasks}, 'singular failures');
unchanged_ok('langs', $tasks0{langs}, 'singular failures');

$r = req('PATCH', '/tasks?id=eq.3&select=id,title', { title => 'single' }, Accept => $SINGULAR, Prefer => 'return=representation');
check($r, 'singular PATCH of one row', status => 200, ct => $OBJ_CT, json => { id => 3, title => 'single' });
$r = req('PATCH', '/tasks?id=eq.3', { title => 'single again' }, Accept => $SINGULAR);
check($r, 'singular PATCH of one row, minimal', status => 204, body => '');
$r = req('POST', '/langs?select=name,rank', { name => 'Solo', rank => 5 }, Accept => $SINGULAR, Prefer => 'return=representation');
check($r, 'singular POST of one row', status => 201, ct => $OBJ_CT, json => { name => 'Solo', rank => 5 });
$r = req('DELETE', '/tasks?id=eq.4&select=id,title', undef, Accept => $SINGULAR, Prefer => 'return=representation');
check($r, 'singular DELETE of one row', status => 200, ct => $OBJ_CT, json => { id => 4, title => 't4' });
is(q1("SELECT string_agg(title, ',' ORDER BY id) FROM test.tasks WHERE id IN (3, 4)"), 'single again',
   'singular successes were committed');

# ===========================================================================
# a body over max-body-bytes (pg_rest's own key; PostgREST has none):
# 413 with pg_rest's PGRST413, nothing stored

my $MAX_BODY = 4096;
$t->start_workers(config => { %base, 'max-body-bytes' => $MAX_BODY }, workers => 1);
reset_db();

$before = state_of('bulk_target');
my $big = '[' . join(',', map { qq({"id":$_,"val":1,"cat":1}) } 10_000 .. 10_250) . ']';
ok(length($big) > $MAX_BODY && length($big) < 3 * $MAX_BODY,
   'the big body is over max-body-bytes (and small enough for nginx to hand over in one write)');
($r, $j) = err_ok('POST', '/bulk_target', $big, {}, 413, 'PGRST413', 'a body over max-body-bytes');
unchanged_ok('bulk_target', $before, 'an oversized body');

# The worker must refuse from CONTENT_LENGTH alone: it is sent 1000 of
# 50 MB announced bytes and must answer without waiting for the rest.
{
    my $f = fcgi_request(params => fcgi_params('POST', '/bulk_target', CONTENT_TYPE => 'application/json',
                                               CONTENT_LENGTH => 50_000_000),
                         stdin => ('[' . ('{"id":1,"val":1},' x 60)), end_stdin => 0, timeout => 5);
    ok($f->{ended}, 'oversized CONTENT_LENGTH: the worker ends the request without reading the body')
        or diag(explain $f);
    is($f->{status}, 413, 'oversized CONTENT_LENGTH: 413');
    my $e = eval { $JSON->decode($f->{body}) } || {};
    is($e->{code}, 'PGRST413', 'oversized CONTENT_LENGTH: PGRST413 body');
    ok($f->{secs} < 5, 'oversized CONTENT_LENGTH: answered at once');
    $r = $t->get('/bulk_target?select=id&order=id');
    is_deeply(col($r, 'id'), [ 1, 2 ], 'the workers still serve afterwards; nothing stored');
}


# ===========================================================================
# transactions: db-tx-end and Prefer: tx

sub tx_mode {
    my ($mode) = @_;
    $t->start_workers(config => { %base, (defined $mode ? ('db-tx-end' => $mode) : ()) }, workers => 1);
    reset_db();
}

# default db-tx-end = commit: Prefer tx is not honoured, not echoed
tx_mode(undef);
$r = req('PATCH', '/tasks?id=eq.1&select=id,title', { title => 'kept' }, Prefer => 'return=representation, tx=rollback');
check($r, 'commit: tx=rollback ignored', status => 200, pref => 'return=representation',
      json => [ { id => 1, title => 'kept' } ]);
is(q1('SELECT title FROM test.tasks WHERE id = 1'), 'kept', 'commit: the change is committed');

tx_mode('commit-allow-override');
$r = req('PATCH', '/tasks?id=eq.1', { title => 'committed' });
check($r, 'commit-allow-override without Prefer tx', status => 204, pref => undef);
is(q1('SELECT title FROM test.tasks WHERE id = 1'), 'committed', 'commit-allow-override: committed by default');

$before = state_of('tasks');
$r = req('PATCH', '/tasks?id=eq.2&select=id,title', { title => 'rolled back' }, Prefer => 'return=representation, tx=rollback');
check($r, 'tx=rollback on PATCH: the response shows the change', status => 200,
      pref => 'return=representation, tx=rollback', json => [ { id => 2, title => 'rolled back' } ]);
$r = req('DELETE', '/tasks?id=lte.5', undef, Prefer => 'tx=rollback');
check($r, 'tx=rollback on DELETE', status => 204, pref => 'tx=rollback');
unchanged_ok('tasks', $before, 'tx=rollback');

my $langs_before = state_of('langs');
$r = req('POST', '/langs', { name => 'Tmp', rank => 9 }, Prefer => 'tx=rollback, return=representation');
check($r, 'tx=rollback on POST', status => 201, pref => 'return=representation, tx=rollback',
      json => [ { name => 'Tmp', rank => 9 } ]);
$r = req('PUT', '/langs?name=eq.C', { name => 'C', rank => 99 }, Prefer => 'tx=rollback');
check($r, 'tx=rollback on PUT', status => 204, pref => 'tx=rollback');
unchanged_ok('langs', $langs_before, 'tx=rollback on POST and PUT');

$r = req('PATCH', '/tasks?id=eq.3', { title => 'tx commit' }, Prefer => 'tx=commit');
check($r, 'tx=commit', status => 204, pref => 'tx=commit');
is(q1('SELECT title FROM test.tasks WHERE id = 3'), 'tx commit', 'tx=commit: committed');

# errors end the transaction before the preference is applied: no echo
($r, $j) = err_ok('POST', '/langs', { name => 'C', rank => 1 }, { Prefer => 'tx=commit' }, 409, '23505',
                  'an error under tx=commit');
ok(!defined hdr($r, 'Preference-Applied'), 'an error carries no Preference-Applied');

tx_mode('rollback');
$before = state_of('tasks');
$langs_before = state_of('langs');
$r = req('POST', '/langs', { name => 'Never', rank => 1 }, Prefer => 'return=representation');
check($r, 'rollback: POST answers as usual', status => 201, json => [ { name => 'Never', rank => 1 } ]);
$r = req('PATCH', '/tasks?id=eq.1', { title => 'never' }, Prefer => 'tx=commit');
check($r, 'rollback: tx=commit is not honoured', status => 204, pref => undef);
$r = req('DELETE', '/tasks');
check($r, 'rollback: DELETE of everything answers 204', status => 204);
$r = req('PUT', '/langs?name=eq.C', { name => 'C', rank => 42 });
check($r, 'rollback: PUT answers 204', status => 204);
unchanged_ok('tasks', $before, 'db-tx-end = rollback');
unchanged_ok('langs', $langs_before, 'db-tx-end = rollback');

tx_mode('rollback-allow-override');
$langs_before = state_of('langs');
$r = req('POST', '/langs', { name => 'Default', rank => 1 });
check($r, 'rollback-allow-override without Prefer tx', status => 201, pref => undef);
unchanged_ok('langs', $langs_before, 'rollback-allow-override rolls back by default');
$r = req('POST', '/langs', { name => 'Kept', rank => 2 }, Prefer => 'tx=commit, return=representation');
check($r, 'rollback-allow-override with tx=commit', status => 201, pref => 'return=representation, tx=commit',
      json => [ { name => 'Kept', rank => 2 } ]);
is(q1("SELECT rank FROM test.langs WHERE name = 'Kept'"), '2', 'rollback-allow-override with tx=commit: committed');
$before = state_of('tasks');
$r = req('DELETE', '/tasks?id=eq.1', undef, Prefer => 'tx=rollback');
check($r, 'rollback-allow-override with tx=rollback', status => 204, pref => 'tx=rollback');
unchanged_ok('tasks', $before, 'rollback-allow-override with tx=rollback');

$t->stop_workers;
is($t->sanitizer_reports, '', 'no AddressSanitizer/UBSan reports from the workers');

done_testing();
