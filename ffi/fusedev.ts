/**
 * /dev/fuse, the descriptor a FUSE server reads requests from and writes replies to:
 * open, one request per read(2), one reply per write(2) or writev(2), close. Linux
 * and FreeBSD alike; mounting is ffi/linux/fuse.ts and ffi/freebsd/fuse.ts.
 *
 * The descriptor is non-blocking: the process's poller (ffi/poller.ts) says when a
 * request waits, and the main thread never sits in read(2) (it would run no timers
 * and no signal handlers; ../shared/notes/fuse-direct.md, pitfall 3).
 */
import { putIovec } from "./iovec.ts";
import { dlopen, ptr } from "bun:ffi";
import { errnoName } from "./errno.ts";
import { cString, errno, lastError, libc, LIBC_PATH, strerror } from "./libc.ts";

const isFreeBSD = process.platform === "freebsd";
const O_RDWR = 0x2;
const O_NONBLOCK = isFreeBSD ? 0x4 : 0x800;
const O_CLOEXEC = isFreeBSD ? 0x0010_0000 : 0x8_0000;
/** not in ffi/errno.ts's table: 103 on Linux, 53 on FreeBSD */
const ECONNABORTED = isFreeBSD ? 53 : 103;

const lib = dlopen(LIBC_PATH, { writev: { args: ["i32", "ptr", "i32"], returns: "i32" } });

/** /dev/fuse could not be opened or used: code is the errno name. */
export class FuseDeviceError extends Error {
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
    this.name = "FuseDeviceError";
  }
}

/** read() found no request waiting (EAGAIN; EINTR and ENOENT are retried by the caller the same way) */
export const READ_AGAIN = 0;
/** read() says the connection is over: unmounted or aborted (ENODEV, ECONNABORTED) */
export const READ_GONE = -1;

export class FuseDevice {
  #closed = false;
  /** two iovecs {base u64, len u64}, written as 32-bit halves */
  readonly #iov = new Uint32Array(new ArrayBuffer(32));

  private constructor(readonly fd: number) {}

  /** Opens /dev/fuse O_RDWR | O_NONBLOCK | O_CLOEXEC. */
  static open(path = "/dev/fuse"): FuseDevice {
    const fd = libc.open(cString(path), O_RDWR | O_NONBLOCK | O_CLOEXEC, 0);
    if (fd < 0) {
      const e = lastError();
      const hint =
        e.code === "ENOENT" || e.code === "ENODEV"
          ? isFreeBSD ? " (kldload fusefs)" : " (modprobe fuse)"
          : e.code === "EACCES" || e.code === "EPERM" ? " (mounting needs root)" : "";
      throw new FuseDeviceError(e.code, `cannot open ${path}: ${e.text}${hint}`);
    }
    return new FuseDevice(fd);
  }

  get closed(): boolean {
    return this.#closed;
  }

  /**
   * Reads one request into `buf` (which must hold max_write + 80 bytes, or the kernel
   * refuses with EINVAL). Returns its length, READ_AGAIN or READ_GONE; throws
   * FuseDeviceError for anything else.
   */
  read(buf: Uint8Array): number {
    const n = libc.read(this.fd, buf, buf.length);
    if (n > 0) return n;
    if (n === 0) return READ_GONE; // not a thing /dev/fuse does; treat as the end
    const e = errno();
    const code = errnoName(e);
    if (code === "EAGAIN" || code === "EINTR" || code === "ENOENT") return READ_AGAIN;
    if (code === "ENODEV" || e === ECONNABORTED) return READ_GONE;
    throw new FuseDeviceError(code, `read /dev/fuse: ${strerror(e)}`);
  }

  /** Writes one whole message (buf[0..len)). Returns undefined, or the errno name it failed with. */
  write(buf: Uint8Array, len: number): string | undefined {
    const n = libc.write(this.fd, buf, len);
    return n === len ? undefined : n < 0 ? errnoName(errno()) : "EIO";
  }

  /**
   * Writes head[0..headLen) and data as one message (writev: a large READ reply is
   * not copied behind its header). Returns undefined, or the errno name.
   */
  write2(head: Uint8Array, headLen: number, data: Uint8Array): string | undefined {
    if (data.length === 0) return this.write(head, headLen);
    const iov = this.#iov;
    putIovec(iov, 0, ptr(head), headLen);
    putIovec(iov, 1, ptr(data), data.length);
    const n = lib.symbols.writev(this.fd, iov, 2);
    return n === headLen + data.length ? undefined : n < 0 ? errnoName(errno()) : "EIO";
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    libc.close(this.fd);
  }
}


