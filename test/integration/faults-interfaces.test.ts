/**
 * Fault: interface churn. While the daemon runs, an interface named by a HEP (`eth2`, a veth to
 * the application host) is created and deleted 20 times — every other time under a temporary name
 * that the daemon sees first and renamed to `eth2` afterwards — and secondary IPv4 and IPv6
 * addresses come and go on `eth0` and `eth1`. Denied probes run the whole time in tight loops
 * (TCP to the router through eth2 and eth0, UDP to the router, TCP forwarded to the maintenance
 * network) and none may get through; allowed SSH keeps working; the HEP bindings follow without a
 * restart or a reload (same process, same generation).
 */
import { strict as assert } from 'node:assert';
import { copyFileSync } from 'node:fs';
import { join } from 'node:path';
import { createTestLab, IS_ROOT, startTcpServer, startUdpServer, tcpProbe, type NsProcess, type TestLab } from '../helpers/lab';
import { copyPolicyDir, FIXTURES, GUEST_SLOWDOWN, killDaemons, removeDir, SEED_DIR, sleep, startDaemon, type Daemon } from './daemon-helpers';
import { sh, startLoad, statusOf, tally } from './faults-helpers';

const QUEUE_BASE = 4740;
const CYCLES = 20;
const ETH2 = { router: '10.40.0.1', app: '10.40.0.2' };
const REFRESHED = 'interfaces changed; HEP bindings updated';

/** Create the router's eth2 (peer eth9 in the application host), addressed and up. */
async function createEth2(router: string, app: string, viaTemporaryName: string | null, pauseMs: number): Promise<void> {
  if (viaTemporaryName) {
    await sh(router, 'ip', 'link', 'add', viaTemporaryName, 'type', 'veth', 'peer', 'name', 'eth9', 'netns', app);
    // Long enough for the daemon to learn the temporary name before the rename.
    await sleep(pauseMs);
    await sh(router, 'ip', 'link', 'set', viaTemporaryName, 'name', 'eth2');
  } else {
    await sh(router, 'ip', 'link', 'add', 'eth2', 'type', 'veth', 'peer', 'name', 'eth9', 'netns', app);
  }
  await sh(router, 'ip', 'addr', 'add', `${ETH2.router}/24`, 'dev', 'eth2');
  await sh(app, 'ip', 'addr', 'add', `${ETH2.app}/24`, 'dev', 'eth9');
  await sh(app, 'ip', 'link', 'set', 'eth9', 'up');
  await sh(router, 'ip', 'link', 'set', 'eth2', 'up');
}

describe('integration: faults — interface and address churn @root', function () {
  this.timeout(100_000 * GUEST_SLOWDOWN);
  let lab: TestLab | undefined;
  let dir: string | undefined;
  const servers: NsProcess[] = [];

  before(async function () {
    if (!IS_ROOT) this.skip();
    lab = await createTestLab();
    dir = copyPolicyDir(SEED_DIR);
    copyFileSync(join(FIXTURES, 'faults', 'hep-router-eth2.yaml'), join(dir, 'hep-router-eth2.yaml'));
    const n = lab.names;
    for (const port of [22, 80]) {
      servers.push(await startTcpServer(n.maint, { host: '::', port, max: 1_000_000, lifetimeMs: 90_000 }));
      servers.push(await startTcpServer(n.router, { host: '0.0.0.0', port, max: 1_000_000, lifetimeMs: 90_000 }));
    }
    servers.push(await startUdpServer(n.router, { host: '0.0.0.0', port: 5000, max: 1_000_000, lifetimeMs: 90_000 }));
  });

  after(async () => {
    await killDaemons();
    for (const s of servers) await s.stop();
    await lab?.destroy();
    removeDir(dir);
  });

  it('follows every change without a restart and without letting a denied packet through', async () => {
    const { names: n, addresses: a } = lab as TestLab;
    const d: Daemon = await startDaemon(lab as TestLab, { config: dir as string, queueBase: QUEUE_BASE, lifetimeMs: 90_000 });
    const fromLog = d.logs().length;
    const load = await startLoad(
      n.app,
      [
        // Denied: the router itself through eth2 (router.eth2, no policy) and eth0 (router.eth0),
        // its secondary address on eth0, UDP to it, and HTTP forwarded to the maintenance network.
        { name: 'eth2-http', proto: 'tcp', host: ETH2.router, port: 80, expect: 'deny', everyMs: 5, timeoutMs: 300 },
        { name: 'eth0-http', proto: 'tcp', host: a.router.eth0.v4, port: 80, expect: 'deny', everyMs: 20, timeoutMs: 300 },
        { name: 'eth0-http-secondary', proto: 'tcp', host: '10.10.0.200', port: 80, expect: 'deny', everyMs: 20, timeoutMs: 300 },
        { name: 'router-udp', proto: 'udp', host: a.router.eth0.v4, port: 5000, expect: 'deny', everyMs: 20, timeoutMs: 300 },
        { name: 'maint-http', proto: 'tcp', host: a.maint.v4, port: 80, expect: 'deny', everyMs: 20, timeoutMs: 300 },
        { name: 'maint-http6', proto: 'tcp', host: a.maint.v6, port: 80, expect: 'deny', everyMs: 40, timeoutMs: 300 },
        // Allowed all along: SSH forwarded to the maintenance network.
        { name: 'maint-ssh', proto: 'tcp', host: a.maint.v4, port: 22, expect: 'allow', everyMs: 50, timeoutMs: 3000 },
        { name: 'maint-ssh6', proto: 'tcp', host: a.maint.v6, port: 22, expect: 'allow', everyMs: 100, timeoutMs: 3000 },
      ],
      { durationMs: 60_000, maxInflight: 400 },
    );
    const t0 = Date.now();
    for (let i = 0; i < CYCLES; i++) {
      const pause = 50 + ((i * 37) % 250);
      await createEth2(n.router, n.app, i % 2 === 1 ? `tmp${i}` : null, 300);
      // Secondary addresses: added in even cycles, removed in odd ones (the last cycle is odd).
      const op = i % 2 === 0 ? 'add' : 'del';
      await sh(n.router, 'ip', 'addr', op, '10.20.0.254/24', 'dev', 'eth1');
      await sh(n.router, 'ip', 'addr', op, '10.10.0.200/24', 'dev', 'eth0');
      await sh(n.router, 'ip', '-6', 'addr', op, 'fd10:20::99/64', 'dev', 'eth1', ...(op === 'add' ? ['nodad'] : []));
      await sleep(pause);
      await sh(n.router, 'ip', 'link', 'del', 'eth2');
      await sleep(pause / 2);
    }
    // The end state: eth2 once more, the secondary addresses gone.
    await createEth2(n.router, n.app, null, 0);
    const churnMs = Date.now() - t0;
    await d.waitForLog((e) => e.msg === REFRESHED && Date.parse(String(e.time)) > t0 + churnMs - 50 && Array.isArray(e.interfaces) && e.interfaces.includes('eth2'), 10_000, fromLog);
    await sleep(1000);
    const attempts = await load.finish();
    const status = await statusOf(d.controlSocket);
    const refreshes = d.logs().slice(fromLog).filter((e) => e.msg === REFRESHED).length;
    const problems = d.logs().slice(fromLog).filter((e) => (e.level ?? 0) >= 50);
    console.log(`      churn: ${CYCLES} cycles in ${churnMs} ms, ${refreshes} refreshes, ${problems.length} error records; probes ${JSON.stringify(tally(attempts))}`);

    const through = attempts.filter((x) => x.outcome === 'through');
    assert.deepEqual(through, [], 'denied probes that got through');
    const failed = attempts.filter((x) => x.outcome === 'fail');
    assert.deepEqual(failed, [], 'allowed connections that failed');
    for (const target of ['eth2-http', 'eth0-http', 'router-udp', 'maint-http', 'maint-ssh']) {
      assert.ok(attempts.filter((x) => x.target === target).length > 50, `${target} probed all along`);
    }
    // Probes through eth2 while it was up reached the router's rules (not just "no route").
    assert.ok(attempts.some((x) => x.target === 'eth2-http' && x.error === 'timeout'), 'eth2 was probed while it was up');
    assert.deepEqual(problems, [], 'no error records');
    // No restart, no reload: the same process and generation, the bindings refreshed in place.
    assert.equal(d.proc.child.exitCode, null);
    assert.equal(status.generation, 1);
    assert.ok((status.counters.hostRefreshes ?? 0) >= CYCLES, `host refreshes ${status.counters.hostRefreshes}`);
    assert.ok(refreshes >= CYCLES);
    // The final binding: eth2 is router.eth2 (failsafe SSH allowed, HTTP denied).
    const from = d.logs().length;
    assert.equal((await tcpProbe(n.app, ETH2.router, 80, { timeoutMs: 1000 })).connected, false);
    assert.deepEqual(await tcpProbe(n.app, ETH2.router, 22), { connected: true, echoed: true }, 'failsafe on eth2');
    const denied = await d.waitForLog((e) => e.msg === 'packet denied' && e.dport === 80 && e.iif === 'eth2', 5000, from);
    assert.equal(denied.hep, 'router.eth2');
  });
});
