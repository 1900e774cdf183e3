/** The poller alone, over pipes: wakes, handovers, removal, exit. */
import { afterEach, describe, expect, setDefaultTimeout, test } from "bun:test";
import { libc } from "../../ffi/libc.ts";
import { Poller, POLLIN } from "../../ffi/poller.ts";
import { DEFAULT_HOT, hotSettings } from "../../ffi/poller-hot.ts";

// A worker thread and real waits: several times slower on a busy
// 2-core machine than alone. bun test's default is 5 s (bunfig.toml cannot change it).
setDefaultTimeout(30_000);

const pipes: number[] = [];
function pipe(): [number, number] {
  const fds = new Int32Array(new ArrayBuffer(8));
  expect(libc.pipe(fds)).toBe(0);
  pipes.push(fds[0]!, fds[1]!);
  return [fds[0]!, fds[1]!];
}
const byte = new Uint8Array(new ArrayBuffer(1));
const sink = new Uint8Array(new ArrayBuffer(256));
afterEach(() => {
  for (const fd of pipes.splice(0)) libc.close(fd);
});

const until = async (cond: () => boolean, ms = 10_000) => {
  const end = performance.now() + ms;
  while (!cond() && performance.now() < end) await Bun.sleep(1);
  return cond();
};

test("a readable descriptor wakes its handler with POLLIN; several ready at once share one wake", async () => {
  const p = new Poller();
  try {
    const [r1, w1] = pipe();
    const [r2, w2] = pipe();
    const seen: number[] = [];
    p.add(r1, (ev) => {
      expect(ev & POLLIN).toBe(POLLIN);
      libc.read(r1, sink, sink.length);
      seen.push(1);
    });
    p.add(r2, () => {
      libc.read(r2, sink, sink.length);
      seen.push(2);
    });
    let drained = 0;
    p.onDrained(() => drained++);
    await Bun.sleep(20); // the worker is in poll() now
    libc.write(w1, byte, 1);
    expect(await until(() => seen.length === 1)).toBe(true);
    // Both written before the main thread looks: one wake may carry both (or
    // two, if the worker was quick): never more wakes than descriptors.
    libc.write(w1, byte, 1);
    libc.write(w2, byte, 1);
    expect(await until(() => seen.length === 3)).toBe(true);
    // every turn that ran handlers, cold (a worker wake) or hot (the main thread's own poll)
    expect(drained).toBe(p.stats.wakes + p.stats.hotBatches);
    expect(p.stats.wakes + p.stats.hotBatches).toBeLessThanOrEqual(3);
  } finally {
    p.close();
  }
});

test("remove() stops delivery; a handler that throws is counted and the poller goes on", async () => {
  const p = new Poller();
  try {
    const [r, w] = pipe();
    let calls = 0;
    const errors: unknown[] = [];
    p.onError = (e) => errors.push(e);
    p.add(r, () => {
      calls++;
      libc.read(r, sink, sink.length);
      throw new Error("boom");
    });
    libc.write(w, byte, 1);
    expect(await until(() => calls === 1)).toBe(true);
    libc.write(w, byte, 1);
    expect(await until(() => calls === 2)).toBe(true);
    expect(p.stats.handlerErrors).toBe(2);
    expect(errors.length).toBe(2);
    p.remove(r);
    libc.write(w, byte, 1);
    await Bun.sleep(50);
    expect(calls).toBe(2);
    expect(p.size).toBe(0);
  } finally {
    p.close();
  }
});

test("a descriptor closed without remove() is dropped on POLLNVAL instead of spinning", async () => {
  const p = new Poller();
  try {
    const [r] = pipe();
    const [r2] = pipe(); // made now, so that it cannot take r's number once r is closed
    let calls = 0;
    let revents = 0;
    p.add(r, (ev) => {
      calls++;
      revents = ev;
    });
    await Bun.sleep(10);
    libc.close(r);
    pipes.splice(pipes.indexOf(r), 1);
    // poll() on Linux keeps the file while blocked; the next round sees POLLNVAL.
    // Force a next round by registering something else.
    p.add(r2, () => {});
    expect(await until(() => calls >= 1)).toBe(true);
    await Bun.sleep(50);
    expect(calls).toBe(1);
    expect(revents & 0x20).toBe(0x20);
    expect(p.size).toBe(1);
  } finally {
    p.close();
  }
});

test("adding the same descriptor twice is refused", () => {
  const p = new Poller();
  try {
    const [r] = pipe();
    p.add(r, () => {});
    expect(() => p.add(r, () => {})).toThrow();
  } finally {
    p.close();
  }
});

test("a worker that cannot start is reported, not silently deaf", async () => {
  const p = new Poller({ workerUrl: new URL("./no-such-worker.ts", import.meta.url) });
  const fatal = Promise.withResolvers<Error>();
  p.onFatal = fatal.resolve;
  const [r] = pipe();
  p.add(r, () => {});
  const err = await Promise.race([fatal.promise, Bun.sleep(10_000).then(() => undefined)]);
  expect(err?.message).toContain("no-such-worker.ts");
  expect(p.closed).toBe(true);
});

test("POLLNVAL from a poll() over an older fd list is ignored; over the current list it unregisters", async () => {
  // the worker's rounds are what is tested: no hot phase taking the set after a wake
  const p = new Poller({ workerUrl: new URL("./fixtures/stale-poller-worker.ts", import.meta.url), hot: { idleMs: 0 } });
  try {
    const [r1] = pipe();
    const [r2] = pipe();
    const seen: number[] = [];
    p.add(r1, (ev) => seen.push(ev));
    p.add(r2, () => {});
    expect(await until(() => seen.length === 2, 3000)).toBe(true);
    // stale round: POLLNVAL stripped, POLLIN delivered, still registered then
    expect(seen[0]).toBe(0x1);
    // current round: POLLNVAL delivered and the descriptor dropped
    expect(seen[1]).toBe(0x20);
    expect(p.size).toBe(1);
  } finally {
    p.close();
  }
});

/**
 * A ping-pong over a pipe: each byte is written by promise code after the handler saw
 * the previous one, so continuations must run between the poller's turns or it stalls.
 */
function pingPong(p: Poller, r: number, w: number): (n: number) => Promise<void> {
  let next = Promise.withResolvers<void>();
  p.add(r, () => {
    libc.read(r, sink, sink.length);
    next.resolve();
  });
  return async (n) => {
    for (let i = 0; i < n; i++) {
      libc.write(w, byte, 1);
      await next.promise;
      next = Promise.withResolvers<void>();
    }
  };
}

describe("hot phase: while traffic lasts the main thread polls the set itself", () => {
  test("a ping-pong through promises runs with one worker wake, then the set goes cold and the worker wakes again", async () => {
    const p = new Poller({ hot: { spinUs: 50, blockMs: 1, idleMs: 20 } });
    try {
      const [r, w] = pipe();
      const ping = pingPong(p, r, w);
      await Bun.sleep(20); // the worker is in poll()
      await ping(200);
      const { wakes, hotBatches } = p.stats;
      expect(wakes + hotBatches).toBe(200);
      expect(wakes).toBeLessThanOrEqual(5); // a slow machine may go cold once or twice
      expect(hotBatches).toBeGreaterThanOrEqual(195);
      expect(await until(() => p.stats.coolings >= 1, 2000)).toBe(true);
      const cold = p.stats;
      await ping(1);
      expect(p.stats.wakes).toBe(cold.wakes + 1);
    } finally {
      p.close();
    }
  });

  test("timers fire while the main thread is hot: late by about the blocking poll, not starved", async () => {
    const p = new Poller({ hot: { spinUs: 50, blockMs: 1, idleMs: 50 } });
    try {
      const [r, w] = pipe();
      let frames = 0;
      let stop = false;
      // self-sustaining traffic: every batch writes the next byte, so the set never cools
      p.add(r, () => {
        libc.read(r, sink, sink.length);
        frames++;
        if (!stop) libc.write(w, byte, 1);
      });
      libc.write(w, byte, 1);
      await until(() => p.stats.hotBatches > 10, 2000);
      const t0 = performance.now();
      const lateness: number[] = [];
      for (let i = 0; i < 5; i++) {
        const s = performance.now();
        await new Promise((res) => setTimeout(res, 10));
        lateness.push(performance.now() - s - 10);
      }
      stop = true;
      expect(p.stats.coolings).toBe(0); // it was hot throughout
      expect(frames).toBeGreaterThan(100);
      // 5 timers of 10 ms in ~50 ms; generous bound for a busy machine, far below starvation
      expect(performance.now() - t0).toBeLessThan(1000);
      expect(Math.min(...lateness)).toBeLessThan(20);
    } finally {
      p.close();
    }
  });

  test("while expectOtherWork() is outstanding (storage's thread-pool transfers call it), the hot phase hands back instead of blocking in poll()", async () => {
    // idleMs far away: any cooling within the test is the outside work's doing
    const p = new Poller({ hot: { spinUs: 50, blockMs: 1, idleMs: 10_000 } });
    try {
      const [r, w] = pipe();
      let seen = 0;
      p.add(r, () => {
        libc.read(r, sink, sink.length);
        seen++;
      });
      libc.write(w, byte, 1);
      expect(await until(() => seen === 1)).toBe(true);
      await Bun.sleep(30); // hot, past the spin: blocking in poll() a millisecond at a time
      expect(p.stats.coolings).toBe(0);
      libc.write(w, byte, 1);
      expect(await until(() => seen === 2)).toBe(true);
      expect(p.stats.hotBatches).toBeGreaterThanOrEqual(1); // taken by the main thread's own poll
      const release = p.expectOtherWork();
      expect(await until(() => p.stats.coolings === 1, 2000)).toBe(true);
      release();
      release(); // idempotent
      libc.write(w, byte, 1);
      expect(await until(() => seen === 3)).toBe(true); // the worker has the set again
      await Bun.sleep(30);
      expect(p.stats.coolings).toBe(1); // hot again after that wake, and blocking allowed again
    } finally {
      p.close();
    }
  });

  test("AOEDE_HOT_MS=0 turns the hot phase off; bad values keep the defaults", () => {
    expect(hotSettings({ AOEDE_HOT_MS: "0" }).idleMs).toBe(0);
    expect(hotSettings({ AOEDE_SPIN_US: "200" }).spinUs).toBe(200);
    expect(hotSettings({ AOEDE_SPIN_US: "-3", AOEDE_HOT_MS: "x" })).toEqual(DEFAULT_HOT);
    expect(hotSettings({})).toEqual(DEFAULT_HOT);
  });

  test("with the hot phase off every batch is a worker wake", async () => {
    const p = new Poller({ hot: { idleMs: 0 } });
    try {
      const [r, w] = pipe();
      await pingPong(p, r, w)(20);
      expect(p.stats.hotBatches).toBe(0);
      expect(p.stats.wakes).toBe(20);
    } finally {
      p.close();
    }
  });
});
