#!/usr/bin/env bash
# The main job from the README: set up a fresh Debian machine and converge the bundled
# stack.yaml against the real Docker engine, then show the result.
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/python-env.sh
bash scripts/setup-docker.sh
bash scripts/fixture-images.sh
bash scripts/addon-images.sh
export PATH="$PWD/.venv/bin:$PATH"

reconciler validate .
reconciler plan .
reconciler apply .
reconciler status .
port=$(docker port demo-web-1 8080/tcp | head -n1)
echo "demo-web-1 answers on http://$port/ :"
python3 -c "import urllib.request,sys; print(urllib.request.urlopen(sys.argv[1], timeout=5).read().decode().strip())" "http://$port/"
echo "rows the counter app wrote into the db add-on through its injected DB_URL:"
sleep 6
docker exec demo-counter-1 sh -c 'psql "$DB_URL" -tAc "select count(*) from visits"'
