/**
 * `--log-format pretty`: one line per record for people at a terminal. Packet and flow records
 * (records.ts fields) become `DENY  tcp 10.10.0.2:40000 -> 10.20.0.2:80 (eth0 -> eth1) at
 * filter-forward: <rule>`; their fields are folded into that line, every other record keeps its
 * fields on the same line. Pure: the pino-pretty transport (pretty-transport.ts) calls it.
 */

/** Fields shown in the one-line form of packet and flow records (not repeated after it). */
export const FOLDED_FIELDS = [
  'event', 'flowId', 'family', 'proto', 'src', 'dst', 'sport', 'dport', 'iif', 'oif', 'stage', 'hep', 'tier', 'policy', 'rule', 'ruleId',
  'action', 'hook', 'ct', 'verdict', 'cached', 'rejudged', 'prefix', 'packetsOrig', 'bytesOrig', 'packetsReply', 'bytesReply', 'counters', 'ctId', 'ctMark',
] as const;

const LABEL: Record<string, string> = { 'packet.denied': 'DENY ', 'flow.decided': 'ALLOW', 'flow.end': 'END  ', 'rule.log': 'LOG  ' };

function endpoint(family: unknown, addr: unknown, port: unknown): string {
  const a = String(addr ?? '?');
  if (typeof port !== 'number') return a;
  return family === 6 ? `[${a}]:${port}` : `${a}:${port}`;
}

/** The line for a record with an `event` this module knows; the message for any other. */
export function prettyMessage(log: Record<string, unknown>, messageKey = 'msg'): string {
  const label = typeof log.event === 'string' ? LABEL[log.event] : undefined;
  const msg = String(log[messageKey] ?? '');
  if (label === undefined) return msg;
  const flow = `${String(log.proto ?? '?')} ${endpoint(log.family, log.src, log.sport)} -> ${endpoint(log.family, log.dst, log.dport)} (${String(log.iif ?? 'local')} -> ${String(log.oif ?? 'local')})`;
  const where = `at ${String(log.stage ?? log.hook ?? '?')}${typeof log.hep === 'string' ? ` of ${log.hep}` : ''}`;
  const rule = String(log.ruleId ?? '?');
  switch (log.event) {
    case 'flow.end':
      return `${label} ${flow}: ${String(log.reason ?? '')}, ${num(log.packetsOrig)} packets / ${num(log.bytesOrig)} bytes out, ${num(log.packetsReply)} / ${num(log.bytesReply)} back (${String(log.counters ?? '')} counters) ${rule}`;
    case 'rule.log':
      return `${label} ${String(log.prefix ?? '')} ${flow} ${where}: ${rule}`;
    default:
      return `${label} ${flow} ${where}: ${rule}${log.rejudged === true ? ' (re-judged after reload)' : ''}`;
  }
}

function num(v: unknown): string {
  return typeof v === 'number' ? String(v) : '-';
}
