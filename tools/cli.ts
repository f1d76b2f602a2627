/**
 * The `nfqwall` command line: one program, one module per subcommand under tools/commands/.
 * Each module exports `register(program)`, adds its command, and sets `process.exitCode`-style
 * results by resolving the promise returned from its action to an exit code.
 */
import { Command, CommanderError } from 'commander';
import { EXIT_USAGE } from './exit-codes';
import { commandModules } from './commands';

export type ExitCodeSink = (code: number) => void;

let pipeGuardInstalled = false;

export async function main(argv: string[]): Promise<number> {
  if (!pipeGuardInstalled) {
    // `nfqwall ... | head` closes the pipe early: that is not an error worth a stack trace.
    pipeGuardInstalled = true;
    process.stdout.on('error', (err: NodeJS.ErrnoException) => {
      if (err.code === 'EPIPE') process.exit(0);
      throw err;
    });
  }
  const program = new Command();
  let exitCode = 0;
  const setExit: ExitCodeSink = (code) => {
    exitCode = code;
  };
  program
    .name('nfqwall')
    .description('Userspace NFQUEUE firewall enforcing Calico projectcalico.org/v3 host-endpoint policy')
    .version(readVersion(), '-V, --version')
    .showHelpAfterError('(run with --help for usage)')
    .exitOverride();
  // Help printed for a missing subcommand is an error, help asked for is not. commander's own exit
  // code for it follows process.exitCode, so the kind of help is taken from its help event.
  let helpForError = false;
  program.on('beforeAllHelp', (ctx: { error: boolean }) => {
    helpForError = ctx.error;
  });
  for (const mod of commandModules) mod.register(program, setExit);
  program.commands.forEach((c) => c.exitOverride());
  try {
    await program.parseAsync(argv);
  } catch (err) {
    if (err instanceof CommanderError) {
      // --help and --version are not errors; everything else commander rejects is a usage error.
      if (err.code === 'commander.helpDisplayed' || err.code === 'commander.version') return 0;
      // `nfqwall` or `nfqwall lab` without a subcommand shows help as an error: a usage error.
      if (err.code === 'commander.help') return helpForError ? EXIT_USAGE : 0;
      return EXIT_USAGE;
    }
    throw err;
  }
  return exitCode;
}

function readVersion(): string {
  // dist/tools/cli.js -> package.json two levels up
  // eslint-disable-next-line @typescript-eslint/no-var-requires
  return (require('../../package.json') as { version: string }).version;
}
