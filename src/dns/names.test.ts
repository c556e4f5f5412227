// Unit tests of the reversed DNS names used for DNSBL and PTR lookups (RFC 5782 forms).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ptrName, reverseIpName, reverseIpv4Name, reverseIpv6Name } from './names.js';

const V6_NIBBLES = '1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2';

test('reverseIpv4Name reverses the octets and appends the zone', () => {
  assert.equal(reverseIpv4Name('192.0.2.1', 'zen.example'), '1.2.0.192.zen.example');
  assert.equal(reverseIpv4Name('127.0.0.2', 'bl.test.'), '2.0.0.127.bl.test', 'final dot of the zone dropped');
  assert.equal(reverseIpv4Name('10.20.30.40', '.BL.Test'), '40.30.20.10.bl.test', 'zone lower-cased, leading dot dropped');
  assert.equal(reverseIpv4Name('198.51.100.7', ''), '7.100.51.198', 'empty zone: the reversed address alone');
});

test('reverseIpv4Name rejects what is not a dotted-quad decimal IPv4 address', () => {
  for (const bad of ['127.1', '0x7f.0.0.1', '192.0.2', '192.0.2.256', '2001:db8::1', 'example.org', '']) {
    assert.throws(() => reverseIpv4Name(bad, 'bl.test'), RangeError, bad);
  }
});

test('reverseIpv6Name gives 32 reversed nibbles', () => {
  const name = reverseIpv6Name('2001:db8::1', 'bl.test');
  assert.equal(name, `${V6_NIBBLES}.bl.test`);
  assert.equal(name.split('.').length, 32 + 2);
  assert.equal(reverseIpv6Name('2001:DB8:0:0:0:0:0:1', 'bl.test'), `${V6_NIBBLES}.bl.test`, 'long, upper-case form');
  assert.equal(
    reverseIpv6Name('2001:db8:abcd:12::ff00:42', 'x'),
    '2.4.0.0.0.0.f.f.0.0.0.0.0.0.0.0.2.1.0.0.d.c.b.a.8.b.d.0.1.0.0.2.x',
  );
  assert.equal(reverseIpv6Name('::', ''), Array(32).fill('0').join('.'));
});

test('reverseIpv6Name rejects what is not an IPv6 address', () => {
  for (const bad of ['192.0.2.1', '2001:db8::g', '2001:db8:::1', 'example.org', '']) {
    assert.throws(() => reverseIpv6Name(bad, 'bl.test'), RangeError, bad);
  }
});

test('reverseIpName picks the form by address family; IPv4-mapped IPv6 is looked up as IPv4', () => {
  assert.equal(reverseIpName('192.0.2.1', 'bl.test'), '1.2.0.192.bl.test');
  assert.equal(reverseIpName('2001:db8::1', 'bl.test'), `${V6_NIBBLES}.bl.test`);
  assert.equal(reverseIpName('::ffff:192.0.2.1', 'bl.test'), '1.2.0.192.bl.test');
  assert.equal(reverseIpName('not-an-ip', 'bl.test'), undefined);
  assert.equal(reverseIpName('127.1', 'bl.test'), undefined);
});

test('ptrName builds in-addr.arpa and ip6.arpa names', () => {
  assert.equal(ptrName('192.0.2.10'), '10.2.0.192.in-addr.arpa');
  assert.equal(ptrName('2001:db8::1'), `${V6_NIBBLES}.ip6.arpa`);
  assert.equal(ptrName('::ffff:198.51.100.7'), '7.100.51.198.in-addr.arpa');
  assert.equal(ptrName('unknown'), undefined);
});
