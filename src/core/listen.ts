// Listen addresses shared by every server: "host:port", "[ipv6]:port" or "unix:/path/to/socket",
// the stale-socket cleanup a unix listener needs after an unclean stop, and binding a server to one.
import { chmodSync, existsSync, unlinkSync } from 'node:fs';
import { connect, type Server } from 'node:net';

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

/**
 * Binds a server to its address: a stale unix socket file is removed first, and a unix socket is
 * made mode 0666 (protect it with its directory). Rejects when the address cannot be bound.
 */
export async function listenOn(server: Server, address: ListenAddress): Promise<void> {
  if (address.kind === 'unix') await removeStaleSocket(address.path);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    const listening = () => {
      server.off('error', reject);
      resolve();
    };
    if (address.kind === 'unix') server.listen(address.path, listening);
    else server.listen(address.port, address.host, listening);
  });
  if (address.kind === 'unix') chmodSync(address.path, 0o666);
}
