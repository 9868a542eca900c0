# In-database configuration (db-config, default true; db-pre-config), as
# PostgREST v12: the authenticator's pgrst.* role settings override the
# file, a database-specific one overrides the role-wide one, db-pre-config's
# function fills in what the role does not set; NOTIFY pgrst, 'reload
# config' reads them again; a bad value keeps the configuration in use and
# says so; db-config = false ignores them.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use Time::HiRes qw(sleep);
use PgRestTest;

PgRestTest::skip_unless_ready();

my $t = PgRestTest->new();
$t->start_postgres();
$t->psql(<<'SQL');
create role authenticator login noinherit;
create role anon nologin;
create role other_anon nologin;
grant anon, other_anon to authenticator;
create schema api;
create schema api2;
grant usage on schema api, api2 to anon, other_anon;
create table api.items (id int primary key);
insert into api.items select generate_series(1, 5);
create table api2.things (id int primary key);
insert into api2.things select generate_series(1, 5);
grant select on all tables in schema api, api2 to anon;
grant select on api2.things to other_anon;
create function api2.whoami() returns text language sql stable as $$ select current_user::text $$;
grant execute on function api2.whoami() to anon, other_anon;
create schema conf;
grant usage on schema conf to authenticator;
create function conf.pre() returns void language sql as $$
  select set_config('pgrst.db_max_rows', '4', true);
  select set_config('pgrst.db_schemas', 'nope', true);  -- the role's setting wins
$$;
grant execute on function conf.pre() to authenticator;
alter role authenticator set pgrst.db_schemas = 'api2';
alter role authenticator set pgrst.db_max_rows = '2';
alter role authenticator in database postgres set pgrst.db_max_rows = '3';
SQL

my %cfg = (
    'db-uri'       => $t->db_uri(user => 'authenticator', db => 'postgres'),
    'db-schemas'   => 'api',
    'db-anon-role' => 'anon',
    'log-level'    => 'info',
);

sub count_rows {
	my ($path) = @_;
	my $r = $t->get($path);
	return ref $r->{json} eq 'ARRAY' ? scalar @{ $r->{json} } : "status $r->{status}";
}

# the worker reads NOTIFY between requests: keep sending some
sub wait_for {
	my ($cond) = @_;
	for (1 .. 50) {
		return 1 if $cond->();
		$t->get('/');
		sleep 0.1;
	}
	return 0;
}

$t->start_workers(config => \%cfg, workers => 1);
$t->start_nginx(prefix => '/');

is($t->get('/things')->{status}, 200, 'pgrst.db_schemas from the role replaces the file\'s db-schemas');
is($t->get('/items')->{status}, 404, 'the file\'s schema is no longer exposed');
is(count_rows('/things'), 3, 'the database-specific pgrst.db_max_rows wins over the role-wide one');
like($t->log_contents, qr/in-database configuration applied: 2 settings/, 'the load is logged');

# changed in the database, read again on 'reload config'
$t->psql(<<'SQL');
alter role authenticator set pgrst.db_anon_role = 'other_anon';
alter role authenticator in database postgres reset pgrst.db_max_rows;
notify pgrst, 'reload config';
SQL
ok(wait_for(sub { $t->get('/rpc/whoami')->{content} eq '"other_anon"' }),
   "NOTIFY pgrst, 'reload config': pgrst.db_anon_role applied");
is(count_rows('/things'), 2, 'and the role-wide pgrst.db_max_rows now');

# db-pre-config fills in what the role does not set; the role's settings win
$t->psql("alter role authenticator reset pgrst.db_max_rows");
$t->write_config({ %cfg, 'db-pre-config' => 'conf.pre' });
$t->psql("notify pgrst, 'reload config'");
ok(wait_for(sub { count_rows('/things') eq '4' }), 'db-pre-config sets pgrst.db_max_rows');
is($t->get('/things')->{status}, 200, 'the role\'s pgrst.db_schemas beats the pre-config function\'s');

# a bad value: the configuration in use stays, the log names the setting
$t->psql("alter role authenticator set pgrst.db_max_rows = 'many'; notify pgrst, 'reload config'");
ok(wait_for(sub { $t->log_contents =~ /in-database setting pgrst\.db_max_rows: expected an integer/ }),
   'a bad in-database value is logged with its setting name');
like($t->log_contents, qr/in-database configuration not applied; keeping the one in use/,
     'and the configuration in use is kept');
is($t->get('/things')->{status}, 200, 'requests are still served');

# a pre-config function that fails: logged, the file's configuration serves
$t->psql(<<'SQL');
alter role authenticator reset pgrst.db_max_rows;
create or replace function conf.pre() returns void language sql as $$ select 1/0 $$;
notify pgrst, 'reload config';
SQL
ok(wait_for(sub { $t->log_contents =~ /in-database configuration not read: .*division by zero/ }),
   'a failing db-pre-config is logged');

# db-config = false: the file alone
$t->stop_workers;
$t->start_workers(config => { %cfg, 'db-config' => \'false' }, workers => 1);
is($t->get('/items')->{status}, 200, 'db-config = false: the file\'s db-schemas');
is($t->get('/things')->{status}, 404, 'db-config = false: pgrst.db_schemas ignored');

is($t->sanitizer_reports, '', 'no AddressSanitizer/UBSan reports from the workers');
done_testing();
