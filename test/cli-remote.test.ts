// The state-changing commands through a running daemon's HTTP API (`--url` and the password), as
// a user runs them: child processes against a daemon process whose http.password is a hash that
// `rempart passwd` printed. Each allow/block and bans command is run twice, on a store of its own
// and through --url, and must print the same (times aside) with the same exit code; a block entry
// and a ban added through the API reject the next policy request at once; greylist list, stats and
// flush; learn spam/ham and bayes stats; the password from a file or $REMPART_PASSWORD, wrong,
// read-only or missing; a daemon that is not running; passwd's own input rules. The CLI never reads
// a configuration in these runs ($REMPART_CONFIG names a file that does not exist).
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startRempart, type RempartInstance } from './helpers/daemon.js';
import { freePort } from './helpers/ports.js';
import { PolicyClient } from './helpers/policy-client.js';
import { rempartCli } from './helpers/paths.js';
import { learnableHam as ham, learnableSpam as spam } from './helpers/message-builder.js';

const PASSWORD = 'correct horse battery staple';
const READONLY = 'just looking';
const HASH = /^\$scrypt\$N=16384,r=8,p=1\$[A-Za-z0-9+/=]+\$[A-Za-z0-9+/=]+$/;

interface Result {
  code: number | null;
  stdout: string;
  stderr: string;
}

const dir = mkdtempSync(join(tmpdir(), 'rempart-cli-remote-'));
const passwordFile = join(dir, 'password');
const readonlyFile = join(dir, 'readonly');
const wrongFile = join(dir, 'wrong');
const localConfig = join(dir, 'local.yaml');
writeFileSync(passwordFile, `${PASSWORD}\n`);
writeFileSync(readonlyFile, `${READONLY}\n`);
writeFileSync(wrongFile, 'not the password\n');
writeFileSync(localConfig, `store: { path: ${JSON.stringify(join(dir, 'local-store'))} }\n`);

/** The CLI with a clean environment: no $REMPART_URL or $REMPART_PASSWORD unless given, a configuration file that does not exist. */
function run(args: string[], options: { input?: string; env?: Record<string, string> } = {}): Result {
  const env: Record<string, string> = { ...(process.env as Record<string, string>), REMPART_CONFIG: join(dir, 'missing.yaml'), ...options.env };
  if (!options.env?.REMPART_URL) delete env.REMPART_URL;
  if (!options.env?.REMPART_PASSWORD) delete env.REMPART_PASSWORD;
  const r = spawnSync(process.execPath, [rempartCli, ...args], { input: options.input ?? '', encoding: 'utf8', timeout: 60_000, env });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

let daemon: RempartInstance;
let policyPort: number;
let policy: PolicyClient;
let url: string;
let passwdHash: string;

/** A command through the API with the administrator password. */
const remote = (...args: string[]): Result => run([...args, '--url', url, '--password-file', passwordFile]);
/** The same command on a store of its own. */
const local = (...args: string[]): Result => run([...args, '--config', localConfig]);
/** Times (added=, created=, expires=) differ by the second between two runs. */
const timeless = (text: string): string => text.replace(/\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ/g, '<time>').replace(/"createdAt":\d+|"expiresAt":[1-9]\d*/g, '<time>');

/** Runs a command locally and through the API; both must print the same and exit alike. Returns the remote run. */
function same(...args: string[]): Result {
  const here = local(...args);
  const there = remote(...args);
  assert.deepEqual(
    { code: there.code, stdout: timeless(there.stdout), stderr: timeless(there.stderr.replaceAll(dir, '<dir>')) },
    { code: here.code, stdout: timeless(here.stdout), stderr: timeless(here.stderr.replaceAll(dir, '<dir>')) },
    `rempart ${args.join(' ')}: the API run differs from the local one`,
  );
  return there;
}

before(async () => {
  const made = run(['passwd'], { input: `${PASSWORD}\n` });
  assert.equal(made.code, 0, made.stderr);
  passwdHash = made.stdout.trim();
  policyPort = await freePort();
  const httpPort = await freePort();
  daemon = await startRempart({
    configYaml: (daemonDir) =>
      `hostname: mx.example.org\nmy_networks: []\nlocal_domains: [example.org]\nstore: { path: ${daemonDir}/store }\npolicy: { listen: "127.0.0.1:${policyPort}" }\n` +
      `greylist: { delay: 1h, auto_allow_clients: 7 }\nsender: { domain_not_found: off, null_mx: off }\nrdns: { missing: off, unconfirmed: off, dynamic: off }\n` +
      // the hash as `rempart passwd` told to write it; enough failed logins allowed for the wrong-password cases
      `http: { listen: "127.0.0.1:${httpPort}", password: "${passwdHash}", readonly_password: "${READONLY}", login_attempts: 50 }\n`,
    policyPort,
  });
  url = daemon.httpUrl!;
  policy = await PolicyClient.connect(policyPort);
});

after(async () => {
  policy?.close();
  await daemon?.stop();
  rmSync(dir, { recursive: true, force: true });
});

test('rempart passwd: the hash on standard output alone, the hint on standard error; the daemon takes the hash', () => {
  assert.match(passwdHash, HASH);
  const again = run(['passwd'], { input: `${PASSWORD}\r\nignored second line\n` });
  assert.equal(again.code, 0);
  assert.equal(again.stdout.split('\n').length, 2, 'one line');
  assert.match(again.stdout.trim(), HASH);
  assert.notEqual(again.stdout.trim(), passwdHash, 'a new salt every time');
  assert.match(again.stderr, /^put the hash in the configuration as http\.password .*http: \{ password: "\$scrypt\$[^"]+" \}\n$/);
  const fromFile = run(['passwd', '--password-file', passwordFile]);
  assert.equal(fromFile.code, 0);
  assert.match(fromFile.stdout.trim(), HASH);

  for (const [input, problem] of [
    ['', /empty password/],
    ['\nsecond\n', /empty password/],
    [' padded\n', /white space/],
  ] as const) {
    const refused = run(['passwd'], { input });
    assert.equal(refused.code, 1, JSON.stringify(input));
    assert.match(refused.stderr, problem);
    assert.equal(refused.stdout, '');
  }
  assert.equal(run(['passwd', 'extra']).code, 2);
  assert.match(run(['--help']).stdout, /rempart passwd \[--password-file FILE\]/);
  assert.match(run(['--help']).stdout, /--url URL \[--password-file FILE\]/);
  // The hash works: the daemon (configured with it) answers the password.
  assert.equal(remote('bans', 'list').code, 0);
});

test('allow and block through the API print what they print on the store; a block entry applies at once', async () => {
  assert.match(await policy.ask({ sender: 'x@junk.example' }), /^DEFER_IF_PERMIT/, 'greylisted before the block entry');
  let r = same('block', 'add', '@Junk.Example', '--reason', 'abusive-domain', '--expires', '30d', '--comment', 'seen in logs', '--by', 'alice');
  assert.match(r.stdout, /^added #1 block @junk\.example global reason="abusive domain" expires=\S+Z by=alice added=\S+ comment="seen in logs"$/m);
  // No wait: the API applies the change to the running daemon at once.
  assert.equal(await policy.ask({ sender: 'x@junk.example' }), '554 5.7.1 <x@junk.example>: Sender address rejected: abusive domain');

  same('block', 'add', '2001:DB8::5/48', 'helo:Bad.Example', '--for', 'Bob@Example.org', '--reason', 'Snowshoe network', '--expires', '2099-12-31');
  r = same('block', 'add', '@junk.example', '--reason', 'spam');
  assert.match(r.stdout, /^updated #1 block @junk\.example global reason=spam expires=never/m);
  same('allow', 'add', 'x@junk.example', '--comment', 'false positive');
  assert.equal(await policy.ask({ sender: 'x@junk.example' }), 'DUNNO', 'the allow entry wins at once');

  r = same('block', 'list');
  assert.match(r.stdout, /^3 block entries$/m);
  same('block', 'list', '--global');
  same('block', 'list', '--for', 'bob@example.org');
  same('block', 'list', '--search', 'DB8');
  same('block', 'list', '--json');
  same('allow', 'list', '--json');

  same('block', 'remove', '@JUNK.example');
  r = same('block', 'remove', '@junk.example');
  assert.equal(r.code, 1);
  assert.match(r.stderr, /^rempart: no block entry @junk\.example$/m);
  same('block', 'remove', 'helo:bad.example');
  same('block', 'remove', 'helo:bad.example', '--for', 'bob@example.org');
  same('allow', 'remove', '--id', '2');
  same('block', 'remove', '--id', '2');
  same('block', 'remove', '--id', '99');
  same('block', 'list');

  const file = join(dir, 'blocklist.txt');
  writeFileSync(file, '# legacy blacklist\n@a.example   sent phishing\nexample.com\n\n198.51.100.0/24 # snowshoe\nnot an@entry\n::ffff:192.0.2.1\n@a.example\n');
  r = same('block', 'import', file, '--reason', 'compromised', '--for', 'carol@example.org');
  assert.equal(r.code, 1, 'bad lines are a problem found');
  assert.match(r.stdout, /^imported 4 block entries \(3 added, 1 updated\); 2 bad line\(s\) skipped$/m);
  same('block', 'list', '--for', 'carol@example.org', '--json');
  assert.equal(run(['block', 'import', '-', '--url', url, '--password-file', passwordFile], { input: 'partner@example.net\n' }).code, 0, 'standard input');
  assert.match(remote('block', 'list', '--search', 'partner').stdout, /^#\d+ block partner@example\.net global/m);
  // A usage error is one before anything is sent.
  assert.equal(remote('block', 'add', 'example.org').code, 2);
});

test('bans through the API print what they print on the store; a ban applies at once', async () => {
  let r = same('bans', 'add', '203.0.113.0/24', '2001:db8::7', '--expires', '7d', '--reason', 'spamtrap hit');
  assert.match(r.stdout, /^banned 203\.0\.113\.0\/24 source=manual created=\S+ expires=\S+Z reason="spamtrap hit"$/m);
  assert.match(await policy.ask({ client_address: '203.0.113.50' }), /^554 5\.7\.1 Client host \[203\.0\.113\.50\] blocked: banned until \S+Z \(spamtrap hit\)$/);
  same('bans', 'add', '198.51.100.9');
  r = same('bans', 'list');
  assert.match(r.stdout, /^3 ban\(s\)$/m);
  same('bans', 'list', '--json');
  same('bans', 'list', '--search', '198.51');
  same('bans', 'list', '--all');
  r = same('bans', 'remove', '203.0.113.50');
  assert.match(r.stderr, /203\.0\.113\.50 is not banned itself but lies in the ban of 203\.0\.113\.0\/24/);
  r = same('bans', 'remove', '203.0.113.0/24', '2001:DB8::7');
  assert.equal(r.stdout, 'lifted the ban of 203.0.113.0/24\nlifted the ban of 2001:db8::7\n');
  same('bans', 'remove', '192.0.2.99');
  same('bans', 'list');
  assert.match(await policy.ask({ client_address: '203.0.113.50', sender: 'y@elsewhere.example' }), /^DEFER_IF_PERMIT/, 'lifted at once');
});

test('greylist list, stats and flush through the API', async () => {
  assert.match(await policy.ask({ client_address: '192.0.2.44', sender: 'grey@example.net', recipient: 'bob@example.org' }), /^DEFER_IF_PERMIT/);
  let r = remote('greylist', 'list', '--search', 'grey@example.net');
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /^192\.0\.2\.\S+ grey@example\.net bob@example\.org {2}first=\S+ last=\S+ attempts=1 waiting$/m);
  assert.match(r.stdout, /^1 triplet\(s\)$/m);
  r = remote('greylist', 'list', '--json', '--limit', '1');
  assert.equal(r.stdout.trim().split('\n').length, 1);
  assert.equal(typeof JSON.parse(r.stdout).key, 'string');
  r = remote('greylist', 'stats');
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /^triplets: [1-9]\d* \(waiting [1-9]\d*, passed 0\)\nclients counted: 0 \(auto-allowed 0, threshold 7\)\n$/, "the daemon's threshold");
  const stats = JSON.parse(remote('greylist', 'stats', '--json').stdout) as Record<string, number>;
  assert.deepEqual(Object.keys(stats).sort(), ['autoAllowed', 'clients', 'passed', 'triplets', 'waiting']);

  r = remote('greylist', 'flush', '--search', 'grey@example.net');
  assert.equal(r.stdout, 'removed 1 triplet(s)\n');
  assert.match(remote('greylist', 'list', '--search', 'grey@example.net').stdout, /^0 triplet\(s\)$/m);
  r = remote('greylist', 'flush', '--clients');
  assert.match(r.stdout, /^removed [1-9]\d* triplet\(s\)\nremoved 0 auto-allow client\(s\)\n$/);
  assert.equal(JSON.parse(remote('greylist', 'stats', '--json').stdout).triplets, 0);
});

test('learn spam and ham through the API, then bayes stats; the bogofilter import stays local', () => {
  const corpus = join(dir, 'corpus');
  mkdirSync(join(corpus, 'Junk', 'cur'), { recursive: true });
  writeFileSync(join(corpus, 'Junk', 'cur', '1.eml'), spam(1));
  writeFileSync(join(corpus, 'Junk', 'cur', '2.eml'), spam(2));
  writeFileSync(join(corpus, 'spam.mbox'), [spam(3), spam(4)].map((m, i) => `From sender@example.net Mon Nov 30 06:00:0${i} 2026\n${m}\n`).join(''));
  writeFileSync(join(corpus, 'ham.eml'), ham(1));

  let r = remote('learn', 'spam', join(corpus, 'Junk'), join(corpus, 'spam.mbox'));
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /^learned 4, relearned 0, already 0, unlearned 0, not learned 0, errors 0\ndatabase global: 4 spam and 0 ham messages, [1-9]\d* tokens\n$/);
  r = run(['learn', 'ham', '-', '--url', url, '--password-file', passwordFile], { input: ham(2) });
  assert.match(r.stdout, /^learned 1, .*\ndatabase global: 4 spam and 1 ham messages/);
  r = remote('learn', 'ham', join(corpus, 'ham.eml'), join(corpus, 'Junk', 'cur', '1.eml'));
  assert.match(r.stdout, /^learned 1, relearned 1, already 0, unlearned 0, not learned 0, errors 0\ndatabase global: 3 spam and 3 ham messages/, 'a correction moves the message');
  r = remote('learn', 'ham', join(corpus, 'ham.eml'), join(dir, 'no-such-file'));
  assert.equal(r.code, 1, 'an unreadable input is a problem found');
  assert.match(r.stderr, /no-such-file: ENOENT/);
  assert.match(r.stdout, /^learned 0, relearned 0, already 1, unlearned 0, not learned 0, errors 1$/m);
  r = remote('learn', 'spam', '--unlearn', join(corpus, 'spam.mbox'));
  assert.match(r.stdout, /^learned 0, relearned 0, already 0, unlearned 2, not learned 0, errors 0\ndatabase global: 1 spam and 3 ham messages/);
  r = remote('learn', 'spam', '--for', 'Bob@Example.org', join(corpus, 'spam.mbox'));
  assert.match(r.stdout, /^learned 2, .*\ndatabase bob@example\.org: 2 spam and 0 ham messages/);

  r = remote('bayes', 'stats');
  assert.equal(r.code, 0, r.stderr);
  const rows = r.stdout.trim().split('\n').map((line) => line.trim().split(/\s+/));
  assert.deepEqual(rows.map((row) => row.slice(0, 3)), [['database', 'spam', 'ham'], ['global', '1', '3'], ['bob@example.org', '2', '0']]);
  r = remote('bayes', 'stats', '--for', 'bob@example.org', '--json');
  const row = JSON.parse(r.stdout) as { scope: string; spamMessages: number; hamMessages: number; tokens: number };
  assert.deepEqual([row.scope, row.spamMessages, row.hamMessages], ['bob@example.org', 2, 0]);
  assert.ok(row.tokens > 0);

  const dump = join(dir, 'wordlist.txt');
  writeFileSync(dump, '.MSG_COUNT 1 1\nviagra 1 0\n');
  r = remote('learn', '--import-bogofilter', dump);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /--import-bogofilter works on the store only, not through the API/);
  r = run(['learn', '--import-bogofilter', dump], { env: { REMPART_URL: url } });
  assert.equal(r.code, 2);
  assert.match(r.stderr, /--url "" while \$REMPART_URL is set/);
});

test('the password: from $REMPART_PASSWORD, wrong, read-only, missing; $REMPART_URL; --url "" for the store', () => {
  let r = run(['bans', 'list'], { env: { REMPART_URL: url, REMPART_PASSWORD: PASSWORD } });
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /ban\(s\)$/m);

  r = run(['block', 'add', '@wrong.example', '--url', url, '--password-file', wrongFile]);
  assert.equal(r.code, 1);
  assert.equal(r.stdout, '');
  assert.match(r.stderr, /^rempart: http:\/\/127\.0\.0\.1:\d+ refused the password \(.*\): check --password-file or \$REMPART_PASSWORD\n$/);
  r = run(['learn', 'spam', join(dir, 'corpus'), '--url', url, '--password-file', wrongFile]);
  assert.equal(r.code, 1);
  assert.equal(r.stderr.match(/refused the password/g)?.length, 1, 'one message, not one per message learned');
  assert.equal(r.stdout, '', 'no summary');

  r = run(['block', 'list', '--url', url]);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /wants a password .*: give it with --password-file FILE or \$REMPART_PASSWORD/);

  r = run(['block', 'add', '@readonly.example', '--url', url, '--password-file', readonlyFile]);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /that is the read-only password; changes need the administrator password \(http\.password\)/);
  r = run(['block', 'list', '--url', url, '--password-file', readonlyFile]);
  assert.equal(r.code, 0, 'the read-only password reads');
  assert.doesNotMatch(r.stdout, /readonly\.example/);
  r = run(['greylist', 'flush', '--url', url, '--password-file', readonlyFile]);
  assert.equal(r.code, 1);

  r = run(['block', 'list', '--url', '', '--config', localConfig], { env: { REMPART_URL: url } });
  assert.equal(r.code, 0, r.stderr);
  assert.doesNotMatch(r.stdout, /partner@example\.net/, 'the local store, not the daemon');
  assert.equal(run(['bans', 'list', '--password-file', passwordFile]).code, 2, '--password-file without --url');
  assert.equal(run(['bans', 'list', '--url', 'localhost:11334']).code, 2);
});

test('a daemon that is not running: a clear message and exit 1', async () => {
  const nowhere = `http://127.0.0.1:${await freePort()}`;
  for (const args of [
    ['block', 'add', '@x.example'],
    ['bans', 'list'],
    ['greylist', 'stats'],
    ['bayes', 'stats'],
    ['learn', 'ham', join(dir, 'corpus', 'ham.eml')],
  ]) {
    const r = run([...args, '--url', nowhere]);
    assert.equal(r.code, 1, args.join(' '));
    assert.equal(r.stderr, `rempart: the daemon is not reachable at ${nowhere} (connection refused: is it running, with http.listen at that address?)\n`, args.join(' '));
  }
});
