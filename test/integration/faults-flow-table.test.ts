/**
 * Fault: the flow table is full. The daemon runs in packet mode (every packet reaches userspace)
 * with room for 64 flows, and far more flows are opened. The least recently used flows are evicted;
 * an evicted flow is judged again on its next packet: a long-lived allowed connection keeps
 * working, a denied datagram stream (one flow) stays denied, and after a reload that denies the
 * long-lived connection it stops, evicted or not. Evictions are counted (status) and logged at
 * most once a second with the number evicted since the last record; the records add up to the count.
 */
import { strict as assert } from 'node:assert';
import { copyFileSync } from 'node:fs';
import { join } from 'node:path';
import { createTestLab, IS_ROOT, runInNamespace, spawnInNamespace, startTcpServer, tcpProbe, type NsProcess, type TestLab } from '../helpers/lab';
import { copyPolicyDir, FIXTURES, GUEST_SLOWDOWN, killDaemons, removeDir, SEED_DIR, sleep, startDaemon, startTicker, type Daemon, type Ticker } from './daemon-helpers';
import { countingRule, queueTotals, startLoad, statusOf, tally } from './faults-helpers';

const QUEUE_BASE = 4730;
const CAPACITY = 64;
const DENIED_UDP_PORT = 5353;
const DENIED_UDP_SPORT = 40_053;
const TICK_MS = 250;
const FULL_MSG = 'flow table full: least recently used flows evicted (they are judged again on their next packet)';

/** One UDP flow (fixed source port) to a port the seed denies, a datagram every `everyMs`. */
const UDP_STREAM = `
const dgram = require('dgram');
const c = JSON.parse(process.argv[1]);
const s = dgram.createSocket('udp4');
let n = 0;
s.bind(c.sport, () => {
  console.log('started');
  setInterval(() => { n++; s.send('stream ' + n, c.port, c.host); }, c.everyMs);
});
process.on('SIGTERM', () => { console.log('sent ' + n); process.exit(0); });
setTimeout(() => process.exit(0), c.lifetimeMs);
`;

/** The local port of the one established connection from `ns` to host:port. */
async function localPort(ns: string, host: string, port: number): Promise<number> {
  const r = await runInNamespace(ns, ['ss', '-Htn', 'state', 'established', 'dst', `${host}:${port}`]);
  const ports = r.stdout
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((l) => {
      const local = l.trim().split(/\s+/).slice(-2)[0] ?? '';
      return Number(local.slice(local.lastIndexOf(':') + 1));
    });
  assert.equal(ports.length, 1, `one connection to ${host}:${port}: ${r.stdout}`);
  return ports[0] as number;
}

describe('integration: faults — flow table full (packet mode, 64 flows) @root', function () {
  this.timeout(90_000 * GUEST_SLOWDOWN);
  let lab: TestLab | undefined;
  let dir: string | undefined;
  let d: Daemon | undefined;
  let ticker: Ticker | undefined;
  let tickerPort = 0;
  const procs: NsProcess[] = [];

  before(async function () {
    if (!IS_ROOT) this.skip();
    lab = await createTestLab();
    dir = copyPolicyDir(SEED_DIR);
    const { names: n, addresses: a } = lab;
    for (const port of [22, 80]) procs.push(await startTcpServer(n.maint, { host: a.maint.v4, port, max: 1_000_000, lifetimeMs: 80_000 }));
    d = await startDaemon(lab, { config: dir, queueBase: QUEUE_BASE, mode: 'packet', extraArgs: ['--flow-table-size', String(CAPACITY)], lifetimeMs: 80_000 });
  });

  after(async () => {
    await killDaemons();
    for (const p of procs) await p.stop();
    await ticker?.proc.stop();
    await lab?.destroy();
    removeDir(dir);
  });

  it('evicts the least recently used flows, judges them again on their next packet, counts and logs the evictions', async () => {
    const { names: n, addresses: a } = lab as TestLab;
    const daemon = d as Daemon;
    const fromLog = daemon.logs().length;
    // A line every 250 ms: more than 64 new flows open in between, so the ticker's flow is the
    // least recently used one again and again.
    ticker = await startTicker(n.app, a.maint.v4, 22, { intervalMs: TICK_MS, lifetimeMs: 70_000 });
    tickerPort = await localPort(n.app, a.maint.v4, 22);
    const arrived = await countingRule(n.maint, 'INPUT', ['-p', 'udp', '--dport', String(DENIED_UDP_PORT)]);
    const stream = spawnInNamespace(n.app, [process.execPath, '-e', UDP_STREAM, JSON.stringify({ host: a.maint.v4, port: DENIED_UDP_PORT, sport: DENIED_UDP_SPORT, everyMs: TICK_MS, lifetimeMs: 60_000 })], { lifetimeMs: 61_000 });
    procs.push(stream);
    await stream.waitForLine((l) => l === 'started', 5000);
    await sleep(500);

    // Many more flows than the table holds: short SSH connections (allowed, 200/s) and HTTP
    // connects (denied, 100/s), for 6 s.
    const loadStart = Date.now();
    const load = await startLoad(
      n.app,
      [
        { name: 'ssh', proto: 'tcp', host: a.maint.v4, port: 22, expect: 'allow', everyMs: 5, timeoutMs: 5000 },
        { name: 'http', proto: 'tcp', host: a.maint.v4, port: 80, expect: 'deny', everyMs: 10, timeoutMs: 500 },
      ],
      { durationMs: 6000 },
    );
    // The ticker through the load: its flow is evicted again and again, and it keeps working.
    const windows: number[] = [];
    for (let t = loadStart + 1000; t <= loadStart + 6000; t += 1000) {
      await sleep(Math.max(0, t - Date.now()));
      windows.push(ticker.echoesSince(t - 1000) - ticker.echoesSince(t));
    }
    const attempts = await load.finish();
    // Let the sweeper log the last evictions (it runs every second).
    await sleep(2500);
    const status = await statusOf(daemon.controlSocket);
    const logs = daemon.logs().slice(fromLog);
    const full = logs.filter((e) => e.msg === FULL_MSG);
    const tickerEvicted = logs.filter((e) => e.event === 'flow.end' && e.reason === 'evicted' && e.sport === tickerPort && e.dport === 22);
    const tickerDecided = logs.filter((e) => e.event === 'flow.decided' && e.sport === tickerPort && e.dport === 22);
    console.log(`      flow table: ${JSON.stringify({ flows: status.flows, connections: tally(attempts), tickerEchoesPerSecond: windows, tickerEvicted: tickerEvicted.length, tickerDecided: tickerDecided.length, logRecords: full.map((e) => e.evicted) })}`);

    assert.equal(daemon.proc.child.exitCode, null);
    assert.equal(status.mode, 'packet');
    assert.equal(status.flows.capacity, CAPACITY);
    assert.ok(status.flows.size <= CAPACITY, `size ${status.flows.size}`);
    assert.ok(status.flows.evictions > 500, `evictions ${status.flows.evictions}`);
    // Allowed connections worked, denied ones did not get through.
    assert.deepEqual(attempts.filter((x) => x.outcome !== 'ok' && x.outcome !== 'blocked'), [], JSON.stringify(tally(attempts)));
    assert.ok(attempts.filter((x) => x.outcome === 'ok').length > 300, JSON.stringify(tally(attempts)));
    // The long-lived connection was evicted again and again, and every line came back.
    assert.ok(tickerEvicted.length >= 5, `the ticker's flow was evicted ${tickerEvicted.length} times`);
    assert.ok(windows.every((w) => w >= 1000 / TICK_MS - 1), `ticker echoes per second during the load: ${windows.join(', ')}`);
    assert.ok(ticker.echoesSince(Date.now() - 1000) >= 1000 / TICK_MS - 1, 'and after it');
    // The denied stream (one flow, evicted too) never got through.
    assert.equal(await arrived.count(), 0, 'denied datagrams that reached the maintenance host');
    // Logged at most once a second, with counts that add up to the status counter.
    assert.ok(full.length >= 3, `${full.length} 'flow table full' records`);
    const times = full.map((e) => Date.parse(String(e.time)));
    for (let i = 1; i < times.length; i++) assert.ok(times[i]! - times[i - 1]! >= 900, `records ${times[i]! - times[i - 1]!} ms apart`);
    assert.ok(full.every((e) => e.capacity === CAPACITY && typeof e.evicted === 'number' && e.evicted > 0));
    assert.equal(full.reduce((s, e) => s + Number(e.evicted), 0), status.flows.evictions, 'logged evictions = status evictions');
    // Nothing lost on the way.
    const q = queueTotals(status);
    assert.equal(q.queueDropped + q.userDropped, 0);
    assert.equal(q.answered, q.received);
  });

  it('judges an evicted flow again after a reload: the open connection the new policy denies stops', async () => {
    const { names: n, addresses: a } = lab as TestLab;
    const daemon = d as Daemon;
    const t = ticker as Ticker;
    // Evict the ticker's flow again: 500 new flows a second, far more than 64 between two of its
    // lines. Its next packet finds no entry and starts a new one.
    const evictions = (await statusOf(daemon.controlSocket)).flows.evictions;
    const load = await startLoad(n.app, [{ name: 'ssh', proto: 'tcp', host: a.maint.v4, port: 22, expect: 'allow', everyMs: 2, timeoutMs: 5000 }], { durationMs: 1000 });
    await sleep(1000);
    const burst = await load.finish();
    assert.deepEqual(burst.filter((x) => x.outcome !== 'ok'), []);
    const evicted = (await statusOf(daemon.controlSocket)).flows.evictions - evictions;
    assert.ok(evicted > 4 * CAPACITY, `${evicted} flows evicted by ${burst.length} connections`);
    const since = Date.now();
    await sleep(1000);
    assert.ok(t.echoesSince(since) >= 3, 'the ticker works before the reload');
    // The new policy allows HTTP instead of SSH; open flows are judged again (the default).
    copyFileSync(join(FIXTURES, 'faults', 'deny-ssh-maintenance.yaml'), join(dir as string, 'allow-ssh-maintenance.yaml'));
    const from = daemon.logs().length;
    daemon.signal('SIGHUP');
    await daemon.waitForLog((e) => e.msg === 'policy reloaded' && e.generation === 2, 10_000, from);
    await sleep(300);
    const quiet = Date.now();
    await sleep(1000);
    assert.equal(t.echoesSince(quiet), 0, 'the open SSH connection no longer passes');
    assert.equal((await tcpProbe(n.app, a.maint.v4, 22, { timeoutMs: 1000 })).connected, false, 'a new SSH connection is denied');
    assert.deepEqual(await tcpProbe(n.app, a.maint.v4, 80), { connected: true, echoed: true });
  });
});
