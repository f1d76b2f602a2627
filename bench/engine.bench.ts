/**
 * Engine benchmark: median decision time for a new flow with 1, 100, 1 000 and 10 000 rules spread
 * over 100 HEP-selecting policies, and compile time. Prints a table with ratios to the 1-rule figure.
 *
 * Rule mix (a realistic edge-router policy): each rule allows or denies TCP or UDP from a /24 to one
 * destination port or a small port range; every 10th rule is net-only (no ports). The probe packets are
 * new TCP/UDP flows to ports that no rule allows, so every decision walks to the end-of-tier deny: the
 * worst case for the rule index.
 *
 * Run: npm run build && node dist/bench/engine.bench.js
 */
import { performance } from 'node:perf_hooks';
import { compilePolicy } from '../src/engine';
import type { PacketFacts } from '../src/engine/packet-facts';
import type { EntityRule, GlobalNetworkPolicy, ResourceSet, Rule } from '../src/config/resources';
import { DEFAULT_FAILSAFE_INBOUND, DEFAULT_FAILSAFE_OUTBOUND } from '../src/config/resources';
import { parseIp } from '../src/net/ip';
import type { HostModel } from '../src/engine/host-model';

const origin = { location: { file: 'bench', line: 1 } };
const entity = (over: Partial<EntityRule> = {}): EntityRule => ({ nets: [], notNets: [], selector: '', notSelector: '', namespaceSelector: '', ports: [], notPorts: [], ...over });

export const BENCH_HOST: HostModel = {
  node: 'gw1',
  interfaces: [
    { name: 'eth0', addresses: ['203.0.113.1/24', '2001:db8:100::1/64'], routes: [], workload: false },
    { name: 'eth1', addresses: ['10.0.1.1/24'], routes: [], workload: false },
  ],
  workloadInterfacePrefix: 'cali',
  ipForward: true,
  nat: [],
  unmanagedVerdict: 'accept',
};

export function benchResources(totalRules: number): ResourceSet {
  const policies = totalRules === 1 ? 1 : 100;
  const perPolicy = Math.max(1, Math.floor(totalRules / policies));
  const list: GlobalNetworkPolicy[] = [];
  let n = 0;
  for (let p = 0; p < policies; p++) {
    const ingress: Rule[] = [];
    for (let r = 0; r < perPolicy; r++, n++) {
      const net = `10.${(n >> 8) & 255}.${n & 255}.0/24`;
      const port = 1000 + (n % 50000);
      const proto = n % 3 === 0 ? 17 : 6;
      const rule: Rule =
        n % 10 === 9
          ? { action: 'Deny', source: entity({ nets: [net] }), destination: entity(), origin }
          : {
              action: n % 4 === 0 ? 'Deny' : 'Allow',
              protocol: proto,
              protocolName: proto === 6 ? 'TCP' : 'UDP',
              source: entity({ nets: [net] }),
              destination: entity({ ports: [n % 7 === 0 ? { kind: 'range', min: port, max: port + 5 } : { kind: 'range', min: port, max: port }] }),
              origin,
            };
      ingress.push(rule);
    }
    list.push({
      kind: 'GlobalNetworkPolicy', name: `pol-${String(p).padStart(3, '0')}`, tier: 'default', order: p, selector: "network == 'wan'",
      types: ['Ingress'], ingress, egress: [], applyOnForward: true, preDNAT: false, doNotTrack: false, origin,
    });
  }
  return {
    policies: list,
    hostEndpoints: [{ kind: 'HostEndpoint', name: 'gw1-eth0', labels: { network: 'wan' }, node: 'gw1', interfaceName: 'eth0', expectedIPs: ['203.0.113.1'], profiles: [], ports: [], origin }],
    workloadEndpoints: [],
    networkSets: [],
    tiers: [{ kind: 'Tier', name: 'default', order: 1_000_000, defaultAction: 'Deny', origin }],
    profiles: [],
    felix: {
      failsafeInboundHostPorts: [...DEFAULT_FAILSAFE_INBOUND], failsafeOutboundHostPorts: [...DEFAULT_FAILSAFE_OUTBOUND],
      denyAction: 'Drop', disableConntrackInvalidCheck: false, logPrefix: 'calico-packet', logActionRateLimitBurst: 5,
    },
  };
}

function probes(count: number): PacketFacts[] {
  const out: PacketFacts[] = [];
  for (let i = 0; i < count; i++) {
    const src = parseIp(`198.51.${(i >> 8) & 255}.${i & 255}`)!;
    const dst = parseIp('203.0.113.1')!;
    const dport = 60000 + (i % 5000); // above every rule's port: nothing allows
    out.push({
      path: i % 2 === 0 ? 'local-in' : 'forward', iif: 'eth0', oif: i % 2 === 0 ? null : 'eth1', family: 4, proto: i % 3 === 0 ? 17 : 6,
      src, dst, sport: 40000 + (i % 20000), dport, icmpType: -1, icmpCode: -1, ctState: 'new', preDnatDst: dst, preDnatDport: dport,
    });
  }
  return out;
}

export interface EngineBenchRow {
  rules: number;
  compileMs: number;
  medianNs: number;
}

export function runEngineBench(sizes = [1, 100, 1000, 10000]): EngineBenchRow[] {
  const packets = probes(4096);
  const rows: EngineBenchRow[] = [];
  for (const size of sizes) {
    const resources = benchResources(size);
    const t0 = performance.now();
    const policy = compilePolicy(resources, BENCH_HOST);
    // Chains are built on first use per endpoint; include that in compile time by touching them.
    for (let i = 0; i < 4; i++) policy.decide(packets[i]!);
    const compileMs = performance.now() - t0;
    for (let i = 0; i < 20000; i++) policy.decide(packets[i & 4095]!); // warm up
    const batch = 2000;
    const samples: number[] = [];
    let sink = 0;
    for (let round = 0; round < 101; round++) {
      const start = process.hrtime.bigint();
      for (let i = 0; i < batch; i++) if (policy.decide(packets[(round * batch + i) & 4095]!).verdict === 'allow') sink++;
      samples.push(Number(process.hrtime.bigint() - start) / batch);
    }
    if (sink < 0) console.log(sink);
    samples.sort((a, b) => a - b);
    rows.push({ rules: size, compileMs, medianNs: samples[50]! });
  }
  return rows;
}

if (require.main === module) {
  const rows = runEngineBench();
  const base = rows[0]!.medianNs;
  console.log('engine: new-flow decision (median of 101 batches of 2000), compile time');
  console.log('rules\tdecision_ns\tratio_to_1_rule\tcompile_ms');
  for (const r of rows) console.log(`${r.rules}\t${r.medianNs.toFixed(0)}\t${(r.medianNs / base).toFixed(2)}x\t${r.compileMs.toFixed(1)}`);
}
