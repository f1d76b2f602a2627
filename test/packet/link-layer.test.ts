import { strict as assert } from 'node:assert';
import {
  EtherType,
  LinkType,
  ParseFlags,
  ParseStatus,
  buildBsdLoopback,
  buildEthernet,
  buildLinuxSll,
  buildLinuxSll2,
  buildTcp,
  buildUdp,
  createPacketView,
  parseLinkLayer,
  parseStatusName,
} from '../../src/packet';

const tcp4 = buildTcp({ src: '10.0.0.1', dst: '10.0.0.2' }, { sport: 1234, dport: 80, flags: 'S' });
const udp6 = buildUdp({ src: 'fd00::1', dst: 'fd00::2' }, { sport: 5353, dport: 5353, payload: Buffer.from('x') });

interface Case {
  name: string;
  linkType: number;
  frame: () => Buffer;
  status: keyof typeof ParseStatus;
  l3Offset?: number;
  family?: number;
  dport?: number;
  etherType?: number;
  vlanId?: number;
  innerVlanId?: number;
}

const cases: Case[] = [
  { name: 'Ethernet IPv4', linkType: LinkType.ETHERNET, frame: () => buildEthernet(tcp4), status: 'OK', l3Offset: 14, family: 4, dport: 80, etherType: EtherType.IPV4, vlanId: -1 },
  { name: 'Ethernet IPv6', linkType: LinkType.ETHERNET, frame: () => buildEthernet(udp6), status: 'OK', l3Offset: 14, family: 6, dport: 5353, etherType: EtherType.IPV6 },
  {
    name: 'Ethernet padded to the 60-byte minimum',
    linkType: LinkType.ETHERNET,
    frame: () => Buffer.concat([buildEthernet(buildUdp({ src: '10.0.0.1', dst: '10.0.0.2' }, { sport: 1, dport: 2 })), Buffer.alloc(18)]),
    status: 'OK',
    dport: 2,
  },
  { name: '802.1Q', linkType: LinkType.ETHERNET, frame: () => buildEthernet(tcp4, { vlans: [100] }), status: 'OK', l3Offset: 18, family: 4, vlanId: 100, innerVlanId: -1 },
  { name: 'QinQ', linkType: LinkType.ETHERNET, frame: () => buildEthernet(udp6, { vlans: [200, 4095] }), status: 'OK', l3Offset: 22, family: 6, vlanId: 200, innerVlanId: 4095 },
  { name: 'four tags', linkType: LinkType.ETHERNET, frame: () => buildEthernet(tcp4, { vlans: [1, 2, 3, 4] }), status: 'OK', l3Offset: 30, vlanId: 1, innerVlanId: 2 },
  { name: 'five tags', linkType: LinkType.ETHERNET, frame: () => buildEthernet(tcp4, { vlans: [1, 2, 3, 4, 5] }), status: 'BAD_LINK_HEADER' },
  { name: 'ARP', linkType: LinkType.ETHERNET, frame: () => buildEthernet(Buffer.alloc(28), { etherType: EtherType.ARP }), status: 'NOT_IP', etherType: EtherType.ARP, l3Offset: 14, family: 0 },
  { name: 'ARP in a VLAN', linkType: LinkType.ETHERNET, frame: () => buildEthernet(Buffer.alloc(28), { etherType: EtherType.ARP, vlans: [7] }), status: 'NOT_IP', vlanId: 7 },
  { name: '802.3 length field', linkType: LinkType.ETHERNET, frame: () => buildEthernet(Buffer.alloc(46), { etherType: 46 }), status: 'NOT_IP' },
  { name: 'EtherType IPv4 carrying IPv6', linkType: LinkType.ETHERNET, frame: () => buildEthernet(udp6, { etherType: EtherType.IPV4 }), status: 'BAD_VERSION' },
  { name: 'Ethernet header cut short', linkType: LinkType.ETHERNET, frame: () => buildEthernet(tcp4).subarray(0, 13), status: 'TRUNCATED' },
  { name: 'VLAN tag cut short', linkType: LinkType.ETHERNET, frame: () => buildEthernet(tcp4, { vlans: [5] }).subarray(0, 16), status: 'TRUNCATED' },
  { name: 'raw (101) IPv4', linkType: LinkType.RAW, frame: () => tcp4, status: 'OK', l3Offset: 0, family: 4 },
  { name: 'raw (101) IPv6', linkType: LinkType.RAW, frame: () => udp6, status: 'OK', l3Offset: 0, family: 6 },
  { name: 'raw (12)', linkType: LinkType.RAW_ALT_12, frame: () => tcp4, status: 'OK', family: 4 },
  { name: 'raw (14)', linkType: LinkType.RAW_ALT_14, frame: () => udp6, status: 'OK', family: 6 },
  { name: 'LINKTYPE_IPV4', linkType: LinkType.IPV4, frame: () => tcp4, status: 'OK', family: 4, etherType: EtherType.IPV4 },
  { name: 'LINKTYPE_IPV6 with an IPv4 packet', linkType: LinkType.IPV6, frame: () => tcp4, status: 'BAD_VERSION' },
  { name: 'Linux SLL IPv4', linkType: LinkType.LINUX_SLL, frame: () => buildLinuxSll(tcp4), status: 'OK', l3Offset: 16, family: 4, dport: 80 },
  { name: 'Linux SLL IPv6, outgoing', linkType: LinkType.LINUX_SLL, frame: () => buildLinuxSll(udp6, { packetType: 4 }), status: 'OK', l3Offset: 16, family: 6 },
  { name: 'Linux SLL with a VLAN tag', linkType: LinkType.LINUX_SLL, frame: () => buildLinuxSll(Buffer.concat([Buffer.from([0, 9, 0x08, 0x00]), tcp4]), { etherType: EtherType.VLAN }), status: 'OK', l3Offset: 20, vlanId: 9 },
  { name: 'Linux SLL ARP', linkType: LinkType.LINUX_SLL, frame: () => buildLinuxSll(Buffer.alloc(28), { etherType: EtherType.ARP }), status: 'NOT_IP' },
  { name: 'Linux SLL cut short', linkType: LinkType.LINUX_SLL, frame: () => buildLinuxSll(tcp4).subarray(0, 15), status: 'TRUNCATED' },
  { name: 'Linux SLL2 IPv4', linkType: LinkType.LINUX_SLL2, frame: () => buildLinuxSll2(tcp4, { ifIndex: 3 }), status: 'OK', l3Offset: 20, family: 4 },
  { name: 'Linux SLL2 IPv6', linkType: LinkType.LINUX_SLL2, frame: () => buildLinuxSll2(udp6), status: 'OK', l3Offset: 20, family: 6, dport: 5353 },
  { name: 'Linux SLL2 cut short', linkType: LinkType.LINUX_SLL2, frame: () => buildLinuxSll2(udp6).subarray(0, 19), status: 'TRUNCATED' },
  { name: 'NULL little-endian AF_INET', linkType: LinkType.NULL, frame: () => buildBsdLoopback(tcp4), status: 'OK', l3Offset: 4, family: 4 },
  { name: 'NULL big-endian AF_INET', linkType: LinkType.NULL, frame: () => buildBsdLoopback(tcp4, { bigEndian: true }), status: 'OK', family: 4 },
  ...[24, 28, 30].map(
    (af): Case => ({ name: `NULL AF_INET6 = ${af}`, linkType: LinkType.NULL, frame: () => buildBsdLoopback(udp6, { addressFamily: af }), status: 'OK', family: 6, l3Offset: 4 }),
  ),
  { name: 'NULL big-endian AF_INET6 (Darwin)', linkType: LinkType.NULL, frame: () => buildBsdLoopback(udp6, { addressFamily: 30, bigEndian: true }), status: 'OK', family: 6 },
  { name: 'NULL unknown family', linkType: LinkType.NULL, frame: () => buildBsdLoopback(tcp4, { addressFamily: 7 }), status: 'NOT_IP' },
  { name: 'NULL AF_INET carrying IPv6', linkType: LinkType.NULL, frame: () => buildBsdLoopback(udp6, { addressFamily: 2 }), status: 'BAD_VERSION' },
  { name: 'LOOP AF_INET (network order)', linkType: LinkType.LOOP, frame: () => buildBsdLoopback(tcp4, { loop: true }), status: 'OK', family: 4 },
  { name: 'LOOP AF_INET6', linkType: LinkType.LOOP, frame: () => buildBsdLoopback(udp6, { loop: true, addressFamily: 24 }), status: 'OK', family: 6 },
  { name: 'LOOP little-endian is not read as NULL', linkType: LinkType.LOOP, frame: () => buildBsdLoopback(tcp4), status: 'NOT_IP' },
  { name: 'NULL header cut short', linkType: LinkType.NULL, frame: () => Buffer.from([2, 0, 0]), status: 'TRUNCATED' },
  { name: 'unsupported link type (802.11)', linkType: 105, frame: () => tcp4, status: 'UNSUPPORTED_LINK_TYPE' },
];

describe('packet/parseLinkLayer', () => {
  for (const c of cases) {
    it(c.name, () => {
      const view = createPacketView();
      const status = parseLinkLayer(c.frame(), c.linkType, view);
      assert.equal(parseStatusName(status), c.status);
      assert.equal(view.linkType, c.linkType);
      if (c.l3Offset !== undefined) assert.equal(view.l3Offset, c.l3Offset, 'l3Offset');
      if (c.family !== undefined) assert.equal(view.family, c.family, 'family');
      if (c.dport !== undefined) assert.equal(view.dport, c.dport, 'dport');
      if (c.etherType !== undefined) assert.equal(view.etherType, c.etherType, 'etherType');
      if (c.vlanId !== undefined) assert.equal(view.vlanId, c.vlanId, 'vlanId');
      if (c.innerVlanId !== undefined) assert.equal(view.innerVlanId, c.innerVlanId, 'innerVlanId');
    });
  }

  it('takes a frame at an offset inside a larger buffer', () => {
    const frame = buildEthernet(tcp4, { vlans: [3] });
    const buf = Buffer.concat([Buffer.alloc(16), frame]);
    const view = createPacketView();
    assert.equal(parseLinkLayer(buf, LinkType.ETHERNET, view, 16, frame.length), ParseStatus.OK);
    assert.equal(view.l3Offset, 16 + 18);
    assert.equal(view.l4Offset, 16 + 18 + 20);
    assert.equal(view.dport, 80);
  });

  it('passes ALLOW_TRUNCATED through for snaplen-cut frames', () => {
    const frame = buildEthernet(buildTcp({ src: '10.0.0.1', dst: '10.0.0.2' }, { sport: 1, dport: 2, payload: Buffer.alloc(1000) }));
    const view = createPacketView();
    assert.equal(parseLinkLayer(frame.subarray(0, 96), LinkType.ETHERNET, view), ParseStatus.TRUNCATED);
    assert.equal(parseLinkLayer(frame.subarray(0, 96), LinkType.ETHERNET, view, 0, 96, ParseFlags.ALLOW_TRUNCATED), ParseStatus.OK);
    assert.equal(view.truncated, true);
    assert.equal(view.dport, 2);
  });

  it('a NOT_IP frame leaves no IP fields from the previous frame', () => {
    const view = createPacketView();
    parseLinkLayer(buildEthernet(tcp4, { vlans: [8] }), LinkType.ETHERNET, view);
    assert.equal(parseLinkLayer(buildEthernet(Buffer.alloc(28), { etherType: EtherType.ARP }), LinkType.ETHERNET, view), ParseStatus.NOT_IP);
    assert.equal(view.family, 0);
    assert.equal(view.proto, -1);
    assert.equal(view.dport, -1);
    assert.equal(view.vlanId, -1);
    assert.deepEqual(view.src, [0, 0, 0, 0]);
  });
});
