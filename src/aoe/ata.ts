/**
 * The argument of command 0, Issue ATA Command: AoE r11 section 3.1.
 *
 *  0                   1                   2                   3
 *  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * |  Aflags       |  Err/Feature  |  Sector Count |  Cmd/Status   |  24
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * |  lba0         |  lba1         |  lba2         |  lba3         |  28
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * |  lba4         |  lba5         |           Reserved            |  32
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * |                     Data (sector count x 512)                 |  36
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *
 * Aflags: 0x40 E (LBA48), 0x10 D (device/head DEV bit), 0x02 A (async
 * write), 0x01 W (write). lba0 is the least significant byte.
 */
import { HEADER_LEN } from "./header.ts";
import { shortError } from "./errors.ts";

/** aflags, err/feature, sector count, cmd/status, lba0..lba5, 2 reserved. */
export const ATA_ARG_LEN = 1 + 1 + 1 + 1 + 6 + 2;

/** Where the sector data starts in the frame. */
export const ATA_DATA_OFFSET = HEADER_LEN + ATA_ARG_LEN;

/** Largest LBA the six lba bytes can hold. */
export const MAX_LBA48 = 2 ** 48 - 1;

export interface AtaArg {
  /** AtaFlag bits. */
  aflags: number;
  /** Error register in replies, feature register in requests. */
  errFeature: number;
  /** Sectors to transfer; in replies, what the device register says is left. */
  sectorCount: number;
  /** Command register in requests (AtaCmd), status register in replies (AtaStatus). */
  cmdStatus: number;
  /**
   * All 48 bits, lba0 least significant. LBA28 requests may carry 0xE0 in the
   * top nibble of lba3 (Linux does): it is kept here; the target masks it.
   */
  lba: number;
  /**
   * From decodeAta: a view of the frame from offset 36 to its end, possibly
   * empty. It includes any Ethernet padding, so its length is not the payload
   * length: the sector count says how much of it is data.
   */
  data: Uint8Array;
}

/** An AtaArg to encode; data may be left out for requests and replies without any. */
export type AtaArgInit = Omit<AtaArg, "data"> & { data?: Uint8Array };

/** Decodes the ATA argument of a whole frame. A complete argument with no data is valid. */
export function decodeAta(frame: Uint8Array): AtaArg {
  if (frame.length < ATA_DATA_OFFSET) throw shortError("ata", ATA_DATA_OFFSET, frame.length);
  const b = HEADER_LEN;
  // Six bytes exceed 32-bit integer arithmetic: the top two go in by multiplication.
  const low = (frame[b + 4]! | (frame[b + 5]! << 8) | (frame[b + 6]! << 16) | (frame[b + 7]! << 24)) >>> 0;
  const high = frame[b + 8]! | (frame[b + 9]! << 8);
  return {
    aflags: frame[b]!,
    errFeature: frame[b + 1]!,
    sectorCount: frame[b + 2]!,
    cmdStatus: frame[b + 3]!,
    lba: high * 2 ** 32 + low,
    data: frame.subarray(ATA_DATA_OFFSET),
  };
}

/**
 * Writes the 12-byte argument at 24 and copies arg.data (if any) to 36; returns
 * the frame's end offset, 36 + data length. Data already in place (a view of
 * out at 36, as when storage reads straight into the reply) is not copied.
 */
export function encodeAta(arg: AtaArgInit, out: Uint8Array): number {
  const data = arg.data;
  const end = ATA_DATA_OFFSET + (data === undefined ? 0 : data.length);
  if (out.length < end) throw new RangeError(`aoe: ATA frame needs ${end} bytes, buffer has ${out.length}`);
  if (!(arg.lba >= 0 && arg.lba <= MAX_LBA48)) throw new RangeError(`aoe: LBA ${arg.lba} does not fit in 48 bits`);
  const b = HEADER_LEN;
  out[b] = arg.aflags;
  out[b + 1] = arg.errFeature;
  out[b + 2] = arg.sectorCount;
  out[b + 3] = arg.cmdStatus;
  const low = arg.lba % 2 ** 32;
  const high = Math.floor(arg.lba / 2 ** 32);
  out[b + 4] = low;
  out[b + 5] = low >>> 8;
  out[b + 6] = low >>> 16;
  out[b + 7] = low >>> 24;
  out[b + 8] = high;
  out[b + 9] = high >>> 8;
  out[b + 10] = 0;
  out[b + 11] = 0;
  if (data !== undefined && data.length > 0) {
    const inPlace = data.buffer === out.buffer && data.byteOffset === out.byteOffset + ATA_DATA_OFFSET;
    if (!inPlace) out.set(data, ATA_DATA_OFFSET);
  }
  return end;
}
