/**
 * Problems found while reading a capture file. Readers never throw for bad input: they stop at the
 * first problem and report it as a value with a stable code and the byte offset where it is.
 */

export const PCAP_ERROR = {
  /** The file could not be opened (path missing, permission). Offset 0. */
  OPEN_FAILED: 'NFQ_PCAP_OPEN_FAILED',
  /** A read from the file descriptor failed (EIO, EISDIR, ...). */
  IO_ERROR: 'NFQ_PCAP_IO_ERROR',
  /** The first four bytes are neither a pcap magic nor a pcapng Section Header Block, or a
   *  pcapng byte-order magic is wrong. */
  BAD_MAGIC: 'NFQ_PCAP_BAD_MAGIC',
  /** A recognised but unsupported variant (e.g. Kuznetzov "modified pcap", magic 0xa1b2cd34). */
  UNSUPPORTED_FORMAT: 'NFQ_PCAP_UNSUPPORTED_FORMAT',
  /** pcap major version other than 2, or pcapng major version other than 1. */
  UNSUPPORTED_VERSION: 'NFQ_PCAP_UNSUPPORTED_VERSION',
  /** The input ends inside a file header, record or block (also: empty input). */
  TRUNCATED: 'NFQ_PCAP_TRUNCATED',
  /** A captured length above the per-packet maximum (256 KiB by default). */
  PACKET_TOO_LARGE: 'NFQ_PCAP_PACKET_TOO_LARGE',
  /** Lengths that contradict each other: original < captured, or packet data past its block. */
  BAD_LENGTH: 'NFQ_PCAP_BAD_LENGTH',
  /** A classic pcap sub-second field of 1e6 µs / 1e9 ns or more: a misaligned or corrupt record. */
  BAD_TIMESTAMP: 'NFQ_PCAP_BAD_TIMESTAMP',
  /** pcapng block total length not a multiple of 4, below the block type's minimum. */
  BAD_BLOCK_LENGTH: 'NFQ_PCAP_BAD_BLOCK_LENGTH',
  /** pcapng block whose trailing copy of the total length differs from the leading one. */
  BLOCK_LENGTH_MISMATCH: 'NFQ_PCAP_BLOCK_LENGTH_MISMATCH',
  /** pcapng block that must be held in memory (SHB, IDB, packet blocks) larger than the limit. */
  BLOCK_TOO_LARGE: 'NFQ_PCAP_BLOCK_TOO_LARGE',
  /** pcapng option running past its block, or an option value of the wrong size. */
  BAD_OPTION: 'NFQ_PCAP_BAD_OPTION',
  /** pcapng packet referring to an interface that no IDB of its section described. */
  UNKNOWN_INTERFACE: 'NFQ_PCAP_UNKNOWN_INTERFACE',
} as const;

/** Thrown (as NfqwallError) by the writers: these are programming or system errors, not bad input. */
export const PCAP_WRITE_ERROR = {
  /** Opening or writing the output failed. */
  WRITE_FAILED: 'NFQ_PCAP_WRITE_FAILED',
  /** A bad argument: timestamp out of range, unknown interface, snaplen out of range, ... */
  INVALID_ARGUMENT: 'NFQ_PCAP_INVALID_ARGUMENT',
} as const;

export type PcapErrorCode = (typeof PCAP_ERROR)[keyof typeof PCAP_ERROR];

export interface PcapError {
  code: PcapErrorCode;
  /** Human-readable, starts with the offset: `at byte 1234: ...`. */
  message: string;
  /** Byte offset of the file header, record or block that is bad (0 for the file itself). */
  offset: number;
  /** How many records were delivered before the problem (they were all complete and valid). */
  recordsBefore: number;
}

export function pcapError(code: PcapErrorCode, offset: number, recordsBefore: number, detail: string): PcapError {
  return { code, offset, recordsBefore, message: `at byte ${offset}: ${detail} [${code}]` };
}
