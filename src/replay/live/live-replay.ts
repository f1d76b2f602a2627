/**
 * Live proof of an offline replay (docs/replay.md "Live proof"): the capture's packets are sent
 * into the lab router through the right veth, the real daemon judges them, and what comes out is
 * compared with the offline verdict, packet by packet.
 *
 *   plan:  the offline replay (ReplayEngine) gives every packet its verdict, path and interfaces;
 *          packets forwarded between the lab's application (router eth0) and maintenance (eth1)
 *          networks, or addressed to one of the router's addresses there, are replayed live.
 *   send:  one at a time in capture order, as an Ethernet frame from the host on the in-interface's
 *          side (its MAC -> the router interface's MAC), with `cap.send` in that host's namespace.
 *   see:   forwarded packets are captured with `cap` in the far host's namespace (frames whose
 *          source MAC is the router's); packets to the router are seen through an NFLOG rule at
 *          the end of the router's input hook, i.e. after nfqwall accepted them.
 *   fate:  seen within `waitMs` of being sent -> allow; not seen -> deny. The next packet is sent
 *          once the previous one was seen (or its wait ran out), so replies meet the conntrack
 *          entry their request created, as they did when the capture was taken.
 */
import { ParseStatus, buildEthernet, createPacketView, parsePacket, type PacketView } from '../../packet';
import { formatIp } from '../../net/ip';
import { CaptureReader } from '../../pcap';
import { LAB_ADDRESSES, ROUTER_INTERFACES, labNames, labPrefixProblem } from '../../lab/topology';
import type { HostModel } from '../../engine/host-model';
import { ReplayEngine, type ReplayEngineOptions, type ReplayPolicy } from '../replay-engine';
import { describeView, fingerprintOfView, fixChecksums, fingerprint, ipOfEthernet, ipOfNflog } from './packets';
import { Agent, LIVE_NFLOG_GROUP, flushRouterConntrack, installLiveRules, macOf, mtuOf, removeLiveRules, type AgentEvent } from './lab-control';

/** The lab side a packet enters from or leaves to. */
export type LabSide = 'app' | 'maint' | 'router';
export type LiveFate = 'allow' | 'deny';

/** One packet of the capture, with its offline verdict and (when replayed) its live fate. */
export interface LivePacket {
  /** 0-based across all inputs, as in the offline replay. */
  index: number;
  input: number;
  /** `TCP 10.10.0.2:40000 -> 10.20.0.2:22 [S]`, or the offline reason for packets that are not IP. */
  packet: string;
  offline: string;
  path: string;
  iif: string | null;
  oif: string | null;
  /** Why the packet is not replayed live; '' when it is. */
  skipped: string;
  /** Side it is sent from / observed on (replayed packets). */
  from: LabSide | null;
  to: LabSide | null;
  /** The IP datagram to send, checksums fixed. */
  ip: Buffer | null;
  key: string;
  live: LiveFate | null;
  /** Milliseconds from sending to being seen. */
  latencyMs: number | null;
  /** Seen, but only after its wait ran out (the next packets were already on their way). */
  late: boolean;
  /** Sending failed (the agent's message). */
  error: string;
  differs: boolean;
}

export interface LivePlan {
  packets: LivePacket[];
  /** Capture files that could not be read completely (message per file). */
  inputErrors: string[];
}

/** Which lab side each router interface faces. */
const SIDE_OF_IFACE: Record<string, LabSide> = {
  [ROUTER_INTERFACES.application]: 'app',
  [ROUTER_INTERFACES.maintenance]: 'maint',
};

function sameAddress(text: string, v: PacketView, which: 'src' | 'dst'): boolean {
  const w = v[which];
  return formatIp({ family: v.family === 6 ? 6 : 4, words: [w[0], w[1], w[2], w[3]] }) === text;
}

function addressIn(v: PacketView, which: 'src' | 'dst', addrs: readonly string[]): boolean {
  return addrs.some((a) => sameAddress(a, v, which));
}

const HOST_ADDRESSES: Record<'app' | 'maint', readonly string[]> = {
  app: [LAB_ADDRESSES.app.v4, LAB_ADDRESSES.app.v6],
  maint: [LAB_ADDRESSES.maint.v4, LAB_ADDRESSES.maint.v6],
};
const ROUTER_ADDRESSES: Record<'app' | 'maint', readonly string[]> = {
  app: [LAB_ADDRESSES.router.eth0.v4, LAB_ADDRESSES.router.eth0.v6],
  maint: [LAB_ADDRESSES.router.eth1.v4, LAB_ADDRESSES.router.eth1.v6],
};

/**
 * Run the offline replay over `files` and decide, per packet, whether and how it is replayed live.
 * `maxIpLength` is the largest datagram the veths carry (their MTU).
 */
export function planLive(files: readonly string[], policy: ReplayPolicy, host: HostModel, options: ReplayEngineOptions, maxIpLength: number): LivePlan {
  const engine = new ReplayEngine(policy, host, options);
  const packets: LivePacket[] = [];
  const inputErrors: string[] = [];
  for (let i = 0; i < files.length; i++) {
    const file = files[i]!;
    const reader = CaptureReader.openFile(file);
    for (const rec of reader) {
      const r = engine.process(rec, i);
      const v = r.view;
      const judged = r.verdict === 'allow' || r.verdict === 'deny';
      const p: LivePacket = {
        index: r.index,
        input: i,
        packet: judged ? describeView(rec.data, v) : r.reason !== '' ? `${r.verdict}: ${r.reason}` : r.verdict,
        offline: r.verdict,
        path: judged ? r.direction.path : '',
        iif: judged ? r.direction.iif : null,
        oif: judged ? r.direction.oif : null,
        skipped: '',
        from: null,
        to: null,
        ip: null,
        key: '',
        live: null,
        latencyMs: null,
        late: false,
        error: '',
        differs: false,
      };
      packets.push(p);
      if (!judged) {
        p.skipped = `offline verdict ${r.verdict}`;
        continue;
      }
      const from = p.iif !== null ? SIDE_OF_IFACE[p.iif] : undefined;
      if (r.direction.path === 'local-out') {
        p.skipped = 'sent by the router itself';
        continue;
      }
      if (from === undefined) {
        p.skipped = `comes in on ${p.iif ?? '?'}, not from the application or maintenance network`;
        continue;
      }
      let to: LabSide;
      if (r.direction.path === 'local-in') {
        if (!addressIn(v, 'dst', ROUTER_ADDRESSES[from as 'app' | 'maint'])) {
          p.skipped = 'to the router, but not to its unicast address on that network';
          continue;
        }
        to = 'router';
      } else {
        const side = p.oif !== null ? SIDE_OF_IFACE[p.oif] : undefined;
        if (side === undefined || side === from) {
          p.skipped = `forwarded ${p.iif ?? '?'} -> ${p.oif ?? '?'}, not between the lab's two networks`;
          continue;
        }
        // The router must resolve the destination on the far network: only the lab hosts answer.
        if (!addressIn(v, 'dst', HOST_ADDRESSES[side as 'app' | 'maint'])) {
          p.skipped = `no lab host has the destination address`;
          continue;
        }
        to = side;
      }
      const end = v.l3Offset + v.totalLength;
      if (end > rec.data.length) {
        p.skipped = 'not captured completely';
        continue;
      }
      if (v.totalLength > maxIpLength) {
        p.skipped = `${v.totalLength} bytes, more than the lab's MTU of ${maxIpLength} (captured before segmentation offload?)`;
        continue;
      }
      const ip = Buffer.from(rec.data.subarray(v.l3Offset, end));
      const view = createPacketView();
      if (!fixChecksums(ip) || parsePacket(ip, view) !== ParseStatus.OK) {
        p.skipped = 'the IP packet does not parse on its own';
        continue;
      }
      p.ip = ip;
      p.key = fingerprintOfView(ip, view);
      p.from = from;
      p.to = to;
    }
    if (reader.status.state === 'error') inputErrors.push(`${file}: ${reader.status.error.message}`);
  }
  return { packets, inputErrors };
}

export interface LiveRunOptions {
  /** Milliseconds to wait for a packet to come out before sending the next one (default 250). */
  waitMs?: number;
  /** Pause between packets in milliseconds (default 5). */
  paceMs?: number;
  /** Extra wait after the last packet for late arrivals (default 300). */
  settleMs?: number;
  /** Progress and diagnostics. */
  log?: (line: string) => void;
}

export interface LiveRunResult {
  compared: number;
  differ: number;
  errors: number;
  /** Packets seen on a far side that match nothing sent (not counted as a difference). */
  unmatched: number;
}

/** ICMPv6 130-143: MLD and neighbour discovery. */
function isNeighbourTraffic(ip: Buffer): boolean {
  const v = createPacketView();
  return parsePacket(ip, v) === ParseStatus.OK && v.proto === 58 && v.icmpType >= 130 && v.icmpType <= 143;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/**
 * Replay the planned packets in the lab `prefix` (up, with nfqwall running on its router). Fills
 * `live`, `latencyMs`, `late`, `error` and `differs` of every replayed packet. The lab's
 * namespaces get the rules of lab-control.ts for the duration and lose them afterwards.
 */
export async function runLive(prefix: string, plan: LivePlan, options: LiveRunOptions = {}): Promise<LiveRunResult> {
  const problem = labPrefixProblem(prefix);
  if (problem) throw new Error(problem);
  const names = labNames(prefix);
  const waitMs = options.waitMs ?? 250;
  const paceMs = options.paceMs ?? 5;
  const settleMs = options.settleMs ?? 300;
  const log = options.log ?? (() => undefined);
  const todo = plan.packets.filter((p) => p.ip !== null);
  const macs = {
    app: await macOf(names.app, 'eth0'),
    maint: await macOf(names.maint, 'eth0'),
    routerApp: await macOf(names.router, ROUTER_INTERFACES.application),
    routerMaint: await macOf(names.router, ROUTER_INTERFACES.maintenance),
  };
  const lifetimeMs = 30_000 + todo.length * (waitMs + paceMs + 50);
  const agents: Partial<Record<LabSide, Agent>> = {};
  let unmatched = 0;
  try {
    await installLiveRules(names);
    await flushRouterConntrack(names);
    agents.app = new Agent(names.app, 'eth0', `ether src ${macs.routerApp}`, lifetimeMs);
    agents.maint = new Agent(names.maint, 'eth0', `ether src ${macs.routerMaint}`, lifetimeMs);
    agents.router = new Agent(names.router, `nflog:${LIVE_NFLOG_GROUP}`, '', lifetimeMs);
    await Promise.all(Object.values(agents).map((a) => a.ready(10_000)));

    // Packets sent so far, by fingerprint, per observing side.
    const pending = new Map<string, LivePacket[]>();
    const sentAt = new Map<LivePacket, number>();
    let waiting: { p: LivePacket; done: () => void } | null = null;
    const seen = (side: LabSide, e: AgentEvent): void => {
      if (e.ev !== 'packet' || e.data === undefined) return;
      const raw = Buffer.from(e.data, 'base64');
      const ip = side === 'router' ? ipOfNflog(raw) : ipOfEthernet(raw);
      const key = ip !== null ? fingerprint(ip) : null;
      const list = key !== null ? pending.get(`${side}|${key}`) : undefined;
      // The most recent packet with this fingerprint: a denied first attempt stays undelivered
      // when its retransmission gets through.
      const p = list?.pop();
      if (p === undefined) {
        // ARP and the hosts' own neighbour discovery / MLD are expected; anything else is worth a count.
        if (ip !== null && !isNeighbourTraffic(ip)) unmatched++;
        return;
      }
      p.live = 'allow';
      p.latencyMs = Date.now() - (sentAt.get(p) ?? Date.now());
      if (waiting !== null && waiting.p === p) waiting.done();
      else p.late = true;
    };
    for (const side of ['app', 'maint', 'router'] as const) agents[side]!.on((e) => seen(side, e));
    const sendErrors = new Map<number, string>();
    for (const side of ['app', 'maint'] as const) {
      agents[side]!.on((e) => {
        if (e.ev === 'error' && e.id !== undefined) sendErrors.set(e.id, e.message ?? 'send failed');
      });
    }

    for (const p of todo) {
      const fromSide = p.from as 'app' | 'maint';
      const frame = buildEthernet(p.ip!, fromSide === 'app' ? { src: macs.app, dst: macs.routerApp } : { src: macs.maint, dst: macs.routerMaint });
      const k = `${p.to}|${p.key}`;
      const list = pending.get(k);
      if (list) list.push(p);
      else pending.set(k, [p]);
      const delivered = new Promise<void>((resolve) => {
        waiting = { p, done: resolve };
      });
      sentAt.set(p, Date.now());
      agents[fromSide]!.send(p.index, frame);
      await Promise.race([delivered, sleep(waitMs)]);
      waiting = null;
      if (paceMs > 0) await sleep(paceMs);
    }
    await sleep(settleMs);
    for (const p of todo) {
      const err = sendErrors.get(p.index);
      if (err !== undefined) p.error = err;
      else if (p.live === null) p.live = 'deny';
    }
    for (const a of Object.values(agents)) for (const e of a.errors) log(`agent in ${a.ns}: ${e}`);
  } finally {
    await Promise.all(Object.values(agents).map((a) => a.stop()));
    await removeLiveRules(names);
  }
  let differ = 0;
  let errors = 0;
  for (const p of todo) {
    if (p.error !== '') {
      errors++;
      continue;
    }
    p.differs = p.live !== p.offline;
    if (p.differs) differ++;
  }
  return { compared: todo.length - errors, differ, errors, unmatched };
}

/** The largest IP datagram the lab's veths carry. */
export async function labMtu(prefix: string): Promise<number> {
  const names = labNames(prefix);
  return Math.min(await mtuOf(names.router, ROUTER_INTERFACES.application), await mtuOf(names.router, ROUTER_INTERFACES.maintenance));
}
