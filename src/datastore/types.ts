/**
 * The datastore abstraction: where a router (or a fleet of them) keeps its Calico resources.
 * Two implementations: a policy directory (directory.ts) and etcd v3 (etcd.ts). Both validate
 * with the same validator; both store each resource as the user wrote it.
 */
import type { RawDocument, ResourceSet, SupportedKind } from '../config';
import type { Issue } from '../errors';
import type { ResourceRef } from './kinds';

export interface SnapshotOptions {
  /** This router's node name (applies FelixConfiguration `node.<name>`; HEP scoping is the engine's). */
  nodeName?: string;
}

/**
 * Every resource of the store at one point in time, validated exactly like a policy directory.
 * A superset of `LoadResult` (src/config/load.ts), so the daemon can use it in the same place.
 */
export interface Snapshot {
  resources: ResourceSet;
  /** Every issue, located: the file or etcd key is `location.file`. */
  issues: Issue[];
  /** Files (directory) or keys (etcd) read, in order. */
  files: string[];
  counts: Record<SupportedKind, number>;
  /** No issue is an error: safe to enforce. */
  ok: boolean;
  /** etcd: the store revision of the read; directory: null. */
  revision: number | null;
  /** The datastore it came from (`dir:PATH`, `etcd:URL,... prefix`). */
  source: string;
  /** When it was read (ISO 8601). */
  readAt: string;
}

/** One resource as stored: the user's document, untouched. */
export interface StoredResource {
  ref: ResourceRef;
  value: Record<string, unknown>;
  /** The file or etcd key that holds it. */
  source: string;
}

export interface ListFilter {
  kind?: SupportedKind;
  name?: string;
  /** WorkloadEndpoint only. */
  namespace?: string;
}

export interface ListResult {
  resources: StoredResource[];
  /** Problems reading the store (unparsable files or keys): those resources are not listed. */
  issues: Issue[];
  revision: number | null;
}

/** The outcome of `apply` or `delete`: either everything was written, or nothing. */
export interface ChangeResult {
  ok: boolean;
  /** Every issue of the resulting resource set (warnings included), sorted by file. */
  issues: Issue[];
  created: ResourceRef[];
  replaced: ResourceRef[];
  deleted: ResourceRef[];
  /** delete: resources that do not exist (nothing is written then). */
  notFound: ResourceRef[];
  /** etcd: the revision of the write (or of the read when nothing was written). */
  revision: number | null;
}

export type ConnectionState = 'connecting' | 'connected' | 'disconnected';

/** What `nfqwall status` and the metrics report about the datastore. */
export interface DatastoreHealth {
  datastore: string;
  state: ConnectionState;
  /** When `state` last changed (ISO 8601). */
  since: string;
  /** Newest store revision seen (reads, watch events, progress notifications). */
  revision: number | null;
  /** Revision of the newest snapshot handed to the consumer. */
  snapshotRevision: number | null;
  /** Whether that snapshot had no errors. */
  snapshotOk: boolean | null;
  lastError: string | null;
  lastErrorAt: string | null;
  /** Successful re-connections after a loss of connection. */
  reconnects: number;
  /** Full re-reads after the start (history compacted, watch cancelled). */
  resyncs: number;
  /** Snapshots handed to the consumer. */
  snapshots: number;
}

export interface WatchOptions extends SnapshotOptions {
  /** Continue from this snapshot (taken from the same datastore): watch from its revision + 1. */
  after?: Snapshot;
  /** Quiet time after a change before a snapshot is built (default 20 ms). */
  debounceMs?: number;
  /** Longest delay from the first change to its snapshot under a stream of changes (default 250 ms). */
  maxDelayMs?: number;
  /** Reconnect back-off: first delay and bound (defaults 200 ms, 5000 ms; doubled with jitter). */
  backoffInitialMs?: number;
  backoffMaxMs?: number;
  /** Give up on one connection attempt after this long (default 5000 ms). */
  connectTimeoutMs?: number;
}

export interface DatastoreWatch {
  /**
   * The newest snapshot this watch produced, or null when the datastore has no change feed
   * (directory: a reload reads the directory again).
   */
  latest(): Snapshot | null;
  health(): DatastoreHealth;
  stop(): Promise<void>;
}

export type SnapshotListener = (snapshot: Snapshot) => void;
export type HealthListener = (health: DatastoreHealth) => void;

export interface Datastore {
  readonly kind: 'dir' | 'etcd';
  /** Printable, without credentials. */
  readonly description: string;
  /** Read and validate everything at one point in time. Never throws for bad content (see issues). */
  snapshot(options?: SnapshotOptions): Promise<Snapshot>;
  /** The stored resources as written (for `get`). */
  list(filter?: ListFilter): Promise<ListResult>;
  /**
   * Create or replace each resource. The whole resulting set is validated first; when any
   * issue is an error nothing is written.
   */
  apply(documents: readonly RawDocument[], options?: SnapshotOptions): Promise<ChangeResult>;
  /** Delete resources; refused (nothing written) when one is missing, a tier is in use, or the result is invalid. */
  delete(refs: readonly ResourceRef[], options?: SnapshotOptions): Promise<ChangeResult>;
  /** Follow changes: every change becomes a new consistent snapshot. */
  watch(onSnapshot: SnapshotListener, onHealth?: HealthListener, options?: WatchOptions): DatastoreWatch;
  close(): Promise<void>;
}
