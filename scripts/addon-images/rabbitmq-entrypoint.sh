#!/usr/bin/env bash
# Entrypoint of reconciler-fixture/rabbitmq:3.10 (built by scripts/addon-images.sh
# from Debian's rabbitmq-server 3.10). Behaves like the official rabbitmq image
# for what the reconciler's catalog uses:
#   - RABBITMQ_DEFAULT_USER / RABBITMQ_DEFAULT_PASS (and RABBITMQ_DEFAULT_VHOST)
#     become default_user / default_pass / default_vhost in
#     /etc/rabbitmq/rabbitmq.conf, written on every start, with
#     loopback_users = none so that user may log in over the network. As with
#     upstream, RabbitMQ only applies them when it creates its database, i.e.
#     on the first start with an empty /var/lib/rabbitmq;
#   - a value that rabbitmq.conf cannot hold (its format has no quoting: '#'
#     starts a comment anywhere, and edges are trimmed) stays in the
#     environment instead, which RabbitMQ 3.10 reads itself (that is all the
#     official 3.9+ images do with these variables);
#   - data (mnesia, Erlang cookie) in /var/lib/rabbitmq, logs on stdout;
#   - the server runs in the foreground as user rabbitmq; RabbitMQ's own
#     rabbitmq-server script is PID 1 (exec'd via setpriv, no fork) and turns
#     docker stop's SIGTERM into a clean broker shutdown.
# As upstream: the node name is rabbit@$HOSTNAME and the data lives under that
# name, so a container recreated on the same volume must keep its hostname
# (docker run --hostname ...) or it starts with an empty database.
set -Eeuo pipefail

log() { echo "rabbitmq-entrypoint: $*" >&2; }

# `docker run IMAGE -rabbit foo bar` => rabbitmq-server -rabbit foo bar
if [ "${1:0:1}" = '-' ]; then set -- rabbitmq-server "$@"; fi
if [ "$1" != rabbitmq-server ]; then exec "$@"; fi   # rabbitmqctl, bash ...
shift

if [ "$(id -u)" != 0 ]; then
  log "error: must start as root (it writes /etc/rabbitmq/rabbitmq.conf, then drops to user rabbitmq)"
  exit 1
fi

# One `key = value` per line in RabbitMQ's (cuttlefish) format. It has no
# quoting or escapes: a value is everything up to a '#' or the end of the line,
# trimmed. Such a value can go into the file; any other stays in the
# environment (see above). Never log a value: it may be the password.
conf=/etc/rabbitmq/rabbitmq.conf
conf_safe() {
  case "$1" in
    *'#'* | *$'\n'* | *$'\r'* | [[:space:]]* | *[[:space:]]) return 1 ;;
  esac
}
{
  echo "# Written by the image's entrypoint on every start; edits are lost."
  echo "loopback_users = none"
  for var in RABBITMQ_DEFAULT_USER RABBITMQ_DEFAULT_PASS RABBITMQ_DEFAULT_VHOST; do
    val=${!var:-}
    [ -n "$val" ] || continue
    key=${var#RABBITMQ_DEFAULT_}; key=default_${key,,}
    if conf_safe "$val"; then
      printf '%s = %s\n' "$key" "$val"
      unset "$var"   # the file is the one source; keep it out of the broker's env
    else
      log "$var has characters rabbitmq.conf cannot hold; passing it through the environment" >&2
    fi
  done
} >"$conf.tmp"
# Readable by rabbitmq only: it holds the default password.
chown root:rabbitmq "$conf.tmp"
chmod 640 "$conf.tmp"
mv "$conf.tmp" "$conf"

# A fresh volume may be root-owned; fix only what is wrong.
mkdir -p /var/lib/rabbitmq /var/log/rabbitmq
find /var/lib/rabbitmq /var/log/rabbitmq \! -user rabbitmq -exec chown rabbitmq:rabbitmq '{}' +

# HOME is where the server creates (on first start) and reads .erlang.cookie;
# the CLI tools (/usr/local/bin/rabbitmq-cli, as root switching to rabbitmq)
# use the same file, so `docker exec ... rabbitmqctl` works.
export HOME=/var/lib/rabbitmq
cd /var/lib/rabbitmq
exec setpriv --reuid=rabbitmq --regid=rabbitmq --init-groups \
  /usr/lib/rabbitmq/bin/rabbitmq-server "$@"
