import { strict as assert } from 'node:assert';
import type { HostModel } from '../../src/engine';
import { parseIp } from '../../src/net/ip';
import { HostDirection, createDirectionOut, parseInterfaceMap, type InterfaceMap } from '../../src/replay';
import { loadHostFile } from '../../tools/inputs';
import { HOST_FILE } from './helpers';

function words(a: string): [number, number, number, number] {
  const p = parseIp(a);
  if (!p) throw new Error(`bad address ${a}`);
  return p.words;
}

describe('replay: direction and interfaces from the host model', () => {
  let host: HostModel;
  before(() => {
    const h = loadHostFile(HOST_FILE);
    assert.ok(h);
    host = h;
  });

  function resolve(src: string, dst: string, captureName?: string, captureIndex = 0, map?: InterfaceMap) {
    const d = new HostDirection(host, map);
    const out = createDirectionOut();
    const ok = d.resolve(src.includes(':') ? 6 : 4, words(src), words(dst), captureName, captureIndex, out);
    return { ok, path: out.path, iif: out.iif, oif: out.oif, from: out.iifSource, problem: out.problem };
  }

  it('forwards between connected networks and routes, by longest prefix', () => {
    assert.deepEqual(resolve('10.0.1.10', '192.168.0.10'), { ok: true, path: 'forward', iif: 'eth2', oif: 'eth1', from: 'route', problem: '' });
    // 10.0.2.0/24 is a route via eth2; 198.51.100.7 only matches the default route on eth0.
    assert.deepEqual(resolve('10.0.2.5', '198.51.100.7'), { ok: true, path: 'forward', iif: 'eth2', oif: 'eth0', from: 'route', problem: '' });
    assert.deepEqual(resolve('fd00:1::10', '2001:db8:999::1'), { ok: true, path: 'forward', iif: 'eth2', oif: 'eth0', from: 'route', problem: '' });
  });

  it('sends packets to any local address up the local-in path, and the host own packets down local-out', () => {
    // 10.0.1.1 is eth2's address, but arriving from the maintenance network it came in on eth1.
    assert.deepEqual(resolve('192.168.0.10', '10.0.1.1'), { ok: true, path: 'local-in', iif: 'eth1', oif: null, from: 'route', problem: '' });
    assert.deepEqual(resolve('203.0.113.2', '198.51.100.7'), { ok: true, path: 'local-out', iif: null, oif: 'eth0', from: 'none', problem: '' });
    assert.deepEqual(resolve('fd00:168::45', 'fd00:168::10'), { ok: true, path: 'local-out', iif: null, oif: 'eth1', from: 'none', problem: '' });
  });

  it('loops host-to-host packets through lo, and treats all of 127.0.0.0/8 as local', () => {
    assert.deepEqual(resolve('10.0.1.1', '192.168.0.45'), { ok: true, path: 'local-in', iif: 'lo', oif: null, from: 'loopback', problem: '' });
    assert.deepEqual(resolve('127.0.0.1', '127.0.0.53'), { ok: true, path: 'local-in', iif: 'lo', oif: null, from: 'loopback', problem: '' });
  });

  it('delivers multicast and broadcast locally', () => {
    assert.equal(resolve('10.0.1.10', '10.0.1.255').path, 'local-in');
    assert.equal(resolve('10.0.1.10', '255.255.255.255').path, 'local-in');
    assert.equal(resolve('10.0.1.10', '224.0.0.251').path, 'local-in');
    assert.equal(resolve('fd00:1::10', 'ff02::1').path, 'local-in');
    // From the host itself, multicast leaves by the capture interface (no route covers it).
    const nd = resolve('fd00:168::45', 'ff02::1:ff00:10', 'eth1');
    assert.deepEqual([nd.path, nd.oif], ['local-out', 'eth1']);
  });

  it('takes the in-interface from the capture interface name, unless the packet was captured leaving', () => {
    assert.deepEqual(resolve('198.51.100.7', '192.168.0.45', 'eth1'), { ok: true, path: 'local-in', iif: 'eth1', oif: null, from: 'capture', problem: '' });
    assert.deepEqual(resolve('10.0.1.10', '192.168.0.10', 'eth3'), { ok: true, path: 'forward', iif: 'eth3', oif: 'eth1', from: 'capture', problem: '' });
    // Seen on eth1 on its way to 192.168.0.10: eth1 is the out-interface; the source decides the in-interface.
    assert.deepEqual(resolve('10.0.1.10', '192.168.0.10', 'eth1'), { ok: true, path: 'forward', iif: 'eth2', oif: 'eth1', from: 'route', problem: '' });
    // A capture name that is no host interface ("any") is ignored.
    assert.equal(resolve('198.51.100.7', '192.168.0.45', 'any').iif, 'eth0');
  });

  it('applies --iface mappings by capture interface name or index', () => {
    const parsed = parseInterfaceMap(['wan0=eth0,1=eth1', '2=eth2'], host);
    assert.deepEqual(parsed.errors, []);
    const map = parsed.map;
    assert.equal(resolve('10.0.1.10', '192.168.0.45', 'wan0', 0, map).iif, 'eth0');
    assert.equal(resolve('10.0.1.10', '192.168.0.45', undefined, 1, map).iif, 'eth1');
    assert.equal(resolve('10.0.1.10', '192.168.0.45', undefined, 1, map).from, 'iface-map');
    // A capture name that names a host interface wins over the map.
    assert.equal(resolve('10.0.1.10', '192.168.0.45', 'eth3', 1, map).iif, 'eth3');
    assert.equal(resolve('10.0.1.10', '192.168.0.45', undefined, 5, map).iif, 'eth2');
  });

  it('rejects --iface entries that are malformed or name no host interface', () => {
    const { errors } = parseInterfaceMap(['0=eth9', 'eth1', '=eth1'], host);
    assert.equal(errors.length, 3);
    assert.match(errors[0]!, /eth9 is not an interface of the host model/);
    assert.match(errors[1]!, /expected CAPTURE=HOST/);
  });

  it('reports packets it cannot place instead of guessing', () => {
    const noDefault: HostModel = { ...host, interfaces: host.interfaces.map((i) => ({ ...i, routes: i.routes.filter((r) => !r.endsWith('/0')) })) };
    const d = new HostDirection(noDefault);
    const out = createDirectionOut();
    assert.equal(d.resolve(4, words('10.0.1.10'), words('198.51.100.7'), undefined, 0, out), false);
    assert.match(out.problem, /no connected network or route contains the destination/);
    assert.equal(d.resolve(4, words('198.51.100.7'), words('192.168.0.45'), undefined, 0, out), false);
    assert.match(out.problem, /no in-interface/);
  });
});
