// The main thread's handle on the SQLite writer thread: sends requests, matches replies, restarts
// the thread if it dies (its in-flight requests then fail, and their callers decide what to do).
import { Worker } from 'node:worker_threads';
import type { WriterInit, WriterReply, WriterRequest } from './writer-protocol.js';

type Request = WriterRequest extends infer R ? (R extends WriterRequest ? Omit<R, 'id'> : never) : never;
type Success = Extract<WriterReply, { ok: true }>;

export class SqliteWriter {
  private worker: Worker | undefined;
  private nextId = 1;
  private readonly waiting = new Map<number, { kind: Request['kind']; resolve: (reply: Success) => void; reject: (error: Error) => void }>();

  constructor(
    private readonly init: WriterInit,
    private readonly onError: (error: unknown) => void,
  ) {}

  private start(): Worker {
    const worker = new Worker(new URL('./writer-worker.js', import.meta.url), { workerData: this.init });
    worker.unref();
    worker.on('message', (reply: WriterReply) => {
      // id -1: a failure of the writer's own background work (the history's bulk indexing).
      if (reply.id === -1 && !reply.ok) return this.onError(new Error(reply.error));
      const waiter = this.waiting.get(reply.id);
      if (!waiter) return;
      this.waiting.delete(reply.id);
      if (this.waiting.size === 0) worker.unref();
      if (reply.ok) waiter.resolve(reply);
      else waiter.reject(new Error(`store writer thread: ${waiter.kind} failed: ${reply.error}`));
    });
    const fail = (error: Error) => {
      if (this.worker !== worker) return;
      this.worker = undefined;
      this.onError(error);
      for (const waiter of this.waiting.values()) waiter.reject(error);
      this.waiting.clear();
    };
    worker.on('error', fail);
    worker.on('exit', (code) => fail(new Error(`store writer thread exited (code ${code})`)));
    return worker;
  }

  /** Sends one request; resolves when the writer has applied it. */
  send(request: Request): Promise<Success> {
    if (!this.worker) this.worker = this.start();
    const worker = this.worker;
    const id = this.nextId++;
    return new Promise<Success>((resolve, reject) => {
      this.waiting.set(id, { kind: request.kind, resolve, reject });
      worker.ref(); // keep the process alive while a write is under way (the CLI waits for it)
      // One JSON string clones much faster than the structured clone of many small objects.
      worker.postMessage(JSON.stringify({ ...request, id }));
    });
  }

  /** Waits for the requests under way (up to `timeoutMs`), then stops the thread. */
  async close(timeoutMs = 10_000): Promise<void> {
    const worker = this.worker;
    if (!worker) return;
    const deadline = Date.now() + timeoutMs;
    while (this.waiting.size > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 5));
    this.worker = undefined;
    const exited = new Promise<void>((resolve) => worker.once('exit', () => resolve()));
    worker.ref();
    worker.postMessage('close');
    const timer = setTimeout(() => void worker.terminate(), Math.max(100, deadline - Date.now()));
    await exited;
    clearTimeout(timer);
  }
}
