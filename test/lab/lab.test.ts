import { strict as assert } from 'node:assert';
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { NfqwallError } from '../../src/errors';
import { labDown, labStatus, labUp, type LabStatus } from '../../src/lab/lab';
import { labNames } from '../../src/lab/topology';
import {
  createTestLab,
  IS_ROOT,
  randomLabPrefix,
  remainingNamespaces,
  runInNamespace,
  spawnInNamespace,
  startTcpServer,
  startUdpServer,
  tcpProbe,
  udpProbe,
  type TestLab,
} from '../helpers/lab';

async function ping(ns: string, address: string): Promise<boolean> {
  const r = await runInNamespace(ns, ['ping', '-c', '1', '-W', '2', address], { timeoutMs: 5000 });
  return r.code === 0;
}

describe('lab up/status/down @root', function () {
  this.timeout(30_000);
  let lab: TestLab | undefined;

  before(async function () {
    if (!IS_ROOT) this.skip();
    lab = await createTestLab({ dnat: true });
  });
  after(async () => {
    await lab?.destroy();
  });

  it('forwards application -> maintenance through the router, IPv4 and IPv6', async () => {
    const { names, addresses: a } = lab as TestLab;
    assert.ok(await ping(names.app, a.maint.v4));
    assert.ok(await ping(names.app, a.maint.v6));
    assert.ok(await ping(names.maint, a.app.v4));
    assert.ok(await ping(names.maint, a.app.v6));
  });

  it('carries UDP both ways between the networks, IPv4 and IPv6', async () => {
    const { names, addresses: a } = lab as TestLab;
    const server = await startUdpServer(names.maint, { host: '::', port: 5353, max: 20, lifetimeMs: 10_000 });
    try {
      assert.equal((await udpProbe(names.app, a.maint.v4, 5353)).echoed, true);
      assert.equal((await udpProbe(names.app, a.maint.v6, 5353)).echoed, true);
    } finally {
      await server.stop();
    }
  });

  it('reaches the local workload behind cali1 from both networks, IPv4 and IPv6', async () => {
    const { names, addresses: a } = lab as TestLab;
    assert.ok(await ping(names.app, a.workload.v4));
    assert.ok(await ping(names.maint, a.workload.v6));
    assert.ok(await ping(names.workload, a.app.v4));
  });

  it('DNATs the router 10.10.0.1:8080 to 10.20.0.2:80 when asked', async () => {
    const { names, addresses: a } = lab as TestLab;
    const server = await startTcpServer(names.maint, { host: a.maint.v4, port: 80, max: 1, lifetimeMs: 10_000 });
    try {
      const r = await tcpProbe(names.app, a.router.eth0.v4, 8080, { timeoutMs: 3000 });
      assert.deepEqual(r, { connected: true, echoed: true });
      // The server saw the application host, not the router: DNAT only, no SNAT.
      assert.ok(server.lines.stdout.some((l) => l.startsWith(`conn ${a.app.v4} `)), server.lines.stdout.join('|'));
    } finally {
      await server.stop();
    }
  });

  it('status lists namespaces, addresses, forwarding and DNAT, and no nfqwall rules', async () => {
    const { names } = lab as TestLab;
    const s = await labStatus(names.prefix);
    assert.equal(s.up, true);
    const ns = (role: string) => s.namespaces.find((n) => n.role === role);
    const router = ns('router');
    assert.deepEqual(
      router?.interfaces.map((i) => [i.name, i.addresses]),
      [
        ['eth0', ['10.10.0.1/24', 'fd10:10::1/64']],
        ['eth1', ['10.20.0.1/24', 'fd10:20::1/64']],
        ['cali1', []],
      ],
    );
    assert.deepEqual(ns('app')?.interfaces[0]?.addresses, ['10.10.0.2/24', 'fd10:10::2/64']);
    assert.deepEqual(ns('maint')?.interfaces[0]?.addresses, ['10.20.0.2/24', 'fd10:20::2/64']);
    assert.deepEqual(ns('workload')?.interfaces[0]?.addresses, ['10.65.0.2/32', 'fd10:65::2/128']);
    assert.deepEqual(
      { ...s.router, nfqwall: s.router?.nfqwall.present },
      { ipv4Forwarding: true, ipv6Forwarding: true, dnat: true, nfqwall: false, queues: [] },
    );
  });

  it('status notices nfqwall rules in the router (native table or iptables-nft chains)', async () => {
    const { names } = lab as TestLab;
    const r = names.router;
    const run = async (argv: string[]) => assert.equal((await runInNamespace(r, argv)).code, 0, argv.join(' '));
    await run(['nft', 'add', 'table', 'inet', 'nfqwall']);
    await run(['iptables-nft', '-N', 'NFQWALL-FORWARD']);
    await run(['iptables-nft', '-A', 'FORWARD', '-p', 'udp', '--dport', '9', '-j', 'NFQUEUE', '--queue-num', '9', '--queue-bypass']);
    let s: LabStatus = await labStatus(names.prefix);
    assert.deepEqual(s.router?.nfqwall, { present: true, tables: ['inet nfqwall'], chains: ['ip filter NFQWALL-FORWARD'], queueRules: 1 });
    await run(['nft', 'delete', 'table', 'inet', 'nfqwall']);
    await run(['iptables-nft', '-F', 'FORWARD']);
    await run(['iptables-nft', '-X', 'NFQWALL-FORWARD']);
    s = await labStatus(names.prefix);
    assert.equal(s.router?.nfqwall.present, false);
  });

  it('refuses to build over an existing lab', async () => {
    const { names } = lab as TestLab;
    await assert.rejects(labUp(names.prefix), (e: unknown) => e instanceof NfqwallError && e.code === 'NFQ_LAB_EXISTS');
  });

  it('down removes every namespace, stops what still runs inside, and can run again', async () => {
    const { names } = lab as TestLab;
    const leftover = spawnInNamespace(names.maint, ['sleep', '20'], { lifetimeMs: 25_000 });
    await new Promise((r) => setTimeout(r, 200));
    const first = await labDown(names.prefix);
    assert.deepEqual(first.removed, [names.router, names.app, names.maint, names.workload]);
    assert.ok(first.stoppedPids.includes(leftover.child.pid as number));
    const exit = await leftover.exited;
    assert.equal(exit.signal, 'SIGTERM');
    assert.deepEqual(await remainingNamespaces(names), []);
    assert.deepEqual(await labDown(names.prefix), { removed: [], stoppedPids: [] });
    const s = await labStatus(names.prefix);
    assert.equal(s.up, false);
    assert.equal(s.router, undefined);
  });
});

describe('nfqwall lab (CLI) @root', function () {
  this.timeout(30_000);
  const prefix = randomLabPrefix();
  const bin = join(__dirname, '..', '..', '..', 'bin', 'nfqwall');
  const cli = (...args: string[]) =>
    new Promise<{ code: number; stdout: string; stderr: string }>((resolve) => {
      execFile(process.execPath, [bin, 'lab', ...args, '--name', prefix], { timeout: 20_000 }, (err, stdout, stderr) => {
        resolve({ code: err ? Number((err as { code?: number }).code ?? 1) : 0, stdout, stderr });
      });
    });

  before(function () {
    if (!IS_ROOT) this.skip();
  });
  after(async () => {
    if (IS_ROOT) await labDown(prefix);
  });

  it('up, status --json, down, status', async () => {
    const up = await cli('up');
    assert.equal(up.code, 0, up.stderr);
    assert.match(up.stdout, new RegExp(`lab ${prefix} is up`));
    const st = await cli('status', '--json');
    assert.equal(st.code, 0, st.stderr);
    const s = JSON.parse(st.stdout) as LabStatus;
    assert.equal(s.up, true);
    assert.equal(s.router?.dnat, false);
    const again = await cli('up');
    assert.equal(again.code, 1);
    assert.match(again.stderr, /LAB_EXISTS/);
    assert.equal((await cli('down')).code, 0);
    assert.deepEqual(await remainingNamespaces(labNames(prefix)), []);
    const gone = await cli('status');
    assert.equal(gone.code, 1);
    assert.match(gone.stdout, /: down/);
  });
});
