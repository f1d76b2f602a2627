/**
 * `nfqwall ruleset --config DIR`: print the steering rules the daemon would install, without
 * installing anything. Without `--backend` the kernel is probed (needs root), as the daemon does.
 */
import { Option, type Command } from 'commander';
import type { ExitCodeSink } from '../cli';
import { EXIT_FATAL, EXIT_OK, EXIT_PROBLEMS, EXIT_USAGE } from '../exit-codes';
import type { CommandModule } from './index';
import { formatIssue, NfqwallError } from '../../src/errors';
import { loadResourceDir } from '../../src/config';
import { compilePolicy } from '../../src/engine';
import type { HostModel } from '../../src/engine/host-model';
import { readLiveHost } from '../../src/daemon/live-host';
import { Daemon } from '../../src/daemon/daemon';
import { loadHostFile } from '../inputs';
import { DEFAULT_QUEUES } from '../../src/daemon/settings';
import { DEFAULT_MARK_MASK } from '../../src/dataplane/marks';
import { planFromPolicyInfo } from '../../src/dataplane/plan-from-info';
import { probeBackend } from '../../src/dataplane/probe';
import { renderIptables } from '../../src/dataplane/render-iptables';
import { renderNft } from '../../src/dataplane/render-nft';
import type { Backend } from '../../src/dataplane/apply';
import type { SteeringPlan } from '../../src/dataplane/plan';

interface RulesetOptions {
  config: string;
  backend?: Backend;
  mode: 'flow' | 'packet';
  failMode: 'open' | 'closed';
  node?: string;
  host?: string;
}

export const rulesetCommand: CommandModule = {
  register(program: Command, setExit: ExitCodeSink): void {
    program
      .command('ruleset')
      .description('print the steering rules (nft or iptables-nft) that would be installed for a policy directory')
      .requiredOption('--config <dir>', 'directory of Calico resources (YAML)')
      .addOption(new Option('--backend <backend>', 'rendering to print (default: probe this kernel, needs root)').choices(['nft', 'iptables']))
      .addOption(new Option('--mode <mode>', 'flow: only undecided packets are queued; packet: every packet').choices(['flow', 'packet']).default('flow'))
      .addOption(new Option('--fail-mode <mode>', 'open: traffic passes while no daemon listens; closed: it is dropped').choices(['open', 'closed']).default('open'))
      .option('--node <name>', 'Calico node name of this host (default: hostname, or the host file\'s node)')
      .option('--host <file>', 'host model YAML instead of this machine\'s live interfaces')
      .action(async (opts: RulesetOptions) => {
        try {
          const loaded = await loadResourceDir(opts.config);
          const errors = loaded.issues.filter((i) => i.severity === 'error');
          if (errors.length > 0) {
            for (const i of errors) process.stderr.write(`${formatIssue(i)}\n`);
            setExit(EXIT_PROBLEMS);
            return;
          }
          let host: HostModel | null;
          if (opts.host) host = loadHostFile(opts.host);
          else host = (await readLiveHost({ node: opts.node ?? Daemon.defaultNode(), workloadInterfacePrefix: 'cali', unmanagedVerdict: 'accept' })).host;
          if (!host) return setExit(EXIT_USAGE);
          if (opts.node) host.node = opts.node;
          const info = compilePolicy(loaded.resources, host).steeringInfo();
          const plan = planFromPolicyInfo(info, {
            table: 'nfqwall',
            mode: opts.mode,
            failMode: opts.failMode,
            markMask: DEFAULT_MARK_MASK,
            queues: DEFAULT_QUEUES,
            existingFlowsOnReload: 'rejudge',
            generation: 0,
          });
          const backend = opts.backend ?? (await probeBackend()).backend;
          process.stdout.write(renderFor(plan, backend));
          setExit(EXIT_OK);
        } catch (err) {
          if (!(err instanceof NfqwallError)) throw err;
          process.stderr.write(`nfqwall ruleset: ${err.message} [${err.code}]\n`);
          setExit(err.code.startsWith('NFQ_DATAPLANE_') ? EXIT_FATAL : EXIT_PROBLEMS);
        }
      });
  },
};

function renderFor(plan: SteeringPlan, backend: Backend): string {
  if (backend === 'nft') return `# nft -f -\n${renderNft(plan)}`;
  return `# iptables-nft-restore --noflush\n${renderIptables(plan, 4)}\n# ip6tables-nft-restore --noflush\n${renderIptables(plan, 6)}`;
}
