// The envelope sender's integrity: a fully-qualified address, and a domain that can receive mail
// (an MX, else an A or AAAA record; not a null MX, RFC 7505). NXDOMAIN and "no such record" are
// findings; a temporary DNS failure never is, so it can never cause a rejection. The null sender
// (bounces) and trusted clients (my_networks, SASL) are exempt.
import type { CheckDescriptor, CheckOutcome } from '../../core/check.js';
import { NetworkList, parseAddress } from '../../core/networks.js';
import { isNullMx, type DnsResolver } from '../../dns/resolver.js';
import type { Config } from '../../config/schema.js';
import { heloShape } from './helo.js';
import { isTrustedClient, outcomeOf, type Finding } from './rule.js';

export type DomainState = 'ok' | 'not-found' | 'null-mx' | 'dns-error';

/** Whether a domain can receive mail, as reject_unknown_sender_domain sees it (MX, else A/AAAA). */
export async function senderDomainState(dns: DnsResolver, domain: string): Promise<{ state: DomainState; detail: string }> {
  const mx = await dns.mx(domain);
  if (mx.status === 'ok') return isNullMx(mx.records) ? { state: 'null-mx', detail: 'null MX' } : { state: 'ok', detail: 'MX' };
  if (mx.status === 'error') return { state: 'dns-error', detail: `MX lookup failed (${mx.code})` };
  if (mx.status === 'nxdomain') return { state: 'not-found', detail: 'no such domain' };
  // A first: one answer settles it, and most domains without MX have an A record.
  const a = await dns.a(domain);
  if (a.status === 'ok') return { state: 'ok', detail: 'A' };
  const aaaa = await dns.aaaa(domain);
  if (aaaa.status === 'ok') return { state: 'ok', detail: 'AAAA' };
  if (a.status === 'error' || aaaa.status === 'error') return { state: 'dns-error', detail: `A/AAAA lookup failed (${a.status === 'error' ? a.code : (aaaa as { code: string }).code})` };
  return { state: 'not-found', detail: 'no MX, A or AAAA record' };
}

async function senderFindings(sender: string, config: Config, dns: DnsResolver): Promise<{ findings: Finding[]; note?: string }> {
  const settings = config.sender;
  const shown = `<${sender}>`;
  const at = sender.lastIndexOf('@');
  const domain = at > 0 ? sender.slice(at + 1).replace(/\.$/, '').toLowerCase() : '';
  const shape = domain ? heloShape(domain) : undefined;
  if (!shape || shape.kind !== 'name' || !shape.fqdn) {
    if (shape?.kind === 'literal') return { findings: [] }; // user@[192.0.2.1]: a literal, nothing to look up
    return {
      findings: [
        {
          mode: settings.not_fqdn,
          symbol: { name: 'SENDER_NOT_FQDN', score: 3, description: `sender ${sender} has no fully-qualified domain` },
          reply: { code: 504, enhanced: '5.5.2', text: `${shown}: Sender address rejected: need fully-qualified address` },
        },
      ],
    };
  }
  if (settings.domain_not_found === 'off' && settings.null_mx === 'off') return { findings: [] };
  const { state, detail } = await senderDomainState(dns, domain);
  switch (state) {
    case 'ok':
      return { findings: [] };
    case 'dns-error':
      return { findings: [], note: `sender domain ${domain} not checked: ${detail}` };
    case 'null-mx':
      return {
        findings: [
          {
            mode: settings.null_mx,
            symbol: { name: 'SENDER_NULL_MX', score: 5, description: `sender domain ${domain} publishes a null MX (accepts no mail)` },
            reply: { code: 550, enhanced: '5.7.27', text: `${shown}: Sender address rejected: Domain ${domain} does not accept mail (null MX)` },
          },
        ],
      };
    case 'not-found': {
      const permanent = settings.domain_not_found_code === 550;
      return {
        findings: [
          {
            mode: settings.domain_not_found,
            symbol: { name: 'SENDER_DOMAIN_NOT_FOUND', score: 4, description: `sender domain ${domain} not found: ${detail}` },
            reply: { code: settings.domain_not_found_code, enhanced: permanent ? '5.1.8' : '4.1.8', text: `${shown}: Sender address rejected: Domain not found` },
          },
        ],
      };
    }
  }
}

export const senderCheck: CheckDescriptor = {
  name: 'sender',
  stages: ['mail', 'rcpt'],
  // The DNS deadline plus a margin: MX, then A and AAAA in parallel.
  timeoutMs: 10_000,
  create: ({ config, dns }) => {
    const rules = config.sender;
    if (rules.not_fqdn === 'off' && rules.domain_not_found === 'off' && rules.null_mx === 'off') return undefined;
    const myNetworks = new NetworkList(config.my_networks);
    return {
      timeoutMs: config.dns.timeout * 2000 + 500,
      evaluate: async (task): Promise<CheckOutcome | undefined> => {
        const envelope = task.envelope;
        if (envelope.sender === '' || isTrustedClient(envelope, parseAddress(envelope.clientAddress), myNetworks)) return undefined;
        const { findings, note } = await senderFindings(envelope.sender, config, dns);
        const outcome = outcomeOf(findings);
        return note ? { ...outcome, note } : outcome;
      },
    };
  },
};
