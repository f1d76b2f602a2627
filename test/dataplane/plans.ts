/** Plans for the dataplane tests. */
import { markLayout } from '../../src/dataplane/marks';
import { HOOK_NAMES, type HookName, type HookSteering, type SteeringPlan } from '../../src/dataplane/plan';

export const QUEUE_BASE = 4100;

const off = (n: number): HookSteering => ({ enabled: false, queue: { from: n, to: n }, iifs: { all: false, names: [] }, oifs: { all: false, names: [] } });

/** Every hook disabled; queue numbers QUEUE_BASE + hook index. */
export function emptyPlan(overrides: Partial<Omit<SteeringPlan, 'hooks'>> = {}): SteeringPlan {
  const hooks = Object.fromEntries(HOOK_NAMES.map((h, i) => [h, off(QUEUE_BASE + i)])) as SteeringPlan['hooks'];
  return { table: 'nfqwall', mode: 'flow', failMode: 'open', marks: markLayout(), generation: 1, keepExistingFlows: false, hooks, ...overrides };
}

/** Enable `hook` for the given interface names (iifs and/or oifs). */
export function withHook(plan: SteeringPlan, hook: HookName, ifs: { iifs?: string[] | 'all'; oifs?: string[] | 'all' }): SteeringPlan {
  const m = (v: string[] | 'all' | undefined) => (v === 'all' ? ({ all: true } as const) : { all: false as const, names: v ?? [] });
  return { ...plan, hooks: { ...plan.hooks, [hook]: { ...plan.hooks[hook], enabled: true, iifs: m(ifs.iifs), oifs: m(ifs.oifs) } } };
}

/** Every hook enabled on eth0 (and eth1 where both directions make sense). */
export function fullPlan(overrides: Partial<Omit<SteeringPlan, 'hooks'>> = {}): SteeringPlan {
  let p = emptyPlan(overrides);
  p = withHook(p, 'rawPrerouting', { iifs: ['eth0'] });
  p = withHook(p, 'manglePrerouting', { iifs: ['eth0'] });
  p = withHook(p, 'filterInput', { iifs: ['eth0', 'eth1'] });
  p = withHook(p, 'filterForward', { iifs: ['eth0'], oifs: ['eth1'] });
  p = withHook(p, 'rawOutput', { oifs: ['eth0'] });
  p = withHook(p, 'filterOutput', { oifs: ['eth0', 'eth1'] });
  p = withHook(p, 'manglePostrouting', { oifs: ['eth0', 'eth1'] });
  return p;
}
