/**
 * Golden captures for the replay tests, made with the packet builder and the capture writers,
 * and a runner for `nfqwall replay` that captures its output.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildEcho, buildEthernet, buildIcmpError, buildIp, buildTcp, buildUdp, type TcpSpec } from '../../src/packet';
import { LINKTYPE, PcapWriter, PcapngWriter } from '../../src/pcap';
import { runReplay, type ReplayCommandOptions } from '../../tools/commands/replay';

export const FIXTURES = join(__dirname, '..', '..', '..', 'test', 'fixtures', 'replay');
export const POLICY_DIR = join(FIXTURES, 'policy');
export const HOST_FILE = join(FIXTURES, 'host.yaml');

/** Capture start: 2023-11-14T22:13:20Z. */
export const T0_MS = 1_700_000_000_000;

export function nsAt(ms: number): bigint {
  return BigInt(Math.round(ms * 1000)) * 1000n;
}

export interface GoldenPacket {
  /** Offset from T0 in milliseconds. */
  at: number;
  /** The frame (Ethernet unless the test says otherwise). */
  frame: Buffer;
  /** Original length, when the frame was cut by a snaplen. */
  originalLength?: number;
  expect: 'allow' | 'deny' | 'parse-error' | 'not-ip' | 'no-route';
  /** Expected conntrack state given to the engine (judged packets). */
  ct?: string;
  /** Expected path / interfaces (judged packets). */
  path?: string;
  iif?: string | null;
  oif?: string | null;
  note: string;
}

const tcp = (src: string, dst: string, spec: TcpSpec): Buffer => buildEthernet(buildTcp({ src, dst }, spec));
const udp = (src: string, dst: string, sport: number, dport: number, payload = Buffer.from('payload')): Buffer =>
  buildEthernet(buildUdp({ src, dst }, { sport, dport, payload }));

/** An ARP request frame (not IP). */
export function arpFrame(): Buffer {
  const arp = Buffer.alloc(28);
  arp.writeUInt16BE(1, 0);
  arp.writeUInt16BE(0x0800, 2);
  arp[4] = 6;
  arp[5] = 4;
  arp.writeUInt16BE(1, 6);
  Buffer.from([10, 0, 1, 10]).copy(arp, 14);
  Buffer.from([10, 0, 1, 1]).copy(arp, 24);
  return buildEthernet(arp, { etherType: 0x0806, dst: 'ff:ff:ff:ff:ff:ff' });
}

/**
 * The mixed capture under the seed policy (HEP gw1.eth1, network=maintenance; AoF egress allows
 * TCP 22) and the gw1 host model: LAN 10.0.1.0/24 + fd00:1::/64 on eth2, maintenance
 * 192.168.0.0/24 + fd00:168::/64 on eth1, WAN and the default route on eth0.
 */
export function goldenPackets(): GoldenPacket[] {
  const lan = '10.0.1.10';
  const maint = '192.168.0.10';
  const gwMaint = '192.168.0.45';
  const wan = '198.51.100.53';
  const lan6 = 'fd00:1::10';
  const maint6 = 'fd00:168::10';
  const wan6 = '2001:db8:100::7';
  const fwd = { path: 'forward', iif: 'eth2', oif: 'eth1' };
  const back = { path: 'forward', iif: 'eth1', oif: 'eth2' };
  const udpFromMaint = buildUdp({ src: maint, dst: lan }, { sport: 515, dport: 7000, payload: Buffer.from('log line') });
  const strayUdp = buildUdp({ src: maint, dst: lan }, { sport: 516, dport: 7001, payload: Buffer.from('never seen') });
  const cut = tcp(lan, maint, { sport: 40010, dport: 22, flags: 'PA', payload: Buffer.alloc(400, 0x41) });
  const badIhl = buildEthernet(buildIp({ src: lan, dst: maint, ihlOverride: 4 }, 17, Buffer.alloc(8)));
  return [
    // TCP 22 forwarded to the maintenance network: the handshake, data and close all pass.
    { at: 0, frame: tcp(lan, maint, { sport: 40000, dport: 22, flags: 'S', seq: 100 }), expect: 'allow', ct: 'new', ...fwd, note: 'SSH SYN, allowed by the policy' },
    { at: 1, frame: tcp(maint, lan, { sport: 22, dport: 40000, flags: 'SA', seq: 500, ack: 101 }), expect: 'allow', ct: 'reply', ...back, note: 'SYN-ACK' },
    { at: 2, frame: tcp(lan, maint, { sport: 40000, dport: 22, flags: 'A', seq: 101, ack: 501 }), expect: 'allow', ct: 'established', ...fwd, note: 'ACK' },
    { at: 3, frame: tcp(lan, maint, { sport: 40000, dport: 22, flags: 'PA', seq: 101, ack: 501, payload: Buffer.from('SSH-2.0-client\r\n') }), expect: 'allow', ct: 'established', ...fwd, note: 'data' },
    { at: 4, frame: tcp(maint, lan, { sport: 22, dport: 40000, flags: 'PA', seq: 501, ack: 117, payload: Buffer.from('SSH-2.0-server\r\n') }), expect: 'allow', ct: 'reply', ...back, note: 'reply data' },
    { at: 5, frame: tcp(lan, maint, { sport: 40000, dport: 22, flags: 'FA', seq: 117, ack: 517 }), expect: 'allow', ct: 'established', ...fwd, note: 'FIN' },
    { at: 6, frame: tcp(maint, lan, { sport: 22, dport: 40000, flags: 'FA', seq: 517, ack: 118 }), expect: 'allow', ct: 'reply', ...back, note: 'FIN back' },
    { at: 7, frame: tcp(lan, maint, { sport: 40000, dport: 22, flags: 'A', seq: 118, ack: 518 }), expect: 'allow', ct: 'established', ...fwd, note: 'last ACK' },
    // HTTP forwarded to the maintenance network: denied, and so is the retransmitted SYN.
    { at: 10, frame: tcp(lan, maint, { sport: 40001, dport: 80, flags: 'S', seq: 900 }), expect: 'deny', ct: 'new', ...fwd, note: 'HTTP SYN, end-of-tier deny' },
    { at: 1010, frame: tcp(lan, maint, { sport: 40001, dport: 80, flags: 'S', seq: 900 }), expect: 'deny', ct: 'new', ...fwd, note: 'HTTP SYN retransmit: new again, denied again' },
    // UDP from the maintenance network (no AoF ingress policy: allowed), its reply, and the same
    // tuple again after the UDP timeout: now a new LAN -> maintenance flow, denied.
    { at: 2000, frame: udp(maint, lan, 514, 6000), expect: 'allow', ct: 'new', ...back, note: 'syslog from maintenance' },
    { at: 2100, frame: udp(lan, maint, 6000, 514), expect: 'allow', ct: 'reply', ...fwd, note: 'its reply' },
    { at: 40000, frame: udp(lan, maint, 6000, 514), expect: 'deny', ct: 'new', ...fwd, note: 'after the 30 s UDP timeout: judged as new' },
    // UDP to the WAN (unmanaged interfaces: no Calico verdict, accept) and the reply.
    { at: 41000, frame: udp(lan, wan, 33333, 53), expect: 'allow', ct: 'new', path: 'forward', iif: 'eth2', oif: 'eth0', note: 'DNS query to the WAN' },
    { at: 41010, frame: udp(wan, lan, 53, 33333), expect: 'allow', ct: 'reply', path: 'forward', iif: 'eth0', oif: 'eth2', note: 'DNS answer' },
    // ICMP: echo into the maintenance network denied; from it allowed, with its reply.
    { at: 42000, frame: buildEthernet(buildEcho({ src: lan, dst: maint }, { id: 7, seq: 1 })), expect: 'deny', ct: 'new', ...fwd, note: 'ping to maintenance' },
    { at: 42100, frame: buildEthernet(buildEcho({ src: maint, dst: lan }, { id: 8, seq: 1 })), expect: 'allow', ct: 'new', ...back, note: 'ping from maintenance' },
    { at: 42110, frame: buildEthernet(buildEcho({ src: lan, dst: maint }, { id: 8, seq: 1, reply: true })), expect: 'allow', ct: 'reply', ...fwd, note: 'echo reply' },
    // An ICMP error about an allowed flow is RELATED (allowed); one about no flow is INVALID (dropped).
    { at: 43000, frame: buildEthernet(udpFromMaint), expect: 'allow', ct: 'new', ...back, note: 'UDP from maintenance' },
    { at: 43010, frame: buildEthernet(buildIcmpError({ src: lan, dst: maint }, { type: 3, code: 3, quote: udpFromMaint })), expect: 'allow', ct: 'related', ...fwd, note: 'port unreachable about it: related' },
    { at: 43020, frame: buildEthernet(buildIcmpError({ src: lan, dst: maint }, { type: 3, code: 3, quote: strayUdp })), expect: 'deny', ct: 'invalid', ...fwd, note: 'port unreachable about nothing: invalid' },
    // IPv6: SSH allowed both ways, HTTP denied, ICMPv6 echo to the WAN allowed, into maintenance denied.
    { at: 44000, frame: tcp(lan6, maint6, { sport: 41000, dport: 22, flags: 'S' }), expect: 'allow', ct: 'new', ...fwd, note: 'IPv6 SSH SYN' },
    { at: 44010, frame: tcp(maint6, lan6, { sport: 22, dport: 41000, flags: 'SA', ack: 1001 }), expect: 'allow', ct: 'reply', ...back, note: 'IPv6 SYN-ACK' },
    { at: 44020, frame: tcp(lan6, maint6, { sport: 41001, dport: 80, flags: 'S' }), expect: 'deny', ct: 'new', ...fwd, note: 'IPv6 HTTP SYN' },
    { at: 44030, frame: buildEthernet(buildEcho({ src: lan6, dst: wan6 }, { id: 9 })), expect: 'allow', ct: 'new', path: 'forward', iif: 'eth2', oif: 'eth0', note: 'ICMPv6 echo to the WAN' },
    { at: 44040, frame: buildEthernet(buildEcho({ src: wan6, dst: lan6 }, { id: 9, reply: true })), expect: 'allow', ct: 'reply', path: 'forward', iif: 'eth0', oif: 'eth2', note: 'ICMPv6 echo reply' },
    { at: 44050, frame: buildEthernet(buildEcho({ src: lan6, dst: maint6 }, { id: 10 })), expect: 'deny', ct: 'new', ...fwd, note: 'ICMPv6 echo into maintenance' },
    // Local traffic through the HEP: inbound SSH is a failsafe port, inbound HTTP is denied, the
    // router's own SSH out is allowed by the AoF policy, its HTTP out denied. On eth2: no HEP.
    { at: 45000, frame: tcp(maint, gwMaint, { sport: 50000, dport: 22, flags: 'S' }), expect: 'allow', ct: 'new', path: 'local-in', iif: 'eth1', oif: null, note: 'SSH to the router: failsafe' },
    { at: 45010, frame: tcp(gwMaint, maint, { sport: 22, dport: 50000, flags: 'SA', ack: 1001 }), expect: 'allow', ct: 'reply', path: 'local-out', iif: null, oif: 'eth1', note: 'the router answers' },
    { at: 45020, frame: tcp(maint, gwMaint, { sport: 50001, dport: 80, flags: 'S' }), expect: 'deny', ct: 'new', path: 'local-in', iif: 'eth1', oif: null, note: 'HTTP to the router' },
    { at: 45030, frame: tcp(gwMaint, maint, { sport: 45000, dport: 22, flags: 'S' }), expect: 'allow', ct: 'new', path: 'local-out', iif: null, oif: 'eth1', note: 'router SSH out' },
    { at: 45040, frame: tcp(gwMaint, maint, { sport: 45001, dport: 80, flags: 'S' }), expect: 'deny', ct: 'new', path: 'local-out', iif: null, oif: 'eth1', note: 'router HTTP out' },
    { at: 45050, frame: tcp(lan, '10.0.1.1', { sport: 45002, dport: 80, flags: 'S' }), expect: 'allow', ct: 'new', path: 'local-in', iif: 'eth2', oif: null, note: 'HTTP to the router on eth2: unmanaged' },
    // Not IP, cut by the snaplen, malformed.
    { at: 46000, frame: arpFrame(), expect: 'not-ip', note: 'ARP' },
    { at: 46010, frame: cut.subarray(0, 96), originalLength: cut.length, expect: 'parse-error', note: 'cut by a 96-byte snaplen' },
    { at: 46020, frame: badIhl, expect: 'parse-error', note: 'IPv4 header length 16' },
  ];
}

/** Write packets to a classic Ethernet pcap. */
export function writeGoldenPcap(path: string, packets: readonly GoldenPacket[]): void {
  const w = PcapWriter.toFile(path, { linkType: LINKTYPE.ETHERNET });
  for (const p of packets) w.write(nsAt(T0_MS + p.at), p.frame, p.originalLength ?? p.frame.length);
  w.close();
}

/** Write packets to a pcapng file with the given interfaces; `iface` picks each packet's interface. */
export function writePcapng(path: string, interfaces: Array<{ name?: string; linkType?: number }>, packets: Array<{ at: number; frame: Buffer; iface: number }>): void {
  const w = PcapngWriter.toFile(path);
  for (const i of interfaces) w.addInterface({ linkType: i.linkType ?? LINKTYPE.ETHERNET, ...(i.name !== undefined ? { name: i.name } : {}) });
  for (const p of packets) w.write(p.iface, nsAt(T0_MS + p.at), p.frame);
  w.close();
}

export interface ReplayRun {
  code: number;
  stdout: string;
  stderr: string;
}

/** Run `nfqwall replay` in-process with the fixture policy and host model unless overridden. */
export async function replay(files: string[], extra: Partial<ReplayCommandOptions> = {}): Promise<ReplayRun> {
  let stdout = '';
  let stderr = '';
  // loadPolicyDir / loadHostFile report problems on process.stderr: capture that too.
  const origErr = process.stderr.write.bind(process.stderr);
  process.stderr.write = ((chunk: string | Uint8Array) => {
    stderr += typeof chunk === 'string' ? chunk : Buffer.from(chunk).toString('utf8');
    return true;
  }) as typeof process.stderr.write;
  try {
    const code = await runReplay(
      { config: POLICY_DIR, host: HOST_FILE, files, ...extra },
      { out: (t) => void (stdout += t), err: (t) => void (stderr += t) },
    );
    return { code, stdout, stderr };
  } finally {
    process.stderr.write = origErr;
  }
}

export function tempDir(): { dir: string; remove: () => void } {
  const dir = mkdtempSync(join(tmpdir(), 'nfqwall-replay-'));
  return { dir, remove: () => rmSync(dir, { recursive: true, force: true }) };
}
