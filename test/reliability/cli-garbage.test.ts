import { strict as assert } from 'node:assert';
import * as path from 'node:path';
// The module objects themselves (not import-star copies): the tripwires replace their functions.
import childProcess = require('node:child_process');
import fs = require('node:fs');
import http = require('node:http');
import https = require('node:https');
import net = require('node:net');
import { Command, type Argument, type Option } from 'commander';
import { Daemon } from '../../src/daemon/daemon';
import { main } from '../../tools/cli';
import { commandModules } from '../../tools/commands';

/**
 * Every subcommand, read from the program itself (new commands are covered without touching
 * this file), given garbage arguments: it must print a usage error and exit 2, and do nothing
 * else first. "Doing something" is caught by tripwires installed around each in-process run:
 * spawning a process, opening a socket, writing, renaming or removing a file, starting the
 * daemon, exiting the process. `--help` must exit 0.
 */

const ROOT = path.resolve(__dirname, '../../..');
const NOWHERE = '/nonexistent/nfqwall-garbage';
/** Per run: a command that accepted garbage and then waits (stdin, a socket) must not hang the suite. */
const RUN_TIMEOUT_MS = 30_000;

/** Values no option of a constrained type accepts (numbers, enums, names, specs, masks). */
const GARBAGE_VALUES = ['', 'BOGUS VALUE', '-1', '1.5', 'NaN', '1e999', '\u0000', '\u202e\u2603', 'x'.repeat(100_000)];

/**
 * Options whose values are constrained (by type or format) but that commander cannot check by
 * itself, by flag. An option with `.choices()` is tested without being listed here.
 */
const TYPED_OPTIONS = new Set([
  '--mode',
  '--fail-mode',
  '--backend',
  '--unmanaged-verdict',
  '--log-format',
  '--log-level',
  '--error-verdict',
  '--queue-base',
  '--flow-table-size',
  '--socket-buffer',
  '--mark-mask',
  '--max-file-bytes',
  '--engine',
  '--conntrack-max',
  '--conntrack-timeout',
  '--iface',
  '--live-wait',
  '--limit',
  '--count',
  '--output',
  '--name',
]);

/** Valid values for options that must be present, so the garbage under test is what fails. */
function placeholderFor(o: Option): string {
  switch (o.long) {
    case '--config':
      return path.join(ROOT, 'test/fixtures/replay/policy');
    case '--host':
      return path.join(ROOT, 'test/fixtures/replay/host.yaml');
    case '--filename':
      return `${NOWHERE}.yaml`;
    default:
      return NOWHERE;
  }
}

function placeholderArg(a: Argument): string {
  switch (a.name()) {
    case 'packet':
      return '{}';
    case 'kind':
      return 'tier';
    case 'files':
      return `${NOWHERE}.pcap`;
    default:
      return NOWHERE;
  }
}

interface CommandInfo {
  path: string[];
  cmd: Command;
  leaf: boolean;
}

/** The program as tools/cli.ts builds it, walked into every command and subcommand. */
function commandTree(): CommandInfo[] {
  const program = new Command();
  program.exitOverride();
  for (const mod of commandModules) mod.register(program, () => undefined);
  const out: CommandInfo[] = [];
  const walk = (c: Command, p: string[]) => {
    for (const sub of c.commands) {
      const sp = [...p, sub.name()];
      out.push({ path: sp, cmd: sub, leaf: sub.commands.length === 0 });
      walk(sub, sp);
    }
  };
  walk(program, []);
  return out;
}

interface CliRun {
  code: number | null;
  stdout: string;
  stderr: string;
  touched: string[];
  thrown: unknown;
}

type Patchable = Record<string, unknown>;

/** Replace side-effecting functions with tripwires while `body` runs; returns what was touched. */
async function withTripwires<T>(body: () => Promise<T>): Promise<{ value?: T; touched: string[]; thrown?: unknown }> {
  const touched: string[] = [];
  const saved: [Patchable, string, unknown][] = [];
  const trip = (obj: object, key: string, label: string, allow?: (args: unknown[]) => boolean) => {
    const target = obj as Patchable;
    const orig = target[key];
    if (typeof orig !== 'function') return;
    saved.push([target, key, orig]);
    target[key] = function (this: unknown, ...args: unknown[]) {
      if (allow?.(args)) return (orig as (...a: unknown[]) => unknown).apply(this, args);
      touched.push(label);
      throw new Error(`tripwire: ${label}`);
    };
  };
  const readOnly = (flagsAt: number) => (args: unknown[]) => {
    const flags = args[flagsAt];
    return flags === undefined || typeof flags === 'function' || flags === 'r' || flags === 'rs' || flags === fs.constants.O_RDONLY;
  };
  for (const k of ['spawn', 'spawnSync', 'exec', 'execSync', 'execFile', 'execFileSync', 'fork']) trip(childProcess, k, `child_process.${k}`);
  for (const k of ['connect', 'createConnection']) trip(net, k, `net.${k}`);
  trip(net.Socket.prototype, 'connect', 'net.Socket.connect');
  trip(http, 'request', 'http.request');
  trip(https, 'request', 'https.request');
  trip(globalThis, 'fetch', 'fetch');
  for (const k of ['writeFile', 'writeFileSync', 'appendFile', 'appendFileSync', 'rename', 'renameSync', 'unlink', 'unlinkSync', 'rm', 'rmSync', 'rmdir', 'rmdirSync', 'mkdir', 'mkdirSync', 'createWriteStream', 'symlink', 'symlinkSync', 'copyFile', 'copyFileSync', 'truncate', 'truncateSync', 'chmod', 'chmodSync']) trip(fs, k, `fs.${k}`);
  trip(fs, 'open', 'fs.open (write)', readOnly(1));
  trip(fs, 'openSync', 'fs.openSync (write)', readOnly(1));
  for (const k of ['writeFile', 'appendFile', 'rename', 'unlink', 'rm', 'rmdir', 'mkdir', 'symlink', 'copyFile', 'truncate', 'chmod']) trip(fs.promises, k, `fs.promises.${k}`);
  trip(fs.promises, 'open', 'fs.promises.open (write)', readOnly(1));
  trip(process, 'exit', 'process.exit');
  trip(process, 'kill', 'process.kill');
  trip(Daemon.prototype, 'start', 'Daemon.start');
  try {
    return { value: await body(), touched };
  } catch (err) {
    return { touched, thrown: err };
  } finally {
    for (const [obj, key, orig] of saved.reverse()) obj[key] = orig;
  }
}

/** main(argv) in-process with stdout/stderr captured and the tripwires armed. */
async function runCli(args: string[]): Promise<CliRun> {
  let stdout = '';
  let stderr = '';
  const out = process.stdout.write;
  const err = process.stderr.write;
  process.stdout.write = ((chunk: string | Uint8Array) => ((stdout += String(chunk)), true)) as typeof process.stdout.write;
  process.stderr.write = ((chunk: string | Uint8Array) => ((stderr += String(chunk)), true)) as typeof process.stderr.write;
  let timer: NodeJS.Timeout | undefined;
  try {
    const r = await withTripwires(() =>
      Promise.race([
        main(['node', 'nfqwall', ...args]),
        new Promise<number>((_, reject) => {
          timer = setTimeout(() => reject(new Error(`no exit within ${RUN_TIMEOUT_MS / 1000} s`)), RUN_TIMEOUT_MS);
        }),
      ]),
    );
    return { code: r.value ?? null, stdout, stderr, touched: r.touched, thrown: r.thrown };
  } finally {
    clearTimeout(timer);
    process.stdout.write = out;
    process.stderr.write = err;
  }
}

function show(args: readonly string[]): string {
  return args.map((a) => (a.length > 40 ? `${JSON.stringify(a.slice(0, 20))}...(${a.length})` : JSON.stringify(a))).join(' ');
}

function describeRun(r: CliRun): string {
  const thrown = r.thrown instanceof Error ? r.thrown.message : r.thrown === undefined ? '' : String(r.thrown);
  return `exit ${r.code}${r.touched.length ? `, touched ${r.touched.join(', ')}` : ''}${thrown ? `, threw ${thrown}` : ''}; stderr: ${JSON.stringify(r.stderr.slice(0, 300))}`;
}

async function expectUsageError(args: string[], why?: RegExp): Promise<void> {
  const r = await runCli(args);
  assert.ok(r.code === 2 && r.touched.length === 0 && r.thrown === undefined, `nfqwall ${show(args)}: expected a usage error (exit 2) without side effects; got ${describeRun(r)}`);
  assert.ok(r.stderr.trim().length > 0, `nfqwall ${show(args)}: exit 2 without a message`);
  if (why) assert.match(r.stderr, why, `nfqwall ${show(args)}`);
}

interface GarbageCase {
  name: string;
  args: string[];
  why?: RegExp;
}

/** Argument lists that must all be usage errors for one command. */
function garbageFor(info: CommandInfo): GarbageCase[] {
  const c = info.cmd;
  const args = c.registeredArguments;
  const mandatory = c.options.filter((o) => o.mandatory);
  const flag = (o: Option) => o.long ?? o.short ?? '';
  const optionArgs = (skip?: Option) => mandatory.filter((o) => o !== skip).flatMap((o) => [flag(o), placeholderFor(o)]);
  const positional = args.filter((a) => a.required).map(placeholderArg);
  const base = [...info.path, ...positional, ...optionArgs()];
  const cases: GarbageCase[] = [
    { name: 'unknown option', args: [...base, '--no-such-option'], why: /unknown option/ },
    { name: 'unknown option, 100 000 characters', args: [...base, `--${'x'.repeat(100_000)}`], why: /unknown option/ },
    { name: 'unknown option with control characters', args: [...base, '--\u202e\u0000\u001b[2J'], why: /unknown option/ },
  ];
  const shorts = new Set(c.options.map((o) => o.short));
  const freeShort = ['-Z', '-Q', '-j', '-9'].find((s) => !shorts.has(s));
  if (freeShort) cases.push({ name: 'unknown short option', args: [...base, freeShort], why: /unknown option/ });
  if (!args.some((a) => a.variadic)) {
    const full = [...info.path, ...args.map(placeholderArg), ...optionArgs()];
    cases.push({ name: 'extra positional argument', args: [...full, 'extra'], why: /too many arguments/ });
    cases.push({ name: 'extra empty argument', args: [...full, ''], why: /too many arguments/ });
    cases.push({ name: 'extra argument, 100 000 characters', args: [...full, 'y'.repeat(100_000)], why: /too many arguments/ });
  }
  if (positional.length > 0) cases.push({ name: 'missing argument', args: [...info.path, ...optionArgs()], why: /missing required argument/ });
  for (const o of mandatory) cases.push({ name: `missing required option ${flag(o)}`, args: [...info.path, ...positional, ...optionArgs(o)], why: /required option/ });
  for (const o of c.options) {
    if (!o.required) continue; // takes no value, or an optional one
    cases.push({ name: `${flag(o)} without its value`, args: [...base, flag(o)], why: /argument missing/ });
    cases.push({ name: `${flag(o)} ''`, args: [...base, flag(o), ''] });
    const choices = (o as Option & { argChoices?: string[] }).argChoices;
    if (choices !== undefined || TYPED_OPTIONS.has(flag(o))) {
      for (const v of GARBAGE_VALUES) cases.push({ name: `${flag(o)} ${show([v])}`, args: [...base, flag(o), v] });
    }
  }
  return cases;
}

describe('reliability: CLI garbage arguments', function () {
  this.timeout(600_000);
  const tree = commandTree();
  const leaves = tree.filter((t) => t.leaf);

  const total = leaves.reduce((n, l) => n + garbageFor(l).length, 0);

  it(`the program has the commands it should; ${total} garbage argument lists for its ${leaves.length} commands`, () => {
    assert.ok(total > 10 * leaves.length);
    const names = tree.map((t) => t.path.join(' '));
    for (const n of ['run', 'validate', 'eval', 'explain', 'conformance', 'ruleset', 'lab up', 'lab down', 'lab status', 'replay']) assert.ok(names.includes(n), `missing ${n} in ${names.join(', ')}`);
  });

  it('top level: unknown options and commands are usage errors; --help and --version exit 0', async () => {
    await expectUsageError(['--no-such-option'], /unknown option/);
    await expectUsageError(['no-such-command'], /unknown command/);
    await expectUsageError(['\u0000\u202e'], /unknown command/);
    await expectUsageError([`--${'z'.repeat(100_000)}`], /unknown option/);
    for (const ok of [['--help'], ['-V'], ['--version'], ['help']]) {
      const r = await runCli(ok);
      assert.ok(r.code === 0 && r.touched.length === 0 && r.stdout.length > 0, `nfqwall ${show(ok)}: ${describeRun(r)}`);
    }
  });

  it('no subcommand prints the usage on stderr and touches nothing', async () => {
    for (const args of [[], ...tree.filter((t) => !t.leaf).map((t) => t.path)]) {
      const r = await runCli(args);
      assert.ok(r.touched.length === 0 && r.thrown === undefined && /Usage:/.test(r.stderr), `nfqwall ${show(args)}: ${describeRun(r)}`);
    }
  });

  it('no subcommand exits 2 with the usage on stderr; asked-for help exits 0', async () => {
    const saved = process.exitCode;
    try {
      // commander derives its own exit code for help from process.exitCode: it must not matter.
      for (const exitCode of [undefined, 1]) {
        process.exitCode = exitCode;
        for (const args of [[], ...tree.filter((t) => !t.leaf).map((t) => t.path)]) {
          const r = await runCli(args);
          assert.ok(r.code === 2 && r.stdout === '' && /Usage:/.test(r.stderr), `nfqwall ${show(args)} (exitCode ${exitCode}): ${describeRun(r)}`);
        }
        for (const args of [['help'], ['--help'], ...tree.filter((t) => !t.leaf).flatMap((t) => [[...t.path, '--help'], ['help', ...t.path]])]) {
          const r = await runCli(args);
          assert.ok(r.code === 0 && /Usage:/.test(r.stdout), `nfqwall ${show(args)} (exitCode ${exitCode}): ${describeRun(r)}`);
        }
      }
    } finally {
      process.exitCode = saved;
    }
  });

  for (const parent of tree.filter((t) => !t.leaf)) {
    it(`${parent.path.join(' ')}: unknown subcommand and options are usage errors`, async () => {
      await expectUsageError([...parent.path, 'no-such-subcommand'], /unknown command/);
      await expectUsageError([...parent.path, '--no-such-option'], /unknown option/);
    });
  }

  for (const info of leaves) {
    const name = info.path.join(' ');
    it(`${name} --help exits 0 and prints the usage`, async () => {
      const r = await runCli([...info.path, '--help']);
      assert.ok(r.code === 0 && r.touched.length === 0 && r.thrown === undefined, `nfqwall ${name} --help: ${describeRun(r)}`);
      assert.match(r.stdout, new RegExp(`Usage: nfqwall ${name}`));
    });

    it(`${name}: garbage arguments are usage errors (exit 2) before anything is touched`, async () => {
      const cases = garbageFor(info);
      const failures: string[] = [];
      for (const g of cases) {
        try {
          await expectUsageError(g.args, g.why);
        } catch (err) {
          failures.push(`${g.name}: ${(err as Error).message.split('\n')[0]}`);
        }
      }
      assert.deepEqual(failures, [], `${failures.length} of ${cases.length} garbage cases of ${name} failed`);
    });
  }

  it('bin/nfqwall itself exits 2 on garbage (child process)', () => {
    for (const args of [[], ['lab'], ['--no-such-option'], ['validate'], ['validate', 'a', 'b'], ['ruleset', '--config', NOWHERE, '--mode', 'sideways']]) {
      const r = childProcess.spawnSync(process.execPath, [path.join(ROOT, 'bin/nfqwall'), ...args], { encoding: 'utf8', timeout: 60_000 });
      assert.equal(r.status, 2, `bin/nfqwall ${show(args)}: ${r.stderr}`);
      assert.match(r.stderr, /error|usage/i);
    }
  });
});
