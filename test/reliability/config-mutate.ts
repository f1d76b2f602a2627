/**
 * Mutators for the config fuzz: hostile values put into parsed resources (structural), and edits
 * of YAML text (indicators, control characters, cuts, indentation). All driven by a seeded Rng.
 */
import { stringify } from 'yaml';
import type { Rng } from '../helpers/random';

/** Strings that break names, labels, selectors, ports, nets, enums, or YAML itself. */
export const BAD_STRINGS = [
  'x'.repeat(100_000),
  'a'.repeat(254),
  'a'.repeat(64),
  '',
  ' ',
  '\u0000',
  'a\u0000b',
  '\u202eevil',
  'zero\u200bwidth',
  '🔥'.repeat(300),
  '\ud800',
  'İstanbul',
  'ǅ',
  '\t\r\n',
  '\u2028\u2029\u0085',
  "'",
  '"',
  '\\',
  '&&',
  '||',
  '!',
  'has(',
  "a == 'b",
  "a in {'x'",
  'all()',
  'global()',
  "!has(a) && b not in {'c'}",
  '*',
  '&x',
  '!!binary',
  '<<',
  '---',
  '%YAML',
  '${x}',
  '0x10',
  '1e3',
  '-0',
  '1:2:3',
  '65536',
  '22:21',
  '-1:5',
  'TCP',
  'tcp',
  'ICMPv6',
  'Allow',
  'allow',
  'Pass',
  '10.0.0.0/33',
  '::/129',
  '256.0.0.1',
  'fe80::1%eth0',
  '10.0.0.1/8',
  '::ffff:10.0.0.1',
  'projectcalico.org/v3',
  'HostEndpoint',
  'default',
  'kube-system/x',
];
export const BAD_NUMBERS = [0, -1, 1.5, -0.5, 1e308, -1e308, 2 ** 53 + 2, -(2 ** 63), 2 ** 32, 65536, 256, Infinity, -Infinity, NaN];
export const BAD_OTHER: unknown[] = [true, false, null, [], {}, [null], { '': null }, ['a', 1, true], { a: { b: { c: [] } } }];

/** Plain data as yaml's toJS returns it (and as `stringify` takes it). */
export type Json = unknown;

/** A value to put where `old` was: wrong type, extreme number, hostile string, deep nesting, bulk. */
export function hostileValue(rng: Rng, old: Json): Json {
  switch (rng.int(8)) {
    case 0:
    case 1:
      return rng.pick(BAD_STRINGS);
    case 2:
      return rng.pick(BAD_NUMBERS);
    case 3:
      return rng.pick(BAD_OTHER);
    case 4: {
      // Nesting around the old value: under the parser's limit (validators see it) or over it.
      let v: Json = old;
      const depth = rng.pick([5, 50, 120, 300, 2000]);
      for (let i = 0; i < depth; i++) v = rng.bool() ? [v] : { k: v };
      return v;
    }
    case 5:
      // Lists: mostly short, rarely thousands of copies (ports, nets, rules...).
      return Array.from({ length: rng.bool(0.004) ? rng.pick([1000, 5000]) : rng.pick([0, 2, 3, 10, 50]) }, () => (old !== null && typeof old === 'object' ? old : rng.pick([typeof old === 'string' ? old.slice(0, 64) : old, rng.pick(BAD_STRINGS).slice(0, 64)])));
    case 6: {
      // Maps with odd keys: mostly small, rarely 5 000 keys.
      const o: Record<string, Json> = {};
      const n = rng.bool(0.004) ? 5000 : rng.pick([1, 3, 20, 100]);
      for (let i = 0; i < n; i++) o[`${rng.pick(BAD_STRINGS).slice(0, 40)}${i}`] = rng.pick([n > 100 && typeof old === 'string' ? old.slice(0, 64) : old, 'v', 1, null]);
      return o;
    }
    default:
      return typeof old === 'string' ? old + rng.pick(BAD_STRINGS).slice(0, 300) : typeof old === 'number' ? -old * 1e6 : rng.pick(BAD_STRINGS);
  }
}

/** A place holding a value: its container, its key, the containers above it. */
export interface Slot {
  parent: Record<string, Json> | Json[];
  key: string | number;
  ancestors: object[];
}

/** Every place in a document a value can be put (map entries and list items). */
export function slotsOf(root: Json): Slot[] {
  const out: Slot[] = [];
  const seen = new Set<object>();
  const walk = (v: Json, ancestors: object[]) => {
    // Earlier mutations may have made cycles and shared subtrees: visit each object once.
    if (v === null || typeof v !== 'object' || seen.has(v) || ancestors.length > 500) return;
    seen.add(v);
    const chain = [...ancestors, v];
    if (Array.isArray(v)) v.forEach((x, i) => (out.push({ parent: v, key: i, ancestors: chain }), walk(x, chain)));
    else for (const [k, x] of Object.entries(v)) out.push({ parent: v as Record<string, Json>, key: k, ancestors: chain }), walk(x, chain);
  };
  walk(root, []);
  return out;
}

export function setSlot(s: Slot, value: Json): void {
  (s.parent as Record<string | number, Json>)[s.key] = value;
}

/** 1-3 mutations of one document: replace, delete, add a field, rename a key, or make a cycle. */
export function mutateDoc(rng: Rng, doc: Json): Json {
  const root: Json = structuredClone(doc);
  const n = 1 + rng.int(3);
  for (let m = 0; m < n; m++) {
    const slots = slotsOf(root);
    if (slots.length === 0) return hostileValue(rng, root);
    const s = rng.pick(slots);
    const old = (s.parent as Record<string | number, Json>)[s.key];
    const op = rng.int(100);
    if (op < 65) setSlot(s, hostileValue(rng, old));
    else if (op < 75) {
      if (Array.isArray(s.parent)) s.parent.splice(Number(s.key), 1);
      else delete s.parent[s.key as string];
    } else if (op < 85) {
      if (!Array.isArray(s.parent)) s.parent[rng.pick(BAD_STRINGS).slice(0, 80) || 'unknownField'] = hostileValue(rng, old);
      else s.parent.push(hostileValue(rng, old));
    } else if (op < 92) {
      if (!Array.isArray(s.parent)) {
        delete s.parent[s.key as string];
        s.parent[`${String(s.key)}${rng.pick(BAD_STRINGS).slice(0, 20)}`] = old;
      }
    } else {
      // A cycle: the value becomes one of its ancestors (the YAML gets an anchor and an alias).
      setSlot(s, rng.pick(s.ancestors));
    }
  }
  return root;
}

/** Documents as one YAML text; shared and circular values become anchors and aliases. */
export function stringifyDocs(docs: Json[]): string {
  return docs.map((d) => stringify(d, { aliasDuplicateObjects: true, lineWidth: 0 })).join('---\n');
}

/** What text mutations insert: YAML indicators, line breaks of every kind, invisible characters. */
export const INDICATORS = ['-', '?', ':', ',', '[', ']', '{', '}', '#', '&', '*', '!', '|', '>', "'", '"', '%', '@', '`', '\t', '\n', '\r', ' ', '---\n', '...\n', '<<: ', '&a ', '*a', '!!map ', '\u0000', '\ufeff', '\u2028', '\u00a0', '😀'];

/** 1-4 edits of YAML text: insertions, cuts, truncation, duplicated lines, indentation, random characters. */
export function mutateText(rng: Rng, text: string): string {
  let t = text;
  const n = 1 + rng.int(4);
  for (let m = 0; m < n; m++) {
    const at = rng.int(t.length + 1);
    switch (rng.int(8)) {
      case 0:
        t = t.slice(0, at) + rng.pick(INDICATORS) + t.slice(at);
        break;
      case 1:
        t = t.slice(0, at) + t.slice(at + 1 + rng.int(20));
        break;
      case 2:
        t = t.slice(0, at);
        break;
      case 3: {
        const lines = t.split('\n');
        const i = rng.int(lines.length);
        lines.splice(i, 0, lines[i] ?? '');
        t = lines.join('\n');
        break;
      }
      case 4: {
        const lines = t.split('\n');
        const i = rng.int(lines.length);
        lines[i] = rng.bool() ? ` ${rng.bool() ? ' ' : '\t'}${lines[i] ?? ''}` : (lines[i] ?? '').replace(/^ {1,3}/, '');
        t = lines.join('\n');
        break;
      }
      case 5:
        t = t.slice(0, at) + String.fromCharCode(rng.int(0x10000)) + t.slice(at + 1);
        break;
      case 6:
        t = t.slice(0, at) + t.slice(rng.int(t.length + 1));
        break;
      default: {
        // Swap a character for one of the same line elsewhere.
        const j = rng.int(t.length + 1);
        t = t.slice(0, at) + (t[j] ?? '') + t.slice(at + 1);
      }
    }
  }
  return t;
}

