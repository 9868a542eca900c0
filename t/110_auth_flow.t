# 110_auth_flow.t — end to end: the user management of sql/auth/ on top of
# deployment 3.3 (sql/deploy-cloud.sql + sql/deploy-cloud.conf), through
# nginx, spawn-fcgi workers and PostgreSQL, with PostgREST's RPC contract:
#
#   signup -> login (POST /rpc/login answers {"token": ...}, a token pg_rest
#   signed from the jwt_claims result) -> GET /items with that token sees
#   the user's own rows -> request_password_reset (the token is caught from
#   NOTIFY password_reset by a LISTENing psql, as a mail sender would) ->
#   reset_password -> the new password works, the old one fails -> failed
#   logins are rate limited (429, PT429).
use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";

use IPC::Open2;
use JSON::PP;
use MIME::Base64 qw(decode_base64);
use Test::More;
use PgRestTest;

PgRestTest::skip_unless_ready();

my $t = PgRestTest->new();
$t->start_postgres();
my $DB = 'demobase';
$t->createdb($DB);
$t->psql_file($t->sql_path('deploy-cloud.sql'), db => $DB);
$t->psql_file($t->sql_path('auth/install.sql'), db => $DB);
# installing twice is harmless
$t->psql_file($t->sql_path('auth/install.sql'), db => $DB);
# cheap hashes keep the test quick; one row of alice's, made by the owner
$t->psql(<<'SQL', db => $DB);
UPDATE basic_auth.settings SET bcrypt_cost = 4;
INSERT INTO public.items (name, price, cuser) VALUES ('alice''s lamp', 12.50, 'alice@example.com');
SQL

my $cfg = PgRestTest->read_config($t->sql_path('deploy-cloud.conf'));
$cfg->{'db-uri'} = $t->db_uri(user => 'dbauth', password => 'mysecret', db => $DB);
$cfg->{'jwt-optional'} = JSON::PP::true;    # signup and login come without a token
my $SECRET = $cfg->{'jwt-secret'};
$t->start_workers(config => $cfg, workers => 2);
$t->start_nginx(prefix => '/');

my $JSON = JSON::PP->new->canonical(1)->allow_nonref(1);

# ---------------------------------------------------------------------------
# helpers

sub show {
	my ($r) = @_;
	return "$r->{status} $r->{reason}\n$r->{content}";
}

sub rpc {
	my ($fn, $args, %o) = @_;
	return $t->request('POST', "/rpc/$fn",
			   headers => { 'Content-Type' => 'application/json', %{ $o{headers} || {} } },
			   body => $JSON->encode($args));
}

sub auth { return { Authorization => "Bearer $_[0]" } }

sub sql { my ($q) = @_; my $out = $t->psql($q, db => $DB); chomp $out; return $out }

# a 2xx answer to a void function (PostgREST: 204, or 200 with an empty body)
sub done_ok {
	my ($r, $name) = @_;
	ok($r->{status} == 200 || $r->{status} == 204, "$name: 200 or 204") or diag(show($r));
}

sub error_is {
	my ($r, $status, $code, $name) = @_;
	my $j = ref $r->{json} eq 'HASH' ? $r->{json} : {};
	my $ok = is($r->{status}, $status, "$name: $status");
	$ok &&= is($j->{code}, $code, "$name: code $code");
	diag(show($r)) unless $ok;
	return $j;
}

# the claims of a token, decoded (no verification: pg_rest does that)
sub claims_of {
	my ($tok) = @_;
	my (undef, $p) = split /\./, $tok // '';
	return undef unless defined $p;
	$p =~ tr/-_/+\//;
	$p .= '=' x ((4 - length($p) % 4) % 4);
	return eval { decode_json(decode_base64($p)) };
}

# POST /rpc/login: returns the token, or undef
sub login_ok {
	my ($email, $pass, $name) = @_;
	my $r = rpc('login', { email => $email, pass => $pass });
	my $tok = ref $r->{json} eq 'HASH' ? $r->{json}{token} : undef;
	my $ok = is($r->{status}, 200, "$name: 200");
	$ok &&= like($r->{headers}{'content-type'} // '', qr{\Aapplication/json}, "$name: JSON");
	$ok &&= is_deeply([ sort keys %{ $r->{json} || {} } ], ['token'], "$name: body is {\"token\": ...}");
	$ok &&= like($tok // '', qr/\A[\w-]+\.[\w-]+\.[\w-]+\z/, "$name: a compact JWT");
	diag(show($r)) unless $ok;
	return $tok;
}

# a refused login: 401, and nothing in the body that could serve as a token
sub login_refused {
	my ($email, $pass, $name) = @_;
	my $r = rpc('login', { email => $email, pass => $pass });
	my $tok = ref $r->{json} eq 'HASH' ? $r->{json}{token} : undef;
	my $ok = is($r->{status}, 401, "$name: 401");
	$ok &&= ok(!defined $tok, "$name: no token");
	diag(show($r)) unless $ok;
}

# Run code while a psql session LISTENs on channel; returns the payloads
# of the notifications it got (delivered when the notifying transaction
# commits, printed by psql after its next command).
sub notifications_during {
	my ($channel, $code) = @_;
	my @cmd = @{ $t->_psql_cmd(db => $DB) };
	local @ENV{qw(PGHOST PGPORT PGUSER PGPASSWORD PGDATABASE PGSERVICE PGOPTIONS)};
	delete @ENV{qw(PGHOST PGPORT PGUSER PGPASSWORD PGDATABASE PGSERVICE PGOPTIONS)};
	my $pid = open2(my $out, my $in, @cmd);
	print $in "LISTEN $channel;\nSELECT 'listening';\n";
	$in->flush;
	my $first = <$out> // '';
	die "psql did not start listening: $first" unless $first =~ /listening/;
	$code->();
	print $in "SELECT 'done';\n";
	close $in;
	my @payloads;
	while (my $line = <$out>) {
		push @payloads, $1
			if $line =~ /^Asynchronous notification "\Q$channel\E" with payload "(.*)" received/;
	}
	waitpid $pid, 0;
	return @payloads;
}

# ---------------------------------------------------------------------------
# before any login: webanon may do nothing but the four functions

{
	my $r = $t->get('/items');
	is($r->{status}, 401, 'no token: GET /items is 401 (webanon has no rights)') or diag(show($r));
	$r = $t->get('/categories');
	is($r->{status}, 401, 'no token: GET /categories is 401') or diag(show($r));
	$r = $t->get('/users');
	ok($r->{status} == 404 || $r->{status} == 401, 'basic_auth.users is not exposed')
		or diag(show($r));
	is(sql(q{SELECT string_agg(p.proname, ',' ORDER BY p.proname)
		 FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
		 WHERE has_schema_privilege('webanon', n.oid, 'USAGE')
		   AND has_function_privilege('webanon', p.oid, 'EXECUTE')
		   AND n.nspname NOT IN ('pg_catalog', 'information_schema')}),
	   'login,request_password_reset,reset_password,signup',
	   'webanon may execute exactly the four functions');
	is(sql(q{SELECT has_schema_privilege('webanon', 'basic_auth', 'USAGE')}), 'f',
	   'webanon has no usage on basic_auth');
}

# ---------------------------------------------------------------------------
# signup

done_ok(rpc('signup', { email => 'Alice@Example.com', pass => 'correct horse' }), 'signup alice');
is(sql(q{SELECT email || ' ' || role || ' ' || verified || ' ' || (pass LIKE '$2a$%')
	 FROM basic_auth.users}), 'alice@example.com webuser false true',
   'signup: lower-cased email, role webuser, not verified, bcrypt hash');
error_is(rpc('signup', { email => 'alice@example.com', pass => 'another password' }),
	 409, '23505', 'signup with a taken email');
error_is(rpc('signup', { email => 'carol@example.com', pass => 'short' }),
	 400, '23514', 'signup with a short password');
error_is(rpc('signup', { email => 'not an email', pass => 'long enough password' }),
	 400, '23514', 'signup with a bad email');
is(sql(q{SELECT count(*) FROM basic_auth.users}), '1', 'failed signups left no user');

# ---------------------------------------------------------------------------
# login, and the token at work

my $tok = login_ok('alice@example.com', 'correct horse', 'login alice');
my $claims = claims_of($tok) // {};
is($claims->{role}, 'webuser', 'token: role webuser');
is($claims->{user}, 'alice@example.com', 'token: user is the email');
like($claims->{exp} // '', qr/\A\d+\z/, 'token: exp is a number');
ok(($claims->{exp} // 0) > time + 3000 && ($claims->{exp} // 0) < time + 3700,
   'token: exp about an hour ahead');
is((claims_of('x.' . (split /\./, $tok // 'x.x')[0]) // {})->{alg}, 'HS256', 'token: HS256');
# the test can verify it too: the same secret signs it
is($t->jwt_raw(decode_base64_url((split /\./, $tok // '')[0]),
	       decode_base64_url((split /\./, $tok // '.')[1]), $SECRET), $tok,
   'token: signed with jwt-secret');

{
	my $r = $t->get('/items?select=name,cuser', headers => auth($tok));
	is($r->{status}, 200, 'GET /items with the login token') or diag(show($r));
	is_deeply($r->{json}, [ { name => "alice's lamp", cuser => 'alice@example.com' } ],
		  'GET /items: only the user\'s own rows') or diag(show($r));
	$r = $t->request('POST', '/items', headers => { %{ auth($tok) },
		'Content-Type' => 'application/json', Prefer => 'return=representation' },
		body => '{"name":"alice\'s chair","cuser":"alice@example.com"}');
	is($r->{status}, 201, 'POST /items with the login token') or diag(show($r));
	$r = $t->get('/items?select=name&order=name', headers => auth($tok));
	is_deeply($r->{json}, [ { name => "alice's chair" }, { name => "alice's lamp" } ],
		  'the new row is alice\'s') or diag(show($r));
}

login_refused('alice@example.com', 'wrong horse', 'login with a wrong password');
login_refused('nobody@example.com', 'correct horse', 'login with an unknown email');
login_ok('ALICE@example.com ', 'correct horse', 'login: email case and blanks do not matter');
is(sql(q{SELECT string_agg(email || ':' || ok, ' ' ORDER BY id) FROM basic_auth.logins}),
   'alice@example.com:true alice@example.com:false nobody@example.com:false alice@example.com:true',
   'the audit has every attempt');

# ---------------------------------------------------------------------------
# password reset

my @sent = notifications_during('password_reset', sub {
	done_ok(rpc('request_password_reset', { email => 'alice@example.com' }),
		'request_password_reset alice');
	done_ok(rpc('request_password_reset', { email => 'nobody@example.com' }),
		'request_password_reset for an unknown email: the same answer');
});
is(scalar @sent, 1, 'one notification, for the known email only');
my $mail = eval { decode_json($sent[0] // '') } // {};
is($mail->{email}, 'alice@example.com', 'notification: email');
like($mail->{token} // '', qr/\A[\w-]{32}\z/, 'notification: a token');
is(sql(q{SELECT count(*) || ' ' || bool_and(expires > now() + interval '29 minutes')
	 FROM basic_auth.reset_tokens}), '1 true', 'one reset token, valid for 30 minutes');
is(sql(qq{SELECT count(*) FROM basic_auth.reset_tokens WHERE token_hash = '$mail->{token}'}), '0',
   'the table holds no token itself');

error_is(rpc('reset_password', { token => 'not-the-token', pass => 'new battery staple' }),
	 403, '28P01', 'reset_password with a wrong token');
done_ok(rpc('reset_password', { token => $mail->{token}, pass => 'new battery staple' }),
	'reset_password');
error_is(rpc('reset_password', { token => $mail->{token}, pass => 'third password here' }),
	 403, '28P01', 'reset_password: the token works once');
is(sql(q{SELECT verified FROM basic_auth.users WHERE email = 'alice@example.com'}), 't',
   'reset_password: the user is verified (the mail arrived)');

login_refused('alice@example.com', 'correct horse', 'the old password fails');
my $tok2 = login_ok('alice@example.com', 'new battery staple', 'the new password works');
{
	my $r = $t->get('/items?select=name', headers => auth($tok2 // ''));
	is(scalar @{ ref $r->{json} eq 'ARRAY' ? $r->{json} : [] }, 2, 'the new token sees alice\'s rows');
}

# an expired reset token
@sent = notifications_during('password_reset', sub {
	rpc('request_password_reset', { email => 'alice@example.com' });
});
$mail = eval { decode_json($sent[0] // '') } // {};
sql(q{UPDATE basic_auth.reset_tokens SET expires = now() - interval '1 second'});
error_is(rpc('reset_password', { token => $mail->{token} // '', pass => 'too late password' }),
	 403, '28P01', 'reset_password with an expired token');
login_ok('alice@example.com', 'new battery staple', 'the password is unchanged');

# ---------------------------------------------------------------------------
# rate limiting: 5 failures in 15 minutes, then 429 whatever the password

done_ok(rpc('signup', { email => 'bob@example.com', pass => 'bobs password' }), 'signup bob');
login_refused('bob@example.com', "wrong $_", "bob: wrong password $_") for 1 .. 5;
{
	my $j = error_is(rpc('login', { email => 'bob@example.com', pass => 'wrong 6' }),
			 429, 'PT429', 'bob: sixth wrong password');
	is($j->{message}, 'too many failed logins', 'rate limit: message');
	like($j->{details} // '', qr/5 failed logins/, 'rate limit: details count them');
	ok(defined $j->{hint}, 'rate limit: hint');
	error_is(rpc('login', { email => 'bob@example.com', pass => 'bobs password' }),
		 429, 'PT429', 'bob: even the right password is refused now');
}
login_ok('alice@example.com', 'new battery staple', 'alice is not affected');
# a password reset lifts the block
@sent = notifications_during('password_reset', sub {
	rpc('request_password_reset', { email => 'bob@example.com' });
});
$mail = eval { decode_json($sent[0] // '') } // {};
done_ok(rpc('reset_password', { token => $mail->{token} // '', pass => 'bobs new password' }),
	'bob resets his password');
login_ok('bob@example.com', 'bobs new password', 'bob logs in after the reset');
# failures older than the window don't count
login_refused('bob@example.com', "wrong $_", "bob: wrong again $_") for 1 .. 5;
sql(q{UPDATE basic_auth.logins SET at = at - interval '16 minutes' WHERE email = 'bob@example.com'});
login_ok('bob@example.com', 'bobs new password', 'failures older than 15 minutes are forgotten');

# ---------------------------------------------------------------------------
# the token type is configurable (jwt-claims-type): with another name the
# login result is not signed

$t->start_workers(config => { %$cfg, 'jwt-claims-type' => 'no_such_type' }, workers => 1);
{
	my $r = rpc('login', { email => 'alice@example.com', pass => 'new battery staple' });
	is($r->{status}, 200, 'jwt-claims-type elsewhere: login answers 200') or diag(show($r));
	ok(ref $r->{json} eq 'HASH' && !exists $r->{json}{token}
	   && ($r->{json}{role} // '') eq 'webuser', 'jwt-claims-type elsewhere: the plain claims row')
		or diag(show($r));
}

$t->stop_workers;
is($t->sanitizer_reports, '', 'no sanitizer reports');

done_testing();

sub decode_base64_url {
	my ($s) = @_;
	$s //= '';
	$s =~ tr/-_/+\//;
	$s .= '=' x ((4 - length($s) % 4) % 4);
	return decode_base64($s);
}
