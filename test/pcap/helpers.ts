/**
 * Test helpers for capture files: hand-made packets, byte-level pcap/pcapng builders (any byte
 * order, so big-endian files need no writer support), and external tool runners.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CaptureReader, PcapReadStatus, PcapRecord } from '../../src/pcap';

export type Endian = 'le' | 'be';

// ---- packets ----

function ipv4Checksum(h: Buffer): number {
  let sum = 0;
  for (let i = 0; i < h.length; i += 2) sum += h.readUInt16BE(i);
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
  return ~sum & 0xffff;
}

function ipv4Bytes(a: string): number[] {
  return a.split('.').map(Number);
}

/** IPv4 + UDP (checksum 0, which IPv4 allows). */
export function ipv4Udp(src: string, dst: string, sport: number, dport: number, payload: Buffer = Buffer.from('nfqwall')): Buffer {
  const ip = Buffer.alloc(20);
  ip[0] = 0x45;
  ip.writeUInt16BE(20 + 8 + payload.length, 2);
  ip.writeUInt16BE(0x1234, 4);
  ip[8] = 64;
  ip[9] = 17;
  Buffer.from(ipv4Bytes(src)).copy(ip, 12);
  Buffer.from(ipv4Bytes(dst)).copy(ip, 16);
  ip.writeUInt16BE(ipv4Checksum(ip), 10);
  const udp = Buffer.alloc(8);
  udp.writeUInt16BE(sport, 0);
  udp.writeUInt16BE(dport, 2);
  udp.writeUInt16BE(8 + payload.length, 4);
  return Buffer.concat([ip, udp, payload]);
}

/** Ethernet II header (IPv4 ethertype) in front of `ipPacket`. */
export function ethernet(ipPacket: Buffer, etherType = 0x0800): Buffer {
  const eth = Buffer.alloc(14);
  Buffer.from([0x02, 0, 0, 0, 0, 0x02]).copy(eth, 0);
  Buffer.from([0x02, 0, 0, 0, 0, 0x01]).copy(eth, 6);
  eth.writeUInt16BE(etherType, 12);
  return Buffer.concat([eth, ipPacket]);
}

export interface UdpView {
  src: string;
  dst: string;
  proto: number;
  sport: number | undefined;
  dport: number | undefined;
}

/** Minimal IPv4 dissection for assertions (Ethernet or raw IP). */
export function dissectIpv4(data: Buffer, linkType: number): UdpView | undefined {
  let off = 0;
  if (linkType === 1) {
    if (data.length < 14 || data.readUInt16BE(12) !== 0x0800) return undefined;
    off = 14;
  }
  if (data.length < off + 20 || data[off]! >> 4 !== 4) return undefined;
  const ihl = (data[off]! & 15) * 4;
  const proto = data[off + 9]!;
  const src = [...data.subarray(off + 12, off + 16)].join('.');
  const dst = [...data.subarray(off + 16, off + 20)].join('.');
  const l4 = off + ihl;
  const ports = (proto === 17 || proto === 6) && data.length >= l4 + 4;
  return { src, dst, proto, sport: ports ? data.readUInt16BE(l4) : undefined, dport: ports ? data.readUInt16BE(l4 + 2) : undefined };
}

// ---- byte-level file builders ----

export function u16(v: number, e: Endian): Buffer {
  const b = Buffer.alloc(2);
  if (e === 'le') b.writeUInt16LE(v);
  else b.writeUInt16BE(v);
  return b;
}

export function u32(v: number, e: Endian): Buffer {
  const b = Buffer.alloc(4);
  if (e === 'le') b.writeUInt32LE(v >>> 0);
  else b.writeUInt32BE(v >>> 0);
  return b;
}

export function i64(v: bigint, e: Endian): Buffer {
  const b = Buffer.alloc(8);
  if (e === 'le') b.writeBigInt64LE(v);
  else b.writeBigInt64BE(v);
  return b;
}

export interface HandRecord {
  sec: number;
  frac: number;
  data: Buffer;
  /** Defaults to data.length. */
  orig?: number;
  /** Override incl_len (for corrupt files). */
  incl?: number;
}

/** A classic pcap file built byte by byte. */
export function handPcap(opts: { endian: Endian; nano?: boolean; linkType: number; snaplen?: number; major?: number; records: HandRecord[] }): Buffer {
  const e = opts.endian;
  const parts: Buffer[] = [
    u32(opts.nano ? 0xa1b23c4d : 0xa1b2c3d4, e),
    u16(opts.major ?? 2, e),
    u16(4, e),
    u32(0, e),
    u32(0, e),
    u32(opts.snaplen ?? 65535, e),
    u32(opts.linkType, e),
  ];
  for (const r of opts.records) {
    parts.push(u32(r.sec, e), u32(r.frac, e), u32(r.incl ?? r.data.length, e), u32(r.orig ?? r.data.length, e), r.data);
  }
  return Buffer.concat(parts);
}

function pad4(b: Buffer): Buffer {
  const n = (4 - (b.length % 4)) % 4;
  return n === 0 ? b : Buffer.concat([b, Buffer.alloc(n)]);
}

/** One pcapng option (code, length, value padded to 4). */
export function opt(code: number, value: Buffer, e: Endian): Buffer {
  return Buffer.concat([u16(code, e), u16(value.length, e), pad4(value)]);
}

export function endOpt(e: Endian): Buffer {
  return opt(0, Buffer.alloc(0), e);
}

/** A pcapng block: type, total length, body (padded), total length. */
export function block(type: number, body: Buffer, e: Endian): Buffer {
  const b = pad4(body);
  const total = 12 + b.length;
  return Buffer.concat([u32(type, e), u32(total, e), b, u32(total, e)]);
}

export function shb(e: Endian, options: Buffer = Buffer.alloc(0)): Buffer {
  return block(0x0a0d0d0a, Buffer.concat([u32(0x1a2b3c4d, e), u16(1, e), u16(0, e), i64(-1n, e), options]), e);
}

export function idb(e: Endian, linkType: number, snaplen: number, options: Buffer[] = []): Buffer {
  const opts = options.length > 0 ? Buffer.concat([...options, endOpt(e)]) : Buffer.alloc(0);
  return block(1, Buffer.concat([u16(linkType, e), u16(0, e), u32(snaplen, e), opts]), e);
}

export function epb(e: Endian, ifIndex: number, ts: bigint, data: Buffer, orig = data.length): Buffer {
  return block(
    6,
    Buffer.concat([u32(ifIndex, e), u32(Number(ts >> 32n), e), u32(Number(ts & 0xffffffffn), e), u32(data.length, e), u32(orig, e), pad4(data)]),
    e,
  );
}

export function opb(e: Endian, ifIndex: number, ts: bigint, data: Buffer, orig = data.length): Buffer {
  return block(
    2,
    Buffer.concat([u16(ifIndex, e), u16(0, e), u32(Number(ts >> 32n), e), u32(Number(ts & 0xffffffffn), e), u32(data.length, e), u32(orig, e), pad4(data)]),
    e,
  );
}

export function spb(e: Endian, data: Buffer, orig = data.length): Buffer {
  return block(3, Buffer.concat([u32(orig, e), pad4(data)]), e);
}

// ---- environment ----

export function tempDir(prefix: string): { dir: string; remove: () => void } {
  const dir = mkdtempSync(join(tmpdir(), `nfqwall-${prefix}-`));
  return { dir, remove: () => rmSync(dir, { recursive: true, force: true }) };
}

export const TCPDUMP = '/usr/bin/tcpdump';
export const TSHARK = '/usr/bin/tshark';

export function haveBinary(path: string): boolean {
  return existsSync(path);
}

export interface ToolResult {
  status: number | null;
  stdout: string;
  stderr: string;
}

/** Runs a program with a hard timeout; never uses a shell. */
export function runTool(cmd: string, args: string[], timeoutMs = 10000): ToolResult {
  const r = spawnSync(cmd, args, { encoding: 'utf8', timeout: timeoutMs, maxBuffer: 16 << 20 });
  if (r.error) throw r.error;
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** Milliseconds to wait (for tests that poll an external process). */
export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

// ---- reading through the file path ----

/** Reads `bytes` through a real file and the streaming reader; record data are copied. */
export function readViaFile(dir: string, bytes: Buffer, chunkSize: number): { records: PcapRecord[]; status: PcapReadStatus } {
  const path = join(dir, 'via-file.cap');
  writeFileSync(path, bytes);
  const reader = CaptureReader.openFile(path, { chunkSize });
  const records: PcapRecord[] = [];
  for (const r of reader) records.push({ ...r, data: Buffer.from(r.data) });
  return { records, status: reader.status };
}
