#!/usr/bin/env bash
# The PC/SC stack the IC reader/writer driver and its tests need: Debian's pcscd, the vpcd
# virtual reader driver (vsmartcard-vpcd: readers "Virtual PCD 00 00"/"00 01" on TCP 35963/35964)
# and libpcsclite-dev (for building the `pcsclite` npm module). Installs missing packages (one
# apt-get update; needs root, as on this project's machines), starts pcscd if it is not running,
# and waits until it answers (vpcd listening on 35963). Idempotent. Log: /tmp/pcscd.log.
set -euo pipefail

missing=()
command -v pcscd >/dev/null 2>&1 || [ -x /usr/sbin/pcscd ] || missing+=(pcscd)
[ -e /usr/lib/pcsc/drivers/serial/libifdvpcd.so ] || missing+=(vsmartcard-vpcd)
[ -e /usr/include/PCSC/winscard.h ] || missing+=(libpcsclite-dev)
if [ ${#missing[@]} -gt 0 ]; then
  echo "Installing Debian packages: ${missing[*]}…"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# Listening on 35963 (hex 8C7B, state 0A)? Read from /proc: connecting would "insert a card".
vpcd_listening() {
  grep -qiE '^ *[0-9]+: [0-9A-F]+:8C7B [0-9A-F]+:0000 0A' /proc/net/tcp /proc/net/tcp6 2>/dev/null
}

if ! pgrep -x pcscd >/dev/null 2>&1; then
  echo "Starting pcscd…"
  mkdir -p /run/pcscd
  (setsid /usr/sbin/pcscd --foreground >/tmp/pcscd.log 2>&1 &)
fi

# pcscd answers once its socket exists and vpcd (loaded at start) listens for a card.
for _ in $(seq 1 50); do
  [ -S /run/pcscd/pcscd.comm ] && vpcd_listening && exit 0
  sleep 0.2
done
echo "pcscd did not come up (socket /run/pcscd/pcscd.comm, vpcd on 127.0.0.1:35963); see /tmp/pcscd.log" >&2
exit 1
