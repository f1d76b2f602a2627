/** Datastore health as metrics (for the daemon's Prometheus exposition) and as one status line. */
import type { ConnectionState, DatastoreHealth } from './types';

export interface DatastoreMetricSpec {
  /** Prometheus name with the `nfqwall_` prefix. */
  name: string;
  help: string;
  type: 'gauge' | 'counter';
  value(h: DatastoreHealth, now: number): number;
}

/** The datastore metrics, fixed up front so they can be registered before the first scrape. */
export const DATASTORE_METRICS: readonly DatastoreMetricSpec[] = [
  { name: 'nfqwall_datastore_connected', help: '1 while the datastore watch is connected (always 1 for a directory)', type: 'gauge', value: (h) => (h.state === 'connected' ? 1 : 0) },
  { name: 'nfqwall_datastore_state_seconds', help: 'Seconds since the datastore connection state last changed', type: 'gauge', value: (h, now) => Math.max(0, (now - Date.parse(h.since)) / 1000) },
  { name: 'nfqwall_datastore_revision', help: 'Newest etcd revision seen', type: 'gauge', value: (h) => h.revision ?? 0 },
  { name: 'nfqwall_datastore_snapshot_revision', help: 'etcd revision of the newest snapshot handed to the daemon', type: 'gauge', value: (h) => h.snapshotRevision ?? 0 },
  { name: 'nfqwall_datastore_snapshot_ok', help: '1 unless the newest snapshot had errors (then the previous policy stays in force)', type: 'gauge', value: (h) => (h.snapshotOk === false ? 0 : 1) },
  { name: 'nfqwall_datastore_reconnects_total', help: 'Re-connections to the datastore after a lost connection', type: 'counter', value: (h) => h.reconnects },
  { name: 'nfqwall_datastore_resyncs_total', help: 'Full datastore re-reads after the watch history was compacted or the watch cancelled', type: 'counter', value: (h) => h.resyncs },
  { name: 'nfqwall_datastore_snapshots_total', help: 'Datastore snapshots handed to the daemon', type: 'counter', value: (h) => h.snapshots },
];

export interface DatastoreMetric {
  name: string;
  help: string;
  type: 'gauge' | 'counter';
  value: number;
}

/** Every datastore metric's value at `now`. */
export function datastoreMetrics(h: DatastoreHealth, now: number = Date.now()): DatastoreMetric[] {
  return DATASTORE_METRICS.map((m) => ({ name: m.name, help: m.help, type: m.type, value: m.value(h, now) }));
}

/** `etcd:http://10.0.0.5:2379 /nfqwall/v1/: connected since ..., revision 42` (plus the last error). */
export function describeHealth(h: DatastoreHealth): string {
  const rev = h.revision !== null ? `, revision ${h.revision}` : '';
  const snap = h.snapshotOk === false ? `; newest snapshot (revision ${h.snapshotRevision}) has errors, the previous policy stays in force` : '';
  const err = h.lastError !== null ? `; last error at ${h.lastErrorAt}: ${h.lastError}` : '';
  return `${h.datastore}: ${h.state} since ${h.since}${rev}${snap}${err}`;
}

/** Health of a datastore that has read nothing yet (a watch just started, or a directory). */
export function initialHealth(datastore: string, state: ConnectionState): DatastoreHealth {
  return {
    datastore,
    state,
    since: new Date().toISOString(),
    revision: null,
    snapshotRevision: null,
    snapshotOk: null,
    lastError: null,
    lastErrorAt: null,
    reconnects: 0,
    resyncs: 0,
    snapshots: 0,
  };
}
