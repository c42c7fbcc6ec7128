#!/usr/bin/env bash
# devstack.sh: the local development stack (PostgreSQL, Redis and a
# Kafka-protocol dev broker), all bound to 127.0.0.1 and kept under .dev/.
#
#   scripts/devstack.sh up       start what is not running (idempotent)
#   scripts/devstack.sh down     stop what `up` started, by PID (idempotent)
#   scripts/devstack.sh env      print `export` lines; use: eval "$(scripts/devstack.sh env)"
#   scripts/devstack.sh status   show what is running
#
# Services that are already provided are left alone: with CYCLEHUB_POSTGRES_URL,
# CYCLEHUB_REDIS_URL or CYCLEHUB_KAFKA_BROKERS set, `up` does not start the
# corresponding local service and `env` passes the given value through.
#
# Tunables (environment):
#   DEVSTACK_PG_PORT (15432), DEVSTACK_REDIS_PORT (16379), DEVSTACK_KAFKA_PORT (19092)
#   DEVKAFKA_SEED_TOPICS   comma-separated topics the dev broker creates at start
#   DEVKAFKA_PARTITIONS    partitions for those topics (3)
#   DEVKAFKA_DATA_DIR      persist the dev broker's state there (default: in memory)
#   CYCLEHUB_PG_BINDIR     directory holding initdb/pg_ctl (default: discovered)
#
# State (git-ignored): .dev/pg (PostgreSQL data), .dev/pg.log, .dev/redis.pid,
# .dev/redis.log, .dev/kafka.pid, .dev/kafka.log, .dev/bin/devkafka.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)"
cd "$ROOT"
DEV="$ROOT/.dev"

PG_PORT="${DEVSTACK_PG_PORT:-15432}"
REDIS_PORT="${DEVSTACK_REDIS_PORT:-16379}"
KAFKA_PORT="${DEVSTACK_KAFKA_PORT:-19092}"
HOST=127.0.0.1

REDIS_PIDFILE="$DEV/redis.pid"
REDIS_LOG="$DEV/redis.log"
KAFKA_PIDFILE="$DEV/kafka.pid"
KAFKA_LOG="$DEV/kafka.log"
KAFKA_BIN="$DEV/bin/devkafka"

IS_ROOT=0
if [[ "$(id -u)" == 0 ]]; then IS_ROOT=1; fi

log() { printf 'devstack: %s\n' "$*" >&2; }
die() { printf 'devstack: error: %s\n' "$*" >&2; exit 1; }

# sq VALUE: VALUE as a single-quoted shell word.
sq() { printf "'%s'" "${1//\'/\'\\\'\'}"; }

# port_open PORT: true when something accepts TCP connections on 127.0.0.1:PORT.
port_open() { (exec 3<>"/dev/tcp/$HOST/$1") 2>/dev/null; }

# port_owner PORT: best-effort description of who listens on PORT.
port_owner() {
	if command -v ss >/dev/null 2>&1; then
		ss -Hltnp "sport = :$1" 2>/dev/null | sed 's/^/    /' || true
	fi
}

# pid_is PIDFILE NAME: prints the PID from PIDFILE when that process is alive
# and its command line mentions NAME (guards against recycled PIDs).
pid_is() {
	local pidfile=$1 name=$2 pid
	[[ -s "$pidfile" ]] || return 1
	pid="$(tr -dc '0-9' <"$pidfile")"
	[[ -n "$pid" ]] || return 1
	kill -0 "$pid" 2>/dev/null || return 1
	tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -q -- "$name" || return 1
	printf '%s\n' "$pid"
}

# as_root CMD...: run CMD as root (sudo when we are not root).
as_root() {
	if ((IS_ROOT)); then "$@"; else sudo "$@"; fi
}

APT_UPDATED=0
apt_install() {
	command -v apt-get >/dev/null 2>&1 || die "need to install $*, but apt-get is not available: install them by hand"
	if ((!APT_UPDATED)); then
		log "apt-get update"
		as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq >&2
		APT_UPDATED=1
	fi
	log "apt-get install $*"
	as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" >&2
}

# ---------------------------------------------------------------- PostgreSQL

find_pg_bindir() {
	local d
	if [[ -n "${CYCLEHUB_PG_BINDIR:-}" ]]; then
		printf '%s\n' "$CYCLEHUB_PG_BINDIR"
		return 0
	fi
	if command -v pg_config >/dev/null 2>&1; then
		d="$(pg_config --bindir 2>/dev/null || true)"
		if [[ -n "$d" && -x "$d/initdb" && -x "$d/pg_ctl" ]]; then
			printf '%s\n' "$d"
			return 0
		fi
	fi
	# Highest installed major version first.
	for d in $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -t/ -k5,5 -rn); do
		if [[ -x "$d/initdb" && -x "$d/pg_ctl" ]]; then
			printf '%s\n' "$d"
			return 0
		fi
	done
	return 1
}

# PostgreSQL refuses to run as root: when we are root, the cluster belongs to
# the `postgres` OS user, which must be able to reach its data directory. If
# it cannot traverse the repository path (e.g. a checkout under /root), the
# data lives in a directory of its own and .dev/pg is a symlink to it.
pg_datadir() {
	if ((IS_ROOT)) && ! runuser -u postgres -- test -x "$ROOT" 2>/dev/null; then
		local h
		h="$(printf '%s' "$ROOT" | sha1sum | cut -c1-12)"
		printf '/var/tmp/cyclehub-devstack-%s/pg\n' "$h"
	else
		printf '%s\n' "$DEV/pg"
	fi
}

pg_run() { # run a PostgreSQL server binary as the right user
	# From / : the postgres user may not be allowed into the current directory.
	if ((IS_ROOT)); then (cd / && runuser -u postgres -- "$@"); else "$@"; fi
}

pg_running() { # pg_running DATADIR
	[[ -f "$1/PG_VERSION" ]] || return 1
	pg_run "$PG_BINDIR/pg_ctl" status -D "$1" >/dev/null 2>&1
}

pg_psql() {
	"$PG_BINDIR/psql" -X -q -v ON_ERROR_STOP=1 -h "$HOST" -p "$PG_PORT" -U postgres "$@"
}

pg_up() {
	if [[ -n "${CYCLEHUB_POSTGRES_URL:-}" ]]; then
		log "postgres: CYCLEHUB_POSTGRES_URL is set; not starting a local server"
		return 0
	fi
	if ! PG_BINDIR="$(find_pg_bindir)"; then
		apt_install postgresql
		PG_BINDIR="$(find_pg_bindir)" || die "postgres: installed the postgresql package but found no initdb/pg_ctl"
	fi
	if ((IS_ROOT)) && ! id postgres >/dev/null 2>&1; then
		die "postgres: running as root but there is no 'postgres' OS user to own the cluster (install the postgresql package or run as a normal user)"
	fi
	local data log
	data="$(pg_datadir)"
	log="$(dirname "$data")/pg.log" # .dev/pg.log in the usual case

	if pg_running "$data"; then
		local running_port
		running_port="$(sed -n 4p "$data/postmaster.pid" 2>/dev/null || true)"
		if [[ -n "$running_port" && "$running_port" != "$PG_PORT" ]]; then
			die "postgres: our server ($data) already runs on port $running_port, not $PG_PORT; run 'scripts/devstack.sh down' first"
		fi
		log "postgres: already running on $HOST:$PG_PORT ($data)"
	else
		if port_open "$PG_PORT"; then
			log "postgres: port $HOST:$PG_PORT is in use by something that is not this stack's server:"
			port_owner "$PG_PORT" >&2
			die "postgres: free port $PG_PORT, set DEVSTACK_PG_PORT, or point CYCLEHUB_POSTGRES_URL at an existing server"
		fi
		mkdir -p "$(dirname "$data")"
		if [[ ! -f "$data/PG_VERSION" ]]; then
			log "postgres: initdb $data"
			rm -rf "$data"
			mkdir -p "$data"
			if ((IS_ROOT)); then
				chown postgres:postgres "$data"
				runuser -u postgres -- test -w "$data" ||
					die "postgres: user 'postgres' cannot write $data (check the permissions of its parent directories)"
			fi
			chmod 0700 "$data"
			pg_run "$PG_BINDIR/initdb" -D "$data" -U postgres --auth=trust -E UTF8 --locale=C.UTF-8 >"$(dirname "$data")/initdb.log" 2>&1 || {
				tail -n 20 "$(dirname "$data")/initdb.log" >&2
				die "postgres: initdb failed"
			}
		fi
		if [[ "$data" != "$DEV/pg" ]]; then
			ln -sfn "$data" "$DEV/pg"
			ln -sfn "$log" "$DEV/pg.log"
		fi
		touch "$log"
		if ((IS_ROOT)); then chown postgres:postgres "$log"; fi
		# The Unix socket goes into the data directory; clients here use TCP,
		# so when that path is too long for a socket, sockets are disabled.
		local sockdir="$data"
		if ((${#data} > 90)) || [[ "$data" == *[[:space:]]* ]]; then sockdir="''"; fi
		log "postgres: starting on $HOST:$PG_PORT"
		if ! pg_run "$PG_BINDIR/pg_ctl" start -D "$data" -l "$log" -w -t 60 \
			-o "-p $PG_PORT -k $sockdir -c listen_addresses=$HOST -c fsync=on -c max_connections=300" >/dev/null; then
			tail -n 30 "$log" >&2
			die "postgres: failed to start (log: $log)"
		fi
	fi

	local i
	for i in $(seq 1 100); do
		pg_psql -d postgres -c 'SELECT 1' >/dev/null 2>&1 && break
		((i == 100)) && die "postgres: not accepting connections on $HOST:$PG_PORT (log: $log)"
		sleep 0.1
	done
	if [[ "$(pg_psql -d postgres -tAc "SELECT 1 FROM pg_database WHERE datname = 'cyclehub'")" != 1 ]]; then
		log "postgres: creating database cyclehub"
		pg_psql -d postgres -c 'CREATE DATABASE cyclehub'
	fi
	log "postgres: ready at postgres://postgres@$HOST:$PG_PORT/cyclehub"
}

pg_down() {
	local data
	data="$(pg_datadir)"
	if ! PG_BINDIR="$(find_pg_bindir)"; then
		log "postgres: no PostgreSQL binaries; nothing to stop"
		return 0
	fi
	if pg_running "$data"; then
		log "postgres: stopping ($data)"
		pg_run "$PG_BINDIR/pg_ctl" stop -D "$data" -m fast -w -t 60 >/dev/null
	else
		log "postgres: not running"
	fi
}

pg_status() {
	local data
	data="$(pg_datadir)"
	if PG_BINDIR="$(find_pg_bindir)" && pg_running "$data"; then
		echo "postgres: running, pid $(head -n1 "$data/postmaster.pid"), $HOST:$(sed -n 4p "$data/postmaster.pid"), data $data"
	else
		echo "postgres: stopped"
	fi
	if [[ -n "${CYCLEHUB_POSTGRES_URL:-}" ]]; then echo "  (CYCLEHUB_POSTGRES_URL is set: up does not start postgres)"; fi
}

# --------------------------------------------------------------------- Redis

redis_up() {
	if [[ -n "${CYCLEHUB_REDIS_URL:-}" ]]; then
		log "redis: CYCLEHUB_REDIS_URL is set; not starting a local server"
		return 0
	fi
	command -v redis-server >/dev/null 2>&1 || apt_install redis-server
	local pid
	if pid="$(pid_is "$REDIS_PIDFILE" redis-server)"; then
		log "redis: already running (pid $pid) on $HOST:$REDIS_PORT"
		return 0
	fi
	rm -f "$REDIS_PIDFILE"
	if port_open "$REDIS_PORT"; then
		log "redis: port $HOST:$REDIS_PORT is in use by something that is not this stack's server:"
		port_owner "$REDIS_PORT" >&2
		die "redis: free port $REDIS_PORT, set DEVSTACK_REDIS_PORT, or point CYCLEHUB_REDIS_URL at an existing server"
	fi
	log "redis: starting on $HOST:$REDIS_PORT"
	redis-server --port "$REDIS_PORT" --bind "$HOST" --save '' --appendonly no \
		--daemonize yes --pidfile "$REDIS_PIDFILE" --logfile "$REDIS_LOG" --dir "$DEV" ||
		die "redis: failed to start (log: $REDIS_LOG)"
	local i
	for i in $(seq 1 100); do
		if port_open "$REDIS_PORT" && pid_is "$REDIS_PIDFILE" redis-server >/dev/null; then
			if ! command -v redis-cli >/dev/null 2>&1 || [[ "$(redis-cli -h "$HOST" -p "$REDIS_PORT" ping 2>/dev/null)" == PONG ]]; then
				log "redis: ready at redis://$HOST:$REDIS_PORT/0 (pid $(cat "$REDIS_PIDFILE"))"
				return 0
			fi
		fi
		sleep 0.1
	done
	tail -n 20 "$REDIS_LOG" >&2 || true
	die "redis: did not come up on $HOST:$REDIS_PORT (log: $REDIS_LOG)"
}

# stop_pidfile NAME PIDFILE MATCH: SIGTERM the process, wait up to 15 s, then SIGKILL.
stop_pidfile() {
	local name=$1 pidfile=$2 match=$3 pid i
	if ! pid="$(pid_is "$pidfile" "$match")"; then
		log "$name: not running"
		rm -f "$pidfile"
		return 0
	fi
	log "$name: stopping pid $pid"
	kill -TERM "$pid" 2>/dev/null || true
	for i in $(seq 1 150); do
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	if kill -0 "$pid" 2>/dev/null; then
		log "$name: pid $pid did not exit after SIGTERM; sending SIGKILL"
		kill -KILL "$pid" 2>/dev/null || true
	fi
	rm -f "$pidfile"
}

redis_down() { stop_pidfile redis "$REDIS_PIDFILE" redis-server; }

redis_status() {
	local pid
	if pid="$(pid_is "$REDIS_PIDFILE" redis-server)"; then
		echo "redis: running, pid $pid, $HOST:$REDIS_PORT"
	else
		echo "redis: stopped"
	fi
	if [[ -n "${CYCLEHUB_REDIS_URL:-}" ]]; then echo "  (CYCLEHUB_REDIS_URL is set: up does not start redis)"; fi
}

# --------------------------------------------------------------------- Kafka

kafka_up() {
	if [[ -n "${CYCLEHUB_KAFKA_BROKERS:-}" ]]; then
		log "kafka: CYCLEHUB_KAFKA_BROKERS is set; not starting the dev broker"
		return 0
	fi
	local pid
	if pid="$(pid_is "$KAFKA_PIDFILE" devkafka)"; then
		log "kafka: already running (pid $pid) on $HOST:$KAFKA_PORT"
		return 0
	fi
	rm -f "$KAFKA_PIDFILE"
	if port_open "$KAFKA_PORT"; then
		log "kafka: port $HOST:$KAFKA_PORT is in use by something that is not this stack's broker:"
		port_owner "$KAFKA_PORT" >&2
		die "kafka: free port $KAFKA_PORT, set DEVSTACK_KAFKA_PORT, or point CYCLEHUB_KAFKA_BROKERS at an existing broker"
	fi
	if ! command -v go >/dev/null 2>&1 && [[ -x /usr/local/go/bin/go ]]; then PATH="$PATH:/usr/local/go/bin"; fi
	command -v go >/dev/null 2>&1 || die "kafka: 'go' is not on PATH (try: export PATH=\$PATH:/usr/local/go/bin)"
	log "kafka: building .dev/bin/devkafka"
	mkdir -p "$DEV/bin"
	go build -o "$KAFKA_BIN" ./cmd/devkafka || die "kafka: go build ./cmd/devkafka failed"

	local args=(-addr "$HOST:$KAFKA_PORT" -partitions "${DEVKAFKA_PARTITIONS:-3}")
	if [[ -n "${DEVKAFKA_SEED_TOPICS:-}" ]]; then args+=(-seed-topics "$DEVKAFKA_SEED_TOPICS"); fi
	if [[ -n "${DEVKAFKA_DATA_DIR:-}" ]]; then args+=(-data-dir "$DEVKAFKA_DATA_DIR"); fi

	log "kafka: starting dev broker on $HOST:$KAFKA_PORT"
	: >"$KAFKA_LOG"
	setsid nohup "$KAFKA_BIN" "${args[@]}" </dev/null >>"$KAFKA_LOG" 2>&1 &
	pid=$!
	echo "$pid" >"$KAFKA_PIDFILE"

	local i
	for i in $(seq 1 200); do # ~20 s
		if ! kill -0 "$pid" 2>/dev/null; then
			tail -n 20 "$KAFKA_LOG" >&2 || true
			rm -f "$KAFKA_PIDFILE"
			die "kafka: dev broker exited during start-up (log: $KAFKA_LOG)"
		fi
		if port_open "$KAFKA_PORT" && grep -q 'devkafka: ready' "$KAFKA_LOG"; then
			log "kafka: ready at $HOST:$KAFKA_PORT (pid $pid)"
			return 0
		fi
		sleep 0.1
	done
	tail -n 20 "$KAFKA_LOG" >&2 || true
	kill -TERM "$pid" 2>/dev/null || true
	rm -f "$KAFKA_PIDFILE"
	die "kafka: dev broker did not accept connections on $HOST:$KAFKA_PORT within 20 s (log: $KAFKA_LOG)"
}

kafka_down() { stop_pidfile kafka "$KAFKA_PIDFILE" devkafka; }

kafka_status() {
	local pid
	if pid="$(pid_is "$KAFKA_PIDFILE" devkafka)"; then
		echo "kafka: running, pid $pid, $HOST:$KAFKA_PORT"
	else
		echo "kafka: stopped"
	fi
	if [[ -n "${CYCLEHUB_KAFKA_BROKERS:-}" ]]; then echo "  (CYCLEHUB_KAFKA_BROKERS is set: up does not start the dev broker)"; fi
}

# ---------------------------------------------------------------------- main

cmd_up() {
	mkdir -p "$DEV"
	chmod 0755 "$DEV"
	# Install what is missing in one apt-get run. kcat is an independent
	# Kafka client that some integration tests use; chromium drives the
	# status page's end-to-end test headless.
	local missing=()
	command -v kcat >/dev/null 2>&1 || missing+=(kcat)
	[[ -x /usr/bin/chromium ]] || missing+=(chromium)
	if [[ -z "${CYCLEHUB_REDIS_URL:-}" ]] && ! command -v redis-server >/dev/null 2>&1; then missing+=(redis-server); fi
	if [[ -z "${CYCLEHUB_POSTGRES_URL:-}" ]] && ! find_pg_bindir >/dev/null; then missing+=(postgresql); fi
	if ((${#missing[@]})); then apt_install "${missing[@]}"; fi
	pg_up
	redis_up
	kafka_up
	log "up; load the environment with: eval \"\$(scripts/devstack.sh env)\""
}

cmd_down() {
	kafka_down
	redis_down
	pg_down
}

cmd_env() {
	local bindir
	bindir="$(find_pg_bindir || true)"
	printf 'export CYCLEHUB_POSTGRES_URL=%s\n' "$(sq "${CYCLEHUB_POSTGRES_URL:-postgres://postgres@$HOST:$PG_PORT/cyclehub?sslmode=disable}")"
	printf 'export CYCLEHUB_REDIS_URL=%s\n' "$(sq "${CYCLEHUB_REDIS_URL:-redis://$HOST:$REDIS_PORT/0}")"
	printf 'export CYCLEHUB_KAFKA_BROKERS=%s\n' "$(sq "${CYCLEHUB_KAFKA_BROKERS:-$HOST:$KAFKA_PORT}")"
	printf 'export CYCLEHUB_PG_BINDIR=%s\n' "$(sq "$bindir")"
}

cmd_status() {
	pg_status
	redis_status
	kafka_status
}

usage() {
	echo "usage: scripts/devstack.sh up|down|env|status" >&2
	exit 2
}

[[ $# -eq 1 ]] || usage
case "$1" in
up) cmd_up ;;
down) cmd_down ;;
env) cmd_env ;;
status) cmd_status ;;
-h | --help | help) usage ;;
*) usage ;;
esac
