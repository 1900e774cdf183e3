/**
 * Link events: rtnetlink messages parsed from bytes (and a malformed stream), a
 * real NETLINK_ROUTE socket in a private namespace seeing a veth pair come and
 * go, and FreeBSD's routing-socket messages from bytes.
 */
import { describe, expect, setDefaultTimeout, test } from "bun:test";
import { IFAN_ARRIVAL, IFAN_DEPARTURE, parseRouteMessages, RTM_IFANNOUNCE, RTM_IFINFO, RTM_VERSION } from "../../ffi/freebsd/route.ts";
import { withNetns } from "../../ffi/linux/netns.ts";
import { IFF_UP, IFLA_IFNAME, parseLinkMessages, RTM_DELLINK, RTM_NEWLINK } from "../../ffi/linux/rtnetlink.ts";
import { openLinkEvents, type LinkEvent } from "../../ffi/link-events.ts";
import { canUseNetns, makeVethWorld } from "../helpers/netns.ts";
import { seededUint32 } from "../helpers/prng.ts";

setDefaultTimeout(30_000);

/** nlmsghdr + ifinfomsg + attributes, as the kernel lays them out. */
function linkMsg(type: number, index: number, flags: number, name?: string, extraAttr = true): Uint8Array {
  const attrs: Uint8Array[] = [];
  const attr = (t: number, payload: Uint8Array) => {
    const len = 4 + payload.length;
    const a = new Uint8Array((len + 3) & ~3);
    new DataView(a.buffer).setUint16(0, len, true);
    new DataView(a.buffer).setUint16(2, t, true);
    a.set(payload, 4);
    attrs.push(a);
  };
  if (extraAttr) attr(4, new Uint8Array([0xdc, 0x05, 0, 0])); // IFLA_MTU 1500
  if (name !== undefined) attr(IFLA_IFNAME, new TextEncoder().encode(name + "\0"));
  const body = 16 + 16 + attrs.reduce((n, a) => n + a.length, 0);
  const m = new Uint8Array(body);
  const dv = new DataView(m.buffer);
  dv.setUint32(0, body, true);
  dv.setUint16(4, type, true);
  dv.setInt32(16 + 4, index, true);
  dv.setUint32(16 + 8, flags, true);
  let off = 32;
  for (const a of attrs) {
    m.set(a, off);
    off += a.length;
  }
  return m;
}

const concat = (...parts: Uint8Array[]) => {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let o = 0;
  for (const p of parts) out.set(p, (o += p.length) - p.length);
  return out;
};

describe("rtnetlink messages", () => {
  test("NEWLINK and DELLINK with names and flags; other messages skipped", () => {
    const other = linkMsg(20, 1, 0); // RTM_NEWADDR: not a link event
    const evs = parseLinkMessages(concat(linkMsg(RTM_NEWLINK, 7, IFF_UP | 0x40, "eth1"), other, linkMsg(RTM_DELLINK, 8, 0, "veth-x")));
    expect(evs).toEqual([
      { kind: "new", index: 7, flags: IFF_UP | 0x40, name: "eth1" },
      { kind: "del", index: 8, flags: 0, name: "veth-x" },
    ]);
    expect(parseLinkMessages(linkMsg(RTM_NEWLINK, 3, 0, undefined, false))).toEqual([{ kind: "new", index: 3, flags: 0, name: undefined }]);
  });

  test("a truncated message ends the parse; what came before stands", () => {
    const good = linkMsg(RTM_NEWLINK, 2, 1, "a");
    const cut = linkMsg(RTM_NEWLINK, 3, 1, "b");
    expect(parseLinkMessages(concat(good, cut.subarray(0, cut.length - 5)))).toEqual([{ kind: "new", index: 2, flags: 1, name: "a" }]);
    expect(parseLinkMessages(new Uint8Array(3))).toEqual([]);
  });

  test("fuzz: random bytes and cut streams never throw", () => {
    const next = seededUint32(12);
    const stream = concat(linkMsg(RTM_NEWLINK, 2, 1, "eth0"), linkMsg(RTM_DELLINK, 3, 0, "eth1"));
    for (let i = 0; i < 5000; i++) {
      const b = stream.slice();
      for (let k = 0; k < 1 + (next() % 6); k++) b[next() % b.length] = next() & 0xff;
      const evs: LinkEvent[] = parseLinkMessages(b, next() % (b.length + 1));
      expect(evs.length).toBeLessThanOrEqual(2);
    }
  });
});

describe.skipIf(!canUseNetns())("a real NETLINK_ROUTE socket", () => {
  test("sees a veth pair created, set up and deleted in its namespace", async () => {
    const w = makeVethWorld("rtn");
    const mon = withNetns(w.nsA, () => openLinkEvents());
    try {
      expect(mon.read()).toEqual([]); // non-blocking: nothing yet
      w.exec(w.nsA, ["ip", "link", "add", "rtn0", "type", "veth", "peer", "name", "rtn1"]);
      w.exec(w.nsA, ["ip", "link", "set", "rtn0", "up"]);
      w.exec(w.nsA, ["ip", "link", "del", "rtn0"]);
      await Bun.sleep(50);
      const evs = mon.read().filter((e) => e.name === "rtn0");
      expect(evs[0]!.kind).toBe("new");
      expect(evs.some((e) => e.kind === "new" && (e.flags & IFF_UP) !== 0)).toBe(true);
      expect(evs.at(-1)!.kind).toBe("del");
      expect(new Set(evs.map((e) => e.index)).size).toBe(1);
    } finally {
      mon.close();
      w.dispose();
    }
  });
});

describe("FreeBSD routing-socket messages (bytes only)", () => {
  const announce = (index: number, name: string, what: number) => {
    const m = new Uint8Array(24);
    const dv = new DataView(m.buffer);
    dv.setUint16(0, 24, true);
    m[2] = RTM_VERSION;
    m[3] = RTM_IFANNOUNCE;
    dv.setUint16(4, index, true);
    m.set(new TextEncoder().encode(name), 6);
    dv.setUint16(22, what, true);
    return m;
  };
  const ifinfo = (index: number, flags: number) => {
    // if_msghdr with FreeBSD 14 amd64's if_data after it: 16 + 152 bytes
    const m = new Uint8Array(168);
    const dv = new DataView(m.buffer);
    dv.setUint16(0, 168, true);
    m[2] = RTM_VERSION;
    m[3] = RTM_IFINFO;
    dv.setInt32(8, flags, true);
    dv.setUint16(12, index, true);
    return m;
  };

  test("arrival, flags, departure", () => {
    expect(parseRouteMessages(concat(announce(4, "em1", IFAN_ARRIVAL), ifinfo(4, 0x8843), announce(4, "em1", IFAN_DEPARTURE)))).toEqual([
      { kind: "new", index: 4, flags: 0, name: "em1" },
      { kind: "new", index: 4, flags: 0x8843, name: undefined },
      { kind: "del", index: 4, flags: 0, name: "em1" },
    ]);
  });

  test("other versions and types are skipped; a cut message ends the parse", () => {
    const old = announce(1, "x", IFAN_ARRIVAL);
    old[2] = 4;
    const rtmAdd = ifinfo(2, 1);
    rtmAdd[3] = 0x1; // RTM_ADD
    expect(parseRouteMessages(concat(old, rtmAdd, announce(3, "vtnet0", IFAN_ARRIVAL)))).toEqual([{ kind: "new", index: 3, flags: 0, name: "vtnet0" }]);
    expect(parseRouteMessages(announce(3, "a", IFAN_ARRIVAL).subarray(0, 20))).toEqual([]);
  });
});
