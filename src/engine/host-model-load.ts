/**
 * Host model from plain data (a YAML file for offline tools, or an `envs` entry of the conformance
 * cases). Pure: the caller reads the file.
 */
import type { FailsafePort } from '../config/resources';
import { parseCidr } from '../net/ip';
import type { HostInterface, HostModel, NatRule } from './host-model';

export type HostModelResult = { ok: true; host: HostModel } | { ok: false; errors: string[] };

const TOP = new Set([
  'node', 'interfaces', 'workloadInterfacePrefix', 'ipForward', 'nat', 'failsafeInboundHostPorts',
  'failsafeOutboundHostPorts', 'implicitResources', 'unmanagedVerdict', 'description',
]);
const IFACE = new Set(['name', 'addresses', 'routes', 'workload', 'role', 'description']);

/** "tcp:22", "udp:10.0.0.0/8:53", "tcp:[fd00::/8]:22", or {protocol, port, net}. */
export function parseFailsafeEntry(v: unknown): FailsafePort | null {
  if (typeof v === 'string') {
    const m = /^(tcp|udp):(?:(\[[^\]]+\]|[^:]+):)?(\d{1,5})$/i.exec(v);
    if (!m) return null;
    const port = Number(m[3]);
    if (port < 1 || port > 65535) return null;
    const net = m[2] ? m[2].replace(/^\[|\]$/g, '') : undefined;
    if (net !== undefined && !parseCidr(net, true)) return null;
    return net === undefined ? { protocol: m[1]!.toLowerCase() as 'tcp' | 'udp', port } : { protocol: m[1]!.toLowerCase() as 'tcp' | 'udp', port, net };
  }
  if (typeof v === 'object' && v !== null) {
    const o = v as Record<string, unknown>;
    const proto = typeof o.protocol === 'string' ? o.protocol.toLowerCase() : 'tcp';
    if ((proto !== 'tcp' && proto !== 'udp') || typeof o.port !== 'number' || o.port < 1 || o.port > 65535) return null;
    if (o.net !== undefined && (typeof o.net !== 'string' || !parseCidr(o.net, true))) return null;
    return typeof o.net === 'string' ? { protocol: proto, port: o.port, net: o.net } : { protocol: proto, port: o.port };
  }
  return null;
}

export function hostModelFromData(data: unknown): HostModelResult {
  const errors: string[] = [];
  if (typeof data !== 'object' || data === null || Array.isArray(data)) return { ok: false, errors: ['host model: must be a mapping'] };
  const o = data as Record<string, unknown>;
  for (const k of Object.keys(o)) if (!TOP.has(k)) errors.push(`${k}: unknown field`);
  if (typeof o.node !== 'string' || o.node === '') errors.push('node: required (this host\'s Calico node name)');
  const interfaces: HostInterface[] = [];
  if (!Array.isArray(o.interfaces)) errors.push('interfaces: required list');
  else
    o.interfaces.forEach((raw, i) => {
      if (typeof raw !== 'object' || raw === null) return void errors.push(`interfaces[${i}]: must be a mapping`);
      const it = raw as Record<string, unknown>;
      for (const k of Object.keys(it)) if (!IFACE.has(k)) errors.push(`interfaces[${i}].${k}: unknown field`);
      if (typeof it.name !== 'string' || it.name === '') errors.push(`interfaces[${i}].name: required`);
      const list = (field: 'addresses' | 'routes'): string[] => {
        const v = it[field];
        if (v === undefined || v === null) return [];
        if (!Array.isArray(v)) return errors.push(`interfaces[${i}].${field}: must be a list`), [];
        return v.filter((a, j) => {
          const ok = typeof a === 'string' && parseCidr(a, true) !== null;
          if (!ok) errors.push(`interfaces[${i}].${field}[${j}]: ${String(a)} is not an address or CIDR`);
          return ok;
        }) as string[];
      };
      interfaces.push({ name: String(it.name), addresses: list('addresses'), routes: list('routes'), workload: it.workload === true });
    });
  const failsafe = (field: 'failsafeInboundHostPorts' | 'failsafeOutboundHostPorts'): FailsafePort[] | undefined => {
    const v = o[field];
    if (v === undefined) return undefined;
    if (!Array.isArray(v)) return errors.push(`${field}: must be a list`), undefined;
    const out: FailsafePort[] = [];
    v.forEach((e, i) => {
      const p = parseFailsafeEntry(e);
      if (p) out.push(p);
      else errors.push(`${field}[${i}]: ${JSON.stringify(e)} is not a failsafe entry (tcp:22, udp:10.0.0.0/8:53, {protocol, port, net})`);
    });
    return out;
  };
  const unmanaged = o.unmanagedVerdict ?? 'accept';
  if (unmanaged !== 'accept' && unmanaged !== 'drop') errors.push('unmanagedVerdict: must be accept or drop');
  const nat: NatRule[] = Array.isArray(o.nat) ? (o.nat as NatRule[]) : [];
  const inbound = failsafe('failsafeInboundHostPorts');
  const outbound = failsafe('failsafeOutboundHostPorts');
  if (errors.length > 0) return { ok: false, errors };
  const host: HostModel = {
    node: o.node as string,
    interfaces,
    workloadInterfacePrefix: typeof o.workloadInterfacePrefix === 'string' ? o.workloadInterfacePrefix : 'cali',
    ipForward: o.ipForward !== false,
    nat,
    unmanagedVerdict: unmanaged as 'accept' | 'drop',
  };
  if (inbound) host.failsafeInboundHostPorts = inbound;
  if (outbound) host.failsafeOutboundHostPorts = outbound;
  return { ok: true, host };
}
