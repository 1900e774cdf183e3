import { describe, expect, test } from "bun:test";
import {
  DecodeError,
  DirectiveCmd,
  MacMaskCmd,
  MacMaskError,
  decodeMacMask,
  encodeMacMask,
  newFrame,
  parseMac,
  type MacMaskArg,
} from "../../src/aoe/index.ts";
import { hex, macMaskBadDirective, macMaskEdit, pad60, thrown } from "./golden.ts";

const A = parseMac("52:54:00:aa:bb:cc");
const B = parseMac("52:54:00:dd:ee:ff");

describe("decodeMacMask golden frames", () => {
  const cases: { name: string; frame: Uint8Array; want: MacMaskArg }[] = [
    {
      name: "edit: add one, delete another",
      frame: macMaskEdit,
      want: {
        mcmd: MacMaskCmd.Edit,
        merror: 0,
        count: 2,
        directives: [
          { dcmd: DirectiveCmd.Add, mac: A },
          { dcmd: DirectiveCmd.Delete, mac: B },
        ],
      },
    },
    {
      name: "error reply: count is the failing index",
      frame: macMaskBadDirective,
      want: { mcmd: MacMaskCmd.Edit, merror: MacMaskError.BadDirective, count: 1, directives: [{ dcmd: DirectiveCmd.Add, mac: A }] },
    },
    {
      name: "read request, padded",
      frame: pad60(hex("02 00 00 00 00 01 52 54 00 12 34 56 88 a2 10 00 00 07 03 02 80 00 00 09 | 00 00 00 00")),
      want: { mcmd: MacMaskCmd.Read, merror: 0, count: 0, directives: [] },
    },
  ];
  for (const c of cases) {
    test(c.name, () => {
      expect(decodeMacMask(c.frame)).toEqual(c.want);
    });
  }
});

describe("encodeMacMask", () => {
  test("golden bytes of the edit request", () => {
    const out = newFrame(0);
    out.set(macMaskEdit.subarray(0, 24));
    const end = encodeMacMask(
      { mcmd: MacMaskCmd.Edit, merror: 0, directives: [{ dcmd: DirectiveCmd.Add, mac: A }, { dcmd: DirectiveCmd.Delete, mac: B }] },
      out,
    );
    expect(end).toBe(macMaskEdit.length);
    expect(out.subarray(0, end)).toEqual(macMaskEdit);
  });
  test("an explicit count overrides the directive count (error reply)", () => {
    const out = newFrame(0);
    out.set(macMaskBadDirective.subarray(0, 24));
    const end = encodeMacMask(
      {
        mcmd: MacMaskCmd.Edit,
        merror: MacMaskError.BadDirective,
        count: 1,
        directives: [{ dcmd: DirectiveCmd.Add, mac: A }, { dcmd: 7, mac: B }],
      },
      out,
    );
    expect(out.subarray(0, end)).toEqual(macMaskBadDirective);
  });
  test("round trip of a full list", () => {
    const directives = Array.from({ length: 255 }, (_, i) => ({ dcmd: DirectiveCmd.Add, mac: Uint8Array.of(2, 0, 0, 0, i >> 8, i & 0xff) }));
    const out = newFrame(28 + 8 * 255);
    expect(encodeMacMask({ mcmd: MacMaskCmd.Read, merror: 0, directives }, out)).toBe(28 + 8 * 255);
    expect(decodeMacMask(out)).toEqual({ mcmd: MacMaskCmd.Read, merror: 0, count: 255, directives });
  });
  test("too many directives or too small a buffer is a RangeError", () => {
    const d = { dcmd: 1, mac: A };
    expect(() => encodeMacMask({ mcmd: 0, merror: 0, directives: new Array(256).fill(d) }, newFrame(4000))).toThrow(RangeError);
    expect(() => encodeMacMask({ mcmd: 0, merror: 0, directives: [d, d, d, d, d] }, newFrame(0))).toThrow(RangeError);
  });
});

describe("decodeMacMask errors", () => {
  test("every truncation is short", () => {
    for (let n = 0; n < macMaskEdit.length; n++) {
      const err = thrown(() => decodeMacMask(macMaskEdit.subarray(0, n)));
      expect(err).toBeInstanceOf(DecodeError);
      expect((err as DecodeError).kind).toBe("short");
      expect((err as DecodeError).field).toBe(n < 28 ? "macmask" : "macmask directives");
    }
  });
  test("a count of 255 in a padded frame is short", () => {
    const f = pad60(macMaskEdit);
    f[27] = 0xff;
    expect((thrown(() => decodeMacMask(f)) as DecodeError).kind).toBe("short");
  });
});
