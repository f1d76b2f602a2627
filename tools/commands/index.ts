/** The list of subcommands. Each module adds one command to the program. */
import type { Command } from 'commander';
import type { ExitCodeSink } from '../cli';
import { labCommand } from './lab';
import { demoCommand } from './demo';
import { validateCommand } from './validate';
import { rulesetCommand } from './ruleset';
import { replayCommand } from './replay';
import * as conformanceCommand from './conformance';
import * as evalCommand from './eval';
import * as runCommand from './run';
import { applyCommand } from './apply';
import { getCommand } from './get';
import { deleteCommand } from './delete';
import { statusCommand } from './status';
import { reloadCommand } from './reload';
import { flowsCommand } from './flows';
import { traceCommand } from './trace';
import { emptyValuesGuard } from './empty-values';

export interface CommandModule {
  register(program: Command, setExit: ExitCodeSink): void;
}

export const commandModules: CommandModule[] = [runCommand, validateCommand, evalCommand, conformanceCommand, rulesetCommand, labCommand, demoCommand, replayCommand, statusCommand, reloadCommand, flowsCommand, traceCommand, applyCommand, getCommand, deleteCommand, emptyValuesGuard];
