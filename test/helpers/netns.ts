/**
 * Private network worlds for tests: network namespaces and veth pairs that the
 * test itself creates, with names of its own, removed on dispose (and on process
 * exit, should a test die). Nothing here touches an interface it did not create.
 *
 * Names: namespaces "aoede-<tag>-<n>", veth ends "ad<tag><n>a"/"ad<tag><n>b" —
 * interface names are limited to 15 bytes (IFNAMSIZ - 1).
 */
import { spawnSync } from "bun";

const live = new Set<string>();
let counter = 0;

function sh(args: string[], allowFail = false): string {
  const r = spawnSync(args, { stdout: "pipe", stderr: "pipe" });
  if (r.exitCode !== 0 && !allowFail) {
    throw new Error(`${args.join(" ")} failed: ${r.stderr.toString().trim()}`);
  }
  return r.stdout.toString();
}

function cleanupAll() {
  for (const ns of live) sh(["ip", "netns", "del", ns], true);
  live.clear();
}
process.on("exit", cleanupAll);

/** True when this process may create namespaces (root with iproute2). */
export function canUseNetns(): boolean {
  if (process.getuid?.() !== 0) return false;
  return spawnSync(["ip", "netns", "list"], { stdout: "ignore", stderr: "ignore" }).exitCode === 0;
}

export interface VethWorld {
  /** namespace of the target side */
  nsA: string;
  /** namespace of the initiator side */
  nsB: string;
  /** veth end in nsA */
  ifA: string;
  /** veth end in nsB */
  ifB: string;
  macA: string;
  macB: string;
  /** run a command inside a namespace, synchronously; returns stdout */
  exec(ns: string, args: string[], allowFail?: boolean): string;
  /** argv prefix that runs a command inside ns (for Bun.spawn) */
  prefix(ns: string): string[];
  /** add another veth pair between the two namespaces (multipath); returns its end names */
  addPair(mtu?: number): { ifA: string; ifB: string; macA: string; macB: string };
  setMtu(mtu: number): void;
  dispose(): void;
}

function readMac(ns: string, ifname: string): string {
  const out = sh(["ip", "-n", ns, "-o", "link", "show", ifname]);
  const m = out.match(/link\/ether ([0-9a-f:]{17})/);
  if (!m) throw new Error(`no MAC for ${ifname} in ${ns}`);
  return m[1]!;
}

/**
 * Two fresh namespaces joined by a veth pair, both ends up, at the given MTU.
 * `tag` (2-4 lowercase letters) keeps names of concurrent suites apart.
 */
export function makeVethWorld(tag: string, mtu = 1500): VethWorld {
  const n = `${process.pid % 10000}${counter++}`;
  const nsA = `aoede-${tag}-${n}a`;
  const nsB = `aoede-${tag}-${n}b`;
  let pairs = 0;
  const pairNames = () => {
    const base = `ad${tag}${n}${pairs++}`.slice(0, 13);
    return [`${base}a`, `${base}b`] as const;
  };
  for (const ns of [nsA, nsB]) {
    sh(["ip", "netns", "add", ns]);
    live.add(ns);
    sh(["ip", "-n", ns, "link", "set", "lo", "up"]);
  }
  const addPair = (pmtu = mtu) => {
    const [a, b] = pairNames();
    // Created inside nsA so that nothing ever appears in the caller's namespace.
    sh(["ip", "-n", nsA, "link", "add", a, "mtu", String(pmtu), "type", "veth", "peer", "name", b, "mtu", String(pmtu)]);
    sh(["ip", "-n", nsA, "link", "set", b, "netns", nsB]);
    sh(["ip", "-n", nsA, "link", "set", a, "up"]);
    sh(["ip", "-n", nsB, "link", "set", b, "up"]);
    return { ifA: a, ifB: b, macA: readMac(nsA, a), macB: readMac(nsB, b) };
  };
  const first = addPair();
  const world: VethWorld = {
    nsA,
    nsB,
    ...first,
    exec: (ns, args, allowFail = false) => sh(["ip", "netns", "exec", ns, ...args], allowFail),
    prefix: (ns) => ["ip", "netns", "exec", ns],
    addPair,
    setMtu(m: number) {
      sh(["ip", "-n", nsA, "link", "set", first.ifA, "mtu", String(m)]);
      sh(["ip", "-n", nsB, "link", "set", first.ifB, "mtu", String(m)]);
    },
    dispose() {
      for (const ns of [nsA, nsB]) {
        sh(["ip", "netns", "del", ns], true);
        live.delete(ns);
      }
    },
  };
  return world;
}
