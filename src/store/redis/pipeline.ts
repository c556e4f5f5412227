// Several commands in one write and one round trip (an explicit ioredis pipeline: the connections
// do not auto-pipeline, see connection.ts), for reads that ask many keys of one area at once.
import type { RedisClient } from './connection.js';

export type Pipeline = ReturnType<RedisClient['pipeline']>;

/** Runs a pipeline; resolves with each command's reply, or rejects with the first error. */
export async function runPipeline(pipeline: Pipeline): Promise<unknown[]> {
  const replies = (await pipeline.exec()) ?? [];
  return replies.map(([error, reply]) => {
    if (error) throw error;
    return reply;
  });
}
