/**
 * The bodies of the requests about nodes and names: LOOKUP, UNLINK and RMDIR (a
 * name), GETATTR, SETATTR, ACCESS, FORGET, BATCH_FORGET and INTERRUPT.
 *
 * name (LOOKUP, UNLINK, RMDIR): the bytes of the name, then a NUL
 * fuse_getattr_in (16): getattr_flags u32 @0, dummy @4, fh u64 @8
 * fuse_setattr_in (88):
 *  0 valid u32, 4 pad, 8 fh, 16 size, 24 lock_owner, 32 atime, 40 mtime, 48 ctime (u64),
 *  56 atimensec, 60 mtimensec, 64 ctimensec, 68 mode, 72 unused, 76 uid, 80 gid, 84 unused (u32)
 * fuse_access_in (8):    mask u32 @0, pad @4
 * fuse_forget_in (8):    nlookup u64 @0
 * fuse_batch_forget_in:  count u32 @0, dummy @4, then count × fuse_forget_one (nodeid u64, nlookup u64)
 * fuse_interrupt_in (8): unique u64 @0 (of the request to interrupt)
 */
import { invalidError, shortError } from "./errors.ts";
import { getTime, getU32, getU64, getU64Big, need } from "./wire.ts";

/** getattr_flags, dummy, fh */
export const GETATTR_IN_LEN = 4 + 4 + 8;
/** valid, padding, fh, size, lock_owner, atime, mtime, ctime, atimensec, mtimensec,
 * ctimensec, mode, unused4, uid, gid, unused5 */
export const SETATTR_IN_LEN = 4 + 4 + 8 + 8 + 8 + 8 + 8 + 8 + 4 + 4 + 4 + 4 + 4 + 4 + 4 + 4;
/** mask, padding */
export const ACCESS_IN_LEN = 4 + 4;
/** nlookup */
export const FORGET_IN_LEN = 8;
/** count, dummy */
export const BATCH_FORGET_IN_LEN = 4 + 4;
/** nodeid, nlookup */
export const FORGET_ONE_LEN = 8 + 8;
/** unique */
export const INTERRUPT_IN_LEN = 8;
/** Longest name the server accepts (NAME_MAX); the kernel sends no longer ones. */
export const NAME_MAX = 255;

const utf8 = new TextDecoder("utf-8", { fatal: true });

/**
 * The NUL-terminated name of LOOKUP, UNLINK, RMDIR. A body without its NUL, an empty
 * name, one containing '/', or bytes that are not UTF-8 are invalid.
 */
export function decodeName(body: Uint8Array, field = "name"): string {
  const nul = body.indexOf(0);
  if (nul < 0) {
    if (body.length === 0) throw shortError(field, 1, 0);
    throw invalidError(field, "no terminating NUL");
  }
  if (nul === 0) throw invalidError(field, "empty name");
  if (nul > NAME_MAX) throw invalidError(field, `longer than ${NAME_MAX} bytes`);
  const bytes = body.subarray(0, nul);
  if (bytes.includes(0x2f)) throw invalidError(field, "contains '/'");
  try {
    return utf8.decode(bytes);
  } catch {
    throw invalidError(field, "not UTF-8");
  }
}

export interface GetattrIn {
  getattrFlags: number;
  fh: number;
}

/** Kernels before 7.9 send GETATTR with no body: then flags and fh are 0. */
export function decodeGetattrIn(body: Uint8Array): GetattrIn {
  if (body.length === 0) return { getattrFlags: 0, fh: 0 };
  need(body, GETATTR_IN_LEN, "getattr_in");
  return { getattrFlags: getU32(body, 0), fh: getU64(body, 8) };
}

export interface SetattrIn {
  /** SetattrValid bits: which of the fields below are meant */
  valid: number;
  fh: number;
  size: number;
  atime: number;
  mtime: number;
  mode: number;
  uid: number;
  gid: number;
}

export function decodeSetattrIn(body: Uint8Array): SetattrIn {
  need(body, SETATTR_IN_LEN, "setattr_in");
  return {
    valid: getU32(body, 0),
    fh: getU64(body, 8),
    size: getU64(body, 16),
    atime: getTime(body, 32, 56),
    mtime: getTime(body, 40, 60),
    mode: getU32(body, 68),
    uid: getU32(body, 76),
    gid: getU32(body, 80),
  };
}

export interface AccessIn {
  /** R_OK 4, W_OK 2, X_OK 1, F_OK 0 */
  mask: number;
}

export function decodeAccessIn(body: Uint8Array): AccessIn {
  need(body, ACCESS_IN_LEN, "access_in");
  return { mask: getU32(body, 0) };
}

export function decodeForgetIn(body: Uint8Array): { nlookup: number } {
  need(body, FORGET_IN_LEN, "forget_in");
  return { nlookup: getU64(body, 0) };
}

export interface ForgetOne {
  nodeid: number;
  nlookup: number;
}

export function decodeBatchForgetIn(body: Uint8Array): ForgetOne[] {
  need(body, BATCH_FORGET_IN_LEN, "batch_forget_in");
  const count = getU32(body, 0);
  const len = BATCH_FORGET_IN_LEN + count * FORGET_ONE_LEN;
  if (body.length < len) throw shortError("batch_forget_in.nodes", len, body.length);
  const out: ForgetOne[] = [];
  for (let i = 0, at = BATCH_FORGET_IN_LEN; i < count; i++, at += FORGET_ONE_LEN) {
    out.push({ nodeid: getU64(body, at), nlookup: getU64(body, at + 8) });
  }
  return out;
}

export function decodeInterruptIn(body: Uint8Array): { unique: bigint } {
  need(body, INTERRUPT_IN_LEN, "interrupt_in");
  return { unique: getU64Big(body, 0) };
}
