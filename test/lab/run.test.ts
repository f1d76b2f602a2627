import { strict as assert } from 'node:assert';
import { NfqwallError } from '../../src/errors';
import { runChecked, runCommand } from '../../src/lab/run';

describe('lab/run', () => {
  it('reports exit status and output', async () => {
    const ok = await runCommand([process.execPath, '-e', 'process.stdout.write("out"); process.stderr.write("err")']);
    assert.deepEqual({ code: ok.code, stdout: ok.stdout, stderr: ok.stderr, timedOut: ok.timedOut }, { code: 0, stdout: 'out', stderr: 'err', timedOut: false });
    assert.equal((await runCommand([process.execPath, '-e', 'process.exit(3)'])).code, 3);
  });

  it('feeds input to stdin', async () => {
    const r = await runCommand([process.execPath, '-e', 'process.stdin.pipe(process.stdout)'], { input: 'table ip x {}\n' });
    assert.equal(r.stdout, 'table ip x {}\n');
  });

  it('reports a program that cannot start as 127 with the reason', async () => {
    const r = await runCommand(['/nonexistent/nfqwall-test-program']);
    assert.equal(r.code, 127);
    assert.match(r.stderr, /ENOENT/);
  });

  it('kills a command at its timeout', async () => {
    const r = await runCommand([process.execPath, '-e', 'setTimeout(() => {}, 10000)'], { timeoutMs: 200 });
    assert.equal(r.timedOut, true);
    assert.equal(r.code, null);
  });

  it('runChecked throws LAB_COMMAND_FAILED with the command and its stderr', async () => {
    await assert.rejects(
      runChecked([process.execPath, '-e', 'console.error("nope"); process.exit(2)']),
      (e: unknown) => e instanceof NfqwallError && e.code === 'NFQ_LAB_COMMAND_FAILED' && /exited 2: nope/.test(e.message),
    );
  });
});
