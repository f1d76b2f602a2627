import { strict as assert } from 'node:assert';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const REPO = join(__dirname, '..', '..', '..');
const UNIT = join(REPO, 'systemd', 'nfqwall.service');
const INSTALLED_CLI = '/usr/local/bin/nfqwall';
const ANALYZE = '/usr/bin/systemd-analyze';

/** Key=value lines of one section. */
function section(text: string, name: string): Array<[string, string]> {
  const out: Array<[string, string]> = [];
  let inside = false;
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (line.startsWith('[')) inside = line === `[${name}]`;
    else if (inside && line !== '' && !line.startsWith('#')) {
      const i = line.indexOf('=');
      out.push([line.slice(0, i), line.slice(i + 1)]);
    }
  }
  return out;
}

function value(text: string, sec: string, key: string): string[] {
  return section(text, sec)
    .filter(([k]) => k === key)
    .map(([, v]) => v);
}

describe('systemd/nfqwall.service', () => {
  const text = readFileSync(UNIT, 'utf8');

  (existsSync(ANALYZE) ? it : it.skip)('passes systemd-analyze verify without a warning', function () {
    this.timeout(30000);
    // verify insists that ExecStart's binary exists: point a copy at this checkout's CLI.
    const dir = mkdtempSync(join(tmpdir(), 'nfqwall-unit-'));
    try {
      assert.ok(text.includes(INSTALLED_CLI));
      const unit = join(dir, 'nfqwall.service');
      writeFileSync(unit, text.split(INSTALLED_CLI).join(join(REPO, 'bin', 'nfqwall')));
      const r = spawnSync(ANALYZE, ['verify', unit], { encoding: 'utf8', timeout: 25000 });
      assert.equal(r.status, 0, `${r.stdout}${r.stderr}`);
      assert.equal(r.stderr.trim(), '', 'no warnings (unknown keys, bad values) either');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('runs the installed CLI on /etc/nfqwall, reloads with SIGHUP and restarts on failure', () => {
    assert.deepEqual(value(text, 'Service', 'ExecStart'), [`${INSTALLED_CLI} run --settings /etc/nfqwall/nfqwall.yaml --config /etc/nfqwall/policy`]);
    assert.deepEqual(value(text, 'Service', 'ExecReload'), ['/bin/kill -HUP $MAINPID']);
    assert.deepEqual(value(text, 'Service', 'Restart'), ['on-failure']);
    assert.deepEqual(value(text, 'Service', 'RuntimeDirectory'), ['nfqwall']);
    assert.deepEqual(value(text, 'Service', 'RuntimeDirectoryMode'), ['0750']);
  });

  it('keeps only CAP_NET_ADMIN and the hardening that still lets it manage nftables and queues', () => {
    assert.deepEqual(value(text, 'Service', 'CapabilityBoundingSet'), ['CAP_NET_ADMIN']);
    assert.deepEqual(value(text, 'Service', 'AmbientCapabilities'), ['CAP_NET_ADMIN']);
    for (const [k, v] of [['ProtectSystem', 'strict'], ['ProtectHome', 'yes'], ['PrivateTmp', 'yes'], ['NoNewPrivileges', 'yes'], ['ProtectKernelTunables', 'yes'], ['ProtectKernelModules', 'yes']] as const) {
      assert.deepEqual(value(text, 'Service', k), [v], k);
    }
    // Node's JIT needs W^X off; the sysctl the daemon needs is set before the sandbox applies.
    assert.deepEqual(value(text, 'Service', 'MemoryDenyWriteExecute'), ['no']);
    assert.ok(value(text, 'Service', 'ExecStartPre').some((v) => v.startsWith('-+') && v.includes('net.netfilter.nf_conntrack_acct=1')));
    assert.match(value(text, 'Service', 'RestrictAddressFamilies')[0] ?? '', /AF_NETLINK/);
  });
});
