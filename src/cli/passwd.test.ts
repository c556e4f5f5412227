// `rempart passwd`: the hash it prints is the `$scrypt$` form the daemon's password check accepts
// (and tells a wrong password from the right one), the hint names http.password with the hash
// quoted for YAML; the terminal prompt asks twice without echoing what is typed, and refuses two
// different passwords, an empty one and Ctrl-C; the first line of a stream is read without its line end.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PassThrough, Readable } from 'node:stream';
import { parse as parseYaml } from 'yaml';
import { hashPassword, isPasswordHash, PasswordCheck } from '../http/password.js';
import { CommandFailure } from './common.js';
import { firstLine, passwdHint, promptPassword } from './passwd.js';

const HASH = /^\$scrypt\$N=16384,r=8,p=1\$[A-Za-z0-9+/]{22}==\$[A-Za-z0-9+/]{43}=$/;

test('the hash and the hint: one line each; the hint is YAML that gives http.password the hash', async () => {
  const hash = await hashPassword('correct horse');
  assert.match(hash, HASH);
  assert.ok(isPasswordHash(hash));
  const check = new PasswordCheck(hash);
  assert.ok(await check.matches('correct horse'));
  assert.ok(!(await check.matches('correct horse ')));
  const hint = passwdHint(hash);
  assert.ok(!hint.includes('\n'));
  assert.match(hint, /http\.password/);
  const yaml = hint.slice(hint.indexOf('http: {'));
  assert.deepEqual(parseYaml(yaml), { http: { password: hash } });
});

/** A fake terminal: what is "typed" into input, and everything written to the screen. */
function terminal(): { input: PassThrough & { isTTY: boolean; setRawMode: (on: boolean) => void }; screen: () => string; output: PassThrough } {
  const input = Object.assign(new PassThrough(), { isTTY: true, setRawMode: () => {} });
  const output = new PassThrough();
  let written = '';
  output.on('data', (chunk: Buffer) => (written += chunk.toString('utf8')));
  return { input, output, screen: () => written };
}

const typeLines = (input: PassThrough, ...lines: string[]) => {
  let delay = 10;
  for (const line of lines) {
    setTimeout(() => input.write(line), delay);
    delay += 20;
  }
};

test('the terminal prompt: asked twice, nothing typed is echoed', async () => {
  const { input, output, screen } = terminal();
  typeLines(input, 'hunter2 x\r', 'hunter2 x\r');
  assert.equal(await promptPassword(input, output), 'hunter2 x');
  assert.match(screen(), /password: [\s\S]*again: /);
  assert.ok(!screen().includes('hunter2'), `echoed: ${JSON.stringify(screen())}`);
  assert.ok(!screen().includes('*'));
});

test('the terminal prompt refuses different passwords, an empty one, Ctrl-C and end of input', async () => {
  let tty = terminal();
  typeLines(tty.input, 'one\r', 'two\r');
  await assert.rejects(promptPassword(tty.input, tty.output), (e: Error) => e instanceof CommandFailure && e.message === 'the two passwords differ');
  tty = terminal();
  typeLines(tty.input, '\r');
  await assert.rejects(promptPassword(tty.input, tty.output), /empty password/);
  tty = terminal();
  typeLines(tty.input, 'abc', '\x03');
  await assert.rejects(promptPassword(tty.input, tty.output), /cancelled/);
  tty = terminal();
  typeLines(tty.input, '\x04');
  await assert.rejects(promptPassword(tty.input, tty.output), /no password given/);
});

test('the first line of standard input', async () => {
  assert.equal(await firstLine(Readable.from([Buffer.from('pass'), Buffer.from(' word\r\nrest\n')])), 'pass word');
  assert.equal(await firstLine(Readable.from([Buffer.from('no newline')])), 'no newline');
  assert.equal(await firstLine(Readable.from([])), '');
});
