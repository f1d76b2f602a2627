/**
 * Daemon settings: one YAML file (default /etc/nfqwall/nfqwall.yaml) with command-line overrides.
 * Every field is documented in the README's configuration reference. Process-level settings are
 * read at start; a reload (SIGHUP) re-reads only the policy directory.
 */
import type { Issue } from '../errors';
import { DEFAULT_MARK_MASK } from '../dataplane/marks';

export type FailMode = 'open' | 'closed';
export type SteeringMode = 'flow' | 'packet';
export type BackendChoice = 'auto' | 'nft' | 'iptables';

export interface QueueNumbers {
  rawPrerouting: number;
  manglePrerouting: number;
  filterInput: number;
  filterForward: number;
  rawOutput: number;
  filterOutput: number;
  manglePostrouting: number;
}

export interface DaemonSettings {
  /** Directory of Calico resources. */
  policyDir: string;
  /** Where the policy lives: '' (= dir:<policyDir>), dir:PATH or etcd:URL[,URL...] (docs/fleet.md). */
  datastore: string;
  /** etcd key prefix ('' = /nfqwall/v1/), TLS files, user and password file ('' = unused). */
  etcdPrefix: string;
  etcdCaFile: string;
  etcdCertFile: string;
  etcdKeyFile: string;
  etcdUsername: string;
  etcdPasswordFile: string;
  /** Calico node name of this host (HostEndpoints with another spec.node are not enforced). Default: hostname. */
  node: string;
  mode: SteeringMode;
  failMode: FailMode;
  backend: BackendChoice;
  queues: QueueNumbers;
  /** Netlink socket receive buffer per queue (bytes). */
  socketBufferBytes: number;
  /** Flow-table capacity (least recently used flows are evicted). */
  flowTableSize: number;
  /** On reload: judge flows decided under the previous policy again on their next packet, or keep them. */
  existingFlowsOnReload: 'rejudge' | 'keep';
  /** Verdict where Calico renders none (unmanaged interface and similar). */
  unmanagedVerdict: 'accept' | 'drop';
  /** The packet/ct mark bits nfqwall may use (contiguous, >= 15 bits). */
  markMask: number;
  /** Verdict for a packet whose handling threw or could not be parsed. Default follows failMode. */
  errorVerdict: 'accept' | 'drop';
  log: {
    level: 'trace' | 'debug' | 'info' | 'warn' | 'error';
    format: 'json' | 'pretty';
    /** Deny logging: off, sampled (rate-limited per policy), all. */
    denies: 'off' | 'sampled' | 'all';
    /** Flow records: `flow.decided` and `flow.end` (packets and bytes each way) for allowed flows. */
    flows: boolean;
  };
  /** Prometheus exposition, e.g. "127.0.0.1:9743", or "" for off. */
  metricsListen: string;
  /** UNIX control socket path. */
  controlSocket: string;
  /** Nftables table / iptables chain prefix name. */
  table: string;
}

export const DEFAULT_QUEUES: QueueNumbers = {
  rawPrerouting: 4100,
  manglePrerouting: 4101,
  filterInput: 4102,
  filterForward: 4103,
  rawOutput: 4104,
  filterOutput: 4105,
  manglePostrouting: 4106,
};

export function defaultSettings(hostname: string): DaemonSettings {
  return {
    policyDir: '/etc/nfqwall/policy',
    datastore: '',
    etcdPrefix: '',
    etcdCaFile: '',
    etcdCertFile: '',
    etcdKeyFile: '',
    etcdUsername: '',
    etcdPasswordFile: '',
    node: hostname,
    mode: 'flow',
    failMode: 'open',
    backend: 'auto',
    queues: { ...DEFAULT_QUEUES },
    socketBufferBytes: 8 * 1024 * 1024,
    flowTableSize: 262_144,
    existingFlowsOnReload: 'rejudge',
    unmanagedVerdict: 'accept',
    markMask: DEFAULT_MARK_MASK,
    errorVerdict: 'accept',
    log: { level: 'info', format: 'json', denies: 'sampled', flows: false },
    metricsListen: '',
    controlSocket: '/run/nfqwall/control.sock',
    table: 'nfqwall',
  };
}

type Locate = (path: (string | number)[]) => Issue['location'];

const ENUMS: Record<string, readonly string[]> = {
  mode: ['flow', 'packet'],
  failMode: ['open', 'closed'],
  backend: ['auto', 'nft', 'iptables'],
  existingFlowsOnReload: ['rejudge', 'keep'],
  unmanagedVerdict: ['accept', 'drop'],
  errorVerdict: ['accept', 'drop'],
  'log.level': ['trace', 'debug', 'info', 'warn', 'error'],
  'log.format': ['json', 'pretty'],
  'log.denies': ['off', 'sampled', 'all'],
};

/**
 * Merge a parsed settings document over `base`. Returns every problem, each located.
 * Unknown fields are errors (a typo must not silently keep a default).
 */
export function applySettingsDocument(base: DaemonSettings, value: unknown, locate: Locate): { settings: DaemonSettings; issues: Issue[] } {
  const issues: Issue[] = [];
  const s: DaemonSettings = JSON.parse(JSON.stringify(base)) as DaemonSettings;
  const err = (path: (string | number)[], code: string, message: string) => issues.push({ code, message, location: locate(path), severity: 'error' });
  if (value === null || value === undefined) return { settings: s, issues };
  if (typeof value !== 'object' || Array.isArray(value)) {
    err([], 'NFQ_SETTINGS_TYPE', 'settings file must be a mapping');
    return { settings: s, issues };
  }
  const o = value as Record<string, unknown>;
  const top = new Set(Object.keys(base));
  for (const [k, v] of Object.entries(o)) {
    if (!top.has(k)) {
      err([k], 'NFQ_SETTINGS_UNKNOWN_FIELD', `unknown setting '${k}' (known: ${[...top].join(', ')})`);
      continue;
    }
    const cur = (s as unknown as Record<string, unknown>)[k];
    if (k === 'queues' || k === 'log') {
      if (typeof v !== 'object' || v === null || Array.isArray(v)) {
        err([k], 'NFQ_SETTINGS_TYPE', `${k} must be a mapping`);
        continue;
      }
      const sub = cur as Record<string, unknown>;
      for (const [sk, sv] of Object.entries(v as Record<string, unknown>)) {
        if (!(sk in sub)) {
          err([k, sk], 'NFQ_SETTINGS_UNKNOWN_FIELD', `unknown setting '${k}.${sk}' (known: ${Object.keys(sub).join(', ')})`);
          continue;
        }
        const en = ENUMS[`${k}.${sk}`];
        if (k === 'queues') {
          if (typeof sv !== 'number' || !Number.isInteger(sv) || sv < 0 || sv > 65535) err([k, sk], 'NFQ_SETTINGS_VALUE', `${k}.${sk} must be a queue number 0..65535`);
          else sub[sk] = sv;
        } else if (en) {
          if (typeof sv !== 'string' || !en.includes(sv)) err([k, sk], 'NFQ_SETTINGS_VALUE', `${k}.${sk} must be one of ${en.join(', ')}`);
          else sub[sk] = sv;
        } else if (typeof sv !== typeof sub[sk]) err([k, sk], 'NFQ_SETTINGS_TYPE', `${k}.${sk} must be a ${typeof sub[sk]}`);
        else sub[sk] = sv;
      }
      continue;
    }
    const en = ENUMS[k];
    if (en) {
      if (typeof v !== 'string' || !en.includes(v)) err([k], 'NFQ_SETTINGS_VALUE', `${k} must be one of ${en.join(', ')}`);
      else (s as unknown as Record<string, unknown>)[k] = v;
    } else if (k === 'markMask') {
      const n = typeof v === 'string' && /^0x[0-9a-f]+$/i.test(v) ? parseInt(v, 16) : v;
      if (typeof n !== 'number' || !Number.isInteger(n) || n <= 0 || n > 0xffffffff) err([k], 'NFQ_SETTINGS_VALUE', 'markMask must be a 32-bit mask such as 0x7fff0000');
      else s.markMask = n >>> 0;
    } else if (typeof cur === 'number') {
      if (typeof v !== 'number' || !Number.isInteger(v) || v <= 0) err([k], 'NFQ_SETTINGS_VALUE', `${k} must be a positive integer`);
      else (s as unknown as Record<string, unknown>)[k] = v;
    } else if (typeof v !== typeof cur) err([k], 'NFQ_SETTINGS_TYPE', `${k} must be a ${typeof cur}`);
    else (s as unknown as Record<string, unknown>)[k] = v;
  }
  return { settings: s, issues };
}
