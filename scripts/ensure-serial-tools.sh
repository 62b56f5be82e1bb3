#!/usr/bin/env bash
# What the serial-device tests and emulators need from Debian: socat (pseudo-terminal pairs that
# stand in for the printer's serial line), DejaVu fonts (Latin text on card faces) and IPA Gothic
# (Japanese text on card faces). Installs whichever is missing (needs root, as on this project's
# machines). Idempotent: does nothing when all are present.
set -euo pipefail

missing=()
command -v socat >/dev/null 2>&1 || missing+=(socat)
[ -f /usr/share/fonts/truetype/dejavu/DejaVuSans.ttf ] && [ -f /usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf ] || missing+=(fonts-dejavu-core)
[ -f /usr/share/fonts/opentype/ipafont-gothic/ipag.ttf ] || missing+=(fonts-ipafont-gothic)
if [ ${#missing[@]} -gt 0 ]; then
  echo "Installing Debian packages: ${missing[*]}…"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
