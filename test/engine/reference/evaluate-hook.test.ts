import { strict as assert } from 'node:assert';
import { DEFAULT_ALLOW_PROFILE } from '../../../src/config/resources';
import { ruleKey, type HookName } from '../../../src/engine/decision';
import { hooksForPath } from '../../../src/engine/reference';
import { evaluator, gnp, gw1Host, hostOut, packet, port, rule, wanIn, wanToLan, LAN, WAN } from './helpers';

const wan = "network == 'wan'";

describe('reference evaluator: evaluateHook (one hook at a time, as the daemon queues)', () => {
  it('hooks of each path in pipeline order (§5.3)', () => {
    assert.deepEqual(hooksForPath('local-in'), ['raw-prerouting', 'mangle-prerouting', 'filter-input']);
    assert.deepEqual(hooksForPath('forward'), ['raw-prerouting', 'mangle-prerouting', 'filter-forward']);
    assert.deepEqual(hooksForPath('local-out'), ['raw-output', 'filter-output', 'mangle-postrouting']);
  });

  it('untracked Allow: continue with accept-mark and untrack; the next hook accepts on the mark (§5.7)', () => {
    const ev = evaluator({ hostEndpoints: [WAN()], policies: [gnp('dnt', { selector: wan, ingress: [rule('Allow')], doNotTrack: true, applyOnForward: true })] });
    const raw = ev.evaluateHook('raw-prerouting', packet(wanIn(80)), false);
    assert.deepEqual([raw.action, raw.acceptMark, raw.untrack, raw.noVerdict], ['continue', true, true, false]);
    const input = ev.evaluateHook('filter-input', packet(wanIn(80, { ctState: 'untracked' })), true);
    assert.deepEqual([input.action, ruleKey(input.steps[0]!.rule)], ['accept', 'builtin:accept-mark']);
  });

  it('preDNAT Allow: continue with accept-mark, no untrack (§5.6)', () => {
    const ev = evaluator({ hostEndpoints: [WAN()], policies: [gnp('pdn', { selector: wan, ingress: [rule('Allow')], preDNAT: true, applyOnForward: true })] });
    const out = ev.evaluateHook('mangle-prerouting', packet(wanIn(80)), false);
    assert.deepEqual([out.action, out.acceptMark, out.untrack], ['continue', true, false]);
    const marked = ev.evaluateHook('mangle-prerouting', packet(wanIn(80)), true);
    assert.deepEqual([marked.action, marked.acceptMark, ruleKey(marked.steps[0]!.rule)], ['continue', false, 'builtin:accept-mark']);
  });

  it('a hook without applicable chains continues silently', () => {
    const ev = evaluator({ hostEndpoints: [WAN()] });
    for (const hook of ['raw-prerouting', 'mangle-prerouting'] as HookName[]) {
      const out = ev.evaluateHook(hook, packet(wanIn(80)), false);
      assert.deepEqual([out.action, out.steps.length], ['continue', 0], hook);
    }
  });

  it('no verdict: the unmanaged setting gives the action, flagged noVerdict (§7.1)', () => {
    const accept = evaluator({}).evaluateHook('filter-input', packet(wanIn(80)), false);
    assert.deepEqual([accept.action, accept.noVerdict], ['accept', true]);
    const drop = evaluator({}, gw1Host({ unmanagedVerdict: 'drop' })).evaluateHook('filter-input', packet(wanIn(80)), false);
    assert.deepEqual([drop.action, drop.noVerdict], ['drop', true]);
  });

  it('filter FORWARD with the accept-mark still runs the out-HEP leg (Q3)', () => {
    const ev = evaluator({ hostEndpoints: [WAN(), LAN()], policies: [gnp('out', { selector: "network == 'lan'", egress: [rule('Allow', { protocol: 'TCP', destination: { ports: [port(22)] } })], applyOnForward: true })] });
    assert.equal(ev.evaluateHook('filter-forward', packet(wanToLan(80)), true).action, 'drop');
    assert.equal(ev.evaluateHook('filter-forward', packet(wanToLan(22)), true).action, 'accept');
  });

  it('locally originated DNATed packets: filter OUTPUT continues, mangle POSTROUTING decides (§5.3 B)', () => {
    const ev = evaluator({ hostEndpoints: [WAN(), LAN({ profiles: [DEFAULT_ALLOW_PROFILE] })] });
    // nat OUTPUT rewrote 203.0.113.77 (routed via eth0) to a LAN address; the final oif is eth2.
    const p = packet({ ...hostOut(80), oif: 'eth2', dst: '10.0.1.20', preDnatDst: '203.0.113.77', preDnatDport: 80 });
    const output = ev.evaluateHook('filter-output', p, false);
    assert.deepEqual([output.action, output.steps.length], ['continue', 0]);
    const post = ev.evaluateHook('mangle-postrouting', p, false);
    assert.deepEqual([post.action, post.steps[0]!.endpoint], ['accept', 'gw1-eth2']);
    // Not DNATed: mangle POSTROUTING has nothing to judge.
    assert.equal(ev.evaluateHook('mangle-postrouting', packet(hostOut(80)), false).action, 'continue');
  });

  it('judge equals folding evaluateHook over the path', () => {
    const ev = evaluator({
      hostEndpoints: [WAN(), LAN()],
      policies: [
        gnp('dnt', { selector: wan, ingress: [rule('Log'), rule('Allow', { protocol: 'UDP' })], doNotTrack: true, applyOnForward: true }),
        gnp('pdn', { selector: wan, ingress: [rule('Allow', { protocol: 'TCP', destination: { ports: [port(8080)] } })], preDNAT: true, applyOnForward: true }),
      ],
    });
    for (const p of [wanToLan(80), wanToLan(80, { proto: 'UDP' }), wanToLan(80, { preDnatDst: '203.0.113.1', preDnatDport: 8080 }), wanIn(80), wanIn(53, { proto: 'UDP' })]) {
      let f = packet(p);
      let mark = false;
      const steps: string[] = [];
      let action = 'continue';
      for (const hook of hooksForPath(f.path)) {
        const out = ev.evaluateHook(hook, f, mark);
        steps.push(...out.steps.map((s) => ruleKey(s.rule)));
        if (out.untrack) f = { ...f, ctState: 'untracked' };
        mark ||= out.acceptMark;
        action = out.action;
        if (action !== 'continue') break;
      }
      const j = ev.judge(packet(p));
      assert.equal(j.verdict, action === 'accept' ? 'allow' : 'deny');
      assert.deepEqual(j.steps.map((s) => ruleKey(s.rule)), steps);
    }
  });
});
