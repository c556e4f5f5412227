// What the envelope checks share: a finding that, per configuration, rejects (a verdict with its
// SMTP reply), adds a scored symbol, or is off; and the "trusted client" test (my_networks or
// SASL-authenticated) that exempts a client from the integrity checks, as permit_mynetworks and
// permit_sasl_authenticated do in Postfix.
import type { CheckOutcome, SmtpReply, SymbolHit } from '../../core/check.js';
import type { IpAddress, NetworkList } from '../../core/networks.js';
import type { Envelope } from '../../core/task.js';

export type RuleMode = 'reject' | 'score' | 'off';

export interface Finding {
  mode: RuleMode;
  symbol: SymbolHit;
  /** The reply when the mode is reject; `action` says whether it is permanent or temporary. */
  reply: SmtpReply;
}

/** Turns findings into one outcome: the first rejecting one is the verdict, scored ones become symbols. */
export function outcomeOf(findings: Finding[]): CheckOutcome | undefined {
  const symbols: SymbolHit[] = [];
  for (const finding of findings) {
    if (finding.mode === 'off') continue;
    if (finding.mode === 'reject') {
      return {
        symbols: [...symbols, finding.symbol],
        verdict: { action: finding.reply.code < 500 ? 'defer' : 'reject', reply: finding.reply, reason: finding.symbol.description },
      };
    }
    symbols.push(finding.symbol);
  }
  return symbols.length > 0 ? { symbols } : undefined;
}

export function isTrustedClient(envelope: Envelope, address: IpAddress | undefined, myNetworks: NetworkList): boolean {
  return envelope.saslUsername !== '' || (address !== undefined && myNetworks.contains(address));
}
