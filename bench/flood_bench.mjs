// Finding 1 of issue 18: a flood of 60 KB messages of dates ("5号" × 15,000) on two keep-alive
// connections, against a new customer's first reply and 1,000 idle widget visitors' polls. Before
// max_message_chars the understanding took 1.2 s per such message on the loop thread, and everything
// else on that loop waited for it. Starts refundbot (release build) on a fresh database with
// bench/no_rate_limits.json (one loopback address plays every client) and prints, for the newcomers
// (one every 100 ms), p50/p95/p99/max: alone, under the flood, and under the flood with the visitors
// polling; the flood's rate and statuses; the polls' rate, p99 latency and failures. With the default
// tarpit (rate_limits.refusals, refusal_delay_ms) the flood is answered once a second per connection
// after its first refusals; RD_FLOOD_NO_TARPIT=1 answers it at once, as fast as it sends.
//
//   node bench/flood_bench.mjs [seconds=15] [visitors=1000] [refundbot=build-release/refundbot]
// Target: newcomers' p99 under 20 ms during the flood; no failed poll.
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const CHILD = process.argv[2] === '--flood';
const SECONDS = Number(CHILD ? 0 : process.argv[2] || 15);
const VISITORS = Number(process.argv[3] || 1000);
const BOT = process.argv[4] || 'build-release/refundbot';
const POLL_MS = 3000;

let dir, bot, base, port;

async function chat(body) {
  const r = await fetch(base + '/api/chat', { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(body) });
  if (!r.ok) throw new Error('chat ' + r.status);
  return r.json();
}

const percentile = (sorted, p) => sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))];
function stats(list) {
  const s = [...list].sort((a, b) => a - b);
  return { n: s.length, p50: percentile(s, 0.5), p95: percentile(s, 0.95), p99: percentile(s, 0.99), max: s[s.length - 1] };
}
const fmt = (s) => `n=${s.n} p50 ${s.p50.toFixed(1)} ms, p95 ${s.p95.toFixed(1)} ms, p99 ${s.p99.toFixed(1)} ms, max ${s.max.toFixed(1)} ms`;

// New customers, one every 100 ms: POST to first reply.
async function newcomers(seconds) {
  const latencies = [];
  const until = Date.now() + seconds * 1000;
  while (Date.now() < until) {
    const t = performance.now();
    const j = await chat({ text: '我是11月1日付的款，11月5日开通', lang: 'zh' });
    if (!j.replies || !j.replies.length) throw new Error('no reply');
    latencies.push(performance.now() - t);
    await new Promise((r) => setTimeout(r, 100));
  }
  return stats(latencies);
}

// The flood runs in a process of its own (`--flood PORT`), so its work does not delay this process's
// clocks; it reports its counts as one JSON line when told to stop (SIGTERM).
const FLOOD_BODY = JSON.stringify({ text: '5号'.repeat(15000) });
const FLOOD_REQUEST = `POST /api/chat HTTP/1.1\r\nHost: bench\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(FLOOD_BODY)}\r\n\r\n${FLOOD_BODY}`;
function runFlood(port) {
  const flood = { sent: 0, statuses: {}, latencies: [], started: performance.now() };
  let running = true;
  // One connection: the 60 KB message again and again, each sent once the answer before it is in; a
  // closed connection (the loop refuses such a body before reading it, and closes) is opened again.
  const connection = () => {
    const socket = net.connect(port, '127.0.0.1');
    let buffer = Buffer.alloc(0), started = 0;
    const next = () => {
      if (!running) return socket.destroy();
      started = performance.now();
      flood.sent++;
      socket.write(FLOOD_REQUEST);
    };
    socket.on('connect', next);
    socket.on('data', (d) => {
      buffer = Buffer.concat([buffer, d]);
      for (;;) {
        const head = buffer.indexOf('\r\n\r\n');
        if (head < 0) return;
        const text = buffer.subarray(0, head).toString();
        const length = Number((text.match(/content-length:\s*(\d+)/i) || [0, 0])[1]);
        if (buffer.length < head + 4 + length) return;
        const status = text.split(' ')[1];
        flood.statuses[status] = (flood.statuses[status] || 0) + 1;
        flood.latencies.push(performance.now() - started);
        buffer = buffer.subarray(head + 4 + length);
        if (/connection: close/i.test(text)) { socket.destroy(); if (running) connection(); return; }
        next();
      }
    });
    socket.on('error', () => { if (running) setTimeout(connection, 1); });
  };
  connection();
  connection();
  process.on('SIGTERM', () => {
    running = false;
    const seconds = (performance.now() - flood.started) / 1000;
    process.stdout.write(JSON.stringify({ rate: flood.sent / seconds, statuses: flood.statuses, each: stats(flood.latencies) }) + '\n',
                         () => process.exit(0));
  });
}

function startFlood() {
  const child = spawn(process.execPath, [fileURLToPath(import.meta.url), '--flood', String(port)], { stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  child.stdout.on('data', (d) => { out += d; });
  return { child, done: new Promise((resolve) => child.on('exit', () => resolve(out))) };
}
async function stopFlood(f) {
  f.child.kill('SIGTERM');
  const r = JSON.parse(await f.done);
  return `flood: ${r.rate.toFixed(0)} messages/s on 2 connections, answers ${JSON.stringify(r.statuses)}, each ${fmt(r.each)}`;
}

if (CHILD) {
  runFlood(Number(process.argv[3]));
} else {
dir = mkdtempSync(path.join(os.tmpdir(), 'rd-flood-'));
// bench/no_rate_limits.json; RD_FLOOD_NO_TARPIT=1 also answers every refusal at once (refusal_delay_ms 0),
// to measure what the refusals themselves cost.
const config = path.join(dir, 'config.json');
const settings = JSON.parse(readFileSync('bench/no_rate_limits.json', 'utf8').replace(/^\s*\/\/.*$/gm, ''));
if (process.env.RD_FLOOD_NO_TARPIT === '1') settings.refusal_delay_ms = 0;
writeFileSync(config, JSON.stringify(settings));
bot = spawn(BOT, ['serve', '--port', '0', '--db', path.join(dir, 'bench.sqlite3'), '--knowledge', 'knowledge',
                        '--log-level', 'warn', '--config', config], { stdio: ['ignore', 'pipe', 'inherit'] });
base = await new Promise((resolve, reject) => {
  let seen = '';
  bot.stdout.on('data', (d) => { seen += d; const m = seen.match(/listening on (http:\/\/[\d.:]+)/); if (m) resolve(m[1]); });
  bot.on('exit', (c) => reject(new Error('refundbot exited ' + c)));
});
port = Number(new URL(base).port);

for (let i = 0; i < 20; i++) await chat({ text: 'warm up', lang: 'en' });  // the first turns pay for cold caches
console.log(`first reply, nobody else:               ${fmt(await newcomers(Math.min(5, SECONDS)))}`);

let conns = startFlood();
await new Promise((r) => setTimeout(r, 300));
console.log(`first reply, 2-connection 60 KB flood:  ${fmt(await newcomers(SECONDS))}`);
console.log('  ' + await stopFlood(conns));

// The crowd: each visitor has a conversation and polls it every 3 s (jittered), as the open widget does.
const sessions = [];
for (let i = 0; i < VISITORS; i += 50) {
  const batch = await Promise.all(Array.from({ length: Math.min(50, VISITORS - i) }, () => chat({ text: 'hi', lang: 'en' })));
  for (const j of batch) sessions.push(j.session);
}
let polls = 0, failed = 0, stop = false;
const pollLatencies = [];
const pollers = sessions.map(async (s, i) => {
  await new Promise((r) => setTimeout(r, (i * POLL_MS) / sessions.length));
  let after = 0;
  while (!stop) {
    const t = performance.now();
    try {
      const r = await fetch(`${base}/api/chat/history?session=${s}&after=${after}`);
      const j = await r.json();
      if (!r.ok) failed++;
      else if (j.messages.length) after = j.messages[j.messages.length - 1].seq;
      polls++;
      pollLatencies.push(performance.now() - t);
    } catch { failed++; }
    await new Promise((r) => setTimeout(r, POLL_MS * (0.8 + 0.4 * Math.random())));
  }
});
await new Promise((r) => setTimeout(r, POLL_MS + 500));
const quietPolls = stats(pollLatencies.splice(0));
conns = startFlood();
const pollsBefore = polls, t0 = performance.now();
const crowd = await newcomers(SECONDS);
const rate = (polls - pollsBefore) / ((performance.now() - t0) / 1000);
const floodPolls = stats(pollLatencies.splice(0));
const floodLine = await stopFlood(conns);
stop = true;
await Promise.race([Promise.all(pollers), new Promise((r) => setTimeout(r, POLL_MS * 2))]);
console.log(`first reply, flood + ${VISITORS} idle visitors: ${fmt(crowd)}`);
console.log('  ' + floodLine);
console.log(`visitors' polls without the flood: ${fmt(quietPolls)}`);
console.log(`visitors' polls during the flood:  ${fmt(floodPolls)}, ${rate.toFixed(0)}/s, failed: ${failed}`);
bot.kill('SIGTERM');
rmSync(dir, { recursive: true, force: true });
process.exit(failed || crowd.p99 >= 20 ? 1 : 0);
}
