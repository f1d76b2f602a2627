/**
 * The differential check shared by the test suite and the long benchmark run: the compiled engine
 * and the reference evaluator must agree on verdict, no-verdict, untracking and the deciding rule.
 */
import { strict as assert } from 'node:assert';
import { compilePolicy } from '../../src/engine';
import { ruleKey, type Judgement } from '../../src/engine/decision';
import { createReferenceEvaluator } from '../../src/engine/reference';
import { formatIp } from '../../src/net/ip';
import type { PacketFacts } from '../../src/engine/packet-facts';
import { FUZZ_HOST, randomPacket, randomResources } from './policy-fuzz';
import { Rng } from './random';

function show(j: Judgement): string {
  return `${j.verdict}${j.noVerdict ? ' (no verdict)' : ''}${j.untracked ? ' untracked' : ''} by ${ruleKey(j.decidedBy.rule)} @${j.decidedBy.hook}/${j.decidedBy.chain}/${j.decidedBy.endpoint ?? '-'}`;
}

function describePacket(p: PacketFacts): string {
  return `${p.path} iif=${p.iif} oif=${p.oif} ${formatIp(p.src)}:${p.sport} -> ${formatIp(p.dst)}:${p.dport} proto=${p.proto} icmp=${p.icmpType}/${p.icmpCode} ct=${p.ctState} preDnat=${formatIp(p.preDnatDst)}:${p.preDnatDport}`;
}

export function runDifferential(baseSeed: number, sets: number, packetsPerSet: number): { compared: number } {
  let compared = 0;
  for (let s = 0; s < sets; s++) {
    const seed = baseSeed + s;
    const rng = new Rng(seed);
    const resources = randomResources(rng);
    const compiled = compilePolicy(resources, FUZZ_HOST);
    const reference = createReferenceEvaluator(resources, FUZZ_HOST);
    for (let k = 0; k < packetsPerSet; k++) {
      const packet = randomPacket(rng);
      const a = compiled.judge(packet);
      const b = reference.judge(packet);
      const fast = compiled.decide(packet);
      compared++;
      const same = a.verdict === b.verdict && a.noVerdict === b.noVerdict && a.untracked === b.untracked && ruleKey(a.decidedBy.rule) === ruleKey(b.decidedBy.rule);
      if (!same || fast.verdict !== a.verdict || ruleKey(fast.decidedBy.rule) !== ruleKey(a.decidedBy.rule)) {
        const corpus = JSON.stringify(resources, (key, v) => (key === 'origin' ? undefined : v), 1);
        assert.fail(
          `engines disagree (seed ${seed}, packet ${k}; rerun with NFQWALL_SEED=${seed})\n` +
            `packet:    ${describePacket(packet)}\n` +
            `compiled:  ${show(a)}\n` +
            `reference: ${show(b)}\n` +
            `decide():  ${fast.verdict} by ${ruleKey(fast.decidedBy.rule)}\n` +
            `compiled steps:  ${a.steps.map((x) => `${x.hook}/${x.chain}/${x.result}/${ruleKey(x.rule)}`).join(' | ')}\n` +
            `reference steps: ${b.steps.map((x) => `${x.hook}/${x.chain}/${x.result}/${ruleKey(x.rule)}`).join(' | ')}\n` +
            `resources: ${corpus}`,
        );
      }
    }
  }
  return { compared };
}

