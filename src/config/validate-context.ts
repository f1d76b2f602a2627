/**
 * Shared plumbing of the validators: issue reporting with locations, and typed field readers.
 *
 * Reader convention: a reader returns the value when it has the right type, `undefined` when the
 * field is absent (or YAML null, which Kubernetes decoding treats the same), and `null` when the
 * field is present but unusable — the error is already reported, and callers must not report
 * follow-up errors that only restate it.
 */
import type { Issue, SourceLocation } from '../errors';
import { CFG } from './issue-codes';
import type { FieldPath, LocateOptions, RawDocument } from './yaml-source';

/** Collects issues for one document. */
export class Checker {
  /** Errors reported through this checker (a resource with errors is left out of the ResourceSet). */
  errorCount = 0;

  constructor(
    readonly doc: RawDocument,
    readonly issues: Issue[],
  ) {}

  at(path: FieldPath, options?: LocateOptions): SourceLocation {
    return this.doc.locate(path, options);
  }

  error(path: FieldPath, code: string, message: string, options?: LocateOptions): void {
    this.errorCount++;
    this.issues.push({ code, message, location: this.doc.locate(path, options), severity: 'error' });
  }

  warn(path: FieldPath, code: string, message: string, options?: LocateOptions): void {
    this.issues.push({ code, message, location: this.doc.locate(path, options), severity: 'warning' });
  }
}

export function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Own property only: a YAML key named `constructor` must not find Object.prototype's. */
export function own(obj: Record<string, unknown>, key: string): unknown {
  return Object.hasOwn(obj, key) ? obj[key] : undefined;
}

export function describe(v: unknown): string {
  if (v === null || v === undefined) return 'nothing (null)';
  if (Array.isArray(v)) return 'a list';
  if (typeof v === 'object') return 'a map';
  if (typeof v === 'string') return `the string ${JSON.stringify(v)}`;
  if (typeof v === 'number') return `the number ${v}`;
  if (typeof v === 'boolean') return `the boolean ${v}`;
  return typeof v;
}

/** A value as it appears in a message: strings quoted, numbers and booleans bare. */
export function shown(v: unknown): string {
  if (typeof v === 'string') return JSON.stringify(v);
  if (typeof v === 'number' || typeof v === 'boolean') return String(v);
  return describe(v);
}

function last(path: FieldPath): string {
  const l = path[path.length - 1];
  return l === undefined ? 'document' : String(l);
}

/**
 * Report every key of `obj` not in `allowed` as an unknown field, with a "did you mean"
 * suggestion for near misses (wrong case, small typo).
 */
export function checkFields(c: Checker, obj: Record<string, unknown>, path: FieldPath, allowed: readonly string[], where: string): void {
  for (const key of Object.keys(obj)) {
    if (allowed.includes(key)) continue;
    const hint = suggest(key, allowed);
    c.error(
      [...path, key],
      CFG.UNKNOWN_FIELD,
      `unknown field "${key}" in ${where}${hint ? `; did you mean "${hint}"?` : ` (allowed: ${allowed.join(', ')})`}`,
      { key: true },
    );
  }
}

/** The closest allowed word (case-insensitive match, or edit distance <= 2). */
export function suggest(word: string, allowed: readonly string[]): string | undefined {
  const lower = word.toLowerCase();
  const ci = allowed.find((a) => a.toLowerCase() === lower);
  if (ci) return ci;
  let best: string | undefined;
  let bestDist = 3;
  for (const a of allowed) {
    const d = editDistance(lower, a.toLowerCase(), bestDist);
    if (d < bestDist) {
      best = a;
      bestDist = d;
    }
  }
  return best;
}

function editDistance(a: string, b: string, cap: number): number {
  if (Math.abs(a.length - b.length) >= cap) return cap;
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const cur = [i];
    let rowMin = i;
    for (let j = 1; j <= b.length; j++) {
      const v = Math.min(prev[j]! + 1, cur[j - 1]! + 1, prev[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
      cur.push(v);
      if (v < rowMin) rowMin = v;
    }
    if (rowMin >= cap) return cap;
    prev = cur;
  }
  return prev[b.length]!;
}

function typeError(c: Checker, path: FieldPath, expected: string, v: unknown): null {
  c.error(path, CFG.TYPE, `${last(path)} must be ${expected}, found ${describe(v)}`);
  return null;
}

export function readString(c: Checker, obj: Record<string, unknown>, path: FieldPath, key: string): string | null | undefined {
  const v = own(obj, key);
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'string') return typeError(c, [...path, key], 'a string', v);
  return v;
}

export function readBool(c: Checker, obj: Record<string, unknown>, path: FieldPath, key: string): boolean | null | undefined {
  const v = own(obj, key);
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'boolean') return typeError(c, [...path, key], 'true or false', v);
  return v;
}

/** A finite number (YAML int or float). */
export function readNumber(c: Checker, obj: Record<string, unknown>, path: FieldPath, key: string): number | null | undefined {
  const v = own(obj, key);
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'number') return typeError(c, [...path, key], 'a number', v);
  if (!Number.isFinite(v)) {
    c.error([...path, key], CFG.INVALID_VALUE, `${key} must be a finite number, found ${v}`);
    return null;
  }
  return v;
}

/** An integer in [min, max]; out of range is reported with `rangeCode`. */
export function readInt(
  c: Checker,
  obj: Record<string, unknown>,
  path: FieldPath,
  key: string,
  min: number,
  max: number,
  rangeCode: string = CFG.INVALID_VALUE,
): number | null | undefined {
  const v = own(obj, key);
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'number' || !Number.isInteger(v)) return typeError(c, [...path, key], 'an integer', v);
  if (v < min || v > max) {
    c.error([...path, key], rangeCode, `${key} must be between ${min} and ${max}, found ${v}`);
    return null;
  }
  return v;
}

export function readList(c: Checker, obj: Record<string, unknown>, path: FieldPath, key: string): unknown[] | null | undefined {
  const v = own(obj, key);
  if (v === undefined || v === null) return undefined;
  if (!Array.isArray(v)) return typeError(c, [...path, key], 'a list', v);
  return v;
}

export function readMap(c: Checker, obj: Record<string, unknown>, path: FieldPath, key: string): Record<string, unknown> | null | undefined {
  const v = own(obj, key);
  if (v === undefined || v === null) return undefined;
  if (!isRecord(v)) return typeError(c, [...path, key], 'a map', v);
  return v;
}

/** A list whose items must all be strings; bad items are reported and dropped. */
export function readStringList(c: Checker, obj: Record<string, unknown>, path: FieldPath, key: string): string[] | null | undefined {
  const list = readList(c, obj, path, key);
  if (list === undefined || list === null) return list;
  const out: string[] = [];
  let bad = false;
  list.forEach((item, i) => {
    if (typeof item === 'string') out.push(item);
    else {
      bad = true;
      c.error([...path, key, i], CFG.TYPE, `${key}[${i}] must be a string, found ${describe(item)}`);
    }
  });
  return bad ? null : out;
}

/** Check a list length limit (Calico's maxItems). */
export function checkMaxItems(c: Checker, list: readonly unknown[], path: FieldPath, max: number): void {
  if (list.length > max) c.error(path, CFG.TOO_LONG, `${last(path)} has ${list.length} entries; at most ${max} are allowed`);
}
