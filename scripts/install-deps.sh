#!/usr/bin/env bash
# Installs the Debian packages Refund Desk needs to build, test and benchmark. Idempotent; quiet when
# everything is present already. Needs root (or sudo) on Debian 12.
set -euo pipefail
pkgs=(g++ cmake make pkg-config libcpp-httplib-dev nlohmann-json3-dev libssl-dev libsqlite3-dev
      libutf8proc-dev libpugixml-dev libgoogle-perftools-dev catch2 sqlite3 openssl libphonenumber-dev
      "$@")
# Only to regenerate knowledge/countries.json and knowledge/traditional.json (scripts/gen-countries.py,
# scripts/gen-traditional.py) at packaging time: iso-codes, opencc and python3. The bot does not need them.
[ "${REFUNDDESK_GEN_DATA:-0}" = 1 ] && pkgs+=(iso-codes opencc python3)
# Node.js and npm drive the browser tests; a machine may have them from elsewhere (NodeSource).
command -v node >/dev/null && command -v npm >/dev/null || pkgs+=(nodejs npm)
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0
SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
echo "installing: ${missing[*]}" >&2
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
