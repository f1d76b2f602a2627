/**
 * Native nftables rendering: one `nft -f` transaction that replaces table `inet <table>` as a whole.
 *
 * `table inet T {}` + `delete table inet T` + the full definition is the classic idiom: the first
 * line makes the delete succeed when no table exists yet, and the kernel applies the file as one
 * transaction, so packets see either the old rules or the new ones. The `inet` family covers IPv4
 * and IPv6 with the same rules.
 */
import { buildSteeringModel, u32, type BitsMatch, type SteeringAction, type SteeringModel, type SteeringRule } from './model';
import type { SteeringPlan } from './plan';

export function renderNft(plan: SteeringPlan): string {
  const header = `# nfqwall steering: generation ${plan.generation}, ${plan.mode} mode, fail ${plan.failMode}, mark mask ${hex(plan.marks.mask)}`;
  return renderNftModel(buildSteeringModel(plan), header);
}

export function renderNftModel(model: SteeringModel, header = '# nfqwall steering'): string {
  const out: string[] = [header, `table inet ${model.table} {}`, `delete table inet ${model.table}`];
  if (model.entries.length === 0) return out.join('\n') + '\n';
  out.push(`table inet ${model.table} {`);
  const blocks: string[] = [];
  for (const e of model.entries) {
    e.chains.forEach((c, i) => {
      const lines = [`\tchain ${c.name} {`];
      if (i === 0) lines.push(`\t\ttype filter hook ${e.hook} priority ${e.priority}; policy accept;`);
      for (const r of c.rules) lines.push(`\t\t${nftRule(r)}`);
      lines.push('\t}');
      blocks.push(lines.join('\n'));
    });
  }
  out.push(blocks.join('\n\n'), '}');
  return out.join('\n') + '\n';
}

/** Remove the table (no error when it does not exist). */
export function nftRemoveScript(table: string): string {
  return `table inet ${table} {}\ndelete table inet ${table}\n`;
}

export function nftRule(r: SteeringRule): string {
  const parts: string[] = [];
  if (r.iifs) parts.push(`iifname ${nameSet(r.iifs)}`);
  if (r.oifs) parts.push(`oifname ${nameSet(r.oifs)}`);
  if (r.ctState) parts.push(`ct state ${r.ctState.join(',')}`);
  if (r.ctReply) parts.push('ct direction reply');
  if (r.ctDnat) parts.push('ct status dnat');
  if (r.srcLocal) parts.push('fib saddr type local');
  if (r.mark) parts.push(`meta mark ${bitsMatch(r.mark)}`);
  if (r.ctMark) parts.push(`ct mark ${bitsMatch(r.ctMark)}`);
  for (const a of r.actions) parts.push(nftAction(a));
  return parts.join(' ');
}

function nftAction(a: SteeringAction): string {
  switch (a.kind) {
    case 'set-mark':
      return `meta mark set ${maskedSet('meta mark', a.mask, a.value)}`;
    case 'set-ct-mark':
      return `ct mark set ${maskedSet('ct mark', a.mask, a.value)}`;
    case 'notrack':
      return 'notrack';
    case 'pass':
      return 'accept';
    case 'drop':
      return 'drop';
    case 'goto':
      return `goto ${a.chain}`;
    case 'queue': {
      const flags = [...(a.bypass ? ['bypass'] : []), ...(a.queue.from !== a.queue.to ? ['fanout'] : [])];
      const to = a.queue.from === a.queue.to ? `${a.queue.from}` : `${a.queue.from}-${a.queue.to}`;
      return `queue ${flags.length > 0 ? `flags ${flags.join(',')} ` : ''}to ${to}`;
    }
  }
}

/** `x & ~mask | value`: only the bits inside `mask` change. */
function maskedSet(expr: string, mask: number, value: number): string {
  const keep = u32(~mask);
  if (keep === 0) return hex(value);
  return value === 0 ? `${expr} & ${hex(keep)}` : `${expr} & ${hex(keep)} | ${hex(value)}`;
}

function bitsMatch(b: BitsMatch): string {
  return `& ${hex(b.mask)} == ${hex(b.value)}`;
}

function nameSet(names: string[]): string {
  const quoted = names.map((n) => `"${n}"`);
  return quoted.length === 1 ? (quoted[0] as string) : `{ ${quoted.join(', ')} }`;
}

export function hex(n: number): string {
  return `0x${u32(n).toString(16).padStart(8, '0')}`;
}
