import { describe, expect, test } from "bun:test";
import { PathSet, FAIL_AFTER } from "../../src/initiator/path.ts";
import { NetLink } from "../../src/initiator/netlink.ts";
import type { RawLink } from "../../ffi/rawlink.ts";

function fakeLink(name: string, mtu = 1500): RawLink {
  return {
    name,
    index: 1,
    mac: new Uint8Array([2, 0, 0, 0, 0, name.length]),
    mtu,
    fd: -1,
    receive: () => [],
    send: () => true,
    sendBatch: (f) => f.length,
    refresh() {},
    close() {},
    open: true,
    stats: { received: 0, truncated: 0, sent: 0, sendDropped: 0, receiveErrors: 0, lastError: undefined },
    kernelDrops: () => 0,
    onClose: () => () => {},
  };
}

const macA = new Uint8Array([2, 1, 1, 1, 1, 1]);
const macB = new Uint8Array([2, 1, 1, 1, 1, 2]);

describe("PathSet", () => {
  test("merges the same (interface, MAC) pair and round-robins over the rest", () => {
    const l0 = new NetLink(fakeLink("eth0"));
    const l1 = new NetLink(fakeLink("eth1"));
    const s = new PathSet();
    const p0 = s.add(l0, macA, 2);
    const p1 = s.add(l1, macA, 2);
    expect(s.add(l0, macA, 2)).toBe(p0);
    expect(s.size).toBe(2);
    const picks = [0, 1, 2, 3].map(() => s.pick(0));
    expect(picks).toEqual([p0, p1, p0, p1]);
  });

  test("a resend prefers another path", () => {
    const s = new PathSet();
    const p0 = s.add(new NetLink(fakeLink("eth0")), macA, 2);
    const p1 = s.add(new NetLink(fakeLink("eth1")), macB, 2);
    for (let i = 0; i < 5; i++) {
      expect(s.pick(0, p0)).toBe(p1);
      expect(s.pick(0, p1)).toBe(p0);
    }
  });

  test("a failing path is avoided, probed later with one frame, restored by a reply", () => {
    const s = new PathSet();
    const p0 = s.add(new NetLink(fakeLink("eth0")), macA, 2);
    const p1 = s.add(new NetLink(fakeLink("eth1")), macA, 2);
    p0.timedOut(0);
    p0.timedOut(1); // same timer period: one event
    expect(p0.consecutiveTimeouts).toBe(1);
    for (let i = 1; i < FAIL_AFTER; i++) p0.timedOut(i * 10_000);
    expect(p0.failing).toBe(true);
    for (let i = 0; i < 6; i++) expect(s.pick(20_001)).toBe(p1);
    // due for a probe later, only while nothing else is outstanding on it
    const later = 40_000;
    const picks = new Set([s.pick(later), s.pick(later)]);
    expect(picks.has(p0)).toBe(true);
    p0.outstanding = 1;
    for (let i = 0; i < 4; i++) expect(s.pick(later)).toBe(p1);
    p0.outstanding = 0;
    p0.replied(0.1);
    expect(p0.failing).toBe(false);
  });

  test("when every path fails, the one due soonest still carries frames", () => {
    const s = new PathSet();
    const p0 = s.add(new NetLink(fakeLink("eth0")), macA, 2);
    const p1 = s.add(new NetLink(fakeLink("eth1")), macA, 2);
    for (let i = 0; i < FAIL_AFTER; i++) p0.timedOut(i * 10_000);
    for (let i = 0; i < FAIL_AFTER; i++) p1.timedOut(5 + i * 10_000);
    p0.outstanding = 1;
    p1.outstanding = 1;
    expect(s.pick(20_010)).toBe(p0);
  });

  test("frame size is the smaller of the MTU's and the target's sector count", () => {
    const s = new PathSet();
    const jumbo = s.add(new NetLink(fakeLink("eth0", 9000)), macA, 17);
    expect(jumbo.maxSectors()).toBe(17);
    const small = s.add(new NetLink(fakeLink("eth1", 1500)), macA, 17);
    expect(small.maxSectors()).toBe(2);
    expect(s.maxSectors()).toBe(2);
    const capped = s.add(new NetLink(fakeLink("eth2", 9000)), macB, 8);
    expect(capped.maxSectors()).toBe(8);
  });
});
