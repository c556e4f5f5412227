// The policy adapter's replies: verdicts as "code enhanced text" (greylisting with its action),
// never OK, one PREPEND for headers, and no doubled Postfix prefix at RCPT.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Decision } from '../core/pipeline.js';
import { envelopeFromAttributes, policyAction, stageOf } from './adapter.js';

const decision = (overrides: Partial<Decision>): Decision => ({ action: 'accept', decidedBy: '', reason: '', headers: [], symbols: [], score: 0, facts: {}, errors: [], ...overrides });
const reject = (code: number, enhanced: string, text: string): Partial<Decision> => ({ action: 'reject', verdict: { action: 'reject', reason: 'r', reply: { code, enhanced, text } } });

test('verdicts, greylisting, headers and DUNNO', () => {
  assert.equal(policyAction(decision({}), 'DEFER_IF_PERMIT'), 'DUNNO');
  assert.equal(policyAction(decision({ headers: [{ name: 'X-Greylist', value: 'delayed 5 seconds' }, { name: 'X-Other', value: 'x' }] }), 'DEFER_IF_PERMIT'), 'PREPEND X-Greylist: delayed 5 seconds');
  assert.equal(policyAction(decision({ action: 'add_header', headers: [{ name: 'X-Greylist', value: 'x' }] }), 'DEFER_IF_PERMIT'), 'PREPEND X-Spam-Flag: YES');
  assert.equal(policyAction(decision({ action: 'greylist', verdict: { action: 'greylist', reason: 'new', reply: { code: 450, enhanced: '4.2.0', text: 'Greylisted' } } }), 'DEFER'), 'DEFER 4.2.0 Greylisted');
  assert.equal(policyAction(decision(reject(504, '5.5.2', '<x>: Helo command rejected: need fully-qualified hostname\r\nOK')), 'DEFER_IF_PERMIT'), '504 5.5.2 <x>: Helo command rejected: need fully-qualified hostname OK');
});

test("at RCPT our own copy of Postfix's recipient prefix is dropped", () => {
  const unknown = decision(reject(550, '5.1.1', '<Bob@example.org>: Recipient address rejected: User unknown'));
  assert.equal(policyAction(unknown, 'DEFER_IF_PERMIT', 'bob@example.org'), '550 5.1.1 User unknown');
  assert.equal(policyAction(unknown, 'DEFER_IF_PERMIT'), '550 5.1.1 <Bob@example.org>: Recipient address rejected: User unknown');
  assert.equal(policyAction(unknown, 'DEFER_IF_PERMIT', 'other@example.org'), '550 5.1.1 <Bob@example.org>: Recipient address rejected: User unknown');
});

test('stages and absent attributes', () => {
  assert.equal(stageOf('END-OF-MESSAGE'), 'eom');
  assert.equal(stageOf('ehlo'), 'helo');
  assert.equal(stageOf('VRFY'), 'other');
  assert.equal(stageOf(undefined), 'other');
  const envelope = envelopeFromAttributes(new Map([['recipient', 'a@b.example'], ['size', 'x']]));
  assert.equal(envelope.clientName, '', 'absent means not known');
  assert.equal(envelope.reverseClientName, '');
  assert.deepEqual(envelope.recipients, ['a@b.example']);
  assert.equal(envelope.size, 0);
});
