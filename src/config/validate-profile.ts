/**
 * Profile (calico-semantics.md §1.8). `projectcalico-default-allow` is built in: writing it is
 * accepted only with its built-in content (one Allow rule per direction, no labels).
 */
import type { Profile, Rule } from './resources';
import { DEFAULT_ALLOW_PROFILE } from './resources';
import { CFG } from './issue-codes';
import { Checker, checkFields } from './validate-context';
import { readEnvelope, readLabels } from './validate-metadata';
import { readRules } from './validate-rule';

export function validateProfile(c: Checker, value: Record<string, unknown>): { name: string | undefined; resource: Profile | undefined } {
  const { meta, spec } = readEnvelope(c, value, 'Profile', 'subdomain');
  if (spec === null) return { name: meta.name, resource: undefined };
  checkFields(c, spec, ['spec'], ['ingress', 'egress', 'labelsToApply'], 'Profile spec');
  const ingress = readRules(c, spec, 'ingress');
  const egress = readRules(c, spec, 'egress');
  const labelsToApply = readLabels(c, spec, ['spec'], 'labelsToApply');

  if (meta.name === DEFAULT_ALLOW_PROFILE && ingress && egress && !(isAllowAll(ingress) && isAllowAll(egress) && Object.keys(labelsToApply).length === 0)) {
    c.error(
      ['metadata', 'name'],
      CFG.BUILTIN_PROFILE,
      `${DEFAULT_ALLOW_PROFILE} is built in (one Allow rule per direction) and cannot be changed; define a profile with another name`,
    );
  }

  if (c.errorCount > 0 || meta.name === undefined || !ingress || !egress) return { name: meta.name, resource: undefined };
  return { name: meta.name, resource: { kind: 'Profile', name: meta.name, ingress, egress, labelsToApply, origin: { location: c.at([]) } } };
}

/** Exactly one rule `{action: Allow}` with no match criteria. */
function isAllowAll(rules: Rule[]): boolean {
  if (rules.length !== 1) return false;
  const r = rules[0]!;
  const emptySide = (e: Rule['source']): boolean =>
    e.nets.length + e.notNets.length + e.ports.length + e.notPorts.length === 0 && e.selector === '' && e.notSelector === '' && e.namespaceSelector === '';
  return (
    r.action === 'Allow' &&
    r.ipVersion === undefined &&
    r.protocol === undefined &&
    r.notProtocol === undefined &&
    r.icmp === undefined &&
    r.notICMP === undefined &&
    emptySide(r.source) &&
    emptySide(r.destination)
  );
}
