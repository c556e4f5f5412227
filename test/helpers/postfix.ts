// Test harness for a real, throw-away Postfix: its own main.cf/master.cf, queue and log in a temp
// directory, smtpd on a free loopback port, smtp-sink as the next hop (one file per delivered
// message), swaks as the SMTP client. Follows /work/shared/reference/postfix-in-tests.md.
// Usage:  const pf = await startPostfix({ policyPort });  t.after(() => pf.stop());
import { spawn, type ChildProcess } from 'node:child_process';
import { accessSync, constants, readFileSync, rmSync } from 'node:fs';
import { chmod, mkdir, mkdtemp, readFile, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { freePort, waitForPort } from './ports.js';

export interface PostfixOptions {
  /** Port of a policy server on 127.0.0.1: adds `check_policy_service` to smtpd_recipient_restrictions. */
  policyPort?: number;
  /** Port of a milter on 127.0.0.1: sets smtpd_milters (protocol 6, default action tempfail). */
  milterPort?: number;
  /** Lines appended to main.cf; a parameter set here overrides the harness's own setting. */
  extraMainCf?: string;
  /** Throw away accepted mail (discard transport) instead of relaying it to smtp-sink. */
  discard?: boolean;
  /** Deadline for one swaks run, in ms (default 30 s); swaks is killed past it. */
  swaksTimeoutMs?: number;
}

export interface SwaksResult {
  code: number;
  stdout: string;
  stderr: string;
}

export interface PostfixInstance {
  /** Loopback port Postfix's smtpd listens on. */
  smtpdPort: number;
  /** Loopback port smtp-sink (the next hop) listens on. */
  sinkPort: number;
  /** The instance's temp directory (etc/, spool/, data/, sink/, maillog). */
  dir: string;
  /** Where smtp-sink writes one file per received message. */
  sinkDir: string;
  /** The generated main.cf, for failure messages. */
  mainCf: string;
  /** Runs swaks against this Postfix (`--server` is added unless given); kills it past the deadline. */
  swaks(args: string[]): Promise<SwaksResult>;
  /** Contents of the messages smtp-sink received, oldest first (only complete files). */
  deliveredMessages(): Promise<string[]>;
  /** Waits until at least `count` messages were delivered to the sink; returns them. */
  waitForDelivery(count: number, timeoutMs?: number): Promise<string[]>;
  /** Postfix's log so far ('' before the first line). */
  maillog(): Promise<string>;
  /** Stops Postfix and smtp-sink, waits for them, removes the temp dir. Safe to call twice. */
  stop(): Promise<void>;
}

const BINARIES = ['postfix', 'swaks', 'smtp-sink', 'script'] as const;

/** Finds an executable on $PATH or in /usr/sbin, /sbin (where Debian puts postfix, smtp-sink). */
export function findBinary(name: string): string | undefined {
  const dirs = [...(process.env.PATH ?? '').split(delimiter), '/usr/sbin', '/sbin', '/usr/bin'];
  for (const dir of dirs) {
    if (!dir) continue;
    const candidate = join(dir, name);
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // not here
    }
  }
  return undefined;
}

/** Why a real-Postfix test cannot run here (missing binaries), or undefined when it can. */
export function postfixUnavailable(): string | undefined {
  const missing = BINARIES.filter((b) => findBinary(b) === undefined);
  if (missing.length === 0) return undefined;
  return `${missing.join(', ')} not installed (Debian packages postfix, swaks, bsdutils; .ci/run installs them)`;
}

function bin(name: (typeof BINARIES)[number]): string {
  const found = findBinary(name);
  if (!found) throw new Error(`${name} not found on PATH or in /usr/sbin`);
  return found;
}

function shellQuote(text: string): string {
  return `'${text.replace(/'/g, `'\\''`)}'`;
}

/** Runs `command` under `script -qec` (Postfix prints start-up errors only to a terminal). */
function runWithTerminal(command: string, timeoutMs = 30_000): Promise<{ code: number; output: string }> {
  return new Promise((resolve) => {
    const child = spawn(bin('script'), ['-qec', command, '/dev/null'], {
      stdio: ['ignore', 'pipe', 'pipe'],
      timeout: timeoutMs,
      killSignal: 'SIGKILL',
    });
    const output = collect(child);
    const clean = () => output().replace(/\r/g, '');
    child.once('error', (error) => resolve({ code: -1, output: `${clean()}\n${error.message}` }));
    child.once('close', (code, signal) =>
      resolve({ code: code ?? -1, output: signal ? `${clean()}\n(killed by ${signal} after ${timeoutMs} ms)` : clean() }),
    );
  });
}

const FATAL_SIGNALS = ['SIGTERM', 'SIGINT', 'SIGHUP'] as const;

/**
 * Runs `cleanup` (synchronous) if the test process exits without stop(), or is ended by a signal
 * (e.g. the test runner being interrupted); after a signal the signal is raised again when no
 * other handler is left, so the process still dies. Returns the function that unregisters it.
 */
export function onAbnormalExit(cleanup: () => void): () => void {
  const onExit = () => cleanup();
  const onSignal = (signal: NodeJS.Signals) => {
    unregister();
    cleanup();
    if (process.listenerCount(signal) === 0) process.kill(process.pid, signal);
  };
  const unregister = () => {
    process.removeListener('exit', onExit);
    for (const signal of FATAL_SIGNALS) process.removeListener(signal, onSignal);
  };
  process.once('exit', onExit);
  for (const signal of FATAL_SIGNALS) process.on(signal, onSignal);
  return unregister;
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function tryKill(pid: number | undefined, signal: NodeJS.Signals): void {
  if (pid === undefined) return;
  try {
    process.kill(pid, signal);
  } catch {
    // already gone
  }
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** Waits until no process (zombies included) is left in process group `pgid`; false on timeout. */
async function waitForGroupGone(pgid: number, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      process.kill(-pgid, 0);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ESRCH') return true;
    }
    if (Date.now() > deadline) return false;
    await sleep(50);
  }
}

/** Resolves when the child has exited (at once if it already has); false on timeout. */
function waitForExit(child: ChildProcess, timeoutMs: number): Promise<boolean> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve(true);
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve(false), timeoutMs);
    child.once('exit', () => {
      clearTimeout(timer);
      resolve(true);
    });
  });
}

async function waitForPidGone(pid: number, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (isAlive(pid)) {
    if (Date.now() > deadline) return false;
    await sleep(50);
  }
  return true;
}

function collect(child: ChildProcess): () => string {
  const chunks: string[] = [];
  child.stdout?.setEncoding('utf8').on('data', (d: string) => chunks.push(d));
  child.stderr?.setEncoding('utf8').on('data', (d: string) => chunks.push(d));
  return () => chunks.join('');
}

function buildMainCf(dir: string, sinkPort: number, options: PostfixOptions): string {
  const transport = options.discard ? 'discard:test' : `smtp:[127.0.0.1]:${sinkPort}`;
  const lines = [
    '# generated by test/helpers/postfix.ts',
    'compatibility_level = 3.6',
    `queue_directory = ${dir}/spool`,
    `data_directory = ${dir}/data`,
    'myhostname = pfx-test.localdomain',
    'mydomain = localdomain',
    'myorigin = $myhostname',
    'inet_interfaces = 127.0.0.1',
    'inet_protocols = ipv4',
    'mynetworks = 127.0.0.0/8',
    'mydestination =',
    'local_recipient_maps =',
    'alias_maps =',
    'alias_database =',
    'relay_domains = example.com',
    `relay_transport = ${transport}`,
    `default_transport = ${transport}`,
    'smtp_dns_support_level = disabled',
    'biff = no',
    `maillog_file = ${dir}/maillog`,
    `maillog_file_prefixes = ${dir}`,
    'smtpd_relay_restrictions = permit_mynetworks, reject_unauth_destination',
    options.policyPort !== undefined
      ? `smtpd_recipient_restrictions = check_policy_service inet:127.0.0.1:${options.policyPort}`
      : 'smtpd_recipient_restrictions =',
    'smtpd_policy_service_timeout = 10s',
    // deliver at once; retry soon if the sink was not reachable
    'queue_run_delay = 1s',
    'minimal_backoff_time = 1s',
    'maximal_backoff_time = 2s',
    'delay_warning_time = 0',
  ];
  if (options.milterPort !== undefined) {
    lines.push(
      `smtpd_milters = inet:127.0.0.1:${options.milterPort}`,
      'milter_default_action = tempfail',
      'milter_protocol = 6',
    );
  }
  let base = lines;
  if (options.extraMainCf) {
    // Drop our own setting of every parameter extraMainCf sets (Postfix would warn about each).
    const overridden = new Set(
      [...options.extraMainCf.matchAll(/^\s*([A-Za-z0-9_]+)\s*=/gm)].map((m) => m[1]!),
    );
    base = lines.filter((line) => !overridden.has(/^([A-Za-z0-9_]+)\s*=/.exec(line)?.[1] ?? ''));
    base.push('# extraMainCf', options.extraMainCf.trim());
  }
  return base.join('\n') + '\n';
}

function buildMasterCf(smtpdPort: number): string {
  return `# generated by test/helpers/postfix.ts: chroot off, smtpd on one loopback port
127.0.0.1:${smtpdPort} inet n - n - - smtpd
pickup    unix  n  -  n  60  1  pickup
cleanup   unix  n  -  n  -   0  cleanup
qmgr      unix  n  -  n  300 1  qmgr
rewrite   unix  -  -  n  -   -  trivial-rewrite
bounce    unix  -  -  n  -   0  bounce
defer     unix  -  -  n  -   0  bounce
trace     unix  -  -  n  -   0  bounce
verify    unix  -  -  n  -   1  verify
flush     unix  n  -  n  1000? 0 flush
proxymap  unix  -  -  n  -   -  proxymap
proxywrite unix -  -  n  -   1  proxymap
smtp      unix  -  -  n  -   -  smtp
relay     unix  -  -  n  -   -  smtp
showq     unix  n  -  n  -   -  showq
error     unix  -  -  n  -   -  error
retry     unix  -  -  n  -   -  error
discard   unix  -  -  n  -   -  discard
anvil     unix  -  -  n  -   1  anvil
scache    unix  -  -  n  -   1  scache
postlog   unix-dgram n - n - 1  postlogd
`;
}

/** Starts a throw-away Postfix plus smtp-sink. On failure everything started is stopped again. */
export async function startPostfix(options: PostfixOptions = {}): Promise<PostfixInstance> {
  const unavailable = postfixUnavailable();
  if (unavailable) throw new Error(`cannot start Postfix: ${unavailable}`);
  if (process.getuid?.() !== 0) throw new Error('cannot start Postfix: a throw-away Postfix needs root');

  const dir = await mkdtemp(join(tmpdir(), 'rpf-'));
  await chmod(dir, 0o755); // smtp-sink runs as nobody and must reach sink/
  const etcDir = join(dir, 'etc');
  const sinkDir = join(dir, 'sink');
  const maillogPath = join(dir, 'maillog');
  const swaksTimeoutMs = options.swaksTimeoutMs ?? 30_000;

  let master: ChildProcess | undefined;
  let masterOutput: () => string = () => '';
  let sink: ChildProcess | undefined;
  let sinkOutput: () => string = () => '';
  let masterGroup: number | undefined; // master's pid = its process group (it calls setsid)
  const swaksChildren = new Set<ChildProcess>();

  const masterPidFromFile = (): number | undefined => {
    try {
      const text = readFileSync(join(dir, 'spool', 'pid', 'master.pid'), 'utf8');
      const pid = Number.parseInt(text.trim(), 10);
      return Number.isFinite(pid) && pid > 0 ? pid : undefined;
    } catch {
      return undefined;
    }
  };

  // Last resort if the test process ends without stop(): kill synchronously, remove the dir.
  const unregisterCleanup = onAbnormalExit(() => {
    for (const child of swaksChildren) tryKill(child.pid, 'SIGKILL');
    tryKill(masterPidFromFile() ?? masterGroup, 'SIGTERM');
    tryKill(master?.pid, 'SIGTERM');
    tryKill(sink?.pid, 'SIGKILL');
    try {
      rmSync(dir, { recursive: true, force: true });
    } catch {
      // nothing more to do at exit
    }
  });

  let stopping: Promise<void> | undefined;
  const stop = (): Promise<void> => {
    stopping ??= (async () => {
      unregisterCleanup();
      const problems: string[] = [];
      for (const child of swaksChildren) tryKill(child.pid, 'SIGKILL');

      if (master && master.exitCode === null && master.signalCode === null) {
        const masterPid = masterPidFromFile() ?? masterGroup;
        const result = await runWithTerminal(`${shellQuote(bin('postfix'))} -c ${shellQuote(etcDir)} stop`, 20_000);
        if (!(await waitForExit(master, 15_000))) {
          problems.push(`postfix stop did not end master (exit ${result.code}): ${result.output.trim()}`);
          tryKill(masterPid, 'SIGKILL');
          tryKill(master.pid, 'SIGKILL');
          await waitForExit(master, 5_000);
        }
        if (masterPid !== undefined && !(await waitForPidGone(masterPid, 5_000))) {
          tryKill(masterPid, 'SIGKILL');
          problems.push(`master pid ${masterPid} outlived its parent`);
        }
      }
      // master is its own process-group leader; its daemons (smtpd, qmgr, ...) leave when it does.
      // Wait until the whole group is gone (reaped), killing stragglers after a few seconds.
      if (masterGroup !== undefined && !(await waitForGroupGone(masterGroup, 5_000))) {
        tryKill(-masterGroup, 'SIGKILL');
        if (!(await waitForGroupGone(masterGroup, 5_000))) problems.push(`Postfix processes of group ${masterGroup} still present`);
      }
      if (sink && sink.exitCode === null && sink.signalCode === null) {
        tryKill(sink.pid, 'SIGTERM');
        if (!(await waitForExit(sink, 5_000))) {
          tryKill(sink.pid, 'SIGKILL');
          await waitForExit(sink, 5_000);
        }
      }
      await rm(dir, { recursive: true, force: true, maxRetries: 5, retryDelay: 100 });
      if (problems.length > 0) throw new Error(`stopping Postfix: ${problems.join('; ')}`);
    })();
    return stopping;
  };

  try {
    await mkdir(etcDir, { mode: 0o755 });
    await mkdir(join(dir, 'spool'), { mode: 0o755 });
    await mkdir(sinkDir, { mode: 0o777 });
    await chmod(sinkDir, 0o777); // written by smtp-sink as nobody
    const [smtpdPort, sinkPort] = await distinctFreePorts(2, [options.policyPort, options.milterPort]);
    const mainCf = buildMainCf(dir, sinkPort!, options);
    await writeFile(join(etcDir, 'main.cf'), mainCf);
    await writeFile(join(etcDir, 'master.cf'), buildMasterCf(smtpdPort!));

    const check = await runWithTerminal(`${shellQuote(bin('postfix'))} -c ${shellQuote(etcDir)} check`);
    if (check.code !== 0) throw new Error(`postfix check failed (exit ${check.code}):\n${check.output}`);

    if (!options.discard) {
      sink = spawn(bin('smtp-sink'), ['-u', 'nobody', '-d', `${sinkDir}/%Y%m%d-%H%M%S.`, `127.0.0.1:${sinkPort}`, '100'], {
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      sinkOutput = collect(sink);
      await raceWithExit(sink, () => sinkOutput(), 'smtp-sink', waitForPort(sinkPort!, '127.0.0.1', 10_000));
    }

    master = spawn(bin('postfix'), ['-c', etcDir, 'start-fg'], { stdio: ['ignore', 'pipe', 'pipe'] });
    masterOutput = collect(master);
    const readLog = () => readFile(maillogPath, 'utf8').catch(() => '');
    try {
      await raceWithExit(master, () => masterOutput(), 'postfix start-fg', waitForPort(smtpdPort!, '127.0.0.1', 20_000));
    } catch (error) {
      masterGroup = masterPidFromFile();
      throw new Error(`${(error as Error).message}\n--- maillog ---\n${await readLog()}`);
    }
    masterGroup = masterPidFromFile();
    if (masterGroup === undefined) throw new Error(`Postfix runs but ${dir}/spool/pid/master.pid is unreadable`);

    const swaks = (args: string[]): Promise<SwaksResult> => {
      const fullArgs = args.includes('--server') || args.includes('-s') ? args : ['--server', `127.0.0.1:${smtpdPort}`, ...args];
      return new Promise((resolve, reject) => {
        const child = spawn(bin('swaks'), fullArgs, { stdio: ['ignore', 'pipe', 'pipe'] });
        swaksChildren.add(child);
        let stdout = '';
        let stderr = '';
        child.stdout!.setEncoding('utf8').on('data', (d: string) => (stdout += d));
        child.stderr!.setEncoding('utf8').on('data', (d: string) => (stderr += d));
        let timedOut = false;
        const timer = setTimeout(() => {
          timedOut = true;
          child.kill('SIGKILL');
        }, swaksTimeoutMs);
        child.once('error', (error) => {
          clearTimeout(timer);
          swaksChildren.delete(child);
          reject(error);
        });
        child.once('close', (code, signal) => {
          clearTimeout(timer);
          swaksChildren.delete(child);
          if (timedOut) {
            reject(new Error(`swaks ${fullArgs.join(' ')} killed after ${swaksTimeoutMs} ms\n${stdout}${stderr}`));
          } else {
            resolve({ code: code ?? (signal ? 128 : -1), stdout, stderr });
          }
        });
      });
    };

    const deliveredMessages = async (): Promise<string[]> => {
      // smtp-sink writes a file while the message arrives; Postfix logs status=sent only after
      // the sink's final 250, so trust only as many (oldest) files as there are status=sent lines.
      const sent = ((await readLog()).match(/ status=sent /g) ?? []).length;
      const names = await readdir(sinkDir).catch(() => [] as string[]);
      const files = await Promise.all(
        names.map(async (name) => ({ name, mtime: (await stat(join(sinkDir, name))).mtimeMs })),
      );
      files.sort((a, b) => a.mtime - b.mtime || a.name.localeCompare(b.name));
      const complete = files.slice(0, Math.min(sent, files.length));
      return Promise.all(complete.map((f) => readFile(join(sinkDir, f.name), 'utf8')));
    };

    const waitForDelivery = async (count: number, timeoutMs = 15_000): Promise<string[]> => {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const messages = await deliveredMessages();
        if (messages.length >= count) return messages;
        if (Date.now() > deadline) {
          throw new Error(
            `expected ${count} delivered message(s) in ${sinkDir}, have ${messages.length} after ${timeoutMs} ms\n` +
              `--- maillog ---\n${await readLog()}\n--- smtp-sink ---\n${sinkOutput()}`,
          );
        }
        await sleep(100);
      }
    };

    return {
      smtpdPort: smtpdPort!,
      sinkPort: sinkPort!,
      dir,
      sinkDir,
      mainCf,
      swaks,
      deliveredMessages,
      waitForDelivery,
      maillog: readLog,
      stop,
    };
  } catch (error) {
    await stop().catch(() => {});
    throw error;
  }
}

/** Free ports distinct from each other and from `taken`. */
async function distinctFreePorts(count: number, taken: Array<number | undefined>): Promise<number[]> {
  const ports: number[] = [];
  while (ports.length < count) {
    const port = await freePort();
    if (!ports.includes(port) && !taken.includes(port)) ports.push(port);
  }
  return ports;
}

/** Awaits `ready`, but fails with the child's output if the child exits first. */
async function raceWithExit(child: ChildProcess, output: () => string, name: string, ready: Promise<void>): Promise<void> {
  let onExit: (() => void) | undefined;
  const exited = new Promise<never>((_, reject) => {
    onExit = () => reject(new Error(`${name} exited early (code ${child.exitCode}, signal ${child.signalCode}):\n${output()}`));
    if (child.exitCode !== null || child.signalCode !== null) onExit();
    else child.once('exit', onExit);
  });
  exited.catch(() => {});
  try {
    await Promise.race([ready, exited]);
  } catch (error) {
    if (child.exitCode === null && child.signalCode === null) {
      throw new Error(`${(error as Error).message}\n--- ${name} output ---\n${output()}`);
    }
    throw error;
  } finally {
    if (onExit) child.removeListener('exit', onExit);
  }
}
