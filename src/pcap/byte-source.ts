/**
 * A forward-only window over the input: either a whole Buffer (zero copy) or a file descriptor
 * read sequentially into one reusable chunk buffer. Offsets are absolute (from the start of the
 * input); bytes before the position last passed to `ensure`/`skipTo` may be discarded.
 */
import { readSync } from 'node:fs';

export const DEFAULT_CHUNK_SIZE = 1 << 20;

export class ByteSource {
  /** Current bytes: absolute offset `o` is at `buf[o - base]` while `o - base < end`. */
  buf: Buffer;
  base = 0;
  end: number;
  private eof: boolean;
  private readonly fd: number;
  /** Set when a read failed; the source then behaves as if the input ended there. */
  ioError: NodeJS.ErrnoException | undefined;

  private constructor(buf: Buffer, end: number, fd: number) {
    this.buf = buf;
    this.end = end;
    this.fd = fd;
    this.eof = fd < 0;
  }

  static fromBuffer(buf: Buffer): ByteSource {
    return new ByteSource(buf, buf.length, -1);
  }

  /** Reads with position `null` (the descriptor's own offset), so pipes work as well as files. */
  static fromFd(fd: number, chunkSize = DEFAULT_CHUNK_SIZE): ByteSource {
    return new ByteSource(Buffer.allocUnsafe(Math.max(16, chunkSize)), 0, fd);
  }

  /** Index in `buf` of absolute offset `pos` (valid after a successful `ensure`). */
  at(pos: number): number {
    return pos - this.base;
  }

  /** Bytes available from `pos` without reading more. */
  available(pos: number): number {
    return this.base + this.end - pos;
  }

  /** Make bytes [pos, pos + n) available in `buf`. False when the input ends (or fails) first. */
  ensure(pos: number, n: number): boolean {
    if (pos + n - this.base <= this.end) return true;
    if (this.eof) return false;
    // Keep only what is at or after pos, then read as much as fits (fewer syscalls).
    const keepFrom = pos - this.base;
    if (keepFrom > 0) {
      if (keepFrom < this.end) this.buf.copyWithin(0, keepFrom, this.end);
      this.end = Math.max(0, this.end - keepFrom);
      this.base = pos;
    }
    if (n > this.buf.length) {
      // Only blocks the reader has already bounded get here, so growth is bounded too.
      const bigger = Buffer.allocUnsafe(Math.max(n, this.buf.length * 2));
      this.buf.copy(bigger, 0, 0, this.end);
      this.buf = bigger;
    }
    while (this.end < n && !this.eof) this.readMore();
    return this.end >= n;
  }

  /** Move forward to `pos` (which may be far ahead), discarding what lies between. */
  skipTo(pos: number): boolean {
    while (this.base + this.end < pos) {
      if (this.eof) return false;
      this.base += this.end;
      this.end = 0;
      this.readMore();
    }
    return true;
  }

  private readMore(): void {
    let n: number;
    try {
      n = readSync(this.fd, this.buf, this.end, this.buf.length - this.end, null);
    } catch (err) {
      this.ioError = err as NodeJS.ErrnoException;
      this.eof = true;
      return;
    }
    if (n === 0) this.eof = true;
    else this.end += n;
  }
}
