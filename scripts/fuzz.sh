#!/usr/bin/env bash
# Fuzzes the parsers of what strangers send — language understanding and one engine step, Slack event
# bodies, WeCom callbacks (outer and decrypted XML), staff slot values and the assessment — with
# libFuzzer under ASan + UBSan (tests/fuzz/fuzz_parsers.cpp; the first byte of an input picks the
# target). Inputs up to 64 KiB; an input that takes over 10 s fails like a crash. Usage:
# scripts/fuzz.sh [seconds, default 60]. Crashes and slow inputs are written to build-fuzz/crashes/;
# add each one as a regression test before fixing it.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh clang libclang-rt-14-dev
CC=clang CXX=clang++ cmake -S . -B build-fuzz -DCMAKE_BUILD_TYPE=RelWithDebInfo -DREFUNDDESK_FUZZ=ON -DREFUNDDESK_BROWSER_TESTS=OFF \
  -DREFUNDDESK_SANITIZE=ON -DREFUNDDESK_TESTS=OFF >/dev/null
cmake --build build-fuzz -j2 --target fuzz_parsers
mkdir -p build-fuzz/corpus build-fuzz/crashes
# Seeds: the kinds of sentences customers write, and one of each platform's messages and slot values.
printf '%s' 't我是上个月15号付的款，20号才开通，这两周东南亚那边一直卡，延迟三四百毫秒' > build-fuzz/corpus/zh
printf '%s' "twe paid on the 3rd of last month but the line only went live a week later; latency 300-400ms, 5% loss" > build-fuzz/corpus/en
printf '%s' 't二〇二六年十一月二十号 百分之九十九点五 05/01/2026 order LL-1 a@b.co 上周一' > build-fuzz/corpus/mixed
printf '%s' 's{"type":"event_callback","event_id":"Ev1","event":{"type":"message","channel":"D1","channel_type":"im","user":"U1","text":"I paid on 2026-11-01 <@UBOT>","ts":"1700000000.000100"}}' > build-fuzz/corpus/slack
printf '%s' 's{"type":"event_callback","event_id":"Ev2","event":{"type":"message","subtype":"file_share","channel":"D1","channel_type":"im","user":"U1","text":"","ts":"1.2","files":[{"id":"F1","name":"a.png","size":10,"mimetype":"image/png","url_private":"https://files.slack.com/a.png"}]}}' > build-fuzz/corpus/slack_file
printf '%s' 'w<xml><ToUserName><![CDATA[wx5823bf96d3bd56c7]]></ToUserName><FromUserName><![CDATA[zhangsan]]></FromUserName><CreateTime>1700000000</CreateTime><MsgType><![CDATA[text]]></MsgType><Content><![CDATA[我要退款]]></Content><MsgId>1001</MsgId></xml>' > build-fuzz/corpus/wecom
printf '%s' 'w<xml><FromUserName>lisi</FromUserName><MsgType>file</MsgType><Title>合同.pdf</Title><MediaId>M1</MediaId><MsgId>2</MsgId></xml>' > build-fuzz/corpus/wecom_file
printf '%s' 'v[{"category":"latency","description":"slow","metrics":{"latency_ms":400,"region":"Singapore"}}]' > build-fuzz/corpus/problems
printf '%s' 'v{"billing_model":"monthly","amount_paid":3000,"currency":"CNY","traffic_used_pct":40,"email":"a@b.co"}' > build-fuzz/corpus/billing
printf '%s' 'v"2026-11-01"' > build-fuzz/corpus/date
./build-fuzz/fuzz_parsers -max_total_time="${1:-60}" -max_len=65536 -timeout=10 \
  -artifact_prefix=build-fuzz/crashes/ build-fuzz/corpus
