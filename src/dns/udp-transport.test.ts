// Tests of the UDP DNS transport against in-process UDP peers that answer as a test needs: forged
// and mismatched answers ignored, SOA negative TTLs, retries moving to the next server, truncation,
// rcodes, cancel, and server address forms. (Real servers: resolver.test.ts.)
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createSocket, type RemoteInfo, type Socket } from 'node:dgram';
import dnsPacket from 'dns-packet';
import { parseServerAddress, UdpDnsTransport, type DnsServerAddress } from './udp-transport.js';

type Reply = (query: dnsPacket.Packet, send: (response: dnsPacket.Packet) => void, sendRaw: (bytes: Buffer) => void) => void;

/** A UDP peer on a free loopback port that hands every decoded query to `reply`. */
async function peer(reply: Reply): Promise<{ address: DnsServerAddress; received: () => number; close: () => void; onQuery: (hook: (clientPort: number) => void) => void }> {
  const socket: Socket = createSocket('udp4');
  let received = 0;
  let hook: ((clientPort: number) => void) | undefined;
  socket.on('message', (message: Buffer, remote: RemoteInfo) => {
    received++;
    hook?.(remote.port);
    const query = dnsPacket.decode(message);
    const sendRaw = (bytes: Buffer) => socket.send(bytes, remote.port, remote.address);
    reply(query, (response) => sendRaw(dnsPacket.encode(response)), sendRaw);
  });
  await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', () => resolve()));
  return {
    address: { host: '127.0.0.1', port: socket.address().port, family: 4 },
    received: () => received,
    close: () => socket.close(),
    onQuery: (h) => (hook = h),
  };
}

/** Response codes, the low 4 bits of the header flags (dns-packet encodes them from `flags`). */
const RCODE = { SERVFAIL: 2, NXDOMAIN: 3, NOTIMP: 4, REFUSED: 5 } as const;

const answerA = (query: dnsPacket.Packet, address: string, ttl = 30): dnsPacket.Packet => ({
  type: 'response',
  id: query.id,
  flags: dnsPacket.RECURSION_DESIRED | dnsPacket.RECURSION_AVAILABLE,
  questions: query.questions,
  answers: [{ type: 'A', name: query.questions![0]!.name, ttl, data: address }],
});

test('answers with another id, another question, or not from a server asked are ignored', async (t) => {
  const server = await peer((query, send) => {
    send({ ...answerA(query, '192.0.2.66'), id: (query.id! + 1) & 0xffff }); // wrong id
    send({ ...answerA(query, '192.0.2.67'), questions: [{ type: 'A', name: 'other.example' }] }); // wrong question
    send({ ...answerA(query, '192.0.2.68'), type: 'query' }); // not a response
    setTimeout(() => send(answerA(query, '192.0.2.1')), 20);
  });
  t.after(() => server.close());
  const transport = new UdpDnsTransport([server.address], 1_000);
  const outcome = transport.query('host.example', 'A');
  assert.deepEqual(await outcome, { kind: 'ok', records: ['192.0.2.1'], ttl: 30, negativeTtl: undefined });
});

test('an answer from a host that was not asked is ignored, even with the right id and question', async (t) => {
  const intruder = createSocket('udp4');
  await new Promise<void>((resolve) => intruder.bind(0, '127.0.0.1', () => resolve()));
  let forgedSent = false;
  const server = await peer((query, send) => {
    // The forged answer arrives first, from another port of the same host.
    intruder.send(dnsPacket.encode(answerA(query, '198.51.100.1')), clientPort, '127.0.0.1', () => {
      forgedSent = true;
      setTimeout(() => send(answerA(query, '192.0.2.2')), 20);
    });
  });
  let clientPort = 0;
  server.onQuery((port) => (clientPort = port));
  t.after(() => {
    server.close();
    intruder.close();
  });
  const transport = new UdpDnsTransport([server.address], 1_000);
  assert.deepEqual(await transport.query('host.example', 'A'), { kind: 'ok', records: ['192.0.2.2'], ttl: 30, negativeTtl: undefined });
  assert.ok(forgedSent, 'the forged answer was sent');
});

test('NXDOMAIN and NODATA carry the negative TTL of the SOA (the smaller of its TTL and minimum)', async (t) => {
  const soa = (ttl: number, minimum: number): dnsPacket.Answer => ({
    type: 'SOA',
    name: 'example',
    ttl,
    data: { mname: 'ns.example', rname: 'hostmaster.example', serial: 1, refresh: 3600, retry: 600, expire: 86400, minimum },
  });
  const server = await peer((query, send) => {
    const name = query.questions![0]!.name;
    const base = { type: 'response' as const, id: query.id, questions: query.questions };
    if (name === 'gone.example') send({ ...base, flags: RCODE.NXDOMAIN, authorities: [soa(300, 120)] });
    else send({ ...base, flags: 0, authorities: [soa(45, 900)] });
  });
  t.after(() => server.close());
  const transport = new UdpDnsTransport([server.address], 1_000);
  assert.deepEqual(await transport.query('gone.example', 'MX'), { kind: 'nxdomain', negativeTtl: 120 });
  assert.deepEqual(await transport.query('empty.example', 'MX'), { kind: 'ok', records: [], ttl: undefined, negativeTtl: 45 });
});

test('records of each type in the resolver shape; CNAMEs on the way are skipped', async (t) => {
  const server = await peer((query, send) => {
    const q = query.questions![0]!;
    const answers: dnsPacket.Answer[] = [{ type: 'CNAME', name: q.name, ttl: 10, data: 'target.example' }];
    if (q.type === 'MX') answers.push({ type: 'MX', name: 'target.example', ttl: 50, data: { preference: 10, exchange: 'mx.example' } }, { type: 'MX', name: 'target.example', ttl: 40, data: { preference: 0, exchange: '.' } });
    if (q.type === 'TXT') answers.push({ type: 'TXT', name: 'target.example', ttl: 50, data: ['part one ', 'part two'] });
    if (q.type === 'PTR') answers.push({ type: 'PTR', name: q.name, ttl: 50, data: 'host.example' });
    if (q.type === 'AAAA') answers.push({ type: 'AAAA', name: 'target.example', ttl: 50, data: '2001:db8::1' });
    send({ type: 'response', id: query.id, questions: query.questions, answers });
  });
  t.after(() => server.close());
  const transport = new UdpDnsTransport([server.address], 1_000);
  assert.deepEqual(await transport.query('alias.example', 'MX'), {
    kind: 'ok',
    records: [
      { priority: 10, exchange: 'mx.example' },
      { priority: 0, exchange: '' },
    ],
    ttl: 40,
    negativeTtl: undefined,
  });
  assert.deepEqual(await transport.query('alias.example', 'TXT'), { kind: 'ok', records: [['part one ', 'part two']], ttl: 50, negativeTtl: undefined });
  assert.deepEqual(await transport.query('1.2.0.192.in-addr.arpa', 'PTR'), { kind: 'ok', records: ['host.example'], ttl: 50, negativeTtl: undefined });
  assert.deepEqual(await transport.query('alias.example', 'AAAA'), { kind: 'ok', records: ['2001:db8::1'], ttl: 50, negativeTtl: undefined });
});

test('rcodes: SERVFAIL, REFUSED and others are temporary errors; a truncated answer says so', async (t) => {
  const server = await peer((query, send) => {
    const name = query.questions![0]!.name;
    const base = { type: 'response' as const, id: query.id, questions: query.questions };
    if (name === 'servfail.example') send({ ...base, flags: RCODE.SERVFAIL });
    else if (name === 'refused.example') send({ ...base, flags: RCODE.REFUSED });
    else if (name === 'notimp.example') send({ ...base, flags: RCODE.NOTIMP });
    else send({ ...base, flags: dnsPacket.TRUNCATED_RESPONSE });
  });
  t.after(() => server.close());
  const transport = new UdpDnsTransport([server.address], 1_000);
  assert.deepEqual(await transport.query('servfail.example', 'A'), { kind: 'error', code: 'ESERVFAIL' });
  assert.deepEqual(await transport.query('refused.example', 'A'), { kind: 'error', code: 'EREFUSED' });
  assert.deepEqual(await transport.query('notimp.example', 'A'), { kind: 'error', code: 'ENOTIMP' });
  assert.deepEqual(await transport.query('big.example', 'TXT'), { kind: 'truncated' });
});

test('a silent server: retried at each quarter of the deadline on the next server, ETIMEOUT at the deadline', async (t) => {
  const silent = await peer(() => undefined);
  let answeredAt = 0;
  const started = performance.now();
  const second = await peer((query, send) => {
    answeredAt = performance.now() - started;
    send(answerA(query, '192.0.2.3'));
  });
  t.after(() => {
    silent.close();
    second.close();
  });
  const timeoutMs = 400;
  const transport = new UdpDnsTransport([silent.address, second.address], timeoutMs);
  assert.deepEqual(await transport.query('host.example', 'A'), { kind: 'ok', records: ['192.0.2.3'], ttl: 30, negativeTtl: undefined });
  assert.ok(answeredAt >= timeoutMs / 4 - 5 && answeredAt < timeoutMs, `second server asked after ${answeredAt.toFixed(0)} ms`);

  const alone = new UdpDnsTransport([silent.address], timeoutMs);
  const before = performance.now();
  assert.deepEqual(await alone.query('host.example', 'A'), { kind: 'error', code: 'ETIMEOUT' });
  const elapsed = performance.now() - before;
  assert.ok(elapsed >= timeoutMs - 5 && elapsed < timeoutMs + 150, `deadline after ${elapsed.toFixed(0)} ms`);
  assert.ok(silent.received() >= 4, `tries: ${silent.received()}`);
});

test('cancel() ends queries in flight; ids differ between concurrent queries', async (t) => {
  const ids = new Set<number>();
  const silent = await peer((query) => ids.add(query.id!));
  t.after(() => silent.close());
  const transport = new UdpDnsTransport([silent.address], 5_000);
  const pending = Array.from({ length: 50 }, (_, i) => transport.query(`h${i}.example`, 'A'));
  await new Promise((resolve) => setTimeout(resolve, 50));
  transport.cancel();
  for (const outcome of await Promise.all(pending)) assert.deepEqual(outcome, { kind: 'error', code: 'ECANCELLED' });
  assert.equal(ids.size, 50, 'every query had its own id');
});

test('server addresses: IPv4, IPv6, with and without port; bad ones refused', () => {
  assert.deepEqual(parseServerAddress('192.0.2.53'), { host: '192.0.2.53', port: 53, family: 4 });
  assert.deepEqual(parseServerAddress('127.0.0.1:5353'), { host: '127.0.0.1', port: 5353, family: 4 });
  assert.deepEqual(parseServerAddress('::1'), { host: '::1', port: 53, family: 6 });
  assert.deepEqual(parseServerAddress('[2001:DB8::1]:5300'), { host: '2001:db8::1', port: 5300, family: 6 });
  assert.throws(() => parseServerAddress('dns.example'));
  assert.throws(() => parseServerAddress('127.0.0.1:70000'));
  assert.throws(() => parseServerAddress('[::1]:x'));
});
