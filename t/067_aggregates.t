# Aggregate functions (PostgREST v12, db-aggregates-enabled): col.sum(),
# avg(), max(), min(), count() and count() without a column, the implied
# GROUP BY over every other selected column (fields, JSON paths, embeds),
# aliases, casts of the input and of the result, aggregates inside
# embedded resources, over spread columns (at the parent's level) and on
# RPC results; 400 PGRST123 while disabled.
# The cases follow PostgREST's AggregateFunctionsSpec.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use PgRestTest;

PgRestTest::skip_unless_ready();

my $t = PgRestTest->new();
$t->start_postgres();
$t->psql(<<'SQL');
create role authenticator login noinherit;
create role anon nologin;
grant anon to authenticator;
create schema api;
grant usage on schema api to anon;
create table api.clients (id int primary key, name text);
create table api.projects (id int primary key, name text, client_id int references api.clients);
create table api.project_invoices (id int primary key, invoice_total numeric,
                                   project_id int references api.projects, meta jsonb);
insert into api.clients values (1, 'Microsoft'), (2, 'Apple');
insert into api.projects values (1, 'Windows 7', 1), (2, 'Windows 10', 1), (3, 'IOS', 2),
                                (4, 'OSX', 2), (5, 'Orphan', null);
insert into api.project_invoices values
  (1, 100, 1, '{"key": 1}'), (2, 200, 1, '{"key": 2}'), (3, 500, 2, '{"key": 3}'),
  (4, 700, 2, '{"key": 4}'), (5, 1200, 3, '{"key": 5}'), (6, 2000, 3, '{"key": 6}'),
  (7, 100, 4, '{"key": 1}'), (8, 4000, 4, '{"key": 2}');
create table api.budget_categories (id int primary key, budget_owner text, budget_amount numeric);
create table api.budget_expenses (id int primary key, expense_amount numeric,
                                  budget_category_id int references api.budget_categories);
insert into api.budget_categories values (1, 'Brian Smith', 1000.21), (2, 'Brian Smith', 1000.21),
  (3, 'Jane Clarkson', 7000.41), (4, 'Sally Hughes', 500.23);
insert into api.budget_expenses values (1, 100.20, 1), (2, 500.32, 2), (3, 100.22, 3),
  (4, 900.27, 4);
create function api.all_projects() returns setof api.projects language sql stable
  as $$ select * from api.projects $$;
grant select on all tables in schema api to anon;
SQL

my %cfg = (
    'db-uri'       => $t->db_uri(user => 'authenticator', db => 'postgres'),
    'db-schemas'   => 'api',
    'db-anon-role' => 'anon',
);

# --- disabled (the default) ---------------------------------------------------

$t->start_workers(config => \%cfg, workers => 1);
$t->start_nginx(prefix => '/');

my (undef, $j) = $t->error_ok('/project_invoices?select=invoice_total.sum()', 400, 'PGRST123',
			      'aggregates disabled');
is_deeply($j, { code => 'PGRST123', message => 'Use of aggregate functions is not allowed',
		details => undef, hint => undef }, 'aggregates disabled: PostgREST\'s body');
$t->error_ok('/projects?select=name,project_invoices(count())', 400, 'PGRST123',
	     'aggregates disabled: inside an embed too');
$t->error_ok('/projects?select=count()', 400, 'PGRST123', 'aggregates disabled: count()');
$t->error_ok('/projects?select=id.max()', 400, 'PGRST123', 'aggregates disabled: on a write\'s return too',
	     method => 'POST', body => '{"id": 9, "name": "x"}',
	     headers => { 'Content-Type' => 'application/json', Prefer => 'return=representation' });
is($t->psql("select count(*) from api.projects where id = 9"), "0\n", 'the refused write wrote nothing');
# the old count column (no parentheses) is only a column name
$t->error_ok('/projects?select=count', 400, '42703', 'bare count is a column name');

# --- enabled --------------------------------------------------------------

$t->stop_workers;
$t->start_workers(config => { %cfg, 'db-aggregates-enabled' => \'true' }, workers => 1);

sub rows_ok { my ($path, $want, $name) = @_; $t->json_ok($path, 200, $want, $name) }

rows_ok('/projects?select=count()', [ { count => 5 } ], 'count()');
rows_ok('/projects?select=cnt:count()', [ { cnt => 5 } ], 'count() with an alias');
rows_ok('/projects?select=count()::text', [ { count => '5' } ], 'count() cast');
rows_ok('/projects?select=c:count(),client_id&order=client_id.desc',
	[ { c => 1, client_id => undef }, { c => 2, client_id => 2 }, { c => 2, client_id => 1 } ],
	'count() grouped by another column');

rows_ok('/project_invoices?select=invoice_total.sum()', [ { sum => 8800 } ], 'sum()');
rows_ok('/project_invoices?select=invoice_total.avg()', [ { avg => 1100 } ], 'avg()');
rows_ok('/project_invoices?select=invoice_total.min()', [ { min => 100 } ], 'min()');
rows_ok('/project_invoices?select=invoice_total.max()', [ { max => 4000 } ], 'max()');
rows_ok('/project_invoices?select=invoice_total.count()', [ { count => 8 } ], 'col.count()');
rows_ok('/project_invoices?select=invoice_total.sum(),invoice_total.max(),invoice_total.min(),project_id&order=project_id.desc',
	[ { sum => 4100, max => 4000, min => 100, project_id => 4 },
	  { sum => 3200, max => 2000, min => 1200, project_id => 3 },
	  { sum => 1200, max => 700, min => 500, project_id => 2 },
	  { sum => 300, max => 200, min => 100, project_id => 1 } ],
	'grouped by the other selected columns');
rows_ok('/project_invoices?select=invoice_total.sum(),pid:project_id&order=project_id.desc&limit=2',
	[ { sum => 4100, pid => 4 }, { sum => 3200, pid => 3 } ], 'a renamed grouping column, limit');
rows_ok('/project_invoices?select=total_charged:invoice_total.sum()::text,project_id&order=project_id&project_id=lte.2',
	[ { total_charged => '300', project_id => 1 }, { total_charged => '1200', project_id => 2 } ],
	'alias, result cast and a filter');
rows_ok('/project_invoices?select=meta->>key::integer.sum()', [ { sum => 24 } ], 'input cast of a JSON path');
rows_ok('/project_invoices?select=s:meta->>key::integer.sum()::text', [ { s => '24' } ],
	'alias, input cast and result cast');
rows_ok('/project_invoices?select=meta->key,n:count()&order=meta->key&meta->key=lte.2',
	[ { key => 1, n => 2 }, { key => 2, n => 2 } ], 'grouped by a JSON path (its key a parameter)');
rows_ok('/rpc/all_projects?select=id.max()', [ { max => 5 } ], 'on a function\'s rows');
rows_ok('/project_invoices?select=project_id,total:invoice_total.sum(),projects(name)&order=project_id',
	[ { project_id => 1, total => 300, projects => { name => 'Windows 7' } },
	  { project_id => 2, total => 1200, projects => { name => 'Windows 10' } },
	  { project_id => 3, total => 3200, projects => { name => 'IOS' } },
	  { project_id => 4, total => 4100, projects => { name => 'OSX' } } ],
	'grouped by an embedded resource');
rows_ok('/projects?select=name,project_invoices(invoice_total.sum())&order=id',
	[ { name => 'Windows 7', project_invoices => [ { sum => 300 } ] },
	  { name => 'Windows 10', project_invoices => [ { sum => 1200 } ] },
	  { name => 'IOS', project_invoices => [ { sum => 3200 } ] },
	  { name => 'OSX', project_invoices => [ { sum => 4100 } ] },
	  { name => 'Orphan', project_invoices => [ { sum => undef } ] } ],
	'sum() inside an embed');
rows_ok('/projects?select=name,project_invoices(invoice_total.max(),invoice_total.min(),invoice_total.count())&order=id&id=gte.4',
	[ { name => 'OSX', project_invoices => [ { max => 4000, min => 100, count => 2 } ] },
	  { name => 'Orphan', project_invoices => [ { max => undef, min => undef, count => 0 } ] } ],
	'several aggregates inside an embed, none over no rows');
rows_ok('/clients?select=name,projects(count())&order=id',
	[ { name => 'Microsoft', projects => [ { count => 2 } ] },
	  { name => 'Apple', projects => [ { count => 2 } ] } ], 'count() inside an embed');
rows_ok('/projects?select=client_id,...clients(name),n:count()&order=client_id&client_id=not.is.null',
	[ { client_id => 1, name => 'Microsoft', n => 2 }, { client_id => 2, name => 'Apple', n => 2 } ],
	'grouped by spread columns');

# an exact count counts the rows, as PostgREST's does
my $r = $t->get('/project_invoices?select=project_id,invoice_total.sum()&order=project_id',
		headers => { Prefer => 'count=exact' });
is($r->{headers}{'content-range'}, '0-3/8', 'count=exact with aggregates: the rows, not the groups');

# PostgreSQL's own errors come through
$t->error_ok('/project_invoices?select=meta.sum()', 404, '42883', 'sum() of jsonb: no such function');
$t->error_ok('/project_invoices?select=project_id,invoice_total.sum()&order=invoice_total', 400, '42803',
	     'ordering by an ungrouped column');
$t->error_ok('/project_invoices?select=invoice_total.median()', 400, 'PGRST100', 'unknown aggregate');
$t->error_ok('/project_invoices?select=invoice_total.sum', 400, 'PGRST100', 'aggregate without ()');
$t->error_ok('/project_invoices?select=nope.sum()', 400, '42703', 'aggregate of an unknown column');
# a spread's aggregates are the parent's (PostgREST's AggregateFunctionsSpec)
rows_ok('/budget_expenses?select=total_expenses:expense_amount.sum(),...budget_categories(budget_owner,total_budget:budget_amount.sum())&order=budget_categories(budget_owner)',
	[ { total_expenses => 600.52, budget_owner => 'Brian Smith', total_budget => 2000.42 },
	  { total_expenses => 100.22, budget_owner => 'Jane Clarkson', total_budget => 7000.41 },
	  { total_expenses => 900.27, budget_owner => 'Sally Hughes', total_budget => 500.23 } ],
	'aggregates on spread columns, grouped by another spread column');
rows_ok('/budget_expenses?select=...budget_categories(total_budget:budget_amount.sum())',
	[ { total_budget => 9501.06 } ], 'only aggregates in a spread');
rows_ok('/budget_expenses?select=...budget_categories(n:count(),top:budget_amount.max()::int)',
	[ { n => 4, top => 7000 } ], 'count() and a result cast in a spread');
$t->error_ok('/budget_expenses?select=...budget_categories(*,budget_amount.sum())', 400, 'PGRST100',
	     '* in a spread with aggregates');

is($t->sanitizer_reports, '', 'no AddressSanitizer/UBSan reports from the workers');
done_testing();
