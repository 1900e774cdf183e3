import { describe, expect, test } from "bun:test";
import { MIN_FRAME_LEN, maxSectorsForMtu, newFrame } from "../../src/aoe/index.ts";

describe("newFrame", () => {
  for (const [len, want] of [[0, 60], [32, 60], [60, 60], [61, 61], [1060, 1060], [9014, 9014]] as const) {
    test(`newFrame(${len}) has ${want} zeroed bytes of its own ArrayBuffer`, () => {
      const f = newFrame(len);
      expect(f.length).toBe(want);
      expect(f.byteOffset).toBe(0);
      expect(f.buffer.byteLength).toBe(want);
      expect(f.every((b) => b === 0)).toBe(true);
    });
  }
  test("MIN_FRAME_LEN", () => expect(MIN_FRAME_LEN).toBe(60));
});

describe("maxSectorsForMtu", () => {
  const cases: [number, number][] = [
    [0, 0],
    [36, 0],
    [547, 0],
    [548, 1],
    [1500, 2],
    [1060, 2],
    [4132, 8],
    [9000, 17],
    [65535, 127],
  ];
  for (const [mtu, want] of cases) test(`MTU ${mtu}: ${want}`, () => expect(maxSectorsForMtu(mtu)).toBe(want));
});
