// Passwords of the HTTP API: the hash `rempart passwd` prints (scrypt, from node:crypto) and the
// constant-time check of a presented password against the configured one, plain or hashed.
import { randomBytes, scrypt, timingSafeEqual, createHash } from 'node:crypto';

/** scrypt cost parameters of new hashes: N (CPU/memory cost), r (block size), p (parallelism). */
const SCRYPT_N = 16384;
const SCRYPT_R = 8;
const SCRYPT_P = 1;
/** Length of the derived key, in bytes. */
const KEY_BYTES = 32;
/** Length of the random salt, in bytes. */
const SALT_BYTES = 16;

const HASH_PATTERN = /^\$scrypt\$N=(\d+),r=(\d+),p=(\d+)\$([A-Za-z0-9+/=]+)\$([A-Za-z0-9+/=]+)$/;

function derive(password: string, salt: Buffer, n: number, r: number, p: number, length: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    scrypt(password, salt, length, { N: n, r, p, maxmem: 256 * n * r + 1024 * 1024 }, (error, key) => (error ? reject(error) : resolve(key)));
  });
}

/** `$scrypt$N=16384,r=8,p=1$<salt base64>$<key base64>`: what `rempart passwd` prints. */
export async function hashPassword(password: string): Promise<string> {
  const salt = randomBytes(SALT_BYTES);
  const key = await derive(password, salt, SCRYPT_N, SCRYPT_R, SCRYPT_P, KEY_BYTES);
  return `$scrypt$N=${SCRYPT_N},r=${SCRYPT_R},p=${SCRYPT_P}$${salt.toString('base64')}$${key.toString('base64')}`;
}

/** Whether a configured password is a hash made by `rempart passwd` (rather than the password itself). */
export function isPasswordHash(configured: string): boolean {
  return HASH_PATTERN.test(configured);
}

/** Compares two strings in time that does not depend on where they differ (digests of equal length). */
function sameText(a: string, b: string): boolean {
  const digestA = createHash('sha256').update(a).digest();
  const digestB = createHash('sha256').update(b).digest();
  return timingSafeEqual(digestA, digestB);
}

/**
 * A checker for one configured password (plain or hashed). Hash checks cost ~50 ms of scrypt, so
 * the last password that matched is remembered by its SHA-256 digest: a dashboard or a script
 * sending the same bearer password on every request pays scrypt once.
 */
export class PasswordCheck {
  private readonly hash: RegExpExecArray | null;
  private acceptedDigest: Buffer | undefined;

  constructor(private readonly configured: string) {
    this.hash = HASH_PATTERN.exec(configured);
  }

  /** False when no password is configured. */
  get isSet(): boolean {
    return this.configured !== '';
  }

  async matches(presented: string): Promise<boolean> {
    if (!this.isSet || presented === '') return false;
    if (!this.hash) return sameText(presented, this.configured);
    const digest = createHash('sha256').update(presented).digest();
    if (this.acceptedDigest && timingSafeEqual(digest, this.acceptedDigest)) return true;
    const [, n, r, p, salt, key] = this.hash;
    const expected = Buffer.from(key!, 'base64');
    const actual = await derive(presented, Buffer.from(salt!, 'base64'), Number(n), Number(r), Number(p), expected.length);
    const ok = actual.length === expected.length && timingSafeEqual(actual, expected);
    if (ok) this.acceptedDigest = digest;
    return ok;
  }
}
