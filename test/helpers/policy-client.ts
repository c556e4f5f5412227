// A minimal Postfix-like policy client for tests: one persistent connection, one request at a time.
import { connect, type Socket } from 'node:net';

export class PolicyClient {
  private buffer = '';
  private waiting: ((reply: string) => void) | undefined;
  private closed = false;

  private constructor(private readonly socket: Socket) {
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => {
      this.buffer += chunk;
      const end = this.buffer.indexOf('\n\n');
      if (end >= 0 && this.waiting) {
        const reply = this.buffer.slice(0, end);
        this.buffer = this.buffer.slice(end + 2);
        const resolve = this.waiting;
        this.waiting = undefined;
        resolve(reply);
      }
    });
    socket.on('close', () => (this.closed = true));
    socket.on('error', () => (this.closed = true));
  }

  static connect(port: number, host = '127.0.0.1'): Promise<PolicyClient> {
    return new Promise((resolve, reject) => {
      const socket = connect(port, host);
      socket.once('connect', () => resolve(new PolicyClient(socket)));
      socket.once('error', reject);
    });
  }

  get isClosed(): boolean {
    return this.closed;
  }

  /** Sends one request (RCPT-stage defaults overridden by `attrs`) and returns the action value. */
  ask(attrs: Record<string, string> = {}, timeoutMs = 5000): Promise<string> {
    const request = {
      request: 'smtpd_access_policy',
      protocol_state: 'RCPT',
      protocol_name: 'ESMTP',
      client_address: '192.0.2.10',
      client_name: 'mail.example.net',
      helo_name: 'mail.example.net',
      sender: 'alice@example.net',
      recipient: 'bob@example.org',
      ...attrs,
    };
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no policy reply within ${timeoutMs} ms`)), timeoutMs);
      this.waiting = (reply) => {
        clearTimeout(timer);
        resolve(reply.replace(/^action=/, ''));
      };
      this.socket.write(Object.entries(request).map(([k, v]) => `${k}=${v}\n`).join('') + '\n');
    });
  }

  close(): void {
    this.socket.destroy();
  }
}
