/**
 * `--mode packet`: every packet through a governed interface is judged in userspace (the kernel's
 * queue counters show it), with the same verdicts as flow mode.
 */
import { strict as assert } from 'node:assert';
import { createTestLab, IS_ROOT, startTcpServer, tcpProbe, type NsProcess, type TestLab } from '../helpers/lab';
import { bulkTransfer, killDaemons, queuedSoFar, queueNumbers, SEED_DIR, startDaemon, type Daemon, GUEST_SLOWDOWN } from './daemon-helpers';

const QUEUE_BASE = 4290;
const Q = queueNumbers(QUEUE_BASE);
const BYTES = 1024 * 1024;

describe('integration: packet mode queues every packet @root', function () {
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
    daemon = await startDaemon(lab, { config: SEED_DIR, queueBase: QUEUE_BASE, mode: 'packet' });
  });

  after(async () => {
    await killDaemons();
    for (const s of servers) await s.stop();
    await lab?.destroy();
  });

  it('judges every packet of an allowed 1 MB transfer (both directions) and still denies TCP 80', async () => {
    const { names: n, addresses: a } = lab as TestLab;
    const before = await queuedSoFar(n.router, Q.filterForward);
    const r = await bulkTransfer(n.app, a.maint.v4, 22, BYTES, 15_000);
    assert.equal(r.received, BYTES, JSON.stringify(r));
    const queued = (await queuedSoFar(n.router, Q.filterForward)) - before;
    // 1 MiB each way in segments of at most one MSS (1448 bytes), plus the ACKs.
    const segments = Math.ceil((2 * BYTES) / 1448);
    assert.ok(queued >= segments, `queued ${queued} packets, expected at least ${segments}`);
    assert.equal((await tcpProbe(n.app, a.maint.v4, 80, { timeoutMs: 1000 })).connected, false);
    assert.equal((daemon as Daemon).logs().filter((e) => e.msg === 'packet handling failed; fail-mode verdict given').length, 0);
  });
});
