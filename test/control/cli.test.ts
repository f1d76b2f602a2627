import { strict as assert } from 'node:assert';
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { runFlows } from '../../tools/commands/flows';
import { runReload } from '../../tools/commands/reload';
import { runStatus, type CliIo } from '../../tools/commands/status';
import { runTrace } from '../../tools/commands/trace';
import { ControlServer } from '../../src/control/server';
import { FakeDaemon, RELOAD_FAILED, RELOAD_OK, socketDir, until } from './helpers';
import { runMain } from '../observe/helpers';

const REPO = join(__dirname, '..', '..', '..');

function io(): CliIo & { stdout: string; stderr: string } {
  const o = {
    stdout: '',
    stderr: '',
    out(t: string) {
      o.stdout += t;
    },
    err(t: string) {
      o.stderr += t;
    },
  };
  return o;
}

const cli = runMain;

describe('nfqwall status / reload / flows / trace against a control server', function () {
  this.timeout(30000);
  let tmp: ReturnType<typeof socketDir>;
  let daemon: FakeDaemon;
  let server: ControlServer;

  beforeEach(async () => {
    tmp = socketDir();
    daemon = new FakeDaemon();
    server = await ControlServer.start({ path: tmp.socket, handlers: daemon });
  });
  afterEach(async () => {
    await server.close();
    tmp.remove();
  });

  it('status prints generation, last reload, counts, queues with kernel counters, flows; --json the object', async () => {
    const r = await cli(['status', '--socket', tmp.socket]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^nfqwall: policy generation 1, backend nft, mode flow, fail mode open$/m);
    assert.match(r.stdout, /^last reload: ok at 2026-01-02T03:04:05\.000Z in 7 ms, generation 2$/m);
    assert.match(r.stdout, /^policy: 1 HostEndpoints, 2 tiers, 2 policies, 7 rules$/m);
    assert.match(r.stdout, /^flows: 0 of 1000;/m);
    assert.match(r.stdout, /^  4103\s+filter-forward\s+3\s+2\s+1\s+0\s+0\s+0\s+11\s+2$/m);
    const j = io();
    assert.equal(await runStatus({ socket: tmp.socket, json: true }, j), 0);
    assert.equal((JSON.parse(j.stdout) as { backend: string }).backend, 'nft');
  });

  it('reload prints success, or every error and exits 1', async () => {
    daemon.reloads.push(RELOAD_OK, RELOAD_FAILED);
    const ok = await cli(['reload', '--socket', tmp.socket]);
    assert.equal(ok.code, 0, ok.stderr);
    assert.equal(ok.stdout, 'reload ok: policy generation 2 in force (1 HostEndpoints, 2 tiers, 2 policies, 7 rules), took 7 ms\n');
    const bad = io();
    assert.equal(await runReload({ socket: tmp.socket }, bad), 1);
    const lines = bad.stderr.trimEnd().split('\n');
    assert.equal(lines[0], 'reload FAILED: 2 errors; the previous policy (generation 2) stays in force');
    assert.equal(lines[1], "/etc/nfqwall/policy/wan.yaml:12:7: spec.ingress[1].protocl: error: unknown field 'protocl' [NFQ_CFG_UNKNOWN_FIELD]");
    assert.equal(lines[2], "/etc/nfqwall/policy/wan.yaml:4: spec.selector: error: selector: expected a label name at 'network ==' [NFQ_CFG_BAD_SELECTOR]");
    assert.match(lines[3]!, /warning: ipipEnabled has no effect in nfqwall \[NFQ_CFG_NO_EFFECT\]$/);
  });

  it('flows prints the table for a filter; a bad filter is a usage error before contacting the daemon', async () => {
    daemon.packet('198.51.100.7', 22);
    daemon.packet('198.51.100.7', 80, 40001);
    const r = await cli(['flows', '--socket', tmp.socket, 'dst', 'port', '80']);
    assert.equal(r.code, 0, r.stderr);
    const lines = r.stdout.trimEnd().split('\n');
    assert.match(lines[0]!, /^ID\s+AGE\s+IDLE\s+PROTO\s+SOURCE/);
    assert.match(lines[1]!, /198\.51\.100\.7:40001\s+10\.0\.1\.20:80\s+SYN_SENT\s+deny\s+default\/wan-web#2\s+1\/0/);
    assert.equal(lines[2], '1 of 2 flows matched');
    const json = io();
    assert.equal(await runFlows(['verdict', 'allow'], { socket: tmp.socket, json: true }, json), 0);
    assert.deepEqual((JSON.parse(json.stdout) as { rows: Array<{ dport: number }> }).rows.map((x) => x.dport), [22]);
    const bad = await cli(['flows', '--socket', '/nonexistent/socket', 'port', 'ssh']);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /nfqwall flows: bad filter: 'ssh' \(word 2\) is not a port/);
  });

  it('every command exits 3 with a clear message when the daemon is not running', async () => {
    const gone = join(tmp.dir, 'run', 'nfqwall', 'gone.sock');
    for (const cmd of [['status'], ['reload'], ['flows'], ['trace', 'port', '22']]) {
      const r = await cli([...cmd, '--socket', gone]);
      assert.equal(r.code, 3, `${cmd[0]}: ${r.stderr}`);
      assert.match(r.stderr, new RegExp(`^nfqwall ${cmd[0]}: nfqwall is not running \\(no control socket at ${gone.replace(/[.]/g, '\\.')}\\)`));
    }
    await server.close();
    const r = await cli(['status', '--socket', tmp.socket]);
    assert.equal(r.code, 3);
  });

  it('trace streams explained decisions (in process, stopping after --count)', async () => {
    const out = io();
    const run = runTrace(['dst', 'port', '80'], { socket: tmp.socket, count: 2 }, out);
    await until(() => daemon.hub.subscriberCount === 1, 5000, 'subscription');
    daemon.packet('198.51.100.7', 22);
    daemon.packet('198.51.100.7', 80, 40001);
    daemon.packet('198.51.100.9', 80, 40002);
    assert.equal(await run, 0);
    const events = out.stdout.split(/\n(?=\d{4}-)/);
    assert.equal(events.length, 2);
    assert.match(events[0]!, /DENY tcp 198\.51\.100\.7:40001 -> 10\.0\.1\.20:80 iif eth0 oif eth2 ct new at filter-forward/);
    assert.match(events[0]!, /rule 0 Allow no match: destination\.ports: destination port 80; the rule wants 22/);
    assert.match(events[0]!, /=> deny \(drop\) by tier default \/ policy wan-web rule 2 on gw1-eth0/);
    assert.match(out.stderr, /tracing decisions matching: dst port 80/);
    await until(() => daemon.hub.subscriberCount === 0, 5000, 'unsubscribe');
  });

  it('nfqwall trace runs until Ctrl-C (a real process, SIGINT) and exits 0', async () => {
    const child = spawn(process.execPath, [join(REPO, 'bin', 'nfqwall'), 'trace', '--socket', tmp.socket, '--json', 'verdict', 'deny'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (c: string) => (stdout += c));
    child.stderr.setEncoding('utf8').on('data', (c: string) => (stderr += c));
    const exited = new Promise<number | null>((resolve) => child.once('close', (code) => resolve(code)));
    try {
      await until(() => daemon.hub.subscriberCount === 1, 10000, `the trace subscription (${stderr})`);
      daemon.packet('198.51.100.7', 80, 40001);
      daemon.packet('198.51.100.7', 22, 40002);
      daemon.packet('203.0.113.66', 443, 40003);
      await until(() => stdout.split('\n').filter((l) => l !== '').length >= 2, 10000, 'two events');
      child.kill('SIGINT');
      assert.equal(await exited, 0, stderr);
    } finally {
      if (child.exitCode === null) child.kill('SIGKILL');
    }
    const events = stdout.trimEnd().split('\n').map((l) => JSON.parse(l) as { decision: { policy: string; rule: number; dport: number } });
    assert.deepEqual(events.map((e) => [e.decision.dport, e.decision.policy, e.decision.rule]), [[80, 'wan-web', 2], [443, 'security.block-bad', 0]]);
    await until(() => daemon.hub.subscriberCount === 0, 5000, 'unsubscribe after Ctrl-C');
  });
});
