/**
 * A steering plan as backend-neutral chains: abstract matches and actions. Every decision about
 * which packet reaches which queue is made here, once; render-nft.ts and render-iptables.ts only
 * spell the result.
 *
 * Shape, per hook that has work to do:
 *   entry chain   hooked at the hook (nft base chain; iptables: jumped from the built-in chain),
 *                 sends packets of governed interfaces to the stage chain with `goto`
 *   stage chain   flow gate (flow mode), verdict store, conntrack bits, queue
 * and one `markClear` entry in postrouting that clears nfqwall's packet-mark bits.
 *
 * `pass` means "nfqwall has no objection": nft `accept` in nfqwall's own table, iptables `RETURN`.
 * Either way the packet goes on to the host's other rules, so nfqwall only ever adds drops, in both
 * backends. (A queue verdict NF_ACCEPT ends the whole built-in chain in iptables; that is why
 * final-stage allows are NF_REPEAT + store, and why the raw/mangle jumps go last in their chains.)
 */
import { NfqwallError } from '../errors';
import { CT_STATE_CODES, generationBits, type MarkLayout } from './marks';
import { HOOK_NAMES, type HookName, type HookSteering, type InterfaceMatch, type QueueTarget, type SteeringPlan } from './plan';

export type CtStateName = keyof typeof CT_STATE_CODES;

/** (mark & mask) == value, on the packet mark or the ct mark. */
export interface BitsMatch {
  mask: number;
  value: number;
}

/** All present matches must hold; a list matches any of its items. */
export interface SteeringRule {
  iifs?: string[];
  oifs?: string[];
  ctState?: CtStateName[];
  /** ct direction is reply. */
  ctReply?: true;
  /** The connection was destination-NATed (ct status dnat). */
  ctDnat?: true;
  /** The source address is one of this host's (a locally originated packet, in postrouting). */
  srcLocal?: true;
  mark?: BitsMatch;
  ctMark?: BitsMatch;
  /** Zero or more modifying actions, then at most one terminal action. */
  actions: SteeringAction[];
}

export type SteeringAction =
  /** mark = (mark & ~mask) | value; value lies inside mask. */
  | { kind: 'set-mark'; mask: number; value: number }
  | { kind: 'set-ct-mark'; mask: number; value: number }
  | { kind: 'notrack' }
  | { kind: 'pass' }
  | { kind: 'drop' }
  | { kind: 'goto'; chain: string }
  | { kind: 'queue'; queue: QueueTarget; bypass: boolean };

export interface SteeringChain {
  /** Neutral name: `<entry>` or `<entry>_stage` (the nft spelling). */
  name: string;
  rules: SteeringRule[];
}

export type NetfilterHook = 'prerouting' | 'input' | 'forward' | 'output' | 'postrouting';
export type EntryId = HookName | 'markClear';

export interface IptablesPlacement {
  table: 'raw' | 'mangle' | 'filter';
  builtin: 'PREROUTING' | 'INPUT' | 'FORWARD' | 'OUTPUT' | 'POSTROUTING';
  /**
   * filter: first, so nfqwall's drops come before the host's own ACCEPT rules (Calico's default).
   * raw/mangle: last, so the host's notrack/helper/marking/MSS rules still see every packet, also
   * the ones an intermediate-stage NF_ACCEPT verdict takes out of the built-in chain.
   */
  position: 'first' | 'last';
}

export interface SteeringEntry {
  id: EntryId;
  hook: NetfilterHook;
  /** nft base-chain priority (include/uapi/linux/netfilter_ipv4.h values). */
  priority: number;
  iptables: IptablesPlacement;
  /** The entry chain first, then its stage chain (if any). */
  chains: SteeringChain[];
}

export interface SteeringModel {
  /** The plan's table name (nft `inet <table>`, iptables chain prefix `<TABLE>-`). */
  table: string;
  entries: SteeringEntry[];
}

interface EntryShape {
  hook: NetfilterHook;
  priority: number;
  iptables: IptablesPlacement;
  /** Stage name in the nft spelling; render-iptables.ts has its own short names. */
  nft: string;
}

const RAW = -300;
const MANGLE = -150;
const FILTER = 0;

/** Where each entry hooks in. Priorities: nfqueue-notes §2.9; stage order: calico-semantics §5.3. */
export const ENTRY_SHAPES: Readonly<Record<EntryId, EntryShape>> = {
  // doNotTrack ingress: before conntrack (-200), so an Allow can still untrack the packet.
  rawPrerouting: { hook: 'prerouting', priority: RAW, iptables: { table: 'raw', builtin: 'PREROUTING', position: 'last' }, nft: 'raw_prerouting' },
  // preDNAT: after conntrack (-200, so ct state/mark work) and before DNAT (-100).
  manglePrerouting: { hook: 'prerouting', priority: MANGLE, iptables: { table: 'mangle', builtin: 'PREROUTING', position: 'last' }, nft: 'mangle_prerouting' },
  filterInput: { hook: 'input', priority: FILTER, iptables: { table: 'filter', builtin: 'INPUT', position: 'first' }, nft: 'filter_input' },
  filterForward: { hook: 'forward', priority: FILTER, iptables: { table: 'filter', builtin: 'FORWARD', position: 'first' }, nft: 'filter_forward' },
  rawOutput: { hook: 'output', priority: RAW, iptables: { table: 'raw', builtin: 'OUTPUT', position: 'last' }, nft: 'raw_output' },
  filterOutput: { hook: 'output', priority: FILTER, iptables: { table: 'filter', builtin: 'OUTPUT', position: 'first' }, nft: 'filter_output' },
  // DNAT'd locally originated packets: before SNAT (100), while the source is still the local one.
  manglePostrouting: { hook: 'postrouting', priority: MANGLE, iptables: { table: 'mangle', builtin: 'POSTROUTING', position: 'last' }, nft: 'mangle_postrouting' },
  // After the postrouting stage, so its NF_ACCEPT verdicts are cleared too (nft); last in mangle POSTROUTING.
  markClear: { hook: 'postrouting', priority: MANGLE + 10, iptables: { table: 'mangle', builtin: 'POSTROUTING', position: 'last' }, nft: 'mark_clear' },
};

/** Stages that end a packet's judgement: an allow there is stored in the ct mark. */
const FINAL_STAGES: ReadonlySet<HookName> = new Set<HookName>(['filterInput', 'filterForward', 'filterOutput', 'manglePostrouting']);
/** Tracked stages where Calico's accept-mark alone ends the stage (§5.3 A.3, A.5, B.3). */
const ACCEPT_MARK_ENDS_STAGE: ReadonlySet<HookName> = new Set<HookName>(['manglePrerouting', 'filterInput', 'filterOutput']);
const RAW_STAGES: ReadonlySet<HookName> = new Set<HookName>(['rawPrerouting', 'rawOutput']);

export const TABLE_NAME_PATTERN = /^[a-z][a-z0-9_]{0,12}$/;
/** Linux interface names: 1..15 bytes, no '/', ':' or whitespace; quotes and wildcards refused too. */
const INTERFACE_NAME_PATTERN = /^[^\s/:"'\\*+]{1,15}$/;

export const STAGE_SUFFIX = '_stage';

/** Does this hook have anything to queue? */
export function hookActive(name: HookName, h: HookSteering): boolean {
  if (!h.enabled) return false;
  const nonEmpty = (m: InterfaceMatch) => m.all || m.names.length > 0;
  switch (name) {
    case 'filterForward':
      return nonEmpty(h.iifs) || nonEmpty(h.oifs);
    case 'rawOutput':
    case 'filterOutput':
    case 'manglePostrouting':
      return nonEmpty(h.oifs);
    default:
      return nonEmpty(h.iifs);
  }
}

/** Refuse a plan the kernel would misread (or that would need quoting in a ruleset). */
export function checkPlan(plan: SteeringPlan): void {
  const bad = (msg: string): never => {
    throw new NfqwallError('NFQ_DATAPLANE_BAD_PLAN', msg);
  };
  if (!TABLE_NAME_PATTERN.test(plan.table)) bad(`table name "${plan.table}" must match ${TABLE_NAME_PATTERN.source}`);
  if (!Number.isInteger(plan.generation) || plan.generation < 0) bad(`generation ${plan.generation} must be a non-negative integer`);
  checkMarks(plan.marks, bad);
  for (const name of HOOK_NAMES) {
    const h = plan.hooks[name];
    const q = h.queue;
    if (!Number.isInteger(q.from) || !Number.isInteger(q.to) || q.from < 0 || q.to > 65535 || q.from > q.to) {
      bad(`${name}: queue ${q.from}-${q.to} must be queue numbers 0..65535, from <= to`);
    }
    for (const m of [h.iifs, h.oifs]) {
      if (m.all) continue;
      for (const n of m.names) if (!INTERFACE_NAME_PATTERN.test(n)) bad(`${name}: interface name ${JSON.stringify(n)} is not valid`);
    }
  }
}

function checkMarks(m: MarkLayout, bad: (msg: string) => never): void {
  const fields = [m.accept, m.untrack, m.decided, m.drop, m.generationMask, m.ctStateMask, m.reply, m.dnat];
  let seen = 0;
  for (const f of fields) {
    if (f === 0 || u32(f & ~m.mask) !== 0 || (f & seen) !== 0) bad(`mark layout field 0x${f.toString(16)} is empty, overlaps another or lies outside the mask 0x${m.mask.toString(16)}`);
    seen |= f;
  }
}

export function buildSteeringModel(plan: SteeringPlan): SteeringModel {
  checkPlan(plan);
  const entries: SteeringEntry[] = [];
  for (const name of HOOK_NAMES) {
    const h = plan.hooks[name];
    if (!hookActive(name, h)) continue;
    const shape = ENTRY_SHAPES[name];
    const stageName = shape.nft + STAGE_SUFFIX;
    entries.push({
      id: name,
      hook: shape.hook,
      priority: shape.priority,
      iptables: shape.iptables,
      chains: [
        { name: shape.nft, rules: entryRules(plan, name, h, stageName) },
        { name: stageName, rules: stageRules(plan, name, h) },
      ],
    });
  }
  if (entries.length > 0) {
    // A packet's nfqwall bits mean nothing after postrouting. Clearing them matters for packets
    // that come back in (loopback, a veth pair inside this namespace): otherwise an output stage's
    // UNTRACK/ACCEPT/DECIDED bits would reach prerouting and input as if set there.
    const shape = ENTRY_SHAPES.markClear;
    entries.push({
      id: 'markClear',
      hook: shape.hook,
      priority: shape.priority,
      iptables: shape.iptables,
      chains: [{ name: shape.nft, rules: [{ actions: [{ kind: 'set-mark', mask: plan.marks.mask, value: 0 }] }] }],
    });
  }
  return { table: plan.table, entries };
}

function entryRules(plan: SteeringPlan, name: HookName, h: HookSteering, stage: string): SteeringRule[] {
  const go: SteeringAction = { kind: 'goto', chain: stage };
  switch (name) {
    case 'filterForward':
      // Either leg may be governed; `goto` enters the stage once even when both lists match.
      if (h.iifs.all || h.oifs.all) return [{ actions: [go] }];
      return [...viaInterfaces('iifs', h.iifs, {}, go), ...viaInterfaces('oifs', h.oifs, {}, go)];
    case 'filterOutput': {
      // A DNAT'd locally originated packet is judged in postrouting instead, where its final route
      // is known (calico-semantics §5.3 B.3/B.4) - when that stage exists.
      const deferDnat: SteeringRule[] = hookActive('manglePostrouting', plan.hooks.manglePostrouting) ? [{ ctDnat: true, actions: [{ kind: 'pass' }] }] : [];
      return [...deferDnat, ...viaInterfaces('oifs', h.oifs, {}, go)];
    }
    case 'manglePostrouting':
      // Only DNAT'd packets this host originated: forwarded ones were judged in filter FORWARD.
      // Before SNAT (priority 100) the source of a local packet is still one of the host's.
      return viaInterfaces('oifs', h.oifs, { ctDnat: true, srcLocal: true }, go);
    case 'rawOutput':
      return viaInterfaces('oifs', h.oifs, {}, go);
    default:
      return viaInterfaces('iifs', h.iifs, {}, go);
  }
}

function viaInterfaces(dir: 'iifs' | 'oifs', m: InterfaceMatch, extra: Omit<SteeringRule, 'actions'>, go: SteeringAction): SteeringRule[] {
  if (m.all) return [{ ...extra, actions: [go] }];
  if (m.names.length === 0) return [];
  return [{ ...extra, [dir]: [...m.names], actions: [go] }];
}

function stageRules(plan: SteeringPlan, name: HookName, h: HookSteering): SteeringRule[] {
  const m = plan.marks;
  const rules: SteeringRule[] = [];
  const queue: SteeringRule = { actions: [{ kind: 'queue', queue: { ...h.queue }, bypass: plan.failMode === 'open' }] };

  if (RAW_STAGES.has(name)) {
    // doNotTrack Allow comes back as NF_REPEAT with UNTRACK set: the chain runs again from here.
    // Raw runs before conntrack, so there is no ct state to gate on: every packet is queued.
    rules.push({ mark: { mask: m.untrack, value: m.untrack }, actions: [{ kind: 'notrack' }, { kind: 'pass' }] });
    rules.push(...conntrackBits(m), queue);
    return rules;
  }

  const gen = generationBits(m, plan.generation);
  const store = u32(m.decided | m.drop | m.generationMask);
  const allowed = u32(m.decided | gen);
  const denied = u32(m.decided | m.drop | gen);

  // The flow gate comes first: nearly every packet that reaches this chain belongs to a decided
  // flow, and leaves at one of these rules. The packets the verdict store below is for never match
  // them: a new flow's first packet is NEW, and a re-judged flow still carries its old generation.
  if (plan.mode === 'flow') {
    const later: CtStateName[] = ['established', 'related'];
    if (plan.keepExistingFlows) {
      const deny = u32(m.decided | m.drop);
      rules.push({ ctState: later, ctMark: { mask: deny, value: deny }, actions: [{ kind: 'drop' }] });
      rules.push({ ctState: later, actions: [{ kind: 'pass' }] });
    } else {
      rules.push({ ctState: later, ctMark: { mask: store, value: allowed }, actions: [{ kind: 'pass' }] });
      rules.push({ ctState: later, ctMark: { mask: store, value: denied }, actions: [{ kind: 'drop' }] });
      // Not decided by nfqwall (older than the daemon, or allowed by NF_ACCEPT): Calico accepts
      // established traffic before any policy. Decided under an older generation: falls through
      // to the queue and is judged again.
      rules.push({ ctState: later, ctMark: { mask: m.decided, value: 0 }, actions: [{ kind: 'pass' }] });
    }
    if (ACCEPT_MARK_ENDS_STAGE.has(name)) {
      // An untracked packet allowed by doNotTrack policy needs nothing more here (Calico's
      // accept-mark); sparing it the queue matters because untracked traffic is never cached in
      // the kernel. Tracked packets with ACCEPT still go up once per flow so the flow gets stored.
      rules.push({ ctState: ['untracked'], mark: { mask: m.accept, value: m.accept }, actions: [{ kind: 'pass' }] });
    }
  }

  // Verdict store: NF_REPEAT after a verdict brings the packet back here with DECIDED|GEN in its
  // mark. Copying it into the ct mark in the same chain works in both backends (iptables has no
  // later built-in chain at input, and nat POSTROUTING sees first packets only) and lets a
  // re-judged established flow store a deny. A new flow's deny cannot be stored: the dropped first
  // packet never confirms its conntrack entry, so userspace caches denies in its flow table.
  if (FINAL_STAGES.has(name)) {
    rules.push({ mark: { mask: store, value: allowed }, actions: [{ kind: 'set-ct-mark', mask: store, value: allowed }, { kind: 'pass' }] });
  }
  rules.push({ mark: { mask: store, value: denied }, actions: [{ kind: 'set-ct-mark', mask: store, value: denied }, { kind: 'drop' }] });
  rules.push(...conntrackBits(m), queue);
  return rules;
}

/** Write the conntrack state, reply direction and DNAT status into the packet mark (the binding reports none of them). */
function conntrackBits(m: MarkLayout): SteeringRule[] {
  const state = (s: CtStateName): SteeringRule => ({
    ctState: [s],
    actions: [{ kind: 'set-mark', mask: m.ctStateMask, value: u32(CT_STATE_CODES[s] << m.ctStateShift) }],
  });
  return [
    // Clearing the field leaves code 0 = new; in raw, before conntrack, the kernel reports invalid.
    { actions: [{ kind: 'set-mark', mask: u32(m.ctStateMask | m.reply | m.dnat), value: 0 }] },
    state('established'),
    state('related'),
    state('invalid'),
    state('untracked'),
    { ctReply: true, actions: [{ kind: 'set-mark', mask: m.reply, value: m.reply }] },
    { ctDnat: true, actions: [{ kind: 'set-mark', mask: m.dnat, value: m.dnat }] },
  ];
}

/** Bitwise results as unsigned 32-bit numbers (JS bit operators yield signed ones). */
export function u32(n: number): number {
  return n >>> 0;
}
