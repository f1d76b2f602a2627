/**
 * Who may use the control socket: root only.
 *
 * Node has no SO_PEERCRED API, so the server cannot ask who connected. Access is instead decided
 * by the file system, before anyone can connect: the socket's directory is created 0750 and must
 * be owned by the daemon's user and writable by nobody else (otherwise another user could swap the
 * socket); the socket is created with umask 0177 and chmod'ed 0600, so only its owner (root) can
 * connect. Both sides check: the daemon refuses to listen in an unsafe directory, and the client
 * refuses to talk to a socket that another user owns or could have replaced (it would be handing
 * a stranger its requests and trusting its answers).
 */
import { chmod, lstat, mkdir, unlink } from 'node:fs/promises';
import { connect } from 'node:net';
import { dirname } from 'node:path';
import { NfqwallError } from '../errors';

const GROUP_OTHER_WRITE = 0o022;

function euid(): number {
  return process.geteuid?.() ?? 0;
}

function octal(mode: number): string {
  return `0${(mode & 0o7777).toString(8)}`;
}

/** Is something listening on the UNIX socket at `path`? */
export function socketAnswers(path: string, timeoutMs = 500): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect(path);
    const done = (v: boolean) => {
      clearTimeout(t);
      s.destroy();
      resolve(v);
    };
    const t = setTimeout(() => done(false), timeoutMs);
    s.once('connect', () => done(true));
    s.once('error', () => done(false));
  });
}

/**
 * Server side, before listening: create the directory (0750), check it, and remove a stale socket
 * left by a daemon that died. Throws NfqwallError when the place is unsafe or another daemon
 * answers there.
 */
export async function prepareSocketPath(path: string): Promise<void> {
  const dir = dirname(path);
  await mkdir(dir, { recursive: true, mode: 0o750 });
  const st = await lstat(dir);
  if (!st.isDirectory()) throw new NfqwallError('NFQ_CONTROL_UNSAFE', `control socket directory ${dir} is not a directory`);
  if (st.uid !== euid()) throw new NfqwallError('NFQ_CONTROL_UNSAFE', `control socket directory ${dir} is owned by uid ${st.uid}, not by this process (uid ${euid()})`);
  if ((st.mode & GROUP_OTHER_WRITE) !== 0) {
    throw new NfqwallError('NFQ_CONTROL_UNSAFE', `control socket directory ${dir} is writable by group or others (mode ${octal(st.mode)}); use a directory only root can write, such as /run/nfqwall (0750)`);
  }
  let existing;
  try {
    existing = await lstat(path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return;
    throw err;
  }
  if (!existing.isSocket()) throw new NfqwallError('NFQ_CONTROL_UNSAFE', `${path} exists and is not a socket; refusing to replace it`);
  if (await socketAnswers(path)) throw new NfqwallError('NFQ_CONTROL_IN_USE', `another process answers on ${path} (is nfqwall already running?)`);
  await unlink(path);
}

/** Server side, right after listening: the socket is for its owner only. */
export async function restrictSocket(path: string): Promise<void> {
  await chmod(path, 0o600);
}

export type ClientCheck = { ok: true } | { ok: false; missing: boolean; message: string };

/**
 * Client side: is the socket at `path` one the daemon (root, or this same user) made, in a
 * directory nobody else can write?
 */
export async function checkSocketForClient(path: string): Promise<ClientCheck> {
  const me = euid();
  const trusted = (uid: number) => uid === 0 || uid === me;
  let st;
  try {
    st = await lstat(path);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') return { ok: false, missing: true, message: `no control socket at ${path}` };
    if (code === 'EACCES') return { ok: false, missing: false, message: `cannot reach ${path}: permission denied (the control socket is for root only)` };
    throw err;
  }
  if (!st.isSocket()) return { ok: false, missing: false, message: `${path} is not a socket` };
  if (!trusted(st.uid)) return { ok: false, missing: false, message: `${path} is owned by uid ${st.uid}, not by root; refusing to use it` };
  if ((st.mode & GROUP_OTHER_WRITE) !== 0) return { ok: false, missing: false, message: `${path} is writable by group or others (mode ${octal(st.mode)}); refusing to use it` };
  const dir = dirname(path);
  const d = await lstat(dir);
  if (!trusted(d.uid) || (d.mode & GROUP_OTHER_WRITE) !== 0) {
    return { ok: false, missing: false, message: `the socket's directory ${dir} is writable by others or not owned by root (uid ${d.uid}, mode ${octal(d.mode)}); refusing to use it` };
  }
  return { ok: true };
}
