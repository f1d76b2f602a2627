/**
 * Interface index -> name, for the network namespace this process runs in.
 *
 * The `nfqueue` binding does report names, but it reads the interface table once at open and
 * writes each name into one reused buffer without checking the lookup's result: an interface
 * created later (ppp, wg, a new veth) gets the previous lookup's name. A firewall matching on
 * interface names cannot use that, so names come from sysfs instead, re-read when an unknown
 * index shows up (at most once per `refreshIntervalMs`, so a flood of unknowns costs little).
 */
import { readdirSync, readFileSync } from 'node:fs';

export interface InterfaceNames {
  /** The name of `ifindex`, or undefined for 0 and for indexes that cannot be resolved. */
  name(ifindex: number): string | undefined;
  /** Re-read the table now (a renamed interface keeps its index, so no miss would reveal it). */
  refresh(): void;
}

const SYS_CLASS_NET = '/sys/class/net';

export function readInterfaceIndexes(dir: string = SYS_CLASS_NET): Map<number, string> {
  const map = new Map<number, string>();
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return map;
  }
  for (const name of names) {
    try {
      const idx = Number(readFileSync(`${dir}/${name}/ifindex`, 'utf8').trim());
      if (Number.isInteger(idx) && idx > 0) map.set(idx, name);
    } catch {
      // the interface went away while we read
    }
  }
  return map;
}

export function sysfsInterfaceNames(options: { refreshIntervalMs?: number; dir?: string } = {}): InterfaceNames {
  const interval = options.refreshIntervalMs ?? 1000;
  let table = readInterfaceIndexes(options.dir);
  let lastRead = Date.now();
  const refresh = () => {
    table = readInterfaceIndexes(options.dir);
    lastRead = Date.now();
  };
  return {
    refresh,
    name(ifindex) {
      if (ifindex === 0) return undefined;
      const hit = table.get(ifindex);
      if (hit !== undefined || Date.now() - lastRead < interval) return hit;
      refresh();
      return table.get(ifindex);
    },
  };
}
