/**
 * Following etcd: one loop that (re)establishes a prefix watch from the last applied revision + 1,
 * applies every event to a per-key map, and after a short quiet time validates the map as a new
 * snapshot at the revision of the last event applied. Events of one revision always arrive
 * together, so every snapshot is the store as it was at one revision.
 *
 * Failures: the watch stream breaking (etcd stopped, partition detected by gRPC keepalive) or a
 * connection attempt timing out marks the health disconnected; the last snapshot stays the
 * consumer's; the loop reconnects with bounded, jittered back-off and resumes from the revision it
 * has, so etcd replays what it missed. When that history is gone (compacted) etcd cancels the
 * watch, and the loop re-reads everything at the current revision instead.
 */
import type { IWatchResponse } from 'etcd3';
import type { EtcdDatastore, EtcdEntry } from './etcd';
import { initialHealth } from './health';
import type { ConnectionState, DatastoreHealth, DatastoreWatch, HealthListener, Snapshot, SnapshotListener, WatchOptions } from './types';

export class EtcdWatch implements DatastoreWatch {
  private entries: Map<string, EtcdEntry> | null = null;
  /** The revision `entries` reflect. */
  private revision = 0;
  private last: Snapshot | null = null;
  private readonly h: DatastoreHealth;
  private stopped = false;
  /** A full read already happened: later ones are re-synchronisations. */
  private readOnce = false;
  private endFollow: ((err?: unknown) => void) | null = null;
  private wakeSleep: (() => void) | null = null;
  private debounce: NodeJS.Timeout | null = null;
  private firstChangeAt = 0;
  private failures = 0;
  private readonly loop: Promise<void>;

  constructor(
    private readonly ds: EtcdDatastore,
    private readonly onSnapshot: SnapshotListener,
    private readonly onHealth: HealthListener | undefined,
    private readonly options: WatchOptions,
    private readonly onStopped: () => void,
  ) {
    this.h = initialHealth(ds.description, 'connecting');
    const after = options.after;
    const state = after ? ds.stateOf(after) : undefined;
    if (after && state && after.revision !== null) {
      this.entries = new Map(state);
      this.readOnce = true;
      this.revision = after.revision;
      this.last = after;
      this.h.revision = after.revision;
      this.h.snapshotRevision = after.revision;
      this.h.snapshotOk = after.ok;
    } else if (after) this.last = after; // not ours: re-read, hand over only if it differs
    this.loop = this.run();
  }

  latest(): Snapshot | null {
    return this.last;
  }

  health(): DatastoreHealth {
    return { ...this.h };
  }

  async stop(): Promise<void> {
    if (this.stopped) return this.loop;
    this.stopped = true;
    if (this.debounce) clearTimeout(this.debounce);
    this.debounce = null;
    this.endFollow?.();
    this.wakeSleep?.();
    await this.loop;
    this.onStopped();
  }

  private async run(): Promise<void> {
    while (!this.stopped) {
      let lostConnection = true;
      try {
        if (this.entries === null) await this.fullRead();
        if (this.stopped) break;
        await this.follow();
      } catch (err) {
        if (this.stopped) break;
        this.error(err);
        // etcd answered (it cancelled the watch): the connection itself is fine.
        lostConnection = !(err instanceof WatchCancelled);
      }
      if (this.stopped) break;
      if (lostConnection) this.setState('disconnected');
      await this.sleep(this.backoff(this.failures++));
    }
  }

  /** Everything at the current revision: the start without a snapshot, or history lost (compaction). */
  private async fullRead(): Promise<void> {
    const state = await this.ds.readState();
    if (this.stopped) return;
    if (this.readOnce) this.h.resyncs++;
    this.readOnce = true;
    this.entries = state.entries;
    this.revision = state.revision;
    this.seen(state.revision);
    if (this.last === null || this.last.revision !== state.revision) this.build();
  }

  /** Watch from revision + 1 until the stream fails (rejects) or stop() (resolves). */
  private follow(): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      const w = this.ds.client.watch().prefix(this.ds.prefix).startRevision(String(this.revision + 1)).watcher();
      const timeoutMs = this.options.connectTimeoutMs ?? 5000;
      const timer = setTimeout(() => end(new Error(`no watch established within ${timeoutMs} ms`)), timeoutMs);
      let done = false;
      const end = (err?: unknown): void => {
        if (done) return;
        done = true;
        clearTimeout(timer);
        this.endFollow = null;
        w.removeAllListeners();
        w.on('error', () => undefined); // late events from a watcher being cancelled
        // Cancelling a watcher whose stream is gone can wait forever; never await it.
        w.cancel().catch(() => undefined);
        if (err === undefined) resolve();
        else reject(err);
      };
      this.endFollow = end;
      w.on('connected', () => {
        clearTimeout(timer);
        if (this.h.state === 'disconnected') this.h.reconnects++;
        this.failures = 0;
        this.setState('connected');
      });
      w.on('data', (res: IWatchResponse) => this.onData(res));
      w.on('disconnected', (err: Error) => end(err));
      // A cancelled watch (history compacted, permission revoked): start over from a full read.
      w.on('error', (err: Error) => {
        this.entries = null;
        end(new WatchCancelled(`watch cancelled by etcd (${err.message}); re-reading everything`));
      });
    });
  }

  private onData(res: IWatchResponse): void {
    const entries = this.entries;
    if (entries === null) return;
    if (res.events.length === 0) {
      // Progress notification: nothing under the prefix changed up to this revision.
      this.seen(Number(res.header.revision));
      return;
    }
    let rev = this.revision;
    let changed = false;
    for (const ev of res.events) {
      const key = ev.kv.key.toString('utf8');
      rev = Math.max(rev, Number(ev.kv.mod_revision));
      if (this.ds.isInternalKey(key)) continue;
      changed = true;
      if (ev.type === 'Delete') entries.delete(key);
      else entries.set(key, this.ds.entryFromKv(key, ev.kv));
    }
    // A catch-up response may end before the store's current revision; the last event's
    // revision is the one the map now reflects.
    this.revision = rev;
    this.seen(rev);
    if (changed) this.schedule();
  }

  /** Debounce: build after `debounceMs` of quiet, but no later than `maxDelayMs` after the first change. */
  private schedule(): void {
    const now = Date.now();
    if (this.debounce === null) this.firstChangeAt = now;
    else clearTimeout(this.debounce);
    const quiet = this.options.debounceMs ?? 20;
    const deadline = this.firstChangeAt + (this.options.maxDelayMs ?? 250);
    this.debounce = setTimeout(() => {
      this.debounce = null;
      this.build();
    }, Math.max(0, Math.min(quiet, deadline - now)));
  }

  private build(): void {
    if (this.entries === null || this.stopped) return;
    // The snapshot keeps its own copy of the map: later events must not change it.
    const snap = this.ds.makeSnapshot(new Map(this.entries), this.revision, this.options);
    this.last = snap;
    this.h.snapshots++;
    this.h.snapshotRevision = snap.revision;
    this.h.snapshotOk = snap.ok;
    try {
      this.onSnapshot(snap);
    } catch {
      // The consumer's problem; the watch goes on.
    }
    this.emitHealth();
  }

  private seen(rev: number): void {
    if (this.h.revision === null || rev > this.h.revision) this.h.revision = rev;
  }

  private setState(state: ConnectionState): void {
    if (this.h.state === state) return;
    this.h.state = state;
    this.h.since = new Date().toISOString();
    this.emitHealth();
  }

  private error(err: unknown): void {
    this.h.lastError = (err as Error)?.message ?? String(err);
    this.h.lastErrorAt = new Date().toISOString();
    this.emitHealth();
  }

  private emitHealth(): void {
    if (!this.onHealth) return;
    try {
      this.onHealth({ ...this.h });
    } catch {
      // ignore consumer errors
    }
  }

  /** Doubling from backoffInitialMs up to backoffMaxMs, with ±20 % jitter so a fleet does not reconnect in step. */
  private backoff(n: number): number {
    const first = this.options.backoffInitialMs ?? 200;
    const max = this.options.backoffMaxMs ?? 5000;
    const base = Math.min(max, first * 2 ** Math.min(n, 20));
    return Math.round(base * (0.8 + Math.random() * 0.4));
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const t = setTimeout(done, ms);
      function done(): void {
        clearTimeout(t);
        resolve();
      }
      this.wakeSleep = () => {
        this.wakeSleep = null;
        done();
      };
    });
  }
}

/** etcd ended the watch itself (compacted history, revoked permission): re-read, not reconnect. */
class WatchCancelled extends Error {}
