/**
 * apply / get / delete against both datastores (a temporary policy directory and a real etcd on
 * loopback), through the command functions the CLI runs.
 */
import { strict as assert } from 'node:assert';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join as joinPath } from 'node:path';
import { parseAllDocuments } from 'yaml';
import { parseYamlDocuments, type RawDocument } from '../../src/config';
import { DirectoryDatastore, EtcdDatastore, openDatastore } from '../../src/datastore';
import { runApply } from '../../tools/commands/apply';
import { runDelete } from '../../tools/commands/delete';
import { runGet } from '../../tools/commands/get';
import { EtcdServer, freePort } from './etcd-server';
import { capture, hep, join, TIER_EDGE, webPolicy } from './helpers';

let etcd: EtcdServer;
let scratch: string;
let seq = 0;

/** A file of resources in the scratch directory. */
function file(name: string, text: string): string {
  const p = joinPath(scratch, `${seq}-${name}`);
  writeFileSync(p, text);
  return p;
}

interface Store {
  flags: { datastore: string; etcdPrefix?: string };
  /** Something that changes whenever the store is written. */
  fingerprint(): Promise<string>;
}

const stores: Record<string, () => Store> = {
  directory: () => {
    const dir = joinPath(scratch, `policy-${++seq}`);
    return {
      flags: { datastore: `dir:${dir}` },
      fingerprint: async () => {
        let names: string[] = [];
        try {
          names = readdirSync(dir).sort();
        } catch {
          return '<none>';
        }
        return JSON.stringify(names.map((n) => [n, readFileSync(joinPath(dir, n), 'utf8')]));
      },
    };
  },
  etcd: () => {
    const prefix = `/test${++seq}/`;
    return {
      flags: { datastore: `etcd:${etcd.url}`, etcdPrefix: prefix },
      fingerprint: async () => {
        const ds = new EtcdDatastore({ endpoints: [etcd.url], prefix });
        try {
          const s = await ds.readState();
          return JSON.stringify([...s.entries.values()].map((e) => [e.name, e.modRevision]).concat([['guard', s.guardMod]]));
        } finally {
          await ds.close();
        }
      },
    };
  },
};

describe('datastores (a temporary directory, etcd on loopback)', () => {
  before(async function () {
    this.timeout(30_000);
    etcd = await EtcdServer.start();
    scratch = mkdtempSync(joinPath(tmpdir(), 'nfqwall-ds-'));
  });

  after(async function () {
    this.timeout(30_000);
    await etcd?.destroy();
    if (scratch) rmSync(scratch, { recursive: true, force: true });
  });

  for (const [label, make] of Object.entries(stores)) {
    describe(`datastore verbs: ${label}`, () => {
      it('apply, get (yaml, json, table) and delete round-trip the resources as written', async () => {
        const s = make();
        const input = file('edge.yaml', join(TIER_EDGE, webPolicy([80, 443]), hep('r1-eth0', 'r1')));
        const a = capture();
        assert.equal(await runApply(input, s.flags, a), 0, a.stderr);
        assert.match(a.stdout, /^Successfully applied 3 resource\(s\)/);

        const g = capture();
        assert.equal(await runGet('gnp', 'edge.web', { ...s.flags, output: 'yaml' }, g), 0, g.stderr);
        const written = parseAllDocuments(webPolicy([80, 443]))[0]!.toJS();
        assert.deepEqual(parseAllDocuments(g.stdout)[0]!.toJS(), written);
        assert.ok(g.stdout.startsWith('apiVersion: projectcalico.org/v3\nkind: GlobalNetworkPolicy\nmetadata:'));

        const j = capture();
        assert.equal(await runGet('hostendpoints', 'r1-eth0', { ...s.flags, output: 'json' }, j), 0, j.stderr);
        assert.deepEqual(JSON.parse(j.stdout), parseAllDocuments(hep('r1-eth0', 'r1'))[0]!.toJS());

        const t = capture();
        assert.equal(await runGet('hep', undefined, s.flags, t), 0, t.stderr);
        assert.deepEqual(t.stdout.trimEnd().split('\n').map((l) => l.split(/\s+/)), [['NAME', 'NODE'], ['r1-eth0', 'r1']]);

        // A listing is a typed List that apply takes back unchanged.
        const list = capture();
        assert.equal(await runGet('tier', undefined, { ...s.flags, output: 'yaml' }, list), 0);
        const again = capture();
        assert.equal(await runApply(file('tiers.yaml', list.stdout), s.flags, again), 0, again.stderr);
        assert.match(again.stdout, /Successfully applied 1 'Tier' resource\(s\)/);

        const d = capture();
        assert.equal(await runDelete('globalnetworkpolicy', 'edge.web', s.flags, d), 0, d.stderr);
        assert.match(d.stdout, /Successfully deleted 1 'GlobalNetworkPolicy' resource\(s\)/);
        const gone = capture();
        assert.equal(await runGet('gnp', 'edge.web', s.flags, gone), 1);
        assert.match(gone.stderr, /resource does not exist: GlobalNetworkPolicy\(edge\.web\)/);
        assert.equal(await runDelete('tier', 'edge', s.flags, capture()), 0);
        const none = capture();
        assert.equal(await runGet('tiers', undefined, { ...s.flags, output: 'json' }, none), 0);
        assert.deepEqual(JSON.parse(none.stdout).items, []);
      });

      it('refuses an invalid file, prints issues located in it, and writes nothing', async () => {
        const s = make();
        const empty = await s.fingerprint();
        const first = capture();
        assert.equal(await runApply(file('first.yaml', webPolicy([80])), s.flags, first), 1); // its tier is missing
        assert.match(first.stderr, /tier "edge" does not exist/);
        assert.equal(await s.fingerprint(), empty);
        assert.equal(await runApply(file('base.yaml', join(TIER_EDGE, webPolicy([80]))), s.flags, capture()), 0);
        const before = await s.fingerprint();

        const bad = file('bad.yaml', join(hep('r1-eth1', 'r1', 'eth1'), webPolicy([80]).replace('action: Allow', 'action: Allw').replace('edge.web', 'edge.bad')));
        const c = capture();
        assert.equal(await runApply(bad, s.flags, c), 1);
        assert.match(c.stderr, new RegExp(`${bad.replace(/[.]/g, '\\.')}:21:15: spec\\.ingress\\[0\\]\\.action: error: .*\\[NFQ_CFG_RULE_ACTION\\]`));
        assert.match(c.stderr, /nothing was written/);
        assert.equal(c.stdout, '');
        assert.equal(await s.fingerprint(), before);

        // Valid on its own, invalid with what is stored: a policy in a tier nobody defined.
        const orphan = file('orphan.yaml', webPolicy([22], 'core.ssh').replace('tier: edge', 'tier: core'));
        const o = capture();
        assert.equal(await runApply(orphan, s.flags, o), 1);
        assert.match(o.stderr, /spec\.tier: error: tier "core" does not exist/);
        assert.equal(await s.fingerprint(), before);

        // The whole resulting set: replacing the tier with a broken one is refused too.
        const brokenTier = file('tier.yaml', TIER_EDGE.replace('order: 100', 'order: high'));
        assert.equal(await runApply(brokenTier, s.flags, capture()), 1);
        assert.equal(await s.fingerprint(), before);
      });

      it('refuses to delete a tier a policy still uses, and a resource that does not exist', async () => {
        const s = make();
        assert.equal(await runApply(file('base.yaml', join(TIER_EDGE, webPolicy([80]))), s.flags, capture()), 0);
        const before = await s.fingerprint();
        const c = capture();
        assert.equal(await runDelete('tier', 'edge', s.flags, c), 1);
        assert.match(c.stderr, /cannot delete Tier\(edge\): policy still in this tier \(edge\.web\); delete or move it first \[NFQ_DS_TIER_IN_USE\]/);
        assert.doesNotMatch(c.stderr, /NFQ_CFG_TIER_MISSING/);
        const n = capture();
        assert.equal(await runDelete('hep', 'nope', s.flags, n), 1);
        assert.match(n.stderr, /resource does not exist: HostEndpoint\(nope\)/);
        assert.equal(await s.fingerprint(), before);
        // Both together go.
        const both = file('both.yaml', join(TIER_EDGE, webPolicy([80])));
        const d = capture();
        assert.equal(await runDelete(undefined, undefined, { ...s.flags, filename: both }, d), 0, d.stderr);
        assert.match(d.stdout, /Successfully deleted 2 resource\(s\)/);
      });

      it('keeps WorkloadEndpoints per namespace (default "default", -n, -A)', async () => {
      const s = make();
      const wep = (ns: string) =>
        `apiVersion: projectcalico.org/v3\nkind: WorkloadEndpoint\nmetadata:\n  name: vm1\n${ns ? `  namespace: ${ns}\n` : ''}spec:\n  node: r1\n  interfaceName: cali1\n  ipNetworks: [10.9.0.5/32]\n`;
      assert.equal(await runApply(file('weps.yaml', join(wep('prod'), wep(''))), s.flags, capture()), 0);
      const names = async (flags: object): Promise<string[]> => {
        const c = capture();
        assert.equal(await runGet('weps', undefined, { ...s.flags, ...flags, output: 'json' }, c), 0, c.stderr);
        return (JSON.parse(c.stdout).items as { metadata: { name: string; namespace?: string } }[]).map((i) => `${i.metadata.namespace ?? '-'}/${i.metadata.name}`);
      };
      assert.deepEqual(await names({}), ['-/vm1']);
      assert.deepEqual(await names({ namespace: 'prod' }), ['prod/vm1']);
      assert.deepEqual(await names({ allNamespaces: true }), ['-/vm1', 'prod/vm1']);
      const d = capture();
      assert.equal(await runDelete('wep', 'vm1', { ...s.flags, namespace: 'prod' }, d), 0, d.stderr);
      assert.deepEqual(await names({ allNamespaces: true }), ['-/vm1']);
    });

    it('names kinds as calicoctl does and rejects unknown ones', async () => {
        const s = make();
        assert.equal(await runApply(file('gns.yaml', 'apiVersion: projectcalico.org/v3\nkind: GlobalNetworkSet\nmetadata: {name: office}\nspec: {nets: [10.1.0.0/16]}\n'), s.flags, capture()), 0);
        for (const word of ['gns', 'gnetsets', 'GlobalNetworkSet', 'globalnetworksets']) {
          const c = capture();
          assert.equal(await runGet(word, 'office', s.flags, c), 0, `${word}: ${c.stderr}`);
        }
        const u = capture();
        assert.equal(await runGet('ippool', undefined, s.flags, u), 2);
        assert.match(u.stderr, /unknown resource type "ippool"/);
      });
    });
  }

  describe('datastore verbs: directory layout', () => {
    it('writes new resources to <kind>-<name>.yaml and edits a shared file in place', async () => {
      const dir = joinPath(scratch, `layout-${++seq}`);
      const flags = { datastore: `dir:${dir}` };
      assert.equal(await runApply(file('t.yaml', TIER_EDGE), flags, capture()), 0);
      assert.deepEqual(readdirSync(dir), ['tier-edge.yaml']);
      // A file the user wrote with several documents and comments.
      const shared = `# uplinks of r1\n${hep('r1-eth0', 'r1')}---\n# the backup line\n${hep('r1-eth1', 'r1', 'eth1')}`;
      writeFileSync(joinPath(dir, 'uplinks.yaml'), shared);
      const changed = hep('r1-eth1', 'r1', 'eth2');
      assert.equal(await runApply(file('c.yaml', changed), flags, capture()), 0);
      const after = readFileSync(joinPath(dir, 'uplinks.yaml'), 'utf8');
      assert.ok(after.startsWith(`# uplinks of r1\n${hep('r1-eth0', 'r1')}---\n`), after);
      assert.match(after, /interfaceName: eth2/);
      assert.deepEqual(readdirSync(dir).sort(), ['tier-edge.yaml', 'uplinks.yaml']);

      const d = capture();
      assert.equal(await runDelete('hep', 'r1-eth1', flags, d), 0, d.stderr);
      assert.equal(readFileSync(joinPath(dir, 'uplinks.yaml'), 'utf8'), `# uplinks of r1\n${hep('r1-eth0', 'r1')}`);
      assert.equal(await runDelete('hep', 'r1-eth0', flags, capture()), 0);
      assert.deepEqual(readdirSync(dir), ['tier-edge.yaml']);
      // No temporary or lock file is left behind.
      assert.deepEqual(readdirSync(dir).filter((n) => n.startsWith('.')), []);
    });

    it('snapshots are loadResourceDir results', async () => {
      const dir = joinPath(scratch, `snap-${++seq}`);
      const ds = new DirectoryDatastore(dir);
      await ds.apply(parseDocs(join(TIER_EDGE, webPolicy([80])), 'in.yaml'));
      const snap = await ds.snapshot({ nodeName: 'r1' });
      assert.equal(snap.ok, true);
      assert.equal(snap.revision, null);
      assert.equal(snap.counts.GlobalNetworkPolicy, 1);
      assert.deepEqual(snap.files, [joinPath(dir, 'globalnetworkpolicy-edge.web.yaml'), joinPath(dir, 'tier-edge.yaml')]);
    });
  });

  describe('datastore verbs: etcd layout and reads', () => {
    it('stores one key per resource under the prefix, as JSON by default or YAML', async () => {
      const prefix = `/layout${++seq}/`;
      const ds = new EtcdDatastore({ endpoints: [etcd.url], prefix });
      try {
        const r = await ds.apply(parseDocs(join(TIER_EDGE, webPolicy([80]), hep('r1-eth0', 'r1')), 'in.yaml'));
        assert.equal(r.ok, true);
        const kv = await ds.client.getAll().prefix(prefix).strings();
        assert.deepEqual(Object.keys(kv).sort(), [`${prefix}.guard`, `${prefix}globalnetworkpolicy/edge.web`, `${prefix}hostendpoint/r1-eth0`, `${prefix}tier/edge`]);
        assert.deepEqual(JSON.parse(kv[`${prefix}tier/edge`]!), parseAllDocuments(TIER_EDGE)[0]!.toJS());
        assert.ok(kv[`${prefix}tier/edge`]!.startsWith('{\n  "apiVersion": "projectcalico.org/v3",\n'));
        const yamlStore = new EtcdDatastore({ endpoints: [etcd.url], prefix, format: 'yaml' });
        try {
          assert.equal((await yamlStore.apply(parseDocs(hep('r1-eth1', 'r1', 'eth1'), 'in.yaml'))).ok, true);
          assert.equal(await ds.client.get(`${prefix}hostendpoint/r1-eth1`).string(), hep('r1-eth1', 'r1', 'eth1'));
          assert.equal((await ds.snapshot()).counts.HostEndpoint, 2);
        } finally {
          await yamlStore.close();
        }
      } finally {
        await ds.close();
      }
    });

    it('reads JSON values too, and locates problems at the etcd key', async () => {
      const prefix = `/direct${++seq}/`;
      const ds = new EtcdDatastore({ endpoints: [etcd.url], prefix });
      try {
        const tier = parseAllDocuments(TIER_EDGE)[0]!.toJS();
        await ds.client.put(`${prefix}tier/edge`).value(JSON.stringify(tier, null, 2));
        const ok = await ds.snapshot();
        assert.equal(ok.ok, true, JSON.stringify(ok.issues));
        assert.equal(ok.counts.Tier, 1);
        await ds.client.put(`${prefix}globalnetworkpolicy/edge.bad`).value(webPolicy([80], 'edge.bad').replace('ports: [80]', 'ports: [80000]'));
        await ds.client.put(`${prefix}tier/other`).value(TIER_EDGE);
        await ds.client.put(`${prefix}junk`).value('x: 1\n');
        const bad = await ds.snapshot();
        assert.equal(bad.ok, false);
        const where = bad.issues.filter((i) => i.severity === 'error').map((i) => `${i.location.file}:${i.location.line} ${i.location.path ?? ''} ${i.code}`);
        assert.deepEqual(where.sort(), [
          `${prefix}globalnetworkpolicy/edge.bad:14 spec.ingress[0].destination.ports[0] NFQ_CFG_PORT`,
          `${prefix}junk:1  NFQ_DS_KEY`,
          `${prefix}junk:1 apiVersion NFQ_CFG_API_VERSION`,
          `${prefix}junk:1 kind NFQ_CFG_KIND_UNKNOWN`,
          // The resource under the wrong key is also a second Tier "edge".
          `${prefix}tier/other:4 metadata.name NFQ_CFG_DUPLICATE_NAME`,
          `${prefix}tier/other:4 metadata.name NFQ_DS_KEY`,
        ]);
        assert.equal(bad.revision !== null && ok.revision !== null && bad.revision > ok.revision, true);
      } finally {
        await ds.close();
      }
    });

    it('reports an unreachable etcd as a datastore error', async function () {
      this.timeout(15_000);
      const port = await freePort();
      const c = capture();
      const started = Date.now();
      assert.equal(await runGet('gnp', undefined, { datastore: `etcd:http://127.0.0.1:${port}` }, c), 1);
      assert.match(c.stderr, /NFQ_DS_UNAVAILABLE/);
      assert.ok(Date.now() - started < 10_000);
    });

    it('rejects a malformed --datastore as a usage error', async () => {
      for (const spec of ['ftp://x', 'etcd:', 'etcd:127.0.0.1:2379', 'dir:']) {
        const c = capture();
        assert.equal(await runGet('gnp', undefined, { datastore: spec }, c), 2, spec);
        assert.match(c.stderr, /NFQ_DS_SPEC/);
      }
      assert.throws(() => openDatastore({ datastore: 'dir:/tmp/x', etcdUser: 'u' }), /--etcd-user applies to an etcd datastore/);
      assert.equal(openDatastore({}, {}).description, 'dir:/etc/nfqwall/policy');
      assert.equal(openDatastore({}, { NFQWALL_DATASTORE: 'dir:/srv/p' }).description, 'dir:/srv/p');
    });
  });
});

function parseDocs(text: string, name: string): RawDocument[] {
  return parseYamlDocuments(text, name).documents;
}
