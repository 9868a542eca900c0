# TLS between the workers and PostgreSQL: sslmode / sslrootcert in db-uri
# (libpq does the work).  PostgreSQL listens on 127.0.0.1 with a
# certificate made here by openssl; the workers' connections must show up
# in pg_stat_ssl, and a wrong root certificate must be refused.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use PgRestTest;

PgRestTest::skip_unless_ready();
plan skip_all => 'openssl command not found' unless grep { -x "$_/openssl" } split /:/, $ENV{PATH};

my $t = PgRestTest->new();
my $dir = $t->tmpdir . '/tls';
mkdir $dir or die "$dir: $!";

# a CA, and a server certificate for 127.0.0.1 signed by it; another CA
sub sh { my ($cmd) = @_; system("$cmd >/dev/null 2>&1") == 0 or die "failed: $cmd\n" }
sh("openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=test-ca -keyout $dir/ca.key -out $dir/ca.crt");
sh("openssl req -newkey rsa:2048 -nodes -subj /CN=127.0.0.1 -keyout $dir/server.key -out $dir/server.csr");
open my $ext, '>', "$dir/ext.cnf" or die;
print $ext "subjectAltName = IP:127.0.0.1\n";
close $ext;
sh("openssl x509 -req -in $dir/server.csr -CA $dir/ca.crt -CAkey $dir/ca.key -CAcreateserial -days 2 "
 . "-extfile $dir/ext.cnf -out $dir/server.crt");
sh("openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=other-ca -keyout $dir/other.key -out $dir/other.crt");
chmod 0644, "$dir/ca.crt", "$dir/other.crt", "$dir/server.crt";
chmod 0755, $dir;
if ($> == 0) {
    my ($uid, $gid) = (getpwnam('postgres'))[2, 3];
    chown $uid, $gid, "$dir/server.key", "$dir/server.crt";
}
chmod 0600, "$dir/server.key";

$t->start_postgres(conf => join "\n",
    "listen_addresses = '127.0.0.1'",
    "ssl = on",
    "ssl_cert_file = '$dir/server.crt'",
    "ssl_key_file = '$dir/server.key'",
);
$t->psql(<<'SQL');
create role authenticator login noinherit password 'secret-pw';
create role anon nologin;
grant anon to authenticator;
create schema api;
grant usage on schema api to anon;
create table api.items (id int);
insert into api.items values (1);
grant select on api.items to anon;
SQL
# the unix socket stays trusted (the harness's psql); TCP from 127.0.0.1
# must use TLS (hostssl) and a password
open my $hba, '>', $t->{pg_data} . '/pg_hba.conf' or die;
print $hba "local all all trust\nhostnossl all all 127.0.0.1/32 reject\n"
         . "hostssl all all 127.0.0.1/32 scram-sha-256\n";
close $hba;
$t->psql('select pg_reload_conf()');

my $port = $t->pg_port;
# libpq looks for a client certificate in $HOME/.postgresql: a worker
# running as another user than the one whose HOME it inherited fails on
# "Permission denied" (documented in pg_rest(8)); give it a HOME it may read
my %env = (HOME => $dir);
sub uri { my ($q) = @_; return "postgresql://authenticator:secret-pw\@127.0.0.1:$port/postgres?$q" }

$t->start_workers(config => {
    'db-uri'       => uri("sslmode=verify-full&sslrootcert=$dir/ca.crt"),
    'db-schemas'   => 'api',
    'db-anon-role' => 'anon',
}, workers => 1, env => \%env);
$t->start_nginx(prefix => '/');

my $r = $t->get('/items');
is($r->{status}, 200, 'sslmode=verify-full with the right root certificate: 200');
is_deeply($r->{json}, [{ id => 1 }], 'rows over TLS');
my $ssl = $t->psql("select bool_and(s.ssl) from pg_stat_ssl s join pg_stat_activity a using (pid) "
                 . "where a.usename = 'authenticator'");
is($ssl, "t\n", "the worker's connection is encrypted (pg_stat_ssl)");

$t->start_workers(config => {
    'db-uri'       => uri("sslmode=verify-full&sslrootcert=$dir/other.crt"),
    'db-schemas'   => 'api',
    'db-anon-role' => 'anon',
}, workers => 1, env => \%env);
$r = $t->error_ok('/items', 503, 'PGRST000', 'a certificate the root does not sign: refused');
like($r->{json}{details} // '', qr/certificate verify failed|certificate/i, 'details say why');

$t->start_workers(config => {
    'db-uri'       => uri('sslmode=disable'),
    'db-schemas'   => 'api',
    'db-anon-role' => 'anon',
}, workers => 1, env => \%env);
$r = $t->error_ok('/items', 503, 'PGRST000', 'without TLS the server refuses (hostnossl reject)');

$t->start_workers(config => {
    'db-uri'       => uri('sslmode=require'),
    'db-schemas'   => 'api',
    'db-anon-role' => 'anon',
}, workers => 1, env => \%env);
is($t->get('/items')->{status}, 200, 'sslmode=require works too');

$t->stop_workers;
is($t->sanitizer_reports, '', 'no AddressSanitizer/UBSan reports from the workers');

done_testing();
