/**
 * A by-hand measurement of the receive paths of the Linux backend, not a test
 * (nothing here asserts). Run as root:
 *
 *   node_modules/.bin/bun bench/rxring.ts [frameBytes=1038] [seconds=2]
 *
 * 1. drain: the receive() cost alone. The socket is filled with 400 frames while
 *    nobody reads, then one loop drains it (receive() until empty, touching each
 *    frame's length and a byte): ns per frame, median of 40 fills after 20 that warm up
 *    the JIT (the first fills cost 10-100x more); and what an empty receive() costs
 *    (a bounded spin pays it on every look). Ring with one view
 *    per slot reused, ring with a subarray per frame, recvmmsg.
 * 2. flood: a sender process in the other namespace sends sendmmsg batches of 64 as
 *    fast as it can; this process drains for the given seconds, either nonstop
 *    (receive() in a busy loop, which also takes CPU from the sender) or with the
 *    event loop (src/net/loop.ts: the poller wakes it): frames/s received, and the
 *    kernel's drops; for the event loop also this process's CPU time (both threads,
 *    user + system) per frame received, which contention for the cores disturbs less.
 * Both processes share the machine's cores: figures are for comparison in one run.
 */
import { PacketLink, type PacketLinkOptions } from "../ffi/linux/packet.ts";
import { makeVethWorld } from "../src/net/netns.ts";
import { EventLoop } from "../src/net/loop.ts";
import { formatMac, parseMac } from "../src/aoe/mac.ts";
import { testFrame } from "../test/ffi/frames.ts";

const [mode, ...rest] = process.argv.slice(2);

if (mode === "--sender") {
  // child: flood `ifname` in `ns` towards `dst` until killed
  const [ns, ifname, dstHex, bytes] = rest as [string, string, string, string];
  const link = PacketLink.open(ifname, { netns: ns, rxRing: false });
  const dst = parseMac(dstHex);
  const frames = Array.from({ length: 64 }, (_, i) => testFrame(dst, link.mac, Number(bytes), i));
  for (;;) link.sendBatch(frames);
}

const frameBytes = Number(mode ?? 1038);
const seconds = Number(rest[0] ?? 2);
const variants: [string, PacketLinkOptions][] = [
  ["ring, view per slot reused", { rxRing: true, rxRingReuseViews: true }],
  ["ring, subarray per frame", { rxRing: true, rxRingReuseViews: false }],
  ["recvmmsg", { rxRing: false }],
];

function drainAll(link: PacketLink): number {
  let n = 0;
  let sum = 0;
  for (;;) {
    const got = link.receive();
    if (got.length === 0) break;
    for (let i = 0; i < got.length; i++) {
      const f = got[i]!;
      sum += f.length + f[14]!;
    }
    n += got.length;
  }
  if (sum < 0) console.log(sum); // keep the reads
  return n;
}

const median = (xs: number[]): number => [...xs].sort((x, y) => x - y)[Math.floor(xs.length / 2)]!;

/** frames/s received and dropped under a flood: drained by a busy loop, or by the event loop (poller). */
async function flood(opts: PacketLinkOptions, how: "busy" | "loop"): Promise<[number, number, number]> {
  const link = PacketLink.open(w.ifB, { netns: w.nsB, ...opts });
  const child = Bun.spawn([process.execPath, import.meta.path, "--sender", w.nsA, w.ifA, formatMac(link.mac), String(frameBytes)], {
    stdout: "inherit",
    stderr: "inherit",
  });
  try {
    await Bun.sleep(300); // sender up and sending
    drainAll(link);
    const dropsBefore = link.kernelDrops();
    let n = 0;
    const t0 = performance.now();
    const cpu0 = process.cpuUsage();
    if (how === "busy") {
      const end = t0 + seconds * 1000;
      while (performance.now() < end) n += drainAll(link);
    } else {
      const loop = new EventLoop();
      loop.attach(link, () => void n++);
      await Bun.sleep(seconds * 1000);
      loop.close();
    }
    const ms = performance.now() - t0;
    const cpu = process.cpuUsage(cpu0);
    return [(n / ms) * 1000, ((link.kernelDrops() - dropsBefore) / ms) * 1000, ((cpu.user + cpu.system) * 1000) / n];
  } finally {
    child.kill();
    await child.exited;
    link.close();
  }
}

const w = makeVethWorld("rb", Math.max(1500, frameBytes - 14));
try {
  const sender = PacketLink.open(w.ifA, { netns: w.nsA, rxRing: false });
  console.log(`frames of ${frameBytes} bytes, veth MTU ${Math.max(1500, frameBytes - 14)}`);
  console.log("drain (receive() cost, 400 frames waiting), ns/frame, median of 40 fills:");
  for (const [name, opts] of variants) {
    const link = PacketLink.open(w.ifB, { netns: w.nsB, ...opts, bufferFrames: 4096 });
    const frames = Array.from({ length: 50 }, (_, i) => testFrame(link.mac, sender.mac, frameBytes, i));
    const per: number[] = [];
    for (let t = 0; t < 60; t++) {
      for (let k = 0; k < 8; k++) {
        sender.sendBatch(frames);
        await Bun.sleep(0);
      }
      await Bun.sleep(10);
      const t0 = Bun.nanoseconds();
      const n = drainAll(link);
      const ns = Bun.nanoseconds() - t0;
      if (n !== 400) console.log(`  (${name}: ${n} of 400 frames arrived)`);
      if (t >= 20 && n > 0) per.push(ns / n); // the first fills warm up
    }
    // An empty receive(): what a bounded spin pays per look (ring: a load; recvmmsg: a syscall saying EAGAIN).
    const looks = 100_000;
    const e0 = Bun.nanoseconds();
    for (let i = 0; i < looks; i++) link.receive();
    const empty = (Bun.nanoseconds() - e0) / looks;
    console.log(
      `  ${name.padEnd(28)} ${median(per).toFixed(0).padStart(6)} ns a frame, ${empty.toFixed(0).padStart(5)} ns an empty receive()` +
        `  (kernel drops ${link.kernelDrops()})`,
    );
    link.close();
  }

  console.log(`flood from the other namespace, ${seconds} s each, 3 rounds interleaved, medians:`);
  const results = new Map<string, { busy: number[]; busyDrop: number[]; loop: number[]; loopDrop: number[]; loopCpu: number[] }>();
  for (let round = 0; round < 3; round++) {
    for (const [name, opts] of variants) {
      const r = results.get(name) ?? { busy: [], busyDrop: [], loop: [], loopDrop: [], loopCpu: [] };
      results.set(name, r);
      for (const how of ["busy", "loop"] as const) {
        const [got, dropped, cpuNs] = await flood(opts, how);
        r[how].push(got);
        r[how === "busy" ? "busyDrop" : "loopDrop"].push(dropped);
        if (how === "loop") r.loopCpu.push(cpuNs);
      }
    }
  }
  const k = (x: number) => `${Math.round(x / 1000)}k`;
  for (const [name, r] of results) {
    console.log(
      `  ${name.padEnd(28)} busy drain ${k(median(r.busy))}/s (kernel dropped ${k(median(r.busyDrop))}/s); ` +
        `event loop ${k(median(r.loop))}/s (dropped ${k(median(r.loopDrop))}/s, ${median(r.loopCpu).toFixed(0)} ns of this process's CPU a frame)`,
    );
  }
  sender.close();
} finally {
  w.dispose();
}
