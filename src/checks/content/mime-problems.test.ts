// MIME_MALFORMED and SCAN_TRUNCATED from what the MIME analysis reports, on messages built here.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mimeProblemsCheck } from './mime-problems.js';
import { ManualClock } from '../../core/clock.js';
import { createLogger } from '../../core/log.js';
import { emptyEnvelope } from '../../core/task.js';
import { parseConfigText, resolveComputedDefaults } from '../../config/loader.js';
import type { DnsResolver } from '../../dns/resolver.js';
import type { Store } from '../../store/types.js';
import { parseMessage } from '../../mime/parse.js';
import { attachment, message, multipart, textPart } from '../../../test/fixtures/mime/messages.js';

const config = resolveComputedDefaults(parseConfigText('store: { path: /nonexistent }\nmilter: { max_scan_size: 2k }\n', 'test.yaml'));
const instance = mimeProblemsCheck.create({ config, store: {} as Store, dns: {} as DnsResolver, clock: new ManualClock(), log: createLogger('error', 'json', { write: () => undefined }).log })!;
const evaluate = async (raw: Uint8Array, options: { truncated?: boolean; size?: number } = {}) =>
  instance.evaluate({ envelope: emptyEnvelope('milter', 'eom'), startedMs: 0, symbols: [], score: 0, message: await parseMessage(raw, options) });

test('a well-formed message, or no message: no symbol', async () => {
  assert.equal(await evaluate(message([], multipart('mixed', 'b', [textPart('hello'), attachment('a.txt', 'a')]))), undefined);
  assert.equal(await instance.evaluate({ envelope: emptyEnvelope('milter', 'eom'), startedMs: 0, symbols: [], score: 0 }), undefined);
});

test('MIME problems: MIME_MALFORMED (1) listing them', async () => {
  const outcome = await evaluate(message([], multipart('mixed', 'b', [textPart('hello'), attachment('a.txt', 'a').replace('YQ==', 'Y!Q==')], { closed: false })));
  assert.deepEqual(outcome?.symbols, [{ name: 'MIME_MALFORMED', score: 1, description: 'MIME problems: invalid base64; missing closing boundary' }]);
});

test('a message cut by the scan limit: SCAN_TRUNCATED (0), and no MIME_MALFORMED for the missing end', async () => {
  const whole = message([], multipart('mixed', 'b', [textPart('hello '.repeat(1000))]));
  const outcome = await evaluate(whole.subarray(0, 2048), { truncated: true, size: whole.length });
  assert.deepEqual(outcome?.symbols, [{ name: 'SCAN_TRUNCATED', score: 0, description: `only the first 2048 bytes of ${whole.length} were scanned` }]);
});
