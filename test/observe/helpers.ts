/**
 * A small router policy for the observability tests: a WAN HEP (eth0) with a security tier that
 * denies known-bad sources and passes the rest, and a default-tier policy allowing SSH from one
 * network, logging and denying HTTP, allowing ICMPv6 and DNS to a network set. The LAN side (eth2)
 * has no HEP, so a forwarded flow's verdict is the WAN leg's.
 * Packets go through the real PacketProcessor, as in the daemon.
 */
import { strict as assert } from 'node:assert';
import pino from 'pino';
import { parseYamlDocuments, validateDocuments } from '../../src/config';
import type { ResourceSet } from '../../src/config/resources';
import { FlowTable } from '../../src/conntrack';
import { CT_STATE_CODES, markLayout } from '../../src/dataplane/marks';
import { compilePolicy, type CompiledPolicy } from '../../src/engine/compiled-policy';
import type { HostModel } from '../../src/engine/host-model';
import { buildEcho, buildTcp, buildUdp } from '../../src/packet/build';
import { PacketProcessor, type FlowDecision } from '../../src/pipeline/packet-processor';
import { parseFilter, type Filter } from '../../src/observe/filter';
import { PolicySlot } from '../../src/pipeline/policy-slot';

export const POLICY_YAML = `
apiVersion: projectcalico.org/v3
kind: Tier
metadata: {name: security}
spec: {order: 100}
---
apiVersion: projectcalico.org/v3
kind: GlobalNetworkPolicy
metadata: {name: security.block-bad}
spec:
  tier: security
  order: 10
  selector: network == 'wan'
  applyOnForward: true
  types: [Ingress]
  ingress:
  - action: Deny
    source: {nets: [203.0.113.66/32]}
  - action: Deny
    source: {nets: ['2001:db8:bad::/48']}
  - action: Pass
---
apiVersion: projectcalico.org/v3
kind: GlobalNetworkPolicy
metadata: {name: wan-web}
spec:
  order: 100
  selector: network == 'wan'
  applyOnForward: true
  types: [Ingress]
  ingress:
  - action: Allow
    protocol: TCP
    source: {nets: [198.51.100.0/24]}
    destination: {ports: [22]}
  - action: Log
    protocol: TCP
    destination: {ports: [80]}
  - action: Deny
    protocol: TCP
    destination: {ports: [80]}
  - action: Allow
    protocol: ICMPv6
  - action: Allow
    protocol: UDP
    destination: {selector: role == 'dns', ports: [53]}
---
apiVersion: projectcalico.org/v3
kind: GlobalNetworkSet
metadata: {name: resolvers, labels: {role: dns}}
spec: {nets: [10.0.1.53/32]}
---
apiVersion: projectcalico.org/v3
kind: HostEndpoint
metadata: {name: gw1-eth0, labels: {network: wan}}
spec: {node: gw1, interfaceName: eth0, expectedIPs: [203.0.113.1, 2001:db8:100::1]}
---
apiVersion: projectcalico.org/v3
kind: FelixConfiguration
metadata: {name: default}
spec:
  logPrefix: "nfq %k %t/%n"
  logActionRateLimit: 5/second
  logActionRateLimitBurst: 2
`;

export const HOST: HostModel = {
  node: 'gw1',
  interfaces: [
    { name: 'eth0', addresses: ['203.0.113.1/24', '2001:db8:100::1/64'], routes: [], workload: false },
    { name: 'eth2', addresses: ['10.0.1.1/24', 'fd00:1::1/64'], routes: [], workload: false },
  ],
  workloadInterfacePrefix: 'cali',
  ipForward: true,
  nat: [],
  unmanagedVerdict: 'accept',
};

/** Interface indexes as the queue reports them. */
export const IFINDEX = { eth0: 2, eth2: 3 } as const;
const NAMES = new Map<number, string>([
  [2, 'eth0'],
  [3, 'eth2'],
]);

export const LAYOUT = markLayout();

export function resources(yaml = POLICY_YAML): ResourceSet {
  const parsed = parseYamlDocuments(yaml, 'policy.yaml');
  const v = validateDocuments(parsed.documents, { nodeName: 'gw1' });
  const errors = [...parsed.issues, ...v.issues].filter((i) => i.severity === 'error');
  assert.deepEqual(errors, []);
  return v.resources;
}

export function policy(yaml = POLICY_YAML): CompiledPolicy {
  return compilePolicy(resources(yaml), HOST);
}

export interface Rig {
  processor: PacketProcessor;
  slot: PolicySlot;
  flows: FlowTable<FlowDecision>;
}

export function rig(mode: 'flow' | 'packet' = 'flow', opts: { capacity?: number; onExpire?: (e: import('../../src/conntrack').FlowEntry<FlowDecision>) => void; onClose?: (e: import('../../src/conntrack').FlowEntry<FlowDecision>) => void } = {}): Rig {
  const slot = new PolicySlot(policy(), 1);
  const flows = new FlowTable<FlowDecision>({ capacity: opts.capacity ?? 1000, ...(opts.onExpire ? { onExpire: opts.onExpire } : {}), ...(opts.onClose ? { onClose: opts.onClose } : {}) });
  const processor = new PacketProcessor(slot, { layout: LAYOUT, mode, parseErrorVerdict: 'drop', rejudgeExisting: true, interfaceName: (i) => NAMES.get(i) ?? null }, flows);
  return { processor, slot, flows };
}

/** The mark the steering rules put on a packet before queueing it. */
export function ctMark(state: keyof typeof CT_STATE_CODES, reply = false): number {
  return ((CT_STATE_CODES[state] << LAYOUT.ctStateShift) | (reply ? LAYOUT.reply : 0)) >>> 0;
}

/** A forwarded TCP segment from the WAN side (eth0 -> eth2). */
export function wanTcp(src: string, dst: string, dport: number, flags = 'S', sport = 40000): Buffer {
  return buildTcp({ src, dst }, { sport, dport, flags });
}

export function wanUdp(src: string, dst: string, dport: number, sport = 40000): Buffer {
  return buildUdp({ src, dst }, { sport, dport, payload: Buffer.from('hello') });
}

export function echo(src: string, dst: string, id: number, reply = false): Buffer {
  return buildEcho({ src, dst }, { id, seq: 1, reply });
}

/**
 * Run the real command line (tools/cli main) in this process with stdout/stderr captured.
 * main() adds a stdout error listener per call (for EPIPE); those are removed again here so
 * many runs in one test process do not pile them up.
 */
export async function runMain(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const { main } = await import('../../tools/cli');
  let stdout = '';
  let stderr = '';
  const out = process.stdout.write.bind(process.stdout);
  const err = process.stderr.write.bind(process.stderr);
  const listeners = new Set(process.stdout.listeners('error'));
  process.stdout.write = ((c: string | Uint8Array) => ((stdout += String(c)), true)) as typeof process.stdout.write;
  process.stderr.write = ((c: string | Uint8Array) => ((stderr += String(c)), true)) as typeof process.stderr.write;
  try {
    const code = await main(['node', 'nfqwall', ...args]);
    return { code, stdout, stderr };
  } finally {
    process.stdout.write = out;
    process.stderr.write = err;
    for (const l of process.stdout.listeners('error')) if (!listeners.has(l)) process.stdout.off('error', l as (...a: unknown[]) => void);
  }
}

/** A parsed filter (throws on a syntax error). */
export function filterOf(text: string): Filter {
  const r = parseFilter(text);
  if (!r.ok) throw new Error(`${text}: ${r.error.message}`);
  return r.filter;
}

/** A pino logger writing JSON records into an array. */
export function memoryLogger(): { logger: pino.Logger; records: Array<Record<string, unknown>> } {
  const records: Array<Record<string, unknown>> = [];
  // pino writes each record synchronously into this sink.
  const sink = { write: (line: string) => void records.push(JSON.parse(line) as Record<string, unknown>) };
  const logger = pino({ level: 'info', base: undefined }, sink);
  return { logger, records };
}

/** Lines printed by `conntrack -E -e DESTROY -o extended,id -b 1048576` (conntrack-tools 1.4.7, Linux 6.x). */
export const CAPTURED = {
  tcp4: '[DESTROY] ipv4     2 tcp      6 119 TIME_WAIT src=127.0.0.1 dst=127.0.0.1 sport=58062 dport=8080 packets=5 bytes=10268 src=127.0.0.1 dst=127.0.0.1 sport=8080 dport=58062 packets=3 bytes=164 [ASSURED] id=3447951317 [USERSPACE] portid=29415',
  icmp6: '[DESTROY] ipv6     10 icmpv6   58 29 src=::1 dst=::1 type=128 code=0 id=29366 packets=1 bytes=104 src=::1 dst=::1 type=129 code=0 id=29366 packets=1 bytes=104 id=763816754 [USERSPACE] portid=29415',
  tcp6: '[DESTROY] ipv6     10 tcp      6 119 TIME_WAIT src=::1 dst=::1 sport=57316 dport=8081 packets=5 bytes=370 src=::1 dst=::1 sport=8081 dport=57316 packets=3 bytes=224 [ASSURED] id=2327731108 [USERSPACE] portid=29415',
  udp4: '[DESTROY] ipv4     2 udp      17 29 src=127.0.0.1 dst=127.0.0.1 sport=35315 dport=9000 packets=1 bytes=29 [UNREPLIED] src=127.0.0.1 dst=127.0.0.1 sport=9000 dport=35315 packets=0 bytes=0 id=2574899957 [USERSPACE] portid=29415',
  icmp4: '[DESTROY] ipv4     2 icmp     1 29 src=127.0.0.1 dst=127.0.0.1 type=8 code=0 id=29353 packets=2 bytes=168 src=127.0.0.1 dst=127.0.0.1 type=0 code=0 id=29353 packets=2 bytes=168 id=1889166563 [USERSPACE] portid=29415',
  // DNAT 127.0.0.1:9999 -> :8080 and a ct mark (printed in decimal, only when non-zero).
  dnat: '[DESTROY] ipv4     2 tcp      6 115 TIME_WAIT src=127.0.0.1 dst=127.0.0.1 sport=43900 dport=9999 packets=5 bytes=5268 src=127.0.0.1 dst=127.0.0.1 sport=8080 dport=43900 packets=3 bytes=164 [ASSURED] mark=1310720 id=1003623867 [USERSPACE] portid=25568 progname=conntrack',
  noTimeout: '[DESTROY] ipv4     2 udp      17 src=127.0.0.1 dst=127.0.0.1 sport=37116 dport=9000 packets=1 bytes=31 [UNREPLIED] src=127.0.0.1 dst=127.0.0.1 sport=9000 dport=37116 packets=0 bytes=0 mark=1310720 id=76946670 [USERSPACE] portid=25568 progname=conntrack',
};
