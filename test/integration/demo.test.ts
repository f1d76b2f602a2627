/** `nfqwall demo` end to end: it must succeed on this machine and leave nothing behind. */
import { strict as assert } from 'node:assert';
import { labNames } from '../../src/lab/topology';
import { runCommand } from '../../src/lab/run';
import { IS_ROOT, randomLabPrefix, remainingNamespaces } from '../helpers/lab';
import { labDown } from '../../src/lab/lab';
import { NFQWALL, GUEST_SLOWDOWN } from './daemon-helpers';

describe('integration: nfqwall demo @root', function () {
  this.timeout(90_000 * GUEST_SLOWDOWN);
  const prefix = randomLabPrefix();

  before(function () {
    if (!IS_ROOT) this.skip();
  });
  after(async () => {
    if (IS_ROOT) await labDown(prefix);
  });

  it('shows the seed scenario behaving as expected, exits 0 and removes its lab', async () => {
    const r = await runCommand([process.execPath, NFQWALL, 'demo', '--name', prefix], { timeoutMs: 60_000 });
    assert.equal(r.code, 0, `${r.stdout}\n${r.stderr}`);
    for (const heading of ['1. TCP 22 (SSH) forwarded', '2. TCP 80 (HTTP) forwarded', '3. TCP 22 to the router itself']) assert.ok(r.stdout.includes(heading), heading);
    assert.match(r.stdout, /nfqwall \| .*ALLOW tcp 10\.10\.0\.2:\d+ -> 10\.20\.0\.2:22 \(eth0 -> eth1\)/);
    assert.match(r.stdout, /nfqwall \| .*DENY  tcp 10\.10\.0\.2:\d+ -> 10\.20\.0\.2:80 \(eth0 -> eth1\)/);
    assert.match(r.stdout, /nfqwall \| .*ALLOW tcp 10\.10\.0\.2:\d+ -> 10\.10\.0\.1:22 .*failsafe-inbound/);
    assert.equal((r.stdout.match(/-> as expected/g) ?? []).length, 3);
    assert.match(r.stdout, /All 3 connections behaved as the policy says\./);
    assert.deepEqual(await remainingNamespaces(labNames(prefix)), []);
  });
});
