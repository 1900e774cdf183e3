import { describe, expect, test } from "bun:test";
import {
  AOE_VERSION,
  AoEError,
  Command,
  DecodeError,
  Flag,
  HEADER_LEN,
  decodeHeader,
  encodeHeader,
  replyHeader,
  type Header,
} from "../../src/aoe/index.ts";
import { INITIATOR_MAC, TARGET_MAC, hex, idnfReply, linuxQueryConfig, pad60, reserveConflict } from "./golden.ts";

describe("decodeHeader golden frames", () => {
  const cases: { name: string; frame: Uint8Array; want: Omit<Header, "dst" | "src">; dst: string; src: string }[] = [
    {
      name: "Linux broadcast Query Config",
      frame: linuxQueryConfig,
      dst: "ffffffffffff",
      src: "525400123456",
      want: { version: 1, flags: 0, error: 0, major: 0xffff, minor: 0xff, command: Command.QueryConfig, tag: 0 },
    },
    {
      name: "same, padded to 60",
      frame: pad60(linuxQueryConfig),
      dst: "ffffffffffff",
      src: "525400123456",
      want: { version: 1, flags: 0, error: 0, major: 0xffff, minor: 0xff, command: Command.QueryConfig, tag: 0 },
    },
    {
      name: "ATA reply",
      frame: idnfReply,
      dst: "525400123456",
      src: "020000000001",
      want: { version: 1, flags: Flag.Response, error: 0, major: 7, minor: 3, command: Command.ATA, tag: 0x00061235 },
    },
    {
      name: "error reply, tag with bit 31",
      frame: reserveConflict,
      dst: "525400aabbcc",
      src: "020000000001",
      want: {
        version: 1,
        flags: Flag.Response | Flag.Error,
        error: AoEError.TargetReserved,
        major: 7,
        minor: 3,
        command: Command.Reserve,
        tag: 0xffffffff,
      },
    },
  ];
  for (const c of cases) {
    test(c.name, () => {
      const h = decodeHeader(c.frame);
      expect(Buffer.from(h.dst).toString("hex")).toBe(c.dst);
      expect(Buffer.from(h.src).toString("hex")).toBe(c.src);
      const { dst: _d, src: _s, ...rest } = h;
      expect(rest).toEqual(c.want);
      // Re-encoding gives back the same 24 bytes.
      const out: Uint8Array = new Uint8Array(HEADER_LEN);
      expect(encodeHeader(h, out)).toBe(HEADER_LEN);
      expect(out).toEqual(c.frame.subarray(0, HEADER_LEN));
    });
  }
});

describe("decodeHeader accepts what the target must answer, not drop", () => {
  const cases = [
    { name: "unknown version 2", byte: 14, value: 0x20, field: "version", want: 2 },
    { name: "version 0 (vblade's announcement)", byte: 14, value: 0x08, field: "version", want: 0 },
    { name: "unknown command 9", byte: 19, value: 9, field: "command", want: 9 },
    { name: "vendor command 0xF0", byte: 19, value: 0xf0, field: "command", want: 0xf0 },
  ] as const;
  for (const c of cases) {
    test(c.name, () => {
      const f = linuxQueryConfig.slice();
      f[c.byte] = c.value;
      expect(decodeHeader(f)[c.field]).toBe(c.want);
    });
  }
});

describe("decodeHeader errors", () => {
  test("every truncation below 24 bytes is short", () => {
    for (let n = 0; n < HEADER_LEN; n++) {
      let err: unknown;
      try {
        decodeHeader(linuxQueryConfig.subarray(0, n));
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(DecodeError);
      expect((err as DecodeError).kind).toBe("short");
      expect((err as DecodeError).field).toBe("header");
    }
    expect(() => decodeHeader(linuxQueryConfig.subarray(0, HEADER_LEN))).not.toThrow();
  });
  test("wrong ethertype is invalid", () => {
    for (const type of ["0800", "86dd", "88a3", "a288", "0000"]) {
      const f = linuxQueryConfig.slice();
      f.set(hex(type), 12);
      let err: unknown;
      try {
        decodeHeader(f);
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(DecodeError);
      expect((err as DecodeError).kind).toBe("invalid");
      expect((err as DecodeError).field).toBe("ethertype");
    }
  });
});

describe("encodeHeader", () => {
  test("round trip of extreme values", () => {
    const cases: Header[] = [
      { dst: TARGET_MAC, src: INITIATOR_MAC, version: 1, flags: 0, error: 0, major: 0, minor: 0, command: 0, tag: 0 },
      {
        dst: INITIATOR_MAC,
        src: TARGET_MAC,
        version: 15,
        flags: 0x0f,
        error: 255,
        major: 0xffff,
        minor: 0xff,
        command: 0xff,
        tag: 0xffffffff,
      },
      { dst: TARGET_MAC, src: INITIATOR_MAC, version: 1, flags: 8, error: 0, major: 0x1234, minor: 0x56, command: 3, tag: 0x80000000 },
    ];
    for (const h of cases) {
      const out: Uint8Array = new Uint8Array(64);
      encodeHeader(h, out);
      const back = decodeHeader(out);
      expect({ ...back, dst: [...back.dst], src: [...back.src] }).toEqual({ ...h, dst: [...h.dst], src: [...h.src] });
    }
  });
  test("golden bytes of a reply header", () => {
    const req = decodeHeader(linuxQueryConfig);
    const out: Uint8Array = new Uint8Array(HEADER_LEN);
    encodeHeader(replyHeader(req, TARGET_MAC, 7, 3), out);
    expect(out).toEqual(hex("52 54 00 12 34 56 | 02 00 00 00 00 01 | 88 a2 | 18 | 00 | 00 07 | 03 | 01 | 00 00 00 00"));
    encodeHeader(replyHeader(req, TARGET_MAC, 7, 3, AoEError.UnsupportedVersion), out);
    expect(out.subarray(14, 16)).toEqual(hex("1c 05"));
  });
  test("replyHeader echoes tag and command", () => {
    const req = decodeHeader(reserveConflict);
    const r = replyHeader(req, TARGET_MAC, 1, 2);
    expect(r.tag).toBe(0xffffffff);
    expect(r.command).toBe(Command.Reserve);
    expect(r.version).toBe(AOE_VERSION);
    expect(r.flags).toBe(Flag.Response);
  });
  test("too small a buffer is a RangeError, not a silent partial write", () => {
    expect(() => encodeHeader(decodeHeader(linuxQueryConfig), new Uint8Array(23))).toThrow(RangeError);
  });
});
