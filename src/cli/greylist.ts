// `rempart greylist list|flush|stats`: inspect and clear the greylist tables directly in the store
// (safe while the daemon runs: SQLite WAL), or with --url through a running daemon's HTTP API
// (remote.ts; the statistics then use the daemon's auto-allow threshold).
import { openCommandStore } from '../store/open.js';
import type { TripletRow } from '../store/types.js';
import { CommandFailure, configOption, loadConfigOrExit, parseCommandArgs, UsageError } from './common.js';
import { remoteFrom, remoteOptions, type RemoteApi } from './remote.js';
import { RemoteGreylist, remoteStore, type CommandStore } from './remote-store.js';

export const greylistUsage = `rempart greylist list [--search TEXT] [--waiting|--passed] [--limit N] [--offset N] [--json]
rempart greylist flush [--search TEXT] [--clients]
rempart greylist stats [--json]`;

const iso = (seconds: number): string => (seconds > 0 ? new Date(seconds * 1000).toISOString().replace('.000Z', 'Z') : '-');

function tripletLine(row: TripletRow): string {
  const who = row.labels ? `${row.labels.clientNet} ${row.labels.sender || '<>'} ${row.labels.recipient}` : `(hashed) ${row.key}`;
  const state = row.passedAt > 0 ? `passed ${iso(row.passedAt)}` : 'waiting';
  return `${who}  first=${iso(row.firstSeen)} last=${iso(row.lastSeen)} attempts=${row.attempts} ${state}`;
}

/** The daemon's greylist.auto_allow_clients, from its effective configuration. */
async function daemonAutoAllowThreshold(remote: RemoteApi): Promise<number> {
  const { greylist } = await remote.request<{ greylist?: { auto_allow_clients?: number } }>('GET', '/api/config');
  if (typeof greylist?.auto_allow_clients !== 'number') throw new CommandFailure(`GET /api/config of ${remote.baseUrl} has no greylist.auto_allow_clients`);
  return greylist.auto_allow_clients;
}

export async function greylist(args: string[]): Promise<number> {
  const [sub, ...rest] = args;
  const { values } = parseCommandArgs(rest, {
    ...configOption,
    ...remoteOptions,
    search: { type: 'string' },
    waiting: { type: 'boolean' },
    passed: { type: 'boolean' },
    clients: { type: 'boolean' },
    limit: { type: 'string' },
    offset: { type: 'string' },
    json: { type: 'boolean' },
  });
  if (!['list', 'flush', 'stats'].includes(sub ?? '')) throw new UsageError(`unknown greylist command ${JSON.stringify(sub ?? '')}\n${greylistUsage}`);
  const limit = Number(values.limit ?? 100);
  const offset = Number(values.offset ?? 0);
  if (!Number.isInteger(limit) || limit < 1 || !Number.isInteger(offset) || offset < 0) throw new UsageError('--limit and --offset take whole numbers');
  if (values.waiting && values.passed) throw new UsageError('--waiting and --passed exclude each other');
  const remote = remoteFrom(values);
  const config = remote ? undefined : loadConfigOrExit(values.config).config;
  const store: CommandStore = remote ? remoteStore(remote) : openCommandStore(config!.store);
  try {
    switch (sub) {
      case 'list': {
        const waiting = values.waiting ? true : values.passed ? false : undefined;
        const rows = await store.greylist.listTriplets({ search: values.search, waiting, limit, offset });
        for (const row of rows) process.stdout.write((values.json ? JSON.stringify(row) : tripletLine(row)) + '\n');
        if (!values.json) process.stdout.write(`${rows.length} triplet(s)${rows.length === limit ? ` (more with --offset ${offset + limit})` : ''}\n`);
        return 0;
      }
      case 'flush': {
        if (store.greylist instanceof RemoteGreylist) {
          // The API forgets the tallies in the same request as the triplets.
          const { removed, removedClients } = await store.greylist.flush(values.search, values.clients === true);
          process.stdout.write(`removed ${removed} triplet(s)\n`);
          if (values.clients) process.stdout.write(`removed ${removedClients} auto-allow client(s)\n`);
          return 0;
        }
        const removed = await store.greylist.flushTriplets({ search: values.search });
        process.stdout.write(`removed ${removed} triplet(s)\n`);
        if (values.clients) process.stdout.write(`removed ${await store.greylist.flushClients()} auto-allow client(s)\n`);
        return 0;
      }
      case 'stats': {
        const threshold = config ? config.greylist.auto_allow_clients : await daemonAutoAllowThreshold(remote!);
        const stats = await store.greylist.stats(threshold);
        if (values.json) process.stdout.write(JSON.stringify(stats) + '\n');
        else
          process.stdout.write(
            `triplets: ${stats.triplets} (waiting ${stats.waiting}, passed ${stats.passed})\nclients counted: ${stats.clients} (auto-allowed ${stats.autoAllowed}, threshold ${threshold})\n`,
          );
        return 0;
      }
    }
    return 0;
  } finally {
    await store.close();
  }
}
