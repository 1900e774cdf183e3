/**
 * The tree's pure parts: Plan 9's control-message parsing and errors, the log
 * ring, node ids, the top ctl text (golden), libfis feature words.
 */
import { describe, expect, test } from "bun:test";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { CmdError, lookupCmd, parseCmd, strtol, strtoss, toggle } from "../../src/tree/cmd.ts";
import { EventLog, LOG_EVENTS } from "../../src/tree/log.ts";
import { decodeIno, devlinkIno, LOG_INO, ROOT_INO, TOP_CTL_INO, UnitFile, unitIno } from "../../src/tree/inode.ts";
import { formatTopCtl } from "../../src/tree/text.ts";
import { buildIdentify, featureNames } from "../../src/aoe/identify.ts";
import { aoeProtocolError } from "../../src/tree/errors.ts";

const dir = join(import.meta.dir, "golden");
function golden(name: string, actual: string) {
  const file = join(dir, name);
  if (process.env.UPDATE_GOLDEN) writeFileSync(file, actual);
  expect(actual).toBe(readFileSync(file, "utf8"));
}

describe("control messages (port/parse.c)", () => {
  test("fields: trailing newline dropped, blanks split, quotes group", () => {
    expect(parseCmd("bind eth0\n")).toEqual(["bind", "eth0"]);
    expect(parseCmd("  discover\t 1.2  ")).toEqual(["discover", "1.2"]);
    expect(parseCmd("bind '#l1/ether1'")).toEqual(["bind", "#l1/ether1"]);
    expect(parseCmd("x 'a b' 'it''s'")).toEqual(["x", "a b", "it's"]);
    expect(parseCmd("\n")).toEqual([]);
  });

  const table = [
    { name: "bind", narg: 2 },
    { name: "debug", narg: 0 },
  ];
  const err = (f: () => unknown) => {
    try {
      f();
    } catch (e) {
      expect(e).toBeInstanceOf(CmdError);
      return (e as Error).message;
    }
    throw new Error("no error");
  };

  test("lookupcmd's errors, with %q quoting", () => {
    expect(err(() => lookupCmd([], table))).toBe("empty control message");
    expect(err(() => lookupCmd(["frob"], table))).toBe('unknown control message "frob"');
    expect(err(() => lookupCmd(["bind"], table))).toBe('wrong #args in control message "bind"');
    expect(err(() => lookupCmd(["bind", "a b", "c"], table))).toBe(`wrong #args in control message "bind 'a b' c"`);
    expect(lookupCmd(["debug", "on", "x"], table).name).toBe("debug");
  });

  test("toggle: no argument flips, on sets, anything else clears", () => {
    expect(toggle(undefined, false)).toBe(true);
    expect(toggle(undefined, true)).toBe(false);
    expect(toggle("on", false)).toBe(true);
    expect(toggle("off", true)).toBe(false);
    expect(toggle("yes", true)).toBe(false);
  });

  test("strtol with base 0, strtoss", () => {
    expect(strtol("0x10")).toEqual({ value: 16, end: 4 });
    expect(strtol("010")).toEqual({ value: 8, end: 3 });
    expect(strtol("12.3")).toEqual({ value: 12, end: 2 });
    expect(strtol("x").end).toBe(0);
    expect(strtoss(undefined)).toEqual({ shelf: 0xffff, slot: 0xff });
    expect(strtoss("9")).toEqual({ shelf: 9, slot: 0xff });
    expect(strtoss("9.1")).toEqual({ shelf: 9, slot: 1 });
    expect(strtoss("0x10.010")).toEqual({ shelf: 16, slot: 8 });
    expect(err(() => strtoss("x"))).toBe("bad shelf");
    expect(err(() => strtoss("65536"))).toBe("bad shelf");
    expect(err(() => strtoss("1.x"))).toBe("bad slot");
    expect(err(() => strtoss("1.256"))).toBe("bad slot");
  });

  test("9front's aoeerror strings; out of range is unknown", () => {
    expect(aoeProtocolError(4)).toBe("aoe protocol error: config string present");
    expect(aoeProtocolError(6)).toBe("aoe protocol error: target is reserved");
    expect(aoeProtocolError(7)).toBe("aoe protocol error: unknown");
  });
});

describe("the log ring", () => {
  test("one event per read, EOF when empty, never blocks", () => {
    const echoed: string[] = [];
    const log = new EventLog((l) => echoed.push(l));
    expect(log.read(4096).length).toBe(0);
    log.event("aoe1.0: one\n");
    log.event("aoe1.0: two");
    const dec = (b: Uint8Array) => new TextDecoder().decode(b);
    expect(dec(log.read(4096))).toBe("aoe1.0: one\n");
    expect(dec(log.read(4096))).toBe("aoe1.0: two\n");
    expect(log.read(4096).length).toBe(0);
    expect(echoed).toEqual(["aoe1.0: one", "aoe1.0: two"]);
  });

  test("a short read loses the rest of its event", () => {
    const log = new EventLog();
    log.event("abcdef");
    log.event("next");
    expect(new TextDecoder().decode(log.read(3))).toBe("abc");
    expect(new TextDecoder().decode(log.read(100))).toBe("next\n");
  });

  test("full: the newest overwrites the oldest; events are cut at 255 bytes", () => {
    const log = new EventLog();
    for (let i = 0; i < LOG_EVENTS + 10; i++) log.event(`e${i}`);
    const got: string[] = [];
    for (let b = log.read(256); b.length > 0; b = log.read(256)) got.push(new TextDecoder().decode(b));
    expect(got.length).toBe(LOG_EVENTS);
    expect(got[0]).toBe("e10\n");
    expect(got.at(-1)).toBe(`e${LOG_EVENTS + 9}\n`);
    log.event("x".repeat(1000));
    expect(log.read(4096).length).toBe(255);
  });
});

describe("node ids", () => {
  test("stable, distinct, decodable", () => {
    expect(decodeIno(ROOT_INO)).toEqual({ kind: "root" });
    expect(decodeIno(TOP_CTL_INO)).toEqual({ kind: "topctl" });
    expect(decodeIno(LOG_INO)).toEqual({ kind: "log" });
    const seen = new Set<number>();
    for (const [shelf, slot] of [[0, 0], [9, 1], [65534, 254]] as const) {
      for (const f of Object.values(UnitFile)) {
        const ino = unitIno(shelf, slot, f);
        expect(decodeIno(ino)).toEqual({ kind: "unit", shelf, slot, file: f });
        seen.add(ino);
      }
      for (let i = 0; i < 6; i++) {
        expect(decodeIno(devlinkIno(shelf, slot, i))).toEqual({ kind: "devlink", shelf, slot, index: i });
        seen.add(devlinkIno(shelf, slot, i));
      }
    }
    expect(seen.size).toBe(3 * 12);
    expect(Math.max(...seen)).toBeLessThan(2 ** 32);
    expect(decodeIno(4)).toBeUndefined();
    expect(decodeIno(unitIno(1, 1, 0) + 10)).toBeUndefined();
  });
});

describe("top ctl (9front topctlread)", () => {
  test("golden: flags, then each bound slot in order, gaps kept", () => {
    golden(
      "top-ctl.txt",
      formatTopCtl({
        debug: false,
        autodiscover: true,
        rediscover: true,
        netlinks: [
          { slot: 2, path: "eth1", ea: new Uint8Array([0x52, 0x54, 0, 0xab, 0xcd, 0xf0]), flags: ["up"], lostjumbo: 3, datamtu: 9000 },
          { slot: 0, path: "eth0", ea: new Uint8Array([0x52, 0x54, 0, 0xab, 0xcd, 0xef]), flags: ["up"], lostjumbo: 0, datamtu: 1500 },
        ],
      }),
    );
  });

  test("no interface bound", () => {
    expect(formatTopCtl({ debug: true, autodiscover: false, rediscover: false, netlinks: [] })).toBe("debug: 1\nautodiscover: 0\nrediscover: 0\n");
  });
});

describe("libfis feature words", () => {
  test("aoede serve's IDENTIFY: lba llba ata8; without LBA48: lba ata8", () => {
    const id = buildIdentify({ sectors: 1000, model: "m", serial: "s", firmware: "f" });
    expect(featureNames(id)).toEqual(["lba", "llba", "ata8"]);
    expect(featureNames(buildIdentify({ sectors: 1000, model: "m", serial: "s", firmware: "f", lba48: false }))).toEqual(["lba", "ata8"]);
  });

  test("each word from its bit, in libfis order", () => {
    const id = new Uint8Array(512);
    const set = (w: number, v: number) => ((id[2 * w] = v & 0xff), (id[2 * w + 1] = v >> 8));
    expect(featureNames(id)).toEqual([]);
    set(49, 1 << 9);
    set(83, 0x4000 | (1 << 10) | (1 << 3));
    set(82, 1 | (1 << 14));
    set(80, 1 << 8);
    set(206, 1);
    expect(featureNames(id)).toEqual(["lba", "llba", "smart", "power", "nop", "ata8", "sct"]);
    set(80, 0xffff); // "no value" reads as 0
    set(83, 0x8000 | (1 << 10)); // word 83 not valid: no power/smart/nop, but llba still counts
    expect(featureNames(id)).toEqual(["lba", "llba", "sct"]);
  });
});
