#!/usr/bin/env node
// The `rempart` command: dispatches to one file per command.
import { configCheck, configCheckUsage } from './config-check.js';
import { UsageError } from './common.js';
import { greylist, greylistUsage } from './greylist.js';
import { lists, listsUsage } from './lists.js';
import { bans, bansUsage } from './bans.js';
import { recipients, recipientsUsage } from './recipients.js';
import { serve, serveUsage } from './serve.js';
import { check, checkUsage } from './check.js';
import { filter, filterUsage } from './filter.js';
import { learn, learnUsage } from './learn.js';
import { bayes, bayesUsage } from './bayes.js';
import { VERSION } from '../version.js';

const usage = `rempart ${VERSION}: a layered anti-spam gateway for Postfix

${serveUsage}
${configCheckUsage}
${checkUsage}
${filterUsage}
${learnUsage}
${bayesUsage}
${greylistUsage}
${listsUsage}
${bansUsage}
${recipientsUsage}
rempart --version | --help

--config FILE defaults to $REMPART_CONFIG, then /etc/rempart/rempart.yaml; without either,
the embedded defaults apply. See README.md and docs/configuration.md.
`;

async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  switch (command) {
    case 'serve':
      return serve(rest);
    case 'config':
      if (rest[0] === 'check') return configCheck(rest.slice(1));
      throw new UsageError(`unknown config command ${JSON.stringify(rest[0] ?? '')}`);
    case 'check':
      return check(rest);
    case 'filter':
      return filter(rest);
    case 'learn':
      return learn(rest);
    case 'bayes':
      return bayes(rest);
    case 'greylist':
      return greylist(rest);
    case 'allow':
    case 'block':
      return lists(command, rest);
    case 'bans':
      return bans(rest);
    case 'recipients':
      return recipients(rest);
    case '--version':
    case 'version':
      process.stdout.write(`${VERSION}\n`);
      return 0;
    case undefined:
    case 'help':
    case '--help':
    case '-h':
      process.stdout.write(usage);
      return command === undefined ? 2 : 0;
    default:
      throw new UsageError(`unknown command ${JSON.stringify(command)}`);
  }
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    if (error instanceof UsageError) {
      process.stderr.write(`rempart: ${error.message}\nrun "rempart --help" for the commands\n`);
      process.exitCode = 2;
    } else {
      process.stderr.write(`rempart: ${(error as Error).stack ?? String(error)}\n`);
      process.exitCode = 3;
    }
  },
);
