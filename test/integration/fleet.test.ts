/**
 * A fleet end to end: two lab routers with different node names, each running the real daemon
 * (`nfqwall run --datastore etcd:URL --node router-a|router-b`, etcd prefix from its settings
 * file), sharing one real etcd that this suite starts (test/integration/fleet-helpers.ts). Policy
 * goes in only through `nfqwall apply` child processes; verdicts are checked with real TCP
 * connections through each router.
 *
 *  - each router enforces the shared policy, and only the HostEndpoints of its own node;
 *  - one apply changes both routers' verdicts within a second;
 *  - etcd stopped for 30 s (NFQWALL_TEST_FLEET_OUTAGE_MS) changes no verdict, status says
 *    disconnected; once etcd is back both reconnect and the next apply takes effect;
 *  - an invalid resource is refused by apply (exit 1, located error) and nothing changes.
 */
import { strict as assert } from 'node:assert';
import { chmodSync, existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createTestLab, IS_ROOT, runInNamespace, tcpProbe, type NsProcess, type TestLab } from '../helpers/lab';
import { FIXTURES, installedRules, killDaemons, NFQWALL, sleep, startDaemon, waitUntil, type Daemon, type LogEntry } from './daemon-helpers';
import { daemonStatus, ETCD_BINARY, ETCD_CLIENT_PORT, FleetEtcd, settingsFileText, startMultiServer, watchForAllow, type DatastoreStatus } from './fleet-helpers';

const FLEET = join(FIXTURES, 'fleet');
const NODES = ['router-a', 'router-b'] as const;
const QUEUE_BASES = [4600, 4610] as const;
const PREFIX = '/nfqwall-fleet-it/';
const OUTAGE_MS = Number(process.env['NFQWALL_TEST_FLEET_OUTAGE_MS'] ?? 30_000);
/** "changes both routers' verdicts within a second" */
const FLIP_LIMIT_MS = 1000;
const MAINT_PORTS = [22, 80, 443, 8080] as const;
const METRICS_PORT = 9743;

type Verdicts = Record<string, boolean>;

describe('integration: a fleet of two routers sharing one etcd @root', function () {
  this.timeout(120_000);
  const labs: TestLab[] = [];
  const daemons: Daemon[] = [];
  const servers: NsProcess[] = [];
  let etcd: FleetEtcd | undefined;
  let scratch: string | undefined;
  /** Revision of each successful apply, in order. */
  const revisions: number[] = [];

  const lab = (i: number): TestLab => labs[i] as TestLab;
  const daemon = (i: number): Daemon => daemons[i] as Daemon;
  const fleet = (): FleetEtcd => etcd as FleetEtcd;

  /** Real connections from the application host of lab `i`: forwarded into maintenance, and to the router itself. */
  async function verdicts(i: number): Promise<Verdicts> {
    const { names: n, addresses: a } = lab(i);
    const probes: Array<[string, string, number]> = [
      ...MAINT_PORTS.map((p): [string, string, number] => [`maint:${p}`, a.maint.v4, p]),
      ['maint6:22', a.maint.v6, 22],
      ['maint6:80', a.maint.v6, 80],
      ['router-eth0:80', a.router.eth0.v4, 80],
    ];
    const results = await Promise.all(probes.map(([, host, port]) => tcpProbe(n.app, host, port, { timeoutMs: 1000 })));
    return Object.fromEntries(probes.map(([k], j) => [k, (results[j] as { connected: boolean }).connected]));
  }

  /** What lab `i` must show when the shared policy allows `ports` into maintenance. */
  function expected(i: number, ports: readonly number[]): Verdicts {
    return {
      ...Object.fromEntries(MAINT_PORTS.map((p) => [`maint:${p}`, ports.includes(p)])),
      'maint6:22': ports.includes(22),
      'maint6:80': ports.includes(80),
      // router-a polices its own eth0 (HEP router-a.eth0, default deny for the router itself);
      // router-b has no HEP there: eth0 is unmanaged on router-b.
      'router-eth0:80': i === 1,
    };
  }

  async function assertVerdicts(ports: readonly number[], when: string): Promise<void> {
    const got = await Promise.all([verdicts(0), verdicts(1)]);
    for (const i of [0, 1]) assert.deepEqual(got[i], expected(i, ports), `${NODES[i]} ${when}`);
  }

  async function apply(file: string): Promise<{ revision: number; committedAt: number; startedAt: number }> {
    const r = await fleet().cli(['apply', '-f', join(FLEET, file)]);
    assert.equal(r.code, 0, `apply -f ${file}: ${r.stdout}${r.stderr}`);
    const m = /\(revision (\d+)\)/.exec(r.stdout);
    assert.ok(m, r.stdout);
    const revision = Number(m[1]);
    revisions.push(revision);
    return { revision, committedAt: r.doneAt ?? r.endedAt, startedAt: r.startedAt };
  }

  async function health(i: number): Promise<DatastoreStatus & { generation: number }> {
    const s = await daemonStatus(daemon(i).controlSocket);
    assert.ok(s.datastore, `status of ${NODES[i]} has datastore health`);
    return { ...s.datastore, generation: s.generation };
  }

  /** Denied-packet records of router `i` that concern its etcd connection (there must be none). */
  function etcdTrafficDenied(i: number): LogEntry[] {
    return daemon(i).logs().filter((e) => e.msg === 'packet denied' && (e.dport === ETCD_CLIENT_PORT || e.sport === ETCD_CLIENT_PORT));
  }

  /** One datastore metric of router `i` (the daemon serves metrics inside its namespace). */
  async function metric(i: number, name: string): Promise<number> {
    const script = `require('http').get('http://127.0.0.1:${METRICS_PORT}/metrics', (r) => { let b = ''; r.on('data', (d) => (b += d)); r.on('end', () => { console.log(b); process.exit(0); }); }).on('error', (e) => { console.error(String(e)); process.exit(1); });`;
    const r = await runInNamespace(lab(i).names.router, [process.execPath, '-e', script], { timeoutMs: 5000 });
    assert.equal(r.code, 0, r.stderr);
    const m = new RegExp(`^${name} (\\S+)$`, 'm').exec(r.stdout);
    assert.ok(m, `${name} in the metrics of ${NODES[i]}`);
    return Number(m[1]);
  }

  /** Apply `file` once; both routers must let `port` through within FLIP_LIMIT_MS of the commit. */
  async function applyAndTimeFlip(file: string, port: number): Promise<{ revision: number; afterCommitMs: number[]; afterSpawnMs: number[] }> {
    const watchers = await Promise.all([0, 1].map((i) => watchForAllow(lab(i).names.app, lab(i).addresses.maint.v4, port, { deadlineMs: 5000 })));
    const a = await apply(file);
    const flips = await Promise.all(watchers.map((w) => w.result));
    const afterCommitMs: number[] = [];
    const afterSpawnMs: number[] = [];
    for (const [i, at] of flips.entries()) {
      assert.ok(at !== null, `${NODES[i]} never let port ${port} through after applying ${file}`);
      assert.ok(at >= a.startedAt, `${NODES[i]} let port ${port} through before ${file} was applied`);
      afterCommitMs.push(at - a.committedAt);
      afterSpawnMs.push(at - a.startedAt);
    }
    // The reload that did it, with the new revision, on each router.
    for (const i of [0, 1]) {
      const e = await daemon(i).waitForLog((l: LogEntry) => l.msg === 'policy reloaded' && l.revision === a.revision, 2000);
      assert.ok(Date.parse(String(e.time)) - a.committedAt < FLIP_LIMIT_MS, `${NODES[i]} reloaded revision ${a.revision} at ${String(e.time)}`);
    }
    console.log(`      ${file} (revision ${a.revision}): port ${port} allowed ${afterCommitMs.map((ms, i) => `${NODES[i]} ${ms} ms`).join(', ')} after the commit (${afterSpawnMs.join(' / ')} ms after starting \`nfqwall apply\`)`);
    for (const [i, ms] of afterCommitMs.entries()) assert.ok(ms < FLIP_LIMIT_MS, `${NODES[i]} took ${ms} ms after the commit`);
    return { revision: a.revision, afterCommitMs, afterSpawnMs };
  }

  before(async function () {
    if (!IS_ROOT) this.skip();
    if (!existsSync(ETCD_BINARY)) this.skip(); // Debian package etcd-server
    this.timeout(90_000);
    labs.push(await createTestLab(), await createTestLab());
    etcd = await FleetEtcd.start(labs, { prefix: PREFIX, lifetimeMs: 170_000 });
    for (const l of labs) {
      servers.push(await startMultiServer(l.names.maint, '::', MAINT_PORTS, 160_000));
      servers.push(await startMultiServer(l.names.router, l.addresses.router.eth0.v4, [80], 160_000));
    }
    // The initial resources, through the CLI like an operator would.
    await apply('initial.yaml');
    // The key prefix comes from the settings file, the datastore URL from --datastore.
    scratch = mkdtempSync(join(tmpdir(), 'nfqwall-fleet-it-'));
    const settingsFile = join(scratch, 'nfqwall.yaml');
    writeFileSync(settingsFile, settingsFileText({ etcdPrefix: PREFIX }), { mode: 0o600 });
    chmodSync(settingsFile, 0o600);
    for (const i of [0, 1]) {
      daemons.push(
        await startDaemon(lab(i), {
          // Never read: the datastore setting wins over the policy directory.
          config: join(scratch, 'unused-policy-dir'),
          queueBase: QUEUE_BASES[i],
          settingsFile,
          extraArgs: ['--datastore', `etcd:${fleet().urlFor(i)}`, '--node', NODES[i] as string, '--metrics-listen', `127.0.0.1:${METRICS_PORT}`],
          lifetimeMs: 160_000,
        }),
      );
    }
  });

  after(async function () {
    this.timeout(60_000);
    await killDaemons();
    for (const s of servers) await s.stop();
    await etcd?.destroy();
    for (const l of labs) await l.destroy();
    if (scratch) rmSync(scratch, { recursive: true, force: true });
  });

  it('each router enforces the shared policy and only the HostEndpoints of its own node', async () => {
    for (const i of [0, 1]) {
      const started = daemon(i).logs().find((e) => e.msg === 'nfqwall started');
      assert.equal(started?.node, NODES[i]);
      assert.equal(started?.heps, i === 0 ? 2 : 1, `${NODES[i]} binds its own HostEndpoints only: ${JSON.stringify(started)}`);
      const h = await health(i);
      assert.equal(h.state, 'connected');
      assert.equal(h.datastore, `etcd:${fleet().urlFor(i)} ${PREFIX}`);
      assert.equal(h.snapshotRevision, revisions[0]);
      assert.equal(h.snapshotOk, true);
      assert.equal(await metric(i, 'nfqwall_datastore_connected'), 1);
      assert.equal(await metric(i, 'nfqwall_datastore_snapshot_revision'), revisions[0]);
    }
    const heps = await fleet().cli(['get', 'hep', '-o', 'wide']);
    assert.equal(heps.code, 0, heps.stderr);
    assert.match(heps.stdout, /router-a\.eth0\s+router-a\s+eth0/);
    assert.match(heps.stdout, /router-b\.eth1\s+router-b\s+eth1/);
    await assertVerdicts([22], 'after the initial apply');
  });

  it("leaves each router's etcd link alone: no HostEndpoint names fleet0, so it is not steered to the queues", async () => {
    for (const i of [0, 1]) {
      const { lines } = await installedRules(lab(i).names.router);
      assert.ok(lines.some((l) => /\beth1\b/.test(l)), `${NODES[i]} steers its HostEndpoint interface eth1: ${lines.join('\n')}`);
      assert.ok(!lines.some((l) => l.includes('fleet0')), `${NODES[i]} steers nothing of fleet0: ${lines.join('\n')}`);
      assert.deepEqual(etcdTrafficDenied(i), [], `${NODES[i]} denied none of its own etcd traffic`);
    }
  });

  it("one apply changes both routers' verdicts within a second", async () => {
    const before = await Promise.all([health(0), health(1)]);
    await applyAndTimeFlip('allow-http.yaml', 80);
    const after = await Promise.all([health(0), health(1)]);
    for (const i of [0, 1]) {
      assert.equal(after[i]!.generation, before[i]!.generation + 1, `${NODES[i]}: one reload for one apply`);
      assert.equal(after[i]!.snapshotRevision, revisions[1]);
    }
    await assertVerdicts([22, 80], 'after allow-http.yaml');
  });

  it(`keeps every verdict while etcd is stopped for ${OUTAGE_MS / 1000} s, says so in status, and follows again once etcd is back`, async function () {
    this.timeout(OUTAGE_MS + 90_000);
    const before = await Promise.all([health(0), health(1)]);
    const logFrom = daemons.map((d) => d.logs().length);
    const stoppedAt = Date.now();
    await fleet().stop();
    // Noticed at once (the connections are closed), within the back-off at worst.
    const down = await Promise.all(
      [0, 1].map((i) => waitUntil(`${NODES[i]} to report the datastore disconnected`, 20_000, async () => {
        const h = await health(i);
        return h.state === 'disconnected' ? { h, at: Date.now() } : undefined;
      }, 200)),
    );
    for (const [i, d] of down.entries()) {
      assert.ok(d.h.lastError, `${NODES[i]} says why`);
      assert.ok(d.h.lastErrorAt !== null && Date.parse(d.h.lastErrorAt) >= stoppedAt - 1000);
      await daemon(i).waitForLog((e) => e.msg === 'datastore unreachable; the policy in force stays', 2000, logFrom[i]);
    }
    console.log(`      etcd stopped: disconnected reported after ${down.map((d, i) => `${NODES[i]} ${d.at - stoppedAt} ms`).join(', ')}`);
    let rounds = 0;
    while (Date.now() - stoppedAt < OUTAGE_MS) {
      await assertVerdicts([22, 80], `${Math.round((Date.now() - stoppedAt) / 1000)} s into the outage`);
      for (const i of [0, 1]) {
        const h = await health(i);
        assert.equal(h.state, 'disconnected', `${NODES[i]} while etcd is down`);
        assert.equal(h.generation, before[i]!.generation, `${NODES[i]}: no reload while etcd is down`);
        assert.equal(h.snapshotRevision, before[i]!.snapshotRevision);
        assert.equal(await metric(i, 'nfqwall_datastore_connected'), 0);
      }
      rounds++;
      await sleep(Math.min(2500, Math.max(0, OUTAGE_MS - (Date.now() - stoppedAt))));
    }
    assert.ok(rounds >= (OUTAGE_MS >= 10_000 ? 2 : 1), `verdicts checked ${rounds} times during the outage`);
    assert.ok(!daemons.some((d) => d.logs().slice(logFrom[daemons.indexOf(d)]).some((e) => e.msg === 'policy reloaded')), 'no reload during the outage');
    const restartedAt = Date.now();
    await fleet().resume();
    const up = await Promise.all(
      [0, 1].map((i) => waitUntil(`${NODES[i]} to reconnect`, 20_000, async () => {
        const h = await health(i);
        return h.state === 'connected' && h.reconnects >= before[i]!.reconnects + 1 ? { h, at: Date.now() } : undefined;
      }, 200)),
    );
    console.log(`      etcd down ${restartedAt - stoppedAt} ms; reconnected ${up.map((u, i) => `${NODES[i]} ${u.at - restartedAt} ms`).join(', ')} after the restart`);
    for (const [i, u] of up.entries()) {
      // Nothing changed in etcd meanwhile: the policy in force is still the same snapshot.
      assert.equal(u.h.generation, before[i]!.generation);
      assert.equal(u.h.snapshotRevision, before[i]!.snapshotRevision);
    }
    for (const i of [0, 1]) {
      assert.equal(await metric(i, 'nfqwall_datastore_connected'), 1);
      assert.equal(await metric(i, 'nfqwall_datastore_reconnects_total'), up[i]!.h.reconnects);
    }
    await assertVerdicts([22, 80], 'after etcd came back');
    await applyAndTimeFlip('allow-8080.yaml', 8080);
    await assertVerdicts([22, 80, 8080], 'after allow-8080.yaml');
    for (const i of [0, 1]) assert.deepEqual(etcdTrafficDenied(i), [], `${NODES[i]} denied none of its own etcd traffic`);
  });

  it('refuses an invalid resource: apply exits 1 with a located error, and nothing changes', async () => {
    const getPolicy = () => fleet().cli(['get', 'gnp', 'allow-ssh-maintenance', '-o', 'yaml']);
    const listRevision = async (): Promise<string> => {
      const r = await fleet().cli(['get', 'gnp', '-o', 'json']);
      assert.equal(r.code, 0, r.stderr);
      return (JSON.parse(r.stdout) as { metadata: { resourceVersion: string } }).metadata.resourceVersion;
    };
    const before = await Promise.all([health(0), health(1)]);
    const storedBefore = await getPolicy();
    const revBefore = await listRevision();
    const file = join(FLEET, 'invalid.yaml');
    const r = await fleet().cli(['apply', '-f', file]);
    assert.equal(r.code, 1, r.stdout + r.stderr);
    assert.equal(r.stdout, '');
    assert.ok(
      r.stderr.includes(`${file}:21:13: spec.egress[0].destination.ports[4]: error: invalid port 65536`) && r.stderr.includes('[NFQ_CFG_PORT]'),
      r.stderr,
    );
    assert.match(r.stderr, /1 error\(s\); nothing was written to etcd:/);
    const storedAfter = await getPolicy();
    assert.equal(storedAfter.code, 0);
    assert.equal(storedAfter.stdout, storedBefore.stdout, 'get shows the resource as it was');
    assert.match(storedAfter.stdout, /- 8080\n/);
    assert.doesNotMatch(storedAfter.stdout, /443/);
    assert.equal(await listRevision(), revBefore, 'no write reached etcd');
    await assertVerdicts([22, 80, 8080], 'after the refused apply');
    for (const i of [0, 1]) {
      const h = await health(i);
      assert.equal(h.generation, before[i]!.generation, `${NODES[i]}: no reload`);
      assert.equal(h.snapshotRevision, before[i]!.snapshotRevision);
      assert.equal(h.snapshotOk, true);
    }
  });

  it('stops cleanly: exit 0 on SIGTERM', async () => {
    for (const i of [0, 1]) assert.deepEqual(await daemon(i).stop(), { code: 0, signal: null });
  });

  it('refuses to start when the settings name etcd fields but the datastore is a directory, naming the field', async () => {
    const n = lab(1).names;
    const r = await runInNamespace(
      n.router,
      [process.execPath, NFQWALL, 'run', '--config', join(scratch as string, 'unused-policy-dir'), '--settings', join(scratch as string, 'nfqwall.yaml'), '--node', NODES[1], '--queue-base', '4690', '--log-format', 'json', '--control-socket', `/run/nfqwall-test/${process.pid}-fleet-refused.sock`],
      { timeoutMs: 20_000 },
    );
    assert.equal(r.code, 3, r.stdout + r.stderr);
    assert.match(r.stdout, /"code":"NFQ_DS_SPEC".*settings field etcdPrefix applies to an etcd datastore, not to dir:/);
    assert.deepEqual((await installedRules(n.router)).lines, [], 'nothing installed');
  });
});
