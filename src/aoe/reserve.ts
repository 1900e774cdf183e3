/**
 * The argument of command 3, Reserve/Release: AoE r11 section 3.4.
 *
 *  0                   1                   2                   3
 *  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * |     RCmd      |   NMacs       |   Ethernet Address ...        |  24
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * |              ... 6 bytes per address, NMacs of them           |
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *
 * Set with an empty list releases. Every reply carries the current list.
 */
import { HEADER_LEN } from "./header.ts";
import { shortError } from "./errors.ts";

/** rcmd, number of addresses. */
export const RESERVE_ARG_LEN = 1 + 1;

/** Where the first address starts in the frame. */
export const RESERVE_MACS_OFFSET = HEADER_LEN + RESERVE_ARG_LEN;

/** RCmd (AoE r11, section 3.4). */
export const ReserveCmd = {
  /** Read the reserve list. */
  Read: 0,
  /** Set the list if it is empty or the sender is on it; otherwise AoE error 6. */
  Set: 1,
  /** Set the list unconditionally. */
  ForceSet: 2,
} as const;

export interface ReserveArg {
  rcmd: number;
  /** From decodeReserve: copies, safe to keep. */
  macs: Uint8Array[];
}

/** Decodes the Reserve/Release argument of a whole frame. */
export function decodeReserve(frame: Uint8Array): ReserveArg {
  if (frame.length < RESERVE_MACS_OFFSET) throw shortError("reserve", RESERVE_MACS_OFFSET, frame.length);
  const count = frame[HEADER_LEN + 1]!;
  const end = RESERVE_MACS_OFFSET + count * 6;
  if (frame.length < end) throw shortError("reserve macs", end, frame.length);
  const macs: Uint8Array[] = new Array(count);
  for (let i = 0, at = RESERVE_MACS_OFFSET; i < count; i++, at += 6) macs[i] = frame.slice(at, at + 6);
  return { rcmd: frame[HEADER_LEN]!, macs };
}

/** Writes the argument and every address at 24; returns the frame's end offset. */
export function encodeReserve(arg: ReserveArg, out: Uint8Array): number {
  const count = arg.macs.length;
  if (count > 255) throw new RangeError(`aoe: a reserve list holds at most 255 addresses`);
  const end = RESERVE_MACS_OFFSET + count * 6;
  if (out.length < end) throw new RangeError(`aoe: Reserve frame needs ${end} bytes, buffer has ${out.length}`);
  out[HEADER_LEN] = arg.rcmd;
  out[HEADER_LEN + 1] = count;
  for (let i = 0, at = RESERVE_MACS_OFFSET; i < count; i++, at += 6) out.set(arg.macs[i]!.subarray(0, 6), at);
  return end;
}
