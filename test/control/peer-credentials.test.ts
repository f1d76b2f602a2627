import { strict as assert } from 'node:assert';
import { spawn } from 'node:child_process';
import { chmodSync, mkdirSync, readFileSync, readlinkSync, writeFileSync } from 'node:fs';
import { createServer, connect, type Server, type Socket } from 'node:net';
import { dirname, join } from 'node:path';
import { ControlClientError, connectControl } from '../../src/control/client';
import type { ControlHandlers } from '../../src/control/protocol';
import { ControlServer, ProblemLimiter } from '../../src/control/server';
import { peerAllowed, readPeerCredentials } from '../../src/control/socket-security';
import { FakeDaemon, socketDir, until } from './helpers';

const IS_ROOT = process.geteuid?.() === 0;
const NOBODY = 65534;
const SERVER_JS = join(__dirname, '..', '..', 'src', 'control', 'server.js');

/**
 * A client in its own process: connects, sends one status request, prints what happened as one
 * JSON line ({connected, lines, error}) once the daemon closes the connection.
 */
const CLIENT_SCRIPT = `
const path = process.argv[1];
const r = { connected: false, lines: [], error: null };
const s = require('net').connect(path);
let buf = '';
s.setEncoding('utf8');
s.on('connect', () => { r.connected = true; s.write(JSON.stringify({ id: 1, cmd: 'status' }) + '\\n'); });
s.on('data', (c) => { buf += c; let i; while ((i = buf.indexOf('\\n')) >= 0) { r.lines.push(JSON.parse(buf.slice(0, i))); buf = buf.slice(i + 1); if (r.lines.some((l) => l.ok)) s.end(); } });
s.on('error', (e) => { r.error = e.code || e.message; });
s.on('close', () => { process.stdout.write(JSON.stringify(r) + '\\n'); process.exit(0); });
setTimeout(() => { r.error = 'client timed out'; s.destroy(); }, 15000);
`;

interface ClientResult {
  connected: boolean;
  lines: Array<{ id: number | null; ok: boolean; result?: unknown; error?: { code: string; message: string } }>;
  error: string | null;
}

const AS_NOBODY = ['setpriv', `--reuid=${NOBODY}`, `--regid=${NOBODY}`, '--clear-groups'];
/** A fresh network namespace of its own (needs root). */
const OWN_NETNS = ['unshare', '--net'];

/** Run the client script under `prefix` (e.g. setpriv ..., unshare --net ...). */
function runClient(path: string, prefix: string[] = []): Promise<ClientResult> {
  return new Promise((resolve, reject) => {
    const argv = [...prefix, process.execPath, '-e', CLIENT_SCRIPT, path];
    const child = spawn(argv[0]!, argv.slice(1), { stdio: ['ignore', 'pipe', 'pipe'], cwd: '/' });
    let out = '';
    let err = '';
    child.stdout.setEncoding('utf8').on('data', (c: string) => (out += c));
    child.stderr.setEncoding('utf8').on('data', (c: string) => (err += c));
    child.once('error', reject);
    child.once('close', (code) => {
      try {
        resolve(JSON.parse(out) as ClientResult);
      } catch {
        reject(new Error(`client ${argv.slice(0, -3).join(' ')} exited ${code}: ${err}${out}`));
      }
    });
  });
}

/** Open the socket's directories and the socket itself to everyone, as a careless admin might. */
function openToEveryone(socketPath: string, base: string): void {
  for (let d = dirname(socketPath); d.startsWith(base); d = dirname(d)) chmodSync(d, 0o751);
  chmodSync(socketPath, 0o666);
}

/** Prepare the socket's directories so that others may pass through them (no write for them). */
function traversableDirs(socketPath: string, base: string): void {
  mkdirSync(dirname(socketPath), { recursive: true, mode: 0o751 });
  for (let d = dirname(socketPath); d.startsWith(base); d = dirname(d)) chmodSync(d, 0o751);
}

function nonBlocking(fd: number): boolean {
  const flags = /flags:\s+([0-7]+)/.exec(readFileSync(`/proc/self/fdinfo/${fd}`, 'utf8'));
  return (parseInt(flags![1]!, 8) & 0o4000) !== 0;
}

/** A plain UNIX socket server handing out its accepted sockets, with a connected client. */
async function acceptedPair(path: string): Promise<{ server: Server; accepted: Socket; client: Socket; close(): void }> {
  const server = createServer();
  const accepted = new Promise<Socket>((resolve) => server.once('connection', resolve));
  await new Promise<void>((resolve) => server.listen(path, resolve));
  const client = connect(path);
  const a = await accepted;
  return {
    server,
    accepted: a,
    client,
    close() {
      client.destroy();
      a.destroy();
      server.close();
    },
  };
}

describe('control socket peer credentials (SO_PEERCRED)', function () {
  this.timeout(30000);
  let tmp: ReturnType<typeof socketDir>;

  beforeEach(() => {
    tmp = socketDir();
    mkdirSync(dirname(tmp.socket), { recursive: true, mode: 0o750 });
  });
  afterEach(() => tmp.remove());

  it('reads the connecting process, and leaves the daemon side of the socket non-blocking', async () => {
    const p = await acceptedPair(join(tmp.dir, 'pair.sock'));
    try {
      const fd = (p.accepted as unknown as { _handle: { fd: number } })._handle.fd;
      assert.ok(nonBlocking(fd));
      const creds = await readPeerCredentials(p.accepted);
      assert.deepEqual(creds, { pid: process.pid, uid: process.geteuid!(), gid: process.getegid!() });
      assert.ok(nonBlocking(fd), 'the check must not turn the shared socket into a blocking one');
      // And the connection still works both ways.
      p.client.write('ping\n');
      const got = await new Promise<string>((resolve) => p.accepted.once('data', (d) => resolve(String(d))));
      assert.equal(got, 'ping\n');
    } finally {
      p.close();
    }
  });

  it('fails when the credentials cannot be read: no helper, a helper that hangs, a closed socket', async () => {
    const p = await acceptedPair(join(tmp.dir, 'pair.sock'));
    try {
      await assert.rejects(readPeerCredentials(p.accepted, { perl: join(tmp.dir, 'no-such-perl') }), /no-such-perl not found/);
      const hang = join(tmp.dir, 'hang');
      writeFileSync(hang, '#!/bin/sh\nexec sleep 30\n', { mode: 0o755 });
      const started = Date.now();
      await assert.rejects(readPeerCredentials(p.accepted, { perl: hang, timeoutMs: 300 }), /longer than 300 ms/);
      assert.ok(Date.now() - started < 5000);
      const silent = join(tmp.dir, 'silent');
      writeFileSync(silent, '#!/bin/sh\necho "not a number"\n', { mode: 0o755 });
      await assert.rejects(readPeerCredentials(p.accepted, { perl: silent }), /unexpected output/);
      p.accepted.destroy();
      await assert.rejects(readPeerCredentials(p.accepted), /no file descriptor/);
    } finally {
      p.close();
    }
  });

  it('allows root and the daemon own user only', () => {
    assert.equal(peerAllowed(0), true);
    assert.equal(peerAllowed(process.geteuid!()), true);
    assert.equal(peerAllowed(NOBODY), process.geteuid!() === NOBODY);
  });

  it('refuses every client, unread, when its credentials cannot be read in time (fail closed)', async () => {
    const daemon = new FakeDaemon();
    let statusCalls = 0;
    const handlers: ControlHandlers = {
      status: () => {
        statusCalls++;
        return daemon.status();
      },
      reload: () => daemon.reload(),
      flows: (f, l) => daemon.flows(f, l),
      subscribeTrace: (f, s) => daemon.subscribeTrace(f, s),
    };
    const problems: string[] = [];
    const hanging = await ControlServer.start({ path: tmp.socket, handlers, peerCheckTimeoutMs: 200, peerCredentials: () => new Promise(() => undefined), onProblem: (m) => problems.push(m) });
    try {
      const c = await connectControl(tmp.socket);
      await assert.rejects(c.status(), (e: ControlClientError) => e.kind === 'remote' && e.remote?.code === 'PERMISSION_DENIED' && /could not verify who connected/.test(e.message));
      assert.equal(statusCalls, 0, 'a request from an unverified peer is never handled');
      await until(() => hanging.clientCount === 0, 5000, 'the refused client to be let go');
      assert.deepEqual(problems, ["control connection refused: could not verify the peer's credentials: no answer within 200 ms"]);
    } finally {
      await hanging.close();
    }
    const failing = await ControlServer.start({ path: tmp.socket, handlers, peerCredentials: () => Promise.reject(new Error('helper broke')) });
    try {
      const c = await connectControl(tmp.socket);
      await assert.rejects(c.status(), (e: ControlClientError) => e.remote?.code === 'PERMISSION_DENIED');
      assert.equal(statusCalls, 0);
    } finally {
      await failing.close();
    }
  });

  it('refuses a peer of another uid before reading its request, and reports refusals rate-limited', async () => {
    const daemon = new FakeDaemon();
    let statusCalls = 0;
    const handlers: ControlHandlers = {
      status: () => {
        statusCalls++;
        return daemon.status();
      },
      reload: () => daemon.reload(),
      flows: (f, l) => daemon.flows(f, l),
      subscribeTrace: (f, s) => daemon.subscribeTrace(f, s),
    };
    const problems: string[] = [];
    let uid = 4242;
    const server = await ControlServer.start({
      path: tmp.socket,
      handlers,
      peerCredentials: async () => {
        await new Promise((r) => setTimeout(r, 20));
        return { pid: 77, uid, gid: uid };
      },
      onProblem: (m) => problems.push(m),
    });
    try {
      for (let i = 0; i < 5; i++) {
        const c = await connectControl(tmp.socket);
        await assert.rejects(c.status(), (e: ControlClientError) => e.remote?.code === 'PERMISSION_DENIED' && /root only \(connected as uid 4242\)/.test(e.message));
      }
      assert.equal(statusCalls, 0);
      assert.deepEqual(problems, ['control connection refused: peer uid 4242 (pid 77) is not root'], 'one report for a burst');
      uid = 0;
      const ok = await connectControl(tmp.socket);
      assert.equal((await ok.status()).backend, 'nft');
      ok.close();
      assert.equal(statusCalls, 1);
    } finally {
      await server.close();
    }
    // Closing reports what was held back.
    assert.deepEqual(problems.slice(1), ['4 more like it within 10 s, the last: control connection refused: peer uid 4242 (pid 77) is not root']);
  });

  it('the problem limiter passes one report per interval and sums up the rest', async () => {
    let now = 0;
    const out: string[] = [];
    const l = new ProblemLimiter(1000, (m) => out.push(m), () => now);
    l.report('a');
    now = 10;
    l.report('b');
    now = 20;
    l.report('c');
    assert.deepEqual(out, ['a']);
    now = 1000;
    l.report('d');
    assert.deepEqual(out, ['a', '2 more like it within 1 s, the last: c', 'd']);
    l.stop();
    // With the real clock: the held-back count is reported when the interval ends.
    const real: string[] = [];
    const r = new ProblemLimiter(50, (m) => real.push(m));
    r.report('x');
    r.report('y');
    r.report('z');
    await until(() => real.length === 2, 2000, 'the summary');
    assert.deepEqual(real, ['x', '2 more like it within 50 ms, the last: z']);
    r.stop();
  });

  (IS_ROOT ? describe : describe.skip)('real clients of other users and other network namespaces @root', function () {
    let daemon: FakeDaemon;
    let server: ControlServer;
    let problems: string[];

    beforeEach(async () => {
      traversableDirs(tmp.socket, tmp.dir);
      daemon = new FakeDaemon();
      problems = [];
      server = await ControlServer.start({ path: tmp.socket, handlers: daemon, onProblem: (m) => problems.push(m) });
      // The file system would now let anyone in; only the peer check stands in the way.
      openToEveryone(tmp.socket, tmp.dir);
    });
    afterEach(async () => {
      await server.close();
    });

    it('refuses nobody (uid 65534) although the socket lets it connect, and serves root', async () => {
      const nobody = await runClient(tmp.socket, AS_NOBODY);
      assert.equal(nobody.connected, true, 'file permissions let nobody connect');
      assert.equal(nobody.lines.length, 1, JSON.stringify(nobody));
      assert.deepEqual(nobody.lines[0], { id: null, ok: false, error: { code: 'PERMISSION_DENIED', message: `permission denied: the control socket is for root only (connected as uid ${NOBODY})` } });
      assert.equal(problems.length, 1);
      assert.match(problems[0]!, new RegExp(`^control connection refused: peer uid ${NOBODY} \\(pid \\d+\\) is not root$`));
      const root = await runClient(tmp.socket);
      assert.equal(root.error, null);
      assert.deepEqual(root.lines.map((l) => [l.id, l.ok]), [[1, true]]);
      assert.equal(server.clientCount, 0);
    });

    it('judges a client in another network namespace by its uid too', async () => {
      const root = await runClient(tmp.socket, OWN_NETNS);
      assert.deepEqual(root.lines.map((l) => [l.id, l.ok]), [[1, true]], JSON.stringify(root));
      const nobody = await runClient(tmp.socket, [...OWN_NETNS, ...AS_NOBODY]);
      assert.equal(nobody.connected, true);
      assert.deepEqual(nobody.lines.map((l) => l.error?.code), ['PERMISSION_DENIED']);
    });

    it('works for a daemon in another network namespace than its clients (ip netns exec)', async () => {
      const path = join(dirname(tmp.socket), 'netns.sock');
      const script = `
        const { ControlServer } = require(${JSON.stringify(SERVER_JS)});
        const handlers = { status: () => ({ netns: require('fs').readlinkSync('/proc/self/ns/net') }), reload: async () => { throw new Error('no'); }, flows: () => [], subscribeTrace: () => () => undefined };
        ControlServer.start({ path: ${JSON.stringify(path)}, handlers, onProblem: (m) => process.stderr.write(m + '\\n') }).then((s) => {
          require('fs').chmodSync(${JSON.stringify(path)}, 0o666);
          process.stdout.write('ready\\n');
          process.stdin.on('end', () => s.close().then(() => process.exit(0)));
          process.stdin.resume();
        }, (e) => { console.error(e); process.exit(1); });
      `;
      const child = spawn('unshare', ['--net', process.execPath, '-e', script], { stdio: ['pipe', 'pipe', 'pipe'] });
      let stderr = '';
      child.stderr.setEncoding('utf8').on('data', (c: string) => (stderr += c));
      const exited = new Promise<number | null>((resolve) => child.once('close', resolve));
      try {
        await new Promise<void>((resolve, reject) => {
          child.stdout.once('data', () => resolve());
          child.once('close', () => reject(new Error(`the daemon in its own namespace did not start: ${stderr}`)));
        });
        const daemonNs = readlinkSync(`/proc/${child.pid}/ns/net`);
        assert.notEqual(daemonNs, readlinkSync('/proc/self/ns/net'), 'the daemon runs in a network namespace of its own');
        const c = await connectControl(path, { checkSecurity: false });
        assert.deepEqual(await c.status(), { netns: daemonNs });
        c.close();
        const nobody = await runClient(path, AS_NOBODY);
        assert.equal(nobody.connected, true);
        assert.deepEqual(nobody.lines.map((l) => l.error?.code), ['PERMISSION_DENIED'], JSON.stringify(nobody));
        await until(() => /peer uid 65534 \(pid \d+\) is not root/.test(stderr), 5000, 'the refusal in the daemon log');
      } finally {
        child.stdin.end();
        const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
        await exited;
        clearTimeout(timer);
      }
    });
  });
});
