// `rempart passwd [--password-file FILE]`: prints the scrypt hash of a password (src/http/password.ts)
// to put in `http.password` (or `http.readonly_password`), so the configuration file holds no
// secret. The password is typed twice without echo when standard input is a terminal, else it is
// the first line of standard input or of FILE (the rule --password-file follows everywhere). The
// hash goes to standard output alone, the hint where to put it to standard error.
import { createInterface } from 'node:readline';
import { Writable } from 'node:stream';
import { hashPassword } from '../http/password.js';
import { CommandFailure, parseCommandArgs, UsageError } from './common.js';
import { isHeaderPassword, readPasswordFile } from './remote.js';

export const passwdUsage = `rempart passwd [--password-file FILE]    print the hash of a password for http.password: typed twice on a
                                         terminal, else the first line of standard input or of FILE`;

/** The one-line hint printed (to standard error) after the hash. */
export function passwdHint(hash: string): string {
  return `put the hash in the configuration as http.password (or http.readonly_password), quoted: http: { password: "${hash}" }`;
}

/** The first line of a stream (standard input not on a terminal), without its line end. */
export async function firstLine(input: AsyncIterable<Buffer | string>): Promise<string> {
  let text = '';
  for await (const chunk of input) {
    text += typeof chunk === 'string' ? chunk : chunk.toString('utf8');
    if (text.includes('\n')) break;
  }
  return text.split('\n', 1)[0]!.replace(/\r$/, '');
}

/**
 * Asks for the password twice on a terminal, echoing nothing of what is typed: readline reads the
 * line (in raw mode, so the terminal does not echo either) and writes its echo to a muted stream.
 */
export async function promptPassword(input: NodeJS.ReadableStream, output: NodeJS.WritableStream): Promise<string> {
  let muted = false;
  const sink = new Writable({
    write(chunk: Buffer, _encoding, done) {
      if (!muted) output.write(chunk);
      done();
    },
  });
  const rl = createInterface({ input, output: sink, terminal: true });
  let cancelled = false;
  rl.on('SIGINT', () => {
    cancelled = true;
    rl.close();
  });
  const ask = (prompt: string): Promise<string> =>
    new Promise((resolve, reject) => {
      output.write(prompt);
      muted = true;
      const onClose = () => {
        muted = false;
        output.write('\n');
        reject(new CommandFailure(cancelled ? 'cancelled' : 'no password given'));
      };
      rl.once('close', onClose);
      rl.question('', (answer) => {
        rl.off('close', onClose);
        muted = false;
        output.write('\n');
        resolve(answer);
      });
    });
  try {
    const first = await ask('password: ');
    if (first === '') throw new CommandFailure('empty password: nothing to hash');
    const second = await ask('again: ');
    if (second !== first) throw new CommandFailure('the two passwords differ');
    return first;
  } finally {
    rl.close();
  }
}

export async function passwd(args: string[]): Promise<number> {
  const { values, positionals } = parseCommandArgs(args, { 'password-file': { type: 'string' } }, true);
  if (positionals.length > 0) throw new UsageError(`passwd takes no arguments: the password comes from the terminal, standard input or --password-file\n${passwdUsage}`);
  const file = values['password-file'];
  const password =
    file !== undefined ? readPasswordFile(file) : process.stdin.isTTY ? await promptPassword(process.stdin, process.stderr) : await firstLine(process.stdin);
  if (password === '') throw new CommandFailure('empty password: nothing to hash (give it on the first line of standard input)');
  if (password.trim() !== password) throw new CommandFailure('the password starts or ends with white space, which an Authorization header loses: leave it out');
  const hash = await hashPassword(password);
  process.stdout.write(`${hash}\n`);
  process.stderr.write(`${passwdHint(hash)}\n`);
  if (!isHeaderPassword(password)) {
    process.stderr.write('note: the dashboard login takes this password, but --url cannot send it (an Authorization header carries Latin-1 text only)\n');
  }
  return 0;
}
