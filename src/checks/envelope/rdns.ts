// Reverse DNS of the client, from what Postfix already looked up: `reverse_client_name` is
// "unknown" when the address has no PTR name, and `client_name` is "unknown" when the PTR name does
// not resolve back to the address (not forward-confirmed). Names that look like dynamic access
// lines add a score. Each rule rejects (with a 450: DNS trouble may be passing), scores or is off.
import type { CheckDescriptor, CheckOutcome } from '../../core/check.js';
import { NetworkList, parseAddress } from '../../core/networks.js';
import { isTrustedClient, outcomeOf, type Finding } from './rule.js';

export const rdnsCheck: CheckDescriptor = {
  name: 'rdns',
  stages: ['connect', 'helo', 'mail', 'rcpt'],
  timeoutMs: 1000,
  create: ({ config }) => {
    const settings = config.rdns;
    if (settings.missing === 'off' && settings.unconfirmed === 'off' && settings.dynamic === 'off') return undefined;
    const myNetworks = new NetworkList(config.my_networks);
    const dynamic = settings.dynamic_patterns.map((pattern) => new RegExp(pattern, 'i'));
    return {
      evaluate: (task): CheckOutcome | undefined => {
        const envelope = task.envelope;
        const address = parseAddress(envelope.clientAddress);
        // Only remote IP clients have reverse DNS to judge (a local submission has no address).
        if (!address || isTrustedClient(envelope, address, myNetworks)) return undefined;
        const ip = envelope.clientAddress;
        const ptr = envelope.reverseClientName;
        if (ptr === '') return undefined; // not known (the protocol did not say): nothing to judge
        const findings: Finding[] = [];
        if (ptr === 'unknown') {
          findings.push({
            mode: settings.missing,
            symbol: { name: 'RDNS_NONE', score: 1.5, description: `client ${ip} has no reverse DNS name`, fault: 'no_ptr' },
            reply: { code: 450, enhanced: '4.7.25', text: `Client host rejected: cannot find your reverse hostname, [${ip}]` },
          });
        } else {
          if (envelope.clientName === 'unknown') {
            findings.push({
              mode: settings.unconfirmed,
              symbol: { name: 'RDNS_UNCONFIRMED', score: 1, description: `reverse name ${ptr} of ${ip} does not resolve back to it` },
              reply: { code: 450, enhanced: '4.7.25', text: `Client host rejected: cannot find your hostname, [${ip}]` },
            });
          }
          if (dynamic.some((re) => re.test(ptr))) {
            findings.push({
              mode: settings.dynamic,
              symbol: { name: 'RDNS_DYNAMIC', score: 1.5, description: `reverse name ${ptr} looks like a dynamic access line` },
              reply: { code: 550, enhanced: '5.7.1', text: `Client host rejected: dynamic address ${ptr}, send through your provider's server` },
            });
          }
        }
        return outcomeOf(findings);
      },
    };
  },
};
