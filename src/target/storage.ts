/**
 * The exported file or block device: open it once, know its size in sectors, and
 * move sectors in and out of it asynchronously.
 *
 * A transfer is first tried with RWF_NOWAIT (ffi/fileio.ts): data in the page
 * cache moves at once, on the loop's thread, without a thread hop. Anything that
 * would wait for the disk goes through node:fs's callback API, which Bun runs on
 * its thread pool: the event loop never waits for the disk, and many transfers
 * are in flight at once (the caller bounds how many). FLUSH is fdatasync, for
 * real: the reply to an ATA FLUSH CACHE leaves only once the data is on stable
 * storage.
 */
import fs from "node:fs";
import { blockDeviceSize } from "../../ffi/blockdev.ts";
import { expectOtherWork } from "../net/loop.ts";
import { AioContext } from "../../ffi/linux/aio.ts";
import { errnoName } from "../../ffi/errno.ts";
import { nowaitAvailable, onMemoryFs, readAt, readNowait, readvAt, UNSUPPORTED, writeAt, writeNowait } from "../../ffi/fileio.ts";

export const SECTOR_SIZE = 512;

/** An inline page-cache write slower than this means the kernel is throttling: back off (ms). */
const INLINE_SLOW_MS = 2;
/** How long writes go through the thread pool after a slow inline one (ms). */
const INLINE_BACKOFF_MS = 500;

export interface StorageOptions {
  path: string;
  readOnly: boolean;
  /** O_DIRECT: buffers handed to read/write must be 4096-aligned */
  direct: boolean;
  /** O_SYNC */
  sync: boolean;
  /** sectors at the start of the file that are not exported (vblade -o) */
  offsetSectors: number;
  /** sectors exported (vblade -l); default: all that follow the offset */
  lengthSectors?: number;
}

/** The export cannot be opened as asked; `usage` marks a command-line mistake (exit 2) rather than a runtime one (exit 1). */
export class StorageError extends Error {
  constructor(
    message: string,
    readonly usage = false,
  ) {
    super(message);
    this.name = "StorageError";
  }
}

export type IoDone = (err: NodeJS.ErrnoException | null) => void;

export class Storage {
  private closed = false;
  /**
   * Try RWF_NOWAIT first? Not with O_DIRECT (a direct transfer waits for the device
   * even with NOWAIT) nor, for writes, O_SYNC (every write waits by definition);
   * switched off for good the first time the kernel says it cannot.
   */
  private nowaitReads: boolean;
  private nowaitWrites: boolean;
  /**
   * Buffered writes to a disk-backed file: the kernel here refuses RWF_NOWAIT for them
   * (ext4 on 6.x: EOPNOTSUPP for every write, measured), which sent every write
   * through the thread pool, a thread hop per request: 0.26-0.42x vblade under the
   * Linux driver. So they are done inline into the page cache, as vblade does them,
   * a memory copy; but when one takes longer than INLINE_SLOW_MS (the kernel
   * throttling dirty pages, or allocating on a slow disk) the export goes back to the
   * thread pool for INLINE_BACKOFF_MS, so that a stalled disk never stalls the loop
   * for long.
   */
  private readonly inlineWrites: boolean;
  private inlineBackoffUntil = 0;
  /**
   * A file on tmpfs/ramfs: transfers are memory copies that never wait for a device,
   * so readNow/writeNow do them at once with plain pread/pwrite, as vblade does
   * (the kernel refuses RWF_NOWAIT there, which sent every request through the
   * thread pool: half the rate of the no-storage ceiling, measured by bench/).
   */
  private readonly memoryFs: boolean;
  /**
   * O_DIRECT on Linux: native AIO, as many transfers at the disk as the export
   * allows. Bun's thread pool has one thread per CPU, which capped an O_DIRECT
   * export at 2 transfers in flight on a 2-CPU machine (bench/: 5-36k random 4 KiB
   * reads/s against the disk's 129k at 32 in flight). Created at the first
   * transfer; undefined when unavailable (then the thread pool, as before).
   */
  private aio: AioContext | undefined | null = undefined;

  private constructor(
    readonly path: string,
    readonly fd: number,
    readonly kind: "file" | "block device",
    /** sectors exported */
    readonly sectors: number,
    /** byte position of exported sector 0 */
    private readonly base: number,
    readonly readOnly: boolean,
    readonly direct: boolean,
    readonly sync: boolean,
  ) {
    this.nowaitReads = nowaitAvailable && !direct;
    this.nowaitWrites = nowaitAvailable && !direct && !sync && !readOnly;
    this.inlineWrites = !direct && !sync && !readOnly;
    this.memoryFs = kind === "file" && onMemoryFs(fd);
  }

  /** Open synchronously at start-up; throws StorageError with a message that says what to do. */
  static open(o: StorageOptions): Storage {
    const c = fs.constants;
    let flags = o.readOnly ? c.O_RDONLY : c.O_RDWR;
    if (o.direct) flags |= c.O_DIRECT;
    if (o.sync) flags |= c.O_SYNC;
    let fd: number;
    try {
      fd = fs.openSync(o.path, flags);
    } catch (e) {
      throw new StorageError(openFailure(o.path, e as NodeJS.ErrnoException, o));
    }
    try {
      const st = fs.fstatSync(fd);
      let bytes: number;
      let kind: "file" | "block device";
      if (st.isBlockDevice()) {
        kind = "block device";
        bytes = blockDeviceSize(fd);
      } else if (st.isFile()) {
        kind = "file";
        bytes = st.size;
      } else {
        throw new StorageError(`${o.path} is neither a regular file nor a block device: export a file or a disk`);
      }
      const total = Math.floor(bytes / SECTOR_SIZE);
      // Not the offset's fault: say what is wrong with the file itself.
      if (total === 0) {
        throw new StorageError(`${o.path} is smaller than one ${SECTOR_SIZE}-byte sector (${bytes} bytes): nothing to export`);
      }
      if (o.offsetSectors >= total) {
        throw new StorageError(
          `offset ${o.offsetSectors} (-o) is not below the size of ${o.path} (${total} sectors): give a smaller offset`,
          true,
        );
      }
      let sectors = total - o.offsetSectors;
      if (o.lengthSectors !== undefined) {
        if (o.lengthSectors > sectors) {
          throw new StorageError(
            `length ${o.lengthSectors} (-l) exceeds the ${sectors} sectors of ${o.path} after offset ${o.offsetSectors}: give a smaller length`,
            true,
          );
        }
        sectors = o.lengthSectors;
      }
      return new Storage(o.path, fd, kind, sectors, o.offsetSectors * SECTOR_SIZE, o.readOnly, o.direct, o.sync);
    } catch (e) {
      fs.closeSync(fd);
      if (e instanceof StorageError) throw e;
      throw new StorageError(`cannot size ${o.path}: ${(e as Error).message}`);
    }
  }

  /**
   * Read now if the data is cached: true when `into` holds the sectors, false when
   * the caller must use read() instead (nothing to undo then).
   */
  readNow(lba: number, count: number, into: Uint8Array): boolean {
    if (this.memoryFs) return readAt(this.fd, into, 0, count * SECTOR_SIZE, this.base + lba * SECTOR_SIZE) === count * SECTOR_SIZE;
    if (!this.nowaitReads) return false;
    const length = count * SECTOR_SIZE;
    const n = readNowait(this.fd, into, 0, length, this.base + lba * SECTOR_SIZE);
    if (n === length) return true;
    if (n === UNSUPPORTED) this.nowaitReads = false;
    return false; // would block, short (EOF or partly cached), or failed: read() sorts it out
  }

  /**
   * Read a run of contiguous sectors into consecutive buffers (whole sectors each) now,
   * in one system call, if the data is in memory; false: read each with read().
   */
  readRunNow(lba: number, into: readonly Uint8Array[]): boolean {
    if (!this.memoryFs && !this.nowaitReads) return false;
    const n = readvAt(this.fd, into, this.base + lba * SECTOR_SIZE, !this.memoryFs);
    if (n === UNSUPPORTED && !this.memoryFs) this.nowaitReads = false;
    let bytes = 0;
    for (const b of into) bytes += b.length;
    return n === bytes;
  }

  /** Write now if the page cache takes it without waiting; false: use write(). */
  writeNow(lba: number, count: number, from: Uint8Array): boolean {
    if (this.memoryFs && !this.readOnly) return writeAt(this.fd, from, 0, count * SECTOR_SIZE, this.base + lba * SECTOR_SIZE) === count * SECTOR_SIZE;
    const length = count * SECTOR_SIZE;
    const position = this.base + lba * SECTOR_SIZE;
    if (this.nowaitWrites) {
      const n = writeNowait(this.fd, from, 0, length, position);
      if (n === length) return true;
      if (n !== UNSUPPORTED) return false; // would wait: write() does it (a partial write is done again in full)
      this.nowaitWrites = false;
    }
    if (!this.inlineWrites) return false;
    const t0 = performance.now();
    if (t0 < this.inlineBackoffUntil) return false;
    const n = writeAt(this.fd, from, 0, length, position);
    const t1 = performance.now();
    if (t1 - t0 > INLINE_SLOW_MS) this.inlineBackoffUntil = t1 + INLINE_BACKOFF_MS;
    return n === length; // failed or short: write() does it again and reports the error
  }

  /** Read `count` sectors at `lba` into `into` (at least count*512 bytes). Holes and bytes past EOF read as zeroes. */
  read(lba: number, count: number, into: Uint8Array, done: IoDone): void {
    const length = count * SECTOR_SIZE;
    const position = this.base + lba * SECTOR_SIZE;
    const aio = this.nativeAio();
    if (aio && aio.read(this.fd, into, 0, length, position, (n) => this.aioReadDone(n, into, length, position, done))) return;
    fs.read(this.fd, into, 0, length, position, pooled((err, n) => {
      if (err || n === length) return done(err);
      this.readRest(into, n, length, position, done);
    }));
  }

  private aioReadDone(n: number, into: Uint8Array, length: number, position: number, done: IoDone): void {
    if (n < 0) return done(aioError(-n, "read"));
    if (n === length) return done(null);
    this.readRest(into, n, length, position, done);
  }

  private nativeAio(): AioContext | undefined {
    if (this.aio === undefined) {
      this.aio = null;
      if (this.direct && process.platform === "linux") {
        try {
          this.aio = new AioContext(256);
        } catch {
          // no native AIO here: the thread pool it is
        }
      }
    }
    return this.aio ?? undefined;
  }

  /** Short read (file shrank under us, or a signal): continue, then zero-fill what EOF left. */
  private readRest(into: Uint8Array, got: number, length: number, position: number, done: IoDone): void {
    if (got === 0 || this.direct) {
      // O_DIRECT cannot continue at an unaligned position; a short direct read only happens at EOF
      into.fill(0, got, length);
      return done(null);
    }
    fs.read(this.fd, into, got, length - got, position + got, pooled((err, n) => {
      if (err) return done(err);
      if (n === 0) {
        into.fill(0, got, length);
        return done(null);
      }
      if (got + n === length) return done(null);
      this.readRest(into, got + n, length, position, done);
    }));
  }

  /** Write `count` sectors at `lba` from `from`. */
  write(lba: number, count: number, from: Uint8Array, done: IoDone): void {
    const length = count * SECTOR_SIZE;
    const position = this.base + lba * SECTOR_SIZE;
    this.writeFrom(from, 0, length, position, done);
  }

  /** Write consecutive buffers (whole sectors each) as one transfer starting at `lba`. */
  writeRun(lba: number, buffers: Uint8Array[], done: IoDone): void {
    this.writeViews(buffers, this.base + lba * SECTOR_SIZE, done);
  }

  private writeViews(views: Uint8Array[], position: number, done: IoDone): void {
    const aio = this.nativeAio();
    if (aio && aio.writev(this.fd, views, position, (n) => (n < 0 ? done(aioError(-n, "write")) : this.writevRest(views, n, position, done)))) return;
    fs.writev(this.fd, views, position, pooled((err, n) => {
      if (err) return done(err);
      this.writevRest(views, n, position, done);
    }));
  }

  /** After `n` bytes of `views` went out: done, or continue with the rest. */
  private writevRest(views: Uint8Array[], n: number, position: number, done: IoDone): void {
    // a short pwritev (a full disk, a signal): continue after what went out
    let rest = n;
    let i = 0;
    while (i < views.length && rest >= views[i]!.length) rest -= views[i++]!.length;
    if (i === views.length) return done(null);
    if (n === 0) return done(Object.assign(new Error("write made no progress"), { code: "EIO" }));
    const remaining = views.slice(i);
    remaining[0] = remaining[0]!.subarray(rest);
    this.writeViews(remaining, position + n, done);
  }

  private writeFrom(from: Uint8Array, at: number, length: number, position: number, done: IoDone): void {
    const aio = this.nativeAio();
    if (
      aio &&
      aio.write(this.fd, from, at, length - at, position + at, (n) => {
        if (n < 0) return done(aioError(-n, "write"));
        if (at + n === length) return done(null);
        if (n === 0) return done(Object.assign(new Error("write made no progress"), { code: "EIO" }));
        this.writeFrom(from, at + n, length, position, done);
      })
    )
      return;
    fs.write(this.fd, from, at, length - at, position + at, pooled((err, n) => {
      if (err) return done(err);
      if (at + n === length) return done(null);
      if (n === 0) return done(Object.assign(new Error("write made no progress"), { code: "EIO" }));
      this.writeFrom(from, at + n, length, position, done);
    }));
  }

  /** fdatasync: everything written before the call is on stable storage when `done` runs. */
  flush(done: IoDone): void {
    fs.fdatasync(this.fd, pooled(done));
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.aio?.close();
    fs.closeSync(this.fd);
  }
}

/**
 * A thread-pool completion: while it is outstanding the poller's hot phase must not
 * block the main thread in poll() (the completion arrives through Bun's loop, not
 * through a descriptor the poller watches).
 */
function pooled<A extends unknown[]>(cb: (...a: A) => void): (...a: A) => void {
  const release = expectOtherWork();
  return (...a: A) => {
    release();
    cb(...a);
  };
}

/** An errno from a native AIO completion, shaped like node:fs's errors. */
function aioError(errno: number, what: string): NodeJS.ErrnoException {
  const code = errnoName(errno);
  return Object.assign(new Error(`${what} failed: ${code}`), { code, errno: -errno });
}

function openFailure(path: string, e: NodeJS.ErrnoException, o: StorageOptions): string {
  switch (e.code) {
    case "ENOENT":
      return `cannot open ${path}: no such file; give an existing file or block device`;
    case "EACCES":
    case "EPERM":
      return o.readOnly
        ? `cannot open ${path}: permission denied; run as a user that may read it`
        : `cannot open ${path} for writing: permission denied; run as a user that may write it, or export it read-only with -r`;
    case "EROFS":
      return `cannot open ${path} for writing: read-only file system; export it read-only with -r`;
    case "EISDIR":
      return `cannot export ${path}: it is a directory; give a file or block device`;
    case "EINVAL":
      return o.direct
        ? `cannot open ${path} with O_DIRECT (-d): the file system does not support it; drop -d`
        : `cannot open ${path}: invalid argument`;
    case "EBUSY":
      return `cannot open ${path}: device busy (mounted or in use); release it first`;
    default:
      return `cannot open ${path}: ${e.code ?? ""} ${e.message}`.trim();
  }
}
