import { strict as assert } from 'node:assert';
import { request } from 'node:http';
import { emptySourceStats } from '../../src/queue/packet-source';
import { Metrics, parseListenAddress, startMetricsServer } from '../../src/observe/metrics';
import { ctMark, IFINDEX, rig, wanTcp, wanUdp } from './helpers';

/** The value of one exposition line `name{labels} value` (labels given as they are printed). */
function value(text: string, series: string): number | undefined {
  for (const line of text.split('\n')) {
    if (line.startsWith('#')) continue;
    const i = line.lastIndexOf(' ');
    if (line.slice(0, i) === series) return Number(line.slice(i + 1));
  }
  return undefined;
}

function get(port: number, path: string): Promise<{ status: number; body: string; type: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, method: 'GET' }, (res) => {
      let body = '';
      res.setEncoding('utf8').on('data', (c: string) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body, type: String(res.headers['content-type']) }));
    });
    req.on('error', reject);
    req.end();
  });
}

describe('observe/metrics', () => {
  it('counts verdicts by hook and action, hits per rule, and the decision latency histogram', async () => {
    const { processor, slot } = rig();
    const m = new Metrics();
    m.notePolicy(slot.current);
    let t = 1000;
    const run = (pkt: Buffer, ns: number) => m.packet(processor.process('filter-forward', pkt, ctMark('new'), IFINDEX.eth0, IFINDEX.eth2, (t += 10)), ns);
    for (let i = 0; i < 3; i++) run(wanTcp('198.51.100.7', '10.0.1.20', 80, 'S', 30000 + i), 4000);
    run(wanTcp('198.51.100.7', '10.0.1.20', 80, 'S', 30000), 2000); // retransmitted SYN: answered from the flow table
    run(wanUdp('198.51.100.7', '10.0.1.53', 53), 30_000);
    run(wanTcp('192.0.2.5', '10.0.1.20', 22), -1); // not timed
    const text = await m.expose();
    assert.equal(value(text, 'nfqwall_verdicts_total{hook="filter-forward",action="deny",source="engine"}'), 4);
    assert.equal(value(text, 'nfqwall_verdicts_total{hook="filter-forward",action="deny",source="flow-table"}'), 1);
    assert.equal(value(text, 'nfqwall_verdicts_total{hook="filter-forward",action="allow",source="engine"}'), 1);
    assert.equal(value(text, 'nfqwall_verdicts_total{hook="filter-input",action="allow",source="engine"}'), 0, 'every series exists from the start');
    assert.equal(value(text, 'nfqwall_rule_hits_total{kind="policy",tier="default",policy="wan-web",direction="ingress",index="2",action="Deny"}'), 3);
    assert.equal(value(text, 'nfqwall_rule_hits_total{kind="policy",tier="default",policy="wan-web",direction="ingress",index="0",action="Allow"}'), 0, 'rules of the policy are pre-created');
    assert.equal(value(text, 'nfqwall_rule_hits_total{kind="builtin",tier="default",policy="end-of-tier",direction="",index="",action=""}'), 1);
    assert.equal(value(text, 'nfqwall_rule_hits_total{kind="policy",tier="default",policy="wan-web",direction="ingress",index="4",action="Allow"}'), 1);
    assert.equal(value(text, 'nfqwall_decision_duration_seconds_count'), 5);
    assert.equal(value(text, 'nfqwall_decision_duration_seconds_bucket{le="0.000001"}'), 0);
    assert.equal(value(text, 'nfqwall_decision_duration_seconds_bucket{le="0.000005"}'), 4);
    assert.equal(value(text, 'nfqwall_decision_duration_seconds_bucket{le="0.00005"}'), 5);
    assert.equal(value(text, 'nfqwall_decision_duration_seconds_bucket{le="+Inf"}'), 5);
    assert.ok(Math.abs(value(text, 'nfqwall_decision_duration_seconds_sum')! - 44e-6) < 1e-12);
    assert.match(text, /# TYPE nfqwall_decision_duration_seconds histogram/);
    assert.match(text, /# TYPE nfqwall_verdicts_total counter/);
  });

  it('reads queue (userspace and kernel), flow-table, reload and suppression counters at scrape time', async () => {
    let scrapes = 0;
    const q = { ...emptySourceStats(4103), packets: 10, verdicts: { accept: 6, drop: 3, repeat: 1 }, pending: 2, hook: 'filter-forward' };
    const m = new Metrics({
      sources: {
        generation: () => 7,
        reloads: () => ({ ok: 3, failed: 1 }),
        flowTable: () => ({ size: 42, capacity: 1000, stats: { created: 50, evicted: 2, expired: 5, closed: 1, deleted: 0, invalid: 0, related: 0, untracked: 0, sweepScanned: 0 } }),
        queues: () => [q],
        kernelQueues: () => {
          scrapes++;
          return [{ queueNumber: 4103, portId: 99, queueTotal: 4, copyMode: 2, copyRange: 65535, queueDropped: 17, userDropped: 5, idSequence: 100 }];
        },
        logSuppressed: () => ({ deny: 99980, 'log-action': 3 }),
      },
    });
    const text = await m.expose();
    assert.equal(scrapes, 1, '/proc is read once per scrape');
    assert.equal(value(text, 'nfqwall_policy_generation'), 7);
    assert.equal(value(text, 'nfqwall_reloads_total{result="ok"}'), 3);
    assert.equal(value(text, 'nfqwall_reloads_total{result="failed"}'), 1);
    assert.equal(value(text, 'nfqwall_flows'), 42);
    assert.equal(value(text, 'nfqwall_flow_evictions_total'), 2);
    assert.equal(value(text, 'nfqwall_flow_events_total{event="expired"}'), 5);
    assert.equal(value(text, 'nfqwall_queue_packets_total{queue="4103",hook="filter-forward"}'), 10);
    assert.equal(value(text, 'nfqwall_queue_verdicts_total{queue="4103",hook="filter-forward",verdict="drop"}'), 3);
    assert.equal(value(text, 'nfqwall_queue_kernel_waiting{queue="4103"}'), 4);
    assert.equal(value(text, 'nfqwall_queue_kernel_dropped_total{queue="4103"}'), 17);
    assert.equal(value(text, 'nfqwall_queue_kernel_user_dropped_total{queue="4103"}'), 5);
    assert.equal(value(text, 'nfqwall_log_records_suppressed_total{kind="deny"}'), 99980);
    // A second scrape reports the same (counters are copied, not added up).
    assert.equal(value(await m.expose(), 'nfqwall_reloads_total{result="ok"}'), 3);
  });

  it('parses listen addresses, defaulting to loopback', () => {
    assert.deepEqual(parseListenAddress('127.0.0.1:9743'), { host: '127.0.0.1', port: 9743 });
    assert.deepEqual(parseListenAddress('9743'), { host: '127.0.0.1', port: 9743 });
    assert.deepEqual(parseListenAddress(':9743'), { host: '127.0.0.1', port: 9743 });
    assert.deepEqual(parseListenAddress('[::1]:9743'), { host: '::1', port: 9743 });
    assert.equal(parseListenAddress('::1:9743'), null);
    assert.equal(parseListenAddress('localhost:99999'), null);
    assert.equal(parseListenAddress('nonsense'), null);
  });

  it('serves the exposition over HTTP on the configured address only', async () => {
    const m = new Metrics({ sources: { generation: () => 3 } });
    const server = await startMetricsServer(m, '127.0.0.1:0');
    try {
      assert.equal(server.address.address, '127.0.0.1');
      const r = await get(server.address.port, '/metrics');
      assert.equal(r.status, 200);
      assert.match(r.type, /^text\/plain; version=0\.0\.4/);
      assert.equal(value(r.body, 'nfqwall_policy_generation'), 3);
      assert.equal((await get(server.address.port, '/')).status, 404);
    } finally {
      await server.close();
    }
    await assert.rejects(startMetricsServer(m, 'not an address'), /metricsListen "not an address" is not HOST:PORT/);
  });
});
