import { strict as assert } from 'node:assert';
import { spawn } from 'node:child_process';
import { chmodSync, mkdirSync, statSync, writeFileSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { dirname, join } from 'node:path';
import { ControlClientError, connectControl } from '../../src/control/client';
import { LineSplitter, parseRequest } from '../../src/control/protocol';
import { ControlServer } from '../../src/control/server';
import { checkSocketForClient } from '../../src/control/socket-security';
import { NfqwallError } from '../../src/errors';
import type { FlowListing } from '../../src/observe/flows-view';
import { FakeDaemon, RELOAD_FAILED, RELOAD_OK, socketDir, until } from './helpers';

/** A raw client: write lines, collect parsed reply lines. */
function raw(path: string): Promise<{ socket: Socket; lines: Array<Record<string, unknown>>; send(o: unknown): void }> {
  return new Promise((resolve, reject) => {
    const socket = connect(path);
    const lines: Array<Record<string, unknown>> = [];
    const split = new LineSplitter(1 << 26);
    socket.setEncoding('utf8');
    socket.on('data', (c: string) => {
      for (const l of split.push(c)) if ('line' in l) lines.push(JSON.parse(l.line) as Record<string, unknown>);
    });
    socket.once('error', reject);
    socket.once('connect', () => resolve({ socket, lines, send: (o) => socket.write(`${typeof o === 'string' ? o : JSON.stringify(o)}\n`) }));
  });
}

describe('control/server and client over a real UNIX socket', function () {
  this.timeout(30000);
  let tmp: ReturnType<typeof socketDir>;
  let daemon: FakeDaemon;
  let server: ControlServer;

  beforeEach(async () => {
    tmp = socketDir();
    daemon = new FakeDaemon();
    server = await ControlServer.start({ path: tmp.socket, handlers: daemon, traceQueueLimit: 5 });
  });
  afterEach(async () => {
    await server.close();
    tmp.remove();
  });

  it('creates the directory 0750 and the socket 0600, and removes the socket on close', async () => {
    assert.equal(statSync(dirname(tmp.socket)).mode & 0o777, 0o750);
    const st = statSync(tmp.socket);
    assert.ok(st.isSocket());
    assert.equal(st.mode & 0o777, 0o600);
    assert.deepEqual(await checkSocketForClient(tmp.socket), { ok: true });
    await server.close();
    assert.throws(() => statSync(tmp.socket), /ENOENT/);
  });

  it('answers status, and reload with success or every error', async () => {
    const c = await connectControl(tmp.socket);
    try {
      const s = await c.status();
      assert.equal(s.generation, 1);
      assert.equal(s.backend, 'nft');
      daemon.reloads.push(RELOAD_OK, RELOAD_FAILED);
      assert.deepEqual(await c.reload(), RELOAD_OK);
      const failed = await c.reload();
      assert.equal(failed.ok, false);
      assert.deepEqual(failed.issues.map((i) => i.code), ['NFQ_CFG_UNKNOWN_FIELD', 'NFQ_CFG_BAD_SELECTOR', 'NFQ_CFG_NO_EFFECT']);
      assert.equal(daemon.reloadCalls, 2);
      // A handler that throws is an error reply, and the connection stays usable.
      await assert.rejects(c.reload(), (e: ControlClientError) => e.kind === 'remote' && e.remote?.code === 'HANDLER_FAILED' && /no reload scripted/.test(e.message));
      assert.equal((await c.status()).failMode, 'open');
    } finally {
      c.close();
    }
  });

  it('lists flows through the filter, and rejects a bad filter naming the word', async () => {
    daemon.packet('198.51.100.7', 22);
    daemon.packet('198.51.100.7', 80, 40001);
    daemon.packet('192.0.2.5', 443, 40002);
    const c = await connectControl(tmp.socket);
    try {
      const all = (await c.flows('')) as FlowListing;
      assert.equal(all.matched, 3);
      const denied = (await c.flows('verdict deny and not port 443')) as FlowListing;
      assert.deepEqual(denied.rows.map((r) => [r.dport, r.policy, r.rule]), [[80, 'wan-web', 2]]);
      assert.equal(((await c.flows('', 1)) as FlowListing).rows.length, 1);
      await assert.rejects(c.flows('port 22 and hots 10.0.0.1'), (e: ControlClientError) => e.remote?.code === 'BAD_FILTER' && /unknown word 'hots' at word 4/.test(e.message));
    } finally {
      c.close();
    }
  });

  it('rejects malformed requests with an error reply and keeps the connection', async () => {
    const r = await raw(tmp.socket);
    r.send('{not json');
    r.send({ cmd: 'status' });
    r.send({ id: 5, cmd: 'shutdown' });
    r.send({ id: 6, cmd: 'flows', limit: -1 });
    r.send({ id: 7, cmd: 'status' });
    await until(() => r.lines.length >= 5, 5000, 'replies');
    r.socket.destroy();
    assert.deepEqual(
      r.lines.map((l) => [l.id, l.ok, (l.error as { code?: string } | undefined)?.code]),
      [[null, false, 'BAD_REQUEST'], [null, false, 'BAD_REQUEST'], [5, false, 'UNKNOWN_COMMAND'], [6, false, 'BAD_REQUEST'], [7, true, undefined]],
    );
    assert.deepEqual(parseRequest('{"id":"a","cmd":"trace","filter":"port 22"}'), { ok: true, request: { id: 'a', cmd: 'trace', filter: 'port 22' } });
  });

  it('streams matching decisions to a trace client until it disconnects', async () => {
    const c = await connectControl(tmp.socket);
    const events: string[] = [];
    const t = await c.trace('dst port 80', (e) => events.push(`${e.decision.action} ${e.decision.dport} ${e.decision.ruleId}`), () => undefined);
    assert.equal(t.filter, 'dst port 80');
    assert.equal(daemon.hub.subscriberCount, 1);
    daemon.packet('198.51.100.7', 80);
    daemon.packet('198.51.100.7', 22, 40001);
    daemon.packet('192.0.2.5', 80, 40002);
    await until(() => events.length >= 2, 5000, 'events');
    assert.deepEqual(events, ['deny 80 policy:default/wan-web/ingress/2:Deny', 'deny 80 policy:default/wan-web/ingress/2:Deny']);
    c.close();
    await t.done;
    await until(() => daemon.hub.subscriberCount === 0, 5000, 'unsubscribe on disconnect');
    assert.equal(daemon.hub.active, false);
  });

  it('drops and counts events for a slow trace client without ever blocking the daemon', async () => {
    const r = await raw(tmp.socket);
    r.send({ id: 1, cmd: 'trace', filter: '' });
    await until(() => daemon.hub.subscriberCount === 1, 5000, 'subscription');
    await until(() => r.lines.length === 1, 5000, 'trace accepted');
    // The client stops reading: the kernel buffers fill, then the bounded queue, then events drop.
    r.socket.pause();
    const N = 3000;
    const started = process.hrtime.bigint();
    for (let i = 0; i < N; i++) daemon.packet('198.51.100.7', 80, 10000 + i);
    const ms = Number(process.hrtime.bigint() - started) / 1e6;
    r.socket.resume();
    const received = () => r.lines.filter((l) => l.type === 'trace').length;
    const droppedTotal = () => Math.max(0, ...r.lines.filter((l) => l.type === 'dropped').map((l) => l.total as number));
    await until(() => received() + droppedTotal() === N, 10000, `every event delivered or counted (received ${received()}, dropped ${droppedTotal()})`);
    r.socket.destroy();
    assert.ok(droppedTotal() > 0, 'the slow client lost events');
    assert.ok(received() > 5, 'and got the ones that fit');
    const notes = r.lines.filter((l) => l.type === 'dropped');
    assert.equal(notes.reduce((a, l) => a + (l.count as number), 0), droppedTotal(), 'each notice counts the drops since the previous one');
    assert.equal(daemon.hub.stats.matched, N);
    assert.ok(daemon.hub.stats.built < N, 'no explanation is built for a client that cannot take it');
    assert.ok(ms < 20_000, `offering took ${ms} ms`);
  });

  it('refuses a second daemon on the same socket and a world-writable directory; replaces a stale socket', async () => {
    await assert.rejects(ControlServer.start({ path: tmp.socket, handlers: daemon }), (e: NfqwallError) => e.code === 'NFQ_CONTROL_IN_USE');
    const open = join(tmp.dir, 'open');
    mkdirSync(open);
    chmodSync(open, 0o777);
    await assert.rejects(ControlServer.start({ path: join(open, 'control.sock'), handlers: daemon }), (e: NfqwallError) => e.code === 'NFQ_CONTROL_UNSAFE' && /writable by group or others \(mode 0777\)/.test(e.message));
    const plain = join(tmp.dir, 'run', 'nfqwall', 'file.sock');
    writeFileSync(plain, '');
    await assert.rejects(ControlServer.start({ path: plain, handlers: daemon }), /exists and is not a socket/);
    // A socket left behind by a daemon that was killed (nobody answers) is replaced.
    const stalePath = join(tmp.dir, 'run', 'nfqwall', 'stale.sock');
    const child = spawn(process.execPath, ['-e', `require('net').createServer().listen(${JSON.stringify(stalePath)}, () => console.log('up'))`], { stdio: ['ignore', 'pipe', 'inherit'] });
    await new Promise<void>((resolve) => child.stdout!.once('data', () => resolve()));
    child.kill('SIGKILL');
    await new Promise((resolve) => child.once('close', resolve));
    assert.ok(statSync(stalePath).isSocket(), 'the killed process left its socket behind');
    const again = await ControlServer.start({ path: stalePath, handlers: daemon });
    assert.equal((await (await connectControl(stalePath)).status()).generation, 1);
    await again.close();
  });

  it('the client refuses sockets it cannot trust and reports a daemon that is not running', async () => {
    chmodSync(tmp.socket, 0o666);
    await assert.rejects(connectControl(tmp.socket), (e: ControlClientError) => e.kind === 'unsafe' && /writable by group or others/.test(e.message));
    chmodSync(tmp.socket, 0o600);
    chmodSync(dirname(tmp.socket), 0o777);
    await assert.rejects(connectControl(tmp.socket), (e: ControlClientError) => e.kind === 'unsafe' && /directory .* is writable by others/.test(e.message));
    chmodSync(dirname(tmp.socket), 0o750);
    await assert.rejects(connectControl(join(tmp.dir, 'nowhere', 'control.sock')), (e: ControlClientError) => e.kind === 'not-running' && /nfqwall is not running/.test(e.message));
    await server.close();
    await assert.rejects(connectControl(tmp.socket), (e: ControlClientError) => e.kind === 'not-running');
  });

  it('turns away clients beyond the connection limit', async () => {
    const small = await ControlServer.start({ path: join(tmp.dir, 'run', 'nfqwall', 'small.sock'), handlers: daemon, maxClients: 1 });
    try {
      const first = await connectControl(small.path);
      await first.status();
      const second = await connectControl(small.path);
      await assert.rejects(second.status(), (e: ControlClientError) => e.remote?.code === 'BUSY' || e.kind === 'protocol');
      first.close();
    } finally {
      await small.close();
    }
  });
});
