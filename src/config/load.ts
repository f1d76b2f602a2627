/**
 * I/O: read every .yaml/.yml file of a policy directory in a stable order and validate them
 * together. Hidden files (".name") are skipped; subdirectories are ignored unless `recursive`.
 * Symbolic links are followed, loops are refused, oversized files are refused before reading.
 * With `requireSafePermissions` (the daemon), whatever other users can change is refused too.
 */
import { promises as fs, type Stats } from 'node:fs';
import * as path from 'node:path';
import type { Issue } from '../errors';
import { checkConfigFileSafety } from './file-safety';
import { CFG } from './issue-codes';
import type { ResourceSet } from './resources';
import type { SupportedKind } from './validate-metadata';
import { validateDocuments, type ValidateOptions } from './validate';
import { DEFAULT_MAX_FILE_BYTES, parseYamlDocuments, type RawDocument, type YamlSourceOptions } from './yaml-source';

export interface LoadOptions extends YamlSourceOptions, ValidateOptions {
  /** Descend into subdirectories (default false). */
  recursive?: boolean;
  /**
   * Refuse (NFQ_CFG_UNSAFE_PERMISSIONS) the directory, subdirectories and files that users other
   * than root and this process can write or own; such files are not parsed.
   */
  requireSafePermissions?: boolean;
}

export interface ReadResult {
  documents: RawDocument[];
  issues: Issue[];
  /** Files read, in the order their documents appear. */
  files: string[];
}

export interface LoadResult {
  resources: ResourceSet;
  issues: Issue[];
  files: string[];
  /** Valid user-written resources per kind. */
  counts: Record<SupportedKind, number>;
}

const YAML_EXT = /\.ya?ml$/i;

/** Read, parse and validate a policy directory. Never throws for bad input; see `issues`. */
export async function loadResourceDir(dir: string, options: LoadOptions = {}): Promise<LoadResult> {
  const read = await readResourceDir(dir, options);
  const v = validateDocuments(read.documents, options);
  return { resources: v.resources, issues: sortIssues([...read.issues, ...v.issues], read.files), files: read.files, counts: v.counts };
}

/** Reading order: by file (as read), then line and column; stable for equal positions. */
export function sortIssues(issues: readonly Issue[], files: readonly string[]): Issue[] {
  const rank = new Map(files.map((f, i) => [f, i]));
  const fileRank = (f: string): number => rank.get(f) ?? -1; // directory-level issues first
  return issues
    .map((issue, i) => ({ issue, i }))
    .sort(
      (a, b) =>
        fileRank(a.issue.location.file) - fileRank(b.issue.location.file) ||
        a.issue.location.line - b.issue.location.line ||
        (a.issue.location.column ?? 0) - (b.issue.location.column ?? 0) ||
        a.i - b.i,
    )
    .map((x) => x.issue);
}

/** Read and parse (no validation) every YAML file of `dir`. */
export async function readResourceDir(dir: string, options: LoadOptions = {}): Promise<ReadResult> {
  const out: ReadResult = { documents: [], issues: [], files: [] };
  let st: Stats;
  try {
    st = await fs.stat(dir);
  } catch (err) {
    out.issues.push(ioIssue(dir, err, 'cannot read policy directory', CFG.DIR_READ));
    return out;
  }
  if (!st.isDirectory()) {
    out.issues.push({ code: CFG.DIR_READ, message: 'not a directory: give the directory that holds the policy YAML files', location: { file: dir, line: 1 }, severity: 'error' });
    return out;
  }
  // An unsafe directory is reported and still read, so every problem shows at once.
  if (options.requireSafePermissions) await addSafetyIssue(dir, out);
  await walk(dir, st, new Set(), options, out);
  if (out.files.length === 0 && !out.issues.some((i) => i.severity === 'error')) {
    out.issues.push({ code: CFG.NO_FILES, message: 'no .yaml or .yml files in this directory', location: { file: dir, line: 1 }, severity: 'warning' });
  }
  return out;
}

async function walk(dir: string, st: Stats, visiting: Set<string>, options: LoadOptions, out: ReadResult): Promise<void> {
  const id = `${st.dev}:${st.ino}`;
  visiting.add(id);
  let names: string[];
  try {
    names = (await fs.readdir(dir)).filter((n) => !n.startsWith('.'));
  } catch (err) {
    out.issues.push(ioIssue(dir, err, 'cannot list directory', CFG.DIR_READ));
    return;
  }
  // Byte-wise order, independent of locale.
  names.sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  for (const name of names) {
    const full = path.join(dir, name);
    let entry: Stats;
    try {
      entry = await fs.stat(full); // follows symlinks
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      // A dangling link or unreadable entry matters only if it would have been read.
      if (code === 'ELOOP' || YAML_EXT.test(name)) out.issues.push(ioIssue(full, err, 'cannot read', CFG.FILE_READ));
      continue;
    }
    if (entry.isDirectory()) {
      if (!options.recursive) continue;
      if (visiting.has(`${entry.dev}:${entry.ino}`)) {
        out.issues.push({
          code: CFG.SYMLINK_LOOP,
          message: 'symbolic link loop: this directory leads back to a directory already being read',
          location: { file: full, line: 1 },
          severity: 'error',
        });
        continue;
      }
      if (options.requireSafePermissions) await addSafetyIssue(full, out);
      await walk(full, entry, visiting, options, out);
      continue;
    }
    if (!entry.isFile() || !YAML_EXT.test(name)) continue;
    await readOne(full, entry, options, out);
  }
  visiting.delete(id);
}

async function readOne(file: string, st: Stats, options: LoadOptions, out: ReadResult): Promise<void> {
  const max = options.maxBytes ?? DEFAULT_MAX_FILE_BYTES;
  out.files.push(file);
  if (options.requireSafePermissions && (await addSafetyIssue(file, out))) return;
  if (st.size > max) {
    out.issues.push({
      code: CFG.FILE_TOO_LARGE,
      message: `file is ${st.size} bytes, more than the limit of ${max} bytes; split it into several files`,
      location: { file, line: 1 },
      severity: 'error',
    });
    return;
  }
  let text: string;
  try {
    text = await fs.readFile(file, 'utf8');
  } catch (err) {
    out.issues.push(ioIssue(file, err, 'cannot read', CFG.FILE_READ));
    return;
  }
  const parsed = parseYamlDocuments(text, file, options);
  out.documents.push(...parsed.documents);
  out.issues.push(...parsed.issues);
}

/** True when `p` is unsafe (the issue is added). */
async function addSafetyIssue(p: string, out: ReadResult): Promise<boolean> {
  const issue = await checkConfigFileSafety(p);
  if (issue) out.issues.push(issue);
  return issue !== null;
}

function ioIssue(file: string, err: unknown, what: string, code: string): Issue {
  const e = err as NodeJS.ErrnoException;
  let message = `${what}: ${e.message ?? String(err)}`;
  if (e.code === 'ELOOP') {
    code = CFG.SYMLINK_LOOP;
    message = `${what}: symbolic link loop (the link resolves to itself)`;
  } else if (e.code === 'ENOENT') message = `${what}: no such file or directory${what === 'cannot read' ? ' (broken symbolic link?)' : ''}`;
  else if (e.code === 'EACCES') message = `${what}: permission denied`;
  return { code, message, location: { file, line: 1 }, severity: 'error' };
}
