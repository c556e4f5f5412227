// The Postfix policy delegation server (check_policy_service): TCP or unix socket, many requests per
// connection answered in order, limits on input, an idle timeout, a connection cap, and a drain on
// stop that lets in-flight requests finish. Malformed input is logged and the connection closed
// without a reply (Postfix then retries and applies its default action); nothing crashes.
import { createServer, type Server, type Socket } from 'node:net';
import type { Logger } from '../core/log.js';
import { formatListen, listenOn, parseListen, type ListenAddress } from '../core/listen.js';
import { encodePolicyReply, PolicyProtocolError, PolicyRequestParser, type PolicyAttributes, type PolicyLimits } from './codec.js';

export interface PolicyServerOptions extends PolicyLimits {
  listen: string;
  /** Seconds of silence after which a connection is closed. */
  idleTimeout: number;
  maxConnections: number;
  log: Logger;
  /** Answers one request with the text after `action=`. Should not throw; if it does, DUNNO is sent. */
  handle: (attributes: PolicyAttributes) => Promise<string>;
}

interface Connection {
  socket: Socket;
  peer: string;
  busy: boolean;
  queue: PolicyAttributes[];
}

export class PolicyServer {
  private server: Server | undefined;
  private readonly connections = new Set<Connection>();
  private draining = false;
  private address: ListenAddress;
  private options: PolicyServerOptions;

  constructor(options: PolicyServerOptions) {
    this.options = options;
    this.address = parseListen(options.listen);
  }

  /** Applies new limits and timeouts to connections opened from now on (SIGHUP). */
  updateOptions(options: Omit<PolicyServerOptions, 'listen'>): void {
    this.options = { ...options, listen: this.options.listen };
    if (this.server) this.server.maxConnections = options.maxConnections;
  }

  /** Where it listens, with the real port when 0 was asked for. */
  listening(): string {
    const bound = this.server?.address();
    if (this.address.kind === 'tcp' && bound && typeof bound === 'object') return formatListen({ ...this.address, port: bound.port });
    return formatListen(this.address);
  }

  async start(): Promise<void> {
    const server = createServer({ noDelay: true }, (socket) => this.accept(socket));
    server.maxConnections = this.options.maxConnections;
    server.on('drop', (data) => this.options.log.warn({ peer: data?.remoteAddress, max_connections: this.options.maxConnections }, 'policy connection refused: too many connections'));
    const address = this.address;
    await listenOn(server, address);
    server.on('error', (error) => this.options.log.error({ err: error }, 'policy listener error'));
    this.server = server;
  }

  private accept(socket: Socket): void {
    const peer = socket.remoteAddress ? `${socket.remoteAddress}:${socket.remotePort}` : 'unix';
    if (this.draining) {
      socket.destroy();
      return;
    }
    const connection: Connection = { socket, peer, busy: false, queue: [] };
    const parser = new PolicyRequestParser(this.options);
    this.connections.add(connection);
    socket.setEncoding('utf8');
    socket.setTimeout(this.options.idleTimeout * 1000);
    socket.on('timeout', () => {
      this.options.log.debug({ peer }, 'policy connection idle, closing');
      socket.destroy();
    });
    socket.on('data', (chunk: string) => {
      let requests: PolicyAttributes[];
      try {
        requests = parser.push(chunk);
      } catch (error) {
        const reason = error instanceof PolicyProtocolError ? error.message : String(error);
        this.options.log.warn({ peer, reason }, 'malformed policy request; closing the connection without a reply');
        socket.destroy();
        return;
      }
      if (requests.length === 0) return;
      connection.queue.push(...requests);
      void this.serve(connection);
    });
    socket.on('error', (error) => this.options.log.debug({ peer, err: error }, 'policy connection error'));
    socket.on('close', () => this.connections.delete(connection));
  }

  /** Answers queued requests one after the other, in order. */
  private async serve(connection: Connection): Promise<void> {
    if (connection.busy) return;
    connection.busy = true;
    while (connection.queue.length > 0 && !connection.socket.destroyed) {
      const request = connection.queue.shift()!;
      let action: string;
      try {
        action = await this.options.handle(request);
      } catch (error) {
        this.options.log.error({ peer: connection.peer, err: error }, 'policy request failed; answering DUNNO');
        action = 'DUNNO';
      }
      if (!connection.socket.destroyed) connection.socket.write(encodePolicyReply(action));
    }
    connection.busy = false;
    if (this.draining) connection.socket.end();
  }

  /** Stops accepting, lets in-flight requests finish for up to `drainSeconds`, then closes everything. */
  async stop(drainSeconds: number): Promise<void> {
    this.draining = true;
    const closed = new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
    for (const connection of this.connections) if (!connection.busy) connection.socket.end();
    const deadline = Date.now() + drainSeconds * 1000;
    while (this.connections.size > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    for (const connection of this.connections) connection.socket.destroy();
    await closed;
  }
}
