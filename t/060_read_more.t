# The rest of PostgREST v12's read API beyond t/020_read.t: every operator
# (full-text search with languages, arrays, ranges, isdistinct, regex,
# any/all modifiers), nested logic trees, JSON paths, the Range header,
# counts, Content-Range/Content-Location, media types (singular object,
# stripped nulls, CSV, plan), OPTIONS, and the parse/range/media errors.
#
# Facts come from PostgREST's tests and source: test/spec/Feature/Query/
# QuerySpec.hs, RangeSpec.hs, SingularSpec.hs, PlanSpec.hs,
# JsonOperatorSpec.hs, AndOrParamsSpec.hs, RelatedQueriesSpec.hs,
# src/PostgREST/Response.hs (Content-Location, Allow), Error.hs, and
# Query/SqlFragment.hs (asCsvF).  The fixture is t/fixtures/read-api.sql.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use PgRestTest;

PgRestTest::skip_unless_ready();

my $t = PgRestTest->new();
$t->start_postgres();
$t->psql_file("$FindBin::Bin/fixtures/read-api.sql");
my %base = (
    'db-uri'       => $t->db_uri(user => 'authenticator', db => 'postgres'),
    'db-schemas'   => 'test',
    'db-anon-role' => 'web_anon',
);
$t->start_workers(config => { %base }, workers => 2);
$t->start_nginx(prefix => '/');

my $JSON_CT = 'application/json; charset=utf-8';

sub ids { my ($r) = @_; return [ map { ref $_ eq 'HASH' ? $_->{id} : $_ } @{ ref $r->{json} eq 'ARRAY' ? $r->{json} : [] } ] }

# GET and compare the list of ids (callers add order=id)
sub ids_ok {
    my ($path, $want, $name, %opt) = @_;
    my $r = $t->get($path, %opt);
    is($r->{status}, 200, "$name: status 200") or diag("$path\n$r->{content}");
    is_deeply(ids($r), $want, "$name: rows") or diag("$path\n$r->{content}");
    return $r;
}

sub body_ok {
    my ($path, $want, $name, %opt) = @_;
    my $r = $t->get($path, %opt);
    is($r->{status}, 200, "$name: status 200") or diag("$path\n$r->{content}");
    is_deeply($r->{json}, $want, "$name: body") or diag("$path\n$r->{content}");
    return $r;
}

sub error_ok { return $t->error_ok(@_) }

# ===========================================================================
# operators (table gadgets, ids 1..5; see the fixture for the values)

ids_ok('/gadgets?price=gt.10&order=id',        [3, 4],       'gt on numeric (NULL never matches)');
ids_ok('/gadgets?price=lte.9.99&order=id',     [1, 2],       'lte');
ids_ok('/gadgets?name=neq.gizmo&order=id',     [1, 3, 4, 5], 'neq');
ids_ok('/gadgets?name=like.*dget*&order=id',   [1, 3, 4],    'like with * as %');
ids_ok('/gadgets?name=ilike.*WIDGET*&order=id', [1, 4],      'ilike');
ids_ok('/gadgets?name=match.^W&order=id',      [1],          'match (~)');
ids_ok('/gadgets?name=imatch.^w&order=id',     [1, 4],       'imatch (~*)');
ids_ok('/gadgets?name=imatch.pro$&order=id',   [3],          'imatch with an anchor at the end');
ids_ok('/gadgets?name=not.match.^W&order=id',  [2, 3, 4, 5], 'not.match');
ids_ok('/gadgets?color=in.(red,green)&order=id', [1, 3, 5],  'in');
ids_ok('/gadgets?color=not.in.(red,green)&order=id', [2],    'not.in excludes NULLs as SQL does');
ids_ok('/gadgets?color=is.null&order=id',      [4],          'is.null');
ids_ok('/gadgets?active=is.true&order=id',     [1, 4],       'is.true');
ids_ok('/gadgets?active=is.false&order=id',    [2, 5],       'is.false');
ids_ok('/gadgets?active=is.unknown&order=id',  [3],          'is.unknown');
ids_ok('/gadgets?active=not.is.true&order=id', [2, 3, 5],    'not.is.true keeps NULL');
ids_ok('/gadgets?active=is.TRUE&order=id',     [1, 4],       'is values are case-insensitive');
ids_ok('/gadgets?color=isdistinct.red&order=id', [2, 4, 5],  'isdistinct includes NULLs');
ids_ok('/gadgets?color=not.isdistinct.red&order=id', [1, 3], 'not.isdistinct');

# full-text search; the database's default configuration is English
ids_ok('/gadgets?tsv=fts.fox&order=id',                 [1],    'fts');
ids_ok('/gadgets?tsv=fts.fat%26rat&order=id',           [2],    'fts with & in to_tsquery');
ids_ok('/gadgets?tsv=fts.fox%7Crat&order=id',           [1, 2], 'fts with | in to_tsquery');
ids_ok('/gadgets?tsv=fts.fat%26!rat&order=id',          [],     'fts with & ! in to_tsquery');
ids_ok('/gadgets?tsv=plfts.fat%20rats&order=id',        [2],    'plfts (plainto_tsquery)');
ids_ok('/gadgets?tsv=phfts.lazy%20dog&order=id',        [1],    'phfts (phraseto_tsquery)');
ids_ok('/gadgets?tsv=phfts.dog%20lazy&order=id',        [],     'phfts respects word order');
ids_ok('/gadgets?tsv=wfts.fox%20or%20rats&order=id',    [1, 2], 'wfts (websearch_to_tsquery) with or');
ids_ok('/gadgets?tsv=wfts.fat%20-fox&order=id',         [2],    'wfts with -');
ids_ok('/gadgets?tsv=fts.impossible&order=id',          [3],    'fts without a language uses the default');
ids_ok('/gadgets?tsv=fts(english).impossible&order=id', [3],    'fts(english)');
ids_ok('/gadgets?tsv=fts(french).impossible&order=id',  [4],    'fts(french) stems with the French dictionary');
ids_ok('/gadgets?tsv=plfts(french).faire%20impossible&order=id', [4], 'plfts(french)');
ids_ok('/gadgets?tsv=phfts(english).quick%20brown&order=id', [1], 'phfts(english)');
ids_ok('/gadgets?tsv=wfts(french).impossible&order=id', [4],    'wfts(french)');
ids_ok('/gadgets?tsv=not.fts.fox&order=id',             [2, 3, 4], 'not.fts (NULL excluded)');
ids_ok('/gadgets?tsv=not.fts(french).impossible&order=id', [1, 2, 3], 'not.fts(language)');

# arrays
ids_ok('/gadgets?tags=cs.{red}&order=id',             [1, 3],    'cs on an array');
ids_ok('/gadgets?tags=cs.{red,small}&order=id',       [1],       'cs with two elements');
ids_ok('/gadgets?tags=cd.{red,small,blue}&order=id',  [1, 2, 4], 'cd on an array (the empty array is contained)');
ids_ok('/gadgets?tags=ov.{large,blue}&order=id',      [2, 3],    'ov on an array');
ids_ok('/gadgets?tags=not.cs.{red}&order=id',         [2, 4],    'not.cs');
ids_ok('/gadgets?tags=eq.{red,small}&order=id',       [1],       'eq on an array');

# ranges
ids_ok('/gadgets?valid=cs.[2,3]&order=id',   [1],    'cs on a range');
ids_ok('/gadgets?valid=cd.[0,12)&order=id',  [1, 2], 'cd on a range');
ids_ok('/gadgets?valid=ov.[8,12)&order=id',  [2, 3], 'ov on a range');
ids_ok('/gadgets?valid=sl.[10,30)&order=id', [1, 2], 'sl (<<)');
ids_ok('/gadgets?valid=sr.[1,10)&order=id',  [3, 4], 'sr (>>)');
ids_ok('/gadgets?valid=nxr.[0,10)&order=id', [1, 2], 'nxr (&<)');
ids_ok('/gadgets?valid=nxl.[10,15)&order=id', [3, 4], 'nxl (&>)');
ids_ok('/gadgets?valid=adj.[30,40)&order=id', [4],   'adj (-|-)');
ids_ok('/gadgets?valid=adj.(0,1)&order=id',  [],     'adj with an empty range literal');
ids_ok('/gadgets?valid=eq.[5,9]&order=id',   [2],    'eq on a range compares canonical forms');
ids_ok('/gadgets?valid=not.ov.[8,12)&order=id', [1, 4], 'not.ov');
ids_ok('/gadgets?season=ov.[2024-03-01,2024-04-15]&order=id', [1, 2], 'ov on a daterange');
ids_ok('/gadgets?valid=isdistinct.[1,5)&order=id', [2, 3, 4, 5], 'isdistinct on a range');

# any/all modifiers (v11+)
ids_ok('/gadgets?id=eq(any).{1,3,5}&order=id',          [1, 3, 5], 'eq(any)');
ids_ok('/gadgets?name=like(any).{W*,g*}&order=id',      [1, 2],    'like(any) with *');
ids_ok('/gadgets?name=ilike(all).{*i*,*g*}&order=id',   [1, 2, 4], 'ilike(all)');
ids_ok('/gadgets?name=match(any).{^W,^D}&order=id',     [1, 5],    'match(any)');
ids_ok('/gadgets?name=imatch(all).{^w,mini$}&order=id', [4],       'imatch(all)');
ids_ok('/gadgets?price=gt(all).{5,10}&order=id',        [3, 4],    'gt(all)');
ids_ok('/gadgets?price=lt(any).{3,10}&order=id',        [1, 2],    'lt(any)');
ids_ok('/gadgets?price=gte(any).{100}&order=id',        [3],       'gte(any)');
ids_ok('/gadgets?name=not.like(any).{W*,g*}&order=id',  [3, 4, 5], 'not.like(any)');

# ===========================================================================
# logic trees

ids_ok('/gadgets?or=(id.eq.1,and(color.eq.red,or(price.gt.50,active.is.null)))&order=id', [1, 3],
       'or/and/or nested three deep');
ids_ok('/gadgets?not.or=(color.eq.red,color.is.null)&order=id', [2, 5], 'not.or');
ids_ok('/gadgets?not.and=(color.eq.red,price.gt.50)&order=id', [1, 2, 4, 5], 'not.and');
ids_ok('/gadgets?and=(id.gt.1,not.or(color.eq.red,color.eq.blue))&order=id', [5], 'not.or nested in and');
ids_ok('/gadgets?and=(id.lt.5,or(color.is.null,not.and(active.is.true,tags.cs.{small})))&order=id', [2, 3, 4],
       'not.and nested in or nested in and, with an array value');
ids_ok('/gadgets?or=(and(id.gte.2,or(tags.cs.{red},valid.adj.%22[30,40)%22)),name.eq.Doohickey)&order=id', [3, 4, 5],
       'a quoted range value inside a logic tree');
ids_ok('/gadgets?or=(name.eq.Gadget%20Pro,name.eq.gizmo)&order=id', [2, 3], 'values with blanks in a logic tree');
ids_ok('/gadgets?or=(name.eq.%22widget%20mini%22,tsv.fts(french).impossible)&order=id', [4], 'fts(language) inside or');
ids_ok('/gadgets?or=(tsv.phfts.lazy%20dog,tsv.wfts(french).impossible)&order=id', [1, 4], 'phfts and wfts inside or');
ids_ok('/gadgets?or=(id.in.(1,2),color.isdistinct.red)&order=id', [1, 2, 4, 5], 'in and isdistinct inside or');
ids_ok('/gadgets?or=(name.like(any).{W*,D*},id.eq(any).{2})&order=id', [1, 2, 5], 'modifiers inside or');
ids_ok('/gadgets?and=(valid.sl.%22[10,30)%22,price.not.is.null)&order=id', [1, 2], 'range operator inside and');
ids_ok('/gadgets?or=(id.eq.1,id.eq.2)&color=eq.blue&order=id', [2], 'or combined with a plain filter');

body_ok('/clients?select=id,projects(id)&order=id&projects.or=(id.eq.1,name.eq.IOS)&projects.order=id', [
    { id => 1, projects => [ { id => 1 } ] },
    { id => 2, projects => [ { id => 3 } ] },
    { id => 3, projects => [] },
], 'or on an embedded resource');
body_ok('/clients?select=id,projects(id)&order=id&projects.not.or=(id.eq.1,name.eq.IOS)&projects.order=id', [
    { id => 1, projects => [ { id => 2 } ] },
    { id => 2, projects => [ { id => 4 } ] },
    { id => 3, projects => [] },
], 'not.or on an embedded resource');
body_ok('/clients?select=id,projects(id,tasks(id))&id=eq.1&projects.order=id&projects.tasks.order=id'
      . '&projects.tasks.and=(id.gt.1,or(name.like.Code*,id.eq.3))', [
    { id => 1, projects => [ { id => 1, tasks => [ { id => 2 } ] }, { id => 2, tasks => [ { id => 3 }, { id => 4 } ] } ] },
], 'and/or two levels down');

# ===========================================================================
# JSON paths: filters, order, select

ids_ok('/gadgets?data->>color=eq.red&order=id',   [1, 3],    '->> in a filter');
ids_ok('/gadgets?data->size->>w=eq.5&order=id',   [2],       '-> ->> in a filter');
ids_ok('/gadgets?data->sizes->0=eq.4&order=id',   [2],       'array index -> 0 compares as jsonb');
ids_ok('/gadgets?data->sizes->>0=eq.1&order=id',  [1],       'array index ->> 0 compares as text');
ids_ok('/gadgets?data->>color=is.null&order=id',  [4, 5],    'JSON null and SQL NULL are both null through ->>');
ids_ok('/gadgets?data=cs.%7B%22color%22:%22blue%22%7D&order=id', [2], 'cs on jsonb');
ids_ok('/gadgets?data->size=cs.%7B%22w%22:30%7D&order=id', [3], 'cs on a jsonb path');
ids_ok('/gadgets?data->>color=not.eq.red&order=id', [2], 'not.eq on a JSON path');
ids_ok('/gadgets?order=data->size->w.desc.nullslast,id', [3, 1, 2, 4, 5], 'order by a jsonb path (numeric)');
ids_ok('/gadgets?order=data->>color.asc.nullsfirst,id',  [4, 5, 2, 1, 3], 'order by ->> with nullsfirst');
ids_ok('/gadgets?order=data->sizes->0.desc.nullslast,id', [2, 1, 3, 4, 5], 'order by an array index');

my $r = body_ok('/gadgets?select=id,w:data->size->w,h:data->size->>h,data->>color,data->sizes->0&id=eq.1',
    [ { id => 1, w => 10, h => '20', color => 'red', sizes => 1 } ],
    'select JSON paths: alias, last key as name, array index keeps the previous key');
like($r->{content}, qr/"w"\s*:\s*10\b/, '-> keeps a JSON number');
like($r->{content}, qr/"h"\s*:\s*"20"/, '->> gives a string');
$r = body_ok('/gadgets?select=id,h:data->size->>h::int,big:price::text&id=eq.1',
    [ { id => 1, h => 20, big => '9.99' } ], 'casts on a JSON path and on a column');
like($r->{content}, qr/"h"\s*:\s*20\b/, 'the cast JSON path is a number');
body_ok('/gadgets?select=data->sizes->>0&id=eq.1', [ { sizes => '1' } ],
        'a path ending with an index is named after the last key');
body_ok('/gadgets?select=data->>color&id=eq.4', [ { color => undef } ], 'JSON null through ->> is null');
body_ok('/gadgets?select=id,tags->0&id=eq.1', [ { id => 1, tags => 'red' } ],
        'an index into a PostgreSQL array column (v10+)');

# ===========================================================================
# Range header, limit/offset, Content-Range

sub range_ok {
    my ($path, $hdrs, $status, $want_ids, $crange, $name) = @_;
    my $r = $t->get($path, headers => $hdrs);
    is($r->{status}, $status, "$name: status $status") or diag($r->{content});
    is_deeply(ids($r), $want_ids, "$name: rows") if defined $want_ids;
    is($r->{headers}{'content-range'}, $crange, "$name: Content-Range $crange");
    return $r;
}

range_ok('/items?order=id', {}, 200, [1 .. 15], '0-14/*', 'whole table');
range_ok('/items?order=id', { Range => '0-4' }, 200, [1 .. 5], '0-4/*', 'Range: 0-4');
range_ok('/items?order=id', { Range => '0-4', 'Range-Unit' => 'items' }, 200, [1 .. 5], '0-4/*',
         'Range with Range-Unit: items');
range_ok('/items?order=id', { Range => '5-' }, 200, [6 .. 15], '5-14/*', 'open Range: 5-');
range_ok('/items?order=id', { Range => '0-0' }, 200, [1], '0-0/*', 'one-item Range');
range_ok('/items?order=id', { Range => '10-100' }, 200, [11 .. 15], '10-14/*', 'Range beyond the end is truncated');
range_ok('/items?order=id&limit=3', { Range => '0-1' }, 200, [1, 2], '0-1/*', 'Range narrower than limit');
range_ok('/items?order=id&limit=5', { Range => '2-10' }, 200, [3, 4, 5], '2-4/*', 'Range and limit intersect');
range_ok('/items?order=id&limit=3&offset=2', { Range => '0-9' }, 200, [3, 4, 5], '2-4/*',
         'limit/offset inside a wider Range');
range_ok('/items?order=id', { Range => '20-30' }, 200, [], '*/*', 'Range past the end without a count');
range_ok('/items?order=id', { Range => '0-4', Prefer => 'count=exact' }, 206, [1 .. 5], '0-4/15',
         'Range with an exact count: 206 Partial Content');
range_ok('/items?order=id', { Range => '0-14', Prefer => 'count=exact' }, 200, [1 .. 15], '0-14/15',
         'a Range covering everything with a count: 200');
range_ok('/items?order=id&offset=-4', {}, 200, [1 .. 15], '0-14/*', 'a negative offset is ignored');
range_ok('/items?order=id&limit=0', {}, 200, [], '*/*', 'limit=0');
range_ok('/items?order=id&id=eq.99', {}, 200, [], '*/*', 'no rows: */*');
range_ok('/empty_things', { Prefer => 'count=exact' }, 200, [], '*/0', 'empty table with a count: */0');

($r, my $j) = error_ok('/items', 416, 'PGRST103', 'Range: 1-0', headers => { Range => '1-0' });
is($j->{message}, 'Requested range not satisfiable', 'PGRST103 message');
is($j->{details}, 'The lower boundary must be lower than or equal to the upper boundary in the Range header.',
   'PGRST103 details for a reversed Range');

($r, $j) = error_ok('/items?order=id', 416, 'PGRST103', 'Range past the end with a count',
                    headers => { Range => '20-30', Prefer => 'count=exact' });
is($r->{headers}{'content-range'}, '*/15', '416 carries Content-Range */total');
is($j->{details}, 'An offset of 20 was requested, but there are only 15 rows.', 'PGRST103 details for an offset past the end');

($r, $j) = error_ok('/items?offset=100', 416, 'PGRST103', 'offset past the end with a count',
                    headers => { Prefer => 'count=exact' });
is($r->{headers}{'content-range'}, '*/15', '416 (offset) Content-Range');
is($j->{details}, 'An offset of 100 was requested, but there are only 15 rows.', 'PGRST103 details (offset)');

($r, $j) = error_ok('/empty_things?offset=1', 416, 'PGRST103', 'offset into an empty table with a count',
                    headers => { Prefer => 'count=exact' });
is($r->{headers}{'content-range'}, '*/0', '416 on an empty table: */0');
is($j->{details}, 'An offset of 1 was requested, but there are only 0 rows.', 'PGRST103 details (empty table)');

($r, $j) = error_ok('/items?limit=-1', 416, 'PGRST103', 'negative limit');
is($j->{details}, 'Limit should be greater than or equal to zero.', 'PGRST103 details (negative limit)');

$r = $t->request('HEAD', '/items?limit=2&offset=3&order=id', headers => { Prefer => 'count=exact' });
is($r->{status}, 206, 'HEAD with limit/offset and a count: 206');
is($r->{headers}{'content-range'}, '3-4/15', 'HEAD Content-Range 3-4/15');
is($r->{content}, '', 'HEAD has no body');

# ===========================================================================
# counts and Preference-Applied

$r = range_ok('/items?order=id', { Prefer => 'count=exact' }, 200, [1 .. 15], '0-14/15', 'count=exact');
is($r->{headers}{'preference-applied'}, 'count=exact', 'Preference-Applied: count=exact');
$r = range_ok('/items?order=id&limit=5', { Prefer => 'count=exact' }, 206, [1 .. 5], '0-4/15', 'count=exact with limit');

$r = $t->get('/items?order=id', headers => { Prefer => 'count=planned' });
like($r->{headers}{'content-range'} // '', qr{^0-14/\d+$}, 'count=planned gives a number as total');
is($r->{headers}{'preference-applied'}, 'count=planned', 'Preference-Applied: count=planned');

$r = $t->get('/items?order=id&limit=2', headers => { Prefer => 'count=planned' });
is($r->{status}, 206, 'count=planned with a limit: 206');
like($r->{headers}{'content-range'} // '', qr{^0-1/\d+$}, 'count=planned ignores limit in the total');

$r = $t->get('/items?order=id&id=gt.8', headers => { Prefer => 'count=planned' });
is_deeply(ids($r), [9 .. 15], 'count=planned with a filter: rows');
like($r->{headers}{'content-range'} // '', qr{^0-6/\d+$}, 'count=planned with a filter: a number');

$r = $t->request('HEAD', '/items', headers => { Prefer => 'count=planned' });
like($r->{headers}{'content-range'} // '', qr{^0-14/\d+$}, 'count=planned on HEAD');

$r = $t->get('/items?order=id&limit=3', headers => { Prefer => 'count=estimated' });
like($r->{headers}{'content-range'} // '', qr{^0-2/\d+$}, 'count=estimated gives a number');
is($r->{status}, 206, 'count=estimated with a limit: 206');
is($r->{headers}{'preference-applied'}, 'count=estimated', 'Preference-Applied: count=estimated');

$r = $t->get('/items?order=id&limit=2');
ok(!defined $r->{headers}{'preference-applied'}, 'no Preference-Applied without a Prefer');

# ===========================================================================
# Content-Location: the path and the query parameters sorted by name

$r = $t->get('/items?order=id.desc&limit=2&id=gt.3');
is($r->{headers}{'content-location'}, '/items?id=gt.3&limit=2&order=id.desc', 'Content-Location sorts the parameters');
$r = $t->get('/items');
is($r->{headers}{'content-location'}, '/items', 'Content-Location without parameters has no ?');

# ===========================================================================
# media types

$r = $t->get('/items?id=eq.3', headers => { Accept => 'application/vnd.pgrst.object+json' });
is($r->{status}, 200, 'singular: one row');
is_deeply($r->{json}, { id => 3, name => 'item 3' }, 'singular: an object, not an array');
is($r->{headers}{'content-type'}, 'application/vnd.pgrst.object+json; charset=utf-8', 'singular: Content-Type');
is($r->{headers}{'content-range'}, '0-0/*', 'singular: Content-Range');

$r = $t->get('/items?id=eq.3', headers => { Accept => 'application/vnd.pgrst.object' });
is_deeply($r->{json}, { id => 3, name => 'item 3' }, 'singular without +json');
is($r->{headers}{'content-type'}, 'application/vnd.pgrst.object+json; charset=utf-8', 'singular without +json: Content-Type');

# v12 message; v13 says "Cannot coerce the result to a single JSON object"
for my $case ([ '/items?id=eq.99', 0 ], [ '/items', 15 ], [ '/items?limit=2', 2 ]) {
    my ($path, $n) = @$case;
    ($r, $j) = error_ok($path, 406, 'PGRST116', "singular with $n rows",
                        headers => { Accept => 'application/vnd.pgrst.object+json' });
    is($j->{message}, 'JSON object requested, multiple (or no) rows returned', "PGRST116 message ($n rows)");
    is($j->{details}, "The result contains $n rows", "PGRST116 details ($n rows)");
}
is($r->{headers}{'content-type'}, $JSON_CT, 'PGRST116 is sent as application/json (v12.0.3+)');

$r = $t->get('/gadgets?select=id,color,price&id=eq.4',
             headers => { Accept => 'application/vnd.pgrst.object+json;nulls=stripped' });
is($r->{status}, 200, 'singular with nulls=stripped: 200');
is_deeply($r->{json}, { id => 4, price => 12 }, 'singular with nulls=stripped drops null keys');
like($r->{headers}{'content-type'} // '', qr{^application/vnd\.pgrst\.object\+json;\s*nulls=stripped; charset=utf-8$},
     'singular with nulls=stripped: Content-Type');

$r = $t->get('/gadgets?select=id,color&id=in.(4,5)&order=id',
             headers => { Accept => 'application/vnd.pgrst.array+json;nulls=stripped' });
is($r->{status}, 200, 'array with nulls=stripped: 200');
is_deeply($r->{json}, [ { id => 4 }, { id => 5, color => 'green' } ], 'array with nulls=stripped drops null keys');
like($r->{headers}{'content-type'} // '', qr{^application/vnd\.pgrst\.array\+json;\s*nulls=stripped; charset=utf-8$},
     'array with nulls=stripped: Content-Type');

$r = $t->get('/gadgets?select=id,color&id=in.(4,5)&order=id',
             headers => { Accept => 'application/vnd.pgrst.array+json' });
is($r->{status}, 200, 'application/vnd.pgrst.array+json is accepted (v11.2.1+)');
is_deeply($r->{json}, [ { id => 4, color => undef }, { id => 5, color => 'green' } ], 'array without stripping keeps nulls');

# CSV: header from the keys, rows as PostgreSQL's record text without the
# parentheses (Query/SqlFragment.hs asCsvF): fields with , " \ blanks or
# newlines are double-quoted, " and \ doubled, '' is "", NULL is nothing.
$r = $t->get('/csv_rows?order=id', headers => { Accept => 'text/csv' });
is($r->{status}, 200, 'CSV: 200');
is($r->{headers}{'content-type'}, 'text/csv; charset=utf-8', 'CSV: Content-Type');
is($r->{content},
   "id,label,note\n1,plain,\n2,\"a,b\",\"say \"\"hi\"\"\"\n3,\"two\nlines\",\"\"\n4,\"back\\\\slash\",\"x y\"",
   'CSV: header, quoting and NULL');
is($r->{headers}{'content-range'}, '0-3/*', 'CSV: Content-Range');
$r = $t->get('/csv_rows?select=num:id,label&id=eq.1', headers => { Accept => 'text/csv' });
is($r->{content}, "num,label\n1,plain", 'CSV: renamed columns in the header');
$r = $t->get('/csv_rows?id=eq.99', headers => { Accept => 'text/csv' });
is($r->{status}, 200, 'CSV of no rows: 200');
is($r->{content}, "\n", 'CSV of no rows: an empty header line only');
$r = $t->get('/csv_rows?select=id&order=id&limit=2', headers => { Accept => 'text/csv, application/json' });
is($r->{headers}{'content-type'}, 'text/csv; charset=utf-8', 'the client\'s first choice wins (CSV before JSON)');
is($r->{content}, "id\n1\n2", 'CSV of one column');
$r = $t->get('/csv_rows?select=id&order=id&limit=1', headers => { Accept => 'text/unknowntype, */*' });
is($r->{status}, 200, '*/* rescues an unknown type');
is($r->{headers}{'content-type'}, $JSON_CT, '*/* gives JSON');
$r = $t->get('/csv_rows?select=id&id=eq.1', headers => { Accept => 'application/json;q=0.5, text/csv;q=0.9' });
is($r->{headers}{'content-type'}, 'text/csv; charset=utf-8', 'q values order the choices');

($r, $j) = error_ok('/items', 406, 'PGRST107', 'text/plain on a table (builtin removed in v12)',
                    headers => { Accept => 'text/plain' });
is($j->{message}, 'None of these media types are available: text/plain', 'PGRST107 message (text/plain)');
($r, $j) = error_ok('/items', 406, 'PGRST107', 'unknown media type', headers => { Accept => 'application/xml' });
is($j->{message}, 'None of these media types are available: application/xml', 'PGRST107 message');
($r, $j) = error_ok('/items', 406, 'PGRST107', 'plan media type while db-plan-enabled is false',
                    headers => { Accept => 'application/vnd.pgrst.plan' });
like($j->{message} // '', qr{^None of these media types are available: application/vnd\.pgrst\.plan},
     'PGRST107 message names the plan type');

# ===========================================================================
# OPTIONS: Allow per insertable/updatable/deletable and primary key

for my $case ([ '/items',                 'OPTIONS,GET,HEAD,POST,PUT,PATCH,DELETE', 'a table with a primary key' ],
              [ '/no_pk',                 'OPTIONS,GET,HEAD,POST,PATCH,DELETE',     'a table without a primary key: no PUT' ],
              [ '/projects_view',         'OPTIONS,GET,HEAD,POST,PUT,PATCH,DELETE', 'an auto-updatable view (key from its table)' ],
              [ '/client_project_counts', 'OPTIONS,GET,HEAD',                       'a view that is not updatable' ]) {
    my ($path, $allow, $name) = @$case;
    $r = $t->request('OPTIONS', $path);
    is($r->{status}, 200, "OPTIONS on $name: 200");
    is($r->{headers}{allow}, $allow, "OPTIONS on $name: Allow");
    is($r->{content}, '', "OPTIONS on $name: no body");
}

# ===========================================================================
# errors

($r, $j) = error_ok('/items?order=id.ac', 400, 'PGRST100', 'misspelt order direction');
is($j->{message}, '"failed to parse order (id.ac)" (line 1, column 4)', 'PGRST100 message (order)');
is($j->{details}, 'unexpected "c" expecting "asc", "desc", "nullsfirst" or "nullslast"', 'PGRST100 details (order)');

($r, $j) = error_ok('/items?id=in.1,2', 400, 'PGRST100', 'in without parentheses');
like($j->{message} // '', qr/^"failed to parse filter \(in\.1,2\)" \(line 1, column \d+\)$/, 'PGRST100 message (filter)');

($r, $j) = error_ok('/items?select=id,', 400, 'PGRST100', 'trailing comma in select');
like($j->{message} // '', qr/^"failed to parse select parameter \(id,\)" \(line 1, column \d+\)$/, 'PGRST100 message (select)');

($r, $j) = error_ok('/gadgets?select=data->>--34', 400, 'PGRST100', 'bad JSON path');
is($j->{message}, '"failed to parse select parameter (data->>--34)" (line 1, column 9)', 'PGRST100 message (JSON path)');
is($j->{details}, 'unexpected "-" expecting digit', 'PGRST100 details (JSON path)');

($r, $j) = error_ok('/gadgets?or=()', 400, 'PGRST100', 'empty logic tree');
is($j->{message}, '"failed to parse logic tree (())" (line 1, column 4)', 'PGRST100 message (logic tree)');
like($j->{details} // '', qr/^unexpected "\)" expecting /, 'PGRST100 details (logic tree)');

error_ok('/gadgets?or=(id.eq.1,id.eq.2', 400, 'PGRST100', 'unbalanced logic tree');
error_ok('/gadgets?active=is.maybe', 400, 'PGRST100', 'is with an unknown value');
error_ok('/gadgets?name=like(some).{a}', 400, 'PGRST100', 'unknown modifier');
error_ok('/gadgets?tsv=fts().fox', 400, 'PGRST100', 'empty fts language');

($r, $j) = error_ok('/items', 406, 'PGRST106', 'unknown schema in Accept-Profile',
                    headers => { 'Accept-Profile' => 'nope' });
# v12 text; v13.1+ says "Invalid schema: nope" and lists the schemas in the hint
is($j->{message}, 'The schema must be one of the following: test', 'PGRST106 message');

# v12 runs the query and maps 42P01 to 404; v13 answers PGRST205 from the schema cache
($r, $j) = error_ok('/nosuch', 404, '42P01', 'unknown table');
is($j->{message}, 'relation "test.nosuch" does not exist', '42P01 message');

($r, $j) = error_ok('/items?select=nosuch', 400, '42703', 'unknown column in select');
like($j->{message} // '', qr/column .*nosuch.* does not exist/, '42703 message');
error_ok('/items?order=nosuch', 400, '42703', 'unknown column in order');
error_ok('/gadgets?data->>nosuch=eq.1&nosuchcol=eq.1', 400, '42703', 'unknown column next to a JSON path filter');
error_ok('/gadgets?valid=cs.notarange', 400, '22P02', 'malformed range literal');

# ===========================================================================
# db-max-rows with estimated counts, and the plan media type when enabled

$t->start_workers(config => { %base, 'db-max-rows' => \'2', 'db-plan-enabled' => \'true' }, workers => 1);

$r = $t->get('/items?order=id', headers => { Prefer => 'count=exact' });
is_deeply(ids($r), [1, 2], 'db-max-rows caps the rows');
is($r->{status}, 206, 'db-max-rows with an exact count: 206');
is($r->{headers}{'content-range'}, '0-1/15', 'db-max-rows with an exact count: the full total');

$r = $t->get('/items?order=id', headers => { Prefer => 'count=estimated' });
is($r->{status}, 206, 'count=estimated above db-max-rows: 206');
like($r->{headers}{'content-range'} // '', qr{^0-1/\d+$}, 'count=estimated above db-max-rows: the planned number');

$r = $t->get('/items?id=eq.1', headers => { Prefer => 'count=estimated' });
is($r->{status}, 200, 'count=estimated below db-max-rows: 200');
is($r->{headers}{'content-range'}, '0-0/1', 'count=estimated below db-max-rows: the exact total');

$r = $t->get('/items?order=id', headers => { Prefer => 'count=planned' });
like($r->{headers}{'content-range'} // '', qr{^0-1/\d+$}, 'count=planned with db-max-rows');

$r = $t->get('/items?id=lt.4', headers => { Accept => 'application/vnd.pgrst.plan' });
is($r->{status}, 200, 'plan (text) when db-plan-enabled: 200');
is($r->{headers}{'content-type'}, 'application/vnd.pgrst.plan+text; charset=utf-8', 'plan: text by default');
like($r->{content}, qr/^Aggregate/, 'plan text starts with the Aggregate node');

$r = $t->get('/items?id=lt.4', headers => { Accept => 'application/vnd.pgrst.plan+json' });
is($r->{status}, 200, 'plan (json): 200');
is($r->{headers}{'content-type'}, 'application/vnd.pgrst.plan+json; charset=utf-8', 'plan+json: Content-Type');
my $plan = ref $r->{json} eq 'ARRAY' && ref $r->{json}[0] eq 'HASH' ? $r->{json}[0]{Plan} : undef;
is(ref $plan eq 'HASH' ? $plan->{'Node Type'} : undef, 'Aggregate', 'plan+json: top node Aggregate');
like(ref $plan eq 'HASH' ? ($plan->{'Total Cost'} // '') : '', qr/^\d+(\.\d+)?$/, 'plan+json: a total cost');

$t->stop_workers;
is($t->sanitizer_reports, '', 'no AddressSanitizer/UBSan reports from the workers');

done_testing();
