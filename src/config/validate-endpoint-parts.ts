/** Fields HostEndpoint and WorkloadEndpoint share: interface names, profiles, named ports. */
import type { EndpointPort } from './resources';
import { CFG } from './issue-codes';
import { Checker, checkFields, describe, isRecord, own, readInt, readList, readString, readStringList, shown } from './validate-context';
import { isSubdomain } from './validate-metadata';
import { normaliseCidr } from './validate-nets';
import { portNameProblems } from './validate-ports';
import type { FieldPath } from './yaml-source';

const INTERFACE_RE = /^[a-zA-Z0-9_.-]{1,15}$/;

/** interfaceName: '' when absent; '*' only where allowed (HostEndpoint). null when invalid. */
export function readInterfaceName(c: Checker, spec: Record<string, unknown>, allowWildcard: boolean): string | null {
  const name = readString(c, spec, ['spec'], 'interfaceName');
  if (name === undefined || name === '') return '';
  if (name === null) return null;
  if ((allowWildcard && name === '*') || INTERFACE_RE.test(name)) return name;
  c.error(
    ['spec', 'interfaceName'],
    CFG.INTERFACE_NAME,
    `invalid interfaceName "${name}": use ${allowWildcard ? '"*" (all interfaces) or ' : ''}1-15 characters of letters, digits, '_', '.' or '-'`,
  );
  return null;
}

/** spec.profiles: resource names. null when some entry is invalid. */
export function readProfileRefs(c: Checker, spec: Record<string, unknown>): string[] | null {
  const list = readStringList(c, spec, ['spec'], 'profiles');
  if (list === undefined) return [];
  if (list === null) return null;
  let ok = true;
  list.forEach((p, i) => {
    if (!isSubdomain(p)) {
      ok = false;
      c.error(['spec', 'profiles', i], CFG.NAME, `invalid profile name "${p}": profile names are lower case alphanumeric characters, '-' or '.'`);
    }
  });
  return ok ? list : null;
}

/** An optional name-like string field (node, orchestrator, ...), checked as a DNS subdomain. */
export function readNameField(c: Checker, spec: Record<string, unknown>, key: string): string | null | undefined {
  const v = readString(c, spec, ['spec'], key);
  if (typeof v !== 'string' || v === '') return v === '' ? undefined : v;
  if (!isSubdomain(v)) {
    c.error(['spec', key], CFG.NAME, `invalid ${key} "${v}": must consist of lower case alphanumeric characters, '-' or '.', and start and end with an alphanumeric character`);
    return null;
  }
  return v;
}

const PORT_PROTOCOLS: Readonly<Record<string, EndpointPort['protocol']>> = { tcp: 'TCP', udp: 'UDP', sctp: 'SCTP', '6': 'TCP', '17': 'UDP', '132': 'SCTP' };

/**
 * spec.ports (named ports, §1.1 / §3.5). For WorkloadEndpoints a port may lack a name (a bare
 * hostPort mapping) — such entries cannot be referenced by rules and are left out.
 */
export function readEndpointPorts(c: Checker, spec: Record<string, unknown>, workload: boolean): EndpointPort[] | null {
  const list = readList(c, spec, ['spec'], 'ports');
  if (list === undefined) return [];
  if (list === null) return null;
  const out: EndpointPort[] = [];
  let ok = true;
  list.forEach((raw, i) => {
    const path: FieldPath = ['spec', 'ports', i];
    if (!isRecord(raw)) {
      ok = false;
      c.error(path, CFG.TYPE, `a port must be a map with name, protocol and port, found ${describe(raw)}`);
      return;
    }
    checkFields(c, raw, path, workload ? ['name', 'protocol', 'port', 'hostPort', 'hostIP'] : ['name', 'protocol', 'port'], 'an endpoint port');
    const before = c.errorCount;
    const name = readString(c, raw, path, 'name');
    if (name === undefined || name === '') {
      if (!workload) c.error(path, CFG.ENDPOINT_PORT, 'port name is required (rules refer to endpoint ports by name)');
    } else if (name !== null) {
      const problems = portNameProblems(name);
      if (problems.length > 0) c.error([...path, 'name'], CFG.ENDPOINT_PORT, `invalid port name "${name}": a port name ${problems.join('; ')}`);
    }
    const proto = own(raw, 'protocol');
    const protocol = typeof proto === 'string' || typeof proto === 'number' ? PORT_PROTOCOLS[String(proto).toLowerCase()] : undefined;
    if (proto === undefined || proto === null) c.error(path, CFG.ENDPOINT_PORT, 'port protocol is required: TCP, UDP or SCTP');
    else if (!protocol) c.error([...path, 'protocol'], CFG.ENDPOINT_PORT, `EndpointPort protocol does not support ports: ${shown(proto)} (use TCP, UDP or SCTP)`);
    const port = readInt(c, raw, path, 'port', 1, 65535, CFG.ENDPOINT_PORT);
    if (port === undefined) c.error(path, CFG.ENDPOINT_PORT, 'port number is required (1-65535)');
    if (workload) {
      readInt(c, raw, path, 'hostPort', 0, 65535, CFG.ENDPOINT_PORT);
      const hostIP = readString(c, raw, path, 'hostIP');
      if (typeof hostIP === 'string' && hostIP !== '' && !normaliseCidr(hostIP)) {
        c.error([...path, 'hostIP'], CFG.IP_ADDRESS, `invalid hostIP "${hostIP}"`);
      }
    }
    if (c.errorCount > before) {
      ok = false;
      return;
    }
    if (typeof name === 'string' && name !== '' && protocol && typeof port === 'number') out.push({ name, protocol, port });
  });
  return ok ? out : null;
}
