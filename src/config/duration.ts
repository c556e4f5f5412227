// Durations in the configuration: a bare number means seconds; a number with a unit
// (s, m, h, d, w) is converted to seconds. `300`, `300s`, `5m`, `2d` are all valid.

const UNIT_SECONDS: Record<string, number> = { s: 1, m: 60, h: 3600, d: 86400, w: 604800 };
const DURATION = /^\s*(\d+(?:\.\d+)?)\s*(s|m|h|d|w)?\s*$/i;

/** Parses a duration into seconds, or returns undefined when the text is not a duration. */
export function parseDuration(value: unknown): number | undefined {
  if (typeof value === 'number') return Number.isFinite(value) && value >= 0 ? value : undefined;
  if (typeof value !== 'string') return undefined;
  const match = DURATION.exec(value);
  if (!match) return undefined;
  const unit = (match[2] ?? 's').toLowerCase();
  return Number(match[1]) * (UNIT_SECONDS[unit] ?? 1);
}

/** Formats seconds for humans: 300 → "5m", 172800 → "2d", 90 → "90s". */
export function formatDuration(seconds: number): string {
  for (const [unit, size] of [['w', 604800], ['d', 86400], ['h', 3600], ['m', 60]] as const) {
    if (seconds >= size && seconds % size === 0) return `${seconds / size}${unit}`;
  }
  return `${seconds}s`;
}
