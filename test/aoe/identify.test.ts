import { describe, expect, test } from "bun:test";
import { DecodeError, buildIdentify, parseIdentify } from "../../src/aoe/index.ts";
import { thrown } from "./golden.ts";

const word = (id: Uint8Array, w: number) => id[2 * w]! | (id[2 * w + 1]! << 8);

describe("buildIdentify words", () => {
  const base = { model: "AoEde", serial: "SN1", firmware: "0.1.0" };
  const cases: { name: string; sectors: number; lba48?: boolean; writeCache?: boolean; words: Record<number, number> }[] = [
    {
      name: "small LBA48 device",
      sectors: 2048,
      words: {
        0: 0x0040, 47: 0x8000, 49: 0x0200, 50: 0x4000, 60: 2048, 61: 0, 80: 0x01c0,
        82: 0x0020, 83: 0x7400, 84: 0x4000, 85: 0x0020, 86: 0x3400, 87: 0x4000,
        100: 2048, 101: 0, 102: 0, 103: 0, 93: 0, 255: 0,
      },
    },
    {
      name: "beyond LBA28: words 60-61 saturate at 0x0FFFFFFF",
      sectors: 0x123456789ab,
      words: { 60: 0xffff, 61: 0x0fff, 100: 0x89ab, 101: 0x4567, 102: 0x0123, 103: 0 },
    },
    {
      name: "exactly 0x0FFFFFFF sectors",
      sectors: 0x0fffffff,
      words: { 60: 0xffff, 61: 0x0fff, 100: 0xffff, 101: 0x0fff, 102: 0 },
    },
    {
      name: "largest 48-bit device",
      sectors: 2 ** 48 - 1,
      words: { 60: 0xffff, 61: 0x0fff, 100: 0xffff, 101: 0xffff, 102: 0xffff, 103: 0 },
    },
    {
      name: "LBA28 only: no LBA48 or FLUSH EXT bits, no 48-bit count",
      sectors: 1000,
      lba48: false,
      words: { 60: 1000, 83: 0x5000, 86: 0x1000, 100: 0, 101: 0 },
    },
    {
      name: "synchronous writes: no write cache announced",
      sectors: 1000,
      writeCache: false,
      words: { 82: 0, 85: 0, 83: 0x7400 },
    },
  ];
  for (const c of cases) {
    test(c.name, () => {
      const id = buildIdentify({ ...base, sectors: c.sectors, lba48: c.lba48, writeCache: c.writeCache });
      expect(id.length).toBe(512);
      for (const [w, v] of Object.entries(c.words)) expect([Number(w), word(id, Number(w))]).toEqual([Number(w), v]);
    });
  }
  test("strings are byte-swapped per word and space padded", () => {
    const id = buildIdentify({ sectors: 1, model: "ABC", serial: "12345", firmware: "V25" });
    // Serial 10-19: "12345" then spaces; first character in the high byte of each word.
    expect(new TextDecoder().decode(id.subarray(20, 40))).toBe("2143 5" + " ".repeat(14));
    expect(new TextDecoder().decode(id.subarray(46, 54))).toBe("2V 5    ");
    expect(new TextDecoder().decode(id.subarray(54, 94))).toBe("BA C" + " ".repeat(36));
  });
  test("long strings are truncated, non-ASCII replaced", () => {
    const id = buildIdentify({ sectors: 1, model: "M".repeat(50), serial: "é".repeat(3), firmware: "123456789" });
    const p = parseIdentify(id);
    expect(p.model).toBe("M".repeat(40));
    expect(p.serial).toBe("???");
    expect(p.firmware).toBe("12345678");
    expect(word(id, 47)).toBe(0x8000); // nothing spilled past word 46
  });
  test("bad capacities are a RangeError", () => {
    for (const sectors of [-1, 1.5, 2 ** 48, Number.NaN]) {
      expect(() => buildIdentify({ sectors, model: "", serial: "", firmware: "" })).toThrow(RangeError);
    }
  });
});

describe("parseIdentify", () => {
  const cases = [
    { sectors: 0, lba48: true },
    { sectors: 1, lba48: true },
    { sectors: 0x0fffffff, lba48: false },
    { sectors: 0x10000000, lba48: true },
    { sectors: 2 ** 48 - 1, lba48: true },
    { sectors: 1000, lba48: false },
  ];
  for (const c of cases) {
    test(`round trip ${c.sectors} sectors, lba48 ${c.lba48}`, () => {
      const p = parseIdentify(buildIdentify({ ...c, model: " Model X ", serial: "S", firmware: "F" }));
      // An LBA48 device of 0 sectors falls back to words 60-61, which also say 0.
      expect(p).toEqual({
        sectors: c.sectors,
        lba48: c.lba48,
        model: "Model X",
        serial: "S",
        firmware: "F",
        flush: true,
        flushExt: c.lba48,
        writeCache: true,
      });
    });
  }
  test("vblade 25's IDENTIFY: words 83 = 0x5400, 86 = 0x1400, no flush ext", () => {
    const id = new Uint8Array(512);
    const set = (w: number, v: number) => {
      id[2 * w] = v & 0xff;
      id[2 * w + 1] = v >> 8;
    };
    set(83, 0x5400);
    set(86, 0x1400);
    set(60, 0x5678);
    set(61, 0x0234);
    set(100, 0x5678);
    set(101, 0x1234);
    // "Coraid EtherDrive vblade" swapped per word, as vblade's setfld writes it.
    const model = "Coraid EtherDrive vblade".padEnd(40, " ");
    for (let i = 0; i < 40; i++) id[54 + (i ^ 1)] = model.charCodeAt(i);
    const p = parseIdentify(id);
    expect(p).toMatchObject({ sectors: 0x12345678, lba48: true, flush: true, flushExt: false, writeCache: false });
    expect(p.model).toBe("Coraid EtherDrive vblade");
  });
  test("an invalid word 83 announces no flush; LBA48 still counts from word 86, as Linux aoe reads it", () => {
    const id = buildIdentify({ sectors: 0x20000000, model: "", serial: "", firmware: "" });
    id[2 * 83 + 1] = 0xf4; // bit 15 set: word not valid
    expect(parseIdentify(id)).toMatchObject({ lba48: true, flush: false, flushExt: false, sectors: 0x20000000 });
    id[2 * 86 + 1] = 0; // no LBA48 bit left anywhere
    id[2 * 83 + 1] = 0;
    expect(parseIdentify(id)).toMatchObject({ lba48: false, sectors: 0x0fffffff });
  });
  test("LBA48 announced with zero in words 100-103 falls back to 60-61", () => {
    const id = buildIdentify({ sectors: 5000, model: "", serial: "", firmware: "" });
    id.fill(0, 200, 208);
    expect(parseIdentify(id)).toMatchObject({ lba48: true, sectors: 5000 });
  });
  test("short sectors are a DecodeError", () => {
    const id = buildIdentify({ sectors: 1, model: "", serial: "", firmware: "" });
    for (const n of [0, 1, 200, 511]) {
      const err = thrown(() => parseIdentify(id.subarray(0, n)));
      expect(err).toBeInstanceOf(DecodeError);
      expect((err as DecodeError).kind).toBe("short");
    }
  });
  test("a 64-bit capacity beyond 2^53 is invalid", () => {
    const id = buildIdentify({ sectors: 1, model: "", serial: "", firmware: "" });
    id[2 * 103 + 1] = 0xff;
    expect((thrown(() => parseIdentify(id)) as DecodeError).kind).toBe("invalid");
  });
});
