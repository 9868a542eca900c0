#!/bin/sh
# sql/demo.sh — run deployment 3.3 (public cloud, RLS) on this machine.
#
#     sh sql/demo.sh          install what is missing (as root, Debian 12),
#                             build if needed, start everything, print a
#                             curl command with a freshly signed token
#     sh sql/demo.sh stop     stop nginx, the workers and PostgreSQL
#
# Everything lives in /tmp/pg_rest-demo (PG_REST_DEMO_DIR): a throwaway
# PostgreSQL cluster on a unix socket only, sql/deploy-cloud.sql loaded into
# its database "demobase", two pg_rest workers under spawn-fcgi, and a
# private nginx on 127.0.0.1:8080 (PG_REST_DEMO_PORT) using the server block
# of nginx/pg_rest.conf.  System services are not touched.
set -eu

REPO=$(cd "$(dirname "$0")/.." && pwd)
D=${PG_REST_DEMO_DIR:-/tmp/pg_rest-demo}
HTTP_PORT=${PG_REST_DEMO_PORT:-8080}
PG_PORT=54329
DB=demobase
IS_ROOT=no
[ "$(id -u)" -eq 0 ] && IS_ROOT=yes

PACKAGES="build-essential autoconf automake libtool pkg-config libfcgi-dev
libpq-dev libjson-c-dev libjwt-dev libssl-dev libconfig-dev spawn-fcgi
nginx-light postgresql curl openssl"

say() { printf '>>> %s\n' "$*"; }
die() { printf 'demo.sh: %s\n' "$*" >&2; exit 1; }

as_pg() {
	if [ "$IS_ROOT" = yes ]; then
		(cd "$D/pg" && runuser -u postgres -- "$@")
	else
		(cd "$D/pg" && "$@")
	fi
}

pg_bindir() {
	for d in /usr/lib/postgresql/*/bin; do
		[ -x "$d/initdb" ] && echo "$d"
	done | sort -V | tail -n 1
}

alive() { kill -0 "$1" 2>/dev/null; }

# wait (bounded) until none of the pids is left
wait_gone() {
	i=0
	while [ $i -lt 100 ]; do
		left=
		for p in "$@"; do alive "$p" && left="$left $p"; done
		[ -z "$left" ] && return 0
		sleep 0.1
		i=$((i + 1))
	done
	for p in $left; do kill -KILL "$p" 2>/dev/null || true; done
}

stop_all() {
	if [ -f "$D/nginx/nginx.pid" ]; then
		pid=$(cat "$D/nginx/nginx.pid")
		if alive "$pid"; then
			kill -QUIT "$pid" 2>/dev/null || true
			wait_gone "$pid"
			say "nginx stopped"
		fi
		rm -f "$D/nginx/nginx.pid"
	fi
	if [ -f "$D/workers.pid" ]; then
		# spawn-fcgi writes one pid per line without a final newline
		pids=$(tr '\n' ' ' < "$D/workers.pid")
		for p in $pids; do kill -TERM "$p" 2>/dev/null || true; done
		# shellcheck disable=SC2086
		wait_gone $pids
		rm -f "$D/workers.pid" "$D/pg_rest.sock"
		say "workers stopped"
	fi
	if [ -f "$D/pg/data/postmaster.pid" ]; then
		as_pg "$(pg_bindir)/pg_ctl" -D "$D/pg/data" -m fast -w -t 30 stop >/dev/null 2>&1 || true
		say "PostgreSQL stopped"
	fi
}

case "${1:-start}" in
stop)
	[ -d "$D" ] || { say "nothing to stop ($D does not exist)"; exit 0; }
	stop_all
	say "logs are kept in $D; remove it with: rm -rf $D"
	exit 0
	;;
start) ;;
*)
	echo "usage: sh sql/demo.sh [start|stop]" >&2
	exit 2
	;;
esac

# ------------------------------------------------------------- dependencies
missing=
for p in $PACKAGES; do
	case "$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)" in
	*" installed") ;;
	*) missing="$missing $p" ;;
	esac
done
if [ -n "$missing" ]; then
	[ "$IS_ROOT" = yes ] || die "missing packages:$missing (install them as root)"
	say "installing:$missing"
	created_policy=no
	if [ ! -e /usr/sbin/policy-rc.d ]; then
		# do not start the packages' own nginx/PostgreSQL services
		printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d
		chmod 0755 /usr/sbin/policy-rc.d
		created_policy=yes
	fi
	rc=0
	# shellcheck disable=SC2086
	{ DEBIAN_FRONTEND=noninteractive apt-get update -q &&
	  DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends $missing; } || rc=$?
	[ "$created_policy" = yes ] && rm -f /usr/sbin/policy-rc.d
	[ $rc -eq 0 ] || die "apt-get failed"
fi

# ------------------------------------------------------------- build
if [ ! -x "$REPO/src/pg_rest" ]; then
	say "building pg_rest"
	(cd "$REPO" && ./autogen.sh && ./configure && make -j2)
fi

PGBIN=$(pg_bindir)
[ -n "$PGBIN" ] || die "PostgreSQL server binaries not found under /usr/lib/postgresql"

# ------------------------------------------------------------- start
if [ -d "$D" ]; then
	say "stopping the previous demo in $D"
	stop_all
	rm -rf "$D"
fi
mkdir -p "$D/pg" "$D/bin" "$D/nginx/tmp"
chmod 0755 "$D" "$D/bin"
[ "$IS_ROOT" = yes ] && chown postgres:postgres "$D/pg"
chmod 0755 "$D/pg"

started=no
cleanup_on_failure() {
	[ "$started" = yes ] && return 0
	echo "demo.sh: start-up failed; logs:" >&2
	for f in "$D/pg/postgres.log" "$D/pg_rest.log" "$D/nginx/error.log"; do
		[ -s "$f" ] && { echo "---- $f" >&2; tail -n 20 "$f" >&2; }
	done
	stop_all >/dev/null 2>&1 || true
}
trap cleanup_on_failure EXIT

say "PostgreSQL cluster in $D/pg (unix socket only, port $PG_PORT)"
as_pg "$PGBIN/initdb" -D "$D/pg/data" -U postgres -A trust -E UTF8 --no-locale --no-sync >/dev/null
cat >> "$D/pg/data/postgresql.conf" <<EOF
listen_addresses = ''
unix_socket_directories = '$D/pg'
port = $PG_PORT
fsync = off
timezone = 'UTC'
EOF
as_pg "$PGBIN/pg_ctl" -D "$D/pg/data" -l "$D/pg/postgres.log" -w -t 60 start >/dev/null

PSQL="psql -X -q -v ON_ERROR_STOP=1 -h $D/pg -p $PG_PORT -U postgres"
$PSQL -d postgres -c "CREATE DATABASE $DB"
$PSQL -d "$DB" -f "$REPO/sql/deploy-cloud.sql" 2>/dev/null
say "loaded sql/deploy-cloud.sql into $DB"

# configuration: the shipped example with db-uri pointed at this cluster
sed "s|^db-uri *=.*|db-uri = \"postgresql://dbauth:mysecret@/$DB?host=$D/pg\\&port=$PG_PORT\"|" \
	"$REPO/sql/deploy-cloud.conf" > "$D/pg_rest.conf"
chmod 0644 "$D/pg_rest.conf"
SECRET=$(sed -n 's/^jwt-secret *= *"\(.*\)".*/\1/p' "$D/pg_rest.conf")
[ -n "$SECRET" ] || die "no jwt-secret in sql/deploy-cloud.conf"

# workers (a copy of the binary, so an unprivileged user can run it)
cp "$REPO/src/pg_rest" "$D/bin/pg_rest"
chmod 0755 "$D/bin/pg_rest"
: > "$D/pg_rest.log"
chmod 0666 "$D/pg_rest.log"
set -- -s "$D/pg_rest.sock" -M 0666 -F 2 -P "$D/workers.pid"
[ "$IS_ROOT" = yes ] && set -- "$@" -u nobody -g nogroup
PG_REST_LOG="$D/pg_rest.log" spawn-fcgi "$@" -- "$D/bin/pg_rest" "$D/pg_rest.conf" >/dev/null
say "2 workers on $D/pg_rest.sock (log: $D/pg_rest.log)"

# nginx: nginx/pg_rest.conf with this socket and port
NGX_USER=
[ "$IS_ROOT" = yes ] && NGX_USER="user nobody nogroup;"
{
	cat <<EOF
$NGX_USER
pid $D/nginx/nginx.pid;
error_log $D/nginx/error.log;
worker_processes 1;
events { worker_connections 256; }
http {
    access_log $D/nginx/access.log;
    client_body_temp_path $D/nginx/tmp/body;
    fastcgi_temp_path $D/nginx/tmp/fastcgi;
    proxy_temp_path $D/nginx/tmp/proxy;
    scgi_temp_path $D/nginx/tmp/scgi;
    uwsgi_temp_path $D/nginx/tmp/uwsgi;
EOF
	sed -e "s|unix:/run/pg_rest/pg_rest.sock|unix:$D/pg_rest.sock|" \
	    -e "s|listen 127.0.0.1:8080;|listen 127.0.0.1:$HTTP_PORT;|" \
	    "$REPO/nginx/pg_rest.conf"
	echo "}"
} > "$D/nginx/nginx.conf"
nginx -p "$D/nginx/" -c "$D/nginx/nginx.conf" -e "$D/nginx/error.log"

i=0
until curl -s -o /dev/null "http://127.0.0.1:$HTTP_PORT/"; do
	i=$((i + 1))
	[ $i -lt 50 ] || die "nginx does not answer on 127.0.0.1:$HTTP_PORT"
	sleep 0.1
done
say "nginx on http://127.0.0.1:$HTTP_PORT/ (log: $D/nginx/error.log)"

# ------------------------------------------------------------- a token
b64url() { openssl base64 -A | tr '+/' '-_' | tr -d '='; }
sign() {
	h=$(printf '%s' '{"alg":"HS256","typ":"JWT"}' | b64url)
	p=$(printf '%s' "$1" | b64url)
	s=$(printf '%s' "$h.$p" | openssl dgst -sha256 -hmac "$SECRET" -binary | b64url)
	printf '%s.%s.%s' "$h" "$p" "$s"
}
EXP=$(($(date +%s) + 86400))
TOKEN=$(sign "{\"role\":\"webuser\",\"user\":\"alice\",\"exp\":$EXP}")

started=yes
echo
echo "Ready.  Items belonging to user \"alice\" (row level security hides the rest):"
echo
echo "  curl -H \"Authorization: Bearer $TOKEN\" http://127.0.0.1:$HTTP_PORT/items"
echo
printf '  -> '
curl -s -H "Authorization: Bearer $TOKEN" "http://127.0.0.1:$HTTP_PORT/items" || true
echo
echo
echo "Without a token the answer is 401:  curl -i http://127.0.0.1:$HTTP_PORT/items"
echo "The token is valid for 24 hours (user alice, role webuser); bob and carol own other rows."
echo "Stop everything with:  sh sql/demo.sh stop"
