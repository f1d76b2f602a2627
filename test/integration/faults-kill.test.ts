/**
 * Fault: SIGKILL under load, in each fail mode (test/integration/fail-modes.test.ts covers a kill
 * with no traffic running). Connections are opened continuously — allowed SSH and denied HTTP —
 * and a long-lived connection runs, while the daemon is killed, stays dead for 3 s and is
 * started again. While the policy directory is unchanged nothing may be lost:
 *   open:   allowed connections keep working all the time (denied ones pass while nobody judges);
 *   closed: nothing new passes while the daemon is dead; the open connection keeps passing.
 * After the kill the daemon's helpers (`ip monitor`, `conntrack -E`, started via setpriv
 * --pdeathsig KILL) are gone and no queue is left bound; after the restart exactly one copy of
 * the rules is installed and denied connections are denied again.
 *
 * Then the daemon is killed once more, the policy is changed while it is dead (SSH denied, HTTP
 * allowed) and it is started again: flows decided by the killed daemon must be judged again by
 * the new one (the open SSH connection stops), nothing stale stays in force.
 */
import { strict as assert } from 'node:assert';
import { copyFileSync } from 'node:fs';
import { join } from 'node:path';
import { createTestLab, IS_ROOT, readQueueStatsIn, startTcpServer, tcpProbe, type NsProcess, type TestLab } from '../helpers/lab';
import { copyPolicyDir, FIXTURES, GUEST_SLOWDOWN, installedRules, killDaemons, queueNumbers, removeDir, SEED_DIR, sleep, startDaemon, startTicker, waitUntil, type Daemon, type DaemonOptions } from './daemon-helpers';
import { childrenOf, commandLine, startLoad, statusOf, tally, withoutGeneration, type Attempt } from './faults-helpers';

const DEAD_MS = 3000;

/** The installed rules, sorted, generation aside (a restart starts at the next one). */
async function rulesOf(lab: TestLab): Promise<string[]> {
  return (await installedRules(lab.names.router)).lines.map(withoutGeneration).sort();
}

/** Kill the daemon; check its helpers died with it and its queues are unbound. */
async function killAndCheck(lab: TestLab, d: Daemon, queueBase: number): Promise<void> {
  const children = await childrenOf(d.pid);
  const cmds = children.map((p) => commandLine(p) ?? '');
  assert.ok(cmds.some((c) => c.includes('monitor')), `the daemon runs ip monitor: ${JSON.stringify(cmds)}`);
  assert.ok(cmds.some((c) => c.includes('conntrack')), `the daemon runs conntrack -E (flow mode, --log-flows): ${JSON.stringify(cmds)}`);
  await d.kill();
  await waitUntil(`the daemon's helpers to end (${cmds.join(' | ')})`, 3000, () => (children.every((p) => commandLine(p) === null) ? true : undefined));
  const ours = Object.values(queueNumbers(queueBase));
  const bound = (await readQueueStatsIn(lab.names.router)).filter((q) => ours.includes(q.queueNumber));
  assert.deepEqual(bound, [], 'no queue of the killed daemon is still bound');
}

function killSuite(failMode: 'open' | 'closed', queueBase: number) {
  describe(`integration: faults — SIGKILL under load, fail-${failMode} @root`, function () {
    this.timeout(100_000 * GUEST_SLOWDOWN);
    let lab: TestLab | undefined;
    let dir: string | undefined;
    const servers: NsProcess[] = [];
    let options: DaemonOptions;

    before(async function () {
      if (!IS_ROOT) this.skip();
      lab = await createTestLab();
      dir = copyPolicyDir(SEED_DIR);
      options = { config: dir, queueBase, failMode, lifetimeMs: 90_000 };
      for (const port of [22, 80]) servers.push(await startTcpServer(lab.names.maint, { host: lab.addresses.maint.v4, port, max: 1_000_000, lifetimeMs: 90_000 }));
    });

    after(async () => {
      await killDaemons();
      for (const s of servers) await s.stop();
      await lab?.destroy();
      removeDir(dir);
    });

    it('keeps the fail mode\'s promise while dead and recovers with one copy of the rules', async () => {
      const l = lab as TestLab;
      const { names: n, addresses: a } = l;
      const first = await startDaemon(l, options);
      const rules = await rulesOf(l);
      const ticker = await startTicker(n.app, a.maint.v4, 22, { intervalMs: 50, lifetimeMs: 60_000 });
      const load = await startLoad(
        n.app,
        [
          { name: 'ssh', proto: 'tcp', host: a.maint.v4, port: 22, expect: 'allow', everyMs: 20, timeoutMs: 4000 },
          { name: 'http', proto: 'tcp', host: a.maint.v4, port: 80, expect: 'deny', everyMs: 50, timeoutMs: 500 },
        ],
        { durationMs: 30_000 },
      );
      await sleep(1500);
      const killedAt = Date.now();
      await killAndCheck(l, first, queueBase);
      assert.deepEqual(await rulesOf(l), rules, 'a killed daemon leaves its rules behind');
      // Dead: probe explicitly, then look at the load's attempts made in the window.
      const probe = await tcpProbe(n.app, a.maint.v4, 22, { timeoutMs: 1500 });
      if (failMode === 'open') assert.deepEqual(probe, { connected: true, echoed: true }, 'fail-open: a new connection passes');
      else assert.equal(probe.connected, false, 'fail-closed: no new connection');
      await sleep(Math.max(0, killedAt + DEAD_MS - Date.now()));
      const deadUntil = Date.now();
      const tickerWhileDead = ticker.echoesSince(killedAt + 200) - ticker.echoesSince(deadUntil);
      const second = await startDaemon(l, options);
      const restartedAt = Date.now();
      assert.deepEqual(await rulesOf(l), rules, 'the restart replaced the leftovers: one copy, the same rules');
      assert.equal((await statusOf(second.controlSocket)).generation, 2, 'the restart starts after the killed run\'s generation');
      await sleep(2000);
      const attempts = await load.finish();
      const inWindow = (x: Attempt, from: number, to: number) => x.start >= from && x.start < to;
      const dead = attempts.filter((x) => inWindow(x, killedAt + 100, deadUntil));
      const afterRestart = attempts.filter((x) => x.start >= restartedAt + 200);
      console.log(`      kill, fail-${failMode}: before ${JSON.stringify(tally(attempts.filter((x) => x.start < killedAt)))}, dead ${JSON.stringify(tally(dead))}, after restart ${JSON.stringify(tally(afterRestart))}; ticker echoes while dead ${tickerWhileDead}`);

      assert.ok(tickerWhileDead >= 20, `the open connection kept passing while the daemon was dead (${tickerWhileDead} echoes)`);
      assert.ok(dead.length > 20 && afterRestart.length > 20, 'connections were attempted all along');
      if (failMode === 'open') {
        assert.deepEqual(attempts.filter((x) => x.outcome === 'fail'), [], 'fail-open: no allowed connection failed, before, during or after');
        assert.ok(dead.some((x) => x.target === 'http' && x.outcome === 'through'), 'fail-open: unjudged traffic passes while dead');
      } else {
        assert.deepEqual(attempts.filter((x) => x.outcome === 'through'), [], 'fail-closed: no denied connection got through, ever');
        // A connection whose SYN was dropped while dead may still succeed after the restart (its
        // retransmission is judged by the new daemon); none may complete before the restart.
        assert.deepEqual(dead.filter((x) => x.outcome === 'ok' && x.end < restartedAt - 500), [], 'fail-closed: nothing new passed while dead');
      }
      assert.deepEqual(attempts.filter((x) => x.end < killedAt && x.outcome !== 'ok' && x.outcome !== 'blocked'), [], 'before the kill: allowed worked, denied blocked');
      // Enforcing again after the restart.
      assert.deepEqual(afterRestart.filter((x) => x.outcome === 'fail' || x.outcome === 'through'), [], `after the restart: ${JSON.stringify(tally(afterRestart))}`);
      assert.ok(ticker.echoesSince(Date.now() - 1000) >= 10, 'the open connection still passes');

      // Killed again; the policy changes while the daemon is dead; the restart must judge the open
      // connection (decided by the killed daemon) again.
      await killAndCheck(l, second, queueBase);
      copyFileSync(join(FIXTURES, 'faults', 'deny-ssh-maintenance.yaml'), join(dir as string, 'allow-ssh-maintenance.yaml'));
      const third = await startDaemon(l, options);
      assert.equal((await statusOf(third.controlSocket)).generation, 3);
      assert.equal((await installedRules(n.router)).jumps.length, rules.filter((r) => /^\S+: -A (PREROUTING|INPUT|FORWARD|OUTPUT|POSTROUTING) /.test(r)).length, 'one copy of the rules');
      await sleep(500);
      const quiet = Date.now();
      await sleep(1000);
      assert.equal(ticker.echoesSince(quiet), 0, 'the open SSH connection, decided by the killed daemon, is judged again and denied');
      assert.equal((await tcpProbe(n.app, a.maint.v4, 22, { timeoutMs: 1000 })).connected, false);
      assert.deepEqual(await tcpProbe(n.app, a.maint.v4, 80), { connected: true, echoed: true });
      assert.deepEqual(await third.stop(), { code: 0, signal: null });
      await ticker.proc.stop();
    });
  });
}

killSuite('open', 4750);
killSuite('closed', 4760);
