#!/usr/bin/env bash
# Bring up a real Docker engine (and optionally a local registry) on a fresh
# Debian 12 box without systemd. Idempotent: every step is skipped when its
# result is already there, so CI and reused machines can call it freely.
#   usage: scripts/setup-docker.sh [--registry]
set -euo pipefail

WANT_REGISTRY=0
for arg in "$@"; do
  case "$arg" in
    --registry) WANT_REGISTRY=1 ;;
    *) echo "usage: $0 [--registry]" >&2; exit 2 ;;
  esac
done

log() { echo "setup-docker: $*" >&2; }
die() { log "ERROR: $*"; exit 1; }

# Registry endpoint check: curl if present, else python (always on these boxes).
registry_up() {
  if command -v curl >/dev/null 2>&1; then
    curl -fsS -o /dev/null --max-time 2 http://127.0.0.1:5000/v2/ 2>/dev/null
  else
    python3 -c 'import urllib.request; urllib.request.urlopen("http://127.0.0.1:5000/v2/", timeout=2)' 2>/dev/null
  fi
}

# --- packages -----------------------------------------------------------------
# Check dpkg, not `command -v docker`: a newer docker CLI may already sit in
# /usr/local/bin without any engine. apt-get update runs at most once.
pkgs=(docker.io busybox-static)
[ "$WANT_REGISTRY" = 1 ] && pkgs+=(docker-registry)
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q '^install ok installed$' || missing+=("$p")
done
if [ "${#missing[@]}" -gt 0 ]; then
  log "installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >&2
  apt-get install -y -qq "${missing[@]}" >&2
else
  log "packages already installed (${pkgs[*]})"
fi

# --- engine -------------------------------------------------------------------
# No systemd here: start dockerd ourselves, detached via setsid so it outlives
# this script and the CI step's process group.
if docker info >/dev/null 2>&1; then
  log "docker: engine already running"
else
  # A dockerd that is still starting (e.g. a concurrent run) owns the pid file;
  # starting a second one would only fail, so just wait for the first.
  if [ -s /var/run/docker.pid ] && kill -0 "$(cat /var/run/docker.pid)" 2>/dev/null; then
    log "docker: dockerd already starting, waiting for it"
  else
    log "docker: starting dockerd (log: /var/log/dockerd.log)"
    setsid dockerd >>/var/log/dockerd.log 2>&1 < /dev/null &
  fi
  for _ in $(seq 60); do
    docker info >/dev/null 2>&1 && break
    sleep 1
  done
  docker info >/dev/null 2>&1 \
    || { tail -n 20 /var/log/dockerd.log >&2 || true; die "dockerd did not answer within 60 s"; }
  log "docker: engine up ($(docker version -f '{{.Server.Version}}' 2>/dev/null), $(docker info -f '{{.Driver}}' 2>/dev/null))"
fi

# --- registry -----------------------------------------------------------------
# Debian's docker-registry on 127.0.0.1 only: the engine trusts loopback
# registries without TLS, and delete is enabled so tests can move/remove tags.
if [ "$WANT_REGISTRY" = 1 ]; then
  if registry_up; then
    log "registry: already serving on 127.0.0.1:5000"
  else
    cfg=/tmp/reconciler-registry.yml
    mkdir -p /tmp/reconciler-registry-data
    cat >"$cfg" <<'YML'
version: 0.1
log: {level: warn}
storage:
  filesystem: {rootdirectory: /tmp/reconciler-registry-data}
  delete: {enabled: true}
http: {addr: 127.0.0.1:5000}
YML
    log "registry: starting docker-registry (log: /tmp/reconciler-registry.log)"
    setsid docker-registry serve "$cfg" >>/tmp/reconciler-registry.log 2>&1 < /dev/null &
    for _ in $(seq 30); do registry_up && break; sleep 1; done
    registry_up \
      || { tail -n 20 /tmp/reconciler-registry.log >&2 || true; die "registry did not answer on 127.0.0.1:5000 within 30 s"; }
    log "registry: up on 127.0.0.1:5000"
  fi
fi
