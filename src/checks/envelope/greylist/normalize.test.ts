// Unit tests for the greylist key normalisation: postgrey's sender substitutions (BATV, +extension,
// VERP numbers), recipient lower-casing, and client network / canonical address computation.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { canonicalAddress, clientNetwork, normalizeRecipient, normalizeSender } from './normalize.js';
import { parseAddress as parseClientAddress } from '../../../core/networks.js';

test('normalizeSender applies postgrey substitutions', () => {
  const cases: [string, string][] = [
    ['', ''],
    ['MAILER-DAEMON', 'mailer-daemon'],
    ['John.Doe@Example.COM', 'john.doe@example.com'],
    // BATV, standard order prvs=tag=local
    ['prvs=0123abcdef=alice@example.com', 'alice@example.com'],
    ['PRVS=0123ABCDEF=Alice@Example.com', 'alice@example.com'],
    // BATV, reversed order prvs=local=tag
    ['prvs=alice=0123abcdef@example.com', 'alice@example.com'],
    // both fields look like tags (10 leading alphanumerics): the standard order wins
    ['prvs=0123abcdef=averylongname@example.com', 'averylongname@example.com'],
    // neither looks like a tag: the standard order wins
    ['prvs=short=bob@example.com', 'bob@example.com'],
    // not exactly three fields: left alone (numbers still replaced)
    ['prvs=a=b=c@example.com', 'prvs=a=b=c@example.com'],
    ['prvs=0123abcdef@example.com', 'prvs=0123abcdef@example.com'],
    ['prvs=1234=bob@example.com', 'bob@example.com'],
    // Perl's split drops trailing empty fields: prvs=x= has two fields
    ['prvs=0123abcdef=@example.com', 'prvs=0123abcdef=@example.com'],
    // +extension
    ['alice+lists@example.com', 'alice@example.com'],
    ['alice+a+b@example.com', 'alice@example.com'],
    ['prvs=0123abcdef=alice+ext@example.com', 'alice@example.com'],
    // VERP numbers
    ['bounce-123-456@x', 'bounce-#-#@x'],
    ['abc123@x', 'abc123@x'],
    ['123@x', '#@x'],
    ['list-42.7@x', 'list-#.#@x'],
    ['a_12@x', 'a_12@x'],
    ['bounce-12@mail42.example.com', 'bounce-#@mail42.example.com'],
    ['bounce+12-34@x', 'bounce@x'],
    // only the first @ separates local part and domain
    ['a@b@c', 'a@b@c'],
  ];
  for (const [input, expected] of cases) assert.equal(normalizeSender(input), expected, input);
});

test('normalizeRecipient lower-cases only', () => {
  const cases: [string, string][] = [
    ['Alice+Ext@Example.COM', 'alice+ext@example.com'],
    ['bounce-123@x', 'bounce-123@x'],
    ['', ''],
  ];
  for (const [input, expected] of cases) assert.equal(normalizeRecipient(input), expected, input);
});

test('clientNetwork reduces the address to its network', () => {
  const cases: [string, number, number, string | undefined][] = [
    ['192.0.2.7', 24, 64, '192.0.2.0/24'],
    ['192.0.2.7', 16, 64, '192.0.0.0/16'],
    ['192.0.2.7', 32, 64, '192.0.2.7/32'],
    ['192.0.2.7', 0, 64, '0.0.0.0/0'],
    ['203.0.113.200', 25, 64, '203.0.113.128/25'],
    ['203.0.113.200', 27, 64, '203.0.113.192/27'],
    ['::ffff:192.0.2.7', 24, 64, '192.0.2.0/24'],
    ['::FFFF:C000:0207', 24, 64, '192.0.2.0/24'],
    ['2001:db8:1:2:3:4:5:6', 24, 64, '2001:db8:1:2::/64'],
    ['2001:DB8:1:2:3:4:5:6', 24, 48, '2001:db8:1::/48'],
    ['2001:db8:1:2:3:4:5:6', 24, 56, '2001:db8:1::/56'],
    ['2001:db8:1:2ff:3:4:5:6', 24, 56, '2001:db8:1:200::/56'],
    ['2001:db8:1:2:3:4:5:6', 24, 128, '2001:db8:1:2:3:4:5:6/128'],
    ['2001:0db8:0000:0000:0000:0000:0000:0001', 24, 128, '2001:db8::1/128'],
    ['2001:db8:0:1:0:0:0:1', 24, 128, '2001:db8:0:1::1/128'],
    ['fe80::1%eth0', 24, 64, 'fe80::/64'],
    ['unknown', 24, 64, undefined],
    ['', 24, 64, undefined],
    ['127.1', 24, 64, undefined],
    ['256.1.1.1', 24, 64, undefined],
    ['192.0.2.7/24', 24, 64, undefined],
  ];
  for (const [address, v4, v6, expected] of cases) assert.equal(clientNetwork(address, v4, v6), expected, `${address} /${v4} /${v6}`);
});

test('clientNetwork rejects impossible prefixes', () => {
  assert.throws(() => clientNetwork('192.0.2.7', 33, 64), RangeError);
  assert.throws(() => clientNetwork('192.0.2.7', 24, 129), RangeError);
  assert.throws(() => clientNetwork('192.0.2.7', 24.5, 64), RangeError);
  assert.throws(() => clientNetwork('192.0.2.7', -1, 64), RangeError);
});

test('canonicalAddress gives the canonical text of an IP', () => {
  const cases: [string, string | undefined][] = [
    ['192.0.2.7', '192.0.2.7'],
    [' 192.0.2.7 ', '192.0.2.7'],
    ['::ffff:192.0.2.7', '192.0.2.7'],
    ['2001:DB8:0:0:0:0:0:1', '2001:db8::1'],
    ['2001:db8:0:1:0:0:0:1', '2001:db8:0:1::1'],
    ['::1', '::1'],
    ['unknown', undefined],
    ['010.0.0.1', undefined],
  ];
  for (const [input, expected] of cases) assert.equal(canonicalAddress(input), expected, input);
  assert.equal(parseClientAddress('::ffff:10.1.2.3')?.kind(), 'ipv4');
});
