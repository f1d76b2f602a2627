import { strict as assert } from 'node:assert';
import { spawnSync } from 'node:child_process';
import { closeSync, openSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { CaptureReader, LINKTYPE, PCAP_ERROR, PcapRecord, PcapWriter, readCaptureBuffer } from '../../src/pcap';
import { Endian, ethernet, handPcap, ipv4Udp, readViaFile, tempDir } from './helpers';

const T0 = 1_700_000_000n * 1_000_000_000n;

function samplePackets(): Buffer[] {
  return [
    ethernet(ipv4Udp('192.0.2.1', '198.51.100.7', 40000, 53)),
    ethernet(ipv4Udp('192.0.2.2', '198.51.100.8', 40001, 123, Buffer.alloc(100, 0xab))),
    ethernet(ipv4Udp('192.0.2.3', '198.51.100.9', 40002, 9999, Buffer.alloc(0))),
  ];
}

describe('pcap classic reader', () => {
  let tmp: ReturnType<typeof tempDir>;
  before(() => {
    tmp = tempDir('pcap-classic');
  });
  after(() => tmp.remove());

  for (const precision of ['micro', 'nano'] as const) {
    it(`round-trips writer output (${precision}) from a Buffer and from a file`, () => {
      const w = PcapWriter.toBuffer({ linkType: LINKTYPE.ETHERNET, snaplen: 65535, precision });
      const pkts = samplePackets();
      const stamps = [T0 + 123_456_789n, T0 + 1_000_000_001n, T0 + 2n * 1_000_000_000n + 999_999_999n];
      pkts.forEach((p, i) => w.write(stamps[i]!, p));
      const bytes = w.contents();
      assert.equal(bytes.readUInt32LE(0), precision === 'nano' ? 0xa1b23c4d : 0xa1b2c3d4);

      const r = readCaptureBuffer(bytes);
      assert.deepEqual(r.status, { state: 'end', records: 3, bytes: bytes.length });
      assert.equal(r.format, 'pcap');
      assert.deepEqual(r.header, { byteOrder: 'little', precision, versionMajor: 2, versionMinor: 4, snaplen: 65535, linkType: 1 });
      const expectNs = precision === 'nano' ? stamps : stamps.map((s) => (s / 1000n) * 1000n);
      r.records.forEach((rec, i) => {
        assert.equal(rec.index, i);
        assert.equal(rec.timestampNs, expectNs[i]);
        assert.ok(Math.abs(rec.timestampMs - Number(expectNs[i]!) / 1e6) < 0.001);
        assert.equal(rec.hasTimestamp, true);
        assert.equal(rec.interfaceIndex, 0);
        assert.equal(rec.interfaceName, undefined);
        assert.equal(rec.linkType, LINKTYPE.ETHERNET);
        assert.equal(rec.capturedLength, pkts[i]!.length);
        assert.equal(rec.originalLength, pkts[i]!.length);
        assert.equal(rec.truncated, false);
        assert.ok(rec.data.equals(pkts[i]!));
      });

      // A 16-byte chunk forces records across chunk boundaries and buffer growth.
      for (const chunk of [16, 40, 1 << 20]) {
        const f = readViaFile(tmp.dir, bytes, chunk);
        assert.deepEqual(f.status, r.status, `chunk ${chunk}`);
        assert.deepEqual(
          f.records.map((x) => [x.timestampNs, x.data.toString('hex'), x.offset]),
          r.records.map((x) => [x.timestampNs, x.data.toString('hex'), x.offset]),
        );
      }
    });
  }

  for (const endian of ['le', 'be'] as Endian[]) {
    for (const nano of [false, true]) {
      it(`reads hand-made ${endian === 'be' ? 'big' : 'little'}-endian ${nano ? 'nanosecond' : 'microsecond'} files`, () => {
        const data = ipv4Udp('10.0.0.1', '10.0.0.2', 1, 2);
        const bytes = handPcap({
          endian,
          nano,
          linkType: LINKTYPE.RAW,
          snaplen: 1500,
          records: [
            { sec: 1_700_000_000, frac: nano ? 999_999_999 : 999_999, data },
            { sec: 0xffffffff, frac: 5, data: data.subarray(0, 20), orig: data.length },
          ],
        });
        const r = readCaptureBuffer(bytes);
        assert.equal(r.status.state, 'end');
        assert.equal(r.header?.byteOrder, endian === 'le' ? 'little' : 'big');
        assert.equal(r.header?.precision, nano ? 'nano' : 'micro');
        assert.equal(r.header?.snaplen, 1500);
        assert.equal(r.records.length, 2);
        const [a, b] = r.records as [PcapRecord, PcapRecord];
        assert.equal(a.timestampNs, 1_700_000_000_999_999_999n - (nano ? 0n : 999n));
        assert.equal(a.linkType, LINKTYPE.RAW);
        assert.ok(a.data.equals(data));
        assert.equal(b.timestampNs, 0xffffffffn * 1_000_000_000n + (nano ? 5n : 5000n));
        assert.equal(b.capturedLength, 20);
        assert.equal(b.originalLength, data.length);
        assert.equal(b.truncated, true);
      });
    }
  }

  it('flags snaplen-cut records written by the writer', () => {
    const w = PcapWriter.toBuffer({ linkType: LINKTYPE.ETHERNET, snaplen: 64 });
    const big = ethernet(ipv4Udp('192.0.2.1', '192.0.2.2', 5, 6, Buffer.alloc(200)));
    w.write(T0, big);
    w.write(T0, big.subarray(0, 40), 1400); // cut earlier by someone else
    w.write(T0, big.subarray(0, 60));
    const r = readCaptureBuffer(w.contents());
    assert.deepEqual(
      r.records.map((x) => [x.capturedLength, x.originalLength, x.truncated]),
      [
        [64, big.length, true],
        [40, 1400, true],
        [60, 60, false],
      ],
    );
    assert.ok(r.records[0]!.data.equals(big.subarray(0, 64)));
  });

  it('masks FCS bits out of the header link type', () => {
    const bytes = handPcap({ endian: 'le', linkType: 0x14000001, records: [] });
    assert.equal(readCaptureBuffer(bytes).header?.linkType, 1);
  });

  describe('corruption', () => {
    const good = (): Buffer =>
      handPcap({ endian: 'le', linkType: 1, records: [{ sec: 1, frac: 2, data: Buffer.alloc(30, 1) }, { sec: 3, frac: 4, data: Buffer.alloc(30, 2) }] });

    it('rejects a bad magic at offset 0', () => {
      const r = readCaptureBuffer(Buffer.from('GET / HTTP/1.1\r\nHost: x\r\n\r\n'));
      assert.equal(r.error?.code, PCAP_ERROR.BAD_MAGIC);
      assert.equal(r.error?.offset, 0);
      assert.match(r.error!.message, /^at byte 0: not a pcap or pcapng file \(first 4 bytes 47455420\) \[NFQ_PCAP_BAD_MAGIC\]$/);
      assert.equal(r.records.length, 0);
    });

    it('names the unsupported modified-pcap variant', () => {
      const b = good();
      b.writeUInt32LE(0xa1b2cd34, 0);
      assert.equal(readCaptureBuffer(b).error?.code, PCAP_ERROR.UNSUPPORTED_FORMAT);
    });

    it('rejects versions other than 2.x', () => {
      const r = readCaptureBuffer(handPcap({ endian: 'be', major: 1, linkType: 1, records: [] }));
      assert.equal(r.error?.code, PCAP_ERROR.UNSUPPORTED_VERSION);
      assert.match(r.error!.message, /pcap version 1\.4/);
    });

    it('rejects absurd captured lengths without reading them', () => {
      const b = handPcap({ endian: 'le', linkType: 1, records: [{ sec: 1, frac: 0, data: Buffer.alloc(10) }, { sec: 1, frac: 0, data: Buffer.alloc(4), incl: 0x7fffffff, orig: 0x7fffffff }] });
      const r = readCaptureBuffer(b);
      assert.equal(r.records.length, 1, 'the record before the bad one is delivered');
      assert.equal(r.error?.code, PCAP_ERROR.PACKET_TOO_LARGE);
      assert.equal(r.error?.offset, 24 + 16 + 10);
      assert.equal(r.error?.recordsBefore, 1);
      assert.deepEqual(r.status, { state: 'error', records: 1, error: r.error });
    });

    it('honours a lower per-packet limit', () => {
      const r = readCaptureBuffer(good(), { maxPacketLength: 29 });
      assert.equal(r.error?.code, PCAP_ERROR.PACKET_TOO_LARGE);
      assert.equal(r.error?.offset, 24);
    });

    it('rejects original length below captured length', () => {
      const b = handPcap({ endian: 'le', linkType: 1, records: [{ sec: 1, frac: 0, data: Buffer.alloc(10), orig: 9 }] });
      const r = readCaptureBuffer(b);
      assert.equal(r.error?.code, PCAP_ERROR.BAD_LENGTH);
      assert.equal(r.error?.offset, 24);
    });

    it('rejects a sub-second field out of range (misaligned record)', () => {
      const micro = handPcap({ endian: 'le', linkType: 1, records: [{ sec: 1, frac: 1_000_000, data: Buffer.alloc(4) }] });
      assert.equal(readCaptureBuffer(micro).error?.code, PCAP_ERROR.BAD_TIMESTAMP);
      const nano = handPcap({ endian: 'le', nano: true, linkType: 1, records: [{ sec: 1, frac: 1_000_000, data: Buffer.alloc(4) }] });
      assert.equal(readCaptureBuffer(nano).error, undefined);
    });

    it('reports a record running past the end of the file at the record offset', () => {
      const b = good();
      const r = readCaptureBuffer(b.subarray(0, b.length - 1));
      assert.equal(r.records.length, 1);
      assert.equal(r.error?.code, PCAP_ERROR.TRUNCATED);
      assert.equal(r.error?.offset, 24 + 46);
      assert.match(r.error!.message, /record with 30 captured bytes needs 46 bytes but only 45 remain/);
    });

    it('handles truncation at every byte offset: located error or clean end, never a throw', () => {
      const full = good();
      const boundaries = new Map([
        [24, 0],
        [70, 1],
        [116, 2],
      ]);
      for (let k = 0; k <= full.length; k++) {
        const cut = full.subarray(0, k);
        const viaBuf = readCaptureBuffer(cut);
        const viaFile = readViaFile(tmp.dir, cut, 16);
        for (const r of [viaBuf, viaFile]) {
          const clean = boundaries.get(k);
          if (clean !== undefined) {
            assert.deepEqual(r.status, { state: 'end', records: clean, bytes: k }, `cut at ${k}`);
          } else {
            assert.equal(r.status.state, 'error', `cut at ${k}`);
            const err = r.status.state === 'error' ? r.status.error : undefined;
            assert.equal(err?.code, PCAP_ERROR.TRUNCATED);
            const expectedOffset = k < 24 ? 0 : k < 70 ? 24 : 70;
            assert.equal(err?.offset, expectedOffset, `cut at ${k}`);
            assert.equal(r.records.length, err?.recordsBefore);
            assert.equal(r.records.length, expectedOffset === 70 ? 1 : 0);
          }
        }
      }
    });
  });

  describe('files and descriptors', () => {
    it('reports a missing file as NFQ_PCAP_OPEN_FAILED without throwing', () => {
      const reader = CaptureReader.openFile(join(tmp.dir, 'does-not-exist.pcap'));
      assert.equal(reader.next().done, true);
      assert.equal(reader.error?.code, PCAP_ERROR.OPEN_FAILED);
      assert.match(reader.error!.message, /ENOENT/);
    });

    it('reports a read failure (a directory) as NFQ_PCAP_IO_ERROR', () => {
      const fd = openSync(tmp.dir, 'r');
      try {
        const reader = CaptureReader.fromFd(fd);
        assert.equal(reader.next().done, true);
        assert.equal(reader.error?.code, PCAP_ERROR.IO_ERROR);
        assert.match(reader.error!.message, /EISDIR/);
      } finally {
        closeSync(fd);
      }
    });

    it('leaves a caller-owned descriptor open and closes its own on break', () => {
      const path = join(tmp.dir, 'three.pcap');
      const w = PcapWriter.toFile(path, { linkType: LINKTYPE.RAW });
      for (let i = 0; i < 3; i++) w.write(T0 + BigInt(i), ipv4Udp('10.0.0.1', '10.0.0.2', 1, i));
      w.close();

      const fd = openSync(path, 'r');
      const mine = CaptureReader.fromFd(fd, { chunkSize: 16 });
      assert.equal([...mine].length, 3);
      assert.equal(mine.status.state, 'end');
      closeSync(fd); // still open: closing it must not throw

      const own = CaptureReader.openFile(path);
      for (const rec of own) {
        assert.equal(rec.index, 0);
        break;
      }
      assert.deepEqual(own.status, { state: 'closed', records: 1 });
      assert.equal(own.next().done, true);
    });

    it('keeps the previous record valid only until next(): data is a view of the chunk buffer', () => {
      const path = join(tmp.dir, 'views.pcap');
      const w = PcapWriter.toFile(path, { linkType: LINKTYPE.RAW, bufferSize: 256 });
      for (let i = 0; i < 50; i++) w.write(T0, Buffer.alloc(20, i));
      w.close();
      const reader = CaptureReader.openFile(path, { chunkSize: 64 });
      let n = 0;
      for (const rec of reader) {
        // Each record's own bytes are intact when it is delivered.
        assert.ok(rec.data.equals(Buffer.alloc(20, n)), `record ${n}`);
        n++;
      }
      assert.equal(n, 50);
    });

    it('reads from a pipe (stdin of a child process), in small chunks', () => {
      const w = PcapWriter.toBuffer({ linkType: LINKTYPE.ETHERNET });
      for (let i = 0; i < 2000; i++) w.write(T0 + BigInt(i) * 1000n, Buffer.alloc(100, i & 255));
      const bytes = w.contents(); // larger than a pipe buffer, so reads come back partial
      const script = [
        'const { CaptureReader } = require(process.argv[1]);',
        'const r = CaptureReader.fromFd(0, { chunkSize: 4096 });',
        'let n = 0, ok = true;',
        'for (const x of r) { ok = ok && x.data.equals(Buffer.alloc(100, n & 255)); n++; }',
        'process.stdout.write(JSON.stringify({ n, ok, status: r.status }));',
      ].join('\n');
      const pcapModule = resolve(__dirname, '../../src/pcap');
      const r = spawnSync(process.execPath, ['-e', script, pcapModule], { input: bytes, timeout: 10000, encoding: 'utf8' });
      assert.equal(r.status, 0, r.stderr);
      assert.deepEqual(JSON.parse(r.stdout), { n: 2000, ok: true, status: { state: 'end', records: 2000, bytes: bytes.length } });
    });

    it('reads a file that is not a capture with a located error', () => {
      const path = join(tmp.dir, 'text.pcap');
      writeFileSync(path, 'hello');
      const reader = CaptureReader.openFile(path);
      assert.equal([...reader].length, 0);
      assert.equal(reader.error?.code, PCAP_ERROR.BAD_MAGIC);
    });
  });
});
