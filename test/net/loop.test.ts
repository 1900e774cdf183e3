/** The event loop over a veth world: bursts, several handlers, batched replies, idle, exit. */
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { sharedPoller, type Poller } from "../../ffi/poller.ts";
import { openRawLink, type RawLink } from "../../ffi/rawlink.ts";
import { EventLoop, sharedLoop } from "../../src/net/loop.ts";
import { canUseNetns, makeVethWorld, type VethWorld } from "../helpers/netns.ts";
import { collect, seqOf, testFrame } from "../ffi/frames.ts";

// Namespaces, raw links and child processes: several times slower on a busy
// 2-core machine than alone. bun test's default is 5 s (bunfig.toml cannot change it).
setDefaultTimeout(30_000);

const netns = process.platform === "linux" && canUseNetns();

/** `bun -e` with a raw link open on `ifname` in `ns` as `link`, and sharedLoop imported. */
function spawnChild(ns: string, ifname: string, body: string, env: Record<string, string> = {}) {
  const script = `
    import { openRawLink } from ${JSON.stringify(`${import.meta.dir}/../../ffi/rawlink.ts`)};
    import { sharedLoop } from ${JSON.stringify(`${import.meta.dir}/../../src/net/loop.ts`)};
    import { sharedPoller } from ${JSON.stringify(`${import.meta.dir}/../../ffi/poller.ts`)};
    const link = openRawLink(${JSON.stringify(ifname)}, { netns: ${JSON.stringify(ns)} });
    ${body}
  `;
  return Bun.spawn([process.execPath, "-e", script], { stdout: "pipe", stderr: "pipe", env: { ...process.env, ...env } });
}

/** Run a child to its end (killed after `ms`, a bound for a busy machine). */
async function runChild(ns: string, ifname: string, body: string, env: Record<string, string> = {}, ms = 20_000) {
  const p = spawnChild(ns, ifname, body, env);
  const timer = setTimeout(() => p.kill(), ms);
  const [out, err, code] = await Promise.all([new Response(p.stdout).text(), new Response(p.stderr).text(), p.exited]);
  clearTimeout(timer);
  return { code, killed: p.signalCode !== null, out, err };
}

describe.skipIf(!netns)("EventLoop", () => {
  let w: VethWorld;
  let a: RawLink;
  let b: RawLink;

  beforeAll(() => {
    w = makeVethWorld("lp");
    a = openRawLink(w.ifA, { netns: w.nsA });
    b = openRawLink(w.ifB, { netns: w.nsB });
  });
  afterAll(() => {
    a?.close();
    b?.close();
    w?.dispose();
  });

  test("a burst of 20,000 frames arrives whole and in order, in batches", async () => {
    const N = 20_000;
    const WINDOW = 2048; // well inside the 4 MiB receive buffer
    const frames = Array.from({ length: 64 }, (_, i) => testFrame(b.mac, a.mac, 1038, i));
    const loop = new EventLoop();
    let received = 0;
    let outOfOrder = 0;
    let sent = 0;
    let batchEnds = 0;
    const pump = () => {
      while (sent < N && sent - received < WINDOW) {
        const n = Math.min(64, N - sent);
        for (let i = 0; i < n; i++) new DataView(frames[i]!.buffer).setUint32(14, sent + i);
        const ok = a.sendBatch(n === 64 ? frames : frames.slice(0, n));
        sent += ok;
        if (ok < n) break; // kernel full: retry after the next batch
      }
    };
    const done = Promise.withResolvers<void>();
    const t0 = performance.now();
    const detach = loop.attach(
      b,
      (f) => {
        if (seqOf(f) !== received) outOfOrder++;
        received++;
      },
      () => {
        batchEnds++;
        if (received >= N) done.resolve();
        else pump();
      },
    );
    pump();
    const timer = setTimeout(() => done.resolve(), 10_000);
    await done.promise;
    clearTimeout(timer);
    const ms = performance.now() - t0;
    detach();
    loop.close();
    console.log(
      `loop burst: ${received} frames of 1038 bytes in ${ms.toFixed(1)} ms = ${Math.round((received / ms) * 1000)} frames/s ` +
        `(sender in the same thread), ${batchEnds} batches, ${(received / batchEnds).toFixed(1)} frames/batch, kernel drops ${b.kernelDrops()}`,
    );
    expect(received).toBe(N);
    expect(outOfOrder).toBe(0);
    expect(loop.stats.frames).toBe(N);
    expect(batchEnds).toBeLessThan(N / 4); // one thread hop per batch, not per frame
  });

  test("several handlers on one link all see each frame; a throwing one is counted, not fatal", async () => {
    const errors: unknown[] = [];
    const loop = new EventLoop({ onError: (e) => errors.push(e) });
    const first: number[] = [];
    const second: number[] = [];
    const d1 = loop.attach(b, (f) => {
      first.push(seqOf(f));
      throw new Error("handler bug");
    });
    const d2 = loop.attach(b, (f, link) => {
      expect(link).toBe(b);
      second.push(seqOf(f));
    });
    try {
      a.sendBatch([1, 2, 3].map((i) => testFrame(b.mac, a.mac, 100, i)));
      const end = performance.now() + 2000;
      while (second.length < 3 && performance.now() < end) await Bun.sleep(2);
      expect(first).toEqual([1, 2, 3]);
      expect(second).toEqual([1, 2, 3]);
      expect(loop.stats.handlerErrors).toBe(3);
      expect(errors.length).toBe(3);
      d1();
      d1(); // idempotent
      a.send(testFrame(b.mac, a.mac, 100, 4));
      while (second.length < 4 && performance.now() < end) await Bun.sleep(2);
      expect(second).toEqual([1, 2, 3, 4]);
      expect(first).toEqual([1, 2, 3]);
    } finally {
      d2();
      loop.close();
    }
  });

  test("replies queued in handlers leave together at batch end (queueSend + flush)", async () => {
    const loop = new EventLoop();
    // An echo target on a: swap the MACs, send back.
    const detach = loop.attach(a, (f, link) => {
      const reply = f.slice();
      reply.set(f.subarray(6, 12), 0);
      reply.set(link.mac, 6);
      loop.queueSend(link, reply);
    });
    try {
      const N = 1000;
      const reqs = Array.from({ length: N }, (_, i) => testFrame(a.mac, b.mac, 60 + (i % 100), i));
      for (let i = 0; i < N; i += 100) {
        expect(b.sendBatch(reqs.slice(i, i + 100))).toBe(100);
        await Bun.sleep(1);
      }
      const replies = await collect(b, N, 5000);
      expect(replies.length).toBe(N);
      replies.forEach((r, i) => {
        expect(seqOf(r)).toBe(i);
        expect(r.subarray(0, 6)).toEqual(b.mac);
        expect(r.subarray(6, 12)).toEqual(a.mac);
      });
      expect(loop.stats.sent).toBe(N);
      expect(loop.stats.sendDropped).toBe(0);
    } finally {
      detach();
      loop.close();
    }
  });

  test("queueSend outside a batch is flushed by the end of the tick", async () => {
    const loop = new EventLoop();
    try {
      loop.queueSend(a, testFrame(b.mac, a.mac, 80, 41));
      loop.queueSend(a, testFrame(b.mac, a.mac, 80, 42));
      const got = await collect(b, 2);
      expect(got.map(seqOf)).toEqual([41, 42]);
      expect(loop.stats.sent).toBe(2);
    } finally {
      loop.close();
    }
  });

  test("drainNow: frames the kernel holds are delivered before the poller reports them, the batch ends, replies leave", async () => {
    // A poller that never reports anything: only drainNow() can deliver.
    const deaf = { add() {}, remove() {}, onDrained: () => () => {} } as unknown as Poller;
    const loop = new EventLoop({ poller: deaf });
    const seen: number[] = [];
    let batchEnds = 0;
    const detach = loop.attach(
      b,
      (f, link) => {
        seen.push(seqOf(f));
        loop.queueSend(link, testFrame(a.mac, b.mac, 60, 100 + seqOf(f)));
      },
      () => batchEnds++,
    );
    try {
      expect(a.sendBatch([1, 2, 3].map((i) => testFrame(b.mac, a.mac, 60, i)))).toBe(3);
      const deadline = performance.now() + 5000;
      while (seen.length < 3 && performance.now() < deadline) {
        loop.drainNow();
        if (seen.length < 3) await Bun.sleep(2);
      }
      expect(seen).toEqual([1, 2, 3]);
      expect(batchEnds).toBeGreaterThan(0);
      expect((await collect(a, 3)).map(seqOf)).toEqual([101, 102, 103]);
    } finally {
      detach();
      loop.close();
    }
  });

  test("a link closed while attached is forgotten by the poller", async () => {
    const loop = new EventLoop();
    const extra = openRawLink(w.ifB, { netns: w.nsB });
    const before = sharedPoller().size;
    loop.attach(extra, () => {});
    expect(sharedPoller().size).toBe(before + 1);
    extra.close();
    expect(sharedPoller().size).toBe(before);
    loop.close();
  });

  test("idle: no CPU while attached links are silent", async () => {
    // Measured in a process of its own (this one, the test runner, may still be
    // collecting the garbage of the files before), over every thread, from
    // /proc/self/task/*: nanoseconds on a CPU (schedstat; getrusage counts whole
    // 10 ms ticks) and wake-ups (voluntary context switches). The wake-ups are the
    // exact measure: idle, the process wakes only for Bun's own timers (its 1 Hz GC
    // timer, mimalloc's purge thread: 7 in these 2 s), where a loop that polled on a
    // timer would wake hundreds of times; and the poller must not wake at all. The
    // CPU time of those few wake-ups is noise on a busy virtual machine (0.1 to 1.1 %
    // of the 2 s measured), so its bound only catches spinning.
    const r = await runChild(
      w.nsB,
      w.ifB,
      `const { readdirSync, readFileSync } = await import("node:fs");
      const sample = () => {
        let ns = 0;
        let wakes = 0;
        for (const t of readdirSync("/proc/self/task")) {
          try {
            ns += Number(readFileSync("/proc/self/task/" + t + "/schedstat", "utf8").split(" ")[0]);
            wakes += Number(/\\nvoluntary_ctxt_switches:\\s+(\\d+)/.exec(readFileSync("/proc/self/task/" + t + "/status", "utf8"))[1]);
          } catch {}
        }
        return { ns, wakes };
      };
      const detach = sharedLoop().attach(link, () => {});
      Bun.gc(true);
      await Bun.sleep(200);
      const p0 = sharedPoller().stats.wakes;
      const t0 = performance.now();
      const s0 = sample();
      await Bun.sleep(2000);
      const s1 = sample();
      console.log(JSON.stringify({ cpuNs: s1.ns - s0.ns, threadWakes: s1.wakes - s0.wakes, wallNs: (performance.now() - t0) * 1e6, pollerWakes: sharedPoller().stats.wakes - p0 }));
      detach();
      link.close();`,
    );
    expect(r.err).toBe("");
    expect(r.code).toBe(0);
    const { cpuNs, threadWakes, wallNs, pollerWakes } = JSON.parse(r.out) as { cpuNs: number; threadWakes: number; wallNs: number; pollerWakes: number };
    const share = cpuNs / wallNs;
    console.log(
      `idle over ${(wallNs / 1e9).toFixed(1)} s with a link attached: ${threadWakes} thread wake-ups, ${pollerWakes} poller wakes, ` +
        `${(cpuNs / 1e6).toFixed(1)} ms CPU (${(share * 100).toFixed(2)} %)`,
    );
    expect(pollerWakes).toBe(0); // the poller's thread stayed blocked in poll()
    expect(threadWakes).toBeLessThanOrEqual(20);
    expect(share).toBeLessThan(0.05);
  });
});

describe.skipIf(!netns)("process lifetime", () => {
  let w: VethWorld;
  beforeAll(() => (w = makeVethWorld("lx")));
  afterAll(() => w?.dispose());

  test("the process exits by itself once every handler is detached", async () => {
    const r = await runChild(
      w.nsA,
      w.ifA,
      `const d = sharedLoop().attach(link, () => {}); setTimeout(() => { d(); link.close(); console.log("detached"); }, 100);`,
    );
    expect(r.err).toBe("");
    expect(r.out.trim()).toBe("detached");
    expect(r.killed).toBe(false);
    expect(r.code).toBe(0);
  });

  test("the process stays alive while a handler is attached", async () => {
    const p = spawnChild(w.nsA, w.ifA, `sharedLoop().attach(link, () => {}); console.log("attached");`);
    try {
      // Once it has attached (starting takes a while on a busy machine), it stays.
      const reader = p.stdout.getReader();
      const first = await Promise.race([reader.read(), Bun.sleep(20_000).then(() => undefined)]);
      expect(new TextDecoder().decode(first?.value).trim()).toBe("attached");
      await Bun.sleep(1000);
      expect(p.exitCode).toBeNull();
      expect(p.signalCode).toBeNull();
    } finally {
      p.kill();
    }
  });
});
