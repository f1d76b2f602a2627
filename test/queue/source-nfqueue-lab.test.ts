/**
 * The nfqueue adapter against the kernel, in a lab: one iptables-nft NFQUEUE rule in the router's
 * FORWARD chain for TCP to port 22, and the consumer (test/queue/nfqueue-consumer.ts) running
 * inside the router namespace, because the binding binds the queue in its own process's namespace.
 */
import { strict as assert } from 'node:assert';
import { join } from 'node:path';
import type { PacketSourceStats } from '../../src/queue/packet-source';
import {
  createTestLab,
  IS_ROOT,
  iptablesCounters,
  readQueueStatsIn,
  runInNamespace,
  spawnInNamespace,
  startTcpServer,
  tcpProbe,
  type NsProcess,
  type TestLab,
} from '../helpers/lab';

const QUEUE = 3;
const CONSUMER = join(__dirname, 'nfqueue-consumer.js');

interface PacketLine {
  id: number;
  mark: number;
  indev: number;
  outdev: number;
  indevName?: string;
  outdevName?: string;
  version: number;
}

interface Consumer {
  proc: NsProcess;
  /** Stop it and return what it counted and the packets it printed. */
  finish(): Promise<{ stats: PacketSourceStats; packets: PacketLine[] }>;
}

async function startConsumer(ns: string, config: { verdict: 'accept' | 'drop' | 'repeat'; mark?: number; orMark?: number }): Promise<Consumer> {
  const proc = spawnInNamespace(ns, [process.execPath, CONSUMER, JSON.stringify({ queue: QUEUE, lifetimeMs: 20_000, ...config })], {
    lifetimeMs: 25_000,
  });
  await proc.waitForLine((l) => l.includes('"ready"'), 5000);
  return {
    proc,
    async finish() {
      await proc.stop();
      const events = proc.lines.stdout.filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as { event: string; stats?: PacketSourceStats });
      const stats = events.find((e) => e.event === 'stats')?.stats;
      assert.ok(stats, `consumer printed no stats; stderr: ${proc.lines.stderr.join(' | ')}`);
      return { stats, packets: events.filter((e) => e.event === 'packet') as unknown as PacketLine[] };
    },
  };
}

describe('queue/source-nfqueue in a lab @root', function () {
  this.timeout(30_000);
  let lab: TestLab | undefined;
  let server: NsProcess | undefined;
  let consumer: Consumer | undefined;

  const router = () => (lab as TestLab).names.router;
  const inRouter = async (...argv: string[]) => {
    const r = await runInNamespace(router(), argv);
    assert.equal(r.code, 0, `${argv.join(' ')}: ${r.stderr}`);
  };
  /** Packets that reached mangle POSTROUTING (after the verdict) with exactly `mark`. */
  const postroutingWithMark = async (mark: number) => {
    const rules = await iptablesCounters(router(), 'mangle');
    const rule = rules.find((r) => r.chain === 'POSTROUTING' && r.rule.endsWith(`--mark 0x${mark.toString(16)}`));
    assert.ok(rule, `no counting rule for mark ${mark}`);
    return rule.packets;
  };
  const probe = (timeoutMs = 3000) => {
    const { names, addresses: a } = lab as TestLab;
    return tcpProbe(names.app, a.maint.v4, 22, { timeoutMs });
  };

  before(async function () {
    if (!IS_ROOT) this.skip();
    lab = await createTestLab();
    const { names, addresses: a } = lab;
    server = await startTcpServer(names.maint, { host: '::', port: 22, max: 100, lifetimeMs: 60_000 });
    await inRouter('iptables-nft', '-A', 'FORWARD', '-p', 'tcp', '--dport', '22', '-j', 'NFQUEUE', '--queue-num', String(QUEUE));
    await inRouter('ip6tables-nft', '-A', 'FORWARD', '-p', 'tcp', '--dport', '22', '-j', 'NFQUEUE', '--queue-num', String(QUEUE));
    // Counting rules (no target) in a later hook: they show the mark each packet left the verdict with.
    for (const mark of ['0x42', '0x0', '0x5']) {
      await inRouter('iptables-nft', '-t', 'mangle', '-A', 'POSTROUTING', '-p', 'tcp', '--dport', '22', '-m', 'mark', '--mark', mark);
    }
    assert.equal(a.maint.v4, '10.20.0.2');
  });

  beforeEach(async function () {
    if (!IS_ROOT) this.skip();
    await inRouter('iptables-nft', '-t', 'mangle', '-Z', 'POSTROUTING');
  });

  afterEach(async () => {
    // A failed test must not leave its consumer bound to the queue for the next one.
    await consumer?.proc.stop();
    consumer = undefined;
  });

  after(async () => {
    await server?.stop();
    await lab?.destroy();
  });

  it('accept lets a forwarded TCP connection through; packets carry eth0/eth1 and their indexes', async () => {
    consumer = await startConsumer(router(), { verdict: 'accept' });
    assert.deepEqual(await probe(), { connected: true, echoed: true });
    const { stats, packets } = await consumer.finish();
    assert.ok(stats.packets >= 3, `only ${stats.packets} packets queued`);
    assert.deepEqual(stats.verdicts, { accept: stats.packets, drop: 0, repeat: 0 });
    assert.equal(stats.pending, 0);
    assert.equal(stats.marksWritten, 0);
    assert.deepEqual(stats.errors, { handler: 0, duplicateVerdict: 0 });
    const first = packets[0];
    assert.ok(first);
    assert.equal(first.version, 4);
    assert.equal(first.indevName, 'eth0');
    assert.equal(first.outdevName, 'eth1');
    assert.ok(first.indev > 0 && first.outdev > 0 && first.indev !== first.outdev);
    // Ids count up from 1 in a fresh queue and are handed over in order.
    assert.deepEqual(
      packets.map((p) => p.id),
      packets.map((_, i) => i + 1),
    );
  });

  it('IPv6 packets arrive on the same queue (the binding only binds AF_INET)', async () => {
    const { names, addresses: a } = lab as TestLab;
    consumer = await startConsumer(router(), { verdict: 'accept' });
    assert.deepEqual(await tcpProbe(names.app, a.maint.v6, 22, { timeoutMs: 3000 }), { connected: true, echoed: true });
    const { packets } = await consumer.finish();
    assert.ok(packets.length > 0 && packets.every((p) => p.version === 6));
  });

  it('drop blocks the connection', async () => {
    consumer = await startConsumer(router(), { verdict: 'drop' });
    const r = await probe(1500);
    assert.equal(r.connected, false);
    const { stats } = await consumer.finish();
    assert.ok(stats.verdicts.drop >= 1);
    assert.equal(stats.verdicts.accept, 0);
  });

  it('a mark given with the verdict is on the packet in later hooks', async () => {
    consumer = await startConsumer(router(), { verdict: 'accept', mark: 0x42 });
    assert.deepEqual(await probe(), { connected: true, echoed: true });
    const { stats } = await consumer.finish();
    assert.ok(stats.marksWritten >= 3);
    assert.equal(await postroutingWithMark(0x42), stats.marksWritten);
    assert.equal(await postroutingWithMark(0x0), 0);
  });

  it('mark 0 clears a mark set before the queue; no mark leaves it as it was', async () => {
    await inRouter('iptables-nft', '-t', 'mangle', '-A', 'FORWARD', '-p', 'tcp', '--dport', '22', '-j', 'MARK', '--set-mark', '0x5');
    try {
      consumer = await startConsumer(router(), { verdict: 'accept', mark: 0 });
      assert.deepEqual(await probe(), { connected: true, echoed: true });
      const cleared = await consumer.finish();
      assert.ok(cleared.packets.every((p) => p.mark === 5), 'the consumer should see the pre-set mark');
      assert.ok(cleared.stats.marksWritten >= 3);
      assert.equal(await postroutingWithMark(0x0), cleared.stats.marksWritten);
      assert.equal(await postroutingWithMark(0x5), 0);

      await inRouter('iptables-nft', '-t', 'mangle', '-Z', 'POSTROUTING');
      consumer = await startConsumer(router(), { verdict: 'accept' });
      assert.deepEqual(await probe(), { connected: true, echoed: true });
      const kept = await consumer.finish();
      assert.ok(kept.stats.verdicts.accept >= 3);
      assert.equal(await postroutingWithMark(0x5), kept.stats.verdicts.accept);
      assert.equal(await postroutingWithMark(0x0), 0);
    } finally {
      await inRouter('iptables-nft', '-t', 'mangle', '-F', 'FORWARD');
    }
  });

  it('repeat runs the chain again: a mark test in front of the queue rule then accepts', async () => {
    await inRouter('iptables-nft', '-I', 'FORWARD', '1', '-m', 'mark', '--mark', '0x8/0x8', '-j', 'ACCEPT');
    try {
      consumer = await startConsumer(router(), { verdict: 'repeat', orMark: 0x8 });
      assert.deepEqual(await probe(), { connected: true, echoed: true });
      const { stats, packets } = await consumer.finish();
      // Each packet is queued once: the repeated pass stops at the mark rule.
      assert.equal(stats.verdicts.repeat, stats.packets);
      assert.ok(packets.every((p) => p.mark === 0));
    } finally {
      await inRouter('iptables-nft', '-D', 'FORWARD', '-m', 'mark', '--mark', '0x8/0x8', '-j', 'ACCEPT');
    }
  });

  it('the kernel counters of the bound queue parse, and the queue is gone once the consumer exits', async () => {
    consumer = await startConsumer(router(), { verdict: 'accept' });
    const [bound] = (await readQueueStatsIn(router())).filter((q) => q.queueNumber === QUEUE);
    assert.ok(bound, 'queue not listed while bound');
    assert.ok(bound.portId > 0);
    assert.equal(bound.copyMode, 2); // NFQNL_COPY_PACKET
    assert.equal(bound.copyRange, 65531); // the binding asks for 0xffff; the kernel caps it
    assert.equal(bound.idSequence, 0);
    assert.deepEqual(await probe(), { connected: true, echoed: true });
    const [after] = (await readQueueStatsIn(router())).filter((q) => q.queueNumber === QUEUE);
    assert.ok(after);
    assert.equal(after.queueTotal, 0);
    assert.equal(after.queueDropped + after.userDropped, 0);
    const { stats } = await consumer.finish();
    assert.ok(after.idSequence >= 3 && after.idSequence <= stats.packets);
    assert.deepEqual(
      (await readQueueStatsIn(router())).filter((q) => q.queueNumber === QUEUE),
      [],
    );
  });
});
