/**
 * `nfqwall lab`: build, inspect and remove the seed topology (see topology.ts) on this machine.
 * Needs root. Only namespaces named `<prefix>-*` are created, inspected or removed.
 */
import { NfqwallError } from '../errors';
import { parseQueueStats, type KernelQueueStats } from '../queue/queue-stats';
import { runChecked, runCommand, type RunOptions } from './run';
import {
  LAB_DNAT,
  labNames,
  labNamespaces,
  labPrefixProblem,
  labUpSteps,
  type LabNames,
  type LabUpOptions,
} from './topology';

function checkedNames(prefix: string): LabNames {
  const problem = labPrefixProblem(prefix);
  if (problem) throw new NfqwallError('NFQ_LAB_BAD_NAME', problem);
  return labNames(prefix);
}

/** Names of the network namespaces that `ip netns` knows. */
export async function listNamespaces(): Promise<Set<string>> {
  const out = await runChecked(['ip', 'netns', 'list']);
  // Lines look like "name" or "name (id: 3)".
  return new Set(out.split('\n').map((l) => l.trim().split(/\s+/)[0] ?? '').filter((n) => n.length > 0));
}

/** Run a command inside namespace `ns`. */
export function runInNamespace(ns: string, argv: readonly string[], options: RunOptions = {}) {
  return runCommand(['ip', 'netns', 'exec', ns, ...argv], options);
}

/**
 * Create the lab. Fails with LAB_EXISTS if any of its namespaces is already there; a failure
 * half-way removes what was created, so a lab is either complete or absent.
 */
export async function labUp(prefix: string, options: LabUpOptions = {}): Promise<LabNames> {
  const names = checkedNames(prefix);
  const existing = await listNamespaces();
  const clash = labNamespaces(names).filter((ns) => existing.has(ns));
  if (clash.length > 0) {
    throw new NfqwallError('NFQ_LAB_EXISTS', `lab "${prefix}" already exists (${clash.join(', ')}); run \`nfqwall lab down --name ${prefix}\` first`);
  }
  try {
    for (const step of labUpSteps(names, options)) {
      await runChecked(step.argv, step.input === undefined ? {} : { input: step.input });
    }
  } catch (err) {
    await labDown(prefix).catch(() => undefined);
    throw err;
  }
  return names;
}

export interface LabDownResult {
  removed: string[];
  /** Processes that were still running inside the lab's namespaces. */
  stoppedPids: number[];
}

/**
 * Remove the lab; removing an absent lab is not an error. Processes still inside its namespaces
 * are stopped first: a namespace with a process in it would outlive `ip netns del`, unnamed.
 */
export async function labDown(prefix: string): Promise<LabDownResult> {
  const names = checkedNames(prefix);
  const existing = await listNamespaces();
  const present = labNamespaces(names).filter((ns) => existing.has(ns));
  const pids: number[] = [];
  for (const ns of present) {
    const r = await runCommand(['ip', 'netns', 'pids', ns]);
    for (const tok of r.stdout.split(/\s+/)) if (/^\d+$/.test(tok)) pids.push(Number(tok));
  }
  await stopPids(pids);
  for (const ns of present) {
    const r = await runCommand(['ip', 'netns', 'del', ns]);
    // Another `down` may have raced us to it; only a namespace that is still there is an error.
    if (r.code !== 0 && (await listNamespaces()).has(ns)) {
      throw new NfqwallError('NFQ_LAB_COMMAND_FAILED', `could not remove namespace ${ns}: ${r.stderr.trim()}`);
    }
  }
  return { removed: present, stoppedPids: pids };
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** SIGTERM, up to 2 s of grace, then SIGKILL. */
async function stopPids(pids: number[]): Promise<void> {
  if (pids.length === 0) return;
  for (const pid of pids) {
    try {
      process.kill(pid, 'SIGTERM');
    } catch {
      // already gone
    }
  }
  for (let i = 0; i < 20 && pids.some(alive); i++) await new Promise((r) => setTimeout(r, 100));
  for (const pid of pids.filter(alive)) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
}

export interface LabInterface {
  name: string;
  state: string;
  /** Global-scope addresses with prefix length, e.g. "10.10.0.1/24". */
  addresses: string[];
}

export interface LabNamespaceStatus {
  role: 'router' | 'app' | 'maint' | 'workload';
  name: string;
  exists: boolean;
  interfaces: LabInterface[];
}

export interface NfqwallRulesStatus {
  /** True when any nfqwall table or chain is installed in the router namespace. */
  present: boolean;
  /** nft tables named like nfqwall ("family name"). */
  tables: string[];
  /** Chains prefixed NFQWALL (the iptables-nft rendering), "family table chain". */
  chains: string[];
  /** Rules anywhere in the router's ruleset that queue packets (nft `queue` or xt NFQUEUE). */
  queueRules: number;
}

export interface LabRouterStatus {
  ipv4Forwarding: boolean;
  ipv6Forwarding: boolean;
  dnat: boolean;
  nfqwall: NfqwallRulesStatus;
  /** Queues bound in the router namespace (/proc/net/netfilter/nfnetlink_queue). */
  queues: KernelQueueStats[];
}

export interface LabStatus {
  prefix: string;
  /** Every namespace of the lab exists. */
  up: boolean;
  namespaces: LabNamespaceStatus[];
  /** Absent when the router namespace does not exist. */
  router?: LabRouterStatus;
}

export async function labStatus(prefix: string): Promise<LabStatus> {
  const names = checkedNames(prefix);
  const existing = await listNamespaces();
  const roles = [
    ['router', names.router],
    ['app', names.app],
    ['maint', names.maint],
    ['workload', names.workload],
  ] as const;
  const namespaces: LabNamespaceStatus[] = [];
  for (const [role, name] of roles) {
    const exists = existing.has(name);
    namespaces.push({ role, name, exists, interfaces: exists ? await interfacesOf(name) : [] });
  }
  const status: LabStatus = { prefix, up: namespaces.every((n) => n.exists), namespaces };
  if (existing.has(names.router)) status.router = await routerStatus(names.router);
  return status;
}

async function interfacesOf(ns: string): Promise<LabInterface[]> {
  const out = await runChecked(['ip', '-j', '-n', ns, 'addr', 'show']);
  const links = JSON.parse(out) as Array<{
    ifname: string;
    operstate?: string;
    addr_info?: Array<{ local: string; prefixlen: number; scope: string }>;
  }>;
  return links
    .filter((l) => l.ifname !== 'lo')
    .map((l) => ({
      name: l.ifname,
      state: l.operstate ?? 'UNKNOWN',
      addresses: (l.addr_info ?? []).filter((a) => a.scope === 'global').map((a) => `${a.local}/${a.prefixlen}`),
    }));
}

async function routerStatus(ns: string): Promise<LabRouterStatus> {
  const sysctl = await runInNamespace(ns, ['sysctl', '-n', 'net.ipv4.ip_forward', 'net.ipv6.conf.all.forwarding']);
  const [v4, v6] = sysctl.stdout.trim().split(/\s+/);
  const ruleset = await runInNamespace(ns, ['nft', '-j', 'list', 'ruleset']);
  const rules = ruleset.code === 0 ? summariseRuleset(ruleset.stdout) : { dnat: false, nfqwall: emptyRulesStatus() };
  const proc = await runInNamespace(ns, ['cat', '/proc/net/netfilter/nfnetlink_queue']);
  return {
    ipv4Forwarding: v4 === '1',
    ipv6Forwarding: v6 === '1',
    dnat: rules.dnat,
    nfqwall: rules.nfqwall,
    queues: proc.code === 0 ? parseQueueStats(proc.stdout) : [],
  };
}

function emptyRulesStatus(): NfqwallRulesStatus {
  return { present: false, tables: [], chains: [], queueRules: 0 };
}

type NftJsonItem = {
  table?: { family: string; name: string };
  chain?: { family: string; table: string; name: string };
  rule?: { expr?: unknown[] };
};

/** Read `nft -j list ruleset` output: the lab's DNAT table and anything nfqwall installed. */
export function summariseRuleset(json: string): { dnat: boolean; nfqwall: NfqwallRulesStatus } {
  const items = (JSON.parse(json) as { nftables?: NftJsonItem[] }).nftables ?? [];
  const nfqwall = emptyRulesStatus();
  let dnat = false;
  for (const item of items) {
    if (item.table) {
      if (item.table.family === 'ip' && item.table.name === LAB_DNAT.table) dnat = true;
      if (/nfqwall/i.test(item.table.name)) nfqwall.tables.push(`${item.table.family} ${item.table.name}`);
    } else if (item.chain) {
      if (/^nfqwall/i.test(item.chain.name)) nfqwall.chains.push(`${item.chain.family} ${item.chain.table} ${item.chain.name}`);
    } else if (item.rule) {
      if ((item.rule.expr ?? []).some(isQueueExpr)) nfqwall.queueRules++;
    }
  }
  nfqwall.present = nfqwall.tables.length > 0 || nfqwall.chains.length > 0;
  return { dnat, nfqwall };
}

function isQueueExpr(e: unknown): boolean {
  if (typeof e !== 'object' || e === null) return false;
  const o = e as { queue?: unknown; xt?: { name?: string } };
  return o.queue !== undefined || o.xt?.name === 'NFQUEUE';
}

/** Human-readable form of `labStatus`. */
export function formatLabStatus(s: LabStatus): string {
  const lines: string[] = [`lab ${s.prefix}: ${s.up ? 'up' : s.namespaces.some((n) => n.exists) ? 'incomplete' : 'down'}`];
  for (const ns of s.namespaces) {
    if (!ns.exists) {
      lines.push(`  ${ns.name.padEnd(20)} (absent)`);
      continue;
    }
    lines.push(`  ${ns.name}`);
    for (const i of ns.interfaces) {
      lines.push(`    ${i.name.padEnd(6)} ${i.state.padEnd(5)} ${i.addresses.join(' ') || '-'}`);
    }
  }
  if (s.router) {
    const r = s.router;
    const n = r.nfqwall;
    lines.push(`  forwarding: ipv4 ${r.ipv4Forwarding ? 'on' : 'off'}, ipv6 ${r.ipv6Forwarding ? 'on' : 'off'}`);
    lines.push(`  dnat ${LAB_DNAT.address}:${LAB_DNAT.port} -> ${LAB_DNAT.toAddress}:${LAB_DNAT.toPort}: ${r.dnat ? 'on' : 'off'}`);
    lines.push(
      `  nfqwall rules: ${n.present ? 'present' : 'absent'}` +
        (n.tables.length ? `; tables: ${n.tables.join(', ')}` : '') +
        (n.chains.length ? `; chains: ${n.chains.join(', ')}` : '') +
        `; queue rules: ${n.queueRules}`,
    );
    lines.push(
      `  queues bound: ${r.queues.length ? r.queues.map((q) => `${q.queueNumber} (portid ${q.portId}, waiting ${q.queueTotal})`).join(', ') : 'none'}`,
    );
  }
  return lines.join('\n');
}
