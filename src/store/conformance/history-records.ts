// Decision records for the history tests (the conformance part and the SQLite store's own tests):
// a record factory, deterministic random records and filters, and the plain computations (query
// results, statistics) the stores are checked against.
import assert from 'node:assert/strict';
import { ACTIONS } from '../history-rules.js';
import type { ResultRecord } from '../../core/result.js';
import type { HistoryFilter, StatsQuery, StatsReport, Store } from '../types.js';

export const T0 = 1_800_000_000_000; // ms since the epoch, on an hour boundary
export const MINUTE = 60_000; // ms
export const HOUR = 3_600_000; // ms
export const DAY = 86_400_000; // ms

export const record = (time: number, overrides: Partial<ResultRecord> = {}): ResultRecord => ({
  time, node: 'mx1', protocol: 'policy', stage: 'rcpt', clientAddress: '192.0.2.1', clientName: 'unknown', helo: 'h',
  sender: 's@example.net', recipients: ['r@example.org'], queueId: '', messageId: '', instance: 'i', action: 'accept',
  decidedBy: '', reason: '', reply: '', headers: [], score: 0, symbols: [], facts: {}, errors: [], durationMs: 0.1, ...overrides,
});
export const hit = (name: string) => ({ name, score: 1, description: `${name} fired` });

/** A small deterministic random source (mulberry32). */
export function randomSource(seed: number): (n: number) => number {
  let a = seed;
  return (n) => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return Math.floor((((t ^ (t >>> 14)) >>> 0) / 4294967296) * n);
  };
}

export const CLIENTS = ['192.0.2.1', '192.0.2.2', '198.51.100.7', '2001:db8::1'];
export const SENDERS = ['', 'a@x.example', 'b@x.example', 'bounce@y.example'];
export const RECIPIENTS = ['bob@example.org', 'ann@example.org', 'postmaster@example.org'];
export const SYMBOLS = ['DNSBL', 'HELO_NOT_FQDN', 'BAYES_SPAM', 'NO_PTR'];
export const NODES = ['mx1', 'mx2'];

/**
 * `n` records about a minute apart from T0, their times up to 3 minutes off that order (ids follow
 * the order of writing, not of time), a few written hours late, with random attributes; `reason`
 * numbers them.
 */
export function randomRecords(n: number, seed = 1): ResultRecord[] {
  const random = randomSource(seed);
  const pick = <T>(values: readonly T[]): T => values[random(values.length)]!;
  return Array.from({ length: n }, (_, i) => {
    const late = random(40) === 0 ? 5 * HOUR : 0;
    return record(T0 + i * MINUTE + random(6 * MINUTE) - 3 * MINUTE - late, {
      reason: `r${i}`,
      clientAddress: pick(CLIENTS),
      sender: pick(SENDERS),
      recipients: Array.from(new Set([pick(RECIPIENTS), pick(RECIPIENTS)])).slice(0, 1 + random(2)),
      action: pick(ACTIONS),
      protocol: random(4) === 0 ? 'milter' : 'policy',
      node: random(5) === 0 ? 'mx2' : 'mx1',
      symbols: Array.from(new Set(Array.from({ length: random(3) }, () => pick(SYMBOLS)))).map(hit),
    });
  });
}

/** Adds the records one by one (add() is synchronous) and writes them. */
export async function addAll(store: Store, records: ResultRecord[]): Promise<void> {
  for (const r of records) store.history.add(r);
  await store.history.flush();
}

/**
 * The ids the store gave `records` (all it holds, written in this order): increasing in writing
 * order, each record stored in full.
 */
export async function idsOf(store: Store, records: ResultRecord[]): Promise<number[]> {
  const stored = (await store.history.query({ limit: records.length + 1 })).reverse();
  assert.equal(stored.length, records.length);
  const ids = stored.map((r) => r.id!);
  ids.forEach((id, i) => {
    assert.ok(Number.isSafeInteger(id) && id > 0, `id ${id}`);
    if (i > 0) assert.ok(id > ids[i - 1]!, 'ids increase in writing order');
    assert.deepEqual(stored[i], { ...records[i]!, id });
  });
  return ids;
}

/** What query(filter) must return, found by going through every record. */
export function expectedQuery(records: ResultRecord[], ids: number[], filter: HistoryFilter): number[] {
  const same = (a: string, b: string) => a.toLowerCase() === b.toLowerCase();
  const found: number[] = [];
  records.forEach((r, i) => {
    const id = ids[i]!;
    if (filter.beforeId !== undefined && id >= filter.beforeId) return;
    if (filter.afterId !== undefined && id <= filter.afterId) return;
    if (filter.since !== undefined && r.time < filter.since) return;
    if (filter.until !== undefined && r.time >= filter.until) return;
    if (filter.client !== undefined && !same(r.clientAddress, filter.client)) return;
    if (filter.sender !== undefined && !same(r.sender, filter.sender)) return;
    if (filter.recipient !== undefined && !r.recipients.some((x) => same(x, filter.recipient!))) return;
    if (filter.action !== undefined && r.action !== filter.action) return;
    if (filter.symbol !== undefined && !r.symbols.some((s) => s.name === filter.symbol)) return;
    if (filter.node !== undefined && r.node !== filter.node) return;
    found.push(id);
  });
  return found.reverse().slice(0, filter.limit ?? 100);
}

/** A random filter over the values of randomRecords (some in other letter case, some matching nothing). */
export function randomFilter(random: (n: number) => number, ids: number[]): HistoryFilter {
  const maybe = <T>(values: readonly T[]): T | undefined => (random(3) === 0 ? values[random(values.length)] : undefined);
  const filter: HistoryFilter = {
    client: maybe([...CLIENTS, '2001:DB8::1', '203.0.113.1']),
    sender: maybe([...SENDERS, 'A@X.EXAMPLE', 'x.example']),
    recipient: maybe([...RECIPIENTS, 'BOB@example.org', 'example.org', 'ob@example.org']),
    action: maybe(ACTIONS),
    symbol: maybe([...SYMBOLS, 'dnsbl', 'DNS']),
    node: maybe([...NODES, 'mx3']),
    limit: random(2) === 0 ? undefined : 1 + random(30),
  };
  const minutes = ids.length + 20;
  if (random(3) === 0) filter.since = T0 + random(minutes) * MINUTE + random(MINUTE);
  if (random(3) === 0) filter.until = T0 + random(minutes) * MINUTE + random(MINUTE);
  if (random(4) === 0) filter.beforeId = ids[random(ids.length)]! + random(2);
  if (random(6) === 0) filter.afterId = ids[random(ids.length)]! - random(2);
  for (const key of Object.keys(filter) as (keyof HistoryFilter)[]) if (filter[key] === undefined) delete filter[key];
  return filter;
}

/** What stats() must return for `records` (minute resolution for the counts, exact window for the rejected). */
export function expectedStats(records: ResultRecord[], query: StatsQuery): StatsReport {
  const { since, until, bucketSeconds } = query;
  const top = query.top ?? 10;
  const bucketMs = bucketSeconds * 1000;
  const first = Math.floor(since / bucketMs);
  const end = until > since ? Math.ceil(until / bucketMs) : first;
  const zero = () => Object.fromEntries(ACTIONS.map((a) => [a, 0]));
  const report: StatsReport = {
    since, until, bucketSeconds, actions: zero(), protocols: {}, symbols: [], topRejectedClients: [], topRejectedSenders: [],
    series: Array.from({ length: end - first }, (_, i) => ({ time: (first + i) * bucketMs, counts: zero() })),
  };
  const symbols = new Map<string, number>();
  const clients = new Map<string, number>();
  const senders = new Map<string, number>();
  const add = (map: Map<string, number>, key: string) => map.set(key, (map.get(key) ?? 0) + 1);
  const [fromMinute, toMinute] = [Math.floor(since / MINUTE), Math.ceil(until / MINUTE)];
  for (const r of records) {
    const minute = Math.floor(r.time / MINUTE);
    if (minute >= fromMinute && minute < toMinute && until > since) {
      report.actions[r.action]!++;
      report.protocols[r.protocol] = (report.protocols[r.protocol] ?? 0) + 1;
      report.series[Math.floor(r.time / bucketMs) - first]!.counts[r.action]!++;
      for (const name of new Set(r.symbols.map((s) => s.name))) add(symbols, name);
    }
    if (r.action === 'reject' && r.time >= since && r.time < until) (add(clients, r.clientAddress), add(senders, r.sender || '<>'));
  }
  const best = (map: Map<string, number>) =>
    [...map].map(([value, count]) => ({ value, count })).sort((a, b) => b.count - a.count || (a.value < b.value ? -1 : 1)).slice(0, top);
  return { ...report, symbols: best(symbols), topRejectedClients: best(clients), topRejectedSenders: best(senders) };
}
