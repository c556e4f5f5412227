// A real Prometheus (Debian's `prometheus`) scrapes a running daemon's /metrics, as an admin sets it
// up from docs/metrics.md: once with the metrics token (`authorization` in the scrape config), once
// openly on loopback (`http.metrics_open`). The daemon first answers policy requests; the test then
// asks Prometheus's own query API that the target is up and that the decisions it scraped are the
// ones the daemon made. Prometheus runs on a free loopback port with a throw-away data directory and
// is stopped by PID.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { existsSync } from 'node:fs';
import { startRempart } from './helpers/daemon.js';
import { onAbnormalExit } from './helpers/postfix.js';
import { cleanupsOf } from './helpers/cleanups.js';
import { eventually } from './helpers/eventually.js';
import { freePort, waitForPort } from './helpers/ports.js';
import { PolicyClient } from './helpers/policy-client.js';

const PROMETHEUS = '/usr/bin/prometheus';
const METRICS_TOKEN = 'prometheus-scrapes-me';
const PASSWORD = 'admin password';
const DECISIONS = 6; // policy requests answered before the scrape
const SCRAPE_DEADLINE_MS = 30_000; // Prometheus scrapes every 1 s; allow for a slow start

interface PrometheusAnswer {
  status: string;
  data: { result: Array<{ metric: Record<string, string>; value: [number, string] }> };
}

/** Starts Prometheus scraping `target` (host:port) every second, with `scrapeAuth` YAML lines added to the job. */
async function startPrometheus(target: string, scrapeAuth: string): Promise<{ url: string; stop(): Promise<void> }> {
  const dir = mkdtempSync(join(tmpdir(), 'rempart-prometheus-'));
  const port = await freePort();
  writeFileSync(
    join(dir, 'prometheus.yml'),
    [
      'global: { scrape_interval: 1s, evaluation_interval: 1s }',
      'scrape_configs:',
      '  - job_name: rempart',
      '    scrape_timeout: 1s',
      `    static_configs: [{ targets: ["${target}"] }]`,
      ...scrapeAuth.split('\n').filter((line) => line !== '').map((line) => `    ${line}`),
      '',
    ].join('\n'),
  );
  const child: ChildProcess = spawn(
    PROMETHEUS,
    [`--config.file=${join(dir, 'prometheus.yml')}`, `--storage.tsdb.path=${join(dir, 'data')}`, `--web.listen-address=127.0.0.1:${port}`, '--log.level=error'],
    { stdio: ['ignore', 'ignore', 'inherit'] },
  );
  let spawnError: Error | undefined;
  child.on('error', (error) => (spawnError = error));
  // Should the test process die (a signal, a whole-file timeout), Prometheus and its files go too.
  const unregister = onAbnormalExit(() => {
    child.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  });
  const stop = async (): Promise<void> => {
    unregister();
    if (child.pid !== undefined && child.exitCode === null && child.signalCode === null) {
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
      await exited;
      clearTimeout(timer);
    }
    rmSync(dir, { recursive: true, force: true });
  };
  const url = `http://127.0.0.1:${port}`;
  try {
    await waitForPort(port, '127.0.0.1', 20_000);
    await waitUntilReady(url);
  } catch (error) {
    await stop();
    throw spawnError ?? error;
  }
  return { url, stop };
}

/** Prometheus answers 503 on its port until its storage is open: waits for /-/ready. */
async function waitUntilReady(url: string): Promise<void> {
  await eventually(async () => (await fetch(`${url}/-/ready`, { signal: AbortSignal.timeout(2_000) })).status === 200, 'Prometheus to be ready', 20_000, 200);
}

async function query(prometheusUrl: string, promql: string): Promise<PrometheusAnswer['data']['result']> {
  const response = await fetch(`${prometheusUrl}/api/v1/query?query=${encodeURIComponent(promql)}`, { signal: AbortSignal.timeout(5_000) });
  const answer = (await response.json()) as PrometheusAnswer;
  assert.equal(answer.status, 'success', JSON.stringify(answer));
  return answer.data.result;
}

/** Asks `promql` until it gives a sample whose value satisfies `accept`, within the deadline. */
async function sampleOf(prometheusUrl: string, promql: string, accept: (value: number) => boolean): Promise<number> {
  return eventually(async () => {
    const [sample] = await query(prometheusUrl, promql);
    const value = sample ? Number(sample.value[1]) : undefined;
    return value !== undefined && accept(value) ? value : undefined;
  }, `Prometheus to answer ${promql} with an accepted value`, SCRAPE_DEADLINE_MS, 500);
}

/** .ci/run installs Debian's prometheus; without it these tests are skipped, saying why. */
const skip = existsSync(PROMETHEUS) ? false : `${PROMETHEUS} is missing (apt-get install prometheus)`;

for (const mode of ['metrics token', 'open on loopback'] as const) {
  test(`a real Prometheus scrapes /metrics (${mode}) and sees the daemon's decisions`, { timeout: 90_000, skip }, async (t) => {
    const cleanups = cleanupsOf(t);
    const policyPort = await freePort();
    const httpPort = await freePort();
    const http = mode === 'metrics token' ? `{ listen: "127.0.0.1:${httpPort}", password: "${PASSWORD}", metrics_token: "${METRICS_TOKEN}" }` : `{ listen: "127.0.0.1:${httpPort}", password: "${PASSWORD}", metrics_open: true }`;
    const daemon = await startRempart({
      configYaml: (dir) =>
        `hostname: mx.example.org\nmy_networks: []\nstore: { path: ${dir}/store }\npolicy: { listen: "127.0.0.1:${policyPort}" }\n` +
        `greylist: { delay: 1h }\nsender: { domain_not_found: off, null_mx: off }\nrdns: { missing: off, unconfirmed: off, dynamic: off }\nhttp: ${http}\n`,
      policyPort,
    });
    cleanups.push(() => daemon.stop());
    const policy = await PolicyClient.connect(policyPort);
    cleanups.push(() => policy.close());
    for (let i = 0; i < DECISIONS; i++) assert.match(await policy.ask({ sender: `s${i}@example.net`, client_address: `198.51.100.${i + 1}` }), /^DEFER_IF_PERMIT/);

    const prometheus = await startPrometheus(`127.0.0.1:${httpPort}`, mode === 'metrics token' ? `authorization: { type: Bearer, credentials: "${METRICS_TOKEN}" }` : '');
    cleanups.push(() => prometheus.stop());

    assert.equal(await sampleOf(prometheus.url, 'up{job="rempart"}', (up) => up === 1), 1, 'the target is up: Prometheus authenticated and parsed the scrape');
    const greylisted = await sampleOf(prometheus.url, 'sum(rempart_decisions_total{action="greylist",protocol="policy"})', (n) => n >= DECISIONS);
    assert.equal(greylisted, DECISIONS, 'every decision made, and no other, is counted');
    const storeUp = await sampleOf(prometheus.url, 'rempart_store_up', () => true);
    assert.equal(storeUp, 1);
    const resident = await query(prometheus.url, 'process_resident_memory_bytes{job="rempart"}');
    assert.ok(resident.length === 1 && Number(resident[0]!.value[1]) > 10e6, `process metrics scraped: ${JSON.stringify(resident)}`);
  });
}

test('Prometheus without the token is refused by the daemon: the target is down, not silently empty', { timeout: 90_000, skip }, async (t) => {
  const cleanups = cleanupsOf(t);
  const policyPort = await freePort();
  const httpPort = await freePort();
  const daemon = await startRempart({
    configYaml: (dir) =>
      `hostname: mx.example.org\nmy_networks: []\nstore: { path: ${dir}/store }\npolicy: { listen: "127.0.0.1:${policyPort}" }\n` +
      `http: { listen: "127.0.0.1:${httpPort}", password: "${PASSWORD}", metrics_token: "${METRICS_TOKEN}" }\n`,
    policyPort,
  });
  cleanups.push(() => daemon.stop());
  const prometheus = await startPrometheus(`127.0.0.1:${httpPort}`, 'authorization: { type: Bearer, credentials: "not the token" }');
  cleanups.push(() => prometheus.stop());
  assert.equal(await sampleOf(prometheus.url, 'up{job="rempart"}', () => true), 0);
  // Down because the daemon refused the token, not for any other reason.
  const targets = (await (await fetch(`${prometheus.url}/api/v1/targets`, { signal: AbortSignal.timeout(5_000) })).json()) as {
    data: { activeTargets: Array<{ health: string; lastError: string }> };
  };
  const [target] = targets.data.activeTargets;
  assert.equal(target?.health, 'down', JSON.stringify(targets));
  assert.match(target.lastError, /401/, target.lastError);
});
