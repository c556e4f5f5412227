// The URL list: what counts as a web URL, how hosts, IP literals, credentials and needless
// escapes are read, bare URLs found in text, and the per-message list (sources, order, limit, memo).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { bareUrls, decodeSafely, MAX_URLS, parseWebUrl, registrableDomain, urlsOf, type MessageUrl } from './urls.js';
import { messageWith } from '../../test/helpers/message-builder.js';

type Facts = Pick<MessageUrl, 'host' | 'domain' | 'userinfo' | 'heavilyEncoded'> & { ip?: string };

test('web URLs are parsed as a browser reads them', () => {
  const cases: [string, Facts | undefined][] = [
    ['https://www.Example.co.uk/path?q=1', { host: 'www.example.co.uk', domain: 'example.co.uk', userinfo: '', heavilyEncoded: false }],
    ['HTTP://mail.example.org.:8080/', { host: 'mail.example.org', domain: 'example.org', userinfo: '', heavilyEncoded: false }],
    ['www.shop.example/sale', { host: 'www.shop.example', domain: 'shop.example', userinfo: '', heavilyEncoded: false }],
    ['//cdn.example/x.png', { host: 'cdn.example', domain: 'cdn.example', userinfo: '', heavilyEncoded: false }],
    ['http://xn--80ak6aa92e.com/', { host: 'xn--80ak6aa92e.com', domain: 'xn--80ak6aa92e.com', userinfo: '', heavilyEncoded: false }],
    ['http://пример.рф/', { host: 'xn--e1afmkfd.xn--p1ai', domain: 'xn--e1afmkfd.xn--p1ai', userinfo: '', heavilyEncoded: false }],
    // IP literals: dotted, integer, hex, octal, IPv6; public or not
    ['http://45.33.12.7/login', { host: '45.33.12.7', domain: undefined, userinfo: '', heavilyEncoded: false, ip: 'v4 public' }],
    ['http://10.0.0.5:8080/job/1', { host: '10.0.0.5', domain: undefined, userinfo: '', heavilyEncoded: false, ip: 'v4' }],
    ['http://757140487/', { host: '45.33.12.7', domain: undefined, userinfo: '', heavilyEncoded: false, ip: 'v4 public obfuscated' }],
    ['http://0x2d.0x21.0xc.0x7/', { host: '45.33.12.7', domain: undefined, userinfo: '', heavilyEncoded: false, ip: 'v4 public obfuscated' }],
    ['http://055.041.014.07/', { host: '45.33.12.7', domain: undefined, userinfo: '', heavilyEncoded: false, ip: 'v4 public obfuscated' }],
    ['http://0x7f.1/', { host: '127.0.0.1', domain: undefined, userinfo: '', heavilyEncoded: false, ip: 'v4 obfuscated' }],
    ['http://[2a00:1450:4007:80f::200e]/', { host: '2a00:1450:4007:80f::200e', domain: undefined, userinfo: '', heavilyEncoded: false, ip: 'v6 public' }],
    // credentials before the host
    ['http://paypal.com@evil.example/', { host: 'evil.example', domain: 'evil.example', userinfo: 'paypal.com', heavilyEncoded: false }],
    ['https://www.paypal.com%2Fsignin@evil.example/', { host: 'evil.example', domain: 'evil.example', userinfo: 'www.paypal.com/signin', heavilyEncoded: false }],
    ['https://jdoe@bitbucket.org/team/repo.git', { host: 'bitbucket.org', domain: 'bitbucket.org', userinfo: 'jdoe', heavilyEncoded: false }],
    // needless escapes: any in the host; in the path from 3 and 20% on; needed escapes never count
    ['http://%65vil.example/', { host: 'evil.example', domain: 'evil.example', userinfo: '', heavilyEncoded: true }],
    ['http://x.example/%70%61%79%70%61%6c/login', { host: 'x.example', domain: 'x.example', userinfo: '', heavilyEncoded: true }],
    ['http://x.example/a%41b', { host: 'x.example', domain: 'x.example', userinfo: '', heavilyEncoded: false }],
    ['https://ru.wikipedia.org/wiki/%D0%9C%D0%BE%D1%81%D0%BA%D0%B2%D0%B0', { host: 'ru.wikipedia.org', domain: 'wikipedia.org', userinfo: '', heavilyEncoded: false }],
    ['https://t.example/r/https%3A%2F%2Fshop.example%2Fsale%3Fa%3D1', { host: 't.example', domain: 't.example', userinfo: '', heavilyEncoded: false }],
    ['https://shop.example/search?q=%41%42%43%44%45%46', { host: 'shop.example', domain: 'shop.example', userinfo: '', heavilyEncoded: false }],
    // not web URLs
    ['mailto:alice@example.org', undefined],
    ['cid:image001.png@01D9', undefined],
    ['/relative/path', undefined],
    ['#top', undefined],
    ['ftp://files.example/x', undefined],
    ['http://exa mple.com/', undefined],
    ['http://', undefined],
  ];
  for (const [raw, expected] of cases) {
    const url = parseWebUrl(raw, 'link');
    if (expected === undefined) {
      assert.equal(url, undefined, raw);
      continue;
    }
    assert.ok(url, raw);
    const ip = url.ip ? [`v${url.ip.version}`, url.ip.public ? 'public' : '', url.ip.obfuscated ? 'obfuscated' : ''].filter(Boolean).join(' ') : undefined;
    const facts: Facts = { host: url.host, domain: url.domain, userinfo: url.userinfo, heavilyEncoded: url.heavilyEncoded, ...(ip ? { ip } : {}) };
    assert.deepEqual(facts, expected, raw);
  }
});

test('bare URLs in text, without the punctuation around them', () => {
  const cases: [string, string[]][] = [
    ['Visit https://shop.example/sale.', ['https://shop.example/sale']],
    ['(see www.example.org/page), then http://a.example/x?y=1&z=2!', ['www.example.org/page', 'http://a.example/x?y=1&z=2']],
    ['https://en.wikipedia.org/wiki/Mail_(disambiguation) is a page', ['https://en.wikipedia.org/wiki/Mail_(disambiguation)']],
    ['<https://angle.example/path>', ['https://angle.example/path']],
    ['"https://quoted.example/"', ['https://quoted.example/']],
    ['no url here, just www or http: alone; awww.example.com is not one', []],
    ['HTTPS://UPPER.EXAMPLE/A', ['HTTPS://UPPER.EXAMPLE/A']],
  ];
  for (const [text, expected] of cases) assert.deepEqual(bareUrls(text), expected, text);
});

test("a message's URLs: links, forms, images, then bare URLs of HTML and text parts, distinct, computed once", () => {
  const message = messageWith({
    html: `<a href="https://a.example/1">https://a.example/1</a> <form action="https://form.example/post"></form>
           <img src="https://img.example/p.png"> <a href="mailto:x@example.org">mail</a> Also www.htmltext.example.`,
    text: 'See https://a.example/1 and https://plain.example/2',
    nested: { text: 'forwarded https://nested.example/' },
  });
  const urls = urlsOf(message);
  assert.deepEqual(
    urls.map((u) => [u.source, u.raw]),
    [
      ['link', 'https://a.example/1'],
      ['form', 'https://form.example/post'],
      ['image', 'https://img.example/p.png'],
      ['text', 'www.htmltext.example'],
      ['text', 'https://plain.example/2'],
      ['text', 'https://nested.example/'],
    ],
  );
  assert.equal(urlsOf(message), urls, 'the same list: not computed again');

  const many = messageWith({ text: Array.from({ length: MAX_URLS + 50 }, (_, i) => `https://host${i}.example/`).join('\n') });
  assert.equal(urlsOf(many).length, MAX_URLS);
  assert.equal(urlsOf(many).at(-1)!.host, `host${MAX_URLS - 1}.example`);
});

test('percent-decoding that never fails, and registrable domains (kept for the hosts that recur)', () => {
  for (const [text, expected] of [['', ''], ['plain', 'plain'], ['a%20b', 'a b'], ['%E2%82%AC', '€'], ['100%', '100%'], ['%zz', '%zz']]) assert.equal(decodeSafely(text), expected, text);
  for (let round = 0; round < 2; round++) {
    assert.equal(registrableDomain('www.shop.example.co.uk'), 'example.co.uk');
    assert.equal(registrableDomain('mail.google.com'), 'google.com');
    assert.equal(registrableDomain('localhost'), undefined);
    assert.equal(registrableDomain('co.uk'), undefined);
  }
});
