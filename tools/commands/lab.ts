/** `nfqwall lab up|down|status`: the seed topology in network namespaces, for trying nfqwall out. */
import type { Command } from 'commander';
import type { ExitCodeSink } from '../cli';
import { EXIT_OK, EXIT_PROBLEMS, EXIT_USAGE } from '../exit-codes';
import type { CommandModule } from './index';
import { NfqwallError } from '../../src/errors';
import { formatLabStatus, labDown, labStatus, labUp } from '../../src/lab/lab';
import { DEFAULT_LAB_PREFIX, LAB_ADDRESSES, LAB_DNAT, labPrefixProblem } from '../../src/lab/topology';

interface NameOption {
  name: string;
}

/** Run one lab action, turning its errors into a message and an exit code. */
async function guarded(setExit: ExitCodeSink, name: string, action: () => Promise<number>): Promise<void> {
  const problem = labPrefixProblem(name);
  if (problem) {
    process.stderr.write(`nfqwall lab: ${problem}\n`);
    setExit(EXIT_USAGE);
    return;
  }
  if (process.getuid?.() !== 0) {
    process.stderr.write('nfqwall lab: needs root (it creates network namespaces)\n');
    setExit(EXIT_PROBLEMS);
    return;
  }
  try {
    setExit(await action());
  } catch (err) {
    if (!(err instanceof NfqwallError)) throw err;
    process.stderr.write(`nfqwall lab: ${err.message} [${err.code}]\n`);
    setExit(EXIT_PROBLEMS);
  }
}

export const labCommand: CommandModule = {
  register(program: Command, setExit: ExitCodeSink): void {
    const lab = program
      .command('lab')
      .description('build the seed topology (router, application and maintenance hosts, a workload) in network namespaces');
    const nameOption = ['--name <prefix>', 'namespace name prefix', DEFAULT_LAB_PREFIX] as const;

    lab
      .command('up')
      .description('create <prefix>-router, <prefix>-app, <prefix>-maint and <prefix>-wl')
      .option(...nameOption)
      .option('--dnat', `also DNAT ${LAB_DNAT.address}:${LAB_DNAT.port} on the router to ${LAB_DNAT.toAddress}:${LAB_DNAT.toPort}`)
      .action((opts: NameOption & { dnat?: boolean }) =>
        guarded(setExit, opts.name, async () => {
          const names = await labUp(opts.name, { dnat: opts.dnat === true });
          const a = LAB_ADDRESSES;
          process.stdout.write(
            [
              `lab ${opts.name} is up:`,
              `  ${names.router}: eth0 ${a.router.eth0.v4} ${a.router.eth0.v6}, eth1 ${a.router.eth1.v4} ${a.router.eth1.v6}, cali1 -> ${names.workload}`,
              `  ${names.app}: ${a.app.v4} ${a.app.v6}`,
              `  ${names.maint}: ${a.maint.v4} ${a.maint.v6}`,
              `  ${names.workload}: ${a.workload.v4} ${a.workload.v6}`,
              `run a command in one with: ip netns exec ${names.app} ping ${a.maint.v4}`,
              '',
            ].join('\n'),
          );
          return EXIT_OK;
        }),
      );

    lab
      .command('down')
      .description('remove the lab (nothing to do if it is absent)')
      .option(...nameOption)
      .action((opts: NameOption) =>
        guarded(setExit, opts.name, async () => {
          const r = await labDown(opts.name);
          const stopped = r.stoppedPids.length ? `; stopped ${r.stoppedPids.length} process(es) still inside` : '';
          process.stdout.write(r.removed.length ? `removed ${r.removed.join(', ')}${stopped}\n` : `lab ${opts.name} is not there\n`);
          return EXIT_OK;
        }),
      );

    lab
      .command('status')
      .description('show namespaces, addresses, forwarding, DNAT and whether nfqwall rules are installed (exit 1 unless up)')
      .option(...nameOption)
      .option('--json', 'print the status as JSON')
      .action((opts: NameOption & { json?: boolean }) =>
        guarded(setExit, opts.name, async () => {
          const s = await labStatus(opts.name);
          process.stdout.write(opts.json ? `${JSON.stringify(s, null, 2)}\n` : `${formatLabStatus(s)}\n`);
          return s.up ? EXIT_OK : EXIT_PROBLEMS;
        }),
      );
  },
};
