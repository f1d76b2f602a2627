import { strict as assert } from 'node:assert';
import type { RuleRef } from '../../src/engine/decision';
import { parseIp } from '../../src/net/ip';
import { parseFilter, type Filter, type FilterSubject } from '../../src/observe/filter';

function ip(t: string) {
  const a = parseIp(t);
  if (!a) throw new Error(t);
  return a;
}

const SSH_RULE: RuleRef = { kind: 'policy', tier: 'default', policy: 'allow-ssh', direction: 'ingress', index: 0, action: 'Allow' };

function subject(init: Partial<Omit<FilterSubject, 'src' | 'dst'>> & { src?: string; dst?: string } = {}): FilterSubject {
  const src = ip(init.src ?? '10.0.0.1');
  return {
    family: src.family,
    proto: 6,
    sport: 40000,
    dport: 22,
    iif: 'eth0',
    oif: 'eth2',
    verdict: 'allow',
    rule: SSH_RULE,
    endpoint: 'gw1-eth0',
    ...init,
    src,
    dst: ip(init.dst ?? '192.168.0.10'),
  };
}

function filter(text: string): Filter {
  const r = parseFilter(text);
  if (!r.ok) throw new Error(`${text}: ${r.error.message}`);
  return r.filter;
}

function errorOf(text: string) {
  const r = parseFilter(text);
  assert.equal(r.ok, false, `expected a parse error for "${text}"`);
  return (r as { ok: false; error: { message: string; token: string | null; position: number | null } }).error;
}

describe('observe/filter', () => {
  it('an empty filter matches everything', () => {
    const f = filter('   ');
    assert.equal(f.text, '');
    assert.equal(f.matches(subject()), true);
  });

  it('host and net match either address; src/dst restrict the side (IPv4)', () => {
    const s = subject({ src: '10.0.0.1', dst: '192.168.0.10' });
    assert.equal(filter('host 10.0.0.1').matches(s), true);
    assert.equal(filter('host 192.168.0.10').matches(s), true);
    assert.equal(filter('host 10.0.0.2').matches(s), false);
    assert.equal(filter('src host 10.0.0.1').matches(s), true);
    assert.equal(filter('dst host 10.0.0.1').matches(s), false);
    assert.equal(filter('net 10.0.0.0/8').matches(s), true);
    assert.equal(filter('dst net 10.0.0.0/8').matches(s), false);
    assert.equal(filter('net 192.168.0.0/16').matches(s), true);
    assert.equal(filter('net 172.16.0.0/12').matches(s), false);
  });

  it('host and net work for IPv6 and never match the other family', () => {
    const s = subject({ src: 'fd00:1::10', dst: '2001:db8::7', proto: 58, sport: -1, dport: -1 });
    assert.equal(s.family, 6);
    assert.equal(filter('host fd00:1::10').matches(s), true);
    assert.equal(filter('host fd00:1:0:0::10').matches(s), true, 'any spelling of the address');
    assert.equal(filter('net fd00::/8').matches(s), true);
    assert.equal(filter('src net 2001:db8::/32').matches(s), false);
    assert.equal(filter('dst net 2001:db8::/32').matches(s), true);
    assert.equal(filter('net 0.0.0.0/0').matches(s), false, 'an IPv4 prefix never contains an IPv6 address');
    assert.equal(filter('ip6').matches(s), true);
    assert.equal(filter('ip4').matches(s), false);
    assert.equal(filter('proto icmpv6').matches(s), true);
  });

  it('port matches either port, ranges are inclusive, packets without ports never match', () => {
    const s = subject({ sport: 40000, dport: 22 });
    assert.equal(filter('port 22').matches(s), true);
    assert.equal(filter('port 40000').matches(s), true);
    assert.equal(filter('dst port 40000').matches(s), false);
    assert.equal(filter('src port 39000-41000').matches(s), true);
    assert.equal(filter('port 23-39999').matches(s), false);
    assert.equal(filter('port 0-65535').matches(subject({ proto: 1, sport: -1, dport: -1 })), false);
  });

  it('proto by name or number, and the shorthands', () => {
    assert.equal(filter('proto tcp').matches(subject()), true);
    assert.equal(filter('proto 6').matches(subject()), true);
    assert.equal(filter('udp').matches(subject()), false);
    assert.equal(filter('proto 47').matches(subject({ proto: 47 })), true);
    assert.equal(filter('proto gre').text, 'proto gre');
  });

  it('interfaces (with + prefix wildcard), verdict, policy (name or tier/name) and hep', () => {
    const s = subject();
    assert.equal(filter('iif eth0').matches(s), true);
    assert.equal(filter('oif eth0').matches(s), false);
    assert.equal(filter('oif eth+').matches(s), true);
    assert.equal(filter('iif eth0').matches(subject({ iif: null })), false, 'an unknown interface matches no iif');
    assert.equal(filter('verdict allow').matches(s), true);
    assert.equal(filter('verdict drop').matches(s), false);
    assert.equal(filter('policy allow-ssh').matches(s), true);
    assert.equal(filter('policy default/allow-ssh').matches(s), true);
    assert.equal(filter('policy other').matches(s), false);
    assert.equal(filter('policy allow-ssh').matches(subject({ rule: { kind: 'builtin', name: 'end-of-tier', detail: 'default' } })), false);
    assert.equal(filter('policy edge').matches(subject({ rule: { kind: 'profile', profile: 'edge', direction: 'ingress', index: 0, action: 'Allow' } })), true);
    assert.equal(filter('hep gw1-eth0').matches(s), true);
  });

  it('and is implicit, or binds looser than and, not binds tightest, parentheses group', () => {
    const s = subject({ src: '10.0.0.1', dport: 22, verdict: 'deny' });
    assert.equal(filter('host 10.0.0.1 port 22').matches(s), true);
    assert.equal(filter('host 10.0.0.1 and port 80').matches(s), false);
    assert.equal(filter('port 80 or port 22').matches(s), true);
    assert.equal(filter('port 80 or port 22 and verdict allow').matches(s), false);
    assert.equal(filter('(port 80 or port 22) and verdict deny').matches(s), true);
    assert.equal(filter('not port 22').matches(s), false);
    assert.equal(filter('not (port 80 or host 9.9.9.9)').matches(s), true);
    assert.equal(filter('! port 80 && host 10.0.0.1 || port 9').matches(s), true);
    assert.equal(filter('(port 80 or port 22) and not verdict allow').text, '(port 80 or port 22) and not verdict allow');
    assert.equal(filter('PORT 22 AND Verdict DENY').text, 'port 22 and verdict deny');
  });

  it('parse errors name the word that could not be used', () => {
    let e = errorOf('host 10.0.0.1 and prot tcp');
    assert.equal(e.token, 'prot');
    assert.equal(e.position, 4);
    assert.match(e.message, /unknown word 'prot' at word 4/);
    e = errorOf('host 10.0.0.300');
    assert.equal(e.token, '10.0.0.300');
    assert.match(e.message, /not an IPv4 or IPv6 address/);
    e = errorOf('net fd00::/129');
    assert.equal(e.token, 'fd00::/129');
    e = errorOf('port 70000');
    assert.match(e.message, /'70000' \(word 2\) is not a port/);
    e = errorOf('port 30-20');
    assert.equal(e.token, '30-20');
    e = errorOf('proto foo');
    assert.match(e.message, /'foo' \(word 2\) is not a protocol/);
    e = errorOf('verdict maybe');
    assert.equal(e.token, 'maybe');
    e = errorOf('port 22 and');
    assert.equal(e.token, null);
    assert.match(e.message, /after 'and', but the filter ends there/);
    e = errorOf('host');
    assert.match(e.message, /expected an IPv4 or IPv6 address after 'host'/);
    e = errorOf('(port 22 or port 80');
    assert.match(e.message, /'\(' at word 1 is never closed/);
    e = errorOf('port 22)');
    assert.equal(e.token, ')');
    e = errorOf('src iif eth0');
    assert.equal(e.token, 'iif');
    e = errorOf('iif and');
    assert.match(e.message, /expected a name after 'iif', not the keyword 'and'/);
  });
});
