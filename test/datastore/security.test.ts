/** etcd with TLS client certificates, and etcd with user/password authentication. */
import { strict as assert } from 'node:assert';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join as joinPath } from 'node:path';
import { Etcd3, Range } from 'etcd3';
import { parseYamlDocuments } from '../../src/config';
import { EtcdDatastore } from '../../src/datastore';
import { runApply } from '../../tools/commands/apply';
import { runGet } from '../../tools/commands/get';
import { EtcdServer, makeTestCertificates, type EtcdTls } from './etcd-server';
import { capture, hep, join, TIER_EDGE, waitFor, webPolicy } from './helpers';

describe('etcd datastore: TLS and authentication', function () {
  this.timeout(30_000);
  let scratch: string;

  before(() => {
    scratch = mkdtempSync(joinPath(tmpdir(), 'nfqwall-ds-sec-'));
  });

  after(() => {
    if (scratch) rmSync(scratch, { recursive: true, force: true });
  });

  function file(name: string, text: string): string {
    const p = joinPath(scratch, name);
    writeFileSync(p, text);
    return p;
  }

  describe('TLS with client certificates', () => {
    let etcd: EtcdServer;
    let tls: EtcdTls;

    before(async () => {
      const dir = joinPath(scratch, 'pki');
      mkdirSync(dir);
      tls = makeTestCertificates(dir);
      etcd = await EtcdServer.start({ tls });
    });

    after(async () => {
      await etcd?.destroy();
    });

    it('applies and reads with --etcd-ca/--etcd-cert/--etcd-key', async () => {
      const flags = { datastore: `etcd:${etcd.url}`, etcdCa: tls.caFile, etcdCert: tls.clientCertFile, etcdKey: tls.clientKeyFile };
      const a = capture();
      assert.equal(await runApply(file('tls.yaml', join(TIER_EDGE, webPolicy([443]))), flags, a), 0, a.stderr);
      const g = capture();
      assert.equal(await runGet('gnp', undefined, flags, g), 0, g.stderr);
      assert.match(g.stdout, /edge\.web/);
    });

    it('is refused without a client certificate, or without the CA', async () => {
      for (const flags of [
        { datastore: `etcd:${etcd.url}`, etcdCa: tls.caFile },
        { datastore: `etcd:${etcd.url}`, etcdCert: tls.clientCertFile, etcdKey: tls.clientKeyFile },
      ]) {
        const c = capture();
        assert.equal(await runGet('gnp', undefined, flags, c), 1);
        assert.match(c.stderr, /NFQ_DS_UNAVAILABLE/);
      }
      const half = capture();
      assert.equal(await runGet('gnp', undefined, { datastore: `etcd:${etcd.url}`, etcdCert: tls.clientCertFile }, half), 2);
      assert.match(half.stderr, /both the etcd client certificate and its key/);
    });

    it('watches over TLS', async () => {
      const ds = new EtcdDatastore({ endpoints: [etcd.url], caFile: tls.caFile, certFile: tls.clientCertFile, keyFile: tls.clientKeyFile });
      try {
        const seen: number[] = [];
        const w = ds.watch((s) => seen.push(s.revision!), undefined, { after: await ds.snapshot() });
        await waitFor('connected', 5000, () => (w.health().state === 'connected' ? true : undefined));
        const r = await ds.apply(parseYamlDocuments(hep('r1-eth0', 'r1'), 'x.yaml').documents);
        await waitFor('the snapshot', 2000, () => (seen.includes(r.revision!) ? true : undefined));
      } finally {
        await ds.close();
      }
    });
  });

  describe('user and password', () => {
    let etcd: EtcdServer;

    before(async () => {
      etcd = await EtcdServer.start();
      const root = new Etcd3({ hosts: etcd.url });
      try {
        await root.role('root').create();
        await root.user('root').create('root-secret');
        await root.user('root').addRole('root');
        // A fleet role that may only touch nfqwall's prefix.
        await root.role('fleet').create();
        await root.role('fleet').grant({ permission: 'Readwrite', range: Range.prefix('/nfqwall/v1/') });
        await root.user('fleet').create('fleet-secret');
        await root.user('fleet').addRole('fleet');
        // Routers only read and watch.
        await root.role('router').create();
        await root.role('router').grant({ permission: 'Read', range: Range.prefix('/nfqwall/v1/') });
        await root.user('router').create('router-secret');
        await root.user('router').addRole('router');
        await root.auth.authEnable({});
      } finally {
        root.close();
      }
    });

    after(async () => {
      await etcd?.destroy();
    });

    it('works with --etcd-user and a password (flag or file)', async () => {
      const base = { datastore: `etcd:${etcd.url}`, etcdUser: 'fleet' };
      const a = capture();
      assert.equal(await runApply(file('auth.yaml', join(TIER_EDGE, webPolicy([80]))), { ...base, etcdPassword: 'fleet-secret' }, a), 0, a.stderr);
      const pw = file('password', 'fleet-secret\n');
      const g = capture();
      assert.equal(await runGet('tier', 'edge', { ...base, etcdPasswordFile: pw, output: 'json' }, g), 0, g.stderr);
      assert.equal(JSON.parse(g.stdout).metadata.name, 'edge');
    });

    it('a router with read permission only can snapshot and watch, not write', async () => {
      const admin = new EtcdDatastore({ endpoints: [etcd.url], username: 'fleet', password: 'fleet-secret' });
      const ds = new EtcdDatastore({ endpoints: [etcd.url], username: 'router', password: 'router-secret' });
      try {
        const first = await ds.snapshot({ nodeName: 'r1' });
        const seen: number[] = [];
        const w = ds.watch((x) => seen.push(x.revision!), undefined, { after: first, nodeName: 'r1' });
        await waitFor('connected', 5000, () => (w.health().state === 'connected' ? true : undefined));
        const r = await admin.apply(parseYamlDocuments(hep('r1-eth0', 'r1'), 'x.yaml').documents);
        await waitFor('the snapshot', 2000, () => (seen.includes(r.revision!) ? true : undefined));
        await assert.rejects(ds.apply(parseYamlDocuments(hep('r1-eth1', 'r1', 'eth1'), 'y.yaml').documents), /permission denied/);
      } finally {
        await Promise.all([ds.close(), admin.close()]);
      }
    });

    it('is refused with a wrong password, without credentials, and outside the granted prefix', async () => {
      const cases = [
        { datastore: `etcd:${etcd.url}`, etcdUser: 'fleet', etcdPassword: 'wrong' },
        { datastore: `etcd:${etcd.url}` },
        { datastore: `etcd:${etcd.url}`, etcdUser: 'fleet', etcdPassword: 'fleet-secret', etcdPrefix: '/other/' },
      ];
      for (const flags of cases) {
        const c = capture();
        assert.equal(await runGet('gnp', undefined, flags, c), 1, JSON.stringify(flags));
        assert.match(c.stderr, /NFQ_DS_UNAVAILABLE/);
      }
    });
  });
});
