/**
 * The seed scenario end to end: the real daemon enforcing examples/seed in a lab's router, real
 * connections from the application host, the kernel's own counters. Flow mode, fail-open.
 */
import { strict as assert } from 'node:assert';
import { createTestLab, IS_ROOT, startTcpServer, tcpProbe, type NsProcess, type TestLab } from '../helpers/lab';
import { bulkTransfer, EXPECTED_BACKEND, installedRules, killDaemons, ping, queuedSoFar, queueNumbers, SEED_DIR, startDaemon, type Daemon, GUEST_SLOWDOWN } from './daemon-helpers';

const QUEUE_BASE = 4200;
const Q = queueNumbers(QUEUE_BASE);

describe('integration: the seed scenario (flow mode) @root', function () {
  this.timeout(60_000 * GUEST_SLOWDOWN);
  let lab: TestLab | undefined;
  let daemon: Daemon | undefined;
  const servers: NsProcess[] = [];

  before(async function () {
    if (!IS_ROOT) this.skip();
    lab = await createTestLab();
    const { names: n, addresses: a } = lab;
    servers.push(await startTcpServer(n.maint, { host: '::', port: 22, lifetimeMs: 50_000 }));
    servers.push(await startTcpServer(n.maint, { host: '::', port: 80, lifetimeMs: 50_000 }));
    servers.push(await startTcpServer(n.router, { host: a.router.eth0.v4, port: 22, lifetimeMs: 50_000 }));
    servers.push(await startTcpServer(n.router, { host: a.router.eth0.v4, port: 80, lifetimeMs: 50_000 }));
    daemon = await startDaemon(lab, { config: SEED_DIR, queueBase: QUEUE_BASE });
  });

  after(async () => {
    await killDaemons();
    for (const s of servers) await s.stop();
    await lab?.destroy();
  });

  it('installs exactly one jump per hook it needs, into its own chains', async () => {
    const { jumps } = await installedRules((lab as TestLab).names.router);
    if (EXPECTED_BACKEND === 'nft') {
      // Native nft: one table of nfqwall's own, one base chain per hook, nothing in iptables.
      assert.ok(jumps.every((j) => j.startsWith('nft: ')), JSON.stringify(jumps));
      assert.deepEqual([...new Set(jumps)].sort(), ['nft: hook forward', 'nft: hook input', 'nft: hook output', 'nft: hook postrouting']);
      return;
    }
    const v4 = jumps.filter((j) => j.startsWith('iptables-nft-save'));
    assert.deepEqual(v4.map((j) => j.replace(/^[^:]+: /, '')).sort(), [
      '-A FORWARD -j NFQWALL-FORWARD',
      '-A INPUT -j NFQWALL-INPUT',
      '-A OUTPUT -j NFQWALL-OUTPUT',
      '-A POSTROUTING -j NFQWALL-MARK-CLEAR',
      '-A POSTROUTING -j NFQWALL-POSTDNAT',
    ]);
    assert.equal(jumps.length, v4.length * 2, 'the same rules for IPv6');
  });

  it('chose the steering backend by probing the kernel (native nft where the kernel has it)', () => {
    const chosen = (daemon as Daemon).logs().find((e) => e.msg === 'steering backend chosen');
    assert.ok(chosen, 'the daemon logs its backend');
    assert.equal(chosen.backend, EXPECTED_BACKEND, JSON.stringify(chosen));
  });

  it('forwards TCP 22 from the application to the maintenance network, replies included (IPv4 and IPv6)', async () => {
    const { names: n, addresses: a } = lab as TestLab;
    const before = await queuedSoFar(n.router, Q.filterForward);
    assert.deepEqual(await tcpProbe(n.app, a.maint.v4, 22), { connected: true, echoed: true });
    assert.deepEqual(await tcpProbe(n.app, a.maint.v6, 22), { connected: true, echoed: true });
    assert.ok((await queuedSoFar(n.router, Q.filterForward)) > before, 'the forward queue judged the new flows');
    const allowed = (daemon as Daemon).logs().filter((e) => e.event === 'flow.decided' && e.dport === 22 && e.hook === 'filter-forward');
    assert.ok(allowed.some((e) => e.family === 4 && e.verdict === 'repeat' && e.ruleId === 'policy:default/allow-ssh-maintenance/egress/0:Allow'), JSON.stringify(allowed));
    assert.ok(allowed.some((e) => e.family === 6 && e.verdict === 'repeat'));
  });

  it('denies TCP 80 into the maintenance network (IPv4 and IPv6)', async () => {
    const { names: n, addresses: a } = lab as TestLab;
    assert.equal((await tcpProbe(n.app, a.maint.v4, 80, { timeoutMs: 1500 })).connected, false);
    assert.equal((await tcpProbe(n.app, a.maint.v6, 80, { timeoutMs: 1500 })).connected, false);
    const denied = (daemon as Daemon).logs().find((e) => e.msg === 'packet denied' && e.dport === 80 && e.hook === 'filter-forward');
    assert.equal(denied?.ruleId, 'builtin:end-of-tier:default');
    assert.equal(denied?.hep, 'router.eth1');
  });

  it('denies ping into the maintenance network and allows it the other way', async () => {
    const { names: n, addresses: a } = lab as TestLab;
    assert.equal(await ping(n.app, a.maint.v4), false);
    assert.equal(await ping(n.maint, a.app.v4), true);
  });

  it('allows SSH to the router itself by failsafe and denies another port (local default deny)', async () => {
    const { names: n, addresses: a } = lab as TestLab;
    assert.deepEqual(await tcpProbe(n.app, a.router.eth0.v4, 22), { connected: true, echoed: true });
    assert.equal((await tcpProbe(n.app, a.router.eth0.v4, 80, { timeoutMs: 1500 })).connected, false);
    const logs = (daemon as Daemon).logs();
    assert.ok(logs.some((e) => e.event === 'flow.decided' && e.hook === 'filter-input' && e.dport === 22 && e.ruleId === 'builtin:failsafe-inbound:tcp:22'), 'failsafe decided');
    assert.ok(logs.some((e) => e.msg === 'packet denied' && e.hook === 'filter-input' && e.dport === 80 && e.hep === 'router.eth0'));
  });

  it('queues only the first packets of a flow: a 10 MB transfer costs a handful of queued packets', async () => {
    const { names: n, addresses: a } = lab as TestLab;
    const before = await queuedSoFar(n.router, Q.filterForward);
    const r = await bulkTransfer(n.app, a.maint.v4, 22, 10 * 1024 * 1024, 15_000);
    assert.equal(r.received, 10 * 1024 * 1024, JSON.stringify(r));
    const queued = (await queuedSoFar(n.router, Q.filterForward)) - before;
    assert.ok(queued >= 1 && queued <= 4, `queued ${queued} packets for a 10 MB flow`);
  });

  it('stops cleanly on SIGTERM: exit 0, rules removed (fail-open), queues released', async () => {
    const { names: n, addresses: a } = lab as TestLab;
    const exit = await (daemon as Daemon).stop();
    assert.deepEqual(exit, { code: 0, signal: null });
    assert.deepEqual((await installedRules(n.router)).lines, []);
    assert.ok((daemon as Daemon).logs().some((e) => e.msg === 'nfqwall stopped'));
    // Nothing judges any more: the kernel forwards everything again.
    assert.equal((await tcpProbe(n.app, a.maint.v4, 80)).echoed, true);
  });
});
