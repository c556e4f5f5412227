// The typed copy of a string's UTF-16 code units the tokenizer reads (code-units.ts): every code unit
// as it is, lone surrogates included, in a buffer reused from text to text and grown for long ones.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CodeUnitBuffer } from './code-units.js';

const ODD_TEXTS = ['', 'a', 'money', 'Ünïcödé', '你好世界', 'emoji 😀 here', 'lone \ud800 high', 'lone \udc00 low', 'x'.repeat(5000)];

test('code units: every UTF-16 code unit as it is, lone surrogates included, in a buffer reused and grown', () => {
  const buffer = new CodeUnitBuffer();
  for (const text of [...ODD_TEXTS, 'short again', 'y'.repeat(20_000), 'é']) {
    const units = buffer.fill(text);
    assert.ok(units.length >= text.length);
    for (let i = 0; i < text.length; i++) assert.equal(units[i], text.charCodeAt(i), `${JSON.stringify(text.slice(0, 20))} at ${i}`);
  }
});
