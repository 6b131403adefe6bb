#!/usr/bin/env bash
# Build the local add-on images the add-on tests (issue 3) point
# `settings.images` at. No container registry is reachable here, so nothing can
# come FROM postgres:15 & co.; instead each image is Debian's own package of
# the engine plus an entrypoint (scripts/addon-images/*-entrypoint.sh) that
# honours the same bootstrap variables as the official Docker Hub image:
#   reconciler-fixture/postgres:15     postgresql-15    POSTGRES_USER/_PASSWORD/_DB
#   reconciler-fixture/mariadb:10.11   mariadb-server   MARIADB_* (and MYSQL_*)
#   reconciler-fixture/redis:7         redis-server     CMD args; REDIS_PASSWORD
#   reconciler-fixture/rabbitmq:3.10   rabbitmq-server  RABBITMQ_DEFAULT_USER/_PASS
#   reconciler-fixture/postgres:17     postgresql-17    (Debian trixie; a second major for
#                                                        the dumpRestore upgrade tests)
# (No MySQL: Debian has none, and MariaDB must not pose as it.)
#
# How, and why this way:
#   1. ONE root fs with all four engines (mmdebstrap from Debian's mirror,
#      1-2.5 min, ~700 MB) imported once as reconciler-fixture/addon-base:1. The
#      four images share that layer, so they cost its disk space once and the
#      slow step runs once. The tar is kept in $CACHE_DIR, so a deleted base
#      image is re-imported without a new download.
#   2. Each engine image = that base + a tiny layer (entrypoint, a config
#      tweak), made by docker create / cp / start / commit: no `docker build`,
#      no public base image, a few seconds per image.
#   3. Idempotent: an image that already exists is skipped, so a rerun only
#      runs `docker image inspect` (about a second). Delete an image (or the
#      base, or the cached tar) to rebuild it.
#   4. postgres:17 comes from trixie (bookworm has no PostgreSQL 17): a second,
#      small root fs with only postgresql-17 (cached the same way, imported as
#      reconciler-fixture/addon-base-trixie:1), derived with the same
#      entrypoint. Built only when that image is missing.
# Verify the images with scripts/addon-images-check.sh.
#   usage: scripts/addon-images.sh
# The single-quoted scripts below run in the build container / mmdebstrap's
# hook, so their $ must not expand here:
# shellcheck disable=SC2016
set -euo pipefail

log() { echo "addon-images: $*" >&2; }
die() { log "ERROR: $*"; exit 1; }

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
SRC=$HERE/addon-images
CACHE_DIR=${RECONCILER_FIXTURE_CACHE:-/var/cache/reconciler-fixtures}
BASE=reconciler-fixture/addon-base:1
PREFIX=reconciler-fixture
IMAGES=("$PREFIX/postgres:15" "$PREFIX/mariadb:10.11" "$PREFIX/redis:7" "$PREFIX/rabbitmq:3.10"
        "$PREFIX/postgres:17")
BASE_TRIXIE=reconciler-fixture/addon-base-trixie:1
SYS_PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin

# mmdebstrap arguments for the shared root fs. --variant=apt: essential
# packages + apt, no "important" extras. The dpkg path-excludes drop docs, man
# pages and translations (~100 MB nobody reads in a test fixture). The
# customize hook runs after all postinst scripts, on the host, with $1 = the
# root fs; it removes what the packages' postinst created for a *host* install
# and what would otherwise be baked into every container:
#   - postgresql-common's default cluster 15/main (our PGDATA is elsewhere,
#     and a stray cluster only confuses pg_lsclusters/pg_wrapper);
#   - the system tables mariadb-server's postinst put in /var/lib/mysql (the
#     entrypoint must find it empty on first start to bootstrap users);
#   - rabbitmq's Erlang cookie (every container would share one secret; the
#     server creates a fresh one on first start) and its empty mnesia dir;
#   - log files written during installation.
PACKAGES=postgresql-15,mariadb-server,mariadb-client,redis-server,rabbitmq-server,ca-certificates,procps,tini
CLEANUP_HOOK='set -e
rm -rf "$1/var/lib/postgresql/15/main" "$1/etc/postgresql/15/main"
find "$1/var/lib/mysql" -mindepth 1 -delete
rm -f "$1/var/lib/rabbitmq/.erlang.cookie"
find "$1/var/lib/rabbitmq" -mindepth 1 -maxdepth 1 -name mnesia -exec rm -rf {} +
find "$1/var/log" -type f -delete'
MMDEBSTRAP_ARGS=(
  --variant=apt --format=tar
  --include="$PACKAGES"
  --dpkgopt='path-exclude=/usr/share/doc/*'
  --dpkgopt='path-include=/usr/share/doc/*/copyright'
  --dpkgopt='path-exclude=/usr/share/man/*'
  --dpkgopt='path-exclude=/usr/share/info/*'
  --dpkgopt='path-exclude=/usr/share/locale/*'
  --customize-hook="$CLEANUP_HOOK"
)
# The cache key covers the arguments: changing the package list or the hook
# makes a new tar instead of silently reusing a stale one.
CACHE_KEY=$(printf '%s\n' "${MMDEBSTRAP_ARGS[@]}" | sha256sum | cut -c1-12)
BASE_TAR=$CACHE_DIR/addon-base-bookworm-$CACHE_KEY.tar

# The trixie root fs: the same arguments for PostgreSQL 17 alone (about a fifth
# of the bookworm one), with the same clean-up of the default cluster.
TRIXIE_PACKAGES=postgresql-17,ca-certificates,procps,tini
TRIXIE_ARGS=(
  --variant=apt --format=tar
  --include="$TRIXIE_PACKAGES"
  --dpkgopt='path-exclude=/usr/share/doc/*'
  --dpkgopt='path-include=/usr/share/doc/*/copyright'
  --dpkgopt='path-exclude=/usr/share/man/*'
  --dpkgopt='path-exclude=/usr/share/info/*'
  --dpkgopt='path-exclude=/usr/share/locale/*'
  --customize-hook='set -e
rm -rf "$1/var/lib/postgresql/17/main" "$1/etc/postgresql/17/main"
find "$1/var/log" -type f -delete'
)
TRIXIE_KEY=$(printf '%s\n' "${TRIXIE_ARGS[@]}" | sha256sum | cut -c1-12)
TRIXIE_TAR=$CACHE_DIR/addon-base-trixie-$TRIXIE_KEY.tar

have_image() { docker image inspect "$1" >/dev/null 2>&1; }

todo=()
for img in "${IMAGES[@]}"; do
  if have_image "$img"; then log "$img: already present"; else todo+=("$img"); fi
done
[ "${#todo[@]}" -eq 0 ] && exit 0

docker info >/dev/null 2>&1 || die "no Docker engine; run scripts/setup-docker.sh first"
for f in postgres-entrypoint.sh mariadb-entrypoint.sh mariadb-server.cnf redis-entrypoint.sh \
         rabbitmq-entrypoint.sh rabbitmq-cli.sh; do
  [ -f "$SRC/$f" ] || die "missing $SRC/$f"
done

# Whatever a failed or interrupted run leaves behind: the half-written root fs
# tar and the build container of the image being derived.
tmp_tar="" build_ctr=""
cleanup() {
  if [ -n "$tmp_tar" ]; then rm -f "$tmp_tar"; fi
  if [ -n "$build_ctr" ]; then docker rm -f "$build_ctr" >/dev/null 2>&1 || true; fi
}
trap cleanup EXIT

# --- 1. shared base image -------------------------------------------------------
ensure_mmdebstrap() {
  if ! command -v mmdebstrap >/dev/null 2>&1; then
    log "installing mmdebstrap"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq >&2
    apt-get install -y -qq mmdebstrap >&2
  fi
}

# build_rootfs SUITE TAR ARGS...: mmdebstrap SUITE into TAR.
build_rootfs() {
  local suite=$1 tar=$2; shift 2
  ensure_mmdebstrap
  mkdir -p "$CACHE_DIR"
  # No mirror argument: mmdebstrap then uses deb.debian.org for SUITE,
  # SUITE-updates and SUITE-security, like this host's own sources.
  # Written to a temp name and renamed, so an interrupted run never leaves a
  # truncated tar that a later run would trust.
  tmp_tar=$CACHE_DIR/.addon-base-$suite-$$.tar
  log "mmdebstrap $suite -> $tar (bookworm: 1-2.5 minutes, ~700 MB; trixie: less)"
  mmdebstrap "$@" "$suite" "$tmp_tar" >&2 || die "mmdebstrap $suite failed"
  mv "$tmp_tar" "$tar"
  tmp_tar=""
}

# import_base IMAGE TAR KEY: the root fs as an image (see step 1).
import_base() {
  # C.UTF-8 is built into Debian's libc (no locales package needed): initdb
  # then creates UTF8 databases, as upstream (which uses en_US.utf8) does.
  docker import \
    --change "ENV PATH=$SYS_PATH" --change 'ENV LANG=C.UTF-8' \
    --change 'CMD ["bash"]' \
    --change "LABEL io.reconciler.fixture=addon-base io.reconciler.fixture.rootfs=$3" \
    "$2" "$1" >/dev/null
  log "$1: imported $(docker image inspect -f '{{.Id}}' "$1" | cut -c1-19)"
}

needs_bookworm=no needs_trixie=no
for img in "${todo[@]}"; do
  case "$img" in
    "$PREFIX/postgres:17") needs_trixie=yes ;;
    *) needs_bookworm=yes ;;
  esac
done

if [ "$needs_bookworm" = yes ]; then
  if have_image "$BASE"; then
    log "$BASE: already present"
  else
    if [ -s "$BASE_TAR" ]; then
      log "reusing cached root fs $BASE_TAR"
    else
      build_rootfs bookworm "$BASE_TAR" "${MMDEBSTRAP_ARGS[@]}"
    fi
    import_base "$BASE" "$BASE_TAR" "$CACHE_KEY"
  fi
fi
if [ "$needs_trixie" = yes ]; then
  if have_image "$BASE_TRIXIE"; then
    log "$BASE_TRIXIE: already present"
  else
    if [ -s "$TRIXIE_TAR" ]; then
      log "reusing cached root fs $TRIXIE_TAR"
    else
      build_rootfs trixie "$TRIXIE_TAR" "${TRIXIE_ARGS[@]}"
    fi
    import_base "$BASE_TRIXIE" "$TRIXIE_TAR" "$TRIXIE_KEY"
  fi
fi

# --- 2. engine images -------------------------------------------------------------
# derive IMAGE ENGINE SETUP_SCRIPT [docker create args...] -- [commit --change args...]
# (from $BASE, or from $DERIVE_BASE when set)
# Like a one-RUN-step Dockerfile: create a container from the base, copy the
# engine's files in, run SETUP_SCRIPT in it (as root, no network needed), and
# commit the result with the engine's image config. SETUP_SCRIPT's last stdout
# line is the engine's Debian package version, recorded as a label. `docker
# create` options (--stop-signal) end up in the committed config too; the
# ENTRYPOINT/CMD changes replace the setup command.
derive() {
  local img=$1 engine=$2 setup=$3; shift 3
  local create_args=() change_args=() version
  while [ "$#" -gt 0 ] && [ "$1" != -- ]; do create_args+=("$1"); shift; done
  [ "$#" -gt 0 ] && shift
  change_args=("$@")

  build_ctr=reconciler-addon-build-$engine-$$
  docker rm -f "$build_ctr" >/dev/null 2>&1 || true
  docker create --name "$build_ctr" --network none "${create_args[@]}" \
    --entrypoint /bin/bash "${DERIVE_BASE:-$BASE}" -euo pipefail -c "$setup" >/dev/null
  docker cp "$SRC/$engine-entrypoint.sh" "$build_ctr:/usr/local/bin/docker-entrypoint.sh"
  case "$engine" in
    mariadb)  docker cp "$SRC/mariadb-server.cnf" "$build_ctr:/etc/mysql/mariadb.conf.d/99-reconciler-fixture.cnf" ;;
    rabbitmq) docker cp "$SRC/rabbitmq-cli.sh" "$build_ctr:/usr/local/bin/rabbitmq-cli" ;;
  esac
  version=$(docker start -a "$build_ctr" | tail -n 1) || die "$img: setup step failed"
  [ "$(docker inspect -f '{{.State.ExitCode}}' "$build_ctr")" = 0 ] || die "$img: setup step failed"
  docker commit \
    --change 'ENTRYPOINT ["/usr/local/bin/docker-entrypoint.sh"]' \
    --change "LABEL io.reconciler.fixture=addon io.reconciler.fixture.engine=$engine io.reconciler.fixture.debian-version=$version" \
    "${change_args[@]}" "$build_ctr" "$img" >/dev/null
  docker rm "$build_ctr" >/dev/null
  build_ctr=""
  log "$img: built $(docker image inspect -f '{{.Id}}' "$img" | cut -c1-19) (Debian package $version)"
}

# smoke IMAGE CMD...: the client tools the catalog's health checks and backups
# call must be on PATH; every one is named so a miss says which.
smoke() {
  local img=$1; shift
  docker run --rm --network none --entrypoint /bin/sh "$img" -c \
    'for t in "$@"; do command -v "$t" >/dev/null || { echo "missing: $t" >&2; exit 1; }; done' \
    smoke "$@" || die "$img: tools missing"
}

# derive_postgres IMAGE MAJOR BASE: Debian's postgresql-MAJOR, whose binaries
# live in the versioned /usr/lib/postgresql/MAJOR/bin (hence PATH).
derive_postgres() {
  local img=$1 major=$2
  # listen_addresses='*' goes into the sample config initdb copies (as
  # upstream does), so the first start needs no extra flags. PGDATA is
  # 1777 in the image (any --user works, as upstream); the entrypoint
  # narrows it to 700 before initdb. STOPSIGNAL SIGINT = "fast shutdown",
  # upstream's choice: SIGTERM ("smart") would wait for clients to leave.
  DERIVE_BASE=$3 derive "$img" postgres '
    chmod 755 /usr/local/bin/docker-entrypoint.sh
    sample=/usr/share/postgresql/'"$major"'/postgresql.conf.sample
    sed -ri "s!^#?(listen_addresses)\s*=\s*\S+.*!\1 = '"'*'"'!" "$sample"
    grep -qF "listen_addresses = '"'*'"'" "$sample"
    mkdir -p /var/lib/postgresql/data /var/run/postgresql /docker-entrypoint-initdb.d
    chown postgres:postgres /var/lib/postgresql/data /var/run/postgresql
    chmod 1777 /var/lib/postgresql/data
    chmod 3777 /var/run/postgresql
    [ ! -e /var/lib/postgresql/'"$major"'/main ]
    dpkg-query -W -f "\${Version}\n" postgresql-'"$major" \
    --stop-signal SIGINT -- \
    --change "ENV PATH=/usr/lib/postgresql/$major/bin:$SYS_PATH" \
    --change "ENV PG_MAJOR=$major" \
    --change 'ENV PGDATA=/var/lib/postgresql/data' \
    --change 'VOLUME /var/lib/postgresql/data' \
    --change 'EXPOSE 5432' \
    --change 'CMD ["postgres"]'
  smoke "$img" postgres initdb pg_ctl psql pg_dump pg_restore pg_isready setpriv
}

for img in "${todo[@]}"; do
  case "$img" in
    "$PREFIX/postgres:15") derive_postgres "$img" 15 "$BASE" ;;
    "$PREFIX/postgres:17") derive_postgres "$img" 17 "$BASE_TRIXIE" ;;

    "$PREFIX/mariadb:10.11")
      # The data dir must be empty in the image: a fresh volume is seeded from
      # it, and only an empty one triggers the bootstrap.
      derive "$img" mariadb '
        chmod 755 /usr/local/bin/docker-entrypoint.sh
        chmod 644 /etc/mysql/mariadb.conf.d/99-reconciler-fixture.cnf
        mkdir -p /var/lib/mysql /run/mysqld /docker-entrypoint-initdb.d
        chown mysql:mysql /var/lib/mysql /run/mysqld
        [ -z "$(ls -A /var/lib/mysql)" ]
        dpkg-query -W -f "\${Version}\n" mariadb-server' -- \
        --change 'VOLUME /var/lib/mysql' \
        --change 'EXPOSE 3306' \
        --change 'CMD ["mariadbd"]'
      smoke "$img" mariadbd mariadb-install-db mariadb mariadb-dump mysqldump mariadb-admin mysqladmin ;;

    "$PREFIX/redis:7")
      derive "$img" redis '
        chmod 755 /usr/local/bin/docker-entrypoint.sh
        mkdir -p /data
        chown redis:redis /data
        dpkg-query -W -f "\${Version}\n" redis-server' -- \
        --change 'VOLUME /data' \
        --change 'WORKDIR /data' \
        --change 'EXPOSE 6379' \
        --change 'CMD ["redis-server"]'
      smoke "$img" redis-server redis-cli ;;

    "$PREFIX/rabbitmq:3.10")
      # RABBITMQ_LOGS=- : log to stdout (docker logs), as upstream; Debian's
      # default is files under /var/log/rabbitmq. The CLI tools go through
      # rabbitmq-cli (see there: Debian's wrapper shell-expands arguments).
      derive "$img" rabbitmq '
        chmod 755 /usr/local/bin/docker-entrypoint.sh /usr/local/bin/rabbitmq-cli
        for t in rabbitmqctl rabbitmq-diagnostics rabbitmq-plugins rabbitmq-queues rabbitmq-streams rabbitmq-upgrade; do
          [ -e "/usr/lib/rabbitmq/bin/$t" ]
          ln -sf rabbitmq-cli "/usr/local/bin/$t"
        done
        mkdir -p /var/lib/rabbitmq /var/log/rabbitmq /etc/rabbitmq
        chown rabbitmq:rabbitmq /var/lib/rabbitmq /var/log/rabbitmq
        [ ! -e /var/lib/rabbitmq/.erlang.cookie ]
        dpkg-query -W -f "\${Version}\n" rabbitmq-server' -- \
        --change 'ENV RABBITMQ_LOGS=-' \
        --change 'VOLUME /var/lib/rabbitmq' \
        --change 'EXPOSE 4369 5671 5672 25672' \
        --change 'CMD ["rabbitmq-server"]'
      smoke "$img" rabbitmq-server rabbitmqctl rabbitmq-diagnostics rabbitmq-plugins
      [ "$(docker run --rm --network none "$img" sh -c 'command -v rabbitmqctl')" = /usr/local/bin/rabbitmqctl ] \
        || die "$img: rabbitmqctl does not resolve to the rabbitmq-cli wrapper" ;;

    *) die "no recipe for $img" ;;
  esac
done
log "done: ${todo[*]}"
