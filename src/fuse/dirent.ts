/**
 * READDIR and READDIRPLUS replies: whole records packed one after another, up to the
 * size the request offers; a reply with no record is the end of the directory.
 *
 * fuse_dirent (24 + name, padded with zeros to a multiple of 8):
 * +-------------+---------------------+---------+------+--------------+
 * |     ino     | off (next's cookie) | namelen | type | name | pad   |
 * +-------------+---------------------+---------+------+--------------+
 *  0             8                     16        20     24
 *
 * fuse_direntplus (152 + name, padded to 8): a fuse_entry_out (128), then a
 * fuse_dirent at 128.
 */
import { ENTRY_OUT_LEN, decodeEntryOut, encodeEntryOut, type EntryOut } from "./attr.ts";
import { invalidError, shortError } from "./errors.ts";
import { getU32, getU64, need, putU32, putU64, room } from "./wire.ts";

/** ino, off, namelen, type */
export const DIRENT_HEADER_LEN = 8 + 8 + 4 + 4;
/** entry_out, then a dirent */
export const DIRENTPLUS_HEADER_LEN = ENTRY_OUT_LEN + DIRENT_HEADER_LEN;

const align8 = (n: number) => (n + 7) & ~7;

export interface Dirent {
  ino: number;
  /** the cookie that continues the listing after this record */
  off: number;
  /** DT_DIR, DT_REG */
  type: number;
  /** the name's bytes (UTF-8) */
  name: Uint8Array;
}

/** Bytes a READDIR record with a name of `nameLen` bytes takes. */
export function direntLen(nameLen: number): number {
  return align8(DIRENT_HEADER_LEN + nameLen);
}

/** Bytes a READDIRPLUS record with a name of `nameLen` bytes takes. */
export function direntPlusLen(nameLen: number): number {
  return align8(DIRENTPLUS_HEADER_LEN + nameLen);
}

export function encodeDirent(d: Dirent, out: Uint8Array, at: number): number {
  const len = direntLen(d.name.length);
  room(out, at, len, "dirent");
  putU64(out, at, d.ino);
  putU64(out, at + 8, d.off);
  putU32(out, at + 16, d.name.length);
  putU32(out, at + 20, d.type);
  out.set(d.name, at + DIRENT_HEADER_LEN);
  out.fill(0, at + DIRENT_HEADER_LEN + d.name.length, at + len);
  return at + len;
}

export function encodeDirentPlus(e: EntryOut, d: Dirent, out: Uint8Array, at: number): number {
  room(out, at, direntPlusLen(d.name.length), "direntplus");
  encodeEntryOut(e, out, at);
  return encodeDirent(d, out, at + ENTRY_OUT_LEN);
}

/** Splits a READDIR reply body back into records (tests check replies with it). */
export function decodeDirents(body: Uint8Array): Dirent[] {
  const out: Dirent[] = [];
  for (let at = 0; at < body.length; ) {
    need(body.subarray(at), DIRENT_HEADER_LEN, "dirent");
    const namelen = getU32(body, at + 16);
    const len = direntLen(namelen);
    if (at + len > body.length) throw shortError("dirent.name", at + len, body.length);
    if (namelen === 0) throw invalidError("dirent.namelen", "empty name");
    out.push({
      ino: getU64(body, at),
      off: getU64(body, at + 8),
      type: getU32(body, at + 20),
      name: body.subarray(at + DIRENT_HEADER_LEN, at + DIRENT_HEADER_LEN + namelen),
    });
    at += len;
  }
  return out;
}

/** Splits a READDIRPLUS reply body back into (entry, dirent) records. */
export function decodeDirentPlus(body: Uint8Array): { entry: EntryOut; dirent: Dirent }[] {
  const out: { entry: EntryOut; dirent: Dirent }[] = [];
  for (let at = 0; at < body.length; ) {
    need(body.subarray(at), DIRENTPLUS_HEADER_LEN, "direntplus");
    const entry = decodeEntryOut(body, at);
    const [dirent] = decodeDirents(body.subarray(at + ENTRY_OUT_LEN, at + direntPlusLen(getU32(body, at + ENTRY_OUT_LEN + 16))));
    if (!dirent) throw shortError("direntplus.dirent", at + DIRENTPLUS_HEADER_LEN, body.length);
    out.push({ entry, dirent });
    at += direntPlusLen(dirent.name.length);
  }
  return out;
}
