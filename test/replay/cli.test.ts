import { strict as assert } from 'node:assert';
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { buildEthernet, buildTcp } from '../../src/packet';
import { LINKTYPE, PcapWriter } from '../../src/pcap';
import { HOST_FILE, POLICY_DIR, T0_MS, goldenPackets, nsAt, replay, tempDir, writeGoldenPcap, writePcapng } from './helpers';

const TCPDUMP = '/usr/bin/tcpdump';
const itTcpdump = existsSync(TCPDUMP) ? it : it.skip;
const REPO = join(__dirname, '..', '..', '..');

describe('nfqwall replay (command)', function () {
  this.timeout(20000);
  let tmp: ReturnType<typeof tempDir>;
  let golden: string;
  const packets = goldenPackets();
  before(() => {
    tmp = tempDir();
    golden = join(tmp.dir, 'golden.pcap');
    writeGoldenPcap(golden, packets);
  });
  after(() => tmp.remove());

  it('prints a per-flow table and a summary line', async () => {
    const r = await replay([golden]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stderr, '');
    const lines = r.stdout.trimEnd().split('\n');
    assert.match(lines[0]!, /^flow\s+first\s+time\s+proto\s+source\s+destination\s+path\s+in\s+out\s+verdict\s+pkts>\s+bytes>\s+pkts<\s+bytes<\s+state\s+decided by$/);
    assert.match(lines[1]!, /^\s+1\s+#0\s+\+0\.000000\s+TCP\s+10\.0\.1\.10:40000\s+192\.168\.0\.10:22\s+forward\s+eth2\s+eth1\s+allow\s+5\s+216\s+3\s+136\s+TIME_WAIT\s+gw1\.eth1: tier default \/ policy allow-ssh-maintenance \/ egress rule 0 \(Allow\)$/);
    assert.match(lines[2]!, /^\s+2\s+#8\s+\+0\.010000\s+TCP\s+10\.0\.1\.10:40001\s+192\.168\.0\.10:80\s+forward\s+eth2\s+eth1\s+deny\s+2\s+80\s+0\s+0\s+unconfirmed\s+gw1\.eth1: built-in end-of-tier \(default\)$/);
    assert.match(r.stdout, /\[fd00:1::10\]:41001\s+\[fd00:168::10\]:80\s+forward\s+eth2\s+eth1\s+deny/);
    assert.match(r.stdout, /192\.168\.0\.10:50000\s+192\.168\.0\.45:22\s+local-in\s+eth1\s+-\s+allow .* gw1\.eth1: built-in failsafe-inbound \(tcp:22\)/);
    assert.equal(lines[lines.length - 1], 'replayed 36 packets from 1 file: 24 allowed, 9 denied, 2 parse errors (BAD_HEADER_LENGTH 1, TRUNCATED 1), 1 not IP; 18 flows (10 allowed, 8 denied)');
  });

  it('--json prints one line per packet with its verdict, rule and explanation, then flows and a summary', async () => {
    const r = await replay([golden], { json: true });
    assert.equal(r.code, 0, r.stderr);
    const objs = r.stdout.trimEnd().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    const pkts = objs.filter((o) => 'index' in o);
    assert.equal(pkts.length, packets.length);
    pkts.forEach((p, i) => {
      assert.equal(p.index, i);
      assert.equal(p.verdict, packets[i]!.expect, `packet ${i}`);
    });
    const syn = pkts[0]!;
    assert.equal(syn.file, golden);
    assert.equal(syn.time, 1_700_000_000);
    assert.deepEqual([syn.src, syn.dst, syn.proto, syn.sport, syn.dport], ['10.0.1.10', '192.168.0.10', 'TCP', 40000, 22]);
    assert.deepEqual([syn.path, syn.iif, syn.oif, syn.ctState, syn.flow], ['forward', 'eth2', 'eth1', 'new', 1]);
    assert.equal(syn.rule, 'policy:default/allow-ssh-maintenance/egress/0:Allow');
    assert.deepEqual(syn.decidedBy, { hep: 'gw1.eth1', tier: 'default', policy: 'allow-ssh-maintenance', rule: 'policy:default/allow-ssh-maintenance/egress/0:Allow', hook: 'filter-forward', chain: 'forward-egress' });
    assert.ok(Array.isArray(syn.steps) && syn.steps.length >= 1);
    const synAck = pkts[1]!;
    assert.equal(synAck.ctState, 'reply');
    assert.equal(synAck.rule, 'builtin:conntrack-established');
    assert.deepEqual(pkts[33], { index: 33, file: golden, time: 1_700_000_046, length: 42, verdict: 'not-ip', reason: 'ethertype 0x0806' });
    assert.equal(pkts[34]!.status, 'TRUNCATED');
    assert.match(String(pkts[34]!.reason), /cut by the capture snaplen \(96 of 454 bytes captured\)/);
    assert.equal(objs.filter((o) => 'flow' in o && typeof o.flow === 'object').length, 18);
    const summary = objs[objs.length - 1]!.summary as Record<string, unknown>;
    assert.equal(summary.packets, 36);
    assert.equal(summary.denied, 9);
  });

  it('lets pcapng interface names and --iface mappings choose the in-interface', async () => {
    const file = join(tmp.dir, 'ifaces.pcapng');
    // HTTP from the WAN to the router's maintenance address: allowed coming in on eth0 (no HEP),
    // denied coming in on eth1 (HEP with no ingress policy).
    const http = (sport: number): Buffer => buildEthernet(buildTcp({ src: '198.51.100.9', dst: '192.168.0.45' }, { sport, dport: 80, flags: 'S' }));
    writePcapng(file, [{ name: 'eth0' }, { name: 'eth1' }, { name: 'capif' }, {}], [
      { at: 0, frame: http(1000), iface: 0 },
      { at: 1, frame: http(1001), iface: 1 },
      { at: 2, frame: http(1002), iface: 2 },
      { at: 3, frame: http(1003), iface: 3 },
    ]);
    const plain = await replay([file], { json: true });
    const verdicts = (run: string): Array<[unknown, unknown, unknown]> =>
      run
        .trimEnd()
        .split('\n')
        .map((l) => JSON.parse(l) as Record<string, unknown>)
        .filter((o) => 'index' in o)
        .map((o) => [o.iif, o.iifFrom, o.verdict]);
    assert.deepEqual(verdicts(plain.stdout), [
      ['eth0', 'capture', 'allow'],
      ['eth1', 'capture', 'deny'],
      ['eth0', 'route', 'allow'],
      ['eth0', 'route', 'allow'],
    ]);
    const mapped = await replay([file], { json: true, iface: ['capif=eth1', '3=eth1'] });
    assert.deepEqual(verdicts(mapped.stdout), [
      ['eth0', 'capture', 'allow'],
      ['eth1', 'capture', 'deny'],
      ['eth1', 'iface-map', 'deny'],
      ['eth1', 'iface-map', 'deny'],
    ]);
    const bad = await replay([file], { iface: ['capif=eth7'] });
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /--iface capif=eth7: eth7 is not an interface of the host model/);
  });

  it('replays several files in order as one stream with one flow table', async () => {
    const a = join(tmp.dir, 'part-a.pcap');
    const b = join(tmp.dir, 'part-b.pcap');
    writeGoldenPcap(a, packets.slice(0, 1));
    // The second file is raw IP: the SYN-ACK in it is the reply of the first file's SYN.
    const w = PcapWriter.toFile(b, { linkType: LINKTYPE.RAW });
    w.write(nsAt(T0_MS + 1), packets[1]!.frame.subarray(14));
    w.write(nsAt(T0_MS + 2), packets[8]!.frame.subarray(14));
    w.close();
    const r = await replay([a, b], { json: true });
    assert.equal(r.code, 0, r.stderr);
    const pkts = r.stdout
      .trimEnd()
      .split('\n')
      .map((l) => JSON.parse(l) as Record<string, unknown>)
      .filter((o) => 'index' in o);
    assert.deepEqual(
      pkts.map((p) => [p.index, p.file, p.ctState, p.verdict, p.flow]),
      [
        [0, a, 'new', 'allow', 1],
        [1, b, 'reply', 'allow', 1],
        [2, b, 'new', 'deny', 2],
      ],
    );
  });

  describe('bad input', () => {
    it('reports a truncated capture with its byte offset, replays the packets before it, exits 2', async () => {
      const cut = join(tmp.dir, 'cut.pcap');
      const bytes = readFileSync(golden);
      writeFileSync(cut, bytes.subarray(0, 24 + 16 + 54 + 16 + 54 + 16 + 10));
      const r = await replay([cut]);
      assert.equal(r.code, 2);
      assert.match(r.stderr, new RegExp(`^nfqwall replay: ${cut}: at byte 164: record with 54 captured bytes needs 70 bytes but only 26 remain \\[NFQ_PCAP_TRUNCATED\\] \\(the 2 packets before it were replayed\\)\\n$`));
      assert.match(r.stdout, /replayed 2 packets from 1 file: 2 allowed, 0 denied; 1 flows \(1 allowed, 0 denied\)/);
    });

    it('reports a file that is not a capture, and a missing file, and exits 2', async () => {
      const junk = join(tmp.dir, 'junk.pcap');
      writeFileSync(junk, 'this is not a capture file at all');
      const r = await replay([junk, join(tmp.dir, 'missing.pcap'), golden]);
      assert.equal(r.code, 2);
      assert.match(r.stderr, /junk\.pcap: at byte 0: not a pcap or pcapng file \(first 4 bytes 74686973\) \[NFQ_PCAP_BAD_MAGIC\]/);
      assert.match(r.stderr, /missing\.pcap: at byte 0: cannot open .*missing\.pcap: ENOENT .*\[NFQ_PCAP_OPEN_FAILED\]/);
      // The good file after them is still replayed.
      assert.match(r.stdout, /replayed 36 packets from 3 files/);
    });

    it('gives packets of an unsupported link type parse-error verdicts and warns once', async () => {
      const odd = join(tmp.dir, 'odd.pcap');
      const w = PcapWriter.toFile(odd, { linkType: 147 });
      w.write(nsAt(T0_MS), Buffer.from('user link type payload'));
      w.write(nsAt(T0_MS + 1), Buffer.from('another'));
      w.close();
      const r = await replay([odd], { json: true });
      assert.equal(r.code, 0);
      const first = JSON.parse(r.stdout.split('\n')[0]!) as Record<string, unknown>;
      assert.deepEqual([first.verdict, first.status, first.reason], ['parse-error', 'UNSUPPORTED_LINK_TYPE', 'link type LINKTYPE_147 (147) is not supported']);
      assert.equal(r.stderr, 'nfqwall replay: warning: 2 packets have link type LINKTYPE_147, which the parser does not support: they got parse-error verdicts\n');
    });
  });

  describe('--expect', () => {
    it('exits 0 and lists the met expectations when all hold', async () => {
      const file = join(tmp.dir, 'expect-ok.yaml');
      writeFileSync(
        file,
        [
          '# the seed policy, as a regression suite',
          '- {match: {src: 10.0.1.10, dst: 192.168.0.10, proto: TCP, dport: 22}, expect: allow}',
          '- {match: {src: 10.0.1.0/24, dst: 192.168.0.0/24, proto: TCP, dport: 80}, expect: deny, flow: true, count: 1}',
          '- {match: {src: 192.168.0.10, dst: 10.0.1.10, sport: 22}, expect: allow}',
          '- {match: {src: "fd00:1::/64", dst: "fd00:168::10", proto: ICMPv6, icmpType: 128}, expect: deny}',
          '- name: nothing goes to the maintenance network on 443',
          '  match: {dst: 192.168.0.0/24, proto: tcp, dport: 443}',
          '  expect: deny',
          '  count: 0',
          '',
        ].join('\n'),
      );
      const r = await replay([golden], { expect: file });
      assert.equal(r.code, 0, r.stdout + r.stderr);
      assert.match(r.stdout, new RegExp(`met      ${file}:2: packets \\{src: 10\\.0\\.1\\.10, dst: 192\\.168\\.0\\.10, proto: TCP, dport: 22\\} expect allow \\(5 packets\\)`));
      assert.match(r.stdout, new RegExp(`met      ${file}:3: flows \\{src: 10\\.0\\.1\\.0/24, dst: 192\\.168\\.0\\.0/24, proto: TCP, dport: 80\\} expect deny, count 1 \\(1 flow\\)`));
      assert.match(r.stdout, /expect allow \(3 packets\)/);
      assert.match(r.stdout, /met .*nothing goes to the maintenance network on 443: packets .* \(0 packets\)/);
      assert.match(r.stdout, /expectations: 5 met, 0 not met\n$/);
    });

    it('exits 1 with a readable diff when an expectation is not met or matches nothing', async () => {
      const file = join(tmp.dir, 'expect-fail.yaml');
      writeFileSync(
        file,
        [
          '- {match: {src: 10.0.1.10, dst: 192.168.0.10, proto: TCP, dport: 80}, expect: allow}',
          '- {match: {dst: 192.168.0.10, proto: TCP, dport: 443}, expect: deny}',
          '- {match: {proto: TCP, dport: 22, dst: 192.168.0.10}, expect: allow, flow: true, count: 3}',
          '- {match: {proto: UDP, dport: 53}, expect: allow}',
          '',
        ].join('\n'),
      );
      const r = await replay([golden], { expect: file });
      assert.equal(r.code, 1);
      const report = r.stdout.slice(r.stdout.indexOf('NOT MET'));
      assert.equal(
        report,
        [
          `NOT MET  ${file}:1: packets {src: 10.0.1.10, dst: 192.168.0.10, proto: TCP, dport: 80} expect allow`,
          '  - expected allow for every matching packet',
          '  + got      deny   packet #8 TCP 10.0.1.10:40001 -> 192.168.0.10:80 forward eth2->eth1, ct new (gw1.eth1: built-in end-of-tier (default))',
          '  + got      deny   packet #9 TCP 10.0.1.10:40001 -> 192.168.0.10:80 forward eth2->eth1, ct new (gw1.eth1: built-in end-of-tier (default))',
          `NOT MET  ${file}:2: packets {dst: 192.168.0.10, proto: TCP, dport: 443} expect deny`,
          '  - expected at least 1 matching packet',
          '  + got      no matching packet',
          `NOT MET  ${file}:3: flows {dst: 192.168.0.10, proto: TCP, dport: 22} expect allow, count 3`,
          '  - expected 3 matching flows',
          '  + got      2 matching flows',
          `met      ${file}:4: packets {proto: UDP, dport: 53} expect allow (1 packet)`,
          'expectations: 1 met, 3 not met',
          '',
        ].join('\n'),
      );
    });

    it('rejects an invalid expectation file with file:line:column errors and exits 2', async () => {
      const file = join(tmp.dir, 'expect-bad.yaml');
      writeFileSync(
        file,
        [
          '- {match: {src: 10.0.1.300, proto: TCP}, expect: allow}',
          '- match: {dport: 22, colour: blue}',
          '  expect: maybe',
          '- {match: {proto: ICMP, dport: 22}, expect: deny, count: -1}',
          '- {expect: deny, flows: true}',
          '',
        ].join('\n'),
      );
      const r = await replay([golden], { expect: file });
      assert.equal(r.code, 2);
      assert.equal(r.stdout, '');
      assert.deepEqual(r.stderr.trimEnd().split('\n'), [
        `${file}:1:17: match.src: must be an IP address or CIDR, got "10.0.1.300"`,
        `${file}:2:22: match: unknown field 'colour' (src, dst, proto, sport, dport, icmpType, icmpCode, path, iif, oif)`,
        `${file}:3:11: expect: must be allow or deny, got "maybe"`,
        `${file}:4:11: match: ICMP has no ports; sport/dport need TCP, UDP, SCTP or UDPLite`,
        `${file}:4:58: count: must be a whole number >= 0, got -1`,
        `${file}:5:3: item 4: match: required (a mapping of src, dst, proto, sport, dport, ...)`,
        `${file}:5:18: unknown field 'flows' (match, expect, flow, count, name)`,
      ]);
    });
  });

  describe('--write-denied / --write-allowed', () => {
    itTcpdump('writes the dropped packets to a pcap file that tcpdump reads', async () => {
      const denied = join(tmp.dir, 'denied.pcap');
      const allowed = join(tmp.dir, 'allowed.pcap');
      const r = await replay([golden], { writeDenied: denied, writeAllowed: allowed });
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stdout, new RegExp(`wrote 11 packets to ${denied} \\(pcap, link type ETHERNET\\)`));
      assert.match(r.stdout, new RegExp(`wrote 25 packets to ${allowed} \\(pcap, link type ETHERNET\\)`));
      const t = spawnSync(TCPDUMP, ['-nn', '-r', denied], { encoding: 'utf8', timeout: 10000 });
      assert.equal(t.status, 0, t.stderr);
      assert.match(t.stderr, /link-type EN10MB/);
      const lines = t.stdout.trimEnd().split('\n');
      const expected = packets.filter((p) => p.expect === 'deny' || p.expect === 'parse-error');
      assert.equal(lines.length, expected.length, t.stdout);
      assert.match(lines[0]!, /^22:13:20\.010000 IP 10\.0\.1\.10\.40001 > 192\.168\.0\.10\.80: Flags \[S\], seq 900, win 64240, length 0$/);
      assert.match(lines[1]!, /^22:13:21\.010000 IP 10\.0\.1\.10\.40001 > 192\.168\.0\.10\.80: Flags \[S\]/);
      assert.match(t.stdout, /IP6 fd00:1::10\.41001 > fd00:168::10\.80: Flags \[S\]/);
      const a = spawnSync(TCPDUMP, ['-nn', '-r', allowed], { encoding: 'utf8', timeout: 10000 });
      assert.equal(a.status, 0, a.stderr);
      assert.equal(a.stdout.trimEnd().split('\n').length, 25);
      assert.match(a.stdout, /ARP, Request who-has 10\.0\.1\.1 tell 10\.0\.1\.10/);
    });

    itTcpdump('writes raw IP when the inputs have different link types', async () => {
      const raw = join(tmp.dir, 'raw-in.pcap');
      const w = PcapWriter.toFile(raw, { linkType: LINKTYPE.RAW });
      w.write(nsAt(T0_MS + 50_000), packets[8]!.frame.subarray(14));
      w.close();
      const out = join(tmp.dir, 'denied-mixed.pcap');
      const r = await replay([golden, raw], { writeDenied: out });
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stdout, /wrote 12 packets to .*denied-mixed\.pcap \(pcap, link type RAW\)/);
      const t = spawnSync(TCPDUMP, ['-nn', '-r', out], { encoding: 'utf8', timeout: 10000 });
      assert.equal(t.status, 0, t.stderr);
      assert.match(t.stderr, /link-type RAW/);
      assert.equal(t.stdout.trimEnd().split('\n').length, 12);
    });
  });

  it('is registered in the nfqwall command line (bin/nfqwall replay)', () => {
    const r = spawnSync(process.execPath, [join(REPO, 'bin', 'nfqwall'), 'replay', '--config', POLICY_DIR, '--host', HOST_FILE, golden], { encoding: 'utf8', timeout: 20000 });
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /replayed 36 packets from 1 file/);
    const missing = spawnSync(process.execPath, [join(REPO, 'bin', 'nfqwall'), 'replay', '--host', HOST_FILE, golden], { encoding: 'utf8', timeout: 20000 });
    assert.equal(missing.status, 2);
    assert.match(missing.stderr, /required option '--config <dir>' not specified/);
  });
});
