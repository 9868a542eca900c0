# Every nginx example in nginx/ runs here, templated only in addresses,
# ports and paths (t/lib/PgRestTest.pm, _example_server_block):
#
#   nginx/pg_rest.conf             API at the root, unix socket
#   nginx/pg_rest-api-prefix.conf  API under /api/ (split_path_info)
#   nginx/pg_rest-tls.conf         HTTPS on a self-signed certificate made
#                                  here by openssl, port 80 redirects
#   nginx/pg_rest-upstream.conf    two groups of workers on TCP ports of
#                                  127.0.0.1 (spawn-fcgi -a -p), keep-alive
#
# Each one serves deployment 3.3 (sql/deploy-cloud.sql, row level security
# on cuser) and must show: the role switch with a token (each user sees
# only its own rows; no token is a 401), a write (POST 201 with a Location
# that finds the row), and PostgREST's JSON error bodies (never nginx's
# HTML).  Under /api/ the Location, the Content-Location and the OpenAPI
# basePath carry the prefix.  For the upstream both backends must answer
# (nginx's access log names the backend of each request), and with one
# group stopped every request must still succeed.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use File::Basename qw(basename);
use JSON::PP;
use Test::More;
use Time::HiRes qw(sleep);
use PgRestTest;

PgRestTest::skip_unless_ready();

my $t = PgRestTest->new();
my $tmp = $t->tmpdir;
my $JSON = JSON::PP->new->canonical(1)->utf8(1);

my $have_openssl = grep { -x "$_/openssl" } split /:/, $ENV{PATH} // '';
my $have_curl    = grep { -x "$_/curl" } split /:/, $ENV{PATH} // '';

$t->start_postgres();
my $DB = 'demobase';
$t->createdb($DB);
$t->psql_file($t->sql_path('deploy-cloud.sql'), db => $DB);

my $cfg = PgRestTest->read_config($t->sql_path('deploy-cloud.conf'));
$cfg->{'db-uri'} = $t->db_uri(user => 'dbauth', password => 'mysecret', db => $DB);
my $SECRET = $cfg->{'jwt-secret'};
my $now = time;
my %tok = map { $_ => $t->jwt({ role => 'webuser', user => $_, exp => $now + 3600 }, $SECRET) }
	qw(alice bob);

$t->start_workers(config => $cfg, workers => 2);

my %tested;

# ---------------------------------------------------------------------------
# the checks every example must pass; $req->($method, $path, %o) sends one
# request and returns PgRestTest's response hash

sub hdr {
	my ($r, $name) = @_;
	my $v = $r->{headers}{ lc $name };
	return ref $v eq 'ARRAY' ? join(', ', @$v) : $v;
}

sub json_error_ok {
	my ($r, $status, $name, $code) = @_;
	is($r->{status}, $status, "$name: status $status") or diag($r->{content});
	like(hdr($r, 'Content-Type') // '', qr{^application/json}, "$name: JSON, not nginx's HTML");
	unlike($r->{content}, qr/<html/i, "$name: no HTML page");
	my $j = ref $r->{json} eq 'HASH' ? $r->{json} : {};
	ok(exists $j->{code} && exists $j->{message} && exists $j->{details} && exists $j->{hint},
	   "$name: PostgREST's error body") or diag($r->{content});
	is($j->{code}, $code, "$name: code $code") if defined $code;
}

sub api_checks {
	my ($name, $req, $prefix) = @_;
	my $as = sub { (Authorization => "Bearer $tok{ $_[0] }") };

	# no token: 401 from pg_rest, not from nginx
	my $r = $req->('GET', "$prefix/items");
	json_error_ok($r, 401, "$name: no token", 'PGRST302');
	like(hdr($r, 'WWW-Authenticate') // '', qr/^Bearer/, "$name: no token: WWW-Authenticate");

	# the role switch: each token's user sees only its own rows (RLS)
	for my $user (qw(alice bob)) {
		$r = $req->('GET', "$prefix/items?select=name,cuser&order=id", headers => { $as->($user) });
		is($r->{status}, 200, "$name: GET as $user") or diag($r->{content});
		my @rows = ref $r->{json} eq 'ARRAY' ? @{ $r->{json} } : ();
		ok(@rows >= 2, "$name: $user sees rows");
		is_deeply([ grep { $_->{cuser} ne $user } @rows ], [], "$name: $user sees only its own rows");
	}
	$r = $req->('GET', "$prefix/items?select=name", headers => { $as->('alice') });
	is(hdr($r, 'Content-Location'), "$prefix/items?select=name",
	   "$name: Content-Location carries the prefix '$prefix'");

	# a write: 201 and a Location that finds the new row
	my $row = "from $name";
	$r = $req->('POST', "$prefix/items", headers => {
		$as->('alice'), 'Content-Type' => 'application/json', Prefer => 'return=headers-only' },
		body => $JSON->encode({ name => $row, price => 1.5, cuser => 'alice' }));
	is($r->{status}, 201, "$name: POST 201") or diag($r->{content});
	my $loc = hdr($r, 'Location') // '';
	like($loc, qr{^\Q$prefix\E/items\?id=eq\.\d+$}, "$name: Location carries the prefix '$prefix'");
	$r = $req->('GET', $loc || "$prefix/items?id=eq.0", headers => { $as->('alice') });
	is_deeply([ map { $_->{name} } @{ ref $r->{json} eq 'ARRAY' ? $r->{json} : [] } ], [$row],
		  "$name: the Location finds the new row");
	$r = $req->('GET', "$prefix/items?select=name&name=eq." . PgRestTest::_uri_escape($row),
		    headers => { $as->('bob') });
	is_deeply($r->{json}, [], "$name: bob does not see alice's new row");

	# errors: PostgREST's JSON bodies
	$r = $req->('POST', "$prefix/items", headers => {
		$as->('alice'), 'Content-Type' => 'application/json' },
		body => $JSON->encode({ name => 'not mine', cuser => 'bob' }));
	json_error_ok($r, 403, "$name: RLS refuses a row for another user", '42501');
	$r = $req->('GET', "$prefix/no_such_table", headers => { $as->('alice') });
	json_error_ok($r, 404, "$name: unknown table");
	$r = $req->('GET', "$prefix/items?id=gt.nope", headers => { $as->('alice') });
	json_error_ok($r, 400, "$name: bad filter value", '22P02');
}

# requests through the plain-HTTP nginx of the current start_nginx
my $http = sub {
	my ($method, $path, %o) = @_;
	return $t->request($method, $path, %o);
};

sub start_ok {
	my ($name, %o) = @_;
	my $ok = eval { $t->start_nginx(%o); 1 };
	ok($ok, "$name: nginx starts with it") or diag($@);
	return $ok;
}

# ---------------------------------------------------------------------------
# nginx/pg_rest.conf: the root

$tested{'pg_rest.conf'} = 1;
if (start_ok('pg_rest.conf', prefix => '/')) {
	api_checks('pg_rest.conf', $http, '');
	my $r = $t->get('/', headers => { Authorization => "Bearer $tok{alice}" });
	is($r->{json}{basePath}, '/', 'pg_rest.conf: OpenAPI basePath /');
}

# ---------------------------------------------------------------------------
# nginx/pg_rest-api-prefix.conf: under /api/

$tested{'pg_rest-api-prefix.conf'} = 1;
if (start_ok('pg_rest-api-prefix.conf', prefix => '/api')) {
	api_checks('pg_rest-api-prefix.conf', $http, '/api');
	my $r = $t->get('/api/', headers => { Authorization => "Bearer $tok{alice}" });
	is($r->{status}, 200, 'pg_rest-api-prefix.conf: OpenAPI at /api/');
	is($r->{json}{basePath}, '/api', 'pg_rest-api-prefix.conf: OpenAPI basePath /api');
	ok(exists $r->{json}{paths}{'/items'}, 'pg_rest-api-prefix.conf: paths relative to basePath');
	$r = $t->get('/api');
	is($r->{status}, 301, 'pg_rest-api-prefix.conf: /api redirects');
	like(hdr($r, 'Location') // '', qr{/api/$}, 'pg_rest-api-prefix.conf: to /api/');
	$r = $t->get('/no-such-page.html');
	is($r->{status}, 404, 'pg_rest-api-prefix.conf: outside /api/ is the static site, not pg_rest');
	unlike($r->{content}, qr/PGRST/, 'pg_rest-api-prefix.conf: not answered by pg_rest');
}

# ---------------------------------------------------------------------------
# nginx/pg_rest-tls.conf: HTTPS with a certificate made here

$tested{'pg_rest-tls.conf'} = 1;
SKIP: {
	skip 'openssl or curl not installed', 1 unless $have_openssl && $have_curl;
	my $dir = "$tmp/tls";
	mkdir $dir;
	my ($st, $out, $err) = $t->_run([ 'openssl', 'req', '-x509', '-newkey', 'rsa:2048', '-nodes',
		'-days', '2', '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1',
		'-keyout', "$dir/key.pem", '-out', "$dir/cert.pem" ], timeout => 60);
	is($st, 0, 'pg_rest-tls.conf: self-signed certificate made') or diag($err);
	last SKIP unless $st == 0;
	last SKIP unless start_ok('pg_rest-tls.conf', example => 'pg_rest-tls.conf',
				  cert => "$dir/cert.pem", key => "$dir/key.pem");
	my $tls_port = $t->nginx_port('TLS');
	ok($tls_port, 'pg_rest-tls.conf: a TLS port');

	# curl checks the certificate against the one made above (--cacert)
	my $n = 0;
	my $https = sub {
		my ($method, $path, %o) = @_;
		my $url = "https://127.0.0.1:$tls_port$path";
		die "refusing $url\n" unless $url =~ m{\Ahttps://127\.0\.0\.1:\d+/};
		$n++;
		my ($h, $b) = ("$dir/h.$n", "$dir/b.$n");
		my @cmd = ('curl', '-sS', '--max-time', '20', '--cacert', "$dir/cert.pem",
			   '--tlsv1.2', '-X', $method, '-D', $h, '-o', $b, '-w', '%{http_code}');
		for my $k (sort keys %{ $o{headers} || {} }) {
			push @cmd, '-H', "$k: $o{headers}{$k}";
		}
		push @cmd, '--data-binary', $o{body} if defined $o{body};
		push @cmd, '-H', "User-Agent: $PgRestTest::UA", $url;
		my ($cst, $cout, $cerr) = $t->_run(\@cmd, timeout => 30);
		my %headers;
		for my $line (split /\r?\n/, PgRestTest::_slurp($h) // '') {
			next unless $line =~ /^([^:\s]+):\s*(.*)$/;
			my ($k, $v) = (lc $1, $2);
			$headers{$k} = exists $headers{$k}
				? [ (ref $headers{$k} ? @{ $headers{$k} } : $headers{$k}), $v ] : $v;
		}
		my $content = PgRestTest::_slurp($b) // '';
		my $r = { status => ($cst == 0 ? $cout + 0 : 599), headers => \%headers,
			  content => $content, url => $url, curl_error => $cerr };
		diag("curl $url: $cerr") if $cst != 0;
		$r->{json} = eval { $JSON->decode($content) } if length $content;
		return $r;
	};
	my $r = $https->('GET', '/items?select=name', headers => { Authorization => "Bearer $tok{alice}" });
	is($r->{status}, 200, 'pg_rest-tls.conf: HTTPS with the certificate verified');
	like(hdr($r, 'Strict-Transport-Security') // '', qr/max-age=\d+/, 'pg_rest-tls.conf: HSTS header');
	api_checks('pg_rest-tls.conf', $https, '');

	# port 80 only redirects, keeping the path and the query
	$r = $t->get('/items?select=name', headers => { Authorization => "Bearer $tok{alice}" });
	is($r->{status}, 301, 'pg_rest-tls.conf: plain HTTP is redirected');
	is(hdr($r, 'Location'), 'https://127.0.0.1/items?select=name',
	   'pg_rest-tls.conf: to https:// with the same path and query');
	unlike($r->{content}, qr/apple|banana/, 'pg_rest-tls.conf: no data over plain HTTP');
}

# ---------------------------------------------------------------------------
# nginx/pg_rest-upstream.conf: two backends over TCP

$tested{'pg_rest-upstream.conf'} = 1;
{
	my %port;
	for my $g (qw(a b)) {
		my $ok = eval {
			$port{$g} = PgRestTest::_free_port();
			$t->start_workers(group => $g, port => $port{$g}, workers => 3, config => $cfg,
					  env => { FCGI_WEB_SERVER_ADDRS => '127.0.0.1' });
			1;
		};
		ok($ok, "pg_rest-upstream.conf: worker group $g on 127.0.0.1:" . ($port{$g} // '?'))
			or diag($@);
	}
	my @backends = map { "127.0.0.1:$port{$_}" } qw(a b);
	# two nginx workers x keepalive 2 < 3 workers per group: see the starvation rule in the file
	if (start_ok('pg_rest-upstream.conf', example => 'pg_rest-upstream.conf',
		     backends => \@backends, worker_processes => 2)) {
		api_checks('pg_rest-upstream.conf', $http, '/api');

		my $log = "$tmp/ngx/logs/server.log";
		my $final_upstreams = sub {
			my ($from) = @_;
			my $text = PgRestTest::_slurp($log) // '';
			my @lines = split /\n/, substr($text, $from);
			my %n;
			for (@lines) {
				# the last address is the backend that answered
				$n{$1}++ if /upstream=(?:[^ ]*, )?(127\.0\.0\.1:\d+) /;
			}
			return \%n;
		};
		for (1 .. 6) {
			$t->get('/api/items?select=name', headers => { Authorization => "Bearer $tok{bob}" });
		}
		my $seen = $final_upstreams->(0);
		ok($seen->{ $backends[0] }, "pg_rest-upstream.conf: backend a answered ($backends[0])")
			or diag(PgRestTest::_slurp($log));
		ok($seen->{ $backends[1] }, "pg_rest-upstream.conf: backend b answered ($backends[1])")
			or diag(PgRestTest::_slurp($log));

		# stop group b: nginx moves on to a, every request still succeeds
		$t->stop_workers(group => 'b');
		sleep 0.3;
		my $mark = -s $log // 0;
		my @st = map {
			$t->get('/api/items?select=name', headers => { Authorization => "Bearer $tok{bob}" })->{status}
		} 1 .. 6;
		is_deeply(\@st, [ (200) x 6 ], 'pg_rest-upstream.conf: with group b stopped, every GET succeeds');
		my $r = $t->request('POST', '/api/items', headers => {
			Authorization => "Bearer $tok{bob}", 'Content-Type' => 'application/json' },
			body => $JSON->encode({ name => 'while b is down', cuser => 'bob' }));
		is($r->{status}, 201, 'pg_rest-upstream.conf: and a POST too') or diag($r->{content});
		$seen = $final_upstreams->($mark);
		is_deeply([ keys %$seen ], [ $backends[0] ], 'pg_rest-upstream.conf: all answered by a')
			or diag(PgRestTest::_slurp($log));
	}
	$t->stop_nginx;
	$t->stop_workers(group => $_) for qw(a b);
}

# ---------------------------------------------------------------------------
# no example left untested

my @files = sort map { basename($_) } glob($t->srcdir . '/nginx/*.conf');
is_deeply(\@files, [ sort keys %tested ], 'every nginx/*.conf example is run by this test');

$t->stop_nginx;
$t->stop_workers;
is($t->sanitizer_reports, '', 'no AddressSanitizer/UBSan reports from the workers');

done_testing();
