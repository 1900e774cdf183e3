/**
 * The FUSE server loop: reads requests from a non-blocking /dev/fuse descriptor when
 * the process's poller says it is readable, hands each to the Vfs (ops.ts), and writes
 * each reply whenever the Vfs answers, so that many requests are outstanding at once.
 *
 * - At most `requestsPerTurn` requests per wake: the poller re-polls and wakes again
 *   at once if more wait, and timers, signals and other descriptors get their turn in
 *   between (draining until EAGAIN stalled the loop ~1 s under streaming load:
 *   ../shared/notes/fuse-direct.md, pitfall 2). The thread never blocks in read(2).
 * - The read buffer holds the largest request (max_write + a page, pitfall 1). A WRITE
 *   whose Vfs answer is a promise keeps its buffer (its data is a view into it) until
 *   the promise settles; the next read goes into a spare. When `maxReadBuffers` are
 *   all held, the data is copied instead.
 * - INTERRUPT (pitfall 4): a pending target is answered EINTR at once and its late
 *   answer dropped; an unknown target was already answered, and is ignored.
 * - Notifications go out from a Worker (ffi/fusenotify.ts, pitfall 11).
 * - The end: read(2) says ENODEV (unmounted, aborted); the descriptor leaves the
 *   poller and is closed, and `done` resolves.
 */
import { consola } from "consola";
import { READ_AGAIN, READ_GONE, type FuseDevice } from "../../ffi/fusedev.ts";
import { FuseNotifier } from "../../ffi/fusenotify.ts";
import { sharedPoller, type Poller } from "../../ffi/poller.ts";
import { OUT_HEADER_LEN, encodeOutHeader, peekInHeader } from "./header.ts";
import { DecodeError } from "./errors.ts";
import { DEFAULT_INIT_OPTIONS, readBufferSize, type InitOptions } from "./negotiate.ts";
import { encodeNotifyInvalEntry } from "./notify.ts";
import { FuseOps, type OpsOptions, type Replier } from "./ops.ts";
import { decodeRequest } from "./request.ts";
import { replyError, type FuseOs, type ReplyErrno } from "./errno.ts";
import { Opcode } from "./proto.ts";
import type { Vfs } from "./vfs.ts";

/** What the server needs of /dev/fuse (FuseDevice; tests pass a scripted one). */
export type FuseChannel = Pick<FuseDevice, "fd" | "read" | "write" | "write2" | "close">;

export interface ServerOptions extends OpsOptions {
  os: FuseOs;
  init: InitOptions;
  /** requests read per poller wake */
  requestsPerTurn: number;
  /** read buffers (each max_write + 4 KiB) that WRITEs in flight may hold */
  maxReadBuffers: number;
  /** where unexpected failures are told (default: consola.warn) */
  onError: (message: string, error?: unknown) => void;
}

export interface ServerStats {
  requests: number;
  malformed: number;
  /** requests whose Vfs answer is still to come */
  inFlight: number;
  /** the most that were at once */
  maxInFlight: number;
  interrupted: number;
  /** replies the kernel no longer waited for (ENOENT: caller interrupted or killed) */
  repliesLost: number;
  notifications: number;
  readBuffers: number;
  /** WRITE payloads copied because every read buffer was held */
  writeCopies: number;
}

/** Reply bodies up to this size are copied behind the header (one write); larger ones go by writev. */
const COPY_LIMIT = 64 * 1024;
/** Room for the largest reply built in place (READDIR offers up to 32 KiB seen; some pages more). */
const OUT_BUFFER = 256 * 1024;

export function defaultServerOptions(): ServerOptions {
  return {
    os: process.platform === "freebsd" ? "freebsd" : "linux",
    init: DEFAULT_INIT_OPTIONS,
    requestsPerTurn: 8,
    maxReadBuffers: 8,
    entryTimeout: 1,
    attrTimeout: 1,
    uid: process.getuid?.() ?? 0,
    gid: process.getgid?.() ?? 0,
    onError: (message, error) => consola.warn(`fuse: ${message}${error ? `: ${(error as Error)?.message ?? error}` : ""}`),
  };
}

interface Pending {
  interrupted: boolean;
}

export class FuseServer implements Replier {
  readonly #ch: FuseChannel;
  readonly #opts: ServerOptions;
  readonly #ops: FuseOps;
  readonly #poller: Poller;
  readonly #notifier: FuseNotifier;
  readonly #out = new Uint8Array(new ArrayBuffer(OUT_BUFFER));
  readonly #bufferSize: number;
  #buf: Uint8Array;
  readonly #spare: Uint8Array[] = [];
  readonly #pending = new Map<bigint, Pending>();
  #stats: ServerStats = {
    requests: 0, malformed: 0, inFlight: 0, maxInFlight: 0, interrupted: 0, repliesLost: 0, notifications: 0, readBuffers: 1, writeCopies: 0,
  };
  #started = false;
  #finished = false;
  #resolveDone!: () => void;
  #rejectDone!: (e: Error) => void;
  /** resolves when the connection has ended and the descriptor is closed */
  readonly done: Promise<void>;
  #resolveInit!: () => void;
  #rejectInit!: (e: Error) => void;
  /** resolves once INIT is answered */
  readonly initialized: Promise<void>;

  constructor(channel: FuseChannel, vfs: Vfs, opts: Partial<ServerOptions> = {}, poller: Poller = sharedPoller()) {
    this.#ch = channel;
    this.#opts = { ...defaultServerOptions(), ...opts };
    this.#poller = poller;
    this.#bufferSize = readBufferSize(this.#opts.init.maxWrite);
    this.#buf = new Uint8Array(new ArrayBuffer(this.#bufferSize));
    this.#ops = new FuseOps(vfs, this, this.#opts);
    this.#notifier = new FuseNotifier(channel.fd, (error) => {
      if (error && error !== "ENOENT" && error !== "ENODEV" && error !== "ENOTCONN") this.#opts.onError(`notification failed: ${error}`);
    });
    this.done = new Promise((resolve, reject) => ((this.#resolveDone = resolve), (this.#rejectDone = reject)));
    this.initialized = new Promise((resolve, reject) => ((this.#resolveInit = resolve), (this.#rejectInit = reject)));
    this.done.catch(() => {});
    this.initialized.catch(() => {});
    vfs.onInvalidate = (parent, name) => this.invalidateEntry(parent, name);
  }

  get stats(): ServerStats {
    return { ...this.#stats, inFlight: this.#pending.size };
  }

  get finished(): boolean {
    return this.#finished;
  }

  /** Starts reading: call once the file system is mounted (before, /dev/fuse refuses reads). */
  start(): void {
    if (this.#started) return;
    this.#started = true;
    this.#poller.add(this.#ch.fd, this.#onReadable);
  }

  readonly #onReadable = (): void => {
    if (this.#finished) return;
    for (let i = 0; i < this.#opts.requestsPerTurn; i++) {
      let n: number;
      try {
        n = this.#ch.read(this.#buf);
      } catch (e) {
        this.#finish(e as Error);
        return;
      }
      if (n === READ_AGAIN) return;
      if (n === READ_GONE) {
        this.#finish();
        return;
      }
      this.#stats.requests++;
      this.#handle(this.#buf.subarray(0, n));
    }
  };

  #handle(msg: Uint8Array): void {
    let req;
    try {
      req = decodeRequest(msg);
    } catch (e) {
      if (!(e instanceof DecodeError)) throw e;
      this.#stats.malformed++;
      this.#opts.onError(`malformed request (${msg.length} bytes)`, e);
      // Answer it if it can be answered at all, so no caller waits forever.
      const peek = peekInHeader(msg);
      if (peek && peek.unique !== 0n && !noReply(peek.opcode)) this.replyErrno(peek.unique, "EINVAL");
      return;
    }
    if (req.header.unique === 0n && !noReply(req.header.opcode)) {
      // unique 0 names no request (a reply to it would read as a notification)
      this.#stats.malformed++;
      return;
    }
    this.#ops.dispatch(req);
  }

  // --- Replier: what ops.ts answers with ---------------------------------------------

  /** The reply body is built here, at OUT_HEADER_LEN. */
  get out(): Uint8Array {
    return this.#out;
  }

  /** Sends out[0..end) as the reply to `unique` (the body is already at OUT_HEADER_LEN). */
  reply(unique: bigint, end: number): void {
    encodeOutHeader(this.#out, end, 0, unique);
    this.#sent(this.#ch.write(this.#out, end));
  }

  replyErrno(unique: bigint, name: ReplyErrno): void {
    encodeOutHeader(this.#out, OUT_HEADER_LEN, replyError(name, this.#opts.os), unique);
    this.#sent(this.#ch.write(this.#out, OUT_HEADER_LEN));
  }

  replyData(unique: bigint, data: Uint8Array): void {
    const len = OUT_HEADER_LEN + data.length;
    if (data.length <= COPY_LIMIT) {
      this.#out.set(data, OUT_HEADER_LEN);
      return this.reply(unique, len);
    }
    encodeOutHeader(this.#out, len, 0, unique);
    this.#sent(this.#ch.write2(this.#out, OUT_HEADER_LEN, data));
  }

  #sent(error: string | undefined): void {
    if (!error) return;
    if (error === "ENOENT") this.#stats.repliesLost++;
    else if (error !== "ENODEV" && error !== "ENOTCONN" && error !== "ECONNABORTED") this.#opts.onError(`reply failed: ${error}`);
  }

  /**
   * Answers `unique` when `p` settles (ops.ts builds the reply in `answer`); until then
   * the request is pending and INTERRUPT can end it. `hold`: a read buffer to give back
   * when `p` settles (a WRITE's data lives in it).
   */
  later<T>(unique: bigint, p: Promise<T>, answer: (v: T) => void, fail: (e: unknown) => void, hold?: Uint8Array): void {
    const entry: Pending = { interrupted: false };
    this.#pending.set(unique, entry);
    if (this.#pending.size > this.#stats.maxInFlight) this.#stats.maxInFlight = this.#pending.size;
    const settle = () => {
      if (this.#pending.get(unique) === entry) this.#pending.delete(unique);
      if (hold) this.#giveBack(hold);
    };
    p.then(
      (v) => {
        settle();
        if (entry.interrupted || this.#finished) return;
        try {
          answer(v);
        } catch (e) {
          fail(e); // an answer that cannot be encoded (a Vfs bug): EIO, reported
        }
      },
      (e) => {
        settle();
        if (!entry.interrupted && !this.#finished) fail(e);
      },
    ).catch((e) => this.#opts.onError("a late reply failed", e));
  }

  /** INTERRUPT of `target` (pitfall 4). */
  interrupt(target: bigint): void {
    const entry = this.#pending.get(target);
    if (!entry) return; // answered already (or never read): nothing to do
    entry.interrupted = true;
    this.#pending.delete(target);
    this.#stats.interrupted++;
    this.replyErrno(target, "EINTR");
  }

  /**
   * Whether a WRITE's data can stay in the read buffer it arrived in; false when every
   * buffer is held already (the caller copies the data).
   */
  canHoldReadBuffer(): boolean {
    return this.#spare.length > 0 || this.#stats.readBuffers < this.#opts.maxReadBuffers;
  }

  /** The current read buffer now belongs to a pending WRITE: read into another one. */
  holdReadBuffer(): Uint8Array {
    const held = this.#buf;
    const next = this.#spare.pop();
    if (next) this.#buf = next;
    else {
      this.#buf = new Uint8Array(new ArrayBuffer(this.#bufferSize));
      this.#stats.readBuffers++;
    }
    return held;
  }

  noteWriteCopy(): void {
    this.#stats.writeCopies++;
  }

  #giveBack(buf: Uint8Array): void {
    this.#spare.push(buf);
  }

  initDone(error?: Error): void {
    if (error) this.#rejectInit(error);
    else this.#resolveInit();
  }

  // --- notifications and the end ----------------------------------------------------

  /**
   * Tells the kernel to forget `name` under `parent` (NOTIFY_INVAL_ENTRY), so that a
   * vanished name goes at once instead of after the entry timeout. Safe to call from
   * anywhere, inside a Vfs call included: the write happens on another thread.
   */
  invalidateEntry(parent: number, name: string): void {
    if (this.#finished || !this.#ops.initialized) return;
    let msg: Uint8Array;
    try {
      msg = encodeNotifyInvalEntry(parent, name);
    } catch (e) {
      this.#opts.onError(`cannot invalidate ${JSON.stringify(name)}`, e);
      return;
    }
    this.#stats.notifications++;
    this.#notifier.send(msg);
  }

  /** Notifications handed to the notify thread and not yet written. */
  notificationsSettled(): Promise<void> {
    return this.#notifier.settled();
  }

  /**
   * Stops serving now: leaves the poller and closes the descriptor. The normal end is
   * read(2) saying ENODEV after an unmount; this is for when that cannot come.
   */
  stop(): void {
    this.#finish();
  }

  #finish(error?: Error): void {
    if (this.#finished) return;
    this.#finished = true;
    if (this.#started) this.#poller.remove(this.#ch.fd);
    // Requests still pending get no reply: the connection that waited for them is gone.
    this.#pending.clear();
    this.#rejectInit(error ?? new Error("the FUSE connection ended before INIT"));
    const close = () => {
      this.#notifier.close();
      this.#ch.close();
      if (error) this.#rejectDone(error);
      else this.#resolveDone();
    };
    // A notification being written names this descriptor: let it fail first (the
    // connection is over, so it does at once), then close, so the number is not
    // reused under the notify thread's write.
    if (this.#notifier.pending === 0) close();
    else void Promise.race([this.#notifier.settled(), Bun.sleep(1000)]).then(close);
  }
}

/** Opcodes the kernel expects no reply to. */
function noReply(op: number): boolean {
  return op === Opcode.FORGET || op === Opcode.BATCH_FORGET || op === Opcode.INTERRUPT || op === Opcode.NOTIFY_REPLY;
}

