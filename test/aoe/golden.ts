/**
 * Golden frames, written out byte by byte from AoE r11 and from what the Linux
 * aoe driver (v85) and vblade put on the wire. Shared by the per-type tests and
 * the fuzz test, which mutates them.
 */

/** Bytes from a hex string; spaces, newlines and "|" separators are ignored. */
export function hex(s: string): Uint8Array<ArrayBuffer> {
  const digits = s.replace(/[\s|]/g, "");
  if (digits.length % 2 !== 0 || /[^0-9a-f]/i.test(digits)) throw new Error(`bad hex: ${s}`);
  const out = new Uint8Array(digits.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(digits.slice(2 * i, 2 * i + 2), 16);
  return out;
}

export function concat(...parts: Uint8Array[]): Uint8Array<ArrayBuffer> {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/** Zero pads to the 60-byte Ethernet minimum, as a NIC does. */
export function pad60(frame: Uint8Array): Uint8Array {
  return frame.length >= 60 ? frame : concat(frame, new Uint8Array(60 - frame.length));
}

export const INITIATOR_MAC = hex("52 54 00 12 34 56");
export const TARGET_MAC = hex("02 00 00 00 00 01");

/** 512 bytes, byte i = i & 0xff: a recognisable sector. */
export const SECTOR = Uint8Array.from({ length: 512 }, (_, i) => i & 0xff);

/**
 * Query Config read, as Linux aoecmd_cfg_pkts broadcasts it: version 1, no
 * flags, major 0xFFFF, minor 0xFF, command 1, tag 0, an all-zero argument;
 * 24 + 8 = 32 bytes before the NIC pads it.
 */
export const linuxQueryConfig = hex(`
  ff ff ff ff ff ff | 52 54 00 12 34 56 | 88 a2
  10 | 00 | ff ff | ff | 01 | 00 00 00 00
  00 00 | 00 00 | 00 | 00 | 00 00
`);

/**
 * READ SECTORS (LBA28), 2 sectors at 0x123456, as Linux ata_rw_frameinit builds
 * it for a non-LBA48 device: aflags 0, cmd 0x20, lba3 = 0xE0 | top nibble
 * ("LBA bit + obsolete 0xa0"), tag with bit 31 clear. 36 bytes unpadded.
 */
export const linuxReadLba28 = hex(`
  02 00 00 00 00 01 | 52 54 00 12 34 56 | 88 a2
  10 | 00 | 00 07 | 03 | 00 | 00 05 12 34
  00 | 00 | 02 | 20 | 56 34 12 e0 | 00 00 | 00 00
`);

/** READ EXT (LBA48), 8 sectors at 0x123456789ABC: aflags E, cmd 0x24. */
export const linuxReadExt = hex(`
  02 00 00 00 00 01 | 52 54 00 12 34 56 | 88 a2
  10 | 00 | 00 07 | 03 | 00 | 00 06 12 35
  40 | 00 | 08 | 24 | bc 9a 78 56 34 12 | 00 00
`);

/** WRITE EXT of one sector at LBA 1: aflags E|W, cmd 0x34, then the sector. */
export const linuxWriteExt = concat(
  hex(`
  02 00 00 00 00 01 | 52 54 00 12 34 56 | 88 a2
  10 | 00 | 00 07 | 03 | 00 | 00 07 12 36
  41 | 00 | 01 | 34 | 01 00 00 00 00 00 | 00 00
`),
  SECTOR,
);

/** A target's reply to a read past the end: R flag, status DRDY|ERR, error IDNF. */
export const idnfReply = hex(`
  52 54 00 12 34 56 | 02 00 00 00 00 01 | 88 a2
  18 | 00 | 00 07 | 03 | 00 | 00 06 12 35
  40 | 10 | 08 | 41 | bc 9a 78 56 34 12 | 00 00
`);

/**
 * Query Config reply from shelf 7 slot 3: R flag, buffer count 16, firmware
 * 0x4019, 2 sectors a request, AoE version 1 / ccmd read, string "hello".
 */
export const configReply = hex(`
  52 54 00 12 34 56 | 02 00 00 00 00 01 | 88 a2
  18 | 00 | 00 07 | 03 | 01 | 00 00 00 00
  00 10 | 40 19 | 02 | 10 | 00 05
  68 65 6c 6c 6f
`);

/** A user-space tool's Mac Mask edit (tag bit 31 set): add one MAC, delete another. */
export const macMaskEdit = hex(`
  02 00 00 00 00 01 | 52 54 00 12 34 56 | 88 a2
  10 | 00 | 00 07 | 03 | 02 | 80 00 00 01
  00 | 01 | 00 | 02
  00 | 01 | 52 54 00 aa bb cc
  00 | 02 | 52 54 00 dd ee ff
`);

/** The reply when the second directive is bad: MError 2, count = failing index 1, directives echoed. */
export const macMaskBadDirective = hex(`
  52 54 00 12 34 56 | 02 00 00 00 00 01 | 88 a2
  18 | 00 | 00 07 | 03 | 02 | 80 00 00 01
  00 | 01 | 02 | 01
  00 | 01 | 52 54 00 aa bb cc
  00 | 07 | 52 54 00 dd ee ff
`);

/** Reserve set with two MACs. */
export const reserveSet = hex(`
  02 00 00 00 00 01 | 52 54 00 12 34 56 | 88 a2
  10 | 00 | 00 07 | 03 | 03 | 80 00 00 02
  01 | 02
  52 54 00 12 34 56
  52 54 00 aa bb cc
`);

/** A 6-reserve error reply with the current one-MAC list, tag 0xFFFFFFFF. */
export const reserveConflict = hex(`
  52 54 00 aa bb cc | 02 00 00 00 00 01 | 88 a2
  1c | 06 | 00 07 | 03 | 03 | ff ff ff ff
  00 | 01
  52 54 00 12 34 56
`);

/** What fn throws, or undefined. */
export function thrown(fn: () => unknown): unknown {
  try {
    fn();
  } catch (e) {
    return e;
  }
  return undefined;
}
