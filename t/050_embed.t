# Resource embedding end to end, as PostgREST v12 does it: to-one objects,
# to-many arrays, many-to-many through a junction, nesting, aliases, embedded
# filters/order/limit, !inner, null filters and empty embeds, hints and the
# disambiguation errors, spread, related orders, views and self references.
#
# Expected statuses, bodies and error texts come from PostgREST's own tests
# (test/spec/Feature/Query/EmbedDisambiguationSpec.hs, EmbedInnerJoinSpec.hs,
# QuerySpec.hs, RelatedQueriesSpec.hs, SpreadQueriesSpec.hs, RangeSpec.hs)
# and src/PostgREST/Error.hs, applied to our own fixture
# (t/fixtures/read-api.sql).  Where v13+ differs it is noted by the test.
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
$t->start_workers(config => {
    'db-uri'       => $t->db_uri(user => 'authenticator', db => 'postgres'),
    'db-schemas'   => 'test',
    'db-anon-role' => 'web_anon',
}, workers => 2);
$t->start_nginx(prefix => '/');

my $JSON_CT = 'application/json; charset=utf-8';

# GET $path and compare the decoded body with $want; status 200 and JSON.
sub embed_ok {
    my ($path, $want, $name, %opt) = @_;
    my $r = $t->request($opt{method} // 'GET', $path, %opt);
    is(($r->{status} // '') . ' ' . ($r->{headers}{'content-type'} // ''), '200 ' . $JSON_CT,
       "$name: status 200, JSON") or diag("$path\n$r->{content}");
    is_deeply($r->{json}, $want, "$name: body") or diag("$path\n$r->{content}");
    return $r;
}

sub error_ok { return $t->error_ok(@_) }

# ===========================================================================
# cardinalities and shapes

embed_ok('/projects?select=id,name,clients(id,name)&order=id', [
    { id => 1, name => 'Windows 7',  clients => { id => 1, name => 'Microsoft' } },
    { id => 2, name => 'Windows 10', clients => { id => 1, name => 'Microsoft' } },
    { id => 3, name => 'IOS',        clients => { id => 2, name => 'Apple' } },
    { id => 4, name => 'OSX',        clients => { id => 2, name => 'Apple' } },
    { id => 5, name => 'Orphan',     clients => undef },
], 'many-to-one: an object, null when the parent is missing');

my $r = embed_ok('/clients?select=id,projects(id,name)&order=id&projects.order=id', [
    { id => 1, projects => [ { id => 1, name => 'Windows 7' }, { id => 2, name => 'Windows 10' } ] },
    { id => 2, projects => [ { id => 3, name => 'IOS' }, { id => 4, name => 'OSX' } ] },
    { id => 3, projects => [] },
], 'one-to-many: an array, [] when there are no children');
like($r->{content}, qr/"projects"\s*:\s*\[\]/, 'one-to-many: the empty array is [] in the JSON text, not null');
is($r->{headers}{'content-range'}, '0-2/*', 'one-to-many: Content-Range counts parents only');

embed_ok('/country?select=name,capital(name)&order=id', [
    { name => 'Afghanistan', capital => { name => 'Kabul' } },
    { name => 'Algeria',     capital => { name => 'Algiers' } },
    { name => 'Atlantis',    capital => undef },
], 'one-to-one from the referenced side: an object (not an array), null when missing');

embed_ok('/capital?select=name,country(name)&order=id', [
    { name => 'Kabul',   country => { name => 'Afghanistan' } },
    { name => 'Algiers', country => { name => 'Algeria' } },
], 'one-to-one from the referencing side: an object');

embed_ok('/users?select=name,tasks(id)&order=id&tasks.order=id', [
    { name => 'Angela Martin',   tasks => [ { id => 1 }, { id => 2 }, { id => 3 }, { id => 4 } ] },
    { name => 'Michael Scott',   tasks => [ { id => 5 }, { id => 6 }, { id => 7 } ] },
    { name => 'Dwight Schrute',  tasks => [ { id => 1 }, { id => 5 } ] },
    { name => 'Toby Flenderson', tasks => [] },
], 'many-to-many through the junction users_tasks');

embed_ok('/tasks?select=id,users(id)&order=id&users.order=id', [
    { id => 1, users => [ { id => 1 }, { id => 3 } ] },
    { id => 2, users => [ { id => 1 } ] },
    { id => 3, users => [ { id => 1 } ] },
    { id => 4, users => [ { id => 1 } ] },
    { id => 5, users => [ { id => 2 }, { id => 3 } ] },
    { id => 6, users => [ { id => 2 } ] },
    { id => 7, users => [ { id => 2 } ] },
], 'many-to-many, the other direction');

embed_ok('/films?select=title,actors(name)&order=id&actors.order=name', [
    { title => 'Dr. Strangelove',     actors => [ { name => 'Peter Sellers' } ] },
    { title => 'The Shining',         actors => [ { name => 'Jack Nicholson' }, { name => 'Shelley Duvall' } ] },
    { title => 'Lost in Translation', actors => [ { name => 'Bill Murray' }, { name => 'Scarlett Johansson' } ] },
    { title => 'Untitled',            actors => [] },
], 'many-to-many through a junction that has an extra column');

embed_ok('/films?select=title,roles(character,actors(name))&id=eq.2&roles.order=character', [
    { title => 'The Shining', roles => [
        { character => 'Jack Torrance',  actors => { name => 'Jack Nicholson' } },
        { character => 'Wendy Torrance', actors => { name => 'Shelley Duvall' } },
    ] },
], 'the junction itself: one-to-many to roles, many-to-one on to actors');

embed_ok('/films?select=title,actors!roles(name)&id=eq.3&actors.order=name', [
    { title => 'Lost in Translation', actors => [ { name => 'Bill Murray' }, { name => 'Scarlett Johansson' } ] },
], 'many-to-many with the junction as hint (!roles)');

embed_ok('/films?select=title,directors(name)&order=id', [
    { title => 'Dr. Strangelove',     directors => { name => 'Stanley Kubrick' } },
    { title => 'The Shining',         directors => { name => 'Stanley Kubrick' } },
    { title => 'Lost in Translation', directors => { name => 'Sofia Coppola' } },
    { title => 'Untitled',            directors => undef },
], 'films -> directors many-to-one');

embed_ok('/directors?select=name,films(title)&order=id&films.order=year', [
    { name => 'Stanley Kubrick', films => [ { title => 'Dr. Strangelove' }, { title => 'The Shining' } ] },
    { name => 'Sofia Coppola',   films => [ { title => 'Lost in Translation' } ] },
    { name => 'Ridley Scott',    films => [] },
], 'directors -> films one-to-many ordered by a column that is not selected');

# ===========================================================================
# nesting, aliases, select lists inside embeds

embed_ok('/clients?select=name,projects(name,tasks(name,users(name)))&id=eq.2'
       . '&projects.order=id&projects.tasks.order=id&projects.tasks.users.order=id', [
    { name => 'Apple', projects => [
        { name => 'IOS', tasks => [
            { name => 'Design IOS', users => [ { name => 'Michael Scott' }, { name => 'Dwight Schrute' } ] },
            { name => 'Code IOS',   users => [ { name => 'Michael Scott' } ] },
        ] },
        { name => 'OSX', tasks => [
            { name => 'Design OSX', users => [ { name => 'Michael Scott' } ] },
        ] },
    ] },
], 'nested three levels below the top with order at every level');

embed_ok('/tasks?select=name,projects(name,clients(name))&id=eq.5', [
    { name => 'Design IOS', projects => { name => 'IOS', clients => { name => 'Apple' } } },
], 'nested to-one embeds (task -> project -> client)');

embed_ok('/projects?select=id,client:clients(name),todo:tasks(name)&id=eq.1&tasks.order=name', [
    { id => 1, client => { name => 'Microsoft' }, todo => [ { name => 'Code w7' }, { name => 'Design w7' } ] },
], 'alias:rel(...) renames the key; embedded order by relation name');

embed_ok('/users?select=id,design:tasks(name),code:tasks(name)&id=eq.1'
       . '&design.name=like.Design*&code.name=like.Code*&design.order=name&code.order=name', [
    { id => 1,
      design => [ { name => 'Design w10' }, { name => 'Design w7' } ],
      code   => [ { name => 'Code w10' }, { name => 'Code w7' } ] },
], 'the same relation embedded twice under two aliases, filtered by alias');

$r = embed_ok('/clients?select=name,projects(pid:id::text,title:name)&id=eq.1&projects.order=id', [
    { name => 'Microsoft', projects => [ { pid => '1', title => 'Windows 7' }, { pid => '2', title => 'Windows 10' } ] },
], 'renames and casts inside an embedded select list');
like($r->{content}, qr/"pid"\s*:\s*"1"/, 'a cast to text inside an embed gives a JSON string');

embed_ok('/clients?select=*,projects(*)&id=eq.3', [
    { id => 3, name => 'Nokia', projects => [] },
], 'select=*,rel(*)');

embed_ok('/projects?select=id,clients(id,name),tasks(id)&id=eq.4', [
    { id => 4, clients => { id => 2, name => 'Apple' }, tasks => [ { id => 7 } ] },
], 'a parent and children in the same select');

# ===========================================================================
# embedded filters, order, limit/offset; join types

embed_ok('/clients?select=id,projects(id)&order=id&projects.id=eq.1', [
    { id => 1, projects => [ { id => 1 } ] },
    { id => 2, projects => [] },
    { id => 3, projects => [] },
], 'an embedded filter filters only the embedded list');

embed_ok('/projects?select=id,clients(name)&order=id&clients.name=eq.Apple', [
    { id => 1, clients => undef },
    { id => 2, clients => undef },
    { id => 3, clients => { name => 'Apple' } },
    { id => 4, clients => { name => 'Apple' } },
    { id => 5, clients => undef },
], 'a filter on a to-one embed nulls the embed, keeps the parent (left join)');

embed_ok('/clients?select=id,projects(id,tasks(id))&id=eq.1&projects.tasks.id=in.(1,4)'
       . '&projects.order=id&projects.tasks.order=id', [
    { id => 1, projects => [ { id => 1, tasks => [ { id => 1 } ] }, { id => 2, tasks => [ { id => 4 } ] } ] },
], 'a filter two levels down (projects.tasks.id)');

embed_ok('/projects?select=name,tasks(name)&id=eq.1&tasks.order=name.desc', [
    { name => 'Windows 7', tasks => [ { name => 'Design w7' }, { name => 'Code w7' } ] },
], 'embedded order desc');

embed_ok('/clients?select=id,projects(id)&order=id&projects.order=id.desc&projects.limit=1', [
    { id => 1, projects => [ { id => 2 } ] },
    { id => 2, projects => [ { id => 4 } ] },
    { id => 3, projects => [] },
], 'embedded limit applies per parent');

embed_ok('/clients?select=id,projects(id)&order=id&projects.order=id&projects.limit=1&projects.offset=1', [
    { id => 1, projects => [ { id => 2 } ] },
    { id => 2, projects => [ { id => 4 } ] },
    { id => 3, projects => [] },
], 'embedded offset applies per parent');

embed_ok('/clients?select=id,projects(id,tasks(id))&order=id&limit=1'
       . '&projects.order=id&projects.limit=2&projects.tasks.order=id&projects.tasks.limit=1', [
    { id => 1, projects => [ { id => 1, tasks => [ { id => 1 } ] }, { id => 2, tasks => [ { id => 3 } ] } ] },
], 'limit works on all levels (RangeSpec)');

embed_ok('/projects?select=id,clients!inner(name)&clients.name=eq.Apple&order=id', [
    { id => 3, clients => { name => 'Apple' } },
    { id => 4, clients => { name => 'Apple' } },
], '!inner: the embedded filter removes parent rows');

embed_ok('/projects?select=id,clients!inner(id)&order=id', [
    { id => 1, clients => { id => 1 } },
    { id => 2, clients => { id => 1 } },
    { id => 3, clients => { id => 2 } },
    { id => 4, clients => { id => 2 } },
], '!inner without a filter drops parents without a match');

$r = embed_ok('/clients?select=id,projects!inner(id)&order=id&projects.order=id', [
    { id => 1, projects => [ { id => 1 }, { id => 2 } ] },
    { id => 2, projects => [ { id => 3 }, { id => 4 } ] },
], '!inner on one-to-many drops parents without children',
   headers => { Prefer => 'count=exact' });
is($r->{headers}{'content-range'}, '0-1/2', '!inner: the exact count counts the remaining parents');

embed_ok('/users?select=name,tasks!inner(name)&tasks.name=eq.Code%20IOS', [
    { name => 'Michael Scott', tasks => [ { name => 'Code IOS' } ] },
], '!inner on many-to-many');

embed_ok('/projects?select=id,clients!left(name)&order=id&clients.name=eq.Apple', [
    { id => 1, clients => undef },
    { id => 2, clients => undef },
    { id => 3, clients => { name => 'Apple' } },
    { id => 4, clients => { name => 'Apple' } },
    { id => 5, clients => undef },
], '!left is the default join');

# ===========================================================================
# null filters on embeds and empty embeds (v11+)

embed_ok('/projects?select=id,clients(name)&clients=not.is.null&order=id', [
    { id => 1, clients => { name => 'Microsoft' } },
    { id => 2, clients => { name => 'Microsoft' } },
    { id => 3, clients => { name => 'Apple' } },
    { id => 4, clients => { name => 'Apple' } },
], 'rel=not.is.null keeps parents that have the embed');

embed_ok('/projects?select=id,clients()&clients=is.null', [ { id => 5 } ],
         'rel=is.null (anti join) with an empty embed: the key is omitted');

embed_ok('/clients?select=name,projects()&projects=is.null', [ { name => 'Nokia' } ],
         'one-to-many rel=is.null');

embed_ok('/clients?select=name,projects(name)&projects.name=eq.IOS&projects=not.is.null', [
    { name => 'Apple', projects => [ { name => 'IOS' } ] },
], 'embedded filter plus not.is.null works like !inner');

embed_ok('/users?select=name,tasks()&tasks.id=eq.1&tasks=not.is.null&order=id', [
    { name => 'Angela Martin' }, { name => 'Dwight Schrute' },
], 'many-to-many with an empty embed used only for filtering');

embed_ok('/projects?select=id,clients()&order=id', [
    { id => 1 }, { id => 2 }, { id => 3 }, { id => 4 }, { id => 5 },
], 'an empty embed rel() adds no key');

embed_ok('/clients?select=id,projects()&or=(id.eq.3,projects.not.is.null)&projects.name=eq.OSX&order=id', [
    { id => 2 }, { id => 3 },
], 'or=(...) across a column and an embed null filter');

$r = $t->request('GET', '/projects?select=name,clients(name)&clients=not.is.null',
                 headers => { Prefer => 'count=exact' });
is($r->{headers}{'content-range'}, '0-3/4', 'an exact count honours the embed null filter');

my ($er, $ej) = error_ok('/projects?select=id,clients(id)&clients=eq.1', 400, 'PGRST120',
                         'an operator other than is.null on an embed');
is($ej->{message}, "Bad operator on the 'clients' embedded resource", 'PGRST120 message');
is($ej->{details}, 'Only is null or not is null filters are allowed on embedded resources',
   'PGRST120 details');

# ===========================================================================
# hints and disambiguation

embed_ok('/orders?select=id,billing:addresses!billing(address),shipping:addresses!shipping(address)&order=id', [
    { id => 1, billing => { address => 'address 1' }, shipping => { address => 'address 2' } },
    { id => 2, billing => { address => 'address 3' }, shipping => { address => 'address 3' } },
    { id => 3, billing => { address => 'address 1' }, shipping => undef },
], 'hint by foreign key name (!billing, !shipping)');

embed_ok('/orders?select=id,addresses!shipping_address_id(id)&id=eq.1', [
    { id => 1, addresses => { id => 2 } },
], 'hint by column name; the key stays the relation name');

embed_ok('/orders?select=id,bill:addresses!billing_address_id(id),ship:addresses!shipping(id)&id=eq.2', [
    { id => 2, bill => { id => 3 }, ship => { id => 3 } },
], 'a column hint and a constraint hint in the same select');

embed_ok('/addresses?select=id,billed:orders!billing(id),shipped:orders!shipping(id)'
       . '&order=id&billed.order=id&shipped.order=id', [
    { id => 1, billed => [ { id => 1 }, { id => 3 } ], shipped => [] },
    { id => 2, billed => [],                           shipped => [ { id => 1 } ] },
    { id => 3, billed => [ { id => 2 } ],              shipped => [ { id => 2 } ] },
], 'hints on the one-to-many side');

sub check_ambiguous {
    my ($path, $parent, $child, $want, $name) = @_;
    my ($r, $j) = error_ok($path, 300, 'PGRST201', $name);
    is($j->{message},
       "Could not embed because more than one relationship was found for '$parent' and '$child'",
       "$name: message");
    my $details = ref $j->{details} eq 'ARRAY' ? $j->{details} : [];
    my @sorted = sort { ($a->{relationship} // '') cmp ($b->{relationship} // '') }
                 grep { ref $_ eq 'HASH' } @$details;
    is_deeply(\@sorted, $want, "$name: details list every candidate") or diag($r->{content});
    # the hint lists the candidates in the order of the details
    my @names = map { my ($c) = ($_->{relationship} // '') =~ /^(\S+) using /; "'$child!" . ($c // '?') . "'" }
                grep { ref $_ eq 'HASH' } @$details;
    is($j->{hint},
       "Try changing '$child' to one of the following: " . join(', ', @names)
       . ". Find the desired relationship in the 'details' key.",
       "$name: hint");
}

check_ambiguous('/orders?select=*,addresses(*)', 'orders', 'addresses', [
    { cardinality => 'many-to-one', embedding => 'orders with addresses',
      relationship => 'billing using orders(billing_address_id) and addresses(id)' },
    { cardinality => 'many-to-one', embedding => 'orders with addresses',
      relationship => 'shipping using orders(shipping_address_id) and addresses(id)' },
], 'two foreign keys to the same table: 300 Multiple Choices');

check_ambiguous('/addresses?select=*,orders(*)', 'addresses', 'orders', [
    { cardinality => 'one-to-many', embedding => 'addresses with orders',
      relationship => 'billing using addresses(id) and orders(billing_address_id)' },
    { cardinality => 'one-to-many', embedding => 'addresses with orders',
      relationship => 'shipping using addresses(id) and orders(shipping_address_id)' },
], 'the same ambiguity from the other side');

($er, $ej) = error_ok('/clients?select=*,films(*)', 400, 'PGRST200', 'no relationship');
is($ej->{message}, "Could not find a relationship between 'clients' and 'films' in the schema cache",
   'PGRST200 message');
is($ej->{details},
   "Searched for a foreign key relationship between 'clients' and 'films' in the schema 'test', but no matches were found.",
   'PGRST200 details');
# v12 adds a fuzzy "Perhaps you meant ..." hint when a close name exists, else null
ok(!defined $ej->{hint} || $ej->{hint} =~ /^Perhaps you meant '/, 'PGRST200 hint is null or a suggestion')
    or diag($er->{content});

($er, $ej) = error_ok('/lonely?select=*,clients(*)', 400, 'PGRST200', 'no relationship from a table without keys');
is($ej->{message}, "Could not find a relationship between 'lonely' and 'clients' in the schema cache",
   'PGRST200 message for a table without foreign keys');

($er, $ej) = error_ok('/orders?select=id,addresses!nonesuch(id)', 400, 'PGRST200', 'unknown hint');
is($ej->{details},
   "Searched for a foreign key relationship between 'orders' and 'addresses' using the hint 'nonesuch' in the schema 'test', but no matches were found.",
   'PGRST200 details name the hint');
is($ej->{hint}, undef, 'PGRST200 hint is null when both tables are related otherwise');

($er, $ej) = error_ok('/clients?select=id&projects.id=eq.1', 400, 'PGRST108',
                      'filter on a resource that is not embedded');
is($ej->{message}, "'projects' is not an embedded resource in this request", 'PGRST108 message');
is($ej->{hint}, "Verify that 'projects' is included in the 'select' query parameter.", 'PGRST108 hint');
is($ej->{details}, undef, 'PGRST108 details are null');

($er, $ej) = error_ok('/clients?select=id,projects(id)&projexts.order=id', 400, 'PGRST108',
                      'order on a misspelt embed');
is($ej->{message}, "'projexts' is not an embedded resource in this request", 'PGRST108 message (order)');

($er, $ej) = error_ok('/projects?select=id,clients(name)&order=clientsx(name)', 400, 'PGRST108',
                      'related order on a resource that is not embedded');
is($ej->{hint}, "Verify that 'clientsx' is included in the 'select' query parameter.",
   'PGRST108 hint (related order)');

error_ok('/clients?select=id,projects(nosuchcol)', 400, '42703', 'unknown column inside an embed');

# ===========================================================================
# spread (v11+)

embed_ok('/projects?select=id,...clients(client_name:name)&order=id', [
    { id => 1, client_name => 'Microsoft' },
    { id => 2, client_name => 'Microsoft' },
    { id => 3, client_name => 'Apple' },
    { id => 4, client_name => 'Apple' },
    { id => 5, client_name => undef },
], 'spread a many-to-one embed into the parent');

embed_ok('/country?select=name,...capital(capital:name)&order=id', [
    { name => 'Afghanistan', capital => 'Kabul' },
    { name => 'Algeria',     capital => 'Algiers' },
    { name => 'Atlantis',    capital => undef },
], 'spread a one-to-one embed');

embed_ok('/tasks?select=name,...projects(project:name,...clients(client:name))&id=eq.5', [
    { name => 'Design IOS', project => 'IOS', client => 'Apple' },
], 'nested spreads');

embed_ok('/users?select=id,tasks:users_tasks(...tasks(name))&id=eq.3&tasks.order=task_id', [
    { id => 3, tasks => [ { name => 'Design w7' }, { name => 'Design IOS' } ] },
], 'spread inside a to-many embed of the junction');

# v12: spreading a to-many embed is PGRST119.  (v13+ aggregates it into arrays
# when db-aggregates-enabled, else answers 400 PGRST123.)
($er, $ej) = error_ok('/clients?select=*,...projects(*)', 400, 'PGRST119', 'spread of a one-to-many embed');
is($ej->{message}, "A spread operation on 'projects' is not possible", 'PGRST119 message');
is($ej->{details}, "'clients' and 'projects' do not form a many-to-one or one-to-one relationship",
   'PGRST119 details');
($er, $ej) = error_ok('/users?select=*,...tasks(*)', 400, 'PGRST119', 'spread of a many-to-many embed');
is($ej->{details}, "'users' and 'tasks' do not form a many-to-one or one-to-one relationship",
   'PGRST119 details (many-to-many)');

# ===========================================================================
# related orders (v11+)

embed_ok('/projects?select=id,clients(name)&order=clients(name).asc,id', [
    { id => 3, clients => { name => 'Apple' } },
    { id => 4, clients => { name => 'Apple' } },
    { id => 1, clients => { name => 'Microsoft' } },
    { id => 2, clients => { name => 'Microsoft' } },
    { id => 5, clients => undef },
], 'order by a to-one embed column');

embed_ok('/projects?select=id,clients(name)&order=clients(name).nullsfirst,id', [
    { id => 5, clients => undef },
    { id => 3, clients => { name => 'Apple' } },
    { id => 4, clients => { name => 'Apple' } },
    { id => 1, clients => { name => 'Microsoft' } },
    { id => 2, clients => { name => 'Microsoft' } },
], 'related order with nullsfirst');

embed_ok('/projects?select=id,client:clients(name)&order=client(name).desc.nullslast,id', [
    { id => 1, client => { name => 'Microsoft' } },
    { id => 2, client => { name => 'Microsoft' } },
    { id => 3, client => { name => 'Apple' } },
    { id => 4, client => { name => 'Apple' } },
    { id => 5, client => undef },
], 'related order through an alias, desc.nullslast');

embed_ok('/users?select=name,tasks(name,projects(name))&id=eq.1&tasks.order=projects(name).asc,name', [
    { name => 'Angela Martin', tasks => [
        { name => 'Code w10',   projects => { name => 'Windows 10' } },
        { name => 'Design w10', projects => { name => 'Windows 10' } },
        { name => 'Code w7',    projects => { name => 'Windows 7' } },
        { name => 'Design w7',  projects => { name => 'Windows 7' } },
    ] },
], 'related order inside an embed');

($er, $ej) = error_ok('/clients?select=*,projects(*)&order=projects(id)', 400, 'PGRST118',
                      'related order on a to-many embed');
is($ej->{message}, "A related order on 'projects' is not possible", 'PGRST118 message');
is($ej->{details}, "'clients' and 'projects' do not form a many-to-one or one-to-one relationship",
   'PGRST118 details');
($er, $ej) = error_ok('/clients?select=*,pros:projects(*)&order=pros(id)', 400, 'PGRST118',
                      'related order on an aliased to-many embed');
is($ej->{message}, "A related order on 'pros' is not possible", 'PGRST118 message names the alias');

# ===========================================================================
# views

embed_ok('/projects_view?select=id,clients(name),tasks(name)&id=eq.1&tasks.order=id', [
    { id => 1, clients => { name => 'Microsoft' }, tasks => [ { name => 'Design w7' }, { name => 'Code w7' } ] },
], 'a view embeds its base table\'s parents and children');

embed_ok('/tasks?select=id,projects_view(name)&id=eq.3', [
    { id => 3, projects_view => { name => 'Windows 10' } },
], 'a table embeds a view as its parent');

embed_ok('/clients?select=name,projects_view(name)&id=eq.2&projects_view.order=id', [
    { name => 'Apple', projects_view => [ { name => 'IOS' }, { name => 'OSX' } ] },
], 'a table embeds a view as children');

embed_ok('/tasks?select=id,project:projects_view!project_id(name,client:clients(name))&id=eq.1', [
    { id => 1, project => { name => 'Windows 7', client => { name => 'Microsoft' } } },
], 'view!column hint and a grandparent through the view');

embed_ok('/client_project_counts?select=projects,clients(name)&order=client_id', [
    { projects => 2, clients => { name => 'Microsoft' } },
    { projects => 2, clients => { name => 'Apple' } },
], 'a view with GROUP BY keeps the foreign key of its column');

# ===========================================================================
# self reference: the column as target gives the parent (many-to-one), the
# table name (with or without !column) gives the children (one-to-many)

embed_ok('/employees?select=name,manager:manager_id(name)&order=id', [
    { name => 'Ada', manager => undef },
    { name => 'Bob', manager => { name => 'Ada' } },
    { name => 'Cy',  manager => { name => 'Ada' } },
    { name => 'Di',  manager => { name => 'Bob' } },
], 'self reference: manager via the column name');

embed_ok('/employees?select=name,reports:employees!manager_id(name)&order=id&reports.order=id', [
    { name => 'Ada', reports => [ { name => 'Bob' }, { name => 'Cy' } ] },
    { name => 'Bob', reports => [ { name => 'Di' } ] },
    { name => 'Cy',  reports => [] },
    { name => 'Di',  reports => [] },
], 'self reference: reports via table!column');

embed_ok('/employees?select=name,employees(name)&id=eq.1&employees.order=id', [
    { name => 'Ada', employees => [ { name => 'Bob' }, { name => 'Cy' } ] },
], 'self reference without a hint is the one-to-many side, not a 300');

embed_ok('/employees?select=name,manager:manager_id(name,manager:manager_id(name))&id=eq.4', [
    { name => 'Di', manager => { name => 'Bob', manager => { name => 'Ada' } } },
], 'self reference two levels up');

embed_ok('/employees?select=name,manager:manager_id(name),reports:employees!manager_id(name)&id=eq.2', [
    { name => 'Bob', manager => { name => 'Ada' }, reports => [ { name => 'Di' } ] },
], 'self reference both ways at once');

# ===========================================================================
# HEAD, counts and singular with embeds

$r = $t->request('HEAD', '/clients?select=name,projects(name)&order=id');
is($r->{status}, 200, 'HEAD with an embed: 200');
is($r->{content}, '', 'HEAD with an embed: no body');
is($r->{headers}{'content-range'}, '0-2/*', 'HEAD with an embed: Content-Range');
is($r->{headers}{'content-type'}, $JSON_CT, 'HEAD with an embed: Content-Type');

$r = $t->request('HEAD', '/clients?select=id,projects!inner(id)', headers => { Prefer => 'count=exact' });
is($r->{status}, 200, 'HEAD with !inner and a count: 200');
is($r->{headers}{'content-range'}, '0-1/2', 'HEAD with !inner and a count: Content-Range');

$r = $t->get('/projects?select=id,clients(name),tasks(id)&id=eq.1&tasks.order=id',
             headers => { Accept => 'application/vnd.pgrst.object+json' });
is($r->{status}, 200, 'singular object with embeds: 200');
is_deeply($r->{json}, { id => 1, clients => { name => 'Microsoft' }, tasks => [ { id => 1 }, { id => 2 } ] },
          'singular object with embeds: body');

$r = $t->get('/clients?select=id,projects(id)&order=id&limit=2&offset=1&projects.order=id',
             headers => { Prefer => 'count=exact' });
is($r->{status}, 206, 'limit/offset on the parent with an embed and a count: 206');
is($r->{headers}{'content-range'}, '1-2/3', 'Content-Range of the parent range');
is_deeply($r->{json}, [ { id => 2, projects => [ { id => 3 }, { id => 4 } ] }, { id => 3, projects => [] } ],
          'parent range body');

$t->stop_workers;
is($t->sanitizer_reports, '', 'no AddressSanitizer/UBSan reports from the workers');

done_testing();
