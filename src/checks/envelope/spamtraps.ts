// Spamtraps: an address nobody uses, so whoever writes to it is a spammer or a harvester. A RCPT
// to a trap is rejected (by default as an unknown user, so that traps do not show) and the client
// address is banned for spamtraps.ban, so its next request costs one lookup in the ban list.
import type { CheckDescriptor, CheckOutcome } from '../../core/check.js';
import { NetworkList, parseAddress } from '../../core/networks.js';
import { isTrustedClient } from './rule.js';

export const spamtrapsCheck: CheckDescriptor = {
  name: 'spamtraps',
  stages: ['rcpt'],
  timeoutMs: 2500,
  create: ({ config, store, clock, log }) => {
    const settings = config.spamtraps;
    if (settings.addresses.length === 0 && settings.patterns.length === 0) return undefined;
    const addresses = new Set(settings.addresses.map((a) => a.toLowerCase()));
    const patterns = settings.patterns.map((p) => new RegExp(p, 'i'));
    const myNetworks = new NetworkList(config.my_networks);
    return {
      timeoutMs: config.store.timeout * 1000 + 500,
      evaluate: async (task): Promise<CheckOutcome | undefined> => {
        const envelope = task.envelope;
        const recipient = envelope.recipients[0] ?? '';
        if (!addresses.has(recipient.toLowerCase()) && !patterns.some((p) => p.test(recipient))) return undefined;
        const address = parseAddress(envelope.clientAddress);
        const facts: Record<string, string | number> = { spamtrap: recipient };
        if (address && settings.ban > 0 && !isTrustedClient(envelope, address, myNetworks)) {
          const now = Math.floor(clock.nowMs() / 1000);
          const ban = await store.bans.ban({
            network: address.toString(),
            reason: `spamtrap hit: ${recipient}`,
            source: 'spamtrap',
            createdAt: now,
            expiresAt: now + settings.ban,
          });
          facts.banned_until = new Date(ban.expiresAt * 1000).toISOString();
          log.warn({ client_address: envelope.clientAddress, spamtrap: recipient, ban_seconds: settings.ban }, 'spamtrap hit: client banned');
        }
        return {
          symbols: [{ name: 'SPAMTRAP', score: 0, description: `recipient ${recipient} is a spamtrap` }],
          verdict: { action: 'reject', reason: `spamtrap hit: ${recipient}`, reply: { code: 550, enhanced: '5.1.1', text: settings.text.replaceAll('%r', recipient) } },
          facts,
        };
      },
    };
  },
};
