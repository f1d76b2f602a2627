/**
 * Every command: an option given an empty value (`--node ''`) is a usage error (exit 2). Commands
 * that test an option's truthiness would otherwise fall back to the default quietly (read the live
 * host, probe the kernel, use the default socket or datastore) instead of refusing.
 */
import type { Command } from 'commander';
import type { CommandModule } from './index';

export const emptyValuesGuard: CommandModule = {
  register(program: Command): void {
    // A preAction hook of the program runs before the action of every subcommand.
    program.hook('preAction', (_program, action) => {
      for (const o of action.options) {
        if (!o.required && !o.optional) continue; // a flag without a value
        const v: unknown = action.getOptionValue(o.attributeName());
        if (v === '' || (Array.isArray(v) && v.includes(''))) {
          action.error(`error: option '${o.flags}' argument must not be empty`, { exitCode: 2, code: 'commander.invalidArgument' });
        }
      }
    });
  },
};
