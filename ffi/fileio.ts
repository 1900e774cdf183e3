/**
 * File transfers that complete now or not at all: preadv2/pwritev2 with
 * RWF_NOWAIT. When the data is in the page cache (a read) or the page cache can
 * take it without waiting (a buffered write), the call finishes in about a
 * microsecond on the calling thread; when it would have to wait for the disk it
 * fails with EAGAIN instead of blocking. The target tries this first and hands
 * only the EAGAIN cases to the thread pool, so that cached I/O costs no thread
 * hop and the event loop still never waits for a disk.
 *
 * Linux only (RWF_NOWAIT appeared in 4.14 for reads; buffered writes honour it on
 * recent kernels, others answer EAGAIN or EOPNOTSUPP, which just means "go async").
 */
import { dlopen, ptr } from "bun:ffi";
import { errno, LIBC_PATH } from "./libc.ts";
import { Errno } from "./errno.ts";
import { IOVEC_LEN, putIovec } from "./iovec.ts";

const RWF_NOWAIT = 0x00000008;

const lib =
  process.platform === "linux"
    ? dlopen(LIBC_PATH, {
        preadv2: { args: ["i32", "ptr", "i32", "i64", "i32"], returns: "i32" },
        pwritev2: { args: ["i32", "ptr", "i32", "i64", "i32"], returns: "i32" },
        fstatfs: { args: ["i32", "ptr"], returns: "i32" },
      })
    : undefined;

/** One iovec, reused: {base u64, len u64} written as 32-bit halves (no BigInt per call). */
const iov = new Uint32Array(new ArrayBuffer(IOVEC_LEN));
const iovPtr = ptr(iov);

function setIov(buf: Uint8Array, at: number, length: number): void {
  putIovec(iov, 0, ptr(buf) + at, length);
}

/** Result of a non-blocking attempt: bytes moved, or that it would block / is unsupported. */
export const WOULD_BLOCK = -1;
export const UNSUPPORTED = -2;
/** any other failure: leave it to the ordinary (blocking, thread-pool) path to report */
export const FAILED = -3;

function outcome(n: number): number {
  if (n >= 0) return n;
  const e = errno();
  if (e === Errno.EAGAIN) return WOULD_BLOCK;
  if (e === Errno.EOPNOTSUPP || e === Errno.ENOSYS || e === Errno.EINVAL) return UNSUPPORTED;
  return FAILED;
}

/** True where RWF_NOWAIT transfers can be attempted at all. */
export const nowaitAvailable = lib !== undefined;

/** pread `length` bytes at `position` into buf[at..], only if no wait is needed. */
export function readNowait(fd: number, buf: Uint8Array, at: number, length: number, position: number): number {
  if (lib === undefined) return UNSUPPORTED;
  setIov(buf, at, length);
  return outcome(lib.symbols.preadv2(fd, iovPtr, 1, position, RWF_NOWAIT));
}

/** pwrite `length` bytes from buf[at..] at `position`, only if no wait is needed. */
export function writeNowait(fd: number, buf: Uint8Array, at: number, length: number, position: number): number {
  if (lib === undefined) return UNSUPPORTED;
  setIov(buf, at, length);
  return outcome(lib.symbols.pwritev2(fd, iovPtr, 1, position, RWF_NOWAIT));
}

/** Most buffers in one readvAt (the target merges at most this many contiguous reads). */
export const MAX_IOV = 64;
const iovs = new Uint32Array(new ArrayBuffer(IOVEC_LEN * MAX_IOV));
const iovsPtr = ptr(iovs);

/**
 * preadv into `bufs` (each filled whole, in order) from `position`: one system call
 * for a run of contiguous sectors (a system call costs 2-3 µs on the bench VM, a
 * 1 KiB copy far less). `nowait`: only if the data is cached (RWF_NOWAIT).
 */
export function readvAt(fd: number, bufs: readonly Uint8Array[], position: number, nowait: boolean): number {
  if (lib === undefined || bufs.length > MAX_IOV) return UNSUPPORTED;
  for (let i = 0; i < bufs.length; i++) putIovec(iovs, i, ptr(bufs[i]!), bufs[i]!.length);
  return outcome(lib.symbols.preadv2(fd, iovsPtr, bufs.length, position, nowait ? RWF_NOWAIT : 0));
}

/** pread now, waiting if need be: for files on memory file systems, where nothing waits for a disk. */
export function readAt(fd: number, buf: Uint8Array, at: number, length: number, position: number): number {
  if (lib === undefined) return UNSUPPORTED;
  setIov(buf, at, length);
  return outcome(lib.symbols.preadv2(fd, iovPtr, 1, position, 0));
}

/** pwrite now, waiting if need be: for files on memory file systems. */
export function writeAt(fd: number, buf: Uint8Array, at: number, length: number, position: number): number {
  if (lib === undefined) return UNSUPPORTED;
  setIov(buf, at, length);
  return outcome(lib.symbols.pwritev2(fd, iovPtr, 1, position, 0));
}

const TMPFS_MAGIC = 0x01021994;
const RAMFS_MAGIC = 0x858458f6;

/**
 * True when `fd` is a file on tmpfs or ramfs (/dev/shm, /run): its data is memory,
 * a transfer never waits for a device, and the kernel refuses RWF_NOWAIT there
 * (EOPNOTSUPP, measured on 6.18) — so the thread pool would be a hop for nothing.
 */
export function onMemoryFs(fd: number): boolean {
  if (lib === undefined) return false;
  const st = new BigInt64Array(new ArrayBuffer(128)); // struct statfs: f_type (long) first; 120 bytes on x86-64 and aarch64
  if (lib.symbols.fstatfs(fd, st) !== 0) return false;
  const type = Number(BigInt.asUintN(32, st[0]!));
  return type === TMPFS_MAGIC || type === RAMFS_MAGIC;
}
