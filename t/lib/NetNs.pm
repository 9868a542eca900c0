package NetNs;

=pod

=head1 NAME

NetNs - "hosts" made of Linux network namespaces, for scale-out tests and
benchmarks (root only, core Perl only)

=head1 SYNOPSIS

    use PgRestTest;
    use NetNs;

    my $why = NetNs::missing();               # '' when namespaces can be made
    plan skip_all => "no network namespaces: $why" if $why;

    my $t = PgRestTest->new();
    my $net = NetNs->new(t => $t, hosts => 3);
    $t->start_postgres(conf => "listen_addresses = '" . $net->gateway . "'");
    $net->allow_in_pg_hba;                    # host all all SUBNET trust, reload
    my $db = $net->pg_uri(user => 'authenticator', db => 'postgres');
    $net->start_workers($_, config => { 'db-uri' => $db, ... }, workers => 3)
        for $net->hosts;
    my @backends = map { $net->backend($_) } $net->hosts;   # 10.x.y.11:9000, ...

=head1 DESCRIPTION

One bridge in the root namespace carries the first address of a private
/24 (10.213.N.1, N chosen so that no interface of the machine uses the
subnet yet); each host is a network namespace with one end of a veth pair
(10.213.N.11, .12, ...), the other end a port of the bridge.  Processes in
the root namespace (nginx, PostgreSQL, PgBouncer) reach the hosts and are
reached by them over that bridge only: a worker in a namespace cannot use
127.0.0.1 of the root namespace.  (Unix sockets are not separated by
network namespaces: the workers are only ever given TCP addresses.)

Names carry the test's pid (namespace C<pgr-PID-hN>, links C<pgPIDbr>,
C<pgPIDhN>), so parallel runs do not meet.  Everything is removed in
C<cleanup>, which runs from an C<END> block and from the signal handlers of
L<PgRestTest> (before them: processes still running inside a namespace are
stopped by pid, then the namespaces, the veth pairs and the bridge are
deleted), whether the test passed or not.

=head2 Functions and methods

=over

=item C<NetNs::missing()>

Why namespaces cannot be made here (not root, no C<ip>, C<ip netns add>
or a bridge or veth refused), or the empty string.  Makes and deletes a
probe namespace.

=item C<< NetNs->new(t => $t, hosts => N) >>

=item C<< $net->hosts >>, C<< $net->addr($h) >>, C<< $net->ns($h) >>, C<< $net->gateway >>, C<< $net->subnet >>

Host numbers (1..N), a host's address, its namespace name, the bridge's
address, the subnet in CIDR form.

=item C<< $net->run($h, \@cmd, %o) >>

C<< $t->_run >> of C<ip netns exec NS @cmd>.

=item C<< $net->allow_in_pg_hba(method => 'trust') >>

Appends C<host all all SUBNET METHOD> to the cluster's F<pg_hba.conf> and
reloads it.

=item C<< $net->pg_uri(user => U, db => D, host => ADDR, port => P, password => PW) >>

A TCP connection URI to ADDR:P (default: the gateway and the cluster's
port) for the workers in the namespaces.

=item C<< $net->start_workers($h, config => \%kv, workers => N, port => 9000, env => \%env) >>

Writes F<TMP/pg_rest-hN.conf> and runs C<ip netns exec NS spawn-fcgi -a
ADDR -p PORT -F N -P TMP/workers-hN.pid -u nobody -g nogroup -- BIN CONF>
with C<FCGI_WEB_SERVER_ADDRS> set to the gateway (only nginx's side of the
bridge may connect), C<PG_REST_LOG=TMP/pg_rest-hN.log>; waits until the
port accepts from the root namespace.  Returns C<ADDR:PORT>.

=item C<< $net->backend($h) >>, C<< $net->worker_pids($h) >>

=item C<< $net->stop_workers($h) >>, C<< $net->kill_workers($h) >>

SIGTERM (bounded wait, then SIGKILL) or SIGKILL at once: a crashed host.

=item C<< $net->set_link($h, 'down'|'up') >>

The host's side of its veth pair: a host cut off without closing anything.

=item C<< $net->established_peers($h, $port) >>

The peers (C<ADDR:PORT>, sorted) of the established TCP connections to the
host's port, seen inside its namespace (C<ss>): the same list after more
requests means they went over the same kept connections.

=item C<< $net->cleanup >>

=back

=cut

use strict;
use warnings;
no warnings qw(exec);    # exec is followed by _exit on purpose

use File::Path qw(make_path);
use IO::Socket::INET;
use POSIX qw(_exit);
use Time::HiRes qw(sleep time);
use PgRestTest ();

our @NETS;

# what PgRestTest's start_workers removes from the workers' environment too
my @PG_ENV = qw(PGHOST PGPORT PGUSER PGPASSWORD PGDATABASE PGSERVICE PGSERVICEFILE
	PGOPTIONS PGSSLMODE PGPASSFILE PGHOSTADDR);

sub _ip_bin { PgRestTest::_which('ip') }

# run quietly, bounded; returns the exit status
sub _sys {
	my (@cmd) = @_;
	my $pid = fork;
	return -1 unless defined $pid;
	if ($pid == 0) {
		open STDIN, '<', '/dev/null';
		open STDOUT, '>', '/dev/null';
		open STDERR, '>', '/dev/null';
		exec { $cmd[0] } @cmd;
		_exit(127);
	}
	my $deadline = time + 30;
	for (1 .. 10_000) {
		my $r = waitpid($pid, POSIX::WNOHANG());
		return $? if $r == $pid;
		last if time > $deadline;
		sleep 0.01;
	}
	kill 'KILL', $pid;
	waitpid($pid, 0);
	return -1;
}

sub missing {
	return 'not running as root (network namespaces need CAP_NET_ADMIN)' if $> != 0;
	my $ip = _ip_bin() or return 'no ip command (Debian package iproute2)';
	return 'no ss command (iproute2)' unless PgRestTest::_which('ss');
	my $ns = "pgr-probe-$$";
	my $v = "pgp${$}a";
	return "'ip netns add' fails here" if _sys($ip, 'netns', 'add', $ns) != 0;
	my $why = '';
	if (_sys($ip, 'link', 'add', $v, 'type', 'veth', 'peer', 'name', "pgp${$}b", 'netns', $ns) != 0) {
		$why = "'ip link add ... type veth' fails here";
	} elsif (_sys($ip, 'link', 'add', "pgp${$}br", 'type', 'bridge') != 0) {
		$why = "'ip link add ... type bridge' fails here";
	}
	_sys($ip, 'link', 'del', "pgp${$}br");
	_sys($ip, 'link', 'del', $v);
	_sys($ip, 'netns', 'del', $ns);
	return $why;
}

sub _used_subnets {
	my %used;
	my $out = `ip -o -4 addr show 2>/dev/null` // '';
	$used{$1} = 1 while $out =~ /inet 10\.213\.(\d+)\./g;
	return \%used;
}

sub new {
	my ($class, %o) = @_;
	my $t = $o{t} or die "NetNs: t => PgRestTest object needed\n";
	my $n = $o{hosts} // 2;
	die "NetNs: 1..8 hosts\n" unless $n >= 1 && $n <= 8;
	my $ip = _ip_bin() or die "NetNs: no ip command\n";
	my $used = _used_subnets();
	my ($sub) = grep { !$used->{$_} } map { (($$ + $_) % 250) + 1 } 0 .. 249;
	die "NetNs: no free 10.213.N.0/24 subnet\n" unless defined $sub;
	my $self = bless {
		t => $t, ip => $ip, owner_pid => $$, net => "10.213.$sub",
		bridge => "pg${$}br", hosts => {}, cleaned => 0,
	}, $class;
	push @NETS, $self;
	_install_handlers();

	my $br = $self->{bridge};
	$self->_ip_ok('link', 'add', $br, 'type', 'bridge');
	$self->{made_bridge} = 1;
	$self->_ip_ok('addr', 'add', "$self->{net}.1/24", 'dev', $br);
	$self->_ip_ok('link', 'set', $br, 'up');
	for my $h (1 .. $n) {
		my $ns = "pgr-$$-h$h";
		my ($vr, $vn) = ("pg${$}h$h", "pg${$}n$h");
		$self->_ip_ok('netns', 'add', $ns);
		$self->{hosts}{$h} = { ns => $ns, vr => $vr, vn => $vn, addr => "$self->{net}." . (10 + $h) };
		$self->_ip_ok('link', 'add', $vr, 'type', 'veth', 'peer', 'name', $vn, 'netns', $ns);
		$self->_ip_ok('link', 'set', $vr, 'master', $br);
		$self->_ip_ok('link', 'set', $vr, 'up');
		$self->_ip_ok('-n', $ns, 'addr', 'add', "$self->{hosts}{$h}{addr}/24", 'dev', $vn);
		$self->_ip_ok('-n', $ns, 'link', 'set', $vn, 'up');
		$self->_ip_ok('-n', $ns, 'link', 'set', 'lo', 'up');
	}
	return $self;
}

sub _ip_ok {
	my ($self, @args) = @_;
	my ($st, $out, $err) = $self->{t}->_run([ $self->{ip}, @args ], timeout => 30);
	die "NetNs: ip @args failed: $err\n" if $st != 0;
	return $out;
}

sub hosts   { my ($self) = @_; return sort { $a <=> $b } keys %{ $self->{hosts} } }
sub addr    { $_[0]{hosts}{ $_[1] }{addr} }
sub ns      { $_[0]{hosts}{ $_[1] }{ns} }
sub gateway { "$_[0]{net}.1" }
sub subnet  { "$_[0]{net}.0/24" }

sub run {
	my ($self, $h, $cmd, %o) = @_;
	return $self->{t}->_run([ $self->{ip}, 'netns', 'exec', $self->ns($h), @$cmd ], %o);
}

sub allow_in_pg_hba {
	my ($self, %o) = @_;
	my $t = $self->{t};
	my $data = $t->{pg_data} or die "NetNs: start_postgres first\n";
	open my $fh, '>>', "$data/pg_hba.conf" or die "NetNs: $data/pg_hba.conf: $!\n";
	printf $fh "host all all %s %s\n", $self->subnet, $o{method} // 'trust';
	close $fh;
	$t->psql('select pg_reload_conf()');
	sleep 0.2;
}

sub pg_uri {
	my ($self, %o) = @_;
	my $t = $self->{t};
	my $auth = PgRestTest::_uri_escape($o{user} // 'postgres');
	$auth .= ':' . PgRestTest::_uri_escape($o{password}) if defined $o{password};
	my $host = $o{host} // $self->gateway;
	my $port = $o{port} // $t->pg_port;
	my $uri = "postgresql://$auth\@$host:$port/" . PgRestTest::_uri_escape($o{db} // 'postgres');
	$uri .= "?$o{query}" if defined $o{query};
	return $uri;
}

sub start_workers {
	my ($self, $h, %o) = @_;
	my $t = $self->{t};
	my $host = $self->{hosts}{$h} or die "NetNs: no host $h\n";
	$self->stop_workers($h);
	my $tmp  = $t->tmpdir;
	my $port = $o{port} // 9000;
	my $conf = $t->write_config($o{config} // {}, "$tmp/pg_rest-h$h.conf");
	my $pidf = "$tmp/workers-h$h.pid";
	my $log  = "$tmp/pg_rest-h$h.log";
	unlink $pidf;
	unless (-e $log) { PgRestTest::_spew($log, '') }
	chmod 0666, $log;
	my $wlog = "$tmp/wlog";
	make_path($wlog);
	chmod 01777, $wlog;
	my $spawn = PgRestTest::_which('spawn-fcgi') or die "NetNs: spawn-fcgi not found\n";
	my @cmd = ($spawn, '-a', $host->{addr}, '-p', $port, '-F', $o{workers} // 2, '-P', $pidf);
	my ($u, $g) = $t->_worker_user;
	push @cmd, '-u', $u, '-g', $g if $u;
	push @cmd, '--', $t->_worker_bin, $conf;
	my %env = map { $_ => undef } @PG_ENV, 'PG_REST_CONFIG', grep { /^PGRST_/ } keys %ENV;
	%env = (%env,
		PG_REST_LOG => $log,
		FCGI_WEB_SERVER_ADDRS => $self->gateway,
		ASAN_OPTIONS => $ENV{ASAN_OPTIONS} // "log_path=$wlog/asan:detect_leaks=1",
		UBSAN_OPTIONS => $ENV{UBSAN_OPTIONS} // "log_path=$wlog/ubsan:print_stacktrace=1",
		%{ $o{env} || {} });
	my ($st, $out, $err) = $self->run($h, \@cmd, env => \%env, timeout => 30);
	my @pids = grep { /\A\d+\z/ } split /\s+/, PgRestTest::_slurp($pidf) // '';
	$host->{pids} = \@pids;
	$host->{port} = $port;
	die "NetNs: spawn-fcgi on host $h failed (exit " . ($st >> 8) . "): $out$err\n"
		. PgRestTest::_tail(PgRestTest::_slurp($log), 20)
		if $st != 0 || !@pids;
	my $up = 0;
	my $deadline = time + 10;
	for (1 .. 500) {
		last if time > $deadline;
		last unless grep { PgRestTest::_alive($_) } @pids;
		my $c = IO::Socket::INET->new(PeerAddr => $host->{addr}, PeerPort => $port,
					      Proto => 'tcp', Timeout => 1);
		if ($c) { close $c; $up = 1; last }
		sleep 0.02;
	}
	sleep 0.2;
	die "NetNs: workers on host $h did not come up:\n"
		. PgRestTest::_tail(PgRestTest::_slurp($log), 20)
		unless $up && grep { PgRestTest::_alive($_) } @pids;
	return "$host->{addr}:$port";
}

sub backend {
	my ($self, $h) = @_;
	my $host = $self->{hosts}{$h};
	return "$host->{addr}:" . ($host->{port} // 9000);
}

sub worker_pids { @{ $_[0]{hosts}{ $_[1] }{pids} || [] } }

sub stop_workers {
	my ($self, $h) = @_;
	my $host = $self->{hosts}{$h} or return;
	my @pids = @{ delete $host->{pids} || [] };
	PgRestTest::_terminate(10, @pids) if @pids;
}

sub kill_workers {
	my ($self, $h) = @_;
	my $host = $self->{hosts}{$h} or return;
	my @pids = @{ delete $host->{pids} || [] };
	kill 'KILL', @pids if @pids;
	for (1 .. 250) {
		last unless grep { PgRestTest::_alive($_) } @pids;
		sleep 0.02;
	}
}

sub set_link {
	my ($self, $h, $state) = @_;
	die "NetNs: link up or down\n" unless ($state // '') =~ /\A(?:up|down)\z/;
	my $host = $self->{hosts}{$h};
	$self->_ip_ok('-n', $host->{ns}, 'link', 'set', $host->{vn}, $state);
}

sub established_peers {
	my ($self, $h, $port) = @_;
	$port //= $self->{hosts}{$h}{port} // 9000;
	my ($st, $out, $err) = $self->run($h, [ 'ss', '-Htn', 'state', 'established', "( sport = :$port )" ],
					  timeout => 20);
	die "NetNs: ss in host $h failed: $err\n" if $st != 0;
	# Recv-Q Send-Q Local:Port Peer:Port
	return [ sort map { (split ' ')[3] } grep { /\S/ } split /\n/, $out ];
}

# ---------------------------------------------------------------------------
# cleanup: before PgRestTest's (this END block runs first: it was compiled
# later), and from the same signals

sub cleanup {
	my ($self) = @_;
	return if $self->{cleaned}++;
	local ($@, $!, $?);
	my $ip = $self->{ip};
	for my $h ($self->hosts) {
		my $host = $self->{hosts}{$h};
		# what the test started in the namespace and has not stopped yet
		my @pids = grep { /\A\d+\z/ } split /\s+/, (`$ip netns pids $host->{ns} 2>/dev/null` // '');
		push @pids, @{ $host->{pids} || [] };
		PgRestTest::_terminate(5, @pids) if @pids;
		_sys($ip, 'netns', 'del', $host->{ns});
		_sys($ip, 'link', 'del', $host->{vr});
	}
	_sys($ip, 'link', 'del', $self->{bridge}) if $self->{made_bridge};
	# namespaces go away asynchronously, their veth ends with them
	for (1 .. 100) {
		my $left = grep { _sys($ip, 'link', 'show', $self->{hosts}{$_}{vr}) == 0 } $self->hosts;
		last unless $left;
		sleep 0.05;
	}
}

sub leftovers {
	my ($self) = @_;
	my $ip = $self->{ip};
	my @left;
	my $ns = `$ip netns list 2>/dev/null` // '';
	push @left, "namespace $1" while $ns =~ /^(pgr-$$-h\d+)/mg;
	for my $link ($self->{bridge}, map { $self->{hosts}{$_}{vr} } $self->hosts) {
		push @left, "link $link" if _sys($ip, 'link', 'show', $link) == 0;
	}
	return @left;
}

my $handlers = 0;
sub _install_handlers {
	return if $handlers++;
	for my $sig (qw(HUP INT TERM)) {
		my $prev = $SIG{$sig};
		$SIG{$sig} = sub {
			$_->cleanup for grep { $_->{owner_pid} == $$ } reverse @NETS;
			$prev->(@_) if ref $prev eq 'CODE';
			_exit(1);
		};
	}
}

END {
	my $status = $?;
	$_->cleanup for grep { $_->{owner_pid} == $$ } reverse @NETS;
	$? = $status;
}

1;
