/**
 * A tiny queue consumer for the dataplane root tests, run inside a test namespace (a queue binds
 * in the namespace of its process): `ip netns exec NS node queue-consumer.js '<json>'`.
 *
 * Config: { queues: number[], verdict: 'accept' | 'repeat', clearMask: number, orMark: number,
 * lifetimeMs }. Every packet gets `verdict` with mark (nfmark & ~clearMask) | orMark. A packet that
 * comes back already carrying orMark (its REPEAT was not consumed by a rule) is accepted instead and
 * counted as a loop. Prints {"event":"ready"}, then {"event":"counts",...} (per queue and per queue
 * and IP protocol) on SIGTERM.
 */
interface NfqPacket {
  info: { nfmark: number };
  payload: Buffer;
  setVerdict(verdict: number, mark?: number): void;
}
interface NfqueueModule {
  NF_ACCEPT: number;
  NF_REPEAT: number;
  createQueueHandler(queue: number, bufferBytes: number, callback: (p: NfqPacket) => void): unknown;
}

interface Answer {
  verdict: 'accept' | 'repeat';
  clearMask: number;
  orMark: number;
}

interface ConsumerConfig extends Answer {
  queues: number[];
  /** Answers for particular queues (by number) instead of the default one. */
  perQueue?: Record<string, Answer>;
  lifetimeMs: number;
}

// eslint-disable-next-line @typescript-eslint/no-var-requires
const nfq = require('nfqueue') as NfqueueModule;
const config = JSON.parse(process.argv[2] ?? '{}') as ConsumerConfig;
const counts: Record<string, number> = {};
/** Per queue and IP protocol ("4102/6"): IPv6 neighbour discovery is untracked and queued too. */
const byProtocol: Record<string, number> = {};
/** nfmark of the first TCP packet per queue, as the steering rules left it. */
const firstTcpMark: Record<string, number> = {};
let loops = 0;

function protocol(payload: Buffer): number {
  const version = (payload[0] ?? 0) >> 4;
  return (version === 6 ? payload[6] : payload[9]) ?? -1;
}

for (const q of config.queues) {
  counts[q] = 0;
  const answer = config.perQueue?.[q] ?? config;
  nfq.createQueueHandler(q, 1 << 20, (p) => {
    counts[q] = (counts[q] ?? 0) + 1;
    const proto = protocol(p.payload);
    const key = `${q}/${proto}`;
    byProtocol[key] = (byProtocol[key] ?? 0) + 1;
    const mark = p.info.nfmark >>> 0;
    if (proto === 6 && firstTcpMark[q] === undefined) firstTcpMark[q] = mark;
    if (answer.orMark !== 0 && (mark & answer.orMark) >>> 0 === answer.orMark) {
      loops++;
      p.setVerdict(nfq.NF_ACCEPT);
      return;
    }
    const next = ((mark & ~answer.clearMask) | answer.orMark) >>> 0;
    if (answer.verdict === 'repeat') p.setVerdict(nfq.NF_REPEAT, next);
    else if (next !== mark) p.setVerdict(nfq.NF_ACCEPT, next);
    else p.setVerdict(nfq.NF_ACCEPT);
  });
}
console.log(JSON.stringify({ event: 'ready' }));

const finish = (code: number) => {
  console.log(JSON.stringify({ event: 'counts', counts, byProtocol, firstTcpMark, loops }));
  process.exit(code);
};
process.on('SIGTERM', () => finish(0));
setTimeout(() => finish(3), config.lifetimeMs).unref();
