/**
 * Installing, replacing and removing steering rules for real, inside network namespaces this file
 * creates (root only). This kernel lacks the nft `queue` expression: the iptables-nft backend is
 * installed for real, the native nft rendering is checked with its queue statements replaced by
 * `accept`. Loading the native rendering itself runs under qemu on a Debian kernel (separate work).
 */
import { strict as assert } from 'node:assert';
import { installSteering, removeSteering, type CommandRunner } from '../../src/dataplane/apply';
import { probeBackend } from '../../src/dataplane/probe';
import { nftRemoveScript, renderNft } from '../../src/dataplane/render-nft';
import { createNetns, IS_ROOT, ruleLines, saveText, type TestNetns } from './netns';
import { emptyPlan, fullPlan, withHook } from './plans';

const ALL_CHAINS: Record<string, string[]> = {
  raw: ['NFQWALL-RAW-OUT', 'NFQWALL-RAW-OUT-STAGE', 'NFQWALL-RAW-PRE', 'NFQWALL-RAW-PRE-STAGE'],
  mangle: ['NFQWALL-MARK-CLEAR', 'NFQWALL-POSTDNAT', 'NFQWALL-POSTDNAT-STAGE', 'NFQWALL-PREDNAT', 'NFQWALL-PREDNAT-STAGE'],
  filter: ['NFQWALL-FORWARD', 'NFQWALL-FORWARD-STAGE', 'NFQWALL-INPUT', 'NFQWALL-INPUT-STAGE', 'NFQWALL-OUTPUT', 'NFQWALL-OUTPUT-STAGE'],
};

/** nfqwall's chains per table, from save output. */
function ourChains(save: string): Record<string, string[]> {
  const out: Record<string, string[]> = {};
  let table = '';
  for (const l of save.split('\n')) {
    if (l.startsWith('*')) table = l.slice(1);
    const m = /^:(NFQWALL-\S+)/.exec(l);
    if (m?.[1]) (out[table] ??= []).push(m[1]);
  }
  for (const t of Object.keys(out)) out[t]?.sort();
  return out;
}

/** Rules of the built-in chain `chain` in table `table`, in order. */
function builtinRules(save: string, table: string, chain: string): string[] {
  let t = '';
  const out: string[] = [];
  for (const l of save.split('\n')) {
    if (l.startsWith('*')) t = l.slice(1);
    else if (t === table && l.startsWith(`-A ${chain} `)) out.push(l);
  }
  return out;
}

const foreign = (lines: string[]) => lines.filter((l) => !l.includes('NFQWALL'));

describe('dataplane install/replace/remove with iptables-nft @root', function () {
  let ns: TestNetns;
  let run: CommandRunner;
  const calls: string[] = [];
  const foreignBefore: Record<4 | 6, string[]> = { 4: [], 6: [] };
  let foreignNft = '';

  before(async function () {
    if (!IS_ROOT) this.skip();
    ns = await createNetns();
    run = (file, args, input) => {
      calls.push([file, ...args].join(' '));
      return ns.run(file, args, input);
    };
    // Other software's rules: they must come through every step unchanged and in order.
    await ns.sh('iptables-nft', '-A', 'INPUT', '-s', '192.0.2.1', '-j', 'DROP');
    await ns.sh('iptables-nft', '-t', 'mangle', '-A', 'POSTROUTING', '-p', 'tcp', '--tcp-flags', 'SYN,RST', 'SYN', '-j', 'TCPMSS', '--clamp-mss-to-pmtu');
    await ns.sh('iptables-nft', '-t', 'raw', '-A', 'PREROUTING', '-p', 'udp', '--dport', '9', '-j', 'CT', '--notrack');
    await ns.sh('ip6tables-nft', '-A', 'INPUT', '-s', '2001:db8::1', '-j', 'DROP');
    await ns.run('nft', ['-f', '-'], 'table inet foreign {\n\tchain input {\n\t\ttype filter hook input priority 10; policy accept;\n\t\ttcp dport 9999 drop\n\t}\n}\n');
    foreignBefore[4] = await ruleLines(ns, 4);
    foreignBefore[6] = await ruleLines(ns, 6);
    foreignNft = await ns.sh('nft', 'list', 'table', 'inet', 'foreign');
  });

  after(async function () {
    await ns?.destroy();
  });

  it('probes iptables on this kernel and leaves no probe behind', async function () {
    const r = await probeBackend({ run });
    assert.equal(r.backend, 'iptables');
    assert.match(r.detail, /No such file or directory/);
    const ruleset = await ns.sh('nft', 'list', 'ruleset');
    assert.ok(!ruleset.includes('probe') && !ruleset.includes('PROBE'), ruleset);
    assert.deepEqual(await probeBackend({ run, override: 'nft' }), { backend: 'nft', detail: 'nft chosen by --backend' });
  });

  it("installs nfqwall's chains for IPv4 and IPv6 and changes nothing else", async function () {
    await installSteering(fullPlan(), 'iptables', { run });
    for (const family of [4, 6] as const) {
      const save = await saveText(ns, family);
      assert.deepEqual(ourChains(save), ALL_CHAINS, `IPv${family}`);
      assert.deepEqual(foreign(await ruleLines(ns, family)), foreignBefore[family], `IPv${family}`);
    }
    const v4 = await saveText(ns, 4);
    assert.deepEqual(builtinRules(v4, 'filter', 'INPUT'), ['-A INPUT -j NFQWALL-INPUT', '-A INPUT -s 192.0.2.1/32 -j DROP']);
    assert.deepEqual(builtinRules(v4, 'mangle', 'POSTROUTING'), [
      '-A POSTROUTING -p tcp -m tcp --tcp-flags SYN,RST SYN -j TCPMSS --clamp-mss-to-pmtu',
      '-A POSTROUTING -j NFQWALL-POSTDNAT',
      '-A POSTROUTING -j NFQWALL-MARK-CLEAR',
    ]);
    assert.deepEqual(builtinRules(v4, 'raw', 'PREROUTING'), ['-A PREROUTING -p udp -m udp --dport 9 -j CT --notrack', '-A PREROUTING -j NFQWALL-RAW-PRE']);
    assert.ok(v4.includes('-A NFQWALL-INPUT-STAGE -j NFQUEUE --queue-num 4102 --queue-bypass'));
    assert.equal(await ns.sh('nft', 'list', 'table', 'inet', 'foreign'), foreignNft);
    // nft sees the same rules; the queue is the xtables NFQUEUE target through nft_compat.
    const ruleset = await ns.sh('nft', 'list', 'ruleset');
    assert.match(ruleset, /chain NFQWALL-INPUT-STAGE \{[^}]*queue/);
  });

  it('installing again replaces the rules in one transaction per family: exactly one copy', async function () {
    const first = [await saveText(ns, 4), await saveText(ns, 6)];
    calls.length = 0;
    await installSteering(fullPlan(), 'iptables', { run });
    assert.deepEqual(
      calls.filter((c) => c.includes('restore')),
      ['iptables-nft-restore --noflush', 'ip6tables-nft-restore --noflush'],
    );
    assert.deepEqual([await saveText(ns, 4), await saveText(ns, 6)], first);
    const v4 = await ruleLines(ns, 4);
    assert.equal(v4.filter((l) => l === '-A INPUT -j NFQWALL-INPUT').length, 1);
  });

  it('a plan with fewer hooks removes the chains and jumps it no longer needs', async function () {
    await installSteering(withHook(emptyPlan(), 'filterInput', { iifs: ['eth0'] }), 'iptables', { run });
    for (const family of [4, 6] as const) {
      const save = await saveText(ns, family);
      assert.deepEqual(ourChains(save), { mangle: ['NFQWALL-MARK-CLEAR'], filter: ['NFQWALL-INPUT', 'NFQWALL-INPUT-STAGE'] });
      assert.deepEqual(foreign(await ruleLines(ns, family)), foreignBefore[family]);
      assert.deepEqual(
        (await ruleLines(ns, family)).filter((l) => / -j NFQWALL-/.test(l) && !l.startsWith('-A NFQWALL')),
        ['-A POSTROUTING -j NFQWALL-MARK-CLEAR', '-A INPUT -j NFQWALL-INPUT'],
      );
    }
  });

  it('replaces the leftovers of a crashed run (duplicate jumps, stale chains, the other backend)', async function () {
    await ns.sh('iptables-nft', '-I', 'INPUT', '-j', 'NFQWALL-INPUT');
    await ns.sh('iptables-nft', '-N', 'NFQWALL-OLD');
    await ns.sh('iptables-nft', '-A', 'NFQWALL-OLD', '-j', 'ACCEPT');
    await ns.sh('iptables-nft', '-A', 'FORWARD', '-j', 'NFQWALL-OLD');
    await ns.sh('ip6tables-nft', '-t', 'raw', '-N', 'NFQWALL-RAW-PRE');
    await ns.sh('ip6tables-nft', '-t', 'raw', '-A', 'PREROUTING', '-j', 'NFQWALL-RAW-PRE');
    await ns.run('nft', ['-f', '-'], 'table inet nfqwall {\n\tchain filter_input {\n\t\ttype filter hook input priority 0; policy accept;\n\t\tdrop\n\t}\n}\n');
    await installSteering(fullPlan(), 'iptables', { run });
    for (const family of [4, 6] as const) {
      const lines = await ruleLines(ns, family);
      assert.deepEqual(ourChains(await saveText(ns, family)), ALL_CHAINS, `IPv${family}`);
      assert.equal(lines.filter((l) => l === '-A INPUT -j NFQWALL-INPUT').length, 1);
      assert.equal(lines.filter((l) => l === '-A PREROUTING -j NFQWALL-RAW-PRE').length, 1);
      assert.ok(!lines.some((l) => l.includes('NFQWALL-OLD')));
      assert.deepEqual(foreign(lines), foreignBefore[family]);
    }
    assert.ok(!(await ns.sh('nft', 'list', 'tables')).includes('inet nfqwall'));
  });

  it('removes everything of its own and nothing else; removing again is a no-op', async function () {
    await removeSteering('nfqwall', { run });
    for (const family of [4, 6] as const) {
      assert.deepEqual(await ruleLines(ns, family), foreignBefore[family]);
      assert.ok(!(await saveText(ns, family)).includes('NFQWALL'));
    }
    await removeSteering('nfqwall', { run });
    assert.ok(!(await ns.sh('nft', 'list', 'ruleset')).includes('NFQWALL'));
    assert.equal(await ns.sh('nft', 'list', 'table', 'inet', 'foreign'), foreignNft);
  });
});

describe('native nft rendering on a kernel without nft_queue @root', function () {
  let ns: TestNetns;
  /** The queue statements replaced by accept: everything else must load. */
  const withoutQueue = (text: string) => text.replace(/queue (flags [a-z,]+ )?to [0-9-]+/g, 'accept');

  before(async function () {
    if (!IS_ROOT) this.skip();
    ns = await createNetns();
  });
  after(async function () {
    await ns?.destroy();
  });

  it('passes the kernel check for every mode, with queue replaced by accept', async function () {
    const range = fullPlan();
    range.hooks.filterForward.queue = { from: 4110, to: 4113 };
    for (const plan of [fullPlan(), fullPlan({ mode: 'packet', failMode: 'closed' }), fullPlan({ keepExistingFlows: true }), range]) {
      await ns.run('nft', ['-c', '-f', '-'], withoutQueue(renderNft(plan)));
    }
  });

  it('fails only at the missing queue expression, never at the syntax', async function () {
    const err = await ns.run('nft', ['-c', '-f', '-'], renderNft(fullPlan())).then(
      () => undefined,
      (e: unknown) => e as Error,
    );
    assert.ok(err, 'this kernel was expected to lack nft_queue');
    assert.match(err.message, /Could not process rule: No such file or directory/);
    assert.doesNotMatch(err.message, /syntax error/i);
  });

  it('loads, replaces and removes as one table', async function () {
    await ns.run('nft', ['-f', '-'], withoutQueue(renderNft(fullPlan())));
    await ns.run('nft', ['-f', '-'], withoutQueue(renderNft(fullPlan({ generation: 2 }))));
    const listed = await ns.sh('nft', 'list', 'ruleset');
    assert.equal((listed.match(/table inet nfqwall/g) ?? []).length, 1);
    assert.match(listed, /chain filter_input \{\n\s+type filter hook input priority filter; policy accept;/);
    assert.match(listed, /chain raw_prerouting \{\n\s+type filter hook prerouting priority raw; policy accept;/);
    assert.match(listed, /chain mangle_postrouting \{\n\s+type filter hook postrouting priority mangle; policy accept;/);
    await ns.run('nft', ['-f', '-'], nftRemoveScript('nfqwall'));
    await ns.run('nft', ['-f', '-'], nftRemoveScript('nfqwall'));
    assert.equal((await ns.sh('nft', 'list', 'ruleset')).trim(), '');
  });
});
