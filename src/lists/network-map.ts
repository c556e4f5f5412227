// IP networks (IPv4 and IPv6, addresses and CIDR) mapped to values, looked up by client address
// with one hash lookup per distinct prefix length, longest prefix first: the most specific
// network answers. Used by the allow/block list matcher and the ban matcher.
import { addressBytes, canonicalNetwork, maskBytes } from './entry.js';

class FamilyIndex<T> {
  private readonly byPrefix = new Map<number, Map<string, T[]>>();
  /** Longest first. */
  private prefixes: number[] = [];

  add(bytes: readonly number[], prefix: number, value: T): void {
    let networks = this.byPrefix.get(prefix);
    if (!networks) {
      networks = new Map();
      this.byPrefix.set(prefix, networks);
      this.prefixes = [...this.byPrefix.keys()].sort((a, b) => b - a);
    }
    const key = maskBytes(bytes, prefix).join('.');
    const values = networks.get(key);
    if (values) values.push(value);
    else networks.set(key, [value]);
  }

  *lookup(bytes: readonly number[]): Generator<T> {
    for (const prefix of this.prefixes) {
      const values = this.byPrefix.get(prefix)!.get(maskBytes(bytes, prefix).join('.'));
      if (values) yield* values;
    }
  }

  get size(): number {
    return this.prefixes.length;
  }
}

export class NetworkMap<T> {
  private readonly v4 = new FamilyIndex<T>();
  private readonly v6 = new FamilyIndex<T>();

  /** Adds a value under an address or CIDR network; false when the text is neither. */
  add(network: string, value: T): boolean {
    const parsed = canonicalNetwork(network);
    if (!parsed) return false;
    (parsed.bytes.length === 4 ? this.v4 : this.v6).add(parsed.bytes, parsed.prefix, value);
    return true;
  }

  /** The values of every network holding `address` (text or bytes), most specific first. */
  *lookup(address: string | readonly number[]): Generator<T> {
    const bytes = typeof address === 'string' ? addressBytes(address) : address;
    if (!bytes) return;
    yield* (bytes.length === 4 ? this.v4 : this.v6).lookup(bytes);
  }

  get isEmpty(): boolean {
    return this.v4.size === 0 && this.v6.size === 0;
  }
}
