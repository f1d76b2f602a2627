/**
 * Streaming reader for classic pcap and pcapng capture files.
 *
 * Error contract: the reader never throws for bad input. It delivers every record that precedes
 * the first problem (each one complete and validated), then iteration ends and `status` holds the
 * error with its code and byte offset. Nothing after the problem is delivered: a capture that is
 * corrupt in the middle cannot be resynchronised reliably, and silently skipping would hide
 * packets from a replay. A file that ends exactly on a record/block boundary ends cleanly.
 * Callers must therefore check `status` after the loop (or use `readCaptureBuffer`).
 */
import { closeSync, openSync } from 'node:fs';
import { ByteSource, DEFAULT_CHUNK_SIZE } from './byte-source';
import { PCAP_ERROR, PcapError, PcapErrorCode, pcapError } from './errors';

/** Largest captured length accepted per packet (tcpdump's own maximum snaplen). */
export const MAX_PACKET_LENGTH = 262144;
/** Largest pcapng block the reader holds in memory (SHB, IDB, packet blocks). Others are skipped. */
export const MAX_BLOCK_LENGTH = 1 << 20;

export const PCAP_MAGIC_MICRO = 0xa1b2c3d4;
export const PCAP_MAGIC_NANO = 0xa1b23c4d;
const PCAP_MAGIC_MODIFIED = 0xa1b2cd34;
export const PCAPNG_BLOCK_SHB = 0x0a0d0d0a;
export const PCAPNG_BLOCK_IDB = 0x00000001;
export const PCAPNG_BLOCK_OPB = 0x00000002;
export const PCAPNG_BLOCK_SPB = 0x00000003;
export const PCAPNG_BLOCK_EPB = 0x00000006;
export const PCAPNG_BYTE_ORDER_MAGIC = 0x1a2b3c4d;
export const PCAPNG_OPT_ENDOFOPT = 0;
export const PCAPNG_OPT_IF_NAME = 2;
export const PCAPNG_OPT_IF_TSRESOL = 9;
export const PCAPNG_OPT_IF_TSOFFSET = 14;

export type CaptureFormat = 'pcap' | 'pcapng';
export type ByteOrder = 'little' | 'big';

/** One capture interface: the single implicit one of a classic pcap file, or a pcapng IDB. */
export interface PcapInterface {
  /** Index within its section (pcapng interface ID); 0 for classic pcap. */
  index: number;
  /** pcapng section number (0-based); 0 for classic pcap. */
  section: number;
  linkType: number;
  /** 0 means "no limit" in pcapng. */
  snaplen: number;
  /** pcapng `if_name`, undefined when absent (always for classic pcap). */
  name: string | undefined;
  /** Timestamp units per second: 10^n or 2^n (pcapng `if_tsresol`), 1e6 or 1e9 for pcap. */
  unitsPerSecond: bigint;
  /** pcapng `if_tsoffset` in seconds, added to every timestamp. */
  tsOffsetSeconds: bigint;
}

/** Classic pcap file header. */
export interface PcapFileHeader {
  byteOrder: ByteOrder;
  precision: 'micro' | 'nano';
  versionMajor: number;
  versionMinor: number;
  snaplen: number;
  /** Low 16 bits of the header's link-type field (the upper bits may carry FCS information). */
  linkType: number;
}

export interface PcapRecord {
  /** 0-based number of this packet record in the file. */
  index: number;
  /** Byte offset of the record header / block in the file. */
  offset: number;
  /** Nanoseconds since the epoch (pcapng resolutions finer than 1 ns are truncated). */
  timestampNs: bigint;
  /** Milliseconds since the epoch, with sub-millisecond fraction. */
  timestampMs: number;
  /** False for pcapng Simple Packet Blocks, which carry no timestamp (both values are then 0). */
  hasTimestamp: boolean;
  interfaceIndex: number;
  interfaceName: string | undefined;
  section: number;
  linkType: number;
  capturedLength: number;
  originalLength: number;
  /** capturedLength < originalLength: the packet was cut by the snaplen. */
  truncated: boolean;
  /**
   * The captured bytes, as a view. When reading a file it points into the reader's chunk buffer
   * and is only valid until the next call to `next()`: copy it (`Buffer.from(data)`) to keep it.
   * When reading a Buffer it is a view of that Buffer.
   */
  data: Buffer;
}

export type PcapReadStatus =
  | { state: 'reading'; records: number }
  /** `close()` or `break` before the end: nothing wrong was seen, but the input was not finished. */
  | { state: 'closed'; records: number }
  | { state: 'end'; records: number; bytes: number }
  | { state: 'error'; records: number; error: PcapError };

export interface CaptureReaderOptions {
  /** Chunk buffer size for file reads; default 1 MiB (16 B..64 MiB). Grows only for a larger block. */
  chunkSize?: number;
  /** Per-packet captured-length limit; default MAX_PACKET_LENGTH, at most MAX_BLOCK_LENGTH. */
  maxPacketLength?: number;
}

const NS_PER_SEC = 1_000_000_000n;

/**
 * Iterates over the packet records of a capture. Create with `fromBuffer`, `fromFd` or
 * `openFile`; use in `for...of`, then inspect `status`.
 */
export class CaptureReader implements IterableIterator<PcapRecord> {
  private readonly src: ByteSource;
  private readonly maxPacket: number;
  private ownedFd: number;
  private pos = 0;
  private mode: 'start' | 'pcap' | 'pcapng' | 'done' = 'start';
  private le = true;
  private records = 0;
  private ended = false;
  private err: PcapError | undefined;
  // Classic pcap: multiplier from the sub-second field to ns, and its upper bound.
  private fracToNs = 1000;
  private fracLimit = 1_000_000;
  private fracPerMs = 1000;
  private linkType = 0;
  private ifaces: PcapInterface[] = [];
  private sectionNo = -1;
  private skipped = 0;

  private fmt: CaptureFormat | undefined;
  private hdr: PcapFileHeader | undefined;

  private constructor(src: ByteSource, opts: CaptureReaderOptions, ownedFd: number, openError?: PcapError) {
    this.src = src;
    // Bounded so that a corrupt length can never make the reader allocate more than a block.
    this.maxPacket = clampInt(opts.maxPacketLength, MAX_PACKET_LENGTH, 0, MAX_BLOCK_LENGTH);
    this.ownedFd = ownedFd;
    if (openError) this.fail(openError);
  }

  /** Reads a whole capture held in memory; record data are views of `buf`. */
  static fromBuffer(buf: Buffer, opts: CaptureReaderOptions = {}): CaptureReader {
    return new CaptureReader(ByteSource.fromBuffer(buf), opts, -1);
  }

  /** Reads sequentially from an open descriptor (file or pipe). The caller keeps ownership. */
  static fromFd(fd: number, opts: CaptureReaderOptions = {}): CaptureReader {
    return new CaptureReader(ByteSource.fromFd(fd, clampInt(opts.chunkSize, DEFAULT_CHUNK_SIZE, 16, 64 << 20)), opts, -1);
  }

  /**
   * Opens `path`; the descriptor is closed when iteration ends, on `close()`, or on `break`.
   * An open failure does not throw: the reader starts in the error state (NFQ_PCAP_OPEN_FAILED).
   */
  static openFile(path: string, opts: CaptureReaderOptions = {}): CaptureReader {
    let fd: number;
    try {
      fd = openSync(path, 'r');
    } catch (e) {
      const err = e as NodeJS.ErrnoException;
      const detail = `cannot open ${path}: ${err.code ?? ''} ${err.message}`.trim();
      return new CaptureReader(ByteSource.fromBuffer(Buffer.alloc(0)), opts, -1, pcapError(PCAP_ERROR.OPEN_FAILED, 0, 0, detail));
    }
    return new CaptureReader(ByteSource.fromFd(fd, clampInt(opts.chunkSize, DEFAULT_CHUNK_SIZE, 16, 64 << 20)), opts, fd);
  }

  get status(): PcapReadStatus {
    if (this.err) return { state: 'error', records: this.records, error: this.err };
    if (this.ended) return { state: 'end', records: this.records, bytes: this.pos };
    if (this.mode === 'done') return { state: 'closed', records: this.records };
    return { state: 'reading', records: this.records };
  }

  /** Format of the input once its first bytes have been read. */
  get format(): CaptureFormat | undefined {
    return this.fmt;
  }

  /** Classic pcap file header once read; undefined for pcapng. */
  get header(): PcapFileHeader | undefined {
    return this.hdr;
  }

  /** The error that ended reading, if any. */
  get error(): PcapError | undefined {
    return this.err;
  }

  /** Interfaces of the current section (the single implicit one for classic pcap). */
  get interfaces(): readonly PcapInterface[] {
    return this.ifaces;
  }

  /** Byte order of the classic file or of the current pcapng section. */
  get byteOrder(): ByteOrder {
    return this.le ? 'little' : 'big';
  }

  /** pcapng blocks passed over without being interpreted (NRB, ISB, custom, unknown types). */
  get skippedBlocks(): number {
    return this.skipped;
  }

  /** Releases the file descriptor if the reader opened it. Safe to call more than once. */
  close(): void {
    this.mode = 'done';
    if (this.ownedFd >= 0) {
      const fd = this.ownedFd;
      this.ownedFd = -1;
      try {
        closeSync(fd);
      } catch {
        // Nothing useful to do: the descriptor is gone either way.
      }
    }
  }

  [Symbol.iterator](): CaptureReader {
    return this;
  }

  /** Called by `for...of` on `break`: stop and release the file. */
  return(): IteratorResult<PcapRecord> {
    this.close();
    return { done: true, value: undefined };
  }

  next(): IteratorResult<PcapRecord> {
    if (this.mode === 'start') this.start();
    let rec: PcapRecord | undefined;
    if (this.mode === 'pcap') rec = this.nextPcap();
    else if (this.mode === 'pcapng') rec = this.nextPcapng();
    if (rec === undefined) {
      this.close();
      return { done: true, value: undefined };
    }
    this.records++;
    return { done: false, value: rec };
  }

  // ---- shared ----

  private fail(e: PcapError): undefined {
    this.err = e;
    this.close();
    return undefined;
  }

  private problem(code: PcapErrorCode, offset: number, detail: string): undefined {
    return this.fail(pcapError(code, offset, this.records, detail));
  }

  /** Input ended (or a read failed) before `need` bytes at `offset`. */
  private short(offset: number, need: number, what: string): undefined {
    const io = this.src.ioError;
    if (io) return this.problem(PCAP_ERROR.IO_ERROR, this.src.base + this.src.end, `read failed: ${io.code ?? ''} ${io.message}`.trim());
    const have = Math.max(0, this.src.available(offset));
    return this.problem(PCAP_ERROR.TRUNCATED, offset, `${what} needs ${need} bytes but only ${have} remain`);
  }

  /** True at a clean end of input (no byte left at `pos`, no read error). */
  private atCleanEnd(pos: number): boolean {
    return !this.src.ioError && this.src.available(pos) <= 0;
  }

  private u16(i: number): number {
    return this.le ? this.src.buf.readUInt16LE(i) : this.src.buf.readUInt16BE(i);
  }

  private u32(i: number): number {
    return this.le ? this.src.buf.readUInt32LE(i) : this.src.buf.readUInt32BE(i);
  }

  private start(): boolean {
    const src = this.src;
    if (!src.ensure(0, 4)) {
      if (this.atCleanEnd(0)) this.problem(PCAP_ERROR.TRUNCATED, 0, 'empty input: no capture file header');
      else this.short(0, 4, 'file header');
      return false;
    }
    const i = src.at(0);
    const le = src.buf.readUInt32LE(i);
    const be = src.buf.readUInt32BE(i);
    if (be === PCAPNG_BLOCK_SHB) {
      this.fmt = 'pcapng';
      this.mode = 'pcapng';
      return true;
    }
    for (const [magic, isLe] of [
      [le, true],
      [be, false],
    ] as const) {
      if (magic === PCAP_MAGIC_MICRO || magic === PCAP_MAGIC_NANO) {
        this.fmt = 'pcap';
        this.le = isLe;
        return this.readPcapHeader(magic === PCAP_MAGIC_NANO);
      }
      if (magic === PCAP_MAGIC_MODIFIED) {
        this.problem(PCAP_ERROR.UNSUPPORTED_FORMAT, 0, 'modified (Kuznetzov) pcap is not supported; convert it with editcap -F pcap');
        return false;
      }
    }
    this.problem(PCAP_ERROR.BAD_MAGIC, 0, `not a pcap or pcapng file (first 4 bytes ${src.buf.subarray(i, i + 4).toString('hex')})`);
    return false;
  }

  // ---- classic pcap ----

  private readPcapHeader(nano: boolean): boolean {
    if (!this.src.ensure(0, 24)) {
      this.short(0, 24, 'pcap file header');
      return false;
    }
    const i = this.src.at(0);
    const versionMajor = this.u16(i + 4);
    const versionMinor = this.u16(i + 6);
    if (versionMajor !== 2) {
      this.problem(PCAP_ERROR.UNSUPPORTED_VERSION, 0, `pcap version ${versionMajor}.${versionMinor}, only 2.x is supported`);
      return false;
    }
    const snaplen = this.u32(i + 16);
    const linkType = this.u32(i + 20) & 0xffff;
    // thiszone and sigfigs are ignored, as libpcap does (writers put 0 there).
    this.hdr = { byteOrder: this.byteOrder, precision: nano ? 'nano' : 'micro', versionMajor, versionMinor, snaplen, linkType };
    this.fracToNs = nano ? 1 : 1000;
    this.fracLimit = nano ? 1_000_000_000 : 1_000_000;
    this.fracPerMs = nano ? 1_000_000 : 1000;
    this.linkType = linkType;
    this.ifaces = [
      { index: 0, section: 0, linkType, snaplen, name: undefined, unitsPerSecond: nano ? NS_PER_SEC : 1_000_000n, tsOffsetSeconds: 0n },
    ];
    this.sectionNo = 0;
    this.pos = 24;
    this.mode = 'pcap';
    return true;
  }

  private nextPcap(): PcapRecord | undefined {
    const src = this.src;
    const pos = this.pos;
    if (!src.ensure(pos, 16)) {
      if (this.atCleanEnd(pos)) {
        this.ended = true;
        return undefined;
      }
      return this.short(pos, 16, 'record header');
    }
    let i = src.at(pos);
    const sec = this.u32(i);
    const frac = this.u32(i + 4);
    const incl = this.u32(i + 8);
    const orig = this.u32(i + 12);
    if (incl > this.maxPacket) {
      return this.problem(PCAP_ERROR.PACKET_TOO_LARGE, pos, `record captured length ${incl} exceeds the ${this.maxPacket}-byte limit`);
    }
    if (orig < incl) return this.problem(PCAP_ERROR.BAD_LENGTH, pos, `record original length ${orig} < captured length ${incl}`);
    if (frac >= this.fracLimit) {
      return this.problem(PCAP_ERROR.BAD_TIMESTAMP, pos, `record sub-second field ${frac} is not below ${this.fracLimit}`);
    }
    if (!src.ensure(pos, 16 + incl)) return this.short(pos, 16 + incl, `record with ${incl} captured bytes`);
    i = src.at(pos);
    this.pos = pos + 16 + incl;
    return {
      index: this.records,
      offset: pos,
      timestampNs: BigInt(sec) * NS_PER_SEC + BigInt(frac * this.fracToNs),
      timestampMs: sec * 1000 + frac / this.fracPerMs,
      hasTimestamp: true,
      interfaceIndex: 0,
      interfaceName: undefined,
      section: 0,
      linkType: this.linkType,
      capturedLength: incl,
      originalLength: orig,
      truncated: incl < orig,
      data: src.buf.subarray(i + 16, i + 16 + incl),
    };
  }

  // ---- pcapng ----

  private nextPcapng(): PcapRecord | undefined {
    const src = this.src;
    for (;;) {
      const pos = this.pos;
      if (!src.ensure(pos, 8)) {
        if (this.atCleanEnd(pos)) {
          this.ended = true;
          return undefined;
        }
        return this.short(pos, 8, 'block header');
      }
      let i = src.at(pos);
      // The SHB type reads the same in both byte orders, so it is recognised before the order is known.
      const rawType = src.buf.readUInt32LE(i);
      if (rawType === PCAPNG_BLOCK_SHB) {
        // A section sets its own byte order: read it before trusting the length field.
        if (!src.ensure(pos, 12)) return this.short(pos, 12, 'section header block');
        i = src.at(pos);
        const bomLe = src.buf.readUInt32LE(i + 8);
        if (bomLe === PCAPNG_BYTE_ORDER_MAGIC) this.le = true;
        else if (src.buf.readUInt32BE(i + 8) === PCAPNG_BYTE_ORDER_MAGIC) this.le = false;
        else return this.problem(PCAP_ERROR.BAD_MAGIC, pos, `section header byte-order magic is ${src.buf.subarray(i + 8, i + 12).toString('hex')}`);
      }
      const type = this.u32(i);
      const len = this.u32(i + 4);
      const min = minBlockLength(type);
      if (len % 4 !== 0 || len < min) {
        return this.problem(PCAP_ERROR.BAD_BLOCK_LENGTH, pos, `block type 0x${type.toString(16)} has total length ${len} (must be a multiple of 4, at least ${min})`);
      }
      if (!isParsedBlock(type)) {
        // Passed over by length: the body is never held in memory, whatever its size.
        if (!src.skipTo(pos + len - 4) || !src.ensure(pos + len - 4, 4)) return this.short(pos, len, `block type 0x${type.toString(16)}`);
        const trailer = this.u32(src.at(pos + len - 4));
        if (trailer !== len) return this.mismatch(pos, type, len, trailer);
        this.pos = pos + len;
        this.skipped++;
        continue;
      }
      if (len > MAX_BLOCK_LENGTH) {
        return this.problem(PCAP_ERROR.BLOCK_TOO_LARGE, pos, `block type 0x${type.toString(16)} has total length ${len}, above the ${MAX_BLOCK_LENGTH}-byte limit`);
      }
      if (!src.ensure(pos, len)) return this.short(pos, len, `block type 0x${type.toString(16)}`);
      i = src.at(pos);
      const trailer = this.u32(i + len - 4);
      if (trailer !== len) return this.mismatch(pos, type, len, trailer);
      this.pos = pos + len;
      switch (type) {
        case PCAPNG_BLOCK_SHB:
          if (!this.readShb(pos, i)) return undefined;
          continue;
        case PCAPNG_BLOCK_IDB:
          if (!this.readIdb(pos, i, len)) return undefined;
          continue;
        case PCAPNG_BLOCK_EPB:
          return this.readEpbOrOpb(pos, i, len, false);
        case PCAPNG_BLOCK_OPB:
          return this.readEpbOrOpb(pos, i, len, true);
        default:
          return this.readSpb(pos, i, len);
      }
    }
  }

  private mismatch(pos: number, type: number, len: number, trailer: number): undefined {
    return this.problem(PCAP_ERROR.BLOCK_LENGTH_MISMATCH, pos, `block type 0x${type.toString(16)} total length ${len} but trailing copy ${trailer}`);
  }

  private readShb(pos: number, i: number): boolean {
    const major = this.u16(i + 12);
    const minor = this.u16(i + 14);
    if (major !== 1) {
      this.problem(PCAP_ERROR.UNSUPPORTED_VERSION, pos, `pcapng version ${major}.${minor}, only 1.x is supported`);
      return false;
    }
    this.sectionNo++;
    this.ifaces = [];
    return true;
  }

  private readIdb(pos: number, i: number, len: number): boolean {
    const iface: PcapInterface = {
      index: this.ifaces.length,
      section: this.sectionNo,
      linkType: this.u16(i + 8),
      snaplen: this.u32(i + 12),
      name: undefined,
      unitsPerSecond: 1_000_000n,
      tsOffsetSeconds: 0n,
    };
    const buf = this.src.buf;
    const end = i + len - 4;
    let p = i + 16;
    while (p + 4 <= end) {
      const code = this.u16(p);
      const olen = this.u16(p + 2);
      if (code === PCAPNG_OPT_ENDOFOPT) break;
      const v = p + 4;
      if (v + olen > end) {
        this.problem(PCAP_ERROR.BAD_OPTION, pos, `interface option ${code} of length ${olen} runs past the end of its block`);
        return false;
      }
      if (code === PCAPNG_OPT_IF_NAME) {
        iface.name = buf.toString('utf8', v, v + olen).replace(/\0+$/, '');
      } else if (code === PCAPNG_OPT_IF_TSRESOL) {
        if (olen !== 1) {
          this.problem(PCAP_ERROR.BAD_OPTION, pos, `if_tsresol has length ${olen}, expected 1`);
          return false;
        }
        const r = buf[v]!;
        // High bit set: negative power of 2; otherwise negative power of 10.
        iface.unitsPerSecond = r & 0x80 ? 1n << BigInt(r & 0x7f) : 10n ** BigInt(r);
      } else if (code === PCAPNG_OPT_IF_TSOFFSET) {
        if (olen !== 8) {
          this.problem(PCAP_ERROR.BAD_OPTION, pos, `if_tsoffset has length ${olen}, expected 8`);
          return false;
        }
        iface.tsOffsetSeconds = this.le ? buf.readBigInt64LE(v) : buf.readBigInt64BE(v);
      }
      p = v + ((olen + 3) & ~3);
    }
    this.ifaces.push(iface);
    return true;
  }

  private readEpbOrOpb(pos: number, i: number, len: number, obsolete: boolean): PcapRecord | undefined {
    const ifIndex = obsolete ? this.u16(i + 8) : this.u32(i + 8);
    const hi = this.u32(i + 12);
    const lo = this.u32(i + 16);
    const cap = this.u32(i + 20);
    const orig = this.u32(i + 24);
    const iface = this.ifaces[ifIndex];
    if (!iface) {
      return this.problem(PCAP_ERROR.UNKNOWN_INTERFACE, pos, `packet block refers to interface ${ifIndex}, section ${this.sectionNo} has ${this.ifaces.length}`);
    }
    if (cap > this.maxPacket) return this.problem(PCAP_ERROR.PACKET_TOO_LARGE, pos, `packet captured length ${cap} exceeds the ${this.maxPacket}-byte limit`);
    if (32 + ((cap + 3) & ~3) > len) return this.problem(PCAP_ERROR.BAD_LENGTH, pos, `packet captured length ${cap} does not fit in its ${len}-byte block`);
    if (orig < cap) return this.problem(PCAP_ERROR.BAD_LENGTH, pos, `packet original length ${orig} < captured length ${cap}`);
    let ns: bigint;
    const units = iface.unitsPerSecond;
    // hi * 2^32 + lo stays exact in a double below 2^53; true for µs timestamps until year 2255.
    const raw = hi < 0x200000 ? BigInt(hi * 0x100000000 + lo) : (BigInt(hi) << 32n) | BigInt(lo);
    if (units === 1_000_000n) ns = raw * 1000n;
    else if (units === NS_PER_SEC) ns = raw;
    else if (units < NS_PER_SEC && NS_PER_SEC % units === 0n) ns = raw * (NS_PER_SEC / units);
    else ns = (raw * NS_PER_SEC) / units;
    if (iface.tsOffsetSeconds !== 0n) ns += iface.tsOffsetSeconds * NS_PER_SEC;
    return this.packet(pos, iface, true, ns, cap, orig, i + 28);
  }

  private readSpb(pos: number, i: number, len: number): PcapRecord | undefined {
    const iface = this.ifaces[0];
    if (!iface) return this.problem(PCAP_ERROR.UNKNOWN_INTERFACE, pos, `simple packet block in section ${this.sectionNo}, which has no interface`);
    const orig = this.u32(i + 8);
    // The captured length is implied: the original length cut by the snaplen and the block size.
    let cap = Math.min(orig, len - 16);
    if (iface.snaplen > 0) cap = Math.min(cap, iface.snaplen);
    if (cap > this.maxPacket) return this.problem(PCAP_ERROR.PACKET_TOO_LARGE, pos, `packet captured length ${cap} exceeds the ${this.maxPacket}-byte limit`);
    return this.packet(pos, iface, false, 0n, cap, orig, i + 12);
  }

  private packet(pos: number, iface: PcapInterface, hasTs: boolean, ns: bigint, cap: number, orig: number, dataAt: number): PcapRecord {
    return {
      index: this.records,
      offset: pos,
      timestampNs: ns,
      timestampMs: Number(ns) / 1e6,
      hasTimestamp: hasTs,
      interfaceIndex: iface.index,
      interfaceName: iface.name,
      section: iface.section,
      linkType: iface.linkType,
      capturedLength: cap,
      originalLength: orig,
      truncated: cap < orig,
      data: this.src.buf.subarray(dataAt, dataAt + cap),
    };
  }
}

function clampInt(v: number | undefined, dflt: number, min: number, max: number): number {
  if (v === undefined || !Number.isFinite(v)) return dflt;
  return Math.min(max, Math.max(min, Math.floor(v)));
}

function isParsedBlock(type: number): boolean {
  return type === PCAPNG_BLOCK_SHB || type === PCAPNG_BLOCK_IDB || type === PCAPNG_BLOCK_EPB || type === PCAPNG_BLOCK_SPB || type === PCAPNG_BLOCK_OPB;
}

/** Smallest legal total length per block type (12 = header + trailer, for unknown types). */
function minBlockLength(type: number): number {
  switch (type) {
    case PCAPNG_BLOCK_SHB:
      return 28;
    case PCAPNG_BLOCK_IDB:
      return 20;
    case PCAPNG_BLOCK_EPB:
    case PCAPNG_BLOCK_OPB:
      return 32;
    case PCAPNG_BLOCK_SPB:
      return 16;
    default:
      return 12;
  }
}

/** Result of reading a whole capture held in memory. */
export interface CaptureBufferResult {
  format: CaptureFormat | undefined;
  header: PcapFileHeader | undefined;
  /** Every record before the end or the first error; `data` views the input buffer. */
  records: PcapRecord[];
  /** Always 'end' or 'error' (never 'reading' or 'closed'). */
  status: PcapReadStatus;
  error: PcapError | undefined;
  skippedBlocks: number;
}

/** Pure, whole-buffer read: convenient in tests and for small captures. */
export function readCaptureBuffer(buf: Buffer, opts: CaptureReaderOptions = {}): CaptureBufferResult {
  const reader = CaptureReader.fromBuffer(buf, opts);
  const records: PcapRecord[] = [];
  // Bounded: every record consumes at least 16 bytes of input.
  for (const rec of reader) records.push(rec);
  return {
    format: reader.format,
    header: reader.header,
    records,
    status: reader.status,
    error: reader.error,
    skippedBlocks: reader.skippedBlocks,
  };
}
