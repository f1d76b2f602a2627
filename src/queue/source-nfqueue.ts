/**
 * PacketSource over the `nfqueue` npm binding (0.3.x), loaded lazily so that nothing else needs
 * the native addon.
 *
 * What the binding does, and how this adapter deals with it (node_modules/nfqueue/src/node_nfqueue.cpp):
 * - The queue lives in the network namespace of this process (it opens a netlink socket).
 * - Its JS wrapper `packet.setVerdict(v, mark)` drops the mark when it is falsy (`if (mark)`), so
 *   a verdict could never clear a mark. The adapter calls the native `setVerdict` directly: the
 *   4-argument form (id, verdict, mark, null) always sends NFQA_MARK, 0 included; the 3-argument
 *   form (id, verdict, null) sends none, so the packet keeps its mark.
 * - Interface names are resolved here (interface-names.ts), not taken from the binding.
 * - There is no close: the netlink socket stays bound, and keeps the event loop alive, until the
 *   process exits. `close()` therefore answers everything that still arrives with `closeVerdict`.
 * - An exception escaping the packet callback would end the process (and the kernel would drop
 *   every packet in flight), so the handler runs inside this adapter's one try/catch.
 */
import { NfqwallError } from '../errors';
import { sysfsInterfaceNames, type InterfaceNames } from './interface-names';
import {
  emptySourceStats,
  type PacketHandler,
  type PacketSource,
  type PacketSourceOptions,
  type PacketSourceStats,
} from './packet-source';
import { isMark, isNfVerdict, NF_DROP, verdictName, type NfVerdict } from './verdict-codes';

/** What the native callback passes for each packet (a subset; the rest is unused). */
export interface NativePacketInfo {
  id: number;
  nfmark: number;
  indev: number;
  outdev: number;
}

/** The native object behind `new NFQueue().bindings`. */
export interface NativeQueue {
  read(callback: (info: NativePacketInfo, payload: Buffer) => void): void;
  setVerdict(id: number, verdict: number, markOrBuffer: number | null, buffer?: null): void;
}

/** The part of the `nfqueue` module this adapter uses. */
export interface NfqueueModule {
  NFQueue: new () => { open(queueNumber: number, socketBufferBytes: number): void; bindings: NativeQueue };
}

export const DEFAULT_SOCKET_BUFFER_BYTES = 8 * 1024 * 1024;

export interface NfqueueSourceDeps {
  /** The binding (default: `require('nfqueue')` at open). */
  binding?: NfqueueModule;
  /** Interface names (default: sysfs of this process's namespace). */
  interfaceNames?: InterfaceNames;
}

function loadBinding(): NfqueueModule {
  try {
    // eslint-disable-next-line @typescript-eslint/no-var-requires
    return require('nfqueue') as NfqueueModule;
  } catch (err) {
    throw new NfqwallError('NFQ_QUEUE_BINDING_MISSING', `the nfqueue binding could not be loaded (is libnetfilter-queue installed and the addon built?): ${(err as Error).message}`, { cause: err });
  }
}

export class NfqueueSource implements PacketSource {
  private native: NativeQueue | undefined;
  private handler: PacketHandler | undefined;
  private reading = false;
  private closed = false;
  private queueNumber = -1;
  private failureVerdict: NfVerdict = NF_DROP;
  private closeVerdict: NfVerdict = NF_DROP;
  private onError: PacketSourceOptions['onError'];
  private names: InterfaceNames | undefined;
  private readonly pending = new Set<number>();
  private counters: PacketSourceStats = emptySourceStats(-1);

  constructor(private readonly deps: NfqueueSourceDeps = {}) {}

  open(queueNumber: number, options: PacketSourceOptions = {}): void {
    if (this.native || this.closed) throw new NfqwallError('NFQ_QUEUE_OPEN_FAILED', 'this source was already opened');
    if (!Number.isInteger(queueNumber) || queueNumber < 0 || queueNumber > 65535) {
      throw new RangeError(`queue number ${queueNumber} is not in 0..65535`);
    }
    const bufferBytes = options.socketBufferBytes ?? DEFAULT_SOCKET_BUFFER_BYTES;
    if (!Number.isInteger(bufferBytes) || bufferBytes <= 0 || bufferBytes > 0x7fffffff) {
      throw new RangeError(`socket buffer size ${bufferBytes} is not a positive 31-bit integer`);
    }
    for (const v of [options.failureVerdict, options.closeVerdict]) {
      if (v !== undefined && !isNfVerdict(v)) throw new RangeError(`verdict ${String(v)} is not drop, accept or repeat`);
    }
    const binding = this.deps.binding ?? loadBinding();
    const q = new binding.NFQueue();
    try {
      q.open(queueNumber, bufferBytes);
    } catch (err) {
      // Typical causes: another process owns the queue (EBUSY/EPERM), or no CAP_NET_ADMIN.
      throw new NfqwallError('NFQ_QUEUE_OPEN_FAILED', `could not bind NFQUEUE ${queueNumber}: ${(err as Error).message} (is another process bound to it, or is this process not root?)`, { cause: err });
    }
    this.native = q.bindings;
    this.queueNumber = queueNumber;
    this.counters = emptySourceStats(queueNumber);
    this.failureVerdict = options.failureVerdict ?? NF_DROP;
    this.closeVerdict = options.closeVerdict ?? NF_DROP;
    this.onError = options.onError;
    this.names = this.deps.interfaceNames ?? sysfsInterfaceNames();
    this.startReading();
  }

  onPacket(handler: PacketHandler): void {
    this.handler = handler;
    this.startReading();
  }

  verdict(id: number, verdict: NfVerdict, mark?: number): boolean {
    if (!isNfVerdict(verdict)) throw new RangeError(`verdict ${String(verdict)} is not drop, accept or repeat`);
    if (mark !== undefined && !isMark(mark)) throw new RangeError(`mark ${mark} is not an unsigned 32-bit integer`);
    if (!this.pending.delete(id)) {
      this.counters.errors.duplicateVerdict++;
      return false;
    }
    this.send(id, verdict, mark);
    return true;
  }

  stats(): PacketSourceStats {
    const c = this.counters;
    return { ...c, verdicts: { ...c.verdicts }, errors: { ...c.errors }, pending: this.pending.size };
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    if (!this.native) return;
    for (const id of this.pending) this.send(id, this.closeVerdict, undefined);
    this.pending.clear();
  }

  /** Reading starts once the queue is open and a handler is set, whichever comes last. */
  private startReading(): void {
    if (this.reading || !this.native || !this.handler) return;
    this.reading = true;
    this.native.read(this.dispatch);
  }

  private send(id: number, verdict: NfVerdict, mark: number | undefined): void {
    const native = this.native as NativeQueue;
    if (mark === undefined) {
      native.setVerdict(id, verdict, null);
    } else {
      native.setVerdict(id, verdict, mark, null);
      this.counters.marksWritten++;
    }
    this.counters.verdicts[verdictName(verdict)]++;
  }

  private readonly dispatch = (info: NativePacketInfo, payload: Buffer): void => {
    const id = info.id;
    this.counters.packets++;
    // The adapter boundary: nothing thrown below may reach the native callback.
    try {
      if (this.closed) {
        this.counters.afterClose++;
        this.send(id, this.closeVerdict, undefined);
        return;
      }
      this.pending.add(id);
      const names = this.names as InterfaceNames;
      (this.handler as PacketHandler)({
        id,
        queueNumber: this.queueNumber,
        payload,
        mark: info.nfmark >>> 0,
        indev: info.indev,
        outdev: info.outdev,
        indevName: names.name(info.indev),
        outdevName: names.name(info.outdev),
      });
    } catch (err) {
      this.absorb(err, id);
    }
  };

  /** Count and report an exception, and answer the packet if nothing did yet. Never throws. */
  private absorb(err: unknown, id: number): void {
    this.counters.errors.handler++;
    try {
      this.onError?.(err, { queueNumber: this.queueNumber, packetId: id });
    } catch {
      // a failing error reporter must not cost the packet its verdict
    }
    try {
      if (this.pending.delete(id)) this.send(id, this.failureVerdict, undefined);
    } catch {
      // nothing more can be done for this packet; the kernel keeps it until the queue closes
    }
  }
}

export function createNfqueueSource(deps: NfqueueSourceDeps = {}): PacketSource {
  return new NfqueueSource(deps);
}
