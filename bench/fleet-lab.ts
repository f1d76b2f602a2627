/**
 * Fleet benchmark with the real daemons: two lab routers (router-a, router-b), each running
 * `nfqwall run --datastore etcd:URL --node NAME` in its namespace, one real etcd shared by both
 * (test/integration/fleet-helpers.ts: etcd in a namespace of its own, linked to each router).
 *
 * Each round applies one change of the shared policy (allow-ssh-maintenance alternately allows
 * TCP 80 or TCP 8080 besides 22) through `EtcdDatastore.apply` in a long-lived client next to etcd,
 * and measures from the moment apply is called until each router
 *   - logs 'policy reloaded' with the new revision (snapshot validated, compiled, steering rules
 *     installed, policy swapped in), and
 *   - lets through a new TCP connection to the newly allowed port (a watcher in the application
 *     host opens one every 10 ms; each is a new flow judged by the daemon).
 * Prints median, p99 and max per router and for both (the later of the two). Needs root and
 * /usr/bin/etcd (Debian etcd-server); builds and removes its own namespaces.
 *
 * Run: npm run build && node dist/bench/fleet-lab.js [applies=50]
 */
import { spawn } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createTestLab, IS_ROOT, type NsProcess, type TestLab } from '../test/helpers/lab';
import { FIXTURES, killDaemons, REPO, sleep, startDaemon, type Daemon, type LogEntry } from '../test/integration/daemon-helpers';
import { ETCD_BINARY, FleetEtcd, settingsFileText, startMultiServer, watchForAllow } from '../test/integration/fleet-helpers';

const APPLIES = Number(process.argv[2] ?? 50);
const NODES = ['router-a', 'router-b'] as const;
const QUEUE_BASES = [4620, 4630] as const;
const PREFIX = '/nfqwall-fleet-bench/';

/** A client next to etcd: one apply per stdin line `{"ports":[...]}`, one JSON line out per apply. */
const DRIVER = `
const { EtcdDatastore } = require(${JSON.stringify(join(REPO, 'dist', 'src', 'datastore'))});
const { parseYamlDocuments } = require(${JSON.stringify(join(REPO, 'dist', 'src', 'config'))});
const c = JSON.parse(process.argv[1]);
const ds = new EtcdDatastore({ endpoints: [c.url], prefix: c.prefix });
const policy = (ports) => JSON.stringify({
  apiVersion: 'projectcalico.org/v3', kind: 'GlobalNetworkPolicy', metadata: { name: 'allow-ssh-maintenance' },
  spec: { selector: "network == 'maintenance'", applyOnForward: true, types: ['Egress'],
          egress: [{ action: 'Allow', protocol: 'TCP', destination: { ports } }] },
});
let buf = '';
let chain = Promise.resolve();
process.stdin.setEncoding('utf8').on('data', (d) => {
  buf += d;
  let i;
  while ((i = buf.indexOf('\\n')) >= 0) {
    const line = buf.slice(0, i);
    buf = buf.slice(i + 1);
    const { ports } = JSON.parse(line);
    const docs = parseYamlDocuments(policy(ports), 'bench.json').documents;
    chain = chain.then(async () => {
      const t0 = Date.now();
      const r = await ds.apply(docs);
      const t1 = Date.now();
      console.log(JSON.stringify({ t0, t1, ok: r.ok, revision: r.revision }));
    }).catch((e) => console.log(JSON.stringify({ error: String(e) })));
  }
});
process.stdin.on('end', () => chain.then(() => ds.close()).then(() => process.exit(0)));
console.log('ready');
`;

interface DriverResult {
  t0: number;
  t1: number;
  ok: boolean;
  revision: number;
  error?: string;
}

/** The driver process in etcd's namespace; `apply(ports)` resolves with its line. */
function startDriver(etcd: FleetEtcd, lifetimeMs: number) {
  const child = spawn('ip', ['netns', 'exec', etcd.ns, process.execPath, '-e', DRIVER, JSON.stringify({ url: etcd.loopbackUrl, prefix: PREFIX })], { stdio: ['pipe', 'pipe', 'inherit'] });
  const kill = setTimeout(() => child.kill('SIGKILL'), lifetimeMs);
  const waiting: Array<(line: string) => void> = [];
  let buf = '';
  child.stdout!.setEncoding('utf8').on('data', (d: string) => {
    buf += d;
    let i;
    while ((i = buf.indexOf('\n')) >= 0) {
      const line = buf.slice(0, i);
      buf = buf.slice(i + 1);
      waiting.shift()?.(line);
    }
  });
  const next = (timeoutMs: number): Promise<string> =>
    new Promise((resolve, reject) => {
      const t = setTimeout(() => reject(new Error('the apply driver did not answer')), timeoutMs);
      waiting.push((l) => {
        clearTimeout(t);
        resolve(l);
      });
    });
  const ready = next(10_000);
  return {
    ready,
    async apply(ports: number[]): Promise<DriverResult> {
      const answer = next(10_000);
      child.stdin!.write(`${JSON.stringify({ ports })}\n`);
      const r = JSON.parse(await answer) as DriverResult;
      if (r.error !== undefined || !r.ok) throw new Error(`apply failed: ${JSON.stringify(r)}`);
      return r;
    },
    async stop(): Promise<void> {
      child.stdin!.end();
      await new Promise<void>((r) => (child.exitCode !== null ? r() : child.once('close', () => r())));
      clearTimeout(kill);
    },
  };
}

function pct(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
}

function row(label: string, values: number[]): string[] {
  const s = [...values].sort((a, b) => a - b);
  return [label, `${pct(s, 50)} ms`, `${pct(s, 99)} ms`, `${s[s.length - 1]} ms`, `${s[0]} ms`];
}

function table(rows: string[][]): void {
  const w = rows[0]!.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length)));
  for (const r of rows) console.log(r.map((c, i) => (i === 0 ? c.padEnd(w[i]!) : c.padStart(w[i]!))).join('   '));
}

async function main(): Promise<void> {
  if (!IS_ROOT) throw new Error('needs root (network namespaces)');
  if (!existsSync(ETCD_BINARY)) throw new Error(`${ETCD_BINARY} missing (Debian package etcd-server)`);
  const lifetimeMs = 60_000 + APPLIES * 5_000;
  const labs: TestLab[] = [];
  const servers: NsProcess[] = [];
  const daemons: Daemon[] = [];
  let etcd: FleetEtcd | undefined;
  let driver: ReturnType<typeof startDriver> | undefined;
  const scratch = mkdtempSync(join(tmpdir(), 'nfqwall-fleet-lab-'));
  try {
    labs.push(await createTestLab(), await createTestLab());
    etcd = await FleetEtcd.start(labs, { prefix: PREFIX, lifetimeMs });
    for (const l of labs) servers.push(await startMultiServer(l.names.maint, '::', [22, 80, 8080], lifetimeMs));
    const init = await etcd.cli(['apply', '-f', join(FIXTURES, 'fleet', 'initial.yaml')]);
    if (init.code !== 0) throw new Error(`initial apply: ${init.stderr}`);
    const settingsFile = join(scratch, 'nfqwall.yaml');
    writeFileSync(settingsFile, settingsFileText({ etcdPrefix: PREFIX }), { mode: 0o600 });
    chmodSync(settingsFile, 0o600);
    for (const [i, l] of labs.entries()) {
      daemons.push(
        await startDaemon(l, {
          config: join(scratch, 'unused-policy-dir'),
          queueBase: QUEUE_BASES[i]!,
          settingsFile,
          extraArgs: ['--datastore', `etcd:${etcd.urlFor(i)}`, '--node', NODES[i]!],
          lifetimeMs,
        }),
      );
    }
    driver = startDriver(etcd, lifetimeMs);
    await driver.ready;
    console.log(`fleet lab benchmark: 2 routers (${NODES.join(', ')}) in lab namespaces, etcd ${ETCD_BINARY} in ${etcd.ns}, ${APPLIES} applies`);

    const applyCall: number[] = [];
    const reload: number[][] = [[], []];
    const flip: number[][] = [[], []];
    const reloadBoth: number[] = [];
    const flipBoth: number[] = [];
    const reloadDuration: number[][] = [[], []];
    const steer: number[][] = [[], []];
    const last: LogEntry[] = [];
    for (let n = 0; n < APPLIES; n++) {
      const port = n % 2 === 0 ? 80 : 8080;
      const watchers = await Promise.all(labs.map((l) => watchForAllow(l.names.app, l.addresses.maint.v4, port, { everyMs: 10, attemptMs: 400, deadlineMs: 5000 })));
      const from = daemons.map((d) => d.logs().length);
      const r = await driver.apply([22, port]);
      applyCall.push(r.t1 - r.t0);
      const logs = await Promise.all(daemons.map((d, i) => d.waitForLog((e) => e.msg === 'policy reloaded' && e.revision === r.revision, 5000, from[i])));
      const flips = await Promise.all(watchers.map((w) => w.result));
      const rl = logs.map((e) => Date.parse(String(e.time)) - r.t0);
      for (const i of [0, 1]) {
        const at = flips[i];
        if (at === null || at === undefined) throw new Error(`${NODES[i]} never let port ${port} through (apply ${n}, revision ${r.revision})`);
        if (at < r.t0) throw new Error(`${NODES[i]} let port ${port} through before apply ${n}`);
        flip[i]!.push(at - r.t0);
        reload[i]!.push(rl[i]!);
        const e = logs[i]!;
        reloadDuration[i]!.push(Number(e.durationMs));
        steer[i]!.push(Number((e.phasesMs as { steer: number }).steer));
        last[i] = e;
      }
      reloadBoth.push(Math.max(...rl));
      flipBoth.push(Math.max(flip[0]![n]!, flip[1]![n]!));
      await sleep(200);
    }
    console.log('\nfrom calling apply (one changed policy) to enforcement, ms');
    table([
      ['measurement', 'median', 'p99', 'max', 'min'],
      row('apply call (read + validate + txn)', applyCall),
      row(`'policy reloaded' logged, ${NODES[0]}`, reload[0]!),
      row(`'policy reloaded' logged, ${NODES[1]}`, reload[1]!),
      row("'policy reloaded' logged, both", reloadBoth),
      row(`new connection to the newly allowed port passes, ${NODES[0]}`, flip[0]!),
      row(`new connection to the newly allowed port passes, ${NODES[1]}`, flip[1]!),
      row('new connection to the newly allowed port passes, both', flipBoth),
      row(`daemon reload duration (load+compile+steer), ${NODES[0]}`, reloadDuration[0]!),
      row(`daemon reload duration (load+compile+steer), ${NODES[1]}`, reloadDuration[1]!),
      row(`steering rules install, ${NODES[0]}`, steer[0]!),
      row(`steering rules install, ${NODES[1]}`, steer[1]!),
    ]);
    console.log(`\n(p99 of ${APPLIES} samples is the ${Math.ceil(0.99 * APPLIES)}th smallest; log times have millisecond resolution; the watchers try every 10 ms)`);
    console.log(`daemon memory after the last reload: ${last.map((e, i) => `${NODES[i]} rss ${(e.memoryMb as { rss: number }).rss} MiB, heap ${(e.memoryMb as { heapUsed: number }).heapUsed} MiB`).join('; ')}`);
  } finally {
    await driver?.stop().catch(() => undefined);
    await killDaemons();
    for (const s of servers) await s.stop();
    await etcd?.destroy();
    for (const l of labs) await l.destroy();
    rmSync(scratch, { recursive: true, force: true });
  }
}

main().catch((err) => {
  console.error(err);
  process.exitCode = 1;
});
