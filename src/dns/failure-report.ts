// Which DNS failures are new since the last look: the resolver keeps running totals per error
// code; the daemon reports the growth once a minute.

/** Failures per code that appeared between two snapshots of the resolver's totals. */
export function newFailures(before: Readonly<Record<string, number>>, now: Readonly<Record<string, number>>): Record<string, number> {
  const grown: Record<string, number> = {};
  for (const [code, count] of Object.entries(now)) {
    const previous = before[code] ?? 0;
    if (count > previous) grown[code] = count - previous;
  }
  return grown;
}
