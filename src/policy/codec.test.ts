// Unit tests of the policy wire format: incremental parsing, limits, and reply encoding.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { encodePolicyReply, PolicyProtocolError, PolicyRequestParser } from './codec.js';

const limits = { maxLineLength: 100, maxAttributes: 5, maxRequestSize: 300 };

test('parses one request and keeps the values verbatim (including "=" in values)', () => {
  const parser = new PolicyRequestParser(limits);
  const [request, ...more] = parser.push('request=smtpd_access_policy\nsender=a=b@example.org\nhelo_name=\n\n');
  assert.equal(more.length, 0);
  assert.equal(request!.get('request'), 'smtpd_access_policy');
  assert.equal(request!.get('sender'), 'a=b@example.org');
  assert.equal(request!.get('helo_name'), '');
});

test('reassembles requests split across chunks at any byte and handles several in one chunk', () => {
  const text = 'request=smtpd_access_policy\nrecipient=x@example.org\n\nrequest=smtpd_access_policy\nrecipient=y@example.org\n\n';
  for (let cut = 0; cut <= text.length; cut++) {
    const parser = new PolicyRequestParser(limits);
    const got = [...parser.push(text.slice(0, cut)), ...parser.push(text.slice(cut))];
    assert.deepEqual(got.map((r) => r.get('recipient')), ['x@example.org', 'y@example.org'], `cut at ${cut}`);
    assert.equal(parser.inRequest, false);
  }
});

test('accepts CRLF line ends and ignores stray empty lines', () => {
  const parser = new PolicyRequestParser(limits);
  const got = parser.push('\r\n\nrequest=smtpd_access_policy\r\nsender=s@example.org\r\n\r\n');
  assert.equal(got.length, 1);
  assert.equal(got[0]!.get('sender'), 's@example.org');
});

test('the last value of a repeated attribute wins', () => {
  const parser = new PolicyRequestParser(limits);
  const [request] = parser.push('sender=a@x\nsender=b@x\n\n');
  assert.equal(request!.get('sender'), 'b@x');
});

test('rejects malformed and oversized input with a PolicyProtocolError', () => {
  const cases: [string, RegExp][] = [
    ['no equals sign\n', /without '='/],
    ['=value\n', /empty name/],
    ['name=a\0b\n', /NUL/],
    [`long=${'x'.repeat(200)}\n`, /longer than 100/],
    [`unterminated=${'x'.repeat(200)}`, /longer than 100/],
    ['a=1\nb=2\nc=3\nd=4\ne=5\nf=6\n', /more than 5 attributes/],
    [Array.from({ length: 5 }, (_, i) => `k${i}=${'v'.repeat(90)}\n`).join(''), /larger than 300/],
  ];
  for (const [input, message] of cases) {
    const parser = new PolicyRequestParser(limits);
    assert.throws(() => parser.push(input), (error: unknown) => error instanceof PolicyProtocolError && message.test(error.message), input.slice(0, 30));
  }
});

test('encodes a reply as one action line and an empty line, cutting anything after a line break', () => {
  assert.equal(encodePolicyReply('DUNNO'), 'action=DUNNO\n\n');
  assert.equal(encodePolicyReply('450 4.2.0 try later\naction=OK'), 'action=450 4.2.0 try later\n\n');
});
