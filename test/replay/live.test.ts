/**
 * `nfqwall replay --live` @root: captures go through the lab router with the real daemon, and
 * every live fate must equal the offline verdict. One capture is built here (lab addresses), one
 * is recorded with tcpdump in the lab while the firewall is off.
 */
import { strict as assert } from 'node:assert';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { buildEcho, buildEthernet, buildTcp, buildUdp, type TcpSpec } from '../../src/packet';
import { LINKTYPE, PcapWriter } from '../../src/pcap';
import { runReplay, type ReplayCommandOptions } from '../../tools/commands/replay';
import { IS_ROOT, createTestLab, runInNamespace, spawnInNamespace, startTcpServer, startUdpServer, tcpProbe, udpProbe, type TestLab } from '../helpers/lab';
import { killDaemons, startDaemon, SEED_DIR, REPO } from '../integration/daemon-helpers';
import { arpFrame, nsAt, tempDir, T0_MS } from './helpers';

const HOST_FILE = join(REPO, 'examples', 'hosts', 'lab-router.yaml');

const APP = '10.10.0.2';
const MAINT = '10.20.0.2';
const ROUTER_APP = '10.10.0.1';
const APP6 = 'fd10:10::2';
const MAINT6 = 'fd10:20::2';

type Expect = 'allow' | 'deny' | 'skip';
interface LivePacketCase {
  frame: Buffer;
  expect: Expect;
  note: string;
}

const tcp = (src: string, dst: string, spec: TcpSpec): Buffer => buildEthernet(buildTcp({ src, dst }, spec));
const udp = (src: string, dst: string, sport: number, dport: number, text: string): Buffer => buildEthernet(buildUdp({ src, dst }, { sport, dport, payload: Buffer.from(text) }));

/** The seed policy: only TCP 22 may be forwarded into maintenance; the router's own ports are failsafe-only. */
function mixedCapture(): LivePacketCase[] {
  const hello = Buffer.from('SSH-2.0-client\r\n');
  const banner = Buffer.from('SSH-2.0-server\r\n');
  return [
    // SSH into maintenance: handshake, data both ways, close.
    { frame: tcp(APP, MAINT, { sport: 40000, dport: 22, flags: 'S', seq: 100 }), expect: 'allow', note: 'SSH SYN' },
    { frame: tcp(MAINT, APP, { sport: 22, dport: 40000, flags: 'SA', seq: 500, ack: 101 }), expect: 'allow', note: 'SYN-ACK' },
    { frame: tcp(APP, MAINT, { sport: 40000, dport: 22, flags: 'A', seq: 101, ack: 501 }), expect: 'allow', note: 'ACK' },
    { frame: tcp(APP, MAINT, { sport: 40000, dport: 22, flags: 'PA', seq: 101, ack: 501, payload: hello }), expect: 'allow', note: 'data' },
    { frame: tcp(MAINT, APP, { sport: 22, dport: 40000, flags: 'PA', seq: 501, ack: 117, payload: banner }), expect: 'allow', note: 'reply data' },
    { frame: tcp(APP, MAINT, { sport: 40000, dport: 22, flags: 'FA', seq: 117, ack: 517 }), expect: 'allow', note: 'FIN' },
    { frame: tcp(MAINT, APP, { sport: 22, dport: 40000, flags: 'FA', seq: 517, ack: 118 }), expect: 'allow', note: 'FIN back' },
    { frame: tcp(APP, MAINT, { sport: 40000, dport: 22, flags: 'A', seq: 118, ack: 518 }), expect: 'allow', note: 'last ACK' },
    // HTTP into maintenance: denied, the retransmission too.
    { frame: tcp(APP, MAINT, { sport: 40001, dport: 80, flags: 'S', seq: 900 }), expect: 'deny', note: 'HTTP SYN' },
    { frame: tcp(APP, MAINT, { sport: 40001, dport: 80, flags: 'S', seq: 900 }), expect: 'deny', note: 'HTTP SYN again' },
    // UDP: from maintenance allowed with its reply; into maintenance denied.
    { frame: udp(MAINT, APP, 514, 6000, 'syslog line'), expect: 'allow', note: 'UDP from maintenance' },
    { frame: udp(APP, MAINT, 6000, 514, 'ack'), expect: 'allow', note: 'its reply' },
    { frame: udp(APP, MAINT, 33333, 53, 'query'), expect: 'deny', note: 'UDP into maintenance' },
    // ICMP: echo into maintenance denied; from maintenance allowed with its reply.
    { frame: buildEthernet(buildEcho({ src: APP, dst: MAINT }, { id: 7, seq: 1 })), expect: 'deny', note: 'ping into maintenance' },
    { frame: buildEthernet(buildEcho({ src: MAINT, dst: APP }, { id: 8, seq: 1 })), expect: 'allow', note: 'ping from maintenance' },
    { frame: buildEthernet(buildEcho({ src: APP, dst: MAINT }, { id: 8, seq: 1, reply: true })), expect: 'allow', note: 'echo reply' },
    // IPv6.
    { frame: tcp(APP6, MAINT6, { sport: 41000, dport: 22, flags: 'S', seq: 1000 }), expect: 'allow', note: 'IPv6 SSH SYN' },
    { frame: tcp(MAINT6, APP6, { sport: 22, dport: 41000, flags: 'SA', seq: 7000, ack: 1001 }), expect: 'allow', note: 'IPv6 SYN-ACK' },
    { frame: tcp(APP6, MAINT6, { sport: 41000, dport: 22, flags: 'A', seq: 1001, ack: 7001 }), expect: 'allow', note: 'IPv6 ACK' },
    { frame: tcp(APP6, MAINT6, { sport: 41001, dport: 80, flags: 'S', seq: 1000 }), expect: 'deny', note: 'IPv6 HTTP SYN' },
    { frame: udp(MAINT6, APP6, 514, 6001, 'v6 syslog'), expect: 'allow', note: 'IPv6 UDP from maintenance' },
    { frame: udp(APP6, MAINT6, 6001, 514, 'v6 ack'), expect: 'allow', note: 'its reply' },
    { frame: buildEthernet(buildEcho({ src: APP6, dst: MAINT6 }, { id: 9 })), expect: 'deny', note: 'ICMPv6 echo into maintenance' },
    { frame: buildEthernet(buildEcho({ src: MAINT6, dst: APP6 }, { id: 10 })), expect: 'allow', note: 'ICMPv6 echo from maintenance' },
    { frame: buildEthernet(buildEcho({ src: APP6, dst: MAINT6 }, { id: 10, reply: true })), expect: 'allow', note: 'ICMPv6 echo reply' },
    // To the router itself: failsafe SSH allowed, HTTP and ping denied.
    { frame: tcp(APP, ROUTER_APP, { sport: 42000, dport: 22, flags: 'S', seq: 1 }), expect: 'allow', note: 'SSH to the router (failsafe)' },
    { frame: tcp(APP, ROUTER_APP, { sport: 42001, dport: 80, flags: 'S', seq: 1 }), expect: 'deny', note: 'HTTP to the router' },
    { frame: buildEthernet(buildEcho({ src: APP, dst: ROUTER_APP }, { id: 11 })), expect: 'deny', note: 'ping to the router' },
    // Not replayed: the router's own packet, ARP.
    { frame: tcp(ROUTER_APP, APP, { sport: 22, dport: 42000, flags: 'SA', seq: 9, ack: 2 }), expect: 'skip', note: 'sent by the router' },
    { frame: arpFrame(), expect: 'skip', note: 'ARP' },
  ];
}

interface LiveLine {
  index: number;
  packet: string;
  offline: string;
  live: string | null;
  differs: boolean;
  skipped: string | null;
}

async function replayLive(files: string[], extra: Partial<ReplayCommandOptions>): Promise<{ code: number; lines: LiveLine[]; summary: Record<string, number>; stderr: string }> {
  let stdout = '';
  let stderr = '';
  const code = await runReplay(
    { config: SEED_DIR, host: HOST_FILE, files, json: true, live: true, ...extra },
    { out: (t) => void (stdout += t), err: (t) => void (stderr += t) },
  );
  const objs = stdout
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as { live?: LiveLine; liveSummary?: Record<string, number> });
  const lines = objs.flatMap((o) => (o.live ? [o.live] : []));
  const summary = objs.find((o) => o.liveSummary)?.liveSummary ?? {};
  return { code, lines, summary, stderr };
}

describe('replay --live @root', function () {
  this.timeout(120_000);
  let lab: TestLab | undefined;
  const tmp = tempDir();
  const recorded = join(tmp.dir, 'recorded.pcap');

  before(async function () {
    if (!IS_ROOT) this.skip();
    lab = await createTestLab();
    const { app, maint } = lab.names;
    // Record real traffic with the firewall off: an SSH-port connection into maintenance and a UDP
    // exchange started from maintenance.
    await startTcpServer(maint, { host: '0.0.0.0', port: 22, max: 1, lifetimeMs: 15_000 });
    await startUdpServer(app, { host: '0.0.0.0', port: 5353, max: 10, lifetimeMs: 15_000 });
    const dump = spawnInNamespace(app, ['tcpdump', '-i', 'eth0', '-n', '-U', '--immediate-mode', '-s', '0', '-Z', 'root', '-w', recorded], { lifetimeMs: 20_000 });
    await dump.waitForLine((l) => l.includes('listening on'), 5000, 'stderr');
    assert.equal((await tcpProbe(app, MAINT, 22, { payload: 'SSH-2.0-probe' })).echoed, true);
    assert.equal((await udpProbe(maint, APP, 5353, { attempts: 1 })).echoed, true);
    // Immediate mode hands over each packet at once; a moment more for the last ones to be written.
    await new Promise((r) => setTimeout(r, 200));
    await dump.stop();
    assert.ok(existsSync(recorded));
    await startDaemon(lab, { config: SEED_DIR, queueBase: 4100 });
  });

  after(async () => {
    await killDaemons();
    await lab?.destroy();
    tmp.remove();
  });

  it('a built capture mixing TCP, UDP, ICMP and IPv6: live equals offline, packet by packet', async () => {
    const cases = mixedCapture();
    const file = join(tmp.dir, 'mixed.pcap');
    const w = PcapWriter.toFile(file, { linkType: LINKTYPE.ETHERNET });
    cases.forEach((c, i) => w.write(nsAt(T0_MS + i * 10), c.frame, c.frame.length));
    w.close();

    const r = await replayLive([file], { lab: lab!.names.prefix });
    assert.equal(r.code, 0, r.stderr + JSON.stringify(r.lines, null, 1));
    const got = r.lines.map((l) => `${l.index} ${l.skipped !== null ? 'skip' : l.live ?? '?'}`);
    assert.deepEqual(got, cases.map((c, i) => `${i} ${c.expect}`), cases.map((c, i) => `${i} ${c.note}`).join('\n'));
    for (const l of r.lines) if (l.skipped === null) assert.equal(l.offline, l.live, `#${l.index} ${l.packet}`);
    assert.equal(r.summary.compared, cases.filter((c) => c.expect !== 'skip').length);
    assert.equal(r.summary.differ, 0);
    // And the lab is left as it was: no live rules anywhere.
    for (const ns of [lab!.names.app, lab!.names.maint, lab!.names.router]) {
      const t = await runInNamespace(ns, ['nft', 'list', 'table', 'inet', 'nfqwall_live']);
      assert.notEqual(t.code, 0, `nfqwall_live still in ${ns}`);
    }
  });

  it('a tcpdump recording from the lab (firewall off) agrees live and offline', async () => {
    const r = await replayLive([recorded], { lab: lab!.names.prefix });
    assert.equal(r.code, 0, r.stderr + JSON.stringify(r.lines, null, 1));
    const compared = r.lines.filter((l) => l.skipped === null);
    const ssh = compared.filter((l) => l.packet.startsWith('TCP') && / 10\.20\.0\.2:22 |10\.20\.0\.2:22 ->/.test(l.packet));
    const dns = compared.filter((l) => l.packet.startsWith('UDP') && l.packet.includes(':5353'));
    assert.ok(ssh.length >= 8, `expected a whole SSH-port connection, got ${JSON.stringify(r.lines, null, 1)}`);
    assert.ok(ssh.every((l) => l.live === 'allow' && l.offline === 'allow'));
    assert.equal(dns.length, 2, JSON.stringify(r.lines, null, 1));
    assert.ok(dns.every((l) => l.live === 'allow' && l.offline === 'allow'));
    // ARP and the hosts' neighbour discovery / MLD are in the recording but not replayed.
    assert.ok(r.lines.some((l) => l.skipped !== null));
    assert.equal(r.summary.compared, compared.length);
    assert.equal(r.summary.differ, 0);
  });

  it('--lab-up brings its own lab and daemon, and removes them', async () => {
    const file = join(tmp.dir, 'small.pcap');
    const w = PcapWriter.toFile(file, { linkType: LINKTYPE.ETHERNET });
    w.write(nsAt(T0_MS), tcp(APP, MAINT, { sport: 43000, dport: 22, flags: 'S' }), 54);
    w.write(nsAt(T0_MS + 1), tcp(APP, MAINT, { sport: 43001, dport: 80, flags: 'S' }), 54);
    w.close();
    const r = await replayLive([file], { labUp: true });
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(r.lines.map((l) => l.live), ['allow', 'deny']);
    const prefix = String(r.summary.lab);
    const left = await runInNamespace(`${prefix}-router`, ['true']);
    assert.notEqual(left.code, 0, `${prefix}-router still exists`);
  });
});
