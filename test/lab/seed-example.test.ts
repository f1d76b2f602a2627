import { strict as assert } from 'node:assert';
import { join } from 'node:path';
import { loadResourceDir } from '../../src/config/load';
import { LAB_ADDRESSES, ROUTER_INTERFACES } from '../../src/lab/topology';

// examples/seed is written for the lab: it must stay valid and keep matching the lab's router.
describe('examples/seed', () => {
  const dir = join(__dirname, '..', '..', '..', 'examples', 'seed');

  it('loads without issues', async () => {
    const r = await loadResourceDir(dir);
    assert.deepEqual(r.issues, []);
    assert.equal(r.counts.HostEndpoint, 2);
    assert.equal(r.counts.GlobalNetworkPolicy, 2);
    assert.equal(r.counts.WorkloadEndpoint, 1);
  });

  it("describes the lab router's interfaces and addresses", async () => {
    const { resources } = await loadResourceDir(dir);
    const heps = Object.fromEntries(resources.hostEndpoints.map((h) => [h.interfaceName, h]));
    const r = LAB_ADDRESSES.router;
    assert.deepEqual(heps[ROUTER_INTERFACES.application]?.expectedIPs, [r.eth0.v4, r.eth0.v6]);
    assert.deepEqual(heps[ROUTER_INTERFACES.maintenance]?.expectedIPs, [r.eth1.v4, r.eth1.v6]);
    assert.deepEqual(heps[ROUTER_INTERFACES.maintenance]?.labels, { network: 'maintenance' });
    assert.ok(resources.hostEndpoints.every((h) => h.node === 'router'));
    assert.deepEqual(resources.workloadEndpoints[0]?.interfaceName, ROUTER_INTERFACES.workload);
    const ssh = resources.policies.find((p) => p.name === 'allow-ssh-maintenance');
    assert.equal(ssh?.applyOnForward, true);
    assert.equal(ssh?.selector, "network == 'maintenance'");
  });
});
