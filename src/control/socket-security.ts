/**
 * Who may use the control socket: root only.
 *
 * Two independent checks guard it.
 *
 * File system, before anyone can connect: the socket's directory is created 0750 and must be owned
 * by the daemon's user and writable by nobody else (otherwise another user could swap the socket);
 * the socket is created with umask 0177 and chmod'ed 0600, so only its owner (root) can connect.
 * Both sides check: the daemon refuses to listen in an unsafe directory, and the client refuses to
 * talk to a socket that another user owns or could have replaced (it would be handing a stranger
 * its requests and trusting its answers).
 *
 * Peer credentials, for every accepted connection: the kernel records who called connect()
 * (SO_PEERCRED: pid, effective uid and gid at connect time), and the server serves only a peer
 * whose uid is 0 or the daemon's own euid. Node has no getsockopt, so `readPeerCredentials` hands
 * the accepted socket's descriptor to a short-lived perl (perl-base, always installed on Debian)
 * as its fd 3 and reads the answer back. This works whatever network namespace either side is in
 * (UNIX path sockets are not per network namespace, and neither are the recorded credentials),
 * unlike a sock_diag lookup (`ss -x`): the accepted socket lives in the client's network
 * namespace, so the daemon's namespace does not even list it. The descriptor goes to fd 3, not 0:
 * for fds 0-2 the child side of spawn clears O_NONBLOCK, and that flag is shared with the
 * daemon's own copy of the socket. The check is bounded in time, runs off the event loop, and
 * fails closed: a peer whose credentials cannot be read in time is refused like a stranger.
 */
import { chmod, lstat, mkdir, unlink } from 'node:fs/promises';
import { spawn } from 'node:child_process';
import { connect, type Socket } from 'node:net';
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

/** Who is at the other end of a UNIX stream socket, as the kernel recorded it at connect(). */
export interface PeerCredentials {
  pid: number;
  uid: number;
  gid: number;
}

export interface PeerCredentialOptions {
  /** Give up (and kill the helper) after this long; default 1000 ms. */
  timeoutMs?: number;
  /** The perl to run (default: `perl` on PATH). */
  perl?: string;
}

export const DEFAULT_PEER_CHECK_TIMEOUT_MS = 1000;

/** Reads SO_PEERCRED of the socket on fd 3 and prints "pid uid gid". */
const PEERCRED_SCRIPT = [
  'use strict; use Socket;',
  'open(my $s, "<&=", 3) or die "fd 3: $!\\n";',
  'my $c = getsockopt($s, SOL_SOCKET, SO_PEERCRED) or die "getsockopt SO_PEERCRED: $!\\n";',
  'length($c) == 12 or die "SO_PEERCRED gave " . length($c) . " bytes\\n";',
  'printf "%d %u %u\\n", unpack("lLL", $c);',
].join(' ');

const MAX_HELPER_OUTPUT = 4096;

/**
 * The credentials of the process that connected `socket` (an accepted UNIX stream socket).
 * Rejects when they cannot be read within the time limit.
 */
export function readPeerCredentials(socket: Socket, opts: PeerCredentialOptions = {}): Promise<PeerCredentials> {
  const timeoutMs = opts.timeoutMs ?? DEFAULT_PEER_CHECK_TIMEOUT_MS;
  return new Promise((resolve, reject) => {
    const fd = (socket as unknown as { _handle?: { fd?: unknown } | null })._handle?.fd;
    if (socket.destroyed || typeof fd !== 'number' || !Number.isInteger(fd) || fd < 0) {
      reject(new Error('the connection has no file descriptor (already closed?)'));
      return;
    }
    let child;
    try {
      // A clean environment: nothing like PERL5OPT or PERL5LIB reaches the helper.
      child = spawn(opts.perl ?? 'perl', ['-e', PEERCRED_SCRIPT], {
        stdio: ['ignore', 'pipe', 'pipe', fd],
        env: { PATH: process.env.PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin', LC_ALL: 'C' },
      });
    } catch (err) {
      reject(err instanceof Error ? err : new Error(String(err)));
      return;
    }
    let out = '';
    let errText = '';
    let settled = false;
    const finish = (err: Error | null, creds?: PeerCredentials) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      if (err) reject(err);
      else resolve(creds!);
    };
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      finish(new Error(`reading the peer's credentials took longer than ${timeoutMs} ms`));
    }, timeoutMs);
    child.stdout!.setEncoding('utf8').on('data', (c: string) => {
      if (out.length < MAX_HELPER_OUTPUT) out += c;
    });
    child.stderr!.setEncoding('utf8').on('data', (c: string) => {
      if (errText.length < MAX_HELPER_OUTPUT) errText += c;
    });
    child.once('error', (err: NodeJS.ErrnoException) => {
      finish(new Error(err.code === 'ENOENT' ? `cannot read the peer's credentials: ${opts.perl ?? 'perl'} not found` : `cannot read the peer's credentials: ${err.message}`));
    });
    child.once('close', (code, signal) => {
      const m = /^(-?\d+) (\d+) (\d+)\n?$/.exec(out);
      if (code === 0 && m) {
        finish(null, { pid: Number(m[1]), uid: Number(m[2]), gid: Number(m[3]) });
        return;
      }
      const why = errText.trim() || (signal ? `killed by ${signal}` : code === 0 ? `unexpected output ${JSON.stringify(out.slice(0, 80))}` : `exit code ${code}`);
      finish(new Error(`cannot read the peer's credentials: ${why}`));
    });
  });
}

/** May a peer with this uid use the control socket? Root, or the daemon's own user. */
export function peerAllowed(uid: number): boolean {
  return uid === 0 || uid === euid();
}
