/**
 * WorkloadEndpoint (informational for a router: local workloads, calico-semantics.md §5.11).
 * Orchestrator bookkeeping fields are accepted and type-checked but carry no meaning here.
 */
import type { WorkloadEndpoint } from './resources';
import { CFG } from './issue-codes';
import { Checker, checkFields, describe, isRecord, readList, readMap, readString } from './validate-context';
import { readEndpointPorts, readInterfaceName, readNameField, readProfileRefs } from './validate-endpoint-parts';
import { readEnvelope } from './validate-metadata';
import { readLenientNets } from './validate-nets';
import { parseIp } from '../net/ip';

const SPEC_FIELDS = [
  'orchestrator',
  'workload',
  'node',
  'containerID',
  'pod',
  'endpoint',
  'serviceAccountName',
  'ipNetworks',
  'ipNATs',
  'ipv4Gateway',
  'ipv6Gateway',
  'profiles',
  'interfaceName',
  'mac',
  'ports',
  'allowSpoofedSourcePrefixes',
  'qosControls',
];

export function validateWorkloadEndpoint(
  c: Checker,
  value: Record<string, unknown>,
): { name: string | undefined; namespace: string; resource: WorkloadEndpoint | undefined } {
  const { meta, spec } = readEnvelope(c, value, 'WorkloadEndpoint', 'subdomain');
  // calicoctl puts a WorkloadEndpoint without a namespace into "default".
  const namespace = meta.namespace ?? 'default';
  if (spec === null) return { name: meta.name, namespace, resource: undefined };
  checkFields(c, spec, ['spec'], SPEC_FIELDS, 'WorkloadEndpoint spec');

  const node = readNameField(c, spec, 'node');
  const orchestrator = readNameField(c, spec, 'orchestrator');
  for (const key of ['workload', 'pod', 'endpoint', 'serviceAccountName']) readNameField(c, spec, key);
  const containerID = readString(c, spec, ['spec'], 'containerID');
  if (typeof containerID === 'string' && containerID !== '' && !/^[a-zA-Z0-9]([-a-zA-Z0-9]*[a-zA-Z0-9])?$/.test(containerID)) {
    c.error(['spec', 'containerID'], CFG.INVALID_VALUE, `invalid containerID "${containerID}"`);
  }
  const interfaceName = readInterfaceName(c, spec, false);
  const ipNetworks = readLenientNets(c, spec, ['spec'], 'ipNetworks', { strictHostBits: true });
  const profiles = readProfileRefs(c, spec);
  const ports = readEndpointPorts(c, spec, true);
  for (const [key, family] of [['ipv4Gateway', 4], ['ipv6Gateway', 6]] as const) {
    const gw = readString(c, spec, ['spec'], key);
    if (typeof gw === 'string' && gw !== '' && parseIp(gw)?.family !== family) {
      c.error(['spec', key], CFG.IP_ADDRESS, `invalid ${key} "${gw}": expected an IPv${family} address`);
    }
  }
  readString(c, spec, ['spec'], 'mac');
  readLenientNets(c, spec, ['spec'], 'allowSpoofedSourcePrefixes');
  readMap(c, spec, ['spec'], 'qosControls');
  const nats = readList(c, spec, ['spec'], 'ipNATs');
  nats?.forEach((nat, i) => {
    if (!isRecord(nat)) {
      c.error(['spec', 'ipNATs', i], CFG.TYPE, `an ipNATs entry must be a map with internalIP and externalIP, found ${describe(nat)}`);
      return;
    }
    checkFields(c, nat, ['spec', 'ipNATs', i], ['internalIP', 'externalIP'], 'an ipNATs entry');
    for (const key of ['internalIP', 'externalIP']) {
      const ip = readString(c, nat, ['spec', 'ipNATs', i], key);
      if (typeof ip === 'string' && ip !== '' && !parseIp(ip)) c.error(['spec', 'ipNATs', i, key], CFG.IP_ADDRESS, `invalid ${key} "${ip}"`);
    }
  });

  if (c.errorCount > 0 || meta.name === undefined || node === null || interfaceName === null || !ipNetworks || !profiles || !ports) {
    return { name: meta.name, namespace, resource: undefined };
  }
  return {
    name: meta.name,
    namespace,
    resource: {
      kind: 'WorkloadEndpoint',
      name: meta.name,
      namespace,
      labels: meta.labels,
      node: node ?? '',
      interfaceName,
      ipNetworks,
      profiles,
      ports,
      // Felix gives every WEP the implicit label projectcalico.org/orchestrator (§2.4).
      ...(orchestrator ? { orchestrator } : {}),
      origin: { location: c.at([]) },
    },
  };
}
