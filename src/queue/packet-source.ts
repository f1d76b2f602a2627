/**
 * The packet-source contract: where queued packets come from and where their verdicts go.
 *
 * Rules every implementation keeps:
 * - Each delivered packet gets exactly one verdict. A second verdict for the same id, or one for
 *   an id never delivered, is not sent: `verdict` returns false and the source counts it.
 * - A handler that throws does not take the process down: the source counts the error, reports it
 *   through `onError`, and gives the packet `failureVerdict` unless the handler already gave one.
 * - The payload is borrowed: it is valid only until the handler returns. Copy it to keep it.
 * - Verdicts may be given later than the handler's return (the id stays pending until then);
 *   the kernel holds at most its queue length (default 1024) of such packets.
 */
import type { NfVerdict } from './verdict-codes';

export interface QueuedPacket {
  /** Packet id, per queue, counting up from 1. */
  readonly id: number;
  /** The queue the packet came from. */
  readonly queueNumber: number;
  /** The L3 packet (IPv4 or IPv6 header first). Borrowed: see above. */
  readonly payload: Buffer;
  /** The packet's mark (skb->mark) when it was queued. */
  readonly mark: number;
  /** Input interface index; 0 when there is none (locally generated packets). */
  readonly indev: number;
  /** Output interface index; 0 when not yet known (prerouting, input). */
  readonly outdev: number;
  /** Interface names, when the index is non-zero and the name could be resolved. */
  readonly indevName?: string;
  readonly outdevName?: string;
}

export type PacketHandler = (packet: QueuedPacket) => void;

export interface PacketSourceOptions {
  /** Receive buffer of the queue's netlink socket. */
  socketBufferBytes?: number;
  /** Verdict for a packet whose handler threw without giving one (default drop). */
  failureVerdict?: NfVerdict;
  /** Verdict for packets still pending, or still arriving, after `close()` (default drop). */
  closeVerdict?: NfVerdict;
  /** Told about every exception the source absorbs (from the handler, or from a verdict it sent). */
  onError?: (err: unknown, context: { queueNumber: number; packetId?: number }) => void;
}

export interface PacketSourceStats {
  queueNumber: number;
  /** Packets delivered by the kernel. */
  packets: number;
  verdicts: { accept: number; drop: number; repeat: number };
  /** Verdicts that also wrote the packet mark. */
  marksWritten: number;
  /** Delivered packets without a verdict yet. */
  pending: number;
  errors: {
    /** The handler threw (or, for a packet arriving after close, the verdict call did). */
    handler: number;
    /** A verdict for an id that was not pending (already answered, or never delivered). */
    duplicateVerdict: number;
  };
  /** Packets answered with `closeVerdict` because they arrived after `close()`. */
  afterClose: number;
}

export interface PacketSource {
  /** Bind the queue; throws QUEUE_OPEN_FAILED. Delivery starts once a handler is set too. */
  open(queueNumber: number, options?: PacketSourceOptions): void;
  /** Set the handler (replacing any earlier one). */
  onPacket(handler: PacketHandler): void;
  /**
   * Give packet `id` its verdict. With `mark` the packet's mark becomes exactly `mark` (0 included);
   * without it the mark stays as it is. Returns false, and sends nothing, if `id` is not pending.
   * Throws RangeError for a verdict or mark out of range (nothing is sent; the id stays pending).
   */
  verdict(id: number, verdict: NfVerdict, mark?: number): boolean;
  stats(): PacketSourceStats;
  /** Stop delivering; pending and later packets get `closeVerdict`. Idempotent. */
  close(): void;
}

export function emptySourceStats(queueNumber: number): PacketSourceStats {
  return {
    queueNumber,
    packets: 0,
    verdicts: { accept: 0, drop: 0, repeat: 0 },
    marksWritten: 0,
    pending: 0,
    errors: { handler: 0, duplicateVerdict: 0 },
    afterClose: 0,
  };
}
