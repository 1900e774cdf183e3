/** The AF_PACKET RawLink over a veth pair between two private namespaces. */
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { listEthernetInterfaces } from "../../ffi/linux/interfaces.ts";
import { ETH_P_ALL, PacketLink } from "../../ffi/linux/packet.ts";
import { openRawLink, RawLinkError, type RawLink } from "../../ffi/rawlink.ts";
import { canUseNetns, makeVethWorld, type VethWorld } from "../helpers/netns.ts";
import { collect, ETHERTYPE_IPV4, seqOf, testFrame } from "./frames.ts";

// Namespaces and raw links: several times slower on a busy
// 2-core machine than alone. bun test's default is 5 s (bunfig.toml cannot change it).
setDefaultTimeout(30_000);

const linux = process.platform === "linux";
const netns = linux && canUseNetns();

function hexMac(mac: Uint8Array): string {
  return [...mac].map((b) => b.toString(16).padStart(2, "0")).join(":");
}

describe.skipIf(!netns)("PacketLink over veth", () => {
  let w: VethWorld;
  let a: RawLink;
  let b: RawLink;
  const open: RawLink[] = [];
  const track = <T extends RawLink>(l: T): T => (open.push(l), l);

  beforeAll(() => {
    w = makeVethWorld("lk");
    a = track(openRawLink(w.ifA, { netns: w.nsA }));
    b = track(openRawLink(w.ifB, { netns: w.nsB }));
  });
  afterAll(() => {
    for (const l of open) l.close();
    w?.dispose();
  });

  test("open reads index, MAC and MTU inside the namespace", () => {
    expect(hexMac(a.mac)).toBe(w.macA);
    expect(hexMac(b.mac)).toBe(w.macB);
    expect(a.mtu).toBe(1500);
    expect(a.index).toBeGreaterThan(1);
    expect(a.fd).toBeGreaterThanOrEqual(0);
    expect(a.open).toBe(true);
  });

  test("the receive buffer is at least 4 MiB (SO_RCVBUFFORCE as root)", () => {
    expect((a as PacketLink).receiveBufferBytes).toBeGreaterThanOrEqual(4 << 20);
  });

  test("one frame each way, bytes intact", async () => {
    const f = testFrame(b.mac, a.mac, 300, 7);
    expect(a.send(f)).toBe(true);
    const [got] = await collect(b, 1);
    expect(got).toEqual(f);
    const back = testFrame(a.mac, b.mac, 1514, 8);
    expect(b.send(back)).toBe(true);
    expect((await collect(a, 1))[0]).toEqual(back);
  });

  test("a 32-byte frame goes out as 60 bytes, zero-padded", async () => {
    const f = testFrame(b.mac, a.mac, 32, 0x01020304);
    f.fill(0xee, 18);
    expect(a.send(f)).toBe(true);
    const [got] = await collect(b, 1);
    expect(got!.length).toBe(60);
    expect(got!.subarray(0, 32)).toEqual(f);
    expect([...got!.subarray(32)].every((x) => x === 0)).toBe(true);
  });

  test("sendBatch: 300 frames in order, short ones padded, sizes kept", async () => {
    const frames = Array.from({ length: 300 }, (_, i) => testFrame(b.mac, a.mac, 20 + ((i * 37) % 1495), i));
    expect(a.sendBatch(frames)).toBe(300);
    const got = await collect(b, 300);
    expect(got.length).toBe(300);
    got.forEach((g, i) => {
      const f = frames[i]!;
      expect(seqOf(g)).toBe(i);
      expect(g.length).toBe(Math.max(60, f.length));
      expect(g.subarray(0, f.length)).toEqual(f);
    });
  });

  test("sendBatch skips a frame the kernel rejects (EMSGSIZE) and sends the others", async () => {
    const before = a.stats.sendDropped;
    const frames = [testFrame(b.mac, a.mac, 100, 1), testFrame(b.mac, a.mac, 3000, 2), testFrame(b.mac, a.mac, 100, 3)];
    expect(a.sendBatch(frames)).toBe(2);
    expect(a.stats.sendDropped).toBe(before + 1);
    expect(a.stats.lastError).toBe("EMSGSIZE");
    expect((await collect(b, 2)).map(seqOf)).toEqual([1, 3]);
  });

  test("sendBatch from small engine-owned arrays survives garbage collection", async () => {
    // The note's pitfall 1: a small new Uint8Array(n) may move; the link must
    // take addresses only while the frames cannot move.
    const frames: Uint8Array[] = [];
    for (let i = 0; i < 200; i++) {
      const f = new Uint8Array(64 + (i % 40));
      f.set(testFrame(b.mac, a.mac, f.length, 1000 + i));
      frames.push(f);
      if (i % 50 === 0) Bun.gc(true);
    }
    Bun.gc(true);
    expect(a.sendBatch(frames)).toBe(200);
    const got = await collect(b, 200);
    expect(got.length).toBe(200);
    got.forEach((g, i) => expect(g).toEqual(frames[i]!));
  });

  test("receive() returns at most `batch` frames per call", async () => {
    const small = track(openRawLink(w.ifB, { netns: w.nsB, batch: 4 }));
    try {
      expect(a.sendBatch(Array.from({ length: 10 }, (_, i) => testFrame(b.mac, a.mac, 100, i)))).toBe(10);
      await Bun.sleep(20);
      expect(small.receive().length).toBe(4);
      expect(small.receive().length).toBe(4);
      expect(small.receive().length).toBe(2);
      expect(small.receive().length).toBe(0);
    } finally {
      small.close();
      await collect(b, 10, 100); // the other link on ifB saw them too
    }
  });

  test("the filter passes only ethertype 0x88A2 (the kernel runs it)", async () => {
    // Both listeners bind to every ethertype; only one carries the filter, the
    // other proves the IPv4 frame really arrived.
    const filtered = track(PacketLink.open(w.ifB, { netns: w.nsB, protocol: ETH_P_ALL }));
    const everything = track(PacketLink.open(w.ifB, { netns: w.nsB, protocol: ETH_P_ALL, filter: false }));
    try {
      const ip = testFrame(b.mac, a.mac, 100, 1, ETHERTYPE_IPV4);
      const aoe = testFrame(b.mac, a.mac, 100, 2);
      expect(a.sendBatch([ip, aoe])).toBe(2);
      const all = await collect(everything, 2);
      expect(all.map(seqOf)).toEqual([1, 2]);
      const passed = await collect(filtered, 2, 200);
      expect(passed.map(seqOf)).toEqual([2]);
      // and the AoE-bound link never sees the IPv4 frame either
      expect((await collect(b, 2, 200)).map(seqOf)).toEqual([2]);
    } finally {
      filtered.close();
      everything.close();
    }
  });

  test("receive after close is empty, send after close throws", () => {
    const l = openRawLink(w.ifA, { netns: w.nsA });
    l.close();
    expect(l.open).toBe(false);
    expect(l.receive()).toEqual([]);
    expect(() => l.send(new Uint8Array(60))).toThrow(RawLinkError);
    l.close(); // idempotent
  });

  test("onClose listeners run once, before the descriptor goes", () => {
    const l = openRawLink(w.ifA, { netns: w.nsA });
    let seenOpen: boolean | undefined;
    let calls = 0;
    l.onClose!(() => {
      calls++;
      seenOpen = l.open;
    });
    l.close();
    l.close();
    expect(calls).toBe(1);
    expect(seenOpen).toBe(true);
  });

  test("listEthernetInterfaces inside a namespace sees that namespace's interfaces", () => {
    const inA = listEthernetInterfaces({ netns: w.nsA });
    expect(inA.map((i) => i.name)).toEqual([w.ifA]);
    expect(hexMac(inA[0]!.mac)).toBe(w.macA);
    expect(inA[0]!.running).toBe(true);
    expect(listEthernetInterfaces({ netns: w.nsB }).map((i) => i.name)).toEqual([w.ifB]);
  });
});

describe.skipIf(!netns)("opening errors", () => {
  let w: VethWorld;
  beforeAll(() => (w = makeVethWorld("le")));
  afterAll(() => w?.dispose());

  const codeOf = (fn: () => unknown): string | undefined => {
    try {
      fn();
    } catch (e) {
      expect(e).toBeInstanceOf(RawLinkError);
      return (e as RawLinkError).code;
    }
    return undefined;
  };

  test("a missing interface is ENODEV", () => {
    expect(codeOf(() => openRawLink("aoedenone0", { netns: w.nsA }))).toBe("ENODEV");
    // the interface of the other namespace does not exist here either
    expect(codeOf(() => openRawLink(w.ifB, { netns: w.nsA }))).toBe("ENODEV");
  });

  test("a missing namespace is ENOENT and names the namespace", () => {
    let err: RawLinkError | undefined;
    try {
      openRawLink(w.ifA, { netns: "aoede-no-such-ns" });
    } catch (e) {
      err = e as RawLinkError;
    }
    expect(err?.code).toBe("ENOENT");
    expect(err?.message).toContain("aoede-no-such-ns");
  });

  test("loopback is refused as not Ethernet", () => {
    expect(codeOf(() => openRawLink("lo", { netns: w.nsA }))).toBe("EINVAL");
  });

  test("an interface that is down is ENETDOWN", () => {
    w.exec(w.nsA, ["ip", "link", "set", w.ifA, "down"]);
    try {
      expect(codeOf(() => openRawLink(w.ifA, { netns: w.nsA }))).toBe("ENETDOWN");
      expect(listEthernetInterfaces({ netns: w.nsA })).toEqual([]);
    } finally {
      w.exec(w.nsA, ["ip", "link", "set", w.ifA, "up"]);
    }
  });

  test("a name too long for IFNAMSIZ is refused before any syscall", () => {
    expect(codeOf(() => openRawLink("x".repeat(16), { netns: w.nsA }))).toBe("ENODEV");
  });

  test("the namespace of the caller is restored after a failure", () => {
    const before = require("node:fs").readlinkSync("/proc/thread-self/ns/net");
    codeOf(() => openRawLink("aoedenone0", { netns: w.nsA }));
    expect(require("node:fs").readlinkSync("/proc/thread-self/ns/net")).toBe(before);
  });
});

describe.skipIf(!netns)("MTU 9000", () => {
  let w: VethWorld;
  beforeAll(() => (w = makeVethWorld("lj", 9000)));
  afterAll(() => w?.dispose());

  test("jumbo frames pass whole, single and batched", async () => {
    const a = openRawLink(w.ifA, { netns: w.nsA });
    const b = openRawLink(w.ifB, { netns: w.nsB });
    try {
      expect(a.mtu).toBe(9000);
      const f = testFrame(b.mac, a.mac, 9014, 1);
      expect(a.send(f)).toBe(true);
      expect((await collect(b, 1))[0]).toEqual(f);
      const many = Array.from({ length: 64 }, (_, i) => testFrame(b.mac, a.mac, 9014, 100 + i));
      expect(a.sendBatch(many)).toBe(64);
      const got = await collect(b, 64);
      expect(got.length).toBe(64);
      got.forEach((g, i) => expect(g).toEqual(many[i]!));
    } finally {
      a.close();
      b.close();
    }
  });

  test("refresh() follows an MTU change: frames beyond the old slot size are dropped until then", async () => {
    w.setMtu(1500);
    const a = openRawLink(w.ifA, { netns: w.nsA });
    const b = openRawLink(w.ifB, { netns: w.nsB });
    try {
      expect(b.mtu).toBe(1500);
      w.setMtu(9000);
      const f = testFrame(b.mac, a.mac, 9014, 5);
      expect(a.send(f)).toBe(true); // the kernel checks the device's MTU, now 9000
      expect(await collect(b, 1, 200)).toEqual([]);
      expect(b.stats.truncated).toBe(1);
      b.refresh();
      expect(b.mtu).toBe(9000);
      expect(a.send(f)).toBe(true);
      expect((await collect(b, 1))[0]).toEqual(f);
    } finally {
      a.close();
      b.close();
    }
  });

  test("a frame longer than the MTU allows is refused with EMSGSIZE", () => {
    w.setMtu(1500);
    const a = openRawLink(w.ifA, { netns: w.nsA });
    try {
      let code: string | undefined;
      try {
        a.send(new Uint8Array(new ArrayBuffer(3000)));
      } catch (e) {
        code = (e as RawLinkError).code;
      }
      expect(code).toBe("EMSGSIZE");
    } finally {
      a.close();
      w.setMtu(9000);
    }
  });
});

describe.skipIf(!netns)("getifaddrs walk (shared with the FreeBSD backend)", () => {
  test("finds the veth end of a namespace with its index and MAC", async () => {
    const { interfaceLinks } = await import("../../ffi/ifaddrs.ts");
    const { withNetns } = await import("../../ffi/linux/netns.ts");
    const w = makeVethWorld("lg");
    try {
      const links = withNetns(w.nsA, interfaceLinks);
      const mine = links.find((l) => l.name === w.ifA);
      expect(mine).toBeDefined();
      expect(hexMac(mine!.link.address)).toBe(w.macA);
      expect(mine!.link.type).toBe(1);
      expect(mine!.flags & 1).toBe(1); // IFF_UP
      expect(links.map((l) => l.name).sort()).toEqual([w.ifA, "lo"].sort());
    } finally {
      w.dispose();
    }
  });
});
