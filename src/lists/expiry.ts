// Expiry times of list entries and bans, as `--expires` and the API's `expires`/`duration` take
// them: a duration from now (`30d`, `12h`), a date (`2026-12-31`, ISO 8601), or `never`.
import { parseDuration } from '../config/duration.js';

/** Seconds since the epoch (0 = never), or a message saying what was wrong. */
export function parseExpiry(text: string | undefined, now: number): { expiresAt: number } | { problem: string } {
  if (text === undefined || text === '' || text === 'never') return { expiresAt: 0 };
  const seconds = parseDuration(text);
  if (seconds !== undefined) {
    if (seconds <= 0) return { problem: 'expected a positive duration (30d), a date (2026-12-31) or "never"' };
    return { expiresAt: now + Math.ceil(seconds) };
  }
  if (/^\d{4}-\d{2}-\d{2}([T ][\d:.]+(Z|[+-]\d{2}:?\d{2})?)?$/.test(text)) {
    const ms = Date.parse(text);
    if (Number.isFinite(ms)) {
      const at = Math.floor(ms / 1000);
      if (at <= now) return { problem: `${text} is in the past` };
      return { expiresAt: at };
    }
  }
  return { problem: `expected a duration (30d, 12h), a date (2026-12-31) or "never", not ${JSON.stringify(text)}` };
}
