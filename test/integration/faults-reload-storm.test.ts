/**
 * Fault: a reload storm. 100 SIGHUPs within 10 s while connections are opened continuously from
 * the application host through the router; before each signal the policy directory (a symbolic
 * link) is switched between an invalid and a valid configuration. Nothing may be lost: every
 * queued packet gets a verdict (the kernel's queue-dropped and user-dropped counters stay 0, no
 * packet waits), no allowed connection fails, the daemon keeps running with flat memory (RSS
 * measured after 10 warm-up reloads), and at the end the valid configuration is in force.
 */
import { strict as assert } from 'node:assert';
import { copyFileSync, mkdirSync, mkdtempSync, renameSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createTestLab, IS_ROOT, startTcpServer, tcpProbe, type NsProcess, type TestLab } from '../helpers/lab';
import { FIXTURES, GUEST_SLOWDOWN, killDaemons, removeDir, SEED_DIR, sleep, startDaemon, waitUntil, type Daemon } from './daemon-helpers';
import { queueTotals, rssKb, startLoad, statusOf, tally } from './faults-helpers';

const QUEUE_BASE = 4700;
const SIGNALS = 100;
/** Reloads before the storm, not counted. */
const WARM_UP = 10;
const WITHIN_MS = 10_000;
/** Growth of the daemon's RSS over the storm that still counts as flat. */
const RSS_BOUND_KB = 30 * 1024;

const mb = (kb: number) => Math.round(kb / 102.4) / 10;

describe('integration: faults — reload storm under traffic @root', function () {
  this.timeout(90_000 * GUEST_SLOWDOWN);
  let lab: TestLab | undefined;
  let base: string | undefined;
  const servers: NsProcess[] = [];

  before(async function () {
    if (!IS_ROOT) this.skip();
    lab = await createTestLab();
    const n = lab.names;
    for (const port of [22, 80, 443]) servers.push(await startTcpServer(n.maint, { host: '::', port, max: 1_000_000, lifetimeMs: 80_000 }));
  });

  after(async () => {
    await killDaemons();
    for (const s of servers) await s.stop();
    await lab?.destroy();
    removeDir(base);
  });

  it('answers every queued packet, fails no allowed connection, keeps memory flat and ends on the valid policy', async () => {
    const { names: n, addresses: a } = lab as TestLab;
    // base/start: the seed (SSH allowed); base/valid: the seed plus HTTP; base/invalid: valid plus
    // a broken file. base/policy is a link the storm swaps with rename(2), so a reload reads one
    // version or the other, never a mixture.
    base = mkdtempSync(join(tmpdir(), 'nfqwall-storm-'));
    const start = join(base, 'start');
    const valid = join(base, 'valid');
    const invalid = join(base, 'invalid');
    const seedFiles = ['allow-ipv6-neighbour-discovery.yaml', 'allow-ssh-maintenance.yaml', 'hep-router-eth0.yaml', 'hep-router-eth1.yaml', 'wep-workload.yaml'];
    for (const dir of [start, valid, invalid]) {
      mkdirSync(dir, { mode: 0o755 });
      for (const f of seedFiles) copyFileSync(join(SEED_DIR, f), join(dir, f));
      if (dir !== start) copyFileSync(join(FIXTURES, 'faults', 'allow-http-maintenance.yaml'), join(dir, 'allow-http-maintenance.yaml'));
    }
    copyFileSync(join(FIXTURES, 'faults', 'broken-policy.yaml'), join(invalid, 'broken-policy.yaml'));
    const policy = join(base, 'policy');
    const point = (to: string) => {
      const tmp = join(base as string, `.next-${Date.now()}-${Math.random()}`);
      symlinkSync(to, tmp);
      renameSync(tmp, policy);
    };
    point(start);
    const d: Daemon = await startDaemon(lab as TestLab, { config: policy, queueBase: QUEUE_BASE, lifetimeMs: 80_000 });
    assert.equal((await tcpProbe(n.app, a.maint.v4, 80, { timeoutMs: 1000 })).connected, false, 'HTTP is denied before the storm');

    // Connections all through the storm: SSH (allowed by every valid version), 80 per second on
    // a new connection each, IPv4 and IPv6.
    const load = await startLoad(
      n.app,
      [
        { name: 'ssh4', proto: 'tcp', host: a.maint.v4, port: 22, expect: 'allow', everyMs: 15, timeoutMs: 5000 },
        { name: 'ssh6', proto: 'tcp', host: a.maint.v6, port: 22, expect: 'allow', everyMs: 40, timeoutMs: 5000 },
      ],
      { durationMs: WITHIN_MS + 6000 },
    );
    await sleep(1000);
    // Warm-up: the first reloads grow V8's heap (about 20-30 MB of RSS, once) and compile the
    // reload path; "flat" is measured from after them.
    const rssCold = rssKb(d.pid);
    for (let i = 0; i < WARM_UP; i++) {
      point(valid);
      const from = d.logs().length;
      d.signal('SIGHUP');
      await d.waitForLog((e) => e.msg === 'policy reloaded', 10_000, from);
    }
    const before = queueTotals(await statusOf(d.controlSocket));
    const rssBefore = rssKb(d.pid);
    const fromLog = d.logs().length;
    const t0 = Date.now();
    for (let i = 0; i < SIGNALS; i++) {
      // invalid, valid, invalid, ..., valid: the last signal reads the valid version.
      point(i % 2 === 0 ? invalid : valid);
      d.signal('SIGHUP');
      await sleep(Math.max(0, t0 + ((i + 1) * WITHIN_MS) / SIGNALS - Date.now()));
    }
    const sentInMs = Date.now() - t0;
    const attempts = await load.finish();
    // The last signal may have been coalesced into a reload in progress: wait until one that
    // started after it has finished (the reloads run one at a time).
    const outcomes = () => d.logs().slice(fromLog).filter((e) => e.msg === 'policy reloaded' || String(e.msg).startsWith('reload failed'));
    await waitUntil('the reloads to settle', 15_000, async () => {
      const n1 = outcomes().length;
      await sleep(500);
      return outcomes().length === n1 ? n1 : undefined;
    });
    const after = await statusOf(d.controlSocket);
    const totals = queueTotals(after);
    const rssAfter = rssKb(d.pid);

    const ok = d.logs().slice(fromLog).filter((e) => e.msg === 'policy reloaded');
    const failed = d.logs().slice(fromLog).filter((e) => e.msg === 'reload failed: configuration invalid; the previous policy stays in force');
    const figures = {
      sentInMs,
      reloadsOk: ok.length,
      reloadsFailed: failed.length,
      connections: tally(attempts),
      queued: totals.kernelQueued - before.kernelQueued,
      rssMb: { cold: mb(rssCold), before: mb(rssBefore), after: mb(rssAfter) },
      heapUsedMb: [ok[0]?.memoryMb, ok[ok.length - 1]?.memoryMb],
      reloadMs: ok.map((e) => Number(e.durationMs)).sort((x, y) => x - y).filter((_, i, xs) => i === 0 || i === xs.length >> 1 || i === xs.length - 1),
    };
    console.log(`      reload storm: ${JSON.stringify(figures)}`);

    assert.equal(d.proc.child.exitCode, null, 'the daemon is still running');
    assert.ok(sentInMs < WITHIN_MS + 1000, `${SIGNALS} signals within ${WITHIN_MS} ms (took ${sentInMs})`);
    assert.ok(ok.length >= 2 && failed.length >= 2, `both versions were read: ${ok.length} reloads ok, ${failed.length} failed`);
    // Every queued packet got its verdict.
    assert.equal(totals.queueDropped, 0, 'kernel: queue dropped');
    assert.equal(totals.userDropped, 0, 'kernel: user dropped');
    assert.equal(totals.waiting, 0, 'kernel: packets waiting for a verdict');
    assert.equal(totals.pending, 0, 'daemon: packets without a verdict');
    assert.equal(totals.answered, totals.received, 'daemon: one verdict per packet received');
    assert.equal(totals.received, totals.kernelQueued, 'daemon received every packet the kernel queued');
    assert.equal(after.counters.handlerErrors, 0);
    assert.ok(totals.kernelQueued - before.kernelQueued > 1000, `traffic was queued during the storm (${totals.kernelQueued - before.kernelQueued} packets)`);
    // No allowed connection failed.
    const bad = attempts.filter((x) => x.outcome !== 'ok');
    assert.deepEqual(bad, [], `allowed connections that failed: ${JSON.stringify(tally(attempts))}`);
    assert.ok(attempts.length > 500, `connections were opened all along (${attempts.length})`);
    // The valid version is in force: the last reload succeeded, HTTP is allowed, the rest denied.
    assert.equal(after.lastReload?.ok, true, `last reload: ${JSON.stringify(after.lastReload)}`);
    assert.equal(after.generation, 1 + WARM_UP + ok.length, 'one generation per successful reload');
    assert.deepEqual(await tcpProbe(n.app, a.maint.v4, 80), { connected: true, echoed: true }, 'HTTP allowed by the valid version');
    assert.deepEqual(await tcpProbe(n.app, a.maint.v4, 22), { connected: true, echoed: true });
    assert.equal((await tcpProbe(n.app, a.maint.v4, 443, { timeoutMs: 1000 })).connected, false, 'anything else still denied');
    // Memory flat.
    assert.ok(rssAfter - rssBefore < RSS_BOUND_KB, `RSS ${rssBefore} kB -> ${rssAfter} kB`);
  });
});
