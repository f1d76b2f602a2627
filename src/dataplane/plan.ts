/**
 * The steering plan: what the kernel must send to which queue. One plan, two renderings
 * (native nft and iptables-nft). Built by the daemon from the compiled policy and settings.
 *
 * Verdict contract (the rules in model.ts rely on it; bits from marks.ts, GEN = the plan's generation):
 * - raw hooks (untracked stage): NF_DROP (Deny); NF_ACCEPT (no decision, continue); NF_REPEAT with
 *   UNTRACK|ACCEPT added to the mark (Allow: the chain runs again, untracks and passes the packet).
 * - manglePrerouting (preDNAT stage): NF_DROP; NF_ACCEPT, with ACCEPT added on Allow.
 * - final hooks (filterInput, filterForward, filterOutput, manglePostrouting): allow = NF_REPEAT with
 *   the mark's DECIDED|DROP|GEN bits set to DECIDED|GEN: the stage chain's store rule puts them in the ct
 *   mark and passes the packet, so later packets of the flow stay in the kernel. NF_ACCEPT also
 *   works but stores nothing (the flow still stays in the kernel once established, but is never
 *   judged again after a policy change).
 * - deny anywhere but raw: NF_DROP; for a flow that is already established (re-judged after a policy
 *   change) NF_REPEAT with DECIDED|DROP|GEN stores the deny and the kernel drops the rest of the flow.
 *   A new flow's deny cannot be stored: its conntrack entry is never confirmed (userspace caches it).
 * - A REPEAT mark whose GEN is not the installed plan's (a plan swap in progress) is not stored and the
 *   packet comes back: when nfmark already holds DECIDED|GEN of the verdict, answer ACCEPT/DROP instead.
 */
import type { MarkLayout } from './marks';

/** A queue number, or a range for fanout/balancing over several worker processes. */
export type QueueTarget = { from: number; to: number };

/** Interfaces a hook must queue for: a list of names, or every interface. */
export type InterfaceMatch = { all: true } | { all: false; names: string[] };

export interface HookSteering {
  /** Hook not needed at all (no such policy): no chain is installed. */
  enabled: boolean;
  queue: QueueTarget;
  /** In-interfaces (prerouting/input/forward) to queue. Ignored by the output/postrouting hooks. */
  iifs: InterfaceMatch;
  /** Out-interfaces (output/forward/postrouting) to queue. Ignored by the prerouting/input hooks. */
  oifs: InterfaceMatch;
}

export interface SteeringPlan {
  /** nfqwall's own table name (`inet nfqwall` for nft; chains prefixed `NFQWALL-` for iptables). */
  table: string;
  /** flow: only undecided packets reach userspace; packet: every packet is judged in userspace. */
  mode: 'flow' | 'packet';
  /**
   * open: queue rules carry `bypass` (traffic flows when nobody listens); the daemon removes the
   * rules on a clean exit. closed: no bypass, and the rules stay across a clean exit, so while no
   * daemon listens the kernel drops every packet that would be queued (no extra drop rule needed).
   * In flow mode, flows the kernel already passes keep passing; raw stages have no flow gate.
   */
  failMode: 'open' | 'closed';
  marks: MarkLayout;
  /** Current policy generation; flows decided under another one are queued again unless keepExisting. */
  generation: number;
  /** Keep flows decided under an older generation (Calico-like) instead of re-judging them. */
  keepExistingFlows: boolean;
  hooks: {
    rawPrerouting: HookSteering; // doNotTrack ingress
    manglePrerouting: HookSteering; // preDNAT
    filterInput: HookSteering;
    filterForward: HookSteering;
    rawOutput: HookSteering; // doNotTrack egress
    filterOutput: HookSteering;
    manglePostrouting: HookSteering; // DNAT'd locally originated packets
  };
}

export type HookName = keyof SteeringPlan['hooks'];

/** Every hook, in the order a plan lists them (also the order of the default queue numbers). */
export const HOOK_NAMES: readonly HookName[] = [
  'rawPrerouting',
  'manglePrerouting',
  'filterInput',
  'filterForward',
  'rawOutput',
  'filterOutput',
  'manglePostrouting',
];
