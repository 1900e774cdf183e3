/**
 * fuse_attr and the two replies that carry it: fuse_entry_out (LOOKUP, and each
 * READDIRPLUS record) and fuse_attr_out (GETATTR, SETATTR).
 *
 * fuse_attr (88 bytes):
 *  0 ino, 8 size, 16 blocks, 24 atime, 32 mtime, 40 ctime (u64; times in seconds);
 *  48 atimensec, 52 mtimensec, 56 ctimensec, 60 mode, 64 nlink, 68 uid, 72 gid,
 *  76 rdev, 80 blksize, 84 flags (u32)
 *
 * fuse_entry_out (128 bytes):
 * +--------+------------+-------------+------------+------------------+-----------------+----------+
 * | nodeid | generation | entry_valid | attr_valid | entry_valid_nsec | attr_valid_nsec | attr     |
 * +--------+------------+-------------+------------+------------------+-----------------+----------+
 *  0        8            16            24           32                 36                40      128
 *
 * fuse_attr_out (104 bytes): attr_valid u64 @0, attr_valid_nsec u32 @8, pad @12, attr @16
 */
import { getTime, getU32, getU64, need, putTime, putU32, putU64, room } from "./wire.ts";

/** ino, size, blocks, atime, mtime, ctime; atimensec, mtimensec, ctimensec, mode, nlink, uid, gid, rdev, blksize, flags */
export const ATTR_LEN = 6 * 8 + 10 * 4;
/** nodeid, generation, entry_valid, attr_valid, entry_valid_nsec, attr_valid_nsec, attr */
export const ENTRY_OUT_LEN = 8 + 8 + 8 + 8 + 4 + 4 + ATTR_LEN;
/** attr_valid, attr_valid_nsec, dummy, attr */
export const ATTR_OUT_LEN = 8 + 4 + 4 + ATTR_LEN;

export interface Attr {
  ino: number;
  size: number;
  /** 512-byte blocks allocated */
  blocks: number;
  /** seconds since the epoch, fractions kept as nanoseconds */
  atime: number;
  mtime: number;
  ctime: number;
  /** st_mode: file type and permission bits */
  mode: number;
  nlink: number;
  uid: number;
  gid: number;
  rdev: number;
  blksize: number;
}

export function encodeAttr(a: Attr, out: Uint8Array, at: number): number {
  room(out, at, ATTR_LEN, "attr");
  putU64(out, at, a.ino);
  putU64(out, at + 8, a.size);
  putU64(out, at + 16, a.blocks);
  putTime(out, at + 24, at + 48, a.atime);
  putTime(out, at + 32, at + 52, a.mtime);
  putTime(out, at + 40, at + 56, a.ctime);
  putU32(out, at + 60, a.mode);
  putU32(out, at + 64, a.nlink);
  putU32(out, at + 68, a.uid);
  putU32(out, at + 72, a.gid);
  putU32(out, at + 76, a.rdev);
  putU32(out, at + 80, a.blksize);
  putU32(out, at + 84, 0);
  return at + ATTR_LEN;
}

export function decodeAttr(b: Uint8Array, at = 0): Attr {
  need(b, at + ATTR_LEN, "attr");
  return {
    ino: getU64(b, at),
    size: getU64(b, at + 8),
    blocks: getU64(b, at + 16),
    atime: getTime(b, at + 24, at + 48),
    mtime: getTime(b, at + 32, at + 52),
    ctime: getTime(b, at + 40, at + 56),
    mode: getU32(b, at + 60),
    nlink: getU32(b, at + 64),
    uid: getU32(b, at + 68),
    gid: getU32(b, at + 72),
    rdev: getU32(b, at + 76),
    blksize: getU32(b, at + 80),
  };
}

export interface EntryOut {
  /** 0 in a READDIRPLUS record means "no entry given" (for . and ..) */
  nodeid: number;
  generation: number;
  /** seconds the kernel may keep the name → node binding */
  entryValid: number;
  /** seconds the kernel may keep the attributes */
  attrValid: number;
  attr: Attr;
}

export function encodeEntryOut(e: EntryOut, out: Uint8Array, at: number): number {
  room(out, at, ENTRY_OUT_LEN, "entry_out");
  putU64(out, at, e.nodeid);
  putU64(out, at + 8, e.generation);
  putTime(out, at + 16, at + 32, e.entryValid);
  putTime(out, at + 24, at + 36, e.attrValid);
  return encodeAttr(e.attr, out, at + 40);
}

export function decodeEntryOut(b: Uint8Array, at = 0): EntryOut {
  need(b, at + ENTRY_OUT_LEN, "entry_out");
  return {
    nodeid: getU64(b, at),
    generation: getU64(b, at + 8),
    entryValid: getTime(b, at + 16, at + 32),
    attrValid: getTime(b, at + 24, at + 36),
    attr: decodeAttr(b, at + 40),
  };
}

export interface AttrOut {
  attrValid: number;
  attr: Attr;
}

export function encodeAttrOut(a: AttrOut, out: Uint8Array, at: number): number {
  room(out, at, ATTR_OUT_LEN, "attr_out");
  putTime(out, at, at + 8, a.attrValid);
  putU32(out, at + 12, 0);
  return encodeAttr(a.attr, out, at + 16);
}

export function decodeAttrOut(b: Uint8Array, at = 0): AttrOut {
  need(b, at + ATTR_OUT_LEN, "attr_out");
  return { attrValid: getTime(b, at, at + 8), attr: decodeAttr(b, at + 16) };
}
