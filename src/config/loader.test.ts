// Configuration loading: defaults, durations with units, and errors that name file, line and key.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ConfigError, parseConfigText, resolveComputedDefaults } from './loader.js';
import { formatDuration, parseDuration } from './duration.js';

test('durations accept bare seconds and units', () => {
  const cases: [unknown, number | undefined][] = [
    [300, 300], ['300', 300], ['300s', 300], ['5m', 300], ['1h', 3600], ['2d', 172800], ['1w', 604800], [' 2 d ', 172800],
    ['1.5h', 5400], ['5x', undefined], ['', undefined], [-1, undefined], ['m', undefined], [null, undefined],
  ];
  for (const [input, expected] of cases) assert.equal(parseDuration(input), expected, JSON.stringify(input));
  assert.equal(formatDuration(172800), '2d');
  assert.equal(formatDuration(90), '90s');
});

test('an empty file gives the documented defaults', () => {
  const config = resolveComputedDefaults(parseConfigText('', 'empty.yaml'));
  assert.equal(config.greylist.delay, 300);
  assert.equal(config.greylist.max_age, 35 * 86400);
  assert.equal(config.greylist.retry_window, 2 * 86400);
  assert.equal(config.greylist.auto_allow_clients, 5);
  assert.equal(config.greylist.ipv4_prefix, 24);
  assert.equal(config.greylist.ipv6_prefix, 64);
  assert.equal(config.greylist.action, 'DEFER_IF_PERMIT');
  assert.equal(config.policy.listen, '127.0.0.1:10040');
  assert.deepEqual(config.my_networks, ['127.0.0.0/8', '::1/128']);
  assert.equal(config.store.backend, 'sqlite');
  assert.ok(config.store.path.length > 0);
  assert.ok(config.hostname.length > 0);
});

test('values with units are converted and nested keys keep their defaults', () => {
  const config = parseConfigText('greylist:\n  delay: 2m\n  max_age: 10d\npolicy: { listen: "unix:/run/rempart/policy.sock" }\n', 'x.yaml');
  assert.equal(config.greylist.delay, 120);
  assert.equal(config.greylist.max_age, 864000);
  assert.equal(config.greylist.retry_window, 172800);
  assert.equal(config.policy.listen, 'unix:/run/rempart/policy.sock');
});

function problemsOf(text: string) {
  try {
    parseConfigText(text, '/etc/rempart/rempart.yaml');
  } catch (error) {
    assert.ok(error instanceof ConfigError);
    return error.problems;
  }
  assert.fail('expected a ConfigError');
}

test('errors name the file, the line, the key and what was expected', () => {
  const problems = problemsOf('hostname: mx.example.org\ngreylist:\n  delay: soon\n  ipv4_prefix: 40\n  greylst: true\npolicy:\n  listen: 10040\nbogus: 1\n');
  const byKey = new Map(problems.map((p) => [p.key, p]));
  assert.equal(byKey.get('greylist.delay')?.line, 3);
  assert.match(byKey.get('greylist.delay')!.message, /duration such as 300, 300s, 5m, 2d/);
  assert.equal(byKey.get('greylist.ipv4_prefix')?.line, 4);
  assert.match(byKey.get('greylist.ipv4_prefix')!.message, /32/);
  assert.equal(byKey.get('greylist.greylst')?.line, 5);
  assert.match(byKey.get('greylist.greylst')!.message, /unknown key/);
  assert.equal(byKey.get('policy.listen')?.line, 7);
  assert.equal(byKey.get('bogus')?.line, 8);
  assert.equal(problems.length, 5);
  assert.match(new ConfigError(problems).message, /^\/etc\/rempart\/rempart\.yaml:3:\d+: greylist\.delay: /m);
});

test('bad networks and YAML syntax errors are reported with lines', () => {
  const networks = problemsOf('my_networks:\n  - 10.0.0.0/8\n  - 10.0.0.0/99\n');
  assert.equal(networks[0]!.key, 'my_networks.1');
  assert.equal(networks[0]!.line, 3);
  const syntax = problemsOf('greylist:\n  delay: [1\n');
  assert.ok(syntax[0]!.line! >= 2);
  assert.match(syntax[0]!.message, /^YAML:/);
  const scalar = problemsOf('just a string\n');
  assert.match(scalar[0]!.message, /mapping/);
});
