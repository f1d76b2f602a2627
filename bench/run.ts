/**
 * `npm run bench`: every offline benchmark, one after another, each printing its own table of
 * figures measured side by side in one run (ratios, not absolute numbers, are what to compare on a
 * shared machine). The lab benchmarks need root and a few minutes: `npm run bench:lab`.
 *
 * Pass names to run a subset: `node dist/bench/run.js engine differential`.
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';

interface BenchSpec {
  name: string;
  file: string;
  nodeArgs?: string[];
  args?: string[];
}

const BENCHES: BenchSpec[] = [
  { name: 'engine', file: 'engine.bench.js' },
  { name: 'differential', file: 'differential.bench.js' },
  { name: 'flow-table', file: 'flow-table.bench.js', nodeArgs: ['--expose-gc'] },
  { name: 'pcap-read', file: 'pcap-read.bench.js' },
  { name: 'replay', file: 'replay.bench.js' },
  { name: 'fuzz', file: 'fuzz.bench.js' },
];

const wanted = process.argv.slice(2);
let failed = 0;
for (const b of BENCHES) {
  if (wanted.length > 0 && !wanted.includes(b.name)) continue;
  const file = join(__dirname, b.file);
  if (!existsSync(file)) {
    console.log(`\n== ${b.name}: ${b.file} not built`);
    failed++;
    continue;
  }
  console.log(`\n== ${b.name}`);
  const r = spawnSync(process.execPath, [...(b.nodeArgs ?? []), file, ...(b.args ?? [])], { stdio: 'inherit' });
  if (r.status !== 0) {
    console.log(`== ${b.name} exited with ${r.status}`);
    failed++;
  }
}
process.exitCode = failed === 0 ? 0 : 1;
