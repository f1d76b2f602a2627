import { strict as assert } from 'node:assert';
import type { FlowEntry } from '../../src/conntrack';
import type { FlowDecision } from '../../src/pipeline/packet-processor';
import { buildTcp } from '../../src/packet/build';
import { NF_DROP } from '../../src/queue/verdict-codes';
import { ConntrackEventSource, parseConntrackLine, type ConntrackEvent } from '../../src/observe/conntrack-events';
import { FlowLog } from '../../src/observe/flow-log';
import { listKernelFlows, type FlowListing } from '../../src/observe/flows-view';
import { createNetns, IS_ROOT, startInNetns, type TestNetns } from '../dataplane/netns';
import { ctMark, filterOf, IFINDEX, memoryLogger, rig, wanTcp, type Rig } from './helpers';

function event(line: string): ConntrackEvent {
  const r = parseConntrackLine(line);
  if (!r.ok) throw new Error(r.error);
  return r.event;
}

/** A flow log wired to a rig's flow table callbacks, as the daemon wires them. */
function wired(mode: 'flow' | 'packet', kernelEnds: boolean, clock: { now: number }, maxOpen?: number) {
  const { logger, records } = memoryLogger();
  const log = new FlowLog({ logger, kernelEnds, now: () => clock.now, ...(maxOpen !== undefined ? { maxOpen } : {}) });
  const r: Rig = rig(mode, {
    onExpire: (e: FlowEntry<FlowDecision>) => log.flowEnded(e, 'idle-timeout'),
    onClose: (e: FlowEntry<FlowDecision>) => log.flowEnded(e, 'closed'),
  });
  const send = (pkt: Buffer, state: 'new' | 'established', reply: boolean, iif: number, oif: number) => {
    const o = r.processor.process('filter-forward', pkt, ctMark(state, reply), iif, oif, clock.now);
    log.packet(o, r.flows.epoch);
    return o;
  };
  return { log, records, r, send };
}

describe('observe/flow-log', () => {
  it('packet mode: one decided and one end record with userspace counts per direction', () => {
    const clock = { now: 10_000 };
    const { records, r, send } = wired('packet', false, clock);
    const c2s = (flags: string, payload = 0) => buildTcp({ src: '198.51.100.7', dst: '10.0.1.20' }, { sport: 40000, dport: 22, flags, payload: Buffer.alloc(payload) });
    const s2c = (flags: string, payload = 0) => buildTcp({ src: '10.0.1.20', dst: '198.51.100.7' }, { sport: 22, dport: 40000, flags, payload: Buffer.alloc(payload) });
    const sent = [c2s('S'), c2s('A'), c2s('PA', 1000), c2s('PA', 500)];
    const back = [s2c('SA'), s2c('PA', 300)];
    send(sent[0]!, 'new', false, IFINDEX.eth0, IFINDEX.eth2);
    clock.now += 1;
    send(back[0]!, 'established', true, IFINDEX.eth2, IFINDEX.eth0);
    for (const p of sent.slice(1)) send(p, 'established', false, IFINDEX.eth0, IFINDEX.eth2);
    send(back[1]!, 'established', true, IFINDEX.eth2, IFINDEX.eth0);
    const decided = records.filter((x) => x.event === 'flow.decided');
    assert.equal(decided.length, 1);
    assert.deepEqual(
      [decided[0]!.src, decided[0]!.dst, decided[0]!.sport, decided[0]!.dport, decided[0]!.policy, decided[0]!.rule, decided[0]!.tier, decided[0]!.hep, decided[0]!.action, decided[0]!.stage],
      ['198.51.100.7', '10.0.1.20', 40000, 22, 'wan-web', 0, 'default', 'gw1-eth0', 'allow', 'filter-forward'],
    );
    // Idle long enough for the established timeout: the sweep ends the flow.
    clock.now += 6 * 24 * 3600 * 1000;
    r.flows.sweep(clock.now, 100);
    const end = records.filter((x) => x.event === 'flow.end');
    assert.equal(end.length, 1);
    const e = end[0]!;
    assert.equal(e.flowId, decided[0]!.flowId);
    assert.equal(e.reason, 'idle-timeout');
    assert.equal(e.counters, 'nfqwall');
    assert.deepEqual([e.packetsOrig, e.bytesOrig, e.packetsReply, e.bytesReply], [4, sent.reduce((a, p) => a + p.length, 0), 2, back.reduce((a, p) => a + p.length, 0)]);
    assert.equal(e.policy, 'wan-web');
  });

  it('a reset before any reply ends the flow (closed); denied flows get no flow records', () => {
    const clock = { now: 20_000 };
    const { records, send } = wired('packet', false, clock);
    send(wanTcp('198.51.100.7', '10.0.1.20', 22, 'S', 41000), 'new', false, IFINDEX.eth0, IFINDEX.eth2);
    send(buildTcp({ src: '10.0.1.20', dst: '198.51.100.7' }, { sport: 22, dport: 41000, flags: 'RA' }), 'established', true, IFINDEX.eth2, IFINDEX.eth0);
    const o = send(wanTcp('198.51.100.7', '10.0.1.20', 80, 'S', 41001), 'new', false, IFINDEX.eth0, IFINDEX.eth2);
    assert.equal(o.verdict, NF_DROP);
    assert.deepEqual(records.map((x) => [x.event, x.dport, x.reason]), [['flow.decided', 22, undefined], ['flow.end', 22, 'closed']]);
  });

  it('flow mode: the end record waits for the kernel destroy event and carries its counts', () => {
    const clock = { now: 30_000 };
    const { log, records, r, send } = wired('flow', true, clock);
    send(wanTcp('198.51.100.7', '10.0.1.20', 22, 'S', 40000), 'new', false, IFINDEX.eth0, IFINDEX.eth2);
    // Only the SYN came up; the userspace entry times out long before the connection ends.
    clock.now += 10 * 60 * 1000;
    r.flows.sweep(clock.now, 100);
    assert.equal(records.filter((x) => x.event === 'flow.end').length, 0);
    assert.equal(log.openCount, 1);
    clock.now += 5000;
    log.conntrackDestroyed(
      event('[DESTROY] ipv4     2 tcp      6 119 TIME_WAIT src=198.51.100.7 dst=10.0.1.20 sport=40000 dport=22 packets=7325 bytes=10866012 src=10.0.1.20 dst=198.51.100.7 sport=22 dport=40000 packets=3410 bytes=177332 [ASSURED] mark=1310720 id=3447951317'),
    );
    const end = records.filter((x) => x.event === 'flow.end');
    assert.equal(end.length, 1);
    assert.deepEqual(
      [end[0]!.reason, end[0]!.counters, end[0]!.packetsOrig, end[0]!.bytesOrig, end[0]!.packetsReply, end[0]!.bytesReply, end[0]!.ctId, end[0]!.ctMark, end[0]!.userspaceEnd, end[0]!.durationMs],
      ['conntrack-destroy', 'kernel', 7325, 10866012, 3410, 177332, 3447951317, '0x140000', 'idle-timeout', 10 * 60 * 1000 + 5000],
    );
    assert.equal(log.openCount, 0);
    // A destroy for a flow nfqwall never decided is counted, not logged.
    log.conntrackDestroyed(event('[DESTROY] ipv4     2 udp      17 29 src=127.0.0.1 dst=127.0.0.1 sport=35315 dport=9000 packets=1 bytes=29 [UNREPLIED] src=127.0.0.1 dst=127.0.0.1 sport=9000 dport=35315 packets=0 bytes=0 id=2574899957'));
    assert.equal(log.stats.kernelUnmatched, 1);
  });

  it('flows waiting for their kernel end are bounded, and a stop ends the rest', async () => {
    const clock = { now: 40_000 };
    const { log, records, send } = wired('flow', true, clock, 3);
    for (let i = 0; i < 5; i++) send(wanTcp('198.51.100.7', '10.0.1.20', 22, 'S', 42000 + i), 'new', false, IFINDEX.eth0, IFINDEX.eth2);
    assert.equal(log.openCount, 3);
    const ends = records.filter((x) => x.event === 'flow.end');
    assert.deepEqual(ends.map((x) => [x.sport, x.reason]), [[42000, 'unconfirmed'], [42001, 'unconfirmed']]);
    await log.flushAll();
    assert.equal(log.openCount, 0);
    assert.deepEqual(records.filter((x) => x.event === 'flow.end').map((x) => x.reason), ['unconfirmed', 'unconfirmed', 'daemon-stopped', 'daemon-stopped', 'daemon-stopped']);
  });

  (IS_ROOT ? describe : describe.skip)('a 10 MB transfer whose packets never left the kernel @root', function () {
    this.timeout(60000);
    let ns: TestNetns;
    before(async () => {
      ns = await createNetns();
      await ns.sh('ip', 'addr', 'add', '198.51.100.7/32', 'dev', 'lo');
      await ns.sh('ip', 'addr', 'add', '10.0.1.20/32', 'dev', 'lo');
      await ns.sh('sysctl', '-qw', 'net.netfilter.nf_conntrack_acct=1');
      await ns.run('nft', ['-f', '-'], 'table inet obs {\n chain out {\n type filter hook output priority 0;\n ct state established counter\n }\n}\n');
    });
    after(async () => ns?.destroy());

    it('gets its end record with the kernel byte counts', async () => {
      const clock = { now: Date.now() };
      const { log, records, send } = wired('flow', true, clock);
      // nfqwall judged the first packet (in the lab the SYN comes through the queue); the kernel carried the rest.
      send(wanTcp('198.51.100.7', '10.0.1.20', 22, 'S', 41002), 'new', false, IFINDEX.eth0, IFINDEX.eth2);
      assert.equal(records.filter((x) => x.event === 'flow.decided').length, 1);
      const src = new ConntrackEventSource({ command: 'ip', prefixArgs: ['netns', 'exec', ns.name, 'conntrack'], onEvent: (e) => log.conntrackDestroyed(e) });
      src.start();
      const size = 10 * 1024 * 1024;
      let listed = '';
      let kernelRows: FlowListing | null = null;
      try {
        await new Promise((r) => setTimeout(r, 500));
        const p = startInNetns(
          ns,
          [
            process.execPath,
            '-e',
            `const net=require('net');let got=0;
             const s=net.createServer(c=>{c.on('data',d=>got+=d.length);c.on('end',()=>{c.end();console.log('received '+got)})}).listen(22,'10.0.1.20',()=>{
               const c=net.connect({port:22,host:'10.0.1.20',localAddress:'198.51.100.7',localPort:41002},()=>c.end(Buffer.alloc(${size})));
               c.on('close',()=>{s.close();console.log('done')});
             });`,
          ],
          20000,
        );
        await p.waitFor((l) => l === 'done', 20000);
        const lines = await p.stop();
        assert.ok(lines.includes(`received ${size}`), lines.join(' | '));
        // The kernel's own accounting of the (finished) connection, read before it is flushed.
        listed = await ns.sh('conntrack', '-L', '-p', 'tcp', '--dport', '22', '-o', 'extended');
        // `nfqwall flows` in flow mode: the kernel's flow, annotated with what the flow log knows.
        kernelRows = await listKernelFlows({ command: 'ip', prefixArgs: ['netns', 'exec', ns.name, 'conntrack'], filter: filterOf('policy wan-web and port 22'), now: clock.now, limit: 10, annotate: (k) => log.lookup(k) });
        await ns.sh('conntrack', '-F');
        const deadline = Date.now() + 5000;
        while (log.openCount > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
      } finally {
        await src.stop();
      }
      const end = records.filter((x) => x.event === 'flow.end');
      assert.equal(end.length, 1, JSON.stringify(records));
      const e = end[0]!;
      assert.equal(e.counters, 'kernel');
      const packets = e.packetsOrig as number;
      const bytes = e.bytesOrig as number;
      const kernel = /packets=(\d+) bytes=(\d+) .*packets=(\d+) bytes=(\d+)/.exec(listed);
      assert.ok(kernel, listed);
      assert.deepEqual([e.packetsOrig, e.bytesOrig, e.packetsReply, e.bytesReply], kernel.slice(1).map(Number), 'the counts are the kernel accounting of the flow');
      // IP bytes: every payload byte at least once (retransmissions count again) plus IP and TCP headers.
      assert.ok(bytes >= size + packets * 40 && bytes <= size * 1.1 + packets * 80, `${bytes} bytes in ${packets} packets`);
      assert.ok((e.packetsReply as number) >= 2 && (e.bytesReply as number) >= (e.packetsReply as number) * 40);
      assert.deepEqual([e.policy, e.rule, e.sport, e.dport], ['wan-web', 0, 41002, 22]);
      assert.ok(kernelRows);
      assert.equal(kernelRows.matched, 1);
      const row = kernelRows.rows[0]!;
      assert.deepEqual(
        [row.source, row.flowId, row.policy, row.rule, row.verdict, row.state, row.src, row.sport, row.dst, row.dport, row.bytesOrig, row.packetsReply],
        ['kernel', e.flowId, 'wan-web', 0, 'allow', 'TIME_WAIT', '198.51.100.7', 41002, '10.0.1.20', 22, e.bytesOrig, e.packetsReply],
      );
    });
  });
});
