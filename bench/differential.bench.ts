/**
 * The long differential run: compiled engine vs reference evaluator over many random policy sets
 * and packets (the test suite runs a smaller slice of the same generator).
 *
 *   node dist/bench/differential.bench.js [sets] [packetsPerSet] [seed]
 */
import { runDifferential } from '../test/helpers/differential';

const sets = Number(process.argv[2] ?? 20000);
const perSet = Number(process.argv[3] ?? 50);
const seed = Number(process.argv[4] ?? 500000);
const t0 = Date.now();
const { compared } = runDifferential(seed, sets, perSet);
const ms = Date.now() - t0;
console.log(`differential: ${sets} policy sets x ${perSet} packets = ${compared} judgements compared, 0 disagreements (seeds ${seed}..${seed + sets - 1}), ${(ms / 1000).toFixed(1)} s`);
