/**
 * Datastores: where the Calico resources live. A policy directory (default) or etcd v3 for a
 * fleet; both validated exactly like `nfqwall validate`, both followed by the daemon's reload path.
 */
export { DS } from './codes';
export { DirectoryDatastore, writeFileAtomic, type DirectoryDatastoreOptions } from './directory';
export { EtcdDatastore, DEFAULT_ETCD_PREFIX, etcdKey, type EtcdDatastoreOptions } from './etcd';
export type { EtcdConnectionOptions } from './etcd-client';
export { validateEntries, type SourceEntry } from './entries';
export { DATASTORE_METRICS, datastoreMetrics, describeHealth, type DatastoreMetric, type DatastoreMetricSpec } from './health';
export { calicoShape, describeRef, kindFromWord, kindWords, refOf, tableColumns, type ResourceRef } from './kinds';
export {
  DATASTORE_ENV,
  DEFAULT_POLICY_DIR,
  datastoreFromSettings,
  openDatastore,
  parseDatastoreSpec,
  resolveDatastoreFlags,
  type DatastoreFlags,
  type DatastoreSettings,
  type DatastoreSpec,
  type OpenDatastoreOptions,
} from './spec';
export { editYamlText, renderResource, type FileEdit } from './yaml-file-edit';
export type {
  ChangeResult,
  ConnectionState,
  Datastore,
  DatastoreHealth,
  DatastoreWatch,
  HealthListener,
  ListFilter,
  ListResult,
  Snapshot,
  SnapshotListener,
  SnapshotOptions,
  StoredResource,
  WatchOptions,
} from './types';
