import { strict as assert } from 'node:assert';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { resolveSettings as resolveLoud } from '../../tools/commands/run';
import { hostFromIproute, monitorCommand } from '../../src/daemon/live-host';
import { CLOSE_INHERITED_FDS_SCRIPT } from '../../src/daemon/watcher-command';

/** resolveSettings with its complaints (on stderr) kept out of the test output. */
function resolveSettings(opts: Parameters<typeof resolveLoud>[0]): ReturnType<typeof resolveLoud> {
  const write = process.stderr.write;
  process.stderr.write = (() => true) as typeof process.stderr.write;
  try {
    return resolveLoud(opts);
  } finally {
    process.stderr.write = write;
  }
}

describe('daemon settings: file + command line', () => {
  let dir: string;
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'nfqwall-settings-'));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('--queue-base numbers the seven queues in plan order; overrides win over the file', () => {
    const file = join(dir, 'a.yaml');
    writeFileSync(file, 'failMode: closed\nqueues:\n  filterForward: 9\nlog:\n  format: pretty\n');
    const s = resolveSettings({ settings: file, config: '/p', node: 'gw1', queueBase: '300', keepExistingFlows: true, socketBuffer: '1048576' });
    assert.ok(s);
    assert.deepEqual(Object.values(s.queues), [300, 301, 302, 303, 304, 305, 306]);
    assert.equal(s.failMode, 'closed');
    assert.equal(s.log.format, 'pretty');
    assert.equal(s.policyDir, '/p');
    assert.equal(s.node, 'gw1');
    assert.equal(s.existingFlowsOnReload, 'keep');
    assert.equal(s.socketBufferBytes, 1048576);
  });

  it('the error verdict follows the fail mode unless set', () => {
    assert.equal(resolveSettings({ settings: join(dir, 'none.yaml'), failMode: 'open' }), null, 'an unreadable settings file is an error');
    const empty = join(dir, 'empty.yaml');
    writeFileSync(empty, '');
    assert.equal(resolveSettings({ settings: empty, failMode: 'open' })?.errorVerdict, 'accept');
    assert.equal(resolveSettings({ settings: empty, failMode: 'closed' })?.errorVerdict, 'drop');
    assert.equal(resolveSettings({ settings: empty, failMode: 'closed', errorVerdict: 'accept' })?.errorVerdict, 'accept');
    const file = join(dir, 'ev.yaml');
    writeFileSync(file, 'failMode: closed\nerrorVerdict: accept\n');
    assert.equal(resolveSettings({ settings: file })?.errorVerdict, 'accept');
  });

  it('refuses unknown fields and bad values', () => {
    const file = join(dir, 'bad.yaml');
    writeFileSync(file, 'failmode: closed\n');
    assert.equal(resolveSettings({ settings: file }), null);
    const empty = join(dir, 'empty2.yaml');
    writeFileSync(empty, '');
    assert.equal(resolveSettings({ settings: empty, mode: 'sometimes' }), null);
  });
});

describe('daemon live host', () => {
  it('reads interfaces, addresses, connected routes and ifindex names from iproute2 JSON', () => {
    const live = hostFromIproute(
      [
        { ifindex: 1, ifname: 'lo', addr_info: [{ family: 'inet', local: '127.0.0.1', prefixlen: 8 }] },
        { ifindex: 7, ifname: 'eth1', addr_info: [{ family: 'inet', local: '10.20.0.1', prefixlen: 24 }, { family: 'inet6', local: 'fd10:20::1', prefixlen: 64 }] },
        { ifindex: 9, ifname: 'cali1' },
      ],
      [{ dst: '10.20.0.0/24', dev: 'eth1' }, { dst: 'default', dev: 'eth1' }, { dst: '10.65.0.2', dev: 'cali1' }],
      { node: 'router', workloadInterfacePrefix: 'cali', unmanagedVerdict: 'accept' },
    );
    assert.equal(live.names.get(7), 'eth1');
    const eth1 = live.host.interfaces.find((i) => i.name === 'eth1');
    assert.deepEqual(eth1?.addresses, ['10.20.0.1/24', 'fd10:20::1/64']);
    assert.deepEqual(eth1?.routes, ['10.20.0.0/24']);
    assert.equal(live.host.interfaces.find((i) => i.name === 'cali1')?.workload, true);
  });

  it('runs ip monitor so that it dies with the daemon when setpriv is there', () => {
    assert.deepEqual(monitorCommand({ setpriv: true, bash: true }), ['setpriv', '--pdeathsig', 'KILL', 'bash', '-c', CLOSE_INHERITED_FDS_SCRIPT, 'ip', 'monitor', 'link', 'address']);
    assert.deepEqual(monitorCommand({ setpriv: false, bash: false }), ['ip', 'monitor', 'link', 'address']);
  });
});
