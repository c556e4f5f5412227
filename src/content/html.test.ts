// The HTML analysis: visible text, links, images, active content, and the three kinds of hidden
// text (invisible, tiny, coloured like the background), with the colour and font-size readers.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { analyseHtml, htmlOf, isTinyFontSize, parseColour } from './html.js';
import { messageWith } from '../../test/helpers/message-builder.js';

test('visible text: tags stripped, entities decoded, unrendered content and zero-width characters left out', () => {
  const cases: [string, string][] = [
    ['<p>Hello &amp; welcome</p>', 'Hello & welcome'],
    ['<html><head><title>Title</title><style>p { color: red }</style></head><body>Body</body></html>', 'Body'],
    ['<p>One</p><p>Two</p><div>Three<br>Four</div>', 'One Two Three Four'],
    ['Pay<span>Pal</span> <b>acc</b>ount', 'PayPal account'],
    ['V\u200Bi&#8203;a&zwnj;gra', 'Viagra'],
    ['<script>document.write("x")</script>Shown<noscript> too</noscript>', 'Shown too'],
    ['<table><tr><td>cell1</td><td>cell2</td></tr></table>', 'cell1 cell2'],
    ['<p>caf&eacute; &#x263A; &nbsp; end</p>', 'café ☺ end'],
    ['<!-- comment --><p>text<!--[if mso]>outlook only<![endif]--></p>', 'text'],
    ['unclosed <b>bold <i>italic', 'unclosed bold italic'],
    // White space of any kind collapsed to single spaces, zero-width characters first removed.
    ['<p>\n  tab\there\r\nnew\u00a0line \u2003 wide  </p>\n\n<p> next</p>', 'tab here new line wide next'],
    ['<p>a \u200b b\u200b\u200bc</p>', 'a bc'],
  ];
  for (const [html, expected] of cases) assert.equal(analyseHtml([html]).text, expected, html);
  assert.equal(analyseHtml(['<p>Hello world 42</p>']).textLength, 12, 'letters and digits only');
  assert.equal(analyseHtml(['<p>Ça coûte 5 € (٣ جنيه)</p>']).textLength, 13, 'letters and digits of any script');
  assert.equal(analyseHtml(['<p>first part</p>', '<p>second part</p>']).text, 'first part second part', 'parts are joined');
});

test('link texts: one already clean is kept as it is; any white space at an end, run of it, or zero-width character is collapsed', () => {
  const cases: [string, string][] = [
    ['Click here', 'Click here'],
    ['', ''],
    [' ', ''],
    ['\u00a0lead', 'lead'],
    ['trail\t', 'trail'],
    ['\u2028line', 'line'],
    ['\ufeffbom', 'bom'],
    ['\u200b', ''],
    ['a\u00adb', 'ab'],
    ['two  spaces', 'two spaces'],
    ['new\nline', 'new line'],
    ['\u3000wide space', 'wide space'],
  ];
  for (const [text, expected] of cases) assert.equal(analyseHtml([`<a href="https://x.example/">${text}</a>`]).links[0]!.text, expected, JSON.stringify(text));
});

test('links keep their href and visible text; images their source, remoteness and declared size', () => {
  const html = analyseHtml([
    `<a href=" https://shop.example/a ">Buy <b>now</b><span style="display:none">hidden</span></a>
     <a href="mailto:a@example.org">mail</a><a name="anchor">no href</a>
     <map><area href="http://area.example/" alt="x"></map>
     <img src="https://cdn.example/logo.png" width="120" height="40">
     <img src="cid:part1.abc@example" style="width: 1px; height: 1px">
     <img src="//tracker.example/p.gif" width="1px" height="1">
     <img src="data:image/gif;base64,R0lGOD" width="50%">`,
  ]);
  assert.deepEqual(html.links, [
    { href: 'https://shop.example/a', text: 'Buy now' },
    { href: 'mailto:a@example.org', text: 'mail' },
    { href: 'http://area.example/', text: '' },
  ]);
  assert.deepEqual(html.images, [
    { src: 'https://cdn.example/logo.png', remote: true, width: 120, height: 40 },
    { src: 'cid:part1.abc@example', remote: false, width: 1, height: 1 },
    { src: '//tracker.example/p.gif', remote: true, width: 1, height: 1 },
    { src: 'data:image/gif;base64,R0lGOD', remote: false },
  ]);
});

test('active content: scripts (elements of a script type, event handlers, javascript: URLs), frames, plug-ins, forms', () => {
  const cases: [string, { scripts: number; frames: number; plugins: number; forms: number }][] = [
    ['<script>alert(1)</script>', { scripts: 1, frames: 0, plugins: 0, forms: 0 }],
    ['<script type="text/javascript" src="http://x.example/a.js"></script>', { scripts: 1, frames: 0, plugins: 0, forms: 0 }],
    ['<script type="application/ld+json">{"@context":"http://schema.org"}</script>', { scripts: 0, frames: 0, plugins: 0, forms: 0 }],
    ['<body onload="go()"><img src="x.png" onerror="go()"></body>', { scripts: 2, frames: 0, plugins: 0, forms: 0 }],
    ['<a href="java\tscript:go()">x</a>', { scripts: 1, frames: 0, plugins: 0, forms: 0 }],
    ['<iframe src="http://x.example/"></iframe><frameset><frame src="a"></frameset>', { scripts: 0, frames: 3, plugins: 0, forms: 0 }],
    ['<object data="x.swf"></object><embed src="y.swf"><applet code="z"></applet>', { scripts: 0, frames: 0, plugins: 3, forms: 0 }],
    ['<form action="http://phish.example/login"><input type="password"></form>', { scripts: 0, frames: 0, plugins: 0, forms: 1 }],
    ['<p>An ordinary <a href="https://example.org/">link</a></p>', { scripts: 0, frames: 0, plugins: 0, forms: 0 }],
  ];
  for (const [source, expected] of cases) {
    const { scripts, frames, plugins, forms } = analyseHtml([source]);
    assert.deepEqual({ scripts, frames, plugins, forms }, expected, source);
  }
  assert.deepEqual(analyseHtml(['<form action=" http://phish.example/login "></form>']).formActions, ['http://phish.example/login']);
});

const words = (n: number): string => Array.from({ length: n }, (_, i) => `word${i}`).join(' ');

test('hidden text: each kind, inherited, overridden by descendants, and left out of the visible text', () => {
  type Kind = 'invisible' | 'tiny' | 'likeBackground' | 'visible';
  const cases: [string, Kind][] = [
    ['<div style="display:none">SECRET</div>', 'invisible'],
    ['<div style="DISPLAY: None !important">SECRET</div>', 'invisible'],
    ['<span style="visibility:hidden">SECRET</span>', 'invisible'],
    ['<span style="opacity:0">SECRET</span>', 'invisible'],
    ['<p hidden>SECRET</p>', 'invisible'],
    ['<DIV HIDDEN onclick="x()">SECRET</DIV>', 'invisible'],
    ['<div style="display:none"><p><b>SECRET</b></p></div>', 'invisible'],
    ['<span style="font-size:1px">SECRET</span>', 'tiny'],
    ['<span style="font-size:0">SECRET</span>', 'tiny'],
    ['<span style="font-size:0.5pt">SECRET</span>', 'tiny'],
    ['<div style="font-size:0"><span style="font-size:14px">SECRET</span></div>', 'visible'],
    ['<font size="1">SECRET</font>', 'visible'],
    ['<span style="font-size:xx-small">SECRET</span>', 'visible'],
    ['<font color="#ffffff">SECRET</font>', 'likeBackground'],
    ['<span style="color:white">SECRET</span>', 'likeBackground'],
    ['<span style="color:#fefefe">SECRET</span>', 'likeBackground'],
    ['<span style="color:rgba(0,0,0,0)">SECRET</span>', 'likeBackground'],
    ['<table bgcolor="#000000"><tr><td><font color="black">SECRET</font></td></tr></table>', 'likeBackground'],
    ['<body bgcolor="navy" text="#000080">SECRET</body>', 'likeBackground'],
    ['<body text="#ffffff">SECRET</body>', 'likeBackground'],
    ['<span text="#ffffff">SECRET</span>', 'visible'], // text= colours <body> only
    ['<div style="background:#ff0000 none repeat"><span style="color:rgb(255, 0, 0)">SECRET</span></div>', 'likeBackground'],
    ['<td bgcolor="#000000"><span style="color:#ffffff">SECRET</span></td>', 'visible'],
    ['<td style="background-color:#336699"><a href="x" style="color:#ffffff">SECRET</a></td>', 'visible'],
    ['<td background="http://x.example/bg.jpg"><font color="white">SECRET</font></td>', 'visible'],
    ['<td style="background:url(bg.png) #fff"><font color="white">SECRET</font></td>', 'visible'],
    ['<style>body { background: #000 }</style><font color="#ffffff">SECRET</font>', 'visible'],
    ['<font color="#ffffff"><a href="x">SECRET</a></font>', 'visible'], // links are drawn in link blue
    ['<a href="x">SECRET</a>', 'visible'],
    ['<span style="color:#777">SECRET</span>', 'visible'],
    ['<span style="color:not-a-colour">SECRET</span>', 'visible'],
    ['<div style="display:none"><span style="font-size:1px;color:#fff">SECRET</span></div>', 'invisible'],
  ];
  for (const [source, expected] of cases) {
    const html = analyseHtml([`<p>shown</p>${source}`]);
    const found: Kind[] = [];
    if (html.invisible.letters > 0) found.push('invisible');
    if (html.tiny.letters > 0) found.push('tiny');
    if (html.likeBackground.letters > 0) found.push('likeBackground');
    if (html.text.includes('SECRET')) found.push('visible');
    assert.deepEqual(found, [expected], source);
    if (expected !== 'visible') assert.equal(html.text, 'shown', `${source}: hidden text is not visible text`);
  }
  const long = analyseHtml([`<p>Buy now</p><div style="display:none">${words(100)}</div>`]);
  assert.equal(long.invisible.letters, 100 * 4 + 190);
  assert.match(long.invisible.sample, /^word0 word1 word2/);
  assert.ok(long.invisible.sample.length <= 60);
});

test('colours and font sizes', () => {
  const colours: [string, boolean, [number, number, number, number] | undefined][] = [
    ['#fff', false, [255, 255, 255, 1]],
    ['#FFFFFF', false, [255, 255, 255, 1]],
    ['#00000000', false, [0, 0, 0, 0]],
    ['white', false, [255, 255, 255, 1]],
    ['Transparent', false, [0, 0, 0, 0]],
    ['rgb(10, 20, 30)', false, [10, 20, 30, 1]],
    ['rgb(100%, 0%, 0%)', false, [255, 0, 0, 1]],
    ['rgba(1 2 3 / 50%)', false, [1, 2, 3, 0.5]],
    ['ffffff', true, [255, 255, 255, 1]],
    ['ffffff', false, undefined],
    ['#ggg', false, undefined],
    ['rgb(1,2)', false, undefined],
    ['papayawhip-ish', false, undefined],
  ];
  for (const [text, legacy, expected] of colours) {
    const colour = parseColour(text, legacy);
    assert.deepEqual(colour ? [colour.r, colour.g, colour.b, colour.a] : undefined, expected, text);
  }
  const sizes: [string, boolean | undefined][] = [
    ['0', true], ['1px', true], ['1PX', true], ['1.5px', false], ['1pt', true], ['2pt', false], ['0.1em', true], ['0.8em', false],
    ['0.05rem', true], ['8%', true], ['80%', false], ['12px', false], ['small', undefined], ['12', undefined],
  ];
  for (const [text, expected] of sizes) assert.equal(isTinyFontSize(text), expected, text);
});

test('the analysis is computed once per message, over its HTML parts and those of attached messages', () => {
  const message = messageWith({ text: 'plain', html: '<p>own</p>', nested: { html: '<p>forwarded</p>' } });
  const first = htmlOf(message);
  assert.equal(first.parts, 2);
  assert.equal(first.text, 'own forwarded');
  assert.equal(htmlOf(message), first, 'the same object: not computed again');
  assert.equal(htmlOf(messageWith({ text: 'plain only' })).parts, 0);
});
