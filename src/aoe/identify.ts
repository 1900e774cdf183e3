/**
 * The 512-byte IDENTIFY DEVICE data (ATA command 0xEC) that the target returns
 * as the payload of an AoE ATA reply (AoE r11, section 3.1 carries it; the
 * layout is ATA's). 256 words, each little-endian. Word numbers and bits below
 * are those of ATA/ATAPI-6 and ATA8-ACS, cross-checked against vblade 25
 * (ata.c atainit/atacmd: 47 = 0x8000, 49 = 0x0200, 50 = 0x4000, 83 = 0x5400,
 * 84 = 0x4000, 86 = 0x1400, 87 = 0x4000), Linux include/linux/ata.h (the
 * ata_id_has_* helpers honour words 83/84 only when bits 15:14 are 01) and the
 * Linux aoe driver (aoecmd.c ataid_complete: LBA48 if bit 10 of word 83 or 86,
 * then the size from 100-103, else from 60-61 with CHS from 54-56).
 *
 *  word   what we put there
 *  0      0x0040: bit 15 clear = ATA device; bit 6 fixed (non-removable) device
 *  10-19  serial number, 20 ASCII characters
 *  23-26  firmware revision, 8 ASCII characters
 *  27-46  model number, 40 ASCII characters
 *  47     0x8000: bits 15:8 are 80h by the standard; bits 7:0 = 0, no READ/WRITE
 *         MULTIPLE (we answer those ABRT, so announcing a block size would lie)
 *  49     0x0200: bit 9 LBA supported (no DMA bit: AoE has no DMA engine to offer)
 *  50     0x4000: bit 14 shall be one
 *  60-61  min(sectors, 0x0FFFFFFF): the LBA28 capacity
 *  80     0x01C0: major versions ATA/ATAPI-6 (bit 6, where LBA48 appeared),
 *         ATA/ATAPI-7 (bit 7), ATA8-ACS (bit 8)
 *  82     bit 5: volatile write cache supported (only if writeCache)
 *  83     bit 14 set, bit 15 clear (the word is valid); bit 12 FLUSH CACHE;
 *         bit 13 FLUSH CACHE EXT and bit 10 LBA48 (only if lba48)
 *  84     0x4000: bit 14 set, bit 15 clear (valid), no features
 *  85     bit 5: volatile write cache enabled (mirrors 82)
 *  86     bits 12, 13, 10: the same features, enabled (mirrors 83)
 *  87     0x4000: bit 14 set, bit 15 clear (valid)
 *  100-103 the 48-bit capacity (only if lba48)
 *
 * Everything else is zero: no CHS geometry (words 1, 3, 6, 54-56: obsolete
 * since ATA-6, and Linux aoe reads 54-56 only for a device without LBA48, for
 * HDIO_GETGEO), no word 93 (a parallel-cable reset result, meaningless over
 * Ethernet, though vblade sets it), no integrity word 255 (optional: without
 * the A5h signature in its low byte nobody checks it). vblade 25 sets neither
 * 80 nor 82/85, and omits bit 13 of 83/86 because it has no FLUSH CACHE EXT.
 */
import { invalidError, shortError } from "./errors.ts";
import { SECTOR_SIZE } from "./constants.ts";

/** The largest LBA28 capacity: words 60-61 hold at most this. */
export const MAX_LBA28_SECTORS = 0x0fffffff;

/** The largest LBA48 capacity. */
export const MAX_LBA48_SECTORS = 2 ** 48 - 1;

export interface IdentifyInfo {
  /** Device size in 512-byte sectors. */
  sectors: number;
  model: string;
  serial: string;
  firmware: string;
  /** Announce LBA48 and FLUSH CACHE EXT. Default true. */
  lba48?: boolean;
  /**
   * Announce a volatile write cache (words 82/85 bit 5), telling the initiator
   * that written data needs a FLUSH to be durable. Default true: true of a
   * target writing through the page cache; pass false when every write is
   * synchronous (vblade -s).
   */
  writeCache?: boolean;
}

export interface IdentifyData {
  /** The 48-bit capacity when LBA48 is announced and nonzero, else the LBA28 one. */
  sectors: number;
  lba48: boolean;
  model: string;
  serial: string;
  firmware: string;
  /** FLUSH CACHE supported (word 83 bit 12). */
  flush: boolean;
  /** FLUSH CACHE EXT supported (word 83 bit 13). */
  flushExt: boolean;
  /** Volatile write cache enabled (word 85 bit 5). */
  writeCache: boolean;
}

/** Word 83/86 bits. */
const LBA48_BIT = 1 << 10;
const FLUSH_BIT = 1 << 12;
const FLUSH_EXT_BIT = 1 << 13;
/** Word 82/85 bit 5. */
const WRITE_CACHE_BIT = 1 << 5;
/** Words 83, 84, 87: bit 14 one and bit 15 zero say the word holds data. */
const VALID = 0x4000;
const VALID_MASK = 0xc000;

function setWord(id: Uint8Array, word: number, value: number): void {
  id[2 * word] = value;
  id[2 * word + 1] = value >>> 8;
}

function getWord(id: Uint8Array, word: number): number {
  return id[2 * word]! | (id[2 * word + 1]! << 8);
}

/**
 * ATA strings put the first character of each pair in the high byte of the
 * word, so on the wire (little-endian words) every pair appears swapped.
 * Characters outside printable ASCII become '?'; the rest is space padded.
 */
function setString(id: Uint8Array, firstWord: number, words: number, s: string): void {
  const length = words * 2;
  for (let i = 0; i < length; i++) {
    const c = i < s.length ? s.charCodeAt(i) : 0x20;
    id[2 * firstWord + (i ^ 1)] = c >= 0x20 && c <= 0x7e ? c : 0x3f;
  }
}

function getString(id: Uint8Array, firstWord: number, words: number): string {
  let s = "";
  for (let i = 0; i < words * 2; i++) s += String.fromCharCode(id[2 * firstWord + (i ^ 1)]!);
  return s.replace(/^[\s\0]+|[\s\0]+$/g, "");
}

/** Builds the IDENTIFY DEVICE sector for a device of info.sectors sectors. */
export function buildIdentify(info: IdentifyInfo): Uint8Array {
  const { sectors } = info;
  const lba48 = info.lba48 ?? true;
  const writeCache = info.writeCache ?? true;
  if (!Number.isInteger(sectors) || sectors < 0 || sectors > MAX_LBA48_SECTORS) {
    throw new RangeError(`aoe: IDENTIFY capacity ${sectors} is not a 48-bit sector count`);
  }
  const id = new Uint8Array(SECTOR_SIZE);
  setWord(id, 0, 0x0040);
  setString(id, 10, 10, info.serial);
  setString(id, 23, 4, info.firmware);
  setString(id, 27, 20, info.model);
  setWord(id, 47, 0x8000);
  setWord(id, 49, 0x0200);
  setWord(id, 50, 0x4000);
  const lba28 = Math.min(sectors, MAX_LBA28_SECTORS);
  setWord(id, 60, lba28 & 0xffff);
  setWord(id, 61, lba28 >>> 16);
  setWord(id, 80, (1 << 6) | (1 << 7) | (1 << 8));
  const sets = FLUSH_BIT | (lba48 ? LBA48_BIT | FLUSH_EXT_BIT : 0);
  const cache = writeCache ? WRITE_CACHE_BIT : 0;
  setWord(id, 82, cache);
  setWord(id, 83, VALID | sets);
  setWord(id, 84, VALID);
  setWord(id, 85, cache);
  setWord(id, 86, sets);
  setWord(id, 87, VALID);
  if (lba48) {
    const low = sectors % 2 ** 32;
    const high = Math.floor(sectors / 2 ** 32);
    setWord(id, 100, low & 0xffff);
    setWord(id, 101, low >>> 16);
    setWord(id, 102, high);
    setWord(id, 103, 0);
  }
  return id;
}

/**
 * Reads what an initiator needs from an IDENTIFY DEVICE sector. LBA48 is
 * decided as the Linux aoe driver does (bit 10 of word 83 or 86), since that
 * is what AoE targets are written against; an LBA48 device reporting zero in
 * words 100-103 falls back to 60-61 (as libata does). The flush bits count
 * only in a valid word 83, as libata's ata_id_has_flush{,_ext} require.
 */
export function parseIdentify(sector: Uint8Array): IdentifyData {
  if (sector.length < SECTOR_SIZE) throw shortError("identify", SECTOR_SIZE, sector.length);
  const w83 = getWord(sector, 83);
  const valid83 = (w83 & VALID_MASK) === VALID;
  const lba48 = ((w83 | getWord(sector, 86)) & LBA48_BIT) !== 0;
  const lba28Sectors = getWord(sector, 60) + getWord(sector, 61) * 0x10000;
  const lba48Sectors =
    getWord(sector, 100) +
    getWord(sector, 101) * 2 ** 16 +
    getWord(sector, 102) * 2 ** 32 +
    getWord(sector, 103) * 2 ** 48;
  if (lba48 && lba48Sectors > Number.MAX_SAFE_INTEGER) {
    throw invalidError("identify capacity", "words 100-103 exceed 2^53 sectors");
  }
  return {
    sectors: lba48 && lba48Sectors > 0 ? lba48Sectors : lba28Sectors,
    lba48,
    model: getString(sector, 27, 20),
    serial: getString(sector, 10, 10),
    firmware: getString(sector, 23, 4),
    flush: valid83 && (w83 & FLUSH_BIT) !== 0,
    flushExt: valid83 && (w83 & FLUSH_EXT_BIT) !== 0,
    writeCache: (getWord(sector, 85) & WRITE_CACHE_BIT) !== 0,
  };
}

/**
 * Plan 9 libfis's feature words for an IDENTIFY sector (idfeat), in its bit
 * order: lba (word 49 bit 9), llba (lba and word 83|86 bit 10), smart and nop
 * (word 82 bits 0 and 14) and power (word 83 bit 3) when word 83 is valid,
 * ata8 (word 80 bit 8, 0xffff read as 0), sct (word 206 bit 0). atapi and
 * atapi16 come from the SATA signature, which AoE does not carry: never set.
 */
export function featureNames(sector: Uint8Array): string[] {
  if (sector.length < SECTOR_SIZE) throw shortError("identify", SECTOR_SIZE, sector.length);
  const names: string[] = [];
  const lba = (getWord(sector, 49) & (1 << 9)) !== 0;
  if (lba) names.push("lba");
  if (lba && ((getWord(sector, 83) | getWord(sector, 86)) & LBA48_BIT) !== 0) names.push("llba");
  const w83 = getWord(sector, 83);
  if (w83 >> 14 === 1) {
    const w82 = getWord(sector, 82);
    if (w82 & 1) names.push("smart");
    if (w83 & (1 << 3)) names.push("power");
    if (w82 & (1 << 14)) names.push("nop");
  }
  const w80 = getWord(sector, 80);
  if (w80 !== 0xffff && w80 & (1 << 8)) names.push("ata8");
  if (getWord(sector, 206) & 1) names.push("sct");
  return names;
}
