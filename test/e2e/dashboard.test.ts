// The web dashboard in a real headless Chromium (Debian's /usr/bin/chromium driven by
// playwright-core) against a real daemon: policy traffic (greylisted and rejected requests) and
// milter traffic (a clean and a spammy message) are sent first, then the test logs in, sees the
// overview charts drawn from those decisions (and polled about once a second, only on the
// overview), follows the history live and opens details, fixes a greylisted sender in two clicks
// and adds a block entry through the forms (the policy server applies both), learns uploaded
// messages as spam and checks a pasted one, and checks the phone width (375 px: no horizontal
// scrolling of the page, labelled controls) and the read-only role; and, on a Redis store, the
// banner every page shows while the store is unreachable. Screenshots go to
// test-results/screenshots/. Skipped, saying why, when /usr/bin/chromium is missing.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { encodePacket, encodeStrings, MilterPacketParser, type MilterPacket } from '../../src/milter/codec.js';
import { startRempart, type RempartInstance } from '../helpers/daemon.js';
import { repoRoot } from '../helpers/paths.js';
import { freePort } from '../helpers/ports.js';
import { PolicyClient } from '../helpers/policy-client.js';
import { startTestRedis } from '../helpers/redis-server.js';
import { eventually } from '../helpers/eventually.js';

const CHROMIUM = '/usr/bin/chromium';
const CHROMIUM_ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];
const ADMIN_PASSWORD = 'dashboard-admin-secret';
const READONLY_PASSWORD = 'dashboard-readonly-secret';
const SCREENSHOTS = join(repoRoot, 'test-results', 'screenshots');
const ACTIONS_CAUSED = ['accept', 'add_header', 'greylist', 'reject'] as const;

/** One milter connection, spoken like an MTA offering protocol 6 with no no-reply flags: every event is answered. */
class MilterMta {
  private readonly parser = new MilterPacketParser(1 << 24);
  private readonly received: MilterPacket[] = [];
  private wake: (() => void) | undefined;
  private closed = false;

  private constructor(private readonly socket: Socket) {
    socket.on('data', (chunk: Buffer) => {
      this.received.push(...this.parser.push(chunk));
      this.wake?.();
    });
    socket.on('close', () => {
      this.closed = true;
      this.wake?.();
    });
    socket.on('error', () => {});
  }

  static open(port: number): Promise<MilterMta> {
    return new Promise((resolve, reject) => {
      const socket = connect(port, '127.0.0.1');
      socket.once('connect', () => resolve(new MilterMta(socket)));
      socket.once('error', reject);
    });
  }

  private async next(timeoutMs = 10_000): Promise<MilterPacket> {
    const deadline = Date.now() + timeoutMs;
    while (this.received.length === 0) {
      if (this.closed) throw new Error('the milter closed the connection');
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`no milter reply within ${timeoutMs} ms`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.wake = () => {
          clearTimeout(timer);
          resolve();
        };
      });
    }
    return this.received.shift()!;
  }

  /** Sends one command and returns the codes of the replies up to the final one (c, a, r, t, d, y). */
  async ask(code: string, payload?: Buffer): Promise<string> {
    this.socket.write(encodePacket(code, payload));
    let codes = '';
    for (;;) {
      const packet = await this.next();
      codes += packet.code;
      if ('cartdyO'.includes(packet.code)) return codes;
    }
  }

  close(): void {
    this.socket.destroy();
  }
}

/** One whole message through the milter; the reply codes of the end of message (e.g. "hc": a header added, continue). */
async function sendThroughMilter(port: number, message: { client: string; helo: string; sender: string; recipient: string; headers: Array<[string, string]>; body: string }): Promise<string> {
  const mta = await MilterMta.open(port);
  try {
    const negotiation = Buffer.alloc(12);
    negotiation.writeUInt32BE(6, 0);
    negotiation.writeUInt32BE(0x3f, 4); // add/change headers, body, recipients, quarantine
    negotiation.writeUInt32BE(0, 8); // no no-reply flags: every event is answered
    assert.equal(await mta.ask('O', negotiation), 'O');
    const port16 = Buffer.alloc(2);
    port16.writeUInt16BE(40000);
    assert.equal(await mta.ask('C', Buffer.concat([Buffer.from(`mail.sender.example\x004`), port16, encodeStrings(message.client)])), 'c');
    assert.equal(await mta.ask('H', encodeStrings(message.helo)), 'c');
    assert.equal(await mta.ask('M', encodeStrings(`<${message.sender}>`)), 'c');
    assert.equal(await mta.ask('R', encodeStrings(`<${message.recipient}>`)), 'c');
    for (const [name, value] of message.headers) assert.equal(await mta.ask('L', encodeStrings(name, value)), 'c');
    assert.equal(await mta.ask('N'), 'c');
    assert.equal(await mta.ask('B', Buffer.from(message.body)), 'c');
    return await mta.ask('E');
  } finally {
    mta.close();
  }
}

function rawMessage(options: { from: string; to: string; subject: string; body: string; id: string }): string {
  return [`From: <${options.from}>`, `To: <${options.to}>`, `Subject: ${options.subject}`, `Date: ${new Date().toUTCString().replace('GMT', '+0000')}`, `Message-ID: <${options.id}@dashboard.test>`, 'MIME-Version: 1.0', 'Content-Type: text/plain; charset=utf-8', '', options.body, ''].join('\r\n');
}

interface PageWatch {
  /** Console errors and uncaught exceptions of the page (the 401s and 400 the test causes left out). */
  errors: string[];
  /** Every URL the page requested. */
  requests: string[];
}

/** Collects a page's errors and requests. */
function watch(page: Page): PageWatch {
  const watched: PageWatch = { errors: [], requests: [] };
  page.on('console', (message) => {
    if (message.type() !== 'error') return;
    // Expected: the session probe before login and the wrong password (401), the invalid entry (400).
    if (/status of 40[01]/.test(message.text())) return;
    watched.errors.push(`console: ${message.text()}`);
  });
  page.on('pageerror', (error) => watched.errors.push(`page error: ${error.message}`));
  page.on('request', (request) => watched.requests.push(request.url()));
  return watched;
}

async function logIn(page: Page, baseUrl: string, password: string): Promise<void> {
  await page.goto(`${baseUrl}/`);
  await page.getByLabel('Password').fill(password);
  await page.getByRole('button', { name: 'Log in' }).click();
  await page.locator('nav.main-nav').waitFor();
}

/** How far the page scrolls horizontally (0 when it fits its viewport). */
const horizontalOverflow = (page: Page): Promise<number> => page.evaluate('document.documentElement.scrollWidth - document.documentElement.clientWidth');

/** Visible form controls that have neither a <label> nor an aria-label (evaluated in the page: DOM code as text, this file compiles without the DOM library). */
const unlabelledControls = (page: Page): Promise<string[]> =>
  page.evaluate(`[...document.querySelectorAll('input, select, textarea')]
    .filter((control) => control.type !== 'hidden' && control.offsetParent !== null)
    .filter((control) => control.labels.length === 0 && !control.getAttribute('aria-label'))
    .map((control) => control.outerHTML)`);

test('the dashboard in headless Chromium: charts from real traffic, history, two-click fixes, lists, Bayes, phone width, read-only', { timeout: 240_000 }, async (t) => {
  if (!existsSync(CHROMIUM)) return t.skip(`dashboard browser test skipped: ${CHROMIUM} not found (apt-get install chromium)`);
  mkdirSync(SCREENSHOTS, { recursive: true });
  const work = mkdtempSync(join(tmpdir(), 'rempart-dashboard-e2e-'));
  t.after(() => rmSync(work, { recursive: true, force: true }));

  const policyPort = await freePort();
  const milterPort = await freePort();
  const httpPort = await freePort();
  let daemon: RempartInstance | undefined;
  let browser: Browser | undefined;
  // t.after runs in reverse order: the browser goes first, then the daemon.
  t.after(async () => {
    await daemon?.stop();
  });
  t.after(async () => {
    await browser?.close();
  });
  daemon = await startRempart({
    policyPort,
    configYaml: (dir) =>
      [
        'hostname: rempart-dashboard.example',
        'my_networks: []',
        `store: { path: ${JSON.stringify(join(dir, 'store'))} }`,
        `policy: { listen: "127.0.0.1:${policyPort}" }`,
        // Content checks only at the end of the message: the envelope is the policy server's job.
        `milter: { listen: "127.0.0.1:${milterPort}", envelope_checks: false }`,
        `http: { listen: "127.0.0.1:${httpPort}", password: "${ADMIN_PASSWORD}", readonly_password: "${READONLY_PASSWORD}" }`,
        'greylist: { delay: 1h }',
        // No DNS server here: the DNS-based checks stay out of the way.
        'sender: { domain_not_found: off, null_mx: off }',
        'rdns: { missing: off, unconfirmed: off, dynamic: off }',
        'dns: { timeout: 1s }',
        'content: { rules: [ { name: TEST_PILLS, score: 7, body: true, pattern: "cheap pills" } ] }',
        '',
      ].join('\n'),
  });
  const baseUrl = daemon.httpUrl;
  assert.equal(baseUrl, `http://127.0.0.1:${httpPort}`);
  const context = () => `\n--- rempart ---\n${daemon!.logs().slice(-60).join('\n')}`;
  const apiGet = async <T>(path: string): Promise<T> => {
    const response = await fetch(`${baseUrl}${path}`, { headers: { Authorization: `Bearer ${ADMIN_PASSWORD}` } });
    assert.equal(response.status, 200, `GET ${path}: ${await response.clone().text()}${context()}`);
    return (await response.json()) as T;
  };

  // --- Traffic first: greylisted and rejected policy requests, a clean and a spammy message. ---
  const policy = await PolicyClient.connect(policyPort);
  t.after(() => policy.close());
  for (const [sender, client, recipient] of [
    ['alice@partner.example', '192.0.2.10', 'bob@example.org'],
    ['carol@news.example', '198.51.100.20', 'bob@example.org'],
    ['dave@other.example', '198.51.100.30', 'ann@example.org'],
  ] as const) {
    assert.match(await policy.ask({ sender, client_address: client, client_name: `mail.${sender.split('@')[1]}`, recipient }), /^DEFER_IF_PERMIT 4\.2\.0 /, context());
  }
  for (const helo of ['workstation', 'pc']) {
    assert.match(await policy.ask({ sender: `bot-${helo}@botnet.example`, client_address: '203.0.113.66', client_name: 'unknown', helo_name: helo, recipient: 'bob@example.org' }), /^504 5\.5\.2 <?[a-z]+>?: Helo command rejected: need fully-qualified hostname/, context());
  }
  const cleanReply = await sendThroughMilter(milterPort, {
    client: '192.0.2.10',
    helo: 'mail.partner.example',
    sender: 'alice@partner.example',
    recipient: 'bob@example.org',
    headers: [['From', '<alice@partner.example>'], ['To', '<bob@example.org>'], ['Subject', 'Minutes of Monday'], ['Date', new Date().toUTCString().replace('GMT', '+0000')], ['Message-ID', '<minutes-1@partner.example>']],
    body: "Hello Bob,\r\n\r\nthe minutes of Monday's meeting are below.\r\n\r\nAlice\r\n",
  });
  assert.match(cleanReply, /c$/, `clean message: ${cleanReply}${context()}`);
  const spamReply = await sendThroughMilter(milterPort, {
    client: '203.0.113.77',
    helo: 'mail.pills.example',
    sender: 'promo@pills.example',
    recipient: 'bob@example.org',
    headers: [['From', '<promo@pills.example>'], ['To', '<bob@example.org>'], ['Subject', 'CHEAP PILLS TODAY'], ['Date', new Date().toUTCString().replace('GMT', '+0000')], ['Message-ID', '<promo-1@pills.example>']],
    body: 'cheap pills, cheap pills, order now\r\n',
  });
  assert.match(spamReply, /^[hmi]+c$/, `the spammy message gets X-Spam headers: ${spamReply}${context()}`);

  interface Stats {
    actions: Record<string, number>;
    series: Array<{ counts: Record<string, number> }>;
  }
  const stats = await eventually(async () => {
    const answer = await apiGet<Stats>('/api/stats?window=1h');
    return answer.actions.greylist! >= 3 && answer.actions.reject! >= 2 && answer.actions.accept! >= 1 && answer.actions.add_header! >= 1 ? answer : undefined;
  }, 'the decisions to reach the statistics');

  // --- The browser. ---
  browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: CHROMIUM_ARGS });
  const desktop: BrowserContext = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  const page = await desktop.newPage();
  const seen = watch(page);

  // Login: the form first, a wrong password refused, the right one lets us in.
  await page.goto(`${baseUrl}/`);
  const password = page.getByLabel('Password');
  await password.waitFor();
  assert.equal(await password.getAttribute('type'), 'password');
  await password.fill('not the password');
  await page.getByRole('button', { name: 'Log in' }).click();
  await page.getByText('Wrong password.').waitFor();
  await password.fill(ADMIN_PASSWORD);
  await page.getByRole('button', { name: 'Log in' }).click();
  await page.locator('nav.main-nav a[aria-current="page"]', { hasText: 'Overview' }).waitFor();
  assert.equal(await page.locator('.role').textContent(), 'admin');
  assert.ok((await desktop.cookies()).some((cookie) => cookie.name === 'rempart_session' && cookie.httpOnly), 'an HttpOnly session cookie');

  // Overview: one bar segment per action we caused, their counts adding up to the API's.
  const chart = page.locator('svg.chart-series');
  await chart.locator('rect.bar[data-action="add_header"]').first().waitFor();
  for (const action of ACTIONS_CAUSED) {
    const counts = await chart.locator(`rect.bar[data-action="${action}"]`).evaluateAll((bars) => bars.map((bar) => Number(bar.getAttribute('data-count'))));
    assert.ok(counts.length > 0, `the chart has ${action} bars`);
    const heights = await chart.locator(`rect.bar[data-action="${action}"]`).evaluateAll((bars) => bars.map((bar) => Number(bar.getAttribute('height'))));
    assert.ok(heights.every((height) => height > 0), `${action} bars are drawn`);
    assert.equal(counts.reduce((a, b) => a + b, 0), stats.actions[action], `${action} decisions in the chart`);
    assert.equal(Number(await page.locator(`.card-${action} .card-value`).getAttribute('data-count')), stats.actions[action], `${action} card`);
    assert.ok((await page.locator(`svg.chart-share rect[data-action="${action}"]`).count()) === 1, `${action} in the share bar`);
  }
  assert.equal(await chart.locator('rect.bar[data-action="defer"]').count(), 0, 'no defer bar: nothing was deferred');
  assert.match((await chart.locator('title').first().textContent()) ?? '', /per minute by action/);
  assert.match((await chart.locator('rect.bar[data-action="reject"] title').first().textContent()) ?? '', /reject \d+/, 'a tooltip on each bar');
  assert.ok((await page.locator('.chart-series + .legend li, .panel-body .legend li').count()) >= 5, 'a legend');
  const rejectedClients = await page.locator('svg.chart-top').nth(1).locator('g.top-row').evaluateAll((rows) => rows.map((row) => row.getAttribute('data-value')));
  assert.ok(rejectedClients.includes('203.0.113.66'), `top rejected clients: ${rejectedClients.join(', ')}`);
  const symbols = await page.locator('svg.chart-top').first().locator('g.top-row').evaluateAll((rows) => rows.map((row) => row.getAttribute('data-value')));
  assert.ok(symbols.includes('TEST_PILLS'), `top symbols: ${symbols.join(', ')}`);
  assert.ok((await page.locator('svg.chart-ratio').count()) === 1, 'the greylist pass rate');

  // The overview polls /api/stats about once a second, and stops when we leave it.
  const statsRequests = () => seen.requests.filter((url) => url.includes('/api/stats')).length;
  const before = statsRequests();
  await page.waitForTimeout(4200);
  const polled = statsRequests() - before;
  assert.ok(polled >= 2 && polled <= 6, `about one /api/stats per second on the overview (${polled} in 4.2 s)`);
  await page.screenshot({ path: join(SCREENSHOTS, 'overview.png'), fullPage: true });

  // History: every decision listed; live mode puts a new one on top without reloading.
  await page.getByRole('link', { name: 'History' }).click();
  const rows = page.locator('table.history-table tbody tr.record');
  await rows.first().waitFor();
  const leftOverview = statsRequests();
  await page.waitForTimeout(1500);
  assert.ok(statsRequests() - leftOverview <= 1, 'no more /api/stats polling after leaving the overview');
  const total = Object.values(stats.actions).reduce((a, b) => a + b, 0);
  assert.equal(await rows.count(), total, 'one row per decision');
  assert.match(await policy.ask({ sender: 'eve@late.example', client_address: '198.51.100.99', client_name: 'mail.late.example', recipient: 'bob@example.org' }), /^DEFER_IF_PERMIT/);
  await page.locator('table.history-table tbody tr.record.fresh', { hasText: 'eve@late.example' }).waitFor({ timeout: 10_000 });
  assert.match((await rows.first().textContent()) ?? '', /eve@late\.example/, 'the new decision is on top');
  const historyPolls = seen.requests.filter((url) => url.includes('/api/history?')).length;
  assert.ok(historyPolls >= 2, 'the history polls for newer records');

  // Filter on rejects, open one: the reply sent and the client.
  await page.getByLabel('Action').selectOption('reject');
  await page.getByRole('button', { name: 'Apply filters' }).click();
  await eventually(async () => (await rows.count()) === 2 && (await page.locator('tr.record[data-action="reject"]').count()) === 2, 'two reject rows');
  assert.match(page.url(), /#\/history\?action=reject$/, 'the filter is in the address');
  await page.screenshot({ path: join(SCREENSHOTS, 'history.png'), fullPage: true });
  await rows.first().locator('a').click();
  await page.locator('pre.reply').waitFor();
  assert.match((await page.locator('pre.reply').textContent()) ?? '', /^504 5\.5\.2 .*Helo command rejected: need fully-qualified hostname/);
  assert.match((await page.locator('section[aria-labelledby="envelope-heading"]').textContent()) ?? '', /Client address203\.0\.113\.66/, context());

  // The spammy message's detail: its symbol explained, the headers added.
  await page.goto(`${baseUrl}/#/history?action=add_header`);
  await page.locator('tr.record[data-action="add_header"]').first().waitFor();
  await page.locator('tr.record[data-action="add_header"] a').first().click();
  const pillsRow = page.locator('table.symbols-table tr[data-symbol="TEST_PILLS"]');
  await pillsRow.waitFor();
  assert.equal((await pillsRow.locator('td').first().textContent())?.trim(), '7');
  // The marking is added by the milter after the decision is recorded: the detail says so.
  assert.match((await page.locator('section[aria-labelledby="headers-heading"]').textContent()) ?? '', /X-Spam-Flag: YES[^]*X-Spam-Score: 7\.\d[^]*tests=[A-Z_,]*TEST_PILLS/);
  await page.screenshot({ path: join(SCREENSHOTS, 'history-detail.png'), fullPage: true });

  // A false positive fixed in two clicks: carol was greylisted; open her decision, "Allow sender".
  await page.goto(`${baseUrl}/#/history?sender=carol%40news.example`);
  await page.locator('tr.record', { hasText: 'carol@news.example' }).first().locator('a').click();
  await page.getByRole('button', { name: 'Allow sender' }).click();
  await page.locator('.fix-result', { hasText: 'carol@news.example added to the allow list' }).waitFor();
  const allowed = await apiGet<{ entries: Array<{ value: string; comment: string; addedBy: string }> }>('/api/lists?kind=allow');
  assert.ok(allowed.entries.some((entry) => entry.value === 'carol@news.example' && /^from decision #\d+$/.test(entry.comment)), JSON.stringify(allowed));
  await eventually(async () => (await policy.ask({ sender: 'carol@news.example', client_address: '198.51.100.20', client_name: 'mail.news.example', recipient: 'ann@example.org' })) === 'DUNNO', 'the daemon to let carol through');

  // A block entry added with the form: the policy server refuses that domain with the reason.
  await page.getByRole('link', { name: 'Lists' }).click();
  await page.getByRole('link', { name: 'Block list' }).click();
  const blockForm = page.locator('#add-block-form');
  // A bare name is refused (domain or HELO name?): the API's own words show in the error banner.
  await blockForm.getByLabel('Entry').fill('spam-dashboard.example');
  await blockForm.getByRole('button', { name: 'Add to the block list' }).click();
  await page.locator('#error-banner').waitFor();
  assert.match((await page.locator('#error-banner').textContent()) ?? '', /invalid value: .*\(HTTP 400\)/);
  assert.match((await blockForm.locator('.form-result').textContent()) ?? '', /^Not added: invalid value/);
  await blockForm.getByLabel('Entry').fill('@spam-dashboard.example');
  await blockForm.getByLabel('Reason').fill('abusive-domain');
  await blockForm.getByLabel('Comment').fill('added in the browser test');
  await blockForm.getByRole('button', { name: 'Add to the block list' }).click();
  await page.locator('#add-block-form .form-result', { hasText: '@spam-dashboard.example added to the block list' }).waitFor();
  const blockRow = page.locator('tr[data-value="@spam-dashboard.example"]');
  await blockRow.waitFor();
  assert.match((await blockRow.textContent()) ?? '', /abusive-domain|abusive domain/);
  await eventually(
    async () => (await policy.ask({ sender: 'bad@spam-dashboard.example', client_address: '198.51.100.44', client_name: 'mail.spam-dashboard.example', recipient: 'bob@example.org' })) === '554 5.7.1 <bad@spam-dashboard.example>: Sender address rejected: abusive domain',
    'the policy server to apply the block entry',
  );
  await page.screenshot({ path: join(SCREENSHOTS, 'lists-block.png'), fullPage: true });

  // Search, then remove it with the inline confirmation.
  await page.getByLabel('Search the block list').fill('nothing-like-this');
  await page.getByText('No entry matches.').waitFor();
  await page.getByLabel('Search the block list').fill('spam-dashboard');
  await blockRow.waitFor();
  await blockRow.getByRole('button', { name: 'Remove @spam-dashboard.example' }).click();
  await blockRow.getByRole('button', { name: /Confirm: remove/ }).click();
  await blockRow.waitFor({ state: 'detached' });
  const blocks = await apiGet<{ entries: unknown[] }>('/api/lists?kind=block');
  assert.equal(blocks.entries.length, 0, 'the entry is gone');

  // A ban added with the form: the client is refused at once; lifting it (confirmed) removes it.
  await page.getByRole('link', { name: 'Bans' }).click();
  const banForm = page.locator('#add-ban-form');
  await banForm.getByLabel('Address or network').fill('203.0.113.200');
  await banForm.getByLabel('Reason').fill('seen in the dashboard test');
  await banForm.getByRole('button', { name: 'Ban' }).click();
  const banRow = page.locator('tr[data-network="203.0.113.200"]');
  await banRow.waitFor();
  await eventually(
    async () => /^554 5\.7\.1 Client host \[203\.0\.113\.200\] blocked: banned until \S+ \(seen in the dashboard test\)$/.test(await policy.ask({ sender: 'x@anywhere.example', client_address: '203.0.113.200', client_name: 'unknown', recipient: 'bob@example.org' })),
    'the policy server to apply the ban',
  );
  await banRow.getByRole('button', { name: /^Lift/ }).click();
  await banRow.getByRole('button', { name: /^Confirm/ }).click();
  await banRow.waitFor({ state: 'detached' });
  assert.deepEqual((await apiGet<{ bans: unknown[] }>('/api/bans')).bans, [], 'the ban is lifted');

  // The greylist: the triplets of our traffic; a flush limited to a search removes only those.
  await page.getByRole('link', { name: 'Greylist' }).click();
  await page.locator('tr[data-key]', { hasText: 'dave@other.example' }).waitFor();
  await page.screenshot({ path: join(SCREENSHOTS, 'lists-greylist.png'), fullPage: true });
  const tripletsBefore = (await apiGet<{ triplets: unknown[] }>('/api/greylist')).triplets.length;
  await page.getByLabel('Search the greylist').fill('eve@late.example');
  await eventually(async () => (await page.locator('tr[data-key]').count()) === 1, 'the search to leave one triplet');
  await page.getByRole('button', { name: 'Flush…' }).click();
  await page.getByRole('button', { name: 'Confirm flush' }).click();
  await page.getByText('No greylist triplet.').waitFor();
  assert.equal((await apiGet<{ triplets: unknown[] }>('/api/greylist')).triplets.length, tripletsBefore - 1, 'only the matching triplet was flushed');

  // Bayes: learn an .eml and a two-message mbox as spam; the counts follow.
  interface Bayes {
    scopes: Array<{ scope: string; spamMessages: number; hamMessages: number }>;
  }
  const spamBefore = (await apiGet<Bayes>('/api/bayes')).scopes.find((s) => s.scope === '')?.spamMessages ?? 0;
  const emlPath = join(work, 'pills.eml');
  writeFileSync(emlPath, rawMessage({ from: 'promo@pills.example', to: 'bob@example.org', subject: 'Cheap pills', body: 'cheap pills online pharmacy discount viagra', id: 'learn-1' }));
  const mboxPath = join(work, 'more-spam.mbox');
  writeFileSync(
    mboxPath,
    [1, 2].map((n) => `From promo@pills.example Mon Nov 23 10:0${n}:00 2026\n${rawMessage({ from: 'promo@pills.example', to: 'bob@example.org', subject: `Offer ${n}`, body: `limited offer number ${n} casino bonus`, id: `learn-mbox-${n}` }).replace(/\r\n/g, '\n')}`).join('\n'),
  );
  await page.getByRole('link', { name: 'Bayes' }).click();
  await page.locator('table.bayes-counts').waitFor();
  await page.getByLabel('Message files (.eml, .mbox)').setInputFiles([emlPath, mboxPath]);
  await page.getByLabel('Learn as').selectOption('spam');
  await page.getByRole('button', { name: 'Learn' }).click();
  await page.locator('#learn-outcomes li.ok', { hasText: 'more-spam.mbox: 2 messages' }).waitFor();
  assert.match((await page.locator('#learn-outcomes li[data-file="pills.eml"]').textContent()) ?? '', /pills\.eml: 1 message — learned 1/);
  const spamAfter = (await apiGet<Bayes>('/api/bayes')).scopes.find((s) => s.scope === '')?.spamMessages ?? 0;
  assert.equal(spamAfter, spamBefore + 3, 'three spam messages learned');
  await page.locator(`table.bayes-counts tr[data-scope=""] td[data-spam="${spamAfter}"]`).waitFor();

  // Check a pasted message: action, score, symbols.
  await page.getByLabel('Paste a message (headers and body)').fill(rawMessage({ from: 'promo@pills.example', to: 'bob@example.org', subject: 'Hi', body: 'cheap pills for you', id: 'check-1' }).replace(/\r\n/g, '\n'));
  await page.getByRole('button', { name: 'Check', exact: true }).click();
  await page.locator('#check-result').waitFor();
  assert.equal(await page.locator('#check-result').getAttribute('data-action'), 'add_header');
  await page.locator('#check-result tr[data-symbol="TEST_PILLS"]').waitFor();
  await page.screenshot({ path: join(SCREENSHOTS, 'bayes.png'), fullPage: true });

  // Everything came from the daemon itself, and the page logged no error (a CSP violation would).
  const foreign = seen.requests.filter((url) => !url.startsWith(`${baseUrl}/`) && !url.startsWith('data:'));
  assert.deepEqual(foreign, [], 'no request leaves the daemon');
  assert.deepEqual(seen.errors, [], 'no console error');
  const accessibility = await unlabelledControls(page);
  assert.deepEqual(accessibility, [], 'every control of the Bayes view is labelled');

  // --- A phone: 375 px wide, nothing scrolls sideways but tables in their own box. ---
  const phone = await browser.newContext({ viewport: { width: 375, height: 812 }, isMobile: true, hasTouch: true, deviceScaleFactor: 2 });
  const phonePage = await phone.newPage();
  const phoneSeen = watch(phonePage);
  await logIn(phonePage, baseUrl, ADMIN_PASSWORD);
  const navBoxes = await phonePage.locator('nav.main-nav a').evaluateAll((links) => links.map((link) => link.getBoundingClientRect()).map((box) => ({ left: box.left, right: box.right })));
  assert.equal(navBoxes.length, 4);
  assert.ok(navBoxes.every((box) => box.left >= 0 && box.right <= 375), `the navigation fits: ${JSON.stringify(navBoxes)}`);
  const recordId = await phonePage.evaluate(async () => {
    const response = await fetch('api/history?limit=1&action=add_header', { credentials: 'same-origin' });
    return ((await response.json()) as { records: Array<{ id: number }> }).records[0]!.id;
  });
  for (const [name, hash, ready] of [
    ['overview', '#/overview', 'svg.chart-series rect.bar'],
    ['history', '#/history', 'tr.record'],
    ['history-detail', `#/history/${recordId}`, 'table.symbols-table'],
    ['lists-block', '#/lists/block', '#add-block-form'],
    ['lists-greylist', '#/lists/greylist', 'tr[data-key]'],
    ['bayes', '#/bayes', 'table.bayes-counts'],
  ] as const) {
    await phonePage.goto(`${baseUrl}/${hash}`);
    await phonePage.locator(ready).first().waitFor();
    assert.equal(await horizontalOverflow(phonePage), 0, `${name}: no horizontal scrolling at 375 px`);
    assert.deepEqual(await unlabelledControls(phonePage), [], `${name}: every control labelled`);
    await phonePage.screenshot({ path: join(SCREENSHOTS, `phone-${name}.png`), fullPage: true });
  }
  assert.deepEqual(phoneSeen.errors, [], 'no console error on the phone');
  await phone.close();

  // --- The read-only role: it sees everything and can change nothing. ---
  const readonly = await browser.newContext({ viewport: { width: 1024, height: 800 } });
  const readonlyPage = await readonly.newPage();
  await logIn(readonlyPage, baseUrl, READONLY_PASSWORD);
  assert.equal(await readonlyPage.locator('.role').textContent(), 'read-only');
  await readonlyPage.goto(`${baseUrl}/#/lists/allow`);
  await readonlyPage.locator('tr[data-value="carol@news.example"]').waitFor();
  assert.equal(await readonlyPage.locator('#add-allow-form').count(), 0, 'no add form');
  assert.equal(await readonlyPage.getByRole('button', { name: /Remove/ }).count(), 0, 'no remove button');
  await readonlyPage.goto(`${baseUrl}/#/history/${recordId}`);
  await readonlyPage.locator('table.symbols-table').waitFor();
  assert.equal(await readonlyPage.locator('[data-fix]').count(), 0, 'no fix buttons');
  await readonlyPage.goto(`${baseUrl}/#/bayes`);
  await readonlyPage.locator('table.bayes-counts').waitFor();
  assert.equal(await readonlyPage.locator('#learn-form').count(), 0, 'no learning');
  await readonlyPage.screenshot({ path: join(SCREENSHOTS, 'readonly-bayes.png'), fullPage: true });

  // Logging out brings the login form back.
  await readonlyPage.getByRole('button', { name: 'Log out' }).click();
  await readonlyPage.getByLabel('Password').waitFor();
  await readonly.close();
  await desktop.close();
});

test('the dashboard without a password (loopback): straight to the overview, nothing to log out of', { timeout: 60_000 }, async (t) => {
  if (!existsSync(CHROMIUM)) return t.skip(`dashboard browser test skipped: ${CHROMIUM} not found (apt-get install chromium)`);
  const policyPort = await freePort();
  let daemon: RempartInstance | undefined;
  let browser: Browser | undefined;
  t.after(async () => {
    await daemon?.stop();
  });
  t.after(async () => {
    await browser?.close();
  });
  // No http section: the test helper adds one on a free loopback port, without a password.
  daemon = await startRempart({ policyPort, configYaml: (dir) => `hostname: open.example\nstore: { path: ${JSON.stringify(join(dir, 'store'))} }\npolicy: { listen: "127.0.0.1:${policyPort}" }\n` });
  assert.ok(daemon.httpUrl, 'the helper gave the daemon an HTTP address');
  browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: CHROMIUM_ARGS });
  const page = await browser.newPage();
  const seen = watch(page);
  await page.goto(`${daemon.httpUrl}/`);
  await page.locator('svg.chart-series').waitFor();
  assert.equal(await page.getByLabel('Password').count(), 0, 'no login form');
  assert.equal(await page.locator('.role').textContent(), 'admin');
  assert.equal(await page.getByRole('button', { name: 'Log out' }).isVisible(), false, 'no log-out button');
  assert.match((await page.locator('svg.chart-series text.empty').textContent()) ?? '', /No decisions in this window/);
  assert.deepEqual(seen.errors, []);
});

test('the dashboard shows a banner on every page while the Redis store is unreachable, gone once it is back', { timeout: 90_000 }, async (t) => {
  if (!existsSync(CHROMIUM)) return t.skip(`dashboard browser test skipped: ${CHROMIUM} not found (apt-get install chromium)`);
  const redis = await startTestRedis();
  let daemon: RempartInstance | undefined;
  let browser: Browser | undefined;
  t.after(async () => {
    await browser?.close();
    await daemon?.stop();
    await redis.close();
  });
  if (!redis.own) return t.skip('REDIS_URL names a shared Redis: this test needs one it may stop');
  const prefix = redis.newPrefix();
  const policyPort = await freePort();
  daemon = await startRempart({
    policyPort,
    configYaml: `hostname: redis.example\npolicy: { listen: "127.0.0.1:${policyPort}" }\n` + `store: { backend: redis, timeout: 1s, redis: { url: "${redis.url}", prefix: "${prefix}", max_reconnect_delay: 1s } }\n`,
  });
  browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: CHROMIUM_ARGS });
  const page = await browser.newPage();
  await page.goto(`${daemon.httpUrl}/#/lists`);
  const banner = page.locator('#store-banner');
  await page.locator('main h1, main h2').first().waitFor();
  assert.equal(await banner.isVisible(), false, 'no banner while the store answers');

  await redis.stop();
  await banner.waitFor({ state: 'visible', timeout: 15_000 });
  const text = (await banner.textContent()) ?? '';
  assert.match(text, /The Redis store is unreachable since /);
  assert.match(text, /Mail flows: greylisting, lists, bans and Bayes that need it count as no finding\./);
  assert.match(text, /reconnects by itself/);
  mkdirSync(SCREENSHOTS, { recursive: true });
  await page.screenshot({ path: join(SCREENSHOTS, 'store-unreachable.png'), fullPage: true });
  // Another page shows it too (it belongs to the shell, not to one view).
  await page.goto(`${daemon.httpUrl}/#/history`);
  await banner.waitFor({ state: 'visible', timeout: 10_000 });

  await redis.start();
  await banner.waitFor({ state: 'hidden', timeout: 20_000 });
  await redis.dropPrefix(prefix);
});
