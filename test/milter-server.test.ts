// The milter server over real sockets, with a recording MilterHandler written here: packet-level
// sessions from a hand-made MTA (negotiation with protocol 6 and 2, macros per stage, whole
// messages, edits and every final reply, several messages per connection, the scan-size cut,
// malformed input, handler deadlines and failures, idle timeout, unix socket, connection cap,
// drain), then Debian's miltertest as an independent client driving whole sessions.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { connect, type Socket } from 'node:net';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createLogger } from '../src/core/log.js';
import { Action, decodeOptionNegotiation, decodeStrings, encodePacket, encodeStrings, MilterPacketParser, Protocol, type MilterPacket, type OptionNegotiation } from '../src/milter/codec.js';
import { MACRO_LISTS } from '../src/milter/session.js';
import type { MilterAction, MilterEdits, MilterHandler, MilterMessage, MilterSessionState } from '../src/milter/handler.js';
import { MilterServer, type MilterServerOptions } from '../src/milter/server.js';
import { miltertestAddress, miltertestMissing, runMiltertest } from './helpers/miltertest.js';

const logLines: string[] = [];
const log = createLogger('debug', 'text', { write: (line: string) => logLines.push(line) }).log;

/** Everything Postfix 3.x offers: protocol 6, all actions, all protocol bits. */
const POSTFIX_ACTIONS = 0x1ff;
const POSTFIX_PROTOCOL = 0x1fffff;
/** What we ask of such an MTA: add/change headers, quarantine; no DATA/unknown events; no replies to header, EOH, body. */
const OUR_ACTIONS = Action.addHeaders | Action.changeHeaders | Action.quarantine;
const OUR_PROTOCOL = Protocol.noData | Protocol.noUnknown | Protocol.noReplyHeader | Protocol.noReplyEndOfHeaders | Protocol.noReplyBody;
const NO_ENVELOPE_REPLIES = Protocol.noReplyConnect | Protocol.noReplyHelo | Protocol.noReplyMail | Protocol.noReplyRcpt;

type Snapshot = Pick<MilterSessionState, 'helo' | 'sender' | 'senderParameters' | 'recipients' | 'messageCount' | 'client'> & { macros: Record<string, string> };

const snapshot = (s: MilterSessionState): Snapshot => ({
  client: s.client,
  helo: s.helo,
  sender: s.sender,
  senderParameters: [...s.senderParameters],
  recipients: [...s.recipients],
  messageCount: s.messageCount,
  macros: Object.fromEntries(s.macros),
});

const noEdits = (): MilterEdits => ({ addHeaders: [], insertHeaders: [], changeHeaders: [] });

/** A handler that records every call and answers what the test sets. */
class RecordingHandler implements MilterHandler {
  calls: Array<{ event: string; state: Snapshot; recipient?: string }> = [];
  messages: MilterMessage[] = [];
  envelopeAnswer: (event: string, recipient?: string) => MilterAction | Promise<MilterAction> = () => ({ kind: 'continue' });
  endAnswer: () => { action: MilterAction; edits: MilterEdits } | Promise<{ action: MilterAction; edits: MilterEdits }> = () => ({ action: { kind: 'continue' }, edits: noEdits() });

  events(): string[] {
    return this.calls.map((call) => call.event);
  }

  private async envelope(event: string, session: MilterSessionState, recipient?: string): Promise<MilterAction> {
    this.calls.push({ event, state: snapshot(session), ...(recipient !== undefined ? { recipient } : {}) });
    return this.envelopeAnswer(event, recipient);
  }

  connect(session: MilterSessionState) {
    return this.envelope('connect', session);
  }
  helo(session: MilterSessionState) {
    return this.envelope('helo', session);
  }
  mail(session: MilterSessionState) {
    return this.envelope('mail', session);
  }
  rcpt(session: MilterSessionState, recipient: string) {
    return this.envelope('rcpt', session, recipient);
  }
  async endOfMessage(session: MilterSessionState, message: MilterMessage) {
    this.calls.push({ event: 'eom', state: snapshot(session) });
    this.messages.push({ ...message, headers: [...message.headers], body: Buffer.from(message.body) });
    return this.endAnswer();
  }
  abort(session: MilterSessionState) {
    this.calls.push({ event: 'abort', state: snapshot(session) });
  }
  close(session: MilterSessionState) {
    this.calls.push({ event: 'close', state: snapshot(session) });
  }
}

const defaults: MilterServerOptions = {
  listen: '127.0.0.1:0',
  max_connections: 100,
  max_scan_size: 1024 * 1024,
  idle_timeout: 30,
  command_timeout: 5,
  content_timeout: 5,
  max_packet_size: 1024 * 1024,
  drain_timeout: 2,
  envelope_checks: true,
};

async function startServer(overrides: Partial<MilterServerOptions> = {}, handler = new RecordingHandler()) {
  const server = new MilterServer({ ...defaults, ...overrides }, handler, log);
  await server.start();
  return { server, handler };
}

/** Waits until `condition` holds (polling every 10 ms), or fails after timeoutMs. */
async function eventually(condition: () => boolean, what: string, timeoutMs = 3000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) assert.fail(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

const u16 = (value: number) => {
  const b = Buffer.alloc(2);
  b.writeUInt16BE(value);
  return b;
};

/** The MTA side of a milter connection, as Postfix would speak it. */
class Mta {
  private readonly parser = new MilterPacketParser(1 << 24);
  private readonly received: MilterPacket[] = [];
  private wake: (() => void) | undefined;
  closed = false;

  private constructor(readonly socket: Socket) {
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

  static open(listen: string): Promise<Mta> {
    return new Promise((resolve, reject) => {
      const socket = listen.startsWith('unix:') ? connect(listen.slice(5)) : connect(Number(listen.split(':').pop()), '127.0.0.1');
      socket.once('connect', () => resolve(new Mta(socket)));
      socket.once('error', reject);
    });
  }

  send(code: string, payload?: Buffer): void {
    this.socket.write(encodePacket(code, payload));
  }

  /** Waits for `count` packets (default 1), or fails after timeoutMs. */
  async read(count = 1, timeoutMs = 3000): Promise<MilterPacket[]> {
    const deadline = Date.now() + timeoutMs;
    while (this.received.length < count) {
      if (this.closed) assert.fail(`connection closed after ${this.received.length} of ${count} packets`);
      const left = deadline - Date.now();
      if (left <= 0) assert.fail(`only ${this.received.length} of ${count} packets within ${timeoutMs} ms`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.wake = () => {
          clearTimeout(timer);
          resolve();
        };
      });
    }
    return this.received.splice(0, count);
  }

  /** The codes of the next `count` packets. */
  async codes(count = 1): Promise<string> {
    return (await this.read(count)).map((p) => p.code).join('');
  }

  /** Asserts that nothing arrives for `ms` milliseconds. */
  async silent(ms = 100): Promise<void> {
    await new Promise((r) => setTimeout(r, ms));
    assert.deepEqual(this.received.map((p) => p.code), [], 'no packet expected');
  }

  /** Resolves true when the server closed the connection within timeoutMs. */
  async waitClosed(timeoutMs = 3000): Promise<boolean> {
    await eventually(() => this.closed, 'the connection to close', timeoutMs).catch(() => {});
    return this.closed;
  }

  async negotiate(version = 6, actions = POSTFIX_ACTIONS, protocol = POSTFIX_PROTOCOL): Promise<OptionNegotiation> {
    const payload = Buffer.alloc(12);
    payload.writeUInt32BE(version, 0);
    payload.writeUInt32BE(actions, 4);
    payload.writeUInt32BE(protocol, 8);
    this.send('O', payload);
    const [reply] = await this.read();
    assert.equal(reply!.code, 'O');
    return decodeOptionNegotiation(reply!.payload);
  }

  macros(stage: string, ...pairs: string[]): void {
    this.send('D', Buffer.concat([Buffer.from(stage), encodeStrings(...pairs)]));
  }

  connectEvent(hostname = 'mail.example.net', address = '192.0.2.7'): void {
    this.send('C', Buffer.concat([Buffer.from(`${hostname}\x004`), u16(25123), encodeStrings(address)]));
  }

  /** Headers, end of headers and body as Postfix sends them with no-reply flags: no answer awaited. */
  content(headers: Array<[string, string]>, ...bodyChunks: string[]): void {
    for (const [name, value] of headers) this.send('L', encodeStrings(name, value));
    this.send('N');
    for (const chunk of bodyChunks) this.send('B', Buffer.from(chunk));
  }

  close(): void {
    this.socket.destroy();
  }
}

/** Negotiates and runs connect, HELO, MAIL and RCPT, each answered 'c'. */
async function envelope(mta: Mta, sender = '<alice@example.net>', recipients = ['<bob@example.org>']): Promise<void> {
  await mta.negotiate();
  mta.connectEvent();
  assert.equal(await mta.codes(), 'c');
  mta.send('H', encodeStrings('mail.example.net'));
  assert.equal(await mta.codes(), 'c');
  mta.send('M', encodeStrings(sender, 'SIZE=100'));
  assert.equal(await mta.codes(), 'c');
  for (const recipient of recipients) {
    mta.send('R', encodeStrings(recipient));
    assert.equal(await mta.codes(), 'c');
  }
}

test('negotiation, protocol 6: version 6, only our actions, no DATA/unknown events, no replies to content', async () => {
  const { server } = await startServer();
  try {
    const mta = await Mta.open(server.listening());
    // Postfix offers to let us choose the macros: we ask for those the checks use.
    assert.deepEqual(await mta.negotiate(), { version: 6, actions: OUR_ACTIONS | Action.setMacroLists, protocol: OUR_PROTOCOL, macroLists: MACRO_LISTS });
    mta.close();
    const limited = await Mta.open(server.listening());
    // An MTA offering less gets no more than it offered.
    assert.deepEqual(await limited.negotiate(6, Action.addHeaders | Action.changeBody, Protocol.noReplyHeader | Protocol.noData | Protocol.noConnect), {
      version: 6,
      actions: Action.addHeaders,
      protocol: Protocol.noReplyHeader | Protocol.noData,
    });
    limited.close();
  } finally {
    await server.close();
  }
});

test('negotiation without envelope checks: no replies to connect, HELO, MAIL, RCPT either', async () => {
  const { server, handler } = await startServer({ envelope_checks: false });
  try {
    const mta = await Mta.open(server.listening());
    assert.deepEqual(await mta.negotiate(), { version: 6, actions: OUR_ACTIONS | Action.setMacroLists, protocol: OUR_PROTOCOL | NO_ENVELOPE_REPLIES, macroLists: MACRO_LISTS });
    mta.connectEvent();
    mta.send('H', encodeStrings('mail.example.net'));
    mta.send('M', encodeStrings('<alice@example.net>'));
    mta.send('R', encodeStrings('<bob@example.org>'));
    mta.send('R', encodeStrings('<carol@example.org>'));
    mta.content([['Subject', 'hi']], 'body\r\n');
    await mta.silent();
    mta.send('E');
    assert.equal(await mta.codes(), 'c');
    assert.deepEqual(handler.events(), ['eom'], 'connect/helo/mail/rcpt are recorded, not asked');
    const { state } = handler.calls[0]!;
    assert.equal(state.client?.address, '192.0.2.7');
    assert.equal(state.helo, 'mail.example.net');
    assert.equal(state.sender, 'alice@example.net');
    assert.deepEqual(state.recipients, ['bob@example.org', 'carol@example.org']);
    mta.close();
  } finally {
    await server.close();
  }
});

test('negotiation, protocol 2: version 2, and every header, end of headers and body chunk answered', async () => {
  for (const envelopeChecks of [true, false]) {
    const { server, handler } = await startServer({ envelope_checks: envelopeChecks });
    try {
      const mta = await Mta.open(server.listening());
      // Postfix 2.3-2.5: protocol 2, no DATA/unknown events, no no-reply bits.
      assert.deepEqual(await mta.negotiate(2, 0x3f, 0x7f), { version: 2, actions: OUR_ACTIONS, protocol: 0 });
      mta.connectEvent();
      mta.send('H', encodeStrings('mail.example.net'));
      mta.send('M', encodeStrings('<alice@example.net>'));
      mta.send('R', encodeStrings('<bob@example.org>'));
      assert.equal(await mta.codes(4), 'cccc', 'connect, helo, mail, rcpt answered');
      mta.content([['Subject', 'one'], ['To', 'bob@example.org']], 'chunk 1\r\n', 'chunk 2\r\n');
      assert.equal(await mta.codes(5), 'ccccc', 'two headers, end of headers, two body chunks answered');
      mta.send('E');
      assert.equal(await mta.codes(), 'c');
      assert.deepEqual(handler.events(), envelopeChecks ? ['connect', 'helo', 'mail', 'rcpt', 'eom'] : ['eom']);
      mta.close();
    } finally {
      await server.close();
    }
  }
});

test('negotiation: protocol version 1 is refused by closing the connection', async () => {
  const { server } = await startServer();
  try {
    const mta = await Mta.open(server.listening());
    const payload = Buffer.alloc(12);
    payload.writeUInt32BE(1, 0);
    mta.send('O', payload);
    assert.equal(await mta.waitClosed(), true);
    assert.ok(logLines.some((line) => line.includes('protocol version 1 not supported')));
  } finally {
    await server.close();
  }
});

test('macros: connect and HELO macros last the session, message macros end with the message', async () => {
  const { server, handler } = await startServer();
  try {
    const mta = await Mta.open(server.listening());
    await mta.negotiate();
    mta.macros('C', 'j', 'mx.example.org', '{daemon_name}', 'smtpd');
    mta.connectEvent();
    assert.equal(await mta.codes(), 'c');
    mta.macros('H', '{tls_version}', 'TLSv1.3');
    mta.send('H', encodeStrings('mail.example.net'));
    assert.equal(await mta.codes(), 'c');
    mta.macros('M', '{mail_addr}', 'alice@example.net', '{auth_authen}', 'alice');
    mta.send('M', encodeStrings('<alice@example.net>'));
    assert.equal(await mta.codes(), 'c');
    mta.macros('R', '{rcpt_addr}', 'bob@example.org');
    mta.send('R', encodeStrings('<bob@example.org>'));
    assert.equal(await mta.codes(), 'c');
    mta.content([['Subject', 'one']], 'x\r\n');
    mta.macros('E', 'i', '4C1F2A');
    mta.send('E');
    assert.equal(await mta.codes(), 'c');
    mta.send('A');
    mta.macros('M', '{mail_addr}', 'carol@example.net');
    mta.send('M', encodeStrings('<carol@example.net>'));
    assert.equal(await mta.codes(), 'c');

    const [connectCall, heloCall, mailCall, rcptCall, eomCall, abortCall, secondMail] = handler.calls;
    assert.deepEqual(connectCall!.state.macros, { j: 'mx.example.org', '{daemon_name}': 'smtpd' });
    assert.deepEqual(heloCall!.state.macros, { j: 'mx.example.org', '{daemon_name}': 'smtpd', '{tls_version}': 'TLSv1.3' });
    assert.equal(mailCall!.state.macros['{auth_authen}'], 'alice');
    assert.equal(rcptCall!.state.macros['{rcpt_addr}'], 'bob@example.org');
    assert.equal(eomCall!.state.macros['i'], '4C1F2A');
    assert.equal(abortCall!.event, 'abort');
    assert.deepEqual(secondMail!.state.macros, { j: 'mx.example.org', '{daemon_name}': 'smtpd', '{tls_version}': 'TLSv1.3', '{mail_addr}': 'carol@example.net' });
    mta.close();
  } finally {
    await server.close();
  }
});

test('a whole message: envelope state, rejected recipient left out, headers and body handed to the scan', async () => {
  const { server, handler } = await startServer();
  handler.envelopeAnswer = (event, recipient) =>
    event === 'rcpt' && recipient === 'nobody@example.org' ? { kind: 'reject', reply: { code: 550, enhanced: '5.1.1', text: '<nobody@example.org>: Recipient address rejected: User unknown' } } : { kind: 'continue' };
  try {
    const mta = await Mta.open(server.listening());
    await mta.negotiate();
    mta.connectEvent('mail.example.net', '198.51.100.7');
    assert.equal(await mta.codes(), 'c');
    mta.send('H', encodeStrings('mail.example.net'));
    assert.equal(await mta.codes(), 'c');
    mta.send('M', encodeStrings('<alice@example.net>', 'SIZE=2048', 'BODY=8BITMIME'));
    assert.equal(await mta.codes(), 'c');
    mta.send('R', encodeStrings('<bob@example.org>'));
    assert.equal(await mta.codes(), 'c');
    mta.send('R', encodeStrings('<nobody@example.org>'));
    const [refusal] = await mta.read();
    assert.equal(refusal!.code, 'y');
    assert.deepEqual(decodeStrings(refusal!.payload), ['550 5.1.1 <nobody@example.org>: Recipient address rejected: User unknown']);
    mta.content(
      [
        ['From', 'Alice <alice@example.net>'],
        ['Subject', 'folded\n\tsubject'],
      ],
      'Hello Bob,\r\n',
      'bye\r\n',
    );
    await mta.silent(50);
    mta.send('E');
    assert.equal(await mta.codes(), 'c');

    assert.deepEqual(handler.events(), ['connect', 'helo', 'mail', 'rcpt', 'rcpt', 'eom']);
    const eom = handler.calls[5]!.state;
    assert.deepEqual(eom.client, { hostname: 'mail.example.net', family: '4', port: 25123, address: '198.51.100.7' });
    assert.equal(eom.helo, 'mail.example.net');
    assert.equal(eom.sender, 'alice@example.net');
    assert.deepEqual(eom.senderParameters, ['SIZE=2048', 'BODY=8BITMIME']);
    assert.deepEqual(eom.recipients, ['bob@example.org']);
    assert.equal(handler.calls[4]!.recipient, 'nobody@example.org');
    assert.deepEqual(handler.calls[4]!.state.recipients, ['bob@example.org'], 'the recipient asked about is not in the list yet');
    const message = handler.messages[0]!;
    assert.deepEqual(message.headers, [
      { name: 'From', value: 'Alice <alice@example.net>' },
      { name: 'Subject', value: 'folded\n\tsubject' },
    ]);
    assert.equal(message.body.toString(), 'Hello Bob,\r\nbye\r\n');
    assert.equal(message.truncated, false);
    assert.equal(message.size, 'From: Alice <alice@example.net>\r\n'.length + 'Subject: folded\n\tsubject\r\n'.length + 'Hello Bob,\r\nbye\r\n'.length);
    mta.close();
  } finally {
    await server.close();
  }
});

test('envelope answers: accept, reject, tempfail, replies with sanitised text, discard refused at connect', async () => {
  const { server, handler } = await startServer();
  const answers: MilterAction[] = [
    { kind: 'discard' }, // connect: not allowed there, answered continue
    { kind: 'accept' }, // helo
    { kind: 'tempfail' }, // mail
    { kind: 'reject' }, // rcpt 1
    { kind: 'tempfail', reply: { code: 451, enhanced: '4.7.1', text: '100% busy\r\nnow' } }, // rcpt 2
    { kind: 'reject', reply: { code: 554, enhanced: '4.7.1', text: 'class mismatch' } }, // rcpt 3: enhanced left out
    { kind: 'reject', reply: { code: 250, enhanced: '2.0.0', text: 'not a refusal' } }, // rcpt 4: plain reject
    { kind: 'discard' }, // rcpt 5
  ];
  handler.envelopeAnswer = () => answers.shift()!;
  try {
    const mta = await Mta.open(server.listening());
    await mta.negotiate();
    mta.connectEvent();
    mta.send('H', encodeStrings('mail.example.net'));
    mta.send('M', encodeStrings('<alice@example.net>'));
    const replies: MilterPacket[] = [];
    replies.push(...(await mta.read(3)));
    for (let i = 1; i <= 5; i++) {
      mta.send('R', encodeStrings(`<r${i}@example.org>`));
      replies.push(...(await mta.read()));
    }
    assert.deepEqual(replies.map((p) => p.code).join(''), 'catryyrd');
    assert.deepEqual(decodeStrings(replies[4]!.payload), ['451 4.7.1 100%% busy now']);
    assert.deepEqual(decodeStrings(replies[5]!.payload), ['554 class mismatch']);
    assert.ok(logLines.some((line) => line.includes('discard where Postfix does not allow it')));
    mta.close();
  } finally {
    await server.close();
  }
});

test('end of message: edits first (h, i, m, q), then each kind of final reply', async () => {
  const { server, handler } = await startServer();
  const finals: Array<[MilterAction, string, string?]> = [
    [{ kind: 'continue' }, 'c'],
    [{ kind: 'accept' }, 'a'],
    [{ kind: 'reject' }, 'r'],
    [{ kind: 'tempfail' }, 't'],
    [{ kind: 'discard' }, 'd'],
    [{ kind: 'reject', reply: { code: 554, enhanced: '5.7.1', text: 'Message rejected: attachment "a.exe" is not allowed (extension)' } }, 'y', '554 5.7.1 Message rejected: attachment "a.exe" is not allowed (extension)'],
    [{ kind: 'tempfail', reply: { code: 451, enhanced: '4.7.1', text: 'Try again later' } }, 'y', '451 4.7.1 Try again later'],
  ];
  try {
    const mta = await Mta.open(server.listening());
    await envelope(mta);
    for (const [index, [action, code, text]] of finals.entries()) {
      handler.endAnswer = () => ({
        action,
        edits: {
          addHeaders: [{ name: 'X-Spam-Score', value: `7.${index}` }],
          insertHeaders: [{ index: 0, name: 'X-Greylist', value: 'delayed 300 seconds by rempart' }],
          changeHeaders: [{ index: 1, name: 'Subject', value: '[SPAM] hello' }],
          quarantine: 'score 7.1',
        },
      });
      mta.content([['Subject', 'hello']], 'body\r\n');
      mta.send('E');
      const packets = await mta.read(5);
      assert.equal(packets.map((p) => p.code).join(''), `himq${code}`, `final ${action.kind}`);
      assert.deepEqual(decodeStrings(packets[0]!.payload), ['X-Spam-Score', `7.${index}`]);
      assert.equal(packets[1]!.payload.readUInt32BE(0), 0);
      assert.deepEqual(decodeStrings(packets[1]!.payload, 4), ['X-Greylist', 'delayed 300 seconds by rempart']);
      assert.equal(packets[2]!.payload.readUInt32BE(0), 1);
      assert.deepEqual(decodeStrings(packets[2]!.payload, 4), ['Subject', '[SPAM] hello']);
      assert.deepEqual(decodeStrings(packets[3]!.payload), ['score 7.1']);
      if (text) assert.deepEqual(decodeStrings(packets[4]!.payload), [text]);
      // Postfix resets after each message, then the next one starts.
      mta.send('A');
      mta.send('M', encodeStrings('<alice@example.net>'));
      mta.send('R', encodeStrings('<bob@example.org>'));
      assert.equal(await mta.codes(2), 'cc');
    }
    assert.equal(server.stats().messages, finals.length);
    mta.close();
  } finally {
    await server.close();
  }
});

test('edits the MTA did not allow are left out with a warning', async () => {
  const { server, handler } = await startServer();
  handler.endAnswer = () => ({
    action: { kind: 'accept' },
    edits: { addHeaders: [{ name: 'X-Spam-Flag', value: 'YES' }], insertHeaders: [], changeHeaders: [{ index: 1, name: 'Subject', value: 'x' }], quarantine: 'spam' },
  });
  try {
    const mta = await Mta.open(server.listening());
    assert.equal((await mta.negotiate(6, Action.addHeaders, POSTFIX_PROTOCOL)).actions, Action.addHeaders);
    mta.connectEvent();
    mta.send('M', encodeStrings('<a@example.net>'));
    mta.send('R', encodeStrings('<b@example.org>'));
    assert.equal(await mta.codes(3), 'ccc');
    mta.content([['Subject', 'x']], 'y\r\n');
    mta.send('E');
    assert.equal(await mta.codes(2), 'ha');
    assert.ok(logLines.some((line) => line.includes('edits not allowed by the MTA') && line.includes('change Subject, quarantine')));
    mta.close();
  } finally {
    await server.close();
  }
});

test('two messages on one connection: the second starts clean', async () => {
  const { server, handler } = await startServer();
  try {
    const mta = await Mta.open(server.listening());
    await envelope(mta, '<alice@example.net>', ['<bob@example.org>', '<carol@example.org>']);
    mta.content([['Subject', 'first']], 'first body\r\n');
    mta.send('E');
    assert.equal(await mta.codes(), 'c');
    mta.send('A');
    mta.send('M', encodeStrings('<>'));
    mta.send('R', encodeStrings('<dave@example.org>'));
    assert.equal(await mta.codes(2), 'cc');
    mta.content([['Subject', 'second']], 'second body\r\n');
    mta.send('E');
    assert.equal(await mta.codes(), 'c');
    mta.send('A');
    mta.send('Q');
    assert.equal(await mta.waitClosed(), true, 'closed after quit');

    const eoms = handler.calls.filter((c) => c.event === 'eom');
    assert.deepEqual(eoms.map((c) => [c.state.sender, c.state.recipients, c.state.messageCount]), [
      ['alice@example.net', ['bob@example.org', 'carol@example.org'], 0],
      ['', ['dave@example.org'], 1],
    ]);
    assert.deepEqual(handler.messages.map((m) => [m.headers.map((h) => h.value), m.body.toString()]), [
      [['first'], 'first body\r\n'],
      [['second'], 'second body\r\n'],
    ]);
    assert.deepEqual(handler.events().filter((e) => e === 'abort' || e === 'close'), ['abort', 'abort', 'close']);
    assert.equal(handler.calls.at(-1)!.event, 'close');
  } finally {
    await server.close();
  }
});

test('a MAIL without the abort of the previous message starts a new one (implicit abort)', async () => {
  const { server, handler } = await startServer();
  try {
    const mta = await Mta.open(server.listening());
    await envelope(mta);
    mta.macros('M', '{mail_addr}', 'carol@example.net');
    mta.send('M', encodeStrings('<carol@example.net>'));
    assert.equal(await mta.codes(), 'c');
    assert.deepEqual(handler.events().slice(-2), ['abort', 'mail']);
    const mail = handler.calls.at(-1)!.state;
    assert.deepEqual(mail.recipients, []);
    assert.equal(mail.macros['{mail_addr}'], 'carol@example.net', 'the macros sent for this MAIL are kept');
    mta.close();
  } finally {
    await server.close();
  }
});

test('max_scan_size: headers kept while they fit, the body cut, the size counted in full', async () => {
  const { server, handler } = await startServer({ max_scan_size: 100 });
  try {
    const mta = await Mta.open(server.listening());
    await envelope(mta);
    // "Subject: hello\r\n" = 16 bytes, "To: bob@example.org\r\n" = 21 bytes: 37 of 100.
    mta.content([['Subject', 'hello'], ['To', 'bob@example.org']], 'a'.repeat(50), 'b'.repeat(50), 'c'.repeat(50));
    mta.send('E');
    assert.equal(await mta.codes(), 'c');
    const first = handler.messages[0]!;
    assert.equal(first.headers.length, 2);
    assert.equal(first.body.toString(), 'a'.repeat(50) + 'b'.repeat(13));
    assert.equal(first.size, 37 + 150);
    assert.equal(first.truncated, true);

    // A header that does not fit is left out too; later ones that fit are kept.
    mta.send('A');
    mta.send('M', encodeStrings('<a@example.net>'));
    mta.send('R', encodeStrings('<b@example.org>'));
    assert.equal(await mta.codes(2), 'cc');
    mta.content([['X-Long', 'x'.repeat(120)], ['Subject', 'hi']], 'short\r\n');
    mta.send('E');
    assert.equal(await mta.codes(), 'c');
    const second = handler.messages[1]!;
    assert.deepEqual(second.headers, [{ name: 'Subject', value: 'hi' }]);
    assert.equal(second.body.toString(), 'short\r\n');
    assert.equal(second.truncated, true);
    assert.equal(second.size, 'X-Long: \r\n'.length + 120 + 'Subject: hi\r\n'.length + 7);

    // A message within the limit is whole.
    mta.send('A');
    mta.send('M', encodeStrings('<a@example.net>'));
    mta.send('R', encodeStrings('<b@example.org>'));
    assert.equal(await mta.codes(2), 'cc');
    mta.content([['Subject', 'hi']], 'short\r\n');
    mta.send('E');
    assert.equal(await mta.codes(), 'c');
    assert.equal(handler.messages[2]!.truncated, false);
    mta.close();
  } finally {
    await server.close();
  }
});

test('malformed input closes that connection only: garbage, length 0, huge length, unknown or misplaced commands, bad payloads', async () => {
  const { server } = await startServer({ max_packet_size: 65536 });
  try {
    const healthy = await Mta.open(server.listening());
    await envelope(healthy);
    const before = server.stats().protocolErrors;
    const bad: Array<[string, (mta: Mta) => Promise<void> | void, RegExp]> = [
      ['HTTP request', (mta) => void mta.socket.write('GET / HTTP/1.1\r\nHost: x\r\n\r\n'), /above max_packet_size/],
      ['length 0', (mta) => void mta.socket.write(Buffer.from([0, 0, 0, 0])), /packet length 0/],
      ['huge length', (mta) => void mta.socket.write(Buffer.from([0x7f, 0xff, 0xff, 0xff, 0x42])), /above max_packet_size/],
      ['command before negotiation', (mta) => mta.connectEvent(), /'C' not expected before option negotiation/],
      ['unknown command', async (mta) => (await mta.negotiate(), mta.send('Z')), /unknown command 'Z'/],
      ['control byte command', async (mta) => (await mta.negotiate(), mta.send('\x01')), /unknown command 0x01/],
      ['RCPT before MAIL', async (mta) => (await mta.negotiate(), mta.send('R', encodeStrings('<b@example.org>'))), /'R' not expected outside a message/],
      ['body after end of message', async (mta) => (await envelope(mta), mta.send('E'), await mta.read(), mta.send('B', Buffer.from('x'))), /'B' not expected after the end of a message/],
      ['bad connect payload', async (mta) => (await mta.negotiate(), mta.send('C', Buffer.from('host\x00X'))), /unknown address family/],
      ['header without value', async (mta) => (await envelope(mta), mta.send('L', encodeStrings('Subject'))), /header: 1 strings where 2 expected/],
      ['short negotiation', (mta) => mta.send('O', Buffer.alloc(4)), /option negotiation of 4 bytes/],
      ['second negotiation', async (mta) => (await mta.negotiate(), mta.send('O', Buffer.alloc(12))), /'O' not expected outside a message/],
    ];
    for (const [what, send, logged] of bad) {
      const mta = await Mta.open(server.listening());
      logLines.length = 0;
      await send(mta);
      assert.equal(await mta.waitClosed(), true, `closed after ${what}`);
      assert.ok(logLines.some((line) => line.includes('milter protocol error') && logged.test(line)), `logged for ${what}: ${logLines.join('')}`);
    }
    assert.equal(server.stats().protocolErrors - before, bad.length);
    // The healthy connection and new ones carry on.
    healthy.content([['Subject', 'still here']], 'x\r\n');
    healthy.send('E');
    assert.equal(await healthy.codes(), 'c');
    const fresh = await Mta.open(server.listening());
    assert.equal((await fresh.negotiate()).version, 6);
    fresh.close();
    healthy.close();
  } finally {
    await server.close();
  }
});

test('packets split byte by byte and coalesced into one write are understood', async () => {
  const { server, handler } = await startServer();
  try {
    const mta = await Mta.open(server.listening());
    await mta.negotiate();
    const stream = Buffer.concat([
      encodePacket('D', Buffer.concat([Buffer.from('C'), encodeStrings('j', 'mx.example.org')])),
      encodePacket('C', Buffer.concat([Buffer.from('host\x004'), u16(25), encodeStrings('192.0.2.9')])),
    ]);
    for (const byte of stream) {
      mta.socket.write(Buffer.from([byte]));
      await new Promise((r) => setImmediate(r));
    }
    assert.equal(await mta.codes(), 'c');
    mta.socket.write(Buffer.concat([encodePacket('H', encodeStrings('host')), encodePacket('M', encodeStrings('<a@x>')), encodePacket('R', encodeStrings('<b@y>'))]));
    assert.equal(await mta.codes(3), 'ccc', 'pipelined events answered in order');
    assert.deepEqual(handler.events(), ['connect', 'helo', 'mail', 'rcpt']);
    assert.equal(handler.calls[0]!.state.client?.address, '192.0.2.9');
    assert.equal(handler.calls[0]!.state.macros['j'], 'mx.example.org');
    mta.close();
  } finally {
    await server.close();
  }
});

test('a handler past command_timeout or content_timeout gets continue (no edits), with a warning', async () => {
  const { server, handler } = await startServer({ command_timeout: 0.2, content_timeout: 0.3 });
  handler.envelopeAnswer = (event) => (event === 'rcpt' ? new Promise<MilterAction>(() => {}) : { kind: 'continue' });
  handler.endAnswer = () => new Promise(() => {});
  try {
    const mta = await Mta.open(server.listening());
    await mta.negotiate();
    mta.connectEvent();
    mta.send('M', encodeStrings('<a@example.net>'));
    assert.equal(await mta.codes(2), 'cc');
    let started = Date.now();
    mta.send('R', encodeStrings('<b@example.org>'));
    assert.equal(await mta.codes(), 'c');
    const rcptMs = Date.now() - started;
    assert.ok(rcptMs >= 150 && rcptMs < 2000, `answered after the 200 ms deadline (${rcptMs} ms)`);
    mta.content([['Subject', 'slow']], 'x\r\n');
    started = Date.now();
    mta.send('E');
    assert.equal(await mta.codes(), 'c');
    assert.ok(Date.now() - started >= 250);
    const eom = handler.calls.find((c) => c.event === 'eom')!;
    assert.deepEqual(eom.state.recipients, ['b@example.org'], 'a late answer counts as continue: the recipient is kept');
    assert.equal(server.stats().handlerTimeouts, 2);
    assert.ok(logLines.some((line) => line.includes('milter handler too slow') && line.includes('event=rcpt')));
    mta.close();
  } finally {
    await server.close();
  }
});

test('a handler that throws, rejects or answers nonsense gets continue, with an error logged', async () => {
  const { server, handler } = await startServer();
  handler.envelopeAnswer = (event) => {
    if (event === 'connect') throw new Error('connect exploded');
    if (event === 'helo') return Promise.reject(new Error('helo rejected'));
    if (event === 'mail') return undefined as unknown as MilterAction;
    return { kind: 'continue' };
  };
  handler.endAnswer = () => ({ action: { kind: 'accept' } }) as unknown as { action: MilterAction; edits: MilterEdits };
  try {
    const mta = await Mta.open(server.listening());
    await mta.negotiate();
    mta.connectEvent();
    mta.send('H', encodeStrings('mail.example.net'));
    mta.send('M', encodeStrings('<a@example.net>'));
    mta.send('R', encodeStrings('<b@example.org>'));
    assert.equal(await mta.codes(4), 'cccc');
    mta.content([['Subject', 'x']], 'y\r\n');
    mta.send('E');
    assert.equal(await mta.codes(), 'c', 'edits missing: continue, no edits');
    assert.equal(server.stats().handlerErrors, 4);
    assert.ok(logLines.some((line) => line.includes('milter handler failed') && line.includes('connect exploded')));
    mta.close();
  } finally {
    await server.close();
  }
});

test('the MTA hanging up mid-message: the handler hears abort then close', async () => {
  const { server, handler } = await startServer();
  try {
    const mta = await Mta.open(server.listening());
    await envelope(mta);
    mta.content([['Subject', 'x']], 'partial');
    await mta.silent(50);
    mta.close();
    await eventually(() => handler.events().includes('close'), 'close');
    assert.deepEqual(handler.events().slice(-2), ['abort', 'close']);
    await eventually(() => server.stats().openConnections === 0, 'the connection to be forgotten');
  } finally {
    await server.close();
  }
});

test('idle connections are closed after idle_timeout', async () => {
  const { server, handler } = await startServer({ idle_timeout: 0.2 });
  try {
    const mta = await Mta.open(server.listening());
    await mta.negotiate();
    const started = Date.now();
    assert.equal(await mta.waitClosed(3000), true);
    assert.ok(Date.now() - started < 2500);
    assert.ok(logLines.some((line) => line.includes('milter connection idle')));
    await eventually(() => handler.events().includes('close'), 'close');
  } finally {
    await server.close();
  }
});

test('a slow handler is not mistaken for an idle MTA', async () => {
  const { server, handler } = await startServer({ idle_timeout: 0.2, content_timeout: 5 });
  handler.endAnswer = () => new Promise((resolve) => setTimeout(() => resolve({ action: { kind: 'accept' }, edits: noEdits() }), 500));
  try {
    const mta = await Mta.open(server.listening());
    await mta.negotiate();
    mta.send('M', encodeStrings('<a@example.net>'));
    mta.send('R', encodeStrings('<b@example.org>'));
    assert.equal(await mta.codes(2), 'cc');
    mta.content([], 'x\r\n');
    mta.send('E');
    assert.equal(await mta.codes(), 'a');
  } finally {
    await server.close();
  }
});

test('serves on a unix socket', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'rempart-milter-'));
  try {
    const { server } = await startServer({ listen: `unix:${join(dir, 'milter.sock')}` });
    try {
      assert.equal(server.listening(), `unix:${join(dir, 'milter.sock')}`);
      const mta = await Mta.open(server.listening());
      assert.equal((await mta.negotiate()).version, 6);
      mta.connectEvent();
      assert.equal(await mta.codes(), 'c');
      mta.close();
    } finally {
      await server.close();
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('connections beyond max_connections are refused and counted', async () => {
  const { server } = await startServer({ max_connections: 1 });
  try {
    const first = await Mta.open(server.listening());
    await first.negotiate();
    const second = await Mta.open(server.listening());
    assert.equal(await second.waitClosed(), true);
    assert.equal(server.stats().refusedConnections, 1);
    assert.equal(server.stats().connections, 1);
    first.close();
  } finally {
    await server.close();
  }
});

test('close() lets a scan in progress finish, refuses new connections, and ends sessions at drain_timeout', async () => {
  const { server, handler } = await startServer({ drain_timeout: 1 });
  handler.endAnswer = () => new Promise((resolve) => setTimeout(() => resolve({ action: { kind: 'accept' }, edits: noEdits() }), 300));
  const scanning = await Mta.open(server.listening());
  await envelope(scanning);
  const lingering = await Mta.open(server.listening());
  await lingering.negotiate();
  scanning.content([['Subject', 'x']], 'y\r\n');
  scanning.send('E');
  await new Promise((r) => setTimeout(r, 50));
  const started = Date.now();
  const closing = server.close();
  await assert.rejects(Mta.open(server.listening()), 'no longer accepting');
  assert.equal(await scanning.codes(), 'a', 'the scan in progress was answered');
  scanning.send('A');
  scanning.send('Q');
  assert.equal(await scanning.waitClosed(), true);
  await closing;
  const tookMs = Date.now() - started;
  assert.ok(tookMs >= 900 && tookMs < 3000, `the idle session was ended at drain_timeout (${tookMs} ms)`);
  assert.equal(await lingering.waitClosed(), true);
  assert.equal(server.stats().openConnections, 0);
});

test('close() returns at once when no session is open', async () => {
  const { server } = await startServer({ drain_timeout: 5 });
  const mta = await Mta.open(server.listening());
  await mta.negotiate();
  mta.send('Q');
  assert.equal(await mta.waitClosed(), true);
  const started = Date.now();
  await server.close();
  assert.ok(Date.now() - started < 500);
});

// Debian's miltertest as the MTA. Its notation for our address is inet:PORT@HOST.

const skipMiltertest = miltertestMissing ? { skip: miltertestMissing } : {};

/** Lua helpers shared by the scripts: `check(cond, what)` and `expect(reply, code, what)`. */
const LUA_PRELUDE = `
local function fail(message) mt.echo("FAILED: " .. message); error(message) end
local function check(cond, what) if not cond then fail("check failed: " .. what) end end
local function expect(code, what)
  local reply = mt.getreply(conn)
  if reply ~= code then fail(what .. ": reply " .. string.char(reply) .. ", expected " .. string.char(code)) end
end
local function ok(result, what) if result ~= nil then fail(what .. ": " .. tostring(result)) end end
`;

test('miltertest: a whole session, two messages, headers added, quarantine and a reply code', skipMiltertest, async () => {
  const { server, handler } = await startServer();
  handler.envelopeAnswer = (event, recipient) => (event === 'rcpt' && recipient === 'unknown@example.org' ? { kind: 'reject', reply: { code: 550, enhanced: '5.1.1', text: 'User unknown' } } : { kind: 'continue' });
  const finals: Array<{ action: MilterAction; edits: MilterEdits }> = [
    {
      action: { kind: 'accept' },
      edits: {
        addHeaders: [
          { name: 'X-Spam-Flag', value: 'YES' },
          { name: 'X-Spam-Score', value: '7.3' },
        ],
        insertHeaders: [{ index: 0, name: 'X-Greylist', value: 'delayed 300 seconds by rempart' }],
        changeHeaders: [{ index: 1, name: 'Subject', value: '[SPAM] Cheap pills' }],
        quarantine: 'score 7.3',
      },
    },
    { action: { kind: 'reject', reply: { code: 554, enhanced: '5.7.1', text: 'Message rejected: 100% spam' } }, edits: noEdits() },
  ];
  handler.endAnswer = () => finals.shift()!;
  try {
    const script = `${LUA_PRELUDE}
conn = mt.connect("${miltertestAddress(server.listening())}")
check(conn ~= nil, "connect")
ok(mt.negotiate(conn, nil, nil, nil), "negotiate")
check(mt.test_action(conn, SMFIF_ADDHDRS), "asks ADDHDRS")
check(mt.test_action(conn, SMFIF_CHGHDRS), "asks CHGHDRS")
check(mt.test_action(conn, SMFIF_QUARANTINE), "asks QUARANTINE")
check(not mt.test_action(conn, SMFIF_CHGBODY), "does not ask CHGBODY")
check(mt.test_option(conn, SMFIP_NR_HDR), "no header replies")
check(mt.test_option(conn, SMFIP_NR_BODY), "no body replies")
check(mt.test_option(conn, SMFIP_NODATA), "no DATA event")
check(not mt.test_option(conn, SMFIP_NR_RCPT), "RCPT answered")

mt.macro(conn, SMFIC_CONNECT, "j", "mx.example.org", "{daemon_name}", "smtpd")
ok(mt.conninfo(conn, "mail.example.net", "198.51.100.7"), "conninfo")
expect(SMFIR_CONTINUE, "conninfo")
ok(mt.helo(conn, "mail.example.net"), "helo")
expect(SMFIR_CONTINUE, "helo")
mt.macro(conn, SMFIC_MAIL, "{mail_addr}", "alice@example.net")
ok(mt.mailfrom(conn, "<alice@example.net>", "SIZE=300"), "mailfrom")
expect(SMFIR_CONTINUE, "mailfrom")
ok(mt.rcptto(conn, "<unknown@example.org>"), "rcpt unknown")
expect(SMFIR_REPLYCODE, "rcpt unknown")
ok(mt.rcptto(conn, "<bob@example.org>"), "rcpt bob")
expect(SMFIR_CONTINUE, "rcpt bob")
ok(mt.header(conn, "From", "Alice <alice@example.net>"), "header From")
ok(mt.header(conn, "Subject", "Cheap pills"), "header Subject")
ok(mt.eoh(conn), "eoh")
ok(mt.bodystring(conn, "Buy now.\\r\\n"), "body 1")
ok(mt.bodystring(conn, "Really.\\r\\n"), "body 2")
ok(mt.eom(conn), "eom")
expect(SMFIR_ACCEPT, "eom 1")
check(mt.eom_check(conn, MT_HDRADD, "X-Spam-Flag", "YES"), "X-Spam-Flag added")
check(mt.eom_check(conn, MT_HDRADD, "X-Spam-Score", "7.3"), "X-Spam-Score added")
check(mt.getheader(conn, "X-Spam-Score", 0) == "7.3", "getheader X-Spam-Score")
check(mt.eom_check(conn, MT_HDRINSERT, "X-Greylist", "delayed 300 seconds by rempart", 0), "X-Greylist inserted at 0")
check(mt.eom_check(conn, MT_HDRCHANGE, "Subject", "[SPAM] Cheap pills"), "Subject changed")
check(mt.eom_check(conn, MT_QUARANTINE, "score 7.3"), "quarantined")

ok(mt.abort(conn), "abort")
ok(mt.mailfrom(conn, "<mallory@example.net>"), "mailfrom 2")
expect(SMFIR_CONTINUE, "mailfrom 2")
ok(mt.rcptto(conn, "<bob@example.org>"), "rcpt 2")
ok(mt.header(conn, "Subject", "again"), "header 2")
ok(mt.eoh(conn), "eoh 2")
ok(mt.bodystring(conn, "spam\\r\\n"), "body 3")
ok(mt.eom(conn), "eom 2")
expect(SMFIR_REPLYCODE, "eom 2")
check(mt.eom_check(conn, MT_SMTPREPLY, "554", "5.7.1", "Message rejected: 100%% spam"), "reply code and text")
check(not mt.eom_check(conn, MT_HDRADD), "no header added to the rejected message")
mt.disconnect(conn)
mt.echo("miltertest session done")
`;
    const result = await runMiltertest(script);
    assert.equal(result.timedOut, false, result.output);
    assert.equal(result.code, 0, result.output);
    assert.match(result.output, /miltertest session done/);
    await eventually(() => handler.events().includes('close'), 'close');
    assert.deepEqual(handler.events(), ['connect', 'helo', 'mail', 'rcpt', 'rcpt', 'eom', 'abort', 'mail', 'rcpt', 'eom', 'abort', 'close']);
    const first = handler.calls[5]!.state;
    assert.equal(first.sender, 'alice@example.net');
    assert.deepEqual(first.recipients, ['bob@example.org']);
    assert.equal(first.macros['j'], 'mx.example.org');
    assert.equal(first.macros['{mail_addr}'], 'alice@example.net');
    assert.deepEqual(handler.messages[0]!.headers, [
      { name: 'From', value: 'Alice <alice@example.net>' },
      { name: 'Subject', value: 'Cheap pills' },
    ]);
    assert.equal(handler.messages[0]!.body.toString(), 'Buy now.\r\nReally.\r\n');
    assert.equal(handler.calls[9]!.state.macros['{mail_addr}'], undefined, 'message macros dropped at abort');
  } finally {
    await server.close();
  }
});

test('miltertest: without envelope checks the envelope events are not answered', skipMiltertest, async () => {
  const { server, handler } = await startServer({ envelope_checks: false });
  handler.endAnswer = () => ({ action: { kind: 'continue' }, edits: { ...noEdits(), addHeaders: [{ name: 'X-Spam-Status', value: 'No, score=0.0' }] } });
  try {
    const script = `${LUA_PRELUDE}
conn = mt.connect("${miltertestAddress(server.listening())}")
check(conn ~= nil, "connect")
ok(mt.negotiate(conn, nil, nil, nil), "negotiate")
for _, option in ipairs({ SMFIP_NR_CONN, SMFIP_NR_HELO, SMFIP_NR_MAIL, SMFIP_NR_RCPT, SMFIP_NR_HDR, SMFIP_NR_EOH, SMFIP_NR_BODY }) do
  check(mt.test_option(conn, option), "no-reply option " .. option)
end
ok(mt.conninfo(conn, "client.example.net", "192.0.2.1"), "conninfo")
ok(mt.helo(conn, "client.example.net"), "helo")
ok(mt.mailfrom(conn, "<a@example.net>"), "mailfrom")
ok(mt.rcptto(conn, "<b@example.org>"), "rcptto")
ok(mt.header(conn, "Subject", "ham"), "header")
ok(mt.eoh(conn), "eoh")
ok(mt.bodystring(conn, "hello\\r\\n"), "body")
ok(mt.eom(conn), "eom")
expect(SMFIR_CONTINUE, "eom")
check(mt.eom_check(conn, MT_HDRADD, "X-Spam-Status", "No, score=0.0"), "X-Spam-Status added")
mt.disconnect(conn)
`;
    const result = await runMiltertest(script);
    assert.equal(result.code, 0, result.output);
    await eventually(() => handler.events().includes('close'), 'close');
    assert.deepEqual(handler.events(), ['eom', 'abort', 'close']);
    assert.deepEqual(handler.calls[0]!.state.recipients, ['b@example.org']);
  } finally {
    await server.close();
  }
});

test('miltertest: a mismatch in the script fails the run (the harness can fail)', skipMiltertest, async () => {
  const { server } = await startServer();
  try {
    const script = `${LUA_PRELUDE}
conn = mt.connect("${miltertestAddress(server.listening())}")
ok(mt.conninfo(conn, "client.example.net", "192.0.2.1"), "conninfo")
expect(SMFIR_REJECT, "conninfo")
`;
    const result = await runMiltertest(script);
    assert.notEqual(result.code, 0);
    assert.match(result.output, /conninfo: reply c, expected r/);
  } finally {
    await server.close();
  }
});
