/**
 * The lab a live replay runs in: an existing one (`--lab NAME`, nfqwall already running on its
 * router) or a throw-away one (`--lab-up`: random name, the daemon started with `--config`, both
 * removed at the end whatever happens).
 */
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { NfqwallError } from '../../errors';
import { labDown, labStatus, labUp } from '../../lab/lab';
import { spawnInNamespace, type NsProcess } from '../../lab/process';
import { labNames } from '../../lab/topology';

export interface LiveLab {
  prefix: string;
  /** True when this session created the lab (and the daemon). */
  owned: boolean;
  /** Remove what the session created; idempotent. */
  close(): Promise<void>;
}

/** The nfqwall entry point of this checkout (dist/src/replay/live -> bin/nfqwall). */
const NFQWALL_BIN = join(__dirname, '..', '..', '..', '..', 'bin', 'nfqwall');

/** An existing lab: every namespace present and nfqwall's rules and queues in the router. */
export async function useLab(prefix: string): Promise<LiveLab> {
  const s = await labStatus(prefix);
  if (!s.up) throw new NfqwallError('NFQ_LAB_COMMAND_FAILED', `lab "${prefix}" is not up (nfqwall lab status --name ${prefix})`);
  const r = s.router;
  if (!r || !r.nfqwall.present || r.nfqwall.queueRules === 0 || r.queues.length === 0) {
    throw new NfqwallError(
      'NFQ_LAB_COMMAND_FAILED',
      `nfqwall is not running in ${labNames(prefix).router} (no steering rules or no bound queue); start it there: ip netns exec ${labNames(prefix).router} nfqwall run --config DIR --node router`,
    );
  }
  return { prefix, owned: false, close: async () => undefined };
}

export interface LabUpSessionOptions {
  /** Policy directory for the daemon. */
  config: string;
  /** Upper bound on the daemon's life (it is stopped at the end anyway). */
  lifetimeMs: number;
  log?: (line: string) => void;
}

/** A new lab with a random name, the daemon running in its router. */
export async function createLab(o: LabUpSessionOptions): Promise<LiveLab> {
  if (!existsSync(NFQWALL_BIN)) throw new NfqwallError('NFQ_LAB_COMMAND_FAILED', `cannot find ${NFQWALL_BIN} to start the daemon`);
  const prefix = `lv${randomBytes(4).toString('hex').slice(0, 8)}`;
  const names = await labUp(prefix);
  let daemon: NsProcess | null = null;
  let closed = false;
  const close = async (): Promise<void> => {
    if (closed) return;
    closed = true;
    if (daemon !== null) await daemon.stop(3000);
    await labDown(prefix);
  };
  try {
    daemon = spawnInNamespace(
      names.router,
      [process.execPath, NFQWALL_BIN, 'run', '--config', resolve(o.config), '--node', 'router', '--queue-base', '4100', '--log-format', 'json', '--settings', '/dev/null', '--control-socket', `/run/nfqwall-replay/${process.pid}.sock`],
      { lifetimeMs: o.lifetimeMs },
    );
    await daemon.waitForLine((l) => l.includes('"nfqwall started"'), 20_000);
    o.log?.(`lab ${prefix} up, nfqwall running in ${names.router} (pid ${daemon.child.pid ?? '?'})`);
  } catch (err) {
    await close().catch(() => undefined);
    throw err;
  }
  return { prefix, owned: true, close };
}
