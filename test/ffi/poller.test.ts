/** The poller alone, over pipes: wakes, handovers, removal, exit. */
import { afterEach, expect, setDefaultTimeout, test } from "bun:test";
import { libc } from "../../ffi/libc.ts";
import { Poller, POLLIN } from "../../ffi/poller.ts";

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
    expect(drained).toBe(p.stats.wakes);
    expect(p.stats.wakes).toBeLessThanOrEqual(3);
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
  const p = new Poller({ workerUrl: new URL("./fixtures/stale-poller-worker.ts", import.meta.url) });
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
