// Milter wire format (see ../shared/reference/protocols.md part B): every packet is a 4-byte
// big-endian length (counting the command byte and the payload), one command or reply byte, then
// the payload. Strings are NUL-terminated; integers are big-endian. Pure functions and an
// incremental packet parser with a size limit; anything malformed is a MilterProtocolError.

/** Commands from the MTA. */
export const Command = {
  optionNegotiation: 'O',
  macro: 'D',
  connect: 'C',
  helo: 'H',
  mail: 'M',
  rcpt: 'R',
  data: 'T',
  unknown: 'U',
  header: 'L',
  endOfHeaders: 'N',
  body: 'B',
  endOfBody: 'E',
  abort: 'A',
  quit: 'Q',
} as const;

/** Replies from the filter. */
export const Reply = {
  optionNegotiation: 'O',
  continue: 'c',
  accept: 'a',
  reject: 'r',
  tempfail: 't',
  discard: 'd',
  replyCode: 'y',
  addHeader: 'h',
  insertHeader: 'i',
  changeHeader: 'm',
  quarantine: 'q',
} as const;

/** Action flags of the option negotiation (what the filter may do to a message). */
export const Action = {
  addHeaders: 0x001,
  changeBody: 0x002,
  addRecipient: 0x004,
  deleteRecipient: 0x008,
  changeHeaders: 0x010,
  quarantine: 0x020,
  changeSender: 0x040,
  addRecipientWithParameters: 0x080,
  setMacroLists: 0x100,
} as const;

/** Protocol flags of the option negotiation: events not sent (NO_*) or not answered (NR_*). */
export const Protocol = {
  noConnect: 0x000001,
  noHelo: 0x000002,
  noMail: 0x000004,
  noRcpt: 0x000008,
  noBody: 0x000010,
  noHeaders: 0x000020,
  noEndOfHeaders: 0x000040,
  noReplyHeader: 0x000080,
  noUnknown: 0x000100,
  noData: 0x000200,
  skip: 0x000400,
  rejectedRecipients: 0x000800,
  noReplyConnect: 0x001000,
  noReplyHelo: 0x002000,
  noReplyMail: 0x004000,
  noReplyRcpt: 0x008000,
  noReplyData: 0x010000,
  noReplyUnknown: 0x020000,
  noReplyEndOfHeaders: 0x040000,
  noReplyBody: 0x080000,
  headerLeadingSpace: 0x100000,
} as const;

/** Bytes of the length prefix. */
const LENGTH_BYTES = 4;

export class MilterProtocolError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'MilterProtocolError';
  }
}

export interface MilterPacket {
  /** The command (or reply) byte as a one-character string. */
  code: string;
  payload: Buffer;
}

/**
 * Accumulates bytes from a connection and yields complete packets. A length of 0 or above
 * `maxPacketSize` (bytes, command byte included) is refused as soon as the length prefix arrives.
 */
export class MilterPacketParser {
  private pending: Buffer[] = [];
  private pendingBytes = 0;
  /** Length field of the packet being received, once its prefix has arrived. */
  private expectedLength: number | undefined;

  constructor(private readonly maxPacketSize: number) {}

  /**
   * Feeds a chunk; returns the packets it completed. Throws MilterProtocolError at the first bad
   * length (the connection is then closed, so packets before it in the same chunk do not matter).
   */
  push(chunk: Buffer): MilterPacket[] {
    this.pending.push(chunk);
    this.pendingBytes += chunk.length;
    const packets: MilterPacket[] = [];
    for (;;) {
      if (this.expectedLength === undefined) {
        if (this.pendingBytes < LENGTH_BYTES) break;
        this.expectedLength = this.readLength();
      }
      if (this.pendingBytes < LENGTH_BYTES + this.expectedLength) break;
      const data = this.pending.length === 1 ? this.pending[0]! : Buffer.concat(this.pending, this.pendingBytes);
      let offset = 0;
      // Take every complete packet of the coalesced data in one pass.
      while (this.expectedLength !== undefined && data.length - offset >= LENGTH_BYTES + this.expectedLength) {
        const start = offset + LENGTH_BYTES;
        packets.push({ code: String.fromCharCode(data[start]!), payload: data.subarray(start + 1, start + this.expectedLength) });
        offset = start + this.expectedLength;
        this.expectedLength = data.length - offset >= LENGTH_BYTES ? this.checkedLength(data.readUInt32BE(offset)) : undefined;
      }
      const rest = data.subarray(offset);
      this.pending = rest.length > 0 ? [rest] : [];
      this.pendingBytes = rest.length;
    }
    return packets;
  }

  /** Reads the length prefix from the pending chunks (it may straddle several). */
  private readLength(): number {
    let head = this.pending[0]!;
    if (head.length < LENGTH_BYTES) {
      head = Buffer.concat(this.pending, this.pendingBytes);
      this.pending = [head];
    }
    return this.checkedLength(head.readUInt32BE(0));
  }

  private checkedLength(length: number): number {
    if (length === 0) throw new MilterProtocolError('packet length 0 (no command byte)');
    if (length > this.maxPacketSize) throw new MilterProtocolError(`packet length ${length} above max_packet_size ${this.maxPacketSize}`);
    return length;
  }
}

/** One packet: length, code, payload. */
export function encodePacket(code: string, payload: Buffer = Buffer.alloc(0)): Buffer {
  const packet = Buffer.allocUnsafe(LENGTH_BYTES + 1 + payload.length);
  packet.writeUInt32BE(1 + payload.length, 0);
  packet.write(code, LENGTH_BYTES, 1, 'latin1');
  payload.copy(packet, LENGTH_BYTES + 1);
  return packet;
}

/** NUL-terminated strings, one after the other. A NUL inside a string would end it early on the other side, so it is removed. */
export function encodeStrings(...strings: string[]): Buffer {
  return Buffer.from(strings.map((text) => text.replaceAll('\0', '') + '\0').join(''), 'utf8');
}

/** Splits a payload (from `offset`) into its NUL-terminated strings; every string must be terminated. */
export function decodeStrings(payload: Buffer, offset = 0): string[] {
  const strings: string[] = [];
  let start = offset;
  while (start < payload.length) {
    const end = payload.indexOf(0, start);
    if (end < 0) throw new MilterProtocolError('string without its terminating NUL');
    strings.push(payload.toString('utf8', start, end));
    start = end + 1;
  }
  return strings;
}

/** Exactly `count` NUL-terminated strings. */
function decodeExactly(payload: Buffer, count: number, what: string, offset = 0): string[] {
  const strings = decodeStrings(payload, offset);
  if (strings.length !== count) throw new MilterProtocolError(`${what}: ${strings.length} strings where ${count} expected`);
  return strings;
}

export interface OptionNegotiation {
  version: number;
  /** Action flags (Action.*). */
  actions: number;
  /** Protocol flags (Protocol.*). */
  protocol: number;
  /**
   * Our answer only (with Action.setMacroLists): the macros Postfix is to send at each stage, by
   * stage number (0 connect, 1 HELO, 2 MAIL, 3 RCPT, 4 DATA, 5 end of message, 6 end of header),
   * space-separated; they replace Postfix's lists (stages not named get none).
   */
  macroLists?: ReadonlyArray<[stage: number, names: string]>;
}

/** Bytes of an option negotiation payload: three u32. */
const OPTION_NEGOTIATION_BYTES = 12;

/** 'O' from the MTA: version, actions, protocol (anything after them, such as macro lists, is ignored). */
export function decodeOptionNegotiation(payload: Buffer): OptionNegotiation {
  if (payload.length < OPTION_NEGOTIATION_BYTES) throw new MilterProtocolError(`option negotiation of ${payload.length} bytes, ${OPTION_NEGOTIATION_BYTES} expected`);
  const negotiation: OptionNegotiation = { version: payload.readUInt32BE(0), actions: payload.readUInt32BE(4), protocol: payload.readUInt32BE(8) };
  // A filter's answer may go on with macro lists: u32 stage, NUL-terminated names, again and again.
  const lists: Array<[number, string]> = [];
  let offset = OPTION_NEGOTIATION_BYTES;
  while (offset < payload.length) {
    if (offset + 4 >= payload.length) throw new MilterProtocolError('macro list without its names');
    const stage = payload.readUInt32BE(offset);
    const end = payload.indexOf(0, offset + 4);
    if (end < 0) throw new MilterProtocolError('macro list names not NUL-terminated');
    lists.push([stage, payload.toString('utf8', offset + 4, end)]);
    offset = end + 1;
  }
  if (lists.length > 0) negotiation.macroLists = lists;
  return negotiation;
}

/** 'O' from the filter. */
export function encodeOptionNegotiation(options: OptionNegotiation): Buffer {
  const payload = Buffer.alloc(OPTION_NEGOTIATION_BYTES);
  payload.writeUInt32BE(options.version >>> 0, 0);
  payload.writeUInt32BE(options.actions >>> 0, 4);
  payload.writeUInt32BE(options.protocol >>> 0, 8);
  const lists = (options.macroLists ?? []).map(([stage, names]) => Buffer.concat([u32(stage), encodeStrings(names)]));
  return encodePacket(Reply.optionNegotiation, Buffer.concat([payload, ...lists]));
}

export interface MacroDefinitions {
  /** The command letter these macros belong to ('C', 'H', 'M', 'R', 'T', 'N', 'E'...). */
  stage: string;
  macros: Array<[name: string, value: string]>;
}

/** 'D': the stage letter, then name, value, name, value... */
export function decodeMacros(payload: Buffer): MacroDefinitions {
  if (payload.length < 1) throw new MilterProtocolError('macro packet without its stage letter');
  const strings = decodeStrings(payload, 1);
  if (strings.length % 2 !== 0) throw new MilterProtocolError(`macro ${JSON.stringify(strings.at(-1))} without a value`);
  const macros: Array<[string, string]> = [];
  for (let i = 0; i < strings.length; i += 2) macros.push([strings[i]!, strings[i + 1]!]);
  return { stage: String.fromCharCode(payload[0]!), macros };
}

export interface ConnectInfo {
  hostname: string;
  family: '4' | '6' | 'L' | 'U';
  port: number;
  /** IP address, or the socket path for 'L'; '' for 'U'. */
  address: string;
}

/** 'C': host name, family byte, then (unless family 'U') port (u16) and address. */
export function decodeConnect(payload: Buffer): ConnectInfo {
  const hostnameEnd = payload.indexOf(0);
  if (hostnameEnd < 0) throw new MilterProtocolError('connect: host name without its terminating NUL');
  const hostname = payload.toString('utf8', 0, hostnameEnd);
  if (hostnameEnd + 1 >= payload.length) throw new MilterProtocolError('connect: no address family');
  const family = String.fromCharCode(payload[hostnameEnd + 1]!);
  if (family === 'U') return { hostname, family, port: 0, address: '' };
  if (family !== '4' && family !== '6' && family !== 'L') throw new MilterProtocolError(`connect: unknown address family ${JSON.stringify(family)}`);
  const portAt = hostnameEnd + 2;
  if (portAt + 2 > payload.length) throw new MilterProtocolError('connect: no port');
  const [address] = decodeExactly(payload, 1, 'connect address', portAt + 2);
  return { hostname, family, port: payload.readUInt16BE(portAt), address: address! };
}

/** 'H': the HELO/EHLO argument. */
export function decodeHelo(payload: Buffer): string {
  return decodeExactly(payload, 1, 'helo')[0]!;
}

/** 'M' and 'R': the address as the client wrote it, then its ESMTP parameters. */
export function decodeEnvelopeArguments(payload: Buffer): { address: string; parameters: string[] } {
  const [address, ...parameters] = decodeStrings(payload);
  if (address === undefined) throw new MilterProtocolError('envelope command without an address');
  return { address, parameters };
}

/** 'L': header name and value. */
export function decodeHeader(payload: Buffer): { name: string; value: string } {
  const [name, value] = decodeExactly(payload, 2, 'header');
  return { name: name!, value: value! };
}

/** 'h': append a header. */
export function encodeAddHeader(name: string, value: string): Buffer {
  return encodePacket(Reply.addHeader, encodeStrings(name, value));
}

/** 'i': insert a header at `index` (0 = the very top). */
export function encodeInsertHeader(index: number, name: string, value: string): Buffer {
  return encodePacket(Reply.insertHeader, Buffer.concat([u32(index), encodeStrings(name, value)]));
}

/** 'm': change the index-th (1-based) header of that name; an empty value deletes it. */
export function encodeChangeHeader(index: number, name: string, value: string): Buffer {
  return encodePacket(Reply.changeHeader, Buffer.concat([u32(index), encodeStrings(name, value)]));
}

/** 'q': put the message on hold with this reason. */
export function encodeQuarantine(reason: string): Buffer {
  return encodePacket(Reply.quarantine, encodeStrings(oneLine(reason)));
}

/**
 * 'y': an SMTP reply "CODE ENHANCED TEXT" (enhanced omitted when ''). The text becomes one line
 * (CR, LF and NUL turn into spaces) and '%' is doubled, since Postfix reads '%%' as '%' and drops
 * a lone '%'.
 */
export function encodeReplyCode(code: number, enhanced: string, text: string): Buffer {
  const safeText = oneLine(text).replaceAll('%', '%%');
  const line = [String(code), oneLine(enhanced), safeText].filter((part) => part !== '').join(' ');
  return encodePacket(Reply.replyCode, encodeStrings(line));
}

function oneLine(text: string): string {
  return text.replace(/[\r\n\0]+/g, ' ');
}

function u32(value: number): Buffer {
  const buffer = Buffer.alloc(4);
  buffer.writeUInt32BE(value >>> 0);
  return buffer;
}
