#!/usr/bin/env bash
# The test command. Installs what is missing (Debian packages), starts a throwaway
# PostgreSQL, Redis and SMTP sink (aiosmtpd) on loopback, runs the whole suite with cargo
# nextest against them, and stops them again, whatever happens.
#
#   bash scripts/test.sh                      # the whole workspace
#   bash scripts/test.sh -p bulwark-testkit   # extra arguments go to `cargo nextest run`
#
# Tests reach the shared services through BULWARK_TEST_DATABASE_URL and
# BULWARK_TEST_REDIS_URL (see crates/bulwark-testkit), the SMTP sink through
# BULWARK_TEST_SMTP_ADDR (host:port) and BULWARK_TEST_SMTP_MAILDIR (a Maildir holding every
# mail it received); headless Chromium is /usr/bin/chromium. PostgreSQL's programs (initdb,
# postgres, pg_ctl) are put on PATH for tests that start a server of their own.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

READY_TIMEOUT=20 # seconds a service may take to accept connections

say() { printf '==> %s\n' "$*" >&2; }
die() {
    printf 'test.sh: error: %s\n' "$*" >&2
    exit 1
}
is_root() { [ "$(id -u)" -eq 0 ]; }

# --- What the tests need ------------------------------------------------------------

# The newest /usr/lib/postgresql/N/bin with the server programs (Debian keeps them off PATH).
pg_bin_dir() {
    local dir best="" best_version=-1 version
    for dir in /usr/lib/postgresql/*/bin; do
        if ! { [ -x "$dir/initdb" ] && [ -x "$dir/postgres" ] && [ -x "$dir/pg_ctl" ]; }; then
            continue
        fi
        version=${dir#/usr/lib/postgresql/}
        version=${version%/bin}
        [[ $version =~ ^[0-9]+$ ]] || continue
        if [ "$version" -gt "$best_version" ]; then
            best=$dir
            best_version=$version
        fi
    done
    [ -n "$best" ] && printf '%s\n' "$best"
}

install_missing() {
    local missing=()
    if [ -z "$(pg_bin_dir)" ] || ! command -v psql >/dev/null || ! command -v pg_isready >/dev/null; then
        missing+=(postgresql)
    fi
    command -v redis-server >/dev/null || missing+=(redis-server)
    command -v redis-cli >/dev/null || missing+=(redis-tools)
    command -v promtool >/dev/null || missing+=(prometheus)
    command -v runuser >/dev/null || missing+=(util-linux)
    command -v strace >/dev/null || missing+=(strace)
    command -v chromium >/dev/null || missing+=(chromium)
    # Readable text in the status page screenshots (chromium does not pull in fonts).
    [ -e /usr/share/fonts/truetype/dejavu/DejaVuSans.ttf ] || missing+=(fonts-dejavu-core)
    python3 -c 'import aiosmtpd' >/dev/null 2>&1 || missing+=(python3-aiosmtpd)

    if [ ${#missing[@]} -eq 0 ]; then
        say "Packages: all present."
        return
    fi
    is_root || die "missing Debian packages: ${missing[*]}; install them (as root: apt-get install ${missing[*]}) and rerun"
    say "Installing ${missing[*]} (apt-get)..."
    # Another apt run may hold the lock for a while: wait for it rather than fail.
    local apt=(apt-get -o DPkg::Lock::Timeout=600 -q)
    # Only the programs are needed: keep the packages' system services (PostgreSQL on
    # 5432, Redis on 6379, Prometheus on 9090) from starting, or they would squat the
    # quick start's ports on a machine with systemd.
    local policy=/usr/sbin/policy-rc.d added_policy=""
    if [ ! -e "$policy" ]; then
        printf '#!/bin/sh\nexit 101\n' >"$policy" && chmod +x "$policy" && added_policy=1
    fi
    DEBIAN_FRONTEND=noninteractive "${apt[@]}" update
    DEBIAN_FRONTEND=noninteractive "${apt[@]}" install -y --no-install-recommends "${missing[@]}"
    [ -n "$added_policy" ] && rm -f "$policy"
    [ -n "$(pg_bin_dir)" ] || die "postgresql installed, but no /usr/lib/postgresql/*/bin/initdb found"
}

# --- Services -----------------------------------------------------------------------

WORK=""         # temporary folder for both services
PG_BIN=""       # PostgreSQL's server programs
PG_STARTED=""   # set once pg_ctl started the postmaster
REDIS_PID=""
SMTP_PID=""

# Runs a PostgreSQL program as the postgres user when we are root (it refuses root).
as_pg() {
    if is_root; then
        runuser -u postgres -- "$@"
    else
        "$@"
    fi
}

# A port on 127.0.0.1 nothing listens on, below Linux's ephemeral range (32768-60999) so
# that it cannot collide with the ports the tests themselves get from the kernel.
free_port() {
    local port _
    for _ in $(seq 1 200); do
        port=$((20000 + RANDOM % 12000))
        if ! (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
            printf '%s\n' "$port"
            return
        fi
    done
    die "found no free port on 127.0.0.1 in 20000-31999"
}

# shellcheck disable=SC2317 # runs from the EXIT trap
stop_services() {
    set +e
    if [ -n "$SMTP_PID" ]; then
        kill "$SMTP_PID" 2>/dev/null
        wait "$SMTP_PID" 2>/dev/null
        SMTP_PID=""
    fi
    if [ -n "$REDIS_PID" ]; then
        kill "$REDIS_PID" 2>/dev/null
        wait "$REDIS_PID" 2>/dev/null
        REDIS_PID=""
    fi
    if [ -n "$PG_STARTED" ]; then
        as_pg "$PG_BIN/pg_ctl" -D "$WORK/pg/data" -m fast -w -t "$READY_TIMEOUT" stop >/dev/null 2>&1 ||
            as_pg "$PG_BIN/pg_ctl" -D "$WORK/pg/data" -m immediate -w -t "$READY_TIMEOUT" stop >/dev/null 2>&1
        PG_STARTED=""
    fi
    if [ -n "$WORK" ]; then
        rm -rf "$WORK"
        WORK=""
    fi
}

# Polls "$@" until it succeeds or READY_TIMEOUT passes.
wait_until() {
    local deadline=$((SECONDS + READY_TIMEOUT))
    until "$@" >/dev/null 2>&1; do
        [ "$SECONDS" -lt "$deadline" ] || return 1
        sleep 0.1
    done
}

# shellcheck disable=SC2317 # runs through wait_until
redis_answers() {
    kill -0 "$REDIS_PID" 2>/dev/null && [ "$(redis-cli -h 127.0.0.1 -p "$1" ping 2>/dev/null)" = PONG ]
}

start_postgres() {
    local port=$1 pg=$WORK/pg
    mkdir "$pg"
    is_root && chown postgres:postgres "$pg"
    if ! (cd "$pg" && as_pg "$PG_BIN/initdb" -D "$pg/data" -U postgres -A trust -E UTF8 --locale=C \
        --no-sync >"$WORK/initdb.log" 2>&1); then
        cat "$WORK/initdb.log" >&2
        die "initdb failed (log above)"
    fi
    # -w: pg_ctl waits (bounded by -t) until the server is up, and notices if it dies.
    PG_STARTED=1
    if ! (cd "$pg" && as_pg "$PG_BIN/pg_ctl" -D "$pg/data" -l "$pg/postgres.log" -w -t "$READY_TIMEOUT" \
        -o "-p $port -k $pg -c listen_addresses=127.0.0.1 -c fsync=off" start >/dev/null); then
        cat "$pg/postgres.log" >&2
        die "PostgreSQL did not start on 127.0.0.1:$port within ${READY_TIMEOUT}s (log above)"
    fi
    if ! wait_until pg_isready -q -h 127.0.0.1 -p "$port" -t 1; then
        cat "$pg/postgres.log" >&2
        die "PostgreSQL did not accept connections on 127.0.0.1:$port within ${READY_TIMEOUT}s (log above)"
    fi
}

start_redis() {
    local port=$1
    mkdir "$WORK/redis"
    redis-server --port "$port" --bind 127.0.0.1 --save '' --appendonly no --daemonize no \
        --dir "$WORK/redis" >"$WORK/redis.log" 2>&1 </dev/null &
    REDIS_PID=$!
    if ! wait_until redis_answers "$port"; then
        cat "$WORK/redis.log" >&2
        die "Redis did not answer PING on 127.0.0.1:$port within ${READY_TIMEOUT}s (log above)"
    fi
}

# shellcheck disable=SC2317 # runs through wait_until
smtp_answers() {
    kill -0 "$SMTP_PID" 2>/dev/null && (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

# aiosmtpd's Mailbox handler writes every received mail into a Maildir, which it creates
# (an existing empty folder without cur/new/tmp makes it refuse every mail).
start_smtp() {
    local port=$1
    python3 -m aiosmtpd -n -l "127.0.0.1:$port" -c aiosmtpd.handlers.Mailbox "$WORK/maildir" \
        >"$WORK/smtp.log" 2>&1 </dev/null &
    SMTP_PID=$!
    if ! wait_until smtp_answers "$port"; then
        cat "$WORK/smtp.log" >&2
        die "the SMTP sink did not listen on 127.0.0.1:$port within ${READY_TIMEOUT}s (log above)"
    fi
}

# --- Main ---------------------------------------------------------------------------

if ! command -v cargo >/dev/null && [ -x "$HOME/.cargo/bin/cargo" ]; then
    PATH=$HOME/.cargo/bin:$PATH
fi
command -v cargo-nextest >/dev/null || die "cargo-nextest is not installed"

started=$SECONDS
install_missing
installed=$SECONDS

PG_BIN=$(pg_bin_dir)
export PATH="$PG_BIN:$PATH"

trap stop_services EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

WORK=$(mktemp -d /tmp/bulwark-test.XXXXXX)
chmod 755 "$WORK" # the postgres user must reach its folder inside

pg_port=$(free_port)
say "Starting PostgreSQL ($PG_BIN) on 127.0.0.1:$pg_port..."
start_postgres "$pg_port"
redis_port=$(free_port)
say "Starting Redis ($(command -v redis-server)) on 127.0.0.1:$redis_port..."
start_redis "$redis_port"

smtp_port=$(free_port)
say "Starting the SMTP sink (aiosmtpd) on 127.0.0.1:$smtp_port..."
start_smtp "$smtp_port"

export BULWARK_TEST_SMTP_ADDR="127.0.0.1:$smtp_port"
export BULWARK_TEST_SMTP_MAILDIR="$WORK/maildir"
export BULWARK_TEST_DATABASE_URL="postgres://postgres@127.0.0.1:$pg_port/postgres"
export BULWARK_TEST_REDIS_URL="redis://127.0.0.1:$redis_port/"
say "Services up: packages $((installed - started))s, start $((SECONDS - installed))s."
say "BULWARK_TEST_DATABASE_URL=$BULWARK_TEST_DATABASE_URL"
say "BULWARK_TEST_REDIS_URL=$BULWARK_TEST_REDIS_URL"
say "BULWARK_TEST_SMTP_ADDR=$BULWARK_TEST_SMTP_ADDR (Maildir $BULWARK_TEST_SMTP_MAILDIR)"

# The whole workspace unless the caller chose packages.
scope=(--workspace)
for arg in "$@"; do
    case $arg in
        -p | --package | --package=* | -p?* | --workspace | --all) scope=() ;;
    esac
done

command=(cargo nextest run "${scope[@]}" --no-fail-fast "$@")
say "Running: ${command[*]}"
tests_started=$SECONDS
set +e
"${command[@]}"
status=$?
set -e
if [ "$status" -eq 0 ]; then
    say "Tests passed ($((SECONDS - tests_started))s)."
else
    say "Tests FAILED (cargo nextest exit code $status, $((SECONDS - tests_started))s)."
fi
say "Stopping services..."
exit "$status"
