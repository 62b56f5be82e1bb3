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
# Test databases left behind by interrupted runs are dropped so they do not pile up — only those
# untouched for 3 hours, so a suite running elsewhere on this server keeps its database.
mysql --user=root -N -e "SELECT table_schema FROM information_schema.tables WHERE table_schema LIKE 'icc\\_test\\_%' GROUP BY table_schema HAVING MAX(GREATEST(create_time, COALESCE(update_time, create_time))) < NOW() - INTERVAL 3 HOUR" | while read -r db; do mysql --user=root -e "DROP DATABASE \`$db\`"; done
results=$(mktemp)
status=0
npx jest --runInBand --json --outputFile="$results" "$@" || status=$?
# One plain closing line for whoever reads the log: "N passed, N failed".
node -e 'const r = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8")); console.log(`${r.numPassedTests} passed, ${r.numFailedTests} failed` + (r.numPendingTests ? `, ${r.numPendingTests} skipped` : ""))' "$results" || true
rm -f "$results"
exit "$status"
