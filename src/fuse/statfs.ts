/**
 * The STATFS reply, fuse_statfs_out (80 bytes; 48 for kernels before 7.4):
 *  0 blocks, 8 bfree, 16 bavail, 24 files, 32 ffree (u64),
 *  40 bsize, 44 namelen, 48 frsize, 52 padding, 56..79 spare[6] (u32)
 */
import { getU32, getU64, need, putU32, putU64, room } from "./wire.ts";

/** blocks, bfree, bavail, files, ffree, bsize, namelen, frsize, padding, spare[6] */
export const STATFS_OUT_LEN = 8 + 8 + 8 + 8 + 8 + 4 + 4 + 4 + 4 + 6 * 4;

export interface StatfsOut {
  blocks: number;
  bfree: number;
  bavail: number;
  files: number;
  ffree: number;
  bsize: number;
  namelen: number;
  frsize: number;
}

export function encodeStatfsOut(s: StatfsOut, out: Uint8Array, at: number): number {
  room(out, at, STATFS_OUT_LEN, "statfs_out");
  out.fill(0, at, at + STATFS_OUT_LEN);
  putU64(out, at, s.blocks);
  putU64(out, at + 8, s.bfree);
  putU64(out, at + 16, s.bavail);
  putU64(out, at + 24, s.files);
  putU64(out, at + 32, s.ffree);
  putU32(out, at + 40, s.bsize);
  putU32(out, at + 44, s.namelen);
  putU32(out, at + 48, s.frsize);
  return at + STATFS_OUT_LEN;
}

export function decodeStatfsOut(b: Uint8Array, at = 0): StatfsOut {
  need(b, at + STATFS_OUT_LEN, "statfs_out");
  return {
    blocks: getU64(b, at),
    bfree: getU64(b, at + 8),
    bavail: getU64(b, at + 16),
    files: getU64(b, at + 24),
    ffree: getU64(b, at + 32),
    bsize: getU32(b, at + 40),
    namelen: getU32(b, at + 44),
    frsize: getU32(b, at + 48),
  };
}
