// The content checks on messages built directly (no MIME parsing): each symbol fires on the spam it
// is meant for, and genuine-looking mail (newsletters with their preheaders and tracking pixels,
// Outlook and Gmail replies, phone photos, notification mail, link protectors) fires nothing it
// should not. Default scores and descriptions are checked as well.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { CheckDescriptor, CheckOutcome, SymbolHit } from '../src/core/check.js';
import { htmlCheck, HTML_SCORES } from '../src/checks/content/html.js';
import { linksCheck, LINK_SCORES, shownDomain } from '../src/checks/content/links.js';
import { headersCheck, HEADER_SCORES, isAllCapsSubject } from '../src/checks/content/headers.js';
import { userRulesCheck } from '../src/checks/content/user-rules.js';
import { uriblCheck } from '../src/checks/content/uribl.js';
import { contentEnvironment, messageWith, ORDINARY_HEADERS, taskWith, TEST_NOW_MS, type MessageSpec } from './helpers/message-builder.js';
import { emptyEnvelope } from '../src/core/task.js';

async function outcomeOf(check: CheckDescriptor, spec: MessageSpec, yaml = ''): Promise<CheckOutcome | undefined> {
  const instance = check.create(contentEnvironment(yaml));
  assert.ok(instance, `${check.name} is enabled`);
  return instance.evaluate(taskWith(messageWith(spec)));
}

async function symbolsOf(check: CheckDescriptor, spec: MessageSpec, yaml = ''): Promise<SymbolHit[]> {
  return (await outcomeOf(check, spec, yaml))?.symbols ?? [];
}

const names = (symbols: readonly SymbolHit[]): string[] => symbols.map((s) => s.name).sort();
const words = (letters: number): string => 'lorem ipsum dolor sit amet consectetur adipiscing elit sed do eiusmod tempor '.repeat(Math.ceil(letters / 60)).slice(0, Math.ceil(letters * 1.2));

// ---- genuine-looking mail ----------------------------------------------------------------------

/** A newsletter: hidden preheader, hidden mobile menu, click tracking, a logo, a white button, a tracking pixel. */
const NEWSLETTER = `<!DOCTYPE html><html><head><meta charset="utf-8"><title>Spring sale</title>
<style>@media (max-width:600px) { .mobile { display:block !important } }</style></head>
<body style="margin:0;background-color:#f4f4f4">
<span class="preheader" style="display:none;font-size:1px;color:#f4f4f4;max-height:0;overflow:hidden;mso-hide:all">Twenty percent off everything in the garden section until Sunday&zwnj;&nbsp;&zwnj;&nbsp;&zwnj;&nbsp;</span>
<table width="100%" bgcolor="#f4f4f4"><tr><td align="center">
<table width="600" bgcolor="#ffffff"><tr><td style="padding:20px;font-family:Arial,sans-serif;color:#333333">
<a href="https://click.esp-mail.example/ls/click?upn=abc123"><img src="https://cdn.esp-mail.example/acme/logo.png" width="200" height="60" alt="Acme Garden"></a>
<h1 style="color:#2a6e2a">Spring sale: 20% off</h1>
<p>Dear customer, spring is here and our garden section is ready for it. Until Sunday, every plant, pot and tool is twenty percent cheaper in our shops and on our website.</p>
<p>Our gardeners chose a selection of hardy perennials for beginners: they flower all summer long and ask for little water.</p>
<table><tr><td bgcolor="#2a6e2a" style="border-radius:4px;padding:10px"><a href="https://click.esp-mail.example/ls/click?upn=def456" style="color:#ffffff;text-decoration:none">Shop the sale</a></td></tr></table>
<div class="mobile" style="display:none;max-height:0;overflow:hidden">Menu: Plants, Pots, Tools, Seeds, Furniture, Lighting, Gifts, Sale, Stores, Help</div>
<p style="font-size:11px;color:#999999">You receive this email because you subscribed at acme-garden.example.
<a href="https://click.esp-mail.example/unsub?u=1" style="color:#999999">Unsubscribe</a> &middot; <a href="https://acme-garden.example/privacy">Privacy</a></p>
<img src="https://open.esp-mail.example/o/abc123.gif" width="1" height="1" alt="" style="display:block;border:0">
</td></tr></table></td></tr></table></body></html>`;

/** Outlook (Windows) through Word: its namespaces, Generator meta, MsoNormal paragraphs. */
const OUTLOOK_HTML = `<html xmlns:v="urn:schemas-microsoft-com:vml" xmlns:o="urn:schemas-microsoft-com:office:office" xmlns:w="urn:schemas-microsoft-com:office:word" xmlns="http://www.w3.org/TR/REC-html40"><head><meta http-equiv=Content-Type content="text/html; charset=us-ascii"><meta name=Generator content="Microsoft Word 15 (filtered medium)"><style><!--
p.MsoNormal, li.MsoNormal, div.MsoNormal {margin:0cm; font-size:11.0pt; font-family:"Calibri",sans-serif;}
--></style><!--[if gte mso 9]><xml><o:shapedefaults v:ext="edit" spidmax="1026" /></xml><![endif]--></head><body lang=EN-GB link="#0563C1" vlink="#954F72" style='word-wrap:break-word'><div class=WordSection1><p class=MsoNormal>Hi Bob,<o:p></o:p></p><p class=MsoNormal><o:p>&nbsp;</o:p></p><p class=MsoNormal>Thanks, see you on Friday.<o:p></o:p></p><p class=MsoNormal><o:p>&nbsp;</o:p></p><p class=MsoNormal>Alice<o:p></o:p></p></div></body></html>`;

const OUTLOOK_HEADERS: Record<string, string> = {
  ...ORDINARY_HEADERS,
  'Message-ID': '<000001da5b2c$1a2b3c4d$4e5f6a7b$@example.net>',
  'X-Mailer': 'Microsoft Outlook 16.0',
  'Thread-Index': 'AQHaWyz1GitPTXxWmkaTx7ZtZC3kHw==',
  'Content-Language': 'en-gb',
};

/** A Gmail reply: text and HTML alternatives, the quoted message in a blockquote. */
const GMAIL_REPLY: MessageSpec = {
  headers: { ...ORDINARY_HEADERS, 'Message-ID': '<CAF3x9kX=dT8Yq4p2sB_7gK1mQ@mail.gmail.com>', Subject: 'Re: Lunch on Friday?' },
  text: 'Sounds good, 12:30 at the usual place?\n\nOn Wed, Dec 31, 2025 at 10:02 Bob <bob@example.org> wrote:\n> Lunch on Friday?\n',
  html: '<div dir="ltr">Sounds good, 12:30 at the usual place?</div><br><div class="gmail_quote"><div dir="ltr" class="gmail_attr">On Wed, Dec 31, 2025 at 10:02 Bob &lt;<a href="mailto:bob@example.org">bob@example.org</a>&gt; wrote:<br></div><blockquote class="gmail_quote" style="margin:0px 0px 0px 0.8ex;border-left:1px solid rgb(204,204,204);padding-left:1ex"><div dir="ltr">Lunch on Friday?</div></blockquote></div>',
};

/** A photo sent from a phone: the image inline, "Sent from my iPhone". */
const PHONE_PHOTO: MessageSpec = {
  headers: { ...ORDINARY_HEADERS, Subject: 'Photo', 'X-Mailer': 'iPhone Mail (21D61)' },
  text: '\n\nSent from my iPhone',
  html: '<html><head><meta http-equiv="content-type" content="text/html; charset=utf-8"></head><body dir="auto"><img src="cid:0A1B2C3D-1234-4E5F@example.net" alt="IMG_1234.jpeg"><br><br><div dir="ltr">Sent from my iPhone</div></body></html>',
  attachments: [{ filename: 'IMG_1234.jpeg', contentType: 'image/jpeg', disposition: 'inline' }],
};

/** A code-hosting notification: file names as link texts, URLs of the same site. */
const NOTIFICATION: MessageSpec = {
  text: 'jdoe pushed 1 commit. View it on GitHub: https://github.com/acme/tool/pull/42\nClone: git clone https://jdoe@bitbucket.org/acme/tool.git',
  html: `<p>@jdoe pushed 1 commit.</p><ul><li><a href="https://github.com/acme/tool/blob/main/README.md">README.md</a></li>
<li><a href="https://github.com/acme/tool/blob/main/setup.py">setup.py</a></li><li><a href="https://github.com/acme/tool/releases/download/v1/tool.zip">tool.zip</a></li></ul>
<p><a href="https://github.com/acme/tool/pull/42">https://github.com/acme/tool/pull/42</a> · <a href="https://notifications.github.com/unsubscribe/abc">Unsubscribe</a></p>
<p>Reference: <a href="https://ru.wikipedia.org/wiki/%D0%9C%D0%BE%D1%81%D0%BA%D0%B2%D0%B0">Москва</a>; staging build at http://10.0.12.7:8080/job/42/</p>`,
};

const HAM: Array<[string, MessageSpec]> = [
  ['newsletter', { html: NEWSLETTER, text: 'Spring sale: 20% off. Shop the sale: https://click.esp-mail.example/ls/click?upn=def456' }],
  ['Outlook reply', { headers: OUTLOOK_HEADERS, text: 'Hi Bob,\r\n\r\nThanks, see you on Friday.\r\n\r\nAlice\r\n', html: OUTLOOK_HTML }],
  ['Gmail reply', GMAIL_REPLY],
  ['phone photo', PHONE_PHOTO],
  ['notification', NOTIFICATION],
  ['plain text', { text: 'Hi Bob,\nthe minutes of the meeting are at https://intranet.example.org/minutes/2025-12.\nAlice' }],
  ['PDF with a line', { text: 'Please find the invoice attached.', attachments: [{ filename: 'invoice.pdf', contentType: 'application/pdf' }] }],
];

test('genuine-looking mail fires no content symbol, except the newsletter tracking pixel', async () => {
  for (const [label, spec] of HAM) {
    const found = [
      ...(await symbolsOf(htmlCheck, spec)),
      ...(await symbolsOf(linksCheck, spec)),
      ...(await symbolsOf(headersCheck, spec)),
    ];
    assert.deepEqual(names(found), label === 'newsletter' ? ['HTML_WEB_BUG'] : [], `${label}: ${found.map((s) => s.description).join('; ')}`);
  }
});

// ---- HTML -------------------------------------------------------------------------------------

const HTML_SPAM: Array<[string, MessageSpec, string[]]> = [
  ['script', { html: `<p>${words(200)}</p><script>location.href="http://x.example/"</script>` }, ['HTML_SCRIPT']],
  ['event handler', { html: `<body onload="go()"><p>${words(200)}</p></body>` }, ['HTML_SCRIPT']],
  ['iframe', { html: `<p>${words(200)}</p><iframe src="http://x.example/" width=0 height=0></iframe>` }, ['HTML_IFRAME']],
  ['embed', { html: `<p>${words(200)}</p><embed src="http://x.example/a.swf">` }, ['HTML_OBJECT_EMBED']],
  ['phishing form', { html: `<p>${words(200)}</p><form action="http://phish.example/login"><input name=pw type=password></form>` }, ['HTML_FORM']],
  ['web bug', { html: `<p>${words(200)}</p><img src="http://track.example/o.gif" width=1 height=1>` }, ['HTML_WEB_BUG']],
  ['web bug, one side declared', { html: `<p>${words(200)}</p><img src="http://track.example/o.gif" style="width:0">` }, ['HTML_WEB_BUG']],
  ['hash buster hidden', { html: `<p>${words(100)}</p><div style="display:none">${words(300)}</div>` }, ['HTML_INVISIBLE_TEXT']],
  ['tiny text', { html: `<p>${words(300)}</p><p style="font-size:1px">${words(250)}</p>` }, ['HTML_TINY_FONT']],
  ['white on white', { html: `<p>${words(300)}</p><font color="#FFFFFF">${words(250)}</font>` }, ['HTML_TEXT_LIKE_BACKGROUND']],
  ['black on black', { html: `<p>${words(300)}</p><table bgcolor="black"><tr><td style="color:#010101">${words(250)}</td></tr></table>` }, ['HTML_TEXT_LIKE_BACKGROUND']],
  ['linked remote image only', { html: '<a href="http://pills.example/"><img src="http://img.pills.example/offer.gif" width=600 height=400></a>' }, ['HTML_IMAGE_ONLY']],
  ['image with hidden text only', { html: `<img src="http://img.example/offer.jpg"><div style="display:none">${words(300)}</div>` }, ['HTML_IMAGE_ONLY', 'HTML_INVISIBLE_TEXT']],
  ['image attachment only', { attachments: [{ filename: 'offer.gif', contentType: 'image/gif' }] }, ['HTML_IMAGE_ONLY']],
  ['image attachment, empty text', { text: '\r\n \r\n', attachments: [{ filename: 'offer.png', contentType: 'image/png' }] }, ['HTML_IMAGE_ONLY']],
  ['little text, remote image', { html: '<p>Hot deal inside, click now</p><a href="http://x.example/"><img src="http://x.example/big.jpg"></a>' }, ['HTML_LITTLE_TEXT']],
  ['little text, heavy markup', { html: `${'<div><span> </span></div>'.repeat(60)}<p>Click here for your prize</p>` }, ['HTML_LITTLE_TEXT']],
];

const HTML_HAM: Array<[string, MessageSpec]> = [
  ['preheader only', { html: `<span style="display:none">${words(120)}</span><p>${words(400)}</p>` }],
  ['hidden mobile variant, under half the visible text', { html: `<div style="display:none">${words(250)}</div><p>${words(1000)}</p>` }],
  ['white preheader in a 1px font', { html: `<span style="font-size:1px;color:#ffffff">${words(120)}</span><p>${words(400)}</p>` }],
  ['white text on a coloured button and a dark header', { html: `<table><tr><td bgcolor="#1a1a1a"><h1 style="color:#fff">${words(250)}</h1></td></tr></table><p>${words(300)}</p>` }],
  ['dark theme from a style sheet', { html: `<style>body{background:#111}</style><body><p style="color:#ffffff">${words(400)}</p></body>` }],
  ['small print in <font size=1>', { html: `<p>${words(300)}</p><font size="1">${words(300)}</font>` }],
  ['JSON-LD for mail clients', { html: `<script type="application/ld+json">{"@type":"EmailMessage"}</script><p>${words(300)}</p>` }],
  ['short text, inline logo', { html: '<p>Thanks!</p><p>Jane Doe, Sales</p><img src="cid:logo@acme">' }],
  ['short text, no image', { html: '<p>Thanks, got it.</p>' }],
  ['photo and a sentence', { text: 'Here is the photo of the whiteboard from this morning.', attachments: [{ filename: 'board.jpg', contentType: 'image/jpeg' }] }],
  ['images with enough text', { html: `<img src="https://cdn.example/a.jpg"><p>${words(200)}</p><img src="https://cdn.example/b.jpg">` }],
];

test('HTML tricks: each symbol on its spam, with its default score and a description', async () => {
  for (const [label, spec, expected] of HTML_SPAM) {
    const found = await symbolsOf(htmlCheck, spec);
    assert.deepEqual(names(found), expected.sort(), `${label}: ${found.map((s) => s.description).join('; ')}`);
    for (const symbol of found) {
      assert.equal(symbol.score, HTML_SCORES[symbol.name as keyof typeof HTML_SCORES], `${label}: ${symbol.name} score`);
      assert.ok(symbol.description.length > 10, `${label}: ${symbol.name} has a description`);
    }
  }
  for (const [label, spec] of HTML_HAM) {
    const found = await symbolsOf(htmlCheck, spec);
    assert.deepEqual(names(found), [], `${label}: ${found.map((s) => s.description).join('; ')}`);
  }
});

test('HTML descriptions name what was found', async () => {
  const [bug] = await symbolsOf(htmlCheck, HTML_SPAM.find(([label]) => label === 'web bug')![1]);
  assert.equal(bug!.description, '1 tracking pixel from track.example');
  const [form] = await symbolsOf(htmlCheck, HTML_SPAM.find(([label]) => label === 'phishing form')![1]);
  assert.equal(form!.description, 'HTML holds 1 form posting to phish.example');
  const [hidden] = await symbolsOf(htmlCheck, { html: `<p>Buy</p><div style="display:none">${'casino '.repeat(40)}</div>` });
  assert.match(hidden!.description, /^240 letters of invisible text: "casino casino casino/);
  const [imageOnly] = await symbolsOf(htmlCheck, { attachments: [{ filename: 'a.gif', contentType: 'image/gif' }, { filename: 'b.gif', contentType: 'image/gif' }] });
  assert.equal(imageOnly!.description, '2 images and 0 letters of text');
});

// ---- links ------------------------------------------------------------------------------------

const LINK_CASES: Array<[string, string, string[]]> = [
  // [label, HTML, symbols]
  ['phishing URL text', '<a href="http://evil.example/login">https://www.paypal.com/signin</a>', ['LINK_TEXT_DOMAIN_MISMATCH']],
  ['www text', '<a href="http://secure-login.example/">www.chase.com</a>', ['LINK_TEXT_DOMAIN_MISMATCH']],
  ['bare domain text', '<a href="https://x.example/">PayPal.com</a>', ['LINK_TEXT_DOMAIN_MISMATCH']],
  ['text split by tags', '<a href="http://evil.example/">https://www.pay<b>pal</b>.com/</a>', ['LINK_TEXT_DOMAIN_MISMATCH']],
  ['redirector naming another domain', '<a href="https://redirect.example/?u=https%3A%2F%2Fevil.example">https://www.paypal.com/</a>', ['LINK_TEXT_DOMAIN_MISMATCH']],
  ['same registrable domain', '<a href="https://news.example.com/x">www.example.com</a>', []],
  ['same name, other suffix', '<a href="https://www.example.de/">example.com</a>', []],
  ['link protector', '<a href="https://eur01.safelinks.protection.outlook.com/?url=https%3A%2F%2Fwww.example.com%2Fdocs&amp;data=05%7C01">https://www.example.com/docs</a>', []],
  ['URL defense', '<a href="https://urldefense.com/v3/__https://www.example.com/report__;!!AbC">https://www.example.com/report</a>', []],
  ['sentence mentioning a domain', '<a href="https://shop.example/">Visit our shop at www.other.example</a>', []],
  ['file names', '<a href="https://files.example/1">archive.zip</a> <a href="https://files.example/2">README.md</a> <a href="https://files.example/3">notes.txt</a>', []],
  ['mailto', '<a href="mailto:info@example.com">www.example.org</a>', []],
  // URL tricks
  ['public IP link', '<a href="http://45.33.12.7/login">Log in</a>', ['URI_IP_LITERAL']],
  ['obfuscated IP', '<a href="http://757140487/login">Log in</a>', ['URI_IP_LITERAL', 'URI_IP_OBFUSCATED']],
  ['obfuscated loopback', '<a href="http://0x7f.1/">x</a>', ['URI_IP_OBFUSCATED']],
  ['private IP', '<p>Router at http://192.168.1.1/ and build at http://10.0.12.7:8080/</p>', []],
  ['credentials posing as host', '<a href="http://www.paypal.com@evil.example/">Log in</a>', ['URI_USERINFO']],
  ['credentials in an HTML link', '<a href="https://admin:secret@host.example/">x</a>', ['URI_USERINFO']],
  ['domain-like credentials in text', '<p>Go to http://paypal.com@evil.example/ now</p>', ['URI_USERINFO']],
  ['user name in a clone URL', '<p>git clone https://jdoe@bitbucket.org/team/repo.git</p>', []],
  ['needless escapes in the host', '<a href="http://%77%77%77.evil.example/">x</a>', ['URI_PERCENT_ENCODED']],
  ['needless escapes in the path', '<img src="http://img.example/%6f%66%66%65%72.gif">', ['URI_PERCENT_ENCODED']],
  ['needed escapes', '<a href="https://ru.wikipedia.org/wiki/%D0%9C%D0%BE%D1%81%D0%BA%D0%B2%D0%B0">Москва</a>', []],
];

test('deceptive links: link text against its target, IP hosts, credentials, needless escapes', async () => {
  for (const [label, html, expected] of LINK_CASES) {
    const found = await symbolsOf(linksCheck, { html });
    assert.deepEqual(names(found), expected.sort(), `${label}: ${found.map((s) => s.description).join('; ')}`);
    for (const symbol of found) assert.equal(symbol.score, LINK_SCORES[symbol.name as keyof typeof LINK_SCORES]);
  }
  const [mismatch] = await symbolsOf(linksCheck, { html: LINK_CASES[0]![1] });
  assert.equal(mismatch!.description, 'link text shows another domain than its target: paypal.com → evil.example');
  const [ip] = await symbolsOf(linksCheck, { text: 'http://45.33.12.7/a http://45.33.12.7/b http://[2a00:1450:4007:80f::200e]/' });
  assert.equal(ip!.description, 'link to an IP address: 45.33.12.7, 2a00:1450:4007:80f::200e');
  const [userinfo] = await symbolsOf(linksCheck, { html: LINK_CASES.find(([l]) => l === 'credentials posing as host')![1] });
  assert.equal(userinfo!.description, 'credentials before the host: www.paypal.com@evil.example');
});

test('what a link text shows', () => {
  const cases: [string, string | undefined][] = [
    ['https://www.paypal.com/signin', 'paypal.com'],
    [' www.Example.co.uk. ', 'example.co.uk'],
    ['amazon.de/orders', 'amazon.de'],
    ['http://45.33.12.7/', '45.33.12.7'],
    ['Click here', undefined],
    ['setup.py', undefined],
    ['file.zip', undefined],
    ['v1.2.3', undefined],
    ['john.smith', undefined],
    ['', undefined],
  ];
  for (const [text, expected] of cases) assert.equal(shownDomain(text), expected, text);
});

// ---- headers ----------------------------------------------------------------------------------

const withHeaders = (changes: Record<string, string | undefined>): MessageSpec => {
  const headers: Record<string, string> = { ...ORDINARY_HEADERS };
  for (const [name, value] of Object.entries(changes)) {
    if (value === undefined) delete headers[name];
    else headers[name] = value;
  }
  return { headers, text: 'Hello Bob, see you soon.' };
};

const HEADER_CASES: Array<[string, MessageSpec, string[], string?]> = [
  ['ordinary', withHeaders({}), []],
  ['no Date', withHeaders({ Date: undefined }), ['MISSING_DATE']],
  ['empty Date', withHeaders({ Date: ' ' }), ['MISSING_DATE']],
  ['Date not a date', withHeaders({ Date: 'tomorrow at noon' }), ['INVALID_DATE']],
  ['5 days old', withHeaders({ Date: 'Sat, 27 Dec 2025 00:00:00 +0000' }), ['DATE_IN_PAST']],
  ['5 days old, 10 days allowed', withHeaders({ Date: 'Sat, 27 Dec 2025 00:00:00 +0000' }), [], 'content: { date_max_past: 10d }'],
  ['3 days old', withHeaders({ Date: 'Mon, 29 Dec 2025 00:00:00 +0000' }), []],
  ['1 day ahead', withHeaders({ Date: 'Fri, 2 Jan 2026 00:00:00 +0000' }), ['DATE_IN_FUTURE']],
  ['11 hours ahead', withHeaders({ Date: 'Thu, 1 Jan 2026 11:00:00 +0000' }), []],
  ['a clock in another zone', withHeaders({ Date: 'Wed, 31 Dec 2025 19:00:00 -0500 (EST)' }), []],
  ['no Message-ID', withHeaders({ 'Message-ID': undefined }), ['MISSING_MESSAGE_ID']],
  ['subject in capitals', withHeaders({ Subject: 'URGENT BUSINESS PROPOSAL FOR YOU' }), ['SUBJECT_ALL_CAPS']],
  // FORGED_OUTLOOK
  ['forged Outlook', withHeaders({ 'X-Mailer': 'Microsoft Outlook 16.0', 'Message-ID': '<20260101.abc123@bulk.example>' }), ['FORGED_OUTLOOK']],
  ['forged Outlook with a Thread-Index, HTML without Word', { ...withHeaders({ 'X-Mailer': 'Microsoft Office Outlook 12.0', 'Thread-Index': 'AcZ3x==', 'Message-ID': '<abc@bulk.example>' }), html: '<p>Dear friend</p>' }, ['FORGED_OUTLOOK']],
  ['forged Mac Outlook', withHeaders({ 'User-Agent': 'Microsoft-MacOutlook/16.80.23121017', 'Message-ID': '<x1y2@bulk.example>' }), ['FORGED_OUTLOOK']],
  ['genuine Outlook', { headers: OUTLOOK_HEADERS, html: OUTLOOK_HTML }, []],
  ['genuine Outlook, Message-ID rewritten by a relay', { headers: { ...OUTLOOK_HEADERS, 'Message-ID': '<20260101@relay.example>' }, html: OUTLOOK_HTML }, []],
  ['genuine Outlook 2003', withHeaders({ 'X-Mailer': 'Microsoft Office Outlook 11', 'Thread-Index': 'AcZ3x==', 'Message-ID': '<004b01c6a0f2$6b6a8e40$0a01a8c0@PC1>' }), []],
  ['genuine Mac Outlook', withHeaders({ 'User-Agent': 'Microsoft-MacOutlook/16.80.23121017', 'Thread-Index': 'AQHaWyz1', 'Message-ID': '<3A4F5C6D-1E2F-4A3B-9C8D-7E6F5A4B3C2D@example.net>' }), []],
  ['Microsoft 365', withHeaders({ 'X-Mailer': 'Microsoft Outlook 16.0', 'Thread-Index': 'AQHaWyz1', 'Message-ID': '<AM0PR07MB4321A1B2C3D4E5F6A7B8C9D0E1@AM0PR07MB4321.eurprd07.prod.outlook.com>' }), []],
  // As in the SpamAssassin corpus (2002): Outlook 2000 IMO sends no Thread-Index and no Word markup.
  ['genuine Outlook 2000 (Internet Mail Only)', withHeaders({ 'X-Mailer': 'Microsoft Outlook IMO, Build 9.0.2416 (9.0.2910.0)', 'Message-ID': '<BCEFLMCEIJHPCPLGADJIGEEFCAAA.kiall@redpie.com>' }), []],
  ['Outlook Express is not judged', withHeaders({ 'X-Mailer': 'Microsoft Outlook Express 6.00.2900.5512', 'Message-ID': '<abc@x.example>' }), []],
  ['other mailer', withHeaders({ 'X-Mailer': 'Thunderbird 128.5.0' }), []],
];

test('header oddities: missing and wrong dates, Message-ID, shouted subject, forged Outlook', async () => {
  for (const [label, spec, expected, yaml] of HEADER_CASES) {
    const found = await symbolsOf(headersCheck, spec, yaml);
    assert.deepEqual(names(found), expected.sort(), `${label}: ${found.map((s) => s.description).join('; ')}`);
    for (const symbol of found) assert.equal(symbol.score, HEADER_SCORES[symbol.name as keyof typeof HEADER_SCORES]);
  }
  const [past] = await symbolsOf(headersCheck, withHeaders({ Date: 'Sat, 27 Dec 2025 00:00:00 +0000' }));
  assert.equal(past!.description, 'Date header is 5.0 days before receipt: Sat, 27 Dec 2025 00:00:00 +0000');
  const [future] = await symbolsOf(headersCheck, withHeaders({ Date: 'Fri, 2 Jan 2026 00:00:00 +0000' }));
  assert.equal(future!.description, 'Date header is 24.0 hours after receipt: Fri, 2 Jan 2026 00:00:00 +0000');
  const [forged] = await symbolsOf(headersCheck, HEADER_CASES.find(([l]) => l === 'forged Outlook')![1]);
  assert.equal(forged!.description, 'claims Microsoft Outlook 16.0 but: no Thread-Index; Message-ID <20260101.abc123@bulk.example> not made by Outlook');
});

test('dates are judged against the time the scan started', async () => {
  const instance = headersCheck.create(contentEnvironment())!;
  const message = messageWith(withHeaders({ Date: 'Thu, 1 Jan 2026 00:00:00 +0000' }));
  assert.equal(await instance.evaluate(taskWith(message, TEST_NOW_MS)), undefined);
  const later = (await instance.evaluate(taskWith(messageWith(withHeaders({ Date: 'Thu, 1 Jan 2026 00:00:00 +0000' })), TEST_NOW_MS + 5 * 86_400_000))) as CheckOutcome;
  assert.deepEqual(names(later.symbols!), ['DATE_IN_PAST']);
});

test('subjects in capitals', () => {
  const cases: [string, boolean][] = [
    ['URGENT BUSINESS PROPOSAL', true],
    ['YOU HAVE WON A FREE CRUISE!!!', true],
    ['YOU HAVE WON $1,000,000!!!', false], // 10 capitals: too short to tell
    ['Re: Fwd: FREE MONEY FOR EVERYONE NOW', true],
    ['RE: MEETING NOTES', false],
    ['Re: NASA IT RFP', false],
    ['INVOICE 12345', false],
    ['Lunch on Friday?', false],
    ['URGENT: please read', false],
    ['会議の議事録について', false],
    ['ÉTÉ ÉLÉGANT À PARIS MAINTENANT', true],
    ['', false],
  ];
  for (const [subject, expected] of cases) assert.equal(isAllCapsSubject(subject), expected, subject);
});

// ---- user rules -------------------------------------------------------------------------------

const RULES_YAML = `content:
  rules:
    - { name: LOCAL_CASINO_SUBJECT, score: 3, header: Subject, pattern: "casino|jackpot" }
    - { name: LOCAL_WIRE_TRANSFER, score: 2.5, body: true, pattern: "wire\\\\s+transfer\\\\s+fee", description: "asks for a transfer fee" }
    - { name: LOCAL_SHORTENER, score: 1, uri: true, pattern: "^https?://(bit\\\\.ly|tinyurl\\\\.com)/" }
    - { name: LOCAL_PARTNER, score: -2, header: From, pattern: "@partner\\\\.example>?$" }
    - { name: LOCAL_CASE_SENSITIVE, score: 1, body: true, pattern: "ACME", flags: "" }
`;

test("the administrator's rules: header, body and URL rules, compiled once, each firing once", async () => {
  const instance = userRulesCheck.create(contentEnvironment(RULES_YAML))!;
  assert.ok(instance);
  const run = async (spec: MessageSpec) => ((await instance.evaluate(taskWith(messageWith(spec)))) as CheckOutcome | undefined)?.symbols ?? [];

  const spam = await run({
    headers: { ...ORDINARY_HEADERS, Subject: 'Your CASINO bonus', From: 'Partner <news@partner.example>' },
    text: 'To receive the funds, pay the wire\r\ntransfer   fee today. Wire transfer fee!',
    html: '<p>Details: <a href="https://bit.ly/3abc">here</a></p>',
  });
  assert.deepEqual(
    spam.map((s) => [s.name, s.score, s.description]),
    [
      ['LOCAL_CASINO_SUBJECT', 3, 'header Subject matches /casino|jackpot/: "CASINO"'],
      ['LOCAL_WIRE_TRANSFER', 2.5, 'asks for a transfer fee: "wire transfer fee"'],
      ['LOCAL_SHORTENER', 1, 'URL matches /^https?://(bit\\.ly|tinyurl\\.com)//: "https://bit.ly/"'],
      ['LOCAL_PARTNER', -2, 'header From matches /@partner\\.example>?$/: "@partner.example>"'],
    ],
  );
  assert.deepEqual(names(await run({ html: '<p>Acme</p><div style="display:none">ACME wire transfer fee</div>' })), [], 'hidden HTML text is not body text; flags "" is case-sensitive');
  assert.deepEqual(names(await run({ html: '<p>Welcome to ACME</p>' })), ['LOCAL_CASE_SENSITIVE']);
  assert.deepEqual(names(await run({ headers: { From: 'a@example.net' }, text: 'Hello' })), [], 'a header the message lacks matches nothing');
  assert.equal(userRulesCheck.create(contentEnvironment('')), undefined, 'no rules: the check is off');
});

// ---- switches ---------------------------------------------------------------------------------

test('content checks are off with content.enabled: false, and pass over tasks without a message', async () => {
  for (const check of [htmlCheck, linksCheck, headersCheck, userRulesCheck]) {
    assert.equal(check.create(contentEnvironment(`content: { enabled: false, rules: [ { name: X, score: 1, body: true, pattern: x } ] }`)), undefined, check.name);
  }
  for (const check of [htmlCheck, linksCheck, headersCheck, userRulesCheck, uriblCheck]) {
    assert.deepEqual(check.stages, ['eom'], check.name);
    const instance = check.create(contentEnvironment(`content: { rules: [ { name: X, score: 1, body: true, pattern: x } ] }\nuribl: { bad_domains: [bad.example] }`))!;
    assert.equal(await instance.evaluate({ envelope: emptyEnvelope('policy', 'rcpt'), startedMs: TEST_NOW_MS, symbols: [], score: 0 }), undefined, check.name);
  }
});
