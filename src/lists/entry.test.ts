// Parsing and normalising list entries: the four forms, canonical CIDR, refused bare names, and
// the reasons' texts.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { canonicalNetwork, parseListValue, parseRecipient, reasonText } from './entry.js';

test('entries are normalised: lower case, canonical networks, helo: and @ forms', () => {
  const table: [string, string][] = [
    ['Alice@Example.ORG', 'sender alice@example.org'],
    ['@Example.org.', 'domain @example.org'],
    ['192.0.2.77/24', 'ip 192.0.2.0/24'],
    ['192.0.2.7/32', 'ip 192.0.2.7'],
    ['2001:DB8:0:0::1', 'ip 2001:db8::1'],
    ['2001:db8:abcd:12::/40', 'ip 2001:db8:ab00::/40'],
    ['::ffff:192.0.2.1', 'ip 192.0.2.1'],
    ['::ffff:192.0.2.0/120', 'ip 192.0.2.0/24'],
    ['helo:MX.Example.NET.', 'helo helo:mx.example.net'],
    ['HELO:[192.0.2.1]', 'helo helo:[192.0.2.1]'],
  ];
  for (const [input, expected] of table) {
    const parsed = parseListValue(input);
    assert.notEqual(typeof parsed, 'string', `${input}: ${String(parsed)}`);
    assert.equal(typeof parsed === 'string' ? parsed : `${parsed.type} ${parsed.value}`, expected, input);
  }
});

test('what is not an entry says why', () => {
  assert.match(parseListValue('example.org') as string, /write @example\.org for a sender domain, helo:example\.org/);
  assert.match(parseListValue('192.0.2.300') as string, /not a valid IP address/);
  assert.match(parseListValue('192.0.2.0/33') as string, /not a valid IP address/);
  assert.match(parseListValue('@bad..example') as string, /not a valid domain/);
  assert.match(parseListValue('a b') as string, /no spaces/);
  assert.match(parseListValue('helo:') as string, /needs a name/);
  assert.equal(canonicalNetwork('1.2.3'), undefined);
  assert.equal(parseRecipient('Bob@Example.org'), 'bob@example.org');
  assert.equal(parseRecipient('@example.org'), undefined);
});

test('reason categories have their reply text; free text is kept; none is "Access denied"', () => {
  assert.equal(reasonText('spam'), 'spam');
  assert.equal(reasonText('abusive-domain'), 'abusive domain');
  assert.equal(reasonText('compromised'), 'compromised account');
  assert.equal(reasonText('Phishing since 2026-11'), 'Phishing since 2026-11');
  assert.equal(reasonText(''), 'Access denied');
});
