// Test harness for the rempart daemon as a child process: writes the YAML config to a temp file,
// runs `node dist/src/cli/main.js serve --config FILE`, collects its output lines, waits until the
// policy port accepts connections, and stops it with SIGTERM (SIGKILL after 10 s).
// Usage:  const rempart = await startRempart({ configYaml, policyPort });  t.after(() => rempart.stop());
import { spawn, type ChildProcess } from 'node:child_process';
import { rmSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { constants, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { freePort, waitForPort } from './ports.js';
import { onAbnormalExit } from './postfix.js';
import { rempartCli, repoRoot } from './paths.js';

export interface RempartOptions {
  /**
   * The whole configuration file, YAML; or a function of the helper's temp dir (removed by stop()),
   * e.g. to put the store there: (dir) => `store: { path: "${dir}/store" }\n...`.
   */
  configYaml: string | ((dir: string) => string);
  /** TCP port to wait for; default: the port of `policy.listen` in configYaml, when it is host:port. */
  policyPort?: number;
  /** Host of that port (default 127.0.0.1, or the host of `policy.listen`). */
  policyHost?: string;
  /** How long start-up may take (default 20 s). */
  startTimeoutMs?: number;
  /** Extra environment variables for the daemon. */
  env?: Record<string, string>;
}

export interface RempartInstance {
  pid: number;
  /** Temp directory holding the config file (removed by stop()). */
  dir: string;
  /** The HTTP API's base URL (`http://127.0.0.1:PORT`), when `http.listen` is a TCP address. */
  httpUrl: string | undefined;
  configPath: string;
  /** Every stdout and stderr line so far, in arrival order. */
  logs(): string[];
  /** Resolves with the first line (past or future) matching `pattern`; throws on timeout or exit. */
  waitForLog(pattern: RegExp, timeoutMs?: number): Promise<string>;
  /** Exit code once the process has ended, else undefined. */
  exitCode(): number | undefined;
  /** SIGTERM, wait (SIGKILL after 10 s), remove the temp dir; returns the exit code (128+N for signal N). */
  stop(): Promise<number>;
}

function codeOf(child: ChildProcess): number | undefined {
  if (child.exitCode !== null) return child.exitCode;
  if (child.signalCode !== null) return 128 + (constants.signals[child.signalCode] ?? 0);
  return undefined;
}

/** The port (and host) of `policy.listen` (or `http.listen`) in a config, when it is a TCP address. */
function listenAddressOf(configYaml: string, section: 'policy' | 'http'): { host: string; port: number } | undefined {
  const config = parseYaml(configYaml) as Record<string, { listen?: unknown } | undefined> | null;
  const listen = config?.[section]?.listen;
  if (typeof listen !== 'string') return undefined;
  const match = /^\[?([^\]]*?)\]?:(\d+)$/.exec(listen);
  if (!match || listen.startsWith('unix:')) return undefined;
  return { host: match[1]!, port: Number(match[2]) };
}

export async function startRempart(options: RempartOptions): Promise<RempartInstance> {
  const dir = await mkdtemp(join(tmpdir(), 'rempart-daemon-'));
  const configPath = join(dir, 'rempart.yaml');
  let port: number | undefined;
  let host: string;
  let httpAddress: { host: string; port: number } | undefined;
  try {
    const givenYaml = typeof options.configYaml === 'function' ? options.configYaml(dir) : options.configYaml;
    // The milter runs by default on a fixed port: every daemon of the tests gets a free one of its
    // own unless its configuration has a milter section.
    // The same for the HTTP API.
    let configYaml = /^milter:/m.test(givenYaml) ? givenYaml : `${givenYaml.replace(/\n?$/, '\n')}milter: { listen: "127.0.0.1:${await freePort()}" }\n`;
    if (!/^http:/m.test(configYaml)) configYaml += `http: { listen: "127.0.0.1:${await freePort()}" }\n`;
    const address = listenAddressOf(configYaml, 'policy');
    httpAddress = listenAddressOf(configYaml, 'http');
    port = options.policyPort ?? address?.port;
    host = options.policyHost ?? address?.host ?? '127.0.0.1';
    if (port === undefined) throw new Error('startRempart: give policyPort, or a policy.listen host:port in the config');
    await writeFile(configPath, configYaml);
  } catch (error) {
    await rm(dir, { recursive: true, force: true });
    throw error;
  }

  const child = spawn(process.execPath, ['--enable-source-maps', rempartCli, 'serve', '--config', configPath], {
    cwd: repoRoot,
    env: { ...process.env, ...options.env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });

  const lines: string[] = [];
  const listeners = new Set<() => void>();
  const notify = () => {
    for (const listener of [...listeners]) listener();
  };
  const splitter = () => {
    let partial = '';
    return {
      data: (chunk: string) => {
        partial += chunk;
        const parts = partial.split('\n');
        partial = parts.pop()!;
        for (const line of parts) lines.push(line.replace(/\r$/, ''));
        if (parts.length > 0) notify();
      },
      end: () => {
        if (partial !== '') lines.push(partial);
        partial = '';
        notify();
      },
    };
  };
  const out = splitter();
  const err = splitter();
  child.stdout!.setEncoding('utf8').on('data', out.data).on('end', out.end);
  child.stderr!.setEncoding('utf8').on('data', err.data).on('end', err.end);

  // 'close' comes after both output streams ended: every line is in by then.
  let closed = false;
  const closedPromise = new Promise<void>((resolve) => {
    child.once('close', () => {
      closed = true;
      notify();
      resolve();
    });
    child.once('error', (error) => {
      lines.push(`[spawn error] ${error.message}`);
      closed = true;
      notify();
      resolve();
    });
  });

  // Last resort if the test process ends without stop() (SIGKILL: no time to wait for a drain).
  const unregisterCleanup = onAbnormalExit(() => {
    if (codeOf(child) === undefined) child.kill('SIGKILL');
    try {
      rmSync(dir, { recursive: true, force: true });
    } catch {
      // at exit nothing more can be done
    }
  });

  const output = () => lines.join('\n');

  const waitForLog = (pattern: RegExp, timeoutMs = 10_000): Promise<string> =>
    new Promise((resolve, reject) => {
      const check = (): boolean => {
        const found = lines.find((line) => pattern.test(line));
        if (found !== undefined) {
          done();
          resolve(found);
          return true;
        }
        if (closed) {
          done();
          reject(new Error(`rempart exited (code ${codeOf(child)}) before logging ${pattern}:\n${output()}`));
          return true;
        }
        return false;
      };
      const timer = setTimeout(() => {
        done();
        reject(new Error(`rempart did not log ${pattern} within ${timeoutMs} ms:\n${output()}`));
      }, timeoutMs);
      const done = () => {
        clearTimeout(timer);
        listeners.delete(check);
      };
      if (!check()) listeners.add(check);
    });

  let stopping: Promise<number> | undefined;
  const stop = (): Promise<number> => {
    stopping ??= (async () => {
      if (!closed) {
        child.kill('SIGTERM');
        const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
        await closedPromise;
        clearTimeout(timer);
      }
      unregisterCleanup();
      await rm(dir, { recursive: true, force: true });
      return codeOf(child) ?? -1;
    })();
    return stopping;
  };

  try {
    // One connection attempt at a time (waitForPort with no grace), so that nothing keeps
    // polling once the daemon has died.
    const deadline = Date.now() + (options.startTimeoutMs ?? 20_000);
    for (;;) {
      if (closed) throw new Error(`rempart exited during start-up (code ${codeOf(child)}):\n${output()}`);
      const up = await waitForPort(port, host, 0).then(
        () => true,
        () => false,
      );
      if (up && httpAddress) {
        // The API starts just after the mail servers: wait for it too.
        await waitForPort(httpAddress.port, httpAddress.host, 5_000);
      }
      if (up) break;
      if (Date.now() > deadline) {
        throw new Error(`rempart does not listen on ${host}:${port} after ${options.startTimeoutMs ?? 20_000} ms:\n${output()}`);
      }
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  } catch (error) {
    await stop();
    throw error;
  }

  return {
    pid: child.pid!,
    dir,
    httpUrl: httpAddress ? `http://${httpAddress.host.includes(':') ? `[${httpAddress.host}]` : httpAddress.host}:${httpAddress.port}` : undefined,
    configPath,
    logs: () => [...lines],
    waitForLog,
    exitCode: () => codeOf(child),
    stop,
  };
}
