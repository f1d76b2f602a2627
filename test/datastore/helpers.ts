/** Shared pieces of the datastore tests: captured command output, resource texts, bounded waits. */
import { compilePolicy } from '../../src/engine';
import { factsFromDescription } from '../../src/engine/packet-description';
import type { HostModel } from '../../src/engine/host-model';
import type { ResourceSet } from '../../src/config';
import type { CommandIo } from '../../tools/commands/apply';

export interface Captured extends CommandIo {
  stdout: string;
  stderr: string;
}

export function capture(stdin = ''): Captured {
  const c: Captured = {
    stdout: '',
    stderr: '',
    out: (t) => void (c.stdout += t),
    err: (t) => void (c.stderr += t),
    stdin: async () => stdin,
  };
  return c;
}

export const TIER_EDGE = `apiVersion: projectcalico.org/v3
kind: Tier
metadata:
  name: edge
spec:
  order: 100
`;

export const hep = (name: string, node: string, iface = 'eth0'): string => `apiVersion: projectcalico.org/v3
kind: HostEndpoint
metadata:
  name: ${name}
  labels:
    role: wan
spec:
  node: ${node}
  interfaceName: ${iface}
`;

/** Allows inbound TCP to `ports` on every HEP labelled role=wan (everything else there is denied). */
export const webPolicy = (ports: number[], name = 'edge.web'): string => `apiVersion: projectcalico.org/v3
kind: GlobalNetworkPolicy
metadata:
  name: ${name}
spec:
  tier: edge
  order: 10
  selector: role == 'wan'
  types: [Ingress]
  ingress:
    - action: Allow
      protocol: TCP
      destination:
        ports: [${ports.join(', ')}]
`;

export const join = (...docs: string[]): string => docs.join('---\n');

/** A router with one uplink eth0. */
export function router(node: string, address: string): HostModel {
  return {
    node,
    interfaces: [{ name: 'eth0', addresses: [address], routes: [], workload: false }],
    workloadInterfacePrefix: 'cali',
    ipForward: true,
    nat: [],
    unmanagedVerdict: 'accept',
  };
}

/** The verdict for TCP from the internet to `dport` on the router's eth0 address. */
export function inboundVerdict(resources: ResourceSet, host: HostModel, dport: number): 'allow' | 'deny' {
  const dst = host.interfaces[0]!.addresses[0]!.split('/')[0]!;
  const f = factsFromDescription({ path: 'local-in', iif: 'eth0', src: '192.0.2.10', dst, proto: 'TCP', sport: 40000, dport });
  if (!f.ok) throw new Error(f.errors.join('; '));
  return compilePolicy(resources, host).judge(f.facts).verdict;
}

/** Poll `check` every 10 ms until it returns a value other than undefined; fail after `timeoutMs`. */
export async function waitFor<T>(what: string, timeoutMs: number, check: () => T | undefined): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = check();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}
