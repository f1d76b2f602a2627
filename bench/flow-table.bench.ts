/**
 * Flow table memory and speed.
 *
 *   npx tsc -p tsconfig.json && node --expose-gc dist/bench/flow-table.bench.js [flows]
 *
 * For each traffic mix it inserts `flows` (default 1,000,000) distinct flows through the real
 * path (parse a packet, track it) into a table of that capacity, and prints the heap growth per
 * flow measured with process.memoryUsage() around the inserts, after forced GCs. "heap" is
 * heapUsed; "total" adds external and ArrayBuffer memory (lru-cache keeps its links in typed
 * arrays). It then times parse + track for packets of existing flows, and a full sweep.
 * Each mix runs in its own process so that memory freed by one run cannot hide in the next.
 * Finally it counts garbage collections during millions of parses: 0 means the parser allocates
 * nothing per packet.
 */
import { spawnSync } from 'node:child_process';
import { PerformanceObserver } from 'node:perf_hooks';
import { FlowTable } from '../src/conntrack';
import {
  LinkType,
  buildEcho,
  buildEthernet,
  buildIcmpError,
  buildTcp,
  buildUdp,
  createPacketView,
  parseLinkLayer,
  parsePacket,
  type PacketView,
} from '../src/packet';

const gc = (globalThis as { gc?: () => void }).gc;
if (!gc) {
  process.stderr.write('run with --expose-gc: node --expose-gc dist/bench/flow-table.bench.js\n');
  process.exit(2);
}

const FLOWS = Number(process.argv[2] ?? 1_000_000);
/** Set in the child processes: which template to run. */
const ONLY = process.argv[3];

interface Template {
  name: string;
  packet: Buffer;
  /** Make packet n a distinct flow by rewriting source address bytes and the source port. */
  vary(buf: Buffer, n: number): void;
}

// ACK segments: the first one picks the connection up (loose mode), later ones take the established path.
const v4Tcp = buildTcp({ src: '10.0.0.1', dst: '192.0.2.10' }, { sport: 1024, dport: 443, flags: 'A' });
const v4Udp = buildUdp({ src: '10.0.0.1', dst: '192.0.2.53' }, { sport: 1024, dport: 53, payload: Buffer.alloc(32) });
const v6Tcp = buildTcp({ src: 'fd00::1', dst: '2001:db8::10' }, { sport: 1024, dport: 443, flags: 'A' });

// Checksums are not touched: the parser does not verify them.
function varyV4(buf: Buffer, n: number): void {
  buf.writeUInt16BE(10 << 8 | ((n >>> 16) & 0xff), 12);
  buf.writeUInt16BE((n >>> 6) & 0x3ff, 14);
  buf.writeUInt16BE(1024 + (n & 0x3f) * 1000 + 7, 20);
}
function varyV6(buf: Buffer, n: number): void {
  buf.writeUInt32BE(n >>> 0, 20);
  buf.writeUInt16BE(1024 + (n & 0x3f) * 1000 + 7, 40);
}

const templates: Template[] = [
  { name: 'IPv4 TCP', packet: v4Tcp, vary: varyV4 },
  { name: 'IPv4 UDP', packet: v4Udp, vary: varyV4 },
  { name: 'IPv6 TCP', packet: v6Tcp, vary: varyV6 },
];

function memory(): { heap: number; total: number } {
  gc!();
  gc!();
  const m = process.memoryUsage();
  return { heap: m.heapUsed, total: m.heapUsed + m.external + m.arrayBuffers };
}

function insert(table: FlowTable, view: PacketView, tpl: Template, count: number, now: number): void {
  const buf = Buffer.from(tpl.packet);
  for (let n = 0; n < count; n++) {
    tpl.vary(buf, n);
    parsePacket(buf, view, 0, buf.length);
    table.track(view, now);
  }
}

function mb(bytes: number): string {
  return `${(bytes / 1048576).toFixed(1)} MiB`;
}

function run(tpl: Template): string[] {
  const rows: string[] = [];
  const view = createPacketView();
  // Warm up the code paths on a small table so compiled code is not counted as flow memory.
  insert(new FlowTable({ capacity: 10_000 }), view, tpl, 20_000, 0);
  const before = memory();
  const table = new FlowTable({ capacity: FLOWS, epoch: 0 });
  insert(table, view, tpl, FLOWS, 1000);
  const after = memory();
  if (table.size !== FLOWS) throw new Error(`expected ${FLOWS} flows, table has ${table.size}`);
  const heapPerFlow = (after.heap - before.heap) / FLOWS;
  const totalPerFlow = (after.total - before.total) / FLOWS;
  rows.push(
    `${tpl.name.padEnd(9)} ${String(FLOWS).padStart(8)} flows  heap ${heapPerFlow.toFixed(0).padStart(4)} B/flow  ` +
      `total ${totalPerFlow.toFixed(0).padStart(4)} B/flow  (${mb(after.total - before.total)})`,
  );

  // Packets of existing flows: parse + lookup + state update + counters.
  const buf = Buffer.from(tpl.packet);
  const rounds = Math.min(FLOWS, 500_000);
  let start = process.hrtime.bigint();
  for (let n = 0; n < rounds; n++) {
    tpl.vary(buf, n);
    parsePacket(buf, view, 0, buf.length);
    table.track(view, 2000);
  }
  const perPacket = Number(process.hrtime.bigint() - start) / rounds;
  start = process.hrtime.bigint();
  let swept = 0;
  for (;;) {
    const n = table.sweep(1e9, 100_000, Infinity);
    swept += n;
    if (n === 0) break;
  }
  const sweepNs = Number(process.hrtime.bigint() - start) / Math.max(1, swept);
  rows.push(`${''.padEnd(9)} parse+track, existing flow: ${perPacket.toFixed(0)} ns/packet; sweep: ${sweepNs.toFixed(0)} ns per expired entry`);
  return rows;
}

/** GCs observed while parsing `rounds` packets of assorted kinds into one view. */
async function parseGcCount(rounds: number): Promise<number> {
  const packets = [
    buildTcp({ src: '10.0.0.1', dst: '192.0.2.1', options: Buffer.from([0x94, 4, 0, 0]) }, { sport: 1, dport: 2, flags: 'S', seq: 0xdeadbeef }),
    buildUdp({ src: '2001:db8::1', dst: '2001:db8::2', extHeaders: [{ type: 'hop-by-hop' }, { type: 'fragment' }, { type: 'destination' }] }, { sport: 1, dport: 2 }),
    buildIcmpError({ src: '192.0.2.1', dst: '10.0.0.1' }, { type: 3, quote: buildTcp({ src: '10.0.0.1', dst: '192.0.2.1' }, { sport: 1, dport: 2, seq: 0xfeedface }) }),
    buildEthernet(buildEcho({ src: 'fe80::1', dst: 'ff02::1' }, { id: 5 }), { vlans: [10, 20] }),
  ];
  const view = createPacketView();
  let check = 0;
  const loop = (n: number): void => {
    for (let i = 0; i < n; i++) {
      const k = i & 3;
      check = (check + (k === 3 ? parseLinkLayer(packets[k]!, LinkType.ETHERNET, view) : parsePacket(packets[k]!, view))) | 0;
    }
  };
  loop(1_000_000);
  const tick = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));
  await tick();
  let gcs = 0;
  const observer = new PerformanceObserver((list) => {
    gcs += list.getEntries().length;
  });
  observer.observe({ entryTypes: ['gc'] });
  loop(rounds);
  await tick();
  await tick();
  observer.disconnect();
  if (check === 42) process.stdout.write(''); // keep the loop's result alive
  return gcs;
}

if (ONLY === 'parse-gc') {
  const rounds = 5_000_000;
  void parseGcCount(rounds).then((gcs) => process.stdout.write(`parse     ${rounds} packets: ${gcs} garbage collections (0 = no allocation per packet)\n`));
} else if (ONLY !== undefined) {
  const tpl = templates.find((t) => t.name === ONLY);
  if (!tpl) throw new Error(`unknown template ${ONLY}`);
  process.stdout.write(run(tpl).join('\n') + '\n');
} else {
  process.stdout.write(`node ${process.version}, ${FLOWS} flows per run\n`);
  for (const name of [...templates.map((t) => t.name), 'parse-gc']) {
    const child = spawnSync(process.execPath, ['--expose-gc', __filename, String(FLOWS), name], { encoding: 'utf8' });
    if (child.status !== 0) throw new Error(`${name}: ${child.stderr}`);
    process.stdout.write(child.stdout);
  }
}
