/**
 * `nfqwall get KIND [NAME] [-o ps|wide|yaml|json]`: the stored resources exactly as written, in
 * calicoctl's shape (apiVersion, kind, metadata, spec). With a NAME, one resource; without, a
 * `<Kind>List` (yaml/json) or a table (ps, wide). Output of `-o yaml` can be applied again.
 */
import { InvalidArgumentError, type Command } from 'commander';
import type { ExitCodeSink } from '../cli';
import { EXIT_OK, EXIT_PROBLEMS, EXIT_USAGE } from '../exit-codes';
import type { CommandModule } from './index';
import { formatIssue } from '../../src/errors';
import { calicoShape, describeRef, DS, kindFromWord, kindWords, renderResource, tableColumns, type StoredResource } from '../../src/datastore';
import type { SupportedKind } from '../../src/config';
import { addDatastoreOptions, processIo, withDatastore, type CommandIo, type DatastoreCommandFlags } from './apply';

export type GetOutput = 'ps' | 'wide' | 'yaml' | 'json';

export interface GetFlags extends DatastoreCommandFlags {
  output?: GetOutput;
  namespace?: string;
  allNamespaces?: boolean;
}

function outputFormat(v: string): GetOutput {
  if (v === 'ps' || v === 'wide' || v === 'yaml' || v === 'json') return v;
  throw new InvalidArgumentError('expected ps, wide, yaml or json');
}

export async function runGet(kindWord: string, name: string | undefined, flags: GetFlags, io: CommandIo): Promise<number> {
  const kind = kindFromWord(kindWord);
  if (kind === undefined) {
    io.err(`nfqwall: unknown resource type "${kindWord}" (one of ${kindWords()})\n`);
    return EXIT_USAGE;
  }
  const namespaced = kind === 'WorkloadEndpoint';
  // As calicoctl: a namespaced kind is looked up in "default" unless told otherwise.
  const namespace = namespaced && !flags.allNamespaces ? (flags.namespace ?? 'default') : undefined;
  return withDatastore(flags, io, async (ds) => {
    const listed = await ds.list({ kind, ...(name !== undefined ? { name } : {}), ...(namespace !== undefined ? { namespace } : {}) });
    for (const i of listed.issues) io.err(`warning: not readable, left out: ${formatIssue(i)}\n`);
    const items = [...listed.resources].sort(
      (a, b) => cmp(a.ref.namespace ?? '', b.ref.namespace ?? '') || cmp(a.ref.name, b.ref.name) || cmp(a.source, b.source),
    );
    if (name !== undefined && items.length === 0) {
      io.err(`resource does not exist: ${describeRef({ kind, name, ...(namespace !== undefined ? { namespace } : {}) })} [${DS.NOT_FOUND}]\n`);
      return EXIT_PROBLEMS;
    }
    const output = flags.output ?? 'ps';
    io.out(render(kind, items, name !== undefined, output, listed.revision));
    return EXIT_OK;
  });
}

function render(kind: SupportedKind, items: StoredResource[], single: boolean, output: GetOutput, revision: number | null): string {
  const shaped = items.map((r) => calicoShape(r.value));
  if (output === 'ps' || output === 'wide') return table(kind, items, output === 'wide');
  let doc: unknown;
  if (single && shaped.length === 1) doc = shaped[0];
  else {
    // What calicoctl prints for a list; nfqwall apply accepts it back.
    doc = {
      apiVersion: 'projectcalico.org/v3',
      kind: `${kind}List`,
      metadata: revision !== null ? { resourceVersion: String(revision) } : {},
      items: shaped,
    };
  }
  return output === 'json' ? `${JSON.stringify(doc, null, 2)}\n` : renderResource(doc as Record<string, unknown>);
}

function table(kind: SupportedKind, items: StoredResource[], wide: boolean): string {
  const cols = tableColumns(kind, wide);
  const rows = [cols.map((c) => c[0]), ...items.map((r) => cols.map((c) => c[1](r.value)))];
  const widths = cols.map((_, i) => Math.max(...rows.map((row) => (row[i] ?? '').length)));
  return rows.map((row) => row.map((cell, i) => (i === row.length - 1 ? cell : cell.padEnd((widths[i] ?? 0) + 3))).join('').trimEnd()).join('\n') + '\n';
}

function cmp(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

export const getCommand: CommandModule = {
  register(program: Command, setExit: ExitCodeSink): void {
    addDatastoreOptions(
      program
        .command('get')
        .description('print stored resources as written (calicoctl shape)')
        .argument('<kind>', 'hostendpoint/hep, globalnetworkpolicy/gnp, globalnetworkset/gns, tier, profile, felixconfiguration, workloadendpoint/wep')
        .argument('[name]', 'one resource (default: all of the kind)')
        .option('-o, --output <format>', 'ps (default), wide, yaml or json', outputFormat)
        .option('-n, --namespace <ns>', 'namespace of WorkloadEndpoints (default "default")')
        .option('-A, --all-namespaces', 'WorkloadEndpoints of every namespace'),
    ).action(async (kind: string, name: string | undefined, flags: GetFlags) => {
      setExit(await runGet(kind, name, flags, processIo));
    });
  },
};
