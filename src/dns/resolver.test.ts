// Tests of DnsResolver against real DNS servers on loopback: dnsmasq (A, AAAA, MX, PTR, TXT,
// NXDOMAIN, NODATA, REFUSED), rbldnsd (DNSBL zones), and a stub UDP server for timeouts and
// SERVFAIL. Query counts come from the servers' own logs, so caching and de-duplication are
// proven at the server, not only by our counters. Skipped when the Debian servers are missing.
import { after, before, test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import type { MxRecord } from 'node:dns';
import { DnsResolver, DNS_RESOLVER_DEFAULTS, isNullMx, type DnsAnswer, type DnsResolverOptions } from './resolver.js';
import { reverseIpv4Name, reverseIpv6Name } from './names.js';
import { dnsServersUnavailable, freeDnsPort, startDnsmasq, startRbldnsd, startStubDnsServer, type DnsServer } from '../../test/helpers/dns-server.js';

const unavailable = dnsServersUnavailable();
let dns: DnsServer | undefined;

before(async () => {
  if (unavailable) return;
  dns = await startDnsmasq({
    domains: ['rtest'],
    ttlSeconds: 60,
    hosts: [
      { name: 'a.rtest', ipv4: ['192.0.2.10', '192.0.2.11'], ipv6: ['2001:db8::10'], ttlSeconds: 30 },
      { name: 'short.rtest', ipv4: ['192.0.2.20'], ttlSeconds: 5 },
      { name: 'onesec.rtest', ipv4: ['192.0.2.21'], ttlSeconds: 1 },
      { name: 'long.rtest', ipv4: ['192.0.2.22'], ttlSeconds: 86_400 },
      { name: 'zero.rtest', ipv4: ['192.0.2.23'], ttlSeconds: 0 },
      { name: 'dedup.rtest', ipv4: ['192.0.2.30'] },
      { name: 'mx1.rtest', ipv4: ['192.0.2.40'] },
      { name: 'lru1.rtest', ipv4: ['192.0.2.51'] },
      { name: 'lru2.rtest', ipv4: ['192.0.2.52'] },
      { name: 'lru3.rtest', ipv4: ['192.0.2.53'] },
      { name: 'nocache.rtest', ipv4: ['192.0.2.54'] },
      { name: 'case.rtest', ipv4: ['192.0.2.55'] },
      { name: 'failover.rtest', ipv4: ['192.0.2.56'] },
    ],
    mx: [
      { name: 'mail.rtest', exchange: 'mx1.rtest', preference: 10 },
      { name: 'mail.rtest', exchange: 'mx2.rtest', preference: 20 },
      { name: 'nullmx.rtest', exchange: '.', preference: 0 },
      { name: 'mxttl.rtest', exchange: 'mx1.rtest', preference: 10 },
    ],
    ptr: [
      { ip: '192.0.2.10', name: 'a.rtest' },
      { ip: '2001:db8::10', name: 'a.rtest' },
    ],
    txt: [
      { name: 'txt.rtest', strings: ['v=spf1 -all'] },
      // 5 × 150 bytes: more than a UDP answer without EDNS holds (512 bytes), so it comes truncated.
      { name: 'big.rtest', strings: Array.from({ length: 5 }, (_, i) => String(i).repeat(150)) },
      { name: 'multi.rtest', strings: ['part one, ', 'part "two"'] },
    ],
    wildcards: [{ domain: 'wild.rtest', address: '192.0.2.99' }],
  });
});

after(async () => {
  await dns?.stop();
});

/** The shared dnsmasq, or a skipped test when the Debian servers are not installed. */
function server(t: TestContext): DnsServer | undefined {
  if (unavailable) {
    t.skip(`needs real DNS servers: ${unavailable}`);
    return undefined;
  }
  return dns!;
}

function resolverFor(servers: string[], options: Partial<DnsResolverOptions> = {}, now?: () => number): DnsResolver {
  return new DnsResolver({ servers, timeoutMs: 2_000, ...options }, now ? { now } : {});
}

function records<T>(answer: DnsAnswer<T>): T[] {
  assert.equal(answer.status, 'ok', `expected an answer, got ${JSON.stringify(answer)}`);
  return (answer as Extract<DnsAnswer<T>, { status: 'ok' }>).records;
}

/** Whether an answer came from the cache; undefined for errors. */
function cachedOf<T>(answer: DnsAnswer<T>): boolean | undefined {
  return answer.status === 'error' ? undefined : answer.cached;
}

/** A clock the test moves by hand, in milliseconds. */
function fakeClock(): { now: () => number; advance: (ms: number) => void } {
  let time = 1_000_000;
  return { now: () => time, advance: (ms) => (time += ms) };
}

test('answers A, AAAA, MX, PTR (IPv4 and IPv6) and TXT from a real server', async (t) => {
  const s = server(t);
  if (!s) return;
  const r = resolverFor([s.address]);

  const a = await r.a('a.rtest');
  assert.deepEqual(records(a).sort(), ['192.0.2.10', '192.0.2.11']);
  assert.deepEqual(a, { status: 'ok', records: a.status === 'ok' ? a.records : [], ttl: 30, cached: false }, 'TTL from the server');

  const aaaa = await r.aaaa('a.rtest');
  assert.deepEqual(records(aaaa), ['2001:db8::10']);
  assert.equal(aaaa.status === 'ok' && aaaa.ttl, 30);

  const mx = records(await r.mx('mail.rtest'));
  assert.deepEqual(
    [...mx].sort((x, y) => x.priority - y.priority),
    [
      { exchange: 'mx1.rtest', priority: 10 },
      { exchange: 'mx2.rtest', priority: 20 },
    ],
  );
  assert.equal(isNullMx(mx), false);

  assert.deepEqual(records(await r.ptr('192.0.2.10')), ['a.rtest']);
  assert.deepEqual(records(await r.ptr('2001:db8::10')), ['a.rtest']);

  assert.deepEqual(records(await r.txt('txt.rtest')), [['v=spf1 -all']]);
  assert.deepEqual(records(await r.txt('multi.rtest')), [['part one, ', 'part "two"']], 'character-strings kept apart, quotes and commas intact');
  assert.deepEqual(records(await r.a('any.thing.wild.rtest')), ['192.0.2.99'], 'wildcard');
  assert.deepEqual(r.stats().failures, {});
});

test('an answer too large for UDP is asked again over TCP', async (t) => {
  const s = server(t);
  if (!s) return;
  const r = resolverFor([s.address]);
  const answer = await r.txt('big.rtest');
  assert.deepEqual(records(answer), [Array.from({ length: 5 }, (_, i) => String(i).repeat(150))]);
  assert.equal(r.stats().tcpRetries, 1);
  assert.equal(r.stats().queries, 1);
});

test('a null MX (RFC 7505) is served and recognised', async (t) => {
  const s = server(t);
  if (!s) return;
  const r = resolverFor([s.address]);
  const mx = records(await r.mx('nullmx.rtest'));
  assert.equal(mx.length, 1);
  assert.equal(mx[0]!.priority, 0);
  assert.equal(isNullMx(mx), true);
  assert.equal(isNullMx([{ exchange: 'mx1.rtest', priority: 0 }] satisfies MxRecord[]), false);
  assert.equal(isNullMx([] satisfies MxRecord[]), false);
});

test('NXDOMAIN and NODATA are told apart, and neither is an error', async (t) => {
  const s = server(t);
  if (!s) return;
  const r = resolverFor([s.address]);
  assert.deepEqual(await r.a('missing.rtest'), { status: 'nxdomain', cached: false });
  assert.deepEqual(await r.mx('missing.rtest'), { status: 'nxdomain', cached: false });
  assert.deepEqual(await r.ptr('192.0.2.99'), { status: 'nxdomain', cached: false });
  assert.deepEqual(await r.mx('a.rtest'), { status: 'nodata', cached: false }, 'a.rtest exists, has no MX');
  assert.deepEqual(await r.txt('a.rtest'), { status: 'nodata', cached: false });
  assert.deepEqual(await r.aaaa('short.rtest'), { status: 'nodata', cached: false }, 'A but no AAAA');
  assert.deepEqual(r.stats().failures, {});
});

test('positive answers are cached for their TTL, then asked again (fake clock)', async (t) => {
  const s = server(t);
  if (!s) return;
  const clock = fakeClock();
  const r = resolverFor([s.address], { maxTtlSeconds: 3_600 }, clock.now);
  const before = await s.queryCount('short.rtest', 'A');

  assert.deepEqual(await r.a('short.rtest'), { status: 'ok', records: ['192.0.2.20'], ttl: 5, cached: false });
  clock.advance(4_000);
  assert.deepEqual(await r.a('short.rtest'), { status: 'ok', records: ['192.0.2.20'], ttl: 1, cached: true }, 'remaining TTL');
  assert.equal(await s.queryCount('short.rtest', 'A'), before + 1, 'the cached answer cost no query');

  clock.advance(1_001);
  assert.deepEqual(await r.a('short.rtest'), { status: 'ok', records: ['192.0.2.20'], ttl: 5, cached: false });
  assert.equal(await s.queryCount('short.rtest', 'A'), before + 2, 'expired: asked the server again');
  const stats = r.stats();
  assert.equal(stats.queries, 2);
  assert.equal(stats.cacheHits, 1);
});

test('maxTtlSeconds bounds a long TTL; MX answers keep their own TTL; TTL 0 is not cached', async (t) => {
  const s = server(t);
  if (!s) return;
  const clock = fakeClock();
  const r = resolverFor([s.address], { maxTtlSeconds: 2, defaultTtlSeconds: 10 }, clock.now);

  const long = await r.a('long.rtest');
  assert.equal(long.status === 'ok' && long.ttl, 2, 'a one-day TTL bounded to 2 s');
  clock.advance(2_001);
  assert.deepEqual(cachedOf(await r.a('long.rtest')), false);
  assert.equal(await s.queryCount('long.rtest', 'A'), 2);

  const r2 = resolverFor([s.address], { maxTtlSeconds: 3_600, defaultTtlSeconds: 10 }, clock.now);
  const mx = await r2.mx('mxttl.rtest');
  assert.equal(mx.status === 'ok' && mx.ttl, 60, 'MX is cached for its own TTL (defaultTtlSeconds is for TCP answers only)');
  clock.advance(59_000);
  assert.equal(cachedOf(await r2.mx('mxttl.rtest')), true);
  clock.advance(1_001);
  assert.equal(cachedOf(await r2.mx('mxttl.rtest')), false);
  assert.equal(await s.queryCount('mxttl.rtest', 'MX'), 2);

  await r2.a('zero.rtest');
  await r2.a('zero.rtest');
  assert.equal(await s.queryCount('zero.rtest', 'A'), 2, 'TTL 0: asked every time');
});

test('the cache honours a real 1-second TTL (real clock)', async (t) => {
  const s = server(t);
  if (!s) return;
  const r = resolverFor([s.address]);
  assert.equal((await r.a('onesec.rtest')).status, 'ok');
  assert.equal(cachedOf(await r.a('onesec.rtest')), true);
  assert.equal(await s.queryCount('onesec.rtest', 'A'), 1);
  await new Promise((resolve) => setTimeout(resolve, 1_100));
  assert.equal(cachedOf(await r.a('onesec.rtest')), false);
  assert.equal(await s.queryCount('onesec.rtest', 'A'), 2);
});

test('NXDOMAIN and NODATA are cached for negativeTtlSeconds; 0 disables it', async (t) => {
  const s = server(t);
  if (!s) return;
  const clock = fakeClock();
  const r = resolverFor([s.address], { negativeTtlSeconds: 30 }, clock.now);
  await r.a('neg-missing.rtest');
  assert.deepEqual(await r.a('neg-missing.rtest'), { status: 'nxdomain', cached: true });
  await r.mx('mx1.rtest');
  assert.deepEqual(await r.mx('mx1.rtest'), { status: 'nodata', cached: true });
  assert.equal(await s.queryCount('neg-missing.rtest', 'A'), 1);
  assert.equal(await s.queryCount('mx1.rtest', 'MX'), 1);
  clock.advance(30_001);
  assert.deepEqual(await r.a('neg-missing.rtest'), { status: 'nxdomain', cached: false });
  assert.equal(await s.queryCount('neg-missing.rtest', 'A'), 2);

  const noNegative = resolverFor([s.address], { negativeTtlSeconds: 0 }, clock.now);
  await noNegative.a('neg-missing2.rtest');
  assert.deepEqual(await noNegative.a('neg-missing2.rtest'), { status: 'nxdomain', cached: false });
  assert.equal(await s.queryCount('neg-missing2.rtest', 'A'), 2);
});

test('identical queries in flight go to the server once', async (t) => {
  const s = server(t);
  if (!s) return;
  const r = resolverFor([s.address]);
  const answers = await Promise.all(Array.from({ length: 20 }, () => r.a('DEDUP.rtest.')));
  for (const answer of answers) assert.deepEqual(answer, { status: 'ok', records: ['192.0.2.30'], ttl: 60, cached: false });
  assert.notEqual(records(answers[0]!), records(answers[1]!), 'each caller has its own array');
  assert.equal(await s.queryCount('dedup.rtest', 'A'), 1, 'one query at the server');
  const stats = r.stats();
  assert.equal(stats.queries, 1);
  assert.equal(stats.dedupedWaits, 19);

  // Different types of the same name are different queries.
  await Promise.all([r.aaaa('dedup.rtest'), r.mx('dedup.rtest'), r.aaaa('dedup.rtest')]);
  assert.equal(await s.queryCount('dedup.rtest', 'AAAA'), 1);
  assert.equal(await s.queryCount('dedup.rtest', 'MX'), 1);
  assert.equal(r.stats().dedupedWaits, 20);
});

test('names are matched without regard to case or a final dot; PTR of a mapped address is the IPv4 one', async (t) => {
  const s = server(t);
  if (!s) return;
  const r = resolverFor([s.address]);
  await r.a('Case.RTEST.');
  assert.equal(cachedOf(await r.a('case.rtest')), true);
  assert.deepEqual(records(await r.ptr('192.0.2.10')), ['a.rtest']);
  const mapped = await r.ptr('::ffff:192.0.2.10');
  assert.deepEqual(records(mapped), ['a.rtest']);
  assert.equal(cachedOf(mapped), true, 'the mapped address shares the IPv4 PTR answer');
  assert.equal(r.stats().cacheHits, 2);
});

test('the cache keeps the cacheSize most recently used answers (at most twice as many), evicting the least recently used', async (t) => {
  const s = server(t);
  if (!s) return;
  const r = resolverFor([s.address], { cacheSize: 2 });
  await r.a('lru1.rtest');
  await r.a('lru2.rtest');
  await r.a('lru1.rtest'); // lru1 now most recent
  await r.a('lru3.rtest'); // evicts lru2
  assert.equal(r.stats().cacheEntries, 2);
  assert.equal(cachedOf(await r.a('lru1.rtest')), true, 'lru1 kept');
  assert.equal(await s.queryCount('lru1.rtest'), 1);
  await r.a('lru2.rtest');
  assert.equal(await s.queryCount('lru2.rtest'), 2, 'lru2 was evicted');

  const none = resolverFor([s.address], { cacheSize: 0 });
  await none.a('nocache.rtest');
  await none.a('nocache.rtest');
  assert.equal(await s.queryCount('nocache.rtest', 'A'), 2, 'cacheSize 0: nothing cached (and c-ares caches nothing either)');
  assert.equal(none.stats().cacheEntries, 0);
});

test('REFUSED from the server is a temporary error, not cached', async (t) => {
  const s = server(t);
  if (!s) return;
  const r = resolverFor([s.address]);
  // dnsmasq has no upstream: names outside its local domains are REFUSED.
  assert.deepEqual(await r.a('example.com'), { status: 'error', code: 'EREFUSED' });
  assert.deepEqual(await r.a('example.com'), { status: 'error', code: 'EREFUSED' });
  assert.equal(await s.queryCount('example.com', 'A'), 2, 'errors are not cached');
  assert.deepEqual(r.stats().failures, { EREFUSED: 2 });
});

test('SERVFAIL is a temporary error, not cached', async (t) => {
  const stub = await startStubDnsServer({ mode: 'servfail' });
  t.after(() => stub.stop());
  const r = resolverFor([stub.address]);
  assert.deepEqual(await r.mx('example.org'), { status: 'error', code: 'ESERVFAIL' });
  const afterFirst = stub.received();
  assert.ok(afterFirst >= 1);
  assert.deepEqual(await r.mx('example.org'), { status: 'error', code: 'ESERVFAIL' });
  assert.ok(stub.received() > afterFirst, 'the second call asked the server again');
  assert.deepEqual(r.stats().failures, { ESERVFAIL: 2 });
});

test('a server that never answers: ETIMEOUT within timeoutMs', async (t) => {
  const stub = await startStubDnsServer({ mode: 'silent' });
  t.after(() => stub.stop());
  const timeoutMs = 400;
  const r = resolverFor([stub.address], { timeoutMs });
  const started = performance.now();
  const answers = await Promise.all([r.a('slow.example'), r.a('slow.example'), r.txt('slow.example')]);
  const elapsed = performance.now() - started;
  for (const answer of answers) assert.deepEqual(answer, { status: 'error', code: 'ETIMEOUT' });
  assert.ok(elapsed < timeoutMs + 250, `bounded by timeoutMs: took ${elapsed.toFixed(0)} ms`);
  assert.ok(elapsed >= timeoutMs - 10, `waited for the deadline: took ${elapsed.toFixed(0)} ms`);
  assert.ok(stub.received() >= 2, 'the stub saw the queries');
  const stats = r.stats();
  assert.equal(stats.queries, 2, 'A de-duplicated, TXT separate');
  assert.deepEqual(stats.failures, { ETIMEOUT: 2 });
});

test('the hard deadline holds even when c-ares would wait longer', async (t) => {
  const stub = await startStubDnsServer({ mode: 'silent' });
  t.after(() => stub.stop());
  // c-ares 1.34 alone, asked for 15 ms per try and 2 tries, gives up after 600-700 ms (measured).
  const r = resolverFor([stub.address], { timeoutMs: 60 });
  const started = performance.now();
  assert.deepEqual(await r.a('slow.example'), { status: 'error', code: 'ETIMEOUT' });
  const elapsed = performance.now() - started;
  assert.ok(elapsed < 60 + 250, `took ${elapsed.toFixed(0)} ms`);
});

test('a closed port is a temporary error (ECONNREFUSED)', async (t) => {
  const port = await freeDnsPort(); // nothing listens there
  const r = resolverFor([`127.0.0.1:${port}`], { timeoutMs: 1_000 });
  const answer = await r.a('a.example');
  assert.equal(answer.status, 'error');
  assert.ok(answer.status === 'error' && ['ECONNREFUSED', 'ETIMEOUT'].includes(answer.code), JSON.stringify(answer));
  t.diagnostic(`closed port: ${JSON.stringify(answer)}`);
});

test('fails over from a dead server to the next one within the deadline', async (t) => {
  const s = server(t);
  if (!s) return;
  const stub = await startStubDnsServer({ mode: 'silent' });
  t.after(() => stub.stop());
  const r = resolverFor([stub.address, s.address], { timeoutMs: 1_500 });
  const started = performance.now();
  assert.deepEqual(records(await r.a('failover.rtest')), ['192.0.2.56']);
  t.diagnostic(`answered by the second server after ${(performance.now() - started).toFixed(0)} ms`);
  assert.ok(stub.received() >= 1, 'the first server was tried first');
});

test('query methods never throw: bad names and addresses are errors', async () => {
  const r = new DnsResolver({ servers: ['127.0.0.1:9'], timeoutMs: 200 });
  assert.deepEqual(await r.a(''), { status: 'error', code: 'EBADNAME' });
  assert.deepEqual(await r.a('.'), { status: 'error', code: 'EBADNAME' });
  assert.deepEqual(await r.mx('x'.repeat(300)), { status: 'error', code: 'EBADNAME' });
  assert.deepEqual(await r.ptr('not-an-ip'), { status: 'error', code: 'EBADIP' });
  assert.deepEqual(await r.a(undefined as unknown as string), { status: 'error', code: 'EBADNAME' });
  assert.deepEqual(r.stats().failures, { EBADNAME: 4, EBADIP: 1 });
  assert.equal(r.stats().queries, 0);
});

test('cancel() ends queries in flight as errors', async (t) => {
  const stub = await startStubDnsServer({ mode: 'silent' });
  t.after(() => stub.stop());
  const r = resolverFor([stub.address], { timeoutMs: 5_000 });
  const pending = r.a('slow.example');
  await new Promise((resolve) => setTimeout(resolve, 20));
  const started = performance.now();
  r.cancel();
  assert.deepEqual(await pending, { status: 'error', code: 'ECANCELLED' });
  assert.ok(performance.now() - started < 500);
});

test('options: defaults, server address forms, invalid values refused at construction', () => {
  assert.deepEqual(new DnsResolver().settings, DNS_RESOLVER_DEFAULTS);
  assert.equal(new DnsResolver({ timeoutMs: undefined, cacheSize: 5 }).settings.timeoutMs, DNS_RESOLVER_DEFAULTS.timeoutMs, 'undefined keeps the default');
  assert.doesNotThrow(() => new DnsResolver({ servers: ['127.0.0.1', '127.0.0.1:5353', '[::1]:5353', '::1'] }));
  assert.throws(() => new DnsResolver({ servers: ['not a server'] }));
  assert.throws(() => new DnsResolver({ timeoutMs: 0 }), RangeError);
  assert.throws(() => new DnsResolver({ cacheSize: -1 }), RangeError);
  assert.throws(() => new DnsResolver({ maxTtlSeconds: Number.NaN }), RangeError);
});

test('DNSBL zones served by rbldnsd: listed, not listed, IPv4 and IPv6, TXT reasons', async (t) => {
  if (unavailable) {
    t.skip(`needs real DNS servers: ${unavailable}`);
    return;
  }
  const bl = await startRbldnsd({
    ttlSeconds: 120,
    zones: [
      { zone: 'bl.rtest', type: 'ip4set', lines: [':127.0.0.2:Listed, see https://bl.rtest/?ip=$', '192.0.2.0/24', '127.0.0.2', '198.51.100.7 :127.0.0.3:Spam source $'] },
      { zone: 'bl.rtest', type: 'ip6trie', lines: [':127.0.0.4:IPv6 listed $', '2001:db8:1::/48'] },
    ],
  });
  t.after(() => bl.stop());
  const r = resolverFor([bl.address]);

  const name = reverseIpv4Name('192.0.2.2', 'bl.rtest');
  assert.equal(name, '2.2.0.192.bl.rtest');
  assert.deepEqual(await r.a(name), { status: 'ok', records: ['127.0.0.2'], ttl: 120, cached: false });
  assert.deepEqual(records(await r.txt(name)), [['Listed, see https://bl.rtest/?ip=192.0.2.2']]);
  assert.deepEqual(records(await r.a(reverseIpv4Name('127.0.0.2', 'bl.rtest'))), ['127.0.0.2'], 'RFC 5782 test point');
  assert.deepEqual(records(await r.a(reverseIpv4Name('198.51.100.7', 'bl.rtest'))), ['127.0.0.3']);
  assert.deepEqual(records(await r.txt(reverseIpv4Name('198.51.100.7', 'bl.rtest'))), [['Spam source 198.51.100.7']]);
  assert.deepEqual(await r.a(reverseIpv4Name('203.0.113.5', 'bl.rtest')), { status: 'nxdomain', cached: false }, 'not listed');
  assert.equal(cachedOf(await r.a(reverseIpv4Name('192.0.2.2', 'bl.rtest'))), true);
  assert.equal(await bl.queryCount(name, 'A'), 1, 'the cached answer cost no query');

  const v6 = reverseIpv6Name('2001:db8:1::25', 'bl.rtest');
  assert.deepEqual(records(await r.a(v6)), ['127.0.0.4']);
  assert.deepEqual(records(await r.txt(v6)), [['IPv6 listed 2001:db8:1::25']]);
  assert.equal((await r.a(reverseIpv6Name('2001:db8:2::25', 'bl.rtest'))).status, 'nxdomain');
  assert.deepEqual(await r.a('outside.example'), { status: 'error', code: 'EREFUSED' }, 'names outside its zones');
});
