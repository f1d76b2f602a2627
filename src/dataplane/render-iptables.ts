/**
 * iptables-nft rendering: nfqwall's own chains (`<TABLE>-...`), each hooked by one jump from a
 * built-in chain, as an `iptables-nft-restore --noflush` transaction per address family.
 *
 * The transaction is complete and idempotent given the current state (parseIptablesSave): it
 * declares nfqwall's chains (declaring a chain flushes it), deletes every existing jump to them
 * (a crashed run may have left several) and adds exactly one back, and flushes and deletes chains a
 * previous plan had and this one has not. Nothing else is touched. A `-D` of a rule that does not
 * exist aborts a restore, hence the need for the current state.
 */
import { NfqwallError } from '../errors';
import { buildSteeringModel, ENTRY_SHAPES, STAGE_SUFFIX, u32, type EntryId, type SteeringAction, type SteeringModel, type SteeringRule } from './model';
import type { SteeringPlan } from './plan';

export type IpFamily = 4 | 6;
export type IptablesTable = 'raw' | 'mangle' | 'filter';

/** Tables in the order a transaction lists them. */
const TABLES: readonly IptablesTable[] = ['raw', 'mangle', 'filter'];
/** xt chain names hold at most 28 characters. */
const MAX_CHAIN_NAME = 28;

const SHORT_NAMES: Readonly<Record<EntryId, string>> = {
  rawPrerouting: 'RAW-PRE',
  manglePrerouting: 'PREDNAT',
  filterInput: 'INPUT',
  filterForward: 'FORWARD',
  rawOutput: 'RAW-OUT',
  filterOutput: 'OUTPUT',
  manglePostrouting: 'POSTDNAT',
  markClear: 'MARK-CLEAR',
};

/** What iptables-nft-save shows of nfqwall in one table. */
export interface IptablesTableState {
  /** nfqwall's chains (by prefix). */
  chains: string[];
  /** Rules in other chains that jump/goto an nfqwall chain, as `<chain> <rule spec>` (save syntax minus `-A`). */
  references: string[];
}

export type IptablesState = Partial<Record<IptablesTable, IptablesTableState>>;

export function chainPrefix(table: string): string {
  return `${table.toUpperCase()}-`;
}

/** nfqwall's iptables chain name for a neutral (nft-spelled) chain name of the model. */
export function iptablesChainName(table: string, neutral: string): string {
  const stage = neutral.endsWith(STAGE_SUFFIX);
  const base = stage ? neutral.slice(0, -STAGE_SUFFIX.length) : neutral;
  const id = (Object.keys(ENTRY_SHAPES) as EntryId[]).find((k) => ENTRY_SHAPES[k].nft === base);
  if (id === undefined) throw new NfqwallError('NFQ_DATAPLANE_BAD_PLAN', `no iptables name for chain ${neutral}`);
  const name = `${chainPrefix(table)}${SHORT_NAMES[id]}${stage ? '-STAGE' : ''}`;
  if (name.length > MAX_CHAIN_NAME) throw new NfqwallError('NFQ_DATAPLANE_BAD_PLAN', `iptables chain name ${name} is longer than ${MAX_CHAIN_NAME} characters`);
  return name;
}

/** Read nfqwall's chains and the rules referring to them from `iptables-nft-save` output. */
export function parseIptablesSave(text: string, table: string): IptablesState {
  const prefix = chainPrefix(table);
  const state: IptablesState = {};
  let current: IptablesTableState | undefined;
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (line.startsWith('*')) {
      const name = line.slice(1);
      current = (TABLES as readonly string[]).includes(name) ? (state[name as IptablesTable] = { chains: [], references: [] }) : undefined;
      continue;
    }
    if (!current) continue;
    if (line.startsWith(':')) {
      const chain = line.slice(1).split(/\s+/)[0] ?? '';
      if (chain.startsWith(prefix)) current.chains.push(chain);
      continue;
    }
    const m = /^-A (\S+) (.*)$/.exec(line);
    if (!m) continue;
    const [, chain = '', spec = ''] = m;
    const target = /(?:^|\s)-[jg] (\S+)(?:\s|$)/.exec(spec)?.[1];
    if (!chain.startsWith(prefix) && target !== undefined && target.startsWith(prefix)) current.references.push(`${chain} ${spec}`);
  }
  for (const t of TABLES) {
    const s = state[t];
    if (s && s.chains.length === 0 && s.references.length === 0) delete state[t];
  }
  return state;
}

/**
 * The restore transaction for one family. `current` is what is installed now (default: nothing,
 * which is also what `nfqwall ruleset` prints). IPv4 and IPv6 rules are the same; the family only
 * names the tool.
 */
export function renderIptables(plan: SteeringPlan, family: IpFamily, current: IptablesState = {}): string {
  const header = `# nfqwall steering (IPv${family}): generation ${plan.generation}, ${plan.mode} mode, fail ${plan.failMode}, mark mask 0x${u32(plan.marks.mask).toString(16)}`;
  return renderIptablesModel(buildSteeringModel(plan), current, header);
}

export function renderIptablesModel(model: SteeringModel, current: IptablesState, header = '# nfqwall steering'): string {
  const out: string[] = [header];
  for (const t of TABLES) {
    const entries = model.entries.filter((e) => e.iptables.table === t);
    const existing = current[t] ?? { chains: [], references: [] };
    if (entries.length === 0 && existing.chains.length === 0 && existing.references.length === 0) continue;
    const wanted = entries.flatMap((e) => e.chains.map((c) => iptablesChainName(model.table, c.name)));
    const stale = existing.chains.filter((c) => !wanted.includes(c));
    out.push(`*${t}`);
    for (const c of wanted) out.push(`:${c} - [0:0]`);
    for (const ref of existing.references) out.push(`-D ${ref}`);
    for (const c of stale) out.push(`-F ${c}`);
    for (const c of stale) out.push(`-X ${c}`);
    const firstIndex = new Map<string, number>();
    for (const e of entries) {
      const entryChain = iptablesChainName(model.table, e.chains[0]?.name ?? '');
      const b = e.iptables.builtin;
      if (e.iptables.position === 'first') {
        const at = (firstIndex.get(b) ?? 0) + 1;
        firstIndex.set(b, at);
        out.push(`-I ${b} ${at} -j ${entryChain}`);
      } else {
        out.push(`-A ${b} -j ${entryChain}`);
      }
    }
    for (const e of entries) {
      for (const c of e.chains) {
        const name = iptablesChainName(model.table, c.name);
        for (const r of c.rules) for (const spec of iptablesRule(model.table, r)) out.push(`-A ${name} ${spec}`);
      }
    }
    out.push('COMMIT');
  }
  return out.join('\n') + '\n';
}

/** The transaction that removes everything nfqwall has in `current` ('' when there is nothing). */
export function renderIptablesRemoval(current: IptablesState): string {
  const out: string[] = [];
  for (const t of TABLES) {
    const s = current[t];
    if (!s) continue;
    out.push(`*${t}`);
    for (const ref of s.references) out.push(`-D ${ref}`);
    for (const c of s.chains) out.push(`-F ${c}`);
    for (const c of s.chains) out.push(`-X ${c}`);
    out.push('COMMIT');
  }
  return out.length === 0 ? '' : out.join('\n') + '\n';
}

/**
 * One model rule as rule specs (without `-A chain`). A list of interfaces becomes one rule per
 * interface; several actions become one rule per action with the same matches, which is only
 * correct when no action changes what the matches read (checked).
 */
export function iptablesRule(table: string, r: SteeringRule): string[] {
  const common: string[] = [];
  if (r.ctState) common.push(`-m conntrack --ctstate ${r.ctState.map((s) => s.toUpperCase()).join(',')}`);
  if (r.ctReply) common.push('-m conntrack --ctdir REPLY');
  if (r.ctDnat) common.push('-m conntrack --ctstate DNAT');
  if (r.srcLocal) common.push('-m addrtype --src-type LOCAL');
  if (r.mark) common.push(`-m mark --mark ${xmark(r.mark.value, r.mark.mask)}`);
  if (r.ctMark) common.push(`-m connmark --mark ${xmark(r.ctMark.value, r.ctMark.mask)}`);
  r.actions.slice(0, -1).forEach((a) => {
    const unsafe = (a.kind === 'set-mark' && r.mark) || (a.kind === 'set-ct-mark' && r.ctMark) || (a.kind === 'notrack' && r.ctState);
    if (unsafe) throw new NfqwallError('NFQ_DATAPLANE_BAD_PLAN', `cannot split rule with ${a.kind} before another action for iptables`);
  });
  const ifaces: string[] = r.iifs ? r.iifs.map((n) => `-i ${n}`) : r.oifs ? r.oifs.map((n) => `-o ${n}`) : [''];
  const specs: string[] = [];
  for (const i of ifaces) {
    for (const a of r.actions) specs.push([i, ...common, iptablesAction(table, a)].filter((p) => p !== '').join(' '));
  }
  return specs;
}

function iptablesAction(table: string, a: SteeringAction): string {
  switch (a.kind) {
    case 'set-mark':
      return `-j MARK --set-xmark ${xmark(a.value, a.mask)}`;
    case 'set-ct-mark':
      return `-j CONNMARK --set-xmark ${xmark(a.value, a.mask)}`;
    case 'notrack':
      return '-j CT --notrack';
    case 'pass':
      return '-j RETURN';
    case 'drop':
      return '-j DROP';
    case 'goto':
      return `-g ${iptablesChainName(table, a.chain)}`;
    case 'queue': {
      const q = a.queue;
      const target = q.from === q.to ? `--queue-num ${q.from}` : `--queue-balance ${q.from}:${q.to} --queue-cpu-fanout`;
      return `-j NFQUEUE ${target}${a.bypass ? ' --queue-bypass' : ''}`;
    }
  }
}

function xmark(value: number, mask: number): string {
  return `0x${u32(value).toString(16)}/0x${u32(mask).toString(16)}`;
}

/** The restore and save tools of a family. */
export function iptablesTools(family: IpFamily): { restore: string; save: string } {
  return family === 4 ? { restore: 'iptables-nft-restore', save: 'iptables-nft-save' } : { restore: 'ip6tables-nft-restore', save: 'ip6tables-nft-save' };
}
