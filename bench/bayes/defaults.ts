// The classifier parameters a configuration file that sets nothing gives (src/config/schema.ts,
// section bayes): what the Bayes benchmarks compare against bogofilter unless told otherwise.
import type { ClassifierParams } from '../../src/classifier/robinson.js';
import { parseConfigText } from '../../src/config/loader.js';

/** The `bayes` parameters of an empty configuration: the defaults users get. */
export function configDefaults(): ClassifierParams {
  const { robs, robx, min_dev, max_tokens, spam_cutoff, ham_cutoff, min_messages } = parseConfigText('', 'defaults').bayes;
  return { robs, robx, min_dev, max_tokens, spam_cutoff, ham_cutoff, min_messages };
}
