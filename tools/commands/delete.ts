/**
 * `nfqwall delete KIND NAME` or `nfqwall delete -f FILE`: remove resources, as calicoctl does.
 * Refused (nothing removed) when a resource does not exist, when a tier is still used by a
 * policy, or when what remains would not validate.
 */
import type { Command } from 'commander';
import type { ExitCodeSink } from '../cli';
import { EXIT_OK, EXIT_PROBLEMS, EXIT_USAGE } from '../exit-codes';
import type { CommandModule } from './index';
import { describeRef, kindFromWord, kindWords, refOf, type ResourceRef } from '../../src/datastore';
import { addDatastoreOptions, countResources, errorCount, printChangeIssues, processIo, readResourceFile, withDatastore, type CommandIo, type DatastoreCommandFlags } from './apply';

export interface DeleteFlags extends DatastoreCommandFlags {
  filename?: string;
  namespace?: string;
}

export async function runDelete(kindWord: string | undefined, name: string | undefined, flags: DeleteFlags, io: CommandIo): Promise<number> {
  let refs: ResourceRef[];
  if (flags.filename !== undefined) {
    if (kindWord !== undefined) {
      io.err('nfqwall: give either KIND NAME or -f FILE, not both\n');
      return EXIT_USAGE;
    }
    const docs = await readResourceFile(flags.filename, io);
    if (typeof docs === 'number') return docs;
    refs = [];
    for (const d of docs) {
      const ref = refOf(d.value);
      if (!ref) {
        io.err(`${d.file}:${d.locate([]).line}: error: a resource to delete needs a supported kind and metadata.name\n`);
        return EXIT_PROBLEMS;
      }
      refs.push(ref);
    }
  } else {
    if (kindWord === undefined || name === undefined) {
      io.err('nfqwall: delete needs KIND NAME (or -f FILE)\n');
      return EXIT_USAGE;
    }
    const kind = kindFromWord(kindWord);
    if (kind === undefined) {
      io.err(`nfqwall: unknown resource type "${kindWord}" (one of ${kindWords()})\n`);
      return EXIT_USAGE;
    }
    refs = [kind === 'WorkloadEndpoint' ? { kind, name, namespace: flags.namespace ?? 'default' } : { kind, name }];
  }
  return withDatastore(flags, io, async (ds) => {
    const result = await ds.delete(refs, flags.node !== undefined ? { nodeName: flags.node } : {});
    if (result.notFound.length > 0) {
      for (const r of result.notFound) io.err(`resource does not exist: ${describeRef(r)}\n`);
      io.err(`Failed to delete: nothing was deleted from ${ds.description}\n`);
      return EXIT_PROBLEMS;
    }
    printChangeIssues(result, null, io);
    if (!result.ok) {
      io.err(`Failed to delete: ${errorCount(result.issues)} error(s); nothing was deleted from ${ds.description}\n`);
      return EXIT_PROBLEMS;
    }
    io.out(`Successfully deleted ${countResources(result.deleted)}${result.revision !== null ? ` (revision ${result.revision})` : ''}\n`);
    return EXIT_OK;
  });
}

export const deleteCommand: CommandModule = {
  register(program: Command, setExit: ExitCodeSink): void {
    addDatastoreOptions(
      program
        .command('delete')
        .description('delete resources from the datastore (what remains is validated first)')
        .argument('[kind]', 'resource type, e.g. gnp, hep, tier')
        .argument('[name]', 'resource name')
        .option('-f, --filename <file>', 'delete every resource named in this file instead')
        .option('-n, --namespace <ns>', 'namespace of a WorkloadEndpoint (default "default")'),
    ).action(async (kind: string | undefined, name: string | undefined, flags: DeleteFlags) => {
      setExit(await runDelete(kind, name, flags, processIo));
    });
  },
};
