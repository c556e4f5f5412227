// Commands that change state through a running daemon's HTTP API (docs/api.md) instead of opening
// the store: `--url URL` (or $REMPART_URL) names the daemon, the password comes from the first line
// of `--password-file FILE` or from $REMPART_PASSWORD (never from an option of its own: it would
// show in `ps`) and is sent as `Authorization: Bearer`. Every request has a deadline. The API's
// error answers ({"error", "statusCode"}) become a RemoteError: its message says what to do, and
// the command ends with exit code 1.
import { readFileSync } from 'node:fs';
import { CommandFailure, UsageError } from './common.js';

/** How long one request may take before the command gives up on it. */
export const DEFAULT_REQUEST_TIMEOUT_MS = 30_000;

/** The options every command that can work through the API takes. */
export const remoteOptions = { url: { type: 'string' }, 'password-file': { type: 'string' } } as const;

/** The line the usage text gives these options. */
export const remoteUsage = `--url URL [--password-file FILE]         allow, block, bans, greylist, learn spam|ham and bayes stats work
                                         through a running daemon's HTTP API at URL (http://127.0.0.1:11334;
                                         default $REMPART_URL); the password: the first line of FILE, else
                                         $REMPART_PASSWORD`;

/** An answer of the API that was not a success, or no answer at all. */
export class RemoteError extends CommandFailure {
  constructor(
    message: string,
    /** The HTTP status, when the daemon answered. */
    readonly status: number | undefined,
    /** Whether no further request can succeed either (unreachable, password refused): a long run stops. */
    readonly fatal: boolean,
  ) {
    super(message);
  }
}

export type QueryValue = string | number | boolean | undefined;

export interface RequestOptions {
  query?: Record<string, QueryValue>;
  /** A JSON body. */
  json?: unknown;
  /** A raw body (a message), sent with `contentType`. */
  body?: Uint8Array;
  contentType?: string;
}

/** The first line of a password file, without the white space around it (an Authorization header cannot keep it). */
export function readPasswordFile(file: string): string {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    throw new CommandFailure(`cannot read the password file ${file}: ${(error as Error).message}`);
  }
  const password = text.split('\n', 1)[0]!.trim();
  if (password === '') throw new CommandFailure(`the password file ${file} starts with an empty line`);
  return password;
}

/** Whether a password can travel as `Authorization: Bearer` unchanged: Latin-1 text without control characters or white space around it. */
export const isHeaderPassword = (password: string): boolean => /^[\x21-\x7e\xa1-\xff](?:[\x20-\x7e\xa0-\xff]*[\x21-\x7e\xa1-\xff])?$/.test(password);

/** A client of the daemon's HTTP API at `baseUrl` (`http://host:port`, possibly with a path prefix). */
export class RemoteApi {
  readonly baseUrl: string;

  constructor(
    baseUrl: string,
    private readonly password: string | undefined,
    private readonly timeoutMs = DEFAULT_REQUEST_TIMEOUT_MS,
  ) {
    this.baseUrl = baseUrl.replace(/\/+$/, '');
    if (password !== undefined && !isHeaderPassword(password)) {
      throw new CommandFailure(
        'the password cannot be sent in an Authorization header (control characters, or characters beyond Latin-1); the dashboard login takes it, --url does not',
      );
    }
  }

  /** Calls the API and returns its JSON answer; throws a RemoteError when it failed. */
  async request<T>(method: string, path: string, options: RequestOptions = {}): Promise<T> {
    const url = new URL(this.baseUrl + path);
    for (const [name, value] of Object.entries(options.query ?? {})) if (value !== undefined) url.searchParams.set(name, String(value));
    const headers: Record<string, string> = { accept: 'application/json' };
    if (this.password !== undefined) headers.authorization = `Bearer ${this.password}`;
    let body: string | Uint8Array | undefined;
    if (options.json !== undefined) {
      headers['content-type'] = 'application/json';
      body = JSON.stringify(options.json);
    } else if (options.body !== undefined) {
      headers['content-type'] = options.contentType ?? 'application/octet-stream';
      body = options.body;
    }
    let response: Response;
    let text: string;
    try {
      response = await fetch(url, { method, headers, body, signal: AbortSignal.timeout(this.timeoutMs) });
      text = await response.text();
    } catch (error) {
      throw this.unreachable(error);
    }
    let answer: unknown;
    try {
      answer = text === '' ? {} : JSON.parse(text);
    } catch {
      answer = undefined;
    }
    if (response.ok) {
      if (answer === undefined || typeof answer !== 'object' || answer === null) {
        throw new RemoteError(`${method} ${path}: the answer of ${this.baseUrl} is not the API's JSON (is the URL that of rempart's HTTP API?)`, response.status, true);
      }
      return answer as T;
    }
    const said =
      answer && typeof answer === 'object' && typeof (answer as { error?: unknown }).error === 'string'
        ? (answer as { error: string }).error
        : text.trim().slice(0, 200) || response.statusText;
    throw this.refused(method, path, response.status, said);
  }

  /** The error for an answer with status `status` and message `said`. */
  private refused(method: string, path: string, status: number, said: string): RemoteError {
    switch (status) {
      case 401:
        return new RemoteError(
          this.password === undefined
            ? `${this.baseUrl} wants a password (${said}): give it with --password-file FILE or $REMPART_PASSWORD`
            : `${this.baseUrl} refused the password (${said}): check --password-file or $REMPART_PASSWORD`,
          status,
          true,
        );
      case 403:
        return new RemoteError(
          `${this.baseUrl} refused the change (${said}): that is the read-only password; changes need the administrator password (http.password)`,
          status,
          true,
        );
      case 429:
        return new RemoteError(`${this.baseUrl} refuses this address for a while after too many wrong passwords (${said})`, status, true);
      default:
        return new RemoteError(`${method} ${path}: ${said} (HTTP ${status} from ${this.baseUrl})`, status, false);
    }
  }

  /** The error for a request that got no answer. */
  private unreachable(error: unknown): RemoteError {
    const problem = error as Error & { cause?: { code?: string; message?: string } };
    if (problem.name === 'TimeoutError' || problem.name === 'AbortError') {
      return new RemoteError(`no answer from the daemon at ${this.baseUrl} within ${this.timeoutMs / 1000} s`, undefined, false);
    }
    const code = problem.cause?.code;
    const why =
      code === 'ECONNREFUSED'
        ? 'connection refused: is it running, with http.listen at that address?'
        : code === 'ENOTFOUND' || code === 'EAI_AGAIN'
          ? `no such host (${code})`
          : (problem.cause?.message ?? problem.message);
    return new RemoteError(`the daemon is not reachable at ${this.baseUrl} (${why})`, undefined, true);
  }
}

/** Whether an error is the API saying there is no such thing (404). */
export const isNotFound = (error: unknown): boolean => error instanceof RemoteError && error.status === 404;

/** Whether the command line (or $REMPART_URL) asks to work through the API. */
export const wantsRemote = (values: { url?: string | undefined }, env: NodeJS.ProcessEnv = process.env): boolean => (values.url ?? env.REMPART_URL ?? '') !== '';

/**
 * The API client the command line asks for: `--url` (an empty --url works on the store even when
 * $REMPART_URL is set), else $REMPART_URL; undefined: work on the store directly.
 */
export function remoteFrom(values: { url?: string | undefined; 'password-file'?: string | undefined }, env: NodeJS.ProcessEnv = process.env): RemoteApi | undefined {
  const url = values.url ?? env.REMPART_URL ?? '';
  if (url === '') {
    if (values['password-file'] !== undefined) throw new UsageError('--password-file goes with --url URL (or $REMPART_URL)');
    return undefined;
  }
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new UsageError(`${values.url !== undefined ? '--url' : '$REMPART_URL'} takes the daemon's API address, e.g. http://127.0.0.1:11334, not ${JSON.stringify(url)}`);
  }
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') {
    throw new UsageError(`${values.url !== undefined ? '--url' : '$REMPART_URL'} takes an http:// or https:// address, not ${JSON.stringify(url)}`);
  }
  if (parsed.search !== '' || parsed.hash !== '' || parsed.username !== '' || parsed.password !== '') {
    throw new UsageError(`the API address ${JSON.stringify(url)} takes no query, fragment or credentials (the password: --password-file or $REMPART_PASSWORD)`);
  }
  const file = values['password-file'];
  const password = file !== undefined ? readPasswordFile(file) : env.REMPART_PASSWORD || undefined;
  return new RemoteApi(`${parsed.origin}${parsed.pathname}`, password);
}
