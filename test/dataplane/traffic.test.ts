/**
 * Real packets through installed steering rules (iptables-nft backend), between two namespaces
 * this file creates (client — veth — server). Root only. Queue counts come from the server
 * namespace's /proc/net/netfilter/nfnetlink_queue (per namespace; the 8th column is the id of the
 * last queued packet, ids count from 1 per queue instance).
 */
import { strict as assert } from 'node:assert';
import { join } from 'node:path';
import { installSteering, removeSteering } from '../../src/dataplane/apply';
import { generationBits, markLayout } from '../../src/dataplane/marks';
import type { SteeringPlan } from '../../src/dataplane/plan';
import { parseQueueStats } from '../../src/queue/queue-stats';
import { connect, createNetns, IS_ROOT, startInNetns, type NsProcess, type TestNetns } from './netns';
import { emptyPlan, withHook } from './plans';

const CONSUMER = join(__dirname, 'queue-consumer.js');
const M = markLayout();
const GEN = 1;
const STORE = (M.decided | M.drop | M.generationMask) >>> 0;
const ALLOWED = (M.decided | generationBits(M, GEN)) >>> 0;
const Q_RAW_PRE = 4100;
const Q_INPUT = 4102;
const Q_RAW_OUT = 4104;
const Q_OUTPUT = 4105;
const SERVER = { v4: '10.99.0.2', v6: 'fd00:99::2' };
const CLIENT = { v4: '10.99.0.1', v6: 'fd00:99::1' };
const VETH = { client: 'nfqt-c', server: 'nfqt-s' };

interface ConsumerCounts {
  counts: Record<string, number>;
  byProtocol: Record<string, number>;
  loops: number;
}

describe('steering real traffic between two namespaces @root', function () {
  this.timeout(60_000);
  let client: TestNetns;
  let server: TestNetns;
  const running: NsProcess[] = [];

  before(async function () {
    if (!IS_ROOT) this.skip();
    client = await createNetns();
    server = await createNetns();
    await connect(client, server, { a: VETH.client, b: VETH.server });
    await client.sh('ip', 'addr', 'add', `${CLIENT.v4}/24`, 'dev', VETH.client);
    await server.sh('ip', 'addr', 'add', `${SERVER.v4}/24`, 'dev', VETH.server);
    await client.sh('ip', 'addr', 'add', `${CLIENT.v6}/64`, 'dev', VETH.client, 'nodad');
    await server.sh('ip', 'addr', 'add', `${SERVER.v6}/64`, 'dev', VETH.server, 'nodad');
  });

  afterEach(async function () {
    for (const p of running.splice(0)) await p.stop();
    if (server) {
      await removeSteering('nfqwall', { run: server.run });
      await server.run('conntrack', ['-F']).catch(() => undefined);
    }
  });

  after(async function () {
    await client?.destroy();
    await server?.destroy();
  });

  async function startConsumer(queues: number[], verdict: 'accept' | 'repeat', clearMask: number, orMark: number): Promise<NsProcess> {
    const p = startInNetns(server, [process.execPath, CONSUMER, JSON.stringify({ queues, verdict, clearMask, orMark, lifetimeMs: 50_000 })], 55_000);
    running.push(p);
    await p.waitFor((l) => l.includes('"ready"'), 10_000);
    return p;
  }

  async function stopConsumer(p: NsProcess): Promise<ConsumerCounts> {
    const lines = await p.stop();
    const last = lines.map((l) => JSON.parse(l) as { event: string } & ConsumerCounts).find((e) => e.event === 'counts');
    assert.ok(last, `consumer printed no counts: ${lines.join(' | ')}`);
    return last;
  }

  /** Packets queued so far per queue in the server namespace (read while the consumer is bound). */
  async function queued(): Promise<Map<number, number>> {
    const stats = parseQueueStats(await server.sh('cat', '/proc/net/netfilter/nfnetlink_queue'));
    return new Map(stats.map((s) => [s.queueNumber, s.idSequence]));
  }

  /** Wait (bounded) until a TCP listener on `port` exists in the server namespace: a connect before
   * that would be refused and retried, and each attempt's SYN would be queued. */
  async function waitListening(port: number): Promise<void> {
    for (let i = 0; i < 100; i++) {
      if ((await server.sh('ss', '-Hltn', `sport = :${port}`)).trim() !== '') return;
      await new Promise((r) => setTimeout(r, 50));
    }
    throw new Error(`nothing listens on port ${port}`);
  }

  /** Send `bytes` over TCP from the client to the server; resolves to what the server counted. */
  async function transfer(family: 'v4' | 'v6', bytes: number, port: number): Promise<number> {
    const listen = family === 'v4' ? `TCP4-LISTEN:${port},bind=${SERVER.v4},reuseaddr` : `TCP6-LISTEN:${port},bind=[${SERVER.v6}],reuseaddr`;
    const srv = startInNetns(server, ['timeout', '20', 'socat', '-u', listen, 'SYSTEM:wc -c'], 25_000);
    running.push(srv);
    await waitListening(port);
    const target = family === 'v4' ? `TCP4:${SERVER.v4}:${port}` : `TCP6:[${SERVER.v6}]:${port}`;
    await client.run('timeout', ['15', 'socat', '-u', `OPEN:/dev/zero,readbytes=${bytes}`, `${target},connect-timeout=2`]);
    return Number((await srv.waitFor((l) => /^\s*\d+\s*$/.test(l), 10_000)).trim());
  }

  /** One TCP packet (the SYN) queued; anything else only IPv6 neighbour discovery/MLD, which conntrack does not track. */
  function assertOnlySyn(counts: ConsumerCounts, kernelCount: number | undefined): void {
    assert.equal(counts.byProtocol[`${Q_INPUT}/6`], 1, `only the SYN of the TCP flow: ${JSON.stringify(counts.byProtocol)}`);
    const other = Object.keys(counts.byProtocol).filter((k) => k !== `${Q_INPUT}/6`);
    assert.ok(other.every((k) => k === `${Q_INPUT}/58`), JSON.stringify(counts.byProtocol));
    assert.equal(kernelCount, counts.counts[Q_INPUT], 'the kernel counted what the consumer saw');
    assert.equal(counts.loops, 0, 'every REPEAT was consumed by the store rule');
  }

  function inputPlan(overrides: Partial<SteeringPlan> = {}): SteeringPlan {
    return withHook(emptyPlan({ generation: GEN, ...overrides }), 'filterInput', { iifs: [VETH.server] });
  }

  it('flow mode: only the first packet of a 20 MB TCP transfer is queued (REPEAT + DECIDED|GEN stored)', async function () {
    await installSteering(inputPlan(), 'iptables', { run: server.run });
    const consumer = await startConsumer([Q_INPUT], 'repeat', STORE, ALLOWED);
    assert.equal(await transfer('v4', 20_000_000, 5001), 20_000_000);
    const n = (await queued()).get(Q_INPUT);
    const ct = await server.sh('conntrack', '-L', '-p', 'tcp', '--dport', '5001');
    assertOnlySyn(await stopConsumer(consumer), n);
    assert.match(ct, new RegExp(`mark=${ALLOWED}\\b`), `the verdict is stored in the ct mark: ${ct}`);
  });

  it('flow mode over IPv6 as well (ip6tables-nft)', async function () {
    await installSteering(inputPlan(), 'iptables', { run: server.run });
    const consumer = await startConsumer([Q_INPUT], 'repeat', STORE, ALLOWED);
    assert.equal(await transfer('v6', 5_000_000, 5002), 5_000_000);
    const n = (await queued()).get(Q_INPUT);
    assertOnlySyn(await stopConsumer(consumer), n);
  });

  it('flow mode with a plain NF_ACCEPT: nothing is stored, the established flow still stays in the kernel', async function () {
    await installSteering(inputPlan(), 'iptables', { run: server.run });
    const consumer = await startConsumer([Q_INPUT], 'accept', 0, 0);
    assert.equal(await transfer('v4', 5_000_000, 5003), 5_000_000);
    const n = (await queued()).get(Q_INPUT);
    const ct = await server.sh('conntrack', '-L', '-p', 'tcp', '--dport', '5003');
    assertOnlySyn(await stopConsumer(consumer), n);
    assert.match(ct, /mark=0\b/);
  });

  it('packet mode: every packet of the transfer is queued', async function () {
    await installSteering(inputPlan({ mode: 'packet' }), 'iptables', { run: server.run });
    const consumer = await startConsumer([Q_INPUT], 'accept', 0, 0);
    assert.equal(await transfer('v4', 2_000_000, 5004), 2_000_000);
    const n = (await queued()).get(Q_INPUT) ?? 0;
    await stopConsumer(consumer);
    // At least one segment per 64 KiB even with GRO, plus the handshake.
    assert.ok(n > 2_000_000 / 65_536, `queued ${n}`);
  });

  it('fail closed drops new connections while no one listens; fail open lets them through', async function () {
    await installSteering(inputPlan({ failMode: 'closed' }), 'iptables', { run: server.run });
    const srv = startInNetns(server, ['timeout', '10', 'socat', '-u', `TCP4-LISTEN:5005,bind=${SERVER.v4},reuseaddr`, 'SYSTEM:wc -c'], 15_000);
    running.push(srv);
    await waitListening(5005);
    await assert.rejects(client.run('timeout', ['5', 'socat', '-u', 'OPEN:/dev/zero,readbytes=1000', `TCP4:${SERVER.v4}:5005,connect-timeout=1`]));
    await installSteering(inputPlan({ failMode: 'open' }), 'iptables', { run: server.run });
    await client.run('timeout', ['5', 'socat', '-u', 'OPEN:/dev/zero,readbytes=1000', `TCP4:${SERVER.v4}:5005,connect-timeout=2`]);
    assert.equal(Number((await srv.waitFor((l) => /^\s*\d+\s*$/.test(l), 5_000)).trim()), 1000);
  });

  it('over loopback both legs are judged: the output verdict does not leak into input', async function () {
    let plan = withHook(emptyPlan({ generation: GEN }), 'filterInput', { iifs: ['lo'] });
    plan = withHook(plan, 'filterOutput', { oifs: ['lo'] });
    await installSteering(plan, 'iptables', { run: server.run });
    const consumer = await startConsumer([Q_INPUT, Q_OUTPUT], 'repeat', STORE, ALLOWED);
    const srv = startInNetns(server, ['timeout', '20', 'socat', '-u', 'TCP4-LISTEN:5006,bind=127.0.0.1,reuseaddr', 'SYSTEM:wc -c'], 25_000);
    running.push(srv);
    await waitListening(5006);
    await server.run('timeout', ['15', 'socat', '-u', 'OPEN:/dev/zero,readbytes=5000000', 'TCP4:127.0.0.1:5006,connect-timeout=2']);
    assert.equal(Number((await srv.waitFor((l) => /^\s*\d+\s*$/.test(l), 10_000)).trim()), 5_000_000);
    const counts = await stopConsumer(consumer);
    // Without the postrouting mark clear the SYN would reach input carrying the output stage's
    // DECIDED|GEN and pass input's store rule unjudged.
    assert.equal(counts.byProtocol[`${Q_OUTPUT}/6`], 1, JSON.stringify(counts.byProtocol));
    assert.equal(counts.byProtocol[`${Q_INPUT}/6`], 1, JSON.stringify(counts.byProtocol));
    assert.equal(counts.loops, 0);
  });

  it('doNotTrack: NF_REPEAT with UNTRACK untracks and delivers, so no conntrack entry appears', async function () {
    let plan = withHook(emptyPlan({ generation: GEN }), 'rawPrerouting', { iifs: [VETH.server] });
    plan = withHook(plan, 'rawOutput', { oifs: [VETH.server] });
    await installSteering(plan, 'iptables', { run: server.run });
    const entries = async () => (await server.sh('conntrack', '-L', '-p', 'icmp')).split('\n').filter((l) => l.includes(CLIENT.v4)).length;

    // Control: answered with a plain accept the pings are tracked.
    const plain = await startConsumer([Q_RAW_PRE, Q_RAW_OUT], 'accept', 0, 0);
    await client.sh('ping', '-c', '3', '-i', '0.2', '-W', '2', SERVER.v4);
    assert.ok((await entries()) >= 1, 'control run: the ping is tracked');
    await stopConsumer(plain);
    await server.sh('conntrack', '-F');

    const untrack = (M.untrack | M.accept) >>> 0;
    const consumer = await startConsumer([Q_RAW_PRE, Q_RAW_OUT], 'repeat', 0, untrack);
    const out = await client.sh('ping', '-c', '3', '-i', '0.2', '-W', '2', SERVER.v4);
    const n = await queued();
    const conntrack = await server.sh('conntrack', '-L');
    const counts = await stopConsumer(consumer);
    assert.match(out, /3 received/);
    // Count ICMP only: IPv6 neighbour discovery / MLD on the veth may reach the raw queues too.
    assert.equal(counts.byProtocol[`${Q_RAW_PRE}/1`], 3, `each echo request queued once in raw PREROUTING: ${JSON.stringify(counts.byProtocol)}`);
    assert.equal(counts.byProtocol[`${Q_RAW_OUT}/1`], 3, `each echo reply queued once in raw OUTPUT: ${JSON.stringify(counts.byProtocol)}`);
    assert.ok((n.get(Q_RAW_PRE) ?? 0) >= 3, 'the kernel counters saw them too');
    assert.equal(counts.loops, 0);
    assert.equal(conntrack.trim(), '', `no conntrack entry: ${conntrack}`);
  });
});

describe('steering forwarded and DNAT\'d traffic through a router namespace @root', function () {
  this.timeout(60_000);
  const R = { c: 'nfqr-c', s: 'nfqr-s' };
  const ADDR = { client: '10.98.1.2', routerC: '10.98.1.1', routerS: '10.98.2.1', server: '10.98.2.2' };
  const Q = { preDnat: 4101, forward: 4103, output: 4105, postrouting: 4106 };
  let client: TestNetns;
  let router: TestNetns;
  let server: TestNetns;
  const running: NsProcess[] = [];

  before(async function () {
    if (!IS_ROOT) this.skip();
    [client, router, server] = [await createNetns(), await createNetns(), await createNetns()];
    await connect(client, router, { a: 'nfqc-r', b: R.c });
    await connect(router, server, { a: R.s, b: 'nfqs-r' });
    await client.sh('ip', 'addr', 'add', `${ADDR.client}/24`, 'dev', 'nfqc-r');
    await client.sh('ip', 'route', 'add', 'default', 'via', ADDR.routerC);
    await server.sh('ip', 'addr', 'add', `${ADDR.server}/24`, 'dev', 'nfqs-r');
    await server.sh('ip', 'route', 'add', 'default', 'via', ADDR.routerS);
    await router.sh('ip', 'addr', 'add', `${ADDR.routerC}/24`, 'dev', R.c);
    await router.sh('ip', 'addr', 'add', `${ADDR.routerS}/24`, 'dev', R.s);
    await router.sh('sysctl', '-qw', 'net.ipv4.ip_forward=1');
    // Port forward 10.98.1.1:8080 -> server:5001, for arriving and for the router's own connections.
    for (const chain of ['PREROUTING', 'OUTPUT']) {
      await router.sh('iptables-nft', '-t', 'nat', '-A', chain, '-d', ADDR.routerC, '-p', 'tcp', '--dport', '8080', '-j', 'DNAT', '--to-destination', `${ADDR.server}:5001`);
    }
    let plan = withHook(emptyPlan({ generation: GEN }), 'manglePrerouting', { iifs: [R.c] });
    plan = withHook(plan, 'filterForward', { iifs: [R.c], oifs: [R.s] });
    plan = withHook(plan, 'filterOutput', { oifs: [R.c, R.s] });
    plan = withHook(plan, 'manglePostrouting', { oifs: [R.c, R.s] });
    await installSteering(plan, 'iptables', { run: router.run });
  });

  afterEach(async function () {
    for (const p of running.splice(0)) await p.stop();
    await router?.run('conntrack', ['-F']).catch(() => undefined);
  });

  after(async function () {
    for (const ns of [client, router, server]) await ns?.destroy();
  });

  async function withConsumer(send: () => Promise<void>): Promise<ConsumerCounts & { firstTcpMark: Record<string, number>; ct: string }> {
    const cfg = {
      queues: Object.values(Q),
      verdict: 'repeat',
      clearMask: STORE,
      orMark: ALLOWED,
      // preDNAT stage: an Allow adds Calico's accept-mark and lets the packet go on (NF_ACCEPT).
      perQueue: { [Q.preDnat]: { verdict: 'accept', clearMask: 0, orMark: M.accept } },
      lifetimeMs: 50_000,
    };
    const consumer = startInNetns(router, [process.execPath, CONSUMER, JSON.stringify(cfg)], 55_000);
    running.push(consumer);
    await consumer.waitFor((l) => l.includes('"ready"'), 10_000);
    const srv = startInNetns(server, ['timeout', '20', 'socat', '-u', `TCP4-LISTEN:5001,bind=${ADDR.server},reuseaddr`, 'SYSTEM:wc -c'], 25_000);
    running.push(srv);
    for (let i = 0; i < 100 && (await server.sh('ss', '-Hltn', 'sport = :5001')).trim() === ''; i++) await new Promise((r) => setTimeout(r, 50));
    await send();
    assert.equal(Number((await srv.waitFor((l) => /^\s*\d+\s*$/.test(l), 10_000)).trim()), 5_000_000);
    const ct = await router.sh('conntrack', '-L', '-p', 'tcp', '--orig-port-dst', '8080');
    const lines = await consumer.stop();
    const counts = lines.map((l) => JSON.parse(l) as { event: string } & ConsumerCounts & { firstTcpMark: Record<string, number> }).find((e) => e.event === 'counts');
    assert.ok(counts);
    return { ...counts, ct };
  }

  const ctState = (mark: number) => (mark & M.ctStateMask) >>> M.ctStateShift;

  it('a forwarded DNAT\'d flow: one packet at preDNAT (before DNAT), one at forward (after), the rest in the kernel', async function () {
    const r = await withConsumer(() => client.run('timeout', ['15', 'socat', '-u', 'OPEN:/dev/zero,readbytes=5000000', `TCP4:${ADDR.routerC}:8080,connect-timeout=2`]).then(() => undefined));
    assert.equal(r.byProtocol[`${Q.preDnat}/6`], 1, JSON.stringify(r.byProtocol));
    assert.equal(r.byProtocol[`${Q.forward}/6`], 1, JSON.stringify(r.byProtocol));
    assert.equal(r.byProtocol[`${Q.output}/6`], undefined);
    assert.equal(r.byProtocol[`${Q.postrouting}/6`], undefined);
    assert.equal(r.loops, 0);
    const pre = r.firstTcpMark[Q.preDnat] ?? -1;
    const fwd = r.firstTcpMark[Q.forward] ?? -1;
    assert.equal(ctState(pre), 0, 'new');
    assert.equal(pre & M.dnat, 0, 'mangle PREROUTING runs before DNAT');
    assert.equal(ctState(fwd), 0, 'new');
    assert.equal(fwd & M.dnat, M.dnat, 'DNAT bit in forward');
    assert.equal(fwd & M.accept, M.accept, "the preDNAT stage's accept-mark reaches forward");
    assert.equal(fwd & M.reply, 0);
    assert.match(r.ct, new RegExp(`mark=${ALLOWED}\\b`));
  });

  it("the router's own DNAT'd connection is judged in postrouting, not output", async function () {
    const r = await withConsumer(() => router.run('timeout', ['15', 'socat', '-u', 'OPEN:/dev/zero,readbytes=5000000', `TCP4:${ADDR.routerC}:8080,connect-timeout=2`]).then(() => undefined));
    assert.equal(r.byProtocol[`${Q.output}/6`], undefined, JSON.stringify(r.byProtocol));
    assert.equal(r.byProtocol[`${Q.postrouting}/6`], 1, JSON.stringify(r.byProtocol));
    assert.equal(r.byProtocol[`${Q.forward}/6`], undefined);
    assert.equal(r.loops, 0);
    const post = r.firstTcpMark[Q.postrouting] ?? -1;
    assert.equal(post & M.dnat, M.dnat);
    assert.equal(ctState(post), 0);
    assert.match(r.ct, new RegExp(`mark=${ALLOWED}\\b`));
  });
});
