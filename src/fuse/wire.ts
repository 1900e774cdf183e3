/**
 * Little-endian integers at byte offsets, the only way the FUSE codec touches bytes.
 * The kernel's structs are little-endian on every platform AoEde builds for
 * (x86-64, aarch64), with no implicit padding.
 *
 * u64 fields become JS numbers, exact up to 2^53 (node ids, handles, offsets and
 * sizes of any real file); the request's `unique` alone is kept as a bigint, since a
 * reply must echo it exactly.
 */
import { shortError } from "./errors.ts";

export function getU16(b: Uint8Array, o: number): number {
  return b[o]! | (b[o + 1]! << 8);
}

export function getU32(b: Uint8Array, o: number): number {
  return (b[o]! | (b[o + 1]! << 8) | (b[o + 2]! << 16) | (b[o + 3]! << 24)) >>> 0;
}

/** A u64 as a number (exact below 2^53). */
export function getU64(b: Uint8Array, o: number): number {
  return getU32(b, o) + getU32(b, o + 4) * 0x1_0000_0000;
}

export function getU64Big(b: Uint8Array, o: number): bigint {
  return BigInt(getU32(b, o)) | (BigInt(getU32(b, o + 4)) << 32n);
}

export function putU16(b: Uint8Array, o: number, v: number): void {
  b[o] = v & 0xff;
  b[o + 1] = (v >>> 8) & 0xff;
}

export function putU32(b: Uint8Array, o: number, v: number): void {
  b[o] = v & 0xff;
  b[o + 1] = (v >>> 8) & 0xff;
  b[o + 2] = (v >>> 16) & 0xff;
  b[o + 3] = (v >>> 24) & 0xff;
}

/** A non-negative number below 2^64 (precise below 2^53); negatives become 0. */
export function putU64(b: Uint8Array, o: number, v: number): void {
  const x = v > 0 ? Math.floor(v) : 0;
  putU32(b, o, x % 0x1_0000_0000);
  putU32(b, o + 4, Math.floor(x / 0x1_0000_0000));
}

export function putU64Big(b: Uint8Array, o: number, v: bigint): void {
  putU32(b, o, Number(v & 0xffff_ffffn));
  putU32(b, o + 4, Number((v >> 32n) & 0xffff_ffffn));
}

/**
 * A time or duration in seconds as the kernel's (u64 seconds, u32 nanoseconds) pair,
 * the two fields apart in every struct that has one (fuse_attr, fuse_entry_out,
 * fuse_attr_out, fuse_setattr_in). Negatives become 0.
 */
export function putTime(b: Uint8Array, secAt: number, nsecAt: number, seconds: number): void {
  const s = seconds > 0 ? Math.floor(seconds) : 0;
  putU64(b, secAt, s);
  putU32(b, nsecAt, seconds > 0 ? Math.min(999_999_999, Math.round((seconds - s) * 1e9)) : 0);
}

/** The (u64 seconds, u32 nanoseconds) pair at `secAt`, `nsecAt` as seconds. */
export function getTime(b: Uint8Array, secAt: number, nsecAt: number): number {
  return getU64(b, secAt) + getU32(b, nsecAt) / 1e9;
}

/** Throws a "short" DecodeError unless `b` holds `need` bytes. */
export function need(b: Uint8Array, need: number, field: string): void {
  if (b.length < need) throw shortError(field, need, b.length);
}

/** Throws a RangeError unless `out` has room for `len` bytes from `at` (an encoder's bug, not input). */
export function room(out: Uint8Array, at: number, len: number, what: string): void {
  if (at + len > out.length) throw new RangeError(`fuse: ${what} needs ${len} bytes at ${at}, buffer has ${out.length}`);
}
