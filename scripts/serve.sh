#!/usr/bin/env bash
# Installs what is missing, builds the bot and starts it on http://localhost:8080 (SQLite in ./data/).
# Extra arguments go to `refundbot serve`, e.g. scripts/serve.sh --port 9000
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release -DREFUNDDESK_TESTS=OFF >/dev/null
cmake --build build -j2 --target refundbot
mkdir -p data
exec ./build/refundbot serve --config deploy/refundbot.example.json --host 127.0.0.1 --port 8080 \
  --db data/refunddesk.sqlite3 "$@"
