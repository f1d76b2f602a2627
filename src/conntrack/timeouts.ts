/**
 * Flow timeouts, named after the Linux sysctls (net.netfilter.nf_conntrack_*), in seconds, with
 * the kernel's defaults. `resolveTimeouts` applies overrides and turns them into the millisecond
 * table the flow table reads.
 */
import { TcpState } from './tcp-state';

export interface ConntrackTimeouts {
  nf_conntrack_tcp_timeout_syn_sent: number;
  nf_conntrack_tcp_timeout_syn_recv: number;
  nf_conntrack_tcp_timeout_established: number;
  nf_conntrack_tcp_timeout_fin_wait: number;
  nf_conntrack_tcp_timeout_close_wait: number;
  nf_conntrack_tcp_timeout_last_ack: number;
  nf_conntrack_tcp_timeout_time_wait: number;
  nf_conntrack_tcp_timeout_close: number;
  /** Cap for a connection picked up mid-stream that has not seen a reply yet. */
  nf_conntrack_tcp_timeout_unacknowledged: number;
  /** UDP until the flow is a stream. */
  nf_conntrack_udp_timeout: number;
  /** UDP seen both ways and still active 2 s after the first packet. */
  nf_conntrack_udp_timeout_stream: number;
  nf_conntrack_icmp_timeout: number;
  nf_conntrack_icmpv6_timeout: number;
  /** Every other protocol (GRE, ESP, SCTP here, ...). */
  nf_conntrack_generic_timeout: number;
}

export const DEFAULT_CONNTRACK_TIMEOUTS: Readonly<ConntrackTimeouts> = Object.freeze({
  nf_conntrack_tcp_timeout_syn_sent: 120,
  nf_conntrack_tcp_timeout_syn_recv: 60,
  nf_conntrack_tcp_timeout_established: 432000,
  nf_conntrack_tcp_timeout_fin_wait: 120,
  nf_conntrack_tcp_timeout_close_wait: 60,
  nf_conntrack_tcp_timeout_last_ack: 30,
  nf_conntrack_tcp_timeout_time_wait: 120,
  nf_conntrack_tcp_timeout_close: 10,
  nf_conntrack_tcp_timeout_unacknowledged: 300,
  nf_conntrack_udp_timeout: 30,
  nf_conntrack_udp_timeout_stream: 120,
  nf_conntrack_icmp_timeout: 30,
  nf_conntrack_icmpv6_timeout: 30,
  nf_conntrack_generic_timeout: 600,
});

/** Timeouts in milliseconds, laid out for lookups. */
export interface TimeoutTable {
  /** Indexed by TcpState. SYN_SENT2 uses the syn_sent value (the kernel has no sysctl for it). */
  readonly tcp: readonly number[];
  readonly tcpUnacknowledged: number;
  readonly udp: number;
  readonly udpStream: number;
  readonly icmp: number;
  readonly icmpv6: number;
  readonly generic: number;
  /** The smallest of all: nothing idle for less than this can have expired. */
  readonly min: number;
}

/**
 * Defaults with `overrides` applied, in milliseconds. Throws RangeError on an unknown name or a
 * value that is not a finite number of seconds >= 0 (a configuration error, caught at startup).
 */
export function resolveTimeouts(overrides: Partial<ConntrackTimeouts> = {}): TimeoutTable {
  const t: ConntrackTimeouts = { ...DEFAULT_CONNTRACK_TIMEOUTS };
  for (const [name, value] of Object.entries(overrides)) {
    if (!Object.prototype.hasOwnProperty.call(DEFAULT_CONNTRACK_TIMEOUTS, name)) {
      throw new RangeError(`unknown conntrack timeout '${name}'`);
    }
    if (value === undefined) continue;
    if (typeof value !== 'number' || !Number.isFinite(value) || value < 0) {
      throw new RangeError(`conntrack timeout ${name} must be a number of seconds >= 0, got ${String(value)}`);
    }
    t[name as keyof ConntrackTimeouts] = value;
  }
  const ms = (s: number): number => Math.round(s * 1000);
  const tcp: number[] = [];
  tcp[TcpState.NONE] = ms(t.nf_conntrack_tcp_timeout_syn_sent);
  tcp[TcpState.SYN_SENT] = ms(t.nf_conntrack_tcp_timeout_syn_sent);
  tcp[TcpState.SYN_RECV] = ms(t.nf_conntrack_tcp_timeout_syn_recv);
  tcp[TcpState.ESTABLISHED] = ms(t.nf_conntrack_tcp_timeout_established);
  tcp[TcpState.FIN_WAIT] = ms(t.nf_conntrack_tcp_timeout_fin_wait);
  tcp[TcpState.CLOSE_WAIT] = ms(t.nf_conntrack_tcp_timeout_close_wait);
  tcp[TcpState.LAST_ACK] = ms(t.nf_conntrack_tcp_timeout_last_ack);
  tcp[TcpState.TIME_WAIT] = ms(t.nf_conntrack_tcp_timeout_time_wait);
  tcp[TcpState.CLOSE] = ms(t.nf_conntrack_tcp_timeout_close);
  tcp[TcpState.SYN_SENT2] = ms(t.nf_conntrack_tcp_timeout_syn_sent);
  const table = {
    tcp,
    tcpUnacknowledged: ms(t.nf_conntrack_tcp_timeout_unacknowledged),
    udp: ms(t.nf_conntrack_udp_timeout),
    udpStream: ms(t.nf_conntrack_udp_timeout_stream),
    icmp: ms(t.nf_conntrack_icmp_timeout),
    icmpv6: ms(t.nf_conntrack_icmpv6_timeout),
    generic: ms(t.nf_conntrack_generic_timeout),
  };
  const min = Math.min(...tcp, table.tcpUnacknowledged, table.udp, table.udpStream, table.icmp, table.icmpv6, table.generic);
  return Object.freeze({ ...table, tcp: Object.freeze(tcp), min });
}
