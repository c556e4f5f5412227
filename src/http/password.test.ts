// Tests of the API passwords: the scrypt hash `rempart passwd` prints, plain and hashed matching,
// and the failed-login limit and sessions of the authenticator.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { hashPassword, isPasswordHash, PasswordCheck } from './password.js';
import { Authenticator } from './auth.js';
import { httpSettingsProblem, isLoopback } from './server.js';
import { parseConfigText } from '../config/loader.js';

test('a hash matches its password only, and two hashes of one password differ (salt)', async () => {
  const hash = await hashPassword('s3cret');
  assert.match(hash, /^\$scrypt\$N=16384,r=8,p=1\$[A-Za-z0-9+/=]{24}\$[A-Za-z0-9+/=]{44}$/);
  assert.ok(isPasswordHash(hash));
  assert.notEqual(hash, await hashPassword('s3cret'));
  const check = new PasswordCheck(hash);
  assert.equal(await check.matches('s3cret'), true);
  assert.equal(await check.matches('s3cret'), true, 'remembered after the first match');
  assert.equal(await check.matches('S3cret'), false);
  assert.equal(await check.matches(''), false);
});

test('a plain password matches exactly; no password matches nothing', async () => {
  const plain = new PasswordCheck('plain text');
  assert.equal(plain.isSet, true);
  assert.equal(isPasswordHash('plain text'), false);
  assert.equal(await plain.matches('plain text'), true);
  assert.equal(await plain.matches('plain tex'), false);
  assert.equal(await plain.matches('plain text '), false);
  const none = new PasswordCheck('');
  assert.equal(none.isSet, false);
  assert.equal(await none.matches(''), false);
});

function httpSettings(yaml: string) {
  return parseConfigText(`http: ${yaml}\n`, 'test.yaml').http;
}

test('the authenticator: roles, lock-out after failures within the window, sessions', async () => {
  const auth = new Authenticator(httpSettings('{ password: admin-pw, readonly_password: reader-pw, login_attempts: 2, login_window: 60s, session_max_age: 1h }'));
  const t0 = 1_000_000;
  assert.equal(await auth.roleOf({ kind: 'bearer', password: 'admin-pw' }, '192.0.2.1', t0), 'admin');
  assert.equal(await auth.roleOf({ kind: 'bearer', password: 'reader-pw' }, '192.0.2.1', t0), 'readonly');
  assert.equal(await auth.roleOf({ kind: 'none' }, '192.0.2.1', t0), undefined);
  assert.equal(await auth.roleOf({ kind: 'bearer', password: 'x' }, '192.0.2.1', t0), undefined);
  assert.equal(auth.isLockedOut('192.0.2.1', t0), false);
  assert.equal(await auth.roleOf({ kind: 'bearer', password: 'y' }, '192.0.2.1', t0 + 1000), undefined);
  assert.equal(auth.isLockedOut('192.0.2.1', t0 + 1000), true);
  assert.equal(auth.isLockedOut('192.0.2.2', t0 + 1000), false, 'per address');
  assert.equal(auth.retryAfterSeconds('192.0.2.1', t0 + 1000), 59);
  assert.equal(auth.isLockedOut('192.0.2.1', t0 + 60_000), false, 'the window passed');

  const token = auth.openSession('readonly', t0);
  assert.equal(await auth.roleOf({ kind: 'cookie', token }, '192.0.2.3', t0 + 1000), 'readonly');
  assert.equal(await auth.roleOf({ kind: 'cookie', token }, '192.0.2.3', t0 + 3600_000), undefined, 'expired');
  assert.equal(await auth.roleOf({ kind: 'cookie', token: 'forged' }, '192.0.2.3', t0), undefined);

  const second = auth.openSession('admin', t0);
  auth.update(httpSettings('{ password: new-pw }'));
  assert.equal(await auth.roleOf({ kind: 'cookie', token: second }, '192.0.2.3', t0 + 1000), undefined, 'a new password ends the sessions');
  assert.equal(await auth.roleOf({ kind: 'bearer', password: 'new-pw' }, '192.0.2.3', t0 + 1000), 'admin');
});

test('without a password every caller is the administrator', async () => {
  const auth = new Authenticator(httpSettings('{}'));
  assert.equal(auth.passwordRequired, false);
  assert.equal(await auth.roleOf({ kind: 'none' }, '127.0.0.1', 0), 'admin');
});

test('HTTP settings: a public address needs a password, the read-only password needs one too (checked at start and reload)', () => {
  assert.equal(httpSettingsProblem(httpSettings('{ listen: "127.0.0.1:11334" }')), undefined);
  assert.equal(httpSettingsProblem(httpSettings('{ listen: "[::1]:11334" }')), undefined);
  assert.match(httpSettingsProblem(httpSettings('{ listen: "0.0.0.0:11334" }')) ?? '', /not a loopback address: set http.password/);
  assert.equal(httpSettingsProblem(httpSettings('{ listen: "0.0.0.0:11334", password: pw }')), undefined);
  assert.match(httpSettingsProblem(httpSettings('{ readonly_password: ro }')) ?? '', /readonly_password needs http.password/);
  assert.equal(isLoopback('localhost'), true);
  assert.equal(isLoopback('[::1]'), true);
  assert.equal(isLoopback('::ffff:127.0.0.1'), true);
  assert.equal(isLoopback('192.0.2.1'), false);
  assert.equal(isLoopback('attacker.example'), false);
});

test('failed attempts of one IPv6 /64 count together', async () => {
  const auth = new Authenticator(httpSettings('{ password: pw, login_attempts: 2 }'));
  assert.equal(await auth.roleOfPassword('a', '2001:db8:1:2::10', 0), undefined);
  assert.equal(await auth.roleOfPassword('b', '2001:db8:1:2::20', 0), undefined);
  assert.equal(auth.isLockedOut('2001:db8:1:2::30', 0), true);
  assert.equal(auth.isLockedOut('2001:db8:1:3::30', 0), false);
});
