import { strict as assert } from 'node:assert';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseQueueStats, readQueueStats } from '../../src/queue/queue-stats';

describe('queue/queue-stats', () => {
  it('parses the kernel seq_show columns of every line', () => {
    const text = ['    3  11725     0 2 65531     0     0        6  1', '65535 4294967295  1024 1 128    17     9 4294967295  1', ''].join('\n');
    assert.deepEqual(parseQueueStats(text), [
      { queueNumber: 3, portId: 11725, queueTotal: 0, copyMode: 2, copyRange: 65531, queueDropped: 0, userDropped: 0, idSequence: 6 },
      {
        queueNumber: 65535,
        portId: 4294967295,
        queueTotal: 1024,
        copyMode: 1,
        copyRange: 128,
        queueDropped: 17,
        userDropped: 9,
        idSequence: 4294967295,
      },
    ]);
  });

  it('skips lines that are not counters', () => {
    assert.deepEqual(parseQueueStats('garbage\n 1 2 3\n\n'), []);
  });

  it('reads a file, and treats a missing one as no queues', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'nfqw-stats-'));
    try {
      const file = join(dir, 'nfnetlink_queue');
      writeFileSync(file, '    0   100     2 2 65531     1     0       42  1\n');
      const [q] = await readQueueStats(file);
      assert.equal(q?.queueTotal, 2);
      assert.equal(q?.queueDropped, 1);
      assert.deepEqual(await readQueueStats(join(dir, 'absent')), []);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
