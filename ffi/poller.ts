/**
 * One poller per process, with two phases.
 *
 * Cold (idle): a Worker blocks in poll() over every registered descriptor and wakes
 * the main thread through a SharedArrayBuffer; the main thread waits with
 * Atomics.waitAsync. 0 % CPU, and Bun's own loop (timers, signals, sockets) runs freely.
 *
 * Hot (traffic): after a wake, the main thread keeps the descriptor set and polls it
 * itself (poller-hot.ts): first without blocking for a short spin (the next request of a
 * window-1 client arrives within tens of microseconds), then blocking in poll() for at
 * most a millisecond at a time, yielding to Bun's loop between turns. Every frame of a
 * busy period is then taken by the thread that answers it: no futex hop, no
 * cross-CPU wake-up per batch. After a few quiet milliseconds it hands the set back to
 * the worker. Why on numbers: ../shared/notes/datapath.md (the hop cost 0.4-0.6x of
 * vblade at window 16; no hop 0.9-1.4x; a bounded spin 2-3x at window 1).
 *
 * Each turn runs the handlers of every ready descriptor, then the "drained" callbacks
 * (flush send queues...).
 *
 * Process lifetime: the worker is ref'd only while a descriptor is registered, so a
 * process with nothing registered exits (a pending waitAsync does not keep Bun alive,
 * and an unref'd worker blocked in poll() does not stop the exit: both measured).
 */
import {
  FDS,
  HANDOVERS,
  LIST_VERSION,
  MAX_FDS,
  NFDS,
  NREADY,
  POLL_ERRNO,
  POLLING,
  POLLNVAL,
  READY,
  RESULT_VERSION,
  RESULTS,
  SHARED_INTS,
  SHUTDOWN,
  STATE,
  WAKE_FD,
} from "./poller-shared.ts";
import { WakeFd } from "./wake.ts";
import { HotPhase, hotSettings, type HotSettings } from "./poller-hot.ts";

export { POLLERR, POLLHUP, POLLIN, POLLNVAL } from "./poller-shared.ts";

/** Called with poll()'s revents for a ready descriptor. */
export type ReadyHandler = (revents: number) => void;

export interface PollerStats {
  /** wakes of the main thread (one per batch of readiness) */
  wakes: number;
  /** handler or drained-callback exceptions caught */
  handlerErrors: number;
  /** errno of the worker's last failed poll(), 0 if none */
  pollErrno: number;
  /** turns of the hot phase that found ready descriptors (no hop) */
  hotBatches: number;
  /** times the hot phase handed the set back to the worker (went cold) */
  coolings: number;
}

export class Poller {
  readonly #shared = new Int32Array(new SharedArrayBuffer(SHARED_INTS * 4));
  readonly #handlers = new Map<number, ReadyHandler>();
  readonly #drained = new Set<() => void>();
  #worker: Worker | undefined;
  #wake: WakeFd | undefined;
  #waiting = false;
  #closed = false;
  #wakes = 0;
  #handlerErrors = 0;
  /** called with exceptions thrown by handlers (default: ignored after counting) */
  onError: ((error: unknown) => void) | undefined;
  /**
   * called if the worker dies (it cannot start, say): the process is deaf from then
   * on. Default: throw, so that the process fails loudly instead of idling.
   */
  onFatal: ((error: Error) => void) | undefined;
  readonly #workerUrl: URL;
  readonly #hot: HotPhase;
  #otherWork = 0;

  constructor(opts: { workerUrl?: URL; hot?: Partial<HotSettings> } = {}) {
    // A compiled binary finds this file only if the build embedded it (scripts/build.ts).
    this.#workerUrl = opts.workerUrl ?? new URL("./poller-worker.ts", import.meta.url);
    this.#hot = new HotPhase({ ...hotSettings(), ...opts.hot }, {
      dispatch: (fd, revents) => this.#dispatch(fd, revents),
      drained: () => this.#runDrained(),
      handBack: () => this.#handBack(),
      alive: () => !this.#closed && this.#handlers.size > 0,
      mayBlock: () => this.#otherWork === 0,
    });
  }

  get stats(): PollerStats {
    return {
      wakes: this.#wakes,
      handlerErrors: this.#handlerErrors,
      pollErrno: Atomics.load(this.#shared, POLL_ERRNO),
      hotBatches: this.#hot.batches,
      coolings: this.#hot.coolings,
    };
  }

  get closed(): boolean {
    return this.#closed;
  }

  get size(): number {
    return this.#handlers.size;
  }

  /** Watch `fd` for input; one handler per descriptor. */
  add(fd: number, onReady: ReadyHandler): void {
    if (this.#closed) throw new Error("poller is closed");
    if (this.#handlers.has(fd)) throw new Error(`fd ${fd} is already registered with the poller`);
    if (this.#handlers.size >= MAX_FDS) throw new Error(`the poller watches at most ${MAX_FDS} descriptors`);
    this.#handlers.set(fd, onReady);
    this.#hot.setFds(this.#handlers.keys());
    this.#start();
    this.#publish();
    this.#worker!.ref();
    this.#arm();
  }

  /** Stop watching `fd` (before closing it). */
  remove(fd: number): void {
    if (!this.#handlers.delete(fd)) return;
    this.#hot.setFds(this.#handlers.keys());
    this.#publish();
    if (this.#handlers.size === 0) this.#worker?.unref();
  }

  /**
   * Say that this thread waits for work outside the descriptor set (a thread-pool
   * transfer): until the returned function is called, the hot phase does not block in
   * poll() but hands the set back, so that the completion is not delayed.
   */
  expectOtherWork(): () => void {
    this.#otherWork++;
    let done = false;
    return () => {
      if (done) return;
      done = true;
      this.#otherWork--;
    };
  }

  /** Run `cb` after each wake's handlers; returns the unsubscribe function. */
  onDrained(cb: () => void): () => void {
    this.#drained.add(cb);
    return () => this.#drained.delete(cb);
  }

  /** Stop the worker; registered descriptors are forgotten (not closed). */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#handlers.clear();
    this.#drained.clear();
    this.#hot.stop();
    const worker = this.#worker;
    const wake = this.#wake;
    if (!worker || !wake) return;
    Atomics.store(this.#shared, SHUTDOWN, 1);
    Atomics.store(this.#shared, STATE, POLLING);
    Atomics.notify(this.#shared, STATE);
    Atomics.notify(this.#shared, SHUTDOWN);
    wake.signal();
    // Close the wake descriptor only once the worker has left poll() for good: its
    // number must not be reused under the worker's feet.
    worker.onmessage = () => {
      wake.close();
      worker.terminate();
    };
    worker.unref();
  }

  #fail(error: Error): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#handlers.clear();
    this.#worker?.unref();
    if (this.onFatal) this.onFatal(error);
    else throw error;
  }

  #start(): void {
    if (this.#worker) return;
    this.#wake = new WakeFd();
    this.#shared[WAKE_FD] = this.#wake.readFd;
    const worker = new Worker(this.#workerUrl);
    worker.addEventListener("error", (event) => {
      const why = (event as ErrorEvent).message || String((event as ErrorEvent).error);
      this.#fail(
        new Error(
          `the poller worker (${this.#workerUrl.pathname}) failed: ${why}` +
            (why.includes("ModuleNotFound") ? " (a compiled binary must be built with ffi/poller-worker.ts as an entry point)" : ""),
        ),
      );
    });
    worker.postMessage(this.#shared.buffer);
    this.#worker = worker;
  }

  /** Write the descriptor list for the worker and make it re-read it. */
  #publish(): void {
    const s = this.#shared;
    let i = 0;
    for (const fd of this.#handlers.keys()) Atomics.store(s, FDS + i++, fd);
    Atomics.store(s, NFDS, i);
    // After the list: a worker that reads this version also reads this list.
    Atomics.add(s, LIST_VERSION, 1);
    // While the main thread holds the results the worker is not in poll(): it
    // reads the new list when handed back. Otherwise interrupt its poll().
    if (Atomics.load(s, STATE) === POLLING) this.#wake?.signal();
  }

  #arm(): void {
    // (while hot, the main thread polls the set itself; the worker gets it back on cooling)
    if (this.#waiting || this.#closed || this.#handlers.size === 0 || this.#hot.active) return;
    this.#waiting = true;
    const w = Atomics.waitAsync(this.#shared, STATE, POLLING);
    if (w.async) w.value.then(this.#onWake);
    else queueMicrotask(this.#onWake); // already READY
  }

  readonly #onWake = (): void => {
    this.#waiting = false;
    if (this.#closed) return;
    const s = this.#shared;
    if (Atomics.load(s, STATE) !== READY) return this.#arm(); // spurious
    this.#wakes++;
    const n = Atomics.load(s, NREADY);
    // Results of a poll() over an older list may name descriptor numbers that were
    // closed and reused since: their readiness may be a stranger's (harmless: the
    // handlers read without blocking), but their POLLNVAL is not the new owner's.
    const polled = Atomics.load(s, RESULT_VERSION);
    for (let i = 0; i < n; i++) {
      const fd = s[RESULTS + 2 * i]!;
      let revents = s[RESULTS + 2 * i + 1]!;
      if (revents & POLLNVAL) {
        // (checked per result: a handler above may have changed the list)
        if (polled !== Atomics.load(s, LIST_VERSION)) revents &= ~POLLNVAL;
        if (revents === 0) continue;
      }
      this.#dispatch(fd, revents);
    }
    this.#runDrained();
    if (this.#closed) return;
    // Keep the set on this thread while traffic lasts (hot phase); it hands back.
    if (!this.#hot.enter()) this.#handBack();
  };

  /** Run `fd`'s handler; a POLLNVAL from a current list means it was closed without remove(). */
  #dispatch(fd: number, revents: number): void {
    const handler = this.#handlers.get(fd);
    if (!handler) return; // removed meanwhile
    if (revents & POLLNVAL) this.remove(fd); // stop polling it (the handler still hears why)
    try {
      handler(revents);
    } catch (e) {
      this.#handlerErrors++;
      this.onError?.(e);
    }
  }

  #runDrained(): void {
    for (const cb of this.#drained) {
      try {
        cb();
      } catch (e) {
        this.#handlerErrors++;
        this.onError?.(e);
      }
    }
  }

  /** Give the descriptor set back to the worker's blocking poll() (cold phase). */
  #handBack(): void {
    if (this.#closed) return;
    const s = this.#shared;
    Atomics.store(s, STATE, POLLING);
    Atomics.notify(s, STATE);
    this.#arm();
  }

  /** diagnostics: how many batches the worker handed over */
  get handovers(): number {
    return Atomics.load(this.#shared, HANDOVERS);
  }
}

let shared: Poller | undefined;

/** The process's poller (a new one if the last was closed). */
export function sharedPoller(): Poller {
  if (!shared || shared.closed) shared = new Poller();
  return shared;
}
