// HELO/EHLO integrity: the name must be valid and fully qualified (or an address literal in
// brackets that is the client's own address), and must not claim to be us. Each rule rejects,
// scores or is off per configuration (`helo:`); trusted clients (my_networks, SASL) are exempt.
import type { CheckDescriptor, CheckOutcome } from '../../core/check.js';
import { NetworkList, parseAddress } from '../../core/networks.js';
import type { Config } from '../../config/schema.js';
import type { Envelope } from '../../core/task.js';
import { isTrustedClient, outcomeOf, type Finding } from './rule.js';

const LABEL = /^[a-z0-9_]([a-z0-9_-]{0,61}[a-z0-9_])?$/i;

export type HeloShape =
  | { kind: 'missing' }
  | { kind: 'literal'; address: string }
  | { kind: 'bad-literal' }
  | { kind: 'bare-ip' }
  | { kind: 'invalid' }
  | { kind: 'name'; fqdn: boolean; name: string };

/** Classifies a HELO argument: an address literal, a bare IP, a (fully qualified or not) name, or invalid. */
export function heloShape(helo: string): HeloShape {
  const text = helo.trim();
  if (text === '') return { kind: 'missing' };
  if (text.startsWith('[') && text.endsWith(']')) {
    const inner = text.slice(1, -1).replace(/^ipv6:/i, '');
    const address = parseAddress(inner);
    return address ? { kind: 'literal', address: inner } : { kind: 'bad-literal' };
  }
  if (parseAddress(text)) return { kind: 'bare-ip' };
  const name = text.endsWith('.') ? text.slice(0, -1) : text;
  if (name.length === 0 || name.length > 253) return { kind: 'invalid' };
  const labels = name.split('.');
  if (!labels.every((label) => LABEL.test(label))) return { kind: 'invalid' };
  const fqdn = labels.length >= 2 && !/^\d+$/.test(labels[labels.length - 1]!);
  return { kind: 'name', fqdn, name: name.toLowerCase() };
}

/** A HELO naming the address the client connected to (ours), when Postfix told us (server_address). */
function claimsOurAddress(helo: string, address: string, envelope: Envelope, mode: Config['helo']['ours']): Finding[] {
  const claimed = parseAddress(address);
  const server = parseAddress(envelope.serverAddress);
  if (!claimed || !server || claimed.toString() !== server.toString()) return [];
  return [
    {
      mode,
      symbol: { name: 'HELO_IS_OURS', score: 5, description: `HELO ${helo} is our own address` },
      reply: { code: 550, enhanced: '5.7.1', text: `<${helo}>: Helo command rejected: you are not ${envelope.serverAddress}` },
    },
  ];
}

function heloFindings(envelope: Envelope, config: Config): Finding[] {
  const settings = config.helo;
  const helo = envelope.helo.trim();
  const shape = heloShape(helo);
  const shown = `<${helo}>`;
  switch (shape.kind) {
    case 'missing':
    case 'invalid':
    case 'bad-literal':
      return [
        {
          mode: settings.invalid,
          symbol: { name: 'HELO_INVALID', score: 3, description: shape.kind === 'missing' ? 'no HELO name' : `HELO ${helo} is not a valid host name` },
          reply: { code: 501, enhanced: '5.5.2', text: `${shown}: Helo command rejected: Invalid name` },
        },
      ];
    case 'bare-ip':
      return [
        ...claimsOurAddress(helo, helo, envelope, settings.ours),
        {
          mode: settings.bare_ip,
          symbol: { name: 'HELO_BARE_IP', score: 2, description: `HELO ${helo} is an IP address without brackets` },
          reply: { code: 504, enhanced: '5.5.2', text: `${shown}: Helo command rejected: need fully-qualified hostname` },
        },
      ];
    case 'literal': {
      const ours = claimsOurAddress(helo, shape.address, envelope, settings.ours);
      if (ours.length > 0) return ours;
      const client = parseAddress(envelope.clientAddress);
      const claimed = parseAddress(shape.address);
      if (!client || !claimed || client.toString() === claimed.toString()) return [];
      return [
        {
          mode: settings.literal_mismatch,
          symbol: { name: 'HELO_LITERAL_MISMATCH', score: 2, description: `HELO ${helo} is not the client's address ${envelope.clientAddress}` },
          reply: { code: 550, enhanced: '5.7.1', text: `${shown}: Helo command rejected: not your address` },
        },
      ];
    }
    case 'name': {
      const findings: Finding[] = [];
      const ours = [config.hostname.toLowerCase(), ...config.local_domains.map((d) => d.toLowerCase())];
      if (ours.includes(shape.name)) {
        findings.push({
          mode: settings.ours,
          symbol: { name: 'HELO_IS_OURS', score: 5, description: `HELO ${helo} claims to be us` },
          reply: { code: 550, enhanced: '5.7.1', text: `${shown}: Helo command rejected: you are not ${shape.name}` },
        });
      }
      if (!shape.fqdn) {
        findings.push({
          mode: settings.not_fqdn,
          symbol: { name: 'HELO_NOT_FQDN', score: 3, description: `HELO ${helo} is not a fully-qualified host name` },
          reply: { code: 504, enhanced: '5.5.2', text: `${shown}: Helo command rejected: need fully-qualified hostname` },
        });
      }
      return findings;
    }
  }
}

export const heloCheck: CheckDescriptor = {
  name: 'helo',
  stages: ['helo', 'mail', 'rcpt'],
  timeoutMs: 1000,
  create: ({ config }) => {
    if (Object.values(config.helo).every((mode) => mode === 'off')) return undefined;
    const myNetworks = new NetworkList(config.my_networks);
    return {
      evaluate: (task): CheckOutcome | undefined => {
        const envelope = task.envelope;
        if (isTrustedClient(envelope, parseAddress(envelope.clientAddress), myNetworks)) return undefined;
        return outcomeOf(heloFindings(envelope, config));
      },
    };
  },
};
