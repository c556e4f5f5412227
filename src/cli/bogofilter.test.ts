// Reading bogofilter dumps: lines and their problems, the mapping of bogofilter's tokens to ours
// (checked against what our tokenizer makes of the same message), merging by the larger count, the
// message counts and the special tokens left out.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { tokenize } from '../classifier/tokenizer.js';
import { parseMessage } from '../mime/parse.js';
import { BogofilterDump, ourToken, parseDumpLine } from './bogofilter.js';

test('dump lines: token, spam, ham and an optional date; problems named', () => {
  assert.deepEqual(parseDumpLine('subj:Cheap 12 3 20261130'), { token: 'subj:Cheap', spam: 12, ham: 3, lastSeen: Date.UTC(2026, 10, 30) / 1000 });
  assert.deepEqual(parseDumpLine('  meeting\t0  25 '), { token: 'meeting', spam: 0, ham: 25, lastSeen: undefined });
  assert.equal(parseDumpLine('   '), undefined);
  assert.deepEqual(parseDumpLine('bit.\u00a0Also 1 0 20261130\r'), { token: 'bit.\u00a0Also', spam: 1, ham: 0, lastSeen: Date.UTC(2026, 10, 30) / 1000 }, 'a no-break space belongs to the token');
  assert.match((parseDumpLine('word 12') as { problem: string }).problem, /TOKEN SPAM HAM/);
  assert.match((parseDumpLine('word x 1') as { problem: string }).problem, /whole numbers/);
  assert.match((parseDumpLine('word 1 1 20261131') as { problem: string }).problem, /not a date/);
  assert.match((parseDumpLine('word 1 1 2026-11-30') as { problem: string }).problem, /not a date/);
});

test('bogofilter tokens in our forms; those we never make are left out', () => {
  const cases: [string, string | undefined][] = [
    ['Cheap', 'cheap'],
    ['subj:Lunch', 'subject:lunch'],
    ['from:Example.NET', 'from:@example.net'],
    ['from:Alice', 'from:alice'],
    ['to:example.org', 'to:@example.org'],
    ['rtrn:example.net', undefined],
    ['rcvd:mx.Example.net', 'received:mx.example.net'],
    ['rcvd:192.0.2.77', 'received:192.0.2'],
    ['rcvd:10.1.2.3', undefined],
    ['rcvd:ESMTP', undefined],
    ['head:Date', undefined],
    ['mime:boundary', undefined],
    ['12:30', '12:30'],
    ['bit.\u00a0Also', undefined],
  ];
  for (const [theirs, ours] of cases) assert.equal(ourToken(theirs), ours, theirs);
});

test('mapped tokens meet what our tokenizer makes of the same message', async () => {
  const raw = Buffer.from(
    'Return-Path: <alice@example.net>\nReceived: from mx.example.net (mx.example.net [192.0.2.77]) by mx.example.org\nFrom: Alice <alice@example.net>\nTo: bob@example.org\nSubject: Lunch tomorrow\nMessage-ID: <l1@example.net>\n\nShall we meet at the canteen?\n',
  );
  const ours = new Set(tokenize(await parseMessage(raw)));
  for (const theirs of ['subj:Lunch', 'subj:tomorrow', 'from:example.net', 'from:Alice', 'to:example.org', 'rcvd:mx.example.net', 'rcvd:192.0.2.77', 'canteen', 'Shall']) {
    const mapped = ourToken(theirs);
    assert.ok(mapped !== undefined && ours.has(mapped), `${theirs} → ${mapped} is one of our tokens`);
  }
});

test('a dump: message counts, special tokens left out, merged tokens take the larger counts', () => {
  const now = 1_800_000_000; // seconds since the epoch
  const dump = new BogofilterDump(now);
  for (const line of ['.MSG_COUNT 40 60 20261130', '.ROBX 520000 0 20261130', '.WORDLIST_VERSION 20040500 0', 'Free 9 1 20261101', 'free 7 3 20261120', 'head:Date 5 5', 'quiet 0 0', 'undated 1 0']) {
    const parsed = parseDumpLine(line);
    assert.ok(parsed && !('problem' in parsed), line);
    dump.add(parsed);
  }
  assert.deepEqual(dump.messages, { spam: 40, ham: 60 });
  assert.deepEqual(Object.fromEntries(dump.tokens), {
    free: { spam: 9, ham: 3, lastSeen: Date.UTC(2026, 10, 20) / 1000 },
    undated: { spam: 1, ham: 0, lastSeen: now },
  });
  assert.deepEqual(dump.tally, { read: 5, skipped: 2, merged: 1, special: ['.ROBX', '.WORDLIST_VERSION'] });
});
