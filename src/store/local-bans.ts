// What this process banned and lifted, beside what the store holds (both stores use it): a ban is
// shown by active() while it is being stored, so the daemon's own ban (a spamtrap hit) applies to
// the client's very next request; the bans and lifts made here reach the in-memory matcher at once
// (takeBans, takeLifts); `changes` moves with each, for Versioned.localChanges.
import { mergeBan } from './sqlite/rows.js';
import type { Ban } from './types.js';

export class LocalBans {
  /** Moves with every ban or lift of this process (Versioned.localChanges). */
  changes = 0;
  /** Bans being stored, not yet confirmed, by network. */
  private readonly pending = new Map<string, Ban>();
  /** Bans made and networks lifted by this process since they were last taken. */
  private madeHere: Ban[] = [];
  private liftedHere: string[] = [];

  /** Runs `store` for the ban `next` (its network canonical), showing the ban meanwhile. */
  async banning<R>(next: Ban, store: () => Promise<R>): Promise<R> {
    const shown = mergeBan(this.pending.get(next.network), next);
    this.pending.set(next.network, shown);
    this.madeHere.push(shown);
    this.changes++;
    try {
      return await store();
    } finally {
      if (this.pending.get(next.network) === shown) this.pending.delete(next.network);
      this.changes++;
    }
  }

  /** Runs `lift` for a (canonical) network, whose ban being stored is no longer shown. */
  async lifting<R>(network: string, lift: () => Promise<R>): Promise<R> {
    this.pending.delete(network);
    try {
      return await lift();
    } finally {
      this.liftedHere.push(network);
      this.changes++;
    }
  }

  takeBans(): Ban[] {
    const taken = this.madeHere;
    this.madeHere = [];
    return taken;
  }

  takeLifts(): string[] {
    const taken = this.liftedHere;
    this.liftedHere = [];
    return taken;
  }

  /** The stored bans with those being stored merged in, unexpired at `now` (seconds). */
  withPending(stored: Ban[], now: number): Ban[] {
    const bans = new Map(stored.map((ban) => [ban.network, ban]));
    for (const [network, ban] of this.pending) bans.set(network, mergeBan(bans.get(network), ban));
    return [...bans.values()].filter((ban) => ban.expiresAt === 0 || ban.expiresAt > now);
  }
}
