/**
 * Every request starts with fuse_in_header; every reply and notification with
 * fuse_out_header. One read(2) on /dev/fuse returns one whole request; one write(2)
 * is one whole reply.
 *
 * fuse_in_header (40 bytes):
 *  0               4               8                              16
 * +---------------+---------------+-------------------------------+
 * |      len      |    opcode     |            unique             |
 * +---------------+---------------+-------------------------------+
 * |            nodeid             |      uid      |      gid      |
 * +-------------------------------+---------------+-------+-------+
 * |      pid      | total_extlen  |  pad  |   (opcode's body at 40)
 * +---------------+-------+-------+
 *  32              36      38      40
 *
 * fuse_out_header (16 bytes):
 * +---------------+---------------+-------------------------------+
 * |      len      |  error (i32)  |            unique             |
 * +---------------+---------------+-------------------------------+
 *  0               4               8                              16
 */
import { invalidError } from "./errors.ts";
import { getU16, getU32, getU64, getU64Big, need, putU16, putU32, putU64, putU64Big, room } from "./wire.ts";

/** len, opcode, unique, nodeid, uid, gid, pid, total_extlen, pad */
export const IN_HEADER_LEN = 4 + 4 + 8 + 8 + 4 + 4 + 4 + 2 + 2;
/** len, error, unique */
export const OUT_HEADER_LEN = 4 + 4 + 8;

export interface InHeader {
  /** the whole request's length, header included */
  len: number;
  opcode: number;
  /** the request's id, echoed in its reply; even; 0 never names a request */
  unique: bigint;
  /** the node the request is about (the parent, for LOOKUP/RMDIR/UNLINK) */
  nodeid: number;
  uid: number;
  gid: number;
  pid: number;
  /** length of extensions after the body, in units of 8 bytes (7.36+) */
  totalExtlen: number;
}

/**
 * Decodes the header of one request read from /dev/fuse. `msg` is exactly the bytes
 * read: a header whose len disagrees with them is invalid (the kernel never sends one).
 */
export function decodeInHeader(msg: Uint8Array): InHeader {
  need(msg, IN_HEADER_LEN, "in_header");
  const len = getU32(msg, 0);
  if (len !== msg.length) throw invalidError("in_header.len", `says ${len} bytes, read ${msg.length}`);
  return {
    len,
    opcode: getU32(msg, 4),
    unique: getU64Big(msg, 8),
    nodeid: getU64(msg, 16),
    uid: getU32(msg, 24),
    gid: getU32(msg, 28),
    pid: getU32(msg, 32),
    totalExtlen: getU16(msg, 36),
  };
}

/**
 * The opcode and unique of a request whose header did not decode, when at least those
 * 16 bytes arrived (enough to answer it with an error); undefined when fewer did.
 */
export function peekInHeader(msg: Uint8Array): { opcode: number; unique: bigint } | undefined {
  return msg.length < 4 + 4 + 8 ? undefined : { opcode: getU32(msg, 4), unique: getU64Big(msg, 8) };
}

/** Encodes an in-header (tests build requests with it). Returns IN_HEADER_LEN. */
export function encodeInHeader(h: InHeader, out: Uint8Array): number {
  room(out, 0, IN_HEADER_LEN, "in_header");
  putU32(out, 0, h.len);
  putU32(out, 4, h.opcode);
  putU64Big(out, 8, h.unique);
  putU64(out, 16, h.nodeid);
  putU32(out, 24, h.uid);
  putU32(out, 28, h.gid);
  putU32(out, 32, h.pid);
  putU16(out, 36, h.totalExtlen);
  putU16(out, 38, 0);
  return IN_HEADER_LEN;
}

/**
 * Writes a reply header at offset 0 of `out`: `len` is the whole reply (header
 * included), `error` 0 or minus an errno number (or a notify code, with unique 0).
 * Returns OUT_HEADER_LEN.
 */
export function encodeOutHeader(out: Uint8Array, len: number, error: number, unique: bigint): number {
  room(out, 0, OUT_HEADER_LEN, "out_header");
  putU32(out, 0, len);
  putU32(out, 4, error | 0);
  putU64Big(out, 8, unique);
  return OUT_HEADER_LEN;
}

export interface OutHeader {
  len: number;
  error: number;
  unique: bigint;
}

/** Decodes a reply header (tests check the server's replies with it). */
export function decodeOutHeader(msg: Uint8Array): OutHeader {
  need(msg, OUT_HEADER_LEN, "out_header");
  return { len: getU32(msg, 0), error: getU32(msg, 4) | 0, unique: getU64Big(msg, 8) };
}
