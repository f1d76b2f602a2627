import { strict as assert } from 'node:assert';
import { DEFAULT_ALLOW_PROFILE } from '../../../src/config/resources';
import { ruleKey } from '../../../src/engine/decision';
import { compareBytes, comparePolicies, orderedTiers } from '../../../src/engine/reference/ordering';
import { decidedBy, gnp, judge, profile, rule, tier, trace, wanIn, wanToLan, WAN, LAN, port } from './helpers';

const wan = "network == 'wan'";
const tcp80 = { protocol: 'TCP' as const, destination: { ports: [port(80)] } };

describe('reference evaluator: tiers, order, Pass, Log, profiles (§3.1, §4)', () => {
  it('tier order: numeric ascending, name tie-break, unordered last, unknown tiers after all (§4.1)', () => {
    const names = orderedTiers(
      [tier('default', 1_000_000), tier('b', 100), tier('a', 100), tier('late', undefined), tier('early', 1)],
      [gnp('p', { tier: 'ghost' })],
    ).map((t) => t.name);
    assert.deepEqual(names, ['early', 'a', 'b', 'default', 'late', 'ghost']);
  });

  it('policy order: order ascending, missing order last, then name//GlobalNetworkPolicy byte-wise (§4.2)', () => {
    const sorted = [gnp('web'), gnp('web-block'), gnp('z', { order: 5 }), gnp('a', { order: 10 }), gnp('B')].sort(comparePolicies).map((p) => p.name);
    assert.deepEqual(sorted, ['z', 'a', 'B', 'web-block', 'web']);
    assert.ok(compareBytes('Z', 'a') < 0);
  });

  it('lower order decides first (§4.2, ORD-01)', () => {
    const j = judge(
      { hostEndpoints: [WAN()], policies: [gnp('allow', { order: 200, selector: wan, ingress: [rule('Allow')] }), gnp('deny', { order: 100, selector: wan, ingress: [rule('Deny')] })] },
      wanIn(80),
    );
    assert.equal(decidedBy(j), 'policy:default/deny/ingress/0:Deny');
  });

  it('within a policy the first matching non-Log rule decides (§3.1)', () => {
    const j = judge(
      { hostEndpoints: [WAN()], policies: [gnp('p', { selector: wan, ingress: [rule('Allow', { protocol: 'UDP' }), rule('Deny', tcp80), rule('Allow')] })] },
      wanIn(80),
    );
    assert.equal(decidedBy(j), 'policy:default/p/ingress/1:Deny');
  });

  it('a policy with no matching rule falls to the next policy of the tier (§3.1)', () => {
    const j = judge(
      { hostEndpoints: [WAN()], policies: [gnp('a', { selector: wan, ingress: [rule('Deny', { protocol: 'UDP' })] }), gnp('b', { selector: wan, ingress: [rule('Allow')] })] },
      wanIn(80),
    );
    assert.equal(decidedBy(j), 'policy:default/b/ingress/0:Allow');
  });

  it('Log is non-terminal and collected in order; nothing deciding gives end-of-tier deny (§3.1, §4.3)', () => {
    const j = judge(
      { hostEndpoints: [WAN()], policies: [gnp('log', { selector: wan, ingress: [rule('Log'), rule('Log', { protocol: 'UDP' }), rule('Log', tcp80)] })] },
      wanIn(80),
    );
    assert.equal(j.verdict, 'deny');
    assert.equal(decidedBy(j), 'builtin:end-of-tier:default');
    assert.deepEqual(j.logs.map(ruleKey), ['policy:default/log/ingress/0:Log', 'policy:default/log/ingress/2:Log']);
  });

  it('Pass skips the rest of the tier and continues with the next tier (§4.3, ORD-05)', () => {
    const j = judge(
      {
        hostEndpoints: [WAN()],
        tiers: [tier('security', 100)],
        policies: [
          gnp('pass', { tier: 'security', order: 1, selector: wan, ingress: [rule('Pass')] }),
          gnp('deny', { tier: 'security', order: 2, selector: wan, ingress: [rule('Deny')] }),
          gnp('allow', { selector: wan, ingress: [rule('Allow')] }),
        ],
      },
      wanIn(80),
    );
    assert.equal(decidedBy(j), 'policy:default/allow/ingress/0:Allow');
  });

  it('end-of-tier deny when no policy of a participating tier decides (§4.3)', () => {
    const j = judge(
      {
        hostEndpoints: [WAN({ profiles: [DEFAULT_ALLOW_PROFILE] })],
        tiers: [tier('security', 100)],
        policies: [gnp('udp-only', { tier: 'security', selector: wan, ingress: [rule('Allow', { protocol: 'UDP' })] }), gnp('allow', { selector: wan, ingress: [rule('Allow')] })],
      },
      wanIn(80),
    );
    assert.equal(decidedBy(j), 'builtin:end-of-tier:security');
  });

  it('tier defaultAction Pass suppresses the end-of-tier drop (§4.3, ORD-07)', () => {
    const j = judge(
      {
        hostEndpoints: [WAN()],
        tiers: [tier('security', 100, 'Pass')],
        policies: [gnp('udp-only', { tier: 'security', selector: wan, ingress: [rule('Allow', { protocol: 'UDP' })] }), gnp('allow', { selector: wan, ingress: [rule('Allow')] })],
      },
      wanIn(80),
    );
    assert.equal(decidedBy(j), 'policy:default/allow/ingress/0:Allow');
  });

  it('only tiers with a policy selecting the endpoint in this direction participate (§4.3, ORD-11)', () => {
    const j = judge(
      {
        hostEndpoints: [WAN()],
        tiers: [tier('other', 100)],
        policies: [
          gnp('elsewhere', { tier: 'other', selector: "network == 'lan'", ingress: [rule('Deny')] }),
          gnp('egress-only', { tier: 'other', selector: wan, egress: [rule('Deny')] }),
          gnp('allow', { selector: wan, ingress: [rule('Allow')] }),
        ],
      },
      wanIn(80),
    );
    assert.equal(decidedBy(j), 'policy:default/allow/ingress/0:Allow');
  });

  it('rules of a direction not in types are ignored (§1.2)', () => {
    const j = judge(
      { hostEndpoints: [WAN({ profiles: [DEFAULT_ALLOW_PROFILE] })], policies: [gnp('p', { selector: wan, types: ['Egress'], ingress: [rule('Deny')], egress: [rule('Allow')] })] },
      wanIn(80),
    );
    assert.equal(decidedBy(j), 'profile:projectcalico-default-allow/ingress/0:Allow');
  });

  it('a tier named by a policy but missing acts as Deny and sorts last (§4.1)', () => {
    const j = judge({ hostEndpoints: [WAN({ profiles: [DEFAULT_ALLOW_PROFILE] })], policies: [gnp('ghost-pol', { tier: 'ghost', selector: wan, ingress: [rule('Log')] })] }, wanIn(80));
    assert.equal(decidedBy(j), 'builtin:end-of-tier:ghost');
  });

  it('profiles run after all tiers passed, in list order (§4.4, ORD-09)', () => {
    const j = judge(
      {
        hostEndpoints: [WAN({ profiles: ['first', 'second'] })],
        profiles: [profile('first', { ingress: [rule('Pass'), rule('Deny')] }), profile('second', { ingress: [rule('Log'), rule('Allow')] })],
        policies: [gnp('pass', { selector: wan, ingress: [rule('Pass')] })],
      },
      wanIn(80),
    );
    assert.equal(decidedBy(j), 'profile:second/ingress/1:Allow');
    assert.deepEqual(j.logs.map(ruleKey), ['profile:second/ingress/0:Log']);
  });

  it('no policy and no allowing profile: deny (§4.4, §5.4 L1)', () => {
    const j = judge({ hostEndpoints: [WAN({ profiles: ['empty'] })], profiles: [profile('empty')] }, wanIn(80));
    assert.equal(decidedBy(j), 'builtin:no-profile-allowed');
  });

  it('a missing profile denies in its place in the list (§1.1)', () => {
    const before = judge({ hostEndpoints: [WAN({ profiles: ['nope', DEFAULT_ALLOW_PROFILE] })] }, wanIn(80));
    assert.equal(decidedBy(before), 'builtin:missing-profile:nope');
    const after = judge({ hostEndpoints: [WAN({ profiles: [DEFAULT_ALLOW_PROFILE, 'nope'] })] }, wanIn(80));
    assert.equal(after.verdict, 'allow');
  });

  it('profiles are never consulted on forward legs (§4.4)', () => {
    const j = judge(
      {
        hostEndpoints: [WAN({ profiles: [DEFAULT_ALLOW_PROFILE] }), LAN()],
        policies: [gnp('fwd-log', { selector: wan, ingress: [rule('Log')], applyOnForward: true })],
      },
      wanToLan(80),
    );
    assert.equal(decidedBy(j), 'builtin:end-of-tier:default');
    assert.deepEqual(trace(j), ['filter-forward/forward-ingress/gw1-eth0:deny:builtin:end-of-tier:default']);
  });
});
