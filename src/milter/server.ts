// The milter server Postfix's smtpd_milters talks to: TCP ("host:port", "[v6]:port") or a unix
// socket ("unix:/path"), TCP_NODELAY, a connection cap, an idle timeout, and a drain on close that
// lets sessions in progress finish. Bytes are framed into packets (codec.ts) and handed one at a
// time, in order, to the connection's MilterSession; a protocol error is logged once and closes
// that connection only. Nothing here throws out of a socket handler.
import { createServer, type Server, type Socket } from 'node:net';
import type { Logger } from '../core/log.js';
import { formatListen, listenOn, parseListen, type ListenAddress } from '../core/listen.js';
import { MilterPacketParser, MilterProtocolError, type MilterPacket } from './codec.js';
import type { MilterHandler } from './handler.js';
import { MilterSession, type MilterCounters, type MilterSessionOptions, type PacketOutcome } from './session.js';

/** The `milter` configuration section's values (durations in seconds, sizes in bytes). */
export interface MilterServerOptions extends MilterSessionOptions {
  listen: string;
  /** Connections served at once; more are refused. */
  max_connections: number;
  /** Seconds without a packet from Postfix after which a connection is closed. */
  idle_timeout: number;
  /** Largest packet accepted, in bytes (command byte and payload). */
  max_packet_size: number;
  /** Seconds sessions in progress may take to finish when the server closes. */
  drain_timeout: number;
}

export interface MilterServerStats extends MilterCounters {
  /** Connections accepted since the start. */
  connections: number;
  /** Connections open now. */
  openConnections: number;
  /** Connections refused because max_connections were open. */
  refusedConnections: number;
  /** Connections closed for a malformed or misplaced packet. */
  protocolErrors: number;
}

/** One accepted socket: its parser, its session and the packets waiting for their turn. */
class MilterConnection {
  private readonly parser: MilterPacketParser;
  /** Packets received and not yet handled; `next` is the first of them. */
  private queue: MilterPacket[] = [];
  private next = 0;
  /** A handler call is in progress: later packets wait, and the socket is paused. */
  private busy = false;
  /** Quit or a protocol error: nothing more is read or answered. */
  private finished = false;

  constructor(
    readonly socket: Socket,
    private readonly session: MilterSession,
    options: MilterServerOptions,
    private readonly log: Logger,
    private readonly onProtocolError: () => void,
  ) {
    this.parser = new MilterPacketParser(options.max_packet_size);
    socket.setTimeout(options.idle_timeout * 1000);
    socket.on('timeout', () => {
      if (this.busy) return; // waiting for the handler, not for Postfix; our reply re-arms the timer
      this.log.info({ idle_timeout_s: options.idle_timeout }, 'milter connection idle; closing');
      this.finished = true;
      socket.destroy();
    });
    socket.on('data', (chunk: Buffer) => this.receive(chunk));
    socket.on('error', (error) => this.log.debug({ err: error }, 'milter connection error'));
  }

  /** Whether nothing of a session is left to finish (for the drain). */
  get ended(): boolean {
    return this.finished || this.socket.destroyed;
  }

  private receive(chunk: Buffer): void {
    if (this.finished) return;
    let packets: MilterPacket[];
    try {
      packets = this.parser.push(chunk);
    } catch (error) {
      this.fail(error);
      return;
    }
    for (const packet of packets) this.queue.push(packet);
    this.pump();
  }

  /** Handles queued packets in order; stops at a handler call and resumes when it is answered. */
  private pump(): void {
    while (!this.busy && !this.finished && this.next < this.queue.length) {
      const packet = this.queue[this.next++]!;
      let outcome: PacketOutcome | Promise<PacketOutcome>;
      try {
        outcome = this.session.handle(packet);
      } catch (error) {
        this.fail(error);
        return;
      }
      if (outcome instanceof Promise) {
        this.busy = true;
        this.socket.pause();
        outcome.then(
          (answered) => {
            this.busy = false;
            this.apply(answered);
            if (this.finished) return;
            this.socket.resume();
            this.pump();
          },
          (error: unknown) => this.fail(error),
        );
        return;
      }
      this.apply(outcome);
    }
    if (this.next === this.queue.length) {
      this.queue = [];
      this.next = 0;
    }
  }

  private apply(outcome: PacketOutcome): void {
    if (this.socket.destroyed) {
      this.finished = true;
      return;
    }
    if (outcome.reply) this.socket.write(outcome.reply);
    if (outcome.quit) {
      this.finished = true;
      this.socket.end();
    }
  }

  private fail(error: unknown): void {
    this.finished = true;
    if (error instanceof MilterProtocolError) {
      this.onProtocolError();
      this.log.warn({ reason: error.message }, 'milter protocol error; closing the connection');
    } else {
      this.log.error({ err: error }, 'milter session failed; closing the connection');
    }
    this.socket.destroy();
  }
}

export class MilterServer {
  private server: Server | undefined;
  private readonly connections = new Set<MilterConnection>();
  private readonly address: ListenAddress;
  private draining = false;
  /** Called when the last connection closes during a drain. */
  private onAllClosed: (() => void) | undefined;
  private sequence = 0;
  private readonly counters: Omit<MilterServerStats, 'openConnections'> = {
    connections: 0,
    refusedConnections: 0,
    protocolErrors: 0,
    messages: 0,
    handlerTimeouts: 0,
    handlerErrors: 0,
  };

  constructor(
    private readonly options: MilterServerOptions,
    private readonly handler: MilterHandler,
    private readonly log: Logger,
  ) {
    this.address = parseListen(options.listen);
  }

  /** Where it listens, with the real port when 0 was asked for. */
  listening(): string {
    const bound = this.server?.address();
    if (this.address.kind === 'tcp' && bound && typeof bound === 'object') return formatListen({ ...this.address, port: bound.port });
    return formatListen(this.address);
  }

  stats(): MilterServerStats {
    return { ...this.counters, openConnections: this.connections.size };
  }

  async start(): Promise<void> {
    const server = createServer({ noDelay: true }, (socket) => this.accept(socket));
    server.maxConnections = this.options.max_connections;
    server.on('drop', (data) => {
      this.counters.refusedConnections += 1;
      this.log.warn({ peer: data?.remoteAddress, max_connections: this.options.max_connections }, 'milter connection refused: too many connections');
    });
    const address = this.address;
    await listenOn(server, address);
    server.on('error', (error) => this.log.error({ err: error }, 'milter listener error'));
    this.server = server;
  }

  private accept(socket: Socket): void {
    if (this.draining) {
      socket.destroy();
      return;
    }
    this.counters.connections += 1;
    const id = String(++this.sequence);
    const peer = socket.remoteAddress ? `${socket.remoteAddress}:${socket.remotePort}` : 'unix';
    const log = this.log.child({ session: id, peer });
    const session = new MilterSession(id, this.options, this.handler, log, this.counters);
    const connection = new MilterConnection(socket, session, this.options, log, () => (this.counters.protocolErrors += 1));
    this.connections.add(connection);
    socket.on('close', () => {
      this.connections.delete(connection);
      session.close();
      if (this.connections.size === 0) this.onAllClosed?.();
    });
  }

  /** Stops accepting, lets sessions in progress finish for up to drain_timeout, then closes the rest. */
  async close(): Promise<void> {
    this.draining = true;
    const server = this.server;
    const closed = new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
    for (const connection of this.connections) if (connection.ended) connection.socket.destroy();
    if (this.connections.size > 0) {
      let timer: NodeJS.Timeout | undefined;
      await new Promise<void>((resolve) => {
        this.onAllClosed = resolve;
        timer = setTimeout(resolve, this.options.drain_timeout * 1000);
      });
      clearTimeout(timer);
      this.onAllClosed = undefined;
      if (this.connections.size > 0) this.log.warn({ sessions: this.connections.size }, 'milter sessions still open after drain_timeout; closing them');
      for (const connection of this.connections) connection.socket.destroy();
    }
    await closed;
  }
}
