// HELO classification: address literals, bare addresses, valid and fully-qualified names.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { heloShape } from './helo.js';

test('classifies HELO arguments', () => {
  const cases: [string, string][] = [
    ['', 'missing'],
    ['  ', 'missing'],
    ['[192.0.2.7]', 'literal'],
    ['[IPv6:2001:db8::1]', 'literal'],
    ['[999.1.1.1]', 'bad-literal'],
    ['[not-an-ip]', 'bad-literal'],
    ['192.0.2.7', 'bare-ip'],
    ['2001:db8::1', 'bare-ip'],
    ['mail.example.net', 'name:fqdn'],
    ['MAIL.Example.NET.', 'name:fqdn'],
    ['mx_1.example.net', 'name:fqdn'],
    ['localhost', 'name:short'],
    ['WIN-7H3K2', 'name:short'],
    ['host.123', 'name:short'],
    ['bad..example.net', 'invalid'],
    ['-bad.example.net', 'invalid'],
    ['bad-.example.net', 'invalid'],
    ['spaces in.example.net', 'invalid'],
    ['exa$mple.net', 'invalid'],
    [`${'a'.repeat(64)}.example.net`, 'invalid'],
  ];
  for (const [helo, expected] of cases) {
    const shape = heloShape(helo);
    const got = shape.kind === 'name' ? `name:${shape.fqdn ? 'fqdn' : 'short'}` : shape.kind;
    assert.equal(got, expected, JSON.stringify(helo));
  }
});
