import { strict as assert } from 'node:assert';
import { parseCidr, parseIp, formatIp, prefixContains } from '../../src/net/ip';
import { PrefixSet } from '../../src/net/prefix-set';
import { PortSet } from '../../src/net/port-set';

function set(family: 4 | 6, cidrs: string[]): PrefixSet {
  return PrefixSet.from(family, cidrs.map((c) => parseCidr(c, true)!.prefix));
}

describe('net/ip', () => {
  const cases: [string, boolean][] = [
    ['10.0.0.1', true],
    ['255.255.255.255', true],
    ['256.0.0.1', false],
    ['01.2.3.4', false],
    ['1.2.3', false],
    ['2001:db8::1', true],
    ['::', true],
    ['fe80::1%eth0', false],
    ['10.0.0.0/8', false],
    ['', false],
  ];
  for (const [text, ok] of cases) it(`parseIp(${JSON.stringify(text)}) is ${ok ? 'valid' : 'invalid'}`, () => assert.equal(parseIp(text) !== null, ok));

  it('formats addresses canonically', () => {
    assert.equal(formatIp(parseIp('10.1.2.3')!), '10.1.2.3');
    assert.equal(formatIp(parseIp('2001:0db8:0000:0000:0000:0000:0000:0001')!), '2001:db8::1');
  });
  it('reports host bits in CIDRs', () => {
    assert.equal(parseCidr('10.0.0.5/8')!.hadHostBits, true);
    assert.equal(parseCidr('10.0.0.0/8')!.hadHostBits, false);
    assert.equal(parseCidr('10.0.0.5'), null);
    assert.equal(parseCidr('10.0.0.5', true)!.prefix.length, 32);
    assert.equal(parseCidr('fd00::/129'), null);
  });
  it('prefixContains respects the family', () => {
    const p = parseCidr('0.0.0.0/0')!.prefix;
    assert.equal(prefixContains(p, parseIp('1.2.3.4')!), true);
    assert.equal(prefixContains(p, parseIp('::1')!), false);
  });
});

describe('net/prefix-set', () => {
  it('matches IPv4 members and non-members', () => {
    const s = set(4, ['10.0.0.0/8', '192.168.1.0/24', '192.168.2.0/24', '203.0.113.7/32']);
    for (const a of ['10.255.0.1', '192.168.1.9', '192.168.2.255', '203.0.113.7']) assert.ok(s.contains(parseIp(a)!), a);
    for (const a of ['11.0.0.0', '192.168.3.0', '203.0.113.8', '9.255.255.255']) assert.ok(!s.contains(parseIp(a)!), a);
    assert.equal(s.rangeCount, 3, 'adjacent /24s merge');
  });
  it('matches IPv6 members and non-members', () => {
    const s = set(6, ['fd00:1::/64', '2001:db8::1/128', '::/8']);
    for (const a of ['fd00:1::abcd', '2001:db8::1', '::1', 'ff::1']) assert.ok(s.contains(parseIp(a)!), a);
    for (const a of ['fd00:2::1', '2001:db8::2', '8000::', '100::']) assert.ok(!s.contains(parseIp(a)!), a);
  });
  it('handles /0 and the top of the address space', () => {
    assert.ok(set(4, ['0.0.0.0/0']).contains(parseIp('255.255.255.255')!));
    assert.ok(set(6, ['::/0']).contains(parseIp('ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff')!));
    assert.ok(set(4, ['255.255.255.255/32', '255.255.255.254/32']).contains(parseIp('255.255.255.254')!));
  });
  it('ignores prefixes of the other family and never matches across families', () => {
    const s = set(4, ['10.0.0.0/8', 'fd00::/8']);
    assert.equal(s.rangeCount, 1);
    assert.ok(!s.contains(parseIp('fd00::1')!));
  });
  it('agrees with prefixContains on random data (seeded)', () => {
    let seed = 12345;
    const rnd = () => ((seed = (seed * 1103515245 + 12345) >>> 0) >>> 0);
    for (let round = 0; round < 200; round++) {
      const prefixes = Array.from({ length: 1 + (rnd() % 20) }, () => {
        const len = rnd() % 33;
        const a = parseIp(`${rnd() % 256}.${rnd() % 256}.${rnd() % 256}.${rnd() % 256}`)!;
        return parseCidr(`${formatIp(a)}/${len}`) ? parseCidr(`${formatIp(a)}/${len}`)!.prefix : { family: 4 as const, network: a, length: 32 };
      }).map((p) => ({ ...p, network: { family: 4 as const, words: [(p.network.words[0] & (p.length === 0 ? 0 : (0xffffffff << (32 - p.length)) >>> 0)) >>> 0, 0, 0, 0] as [number, number, number, number] } }));
      const s = PrefixSet.from(4, prefixes);
      for (let k = 0; k < 50; k++) {
        const addr = { family: 4 as const, words: [rnd() >>> 0, 0, 0, 0] as [number, number, number, number] };
        const probe = k % 2 === 0 ? addr : prefixes[k % prefixes.length]!.network;
        assert.equal(s.contains(probe), prefixes.some((p) => prefixContains(p, probe)), `seed round ${round}`);
      }
    }
  });
});

describe('net/port-set', () => {
  it('merges and matches ranges', () => {
    const s = PortSet.from([{ min: 80, max: 80 }, { min: 81, max: 90 }, { min: 1000, max: 2000 }, { min: 1500, max: 1600 }]);
    assert.equal(s.rangeCount, 2);
    for (const p of [80, 85, 90, 1000, 2000]) assert.ok(s.has(p), String(p));
    for (const p of [79, 91, 999, 2001, 0, 65535]) assert.ok(!s.has(p), String(p));
  });
});
