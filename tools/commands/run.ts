/**
 * `nfqwall run --config DIR [--node NAME]` — enforce a policy directory on this host.
 * Settings come from a YAML file (--settings, default /etc/nfqwall/nfqwall.yaml when present),
 * then command-line overrides. Signals: SIGHUP reloads, SIGTERM/SIGINT stop cleanly.
 */
import { existsSync, readFileSync, statSync } from 'node:fs';
import type { Command } from 'commander';
import type { ExitCodeSink } from '../cli';
import { EXIT_FATAL, EXIT_OK, EXIT_PROBLEMS, EXIT_USAGE } from '../exit-codes';
import { parseYamlDocuments } from '../../src/config';
import { formatIssue, NfqwallError } from '../../src/errors';
import { Daemon } from '../../src/daemon/daemon';
import { applySettingsDocument, defaultSettings, type DaemonSettings } from '../../src/daemon/settings';
import { markLayout } from '../../src/dataplane/marks';
import { parseDatastoreSpec } from '../../src/datastore';
import { unsafeReason } from '../../src/config/file-safety';
import { parseListenAddress } from '../../src/observe/metrics';

export const DEFAULT_SETTINGS_FILE = '/etc/nfqwall/nfqwall.yaml';

interface RunOptions {
  config?: string;
  node?: string;
  settings?: string;
  mode?: string;
  failMode?: string;
  backend?: string;
  queueBase?: string;
  flowTableSize?: string;
  logFormat?: string;
  logLevel?: string;
  logFlows?: boolean;
  keepExistingFlows?: boolean;
  unmanagedVerdict?: string;
  markMask?: string;
  socketBuffer?: string;
  errorVerdict?: string;
  datastore?: string;
  controlSocket?: string;
  metricsListen?: string;
  logDenies?: string;
}

/** Settings file + overrides. Returns null after printing problems. */
export function resolveSettings(opts: RunOptions): DaemonSettings | null {
  // An option given empty is a usage error, not "use the default" (the checks below test truthiness).
  const empty = Object.entries(opts).filter(([, v]) => v === '');
  if (empty.length > 0) {
    for (const [k] of empty) process.stderr.write(`nfqwall: --${k.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)} must not be empty\n`);
    return null;
  }
  if (opts.queueBase !== undefined && !/^\d+$/.test(opts.queueBase)) {
    process.stderr.write(`nfqwall: --queue-base must be a queue number, got '${opts.queueBase}'\n`);
    return null;
  }
  let s = defaultSettings(Daemon.defaultNode());
  let errorVerdictSet = false;
  const file = opts.settings ?? (existsSync(DEFAULT_SETTINGS_FILE) ? DEFAULT_SETTINGS_FILE : undefined);
  if (file) {
    let text: string;
    try {
      const st = statSync(file);
      // Settings decide queues, fail mode and where the policy comes from: others must not write them.
      const unsafe = st.isFile() ? unsafeReason(st, process.geteuid?.() ?? 0) : null;
      if (unsafe !== null) {
        process.stderr.write(`nfqwall: refusing settings ${file}: ${unsafe}\n`);
        return null;
      }
      text = readFileSync(file, 'utf8');
    } catch (err) {
      process.stderr.write(`nfqwall: cannot read settings ${file}: ${(err as Error).message}\n`);
      return null;
    }
    const parsed = parseYamlDocuments(text, file);
    const doc = parsed.documents[0];
    const issues = [...parsed.issues];
    if (doc) {
      const r = applySettingsDocument(s, doc.value, (p) => doc.locate(p));
      issues.push(...r.issues);
      s = r.settings;
      errorVerdictSet = typeof doc.value === 'object' && doc.value !== null && 'errorVerdict' in doc.value;
    }
    if (issues.some((i) => i.severity === 'error')) {
      for (const i of issues) process.stderr.write(`${formatIssue(i)}\n`);
      return null;
    }
  }
  const overrides: Record<string, unknown> = {};
  if (opts.config) overrides.policyDir = opts.config;
  if (opts.datastore) overrides.datastore = opts.datastore;
  if (opts.controlSocket) overrides.controlSocket = opts.controlSocket;
  if (opts.metricsListen) overrides.metricsListen = opts.metricsListen;
  if (opts.node) overrides.node = opts.node;
  if (opts.mode) overrides.mode = opts.mode;
  if (opts.failMode) overrides.failMode = opts.failMode;
  if (opts.backend) overrides.backend = opts.backend;
  if (opts.unmanagedVerdict) overrides.unmanagedVerdict = opts.unmanagedVerdict;
  if (opts.markMask) overrides.markMask = opts.markMask;
  if (opts.flowTableSize) overrides.flowTableSize = Number(opts.flowTableSize);
  if (opts.keepExistingFlows) overrides.existingFlowsOnReload = 'keep';
  if (opts.socketBuffer !== undefined) overrides.socketBufferBytes = Number(opts.socketBuffer);
  if (opts.errorVerdict) {
    overrides.errorVerdict = opts.errorVerdict;
    errorVerdictSet = true;
  }
  const log: Record<string, unknown> = {};
  if (opts.logFormat) log.format = opts.logFormat;
  if (opts.logLevel) log.level = opts.logLevel;
  if (opts.logFlows) log.flows = true;
  if (opts.logDenies) log.denies = opts.logDenies;
  if (Object.keys(log).length) overrides.log = log;
  if (opts.queueBase !== undefined) {
    const base = Number(opts.queueBase);
    overrides.queues = Object.fromEntries(Object.keys(s.queues).map((k, i) => [k, base + i]));
  }
  const r = applySettingsDocument(s, overrides, (p) => ({ file: '<command line>', line: 0, path: p.join('.') }));
  if (r.issues.length > 0) {
    for (const i of r.issues) process.stderr.write(`nfqwall: --${String(i.location.path)}: ${i.message}\n`);
    return null;
  }
  try {
    // The daemon would refuse the mask only after reading the host; refuse it here, touching nothing.
    markLayout(r.settings.markMask);
  } catch (err) {
    process.stderr.write(`nfqwall: markMask: ${(err as Error).message}\n`);
    return null;
  }
  if (r.settings.metricsListen !== '' && parseListenAddress(r.settings.metricsListen) === null) {
    process.stderr.write(`nfqwall: metricsListen: "${r.settings.metricsListen}" is not HOST:PORT or PORT (e.g. 127.0.0.1:9743)\n`);
    return null;
  }
  if (r.settings.datastore !== '') {
    try {
      parseDatastoreSpec(r.settings.datastore);
    } catch (err) {
      process.stderr.write(`nfqwall: datastore: ${(err as Error).message}\n`);
      return null;
    }
  }
  // Unless chosen explicitly, a packet whose handling failed gets what a missing daemon would give.
  if (!errorVerdictSet) r.settings.errorVerdict = r.settings.failMode === 'open' ? 'accept' : 'drop';
  return r.settings;
}

/**
 * Run the daemon until SIGTERM/SIGINT; resolves to the exit code. Signals are handled from the
 * start: a SIGHUP during start-up reloads once started, a SIGTERM during start-up stops right after
 * (never half-way through installing rules). A second SIGTERM/SIGINT while stopping exits at once.
 */
export async function runDaemon(settings: DaemonSettings): Promise<number> {
  const daemon = new Daemon(settings);
  let started = false;
  let hupWhileStarting = false;
  let stopSignal: NodeJS.Signals | null = null;
  let wake: (() => void) | null = null;
  const onHup = () => {
    if (stopSignal) return;
    if (started) void daemon.requestReload();
    else hupWhileStarting = true;
  };
  const onStop = (signal: NodeJS.Signals) => {
    if (stopSignal) {
      daemon.log.warn({ signal }, 'second stop signal: exiting without cleaning up');
      void daemon.flushLog().then(() => process.exit(EXIT_FATAL));
      return;
    }
    stopSignal = signal;
    wake?.();
  };
  process.on('SIGHUP', onHup);
  process.on('SIGTERM', onStop);
  process.on('SIGINT', onStop);
  try {
    await daemon.start();
  } catch (err) {
    const code = err instanceof NfqwallError ? err.code : 'NFQ_DAEMON_START';
    daemon.log.fatal({ code, err: String((err as Error).message ?? err) }, 'nfqwall could not start');
    await daemon.stop().catch(() => undefined);
    await daemon.flushLog();
    return code === 'NFQ_DAEMON_CONFIG_INVALID' ? EXIT_PROBLEMS : EXIT_FATAL;
  }
  started = true;
  if (hupWhileStarting && !stopSignal) void daemon.requestReload();
  if (!stopSignal) await new Promise<void>((resolve) => (wake = resolve));
  daemon.log.info({ signal: stopSignal }, 'stopping');
  await daemon.stop();
  await daemon.flushLog();
  return EXIT_OK;
}

export function register(program: Command, setExit: ExitCodeSink): void {
  program
    .command('run')
    .description('enforce a policy directory on this host (nftables steering + NFQUEUE verdicts)')
    .option('--config <dir>', 'directory of Calico resources (default: settings policyDir, /etc/nfqwall/policy)')
    .option('--datastore <spec>', 'dir:PATH or etcd:URL[,URL...] (default: settings datastore, else the policy directory)')
    .option('--node <name>', 'Calico node name of this host (default: hostname)')
    .option('--settings <file>', `daemon settings YAML (default: ${DEFAULT_SETTINGS_FILE} when present)`)
    .option('--mode <mode>', 'flow (first packet of each flow) or packet (every packet in userspace)')
    .option('--fail-mode <mode>', 'open (traffic flows while nfqwall is down) or closed (it is dropped)')
    .option('--backend <name>', 'auto, nft or iptables')
    .option('--queue-base <n>', 'first of seven consecutive queue numbers (one per stage)')
    .option('--flow-table-size <n>', 'flow-table capacity')
    .option('--keep-existing-flows', 'on reload keep flows decided under the old policy (Calico-like)')
    .option('--unmanaged-verdict <v>', 'accept or drop where Calico renders no verdict')
    .option('--mark-mask <mask>', 'packet/ct mark bits nfqwall may use, e.g. 0x7fff0000')
    .option('--log-format <fmt>', 'json or pretty')
    .option('--log-level <level>', 'trace, debug, info, warn, error')
    .option('--log-flows', 'flow records: one when a flow is allowed, one when it ends (packets and bytes each way)')
    .option('--log-denies <mode>', 'denied-packet records: off, sampled (rate-limited per policy) or all')
    .option('--control-socket <path>', 'UNIX control socket (default: /run/nfqwall/control.sock)')
    .option('--metrics-listen <addr>', 'serve Prometheus metrics at HOST:PORT (PORT alone: 127.0.0.1); default off')
    .option('--socket-buffer <bytes>', 'netlink receive buffer per queue')
    .option('--error-verdict <v>', 'accept or drop a packet whose handling failed (default: follows --fail-mode)')
    .action(async (opts: RunOptions) => {
      const settings = resolveSettings(opts);
      if (!settings) return setExit(EXIT_USAGE);
      const code = await runDaemon(settings);
      // The nfqueue binding cannot release its sockets, which keep the event loop alive: exit here.
      process.exit(code);
    });
}
