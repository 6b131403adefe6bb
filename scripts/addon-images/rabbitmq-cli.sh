#!/bin/sh
# RabbitMQ CLI wrapper of reconciler-fixture/rabbitmq:3.10, installed as
# /usr/local/bin/rabbitmq-cli with rabbitmqctl, rabbitmq-diagnostics,
# rabbitmq-plugins, rabbitmq-queues, rabbitmq-streams and rabbitmq-upgrade
# symlinked to it (ahead of Debian's /usr/sbin ones on PATH).
# Why: Debian's /usr/sbin/rabbitmqctl re-parses its arguments through
# `su -c "..."`, so `$`, backquotes and `\` in them are expanded by a shell
# (`rabbitmqctl add_user u 'p$HOME'` sets a different password); the official
# image passes arguments untouched. This runs the real tool as user rabbitmq
# with HOME=/var/lib/rabbitmq (the server's Erlang cookie), arguments as given.
set -eu
tool=/usr/lib/rabbitmq/bin/$(basename "$0")
[ -x "$tool" ] || { echo "rabbitmq-cli: no such tool: $tool" >&2; exit 127; }
export HOME=/var/lib/rabbitmq
cd /var/lib/rabbitmq 2>/dev/null || cd /
case "$(id -u)" in
  0) exec setpriv --reuid=rabbitmq --regid=rabbitmq --init-groups "$tool" "$@" ;;
  *) exec "$tool" "$@" ;;
esac
