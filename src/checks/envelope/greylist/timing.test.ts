// Greylist timing rules with explicit times (postgrey's semantics): delay, retry window, max age,
// passes, and the auto-allow tally counted at most once an hour.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { checkClientAllowed, countClientPass, decideTriplet, type GreylistTiming } from './timing.js';
import type { TripletState } from '../../../store/types.js';

const timing: GreylistTiming = { delay: 300, retryWindow: 2 * 86400, maxAge: 35 * 86400 };
const T0 = 1_800_000_000;

/** Plays requests at the given times against one triplet; returns the outcome kinds. */
function play(times: number[], t: GreylistTiming = timing): { kinds: string[]; state: TripletState | undefined } {
  let state: TripletState | undefined;
  const kinds: string[] = [];
  for (const now of times) {
    const { next, result } = decideTriplet(state, now, t);
    state = next;
    kinds.push(result.kind === 'early-retry' ? `early-retry:${result.secondsLeft}` : result.kind === 'first-pass' ? `first-pass:${result.delayed}` : result.kind);
  }
  return { kinds, state };
}

test('new triplet is deferred, early retries are deferred with the time left, a retry after the delay passes once', () => {
  const { kinds, state } = play([T0, T0 + 10, T0 + 299, T0 + 300, T0 + 301, T0 + 5000]);
  assert.deepEqual(kinds, ['new', 'early-retry:290', 'early-retry:1', 'first-pass:300', 'known', 'known']);
  assert.equal(state!.attempts, 4, 'attempts are counted until the triplet passes');
  assert.equal(state!.passedAt, T0 + 300);
  assert.equal(state!.firstSeen, T0);
  assert.equal(state!.lastSeen, T0 + 5000);
});

test('a known triplet is refreshed at most once an hour, so most of its requests write nothing', () => {
  const passed: TripletState = { firstSeen: T0, lastSeen: T0 + 300, attempts: 2, passedAt: T0 + 300 };
  const soon = decideTriplet(passed, T0 + 1000, timing);
  assert.equal(soon.next, passed, 'the very same object: no write');
  assert.equal(soon.result.kind, 'known');
  const later = decideTriplet(passed, T0 + 300 + 3600, timing);
  assert.deepEqual(later.next, { ...passed, lastSeen: T0 + 300 + 3600 });
});

test('a first retry beyond the retry window starts the wait again', () => {
  const { kinds } = play([T0, T0 + 2 * 86400 + 1, T0 + 2 * 86400 + 301]);
  assert.deepEqual(kinds, ['new', 'new', 'first-pass:300']);
});

test('a passed triplet stays known across the retry window but is forgotten after max age', () => {
  const { kinds } = play([T0, T0 + 400, T0 + 400 + 30 * 86400, T0 + 400 + 30 * 86400 + 35 * 86400 + 1]);
  assert.deepEqual(kinds, ['new', 'first-pass:400', 'known', 'new']);
});

test('a zero delay passes at once and a first-seen date in the future is corrected', () => {
  assert.deepEqual(play([T0], { ...timing, delay: 0 }).kinds, ['first-pass:0']);
  const future: TripletState = { firstSeen: T0 + 1000, lastSeen: T0 + 1000, attempts: 1, passedAt: 0 };
  const { result, next } = decideTriplet(future, T0, timing);
  assert.equal(result.kind, 'new');
  assert.equal(next!.firstSeen, T0);
});

test('client passes are counted at most once an hour, expire after max age, and allow at the threshold', () => {
  let client = countClientPass(undefined, T0, timing.maxAge).next;
  assert.equal(client!.passes, 1);
  client = countClientPass(client, T0 + 1800, timing.maxAge).next; // same hour: not counted
  assert.equal(client!.passes, 1);
  for (let hour = 1; hour <= 4; hour++) client = countClientPass(client, T0 + hour * 3600, timing.maxAge).next;
  assert.equal(client!.passes, 5);
  assert.equal(checkClientAllowed(client, T0 + 4 * 3600 + 60, 5, timing.maxAge).result, true);
  assert.equal(checkClientAllowed(client, T0 + 4 * 3600 + 60, 6, timing.maxAge).result, false);
  assert.equal(checkClientAllowed(client, T0 + 4 * 3600 + timing.maxAge + 1, 5, timing.maxAge).result, false, 'forgotten after max age');
  assert.equal(countClientPass(client, T0 + 4 * 3600 + timing.maxAge + 1, timing.maxAge).result, 1, 'count restarts after max age');
});

test('an allowed client is refreshed at most once an hour and otherwise not written', () => {
  const client = { passes: 5, lastSeen: T0 };
  const sameHour = checkClientAllowed(client, T0 + 100, 5, timing.maxAge);
  assert.equal(sameHour.next, client, 'unchanged object means no write');
  const later = checkClientAllowed(client, T0 + 3600, 5, timing.maxAge);
  assert.deepEqual(later.next, { passes: 6, lastSeen: T0 + 3600 });
});
