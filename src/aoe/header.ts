/**
 * The Ethernet header and the AoE header, AoE r11 section 2.
 *
 *  0                   1                   2                   3
 *  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * |                Ethernet Destination Address                   |
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * | Ethernet Destination Address  |   Ethernet Source Address     |
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * |                   Ethernet Source Address                     |
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * |     Ethernet Type (0x88A2)    | Ver(4)|Flag(4)|     Error     |
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * |             Major             |     Minor     |    Command    |
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * |                              Tag                              |
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * |                  Arg (command specific, at 24)                |
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 */
import { AOE_VERSION, ETHERTYPE_AOE, Flag } from "./constants.ts";
import { invalidError, shortError } from "./errors.ts";

/** Ethernet header: destination, source, ethertype. */
export const ETH_HEADER_LEN = 6 + 6 + 2;

/** Ethernet header plus AoE header: ver/flags, error, major, minor, command, tag. */
export const HEADER_LEN = ETH_HEADER_LEN + 1 + 1 + 2 + 1 + 1 + 4;

export interface Header {
  /** Ethernet destination. From decodeHeader: a view into the frame. */
  dst: Uint8Array;
  /** Ethernet source. From decodeHeader: a view into the frame. */
  src: Uint8Array;
  /** High nibble of byte 14; 1 for AoE r11. */
  version: number;
  /** Low nibble of byte 14: Flag.Response | Flag.Error. */
  flags: number;
  /** AoEError value; meaningful only with Flag.Error. */
  error: number;
  /** Shelf, 0xFFFF for every shelf. */
  major: number;
  /** Slot, 0xFF for every slot. */
  minor: number;
  /** Command value; unknown values are decoded too (the target answers AoE error 1). */
  command: number;
  /** Opaque to the target, echoed in replies: an unsigned 32-bit number. */
  tag: number;
}

/**
 * Decodes the Ethernet and AoE headers of a whole frame. It runs for every frame
 * received, so it only slices views and reads bytes: no copies.
 *
 * An unknown version or command is returned as is, not rejected: the target must
 * answer those with AoE errors 5 and 1 rather than drop them.
 */
export function decodeHeader(frame: Uint8Array): Header {
  if (frame.length < HEADER_LEN) throw shortError("header", HEADER_LEN, frame.length);
  const ethertype = (frame[12]! << 8) | frame[13]!;
  if (ethertype !== ETHERTYPE_AOE) {
    throw invalidError("ethertype", `not AoE: 0x${ethertype.toString(16).padStart(4, "0")}`);
  }
  return {
    dst: frame.subarray(0, 6),
    src: frame.subarray(6, 12),
    version: frame[14]! >> 4,
    flags: frame[14]! & 0x0f,
    error: frame[15]!,
    major: (frame[16]! << 8) | frame[17]!,
    minor: frame[18]!,
    command: frame[19]!,
    tag: ((frame[20]! << 24) | (frame[21]! << 16) | (frame[22]! << 8) | frame[23]!) >>> 0,
  };
}

/** Writes both headers (ethertype included) at offset 0 of out; returns HEADER_LEN. */
export function encodeHeader(h: Header, out: Uint8Array): number {
  if (out.length < HEADER_LEN) throw new RangeError(`aoe: header needs ${HEADER_LEN} bytes, buffer has ${out.length}`);
  out.set(h.dst.subarray(0, 6), 0);
  out.set(h.src.subarray(0, 6), 6);
  out[12] = ETHERTYPE_AOE >> 8;
  out[13] = ETHERTYPE_AOE & 0xff;
  out[14] = ((h.version & 0x0f) << 4) | (h.flags & 0x0f);
  out[15] = h.error;
  out[16] = h.major >> 8;
  out[17] = h.major;
  out[18] = h.minor;
  out[19] = h.command;
  const tag = h.tag >>> 0;
  out[20] = tag >>> 24;
  out[21] = tag >>> 16;
  out[22] = tag >>> 8;
  out[23] = tag;
  return HEADER_LEN;
}

/**
 * The header of a reply to req, sent from src by the target at major.minor.
 * The target's own address goes in, not the request's: a request to the
 * broadcast shelf or slot is answered from the real one (AoE r11, section 2).
 * The tag and command are echoed; a nonzero error sets Flag.Error.
 */
export function replyHeader(req: Header, src: Uint8Array, major: number, minor: number, error = 0): Header {
  return {
    dst: req.src,
    src,
    version: AOE_VERSION,
    flags: error === 0 ? Flag.Response : Flag.Response | Flag.Error,
    error,
    major,
    minor,
    command: req.command,
    tag: req.tag,
  };
}
