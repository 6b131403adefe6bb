#!/usr/bin/env bash
# Entrypoint of reconciler-fixture/mariadb:10.11 (built by scripts/addon-images.sh
# from Debian's mariadb-server 10.11). It reproduces the part of the official
# mariadb image's docker-entrypoint.sh that the reconciler's catalog relies on:
#   - first start with an empty /var/lib/mysql: mariadb-install-db, then on a
#     temporary socket-only server: root password from MARIADB_ROOT_PASSWORD
#     (root@localhost and root@MARIADB_ROOT_HOST, default '%'), database
#     MARIADB_DATABASE, user MARIADB_USER/MARIADB_PASSWORD with ALL on that
#     database; /docker-entrypoint-initdb.d/*.sh|*.sql run once;
#   - every variable is also accepted under its MYSQL_* name and as *_FILE;
#     MARIADB_ALLOW_EMPTY_ROOT_PASSWORD / MARIADB_RANDOM_ROOT_PASSWORD as upstream;
#   - an initialised data dir skips all of that (variables are ignored then);
#   - finally `exec mariadbd` as PID 1 running as mysql, listening on
#     0.0.0.0:3306 (see /etc/mysql/mariadb.conf.d/99-reconciler-fixture.cnf),
#     so docker stop's SIGTERM reaches the server directly.
# Not reproduced: time zone tables (upstream loads them unless
# MARIADB_INITDB_SKIP_TZINFO is set), replication variables, *.sql.gz/xz/zst.
set -Eeuo pipefail

log() { echo "mariadb-entrypoint: $*" >&2; }

DATADIR=/var/lib/mysql
SOCKET=/run/mysqld/mysqld.sock

# mariadb_env NAME [DEFAULT]: MARIADB_NAME, else MYSQL_NAME, else the file named
# by MARIADB_NAME_FILE / MYSQL_NAME_FILE, else DEFAULT; result in MARIADB_NAME.
mariadb_env() {
  local name=$1 def=${2:-} v val=""
  for v in "MARIADB_$name" "MYSQL_$name"; do
    if [ -n "${!v:-}" ]; then val=${!v}; break; fi
    local f="${v}_FILE"
    if [ -n "${!f:-}" ]; then val=$(<"${!f}"); break; fi
  done
  export "MARIADB_$name"="${val:-$def}"
}

# Escape a value for a single-quoted SQL string literal (same as upstream).
sql_escape() {
  local nl=$'\n' s=${1//\\/\\\\}
  s=${s//$nl/\\n}
  printf '%s' "${s//\'/\\\'}"
}

# `docker run IMAGE --max-connections=500` => mariadbd --max-connections=500
if [ "${1:0:1}" = '-' ]; then set -- mariadbd "$@"; fi
case "$1" in
  mariadbd|mysqld) ;;
  *) exec "$@" ;;   # mariadb, mariadb-dump, bash ... run as given
esac

if [ "$(id -u)" = 0 ]; then
  # A fresh volume may be root-owned; fix only what is wrong (cheap on big
  # data dirs), then re-exec as mysql. setpriv execs without forking, so
  # mariadbd becomes PID 1 and gets docker stop's SIGTERM itself.
  mkdir -p "$DATADIR" /run/mysqld
  chown mysql:mysql /run/mysqld
  find "$DATADIR" \! -user mysql -exec chown mysql:mysql '{}' +
  exec setpriv --reuid=mysql --regid=mysql --init-groups "${BASH_SOURCE[0]}" "$@"
fi

if [ -d "$DATADIR/mysql" ]; then
  log "database directory $DATADIR already contains a database; skipping initialization"
else
  mariadb_env ROOT_PASSWORD
  mariadb_env ROOT_HOST '%'
  mariadb_env DATABASE
  mariadb_env USER
  mariadb_env PASSWORD
  mariadb_env ALLOW_EMPTY_ROOT_PASSWORD
  mariadb_env RANDOM_ROOT_PASSWORD

  if [ -z "$MARIADB_ROOT_PASSWORD" ] && [ -z "$MARIADB_ALLOW_EMPTY_ROOT_PASSWORD" ] \
     && [ -z "$MARIADB_RANDOM_ROOT_PASSWORD" ]; then
    log "error: database is uninitialized and password option is not specified"
    log "  You need to specify one of MARIADB_ROOT_PASSWORD, MARIADB_ALLOW_EMPTY_ROOT_PASSWORD and MARIADB_RANDOM_ROOT_PASSWORD"
    exit 1
  fi
  if [ -n "$MARIADB_USER" ] && [ "$MARIADB_USER" = root ]; then
    log "error: MARIADB_USER=root is not allowed; use MARIADB_ROOT_PASSWORD for root"
    exit 1
  fi
  if [ -n "$MARIADB_USER" ] && [ -z "$MARIADB_PASSWORD" ]; then
    log "error: MARIADB_USER is set but MARIADB_PASSWORD is empty"
    exit 1
  fi
  if [ -n "$MARIADB_RANDOM_ROOT_PASSWORD" ]; then
    MARIADB_ROOT_PASSWORD=$(tr -dc 'A-Za-z0-9' </dev/urandom | head -c 32)
    log "GENERATED ROOT PASSWORD: $MARIADB_ROOT_PASSWORD"
  fi

  log "initialising $DATADIR"
  # Same options as upstream: root authenticates by password (not unix
  # socket), no test database, no binlog during bootstrap.
  mariadb-install-db --datadir="$DATADIR" --rpm --auth-root-authentication-method=normal \
    --skip-test-db --skip-log-bin --expire-logs-days=0 --default-time-zone=SYSTEM \
    --loose-innodb_buffer_pool_load_at_startup=0 --loose-innodb_buffer_pool_dump_at_shutdown=0 >&2

  # Temporary server without networking: nothing outside the container can
  # connect (or see it as healthy) before users and passwords exist.
  "$@" --skip-networking --default-time-zone=SYSTEM --socket="$SOCKET" --wsrep_on=OFF \
    --expire-logs-days=0 --skip-slave-start --loose-innodb_buffer_pool_load_at_startup=0 &
  tmp_pid=$!
  for _ in $(seq 60); do
    mariadb-admin --no-defaults --socket="$SOCKET" -uroot ping >/dev/null 2>&1 && break
    kill -0 "$tmp_pid" 2>/dev/null || { log "error: temporary server died during init"; exit 1; }
    sleep 0.5
  done

  root_pw=$(sql_escape "$MARIADB_ROOT_PASSWORD")
  sql="SET @@SESSION.SQL_LOG_BIN=0;
SET @@SESSION.SQL_MODE=REPLACE(@@SESSION.SQL_MODE, 'NO_BACKSLASH_ESCAPES', '');
DROP USER IF EXISTS root@'127.0.0.1', root@'::1';
EXECUTE IMMEDIATE CONCAT('DROP USER IF EXISTS root@\\'', @@hostname, '\\'');
SET PASSWORD FOR 'root'@'localhost' = PASSWORD('$root_pw');"
  if [ "$MARIADB_ROOT_HOST" != localhost ]; then
    sql+="
CREATE USER 'root'@'$MARIADB_ROOT_HOST' IDENTIFIED BY '$root_pw';
GRANT ALL ON *.* TO 'root'@'$MARIADB_ROOT_HOST' WITH GRANT OPTION;
GRANT PROXY ON ''@'%' TO 'root'@'$MARIADB_ROOT_HOST' WITH GRANT OPTION;"
  fi
  if [ -n "$MARIADB_DATABASE" ]; then
    log "creating database $MARIADB_DATABASE"
    sql+="
CREATE DATABASE IF NOT EXISTS \`$MARIADB_DATABASE\`;"
  fi
  if [ -n "$MARIADB_USER" ]; then
    log "creating user $MARIADB_USER"
    sql+="
CREATE USER '$MARIADB_USER'@'%' IDENTIFIED BY '$(sql_escape "$MARIADB_PASSWORD")';"
    if [ -n "$MARIADB_DATABASE" ]; then
      # '_' is a wildcard in GRANT ... ON db.*; escape it as upstream does.
      sql+="
GRANT ALL ON \`${MARIADB_DATABASE//_/\\_}\`.* TO '$MARIADB_USER'@'%';"
    fi
  fi
  # Root has no password yet: this is the one statement batch that may run
  # without one. The SQL goes through stdin, never argv.
  mariadb --no-defaults --socket="$SOCKET" -uroot --database=mysql --binary-mode <<<"$sql"

  # From here on root needs its password; pass it via a defaults file on a
  # pipe (never argv, never disk).
  passfile() { printf '[client]\npassword="%s"\n' "$(sql_escape "$MARIADB_ROOT_PASSWORD")"; }
  for f in /docker-entrypoint-initdb.d/*; do
    # shellcheck source=/dev/null
    case "$f" in
      *.sh)  log "running $f"; if [ -x "$f" ]; then "$f"; else . "$f"; fi ;;
      *.sql) log "running $f"
             mariadb --defaults-extra-file=<(passfile) --socket="$SOCKET" -uroot \
               ${MARIADB_DATABASE:+--database="$MARIADB_DATABASE"} <"$f" ;;
      *)     if [ -e "$f" ]; then log "ignoring $f"; fi ;;
    esac
  done

  kill "$tmp_pid"
  wait "$tmp_pid" || true
  log "MariaDB init process done; ready for start up"
fi

unset MARIADB_ROOT_PASSWORD MYSQL_ROOT_PASSWORD MARIADB_PASSWORD MYSQL_PASSWORD
exec "$@"
