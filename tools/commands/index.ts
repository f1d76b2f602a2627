/** The list of subcommands. Each module adds one command to the program. */
import type { Command } from 'commander';
import type { ExitCodeSink } from '../cli';
import { labCommand } from './lab';
import { validateCommand } from './validate';
import { rulesetCommand } from './ruleset';
import { replayCommand } from './replay';
import * as conformanceCommand from './conformance';
import * as evalCommand from './eval';
import * as runCommand from './run';

export interface CommandModule {
  register(program: Command, setExit: ExitCodeSink): void;
}

export const commandModules: CommandModule[] = [runCommand, validateCommand, evalCommand, conformanceCommand, rulesetCommand, labCommand, replayCommand];
