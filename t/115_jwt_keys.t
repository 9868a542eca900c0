# 115_jwt_keys.t — end to end: jwt-secret as public keys (PEM, certificate,
# PKCS#1, JWK, JWK Set) through nginx, spawn-fcgi workers and PostgreSQL.
#
# Keys are made by the openssl command line tool in the test's directory;
# tokens are signed by "openssl dgst -sign" (RSA PKCS#1 v1.5 and PSS,
# ECDSA), the ECDSA signature turned from DER into JWS's r||s here.  A
# view "whoami" shows the role a request ran as and the claims it saw.
use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";

use JSON::PP;
use MIME::Base64 qw(encode_base64);
use Test::More;
use PgRestTest;

PgRestTest::skip_unless_ready();
my $OPENSSL = (grep { -x "$_/openssl" } split /:/, $ENV{PATH} // '')[0];
plan skip_all => 'the openssl command line tool is not installed' unless $OPENSSL;
$OPENSSL .= '/openssl';

my $t = PgRestTest->new();
$t->start_postgres();
$t->psql(<<'SQL');
CREATE ROLE authenticator LOGIN NOINHERIT;
CREATE ROLE anon NOLOGIN;
CREATE ROLE webuser NOLOGIN;
GRANT anon, webuser TO authenticator;
CREATE SCHEMA api;
GRANT USAGE ON SCHEMA api TO anon, webuser;
CREATE VIEW api.whoami AS
SELECT current_user::text AS role,
       current_setting('request.jwt.claims', true) AS claims;
GRANT SELECT ON api.whoami TO anon, webuser;
SQL

my $JSON = JSON::PP->new->canonical(1);
my $dir = $t->tmpdir . '/keys';
mkdir $dir or die "mkdir $dir: $!";
chmod 0755, $dir;

# ---------------------------------------------------------------------------
# openssl, keys, tokens

sub openssl {
	my (@args) = @_;
	my $out = "$dir/openssl.out";
	my $pid = fork // die "fork: $!";
	if ($pid == 0) {
		open STDOUT, '>', $out or die;
		open STDERR, '>>', "$dir/openssl.err" or die;
		exec $OPENSSL, @args or die "exec $OPENSSL: $!";
	}
	waitpid $pid, 0;
	die "openssl @args failed (exit " . ($? >> 8) . ")\n" . (slurp("$dir/openssl.err") // '')
		if $?;
	return slurp($out);
}

sub slurp {
	my ($f) = @_;
	open my $fh, '<:raw', $f or return undef;
	local $/;
	return scalar <$fh>;
}

sub spew {
	my ($f, $text) = @_;
	open my $fh, '>:raw', $f or die "write $f: $!";
	print $fh $text;
	close $fh;
	chmod 0644, $f;
	return $f;
}

sub b64url { return PgRestTest::b64url($_[0]) }

# a private key file and its public PEM (as text)
sub new_key {
	my ($name, @genpkey) = @_;
	openssl('genpkey', @genpkey, '-out', "$dir/$name.key");
	chmod 0644, "$dir/$name.key";   # a test key: the workers (nobody) read one below
	openssl('pkey', '-in', "$dir/$name.key", '-pubout', '-out', "$dir/$name.pub");
	chmod 0644, "$dir/$name.pub";
	return slurp("$dir/$name.pub");
}

my %PUB = (
	rsa  => new_key('rsa', '-algorithm', 'RSA', '-pkeyopt', 'rsa_keygen_bits:2048'),
	rsa2 => new_key('rsa2', '-algorithm', 'RSA', '-pkeyopt', 'rsa_keygen_bits:2048'),
	ec   => new_key('ec', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256'),
	ec2  => new_key('ec2', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256'),
);

# DER INTEGER / SEQUENCE reading, enough for ECDSA-Sig-Value
sub der_item {
	my ($buf, $pos) = @_;
	my $tag = ord substr($$buf, $pos++, 1);
	my $len = ord substr($$buf, $pos++, 1);
	if ($len & 0x80) {
		my $n = $len & 0x7f;
		$len = 0;
		$len = $len * 256 + ord substr($$buf, $pos++, 1) for 1 .. $n;
	}
	return ($tag, substr($$buf, $pos, $len), $pos + $len);
}

sub ecdsa_raw {
	my ($der, $size) = @_;
	my ($tag, $seq) = der_item(\$der, 0);
	die "not a DER sequence\n" unless $tag == 0x30;
	my (undef, $r, $next) = der_item(\$seq, 0);
	my (undef, $s) = der_item(\$seq, $next);
	return join '', map { my $v = $_; $v =~ s/\A\x00+//; ("\x00" x ($size - length $v)) . $v } $r, $s;
}

# token signed with key file $key: alg RS*/PS*/ES256, header extras (kid)
sub token {
	my ($key, $alg, $claims, %h) = @_;
	my $header = $JSON->encode({ alg => $alg, typ => 'JWT', %h });
	my $input = b64url($header) . '.' . b64url($JSON->encode($claims));
	spew("$dir/input", $input);
	my ($bits) = $alg =~ /(\d+)\z/;
	my @opts = ("-sha$bits", '-sign', "$dir/$key.key", '-out', "$dir/sig");
	push @opts, '-sigopt', 'rsa_padding_mode:pss', '-sigopt', 'rsa_pss_saltlen:digest'
		if $alg =~ /\APS/;
	openssl('dgst', @opts, "$dir/input");
	my $sig = slurp("$dir/sig");
	$sig = ecdsa_raw($sig, 32) if $alg =~ /\AES/;
	return "$input." . b64url($sig);
}

# JWK members from the openssl tool's view of a public key
sub jwk_of {
	my ($name, %extra) = @_;
	my $text = openssl('pkey', '-pubin', '-in', "$dir/$name.pub", '-text', '-noout');
	if ($text =~ /Modulus:\s*\n((?:\s+[0-9a-f:]+\n)+)/) {
		(my $hex = $1) =~ s/[\s:]//g;
		my $n = pack 'H*', $hex;
		$n =~ s/\A\x00+//;
		return { kty => 'RSA', n => b64url($n), e => 'AQAB', %extra };
	}
	my $der = openssl('pkey', '-pubin', '-in', "$dir/$name.pub", '-outform', 'DER');
	my $point = substr($der, -65);
	die "not an uncompressed P-256 point\n" unless substr($point, 0, 1) eq "\x04";
	return { kty => 'EC', crv => 'P-256', x => b64url(substr($point, 1, 32)),
		 y => b64url(substr($point, 33, 32)), %extra };
}

# ---------------------------------------------------------------------------
# requests

my $URI = $t->db_uri(user => 'authenticator', db => 'postgres');

sub start {
	my (%cfg) = @_;
	my %env = %{ delete $cfg{env} || {} };
	$t->start_workers(config => {
		'db-uri' => $URI, 'db-schemas' => 'api', 'db-anon-role' => 'anon', %cfg,
	}, workers => 1, env => \%env);
}

sub show {
	my ($r) = @_;
	return "$r->{status} $r->{content}\n" . ($r->{headers}{'www-authenticate'} // '');
}

# GET /whoami with the token: 200 as webuser with the token's user claim
sub accepted {
	my ($tok, $name) = @_;
	my $r = $t->get('/whoami', headers => { Authorization => "Bearer $tok" });
	my $row = ref $r->{json} eq 'ARRAY' ? $r->{json}[0] : undef;
	my $ok = is($r->{status}, 200, "$name: 200");
	$ok &&= is($row && $row->{role}, 'webuser', "$name: runs as webuser");
	my $claims = $row && $row->{claims} ? eval { decode_json($row->{claims}) } : undef;
	$ok &&= is($claims && $claims->{user}, 'alice', "$name: claims reach SQL");
	diag(show($r)) unless $ok;
}

# 401 PGRST301 (or %o code) with a message (string or regexp)
sub refused {
	my ($tok, $message, $name, %o) = @_;
	my $code = $o{code} // 'PGRST301';
	my $r = $t->get('/whoami', headers => { Authorization => "Bearer $tok" });
	my $j = ref $r->{json} eq 'HASH' ? $r->{json} : {};
	my $ok = is($r->{status}, 401, "$name: 401");
	$ok &&= is($j->{code}, $code, "$name: $code");
	$ok &&= ref $message ? like($j->{message}, $message, "$name: message")
			     : is($j->{message}, $message, "$name: message");
	$ok &&= like($r->{headers}{'www-authenticate'} // '', qr/\ABearer error="invalid_token"/,
		     "$name: WWW-Authenticate");
	diag(show($r)) unless $ok;
	return $j;
}

my $CLAIMS = { role => 'webuser', user => 'alice', exp => time + 3600 };
my $BAD_SIG = 'No suitable key or wrong key type';
my $BAD_ALG = 'Wrong or unsupported encoding algorithm';

# the HS256 "confusion" token: signed with the public key text as HMAC secret
sub hs256_with {
	my ($text) = @_;
	return $t->jwt($CLAIMS, $text, alg => 'HS256');
}

$t->start_nginx(prefix => '/');

# ---------------------------------------------------------------------------
# 1. one RSA public key, PostgREST's @/path form

start('jwt-secret' => "\@$dir/rsa.pub");
for my $alg (qw(RS256 RS384 RS512 PS256 PS512)) {
	accepted(token('rsa', $alg, $CLAIMS), "RSA PEM file: $alg");
}
accepted(token('rsa', 'RS256', $CLAIMS, kid => 'whatever'), 'RSA PEM file: a kid is ignored');
refused(token('rsa2', 'RS256', $CLAIMS), $BAD_SIG, 'RSA PEM file: token of another RSA key');
refused(token('ec', 'ES256', $CLAIMS), $BAD_ALG, 'RSA PEM file: ES256 token');
refused(hs256_with($PUB{rsa}), $BAD_ALG, 'RSA PEM file: HS256 signed with the PEM text');
refused(hs256_with(slurp("$dir/rsa.pub") =~ s/\n\z//r), $BAD_ALG,
	'RSA PEM file: HS256 signed with the PEM text as read from the file');
refused($t->jwt_raw('{"alg":"none"}', $JSON->encode($CLAIMS), undef), $BAD_ALG,
	'RSA PEM file: alg none');
refused(token('rsa', 'RS256', { %$CLAIMS, exp => time - 3600 }), 'JWT expired',
	'RSA PEM file: expired token', code => 'PGRST303');
{
	my $r = $t->get('/whoami');
	is($r->{status}, 401, 'RSA PEM file: no token is 401 (jwt-optional off)');
}

# the same key inline in the configuration file, newlines as \n
start('jwt-secret' => $PUB{ec});
accepted(token('ec', 'ES256', $CLAIMS), 'EC PEM inline: ES256');
refused(token('ec2', 'ES256', $CLAIMS), $BAD_SIG, 'EC PEM inline: token of another EC key');
refused(token('rsa', 'RS256', $CLAIMS), $BAD_ALG, 'EC PEM inline: RS256 token');
refused(hs256_with($PUB{ec}), $BAD_ALG, 'EC PEM inline: HS256 signed with the PEM text');

# ---------------------------------------------------------------------------
# 2. a JWK Set of two keys, one RSA and one EC, from a file

my $jwks = $JSON->encode({ keys => [ jwk_of('rsa', kid => 'rsa-1', use => 'sig'),
				     jwk_of('ec', kid => 'ec-1') ] });
spew("$dir/jwks.json", "$jwks\n");
start('jwt-secret' => "\@$dir/jwks.json");
accepted(token('rsa', 'RS256', $CLAIMS, kid => 'rsa-1'), 'JWKS: RS256 kid rsa-1');
accepted(token('rsa', 'PS384', $CLAIMS, kid => 'rsa-1'), 'JWKS: PS384 kid rsa-1');
accepted(token('ec', 'ES256', $CLAIMS, kid => 'ec-1'), 'JWKS: ES256 kid ec-1');
accepted(token('rsa', 'RS512', $CLAIMS), 'JWKS: RS512 without kid');
accepted(token('ec', 'ES256', $CLAIMS), 'JWKS: ES256 without kid');
refused(token('rsa', 'RS256', $CLAIMS, kid => 'ec-1'), $BAD_SIG, 'JWKS: RS256 with the EC kid');
{
	my $j = refused(token('rsa', 'RS256', $CLAIMS, kid => 'nope'), $BAD_SIG, 'JWKS: unknown kid');
	is($j->{details}, q{No key of jwt-secret has the JWT's kid "nope"}, 'JWKS: unknown kid: details');
}
refused(token('rsa2', 'RS256', $CLAIMS, kid => 'rsa-1'), $BAD_SIG, 'JWKS: wrong RSA key, right kid');
refused(token('ec2', 'ES256', $CLAIMS), $BAD_SIG, 'JWKS: wrong EC key, no kid');
refused(hs256_with($jwks), $BAD_ALG, 'JWKS: HS256 signed with the JWKS text');
refused($t->jwt_raw('{"alg":"none","kid":"rsa-1"}', $JSON->encode($CLAIMS), undef), $BAD_ALG,
	'JWKS: alg none');

# one JWK in PGRST_JWT_SECRET (the environment wins over the file)
start('jwt-secret' => 'an-hmac-secret-that-the-environment-overrides',
      env => { PGRST_JWT_SECRET => $JSON->encode(jwk_of('ec', alg => 'ES256')) });
accepted(token('ec', 'ES256', $CLAIMS), 'JWK in PGRST_JWT_SECRET: ES256');
refused($t->jwt($CLAIMS, 'an-hmac-secret-that-the-environment-overrides'), $BAD_ALG,
	'JWK in PGRST_JWT_SECRET: the file\'s HMAC secret is not used');

# ---------------------------------------------------------------------------
# 3. a certificate and a PKCS#1 "RSA PUBLIC KEY" in one file

openssl('req', '-x509', '-new', '-key', "$dir/rsa.key", '-subj', '/CN=pg_rest test', '-days', '2',
	'-out', "$dir/rsa.crt");
openssl('rsa', '-pubin', '-in', "$dir/rsa2.pub", '-RSAPublicKey_out', '-out', "$dir/rsa2.pkcs1");
like(slurp("$dir/rsa2.pkcs1"), qr/BEGIN RSA PUBLIC KEY/, 'PKCS#1 PEM made');
spew("$dir/mixed.pem", slurp("$dir/rsa.crt") . slurp("$dir/rsa2.pkcs1"));
start('jwt-secret' => "\@$dir/mixed.pem");
accepted(token('rsa', 'RS256', $CLAIMS), 'certificate: RS256');
accepted(token('rsa2', 'PS256', $CLAIMS), 'PKCS#1 RSA PUBLIC KEY: PS256');
refused(token('ec', 'ES256', $CLAIMS), $BAD_ALG, 'certificate + PKCS#1: ES256 token');

# ---------------------------------------------------------------------------
# 4. keys that can't be used stop the workers, saying why

sub start_fails {
	my ($secret, $want, $name) = @_;
	my $ok = !eval { start('jwt-secret' => $secret); 1 };
	my $e = $@ // '';
	ok($ok, "$name: workers refuse to start");
	like($e, $want, "$name: the log says why") or diag($e);
}

start_fails("\@$dir/rsa.key", qr/jwt-secret: PEM block 1 \(PRIVATE KEY\): a private key/,
	    'private key file');
start_fails('{"kty":"RSA","n":"AQAB"}', qr/jwt-secret: the JWK: an RSA key needs "n" and "e"/,
	    'JWK without e');
start_fails($jwks =~ s/\}\]\}\z/},]}/r, qr/jwt-secret: looks like a JWK/,
	    'JWKS with a trailing comma is not taken for an HMAC secret');
start_fails("-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n",
	    qr/jwt-secret: PEM block 1 \(PUBLIC KEY\): can't be decoded/, 'broken PEM');

# the workers still come up with a good key afterwards
start('jwt-secret' => "\@$dir/rsa.pub");
accepted(token('rsa', 'RS256', $CLAIMS), 'good key again');

$t->stop_workers;
is($t->sanitizer_reports, '', 'no sanitizer reports');

done_testing();
