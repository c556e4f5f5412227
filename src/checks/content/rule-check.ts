// The shape shared by the content-rule checks (headers, HTML, links): run at the end of the
// message when content.enabled is on, turn the message into scored symbols, report them if any.
import type { Config } from '../../config/schema.js';
import type { CheckDescriptor, CheckOutcome, SymbolHit } from '../../core/check.js';
import type { ParsedMessage } from '../../core/message.js';
import type { Task } from '../../core/task.js';

/** Findings of one message; `prepare` runs once per configuration, `find` once per message. */
export function contentRuleCheck<Prepared>(
  name: string,
  prepare: (config: Config) => Prepared,
  find: (message: ParsedMessage, task: Task, prepared: Prepared) => SymbolHit[],
): CheckDescriptor {
  return {
    name,
    stages: ['eom'],
    timeoutMs: 5_000,
    create: ({ config }) => {
      if (!config.content.enabled) return undefined;
      const prepared = prepare(config);
      return {
        evaluate: (task): CheckOutcome | undefined => {
          if (!task.message) return undefined;
          const symbols = find(task.message, task, prepared);
          return symbols.length > 0 ? { symbols } : undefined;
        },
      };
    },
  };
}
