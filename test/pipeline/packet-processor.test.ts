import { strict as assert } from 'node:assert';
import { compilePolicy } from '../../src/engine';
import { PacketProcessor } from '../../src/pipeline/packet-processor';
import { PolicySlot } from '../../src/pipeline/policy-slot';
import { FlowTable } from '../../src/conntrack';
import { CT_STATE_CODES, generationBits, markLayout } from '../../src/dataplane/marks';
import { buildTcp, buildUdp } from '../../src/packet/build';
import { NF_ACCEPT, NF_DROP, NF_REPEAT } from '../../src/queue/verdict-codes';
import { parseYamlDocuments, validateDocuments } from '../../src/config';
import type { HostModel } from '../../src/engine/host-model';

const POLICY = `
apiVersion: projectcalico.org/v3
kind: GlobalNetworkPolicy
metadata: {name: allow-ssh-maintenance}
spec:
  selector: network == 'maintenance'
  applyOnForward: true
  types: [Egress]
  egress:
  - action: Allow
    protocol: TCP
    destination: {ports: [22]}
---
apiVersion: projectcalico.org/v3
kind: GlobalNetworkPolicy
metadata: {name: dnt-memcached}
spec:
  selector: network == 'maintenance'
  applyOnForward: true
  doNotTrack: true
  types: [Ingress]
  ingress:
  - action: Allow
    protocol: UDP
    destination: {ports: [11211]}
---
apiVersion: projectcalico.org/v3
kind: HostEndpoint
metadata: {name: gw1.eth1, labels: {network: maintenance}}
spec: {node: gw1, interfaceName: eth1, expectedIPs: [192.168.0.45]}
`;

const HOST: HostModel = {
  node: 'gw1',
  interfaces: [
    { name: 'eth1', addresses: ['192.168.0.45/24'], routes: [], workload: false },
    { name: 'eth2', addresses: ['10.0.1.1/24'], routes: [], workload: false },
  ],
  workloadInterfacePrefix: 'cali',
  ipForward: true,
  nat: [],
  unmanagedVerdict: 'accept',
};
const NAMES = new Map([[2, 'eth1'], [3, 'eth2']]);
const L = markLayout();
const FOREIGN = 0x0000_00a5; // another program's mark bits: must survive every verdict

function processor(mode: 'flow' | 'packet' = 'flow'): { p: PacketProcessor; slot: PolicySlot } {
  const parsed = parseYamlDocuments(POLICY, 'policy.yaml');
  const v = validateDocuments(parsed.documents);
  assert.deepEqual(v.issues.filter((i) => i.severity === 'error'), []);
  const slot = new PolicySlot(compilePolicy(v.resources, HOST), 5);
  return { p: new PacketProcessor(slot, { layout: L, mode, parseErrorVerdict: 'drop', rejudgeExisting: true, interfaceName: (i) => NAMES.get(i) ?? null }, new FlowTable({ capacity: 1000 })), slot };
}

const ct = (state: keyof typeof CT_STATE_CODES, reply = false) => ((CT_STATE_CODES[state] << L.ctStateShift) | (reply ? L.reply : 0)) >>> 0;
const syn = (dport: number) => buildTcp({ src: '10.0.1.10', dst: '192.168.0.10' }, { sport: 40000, dport, flags: 'S' });

describe('pipeline/packet-processor', () => {
  it('accepts a new allowed flow and stores DECIDED + generation in the mark, keeping foreign bits', () => {
    const { p } = processor();
    const o = p.process('filter-forward', syn(22), FOREIGN | ct('new'), 3, 2, 1000);
    assert.equal(o.verdict, NF_REPEAT, 'allow at a final hook is a repeat that stores the verdict');
    assert.equal(o.mark & ~L.mask, FOREIGN);
    assert.ok(o.mark & L.decided);
    assert.equal(o.mark & L.generationMask, generationBits(L, 5));
    assert.equal(o.decision?.decidedBy.rule.kind, 'policy');
  });
  it('drops a new denied flow (end-of-tier on the out-HEP)', () => {
    const { p } = processor();
    const o = p.process('filter-forward', syn(80), ct('new'), 3, 2, 1000);
    assert.equal(o.verdict, NF_DROP);
    assert.deepEqual(o.decision?.decidedBy.rule, { kind: 'builtin', name: 'end-of-tier', detail: 'default' });
  });
  it('in flow mode judges an established packet of an older generation again, in its original direction', () => {
    const { p } = processor();
    // A reply (server -> client) of the SSH flow arrives on eth1 and leaves on eth2.
    const reply = buildTcp({ src: '192.168.0.10', dst: '10.0.1.10' }, { sport: 22, dport: 40000, flags: 'SA' });
    const o = p.process('filter-forward', reply, ct('established', true), 2, 3, 1000);
    assert.equal(o.rejudged, true);
    assert.equal(o.verdict, NF_REPEAT);
    assert.equal(o.mark & (L.decided | L.drop), L.decided);
    // A flow the new policy denies: the deny is stored too, so the kernel drops the rest of it.
    const denied = buildTcp({ src: '192.168.0.10', dst: '10.0.1.10' }, { sport: 80, dport: 40000, flags: 'A' });
    const d = p.process('filter-forward', denied, ct('established', true), 2, 3, 1000);
    assert.equal(d.verdict, NF_REPEAT);
    assert.equal(d.mark & (L.decided | L.drop), L.decided | L.drop);
    // The repeated packet comes back with the bits already set (plan swap in progress): plain verdict.
    assert.equal(p.process('filter-forward', denied, d.mark, 2, 3, 1000).verdict, NF_DROP);
  });
  it('in packet mode accepts established replies before policy, as Calico does', () => {
    const { p } = processor('packet');
    const reply = buildTcp({ src: '192.168.0.10', dst: '10.0.1.10' }, { sport: 80, dport: 40000, flags: 'A' });
    const o = p.process('filter-forward', reply, ct('established', true), 2, 3, 1000);
    assert.equal(o.verdict, NF_ACCEPT);
    assert.equal(o.rejudged, false);
  });
  it('in packet mode remembers an unknown established flow under the current generation, so a reload judges it again', () => {
    const { p, slot } = processor('packet');
    // Evicted from a full table (or open before the daemon started): accepted before policy.
    const reply = buildTcp({ src: '192.168.0.10', dst: '10.0.1.10' }, { sport: 80, dport: 40000, flags: 'A' });
    const o = p.process('filter-forward', reply, ct('established', true), 2, 3, 1000);
    assert.equal(o.verdict, NF_ACCEPT);
    assert.notEqual(o.flow?.decision, null, 'remembered');
    assert.equal(o.flow?.generation, slot.generation);
    // After a reload the flow (port 80, denied by the policy) is judged again and dropped.
    slot.swap(slot.current);
    const again = p.process('filter-forward', reply, ct('established', true), 2, 3, 2000);
    assert.equal(again.rejudged, true);
    assert.equal(again.decision?.action, 'drop');
    assert.equal(again.mark & (L.decided | L.drop), L.decided | L.drop, 'the deny is stored');
  });
  it('answers a doNotTrack Allow with a repeat that carries UNTRACK and ACCEPT', () => {
    const { p } = processor();
    const pkt = buildUdp({ src: '192.168.0.10', dst: '192.168.0.45' }, { sport: 5000, dport: 11211 });
    const o = p.process('raw-prerouting', pkt, FOREIGN, 2, 0, 1000);
    assert.equal(o.verdict, NF_REPEAT);
    assert.ok(o.mark & L.untrack && o.mark & L.accept);
    assert.equal(o.mark & ~L.mask, FOREIGN);
    // Later, filter INPUT sees the accept-mark and accepts.
    const later = p.process('filter-input', pkt, o.mark | ct('untracked'), 2, 0, 1000);
    assert.equal(later.verdict, NF_ACCEPT);
  });
  it('forgets a denied new flow, as the kernel does: the other direction is a new flow', () => {
    const { p } = processor();
    assert.equal(p.process('filter-forward', syn(80), ct('new'), 3, 2, 1000).verdict, NF_DROP);
    // The maintenance host starts a flow back on the same tuple: the out-HEP (eth1) has no ingress
    // AoF policy and eth2 has no HEP, so it is allowed, whatever happened to the first direction.
    const back = buildTcp({ src: '192.168.0.10', dst: '10.0.1.10' }, { sport: 80, dport: 40000, flags: 'S' });
    const o = p.process('filter-forward', back, ct('new'), 2, 3, 1100);
    assert.equal(o.verdict, NF_REPEAT);
    assert.equal(o.cached, false);
    // A retransmitted SYN of the denied direction is judged again, with the same result.
    assert.equal(p.process('filter-forward', syn(80), ct('new'), 3, 2, 2000).verdict, NF_DROP);
  });
  it('keeps decided flows in its bounded table in both modes (flow records, listings, re-judging)', () => {
    const { p } = processor();
    const synFrom = (sport: number, dport: number) => buildTcp({ src: '10.0.1.10', dst: '192.168.0.10' }, { sport, dport, flags: 'S' });
    for (let i = 0; i < 50; i++) {
      assert.equal(p.process('filter-forward', synFrom(40000 + i, 22), ct('new'), 3, 2, 1000 + i).verdict, NF_REPEAT);
      assert.equal(p.process('filter-forward', synFrom(41000 + i, 80), ct('new'), 3, 2, 1000 + i).verdict, NF_DROP);
    }
    assert.equal(p.flows.size, 100, 'allowed and denied flows are both remembered');
    const pm = processor('packet').p;
    for (let i = 0; i < 5; i++) pm.process('filter-forward', synFrom(40000 + i, 22), ct('new'), 3, 2, 1000);
    assert.equal(pm.flows.size, 5);
  });
  it('drops what does not parse, and counts it', () => {
    const { p } = processor();
    const o = p.process('filter-input', Buffer.from([0x45, 0, 0]), 0, 2, 0, 1000);
    assert.equal(o.verdict, NF_DROP);
    assert.equal(p.counters.parseErrors, 1);
  });
  it('uses the policy in the slot at the time of each packet (atomic swap)', () => {
    const { p, slot } = processor();
    assert.equal(p.process('filter-forward', syn(80), ct('new'), 3, 2, 1000).verdict, NF_DROP);
    const open = validateDocuments(parseYamlDocuments(POLICY.replace('ports: [22]', 'ports: [22, 80]'), 'p.yaml').documents).resources;
    slot.swap(compilePolicy(open, HOST));
    const o = p.process('filter-forward', syn(80), ct('new'), 3, 2, 1000);
    assert.equal(o.verdict, NF_REPEAT);
    assert.equal(o.mark & L.generationMask, generationBits(L, 6));
  });
});
