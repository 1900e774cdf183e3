/**
 * The argument of command 1, Query Config Information: AoE r11 section 3.2.
 *
 *  0                   1                   2                   3
 *  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * |          Buffer Count         |       Firmware Version        |  24
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * |  Sector Count | AoE Ver| CCmd |     Config String Length      |  28
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * |                 Config String (at most 1024 bytes)            |  32
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *
 * Sector Count is the most sectors one ATA request may carry (0 means 2).
 * Bytes after the declared string are Ethernet padding and are ignored.
 */
import { HEADER_LEN } from "./header.ts";
import { invalidError, shortError } from "./errors.ts";

/** buffer count, firmware version, sector count, version|ccmd, string length. */
export const CONFIG_ARG_LEN = 2 + 2 + 1 + 1 + 2;

/** Longest config string AoE r11 allows. */
export const MAX_CONFIG_LEN = 1024;

/** Where the config string starts in the frame. */
export const CONFIG_STRING_OFFSET = HEADER_LEN + CONFIG_ARG_LEN;

/** The low nibble of byte 29 (AoE r11, section 3.2). Any other value gets AoE error 2. */
export const ConfigCmd = {
  /** Read the config string. */
  Read: 0,
  /** Reply only if the argument equals the config string exactly. */
  Test: 1,
  /** Reply only if the argument is a prefix of the config string. */
  TestPrefix: 2,
  /** Set the string if it is empty; otherwise AoE error 4 with the current string. */
  Set: 3,
  /** Set the string unconditionally. */
  ForceSet: 4,
} as const;

export interface QueryConfig {
  /** Requests the target can queue; initiators keep at most this many outstanding. */
  bufferCount: number;
  firmware: number;
  /** Most sectors per ATA request (0 means 2). */
  sectorCount: number;
  /** AoE version the target supports: the high nibble of byte 29. */
  aoeVersion: number;
  /** ConfigCmd: the low nibble of byte 29. */
  ccmd: number;
  /** From decodeConfig: a copy, safe to keep after the frame buffer is reused. */
  config: Uint8Array;
}

/** Decodes the Query Config argument of a whole frame. */
export function decodeConfig(frame: Uint8Array): QueryConfig {
  if (frame.length < CONFIG_STRING_OFFSET) throw shortError("config", CONFIG_STRING_OFFSET, frame.length);
  const b = HEADER_LEN;
  const length = (frame[b + 6]! << 8) | frame[b + 7]!;
  if (length > MAX_CONFIG_LEN) {
    throw invalidError("config string length", `${length} exceeds the ${MAX_CONFIG_LEN}-byte maximum`);
  }
  const end = CONFIG_STRING_OFFSET + length;
  if (frame.length < end) throw shortError("config string", end, frame.length);
  return {
    bufferCount: (frame[b]! << 8) | frame[b + 1]!,
    firmware: (frame[b + 2]! << 8) | frame[b + 3]!,
    sectorCount: frame[b + 4]!,
    aoeVersion: frame[b + 5]! >> 4,
    ccmd: frame[b + 5]! & 0x0f,
    config: frame.slice(CONFIG_STRING_OFFSET, end),
  };
}

/** Writes the argument and the config string at 24; returns the frame's end offset. */
export function encodeConfig(arg: QueryConfig, out: Uint8Array): number {
  const length = arg.config.length;
  if (length > MAX_CONFIG_LEN) throw new RangeError(`aoe: config string of ${length} bytes exceeds ${MAX_CONFIG_LEN}`);
  const end = CONFIG_STRING_OFFSET + length;
  if (out.length < end) throw new RangeError(`aoe: config frame needs ${end} bytes, buffer has ${out.length}`);
  const b = HEADER_LEN;
  out[b] = arg.bufferCount >> 8;
  out[b + 1] = arg.bufferCount;
  out[b + 2] = arg.firmware >> 8;
  out[b + 3] = arg.firmware;
  out[b + 4] = arg.sectorCount;
  out[b + 5] = ((arg.aoeVersion & 0x0f) << 4) | (arg.ccmd & 0x0f);
  out[b + 6] = length >> 8;
  out[b + 7] = length;
  out.set(arg.config, CONFIG_STRING_OFFSET);
  return end;
}
