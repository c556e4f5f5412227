// The HTTP API of a running daemon (a process, over real HTTP): authentication (bearer, cookie
// login, read-only role, metrics token, failed-login limit), bad input answered with 4xx JSON,
// history paging, and the lists, bans, greylist, Bayes, check, config and reload routes, with the
// policy server applying what the API changed.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { startRempart, type RempartInstance } from './helpers/daemon.js';
import { freePort } from './helpers/ports.js';
import { PolicyClient } from './helpers/policy-client.js';
import { apiOf, corpusMessages, type Api } from './helpers/http-client.js';
import { hashPassword } from '../src/http/password.js';

const PASSWORD = 'correct horse battery staple';
const READONLY = 'just looking';
const METRICS_TOKEN = 'scrape-me';

const baseConfig = (dir: string, policyPort: number, http: string) =>
  `hostname: mx.example.org\nmy_networks: []\nlocal_domains: [example.org]\nstore: { path: ${dir}/store }\npolicy: { listen: "127.0.0.1:${policyPort}" }\n` +
  `greylist: { delay: 1h }\nsender: { domain_not_found: off, null_mx: off }\nrdns: { missing: off, unconfirmed: off, dynamic: off }\n` +
  `bayes: { min_messages: 1 }\nhttp: ${http}\n`;

async function daemonWith(t: { after(fn: () => unknown): void }, http: (port: number) => string): Promise<{ daemon: RempartInstance; policy: PolicyClient; policyPort: number }> {
  const policyPort = await freePort();
  const httpPort = await freePort();
  const daemon = await startRempart({ configYaml: (dir) => baseConfig(dir, policyPort, http(httpPort)), policyPort });
  t.after(() => daemon.stop());
  const policy = await PolicyClient.connect(policyPort);
  t.after(() => policy.close());
  return { daemon, policy, policyPort };
}

test('HTTP API: authentication, roles, sessions and the metrics token', { timeout: 60_000 }, async (t) => {
  const hash = await hashPassword(PASSWORD);
  const { daemon } = await daemonWith(t, (port) => `{ listen: "127.0.0.1:${port}", password: "${hash}", readonly_password: "${READONLY}", metrics_token: "${METRICS_TOKEN}" }`);
  const url = daemon.httpUrl!;
  const anonymous = apiOf(url, null);
  const admin = apiOf(url, PASSWORD);
  const reader = apiOf(url, READONLY);

  const health = await anonymous.call('GET', '/health');
  assert.equal(health.status, 200);
  assert.equal(health.body.status, 'ok');
  assert.equal(health.body.node, 'mx.example.org');

  for (const path of ['/api/stats', '/api/history', '/api/lists', '/api/config', '/metrics']) {
    const response = await anonymous.call('GET', path);
    assert.equal(response.status, 401, path);
    assert.match(response.body.error, /authentication required/);
  }
  assert.equal((await apiOf(url, 'wrong').call('GET', '/api/stats')).status, 401);
  assert.equal((await admin.call('GET', '/api/session')).body.role, 'admin');

  // The read-only role reads, scans, and changes nothing.
  assert.equal((await reader.call('GET', '/api/session')).body.role, 'readonly');
  assert.equal((await reader.call('GET', '/api/lists')).status, 200);
  const refused = await reader.call('POST', '/api/lists', { json: { kind: 'block', value: '@x.example' } });
  assert.equal(refused.status, 403);
  assert.match(refused.body.error, /read-only/);
  assert.equal((await reader.call('DELETE', '/api/bans/192.0.2.1')).status, 403);
  assert.equal((await reader.call('POST', '/api/check', { body: 'Subject: hi\r\n\r\nhello\r\n' })).status, 200);

  // Dashboard login: an HttpOnly, SameSite=Strict cookie that then works alone.
  const badLogin = await anonymous.call('POST', '/api/login', { json: { password: 'nope' } });
  assert.equal(badLogin.status, 401);
  const login = await anonymous.call('POST', '/api/login', { json: { password: PASSWORD } });
  assert.equal(login.status, 200);
  assert.equal(login.body.role, 'admin');
  const setCookie = login.headers.get('set-cookie') ?? '';
  assert.match(setCookie, /rempart_session=[^;]+/);
  assert.match(setCookie, /HttpOnly/i);
  assert.match(setCookie, /SameSite=Strict/i);
  const cookie = /rempart_session=[^;]+/.exec(setCookie)![0];
  assert.equal((await anonymous.call('GET', '/api/session', { cookie })).body.role, 'admin');
  // A form post logs in too (the login page without JavaScript).
  const formLogin = await anonymous.call('POST', '/api/login', { body: `password=${encodeURIComponent(READONLY)}`, type: 'application/x-www-form-urlencoded' });
  assert.equal(formLogin.body.role, 'readonly');
  await anonymous.call('POST', '/api/logout', { cookie });
  assert.equal((await anonymous.call('GET', '/api/session', { cookie })).status, 401);

  // Prometheus: the metrics token works for /metrics only.
  const metrics = await apiOf(url, METRICS_TOKEN).call('GET', '/metrics');
  assert.equal(metrics.status, 200);
  assert.match(metrics.text, /# TYPE rempart_decisions_total counter/);
  assert.match(metrics.text, /process_cpu_user_seconds_total/);
  assert.equal((await apiOf(url, METRICS_TOKEN).call('GET', '/api/stats')).status, 401);

  // Encoded paths reach the route they name, and need its credentials.
  for (const path of ['/%61pi/stats', '/api/%73tats', '/%6detrics', '/api//stats']) {
    const response = await anonymous.call('GET', path);
    assert.ok(response.status === 401 || response.status === 404, `${path} answered ${response.status} without credentials`);
  }
  assert.equal((await anonymous.call('POST', '/%61pi/lists', { json: { kind: 'allow', value: '@evil.example' } })).status, 401);
  assert.equal((await admin.call('GET', '/api/lists?search=evil')).body.entries.length, 0);
  // Changes from another web site are refused, with or without the session cookie; a form only logs in.
  const crossSite = await admin.call('POST', '/api/lists', { json: { kind: 'allow', value: '@evil.example' }, headers: { origin: 'https://evil.example' } });
  assert.equal(crossSite.status, 403);
  assert.match(crossSite.body.error, /another web site/);
  assert.equal((await admin.call('POST', '/api/greylist/flush', { json: {}, headers: { 'sec-fetch-site': 'cross-site' } })).status, 403);
  const form = await admin.call('POST', '/api/lists', { body: 'kind=allow&value=@evil.example', type: 'application/x-www-form-urlencoded' });
  assert.equal(form.status, 415);
  assert.equal((await admin.call('POST', '/api/lists', { json: { kind: 'block', value: '@same-origin.example' }, headers: { origin: url } })).status, 201, 'the dashboard itself');
  // Large bodies are for message uploads only.
  assert.equal((await anonymous.call('POST', '/api/login', { json: { password: 'x'.repeat(100_000) } })).status, 413);

  // The dashboard page is served without credentials (its data is not), with a strict CSP.
  const page = await anonymous.call('GET', '/');
  assert.ok(page.status === 200 || page.status === 503, `dashboard answered ${page.status}`);
  if (page.status === 200) assert.match(page.headers.get('content-security-policy') ?? '', /default-src 'self'/);
});

test('HTTP API: failed logins are limited per address', { timeout: 60_000 }, async (t) => {
  const { daemon } = await daemonWith(t, (port) => `{ listen: "127.0.0.1:${port}", password: "${PASSWORD}", login_attempts: 3, login_window: 1h }`);
  const api = apiOf(daemon.httpUrl!, null);
  for (let i = 0; i < 3; i++) assert.equal((await api.call('POST', '/api/login', { json: { password: `guess ${i}` } })).status, 401);
  const locked = await api.call('POST', '/api/login', { json: { password: PASSWORD } });
  assert.equal(locked.status, 429, 'even the right password waits out the window');
  assert.ok(Number(locked.headers.get('retry-after')) > 0);
  assert.equal((await api.call('GET', '/api/stats', { token: PASSWORD })).status, 429);
  assert.ok(daemon.logs().some((line) => /too many failed/.test(line)));
});

test('HTTP API: bad input gets a 4xx JSON error, never a 500', { timeout: 60_000 }, async (t) => {
  const { daemon } = await daemonWith(t, (port) => `{ listen: "127.0.0.1:${port}", password: "${PASSWORD}", max_upload_size: 4096 }`);
  const api = apiOf(daemon.httpUrl!, PASSWORD);
  const cases: [string, string, Parameters<Api['call']>[2], number, RegExp][] = [
    ['GET', '/api/history?limit=abc', {}, 400, /limit/],
    ['GET', '/api/history?limit=100000', {}, 400, /limit/],
    ['GET', '/api/history?action=explode', {}, 400, /action/],
    ['GET', '/api/history?symbol=lower', {}, 400, /symbol/],
    ['GET', '/api/history/abc', {}, 400, /record number/],
    ['GET', '/api/history/999999', {}, 404, /no history record/],
    ['GET', '/api/stats?window=2y', {}, 400, /window/],
    ['GET', '/api/stats?since=10&until=5', {}, 400, /since/],
    ['GET', '/api/stats?since=0&until=999999999999&bucket=60', {}, 400, /buckets/],
    ['GET', `/api/stats?since=${Date.now() + 3_600_000}`, {}, 400, /since/],
    ['POST', '/api/lists', { json: { kind: 'block', value: 'not an entry' } }, 400, /value/],
    ['POST', '/api/lists', { json: { kind: 'maybe', value: '@x.example' } }, 400, /kind/],
    ['POST', '/api/lists', { json: { kind: 'block', value: '@x.example', expires: 'soon' } }, 400, /expires/],
    ['POST', '/api/lists', { json: { kind: 'block', value: '@x.example', scope: 'nobody' } }, 400, /scope/],
    ['POST', '/api/lists', { body: '{"kind":', type: 'application/json' }, 400, /JSON/],
    ['POST', '/api/lists', { body: 'kind=block', type: 'image/png' }, 415, /Content-Type/],
    ['DELETE', '/api/lists/block/424242', {}, 404, /no block entry/],
    ['DELETE', '/api/lists/other/1', {}, 400, /kind/],
    ['POST', '/api/bans', { json: { network: '999.1.1.1' } }, 400, /network/],
    ['DELETE', '/api/bans/192.0.2.99', {}, 404, /not banned/],
    ['DELETE', '/api/greylist/nope', {}, 404, /greylist/],
    ['POST', '/api/check', { json: { raw: 'x' } }, 415, /raw message/],
    ['POST', '/api/check', { body: new Uint8Array(0) }, 400, /empty/],
    ['POST', '/api/check', { body: 'x'.repeat(5000) }, 413, /max_upload_size/],
    ['POST', '/api/bayes/learn?class=maybe', { body: 'Subject: x\r\n\r\ny' }, 400, /class/],
    ['POST', '/api/login', { json: {} }, 400, /password/],
    ['GET', '/api/nothing', {}, 404, /no route/],
  ];
  for (const [method, path, options, status, message] of cases) {
    const response = await api.call(method, path, options);
    assert.equal(response.status, status, `${method} ${path}: ${response.text}`);
    assert.equal(response.body.statusCode, status);
    assert.match(response.body.error, message, `${method} ${path}`);
  }
  assert.equal(daemon.logs().filter((line) => /HTTP request failed/.test(line)).length, 0, 'no 500 was logged');
});

test('HTTP API: history paging, stats, lists and bans applied by the policy server', { timeout: 90_000 }, async (t) => {
  const { daemon, policy } = await daemonWith(t, (port) => `{ listen: "127.0.0.1:${port}", password: "${PASSWORD}" }`);
  const api = apiOf(daemon.httpUrl!, PASSWORD);

  // Seven decisions: five greylisted triplets, a bad HELO rejected twice.
  for (let i = 0; i < 5; i++) assert.match(await policy.ask({ sender: `s${i}@example.net` }), /^DEFER_IF_PERMIT/);
  for (let i = 0; i < 2; i++) assert.match(await policy.ask({ helo_name: 'localhost', client_address: '198.51.100.9', sender: 'bot@spam.example' }), /^504 /);

  // Paging backwards: 3 + 3 + 1, no record twice.
  const seen = new Set<number>();
  let before: number | null | undefined;
  let pages = 0;
  do {
    const page = await api.call('GET', `/api/history?limit=3${before ? `&before=${before}` : ''}`);
    assert.equal(page.status, 200, page.text);
    for (const record of page.body.records) {
      assert.ok(!seen.has(record.id));
      seen.add(record.id);
    }
    before = page.body.nextBefore;
    pages++;
  } while (before !== null && pages < 10);
  assert.equal(seen.size, 7);
  assert.equal(pages, 3);
  // What is new since the oldest record: the six others, newest first.
  const oldest = Math.min(...seen);
  const newer = await api.call('GET', `/api/history?after=${oldest}`);
  assert.deepEqual(
    newer.body.records.map((r: { id: number }) => r.id),
    [...seen].filter((id) => id > oldest).sort((a, b) => b - a),
  );

  const rejected = await api.call('GET', '/api/history?action=reject&client=198.51.100.9');
  assert.equal(rejected.body.records.length, 2);
  const bySymbolOrSender = await api.call('GET', '/api/history?sender=s3@example.net');
  assert.equal(bySymbolOrSender.body.records.length, 1);
  const detail = await api.call('GET', `/api/history/${rejected.body.records[0].id}`);
  assert.equal(detail.status, 200);
  assert.equal(detail.body.record.action, 'reject');
  assert.match(detail.body.record.reply, /504 5\.5\.2/);
  assert.ok(Array.isArray(detail.body.explanation));

  const stats = await api.call('GET', '/api/stats?window=1h');
  assert.equal(stats.status, 200, stats.text);
  assert.equal(stats.body.actions.greylist, 5);
  assert.equal(stats.body.actions.reject, 2);
  assert.equal(stats.body.protocols.policy, 7);
  assert.equal(stats.body.series.length >= 60, true);
  const bucketTotal = stats.body.series.reduce((sum: number, bucket: { counts: Record<string, number> }) => sum + Object.values(bucket.counts).reduce((a, b) => a + b, 0), 0);
  assert.equal(bucketTotal, 7);
  assert.deepEqual(stats.body.topRejectedClients[0], { value: '198.51.100.9', count: 2 });
  assert.equal(stats.body.greylist.waiting, 5);

  // A block entry added through the API applies at once.
  const added = await api.call('POST', '/api/lists', { json: { kind: 'block', value: '@junk.example', reason: 'abusive-domain', comment: 'from a test' } });
  assert.equal(added.status, 201, added.text);
  assert.equal(added.body.entry.type, 'domain');
  assert.match(added.body.entry.addedBy, /^api:/);
  assert.equal(await policy.ask({ sender: 'x@mail.junk.example' }), '554 5.7.1 <x@mail.junk.example>: Sender address rejected: abusive domain');
  const again = await api.call('POST', '/api/lists', { json: { kind: 'block', value: '@junk.example', reason: 'spam' } });
  assert.equal(again.status, 200);
  assert.equal(again.body.created, false);
  const listed = await api.call('GET', '/api/lists?kind=block&search=junk');
  assert.equal(listed.body.entries.length, 1);
  assert.equal((await api.call('DELETE', `/api/lists/block/${added.body.entry.id}`)).body.removed, 1);
  assert.match(await policy.ask({ sender: 'x@mail.junk.example' }), /^DEFER_IF_PERMIT/);

  // A ban through the API, enforced, listed, lifted (CIDR URL-encoded).
  const ban = await api.call('POST', '/api/bans', { json: { network: '203.0.113.0/24', reason: 'test ban', duration: '1d' } });
  assert.equal(ban.status, 201, ban.text);
  assert.equal(ban.body.ban.source, 'manual');
  assert.match(await policy.ask({ client_address: '203.0.113.7' }), /^554 5\.7\.1 .*test ban/);
  assert.equal((await api.call('GET', '/api/bans?search=203.0.113')).body.bans.length, 1);
  assert.equal((await api.call('DELETE', `/api/bans/${encodeURIComponent('203.0.113.0/24')}`)).body.removed, 1);
  assert.match(await policy.ask({ client_address: '203.0.113.7' }), /^DEFER_IF_PERMIT/);

  // Greylist: list, delete one, flush the rest.
  const triplets = await api.call('GET', '/api/greylist?search=s1@example.net');
  assert.equal(triplets.body.triplets.length, 1);
  assert.equal((await api.call('DELETE', `/api/greylist/${encodeURIComponent(triplets.body.triplets[0].key)}`)).body.removed, 1);
  assert.equal((await api.call('GET', '/api/greylist?search=s1@example.net')).body.triplets.length, 0);
  const flushed = await api.call('POST', '/api/greylist/flush', { json: { clients: true } });
  assert.ok(flushed.body.removed >= 4, flushed.text);
  assert.equal((await api.call('GET', '/api/greylist')).body.triplets.length, 0);
  assert.ok((await api.call('GET', '/api/greylist/clients')).body.clients !== undefined);

  // Prometheus sees the same decisions.
  const metrics = (await api.call('GET', '/metrics')).text;
  assert.match(metrics, /^rempart_decisions_total\{action="greylist",protocol="policy"\} (\d+)$/m);
  assert.ok(Number(/^rempart_decisions_total\{action="reject",protocol="policy"\} (\d+)$/m.exec(metrics)?.[1]) >= 3, 'two bad HELOs and a blocked sender');
  assert.match(metrics, /^rempart_symbol_hits_total\{symbol="HELO_NOT_FQDN"\} 2$/m);
  assert.match(metrics, /^rempart_decision_duration_seconds_count\{protocol="policy",stage="rcpt"\} \d+$/m);
  assert.match(metrics, /^rempart_store_entries\{table="history"\} \d+$/m);

  // Every change made a log line.
  for (const pattern of [/list entry saved through the API/, /list entry removed through the API/, /client banned through the API/, /ban lifted through the API/, /greylist flushed through the API/]) {
    assert.ok(daemon.logs().some((line) => pattern.test(line)), String(pattern));
  }
});

test('HTTP API: Bayes learning and message checks, configuration and reload', { timeout: 120_000 }, async (t) => {
  const { daemon } = await daemonWith(t, (port) => `{ listen: "127.0.0.1:${port}", password: "${PASSWORD}" }`);
  const api = apiOf(daemon.httpUrl!, PASSWORD);
  const spam = corpusMessages('spam-2', 6);
  const ham = corpusMessages('easy-ham-1', 6);

  // One spam alone, then an mbox of the other five: learned once each.
  const first = await api.call('POST', '/api/bayes/learn?class=spam', { body: spam[0]! });
  assert.deepEqual(first.body, { messages: 1, outcomes: { learned: 1 } });
  const mbox = Buffer.concat(spam.flatMap((raw) => [Buffer.from('From sender@example.net Mon Jan  1 00:00:00 2026\n'), raw, Buffer.from('\n')]));
  const batch = await api.call('POST', '/api/bayes/learn?class=spam', { body: mbox, type: 'application/mbox' });
  assert.equal(batch.body.messages, 6);
  assert.deepEqual(batch.body.outcomes, { already: 1, learned: 5 });
  for (const raw of ham) assert.equal((await api.call('POST', '/api/bayes/learn?class=ham', { body: raw })).status, 200);
  const counts = await api.call('GET', '/api/bayes');
  assert.equal(counts.body.scopes[0].scope, '');
  assert.equal(counts.body.scopes[0].spamMessages, 6);
  assert.equal(counts.body.scopes[0].hamMessages, 6);
  assert.equal(counts.body.ready, true);

  const checked = await api.call('POST', '/api/check', { body: spam[1]! });
  assert.equal(checked.status, 200, checked.text);
  assert.ok(['accept', 'add_header', 'reject', 'greylist'].includes(checked.body.action));
  assert.equal(typeof checked.body.score, 'number');
  assert.ok(Array.isArray(checked.body.symbols));
  assert.equal(checked.body.bayes.verdict, 'spam');
  assert.equal((await api.call('POST', '/api/bayes/check', { body: ham[1]! })).body.bayes.verdict, 'ham');

  // The effective configuration hides the password.
  const config = await api.call('GET', '/api/config');
  assert.equal(config.body.http.password, '(redacted)');
  assert.equal(config.body.hostname, 'mx.example.org');
  assert.ok(!config.text.includes(PASSWORD));

  assert.deepEqual((await api.call('POST', '/api/reload')).body, { reloaded: true });
  const good = readFileSync(daemon.configPath, 'utf8');
  writeFileSync(daemon.configPath, good + 'no_such_section: 1\n');
  const broken = await api.call('POST', '/api/reload');
  assert.equal(broken.status, 422);
  assert.match(broken.body.error, /no_such_section/);
  writeFileSync(daemon.configPath, good);
});

test('HTTP API: /metrics open to loopback clients when http.metrics_open, the API still closed', { timeout: 60_000 }, async (t) => {
  const { daemon } = await daemonWith(t, (port) => `{ listen: "127.0.0.1:${port}", password: "${PASSWORD}", metrics_open: true }`);
  const anonymous = apiOf(daemon.httpUrl!, null);
  const metrics = await anonymous.call('GET', '/metrics');
  assert.equal(metrics.status, 200);
  assert.match(metrics.text, /# HELP rempart_errors_total /);
  assert.equal((await anonymous.call('GET', '/api/stats')).status, 401);
});

test('HTTP API without a password: loopback Host only (DNS rebinding)', { timeout: 60_000 }, async (t) => {
  const { daemon } = await daemonWith(t, (port) => `{ listen: "127.0.0.1:${port}" }`);
  const api = apiOf(daemon.httpUrl!, null);
  assert.equal((await api.call('GET', '/api/session')).body.role, 'admin');
  const { request } = await import('node:http');
  const status = await new Promise<number>((resolve, reject) => {
    const req = request(`${daemon.httpUrl}/api/stats`, { headers: { host: 'attacker.example:11334' } }, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    req.on('error', reject);
    req.end();
  });
  assert.equal(status, 403);
});

test('the daemon refuses to serve the API on a non-loopback address without a password', { timeout: 30_000 }, async () => {
  const policyPort = await freePort();
  const httpPort = await freePort();
  await assert.rejects(
    startRempart({ configYaml: (dir) => baseConfig(dir, policyPort, `{ listen: "0.0.0.0:${httpPort}" }`), policyPort, startTimeoutMs: 15_000 }),
    /not a loopback address: set http.password/,
  );
});
