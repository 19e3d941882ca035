#!/usr/bin/env bash
# Installs what is missing, builds and runs every test twice: a normal build, and one under
# AddressSanitizer + UndefinedBehaviorSanitizer. Exits non-zero on any failure or sanitizer report.
set -euo pipefail
cd "$(dirname "$0")/.."
# chromium: the browser tests (tests/web/) drive Debian's chromium with playwright-core from npm.
bash scripts/install-deps.sh chromium
npm ci --prefix tests/web --no-audit --no-fund --loglevel=error
jobs=${JOBS:-2}
run_suite() {  # build-dir, extra cmake args...
  local dir=$1; shift
  cmake -S . -B "$dir" "$@" >/dev/null
  cmake --build "$dir" -j"$jobs"
  (cd "$dir" && ctest --output-on-failure -j"$jobs" --timeout 300)
}
echo "== tests (RelWithDebInfo)"
run_suite build-test -DCMAKE_BUILD_TYPE=RelWithDebInfo
echo "== tests (ASan + UBSan)"
# Reports go to files, because the servers the integration tests start write stderr elsewhere; any
# report from any process fails the run.
reports="$PWD/build-asan/sanitizer-reports"
rm -rf "$reports" && mkdir -p "$reports"
ASAN_OPTIONS="detect_leaks=1:abort_on_error=1:log_path=$reports/asan" \
UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1:log_path=$reports/ubsan" \
  run_suite build-asan -DCMAKE_BUILD_TYPE=Debug -DREFUNDDESK_SANITIZE=ON
if compgen -G "$reports/*" >/dev/null; then
  echo "sanitizer reports:"; cat "$reports"/*; exit 1
fi
echo "no sanitizer reports"
