// Normalisation of the greylist triplet's parts, after postgrey: the sender loses its BATV tag,
// +extension and VERP numbers; the recipient is lower-cased; the client address is reduced to its
// network (IPv4-mapped IPv6 counted as IPv4), or to its canonical text for the auto-allow key.
import ipaddr from 'ipaddr.js';
import { asAddress, type IpAddress } from '../../../core/networks.js';


/** A BATV tag value starts with 10 letters or digits (postgrey's own test, a prefix match). */
const BATV_TAG = /^[0-9a-z]{10}/;
/** Whole-number runs between word boundaries, as Perl's \b\d+\b (ASCII word characters in both). */
const NUMBER_RUN = /\b\d+\b/g;

/**
 * Removes a BATV `prvs=` wrapper from a (lower-cased) local part. Like postgrey, only a local part
 * that splits on `=` into exactly three fields (trailing empty fields dropped, as Perl's split does)
 * is changed; the field that does not look like a tag is kept, the standard order
 * (`prvs=tag=local`) winning when both or neither look like one.
 */
function stripBatv(local: string): string {
  if (!local.startsWith('prvs=')) return local;
  const fields = local.split('=');
  while (fields.length > 0 && fields[fields.length - 1] === '') fields.pop();
  if (fields.length !== 3) return local;
  const [, first, second] = fields as [string, string, string];
  const firstIsTag = BATV_TAG.test(first);
  const secondIsTag = BATV_TAG.test(second);
  if (secondIsTag && !firstIsTag) return first;
  return second;
}

/**
 * The sender as postgrey keys it: lower case; BATV tag removed; `+extension` removed from the local
 * part; whole-number runs in the local part replaced by `#` (so `bounce-123-456@x` → `bounce-#-#@x`,
 * `abc123@x` unchanged). An address without `@` (including the null sender '') is only lower-cased.
 *
 * Postgrey lower-cases the key after substituting; we lower-case first, so `PRVS=` and upper-case
 * tags are recognised too (postgrey's tests there are case-sensitive).
 */
export function normalizeSender(sender: string): string {
  const lower = sender.toLowerCase();
  const at = lower.indexOf('@');
  if (at < 0) return lower;
  const domain = lower.slice(at + 1);
  let local = stripBatv(lower.slice(0, at));
  const plus = local.indexOf('+');
  if (plus >= 0) local = local.slice(0, plus);
  local = local.replace(NUMBER_RUN, '#');
  return `${local}@${domain}`;
}

/** The recipient as postgrey keys it: lower case, nothing else. */
export function normalizeRecipient(recipient: string): string {
  return recipient.toLowerCase();
}

/** The address's bytes with every bit past `prefix` cleared. */
export function maskBytes(bytes: readonly number[], prefix: number): number[] {
  return bytes.map((byte, i) => {
    const bitsHere = prefix - i * 8;
    if (bitsHere >= 8) return byte;
    if (bitsHere <= 0) return 0;
    return byte & ((0xff << (8 - bitsHere)) & 0xff);
  });
}

/** Canonical text: dotted quad for IPv4, RFC 5952 (lower case, compressed) for IPv6. */
function addressText(address: IpAddress): string {
  return address.kind() === 'ipv4' ? address.toString() : (address as ipaddr.IPv6).toRFC5952String();
}

function checkPrefix(prefix: number, max: number, name: string): void {
  if (!Number.isInteger(prefix) || prefix < 0 || prefix > max) {
    throw new RangeError(`${name} must be an integer from 0 to ${max}, got ${prefix}`);
  }
}

/**
 * The client's network for the greylist key, as `network/prefix` in canonical text
 * (`192.0.2.0/24`, `2001:db8:1:2::/64`; prefix 32 or 128 keeps the whole address, e.g.
 * `192.0.2.7/32`). IPv4-mapped IPv6 addresses are treated as IPv4. Undefined when the address does
 * not parse; throws RangeError on a prefix outside 0–32 / 0–128.
 */
export function clientNetwork(address: string | IpAddress, ipv4Prefix: number, ipv6Prefix: number): string | undefined {
  checkPrefix(ipv4Prefix, 32, 'ipv4Prefix');
  checkPrefix(ipv6Prefix, 128, 'ipv6Prefix');
  const parsed = asAddress(address);
  if (!parsed) return undefined;
  const prefix = parsed.kind() === 'ipv4' ? ipv4Prefix : ipv6Prefix;
  const network = ipaddr.fromByteArray(maskBytes(parsed.toByteArray(), prefix));
  return `${addressText(network)}/${prefix}`;
}

/** The canonical text of a client IP (IPv4-mapped → IPv4), for the auto-allow key; undefined if not an IP. */
export function canonicalAddress(address: string | IpAddress): string | undefined {
  const parsed = asAddress(address);
  return parsed ? addressText(parsed) : undefined;
}
