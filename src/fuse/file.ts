/**
 * The bodies of the file requests: OPEN/OPENDIR, READ/READDIR/READDIRPLUS, WRITE,
 * RELEASE/RELEASEDIR, FLUSH, FSYNC/FSYNCDIR, and the OPEN and WRITE replies.
 *
 * fuse_open_in (8):   flags u32 @0 (open(2)'s), open_flags u32 @4
 * fuse_open_out (16): fh u64 @0, open_flags u32 @8, backing_id i32 @12
 *
 * fuse_read_in / fuse_write_in (40), the data of a WRITE right after (request offset 80):
 * +-------------+-------------+------+------------------+-------------+-------+-----+
 * |     fh      |   offset    | size | read/write_flags |  lock_owner | flags | pad |
 * +-------------+-------------+------+------------------+-------------+-------+-----+
 *  0             8             16     20                 24            32      36   40
 *
 * fuse_write_out (8):   size u32 @0, pad @4
 * fuse_release_in (24): fh u64 @0, flags u32 @8, release_flags u32 @12, lock_owner u64 @16
 * fuse_flush_in (24):   fh u64 @0, unused u32 @8, pad @12, lock_owner u64 @16
 * fuse_fsync_in (16):   fh u64 @0, fsync_flags u32 @8, pad @12
 */
import { shortError } from "./errors.ts";
import { getU32, getU64, need, putU32, putU64, room } from "./wire.ts";

/** flags, open_flags */
export const OPEN_IN_LEN = 4 + 4;
/** fh, open_flags, backing_id */
export const OPEN_OUT_LEN = 8 + 4 + 4;
/** fh, offset, size, read_flags/write_flags, lock_owner, flags, padding */
export const READ_IN_LEN = 8 + 8 + 4 + 4 + 8 + 4 + 4;
export const WRITE_IN_LEN = READ_IN_LEN;
/** size, padding */
export const WRITE_OUT_LEN = 4 + 4;
/** fh, flags, release_flags, lock_owner */
export const RELEASE_IN_LEN = 8 + 4 + 4 + 8;
/** fh, unused, padding, lock_owner */
export const FLUSH_IN_LEN = 8 + 4 + 4 + 8;
/** fh, fsync_flags, padding */
export const FSYNC_IN_LEN = 8 + 4 + 4;

export interface OpenIn {
  /** open(2) flags (O_ACCMODE, O_TRUNC with ATOMIC_O_TRUNC, O_APPEND...) */
  flags: number;
}

export function decodeOpenIn(body: Uint8Array): OpenIn {
  need(body, OPEN_IN_LEN, "open_in");
  return { flags: getU32(body, 0) };
}

export interface OpenOut {
  fh: number;
  /** OpenReplyFlag bits */
  openFlags: number;
}

export function encodeOpenOut(o: OpenOut, out: Uint8Array, at: number): number {
  room(out, at, OPEN_OUT_LEN, "open_out");
  putU64(out, at, o.fh);
  putU32(out, at + 8, o.openFlags);
  putU32(out, at + 12, 0);
  return at + OPEN_OUT_LEN;
}

export interface ReadIn {
  fh: number;
  offset: number;
  size: number;
  flags: number;
}

/** READ, READDIR and READDIRPLUS bodies (offset is the directory cookie for the last two). */
export function decodeReadIn(body: Uint8Array): ReadIn {
  need(body, READ_IN_LEN, "read_in");
  return { fh: getU64(body, 0), offset: getU64(body, 8), size: getU32(body, 16), flags: getU32(body, 32) };
}

export function encodeReadIn(r: ReadIn, out: Uint8Array, at: number): number {
  room(out, at, READ_IN_LEN, "read_in");
  out.fill(0, at, at + READ_IN_LEN);
  putU64(out, at, r.fh);
  putU64(out, at + 8, r.offset);
  putU32(out, at + 16, r.size);
  putU32(out, at + 32, r.flags);
  return at + READ_IN_LEN;
}

export interface WriteIn {
  fh: number;
  offset: number;
  /** the bytes to write: a view into the request, valid while its buffer is */
  data: Uint8Array;
  writeFlags: number;
  flags: number;
}

export function decodeWriteIn(body: Uint8Array): WriteIn {
  need(body, WRITE_IN_LEN, "write_in");
  const size = getU32(body, 16);
  if (body.length < WRITE_IN_LEN + size) {
    throw shortError("write_in.data", WRITE_IN_LEN + size, body.length);
  }
  return {
    fh: getU64(body, 0),
    offset: getU64(body, 8),
    data: body.subarray(WRITE_IN_LEN, WRITE_IN_LEN + size),
    writeFlags: getU32(body, 20),
    flags: getU32(body, 32),
  };
}

/** Writes fuse_write_in followed by the data (tests build WRITE requests with it). */
export function encodeWriteIn(w: WriteIn, out: Uint8Array, at: number): number {
  room(out, at, WRITE_IN_LEN + w.data.length, "write_in");
  out.fill(0, at, at + WRITE_IN_LEN);
  putU64(out, at, w.fh);
  putU64(out, at + 8, w.offset);
  putU32(out, at + 16, w.data.length);
  putU32(out, at + 20, w.writeFlags);
  putU32(out, at + 32, w.flags);
  out.set(w.data, at + WRITE_IN_LEN);
  return at + WRITE_IN_LEN + w.data.length;
}

export function encodeWriteOut(size: number, out: Uint8Array, at: number): number {
  room(out, at, WRITE_OUT_LEN, "write_out");
  putU32(out, at, size);
  putU32(out, at + 4, 0);
  return at + WRITE_OUT_LEN;
}

export interface ReleaseIn {
  fh: number;
  flags: number;
  releaseFlags: number;
}

/** RELEASE and RELEASEDIR bodies. */
export function decodeReleaseIn(body: Uint8Array): ReleaseIn {
  need(body, RELEASE_IN_LEN, "release_in");
  return { fh: getU64(body, 0), flags: getU32(body, 8), releaseFlags: getU32(body, 12) };
}

export interface FlushIn {
  fh: number;
}

export function decodeFlushIn(body: Uint8Array): FlushIn {
  need(body, FLUSH_IN_LEN, "flush_in");
  return { fh: getU64(body, 0) };
}

export interface FsyncIn {
  fh: number;
  /** FSYNC_FDATASYNC */
  fsyncFlags: number;
}

/** FSYNC and FSYNCDIR bodies. */
export function decodeFsyncIn(body: Uint8Array): FsyncIn {
  need(body, FSYNC_IN_LEN, "fsync_in");
  return { fh: getU64(body, 0), fsyncFlags: getU32(body, 8) };
}
