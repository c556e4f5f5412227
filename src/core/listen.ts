// Listen addresses shared by every server: "host:port", "[ipv6]:port" or "unix:/path/to/socket",
// and the stale-socket cleanup a unix listener needs after an unclean stop.
import { existsSync, unlinkSync } from 'node:fs';
import { connect } from 'node:net';

export type ListenAddress = { kind: 'tcp'; host: string; port: number } | { kind: 'unix'; path: string };

export function parseListen(text: string): ListenAddress {
  if (text.startsWith('unix:')) return { kind: 'unix', path: text.slice(5) };
  const match = /^(?:\[([^\]]+)\]|([^:]+)):(\d+)$/.exec(text);
  if (!match) throw new Error(`bad listen address ${JSON.stringify(text)}`);
  const port = Number(match[3]);
  if (port > 65535) throw new Error(`bad port in listen address ${JSON.stringify(text)}`);
  return { kind: 'tcp', host: match[1] ?? match[2]!, port };
}

export function formatListen(address: ListenAddress): string {
  if (address.kind === 'unix') return `unix:${address.path}`;
  return address.host.includes(':') ? `[${address.host}]:${address.port}` : `${address.host}:${address.port}`;
}

/** Removes a unix socket file left by a previous run, unless something still answers on it. */
export async function removeStaleSocket(path: string): Promise<void> {
  if (!existsSync(path)) return;
  const alive = await new Promise<boolean>((resolve) => {
    const socket = connect(path);
    const timer = setTimeout(() => (socket.destroy(), resolve(true)), 1000);
    socket.once('connect', () => (clearTimeout(timer), socket.destroy(), resolve(true)));
    socket.once('error', () => (clearTimeout(timer), resolve(false)));
  });
  if (alive) throw new Error(`another process is listening on ${path}`);
  unlinkSync(path);
}
