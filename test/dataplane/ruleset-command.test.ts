import { strict as assert } from 'node:assert';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { main } from '../../tools/cli';

const RESOURCES = `apiVersion: projectcalico.org/v3
kind: HostEndpoint
metadata:
  name: r.wan
  labels: { role: wan }
spec:
  interfaceName: wan0
  node: r
---
apiVersion: projectcalico.org/v3
kind: HostEndpoint
metadata:
  name: other.eth9
spec:
  interfaceName: eth9
  node: other
---
apiVersion: projectcalico.org/v3
kind: GlobalNetworkPolicy
metadata:
  name: block-public
spec:
  selector: role == 'wan'
  preDNAT: true
  applyOnForward: true
  types: [Ingress]
  ingress:
    - action: Deny
      source: { nets: [192.0.2.0/24] }
---
apiVersion: projectcalico.org/v3
kind: GlobalNetworkPolicy
metadata:
  name: forward-in
spec:
  selector: role == 'wan'
  applyOnForward: true
  types: [Ingress]
  ingress:
    - action: Allow
`;

/** Run the CLI, capturing what it writes. */
async function cli(args: string[]): Promise<{ code: number; out: string; err: string }> {
  const out: string[] = [];
  const err: string[] = [];
  const w = { out: process.stdout.write.bind(process.stdout), err: process.stderr.write.bind(process.stderr) };
  process.stdout.write = ((s: string) => out.push(s) > 0) as typeof process.stdout.write;
  process.stderr.write = ((s: string) => err.push(s) > 0) as typeof process.stderr.write;
  try {
    const code = await main(['node', 'nfqwall', ...args]);
    return { code, out: out.join(''), err: err.join('') };
  } finally {
    process.stdout.write = w.out;
    process.stderr.write = w.err;
  }
}

describe('nfqwall ruleset', function () {
  let dir: string;
  before(function () {
    dir = mkdtempSync(join(tmpdir(), 'nfqwall-ruleset-'));
    writeFileSync(join(dir, 'resources.yaml'), RESOURCES);
  });
  after(function () {
    rmSync(dir, { recursive: true, force: true });
  });

  it('prints the native nft rendering for a policy directory', async function () {
    const r = await cli(['ruleset', '--config', dir, '--backend', 'nft', '--node', 'r']);
    assert.equal(r.code, 0, r.err);
    assert.match(r.out, /^# nft -f -\n# nfqwall steering: generation 0, flow mode, fail open/);
    assert.match(r.out, /chain mangle_prerouting \{\n\t\ttype filter hook prerouting priority -150; policy accept;\n\t\tiifname "wan0" goto mangle_prerouting_stage/);
    // A governed interface is queued at forward in both directions (INVALID drops, forward legs).
    assert.match(r.out, /chain filter_forward \{\n\t\ttype filter hook forward priority 0; policy accept;\n\t\tiifname "wan0" goto filter_forward_stage\n\t\toifname "wan0" goto filter_forward_stage\n\t\}/);
    assert.match(r.out, /iifname "wan0" goto filter_input_stage/);
    assert.ok(!r.out.includes('eth9'), 'HEPs of other nodes are left out');
    assert.ok(!r.out.includes('raw_prerouting'), 'no doNotTrack policy, no raw stage');
  });

  it('prints both iptables-nft transactions, in packet mode and fail closed when asked', async function () {
    const r = await cli(['ruleset', '--config', dir, '--backend', 'iptables', '--mode', 'packet', '--fail-mode', 'closed', '--node', 'r']);
    assert.equal(r.code, 0, r.err);
    assert.match(r.out, /^# iptables-nft-restore --noflush\n# nfqwall steering \(IPv4\): generation 0, packet mode, fail closed/);
    assert.match(r.out, /\n# ip6tables-nft-restore --noflush\n# nfqwall steering \(IPv6\)/);
    assert.ok(r.out.includes('-A NFQWALL-PREDNAT -i wan0 -g NFQWALL-PREDNAT-STAGE'));
    assert.ok(!r.out.includes('--queue-bypass'));
    assert.ok(!r.out.includes('ESTABLISHED,RELATED'));
  });

  it('reports an unreadable directory and refuses an unknown backend', async function () {
    const missing = await cli(['ruleset', '--config', join(dir, 'nope'), '--backend', 'nft']);
    assert.equal(missing.code, 1);
    assert.match(missing.err, /NFQ_CFG_DIR_READ/);
    const bad = await cli(['ruleset', '--config', dir, '--backend', 'pf']);
    assert.equal(bad.code, 2);
  });
});
