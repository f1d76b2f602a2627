/**
 * A queue consumer for the root tests, run inside a lab namespace (the binding binds the queue in
 * the namespace of its own process): `ip netns exec R node nfqueue-consumer.js '<json>'`.
 *
 * Config: { queue, verdict: 'accept' | 'drop' | 'repeat', mark?: number (set exactly),
 *           orMark?: number (packet mark | orMark), lifetimeMs }.
 * Prints JSON lines: {"event":"ready"}, {"event":"packet",...} for the first 50 packets, and
 * {"event":"stats",...} when it ends (SIGTERM, or exit code 3 at the end of its lifetime).
 */
import { createNfqueueSource } from '../../src/queue/source-nfqueue';
import { NF_ACCEPT, NF_DROP, NF_REPEAT } from '../../src/queue/verdict-codes';

interface ConsumerConfig {
  queue: number;
  verdict: 'accept' | 'drop' | 'repeat';
  mark?: number;
  orMark?: number;
  lifetimeMs: number;
}

const config = JSON.parse(process.argv[2] ?? '{}') as ConsumerConfig;
const code = { accept: NF_ACCEPT, drop: NF_DROP, repeat: NF_REPEAT }[config.verdict];
const source = createNfqueueSource();
let printed = 0;

source.onPacket((p) => {
  if (printed < 50) {
    printed++;
    const version = (p.payload[0] ?? 0) >> 4;
    console.log(
      JSON.stringify({ event: 'packet', id: p.id, mark: p.mark, indev: p.indev, outdev: p.outdev, indevName: p.indevName, outdevName: p.outdevName, len: p.payload.length, version }),
    );
  }
  const mark = config.orMark !== undefined ? (p.mark | config.orMark) >>> 0 : config.mark;
  source.verdict(p.id, code, mark);
});
source.open(config.queue, { socketBufferBytes: 1 << 20 });
console.log(JSON.stringify({ event: 'ready' }));

function finish(exitCode: number): void {
  console.log(JSON.stringify({ event: 'stats', stats: source.stats() }));
  // The binding keeps its socket (and the event loop) until the process exits.
  process.exit(exitCode);
}
process.once('SIGTERM', () => finish(0));
setTimeout(() => finish(3), config.lifetimeMs);
