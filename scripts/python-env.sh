#!/usr/bin/env bash
# Create (once) the project's virtualenv in .venv and install reconciler with its dev tools.
# A venv keeps us clear of Debian's externally-managed system Python (PEP 668).
set -euo pipefail
cd "$(dirname "$0")/.."

if [ ! -x .venv/bin/python ]; then
  if ! python3 -m venv .venv 2>/dev/null; then
    echo "python: installing python3-venv" >&2
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-venv >/dev/null
    rm -rf .venv && python3 -m venv .venv
  fi
fi
# Reinstall only when the dependency list changed; an editable install tracks the code itself.
stamp=.venv/.installed-$(sha256sum pyproject.toml | cut -c1-16)
if [ ! -f "$stamp" ]; then
  echo "python: installing reconciler and its dependencies into .venv" >&2
  # This machine's pip config names local mirror folders that may be absent; that noise is harmless.
  .venv/bin/python -m pip install -q -e '.[dev]' 2>&1 | grep -v -e '^WARNING: Location' >&2 || true
  .venv/bin/python -c 'import reconciler, docker, pydantic, ruamel.yaml, pytest, mypy' \
    || { echo "python: installing dependencies failed" >&2; exit 1; }
  rm -f .venv/.installed-* && touch "$stamp"
fi
