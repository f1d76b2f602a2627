import { strict as assert } from 'node:assert';
import { closeSync, openSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { NfqwallError } from '../../src/errors';
import { LINKTYPE, PCAP_WRITE_ERROR, PcapWriter, PcapngWriter, msToNs, readCaptureBuffer } from '../../src/pcap';
import { ipv4Udp, tempDir } from './helpers';

const T0 = 1_700_000_000n * 1_000_000_000n;

function throwsCode(fn: () => unknown, code: string, message?: RegExp): void {
  assert.throws(fn, (e: unknown) => {
    assert.ok(e instanceof NfqwallError, String(e));
    assert.equal(e.code, code);
    if (message) assert.match(e.message, message);
    return true;
  });
}

describe('pcap writers', () => {
  let tmp: ReturnType<typeof tempDir>;
  before(() => {
    tmp = tempDir('pcap-writer');
  });
  after(() => tmp.remove());

  it('writes the documented classic header', () => {
    const b = PcapWriter.toBuffer({ linkType: LINKTYPE.LINUX_SLL2, snaplen: 1234, precision: 'nano' }).contents();
    assert.equal(b.toString('hex'), '4d3cb2a1' + '0200' + '0400' + '00000000' + '00000000' + 'd2040000' + '14010000');
  });

  it('produces the same bytes to a file (small buffer, packets larger than it) as to a Buffer', () => {
    const path = join(tmp.dir, 'same.pcap');
    const opts = { linkType: LINKTYPE.RAW, bufferSize: 256 };
    const f = PcapWriter.toFile(path, opts);
    const m = PcapWriter.toBuffer(opts);
    for (let i = 0; i < 40; i++) {
      const pkt = ipv4Udp('10.0.0.1', '10.0.0.2', 1000 + i, 53, Buffer.alloc(i * 37, i));
      f.write(T0 + BigInt(i) * 1000n, pkt);
      m.write(T0 + BigInt(i) * 1000n, pkt);
    }
    assert.equal(f.packets, 40);
    throwsCode(() => f.contents(), PCAP_WRITE_ERROR.INVALID_ARGUMENT, /toBuffer/);
    f.close();
    f.close(); // idempotent
    assert.ok(readFileSync(path).equals(m.contents()));
    assert.equal(readCaptureBuffer(m.contents()).records.length, 40);
  });

  it('writes to a caller-owned descriptor and leaves it open', () => {
    const path = join(tmp.dir, 'fd.pcapng');
    const fd = openSync(path, 'w');
    const w = PcapngWriter.toFd(fd, { bufferSize: 300 });
    const i = w.addInterface({ linkType: LINKTYPE.ETHERNET, name: 'x' });
    for (let n = 0; n < 20; n++) w.write(i, T0, Buffer.alloc(60, n));
    w.close();
    closeSync(fd); // would throw EBADF if the writer had closed it
    const r = readCaptureBuffer(readFileSync(path));
    assert.equal(r.status.state, 'end');
    assert.equal(r.records.length, 20);
  });

  it('truncates microsecond timestamps and keeps nanoseconds', () => {
    const ts = T0 + 999_999_999n;
    for (const [precision, expected] of [
      ['micro', T0 + 999_999_000n],
      ['nano', ts],
    ] as const) {
      const w = PcapWriter.toBuffer({ linkType: LINKTYPE.RAW, precision });
      w.write(ts, Buffer.alloc(20));
      assert.equal(readCaptureBuffer(w.contents()).records[0]!.timestampNs, expected);
    }
  });

  it('converts milliseconds to nanoseconds exactly', () => {
    assert.equal(msToNs(1_700_000_000_123), 1_700_000_000_123_000_000n);
    assert.equal(msToNs(1_700_000_000_123.5), 1_700_000_000_123_500_000n);
    assert.equal(msToNs(0), 0n);
  });

  it('rejects bad arguments with NFQ_PCAP_INVALID_ARGUMENT', () => {
    const w = PcapWriter.toBuffer({ linkType: LINKTYPE.RAW });
    throwsCode(() => w.write(-1n, Buffer.alloc(1)), PCAP_WRITE_ERROR.INVALID_ARGUMENT, /non-negative/);
    throwsCode(() => w.write(1n << 63n, Buffer.alloc(1)), PCAP_WRITE_ERROR.INVALID_ARGUMENT, /2106/);
    throwsCode(() => w.write(T0, Buffer.alloc(10), 9), PCAP_WRITE_ERROR.INVALID_ARGUMENT, /original length/);
    throwsCode(() => PcapWriter.toBuffer({ linkType: 1, snaplen: 0 }), PCAP_WRITE_ERROR.INVALID_ARGUMENT, /snaplen/);
    throwsCode(() => PcapWriter.toBuffer({ linkType: 1, snaplen: 300_000 }), PCAP_WRITE_ERROR.INVALID_ARGUMENT, /snaplen/);
    throwsCode(() => PcapWriter.toBuffer({ linkType: -1 }), PCAP_WRITE_ERROR.INVALID_ARGUMENT, /link type/);
    w.close();
    throwsCode(() => w.write(T0, Buffer.alloc(1)), PCAP_WRITE_ERROR.INVALID_ARGUMENT, /closed/);

    const n = PcapngWriter.toBuffer();
    throwsCode(() => n.write(0, T0, Buffer.alloc(1)), PCAP_WRITE_ERROR.INVALID_ARGUMENT, /interface 0 was not added/);
    throwsCode(() => n.addInterface({ linkType: 1, name: 'x'.repeat(70000) }), PCAP_WRITE_ERROR.INVALID_ARGUMENT, /65535/);
  });

  it('reports an unwritable path with NFQ_PCAP_WRITE_FAILED', () => {
    throwsCode(() => PcapWriter.toFile(join(tmp.dir, 'no', 'such', 'dir.pcap'), { linkType: 1 }), PCAP_WRITE_ERROR.WRITE_FAILED, /ENOENT/);
    throwsCode(() => PcapngWriter.toFile(join(tmp.dir, 'no', 'such', 'dir.pcapng')), PCAP_WRITE_ERROR.WRITE_FAILED, /ENOENT/);
  });

  it('writes pcapng with SHB, IDBs (if_name, if_tsresol) and padded EPBs', () => {
    const w = PcapngWriter.toBuffer({ userAppl: 'test' });
    w.addInterface({ linkType: LINKTYPE.ETHERNET, name: 'eth0' });
    w.addInterface({ linkType: LINKTYPE.RAW, name: 'wg0', precision: 'nano', snaplen: 0 });
    w.write(1, T0 + 1n, Buffer.alloc(5, 1));
    const b = w.contents();
    // Every block length is a multiple of 4 and matches its trailer.
    let off = 0;
    const types: number[] = [];
    while (off < b.length) {
      const len = b.readUInt32LE(off + 4);
      assert.equal(len % 4, 0);
      assert.equal(b.readUInt32LE(off + len - 4), len);
      types.push(b.readUInt32LE(off));
      off += len;
    }
    assert.equal(off, b.length);
    assert.deepEqual(types, [0x0a0d0d0a, 1, 1, 6]);
    const r = readCaptureBuffer(b);
    assert.deepEqual(
      r.records.map((x) => [x.interfaceName, x.timestampNs, x.data.toString('hex')]),
      [['wg0', T0 + 1n, '0101010101']],
    );
  });
});
