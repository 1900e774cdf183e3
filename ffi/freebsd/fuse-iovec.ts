/**
 * The argument of FreeBSD's nmount(2) for fusefs: an array of struct iovec, name and
 * value taking turns. Each string is NUL-terminated and its iov_len counts the NUL
 * (mount(8)'s build_iovec with len -1); a flag option (allow_other) has a NULL,
 * 0-length value. The kernel (sys/fs/fuse/fuse_vfsops.c) reads "fstype", "fspath",
 * "from", "fd" (decimal), the flags "allow_other", "default_permissions", "intr",
 * "push_symlinks_in", "linux_errnos", and the valued "max_read=", "subtype=",
 * "timeout=" (the '=' is part of those names).
 *
 * struct iovec (16 bytes on LP64): iov_base pointer @0, iov_len size_t @8.
 *
 * Pure apart from taking the buffers' addresses: unit-tested on Linux byte by byte.
 */
import { ptr } from "bun:ffi";

export const IOVEC_LEN = 8 + 8;

export interface FusefsMountOptions {
  mountpoint: string;
  /** the /dev/fuse descriptor */
  fd: number;
  allowOther: boolean;
  defaultPermissions: boolean;
  /** deliver signals to the server as INTERRUPT (FreeBSD sends none otherwise) */
  intr: boolean;
  /** shown as fusefs.<subtype> by mount(8) */
  subtype?: string;
  /** replies carry Linux errno numbers (FreeBSD 14.1+) */
  linuxErrnos?: boolean;
}

/** The name/value pairs, in mount_fusefs's order; a null value is a flag. */
export function fusefsMountPairs(o: FusefsMountOptions): [string, string | null][] {
  const pairs: [string, string | null][] = [
    ["fstype", "fusefs"],
    ["fspath", o.mountpoint],
    ["from", "/dev/fuse"],
    ["fd", String(o.fd)],
  ];
  if (o.allowOther) pairs.push(["allow_other", null]);
  if (o.defaultPermissions) pairs.push(["default_permissions", null]);
  if (o.intr) pairs.push(["intr", null]);
  if (o.linuxErrnos) pairs.push(["linux_errnos", null]);
  if (o.subtype) pairs.push(["subtype=", o.subtype]);
  return pairs;
}

export interface NmountIovec {
  /** niov × struct iovec */
  iov: Uint8Array;
  niov: number;
  /** the strings the iovecs point into: keep referenced until nmount returns */
  strings: Uint8Array[];
}

function cStringBuffer(s: string): Uint8Array {
  const bytes = new TextEncoder().encode(s);
  if (bytes.includes(0)) throw new RangeError(`nmount option ${JSON.stringify(s)} contains a NUL`);
  const b = new Uint8Array(new ArrayBuffer(bytes.length + 1));
  b.set(bytes);
  return b;
}

function putPointer(view: DataView, at: number, p: number, len: number): void {
  view.setBigUint64(at, BigInt(p), true);
  view.setBigUint64(at + 8, BigInt(len), true);
}

/** Builds the iovec array for `pairs`. */
export function buildNmountIovec(pairs: [string, string | null][]): NmountIovec {
  const niov = pairs.length * 2;
  const iov = new Uint8Array(new ArrayBuffer(niov * IOVEC_LEN));
  const view = new DataView(iov.buffer);
  const strings: Uint8Array[] = [];
  let at = 0;
  for (const [name, value] of pairs) {
    for (const s of [name, value]) {
      if (s === null) {
        putPointer(view, at, 0, 0);
      } else {
        const b = cStringBuffer(s);
        strings.push(b);
        putPointer(view, at, ptr(b), b.length);
      }
      at += IOVEC_LEN;
    }
  }
  return { iov, niov, strings };
}
