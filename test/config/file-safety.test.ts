import { strict as assert } from 'node:assert';
import { chmodSync, chownSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { CFG, checkConfigFileSafety, loadResourceDir, unsafeReason } from '../../src/config';
import { datastoreFromSettings, DirectoryDatastore } from '../../src/datastore';
import type { Issue } from '../../src/errors';

const tier = (name: string, order: number): string => `apiVersion: projectcalico.org/v3\nkind: Tier\nmetadata:\n  name: ${name}\nspec:\n  order: ${order}\n`;

describe('config: files other users can change', () => {
  describe('unsafeReason', () => {
    it('accepts files only root or this process can write', () => {
      assert.equal(unsafeReason({ mode: 0o100644, uid: 0 }, 0), null);
      assert.equal(unsafeReason({ mode: 0o040755, uid: 0 }, 1000), null);
      assert.equal(unsafeReason({ mode: 0o100600, uid: 1000 }, 1000), null);
      assert.equal(unsafeReason({ mode: 0o100444, uid: 0 }, 0), null);
    });

    it('names the mode in octal and who can write', () => {
      assert.equal(unsafeReason({ mode: 0o100666, uid: 0 }, 0), 'group and others can write it (mode 0666)');
      assert.equal(unsafeReason({ mode: 0o100620, uid: 0 }, 0), 'its group can write it (mode 0620)');
      assert.equal(unsafeReason({ mode: 0o040757, uid: 0 }, 0), 'others can write it (mode 0757)');
      assert.equal(unsafeReason({ mode: 0o041777, uid: 0 }, 0), 'group and others can write it (mode 1777)');
    });

    it('names a foreign owner', () => {
      assert.equal(unsafeReason({ mode: 0o100644, uid: 1234 }, 0), 'it is owned by uid 1234, not by root');
      assert.equal(unsafeReason({ mode: 0o100644, uid: 1234 }, 1000), 'it is owned by uid 1234, not by root or uid 1000');
      assert.equal(unsafeReason({ mode: 0o100664, uid: 1234 }, 0), 'its group can write it (mode 0664) and it is owned by uid 1234, not by root');
    });
  });

  describe('loadResourceDir with requireSafePermissions', () => {
    let scratch: string;
    let dir: string;
    beforeEach(() => {
      scratch = mkdtempSync(path.join(tmpdir(), 'nfqwall-safety-'));
      dir = path.join(scratch, 'policy');
      mkdirSync(dir, { mode: 0o755 });
      chmodSync(dir, 0o755);
    });
    afterEach(() => {
      rmSync(scratch, { recursive: true, force: true });
    });
    const put = (name: string, text: string, mode = 0o644): string => {
      const file = path.join(dir, name);
      writeFileSync(file, text);
      chmodSync(file, mode);
      return file;
    };
    const safe = { requireSafePermissions: true };
    const unsafeIssues = (r: { issues: Issue[] }): Issue[] => r.issues.filter((i) => i.code === CFG.UNSAFE_PERMISSIONS);

    it('loads a directory only root can write', async () => {
      put('a.yaml', tier('a', 1));
      put('b.yaml', tier('b', 2), 0o600);
      const r = await loadResourceDir(dir, safe);
      assert.deepEqual(r.issues, []);
      assert.equal(r.counts.Tier, 2);
    });

    it('refuses a file everyone can write (0666), located, with the fix', async () => {
      put('a.yaml', tier('a', 1));
      const bad = put('b.yaml', tier('b', 2), 0o666);
      const r = await loadResourceDir(dir, safe);
      assert.deepEqual(r.issues.map((i) => [i.code, i.severity, i.location]), [[CFG.UNSAFE_PERMISSIONS, 'error', { file: bad, line: 1 }]]);
      assert.match(r.issues[0]!.message, /mode 0666/);
      assert.ok(r.issues[0]!.message.includes(`chmod go-w ${bad}`), r.issues[0]!.message);
      // Not parsed: only the safe file's tier is there.
      assert.deepEqual(r.files, [path.join(dir, 'a.yaml'), bad]);
      assert.equal(r.counts.Tier, 1);
    });

    it('refuses a file its group can write (0620)', async () => {
      const bad = put('a.yaml', tier('a', 1), 0o620);
      const [issue, ...rest] = unsafeIssues(await loadResourceDir(dir, safe));
      assert.equal(rest.length, 0);
      assert.equal(issue!.location.file, bad);
      assert.match(issue!.message, /its group can write it \(mode 0620\)/);
    });

    it('refuses a file owned by another user (uid 1234)', async () => {
      const bad = put('a.yaml', tier('a', 1));
      chownSync(bad, 1234, 1234);
      const [issue, ...rest] = unsafeIssues(await loadResourceDir(dir, safe));
      assert.equal(rest.length, 0);
      assert.match(issue!.message, /owned by uid 1234/);
      assert.ok(issue!.message.includes(`chown root ${bad}`), issue!.message);
    });

    it('refuses the directory itself and subdirectories read recursively', async () => {
      put('a.yaml', tier('a', 1));
      chmodSync(dir, 0o777);
      const sub = path.join(dir, 'sub');
      mkdirSync(sub);
      chmodSync(sub, 0o757);
      writeFileSync(path.join(sub, 'd.yaml'), tier('d', 4));
      chmodSync(path.join(sub, 'd.yaml'), 0o644);
      const flat = unsafeIssues(await loadResourceDir(dir, safe));
      assert.deepEqual(flat.map((i) => i.location.file), [dir]);
      assert.match(flat[0]!.message, /refusing this directory: group and others can write it \(mode 0777\)/);
      const deep = unsafeIssues(await loadResourceDir(dir, { ...safe, recursive: true }));
      assert.deepEqual(deep.map((i) => i.location.file), [dir, sub]);
      assert.match(deep[1]!.message, /others can write it \(mode 0757\)/);
    });

    it('checks what a link points to and the directory that holds it', async () => {
      const elsewhere = path.join(scratch, 'elsewhere');
      mkdirSync(elsewhere);
      chmodSync(elsewhere, 0o755);
      const target = path.join(elsewhere, 't.yaml');
      writeFileSync(target, tier('t', 1));
      chmodSync(target, 0o644);
      symlinkSync(target, path.join(dir, 'link.yaml'));
      assert.deepEqual((await loadResourceDir(dir, safe)).issues, []);

      chmodSync(target, 0o666);
      let [issue] = unsafeIssues(await loadResourceDir(dir, safe));
      assert.equal(issue!.location.file, path.join(dir, 'link.yaml'));
      assert.ok(issue!.message.includes(`the link's target ${target}`) && issue!.message.includes(`chmod go-w ${target}`), issue!.message);

      chmodSync(target, 0o644);
      chmodSync(elsewhere, 0o777);
      [issue] = unsafeIssues(await loadResourceDir(dir, safe));
      assert.equal(issue!.location.file, path.join(dir, 'link.yaml'));
      assert.ok(issue!.message.includes(`directory of its target, ${elsewhere}`) && issue!.message.includes(`chmod go-w ${elsewhere}`), issue!.message);
      assert.equal(await checkConfigFileSafety(target), null, 'the target itself is fine; its directory is not');
    });

    it('without the option (nfqwall validate) the same directory loads', async () => {
      chmodSync(dir, 0o777);
      chownSync(put('a.yaml', tier('a', 1), 0o666), 1234, 1234);
      const r = await loadResourceDir(dir);
      assert.deepEqual(r.issues, []);
      assert.equal(r.counts.Tier, 1);
    });

    it('the daemon datastore refuses it; the command-line one does not', async () => {
      const kept = put('a.yaml', tier('a', 1));
      put('b.yaml', tier('b', 2), 0o666);
      const daemon = datastoreFromSettings({ policyDir: dir }, { requireSafePermissions: true });
      const snap = await daemon.snapshot();
      assert.equal(snap.ok, false);
      assert.deepEqual(snap.issues.map((i) => i.code), [CFG.UNSAFE_PERMISSIONS]);
      assert.equal((await datastoreFromSettings({ policyDir: dir }).snapshot()).ok, true);
      // Writes through a strict store see the same problem and change nothing.
      const strict = new DirectoryDatastore(dir, { requireSafePermissions: true });
      const res = await strict.delete([{ kind: 'Tier', name: 'a' }]);
      assert.equal(res.ok, false);
      assert.ok(res.issues.some((i) => i.code === CFG.UNSAFE_PERMISSIONS));
      assert.deepEqual((await loadResourceDir(dir)).files, [kept, path.join(dir, 'b.yaml')]);
    });
  });
});
