// A small client of the daemon's HTTP API for tests (fetch with a bearer password, JSON or raw
// bodies, the answer parsed when it is JSON), and raw messages of the SpamAssassin corpus to learn
// and check.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { repoRoot } from './paths.js';

/** Deadline of one API call, ms. */
const CALL_TIMEOUT_MS = 20_000;

export interface Api {
  url: string;
  call(
    method: string,
    path: string,
    options?: { token?: string | null; json?: unknown; body?: Uint8Array | string; type?: string; cookie?: string; headers?: Record<string, string> },
  ): Promise<{ status: number; body: any; headers: Headers; text: string }>;
}

export function apiOf(url: string, defaultToken: string | null): Api {
  return {
    url,
    async call(method, path, options = {}) {
      const headers: Record<string, string> = { ...options.headers };
      const token = options.token === undefined ? defaultToken : options.token;
      if (token !== null) headers.authorization = `Bearer ${token}`;
      if (options.cookie) headers.cookie = options.cookie;
      let body: string | Uint8Array | undefined;
      if (options.json !== undefined) {
        headers['content-type'] = 'application/json';
        body = JSON.stringify(options.json);
      } else if (options.body !== undefined) {
        headers['content-type'] = options.type ?? 'message/rfc822';
        body = options.body;
      }
      const response = await fetch(url + path, { method, headers, body, signal: AbortSignal.timeout(CALL_TIMEOUT_MS) });
      const text = await response.text();
      let parsed: unknown = undefined;
      try {
        parsed = JSON.parse(text);
      } catch {
        // Prometheus text or HTML
      }
      return { status: response.status, body: parsed, headers: response.headers, text };
    },
  };
}


const corpusDir = join(repoRoot, 'node_modules', '@stdlib', 'datasets-spam-assassin', 'data');
/** A few raw messages of the SpamAssassin corpus (the mbox "From " line removed). */
export function corpusMessages(group: string, count: number): Buffer[] {
  const dir = join(corpusDir, group);
  return readdirSync(dir)
    .filter((name) => name.endsWith('.txt'))
    .sort()
    .slice(0, count)
    .map((name) => {
      const raw = readFileSync(join(dir, name));
      return raw.subarray(raw.indexOf(0x0a) + 1);
    });
}
