// The ban check: a client whose address is banned (by a spamtrap hit, by strikes, or by hand with
// `rempart bans add`) gets `554 5.7.1 Client host [ip] blocked: banned until <time> (<reason>)` at
// every stage (a ban earned by strikes defers with 450 4.7.1 instead). It is meant to run first and costs one in-memory lookup: the bans live in a matcher
// refreshed when the store's ban version moves (read at most once a second, at once after this
// process banned someone). Clients in my_networks are never refused by a ban.
import type { CheckDescriptor, CheckEnvironment, CheckInstance, CheckOutcome } from '../../core/check.js';
import { NetworkList, parseAddress } from '../../core/networks.js';
import type { Envelope } from '../../core/task.js';
import { BanMatcher } from '../../lists/matcher.js';
import { sharedSnapshot, Snapshot } from '../../lists/snapshot.js';
import type { Ban, BanStore } from '../../store/types.js';

const iso = (seconds: number): string => new Date(seconds * 1000).toISOString().replace('.000Z', 'Z');

/** The reply text of a ban, e.g. "Client host [192.0.2.1] blocked: banned until 2026-11-30T12:00:00Z (spamtrap hit)". */
export function banReplyText(clientAddress: string, ban: Ban): string {
  const until = ban.expiresAt === 0 ? 'banned permanently' : `banned until ${iso(ban.expiresAt)}`;
  const reason = ban.reason.replace(/[\r\n\0]+/g, ' ').trim();
  return `Client host [${clientAddress}] blocked: ${until}${reason ? ` (${reason})` : ''}`;
}

/** The process-wide ban matcher of a ban store, refreshed on version change. */
export function banSnapshot(bans: BanStore): Snapshot<BanMatcher> {
  return sharedSnapshot(
    bans,
    'ban-matcher',
    () =>
      new Snapshot(
        bans,
        async (nowMs) => {
          bans.takeLocalBans(); // the reload reads them (confirmed or pending) anyway
          bans.takeLocalLifts();
          return new BanMatcher(await bans.active(Math.floor(nowMs / 1000)));
        },
        undefined,
        // This process's own bans (spamtraps, strikes) are added at once; a full reload waits for
        // the once-a-second version read, so a burst of bans costs no reload each. A ban lifted by
        // this process (the API) cannot be patched in: it reloads at once.
        (matcher) => {
          if (bans.takeLocalLifts().length > 0) return false;
          for (const ban of bans.takeLocalBans()) matcher.add(ban);
          return true;
        },
      ),
  );
}

function createBans(env: CheckEnvironment): CheckInstance {
  const myNetworks = new NetworkList(env.config.my_networks);
  const { clock } = env;

  async function evaluate(envelope: Envelope): Promise<CheckOutcome | undefined> {
    if (envelope.clientAddress === '') return undefined;
    // The store is looked at only here: preparing the check (config check) must not open it.
    const matcher = await banSnapshot(env.store.bans).get(clock.nowMs());
    if (matcher.size === 0) return undefined;
    const nowSeconds = Math.floor(clock.nowMs() / 1000);
    const ban = matcher.match(envelope.clientAddress, nowSeconds);
    if (!ban) return undefined;
    const address = parseAddress(envelope.clientAddress);
    if (address && myNetworks.contains(address)) return { note: `banned ${ban.network} ignored: client in my_networks` };
    return {
      verdict: {
        action: ban.source === 'strikes' ? 'defer' : 'reject',
        reason: `banned ${ban.network} (${ban.source}${ban.reason ? `: ${ban.reason}` : ''})`,
        // A ban earned by strikes is temporary and may hit a legitimate server: it defers, so that
        // server's mail arrives once the ban expires. Spamtrap and manual bans reject.
        reply:
          ban.source === 'strikes'
            ? { code: 450, enhanced: '4.7.1', text: banReplyText(envelope.clientAddress, ban) }
            : { code: 554, enhanced: '5.7.1', text: banReplyText(envelope.clientAddress, ban) },
      },
      facts: { ban: ban.network, ban_source: ban.source, ban_expires: ban.expiresAt === 0 ? 'never' : iso(ban.expiresAt) },
    };
  }

  return { timeoutMs: env.config.store.timeout * 1000 + 500, evaluate: (task) => evaluate(task.envelope) };
}

export const bansCheck: CheckDescriptor = {
  name: 'bans',
  stages: ['connect', 'helo', 'mail', 'rcpt', 'data', 'eom', 'other'],
  timeoutMs: 2500,
  create: (env) => (env.config.bans.enabled ? createBans(env) : undefined),
};
