/**
 * A throw-away etcd server for tests and benchmarks: Debian's `etcd` on 127.0.0.1 with two free
 * ports and a temporary data directory. Stop and start it again (same ports, same data) to test
 * what a restart does to watchers. Every wait is bounded.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { get } from 'node:http';
import { get as getTls } from 'node:https';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export const ETCD_BINARY = process.env['NFQWALL_TEST_ETCD'] ?? '/usr/bin/etcd';

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const addr = s.address();
      const port = typeof addr === 'object' && addr !== null ? addr.port : 0;
      s.close(() => resolve(port));
    });
  });
}

/** Serve clients over TLS and require client certificates signed by `caFile`. */
export interface EtcdTls {
  caFile: string;
  certFile: string;
  keyFile: string;
  /** A client certificate for the readiness probe. */
  clientCertFile: string;
  clientKeyFile: string;
}

export class EtcdServer {
  private proc: ChildProcess | null = null;
  private log = '';

  private constructor(
    readonly dataDir: string,
    readonly clientPort: number,
    readonly peerPort: number,
    readonly tls: EtcdTls | undefined,
  ) {}

  get url(): string {
    return `${this.tls ? 'https' : 'http'}://127.0.0.1:${this.clientPort}`;
  }

  static async start(options: { tls?: EtcdTls } = {}): Promise<EtcdServer> {
    const dir = mkdtempSync(join(tmpdir(), 'nfqwall-etcd-'));
    const s = new EtcdServer(dir, await freePort(), await freePort(), options.tls);
    await s.resume();
    return s;
  }

  /** Start (again) on the same ports and data directory; resolves once /health answers. */
  async resume(timeoutMs = 15_000): Promise<void> {
    if (this.proc) return;
    const peer = `http://127.0.0.1:${this.peerPort}`;
    const proc = spawn(
      ETCD_BINARY,
      [
        '--name', 'test',
        '--data-dir', join(this.dataDir, 'data'),
        '--listen-client-urls', this.url,
        '--advertise-client-urls', this.url,
        '--listen-peer-urls', peer,
        '--initial-advertise-peer-urls', peer,
        '--initial-cluster', `test=${peer}`,
        '--log-level', 'error',
        ...(this.tls ? ['--cert-file', this.tls.certFile, '--key-file', this.tls.keyFile, '--client-cert-auth', '--trusted-ca-file', this.tls.caFile] : []),
      ],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    this.proc = proc;
    const keep = (b: Buffer): void => {
      this.log = (this.log + b.toString()).slice(-8000);
    };
    proc.stdout?.on('data', keep);
    proc.stderr?.on('data', keep);
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      if (proc.exitCode !== null) throw new Error(`etcd exited with ${proc.exitCode}: ${this.log}`);
      if (await this.healthy()) return;
      await new Promise((r) => setTimeout(r, 50));
    }
    await this.stop();
    throw new Error(`etcd did not become healthy within ${timeoutMs} ms: ${this.log}`);
  }

  /** SIGTERM, then SIGKILL after `graceMs`; resolves once the process is gone. */
  async stop(graceMs = 5000): Promise<void> {
    const proc = this.proc;
    if (!proc) return;
    this.proc = null;
    if (proc.exitCode !== null || proc.signalCode !== null) return;
    proc.kill('SIGCONT'); // a frozen server cannot handle SIGTERM
    const exited = new Promise<void>((r) => proc.once('exit', () => r()));
    proc.kill('SIGTERM');
    const t = setTimeout(() => proc.kill('SIGKILL'), graceMs);
    await exited;
    clearTimeout(t);
  }

  /** Freeze the server (SIGSTOP): connections stay open but nothing answers, like a partition. */
  pause(): void {
    this.proc?.kill('SIGSTOP');
  }

  resumeFrozen(): void {
    this.proc?.kill('SIGCONT');
  }

  /** Stop and remove the data directory. */
  async destroy(): Promise<void> {
    await this.stop();
    rmSync(this.dataDir, { recursive: true, force: true });
  }

  private healthy(): Promise<boolean> {
    return new Promise((resolve) => {
      const t = this.tls;
      const done = (res: { statusCode?: number; resume(): void }): void => {
        res.resume();
        resolve(res.statusCode === 200);
      };
      const req = t
        ? getTls(`${this.url}/health`, { timeout: 1000, ca: readFileSync(t.caFile), cert: readFileSync(t.clientCertFile), key: readFileSync(t.clientKeyFile) }, done)
        : get(`${this.url}/health`, { timeout: 1000 }, done);
      req.on('error', () => resolve(false));
      req.on('timeout', () => {
        req.destroy();
        resolve(false);
      });
    });
  }
}

/**
 * A throw-away CA with a server certificate for 127.0.0.1 and a client certificate (openssl, P-256).
 * Returns the files of `EtcdTls` inside `dir`.
 */
export function makeTestCertificates(dir: string): EtcdTls {
  const f = (n: string): string => join(dir, n);
  const ssl = (...args: string[]): void => void execFileSync('openssl', args, { stdio: 'ignore' });
  const key = (n: string): void => ssl('genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256', '-out', f(n));
  key('ca.key');
  ssl('req', '-x509', '-new', '-key', f('ca.key'), '-out', f('ca.crt'), '-days', '2', '-subj', '/CN=nfqwall test CA');
  for (const [name, usage] of [['server', 'serverAuth'], ['client', 'clientAuth']] as const) {
    key(`${name}.key`);
    ssl('req', '-new', '-key', f(`${name}.key`), '-out', f(`${name}.csr`), '-subj', `/CN=nfqwall ${name}`);
    writeFileSync(f(`${name}.ext`), `subjectAltName=IP:127.0.0.1\nextendedKeyUsage=${usage}\n`);
    ssl('x509', '-req', '-in', f(`${name}.csr`), '-CA', f('ca.crt'), '-CAkey', f('ca.key'), '-CAcreateserial', '-out', f(`${name}.crt`), '-days', '2', '-extfile', f(`${name}.ext`));
  }
  return { caFile: f('ca.crt'), certFile: f('server.crt'), keyFile: f('server.key'), clientCertFile: f('client.crt'), clientKeyFile: f('client.key') };
}
