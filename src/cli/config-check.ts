// `rempart config check [--config FILE]`: validate the configuration and the files it names
// (allow lists), print every problem with its file and line, exit 1 when there is any.
import { ConfigError, loadConfig, resolveConfigPath } from '../config/loader.js';
import { systemClock } from '../core/clock.js';
import { createLogger } from '../core/log.js';
import { Pipeline } from '../core/pipeline.js';
import { CHECKS } from '../core/registry.js';
import type { Store } from '../store/types.js';
import type { Config } from '../config/schema.js';
import { describeRedis } from '../store/redis/connection.js';
import { configOption, parseCommandArgs } from './common.js';
import { resolverFromConfig } from '../dns/from-config.js';

export const configCheckUsage = 'rempart config check [--config FILE]     validate the configuration; print problems with line numbers';

/** A store that is never opened: preparing checks must not touch it. */
const unopenedStore = new Proxy({} as Store, {
  get: () => {
    throw new Error('config check does not open the store');
  },
});

export async function configCheck(args: string[]): Promise<number> {
  const { values } = parseCommandArgs(args, configOption);
  const path = resolveConfigPath(values.config);
  let config;
  try {
    config = loadConfig(path);
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    process.stderr.write(`${error.message}\n${error.problems.length} problem(s) in ${path}\n`);
    return 1;
  }
  const quiet = createLogger('error', 'text', { write: () => true }).log;
  const pipeline = new Pipeline(CHECKS, { config, store: unopenedStore, dns: resolverFromConfig(config.dns), clock: systemClock, log: quiet });
  for (const problem of pipeline.problems) process.stderr.write(`${problem.check}: ${problem.message}\n`);
  const source = path ?? '(no file: embedded defaults)';
  if (pipeline.problems.length > 0) {
    process.stderr.write(`${pipeline.problems.length} problem(s) in files named by ${source}\n`);
    return 1;
  }
  process.stdout.write(`configuration OK: ${source}\nchecks enabled: ${pipeline.enabledChecks().join(', ') || 'none'}\nstore: ${storeSummary(config.store)}\npolicy: ${config.policy.enabled ? config.policy.listen : 'off'}\nmilter: ${config.milter.enabled ? config.milter.listen : 'off'}\n`);
  return 0;
}

/** The store a configuration names, as `describe()` of the opened store says it (the password hidden). */
function storeSummary(store: Config['store']): string {
  return store.backend === 'sqlite' ? `sqlite ${store.path}` : describeRedis(store.redis);
}
