/**
 * What happens to traffic when the daemon dies (SIGKILL) in each fail mode, and that a restart
 * replaces the leftovers with exactly one copy of the rules. SIGTERM in closed mode keeps the rules.
 */
import { strict as assert } from 'node:assert';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createTestLab, IS_ROOT, startTcpServer, tcpProbe, type NsProcess, type TestLab } from '../helpers/lab';
import { installedRules, killDaemons, queueNumbers, removeDir, SEED_DIR, sleep, startDaemon, startTicker, type DaemonOptions, GUEST_SLOWDOWN } from './daemon-helpers';
import { withoutGeneration } from './faults-helpers';

/** Fail-open from the command line; fail-closed (and the queues) from a settings file. */
function failSuite(failMode: 'open' | 'closed', queueBase: number) {
  const ctx: { lab?: TestLab; servers: NsProcess[]; options: DaemonOptions; dir?: string } = { servers: [], options: { config: SEED_DIR } };
  before(async function () {
    if (!IS_ROOT) this.skip();
    if (failMode === 'open') ctx.options = { config: SEED_DIR, queueBase, failMode };
    else {
      ctx.dir = mkdtempSync(join(tmpdir(), 'nfqwall-it-'));
      const settings = join(ctx.dir, 'settings.yml');
      const q = queueNumbers(queueBase);
      writeFileSync(settings, `failMode: closed\nqueues:\n${Object.entries(q).map(([k, v]) => `  ${k}: ${v}`).join('\n')}\n`);
      ctx.options = { config: SEED_DIR, settingsFile: settings };
    }
    ctx.lab = await createTestLab();
    const { names: n, addresses: a } = ctx.lab;
    ctx.servers.push(await startTcpServer(n.maint, { host: a.maint.v4, port: 22, lifetimeMs: 50_000 }));
    ctx.servers.push(await startTcpServer(n.maint, { host: a.maint.v4, port: 80, lifetimeMs: 50_000 }));
  });
  after(async () => {
    await killDaemons();
    for (const s of ctx.servers) await s.stop();
    await ctx.lab?.destroy();
    removeDir(ctx.dir);
  });
  return ctx;
}

/**
 * The installed rules, sorted, with the restart's rules compared against them. The policy
 * generation is taken out: a restart over a previous run's rules starts at the next generation.
 */
async function rulesOf(lab: TestLab): Promise<string[]> {
  return (await installedRules(lab.names.router)).lines.map(withoutGeneration).sort();
}

describe('integration: fail-open, SIGKILL and restart @root', function () {
  this.timeout(60_000 * GUEST_SLOWDOWN);
  const ctx = failSuite('open', 4270);

  it('keeps traffic flowing while the daemon is dead; a restart installs exactly one copy of the rules', async () => {
    const lab = ctx.lab as TestLab;
    const { names: n, addresses: a } = lab;
    const first = await startDaemon(lab, ctx.options);
    const rules = await rulesOf(lab);
    assert.equal((await tcpProbe(n.app, a.maint.v4, 80, { timeoutMs: 1000 })).connected, false);
    await first.kill();
    assert.deepEqual(await rulesOf(lab), rules, 'a killed daemon leaves its rules behind');
    // Nobody listens on the queues: `--queue-bypass` lets every packet through.
    assert.deepEqual(await tcpProbe(n.app, a.maint.v4, 22), { connected: true, echoed: true });
    assert.deepEqual(await tcpProbe(n.app, a.maint.v4, 80), { connected: true, echoed: true });
    const second = await startDaemon(lab, ctx.options);
    assert.deepEqual(await rulesOf(lab), rules, 'the restart replaced the leftovers: one copy, the same rules');
    assert.deepEqual(await tcpProbe(n.app, a.maint.v4, 22), { connected: true, echoed: true });
    assert.equal((await tcpProbe(n.app, a.maint.v4, 80, { timeoutMs: 1000 })).connected, false, 'enforcing again');
    assert.deepEqual(await second.stop(), { code: 0, signal: null });
    assert.deepEqual(await rulesOf(lab), []);
  });
});

describe('integration: fail-closed, SIGKILL, restart and SIGTERM @root', function () {
  this.timeout(60_000 * GUEST_SLOWDOWN);
  const ctx = failSuite('closed', 4280);

  it('fails new connections while the daemon is dead (open ones keep passing); a restart recovers with one copy of the rules', async () => {
    const lab = ctx.lab as TestLab;
    const { names: n, addresses: a } = lab;
    const first = await startDaemon(lab, ctx.options);
    const rules = await rulesOf(lab);
    // iptables-nft: `-j NFQUEUE --queue-num N`; native nft: `queue to N` (with `flags bypass` in open mode).
    const queuesTo = (l: string) => l.includes('NFQUEUE --queue-num 4283') || /\bqueue (flags \S+ )?to 4283\b/.test(l);
    assert.ok(rules.some(queuesTo), `closed mode (settings file) queues to the configured queue: ${rules.join('\n')}`);
    assert.ok(!rules.some((l) => queuesTo(l) && l.includes('bypass')), 'closed mode queues without bypass');
    const ticker = await startTicker(n.app, a.maint.v4, 22, { intervalMs: 50, lifetimeMs: 30_000 });
    await first.kill();
    assert.equal((await tcpProbe(n.app, a.maint.v4, 22, { timeoutMs: 1500 })).connected, false, 'no new connection without the daemon');
    const since = Date.now();
    await sleep(500);
    assert.ok(ticker.echoesSince(since) >= 3, 'a flow decided before stays in the kernel');
    await ticker.proc.stop();
    const second = await startDaemon(lab, ctx.options);
    assert.deepEqual(await rulesOf(lab), rules, 'the restart replaced the leftovers: one copy, the same rules');
    assert.deepEqual(await tcpProbe(n.app, a.maint.v4, 22), { connected: true, echoed: true });
    assert.equal((await tcpProbe(n.app, a.maint.v4, 80, { timeoutMs: 1000 })).connected, false);
    // A clean stop in closed mode keeps the rules: still nothing new gets through.
    assert.deepEqual(await second.stop(), { code: 0, signal: null });
    assert.deepEqual(await rulesOf(lab), rules);
    assert.equal((await tcpProbe(n.app, a.maint.v4, 22, { timeoutMs: 1000 })).connected, false);
  });
});
