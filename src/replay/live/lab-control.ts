/**
 * What the live replay changes in a lab, and undoes: quiet hosts, a silent router with an NFLOG
 * tap after the firewall, and agents (agent.ts) inside the namespaces.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { NfqwallError } from '../../errors';
import { runChecked, runCommand } from '../../lab/run';
import { ROUTER_INTERFACES, type LabNames } from '../../lab/topology';

/** nft table the live replay installs in the lab's namespaces (and removes). */
export const LIVE_TABLE = 'nfqwall_live';
/** NFLOG group of the router's tap on packets that got through its input hook. */
export const LIVE_NFLOG_GROUP = 7407;

const ND_TYPES = '{ nd-router-solicit, nd-router-advert, nd-neighbor-solicit, nd-neighbor-advert }';

/**
 * App / maintenance host: drop everything that arrives from the router, before conntrack, except
 * neighbour discovery (IPv6 must still resolve; ARP is not in the inet family). libpcap sees the
 * packets before netfilter, so delivery is still observed, but the host's kernel never answers an
 * injected packet with a RST or an ICMP error that would change the router's conntrack state.
 */
export function quietHostRuleset(): string {
  return [
    `table inet ${LIVE_TABLE} {`,
    '  chain input {',
    '    type filter hook input priority -500; policy accept;',
    `    icmpv6 type ${ND_TYPES} accept`,
    '    iifname "eth0" drop',
    '  }',
    '}',
    '',
  ].join('\n');
}

/**
 * Router: (1) the router's own packets are dropped before conntrack and before nfqwall (raw is
 * -300), again except neighbour discovery: its answers to injected packets (RST, echo reply, port
 * unreachable) would change its conntrack state, and the router's side of a conversation is not
 * replayed anyway. (2) Packets that came in on the lab's two networks and got through the whole
 * input hook (nfqwall's filter chain is priority 0) are copied to NFLOG, where an agent captures
 * them: that is how the fate of a packet addressed to the router is seen. queue-threshold 1: send
 * each record at once (otherwise it may wait for the group's 1 s flush timer).
 */
export function routerRuleset(): string {
  const { application: a, maintenance: m } = ROUTER_INTERFACES;
  return [
    `table inet ${LIVE_TABLE} {`,
    '  chain silence {',
    '    type filter hook output priority -400; policy accept;',
    '    oifname "lo" accept',
    `    icmpv6 type ${ND_TYPES} accept`,
    '    drop',
    '  }',
    '  chain delivered {',
    '    type filter hook input priority 1000; policy accept;',
    `    iifname { "${a}", "${m}" } log group ${LIVE_NFLOG_GROUP} queue-threshold 1`,
    '  }',
    '}',
    '',
  ].join('\n');
}

function inNs(ns: string, ...argv: string[]): string[] {
  return ['ip', 'netns', 'exec', ns, ...argv];
}

async function installTable(ns: string, ruleset: string): Promise<void> {
  await removeTable(ns);
  await runChecked(inNs(ns, 'nft', '-f', '-'), { input: ruleset });
}

/** Remove the live table from `ns`; absent is fine. */
export async function removeTable(ns: string): Promise<void> {
  await runCommand(inNs(ns, 'nft', 'delete', 'table', 'inet', LIVE_TABLE));
}

export async function installLiveRules(names: LabNames): Promise<void> {
  await installTable(names.app, quietHostRuleset());
  await installTable(names.maint, quietHostRuleset());
  await installTable(names.router, routerRuleset());
}

export async function removeLiveRules(names: LabNames): Promise<void> {
  for (const ns of [names.app, names.maint, names.router]) await removeTable(ns);
}

/**
 * Forget the router's conntrack entries, so the live run starts from an empty table as the
 * offline replay does (a second run would otherwise meet the first run's flows).
 */
export async function flushRouterConntrack(names: LabNames): Promise<void> {
  const r = await runCommand(inNs(names.router, 'conntrack', '-F'));
  // conntrack -F prints "0 flow entries have been deleted" and may exit 1 on an empty table in old versions.
  if (r.code !== 0 && !/flow entries/.test(r.stderr + r.stdout)) throw new NfqwallError('NFQ_LAB_COMMAND_FAILED', `conntrack -F in ${names.router}: ${r.stderr.trim()}`);
}

/** MAC address of `dev` in `ns`. */
export async function macOf(ns: string, dev: string): Promise<string> {
  const out = await runChecked(['ip', '-j', '-n', ns, 'link', 'show', 'dev', dev]);
  const links = JSON.parse(out) as Array<{ address?: string; mtu?: number }>;
  const mac = links[0]?.address;
  if (mac === undefined) throw new NfqwallError('NFQ_LAB_COMMAND_FAILED', `no MAC address for ${dev} in ${ns}`);
  return mac;
}

/** MTU of `dev` in `ns`. */
export async function mtuOf(ns: string, dev: string): Promise<number> {
  const out = await runChecked(['ip', '-j', '-n', ns, 'link', 'show', 'dev', dev]);
  return (JSON.parse(out) as Array<{ mtu?: number }>)[0]?.mtu ?? 1500;
}

/** One event from an agent. */
export interface AgentEvent {
  ev: 'ready' | 'sent' | 'packet' | 'error';
  id?: number;
  /** CLOCK_MONOTONIC nanoseconds. */
  t?: string;
  data?: string;
  linkType?: string;
  message?: string;
}

/** An agent (agent.ts) running in a namespace: send frames, receive captured ones. */
export class Agent {
  readonly errors: string[] = [];
  private readonly child: ChildProcess;
  private readonly exited: Promise<void>;
  private readonly listeners: Array<(e: AgentEvent) => void> = [];
  private stderr = '';

  constructor(
    readonly ns: string,
    device: string,
    filter: string,
    lifetimeMs: number,
  ) {
    const script = join(__dirname, 'agent.js');
    this.child = spawn('ip', ['netns', 'exec', ns, process.execPath, script, JSON.stringify({ device, filter, lifetimeMs })], {
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    // A hard stop in case the agent ignores its own lifetime.
    const kill = setTimeout(() => this.child.kill('SIGKILL'), lifetimeMs + 5000);
    this.exited = new Promise((resolve) => this.child.once('close', () => resolve()));
    void this.exited.then(() => clearTimeout(kill));
    let partial = '';
    this.child.stdout!.setEncoding('utf8').on('data', (chunk: string) => {
      const lines = (partial + chunk).split('\n');
      partial = lines.pop() ?? '';
      for (const line of lines) {
        if (line === '') continue;
        let e: AgentEvent;
        try {
          e = JSON.parse(line) as AgentEvent;
        } catch {
          this.errors.push(`unexpected output: ${line.slice(0, 120)}`);
          continue;
        }
        if (e.ev === 'error') this.errors.push(e.message ?? 'error');
        for (const l of this.listeners) l(e);
      }
    });
    this.child.stderr!.setEncoding('utf8').on('data', (chunk: string) => {
      if (this.stderr.length < 4096) this.stderr += chunk;
    });
    this.child.stdin!.on('error', () => undefined);
  }

  on(listener: (e: AgentEvent) => void): void {
    this.listeners.push(listener);
  }

  /** Resolves once the capture is open; rejects after `timeoutMs` or when the agent fails. */
  ready(timeoutMs: number): Promise<string> {
    return new Promise((resolve, reject) => {
      const t = setTimeout(() => reject(new NfqwallError('NFQ_LAB_COMMAND_FAILED', `agent in ${this.ns} not ready within ${timeoutMs} ms ${this.stderr.trim()}`)), timeoutMs);
      this.on((e) => {
        if (e.ev === 'ready') {
          clearTimeout(t);
          resolve(e.linkType ?? '');
        } else if (e.ev === 'error') {
          clearTimeout(t);
          reject(new NfqwallError('NFQ_LAB_COMMAND_FAILED', `agent in ${this.ns}: ${e.message ?? ''}`));
        }
      });
      void this.exited.then(() => {
        clearTimeout(t);
        reject(new NfqwallError('NFQ_LAB_COMMAND_FAILED', `agent in ${this.ns} exited: ${this.stderr.trim()}`));
      });
    });
  }

  send(id: number, frame: Buffer): void {
    this.child.stdin!.write(`${JSON.stringify({ op: 'send', id, frame: frame.toString('base64') })}\n`);
  }

  async stop(): Promise<void> {
    if (this.child.exitCode === null && this.child.signalCode === null) {
      this.child.stdin!.end(`${JSON.stringify({ op: 'quit' })}\n`);
      const t = setTimeout(() => this.child.kill('SIGKILL'), 2000);
      await this.exited;
      clearTimeout(t);
    }
  }
}
