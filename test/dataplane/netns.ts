/**
 * Network namespaces for the dataplane root tests: `nfqwall-t-<random>`, removed in after() and,
 * should a test process die first, on exit. Every command runs inside a namespace through
 * `ip netns exec`; every process has a hard lifetime.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { execRunner, netnsRunner, type CommandRunner } from '../../src/dataplane/apply';

export const IS_ROOT = process.getuid?.() === 0;

const live = new Set<string>();
process.once('exit', () => {
  for (const ns of live) spawnSync('ip', ['netns', 'del', ns], { timeout: 2000 });
});

export interface TestNetns {
  name: string;
  run: CommandRunner;
  /** Run a command inside, resolve to its stdout. */
  sh(file: string, ...args: string[]): Promise<string>;
  destroy(): Promise<void>;
}

export async function createNetns(): Promise<TestNetns> {
  const name = `nfqwall-t-${randomBytes(4).toString('hex')}`;
  live.add(name);
  await execRunner('ip', ['netns', 'add', name]);
  const run = netnsRunner(name);
  await run('ip', ['link', 'set', 'lo', 'up']);
  return {
    name,
    run,
    sh: async (file, ...args) => (await run(file, args)).stdout,
    async destroy() {
      if (!live.has(name)) return;
      await execRunner('ip', ['netns', 'del', name]);
      live.delete(name);
    },
  };
}

/** A veth pair between two namespaces, created inside `a` (never in the caller's namespace). */
export async function connect(a: TestNetns, b: TestNetns, names: { a: string; b: string }): Promise<void> {
  await a.run('ip', ['link', 'add', names.a, 'type', 'veth', 'peer', 'name', names.b, 'netns', b.name]);
  await a.run('ip', ['link', 'set', names.a, 'up']);
  await b.run('ip', ['link', 'set', names.b, 'up']);
}

export interface NsProcess {
  lines: string[];
  /** The first stdout line (past or future) matching `pred`. */
  waitFor(pred: (line: string) => boolean, timeoutMs: number): Promise<string>;
  /** SIGTERM, SIGKILL after a grace period; resolves with all stdout lines once it is gone. */
  stop(): Promise<string[]>;
  exited: Promise<number | null>;
}

export function startInNetns(ns: TestNetns, argv: string[], lifetimeMs: number): NsProcess {
  const child: ChildProcess = spawn('ip', ['netns', 'exec', ns.name, ...argv], { stdio: ['ignore', 'pipe', 'pipe'] });
  const lines: string[] = [];
  const errLines: string[] = [];
  const waiters: Array<{ pred: (l: string) => boolean; resolve: (l: string) => void }> = [];
  let partial = '';
  child.stdout?.setEncoding('utf8').on('data', (chunk: string) => {
    const parts = (partial + chunk).split('\n');
    partial = parts.pop() ?? '';
    for (const l of parts) {
      lines.push(l);
      for (let i = waiters.length - 1; i >= 0; i--) {
        const w = waiters[i];
        if (w?.pred(l)) {
          waiters.splice(i, 1);
          w.resolve(l);
        }
      }
    }
  });
  child.stderr?.setEncoding('utf8').on('data', (chunk: string) => errLines.push(chunk));
  const exited = new Promise<number | null>((resolve) => child.once('close', (code) => resolve(code)));
  const hard = setTimeout(() => child.kill('SIGKILL'), lifetimeMs);
  void exited.then(() => clearTimeout(hard));
  return {
    lines,
    exited,
    waitFor(pred, timeoutMs) {
      const seen = lines.find(pred);
      if (seen !== undefined) return Promise.resolve(seen);
      return new Promise((resolve, reject) => {
        const t = setTimeout(() => reject(new Error(`\`${argv.join(' ')}\` printed no expected line within ${timeoutMs} ms; stdout: ${lines.join(' | ')}; stderr: ${errLines.join('')}`)), timeoutMs);
        const done = (l: string) => {
          clearTimeout(t);
          resolve(l);
        };
        waiters.push({ pred, resolve: done });
        void exited.then(() => {
          clearTimeout(t);
          reject(new Error(`\`${argv.join(' ')}\` exited; stdout: ${lines.join(' | ')}; stderr: ${errLines.join('')}`));
        });
      });
    },
    async stop() {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGTERM');
        const grace = setTimeout(() => child.kill('SIGKILL'), 2000);
        await exited;
        clearTimeout(grace);
      }
      return lines;
    },
  };
}

/** `-A` lines of iptables-nft-save (or ip6tables-nft-save) inside `ns`. */
export async function ruleLines(ns: TestNetns, family: 4 | 6): Promise<string[]> {
  const out = await ns.sh(family === 4 ? 'iptables-nft-save' : 'ip6tables-nft-save');
  return out.split('\n').filter((l) => l.startsWith('-A '));
}

/** iptables-nft-save output without its timestamped comment lines. */
export async function saveText(ns: TestNetns, family: 4 | 6): Promise<string> {
  const out = await ns.sh(family === 4 ? 'iptables-nft-save' : 'ip6tables-nft-save');
  return out
    .split('\n')
    .filter((l) => !l.startsWith('#'))
    .join('\n');
}
