/**
 * Choosing a datastore: `dir:PATH` or `etcd:URL[,URL...]`, from a command-line flag, the
 * NFQWALL_DATASTORE environment variable, or the default directory /etc/nfqwall/policy. etcd
 * options (prefix, TLS files, user and password) come from flags or NFQWALL_ETCD_* variables.
 */
import { readFileSync } from 'node:fs';
import { NfqwallError } from '../errors';
import { DS } from './codes';
import { DirectoryDatastore } from './directory';
import { EtcdDatastore } from './etcd';
import type { Datastore } from './types';

export const DEFAULT_POLICY_DIR = '/etc/nfqwall/policy';
export const DATASTORE_ENV = 'NFQWALL_DATASTORE';

export interface DatastoreFlags {
  datastore?: string;
  etcdPrefix?: string;
  etcdCa?: string;
  etcdCert?: string;
  etcdKey?: string;
  etcdUser?: string;
  etcdPassword?: string;
  /** A file holding the password (first line), readable only by root: better than a flag. */
  etcdPasswordFile?: string;
}

/** How the caller uses the store (not user input, unlike the flags). */
export interface OpenDatastoreOptions {
  /** A directory store refuses files and directories other users can change (the daemon). */
  requireSafePermissions?: boolean;
}

export type DatastoreSpec = { kind: 'dir'; dir: string } | { kind: 'etcd'; endpoints: string[] };

/** `dir:PATH`, `etcd:http://a:2379,http://b:2379`; a bare path is a directory, bare URLs are etcd. */
export function parseDatastoreSpec(spec: string): DatastoreSpec {
  const s = spec.trim();
  if (s === '') throw new NfqwallError(DS.SPEC, 'empty datastore: give dir:PATH or etcd:URL[,URL...]');
  if (s.startsWith('dir:')) {
    const dir = s.slice(4);
    if (dir === '') throw new NfqwallError(DS.SPEC, 'dir: needs a path, e.g. dir:/etc/nfqwall/policy');
    return { kind: 'dir', dir };
  }
  const urls = s.startsWith('etcd:') ? s.slice(5) : /^https?:\/\//.test(s) ? s : undefined;
  if (urls === undefined) {
    if (/^[a-z][a-z0-9+.-]*:\/\//i.test(s) || /^[a-z]+:/.test(s)) throw new NfqwallError(DS.SPEC, `unknown datastore "${spec}": give dir:PATH or etcd:URL[,URL...]`);
    return { kind: 'dir', dir: s };
  }
  const endpoints = urls.split(',').map((u) => u.trim()).filter((u) => u !== '');
  if (endpoints.length === 0) throw new NfqwallError(DS.SPEC, 'etcd: needs at least one URL, e.g. etcd:http://127.0.0.1:2379');
  for (const e of endpoints) {
    if (!/^https?:\/\/[^/\s]+\/?$/.test(e)) throw new NfqwallError(DS.SPEC, `etcd endpoint "${e}" must look like http://HOST:PORT or https://HOST:PORT`);
  }
  return { kind: 'etcd', endpoints };
}

/** Flags win over the environment; without either, the default policy directory. */
export function resolveDatastoreFlags(flags: DatastoreFlags, env: NodeJS.ProcessEnv = process.env): Required<Pick<DatastoreFlags, 'datastore'>> & DatastoreFlags {
  const pick = (flag: string | undefined, name: string): string | undefined => flag ?? (env[name] !== undefined && env[name] !== '' ? env[name] : undefined);
  const out: DatastoreFlags & { datastore: string } = { datastore: pick(flags.datastore, DATASTORE_ENV) ?? `dir:${DEFAULT_POLICY_DIR}` };
  const set = (k: keyof DatastoreFlags, v: string | undefined): void => {
    if (v !== undefined) out[k] = v;
  };
  set('etcdPrefix', pick(flags.etcdPrefix, 'NFQWALL_ETCD_PREFIX'));
  set('etcdCa', pick(flags.etcdCa, 'NFQWALL_ETCD_CA'));
  set('etcdCert', pick(flags.etcdCert, 'NFQWALL_ETCD_CERT'));
  set('etcdKey', pick(flags.etcdKey, 'NFQWALL_ETCD_KEY'));
  set('etcdUser', pick(flags.etcdUser, 'NFQWALL_ETCD_USER'));
  set('etcdPassword', pick(flags.etcdPassword, 'NFQWALL_ETCD_PASSWORD'));
  set('etcdPasswordFile', pick(flags.etcdPasswordFile, 'NFQWALL_ETCD_PASSWORD_FILE'));
  return out;
}

/** Open the datastore `flags` (resolved against `env`) name. Throws NfqwallError NFQ_DS_SPEC. */
export function openDatastore(flags: DatastoreFlags, env: NodeJS.ProcessEnv = process.env, options: OpenDatastoreOptions = {}): Datastore {
  const f = resolveDatastoreFlags(flags, env);
  const spec = parseDatastoreSpec(f.datastore);
  if (spec.kind === 'dir') {
    const etcdOnly = (['etcdPrefix', 'etcdCa', 'etcdCert', 'etcdKey', 'etcdUser', 'etcdPassword', 'etcdPasswordFile'] as const).filter((k) => flags[k] !== undefined);
    if (etcdOnly.length > 0) throw new NfqwallError(DS.SPEC, `--${kebab(etcdOnly[0]!)} applies to an etcd datastore, not to ${f.datastore}`);
    return new DirectoryDatastore(spec.dir, options.requireSafePermissions ? { requireSafePermissions: true } : {});
  }
  let password = f.etcdPassword;
  if (f.etcdPasswordFile !== undefined) {
    if (password !== undefined) throw new NfqwallError(DS.SPEC, 'give the etcd password or a password file, not both');
    try {
      password = (readFileSync(f.etcdPasswordFile, 'utf8').split(/\r?\n/)[0] ?? '').trimEnd();
    } catch (err) {
      throw new NfqwallError(DS.SPEC, `cannot read the etcd password file ${f.etcdPasswordFile}: ${(err as Error).message}`, { cause: err });
    }
  }
  return new EtcdDatastore({
    endpoints: spec.endpoints,
    ...(f.etcdPrefix !== undefined ? { prefix: f.etcdPrefix } : {}),
    ...(f.etcdCa !== undefined ? { caFile: f.etcdCa } : {}),
    ...(f.etcdCert !== undefined ? { certFile: f.etcdCert } : {}),
    ...(f.etcdKey !== undefined ? { keyFile: f.etcdKey } : {}),
    ...(f.etcdUser !== undefined ? { username: f.etcdUser } : {}),
    ...(password !== undefined ? { password } : {}),
  });
}

/** The daemon's settings fields that choose its datastore ('' = not set). */
export interface DatastoreSettings {
  policyDir: string;
  /** '' = `dir:<policyDir>`. */
  datastore?: string;
  etcdPrefix?: string;
  etcdCaFile?: string;
  etcdCertFile?: string;
  etcdKeyFile?: string;
  etcdUsername?: string;
  etcdPasswordFile?: string;
}

/** The daemon's datastore: from its settings only (the environment is for the command line). */
export function datastoreFromSettings(s: DatastoreSettings, options: OpenDatastoreOptions = {}): Datastore {
  const v = (x: string | undefined): string | undefined => (x === undefined || x === '' ? undefined : x);
  const flags: DatastoreFlags = { datastore: v(s.datastore) ?? `dir:${s.policyDir}` };
  const set = (k: keyof DatastoreFlags, x: string | undefined): void => {
    const y = v(x);
    if (y !== undefined) flags[k] = y;
  };
  set('etcdPrefix', s.etcdPrefix);
  set('etcdCa', s.etcdCaFile);
  set('etcdCert', s.etcdCertFile);
  set('etcdKey', s.etcdKeyFile);
  set('etcdUser', s.etcdUsername);
  set('etcdPasswordFile', s.etcdPasswordFile);
  // Name the settings field, not the command-line flag openDatastore would name.
  const etcdFields = (['etcdPrefix', 'etcdCaFile', 'etcdCertFile', 'etcdKeyFile', 'etcdUsername', 'etcdPasswordFile'] as const).filter((k) => v(s[k]) !== undefined);
  if (etcdFields.length > 0 && parseDatastoreSpec(flags.datastore!).kind === 'dir') {
    throw new NfqwallError(DS.SPEC, `settings field ${etcdFields[0]} applies to an etcd datastore, not to ${flags.datastore}`);
  }
  return openDatastore(flags, {}, options);
}

function kebab(s: string): string {
  return s.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);
}
