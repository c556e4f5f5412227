// What the store conformance suite runs against: a backend that opens fresh, empty stores, and a
// second store on the same data (another process with SQLite, another host with Redis). Each part
// of the contract (greylist.ts, bans.ts, ...) exports a function registering its tests for one
// backend; conformance.test.ts runs them all against SQLite and against real Redis deployments.
import type { Store } from '../types.js';

export interface StoreUnderTest {
  readonly store: Store;
  /** Another store on the same data, as a second process or host would open it. */
  peer(): Store;
}

export interface Backend {
  /** redis: one server; redis-cluster: a Cluster of three masters; redis-sentinel: a master found through a Sentinel. */
  readonly name: 'sqlite' | 'redis' | 'redis-cluster' | 'redis-sentinel';
  /**
   * Runs `fn` with a fresh empty store (and its peers), closes them all and removes the data
   * afterwards, whatever `fn` does.
   */
  with(fn: (subject: StoreUnderTest) => Promise<void>): Promise<void>;
}

/** A part of the contract: registers its tests (node:test `test`/`describe`) for one backend. */
export type ConformancePart = (backend: Backend) => void;

/** Seconds since the epoch of a fixed, recent time, so tests with expiries are reproducible. */
export const NOW = 1_790_000_000; // s (2026-09)
