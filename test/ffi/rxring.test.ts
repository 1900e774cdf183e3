/**
 * The TPACKET_V2 receive ring of the Linux backend (ffi/linux/rxring.ts) over veth
 * pairs in private namespaces: byte-exact frames of every size, loss when the ring
 * is full (counted) and recovery, slot ownership while a batch is processed, close
 * with a view still held, poll() readiness, the recvmmsg fallback, and the two
 * receive paths agreeing frame for frame.
 */
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { libc } from "../../ffi/libc.ts";
import { PacketLink } from "../../ffi/linux/packet.ts";
import { FRAME_OFFSET, ringFramesFor, ringLayoutFor, RxRing } from "../../ffi/linux/rxring.ts";
import { openRawLink, RawLinkError, type RawLink } from "../../ffi/rawlink.ts";
import { EventLoop } from "../../src/net/loop.ts";
import { canUseNetns, makeVethWorld, type VethWorld } from "../helpers/netns.ts";
import { seededUint32 } from "../helpers/prng.ts";
import { collect, seqOf, testFrame } from "./frames.ts";

setDefaultTimeout(60_000);

const netns = process.platform === "linux" && canUseNetns();

/** byte-equal, fast (Buffer.compare) */
const same = (a: Uint8Array, b: Uint8Array): boolean => Buffer.compare(a, b) === 0;

/** Send `frames` in chunks, collecting after each so that no ring overflows; returns copies. */
async function roundTrip(from: RawLink, to: RawLink, frames: Uint8Array[], chunk: number): Promise<Uint8Array[]> {
  const got: Uint8Array[] = [];
  for (let i = 0; i < frames.length; i += chunk) {
    const part = frames.slice(i, i + chunk);
    expect(from.sendBatch(part)).toBe(part.length);
    got.push(...(await collect(to, part.length)));
  }
  return got;
}

/** One frame of every length from 60 to `to`, sent in chunks: how many came back different (or not at all). */
async function everySize(from: RawLink, to: RawLink, last: number, chunk: number): Promise<number> {
  const frames: Uint8Array[] = [];
  for (let len = 60; len <= last; len++) frames.push(testFrame(to.mac, from.mac, len, len));
  const got = await roundTrip(from, to, frames, chunk);
  return frames.filter((f, i) => got[i] === undefined || !same(got[i]!, f)).length + Math.max(0, got.length - frames.length);
}

/** Send in chunks of 50 with a pause, so that the veth backlog (1000) never overflows. */
async function sendPaced(from: RawLink, frames: Uint8Array[]): Promise<void> {
  for (let i = 0; i < frames.length; i += 50) {
    const part = frames.slice(i, i + 50);
    expect(from.sendBatch(part)).toBe(part.length);
    await Bun.sleep(1);
  }
  await Bun.sleep(20);
}

/** poll() the link's descriptor without waiting: its revents. */
function readiness(link: RawLink): number {
  const pfd = new Uint8Array(new ArrayBuffer(8));
  const dv = new DataView(pfd.buffer);
  dv.setInt32(0, link.fd, true);
  dv.setInt16(4, 1, true); // POLLIN
  expect(libc.poll(pfd, 1, 0)).toBeGreaterThanOrEqual(0);
  return dv.getInt16(6, true);
}

describe("ring layout (tpacket_req from the MTU)", () => {
  test.each([
    [576, 4096],
    [1500, 4096],
    [1500, 65536],
    [4000, 4096],
    [9000, 4096],
    [9000, 16384],
    [16000, 4096],
    [65000, 4096],
  ])("MTU %d, page %d: slots hold a whole frame, blocks are whole pages, memory bounded", (mtu, page) => {
    const l = ringLayoutFor(mtu, page, ringFramesFor(mtu, 16));
    expect(l.frameSize % 16).toBe(0); // TPACKET_ALIGNMENT
    expect(l.frameSize - FRAME_OFFSET).toBeGreaterThanOrEqual(mtu + 14 + 4); // frame plus a VLAN tag
    expect(l.blockSize % page).toBe(0);
    // a power of two of pages: the kernel allocates 2^order pages a block
    expect(Math.log2(l.blockSize / page) % 1).toBe(0);
    expect(l.framesPerBlock).toBe(Math.floor(l.blockSize / l.frameSize));
    expect(l.frameCount).toBe(l.blockCount * l.framesPerBlock); // what the kernel demands
    expect(l.bytes).toBe(l.blockSize * l.blockCount);
    expect(l.frameCount).toBeGreaterThanOrEqual(256);
    // about 4 MiB, more only where 256 jumbo slots need it
    expect(l.bytes).toBeLessThanOrEqual(Math.max(4.5 * 2 ** 20, 257 * l.frameSize + l.blockSize));
    // little lost at the tail of each block
    if (l.frameSize <= 16 * page) expect((l.blockSize - l.framesPerBlock * l.frameSize) / l.blockSize).toBeLessThan(0.1);
  });

  test("the frame offset is the kernel's for Ethernet: TPACKET_ALIGN(52 + 16) - 14", () => {
    expect(FRAME_OFFSET).toBe(66);
  });

  test("a larger bufferFrames is honoured, rounded up to whole blocks, capped", () => {
    expect(ringFramesFor(1500, 16)).toBe(ringFramesFor(1500, undefined));
    expect(ringFramesFor(9000, 3000)).toBe(3000);
    expect(ringFramesFor(9000, 1_000_000)).toBe(8192);
    const l = ringLayoutFor(9000, 4096, 3001);
    expect(l.frameCount).toBeGreaterThanOrEqual(3001);
    expect(l.frameCount - 3001).toBeLessThan(l.framesPerBlock);
  });
});

describe.skipIf(!netns)("receive ring at MTU 1500", () => {
  let w: VethWorld;
  let a: RawLink;
  let b: PacketLink;
  const open: RawLink[] = [];
  const track = <T extends RawLink>(l: T): T => (open.push(l), l);

  beforeAll(() => {
    w = makeVethWorld("rr");
    a = track(PacketLink.open(w.ifA, { netns: w.nsA, rxRing: false }));
    b = track(PacketLink.open(w.ifB, { netns: w.nsB, rxRing: true }));
  });
  afterAll(() => {
    for (const l of open) l.close();
    w?.dispose();
  });

  test("openRawLink receives through the ring unless AOEDE_RX_RING=0", () => {
    const l = openRawLink(w.ifB, { netns: w.nsB }) as PacketLink;
    try {
      expect(l.receiveMode).toBe(process.env.AOEDE_RX_RING === "0" ? "recvmmsg" : "ring");
      expect(b.receiveMode).toBe("ring");
      expect(b.ringError).toBeUndefined();
      expect(b.ring!.layout.frameCount).toBeGreaterThanOrEqual(1024);
      expect(b.batchSize).toBe(0); // the loop asks until empty
      expect((a as PacketLink).receiveMode).toBe("recvmmsg");
      expect((a as PacketLink).batchSize).toBe(64);
    } finally {
      l.close();
    }
  });

  test("every frame size from 60 to 1514 arrives byte-exact and in order", async () => {
    const before = b.stats.received;
    expect(await everySize(a, b, 1514, 200)).toBe(0);
    expect(b.stats.received - before).toBe(1514 - 60 + 1);
    expect(b.stats.truncated).toBe(0);
  });

  test("the ring and recvmmsg hand out identical frames for the same traffic", async () => {
    const viaCopy = track(PacketLink.open(w.ifB, { netns: w.nsB, rxRing: false }));
    try {
      expect(viaCopy.receiveMode).toBe("recvmmsg");
      const rand = seededUint32(0x5eed);
      const frames = Array.from({ length: 600 }, (_, i) => testFrame(b.mac, a.mac, 20 + (rand() % 1495), i));
      expect(a.sendBatch(frames)).toBe(600);
      const fromRing = await collect(b, 600);
      const fromCopy = await collect(viaCopy, 600);
      expect(fromRing.length).toBe(600);
      expect(fromCopy.length).toBe(600);
      let differ = 0;
      fromRing.forEach((f, i) => {
        if (!same(f, fromCopy[i]!)) differ++;
      });
      expect(differ).toBe(0);
      expect(fromRing.map(seqOf)).toEqual(frames.map((_, i) => i));
    } finally {
      viaCopy.close();
    }
  });

  test("a burst larger than the ring, not received: the excess is dropped and counted, then the ring recovers", async () => {
    const r = track(PacketLink.open(w.ifB, { netns: w.nsB, rxRing: true, rxRingFrames: 64 }));
    try {
      const slots = r.ring!.layout.frameCount; // 64 rounded up to whole blocks
      expect(slots).toBeGreaterThanOrEqual(64);
      expect(slots).toBeLessThan(64 + r.ring!.layout.framesPerBlock);
      const extra = 150;
      await sendPaced(a, Array.from({ length: slots + extra }, (_, i) => testFrame(r.mac, a.mac, 100, i)));
      // The ring holds the first `slots` frames, in order; the rest found no free slot.
      const held = await collect(r, slots + extra, 300);
      expect(held.map(seqOf)).toEqual(Array.from({ length: slots }, (_, i) => i));
      // Frames written while drops are unreported carry TP_STATUS_LOSING...
      const losingBefore = r.ring!.losing;
      await sendPaced(a, Array.from({ length: 10 }, (_, i) => testFrame(r.mac, a.mac, 100, 5000 + i)));
      const after = await collect(r, 10);
      expect(after.map(seqOf)).toEqual(Array.from({ length: 10 }, (_, i) => 5000 + i));
      expect(r.ring!.losing - losingBefore).toBe(10);
      // ...and PACKET_STATISTICS counts them (and clears the flag).
      expect(r.kernelDrops()).toBe(extra);
      await sendPaced(a, Array.from({ length: 10 }, (_, i) => testFrame(r.mac, a.mac, 100, 6000 + i)));
      expect((await collect(r, 10)).map(seqOf)).toEqual(Array.from({ length: 10 }, (_, i) => 6000 + i));
      expect(r.ring!.losing - losingBefore).toBe(10);
      expect(r.kernelDrops()).toBe(extra);
    } finally {
      r.close();
    }
  });

  test("a batch's views stay intact while it is processed; its slots and views are reused after", async () => {
    const r = track(PacketLink.open(w.ifB, { netns: w.nsB, rxRing: true, rxRingFrames: 64 }));
    try {
      const slots = r.ring!.layout.frameCount;
      const first = Array.from({ length: 8 }, (_, i) => testFrame(r.mac, a.mac, 200, i));
      await sendPaced(a, first);
      const batch = r.receive();
      expect(batch.length).toBe(8);
      const views = [...batch];
      // While batch N is held, a flood fills every other slot: the kernel must not
      // touch the held ones, so it drops the 8 frames that find them in its way.
      await sendPaced(a, Array.from({ length: slots }, (_, i) => testFrame(r.mac, a.mac, 200, 100 + i)));
      views.forEach((v, i) => expect(same(v, first[i]!)).toBe(true));
      // receive() hands batch N back and goes on from the oldest filled slot.
      const rest = await collect(r, slots, 300);
      expect(rest.map(seqOf)).toEqual(Array.from({ length: slots - 8 }, (_, i) => 100 + i));
      expect(r.kernelDrops()).toBe(8);
      // The next frames land in batch N's slots: same length, so the same view objects
      // come back, now showing the new frames.
      const next = Array.from({ length: 8 }, (_, i) => testFrame(r.mac, a.mac, 200, 900 + i));
      await sendPaced(a, next);
      const again = r.receive();
      expect(again.length).toBe(8);
      again.forEach((v, i) => {
        expect(v).toBe(views[i]!);
        expect(same(v, next[i]!)).toBe(true);
      });
      // A frame of another length in a slot gets a view of its own length.
      const odd = testFrame(r.mac, a.mac, 333, 77);
      await sendPaced(a, [odd]);
      const [v] = r.receive();
      expect(v!.length).toBe(333);
      expect(same(v!, odd)).toBe(true);
    } finally {
      r.close();
    }
  });

  test("views from a fresh subarray per frame (rxRingReuseViews: false) carry the same bytes", async () => {
    const r = track(PacketLink.open(w.ifB, { netns: w.nsB, rxRing: true, rxRingReuseViews: false }));
    try {
      const frames = Array.from({ length: 40 }, (_, i) => testFrame(r.mac, a.mac, 60 + i * 30, i));
      await sendPaced(a, frames);
      const one = r.receive();
      expect(one.length).toBe(40);
      one.forEach((f, i) => expect(same(f, frames[i]!)).toBe(true));
    } finally {
      r.close();
    }
  });

  test("poll() reports the descriptor ready while frames wait or the last batch is held, not after an empty receive()", async () => {
    const r = track(PacketLink.open(w.ifB, { netns: w.nsB, rxRing: true }));
    try {
      expect(readiness(r) & 1).toBe(0);
      await sendPaced(a, [testFrame(r.mac, a.mac, 100, 1)]);
      expect(readiness(r) & 1).toBe(1);
      expect(r.receive().length).toBe(1);
      expect(readiness(r) & 1).toBe(1); // the slot is still ours
      expect(r.receive().length).toBe(0); // hands it back
      expect(readiness(r) & 1).toBe(0);
    } finally {
      r.close();
    }
  });

  test("close() with a view still held: the view reads as empty, no crash, the mapping is gone", async () => {
    const r = PacketLink.open(w.ifB, { netns: w.nsB, rxRing: true });
    const f = testFrame(r.mac, a.mac, 500, 42);
    await sendPaced(a, [f]);
    const [view] = r.receive();
    expect(same(view!, f)).toBe(true);
    const ring = r.ring!;
    r.close();
    expect(ring.mapped).toBe(false);
    expect(view!.length).toBe(0);
    expect(view![0]).toBeUndefined();
    expect(view!.buffer.byteLength).toBe(0);
    Bun.gc(true);
    // methods that copy say so with a TypeError rather than reading unmapped memory
    expect(() => view!.slice()).toThrow(TypeError);
    expect(r.receive()).toEqual([]);
    ring.unmap(); // idempotent
  });

  test("a handler that closes the link mid-batch: the rest of the batch arrives as empty views, nothing throws", async () => {
    const r = PacketLink.open(w.ifB, { netns: w.nsB, rxRing: true });
    const loop = new EventLoop();
    const lengths: number[] = [];
    try {
      // all five wait in the ring before the loop looks: one receive() takes them
      await sendPaced(a, Array.from({ length: 5 }, (_, i) => testFrame(r.mac, a.mac, 120, i)));
      loop.attach(r, (f) => {
        lengths.push(f.length);
        if (lengths.length === 1) r.close();
      });
      const end = performance.now() + 2000;
      while (lengths.length < 5 && performance.now() < end) await Bun.sleep(5);
      expect(lengths).toEqual([120, 0, 0, 0, 0]);
      expect(loop.stats.handlerErrors).toBe(0);
    } finally {
      loop.close();
      r.close();
    }
  });

  test("without a ring (rxRing: false or AOEDE_RX_RING=0) the link uses recvmmsg", async () => {
    const saved = process.env.AOEDE_RX_RING;
    process.env.AOEDE_RX_RING = "0";
    let env: PacketLink | undefined;
    try {
      env = track(PacketLink.open(w.ifB, { netns: w.nsB }));
    } finally {
      if (saved === undefined) delete process.env.AOEDE_RX_RING;
      else process.env.AOEDE_RX_RING = saved;
    }
    try {
      expect(env.receiveMode).toBe("recvmmsg");
      expect(env.ring).toBeUndefined();
      expect(env.ringError).toBeUndefined(); // not wanted, so not failed
      const f = testFrame(env.mac, a.mac, 300, 3);
      expect(a.send(f)).toBe(true);
      expect((await collect(env, 1))[0]).toEqual(f);
    } finally {
      env.close();
      await collect(b, 1, 100);
    }
  });

  test("a ring the kernel refuses (ENOMEM) falls back to recvmmsg, and frames still arrive", async () => {
    // 2^31 slots: the kernel cannot even allocate the table of blocks, and says so at once.
    const r = track(PacketLink.open(w.ifB, { netns: w.nsB, rxRing: true, rxRingFrames: 2 ** 31 }));
    try {
      expect(r.receiveMode).toBe("recvmmsg");
      expect(r.ringError).toBeInstanceOf(RawLinkError);
      expect(["ENOMEM", "EINVAL"]).toContain(r.ringError!.code);
      expect(r.batchSize).toBe(64);
      const frames = Array.from({ length: 20 }, (_, i) => testFrame(r.mac, a.mac, 64 + i, i));
      expect(a.sendBatch(frames)).toBe(20);
      const got = await collect(r, 20);
      got.forEach((g, i) => expect(same(g, frames[i]!)).toBe(true));
    } finally {
      r.close();
      await collect(b, 20, 100);
    }
  });

  test("a second ring on a socket that has one is refused (EBUSY), the first keeps working", async () => {
    let code: string | undefined;
    try {
      RxRing.attach(b.fd, b.mtu);
    } catch (e) {
      code = (e as RawLinkError).code;
    }
    expect(code).toBe("EBUSY");
    await collect(b, Infinity, 100); // what the other tests' traffic left in b's ring
    const f = testFrame(b.mac, a.mac, 700, 11);
    expect(a.send(f)).toBe(true);
    const [got] = await collect(b, 1);
    expect(same(got!, f)).toBe(true);
  });
});

describe.skipIf(!netns)("receive ring at MTU 9000", () => {
  let w: VethWorld;
  beforeAll(() => (w = makeVethWorld("rj", 9000)));
  afterAll(() => w?.dispose());

  test("every frame size from 60 to 9014 arrives byte-exact and in order", async () => {
    const a = openRawLink(w.ifA, { netns: w.nsA });
    const b = PacketLink.open(w.ifB, { netns: w.nsB, rxRing: true });
    try {
      expect(b.receiveMode).toBe("ring");
      expect(b.ring!.layout.frameSize).toBe(9088);
      expect(await everySize(a, b, 9014, 100)).toBe(0);
      expect(b.kernelDrops()).toBe(0);
    } finally {
      a.close();
      b.close();
    }
  });

  test("refresh() after an MTU change re-makes the ring; a view held across it reads as empty", async () => {
    w.setMtu(1500);
    const a = openRawLink(w.ifA, { netns: w.nsA });
    const b = PacketLink.open(w.ifB, { netns: w.nsB, rxRing: true });
    try {
      expect(b.ring!.layout.frameSize).toBe(1584);
      const small = testFrame(b.mac, a.mac, 1514, 1);
      expect(a.send(small)).toBe(true);
      await Bun.sleep(20);
      const [held] = b.receive();
      expect(same(held!, small)).toBe(true);
      w.setMtu(9000);
      const big = testFrame(b.mac, a.mac, 9014, 2);
      expect(a.send(big)).toBe(true); // too long for a 1500 slot: cut, dropped, counted
      expect(await collect(b, 1, 200)).toEqual([]);
      expect(b.stats.truncated).toBe(1);
      b.refresh();
      expect(held!.length).toBe(0);
      expect(b.receiveMode).toBe("ring");
      expect(b.ring!.layout.frameSize).toBe(9088);
      expect(readiness(b) & 1).toBe(0); // nothing left queued beside the new ring
      expect(a.send(big)).toBe(true);
      const [got] = await collect(b, 1);
      expect(same(got!, big)).toBe(true);
    } finally {
      a.close();
      b.close();
      w.setMtu(9000);
    }
  });
});
