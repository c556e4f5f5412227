// `rempart serve [--config FILE]`: run the daemon in the foreground until SIGTERM.
import { Daemon } from '../daemon/daemon.js';
import { configOption, loadConfigOrExit, parseCommandArgs } from './common.js';

export const serveUsage = 'rempart serve [--config FILE]            run the daemon (policy, milter, HTTP API, dashboard)';

export async function serve(args: string[]): Promise<number> {
  const { values } = parseCommandArgs(args, configOption);
  const { config, path } = loadConfigOrExit(values.config);
  const daemon = new Daemon({ configPath: path, config });
  daemon.installProcessHandlers();
  try {
    await daemon.start();
  } catch (error) {
    process.stderr.write(`rempart: cannot start: ${(error as Error).message}\n`);
    await daemon.stop('start-up failure');
    return 1;
  }
  return new Promise<number>(() => {}); // runs until a signal ends the process
}
