// The policy server over real TCP and unix sockets: many requests per connection, pipelined
// requests answered in order, malformed and oversized input closing the connection without a
// reply while the server keeps serving, the idle timeout, the connection cap, and draining on stop.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { connect, type Socket } from 'node:net';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PolicyServer, type PolicyServerOptions } from '../src/policy/server.js';
import { createLogger } from '../src/core/log.js';

const lines: string[] = [];
const log = createLogger('debug', 'text', { write: (line: string) => lines.push(line) }).log;

async function startServer(overrides: Partial<PolicyServerOptions> = {}, listen = '127.0.0.1:0') {
  const server = new PolicyServer({
    listen,
    maxLineLength: 1024,
    maxAttributes: 20,
    maxRequestSize: 4096,
    idleTimeout: 30,
    maxConnections: 100,
    log,
    handle: async (attrs) => {
      const delay = Number(attrs.get('delay_ms') ?? 0);
      if (delay) await new Promise((r) => setTimeout(r, delay));
      if (attrs.get('explode')) throw new Error('boom');
      return `DUNNO ${attrs.get('recipient') ?? ''}`.trim();
    },
    ...overrides,
  });
  await server.start();
  return server;
}

function open(address: string): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = address.startsWith('unix:') ? connect(address.slice(5)) : connect(Number(address.split(':').pop()), '127.0.0.1');
    socket.setEncoding('utf8');
    socket.once('connect', () => resolve(socket));
    socket.once('error', reject);
  });
}

/** Reads until `count` replies (each ending in an empty line) arrived, or the peer closed. */
function readReplies(socket: Socket, count: number, timeoutMs = 3000): Promise<{ replies: string[]; closed: boolean }> {
  return new Promise((resolve) => {
    let buffer = '';
    const done = (closed: boolean) => {
      clearTimeout(timer);
      socket.removeAllListeners('data');
      resolve({ replies: buffer.split('\n\n').filter(Boolean), closed });
    };
    const timer = setTimeout(() => done(false), timeoutMs);
    socket.on('data', (chunk: string) => {
      buffer += chunk;
      if (buffer.split('\n\n').filter(Boolean).length >= count && buffer.endsWith('\n\n')) done(false);
    });
    socket.once('close', () => done(true));
  });
}

const request = (recipient: string, extra = '') => `request=smtpd_access_policy\nprotocol_state=RCPT\nrecipient=${recipient}\n${extra}\n`;

test('answers many requests on one connection, pipelined ones in order', async () => {
  const server = await startServer();
  try {
    const socket = await open(server.listening());
    socket.write(request('a@x', 'delay_ms=30\n') + request('b@x') + request('c@x', 'delay_ms=5\n'));
    const { replies } = await readReplies(socket, 3);
    assert.deepEqual(replies, ['action=DUNNO a@x', 'action=DUNNO b@x', 'action=DUNNO c@x']);
    socket.write(request('d@x'));
    assert.deepEqual((await readReplies(socket, 1)).replies, ['action=DUNNO d@x']);
    socket.destroy();
  } finally {
    await server.stop(1);
  }
});

test('a failing handler gets DUNNO, never a crash', async () => {
  const server = await startServer();
  try {
    const socket = await open(server.listening());
    socket.write(request('a@x', 'explode=1\n'));
    assert.deepEqual((await readReplies(socket, 1)).replies, ['action=DUNNO']);
    socket.destroy();
  } finally {
    await server.stop(1);
  }
});

test('malformed or oversized input closes that connection without a reply; others carry on', async () => {
  const server = await startServer();
  try {
    const healthy = await open(server.listening());
    for (const garbage of ['this is not a policy request\n\n', `x=${'y'.repeat(5000)}`, '\0\0\0\n', Array.from({ length: 30 }, (_, i) => `a${i}=1\n`).join('')]) {
      const bad = await open(server.listening());
      bad.write(garbage);
      const { replies, closed } = await readReplies(bad, 1);
      assert.equal(closed, true, `closed after ${JSON.stringify(garbage.slice(0, 20))}`);
      assert.deepEqual(replies, [], 'no reply to malformed input');
    }
    healthy.write(request('still@x'));
    assert.deepEqual((await readReplies(healthy, 1)).replies, ['action=DUNNO still@x']);
    healthy.destroy();
    assert.ok(lines.some((l) => l.includes('malformed policy request')), 'the malformed request was logged');
  } finally {
    await server.stop(1);
  }
});

test('idle connections are closed after the idle timeout', async () => {
  const server = await startServer({ idleTimeout: 0.2 });
  try {
    const socket = await open(server.listening());
    const started = Date.now();
    const { closed } = await readReplies(socket, 1, 3000);
    assert.equal(closed, true);
    assert.ok(Date.now() - started < 2500);
  } finally {
    await server.stop(1);
  }
});

test('connections beyond max_connections are refused', async () => {
  const server = await startServer({ maxConnections: 1 });
  try {
    const first = await open(server.listening());
    first.write(request('one@x'));
    await readReplies(first, 1);
    const second = await open(server.listening());
    const { closed } = await readReplies(second, 1, 2000);
    assert.equal(closed, true);
    first.destroy();
  } finally {
    await server.stop(1);
  }
});

test('stop() lets an in-flight request finish, then closes', async () => {
  const server = await startServer();
  const socket = await open(server.listening());
  socket.write(request('slow@x', 'delay_ms=300\n'));
  await new Promise((r) => setTimeout(r, 50));
  const reading = readReplies(socket, 1, 3000);
  await server.stop(5);
  const { replies } = await reading;
  assert.deepEqual(replies, ['action=DUNNO slow@x']);
  await assert.rejects(open(server.listening()), 'no longer accepting');
});

test('serves on a unix socket and replaces a stale socket file', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'rempart-sock-'));
  const path = join(dir, 'policy.sock');
  try {
    const first = await startServer({}, `unix:${path}`);
    await first.stop(1);
    const server = await startServer({}, `unix:${path}`);
    const socket = await open(`unix:${path}`);
    socket.write(request('unix@x'));
    assert.deepEqual((await readReplies(socket, 1)).replies, ['action=DUNNO unix@x']);
    socket.destroy();
    await assert.rejects(startServer({}, `unix:${path}`), /another process is listening/);
    await server.stop(1);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
