/**
 * A test-only impairment relay: forwards every AoE frame between two raw
 * links (one veth end towards the target, one towards the initiator),
 * dropping, duplicating and reordering some on the way. Run it inside the
 * middle namespace:
 *
 *   ip netns exec NS bun test/helpers/impair-relay.ts IF1 IF2 [--drop P] [--dup P] [--reorder P] [--seed N] [--max-len N]
 *
 * P are probabilities per frame (default 0.1 drop, 0.02 duplicate, 0.02
 * reorder). --max-len drops every frame longer than N bytes (a switch in the
 * middle that does not pass jumbo frames). A reordered frame is held back and sent after the next frame on
 * the same link (or after 2 ms if none comes). The random generator is seeded,
 * so a failure can be replayed. It prints "ready" once both links are open, and
 * its counters as JSON on stdout when SIGTERM or SIGINT stops it.
 *
 * makeRelayWorld() builds the three namespaces and the two veth pairs.
 */
import { spawnSync } from "bun";
import { openRawLink, type RawLink } from "../../ffi/rawlink.ts";
import { EventLoop } from "../../src/net/loop.ts";
import { seededRandom } from "./prng.ts";

export interface RelayCounters {
  forwarded: number;
  /** dropped for --max-len */
  tooLong: number;
  dropped: number;
  duplicated: number;
  reordered: number;
}


export interface RelayOptions {
  /** longest frame passed, bytes */
  maxLen: number;
  drop: number;
  dup: number;
  reorder: number;
  seed: number;
}

/** Forwards between `a` and `b` on `loop` until the returned stop() is called. */
export function relay(loop: EventLoop, a: RawLink, b: RawLink, o: RelayOptions): { counters: RelayCounters; stop: () => void } {
  const counters: RelayCounters = { forwarded: 0, tooLong: 0, dropped: 0, duplicated: 0, reordered: 0 };
  const random = seededRandom(o.seed);
  const held = new Map<RawLink, { frame: Uint8Array; timer: ReturnType<typeof setTimeout> }>();
  const release = (out: RawLink) => {
    const h = held.get(out);
    if (!h) return;
    held.delete(out);
    clearTimeout(h.timer);
    loop.queueSend(out, h.frame);
  };
  const forward = (frame: Uint8Array, out: RawLink) => {
    if (frame.length > o.maxLen) {
      counters.tooLong++;
      return;
    }
    const r = random();
    if (r < o.drop) {
      counters.dropped++;
      return;
    }
    const copy = new Uint8Array(new ArrayBuffer(frame.length));
    copy.set(frame);
    counters.forwarded++;
    if (r < o.drop + o.reorder && !held.has(out)) {
      counters.reordered++;
      held.set(out, { frame: copy, timer: setTimeout(() => release(out), 2) });
      return;
    }
    loop.queueSend(out, copy);
    if (r < o.drop + o.reorder + o.dup) {
      counters.duplicated++;
      loop.queueSend(out, copy);
    }
    release(out); // a held frame goes out after this one: reordered
  };
  const stopA = loop.attach(a, (f) => forward(f, b));
  const stopB = loop.attach(b, (f) => forward(f, a));
  return {
    counters,
    stop() {
      stopA();
      stopB();
      for (const out of [...held.keys()]) release(out);
    },
  };
}

// ---- the three-namespace world ---------------------------------------------------------------

const live = new Set<string>();
process.on("exit", () => {
  for (const ns of live) spawnSync(["ip", "netns", "del", ns]);
});

function sh(args: string[]): string {
  const r = spawnSync(args, { stdout: "pipe", stderr: "pipe" });
  if (r.exitCode !== 0) throw new Error(`${args.join(" ")} failed: ${r.stderr.toString().trim()}`);
  return r.stdout.toString();
}

export interface RelayWorld {
  /** target side */
  nsA: string;
  /** the relay */
  nsM: string;
  /** initiator side */
  nsB: string;
  ifA: string;
  /** relay end towards nsA */
  ifMA: string;
  /** relay end towards nsB */
  ifMB: string;
  ifB: string;
  dispose(): void;
}

let counter = 0;

/** nsA --veth-- nsM --veth-- nsB, all ends up at `mtu`, relay ends promiscuous. */
export function makeRelayWorld(tag: string, mtu = 1500): RelayWorld {
  const n = `${process.pid % 10000}${counter++}`;
  const [nsA, nsM, nsB] = ["a", "m", "b"].map((s) => `aoede-${tag}-${n}${s}`) as [string, string, string];
  const base = `ad${tag}${n}`.slice(0, 12);
  const w: RelayWorld = {
    nsA,
    nsM,
    nsB,
    ifA: `${base}aa`,
    ifMA: `${base}ma`,
    ifMB: `${base}mb`,
    ifB: `${base}bb`,
    dispose() {
      for (const ns of [nsA, nsM, nsB]) {
        spawnSync(["ip", "netns", "del", ns]);
        live.delete(ns);
      }
    },
  };
  for (const ns of [nsA, nsM, nsB]) {
    sh(["ip", "netns", "add", ns]);
    live.add(ns);
  }
  const pair = (ns1: string, if1: string, ns2: string, if2: string) => {
    sh(["ip", "-n", ns1, "link", "add", if1, "mtu", String(mtu), "type", "veth", "peer", "name", if2, "mtu", String(mtu)]);
    sh(["ip", "-n", ns1, "link", "set", if2, "netns", ns2]);
    sh(["ip", "-n", ns1, "link", "set", if1, "up"]);
    sh(["ip", "-n", ns2, "link", "set", if2, "up"]);
  };
  pair(nsM, w.ifMA, nsA, w.ifA);
  pair(nsM, w.ifMB, nsB, w.ifB);
  for (const i of [w.ifMA, w.ifMB]) sh(["ip", "-n", nsM, "link", "set", i, "promisc", "on"]);
  return w;
}

export const RELAY_SCRIPT = import.meta.path;

if (import.meta.main) {
  const args = process.argv.slice(2);
  const opt = (name: string, dflt: number) => {
    const i = args.indexOf(`--${name}`);
    if (i < 0) return dflt;
    const v = Number(args.splice(i, 2)[1]);
    if (!Number.isFinite(v)) throw new Error(`--${name} needs a number`);
    return v;
  };
  const o = { maxLen: opt("max-len", Number.POSITIVE_INFINITY), drop: opt("drop", 0.1), dup: opt("dup", 0.02), reorder: opt("reorder", 0.02), seed: opt("seed", 1) };
  const [if1, if2] = args;
  if (!if1 || !if2) {
    process.stderr.write("usage: impair-relay.ts IF1 IF2 [--drop P] [--dup P] [--reorder P] [--seed N] [--max-len N]\n");
    process.exit(2);
  }
  const a = openRawLink(if1, { bufferFrames: 4096 });
  const b = openRawLink(if2, { bufferFrames: 4096 });
  const loop = new EventLoop();
  const r = relay(loop, a, b, o);
  const stop = () => {
    r.stop();
    process.stdout.write(JSON.stringify(r.counters) + "\n");
    process.exit(0);
  };
  process.on("SIGTERM", stop);
  process.on("SIGINT", stop);
  process.stdout.write("ready\n");
}
