/**
 * Netfilter verdict numbers (include/uapi/linux/netfilter.h) that nfqwall gives to queued packets.
 * NF_STOLEN is refused by nfnetlink_queue, NF_QUEUE needs a target queue in the high bits and
 * NF_STOP skips later hook entries (NAT, conntrack confirm), so none of them is offered.
 */
export const NF_VERDICT = {
  DROP: 0,
  ACCEPT: 1,
  /** Run the same base chain again from its first rule (needs a mark test before the queue rule). */
  REPEAT: 4,
} as const;

export type NfVerdict = (typeof NF_VERDICT)[keyof typeof NF_VERDICT];

export const NF_DROP = NF_VERDICT.DROP;
export const NF_ACCEPT = NF_VERDICT.ACCEPT;
export const NF_REPEAT = NF_VERDICT.REPEAT;

export type VerdictName = 'drop' | 'accept' | 'repeat';

export function verdictName(v: NfVerdict): VerdictName {
  switch (v) {
    case NF_DROP:
      return 'drop';
    case NF_ACCEPT:
      return 'accept';
    case NF_REPEAT:
      return 'repeat';
  }
}

export function isNfVerdict(v: unknown): v is NfVerdict {
  return v === NF_DROP || v === NF_ACCEPT || v === NF_REPEAT;
}

/** Packet marks are unsigned 32-bit. */
export const MARK_MAX = 0xffffffff;

export function isMark(m: unknown): m is number {
  return typeof m === 'number' && Number.isInteger(m) && m >= 0 && m <= MARK_MAX;
}
