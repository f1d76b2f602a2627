/**
 * Differential test: the compiled engine and the reference evaluator must agree on verdict,
 * no-verdict, untracking and the deciding rule for random policy sets × random packets.
 * Seeded and reproducible: NFQWALL_SEED=<n> reruns one seed; NFQWALL_DIFF_SETS scales the run.
 */
import { strict as assert } from 'node:assert';
import { runDifferential } from '../helpers/differential';

describe('engine: compiled vs reference (differential)', () => {
  it('agree on thousands of random policy sets × packets', function () {
    this.timeout(120000);
    const one = process.env.NFQWALL_SEED;
    const sets = one ? 1 : Number(process.env.NFQWALL_DIFF_SETS ?? 400);
    const { compared } = runDifferential(one ? Number(one) : 1000, sets, 25);
    assert.ok(compared >= sets * 25);
  });
});
