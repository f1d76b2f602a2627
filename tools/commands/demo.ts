/**
 * `nfqwall demo`: the seed scenario, live. Builds the lab, runs the daemon on its router with the
 * shipped example policy (verdicts printed as they happen), makes a few real connections, says
 * what each should do and what it did, then removes the lab. Exit 0 when everything behaved as
 * expected, 1 otherwise.
 */
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { join, resolve } from 'node:path';
import type { Command } from 'commander';
import type { ExitCodeSink } from '../cli';
import { EXIT_OK, EXIT_PROBLEMS, EXIT_USAGE } from '../exit-codes';
import type { CommandModule } from './index';
import { labDown, labUp } from '../../src/lab/lab';
import { spawnInNamespace, type NsProcess } from '../../src/lab/process';
import { LAB_ADDRESSES, labPrefixProblem, type LabNames } from '../../src/lab/topology';

/** dist/tools/commands -> the repository (bin/, examples/). */
const REPO = resolve(__dirname, '..', '..', '..');
const DAEMON_LIFETIME_MS = 120_000;

const ECHO_SERVER = `
const net = require('net');
const c = JSON.parse(process.argv[1]);
const srv = net.createServer((s) => { s.on('error', () => {}); s.on('data', (d) => s.write(d)); s.on('end', () => s.end()); });
srv.listen({ host: c.host, port: c.port }, () => console.log('listening'));
setTimeout(() => process.exit(0), c.lifetimeMs);
`;

const PROBE = `
const net = require('net');
const c = JSON.parse(process.argv[1]);
const out = { connected: false, reply: false, error: null };
const finish = () => { console.log(JSON.stringify(out)); process.exit(0); };
const s = net.connect({ host: c.host, port: c.port });
s.on('connect', () => { out.connected = true; s.write('hello from the demo'); });
s.on('data', (d) => { if (String(d).includes('hello')) { out.reply = true; s.end(); } });
s.on('close', finish);
s.on('error', (e) => { out.error = e.code || e.message; });
setTimeout(() => { out.error = out.error || 'no answer within ' + c.timeoutMs + ' ms'; s.destroy(); finish(); }, c.timeoutMs);
`;

interface Step {
  title: string;
  from: keyof Pick<LabNames, 'app' | 'maint'>;
  host: string;
  port: number;
  expect: 'allowed' | 'denied';
  why: string;
}

const A = LAB_ADDRESSES;
const STEPS: Step[] = [
  {
    title: `TCP 22 (SSH) forwarded: application host ${A.app.v4} -> maintenance host ${A.maint.v4}`,
    from: 'app',
    host: A.maint.v4,
    port: 22,
    expect: 'allowed',
    why: 'policy allow-ssh-maintenance allows TCP 22 out of eth1; the reply comes back as an established flow',
  },
  {
    title: `TCP 80 (HTTP) forwarded: application host ${A.app.v4} -> maintenance host ${A.maint.v4}`,
    from: 'app',
    host: A.maint.v4,
    port: 80,
    expect: 'denied',
    why: 'the policy selects eth1 for forwarded traffic and has no rule for TCP 80: end-of-tier deny',
  },
  {
    title: `TCP 22 to the router itself: application host ${A.app.v4} -> router ${A.router.eth0.v4}`,
    from: 'app',
    host: A.router.eth0.v4,
    port: 22,
    expect: 'allowed',
    why: 'eth0 is a host endpoint with no policy for local traffic (default deny), but TCP 22 is a failsafe port',
  },
];

interface DemoOptions {
  name?: string;
}

function say(line = ''): void {
  process.stdout.write(`${line}\n`);
}

function heading(text: string): void {
  say();
  say(`=== ${text}`);
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function probe(ns: string, host: string, port: number, timeoutMs: number): Promise<{ connected: boolean; reply: boolean; error: string | null }> {
  const p = spawnInNamespace(ns, [process.execPath, '-e', PROBE, JSON.stringify({ host, port, timeoutMs })], { lifetimeMs: timeoutMs + 3000 });
  const line = await p.waitForLine((l) => l.startsWith('{'), timeoutMs + 2000);
  await p.exited;
  return JSON.parse(line) as { connected: boolean; reply: boolean; error: string | null };
}

async function echoServer(ns: string, host: string, port: number): Promise<NsProcess> {
  const p = spawnInNamespace(ns, [process.execPath, '-e', ECHO_SERVER, JSON.stringify({ host, port, lifetimeMs: DAEMON_LIFETIME_MS })], { lifetimeMs: DAEMON_LIFETIME_MS + 1000 });
  await p.waitForLine((l) => l === 'listening', 5000);
  return p;
}

/** Run an nfqwall command (bounded); its output and exit code. */
function runCli(args: string[]): Promise<{ code: number | string; output: string }> {
  return new Promise((done) => {
    execFile(process.execPath, [join(REPO, 'bin', 'nfqwall'), ...args], { timeout: 10_000 }, (err, stdout, stderr) => {
      const code = err === null ? 0 : typeof err.code === 'number' ? err.code : String(err.code ?? err.signal ?? 'error');
      done({ code, output: `${stdout}${stderr}` });
    });
  });
}

/** Run the demo in lab `prefix`; resolves to the number of steps that did not behave as expected. */
export async function runDemo(prefix: string): Promise<number> {
  const processes: NsProcess[] = [];
  let failures = 0;
  heading(`Building the lab "${prefix}" (network namespaces ${prefix}-router, -app, -maint, -wl)`);
  const names = await labUp(prefix);
  try {
    say(`application host ${A.app.v4} -- eth0 [router] eth1 -- maintenance host ${A.maint.v4}`);
    processes.push(await echoServer(names.maint, A.maint.v4, 22));
    processes.push(await echoServer(names.maint, A.maint.v4, 80));
    processes.push(await echoServer(names.router, A.router.eth0.v4, 22));
    say(`echo servers: ${A.maint.v4}:22, ${A.maint.v4}:80 (maintenance host), ${A.router.eth0.v4}:22 (router)`);

    const socket = `/run/nfqwall-demo/${prefix}.sock`;
    heading('Starting nfqwall on the router with examples/seed (its log follows, prefixed "nfqwall |")');
    const argv = [process.execPath, join(REPO, 'bin', 'nfqwall'), 'run', '--config', join(REPO, 'examples', 'seed'), '--node', 'router', '--log-format', 'pretty', '--log-flows', '--control-socket', socket];
    say(`ip netns exec ${names.router} ${argv.slice(1).map((a) => a.replace(`${REPO}/`, '')).join(' ')}`);
    const daemon = spawnInNamespace(names.router, argv, { lifetimeMs: DAEMON_LIFETIME_MS });
    processes.push(daemon);
    for (const stream of ['stdout', 'stderr'] as const) {
      let partial = '';
      daemon.child[stream]?.on('data', (chunk: Buffer | string) => {
        const parts = (partial + chunk.toString()).split('\n');
        partial = parts.pop() ?? '';
        for (const l of parts) if (l.trim() !== '') say(`  nfqwall | ${l}`);
      });
    }
    await daemon.waitForLine((l) => l.includes('nfqwall started'), 20_000);
    await sleep(300);

    for (const [i, step] of STEPS.entries()) {
      heading(`${i + 1}. ${step.title}`);
      say(`expected: ${step.expect.toUpperCase()} (${step.why})`);
      const r = await probe(names[step.from], step.host, step.port, step.expect === 'allowed' ? 5000 : 2500);
      const got = r.connected && r.reply ? 'allowed' : 'denied';
      // Give the daemon's verdict line time to arrive before the result line.
      await sleep(400);
      const what = got === 'allowed' ? 'connected, sent "hello", got the reply' : `no connection (${r.error ?? 'closed'})`;
      const ok = got === step.expect;
      if (!ok) failures++;
      say(`result:   ${got.toUpperCase()}: ${what} -> ${ok ? 'as expected' : 'NOT AS EXPECTED'}`);
    }

    heading(`What the daemon reports: nfqwall status --socket ${socket}`);
    const status = await runCli(['status', '--socket', socket]);
    for (const l of status.output.split('\n')) if (l.trim() !== '') say(`  ${l}`);
    if (status.code !== 0) {
      failures++;
      say(`nfqwall status exited with ${status.code}: NOT AS EXPECTED`);
    }

    heading('Stopping nfqwall (SIGTERM: it removes its rules and exits)');
    const exit = await daemon.stop(5000);
    await sleep(100);
    if (exit.code !== 0) {
      failures++;
      say(`nfqwall exited with ${exit.code ?? exit.signal}: NOT AS EXPECTED`);
    }
  } finally {
    for (const p of processes) await p.stop(1000).catch(() => undefined);
    heading(`Removing the lab "${prefix}"`);
    await labDown(prefix);
  }
  say();
  say(failures === 0 ? `All ${STEPS.length} connections behaved as the policy says.` : `${failures} step(s) did not behave as expected.`);
  return failures;
}

export const demoCommand: CommandModule = {
  register(program: Command, setExit: ExitCodeSink): void {
    program
      .command('demo')
      .description('build the lab, run nfqwall on its router with examples/seed, show real connections being allowed and denied, remove the lab')
      .option('--name <prefix>', 'lab name prefix (default: demo + random suffix)')
      .action(async (opts: DemoOptions) => {
        const prefix = opts.name ?? `demo${randomBytes(3).toString('hex')}`;
        const problem = labPrefixProblem(prefix);
        if (problem) {
          process.stderr.write(`nfqwall demo: ${problem}\n`);
          return setExit(EXIT_USAGE);
        }
        if (process.getuid?.() !== 0) {
          process.stderr.write('nfqwall demo: needs root (it creates network namespaces and firewall rules inside them)\n');
          return setExit(EXIT_PROBLEMS);
        }
        // Ctrl-C: remove the lab (which also stops everything running inside it) before leaving.
        const onInterrupt = () => void labDown(prefix).finally(() => process.exit(130));
        process.once('SIGINT', onInterrupt);
        process.once('SIGTERM', onInterrupt);
        try {
          setExit((await runDemo(prefix)) === 0 ? EXIT_OK : EXIT_PROBLEMS);
        } catch (err) {
          process.stderr.write(`nfqwall demo: ${(err as Error).message}\n`);
          setExit(EXIT_PROBLEMS);
        } finally {
          process.removeListener('SIGINT', onInterrupt);
          process.removeListener('SIGTERM', onInterrupt);
        }
      });
  },
};
