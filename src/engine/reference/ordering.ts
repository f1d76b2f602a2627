/**
 * Evaluation order of tiers (§4.1) and of policies inside a tier (§4.2).
 */
import type { GlobalNetworkPolicy, Tier } from '../../config/resources';

/** Byte-wise comparison of the UTF-8 encodings (Go's string `<`), -1/0/1. */
export function compareBytes(a: string, b: string): number {
  const x = Buffer.from(a, 'utf8');
  const y = Buffer.from(b, 'utf8');
  return Buffer.compare(x, y);
}

/** Compare two optional orders: present before absent (absent = +infinity), then ascending. */
function compareOrder(a: number | undefined, b: number | undefined): number {
  if (a === undefined && b === undefined) return 0;
  if (a === undefined) return 1;
  if (b === undefined) return -1;
  return a < b ? -1 : a > b ? 1 : 0;
}

/**
 * A tier as the evaluator uses it. `known` is false for a tier that a policy names but that has
 * no Tier object: Felix sorts such tiers after all others and treats them as `Deny` (§4.1).
 */
export interface TierInfo {
  name: string;
  order?: number;
  defaultAction: 'Deny' | 'Pass';
  known: boolean;
}

/** §4.1: known tiers first; then numeric order ascending, unordered last; ties by name byte-wise. */
export function compareTiers(a: TierInfo, b: TierInfo): number {
  if (a.known !== b.known) return a.known ? -1 : 1;
  const byOrder = compareOrder(a.order, b.order);
  if (byOrder !== 0) return byOrder;
  return compareBytes(a.name, b.name);
}

/** Every tier that exists or that some policy names, in evaluation order. */
export function orderedTiers(tiers: readonly Tier[], policies: readonly GlobalNetworkPolicy[]): TierInfo[] {
  const byName = new Map<string, TierInfo>();
  for (const t of tiers) {
    const info: TierInfo = { name: t.name, defaultAction: t.defaultAction === 'Pass' ? 'Pass' : 'Deny', known: true };
    if (t.order !== undefined) info.order = t.order;
    byName.set(t.name, info);
  }
  for (const p of policies) {
    if (!byName.has(p.tier)) byName.set(p.tier, { name: p.tier, defaultAction: 'Deny', known: false });
  }
  return [...byName.values()].sort(compareTiers);
}

/** The tie-break key of a GlobalNetworkPolicy: `name/namespace/kind` with an empty namespace (§4.2). */
export function policySortKey(p: GlobalNetworkPolicy): string {
  return `${p.name}//GlobalNetworkPolicy`;
}

/** §4.2: order ascending (absent = +infinity), then the key of `policySortKey` byte-wise. */
export function comparePolicies(a: GlobalNetworkPolicy, b: GlobalNetworkPolicy): number {
  const byOrder = compareOrder(a.order, b.order);
  if (byOrder !== 0) return byOrder;
  return compareBytes(policySortKey(a), policySortKey(b));
}
