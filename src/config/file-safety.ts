/**
 * Who may change the policy: a configuration file (or a directory holding one) that a user other
 * than root and the daemon's own user can write is an unguarded way around the firewall, so the
 * daemon refuses it. Only the entry itself is checked, not every ancestor directory; for a
 * symbolic link, its target and the directory that holds the target (whoever can write there can
 * swap the target).
 */
import { promises as fs, type Stats } from 'node:fs';
import * as path from 'node:path';
import type { Issue } from '../errors';
import { CFG } from './issue-codes';

const GROUP_OTHER_WRITE = 0o022;

function euid(): number {
  return process.geteuid?.() ?? 0;
}

function octal(mode: number): string {
  return (mode & 0o7777).toString(8).padStart(4, '0');
}

/** Why `st` is not safe for a process running as `euid`, or null when it is. Pure. */
export function unsafeReason(st: { mode: number; uid: number }, euid: number): string | null {
  const why: string[] = [];
  const w = st.mode & GROUP_OTHER_WRITE;
  if (w !== 0) {
    const who = w === GROUP_OTHER_WRITE ? 'group and others' : w === 0o020 ? 'its group' : 'others';
    why.push(`${who} can write it (mode ${octal(st.mode)})`);
  }
  if (st.uid !== 0 && st.uid !== euid) why.push(`it is owned by uid ${st.uid}, not by root${euid !== 0 ? ` or uid ${euid}` : ''}`);
  return why.length === 0 ? null : why.join(' and ');
}

/** The commands that make `target` (a file or directory with these stats) safe. */
function fix(st: { mode: number; uid: number }, target: string, me: number): string {
  const q = shellQuote(target);
  const cmds: string[] = [];
  if ((st.mode & GROUP_OTHER_WRITE) !== 0) cmds.push(`chmod go-w ${q}`);
  if (st.uid !== 0 && st.uid !== me) cmds.push(`chown root ${q}`);
  return cmds.join(' && ');
}

/**
 * An NFQ_CFG_UNSAFE_PERMISSIONS error when `file` (a file or directory; links followed) may be
 * changed by other users, else null. A stat that fails counts as unsafe: the check must not be
 * skipped by making it fail.
 */
export async function checkConfigFileSafety(file: string): Promise<Issue | null> {
  const me = euid();
  const issue = (message: string): Issue => ({ code: CFG.UNSAFE_PERMISSIONS, message, location: { file, line: 1 }, severity: 'error' });
  let st: Stats;
  let link: Stats;
  try {
    link = await fs.lstat(file);
    st = link.isSymbolicLink() ? await fs.stat(file) : link;
  } catch (err) {
    return issue(`cannot check who may change it: ${(err as Error).message}`);
  }
  const what = st.isDirectory() ? 'directory' : 'file';
  const reason = unsafeReason(st, me);
  if (reason !== null) {
    const target = link.isSymbolicLink() ? await fs.realpath(file).catch(() => file) : file;
    const via = target !== file ? ` (the link's target ${target})` : '';
    return issue(`refusing this ${what}${via}: ${reason}, so others could change the firewall policy; fix: ${fix(st, target, me)}`);
  }
  if (!link.isSymbolicLink()) return null;
  let dir: string;
  let dst: Stats;
  try {
    const target = await fs.realpath(file);
    dir = path.dirname(target);
    dst = await fs.stat(dir);
  } catch (err) {
    return issue(`cannot check who may change the link's target: ${(err as Error).message}`);
  }
  const dirReason = unsafeReason(dst, me);
  if (dirReason === null) return null;
  return issue(`refusing this link: the directory of its target, ${dir}, is unsafe: ${dirReason}, so others could replace the target; fix: ${fix(dst, dir, me)}`);
}

function shellQuote(s: string): string {
  return /^[A-Za-z0-9_./:@%+=,-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`;
}
