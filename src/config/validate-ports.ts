/**
 * Port lists of entity rules (calico-semantics.md §1.5) and port names (§1.1 spec.ports).
 * An entry is an integer, a numeric string, an "A:B" range, or a named port.
 */
import type { PortSpec } from './resources';
import { CFG } from './issue-codes';
import { Checker, checkMaxItems, describe, readList } from './validate-context';
import type { FieldPath } from './yaml-source';

export const MAX_PORTS = 50;

const RANGE_MSG = 'port range invalid, port number must be between 1 and 65535';
const NAMED_PORT_RE = /^[a-zA-Z0-9_.-]{1,128}$/;

/** Kubernetes IsValidPortName problems (1–15 chars of [a-z0-9-], a letter, no leading/trailing/double '-'). */
export function portNameProblems(name: string): string[] {
  const out: string[] = [];
  if (name.length < 1 || name.length > 15) out.push('must be no more than 15 characters');
  if (!/^[-a-z0-9]+$/.test(name)) out.push("must contain only lower-case alphanumeric characters (a-z, 0-9) or '-'");
  if (!/[a-z]/.test(name)) out.push('must contain at least one letter (a-z)');
  if (name.includes('--')) out.push("must not contain consecutive hyphens ('--')");
  if (name.startsWith('-') || name.endsWith('-')) out.push("must not begin or end with a hyphen ('-')");
  return out;
}

export interface PortList {
  ports: PortSpec[];
  /** Index of the first numeric entry (single port or range), for the protocol coupling rule. */
  firstNumeric: number | undefined;
  /** True when the list was present and non-empty. */
  nonEmpty: boolean;
  /** False when some entry was invalid (already reported). */
  ok: boolean;
}

/** Parse one port list; every bad entry is reported at its own index. */
export function readPortList(c: Checker, obj: Record<string, unknown>, path: FieldPath, key: string): PortList {
  const out: PortList = { ports: [], firstNumeric: undefined, nonEmpty: false, ok: true };
  const list = readList(c, obj, path, key);
  if (list === null) out.ok = false;
  if (!list) return out;
  out.nonEmpty = list.length > 0;
  checkMaxItems(c, list, [...path, key], MAX_PORTS);
  list.forEach((entry, i) => {
    const at = [...path, key, i];
    const parsed = parsePort(entry);
    if (typeof parsed === 'string') {
      c.error(at, typeof entry === 'string' || typeof entry === 'number' ? CFG.PORT : CFG.TYPE, parsed);
      out.ok = false;
      return;
    }
    if (parsed.kind === 'range' && out.firstNumeric === undefined) out.firstNumeric = i;
    out.ports.push(parsed);
  });
  return out;
}

/** One port entry, or an error message. */
export function parsePort(entry: unknown): PortSpec | string {
  if (typeof entry === 'number') {
    if (!Number.isInteger(entry)) return `invalid port ${entry}: ports are whole numbers`;
    if (entry < 1 || entry > 65535) return `invalid port ${entry}: ${RANGE_MSG}`;
    return { kind: 'range', min: entry, max: entry };
  }
  if (typeof entry !== 'string') return `a port must be a number, a "min:max" range or a port name, found ${describe(entry)}`;
  if (/^\d+$/.test(entry)) {
    const n = Number(entry);
    if (n < 1 || n > 65535) return `invalid port "${entry}": ${RANGE_MSG}`;
    return { kind: 'range', min: n, max: n };
  }
  const range = /^(\d+):(\d+)$/.exec(entry);
  if (range) {
    const min = Number(range[1]);
    const max = Number(range[2]);
    if (min > 65535) return `invalid minimum port number in range (${entry})`;
    if (max > 65535) return `invalid maximum port number in range (${entry})`;
    if (min > max) return `minimum port number (${min}) is greater than maximum port number (${max}) in port range "${entry}"`;
    if (min < 1) return `invalid port range "${entry}": ${RANGE_MSG}`;
    return { kind: 'range', min, max };
  }
  if (!NAMED_PORT_RE.test(entry)) return `invalid name for named port (${entry})`;
  const problems = portNameProblems(entry);
  if (problems.length > 0) return `invalid named port "${entry}": a port name ${problems.join('; ')}`;
  return { kind: 'named', name: entry };
}
