#!/usr/bin/env bash
# The load benchmark of issue 2: dialog turns/s and p50/p99 latency of POST /api/chat with the real
# SQLite store, and in the same run the raw HTTP ceiling of this machine (bench/ceiling.cpp: parse the
# same JSON, fixed reply).
# Usage: bench/run.sh [seconds per run, default 15] [connections, default 32] [rounds, default 1]
# With several rounds the ceiling and the bot take turns (a fresh database each round) and the medians
# are printed too: this machine's throughput drifts by a fifth from one minute to the next.
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-15}
conns=${2:-32}
rounds=${3:-1}
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
field() { sed -n "s/.*$1 \([0-9.]*\).*/\1/p" <<<"$2"; }
median() { tr ' ' '\n' | grep -v '^$' | sort -g | awk '{v[NR]=$1} END {print (NR % 2) ? v[(NR+1)/2] : (v[NR/2]+v[NR/2+1])/2}'; }

ceilings=""; bots=""; ratios=""; p99s=""; bad=0
for round in $(seq "$rounds"); do
  echo "== round $round: ceiling, cpp-httplib parsing the same JSON, fixed reply (${conns} connections, ${secs}s)" >&2
  ./build-release/ceiling 18181 & ceiling_pid=$!
  wait_port 18181
  ceiling=$(run_wrk 18181)
  kill $ceiling_pid; wait $ceiling_pid 2>/dev/null || true

  echo "== round $round: refundbot, full dialog turns, durable SQLite (WAL, synchronous=normal)" >&2
  rm -f "$out"/bench.sqlite3*
  ./build-release/refundbot serve --port 18182 --db "$out/bench.sqlite3" --log-level info --config bench/no_rate_limits.json 2>"$out/bot.log" & bot_pid=$!
  wait_port 18182
  bot=$(run_wrk 18182)
  kill $bot_pid; wait $bot_pid 2>/dev/null || true
  tickets=$(sqlite3 "$out/bench.sqlite3" 'SELECT count(*) FROM tickets')
  turns=$(sqlite3 "$out/bench.sqlite3" "SELECT count(*) FROM messages WHERE author='customer'")

  c_rps=$(field rps "$ceiling"); b_rps=$(field rps "$bot")
  ratio=$(awk -v a="$b_rps" -v b="$c_rps" 'BEGIN{printf "%.1f", 100*a/b}')
  ceilings="$ceilings $c_rps"; bots="$bots $b_rps"; ratios="$ratios $ratio"; p99s="$p99s $(field p99_ms "$bot")"
  bad=$((bad + $(field non2xx "$bot") + $(field errors "$bot")))
  echo
  [ "$rounds" -gt 1 ] && echo "round $round:"
  echo "ceiling:   $(field rps "$ceiling") req/s, p50 $(field p50_ms "$ceiling") ms, p99 $(field p99_ms "$ceiling") ms"
  echo "refundbot: $b_rps turns/s, p50 $(field p50_ms "$bot") ms, p99 $(field p99_ms "$bot") ms, non-2xx $(field non2xx "$bot"), socket errors $(field errors "$bot")"
  echo "refundbot / ceiling: $(awk -v r="$ratio" 'BEGIN{printf "%.0f%%", r}')"
  echo "stored: $turns customer turns, $tickets tickets filed"
done
if [ "$rounds" -gt 1 ]; then
  echo
  echo "medians of $rounds rounds: ceiling $(median <<<"$ceilings") req/s, refundbot $(median <<<"$bots") turns/s," \
       "refundbot / ceiling $(median <<<"$ratios")% (rounds:$ratios), p99 $(median <<<"$p99s") ms (worst $(tr ' ' '\n' <<<"$p99s" | sort -g | tail -1)), non-2xx + socket errors $bad"
fi
