// Relay protection, as defense in depth behind Postfix's own reject_unauth_destination: an
// untrusted client (outside my_networks, not SASL-authenticated) may only send to local_domains
// (and their subdomains). Acts only when local_domains is configured.
import type { CheckDescriptor } from '../../core/check.js';
import { NetworkList, parseAddress } from '../../core/networks.js';
import { isTrustedClient } from './rule.js';

/** Whether `domain` is one of `locals` or a subdomain of one (all lower case). */
export function isLocalDomain(domain: string, locals: readonly string[]): boolean {
  return locals.some((local) => domain === local || domain.endsWith(`.${local}`));
}

export const relayCheck: CheckDescriptor = {
  name: 'relay',
  stages: ['rcpt'],
  timeoutMs: 1000,
  create: ({ config }) => {
    if (!config.relay.enabled || config.local_domains.length === 0) return undefined;
    const locals = config.local_domains.map((d) => d.toLowerCase().replace(/\.$/, ''));
    const myNetworks = new NetworkList(config.my_networks);
    return {
      evaluate: (task) => {
        const envelope = task.envelope;
        if (isTrustedClient(envelope, parseAddress(envelope.clientAddress), myNetworks)) return undefined;
        const recipient = envelope.recipients[0] ?? '';
        const at = recipient.lastIndexOf('@');
        const domain = at >= 0 ? recipient.slice(at + 1).toLowerCase().replace(/\.$/, '') : '';
        // A recipient without a domain is local to Postfix (it appends $myorigin): not relaying.
        if (domain === '' || isLocalDomain(domain, locals)) return undefined;
        return {
          verdict: {
            action: 'reject',
            reason: `relay to ${domain} denied`,
            reply: { code: 554, enhanced: '5.7.1', text: `<${recipient}>: Relay access denied` },
          },
        };
      },
    };
  },
};
