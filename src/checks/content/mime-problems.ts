// What the MIME analysis (src/mime/parse.ts) could not do cleanly, as symbols: MIME_MALFORMED when
// it met problems (a missing closing boundary, invalid base64, header lines that are not headers,
// a parse that failed...), SCAN_TRUNCATED (score 0, for the record) when the message was larger
// than milter.max_scan_size and only its start was scanned.
import type { CheckDescriptor, SymbolHit } from '../../core/check.js';

/** Malformed MIME is common in spam and rare from real mailers, but a weak sign on its own. */
const MIME_MALFORMED_SCORE = 1;

export const mimeProblemsCheck: CheckDescriptor = {
  name: 'mime-problems',
  stages: ['eom'],
  timeoutMs: 1000,
  create: ({ config }) => ({
    evaluate: (task) => {
      const message = task.message;
      if (!message) return undefined;
      const symbols: SymbolHit[] = [];
      if (message.problems.length > 0) symbols.push({ name: 'MIME_MALFORMED', score: MIME_MALFORMED_SCORE, description: `MIME problems: ${message.problems.join('; ')}` });
      if (message.truncated) {
        symbols.push({ name: 'SCAN_TRUNCATED', score: 0, description: `only the first ${config.milter.max_scan_size} bytes of ${message.size} were scanned` });
      }
      return symbols.length > 0 ? { symbols } : undefined;
    },
  }),
};
