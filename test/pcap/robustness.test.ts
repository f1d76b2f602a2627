import { strict as assert } from 'node:assert';
import fc from 'fast-check';
import { LINKTYPE, PcapReadStatus, PcapRecord, PcapWriter, readCaptureBuffer } from '../../src/pcap';
import { block, epb, ethernet, handPcap, idb, ipv4Udp, opt, readViaFile, shb, spb, tempDir } from './helpers';

function classicSample(): Buffer {
  const w = PcapWriter.toBuffer({ linkType: LINKTYPE.ETHERNET, snaplen: 80 });
  for (let i = 0; i < 6; i++) w.write(BigInt(i) * 1_000_000_123n, ethernet(ipv4Udp('192.0.2.1', '192.0.2.2', 1000 + i, 2000, Buffer.alloc(i * 20, i))));
  return w.contents();
}

function pcapngSample(): Buffer {
  const parts: Buffer[] = [shb('le'), idb('le', 1, 96, [opt(2, Buffer.from('eth0'), 'le'), opt(9, Buffer.from([9]), 'le')]), idb('le', 101, 0, [opt(2, Buffer.from('wg0'), 'le')])];
  for (let i = 0; i < 4; i++) parts.push(epb('le', i % 2, BigInt(i) * 1000n, Buffer.alloc(30 + i * 7, i)));
  parts.push(block(0x0bad, Buffer.alloc(24, 5), 'le'), spb('le', Buffer.alloc(40, 9), 120));
  parts.push(shb('be'), idb('be', 113, 0), epb('be', 0, 77n, Buffer.alloc(16, 1)));
  return Buffer.concat(parts);
}

/** Invariants every read must satisfy, whatever the input. */
function checkOutcome(input: Buffer, records: PcapRecord[], status: PcapReadStatus): void {
  assert.ok(status.state === 'end' || status.state === 'error', status.state);
  assert.equal(status.records, records.length);
  let last = -1;
  for (const r of records) {
    assert.ok(r.offset > last, 'records move forward');
    last = r.offset;
    assert.equal(r.data.length, r.capturedLength);
    assert.ok(r.capturedLength <= r.originalLength);
    assert.equal(r.truncated, r.capturedLength < r.originalLength);
  }
  if (status.state === 'error') {
    const e = status.error;
    assert.match(e.code, /^NFQ_PCAP_[A-Z_]+$/);
    assert.ok(e.offset >= 0 && e.offset <= input.length, `offset ${e.offset} within the input`);
    assert.ok(e.offset > last, 'the error lies after every delivered record');
    assert.equal(e.recordsBefore, records.length);
    assert.ok(e.message.startsWith(`at byte ${e.offset}: `));
  } else {
    assert.equal(status.bytes, input.length);
  }
}

describe('capture reader robustness (property-based)', () => {
  let tmp: ReturnType<typeof tempDir>;
  before(() => {
    tmp = tempDir('pcap-fuzz');
  });
  after(() => tmp.remove());

  const samples: Array<[string, Buffer]> = [
    ['classic little-endian', classicSample()],
    ['classic big-endian nano', handPcap({ endian: 'be', nano: true, linkType: 101, records: [{ sec: 1, frac: 2, data: Buffer.alloc(28, 1) }, { sec: 3, frac: 4, data: Buffer.alloc(9, 2), orig: 99 }] })],
    ['pcapng, two sections', pcapngSample()],
  ];

  for (const [name, sample] of samples) {
    it(`never throws on mutated ${name} input, and the file path agrees with the Buffer path`, () => {
      assert.equal(readCaptureBuffer(sample).status.state, 'end');
      const mutation = fc.record({
        flips: fc.array(fc.tuple(fc.nat({ max: sample.length - 1 }), fc.integer({ min: 0, max: 255 })), { maxLength: 4 }),
        cut: fc.nat({ max: sample.length }),
        chunk: fc.integer({ min: 1, max: 200 }),
      });
      fc.assert(
        fc.property(mutation, ({ flips, cut, chunk }) => {
          const input = Buffer.from(sample);
          for (const [at, value] of flips) input[at] = value;
          const bytes = input.subarray(0, cut);
          const mem = readCaptureBuffer(bytes);
          checkOutcome(bytes, mem.records, mem.status);
          const file = readViaFile(tmp.dir, bytes, chunk);
          assert.deepEqual(file.status, mem.status);
          assert.deepEqual(
            file.records.map((r) => [r.offset, r.timestampNs, r.interfaceName, r.data.toString('hex')]),
            mem.records.map((r) => [r.offset, r.timestampNs, r.interfaceName, r.data.toString('hex')]),
          );
        }),
        { numRuns: 300, seed: 0x5eed },
      );
    });
  }
});
