import { describe, expect, test } from "bun:test";
import {
  ATA_ARG_LEN,
  ATA_DATA_OFFSET,
  AtaCmd,
  AtaErrorBit,
  AtaFlag,
  AtaStatus,
  DecodeError,
  decodeAta,
  encodeAta,
  newFrame,
  type AtaArg,
} from "../../src/aoe/index.ts";
import { SECTOR, hex, idnfReply, linuxReadExt, linuxReadLba28, linuxWriteExt, pad60, thrown } from "./golden.ts";

type Want = Omit<AtaArg, "data"> & { dataLength: number };

describe("decodeAta golden frames", () => {
  const cases: { name: string; frame: Uint8Array; want: Want }[] = [
    {
      name: "Linux READ SECTORS, LBA28 with 0xE0 in lba3, unpadded 36 bytes",
      frame: linuxReadLba28,
      want: { aflags: 0, errFeature: 0, sectorCount: 2, cmdStatus: AtaCmd.Read, lba: 0xe0123456, dataLength: 0 },
    },
    {
      name: "same, padded to 60: the padding shows up as data",
      frame: pad60(linuxReadLba28),
      want: { aflags: 0, errFeature: 0, sectorCount: 2, cmdStatus: AtaCmd.Read, lba: 0xe0123456, dataLength: 24 },
    },
    {
      name: "Linux READ EXT, 48-bit LBA",
      frame: linuxReadExt,
      want: { aflags: AtaFlag.Ext, errFeature: 0, sectorCount: 8, cmdStatus: AtaCmd.ReadExt, lba: 0x123456789abc, dataLength: 0 },
    },
    {
      name: "WRITE EXT with one sector",
      frame: linuxWriteExt,
      want: {
        aflags: AtaFlag.Ext | AtaFlag.Write,
        errFeature: 0,
        sectorCount: 1,
        cmdStatus: AtaCmd.WriteExt,
        lba: 1,
        dataLength: 512,
      },
    },
    {
      name: "IDNF reply",
      frame: idnfReply,
      want: {
        aflags: AtaFlag.Ext,
        errFeature: AtaErrorBit.Idnf,
        sectorCount: 8,
        cmdStatus: AtaStatus.Drdy | AtaStatus.Err,
        lba: 0x123456789abc,
        dataLength: 0,
      },
    },
  ];
  for (const c of cases) {
    test(c.name, () => {
      const a = decodeAta(c.frame);
      const { data, ...rest } = a;
      expect({ ...rest, dataLength: data.length }).toEqual(c.want);
      // Re-encoding gives back the same bytes.
      const out: Uint8Array = new Uint8Array(c.frame.length);
      out.set(c.frame.subarray(0, 24));
      expect(encodeAta(a, out)).toBe(c.frame.length);
      expect(out).toEqual(c.frame);
    });
  }
  test("LBA28 masking recovers the address", () => {
    expect(decodeAta(linuxReadLba28).lba & 0x0fffffff).toBe(0x123456);
  });
  test("data is a view of the frame, not a copy", () => {
    const f = linuxWriteExt.slice();
    const a = decodeAta(f);
    expect(a.data).toEqual(SECTOR);
    f[ATA_DATA_OFFSET] = 0xaa;
    expect(a.data[0]).toBe(0xaa);
  });
});

describe("encodeAta", () => {
  const lbas = [0, 1, 0xff, 0x100, 0x0fffffff, 0x10000000, 0xffffffff, 0x100000000, 0x123456789abc, 2 ** 48 - 1];
  for (const lba of lbas) {
    test(`round trip lba 0x${lba.toString(16)}`, () => {
      const out = newFrame(60);
      const arg = { aflags: AtaFlag.Ext, errFeature: 0, sectorCount: 2, cmdStatus: AtaCmd.ReadExt, lba };
      expect(encodeAta(arg, out)).toBe(ATA_DATA_OFFSET);
      expect(decodeAta(out).lba).toBe(lba);
    });
  }
  test("golden bytes: LBA48 write request", () => {
    const out = newFrame(ATA_DATA_OFFSET + 512);
    const end = encodeAta(
      { aflags: AtaFlag.Ext | AtaFlag.Write, errFeature: 0, sectorCount: 1, cmdStatus: AtaCmd.WriteExt, lba: 0x0000_0102_0304, data: SECTOR },
      out,
    );
    expect(end).toBe(ATA_DATA_OFFSET + 512);
    expect(out.subarray(24, 36)).toEqual(hex("41 00 01 34 | 04 03 02 01 00 00 | 00 00"));
    expect(out.subarray(36)).toEqual(SECTOR);
  });
  test("reserved bytes are written as zero", () => {
    const out: Uint8Array = new Uint8Array(60).fill(0xee);
    encodeAta({ aflags: 0, errFeature: 0, sectorCount: 0, cmdStatus: AtaCmd.Identify, lba: 0 }, out);
    expect(out.subarray(34, 36)).toEqual(hex("00 00"));
  });
  test("data already in place is left alone", () => {
    const out = newFrame(ATA_DATA_OFFSET + 512);
    out.set(SECTOR, ATA_DATA_OFFSET);
    const end = encodeAta(
      { aflags: 0, errFeature: 0, sectorCount: 0, cmdStatus: AtaStatus.Drdy, lba: 5, data: out.subarray(ATA_DATA_OFFSET) },
      out,
    );
    expect(end).toBe(ATA_DATA_OFFSET + 512);
    expect(out.subarray(ATA_DATA_OFFSET)).toEqual(SECTOR);
  });
  test("out of range input is a RangeError", () => {
    const arg = { aflags: 0, errFeature: 0, sectorCount: 0, cmdStatus: 0, lba: 0 };
    expect(() => encodeAta(arg, new Uint8Array(35))).toThrow(RangeError);
    expect(() => encodeAta({ ...arg, data: SECTOR }, new Uint8Array(60))).toThrow(RangeError);
    expect(() => encodeAta({ ...arg, lba: 2 ** 48 }, new Uint8Array(60))).toThrow(RangeError);
    expect(() => encodeAta({ ...arg, lba: -1 }, new Uint8Array(60))).toThrow(RangeError);
  });
});

describe("decodeAta errors", () => {
  test("every truncation below 36 bytes is short", () => {
    for (let n = 0; n < 24 + ATA_ARG_LEN; n++) {
      const err = thrown(() => decodeAta(linuxReadExt.subarray(0, n)));
      expect(err).toBeInstanceOf(DecodeError);
      expect((err as DecodeError).kind).toBe("short");
    }
  });
  test("a complete argument with no data is valid", () => {
    expect(decodeAta(linuxWriteExt.subarray(0, ATA_DATA_OFFSET)).data.length).toBe(0);
  });
});
