/**
 * The seed scenario's topology as network namespaces, and the exact commands that build it.
 *
 *   <p>-app (eth0 10.10.0.2) ── eth0 ┐                ┌ eth1 ── (eth0 10.20.0.2) <p>-maint
 *     application network           <p>-router (forwarding)     maintenance network
 *                                    └ cali1 ── (eth0 10.65.0.2) <p>-wl   local workload
 *
 * Everything is created inside namespaces the lab owns: veth pairs are born with each end already
 * in its namespace (`ip -n R link add ... peer ... netns X`), so the host's own network is never
 * touched. Pure: nothing here runs a command.
 */

export const DEFAULT_LAB_PREFIX = 'nfqw';

export interface LabNames {
  prefix: string;
  router: string;
  app: string;
  maint: string;
  workload: string;
}

/** The lab's namespaces, in the order they are created. */
export function labNames(prefix: string): LabNames {
  return {
    prefix,
    router: `${prefix}-router`,
    app: `${prefix}-app`,
    maint: `${prefix}-maint`,
    workload: `${prefix}-wl`,
  };
}

export function labNamespaces(names: LabNames): string[] {
  return [names.router, names.app, names.maint, names.workload];
}

/** Addresses of the seed topology; the same in every lab (namespaces keep labs apart). */
export const LAB_ADDRESSES = {
  router: {
    eth0: { v4: '10.10.0.1', v6: 'fd10:10::1' },
    eth1: { v4: '10.20.0.1', v6: 'fd10:20::1' },
  },
  app: { v4: '10.10.0.2', v6: 'fd10:10::2' },
  maint: { v4: '10.20.0.2', v6: 'fd10:20::2' },
  workload: { v4: '10.65.0.2', v6: 'fd10:65::2' },
  /** Calico gives every workload veth this MAC on the host side... */
  caliMac: 'ee:ee:ee:ee:ee:ee',
  /** ...so the workload's IPv6 gateway is the link-local address derived from it. */
  caliLinkLocal: 'fe80::ecee:eeff:feee:eeee',
} as const;

/** Interface names inside the router namespace. */
export const ROUTER_INTERFACES = { application: 'eth0', maintenance: 'eth1', workload: 'cali1' } as const;

/** The optional DNAT of the preDNAT tests: router 10.10.0.1:8080 -> maint 10.20.0.2:80. */
export const LAB_DNAT = { table: 'lab_dnat', address: '10.10.0.1', port: 8080, toAddress: '10.20.0.2', toPort: 80 } as const;

/** Why `prefix` cannot name a lab, or undefined when it can. */
export function labPrefixProblem(prefix: string): string | undefined {
  // Short and plain: namespace names end up in /run/netns and in commands.
  if (!/^[a-z][a-z0-9]{0,11}$/.test(prefix)) {
    return `lab name "${prefix}" must be 1-12 lowercase letters or digits, starting with a letter`;
  }
  return undefined;
}

/** One step of building the lab: a command, or a file fed to `nft -f -` inside a namespace. */
export interface LabStep {
  argv: string[];
  input?: string;
}

export interface LabUpOptions {
  /** Install the DNAT rule for preDNAT tests. */
  dnat?: boolean;
}

function inNs(ns: string, ...argv: string[]): string[] {
  return ['ip', 'netns', 'exec', ns, ...argv];
}

function sysctl(ns: string, ...settings: string[]): LabStep {
  return { argv: inNs(ns, 'sysctl', '-q', '-w', ...settings) };
}

/** The namespaces must not exist yet; every step after the first four runs inside one of them. */
export function labUpSteps(names: LabNames, options: LabUpOptions = {}): LabStep[] {
  const a = LAB_ADDRESSES;
  const { router: r, app, maint, workload: wl } = names;
  const steps: LabStep[] = labNamespaces(names).map((ns) => ({ argv: ['ip', 'netns', 'add', ns] }));
  for (const ns of labNamespaces(names)) {
    // Before any interface exists, so new interfaces inherit it: no DAD means IPv6 works at once.
    steps.push(sysctl(ns, 'net.ipv6.conf.all.accept_dad=0', 'net.ipv6.conf.default.accept_dad=0'));
  }
  // IPv4 settings of a new namespace are copied from the host's: set what the lab relies on.
  steps.push(sysctl(r, 'net.ipv4.ip_forward=1', 'net.ipv6.conf.all.forwarding=1'));
  steps.push(
    { argv: ['ip', '-n', r, 'link', 'add', 'eth0', 'type', 'veth', 'peer', 'name', 'eth0', 'netns', app] },
    { argv: ['ip', '-n', r, 'link', 'add', 'eth1', 'type', 'veth', 'peer', 'name', 'eth0', 'netns', maint] },
    { argv: ['ip', '-n', r, 'link', 'add', 'cali1', 'type', 'veth', 'peer', 'name', 'eth0', 'netns', wl] },
    { argv: ['ip', '-n', r, 'link', 'set', 'cali1', 'address', a.caliMac] },
  );
  const addr = (ns: string, cidr: string, dev: string, v6: boolean): LabStep => ({
    argv: ['ip', '-n', ns, 'addr', 'add', cidr, 'dev', dev, ...(v6 ? ['nodad'] : [])],
  });
  steps.push(
    addr(r, `${a.router.eth0.v4}/24`, 'eth0', false),
    addr(r, `${a.router.eth0.v6}/64`, 'eth0', true),
    addr(r, `${a.router.eth1.v4}/24`, 'eth1', false),
    addr(r, `${a.router.eth1.v6}/64`, 'eth1', true),
    addr(app, `${a.app.v4}/24`, 'eth0', false),
    addr(app, `${a.app.v6}/64`, 'eth0', true),
    addr(maint, `${a.maint.v4}/24`, 'eth0', false),
    addr(maint, `${a.maint.v6}/64`, 'eth0', true),
    // Calico style: the workload owns a /32 and the host side carries no address.
    addr(wl, `${a.workload.v4}/32`, 'eth0', false),
    addr(wl, `${a.workload.v6}/128`, 'eth0', true),
  );
  for (const ns of labNamespaces(names)) {
    const devs = ns === r ? ['lo', 'eth0', 'eth1', 'cali1'] : ['lo', 'eth0'];
    for (const dev of devs) steps.push({ argv: ['ip', '-n', ns, 'link', 'set', dev, 'up'] });
  }
  steps.push(
    { argv: ['ip', '-n', app, 'route', 'add', 'default', 'via', a.router.eth0.v4] },
    { argv: ['ip', '-n', app, '-6', 'route', 'add', 'default', 'via', a.router.eth0.v6] },
    { argv: ['ip', '-n', maint, 'route', 'add', 'default', 'via', a.router.eth1.v4] },
    { argv: ['ip', '-n', maint, '-6', 'route', 'add', 'default', 'via', a.router.eth1.v6] },
    // Router side of the workload: host routes to the workload and proxy ARP (as Calico does).
    { argv: ['ip', '-n', r, 'route', 'add', `${a.workload.v4}/32`, 'dev', 'cali1'] },
    { argv: ['ip', '-n', r, '-6', 'route', 'add', `${a.workload.v6}/128`, 'dev', 'cali1'] },
    sysctl(r, 'net.ipv4.conf.cali1.proxy_arp=1'),
    // The router has no default route, so Calico's 169.254.1.1 gateway would get no proxy-ARP
    // answer; an on-link default makes the workload ARP for each destination instead.
    { argv: ['ip', '-n', wl, 'route', 'add', 'default', 'dev', 'eth0'] },
    { argv: ['ip', '-n', wl, '-6', 'route', 'add', 'default', 'via', a.caliLinkLocal, 'dev', 'eth0'] },
  );
  if (options.dnat) steps.push({ argv: inNs(r, 'nft', '-f', '-'), input: dnatRuleset() });
  return steps;
}

/** The lab's own nat table (native nft: NAT needs no queue expression). */
export function dnatRuleset(): string {
  const d = LAB_DNAT;
  return [
    `table ip ${d.table} {`,
    '  chain prerouting {',
    '    type nat hook prerouting priority dstnat; policy accept;',
    `    ip daddr ${d.address} tcp dport ${d.port} dnat to ${d.toAddress}:${d.toPort}`,
    '  }',
    '}',
    '',
  ].join('\n');
}
