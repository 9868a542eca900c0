# Apache 2.4 + mod_fcgid: the shipped apache/ files, run as shipped (only
# paths and the port replaced), in front of deployment 3.3 of the seed
# (sql/deploy-cloud.sql: webanon without rights, tokens for webuser, RLS on
# cuser).  mod_fcgid starts and retires the workers itself.
#
# Each site is checked the same way (site_ok): the token reaches pg_rest
# (CGIPassAuth, or the E= rewrite) and switches the role, RLS shows alice
# only her rows, no token is 401 PGRST302, a POST with return=representation
# is 201, errors are PostgREST's JSON (never an Apache HTML page), and the
# public mount prefix (REQUEST_URI minus PATH_INFO; DEPLOY-NOTES.md 3.3,
# 4.3) is the OpenAPI document's basePath and starts the Location of a
# POST with return=headers-only (PostgREST has no prefix to add: behind a
# proxy at /api its Location misses it).
#
# Sites:
#   apache/pg_rest.conf             ScriptAlias / .../pg_rest/ (root)
#   apache/pg_rest-api-prefix.conf  ScriptAlias /api ... (+ /api -> /api/)
#   apache/pg_rest.htaccess         front controller, AllowOverride All,
#                                   CGIPassAuth, SetEnv PG_REST_CONFIG
#   apache/pg_rest-fileinfo.htaccess  AllowOverride FileInfo Options: the
#                                   E=HTTP_AUTHORIZATION rewrite, and the
#                                   configuration found as .pg_rest.conf
#                                   next to the program (503 JSON until it
#                                   exists)
# then worker recycling (FcgidMaxRequestsPerProcess 3): every request
# answered, every retired worker exits 0 on mod_fcgid's SIGTERM, and the
# error logs hold nothing unexpected; last, no sanitizer report.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use JSON::PP;
use Test::More;
use Time::HiRes qw(sleep time);
use PgRestTest;

PgRestTest::skip_unless_ready();
if (my $missing = PgRestTest::apache_missing()) {
    plan skip_all => "missing: $missing";
}

my $t = PgRestTest->new();
$t->start_postgres();
my $DB = 'demobase';
$t->createdb($DB);
$t->psql_file($t->sql_path('deploy-cloud.sql'), db => $DB);

my $cfg = PgRestTest->read_config($t->sql_path('deploy-cloud.conf'));
$cfg->{'db-uri'} = $t->db_uri(user => 'dbauth', password => 'mysecret', db => $DB);
my $SECRET = $cfg->{'jwt-secret'};
my $CONF = $t->write_config($cfg);
my $A = $t->apache_dir;

my $JSON = JSON::PP->new->canonical(1)->utf8(1);
my %tok = map { $_ => $t->jwt({ role => 'webuser', user => $_, exp => time + 3600 }, $SECRET) } qw(alice bob);

sub as {
    my ($user, %h) = @_;
    $h{Authorization} = "Bearer $tok{$user}" if defined $user;
    return \%h;
}

sub hdr {
    my ($r, $name) = @_;
    my $v = $r->{headers}{ lc $name };
    return ref $v eq 'ARRAY' ? join(', ', @$v) : $v;
}

# lines of Apache's error logs (since the last start) that nobody expects:
# warnings and errors from Apache or pg_rest, a worker killed by a signal,
# sanitizer output; @allowed are patterns of lines a check provoked
sub stray {
    my (@allowed) = @_;
    my @lines = grep {
        /\[[\w.]*:(?:warn|error|crit|alert|emerg)\]/ || /pg_rest\[\d+\]: (?:WARNING|ERROR|FATAL):/
            || /terminated by signal/ || /AddressSanitizer|LeakSanitizer|runtime error/
    } split /\n/, $t->apache_error_log;
    for my $re (@allowed) {
        @lines = grep { !/$re/ } @lines;
    }
    return join "\n", @lines;
}

my $serial = 0;

# the API checks every mount must pass; $prefix is the public mount prefix
sub site_ok {
    my ($name, $prefix) = @_;
    my $r;

    # JWT role switch + RLS: alice sees her rows only, bob his
    $r = $t->get("$prefix/items?select=name,cuser&order=id", headers => as('alice'));
    is($r->{status}, 200, "$name: alice reads items") or diag($r->{content});
    like(hdr($r, 'Content-Type') // '', qr{^application/json}, "$name: JSON");
    my @rows = ref $r->{json} eq 'ARRAY' ? @{ $r->{json} } : ();
    ok(@rows >= 2 && !grep({ $_->{cuser} ne 'alice' } @rows), "$name: only alice's rows")
        or diag($r->{content});
    is_deeply([ map { $_->{name} } @rows[0, 1] ], [ 'apple', 'banana' ], "$name: alice's first rows");
    $r = $t->get("$prefix/items?select=name&order=id", headers => as('bob'));
    is_deeply($r->{json}, [ map { { name => $_ } } 'carrot', 'dragon fruit', 'eggplant' ],
              "$name: bob sees his rows") or diag($r->{content});

    # no token: 401 as under nginx (jwt-secret set, jwt-optional off)
    $t->error_ok("$prefix/items", 401, 'PGRST302', "$name: no token");
    $r = $t->get("$prefix/items");
    like(hdr($r, 'WWW-Authenticate') // '', qr/^Bearer/, "$name: no token: WWW-Authenticate");
    # a bad token is refused, so the header really is what pg_rest reads
    $t->error_ok("$prefix/items", 401, 'PGRST301', "$name: bad signature",
                 headers => { Authorization => 'Bearer ' . $t->jwt({ role => 'webuser', user => 'alice' }, 'x' x 40) });

    # a write
    my $item = 'apache ' . ++$serial;
    $r = $t->request('POST', "$prefix/items", headers => as('alice',
            'Content-Type' => 'application/json', Prefer => 'return=representation'),
        body => $JSON->encode({ name => $item, price => 1.5, cuser => 'alice' }));
    is($r->{status}, 201, "$name: POST return=representation: 201") or diag($r->{content});
    is(ref $r->{json} eq 'ARRAY' ? $r->{json}[0]{name} : undef, $item, "$name: the row comes back");
    my $id = ref $r->{json} eq 'ARRAY' ? $r->{json}[0]{id} // '' : '';
    $r = $t->get("$prefix/items?select=name&id=eq.$id", headers => as('bob'));
    is_deeply($r->{json}, [], "$name: bob does not see alice's new row");
    $r = $t->request('POST', "$prefix/items", headers => as('alice',
            'Content-Type' => 'application/json', Prefer => 'return=headers-only'),
        body => $JSON->encode({ name => "$item b", cuser => 'alice' }));
    is($r->{status}, 201, "$name: POST return=headers-only: 201") or diag($r->{content});
    my $loc = hdr($r, 'Location') // '';
    like($loc, qr{\A\Q$prefix\E/items\?id=eq\.\d+\z}, "$name: Location keeps the mount prefix");
    $r = $t->get($loc =~ m{\A/} ? $loc : '/nolocation', headers => as('alice'));
    is(ref $r->{json} eq 'ARRAY' ? $r->{json}[0]{name} : undef, "$item b", "$name: the Location URL finds the row");

    # errors: PostgREST's JSON, not an Apache page
    my ($e) = $t->error_ok("$prefix/items?select=nosuchcol", 400, '42703', "$name: unknown column",
                           headers => as('alice'));
    unlike($e->{content}, qr/<html/i, "$name: no HTML");
    $t->error_ok("$prefix/items", 400, 'PGRST204', "$name: POST of an unknown column",
                 method => 'POST', headers => as('alice', 'Content-Type' => 'application/json'),
                 body => '{"nosuch":1}');
    $t->error_ok("$prefix/nosuchtable", 404, '42P01', "$name: unknown table", headers => as('alice'));

    # OpenAPI: basePath is the public prefix
    $r = $t->get("$prefix/", headers => as('alice'));
    is($r->{status}, 200, "$name: OpenAPI document") or diag($r->{content});
    like(hdr($r, 'Content-Type') // '', qr{^application/openapi\+json}, "$name: OpenAPI media type");
    is(ref $r->{json} eq 'HASH' ? $r->{json}{basePath} : undef, $prefix eq '' ? '/' : $prefix,
       "$name: basePath");
    ok(ref $r->{json} eq 'HASH' && $r->{json}{paths}{'/items'}, "$name: /items in paths");
}

# ---------------------------------------------------------------------------
# the API at the root: ScriptAlias / /usr/lib/cgi-bin/pg_rest/

$t->start_apache(conf => 'pg_rest.conf', config => $CONF);
site_ok('root', '');
{
    my $r = $t->get('/rpc/nosuchfn', headers => as('alice'));
    is($r->{status}, 404, 'root: /rpc/fn reaches pg_rest as one path (PGRST202)');
    is($r->{json}{code}, 'PGRST202', 'root: PGRST202') or diag($r->{content});
    # two Authorization headers: Apache joins them ("Bearer a, Bearer b"),
    # which is no token pg_rest accepts (nginx refuses them with 400 itself)
    $r = $t->get('/items', headers => { Authorization => [ "Bearer $tok{alice}", "Bearer $tok{bob}" ] });
    is($r->{status}, 401, 'root: two Authorization headers: 401');
    like($r->{json}{code} // '', qr/\APGRST30[13]\z/, 'root: two Authorization headers: invalid token')
        or diag($r->{content});
    # AllowEncodedSlashes NoDecode: %2F reaches pg_rest, which answers JSON
    $r = $t->get('/items%2Fx', headers => as('alice'));
    is($r->{status}, 404, 'root: %2F in the path: 404 from pg_rest');
    like(hdr($r, 'Content-Type') // '', qr{^application/json}, 'root: %2F: JSON, not Apache\'s page');

    # FcgidMaxRequestLen: a bulk body above mod_fcgid's default (128 KiB)
    my $rows = [ map { { body => ('x' x 1000) . " bulk $_", cuser => 'alice' } } 1 .. 200 ];
    my $body = $JSON->encode($rows);
    cmp_ok(length $body, '>', 131072, 'bulk body is above mod_fcgid\'s default limit');
    $r = $t->request('POST', '/notes', headers => as('alice', 'Content-Type' => 'application/json',
            Prefer => 'return=minimal, count=exact'), body => $body);
    is($r->{status}, 201, 'root: bulk POST of 200 rows: 201') or diag(substr($r->{content}, 0, 500));
    is(hdr($r, 'Content-Range'), '*/200', 'root: 200 rows written');
    is(stray(), '', 'root: nothing unexpected in the error logs');
}

# ---------------------------------------------------------------------------
# under /api: ScriptAlias /api /usr/lib/cgi-bin/pg_rest

$t->start_apache(conf => 'pg_rest-api-prefix.conf', config => $CONF);
site_ok('/api', '/api');
{
    my $r = $t->get('/api?select=x');
    is($r->{status}, 301, '/api without a slash: redirected');
    like(hdr($r, 'Location') // '', qr{^http://127\.0\.0\.1:\d+/api/\?select=x\z}, '... to /api/, query kept');
    $r = $t->get('/api/rpc/nosuchfn', headers => as('alice'));
    is($r->{json}{code}, 'PGRST202', '/api: /api/rpc/fn') or diag($r->{content});
    $r = $t->get('/index.html');
    is($r->{status}, 404, '/api: the web site around it is Apache\'s');
    is(stray(qr/AH00128: File does not exist: .*index\.html/), '',
       '/api: nothing unexpected in the error logs (no PATH_TRANSLATED denials)');
}

# ---------------------------------------------------------------------------
# shared hosting, AllowOverride All: CGIPassAuth, SetEnv PG_REST_CONFIG

{
    $t->start_apache(htaccess => 'pg_rest.htaccess', allow_override => 'All', dir => 'site',
                     config => $CONF);
    # a configuration file should one sit next to the program: never served
    my $decoy = "$A/htdocs/site/pg_rest.conf";
    open my $fh, '>', $decoy or die "$decoy: $!";
    print $fh "jwt-secret = \"decoy-secret-not-to-be-served-0123456789\"\n";
    close $fh;
    chmod 0644, $decoy;

    site_ok('.htaccess (All)', '/site');
    my $r = $t->get('/site');
    is($r->{status}, 301, '.htaccess: /site redirected by mod_dir');
    $r = $t->get('/site/pg_rest.conf');
    is($r->{status}, 403, '.htaccess: pg_rest.conf next to the program: 403');
    unlike($r->{content}, qr/decoy-secret/, '.htaccess: ... and its text is not sent');
    $r = $t->get('/site/rpc/nosuchfn', headers => as('alice'));
    is($r->{json}{code}, 'PGRST202', '.htaccess: /site/rpc/fn') or diag($r->{content});
    like($t->apache_error_log, qr/INFO: configuration \Q$CONF\E \(from the request's PG_REST_CONFIG\)/,
         '.htaccess: the worker took its configuration from SetEnv');
    is(stray(qr/AH01630: client denied by server configuration: .*site\/pg_rest\.conf/), '',
       '.htaccess (All): nothing unexpected in the error logs');
    unlink $decoy;
}

# ---------------------------------------------------------------------------
# shared hosting, AllowOverride FileInfo Options: the E= rewrite, and
# .pg_rest.conf next to the program

{
    my $dotconf = "$A/htdocs/limited/.pg_rest.conf";
    unlink $dotconf;
    $t->start_apache(htaccess => 'pg_rest-fileinfo.htaccess', allow_override => 'FileInfo Options',
                     dir => 'limited',
                     # the host's own config: a request with X-Test-Site: other
                     # names another configuration (two sites sharing one program)
                     host_conf => qq{    SetEnvIf X-Test-Site "^other\$" PG_REST_CONFIG=$A/other.conf});

    # no configuration yet: a JSON 503, and the worker keeps looking
    my ($r, $j) = $t->error_ok('/limited/items', 503, 'PGRST000', 'FileInfo: no configuration yet',
                               headers => as('alice'));
    is($j->{message}, 'Server lacks a configuration', 'FileInfo: no configuration: message');
    unlike($r->{content}, qr{\Q$A\E}, 'FileInfo: no configuration: no server paths in the answer');
    like($t->apache_error_log, qr/FATAL: no configuration: .*\Q$dotconf\E/,
         'FileInfo: no configuration: the error log says where it looked');

    # the configuration appears next to the program; no restart needed
    my $text = do { local (@ARGV, $/) = ($CONF); <> };
    open my $fh, '>', $dotconf or die "$dotconf: $!";
    print $fh $text;
    close $fh;
    chmod 0644, $dotconf;

    site_ok('.htaccess (FileInfo)', '/limited');
    like($t->apache_error_log, qr/INFO: configuration \Q$dotconf\E \(from the request's SCRIPT_FILENAME\)/,
         'FileInfo: the worker took .pg_rest.conf next to the program');
    $r = $t->get('/limited/.pg_rest.conf');
    is($r->{status}, 403, 'FileInfo: .pg_rest.conf is not served');
    unlike($r->{content}, qr/\Q$SECRET\E/, 'FileInfo: ... nor its secret');

    # a request that names another configuration (the host's SetEnvIf on
    # X-Test-Site: two sites sharing one program file) is served
    # with that one, never with this one: other.conf has another secret
    my %other = (%$cfg, 'jwt-secret' => 'the-other-sites-secret-0123456789abcdef');
    $t->write_config(\%other, "$A/other.conf");
    $t->error_ok('/limited/items', 401, 'PGRST301',
                 'FileInfo: a request of another configuration: checked with its secret',
                 headers => as('alice', 'X-Test-Site' => 'other'));
    my $tok = $t->jwt({ role => 'webuser', user => 'bob' }, $other{'jwt-secret'});
    $r = $t->get('/limited/items?select=name&order=id&limit=1',
                 headers => { Authorization => "Bearer $tok", 'X-Test-Site' => 'other' });
    is_deeply($r->{json}, [ { name => 'carrot' } ], 'FileInfo: ... and served with it')
        or diag($r->{content});
    $r = $t->get('/limited/items?select=name&order=id&limit=1', headers => as('alice'));
    is_deeply($r->{json}, [ { name => 'apple' } ], 'FileInfo: the next request of this site: its own again')
        or diag($r->{content});
    like($t->apache_error_log, qr/WARNING: the request names configuration \Q$A\E\/other\.conf, not \Q$dotconf\E: switching/,
         'FileInfo: the switch is logged');
    is(stray(qr/FATAL: no configuration/, qr/WARNING: the request names configuration .*: switching/,
             qr/AH01630: client denied/, qr/\[rewrite:error\].*forbidden/), '',
       'FileInfo: nothing unexpected in the error logs');
}

# ---------------------------------------------------------------------------
# worker recycling: FcgidMaxRequestsPerProcess 3

{
    $t->start_apache(conf => 'pg_rest.conf', config => $CONF, set => { FcgidMaxRequestsPerProcess => 3 });
    my $ok = 0;
    for my $i (1 .. 10) {
        my $r = $t->get("/items?select=name&order=id&limit=1&offset=0&i=$i", headers => as('alice'));
        $ok++ if $r->{status} == 200 && ref $r->{json} eq 'ARRAY' && ($r->{json}[0]{name} // '') eq 'apple';
        diag("request $i: $r->{status} $r->{content}") unless $r->{status} == 200;
    }
    is($ok, 10, 'recycling: 10 requests, all answered');
    # mod_fcgid retires each worker after 3 requests (SIGTERM) and logs its exit
    my $exits = 0;
    my $deadline = time + 15;
    for (1 .. 300) {
        my @e = $t->apache_error_log =~ /terminated by calling exit\(\), return code: 0/g;
        $exits = @e;
        last if $exits >= 3 || time > $deadline;
        sleep 0.1;
    }
    cmp_ok($exits, '>=', 3, 'recycling: retired workers exit with return code 0') or diag($t->apache_error_log);
    unlike($t->apache_error_log, qr/terminated by signal/, 'recycling: no worker killed by a signal');
    like($t->apache_error_log, qr/pg_rest\[\d+\]: INFO: exiting after 3 requests/,
         'recycling: a worker finished its 3 requests and exited');
    is(stray(), '', 'recycling: nothing unexpected in the error logs');
    $t->stop_apache;
    unlike($t->apache_error_log, qr/terminated by signal/, 'recycling: Apache stopped without killing a worker');
}

# workers write leak reports when they exit: Apache stopped them above
$t->stop_apache;
is($t->sanitizer_reports, '', 'no AddressSanitizer/UBSan reports');

done_testing();
