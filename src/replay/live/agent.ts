/**
 * Runs inside one lab namespace (`ip netns exec NS node agent.js '{"device":..,"filter":..}'`):
 * captures on `device` with libpcap (`cap`) and sends frames on it. libpcap works in the network
 * namespace of its process, which is why each namespace gets its own agent.
 *
 * JSON lines. stdin: {"op":"send","id":N,"frame":BASE64} | {"op":"quit"}.
 * stdout: {"ev":"ready","linkType":..} | {"ev":"sent","id":N,"t":NS} | {"ev":"packet","t":NS,"data":BASE64}
 *         | {"ev":"error","message":..}. `t` is CLOCK_MONOTONIC (process.hrtime), shared by every process.
 * Exits on "quit", when stdin closes, or after `lifetimeMs` whatever happens.
 */
import { createInterface } from 'node:readline';

interface CapHandle {
  open(device: string, filter: string, bufSize: number, buffer: Buffer): string;
  close(): void;
  send(buffer: Buffer, length?: number): void;
  on(event: 'packet', listener: (nbytes: number, truncated: boolean) => void): void;
}

interface AgentConfig {
  device: string;
  filter: string;
  lifetimeMs: number;
}

function emit(obj: Record<string, unknown>): void {
  process.stdout.write(`${JSON.stringify(obj)}\n`);
}

function main(): void {
  const config = JSON.parse(process.argv[2] ?? '{}') as AgentConfig;
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const { Cap } = require('cap') as { Cap: new () => CapHandle };
  const cap = new Cap();
  const buffer = Buffer.alloc(65_536);
  let linkType: string;
  try {
    linkType = cap.open(config.device, config.filter, 4 * 1024 * 1024, buffer);
  } catch (err) {
    emit({ ev: 'error', message: `cannot open ${config.device}: ${(err as Error).message}` });
    process.exit(1);
  }
  cap.on('packet', (nbytes) => {
    emit({ ev: 'packet', t: process.hrtime.bigint().toString(), data: buffer.toString('base64', 0, nbytes) });
  });
  const stop = (): void => {
    try {
      cap.close();
    } finally {
      process.exit(0);
    }
  };
  setTimeout(stop, config.lifetimeMs).unref();
  const rl = createInterface({ input: process.stdin });
  rl.on('line', (line) => {
    let msg: { op?: string; id?: number; frame?: string };
    try {
      msg = JSON.parse(line) as typeof msg;
    } catch {
      emit({ ev: 'error', message: `bad command: ${line.slice(0, 80)}` });
      return;
    }
    if (msg.op === 'quit') return stop();
    if (msg.op === 'send' && typeof msg.frame === 'string') {
      const frame = Buffer.from(msg.frame, 'base64');
      const t = process.hrtime.bigint().toString();
      try {
        cap.send(frame, frame.length);
        emit({ ev: 'sent', id: msg.id, t });
      } catch (err) {
        emit({ ev: 'error', id: msg.id, message: `send failed: ${(err as Error).message}` });
      }
    }
  });
  rl.on('close', stop);
  emit({ ev: 'ready', linkType });
}

main();
