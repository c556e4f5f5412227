// The CLI's client of the HTTP API against a fake daemon (node:http) that records every request:
// the bearer password, query strings (an empty scope sent as `scope=`), JSON bodies, URL-encoded
// networks; removal by value found through a search; 404 read as "nothing removed"; the error
// answers turned into messages (401 with and without a password, 403, 400, not JSON), a refused
// connection, a deadline; and where the URL and the password come from (options, environment, file).
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CommandFailure, UsageError } from './common.js';
import { isHeaderPassword, RemoteApi, RemoteError, remoteFrom, wantsRemote } from './remote.js';
import { expiryText, remoteStore } from './remote-store.js';

interface Seen {
  method: string;
  path: string;
  query: Record<string, string>;
  authorization: string | undefined;
  contentType: string | undefined;
  body: string;
}

type Handler = (request: Seen) => { status?: number; json?: unknown; text?: string } | undefined;

/** A fake API: answers by `handler` (undefined: never answers), records what it got. */
async function fakeDaemon(t: TestContext, handler: Handler): Promise<{ url: string; seen: Seen[] }> {
  const seen: Seen[] = [];
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const url = new URL(req.url!, 'http://x');
      const request: Seen = {
        method: req.method!,
        path: url.pathname,
        query: Object.fromEntries(url.searchParams),
        authorization: req.headers.authorization,
        contentType: req.headers['content-type'],
        body: Buffer.concat(chunks).toString('utf8'),
      };
      seen.push(request);
      const answer = handler(request);
      if (!answer) return; // a daemon that hangs
      res.statusCode = answer.status ?? 200;
      if (answer.json !== undefined) res.setHeader('content-type', 'application/json');
      res.end(answer.json !== undefined ? JSON.stringify(answer.json) : (answer.text ?? ''));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.after(() => new Promise<void>((resolve) => server.close(() => resolve())));
  t.after(() => server.closeAllConnections());
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, seen };
}

const entry = (id: number, value: string, scope = '') => ({
  id,
  kind: 'block',
  type: 'domain',
  value,
  scope,
  reason: 'spam',
  comment: '',
  addedBy: 'api',
  createdAt: 1_764_400_000,
  expiresAt: 0,
});

test('lists: one POST per entry with the bearer password; list with an empty scope; remove by id and by value', async (t) => {
  let nextId = 1;
  const { url, seen } = await fakeDaemon(t, (r) => {
    if (r.method === 'POST' && r.path === '/api/lists') {
      const body = JSON.parse(r.body) as { value: string; scope: string };
      return { status: 201, json: { entry: entry(nextId++, body.value, body.scope), created: true } };
    }
    if (r.method === 'GET' && r.path === '/api/lists') return { json: { entries: [entry(7, '@spam.example.net'), entry(3, '@spam.example'), entry(9, '@spam.example', 'bob@example.org')] } };
    if (r.method === 'DELETE' && r.path === '/api/lists/block/3') return { json: { removed: 1 } };
    if (r.method === 'DELETE') return { status: 404, json: { error: 'no such entry', statusCode: 404 } };
    return { status: 404, json: { error: 'no route', statusCode: 404 } };
  });
  const store = remoteStore(new RemoteApi(`${url}/`, 's3cret'));
  const expiresAt = Date.UTC(2026, 11, 31) / 1000;
  const stored = await store.lists.put([
    { kind: 'block', value: '@a.example', scope: '', reason: 'spam', comment: 'c', addedBy: 'alice', createdAt: 0, expiresAt },
    { kind: 'block', value: '@b.example', scope: 'bob@example.org', reason: '', comment: '', addedBy: 'alice', createdAt: 0, expiresAt: 0 },
  ]);
  assert.deepEqual(stored.map((s) => [s.entry.id, s.entry.value, s.created]), [[1, '@a.example', true], [2, '@b.example', true]]);
  assert.deepEqual(JSON.parse(seen[0]!.body), { kind: 'block', value: '@a.example', scope: '', reason: 'spam', comment: 'c', expires: '2026-12-31T00:00:00Z', by: 'alice' });
  assert.equal(JSON.parse(seen[1]!.body).expires, 'never');
  assert.equal(seen[0]!.authorization, 'Bearer s3cret');
  assert.equal(seen[0]!.contentType, 'application/json');

  seen.length = 0;
  await store.lists.list({ kind: 'allow', scope: '', search: 'a b' });
  assert.deepEqual(seen[0]!.query, { kind: 'allow', scope: '', search: 'a b', limit: '500', offset: '0' }, 'scope= means global entries only');
  seen.length = 0;
  await store.lists.list({ kind: 'allow' });
  assert.deepEqual(seen[0]!.query, { kind: 'allow', limit: '500', offset: '0' }, 'no scope: every scope');

  seen.length = 0;
  assert.equal(await store.lists.remove({ kind: 'block', value: '@SPAM.Example', scope: '' }), 1);
  assert.deepEqual(
    seen.map((r) => `${r.method} ${r.path}`),
    ['GET /api/lists', 'DELETE /api/lists/block/3'],
    'the entry with exactly this value and scope, not a longer match or another scope',
  );
  assert.equal(seen[0]!.query.search, '@spam.example');
  assert.equal(seen[0]!.query.scope, '');
  assert.equal(await store.lists.remove({ kind: 'block', value: '@other.example', scope: '' }), 0, 'not found by the search: nothing deleted');
  assert.equal(await store.lists.remove({ kind: 'block', id: 5 }), 0, '404: nothing removed');
  await assert.rejects(store.lists.active(0), (error: Error) => error instanceof CommandFailure && /not available through --url/.test(error.message));
});

test('bans: POST with a duration, DELETE with the network URL-encoded, list with expired=true, active over pages', async (t) => {
  const { url, seen } = await fakeDaemon(t, (r) => {
    if (r.method === 'POST') {
      const body = JSON.parse(r.body) as { network: string; reason: string };
      return { status: 201, json: { ban: { network: body.network, reason: body.reason, source: 'manual', createdAt: 1, expiresAt: 0 } } };
    }
    if (r.method === 'DELETE') return r.path === '/api/bans/192.0.2.0%2F24' ? { json: { removed: 1 } } : { status: 404, json: { error: 'not banned', statusCode: 404 } };
    // 1201 bans, served a page at a time as the daemon does.
    const all = Array.from({ length: 1201 }, (_, i) => ({ network: `10.0.${i >> 8}.${i & 255}`, reason: 'x', source: 'strikes', createdAt: 1, expiresAt: 0 }));
    const offset = Number(r.query.offset ?? 0);
    return { json: { bans: all.slice(offset, offset + Number(r.query.limit ?? 100)) } };
  });
  const store = remoteStore(new RemoteApi(url, undefined));
  const ban = await store.bans.ban({ network: '2001:db8::/48', reason: 'snowshoe', source: 'manual', createdAt: 5, expiresAt: 0 });
  assert.equal(ban.network, '2001:db8::/48');
  assert.deepEqual(JSON.parse(seen[0]!.body), { network: '2001:db8::/48', reason: 'snowshoe', duration: 'never' });
  assert.equal(seen[0]!.authorization, undefined, 'no password: no Authorization header');
  assert.equal(await store.bans.lift('192.0.2.0/24'), 1);
  assert.equal(await store.bans.lift('192.0.2.7'), 0);
  seen.length = 0;
  assert.equal((await store.bans.list({ now: 0, includeExpired: true, search: '10.0', limit: 20, offset: 5 }))[0]!.network, '10.0.0.5');
  assert.deepEqual(seen[0]!.query, { expired: 'true', search: '10.0', limit: '20', offset: '5' });
  seen.length = 0;
  const active = await store.bans.active(0);
  assert.equal(active.length, 1201, 'every page');
  assert.equal(active.at(-1)!.network, '10.0.4.176');
  assert.deepEqual(seen.map((r) => [r.query.limit, r.query.offset]), [['500', '0'], ['500', '500'], ['500', '1000']]);
  seen.length = 0;
  assert.equal((await store.bans.list({ now: 0, limit: 700 })).length, 700, 'a limit above a page: two requests');
  assert.deepEqual(seen.map((r) => [r.query.limit, r.query.offset]), [['500', '0'], ['200', '500']]);
});

test('greylist: list, flush in one request (with the clients), stats from /api/greylist/stats; bayes: counts, scopes, raw learning', async (t) => {
  const { url, seen } = await fakeDaemon(t, (r) => {
    if (r.path === '/api/greylist/flush') return { json: { removed: 4, removedClients: JSON.parse(r.body).clients ? 2 : 0 } };
    if (r.path === '/api/greylist') return { json: { triplets: [] } };
    if (r.path === '/api/greylist/clients') return { json: { clients: [] } };
    if (r.path === '/api/greylist/stats') return { json: { triplets: 9, waiting: 2, passed: 7, clients: 3, autoAllowed: 1, autoAllowThreshold: 5 } };
    if (r.path === '/api/bayes')
      return {
        json: {
          minMessages: 200,
          ready: false,
          scopes: [
            { scope: '', spamMessages: 0, hamMessages: 0, tokens: 0 },
            { scope: 'bob@example.org', spamMessages: 2, hamMessages: 1, tokens: 40 },
          ],
        },
      };
    if (r.path === '/api/bayes/learn') return { json: { messages: 1, outcomes: { learned: 1 } } };
    return { status: 404, json: { error: 'no route', statusCode: 404 } };
  });
  const store = remoteStore(new RemoteApi(url, 'pw'));
  await store.greylist.listTriplets({ search: 'x', waiting: false, limit: 10, offset: 20 });
  assert.deepEqual(seen.at(-1)!.query, { search: 'x', waiting: 'false', limit: '10', offset: '20' });
  await store.greylist.listClients(5, 0);
  assert.deepEqual(seen.at(-1)!.query, { limit: '5', offset: '0' });
  assert.deepEqual(await store.greylist.flush('example', true), { removed: 4, removedClients: 2 });
  assert.deepEqual(JSON.parse(seen.at(-1)!.body), { search: 'example', clients: true });
  assert.equal(await store.greylist.flushTriplets({}), 4);
  assert.deepEqual(JSON.parse(seen.at(-1)!.body), {});
  await assert.rejects(store.greylist.flushClients(), /not available through --url/);
  assert.deepEqual(await store.greylist.stats(), { triplets: 9, waiting: 2, passed: 7, clients: 3, autoAllowed: 1 }, 'the shape the local store gives');

  assert.deepEqual(await store.bayes.scopes(), ['bob@example.org'], 'an empty global database is not listed, as locally');
  assert.deepEqual(await store.bayes.counts('bob@example.org'), { spamMessages: 2, hamMessages: 1, tokens: 40 });
  assert.deepEqual(await store.bayes.counts('nobody@example.org'), { spamMessages: 0, hamMessages: 0, tokens: 0 });
  assert.equal(seen.filter((r) => r.path === '/api/bayes').length, 1, 'one GET /api/bayes until something is learned');
  const learned = await store.bayes.learnRaw('bob@example.org', 'spam', true, Buffer.from('Subject: x\r\n\r\nbody\r\n'));
  assert.deepEqual(learned.outcomes, { learned: 1 });
  const upload = seen.at(-1)!;
  assert.deepEqual(upload.query, { class: 'spam', unlearn: 'true', scope: 'bob@example.org' });
  assert.equal(upload.contentType, 'message/rfc822');
  assert.equal(upload.body, 'Subject: x\r\n\r\nbody\r\n');
  await store.bayes.learnRaw('', 'ham', false, Buffer.from('x'));
  assert.deepEqual(seen.at(-1)!.query, { class: 'ham' }, 'the global database: no scope');
  await store.bayes.counts('');
  assert.equal(seen.filter((r) => r.path === '/api/bayes').length, 2, 'counts asked again after learning');
});

test('error answers become messages that say what to do; exit code 1 (CommandFailure)', async (t) => {
  const { url } = await fakeDaemon(t, (r) => {
    switch (r.query.case) {
      case '401':
        return { status: 401, json: { error: 'wrong password', statusCode: 401 } };
      case '403':
        return { status: 403, json: { error: 'read-only', statusCode: 403 } };
      case '429':
        return { status: 429, json: { error: 'too many failed logins', statusCode: 429 } };
      case '400':
        return { status: 400, json: { error: 'invalid body: value: not an entry', statusCode: 400 } };
      case 'html':
        return { status: 200, text: '<html>a proxy</html>' };
      case 'plain500':
        return { status: 502, text: 'Bad Gateway' };
      default:
        return undefined; // hangs
    }
  });
  const failure = async (api: RemoteApi, which: string): Promise<RemoteError> => {
    try {
      await api.request('GET', '/api/lists', { query: { case: which } });
    } catch (error) {
      assert.ok(error instanceof RemoteError && error instanceof CommandFailure);
      return error;
    }
    assert.fail(`${which}: no error`);
  };
  const withPassword = new RemoteApi(url, 'wrong');
  const without = new RemoteApi(url, undefined);
  let error = await failure(withPassword, '401');
  assert.match(error.message, /refused the password \(wrong password\): check --password-file or \$REMPART_PASSWORD/);
  assert.ok(error.fatal);
  assert.match((await failure(without, '401')).message, /wants a password .*--password-file FILE or \$REMPART_PASSWORD/);
  assert.match((await failure(withPassword, '403')).message, /read-only password; changes need the administrator password/);
  assert.match((await failure(withPassword, '429')).message, /too many wrong passwords/);
  error = await failure(withPassword, '400');
  assert.equal(error.message, `GET /api/lists: invalid body: value: not an entry (HTTP 400 from ${url})`);
  assert.equal(error.status, 400);
  assert.ok(!error.fatal);
  assert.match((await failure(withPassword, 'html')).message, /not the API's JSON/);
  assert.match((await failure(withPassword, 'plain500')).message, /Bad Gateway \(HTTP 502/);
  error = await failure(new RemoteApi(url, undefined, 200), 'hang');
  assert.equal(error.message, `no answer from the daemon at ${url} within 0.2 s`);

  // A port nothing listens on: the fake daemon's, once it is closed.
  const { url: closedUrl } = await (async () => {
    const server = createServer();
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const port = (server.address() as AddressInfo).port;
    await new Promise<void>((resolve) => server.close(() => resolve()));
    return { url: `http://127.0.0.1:${port}` };
  })();
  error = await failure(new RemoteApi(closedUrl, 'pw'), 'x');
  assert.equal(error.message, `the daemon is not reachable at ${closedUrl} (connection refused: is it running, with http.listen at that address?)`);
  assert.ok(error.fatal);
});

test('where the URL and the password come from: --url, $REMPART_URL, --url "" for the store; --password-file, $REMPART_PASSWORD', (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'rempart-remote-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const file = join(dir, 'password');
  writeFileSync(file, 'pass word\r\nsecond line\n');
  const env = { REMPART_URL: 'http://127.0.0.1:11334/', REMPART_PASSWORD: 'from-env' };
  const password = (api: RemoteApi | undefined) => (api as unknown as { password: string | undefined }).password;

  assert.equal(remoteFrom({}, {}), undefined);
  assert.equal(wantsRemote({}, {}), false);
  assert.equal(remoteFrom({ url: '' }, env), undefined, '--url "" works on the store even with $REMPART_URL');
  assert.equal(wantsRemote({}, env), true);
  const fromEnv = remoteFrom({}, env)!;
  assert.equal(fromEnv.baseUrl, 'http://127.0.0.1:11334');
  assert.equal(password(fromEnv), 'from-env');
  const fromFile = remoteFrom({ url: 'https://mx1.example.org/rempart/', 'password-file': file }, env)!;
  assert.equal(fromFile.baseUrl, 'https://mx1.example.org/rempart', 'a path prefix (behind a proxy) is kept');
  assert.equal(password(fromFile), 'pass word', 'the first line, without its line end; the file wins over the environment');
  assert.equal(password(remoteFrom({ url: 'http://[::1]:11334' }, { REMPART_PASSWORD: '' })), undefined, 'an empty $REMPART_PASSWORD is none');
  writeFileSync(file, '  spaced out \t\n');
  assert.equal(password(remoteFrom({ url: 'http://[::1]:11334', 'password-file': file }, {})), 'spaced out', 'white space around the line is dropped');
  assert.throws(() => remoteFrom({ url: 'http://[::1]:11334' }, { REMPART_PASSWORD: 'p\u20acss' }), /cannot be sent in an Authorization header/);
  assert.ok(isHeaderPassword('pässwörd with spaces'));
  assert.ok(!isHeaderPassword(' lead') && !isHeaderPassword('trail ') && !isHeaderPassword('tab\there') && !isHeaderPassword('€uro'));

  assert.throws(() => remoteFrom({ url: 'ftp://127.0.0.1:11334' }, {}), (e: Error) => e instanceof UsageError && /http:\/\/ or https:\/\//.test(e.message));
  assert.throws(() => remoteFrom({ url: '127.0.0.1:11334' }, {}), (e: Error) => e instanceof UsageError && /--url takes the daemon's API address, e\.g\. http:\/\/127\.0\.0\.1:11334/.test(e.message));
  assert.throws(() => remoteFrom({}, { REMPART_URL: 'nope' }), /\$REMPART_URL takes/);
  assert.throws(() => remoteFrom({ url: 'http://admin:pw@127.0.0.1:11334' }, {}), /no query, fragment or credentials/);
  assert.throws(() => remoteFrom({ 'password-file': file }, {}), (e: Error) => e instanceof UsageError && /--password-file goes with --url/.test(e.message));
  assert.throws(() => remoteFrom({ url: 'http://127.0.0.1:1', 'password-file': join(dir, 'missing') }, {}), (e: Error) => e instanceof CommandFailure && /cannot read the password file/.test(e.message));
  writeFileSync(file, '\nsecret\n');
  assert.throws(() => remoteFrom({ url: 'http://127.0.0.1:1', 'password-file': file }, {}), /starts with an empty line/);
});

test('expiry times as the API takes them', () => {
  assert.equal(expiryText(0), 'never');
  assert.equal(expiryText(Date.UTC(2026, 0, 2, 3, 4, 5) / 1000), '2026-01-02T03:04:05Z');
});
