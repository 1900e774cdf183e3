/**
 * The poller's hot phase: while traffic lasts, the main thread polls the descriptor
 * set itself instead of handing it to the worker after every batch.
 *
 * A turn polls every descriptor at once (one poll() call, no speculative reads):
 *   - something ready: run its handler, then the drained callbacks, and end the turn
 *     with setImmediate, so that promise continuations and Bun's loop run between
 *     batches (an initiator awaiting its replies continues at once);
 *   - nothing ready within `spinUs` of the last frame: poll again without blocking
 *     (a window-1 client's next request arrives within tens of microseconds; sleeping
 *     would cost a wake-up per request);
 *   - then block in poll() for at most `blockMs`, and end the turn: timers, signal
 *     handlers and Bun's sockets are late by at most that much while traffic lasts.
 *     Only if the turn before found nothing either (so that immediates queued by the
 *     last batch's work, such as replies, have run), and only if nothing this thread
 *     waits for is outside the set (mayBlock): otherwise hand the set back;
 *   - nothing for `idleMs`: hand the set back to the worker (cold: 0 % CPU).
 *
 * Costs: up to `spinUs` of CPU after each burst, one poll() per turn, and a blocked
 * main thread for at most `blockMs` at a time while hot. Measured in `bun run bench`.
 */
import { Errno } from "./errno.ts";
import { errno, libc } from "./libc.ts";
import { POLLIN } from "./poller-shared.ts";

export interface HotSettings {
  /** busy-poll this long after the last ready descriptor before blocking (µs); 0: never spin */
  spinUs: number;
  /** longest blocking poll() on the main thread (ms) */
  blockMs: number;
  /** quiet time after which the set goes back to the worker (ms); 0 turns the hot phase off */
  idleMs: number;
}

export const DEFAULT_HOT: HotSettings = { spinUs: 50, blockMs: 1, idleMs: 5 };

/** DEFAULT_HOT with the environment's overrides (AOEDE_SPIN_US, AOEDE_HOT_MS), for comparisons. */
export function hotSettings(env: Record<string, string | undefined> = process.env): HotSettings {
  const num = (v: string | undefined, d: number) => (v !== undefined && v !== "" && Number.isFinite(Number(v)) && Number(v) >= 0 ? Number(v) : d);
  return { spinUs: num(env.AOEDE_SPIN_US, DEFAULT_HOT.spinUs), blockMs: DEFAULT_HOT.blockMs, idleMs: num(env.AOEDE_HOT_MS, DEFAULT_HOT.idleMs) };
}

export interface HotCallbacks {
  dispatch(fd: number, revents: number): void;
  drained(): void;
  /** give the set back to the worker */
  handBack(): void;
  /** false once the poller is closed or watches nothing */
  alive(): boolean;
  /**
   * false while work this thread waits for is outside the descriptor set (a thread-pool
   * read or write): blocking in poll() would delay its completion, so the set goes cold
   * instead and Bun's loop waits for everything.
   */
  mayBlock(): boolean;
}

export class HotPhase {
  batches = 0;
  coolings = 0;
  #active = false;
  #stopped = false;
  #lastReady = 0;
  /** the previous turn ended without a ready descriptor */
  #quietTurn = false;
  #n = 0;
  #dirty = true;
  #fds: number[] = [];
  #pollBytes = new Uint8Array(new ArrayBuffer(8));
  #pollFd = new Int32Array(this.#pollBytes.buffer);
  #poll16 = new Int16Array(this.#pollBytes.buffer);
  readonly #settings: HotSettings;
  readonly #cb: HotCallbacks;

  constructor(settings: HotSettings, cb: HotCallbacks) {
    this.#settings = settings;
    this.#cb = cb;
  }

  get active(): boolean {
    return this.#active;
  }

  /** The registered descriptors changed (read at the next turn). */
  setFds(fds: Iterable<number>): void {
    this.#fds = [...fds];
    this.#dirty = true;
  }

  /** After a cold wake: keep the set on this thread. False if the hot phase is off. */
  enter(): boolean {
    if (this.#stopped || this.#settings.idleMs <= 0 || this.#active) return false;
    this.#active = true;
    this.#quietTurn = false;
    this.#lastReady = performance.now();
    setImmediate(this.#turn);
    return true;
  }

  stop(): void {
    this.#stopped = true;
    this.#active = false;
  }

  #rebuild(): void {
    const n = this.#fds.length;
    if (this.#pollFd.length < 2 * n) {
      this.#pollBytes = new Uint8Array(new ArrayBuffer(8 * n));
      this.#pollFd = new Int32Array(this.#pollBytes.buffer);
      this.#poll16 = new Int16Array(this.#pollBytes.buffer);
    }
    for (let i = 0; i < n; i++) {
      this.#pollFd[2 * i] = this.#fds[i]!;
      this.#poll16[4 * i + 2] = POLLIN;
    }
    this.#n = n;
    this.#dirty = false;
  }

  #cool(): void {
    this.#active = false;
    this.coolings++;
    this.#cb.handBack();
  }

  readonly #turn = (): void => {
    if (!this.#active) return;
    const cb = this.#cb;
    if (this.#stopped || !cb.alive()) {
      if (!this.#stopped) this.#cool();
      return;
    }
    const { spinUs, blockMs, idleMs } = this.#settings;
    for (;;) {
      if (this.#dirty) this.#rebuild();
      const quiet = performance.now() - this.#lastReady;
      if (quiet >= idleMs) return this.#cool();
      let timeout = 0;
      if (quiet * 1000 >= spinUs) {
        if (!cb.mayBlock()) return this.#cool();
        if (!this.#quietTurn) {
          // one more turn first: what the last batch queued with setImmediate runs before we block
          this.#quietTurn = true;
          break;
        }
        timeout = blockMs;
      }
      const r = libc.poll(this.#pollBytes, this.#n, timeout);
      if (r < 0) {
        if (errno() === Errno.EINTR) continue;
        return this.#cool(); // the worker's poll() reports what is wrong
      }
      if (r > 0) {
        this.#lastReady = performance.now();
        this.#quietTurn = false;
        this.batches++;
        const n = this.#n;
        const fds = this.#pollFd;
        const p16 = this.#poll16;
        for (let i = 0; i < n; i++) {
          const revents = p16[4 * i + 3]!;
          if (revents === 0) continue;
          p16[4 * i + 3] = 0;
          cb.dispatch(fds[2 * i]!, revents);
        }
        cb.drained();
        break;
      }
      if (timeout > 0) break; // blocked and nothing came: let Bun's loop run
    }
    if (this.#stopped || !cb.alive()) {
      if (!this.#stopped && this.#active) this.#cool();
      return;
    }
    setImmediate(this.#turn);
  };
}
