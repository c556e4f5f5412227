// The pipe filter's message surgery: X-Spam-* headers replaced, the Subject tagged, the body and
// the other header bytes (8-bit ones included) passed through unchanged; and the exit classes.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseConfigText, resolveComputedDefaults } from '../config/loader.js';
import type { Decision } from '../core/pipeline.js';
import { classify, markMessage } from './filter.js';

test('headers: ours replace those the message came with; the rest and the body are unchanged', () => {
  const raw = Buffer.concat([
    Buffer.from('From: a@example.org\r\nX-Spam-Flag: NO\r\nSubject: caf', 'latin1'),
    Buffer.from([0xe9]),
    Buffer.from('\r\n\tcontinued\r\nX-SPAM-Status: No,\r\n tests=none\r\n\r\nbody line\r\nX-Spam-Flag: in the body stays\r\n', 'latin1'),
  ]);
  const out = markMessage(raw, [{ name: 'X-Spam-Flag', value: 'YES' }], undefined);
  const expected = Buffer.concat([
    Buffer.from('From: a@example.org\r\nSubject: caf', 'latin1'),
    Buffer.from([0xe9]),
    Buffer.from('\r\n\tcontinued\r\nX-Spam-Flag: YES\r\n\r\nbody line\r\nX-Spam-Flag: in the body stays\r\n', 'latin1'),
  ]);
  assert.deepEqual(out, expected);
});

test('the subject is replaced (folded lines included) or added; LF-only messages stay LF', () => {
  const raw = Buffer.from('Subject: old\n subject\nTo: b@example.org\n\nbody\n');
  assert.equal(markMessage(raw, [], '[SPAM] old subject').toString(), 'Subject: [SPAM] old subject\nTo: b@example.org\n\nbody\n');
  const noSubject = Buffer.from('To: b@example.org\n\nbody\n');
  assert.equal(markMessage(noSubject, [{ name: 'X-Spam-Flag', value: 'YES' }], '[SPAM] ').toString(), 'To: b@example.org\nX-Spam-Flag: YES\nSubject: [SPAM] \n\nbody\n');
});

test('a message without a body, or without a header end, keeps its bytes', () => {
  assert.equal(markMessage(Buffer.from('To: b@example.org\n'), [{ name: 'X-Spam-Score', value: '1.0' }], undefined).toString(), 'To: b@example.org\nX-Spam-Score: 1.0\n');
});

test('exit classes: spam at add_header or reject, unsure from the greylist threshold, ham below', () => {
  const config = resolveComputedDefaults(parseConfigText('', 'test.yaml'));
  const d = (action: Decision['action'], score: number): Decision => ({ action, decidedBy: '', reason: '', headers: [], symbols: [], score, facts: {}, errors: [] });
  assert.equal(classify(d('add_header', 7), config), 'spam');
  assert.equal(classify(d('reject', 20), config), 'spam');
  assert.equal(classify(d('accept', 4), config), 'unsure');
  assert.equal(classify(d('accept', 3.9), config), 'ham');
});
