# 010_auth.t — end to end: the jwt-secret rules of DESIGN.md and the three
# deployments of pg_rest-jwt-auth (sql/deploy-*.sql with their example
# configs), through real nginx, spawn-fcgi workers and PostgreSQL.
#
# One throwaway cluster holds the three deployments in three databases
# (private, default, cloud); the workers are restarted with each deployment's
# configuration.  A test-only view "whoami" shows, from inside PostgreSQL,
# which role a request ran as and which request.* settings it saw.
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

my %DB = (private => 'ourbase', default => 'defaultbase', cloud => 'demobase');

$t->createdb($DB{$_}) for sort keys %DB;
$t->psql_file($t->sql_path("deploy-$_.sql"), db => $DB{$_}) for qw(private default cloud);
$t->psql_file($t->sql_path('pre-request.sql'), db => $DB{cloud});

my $WHOAMI = <<'SQL';
CREATE VIEW public.whoami AS
SELECT current_user::text AS role,
       current_setting('request.jwt.claims', true) AS claims,
       current_setting('request.jwt.claim.user', true) AS "user",
       current_setting('request.method', true) AS method,
       current_setting('request.path', true) AS path,
       nullif(current_setting('request.headers', true), '')::json->>'user-agent' AS ua;
ALTER VIEW public.whoami OWNER TO dbowner;
-- test scaffolding: every role may ask who it is (webanon too)
GRANT SELECT ON public.whoami TO PUBLIC;
SQL
$t->psql($WHOAMI, db => $DB{$_}) for sort keys %DB;

my $JSON = JSON::PP->new->canonical(1);
my $now = time;

# ---------------------------------------------------------------------------
# helpers

sub show {
	my ($r) = @_;
	my $h = join '', map {
		my $v = $r->{headers}{$_};
		"  $_: " . (ref $v ? join(' | ', @$v) : $v) . "\n"
	} sort keys %{ $r->{headers} };
	my $c = $r->{content};
	$c = substr($c, 0, 2000) . '...' if length $c > 2000;
	return "$r->{status} $r->{reason} for $r->{url}\n$h$c";
}

sub auth { return { Authorization => "Bearer $_[0]" } }

# worker config for a deployment: its shipped example with db-uri pointed at
# the test cluster
sub config_for {
	my ($dep, %extra) = @_;
	my $cfg = PgRestTest->read_config($t->sql_path("deploy-$dep.conf"));
	$cfg->{'db-uri'} = $t->db_uri(user => 'dbauth', password => 'mysecret', db => $DB{$dep});
	$cfg->{'log-level'} = 'info';
	for my $k (keys %extra) {
		if (defined $extra{$k}) { $cfg->{$k} = $extra{$k} } else { delete $cfg->{$k} }
	}
	return $cfg;
}

# 200 with a JSON array; returns the array (or [] on failure)
sub rows_ok {
	my ($r, $name) = @_;
	my $ok = is($r->{status}, 200, "$name: status 200");
	like($r->{headers}{'content-type'} // '', qr{\Aapplication/json; charset=utf-8\z}i,
	     "$name: content-type");
	$ok &&= is(ref $r->{json}, 'ARRAY', "$name: body is a JSON array");
	diag(show($r)) unless $ok;
	return ref $r->{json} eq 'ARRAY' ? $r->{json} : [];
}

# an error response: status, PostgREST error body, optional code (string or
# regexp) and WWW-Authenticate (string or regexp; '' = must be absent)
sub error_ok {
	my ($r, $status, $code, $name, %o) = @_;
	my $ok = is($r->{status}, $status, "$name: status $status");
	like($r->{headers}{'content-type'} // '', qr{\Aapplication/json\b}i, "$name: JSON content-type");
	my $j = $r->{json};
	if (ref $j eq 'HASH') {
		is_deeply([ sort keys %$j ], [qw(code details hint message)],
			  "$name: body has exactly code, message, details, hint")
			or $ok = 0;
		if (ref $code) {
			like($j->{code} // '', $code, "$name: code") or $ok = 0;
		} elsif (defined $code) {
			is($j->{code}, $code, "$name: code $code") or $ok = 0;
		}
		ok(defined $j->{message} && length $j->{message}, "$name: message present") or $ok = 0;
	} else {
		fail("$name: body is a JSON object");
		$ok = 0;
	}
	if (exists $o{www}) {
		my $w = $r->{headers}{'www-authenticate'};
		if (!defined $o{www} || $o{www} eq '') {
			ok(!defined $w, "$name: no WWW-Authenticate") or $ok = 0;
		} elsif (ref $o{www}) {
			like($w // '', $o{www}, "$name: WWW-Authenticate") or $ok = 0;
		} else {
			is($w, $o{www}, "$name: WWW-Authenticate: $o{www}") or $ok = 0;
		}
	}
	diag(show($r)) unless $ok;
	return ref $j eq 'HASH' ? $j : {};
}

# GET /whoami; returns the row with claims decoded
sub whoami {
	my ($name, %o) = @_;
	my $r = $t->get('/whoami', %o);
	my $rows = rows_ok($r, $name);
	is(scalar @$rows, 1, "$name: one row") or diag(show($r));
	my $row = $rows->[0] // {};
	$row->{claims_json} = eval { decode_json($row->{claims}) } if defined $row->{claims} && length $row->{claims};
	return $row;
}

my $INVALID = qr/\ABearer error="invalid_token"/;

# ---------------------------------------------------------------------------
# deployment 3.2: no jwt-secret, every request runs as the owner

note('deployment 3.2 (sql/deploy-default.sql): no jwt-secret, db-anon-role = dbowner');
{
	my $cfg = config_for('default');
	ok(!exists $cfg->{'jwt-secret'}, 'deploy-default.conf has no jwt-secret');
	$t->start_workers(config => $cfg, workers => 2);
	$t->start_nginx(prefix => '/');

	my $w = whoami('3.2 no secret, no header');
	is($w->{role}, 'dbowner', '3.2: runs as db-anon-role dbowner');
	is($w->{user}, undef, '3.2: no request.jwt.claim.user');
	is($w->{method}, 'GET', '3.2: request.method');
	is($w->{path}, '/whoami', '3.2: request.path');
	is($w->{ua}, $PgRestTest::UA, '3.2: request.headers has the user-agent');
	if (defined $w->{claims} && length $w->{claims}) {
		is(ref $w->{claims_json}, 'HASH', '3.2: request.jwt.claims is a JSON object');
		is($w->{claims_json}{role} // 'dbowner', 'dbowner',
		   '3.2: anonymous claims name no other role');
	} else {
		pass('3.2: no claims for an anonymous request');
	}

	my $rows = rows_ok($t->get('/items?select=name,cuser&order=id'), '3.2 GET /items');
	is_deeply([ map { $_->{name} } @$rows ],
		  [ 'apple', 'banana', 'carrot', 'dragon fruit', 'eggplant' ],
		  '3.2: owner sees every row');

	$rows = rows_ok($t->get('/items?select=name,price&price=gt.1&order=price.desc&limit=1'),
			'3.2 GET /items filtered');
	is_deeply($rows, [ { name => 'dragon fruit', price => 3.2 } ], '3.2: filter, order, limit');

	$rows = rows_ok($t->get('/notes?select=body&order=id&limit=1&offset=2'), '3.2 GET /notes offset');
	is_deeply($rows, [ { body => 'bob: carrots are on sale' } ], '3.2: limit + offset');

	# cuser defaults to the session role: what a row written by this request
	# would get is current_user
	is($t->psql("SELECT column_default FROM information_schema.columns
		     WHERE table_name = 'items' AND column_name = 'cuser'", db => $DB{default}),
	   "CURRENT_USER\n", '3.2: cuser defaults to current_user (= dbowner in this deployment)');

	my $tok = $t->jwt({ role => 'dbowner', user => 'alice' }, 'whatever-secret-of-32-characters!!');
	my $e = error_ok($t->get('/whoami', headers => auth($tok)), 500, 'PGRST300',
			 '3.2 Bearer without jwt-secret', www => '');
	is($e->{message}, 'Server lacks JWT secret', '3.2: PGRST300 message');

	$e = error_ok($t->get('/items', headers => auth('not.even.ajwt')), 500, 'PGRST300',
		      '3.2 garbage Bearer without jwt-secret');

	$w = whoami('3.2 empty Authorization header', headers => { Authorization => '' });
	is($w->{role}, 'dbowner', '3.2: an empty Authorization header counts as absent');
}

# ---------------------------------------------------------------------------
# deployment 3.1: private network, jwt-secret set, anon = dbuser

note('deployment 3.1 (sql/deploy-private.sql): jwt-secret, db-anon-role = dbuser');
my $SECRET1;
{
	my $cfg = config_for('private');
	$SECRET1 = $cfg->{'jwt-secret'};
	ok(defined $SECRET1 && !ref $SECRET1 && length $SECRET1 >= 32,
	   'deploy-private.conf sets a jwt-secret of 32+ characters');
	$t->start_workers(config => $cfg, workers => 2);

	my $e = error_ok($t->get('/items'), 401, 'PGRST302', '3.1 no token', www => 'Bearer');
	$e = error_ok($t->get('/whoami'), 401, 'PGRST302', '3.1 no token (whoami)', www => 'Bearer');

	for my $alg (qw(HS256 HS384 HS512)) {
		my $claims = { role => 'dbuser', user => 'alice', exp => $now + 3600 };
		my $tok = $t->jwt($claims, $SECRET1, alg => $alg);
		my $w = whoami("3.1 $alg token", headers => auth($tok));
		is($w->{role}, 'dbuser', "3.1 $alg: SET ROLE to the token's role");
		is($w->{user}, 'alice', "3.1 $alg: request.jwt.claim.user");
		is_deeply($w->{claims_json}, $claims, "3.1 $alg: request.jwt.claims = the token's claims");
	}

	my $tok = $t->jwt({ role => 'dbuser', user => 'alice', exp => $now + 3600 }, $SECRET1);
	my $rows = rows_ok($t->get('/items?select=name,cuser&order=id', headers => auth($tok)),
			   '3.1 GET /items as dbuser');
	is(scalar @$rows, 5, '3.1: dbuser reads all rows (no RLS)');
	is_deeply([ sort { $a cmp $b } keys %{ { map { $_->{cuser} => 1 } @$rows } } ],
		  [qw(alice bob carol)], '3.1: rows of every cuser');

	$rows = rows_ok($t->get('/notes?select=id,body,cuser&cuser=eq.bob', headers => auth($tok)),
			'3.1 GET /notes?cuser=eq.bob');
	is_deeply([ map { $_->{body} } @$rows ], ['bob: carrots are on sale'], '3.1: filter on cuser');

	my $w = whoami('3.1 lower-case scheme', headers => { Authorization => "bearer $tok" });
	is($w->{role}, 'dbuser', '3.1: "bearer" scheme is case-insensitive');

	$w = whoami('3.1 token without role', headers => auth($t->jwt({ user => 'bob' }, $SECRET1)));
	is($w->{role}, 'dbuser', '3.1: token without role claim runs as db-anon-role');
	is($w->{user}, 'bob', '3.1: claims of a role-less token are still visible');

	$w = whoami('3.1 exp within the 30 s skew',
		    headers => auth($t->jwt({ role => 'dbuser', exp => $now - 5 }, $SECRET1)));
	is($w->{role}, 'dbuser', '3.1: exp 5 s ago is still accepted (clock skew)');

	# --- tokens that must be refused with 401 invalid_token
	my $good_h = '{"alg":"HS256","typ":"JWT"}';
	my $good_p = $JSON->encode({ role => 'dbuser', user => 'alice' });
	my ($gh, $gp, $gs) = split /\./, $t->jwt_raw($good_h, $good_p, $SECRET1);
	my $forged_p = PgRestTest::b64url($JSON->encode({ role => 'dbowner', user => 'alice' }));
	my %bad = (
		'signed with another secret' => $t->jwt({ role => 'dbuser' }, 'another-secret-another-secret-0123'),
		'payload changed after signing' => "$gh.$forged_p.$gs",
		'signature removed' => "$gh.$gp.",
		'alg none' => $t->jwt_raw('{"alg":"none","typ":"JWT"}', $good_p, undef),
		'header says HS256, signed HS512' =>
			$t->jwt_raw($good_h, $good_p, $SECRET1, alg => 'HS512'),
		'one part' => 'abcdef',
		'two parts' => "$gh.$gp",
		'four parts' => "$gh.$gp.$gs.$gs",
		'garbage parts' => 'a!b.c$d.e%f',
		'header not JSON' => $t->jwt_raw('this is not json', $good_p, $SECRET1, alg => 'HS256'),
		'payload not JSON' => $t->jwt_raw($good_h, '{"role":', $SECRET1),
		'expired' => $t->jwt({ role => 'dbuser', exp => $now - 3600 }, $SECRET1),
		'expired (HS512)' => $t->jwt({ role => 'dbuser', exp => $now - 120 }, $SECRET1, alg => 'HS512'),
		'not yet valid (nbf)' => $t->jwt({ role => 'dbuser', nbf => $now + 3600 }, $SECRET1),
		'issued in the future (iat)' => $t->jwt({ role => 'dbuser', iat => $now + 3600 }, $SECRET1),
		'exp not a number' => $t->jwt({ role => 'dbuser', exp => 'tomorrow' }, $SECRET1),
	);
	for my $name (sort keys %bad) {
		my $e = error_ok($t->get('/items', headers => auth($bad{$name})), 401, qr/\APGRST30[13]\z/,
				 "3.1 bad token ($name)", www => $INVALID);
		if ($name =~ /^expired/) {
			is($e->{message}, 'JWT expired', "3.1 bad token ($name): message");
		}
	}
}

# ---------------------------------------------------------------------------
# 3.1 with jwt-aud and jwt-optional

note('deployment 3.1 with jwt-aud = "pg_rest-test" and jwt-optional = true');
{
	$t->start_workers(config => config_for('private', 'jwt-aud' => 'pg_rest-test',
						 'jwt-optional' => 'true'), workers => 2);

	my $w = whoami('jwt-optional, no token');
	is($w->{role}, 'dbuser', 'jwt-optional: no token runs as db-anon-role');
	is($w->{user}, undef, 'jwt-optional: no user claim');

	my $rows = rows_ok($t->get('/items?select=id'), 'jwt-optional GET /items without token');
	is(scalar @$rows, 5, 'jwt-optional: anonymous dbuser reads the rows');

	error_ok($t->get('/items', headers => auth($t->jwt({ role => 'dbuser' }, 'another-secret-another-secret-0123'))),
		 401, qr/\APGRST30[13]\z/, 'jwt-optional, bad signature still refused', www => $INVALID);

	error_ok($t->get('/items', headers => auth($t->jwt({ role => 'dbuser', aud => 'someone-else' }, $SECRET1))),
		 401, qr/\APGRST30[13]\z/, 'jwt-aud: other audience', www => $INVALID);
	error_ok($t->get('/items', headers => auth($t->jwt({ role => 'dbuser', aud => [ 'x', 'y' ] }, $SECRET1))),
		 401, qr/\APGRST30[13]\z/, 'jwt-aud: audience list without ours', www => $INVALID);

	for my $case ([ 'matching aud', 'pg_rest-test' ],
		      [ 'aud list containing ours', [ 'x', 'pg_rest-test' ] ],
		      [ 'no aud claim', undef ]) {
		my %c = (role => 'dbuser', user => 'alice');
		$c{aud} = $case->[1] if defined $case->[1];
		my $w = whoami("jwt-aud: $case->[0]", headers => auth($t->jwt(\%c, $SECRET1)));
		is($w->{role}, 'dbuser', "jwt-aud: $case->[0] accepted");
	}
}

# ---------------------------------------------------------------------------
# deployment 3.3: public cloud, RLS on cuser, pre-request check_user()

note('deployment 3.3 (sql/deploy-cloud.sql) with db-pre-request = public.check_user');
my $SECRET3;
{
	my $cfg = config_for('cloud', 'db-pre-request' => 'public.check_user');
	$SECRET3 = $cfg->{'jwt-secret'};
	ok(defined $SECRET3 && length $SECRET3 >= 32, 'deploy-cloud.conf sets a jwt-secret of 32+ characters');
	is($cfg->{'db-anon-role'}, 'webanon', 'deploy-cloud.conf: anon role webanon');
	$t->start_workers(config => $cfg, workers => 2);

	error_ok($t->get('/items'), 401, 'PGRST302', '3.3 no token', www => 'Bearer');
	error_ok($t->get('/categories'), 401, 'PGRST302', '3.3 no token (table without cuser)', www => 'Bearer');

	my %tok = map {
		$_ => $t->jwt({ role => 'webuser', user => $_, exp => $now + 600 }, $SECRET3)
	} qw(alice bob carol dave);

	my %expect = (alice => [ 'apple', 'banana' ],
		      bob   => [ 'carrot', 'dragon fruit', 'eggplant' ],
		      carol => ['fig'],
		      dave  => []);
	for my $u (sort keys %expect) {
		my $rows = rows_ok($t->get('/items?select=name,cuser&order=id', headers => auth($tok{$u})),
				   "3.3 GET /items as $u");
		is_deeply([ map { $_->{name} } @$rows ], $expect{$u}, "3.3 RLS: $u sees only own items");
		is_deeply([ grep { $_ ne $u } map { $_->{cuser} } @$rows ], [], "3.3 RLS: no foreign cuser for $u");
	}

	my $rows = rows_ok($t->get('/items?select=name&cuser=eq.bob', headers => auth($tok{alice})),
			   '3.3 alice filters on cuser=bob');
	is_deeply($rows, [], '3.3 RLS: a filter cannot reach other users\' rows');

	$rows = rows_ok($t->get('/notes?select=body&order=id', headers => auth($tok{alice})), '3.3 notes alice');
	is_deeply([ map { $_->{body} } @$rows ], [ 'alice: order more apples', 'alice: call the supplier' ],
		  '3.3 RLS on notes');

	for my $u (qw(alice bob)) {
		$rows = rows_ok($t->get('/categories?select=name&order=id', headers => auth($tok{$u})),
				"3.3 categories as $u");
		is_deeply([ map { $_->{name} } @$rows ], [qw(fruit vegetable other)],
			  "3.3: $u sees the whole table without cuser");
	}

	for my $alg (qw(HS384 HS512)) {
		$rows = rows_ok($t->get('/items?select=name&order=id',
					headers => auth($t->jwt({ role => 'webuser', user => 'carol' }, $SECRET3, alg => $alg))),
				"3.3 $alg token");
		is_deeply([ map { $_->{name} } @$rows ], ['fig'], "3.3 $alg: RLS follows the user claim");
	}

	my $claims = { role => 'webuser', user => 'alice', exp => $now + 600 };
	my $w = whoami('3.3 whoami alice', headers => { %{ auth($t->jwt($claims, $SECRET3)) },
							'User-Agent' => 'curl/8.0 (pg_rest test)' });
	is($w->{role}, 'webuser', '3.3: runs as webuser');
	is($w->{user}, 'alice', '3.3: request.jwt.claim.user');
	is_deeply($w->{claims_json}, $claims, '3.3: request.jwt.claims');
	is($w->{method}, 'GET', '3.3: request.method');
	is($w->{path}, '/whoami', '3.3: request.path');
	is($w->{ua}, 'curl/8.0 (pg_rest test)', '3.3: request.headers (user-agent, lower-case key)');

	# claims whose names are not valid setting names must not break the request
	my $odd = { role => 'webuser', user => 'alice', 'my-claim' => 1,
		    'https://example.org/roles' => [ 'a', 'b' ], n => 5, obj => { a => [ 1, 2 ] } };
	$w = whoami('3.3 claims with odd names', headers => auth($t->jwt($odd, $SECRET3)));
	is($w->{user}, 'alice', '3.3: odd claim names are skipped for request.jwt.claim.*');
	is_deeply($w->{claims_json}, $odd, '3.3: ... but kept in request.jwt.claims');

	# valid token without role: the anonymous role, which has no rights
	my $anon = $t->jwt({ user => 'alice' }, $SECRET3);
	$w = whoami('3.3 token without role', headers => auth($anon));
	is($w->{role}, 'webanon', '3.3: token without role claim runs as webanon');
	is($w->{user}, 'alice', '3.3: its claims are visible');
	my $e = error_ok($t->get('/items', headers => auth($anon)), 401, '42501',
			 '3.3 webanon reads items (permission denied as anon)', www => 'Bearer');

	# pre-request: check_user() refuses evil_user
	my $evil = $t->jwt({ role => 'evil_user', user => 'mallory' }, $SECRET3);
	for my $path ('/items', '/whoami') {
		$e = error_ok($t->get($path, headers => auth($evil)), 400, 'P0001', "3.3 pre-request rejects evil_user ($path)");
		is($e->{message}, 'No, you are evil', '3.3 pre-request: message');
		is($e->{hint}, 'Stop being so evil and maybe you can log in', '3.3 pre-request: hint');
		is($e->{details}, undef, '3.3 pre-request: details null');
	}
	$rows = rows_ok($t->get('/items?select=name', headers => auth($tok{bob})), '3.3 pre-request passes bob');

	# the authenticator can only become roles granted to it
	$e = error_ok($t->get('/items', headers => auth($t->jwt({ role => 'postgres' }, $SECRET3))),
		      403, '42501', '3.3 token role postgres (not granted to dbauth)');
	like($e->{message} // '', qr/permission denied to set role/, '3.3: SET ROLE postgres refused by PostgreSQL');

	$e = $t->get('/items', headers => auth($t->jwt({ role => 'no_such_role' }, $SECRET3)));
	ok($e->{status} == 400 || $e->{status} == 401,
	   '3.3 token role that does not exist: 400 (PostgREST 12) or 401 (13+)') or diag(show($e));
	ok(ref $e->{json} eq 'HASH' && defined $e->{json}{code}, '3.3 unknown role: error body');
}

# ---------------------------------------------------------------------------
# 3.3 with jwt-optional: anonymous requests reach the database as webanon

note('deployment 3.3 with jwt-optional = true');
{
	$t->start_workers(config => config_for('cloud', 'jwt-optional' => 'true'), workers => 1);
	my $w = whoami('3.3 jwt-optional, no token');
	is($w->{role}, 'webanon', '3.3 jwt-optional: no token runs as webanon');
	error_ok($t->get('/items'), 401, '42501', '3.3 jwt-optional: webanon has no rights on items', www => 'Bearer');
	error_ok($t->get('/categories'), 401, '42501', '3.3 jwt-optional: nor on categories', www => 'Bearer');
}

# ---------------------------------------------------------------------------
# the same through nginx/pg_rest-api-prefix.conf (API under /api/)

note('deployment 3.3 under /api/ (nginx/pg_rest-api-prefix.conf)');
{
	$t->start_workers(config => config_for('cloud'), workers => 2);
	$t->start_nginx(prefix => '/api');
	my $tok = $t->jwt({ role => 'webuser', user => 'alice' }, $SECRET3);
	my $rows = rows_ok($t->get('/api/items?select=name&order=name.desc', headers => auth($tok)),
			   '/api/items as alice');
	is_deeply([ map { $_->{name} } @$rows ], [ 'banana', 'apple' ], '/api: RLS and order under a prefix');
	error_ok($t->get('/api/items'), 401, 'PGRST302', '/api: no token', www => 'Bearer');
	my $r = $t->get('/api/whoami', headers => auth($tok));
	$rows = rows_ok($r, '/api/whoami');
	is($rows->[0]{role}, 'webuser', '/api: runs as webuser');
}

like($t->log_contents, qr/\S/, 'the workers wrote to PG_REST_LOG');

# a --enable-sanitizers build writes its reports (leaks at exit included)
# into the harness's log directory
$t->stop_workers;
is($t->sanitizer_reports, '', 'no AddressSanitizer/UBSan reports from the workers');

done_testing();
