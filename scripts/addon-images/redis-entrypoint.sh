#!/usr/bin/env bash
# Entrypoint of reconciler-fixture/redis:7 (built by scripts/addon-images.sh
# from Debian's redis-server 7.0). Behaves like the official redis image:
# CMD is `redis-server`, extra CMD args are server flags (`docker run IMAGE
# --maxmemory 64mb` or `... redis-server --appendonly yes`), a first arg ending
# in .conf is a config file, the server runs in the foreground as user redis
# with data in /data, as PID 1 (exec, no fork) so docker stop's SIGTERM makes
# it save and exit at once.
# Added on top of upstream (whose image ships with protected-mode off and no
# bind restriction): the defaults are spelled out as flags, because Debian's
# binary has protected-mode on; and REDIS_PASSWORD, if set, becomes
# --requirepass. NOTE: REDIS_PASSWORD is NOT a variable of the official image;
# a catalog that must also work with redis:7 from Docker Hub should pass
# `--requirepass ...` as a CMD argument instead (this image accepts both).
set -Eeuo pipefail

# `docker run IMAGE --port 7000` or `docker run IMAGE /etc/redis.conf`
if [ "${1#-}" != "$1" ] || [ "${1%.conf}" != "$1" ]; then set -- redis-server "$@"; fi
if [ "$1" != redis-server ]; then exec "$@"; fi   # redis-cli, bash ...
shift

args=()
# A config file must come first; flags after it override it, and the user's
# own flags (last) override our defaults.
if [ "$#" -gt 0 ] && [ "${1%.conf}" != "$1" ]; then args+=("$1"); shift; fi
args+=(--bind 0.0.0.0 --protected-mode no --dir /data --daemonize no)
if [ -n "${REDIS_PASSWORD:-}" ]; then args+=(--requirepass "$REDIS_PASSWORD"); fi
unset REDIS_PASSWORD
args+=("$@")

# Upstream: tighten the default umask so dump.rdb is not world-readable.
if [ "$(umask)" = 0022 ]; then umask 0077; fi

if [ "$(id -u)" = 0 ]; then
  # A fresh volume may be root-owned; fix only what is wrong.
  find /data \! -user redis -exec chown redis:redis '{}' +
  exec setpriv --reuid=redis --regid=redis --init-groups redis-server "${args[@]}"
fi
exec redis-server "${args[@]}"
