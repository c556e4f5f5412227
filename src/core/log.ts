// Logging through pino: JSON lines (log.format: json) or one key=value text line per event
// (log.format: text, the default), e.g.
//   2026-11-23T13:43:57.123Z info decision action=greylist reason=new client_address=192.0.2.7 ...
import pino from 'pino';

export type Logger = pino.Logger;
export type LogLevel = 'debug' | 'info' | 'warn' | 'error';
export type LogFormat = 'text' | 'json';

interface Sink {
  write(text: string): unknown;
}

export interface LoggerHandle {
  log: Logger;
}

/** Creates the process logger writing to stdout (or to `sink`, for tests). */
export function createLogger(level: LogLevel, format: LogFormat, sink?: Sink): LoggerHandle {
  // Synchronous writes: a line is out when the call returns, nothing is buffered to lose at a crash
  // or to flush at exit (sonic-boom's flushSync retries a broken pipe forever).
  const destination = sink ? undefined : pino.destination({ dest: 1, sync: true });
  // A closed stdout (EPIPE: the reader went away) must not take the daemon down or block its stop.
  destination?.on('error', () => {});
  const out: Sink = sink ?? destination!;
  const stream: Sink = format === 'json' ? out : { write: (line: string) => out.write(renderText(line)) };
  const log = pino(
    {
      level,
      base: undefined,
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
    },
    stream as pino.DestinationStream,
  );
  return { log };
}

/** A value as it stands in a key=value line: bare when safe, JSON-quoted otherwise. */
export function formatValue(value: unknown): string {
  if (value === null || value === undefined) return '';
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  const text = typeof value === 'string' ? value : JSON.stringify(value);
  return text !== '' && /^[^\s"=\\]+$/.test(text) ? text : JSON.stringify(text);
}

/** Turns one pino JSON line into "time level msg key=value ...". */
export function renderText(jsonLine: string): string {
  let entry: Record<string, unknown>;
  try {
    entry = JSON.parse(jsonLine) as Record<string, unknown>;
  } catch {
    return jsonLine;
  }
  const { time, level, msg, ...fields } = entry;
  const parts = [String(time), String(level)];
  if (msg !== undefined) parts.push(String(msg));
  for (const [key, value] of Object.entries(fields)) {
    if (key === 'err' && value && typeof value === 'object') {
      const err = value as { message?: string; stack?: string };
      parts.push(`error=${formatValue(err.message ?? '')}`);
      continue;
    }
    parts.push(`${key}=${formatValue(value)}`);
  }
  return parts.join(' ') + '\n';
}
