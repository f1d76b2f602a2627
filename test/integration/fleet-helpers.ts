/**
 * A fleet in the lab: one real etcd (Debian's /usr/bin/etcd) shared by the routers of several labs
 * (test/helpers/lab.ts), for the fleet integration test and bench/fleet-lab.ts.
 *
 * Each router namespace has its own loopback, so etcd runs in a network namespace of its own
 * (`<prefix>-etcd`), listening on that namespace's loopback (where the `nfqwall apply/get/delete`
 * child processes of the test run) and on one veth link per router:
 *
 *   <prefix>-etcd  fleetN 10.250.N.1/30  ──  fleet0 10.250.N.2/30  <lab N>-router
 *
 * 10.250.0.0/16 is used by nothing else in the lab (10.10/10.20/10.65). No HostEndpoint names
 * `fleet0`, so a router's daemon treats its etcd connection as unmanaged (unmanagedVerdict
 * accept). The host's own network is never touched: every link is created between namespaces
 * made here, and removing the namespaces removes the links.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { DatastoreHealth } from '../../src/datastore';
import { runChecked, runCommand } from '../../src/lab/run';
import { runInNamespace, spawnInNamespace, type NsProcess, type TestLab } from '../helpers/lab';
import { NFQWALL } from './daemon-helpers';

export const ETCD_BINARY = process.env['NFQWALL_TEST_ETCD'] ?? '/usr/bin/etcd';
export const ETCD_CLIENT_PORT = 2379;
const ETCD_PEER_PORT = 2380;

/** Address of etcd on the link to router `i` (0-based) and the router's own end. */
export function fleetLinkAddresses(i: number): { etcd: string; router: string } {
  return { etcd: `10.250.${i + 1}.1`, router: `10.250.${i + 1}.2` };
}

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
  /** Date.now() when the child was spawned and when it exited. */
  startedAt: number;
  endedAt: number;
  /** Date.now() when a line of stdout starting with "Successfully" arrived (apply/delete), if any. */
  doneAt: number | null;
}

// Namespaces and servers not removed yet: removed synchronously if the process exits without cleanup.
const liveNamespaces = new Set<string>();
const livePids = new Set<number>();
process.once('exit', () => {
  for (const pid of livePids) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // gone already
    }
  }
  for (const ns of liveNamespaces) spawnSync('ip', ['netns', 'del', ns], { timeout: 2000 });
});

export class FleetEtcd {
  private proc: NsProcess | null = null;

  private constructor(
    /** The namespace etcd runs in. */
    readonly ns: string,
    readonly dataDir: string,
    readonly labs: readonly TestLab[],
    readonly prefix: string,
    private readonly lifetimeMs: number,
  ) {}

  /** etcd as the apply/get/delete commands in its namespace reach it. */
  get loopbackUrl(): string {
    return `http://127.0.0.1:${ETCD_CLIENT_PORT}`;
  }

  /** etcd as the router of lab `i` reaches it (over fleet0). */
  urlFor(i: number): string {
    return `http://${fleetLinkAddresses(i).etcd}:${ETCD_CLIENT_PORT}`;
  }

  /** The etcd process id (null while stopped). */
  get pid(): number | null {
    return this.proc?.child.pid ?? null;
  }

  /**
   * Create the etcd namespace, link it to every lab's router and start etcd. `prefix` is the etcd
   * key prefix the CLI helpers pass; `lifetimeMs` bounds every etcd process started here.
   */
  static async start(labs: readonly TestLab[], o: { prefix: string; lifetimeMs: number }): Promise<FleetEtcd> {
    const ns = `f${randomBytes(4).toString('hex').slice(0, 7)}-etcd`;
    const dataDir = mkdtempSync(join(tmpdir(), 'nfqwall-fleet-etcd-'));
    const f = new FleetEtcd(ns, dataDir, labs, o.prefix, o.lifetimeMs);
    liveNamespaces.add(ns);
    try {
      await runChecked(['ip', 'netns', 'add', ns]);
      await runChecked(['ip', '-n', ns, 'link', 'set', 'lo', 'up']);
      for (const [i, lab] of labs.entries()) {
        const a = fleetLinkAddresses(i);
        const dev = `fleet${i}`;
        // Born with each end in its namespace: nothing appears in the host's namespace.
        await runChecked(['ip', '-n', ns, 'link', 'add', dev, 'type', 'veth', 'peer', 'name', 'fleet0', 'netns', lab.names.router]);
        await runChecked(['ip', '-n', ns, 'addr', 'add', `${a.etcd}/30`, 'dev', dev]);
        await runChecked(['ip', '-n', lab.names.router, 'addr', 'add', `${a.router}/30`, 'dev', 'fleet0']);
        await runChecked(['ip', '-n', ns, 'link', 'set', dev, 'up']);
        await runChecked(['ip', '-n', lab.names.router, 'link', 'set', 'fleet0', 'up']);
      }
      await f.resume();
    } catch (err) {
      await f.destroy();
      throw err;
    }
    return f;
  }

  /** Start etcd (again: same data directory, same addresses); resolves once it answers /health. */
  async resume(timeoutMs = 15_000): Promise<void> {
    if (this.proc) return;
    const peer = `http://127.0.0.1:${ETCD_PEER_PORT}`;
    const clients = [this.loopbackUrl, ...this.labs.map((_, i) => this.urlFor(i))].join(',');
    const proc = spawnInNamespace(
      this.ns,
      [
        ETCD_BINARY,
        '--name', 'fleet',
        '--data-dir', join(this.dataDir, 'data'),
        '--listen-client-urls', clients,
        '--advertise-client-urls', clients,
        '--listen-peer-urls', peer,
        '--initial-advertise-peer-urls', peer,
        '--initial-cluster', `fleet=${peer}`,
        '--log-level', 'error',
      ],
      { lifetimeMs: this.lifetimeMs },
    );
    this.proc = proc;
    const pid = proc.child.pid;
    if (pid !== undefined) {
      livePids.add(pid);
      void proc.exited.then(() => livePids.delete(pid));
    }
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      if (proc.child.exitCode !== null || proc.child.signalCode !== null) {
        this.proc = null;
        throw new Error(`etcd exited: ${proc.lines.stderr.slice(-10).join(' | ')}`);
      }
      if (await this.healthy()) return;
      await new Promise((r) => setTimeout(r, 50));
    }
    await this.stop();
    throw new Error(`etcd did not become healthy within ${timeoutMs} ms: ${proc.lines.stderr.slice(-10).join(' | ')}`);
  }

  /** Stop etcd (SIGTERM, SIGKILL after `graceMs`); the data directory stays for resume(). */
  async stop(graceMs = 5000): Promise<void> {
    const proc = this.proc;
    if (!proc) return;
    this.proc = null;
    proc.child.kill('SIGCONT');
    await proc.stop(graceMs);
  }

  /** Stop etcd, remove its namespace (and with it every fleet link) and its data. */
  async destroy(): Promise<void> {
    await this.stop();
    await runCommand(['ip', 'netns', 'del', this.ns]);
    liveNamespaces.delete(this.ns);
    rmSync(this.dataDir, { recursive: true, force: true });
  }

  private async healthy(): Promise<boolean> {
    const script = `require('http').get(${JSON.stringify(`${this.loopbackUrl}/health`)}, { timeout: 1000 }, (r) => { r.resume(); process.exit(r.statusCode === 200 ? 0 : 1); }).on('error', () => process.exit(1)).on('timeout', () => process.exit(1));`;
    const r = await runInNamespace(this.ns, [process.execPath, '-e', script], { timeoutMs: 3000 });
    return r.code === 0;
  }

  /** The options every datastore command gets: this etcd over loopback, this prefix. */
  datastoreArgs(): string[] {
    return ['--datastore', `etcd:${this.loopbackUrl}`, '--etcd-prefix', this.prefix];
  }

  /** `nfqwall <args> --datastore etcd:... --etcd-prefix ...` as a child process in etcd's namespace. */
  cli(args: readonly string[], timeoutMs = 20_000): Promise<CliResult> {
    const argv = ['ip', 'netns', 'exec', this.ns, process.execPath, NFQWALL, ...args, ...this.datastoreArgs()];
    return runTimed(argv, timeoutMs);
  }
}

/** Run argv; capture output and when it started, finished and said "Successfully ...". */
function runTimed(argv: readonly string[], timeoutMs: number): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const startedAt = Date.now();
    let doneAt: number | null = null;
    let stdout = '';
    let stderr = '';
    const child: ChildProcess = spawn(argv[0]!, argv.slice(1), { stdio: ['ignore', 'pipe', 'pipe'] });
    const t = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.stdout!.setEncoding('utf8').on('data', (d: string) => {
      stdout += d;
      if (doneAt === null && /(^|\n)Successfully/.test(stdout)) doneAt = Date.now();
    });
    child.stderr!.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    child.once('error', (err) => {
      clearTimeout(t);
      reject(err);
    });
    child.once('close', (code) => {
      clearTimeout(t);
      resolve({ code, stdout, stderr, startedAt, endedAt: Date.now(), doneAt });
    });
  });
}

/** `nfqwall status --socket SOCKET --json` (root namespace: the socket is a file). */
export async function daemonStatus(controlSocket: string): Promise<Record<string, unknown> & { datastore: DatastoreStatus | null; generation: number }> {
  const r = await runCommand([process.execPath, NFQWALL, 'status', '--socket', controlSocket, '--json'], { timeoutMs: 10_000 });
  if (r.code !== 0) throw new Error(`nfqwall status --socket ${controlSocket}: exit ${r.code}: ${r.stderr}`);
  return JSON.parse(r.stdout) as Record<string, unknown> & { datastore: DatastoreStatus | null; generation: number };
}

/** `status().datastore`, as the control socket sends it. */
export type DatastoreStatus = DatastoreHealth;

// --- watching a verdict flip ---------------------------------------------------------------------

/**
 * Opens a new TCP connection to host:port every `everyMs` (each given up after `attemptMs`: a
 * dropped SYN would otherwise wait for its retransmission) until one connects; prints
 * {"ok":true,"at":<ms epoch of the connect>} then, or {"ok":false} at the deadline. Each attempt
 * is a new flow, so each is judged under the policy in force when its SYN arrives.
 */
const FLIP_WATCHER = `
const net = require('net');
const c = JSON.parse(process.argv[1]);
let done = false;
const attempt = () => {
  if (done) return;
  const s = net.connect({ host: c.host, port: c.port });
  const t = setTimeout(() => s.destroy(), c.attemptMs);
  s.on('connect', () => {
    clearTimeout(t);
    s.destroy();
    if (done) return;
    done = true;
    console.log(JSON.stringify({ ok: true, at: Date.now() }));
    process.exit(0);
  });
  s.on('error', () => {});
};
console.log('watching');
setInterval(attempt, c.everyMs);
attempt();
setTimeout(() => { console.log(JSON.stringify({ ok: false, at: Date.now() })); process.exit(0); }, c.deadlineMs);
`;

export interface FlipWatcher {
  /** Resolves with when the first connection succeeded, or null at the deadline. */
  result: Promise<number | null>;
  proc: NsProcess;
}

/** Start watching (from `ns`) for host:port to become reachable; resolves once it is watching. */
export async function watchForAllow(ns: string, host: string, port: number, o: { everyMs?: number; attemptMs?: number; deadlineMs?: number } = {}): Promise<FlipWatcher> {
  const deadlineMs = o.deadlineMs ?? 5000;
  const cfg = { host, port, everyMs: o.everyMs ?? 20, attemptMs: o.attemptMs ?? 400, deadlineMs };
  const proc = spawnInNamespace(ns, [process.execPath, '-e', FLIP_WATCHER, JSON.stringify(cfg)], { lifetimeMs: deadlineMs + 3000 });
  await proc.waitForLine((l) => l === 'watching', 5000);
  const result = proc.waitForLine((l) => l.startsWith('{'), deadlineMs + 2000).then((l) => {
    const r = JSON.parse(l) as { ok: boolean; at: number };
    return r.ok ? r.at : null;
  });
  return { result, proc };
}

/** A TCP echo server on several ports at once (one process), for `lifetimeMs`. */
const MULTI_SERVER = `
const net = require('net');
const c = JSON.parse(process.argv[1]);
let up = 0;
for (const port of c.ports) {
  const srv = net.createServer((s) => { s.on('error', () => {}); s.on('data', (d) => s.write(d)); s.on('end', () => s.end()); });
  srv.listen({ host: c.host, port }, () => { if (++up === c.ports.length) console.log('listening'); });
}
setTimeout(() => process.exit(0), c.lifetimeMs);
`;

export async function startMultiServer(ns: string, host: string, ports: readonly number[], lifetimeMs: number): Promise<NsProcess> {
  const p = spawnInNamespace(ns, [process.execPath, '-e', MULTI_SERVER, JSON.stringify({ host, ports, lifetimeMs })], { lifetimeMs: lifetimeMs + 1000 });
  await p.waitForLine((l) => l === 'listening', 5000);
  return p;
}

/** A daemon settings file's text (`key: "value"` lines); write it mode 0600: the daemon refuses files others can write. */
export function settingsFileText(fields: Record<string, string>): string {
  return Object.entries(fields).map(([k, v]) => `${k}: ${JSON.stringify(v)}`).join('\n') + '\n';
}
