/**
 * Packet-mark / ct-mark layout shared by the steering rules and the verdict code.
 *
 * All of nfqwall's bits live inside one configurable, contiguous mask (default 0x7fff0000) so the
 * marks of other software survive: every rule and every verdict changes only these bits.
 *
 * Bits (relative to the mask's lowest bit):
 *   0      ACCEPT   an untracked/preDNAT Allow happened earlier (Calico's accept-mark)
 *   1      UNTRACK  raw-table repeat: the next pass through raw untracks and accepts the packet
 *   2      DECIDED  the flow's verdict is stored (copied packet mark -> ct mark after the verdict)
 *   3      DROP     the stored verdict is deny
 *   4..9   GEN      policy generation (6 bits, wraps) the verdict was made under
 *   10..12 CTSTATE  conntrack state, written by the steering rules just before queueing
 *   13     REPLY    ct direction is reply, written before queueing
 *   14     DNAT     the connection was destination-NATed (ct status dnat), written before queueing
 */

export const CT_STATE_CODES = {
  new: 0,
  established: 1,
  related: 2,
  invalid: 3,
  untracked: 4,
} as const;
export type CtStateCode = (typeof CT_STATE_CODES)[keyof typeof CT_STATE_CODES];

export const GENERATION_BITS = 6;
export const GENERATION_MODULO = 1 << GENERATION_BITS;

export interface MarkLayout {
  /** The whole mask nfqwall owns. */
  mask: number;
  shift: number;
  accept: number;
  untrack: number;
  decided: number;
  drop: number;
  /** Mask of the generation field (already shifted). */
  generationMask: number;
  generationShift: number;
  ctStateMask: number;
  ctStateShift: number;
  reply: number;
  dnat: number;
}

export const DEFAULT_MARK_MASK = 0x7fff0000;

/** Build the layout for a mask: it must be contiguous and at least 15 bits wide. */
export function markLayout(mask: number = DEFAULT_MARK_MASK): MarkLayout {
  mask = mask >>> 0;
  if (mask === 0) throw new RangeError('mark mask must not be 0');
  let shift = 0;
  while (((mask >>> shift) & 1) === 0) shift++;
  const width = 32 - Math.clz32(mask >>> shift);
  if (((mask >>> shift) + 1) & (mask >>> shift)) throw new RangeError(`mark mask 0x${mask.toString(16)} is not contiguous`);
  if (width < 15) throw new RangeError(`mark mask 0x${mask.toString(16)} has ${width} bits; nfqwall needs 15`);
  const bit = (n: number) => ((1 << (shift + n)) >>> 0);
  return {
    mask,
    shift,
    accept: bit(0),
    untrack: bit(1),
    decided: bit(2),
    drop: bit(3),
    generationShift: shift + 4,
    generationMask: (((GENERATION_MODULO - 1) << (shift + 4)) >>> 0),
    ctStateShift: shift + 10,
    ctStateMask: ((7 << (shift + 10)) >>> 0),
    reply: bit(13),
    dnat: bit(14),
  };
}

/** The generation field value for a policy generation number. */
export function generationBits(layout: MarkLayout, generation: number): number {
  return (((generation % GENERATION_MODULO) << layout.generationShift) >>> 0);
}

/** Replace nfqwall's bits of `mark` with `ours`, keeping every other bit. */
export function mergeMark(layout: MarkLayout, mark: number, ours: number): number {
  return (((mark & ~layout.mask) | (ours & layout.mask)) >>> 0);
}
