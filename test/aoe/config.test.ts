import { describe, expect, test } from "bun:test";
import {
  CONFIG_ARG_LEN,
  ConfigCmd,
  DecodeError,
  MAX_CONFIG_LEN,
  decodeConfig,
  encodeConfig,
  newFrame,
  type QueryConfig,
} from "../../src/aoe/index.ts";
import { configReply, hex, linuxQueryConfig, pad60, thrown } from "./golden.ts";

const text = (s: string) => new TextEncoder().encode(s);

describe("decodeConfig golden frames", () => {
  const cases: { name: string; frame: Uint8Array; want: QueryConfig }[] = [
    {
      name: "Linux Query Config read (32 bytes)",
      frame: linuxQueryConfig,
      want: { bufferCount: 0, firmware: 0, sectorCount: 0, aoeVersion: 0, ccmd: ConfigCmd.Read, config: new Uint8Array(0) },
    },
    {
      name: "same, padded: trailing bytes past the string are padding",
      frame: pad60(linuxQueryConfig),
      want: { bufferCount: 0, firmware: 0, sectorCount: 0, aoeVersion: 0, ccmd: ConfigCmd.Read, config: new Uint8Array(0) },
    },
    {
      name: "target reply with config string",
      frame: configReply,
      want: { bufferCount: 16, firmware: 0x4019, sectorCount: 2, aoeVersion: 1, ccmd: ConfigCmd.Read, config: text("hello") },
    },
    {
      name: "target reply, padded",
      frame: pad60(configReply),
      want: { bufferCount: 16, firmware: 0x4019, sectorCount: 2, aoeVersion: 1, ccmd: ConfigCmd.Read, config: text("hello") },
    },
  ];
  for (const c of cases) {
    test(c.name, () => {
      const q = decodeConfig(c.frame);
      expect(q).toEqual(c.want);
      const end = 24 + CONFIG_ARG_LEN + q.config.length;
      const out: Uint8Array = new Uint8Array(end);
      out.set(c.frame.subarray(0, 24));
      expect(encodeConfig(q, out)).toBe(end);
      expect(out).toEqual(c.frame.subarray(0, end));
    });
  }
  test("the config string is a copy", () => {
    const f = configReply.slice();
    const q = decodeConfig(f);
    f[32] = 0;
    expect(q.config).toEqual(text("hello"));
  });
});

describe("encodeConfig", () => {
  const cases: { name: string; arg: QueryConfig; bytes: string }[] = [
    {
      name: "test prefix request",
      arg: { bufferCount: 0, firmware: 0, sectorCount: 0, aoeVersion: 1, ccmd: ConfigCmd.TestPrefix, config: text("ab") },
      bytes: "00 00 | 00 00 | 00 | 12 | 00 02 | 61 62",
    },
    {
      name: "force set, nibbles masked",
      arg: { bufferCount: 0x102, firmware: 0xffff, sectorCount: 17, aoeVersion: 0x11, ccmd: 0x14, config: text("x") },
      bytes: "01 02 | ff ff | 11 | 14 | 00 01 | 78",
    },
  ];
  for (const c of cases) {
    test(c.name, () => {
      const out = newFrame(0);
      const end = encodeConfig(c.arg, out);
      expect(out.subarray(24, end)).toEqual(hex(c.bytes));
    });
  }
  test("a 1024-byte string round trips, 1025 is a RangeError", () => {
    const config = new Uint8Array(MAX_CONFIG_LEN).fill(0x41);
    const out = newFrame(32 + MAX_CONFIG_LEN);
    const arg = { bufferCount: 1, firmware: 2, sectorCount: 3, aoeVersion: 1, ccmd: ConfigCmd.ForceSet, config };
    expect(encodeConfig(arg, out)).toBe(32 + MAX_CONFIG_LEN);
    expect(decodeConfig(out)).toEqual(arg);
    expect(() => encodeConfig({ ...arg, config: new Uint8Array(1025) }, newFrame(2000))).toThrow(RangeError);
    expect(() => encodeConfig(arg, newFrame(100))).toThrow(RangeError);
  });
});

describe("decodeConfig errors", () => {
  test("every truncation is short", () => {
    for (let n = 0; n < configReply.length; n++) {
      const err = thrown(() => decodeConfig(configReply.subarray(0, n)));
      expect(err).toBeInstanceOf(DecodeError);
      expect((err as DecodeError).kind).toBe("short");
      expect((err as DecodeError).field).toBe(n < 32 ? "config" : "config string");
    }
  });
  test("a length over 1024 is invalid, even when the frame holds it", () => {
    for (const length of [1025, 0x7fff, 0xffff]) {
      const f = new Uint8Array(32 + length);
      f.set(configReply.subarray(0, 32));
      f[30] = length >> 8;
      f[31] = length & 0xff;
      const err = thrown(() => decodeConfig(f));
      expect(err).toBeInstanceOf(DecodeError);
      expect((err as DecodeError).kind).toBe("invalid");
    }
  });
  test("a length that overruns the frame is short", () => {
    const f = pad60(configReply);
    f[31] = 29; // 32 + 29 = 61 > 60
    expect((thrown(() => decodeConfig(f)) as DecodeError).kind).toBe("short");
    f[31] = 28;
    expect(decodeConfig(f).config.length).toBe(28);
  });
});
