/** The list of subcommands. Each module adds one command to the program. */
import type { Command } from 'commander';
import type { ExitCodeSink } from '../cli';

export interface CommandModule {
  register(program: Command, setExit: ExitCodeSink): void;
}

export const commandModules: CommandModule[] = [];
