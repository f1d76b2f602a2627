/**
 * Capture reading throughput: our streaming reader against `tcpdump -nr FILE > /dev/null` on the
 * same generated file. Prints figures only (no assertions).
 *
 *   node dist/bench/pcap-read.bench.js [packets]     (default 1,000,000)
 */
import { spawnSync } from 'node:child_process';
import { closeSync, existsSync, mkdtempSync, openSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CaptureReader, LINKTYPE, PcapWriter } from '../src/pcap';

const TCPDUMP = '/usr/bin/tcpdump';

/** Ethernet + IPv4 + UDP frames of a few sizes, varied ports, so tcpdump has real work to do. */
function makeFrames(): Buffer[] {
  const frames: Buffer[] = [];
  for (let i = 0; i < 64; i++) {
    const payload = 18 + ((i * 37) % 200);
    const f = Buffer.alloc(14 + 20 + 8 + payload, 0x5a);
    f.writeUInt16BE(0x0800, 12);
    f[14] = 0x45;
    f.writeUInt16BE(20 + 8 + payload, 16);
    f[22] = 64;
    f[23] = 17;
    f.writeUInt32BE(0xc0000201 + i, 26); // 192.0.2.1+i
    f.writeUInt32BE(0xc6336407, 30); // 198.51.100.7
    f.writeUInt16BE(40000 + i, 34);
    f.writeUInt16BE(5000 + (i % 7), 36);
    f.writeUInt16BE(8 + payload, 38);
    f.writeUInt16BE(0, 40);
    frames.push(f);
  }
  return frames;
}

function generate(path: string, packets: number): void {
  const frames = makeFrames();
  const w = PcapWriter.toFile(path, { linkType: LINKTYPE.ETHERNET });
  let ts = 1_700_000_000_000_000_000n;
  for (let i = 0; i < packets; i++) {
    ts += 1_000n + BigInt(i % 997);
    w.write(ts, frames[i % frames.length]!);
  }
  w.close();
}

function secondsSince(start: bigint): number {
  return Number(process.hrtime.bigint() - start) / 1e9;
}

function readOnce(path: string): { packets: number; seconds: number; checksum: number } {
  const start = process.hrtime.bigint();
  const reader = CaptureReader.openFile(path);
  let packets = 0;
  let checksum = 0;
  for (const rec of reader) {
    packets++;
    // Touch the record so the work cannot be skipped.
    checksum = (checksum + rec.capturedLength + rec.data[rec.data.length - 1]! + Number(rec.timestampMs > 0)) | 0;
  }
  const seconds = secondsSince(start);
  if (reader.status.state !== 'end') throw new Error(`bench file unreadable: ${reader.error?.message ?? reader.status.state}`);
  return { packets, seconds, checksum };
}

export function runPcapReadBench(packets: number): void {
  const dir = mkdtempSync(join(tmpdir(), 'nfqwall-pcap-bench-'));
  try {
    const path = join(dir, 'bench.pcap');
    let start = process.hrtime.bigint();
    generate(path, packets);
    const mb = statSync(path).size / 1e6;
    console.log(`generated ${packets} packets, ${mb.toFixed(1)} MB in ${secondsSince(start).toFixed(2)} s (PcapWriter)`);

    readOnce(path); // warm-up: JIT and page cache
    const runs = [readOnce(path), readOnce(path), readOnce(path)];
    const best = runs.reduce((a, b) => (b.seconds < a.seconds ? b : a));
    const ours = best.packets / best.seconds;
    console.log(`nfqwall CaptureReader: ${best.packets} packets in ${best.seconds.toFixed(3)} s = ${Math.round(ours).toLocaleString('en-US')} packets/s, ${(mb / best.seconds).toFixed(0)} MB/s (best of 3)`);

    if (!existsSync(TCPDUMP)) {
      console.log(`tcpdump: ${TCPDUMP} not installed, no comparison`);
      return;
    }
    const devnull = openSync('/dev/null', 'w');
    try {
      start = process.hrtime.bigint();
      const r = spawnSync(TCPDUMP, ['-nr', path], { stdio: ['ignore', devnull, 'ignore'], timeout: 600_000 });
      const seconds = secondsSince(start);
      if (r.status !== 0) {
        console.log(`tcpdump failed (status ${r.status})`);
        return;
      }
      const theirs = packets / seconds;
      console.log(`tcpdump -nr FILE > /dev/null: ${seconds.toFixed(3)} s = ${Math.round(theirs).toLocaleString('en-US')} packets/s`);
      console.log(`ratio: CaptureReader is ${(ours / theirs).toFixed(1)}x tcpdump (tcpdump also dissects and prints every packet)`);
    } finally {
      closeSync(devnull);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

if (require.main === module) {
  const n = Number(process.argv[2] ?? 1_000_000);
  runPcapReadBench(Number.isInteger(n) && n > 0 ? n : 1_000_000);
}
