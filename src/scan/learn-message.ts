// Learning one raw message into the Bayesian filter, as `rempart learn` and POST /api/bayes/learn
// do it: parsed and tokenized as the daemon does (src/classifier/tokenizer.ts), learned under the
// message's digest so learning it again counts once and learning it as the other class moves it.
import { tokenize } from '../classifier/tokenizer.js';
import type { Config } from '../config/schema.js';
import { parseMessage } from '../mime/parse.js';
import type { BayesClass, LearnOutcome, Store } from '../store/types.js';
import { messageDigest } from './message-digest.js';

/** The message's distinct tokens, with the archive settings of the attachment policy. */
export async function messageTokens(raw: Uint8Array, attachments: Config['attachments']): Promise<string[]> {
  return tokenize(
    await parseMessage(raw, {
      size: raw.length,
      scanArchives: attachments.enabled && attachments.scan_archives,
      archiveMaxDepth: attachments.archive_max_depth,
      archiveMaxEntries: attachments.archive_max_entries,
    }),
  );
}

/** Learns (or, with `unlearn`, forgets) one message in the database `scope` ('' global). */
export async function learnRawMessage(store: Store, config: Config, scope: string, kind: BayesClass, raw: Uint8Array, unlearn: boolean): Promise<LearnOutcome> {
  const tokens = await messageTokens(raw, config.attachments);
  return store.bayes.learn(scope, { digest: messageDigest(raw), kind, tokens, now: Math.floor(Date.now() / 1000), unlearn });
}
