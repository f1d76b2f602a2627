import { strict as assert } from 'node:assert';
import { NfqwallError } from '../../src/errors';
import type { InterfaceNames } from '../../src/queue/interface-names';
import type { QueuedPacket } from '../../src/queue/packet-source';
import { NfqueueSource, type NativePacketInfo, type NativeQueue, type NfqueueModule } from '../../src/queue/source-nfqueue';
import { NF_ACCEPT, NF_DROP, NF_REPEAT, type NfVerdict } from '../../src/queue/verdict-codes';

/** A stand-in for the native binding: records every setVerdict call exactly as the addon gets it. */
class FakeBinding {
  calls: unknown[][] = [];
  opened: Array<{ queue: number; buf: number }> = [];
  reads = 0;
  openError: Error | undefined;
  private callback: ((info: NativePacketInfo, payload: Buffer) => void) | undefined;

  readonly module: NfqueueModule;
  constructor() {
    const fake = this;
    const native: NativeQueue = {
      read(cb) {
        fake.reads++;
        fake.callback = cb;
      },
      setVerdict(...args: unknown[]) {
        fake.calls.push(args);
      },
    };
    this.module = {
      NFQueue: class {
        bindings = native;
        open(queue: number, buf: number) {
          if (fake.openError) throw fake.openError;
          fake.opened.push({ queue, buf });
        }
      },
    };
  }

  deliver(id: number, info: Partial<NativePacketInfo> = {}): void {
    assert.ok(this.callback, 'reading has not started');
    this.callback({ id, nfmark: 0, indev: 0, outdev: 0, ...info }, Buffer.from([0x45, 0, 0, 20]));
  }
}

const names: InterfaceNames = {
  name: (i) => ({ 2: 'eth0', 3: 'eth1' })[i],
  refresh: () => undefined,
};

function setup(handler: (p: QueuedPacket, s: NfqueueSource) => void = () => undefined, options = {}) {
  const fake = new FakeBinding();
  const source = new NfqueueSource({ binding: fake.module, interfaceNames: names });
  const seen: QueuedPacket[] = [];
  source.onPacket((p) => {
    seen.push(p);
    handler(p, source);
  });
  source.open(7, options);
  return { fake, source, seen };
}

describe('queue/source-nfqueue (fake binding)', () => {
  it('opens the queue with the default 8 MiB socket buffer and starts reading once', () => {
    const { fake } = setup();
    assert.deepEqual(fake.opened, [{ queue: 7, buf: 8 * 1024 * 1024 }]);
    assert.equal(fake.reads, 1);
  });

  it('starts reading only when both open() and onPacket() happened, in either order', () => {
    const fake = new FakeBinding();
    const source = new NfqueueSource({ binding: fake.module, interfaceNames: names });
    source.open(1, { socketBufferBytes: 4096 });
    assert.equal(fake.reads, 0);
    source.onPacket(() => undefined);
    source.onPacket(() => undefined);
    assert.equal(fake.reads, 1);
    assert.deepEqual(fake.opened, [{ queue: 1, buf: 4096 }]);
  });

  it('hands the handler id, mark, interface indexes and resolved names', () => {
    const { fake, seen } = setup();
    fake.deliver(9, { nfmark: 0x80000001, indev: 2, outdev: 3 });
    fake.deliver(10, { indev: 0, outdev: 42 });
    const [a, b] = seen;
    assert.ok(a && b);
    assert.equal(a.id, 9);
    assert.equal(a.queueNumber, 7);
    assert.equal(a.mark, 0x80000001);
    assert.equal(a.indevName, 'eth0');
    assert.equal(a.outdevName, 'eth1');
    assert.equal(a.payload.length, 4);
    assert.equal(b.indevName, undefined);
    assert.equal(b.outdevName, undefined);
  });

  const markCases: Array<{ name: string; mark: number | undefined; call: unknown[] }> = [
    { name: 'no mark: the 3-argument native call, the packet keeps its mark', mark: undefined, call: [1, NF_ACCEPT, null] },
    { name: 'mark 0 is written (the 4-argument call), not dropped as falsy', mark: 0, call: [1, NF_ACCEPT, 0, null] },
    { name: 'a non-zero mark is written', mark: 0x100, call: [1, NF_ACCEPT, 0x100, null] },
    { name: 'the highest mark is written', mark: 0xffffffff, call: [1, NF_ACCEPT, 0xffffffff, null] },
  ];
  for (const c of markCases) {
    it(c.name, () => {
      const { fake, source } = setup((p, s) => s.verdict(p.id, NF_ACCEPT, c.mark));
      fake.deliver(1, { nfmark: 0x5 });
      assert.deepEqual(fake.calls, [c.call]);
      assert.equal(source.stats().marksWritten, c.mark === undefined ? 0 : 1);
    });
  }

  it('sends exactly one verdict per packet: a second one is refused and counted', () => {
    const { fake, source } = setup((p, s) => {
      assert.equal(s.verdict(p.id, NF_ACCEPT), true);
      assert.equal(s.verdict(p.id, NF_DROP), false);
    });
    fake.deliver(1);
    assert.equal(source.verdict(1, NF_DROP), false);
    assert.equal(source.verdict(99, NF_DROP), false);
    assert.deepEqual(fake.calls, [[1, NF_ACCEPT, null]]);
    const st = source.stats();
    assert.equal(st.errors.duplicateVerdict, 3);
    assert.deepEqual(st.verdicts, { accept: 1, drop: 0, repeat: 0 });
    assert.equal(st.pending, 0);
  });

  it('allows a verdict after the handler returned (the id stays pending until then)', () => {
    const { fake, source } = setup();
    fake.deliver(1);
    fake.deliver(2);
    assert.equal(source.stats().pending, 2);
    assert.equal(source.verdict(2, NF_REPEAT, 0x8), true);
    assert.equal(source.verdict(1, NF_DROP), true);
    assert.deepEqual(fake.calls, [
      [2, NF_REPEAT, 0x8, null],
      [1, NF_DROP, null],
    ]);
    assert.equal(source.stats().pending, 0);
  });

  const badArgs: Array<{ name: string; verdict: number; mark?: number }> = [
    { name: 'NF_STOLEN', verdict: 2 },
    { name: 'NF_STOP', verdict: 5 },
    { name: 'a negative mark', verdict: NF_ACCEPT, mark: -1 },
    { name: 'a mark above 32 bits', verdict: NF_ACCEPT, mark: 2 ** 32 },
    { name: 'a fractional mark', verdict: NF_ACCEPT, mark: 1.5 },
  ];
  for (const c of badArgs) {
    it(`rejects ${c.name} with a RangeError and keeps the packet pending`, () => {
      const { fake, source } = setup();
      fake.deliver(1);
      assert.throws(() => source.verdict(1, c.verdict as NfVerdict, c.mark), RangeError);
      assert.deepEqual(fake.calls, []);
      assert.equal(source.verdict(1, NF_ACCEPT), true);
    });
  }

  it('gives the failure verdict when the handler throws, and reports the error', () => {
    const errors: unknown[] = [];
    const { fake, source } = setup(
      () => {
        throw new Error('boom');
      },
      { failureVerdict: NF_ACCEPT, onError: (e: unknown) => errors.push(e) },
    );
    fake.deliver(4);
    assert.deepEqual(fake.calls, [[4, NF_ACCEPT, null]]);
    assert.equal(errors.length, 1);
    assert.equal(source.stats().errors.handler, 1);
  });

  it('does not add a failure verdict when the handler threw after giving one', () => {
    const { fake, source } = setup((p, s) => {
      s.verdict(p.id, NF_ACCEPT, 0x100);
      throw new Error('late');
    });
    fake.deliver(4);
    assert.deepEqual(fake.calls, [[4, NF_ACCEPT, 0x100, null]]);
    assert.equal(source.stats().errors.handler, 1);
  });

  it('survives an onError callback that throws', () => {
    const { fake } = setup(
      () => {
        throw new Error('boom');
      },
      {
        onError: () => {
          throw new Error('logger broke');
        },
      },
    );
    assert.doesNotThrow(() => fake.deliver(1));
    assert.deepEqual(fake.calls, [[1, NF_DROP, null]]);
  });

  it('close() answers pending packets and everything later with closeVerdict, without the handler', () => {
    const { fake, source, seen } = setup(() => undefined, { closeVerdict: NF_ACCEPT });
    fake.deliver(1);
    fake.deliver(2);
    source.close();
    source.close();
    fake.deliver(3);
    assert.equal(seen.length, 2);
    assert.deepEqual(fake.calls, [
      [1, NF_ACCEPT, null],
      [2, NF_ACCEPT, null],
      [3, NF_ACCEPT, null],
    ]);
    assert.equal(source.verdict(1, NF_DROP), false);
    const st = source.stats();
    assert.equal(st.afterClose, 1);
    assert.equal(st.packets, 3);
    assert.equal(st.pending, 0);
  });

  it('wraps a failed bind as QUEUE_OPEN_FAILED', () => {
    const fake = new FakeBinding();
    fake.openError = new TypeError('Unable to create queue');
    const source = new NfqueueSource({ binding: fake.module, interfaceNames: names });
    assert.throws(
      () => source.open(3),
      (e: unknown) => e instanceof NfqwallError && e.code === 'NFQ_QUEUE_OPEN_FAILED' && /Unable to create queue/.test(e.message),
    );
  });

  const badOpens: Array<{ name: string; queue: number; options?: object }> = [
    { name: 'queue -1', queue: -1 },
    { name: 'queue 65536', queue: 65536 },
    { name: 'a zero socket buffer', queue: 1, options: { socketBufferBytes: 0 } },
    { name: 'failureVerdict NF_STOP', queue: 1, options: { failureVerdict: 5 } },
  ];
  for (const c of badOpens) {
    it(`refuses to open with ${c.name}`, () => {
      const fake = new FakeBinding();
      const source = new NfqueueSource({ binding: fake.module, interfaceNames: names });
      assert.throws(() => source.open(c.queue, c.options), RangeError);
      assert.deepEqual(fake.opened, []);
    });
  }

  it('refuses a second open', () => {
    const { source } = setup();
    assert.throws(() => source.open(8), (e: unknown) => e instanceof NfqwallError && e.code === 'NFQ_QUEUE_OPEN_FAILED');
  });
});
