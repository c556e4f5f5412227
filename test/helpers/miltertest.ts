// Debian's `miltertest` (OpenDKIM's milter test client) as an independent MTA in tests: the Lua
// script goes to a temp file, `miltertest -s FILE` runs under a deadline (killed by its PID past it,
// or if the test process dies), and the exit code and output come back. Scripts call error() on
// any mismatch, so a non-zero exit code is a failed check; the output says which.
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseListen } from '../../src/core/listen.js';
import { onAbnormalExit } from './postfix.js';

export const MILTERTEST = '/usr/bin/miltertest';

/** Why miltertest tests are skipped, or undefined when miltertest is installed. */
export const miltertestMissing: string | undefined = existsSync(MILTERTEST) ? undefined : `${MILTERTEST} not found (apt-get install miltertest)`;

export interface MiltertestResult {
  /** Exit code; null when killed by a signal (the deadline). */
  code: number | null;
  timedOut: boolean;
  /** stdout and stderr, interleaved as they arrived. */
  output: string;
}

/**
 * Our listen address in miltertest's notation: "inet:PORT@HOST" (IPv4 only) or "unix:/path".
 */
export function miltertestAddress(listen: string): string {
  const address = parseListen(listen);
  return address.kind === 'unix' ? `unix:${address.path}` : `inet:${address.port}@${address.host}`;
}

/** Runs a Lua script through miltertest; `timeoutMs` (default 20 s) bounds the whole run. */
export async function runMiltertest(script: string, timeoutMs = 20_000): Promise<MiltertestResult> {
  const dir = await mkdtemp(join(tmpdir(), 'rempart-miltertest-'));
  const scriptPath = join(dir, 'test.lua');
  try {
    await writeFile(scriptPath, script);
    const child = spawn(MILTERTEST, ['-s', scriptPath], { stdio: ['ignore', 'pipe', 'pipe'] });
    const kill = () => {
      if (child.pid !== undefined && child.exitCode === null && child.signalCode === null) process.kill(child.pid, 'SIGKILL');
    };
    const unregister = onAbnormalExit(kill);
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      kill();
    }, timeoutMs);
    const code = await new Promise<number | null>((resolve, reject) => {
      child.once('error', reject);
      child.once('close', (exitCode) => resolve(exitCode));
    }).finally(() => {
      clearTimeout(timer);
      unregister();
    });
    return { code, timedOut, output };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
