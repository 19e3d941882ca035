#!/usr/bin/env bash
# Fuzzes the language-understanding code (dates, problems, evidence, intents, one engine step) with
# libFuzzer under ASan + UBSan. Usage: scripts/fuzz.sh [seconds, default 60]. Crashes are written to
# build-fuzz/crashes/; add each one as a regression test before fixing it.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh clang libclang-rt-14-dev
CC=clang CXX=clang++ cmake -S . -B build-fuzz -DCMAKE_BUILD_TYPE=RelWithDebInfo -DREFUNDDESK_FUZZ=ON -DREFUNDDESK_BROWSER_TESTS=OFF \
  -DREFUNDDESK_SANITIZE=ON -DREFUNDDESK_TESTS=OFF >/dev/null
cmake --build build-fuzz -j2 --target fuzz_parsers
mkdir -p build-fuzz/corpus build-fuzz/crashes
# Seeds: the kinds of sentences customers write.
printf '%s' '我是上个月15号付的款，20号才开通，这两周东南亚那边一直卡，延迟三四百毫秒' > build-fuzz/corpus/zh
printf '%s' "we paid on the 3rd of last month but the line only went live a week later; latency 300-400ms, 5% loss" > build-fuzz/corpus/en
printf '%s' '二〇二六年十一月二十号 百分之九十九点五 05/01/2026 order LL-1 a@b.co 上周一' > build-fuzz/corpus/mixed
./build-fuzz/fuzz_parsers -max_total_time="${1:-60}" -max_len=512 -timeout=5 \
  -artifact_prefix=build-fuzz/crashes/ build-fuzz/corpus
