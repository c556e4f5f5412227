// Recipient validation from files: listed addresses and catch-alls pass, extensions are stripped,
// other domains are not judged, unknown users get 550 5.1.1, bad lines are reported with numbers.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { testPipeline } from './helpers/pipeline.js';
import { recipientsCheck } from '../src/checks/envelope/recipients.js';
import { SqliteStore } from '../src/store/sqlite/store.js';

test('valid recipients from files; 550 5.1.1 for unknown users of covered domains', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'rempart-rcpt-'));
  const store = new SqliteStore(join(dir, 'store'), 1000); // its recipient table stays empty
  try {
    writeFileSync(join(dir, 'users'), '# our users\nbob@example.org\nAlice@Example.org OK\n@catchall.example.org\nnot an address line\nfoo@\n');
    const { ask: askWith, lines, pipeline } = testPipeline({
      yaml: `history: { enabled: false }\nstore: { path: /nonexistent }\nrecipients: { files: [${dir}/users, ${dir}/missing] }\n`,
      checks: [recipientsCheck],
      store,
      defaults: { client_address: '192.0.2.1', sender: 's@example.net' },
    });
    const problems = pipeline.problems.map((p) => p.message);
    assert.equal(problems.length, 3, problems.join('\n'));
    assert.match(problems[0]!, /users:5: not an address or @domain: not an address line/);
    assert.match(problems[1]!, /users:6: /);
    assert.match(problems[2]!, /missing: cannot read/);
    const ask = (recipient: string) => askWith({ recipient });
    assert.equal(await ask('bob@example.org'), 'DUNNO');
    assert.equal(await ask('ALICE@example.org'), 'DUNNO');
    assert.equal(await ask('bob+lists@example.org'), 'DUNNO', 'extension stripped');
    assert.equal(await ask('anyone@catchall.example.org'), 'DUNNO');
    assert.equal(await ask('someone@elsewhere.example'), 'DUNNO', 'a domain the files do not cover is not judged');
    // Postfix adds "<carol@example.org>: Recipient address rejected: " before a policy reply itself.
    assert.equal(await ask('carol@example.org'), '550 5.1.1 User unknown');
    assert.match(lines.at(-1)!, /action=reject reason="unknown recipient carol@example\.org" .* check=recipients/);
  } finally {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  }
});
