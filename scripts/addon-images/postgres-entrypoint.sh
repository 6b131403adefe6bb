#!/usr/bin/env bash
# Entrypoint of reconciler-fixture/postgres:15 and :17 (built by
# scripts/addon-images.sh from Debian's postgresql-15, and trixie's
# postgresql-17). It reproduces the part of the official postgres
# image's docker-entrypoint.sh that the reconciler's catalog relies on, so the
# add-on tests exercise the same contract as `postgres:15` from Docker Hub:
#   - first start with an empty $PGDATA: initdb as user postgres with
#     POSTGRES_USER (default postgres), POSTGRES_PASSWORD (required unless
#     POSTGRES_HOST_AUTH_METHOD=trust), POSTGRES_DB (default: the user),
#     POSTGRES_INITDB_ARGS; every variable also as VAR_FILE (Docker secrets);
#   - pg_hba: local socket + 127.0.0.1 trust (initdb's default, as upstream),
#     `host all all all scram-sha-256` for everyone else;
#   - /docker-entrypoint-initdb.d/*.sh|*.sql run once, on first start only;
#   - an initialised $PGDATA skips all of the above (bootstrap variables are
#     then ignored, exactly like upstream);
#   - finally `exec postgres` as PID 1 running as postgres, so the image's
#     STOPSIGNAL (SIGINT = fast shutdown) reaches the server directly.
set -Eeuo pipefail

log() { echo "postgres-entrypoint: $*" >&2; }

# file_env VAR [DEFAULT]: take VAR, or the content of the file named by
# VAR_FILE, or DEFAULT (same semantics as the official image).
file_env() {
  local var=$1 file_var="${1}_FILE" def=${2:-} val
  if [ -n "${!var:-}" ] && [ -n "${!file_var:-}" ]; then
    log "error: both $var and $file_var are set (but are exclusive)"; exit 1
  fi
  val=$def
  if [ -n "${!var:-}" ]; then val=${!var}
  elif [ -n "${!file_var:-}" ]; then val=$(<"${!file_var}")
  fi
  export "$var"="$val"
  unset "$file_var"
}

# `docker run IMAGE -c shared_buffers=256MB` => postgres -c shared_buffers=...
if [ "${1:0:1}" = '-' ]; then set -- postgres "$@"; fi

# Anything else (psql, bash, pg_dump ...) runs as given, like upstream.
if [ "$1" != postgres ]; then exec "$@"; fi

: "${PGDATA:=/var/lib/postgresql/data}"
export PGDATA

if [ "$(id -u)" = 0 ]; then
  # As root: make the data dir (a fresh volume may be root-owned) and the
  # socket dir usable by postgres, then re-exec this script as postgres.
  # setpriv execs directly (no fork, unlike su/runuser), so postgres ends up
  # as PID 1 and receives docker stop's signal itself.
  mkdir -p "$PGDATA" /var/run/postgresql
  chown postgres:postgres /var/run/postgresql
  chmod 3777 /var/run/postgresql
  # Only fix ownership when it is wrong: a big data dir would make a
  # recursive chown on every start slow.
  find "$PGDATA" \! -user postgres -exec chown postgres:postgres '{}' +
  chmod 700 "$PGDATA"
  export HOME=/var/lib/postgresql
  exec setpriv --reuid=postgres --regid=postgres --init-groups "${BASH_SOURCE[0]}" "$@"
fi

if [ -s "$PGDATA/PG_VERSION" ]; then
  log "PostgreSQL database directory appears to contain a database; skipping initialization"
else
  file_env POSTGRES_PASSWORD
  file_env POSTGRES_USER postgres
  file_env POSTGRES_DB "$POSTGRES_USER"
  file_env POSTGRES_INITDB_ARGS
  : "${POSTGRES_HOST_AUTH_METHOD:=scram-sha-256}"

  if [ -z "$POSTGRES_PASSWORD" ] && [ "$POSTGRES_HOST_AUTH_METHOD" != trust ]; then
    cat >&2 <<'MSG'
Error: Database is uninitialized and superuser password is not specified.
       You must specify POSTGRES_PASSWORD to a non-empty value for the
       superuser. For example, "-e POSTGRES_PASSWORD=password" on "docker run".
       (Or POSTGRES_HOST_AUTH_METHOD=trust to allow all connections without a
       password; not recommended.)
MSG
    exit 1
  fi

  log "initialising $PGDATA (user $POSTGRES_USER, database $POSTGRES_DB)"
  # The password goes through a pipe, never argv (ps) or a file on disk. initdb
  # refuses a truly empty pwfile, hence the "\n" (same as upstream).
  # POSTGRES_INITDB_ARGS is word-split on purpose (upstream evals it).
  # shellcheck disable=SC2086
  initdb --username="$POSTGRES_USER" --pwfile=<(printf '%s\n' "$POSTGRES_PASSWORD") \
    $POSTGRES_INITDB_ARGS

  # Every non-local connection must authenticate (scram-sha-256 unless told
  # otherwise). listen_addresses='*' already comes from the image's patched
  # postgresql.conf.sample, as upstream.
  printf '\n%s\n' "host all all all $POSTGRES_HOST_AUTH_METHOD" >>"$PGDATA/pg_hba.conf"

  # Temporary server on the unix socket only: nothing outside the container
  # can reach (or health-check as ready) a half-bootstrapped database.
  pg_ctl -D "$PGDATA" -o "-c listen_addresses='' -p 5432" -w start >&2

  psql_local=(psql -v ON_ERROR_STOP=1 --no-psqlrc --username "$POSTGRES_USER" --no-password)
  # SQL on stdin, not -c: only scripts get psql's :'var' / :"var" quoting,
  # which keeps odd database names safe.
  db_exists=$("${psql_local[@]}" --dbname postgres --set db="$POSTGRES_DB" --tuples-only --no-align \
                <<<"SELECT 1 FROM pg_database WHERE datname = :'db';")
  if [ -z "$db_exists" ]; then
    "${psql_local[@]}" --dbname postgres --set db="$POSTGRES_DB" >&2 <<<'CREATE DATABASE :"db";'
  fi

  for f in /docker-entrypoint-initdb.d/*; do
    # shellcheck source=/dev/null
    case "$f" in
      *.sh)  log "running $f"; if [ -x "$f" ]; then "$f"; else . "$f"; fi ;;
      *.sql) log "running $f"; "${psql_local[@]}" --dbname "$POSTGRES_DB" -f "$f" >&2 ;;
      *)     if [ -e "$f" ]; then log "ignoring $f"; fi ;;
    esac
  done

  pg_ctl -D "$PGDATA" -m fast -w stop >&2
  log "PostgreSQL init process complete; ready for start up"
fi

# The server has no use for the password; keep it out of its environment.
unset POSTGRES_PASSWORD POSTGRES_PASSWORD_FILE

exec "$@"
