// Who is calling the HTTP API: the administrator or the read-only role, by bearer password or by
// the session cookie of a dashboard login; failed attempts are counted per client address and
// refused with 429 past http.login_attempts within http.login_window.
import { randomBytes } from 'node:crypto';
import ipaddr from 'ipaddr.js';
import type { Config } from '../config/schema.js';
import { ApiError } from './errors.js';
import { PasswordCheck } from './password.js';

/** The answer to a client that used up its failed attempts: 429 with Retry-After. */
export class TooManyAttempts extends ApiError {
  constructor(readonly retryAfterSeconds: number) {
    super(429, `too many failed attempts; try again in ${retryAfterSeconds} s`);
  }
}

/** Failures are counted per IPv4 address and per IPv6 /64 (one host's share of addresses). */
function clientKey(address: string): string {
  try {
    const parsed = ipaddr.process(address);
    if (parsed.kind() === 'ipv6') return `${(parsed as ipaddr.IPv6).parts.slice(0, 4).map((p) => p.toString(16)).join(':')}::/64`;
    return parsed.toString();
  } catch {
    return address;
  }
}

export type Role = 'admin' | 'readonly';

/** The cookie a dashboard login sets. */
export const SESSION_COOKIE = 'rempart_session';

/** Sessions kept at most, oldest dropped first (a login loop must not grow memory without bound). */
const MAX_SESSIONS = 10_000;
/** Client addresses whose failures are tracked at most. */
const MAX_TRACKED_CLIENTS = 100_000;

interface Session {
  role: Role;
  expiresMs: number;
}

interface Failures {
  count: number;
  windowStartMs: number;
}

export type Credential = { kind: 'none' } | { kind: 'bearer'; password: string } | { kind: 'cookie'; token: string };

export class Authenticator {
  private admin: PasswordCheck;
  private readonly: PasswordCheck;
  private metricsToken: PasswordCheck;
  private settings: Config['http'];
  private readonly sessions = new Map<string, Session>();
  private readonly failures = new Map<string, Failures>();

  constructor(settings: Config['http']) {
    this.settings = settings;
    this.admin = new PasswordCheck(settings.password);
    this.readonly = new PasswordCheck(settings.readonly_password);
    this.metricsToken = new PasswordCheck(settings.metrics_token);
  }

  /** Takes new settings (a reload); sessions survive unless the passwords changed. */
  update(settings: Config['http']): void {
    const passwordsChanged = settings.password !== this.settings.password || settings.readonly_password !== this.settings.readonly_password;
    const metricsTokenChanged = settings.metrics_token !== this.settings.metrics_token;
    this.settings = settings;
    if (passwordsChanged) {
      this.admin = new PasswordCheck(settings.password);
      this.readonly = new PasswordCheck(settings.readonly_password);
      this.sessions.clear();
    }
    if (metricsTokenChanged) this.metricsToken = new PasswordCheck(settings.metrics_token);
  }

  /** Whether any password is configured (otherwise every caller is the administrator). */
  get passwordRequired(): boolean {
    return this.admin.isSet;
  }

  /** Whether this client has used up its failed attempts (it gets 429 until the window has passed). */
  isLockedOut(address: string, nowMs: number): boolean {
    const client = clientKey(address);
    const entry = this.failures.get(client);
    if (!entry) return false;
    if (nowMs - entry.windowStartMs >= this.settings.login_window * 1000) {
      this.failures.delete(client);
      return false;
    }
    return entry.count >= this.settings.login_attempts;
  }

  /** Seconds until a locked-out client may try again. */
  retryAfterSeconds(address: string, nowMs: number): number {
    const entry = this.failures.get(clientKey(address));
    return entry ? Math.max(1, Math.ceil((entry.windowStartMs + this.settings.login_window * 1000 - nowMs) / 1000)) : 1;
  }

  private recordFailure(client: string, nowMs: number): void {
    const entry = this.failures.get(client);
    if (entry && nowMs - entry.windowStartMs < this.settings.login_window * 1000) entry.count++;
    else {
      if (this.failures.size >= MAX_TRACKED_CLIENTS) this.failures.delete(this.failures.keys().next().value!);
      this.failures.set(client, { count: 1, windowStartMs: nowMs });
    }
  }

  /**
   * The role a password gives, or undefined (a failure is counted against the client). The attempt
   * counts as a failure before the (slow) check and is forgiven when it matches, so parallel
   * guesses cannot all pass the lock-out check.
   */
  async roleOfPassword(password: string, address: string, nowMs: number): Promise<Role | undefined> {
    const client = clientKey(address);
    this.recordFailure(client, nowMs);
    const role = (await this.admin.matches(password)) ? 'admin' : (await this.readonly.matches(password)) ? 'readonly' : undefined;
    if (role) this.forgive(client);
    return role;
  }

  private forgive(client: string): void {
    const entry = this.failures.get(client);
    if (!entry) return;
    if (entry.count <= 1) this.failures.delete(client);
    else entry.count--;
  }

  /** The role of a request's credential: undefined when it has none or a wrong one. */
  async roleOf(credential: Credential, client: string, nowMs: number): Promise<Role | undefined> {
    if (!this.passwordRequired) return 'admin';
    switch (credential.kind) {
      case 'none':
        return undefined;
      case 'bearer':
        return this.roleOfPassword(credential.password, client, nowMs);
      case 'cookie': {
        const session = this.sessions.get(credential.token);
        if (!session) return undefined;
        if (session.expiresMs <= nowMs) {
          this.sessions.delete(credential.token);
          return undefined;
        }
        return session.role;
      }
    }
  }

  /** Whether a bearer token is the metrics token. */
  async isMetricsToken(token: string): Promise<boolean> {
    return this.metricsToken.matches(token);
  }

  /** Opens a session for a logged-in role; returns its cookie value. */
  openSession(role: Role, nowMs: number): string {
    if (this.sessions.size >= MAX_SESSIONS) this.sessions.delete(this.sessions.keys().next().value!);
    const token = randomBytes(32).toString('base64url');
    this.sessions.set(token, { role, expiresMs: nowMs + this.settings.session_max_age * 1000 });
    return token;
  }

  closeSession(token: string): void {
    this.sessions.delete(token);
  }
}
