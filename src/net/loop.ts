/**
 * The event loop: raw links and their frame handlers, drained in batches.
 *
 * The process's poller (ffi/poller.ts) reports which links have frames; for each, the
 * loop takes batches with link.receive() until the link is empty or its budget is
 * spent, and hands every frame to every handler attached to that link. When all
 * ready links are drained it calls the handlers' onBatchEnd and flushes the send
 * queues, one sendmmsg per link: replies produced by a batch leave in a batch.
 *
 * Target and initiator may attach to the same link; each sees every frame.
 */
import { sharedPoller, type Poller } from "../../ffi/poller.ts";
import type { RawLink } from "../../ffi/rawlink.ts";

/**
 * Called for each received frame. `frame` is a view into the link's receive buffer,
 * valid only during the call: copy what must outlive it.
 */
export type FrameHandler = (frame: Uint8Array, link: RawLink) => void;

export interface EventLoopOptions {
  /** default: the process's shared poller */
  poller?: Poller;
  /**
   * Most frames taken from one link per wake before the loop moves on (fairness
   * between links, and bounded latency for sends queued meanwhile); default 1024.
   */
  budget?: number;
  /** told about every exception a handler throws (they are caught and counted either way) */
  onError?: (error: unknown, link: RawLink | undefined) => void;
}

export interface LoopStats {
  /** frames received and dispatched */
  frames: number;
  /** poller wakes that had frames for this loop */
  batches: number;
  /** exceptions thrown by handlers, caught */
  handlerErrors: number;
  /** frames handed to the kernel from send queues */
  sent: number;
  /** queued frames the kernel refused */
  sendDropped: number;
}

interface Attachment {
  readonly onFrame: FrameHandler;
  readonly onBatchEnd: (() => void) | undefined;
}

interface LinkEntry {
  readonly link: RawLink;
  readonly fd: number;
  /** replaced, never mutated, so that attach/detach inside a handler is safe */
  handlers: readonly Attachment[];
  /** received frames since the last batch end */
  active: boolean;
  stopCloseWatch: () => void;
}

/** Frames queued beyond this are flushed at once instead of at batch end. */
const QUEUE_FLUSH_AT = 1024;

export class EventLoop {
  readonly stats: LoopStats = { frames: 0, batches: 0, handlerErrors: 0, sent: 0, sendDropped: 0 };
  readonly #poller: Poller;
  readonly #budget: number;
  readonly #onError: EventLoopOptions["onError"];
  readonly #entries = new Map<RawLink, LinkEntry>();
  readonly #queues = new Map<RawLink, Uint8Array[]>();
  readonly #stopDrained: () => void;
  #inWake = false;
  #flushScheduled = false;
  #closed = false;

  constructor(opts: EventLoopOptions = {}) {
    this.#poller = opts.poller ?? sharedPoller();
    this.#budget = Math.max(1, opts.budget ?? 1024);
    this.#onError = opts.onError;
    this.#stopDrained = this.#poller.onDrained(this.#batchEnd);
  }

  /**
   * Deliver `link`'s frames to `onFrame`, and call `onBatchEnd` after each batch that
   * had frames for this link. Returns the detach function (idempotent).
   */
  attach(link: RawLink, onFrame: FrameHandler, onBatchEnd?: () => void): () => void {
    if (this.#closed) throw new Error("event loop is closed");
    if (!link.open) throw new Error(`link ${link.name} is closed`);
    const attachment: Attachment = { onFrame, onBatchEnd };
    let entry = this.#entries.get(link);
    if (!entry) {
      const fresh: LinkEntry = { link, fd: link.fd, handlers: [], active: false, stopCloseWatch: () => {} };
      this.#poller.add(fresh.fd, () => this.#drain(fresh));
      // A link closed while attached: stop polling its descriptor before the number is reused.
      fresh.stopCloseWatch = link.onClose?.(() => this.#forget(fresh)) ?? (() => {});
      this.#entries.set(link, fresh);
      entry = fresh;
    }
    entry.handlers = [...entry.handlers, attachment];
    let attached = true;
    return () => {
      if (!attached) return;
      attached = false;
      const e = this.#entries.get(link);
      if (!e) return;
      e.handlers = e.handlers.filter((a) => a !== attachment);
      if (e.handlers.length === 0) this.#forget(e);
    };
  }

  /**
   * Send `frame` on `link` with the next flush: at the end of the current batch when
   * called from a handler, else at the end of the current microtask queue. The loop
   * keeps a reference: do not modify `frame` until then.
   */
  queueSend(link: RawLink, frame: Uint8Array): void {
    let q = this.#queues.get(link);
    if (!q) this.#queues.set(link, (q = []));
    q.push(frame);
    if (q.length >= QUEUE_FLUSH_AT) this.#flushLink(link, q);
    else if (!this.#inWake && !this.#flushScheduled) {
      this.#flushScheduled = true;
      queueMicrotask(this.#flushSoon);
    }
  }

  /**
   * Take what every attached link holds now, without waiting for the poller, then
   * end the batch as a wake does. For deadlines (discovery's): a frame the kernel
   * received before the deadline counts even if the poller has not reported it yet
   * (its worker still starting, or this process not scheduled for a while on a
   * busy machine). Does nothing inside a wake, which drains anyway.
   */
  drainNow(): void {
    if (this.#closed || this.#inWake) return;
    for (const e of [...this.#entries.values()]) this.#drain(e);
    this.#batchEnd();
  }

  /** Send every queued frame now. */
  flush(): void {
    for (const [link, q] of this.#queues) if (q.length) this.#flushLink(link, q);
  }

  /** Detach everything, drop unsent frames; links stay open (their owners close them). */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    for (const e of [...this.#entries.values()]) this.#forget(e);
    this.#queues.clear();
    this.#stopDrained();
  }

  get closed(): boolean {
    return this.#closed;
  }

  #forget(e: LinkEntry): void {
    if (this.#entries.get(e.link) !== e) return;
    this.#entries.delete(e.link);
    e.stopCloseWatch();
    this.#poller.remove(e.fd);
  }

  #drain(e: LinkEntry): void {
    this.#inWake = true;
    const link = e.link;
    if (!link.open) return this.#forget(e);
    let budget = this.#budget;
    // A receive() that returned less than a full batch emptied the socket: asking
    // again would only cost a syscall answering EAGAIN (poll() reports what comes later).
    const full = link.batchSize ?? Infinity;
    while (budget > 0) {
      const frames = link.receive();
      const n = frames.length;
      if (n === 0) break;
      e.active = true;
      this.stats.frames += n;
      budget -= n;
      const handlers = e.handlers;
      for (let i = 0; i < n; i++) {
        const frame = frames[i]!;
        for (let h = 0; h < handlers.length; h++) {
          try {
            handlers[h]!.onFrame(frame, link);
          } catch (err) {
            this.#handlerFailed(err, link);
          }
        }
      }
      if (!link.open || n < full) break; // a handler closed it, or it is empty
    }
  }

  readonly #batchEnd = (): void => {
    let any = false;
    for (const e of this.#entries.values()) {
      if (!e.active) continue;
      e.active = false;
      any = true;
      for (const a of e.handlers) {
        if (!a.onBatchEnd) continue;
        try {
          a.onBatchEnd();
        } catch (err) {
          this.#handlerFailed(err, e.link);
        }
      }
    }
    if (any) this.stats.batches++;
    this.#inWake = false;
    this.flush();
  };

  readonly #flushSoon = (): void => {
    this.#flushScheduled = false;
    this.flush();
  };

  #flushLink(link: RawLink, q: Uint8Array[]): void {
    const frames = q.splice(0, q.length);
    if (!link.open) {
      this.stats.sendDropped += frames.length;
      return;
    }
    try {
      const sent = link.sendBatch(frames);
      this.stats.sent += sent;
      this.stats.sendDropped += frames.length - sent;
    } catch (err) {
      this.stats.sendDropped += frames.length;
      this.#handlerFailed(err, link);
    }
  }

  #handlerFailed(err: unknown, link: RawLink | undefined): void {
    this.stats.handlerErrors++;
    try {
      this.#onError?.(err, link);
    } catch {
      // a failing error reporter must not take the loop down either
    }
  }
}

let shared: EventLoop | undefined;

/** The process's loop: target and initiator attach here. */
export function sharedLoop(): EventLoop {
  if (!shared || shared.closed) shared = new EventLoop();
  return shared;
}

/**
 * Say that this thread waits for something Bun's own loop completes (a thread-pool
 * file transfer, a stream read): until the returned function is called, the poller's
 * hot phase does not block the main thread in poll() (ffi/poller-hot.ts).
 */
export function expectOtherWork(): () => void {
  return sharedPoller().expectOtherWork();
}
