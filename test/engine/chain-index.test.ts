import { strict as assert } from 'node:assert';
import { CompiledChain, type ChainEntry, type ChainResult } from '../../src/engine/compile/chain';
import { compileRule, type MatchInput } from '../../src/engine/compile/rule-compiler';
import { AddressSetBuilder } from '../../src/engine/compile/address-sets';
import type { EntityRule, Rule } from '../../src/config/resources';
import { ruleKey } from '../../src/engine/decision';
import { Rng } from '../helpers/random';

const origin = { location: { file: 't', line: 1 } };
const entity = (o: Partial<EntityRule> = {}): EntityRule => ({ nets: [], notNets: [], selector: '', notSelector: '', namespaceSelector: '', ports: [], notPorts: [], ...o });

function randomRule(rng: Rng): Rule {
  const proto = rng.pick([undefined, 6, 17, 1]);
  const r: Rule = { action: rng.pick(['Allow', 'Deny', 'Pass', 'Log'] as const), source: entity(), destination: entity(), origin };
  if (proto !== undefined) r.protocol = proto;
  if ((proto === 6 || proto === 17) && rng.bool(0.7)) {
    const a = rng.int(200);
    r.destination.ports = [rng.bool(0.2) ? { kind: 'range', min: a, max: a + rng.int(300) } : { kind: 'range', min: a, max: a }];
    if (rng.bool(0.1)) r.destination.ports.push({ kind: 'range', min: 1, max: 65535 });
  }
  if (rng.bool(0.5)) r.source.nets = [`10.${rng.int(4)}.${rng.int(4)}.0/${rng.pick([8, 16, 24, 30])}`].map((c) => {
    const [addr, len] = c.split('/');
    const parts = addr!.split('.').map(Number);
    const l = Number(len);
    const v = ((parts[0]! << 24) | (parts[1]! << 16) | (parts[2]! << 8)) >>> 0;
    const masked = l === 0 ? 0 : (v & ((0xffffffff << (32 - l)) >>> 0)) >>> 0;
    return `${masked >>> 24}.${(masked >>> 16) & 255}.${(masked >>> 8) & 255}.${masked & 255}/${l}`;
  });
  return r;
}

describe('engine/chain index', () => {
  it('gives exactly the linear scan result on random chains (seeded)', () => {
    const seed = Number(process.env.NFQWALL_SEED ?? 20261126);
    const rng = new Rng(seed);
    const sets = new AddressSetBuilder([]);
    for (let round = 0; round < 60; round++) {
      const entries: ChainEntry[] = [];
      const tiers = 1 + rng.int(4);
      for (let t = 0; t < tiers; t++) {
        const start = entries.length;
        const n = rng.int(40);
        for (let i = 0; i < n; i++) {
          const rule = randomRule(rng);
          entries.push({ rule: compileRule(rule, 4, sets, { kind: 'policy', tier: `t${t}`, policy: 'p', direction: 'ingress', index: i, action: rule.action }), tierEnd: -1, end: null });
        }
        const end = entries.length;
        entries.push({ rule: null, tierEnd: end, end: { pass: rng.bool(0.3), ref: { kind: 'builtin', name: 'end-of-tier', detail: `t${t}` } } });
        for (let i = start; i < end; i++) entries[i]!.tierEnd = end;
      }
      const indexed = new CompiledChain(entries, true, 4, 0);
      const linear = new CompiledChain(entries, true, 4, Number.POSITIVE_INFINITY);
      for (let k = 0; k < 300; k++) {
        const proto = rng.pick([6, 17, 1, 47]);
        const p: MatchInput = {
          family: 4, proto, src: [((10 << 24) | (rng.int(4) << 16) | (rng.int(4) << 8) | rng.int(256)) >>> 0, 0, 0, 0], dst: [0, 0, 0, 0],
          sport: proto === 6 || proto === 17 ? 40000 : -1, dport: proto === 6 || proto === 17 ? rng.int(600) : -1, icmpType: -1, icmpCode: -1,
        };
        const a: ChainResult = { outcome: 0, ref: null, logs: [] };
        const b: ChainResult = { outcome: 0, ref: null, logs: [] };
        indexed.evaluate(p, a);
        linear.evaluate(p, b);
        const show = (r: ChainResult) => `${r.outcome} ${r.ref ? ruleKey(r.ref) : '-'} logs=${r.logs!.map(ruleKey).join(',')}`;
        assert.equal(show(a), show(b), `seed ${seed} round ${round} packet ${k}`);
      }
    }
  });
});
