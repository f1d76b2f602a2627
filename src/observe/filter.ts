/**
 * The FILTER language of `nfqwall trace` and `nfqwall flows`, in the spirit of tcpdump:
 *
 *   filter  := or
 *   or      := and ( ('or' | '||') and )*
 *   and     := unary ( ('and' | '&&')? unary )*        -- juxtaposition is `and`
 *   unary   := ('not' | '!') unary | '(' or ')' | primitive
 *   primitive :=
 *       [src|dst] host ADDR         IPv4 or IPv6 address
 *     | [src|dst] net CIDR          IPv4 or IPv6 prefix (a bare address is a host prefix)
 *     | [src|dst] port N[-M]        a port or an inclusive range; packets without ports never match
 *     | proto tcp|udp|icmp|icmpv6|sctp|udplite|gre|esp|ah|<0..255>
 *     | tcp | udp | icmp | icmpv6   shorthands for `proto ...`
 *     | ip4 | ip6                   address family
 *     | iif NAME | oif NAME         interface; a trailing '+' matches a prefix (`iif eth+`)
 *     | verdict allow|deny          (accept and drop are accepted too)
 *     | policy NAME                 the deciding policy or profile (name, or tier/name)
 *     | hep NAME                    the endpoint whose chain decided
 *
 * Keywords are case-insensitive. An empty filter matches everything. Parse errors name the word
 * (and its position) that could not be used.
 */
import type { RuleRef } from '../engine/decision';
import { parseCidr, parseIp, prefixContains, type IpAddress, type IpPrefix } from '../net/ip';

export type FilterDirection = 'src' | 'dst' | 'any';

export type FilterNode =
  | { kind: 'and'; items: FilterNode[] }
  | { kind: 'or'; items: FilterNode[] }
  | { kind: 'not'; item: FilterNode }
  | { kind: 'host'; dir: FilterDirection; addr: IpAddress; text: string }
  | { kind: 'net'; dir: FilterDirection; prefix: IpPrefix; text: string }
  | { kind: 'port'; dir: FilterDirection; min: number; max: number }
  | { kind: 'proto'; proto: number; text: string }
  | { kind: 'family'; family: 4 | 6 }
  | { kind: 'iif' | 'oif'; name: string }
  | { kind: 'verdict'; verdict: 'allow' | 'deny' }
  | { kind: 'policy'; name: string }
  | { kind: 'hep'; name: string };

/** What a filter looks at: one decision (trace) or one flow (flows). */
export interface FilterSubject {
  family: 4 | 6;
  proto: number;
  src: IpAddress;
  dst: IpAddress;
  /** -1 when the protocol has no ports. */
  sport: number;
  dport: number;
  /** Unknown interfaces (null) match no `iif`/`oif` primitive. */
  iif: string | null;
  oif: string | null;
  /** null: not decided yet. */
  verdict: 'allow' | 'deny' | null;
  /** The deciding rule, or null. */
  rule: RuleRef | null;
  /** The endpoint whose chain decided, or null. */
  endpoint: string | null;
}

export interface Filter {
  /** Canonical text (normalised spacing and keywords); '' for match-all. */
  readonly text: string;
  readonly root: FilterNode | null;
  matches(subject: FilterSubject): boolean;
}

export interface FilterError {
  message: string;
  /** The offending word, or null at the end of the filter. */
  token: string | null;
  /** 1-based position of the word among the filter's words, or null at the end. */
  position: number | null;
}

export type FilterParseResult = { ok: true; filter: Filter } | { ok: false; error: FilterError };

export const PROTOCOL_BY_NAME: Readonly<Record<string, number>> = {
  icmp: 1,
  igmp: 2,
  tcp: 6,
  udp: 17,
  gre: 47,
  esp: 50,
  ah: 51,
  icmpv6: 58,
  'ipv6-icmp': 58,
  sctp: 132,
  udplite: 136,
};

const PROTOCOL_NAME: Readonly<Record<number, string>> = { 1: 'icmp', 2: 'igmp', 6: 'tcp', 17: 'udp', 47: 'gre', 50: 'esp', 51: 'ah', 58: 'icmpv6', 132: 'sctp', 136: 'udplite' };

/** `tcp`, `udp`, ... or the number as text. */
export function protocolName(proto: number): string {
  return PROTOCOL_NAME[proto] ?? String(proto);
}

interface Token {
  text: string;
  /** 1-based word position. */
  pos: number;
}

function tokenize(text: string): Token[] {
  const out: Token[] = [];
  // Parentheses are words of their own even when written against a neighbour: "(port 22)".
  const words = text.replace(/([()])/g, ' $1 ').split(/\s+/).filter((w) => w !== '');
  words.forEach((w, i) => out.push({ text: w, pos: i + 1 }));
  return out;
}

class FilterSyntaxError extends Error {
  constructor(
    message: string,
    readonly token: Token | null,
  ) {
    super(message);
  }
}

const DIRECTIONAL = new Set(['host', 'net', 'port']);
const NAMED = new Set(['iif', 'oif', 'policy', 'hep']);
const KEYWORDS = new Set(['and', 'or', '&&', '||', ')']);
const STARTERS = new Set(['host', 'net', 'port', 'proto', 'tcp', 'udp', 'icmp', 'icmpv6', 'ip4', 'ip6', 'iif', 'oif', 'verdict', 'policy', 'hep', 'src', 'dst', 'not', '!', '(']);

class Parser {
  private i = 0;
  constructor(private readonly toks: Token[]) {}

  private peek(): Token | null {
    return this.toks[this.i] ?? null;
  }

  private word(): string | null {
    const t = this.peek();
    return t === null ? null : t.text.toLowerCase();
  }

  private next(what: string, after: Token): Token {
    const t = this.peek();
    if (t === null) throw new FilterSyntaxError(`expected ${what} after '${after.text}', but the filter ends there`, null);
    this.i++;
    return t;
  }

  parse(): FilterNode | null {
    if (this.toks.length === 0) return null;
    const node = this.or();
    const rest = this.peek();
    if (rest !== null) {
      if (rest.text === ')') throw new FilterSyntaxError(`unbalanced ')' at word ${rest.pos}`, rest);
      throw new FilterSyntaxError(`unexpected '${rest.text}' at word ${rest.pos}`, rest);
    }
    return node;
  }

  private or(): FilterNode {
    const items = [this.and()];
    for (;;) {
      const w = this.word();
      if (w !== 'or' && w !== '||') break;
      const op = this.peek()!;
      this.i++;
      if (this.peek() === null) throw new FilterSyntaxError(`expected a filter after '${op.text}', but the filter ends there`, null);
      items.push(this.and());
    }
    return items.length === 1 ? items[0]! : { kind: 'or', items };
  }

  private and(): FilterNode {
    const items = [this.unary()];
    for (;;) {
      const w = this.word();
      if (w === null || w === ')' || w === 'or' || w === '||') break;
      if (w === 'and' || w === '&&') {
        const op = this.peek()!;
        this.i++;
        if (this.peek() === null) throw new FilterSyntaxError(`expected a filter after '${op.text}', but the filter ends there`, null);
      }
      items.push(this.unary());
    }
    return items.length === 1 ? items[0]! : { kind: 'and', items };
  }

  private unary(): FilterNode {
    const t = this.peek();
    if (t === null) throw new FilterSyntaxError('expected a filter, but the filter ends there', null);
    const w = t.text.toLowerCase();
    if (w === 'not' || w === '!') {
      this.i++;
      if (this.peek() === null) throw new FilterSyntaxError(`expected a filter after '${t.text}', but the filter ends there`, null);
      return { kind: 'not', item: this.unary() };
    }
    if (w === '(') {
      this.i++;
      const inner = this.or();
      const close = this.peek();
      if (close === null || close.text !== ')') throw new FilterSyntaxError(`'(' at word ${t.pos} is never closed`, close === null ? t : close);
      this.i++;
      return inner;
    }
    return this.primitive();
  }

  private primitive(): FilterNode {
    const t = this.peek()!;
    this.i++;
    let w = t.text.toLowerCase();
    let dir: FilterDirection = 'any';
    let kw = t;
    if (w === 'src' || w === 'dst') {
      dir = w;
      kw = this.next("'host', 'net' or 'port'", t);
      w = kw.text.toLowerCase();
      if (!DIRECTIONAL.has(w)) throw new FilterSyntaxError(`'${t.text}' must be followed by 'host', 'net' or 'port', not '${kw.text}' (word ${kw.pos})`, kw);
    }
    switch (w) {
      case 'host': {
        const a = this.next('an IPv4 or IPv6 address', kw);
        const addr = parseIp(a.text);
        if (!addr) throw new FilterSyntaxError(`'${a.text}' (word ${a.pos}) is not an IPv4 or IPv6 address`, a);
        return { kind: 'host', dir, addr, text: a.text };
      }
      case 'net': {
        const a = this.next('a CIDR such as 10.0.0.0/8', kw);
        const c = parseCidr(a.text, true);
        if (!c) throw new FilterSyntaxError(`'${a.text}' (word ${a.pos}) is not an IPv4 or IPv6 CIDR`, a);
        return { kind: 'net', dir, prefix: c.prefix, text: a.text };
      }
      case 'port': {
        const a = this.next('a port number or range', kw);
        const m = /^(\d{1,5})(?:-(\d{1,5}))?$/.exec(a.text);
        const min = m ? Number(m[1]) : NaN;
        const max = m ? Number(m[2] ?? m[1]) : NaN;
        if (!m || min > 65535 || max > 65535 || min > max) throw new FilterSyntaxError(`'${a.text}' (word ${a.pos}) is not a port 0..65535 or a range such as 1024-2047`, a);
        return { kind: 'port', dir, min, max };
      }
      case 'proto': {
        const a = this.next('a protocol (tcp, udp, icmp, icmpv6, or a number 0..255)', kw);
        return this.proto(a);
      }
      case 'tcp':
      case 'udp':
      case 'icmp':
      case 'icmpv6':
        return this.proto(t);
      case 'ip4':
      case 'ip6':
        return { kind: 'family', family: w === 'ip4' ? 4 : 6 };
      case 'verdict': {
        const a = this.next("'allow' or 'deny'", kw);
        const v = a.text.toLowerCase();
        if (v === 'allow' || v === 'accept') return { kind: 'verdict', verdict: 'allow' };
        if (v === 'deny' || v === 'drop') return { kind: 'verdict', verdict: 'deny' };
        throw new FilterSyntaxError(`'${a.text}' (word ${a.pos}) is not a verdict: use allow or deny`, a);
      }
      default:
        if (NAMED.has(w)) {
          const a = this.next(w === 'iif' || w === 'oif' ? 'an interface name' : `a ${w === 'hep' ? 'HostEndpoint' : 'policy'} name`, kw);
          if (STARTERS.has(a.text.toLowerCase()) || KEYWORDS.has(a.text.toLowerCase())) throw new FilterSyntaxError(`expected a name after '${kw.text}', not the keyword '${a.text}' (word ${a.pos})`, a);
          return { kind: w as 'iif' | 'oif' | 'policy' | 'hep', name: a.text };
        }
        throw new FilterSyntaxError(
          `unknown word '${t.text}' at word ${t.pos} (expected host, net, port, proto, iif, oif, verdict, policy, hep, not or '(')`,
          t,
        );
    }
  }

  private proto(a: Token): FilterNode {
    const name = a.text.toLowerCase();
    const known = PROTOCOL_BY_NAME[name];
    if (known !== undefined) return { kind: 'proto', proto: known, text: protocolName(known) };
    if (/^\d{1,3}$/.test(name) && Number(name) <= 255) return { kind: 'proto', proto: Number(name), text: protocolName(Number(name)) };
    throw new FilterSyntaxError(`'${a.text}' (word ${a.pos}) is not a protocol: use tcp, udp, icmp, icmpv6, sctp, udplite, gre, esp, ah or a number 0..255`, a);
  }
}

function sameAddress(a: IpAddress, b: IpAddress): boolean {
  return a.family === b.family && a.words[0] === b.words[0] && a.words[1] === b.words[1] && a.words[2] === b.words[2] && a.words[3] === b.words[3];
}

function nameMatches(pattern: string, name: string | null): boolean {
  if (name === null) return false;
  if (pattern.endsWith('+')) return name.startsWith(pattern.slice(0, -1));
  return name === pattern;
}

function policyMatches(name: string, rule: RuleRef | null): boolean {
  if (rule === null) return false;
  if (rule.kind === 'policy') return rule.policy === name || `${rule.tier}/${rule.policy}` === name;
  if (rule.kind === 'profile') return rule.profile === name;
  return false;
}

type Predicate = (s: FilterSubject) => boolean;

/** Closures built once per filter, so matching does no parsing or lookups. */
function compile(n: FilterNode): Predicate {
  switch (n.kind) {
    case 'and': {
      const ps = n.items.map(compile);
      return (s) => ps.every((p) => p(s));
    }
    case 'or': {
      const ps = n.items.map(compile);
      return (s) => ps.some((p) => p(s));
    }
    case 'not': {
      const p = compile(n.item);
      return (s) => !p(s);
    }
    case 'host': {
      const a = n.addr;
      if (n.dir === 'src') return (s) => sameAddress(s.src, a);
      if (n.dir === 'dst') return (s) => sameAddress(s.dst, a);
      return (s) => sameAddress(s.src, a) || sameAddress(s.dst, a);
    }
    case 'net': {
      const p = n.prefix;
      if (n.dir === 'src') return (s) => prefixContains(p, s.src);
      if (n.dir === 'dst') return (s) => prefixContains(p, s.dst);
      return (s) => prefixContains(p, s.src) || prefixContains(p, s.dst);
    }
    case 'port': {
      const { min, max } = n;
      const inRange = (port: number) => port >= 0 && port >= min && port <= max;
      if (n.dir === 'src') return (s) => inRange(s.sport);
      if (n.dir === 'dst') return (s) => inRange(s.dport);
      return (s) => inRange(s.sport) || inRange(s.dport);
    }
    case 'proto': {
      const proto = n.proto;
      return (s) => s.proto === proto;
    }
    case 'family': {
      const f = n.family;
      return (s) => s.family === f;
    }
    case 'iif': {
      const name = n.name;
      return (s) => nameMatches(name, s.iif);
    }
    case 'oif': {
      const name = n.name;
      return (s) => nameMatches(name, s.oif);
    }
    case 'verdict': {
      const v = n.verdict;
      return (s) => s.verdict === v;
    }
    case 'policy': {
      const name = n.name;
      return (s) => policyMatches(name, s.rule);
    }
    case 'hep': {
      const name = n.name;
      return (s) => s.endpoint === name;
    }
  }
}

/** Canonical text of a node (parenthesised where precedence needs it). */
export function formatFilterNode(n: FilterNode): string {
  const dir = (d: FilterDirection) => (d === 'any' ? '' : `${d} `);
  switch (n.kind) {
    case 'and':
      return n.items.map((i) => (i.kind === 'or' ? `(${formatFilterNode(i)})` : formatFilterNode(i))).join(' and ');
    case 'or':
      return n.items.map(formatFilterNode).join(' or ');
    case 'not':
      return n.item.kind === 'and' || n.item.kind === 'or' ? `not (${formatFilterNode(n.item)})` : `not ${formatFilterNode(n.item)}`;
    case 'host':
      return `${dir(n.dir)}host ${n.text}`;
    case 'net':
      return `${dir(n.dir)}net ${n.text}`;
    case 'port':
      return `${dir(n.dir)}port ${n.min === n.max ? n.min : `${n.min}-${n.max}`}`;
    case 'proto':
      return `proto ${n.text}`;
    case 'family':
      return `ip${n.family}`;
    case 'iif':
    case 'oif':
    case 'policy':
    case 'hep':
      return `${n.kind} ${n.name}`;
    case 'verdict':
      return `verdict ${n.verdict}`;
  }
}

const MATCH_ALL: Filter = { text: '', root: null, matches: () => true };

/** Parse filter text (the words of the command line joined by spaces). */
export function parseFilter(text: string): FilterParseResult {
  const toks = tokenize(text);
  let root: FilterNode | null;
  try {
    root = new Parser(toks).parse();
  } catch (err) {
    if (err instanceof FilterSyntaxError) {
      return { ok: false, error: { message: err.message, token: err.token?.text ?? null, position: err.token?.pos ?? null } };
    }
    throw err;
  }
  if (root === null) return { ok: true, filter: MATCH_ALL };
  const pred = compile(root);
  return { ok: true, filter: { text: formatFilterNode(root), root, matches: pred } };
}

/** A filter that matches everything. */
export function matchAll(): Filter {
  return MATCH_ALL;
}
