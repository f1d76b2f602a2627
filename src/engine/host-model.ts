/**
 * The host model: what the engine needs to know about the machine it guards.
 *
 * The daemon fills it from the live system; offline tools read it from YAML in the shape of an
 * `envs` entry of the conformance cases (see host-model-load.ts).
 */
import type { FailsafePort } from '../config/resources';

export interface HostInterface {
  name: string;
  /** Addresses with the prefix of the connected network, e.g. "10.0.1.1/24". */
  addresses: string[];
  /** Extra networks routed through this interface, e.g. "10.0.2.0/24". */
  routes: string[];
  /** A local workload's veth (a WorkloadEndpoint may govern it). */
  workload: boolean;
}

export interface NatRule {
  type: 'masquerade' | 'snat' | 'dnat';
  source?: string;
  outInterface?: string;
  /** For dnat: original destination and port, and the translation. */
  destination?: string;
  port?: number;
  toAddress?: string;
  toPort?: number;
  protocol?: string;
}

export type UnmanagedVerdict = 'accept' | 'drop';

export interface HostModel {
  /** This host's node name: only HEPs with `spec.node` equal to it are enforced. */
  node: string;
  interfaces: HostInterface[];
  /** Interfaces whose name starts with this are workload interfaces (default "cali"). */
  workloadInterfacePrefix: string;
  ipForward: boolean;
  nat: NatRule[];
  /** Host-level failsafe defaults; a FelixConfiguration resource overrides them. */
  failsafeInboundHostPorts?: FailsafePort[];
  failsafeOutboundHostPorts?: FailsafePort[];
  /** What happens where Calico renders no verdict (host base policy). Default accept. */
  unmanagedVerdict: UnmanagedVerdict;
}

/** Is `name` a local workload interface (by flag or by prefix)? */
export function isWorkloadInterface(host: HostModel, name: string): boolean {
  const iface = host.interfaces.find((i) => i.name === name);
  if (iface?.workload) return true;
  return host.workloadInterfacePrefix.length > 0 && name.startsWith(host.workloadInterfacePrefix);
}
