#!/usr/bin/env node
// The `rempart` command: dispatches to one file per command. Each command's module is loaded only
// when it runs (the daemon's HTTP stack is not loaded by `rempart block add`), so commands start fast.
import { CommandFailure, UsageError } from './common.js';
import { VERSION } from '../version.js';

/** The whole usage text: every command's own usage line (this loads every module: --help only). */
async function usage(): Promise<string> {
  const [serve, configCheck, check, filter, learn, bayes, greylist, lists, bans, recipients, storeCopy, passwd, remote] = await Promise.all([
    import('./serve.js'),
    import('./config-check.js'),
    import('./check.js'),
    import('./filter.js'),
    import('./learn.js'),
    import('./bayes.js'),
    import('./greylist.js'),
    import('./lists.js'),
    import('./bans.js'),
    import('./recipients.js'),
    import('./store-copy.js'),
    import('./passwd.js'),
    import('./remote.js'),
  ]);
  return `rempart ${VERSION}: a layered anti-spam gateway for Postfix

${serve.serveUsage}
${configCheck.configCheckUsage}
${check.checkUsage}
${filter.filterUsage}
${learn.learnUsage}
${bayes.bayesUsage}
${greylist.greylistUsage}
${lists.listsUsage}
${bans.bansUsage}
${recipients.recipientsUsage}
${storeCopy.storeCopyUsage}
${passwd.passwdUsage}
rempart --version | --help
${remote.remoteUsage}

--config FILE defaults to $REMPART_CONFIG, then /etc/rempart/rempart.yaml; without either,
the embedded defaults apply. See README.md and docs/configuration.md.
`;
}

async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  switch (command) {
    case 'serve':
      return (await import('./serve.js')).serve(rest);
    case 'config':
      if (rest[0] === 'check') return (await import('./config-check.js')).configCheck(rest.slice(1));
      throw new UsageError(`unknown config command ${JSON.stringify(rest[0] ?? '')}`);
    case 'check':
      return (await import('./check.js')).check(rest);
    case 'filter':
      return (await import('./filter.js')).filter(rest);
    case 'learn':
      return (await import('./learn.js')).learn(rest);
    case 'bayes':
      return (await import('./bayes.js')).bayes(rest);
    case 'greylist':
      return (await import('./greylist.js')).greylist(rest);
    case 'allow':
    case 'block':
      return (await import('./lists.js')).lists(command, rest);
    case 'bans':
      return (await import('./bans.js')).bans(rest);
    case 'recipients':
      return (await import('./recipients.js')).recipients(rest);
    case 'store':
      if (rest[0] === 'copy') return (await import('./store-copy.js')).storeCopy(rest.slice(1));
      throw new UsageError(`unknown store command ${JSON.stringify(rest[0] ?? '')}`);
    case 'passwd':
      return (await import('./passwd.js')).passwd(rest);
    case '--version':
    case 'version':
      process.stdout.write(`${VERSION}\n`);
      return 0;
    case undefined:
    case 'help':
    case '--help':
    case '-h':
      process.stdout.write(await usage());
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
    } else if (error instanceof CommandFailure) {
      process.stderr.write(`rempart: ${error.message}\n`);
      process.exitCode = 1;
    } else {
      process.stderr.write(`rempart: ${(error as Error).stack ?? String(error)}\n`);
      process.exitCode = 3;
    }
  },
);
