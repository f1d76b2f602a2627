/**
 * SIGHUP on the live daemon: a new policy decides new flows and (by default) flows that are already
 * open; `--keep-existing-flows` keeps open flows as they were (Calico-like); a broken policy
 * directory changes nothing and is reported with file and line.
 */
import { strict as assert } from 'node:assert';
import { copyFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { createTestLab, IS_ROOT, startTcpServer, tcpProbe, type NsProcess, type TestLab } from '../helpers/lab';
import { copyPolicyDir, FIXTURES, installedRules, killDaemons, removeDir, SEED_DIR, sleep, spawnDaemon, startDaemon, startTicker, type Daemon, type Ticker, GUEST_SLOWDOWN } from './daemon-helpers';

const HTTP_POLICY = join(FIXTURES, 'reload', 'allow-http-maintenance.yaml');
const BROKEN_POLICY = join(FIXTURES, 'reload', 'broken-policy.yaml');

/** Replace the seed's SSH policy by the HTTP one in `dir` and reload; resolves once reloaded. */
async function flipToHttp(d: Daemon, dir: string): Promise<number> {
  copyFileSync(HTTP_POLICY, join(dir, 'allow-ssh-maintenance.yaml'));
  const from = d.logs().length;
  d.signal('SIGHUP');
  await d.waitForLog((e) => e.msg === 'policy reloaded' && e.generation === 2, 10_000, from);
  return Date.now();
}

function reloadSuite(o: { queueBase: number; keepExistingFlows: boolean }) {
  const ctx: { lab?: TestLab; dir?: string; daemon?: Daemon; servers: NsProcess[] } = { servers: [] };
  before(async function () {
    if (!IS_ROOT) this.skip();
    ctx.lab = await createTestLab();
    ctx.dir = copyPolicyDir(SEED_DIR);
    const { names: n, addresses: a } = ctx.lab;
    ctx.servers.push(await startTcpServer(n.maint, { host: a.maint.v4, port: 22, lifetimeMs: 50_000 }));
    ctx.servers.push(await startTcpServer(n.maint, { host: a.maint.v4, port: 80, lifetimeMs: 50_000 }));
    ctx.daemon = await startDaemon(ctx.lab, { config: ctx.dir, queueBase: o.queueBase, keepExistingFlows: o.keepExistingFlows });
  });
  after(async () => {
    await killDaemons();
    for (const s of ctx.servers) await s.stop();
    await ctx.lab?.destroy();
    removeDir(ctx.dir);
  });
  return ctx;
}

/** Open a connection to maint:22 and wait until it carries echoes. */
async function openSshFlow(lab: TestLab): Promise<Ticker> {
  const t = await startTicker(lab.names.app, lab.addresses.maint.v4, 22, { intervalMs: 50, lifetimeMs: 40_000 });
  const since = Date.now();
  for (let i = 0; i < 40 && t.echoesSince(since) < 3; i++) await sleep(50);
  assert.ok(t.echoesSince(since) >= 3, 'the open connection carries traffic before the reload');
  return t;
}

describe('integration: SIGHUP reload, existing flows judged again (default) @root', function () {
  this.timeout(60_000 * GUEST_SLOWDOWN);
  const ctx = reloadSuite({ queueBase: 4250, keepExistingFlows: false });

  it('flips the verdict for new flows and for an open connection', async () => {
    const lab = ctx.lab as TestLab;
    const d = ctx.daemon as Daemon;
    const { names: n, addresses: a } = lab;
    assert.equal((await tcpProbe(n.app, a.maint.v4, 80, { timeoutMs: 1000 })).connected, false);
    const ticker = await openSshFlow(lab);
    const reloadedAt = await flipToHttp(d, ctx.dir as string);
    assert.deepEqual(await tcpProbe(n.app, a.maint.v4, 80), { connected: true, echoed: true }, 'new policy allows HTTP');
    assert.equal((await tcpProbe(n.app, a.maint.v4, 22, { timeoutMs: 1000 })).connected, false, 'new policy denies SSH');
    await sleep(Math.max(0, reloadedAt + 300 - Date.now()));
    const quietFrom = Date.now();
    await sleep(1000);
    assert.equal(ticker.echoesSince(quietFrom), 0, 'the open SSH connection no longer passes');
    const rejudged = d.logs().find((e) => e.msg === 'packet denied' && e.rejudged === true && e.dport === 22);
    assert.ok(rejudged, `the open flow was judged again under generation 2: ${JSON.stringify(d.logs().filter((e) => e.event === 'flow.decided').slice(-8))}`);
    assert.equal(rejudged.generation, 2);
    await ticker.proc.stop();
  });

  it('keeps the policy in force when the new configuration is broken, and reports file and line', async () => {
    const lab = ctx.lab as TestLab;
    const d = ctx.daemon as Daemon;
    const dir = ctx.dir as string;
    const { names: n, addresses: a } = lab;
    copyFileSync(BROKEN_POLICY, join(dir, 'broken-policy.yaml'));
    const from = d.logs().length;
    d.signal('SIGHUP');
    await d.waitForLog((e) => e.msg === 'reload failed: configuration invalid; the previous policy stays in force', 10_000, from);
    const issue = d.logs().slice(from).find((e) => e.code === 'NFQ_CFG_RULE_ACTION');
    assert.ok(issue, 'the configuration error is logged');
    assert.equal(issue.file, join(dir, 'broken-policy.yaml'));
    assert.equal(issue.line, 12);
    assert.match(String(issue.msg), /broken-policy\.yaml:12:\d+: spec\.egress\[0\]\.action: error: invalid action "Allwo"/);
    // Generation 2 (HTTP allowed, SSH denied) is still in force.
    assert.deepEqual(await tcpProbe(n.app, a.maint.v4, 80), { connected: true, echoed: true });
    assert.equal((await tcpProbe(n.app, a.maint.v4, 22, { timeoutMs: 1000 })).connected, false);
    rmSync(join(dir, 'broken-policy.yaml'));
  });
});

describe('integration: SIGHUP reload with --keep-existing-flows @root', function () {
  this.timeout(60_000 * GUEST_SLOWDOWN);
  const ctx = reloadSuite({ queueBase: 4260, keepExistingFlows: true });

  it('applies the new policy to new flows only: the open connection keeps passing', async () => {
    const lab = ctx.lab as TestLab;
    const { names: n, addresses: a } = lab;
    const ticker = await openSshFlow(lab);
    const reloadedAt = await flipToHttp(ctx.daemon as Daemon, ctx.dir as string);
    assert.equal((await tcpProbe(n.app, a.maint.v4, 22, { timeoutMs: 1000 })).connected, false, 'a new SSH connection is denied');
    await sleep(Math.max(0, reloadedAt + 300 - Date.now()));
    const from = Date.now();
    await sleep(1000);
    assert.ok(ticker.echoesSince(from) >= 5, `the open SSH connection keeps passing (${ticker.echoesSince(from)} echoes in 1 s)`);
    await ticker.proc.stop();
  });
});

describe('integration: a daemon started on a broken policy directory @root', function () {
  this.timeout(30_000 * GUEST_SLOWDOWN);
  let lab: TestLab | undefined;
  let dir: string | undefined;

  before(async function () {
    if (!IS_ROOT) this.skip();
    lab = await createTestLab();
    dir = copyPolicyDir(SEED_DIR);
    copyFileSync(BROKEN_POLICY, join(dir, 'broken-policy.yaml'));
  });
  after(async () => {
    await killDaemons();
    await lab?.destroy();
    removeDir(dir);
  });

  it('refuses to start (exit 1), reports every error with file and line, installs nothing', async () => {
    const d = spawnDaemon(lab as TestLab, { config: dir as string, queueBase: 4310 });
    assert.deepEqual(await d.proc.exited, { code: 1, signal: null });
    const issue = d.logs().find((e) => e.code === 'NFQ_CFG_RULE_ACTION');
    assert.equal(issue?.file, join(dir as string, 'broken-policy.yaml'));
    assert.equal(issue?.line, 12);
    assert.ok(d.logs().some((e) => e.msg === 'nfqwall could not start' && e.code === 'NFQ_DAEMON_CONFIG_INVALID'));
    assert.deepEqual((await installedRules((lab as TestLab).names.router)).lines, []);
  });
});
