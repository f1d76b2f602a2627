/**
 * The one holder of the policy in force. A reload builds a new CompiledPolicy off to the side and
 * swaps it in with one assignment; the per-packet path reads `current` once per packet and never
 * awaits, so every packet is judged by exactly one policy version.
 */
import type { CompiledPolicy } from '../engine/compiled-policy';

export class PolicySlot {
  private policy: CompiledPolicy;
  private gen: number;

  constructor(initial: CompiledPolicy, generation = 1) {
    this.policy = initial;
    this.gen = generation;
  }

  get current(): CompiledPolicy {
    return this.policy;
  }

  get generation(): number {
    return this.gen;
  }

  /**
   * Install a recompiled policy under the same generation (interface or address changes): flows
   * decided before stay decided, only HEP bindings change.
   */
  replace(next: CompiledPolicy): void {
    this.policy = next;
  }

  /** Install a new policy; returns the new generation. */
  swap(next: CompiledPolicy): number {
    this.policy = next;
    this.gen += 1;
    return this.gen;
  }
}
