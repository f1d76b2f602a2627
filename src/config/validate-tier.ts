/**
 * Tier (calico-semantics.md §1.7). The reserved tiers must carry their fixed order and default
 * action; `default` always exists (validate.ts adds it when no file defines it).
 */
import type { Tier } from './resources';
import { DEFAULT_TIER_NAME, DEFAULT_TIER_ORDER } from './resources';
import { CFG } from './issue-codes';
import { Checker, checkFields, own, readNumber, shown } from './validate-context';
import { readEnvelope } from './validate-metadata';

/** Reserved tiers: fixed order and default action (CEL rules on the Tier type). */
export const RESERVED_TIERS: Readonly<Record<string, { order: number; defaultAction: Tier['defaultAction'] }>> = {
  [DEFAULT_TIER_NAME]: { order: DEFAULT_TIER_ORDER, defaultAction: 'Deny' },
  'kube-admin': { order: 1000, defaultAction: 'Pass' },
  'kube-baseline': { order: 10_000_000, defaultAction: 'Pass' },
};

export function validateTier(c: Checker, value: Record<string, unknown>): { name: string | undefined; resource: Tier | undefined } {
  const { meta, spec } = readEnvelope(c, value, 'Tier', 'tier');
  if (spec === null) return { name: meta.name, resource: undefined };
  checkFields(c, spec, ['spec'], ['order', 'defaultAction'], 'Tier spec');
  const order = readNumber(c, spec, ['spec'], 'order');
  const raw = own(spec, 'defaultAction');
  let defaultAction: Tier['defaultAction'] | null = 'Deny'; // CRD default
  if (raw !== undefined && raw !== null) {
    if (raw === 'Deny' || raw === 'Pass') defaultAction = raw;
    else {
      const near = typeof raw === 'string' ? ['Deny', 'Pass'].find((a) => a.toLowerCase() === raw.toLowerCase()) : undefined;
      c.error(
        ['spec', 'defaultAction'],
        CFG.TIER_DEFAULT_ACTION,
        near ? `invalid defaultAction "${String(raw)}": values are case-sensitive; use ${near}` : `invalid defaultAction ${shown(raw)}: must be Deny or Pass`,
      );
      defaultAction = null;
    }
  }

  const reserved = meta.name !== undefined && Object.hasOwn(RESERVED_TIERS, meta.name) ? RESERVED_TIERS[meta.name] : undefined;
  if (reserved && meta.name !== undefined) {
    if (order !== null && order !== reserved.order) {
      c.error(own(spec, 'order') !== undefined ? ['spec', 'order'] : ['spec'], CFG.TIER_RESERVED, `${meta.name} tier order must be ${reserved.order}`);
    }
    if (defaultAction !== null && defaultAction !== reserved.defaultAction) {
      c.error(
        own(spec, 'defaultAction') !== undefined ? ['spec', 'defaultAction'] : ['spec'],
        CFG.TIER_RESERVED,
        `The '${meta.name}' tier must have default action '${reserved.defaultAction}'`,
      );
    }
  }

  if (c.errorCount > 0 || meta.name === undefined || order === null || defaultAction === null) return { name: meta.name, resource: undefined };
  const tier: Tier = { kind: 'Tier', name: meta.name, defaultAction, origin: { location: c.at([]) } };
  if (order !== undefined) tier.order = order;
  return { name: meta.name, resource: tier };
}
