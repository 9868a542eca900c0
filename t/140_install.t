# Documentation, configuration checking and installation:
#
#  (a) man/pg_rest.8 and man/pg_rest.conf.5 are clean under
#      `groff -man -ww -z` and `mandoc -Tlint` (no output at all);
#  (b) pg_rest.conf.5 documents exactly the keys the loader knows (taken
#      from the program, `pg_rest --list-keys`, not from the C source):
#      each key with its old name, type, default, PGRST_ variable and an
#      example; the accepted-and-ignored keys in IGNORED KEYS; and --help
#      names exactly the options of pg_rest.8's OPTIONS;
#  (c) `make install DESTDIR=...` in the build tree (PG_REST_BUILDDIR, set
#      by `make check`) lays out the binary, both man pages, the examples
#      (sql, nginx, the unit, apache), the example configuration in
#      $(sysconfdir)/pg_rest/ and the systemd unit with this
#      installation's paths; `systemd-analyze verify` accepts the unit;
#  (d) `pg_rest --check-config` accepts every sql/*.conf and the example
#      configuration, prints every key with the secrets masked (and the
#      output loads again), shows PGRST_ overrides, and refuses a bad file
#      with exit status 1 and a message naming the file, line and key.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use File::Basename qw(basename);
use Test::More;
use PgRestTest;

my $t   = PgRestTest->new();
my $tmp = $t->tmpdir;
my $src = $t->srcdir;
my $bin = $t->bin;
plan skip_all => "worker binary $bin missing (build it, or set PG_REST_BIN)" unless -x $bin;

sub which {
	my ($prog) = @_;
	for my $d (split(/:/, $ENV{PATH} // ''), qw(/usr/sbin /usr/bin /sbin /bin)) {
		return "$d/$prog" if length $d && -x "$d/$prog";
	}
	return undef;
}

# the program run with a clean environment (no PGRST_*, no config path)
my %CLEAN = ((map { $_ => undef } grep { /^PGRST_/ } keys %ENV),
	     PG_REST_CONFIG => undef, PG_REST_LOG => undef);

sub prog {
	my ($args, %env) = @_;
	return $t->_run([ $bin, @$args ], env => { %CLEAN, %env }, timeout => 30);
}

sub slurp { PgRestTest::_slurp($_[0]) }

sub spew {
	my ($path, $text) = @_;
	open my $fh, '>', $path or die "$path: $!";
	print $fh $text;
	close $fh;
}

# ---------------------------------------------------------------------------
# (a) the man pages lint clean

my @pages = ("$src/man/pg_rest.8", "$src/man/pg_rest.conf.5");
SKIP: {
	my $groff = which('groff') or skip 'groff not installed', 2 * @pages;
	for my $page (@pages) {
		my ($st, $out, $err) = $t->_run([ $groff, '-t', '-man', '-ww', '-z', $page ], timeout => 60);
		is($st, 0, 'groff -man -ww -z ' . basename($page) . ': exit 0');
		is("$out$err", '', 'groff -man -ww -z ' . basename($page) . ': no warnings');
	}
}
SKIP: {
	my $mandoc = which('mandoc') or skip 'mandoc not installed', 2 * @pages;
	for my $page (@pages) {
		my ($st, $out, $err) = $t->_run([ $mandoc, '-Tlint', '-Wall', $page ], timeout => 60);
		is($st, 0, 'mandoc -Tlint ' . basename($page) . ': exit 0');
		is("$out$err", '', 'mandoc -Tlint ' . basename($page) . ': no messages');
	}
}

# ---------------------------------------------------------------------------
# (b) the keys the loader knows are the keys pg_rest.conf.5 documents

# roff macro arguments: "quoted with "" inside" or bare words
sub roff_args {
	my ($s) = @_;
	my @a;
	while ($s =~ /\G\s*(?:"((?:[^"]|"")*)"?|(\S+))/gc) {
		my $v = defined $1 ? $1 : $2;
		$v =~ s/""/"/g if defined $1;
		push @a, $v;
	}
	return @a;
}

# one source line as plain text ('' for other requests and comments)
sub roff_text {
	my ($l) = @_;
	if ($l =~ /^\.(B|I|SM|SB|BR|RB|BI|IB|IR|RI)(?:\s+(.*))?$/) {
		my ($m, $rest) = ($1, $2 // '');
		my @a = roff_args($rest);
		$l = $m =~ /^(?:B|I|SM|SB)$/ ? join(' ', @a) : join('', @a);
	} elsif ($l =~ /^[.']/) {
		return '';
	}
	$l =~ s/\\f(?:[BIRP]|\(\w\w|\[\w*\])//g;
	$l =~ s/\\\((?:dq|lq|rq)/"/g;
	$l =~ s/\\\(em/--/g;
	$l =~ s/\\\(bu//g;
	$l =~ s/\\-/-/g;
	$l =~ s/\\[~ ]/ /g;
	$l =~ s/\\[&c]//g;
	$l =~ s/\\e/\\/g;
	return $l;
}

# the .SH sections of a page: name => [ source lines ]
sub roff_sections {
	my ($path) = @_;
	my (%sec, $cur);
	for my $l (split /\n/, slurp($path) // '') {
		if ($l =~ /^\.SH\s+"?([^"]*)"?\s*$/) { $cur = $1; next }
		push @{ $sec{$cur} }, $l if defined $cur;
	}
	return \%sec;
}

# .TP entries of a section: [ tag text, body text ]
sub roff_entries {
	my ($lines) = @_;
	my (@e, $in);
	for (my $i = 0; $i < @$lines; $i++) {
		my $l = $lines->[$i];
		if ($l eq '.TP') {
			push @e, [ roff_text($lines->[++$i] // ''), '' ];
			$in = 1;
		} elsif ($l =~ /^\.S[SH]/) {
			$in = 0;
		} elsif ($in) {
			my $x = roff_text($l);
			$e[-1][1] .= " $x" if length $x;
		}
	}
	s/\s+/ /g for map { @$_ } @e;
	return @e;
}

sub env_name {
	my ($k) = @_;
	(my $e = uc $k) =~ tr/-./__/;
	return "PGRST_$e";
}

my ($st, $out, $err) = prog(['--list-keys']);
is($st, 0, '--list-keys: exit 0') or diag($err);
my (%known, %alias_of);
for my $l (split /\n/, $out) {
	my ($name, $type, $def, $alias) = split /\t/, $l;
	next unless defined $alias;
	$known{$name} = { type => $type, def => $def, alias => ($alias eq '-' ? undef : $alias) };
	$alias_of{$alias} = $name if $alias ne '-';
}
ok(keys %known > 40, 'the loader knows ' . scalar(keys %known) . ' keys');
ok(exists $known{'app.settings.*'}, 'and app.settings.*');

my $sec5 = roff_sections("$src/man/pg_rest.conf.5");
my (%doc, %doc_alias);
for my $e (roff_entries($sec5->{KEYS} || [])) {
	my ($tag, $body) = @$e;
	my ($name) = $tag =~ /^(\S+)/ or next;
	$name = 'app.settings.*' if $name =~ /^app\.settings\./;
	$doc{$name} = $body;
	$doc_alias{$name} = $1 if $tag =~ /\(alias (\S+)\)/;
}
my %ignored_doc;
for my $l (@{ $sec5->{'IGNORED KEYS'} || [] }) {
	next unless $l =~ /^\.BR?\s+(\S+)/;
	my $w = $1;
	$ignored_doc{$w} = 1 if $w =~ /^[a-z][a-z0-9]*(?:-[a-z0-9]+)+$/;
}

for my $name (sort keys %known) {
	my $k = $known{$name};
	if ($k->{type} eq 'ignored' || $k->{type} eq 'unsupported') {
		ok($ignored_doc{$name}, "$name: listed in IGNORED KEYS");
		ok(!exists $doc{$name}, "$name: not described as a working key");
		ok($ignored_doc{ $k->{alias} }, "$name: its old name $k->{alias} too") if $k->{alias};
		next;
	}
	my $body = $doc{$name};
	ok(defined $body, "$name: documented under KEYS") or next;
	is($doc_alias{$name}, $k->{alias}, "$name: old name " . ($k->{alias} // 'none'));
	my %type_re = (string => qr/\bString\b/, secret => qr/\bString\b/, list => qr/comma-separated list/,
		       integer => qr/\bInteger\b/, boolean => qr/\bBoolean\b/, any => qr/\bAny value\b/);
	if ($k->{type} =~ /^one-of:(.*)$/) {
		my @choices = split /\|/, $1;
		like($body, qr/^\s*One of /, "$name: type one of");
		is_deeply([ grep { $body !~ /(?<![\w-])\Q$_\E(?![\w-])/ } @choices ], [], "$name: every choice named");
	} else {
		like($body, $type_re{ $k->{type} } // qr/(?!)/, "$name: type $k->{type}");
	}
	if ($name ne 'app.settings.*') {
		my $def = $k->{def};
		my $re = $def eq '(unset)' ? qr/\bdefault unset\b/
		       : $def eq '(empty)' ? qr/\bdefault empty\b/
		       : qr/\bdefault \Q$def\E(?![\w-])/;
		like($body, $re, "$name: default $def");
		like($body, qr/\Q${\ env_name($name)}\E\b/, "$name: environment variable " . env_name($name));
		like($body, qr/\Q${\ env_name($k->{alias})}\E\b/, "$name: and " . env_name($k->{alias}))
			if $k->{alias};
	} else {
		like($body, qr/PGRST_APP_SETTINGS_/, 'app.settings.*: environment variables');
	}
	my $ex = $name eq 'app.settings.*' ? 'app.settings.' : "$name =";
	like($body, qr/Example: \Q$ex\E/, "$name: an example");
}
my @unknown = grep { !exists $known{$_} } sort keys %doc;
is_deeply(\@unknown, [], 'KEYS documents no key the loader does not know');
@unknown = grep { !exists $known{$_} && !exists $alias_of{$_} } sort keys %ignored_doc;
is_deeply(\@unknown, [], 'IGNORED KEYS names no key the loader does not know');

# --help names exactly the options pg_rest.8 describes
my $sec8 = roff_sections("$src/man/pg_rest.8");
my %man_opts;
for my $e (roff_entries($sec8->{OPTIONS} || [])) {
	$man_opts{$_} = 1 for grep { /^-/ } map { (split ' ', $_)[0] } split /,\s*/, $e->[0];
}
ok($man_opts{'--check-config'} && $man_opts{'--help'}, 'pg_rest.8 OPTIONS: ' . join(' ', sort keys %man_opts));
($st, $out, $err) = prog(['--help']);
is($st, 0, '--help: exit 0');
my %help_opts = map { $_ => 1 } $out =~ /(?<![\w-])(--?[a-z][\w-]*)/g;
is_deeply([ sort keys %help_opts ], [ sort keys %man_opts ], '--help lists exactly the options of pg_rest.8');
($st, $out) = prog(['--version']);
like($out, qr/^pg_rest \d+\.\d+/, '--version');

# ---------------------------------------------------------------------------
# (d) --check-config

my @confs = ((sort glob("$src/sql/*.conf")), "$src/sql/pg_rest.conf.example");
ok(@confs >= 4, 'configurations to check: ' . join(' ', map { basename($_) } @confs));
for my $conf (@confs) {
	my $name = basename($conf);
	my $kv = PgRestTest->read_config($conf);
	($st, $out, $err) = prog(['--check-config', $conf]);
	is($st >> 8, 0, "$name: --check-config exit 0") or diag($err);
	like($err, qr/\Q$name\E: configuration OK/, "$name: OK on stderr");
	my @lines = grep { /^[a-z]/ } split /\n/, $out;
	my @active = grep { $known{$_}{type} !~ /^(?:ignored|unsupported)$/ && $_ ne 'app.settings.*' } keys %known;
	is(scalar(grep { my $k = $_; grep { /^\Q$k\E = / } @lines } @active), scalar(@active),
	   "$name: every key printed");
	my ($pw) = ($kv->{'db-uri'} // '') =~ m{^postgres(?:ql)?://[^:/@]*:([^@/]+)@};
	if (defined $pw) {
		unlike("$out$err", qr/\Q$pw\E/, "$name: the db-uri password is not shown");
		like($out, qr/^db-uri = "postgres(?:ql)?:\/\/[^:]*:\*{8}@/m, "$name: and masked");
	}
	if (defined $kv->{'jwt-secret'} && !ref $kv->{'jwt-secret'}) {
		unlike("$out$err", qr/\Q$kv->{'jwt-secret'}\E/, "$name: the jwt-secret is not shown");
		like($out, qr/^jwt-secret = "\*{8}"/m, "$name: and masked");
	} else {
		like($out, qr/^jwt-secret = ""/m, "$name: no jwt-secret");
	}
	# the output is a configuration file itself
	my $again = "$tmp/again-$name";
	spew($again, $out);
	my ($st2, $out2, $err2) = prog(['--check-config', $again]);
	is($st2 >> 8, 0, "$name: the printed values load again") or diag($err2);
	my $strip = sub { join "\n", grep { !/^jwt-secret = / } split /\n/, $_[0] };
	is($strip->($out2), $strip->($out), "$name: and print the same");
}

# PGRST_ variables win, and show
($st, $out) = prog(['--check-config', "$src/sql/deploy-default.conf"],
		   PGRST_DB_ANON_ROLE => 'someone_else', PGRST_DB_MAX_ROWS => '25');
like($out, qr/^db-anon-role = "someone_else"$/m, 'PGRST_DB_ANON_ROLE shows in the effective values');
like($out, qr/^db-max-rows = 25$/m, 'PGRST_DB_MAX_ROWS too');
($st, $out, $err) = prog(['--check-config', "$src/sql/deploy-default.conf"], PGRST_DB_MAX_ROWS => 'many');
is($st >> 8, 1, 'a bad PGRST_ value: exit 1');
like($err, qr/environment variable PGRST_DB_MAX_ROWS/, 'naming the variable');

# a bad file: exit 1, the message names the file, the line and the key
my $bad = "$tmp/bad.conf";
spew($bad, qq{db-uri = "postgresql://u:pw\@/db"\ndb-schemas = "public"\ndb-max-rows = "abc"\n});
($st, $out, $err) = prog(['--check-config', $bad]);
is($st >> 8, 1, 'bad value: exit 1');
like($err, qr{bad\.conf:3: db-max-rows: expected an integer, got "abc"}, 'bad value: file, line and key');
is($out, '', 'bad value: no values printed');
spew($bad, qq{db-uri = "postgresql://"\n\ndb-anon-rol = "anon"\n});
($st, $out, $err) = prog(['--check-config', $bad]);
is($st >> 8, 1, 'unknown key: exit 1');
like($err, qr{bad\.conf:3: unknown key "db-anon-rol"}, 'unknown key: file, line and key');
spew($bad, qq{db-uri = "postgresql://"\ndb-schemas = public\n});
($st, $out, $err) = prog(['--check-config', $bad]);
is($st >> 8, 1, 'syntax error: exit 1');
like($err, qr{bad\.conf:2: }, 'syntax error: file and line');
($st, $out, $err) = prog(['--check', "$src/sql/deploy-cloud.conf"]);
is($st >> 8, 0, '--check is still accepted');
like($out, qr/^jwt-secret = "\*{8}"/m, '--check prints the same masked values');
($st, $out, $err) = prog(['--check-config', "$tmp/no-such.conf"]);
is($st >> 8, 1, 'a missing file: exit 1');
like($err, qr/no-such\.conf/, 'a missing file: named');

# ---------------------------------------------------------------------------
# (c) make install DESTDIR=... and the systemd unit

my $unit_src = "$src/nginx/pg_rest.service";
my $analyze = which('systemd-analyze');
SKIP: {
	skip 'systemd-analyze not installed', 2 unless $analyze;
	($st, $out, $err) = $t->_run([ $analyze, 'verify', '--man=no', $unit_src ], timeout => 60);
	is($st, 0, 'systemd-analyze verify nginx/pg_rest.service') or diag("$out$err");
	is("$out$err", '', 'systemd-analyze verify: no complaints') or diag("$out$err");
}
my $unit_text = slurp($unit_src) // '';
like($unit_text, qr{^ExecStart=/usr/bin/spawn-fcgi .*-s /run/pg_rest/pg_rest\.sock .*-U www-data -G www-data .*-u pg_rest -g pg_rest .*-F \d+ }m,
     'the unit starts N workers on /run/pg_rest/pg_rest.sock for www-data, as pg_rest');
like($unit_text, qr/^RuntimeDirectory=pg_rest$/m, 'the unit has a RuntimeDirectory');
like($unit_text, qr/^Restart=on-failure$/m, 'the unit restarts on failure');
like($unit_text, qr{^ExecStartPre=/usr/bin/pg_rest --check-config /etc/pg_rest/pg_rest\.conf$}m,
     'the unit checks the configuration first');

SKIP: {
	my $build = $ENV{PG_REST_BUILDDIR};
	skip 'PG_REST_BUILDDIR not set (make check sets it)', 1 unless $build && -f "$build/Makefile";
	my $make = which('make') or skip 'make not installed', 1;
	my %menv = (MAKEFLAGS => undef, MFLAGS => undef, MAKELEVEL => undef, MAKEOVERRIDES => undef,
		    DESTDIR => undef);
	($st, $out, $err) = $t->_run([ $make, '-s', '-C', $build, 'print-install-dirs' ], env => \%menv);
	is($st, 0, 'make print-install-dirs') or diag($err);
	my %dir = map { /^(\w+)=(.*)$/ ? ($1 => $2) : () } split /\n/, $out;
	my $dest = "$tmp/dest";
	($st, $out, $err) = $t->_run([ $make, '-C', $build, 'install', "DESTDIR=$dest" ],
				     env => \%menv, timeout => 300);
	is($st, 0, 'make install DESTDIR=...') or diag("$out$err");

	my $ibin = "$dest$dir{bindir}/pg_rest";
	ok(-x $ibin, "bin: $dir{bindir}/pg_rest");
	my ($vst, $vout) = $t->_run([ $ibin, '--version' ]);
	like($vout, qr/^pg_rest /, 'the installed binary runs');
	for ([ man8dir => 'pg_rest.8' ], [ man5dir => 'pg_rest.conf.5' ]) {
		my ($d, $f) = @$_;
		is(slurp("$dest$dir{$d}/$f"), slurp("$src/man/$f"), "man: $dir{$d}/$f");
	}
	# each installed example is the source file, unchanged
	my %want = ((map { ("$dir{exampledir}/" . basename($_) => $_) }
		     glob("$src/sql/*.sql"), glob("$src/sql/*.conf"), "$src/sql/pg_rest.conf.example"),
		    (map { ("$dir{exampledir}/auth/" . basename($_) => $_) } glob("$src/sql/auth/*.sql")),
		    (map { ("$dir{examplenginxdir}/" . basename($_) => $_) }
		     glob("$src/nginx/*.conf"), "$src/nginx/pg_rest.service"),
		    (map { ("$dir{exampleapachedir}/" . basename($_) => $_) }
		     glob("$src/apache/*.conf"), glob("$src/apache/*.htaccess")));
	my @wrong = grep { (slurp("$dest$_") // "\0missing") ne (slurp($want{$_}) // '') } sort keys %want;
	is_deeply(\@wrong, [], 'examples: ' . scalar(keys %want) . " files under $dir{exampledir}");
	ok(exists $want{"$dir{examplenginxdir}/pg_rest-tls.conf"}, 'examples: nginx/ has the TLS server block');
	ok(exists $want{"$dir{examplenginxdir}/pg_rest-upstream.conf"}, 'examples: nginx/ has the upstream file');
	ok(exists $want{"$dir{exampledir}/deploy-cloud.sql"}, 'examples: the sql files');
	SKIP: {
		skip 'no apache/ examples in this tree', 1 unless glob("$src/apache/*");
		ok(scalar(grep { m{^\Q$dir{exampleapachedir}\E/} } keys %want), 'examples: apache/ has its files');
	}
	my $conf_ex = "$dest$dir{pgrestconfdir}/pg_rest.conf.example";
	is(slurp($conf_ex), slurp("$src/sql/pg_rest.conf.example"),
	   "example configuration: $dir{pgrestconfdir}/pg_rest.conf.example");
	ok(!-e "$dest$dir{pgrestconfdir}/pg_rest.conf", 'and no pg_rest.conf is installed');
	($st, $out, $err) = prog(['--check-config', $conf_ex]);
	is($st >> 8, 0, 'the installed example configuration checks') or diag($err);

	if (length($dir{systemdsystemunitdir} // '')) {
		my $unit = "$dest$dir{systemdsystemunitdir}/pg_rest.service";
		ok(-f $unit, "systemd unit: $dir{systemdsystemunitdir}/pg_rest.service");
		my $u = slurp($unit) // '';
		like($u, qr{^ExecStart=\S*spawn-fcgi .* -- \Q$dir{bindir}\E/pg_rest \S+/pg_rest/pg_rest\.conf$}m,
		     'the installed unit runs the installed binary');
		like($u, qr{^ExecStartPre=\Q$dir{bindir}\E/pg_rest --check-config }m,
		     'and checks the configuration with it');
		SKIP: {
			skip 'systemd-analyze not installed', 1 unless $analyze;
			skip 'spawn-fcgi not installed (the unit runs it)', 1 unless which('spawn-fcgi');
			# the man pages of Documentation= are looked up in the DESTDIR
			(my $mandir = "$dest$dir{man8dir}") =~ s{/man8$}{};
			($st, $out, $err) = $t->_run([ $analyze, 'verify', $unit ],
						     env => { MANPATH => $mandir }, timeout => 60);
			is($st, 0, 'systemd-analyze verify: the installed unit, man pages included')
				or diag("$out$err");
		}
	} else {
		pass('configured --with-systemdsystemunitdir=no: no unit installed');
	}
}

done_testing();
