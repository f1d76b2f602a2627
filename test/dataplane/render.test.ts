import { strict as assert } from 'node:assert';
import { NfqwallError } from '../../src/errors';
import { generationBits, markLayout } from '../../src/dataplane/marks';
import { buildSteeringModel, checkPlan } from '../../src/dataplane/model';
import { planFromPolicyInfo, type PolicyInterfaceInfo } from '../../src/dataplane/plan-from-info';
import { HOOK_NAMES } from '../../src/dataplane/plan';
import { nftRemoveScript, renderNft } from '../../src/dataplane/render-nft';
import { iptablesChainName, parseIptablesSave, renderIptables, renderIptablesRemoval } from '../../src/dataplane/render-iptables';
import { emptyPlan, fullPlan, withHook } from './plans';

const INPUT_ONLY_NFT = `# nfqwall steering: generation 1, flow mode, fail open, mark mask 0x7fff0000
table inet nfqwall {}
delete table inet nfqwall
table inet nfqwall {
	chain filter_input {
		type filter hook input priority 0; policy accept;
		iifname "eth0" goto filter_input_stage
	}

	chain filter_input_stage {
		ct state established,related ct mark & 0x03fc0000 == 0x00140000 accept
		ct state established,related ct mark & 0x03fc0000 == 0x001c0000 drop
		ct state established,related ct mark & 0x00040000 == 0x00000000 accept
		ct state untracked meta mark & 0x00010000 == 0x00010000 accept
		meta mark & 0x03fc0000 == 0x00140000 ct mark set ct mark & 0xfc03ffff | 0x00140000 accept
		meta mark & 0x03fc0000 == 0x001c0000 ct mark set ct mark & 0xfc03ffff | 0x001c0000 drop
		meta mark set meta mark & 0x83ffffff
		ct state established meta mark set meta mark & 0xe3ffffff | 0x04000000
		ct state related meta mark set meta mark & 0xe3ffffff | 0x08000000
		ct state invalid meta mark set meta mark & 0xe3ffffff | 0x0c000000
		ct state untracked meta mark set meta mark & 0xe3ffffff | 0x10000000
		ct direction reply meta mark set meta mark & 0xdfffffff | 0x20000000
		ct status dnat meta mark set meta mark & 0xbfffffff | 0x40000000
		queue flags bypass to 4102
	}

	chain mark_clear {
		type filter hook postrouting priority -140; policy accept;
		meta mark set meta mark & 0x8000ffff
	}
}
`;

const INPUT_ONLY_IPTABLES = `# nfqwall steering (IPv4): generation 1, flow mode, fail open, mark mask 0x7fff0000
*mangle
:NFQWALL-MARK-CLEAR - [0:0]
-A POSTROUTING -j NFQWALL-MARK-CLEAR
-A NFQWALL-MARK-CLEAR -j MARK --set-xmark 0x0/0x7fff0000
COMMIT
*filter
:NFQWALL-INPUT - [0:0]
:NFQWALL-INPUT-STAGE - [0:0]
-I INPUT 1 -j NFQWALL-INPUT
-A NFQWALL-INPUT -i eth0 -g NFQWALL-INPUT-STAGE
-A NFQWALL-INPUT-STAGE -m conntrack --ctstate ESTABLISHED,RELATED -m connmark --mark 0x140000/0x3fc0000 -j RETURN
-A NFQWALL-INPUT-STAGE -m conntrack --ctstate ESTABLISHED,RELATED -m connmark --mark 0x1c0000/0x3fc0000 -j DROP
-A NFQWALL-INPUT-STAGE -m conntrack --ctstate ESTABLISHED,RELATED -m connmark --mark 0x0/0x40000 -j RETURN
-A NFQWALL-INPUT-STAGE -m conntrack --ctstate UNTRACKED -m mark --mark 0x10000/0x10000 -j RETURN
-A NFQWALL-INPUT-STAGE -m mark --mark 0x140000/0x3fc0000 -j CONNMARK --set-xmark 0x140000/0x3fc0000
-A NFQWALL-INPUT-STAGE -m mark --mark 0x140000/0x3fc0000 -j RETURN
-A NFQWALL-INPUT-STAGE -m mark --mark 0x1c0000/0x3fc0000 -j CONNMARK --set-xmark 0x1c0000/0x3fc0000
-A NFQWALL-INPUT-STAGE -m mark --mark 0x1c0000/0x3fc0000 -j DROP
-A NFQWALL-INPUT-STAGE -j MARK --set-xmark 0x0/0x7c000000
-A NFQWALL-INPUT-STAGE -m conntrack --ctstate ESTABLISHED -j MARK --set-xmark 0x4000000/0x1c000000
-A NFQWALL-INPUT-STAGE -m conntrack --ctstate RELATED -j MARK --set-xmark 0x8000000/0x1c000000
-A NFQWALL-INPUT-STAGE -m conntrack --ctstate INVALID -j MARK --set-xmark 0xc000000/0x1c000000
-A NFQWALL-INPUT-STAGE -m conntrack --ctstate UNTRACKED -j MARK --set-xmark 0x10000000/0x1c000000
-A NFQWALL-INPUT-STAGE -m conntrack --ctdir REPLY -j MARK --set-xmark 0x20000000/0x20000000
-A NFQWALL-INPUT-STAGE -m conntrack --ctstate DNAT -j MARK --set-xmark 0x40000000/0x40000000
-A NFQWALL-INPUT-STAGE -j NFQUEUE --queue-num 4102 --queue-bypass
COMMIT
`;

/** Lines of nft chain `name` (between its `chain name {` and the closing brace). */
function nftChain(text: string, name: string): string[] {
  const lines = text.split('\n');
  const start = lines.findIndex((l) => l.trim() === `chain ${name} {`);
  assert.ok(start >= 0, `chain ${name} is missing`);
  const end = lines.findIndex((l, i) => i > start && l.trim() === '}');
  return lines.slice(start + 1, end).map((l) => l.trim());
}

/** `-A CHAIN ...` specs of one iptables chain. */
function iptChain(text: string, name: string): string[] {
  return text
    .split('\n')
    .filter((l) => l.startsWith(`-A ${name} `))
    .map((l) => l.slice(`-A ${name} `.length));
}

const u32 = (n: number) => n >>> 0;

describe('dataplane rendering', function () {
  describe('golden output', function () {
    const plan = withHook(emptyPlan(), 'filterInput', { iifs: ['eth0'] });
    it('nft: one input hook in flow mode', function () {
      assert.equal(renderNft(plan), INPUT_ONLY_NFT);
    });
    it('iptables-nft: the same plan', function () {
      assert.equal(renderIptables(plan, 4), INPUT_ONLY_IPTABLES);
    });
  });

  describe('hooks and priorities', function () {
    const expected: Array<[string, string, number]> = [
      ['raw_prerouting', 'prerouting', -300],
      ['mangle_prerouting', 'prerouting', -150],
      ['filter_input', 'input', 0],
      ['filter_forward', 'forward', 0],
      ['raw_output', 'output', -300],
      ['filter_output', 'output', 0],
      ['mangle_postrouting', 'postrouting', -150],
      ['mark_clear', 'postrouting', -140],
    ];
    it('nft: each enabled stage is a base chain at its hook and priority; stage chains have no hook', function () {
      const text = renderNft(fullPlan());
      for (const [chain, hook, prio] of expected) {
        assert.equal(nftChain(text, chain)[0], `type filter hook ${hook} priority ${prio}; policy accept;`, chain);
        if (chain !== 'mark_clear') assert.ok(!nftChain(text, `${chain}_stage`)[0]?.startsWith('type '), `${chain}_stage`);
      }
      assert.equal((text.match(/type filter hook/g) ?? []).length, expected.length);
    });
    it('iptables: jumps from the right built-in chains; filter first, raw and mangle last', function () {
      const text = renderIptables(fullPlan(), 4);
      const jumps = text.split('\n').filter((l) => /^-[AI] [A-Z]+ (\d+ )?-j NFQWALL-/.test(l));
      assert.deepEqual(jumps, [
        '-A PREROUTING -j NFQWALL-RAW-PRE',
        '-A OUTPUT -j NFQWALL-RAW-OUT',
        '-A PREROUTING -j NFQWALL-PREDNAT',
        '-A POSTROUTING -j NFQWALL-POSTDNAT',
        '-A POSTROUTING -j NFQWALL-MARK-CLEAR',
        '-I INPUT 1 -j NFQWALL-INPUT',
        '-I FORWARD 1 -j NFQWALL-FORWARD',
        '-I OUTPUT 1 -j NFQWALL-OUTPUT',
      ]);
      const tables = text.split('\n').filter((l) => l.startsWith('*'));
      assert.deepEqual(tables, ['*raw', '*mangle', '*filter']);
    });
    it('disabled hooks get no chain; a plan with nothing enabled only removes the table', function () {
      const text = renderNft(withHook(emptyPlan(), 'filterForward', { oifs: ['eth1'] }));
      assert.ok(text.includes('chain filter_forward {'));
      for (const c of ['raw_prerouting', 'mangle_prerouting', 'filter_input', 'raw_output', 'filter_output', 'mangle_postrouting']) assert.ok(!text.includes(`chain ${c} `), c);
      assert.equal(renderNft(emptyPlan()), '# nfqwall steering: generation 1, flow mode, fail open, mark mask 0x7fff0000\ntable inet nfqwall {}\ndelete table inet nfqwall\n');
      assert.equal(renderIptables(emptyPlan(), 4), '# nfqwall steering (IPv4): generation 1, flow mode, fail open, mark mask 0x7fff0000\n');
      // Enabled but with an empty interface list is nothing to do either.
      const empty = { ...emptyPlan(), hooks: { ...emptyPlan().hooks, filterInput: { ...emptyPlan().hooks.filterInput, enabled: true } } };
      assert.equal(buildSteeringModel(empty).entries.length, 0);
    });
    it('nft replaces the whole table in one transaction; removal is idempotent', function () {
      const lines = renderNft(fullPlan()).split('\n');
      assert.deepEqual(lines.slice(1, 4), ['table inet nfqwall {}', 'delete table inet nfqwall', 'table inet nfqwall {']);
      assert.equal(nftRemoveScript('nfqwall'), 'table inet nfqwall {}\ndelete table inet nfqwall\n');
    });
  });

  describe('queue statements', function () {
    it('fail open: bypass on every queue rule; closed: none', function () {
      const open = fullPlan({ failMode: 'open' });
      const closed = fullPlan({ failMode: 'closed' });
      const nftOpen = renderNft(open).split('\n').filter((l) => l.includes('queue '));
      assert.equal(nftOpen.length, 7);
      assert.ok(nftOpen.every((l) => /queue flags bypass to \d+$/.test(l.trim())));
      const nftClosed = renderNft(closed).split('\n').filter((l) => l.includes('queue '));
      assert.equal(nftClosed.length, 7);
      assert.ok(nftClosed.every((l) => /queue to \d+$/.test(l.trim())));
      assert.ok(!renderNft(closed).includes('bypass'));
      const iptOpen = renderIptables(open, 4).split('\n').filter((l) => l.includes('NFQUEUE'));
      assert.equal(iptOpen.length, 7);
      assert.ok(iptOpen.every((l) => l.endsWith('--queue-bypass')));
      assert.ok(!renderIptables(closed, 4).includes('bypass'));
    });
    it('one queue per hook, numbered by the plan', function () {
      const text = renderNft(fullPlan());
      HOOK_NAMES.forEach((h, i) => {
        const chain = buildSteeringModel(fullPlan()).entries.find((e) => e.id === h)?.chains[1]?.name ?? '';
        assert.equal(nftChain(text, chain).at(-1), `queue flags bypass to ${4100 + i}`, h);
      });
    });
    it('a queue range fans out', function () {
      const p = fullPlan();
      p.hooks.filterForward.queue = { from: 4110, to: 4113 };
      assert.equal(nftChain(renderNft(p), 'filter_forward_stage').at(-1), 'queue flags bypass,fanout to 4110-4113');
      assert.equal(iptChain(renderIptables(p, 4), 'NFQWALL-FORWARD-STAGE').at(-1), '-j NFQUEUE --queue-balance 4110:4113 --queue-cpu-fanout --queue-bypass');
      p.failMode = 'closed';
      assert.equal(nftChain(renderNft(p), 'filter_forward_stage').at(-1), 'queue flags fanout to 4110-4113');
      assert.equal(iptChain(renderIptables(p, 4), 'NFQWALL-FORWARD-STAGE').at(-1), '-j NFQUEUE --queue-balance 4110:4113 --queue-cpu-fanout');
    });
  });

  describe('marks', function () {
    // 15 bits at the top: also checks that bit 31 is handled as unsigned.
    const mask = 0xfffe0000;
    const plans = [fullPlan({ marks: markLayout(mask), generation: 63 }), fullPlan({ marks: markLayout(mask), mode: 'packet', keepExistingFlows: true })];
    it('nft: every mark write keeps the bits outside the mask; every value and match lies inside it', function () {
      for (const p of plans) {
        const text = renderNft(p);
        let writes = 0;
        for (const m of text.matchAll(/(meta|ct) mark set (?:meta|ct) mark & (0x[0-9a-f]+)(?: \| (0x[0-9a-f]+))?/g)) {
          writes++;
          const keep = Number(m[2]);
          const value = m[3] === undefined ? 0 : Number(m[3]);
          assert.equal(u32(keep | mask), 0xffffffff, m[0]);
          assert.equal(u32(value & ~mask), 0, m[0]);
          assert.equal(u32(value & keep), 0, m[0]);
        }
        assert.ok(writes > 20);
        assert.ok(!/mark set 0x/.test(text), 'no write of a whole mark');
        for (const m of text.matchAll(/mark & (0x[0-9a-f]+) == (0x[0-9a-f]+)/g)) {
          assert.equal(u32(Number(m[1]) & ~mask), 0, m[0]);
          assert.equal(u32(Number(m[2]) & ~Number(m[1])), 0, m[0]);
        }
      }
    });
    it('iptables: the same for --set-xmark and --mark', function () {
      for (const p of plans) {
        const text = renderIptables(p, 6);
        let n = 0;
        for (const m of text.matchAll(/--(?:set-x)?mark (0x[0-9a-f]+)\/(0x[0-9a-f]+)/g)) {
          n++;
          const [value, m2] = [Number(m[1]), Number(m[2])];
          assert.equal(u32(m2 & ~mask), 0, m[0]);
          assert.equal(u32(value & ~m2), 0, m[0]);
        }
        assert.ok(n > 40);
        assert.ok(!/--set-mark|--or-mark|--and-mark|--save-mark|--restore-mark/.test(text));
      }
    });
    it('conntrack state, direction and DNAT are written just before the queue, after clearing the field', function () {
      const m = markLayout();
      const lines = nftChain(renderNft(fullPlan()), 'filter_forward_stage');
      const q = lines.length - 1;
      assert.deepEqual(lines.slice(q - 7, q), [
        `meta mark set meta mark & 0x${u32(~(m.ctStateMask | m.reply | m.dnat)).toString(16)}`,
        'ct state established meta mark set meta mark & 0xe3ffffff | 0x04000000',
        'ct state related meta mark set meta mark & 0xe3ffffff | 0x08000000',
        'ct state invalid meta mark set meta mark & 0xe3ffffff | 0x0c000000',
        'ct state untracked meta mark set meta mark & 0xe3ffffff | 0x10000000',
        'ct direction reply meta mark set meta mark & 0xdfffffff | 0x20000000',
        'ct status dnat meta mark set meta mark & 0xbfffffff | 0x40000000',
      ]);
    });
    it('the generation field follows the plan (and wraps at 64)', function () {
      const m = markLayout();
      for (const g of [0, 5, 63, 64, 70]) {
        const allowed = u32(m.decided | generationBits(m, g));
        const line = nftChain(renderNft(fullPlan({ generation: g })), 'filter_input_stage').find((l) => l.startsWith('meta mark & 0x03fc0000'));
        assert.equal(line, `meta mark & 0x03fc0000 == 0x${allowed.toString(16).padStart(8, '0')} ct mark set ct mark & 0xfc03ffff | 0x${allowed.toString(16).padStart(8, '0')} accept`, `generation ${g}`);
      }
    });
    it('postrouting clears nfqwall bits only', function () {
      assert.deepEqual(nftChain(renderNft(fullPlan()), 'mark_clear').slice(1), ['meta mark set meta mark & 0x8000ffff']);
      assert.deepEqual(iptChain(renderIptables(fullPlan(), 4), 'NFQWALL-MARK-CLEAR'), ['-j MARK --set-xmark 0x0/0x7fff0000']);
    });
  });

  describe('stages', function () {
    it('raw stages: an UNTRACK mark (the NF_REPEAT of an untracked Allow) is untracked and passed first', function () {
      for (const mode of ['flow', 'packet'] as const) {
        const text = renderNft(fullPlan({ mode }));
        for (const c of ['raw_prerouting_stage', 'raw_output_stage']) {
          const lines = nftChain(text, c);
          assert.equal(lines[0], 'meta mark & 0x00020000 == 0x00020000 notrack accept');
          assert.ok(!lines.some((l) => l.includes('ct mark')), 'no ct mark before conntrack');
          assert.equal(lines.length, 9);
        }
        const ipt = renderIptables(fullPlan({ mode }), 4);
        assert.deepEqual(iptChain(ipt, 'NFQWALL-RAW-PRE-STAGE').slice(0, 2), ['-m mark --mark 0x20000/0x20000 -j CT --notrack', '-m mark --mark 0x20000/0x20000 -j RETURN']);
      }
    });
    it('final stages store a REPEAT allow/deny in the ct mark, after the flow gate; preDNAT stores only denies', function () {
      for (const mode of ['flow', 'packet'] as const) {
        const text = renderNft(fullPlan({ mode }));
        for (const c of ['filter_input_stage', 'filter_forward_stage', 'filter_output_stage', 'mangle_postrouting_stage']) {
          const lines = nftChain(text, c);
          // The gate (flow mode) comes first: the store rules are the first that read the packet mark.
          const i = lines.findIndex((l) => l.startsWith('meta mark & 0x03fc0000'));
          assert.ok(lines.slice(0, i).every((l) => l.startsWith('ct state ')), `${mode} ${c}`);
          assert.match(lines[i] ?? '', /^meta mark & 0x03fc0000 == 0x00140000 ct mark set .* accept$/, c);
          assert.match(lines[i + 1] ?? '', /^meta mark & 0x03fc0000 == 0x001c0000 ct mark set .* drop$/, c);
        }
        const pre = nftChain(text, 'mangle_prerouting_stage');
        assert.ok(pre.some((l) => /== 0x001c0000 ct mark set .* drop$/.test(l)));
        assert.ok(!pre.some((l) => l.includes('0x00140000 ct mark set')));
      }
    });
    it('flow mode gates established/related flows on the ct mark; packet mode queues everything', function () {
      const flow = renderNft(fullPlan({ mode: 'flow' }));
      const packet = renderNft(fullPlan({ mode: 'packet' }));
      for (const c of ['mangle_prerouting_stage', 'filter_input_stage', 'filter_forward_stage', 'filter_output_stage', 'mangle_postrouting_stage']) {
        const f = nftChain(flow, c).filter((l) => l.startsWith('ct state established,related'));
        assert.deepEqual(f, [
          'ct state established,related ct mark & 0x03fc0000 == 0x00140000 accept',
          'ct state established,related ct mark & 0x03fc0000 == 0x001c0000 drop',
          'ct state established,related ct mark & 0x00040000 == 0x00000000 accept',
        ], c);
        assert.ok(!nftChain(packet, c).some((l) => l.startsWith('ct state established,related') || l.startsWith('ct state untracked meta mark &')), c);
      }
      assert.ok(!packet.includes('ct mark & 0x00040000 == 0x00000000'));
    });
    it('keepExistingFlows passes every established flow except stored denies', function () {
      const lines = nftChain(renderNft(fullPlan({ keepExistingFlows: true })), 'filter_input_stage').filter((l) => l.startsWith('ct state established,related'));
      assert.deepEqual(lines, ['ct state established,related ct mark & 0x000c0000 == 0x000c0000 drop', 'ct state established,related accept']);
    });
    it("Calico's accept-mark spares untracked packets the queue at preDNAT, input and output only", function () {
      const text = renderNft(fullPlan());
      const has = (c: string) => nftChain(text, c).includes('ct state untracked meta mark & 0x00010000 == 0x00010000 accept');
      assert.ok(has('mangle_prerouting_stage') && has('filter_input_stage') && has('filter_output_stage'));
      // Forward: the out-HEP egress leg still applies (calico-semantics Q3).
      assert.ok(!has('filter_forward_stage') && !has('mangle_postrouting_stage'));
    });
    it('output defers DNAT\'d packets to postrouting only when that stage exists', function () {
      const both = renderNft(fullPlan());
      assert.equal(nftChain(both, 'filter_output')[1], 'ct status dnat accept');
      assert.equal(nftChain(both, 'mangle_postrouting')[1], 'oifname { "eth0", "eth1" } ct status dnat fib saddr type local goto mangle_postrouting_stage');
      assert.equal(iptChain(renderIptables(fullPlan(), 4), 'NFQWALL-OUTPUT')[0], '-m conntrack --ctstate DNAT -j RETURN');
      const outputOnly = renderNft(withHook(emptyPlan(), 'filterOutput', { oifs: ['eth0'] }));
      assert.deepEqual(nftChain(outputOnly, 'filter_output').slice(1), ['oifname "eth0" goto filter_output_stage']);
    });
  });

  describe('interfaces', function () {
    it('nft: a name, a set of names, or every interface', function () {
      let p = withHook(emptyPlan(), 'filterInput', { iifs: ['eth0'] });
      p = withHook(p, 'manglePrerouting', { iifs: ['eth0', 'wan0', 'lan.10'] });
      p = withHook(p, 'filterOutput', { oifs: 'all' });
      const text = renderNft(p);
      assert.equal(nftChain(text, 'filter_input')[1], 'iifname "eth0" goto filter_input_stage');
      assert.equal(nftChain(text, 'mangle_prerouting')[1], 'iifname { "eth0", "wan0", "lan.10" } goto mangle_prerouting_stage');
      assert.deepEqual(nftChain(text, 'filter_output').slice(1), ['goto filter_output_stage']);
    });
    it('iptables: one rule per interface', function () {
      const p = withHook(emptyPlan(), 'manglePrerouting', { iifs: ['eth0', 'wan0'] });
      assert.deepEqual(iptChain(renderIptables(p, 4), 'NFQWALL-PREDNAT'), ['-i eth0 -g NFQWALL-PREDNAT-STAGE', '-i wan0 -g NFQWALL-PREDNAT-STAGE']);
    });
    it('forward queues packets in through one list or out through the other', function () {
      const p = withHook(emptyPlan(), 'filterForward', { iifs: ['eth0'], oifs: ['eth1', 'eth2'] });
      assert.deepEqual(nftChain(renderNft(p), 'filter_forward').slice(1), ['iifname "eth0" goto filter_forward_stage', 'oifname { "eth1", "eth2" } goto filter_forward_stage']);
      assert.deepEqual(iptChain(renderIptables(p, 4), 'NFQWALL-FORWARD'), ['-i eth0 -g NFQWALL-FORWARD-STAGE', '-o eth1 -g NFQWALL-FORWARD-STAGE', '-o eth2 -g NFQWALL-FORWARD-STAGE']);
      const all = withHook(emptyPlan(), 'filterForward', { iifs: ['eth0'], oifs: 'all' });
      assert.deepEqual(nftChain(renderNft(all), 'filter_forward').slice(1), ['goto filter_forward_stage']);
    });
    it('input-side hooks ignore oifs and output-side hooks ignore iifs', function () {
      const p = withHook(withHook(emptyPlan(), 'filterInput', { oifs: ['eth9'], iifs: ['eth0'] }), 'rawOutput', { iifs: ['eth8'], oifs: ['eth1'] });
      const text = renderNft(p);
      assert.ok(!text.includes('eth9') && !text.includes('eth8'));
    });
  });

  describe('IPv4 and IPv6', function () {
    it('nft: one inet table serves both families', function () {
      assert.ok(renderNft(fullPlan()).includes('table inet nfqwall {\n'));
      assert.ok(!/\b(ip|ip6) (saddr|daddr)\b/.test(renderNft(fullPlan())));
    });
    it('iptables: the same transaction for iptables-nft-restore and ip6tables-nft-restore', function () {
      const body = (f: 4 | 6) => renderIptables(fullPlan(), f).split('\n').slice(1).join('\n');
      assert.equal(body(4), body(6));
      assert.match(renderIptables(fullPlan(), 6), /^# nfqwall steering \(IPv6\)/);
    });
  });

  describe('replacing and removing iptables chains', function () {
    const save = `# Generated by iptables-nft-save v1.8.9 (nf_tables)
*raw
:PREROUTING ACCEPT [0:0]
:OUTPUT ACCEPT [0:0]
:NFQWALL-RAW-PRE - [0:0]
:NFQWALL-RAW-PRE-STAGE - [0:0]
-A PREROUTING -p tcp --dport 21 -j CT --helper ftp
-A PREROUTING -j NFQWALL-RAW-PRE
-A NFQWALL-RAW-PRE -i eth0 -g NFQWALL-RAW-PRE-STAGE
COMMIT
*filter
:INPUT DROP [0:0]
:FORWARD ACCEPT [0:0]
:OUTPUT ACCEPT [0:0]
:NFQWALL-INPUT - [0:0]
:NFQWALL-INPUT-STAGE - [0:0]
:NFQWALL-OLD - [0:0]
:OTHER - [0:0]
-A INPUT -j NFQWALL-INPUT
-A INPUT -j NFQWALL-INPUT
-A INPUT -i lo -j NFQWALL-OLD
-A INPUT -s 192.0.2.1/32 -j DROP
-A OTHER -j ACCEPT
COMMIT
*nat
:PREROUTING ACCEPT [0:0]
-A PREROUTING -j NFQWALL-NOT-OURS-TABLE
COMMIT
`;
    it('parses only nfqwall chains and the rules that refer to them', function () {
      assert.deepEqual(parseIptablesSave(save, 'nfqwall'), {
        raw: { chains: ['NFQWALL-RAW-PRE', 'NFQWALL-RAW-PRE-STAGE'], references: ['PREROUTING -j NFQWALL-RAW-PRE'] },
        filter: { chains: ['NFQWALL-INPUT', 'NFQWALL-INPUT-STAGE', 'NFQWALL-OLD'], references: ['INPUT -j NFQWALL-INPUT', 'INPUT -j NFQWALL-INPUT', 'INPUT -i lo -j NFQWALL-OLD'] },
      });
      assert.deepEqual(parseIptablesSave(save, 'other'), {});
    });
    it('drops every old jump, re-adds exactly one, and deletes chains the plan no longer has', function () {
      const plan = withHook(emptyPlan(), 'filterInput', { iifs: ['eth0'] });
      const lines = renderIptables(plan, 4, parseIptablesSave(save, 'nfqwall')).split('\n');
      const raw = lines.slice(lines.indexOf('*raw'), lines.indexOf('COMMIT') + 1);
      assert.deepEqual(raw, ['*raw', '-D PREROUTING -j NFQWALL-RAW-PRE', '-F NFQWALL-RAW-PRE', '-F NFQWALL-RAW-PRE-STAGE', '-X NFQWALL-RAW-PRE', '-X NFQWALL-RAW-PRE-STAGE', 'COMMIT']);
      const filter = lines.slice(lines.indexOf('*filter'));
      assert.deepEqual(filter.slice(0, 9), [
        '*filter',
        ':NFQWALL-INPUT - [0:0]',
        ':NFQWALL-INPUT-STAGE - [0:0]',
        '-D INPUT -j NFQWALL-INPUT',
        '-D INPUT -j NFQWALL-INPUT',
        '-D INPUT -i lo -j NFQWALL-OLD',
        '-F NFQWALL-OLD',
        '-X NFQWALL-OLD',
        '-I INPUT 1 -j NFQWALL-INPUT',
      ]);
      assert.ok(!lines.some((l) => l.includes('OTHER') || l.includes('192.0.2.1') || l.includes('ftp') || l.startsWith('*nat')));
    });
    it('removal touches only nfqwall chains', function () {
      assert.equal(
        renderIptablesRemoval(parseIptablesSave(save, 'nfqwall')),
        [
          '*raw',
          '-D PREROUTING -j NFQWALL-RAW-PRE',
          '-F NFQWALL-RAW-PRE',
          '-F NFQWALL-RAW-PRE-STAGE',
          '-X NFQWALL-RAW-PRE',
          '-X NFQWALL-RAW-PRE-STAGE',
          'COMMIT',
          '*filter',
          '-D INPUT -j NFQWALL-INPUT',
          '-D INPUT -j NFQWALL-INPUT',
          '-D INPUT -i lo -j NFQWALL-OLD',
          '-F NFQWALL-INPUT',
          '-F NFQWALL-INPUT-STAGE',
          '-F NFQWALL-OLD',
          '-X NFQWALL-INPUT',
          '-X NFQWALL-INPUT-STAGE',
          '-X NFQWALL-OLD',
          'COMMIT',
          '',
        ].join('\n'),
      );
      assert.equal(renderIptablesRemoval({}), '');
    });
    it('chain names fit the 28 characters xtables allows', function () {
      const model = buildSteeringModel(fullPlan({ table: 'abcdefghijklm' }));
      for (const e of model.entries) for (const c of e.chains) assert.ok(iptablesChainName('abcdefghijklm', c.name).length <= 28, c.name);
    });
  });

  describe('plan checks', function () {
    const rejects = (f: () => unknown, re: RegExp) => assert.throws(f, (e: unknown) => e instanceof NfqwallError && e.code === 'NFQ_DATAPLANE_BAD_PLAN' && re.test(e.message));
    it('refuses names and numbers that cannot be rendered safely', function () {
      rejects(() => checkPlan(withHook(emptyPlan(), 'filterInput', { iifs: ['eth0" accept'] })), /interface name/);
      rejects(() => checkPlan(withHook(emptyPlan(), 'filterInput', { iifs: ['eth+'] })), /interface name/);
      rejects(() => checkPlan(withHook(emptyPlan(), 'filterInput', { iifs: ['a-name-too-long-x'] })), /interface name/);
      rejects(() => checkPlan(emptyPlan({ table: 'Bad Name' })), /table name/);
      rejects(() => checkPlan(emptyPlan({ generation: -1 })), /generation/);
      const q = emptyPlan();
      q.hooks.filterInput.queue = { from: 5, to: 3 };
      rejects(() => checkPlan(q), /queue/);
      q.hooks.filterInput.queue = { from: 0, to: 65536 };
      rejects(() => checkPlan(q), /queue/);
      const marks = emptyPlan();
      marks.marks = { ...marks.marks, dnat: 1 };
      rejects(() => checkPlan(marks), /mask/);
    });
  });

  describe('planFromPolicyInfo', function () {
    const info: PolicyInterfaceInfo = {
      untrackedIifs: ['eth0'],
      untrackedOifs: [],
      preDnatIifs: ['eth0', 'eth0'],
      inputIifs: ['eth1', 'eth0'],
      forwardIifs: [],
      forwardOifs: ['eth1'],
      outputOifs: ['eth0'],
      anyInterface: { preDnat: false, input: false, forwardIn: false, forwardOut: false, output: true },
    };
    const settings = {
      table: 'nfqwall',
      mode: 'flow' as const,
      failMode: 'closed' as const,
      markMask: 0x7fff0000,
      queues: { rawPrerouting: 1, manglePrerouting: 2, filterInput: 3, filterForward: { from: 10, to: 13 }, rawOutput: 5, filterOutput: 6, manglePostrouting: 7 },
      existingFlowsOnReload: 'keep' as const,
      generation: 9,
    };
    it('maps interface lists onto hooks', function () {
      const p = planFromPolicyInfo(info, settings);
      assert.deepEqual(p.hooks.rawPrerouting, { enabled: true, queue: { from: 1, to: 1 }, iifs: { all: false, names: ['eth0'] }, oifs: { all: false, names: [] } });
      assert.equal(p.hooks.rawOutput.enabled, false);
      assert.deepEqual(p.hooks.manglePrerouting.iifs, { all: false, names: ['eth0'] });
      assert.deepEqual(p.hooks.filterInput.iifs, { all: false, names: ['eth0', 'eth1'] });
      assert.deepEqual(p.hooks.filterForward, { enabled: true, queue: { from: 10, to: 13 }, iifs: { all: false, names: [] }, oifs: { all: false, names: ['eth1'] } });
      assert.deepEqual(p.hooks.filterOutput.oifs, { all: true });
      assert.deepEqual(p.hooks.manglePostrouting.oifs, { all: true });
      assert.equal(p.keepExistingFlows, true);
      assert.equal(p.failMode, 'closed');
      assert.equal(p.marks.mask, 0x7fff0000);
      assert.doesNotThrow(() => checkPlan(p));
    });
    it('untracked stages never cover every interface', function () {
      const p = planFromPolicyInfo({ ...info, untrackedIifs: [], anyInterface: { preDnat: true, input: true, forwardIn: true, forwardOut: true, output: true } }, settings);
      assert.equal(p.hooks.rawPrerouting.enabled, false);
      assert.deepEqual(p.hooks.manglePrerouting.iifs, { all: true });
      assert.deepEqual(p.hooks.filterForward.iifs, { all: true });
    });
  });
});
