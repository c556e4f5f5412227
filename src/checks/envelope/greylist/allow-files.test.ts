// Unit tests for postgrey's allow-list file formats: every client and recipient entry kind, the
// problems reported for unusable lines, .local files, and loading Debian's real list files.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  loadClientAllowFiles,
  loadRecipientAllowFiles,
  parseClientAllowList,
  parseRecipientAllowList,
} from './allow-files.js';

const CLIENTS = `# clients test file
example.com
Mail.Example.NET   # trailing comment
/^smtp\\d+\\.pool\\.example\\.org$/

192.0.2.10
198.51.100.0/24
203.0.113.77/27
10.1.2
172.16
2001:db8:1::/48
2001:db8:ffff::25
::ffff:100.64.0.0/112
`;

test('client list: every entry kind matches what it should', () => {
  const { list, problems } = parseClientAllowList(CLIENTS, 'clients');
  assert.deepEqual(problems, []);
  assert.equal(list.size, 11);
  // [address, client_name, expected line or undefined]
  const cases: [string, string, number | undefined][] = [
    // names: the name itself and subdomains, case-insensitively; never a mere suffix
    ['198.18.0.1', 'example.com', 2],
    ['198.18.0.1', 'MX1.Example.Com', 2],
    ['198.18.0.1', 'a.b.example.com', 2],
    ['198.18.0.1', 'notexample.com', undefined],
    ['198.18.0.1', 'example.com.evil.net', undefined],
    ['198.18.0.1', 'mail.example.net', 3],
    ['198.18.0.1', 'x.mail.example.net', 3],
    ['198.18.0.1', 'example.net', undefined],
    ['198.18.0.1', 'unknown', undefined],
    // regex, case-insensitive, against client_name
    ['198.18.0.1', 'smtp12.pool.example.org', 4],
    ['198.18.0.1', 'SMTP7.Pool.Example.Org', 4],
    ['198.18.0.1', 'smtpx.pool.example.org', undefined],
    // exact IPv4
    ['192.0.2.10', 'unknown', 6],
    ['192.0.2.11', 'unknown', undefined],
    ['::ffff:192.0.2.10', 'unknown', 6],
    // IPv4 CIDR, including one written with host bits set
    ['198.51.100.255', 'unknown', 7],
    ['198.51.101.0', 'unknown', undefined],
    ['203.0.113.64', 'unknown', 8],
    ['203.0.113.95', 'unknown', 8],
    ['203.0.113.96', 'unknown', undefined],
    // partial IPv4: a.b.c is /24, a.b is /16
    ['10.1.2.200', 'unknown', 9],
    ['10.1.3.1', 'unknown', undefined],
    ['172.16.254.1', 'unknown', 10],
    ['172.17.0.1', 'unknown', undefined],
    // IPv6 CIDR and exact
    ['2001:db8:1:ffff::1', 'unknown', 11],
    ['2001:DB8:1:0:0:0:0:9', 'unknown', 11],
    ['2001:db8:2::1', 'unknown', undefined],
    ['2001:db8:ffff:0:0:0:0:25', 'unknown', 12],
    ['2001:db8:ffff::26', 'unknown', undefined],
    // an IPv4-mapped network entry counts as IPv4 (/112 → /16)
    ['100.64.3.4', 'unknown', 13],
    ['100.65.0.1', 'unknown', undefined],
    // an unparsable address still matches by name
    ['garbage', 'example.com', 2],
    ['garbage', 'unknown', undefined],
  ];
  for (const [address, name, line] of cases) {
    const match = list.match(address, name);
    assert.equal(match?.line, line, `${address} ${name}`);
    if (match) assert.equal(match.file, 'clients');
  }
  assert.deepEqual(list.match('192.0.2.10', 'unknown'), { file: 'clients', line: 6, entry: '192.0.2.10' });
  assert.deepEqual(list.match('1.1.1.1', 'mail.example.net'), { file: 'clients', line: 3, entry: 'Mail.Example.NET' });
});

test('client list: the most specific network is reported when several match', () => {
  const { list } = parseClientAllowList('10.0.0.0/8\n10.1.0.0/16\n10.1.2.3\n', 'f');
  const cases: [string, number][] = [
    ['10.1.2.3', 3],
    ['10.1.2.4', 2],
    ['10.2.0.1', 1],
  ];
  for (const [address, line] of cases) assert.equal(list.match(address, 'unknown')?.line, line, address);
});

test('client list: unusable lines are problems with their line numbers, loading goes on', () => {
  const text = [
    'good.example', // 1
    '300.1.1.1', // 2
    '192.0.2.0/33', // 3
    '1.2.3.4/100', // 4
    '2001:db8::/129', // 5
    'zz:yy::1', // 6
    'two words', // 7
    '/unclosed', // 8
    '/(unbalanced/', // 9
    '/\\Aperl-only\\z/', // 10
    '.leading.dot', // 11
    '   # only a comment', // 12
    '1.2.3.4.5', // 13
    'after.example', // 14
  ].join('\n');
  const { list, problems } = parseClientAllowList(text, 'bad');
  assert.deepEqual(
    problems.map((p) => [p.line, p.text]),
    [
      [2, '300.1.1.1'],
      [3, '192.0.2.0/33'],
      [4, '1.2.3.4/100'],
      [5, '2001:db8::/129'],
      [6, 'zz:yy::1'],
      [7, 'two words'],
      [8, '/unclosed'],
      [9, '/(unbalanced/'],
      [10, '/\\Aperl-only\\z/'],
      [11, '.leading.dot'],
      [13, '1.2.3.4.5'],
    ],
  );
  for (const p of problems) {
    assert.equal(p.file, 'bad');
    assert.ok(p.message.length > 0);
  }
  assert.equal(list.size, 2);
  assert.equal(list.match('192.0.2.1', 'x.after.example')?.line, 14);
});

const RECIPIENTS = `# recipients test file
postmaster@
Alice@Example.com
example.org
/^list-.*@lists\\.example\\.net$/
a+b@example.com
bob/x@example.com
`;

test('recipient list: every entry kind matches what it should', () => {
  const { list, problems } = parseRecipientAllowList(RECIPIENTS, 'rcpts');
  assert.deepEqual(problems, []);
  assert.equal(list.size, 6);
  const cases: [string, number | undefined][] = [
    // user@: any domain, with or without extension
    ['postmaster@example.net', 2],
    ['PostMaster@anything.example', 2],
    ['postmaster+ext@x.test', 2],
    ['postmaster+@x.test', undefined],
    ['postmasterx@x.test', undefined],
    ['xpostmaster@x.test', undefined],
    // user@domain, with extensions, exact domain only
    ['alice@example.com', 3],
    ['ALICE+news@EXAMPLE.COM', 3],
    ['alice+a+b@example.com', 3],
    ['alice@sub.example.com', undefined],
    ['alice@example.comx', undefined],
    ['malice@example.com', undefined],
    // bare domain: the domain and its subdomains
    ['anyone@example.org', 4],
    ['anyone@mail.example.org', 4],
    ['anyone@notexample.org', undefined],
    ['example.org@elsewhere.test', undefined],
    // regex against the recipient
    ['list-dev@lists.example.net', 5],
    ['LIST-dev@LISTS.example.net', 5],
    ['list-dev@lists.example.com', undefined],
    // an entry with an extension in it
    ['a+b@example.com', 6],
    ['a+b+c@example.com', 6],
    ['a@example.com', undefined],
    ['bob/x@example.com', 7],
    ['', undefined],
  ];
  for (const [recipient, line] of cases) assert.equal(list.match(recipient)?.line, line, recipient);
  assert.deepEqual(list.match('alice+x@example.com'), { file: 'rcpts', line: 3, entry: 'Alice@Example.com' });
});

test('recipient list: unusable lines are problems with their line numbers', () => {
  const text = ['ok@example.com', 'two words@example.com', '@example.com', 'a@b@c', '/(bad/', '.example.com', 'example.org'].join('\n');
  const { list, problems } = parseRecipientAllowList(text, 'bad');
  assert.deepEqual(
    problems.map((p) => [p.line, p.text]),
    [
      [2, 'two words@example.com'],
      [3, '@example.com'],
      [4, 'a@b@c'],
      [5, '/(bad/'],
      [6, '.example.com'],
    ],
  );
  assert.equal(list.size, 2);
  assert.equal(list.match('x@example.org')?.line, 7);
});

test('loading files: several files merge, a missing .local is skipped, other missing files are problems', () => {
  const dir = mkdtempSync(join(tmpdir(), 'rempart-allow-'));
  try {
    const first = join(dir, 'whitelist_clients');
    const second = join(dir, 'extra_clients');
    writeFileSync(first, '# comment\nfirst.example\n');
    writeFileSync(second, 'second.example\nbad line\n192.0.2.0/24\n');
    const missingLocal = join(dir, 'whitelist_clients.local');
    const missing = join(dir, 'nope');
    const clients = loadClientAllowFiles([first, missingLocal, second, missing]);
    assert.equal(clients.list.size, 3);
    assert.deepEqual(clients.list.match('198.18.0.1', 'mx.first.example'), { file: first, line: 2, entry: 'first.example' });
    assert.deepEqual(clients.list.match('192.0.2.9', 'unknown'), { file: second, line: 3, entry: '192.0.2.0/24' });
    assert.deepEqual(
      clients.problems.map((p) => [p.file, p.line, p.text]),
      [
        [second, 2, 'bad line'],
        [missing, 0, ''],
      ],
    );

    const rcpts = join(dir, 'whitelist_recipients');
    writeFileSync(rcpts, 'abuse@\r\nexample.org\r\n');
    const recipients = loadRecipientAllowFiles([rcpts, join(dir, 'whitelist_recipients.local'), dir]);
    assert.equal(recipients.list.size, 2);
    assert.equal(recipients.list.match('abuse@x.test')?.line, 1);
    assert.equal(recipients.list.match('y@example.org')?.line, 2);
    // a directory cannot be read: a file-level problem
    assert.deepEqual(recipients.problems.map((p) => [p.file, p.line]), [[dir, 0]]);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

const REAL_CLIENTS = '/etc/postgrey/whitelist_clients';
const REAL_RECIPIENTS = '/etc/postgrey/whitelist_recipients';

test('the real postgrey list files load unchanged', { skip: !existsSync(REAL_CLIENTS) || !existsSync(REAL_RECIPIENTS) }, () => {
  const clients = loadClientAllowFiles([REAL_CLIENTS, `${REAL_CLIENTS}.local`]);
  assert.deepEqual(clients.problems, []);
  assert.ok(clients.list.size > 150, `only ${clients.list.size} client entries`);
  const clientCases: [string, string, string | undefined][] = [
    ['198.18.0.1', 'bendel.debian.org', 'debian.org'],
    ['198.18.0.1', 'mail-sor-f41.google.com', 'google.com'],
    ['198.18.0.1', 'ms-smtp-03.nyc.rr.com', '/^ms-smtp.*\\.rr\\.com$/'],
    ['198.18.0.1', 'sc12pub.verizon.net', '/^s[cv]\\d+pub\\.verizon\\.net$/'],
    ['198.18.0.1', 'smtp5-g21.free.fr', '/^(?:smtp\\w*|postfix)[0-9]+-g[0-9]+\\.free\\.fr$/'],
    ['198.18.0.1', 'dgfip.finances.gouv.fr', 'dgfip.finances.gouv.fr'],
    ['66.216.126.174', 'unknown', '66.216.126.174'],
    ['195.235.39.200', 'unknown', '195.235.39'],
    ['51.4.80.31', 'unknown', '51.4.80.0/27'],
    ['51.4.80.32', 'unknown', undefined],
    ['205.201.143.255', 'unknown', '205.201.128.0/20'],
    ['2a01:4180:4051:800::25', 'unknown', '2a01:4180:4051:0800::/64'],
    ['2a01:4180:4051:801::25', 'unknown', undefined],
    ['198.18.0.1', 'notdebian.org', undefined],
    ['198.18.0.1', 'unknown', undefined],
  ];
  for (const [address, name, entry] of clientCases) assert.equal(clients.list.match(address, name)?.entry, entry, `${address} ${name}`);

  const recipients = loadRecipientAllowFiles([REAL_RECIPIENTS, `${REAL_RECIPIENTS}.local`]);
  assert.deepEqual(recipients.problems, []);
  assert.equal(recipients.list.size, 2);
  assert.equal(recipients.list.match('Postmaster@example.org')?.entry, 'postmaster@');
  assert.equal(recipients.list.match('abuse+reports@example.org')?.entry, 'abuse@');
  assert.equal(recipients.list.match('alice@example.org'), undefined);
});
