import { strict as assert } from 'node:assert';
import { LINKTYPE, MAX_BLOCK_LENGTH, PCAP_ERROR, PcapngWriter, readCaptureBuffer } from '../../src/pcap';
import { Endian, block, epb, ethernet, i64, idb, ipv4Udp, opb, opt, readViaFile, shb, spb, tempDir, u16, u32 } from './helpers';

const T0 = 1_700_000_000n * 1_000_000_000n;

/** Section with two interfaces, an SPB, unknown and skippable blocks; returns bytes and block starts. */
function richSection(e: Endian): { bytes: Buffer; starts: number[]; packetBlocks: Set<number> } {
  const eth = ethernet(ipv4Udp('192.0.2.1', '192.0.2.2', 1000, 53));
  const raw = ipv4Udp('10.1.0.1', '10.1.0.2', 2000, 443, Buffer.alloc(100, 7));
  const blocks: Array<[Buffer, boolean]> = [
    [shb(e, Buffer.concat([opt(4, Buffer.from('hand-made'), e), opt(0, Buffer.alloc(0), e)])), false],
    [idb(e, LINKTYPE.ETHERNET, 128, [opt(2, Buffer.from('eth0'), e)]), false],
    [block(0x12345678, Buffer.alloc(40, 0xee), e), false], // unknown type
    [idb(e, LINKTYPE.RAW, 0, [opt(2, Buffer.from('wg0\0'), e), opt(9, Buffer.from([9]), e)]), false],
    [epb(e, 0, 1_700_000_000_123_456n, eth), true], // µs units (default resolution)
    [spb(e, Buffer.alloc(128, 1), 200), true], // cut by interface 0's snaplen
    [block(5, Buffer.alloc(16), e), false], // Interface Statistics Block: skipped
    [epb(e, 1, T0 + 987_654_321n, raw, 1500), true], // ns units, snaplen-cut
    [block(4, Buffer.concat([u16(0, e), u16(0, e)]), e), false], // empty Name Resolution Block
  ];
  const starts: number[] = [];
  const packetBlocks = new Set<number>();
  let off = 0;
  for (const [b, isPacket] of blocks) {
    starts.push(off);
    if (isPacket) packetBlocks.add(off);
    off += b.length;
  }
  starts.push(off);
  return { bytes: Buffer.concat(blocks.map(([b]) => b)), starts, packetBlocks };
}

function tsresolIdb(e: Endian, resol: number | undefined, offsetSec?: bigint): Buffer {
  const o: Buffer[] = [];
  if (resol !== undefined) o.push(opt(9, Buffer.from([resol]), e));
  if (offsetSec !== undefined) o.push(opt(14, i64(offsetSec, e), e));
  return idb(e, LINKTYPE.RAW, 0, o);
}

describe('pcapng reader', () => {
  let tmp: ReturnType<typeof tempDir>;
  before(() => {
    tmp = tempDir('pcapng');
  });
  after(() => tmp.remove());

  it('round-trips the writer with two interfaces and both precisions', () => {
    const w = PcapngWriter.toBuffer();
    const a = w.addInterface({ linkType: LINKTYPE.ETHERNET, name: 'eth0', snaplen: 64 });
    const b = w.addInterface({ linkType: LINKTYPE.RAW, name: 'wg0', precision: 'nano' });
    const big = ethernet(ipv4Udp('192.0.2.1', '192.0.2.2', 1, 2, Buffer.alloc(100)));
    w.write(a, T0 + 123_456_789n, big);
    w.write(b, T0 + 123_456_789n, ipv4Udp('10.0.0.1', '10.0.0.2', 3, 4));
    w.write(a, T0 + 2_000_000_000n, big.subarray(0, 42));
    const bytes = w.contents();
    for (const r of [readCaptureBuffer(bytes), readViaFile(tmp.dir, bytes, 16)]) {
      assert.deepEqual(r.status, { state: 'end', records: 3, bytes: bytes.length });
      assert.deepEqual(
        r.records.map((x) => [x.interfaceIndex, x.interfaceName, x.linkType, x.timestampNs, x.capturedLength, x.originalLength, x.truncated, x.section]),
        [
          [0, 'eth0', 1, T0 + 123_456_000n, 64, big.length, true, 0],
          [1, 'wg0', 101, T0 + 123_456_789n, 35, 35, false, 0],
          [0, 'eth0', 1, T0 + 2_000_000_000n, 42, 42, false, 0],
        ],
      );
      assert.ok(r.records[0]!.data.equals(big.subarray(0, 64)));
    }
    assert.equal(readCaptureBuffer(bytes).format, 'pcapng');
  });

  for (const e of ['le', 'be'] as Endian[]) {
    it(`reads a hand-made ${e === 'le' ? 'little' : 'big'}-endian section: 2 IDBs, EPBs, SPB, unknown blocks`, () => {
      const { bytes } = richSection(e);
      for (const r of [readCaptureBuffer(bytes), readViaFile(tmp.dir, bytes, 16)]) {
        assert.equal(r.status.state, 'end');
        assert.equal(r.records.length, 3);
        const [p0, p1, p2] = r.records;
        assert.deepEqual([p0!.interfaceIndex, p0!.interfaceName, p0!.linkType, p0!.timestampNs, p0!.hasTimestamp], [0, 'eth0', 1, 1_700_000_000_123_456_000n, true]);
        assert.equal(p0!.timestampMs, 1_700_000_000_123.456);
        assert.equal(p0!.data.length, 14 + 28 + 7);
        // SPB: interface 0, original length 200, captured = min(200, snaplen 128).
        assert.deepEqual(
          [p1!.interfaceIndex, p1!.interfaceName, p1!.hasTimestamp, p1!.timestampNs, p1!.capturedLength, p1!.originalLength, p1!.truncated],
          [0, 'eth0', false, 0n, 128, 200, true],
        );
        // if_name's trailing NUL is not part of the name; if_tsresol 9 means ns units.
        assert.deepEqual([p2!.interfaceIndex, p2!.interfaceName, p2!.linkType, p2!.timestampNs, p2!.capturedLength, p2!.originalLength], [1, 'wg0', 101, T0 + 987_654_321n, 128, 1500]);
      }
      const r = readCaptureBuffer(bytes);
      assert.equal(r.skippedBlocks, 3);
    });
  }

  it('skips a large unknown block without buffering it (tiny chunk size)', () => {
    const e: Endian = 'le';
    const bytes = Buffer.concat([shb(e), idb(e, 1, 0), block(0x40000bad, Buffer.alloc(100_000, 3), e), epb(e, 0, 5n, Buffer.alloc(60, 9))]);
    const r = readViaFile(tmp.dir, bytes, 16);
    assert.equal(r.status.state, 'end');
    assert.equal(r.records.length, 1);
    assert.ok(r.records[0]!.data.equals(Buffer.alloc(60, 9)));
  });

  it('handles several sections with their own byte order and interfaces', () => {
    const bytes = Buffer.concat([
      shb('le'),
      idb('le', LINKTYPE.ETHERNET, 0, [opt(2, Buffer.from('lan'), 'le')]),
      idb('le', LINKTYPE.RAW, 0, [opt(2, Buffer.from('tun'), 'le')]),
      epb('le', 1, 1n, Buffer.alloc(20)),
      shb('be'),
      idb('be', LINKTYPE.LINUX_SLL2, 0, [opt(2, Buffer.from('any'), 'be')]),
      epb('be', 0, 2n, Buffer.alloc(20)),
    ]);
    const r = readCaptureBuffer(bytes);
    assert.equal(r.status.state, 'end');
    assert.deepEqual(
      r.records.map((x) => [x.section, x.interfaceIndex, x.interfaceName, x.linkType, x.timestampNs]),
      [
        [0, 1, 'tun', LINKTYPE.RAW, 1000n],
        [1, 0, 'any', LINKTYPE.LINUX_SLL2, 2000n],
      ],
    );
    // Interface 1 of the first section does not exist in the second.
    const bad = Buffer.concat([bytes, epb('be', 1, 3n, Buffer.alloc(4))]);
    const rb = readCaptureBuffer(bad);
    assert.equal(rb.records.length, 2);
    assert.equal(rb.error?.code, PCAP_ERROR.UNKNOWN_INTERFACE);
    assert.equal(rb.error?.offset, bytes.length);
  });

  describe('timestamp resolution and offset', () => {
    const cases: Array<[string, number | undefined, bigint, bigint, bigint?]> = [
      ['default µs', undefined, 1_700_000_000_000_001n, 1_700_000_000_000_001_000n],
      ['ms (10^-3)', 3, 1_700_000_000_123n, 1_700_000_000_123_000_000n],
      ['µs (10^-6)', 6, 5n, 5_000n],
      ['ns (10^-9)', 9, 1_700_000_000_123_456_789n, 1_700_000_000_123_456_789n],
      ['ps (10^-12), truncated to ns', 12, 123_456_789_012n, 123_456_789n],
      ['2^-10 s', 0x80 | 10, 3n * 1024n + 512n, 3_500_000_000n],
      ['2^-30 s', 0x80 | 30, (1n << 30n) + 1n, 1_000_000_000n],
      ['2^-0 s (seconds)', 0x80, 7n, 7_000_000_000n],
      ['µs with if_tsoffset', 6, 1_000_000n, 1_600_000_001_000_000_000n, 1_600_000_000n],
      ['ns with negative if_tsoffset', 9, 10_000_000_000n, 5_000_000_000n, -5n],
    ];
    for (const [title, resol, raw, expectNs, offset] of cases) {
      it(title, () => {
        for (const e of ['le', 'be'] as Endian[]) {
          const bytes = Buffer.concat([shb(e), tsresolIdb(e, resol, offset), epb(e, 0, raw, Buffer.alloc(20))]);
          const r = readCaptureBuffer(bytes);
          assert.equal(r.status.state, 'end', r.error?.message);
          assert.equal(r.records[0]!.timestampNs, expectNs, e);
          assert.equal(r.records[0]!.timestampMs, Number(expectNs) / 1e6);
        }
      });
    }
  });

  it('reads Obsolete Packet Blocks', () => {
    for (const e of ['le', 'be'] as Endian[]) {
      const pkt = ipv4Udp('10.0.0.1', '10.0.0.2', 7, 8);
      const r = readCaptureBuffer(Buffer.concat([shb(e), idb(e, LINKTYPE.RAW, 0, [opt(2, Buffer.from('ppp0'), e)]), opb(e, 0, 42n, pkt, 99)]));
      assert.equal(r.status.state, 'end');
      assert.deepEqual(
        r.records.map((x) => [x.interfaceName, x.timestampNs, x.capturedLength, x.originalLength, x.truncated]),
        [['ppp0', 42_000n, pkt.length, 99, true]],
      );
    }
  });

  describe('corruption', () => {
    const head = (): Buffer => Buffer.concat([shb('le'), idb('le', 1, 0)]);
    const one = (extra: Buffer): ReturnType<typeof readCaptureBuffer> => readCaptureBuffer(Buffer.concat([head(), epb('le', 0, 1n, Buffer.alloc(8)), extra]));
    const at = head().length + 32 + 8; // offset of `extra`

    it('rejects a trailing length that differs from the leading one', () => {
      const bad = epb('le', 0, 1n, Buffer.alloc(8));
      bad.writeUInt32LE(bad.length + 4, bad.length - 4);
      const r = one(bad);
      assert.equal(r.records.length, 1);
      assert.equal(r.error?.code, PCAP_ERROR.BLOCK_LENGTH_MISMATCH);
      assert.equal(r.error?.offset, at);
      assert.match(r.error!.message, /total length 40 but trailing copy 44/);
    });

    it('rejects a trailing length mismatch on a skipped block too', () => {
      const bad = block(0x77, Buffer.alloc(8), 'le');
      bad.writeUInt32LE(12, bad.length - 4);
      assert.equal(one(bad).error?.code, PCAP_ERROR.BLOCK_LENGTH_MISMATCH);
      assert.equal(one(bad).error?.offset, at);
    });

    it('rejects a leading length that is off (the trailer then does not match)', () => {
      const bad = epb('le', 0, 1n, Buffer.alloc(8));
      bad.writeUInt32LE(36, 4);
      const r = one(Buffer.concat([bad, epb('le', 0, 1n, Buffer.alloc(8))]));
      assert.equal(r.error?.code, PCAP_ERROR.BLOCK_LENGTH_MISMATCH);
      assert.equal(r.error?.offset, at);
    });

    it('rejects lengths that are not a multiple of 4 or below the minimum', () => {
      for (const [type, len] of [
        [6, 41],
        [6, 28],
        [1, 16],
        [3, 12],
        [0x99, 8],
        [0x99, 0],
      ] as const) {
        const bad = Buffer.concat([u32(type, 'le'), u32(len, 'le'), Buffer.alloc(40)]);
        const r = one(bad);
        assert.equal(r.error?.code, PCAP_ERROR.BAD_BLOCK_LENGTH, `type ${type} length ${len}`);
        assert.equal(r.error?.offset, at);
      }
    });

    it('rejects a packet block larger than the in-memory limit before reading it', () => {
      const bad = Buffer.concat([u32(6, 'le'), u32(MAX_BLOCK_LENGTH + 4, 'le'), Buffer.alloc(16)]);
      const r = one(bad);
      assert.equal(r.error?.code, PCAP_ERROR.BLOCK_TOO_LARGE);
    });

    it('rejects a captured length above 256 KiB, or past its block, or above the original', () => {
      const huge = epb('le', 0, 1n, Buffer.alloc(8));
      huge.writeUInt32LE(300_000, 20);
      assert.equal(one(huge).error?.code, PCAP_ERROR.PACKET_TOO_LARGE);
      const past = epb('le', 0, 1n, Buffer.alloc(8));
      past.writeUInt32LE(9, 20);
      assert.equal(one(past).error?.code, PCAP_ERROR.BAD_LENGTH);
      const orig = epb('le', 0, 1n, Buffer.alloc(8), 7);
      assert.equal(one(orig).error?.code, PCAP_ERROR.BAD_LENGTH);
    });

    it('rejects an unknown interface and an SPB before any IDB', () => {
      assert.equal(one(epb('le', 1, 1n, Buffer.alloc(4))).error?.code, PCAP_ERROR.UNKNOWN_INTERFACE);
      const r = readCaptureBuffer(Buffer.concat([shb('le'), spb('le', Buffer.alloc(4))]));
      assert.equal(r.error?.code, PCAP_ERROR.UNKNOWN_INTERFACE);
      assert.equal(r.error?.offset, 28);
    });

    it('rejects bad interface options', () => {
      const overrun = idb('le', 1, 0, [opt(2, Buffer.from('eth0'), 'le')]);
      overrun.writeUInt16LE(200, 16 + 2); // if_name length now runs past the block
      assert.equal(one(overrun).error?.code, PCAP_ERROR.BAD_OPTION);
      assert.equal(one(idb('le', 1, 0, [opt(9, Buffer.from([6, 0]), 'le')])).error?.code, PCAP_ERROR.BAD_OPTION);
      assert.equal(one(idb('le', 1, 0, [opt(14, Buffer.alloc(4), 'le')])).error?.code, PCAP_ERROR.BAD_OPTION);
    });

    it('rejects a bad byte-order magic and an unsupported version', () => {
      const bom = shb('le');
      bom.writeUInt32LE(0x11223344, 8);
      const r = readCaptureBuffer(bom);
      assert.equal(r.error?.code, PCAP_ERROR.BAD_MAGIC);
      assert.match(r.error!.message, /byte-order magic is 44332211/);
      const v2 = shb('be');
      v2.writeUInt16BE(2, 12);
      assert.equal(readCaptureBuffer(v2).error?.code, PCAP_ERROR.UNSUPPORTED_VERSION);
      // A later section with a bad header stops reading there, after the earlier packets.
      const later = one(bom);
      assert.equal(later.records.length, 1);
      assert.equal(later.error?.code, PCAP_ERROR.BAD_MAGIC);
      assert.equal(later.error?.offset, at);
    });

    for (const e of ['le', 'be'] as Endian[]) {
      it(`handles truncation at every byte offset (${e}): located error or clean end, never a throw`, () => {
        const { bytes, starts, packetBlocks } = richSection(e);
        for (let k = 0; k <= bytes.length; k++) {
          const cut = bytes.subarray(0, k);
          const expectedRecords = [...packetBlocks].filter((s) => s < k && starts[starts.indexOf(s) + 1]! <= k).length;
          for (const r of [readCaptureBuffer(cut), readViaFile(tmp.dir, cut, 16)]) {
            assert.equal(r.records.length, expectedRecords, `cut at ${k}`);
            if (k > 0 && starts.includes(k)) {
              assert.deepEqual(r.status, { state: 'end', records: expectedRecords, bytes: k }, `cut at ${k}`);
            } else {
              assert.equal(r.status.state, 'error', `cut at ${k}`);
              if (r.status.state !== 'error') continue;
              const blockStart = k === 0 ? 0 : Math.max(...starts.filter((s) => s < k));
              assert.equal(r.status.error.code, PCAP_ERROR.TRUNCATED, `cut at ${k}: ${r.status.error.message}`);
              assert.equal(r.status.error.offset, blockStart, `cut at ${k}`);
              assert.equal(r.status.error.recordsBefore, expectedRecords);
            }
          }
        }
      });
    }
  });
});
