/**
 * Capture file writers: classic pcap (little-endian, µs or ns timestamps) and a minimal pcapng
 * (one section: SHB, IDBs with if_name/if_tsresol, EPBs). Output goes to a growable Buffer or to
 * a file through a fixed buffer flushed with fs.writeSync. Misuse and I/O failures throw
 * NfqwallError (NFQ_PCAP_INVALID_ARGUMENT / NFQ_PCAP_WRITE_FAILED).
 */
import { closeSync, openSync, writeSync } from 'node:fs';
import { NfqwallError } from '../errors';
import { PCAP_WRITE_ERROR } from './errors';
import {
  MAX_PACKET_LENGTH,
  PCAP_MAGIC_MICRO,
  PCAP_MAGIC_NANO,
  PCAPNG_BLOCK_EPB,
  PCAPNG_BLOCK_IDB,
  PCAPNG_BLOCK_SHB,
  PCAPNG_BYTE_ORDER_MAGIC,
  PCAPNG_OPT_IF_NAME,
  PCAPNG_OPT_IF_TSRESOL,
} from './reader';

export const DEFAULT_WRITE_BUFFER = 1 << 20;
const NS_PER_SEC = 1_000_000_000n;
const MAX_U32_SECONDS = 0xffffffffn;

function invalid(message: string): NfqwallError {
  return new NfqwallError(PCAP_WRITE_ERROR.INVALID_ARGUMENT, message);
}

/** Milliseconds since the epoch (fraction allowed) to nanoseconds, without double rounding. */
export function msToNs(ms: number): bigint {
  const whole = Math.floor(ms);
  return BigInt(whole) * 1_000_000n + BigInt(Math.round((ms - whole) * 1e6));
}

/** Bytes in memory, or in a fixed buffer written to a descriptor whenever it fills. */
class Output {
  buf: Buffer;
  len = 0;
  private fd: number;
  private readonly ownsFd: boolean;
  private readonly memory: boolean;
  closed = false;

  constructor(fd: number, ownsFd: boolean, size: number) {
    this.fd = fd;
    this.memory = fd < 0;
    this.ownsFd = ownsFd;
    this.buf = Buffer.allocUnsafe(Math.max(256, size));
  }

  /** Index in `buf` where `n` bytes may be written; the caller then adds `n` to `len`. */
  reserve(n: number): number {
    if (this.closed) throw invalid('capture writer is closed');
    if (this.len + n > this.buf.length) {
      if (this.fd >= 0) this.flush();
      if (this.len + n > this.buf.length) {
        const bigger = Buffer.allocUnsafe(Math.max(this.len + n, this.buf.length * 2));
        this.buf.copy(bigger, 0, 0, this.len);
        this.buf = bigger;
      }
    }
    return this.len;
  }

  flush(): void {
    if (this.fd < 0 || this.len === 0) return;
    let off = 0;
    try {
      // writeSync may write less than asked (pipes, signals): loop until all is out.
      while (off < this.len) off += writeSync(this.fd, this.buf, off, this.len - off);
    } catch (e) {
      throw new NfqwallError(PCAP_WRITE_ERROR.WRITE_FAILED, `capture write failed: ${(e as Error).message}`, { cause: e });
    } finally {
      if (off > 0 && off < this.len) this.buf.copyWithin(0, off, this.len);
      this.len -= off;
    }
  }

  close(): void {
    if (this.closed) return;
    try {
      this.flush();
    } finally {
      this.closed = true;
      if (this.ownsFd && this.fd >= 0) {
        const fd = this.fd;
        this.fd = -1;
        closeSync(fd);
      }
    }
  }

  contents(): Buffer {
    if (!this.memory) throw invalid('contents() is only available on toBuffer() writers');
    return Buffer.from(this.buf.subarray(0, this.len));
  }
}

function openForWrite(path: string): number {
  try {
    return openSync(path, 'w');
  } catch (e) {
    throw new NfqwallError(PCAP_WRITE_ERROR.WRITE_FAILED, `cannot create ${path}: ${(e as Error).message}`, { cause: e });
  }
}

function checkSnaplen(snaplen: number, allowZero: boolean): void {
  if (!Number.isInteger(snaplen) || snaplen > MAX_PACKET_LENGTH || snaplen < (allowZero ? 0 : 1)) {
    throw invalid(`snaplen ${snaplen} out of range (${allowZero ? 0 : 1}..${MAX_PACKET_LENGTH})`);
  }
}

function checkLinkType(linkType: number, max: number): void {
  if (!Number.isInteger(linkType) || linkType < 0 || linkType > max) throw invalid(`link type ${linkType} out of range`);
}

/** Cut to the snaplen (0 = none) and check the original length. Returns the bytes to store. */
function captured(data: Uint8Array, originalLength: number, snaplen: number): number {
  if (!Number.isInteger(originalLength) || originalLength < data.length || originalLength > 0xffffffff) {
    throw invalid(`original length ${originalLength} must be an integer >= the ${data.length} data bytes`);
  }
  const limit = snaplen > 0 ? snaplen : MAX_PACKET_LENGTH;
  return Math.min(data.length, limit);
}

function checkTimestamp(ns: bigint): void {
  if (typeof ns !== 'bigint' || ns < 0n) throw invalid(`timestamp ${String(ns)} must be a non-negative bigint of nanoseconds`);
}

export interface PcapWriterOptions {
  linkType: number;
  /** Default MAX_PACKET_LENGTH (262144). Longer packets are cut and flagged (incl_len < orig_len). */
  snaplen?: number;
  /** Default 'micro' (magic 0xa1b2c3d4); 'nano' writes magic 0xa1b23c4d. */
  precision?: 'micro' | 'nano';
  /** File output buffer size; default 1 MiB. */
  bufferSize?: number;
}

/** Classic little-endian pcap writer. */
export class PcapWriter {
  private readonly out: Output;
  private readonly nano: boolean;
  private readonly snaplen: number;
  private count = 0;

  private constructor(out: Output, opts: PcapWriterOptions) {
    checkLinkType(opts.linkType, 0xffff);
    this.snaplen = opts.snaplen ?? MAX_PACKET_LENGTH;
    checkSnaplen(this.snaplen, false);
    this.nano = opts.precision === 'nano';
    this.out = out;
    const at = out.reserve(24);
    const b = out.buf;
    b.writeUInt32LE(this.nano ? PCAP_MAGIC_NANO : PCAP_MAGIC_MICRO, at);
    b.writeUInt16LE(2, at + 4);
    b.writeUInt16LE(4, at + 6);
    b.writeInt32LE(0, at + 8); // thiszone: always 0 (UTC)
    b.writeUInt32LE(0, at + 12); // sigfigs
    b.writeUInt32LE(this.snaplen, at + 16);
    b.writeUInt32LE(opts.linkType, at + 20);
    out.len += 24;
  }

  static toBuffer(opts: PcapWriterOptions): PcapWriter {
    return new PcapWriter(new Output(-1, false, opts.bufferSize ?? 64 * 1024), opts);
  }

  /** Creates or truncates `path`. The file is complete after `close()`. */
  static toFile(path: string, opts: PcapWriterOptions): PcapWriter {
    const fd = openForWrite(path);
    try {
      return new PcapWriter(new Output(fd, true, opts.bufferSize ?? DEFAULT_WRITE_BUFFER), opts);
    } catch (e) {
      closeSync(fd);
      throw e;
    }
  }

  /** Writes to an open descriptor, which the caller keeps (close() flushes but does not close it). */
  static toFd(fd: number, opts: PcapWriterOptions): PcapWriter {
    return new PcapWriter(new Output(fd, false, opts.bufferSize ?? DEFAULT_WRITE_BUFFER), opts);
  }

  /** Packets written so far. */
  get packets(): number {
    return this.count;
  }

  /**
   * Appends one record. `timestampNs`: nanoseconds since the epoch (µs files truncate).
   * `originalLength` defaults to the data length; data beyond the snaplen is not stored.
   */
  write(timestampNs: bigint, data: Uint8Array, originalLength: number = data.length): void {
    checkTimestamp(timestampNs);
    const sec = timestampNs / NS_PER_SEC;
    if (sec > MAX_U32_SECONDS) throw invalid(`timestamp ${timestampNs} ns is past what pcap can store (year 2106)`);
    const subNs = Number(timestampNs % NS_PER_SEC);
    const cap = captured(data, originalLength, this.snaplen);
    const at = this.out.reserve(16 + cap);
    const b = this.out.buf;
    b.writeUInt32LE(Number(sec), at);
    b.writeUInt32LE(this.nano ? subNs : Math.floor(subNs / 1000), at + 4);
    b.writeUInt32LE(cap, at + 8);
    b.writeUInt32LE(originalLength, at + 12);
    b.set(cap === data.length ? data : data.subarray(0, cap), at + 16);
    this.out.len += 16 + cap;
    this.count++;
  }

  flush(): void {
    this.out.flush();
  }

  /** Flushes and, for `toFile`, closes the file. Further writes throw. */
  close(): void {
    this.out.close();
  }

  /** The bytes written so far (a copy); `toBuffer` writers only. */
  contents(): Buffer {
    return this.out.contents();
  }
}

export interface PcapngInterfaceOptions {
  linkType: number;
  /** Default MAX_PACKET_LENGTH; 0 = no limit (still capped at MAX_PACKET_LENGTH when writing). */
  snaplen?: number;
  /** Written as if_name (tshark shows it as the interface name). */
  name?: string;
  /** Default 'micro' (pcapng default resolution, no option); 'nano' writes if_tsresol = 9. */
  precision?: 'micro' | 'nano';
}

export interface PcapngWriterOptions {
  /** shb_userappl; default "nfqwall". */
  userAppl?: string;
  /** File output buffer size; default 1 MiB. */
  bufferSize?: number;
}

interface WriterIface {
  snaplen: number;
  nano: boolean;
}

/** Minimal little-endian pcapng writer: one section, any number of interfaces, EPB packets. */
export class PcapngWriter {
  private readonly out: Output;
  private readonly ifaces: WriterIface[] = [];
  private count = 0;

  private constructor(out: Output, opts: PcapngWriterOptions) {
    this.out = out;
    const appl = Buffer.from(opts.userAppl ?? 'nfqwall', 'utf8');
    const body = Buffer.alloc(16);
    body.writeUInt32LE(PCAPNG_BYTE_ORDER_MAGIC, 0);
    body.writeUInt16LE(1, 4);
    body.writeUInt16LE(0, 6);
    body.writeBigInt64LE(-1n, 8); // section length not specified (we stream)
    this.block(PCAPNG_BLOCK_SHB, body, appl.length > 0 ? [[4, appl]] : []);
  }

  static toBuffer(opts: PcapngWriterOptions = {}): PcapngWriter {
    return new PcapngWriter(new Output(-1, false, opts.bufferSize ?? 64 * 1024), opts);
  }

  static toFile(path: string, opts: PcapngWriterOptions = {}): PcapngWriter {
    const fd = openForWrite(path);
    try {
      return new PcapngWriter(new Output(fd, true, opts.bufferSize ?? DEFAULT_WRITE_BUFFER), opts);
    } catch (e) {
      closeSync(fd);
      throw e;
    }
  }

  static toFd(fd: number, opts: PcapngWriterOptions = {}): PcapngWriter {
    return new PcapngWriter(new Output(fd, false, opts.bufferSize ?? DEFAULT_WRITE_BUFFER), opts);
  }

  get packets(): number {
    return this.count;
  }

  /** Writes an Interface Description Block; returns its interface index for `write`. */
  addInterface(opts: PcapngInterfaceOptions): number {
    checkLinkType(opts.linkType, 0xffff);
    const snaplen = opts.snaplen ?? MAX_PACKET_LENGTH;
    checkSnaplen(snaplen, true);
    const nano = opts.precision === 'nano';
    const body = Buffer.alloc(8);
    body.writeUInt16LE(opts.linkType, 0);
    body.writeUInt32LE(snaplen, 4);
    const options: Array<[number, Buffer]> = [];
    if (opts.name !== undefined) options.push([PCAPNG_OPT_IF_NAME, Buffer.from(opts.name, 'utf8')]);
    if (nano) options.push([PCAPNG_OPT_IF_TSRESOL, Buffer.from([9])]);
    this.block(PCAPNG_BLOCK_IDB, body, options);
    this.ifaces.push({ snaplen, nano });
    return this.ifaces.length - 1;
  }

  /** Appends an Enhanced Packet Block on interface `interfaceIndex`. */
  write(interfaceIndex: number, timestampNs: bigint, data: Uint8Array, originalLength: number = data.length): void {
    const iface = this.ifaces[interfaceIndex];
    if (!iface) throw invalid(`interface ${interfaceIndex} was not added (have ${this.ifaces.length})`);
    checkTimestamp(timestampNs);
    const units = iface.nano ? timestampNs : timestampNs / 1000n;
    if (units > 0xffffffffffffffffn) throw invalid(`timestamp ${timestampNs} ns does not fit in 64 bits`);
    const cap = captured(data, originalLength, iface.snaplen);
    const padded = (cap + 3) & ~3;
    const total = 32 + padded;
    const at = this.out.reserve(total);
    const b = this.out.buf;
    b.writeUInt32LE(PCAPNG_BLOCK_EPB, at);
    b.writeUInt32LE(total, at + 4);
    b.writeUInt32LE(interfaceIndex, at + 8);
    b.writeUInt32LE(Number(units >> 32n), at + 12);
    b.writeUInt32LE(Number(units & 0xffffffffn), at + 16);
    b.writeUInt32LE(cap, at + 20);
    b.writeUInt32LE(originalLength, at + 24);
    b.set(cap === data.length ? data : data.subarray(0, cap), at + 28);
    b.fill(0, at + 28 + cap, at + 28 + padded);
    b.writeUInt32LE(total, at + total - 4);
    this.out.len += total;
    this.count++;
  }

  flush(): void {
    this.out.flush();
  }

  close(): void {
    this.out.close();
  }

  /** The bytes written so far (a copy); `toBuffer` writers only. */
  contents(): Buffer {
    return this.out.contents();
  }

  /** type, length, fixed body, options (+ opt_endofopt when any), trailing length. */
  private block(type: number, body: Buffer, options: Array<[number, Buffer]>): void {
    let optLen = 0;
    for (const [code, v] of options) {
      if (v.length > 0xffff) throw invalid(`pcapng option ${code} is ${v.length} bytes, more than 65535`);
      optLen += 4 + ((v.length + 3) & ~3);
    }
    if (options.length > 0) optLen += 4;
    const total = 12 + body.length + optLen;
    const at = this.out.reserve(total);
    const b = this.out.buf;
    b.fill(0, at, at + total);
    b.writeUInt32LE(type, at);
    b.writeUInt32LE(total, at + 4);
    body.copy(b, at + 8);
    let p = at + 8 + body.length;
    for (const [code, v] of options) {
      b.writeUInt16LE(code, p);
      b.writeUInt16LE(v.length, p + 2);
      v.copy(b, p + 4);
      p += 4 + ((v.length + 3) & ~3);
    }
    // opt_endofopt is the zeroed 4 bytes already in place.
    b.writeUInt32LE(total, at + total - 4);
    this.out.len += total;
  }
}
