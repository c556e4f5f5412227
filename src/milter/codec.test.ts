// Milter packets byte by byte: framing (split and coalesced chunks, bad lengths), every command
// Postfix sends decoded from hand-built bytes, every reply we send encoded and read back.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  Command,
  decodeConnect,
  decodeEnvelopeArguments,
  decodeHeader,
  decodeHelo,
  decodeMacros,
  decodeOptionNegotiation,
  decodeStrings,
  encodeAddHeader,
  encodeChangeHeader,
  encodeInsertHeader,
  encodeOptionNegotiation,
  encodePacket,
  encodeQuarantine,
  encodeReplyCode,
  encodeStrings,
  MilterPacketParser,
  MilterProtocolError,
  Reply,
  type MilterPacket,
} from './codec.js';

/** Bytes of the length prefix, as the protocol defines it. */
const LENGTH_BYTES = 4;

/** A packet built by hand: length, code, then the given parts (strings get their NUL). */
function rawPacket(code: string, ...parts: Array<string | Buffer>): Buffer {
  const payload = Buffer.concat(parts.map((part) => (typeof part === 'string' ? Buffer.from(part + '\0') : part)));
  const header = Buffer.alloc(LENGTH_BYTES + 1);
  header.writeUInt32BE(payload.length + 1);
  header.write(code, LENGTH_BYTES, 'latin1');
  return Buffer.concat([header, payload]);
}

const u32 = (value: number) => {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(value);
  return b;
};
const u16 = (value: number) => {
  const b = Buffer.alloc(2);
  b.writeUInt16BE(value);
  return b;
};

/** Parses one whole reply we encoded, checking it is exactly one packet. */
function parseOne(bytes: Buffer): MilterPacket {
  const packets = new MilterPacketParser(1 << 20).push(bytes);
  assert.equal(packets.length, 1);
  return packets[0]!;
}

const simplify = (packets: MilterPacket[]) => packets.map((p) => ({ code: p.code, payload: p.payload.toString('latin1') }));

test('encodePacket: length counts the code byte and the payload', () => {
  assert.deepEqual([...encodePacket('c')], [0, 0, 0, 1, 0x63]);
  assert.deepEqual([...encodePacket('h', Buffer.from('ab'))], [0, 0, 0, 3, 0x68, 0x61, 0x62]);
});

test('parser: one packet per chunk, packets without payload included', () => {
  const parser = new MilterPacketParser(1024);
  for (const code of [Command.data, Command.endOfHeaders, Command.endOfBody, Command.abort, Command.quit]) {
    assert.deepEqual(simplify(parser.push(rawPacket(code))), [{ code, payload: '' }]);
  }
});

test('parser: a packet split at every possible byte gives the same packet once', () => {
  const packet = rawPacket(Command.header, 'Subject', 'hello world');
  for (let cut = 1; cut < packet.length; cut++) {
    const parser = new MilterPacketParser(1024);
    assert.deepEqual(parser.push(packet.subarray(0, cut)), [], `nothing before the end (cut at ${cut})`);
    assert.deepEqual(simplify(parser.push(packet.subarray(cut))), [{ code: 'L', payload: 'Subject\0hello world\0' }], `cut at ${cut}`);
  }
});

test('parser: a packet fed one byte at a time, the length prefix straddling chunks', () => {
  const parser = new MilterPacketParser(1024);
  const packet = rawPacket(Command.helo, 'mail.example.net');
  const seen: MilterPacket[] = [];
  for (const byte of packet) seen.push(...parser.push(Buffer.from([byte])));
  assert.deepEqual(simplify(seen), [{ code: 'H', payload: 'mail.example.net\0' }]);
});

test('parser: several packets in one chunk, and a chunk ending inside the next one', () => {
  const parser = new MilterPacketParser(1024);
  const stream = Buffer.concat([rawPacket('D', Buffer.from('M'), '{mail_addr}', 'a@x'), rawPacket('M', '<a@x>', 'SIZE=10'), rawPacket('R', '<b@y>'), rawPacket('L', 'To', 'b@y')]);
  const cut = stream.length - 3;
  assert.deepEqual(simplify(parser.push(stream.subarray(0, cut))), [
    { code: 'D', payload: 'M{mail_addr}\0a@x\0' },
    { code: 'M', payload: '<a@x>\0SIZE=10\0' },
    { code: 'R', payload: '<b@y>\0' },
  ]);
  assert.deepEqual(simplify(parser.push(stream.subarray(cut))), [{ code: 'L', payload: 'To\0b@y\0' }]);
});

test('parser: length 0 is refused', () => {
  const parser = new MilterPacketParser(1024);
  assert.throws(() => parser.push(Buffer.from([0, 0, 0, 0, 0x41])), (error) => error instanceof MilterProtocolError && /length 0/.test(error.message));
});

test('parser: a length above max_packet_size is refused as soon as the prefix arrives', () => {
  const parser = new MilterPacketParser(100);
  assert.throws(() => parser.push(Buffer.from([0, 0, 0, 101])), (error) => error instanceof MilterProtocolError && /101 above max_packet_size 100/.test(error.message));
  const huge = new MilterPacketParser(1 << 20);
  assert.throws(() => huge.push(Buffer.from([0xff, 0xff, 0xff, 0xff, 0x42])), MilterProtocolError);
});

test('parser: a length of exactly max_packet_size is accepted', () => {
  const parser = new MilterPacketParser(100);
  const packets = parser.push(rawPacket('B', Buffer.alloc(99, 0x61)));
  assert.equal(packets.length, 1);
  assert.equal(packets[0]!.payload.length, 99);
});

test('parser: a bad length after good packets in the same chunk is still refused', () => {
  const parser = new MilterPacketParser(100);
  assert.throws(() => parser.push(Buffer.concat([rawPacket('N'), Buffer.from([0, 0, 0, 0])])), MilterProtocolError);
});

test('O from the MTA: version, actions, protocol', () => {
  const payload = Buffer.concat([u32(6), u32(0x1ff), u32(0x1fffff)]);
  assert.deepEqual(decodeOptionNegotiation(payload), { version: 6, actions: 0x1ff, protocol: 0x1fffff });
  assert.throws(() => decodeOptionNegotiation(payload.subarray(0, 11)), /11 bytes, 12 expected/);
});

test('D: stage letter and name/value pairs; long names keep their braces', () => {
  const { payload } = parseOne(rawPacket('D', Buffer.from('C'), 'j', 'mx.example.org', '{daemon_name}', 'smtpd', '_', 'host [192.0.2.1]'));
  assert.deepEqual(decodeMacros(payload), {
    stage: 'C',
    macros: [
      ['j', 'mx.example.org'],
      ['{daemon_name}', 'smtpd'],
      ['_', 'host [192.0.2.1]'],
    ],
  });
  assert.deepEqual(decodeMacros(Buffer.from('E')), { stage: 'E', macros: [] });
  assert.throws(() => decodeMacros(Buffer.alloc(0)), /without its stage letter/);
  assert.throws(() => decodeMacros(Buffer.from('Mi\0')), /"i" without a value/);
  assert.throws(() => decodeMacros(Buffer.from('Mi\0ABC')), /terminating NUL/);
});

test('C: IPv4, IPv6, unix and unknown clients', () => {
  assert.deepEqual(decodeConnect(Buffer.concat([Buffer.from('mail.example.net\x004'), u16(25123), Buffer.from('198.51.100.7\0')])), {
    hostname: 'mail.example.net',
    family: '4',
    port: 25123,
    address: '198.51.100.7',
  });
  assert.deepEqual(decodeConnect(Buffer.concat([Buffer.from('[2001:db8::1]\x006'), u16(40000), Buffer.from('2001:db8::1\0')])), {
    hostname: '[2001:db8::1]',
    family: '6',
    port: 40000,
    address: '2001:db8::1',
  });
  assert.deepEqual(decodeConnect(Buffer.concat([Buffer.from('localhost\0L'), u16(0), Buffer.from('/var/run/sock\0')])), { hostname: 'localhost', family: 'L', port: 0, address: '/var/run/sock' });
  assert.deepEqual(decodeConnect(Buffer.from('unknown\0U')), { hostname: 'unknown', family: 'U', port: 0, address: '' });
});

test('C: malformed connect payloads', () => {
  assert.throws(() => decodeConnect(Buffer.from('no-nul')), /host name without/);
  assert.throws(() => decodeConnect(Buffer.from('host\0')), /no address family/);
  assert.throws(() => decodeConnect(Buffer.from('host\x00X')), /unknown address family "X"/);
  assert.throws(() => decodeConnect(Buffer.from('host\x004\x01')), /no port/);
  assert.throws(() => decodeConnect(Buffer.concat([Buffer.from('host\x004'), u16(25), Buffer.from('192.0.2.1')])), /terminating NUL/);
});

test('H: the HELO argument, exactly one string', () => {
  assert.equal(decodeHelo(parseOne(rawPacket('H', 'mail.example.net')).payload), 'mail.example.net');
  assert.throws(() => decodeHelo(Buffer.from('a\0b\0')), /2 strings where 1 expected/);
  assert.throws(() => decodeHelo(Buffer.from('a')), /terminating NUL/);
});

test('M and R: address then ESMTP parameters', () => {
  assert.deepEqual(decodeEnvelopeArguments(parseOne(rawPacket('M', '<alice@example.net>', 'SIZE=2048', 'BODY=8BITMIME')).payload), {
    address: '<alice@example.net>',
    parameters: ['SIZE=2048', 'BODY=8BITMIME'],
  });
  assert.deepEqual(decodeEnvelopeArguments(parseOne(rawPacket('R', '<>')).payload), { address: '<>', parameters: [] });
  assert.throws(() => decodeEnvelopeArguments(Buffer.alloc(0)), /without an address/);
});

test('L: header name and value, folded values keep their LF, UTF-8 decoded', () => {
  assert.deepEqual(decodeHeader(parseOne(rawPacket('L', 'Subject', 'caf\u00e9\n\tcontinued')).payload), { name: 'Subject', value: 'caf\u00e9\n\tcontinued' });
  assert.deepEqual(decodeHeader(Buffer.from('X-Empty\0\0')), { name: 'X-Empty', value: '' });
  assert.throws(() => decodeHeader(Buffer.from('Subject\0')), /1 strings where 2 expected/);
});

test('decodeStrings: a sequence of NUL-terminated strings from an offset', () => {
  assert.deepEqual(decodeStrings(Buffer.from('xa\0\0b\0'), 1), ['a', '', 'b']);
  assert.deepEqual(decodeStrings(Buffer.alloc(0)), []);
});

test('O to the MTA: three big-endian u32', () => {
  const { code, payload } = parseOne(encodeOptionNegotiation({ version: 6, actions: 0x31, protocol: 0x0c1380 }));
  assert.equal(code, 'O');
  assert.deepEqual(decodeOptionNegotiation(payload), { version: 6, actions: 0x31, protocol: 0x0c1380 });
  assert.equal(payload.length, 12);
});

test('O to the MTA with macro lists: u32 stage and NUL-terminated names after the three u32', () => {
  const { payload } = parseOne(encodeOptionNegotiation({ version: 6, actions: 0x131, protocol: 0x0c1380, macroLists: [[0, 'j {client_ptr}'], [5, 'i']] }));
  assert.deepEqual([...payload.subarray(12)], [0, 0, 0, 0, ...Buffer.from('j {client_ptr}'), 0, 0, 0, 0, 5, 0x69, 0]);
  assert.deepEqual(decodeOptionNegotiation(payload).macroLists, [[0, 'j {client_ptr}'], [5, 'i']]);
  assert.throws(() => decodeOptionNegotiation(Buffer.concat([payload.subarray(0, 12), Buffer.from([0, 0, 0, 0, 0x69])])), /NUL-terminated/);
});

test('replies without payload: c a r t d', () => {
  for (const code of [Reply.continue, Reply.accept, Reply.reject, Reply.tempfail, Reply.discard]) {
    assert.deepEqual(simplify([parseOne(encodePacket(code))]), [{ code, payload: '' }]);
  }
});

test('h: add header; i and m: index then name and value', () => {
  const add = parseOne(encodeAddHeader('X-Spam-Score', '7.1'));
  assert.equal(add.code, 'h');
  assert.deepEqual(decodeStrings(add.payload), ['X-Spam-Score', '7.1']);

  const insert = parseOne(encodeInsertHeader(0, 'X-Greylist', 'delayed 300 seconds'));
  assert.equal(insert.code, 'i');
  assert.equal(insert.payload.readUInt32BE(0), 0);
  assert.deepEqual(decodeStrings(insert.payload, 4), ['X-Greylist', 'delayed 300 seconds']);

  const change = parseOne(encodeChangeHeader(2, 'Subject', ''));
  assert.equal(change.code, 'm');
  assert.equal(change.payload.readUInt32BE(0), 2);
  assert.deepEqual(decodeStrings(change.payload, 4), ['Subject', '']);
});

test('q: quarantine reason on one line', () => {
  const packet = parseOne(encodeQuarantine('spam\r\nscore 7.1'));
  assert.equal(packet.code, 'q');
  assert.deepEqual(decodeStrings(packet.payload), ['spam score 7.1']);
});

test('y: "CODE ENHANCED TEXT" as one string, one line, % doubled', () => {
  const packet = parseOne(encodeReplyCode(554, '5.7.1', 'Message rejected: 100% spam\r\nsecond line\0end'));
  assert.equal(packet.code, 'y');
  assert.deepEqual(decodeStrings(packet.payload), ['554 5.7.1 Message rejected: 100%% spam second line end']);
  assert.deepEqual(decodeStrings(parseOne(encodeReplyCode(451, '', 'try later')).payload), ['451 try later']);
});

test('encodeStrings: NUL inside a string is removed, UTF-8 encoded', () => {
  assert.deepEqual(encodeStrings('a\0b', 'é'), Buffer.from('ab\0\u00e9\0', 'utf8'));
});
