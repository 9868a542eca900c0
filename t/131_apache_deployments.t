# The seed's deployments 3.1 (private network) and 3.2 (the simplest
# default) through Apache 2.4 + mod_fcgid with the shipped apache/pg_rest.conf
# (3.3 is t/130_apache.t); the same behaviour t/010_auth.t checks through
# nginx: who the request runs as, what it may read and write, and the
# jwt-secret rules that differ between the two.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use JSON::PP;
use Test::More;
use PgRestTest;

PgRestTest::skip_unless_ready();
if (my $missing = PgRestTest::apache_missing()) {
    plan skip_all => "missing: $missing";
}

my $t = PgRestTest->new();
$t->start_postgres();
my %DB = (private => 'ourbase', default => 'defaultbase');
$t->createdb($_) for values %DB;
$t->psql_file($t->sql_path("deploy-$_.sql"), db => $DB{$_}) for sort keys %DB;
for my $db (values %DB) {
    $t->psql(<<'SQL', db => $db);
CREATE VIEW public.whoami AS
SELECT current_user::text AS role, current_setting('request.jwt.claim.user', true) AS "user";
ALTER VIEW public.whoami OWNER TO dbowner;
GRANT SELECT ON public.whoami TO PUBLIC;
SQL
}

sub config_for {
    my ($d) = @_;
    my $cfg = PgRestTest->read_config($t->sql_path("deploy-$d.conf"));
    $cfg->{'db-uri'} = $t->db_uri(user => 'dbauth', password => 'mysecret', db => $DB{$d});
    return $cfg;
}

sub auth { return { Authorization => "Bearer $_[0]" } }

sub json_error_ok {
    my ($r, $status, $code, $name) = @_;
    is($r->{status}, $status, "$name: $status") or diag($r->{content});
    like($r->{headers}{'content-type'} // '', qr{^application/json}, "$name: JSON, not an Apache page");
    is(ref $r->{json} eq 'HASH' ? $r->{json}{code} : undef, $code, "$name: $code");
}

# ---------------------------------------------------------------------------
note('3.2 through Apache: no jwt-secret, everyone runs as dbowner');
$t->start_apache(conf => 'pg_rest.conf', config => $t->write_config(config_for('default')));
my $r = $t->get('/whoami');
is($r->{status}, 200, '3.2: GET /whoami') or diag($r->{content});
is($r->{json}[0]{role}, 'dbowner', '3.2: runs as the owner');
$r = $t->get('/items?select=name&order=id');
is(scalar @{ $r->{json} || [] }, 5, '3.2: the owner sees every row');
$r = $t->request('POST', '/items', headers => { 'Content-Type' => 'application/json',
                                                Prefer => 'return=representation' },
                 body => '{"name":"fig","price":2}');
is($r->{status}, 201, '3.2: POST 201') or diag($r->{content});
is($r->{json}[0]{cuser}, 'dbowner', '3.2: cuser defaults to current_user = dbowner');
json_error_ok($t->get('/items', headers => auth('a.b.c')), 500, 'PGRST300', '3.2: a Bearer token without jwt-secret');
json_error_ok($t->get('/nosuch'), 404, '42P01', '3.2: unknown table');

# ---------------------------------------------------------------------------
note('3.1 through Apache: jwt-secret, tokens for dbuser, no RLS');
my $cfg = config_for('private');
my $SECRET = $cfg->{'jwt-secret'};
$t->start_apache(conf => 'pg_rest.conf', config => $t->write_config($cfg));
json_error_ok($t->get('/items'), 401, 'PGRST302', '3.1: no token');
my $tok = $t->jwt({ role => 'dbuser', user => 'alice', exp => time + 3600 }, $SECRET);
$r = $t->get('/whoami', headers => auth($tok));
is($r->{status}, 200, '3.1: with a token') or diag($r->{content});
is_deeply($r->{json}, [ { role => 'dbuser', user => 'alice' } ], '3.1: the token\'s role and user claim');
$r = $t->get('/items?select=cuser', headers => auth($tok));
is_deeply([ sort keys %{ { map { $_->{cuser} => 1 } @{ $r->{json} || [] } } } ], [qw(alice bob carol)],
          '3.1: dbuser reads every user\'s rows');
$r = $t->request('POST', '/items', headers => { %{ auth($tok) }, 'Content-Type' => 'application/json',
                                                Prefer => 'return=representation' },
                 body => '{"name":"kiwi","price":1,"cuser":"alice"}');
is($r->{status}, 201, '3.1: POST 201') or diag($r->{content});
json_error_ok($t->get('/items', headers => auth($t->jwt({ role => 'dbuser' }, 'another-secret-of-32-characters!!'))),
              401, 'PGRST301', '3.1: a token signed with another secret');

$t->stop_apache;
is($t->sanitizer_reports, '', 'no sanitizer reports');
done_testing();
