// IP reputation strikes: the local memory that turns repeated faults into bans. After every
// decision, the faults its findings carry (no reverse DNS, a DNS block list listing, an unknown
// recipient) are counted per client address and fault; when a fault's count within its window
// reaches its threshold (strikes:), the client is banned for strikes.ban. Such a ban defers with a
// 450 (see bans.ts): a legitimate server that erred retries and gets through once it expires.
import type { CheckDescriptor, Fault } from '../../core/check.js';
import { NetworkList, parseAddress } from '../../core/networks.js';
import { isTrustedClient } from './rule.js';

export const strikesCheck: CheckDescriptor = {
  name: 'strikes',
  stages: [],
  timeoutMs: 2500,
  create: ({ config, store, clock, log }) => {
    const settings = config.strikes;
    const rules: Record<Fault, { strikes: number; window: number }> = {
      no_ptr: settings.no_ptr,
      dnsbl: settings.dnsbl,
      unknown_recipient: settings.unknown_recipient,
    };
    if (Object.values(rules).every((rule) => rule.strikes === 0)) return undefined;
    const myNetworks = new NetworkList(config.my_networks);
    return {
      evaluate: () => undefined,
      observe: async (task, decision) => {
        const envelope = task.envelope;
        const address = parseAddress(envelope.clientAddress);
        if (!address || isTrustedClient(envelope, address, myNetworks)) return;
        // A client already banned is not counted again (its requests stop at the ban).
        if (decision.decidedBy === 'bans') return;
        const faults = new Set(decision.symbols.flatMap((s) => (s.fault && rules[s.fault].strikes > 0 ? [s.fault] : [])));
        const now = Math.floor(clock.nowMs() / 1000);
        for (const fault of faults) {
          const rule = rules[fault];
          const count = await store.strikes.addStrike(address.toString(), fault, now, rule.window);
          if (count < rule.strikes) continue;
          await store.bans.ban({
            network: address.toString(),
            reason: `${count} strike(s) for ${fault.replace('_', ' ')} within ${rule.window}s`,
            source: 'strikes',
            createdAt: now,
            expiresAt: now + settings.ban,
          });
          await store.strikes.clear(address.toString());
          log.info({ client_address: envelope.clientAddress, fault, strikes: count, ban_seconds: settings.ban }, 'client banned after repeated faults');
          return;
        }
      },
    };
  },
};
