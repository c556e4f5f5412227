// Recipient validation from files: listed addresses and catch-alls pass, extensions are stripped,
// other domains are not judged, unknown users get 550 5.1.1, bad lines are reported with numbers.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ManualClock } from '../src/core/clock.js';
import { createLogger } from '../src/core/log.js';
import { Pipeline } from '../src/core/pipeline.js';
import { DnsResolver } from '../src/dns/resolver.js';
import { parseConfigText, resolveComputedDefaults } from '../src/config/loader.js';
import { recipientsCheck } from '../src/checks/envelope/recipients.js';
import { envelopeFromAttributes, policyAction } from '../src/policy/adapter.js';
import type { Store } from '../src/store/types.js';

test('valid recipients from files; 550 5.1.1 for unknown users of covered domains', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'rempart-rcpt-'));
  try {
    writeFileSync(join(dir, 'users'), '# our users\nbob@example.org\nAlice@Example.org OK\n@catchall.example.org\nnot an address line\nfoo@\n');
    const config = resolveComputedDefaults(parseConfigText(`history: { enabled: false }\nstore: { path: /nonexistent }\nrecipients: { files: [${dir}/users, ${dir}/missing] }\n`, 'test.yaml'));
    const lines: string[] = [];
    const log = createLogger('info', 'text', { write: (l: string) => lines.push(l) }).log;
    const pipeline = new Pipeline([recipientsCheck], { config, store: {} as Store, dns: new DnsResolver(), clock: new ManualClock(), log });
    const problems = pipeline.problems.map((p) => p.message);
    assert.equal(problems.length, 3, problems.join('\n'));
    assert.match(problems[0]!, /users:5: not an address or @domain: not an address line/);
    assert.match(problems[1]!, /users:6: /);
    assert.match(problems[2]!, /missing: cannot read/);
    const ask = async (recipient: string) => {
      const attrs = new Map(Object.entries({ request: 'smtpd_access_policy', protocol_state: 'RCPT', client_address: '192.0.2.1', sender: 's@example.net', recipient }));
      return (await pipeline.decide(envelopeFromAttributes(attrs), (d) => policyAction(d, 'DEFER_IF_PERMIT'))).reply;
    };
    assert.equal(await ask('bob@example.org'), 'DUNNO');
    assert.equal(await ask('ALICE@example.org'), 'DUNNO');
    assert.equal(await ask('bob+lists@example.org'), 'DUNNO', 'extension stripped');
    assert.equal(await ask('anyone@catchall.example.org'), 'DUNNO');
    assert.equal(await ask('someone@elsewhere.example'), 'DUNNO', 'a domain the files do not cover is not judged');
    assert.equal(await ask('carol@example.org'), '550 5.1.1 <carol@example.org>: Recipient address rejected: User unknown');
    assert.match(lines.at(-1)!, /action=reject reason="unknown recipient carol@example\.org" .* check=recipients/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
