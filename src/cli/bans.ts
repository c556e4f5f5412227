// `rempart bans list|add|remove`: list, add and lift client bans in the store (safe while the
// daemon runs; it picks changes up within a second), or with --url through a running daemon's HTTP
// API (remote.ts). Lifting a ban also forgets the address's strikes.
import { BanMatcher } from '../lists/matcher.js';
import { canonicalNetwork } from '../lists/entry.js';
import { openCommandStore } from '../store/open.js';
import type { Ban } from '../store/types.js';
import { configOption, loadConfigOrExit, parseCommandArgs, UsageError } from './common.js';
import { parseExpiry } from './lists.js';
import { remoteFrom, remoteOptions } from './remote.js';
import { remoteStore, type CommandStore } from './remote-store.js';

export const bansUsage = `rempart bans list [--all] [--search TEXT] [--json]
                                         active bans (--all: expired ones not yet removed too)
rempart bans add ADDRESS|CIDR... [--expires DURATION|DATE] [--reason TEXT]
                                         ban by hand (default: until lifted)
rempart bans remove ADDRESS|CIDR...      lift bans`;

const iso = (seconds: number): string => new Date(seconds * 1000).toISOString().replace('.000Z', 'Z');

export function banLine(ban: Ban, now: number): string {
  const expires = ban.expiresAt === 0 ? 'never' : iso(ban.expiresAt) + (ban.expiresAt <= now ? '(expired)' : '');
  return `${ban.network} source=${ban.source} created=${iso(ban.createdAt)} expires=${expires} reason=${JSON.stringify(ban.reason)}`;
}

export async function bans(args: string[]): Promise<number> {
  const [sub, ...rest] = args;
  if (!['list', 'add', 'remove'].includes(sub ?? '')) throw new UsageError(`unknown bans command ${JSON.stringify(sub ?? '')}\n${bansUsage}`);
  const { values, positionals } = parseCommandArgs(
    rest,
    { ...configOption, ...remoteOptions, all: { type: 'boolean' }, search: { type: 'string' }, json: { type: 'boolean' }, expires: { type: 'string' }, reason: { type: 'string' } },
    true,
  );
  const now = Math.floor(Date.now() / 1000);
  if (sub === 'list' && positionals.length > 0) throw new UsageError('bans list takes no addresses (use --search TEXT)');
  if (sub !== 'list' && positionals.length === 0) throw new UsageError(`bans ${sub} needs at least one address or CIDR network\n${bansUsage}`);
  const networks = positionals.map((text) => {
    const parsed = canonicalNetwork(text);
    if (!parsed) throw new UsageError(`${text}: not an IP address or CIDR network`);
    return parsed.network;
  });
  const expiresAt = sub === 'add' ? parseExpiry(values.expires, now) : 0;

  const remote = remoteFrom(values);
  const store: CommandStore = remote ? remoteStore(remote) : openCommandStore(loadConfigOrExit(values.config).config.store);
  try {
    switch (sub) {
      case 'list': {
        const rows = await store.bans.list({ now, includeExpired: values.all, search: values.search });
        for (const row of rows) process.stdout.write((values.json ? JSON.stringify(row) : banLine(row, now)) + '\n');
        if (!values.json) process.stdout.write(`${rows.length} ban(s)\n`);
        return 0;
      }
      case 'add':
        for (const network of networks) {
          const ban = await store.bans.ban({ network, reason: values.reason ?? 'manual ban', source: 'manual', createdAt: now, expiresAt });
          process.stdout.write(`banned ${banLine(ban, now)}\n`);
        }
        return 0;
      case 'remove': {
        let missing = 0;
        for (const network of networks) {
          if ((await store.bans.lift(network)) > 0) {
            process.stdout.write(`lifted the ban of ${network}\n`);
            continue;
          }
          missing++;
          const covering = network.includes('/') ? undefined : new BanMatcher(await store.bans.active(now)).match(network, now);
          process.stderr.write(
            covering ? `rempart: ${network} is not banned itself but lies in the ban of ${covering.network}: remove that\n` : `rempart: ${network} is not banned\n`,
          );
        }
        return missing > 0 ? 1 : 0;
      }
    }
    return 0;
  } finally {
    await store.close();
  }
}
