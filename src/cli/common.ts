// What every command shares: argument parsing with clear errors, loading the configuration, and
// the exit codes (0 done, 1 a problem was found, 2 the command line was wrong).
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { ConfigError, loadConfig, resolveConfigPath } from '../config/loader.js';
import type { Config } from '../config/schema.js';

export class UsageError extends Error {}

/** A problem that ends a command with its message and exit code 1 (e.g. the daemon's API refused a request). */
export class CommandFailure extends Error {}

export type Options = NonNullable<ParseArgsConfig['options']>;

export function parseCommandArgs<O extends Options>(args: string[], options: O, allowPositionals = false) {
  try {
    return parseArgs({ args, options, allowPositionals, strict: true });
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
}

export const configOption = { config: { type: 'string', short: 'c' } } as const;

/** Loads the configuration named by --config (or the default), printing problems and exiting 1 when invalid. */
export function loadConfigOrExit(explicitPath: string | undefined): { config: Config; path: string | undefined } {
  const path = resolveConfigPath(explicitPath);
  try {
    return { config: loadConfig(path), path };
  } catch (error) {
    if (error instanceof ConfigError) {
      process.stderr.write(`rempart: invalid configuration\n${error.message}\n`);
      process.exit(1);
    }
    throw error;
  }
}
