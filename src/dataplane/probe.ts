/**
 * Which backend can steer packets in this network namespace? Asks the kernel, because only the
 * kernel knows: `nft -c` is no help (the check also goes through the kernel, and the parser alone
 * accepts `queue` whether or not the nft_queue expression exists).
 *
 * Each probe is one transaction that creates a throwaway chain holding a queue rule and deletes it
 * again, so on success nothing remains; on failure the kernel rejects the whole transaction. The
 * chains have no hook, so no packet ever meets the probe rule. (The iptables probe leaves an empty
 * `table ip filter` behind where none existed, which iptables-nft creates for any filter rule.)
 */
import { NfqwallError } from '../errors';
import { DataplaneCommandError, execRunner, type Backend, type CommandRunner } from './apply';
import { chainPrefix } from './render-iptables';

export interface ProbeResult {
  backend: Backend;
  /** Why this backend (and why not the other), for the start-up log. */
  detail: string;
}

export interface ProbeOptions {
  run?: CommandRunner;
  /** `--backend`: use this one without probing. */
  override?: Backend;
  /** nfqwall's table name; the probe objects are named after it. Default "nfqwall". */
  table?: string;
}

/** The highest queue number; probe rules never see a packet, the number only has to be valid. */
const PROBE_QUEUE = 65535;

export async function probeBackend(options: ProbeOptions = {}): Promise<ProbeResult> {
  if (options.override) return { backend: options.override, detail: `${options.override} chosen by --backend` };
  const run = options.run ?? execRunner;
  const table = options.table ?? 'nfqwall';

  const nft = await attempt(() => run('nft', ['-f', '-'], nftProbeScript(table)));
  if (nft === null) return { backend: 'nft', detail: 'native nft queue expression available' };

  const ipt = await attempt(() => run('iptables-nft-restore', ['--noflush'], iptablesProbeScript(table)));
  if (ipt === null) return { backend: 'iptables', detail: `native nft queue unavailable (${nft}); iptables-nft NFQUEUE works` };

  throw new NfqwallError(
    'NFQ_DATAPLANE_NO_BACKEND',
    `no way to steer packets to a queue here: nft queue: ${nft}; iptables-nft NFQUEUE: ${ipt} ` +
      '(needs root and nft_queue, or iptables-nft with xt_NFQUEUE)',
  );
}

export function nftProbeScript(table: string): string {
  const t = `${table}_probe`;
  return [`table inet ${t} {}`, `delete table inet ${t}`, `table inet ${t} {`, '\tchain probe {', `\t\tqueue flags bypass to ${PROBE_QUEUE}`, '\t}', '}', `delete table inet ${t}`, ''].join('\n');
}

export function iptablesProbeScript(table: string): string {
  const c = `${chainPrefix(table)}PROBE`;
  return ['*filter', `:${c} - [0:0]`, `-A ${c} -j NFQUEUE --queue-num ${PROBE_QUEUE} --queue-bypass`, `-F ${c}`, `-X ${c}`, 'COMMIT', ''].join('\n');
}

/** null on success, else a one-line reason. */
async function attempt(action: () => Promise<unknown>): Promise<string | null> {
  try {
    await action();
    return null;
  } catch (err) {
    if (err instanceof DataplaneCommandError) {
      if (err.missing) return 'program not installed';
      const line = err.stderr.split('\n').find((l) => /error|fail|denied|not permitted|unknown/i.test(l)) ?? err.message;
      return line.trim();
    }
    throw err;
  }
}
