/**
 * The etcd v3 datastore: one key per resource, `<prefix><kind>/<name>` (WorkloadEndpoints
 * `<prefix>workloadendpoint/<namespace>/<name>`), the value the user's document as JSON (or YAML).
 *
 * Reads are paged range reads pinned to one revision, so a snapshot is the store at exactly that
 * revision. Writes are one transaction guarded by the revision the validation read: if anything
 * under the prefix was written since (or deleted by another nfqwall writer, which bumps the guard
 * key `<prefix>.guard`), the transaction does nothing and the change is validated again.
 */
import { hostname } from 'node:os';
import { Range, type Etcd3, type IKeyValue, type IRequestOp } from 'etcd3';
import { parseYamlDocuments, type RawDocument } from '../config';
import { NfqwallError, type Issue } from '../errors';
import { DS } from './codes';
import { createEtcdClient, unavailable, type EtcdConnectionOptions } from './etcd-client';
import { EtcdWatch } from './etcd-watch';
import { emptyResult, notFoundIssue, storedResources, tierInUseIssues, validateEntries, type SourceEntry } from './entries';
import { describeRef, kindFromSegment, kindSegment, refOf, type ResourceRef } from './kinds';
import { parseJsonResource } from './json-source';
import { renderResource } from './yaml-file-edit';
import type {
  ChangeResult,
  Datastore,
  DatastoreWatch,
  HealthListener,
  ListFilter,
  ListResult,
  Snapshot,
  SnapshotListener,
  SnapshotOptions,
  WatchOptions,
} from './types';

export const DEFAULT_ETCD_PREFIX = '/nfqwall/v1/';

export interface EtcdDatastoreOptions extends EtcdConnectionOptions {
  /** Key prefix; must end with '/' (default /nfqwall/v1/). */
  prefix?: string;
  /**
   * How `apply` writes values; both are read. Default json (as Calico stores its own resources):
   * read through a fast path, where YAML goes through the much slower YAML parser.
   */
  format?: 'yaml' | 'json';
  /** Keys per page of a range read (default 500). */
  pageSize?: number;
}

/** One key: its parsed documents and the problems found reading it. */
export interface EtcdEntry extends SourceEntry {
  modRevision: number;
}

/** The store under the prefix at one revision. */
export interface EtcdState {
  revision: number;
  entries: Map<string, EtcdEntry>;
  /** mod_revision of the guard key (0 when absent). */
  guardMod: number;
}

const MAX_WRITE_ATTEMPTS = 5;

export class EtcdDatastore implements Datastore {
  readonly kind = 'etcd' as const;
  readonly description: string;
  readonly prefix: string;
  readonly client: Etcd3;
  private readonly format: 'yaml' | 'json';
  private readonly pageSize: number;
  /** Per-key state behind each snapshot this datastore made, so a watch can continue from it. */
  private readonly states = new WeakMap<Snapshot, Map<string, EtcdEntry>>();
  private readonly watches = new Set<EtcdWatch>();

  constructor(private readonly options: EtcdDatastoreOptions) {
    this.prefix = options.prefix ?? DEFAULT_ETCD_PREFIX;
    if (!this.prefix.startsWith('/') || !this.prefix.endsWith('/')) throw new NfqwallError(DS.SPEC, `etcd prefix "${this.prefix}" must start and end with '/'`);
    this.format = options.format ?? 'json';
    this.pageSize = options.pageSize ?? 500;
    this.description = `etcd:${options.endpoints.join(',')} ${this.prefix}`;
    this.client = createEtcdClient(options);
  }

  get guardKey(): string {
    return `${this.prefix}.guard`;
  }

  keyFor(ref: ResourceRef): string {
    return etcdKey(this.prefix, ref);
  }

  /** Keys starting with `<prefix>.` are nfqwall's own bookkeeping, not resources. */
  isInternalKey(key: string): boolean {
    return key.startsWith(`${this.prefix}.`);
  }

  async snapshot(options: SnapshotOptions = {}): Promise<Snapshot> {
    const state = await this.readState();
    return this.makeSnapshot(state.entries, state.revision, options);
  }

  /** Validate `entries` as a snapshot at `revision` (remembered for watches continuing from it). */
  makeSnapshot(entries: Map<string, EtcdEntry>, revision: number, options: SnapshotOptions): Snapshot {
    const sorted = [...entries.values()].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    const v = validateEntries(sorted, options);
    const snap: Snapshot = { ...v, revision, source: this.description, readAt: new Date().toISOString() };
    this.states.set(snap, entries);
    return snap;
  }

  /** The per-key state behind a snapshot made here (undefined for any other snapshot). */
  stateOf(snapshot: Snapshot): Map<string, EtcdEntry> | undefined {
    return this.states.get(snapshot);
  }

  async list(filter: ListFilter = {}): Promise<ListResult> {
    const sub = filter.kind !== undefined ? `${this.prefix}${kindSegment(filter.kind)}/` : this.prefix;
    const state = await this.readState(sub);
    const resources = storedResources([...state.entries.values()]).filter(
      (r) =>
        (filter.kind === undefined || r.ref.kind === filter.kind) &&
        (filter.name === undefined || r.ref.name === filter.name) &&
        (filter.namespace === undefined || r.ref.namespace === filter.namespace),
    );
    // Keys that could not be read at all are the ones left out of the listing.
    const issues = [...state.entries.values()].filter((e) => e.documents.length === 0).flatMap((e) => e.issues.filter((i) => i.severity === 'error'));
    return { resources, issues, revision: state.revision };
  }

  async apply(documents: readonly RawDocument[], options: SnapshotOptions = {}): Promise<ChangeResult> {
    for (let attempt = 0; attempt < MAX_WRITE_ATTEMPTS; attempt++) {
      const state = await this.readState();
      const keys = new Map<string, { ref: ResourceRef; value: Record<string, unknown> }>();
      for (const d of documents) {
        const ref = refOf(d.value);
        if (ref) keys.set(this.keyFor(ref), { ref, value: d.value as Record<string, unknown> });
      }
      const remaining = [...state.entries.values()].filter((e) => !keys.has(e.name));
      const files = [...new Set(documents.map((d) => d.file))];
      const applied: SourceEntry[] = files.map((f) => ({ name: f, documents: documents.filter((d) => d.file === f), issues: [] }));
      const v = validateEntries([...applied, ...remaining.sort(byName)], options);
      const result = emptyResult(v.issues);
      result.revision = state.revision;
      if (!v.ok) return result;
      const ops: IRequestOp[] = [...keys].map(([key, r]) => ({ request_put: { key: Buffer.from(key), value: Buffer.from(this.encode(r.value)) } }));
      const rev = await this.commit(state, ops);
      if (rev === null) continue; // changed under us: validate again
      for (const [key, r] of keys) (state.entries.has(key) ? result.replaced : result.created).push(r.ref);
      result.ok = true;
      result.revision = rev;
      return result;
    }
    throw new NfqwallError(DS.CONFLICT, `the datastore kept changing during ${MAX_WRITE_ATTEMPTS} attempts to apply; nothing was written, try again`);
  }

  async delete(refs: readonly ResourceRef[], options: SnapshotOptions = {}): Promise<ChangeResult> {
    for (let attempt = 0; attempt < MAX_WRITE_ATTEMPTS; attempt++) {
      const state = await this.readState();
      const keys = new Map(refs.map((r) => [this.keyFor(r), r]));
      const notFound = refs.filter((r) => !state.entries.has(this.keyFor(r)));
      if (notFound.length > 0) {
        const r = emptyResult(notFound.map((ref) => notFoundIssue(ref, this.description)));
        r.notFound = notFound;
        r.revision = state.revision;
        return r;
      }
      const remaining = [...state.entries.values()].filter((e) => !keys.has(e.name)).sort(byName);
      const tiers = refs
        .filter((r) => r.kind === 'Tier')
        .map((ref) => {
          const e = state.entries.get(this.keyFor(ref));
          return { ref, doc: e?.documents[0], source: this.keyFor(ref) };
        });
      // A tier in use is the one thing to say (the policies' missing-tier errors would only repeat it).
      const inUse = tierInUseIssues(tiers, remaining);
      const v = inUse.length > 0 ? { issues: inUse, ok: false } : validateEntries(remaining, options);
      const result = emptyResult(v.issues);
      result.revision = state.revision;
      if (!v.ok) return result;
      const ops: IRequestOp[] = [...keys.keys()].map((key) => ({ request_delete_range: { key: Buffer.from(key) } }));
      const rev = await this.commit(state, ops);
      if (rev === null) continue;
      result.deleted = [...refs];
      result.ok = true;
      result.revision = rev;
      return result;
    }
    throw new NfqwallError(DS.CONFLICT, `the datastore kept changing during ${MAX_WRITE_ATTEMPTS} attempts to delete; nothing was written, try again`);
  }

  watch(onSnapshot: SnapshotListener, onHealth?: HealthListener, options: WatchOptions = {}): DatastoreWatch {
    const w = new EtcdWatch(this, onSnapshot, onHealth, options, () => this.watches.delete(w));
    this.watches.add(w);
    return w;
  }

  async close(): Promise<void> {
    await Promise.all([...this.watches].map((w) => w.stop()));
    this.client.close();
  }

  /** Everything under `prefix` (default: the datastore's) at one revision, page by page. */
  async readState(prefix: string = this.prefix): Promise<EtcdState> {
    const range = Range.prefix(prefix);
    const entries = new Map<string, EtcdEntry>();
    let guardMod = 0;
    let revision: number | undefined;
    let start = range.start;
    try {
      for (;;) {
        const res = await this.client.kv.range({ key: start, range_end: range.end, limit: this.pageSize, ...(revision !== undefined ? { revision } : {}) });
        if (revision === undefined) revision = Number(res.header.revision);
        for (const kv of res.kvs) {
          const key = kv.key.toString('utf8');
          if (key === this.guardKey) guardMod = Number(kv.mod_revision);
          if (this.isInternalKey(key)) continue;
          entries.set(key, this.entryFromKv(key, kv));
        }
        const last = res.kvs[res.kvs.length - 1];
        if (!res.more || last === undefined) break;
        start = Buffer.concat([last.key, Buffer.from([0])]);
      }
    } catch (err) {
      throw unavailable(this.options.endpoints, err);
    }
    return { revision: revision ?? 0, entries, guardMod };
  }

  /** Parse one key's value and check that it holds exactly the resource its key names. */
  entryFromKv(key: string, kv: Pick<IKeyValue, 'value' | 'mod_revision'>): EtcdEntry {
    const text = kv.value.toString('utf8');
    const json = parseJsonResource(text, key);
    const parsed = json ? { documents: [json], issues: [] } : parseYamlDocuments(text, key);
    return { name: key, documents: parsed.documents, issues: [...parsed.issues, ...this.keyIssues(key, parsed.documents, parsed.issues)], modRevision: Number(kv.mod_revision) };
  }

  private keyIssues(key: string, docs: readonly RawDocument[], parseIssues: readonly Issue[]): Issue[] {
    const at = (doc: RawDocument | undefined): Issue['location'] => (doc ? doc.locate(['metadata', 'name']) : { file: key, line: 1 });
    const issue = (message: string, doc?: RawDocument): Issue => ({ code: DS.KEY, message, location: at(doc), severity: 'error' });
    const rel = key.slice(this.prefix.length).split('/');
    const kind = rel[0] !== undefined ? kindFromSegment(rel[0]) : undefined;
    const layout = kind === 'WorkloadEndpoint' ? 'workloadendpoint/<namespace>/<name>' : '<kind>/<name>';
    const expectedParts = kind === 'WorkloadEndpoint' ? 3 : 2;
    if (kind === undefined || rel.length !== expectedParts || rel.some((p) => p === '')) {
      return [issue(`key ${key} does not follow the layout ${this.prefix}${layout} (kind in lower case); nfqwall cannot tell which resource it is`)];
    }
    if (docs.length === 0) {
      // A YAML error is already reported; an empty value is a problem of its own.
      return parseIssues.some((i) => i.severity === 'error') ? [] : [issue(`key ${key} holds no resource; delete the key or put one resource in it`)];
    }
    if (docs.length > 1) return [issue(`key ${key} holds ${docs.length} resources; store one resource per key (nfqwall apply does)`, docs[1])];
    const ref = refOf(docs[0]!.value);
    if (ref === undefined) return []; // the validator says what is missing
    const expected = this.keyFor(ref);
    if (expected !== key) return [issue(`key ${key} holds ${describeRef(ref)}, whose key is ${expected}; store it there (nfqwall apply does)`, docs[0])];
    return [];
  }

  /** One transaction: the writes plus a guard bump, only if nothing changed since `state`. */
  private async commit(state: EtcdState, ops: IRequestOp[]): Promise<number | null> {
    const range = Range.prefix(this.prefix);
    const guard = Buffer.from(this.guardKey);
    const stamp = JSON.stringify({ by: `${hostname()}/${process.pid}`, at: new Date().toISOString() });
    try {
      const res = await this.client.kv.txn({
        compare: [
          // Deletions by other nfqwall writers (a range compare cannot see a key that is gone).
          { key: guard, target: 'Mod', result: 'Equal', mod_revision: state.guardMod },
          // Any put under the prefix since the read, by anyone.
          { key: range.start, range_end: range.end, target: 'Mod', result: 'Less', mod_revision: state.revision + 1 },
        ],
        success: [...ops, { request_put: { key: guard, value: Buffer.from(stamp) } }],
        failure: [],
      });
      return res.succeeded ? Number(res.header.revision) : null;
    } catch (err) {
      throw unavailable(this.options.endpoints, err);
    }
  }

  /** The stored form of a resource: pretty JSON (one field per line, so issues have useful lines) or YAML. */
  encode(value: Record<string, unknown>): string {
    return this.format === 'json' ? `${JSON.stringify(value, null, 2)}\n` : renderResource(value);
  }
}

function byName(a: SourceEntry, b: SourceEntry): number {
  return a.name < b.name ? -1 : a.name > b.name ? 1 : 0;
}

/** The key a resource is stored under: `<prefix><kind>/<name>`, `<prefix>workloadendpoint/<namespace>/<name>`. */
export function etcdKey(prefix: string, ref: ResourceRef): string {
  return `${prefix}${kindSegment(ref.kind)}/${ref.namespace !== undefined ? `${ref.namespace}/` : ''}${ref.name}`;
}
