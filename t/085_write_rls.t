# Writes under row-level security: deployment 3.3 of the seed
# (pg_rest-jwt-auth.ru.md, "public cloud"), loaded from the shipped
# sql/deploy-cloud.sql and run with the shipped sql/deploy-cloud.conf.
#
# Every request carries a token {"role":"webuser","user":"<login>"}; the
# tables with a cuser column (items, notes) have the policy
#     USING (current_setting('request.jwt.claim.user', true) = cuser)
#     WITH CHECK (the same)
# so a user sees, changes and deletes only its own rows, and may only write
# rows whose cuser is its own login.
#
# PostgREST v12 behaviour this relies on (test/spec/Feature/Query/
# InsertSpec.hs "Row level permission", src/PostgREST/Error.hs): a policy
# refusal is PostgreSQL's 42501 "new row violates row-level security policy
# for table ..." and 42501 maps to 403 for a token's role (401 with
# WWW-Authenticate: Bearer only for the anonymous role); rows hidden by the
# policy are simply not matched, so PATCH/DELETE of other users' rows affect
# nothing (204 with Content-Range */*, or 200 []), not an error.
#
# Every "nothing changed" claim is checked with psql (as the superuser, which
# bypasses RLS) by counting and reading all rows before and after.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use JSON::PP;
use Test::More;
use PgRestTest;

PgRestTest::skip_unless_ready();

my $t = PgRestTest->new();
$t->start_postgres();
my $DB = 'demobase';
$t->createdb($DB);
$t->psql_file($t->sql_path('deploy-cloud.sql'), db => $DB);

my $cfg = PgRestTest->read_config($t->sql_path('deploy-cloud.conf'));
$cfg->{'db-uri'} = $t->db_uri(user => 'dbauth', password => 'mysecret', db => $DB);
my $SECRET = $cfg->{'jwt-secret'};
$t->start_workers(config => $cfg, workers => 2);
$t->start_nginx(prefix => '/');

my $JSON    = JSON::PP->new->canonical(1)->utf8(1);
my $JSON_CT = 'application/json; charset=utf-8';
my $now     = time;
my %tok = map { $_ => $t->jwt({ role => 'webuser', user => $_, exp => $now + 3600 }, $SECRET) } qw(alice bob carol);

# ---------------------------------------------------------------------------
# helpers

# a request as USER (undef: no Authorization); a reference body is JSON
sub req {
    my ($user, $method, $path, $body, %h) = @_;
    $h{Authorization} = "Bearer $tok{$user}" if defined $user;
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

sub check {
    my ($r, $name, %w) = @_;
    if (exists $w{status}) {
        is($r->{status}, $w{status}, "$name: status $w{status}") or diag("$r->{url}\n$r->{content}");
    }
    is_deeply($r->{json}, $w{json}, "$name: body") or diag($r->{content}) if exists $w{json};
    is($r->{content}, $w{body}, "$name: empty body") if exists $w{body};
    for my $h ([ ct => 'Content-Type' ], [ range => 'Content-Range' ],
               [ pref => 'Preference-Applied' ], [ location => 'Location' ]) {
        my ($k, $hn) = @$h;
        next unless exists $w{$k};
        if (defined $w{$k}) {
            is(hdr($r, $hn), $w{$k}, "$name: $hn $w{$k}");
        } else {
            ok(!defined hdr($r, $hn), "$name: no $hn");
        }
    }
    return $r;
}

sub err_ok {
    my ($user, $method, $path, $body, $hdrs, $status, $code, $name) = @_;
    my %h = %{ $hdrs || {} };
    $h{Authorization} = "Bearer $tok{$user}" if defined $user;
    if (defined $body) {
        $body = $JSON->encode($body) if ref $body;
        $h{'Content-Type'} //= 'application/json';
    }
    return $t->error_ok($path, $status, $code, $name, method => $method, headers => \%h,
                        (defined $body ? (body => $body) : ()));
}

sub q1 { my $o = $t->psql($_[0], db => $DB); chomp $o; return $o }

sub state_of {
    my ($tbl, $where) = @_;
    $where = defined $where ? "WHERE $where" : '';
    my $out = $t->psql("SELECT count(*) FROM public.$tbl x $where; SELECT x::text FROM public.$tbl x $where ORDER BY x::text;",
                       db => $DB);
    my ($n, @rows) = split /\n/, $out;
    return { n => $n, rows => join("\n", @rows) };
}

sub unchanged_ok {
    my ($tbl, $before, $name, $where) = @_;
    my $now = state_of($tbl, $where);
    my $what = defined $where ? "$tbl ($where)" : $tbl;
    is($now->{n}, $before->{n}, "$name: $what still has $before->{n} rows");
    is($now->{rows}, $before->{rows}, "$name: $what rows unchanged") or diag("before:\n$before->{rows}\nnow:\n$now->{rows}");
}

sub owned { my ($u) = @_; return q1("SELECT count(*) FROM public.items WHERE cuser = '$u'") }

my $RLS_MSG = 'new row violates row-level security policy for table "items"';

# ===========================================================================
# inserts

my $r = req('alice', 'POST', '/items?select=name,price,cuser', { name => 'kiwi', price => 1.25, cuser => 'alice' },
            Prefer => 'return=representation');
check($r, 'alice inserts her own row', status => 201, ct => $JSON_CT, pref => 'return=representation',
      json => [ { name => 'kiwi', price => 1.25, cuser => 'alice' } ]);
is(q1("SELECT name || '|' || cuser FROM public.items WHERE name = 'kiwi'"), 'kiwi|alice', 'her row is stored');

$r = req('alice', 'POST', '/items', { name => 'lime', price => 0.3, cuser => 'alice' }, Prefer => 'return=headers-only');
my $lime = q1("SELECT id FROM public.items WHERE name = 'lime'");
check($r, 'alice inserts with return=headers-only', status => 201, body => '', location => "/items?id=eq.$lime");

my $items0 = state_of('items');
my ($e, $j);
($e, $j) = err_ok('alice', 'POST', '/items', { name => 'stolen', price => 1, cuser => 'bob' }, {}, 403, '42501',
                  'alice inserts a row with cuser bob');
is($j->{message}, $RLS_MSG, '42501 message (cuser of another user)');
unchanged_ok('items', $items0, 'insert with another cuser');

# An insert without cuser: deploy-cloud.sql defaults cuser to current_user,
# which inside the request is the token's role "webuser", not the login;
# the WITH CHECK clause compares it with the user claim ("alice") and
# refuses the row.  So on this deployment cuser must always be sent (the
# seed's rule for tables under RLS), and the refusal is the policy's 42501.
is(q1("SELECT column_default FROM information_schema.columns WHERE table_schema = 'public' AND table_name = 'items' AND column_name = 'cuser'"),
   'CURRENT_USER', 'items.cuser defaults to current_user (the role, webuser)');
($e, $j) = err_ok('alice', 'POST', '/items', { name => 'no cuser', price => 1 }, {}, 403, '42501',
                  'alice inserts without cuser (default webuser)');
is($j->{message}, $RLS_MSG, '42501 message (default cuser)');
($e, $j) = err_ok('alice', 'POST', '/items?columns=name,price,cuser', [ { name => 'no cuser 2', price => 1 } ],
                  { Prefer => 'missing=default' }, 403, '42501', 'missing=default on cuser gives webuser too');
is($j->{message}, $RLS_MSG, '42501 message (missing=default)');
unchanged_ok('items', $items0, 'inserts without cuser');

($e, $j) = err_ok('alice', 'POST', '/items',
                  [ { name => 'mine 1', price => 1, cuser => 'alice' }, { name => 'mine 2', price => 2, cuser => 'alice' },
                    { name => 'theirs', price => 3, cuser => 'bob' } ],
                  {}, 403, '42501', 'bulk insert with one foreign row');
unchanged_ok('items', $items0, 'bulk insert with one foreign row (none of it stored)');

# without a token: 401 (the seed's rule); a token without role runs as
# webanon, which has no rights: 42501 as the anonymous role is 401
($e, $j) = err_ok(undef, 'POST', '/items', { name => 'anon', cuser => 'alice' }, {}, 401, 'PGRST302', 'insert without a token');
like(hdr($e, 'WWW-Authenticate') // '', qr/^Bearer/, 'insert without a token: WWW-Authenticate');
my $anon = $t->jwt({ user => 'alice' }, $SECRET);
($e, $j) = err_ok(undef, 'POST', '/items', { name => 'anon', cuser => 'alice' }, { Authorization => "Bearer $anon" },
                  401, '42501', 'insert as webanon');
is($j->{message}, 'permission denied for table items', '42501 message (webanon)');
like(hdr($e, 'WWW-Authenticate') // '', qr/^Bearer/, 'insert as webanon: WWW-Authenticate');

my $cat0 = state_of('categories');
($e, $j) = err_ok('alice', 'POST', '/categories', { name => 'nuts' }, {}, 403, '42501', 'webuser inserts into categories (SELECT only)');
is($j->{message}, 'permission denied for table categories', '42501 message (categories)');
unchanged_ok('categories', $cat0, 'insert into categories');
unchanged_ok('items', $items0, 'refused inserts');

# ===========================================================================
# updates

my $others = state_of('items', "cuser <> 'alice'");

$r = req('alice', 'PATCH', '/items?name=eq.carrot', { price => 9 });
check($r, "alice patches bob's row", status => 204, body => '', range => '*/*');
$r = req('alice', 'PATCH', '/items?cuser=eq.bob&select=id', { price => 9 }, Prefer => 'return=representation');
check($r, "alice patches bob's rows with representation", status => 200, json => []);
$r = req('alice', 'PATCH', '/items?id=eq.6', { price => 9 }, Prefer => 'count=exact');
check($r, "alice patches carol's row with count=exact", status => 204, range => '*/0');
unchanged_ok('items', $items0, "patches of other users' rows");

my $n_alice = owned('alice');
is($n_alice, 4, 'alice owns four items');
$r = req('alice', 'PATCH', '/items', { price => 9.99 });
check($r, 'alice patches without a filter', status => 204, range => '0-' . ($n_alice - 1) . '/*');
is(q1("SELECT count(*) FROM public.items WHERE cuser = 'alice' AND price = 9.99"), $n_alice,
   'PATCH without a filter: all of her rows changed');
unchanged_ok('items', $others, 'PATCH without a filter', "cuser <> 'alice'");

$items0 = state_of('items');
($e, $j) = err_ok('alice', 'PATCH', '/items?name=eq.apple', { cuser => 'bob' }, {}, 403, '42501',
                  'alice gives her row to bob');
is($j->{message}, $RLS_MSG, '42501 message (PATCH cuser)');
unchanged_ok('items', $items0, 'PATCH of cuser');

$r = req('alice', 'PATCH', '/items?name=eq.carrot', { price => 1 }, Accept => 'application/vnd.pgrst.object+json');
is($r->{status}, 406, "singular PATCH of bob's row: 406 (0 rows)");
is(ref $r->{json} eq 'HASH' ? $r->{json}{details} : undef, 'The result contains 0 rows', 'singular PATCH: details');
unchanged_ok('items', $items0, "singular PATCH of bob's row");

# ===========================================================================
# upserts against rows of other users

($e, $j) = err_ok('alice', 'POST', '/items', [ { id => 6, name => 'fig', price => 0, cuser => 'alice' } ],
                  { Prefer => 'resolution=merge-duplicates' }, 403, '42501', "alice upserts over carol's row");
is($j->{message}, 'new row violates row-level security policy (USING expression) for table "items"',
   '42501 message (upsert over a hidden row)');
($e, $j) = err_ok('alice', 'PUT', '/items?id=eq.6', { id => 6, name => 'fig', price => 0, cuser => 'alice' }, {},
                  403, '42501', "alice PUTs over carol's row");
$r = req('alice', 'POST', '/items', [ { id => 6, name => 'fig', price => 0, cuser => 'alice' } ],
         Prefer => 'resolution=ignore-duplicates, return=representation');
check($r, "ignore-duplicates over carol's row inserts nothing", status => 201, json => []);
unchanged_ok('items', $items0, "upserts over carol's row");

$r = req('alice', 'PUT', '/items?id=eq.1', { id => 1, name => 'apple', price => 0.6, cuser => 'alice' });
check($r, 'alice PUTs over her own row', status => 204, body => '');
is(q1('SELECT price || cuser FROM public.items WHERE id = 1'), '0.60alice', 'her row was replaced');

# ===========================================================================
# deletes

$items0 = state_of('items');
$r = req('alice', 'DELETE', '/items?id=eq.3');
check($r, "alice deletes bob's row", status => 204, body => '', range => '*/*');
$r = req('alice', 'DELETE', '/items?cuser=eq.bob', undef, Prefer => 'return=representation');
check($r, "alice deletes bob's rows with representation", status => 200, json => []);
$r = req('alice', 'DELETE', '/items?id=eq.6', undef, Prefer => 'count=exact');
check($r, "alice deletes carol's row with count=exact", status => 204, range => '*/0');
$r = req('bob', 'DELETE', '/notes?cuser=eq.alice');
check($r, "bob deletes alice's notes", status => 204);
unchanged_ok('items', $items0, "deletes of other users' rows");
is(q1("SELECT count(*) FROM public.notes WHERE cuser = 'alice'"), '2', "alice's notes are still there");

$n_alice = owned('alice');
($e, $j) = err_ok('alice', 'DELETE', '/items', undef, { Prefer => 'handling=strict, max-affected=1' }, 400, 'PGRST124',
                  'alice deletes all her rows over max-affected');
is($j->{details}, "The query affects $n_alice rows", 'max-affected counts only the rows the policy lets her see');
unchanged_ok('items', $items0, 'exceeded max-affected');

$r = req('alice', 'DELETE', '/items?name=eq.kiwi&select=name,cuser', undef, Prefer => 'return=representation, count=exact');
check($r, 'alice deletes her own row', status => 200, range => '*/1', json => [ { name => 'kiwi', cuser => 'alice' } ]);
is(q1("SELECT count(*) FROM public.items WHERE name = 'kiwi'"), '0', 'her row is gone');

my $not_bob = state_of('items', "cuser <> 'bob'");
my $n_bob = owned('bob');
is($n_bob, 3, 'bob owns three items');
$r = req('bob', 'DELETE', '/items', undef, Prefer => 'count=exact');
check($r, 'bob deletes without a filter', status => 204, range => "*/$n_bob");
is(owned('bob'), '0', 'bob has no items left');
unchanged_ok('items', $not_bob, 'bob deletes without a filter', "cuser <> 'bob'");

# notes: the same policy on the second table
$r = req('carol', 'POST', '/notes?select=body,cuser', { body => 'carol: hello', cuser => 'carol' }, Prefer => 'return=representation');
check($r, 'carol adds a note', status => 201, json => [ { body => 'carol: hello', cuser => 'carol' } ]);
my $notes0 = state_of('notes');
($e, $j) = err_ok('carol', 'POST', '/notes', { body => 'as alice', cuser => 'alice' }, {}, 403, '42501', 'carol writes a note as alice');
is($j->{message}, 'new row violates row-level security policy for table "notes"', '42501 message (notes)');
unchanged_ok('notes', $notes0, 'note as another user');

$t->stop_workers;
is($t->sanitizer_reports, '', 'no AddressSanitizer/UBSan reports from the workers');

done_testing();
