// The token hash (token-hash.ts): the same value for a token whether hashed as a string or as a
// prefix and code units, never the empty-slot value 0:0, and different for tokens that differ a little.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { hashToken, hashTokenOfUnits, tokenHash } from './token-hash.js';

const hashOf = (token: string): string => {
  hashToken(token);
  return `${tokenHash.high}:${tokenHash.low}`;
};

const hashOfUnits = (prefix: string, text: string, from: number, to: number): string => {
  const units = new Uint16Array(text.length);
  for (let i = 0; i < text.length; i++) units[i] = text.charCodeAt(i);
  hashTokenOfUnits(prefix, units, from, to);
  return `${tokenHash.high}:${tokenHash.low}`;
};

const ODD_TEXTS = ['', 'a', 'money', 'Ünïcödé', '你好世界', 'emoji 😀 here', 'lone \ud800 high', 'lone \udc00 low', 'x'.repeat(5000)];

test('a prefix and code units hash as the string they make', () => {
  for (const prefix of ['', 'subject:', 'from:@', 'é:']) {
    for (const text of ODD_TEXTS) {
      const padded = `[${text}]`;
      assert.equal(hashOfUnits(prefix, padded, 1, padded.length - 1), hashOf(prefix + text), JSON.stringify(prefix + text));
    }
  }
});

test('tokens that differ by one character, by case, by length or by where the prefix ends hash differently', () => {
  const tokens = ['money', 'Money', 'moneY', 'mone', 'moneyy', 'subject:money', 'subject:mone', 'subjectmoney', '\u0000', '', '\u0000\u0000', 'ab', 'ba'];
  const hashes = new Set(tokens.map(hashOf));
  assert.equal(hashes.size, tokens.length);
  for (const token of tokens) {
    hashToken(token);
    assert.ok(tokenHash.high !== 0 || tokenHash.low !== 0, token);
    assert.ok(Number.isInteger(tokenHash.high) && tokenHash.high >= 0 && tokenHash.high < 2 ** 32);
    assert.ok(Number.isInteger(tokenHash.low) && tokenHash.low >= 0 && tokenHash.low < 2 ** 32);
  }
});
