/**
 * One request read from /dev/fuse, decoded into plain structs (go-fuse's style: the
 * protocol is data; the server loop and the mounting live elsewhere).
 *
 * Message layout: fuse_in_header (40 bytes, header.ts), then the opcode's body
 * (the other files of this folder), then, from 7.36 on, total_extlen × 8 bytes of
 * extensions, which nothing here asks for and this decoder ignores.
 */
import { decodeInHeader, IN_HEADER_LEN, type InHeader } from "./header.ts";
import { decodeInitIn, type InitIn } from "./init.ts";
import {
  decodeFlushIn,
  decodeFsyncIn,
  decodeOpenIn,
  decodeReadIn,
  decodeReleaseIn,
  decodeWriteIn,
  type FlushIn,
  type FsyncIn,
  type OpenIn,
  type ReadIn,
  type ReleaseIn,
  type WriteIn,
} from "./file.ts";
import {
  decodeAccessIn,
  decodeBatchForgetIn,
  decodeForgetIn,
  decodeGetattrIn,
  decodeInterruptIn,
  decodeName,
  decodeSetattrIn,
  type AccessIn,
  type ForgetOne,
  type GetattrIn,
  type SetattrIn,
} from "./node.ts";
import { Opcode } from "./proto.ts";

export type RequestBody =
  | { kind: "init"; init: InitIn }
  | { kind: "lookup" | "unlink" | "rmdir"; name: string }
  | { kind: "forget"; nlookup: number }
  | { kind: "batchForget"; forgets: ForgetOne[] }
  | { kind: "getattr"; getattr: GetattrIn }
  | { kind: "setattr"; setattr: SetattrIn }
  | { kind: "open" | "opendir"; open: OpenIn }
  | { kind: "read" | "readdir" | "readdirplus"; read: ReadIn }
  | { kind: "write"; write: WriteIn }
  | { kind: "release" | "releasedir"; release: ReleaseIn }
  | { kind: "flush"; flush: FlushIn }
  | { kind: "fsync" | "fsyncdir"; fsync: FsyncIn }
  | { kind: "access"; access: AccessIn }
  | { kind: "interrupt"; target: bigint }
  | { kind: "statfs" | "destroy" }
  /** an opcode this codec does not decode: the server answers ENOSYS (or nothing, for notify replies) */
  | { kind: "other" };

export interface Request {
  header: InHeader;
  body: RequestBody;
}

/**
 * Decodes one whole request. `msg` is exactly the bytes one read(2) returned; views
 * (a WRITE's data) point into it. Throws DecodeError and nothing else.
 */
export function decodeRequest(msg: Uint8Array): Request {
  const header = decodeInHeader(msg);
  return { header, body: decodeBody(header.opcode, msg.subarray(IN_HEADER_LEN)) };
}

/** Decodes the body of a request whose header is already known. */
export function decodeBody(opcode: number, body: Uint8Array): RequestBody {
  switch (opcode) {
    case Opcode.INIT:
      return { kind: "init", init: decodeInitIn(body) };
    case Opcode.LOOKUP:
      return { kind: "lookup", name: decodeName(body) };
    case Opcode.UNLINK:
      return { kind: "unlink", name: decodeName(body) };
    case Opcode.RMDIR:
      return { kind: "rmdir", name: decodeName(body) };
    case Opcode.FORGET:
      return { kind: "forget", nlookup: decodeForgetIn(body).nlookup };
    case Opcode.BATCH_FORGET:
      return { kind: "batchForget", forgets: decodeBatchForgetIn(body) };
    case Opcode.GETATTR:
      return { kind: "getattr", getattr: decodeGetattrIn(body) };
    case Opcode.SETATTR:
      return { kind: "setattr", setattr: decodeSetattrIn(body) };
    case Opcode.OPEN:
      return { kind: "open", open: decodeOpenIn(body) };
    case Opcode.OPENDIR:
      return { kind: "opendir", open: decodeOpenIn(body) };
    case Opcode.READ:
      return { kind: "read", read: decodeReadIn(body) };
    case Opcode.READDIR:
      return { kind: "readdir", read: decodeReadIn(body) };
    case Opcode.READDIRPLUS:
      return { kind: "readdirplus", read: decodeReadIn(body) };
    case Opcode.WRITE:
      return { kind: "write", write: decodeWriteIn(body) };
    case Opcode.RELEASE:
      return { kind: "release", release: decodeReleaseIn(body) };
    case Opcode.RELEASEDIR:
      return { kind: "releasedir", release: decodeReleaseIn(body) };
    case Opcode.FLUSH:
      return { kind: "flush", flush: decodeFlushIn(body) };
    case Opcode.FSYNC:
      return { kind: "fsync", fsync: decodeFsyncIn(body) };
    case Opcode.FSYNCDIR:
      return { kind: "fsyncdir", fsync: decodeFsyncIn(body) };
    case Opcode.ACCESS:
      return { kind: "access", access: decodeAccessIn(body) };
    case Opcode.INTERRUPT:
      return { kind: "interrupt", target: decodeInterruptIn(body).unique };
    case Opcode.STATFS:
      return { kind: "statfs" };
    case Opcode.DESTROY:
      return { kind: "destroy" };
    default:
      return { kind: "other" };
  }
}
