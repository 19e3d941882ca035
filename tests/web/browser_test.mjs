// Browser tests of the widget and the staff console: Debian's chromium driven by playwright-core, against
// the real refundbot on loopback, with the widget embedded in a plain HTML page served from another
// origin (as a provider's site would). Screenshots go to $RD_SCREENSHOTS (look at them).
//
//   RD_REFUNDBOT=build/refundbot RD_KNOWLEDGE_DIR=knowledge node tests/web/browser_test.mjs
import { spawn, execFileSync } from 'node:child_process';
import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import assert from 'node:assert/strict';
import { chromium } from 'playwright-core';

const BOT = process.env.RD_REFUNDBOT || 'build/refundbot';
const KNOWLEDGE = process.env.RD_KNOWLEDGE_DIR || 'knowledge';
const SHOTS = process.env.RD_SCREENSHOTS || path.join(os.tmpdir(), 'rd-screenshots');
const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';
mkdirSync(SHOTS, { recursive: true });

const dir = mkdtempSync(path.join(os.tmpdir(), 'rd-browser-'));
const db = path.join(dir, 'rd.sqlite3');
const XSS = '<img src=x onerror="window.__xss=1">hello';
let failures = 0;
const cleanups = [];

async function step(name, fn) {
  const started = Date.now();
  try {
    await fn();
    console.log(`ok - ${name} (${Date.now() - started} ms)`);
  } catch (e) {
    failures++;
    console.log(`not ok - ${name}\n  ${String(e && e.stack || e).split('\n').join('\n  ')}`);
  }
}

function startBot() {
  return new Promise((resolve, reject) => {
    // Small history pages (README.md "Security limits"), so the pages are exercised by every step.
    const config = path.join(dir, 'refundbot.json');
    writeFileSync(config, JSON.stringify({ history_page_messages: 20 }));
    const child = spawn(BOT, ['serve', '--host', '127.0.0.1', '--port', '0', '--db', db, '--knowledge', KNOWLEDGE,
                              '--now', '2026-11-10T02:00:00Z', '--log-level', 'warn', '--config', config],
                        { stdio: ['ignore', 'pipe', 'inherit'] });
    let seen = '';
    child.stdout.on('data', (d) => {
      seen += d;
      const m = seen.match(/listening on (http:\/\/127\.0\.0\.1:\d+)/);
      if (m) resolve({ child, url: m[1] });
    });
    child.on('exit', (code) => reject(new Error(`refundbot exited with ${code}: ${seen}`)));
    setTimeout(() => reject(new Error('refundbot did not start')), 20000);
  });
}

// A provider's page on another origin, embedding the widget with one tag.
function startSite(botUrl) {
  const html = `<!doctype html><html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width,initial-scale=1"><title>Provider site</title></head>
<body><h1>LiveLine Overseas</h1><p>Our streaming lines.</p>
<script src="${botUrl}/widget.js" data-lang="en" async></script></body></html>`;
  const server = http.createServer((req, res) => {
    res.writeHead(200, { 'Content-Type': 'text/html; charset=utf-8' });
    res.end(html);
  });
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve({ server, url: `http://127.0.0.1:${server.address().port}/` })));
}

async function until(what, fn, timeout = 15000) {
  const deadline = Date.now() + timeout;
  let last;
  while (Date.now() < deadline) {
    last = await fn();
    if (last) return last;
    await new Promise((r) => setTimeout(r, 150));
  }
  throw new Error(`timed out waiting for ${what} (last: ${JSON.stringify(last)})`);
}

async function messages(page) {
  return page.getByTestId('rd-message').evaluateAll((els) => els.map((e) => ({ author: e.dataset.author, text: e.textContent })));
}
async function lastBot(page) {
  const all = await messages(page);
  const bots = all.filter((m) => m.author === 'bot');
  return bots.length ? bots[bots.length - 1].text : '';
}
async function say(page, text) {
  await page.getByTestId('rd-input').fill(text);
  await page.getByTestId('rd-send').click();
}
async function waitForBot(page, pattern) {
  return until(`a bot message matching ${pattern}`, async () => {
    const all = await messages(page);
    return all.some((m) => m.author === 'bot' && pattern.test(m.text)) && !(await page.getByTestId('rd-typing').count());
  });
}

const bot = await startBot();
cleanups.push(() => bot.child.kill('SIGTERM'));
const site = await startSite(bot.url);
cleanups.push(() => site.server.close());
execFileSync(BOT, ['staff', 'add', 'ana', '--password-stdin', '--db', db], { input: 'correct horse battery\n' });

const browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: ['--no-sandbox'] });
cleanups.push(() => browser.close());
const phone = await browser.newContext({ viewport: { width: 360, height: 740 }, locale: 'en-US' });
const customer = await phone.newPage();
const pageErrors = [];
customer.on('pageerror', (e) => pageErrors.push(String(e)));
let ticketId = '';

await step('the widget embedded in a plain page on another origin opens, on a 360 px phone screen', async () => {
  await customer.goto(site.url);
  const launcher = customer.getByTestId('rd-launcher');
  await launcher.waitFor();
  assert.equal(await launcher.getAttribute('aria-expanded'), 'false');
  await launcher.click();
  assert.equal(await launcher.getAttribute('aria-expanded'), 'true');
  await customer.getByTestId('rd-input').waitFor();
  await until('labels', async () => (await customer.getByTestId('rd-send').textContent()) === 'Send');
  const box = await customer.locator('#rd-panel').boundingBox();
  assert.ok(box.width <= 360 && box.x >= 0, `panel ${JSON.stringify(box)} fits 360 px`);
  assert.ok(await customer.evaluate(() => document.documentElement.scrollWidth <= 360), 'no sideways scrolling');
  await customer.screenshot({ path: path.join(SHOTS, '01-widget-open-360px.png') });
});

await step('a whole claim in the widget: date picker, quick replies, upload, confirmation, filed ticket', async () => {
  await say(customer, 'Hi, I want a refund. I paid on 2026-11-01.');
  await waitForBot(customer, /activat/i);
  await customer.getByTestId('rd-date').waitFor({ state: 'visible' });
  await customer.getByTestId('rd-date').fill('2026-11-05');
  await customer.getByTestId('rd-date-send').click();
  await waitForBot(customer, /problem|happen/i);
  assert.equal(await customer.getByTestId('rd-date').isVisible(), false, 'no date picker for a non-date question');
  const quick = customer.getByTestId('rd-quick-reply');
  await until('quick replies', async () => (await quick.count()) > 0);
  await quick.first().click();  // the first problem category
  await waitForBot(customer, /evidence|document|proof/i);
  const png = Buffer.concat([Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]), Buffer.alloc(300, 7)]);
  await customer.getByTestId('rd-upload').setInputFiles({ name: 'speedtest-report.png', mimeType: 'image/png', buffer: png });
  await waitForBot(customer, /contact|order|e-?mail/i);
  await say(customer, 'my order number is 778899');
  await waitForBot(customer, /correct|confirm/i);
  await customer.screenshot({ path: path.join(SHOTS, '02-widget-confirm.png') });
  await until('the confirm quick reply', async () => (await quick.count()) > 0);
  await quick.first().click();
  await waitForBot(customer, /RF-\d{8}-\d{4}/);
  ticketId = (await lastBot(customer)).match(/RF-\d{8}-\d{4}/)[0];
  const all = await messages(customer);
  assert.ok(all.some((m) => m.author === 'customer' && m.text.includes('speedtest-report.png')), 'the upload is in the transcript');
  await customer.screenshot({ path: path.join(SHOTS, '03-widget-filed.png') });
});

await step('reload restores the transcript', async () => {
  const before = (await messages(customer)).filter((m) => m.author !== 'bot' || !/^Hello! I can help/.test(m.text)).length;
  await customer.reload();
  await customer.getByTestId('rd-launcher').click();
  await until('the restored transcript', async () => (await messages(customer)).length >= before);
  const all = await messages(customer);
  assert.ok(all.some((m) => m.text.includes(ticketId)), 'the ticket number is still there');
  assert.ok(all.some((m) => m.author === 'customer' && m.text.includes('778899')));
});

await step('keyboard: the launcher is reachable with Tab, Escape closes the panel and gives focus back', async () => {
  await customer.keyboard.press('Escape');
  assert.equal(await customer.getByTestId('rd-launcher').getAttribute('aria-expanded'), 'false');
  assert.ok(await customer.evaluate(() => document.activeElement && document.activeElement.id === 'refund-desk-widget'));
  await customer.keyboard.press('Enter');
  assert.equal(await customer.getByTestId('rd-launcher').getAttribute('aria-expanded'), 'true');
  assert.ok(await customer.evaluate(() => {
    const a = document.getElementById('refund-desk-widget').shadowRoot.activeElement;
    return a && a.dataset.testid === 'rd-input';
  }), 'focus moves to the input');
});

// A second customer, on a desktop, who asks for a person and pastes markup.
const desk = await browser.newContext({ viewport: { width: 1280, height: 800 } });
const second = await desk.newPage();
second.on('pageerror', (e) => pageErrors.push(String(e)));

await step('customer markup is shown as text in the widget (no script runs)', async () => {
  await second.goto(site.url);
  await second.getByTestId('rd-launcher').click();
  await say(second, 'I want a refund, paid 2026-11-01');
  await waitForBot(second, /activat/i);
  await say(second, XSS);
  await until('the markup echoed as text', async () => (await messages(second)).some((m) => m.author === 'customer' && m.text === XSS));
  await second.waitForTimeout(300);
  assert.equal(await second.evaluate(() => window.__xss), undefined);
  assert.equal(await second.evaluate(() => document.getElementById('refund-desk-widget').shadowRoot.querySelectorAll('img').length), 0);
  await say(second, 'I want to talk to a human');
  await waitForBot(second, /colleague|person|human|staff/i);
});

const staffContext = await browser.newContext({ viewport: { width: 1280, height: 800 } });
const staff = await staffContext.newPage();
staff.on('pageerror', (e) => pageErrors.push(String(e)));

await step('staff log in; a wrong password is refused', async () => {
  await staff.goto(bot.url + '/console');
  await staff.getByTestId('console-name').fill('ana');
  await staff.getByTestId('console-password').fill('wrong password');
  await staff.getByTestId('console-login').click();
  await until('the login error', async () => (await staff.locator('#login-error').textContent()).length > 0);
  await staff.getByTestId('console-password').fill('correct horse battery');
  await staff.getByTestId('console-login').click();
  await staff.getByTestId('console-queue').waitFor();
  await until('the queue', async () => (await staff.getByTestId('console-conversation').count()) >= 2);
});

await step('take over, reply, and the reply appears in the customer\'s widget; markup stays text in the console', async () => {
  // The conversation that needs a human is first.
  const first = staff.getByTestId('console-conversation').first();
  assert.match(await first.textContent(), /needs a human/);
  await first.click();
  await until('the transcript', async () => (await staff.getByTestId('console-line').count()) > 3);
  const lines = await staff.getByTestId('console-line').allTextContents();
  assert.ok(lines.some((l) => l.includes(XSS)), 'the markup is shown literally');
  assert.equal(await staff.evaluate(() => window.__xss), undefined);
  assert.equal(await staff.locator('#conversation img').count(), 0);
  await staff.getByTestId('console-takeover').click();
  await until('the reply box', async () => !(await staff.getByTestId('console-reply-text').isDisabled()));
  await staff.getByTestId('console-reply-text').fill('Hello, this is Ana. I am checking your line now.');
  await staff.keyboard.press('Control+Enter');
  await until('the staff reply in the widget', async () =>
    (await messages(second)).some((m) => m.author === 'staff' && m.text.includes('checking your line')), 12000);
  await staff.screenshot({ path: path.join(SHOTS, '04-console-conversation.png') });
  await second.screenshot({ path: path.join(SHOTS, '05-widget-staff-reply.png') });
});

await step('hand back: the claim resumes at its pending question in the widget', async () => {
  await staff.getByTestId('console-handback').click();
  await until('the bot asking again', async () => /activat/i.test(await lastBot(second)), 12000);
  await say(second, 'it was activated on 2026-11-05');
  await waitForBot(second, /problem|happen/i);
});

await step('a ticket status change reaches the customer', async () => {
  await staff.getByTestId('console-tab-tickets').click();
  assert.equal(await staff.locator('#queue-view').isVisible(), false, 'the tickets tab replaces the conversations');
  const row = staff.locator(`[data-testid="console-ticket"][data-id="${ticketId}"]`);
  await row.waitFor();
  await row.getByTestId('console-status-in_review').click();
  await until('the new status', async () => (await row.getByTestId('console-ticket-status').textContent()) === 'in_review');
  await staff.screenshot({ path: path.join(SHOTS, '06-console-tickets.png') });
  await until('the status message in the widget', async () =>
    (await messages(customer)).some((m) => m.text.includes(ticketId) && /in review/i.test(m.text)), 12000);
  await customer.screenshot({ path: path.join(SHOTS, '07-widget-status-change.png') });
});

await step('a long conversation: the widget restores it page by page, the console loads earlier pages on scroll', async () => {
  const post = async (body) => (await fetch(bot.url + '/api/chat', { method: 'POST', body: JSON.stringify(body) })).json();
  const first = await post({ text: 'I want to talk to a human', lang: 'en' });
  for (let i = 1; i <= 45; i++) await post({ session: first.session, text: `line ${i}` });
  // 47 messages: the customer's first, the handoff reply, 45 more; pages of 20.
  const page = await desk.newPage();
  page.on('pageerror', (e) => pageErrors.push(String(e)));
  await page.goto(site.url);
  await page.evaluate(([key, s]) => localStorage.setItem(key, s), ['rd-session:' + bot.url, first.session]);
  await page.reload();
  await page.getByTestId('rd-launcher').click();
  await until('the whole transcript in the widget', async () => (await messages(page)).length === 47);
  assert.equal((await messages(page)).at(-1).text, 'line 45');
  await page.close();

  await staff.locator('#tab-queue').click();
  const row = staff.locator(`[data-testid="console-conversation"][data-id="${first.conversation_id}"]`);
  await row.click();
  await until('the newest page', async () => (await staff.getByTestId('console-line').count()) === 20);
  assert.match((await staff.getByTestId('console-line').allTextContents()).at(-1), /line 45/);
  for (const expected of [40, 47]) {
    await staff.getByTestId('console-transcript').evaluate((t) => { t.scrollTop = 0; t.dispatchEvent(new Event('scroll')); });
    await until(`${expected} lines`, async () => (await staff.getByTestId('console-line').count()) === expected);
  }
  const lines = await staff.getByTestId('console-line').allTextContents();
  assert.match(lines[0], /talk to a human/);
  assert.equal(await staff.getByTestId('console-older').count(), 0, 'no earlier page at the first message');
});

await step('no script errors on any page', async () => {
  assert.deepEqual(pageErrors, []);
});

for (const c of cleanups.reverse()) { try { await c(); } catch { /* closing anyway */ } }
rmSync(dir, { recursive: true, force: true });
console.log(failures ? `${failures} step(s) failed` : 'all browser steps passed');
process.exit(failures ? 1 : 0);
