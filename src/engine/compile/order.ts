/**
 * Evaluation order of tiers and policies (calico-semantics.md §4.1, §4.2).
 */
import type { GlobalNetworkPolicy, Tier } from '../../config/resources';

/** Byte-wise string comparison (JavaScript's < compares UTF-16 code units; equal for ASCII names). */
function byteCompare(a: string, b: string): number {
  const x = Buffer.from(a, 'utf8');
  const y = Buffer.from(b, 'utf8');
  return Buffer.compare(x, y);
}

/** §4.1: numeric order ascending, then name; tiers without order after all ordered ones. */
export function compareTiers(a: Tier, b: Tier): number {
  const ao = a.order;
  const bo = b.order;
  if (ao !== undefined && bo !== undefined && ao !== bo) return ao < bo ? -1 : 1;
  if (ao !== undefined && bo === undefined) return -1;
  if (ao === undefined && bo !== undefined) return 1;
  return byteCompare(a.name, b.name);
}

/** §4.2: order ascending (missing = +inf), then `name//GlobalNetworkPolicy` byte-wise (Felix PolKVLess). */
export function comparePolicies(a: GlobalNetworkPolicy, b: GlobalNetworkPolicy): number {
  const ao = a.order ?? Number.POSITIVE_INFINITY;
  const bo = b.order ?? Number.POSITIVE_INFINITY;
  if (ao !== bo) return ao < bo ? -1 : 1;
  return byteCompare(`${a.name}//GlobalNetworkPolicy`, `${b.name}//GlobalNetworkPolicy`);
}

export interface OrderedTier {
  tier: Tier;
  policies: GlobalNetworkPolicy[];
}

/**
 * Tiers in evaluation order, each with its policies in evaluation order. A policy naming a tier
 * that has no Tier object goes into a synthetic Deny tier sorted last (Felix does the same; the
 * validator normally rejects this).
 */
export function orderTiers(tiers: readonly Tier[], policies: readonly GlobalNetworkPolicy[]): OrderedTier[] {
  const byName = new Map<string, OrderedTier>();
  for (const t of tiers) byName.set(t.name, { tier: t, policies: [] });
  const orphans = new Map<string, OrderedTier>();
  for (const p of policies) {
    let slot = byName.get(p.tier) ?? orphans.get(p.tier);
    if (!slot) {
      slot = {
        tier: { kind: 'Tier', name: p.tier, defaultAction: 'Deny', origin: p.origin },
        policies: [],
      };
      orphans.set(p.tier, slot);
    }
    slot.policies.push(p);
  }
  const ordered = [...byName.values()].sort((a, b) => compareTiers(a.tier, b.tier));
  const rest = [...orphans.values()].sort((a, b) => byteCompare(a.tier.name, b.tier.name));
  for (const t of [...ordered, ...rest]) t.policies.sort(comparePolicies);
  return [...ordered, ...rest];
}
