/**
 * The live host model: interfaces, addresses and routes read from the kernel with iproute2's JSON
 * output, refreshed whenever `ip monitor` reports a link or address change. Thin I/O adapter; the
 * conversion from iproute2 JSON is pure (`hostFromIproute`).
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { promisify } from 'node:util';
import type { HostInterface, HostModel } from '../engine/host-model';
import { watcherCommand, type WatcherTools } from './watcher-command';

const run = promisify(execFile);

interface IpAddrEntry {
  ifindex: number;
  ifname: string;
  addr_info?: { family: string; local?: string; prefixlen?: number; scope?: string }[];
}
interface IpRouteEntry {
  dst?: string;
  dev?: string;
  type?: string;
}

export interface LiveInterfaces {
  host: HostModel;
  /** ifindex -> name (the nfqueue binding's own names are stale for interfaces created later). */
  names: Map<number, string>;
}

/** Pure: iproute2 JSON -> host model. */
export function hostFromIproute(
  addrs: IpAddrEntry[],
  routes: IpRouteEntry[],
  base: Pick<HostModel, 'node' | 'workloadInterfacePrefix' | 'unmanagedVerdict'>,
): LiveInterfaces {
  const names = new Map<number, string>();
  const byName = new Map<string, HostInterface>();
  const interfaces: HostInterface[] = [];
  for (const a of addrs) {
    names.set(a.ifindex, a.ifname);
    const iface: HostInterface = {
      name: a.ifname,
      addresses: (a.addr_info ?? [])
        .filter((x) => (x.family === 'inet' || x.family === 'inet6') && x.local && x.prefixlen !== undefined)
        .map((x) => `${x.local}/${x.prefixlen}`),
      routes: [],
      workload: base.workloadInterfacePrefix !== '' && a.ifname.startsWith(base.workloadInterfacePrefix),
    };
    interfaces.push(iface);
    byName.set(a.ifname, iface);
  }
  for (const r of routes) {
    if (!r.dev || !r.dst || r.dst === 'default' || (r.type && r.type !== 'unicast')) continue;
    const iface = byName.get(r.dev);
    if (iface && r.dst.includes('/') && !iface.routes.includes(r.dst)) iface.routes.push(r.dst);
  }
  return {
    host: { ...base, interfaces, ipForward: true, nat: [] },
    names,
  };
}

/** Read the current interfaces and routes of this network namespace. */
export async function readLiveHost(base: Pick<HostModel, 'node' | 'workloadInterfacePrefix' | 'unmanagedVerdict'>): Promise<LiveInterfaces> {
  const [addrs, r4, r6] = await Promise.all([
    run('ip', ['-j', 'addr', 'show'], { maxBuffer: 64 * 1024 * 1024 }),
    run('ip', ['-j', '-4', 'route', 'show'], { maxBuffer: 64 * 1024 * 1024 }),
    run('ip', ['-j', '-6', 'route', 'show'], { maxBuffer: 64 * 1024 * 1024 }),
  ]);
  const parse = <T>(s: string): T[] => (s.trim() === '' ? [] : (JSON.parse(s) as T[]));
  return hostFromIproute(parse<IpAddrEntry>(addrs.stdout), [...parse<IpRouteEntry>(r4.stdout), ...parse<IpRouteEntry>(r6.stdout)], base);
}

/**
 * The `ip monitor` command line. Children inherit every descriptor not marked close-on-exec, and
 * libnetfilter_queue's netlink sockets are not: a monitor outliving a killed daemon would keep its
 * queues bound (no fail-open bypass, no restart). With setpriv (util-linux) the kernel kills the
 * monitor when the daemon dies.
 */
export function monitorCommand(tools?: WatcherTools): string[] {
  return watcherCommand(['ip', 'monitor', 'link', 'address'], tools);
}

/**
 * Calls `onChange` (debounced) whenever a link or address changes, and `onEvent` (if given) at
 * once for every event, before the debounce. Returns a stop function. `ip monitor` is restarted
 * if it dies, with a bounded back-off.
 */
export function watchInterfaces(onChange: () => void, debounceMs = 100, onEvent?: () => void): () => void {
  let child: ChildProcess | null = null;
  let timer: NodeJS.Timeout | null = null;
  let stopped = false;
  let restarts = 0;
  const fire = () => {
    onEvent?.();
    if (timer) return;
    timer = setTimeout(() => {
      timer = null;
      if (!stopped) onChange();
    }, debounceMs);
  };
  const [file, ...args] = monitorCommand();
  const start = () => {
    child = spawn(file as string, args, { stdio: ['ignore', 'pipe', 'ignore'] });
    child.on('error', () => undefined);
    child.stdout?.on('data', fire);
    child.on('exit', () => {
      if (stopped) return;
      restarts++;
      setTimeout(start, Math.min(5000, 100 * restarts)).unref();
    });
  };
  start();
  return () => {
    stopped = true;
    if (timer) clearTimeout(timer);
    child?.kill();
  };
}
