import { describe, expect, test } from "bun:test";
import { DecodeError, ReserveCmd, decodeReserve, encodeReserve, newFrame, parseMac, type ReserveArg } from "../../src/aoe/index.ts";
import { hex, pad60, reserveConflict, reserveSet, thrown } from "./golden.ts";

const I = parseMac("52:54:00:12:34:56");
const A = parseMac("52:54:00:aa:bb:cc");

describe("decodeReserve golden frames", () => {
  const cases: { name: string; frame: Uint8Array; want: ReserveArg }[] = [
    { name: "set with two MACs", frame: reserveSet, want: { rcmd: ReserveCmd.Set, macs: [I, A] } },
    { name: "error 6 reply with the current list", frame: reserveConflict, want: { rcmd: ReserveCmd.Read, macs: [I] } },
    { name: "same, padded", frame: pad60(reserveConflict), want: { rcmd: ReserveCmd.Read, macs: [I] } },
    {
      name: "release: set with an empty list",
      frame: hex("02 00 00 00 00 01 52 54 00 12 34 56 88 a2 10 00 00 07 03 03 80 00 00 03 | 01 00"),
      want: { rcmd: ReserveCmd.Set, macs: [] },
    },
  ];
  for (const c of cases) {
    test(c.name, () => {
      const r = decodeReserve(c.frame);
      expect(r).toEqual(c.want);
      const end = 26 + 6 * r.macs.length;
      const out: Uint8Array = new Uint8Array(end);
      out.set(c.frame.subarray(0, 24));
      expect(encodeReserve(r, out)).toBe(end);
      expect(out).toEqual(c.frame.subarray(0, end));
    });
  }
  test("MACs are copies", () => {
    const f = reserveSet.slice();
    const r = decodeReserve(f);
    f.fill(0, 26);
    expect(r.macs).toEqual([I, A]);
  });
});

describe("encodeReserve", () => {
  test("golden bytes of a force set", () => {
    const out = newFrame(0);
    const end = encodeReserve({ rcmd: ReserveCmd.ForceSet, macs: [A] }, out);
    expect(out.subarray(24, end)).toEqual(hex("02 01 | 52 54 00 aa bb cc"));
  });
  test("round trip of 255 MACs; 256 is a RangeError", () => {
    const macs = Array.from({ length: 255 }, (_, i) => Uint8Array.of(2, 0, 0, 0, 0, i));
    const out = newFrame(26 + 6 * 255);
    encodeReserve({ rcmd: ReserveCmd.Set, macs }, out);
    expect(decodeReserve(out)).toEqual({ rcmd: ReserveCmd.Set, macs });
    expect(() => encodeReserve({ rcmd: 1, macs: [...macs, A] }, newFrame(4000))).toThrow(RangeError);
    expect(() => encodeReserve({ rcmd: 1, macs }, newFrame(0))).toThrow(RangeError);
  });
});

describe("decodeReserve errors", () => {
  test("every truncation is short", () => {
    for (let n = 0; n < reserveSet.length; n++) {
      const err = thrown(() => decodeReserve(reserveSet.subarray(0, n)));
      expect(err).toBeInstanceOf(DecodeError);
      expect((err as DecodeError).kind).toBe("short");
      expect((err as DecodeError).field).toBe(n < 26 ? "reserve" : "reserve macs");
    }
  });
  test("a count of 255 in a padded frame is short", () => {
    const f = pad60(reserveSet);
    f[25] = 0xff;
    expect((thrown(() => decodeReserve(f)) as DecodeError).kind).toBe("short");
  });
});
