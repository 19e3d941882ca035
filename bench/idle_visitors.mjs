// 1,000 idle widget visitors and one new customer: does the crowd slow the newcomer down?
// Starts refundbot (release build) on a fresh database, opens N visitor conversations, lets every
// visitor poll GET /api/chat/history?after=N every 3 s (jittered) as the open widget does, and measures
// the latency of a new conversation's first reply — first with nobody else there, then under the
// crowd. Prints both, with the poll rate and any failed poll.
//
//   node bench/idle_visitors.mjs [visitors=1000] [seconds=20] [refundbot=build-release/refundbot]
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

const VISITORS = Number(process.argv[2] || 1000);
const SECONDS = Number(process.argv[3] || 20);
const BOT = process.argv[4] || 'build-release/refundbot';
const POLL_MS = 3000;

const dir = mkdtempSync(path.join(os.tmpdir(), 'rd-idle-'));
const bot = spawn(BOT, ['serve', '--port', '0', '--db', path.join(dir, 'bench.sqlite3'), '--knowledge', 'knowledge',
                        '--log-level', 'warn', '--config', 'bench/no_rate_limits.json'], { stdio: ['ignore', 'pipe', 'inherit'] });
const base = await new Promise((resolve, reject) => {
  let seen = '';
  bot.stdout.on('data', (d) => { seen += d; const m = seen.match(/listening on (http:\/\/[\d.:]+)/); if (m) resolve(m[1]); });
  bot.on('exit', (c) => reject(new Error('refundbot exited ' + c)));
});

async function chat(body) {
  const r = await fetch(base + '/api/chat', { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(body) });
  if (!r.ok) throw new Error('chat ' + r.status);
  return r.json();
}

function percentile(sorted, p) { return sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))]; }

// New customers, one every 250 ms for `seconds`: the time from POST to the first reply.
async function newcomers(seconds) {
  const latencies = [];
  const until = Date.now() + seconds * 1000;
  while (Date.now() < until) {
    const t = performance.now();
    const j = await chat({ text: 'Hello, I need a refund for my streaming line', lang: 'en' });
    if (!j.replies || !j.replies.length) throw new Error('no reply');
    latencies.push(performance.now() - t);
    await new Promise((r) => setTimeout(r, 250));
  }
  latencies.sort((a, b) => a - b);
  return { n: latencies.length, p50: percentile(latencies, 0.5), p95: percentile(latencies, 0.95),
           p99: percentile(latencies, 0.99), max: latencies[latencies.length - 1] };
}

const fmt = (s) => `n=${s.n} p50 ${s.p50.toFixed(1)} ms, p95 ${s.p95.toFixed(1)} ms, p99 ${s.p99.toFixed(1)} ms, max ${s.max.toFixed(1)} ms`;

const quiet = await newcomers(Math.min(10, SECONDS));
console.log(`first reply, nobody else:        ${fmt(quiet)}`);

// The crowd: each visitor has a conversation and polls it.
const sessions = [];
for (let i = 0; i < VISITORS; i += 50) {
  const batch = await Promise.all(Array.from({ length: Math.min(50, VISITORS - i) }, () => chat({ text: 'hi', lang: 'en' })));
  for (const j of batch) sessions.push(j.session);
}
let polls = 0, failed = 0, stop = false;
const pollers = sessions.map(async (s, i) => {
  await new Promise((r) => setTimeout(r, (i * POLL_MS) / sessions.length));  // spread over the interval
  let after = 0;
  while (!stop) {
    try {
      const r = await fetch(`${base}/api/chat/history?session=${s}&after=${after}`);
      const j = await r.json();
      if (!r.ok) failed++;
      else if (j.messages.length) after = j.messages[j.messages.length - 1].seq;
      polls++;
    } catch { failed++; }
    await new Promise((r) => setTimeout(r, POLL_MS * (0.8 + 0.4 * Math.random())));
  }
});
await new Promise((r) => setTimeout(r, POLL_MS + 500));  // every visitor is polling
const pollsBefore = polls, t0 = performance.now();
const crowd = await newcomers(SECONDS);
const rate = (polls - pollsBefore) / ((performance.now() - t0) / 1000);
stop = true;
await Promise.race([Promise.all(pollers), new Promise((r) => setTimeout(r, POLL_MS * 2))]);
console.log(`first reply, ${VISITORS} idle visitors: ${fmt(crowd)}`);
console.log(`visitors' polls: ${rate.toFixed(0)}/s, failed: ${failed}`);
bot.kill('SIGTERM');
rmSync(dir, { recursive: true, force: true });
process.exit(failed ? 1 : 0);
