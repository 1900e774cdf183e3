/**
 * INIT: the first request on a new connection, and the reply that fixes the
 * protocol minor, the feature flags and the request sizes for its life.
 *
 * fuse_init_in (16 bytes before 7.36, 64 since):
 * +-------+-------+---------------+-------+-------+--------------------+
 * | major | minor | max_readahead | flags | flags2|  unused[11]        |
 * +-------+-------+---------------+-------+-------+--------------------+
 *  0       4       8               12      16      20                  64
 *
 * fuse_init_out (64 bytes; 24 before 7.23):
 *  0 major u32, 4 minor u32, 8 max_readahead u32, 12 flags u32,
 *  16 max_background u16, 18 congestion_threshold u16, 20 max_write u32,
 *  24 time_gran u32, 28 max_pages u16, 30 map_alignment u16, 32 flags2 u32,
 *  36 max_stack_depth u32, 40 request_timeout u16, 42..63 unused (zero)
 */
import { getU16, getU32, need, putU16, putU32, room } from "./wire.ts";

/** major, minor, max_readahead, flags */
export const INIT_IN_LEN_OLD = 4 + 4 + 4 + 4;
/** ... then flags2 and 11 unused words (7.36+) */
export const INIT_IN_LEN = INIT_IN_LEN_OLD + 4 + 11 * 4;
/** major, minor, max_readahead, flags, max_background, congestion_threshold, max_write,
 * time_gran, max_pages, map_alignment, flags2, max_stack_depth, request_timeout, unused */
export const INIT_OUT_LEN = 4 + 4 + 4 + 4 + 2 + 2 + 4 + 4 + 2 + 2 + 4 + 4 + 2 + 22;

export interface InitIn {
  major: number;
  minor: number;
  maxReadahead: number;
  flags: number;
  /** bits 32-63 of the flags; 0 from kernels before 7.36 */
  flags2: number;
}

export function decodeInitIn(body: Uint8Array): InitIn {
  need(body, INIT_IN_LEN_OLD, "init_in");
  return {
    major: getU32(body, 0),
    minor: getU32(body, 4),
    maxReadahead: getU32(body, 8),
    flags: getU32(body, 12),
    flags2: body.length >= INIT_IN_LEN_OLD + 4 ? getU32(body, 16) : 0,
  };
}

export function encodeInitIn(i: InitIn, out: Uint8Array, at: number): number {
  room(out, at, INIT_IN_LEN, "init_in");
  out.fill(0, at, at + INIT_IN_LEN);
  putU32(out, at, i.major);
  putU32(out, at + 4, i.minor);
  putU32(out, at + 8, i.maxReadahead);
  putU32(out, at + 12, i.flags);
  putU32(out, at + 16, i.flags2);
  return at + INIT_IN_LEN;
}

export interface InitOut {
  major: number;
  minor: number;
  maxReadahead: number;
  flags: number;
  maxBackground: number;
  congestionThreshold: number;
  maxWrite: number;
  timeGran: number;
  maxPages: number;
  flags2: number;
}

/** Writes fuse_init_out at `at`; returns the end offset. */
export function encodeInitOut(o: InitOut, out: Uint8Array, at: number): number {
  room(out, at, INIT_OUT_LEN, "init_out");
  out.fill(0, at, at + INIT_OUT_LEN);
  putU32(out, at, o.major);
  putU32(out, at + 4, o.minor);
  putU32(out, at + 8, o.maxReadahead);
  putU32(out, at + 12, o.flags);
  putU16(out, at + 16, o.maxBackground);
  putU16(out, at + 18, o.congestionThreshold);
  putU32(out, at + 20, o.maxWrite);
  putU32(out, at + 24, o.timeGran);
  putU16(out, at + 28, o.maxPages);
  putU32(out, at + 32, o.flags2);
  return at + INIT_OUT_LEN;
}

export function decodeInitOut(body: Uint8Array): InitOut {
  need(body, INIT_OUT_LEN, "init_out");
  return {
    major: getU32(body, 0),
    minor: getU32(body, 4),
    maxReadahead: getU32(body, 8),
    flags: getU32(body, 12),
    maxBackground: getU16(body, 16),
    congestionThreshold: getU16(body, 18),
    maxWrite: getU32(body, 20),
    timeGran: getU32(body, 24),
    maxPages: getU16(body, 28),
    flags2: getU32(body, 32),
  };
}
