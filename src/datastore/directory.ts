/**
 * The directory datastore (the default, embedded one): a policy directory of YAML files.
 *
 * Reading is `loadResourceDir`. Writing keeps the user's layout: a resource that already exists is
 * replaced where it is written (in a multi-document file only that document changes), a new one
 * gets its own file `<kind>-<name>.yaml`, a deleted one is cut out of its file (the file goes when
 * nothing is left in it). Every file is written atomically (temporary file + rename). Writers take
 * a lock file (`.nfqwall.lock`) so two `apply`s never interleave; readers need no lock.
 */
import { randomBytes } from 'node:crypto';
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { CFG, loadResourceDir, readResourceDir, type RawDocument } from '../config';
import { NfqwallError, type Issue } from '../errors';
import { DS } from './codes';
import { initialHealth } from './health';
import { emptyResult, notFoundIssue, storedResources, tierInUseIssues, validateEntries, type SourceEntry } from './entries';
import { kindSegment, refId, refOf, type ResourceRef } from './kinds';
import { editYamlText, renderResource, type FileEdit } from './yaml-file-edit';
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
} from './types';

export interface DirectoryDatastoreOptions {
  /** Also read subdirectories (as `nfqwall validate -r`). */
  recursive?: boolean;
  /** How long a writer waits for another writer's lock (default 10 s). */
  lockTimeoutMs?: number;
  /** Refuse files and directories other users can change (the daemon; see loadResourceDir). */
  requireSafePermissions?: boolean;
}

const LOCK_NAME = '.nfqwall.lock';

export class DirectoryDatastore implements Datastore {
  readonly kind = 'dir' as const;
  readonly description: string;

  constructor(
    readonly dir: string,
    private readonly options: DirectoryDatastoreOptions = {},
  ) {
    this.description = `dir:${dir}`;
  }

  async snapshot(options: SnapshotOptions = {}): Promise<Snapshot> {
    const r = await loadResourceDir(this.dir, { ...this.readOptions(), ...nodeOpt(options) });
    return {
      resources: r.resources,
      issues: r.issues,
      files: r.files,
      counts: r.counts,
      ok: !r.issues.some((i) => i.severity === 'error'),
      revision: null,
      source: this.description,
      readAt: new Date().toISOString(),
    };
  }

  async list(filter: ListFilter = {}): Promise<ListResult> {
    const { entries, issues } = await this.read();
    const resources = storedResources(entries).filter(
      (r) =>
        (filter.kind === undefined || r.ref.kind === filter.kind) &&
        (filter.name === undefined || r.ref.name === filter.name) &&
        (filter.namespace === undefined || r.ref.namespace === filter.namespace),
    );
    return { resources, issues: issues.filter((i) => i.severity === 'error'), revision: null };
  }

  async apply(documents: readonly RawDocument[], options: SnapshotOptions = {}): Promise<ChangeResult> {
    const sources = new Set(documents.map((d) => d.file));
    const appliedEntries: SourceEntry[] = [...sources].map((f) => ({ name: f, documents: documents.filter((d) => d.file === f), issues: [] }));
    if (!(await exists(this.dir))) {
      // Nothing stored yet: an invalid file must not even leave an empty directory behind.
      const v = validateEntries(appliedEntries, nodeOpt(options));
      if (!v.ok) return emptyResult(v.issues);
      await fs.mkdir(this.dir, { recursive: true }).catch((err) => rethrow(err, this.dir));
    }
    return this.locked(async () => {
      const { entries, issues: readIssues } = await this.read();
      const applied = new Map<string, ResourceRef>();
      for (const d of documents) {
        const ref = refOf(d.value);
        if (ref) applied.set(refId(ref), ref);
      }
      // The result: every existing document not replaced, plus the applied ones (their file first).
      const remaining = entries.map((e) => ({ ...e, documents: e.documents.filter((d) => !isIn(d, applied)) }));
      const v = validateEntries([...appliedEntries, ...remaining], { ...nodeOpt(options), extraIssues: readIssues });
      const result = emptyResult(v.issues);
      if (!v.ok) return result;

      const edits = new Map<string, FileEdit[]>();
      const creates: { ref: ResourceRef; value: Record<string, unknown> }[] = [];
      for (const d of documents) {
        const ref = refOf(d.value)!; // valid documents have one
        const value = d.value as Record<string, unknown>;
        const holders = entries.filter((e) => e.documents.some((x) => sameId(x, ref)));
        if (holders.length === 0) {
          creates.push({ ref, value });
          result.created.push(ref);
          continue;
        }
        // Replace where it is written; a duplicate elsewhere (an invalid directory being fixed) goes.
        holders.forEach((h, i) => addEdit(edits, h.name, { ref, replacement: i === 0 ? value : null }));
        result.replaced.push(ref);
      }
      await this.writeEdits(edits);
      for (const c of creates) await writeFileAtomic(await this.newFileName(c.ref), renderResource(c.value));
      result.ok = true;
      return result;
    });
  }

  async delete(refs: readonly ResourceRef[], options: SnapshotOptions = {}): Promise<ChangeResult> {
    if (!(await exists(this.dir))) {
      const r = emptyResult(refs.map((ref) => notFoundIssue(ref, this.description)));
      r.notFound = [...refs];
      return r;
    }
    return this.locked(async () => {
      const { entries, issues: readIssues } = await this.read();
      const ids = new Map(refs.map((r) => [refId(r), r]));
      const notFound = refs.filter((r) => !entries.some((e) => e.documents.some((d) => sameId(d, r))));
      if (notFound.length > 0) {
        const r = emptyResult(notFound.map((ref) => notFoundIssue(ref, this.description)));
        r.notFound = notFound;
        return r;
      }
      const remaining = entries.map((e) => ({ ...e, documents: e.documents.filter((d) => !isIn(d, ids)) }));
      const tiers = refs
        .filter((r) => r.kind === 'Tier')
        .map((ref) => {
          const e = entries.find((x) => x.documents.some((d) => sameId(d, ref)));
          return { ref, doc: e?.documents.find((d) => sameId(d, ref)), source: e?.name ?? this.dir };
        });
      // A tier in use is the one thing to say (the policies' missing-tier errors would only repeat it).
      const inUse = tierInUseIssues(tiers, remaining);
      if (inUse.length > 0) return emptyResult(inUse);
      const v = validateEntries(remaining, { ...nodeOpt(options), extraIssues: readIssues });
      const result = emptyResult(v.issues);
      if (!v.ok) return result;
      const edits = new Map<string, FileEdit[]>();
      for (const ref of refs) {
        for (const e of entries) if (e.documents.some((d) => sameId(d, ref))) addEdit(edits, e.name, { ref, replacement: null });
      }
      await this.writeEdits(edits);
      result.deleted = [...refs];
      result.ok = true;
      return result;
    });
  }

  /** A directory has no change feed: the daemon reloads on SIGHUP. Health is constant. */
  watch(_onSnapshot: SnapshotListener, onHealth?: HealthListener): DatastoreWatch {
    const health = initialHealth(this.description, 'connected');
    if (onHealth) queueMicrotask(() => onHealth({ ...health }));
    return { latest: () => null, health: () => ({ ...health }), stop: async () => undefined };
  }

  async close(): Promise<void> {}

  /** Entries per file; a directory that does not exist yet reads as empty (apply creates it). */
  private async read(): Promise<{ entries: SourceEntry[]; issues: Issue[] }> {
    if (!(await exists(this.dir))) return { entries: [], issues: [] };
    const r = await readResourceDir(this.dir, this.readOptions());
    const entries: SourceEntry[] = r.files.map((f) => ({ name: f, documents: r.documents.filter((d) => d.file === f), issues: [] }));
    return { entries, issues: r.issues.filter((i) => i.code !== CFG.NO_FILES) };
  }

  private readOptions(): { recursive: boolean; requireSafePermissions: boolean } {
    return { recursive: this.options.recursive === true, requireSafePermissions: this.options.requireSafePermissions === true };
  }

  private async writeEdits(edits: Map<string, FileEdit[]>): Promise<void> {
    for (const [file, list] of edits) {
      const real = await fs.realpath(file);
      const text = await fs.readFile(real, 'utf8');
      let edited;
      try {
        edited = editYamlText(text, list);
      } catch (err) {
        throw new NfqwallError(DS.WRITE, `cannot change ${file}: ${(err as Error).message}`, { cause: err });
      }
      if (edited.documents === 0) await fs.rm(real).catch((err) => rethrow(err, file));
      else await writeFileAtomic(real, edited.text);
    }
  }

  /** `<kind>-<name>.yaml` (`workloadendpoint-<namespace>.<name>.yaml`), numbered if taken. */
  private async newFileName(ref: ResourceRef): Promise<string> {
    const base = `${kindSegment(ref.kind)}-${ref.namespace !== undefined ? `${ref.namespace}.` : ''}${ref.name}`;
    for (let n = 1; ; n++) {
      const file = path.join(this.dir, `${base}${n === 1 ? '' : `-${n}`}.yaml`);
      const taken = await fs.lstat(file).then(
        () => true,
        () => false,
      );
      if (!taken) return file;
    }
  }

  /** Run `task` holding the directory's writer lock (created with O_EXCL; a dead holder's lock is taken over). */
  private async locked<T>(task: () => Promise<T>): Promise<T> {
    const lock = path.join(this.dir, LOCK_NAME);
    const deadline = Date.now() + (this.options.lockTimeoutMs ?? 10_000);
    for (;;) {
      try {
        const fh = await fs.open(lock, 'wx', 0o644);
        await fh.writeFile(`${process.pid}\n`);
        await fh.close();
        break;
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EEXIST') rethrow(err, lock);
        if (await staleLock(lock)) {
          await fs.rm(lock, { force: true });
          continue;
        }
        if (Date.now() > deadline) throw new NfqwallError(DS.WRITE, `${lock} is held by another writer; try again (remove the file if no nfqwall command is running)`);
        await new Promise((r) => setTimeout(r, 50));
      }
    }
    try {
      return await task();
    } finally {
      await fs.rm(lock, { force: true });
    }
  }
}

/** Write `text` to `file` so a reader sees the old or the new content, never a mixture. */
export async function writeFileAtomic(file: string, text: string): Promise<void> {
  const dir = path.dirname(file);
  const tmp = path.join(dir, `.${path.basename(file)}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`);
  const mode = await fs.stat(file).then(
    (s) => s.mode & 0o7777,
    () => 0o644,
  );
  try {
    const fh = await fs.open(tmp, 'wx', mode);
    try {
      await fh.writeFile(text, 'utf8');
      await fh.sync();
    } finally {
      await fh.close();
    }
    await fs.rename(tmp, file);
  } catch (err) {
    await fs.rm(tmp, { force: true });
    rethrow(err, file);
  }
  // The rename is durable only once the directory is synced.
  const d = await fs.open(dir, 'r').catch(() => null);
  if (d) await d.sync().catch(() => undefined).finally(() => d.close());
}

/** False only when nothing is there (other errors surface when the directory is read). */
function exists(p: string): Promise<boolean> {
  return fs.stat(p).then(
    () => true,
    (e: NodeJS.ErrnoException) => e.code !== 'ENOENT',
  );
}

async function staleLock(lock: string): Promise<boolean> {
  const text = await fs.readFile(lock, 'utf8').catch(() => '');
  const pid = Number(text.trim());
  if (!Number.isInteger(pid) || pid <= 0) {
    // Being written right now, or garbage: stale only when old.
    const st = await fs.stat(lock).catch(() => null);
    return st !== null && Date.now() - st.mtimeMs > 30_000;
  }
  try {
    process.kill(pid, 0);
    return false;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'ESRCH';
  }
}

function rethrow(err: unknown, file: string): never {
  if (err instanceof NfqwallError) throw err;
  throw new NfqwallError(DS.WRITE, `cannot write ${file}: ${(err as Error).message}`, { cause: err });
}

function addEdit(edits: Map<string, FileEdit[]>, file: string, e: FileEdit): void {
  const list = edits.get(file);
  if (list) list.push(e);
  else edits.set(file, [e]);
}

function sameId(d: RawDocument, ref: ResourceRef): boolean {
  const r = refOf(d.value);
  return r !== undefined && refId(r) === refId(ref);
}

function isIn(d: RawDocument, ids: Map<string, ResourceRef>): boolean {
  const r = refOf(d.value);
  return r !== undefined && ids.has(refId(r));
}

function nodeOpt(o: SnapshotOptions): { nodeName?: string } {
  return o.nodeName !== undefined ? { nodeName: o.nodeName } : {};
}
