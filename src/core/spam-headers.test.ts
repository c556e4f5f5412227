// SpamAssassin-compatible marking: the headers of spam, of ham when all_messages is on, and the subject tag.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseConfigText, resolveComputedDefaults } from '../config/loader.js';
import type { Decision } from './pipeline.js';
import { isSpamHeader, spamMarking } from './spam-headers.js';

const config = (yaml = '') => resolveComputedDefaults(parseConfigText(yaml, 'test.yaml'));

function decision(action: Decision['action'], symbols: Array<[string, number]>): Decision {
  return {
    action,
    decidedBy: '',
    reason: '',
    headers: [],
    symbols: symbols.map(([name, score]) => ({ name, score, description: name })),
    score: symbols.reduce((sum, [, score]) => sum + score, 0),
    facts: {},
    errors: [],
  };
}

test('spam gets X-Spam-Flag, X-Spam-Score and X-Spam-Status in SpamAssassin form', () => {
  const marking = spamMarking(decision('add_header', [['HTML_SCRIPT', 2.5], ['URI_IP_LITERAL', 4.25]]), config(), 'Hello');
  assert.deepEqual(marking.headers, [
    { name: 'X-Spam-Flag', value: 'YES' },
    { name: 'X-Spam-Score', value: '6.8' },
    { name: 'X-Spam-Status', value: 'Yes, score=6.8 required=6.0 tests=HTML_SCRIPT,URI_IP_LITERAL' },
  ]);
  assert.equal(marking.subject, undefined, 'no tag configured');
});

test('ham is left alone unless all_messages; then X-Spam-Status says No', () => {
  assert.deepEqual(spamMarking(decision('accept', [['MISSING_DATE', 1]]), config(), '').headers, []);
  const marking = spamMarking(decision('accept', []), config('spam_headers: { all_messages: true }'), '');
  assert.deepEqual(marking.headers, [
    { name: 'X-Spam-Score', value: '0.0' },
    { name: 'X-Spam-Status', value: 'No, score=0.0 required=6.0 tests=none' },
  ]);
});

test('the subject tag goes before the Subject of spam, once', () => {
  const tagged = config('spam_headers: { subject_tag: "[SPAM] " }');
  assert.equal(spamMarking(decision('add_header', [['X', 7]]), tagged, 'Cheap pills').subject, '[SPAM] Cheap pills');
  assert.equal(spamMarking(decision('add_header', [['X', 7]]), tagged, '[SPAM] Cheap pills').subject, undefined, 'already tagged');
  assert.equal(spamMarking(decision('accept', []), tagged, 'Hi').subject, undefined, 'ham keeps its subject');
});

test('our header names are recognised in any case', () => {
  assert.ok(isSpamHeader('x-spam-flag'));
  assert.ok(isSpamHeader('X-SPAM-STATUS'));
  assert.ok(isSpamHeader('x-spam-bayes'));
  assert.ok(!isSpamHeader('X-Spam-Bayes-Other'));
  assert.ok(!isSpamHeader('Subject'));
});
