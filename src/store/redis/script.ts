// A Lua script run on Redis by its SHA-1 (EVALSHA), loaded again with EVAL when the server does not
// know it (after a restart or a SCRIPT FLUSH). Every key a script touches is passed in KEYS and
// belongs to one area (one hash tag, keys.ts), so scripts also run on a Redis Cluster.
import { createHash } from 'node:crypto';
import type { RedisClient } from './connection.js';

export type ScriptArg = string | number | Buffer;

export class RedisScript {
  private readonly sha: string;

  constructor(readonly lua: string) {
    this.sha = createHash('sha1').update(lua).digest('hex');
  }

  /** Runs the script with these keys and arguments; resolves with what it returns. */
  async run(redis: RedisClient, keys: readonly string[], args: readonly ScriptArg[] = []): Promise<unknown> {
    try {
      return await redis.evalsha(this.sha, keys.length, ...keys, ...args);
    } catch (error) {
      if (!(error instanceof Error) || !error.message.startsWith('NOSCRIPT')) throw error;
      return redis.eval(this.lua, keys.length, ...keys, ...args);
    }
  }
}
