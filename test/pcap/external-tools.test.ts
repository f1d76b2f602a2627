import { strict as assert } from 'node:assert';
import { join } from 'node:path';
import { LINKTYPE, PcapWriter, PcapngWriter } from '../../src/pcap';
import { TCPDUMP, TSHARK, ethernet, haveBinary, ipv4Udp, runTool, tempDir } from './helpers';

// Seconds chosen so that -tt output is easy to predict.
const SEC = 1_700_000_000n;
const ns = (sec: bigint, frac: bigint): bigint => sec * 1_000_000_000n + frac;

const hasTcpdump = haveBinary(TCPDUMP);
const hasTshark = haveBinary(TSHARK);
const itTcpdump = hasTcpdump ? it : it.skip;
const itTshark = hasTshark ? it : it.skip;
const tcpdumpNote = hasTcpdump ? '' : ` (skipped: ${TCPDUMP} is not installed)`;
const tsharkNote = hasTshark ? '' : ` (skipped: ${TSHARK} is not installed)`;

/** Ethernet+IPv4+UDP and raw-IP packets with ports no dissector claims, so output stays plain. */
function writeClassic(path: string, linkType: number, precision: 'micro' | 'nano'): void {
  const w = PcapWriter.toFile(path, { linkType, precision });
  const frame = (p: Buffer): Buffer => (linkType === LINKTYPE.ETHERNET ? ethernet(p) : p);
  w.write(ns(SEC, 123_456_789n), frame(ipv4Udp('192.0.2.1', '198.51.100.7', 40000, 40001)));
  w.write(ns(SEC + 1n, 5_000n), frame(ipv4Udp('203.0.113.5', '192.0.2.99', 33333, 44444, Buffer.alloc(100, 0x61))));
  w.write(ns(SEC + 2n, 0n), frame(ipv4Udp('10.9.8.7', '10.1.2.3', 50505, 60606, Buffer.alloc(300))), 1400);
  w.close();
}

function lines(s: string): string[] {
  return s.split('\n').filter((l) => l.trim() !== '');
}

describe('capture files written here are read by tcpdump and tshark', function () {
  this.timeout(20000);
  let tmp: ReturnType<typeof tempDir>;
  before(() => {
    tmp = tempDir('pcap-tools');
  });
  after(() => tmp.remove());

  for (const [name, linkType] of [
    ['Ethernet', LINKTYPE.ETHERNET],
    ['raw IP', LINKTYPE.RAW],
  ] as const) {
    for (const precision of ['micro', 'nano'] as const) {
      itTcpdump(`tcpdump -nn -r reads a ${precision}second ${name} pcap${tcpdumpNote}`, () => {
        const path = join(tmp.dir, `classic-${linkType}-${precision}.pcap`);
        writeClassic(path, linkType, precision);
        const args = ['-nn', '-tt', '-r', path];
        if (precision === 'nano') args.unshift('--time-stamp-precision=nano');
        const r = runTool(TCPDUMP, args);
        assert.equal(r.status, 0, r.stderr);
        assert.match(r.stderr, linkType === LINKTYPE.ETHERNET ? /link-type EN10MB/ : /link-type RAW/);
        const out = lines(r.stdout);
        assert.equal(out.length, 3, r.stdout);
        const stamps = precision === 'nano' ? ['1700000000.123456789', '1700000001.000005000', '1700000002.000000000'] : ['1700000000.123456', '1700000001.000005', '1700000002.000000'];
        assert.match(out[0]!, new RegExp(`^${stamps[0]} IP 192\\.0\\.2\\.1\\.40000 > 198\\.51\\.100\\.7\\.40001: UDP, length 7$`));
        assert.match(out[1]!, new RegExp(`^${stamps[1]} IP 203\\.0\\.113\\.5\\.33333 > 192\\.0\\.2\\.99\\.44444: UDP, length 100$`));
        assert.match(out[2]!, new RegExp(`^${stamps[2]} IP 10\\.9\\.8\\.7\\.50505 > 10\\.1\\.2\\.3\\.60606: UDP, length 300$`));
      });
    }
  }

  itTshark(`tshark -r reads Ethernet and raw-IP pcaps, both precisions${tsharkNote}`, () => {
    for (const linkType of [LINKTYPE.ETHERNET, LINKTYPE.RAW]) {
      for (const precision of ['micro', 'nano'] as const) {
        const path = join(tmp.dir, `tshark-${linkType}-${precision}.pcap`);
        writeClassic(path, linkType, precision);
        const r = runTool(TSHARK, ['-n', '-r', path, '-T', 'fields', '-e', 'frame.time_epoch', '-e', 'ip.src', '-e', 'ip.dst', '-e', 'udp.srcport', '-e', 'udp.dstport', '-e', 'frame.len', '-e', 'frame.cap_len']);
        assert.equal(r.status, 0, r.stderr);
        const rows = lines(r.stdout).map((l) => l.split('\t'));
        const frac = precision === 'nano' ? '123456789' : '123456000';
        const l2 = linkType === LINKTYPE.ETHERNET ? 14 : 0;
        assert.deepEqual(rows, [
          [`1700000000.${frac}`, '192.0.2.1', '198.51.100.7', '40000', '40001', String(l2 + 35), String(l2 + 35)],
          ['1700000001.000005000', '203.0.113.5', '192.0.2.99', '33333', '44444', String(l2 + 128), String(l2 + 128)],
          ['1700000002.000000000', '10.9.8.7', '10.1.2.3', '50505', '60606', '1400', String(l2 + 328)],
        ]);
      }
    }
  });

  function writeNg(path: string, mixed: boolean): void {
    const w = PcapngWriter.toFile(path);
    const lan = w.addInterface({ linkType: LINKTYPE.ETHERNET, name: 'lan0' });
    // libpcap (tcpdump) requires one link type per file; tshark handles mixed ones.
    const wan = mixed ? w.addInterface({ linkType: LINKTYPE.RAW, name: 'wg0', precision: 'nano' }) : w.addInterface({ linkType: LINKTYPE.ETHERNET, name: 'wan0', precision: 'nano' });
    const wrap = (p: Buffer): Buffer => (mixed ? p : ethernet(p));
    w.write(lan, ns(SEC, 1_000n), ethernet(ipv4Udp('192.168.1.10', '8.8.8.8', 51000, 51001)));
    w.write(wan, ns(SEC, 2_345n), wrap(ipv4Udp('100.64.0.1', '8.8.8.8', 52000, 52001)));
    w.write(lan, ns(SEC + 1n, 0n), ethernet(ipv4Udp('192.168.1.11', '1.1.1.1', 53000, 53001)));
    w.close();
  }

  itTcpdump(`tcpdump -nn -r reads a two-interface pcapng${tcpdumpNote}`, () => {
    const path = join(tmp.dir, 'two.pcapng');
    writeNg(path, false);
    const r = runTool(TCPDUMP, ['-nn', '-tt', '-r', path]);
    assert.equal(r.status, 0, r.stderr);
    const out = lines(r.stdout);
    assert.equal(out.length, 3, r.stdout);
    assert.match(out[0]!, /^1700000000\.000001 IP 192\.168\.1\.10\.51000 > 8\.8\.8\.8\.51001: UDP, length 7$/);
    assert.match(out[1]!, /^1700000000\.000002 IP 100\.64\.0\.1\.52000 > 8\.8\.8\.8\.52001: UDP, length 7$/);
    assert.match(out[2]!, /^1700000001\.000000 IP 192\.168\.1\.11\.53000 > 1\.1\.1\.1\.53001: UDP, length 7$/);
  });

  itTshark(`tshark -r shows interface names of a mixed-link-type pcapng${tsharkNote}`, () => {
    const path = join(tmp.dir, 'mixed.pcapng');
    writeNg(path, true);
    const r = runTool(TSHARK, ['-n', '-r', path, '-T', 'fields', '-e', 'frame.interface_id', '-e', 'frame.interface_name', '-e', 'frame.time_epoch', '-e', 'ip.src', '-e', 'udp.dstport']);
    assert.equal(r.status, 0, r.stderr);
    assert.deepEqual(
      lines(r.stdout).map((l) => l.split('\t')),
      [
        ['0', 'lan0', '1700000000.000001000', '192.168.1.10', '51001'],
        ['1', 'wg0', '1700000000.000002345', '100.64.0.1', '52001'],
        ['0', 'lan0', '1700000001.000000000', '192.168.1.11', '53001'],
      ],
    );
  });
});
