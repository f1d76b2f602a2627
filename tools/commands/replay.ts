/**
 * `nfqwall replay --config DIR --host HOST.yaml FILE... [--expect EXPECT.yaml] [--json]
 *  [--write-denied OUT.pcap] [--write-allowed OUT.pcap] [--iface MAP]`
 *
 * Judges the packets of one or more captures (pcap / pcapng, replayed in order as one stream)
 * offline, as the daemon would have judged them (docs/replay.md). Prints a per-flow table and a
 * summary line, or with --json one JSON line per packet (then one per flow, per expectation, and a
 * summary line).
 *
 * Exit codes: 0 all good; 1 an --expect expectation is not met; 2 usage error, unusable config /
 * host model / expect file / --iface map, or a capture that could not be read completely (missing,
 * not a capture, truncated, corrupt: the packets before the problem are still replayed and shown).
 *
 * With --live (and --lab NAME or --lab-up) the packets are also sent through the lab router and
 * each live fate is compared with the offline verdict (src/replay/live): exit 1 when any differs.
 */
import { readFileSync } from 'node:fs';
import type { Command } from 'commander';
import type { ExitCodeSink } from '../cli';
import { EXIT_OK, EXIT_PROBLEMS, EXIT_USAGE } from '../exit-codes';
import type { CommandModule } from './index';
import { DEFAULT_CONNTRACK_TIMEOUTS, type ConntrackTimeouts } from '../../src/conntrack';
import { compilePolicy } from '../../src/engine';
import { EtherType } from '../../src/packet';
import { CaptureReader, LINKTYPE, PcapWriter, isRawIpLinkType, linkTypeName } from '../../src/pcap';
import {
  DEFAULT_REPLAY_CONNTRACK_MAX,
  ExpectationChecker,
  ReplayEngine,
  flowJson,
  formatExpectationReport,
  formatFlowTable,
  formatSummary,
  isDropVerdict,
  packetJson,
  parseExpectations,
  parseInterfaceMap,
  type Expectation,
  type PacketResult,
} from '../../src/replay';
import { createLab, formatLiveSummary, formatLiveTable, labMtu, liveJson, planLive, runLive, useLab, type LiveLab } from '../../src/replay/live';
import type { HostModel } from '../../src/engine';
import type { ReplayEngineOptions } from '../../src/replay';
import { loadHostFile, loadPolicyDir } from '../inputs';

export interface ReplayCommandOptions {
  config: string;
  host: string;
  files: string[];
  expect?: string;
  json?: boolean;
  writeDenied?: string;
  writeAllowed?: string;
  iface?: string[];
  conntrackMax?: number;
  conntrackTimeout?: string[];
  /** Send the packets through the lab router too and compare (needs lab or labUp). */
  live?: boolean;
  lab?: string;
  labUp?: boolean;
  /** --live: ms to wait for each packet to come out (default 250). */
  liveWait?: number;
}

/** Where output goes (stdout / stderr for the command; anything for tests and the benchmark). */
export interface ReplayOutput {
  out(text: string): void;
  err(text: string): void;
}

const STDIO: ReplayOutput = {
  out: (t) => void process.stdout.write(t),
  err: (t) => void process.stderr.write(t),
};

/** Collects small writes into large ones (one JSON line per packet would otherwise be a syscall each). */
class Buffered {
  private parts: string[] = [];
  private size = 0;
  constructor(private readonly sink: (t: string) => void) {}
  write(t: string): void {
    this.parts.push(t);
    this.size += t.length;
    if (this.size >= 1 << 16) this.flush();
  }
  flush(): void {
    if (this.parts.length === 0) return;
    this.sink(this.parts.join(''));
    this.parts = [];
    this.size = 0;
  }
}

/** `name=seconds` conntrack timeout overrides. */
function parseTimeouts(specs: readonly string[]): { timeouts: Partial<ConntrackTimeouts>; errors: string[] } {
  const timeouts: Partial<ConntrackTimeouts> = {};
  const errors: string[] = [];
  for (const spec of specs) {
    for (const item of spec.split(',')) {
      if (item.trim() === '') continue;
      const m = /^\s*([a-z0-9_]+)\s*=\s*(\d+(?:\.\d+)?)\s*$/.exec(item);
      if (!m) {
        errors.push(`--conntrack-timeout ${item}: expected NAME=SECONDS, e.g. nf_conntrack_udp_timeout=60`);
        continue;
      }
      const name = m[1]!;
      if (!Object.prototype.hasOwnProperty.call(DEFAULT_CONNTRACK_TIMEOUTS, name)) {
        errors.push(`--conntrack-timeout ${item}: unknown timeout; one of ${Object.keys(DEFAULT_CONNTRACK_TIMEOUTS).join(', ')}`);
        continue;
      }
      timeouts[name as keyof ConntrackTimeouts] = Number(m[2]);
    }
  }
  return { timeouts, errors };
}

/** What the output files need to know about the inputs before the replay starts. */
interface InputShape {
  linkTypes: Set<number>;
  nano: boolean;
}

/**
 * Link types and timestamp precision of every input. Classic pcap declares them in its header;
 * pcapng interfaces may be described anywhere in the file, so a pcapng input is read through once.
 */
function scanInputs(files: readonly string[]): InputShape {
  const shape: InputShape = { linkTypes: new Set(), nano: false };
  for (const file of files) {
    const reader = CaptureReader.openFile(file);
    try {
      let first = true;
      for (const rec of reader) {
        if (first && reader.format === 'pcap') break;
        first = false;
        shape.linkTypes.add(rec.linkType);
        const ifc = reader.interfaces[rec.interfaceIndex];
        if (ifc && ifc.unitsPerSecond > 1_000_000n) shape.nano = true;
      }
      const h = reader.header;
      if (h) {
        shape.linkTypes.add(h.linkType);
        if (h.precision === 'nano') shape.nano = true;
      }
    } finally {
      reader.close();
    }
  }
  return shape;
}

/** A --write-denied / --write-allowed file. */
class CaptureOutput {
  written = 0;
  /** Packets that have no IP header to write into a raw-IP file (not-ip frames, broken link headers). */
  skipped = 0;
  private readonly writer: PcapWriter;
  constructor(
    readonly path: string,
    readonly linkType: number,
    private readonly raw: boolean,
    nano: boolean,
  ) {
    this.writer = PcapWriter.toFile(path, { linkType, precision: nano ? 'nano' : 'micro' });
  }

  write(r: PacketResult): void {
    const rec = r.record;
    if (!this.raw) {
      this.writer.write(rec.timestampNs, rec.data, rec.originalLength);
      this.written++;
      return;
    }
    // Mixed link types: write the IP packet alone (raw IP), when the link layer got that far.
    const v = r.view;
    const ipLinked = isRawIpLinkType(rec.linkType) || v.etherType === EtherType.IPV4 || v.etherType === EtherType.IPV6;
    if (r.verdict === 'not-ip' || !ipLinked || v.l3Offset >= rec.data.length) {
      this.skipped++;
      return;
    }
    this.writer.write(rec.timestampNs, rec.data.subarray(v.l3Offset), rec.originalLength - v.l3Offset);
    this.written++;
  }

  close(): void {
    this.writer.close();
  }

  describe(): string {
    const skipped = this.skipped > 0 ? `; ${this.skipped} without an IP header not written` : '';
    return `wrote ${this.written} packets to ${this.path} (pcap, link type ${linkTypeName(this.linkType)})${skipped}`;
  }
}

/** Run a replay; returns the exit code. Everything printed goes through `io`. */
export async function runReplay(opts: ReplayCommandOptions, io: ReplayOutput = STDIO): Promise<number> {
  const fail = (msg: string): number => {
    io.err(`nfqwall replay: ${msg}\n`);
    return EXIT_USAGE;
  };
  if (opts.files.length === 0) return fail('no capture files given');
  const resources = await loadPolicyDir(opts.config);
  const host = loadHostFile(opts.host);
  if (!resources || !host) return EXIT_USAGE;

  const ifaces = parseInterfaceMap(opts.iface ?? [], host);
  const ct = parseTimeouts(opts.conntrackTimeout ?? []);
  const usage = [...ifaces.errors, ...ct.errors];
  const conntrackMax = opts.conntrackMax ?? DEFAULT_REPLAY_CONNTRACK_MAX;
  if (!Number.isInteger(conntrackMax) || conntrackMax < 1) usage.push(`--conntrack-max must be a positive whole number, got ${String(opts.conntrackMax)}`);
  if (opts.live === true) usage.push(...liveUsage(opts));
  else if (opts.lab !== undefined || opts.labUp === true || opts.liveWait !== undefined) usage.push('--lab, --lab-up and --live-wait need --live');
  if (usage.length > 0) {
    for (const u of usage) io.err(`nfqwall replay: ${u}\n`);
    return EXIT_USAGE;
  }
  if (opts.live === true) {
    const engineOptions: ReplayEngineOptions = { interfaceMap: ifaces.map, timeouts: ct.timeouts, conntrackMax };
    return runLiveReplay(opts, compilePolicy(resources, host), host, engineOptions, io);
  }

  let expectations: Expectation[] = [];
  if (opts.expect !== undefined) {
    let text: string;
    try {
      text = readFileSync(opts.expect, 'utf8');
    } catch (err) {
      return fail(`cannot read ${opts.expect}: ${(err as Error).message}`);
    }
    const parsed = parseExpectations(text, opts.expect);
    if (parsed.errors.length > 0) {
      for (const e of parsed.errors) io.err(`${e}\n`);
      return EXIT_USAGE;
    }
    expectations = parsed.expectations;
  }

  const outputs: { denied: CaptureOutput | null; allowed: CaptureOutput | null } = { denied: null, allowed: null };
  if (opts.writeDenied !== undefined || opts.writeAllowed !== undefined) {
    const shape = scanInputs(opts.files);
    const single = shape.linkTypes.size === 1 ? [...shape.linkTypes][0]! : -1;
    const linkType = single >= 0 ? single : LINKTYPE.RAW;
    try {
      if (opts.writeDenied !== undefined) outputs.denied = new CaptureOutput(opts.writeDenied, linkType, single < 0, shape.nano);
      if (opts.writeAllowed !== undefined) outputs.allowed = new CaptureOutput(opts.writeAllowed, linkType, single < 0, shape.nano);
    } catch (err) {
      outputs.denied?.close();
      return fail((err as Error).message);
    }
  }

  const policy = compilePolicy(resources, host);
  const engine = new ReplayEngine(policy, host, {
    interfaceMap: ifaces.map,
    timeouts: ct.timeouts,
    conntrackMax,
    explain: opts.json === true,
  });
  const checker = expectations.length > 0 ? new ExpectationChecker(expectations) : null;
  const out = new Buffered(io.out);
  const json = opts.json === true;
  const { denied, allowed } = outputs;
  let inputErrors = 0;
  let startMs = NaN;

  try {
    for (let i = 0; i < opts.files.length; i++) {
      const file = opts.files[i]!;
      const reader = CaptureReader.openFile(file);
      for (const rec of reader) {
        if (startMs !== startMs && rec.hasTimestamp) startMs = rec.timestampMs;
        const r = engine.process(rec, i);
        if (checker !== null) checker.packet(r);
        if (denied !== null && isDropVerdict(r.verdict)) denied.write(r);
        else if (allowed !== null && !isDropVerdict(r.verdict)) allowed.write(r);
        if (json) out.write(`${JSON.stringify(packetJson(r, file))}\n`);
      }
      const status = reader.status;
      if (status.state === 'error') {
        inputErrors++;
        const after = status.records > 0 ? ` (the ${status.records} packets before it were replayed)` : '';
        out.flush();
        io.err(`nfqwall replay: ${file}: ${status.error.message}${after}\n`);
      }
    }
  } finally {
    denied?.close();
    allowed?.close();
  }

  const flows = engine.finish();
  const results = checker !== null ? checker.finish(flows) : [];
  const stats = engine.stats;
  for (const [lt, n] of Object.entries(stats.unsupportedLinkTypes)) {
    io.err(`nfqwall replay: warning: ${n} packets have link type ${lt}, which the parser does not support: they got parse-error verdicts\n`);
  }
  if (json) {
    for (const f of flows) out.write(`${JSON.stringify({ flow: flowJson(f, opts.files[f.firstInput] ?? '') })}\n`);
    for (const r of results) {
      const e = r.expectation;
      out.write(`${JSON.stringify({ expectation: { file: e.file, line: e.line, name: e.name, match: e.matchText, expect: e.expect, flow: e.flow, count: e.count, met: r.met, matched: r.matched, wrong: r.wrong, samples: r.samples } })}\n`);
    }
    const written: Record<string, number> = {};
    if (denied) written[denied.path] = denied.written;
    if (allowed) written[allowed.path] = allowed.written;
    out.write(
      `${JSON.stringify({
        summary: {
          packets: stats.packets,
          allowed: stats.allowed,
          denied: stats.denied,
          parseErrors: stats.parseErrors,
          parseErrorsByStatus: stats.parseErrorsByStatus,
          notIp: stats.notIp,
          noRoute: stats.noRoute,
          flows: flows.length,
          inputErrors,
          expectationsMet: results.filter((r) => r.met).length,
          expectationsNotMet: results.filter((r) => !r.met).length,
          written,
        },
      })}\n`,
    );
  } else {
    if (flows.length > 0) out.write(formatFlowTable(flows, startMs === startMs ? startMs : 0));
    out.write(formatSummary(stats, flows, opts.files.length));
    if (denied) out.write(`${denied.describe()}\n`);
    if (allowed) out.write(`${allowed.describe()}\n`);
    if (results.length > 0) out.write(formatExpectationReport(results));
  }
  out.flush();
  if (inputErrors > 0) return EXIT_USAGE;
  if (results.some((r) => !r.met)) return EXIT_PROBLEMS;
  return EXIT_OK;
}

function liveUsage(opts: ReplayCommandOptions): string[] {
  const problems: string[] = [];
  if ((opts.lab !== undefined) === (opts.labUp === true)) problems.push('--live needs exactly one of --lab NAME (a running lab) and --lab-up');
  if (opts.expect !== undefined || opts.writeDenied !== undefined || opts.writeAllowed !== undefined) problems.push('--live does not combine with --expect, --write-denied or --write-allowed');
  if (opts.liveWait !== undefined && !(Number.isInteger(opts.liveWait) && opts.liveWait > 0)) problems.push(`--live-wait must be a positive whole number of milliseconds, got ${String(opts.liveWait)}`);
  if (typeof process.getuid === 'function' && process.getuid() !== 0) problems.push('--live needs root (it works in the lab\'s network namespaces)');
  return problems;
}

/**
 * --live: plan with the offline replay, send the packets through the lab router, report per packet
 * and `N packets compared, M differ`. Exit 1 when any differs, 2 when the lab or an input failed.
 */
async function runLiveReplay(opts: ReplayCommandOptions, policy: ReturnType<typeof compilePolicy>, host: HostModel, engineOptions: ReplayEngineOptions, io: ReplayOutput): Promise<number> {
  const log = (line: string): void => io.err(`nfqwall replay: ${line}\n`);
  let lab: LiveLab | null = null;
  try {
    lab = opts.labUp === true ? await createLab({ config: opts.config, lifetimeMs: 30 * 60_000, log }) : await useLab(opts.lab!);
    const plan = planLive(opts.files, policy, host, engineOptions, await labMtu(lab.prefix));
    for (const e of plan.inputErrors) log(e);
    const result = await runLive(lab.prefix, plan, { log, ...(opts.liveWait !== undefined ? { waitMs: opts.liveWait } : {}) });
    if (opts.json === true) {
      const lines = plan.packets.map((p) => `${JSON.stringify({ live: liveJson(p) })}\n`);
      lines.push(`${JSON.stringify({ liveSummary: { lab: lab.prefix, ...result, packets: plan.packets.length } })}\n`);
      io.out(lines.join(''));
    } else io.out(`live replay in lab ${lab.prefix}\n${formatLiveTable(plan.packets)}${formatLiveSummary(plan.packets, result)}`);
    if (plan.inputErrors.length > 0 || result.errors > 0) return EXIT_USAGE;
    return result.differ > 0 ? EXIT_PROBLEMS : EXIT_OK;
  } catch (err) {
    log(`live replay failed: ${(err as Error).message}`);
    return EXIT_USAGE;
  } finally {
    await lab?.close();
  }
}

function collect(value: string, previous: string[] | undefined): string[] {
  return [...(previous ?? []), value];
}

function positiveInt(value: string): number {
  return /^\d+$/.test(value) ? Number(value) : NaN;
}

export const replayCommand: CommandModule = {
  register(program: Command, setExit: ExitCodeSink): void {
    program
      .command('replay')
      .description('judge the packets of pcap/pcapng captures offline, exactly as the firewall would (per-flow table, or JSON per packet)')
      .argument('<files...>', 'capture files (pcap or pcapng), replayed in order as one stream')
      .requiredOption('--config <dir>', 'directory of Calico resources')
      .requiredOption('--host <file>', 'host model YAML (interfaces, addresses, routes)')
      .option('--expect <file>', 'YAML list of expectations; exit 1 with a diff when one is not met')
      .option('--json', 'one JSON line per packet with its verdict and explanation')
      .option('--write-denied <file>', 'write the dropped packets (deny, parse-error, no-route) to a pcap file')
      .option('--write-allowed <file>', 'write the passed packets (allow, not-ip) to a pcap file')
      .option('--iface <map>', 'capture interface (index or name) = host interface, e.g. 0=eth2,wan=eth0; repeatable', collect)
      .option('--conntrack-max <n>', `flow table size (default ${DEFAULT_REPLAY_CONNTRACK_MAX})`, positiveInt)
      .option('--conntrack-timeout <name=seconds>', 'conntrack timeout override by sysctl name, e.g. nf_conntrack_udp_timeout=60; repeatable', collect)
      .option('--live', 'also send the packets through the lab router and compare live fates with the offline verdicts (root)')
      .option('--lab <name>', '--live: a lab that is up, with nfqwall running on its router')
      .option('--lab-up', '--live: create a lab, start nfqwall on its router with --config, remove both at the end')
      .option('--live-wait <ms>', '--live: how long each packet may take to come out (default 250)', positiveInt)
      .addHelpText('after', '\nExit codes: 0 ok, 1 an expectation is not met (--live: a live fate differs), 2 bad usage or input (including a capture that could not be read completely).\nSee docs/replay.md.')
      .action(async (files: string[], o: Omit<ReplayCommandOptions, 'files'>) => {
        setExit(await runReplay({ ...o, files }));
      });
  },
};
