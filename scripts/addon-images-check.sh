#!/usr/bin/env bash
# Verify the add-on fixture images built by scripts/addon-images.sh against the
# real engine, the way the add-on tests (issue 3) will use them. Per engine:
#   1. first start on a fresh named volume with the bootstrap variables, a port
#      published on 127.0.0.1 only; wait until the in-container health tool
#      says healthy (timed);
#   2. a protocol-level probe of the published port from the host (127.0.0.1
#      only: never a container IP), and a real query from a client container on
#      a private network by container name, as an app on the stack network
#      would; a wrong password must be refused;
#   3. engine extras: pg_dump -Fc | pg_restore round trip, mariadb-dump round
#      trip and the MYSQL_* names, redis CMD flags, AMQP login;
#   4. docker stop (timed; must exit 0 well inside the 10 s grace period),
#      docker start: data still there, bootstrap skipped;
#   5. recreate (new container, same volume, CHANGED bootstrap passwords): data
#      still there and the old password still works, i.e. the variables only
#      apply to an empty data dir, as with the official images.
# Every container, volume and network it creates is named reconciler-addoncheck-*
# and removed on exit (also on failure). Prints a timing table on stdout.
#   usage: scripts/addon-images-check.sh [postgres] [mariadb] [redis] [rabbitmq]
#   host ports (127.0.0.1): ADDON_CHECK_PG_PORT=25432 ADDON_CHECK_MARIADB_PORT=23306
#                           ADDON_CHECK_REDIS_PORT=26379 ADDON_CHECK_RABBITMQ_PORT=25672
set -euo pipefail

log() { echo "addon-check: $*" >&2; }

P=reconciler-addoncheck
NET=$P-net
PG_PORT=${ADDON_CHECK_PG_PORT:-25432}
MY_PORT=${ADDON_CHECK_MARIADB_PORT:-23306}
RD_PORT=${ADDON_CHECK_REDIS_PORT:-26379}
RB_PORT=${ADDON_CHECK_RABBITMQ_PORT:-25672}
PG_IMG=reconciler-fixture/postgres:15
MY_IMG=reconciler-fixture/mariadb:10.11
RD_IMG=reconciler-fixture/redis:7
RB_IMG=reconciler-fixture/rabbitmq:3.10

# Passwords with a space, both quote kinds, '#' and a backslash: they must
# survive the entrypoints' SQL escaping and RabbitMQ's config file format.
PG_PASS="pg pw-\"q'1"
MY_ROOT_PASS="root pw-\"q'1"
MY_PASS="app pw-\"q'1#\\z"
RD_PASS="redis pw-\"q'1"
# RB_PASS has '#', which rabbitmq.conf cannot hold: the entrypoint must pass it
# through the environment instead (the user name goes through the file).
# shellcheck disable=SC2016
RB_PASS='amqp pw-"q#1\z$HOME'
# shellcheck disable=SC2016
RB_VHOST='reconciler-check-$HOME'

containers=() volumes=() current=""
cleanup() {
  local rc=$?
  if [ "$rc" != 0 ] && [ -n "$current" ]; then
    log "--- last 30 log lines of $current ---"
    docker logs --tail 30 "$current" >&2 2>&1 || true
  fi
  if [ "${#containers[@]}" -gt 0 ]; then docker rm -f "${containers[@]}" >/dev/null 2>&1 || true; fi
  if [ "${#volumes[@]}" -gt 0 ]; then docker volume rm -f "${volumes[@]}" >/dev/null 2>&1 || true; fi
  docker network rm "$NET" >/dev/null 2>&1 || true
  exit "$rc"
}
trap cleanup EXIT
die() { log "FAIL: $*"; exit 1; }

now_ms() { date +%s%3N; }
secs() { awk -v ms="$1" 'BEGIN { printf "%.1f s", ms / 1000 }'; }

# track_ctr/track_vol: remember a name for cleanup, and remove a leftover of an
# earlier interrupted run (exact names only; all of them are ours).
track_ctr() { containers+=("$1"); docker rm -f "$1" >/dev/null 2>&1 || true; }
track_vol() { volumes+=("$1"); docker volume rm -f "$1" >/dev/null 2>&1 || true; }

# wait_until TIMEOUT_S CONTAINER CHECK_FN [ARGS...]: poll CHECK_FN until it
# succeeds; fail at once if the container stops. Sets ELAPSED_MS, measured
# from T0_MS (set by the caller right before docker run/start).
wait_until() {
  local timeout=$1 ctr=$2; shift 2
  local deadline=$(( $(now_ms) + timeout * 1000 ))
  until "$@" >/dev/null 2>&1; do
    [ "$(docker inspect -f '{{.State.Running}}' "$ctr" 2>/dev/null)" = true ] \
      || die "$ctr exited before it became healthy"
    [ "$(now_ms)" -lt "$deadline" ] || die "$ctr not healthy after ${timeout}s ($*)"
    sleep 0.2
  done
  ELAPSED_MS=$(( $(now_ms) - T0_MS ))
}

# stop_timed CONTAINER: docker stop; must end cleanly (exit 0) and be fast.
stop_timed() {
  local t0 ms rc
  t0=$(now_ms)
  docker stop "$1" >/dev/null
  ms=$(( $(now_ms) - t0 ))
  rc=$(docker inspect -f '{{.State.ExitCode}}' "$1")
  [ "$rc" = 0 ] || die "$1: exit code $rc after docker stop (137 = killed after the grace period)"
  [ "$ms" -lt 8000 ] || die "$1: docker stop took $(secs "$ms")"
  STOP_MS=$ms
}

# expect_eq WHAT ACTUAL EXPECTED
expect_eq() { [ "$2" = "$3" ] || die "$1: got '$2', expected '$3'"; log "  ok: $1 = $3"; }

# probe KIND PORT [ARGS...]: talk the engine's wire protocol to
# 127.0.0.1:PORT (the published port; the only address the host may use).
probe() {
  python3 - "$@" <<'PY'
import socket, struct, sys
kind, port, args = sys.argv[1], int(sys.argv[2]), sys.argv[3:]
s = socket.create_connection(("127.0.0.1", port), timeout=10)

def recv_exact(n):
    buf = b""
    while len(buf) < n:
        chunk = s.recv(n - len(buf))
        if not chunk:
            raise EOFError("connection closed")
        buf += chunk
    return buf

def fail(msg):
    print(msg, file=sys.stderr)
    sys.exit(1)

if kind == "postgres":      # SSLRequest: a PostgreSQL server answers 'N' or 'S'
    s.sendall(struct.pack("!ii", 8, 80877103))
    r = recv_exact(1)
    if r not in (b"N", b"S"):
        fail("postgres: unexpected answer %r" % r)
    print("PostgreSQL wire protocol (SSLRequest -> %r)" % r.decode())
elif kind == "mariadb":     # the server speaks first: handshake v10 + version
    ln = int.from_bytes(recv_exact(4)[:3], "little")
    body = recv_exact(ln)
    version = body[1:body.index(b"\0", 1)].decode()
    if body[0] != 10 or "MariaDB" not in version:
        fail("mariadb: unexpected greeting %r" % body[:40])
    print("MySQL protocol v10 greeting, server %s" % version)
elif kind == "redis":       # RESP: PING refused without AUTH, PONG after it
    def cmd(*parts):
        s.sendall(b"".join([b"*%d\r\n" % len(parts)] +
                           [b"$%d\r\n%s\r\n" % (len(p), p) for p in (x.encode() for x in parts)]))
        line = b""
        while not line.endswith(b"\r\n"):
            line += recv_exact(1)
        return line.decode().strip()
    r1, r2, r3 = cmd("PING"), cmd("AUTH", args[0]), cmd("PING")
    if not r1.startswith("-NOAUTH") or r2 != "+OK" or r3 != "+PONG":
        fail("redis: PING/AUTH/PING gave %r %r %r" % (r1, r2, r3))
    print("RESP: PING -> %s, AUTH -> %s, PING -> %s" % (r1.split()[0], r2, r3))
elif kind == "amqp":        # AMQP 0-9-1 header, Connection.Start, PLAIN login
    user, password, expect = args
    def read_frame():
        ftype, chan, size = struct.unpack("!BHI", recv_exact(7))
        payload = recv_exact(size)
        if recv_exact(1) != b"\xce":
            fail("amqp: bad frame end")
        return ftype, payload
    s.sendall(b"AMQP\x00\x00\x09\x01")
    ftype, payload = read_frame()
    if ftype != 1 or struct.unpack("!HH", payload[:4]) != (10, 10) or b"RabbitMQ" not in payload:
        fail("amqp: no Connection.Start from RabbitMQ")
    shortstr = lambda b: bytes([len(b)]) + b
    longstr = lambda b: struct.pack("!I", len(b)) + b
    start_ok = (struct.pack("!HH", 10, 11) + struct.pack("!I", 0) + shortstr(b"PLAIN")
                + longstr(b"\0" + user.encode() + b"\0" + password.encode()) + shortstr(b"en_US"))
    s.sendall(struct.pack("!BHI", 1, 0, len(start_ok)) + start_ok + b"\xce")
    try:
        ftype, payload = read_frame()
        got = "ok" if ftype == 1 and struct.unpack("!HH", payload[:4]) == (10, 30) else "denied"
    except (EOFError, ConnectionError, socket.timeout):
        got = "denied"      # RabbitMQ closes the socket on a failed login
    if got != expect:
        fail("amqp: login as %s was %s, expected %s" % (user, got, expect))
    print("AMQP 0-9-1: Connection.Start from RabbitMQ, PLAIN login %s" % got)
else:
    fail("unknown probe " + kind)
PY
}

# probe_log LABEL KIND PORT [ARGS...]: probe, log its answer; fail the check
# if the probe fails. (Not inside "$(...)" of another command: a failure there
# would not stop the script.)
probe_log() {
  local label=$1 out; shift
  out=$(probe "$@") || die "$label: probe failed"
  log "  $label: $out"
}

declare -A R   # results: R[engine.phase] = milliseconds

# ================================================================ PostgreSQL
pg_ready() { docker exec "$1" pg_isready -q -h 127.0.0.1 -p 5432 -U app -d appdb; }
pg_sql() {   # pg_sql CONTAINER DB SQL: local socket (trust), as the app user
  docker exec "$1" psql -v ON_ERROR_STOP=1 -qtAX -U app -d "$2" -c "$3"
}
check_postgres() {
  local c=$P-postgres v=$P-postgres-data cl=$P-postgres-client url bad_url tmp
  log "== $PG_IMG"
  track_ctr "$c"; track_vol "$v"; track_ctr "$cl"; current=$c

  # Upstream behaviour: no password and no trust => refuse to initialise.
  if docker run --rm --network none "$PG_IMG" >/dev/null 2>&1; then
    die "started without POSTGRES_PASSWORD"
  fi
  log "  ok: refuses an uninitialised start without POSTGRES_PASSWORD"

  pg_run() {
    docker run -d --name "$c" --network "$NET" -v "$v:/var/lib/postgresql/data" \
      -p "127.0.0.1:$PG_PORT:5432" -e POSTGRES_USER=app -e POSTGRES_PASSWORD="$1" \
      -e POSTGRES_DB=appdb "$PG_IMG" >/dev/null
  }
  T0_MS=$(now_ms); pg_run "$PG_PASS"; wait_until 60 "$c" pg_ready "$c"
  R[postgres.first]=$ELAPSED_MS; log "  healthy after $(secs "$ELAPSED_MS") (first start, initdb)"

  probe_log "host probe 127.0.0.1:$PG_PORT" postgres "$PG_PORT"
  expect_eq "PID 1" "$(docker exec "$c" ps -o user=,comm= -p 1 | tr -s ' ')" "postgres postgres"
  expect_eq "listen_addresses" "$(pg_sql "$c" appdb 'SHOW listen_addresses')" "*"
  expect_eq "database owner/encoding" \
    "$(pg_sql "$c" postgres "SELECT pg_get_userbyid(datdba)||'/'||pg_encoding_to_char(encoding) FROM pg_database WHERE datname='appdb'")" "app/UTF8"

  # An app on the stack network, by URL (percent-encoded password),
  # scram-sha-256 over TCP.
  url=$(python3 -c 'import sys, urllib.parse as u; print("postgresql://app:%s@%s:5432/appdb" % (u.quote(sys.argv[1], safe=""), sys.argv[2]))' "$PG_PASS" "$c")
  bad_url="postgresql://app:wrong@$c:5432/appdb"
  expect_eq "query from client container by URL" "$(docker run --rm --name "$cl" --network "$NET" "$PG_IMG" \
    psql "$url" -v ON_ERROR_STOP=1 -qtAX -c 'CREATE TABLE items (id serial PRIMARY KEY, name text NOT NULL)' \
    -c "INSERT INTO items (name) VALUES ('alpha'), ('beta')" \
    -c "SELECT string_agg(name, ',' ORDER BY id) FROM items")" "alpha,beta"
  expect_eq "pg_hba rule for other hosts" \
    "$(pg_sql "$c" appdb "SELECT auth_method FROM pg_hba_file_rules WHERE type = 'host' AND address = 'all'")" "scram-sha-256"
  expect_eq "stored password is SCRAM" \
    "$(pg_sql "$c" appdb "SELECT rolpassword LIKE 'SCRAM-SHA-256\$%' FROM pg_authid WHERE rolname = 'app'")" "t"
  if docker run --rm --name "$cl" --network "$NET" "$PG_IMG" psql "$bad_url" -c 'SELECT 1' >/dev/null 2>&1; then
    die "a wrong password was accepted over TCP"
  fi
  log "  ok: wrong password refused over TCP (scram-sha-256)"

  # Backup path: pg_dump -Fc to a file on the host, pg_restore into a new DB.
  tmp=$(mktemp)
  docker exec "$c" pg_dump -Fc -U app -d appdb >"$tmp"
  expect_eq "dump format" "$(head -c 5 "$tmp")" "PGDMP"
  docker exec "$c" createdb -U app restored
  docker exec -i "$c" pg_restore --exit-on-error --no-owner -U app -d restored <"$tmp"
  expect_eq "pg_dump -Fc | pg_restore round trip ($(stat -c %s "$tmp") bytes)" \
    "$(pg_sql "$c" restored "SELECT string_agg(name, ',' ORDER BY id) FROM items")" "alpha,beta"
  rm -f "$tmp"

  stop_timed "$c"; R[postgres.stop]=$STOP_MS; log "  docker stop took $(secs "$STOP_MS")"
  T0_MS=$(now_ms); docker start "$c" >/dev/null; wait_until 60 "$c" pg_ready "$c"
  R[postgres.restart]=$ELAPSED_MS; log "  healthy after $(secs "$ELAPSED_MS") (docker start)"
  expect_eq "data after restart" "$(pg_sql "$c" appdb "SELECT string_agg(name, ',' ORDER BY id) FROM items")" "alpha,beta"
  expect_eq "initdb runs" "$(docker logs "$c" 2>&1 | grep -c 'init process complete')" "1"
  docker logs "$c" 2>&1 | grep 'skipping initialization' >/dev/null || die "no 'skipping initialization' after restart"
  log "  ok: restart skipped the bootstrap"

  docker rm -f "$c" >/dev/null
  T0_MS=$(now_ms); pg_run "changed-password"; wait_until 60 "$c" pg_ready "$c"
  R[postgres.recreate]=$ELAPSED_MS; log "  healthy after $(secs "$ELAPSED_MS") (recreated on the same volume)"
  expect_eq "data after recreate, old password" "$(docker run --rm --name "$cl" --network "$NET" "$PG_IMG" \
    psql "$url" -qtAX -c "SELECT string_agg(name, ',' ORDER BY id) FROM items")" "alpha,beta"
  if docker run --rm --name "$cl" --network "$NET" "$PG_IMG" \
       psql "postgresql://app:changed-password@$c:5432/appdb" -c 'SELECT 1' >/dev/null 2>&1; then
    die "recreate re-bootstrapped: the changed POSTGRES_PASSWORD works"
  fi
  log "  ok: changed POSTGRES_PASSWORD ignored on an initialised volume"
  docker rm -f "$c" >/dev/null; docker volume rm "$v" >/dev/null
}

# ================================================================ MariaDB
my_ready() { docker exec "$1" mariadb-admin ping --silent -h 127.0.0.1 --protocol=tcp; }
my_sql() {   # my_sql CONTAINER USER PASSWORD DB SQL
  docker exec -e MYSQL_PWD="$3" "$1" mariadb -N -B -u "$2" -h 127.0.0.1 --protocol=tcp "$4" -e "$5"
}
check_mariadb() {
  local c=$P-mariadb v=$P-mariadb-data cl=$P-mariadb-client c2=$P-mariadb-alias v2=$P-mariadb-alias-data tmp
  log "== $MY_IMG"
  track_ctr "$c"; track_vol "$v"; track_ctr "$cl"; track_ctr "$c2"; track_vol "$v2"; current=$c

  if docker run --rm --network none "$MY_IMG" >/dev/null 2>&1; then
    die "started without a root password option"
  fi
  log "  ok: refuses an uninitialised start without MARIADB_ROOT_PASSWORD"

  my_run() {
    docker run -d --name "$c" --network "$NET" -v "$v:/var/lib/mysql" -p "127.0.0.1:$MY_PORT:3306" \
      -e MARIADB_ROOT_PASSWORD="$1" -e MARIADB_DATABASE=app_db -e MARIADB_USER=app \
      -e MARIADB_PASSWORD="$2" "$MY_IMG" >/dev/null
  }
  T0_MS=$(now_ms); my_run "$MY_ROOT_PASS" "$MY_PASS"; wait_until 90 "$c" my_ready "$c"
  R[mariadb.first]=$ELAPSED_MS; log "  healthy after $(secs "$ELAPSED_MS") (first start, install-db)"

  probe_log "host probe 127.0.0.1:$MY_PORT" mariadb "$MY_PORT"
  expect_eq "PID 1" "$(docker exec "$c" ps -o user=,comm= -p 1 | tr -s ' ')" "mysql mariadbd"
  expect_eq "bind_address" "$(my_sql "$c" root "$MY_ROOT_PASS" mysql 'SELECT @@bind_address')" "0.0.0.0"

  # An app on the stack network, by container name, as MARIADB_USER.
  expect_eq "query from client container" "$(docker run --rm --name "$cl" --network "$NET" -e MYSQL_PWD="$MY_PASS" "$MY_IMG" \
    mariadb -N -B -h "$c" -u app app_db -e "CREATE TABLE items (id INT AUTO_INCREMENT PRIMARY KEY, name TEXT NOT NULL);
      INSERT INTO items (name) VALUES ('alpha'), ('beta');
      SELECT GROUP_CONCAT(name ORDER BY id) FROM items")" "alpha,beta"
  expect_eq "root from the network" "$(docker run --rm --name "$cl" --network "$NET" -e MYSQL_PWD="$MY_ROOT_PASS" "$MY_IMG" \
    mariadb -N -B -h "$c" -u root -e 'SELECT COUNT(*) FROM app_db.items')" "2"
  if docker run --rm --name "$cl" --network "$NET" -e MYSQL_PWD=wrong "$MY_IMG" \
       mariadb -h "$c" -u app app_db -e 'SELECT 1' >/dev/null 2>&1; then
    die "a wrong password was accepted"
  fi
  log "  ok: wrong password refused"
  if my_sql "$c" app "$MY_PASS" mysql 'CREATE DATABASE other' >/dev/null 2>&1; then
    die "app user may create other databases (grants too wide)"
  fi
  log "  ok: app user's grants limited to app_db"

  # Backup path: mariadb-dump to a host file, load into another database.
  tmp=$(mktemp)
  docker exec -e MYSQL_PWD="$MY_ROOT_PASS" "$c" mariadb-dump -u root --single-transaction app_db >"$tmp"
  my_sql "$c" root "$MY_ROOT_PASS" mysql 'CREATE DATABASE restored'
  docker exec -i -e MYSQL_PWD="$MY_ROOT_PASS" "$c" mariadb -u root restored <"$tmp"
  expect_eq "mariadb-dump round trip ($(stat -c %s "$tmp") bytes)" \
    "$(my_sql "$c" root "$MY_ROOT_PASS" restored 'SELECT GROUP_CONCAT(name ORDER BY id) FROM items')" "alpha,beta"
  rm -f "$tmp"

  stop_timed "$c"; R[mariadb.stop]=$STOP_MS; log "  docker stop took $(secs "$STOP_MS")"
  T0_MS=$(now_ms); docker start "$c" >/dev/null; wait_until 60 "$c" my_ready "$c"
  R[mariadb.restart]=$ELAPSED_MS; log "  healthy after $(secs "$ELAPSED_MS") (docker start)"
  expect_eq "data after restart" "$(my_sql "$c" app "$MY_PASS" app_db 'SELECT GROUP_CONCAT(name ORDER BY id) FROM items')" "alpha,beta"
  expect_eq "install-db runs" "$(docker logs "$c" 2>&1 | grep -c 'init process done')" "1"
  docker logs "$c" 2>&1 | grep 'skipping initialization' >/dev/null || die "no 'skipping initialization' after restart"
  log "  ok: restart skipped the bootstrap"

  docker rm -f "$c" >/dev/null
  T0_MS=$(now_ms); my_run "changed-root" "changed-app"; wait_until 60 "$c" my_ready "$c"
  R[mariadb.recreate]=$ELAPSED_MS; log "  healthy after $(secs "$ELAPSED_MS") (recreated on the same volume)"
  expect_eq "data after recreate, old password" \
    "$(my_sql "$c" app "$MY_PASS" app_db 'SELECT GROUP_CONCAT(name ORDER BY id) FROM items')" "alpha,beta"
  if my_sql "$c" root changed-root mysql 'SELECT 1' >/dev/null 2>&1; then
    die "recreate re-bootstrapped: the changed root password works"
  fi
  log "  ok: changed MARIADB_ROOT_PASSWORD ignored on an initialised volume"
  docker rm -f "$c" >/dev/null; docker volume rm "$v" >/dev/null

  # The MYSQL_* names (what many compose files and charts still use).
  current=$c2
  T0_MS=$(now_ms)
  docker run -d --name "$c2" --network "$NET" -v "$v2:/var/lib/mysql" -e MYSQL_ROOT_PASSWORD=rootpw2 \
    -e MYSQL_DATABASE=db2 -e MYSQL_USER=user2 -e MYSQL_PASSWORD=pw2 "$MY_IMG" >/dev/null
  wait_until 90 "$c2" my_ready "$c2"
  expect_eq "MYSQL_* variables (user2 on db2)" \
    "$(my_sql "$c2" user2 pw2 db2 'CREATE TABLE t (x INT); INSERT INTO t VALUES (42); SELECT x FROM t')" "42"
  expect_eq "MYSQL_ROOT_PASSWORD" "$(my_sql "$c2" root rootpw2 mysql 'SELECT 1')" "1"
  docker rm -f "$c2" >/dev/null; docker volume rm "$v2" >/dev/null
}

# ================================================================ Redis
rd_ready() { [ "$(docker exec -e REDISCLI_AUTH="$RD_PASS" "$1" redis-cli ping)" = PONG ]; }
rd_cli() { docker exec -e REDISCLI_AUTH="$RD_PASS" "$1" redis-cli "${@:2}"; }
check_redis() {
  local c=$P-redis v=$P-redis-data cl=$P-redis-client url
  log "== $RD_IMG"
  track_ctr "$c"; track_vol "$v"; track_ctr "$cl"; current=$c

  # Extra CMD args are server flags, as with the official image.
  rd_run() {
    docker run -d --name "$c" --network "$NET" -v "$v:/data" -p "127.0.0.1:$RD_PORT:6379" \
      -e REDIS_PASSWORD="$1" "$RD_IMG" --maxmemory 64mb --maxmemory-policy allkeys-lru >/dev/null
  }
  T0_MS=$(now_ms); rd_run "$RD_PASS"; wait_until 30 "$c" rd_ready "$c"
  R[redis.first]=$ELAPSED_MS; log "  healthy after $(secs "$ELAPSED_MS") (first start)"

  probe_log "host probe 127.0.0.1:$RD_PORT" redis "$RD_PORT" "$RD_PASS"
  expect_eq "PID 1" "$(docker exec "$c" ps -o user=,comm= -p 1 | tr -s ' ')" "redis redis-server"
  expect_eq "password not in PID 1's command line" \
    "$(docker exec "$c" cat /proc/1/cmdline | tr '\0' ' ' | grep -c "pw-" || true)" "0"
  expect_eq "CMD flag --maxmemory 64mb" "$(rd_cli "$c" config get maxmemory | tail -n 1)" "67108864"
  expect_eq "config dir" "$(rd_cli "$c" config get dir | tail -n 1)" "/data"

  # By host name + REDISCLI_AUTH: Debian's redis-cli 7.0 does not
  # percent-decode a password in a redis:// URL (newer redis-cli does), and
  # RD_PASS has a space and quotes. The URL form is checked with a plain
  # password through the ACL user below.
  expect_eq "SET from client container" "$(docker run --rm --name "$cl" --network "$NET" -e REDISCLI_AUTH="$RD_PASS" \
    "$RD_IMG" redis-cli -h "$c" SET reconciler:check persisted)" "OK"
  rd_cli "$c" ACL SETUSER appuser on '>url-safe-Pw1' '~*' '+@all' >/dev/null
  url="redis://appuser:url-safe-Pw1@$c:6379/0"
  expect_eq "GET from client container by URL" "$(docker run --rm --name "$cl" --network "$NET" "$RD_IMG" \
    redis-cli -u "$url" --no-auth-warning GET reconciler:check)" "persisted"
  expect_eq "without AUTH" "$(docker run --rm --name "$cl" --network "$NET" "$RD_IMG" \
    redis-cli -h "$c" GET reconciler:check 2>&1 | cut -d' ' -f1)" "NOAUTH"

  stop_timed "$c"; R[redis.stop]=$STOP_MS; log "  docker stop took $(secs "$STOP_MS") (saves dump.rdb on SIGTERM)"
  T0_MS=$(now_ms); docker start "$c" >/dev/null; wait_until 30 "$c" rd_ready "$c"
  R[redis.restart]=$ELAPSED_MS; log "  healthy after $(secs "$ELAPSED_MS") (docker start)"
  expect_eq "data after restart" "$(rd_cli "$c" GET reconciler:check)" "persisted"

  # Redis has no bootstrap: the password is a flag, so a recreate with a new
  # REDIS_PASSWORD does change it (unlike the databases above).
  docker rm -f "$c" >/dev/null
  T0_MS=$(now_ms); rd_run "$RD_PASS"; wait_until 30 "$c" rd_ready "$c"
  R[redis.recreate]=$ELAPSED_MS; log "  healthy after $(secs "$ELAPSED_MS") (recreated on the same volume)"
  expect_eq "data after recreate" "$(rd_cli "$c" GET reconciler:check)" "persisted"
  docker rm -f "$c" >/dev/null; docker volume rm "$v" >/dev/null
}

# ================================================================ RabbitMQ
rb_node_up() { docker exec "$1" rabbitmq-diagnostics -q ping; }
rb_ready() { docker exec "$1" rabbitmq-diagnostics -q check_port_connectivity; }
check_rabbitmq() {
  local c=$P-rabbitmq v=$P-rabbitmq-data
  log "== $RB_IMG"
  track_ctr "$c"; track_vol "$v"; current=$c

  # --hostname: the node name (rabbit@HOSTNAME) keys the data dir; a recreate
  # must keep it, exactly as with the official image.
  rb_run() {
    docker run -d --name "$c" --hostname "$c" --network "$NET" -v "$v:/var/lib/rabbitmq" \
      -p "127.0.0.1:$RB_PORT:5672" -e RABBITMQ_DEFAULT_USER=app -e RABBITMQ_DEFAULT_PASS="$1" \
      "$RB_IMG" >/dev/null
  }
  T0_MS=$(now_ms); rb_run "$RB_PASS"
  wait_until 90 "$c" rb_node_up "$c"; R[rabbitmq.ping]=$ELAPSED_MS
  log "  'rabbitmq-diagnostics ping' ok after $(secs "$ELAPSED_MS") (Erlang node up; broker still booting)"
  wait_until 90 "$c" rb_ready "$c"
  R[rabbitmq.first]=$ELAPSED_MS; log "  healthy (check_port_connectivity) after $(secs "$ELAPSED_MS") (first start)"

  probe_log "host probe 127.0.0.1:$RB_PORT" amqp "$RB_PORT" app "$RB_PASS" ok
  probe_log "host probe, wrong password" amqp "$RB_PORT" app wrong denied
  probe_log "host probe, guest" amqp "$RB_PORT" guest guest denied
  expect_eq "PID 1" "$(docker exec "$c" ps -o user=,args= -p 1 | tr -s ' ')" \
    "rabbitmq /bin/sh /usr/lib/rabbitmq/bin/rabbitmq-server"
  expect_eq "default_user written to rabbitmq.conf" \
    "$(docker exec "$c" grep -c '^default_user = app$' /etc/rabbitmq/rabbitmq.conf)" "1"
  docker logs "$c" 2>&1 | grep 'RABBITMQ_DEFAULT_PASS has characters rabbitmq.conf cannot hold' >/dev/null \
    || die "RABBITMQ_DEFAULT_PASS (with '#') did not take the environment path"
  log "  ok: password with '#' passed through the environment, not rabbitmq.conf"
  expect_eq "rabbitmqctl list_users" \
    "$(docker exec "$c" rabbitmqctl -q list_users --no-table-headers | tr -s '\t ' ' ')" "app [administrator]"
  docker exec "$c" rabbitmqctl -q authenticate_user app "$RB_PASS" >/dev/null || die "authenticate_user failed"
  log "  ok: rabbitmqctl authenticate_user app"
  # A literal '$HOME' in the name: arguments must reach RabbitMQ untouched.
  docker exec "$c" rabbitmqctl -q add_vhost "$RB_VHOST" >/dev/null
  expect_eq "vhost name passed untouched" \
    "$(docker exec "$c" rabbitmqctl -q list_vhosts --no-table-headers | grep -cxF "$RB_VHOST")" "1"

  stop_timed "$c"; R[rabbitmq.stop]=$STOP_MS; log "  docker stop took $(secs "$STOP_MS")"
  T0_MS=$(now_ms); docker start "$c" >/dev/null; wait_until 90 "$c" rb_ready "$c"
  R[rabbitmq.restart]=$ELAPSED_MS; log "  healthy after $(secs "$ELAPSED_MS") (docker start)"
  expect_eq "vhost after restart" \
    "$(docker exec "$c" rabbitmqctl -q list_vhosts --no-table-headers | grep -cxF "$RB_VHOST")" "1"

  docker rm -f "$c" >/dev/null
  T0_MS=$(now_ms); rb_run "changed-password"; wait_until 90 "$c" rb_ready "$c"
  R[rabbitmq.recreate]=$ELAPSED_MS; log "  healthy after $(secs "$ELAPSED_MS") (recreated on the same volume)"
  expect_eq "vhost after recreate" \
    "$(docker exec "$c" rabbitmqctl -q list_vhosts --no-table-headers | grep -cxF "$RB_VHOST")" "1"
  probe_log "old password" amqp "$RB_PORT" app "$RB_PASS" ok
  probe_log "changed RABBITMQ_DEFAULT_PASS ignored" amqp "$RB_PORT" app changed-password denied
  docker rm -f "$c" >/dev/null; docker volume rm "$v" >/dev/null
}

# ================================================================ main
engines=("$@")
[ "${#engines[@]}" -gt 0 ] || engines=(postgres mariadb redis rabbitmq)
for e in "${engines[@]}"; do
  case "$e" in postgres|mariadb|redis|rabbitmq) ;; *) die "unknown engine '$e'" ;; esac
done
docker info >/dev/null 2>&1 || die "no Docker engine; run scripts/setup-docker.sh first"
for img in "$PG_IMG" "$MY_IMG" "$RD_IMG" "$RB_IMG"; do
  docker image inspect "$img" >/dev/null 2>&1 || die "$img missing; run scripts/addon-images.sh first"
done
docker network rm "$NET" >/dev/null 2>&1 || true
docker network create "$NET" >/dev/null

t_all=$(now_ms)
for e in "${engines[@]}"; do "check_$e"; done

printf '%-9s %12s %10s %12s %12s\n' engine first-start stop restart recreate
for e in "${engines[@]}"; do
  printf '%-9s %12s %10s %12s %12s\n' "$e" "$(secs "${R[$e.first]}")" "$(secs "${R[$e.stop]}")" \
    "$(secs "${R[$e.restart]}")" "$(secs "${R[$e.recreate]}")"
done
echo "(start times: docker run/start until the in-container health check passes)"
log "all checks passed in $(secs $(( $(now_ms) - t_all )))"
