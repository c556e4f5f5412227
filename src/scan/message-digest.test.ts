// The learning digest: the same message after delivery (trace headers, X-Spam-* headers, a subject
// tag, mail store flags, CRLF line ends, an mbox's trailing empty line) keeps its digest; a change
// of Message-ID, From, Date or body gives another one.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { messageDigest } from './message-digest.js';

const original = [
  'From: Alice <alice@example.net>',
  'To: bob@example.org',
  'Subject: Lunch',
  'Date: Mon, 30 Nov 2026 06:00:00 +0000',
  'Message-ID: <lunch-1@example.net>',
  '',
  'See you at noon.',
  '',
].join('\n');

const delivered = [
  'Return-Path: <alice@example.net>',
  'Delivered-To: bob@example.org',
  'Received: from mx.example.net (mx.example.net [192.0.2.1])',
  '\tby mx.example.org (Postfix) with ESMTP id 4ABC; Mon, 30 Nov 2026 06:00:01 +0000',
  'X-Spam-Flag: YES',
  'X-Spam-Status: Yes, score=7.3 required=6.0 tests=BAYES_SPAM',
  'From: Alice',
  '  <alice@example.net>',
  'To: bob@example.org',
  'Subject: [SPAM] Lunch',
  'Date: Mon, 30 Nov 2026 06:00:00 +0000',
  'message-id:   <lunch-1@example.net>',
  'Status: RO',
  'X-Keywords: $Junk',
  '',
  'See you at noon.',
  '',
  '',
].join('\r\n');

test('the same message after delivery, filing and CRLF conversion keeps its digest', () => {
  const digest = messageDigest(Buffer.from(original));
  assert.match(digest, /^[0-9a-f]{64}$/);
  assert.equal(messageDigest(Buffer.from(delivered)), digest);
  assert.equal(messageDigest(new Uint8Array(Buffer.from(original))), digest, 'any Uint8Array');
});

test('another Message-ID, sender, date or body is another message', () => {
  const digest = messageDigest(Buffer.from(original));
  for (const [from, to] of [
    ['<lunch-1@', '<lunch-2@'],
    ['alice@example.net>', 'alicia@example.net>'],
    ['06:00:00 +0000', '06:00:01 +0000'],
    ['noon.', 'one.'],
  ] as const) {
    assert.notEqual(messageDigest(Buffer.from(original.replace(from, to))), digest, `${from} → ${to}`);
  }
  assert.equal(messageDigest(Buffer.from(original.replace('Subject: Lunch', 'Subject: Dinner'))), digest, 'the subject is not part of it');
});

test('messages without headers or without a body have digests too', () => {
  const headersOnly = messageDigest(Buffer.from('From: a@example.net\nSubject: x\n'));
  const bodyOnly = messageDigest(Buffer.from('\nJust a body\n'));
  assert.notEqual(headersOnly, bodyOnly);
  assert.equal(messageDigest(Buffer.from('\r\nJust a body')), bodyOnly);
  assert.notEqual(messageDigest(Buffer.from('')), bodyOnly);
});
