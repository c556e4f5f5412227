// The store sizes of a scrape: each read on its own deadline, so one that does not come in time
// (the history's count waiting for a backlog) is left out while the others are given, and an
// unreachable store leaves them all out with rempart_store_up 0; /metrics itself always answers.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Metrics } from './metrics.js';
import { withStore } from '../../test/helpers/sqlite-store.js';
import type { DnsStats } from '../dns/resolver.js';
import type { Store } from '../store/types.js';

const SCRAPE_DEADLINE_MS = 100; // ms: the store timeout of these scrapes

function metricsOf(store: Store): Metrics {
  return new Metrics({
    store,
    dnsStats: (): DnsStats => ({ queries: 0, tcpRetries: 0, cacheHits: 0, dedupedWaits: 0, failures: {}, cacheEntries: 0 }),
    pipelineCounters: () => ({ checkErrors: new Map(), checkTimeouts: new Map() }),
    greylistCounts: () => store.greylist.stats(5),
    storeTimeoutMs: () => SCRAPE_DEADLINE_MS,
  });
}

const sizeLine = (text: string, table: string): string | undefined => text.split('\n').find((line) => line.startsWith(`rempart_store_entries{table="${table}"}`));

test('a store size that misses its deadline is left out of the scrape; the others are given', withStore(async (store) => {
  await store.bans.ban({ network: '192.0.2.7', reason: 'test', source: 'manual', createdAt: 1, expiresAt: 0 });
  const metrics = metricsOf(store);
  const whole = (await metrics.text()).body;
  assert.equal(sizeLine(whole, 'bans'), 'rempart_store_entries{table="bans"} 1');
  assert.equal(sizeLine(whole, 'history'), 'rempart_store_entries{table="history"} 0');

  // The history's count never comes (a backlog): the scrape answers without it.
  store.history.count = () => new Promise<number>(() => {});
  const partial = (await metrics.text()).body;
  assert.equal(sizeLine(partial, 'history'), undefined);
  assert.equal(sizeLine(partial, 'bans'), 'rempart_store_entries{table="bans"} 1');
  assert.match(partial, /^rempart_store_up 1$/m);

  // An unreachable store: no sizes at all, and rempart_store_up 0.
  store.status = () => ({ available: false, since: Date.now(), error: 'connection lost' });
  const down = (await metrics.text()).body;
  assert.equal(sizeLine(down, 'bans'), undefined);
  assert.match(down, /^rempart_store_up 0$/m);
}));
