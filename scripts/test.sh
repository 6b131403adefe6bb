#!/usr/bin/env bash
# The test command from the README: installs everything on a fresh Debian machine (Python deps,
# the Docker engine, a local registry, fixture images), runs the static checks, then every test
# (unit, golden and integration against the real engine).
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/python-env.sh
bash scripts/setup-docker.sh --registry
bash scripts/fixture-images.sh
bash scripts/addon-images.sh
export PATH="$PWD/.venv/bin:$PATH"

echo "== static checks" >&2
ruff check .
ruff format --check .
mypy
lint-imports

echo "== tests" >&2
pytest -q -p no:cacheprovider "$@"
