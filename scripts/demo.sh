#!/usr/bin/env bash
# Builds the lab (DESIGN §5) and brings it to the seed's baseline with fleet, twice: the second run
# shows an apply of an unchanged inventory changing nothing.
set -euo pipefail
cd "$(dirname "$0")/.."
npm run --silent build
bash scripts/lab.sh up
echo
echo '$ npx fleet apply --inventory inventory/lab.yaml --yes'
node bin/fleet.js apply --inventory inventory/lab.yaml --yes
echo
echo '$ npx fleet apply --inventory inventory/lab.yaml --yes     # again: nothing to change'
node bin/fleet.js apply --inventory inventory/lab.yaml --yes
