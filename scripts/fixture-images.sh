#!/usr/bin/env bash
# Build the local images the tests and the demo stack use. No container
# registry is reachable here, so nothing can come FROM a public base: each image
# is a `docker import` of a tiny root fs made from the host's busybox-static.
# Idempotent: an image that already exists is skipped (reruns take ~1 s).
set -euo pipefail

log() { echo "fixture-images: $*" >&2; }
die() { log "ERROR: $*"; exit 1; }

BUSYBOX=/bin/busybox   # from busybox-static (scripts/setup-docker.sh installs it)
WEB_PORT=18080         # host port for the web image's smoke test, 127.0.0.1 only
VERIFY_NAME=reconciler-fixture-verify

have_image() { docker image inspect "$1" >/dev/null 2>&1; }

# Only ever talk to the published port on 127.0.0.1, never to a container IP.
http_get() {
  if command -v curl >/dev/null 2>&1; then
    curl -fsS --max-time 2 "$1"
  else
    python3 -c 'import sys, urllib.request; sys.stdout.write(urllib.request.urlopen(sys.argv[1], timeout=2).read().decode())' "$1"
  fi
}

IMAGES=(reconciler-fixture/busybox:1 reconciler-fixture/busybox:2 reconciler-demo/web:1)
todo=()
for img in "${IMAGES[@]}"; do
  if have_image "$img"; then log "$img: already present"; else todo+=("$img"); fi
done
[ "${#todo[@]}" -eq 0 ] && exit 0

[ -x "$BUSYBOX" ] || die "$BUSYBOX missing; run scripts/setup-docker.sh first (installs busybox-static)"

work=$(mktemp -d)
cleanup() { docker rm -f "$VERIFY_NAME" >/dev/null 2>&1 || true; rm -rf "$work"; }
trap cleanup EXIT

# Root fs: busybox plus a symlink per applet, so `sh`, `httpd`, `sleep`, ...
# resolve on PATH=/bin; passwd/group so `USER nobody` and `id` work.
root=$work/rootfs
mkdir -p "$root"/{bin,etc,root,www} "$root/tmp"
chmod 1777 "$root/tmp"
cp "$BUSYBOX" "$root/bin/busybox"
for applet in $("$BUSYBOX" --list); do
  [ "$applet" = busybox ] || ln -sf busybox "$root/bin/$applet"
done
printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n' >"$root/etc/passwd"
printf 'root:x:0:\nnogroup:x:65534:\n' >"$root/etc/group"

# Fixed owner and mtimes keep the layer identical across builds and machines.
mktar() { tar --numeric-owner --owner=0 --group=0 --mtime=@0 --sort=name -C "$root" -cf "$1" .; }
mktar "$work/base.tar"
# The web app's content lives only in the web image.
echo "hello from reconciler demo" >"$root/www/index.html"
echo "ok" >"$root/www/healthz"
mktar "$work/web.tar"

import() {  # import TAR NAME CMD_JSON [extra docker-import args...]
  local tar=$1 name=$2 cmd=$3; shift 3
  docker import --change "CMD $cmd" --change 'ENV PATH=/bin' --change 'WORKDIR /' \
    "$@" "$tar" "$name" >/dev/null
  log "$name: built $(docker image inspect -f '{{.Id}}' "$name" | cut -c1-19)"
}

verify_shell() {
  [ "$(docker run --rm "$1" sh -c 'echo ok')" = ok ] || die "$1: 'sh -c echo ok' failed"
}

verify_web() {
  docker rm -f "$VERIFY_NAME" >/dev/null 2>&1 || true
  docker run -d --name "$VERIFY_NAME" -p "127.0.0.1:$WEB_PORT:8080" "$1" >/dev/null
  local body=""
  for _ in $(seq 50); do
    body=$(http_get "http://127.0.0.1:$WEB_PORT/healthz" 2>/dev/null) && break
    sleep 0.2
  done
  [ "$body" = ok ] || die "$1: no 'ok' from http://127.0.0.1:$WEB_PORT/healthz (got '$body')"
  docker rm -f "$VERIFY_NAME" >/dev/null
}

for img in "${todo[@]}"; do
  case "$img" in
    reconciler-fixture/busybox:1)
      import "$work/base.tar" "$img" '["sh"]' ;;
    reconciler-fixture/busybox:2)
      # Same files, different config => different image ID, for update tests.
      import "$work/base.tar" "$img" '["sh"]' --change 'LABEL io.reconciler.fixture.variant=2' ;;
    reconciler-demo/web:1)
      # sh as PID 1 with a TERM trap: a bare httpd as PID 1 ignores SIGTERM,
      # so every `docker stop` would sit out the full 10 s grace period.
      import "$work/web.tar" "$img" \
        '["sh", "-c", "trap \"exit 0\" TERM INT; httpd -f -p 8080 -h /www & wait"]' \
        --change 'EXPOSE 8080' ;;
  esac
  verify_shell "$img"
  [ "$img" = reconciler-demo/web:1 ] && verify_web "$img"
  log "$img: verified"
done
