import { strict as assert } from 'node:assert';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createFlowKeyOut, flowKeyOfView } from '../../src/conntrack';
import { buildEcho, buildTcp, buildUdp } from '../../src/packet/build';
import { createPacketView, parsePacket, ParseStatus } from '../../src/packet';
import { formatIp } from '../../src/net/ip';
import { ConntrackEventSource, conntrackFlowKey, ensureConntrackAccounting, parseConntrackLine, type ConntrackEvent } from '../../src/observe/conntrack-events';
import { createNetns, IS_ROOT, startInNetns, type TestNetns } from '../dataplane/netns';
import { CAPTURED } from './helpers';


function parsed(line: string): ConntrackEvent {
  const r = parseConntrackLine(line);
  if (!r.ok) throw new Error(r.error);
  return r.event;
}

/** The flow table's key of a packet. */
function keyOfPacket(pkt: Buffer): string {
  const view = createPacketView();
  assert.equal(parsePacket(pkt, view), ParseStatus.OK);
  const out = createFlowKeyOut();
  flowKeyOfView(view, out);
  return out.key;
}

describe('observe/conntrack-events', () => {
  it('parses TCP, UDP and ICMP destroy lines with both tuples and their accounting', () => {
    const t = parsed(CAPTURED.tcp4);
    assert.deepEqual([t.type, t.family, t.proto, t.protoName, t.state, t.timeout, t.id, t.mark], ['destroy', 4, 6, 'tcp', 'TIME_WAIT', 119, 3447951317, 0]);
    assert.deepEqual([formatIp(t.orig.src), t.orig.sport, t.orig.dport, t.orig.packets, t.orig.bytes], ['127.0.0.1', 58062, 8080, 5, 10268]);
    assert.deepEqual([t.reply.sport, t.reply.dport, t.reply.packets, t.reply.bytes], [8080, 58062, 3, 164]);
    assert.deepEqual(t.flags, ['ASSURED', 'USERSPACE']);
    const u = parsed(CAPTURED.udp4);
    assert.deepEqual([u.proto, u.orig.bytes, u.reply.packets, u.flags], [17, 29, 0, ['UNREPLIED', 'USERSPACE']]);
    const i4 = parsed(CAPTURED.icmp4);
    assert.deepEqual([i4.orig.icmpType, i4.orig.icmpCode, i4.orig.icmpId, i4.reply.icmpType, i4.orig.packets, i4.id], [8, 0, 29353, 0, 2, 1889166563], 'the ICMP id stays in its tuple');
    const i6 = parsed(CAPTURED.icmp6);
    assert.deepEqual([i6.family, i6.proto, i6.orig.icmpType, i6.orig.icmpId, i6.id, formatIp(i6.orig.src)], [6, 58, 128, 29366, 763816754, '::1']);
    const d = parsed(CAPTURED.dnat);
    assert.deepEqual([d.mark, d.orig.dport, d.reply.sport], [0x140000, 9999, 8080]);
    const n = parsed(CAPTURED.noTimeout);
    assert.deepEqual([n.timeout, n.mark, n.orig.bytes], [null, 0x140000, 31]);
  });

  it('rejects lines that are not events', () => {
    assert.equal(parseConntrackLine('conntrack v1.4.7 (conntrack-tools): 2 flow events have been shown.').ok, false);
    assert.equal(parseConntrackLine('[DESTROY] ipv4 2 tcp 6 src=1.2.3.4').ok, false);
    assert.equal(parseConntrackLine('').ok, false);
  });

  it('keys an event like the flow table keys its packets (DNAT: the reply source is the destination)', () => {
    assert.equal(conntrackFlowKey(parsed(CAPTURED.tcp4)), keyOfPacket(buildTcp({ src: '127.0.0.1', dst: '127.0.0.1' }, { sport: 58062, dport: 8080, flags: 'S' })));
    assert.equal(conntrackFlowKey(parsed(CAPTURED.tcp6)), keyOfPacket(buildTcp({ src: '::1', dst: '::1' }, { sport: 57316, dport: 8081, flags: 'S' })));
    assert.equal(conntrackFlowKey(parsed(CAPTURED.udp4)), keyOfPacket(buildUdp({ src: '127.0.0.1', dst: '127.0.0.1' }, { sport: 35315, dport: 9000 })));
    assert.equal(conntrackFlowKey(parsed(CAPTURED.icmp4)), keyOfPacket(buildEcho({ src: '127.0.0.1', dst: '127.0.0.1' }, { id: 29353 })));
    assert.equal(conntrackFlowKey(parsed(CAPTURED.dnat)), keyOfPacket(buildTcp({ src: '127.0.0.1', dst: '127.0.0.1' }, { sport: 43900, dport: 8080, flags: 'S' })));
  });

  it('turns accounting on only when it is off', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'nfqwall-acct-'));
    try {
      const f = join(dir, 'nf_conntrack_acct');
      writeFileSync(f, '0\n');
      assert.deepEqual(await ensureConntrackAccounting(f), { ok: true, changed: true });
      assert.equal(readFileSync(f, 'utf8').trim(), '1');
      assert.deepEqual(await ensureConntrackAccounting(f), { ok: true, changed: false });
      const r = await ensureConntrackAccounting(join(dir, 'missing', 'x'));
      assert.equal(r.ok, false);
      assert.match(r.error ?? '', /ENOENT/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  (IS_ROOT ? describe : describe.skip)('live conntrack -E in a namespace @root', function () {
    this.timeout(30000);
    let ns: TestNetns;
    before(async () => {
      ns = await createNetns();
      await ns.sh('sysctl', '-qw', 'net.netfilter.nf_conntrack_acct=1');
      // A rule that needs conntrack (so the namespace tracks at all) and marks the TCP flows.
      await ns.run('nft', ['-f', '-'], 'table inet obs {\n chain out {\n type filter hook output priority 0;\n ct state new tcp dport 8080 ct mark set 0x00140000\n }\n}\n');
    });
    after(async () => ns?.destroy());

    it('records the destroy lines of real flows and parses every one (mark filter included)', async () => {
      const raw: string[] = [];
      const all: ConntrackEvent[] = [];
      const marked: ConntrackEvent[] = [];
      const problems: string[] = [];
      const prefixArgs = ['netns', 'exec', ns.name, 'conntrack'];
      const src = new ConntrackEventSource({ command: 'ip', prefixArgs, onEvent: (e) => all.push(e), onLine: (l) => raw.push(l), onProblem: (m) => problems.push(m) });
      const onlyMarked = new ConntrackEventSource({ command: 'ip', prefixArgs, markFilter: { value: 0x40000, mask: 0x40000 }, onEvent: (e) => marked.push(e) });
      assert.deepEqual(onlyMarked.argv().slice(-2), ['--mark', '0x40000/0x40000']);
      src.start();
      onlyMarked.start();
      try {
        await new Promise((r) => setTimeout(r, 500));
        const traffic = startInNetns(
          ns,
          [
            process.execPath,
            '-e',
            `const net=require('net'),dgram=require('dgram');
             const s=net.createServer(c=>{c.resume();c.on('end',()=>c.end())}).listen(8080,'127.0.0.1',()=>{
               const c=net.connect({port:8080,host:'127.0.0.1',localPort:41001},()=>c.end(Buffer.alloc(100000)));
               c.on('close',()=>{s.close();const u=dgram.createSocket('udp6');u.send('ping',9000,'::1',()=>{u.close();console.log('done')})});
             });`,
          ],
          10000,
        );
        await traffic.waitFor((l) => l === 'done', 10000);
        await traffic.stop();
        await ns.sh('conntrack', '-F');
        const deadline = Date.now() + 5000;
        while ((all.length < 2 || marked.length < 1) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
      } finally {
        await src.stop();
        await onlyMarked.stop();
      }
      assert.ok(raw.length >= 2, `lines: ${raw.join('\n')}; problems: ${problems.join('; ')}`);
      assert.equal(all.length, raw.length, `every line parses: ${raw.join('\n')}`);
      const tcp = all.find((e) => e.proto === 6 && e.orig.dport === 8080);
      assert.ok(tcp, raw.join('\n'));
      assert.equal(tcp.orig.sport, 41001);
      assert.equal(tcp.mark, 0x140000);
      assert.ok(tcp.flags.includes('ASSURED'));
      assert.ok(tcp.orig.bytes! > 100000 && tcp.orig.bytes! <= 110000 + tcp.orig.packets! * 80, `orig bytes ${tcp.orig.bytes} in ${tcp.orig.packets} packets`);
      assert.ok(tcp.reply.packets! >= 2);
      assert.equal(conntrackFlowKey(tcp), keyOfPacket(buildTcp({ src: '127.0.0.1', dst: '127.0.0.1' }, { sport: 41001, dport: 8080, flags: 'S' })));
      const udp = all.find((e) => e.proto === 17);
      assert.ok(udp, raw.join('\n'));
      assert.deepEqual([udp.family, udp.orig.dport, udp.orig.packets, udp.reply.packets, udp.mark], [6, 9000, 1, 0, 0]);
      assert.deepEqual(marked.map((e) => e.id), [tcp.id], 'the mark filter passes only the marked flow');
    });
  });
});
