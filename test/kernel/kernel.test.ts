/**
 * The kernel test stage (test/kernel/README.md): Debian's stock kernel, which has nftables' native
 * `queue` expression, booted under qemu.
 *
 * On the host the test is opt-in (NFQWALL_KERNEL_TESTS=1; .ci/run runs test/kernel/run-stage.sh as
 * its own step): it runs prepare.sh, then the smoke script through the harness, and checks that the
 * harness hands back the guest command's exit status. Inside the guest (NFQWALL_IN_GUEST=1, as
 * run-in-guest.sh sets it; run-stage.sh's default file is this one) it runs the smoke script directly.
 */
import { strict as assert } from 'node:assert';
import { spawn } from 'node:child_process';
import { join } from 'node:path';

const KERNEL_DIR = join(__dirname, '..', '..', '..', 'test', 'kernel');
const IN_GUEST = process.env.NFQWALL_IN_GUEST === '1';
const ENABLED = process.env.NFQWALL_KERNEL_TESTS === '1';
const IS_ROOT = process.getuid?.() === 0;

interface Outcome {
  code: number | null;
  output: string;
}

/** Runs a command with a hard lifetime (SIGTERM, then SIGKILL 10 s later); never rejects. */
function run(argv: string[], timeoutMs: number, env: NodeJS.ProcessEnv = process.env): Promise<Outcome> {
  return new Promise((resolve) => {
    const [file, ...args] = argv;
    const child = spawn(file ?? 'false', args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    const collect = (chunk: Buffer): void => {
      output += chunk.toString('utf8');
    };
    child.stdout.on('data', collect);
    child.stderr.on('data', collect);
    const term = setTimeout(() => child.kill('SIGTERM'), timeoutMs);
    const kill = setTimeout(() => child.kill('SIGKILL'), timeoutMs + 10_000);
    child.once('error', (err) => {
      output += String(err);
    });
    child.once('close', (code) => {
      clearTimeout(term);
      clearTimeout(kill);
      resolve({ code, output });
    });
  });
}

function assertOk(what: string, outcome: Outcome): void {
  assert.equal(outcome.code, 0, `${what} exited ${String(outcome.code)}:\n${outcome.output.slice(-8000)}`);
}

const bash = (script: string, ...args: string[]): string[] => ['bash', join(KERNEL_DIR, script), ...args];

if (IN_GUEST) {
  describe('kernel stage, inside the guest @root', function () {
    it('native queue rule, nfqueue consumer and bypass (guest-smoke.sh)', async function () {
      this.timeout(120_000);
      const outcome = await run(bash('guest-smoke.sh'), 100_000);
      assertOk('guest-smoke.sh', outcome);
      assert.match(outcome.output, /^smoke: ok$/m);
    });
  });
} else if (!ENABLED || !IS_ROOT) {
  const reason = !ENABLED
    ? 'set NFQWALL_KERNEL_TESTS=1 to boot the qemu guest; .ci/run runs test/kernel/run-stage.sh as its own step'
    : 'needs root';
  describe('kernel stage: native nft queue on a stock Debian kernel under qemu @root', function () {
    it.skip(`skipped: ${reason}`, function () {
      /* opt-in stage */
    });
  });
} else {
  describe('kernel stage: native nft queue on a stock Debian kernel under qemu @root', function () {
    this.timeout(900_000);

    before('prepare.sh', async function () {
      assertOk('prepare.sh', await run(bash('prepare.sh'), 600_000));
    });

    it('passes the native queue smoke test inside the guest', async function () {
      const env = { ...process.env, NFQWALL_GUEST_TIMEOUT: '240' };
      const outcome = await run(bash('run-in-guest.sh', 'bash', join(KERNEL_DIR, 'guest-smoke.sh')), 260_000, env);
      assertOk('run-in-guest.sh bash guest-smoke.sh', outcome);
      assert.match(outcome.output, /^smoke: consumer judged 5 packets through native queue 7$/m);
      assert.match(outcome.output, /^smoke: ok$/m);
    });

    it("hands back the guest command's exit status and output", async function () {
      const env = { ...process.env, NFQWALL_GUEST_TIMEOUT: '120' };
      const outcome = await run(
        bash('run-in-guest.sh', 'sh', '-c', 'echo "in guest $NFQWALL_IN_GUEST $(uname -r)"; exit 7'),
        140_000,
        env,
      );
      assert.equal(outcome.code, 7, outcome.output.slice(-8000));
      assert.match(outcome.output, /^in guest 1 \S+-amd64$/m);
    });
  });
}
