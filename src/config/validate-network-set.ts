/** GlobalNetworkSet (calico-semantics.md §1.6): CIDRs or bare IPs, host bits normalised, families may mix. */
import type { GlobalNetworkSet } from './resources';
import { CFG } from './issue-codes';
import { Checker, checkFields } from './validate-context';
import { readEnvelope } from './validate-metadata';
import { readLenientNets } from './validate-nets';

/** Calico reserves this label for namespaced objects; on a global set it would fake a namespace. */
const NAMESPACE_LABEL = 'projectcalico.org/namespace';

export function validateNetworkSet(c: Checker, value: Record<string, unknown>): { name: string | undefined; resource: GlobalNetworkSet | undefined } {
  const { meta, spec } = readEnvelope(c, value, 'GlobalNetworkSet', 'subdomain');
  if (spec === null) return { name: meta.name, resource: undefined };
  if (Object.hasOwn(meta.labels, NAMESPACE_LABEL)) {
    c.error(['metadata', 'labels', NAMESPACE_LABEL], CFG.RESERVED_LABEL, `${NAMESPACE_LABEL} is not a valid label name (Calico reserves it)`, { key: true });
  }
  checkFields(c, spec, ['spec'], ['nets'], 'GlobalNetworkSet spec');
  const nets = readLenientNets(c, spec, ['spec'], 'nets');
  if (c.errorCount > 0 || meta.name === undefined || !nets) return { name: meta.name, resource: undefined };
  return {
    name: meta.name,
    resource: { kind: 'GlobalNetworkSet', name: meta.name, labels: meta.labels, nets: [...new Set(nets)], origin: { location: c.at([]) } },
  };
}
