// Greylisting's timing rules as pure functions (postgrey's semantics), so they can be tested with
// an injected clock and run unchanged inside any store's atomic update. Times are whole seconds.
import type { ClientState, TripletState, Update } from '../../../store/types.js';

export interface GreylistTiming {
  /** Seconds a new triplet must wait before a retry passes. */
  delay: number;
  /** Seconds within which the first retry must come; a later first retry starts the wait again. */
  retryWindow: number;
  /** Seconds after its last sighting that an entry is forgotten. */
  maxAge: number;
}

export type TripletOutcome =
  /** First sighting (or forgotten): deferred for `secondsLeft`. */
  | { kind: 'new'; secondsLeft: number }
  /** Seen before, still inside the delay. */
  | { kind: 'early-retry'; secondsLeft: number }
  /** The first retry after the delay: passes, `delayed` seconds after the first attempt. */
  | { kind: 'first-pass'; delayed: number }
  /** A triplet that had passed before. */
  | { kind: 'known' };

/**
 * A passed triplet's last-seen time is refreshed at most this often, in seconds: enough for a max age
 * of days, and regular correspondents cost no write on most of their messages.
 */
export const KNOWN_REFRESH_INTERVAL = 3600;

/** Whether an entry last seen at `lastSeen` is still remembered at `now`. */
export function isAlive(lastSeen: number, now: number, maxAge: number): boolean {
  return now - lastSeen <= maxAge;
}

/** Applies one request to a triplet: the state to store and what to answer. */
export function decideTriplet(current: TripletState | undefined, now: number, timing: GreylistTiming): Update<TripletState, TripletOutcome> {
  const known = current && isAlive(current.lastSeen, now, timing.maxAge) ? current : undefined;
  let firstSeen = now;
  let passedBefore = false;
  if (known) {
    passedBefore = known.passedAt > 0 || known.lastSeen - known.firstSeen >= timing.delay;
    firstSeen = known.firstSeen;
    // A first retry beyond the retry window starts the wait again.
    if (!passedBefore && now - firstSeen > timing.retryWindow) firstSeen = now;
    // A first-seen date in the future (clock moved back) is corrected.
    if (firstSeen > now) firstSeen = now;
  }
  const secondsLeft = timing.delay - (now - firstSeen);
  if (known && passedBefore) {
    const fresh = now >= known.lastSeen && now - known.lastSeen < KNOWN_REFRESH_INTERVAL;
    const passedAt = known.passedAt > 0 ? known.passedAt : known.lastSeen;
    return { next: fresh ? known : { ...known, lastSeen: now, passedAt }, result: { kind: 'known' } };
  }
  const attempts = (known?.attempts ?? 0) + 1;
  if (secondsLeft > 0) {
    const next: TripletState = { firstSeen, lastSeen: now, attempts, passedAt: 0 };
    return { next, result: firstSeen === now ? { kind: 'new', secondsLeft } : { kind: 'early-retry', secondsLeft } };
  }
  return { next: { firstSeen, lastSeen: now, attempts, passedAt: now }, result: { kind: 'first-pass', delayed: now - firstSeen } };
}

/** Seconds between two counted passes of one client (postgrey counts at most once an hour). */
export const CLIENT_COUNT_INTERVAL = 3600;

/** Counts a first pass for the client's auto-allow tally, at most once an hour; returns the new tally. */
export function countClientPass(current: ClientState | undefined, now: number, maxAge: number): Update<ClientState, number> {
  const known = current && isAlive(current.lastSeen, now, maxAge) ? current : undefined;
  if (known && now < known.lastSeen + CLIENT_COUNT_INTERVAL && known.lastSeen <= now) return { next: known, result: known.passes };
  const passes = (known?.passes ?? 0) + 1;
  return { next: { passes, lastSeen: now }, result: passes };
}

/**
 * Looks a client up in the auto-allow tally: allowed when its count reached `threshold`. An allowed
 * client's entry is refreshed (at most once an hour) so it is not forgotten while it keeps sending.
 */
export function checkClientAllowed(current: ClientState | undefined, now: number, threshold: number, maxAge: number): Update<ClientState, boolean> {
  if (!current || !isAlive(current.lastSeen, now, maxAge) || current.passes < threshold) return { next: current, result: false };
  if (now >= current.lastSeen + CLIENT_COUNT_INTERVAL || current.lastSeen > now) {
    return { next: { passes: current.passes + 1, lastSeen: now }, result: true };
  }
  return { next: current, result: true };
}
