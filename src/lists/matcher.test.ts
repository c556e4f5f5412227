// The allow/block list matcher, table-driven: recipient scope before global, allow before block,
// the +extension forms, subdomains, IPv4/IPv6 networks (longest prefix first, IPv4-mapped IPv6),
// HELO names, the null sender, expiry, and global blocks held back before RCPT; and the ban matcher.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { BanMatcher, ListMatcher, type ListQuery } from './matcher.js';
import { parseListValue } from './entry.js';
import type { Ban, ListEntry, ListKind } from '../store/types.js';

let nextId = 1;
function entry(kind: ListKind, value: string, scope = '', expiresAt = 0): ListEntry {
  const parsed = parseListValue(value);
  if (typeof parsed === 'string') throw new Error(parsed);
  return { id: nextId++, kind, ...parsed, scope, reason: '', comment: '', addedBy: 't', createdAt: 0, expiresAt };
}

const entries = [
  entry('block', '@spam.example'),
  entry('allow', 'friend@spam.example'),
  entry('block', 'bad@example.net'),
  entry('block', 'bad@example.com'),
  entry('allow', '@partner.example', 'bob@example.org'),
  entry('block', '@partner.example'),
  entry('block', 'alice@example.net', 'bob@example.org'),
  entry('allow', '@example.net'),
  entry('block', '198.51.100.0/24'),
  entry('allow', '198.51.100.7'),
  entry('block', '2001:db8:bad::/48'),
  entry('allow', '2001:db8:bad:1::/64', 'carol@example.org'),
  entry('block', 'helo:Bad.HELO.example'),
  entry('block', '@temp.example', '', 1000),
  entry('allow', 'nobody@temp.example', '', 500),
  entry('block', '@sub.trusted.example'),
  entry('allow', '@trusted.example'),
];
const matcher = new ListMatcher(entries);
const value = (q: ListQuery): string | undefined => {
  const found = matcher.match(q);
  return found ? `${found.kind} ${found.value}${found.scope ? ` for ${found.scope}` : ''}` : undefined;
};
const rcpt = (sender: string, extra: Partial<ListQuery> = {}): ListQuery => ({ sender, clientAddress: '203.0.113.1', helo: 'mx.example.com', recipient: 'dave@example.org', ...extra });

const cases: [string, ListQuery, string | undefined][] = [
  ['no entry matches', rcpt('x@elsewhere.example'), undefined],
  ['domain entry matches the domain', rcpt('a@spam.example'), 'block @spam.example'],
  ['domain entry matches subdomains', rcpt('a@mx.eu.spam.example'), 'block @spam.example'],
  ['domain entry does not match a longer name', rcpt('a@notspam.example'), undefined],
  ['sender case-insensitive', rcpt('BAD@Example.COM'), 'block bad@example.com'],
  ['another local part of that domain', rcpt('good@example.com'), undefined],
  ['allow before block in one scope (sender allow vs domain block)', rcpt('friend@spam.example'), 'allow friend@spam.example'],
  ['allow before block even when the block is more specific', rcpt('bad@example.net'), 'allow @example.net'],
  ['+extension of the sender matches the plain address', rcpt('friend+news@spam.example'), 'allow friend@spam.example'],
  ['null sender matches no sender or domain entry', rcpt(''), undefined],
  ['recipient scope before global: user allow beats global block', rcpt('x@partner.example', { recipient: 'bob@example.org' }), 'allow @partner.example for bob@example.org'],
  ['the same sender for another recipient: global block', rcpt('x@partner.example'), 'block @partner.example'],
  ['recipient scope is case-insensitive', rcpt('x@partner.example', { recipient: 'BOB@Example.org' }), 'allow @partner.example for bob@example.org'],
  ['recipient +extension uses the user list', rcpt('x@partner.example', { recipient: 'bob+lists@example.org' }), 'allow @partner.example for bob@example.org'],
  ['user block beats global allow', rcpt('alice@example.net', { recipient: 'bob@example.org' }), 'block alice@example.net for bob@example.org'],
  ['IPv4 CIDR block', rcpt('', { clientAddress: '198.51.100.99' }), 'block 198.51.100.0/24'],
  ['IPv4 host allow beats the CIDR block', rcpt('', { clientAddress: '198.51.100.7' }), 'allow 198.51.100.7'],
  ['IPv4-mapped IPv6 client matched as IPv4', rcpt('', { clientAddress: '::ffff:198.51.100.99' }), 'block 198.51.100.0/24'],
  ['IPv6 CIDR block', rcpt('', { clientAddress: '2001:db8:bad:ffff::1' }), 'block 2001:db8:bad::/48'],
  ['IPv6 outside the network', rcpt('', { clientAddress: '2001:db8:bae::1' }), undefined],
  ['IPv6 user allow in the blocked /48', rcpt('', { clientAddress: '2001:db8:bad:1::25', recipient: 'carol@example.org' }), 'allow 2001:db8:bad:1::/64 for carol@example.org'],
  ['helo name, case and trailing dot ignored', rcpt('', { helo: 'bad.helo.EXAMPLE.' }), 'block helo:bad.helo.example'],
  ['helo entries are exact names', rcpt('', { helo: 'x.bad.helo.example' }), undefined],
  ['unexpired entry applies', rcpt('a@temp.example', { now: 999 }), 'block @temp.example'],
  ['expired entry is skipped', rcpt('a@temp.example', { now: 1000 }), undefined],
  ['an expired allow no longer overrides the block', rcpt('nobody@temp.example', { now: 600 }), 'block @temp.example'],
  ['allow before block across domain levels', rcpt('x@sub.trusted.example'), 'allow @trusted.example'],
  ['before RCPT, a global block applies', rcpt('x@spam.example', { recipient: undefined }), 'block @spam.example'],
  ['before RCPT, a global block is held back when a user allow matches', rcpt('x@partner.example', { recipient: undefined }), undefined],
  ['before RCPT, user entries do not decide', rcpt('alice@example.net', { recipient: undefined }), 'allow @example.net'],
];

for (const [name, query, expected] of cases) {
  test(`matcher: ${name}`, () => assert.equal(value(query), expected));
}

test('an empty matcher matches nothing; a client address that is not an IP matches no ip entry', () => {
  assert.equal(new ListMatcher([]).match(rcpt('a@spam.example')), undefined);
  assert.equal(value(rcpt('', { clientAddress: 'unknown' })), undefined);
});

test('ban matcher: address and CIDR bans, most specific first, expiry, IPv4-mapped IPv6', () => {
  const ban = (network: string, expiresAt: number, reason = network): Ban => ({ network, reason, source: 'manual', createdAt: 0, expiresAt });
  const bans = new BanMatcher([ban('192.0.2.0/24', 0, 'net'), ban('192.0.2.7', 100, 'host'), ban('2001:db8::/32', 50)]);
  assert.equal(bans.match('192.0.2.7', 99)?.reason, 'host');
  assert.equal(bans.match('192.0.2.7', 100)?.reason, 'net', 'the expired host ban gives way to the network ban');
  assert.equal(bans.match('::ffff:192.0.2.9', 0)?.reason, 'net');
  assert.equal(bans.match('192.0.3.1', 0), undefined);
  assert.equal(bans.match('2001:db8:1::5', 49)?.network, '2001:db8::/32');
  assert.equal(bans.match('2001:db8:1::5', 50), undefined);
  assert.equal(bans.match('', 0), undefined);
});
