/**
 * Flow ids for logs, traces and `nfqwall flows`: small numbers handed out the first time anything
 * asks about a flow entry, so the decided record, the end record and the trace of one flow share
 * an id. Process-wide (ids restart with the daemon); entries are held weakly.
 */
import type { FlowEntry } from '../conntrack';

const ids = new WeakMap<FlowEntry<unknown>, number>();
let nextId = 1;

export function flowIdOf(entry: FlowEntry<unknown>): number {
  let id = ids.get(entry);
  if (id === undefined) {
    id = nextId++;
    ids.set(entry, id);
  }
  return id;
}

/** The id if one was handed out already (never assigns). */
export function knownFlowId(entry: FlowEntry<unknown>): number | undefined {
  return ids.get(entry);
}
