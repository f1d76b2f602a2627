/**
 * The packet-fuzz fixture shared by the test and the benchmark: realistic compiled policies, the
 * real PacketProcessor in several configurations, random hooks / marks / interfaces, and a
 * checker that holds every packet's outcome to the processor's contract.
 */
import { readFile } from 'node:fs/promises';
import * as path from 'node:path';
import { loadResourceDir, parseYamlDocuments, validateDocuments } from '../../src/config';
import { FlowTable } from '../../src/conntrack';
import { CT_STATE_CODES, markLayout, type MarkLayout } from '../../src/dataplane/marks';
import { compilePolicy, type CompiledPolicy, type HookName, type HostModel } from '../../src/engine';
import { createPacketView, parsePacket, parseStatusName, ParseStatus } from '../../src/packet';
import { PacketProcessor, type FlowDecision } from '../../src/pipeline/packet-processor';
import { PolicySlot } from '../../src/pipeline/policy-slot';
import { NF_ACCEPT, NF_DROP, NF_REPEAT } from '../../src/queue/verdict-codes';
import type { Rng } from '../helpers/random';
import { GEN_KINDS, type GenKind } from './packet-gen';

export const HOOKS: readonly HookName[] = ['raw-prerouting', 'mangle-prerouting', 'filter-input', 'filter-forward', 'raw-output', 'filter-output', 'mangle-postrouting'];

/** ifindex -> name; 0 is "no interface" and 99 an index the daemon does not know. */
export const IFACES = new Map<number, string>([
  [1, 'lo'],
  [2, 'eth0'],
  [3, 'eth1'],
  [4, 'eth2'],
  [5, 'eth3'],
  [6, 'cali1'],
]);
const IF_INDEXES = [0, 1, 2, 3, 4, 5, 6, 99];

export const HOST_MYHOST: HostModel = {
  node: 'myhost',
  interfaces: [
    { name: 'lo', addresses: ['127.0.0.1/8', '::1/128'], routes: [], workload: false },
    { name: 'eth0', addresses: ['203.0.113.1/24', '2001:db8:100::1/64'], routes: ['0.0.0.0/0', '::/0'], workload: false },
    { name: 'eth1', addresses: ['192.168.0.45/24'], routes: [], workload: false },
    { name: 'eth2', addresses: ['10.0.1.1/24', 'fd00:1::1/64'], routes: ['10.0.2.0/24'], workload: false },
    { name: 'eth3', addresses: ['172.16.0.1/24'], routes: [], workload: false },
    { name: 'cali1', addresses: [], routes: [], workload: true },
  ],
  workloadInterfacePrefix: 'cali',
  ipForward: true,
  nat: [{ type: 'masquerade', source: '10.0.1.0/24', outInterface: 'eth0' }],
  unmanagedVerdict: 'accept',
};

const HOST_ROUTER: HostModel = {
  node: 'router',
  interfaces: [
    { name: 'lo', addresses: ['127.0.0.1/8', '::1/128'], routes: [], workload: false },
    { name: 'eth0', addresses: ['10.10.0.1/24', 'fd10:10::1/64'], routes: [], workload: false },
    { name: 'eth1', addresses: ['10.20.0.1/24', 'fd10:20::1/64'], routes: [], workload: false },
    { name: 'cali1', addresses: [], routes: ['10.65.0.2/32', 'fd10:65::2/128'], workload: true },
  ],
  workloadInterfacePrefix: 'cali',
  ipForward: true,
  nat: [],
  unmanagedVerdict: 'drop',
};

/** Extra rules over the config fixtures: IPv6, ICMP, untracked denies, preDNAT allows, Pass. */
const EXTRA_POLICY = `
apiVersion: projectcalico.org/v3
kind: GlobalNetworkPolicy
metadata: {name: security.v6-and-icmp}
spec:
  tier: security
  order: 5
  selector: has(network)
  applyOnForward: true
  types: [Ingress, Egress]
  ingress:
    - action: Deny
      ipVersion: 6
      protocol: ICMPv6
      icmp: {type: 128}
      source: {nets: ['2001:db8:100::/64']}
    - action: Deny
      protocol: ICMP
      notICMP: {type: 8}
    - action: Pass
  egress:
    - action: Deny
      ipVersion: 6
      protocol: TCP
      destination: {notPorts: [22, 443], nets: ['fd00:1::/64']}
    - action: Pass
---
apiVersion: projectcalico.org/v3
kind: GlobalNetworkPolicy
metadata: {name: untracked-lan}
spec:
  order: 1
  selector: network == 'lan'
  doNotTrack: true
  applyOnForward: true
  types: [Ingress, Egress]
  ingress:
    - action: Deny
      protocol: UDP
      destination: {ports: [11211]}
    - action: Allow
      protocol: SCTP
  egress:
    - action: Allow
      protocol: UDPLite
---
apiVersion: projectcalico.org/v3
kind: GlobalNetworkPolicy
metadata: {name: prednat-wan}
spec:
  order: 2
  selector: role == 'wan'
  preDNAT: true
  applyOnForward: true
  ingress:
    - action: Allow
      protocol: TCP
      destination: {ports: [8080], nets: [203.0.113.1/32]}
    - action: Deny
      protocol: 47
      source: {selector: role == 'partner'}
`;

export interface FuzzPolicies {
  /** test/fixtures/config/good on host "myhost" (tiers, preDNAT, doNotTrack, sets, profiles, failsafes). */
  fixtures: CompiledPolicy;
  /** The same plus EXTRA_POLICY. */
  extended: CompiledPolicy;
  /** examples/seed on host "router". */
  seed: CompiledPolicy;
}

function mustBeValid(what: string, r: { issues: { severity: string; message: string }[] }): void {
  const errors = r.issues.filter((i) => i.severity === 'error');
  if (errors.length > 0) throw new Error(`${what} does not validate: ${errors.map((e) => e.message).join('; ')}`);
}

export async function loadFuzzPolicies(root: string): Promise<FuzzPolicies> {
  const good = await loadResourceDir(path.join(root, 'test/fixtures/config/good'));
  mustBeValid('test/fixtures/config/good', good);
  const seed = await loadResourceDir(path.join(root, 'examples/seed'));
  mustBeValid('examples/seed', seed);
  const extraDocs = parseYamlDocuments(EXTRA_POLICY, 'extra-policy.yaml');
  mustBeValid('extra policy', extraDocs);
  const goodDocs = await readDocs(good.files);
  const extended = validateDocuments([...goodDocs, ...extraDocs.documents]);
  mustBeValid('fixtures + extra policy', extended);
  return {
    fixtures: compilePolicy(good.resources, HOST_MYHOST),
    extended: compilePolicy(extended.resources, HOST_MYHOST),
    seed: compilePolicy(seed.resources, HOST_ROUTER),
  };
}

async function readDocs(files: readonly string[]): Promise<ReturnType<typeof parseYamlDocuments>['documents']> {
  const docs: ReturnType<typeof parseYamlDocuments>['documents'] = [];
  for (const f of files) docs.push(...parseYamlDocuments(await readFile(f, 'utf8'), f).documents);
  return docs;
}

/** One processor under test with its own expectations bookkeeping. */
export interface ProcessorRig {
  name: string;
  processor: PacketProcessor;
  slot: PolicySlot;
  layout: MarkLayout;
  parseErrorVerdict: 'accept' | 'drop';
  capacity: number;
  /** What the checker counted (compared with processor.counters at the end). */
  seen: { packets: number; parseErrors: number; accepted: number; dropped: number; repeated: number };
}

/**
 * Processors in the configurations the daemon can run: flow and packet mode, the default mark
 * mask and two others (one including bit 31, one in the low bits), a tiny flow table so that
 * eviction happens all the time, and the parse-error verdict both ways.
 */
export function makeRigs(policies: FuzzPolicies): ProcessorRig[] {
  const configs: { name: string; mode: 'flow' | 'packet'; mask: number; parseErrorVerdict: 'accept' | 'drop'; rejudge: boolean; capacity: number }[] = [
    { name: 'flow/default-mask/drop', mode: 'flow', mask: 0x7fff0000, parseErrorVerdict: 'drop', rejudge: true, capacity: 256 },
    { name: 'packet/high-mask/drop', mode: 'packet', mask: 0xffff8000, parseErrorVerdict: 'drop', rejudge: true, capacity: 64 },
    { name: 'flow/low-mask/keep-flows', mode: 'flow', mask: 0x00007fff, parseErrorVerdict: 'drop', rejudge: false, capacity: 1 },
    { name: 'packet/default-mask/accept-parse-errors', mode: 'packet', mask: 0x7fff0000, parseErrorVerdict: 'accept', rejudge: true, capacity: 1024 },
  ];
  return configs.map((c) => {
    const slot = new PolicySlot(policies.fixtures, 1);
    const layout = markLayout(c.mask);
    const flows = new FlowTable<FlowDecision>({ capacity: c.capacity });
    const processor = new PacketProcessor(slot, { layout, mode: c.mode, parseErrorVerdict: c.parseErrorVerdict, rejudgeExisting: c.rejudge, interfaceName: (i) => IFACES.get(i) ?? null }, flows);
    return { name: c.name, processor, slot, layout, parseErrorVerdict: c.parseErrorVerdict, capacity: c.capacity, seen: { packets: 0, parseErrors: 0, accepted: 0, dropped: 0, repeated: 0 } };
  });
}

/** A packet mark as the steering rules would write it, with foreign bits, or plain random. */
export function randomMark(rng: Rng, L: MarkLayout): number {
  if (rng.bool(0.15)) return rng.int(2 ** 32);
  const foreign = rng.bool(0.5) ? rng.int(2 ** 32) & ~L.mask : 0;
  const ctCode = rng.bool(0.9) ? rng.pick(Object.values(CT_STATE_CODES)) : 5 + rng.int(3);
  let ours = (ctCode << L.ctStateShift) >>> 0;
  if (rng.bool(0.3)) ours |= L.reply;
  if (rng.bool(0.1)) ours |= L.dnat;
  if (rng.bool(0.1)) ours |= L.accept;
  if (rng.bool(0.05)) ours |= L.untrack;
  if (rng.bool(0.1)) ours |= L.decided | (rng.bool() ? L.drop : 0) | ((rng.int(64) << L.generationShift) >>> 0);
  return ((foreign | ours) & 0xffffffff) >>> 0;
}

export interface PacketInput {
  hook: HookName;
  mark: number;
  indev: number;
  outdev: number;
  now: number;
}

/** Interfaces with host endpoints in the policies under test (eth0-eth2) and the workload. */
const MANAGED = [2, 3, 4, 6];

/** Mostly interfaces that fit the hook (input: in only, output: out only, forward: both), sometimes any. */
export function randomInput(rng: Rng, L: MarkLayout, now: number): PacketInput {
  const hook = rng.pick(HOOKS);
  const mark = randomMark(rng, L);
  if (rng.bool(0.25)) return { hook, mark, indev: rng.pick(IF_INDEXES), outdev: rng.pick(IF_INDEXES), now };
  const incoming = hook === 'raw-prerouting' || hook === 'mangle-prerouting' || hook === 'filter-input' || hook === 'filter-forward';
  const outgoing = hook === 'filter-forward' || hook === 'raw-output' || hook === 'filter-output' || hook === 'mangle-postrouting';
  return { hook, mark, indev: incoming ? rng.pick(MANAGED) : 0, outdev: outgoing ? rng.pick(MANAGED) : 0, now };
}

/** Thrown with everything needed to replay one failing packet. */
export class FuzzFailure extends Error {}

const ownView = createPacketView();

export function hex(b: Buffer, max = 256): string {
  return b.subarray(0, max).toString('hex') + (b.length > max ? `...(${b.length} bytes)` : '');
}

/** The parts of a PacketOutcome the contract is about (copied: the processor reuses its outcome). */
export interface OutcomeRecord {
  verdict: number;
  mark: number;
  status: number;
  hasDecision: boolean;
}

/**
 * Feed one packet to a rig and hold the outcome to the contract. `context` describes how to
 * reproduce it (seed, index) for the failure message.
 */
export function processAndCheck(rig: ProcessorRig, bytes: Buffer, input: PacketInput, context: () => string): void {
  let o: ReturnType<PacketProcessor['process']>;
  try {
    o = rig.processor.process(input.hook, bytes, input.mark, input.indev, input.outdev, input.now);
  } catch (err) {
    throw failure(rig, bytes, input, -1, 'exception escaped PacketProcessor.process', context, err);
  }
  checkOutcome(rig, bytes, input, { verdict: o.verdict, mark: o.mark, status: o.status, hasDecision: o.decision !== null }, context);
}

function failure(rig: ProcessorRig, bytes: Buffer, input: PacketInput, status: number, what: string, context: () => string, err?: unknown): FuzzFailure {
  return new FuzzFailure(
    `${what}\n  rig ${rig.name}, hook ${input.hook}, mark 0x${input.mark.toString(16)}, indev ${input.indev}, outdev ${input.outdev}, now ${input.now}${status >= 0 ? `, parse ${parseStatusName(status)}` : ''}\n  ${context()}\n  packet ${hex(bytes)}${err instanceof Error ? `\n  ${err.stack ?? err.message}` : ''}`,
  );
}

/**
 * The contract: a verdict in {DROP, ACCEPT, REPEAT}; what the parser rejects gets the
 * parse-error verdict, no mark and no decision; a new mark is a uint32 that differs from the
 * packet's only inside the mask; a REPEAT carries a mark; the flow table stays within capacity.
 */
export function checkOutcome(rig: ProcessorRig, bytes: Buffer, input: PacketInput, o: OutcomeRecord, context: () => string): void {
  const L = rig.layout;
  // Our own parse decides what the processor must have done with the packet.
  const status = parsePacket(bytes, ownView);
  const rejected = status !== ParseStatus.OK || (ownView.family !== 4 && ownView.family !== 6);
  const fail = (what: string): never => {
    throw failure(rig, bytes, input, status, what, context);
  };
  const s = rig.seen;
  s.packets++;
  const v = o.verdict;
  if (v === NF_ACCEPT) s.accepted++;
  else if (v === NF_DROP) s.dropped++;
  else if (v === NF_REPEAT) s.repeated++;
  else fail(`verdict ${String(v)} is not DROP, ACCEPT or REPEAT`);
  if (o.status !== status) fail(`processor parse status ${parseStatusName(o.status)} differs from ours`);
  if (rejected) {
    s.parseErrors++;
    const want = rig.parseErrorVerdict === 'drop' ? NF_DROP : NF_ACCEPT;
    if (v !== want || o.hasDecision || o.mark !== -1) fail(`unparseable packet got verdict ${v}, mark ${o.mark}, decision ${o.hasDecision ? 'set' : 'null'}; expected the parse-error verdict and no mark`);
  }
  if (o.mark !== -1) {
    if (!Number.isInteger(o.mark) || o.mark < 0 || o.mark > 0xffffffff) fail(`mark ${o.mark} is not a uint32`);
    if (((o.mark ^ input.mark) & ~L.mask) !== 0) fail(`mark 0x${o.mark.toString(16)} changed bits outside the mask 0x${L.mask.toString(16)}`);
  }
  if (v === NF_REPEAT && o.mark === -1) fail('REPEAT without a new mark');
  if (rig.processor.flows.size > rig.capacity) fail(`flow table holds ${rig.processor.flows.size} flows, capacity ${rig.capacity}`);
}

/** The processor's own counters must equal what the checker saw. */
export function countersProblem(rig: ProcessorRig): string | null {
  const c = rig.processor.counters;
  const s = rig.seen;
  const diffs: string[] = [];
  for (const k of ['packets', 'parseErrors', 'accepted', 'dropped', 'repeated'] as const) if (c[k] !== s[k]) diffs.push(`${k}: processor ${c[k]}, checker ${s[k]}`);
  return diffs.length > 0 ? `${rig.name}: ${diffs.join('; ')}` : null;
}

export function emptyKindCounts(): Record<GenKind, number> {
  return Object.fromEntries(GEN_KINDS.map((k) => [k, 0])) as Record<GenKind, number>;
}

/** Seed from FUZZ_SEED (decimal or 0x hex) or the default. */
export function seedFromEnv(fallback: number): number {
  const s = process.env['FUZZ_SEED'];
  if (s === undefined || s === '') return fallback;
  const n = Number(s);
  if (!Number.isInteger(n)) throw new Error(`FUZZ_SEED must be an integer, got ${s}`);
  return n >>> 0;
}
