/**
 * Failsafe rules (§5.8, §1.9). Inbound entries match protocol + destination port (+ source in
 * `net`); outbound entries protocol + destination port (+ destination in `net`). An entry with a
 * `net` exists only for that net's family. Untracked chains (raw table) add the reverse variants:
 * the ingress chain also matches outbound entries by *source* port (and source net), the egress
 * chain inbound entries by source port (and destination net), so replies of failsafe
 * connections are never half-untracked (§5.7).
 */
import type { FailsafePort, FelixSettings } from '../../config/resources';
import { parseCidr, prefixContains, type IpAddress } from '../../net/ip';
import type { BuiltinRuleName } from '../decision';
import type { PacketView } from './packet-view';

/** Where failsafes are checked. Forward chains have none. */
export type FailsafeChain = 'normal-ingress' | 'normal-egress' | 'prednat-ingress' | 'untracked-ingress' | 'untracked-egress';

export interface FailsafeHit {
  name: Extract<BuiltinRuleName, 'failsafe-inbound' | 'failsafe-outbound'>;
  /** The entry as text, e.g. `tcp:22`, `tcp:10.0.0.0/8:22`, prefixed `reverse ` for source-port variants. */
  detail: string;
}

function entryText(e: FailsafePort): string {
  return e.net === undefined ? `${e.protocol}:${e.port}` : `${e.protocol}:${e.net}:${e.port}`;
}

/** Does entry `e` match with the given port and (if the entry has a net) address? */
function entryMatches(e: FailsafePort, pkt: PacketView, port: number, netAddr: IpAddress): boolean {
  const proto = e.protocol === 'tcp' ? 6 : 17;
  if (pkt.proto !== proto || port < 0 || port !== e.port) return false;
  if (e.net === undefined) return true;
  const net = parseCidr(e.net, true);
  if (!net || net.prefix.family !== pkt.family) return false;
  return prefixContains(net.prefix, netAddr);
}

/** The first failsafe entry that matches in `chain`, or null. */
export function matchFailsafe(chain: FailsafeChain, felix: FelixSettings, pkt: PacketView): FailsafeHit | null {
  const inbound = felix.failsafeInboundHostPorts;
  const outbound = felix.failsafeOutboundHostPorts;
  const ingress = chain === 'normal-ingress' || chain === 'prednat-ingress' || chain === 'untracked-ingress';
  if (ingress) {
    for (const e of inbound) {
      if (entryMatches(e, pkt, pkt.dport, pkt.src)) return { name: 'failsafe-inbound', detail: entryText(e) };
    }
    if (chain === 'untracked-ingress') {
      for (const e of outbound) {
        if (entryMatches(e, pkt, pkt.sport, pkt.src)) return { name: 'failsafe-outbound', detail: `reverse ${entryText(e)}` };
      }
    }
    return null;
  }
  for (const e of outbound) {
    if (entryMatches(e, pkt, pkt.dport, pkt.dst)) return { name: 'failsafe-outbound', detail: entryText(e) };
  }
  if (chain === 'untracked-egress') {
    for (const e of inbound) {
      if (entryMatches(e, pkt, pkt.sport, pkt.dst)) return { name: 'failsafe-inbound', detail: `reverse ${entryText(e)}` };
    }
  }
  return null;
}
