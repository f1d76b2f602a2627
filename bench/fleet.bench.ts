/**
 * Fleet benchmark: one etcd on loopback (started here, like the tests), two routers watching it.
 *
 *  1. apply → enforcement: time from calling `apply` (one changed policy) until BOTH routers have
 *     the new snapshot validated and compiled (compilePolicy for their own host), over 50 applies;
 *     median and p99, with the default debounce (20 ms) and with none.
 *  2. 10 000 policies in the store, stored as JSON (the default) and as YAML: snapshot load time
 *     (paged range read + parse, then validation), compile time, heap held by a snapshot (with the
 *     per-key state a watch keeps), one change followed by a watching router, `apply` alone, and
 *     the same policies as a policy directory.
 *
 * Prints tables; asserts nothing. Needs /usr/bin/etcd (Debian etcd-server).
 * Run: npm run build && node --expose-gc dist/bench/fleet.bench.js [applies] [policies]
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { parseYamlDocuments } from '../src/config';
import { DirectoryDatastore, EtcdDatastore, renderResource, type Snapshot } from '../src/datastore';
import type { EtcdState } from '../src/datastore/etcd';
import { compilePolicy } from '../src/engine';
import type { HostModel } from '../src/engine/host-model';
import { EtcdServer } from '../test/datastore/etcd-server';

const APPLIES = Number(process.argv[2] ?? 50);
const POLICIES = Number(process.argv[3] ?? 10_000);

const host = (node: string, address: string): HostModel => ({
  node,
  interfaces: [{ name: 'eth0', addresses: [address], routes: [], workload: false }],
  workloadInterfacePrefix: 'cali',
  ipForward: true,
  nat: [],
  unmanagedVerdict: 'accept',
});

const tier = { apiVersion: 'projectcalico.org/v3', kind: 'Tier', metadata: { name: 'edge' }, spec: { order: 100 } };
const hep = (node: string) => ({
  apiVersion: 'projectcalico.org/v3',
  kind: 'HostEndpoint',
  metadata: { name: `${node}-eth0`, labels: { role: 'wan' } },
  spec: { node, interfaceName: 'eth0' },
});
/** A typical edge rule set: allow TCP from one /24 to one port, per policy. */
const policy = (i: number, port = 1024 + (i % 50000)) => ({
  apiVersion: 'projectcalico.org/v3',
  kind: 'GlobalNetworkPolicy',
  metadata: { name: `edge.p${String(i).padStart(5, '0')}` },
  spec: {
    tier: 'edge',
    order: i,
    selector: "role == 'wan'",
    types: ['Ingress'],
    ingress: [{ action: 'Allow', protocol: 'TCP', source: { nets: [`10.${(i >> 8) & 255}.${i & 255}.0/24`] }, destination: { ports: [port] } }],
  },
});

function docs(values: object[]) {
  return parseYamlDocuments(values.map((v) => renderResource(v as Record<string, unknown>)).join('---\n'), 'bench.yaml').documents;
}

function pct(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
}

function table(rows: string[][]): void {
  const w = rows[0]!.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length)));
  for (const r of rows) console.log(r.map((c, i) => (i === 0 ? c.padEnd(w[i]!) : c.padStart(w[i]!))).join('   '));
}

const ms = (n: number): string => `${n.toFixed(1)} ms`;
const mib = (n: number): string => `${(n / 1024 / 1024).toFixed(1)} MiB`;

function gc(): void {
  const g = (globalThis as { gc?: () => void }).gc;
  if (g) {
    g();
    g();
  }
}

/** A router: its own client and watch; records when each revision was compiled. */
async function startRouter(url: string, prefix: string, node: string, address: string, debounceMs: number) {
  const ds = new EtcdDatastore({ endpoints: [url], prefix });
  const h = host(node, address);
  const compiledAt = new Map<number, number>();
  const first = await ds.snapshot({ nodeName: node });
  const watch = ds.watch(
    (s: Snapshot) => {
      if (!s.ok) return;
      compilePolicy(s.resources, h);
      compiledAt.set(s.revision!, performance.now());
    },
    undefined,
    { nodeName: node, after: first, debounceMs },
  );
  return { ds, watch, compiledAt };
}

async function waitUntil(check: () => boolean, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error('timed out');
    await new Promise((r) => setImmediate(r));
  }
}

async function applyToEnforcement(url: string, debounceMs: number, prefix: string): Promise<{ both: number[]; r1: number[]; r2: number[] }> {
  const admin = new EtcdDatastore({ endpoints: [url], prefix });
  await admin.apply(docs([tier, hep('r1'), hep('r2'), ...Array.from({ length: 20 }, (_, i) => policy(i))]));
  const r1 = await startRouter(url, prefix, 'r1', '10.0.0.1/24', debounceMs);
  const r2 = await startRouter(url, prefix, 'r2', '10.0.1.1/24', debounceMs);
  await waitUntil(() => r1.watch.health().state === 'connected' && r2.watch.health().state === 'connected', 5000);
  const both: number[] = [];
  const one: number[] = [];
  const two: number[] = [];
  for (let i = 0; i < APPLIES; i++) {
    const change = docs([policy(i % 20, 2000 + i)]);
    const t0 = performance.now();
    const r = await admin.apply(change);
    const rev = r.revision!;
    await waitUntil(() => r1.compiledAt.has(rev) && r2.compiledAt.has(rev), 5000);
    const a = r1.compiledAt.get(rev)! - t0;
    const b = r2.compiledAt.get(rev)! - t0;
    one.push(a);
    two.push(b);
    both.push(Math.max(a, b));
    await new Promise((res) => setTimeout(res, 5));
  }
  await Promise.all([admin.close(), r1.ds.close(), r2.ds.close()]);
  return { both: both.sort((x, y) => x - y), r1: one.sort((x, y) => x - y), r2: two.sort((x, y) => x - y) };
}

async function bulkLoad(ds: EtcdDatastore, n: number, encode: (v: Record<string, unknown>) => string): Promise<number> {
  // etcd allows 128 operations per transaction by default.
  let bytes = 0;
  const batches: Promise<unknown>[] = [];
  for (let start = 0; start < n; start += 100) {
    const ops = [];
    for (let i = start; i < Math.min(n, start + 100); i++) {
      const p = policy(i);
      const text = encode(p);
      bytes += text.length;
      ops.push({ request_put: { key: Buffer.from(ds.keyFor({ kind: 'GlobalNetworkPolicy', name: p.metadata.name })), value: Buffer.from(text) } });
    }
    batches.push(ds.client.kv.txn({ compare: [], success: ops, failure: [] }));
    if (batches.length >= 10) await Promise.all(batches.splice(0));
  }
  await Promise.all(batches);
  return bytes;
}

/** Snapshot load figures over 3 rounds (medians), and the heap one snapshot holds. */
async function loadFigures(url: string, prefix: string): Promise<{ read: number; validate: number; compile: number; held: number }> {
  const reader = new EtcdDatastore({ endpoints: [url], prefix });
  const times: { read: number; validate: number; compile: number }[] = [];
  const held: number[] = [];
  // Outside the loop and cleared each round: a suspended async function keeps its locals alive.
  let state: EtcdState | null = null;
  let snap: Snapshot | null = null;
  try {
    for (let round = 0; round < 3; round++) {
      state = null;
      snap = null;
      gc();
      const heap0 = process.memoryUsage().heapUsed;
      const t0 = performance.now();
      state = await reader.readState();
      const t1 = performance.now();
      snap = reader.makeSnapshot(state.entries, state.revision, { nodeName: 'r1' });
      const t2 = performance.now();
      if (!snap.ok || snap.counts.GlobalNetworkPolicy !== POLICIES) throw new Error(`unexpected snapshot: ${snap.issues.length} issues`);
      compilePolicy(snap.resources, host('r1', '10.0.0.1/24'));
      const t3 = performance.now();
      state = null; // the snapshot keeps the per-key map itself (what a watch continues from)
      gc();
      held.push(process.memoryUsage().heapUsed - heap0);
      times.push({ read: t1 - t0, validate: t2 - t1, compile: t3 - t2 });
    }
  } finally {
    await reader.close();
  }
  const med = (k: 'read' | 'validate' | 'compile') => pct(times.map((t) => t[k]).sort((a, b) => a - b), 50);
  return { read: med('read'), validate: med('validate'), compile: med('compile'), held: pct(held.sort((a, b) => a - b), 50) };
}

async function main(): Promise<void> {
  const etcd = await EtcdServer.start();
  const scratch = mkdtempSync(join(tmpdir(), 'nfqwall-fleet-bench-'));
  try {
    console.log(`fleet benchmark: etcd ${etcd.url}, ${APPLIES} applies, ${POLICIES} policies${(globalThis as { gc?: unknown }).gc ? '' : ' (run with --expose-gc for heap figures)'}`);
    console.log('\napply -> new snapshot validated and compiled on both routers (20 policies, 2 HEPs)');
    const rows = [['debounce', 'median both', 'p99 both', 'median r1', 'median r2', 'max both']];
    for (const d of [20, 0]) {
      const r = await applyToEnforcement(etcd.url, d, `/bench-apply-${d}/`);
      rows.push([`${d} ms`, ms(pct(r.both, 50)), ms(pct(r.both, 99)), ms(pct(r.r1, 50)), ms(pct(r.r2, 50)), ms(r.both[r.both.length - 1]!)]);
    }
    table(rows);

    console.log(`\n${POLICIES} policies in the store`);
    const prefix = '/bench-big/';
    const admin = new EtcdDatastore({ endpoints: [etcd.url], prefix });
    await admin.apply(docs([tier, hep('r1')]));
    const yamlPrefix = '/bench-big-yaml/';
    const yamlAdmin = new EtcdDatastore({ endpoints: [etcd.url], prefix: yamlPrefix, format: 'yaml' });
    await yamlAdmin.apply(docs([tier, hep('r1')]));
    const out: string[][] = [['what', 'JSON values (default)', 'YAML values']];
    const t0 = performance.now();
    const jsonBytes = await bulkLoad(admin, POLICIES, (v) => admin.encode(v));
    const t1 = performance.now();
    const yamlBytes = await bulkLoad(yamlAdmin, POLICIES, (v) => yamlAdmin.encode(v));
    const t2 = performance.now();
    out.push(['stored, bulk put time', `${mib(jsonBytes)}, ${ms(t1 - t0)}`, `${mib(yamlBytes)}, ${ms(t2 - t1)}`]);
    const j = await loadFigures(etcd.url, prefix);
    const y = await loadFigures(etcd.url, yamlPrefix);
    await yamlAdmin.close();
    const hasGc = (globalThis as { gc?: unknown }).gc !== undefined;
    out.push(['snapshot: paged read at one revision + parse', ms(j.read), ms(y.read)]);
    out.push(['snapshot: validate', ms(j.validate), ms(y.validate)]);
    out.push(['snapshot: total', ms(j.read + j.validate), ms(y.read + y.validate)]);
    out.push(['compile for one router', ms(j.compile), ms(y.compile)]);
    out.push(['heap held by one snapshot + per-key state', hasGc ? mib(j.held) : 'n/a', hasGc ? mib(y.held) : 'n/a']);

    // One change followed by a router that watches the 10 000-policy store.
    const router = await startRouter(etcd.url, prefix, 'r1', '10.0.0.1/24', 20);
    await waitUntil(() => router.watch.health().state === 'connected', 10_000);
    const follow: number[] = [];
    for (let i = 0; i < 10; i++) {
      const t0 = performance.now();
      const r = await admin.apply(docs([policy(i, 3000 + i)]));
      await waitUntil(() => router.compiledAt.has(r.revision!), 30_000);
      follow.push(router.compiledAt.get(r.revision!)! - t0);
    }
    follow.sort((a, b) => a - b);
    out.push(['apply -> compiled on a watching router (median of 10)', ms(pct(follow, 50)), '']);
    const applyOnly: number[] = [];
    for (let i = 0; i < 5; i++) {
      const t0 = performance.now();
      await admin.apply(docs([policy(i, 4000 + i)]));
      applyOnly.push(performance.now() - t0);
    }
    out.push(['apply alone (read + validate all + txn, median of 5)', ms(pct(applyOnly.sort((a, b) => a - b), 50)), '']);
    await Promise.all([router.ds.close(), admin.close()]);

    // The same policies as a directory, one file each.
    const dir = join(scratch, 'policy');
    const ds = new DirectoryDatastore(dir);
    await ds.apply(docs([tier, hep('r1')]));
    for (let i = 0; i < POLICIES; i++) writeFileSync(join(dir, `gnp-${i}.yaml`), renderResource(policy(i)));
    const dirTimes: number[] = [];
    for (let round = 0; round < 3; round++) {
      const t0 = performance.now();
      const s = await ds.snapshot({ nodeName: 'r1' });
      dirTimes.push(performance.now() - t0);
      if (!s.ok) throw new Error('directory snapshot invalid');
    }
    out.push(['directory datastore snapshot (one YAML file per policy)', '', ms(pct(dirTimes.sort((a, b) => a - b), 50))]);
    out.push(['process RSS at the end', mib(process.memoryUsage().rss), '']);
    table(out);
  } finally {
    await etcd.destroy();
    rmSync(scratch, { recursive: true, force: true });
  }
}

main().catch((err) => {
  console.error(err);
  process.exitCode = 1;
});
