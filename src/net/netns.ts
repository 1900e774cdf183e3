/**
 * Private network worlds: two network namespaces joined by veth pairs, created
 * with names of their own and removed on dispose() — and, should the process die
 * first, on exit, on SIGINT/SIGTERM/SIGHUP, or by the next run (sweepStale()).
 * Nothing here touches an interface or namespace it did not create.
 *
 * Names: namespaces "aoede-<tag>-<pid><n>a"/"...b"; veth ends "ad<tag><pid><n><p>a"/"...b"
 * (interface names are limited to 15 bytes, IFNAMSIZ - 1).
 *
 * Used by `aoede demo`, `bun run bench` and the tests (test/helpers/netns.ts). Needs root and iproute2.
 */
import { spawnSync } from "bun";
import { existsSync, readdirSync } from "node:fs";

const live = new Set<string>();
let counter = 0;
let hooked = false;

export class NetnsError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "NetnsError";
  }
}

function sh(args: string[], allowFail = false): string {
  let r;
  try {
    r = spawnSync(args, { stdout: "pipe", stderr: "pipe" });
  } catch (e) {
    if (allowFail) return "";
    throw new NetnsError(`${args[0]}: ${(e as Error).message} (is iproute2 installed?)`);
  }
  if (r.exitCode !== 0 && !allowFail) {
    throw new NetnsError(`${args.join(" ")} failed: ${r.stderr.toString().trim()}`);
  }
  return r.stdout.toString();
}

/** Remove every namespace this process created (synchronous: safe in exit handlers). */
export function cleanupAll(): void {
  for (const ns of live) sh(["ip", "netns", "del", ns], true);
  live.clear();
}

function hookExit() {
  if (hooked) return;
  hooked = true;
  process.on("exit", cleanupAll);
}

/** Why this process cannot build worlds, or undefined when it can (root with iproute2). */
export function netnsUnavailable(): string | undefined {
  if (process.platform !== "linux") return "network namespaces are a Linux feature";
  if (process.getuid?.() !== 0) return "it needs root (network namespaces and raw sockets): run it with sudo";
  let r;
  try {
    r = spawnSync(["ip", "netns", "list"], { stdout: "ignore", stderr: "pipe" });
  } catch {
    return "the `ip` command is missing: install iproute2";
  }
  if (r.exitCode !== 0) return `\`ip netns\` does not work here: ${r.stderr.toString().trim()}`;
  return undefined;
}

/** True when this process may create namespaces (root with iproute2). */
export function canUseNetns(): boolean {
  return netnsUnavailable() === undefined;
}

/**
 * Remove namespaces named aoede-<tag>-<pid>... left by a process (of this tag) that
 * no longer exists — a run killed with SIGKILL cannot clean up after itself.
 */
export function sweepStale(tag: string): string[] {
  const dir = "/var/run/netns";
  if (!existsSync(dir)) return [];
  const removed: string[] = [];
  const re = new RegExp(`^aoede-${tag}-(\\d+)-\\d+[ab]$`);
  for (const name of readdirSync(dir)) {
    const m = name.match(re);
    if (!m) continue;
    const pid = Number(m[1]);
    if (pid === process.pid || existsSync(`/proc/${pid}`)) continue;
    sh(["ip", "netns", "del", name], true);
    removed.push(name);
  }
  return removed;
}

export interface VethPair {
  /** veth end in nsA */
  ifA: string;
  /** veth end in nsB */
  ifB: string;
  macA: string;
  macB: string;
}

export interface VethWorld extends VethPair {
  /** namespace of the target side */
  nsA: string;
  /** namespace of the initiator side */
  nsB: string;
  /** every pair, the first one included */
  pairs: VethPair[];
  /** run a command inside a namespace, synchronously; returns stdout */
  exec(ns: string, args: string[], allowFail?: boolean): string;
  /** argv prefix that runs a command inside ns (for Bun.spawn) */
  prefix(ns: string): string[];
  /** add another veth pair between the two namespaces (multipath); returns its end names */
  addPair(mtu?: number): VethPair;
  /** set the MTU of both ends of the first pair */
  setMtu(mtu: number): void;
  /** remove both namespaces (and with them the veth pairs); idempotent */
  dispose(): void;
}

function readMac(ns: string, ifname: string): string {
  const out = sh(["ip", "-n", ns, "-o", "link", "show", ifname]);
  const m = out.match(/link\/ether ([0-9a-f:]{17})/);
  if (!m) throw new NetnsError(`no MAC for ${ifname} in ${ns}`);
  return m[1]!;
}

/**
 * Two fresh namespaces joined by a veth pair, both ends up, at the given MTU.
 * `tag` (2-4 lowercase letters) keeps the names of concurrent users apart.
 */
export function makeVethWorld(tag: string, mtu = 1500): VethWorld {
  if (!/^[a-z]{2,4}$/.test(tag)) throw new NetnsError(`tag "${tag}": 2-4 lowercase letters`);
  hookExit();
  const n = counter++;
  const pid = process.pid;
  const nsA = `aoede-${tag}-${pid}-${n}a`;
  const nsB = `aoede-${tag}-${pid}-${n}b`;
  let pairCount = 0;
  const pairNames = () => {
    // 15 bytes at most: "ad" + tag (<=4) + pid%10^5 (<=5) + n%10 + pair%10 + a/b
    const base = `ad${tag}${pid % 100000}${n % 10}${pairCount++ % 10}`;
    return [`${base}a`, `${base}b`] as const;
  };
  const pairs: VethPair[] = [];
  const world = {} as VethWorld;
  try {
    for (const ns of [nsA, nsB]) {
      sh(["ip", "netns", "add", ns]);
      live.add(ns);
      sh(["ip", "-n", ns, "link", "set", "lo", "up"]);
    }
    const addPair = (pmtu = mtu): VethPair => {
      const [a, b] = pairNames();
      // Created inside nsA so that nothing ever appears in the caller's namespace.
      sh(["ip", "-n", nsA, "link", "add", a, "mtu", String(pmtu), "type", "veth", "peer", "name", b, "mtu", String(pmtu)]);
      sh(["ip", "-n", nsA, "link", "set", b, "netns", nsB]);
      sh(["ip", "-n", nsA, "link", "set", a, "up"]);
      sh(["ip", "-n", nsB, "link", "set", b, "up"]);
      const p = { ifA: a, ifB: b, macA: readMac(nsA, a), macB: readMac(nsB, b) };
      pairs.push(p);
      return p;
    };
    const first = addPair();
    Object.assign(world, {
      nsA,
      nsB,
      ...first,
      pairs,
      exec: (ns: string, args: string[], allowFail = false) => sh(["ip", "netns", "exec", ns, ...args], allowFail),
      prefix: (ns: string) => ["ip", "netns", "exec", ns],
      addPair,
      setMtu(m: number) {
        sh(["ip", "-n", nsA, "link", "set", first.ifA, "mtu", String(m)]);
        sh(["ip", "-n", nsB, "link", "set", first.ifB, "mtu", String(m)]);
      },
      dispose() {
        for (const ns of [nsA, nsB]) {
          if (!live.has(ns)) continue;
          sh(["ip", "netns", "del", ns], true);
          live.delete(ns);
        }
      },
    } satisfies VethWorld);
  } catch (e) {
    for (const ns of [nsA, nsB]) {
      if (live.delete(ns)) sh(["ip", "netns", "del", ns], true);
    }
    throw e;
  }
  return world;
}
