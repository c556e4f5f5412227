// Date header parsing: RFC 5322 dates, their obsolete forms, and what is not a date.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseMailDate } from './mail-date.js';

test('RFC 5322 dates and their obsolete forms', () => {
  const cases: [string, string | undefined][] = [
    ['Wed, 31 Dec 2025 23:58:00 +0100', '2025-12-31T22:58:00.000Z'],
    ['31 Dec 2025 23:58:00 +0100', '2025-12-31T22:58:00.000Z'],
    ['Wed, 31 Dec 2025 23:58 -0500', '2026-01-01T04:58:00.000Z'],
    ['Thu, 1 Jan 2026 09:00:00 +0000 (UTC)', '2026-01-01T09:00:00.000Z'],
    ['Thu,  1 Jan 2026 09:00:00 GMT', '2026-01-01T09:00:00.000Z'],
    ['Thu, 01 Jan 2026 04:00:00 EST', '2026-01-01T09:00:00.000Z'],
    ['Thu, 1 Jan 2026 09:00:00 CET', '2026-01-01T09:00:00.000Z'], // unknown zone names read as UTC (RFC 5322 §4.3)
    ['Thu, 1 Jan 2026 09:00:00', '2026-01-01T09:00:00.000Z'],
    ['Thursday, 1 January 26 09:00:00 +0000', '2026-01-01T09:00:00.000Z'],
    ['1 Jan 99 09:00:00 +0000', '1999-01-01T09:00:00.000Z'],
    ['1 Jan 126 09:00:00 +0000', '2026-01-01T09:00:00.000Z'],
    ['01-Jan-2026 09:00:00 +0000', '2026-01-01T09:00:00.000Z'],
    ['Sat, 31 Dec 2016 23:59:60 +0000', '2017-01-01T00:00:00.000Z'],
    ['', undefined],
    ['yesterday', undefined],
    ['2026-01-01T09:00:00Z', undefined],
    ['Thu, 32 Jan 2026 09:00:00 +0000', undefined],
    ['Thu, 29 Feb 2026 09:00:00 +0000', undefined],
    ['Thu, 1 Foo 2026 09:00:00 +0000', undefined],
    ['Thu, 1 Jan 2026 24:00:00 +0000', undefined],
    ['Thu, 1 Jan 2026 09:00:00 +0099', undefined],
  ];
  for (const [text, expected] of cases) {
    const ms = parseMailDate(text);
    assert.equal(ms === undefined ? undefined : new Date(ms).toISOString(), expected, text);
  }
});
