/**
 * Test support for root tests in a lab (src/lab): a lab with a random prefix that is always
 * removed, bounded processes inside its namespaces (TCP/UDP echo servers and probes written as
 * small Node scripts), iptables counters and the kernel's queue counters of a namespace.
 *
 * Every process started here has a hard lifetime, every wait a timeout; traffic only goes to
 * addresses inside the lab.
 */
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { labDown, labUp, listNamespaces, runInNamespace } from '../../src/lab/lab';
import { spawnInNamespace, type NsProcess } from '../../src/lab/process';
import { LAB_ADDRESSES, labNames, labNamespaces, type LabNames, type LabUpOptions } from '../../src/lab/topology';
import { NFQUEUE_PROC_PATH, parseQueueStats, type KernelQueueStats } from '../../src/queue/queue-stats';

export { runInNamespace, spawnInNamespace, type NsProcess };

/** Root is needed for namespaces; root tests call `this.skip()` without it. */
export const IS_ROOT = process.getuid?.() === 0;

export function randomLabPrefix(): string {
  return `t${randomBytes(4).toString('hex').slice(0, 7)}`;
}

export interface TestLab {
  names: LabNames;
  addresses: typeof LAB_ADDRESSES;
  /** Remove the lab (idempotent); also stops every process still inside it. */
  destroy(): Promise<void>;
}

// Labs not destroyed yet: removed synchronously if the test process exits without its after().
const liveLabs = new Set<string>();
process.once('exit', () => {
  for (const prefix of liveLabs) {
    for (const ns of labNamespaces(labNames(prefix))) spawnSync('ip', ['netns', 'del', ns], { timeout: 2000 });
  }
});

export async function createTestLab(options: LabUpOptions = {}): Promise<TestLab> {
  const prefix = randomLabPrefix();
  liveLabs.add(prefix);
  const names = await labUp(prefix, options);
  return {
    names,
    addresses: LAB_ADDRESSES,
    async destroy() {
      await labDown(prefix);
      liveLabs.delete(prefix);
    },
  };
}

/** Namespaces of `names` that `ip netns` still lists. */
export async function remainingNamespaces(names: LabNames): Promise<string[]> {
  const listed = await listNamespaces();
  return labNamespaces(names).filter((ns) => listed.has(ns));
}

// --- echo servers and probes, as Node scripts taking one JSON argument ---------------------------

const TCP_SERVER = `
const net = require('net');
const c = JSON.parse(process.argv[1]);
let served = 0;
const srv = net.createServer((s) => {
  served++;
  console.log('conn ' + s.remoteAddress + ' ' + s.remotePort);
  s.on('error', () => {});
  s.on('data', (d) => s.write(d));
  s.on('end', () => s.end());
  if (served >= c.maxConnections) srv.close();
});
srv.listen({ host: c.host, port: c.port }, () => console.log('listening'));
setTimeout(() => process.exit(0), c.lifetimeMs);
`;

const TCP_PROBE = `
const net = require('net');
const c = JSON.parse(process.argv[1]);
const out = { connected: false, echoed: false, error: undefined };
const finish = () => { console.log(JSON.stringify(out)); process.exit(0); };
const s = net.connect({ host: c.host, port: c.port });
let got = '';
s.on('connect', () => { out.connected = true; s.write(c.payload); });
s.on('data', (d) => { got += d; if (got === c.payload) { out.echoed = true; s.end(); } });
s.on('close', finish);
s.on('error', (e) => { out.error = e.code || e.message; });
setTimeout(() => { out.error = out.error || 'timeout'; s.destroy(); finish(); }, c.timeoutMs);
`;

const UDP_SERVER = `
const dgram = require('dgram');
const c = JSON.parse(process.argv[1]);
let served = 0;
const s = dgram.createSocket(c.host.includes(':') ? 'udp6' : 'udp4');
s.on('message', (m, r) => { s.send(m, r.port, r.address); if (++served >= c.maxDatagrams) s.close(); });
s.bind(c.port, c.host, () => console.log('listening'));
setTimeout(() => process.exit(0), c.lifetimeMs);
`;

const UDP_PROBE = `
const dgram = require('dgram');
const c = JSON.parse(process.argv[1]);
const s = dgram.createSocket(c.host.includes(':') ? 'udp6' : 'udp4');
let tries = 0;
const finish = (echoed) => { console.log(JSON.stringify({ echoed, tries })); process.exit(0); };
s.on('message', (m) => { if (m.toString() === c.payload) finish(true); });
const send = () => { if (tries++ < c.attempts) s.send(c.payload, c.port, c.host); };
send();
const t = setInterval(send, Math.max(50, Math.floor(c.timeoutMs / c.attempts)));
setTimeout(() => { clearInterval(t); finish(false); }, c.timeoutMs);
`;

function nodeScript(script: string, config: object): string[] {
  return [process.execPath, '-e', script, JSON.stringify(config)];
}

export interface ServerOptions {
  host: string;
  port: number;
  /** Stop accepting after this many connections / datagrams (default 100). */
  max?: number;
  /** Exit after this long (default 30 s). */
  lifetimeMs?: number;
}

/** A TCP echo server inside `ns`, listening when this resolves. */
export async function startTcpServer(ns: string, o: ServerOptions): Promise<NsProcess> {
  const lifetimeMs = o.lifetimeMs ?? 30_000;
  const p = spawnInNamespace(ns, nodeScript(TCP_SERVER, { host: o.host, port: o.port, maxConnections: o.max ?? 100, lifetimeMs }), {
    lifetimeMs: lifetimeMs + 1000,
  });
  await p.waitForLine((l) => l === 'listening', 5000);
  return p;
}

/** A UDP echo server inside `ns`, bound when this resolves. */
export async function startUdpServer(ns: string, o: ServerOptions): Promise<NsProcess> {
  const lifetimeMs = o.lifetimeMs ?? 30_000;
  const p = spawnInNamespace(ns, nodeScript(UDP_SERVER, { host: o.host, port: o.port, maxDatagrams: o.max ?? 100, lifetimeMs }), {
    lifetimeMs: lifetimeMs + 1000,
  });
  await p.waitForLine((l) => l === 'listening', 5000);
  return p;
}

export interface TcpProbeResult {
  connected: boolean;
  /** The payload came back unchanged (the connection carried data both ways). */
  echoed: boolean;
  error?: string;
}

/** Connect from `ns` to host:port, send `payload`, wait for its echo; at most `timeoutMs`. */
export async function tcpProbe(ns: string, host: string, port: number, o: { timeoutMs?: number; payload?: string } = {}): Promise<TcpProbeResult> {
  const timeoutMs = o.timeoutMs ?? 3000;
  const p = spawnInNamespace(ns, nodeScript(TCP_PROBE, { host, port, timeoutMs, payload: o.payload ?? 'nfqwall-probe' }), {
    lifetimeMs: timeoutMs + 2000,
  });
  const line = await p.waitForLine((l) => l.startsWith('{'), timeoutMs + 1500);
  await p.exited;
  return JSON.parse(line) as TcpProbeResult;
}

/** Send `payload` from `ns` to host:port up to `attempts` times until it is echoed. */
export async function udpProbe(
  ns: string,
  host: string,
  port: number,
  o: { timeoutMs?: number; attempts?: number; payload?: string } = {},
): Promise<{ echoed: boolean; tries: number }> {
  const timeoutMs = o.timeoutMs ?? 2000;
  const p = spawnInNamespace(ns, nodeScript(UDP_PROBE, { host, port, timeoutMs, attempts: o.attempts ?? 4, payload: o.payload ?? 'nfqwall-probe' }), {
    lifetimeMs: timeoutMs + 2000,
  });
  const line = await p.waitForLine((l) => l.startsWith('{'), timeoutMs + 1500);
  await p.exited;
  return JSON.parse(line) as { echoed: boolean; tries: number };
}

/** The kernel's counters of the queues bound inside `ns`. */
export async function readQueueStatsIn(ns: string): Promise<KernelQueueStats[]> {
  const r = await runInNamespace(ns, ['cat', NFQUEUE_PROC_PATH]);
  if (r.code !== 0) throw new Error(`reading ${NFQUEUE_PROC_PATH} in ${ns}: ${r.stderr}`);
  return parseQueueStats(r.stdout);
}

export interface RuleCounter {
  chain: string;
  /** The rule as iptables-save prints it after `-A CHAIN `. */
  rule: string;
  packets: number;
  bytes: number;
}

/** Per-rule packet counters of one iptables-nft table inside `ns` (`iptables-nft-save -c`). */
export async function iptablesCounters(ns: string, table: string, ipv6 = false): Promise<RuleCounter[]> {
  const r = await runInNamespace(ns, [ipv6 ? 'ip6tables-nft-save' : 'iptables-nft-save', '-c', '-t', table]);
  if (r.code !== 0) throw new Error(`iptables-nft-save in ${ns}: ${r.stderr}`);
  const out: RuleCounter[] = [];
  for (const line of r.stdout.split('\n')) {
    const m = /^\[(\d+):(\d+)\] -A (\S+) (.*)$/.exec(line);
    if (m) out.push({ packets: Number(m[1]), bytes: Number(m[2]), chain: m[3] as string, rule: m[4] as string });
  }
  return out;
}
