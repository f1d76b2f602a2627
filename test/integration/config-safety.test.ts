/**
 * The daemon refuses configuration that other users could change: a policy file writable by
 * group or others, and such a settings file. It exits 1 (invalid configuration) or 2 (usage)
 * before touching the router's rules.
 */
import { strict as assert } from 'node:assert';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createTestLab, IS_ROOT, type TestLab } from '../helpers/lab';
import { copyPolicyDir, GUEST_SLOWDOWN, installedRules, killDaemons, removeDir, SEED_DIR, spawnDaemon, waitUntil } from './daemon-helpers';

describe('integration: configuration that others can write is refused @root', function () {
  this.timeout(30_000 * GUEST_SLOWDOWN);
  let lab: TestLab | undefined;
  let dir: string | undefined;
  let settingsDir: string | undefined;

  before(async function () {
    if (!IS_ROOT) this.skip();
    lab = await createTestLab();
  });

  after(async () => {
    await killDaemons();
    await lab?.destroy();
    removeDir(dir);
    if (settingsDir) rmSync(settingsDir, { recursive: true, force: true });
  });

  async function exitOf(d: ReturnType<typeof spawnDaemon>): Promise<number | null> {
    return waitUntil('the daemon to exit', 15_000 * GUEST_SLOWDOWN, () => (d.proc.child.exitCode !== null ? d.proc.child.exitCode : undefined));
  }

  it('a policy file others can write: exit 1 with NFQ_CFG_UNSAFE_PERMISSIONS naming the file, no rules installed', async () => {
    dir = copyPolicyDir(SEED_DIR);
    const file = join(dir, 'hep-router-eth0.yaml');
    chmodSync(file, 0o666);
    const d = spawnDaemon(lab as TestLab, { config: dir, queueBase: 4380 });
    assert.equal(await exitOf(d), 1);
    const refused = d.logs().find((e) => e.code === 'NFQ_CFG_UNSAFE_PERMISSIONS');
    assert.ok(refused, JSON.stringify(d.logs().slice(-5)));
    assert.equal(refused.file, file);
    const rules = await installedRules((lab as TestLab).names.router);
    assert.deepEqual(rules.lines, [], 'nothing installed');
    chmodSync(file, 0o644);
  });

  it('a settings file others can write: exit 2 naming it', async () => {
    settingsDir = mkdtempSync(join(tmpdir(), 'nfqwall-settings-'));
    const settings = join(settingsDir, 'nfqwall.yaml');
    writeFileSync(settings, 'failMode: open\n');
    chmodSync(settings, 0o664);
    const d = spawnDaemon(lab as TestLab, { config: SEED_DIR, queueBase: 4380, settingsFile: settings });
    assert.equal(await exitOf(d), 2);
    assert.match(d.proc.lines.stderr.join('\n'), new RegExp(`refusing settings ${settings}: its group can write it`));
  });
});
