#!/usr/bin/env bash
# The load benchmark of issue 2: dialog turns/s and p50/p99 latency of POST /api/chat with the real
# SQLite store, and in the same run the raw HTTP ceiling of this machine (bench/ceiling.cpp: parse the
# same JSON, fixed reply). Usage: bench/run.sh [seconds per run, default 15] [connections, default 32]
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-15}
conns=${2:-32}
bash scripts/install-deps.sh wrk
cmake -S . -B build-release -DCMAKE_BUILD_TYPE=Release -DREFUNDDESK_TESTS=OFF >/dev/null
cmake --build build-release -j2 --target refundbot ceiling >/dev/null
out=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$out"' EXIT

wait_port() { for _ in $(seq 100); do (exec 3<>/dev/tcp/127.0.0.1/$1) 2>/dev/null && return 0; sleep 0.1; done; return 1; }
run_wrk() {  # port
  wrk -t2 -c"$conns" -d"${secs}s" --latency -s bench/chat.lua "http://127.0.0.1:$1/api/chat" | tee "$out/wrk.txt" >&2
  grep '^summary:' "$out/wrk.txt"
}

echo "== ceiling: cpp-httplib parsing the same JSON, fixed reply (${conns} connections, ${secs}s)" >&2
./build-release/ceiling 18181 & ceiling_pid=$!
wait_port 18181
ceiling=$(run_wrk 18181)
kill $ceiling_pid; wait $ceiling_pid 2>/dev/null || true

echo "== refundbot: full dialog turns, durable SQLite (WAL, synchronous=normal)" >&2
./build-release/refundbot serve --port 18182 --db "$out/bench.sqlite3" --log-level info 2>"$out/bot.log" & bot_pid=$!
wait_port 18182
bot=$(run_wrk 18182)
kill $bot_pid; wait $bot_pid 2>/dev/null || true
tickets=$(sqlite3 "$out/bench.sqlite3" 'SELECT count(*) FROM tickets')
turns=$(sqlite3 "$out/bench.sqlite3" "SELECT count(*) FROM messages WHERE author='customer'")

field() { sed -n "s/.*$1 \([0-9.]*\).*/\1/p" <<<"$2"; }
c_rps=$(field rps "$ceiling"); b_rps=$(field rps "$bot")
echo
echo "ceiling:   $(field rps "$ceiling") req/s, p50 $(field p50_ms "$ceiling") ms, p99 $(field p99_ms "$ceiling") ms"
echo "refundbot: $b_rps turns/s, p50 $(field p50_ms "$bot") ms, p99 $(field p99_ms "$bot") ms, non-2xx $(field non2xx "$bot"), socket errors $(field errors "$bot")"
echo "refundbot / ceiling: $(awk -v a="$b_rps" -v b="$c_rps" 'BEGIN{printf "%.0f%%", 100*a/b}')"
echo "stored: $turns customer turns, $tickets tickets filed"
