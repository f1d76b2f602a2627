/**
 * The live host model: an address that appears after start brings its `expectedIPs` HEP into
 * force, and an interface created after start is known by its name (HEP `interfaceName`).
 */
import { strict as assert } from 'node:assert';
import { join } from 'node:path';
import { createTestLab, IS_ROOT, runInNamespace, startTcpServer, tcpProbe, type NsProcess, type TestLab } from '../helpers/lab';
import { FIXTURES, killDaemons, startDaemon, type Daemon, GUEST_SLOWDOWN } from './daemon-helpers';

const LATE_IP = '10.20.0.254';
const EXTRA = { router: '10.40.0.1', app: '10.40.0.2' };

async function sh(ns: string, ...argv: string[]): Promise<void> {
  const r = await runInNamespace(ns, argv);
  if (r.code !== 0) throw new Error(`${argv.join(' ')} in ${ns}: ${r.stderr}`);
}

describe('integration: interfaces and addresses that appear after start @root', function () {
  this.timeout(60_000 * GUEST_SLOWDOWN);
  let lab: TestLab | undefined;
  let daemon: Daemon | undefined;
  const servers: NsProcess[] = [];

  before(async function () {
    if (!IS_ROOT) this.skip();
    lab = await createTestLab();
    const { names: n, addresses: a } = lab;
    servers.push(await startTcpServer(n.maint, { host: a.maint.v4, port: 22, lifetimeMs: 50_000 }));
    servers.push(await startTcpServer(n.maint, { host: a.maint.v4, port: 80, lifetimeMs: 50_000 }));
    servers.push(await startTcpServer(n.router, { host: '0.0.0.0', port: 22, lifetimeMs: 50_000 }));
    servers.push(await startTcpServer(n.router, { host: '0.0.0.0', port: 80, lifetimeMs: 50_000 }));
    daemon = await startDaemon(lab, { config: join(FIXTURES, 'late-interfaces'), queueBase: 4300 });
  });

  after(async () => {
    await killDaemons();
    for (const s of servers) await s.stop();
    await lab?.destroy();
  });

  it('starts enforcing an expectedIPs HEP once its address is configured', async () => {
    const { names: n, addresses: a } = lab as TestLab;
    const d = daemon as Daemon;
    assert.deepEqual(await tcpProbe(n.app, a.maint.v4, 80), { connected: true, echoed: true }, 'eth1 is not governed yet');
    const from = d.logs().length;
    await sh(n.router, 'ip', 'addr', 'add', `${LATE_IP}/24`, 'dev', 'eth1');
    await d.waitForLog((e) => e.msg === 'interfaces changed; HEP bindings updated', 10_000, from);
    assert.equal((await tcpProbe(n.app, a.maint.v4, 80, { timeoutMs: 1000 })).connected, false, 'now governed by router.late-ip');
    assert.deepEqual(await tcpProbe(n.app, a.maint.v4, 22), { connected: true, echoed: true });
    const denied = d.logs().find((e) => e.msg === 'packet denied' && e.dport === 80);
    assert.equal(denied?.hep, 'router.late-ip');
  });

  it('names an interface created after start correctly and applies its HEP', async () => {
    const { names: n } = lab as TestLab;
    const d = daemon as Daemon;
    const from = d.logs().length;
    // A new link between the router (eth2) and the application host (eth9).
    await sh(n.router, 'ip', 'link', 'add', 'eth2', 'type', 'veth', 'peer', 'name', 'eth9', 'netns', n.app);
    await sh(n.router, 'ip', 'addr', 'add', `${EXTRA.router}/24`, 'dev', 'eth2');
    await sh(n.app, 'ip', 'addr', 'add', `${EXTRA.app}/24`, 'dev', 'eth9');
    await sh(n.router, 'ip', 'link', 'set', 'eth2', 'up');
    await sh(n.app, 'ip', 'link', 'set', 'eth9', 'up');
    await d.waitForLog((e) => e.msg === 'interfaces changed; HEP bindings updated' && Array.isArray(e.interfaces) && e.interfaces.includes('eth2'), 10_000, from);
    assert.equal((await tcpProbe(n.app, EXTRA.router, 80, { timeoutMs: 1000 })).connected, false, 'local default deny on eth2');
    assert.deepEqual(await tcpProbe(n.app, EXTRA.router, 22), { connected: true, echoed: true }, 'failsafe on eth2');
    const denied = d.logs().slice(from).find((e) => e.msg === 'packet denied' && e.dport === 80 && e.hook === 'filter-input');
    assert.equal(denied?.iif, 'eth2');
    assert.equal(denied?.hep, 'router.eth2');
  });
});
