/**
 * Offline replay throughput: `nfqwall replay` (in-process, through the engine, output discarded)
 * against `tcpdump -nr FILE > /dev/null` on the same generated capture. Prints figures only (no
 * assertions); the target is replay >= 0.5x tcpdump's read rate.
 *
 *   node dist/bench/replay.bench.js [packets]     (default 1,000,000)
 *
 * The capture is mostly established traffic: ~1000 concurrent flows at any time, each new flow
 * replacing a finished one. 90% are SSH sessions forwarded to the maintenance network (allowed:
 * handshake, 34 data segments both ways, close), 5% DNS exchanges to the WAN (no HEP: allowed),
 * 5% HTTP attempts to the maintenance network (denied, SYN plus retransmits). Seed policy and the
 * gw1 host model from test/fixtures/replay.
 */
import { spawnSync } from 'node:child_process';
import { closeSync, existsSync, mkdtempSync, openSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildEthernet, buildTcp, buildUdp } from '../src/packet';
import { LINKTYPE, PcapWriter } from '../src/pcap';
import { runReplay } from '../tools/commands/replay';

const TCPDUMP = '/usr/bin/tcpdump';
const FIXTURES = join(__dirname, '..', '..', 'test', 'fixtures', 'replay');
const CONCURRENT = 1000;

type Kind = 'ssh' | 'dns' | 'http';

interface Flow {
  kind: Kind;
  client: string;
  server: string;
  sport: number;
  step: number;
  length: number;
}

const SSH_DATA = Buffer.alloc(120, 0x61);
const SSH_REPLY = Buffer.alloc(360, 0x62);
const DNS_Q = Buffer.alloc(40, 0x63);
const DNS_A = Buffer.alloc(120, 0x64);

/** The frame of step `i` of a flow. */
function frame(f: Flow): Buffer {
  const i = f.step;
  if (f.kind === 'http') {
    // A denied SYN and its retransmits.
    return buildEthernet(buildTcp({ src: f.client, dst: f.server }, { sport: f.sport, dport: 80, flags: 'S', seq: 7 }));
  }
  if (f.kind === 'dns') {
    const q = i % 2 === 0;
    const ip = q ? { src: f.client, dst: f.server } : { src: f.server, dst: f.client };
    return buildEthernet(buildUdp(ip, q ? { sport: f.sport, dport: 53, payload: DNS_Q } : { sport: 53, dport: f.sport, payload: DNS_A }));
  }
  const out = { src: f.client, dst: f.server };
  const back = { src: f.server, dst: f.client };
  const c = { sport: f.sport, dport: 22 };
  const s = { sport: 22, dport: f.sport };
  const last = f.length - 1;
  if (i === 0) return buildEthernet(buildTcp(out, { ...c, flags: 'S', seq: 1 }));
  if (i === 1) return buildEthernet(buildTcp(back, { ...s, flags: 'SA', seq: 1, ack: 2 }));
  if (i === 2) return buildEthernet(buildTcp(out, { ...c, flags: 'A', seq: 2, ack: 2 }));
  if (i === last - 2) return buildEthernet(buildTcp(out, { ...c, flags: 'FA', seq: 9, ack: 9 }));
  if (i === last - 1) return buildEthernet(buildTcp(back, { ...s, flags: 'FA', seq: 9, ack: 10 }));
  if (i === last) return buildEthernet(buildTcp(out, { ...c, flags: 'A', seq: 10, ack: 10 }));
  return i % 2 === 1
    ? buildEthernet(buildTcp(out, { ...c, flags: 'PA', seq: 2, ack: 2, payload: SSH_DATA }))
    : buildEthernet(buildTcp(back, { ...s, flags: 'PA', seq: 2, ack: 2, payload: SSH_REPLY }));
}

function newFlow(n: number): Flow {
  const kind: Kind = n % 20 === 7 ? 'http' : n % 20 === 13 ? 'dns' : 'ssh';
  const client = `10.0.${1 + (n % 2)}.${1 + ((n >>> 1) % 250)}`;
  const sport = 1024 + ((n * 7919) % 60000);
  if (kind === 'dns') return { kind, client, server: `198.51.100.${1 + (n % 200)}`, sport, step: 0, length: 40 };
  if (kind === 'http') return { kind, client, server: `192.168.0.${10 + (n % 200)}`, sport, step: 0, length: 4 };
  return { kind, client, server: `192.168.0.${10 + (n % 200)}`, sport, step: 0, length: 40 };
}

function generate(path: string, packets: number): number {
  const w = PcapWriter.toFile(path, { linkType: LINKTYPE.ETHERNET });
  const active: Flow[] = [];
  let made = 0;
  for (; made < CONCURRENT; made++) active.push(newFlow(made));
  let ts = 1_700_000_000_000_000_000n;
  for (let p = 0; p < packets; p++) {
    const slot = p % CONCURRENT;
    const f = active[slot]!;
    ts += 100_000n; // 100 µs apart: 100 s of traffic per million packets
    w.write(ts, frame(f));
    f.step++;
    if (f.step >= f.length) active[slot] = newFlow(made++);
  }
  w.close();
  return made;
}

function secondsSince(start: bigint): number {
  return Number(process.hrtime.bigint() - start) / 1e9;
}

async function replayOnce(path: string): Promise<{ seconds: number; summary: string }> {
  let summary = '';
  const start = process.hrtime.bigint();
  const code = await runReplay(
    { config: join(FIXTURES, 'policy'), host: join(FIXTURES, 'host.yaml'), files: [path] },
    {
      out: (t) => {
        const m = /replayed .*\n/.exec(t);
        if (m) summary = m[0].trim();
      },
      err: (t) => void process.stderr.write(t),
    },
  );
  const seconds = secondsSince(start);
  if (code !== 0) throw new Error(`replay exited ${code}`);
  return { seconds, summary };
}

export async function runReplayBench(packets: number): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'nfqwall-replay-bench-'));
  try {
    const path = join(dir, 'bench.pcap');
    let start = process.hrtime.bigint();
    const flows = generate(path, packets);
    const mb = statSync(path).size / 1e6;
    console.log(`generated ${packets} packets (${flows} flows, ${CONCURRENT} concurrent), ${mb.toFixed(1)} MB in ${secondsSince(start).toFixed(2)} s`);

    await replayOnce(path); // warm-up: JIT and page cache
    const runs = [await replayOnce(path), await replayOnce(path), await replayOnce(path)];
    const best = runs.reduce((a, b) => (b.seconds < a.seconds ? b : a));
    const ours = packets / best.seconds;
    console.log(best.summary);
    console.log(`nfqwall replay (in-process, whole command incl. policy load and flow table output): ${best.seconds.toFixed(3)} s = ${Math.round(ours).toLocaleString('en-US')} packets/s (best of 3)`);

    if (!existsSync(TCPDUMP)) {
      console.log(`tcpdump: ${TCPDUMP} not installed, no comparison`);
      return;
    }
    const devnull = openSync('/dev/null', 'w');
    try {
      const times: number[] = [];
      for (let i = 0; i < 3; i++) {
        start = process.hrtime.bigint();
        const r = spawnSync(TCPDUMP, ['-nr', path], { stdio: ['ignore', devnull, 'ignore'], timeout: 600_000 });
        times.push(secondsSince(start));
        if (r.status !== 0) {
          console.log(`tcpdump failed (status ${r.status})`);
          return;
        }
      }
      const seconds = Math.min(...times);
      const theirs = packets / seconds;
      console.log(`tcpdump -nr FILE > /dev/null: ${seconds.toFixed(3)} s = ${Math.round(theirs).toLocaleString('en-US')} packets/s (best of 3)`);
      console.log(`ratio: nfqwall replay is ${(ours / theirs).toFixed(2)}x tcpdump's read rate (target >= 0.5x)`);
    } finally {
      closeSync(devnull);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

if (require.main === module) {
  const n = Number(process.argv[2] ?? 1_000_000);
  runReplayBench(Number.isInteger(n) && n > 0 ? n : 1_000_000).catch((err: unknown) => {
    console.error(err);
    process.exitCode = 1;
  });
}
