// The dashboard's only way to the daemon: typed calls to the JSON API of docs/api.md, made with
// fetch and the session cookie (HttpOnly, so the page never sees it). URLs are relative ("api/...")
// so that the dashboard also works behind a reverse proxy under a sub-path. A failed call throws an
// ApiError carrying the API's own `error` text; a 401 outside the login also tells the app, which
// then shows the login form again (the session expired).

export type Role = 'admin' | 'readonly';

export interface Session {
  role: Role;
  node?: string;
  version?: string;
  /** False when the daemon has no password (loopback only): there is nothing to log out of. */
  passwordRequired?: boolean;
}

export interface CountedValue {
  value: string;
  count: number;
}

export interface Ban {
  network: string;
  reason: string;
  source: string;
  /** Seconds since the epoch. */
  createdAt: number;
  /** Seconds since the epoch; 0 = never. */
  expiresAt: number;
}

/** GET /health: open, read every 5 s for the store banner. */
export interface Health {
  status: 'ok' | 'degraded';
  store: { backend: string; available: boolean; since: string; error?: string; unavailableAction: 'accept' | 'defer' };
}

export interface Stats {
  since: number;
  until: number;
  bucketSeconds: number;
  actions: Record<string, number>;
  protocols: Record<string, number>;
  series: Array<{ time: number; counts: Record<string, number> }>;
  symbols: CountedValue[];
  topRejectedClients: CountedValue[];
  topRejectedSenders: CountedValue[];
  greylist?: { triplets: number; waiting: number; passed: number; clients: number; autoAllowed: number; passRate: number };
  bans?: { active: number; newest: Ban[] };
  checks?: { errors: Record<string, number>; timeouts: Record<string, number> };
}

export interface SymbolHit {
  name: string;
  score: number;
  description?: string;
}

export interface ResultRecord {
  id: number;
  time: number;
  node: string;
  protocol: string;
  stage: string;
  clientAddress: string;
  clientName: string;
  helo: string;
  sender: string;
  recipients: string[];
  queueId: string;
  messageId: string;
  instance: string;
  action: string;
  decidedBy: string;
  reason: string;
  reply: string;
  headers: Array<{ name: string; value: string }>;
  score: number;
  symbols: SymbolHit[];
  facts: Record<string, string | number>;
  errors: string[];
  durationMs: number;
}

export interface HistoryPage {
  records: ResultRecord[];
  nextBefore: number | null;
}

export interface RecordDetail {
  record: ResultRecord;
  explanation: SymbolHit[];
}

export type ListKind = 'allow' | 'block';

export interface ListEntry {
  id: number;
  kind: ListKind;
  type: string;
  value: string;
  scope: string;
  reason: string;
  comment: string;
  addedBy: string;
  createdAt: number;
  expiresAt: number;
}

export interface NewListEntry {
  kind: ListKind;
  value: string;
  scope?: string;
  reason?: string;
  comment?: string;
  expires?: string;
}

export interface GreylistTriplet {
  key: string;
  firstSeen: number;
  lastSeen: number;
  attempts: number;
  passedAt: number;
  labels: { clientNet: string; sender: string; recipient: string };
}

export interface GreylistClient {
  key: string;
  passes: number;
  lastSeen: number;
}

export interface BayesInfo {
  /** bayes.enabled of the configuration (absent from older daemons: enabled). */
  enabled?: boolean;
  minMessages: number;
  ready: boolean;
  scopes: Array<{ scope: string; spamMessages: number; hamMessages: number; tokens: number }>;
}

export interface LearnResult {
  messages: number;
  outcomes: Record<string, number>;
}

export interface CheckResult {
  action: string;
  score: number;
  symbols: SymbolHit[];
  bayes?: { probability: number; verdict: string };
}

/** A refused or failed API call: the HTTP status and the API's `error` text. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
    this.name = 'ApiError';
  }
}

/** Called when an API call answers 401 (the session is gone); set by the app. */
let onUnauthorized: (() => void) | undefined;

export function setUnauthorizedHandler(handler: () => void): void {
  onUnauthorized = handler;
}

type QueryValue = string | number | boolean | undefined | null;

/** "api/PATH?k=v" with the empty, null and undefined parameters left out. */
export function apiUrl(path: string, query: Record<string, QueryValue> = {}): string {
  const params = new URLSearchParams();
  for (const [key, value] of Object.entries(query)) {
    if (value === undefined || value === null || value === '') continue;
    params.set(key, String(value));
  }
  const search = params.toString();
  return `api/${path}${search ? `?${search}` : ''}`;
}

async function errorText(response: Response): Promise<string> {
  try {
    const body = (await response.json()) as { error?: unknown; message?: unknown };
    if (typeof body.error === 'string' && body.error) return body.error;
    if (typeof body.message === 'string' && body.message) return body.message;
  } catch {
    // not JSON: fall back on the status line
  }
  return `${response.status} ${response.statusText || 'error'}`;
}

interface RequestOptions {
  method?: string;
  /** A JSON body (objects), or raw bytes (Blob/ArrayBuffer/string) sent with `contentType`. */
  json?: unknown;
  raw?: BodyInit;
  contentType?: string;
  /** Do not call the unauthorized handler on 401 (login and session probes). */
  quietUnauthorized?: boolean;
  signal?: AbortSignal;
}

async function request<T>(url: string, options: RequestOptions = {}): Promise<T> {
  const headers: Record<string, string> = { Accept: 'application/json' };
  let body: BodyInit | undefined;
  if (options.json !== undefined) {
    headers['Content-Type'] = 'application/json';
    body = JSON.stringify(options.json);
  } else if (options.raw !== undefined) {
    headers['Content-Type'] = options.contentType ?? 'application/octet-stream';
    body = options.raw;
  }
  let response: Response;
  try {
    response = await fetch(url, {
      method: options.method ?? 'GET',
      headers,
      ...(body !== undefined ? { body } : {}),
      credentials: 'same-origin',
      cache: 'no-store',
      ...(options.signal ? { signal: options.signal } : {}),
    });
  } catch (error) {
    if (error instanceof DOMException && error.name === 'AbortError') throw error;
    throw new ApiError(0, 'The daemon did not answer (is it running?)');
  }
  if (!response.ok) {
    const message = await errorText(response);
    if (response.status === 401 && !options.quietUnauthorized) onUnauthorized?.();
    throw new ApiError(response.status, message);
  }
  return (await response.json()) as T;
}

export const api = {
  session: () => request<Session>(apiUrl('session'), { quietUnauthorized: true }),
  login: (password: string) => request<{ role: Role }>(apiUrl('login'), { method: 'POST', json: { password }, quietUnauthorized: true }),
  logout: () => request<{ ok: boolean }>(apiUrl('logout'), { method: 'POST', json: {}, quietUnauthorized: true }),

  health: () => request<Health>('health', { quietUnauthorized: true }),

  stats: (window: string, signal?: AbortSignal) => request<Stats>(apiUrl('stats', { window }), signal ? { signal } : {}),

  history: (filter: Record<string, QueryValue>, signal?: AbortSignal) => request<HistoryPage>(apiUrl('history', filter), signal ? { signal } : {}),
  record: (id: number) => request<RecordDetail>(apiUrl(`history/${encodeURIComponent(String(id))}`)),

  lists: (query: { kind: ListKind; search?: string; scope?: string; limit?: number; offset?: number }) => request<{ entries: ListEntry[] }>(apiUrl('lists', { ...query })),
  addListEntry: (entry: NewListEntry) => request<{ entry: ListEntry; created: boolean }>(apiUrl('lists'), { method: 'POST', json: entry }),
  removeListEntry: (kind: ListKind, id: number) => request<{ removed: number }>(apiUrl(`lists/${kind}/${id}`), { method: 'DELETE' }),

  bans: (query: { search?: string; expired?: boolean; limit?: number; offset?: number }) => request<{ bans: Ban[] }>(apiUrl('bans', { ...query, expired: query.expired ? 'true' : undefined })),
  addBan: (ban: { network: string; reason?: string; duration?: string }) => request<{ ban: Ban }>(apiUrl('bans'), { method: 'POST', json: ban }),
  removeBan: (network: string) => request<{ removed: number }>(apiUrl(`bans/${encodeURIComponent(network)}`), { method: 'DELETE' }),

  greylist: (query: { search?: string; waiting?: boolean; limit?: number; offset?: number }) => request<{ triplets: GreylistTriplet[] }>(apiUrl('greylist', { ...query })),
  greylistClients: (query: { limit?: number; offset?: number }) => request<{ clients: GreylistClient[] }>(apiUrl('greylist/clients', { ...query })),
  removeTriplet: (key: string) => request<{ removed: number }>(apiUrl(`greylist/${encodeURIComponent(key)}`), { method: 'DELETE' }),
  flushGreylist: (options: { search?: string; clients?: boolean }) =>
    request<{ removed: number; removedClients: number }>(apiUrl('greylist/flush'), { method: 'POST', json: { ...(options.search ? { search: options.search } : {}), ...(options.clients ? { clients: true } : {}) } }),

  bayes: () => request<BayesInfo>(apiUrl('bayes')),
  learn: (message: Blob, options: { class: 'spam' | 'ham'; unlearn?: boolean; scope?: string; contentType: string }) =>
    request<LearnResult>(apiUrl('bayes/learn', { class: options.class, unlearn: options.unlearn ? 'true' : undefined, scope: options.scope }), {
      method: 'POST',
      raw: message,
      contentType: options.contentType,
    }),
  check: (message: Blob | string) => request<CheckResult>(apiUrl('check'), { method: 'POST', raw: message, contentType: 'message/rfc822' }),
};
