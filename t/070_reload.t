# Schema cache and configuration reloads: NOTIFY on db-channel, SIGUSR1,
# a new connection after an outage, and db-channel-enabled = false.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use Time::HiRes qw(sleep time);
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
alter default privileges in schema api grant select on tables to anon;
create table api.items (id int primary key, name text);
insert into api.items values (1, 'one');
SQL

my %cfg = (
    'db-uri'       => $t->db_uri(user => 'authenticator', db => 'postgres'),
    'db-schemas'   => 'api',
    'db-anon-role' => 'anon',
    'log-level'    => 'info',
);

# Poll (bounded) until GET $path answers $status.
sub wait_status {
    my ($path, $status, $tries) = @_;
    my $r;
    for (1 .. $tries) {
        $r = $t->get($path);
        return $r if $r->{status} == $status;
        sleep 0.1;
    }
    return $r;
}

$t->start_workers(config => \%cfg, workers => 1);
$t->start_nginx(prefix => '/');
my ($worker) = $t->worker_pids;

is($t->get('/items')->{status}, 200, 'a table in the cache is served');
like($t->log_contents, qr/schema cache loaded: 1 relations/, 'the load is logged with its size');

# A table created later is unknown until the cache is reloaded.
$t->psql("create table api.later (id int); insert into api.later values (7);");
my $r = $t->get('/later');
is($r->{status}, 404, 'a table created after the load: 404 from the cache');
is($r->{json}{code}, '42P01', 'with PostgreSQL\'s code');
is($r->{json}{message}, 'relation "api.later" does not exist', 'and PostgreSQL\'s message');

$t->psql("notify pgrst, 'reload schema'");
$r = wait_status('/later', 200, 30);
is($r->{status}, 200, "NOTIFY pgrst, 'reload schema' makes it visible");
is_deeply($r->{json}, [{ id => 7 }], 'with its rows');

# Embedding needs the new foreign key in the cache too.
$t->psql("create table api.tags (id int primary key, item_id int references api.items, tag text);"
       . "insert into api.tags values (1, 1, 'red');");
$r = $t->get('/items?select=id,tags(tag)');
is($r->{status}, 400, 'a foreign key created after the load is not known yet');
is($r->{json}{code}, 'PGRST200', 'PGRST200');

kill 'USR1', $worker;
sleep 0.3;
$r = wait_status('/items?select=id,tags(tag)', 200, 30);
is($r->{status}, 200, 'SIGUSR1 reloads the schema cache');
is_deeply($r->{json}, [{ id => 1, tags => [{ tag => 'red' }] }], 'and the new relationship embeds');

# NOTIFY without a payload reloads both; 'reload config' re-reads the file.
$t->write_config({ %cfg, 'db-max-rows' => \'1' });
$t->psql("insert into api.items values (2, 'two')");
$t->psql("notify pgrst, 'reload config'");
my $n;
for (1 .. 30) {
    $r = $t->get('/items?order=id');
    $n = scalar @{ $r->{json} || [] };
    last if $n == 1;
    sleep 0.1;
}
is($n, 1, "NOTIFY pgrst, 'reload config' re-reads the file (db-max-rows = 1)");
like($t->log_contents, qr/configuration reloaded/, 'config reload logged');

$t->psql("drop table api.later");
$t->psql("notify pgrst");
$r = wait_status('/later', 404, 30);
is($r->{status}, 404, 'NOTIFY without payload reloads the schema too');

# After an outage the new connection reloads the cache (DDL may have run meanwhile).
$t->pause_postgres();
is($t->get('/items')->{status}, 503, 'database down: 503');
$t->resume_postgres();
$t->psql("create table api.after_outage (id int); insert into api.after_outage values (3)");
# a request reconnects; the next one sees the reloaded cache
$r = wait_status('/after_outage', 200, 40);
is($r->{status}, 200, 'a table created during the outage is known after reconnecting');

# db-channel-enabled = false: NOTIFY is not listened to
$t->start_workers(config => { %cfg, 'db-channel-enabled' => \'false' }, workers => 1);
$t->psql("create table api.unheard (id int)");
$t->psql("notify pgrst, 'reload schema'");
sleep 0.3;
is($t->get('/unheard')->{status}, 404, 'with db-channel-enabled = false NOTIFY is ignored');
($worker) = $t->worker_pids;
kill 'USR1', $worker;
$r = wait_status('/unheard', 200, 30);
is($r->{status}, 200, 'but SIGUSR1 still reloads');

# a custom channel
$t->start_workers(config => { %cfg, 'db-channel' => 'my_chan' }, workers => 1);
$t->psql("create table api.custom (id int)");
$t->psql("notify pgrst, 'reload schema'");
sleep 0.3;
is($t->get('/custom')->{status}, 404, 'NOTIFY on another channel is not ours');
$t->psql("notify my_chan, 'reload schema'");
$r = wait_status('/custom', 200, 30);
is($r->{status}, 200, 'NOTIFY on db-channel reloads');

$t->stop_workers;
is($t->sanitizer_reports, '', 'no AddressSanitizer/UBSan reports from the workers');

done_testing();
