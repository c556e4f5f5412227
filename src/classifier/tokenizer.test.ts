// The tokenizer on messages written as raw text and parsed by the MIME analysis: charsets
// (ISO-8859-1 and UTF-8), quoted-printable and base64, HTML (entities, hidden text, scripts, telling
// tags, links), URLs, headers (which ones, with which prefix), encoded blobs and long words skipped,
// capitals and digit shapes, scripts without spaces, attachments, and determinism.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseMessage } from '../mime/parse.js';
import { BoundedCache } from '../core/bounded-cache.js';
import { hashToken, tokenHash } from '../core/token-hash.js';
import { ALL_TOKEN_FAMILIES, digitShape, domainTokens, tokenize, tokenizeHashed, tokenizeWith } from './tokenizer.js';

const HEADERS = [
  'Received: from mail.sender.example (mail.sender.example [198.51.100.7]) by mx.receiver.example (Postfix) with ESMTP id 4F2A1; Wed, 31 Dec 2025 23:58:00 +0100',
  'Received: from laptop (unknown [192.168.1.20]) by mail.sender.example with ESMTPSA; Wed, 31 Dec 2025 23:57:58 +0100',
  'Return-Path: <bounce@returns.example>',
  'X-Spam-Status: No, score=0.1',
  'Date: Wed, 31 Dec 2025 23:58:00 +0100',
  'Message-ID: <20251231225800.4F2A1C0D3@mail.sender.example>',
  'From: Alice Martin <alice@news.sender.example>',
  'To: bob@receiver.example',
  'Subject: Lunch on Friday?',
  'MIME-Version: 1.0',
];

async function tokensOf(headers: string[], body: string): Promise<string[]> {
  return tokenize(await parseMessage(Buffer.from(`${headers.join('\n')}\n\n${body}`, 'latin1')));
}

/** A message of one part with the given Content-Type and transfer encoding. */
const onePart = (contentType: string, encoding: string, body: string) =>
  tokensOf([...HEADERS, `Content-Type: ${contentType}`, `Content-Transfer-Encoding: ${encoding}`], body);

test('words: case folded, 3 to 40 characters, joined by inner punctuation, $ and ! kept', async () => {
  const tokens = await onePart('text/plain; charset=us-ascii', '7bit', "Don't miss it: e-mail me at 3.5 o'clock, it's only $1,000!!! Go to the-end...\n");
  for (const expected of ["don't", 'miss', 'e-mail', '3.5', "o'clock", "it's", 'only', '$1,000!!!', 'the-end']) assert.ok(tokens.includes(expected), expected);
  // 2 characters or fewer: left out; a trailing joiner is not part of a word.
  for (const absent of ['it', 'me', 'at', 'go', 'to', 'the-end...', "Don't"]) assert.ok(!tokens.includes(absent), absent);
});

test('capitals also as written, digits also as their shape', async () => {
  const tokens = await onePart('text/plain', '7bit', 'FREE offer, Call 555-0142 now, Only $19.99\n');
  assert.ok(tokens.includes('free') && tokens.includes('FREE'), 'FREE: folded and as written');
  assert.ok(tokens.includes('call') && !tokens.includes('Call'), 'a capital initial is not shouting');
  assert.ok(tokens.includes('555-0142') && tokens.includes('N:NNN-NNNN'));
  assert.ok(tokens.includes('$19.99') && tokens.includes('N:$NN.NN'));
});

test('charsets: ISO-8859-1 quoted-printable and UTF-8 base64 parts give the same words', async () => {
  const latin1 = await onePart('text/plain; charset=iso-8859-1', 'quoted-printable', 'Caf=E9 cr=E8me br=FBl=E9e =E0 la fran=E7aise\n');
  for (const word of ['café', 'crème', 'brûlée', 'française']) assert.ok(latin1.includes(word), word);
  const utf8Text = 'Grüße aus MÜNCHEN, café crème';
  const utf8 = await onePart('text/plain; charset=utf-8', 'base64', `${Buffer.from(utf8Text, 'utf8').toString('base64')}\n`);
  for (const word of ['grüße', 'aus', 'münchen', 'MÜNCHEN', 'café', 'crème']) assert.ok(utf8.includes(word), word);
  assert.ok(latin1.includes('charset:iso-8859-1') && utf8.includes('charset:utf-8'));
  // The encoded form itself never becomes a token.
  assert.ok(!latin1.some((t) => t.includes('=E9')) && !utf8.some((t) => t.includes('R3L')));
});

test('scripts without spaces give character pairs', async () => {
  const tokens = await onePart('text/plain; charset=utf-8', 'base64', `${Buffer.from('日本語のメール', 'utf8').toString('base64')}\n`);
  for (const pair of ['日本', '本語', '語の', 'のメ', 'メー', 'ール']) assert.ok(tokens.includes(pair), pair);
  assert.ok(!tokens.includes('日本語のメール'));
});

test('HTML: visible text with entities decoded, hidden text and scripts left out, telling tags and links', async () => {
  const html = [
    '<html><head><title>titleword</title><style>p { color: red }</style><script>var scriptword = 1;</script></head>',
    '<body bgcolor="#ffffff"><p>Caf&eacute; &amp; cr&egrave;me</p>',
    '<div style="display:none">invisibleword</div>',
    '<font color="red" size="5">BIG sale</font>',
    '<a href="https://www.shop.example/deals/unsubscribe?id=123456">click</a>',
    '<img src="http://45.33.12.7/pixel.gif" width="1" height="1">',
    '</body></html>',
  ].join('\n');
  const tokens = await onePart('text/html; charset=utf-8', '7bit', html);
  for (const word of ['café', 'crème', 'sale', 'BIG', 'click']) assert.ok(tokens.includes(word), word);
  for (const hidden of ['titleword', 'scriptword', 'invisibleword', 'eacute', 'amp']) assert.ok(!tokens.includes(hidden), hidden);
  for (const fact of ['html:invisible-text', 'html:remote-image', 'html:images:1', 'html:links:1', 'part:html', 'part:html-only']) assert.ok(tokens.includes(fact), fact);
  for (const tag of ['tag:font', 'attr:font:color', 'attr:font:size']) assert.ok(tokens.includes(tag), tag);
  // Only the telling tags: not <p>, <div>, <a>.
  assert.ok(!tokens.includes('tag:p') && !tokens.includes('tag:div') && !tokens.includes('tag:a'));
  // URLs: host and parent domains down to the registrable one, path words (digits as N), IP hosts.
  for (const url of ['url:www.shop.example', 'url:shop.example', 'urlpath:deals', 'urlpath:unsubscribe', 'url:ip', 'url:45.33.12.7', 'urlpath:pixel']) {
    assert.ok(tokens.includes(url), url);
  }
  assert.ok(!tokens.some((t) => t.includes('123456')), 'the query is not tokenized');
});

test('encoded blobs and long words give one token each, not pieces', async () => {
  const blob = Buffer.from(Array.from({ length: 300 }, (_, i) => (i * 7919) % 256)).toString('base64');
  const lines = blob.match(/.{1,76}/g)!.join('\n');
  const hex = 'a3f9c2e1'.repeat(8);
  // Not a blob: the hyphen is outside the base64 alphabet.
  const longWord = 'pneumonoultramicroscopicsilicovolcanoconiosis-like';
  const tokens = await onePart('text/plain', '7bit', `Here is the key:\n${lines}\ndigest ${hex} and ${longWord}\n`);
  // 400 base64 characters on 6 lines (the last one short) make one long blob; 64 hex digits a short one.
  assert.ok(tokens.includes('blob:long'), 'base64 lines');
  assert.ok(tokens.includes('blob:short'), 'hex digest');
  assert.ok(tokens.includes('skip:p50'), 'a word longer than 40 characters: its first letter and length in tens');
  // Nothing of the blob, the digest or the long word otherwise: only ordinary words remain.
  const words = tokens.filter((t) => !t.includes(':'));
  assert.deepEqual(words.sort(), ['and', 'digest', 'here', 'key', 'the'].sort());
});

test('headers: chosen ones with their name as prefix; delivery headers and Received "by" hosts left out', async () => {
  const tokens = await onePart('text/plain', '7bit', 'Hello there\n');
  for (const expected of [
    'subject:lunch',
    'subject:friday',
    'from:alice',
    'from:martin',
    'from:alice@news.sender.example',
    'from:@news.sender.example',
    'from:@sender.example',
    'to:bob@receiver.example',
    'to:@receiver.example',
    'to:count:1',
    'message-id:@mail.sender.example',
    'message-id:N.NaNaNaNaN',
    'received:mail.sender.example',
    'received:sender.example',
    'received:198.51.100',
    'content-type:text',
    'content-type:plain',
    'header:message-id',
    'header:received',
  ]) {
    assert.ok(tokens.includes(expected), expected);
  }
  // Received: the relay's own names and network, not the receiving host (by ...) nor private networks.
  for (const absent of ['received:mx.receiver.example', 'received:receiver.example', 'received:192.168.1', 'received:laptop']) assert.ok(!tokens.includes(absent), absent);
  // Added at delivery or by filters: not even their name.
  for (const absent of ['header:return-path', 'header:x-spam-status', 'return-path:@returns.example']) assert.ok(!tokens.includes(absent), absent);
  assert.ok(!tokens.some((t) => t.includes('returns.example') || t.includes('score')));
  // Subject words only with their prefix; body words without one.
  assert.ok(!tokens.includes('lunch') && tokens.includes('hello') && !tokens.includes('subject:hello'));
});

test('Received: the from clause ends at the first "by" word or ";", whatever their case, or at the end', async () => {
  const relaysOf = async (received: string) =>
    (await tokensOf([`Received: ${received}`, 'Subject: hi'], 'body\n')).filter((token) => token.startsWith('received:')).sort();
  assert.deepEqual(await relaysOf('from a.relay.example BY mx.site.example; Mon'), ['received:a.relay.example', 'received:relay.example']);
  assert.deepEqual(await relaysOf('from a.relay.example; by mx.site.example'), ['received:a.relay.example', 'received:relay.example']);
  assert.deepEqual(await relaysOf('from bypass.relay.example (nearby.other.example) by mx.site.example'), [
    'received:bypass.relay.example', 'received:nearby.other.example', 'received:other.example', 'received:relay.example',
  ]);
  assert.deepEqual(await relaysOf('  FROM\ta.relay.example'), ['received:a.relay.example', 'received:relay.example']);
  assert.deepEqual(await relaysOf('by mx.site.example from a.relay.example'), []);
});

test('attachments: type, extension, name words; the extensions inside archives', async () => {
  const boundary = 'b0undary';
  const body = [
    `--${boundary}`,
    'Content-Type: text/plain',
    '',
    'See the invoice',
    `--${boundary}`,
    'Content-Type: application/pdf; name="Invoice_March.pdf"',
    'Content-Disposition: attachment; filename="Invoice_March.pdf"',
    'Content-Transfer-Encoding: base64',
    '',
    Buffer.from('%PDF-1.4 not really').toString('base64'),
    `--${boundary}--`,
    '',
  ].join('\n');
  const tokens = await tokensOf([...HEADERS, `Content-Type: multipart/mixed; boundary="${boundary}"`], body);
  for (const expected of ['attachment:application/pdf', 'attachment:.pdf', 'attachment:invoice_march.pdf', 'part:text', 'invoice']) assert.ok(tokens.includes(expected), expected);
});

test('deterministic and distinct: the same message gives the same tokens in the same order, each once', async () => {
  const raw = Buffer.from(`${HEADERS.join('\n')}\nContent-Type: text/plain\n\nwin win WIN money money $100 $100 money\n`);
  const first = tokenize(await parseMessage(raw));
  const second = tokenize(await parseMessage(raw));
  assert.deepEqual(first, second);
  assert.equal(new Set(first).size, first.length);
  assert.deepEqual(first.filter((t) => ['win', 'WIN', 'money', '$100'].includes(t)), ['win', 'WIN', 'money', '$100']);
  // Each token's hash comes with it, as hashToken() gives it from the string.
  const { tokens, hashes } = tokenizeHashed(await parseMessage(raw));
  assert.deepEqual(tokens, first);
  assert.equal(hashes.length, 2 * tokens.length);
  tokens.forEach((token, i) => {
    hashToken(token);
    assert.deepEqual([hashes[2 * i], hashes[2 * i + 1]], [tokenHash.high, tokenHash.low], token);
  });
});

test('token families can be switched off, to measure them', async () => {
  const message = await parseMessage(Buffer.from(`${HEADERS.join('\n')}\nContent-Type: text/html\n\n<font color=red>FREE $100</font>\n`));
  const all = tokenizeWith(message, ALL_TOKEN_FAMILIES).tokens;
  assert.deepEqual(all, tokenize(message));
  const none = tokenizeWith(message, { received: false, headerNames: false, capitals: false, numberShapes: false, htmlTags: false }).tokens;
  for (const gone of ['received:sender.example', 'header:received', 'FREE', 'N:$NNN', 'tag:font']) {
    assert.ok(all.includes(gone) && !none.includes(gone), gone);
  }
  assert.ok(none.includes('free') && none.includes('$100') && none.includes('subject:lunch'));
});

test('encoded blobs: a whole chunk of the base64 alphabet, whatever its first word; a short last line only right after one', async () => {
  const letters = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMN'; // 40 letters: the shortest blob
  const cases: [string, string[]][] = [
    // A 39-letter chunk is a word; 40 letters a blob; 41 letters followed by a comma a long word.
    [`${letters.slice(0, 39)} end`, [letters.slice(0, 39).toLowerCase(), 'end']],
    [`${letters} end`, ['blob:short', 'end']],
    [`${letters}x, end`, ['skip:a40', 'end']],
    // A chunk whose first word is followed by + / or =, then more of the alphabet: one blob, no words.
    [`start Abcdefghij+klmnopqrstuvwxyz/ABCDEFGHIJKLMNOP= end`, ['start', 'blob:short', 'end']],
    // Not of the alphabet (a hyphen): words and a long word, no blob.
    [`abcdefghijklmnopqrst-uvwxyzABCDEFGHIJKLMNOP end`, ['skip:a40', 'end']],
    // Right after a blob line, a short line with a digit, + / or = ends the blob; one of letters only does not.
    [`${letters}\nQUJDRA==\nthen`, ['blob:short', 'then']],
    [`${letters}\nthen more`, ['blob:short', 'then', 'more']],
    [`${letters}${letters}${letters}${letters}${letters}\nAB12 then`, ['blob:long', 'then']],
  ];
  for (const [text, expected] of cases) {
    const tokens = await onePart('text/plain', '7bit', `${text}\n`);
    const body = tokens.filter((t) => !t.includes(':') || t.startsWith('blob:') || t.startsWith('skip:'));
    assert.deepEqual(body, expected, text);
  }
});

test('URL path words: up to the query or fragment, lower-cased runs of a-z 0-9 $ -, digits as N, 8 per URL', async () => {
  const html = '<a href="https://x.example/Deals/Summer-2025/$19.99/a/bb/ccc?Query=words#Fragment">go</a>' + '<a href="https://y.example/one/two/three/four/five/six/seven/eight/nine/ten">go</a>';
  const tokens = await onePart('text/html', '7bit', html);
  const pathWords = tokens.filter((t) => t.startsWith('urlpath:'));
  assert.deepEqual(pathWords, [
    'urlpath:deals', 'urlpath:summer-NNNN', 'urlpath:$NN', 'urlpath:ccc',
    'urlpath:one', 'urlpath:two', 'urlpath:three', 'urlpath:four', 'urlpath:five', 'urlpath:six', 'urlpath:seven', 'urlpath:eight',
  ]);
});

test('digit shapes: each digit as N', () => {
  assert.equal(digitShape('555-0142'), 'NNN-NNNN');
  assert.equal(digitShape('$19.99'), '$NN.NN');
  assert.equal(digitShape('a1b22c'), 'aNbNNc');
  assert.equal(digitShape('2025'), 'NNNN');
  assert.equal(digitShape('word'), 'word');
  assert.equal(digitShape(''), '');
});

test('domain tokens: the host in lower case without a final dot, then parent domains down to the registrable one; cached', () => {
  assert.deepEqual(domainTokens('url:', 'WWW.Shop.Example.'), ['url:www.shop.example', 'url:shop.example']);
  assert.deepEqual(domainTokens('received:', 'a.b.c.d.example.co.uk'), ['received:a.b.c.d.example.co.uk', 'received:b.c.d.example.co.uk', 'received:c.d.example.co.uk', 'received:d.example.co.uk']);
  assert.deepEqual(domainTokens('received:', 'mail.example.co.uk'), ['received:mail.example.co.uk', 'received:example.co.uk']);
  assert.deepEqual(domainTokens('from:@', 'localhost'), ['from:@localhost']);
  assert.deepEqual(domainTokens('from:@', '.'), []);
  // The same host under another prefix gives that prefix's tokens; the same call gives the kept list.
  assert.deepEqual(domainTokens('to:@', 'WWW.Shop.Example.'), ['to:@www.shop.example', 'to:@shop.example']);
  assert.equal(domainTokens('url:', 'WWW.Shop.Example.'), domainTokens('url:', 'WWW.Shop.Example.'));
});

test('bounded cache: computes each key once, starts again empty when full, does not keep long keys', () => {
  const computed: string[] = [];
  const cache = new BoundedCache<string>(2, 5);
  const upper = (key: string): string => {
    computed.push(key);
    return key.toUpperCase();
  };
  assert.equal(cache.get('a', upper), 'A');
  assert.equal(cache.get('b', upper), 'B');
  assert.equal(cache.get('a', upper), 'A');
  assert.deepEqual(computed, ['a', 'b']);
  assert.equal(cache.get('c', upper), 'C', 'full: emptied, then c kept');
  assert.equal(cache.size, 1);
  assert.equal(cache.get('a', upper), 'A');
  assert.deepEqual(computed, ['a', 'b', 'c', 'a']);
  assert.equal(cache.get('longer', upper), 'LONGER');
  assert.equal(cache.get('longer', upper), 'LONGER');
  assert.deepEqual(computed, ['a', 'b', 'c', 'a', 'longer', 'longer'], 'computed every time');
  assert.equal(cache.size, 2);
});

test('header names are read whatever their case, the same in every message', async () => {
  const headers = ['Subject: Cheap pills', 'x-MAILER: BulkMailer 5.0', 'RETURN-PATH: <bounce@returns.example>', 'X-Spam-Flag: YES', 'From: a@sender.example'];
  for (let round = 0; round < 2; round++) {
    const tokens = await tokensOf(headers, 'body\n');
    for (const expected of ['subject:cheap', 'x-mailer:bulkmailer', 'x-mailer:5.0', 'x-mailer:N:N.N', 'header:x-mailer', 'header:subject']) assert.ok(tokens.includes(expected), expected);
    assert.ok(!tokens.some((t) => t.includes('return-path') || t.includes('x-spam') || t.includes('returns.example')));
  }
});

test('at most 5,000 tokens a message, the first ones; texts whose folding changes their length are read word by word', async () => {
  const words = Array.from({ length: 6000 }, (_, i) => `word${i.toString(36)}x`);
  const many = await onePart('text/plain; charset=utf-8', '8bit', words.join(' '));
  assert.equal(many.length, 5000);
  assert.equal(new Set(many).size, 5000);
  assert.ok(many.includes('word0x') && !many.includes(`${words[5999]}`));
  // İ folds to two code units: the words around it are still cut and folded right, with their shapes and capitals.
  const tokens = tokenize(await parseMessage(Buffer.from(`${HEADERS.join('\n')}\nContent-Type: text/plain; charset=utf-8\n\nİSTANBUL ROUTE66 route66 ROUTE\n`, 'utf8')));
  const expected = ['i̇stanbul', 'İSTANBUL', 'route66', 'ROUTE66', 'N:routeNN', 'route', 'ROUTE'];
  assert.deepEqual(tokens.filter((token) => expected.includes(token)), expected);
});

test('a repeated word gives nothing new, but a new capitals form; a word, its capitals and its digit shape come in that order', async () => {
  const tokens = await onePart('text/plain', '7bit', 'ROUTE66 route66 item42 ITEM42 item42 Route66');
  const expected = ['route66', 'ROUTE66', 'N:routeNN', 'item42', 'N:itemNN', 'ITEM42'];
  assert.deepEqual(tokens.filter((token) => /^(n:)?(route|item)/i.test(token)), expected);
});

test('a word whose token another family gave first still gives its digit shape', async () => {
  // postal-mime keeps the (lower-cased) type as written: "attachment:report2024" comes from the type, then from the name.
  const raw = `${HEADERS.join('\n')}\nContent-Type: multipart/mixed; boundary=b\n\n--b\nContent-Type: text/plain\n\nsee attached\n--b\nContent-Type: report2024; name="report2024"\nContent-Disposition: attachment\n\nbytes\n--b--\n`;
  const tokens = tokenize(await parseMessage(Buffer.from(raw)));
  assert.ok(tokens.includes('attachment:report2024'));
  assert.ok(tokens.includes('attachment:N:reportNNNN'), tokens.filter((token) => token.startsWith('attachment:')).join(' '));
});
