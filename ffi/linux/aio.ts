/**
 * Linux native AIO (io_setup, io_submit, io_getevents) for O_DIRECT transfers:
 * as many reads and writes in flight as the caller submits, with no thread per
 * transfer. Completions signal an eventfd that the process's poller watches, so
 * they arrive on the event loop like frames do, batched, and an idle context
 * costs nothing.
 *
 * Why not the runtime's thread pool: Bun runs blocking file I/O on a pool of
 * one thread per CPU, so on a 2-CPU machine at most 2 transfers reach the disk
 * at once, whatever the target's buffer count (measured by bench/: 22-28k 4 KiB
 * O_DIRECT reads/s through fs.read against 129k with 32 in flight through AIO).
 *
 * Native AIO is asynchronous only with O_DIRECT (a buffered io_submit does the
 * copy inline): use it for O_DIRECT descriptors only.
 *
 * Layouts (x86-64 and aarch64 Linux, <linux/aio_abi.h>):
 *   struct iocb (64): aio_data u64 @0, aio_key u32 @8, aio_rw_flags @12,
 *     aio_lio_opcode u16 @16, aio_reqprio @18, aio_fildes u32 @20, aio_buf u64 @24,
 *     aio_nbytes u64 @32, aio_offset s64 @40, reserved @48, aio_flags u32 @56,
 *     aio_resfd u32 @60
 *   struct io_event (32): data u64 @0, obj u64 @8, res s64 @16, res2 s64 @24
 */
import { dlopen, ptr } from "bun:ffi";
import { errnoName } from "../errno.ts";
import { errno, LIBC_PATH, libc, linuxLibc } from "../libc.ts";
import { sharedPoller, type Poller } from "../poller.ts";

const SYS =
  process.arch === "arm64"
    ? { setup: 0, destroy: 1, submit: 2, getevents: 4 }
    : { setup: 206, destroy: 207, getevents: 208, submit: 209 };

const IOCB_LEN = 64;
const EVENT_LEN = 32;
const IOCB_CMD_PREAD = 0;
const IOCB_CMD_PWRITE = 1;
const IOCB_CMD_PWRITEV = 8;
/** most buffers one vectored write carries */
export const AIO_MAX_IOV = 64;
const IOVEC_LEN = 16;
const IOCB_FLAG_RESFD = 1;
const EFD_NONBLOCK = 0x800;
const EFD_CLOEXEC = 0x80000;

const lib =
  process.platform === "linux"
    ? dlopen(LIBC_PATH, {
        // long syscall(long, ...): integer-class arguments, passed in registers on x86-64 and aarch64
        syscall: { args: ["i64", "i64", "i64", "i64", "i64", "i64"], returns: "i32" },
      })
    : undefined;

function sys(n: number, a = 0, b = 0, c = 0, d = 0, e = 0): number {
  return lib!.symbols.syscall(n, a, b, c, d, e);
}

/** Completion: bytes transferred (>= 0), or -errno. */
export type AioDone = (result: number) => void;

export class AioError extends Error {
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
    this.name = "AioError";
  }
}

export class AioContext {
  readonly capacity: number;
  #ctx: number;
  readonly #efd: number;
  readonly #poller: Poller;
  readonly #iocbs: Uint8Array;
  readonly #iocbView: DataView;
  readonly #iocbAddr: number;
  /** one pointer to each iocb: io_submit takes an array of pointers */
  readonly #ptrs: Uint8Array;
  readonly #ptrsView: DataView;
  readonly #ptrsAddr: number;
  readonly #events: Uint8Array;
  readonly #eventsView: DataView;
  readonly #eventsAddr: number;
  readonly #timeout = new BigInt64Array(new ArrayBuffer(16)); // {0, 0}: do not wait
  readonly #drain = new Uint8Array(new ArrayBuffer(8));
  /** per slot, room for AIO_MAX_IOV iovecs (vectored writes) */
  readonly #iovecs: Uint8Array;
  readonly #iovView: DataView;
  readonly #iovAddr: number;
  readonly #free: number[] = [];
  readonly #done: (AioDone | undefined)[];
  /** buffers the kernel is reading or writing: referenced until their completion */
  readonly #buffers: (Uint8Array | Uint8Array[] | undefined)[];
  #inFlight = 0;
  #watched = false;
  #closed = false;

  /** Throws AioError when the kernel has no AIO (ENOSYS) or no room for the context (EAGAIN: fs.aio-max-nr). */
  constructor(capacity = 256, poller: Poller = sharedPoller()) {
    if (!lib || !linuxLibc) throw new AioError("ENOSYS", "native AIO is Linux-only");
    this.capacity = capacity;
    this.#poller = poller;
    const ctx = new BigUint64Array(new ArrayBuffer(8));
    if (sys(SYS.setup, capacity, ptr(ctx)) !== 0) {
      const e = errnoName(errno());
      throw new AioError(e, `io_setup failed: ${e}`);
    }
    this.#ctx = Number(ctx[0]!);
    const efd = linuxLibc.eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (efd < 0) {
      const e = errnoName(errno());
      sys(SYS.destroy, this.#ctx);
      throw new AioError(e, `eventfd failed: ${e}`);
    }
    this.#efd = efd;
    this.#iocbs = new Uint8Array(new ArrayBuffer(capacity * IOCB_LEN));
    this.#iocbView = new DataView(this.#iocbs.buffer);
    this.#iocbAddr = ptr(this.#iocbs);
    this.#ptrs = new Uint8Array(new ArrayBuffer(capacity * 8));
    this.#ptrsView = new DataView(this.#ptrs.buffer);
    this.#ptrsAddr = ptr(this.#ptrs);
    this.#events = new Uint8Array(new ArrayBuffer(capacity * EVENT_LEN));
    this.#eventsView = new DataView(this.#events.buffer);
    this.#eventsAddr = ptr(this.#events);
    this.#iovecs = new Uint8Array(new ArrayBuffer(capacity * AIO_MAX_IOV * IOVEC_LEN));
    this.#iovView = new DataView(this.#iovecs.buffer);
    this.#iovAddr = ptr(this.#iovecs);
    this.#done = new Array(capacity).fill(undefined);
    this.#buffers = new Array(capacity).fill(undefined);
    for (let i = capacity - 1; i >= 0; i--) {
      this.#free.push(i);
      this.#ptrsView.setBigUint64(i * 8, BigInt(this.#iocbAddr + i * IOCB_LEN), true);
    }
    // Watched from the first transfer until close(): the poller keeps a process with a watched descriptor alive.
  }

  /** Transfers submitted and not yet completed. */
  get inFlight(): number {
    return this.#inFlight;
  }

  /**
   * Start reading `length` bytes at `position` of `fd` into buf[at..]. False when
   * no transfer could be started (every slot taken, or the kernel refused it:
   * EAGAIN, EINVAL for a descriptor without O_DIRECT): use another path then.
   */
  read(fd: number, buf: Uint8Array, at: number, length: number, position: number, done: AioDone): boolean {
    return this.#submit(IOCB_CMD_PREAD, fd, buf, at, length, position, done);
  }

  /** Start writing `length` bytes from buf[at..] at `position` of `fd`; false as for read(). */
  write(fd: number, buf: Uint8Array, at: number, length: number, position: number, done: AioDone): boolean {
    return this.#submit(IOCB_CMD_PWRITE, fd, buf, at, length, position, done);
  }

  /** Start writing `views` one after the other from `position` (one pwritev); false as for read(). */
  writev(fd: number, views: Uint8Array[], position: number, done: AioDone): boolean {
    if (views.length > AIO_MAX_IOV || this.#closed) return false;
    const i = this.#free.pop();
    if (i === undefined) return false;
    const iv = this.#iovView;
    let total = 0;
    for (let k = 0; k < views.length; k++) {
      const b = views[k]!;
      const o = (i * AIO_MAX_IOV + k) * IOVEC_LEN;
      const a = ptr(b);
      iv.setUint32(o, a >>> 0, true);
      iv.setUint32(o + 4, Math.floor(a / 0x100000000), true);
      iv.setUint32(o + 8, b.length, true);
      iv.setUint32(o + 12, 0, true);
      total += b.length;
    }
    void total;
    // aio_buf = the iovec array, aio_nbytes = how many iovecs
    return this.#start(i, IOCB_CMD_PWRITEV, fd, this.#iovAddr + i * AIO_MAX_IOV * IOVEC_LEN, views.length, position, views, done);
  }

  #submit(op: number, fd: number, buf: Uint8Array, at: number, length: number, position: number, done: AioDone): boolean {
    if (this.#closed) return false;
    const i = this.#free.pop();
    if (i === undefined) return false;
    return this.#start(i, op, fd, ptr(buf) + at, length, position, buf, done);
  }

  #start(i: number, op: number, fd: number, address: number, length: number, position: number, keep: Uint8Array | Uint8Array[], done: AioDone): boolean {
    const v = this.#iocbView;
    const o = i * IOCB_LEN;
    this.#iocbs.fill(0, o, o + IOCB_LEN);
    v.setUint32(o, i, true); // aio_data: the slot
    v.setUint16(o + 16, op, true);
    v.setUint32(o + 20, fd, true);
    v.setUint32(o + 24, address >>> 0, true);
    v.setUint32(o + 28, Math.floor(address / 0x100000000), true);
    v.setUint32(o + 32, length, true);
    v.setUint32(o + 40, position >>> 0, true);
    v.setUint32(o + 44, Math.floor(position / 0x100000000), true);
    v.setUint32(o + 56, IOCB_FLAG_RESFD, true);
    v.setUint32(o + 60, this.#efd, true);
    this.#done[i] = done;
    this.#buffers[i] = keep;
    const r = sys(SYS.submit, this.#ctx, 1, this.#ptrsAddr + i * 8);
    if (r !== 1) {
      this.#done[i] = undefined;
      this.#buffers[i] = undefined;
      this.#free.push(i);
      return false;
    }
    this.#inFlight++;
    if (!this.#watched) {
      this.#watched = true;
      this.#poller.add(this.#efd, this.#reap);
    }
    return true;
  }

  /** The eventfd is readable: collect every completion without waiting, run their callbacks. */
  readonly #reap = (): void => {
    libc.read(this.#efd, this.#drain, 8);
    const ev = this.#eventsView;
    for (;;) {
      const n = sys(SYS.getevents, this.#ctx, 0, this.capacity, this.#eventsAddr, ptr(this.#timeout));
      if (n <= 0) break;
      for (let k = 0; k < n; k++) {
        const o = k * EVENT_LEN;
        const i = ev.getUint32(o, true);
        // res is an s64; byte counts and -errno both fit in its low 32 bits
        const res = ev.getInt32(o + 16, true);
        const done = this.#done[i];
        this.#done[i] = undefined;
        this.#buffers[i] = undefined;
        this.#free.push(i);
        this.#inFlight--;
        done?.(res);
      }
      if (n < this.capacity) break;
    }
  };

  /** Tear down; transfers still in flight are waited for by the kernel (io_destroy), their callbacks dropped. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    if (this.#watched) this.#poller.remove(this.#efd);
    sys(SYS.destroy, this.#ctx);
    libc.close(this.#efd);
    this.#done.fill(undefined);
    this.#buffers.fill(undefined);
  }
}
