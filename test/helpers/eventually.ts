// Polling with a deadline, for tests that wait on real peers (a Prometheus scraping, a Sentinel
// promoting, a page updating): calls `probe` until it gives a value other than undefined or false.
// A probe that throws counts as not yet; the last error is in the failure message.
import assert from 'node:assert/strict';

/** Waits until `probe` returns a value that is not undefined/false (polling every `intervalMs`), or fails after `timeoutMs`. */
export async function eventually<T>(
  probe: () => Promise<T | undefined | false> | T | undefined | false,
  what: string,
  timeoutMs = 10_000,
  intervalMs = 100,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  for (;;) {
    try {
      const value = await probe();
      if (value !== undefined && value !== false) return value;
    } catch (error) {
      lastError = error;
    }
    if (Date.now() > deadline) assert.fail(`timed out waiting for ${what}${lastError ? `: ${String(lastError)}` : ''}`);
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
}
