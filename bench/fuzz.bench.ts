/**
 * The long packet fuzz: hostile packets through the real PacketProcessor (parse -> conntrack ->
 * engine -> verdict), with the contract of test/reliability/packet-fuzz.test.ts checked for every
 * packet.
 *
 *   npx tsc -p tsconfig.json && node dist/bench/fuzz.bench.js [packets] [seed]
 *
 * Default 1,000,000 packets and a fresh seed (printed; pass it back to replay a run). Packets are
 * generated in batches of 4096; only the process() calls of a batch are timed, so "packets/s" is
 * the processor's own speed on this mix (most packets are malformed and rejected early; valid
 * ones go through conntrack and the engine). The checks run after each batch on the recorded
 * outcomes. Exit 1 on the first broken contract, with the seed and the packet.
 */
import * as path from 'node:path';
import { randomInt } from 'node:crypto';
import { parseStatusName } from '../src/packet';
import { Rng } from '../test/helpers/random';
import {
  FuzzFailure,
  checkOutcome,
  countersProblem,
  emptyKindCounts,
  loadFuzzPolicies,
  makeRigs,
  randomInput,
  type PacketInput,
} from '../test/reliability/fuzz-fixture';
import { PacketGenerator, type GenKind } from '../test/reliability/packet-gen';

const PACKETS = Number(process.argv[2] ?? 1_000_000);
const SEED = process.argv[3] !== undefined ? Number(process.argv[3]) >>> 0 : randomInt(2 ** 32 - 1);
const BATCH = 4096;
const ROOT = path.resolve(__dirname, '..', '..');

async function main(): Promise<number> {
  if (!Number.isInteger(PACKETS) || PACKETS < 1) {
    process.stderr.write('usage: node dist/bench/fuzz.bench.js [packets] [seed]\n');
    return 2;
  }
  console.log(`packet fuzz: ${PACKETS.toLocaleString('en')} packets, seed ${SEED} (replay: node dist/bench/fuzz.bench.js ${PACKETS} ${SEED})`);
  const policies = await loadFuzzPolicies(ROOT);
  const rigs = makeRigs(policies);
  const choices = [policies.fixtures, policies.extended, policies.seed];
  const t0 = process.hrtime.bigint();
  const gen = new PacketGenerator(SEED);
  const corpusMs = Number(process.hrtime.bigint() - t0) / 1e6;
  const rng = new Rng(SEED ^ 0x3);
  const kinds = emptyKindCounts();
  const statuses = new Map<number, number>();

  // One batch: packet copies, inputs, kinds and the recorded outcomes.
  const arena = Buffer.alloc(BATCH * 1600);
  const spans: Buffer[] = [];
  const bigs: Buffer[] = [];
  const inputs: PacketInput[] = [];
  const batchKinds: GenKind[] = [];
  const verdicts = new Int32Array(BATCH);
  const marks = new Float64Array(BATCH);
  const status = new Int32Array(BATCH);
  const decided = new Uint8Array(BATCH);

  global.gc?.();
  const heapBefore = process.memoryUsage().heapUsed;
  let processNs = 0n;
  let now = 10_000_000;
  let swaps = 0;
  let done = 0;
  while (done < PACKETS) {
    const n = Math.min(BATCH, PACKETS - done);
    spans.length = 0;
    inputs.length = 0;
    batchKinds.length = 0;
    bigs.length = 0;
    let at = 0;
    for (let k = 0; k < n; k++) {
      const g = gen.next();
      kinds[g.kind]++;
      batchKinds.push(g.kind);
      let b: Buffer;
      if (g.bytes.length <= 1600 && at + g.bytes.length <= arena.length) {
        b = arena.subarray(at, at + g.bytes.length);
        g.bytes.copy(b);
        at += g.bytes.length;
      } else {
        b = Buffer.from(g.bytes);
        bigs.push(b);
      }
      spans.push(b);
      now += rng.bool(0.001) ? 3_600_000 : rng.int(50);
      inputs.push(randomInput(rng, rigs[(done + k) % rigs.length]!.layout, now));
    }
    const start = process.hrtime.bigint();
    for (let k = 0; k < n; k++) {
      const i = done + k;
      // Reloads as in the test: a new generation, or new bindings under the same generation.
      if (i % 1500 === 0) {
        for (const r of rigs) r.slot.swap(choices[i % 3]!);
        swaps++;
      } else if (i % 1500 === 700) for (const r of rigs) r.slot.replace(choices[(i + 1) % 3]!);
      const inp = inputs[k]!;
      try {
        const o = rigs[i % rigs.length]!.processor.process(inp.hook, spans[k]!, inp.mark, inp.indev, inp.outdev, inp.now);
        verdicts[k] = o.verdict;
        marks[k] = o.mark;
        status[k] = o.status;
        decided[k] = o.decision !== null ? 1 : 0;
      } catch (err) {
        console.log(`FAIL: exception escaped at packet #${i} (${batchKinds[k]}), seed ${SEED}: ${(err as Error).stack}`);
        console.log(`  packet ${spans[k]!.toString('hex')}`);
        return 1;
      }
    }
    processNs += process.hrtime.bigint() - start;
    for (let k = 0; k < n; k++) {
      const i = done + k;
      const st = status[k]!;
      statuses.set(st, (statuses.get(st) ?? 0) + 1);
      try {
        checkOutcome(rigs[i % rigs.length]!, spans[k]!, inputs[k]!, { verdict: verdicts[k]!, mark: marks[k]!, status: st, hasDecision: decided[k] === 1 }, () => `packet #${i} (${batchKinds[k]}), seed ${SEED}`);
      } catch (err) {
        if (!(err instanceof FuzzFailure)) throw err;
        console.log(`FAIL: ${err.message}`);
        return 1;
      }
    }
    done += n;
  }
  const totalMs = Number(process.hrtime.bigint() - t0) / 1e6;
  global.gc?.();
  const heapAfter = process.memoryUsage().heapUsed;

  const problems = rigs.map(countersProblem).filter((p): p is string => p !== null);
  const seconds = Number(processNs) / 1e9;
  console.log(`processed ${done.toLocaleString('en')} packets in ${seconds.toFixed(2)} s of process() time: ${Math.round(done / seconds).toLocaleString('en')} packets/s (${((Number(processNs) / done)).toFixed(0)} ns/packet); wall ${(totalMs / 1000).toFixed(1)} s with generation and checks; corpus ${corpusMs.toFixed(0)} ms`);
  console.log(`policy swaps: ${swaps}; heap ${(heapBefore / 2 ** 20).toFixed(1)} MiB -> ${(heapAfter / 2 ** 20).toFixed(1)} MiB${global.gc ? '' : ' (run with --expose-gc for settled figures)'}`);
  console.log('\nkind                  packets');
  for (const [k, c] of Object.entries(kinds)) console.log(`${k.padEnd(20)} ${String(c).padStart(9)}`);
  console.log('\nparse status          packets');
  for (const [st, c] of [...statuses.entries()].sort((a, b) => a[0] - b[0])) console.log(`${parseStatusName(st).padEnd(20)} ${String(c).padStart(9)}`);
  console.log('\nprocessor                                  packets  parseErr  accepted   dropped  repeated  rejudged   flows  evicted');
  for (const r of rigs) {
    const c = r.processor.counters;
    const f = r.processor.flows;
    console.log(`${r.name.padEnd(40)} ${[c.packets, c.parseErrors, c.accepted, c.dropped, c.repeated, c.rejudged].map((x) => String(x).padStart(9)).join('')} ${String(f.size).padStart(7)} ${String(f.stats.evicted).padStart(8)}`);
  }
  if (problems.length > 0) {
    console.log(`\nFAIL: processor counters disagree with the checker (seed ${SEED}):\n  ${problems.join('\n  ')}`);
    return 1;
  }
  console.log(`\nok: no exception, every packet got DROP/ACCEPT/REPEAT, every rejected packet got the parse-error verdict and was counted, no mark bit outside the mask changed`);
  return 0;
}

main().then(
  (code) => {
    process.exitCode = code;
  },
  (err) => {
    console.error(err);
    process.exitCode = 1;
  },
);
