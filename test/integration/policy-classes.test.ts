/**
 * Policy classes on the live dataplane, one lab and one daemon per class: preDNAT (with a real DNAT
 * rule), applyOnForward false, doNotTrack, and an `interfaceName: "*"` host endpoint.
 * Policies: test/fixtures/integration/.
 */
import { strict as assert } from 'node:assert';
import { join } from 'node:path';
import { LAB_DNAT } from '../../src/lab/topology';
import { createTestLab, IS_ROOT, runInNamespace, startTcpServer, startUdpServer, tcpProbe, udpProbe, type NsProcess, type TestLab } from '../helpers/lab';
import { conntrackEntries, FIXTURES, killDaemons, startDaemon, type Daemon, GUEST_SLOWDOWN } from './daemon-helpers';

/** One lab + servers + daemon per suite, always torn down. */
function labSuite(o: { dnat?: boolean; config: string; queueBase: number; servers: (lab: TestLab) => Promise<NsProcess>[] }) {
  const ctx: { lab?: TestLab; daemon?: Daemon; servers: NsProcess[] } = { servers: [] };
  before(async function () {
    if (!IS_ROOT) this.skip();
    ctx.lab = await createTestLab({ dnat: o.dnat === true });
    for (const p of o.servers(ctx.lab)) ctx.servers.push(await p);
  });
  after(async () => {
    await killDaemons();
    for (const s of ctx.servers) await s.stop();
    await ctx.lab?.destroy();
  });
  return {
    get lab(): TestLab {
      return ctx.lab as TestLab;
    },
    async start(): Promise<Daemon> {
      ctx.daemon = await startDaemon(ctx.lab as TestLab, { config: join(FIXTURES, o.config), queueBase: o.queueBase });
      return ctx.daemon;
    },
    get daemon(): Daemon {
      return ctx.daemon as Daemon;
    },
  };
}

describe('integration: preDNAT deny by original destination @root', function () {
  this.timeout(60_000 * GUEST_SLOWDOWN);
  const s = labSuite({
    dnat: true,
    config: 'prednat',
    queueBase: 4210,
    servers: (lab) => [startTcpServer(lab.names.maint, { host: lab.addresses.maint.v4, port: LAB_DNAT.toPort, lifetimeMs: 50_000 })],
  });

  it('without nfqwall the DNAT rule carries 10.10.0.1:8080 to the backend', async () => {
    const { names: n } = s.lab;
    assert.deepEqual(await tcpProbe(n.app, LAB_DNAT.address, LAB_DNAT.port), { connected: true, echoed: true });
  });

  it('with nfqwall: 10.10.0.1:8080 is denied by the preDNAT policy, the backend port itself is forwarded', async () => {
    const { names: n, addresses: a } = s.lab;
    const d = await s.start();
    assert.equal((await tcpProbe(n.app, LAB_DNAT.address, LAB_DNAT.port, { timeoutMs: 1500 })).connected, false);
    assert.deepEqual(await tcpProbe(n.app, a.maint.v4, LAB_DNAT.toPort), { connected: true, echoed: true });
    const denied = d.logs().find((e) => e.msg === 'packet denied' && e.hook === 'mangle-prerouting');
    assert.ok(denied, 'denied at the preDNAT stage');
    assert.equal(denied.dport, LAB_DNAT.port, 'judged by the original destination port');
    assert.equal(denied.ruleId, 'policy:default/deny-published-8080/ingress/0:Deny');
  });
});

describe('integration: applyOnForward false leaves forwarded traffic alone @root', function () {
  this.timeout(60_000 * GUEST_SLOWDOWN);
  const s = labSuite({
    config: 'apply-on-forward-false',
    queueBase: 4220,
    servers: (lab) => [
      startTcpServer(lab.names.maint, { host: lab.addresses.maint.v4, port: 80, lifetimeMs: 50_000 }),
      startTcpServer(lab.names.router, { host: lab.addresses.router.eth1.v4, port: 8000, lifetimeMs: 50_000 }),
      startTcpServer(lab.names.router, { host: lab.addresses.router.eth1.v4, port: 8001, lifetimeMs: 50_000 }),
    ],
  });

  it('forwards application -> maintenance TCP 80 while the policy governs the router itself on eth1', async () => {
    const { names: n, addresses: a } = s.lab;
    const d = await s.start();
    assert.deepEqual(await tcpProbe(n.app, a.maint.v4, 80), { connected: true, echoed: true });
    const fwd = d.logs().find((e) => e.event === 'flow.decided' && e.hook === 'filter-forward' && e.dport === 80);
    assert.equal(fwd?.ruleId, 'builtin:forward-default-allow');
    // The router's own services on eth1: the policy's ingress rule, and local default deny.
    assert.deepEqual(await tcpProbe(n.maint, a.router.eth1.v4, 8000), { connected: true, echoed: true });
    assert.equal((await tcpProbe(n.maint, a.router.eth1.v4, 8001, { timeoutMs: 1500 })).connected, false);
  });
});

describe('integration: doNotTrack allow untracks forwarded UDP @root', function () {
  this.timeout(60_000 * GUEST_SLOWDOWN);
  const s = labSuite({
    config: 'do-not-track',
    queueBase: 4230,
    servers: (lab) => [
      startUdpServer(lab.names.maint, { host: lab.addresses.maint.v4, port: 7777, lifetimeMs: 50_000 }),
      startUdpServer(lab.names.maint, { host: lab.addresses.maint.v4, port: 7778, lifetimeMs: 50_000 }),
    ],
  });

  it('passes UDP 7777 both ways with no conntrack entry; UDP 7778 (no untracked rule) is tracked', async () => {
    const { names: n, addresses: a } = s.lab;
    await s.start();
    await conntrackFlush(n.router);
    assert.equal((await udpProbe(n.app, a.maint.v4, 7777)).echoed, true);
    assert.equal((await udpProbe(n.app, a.maint.v4, 7778)).echoed, true);
    const udp = await conntrackEntries(n.router, '-p', 'udp');
    assert.ok(!udp.some((l) => /port=7777\b/.test(l)), `untracked flow has a conntrack entry: ${udp.join(' | ')}`);
    assert.ok(udp.some((l) => /dport=7778\b/.test(l)), `the tracked control flow is missing: ${udp.join(' | ')}`);
  });
});

async function conntrackFlush(ns: string): Promise<void> {
  await runInNamespace(ns, ['conntrack', '-F']);
}

describe('integration: an interfaceName "*" host endpoint governs every interface @root', function () {
  this.timeout(60_000 * GUEST_SLOWDOWN);
  const s = labSuite({
    config: 'wildcard-hep',
    queueBase: 4240,
    servers: (lab) => [
      startTcpServer(lab.names.maint, { host: lab.addresses.maint.v4, port: 22, lifetimeMs: 50_000 }),
      startTcpServer(lab.names.maint, { host: lab.addresses.maint.v4, port: 80, lifetimeMs: 50_000 }),
      startTcpServer(lab.names.app, { host: lab.addresses.app.v4, port: 80, lifetimeMs: 50_000 }),
      startTcpServer(lab.names.router, { host: lab.addresses.router.eth0.v4, port: 80, lifetimeMs: 50_000 }),
    ],
  });

  it('forwards only TCP 22, in both directions, and denies other local traffic', async () => {
    const { names: n, addresses: a } = s.lab;
    const d = await s.start();
    assert.deepEqual(await tcpProbe(n.app, a.maint.v4, 22), { connected: true, echoed: true });
    assert.equal((await tcpProbe(n.app, a.maint.v4, 80, { timeoutMs: 1500 })).connected, false);
    assert.equal((await tcpProbe(n.maint, a.app.v4, 80, { timeoutMs: 1500 })).connected, false, 'the "*" HEP also governs eth1 ingress');
    assert.equal((await tcpProbe(n.app, a.router.eth0.v4, 80, { timeoutMs: 1500 })).connected, false);
    const logs = d.logs();
    assert.ok(logs.some((e) => e.event === 'flow.decided' && e.hook === 'filter-forward' && e.dport === 22 && e.hep === 'router.all' && e.verdict === 'repeat'));
    assert.ok(logs.some((e) => e.msg === 'packet denied' && e.hook === 'filter-input' && e.hep === 'router.all'));
  });
});
