/**
 * `nfqwall apply -f FILE`: create or replace every resource of FILE in the datastore, as
 * `calicoctl apply` does. The whole resulting set (what is stored + FILE) is validated first;
 * when anything is an error nothing is written. Also the datastore options shared by
 * `get` and `delete` (`--datastore dir:PATH | etcd:URL[,URL...]`, etcd prefix, TLS and user).
 */
import { readFile } from 'node:fs/promises';
import { Command, Option } from 'commander';
import type { ExitCodeSink } from '../cli';
import { EXIT_OK, EXIT_PROBLEMS, EXIT_USAGE } from '../exit-codes';
import type { CommandModule } from './index';
import { parseYamlDocuments, type RawDocument } from '../../src/config';
import { formatIssue, NfqwallError, type Issue } from '../../src/errors';
import { DS, openDatastore, type ChangeResult, type Datastore, type DatastoreFlags, type ResourceRef } from '../../src/datastore';

export interface CommandIo {
  out(text: string): void;
  err(text: string): void;
  /** The whole of standard input (for `-f -`). */
  stdin(): Promise<string>;
}

export const processIo: CommandIo = {
  out: (t) => process.stdout.write(t),
  err: (t) => process.stderr.write(t),
  stdin: async () => {
    const chunks: Buffer[] = [];
    for await (const c of process.stdin) chunks.push(c as Buffer);
    return Buffer.concat(chunks).toString('utf8');
  },
};

/** The options every datastore verb takes. */
export function addDatastoreOptions(cmd: Command): Command {
  return cmd
    .option('--datastore <spec>', 'dir:PATH or etcd:URL[,URL...] (default: $NFQWALL_DATASTORE, else dir:/etc/nfqwall/policy)')
    .option('--etcd-prefix <prefix>', 'key prefix in etcd (default /nfqwall/v1/; $NFQWALL_ETCD_PREFIX)')
    .option('--etcd-ca <file>', 'PEM CA bundle of the etcd server certificates ($NFQWALL_ETCD_CA)')
    .option('--etcd-cert <file>', 'PEM client certificate ($NFQWALL_ETCD_CERT)')
    .option('--etcd-key <file>', 'PEM client key ($NFQWALL_ETCD_KEY)')
    .option('--etcd-user <name>', 'etcd user ($NFQWALL_ETCD_USER)')
    .addOption(new Option('--etcd-password <password>', 'etcd password (arguments are visible to other users: prefer --etcd-password-file or $NFQWALL_ETCD_PASSWORD)'))
    .option('--etcd-password-file <file>', 'file whose first line is the etcd password ($NFQWALL_ETCD_PASSWORD_FILE)')
    .option('--node <name>', "validate as this node would (FelixConfiguration node.<name>)");
}

export interface DatastoreCommandFlags extends DatastoreFlags {
  node?: string;
}

/**
 * Open the datastore, run `task`, close it. Datastore failures are printed; a malformed
 * --datastore is a usage error (2), anything else that stops the command is 1.
 */
export async function withDatastore(flags: DatastoreCommandFlags, io: CommandIo, task: (ds: Datastore) => Promise<number>): Promise<number> {
  let ds: Datastore;
  try {
    ds = openDatastore(flags);
  } catch (err) {
    io.err(`nfqwall: ${(err as Error).message}${err instanceof NfqwallError ? ` [${err.code}]` : ''}\n`);
    return err instanceof NfqwallError && err.code === DS.SPEC ? EXIT_USAGE : EXIT_PROBLEMS;
  }
  try {
    return await task(ds);
  } catch (err) {
    if (!(err instanceof NfqwallError)) throw err;
    io.err(`nfqwall: ${err.message} [${err.code}]\n`);
    return err.code === DS.SPEC ? EXIT_USAGE : EXIT_PROBLEMS;
  } finally {
    await ds.close();
  }
}

/**
 * Read and parse the resources of FILE (`-` = standard input); after printing why not, the exit
 * code instead: 2 when FILE cannot be read (input named on the command line), 1 when it is invalid.
 */
export async function readResourceFile(file: string, io: CommandIo): Promise<RawDocument[] | number> {
  let text: string;
  try {
    text = file === '-' ? await io.stdin() : await readFile(file, 'utf8');
  } catch (err) {
    io.err(`nfqwall: cannot read ${file}: ${(err as Error).message}\n`);
    return EXIT_USAGE;
  }
  const parsed = parseYamlDocuments(text, file === '-' ? '<stdin>' : file);
  for (const i of parsed.issues) io.err(`${formatIssue(i)}\n`);
  if (parsed.issues.some((i) => i.severity === 'error')) return EXIT_PROBLEMS;
  if (parsed.documents.length === 0) {
    io.err(`nfqwall: no resources in ${file}\n`);
    return EXIT_PROBLEMS;
  }
  return parsed.documents;
}

/** Issues of the input file first (all of them), then those located in what is already stored. */
export function printChangeIssues(result: ChangeResult, inputFile: string | null, io: CommandIo): void {
  const own = inputFile === null ? [] : result.issues.filter((i) => i.location.file === inputFile);
  const stored = result.issues.filter((i) => !own.includes(i));
  for (const i of own) io.err(`${formatIssue(i)}\n`);
  if (inputFile !== null && stored.some((i) => i.severity === 'error')) io.err('problems in what the datastore would hold afterwards:\n');
  for (const i of stored) io.err(`${formatIssue(i)}\n`);
}

/** `1 'HostEndpoint' resource(s)` / `3 resource(s)`, as calicoctl counts. */
export function countResources(refs: readonly ResourceRef[]): string {
  const kinds = new Set(refs.map((r) => r.kind));
  return kinds.size === 1 ? `${refs.length} '${[...kinds][0]}' resource(s)` : `${refs.length} resource(s)`;
}

export function errorCount(issues: readonly Issue[]): number {
  return issues.filter((i) => i.severity === 'error').length;
}

export async function runApply(file: string, flags: DatastoreCommandFlags, io: CommandIo): Promise<number> {
  const docs = await readResourceFile(file, io);
  if (typeof docs === 'number') return docs;
  const input = file === '-' ? '<stdin>' : file;
  return withDatastore(flags, io, async (ds) => {
    const result = await ds.apply(docs, flags.node !== undefined ? { nodeName: flags.node } : {});
    printChangeIssues(result, input, io);
    if (!result.ok) {
      io.err(`Failed to apply ${input}: ${errorCount(result.issues)} error(s); nothing was written to ${ds.description}\n`);
      return EXIT_PROBLEMS;
    }
    io.out(`Successfully applied ${countResources([...result.created, ...result.replaced])}${result.revision !== null ? ` (revision ${result.revision})` : ''}\n`);
    return EXIT_OK;
  });
}

export const applyCommand: CommandModule = {
  register(program: Command, setExit: ExitCodeSink): void {
    addDatastoreOptions(
      program
        .command('apply')
        .description('create or replace the resources of a YAML/JSON file in the datastore (validated as a whole first)')
        .requiredOption('-f, --filename <file>', 'file of resources (several documents, a List, or - for standard input)'),
    ).action(async (flags: DatastoreCommandFlags & { filename: string }) => {
      setExit(await runApply(flags.filename, flags, processIo));
    });
  },
};
