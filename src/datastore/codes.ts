/** Stable codes of datastore problems (documented in docs/errors.md and docs/fleet.md). */
export const DS = {
  /** `--datastore` (or NFQWALL_DATASTORE) is malformed, or a TLS file cannot be read. */
  SPEC: 'NFQ_DS_SPEC',
  /** etcd cannot be reached or a request failed (timeout, refused, authentication). */
  UNAVAILABLE: 'NFQ_DS_UNAVAILABLE',
  /** An etcd key under the prefix does not hold exactly one resource matching `<prefix><kind>/<name>`. */
  KEY: 'NFQ_DS_KEY',
  /** delete: the tier is still named by a GlobalNetworkPolicy's spec.tier. */
  TIER_IN_USE: 'NFQ_DS_TIER_IN_USE',
  /** get/delete: no such resource. */
  NOT_FOUND: 'NFQ_DS_NOT_FOUND',
  /** The store kept changing under a write; retries exhausted, nothing written. */
  CONFLICT: 'NFQ_DS_CONFLICT',
  /** A policy directory could not be written (permissions, disk, lock held). */
  WRITE: 'NFQ_DS_WRITE',
} as const;
