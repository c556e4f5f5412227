// Postfix policy delegation wire format: requests are `name=value` lines ended by an empty line;
// replies are one `action=...` line and an empty line. The parser is incremental (data arrives in
// arbitrary chunks) and enforces limits on line length, attribute count and request size; any
// violation is a PolicyProtocolError and the connection is closed without a reply.

export interface PolicyLimits {
  /** Longest line, in characters, excluding the newline. */
  maxLineLength: number;
  maxAttributes: number;
  /** Largest request, in characters, newlines included. */
  maxRequestSize: number;
}

export type PolicyAttributes = Map<string, string>;

export class PolicyProtocolError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'PolicyProtocolError';
  }
}

/** Accumulates text from a connection and yields complete requests. */
export class PolicyRequestParser {
  private partial = '';
  private attributes: PolicyAttributes = new Map();
  private requestSize = 0;

  constructor(private readonly limits: PolicyLimits) {}

  /** True while part of a request has been received but not its end. */
  get inRequest(): boolean {
    return this.partial.length > 0 || this.attributes.size > 0;
  }

  /** Feeds a chunk; returns the requests it completed (throws PolicyProtocolError on bad input). */
  push(chunk: string): PolicyAttributes[] {
    const complete: PolicyAttributes[] = [];
    let text = this.partial + chunk;
    let start = 0;
    for (;;) {
      const end = text.indexOf('\n', start);
      if (end < 0) break;
      const line = text.charCodeAt(end - 1) === 13 && end > start ? text.slice(start, end - 1) : text.slice(start, end);
      start = end + 1;
      const request = this.line(line);
      if (request) complete.push(request);
    }
    text = start === 0 ? text : text.slice(start);
    if (text.length > this.limits.maxLineLength) {
      throw new PolicyProtocolError(`line longer than ${this.limits.maxLineLength} characters`);
    }
    this.partial = text;
    return complete;
  }

  private line(line: string): PolicyAttributes | undefined {
    if (line.length > this.limits.maxLineLength) throw new PolicyProtocolError(`line longer than ${this.limits.maxLineLength} characters`);
    if (line === '') {
      if (this.attributes.size === 0) return undefined; // a stray empty line: nothing to answer
      const request = this.attributes;
      this.attributes = new Map();
      this.requestSize = 0;
      return request;
    }
    this.requestSize += line.length + 1;
    if (this.requestSize > this.limits.maxRequestSize) throw new PolicyProtocolError(`request larger than ${this.limits.maxRequestSize} characters`);
    const equals = line.indexOf('=');
    if (equals <= 0) throw new PolicyProtocolError(equals === 0 ? 'attribute with an empty name' : "line without '=' (not name=value)");
    if (line.includes('\0')) throw new PolicyProtocolError('NUL character in request');
    const name = line.slice(0, equals);
    if (!this.attributes.has(name) && this.attributes.size >= this.limits.maxAttributes) {
      throw new PolicyProtocolError(`more than ${this.limits.maxAttributes} attributes`);
    }
    this.attributes.set(name, line.slice(equals + 1));
    return undefined;
  }
}

/** Encodes a reply: the action text must be one line; anything after a line break is dropped. */
export function encodePolicyReply(action: string): string {
  const oneLine = action.replace(/[\r\n\0].*$/s, '');
  return `action=${oneLine}\n\n`;
}
