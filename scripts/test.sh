#!/usr/bin/env bash
# `npm test`: everything the suite needs, then build and run it (jest, one suite at a time: the
# suites share one Temporal dev server and the machine has two cores).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/ensure-pcscd.sh
bash scripts/ensure-serial-tools.sh
bash scripts/ensure-deps.sh
bash scripts/ensure-test-services.sh
# Compiled tests of removed sources must not linger in dist/.
rm -rf dist/test
npx tsc -p tsconfig.json
# Old test databases from earlier runs are dropped so they do not pile up.
mysql --user=root -N -e "SELECT schema_name FROM information_schema.schemata WHERE schema_name LIKE 'icc\\_test\\_%'" | while read -r db; do mysql --user=root -e "DROP DATABASE \`$db\`"; done
results=$(mktemp)
status=0
npx jest --runInBand --json --outputFile="$results" "$@" || status=$?
# One plain closing line for whoever reads the log: "N passed, N failed".
node -e 'const r = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8")); console.log(`${r.numPassedTests} passed, ${r.numFailedTests} failed` + (r.numPendingTests ? `, ${r.numPendingTests} skipped` : ""))' "$results" || true
rm -f "$results"
exit "$status"
