/**
 * Link-layer header types as stored in capture files (LINKTYPE_* values from tcpdump.org, which
 * differ from the platform DLT_* values in a few places).
 */
export const LINKTYPE = {
  /** BSD loopback: 4-byte address family in host byte order of the capturing machine. */
  NULL: 0,
  ETHERNET: 1,
  /** Raw IPv4/IPv6, version from the first nibble. The portable file value. */
  RAW: 101,
  /** DLT_RAW as written by some BSDs (12) and OpenBSD (14) into older files; same payload as RAW. */
  RAW_ALT_12: 12,
  RAW_ALT_14: 14,
  /** OpenBSD loopback: 4-byte address family in network byte order. */
  LOOP: 108,
  /** Linux "cooked" capture v1 (16-byte header), e.g. `tcpdump -i any`. */
  LINUX_SLL: 113,
  /** Linux "cooked" capture v2 (20-byte header, carries the interface index). */
  LINUX_SLL2: 276,
  IPV4: 228,
  IPV6: 229,
} as const;

export type KnownLinkType = (typeof LINKTYPE)[keyof typeof LINKTYPE];

/** True for the link types whose packets start directly with an IP header. */
export function isRawIpLinkType(linkType: number): boolean {
  return (
    linkType === LINKTYPE.RAW ||
    linkType === LINKTYPE.RAW_ALT_12 ||
    linkType === LINKTYPE.RAW_ALT_14 ||
    linkType === LINKTYPE.IPV4 ||
    linkType === LINKTYPE.IPV6
  );
}

const NAMES = new Map<number, string>(Object.entries(LINKTYPE).map(([name, value]) => [value, name]));

/** `ETHERNET`, `RAW_ALT_12`, ... or `LINKTYPE_<n>` for values not listed above. */
export function linkTypeName(linkType: number): string {
  return NAMES.get(linkType) ?? `LINKTYPE_${linkType}`;
}
