/**
 * Reads captures made by the real tools: tcpdump (µs and ns pcap, snaplen-cut) and tshark
 * (pcapng) on the loopback of a throwaway network namespace, so no host traffic is involved.
 * Needs root (netns); tagged @root so `npm run test:unit` leaves it out.
 */
import { strict as assert } from 'node:assert';
import { ChildProcess, spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { CaptureReader, LINKTYPE, PcapRecord } from '../../src/pcap';
import { TCPDUMP, TSHARK, dissectIpv4, haveBinary, runTool, sleep, tempDir } from './helpers';

const IP = '/usr/sbin/ip';
const PACKETS = 6; // 2 pings (request + reply each) + 1 UDP datagram + its ICMP port unreachable

function skipReason(): string | undefined {
  if (typeof process.getuid !== 'function' || process.getuid() !== 0) return 'not running as root';
  for (const bin of [IP, TCPDUMP, TSHARK]) if (!haveBinary(bin)) return `${bin} is not installed`;
  return undefined;
}

const reason = skipReason();

/** `1700000000.123456` (digits = 6) or `1700000000.123456789` (digits = 9), truncating. */
function epochText(ns: bigint, digits: number): string {
  const frac = (ns % 1_000_000_000n).toString().padStart(9, '0').slice(0, digits);
  return `${ns / 1_000_000_000n}.${frac}`;
}

function readAll(path: string): { reader: CaptureReader; records: PcapRecord[] } {
  const reader = CaptureReader.openFile(path, { chunkSize: 256 });
  const records: PcapRecord[] = [];
  for (const r of reader) records.push({ ...r, data: Buffer.from(r.data) });
  return { reader, records };
}

function isRunning(c: ChildProcess): boolean {
  return c.exitCode === null && c.signalCode === null;
}

function signal(c: ChildProcess, sig: NodeJS.Signals): void {
  if (c.pid === undefined || !isRunning(c)) return;
  try {
    process.kill(c.pid, sig);
  } catch {
    // Already gone.
  }
}

/** Stops a capture we started (by its pid), politely and then firmly; bounded to ~2 s. */
async function stop(c: ChildProcess): Promise<void> {
  signal(c, 'SIGTERM');
  for (let i = 0; i < 40 && isRunning(c); i++) await sleep(50);
  signal(c, 'SIGKILL');
}

describe(`@root captures by real tcpdump/tshark in a network namespace${reason ? ` (skipped: ${reason})` : ''}`, function () {
  this.timeout(20000);
  const ns = `nfqwall-pcap-${randomBytes(4).toString('hex')}`;
  const children: ChildProcess[] = [];
  let tmp: ReturnType<typeof tempDir> | undefined;
  let nsCreated = false;

  before(function () {
    if (reason) this.skip();
    tmp = tempDir('pcap-live');
    const add = runTool(IP, ['netns', 'add', ns]);
    assert.equal(add.status, 0, `ip netns add ${ns}: ${add.stderr}`);
    nsCreated = true;
    const up = runTool(IP, ['netns', 'exec', ns, IP, 'link', 'set', 'lo', 'up']);
    assert.equal(up.status, 0, up.stderr);
  });

  after(async () => {
    // SIGTERM first: tshark then stops its dumpcap child too; SIGKILL whatever is left.
    for (const c of children) await stop(c);
    if (nsCreated) spawnSync(IP, ['netns', 'del', ns], { timeout: 5000 });
    tmp?.remove();
  });

  function traffic(): void {
    const exec = (args: string[]): void => {
      spawnSync(IP, ['netns', 'exec', ns, ...args], { timeout: 5000, stdio: 'ignore' });
    };
    exec(['ping', '-n', '-c', '2', '-i', '0.2', '-W', '1', '127.0.0.1']);
    exec(['bash', '-c', 'echo hi > /dev/udp/127.0.0.1/9999']);
  }

  /** Runs a capture command in the namespace, makes traffic once it listens, waits for it to stop. */
  async function capture(cmd: string[], ready: RegExp): Promise<string> {
    const child = spawn(IP, ['netns', 'exec', ns, ...cmd], { stdio: ['ignore', 'ignore', 'pipe'] });
    children.push(child);
    let stderr = '';
    child.stderr?.on('data', (d: Buffer) => {
      stderr += d.toString();
    });
    const exited = new Promise<void>((resolve) => {
      child.once('close', () => resolve());
      child.once('error', () => resolve());
    });
    for (let i = 0; i < 100 && isRunning(child) && !ready.test(stderr); i++) await sleep(50);
    if (!ready.test(stderr)) {
      await stop(child);
      assert.fail(`capture did not start within 5 s: ${stderr}`);
    }
    // -c makes the tool stop by itself; more rounds only if some packets went missing.
    for (let round = 0; round < 3 && isRunning(child); round++) {
      traffic();
      await Promise.race([exited, sleep(2000)]);
    }
    if (isRunning(child)) {
      await stop(child);
      assert.fail(`capture did not stop by itself after ${PACKETS} packets: ${stderr}`);
    }
    assert.equal(child.exitCode, 0, `capture failed: ${stderr}`);
    return stderr;
  }

  function checkTraffic(records: PcapRecord[]): void {
    const views = records.map((r) => dissectIpv4(r.data, r.linkType));
    assert.ok(
      views.some((v) => v?.proto === 17 && v.dst === '127.0.0.1' && v.dport === 9999),
      'a UDP datagram to 127.0.0.1:9999',
    );
    assert.ok(views.filter((v) => v?.proto === 1 && v.src === '127.0.0.1').length >= 4, 'the pings');
  }

  it('reads a microsecond pcap written by tcpdump -w, agreeing with tcpdump -r', async () => {
    const path = join(tmp!.dir, 'live-micro.pcap');
    await capture([TCPDUMP, '-Z', 'root', '-i', 'lo', '-w', path, '-c', String(PACKETS), '-U'], /listening on lo/);
    const { reader, records } = readAll(path);
    assert.deepEqual(reader.status.state, 'end', reader.error?.message);
    assert.equal(reader.header?.precision, 'micro');
    assert.equal(records.length, PACKETS);
    for (const r of records) {
      assert.equal(r.linkType, LINKTYPE.ETHERNET);
      assert.equal(r.truncated, false);
    }
    checkTraffic(records);
    const out = runTool(TCPDUMP, ['-nn', '-tt', '-r', path]).stdout.trim().split('\n');
    assert.deepEqual(
      out.map((l) => l.split(' ')[0]),
      records.map((r) => epochText(r.timestampNs, 6)),
    );
    assert.match(out.find((l) => l.includes('> 127.0.0.1.9999: UDP')) ?? '', /UDP, length 3$/);
  });

  it('reads a nanosecond pcap (--time-stamp-precision=nano), agreeing with tcpdump -r', async () => {
    const path = join(tmp!.dir, 'live-nano.pcap');
    await capture([TCPDUMP, '-Z', 'root', '-i', 'lo', '--time-stamp-precision=nano', '-w', path, '-c', String(PACKETS), '-U'], /listening on lo/);
    const { reader, records } = readAll(path);
    assert.deepEqual(reader.status.state, 'end', reader.error?.message);
    assert.equal(reader.header?.precision, 'nano');
    assert.equal(records.length, PACKETS);
    checkTraffic(records);
    const out = runTool(TCPDUMP, ['--time-stamp-precision=nano', '-nn', '-tt', '-r', path]).stdout.trim().split('\n');
    assert.deepEqual(
      out.map((l) => l.split(' ')[0]),
      records.map((r) => epochText(r.timestampNs, 9)),
    );
  });

  it('flags records cut by tcpdump -s 60', async () => {
    const path = join(tmp!.dir, 'live-snap.pcap');
    await capture([TCPDUMP, '-Z', 'root', '-i', 'lo', '-s', '60', '-w', path, '-c', String(PACKETS), '-U'], /listening on lo/);
    const { reader, records } = readAll(path);
    assert.equal(reader.status.state, 'end', reader.error?.message);
    assert.equal(reader.header?.snaplen, 60);
    assert.equal(records.length, PACKETS);
    // 98-byte pings are cut to 60; every record agrees with tshark's frame.len / frame.cap_len.
    assert.ok(records.some((r) => r.truncated && r.capturedLength === 60 && r.originalLength === 98));
    const rows = runTool(TSHARK, ['-n', '-r', path, '-T', 'fields', '-e', 'frame.len', '-e', 'frame.cap_len']).stdout.trim().split('\n');
    assert.deepEqual(
      rows,
      records.map((r) => `${r.originalLength}\t${r.capturedLength}`),
    );
    assert.deepEqual(
      records.map((r) => r.truncated),
      records.map((r) => r.capturedLength < r.originalLength),
    );
  });

  it('reads a pcapng written by tshark -F pcapng, with the interface name', async () => {
    const path = join(tmp!.dir, 'live.pcapng');
    await capture([TSHARK, '-n', '-i', 'lo', '-F', 'pcapng', '-w', path, '-c', String(PACKETS)], /Capturing on/);
    const { reader, records } = readAll(path);
    assert.equal(reader.status.state, 'end', reader.error?.message);
    assert.equal(reader.format, 'pcapng');
    assert.equal(records.length, PACKETS);
    for (const r of records) {
      assert.equal(r.interfaceName, 'lo');
      assert.equal(r.interfaceIndex, 0);
      assert.equal(r.linkType, LINKTYPE.ETHERNET);
    }
    checkTraffic(records);
    const rows = runTool(TSHARK, ['-n', '-r', path, '-T', 'fields', '-e', 'frame.time_epoch', '-e', 'frame.interface_name']).stdout.trim().split('\n');
    assert.deepEqual(
      rows,
      records.map((r) => `${epochText(r.timestampNs, 9)}\tlo`),
    );
  });
});
