import { strict as assert } from 'node:assert';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readInterfaceIndexes, sysfsInterfaceNames } from '../../src/queue/interface-names';

describe('queue/interface-names', () => {
  let dir = '';
  const addIf = (name: string, index: number) => {
    mkdirSync(join(dir, name));
    writeFileSync(join(dir, name, 'ifindex'), `${index}\n`);
  };
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'nfqw-sysnet-'));
    addIf('lo', 1);
    addIf('eth0', 2);
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('reads index -> name from a sysfs-shaped directory', () => {
    assert.deepEqual([...readInterfaceIndexes(dir)].sort(), [
      [1, 'lo'],
      [2, 'eth0'],
    ]);
  });

  it('has no name for index 0 and re-reads on an unknown index', () => {
    const names = sysfsInterfaceNames({ dir, refreshIntervalMs: 0 });
    assert.equal(names.name(0), undefined);
    assert.equal(names.name(2), 'eth0');
    addIf('wg0', 9);
    assert.equal(names.name(9), 'wg0');
  });

  it('re-reads at most once per interval', () => {
    const names = sysfsInterfaceNames({ dir, refreshIntervalMs: 60_000 });
    addIf('wg0', 9);
    assert.equal(names.name(9), undefined);
    names.refresh();
    assert.equal(names.name(9), 'wg0');
  });

  it('returns an empty table when the directory is missing', () => {
    assert.equal(readInterfaceIndexes(join(dir, 'absent')).size, 0);
  });
});
