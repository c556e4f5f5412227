// Errors of the HTTP API: an ApiError carries its status and a message for the client; input is
// validated with zod and its problems become one 400 message naming the fields; store calls get
// the store's deadline and become 503 past it.
import type { z } from 'zod';

export class ApiError extends Error {
  constructor(
    readonly statusCode: number,
    message: string,
  ) {
    super(message);
  }
}

/** Parses `input` with `schema`, or throws a 400 saying which fields were wrong and why. */
export function validate<T extends z.ZodType>(schema: T, input: unknown, what: string): z.output<T> {
  const parsed = schema.safeParse(input ?? {});
  if (parsed.success) return parsed.data;
  const problems = parsed.error.issues.map((issue) => (issue.path.length > 0 ? `${issue.path.join('.')}: ${issue.message}` : issue.message));
  throw new ApiError(400, `invalid ${what}: ${problems.join('; ')}`);
}

class StoreTimeout extends ApiError {}

/** Waits for a store operation at most `timeoutMs`; past it the request gets 503 (the operation may still finish). */
export async function withDeadline<T>(operation: Promise<T>, timeoutMs: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new StoreTimeout(503, `the store did not answer within ${timeoutMs} ms`)), timeoutMs);
  });
  try {
    return await Promise.race([operation, deadline]);
  } finally {
    clearTimeout(timer);
  }
}
