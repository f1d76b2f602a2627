/** HostEndpoint (calico-semantics.md §1.1). Missing profiles are checked across documents (validate.ts). */
import type { HostEndpoint } from './resources';
import { CFG } from './issue-codes';
import { Checker, checkFields, own } from './validate-context';
import { readEndpointPorts, readInterfaceName, readNameField, readProfileRefs } from './validate-endpoint-parts';
import { readEnvelope } from './validate-metadata';
import { readPlainIps } from './validate-nets';

const SPEC_FIELDS = ['node', 'interfaceName', 'expectedIPs', 'profiles', 'ports'];

export function validateHostEndpoint(c: Checker, value: Record<string, unknown>): { name: string | undefined; resource: HostEndpoint | undefined } {
  const { meta, spec } = readEnvelope(c, value, 'HostEndpoint', 'subdomain');
  if (spec === null) return { name: meta.name, resource: undefined };
  checkFields(c, spec, ['spec'], SPEC_FIELDS, 'HostEndpoint spec');

  const node = readNameField(c, spec, 'node');
  if (node === undefined) {
    c.error(['spec', 'node'], CFG.REQUIRED, 'node must be specified: the name of the host this endpoint belongs to (policy is enforced only on that node)');
  }
  const interfaceName = readInterfaceName(c, spec, true);
  const expectedIPs = readPlainIps(c, spec, ['spec'], 'expectedIPs');
  if (interfaceName === '' && expectedIPs !== null && expectedIPs.length === 0) {
    c.error(
      own(spec, 'interfaceName') !== undefined ? ['spec', 'interfaceName'] : ['spec'],
      CFG.HEP_NO_INTERFACE,
      'at least one of interfaceName or expectedIPs must be specified',
    );
  }
  const profiles = readProfileRefs(c, spec);
  const ports = readEndpointPorts(c, spec, false);

  if (c.errorCount > 0 || meta.name === undefined || typeof node !== 'string' || interfaceName === null || !expectedIPs || !profiles || !ports) {
    return { name: meta.name, resource: undefined };
  }
  return {
    name: meta.name,
    resource: {
      kind: 'HostEndpoint',
      name: meta.name,
      labels: meta.labels,
      node,
      interfaceName,
      expectedIPs,
      profiles,
      ports,
      origin: { location: c.at([]) },
    },
  };
}
