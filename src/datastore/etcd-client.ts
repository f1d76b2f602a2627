/**
 * An etcd3 client configured for nfqwall: TLS and user/password passed through, a deadline on
 * every unary request, gRPC keepalive so a silent partition breaks the watch stream, and no
 * client-side retry or circuit breaker (the watch loop owns retrying, with its own back-off).
 */
import { readFileSync } from 'node:fs';
import { Etcd3, type IOptions } from 'etcd3';
import { NfqwallError } from '../errors';
import { DS } from './codes';

export interface EtcdConnectionOptions {
  /** Client URLs, e.g. ['http://127.0.0.1:2379']; https:// uses TLS. */
  endpoints: string[];
  /** PEM CA bundle that signed the server certificates (default: the system roots). */
  caFile?: string;
  /** PEM client certificate and key (both or neither). */
  certFile?: string;
  keyFile?: string;
  username?: string;
  password?: string;
  /** Deadline of every unary request (default 5000 ms). */
  requestTimeoutMs?: number;
  /** gRPC keepalive ping interval (default 10000 ms; etcd refuses pings more often than every 5 s). */
  keepaliveMs?: number;
  /** A ping unanswered this long breaks the connection (default 5000 ms). */
  keepaliveTimeoutMs?: number;
}

type FaultHandling = NonNullable<IOptions['faultHandling']>;
type HostPolicy = ReturnType<NonNullable<FaultHandling['host']>>;

/**
 * A pass-through policy. etcd3 only calls `execute` on its policies (and expects a promise even
 * when the function throws); its defaults (3 retries, a 5 s circuit breaker per host) would delay
 * noticing that etcd is back after a restart.
 */
const PASS_THROUGH = { execute: async <T>(fn: (ctx: { signal: AbortSignal }) => T | Promise<T>): Promise<T> => fn({ signal: new AbortController().signal }) };

/** Constant re-attach delay for etcd3's own watch manager (our loop cancels and re-creates watchers anyway). */
function constantBackoff(ms: number): FaultHandling['watchBackoff'] {
  const b = { duration: ms, next: () => b };
  return b as unknown as FaultHandling['watchBackoff'];
}

export function createEtcdClient(o: EtcdConnectionOptions): Etcd3 {
  if (o.endpoints.length === 0) throw new NfqwallError(DS.SPEC, 'no etcd endpoint given');
  for (const e of o.endpoints) {
    if (!/^https?:\/\/[^/\s]+\/?$/.test(e)) throw new NfqwallError(DS.SPEC, `etcd endpoint "${e}" must look like http://HOST:PORT or https://HOST:PORT`);
  }
  if ((o.certFile === undefined) !== (o.keyFile === undefined)) throw new NfqwallError(DS.SPEC, 'give both the etcd client certificate and its key, or neither');
  if ((o.username === undefined) !== (o.password === undefined)) throw new NfqwallError(DS.SPEC, 'give both the etcd user and the password, or neither');
  const read = (file: string | undefined, what: string): Buffer | undefined => {
    if (file === undefined) return undefined;
    try {
      return readFileSync(file);
    } catch (err) {
      throw new NfqwallError(DS.SPEC, `cannot read the etcd ${what} ${file}: ${(err as Error).message}`, { cause: err });
    }
  };
  const ca = read(o.caFile, 'CA bundle');
  const cert = read(o.certFile, 'client certificate');
  const key = read(o.keyFile, 'client key');
  const timeout = o.requestTimeoutMs ?? 5000;
  const options: IOptions = {
    hosts: o.endpoints.map((e) => e.replace(/\/$/, '')),
    dialTimeout: timeout,
    defaultCallOptions: (ctx) => (ctx.isStream ? {} : { deadline: Date.now() + timeout }),
    grpcOptions: {
      'grpc.keepalive_time_ms': o.keepaliveMs ?? 10_000,
      'grpc.keepalive_timeout_ms': o.keepaliveTimeoutMs ?? 5000,
      // One page of a range read may be large (etcd allows 1.5 MiB per value).
      'grpc.max_receive_message_length': 64 * 1024 * 1024,
    },
    faultHandling: {
      host: () => PASS_THROUGH as unknown as HostPolicy,
      global: PASS_THROUGH as unknown as FaultHandling['global'],
      watchBackoff: constantBackoff(500),
    },
  };
  if (ca !== undefined || cert !== undefined) {
    // grpc's createSsl takes a null root for "system roots"; etcd3's type insists on a Buffer.
    options.credentials = { rootCertificate: (ca ?? null) as Buffer, ...(key ? { privateKey: key } : {}), ...(cert ? { certChain: cert } : {}) };
  }
  if (o.username !== undefined && o.password !== undefined) options.auth = { username: o.username, password: o.password };
  try {
    return new Etcd3(options);
  } catch (err) {
    throw new NfqwallError(DS.SPEC, `cannot set up the etcd client: ${(err as Error).message}`, { cause: err });
  }
}

/** Any failure talking to etcd, as one coded error with the endpoints in the message. */
export function unavailable(endpoints: readonly string[], err: unknown): NfqwallError {
  if (err instanceof NfqwallError) return err;
  const msg = (err as Error)?.message ?? String(err);
  return new NfqwallError(DS.UNAVAILABLE, `etcd ${endpoints.join(',')}: ${msg}`, { cause: err });
}
