package PgRestTest;

=pod

=head1 NAME

PgRestTest - end-to-end test harness for pg_rest (core Perl only)

=head1 SYNOPSIS

    use FindBin;
    use lib "$FindBin::Bin/lib";
    use Test::More;
    use PgRestTest;

    PgRestTest::skip_unless_ready();          # plan skip_all if a tool is missing

    my $t = PgRestTest->new();
    $t->start_postgres();
    $t->createdb('demobase');
    $t->psql_file($t->sql_path('deploy-cloud.sql'), db => 'demobase');
    $t->start_workers(config => {
        'db-uri'       => $t->db_uri(user => 'dbauth', db => 'demobase'),
        'db-schemas'   => 'public',
        'db-anon-role' => 'webanon',
        'jwt-secret'   => 'a-secret-of-at-least-thirty-two-chars',
    }, workers => 2);
    $t->start_nginx(prefix => '/');
    my $tok = $t->jwt({ role => 'webuser', user => 'alice' },
                      'a-secret-of-at-least-thirty-two-chars');
    my $r = $t->get('/items', headers => { Authorization => "Bearer $tok" });
    is($r->{status}, 200);
    done_testing();

=head1 DESCRIPTION

Every object owns one temporary directory and everything it started in it:
a throwaway PostgreSQL cluster (unix socket only), pg_rest workers under the
real C<spawn-fcgi>, and a private nginx in the foreground.  Processes are
stopped by pid when the object is cleaned up: from an C<END> block and from
C<$SIG{INT}>/C<$SIG{TERM}>, whether the test passed, failed or died.  The
directory is removed afterwards unless C<PG_TEST_NOCLEAN> is set or a test
failed; then its path is printed and the tails of the worker log, the nginx
error log and the PostgreSQL log are shown with C<diag>.

Only 127.0.0.1 and unix sockets are ever used.  Every wait loop is bounded by
a count and by time.

=head2 Environment

=over

=item C<PG_REST_BIN> - the worker binary (default: F<E<lt>repoE<gt>/src/pg_rest>)

=item C<PG_REST_SRCDIR> - the source tree (default: two levels above this file)

=item C<PG_TEST_NOCLEAN> - keep the temporary directory even on success

=item C<PG_BIN> - directory with initdb/pg_ctl (default: highest F</usr/lib/postgresql/*/bin>)

=back

=head2 Constructor and accessors

=over

=item C<< PgRestTest->new() >>

Makes the temporary directory and registers the cleanup.  As root the
directory is mode 0755 so the unprivileged workers and nginx can reach
the sockets in it.

=item C<< $t->tmpdir >>, C<< $t->srcdir >>, C<< $t->bin >>, C<< $t->sql_path($file) >>

Temporary dir, source tree, worker binary, F<sql/$file> in the source tree.

=item C<< $t->pg_host >>, C<< $t->pg_port >>

Socket directory and port of the cluster (after C<start_postgres>).

=item C<< $t->socket >>, C<< $t->base_url >>, C<< $t->worker_pids >>

FastCGI socket path, C<http://127.0.0.1:PORT> of nginx, list of worker pids.

=back

=head2 PostgreSQL

=over

=item C<< $t->start_postgres(%opt) >>

C<initdb> + C<pg_ctl start> with the socket in F<TMP/pg>, C<listen_addresses=''>,
C<fsync=off>, UTC, ISO dates.  As root both run through
C<runuser -u postgres -->.  C<%opt{conf}> is extra text for postgresql.conf.

=item C<< $t->pause_postgres(mode => 'fast') >>, C<< $t->resume_postgres() >>

Stop the server keeping its data directory, and start it again on the same
socket and port (outage tests).

=item C<< $t->psql($sql, db => 'postgres') >>

Runs C<$sql> as the superuser with C<psql -X -v ON_ERROR_STOP=1 -q -A -t>
(unaligned, tuples only, so results are easy to compare).  Dies with psql's
stderr on error.  Returns stdout.

=item C<< $t->psql_file($path, db => 'postgres') >>

The same for a file.

=item C<< $t->createdb($name) >>

=item C<< $t->db_uri(user => 'dbauth', db => 'demobase', password => undef, form => 'uri') >>

C<postgresql://user[:password]@/db?host=SOCKDIR&port=PORT>, or with
C<< form => 'kv' >> the libpq C<key=value> form.

=back

=head2 Workers

=over

=item C<< $t->start_workers(config => \%kv, workers => 2, env => \%env) >>

Writes F<TMP/pg_rest.conf> (libconfig/PostgREST syntax: plain strings are
quoted, C<true>/C<false> and integers are written bare, a reference to a
scalar is written verbatim, JSON::PP booleans bare) and runs
C<spawn-fcgi -s TMP/pg_rest.sock -M 0666 -F N -P TMP/workers.pid -- BIN CONF>
(as root also C<-u nobody -g nogroup>; the binary is copied into the
temporary directory when C<nobody> could not execute it in place).
C<PG_REST_LOG=TMP/pg_rest.log> and C<%env> are set in the workers'
environment; C<PGRST_*> variables of the test's own environment are removed.
Calling it again stops the old workers first.  Returns the socket path.
Dies, with the worker log, if the workers do not come up.

C<< group => 'NAME' >> starts an independent group of workers next to the
others (its own F<TMP/pg_rest-NAME.conf> and pid file; the log file is
shared); restarting a group stops only that group.  C<< port => N >> makes
the group listen on TCP C<127.0.0.1:N> (C<spawn-fcgi -a 127.0.0.1 -p N>)
instead of a unix socket; then the return value is C<127.0.0.1:N>.  Without
C<group> the default group (the unix socket above) is meant, as before.

=item C<< $t->stop_workers() >>, C<< $t->stop_workers(group => 'NAME') >>

Without arguments every group is stopped; C<group =E<gt> ''> is the default
group.  C<< $t->worker_pids('NAME') >> lists a group's pids.

=item C<< $t->log_contents() >>

The worker log text (C<PG_REST_LOG>).

=item C<< $t->sanitizer_reports() >>

Text of the AddressSanitizer/UBSan reports the workers wrote (a
C<--enable-sanitizers> build; the harness sets C<ASAN_OPTIONS> and
C<UBSAN_OPTIONS> C<log_path> into the temporary directory unless they are set
already), or the empty string.  Leak reports appear when workers exit, so
call C<stop_workers> first.

=item C<< $t->write_config(\%kv [, $path]) >>, C<< PgRestTest->read_config($path) >>

Write a config file / read an example config (e.g. F<sql/deploy-cloud.conf>)
into a hash that C<start_workers> accepts (bare values come back as scalar
references, so they are written back verbatim).

=back

=head2 nginx

=over

=item C<< $t->start_nginx(prefix => '/') >>

Starts C<nginx -p TMP/ngx/ -c TMP/ngx/nginx.conf -e TMP/ngx/logs/error.log>
with C<daemon off;> as a child of the test, on a free 127.0.0.1 port, and
waits until the port accepts.  For C<prefix =E<gt> '/'> and C<'/api'> the
server block is the shipped example F<nginx/pg_rest.conf> or
F<nginx/pg_rest-api-prefix.conf> with only its socket path and listen
address replaced, so the examples are exercised; any other prefix gets a
generated C<location PREFIX/> with C<fastcgi_split_path_info>.
C<< server_conf => $text >> supplies a whole server block instead
(C<@SOCKET@> and C<@LISTEN@> are substituted).  Calling it again restarts
nginx.  Returns the base URL.

C<< example => 'FILE' >> runs F<nginx/FILE> whatever the prefix, templated
only in addresses, ports and paths: the unix socket, C<listen
127.0.0.1:8080;> or C<listen 80;> (the base URL's port), C<listen 443 ssl;>
(C<@LISTEN_TLS@>, a port of its own, see C<nginx_port>), IPv6 C<listen>
lines (dropped), the C<ssl_certificate>/C<ssl_certificate_key> paths
(C<< cert => PATH, key => PATH >>, required when the file has them), the
C<server ADDR:PORT> lines of an C<upstream> block (C<< backends =>
[ '127.0.0.1:P1', ... ] >>, as many as the file has) and log paths.
C<< worker_processes => N >> (default 1).  Any C<@LISTEN_NAME@> in the
server text gets a free port.

=item C<< $t->nginx_port() >>, C<< $t->nginx_port('TLS') >>

The port of the base URL, or of C<@LISTEN_TLS@> (etc.).

=item C<< $t->stop_nginx() >>

=back

=head2 Apache

=over

=item C<PgRestTest::apache_missing()>

What is missing to run Apache with mod_fcgid (C<apache2>,
F</usr/lib/apache2/modules/mod_fcgid.so>), or the empty string.

=item C<< $t->start_apache(conf => 'pg_rest.conf', config => $path, set => {...}) >>

Starts C<apache2 -DFOREGROUND -f TMP/apache/httpd.conf -d TMP/apache> as a
child of the test, on a free 127.0.0.1 port (retried when the port is
taken), and waits until the port accepts.  The server config around the
site is generated (modules, C<User>/C<Group> nobody/nogroup as root, mod_fcgid's
IPC directory and process table in TMP/apache/run, short scan intervals,
C<FcgidInitialEnv> for C<PG_REST_LOG> and the sanitizers' C<log_path>, so
that C<sanitizer_reports> finds their reports).  The site is a shipped file:

C<< conf => 'pg_rest.conf' >> or C<'pg_rest-api-prefix.conf'>: the virtual
host from F<apache/>, with only F</usr/lib/cgi-bin> (the program is copied
to TMP/apache/cgi-bin/pg_rest), F</etc/pg_rest/pg_rest.conf> (C<config>),
F</var/www/html> (TMP/apache/htdocs) and C<*:80> replaced.
C<< set => { FcgidMaxRequestsPerProcess => 3 } >> replaces the value of
directives the file already has.

C<< htaccess => 'pg_rest.htaccess' >> or C<'pg_rest-fileinfo.htaccess'>:
shared hosting.  The file becomes TMP/apache/htdocs/DIR/.htaccess
(C<< dir => 'site' >>) next to a copy of the program named pg_rest.fcgi,
in a generated virtual host with C<< AllowOverride ALLOW >> for DIR
(C<< allow_override => 'All' >>); C<config> replaces the path of its
C<SetEnv PG_REST_CONFIG> line (it must have one then).  C<< host_conf =>
$text >> adds directives to that virtual host.

Dies if a shipped file lacks a string it should replace.  Calling it again
restarts Apache.  Returns the base URL.

=item C<< $t->stop_apache() >>

Stops Apache (SIGTERM; mod_fcgid then stops its workers) and any worker
that outlived it.

=item C<< $t->apache_dir >>, C<< $t->apache_error_log() >>

TMP/apache, and the text of Apache's error logs (the server's and the
virtual host's) written since the last C<start_apache>.

=back

=head2 HTTP and tokens

=over

=item C<< $t->request($method, $path, headers => {...}, body => $str) >>

Returns C<< { status, reason, headers, content, json } >>; header names are
lower-cased (a header sent twice is an array reference, as in HTTP::Tiny);
C<json> is the decoded body or undef.  C<$path> may also be a full
C<http://127.0.0.1...> URL.  The User-Agent is C<$PgRestTest::UA>.

=item C<< $t->get($path, %opts) >>

=item C<< $t->error_ok($path, $status, $code, $name, method => 'GET', headers => {...}) >>

Four assertions on an error answer: the status, a JSON Content-Type, the
C<code>, and that C<message>, C<details> and C<hint> are present.  Returns
the response, and in list context also the decoded body (a hash).

=item C<< $t->json_ok($path, $status, $want, $name, method => 'GET', headers => {...}, body => ...) >>

Two assertions on a JSON answer: the status, and the decoded body
C<is_deeply> C<$want>.  Returns the response.

=item C<< $t->jwt(\%claims, $secret, alg => 'HS256') >>

A signed token (HS256, HS384 or HS512), header C<{"alg":..,"typ":"JWT"}>.

=item C<< $t->jwt_raw($header_json, $payload_json, $secret, alg => ...) >>

Signs exactly the given header and payload texts (for malformed cases);
the algorithm is taken from C<alg>, else from the header if it parses, else
HS256; an undefined C<$secret> gives an empty signature part.

=item C<< PgRestTest::b64url($bytes) >>

=back

=head2 Diagnostics

C<< $t->diag_logs() >> prints the tails of all logs; it is done
automatically at cleanup when a test failed.  C<< $t->nginx_error_log() >> and
C<< $t->pg_log() >> return the texts.

=cut

use strict;
use warnings;
no warnings qw(exec);    # exec is followed by an error report on purpose

use Cwd qw(abs_path);
use Digest::SHA qw(hmac_sha256 hmac_sha384 hmac_sha512);
use Fcntl qw(:mode);
use File::Basename qw(dirname);
use File::Copy qw(copy);
use File::Path qw(make_path remove_tree);
use File::Spec;
use File::Temp qw(tempdir);
use HTTP::Tiny;
use IO::Socket::INET;
use JSON::PP;
use MIME::Base64 qw(encode_base64);
use POSIX qw(:sys_wait_h _exit);
use Test::More ();
use Time::HiRes qw(sleep time);

our $UA = 'pg_rest-test/1.0';
our @INSTANCES;

my $JSON = JSON::PP->new->canonical(1)->utf8(1)->allow_nonref(1);

# ---------------------------------------------------------------------------
# cleanup registration

my $handlers_installed = 0;

sub _install_handlers {
	return if $handlers_installed++;
	my %num = (HUP => 1, INT => 2, TERM => 15);
	for my $sig (sort keys %num) {
		$SIG{$sig} = sub {
			local $?;
			_cleanup_all(1);
			$SIG{$sig} = 'DEFAULT';
			kill $sig, $$;
			_exit(128 + $num{$sig});
		};
	}
}

sub _cleanup_all {
	my ($signalled, $exit) = @_;
	for my $t (reverse @INSTANCES) {
		next unless $t && $t->{owner_pid} == $$;
		$t->cleanup(signalled => $signalled, exit => $exit);
	}
}

END {
	my $status = $?;
	_cleanup_all(0, $status);
	$? = $status;
}

# Orphaned workers (spawn-fcgi exits after forking them) and the postmaster
# (pg_ctl exits after starting it) are adopted by PID 1, which may not reap
# them here (zombies left behind).  As a child subreaper the test adopts
# them itself and reaps them when it stops them.  Best effort, Linux only.
sub _become_subreaper {
	return unless $^O eq 'linux';
	require Config;
	my $arch = $Config::Config{archname} // '';
	my $nr = $arch =~ /^x86_64/ ? 157 : $arch =~ /^aarch64/ ? 167 : undef;
	return unless defined $nr;
	local $!;
	eval { syscall($nr, 36, 1, 0, 0, 0) };    # prctl(PR_SET_CHILD_SUBREAPER, 1)
}

# ---------------------------------------------------------------------------
# helpers

sub _srcdir_default {
	return abs_path($ENV{PG_REST_SRCDIR}) if $ENV{PG_REST_SRCDIR};
	return abs_path(dirname(__FILE__) . '/../..');
}

sub _which {
	my ($prog) = @_;
	for my $d (split /:/, ($ENV{PATH} // '') . ':/usr/sbin:/sbin:/usr/bin:/bin') {
		next unless length $d;
		return "$d/$prog" if -f "$d/$prog" && -x _;
	}
	return undef;
}

sub _pg_bindir {
	return $ENV{PG_BIN} if $ENV{PG_BIN} && -x "$ENV{PG_BIN}/initdb";
	my @dirs = grep { -x "$_/initdb" && -x "$_/pg_ctl" } glob('/usr/lib/postgresql/*/bin');
	my ($best) = sort {
		my ($va) = $a =~ m{/postgresql/([\d.]+)/};
		my ($vb) = $b =~ m{/postgresql/([\d.]+)/};
		$vb <=> $va
	} @dirs;
	return $best if $best;
	my $initdb = _which('initdb');
	return $initdb ? dirname($initdb) : undef;
}

sub _bin_default {
	return $ENV{PG_REST_BIN} if $ENV{PG_REST_BIN};
	return _srcdir_default() . '/src/pg_rest';
}

=pod

=head2 C<PgRestTest::skip_unless_ready()>

Calls C<plan skip_all> (and exits) when the worker binary, spawn-fcgi, nginx,
psql or initdb is missing; prints what is missing.

=cut

sub skip_unless_ready {
	my @missing;
	my $bin = _bin_default();
	push @missing, "worker binary $bin (build it, or set PG_REST_BIN)" unless -x $bin;
	push @missing, 'spawn-fcgi' unless _which('spawn-fcgi');
	push @missing, 'nginx' unless _which('nginx');
	push @missing, 'psql' unless _which('psql');
	push @missing, 'initdb/pg_ctl' unless _pg_bindir();
	push @missing, 'runuser (needed as root)' if $> == 0 && !_which('runuser');
	push @missing, 'user postgres (needed as root)' if $> == 0 && !getpwnam('postgres');
	if (@missing) {
		Test::More::plan(skip_all => 'missing: ' . join(', ', @missing));
		exit 0;
	}
}

sub _free_port {
	for (1 .. 50) {
		my $s = IO::Socket::INET->new(
			LocalAddr => '127.0.0.1', LocalPort => 0, Proto => 'tcp',
			Listen => 1, ReuseAddr => 0) or next;
		my $port = $s->sockport;
		close $s;
		return $port if $port;
	}
	die "PgRestTest: could not find a free loopback port\n";
}

sub _slurp {
	my ($path) = @_;
	open my $fh, '<', $path or return undef;
	local $/;
	my $s = <$fh>;
	close $fh;
	return $s;
}

sub _spew {
	my ($path, $text, $mode) = @_;
	open my $fh, '>', $path or die "PgRestTest: cannot write $path: $!\n";
	print $fh $text;
	close $fh or die "PgRestTest: cannot write $path: $!\n";
	chmod($mode, $path) if defined $mode;
}

sub _tail {
	my ($text, $n) = @_;
	return '' unless defined $text && length $text;
	my @l = split /\n/, $text;
	@l = @l[-$n .. -1] if @l > $n;
	return join("\n", @l) . "\n";
}

# Wait (at most 15 s) until $addr:$port accepts a TCP connection while $pid
# lives; true when it does.
sub _wait_listening {
	my ($pid, $addr, $port) = @_;
	my $deadline = time + 15;

	for (1 .. 1500) {
		return 0 if time > $deadline || !_alive($pid);
		my $c = IO::Socket::INET->new(PeerAddr => $addr, PeerPort => $port,
					     Proto => 'tcp', Timeout => 1);
		if ($c) { close $c; return 1 }
		sleep 0.02;
	}
	return 0;
}

# true while $pid exists and is not a zombie; reaps it if it is our child
sub _alive {
	my ($pid) = @_;
	return 0 unless $pid && $pid > 1;
	my $r = waitpid($pid, WNOHANG);
	return 0 if $r == $pid;
	return 1 if $r == 0;
	return 0 unless kill(0, $pid);
	my $stat = _slurp("/proc/$pid/stat");
	return 0 if defined $stat && $stat =~ /^\d+ \(.*\) [ZX] /s;
	return 1;
}

# SIGTERM the pids, wait up to $secs, then SIGKILL what is left
sub _terminate {
	my ($secs, @pids) = @_;
	@pids = grep { _alive($_) } @pids;
	return unless @pids;
	kill 'TERM', @pids;
	my $deadline = time + $secs;
	for (1 .. 1000) {
		@pids = grep { _alive($_) } @pids;
		last if !@pids || time > $deadline;
		sleep 0.02;
	}
	return unless @pids;
	kill 'KILL', @pids;
	for (1 .. 250) {
		@pids = grep { _alive($_) } @pids;
		last unless @pids;
		sleep 0.02;
	}
}

sub b64url {
	my ($bytes) = @_;
	my $s = encode_base64($bytes, '');
	$s =~ tr{+/}{-_};
	$s =~ s/=+\z//;
	return $s;
}

sub _uri_escape {
	my ($s) = @_;
	$s =~ s/([^A-Za-z0-9\-._~])/sprintf('%%%02X', ord $1)/ge;
	return $s;
}

# ---------------------------------------------------------------------------
# constructor

sub new {
	my ($class, %opt) = @_;
	my $base = File::Spec->tmpdir;
	# unix socket paths are limited to 107 bytes
	$base = '/tmp' if length($base) > 40;
	my $tmp = tempdir('pg_rest-test-XXXXXX', DIR => $base, CLEANUP => 0);
	$tmp = abs_path($tmp);
	chmod 0755, $tmp;
	my $self = bless {
		tmp       => $tmp,
		owner_pid => $$,
		srcdir    => _srcdir_default(),
		bin       => _bin_default(),
		is_root   => ($> == 0 ? 1 : 0),
		run_seq   => 0,
		cleaned   => 0,
		%opt,
	}, $class;
	push @INSTANCES, $self;
	_install_handlers();
	_become_subreaper();
	return $self;
}

sub tmpdir     { $_[0]{tmp} }
sub srcdir     { $_[0]{srcdir} }
sub bin        { $_[0]{bin} }
sub pg_host    { $_[0]{pg_host} }
sub pg_port    { $_[0]{pg_port} }
sub socket     { $_[0]{socket} }
sub base_url   { $_[0]{base_url} }
sub worker_pids {
	my ($self, $group) = @_;
	return @{ $self->{worker_pids} || [] } unless defined $group && length $group;
	return @{ ($self->{worker_groups}{$group} || {})->{pids} || [] };
}
sub sql_path   { my ($self, $f) = @_; return "$self->{srcdir}/sql/$f" }

# ---------------------------------------------------------------------------
# running commands: fork/exec, output to files, bounded wait

# _run(\@cmd, user => 'postgres', dir => DIR, env => {..}, timeout => secs,
#      stdin => FILE) -> (exit status, stdout text, stderr text)
sub _run {
	my ($self, $cmd, %o) = @_;
	my @cmd = @$cmd;
	if ($o{user} && $self->{is_root}) {
		unshift @cmd, 'runuser', '-u', $o{user}, '--';
	}
	my $seq = ++$self->{run_seq};
	my $rundir = "$self->{tmp}/run";
	make_path($rundir) unless -d $rundir;
	chmod 0777, $rundir;
	my ($out, $err) = ("$rundir/$seq.out", "$rundir/$seq.err");
	my $timeout = $o{timeout} // 120;
	my $pid = fork;
	die "PgRestTest: fork failed: $!\n" unless defined $pid;
	if ($pid == 0) {
		eval {
			chdir($o{dir} // $self->{tmp});
			open STDIN, '<', ($o{stdin} // '/dev/null');
			open STDOUT, '>', $out;
			open STDERR, '>', $err;
			if ($o{env}) {
				for my $k (keys %{ $o{env} }) {
					if (defined $o{env}{$k}) { $ENV{$k} = $o{env}{$k} }
					else { delete $ENV{$k} }
				}
			}
			exec { $cmd[0] } @cmd;
			print STDERR "exec $cmd[0]: $!\n";
		};
		_exit(127);
	}
	my $deadline = time + $timeout;
	my $status;
	for (1 .. 100_000) {
		my $r = waitpid($pid, WNOHANG);
		if ($r == $pid) { $status = $?; last }
		if ($r == -1) { $status = -1; last }
		if (time > $deadline) {
			kill 'TERM', $pid;
			sleep 0.5;
			kill 'KILL', $pid;
			waitpid($pid, 0);
			$status = -1;
			my $e = _slurp($err) // '';
			die "PgRestTest: timed out after ${timeout}s: @cmd\n$e";
		}
		sleep($_ < 50 ? 0.005 : 0.02);
	}
	my ($o_text, $e_text) = (_slurp($out) // '', _slurp($err) // '');
	unlink $out, $err;
	return ($status, $o_text, $e_text);
}

# ---------------------------------------------------------------------------
# PostgreSQL

sub start_postgres {
	my ($self, %opt) = @_;
	die "PgRestTest: postgres already started\n" if $self->{pg_data};
	my $bindir = _pg_bindir() or die "PgRestTest: initdb not found (install postgresql)\n";
	my $dir = "$self->{tmp}/pg";
	make_path($dir);
	if ($self->{is_root}) {
		my ($uid, $gid) = (getpwnam('postgres'))[2, 3];
		die "PgRestTest: running as root needs the user postgres\n" unless defined $uid;
		chown $uid, $gid, $dir;
	}
	chmod 0755, $dir;
	my $port = _free_port();
	my $data = "$dir/data";
	my $log = "$dir/postgres.log";
	$self->{pg_bindir} = $bindir;
	$self->{pg_dir}    = $dir;
	$self->{pg_log}    = $log;

	my ($st, $out, $err) = $self->_run(
		[ "$bindir/initdb", '-D', $data, '-U', 'postgres', '-A', 'trust',
		  '-E', 'UTF8', '--no-locale', '--no-sync' ],
		user => 'postgres', dir => $dir, timeout => 120,
		env => { LC_ALL => 'C', LANG => undef });
	die "PgRestTest: initdb failed:\n$out$err" if $st != 0;

	my $conf = <<"EOC";

# --- PgRestTest ---
listen_addresses = ''
unix_socket_directories = '$dir'
port = $port
fsync = off
synchronous_commit = off
full_page_writes = off
max_connections = 50
shared_buffers = 16MB
timezone = 'UTC'
log_timezone = 'UTC'
datestyle = 'iso, mdy'
extra_float_digits = 1
lc_messages = 'C'
log_line_prefix = '%m [%p] %q%u\@%d '
log_connections = off
log_min_messages = warning
log_min_error_statement = error
EOC
	$conf .= "$opt{conf}\n" if $opt{conf};
	open my $fh, '>>', "$data/postgresql.conf" or die "PgRestTest: $data/postgresql.conf: $!\n";
	print $fh $conf;
	close $fh;

	($st, $out, $err) = $self->_run(
		[ "$bindir/pg_ctl", '-D', $data, '-l', $log, '-w', '-t', '60', 'start' ],
		user => 'postgres', dir => $dir, timeout => 90);
	if ($st != 0) {
		my $l = _tail(_slurp($log), 30);
		die "PgRestTest: pg_ctl start failed:\n$out$err$l";
	}
	$self->{pg_data} = $data;
	$self->{pg_host} = $dir;
	$self->{pg_port} = $port;
	my $pm = _slurp("$data/postmaster.pid") // '';
	($self->{pg_pid}) = $pm =~ /\A(\d+)/;
	return $self;
}

sub stop_postgres {
	my ($self) = @_;
	return unless $self->{pg_data};
	my $data = delete $self->{pg_data};
	my $pid = $self->{pg_pid};
	if (-f "$data/postmaster.pid" || ($pid && _alive($pid))) {
		eval {
			$self->_run([ "$self->{pg_bindir}/pg_ctl", '-D', $data, '-m', 'immediate',
				      '-w', '-t', '30', 'stop' ],
				    user => 'postgres', dir => $self->{pg_dir}, timeout => 45);
		};
	}
	_terminate(5, $pid) if $pid && _alive($pid);
	# reap the adopted postmaster (and any backend it left behind)
	for (1 .. 100) {
		last unless $pid && _alive($pid);
		sleep 0.05;
	}
	delete $self->{pg_pid};
}

# Stop the server but keep its data, so resume_postgres can start it again
# on the same socket (for outage tests).
sub pause_postgres {
	my ($self, %opt) = @_;
	die "PgRestTest: postgres not running\n" unless $self->{pg_data};
	my $pid = $self->{pg_pid};
	my ($st, $out, $err) = $self->_run(
		[ "$self->{pg_bindir}/pg_ctl", '-D', $self->{pg_data}, '-m', $opt{mode} // 'fast',
		  '-w', '-t', '30', 'stop' ],
		user => 'postgres', dir => $self->{pg_dir}, timeout => 45);
	die "PgRestTest: pg_ctl stop failed:\n$out$err" if $st != 0;
	for (1 .. 100) {
		last unless $pid && _alive($pid);
		sleep 0.05;
	}
	$self->{pg_paused} = 1;
	return $self;
}

sub resume_postgres {
	my ($self) = @_;
	die "PgRestTest: postgres not paused\n" unless $self->{pg_paused};
	my ($st, $out, $err) = $self->_run(
		[ "$self->{pg_bindir}/pg_ctl", '-D', $self->{pg_data}, '-l', $self->{pg_log},
		  '-w', '-t', '60', 'start' ],
		user => 'postgres', dir => $self->{pg_dir}, timeout => 90);
	die "PgRestTest: pg_ctl start failed:\n$out$err" if $st != 0;
	my $pm = _slurp("$self->{pg_data}/postmaster.pid") // '';
	($self->{pg_pid}) = $pm =~ /\A(\d+)/;
	delete $self->{pg_paused};
	return $self;
}

sub _psql_cmd {
	my ($self, %o) = @_;
	die "PgRestTest: start_postgres first\n" unless $self->{pg_port};
	my $psql = -x "$self->{pg_bindir}/psql" ? "$self->{pg_bindir}/psql" : 'psql';
	return [ $psql, '-X', '-v', 'ON_ERROR_STOP=1', '-q', '-A', '-t',
		 '-h', $self->{pg_host}, '-p', $self->{pg_port}, '-U', 'postgres',
		 '-d', ($o{db} // 'postgres') ];
}

my %PG_ENV_CLEAR = map { $_ => undef } qw(PGHOST PGPORT PGUSER PGPASSWORD PGDATABASE
	PGSERVICE PGSERVICEFILE PGOPTIONS PGSSLMODE PGPASSFILE PGHOSTADDR);

sub psql {
	my ($self, $sql, %o) = @_;
	my $file = "$self->{tmp}/run/psql-" . (++$self->{run_seq}) . '.sql';
	make_path("$self->{tmp}/run") unless -d "$self->{tmp}/run";
	_spew($file, $sql);
	my $out = eval { $self->psql_file($file, %o) };
	my $e = $@;
	unlink $file;
	die $e if $e;
	return $out;
}

sub psql_file {
	my ($self, $path, %o) = @_;
	die "PgRestTest: no such SQL file: $path\n" unless -f $path;
	my $cmd = $self->_psql_cmd(%o);
	push @$cmd, '-f', abs_path($path);
	my ($st, $out, $err) = $self->_run($cmd, timeout => $o{timeout} // 120,
		env => { %PG_ENV_CLEAR, LC_ALL => 'C' });
	if ($st != 0) {
		die "PgRestTest: psql failed (exit " . ($st >> 8) . ") on $path:\n$err";
	}
	return $out;
}

sub createdb {
	my ($self, $name) = @_;
	(my $q = $name) =~ s/"/""/g;
	$self->psql(qq{CREATE DATABASE "$q";});
	return $name;
}

sub db_uri {
	my ($self, %o) = @_;
	die "PgRestTest: start_postgres first\n" unless $self->{pg_port};
	my $user = $o{user} // 'postgres';
	my $db   = $o{db}   // 'postgres';
	my $pw   = $o{password};
	if (($o{form} // 'uri') eq 'kv') {
		my $q = sub { my $v = shift; $v =~ s/(['\\])/\\$1/g; "'$v'" };
		my $s = 'host=' . $q->($self->{pg_host}) . " port=$self->{pg_port}"
		      . ' dbname=' . $q->($db) . ' user=' . $q->($user);
		$s .= ' password=' . $q->($pw) if defined $pw;
		return $s;
	}
	my $auth = _uri_escape($user);
	$auth .= ':' . _uri_escape($pw) if defined $pw;
	return "postgresql://$auth\@/" . _uri_escape($db)
	     . "?host=$self->{pg_host}&port=$self->{pg_port}";
}

sub pg_log { my $self = shift; return _slurp($self->{pg_log} // '') // '' }

# ---------------------------------------------------------------------------
# config files

sub _config_value {
	my ($v) = @_;
	return 'true'  if JSON::PP::is_bool($v) && $v;
	return 'false' if JSON::PP::is_bool($v);
	return $$v if ref $v eq 'SCALAR';
	die "PgRestTest: config value must be a scalar\n" if ref $v;
	die "PgRestTest: undefined config value\n" unless defined $v;
	return $v if $v =~ /\A(?:true|false)\z/;
	return $v if $v =~ /\A-?\d+\z/;
	(my $s = $v) =~ s/(["\\])/\\$1/g;
	$s =~ s/\n/\\n/g;
	$s =~ s/\t/\\t/g;
	return qq{"$s"};
}

sub write_config {
	my ($self, $kv, $path) = @_;
	$path //= "$self->{tmp}/pg_rest.conf";
	my $text = "# written by PgRestTest\n";
	for my $k (sort keys %$kv) {
		$text .= "$k = " . _config_value($kv->{$k}) . "\n";
	}
	_spew($path, $text, 0644);
	return $path;
}

sub read_config {
	my ($class_or_self, $path) = @_;
	my $text = _slurp($path) // die "PgRestTest: cannot read $path\n";
	my %kv;
	for my $line (split /\n/, $text) {
		next if $line =~ /\A\s*(?:#|\/\/|\z)/;
		if ($line =~ /\A\s*([A-Za-z][-A-Za-z0-9_.]*)\s*[=:]\s*"((?:[^"\\]|\\.)*)"\s*;?\s*(?:#.*)?\z/) {
			my ($k, $v) = ($1, $2);
			$v =~ s/\\n/\n/g;
			$v =~ s/\\t/\t/g;
			$v =~ s/\\(.)/$1/g;
			$kv{$k} = $v;
		} elsif ($line =~ /\A\s*([A-Za-z][-A-Za-z0-9_.]*)\s*[=:]\s*([^\s;#]+)\s*;?\s*(?:#.*)?\z/) {
			my ($k, $v) = ($1, $2);
			$kv{$k} = \$v;
		} else {
			die "PgRestTest: $path: cannot parse line: $line\n";
		}
	}
	return \%kv;
}

# ---------------------------------------------------------------------------
# workers

sub _worker_user {
	my ($self) = @_;
	return () unless $self->{is_root};
	my $group = getgrnam('nogroup') ? 'nogroup' : getgrnam('nobody') ? 'nobody' : undef;
	die "PgRestTest: as root the workers need the user nobody\n" unless getpwnam('nobody') && $group;
	return ('nobody', $group);
}

# the binary the workers exec; copied into tmp when nobody cannot run it in place
sub _worker_bin {
	my ($self) = @_;
	my $bin = abs_path($self->{bin}) // $self->{bin};
	die "PgRestTest: worker binary $self->{bin} is missing (build it or set PG_REST_BIN)\n"
		unless -x $bin;
	return $bin unless $self->{is_root};
	return $self->{worker_bin} if $self->{worker_bin};
	my ($st) = $self->_run([ 'test', '-x', $bin, '-a', '-r', $bin ], user => 'nobody', timeout => 20);
	if ($st != 0) {
		make_path("$self->{tmp}/bin");
		chmod 0755, "$self->{tmp}/bin";
		copy($bin, "$self->{tmp}/bin/pg_rest") or die "PgRestTest: copy $bin: $!\n";
		chmod 0755, "$self->{tmp}/bin/pg_rest";
		$bin = "$self->{tmp}/bin/pg_rest";
	}
	return $self->{worker_bin} = $bin;
}

sub start_workers {
	my ($self, %o) = @_;
	my $group = $o{group} // '';
	die "PgRestTest: bad worker group name '$group'\n" unless $group =~ /\A\w*\z/;
	$self->stop_workers(group => $group);
	my $tag  = length $group ? "-$group" : '';
	my $n    = $o{workers} // 2;
	my $conf = $self->write_config($o{config} // {}, "$self->{tmp}/pg_rest$tag.conf");
	my $port = $o{port};
	die "PgRestTest: bad worker port '$port'\n" if defined $port && $port !~ /\A\d+\z/;
	my $sock = defined $port ? undef : "$self->{tmp}/pg_rest$tag.sock";
	my $addr = defined $port ? "127.0.0.1:$port" : $sock;
	my $pidf = "$self->{tmp}/workers$tag.pid";
	my $log  = "$self->{tmp}/pg_rest.log";
	my $wlog = "$self->{tmp}/wlog";
	unlink grep { defined } $sock, $pidf;
	make_path($wlog);
	chmod 01777, $wlog;
	unless (-e $log) { _spew($log, '') }
	chmod 0666, $log;
	my $bin = $self->_worker_bin;
	my $spawn = _which('spawn-fcgi') or die "PgRestTest: spawn-fcgi not found\n";

	# TCP only ever on the loopback address (spawn-fcgi's default is 0.0.0.0)
	my @cmd = ($spawn, (defined $port ? ('-a', '127.0.0.1', '-p', $port) : ('-s', $sock, '-M', '0666')),
		   '-F', $n, '-P', $pidf);
	my ($u, $g) = $self->_worker_user;
	push @cmd, '-u', $u, '-g', $g if $u;
	push @cmd, '--', $bin, $conf;

	my %env = map { $_ => undef } grep { /^PGRST_/ } keys %ENV;
	%env = (%env, %PG_ENV_CLEAR,
		PG_REST_LOG  => $log,
		PG_REST_CONFIG => undef,
		ASAN_OPTIONS => $ENV{ASAN_OPTIONS} // "log_path=$wlog/asan:detect_leaks=1",
		UBSAN_OPTIONS => $ENV{UBSAN_OPTIONS} // "log_path=$wlog/ubsan:print_stacktrace=1",
		%{ $o{env} || {} });
	$self->{log_mark} = -s $log // 0;
	my ($st, $out, $err) = $self->_run(\@cmd, env => \%env, timeout => 30);
	my $pids = _slurp($pidf) // '';
	my @pids = grep { /\A\d+\z/ } split /\s+/, $pids;
	if (length $group) {
		$self->{worker_groups}{$group} = { pids => \@pids, addr => $addr, pidfile => $pidf };
	} else {
		$self->{worker_pids} = \@pids;
		$self->{socket} = $sock;
		$self->{worker_addr} = $addr;
	}
	if ($st != 0 || !@pids) {
		my $l = _tail($self->log_contents, 30);
		$self->stop_workers(group => $group);
		die "PgRestTest: spawn-fcgi failed (exit " . ($st >> 8) . "):\n$out$err"
		  . "worker log:\n$l";
	}
	# the socket exists (spawn-fcgi made it); make sure the children survived
	# their start-up (config errors make them exit at once)
	sleep 0.2;
	my @alive = grep { _alive($_) } @pids;
	my $listening = defined $port
		? do { my $c = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $port,
						     Proto => 'tcp', Timeout => 2); $c ? (close($c), 1)[1] : 0 }
		: -S $sock;
	if (!@alive || !$listening) {
		my $l = _tail($self->log_contents, 30);
		$self->stop_workers(group => $group);
		die "PgRestTest: workers exited right after start (config: $conf):\n$l";
	}
	return $addr;
}

sub stop_workers {
	my ($self, %o) = @_;
	my @groups = exists $o{group} ? ($o{group} // '')
		   : ('', sort keys %{ $self->{worker_groups} || {} });
	for my $group (@groups) {
		if (length $group) {
			my $gr = delete $self->{worker_groups}{$group} or next;
			_terminate(10, @{ $gr->{pids} }) if @{ $gr->{pids} };
			unlink $gr->{pidfile};
			unlink $gr->{addr} if $gr->{addr} =~ m{\A/};
			next;
		}
		my @pids = @{ $self->{worker_pids} || [] };
		_terminate(10, @pids) if @pids;
		$self->{worker_pids} = [];
		unlink "$self->{tmp}/pg_rest.sock", "$self->{tmp}/workers.pid";
	}
}

sub log_contents {
	my ($self) = @_;
	return _slurp("$self->{tmp}/pg_rest.log") // '';
}

sub sanitizer_reports {
	my ($self) = @_;
	return join '', map { "==> $_\n" . (_slurp($_) // '') } sort glob("$self->{tmp}/wlog/*");
}

# ---------------------------------------------------------------------------
# nginx

# The shipped example for a prefix of start_nginx
my %EXAMPLE_FOR_PREFIX = ('/' => 'pg_rest.conf', '/api' => 'pg_rest-api-prefix.conf');

# nginx/$file with only addresses, ports and paths replaced: the socket,
# the listen lines (127.0.0.1:8080 or 80 -> @LISTEN@, 443 ssl ->
# @LISTEN_TLS@; IPv6 listen lines are dropped), the certificate paths
# ($o{cert}, $o{key}), the upstream servers ($o{backends}, in order) and
# the log files.
sub _example_server_block {
	my ($self, $file, %o) = @_;
	return undef unless $file && -f "$self->{srcdir}/nginx/$file";
	my $text = _slurp("$self->{srcdir}/nginx/$file");
	my $n_sock = ($text =~ s{unix:/run/pg_rest/pg_rest\.sock}{unix:\@SOCKET\@}g);
	my $n_listen = ($text =~ s{^(\s*)listen\s+(?:127\.0\.0\.1:8080|80)\s*;}{$1listen \@LISTEN\@;}mg);
	$text =~ s{^(\s*)listen\s+(?:\S+:)?443\s+ssl\s*;}{$1listen \@LISTEN_TLS\@ ssl;}mg;
	$text =~ s{^[ \t]*listen\s+\[[^\n;]*;[^\n]*\n}{}mg;
	my $needs_sock = $text =~ /fastcgi_pass\s+unix:/;
	die "PgRestTest: nginx/$file: expected 'unix:/run/pg_rest/pg_rest.sock' (or an upstream) and "
	  . "'listen 127.0.0.1:8080;' or 'listen 80;' to substitute\n"
		unless $n_listen && ($n_sock || !$needs_sock);
	if ($text =~ /^\s*ssl_certificate\s/m) {
		die "PgRestTest: nginx/$file needs cert => and key =>\n" unless $o{cert} && $o{key};
		$text =~ s{^(\s*ssl_certificate)\s+[^;\s]+\s*;}{$1 $o{cert};}mg;
		$text =~ s{^(\s*ssl_certificate_key)\s+[^;\s]+\s*;}{$1 $o{key};}mg;
	}
	my @backends = @{ $o{backends} || [] };
	if ($text =~ /^\s*upstream\s/m) {
		my $i = 0;
		$text =~ s{^(\s*server\s+)\d+\.\d+\.\d+\.\d+:\d+}{$1 . ($backends[$i++] // '@NO_BACKEND@')}mge;
		die "PgRestTest: nginx/$file has $i upstream servers, backends => gives " . scalar(@backends) . "\n"
			unless $i == @backends;
	}
	# log files of the example go to the private prefix
	$text =~ s{^(\s*(?:access_log|error_log))\s+\S+}{$1 \@LOGDIR\@/server.log}mg;
	return $text;
}

sub _generated_server_block {
	my ($self, $prefix) = @_;
	if ($prefix eq '/') {
		return <<'EOC';
server {
    listen @LISTEN@;
    server_name localhost;
    location / {
        include /etc/nginx/fastcgi_params;
        fastcgi_pass unix:@SOCKET@;
    }
}
EOC
	}
	(my $p = $prefix) =~ s{/+\z}{};
	my $re = quotemeta $p;
	$re =~ s{\\/}{/}g;
	return <<"EOC";
server {
    listen \@LISTEN\@;
    server_name localhost;
    location $p/ {
        include /etc/nginx/fastcgi_params;
        fastcgi_split_path_info ^($re)(/.*)\$;
        fastcgi_param PATH_INFO \$fastcgi_path_info;
        fastcgi_pass unix:\@SOCKET\@;
    }
}
EOC
}

sub start_nginx {
	my ($self, %o) = @_;
	$self->stop_nginx;
	my $prefix = $o{prefix} // '/';
	my $nginx = _which('nginx') or die "PgRestTest: nginx not found\n";
	my $sock = $o{socket} // $self->{socket} // "$self->{tmp}/pg_rest.sock";
	my $ngx = "$self->{tmp}/ngx";
	make_path("$ngx/logs", map { "$ngx/tmp/$_" } qw(body fastcgi proxy scgi uwsgi));
	chmod 0755, $ngx;
	die "PgRestTest: no example nginx/$o{example}\n"
		if $o{example} && !-f "$self->{srcdir}/nginx/$o{example}";
	my $server = $o{server_conf}
	          // $self->_example_server_block($o{example} // $EXAMPLE_FOR_PREFIX{$prefix}, %o)
	          // $self->_generated_server_block($prefix);
	my $nworkers = $o{worker_processes} // 1;
	my $user = $self->{is_root} ? "user nobody nogroup;\n" : '';
	$user = "user $o{user};\n" if $self->{is_root} && $o{user};

	my $last_err = '';
	for my $attempt (1 .. 3) {
		my $port = $o{port} // _free_port();
		(my $srv = $server) =~ s/\@SOCKET\@/$sock/g;
		$srv =~ s/\@LISTEN\@/127.0.0.1:$port/g;
		# more ports: @LISTEN_TLS@ etc., see nginx_port()
		my %ports;
		$srv =~ s{\@LISTEN_(\w+)\@}{'127.0.0.1:' . ($ports{$1} //= _free_port())}ge;
		$srv =~ s/\@LOGDIR\@/$ngx\/logs/g;
		my $conf = <<"EOC";
# written by PgRestTest
${user}daemon off;
master_process on;
worker_processes $nworkers;
pid $ngx/logs/nginx.pid;
error_log $ngx/logs/error.log info;
events { worker_connections 128; }
http {
    access_log $ngx/logs/access.log;
    client_body_temp_path $ngx/tmp/body;
    fastcgi_temp_path     $ngx/tmp/fastcgi;
    proxy_temp_path       $ngx/tmp/proxy;
    scgi_temp_path        $ngx/tmp/scgi;
    uwsgi_temp_path       $ngx/tmp/uwsgi;
    default_type application/octet-stream;

$srv
}
EOC
		_spew("$ngx/nginx.conf", $conf, 0644);
		my $mark = -s "$ngx/logs/error.log" // 0;
		my $pid = fork;
		die "PgRestTest: fork failed: $!\n" unless defined $pid;
		if ($pid == 0) {
			eval {
				chdir $ngx;
				open STDIN, '<', '/dev/null';
				open STDOUT, '>>', "$ngx/logs/stderr.log";
				open STDERR, '>>', "$ngx/logs/stderr.log";
				exec $nginx, '-p', "$ngx/", '-c', "$ngx/nginx.conf", '-e', "$ngx/logs/error.log";
				print STDERR "exec $nginx: $!\n";
			};
			_exit(127);
		}
		$self->{nginx_pid} = $pid;
		my $up = _wait_listening($pid, '127.0.0.1', $port);
		if ($up) {
			$self->{nginx_port} = $port;
			$self->{nginx_ports} = \%ports;
			return $self->{base_url} = "http://127.0.0.1:$port";
		}
		my $errlog = _slurp("$ngx/logs/error.log") // '';
		$errlog = substr($errlog, $mark) if length($errlog) >= $mark;
		$last_err = $errlog . (_slurp("$ngx/logs/stderr.log") // '');
		$self->stop_nginx;
		last unless $last_err =~ /Address already in use/ && !$o{port};
	}
	die "PgRestTest: nginx did not start:\n" . _tail($last_err, 30);
}

sub stop_nginx {
	my ($self) = @_;
	my $pid = delete $self->{nginx_pid};
	return unless $pid;
	_terminate(10, $pid);
	delete $self->{base_url};
}

sub nginx_port {
	my ($self, $name) = @_;
	return $self->{nginx_port} unless defined $name;
	return ($self->{nginx_ports} || {})->{$name};
}

sub nginx_error_log {
	my ($self) = @_;
	return _slurp("$self->{tmp}/ngx/logs/error.log") // '';
}

# ---------------------------------------------------------------------------
# Apache + mod_fcgid

my $APACHE_MODULES = '/usr/lib/apache2/modules';

sub apache_missing {
	my @missing;
	push @missing, 'apache2' unless _which('apache2');
	push @missing, "mod_fcgid ($APACHE_MODULES/mod_fcgid.so, libapache2-mod-fcgid)"
		unless -f "$APACHE_MODULES/mod_fcgid.so";
	return join ', ', @missing;
}

sub apache_dir { "$_[0]{tmp}/apache" }

# replace every $from in $$text by $to; die naming $what when there is none
sub _subst_or_die {
	my ($text, $from, $to, $what) = @_;
	my $n = ($$text =~ s/\Q$from\E/$to/g);
	die "PgRestTest: $what: expected '$from' to substitute\n" unless $n;
	return $n;
}

# the shipped virtual host with only paths, the address and the values of
# directives named in %$set replaced; @LISTEN@ is the address
sub _example_apache_vhost {
	my ($self, $file, $config, $set) = @_;
	my $A = $self->apache_dir;
	my $path = "$self->{srcdir}/apache/$file";
	my $text = _slurp($path) // die "PgRestTest: cannot read $path\n";
	_subst_or_die(\$text, '/usr/lib/cgi-bin', "$A/cgi-bin", "apache/$file");
	_subst_or_die(\$text, '/etc/pg_rest/pg_rest.conf', $config, "apache/$file");
	_subst_or_die(\$text, '<VirtualHost *:80>', '<VirtualHost @LISTEN@>', "apache/$file");
	$text =~ s{/var/www/html}{$A/htdocs}g;
	for my $d (sort keys %{ $set || {} }) {
		my $n = ($text =~ s/^(\s*)\Q$d\E\s+\S.*$/$1$d $set->{$d}/mg);
		die "PgRestTest: apache/$file: no '$d' line to set\n" unless $n == 1;
	}
	return $text;
}

# a shipped .htaccess, with only the path of SetEnv PG_REST_CONFIG replaced
sub _example_htaccess {
	my ($self, $file, $config) = @_;
	my $path = "$self->{srcdir}/apache/$file";
	my $text = _slurp($path) // die "PgRestTest: cannot read $path\n";
	die "PgRestTest: apache/$file: expected the rewrite to pg_rest.fcgi/\$1\n"
		unless $text =~ m{^RewriteRule \^\(\.\*\)\$ pg_rest\.fcgi/\$1 }m;
	if (defined $config) {
		my $n = ($text =~ s/^SetEnv PG_REST_CONFIG \S+$/SetEnv PG_REST_CONFIG $config/mg);
		die "PgRestTest: apache/$file: expected one 'SetEnv PG_REST_CONFIG ...' line\n" unless $n == 1;
	}
	return $text;
}

sub _copy_program {
	my ($self, $to) = @_;
	my $bin = abs_path($self->{bin}) // $self->{bin};
	die "PgRestTest: worker binary $self->{bin} is missing (build it or set PG_REST_BIN)\n"
		unless -x $bin;
	unlink $to;
	copy($bin, $to) or die "PgRestTest: copy $bin to $to: $!\n";
	chmod 0755, $to;
}

sub start_apache {
	my ($self, %o) = @_;
	$self->stop_apache;
	my $apache = _which('apache2') or die "PgRestTest: apache2 not found\n";
	my $A = $self->apache_dir;
	make_path("$A/logs", "$A/run", "$A/cgi-bin", "$A/htdocs");
	chmod 0755, $A, "$A/cgi-bin", "$A/htdocs";
	my $log  = "$self->{tmp}/pg_rest.log";
	my $wlog = "$self->{tmp}/wlog";
	make_path($wlog);
	chmod 01777, $wlog;
	unless (-e $log) { _spew($log, '') }
	chmod 0666, $log;

	my ($vhost, $what);
	if ($o{conf}) {
		$what = "apache/$o{conf}";
		$self->_copy_program("$A/cgi-bin/pg_rest");
		$vhost = $self->_example_apache_vhost($o{conf},
			$o{config} // "$self->{tmp}/pg_rest.conf", $o{set});
	} elsif ($o{htaccess}) {
		$what = "apache/$o{htaccess}";
		my $dir = $o{dir} // 'site';
		die "PgRestTest: bad .htaccess directory '$dir'\n" unless $dir =~ /\A\w+\z/;
		make_path("$A/htdocs/$dir");
		chmod 0755, "$A/htdocs/$dir";
		$self->_copy_program("$A/htdocs/$dir/pg_rest.fcgi");
		_spew("$A/htdocs/$dir/.htaccess", $self->_example_htaccess($o{htaccess}, $o{config}), 0644);
		my $allow = $o{allow_override} // 'All';
		my $extra = $o{host_conf} // '';
		$vhost = <<"EOC";
# the host's virtual host (not shipped): only .htaccess belongs to the site
<VirtualHost \@LISTEN\@>
    ServerName localhost
    DocumentRoot $A/htdocs
    ErrorLog \${APACHE_LOG_DIR}/pg_rest-error.log
    <Directory "$A/htdocs">
        AllowOverride None
        Options FollowSymLinks
        Require all granted
    </Directory>
    <Directory "$A/htdocs/$dir">
        AllowOverride $allow
        Options FollowSymLinks
        Require all granted
    </Directory>
$extra
</VirtualHost>
EOC
	} else {
		die "PgRestTest: start_apache needs conf => FILE or htaccess => FILE\n";
	}

	my ($u, $g) = $self->_worker_user;
	my $user = $u ? "User $u\nGroup $g\n" : '';
	my $asan = $ENV{ASAN_OPTIONS} // "log_path=$wlog/asan:detect_leaks=1";
	my $ubsan = $ENV{UBSAN_OPTIONS} // "log_path=$wlog/ubsan:print_stacktrace=1";
	my $modules = join '', map { "LoadModule ${_}_module $APACHE_MODULES/mod_$_.so\n" }
		qw(mpm_event authz_core mime alias rewrite setenvif env dir fcgid);

	my $last_err = '';
	for my $attempt (1 .. 3) {
		my $port = $o{port} // _free_port();
		(my $site = $vhost) =~ s/\@LISTEN\@/127.0.0.1:$port/g;
		my $conf = <<"EOC";
# written by PgRestTest: the server around $what
ServerRoot $A
PidFile $A/run/httpd.pid
ErrorLog $A/logs/error.log
LogLevel info
Mutex file:$A/run default
DefaultRuntimeDir $A/run
ServerName 127.0.0.1
Define APACHE_LOG_DIR $A/logs
$modules$user
TypesConfig /etc/mime.types
LogFormat "%h %l %u %t \\"%r\\" %>s %O \\"%{Referer}i\\" \\"%{User-Agent}i\\"" combined
CustomLog $A/logs/access.log combined
StartServers 1
ServerLimit 2
ThreadsPerChild 8
MaxRequestWorkers 16
MinSpareThreads 8
MaxSpareThreads 16

FcgidIPCDir $A/run/fcgidsock
FcgidProcessTableFile $A/run/fcgid_shm
FcgidMaxProcesses 16
FcgidIdleScanInterval 1
FcgidErrorScanInterval 1
FcgidZombieScanInterval 1
FcgidSpawnScoreUpLimit 100
# the workers' log and sanitizer reports where the harness looks for them
FcgidInitialEnv PG_REST_LOG $log
FcgidInitialEnv ASAN_OPTIONS $asan
FcgidInitialEnv UBSAN_OPTIONS $ubsan

<Directory />
    AllowOverride None
    Require all denied
</Directory>
<FilesMatch "^\\.ht">
    Require all denied
</FilesMatch>

Listen 127.0.0.1:$port
$site
EOC
		_spew("$A/httpd.conf", $conf, 0644);
		my %env = map { $_ => undef } grep { /^PGRST_/ } keys %ENV;
		%env = (%env, %PG_ENV_CLEAR, PG_REST_CONFIG => undef, PG_REST_LOG => undef);
		my ($st, $out, $err) = $self->_run([ $apache, '-t', '-f', "$A/httpd.conf", '-d', $A ],
			env => \%env, timeout => 30);
		die "PgRestTest: apache2 -t failed on $what:\n$out$err" if $st != 0;

		my %mark = map { $_ => (-s "$A/logs/$_" // 0) } qw(error.log pg_rest-error.log);
		$self->{apache_log_mark} = \%mark;
		unlink "$A/run/httpd.pid";
		my $pid = fork;
		die "PgRestTest: fork failed: $!\n" unless defined $pid;
		if ($pid == 0) {
			eval {
				chdir $A;
				for my $k (keys %env) { delete $ENV{$k} }
				open STDIN, '<', '/dev/null';
				open STDOUT, '>>', "$A/logs/stderr.log";
				open STDERR, '>>', "$A/logs/stderr.log";
				exec $apache, '-DFOREGROUND', '-f', "$A/httpd.conf", '-d', $A;
				print STDERR "exec $apache: $!\n";
			};
			_exit(127);
		}
		$self->{apache_pid} = $pid;
		my $up = _wait_listening($pid, '127.0.0.1', $port);
		if ($up) {
			$self->{apache_port} = $port;
			return $self->{base_url} = "http://127.0.0.1:$port";
		}
		$last_err = $self->apache_error_log . (_slurp("$A/logs/stderr.log") // '');
		$self->stop_apache;
		last unless $last_err =~ /Address already in use/ && !$o{port};
	}
	die "PgRestTest: apache2 did not start:\n" . _tail($last_err, 30);
}

# pids of the FastCGI processes mod_fcgid reported starting since the last
# start_apache that still run our copy of the program (a pid number may
# have been reused by then)
sub _apache_fcgi_pids {
	my ($self) = @_;
	my $A = $self->apache_dir;
	my $m = ($self->{apache_log_mark} || {})->{'error.log'} // 0;
	my $text = _slurp("$A/logs/error.log") // '';
	$text = substr($text, $m) if length($text) >= $m;
	my (%seen, @pids);
	while ($text =~ /mod_fcgid: server [^:\s]*:(\S+)\((\d+)\) started/g) {
		my ($prog, $pid) = ($1, $2);
		next if $seen{$pid}++ || index($prog, "$A/") != 0;
		my $exe = readlink("/proc/$pid/exe") // next;
		push @pids, $pid if $exe eq $prog;
	}
	return @pids;
}

sub stop_apache {
	my ($self) = @_;
	my $pid = delete $self->{apache_pid};
	return unless $pid;
	_terminate(15, $pid);
	# mod_fcgid SIGTERMs its workers on the way out; reap (we are their
	# subreaper) or stop any that outlived it
	_terminate(10, grep { _alive($_) } $self->_apache_fcgi_pids);
	delete $self->{base_url};
	delete $self->{apache_port};
}

sub apache_error_log {
	my ($self) = @_;
	my $A = $self->apache_dir;
	my $mark = $self->{apache_log_mark} || {};
	my $text = '';
	for my $f (qw(error.log pg_rest-error.log)) {
		my $s = _slurp("$A/logs/$f") // next;
		my $m = $mark->{$f} // 0;
		$text .= length($s) >= $m ? substr($s, $m) : $s;
	}
	return $text;
}

# ---------------------------------------------------------------------------
# HTTP

sub _http {
	my ($self) = @_;
	return $self->{http} //= HTTP::Tiny->new(
		agent => $UA, timeout => 30, max_redirect => 0, keep_alive => 1);
}

sub request {
	my ($self, $method, $path, %o) = @_;
	my $url = $path =~ m{\Ahttps?://} ? $path : do {
		die "PgRestTest: start_nginx first\n" unless $self->{base_url};
		$self->{base_url} . ($path =~ m{\A/} ? $path : "/$path");
	};
	die "PgRestTest: refusing to send traffic outside 127.0.0.1: $url\n"
		unless $url =~ m{\Ahttp://127\.0\.0\.1[:/]};
	my %args = (headers => $o{headers} || {});
	$args{content} = $o{body} if defined $o{body};
	my $res = $self->_http->request($method, $url, \%args);
	my $r = {
		status  => $res->{status},
		reason  => $res->{reason},
		headers => $res->{headers} || {},
		content => $res->{content} // '',
		url     => $url,
	};
	$r->{json} = eval { $JSON->decode($r->{content}) } if length $r->{content};
	return $r;
}

sub get {
	my ($self, $path, %o) = @_;
	return $self->request('GET', $path, %o);
}

# ---------------------------------------------------------------------------
# JWT

my %HMAC = (HS256 => \&hmac_sha256, HS384 => \&hmac_sha384, HS512 => \&hmac_sha512);

# A JSON answer: status and the decoded body (is_deeply).  Returns the response.
sub json_ok {
	my ($self, $path, $status, $want, $name, %opt) = @_;
	my $r = $self->request($opt{method} // 'GET', $path, %opt);
	Test::More::is($r->{status}, $status, "$name: status $status") or Test::More::diag($r->{content});
	Test::More::is_deeply($r->{json}, $want, "$name: body") or Test::More::diag($r->{content});
	return $r;
}

# An error answer: status, a JSON body with PostgREST's four keys, the code.
# Returns the response (and, in list context, the decoded body too).
sub error_ok {
	my ($self, $path, $status, $code, $name, %opt) = @_;
	my $r = $self->request($opt{method} // 'GET', $path, %opt);
	my $j = ref $r->{json} eq 'HASH' ? $r->{json} : {};
	Test::More::is($r->{status}, $status, "$name: status $status")
		or Test::More::diag("$path\n$r->{content}");
	Test::More::like($r->{headers}{'content-type'} // '', qr{^application/json},
			 "$name: JSON error body");
	Test::More::is($j->{code}, $code, "$name: code $code") or Test::More::diag($r->{content});
	Test::More::ok(exists $j->{message} && exists $j->{details} && exists $j->{hint},
		       "$name: body has message, details, hint");
	return wantarray ? ($r, $j) : $r;
}

sub jwt {
	my ($self, $claims, $secret, %o) = @_;
	my $alg = $o{alg} // 'HS256';
	die "PgRestTest: unsupported alg $alg\n" unless $HMAC{$alg};
	my $header = $JSON->encode({ alg => $alg, typ => 'JWT' });
	return $self->jwt_raw($header, $JSON->encode($claims), $secret, alg => $alg);
}

sub jwt_raw {
	my ($self, $header_json, $payload_json, $secret, %o) = @_;
	my $alg = $o{alg};
	unless ($alg) {
		my $h = eval { $JSON->decode($header_json) };
		$alg = (ref $h eq 'HASH' && $h->{alg} && $HMAC{ $h->{alg} }) ? $h->{alg} : 'HS256';
	}
	my $input = b64url($header_json) . '.' . b64url($payload_json);
	return "$input." unless defined $secret;
	my $f = $HMAC{$alg} or die "PgRestTest: unsupported alg $alg\n";
	return "$input." . b64url($f->($input, $secret));
}

# ---------------------------------------------------------------------------
# diagnostics and cleanup

sub diag_logs {
	my ($self, $n) = @_;
	$n //= 40;
	my @logs = (
		[ 'worker log (PG_REST_LOG)', "$self->{tmp}/pg_rest.log" ],
		[ 'nginx error log',          "$self->{tmp}/ngx/logs/error.log" ],
		[ 'nginx stderr',             "$self->{tmp}/ngx/logs/stderr.log" ],
		[ 'Apache error log',         "$self->{tmp}/apache/logs/error.log" ],
		[ 'Apache site error log',    "$self->{tmp}/apache/logs/pg_rest-error.log" ],
		[ 'Apache stderr',            "$self->{tmp}/apache/logs/stderr.log" ],
		[ 'postgres log',             $self->{pg_log} ],
	);
	push @logs, map { [ 'sanitizer log', $_ ] } glob("$self->{tmp}/wlog/*");
	for my $l (@logs) {
		next unless $l->[1] && -s $l->[1];
		Test::More::diag("---- $l->[0]: $l->[1] (last $n lines)\n"
			. _tail(_slurp($l->[1]), $n));
	}
}

sub _test_failed {
	my ($exit) = @_;
	return 1 if $exit;
	my $tb = eval { Test::More->builder } or return 0;
	return 1 unless $tb->is_passing;
	my $plan = $tb->has_plan;
	return 1 if defined $plan && $plan =~ /\A\d+\z/ && $plan != $tb->current_test;
	return 0;
}

sub cleanup {
	my ($self, %o) = @_;
	return if $self->{cleaned}++;
	my $failed = $o{signalled} || _test_failed($o{exit} // 0);
	local ($@, $!, $?);
	$self->diag_logs if $failed;
	eval { $self->stop_nginx };
	eval { $self->stop_apache };
	eval { $self->stop_workers };
	eval { $self->$_ } for @{ $self->{stop_also} || [] };
	eval { $self->stop_postgres };
	if ($failed || $ENV{PG_TEST_NOCLEAN}) {
		Test::More::diag("PgRestTest: logs and data kept in $self->{tmp}");
	} else {
		remove_tree($self->{tmp});
	}
}

sub DESTROY { }

# ---------------------------------------------------------------------------
# workers under a wrapper command (valgrind): t/165_valgrind.t

=pod

=head2 Workers under a wrapper

=over

=item C<< $t->start_workers_wrapped(wrapper => [ 'valgrind', '--tool=memcheck', ... ], %opt) >>

C<start_workers> (same options) with every worker exec'ed as
C<WRAPPER... BIN CONF>: spawn-fcgi runs a shell script TMP/bin/pg_rest-wrapped
that C<exec>s the wrapper with the real binary and the worker's arguments,
so the worker pids (pid file, C<worker_pids>) are the wrapper's, which
becomes the worker.  The wrapper's words are shell-quoted; it must be
executable by the workers' user.

=back

=cut

sub start_workers_wrapped {
	my ($self, %o) = @_;
	my @wrap = @{ delete $o{wrapper} || die "PgRestTest: start_workers_wrapped needs wrapper => [...]\n" };
	my $real = $self->_worker_bin;
	make_path("$self->{tmp}/bin");
	chmod 0755, "$self->{tmp}/bin";
	my $script = "$self->{tmp}/bin/pg_rest-wrapped";
	my $q = sub { my $w = shift; $w =~ s/'/'\\''/g; "'$w'" };
	_spew($script, "#!/bin/sh\n# written by PgRestTest::start_workers_wrapped\nexec "
		. join(' ', map { $q->($_) } @wrap, $real) . " \"\$@\"\n", 0755);
	no warnings 'redefine';
	local *PgRestTest::_worker_bin = sub { $script };
	return $self->start_workers(%o);
}

=pod

=over

=item C<PgRestTest::bin_sanitized()>

True when the worker binary (C<PG_REST_BIN>) was built with
AddressSanitizer (C<--enable-sanitizers>): valgrind cannot run it, and its
memory figures are ASan's shadow and quarantine, not the worker's.

=back

=cut

sub bin_sanitized {
	my $bin = _bin_default();
	open my $fh, '<:raw', $bin or return 0;
	local $/ = \(1 << 20);
	while (my $chunk = <$fh>) {
		return 1 if index($chunk, '__asan_init') >= 0 || index($chunk, 'libasan.so') >= 0;
	}
	return 0;
}

# ---------------------------------------------------------------------------
# PgBouncer between the workers and the cluster: t/175_pgbouncer.t

=pod

=head2 PgBouncer

=over

=item C<< $t->start_pgbouncer(pool_mode => 'transaction', pool_size => 2, users => ['authenticator'], conf => '') >>

Starts F<pgbouncer> in the foreground (the test holds its pid; as root it
drops to the workers' user with C<-u>) on a free port of 127.0.0.1, in front
of the cluster of C<start_postgres> (every database, through its unix
socket), C<auth_type = trust> with a userlist of C<users> in F<TMP/pgbouncer>.
C<pool_size> is C<default_pool_size>: the most server connections per
database and user.  C<conf> is extra text for the C<[pgbouncer]> section.
C<listen_addr> (default 127.0.0.1) is where it listens, C<server_host> and
C<server_port> (default: the cluster's socket directory and port) where it
connects, e.g. a standby's.  Returns
C<< { host => LISTEN_ADDR, port => PORT, pid => PID, log => FILE } >>;
stopped by pid at cleanup.  Calling it again restarts it.

=item C<< $t->pgbouncer_uri(user => 'authenticator', db => 'postgres') >>

C<postgresql://user@127.0.0.1:PORT/db>, for C<db-uri>.

=item C<< $t->pgbouncer_log() >>, C<< $t->stop_pgbouncer() >>

=back

=cut

# methods cleanup() calls before stopping the cluster
sub _stop_also {
	my ($self, $method) = @_;
	push @{ $self->{stop_also} }, $method
		unless grep { $_ eq $method } @{ $self->{stop_also} || [] };
}

sub start_pgbouncer {
	my ($self, %o) = @_;
	die "PgRestTest: start_postgres first\n" unless $self->{pg_port};
	$self->stop_pgbouncer;
	my $bouncer = _which('pgbouncer') or die "PgRestTest: pgbouncer not found\n";
	my $dir = "$self->{tmp}/pgbouncer";
	make_path($dir);
	chmod 0755, $dir;
	my @users = @{ $o{users} || ['authenticator'] };
	_spew("$dir/userlist.txt", join('', map { qq{"$_" ""\n} } @users), 0644);
	my $port = $o{port} // _free_port();
	my $addr = $o{listen_addr} // '127.0.0.1';
	my $server_host = $o{server_host} // $self->{pg_host};
	my $server_port = $o{server_port} // $self->{pg_port};
	my $mode = $o{pool_mode} // 'transaction';
	my $size = $o{pool_size} // 2;
	my $ini = <<"EOI";
; written by PgRestTest
[databases]
* = host=$server_host port=$server_port

[pgbouncer]
listen_addr = $addr
listen_port = $port
unix_socket_dir =
auth_type = trust
auth_file = $dir/userlist.txt
pool_mode = $mode
default_pool_size = $size
min_pool_size = 0
reserve_pool_size = 0
max_client_conn = 100
log_connections = 0
log_disconnections = 0
EOI
	$ini .= "$o{conf}\n" if $o{conf};
	_spew("$dir/pgbouncer.ini", $ini, 0644);
	my $log = "$dir/pgbouncer.log";
	my ($u) = $self->_worker_user;
	my $pid = fork;
	die "PgRestTest: fork failed: $!\n" unless defined $pid;
	if ($pid == 0) {
		eval {
			chdir $dir;
			open STDIN, '<', '/dev/null';
			open STDOUT, '>>', $log;
			open STDERR, '>>', $log;
			exec $bouncer, ($u ? ('-u', $u) : ()), "$dir/pgbouncer.ini";
			print STDERR "exec $bouncer: $!\n";
		};
		_exit(127);
	}
	$self->{pgbouncer} = { host => $addr, port => $port, pid => $pid, log => $log };
	$self->_stop_also('stop_pgbouncer');
	return { %{ $self->{pgbouncer} } } if _wait_listening($pid, $addr, $port);
	my $text = _tail(_slurp($log), 30);
	$self->stop_pgbouncer;
	die "PgRestTest: pgbouncer did not start:\n$text";
}

sub pgbouncer_uri {
	my ($self, %o) = @_;
	my $b = $self->{pgbouncer} or die "PgRestTest: start_pgbouncer first\n";
	return 'postgresql://' . _uri_escape($o{user} // 'authenticator') . "\@$b->{host}:$b->{port}/"
	     . _uri_escape($o{db} // 'postgres');
}

sub pgbouncer_log {
	my ($self) = @_;
	return _slurp("$self->{tmp}/pgbouncer/pgbouncer.log") // '';
}

sub stop_pgbouncer {
	my ($self) = @_;
	my $b = delete $self->{pgbouncer} or return;
	_terminate(10, $b->{pid});
}

# ---------------------------------------------------------------------------
# hot standbys of the cluster: t/170_replica.t

=pod

=head2 Standbys

=over

=item C<< $t->start_standby(name => 'standby', conf => '') >>

A streaming hot standby of the cluster of C<start_postgres>:
C<pg_basebackup -R -X stream> into F<TMP/NAME/data>, its own port and socket
directory F<TMP/NAME>, C<hot_standby = on>, started with C<pg_ctl -w>.  As
root everything runs as C<postgres>.  C<conf> is extra text for its
postgresql.conf.  Several standbys may run under different names.  Returns
C<< { name => NAME, host => SOCKDIR, port => PORT, data => DIR } >>;
stopped by pid at cleanup.

=item C<< $t->standby_uri(name => 'standby', user => 'postgres', db => 'postgres') >>

Like C<db_uri>, for the standby.

=item C<< $t->standby_psql($sql, name => 'standby', db => 'postgres') >>

Like C<psql>, on the standby (read-only, except recovery functions such as
C<pg_wal_replay_pause()>).

=item C<< $t->pause_standby(name => 'standby', mode => 'fast') >>, C<< $t->resume_standby(name => 'standby') >>

Stop it keeping its data, and start it again on the same socket and port.

=item C<< $t->wait_standby_caught_up(name => 'standby', timeout => 30) >>

Waits until the standby has replayed everything the primary had written
when it was called; dies after C<timeout> seconds.

=item C<< $t->standby_log(name => 'standby') >>

=back

=cut

sub _standby {
	my ($self, $name) = @_;
	$name //= 'standby';
	return ($self->{standbys} || {})->{$name} || die "PgRestTest: no standby '$name'\n";
}

sub start_standby {
	my ($self, %o) = @_;
	die "PgRestTest: start_postgres first\n" unless $self->{pg_data};
	my $name = $o{name} // 'standby';
	die "PgRestTest: bad standby name '$name'\n" unless $name =~ /\A\w+\z/ && $name ne 'pg';
	die "PgRestTest: standby '$name' exists\n" if ($self->{standbys} || {})->{$name};
	my $dir = "$self->{tmp}/$name";
	make_path($dir);
	if ($self->{is_root}) {
		my ($uid, $gid) = (getpwnam('postgres'))[2, 3];
		chown $uid, $gid, $dir;
	}
	chmod 0755, $dir;
	my $data = "$dir/data";
	my $bindir = $self->{pg_bindir};
	my ($st, $out, $err) = $self->_run(
		[ "$bindir/pg_basebackup", '-D', $data, '-R', '-X', 'stream', '-c', 'fast', '--no-sync',
		  '-h', $self->{pg_host}, '-p', $self->{pg_port}, '-U', 'postgres' ],
		user => 'postgres', dir => $dir, timeout => 120, env => { %PG_ENV_CLEAR, LC_ALL => 'C' });
	die "PgRestTest: pg_basebackup failed:\n$out$err" if $st != 0;
	my $port = _free_port();
	my $conf = <<"EOC";

# --- PgRestTest standby $name ---
unix_socket_directories = '$dir'
port = $port
hot_standby = on
EOC
	$conf .= "$o{conf}\n" if $o{conf};
	open my $fh, '>>', "$data/postgresql.conf" or die "PgRestTest: $data/postgresql.conf: $!\n";
	print $fh $conf;
	close $fh;
	my $sb = { name => $name, host => $dir, port => $port, data => $data,
		   log => "$dir/postgres.log", dir => $dir };
	$self->{standbys}{$name} = $sb;
	$self->_stop_also('_stop_standbys');
	$self->_start_standby_server($sb);
	return { map { $_ => $sb->{$_} } qw(name host port data) };
}

sub _start_standby_server {
	my ($self, $sb) = @_;
	my ($st, $out, $err) = $self->_run(
		[ "$self->{pg_bindir}/pg_ctl", '-D', $sb->{data}, '-l', $sb->{log}, '-w', '-t', '60', 'start' ],
		user => 'postgres', dir => $sb->{dir}, timeout => 90);
	if ($st != 0) {
		my $l = _tail(_slurp($sb->{log}), 30);
		die "PgRestTest: pg_ctl start of standby $sb->{name} failed:\n$out$err$l";
	}
	my $pm = _slurp("$sb->{data}/postmaster.pid") // '';
	($sb->{pid}) = $pm =~ /\A(\d+)/;
	delete $sb->{paused};
}

sub standby_uri {
	my ($self, %o) = @_;
	my $sb = $self->_standby(delete $o{name});
	local $self->{pg_host} = $sb->{host};
	local $self->{pg_port} = $sb->{port};
	return $self->db_uri(%o);
}

sub standby_psql {
	my ($self, $sql, %o) = @_;
	my $sb = $self->_standby(delete $o{name});
	local $self->{pg_host} = $sb->{host};
	local $self->{pg_port} = $sb->{port};
	return $self->psql($sql, %o);
}

sub standby_log {
	my ($self, %o) = @_;
	return _slurp($self->_standby($o{name})->{log}) // '';
}

sub pause_standby {
	my ($self, %o) = @_;
	my $sb = $self->_standby($o{name});
	die "PgRestTest: standby $sb->{name} not running\n" if $sb->{paused};
	my ($st, $out, $err) = $self->_run(
		[ "$self->{pg_bindir}/pg_ctl", '-D', $sb->{data}, '-m', $o{mode} // 'fast',
		  '-w', '-t', '30', 'stop' ],
		user => 'postgres', dir => $sb->{dir}, timeout => 45);
	die "PgRestTest: pg_ctl stop of standby $sb->{name} failed:\n$out$err" if $st != 0;
	for (1 .. 100) {
		last unless $sb->{pid} && _alive($sb->{pid});
		sleep 0.05;
	}
	$sb->{paused} = 1;
	return $self;
}

sub resume_standby {
	my ($self, %o) = @_;
	my $sb = $self->_standby($o{name});
	die "PgRestTest: standby $sb->{name} not paused\n" unless $sb->{paused};
	$self->_start_standby_server($sb);
	return $self;
}

sub wait_standby_caught_up {
	my ($self, %o) = @_;
	my $sb = $self->_standby($o{name});
	chomp(my $lsn = $self->psql('SELECT pg_current_wal_lsn()'));
	my $deadline = time + ($o{timeout} // 30);
	while (time < $deadline) {
		my $r = eval {
			$self->standby_psql("SELECT pg_last_wal_replay_lsn() >= '$lsn'::pg_lsn",
					    name => $sb->{name})
		} // '';
		return 1 if $r =~ /^t/;
		sleep 0.1;
	}
	die "PgRestTest: standby $sb->{name} did not replay up to $lsn\n";
}

sub _stop_standbys {
	my ($self) = @_;
	for my $sb (values %{ delete $self->{standbys} || {} }) {
		if (!$sb->{paused} && -f "$sb->{data}/postmaster.pid") {
			eval {
				$self->_run([ "$self->{pg_bindir}/pg_ctl", '-D', $sb->{data}, '-m', 'immediate',
					      '-w', '-t', '30', 'stop' ],
					    user => 'postgres', dir => $sb->{dir}, timeout => 45);
			};
		}
		_terminate(5, $sb->{pid}) if $sb->{pid} && _alive($sb->{pid});
	}
}


1;
