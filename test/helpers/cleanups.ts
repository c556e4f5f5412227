// Clean-ups of a test run last-in first-out, each awaited and none skipped when one fails: the
// daemons stop before the Redis they use, and the Redis's keys are dropped before it stops.
//   const cleanups = cleanupsOf(t); cleanups.push(() => redis.close()); ... cleanups.push(() => daemon.stop());
export class Cleanups {
  private readonly steps: (() => unknown)[] = [];

  push(step: () => unknown): void {
    this.steps.push(step);
  }

  async run(): Promise<void> {
    const errors: unknown[] = [];
    for (const step of this.steps.splice(0).reverse()) {
      try {
        await step();
      } catch (error) {
        errors.push(error);
      }
    }
    if (errors.length > 0) throw errors[0];
  }
}

/** Clean-ups run after the test `t`. */
export function cleanupsOf(t: { after(fn: () => unknown): void }): Cleanups {
  const cleanups = new Cleanups();
  t.after(() => cleanups.run());
  return cleanups;
}
