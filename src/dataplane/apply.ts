/**
 * Install, replace and remove the steering rules. Thin I/O around the pure renderers: every change
 * is one transaction fed on stdin (`nft -f -`, `iptables-nft-restore --noflush` per family).
 *
 * Installing also removes what the other backend may have left (a crashed run on another kernel,
 * a changed `--backend`), so exactly one set of nfqwall rules is ever active.
 */
import { execFile } from 'node:child_process';
import { NfqwallError } from '../errors';
import type { MarkLayout } from './marks';
import type { SteeringPlan } from './plan';
import { nftRemoveScript, renderNft } from './render-nft';
import { chainPrefix, iptablesTools, parseIptablesSave, renderIptables, renderIptablesRemoval, type IpFamily, type IptablesState } from './render-iptables';

export type Backend = 'nft' | 'iptables';

export interface CommandOutput {
  stdout: string;
  stderr: string;
}

/** Runs a program (never a shell) with `input` on stdin; rejects with DataplaneCommandError. */
export type CommandRunner = (file: string, args: readonly string[], input?: string) => Promise<CommandOutput>;

export class DataplaneCommandError extends NfqwallError {
  /** The program is not installed (or not in PATH). */
  readonly missing: boolean;
  readonly stderr: string;
  constructor(argv: readonly string[], why: string, stderr: string, missing: boolean) {
    const detail = stderr.trim();
    super('NFQ_DATAPLANE_COMMAND_FAILED', `\`${argv.join(' ')}\` ${why}${detail ? `: ${detail}` : ''}`);
    this.name = 'DataplaneCommandError';
    this.missing = missing;
    this.stderr = stderr;
  }
}

export const COMMAND_TIMEOUT_MS = 30_000;

export const execRunner: CommandRunner = (file, args, input) =>
  new Promise((resolve, reject) => {
    const child = execFile(file, [...args], { timeout: COMMAND_TIMEOUT_MS, killSignal: 'SIGKILL', maxBuffer: 64 * 1024 * 1024, encoding: 'utf8' }, (err, stdout, stderr) => {
      if (!err) return resolve({ stdout, stderr });
      const code = (err as NodeJS.ErrnoException).code;
      const missing = code === 'ENOENT';
      const why = missing ? 'not found' : typeof code === 'number' ? `exited ${code}` : child.signalCode ? `killed (${child.signalCode})` : err.message;
      reject(new DataplaneCommandError([file, ...args], why, stderr, missing));
    });
    // A missing program closes stdin at once; writing would raise EPIPE on top of the ENOENT.
    child.stdin?.on('error', () => undefined);
    child.stdin?.end(input ?? '');
  });

/** Run every command inside network namespace `ns` (`ip netns exec`). */
export function netnsRunner(ns: string, base: CommandRunner = execRunner): CommandRunner {
  return async (file, args, input) => {
    try {
      return await base('ip', ['netns', 'exec', ns, file, ...args], input);
    } catch (err) {
      // `ip netns exec` reports a missing program as a failed exec, not as ENOENT.
      if (err instanceof DataplaneCommandError && !err.missing && /exec of "[^"]*" failed: No such file/.test(err.stderr)) {
        throw new DataplaneCommandError([file, ...args], 'not found', err.stderr, true);
      }
      throw err;
    }
  };
}

export interface ApplyOptions {
  run?: CommandRunner;
  /**
   * Also remove what the other backend may have left (default true). A daemon replacing its own
   * rules on reload did that at start already and skips it (one process and transaction less).
   */
  cleanOtherBackend?: boolean;
}

const FAMILIES: readonly IpFamily[] = [4, 6];

/** Install `plan`, atomically replacing whatever nfqwall rules (same table name) are installed. */
export async function installSteering(plan: SteeringPlan, backend: Backend, options: ApplyOptions = {}): Promise<void> {
  const run = options.run ?? execRunner;
  const clean = options.cleanOtherBackend !== false;
  if (backend === 'nft') {
    await run('nft', ['-f', '-'], renderNft(plan));
    if (clean) await removeIptablesSteering(plan.table, run, { ignoreMissingTools: true });
    return;
  }
  for (const family of FAMILIES) {
    const state = await readIptablesState(plan.table, family, run);
    await run(iptablesTools(family).restore, ['--noflush'], renderIptables(plan, family, state));
  }
  if (clean) await removeNftSteering(plan.table, run, { ignoreMissingTools: true });
}

/**
 * Remove nfqwall's rules of both backends. The daemon calls this on a clean exit in fail-open
 * mode only: in fail-closed mode the rules stay, so queued traffic is dropped while nobody listens.
 */
export async function removeSteering(table: string, options: ApplyOptions = {}): Promise<void> {
  const run = options.run ?? execRunner;
  await removeNftSteering(table, run, { ignoreMissingTools: true });
  await removeIptablesSteering(table, run, { ignoreMissingTools: true });
}

/** Should a daemon with this plan remove its rules when it exits cleanly? */
export function removeOnExit(plan: SteeringPlan): boolean {
  return plan.failMode === 'open';
}

/**
 * The policy generation of the rules a previous run left installed (it was killed, or stopped in
 * fail-closed mode), modulo the generation field, or null when there are none or they cannot be
 * read. Flows that run decided carry it in their ct mark: a new run starts after it, so those
 * flows are judged again instead of passing as its own decisions.
 */
export async function installedGeneration(table: string, layout: MarkLayout, options: ApplyOptions = {}): Promise<number | null> {
  const run = options.run ?? execRunner;
  const prefix = chainPrefix(table);
  const texts: string[] = [];
  const read = async (file: string, args: string[], keep: (line: string) => boolean) => {
    try {
      texts.push((await run(file, args)).stdout.split('\n').filter(keep).join('\n'));
    } catch {
      // no such tool or table: nothing installed there
    }
  };
  for (const family of FAMILIES) await read(iptablesTools(family).save, [], (l) => l.includes(prefix));
  await read('nft', ['list', 'table', 'inet', table], () => true);
  return generationInRules(texts.join('\n'), layout);
}

/** Pure: the generation in the verdict-store matches (DECIDED|DROP|GEN under that mask) of rule text. */
export function generationInRules(text: string, layout: MarkLayout): number | null {
  const store = (layout.decided | layout.drop | layout.generationMask) >>> 0;
  let found: number | null = null;
  const consider = (value: number, mask: number) => {
    if (mask >>> 0 === store && (value & layout.decided) !== 0) found = (value & layout.generationMask) >>> layout.generationShift;
  };
  // iptables-nft-save: `--mark 0x140000/0x3fc0000`; nft: `mark & 0x03fc0000 == 0x00140000`.
  for (const m of text.matchAll(/0x([0-9a-f]+)\/0x([0-9a-f]+)/gi)) consider(parseInt(m[1] as string, 16), parseInt(m[2] as string, 16));
  for (const m of text.matchAll(/&\s*0x([0-9a-f]+)\s*==\s*0x([0-9a-f]+)/gi)) consider(parseInt(m[2] as string, 16), parseInt(m[1] as string, 16));
  return found;
}

export async function readIptablesState(table: string, family: IpFamily, run: CommandRunner): Promise<IptablesState> {
  const { stdout } = await run(iptablesTools(family).save, []);
  return parseIptablesSave(stdout, table);
}

async function removeNftSteering(table: string, run: CommandRunner, opts: { ignoreMissingTools: boolean }): Promise<void> {
  await tolerateMissing(opts, () => run('nft', ['-f', '-'], nftRemoveScript(table)));
}

async function removeIptablesSteering(table: string, run: CommandRunner, opts: { ignoreMissingTools: boolean }): Promise<void> {
  for (const family of FAMILIES) {
    await tolerateMissing(opts, async () => {
      const script = renderIptablesRemoval(await readIptablesState(table, family, run));
      if (script !== '') await run(iptablesTools(family).restore, ['--noflush'], script);
    });
  }
}

async function tolerateMissing(opts: { ignoreMissingTools: boolean }, action: () => Promise<unknown>): Promise<void> {
  try {
    await action();
  } catch (err) {
    if (opts.ignoreMissingTools && err instanceof DataplaneCommandError && err.missing) return;
    throw err;
  }
}
